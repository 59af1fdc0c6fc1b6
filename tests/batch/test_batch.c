/*
 * test_batch: end-to-end runs of `$IMGPIPE_BIN batch` over a temporary tree of fixtures (under
 * the build directory given as argv[1]): outputs (names, count, decoded type and size), the
 * --report lines, stdin input, --shard slices, --skip-existing, collisions and other usage
 * errors, a bad file failing alone, symbolic links inside -o (never written through), file
 * names that are not UTF-8 in the report (escaped, not dropped), and an interrupted run (SIGINT)
 * that leaves only complete images and prints the summary; several --do (every output from one
 * decode, {r} names, skip/dry-run/report over the set, a failing output failing its input whole).
 * Every child process is bounded in time (killed after 60 s). Single-threaded; uses libvips to
 * decode outputs and jansson to read reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pty.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

#include "../tap.h"

#define RUN_TIMEOUT_MS 60000
#define MAX_ARGS 32

static char root[4096];      /* the temporary directory of this run */
static char err_text[65536]; /* stderr of the last run */
static char out_text[65536]; /* stdout of the last run */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *P(const char *rel) /* path under root; rotating static buffers */
{
    static char bufs[8][4096];
    static int k;
    char *b = bufs[k++ % 8];
    if (snprintf(b, 4096, "%s/%s", root, rel) >= 4096)
        abort(); /* paths here are short: this cannot happen */
    return b;
}

static void mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0777);
            *p = '/';
        }
    mkdir(tmp, 0777);
}

static int copy_file(const char *from, const char *to)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", to);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        mkdirs(dir);
    }
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int rc = (in && out) ? 0 : -1;
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    if (rc != 0)
        diag("cannot copy %s to %s", from, to);
    return rc;
}

static void slurp(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Start `$IMGPIPE_BIN batch args...` with stdin from stdin_text (or /dev/null), stdout and
 * stderr to files under root. Returns the pid. */
static pid_t spawn_batch(const char *const *args, const char *stdin_text)
{
    const char *bin = getenv("IMGPIPE_BIN");
    const char *argv[MAX_ARGS + 3];
    int n = 0;
    argv[n++] = bin ? bin : "imgpipe";
    argv[n++] = "batch";
    for (int i = 0; args[i] && n < MAX_ARGS + 2; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int pfd[2] = {-1, -1};
    if (stdin_text && pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int in = stdin_text ? pfd[0] : open("/dev/null", O_RDONLY);
        int out = open(P("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(P("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        if (stdin_text)
            close(pfd[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (stdin_text) {
        close(pfd[0]);
        size_t len = strlen(stdin_text);
        if (write(pfd[1], stdin_text, len) != (ssize_t)len)
            diag("short write to the child's stdin");
        close(pfd[1]);
    }
    return pid;
}

/* Wait at most timeout_ms; kill and return -1 on timeout. Returns the exit status (128+sig if
 * killed by a signal) and loads stdout/stderr into out_text/err_text. */
static int wait_batch(pid_t pid, double timeout_ms)
{
    double end = now_ms() + timeout_ms;
    int st = 0, rc = -1;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            diag("imgpipe batch did not finish within %.0f ms: killed", timeout_ms);
            break;
        }
        usleep(10000);
    }
    slurp(P("stderr.txt"), err_text, sizeof(err_text));
    slurp(P("stdout.txt"), out_text, sizeof(out_text));
    return rc;
}

static int run_batch(const char *const *args, const char *stdin_text)
{
    pid_t pid = spawn_batch(args, stdin_text);
    if (pid < 0)
        return -1;
    int rc = wait_batch(pid, RUN_TIMEOUT_MS);
    if (rc != 0) { /* stderr, each line as a TAP comment */
        for (const char *p = err_text; *p;) {
            const char *e = strchr(p, '\n');
            int len = e ? (int)(e - p) : (int)strlen(p);
            diag("stderr: %.*s", len, p);
            p += len + (e ? 1 : 0);
        }
    }
    return rc;
}

/* Files (not directories) under dir, recursively; counts hidden ones separately. */
static int nfiles, nhidden;
static int count_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag == FTW_F) {
        nfiles++;
        if (path[ftw->base] == '.')
            nhidden++;
    }
    return 0;
}
static int count_files(const char *dir, int *hidden)
{
    nfiles = nhidden = 0;
    nftw(dir, count_cb, 16, FTW_PHYS);
    if (hidden)
        *hidden = nhidden;
    return nfiles;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Magic bytes of the file: "jpeg", "png", "webp" or "?". */
static const char *magic(const char *path)
{
    unsigned char b[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return "missing";
    size_t n = fread(b, 1, sizeof(b), f);
    fclose(f);
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return "jpeg";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "png";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "webp";
    return "?";
}

/* Decode every pixel; returns 0 and the size, or -1 if the file is not a complete image. */
static int decode(const char *path, int *w, int *h)
{
    VipsImage *im = vips_image_new_from_file(path, "fail", TRUE, NULL);
    if (im == NULL) {
        vips_error_clear();
        return -1;
    }
    double avg;
    int rc = vips_avg(im, &avg, NULL);
    *w = vips_image_get_width(im);
    *h = vips_image_get_height(im);
    g_object_unref(im);
    vips_error_clear();
    return rc;
}

static void check_image(const char *path, const char *type, int want_w, int want_h)
{
    int w = 0, h = 0;
    is_str(magic(path), type, "%s is %s", path + strlen(root) + 1, type);
    ok(decode(path, &w, &h) == 0, "%s decodes", path + strlen(root) + 1);
    is_int(w, want_w, "%s width", path + strlen(root) + 1);
    ok(h >= want_h - 1 && h <= want_h + 1, "%s height %d within 1 of %d", path + strlen(root) + 1, h, want_h);
}

/* Parse a --report file: returns the number of lines; every line must be a JSON object with
 * the documented fields. Counts statuses into the given counters. */
static int read_report(const char *path, int *n_ok, int *n_failed, int *n_skipped, int *n_not_started, json_t **lines_out)
{
    *n_ok = *n_failed = *n_skipped = *n_not_started = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int n = 0, bad = 0;
    *n_ok = *n_failed = *n_skipped = *n_not_started = 0;
    json_t *arr = json_array();
    static const char *const fields[] = {"path",  "output", "status",   "error",     "message",
                                         "width", "height", "bytes_in", "bytes_out", "ms"};
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        n++;
        if (!json_is_object(o)) {
            bad++;
            diag("report line %d is not a JSON object: %s", n, je.text);
            json_decref(o);
            continue;
        }
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            if (json_object_get(o, fields[i]) == NULL) {
                bad++;
                diag("report line %d lacks \"%s\"", n, fields[i]);
            }
        const char *s = json_string_value(json_object_get(o, "status"));
        if (s && strcmp(s, "ok") == 0)
            (*n_ok)++;
        else if (s && strcmp(s, "failed") == 0)
            (*n_failed)++;
        else if (s && strcmp(s, "skipped") == 0)
            (*n_skipped)++;
        else if (s && strcmp(s, "not_started") == 0)
            (*n_not_started)++;
        else
            bad++;
        json_array_append_new(arr, o);
    }
    free(line);
    fclose(f);
    ok(bad == 0, "%s: every line is JSON with the documented fields", path + strlen(root) + 1);
    if (lines_out)
        *lines_out = arr;
    else
        json_decref(arr);
    return n;
}

static json_t *report_entry(json_t *lines, const char *path_suffix)
{
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o)
    {
        const char *p = json_string_value(json_object_get(o, "path"));
        size_t lp = p ? strlen(p) : 0, ls = strlen(path_suffix);
        if (p && lp >= ls && strcmp(p + lp - ls, path_suffix) == 0)
            return o;
    }
    return NULL;
}

static void test_tree(void)
{
    diag("a tree with a subdirectory, a hidden file and a bad file");
    copy_file(tap_fixture("photos/coffee.png"), P("in/coffee.png"));
    copy_file(tap_fixture("photos/kodim23-parrots.png"), P("in/parrots.png"));
    copy_file(tap_fixture("photos/FreshFlower-1600x1203.jpg"), P("in/sub/flower.jpg"));
    copy_file(tap_fixture("photos/webp-gallery-4.webp"), P("in/sub/deep/gallery.webp"));
    copy_file(tap_fixture("bad/not-an-image-text.txt"), P("in/broken.jpg"));
    copy_file(tap_fixture("photos/coffee.png"), P("in/.hidden.png"));

    const char *args[] = {"--do",
                          "resize?width=120&type=webp",
                          "-r",
                          "-j",
                          "2",
                          "-n",
                          "{dir}/{stem}.{ext}",
                          "--report",
                          P("tree.jsonl"),
                          "-o",
                          P("out"),
                          P("in"),
                          NULL};
    int rc = run_batch(args, NULL);
    is_int(rc, 3, "a run with one bad file exits 3 (some inputs failed)");
    ok(strstr(err_text, "broken.jpg") != NULL, "the bad file is named on stderr");
    ok(strstr(err_text, "4 ok, 1 failed") != NULL, "the summary counts 4 ok and 1 failed");
    check_image(P("out/coffee.webp"), "webp", 120, 80);
    check_image(P("out/parrots.webp"), "webp", 120, 80);
    check_image(P("out/sub/flower.webp"), "webp", 120, 90);
    check_image(P("out/sub/deep/gallery.webp"), "webp", 120, 90);
    int hidden = -1;
    is_int(count_files(P("out"), &hidden), 4, "exactly 4 outputs (no output for the bad or the hidden file)");
    is_int(hidden, 0, "no temporary file left");
    is_int(count_files(P("in"), NULL), 6, "inputs untouched");

    int n_ok, n_failed, n_skipped, n_ns;
    json_t *lines = NULL;
    is_int(read_report(P("tree.jsonl"), &n_ok, &n_failed, &n_skipped, &n_ns, &lines), 5, "one report line per input");
    is_int(n_ok, 4, "report: 4 ok");
    is_int(n_failed, 1, "report: 1 failed");
    json_t *bad = report_entry(lines, "/broken.jpg");
    ok(bad && json_is_string(json_object_get(bad, "error")) && json_is_string(json_object_get(bad, "message")),
       "report: the bad file has an error name and a message");
    ok(bad && json_is_null(json_object_get(bad, "output")), "report: the bad file has no output");
    json_t *good = report_entry(lines, "/sub/flower.jpg");
    ok(good && json_integer_value(json_object_get(good, "width")) == 120, "report: width of flower");
    ok(good && json_integer_value(json_object_get(good, "bytes_in")) > 80000 &&
           json_integer_value(json_object_get(good, "bytes_out")) > 100,
       "report: bytes in and out");
    const char *outp = good ? json_string_value(json_object_get(good, "output")) : NULL;
    ok(outp && strcmp(outp, P("out/sub/flower.webp")) == 0, "report: output path");
    json_decref(lines);
}

/* Symbolic links inside -o never lead writes outside it: a link in place of a directory fails
 * that job (named in the report), a link named like an output is replaced, not written through. */
static void test_symlinks_in_out(void)
{
    diag("symbolic links inside -o");
    copy_file(tap_fixture("photos/FreshFlower-1600x1203.jpg"), P("in_ln/sub/flower.jpg"));
    copy_file(tap_fixture("photos/coffee.png"), P("in_ln/top.png"));
    mkdirs(P("outside"));
    mkdirs(P("out_ln"));
    FILE *f = fopen(P("outside/victim.webp"), "w");
    if (f) {
        fputs("keep", f);
        fclose(f);
    }
    ok(symlink(P("outside"), P("out_ln/sub")) == 0, "out_ln/sub -> outside (a directory link)");
    ok(symlink(P("outside/victim.webp"), P("out_ln/top.webp")) == 0, "out_ln/top.webp -> outside/victim.webp (a file link)");
    const char *args[] = {"--do",
                          "resize?width=50&type=webp",
                          "-r",
                          "-n",
                          "{dir}/{stem}.{ext}",
                          "--report",
                          P("ln.jsonl"),
                          "-o",
                          P("out_ln"),
                          P("in_ln"),
                          NULL};
    int rc = run_batch(args, NULL);
    ok(rc != 0, "exit status says a job failed (%d)", rc);
    int n_ok, n_failed, n_skipped, n_ns;
    json_t *lines = NULL;
    read_report(P("ln.jsonl"), &n_ok, &n_failed, &n_skipped, &n_ns, &lines);
    ok(n_ok == 1 && n_failed == 1, "report: top.png ok, sub/flower.jpg failed (%d ok, %d failed)", n_ok, n_failed);
    json_t *fl = report_entry(lines, "/sub/flower.jpg");
    const char *msg = fl ? json_string_value(json_object_get(fl, "message")) : NULL;
    ok(msg && strstr(msg, "symbolic link") && strstr(msg, "outside -o"), "the failure names the link: %s", msg ? msg : "(none)");
    json_decref(lines);
    int hidden = 0;
    is_int(count_files(P("outside"), &hidden), 1, "nothing written outside -o (only victim.webp there)");
    char buf[16] = "";
    slurp(P("outside/victim.webp"), buf, sizeof(buf));
    is_str(buf, "keep", "the file a link pointed to is untouched");
    struct stat st;
    ok(lstat(P("out_ln/top.webp"), &st) == 0 && S_ISREG(st.st_mode), "out_ln/top.webp is now a regular file (the link replaced)");
    check_image(P("out_ln/top.webp"), "webp", 50, 33);
}

/* A file name that is not UTF-8 keeps its "path" in the report, escaped (\xNN, backslash too). */
static void test_report_non_utf8(void)
{
    diag("--report with a file name that is not UTF-8");
    copy_file(tap_fixture("photos/coffee.png"), P("in_nu/caf\xe9\\x.png"));
    copy_file(tap_fixture("photos/coffee.png"), P("in_nu/plain.png"));
    const char *args[] = {"--do", "resize?width=40", "--report", P("nu.jsonl"), "-o", P("out_nu"), P("in_nu"), NULL};
    is_int(run_batch(args, NULL), 0, "batch over a Latin-1 file name: exit 0");
    int n_ok, n_failed, n_skipped, n_ns;
    json_t *lines = NULL;
    is_int(read_report(P("nu.jsonl"), &n_ok, &n_failed, &n_skipped, &n_ns, &lines), 2, "two report lines");
    json_t *e = report_entry(lines, "/caf\\xe9\\x5cx.png");
    ok(e != NULL, "the Latin-1 name's line has its path, escaped: caf\\xe9\\x5cx.png");
    ok(e && json_is_true(json_object_get(e, "path_escaped")) && json_is_true(json_object_get(e, "output_escaped")),
       "path_escaped and output_escaped are true");
    const char *o = e ? json_string_value(json_object_get(e, "output")) : NULL;
    ok(o && strstr(o, "/caf\\xe9\\x5cx.png") != NULL, "output escaped the same way: %s", o ? o : "(none)");
    json_t *plain = report_entry(lines, "/plain.png");
    ok(plain && json_object_get(plain, "path_escaped") == NULL, "a UTF-8 name has no path_escaped");
    json_decref(lines);
    check_image(P("out_nu/caf\xe9\\x.png"), "png", 40, 27);
}

/* A --dry-run (args, writing under out_dir) prints n_lines lines, among them "input -> output", and
 * creates nothing. */
static void check_dry_run(const char *const *args, int n_lines, const char *input, const char *output, const char *out_dir)
{
    is_int(run_batch(args, NULL), 0, "--dry-run: exit 0");
    int lines = 0;
    for (const char *p = out_text; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    is_int(lines, n_lines, "--dry-run: one line per output");
    char want[8192];
    snprintf(want, sizeof(want), "%s -> %s\n", P(input), P(output));
    ok(strstr(out_text, want) != NULL, "--dry-run: %s -> %s", input, output);
    ok(!exists(P(out_dir)), "--dry-run: nothing created");
}

static void test_dry_run(void)
{
    diag("--dry-run prints the plan and writes nothing");
    const char *args[] = {
        "--do", "resize?width=120&type=webp", "-r", "-n", "{dir}/{stem}.{ext}", "--dry-run", "-o", P("dry"), P("in"), NULL};
    check_dry_run(args, 5, "in/sub/deep/gallery.webp", "dry/sub/deep/gallery.webp", "dry"); /* the tree mirrored */
}

static void test_stdin_and_skip(void)
{
    diag("paths on stdin; the output keeps the input type without type=; --skip-existing");
    char list[8192];
    snprintf(list, sizeof(list), "%s\n%s\n", P("in/coffee.png"), P("in/sub/flower.jpg"));
    const char *args[] = {"--do", "resize?width=60", "-o", P("out2"), "--report", P("stdin.jsonl"), "-", NULL};
    is_int(run_batch(args, list), 0, "stdin list, all ok: exit 0");
    check_image(P("out2/coffee.png"), "png", 60, 40);
    check_image(P("out2/flower.jpg"), "jpeg", 60, 45);

    struct stat a0, b0, a1, b1;
    stat(P("out2/coffee.png"), &a0);
    stat(P("out2/flower.jpg"), &b0);
    usleep(20000);
    const char *args2[] = {"--do", "resize?width=60", "-o", P("out2"), "--skip-existing", "--report", P("skip.jsonl"), "-", NULL};
    is_int(run_batch(args2, list), 0, "--skip-existing rerun: exit 0");
    int n_ok, n_failed, n_skipped, n_ns;
    is_int(read_report(P("skip.jsonl"), &n_ok, &n_failed, &n_skipped, &n_ns, NULL), 2, "rerun: 2 report lines");
    is_int(n_skipped, 2, "rerun: both skipped");
    is_int(n_ok, 0, "rerun: nothing processed");
    stat(P("out2/coffee.png"), &a1);
    stat(P("out2/flower.jpg"), &b1);
    ok(a0.st_mtim.tv_sec == a1.st_mtim.tv_sec && a0.st_mtim.tv_nsec == a1.st_mtim.tv_nsec &&
           b0.st_mtim.tv_sec == b1.st_mtim.tv_sec && b0.st_mtim.tv_nsec == b1.st_mtim.tv_nsec,
       "rerun: outputs not rewritten");
    ok(strstr(err_text, "2 skipped") != NULL, "rerun: the summary says 2 skipped");
}

/* The error name in the report line of the input ending with suffix ("" if none). */
static const char *report_error(const char *report, const char *suffix)
{
    static char buf[64];
    int a, b, c, d;
    json_t *lines = NULL;
    buf[0] = '\0';
    if (read_report(report, &a, &b, &c, &d, &lines) >= 0) {
        json_t *o = report_entry(lines, suffix);
        const char *e = o ? json_string_value(json_object_get(o, "error")) : NULL;
        snprintf(buf, sizeof(buf), "%s", e ? e : "");
    }
    json_decref(lines);
    return buf;
}

static void test_limits(void)
{
    diag("the server's limits: --allowed-types, --max-pixels");
    char list[8192];
    snprintf(list, sizeof(list), "%s\n%s\n", P("in/coffee.png"), P("in/sub/flower.jpg"));
    const char *types[] = {
        "--do", "resize?width=60&type=png", "--allowed-types", "png", "--report", P("types.jsonl"), "-o", P("out3"), "-", NULL};
    is_int(run_batch(types, list), 3, "--allowed-types png with a JPEG input: exit 3");
    is_str(report_error(P("types.jsonl"), "/flower.jpg"), "unsupported_media_type", "the JPEG is refused");
    ok(exists(P("out3/coffee.png")) && !exists(P("out3/flower.png")), "the PNG is processed, the JPEG is not");
    const char *pixels[] = {
        "--do", "resize?width=60&type=png", "--max-pixels", "300000", "--report", P("px.jsonl"), "-o", P("out4"), "-", NULL};
    is_int(run_batch(pixels, list), 3, "--max-pixels 300000 with a 1.9 MP input: exit 3");
    is_str(report_error(P("px.jsonl"), "/flower.jpg"), "image_too_large", "the large input is refused");
    ok(exists(P("out4/coffee.png")) && !exists(P("out4/flower.png")), "the 0.24 MP input is processed");
    const char *deadline[] = {
        "--do", "blur?sigma=40&type=png", "--deadline", "0.02", "--report", P("dl.jsonl"), "-o", P("out5"), "-", NULL};
    double t0 = now_ms();
    is_int(run_batch(deadline, list), 3, "--deadline 0.02 with a heavy blur: exit 3");
    ok(now_ms() - t0 < 10000, "the deadline stops the work (%.0f ms for the run)", now_ms() - t0);
    is_str(report_error(P("dl.jsonl"), "/flower.jpg"), "deadline_exceeded", "the slow image fails with deadline_exceeded");
    int hidden = -1;
    count_files(P("out5"), &hidden);
    ok(hidden <= 0, "no temporary file left after a deadline");
    const char *bad_types[] = {"--do", "resize?width=60", "--allowed-types", "jpeg,bogus", "-o", P("x"), "-", NULL};
    is_int(run_batch(bad_types, list), 2, "an unknown type in --allowed-types: exit 2");
    const char *rend[] = {"--do", "renditions?r=w%3D60", "-o", P("x"), "-", NULL};
    is_int(run_batch(rend, list), 2, "--do renditions (a multipart answer, not an image): exit 2");
}

/* --isolation process: the same outputs as threads; a crash (the worker's test switch) and a hang
 * past --deadline fail their image only, the others are written. */
static void test_isolation(void)
{
    diag("--isolation process");
    char list[8192];
    FILE *f = fopen(P("in/crash.jpg"), "w");
    if (f != NULL) {
        fputs("IMGPIPE-TEST-CRASH", f);
        fclose(f);
    }
    f = fopen(P("in/hang.jpg"), "w");
    if (f != NULL) {
        fputs("IMGPIPE-TEST-HANG", f);
        fclose(f);
    }
    snprintf(list, sizeof(list), "%s\n%s\n%s\n%s\n", P("in/coffee.png"), P("in/crash.jpg"), P("in/hang.jpg"),
             P("in/sub/flower.jpg"));
    const char *args[] = {"--do",        "resize?width=60&type=png",
                          "--isolation", "process",
                          "--deadline",  "1",
                          "-j",          "2",
                          "--report",    P("iso.jsonl"),
                          "-o",          P("out_iso"),
                          "-",           NULL};
    setenv("IMGPIPE_WORKER_TEST_FAULTS", "1", 1);
    double t0 = now_ms();
    int rc = run_batch(args, list);
    unsetenv("IMGPIPE_WORKER_TEST_FAULTS");
    is_int(rc, 3, "a crashing and a hanging input among good ones: exit 3");
    ok(now_ms() - t0 < 20000, "the hang is killed at its deadline (%.0f ms for the run)", now_ms() - t0);
    is_str(report_error(P("iso.jsonl"), "/crash.jpg"), "worker_crashed", "the crash fails its image: worker_crashed");
    is_str(report_error(P("iso.jsonl"), "/hang.jpg"), "deadline_exceeded", "the hang fails its image: deadline_exceeded");
    check_image(P("out_iso/coffee.png"), "png", 60, 40);
    check_image(P("out_iso/flower.png"), "png", 60, 45);
    const char *bad[] = {"--do", "resize?width=60", "--isolation", "sandbox", "-o", P("x"), "-", NULL};
    is_int(run_batch(bad, list), 2, "--isolation sandbox: exit 2");
}

static void test_null_and_duplicates(void)
{
    diag("-0 (NUL-separated stdin) and one file named twice");
    char list[8192];
    int n = snprintf(list, sizeof(list), "%s", P("in/coffee.png"));
    n += 1 + snprintf(list + n + 1, sizeof(list) - (size_t)n - 1, "%s", P("in/sub/flower.jpg"));
    /* list holds "a\0b"; feed it through a file since spawn_batch takes a C string */
    FILE *f = fopen(P("nul.txt"), "wb");
    fwrite(list, 1, (size_t)n, f);
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "timeout 60 '%s' batch --do 'resize?width=30&type=png' -0 -q -o '%s' - < '%s' 2>'%s'",
             getenv("IMGPIPE_BIN") ? getenv("IMGPIPE_BIN") : "imgpipe", P("out6"), P("nul.txt"), P("stderr.txt"));
    int st = system(cmd);
    is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0, "-0: exit 0");
    ok(exists(P("out6/coffee.png")) && exists(P("out6/flower.png")), "-0: both NUL-separated paths processed");

    const char *twice[] = {
        "--do", "resize?width=30&type=png", "--report", P("dup.jsonl"), "-o", P("out7"), P("in/coffee.png"), P("in/coffee.png"),
        NULL};
    is_int(run_batch(twice, NULL), 0, "the same file named twice: exit 0, not a collision");
    int a, b, c, d;
    is_int(read_report(P("dup.jsonl"), &a, &b, &c, &d, NULL), 1, "... processed once");
}

static void test_shards(void)
{
    diag("--shard K/3 slices are disjoint and cover everything");
    char name[64];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "sh/img-%02d.png", i);
        copy_file(tap_fixture("edge/pngsuite-basn6a08-rgba.png"), P(name));
    }
    int seen[12] = {0};
    int total = 0, nonempty = 0;
    for (int k = 0; k < 3; k++) {
        char shard[16], out[64];
        snprintf(shard, sizeof(shard), "%d/3", k);
        snprintf(out, sizeof(out), "shout%d", k);
        char outdir[4096];
        snprintf(outdir, sizeof(outdir), "%s", P(out));
        const char *args[] = {"--do", "resize?width=16&type=png", "--shard", shard, "-q", "-o", outdir, P("sh"), NULL};
        is_int(run_batch(args, NULL), 0, "shard %s: exit 0", shard);
        int n = 0;
        for (int i = 0; i < 12; i++) {
            char f[160];
            snprintf(f, sizeof(f), "%s/img-%02d.png", out, i);
            if (exists(P(f))) {
                seen[i]++;
                n++;
            }
        }
        is_int(count_files(outdir, NULL), n, "shard %s: only its own outputs", shard);
        total += n;
        nonempty += n > 0;
    }
    int once = 0;
    for (int i = 0; i < 12; i++)
        once += seen[i] == 1;
    is_int(once, 12, "every input is in exactly one shard");
    is_int(total, 12, "the shards cover the 12 inputs");
    ok(nonempty >= 2, "the split is not degenerate (%d non-empty shards)", nonempty);
}

static void test_usage_errors(void)
{
    diag("collisions and usage errors: exit 2 before any work");
    copy_file(tap_fixture("edge/pngsuite-basn6a08-rgba.png"), P("col/a.png"));
    copy_file(tap_fixture("edge/pngsuite-basn6a08-rgba.png"), P("col/sub/a.png"));
    /* named as files (not a tree): both keep only their file name */
    const char *args[] = {"--do", "resize?width=16&type=webp", "-o", P("colout"), P("col/a.png"), P("col/sub/a.png"), NULL};
    is_int(run_batch(args, NULL), 2, "two inputs, one output name: exit 2");
    ok(strstr(err_text, "col/a.png") && strstr(err_text, "col/sub/a.png"), "both colliding inputs are named");
    ok(strstr(err_text, "add {dir}") != NULL, "... and the hint suggests {dir}, which the template lacks");
    ok(!exists(P("colout")), "nothing was written");
    const char *args_r[] = {"--do", "resize?width=16&type=webp", "-r", "-o", P("colout"), P("col"), NULL};
    is_int(run_batch(args_r, NULL), 0, "-r without -n mirrors the tree: the same names are fine");
    ok(exists(P("colout/a.webp")) && exists(P("colout/sub/a.webp")), "-r: outputs at {dir}/{stem}.{ext}");
    const char *args_flat[] = {"--do", "resize?width=16&type=webp", "-r", "-n", "{stem}.{ext}", "-o", P("colflat"), P("col"), NULL};
    is_int(run_batch(args_flat, NULL), 2, "-r with an explicit flat -n '{stem}.{ext}': the collision is refused");
    copy_file(tap_fixture("photos/FreshFlower-1600x1203.jpg"), P("col2/x.jpg"));
    copy_file(tap_fixture("edge/pngsuite-basn6a08-rgba.png"), P("col2/x.png"));
    const char *args_ext[] = {"--do", "resize?width=16&type=webp", "-r", "-o", P("col2out"), P("col2"), NULL};
    is_int(run_batch(args_ext, NULL), 2, "x.jpg and x.png with -r (template {dir}/{stem}.{ext}): exit 2");
    ok(strstr(err_text, "add {dir}") == NULL && strstr(err_text, "{name}") != NULL,
       "... the hint does not suggest adding {dir}, which is there, but {name}");
    const char *args_name[] = {"--do", "resize?width=16&type=webp", "-r", "-n", "{dir}/{name}.{ext}", "-o", P("col2out"), P("col2"),
                               NULL};
    is_int(run_batch(args_name, NULL), 0, "... and following it works");
    ok(exists(P("col2out/x.jpg.webp")) && exists(P("col2out/x.png.webp")), "... x.jpg.webp and x.png.webp");

    const char *over[] = {"--do", "resize?width=16", "-o", P("col"), P("col/a.png"), NULL};
    is_int(run_batch(over, NULL), 2, "an output that is its input: exit 2");
    ok(strstr(err_text, "input") != NULL, "... and says so");
    is_str(magic(P("col/a.png")), "png", "the input is intact");

    const char *no_do[] = {"-o", P("x"), P("col"), NULL};
    is_int(run_batch(no_do, NULL), 2, "no --do: exit 2");
    ok(strstr(err_text, "--do") != NULL, "... naming --do");
    const char *bad_do[] = {"--do", "resize?width=abc", "-o", P("x"), P("col"), NULL};
    is_int(run_batch(bad_do, NULL), 2, "a bad --do value: exit 2");
    ok(strstr(err_text, "width") != NULL, "... naming the parameter");
    const char *wm_img[] = {"--do", "watermarkimage?left=10&top=10", "-o", P("x"), P("col"), NULL};
    is_int(run_batch(wm_img, NULL), 2, "watermarkimage (no overlay source): exit 2");
    ok(strstr(err_text, "overlay") != NULL && strstr(err_text, "watermarkimage") != NULL, "... saying batch has no overlay");
    const char *wm_pipe[] = {"--do", "pipeline?operations=[{\"operation\":\"watermarkImage\"}]", "-o", P("x"), P("col"), NULL};
    is_int(run_batch(wm_pipe, NULL), 2, "a pipeline with a watermarkImage step: exit 2");
    ok(strstr(err_text, "watermarkImage") != NULL, "... naming the step");
    const char *bad_shard[] = {"--do", "resize?width=10", "--shard", "3/3", "-o", P("x"), P("col"), NULL};
    is_int(run_batch(bad_shard, NULL), 2, "--shard 3/3: exit 2");
    const char *bad_j[] = {"--do", "resize?width=10", "-j", "0", "-o", P("x"), P("col"), NULL};
    is_int(run_batch(bad_j, NULL), 2, "-j 0: exit 2");
    const char *no_in[] = {"--do", "resize?width=10", "-o", P("x"), NULL};
    is_int(run_batch(no_in, NULL), 2, "no input: exit 2");
    const char *bad_name[] = {"--do", "resize?width=10", "-n", "{stem}.{bogus}", "-o", P("x"), P("col"), NULL};
    is_int(run_batch(bad_name, NULL), 2, "unknown placeholder in --name: exit 2");
    ok(!exists(P("x")), "usage errors write nothing");
    const char *help[] = {"--help", NULL};
    is_int(run_batch(help, NULL), 0, "--help: exit 0");
    ok(strstr(out_text, "usage: imgpipe batch") != NULL, "--help prints the usage on stdout");
    const char *missing[] = {"--do", "resize?width=10&type=png", "-o", P("miss"), P("does-not-exist.png"), NULL};
    is_int(run_batch(missing, NULL), 3, "a missing input fails alone: exit 3");
    ok(strstr(err_text, "does-not-exist.png") != NULL, "... and is named");
}

/* ---- several --do: every input's outputs from one decode (one renditions plan) ---- */

#define M_LARGE "transform?w=200&type=webp&name=large"
#define M_SMALL "transform?w=80&type=png&name=small"
#define M_KEEP "transform?w=50" /* keeps the input's type, named r3 */

/* The report line of the input ending with suffix: its "outputs" entry named name. */
static json_t *report_output(json_t *lines, const char *suffix, const char *name)
{
    json_t *e = report_entry(lines, suffix), *o;
    size_t i;
    json_array_foreach(json_object_get(e, "outputs"), i, o)
    {
        const char *n = json_string_value(json_object_get(o, "name"));
        if (n && strcmp(n, name) == 0)
            return o;
    }
    return NULL;
}

static void check_report_output(json_t *lines, const char *suffix, const char *name, const char *type, int w, int h)
{
    json_t *o = report_output(lines, suffix, name);
    const char *t = json_string_value(json_object_get(o, "type"));
    const char *path = json_string_value(json_object_get(o, "path"));
    int rw = (int)json_integer_value(json_object_get(o, "width")), rh = (int)json_integer_value(json_object_get(o, "height"));
    struct stat st;
    ok(o && t && strcmp(t, type) == 0 && rw == w && rh >= h - 1 && rh <= h + 1 && path && stat(path, &st) == 0 &&
           json_integer_value(json_object_get(o, "bytes")) == (json_int_t)st.st_size,
       "report: %s %s is %s %dx%d with its path and bytes (got %s %dx%d)", suffix, name, type, w, h, t ? t : "?", rw, rh);
}

static void test_several_do(void)
{
    diag("several --do: each input's outputs from one decode, named with {r}");
    copy_file(tap_fixture("photos/coffee.png"), P("min/coffee.png"));
    copy_file(tap_fixture("photos/FreshFlower-1600x1203.jpg"), P("min/sub/flower.jpg"));
    const char *args[] = {"--do",     M_LARGE,          "--do", M_SMALL,   "--do",   M_KEEP, "-r", "-n", "{dir}/{stem}-{r}.{ext}",
                          "--report", P("multi.jsonl"), "-o",   P("mout"), P("min"), NULL};
    is_int(run_batch(args, NULL), 0, "three --do over two inputs: exit 0");
    check_image(P("mout/coffee-large.webp"), "webp", 200, 133);
    check_image(P("mout/coffee-small.png"), "png", 80, 53);
    check_image(P("mout/coffee-r3.png"), "png", 50, 33);
    check_image(P("mout/sub/flower-large.webp"), "webp", 200, 150);
    check_image(P("mout/sub/flower-small.png"), "png", 80, 60);
    check_image(P("mout/sub/flower-r3.jpg"), "jpeg", 50, 38);
    int hidden = -1;
    is_int(count_files(P("mout"), &hidden), 6, "six outputs, each written once");
    is_int(hidden, 0, "no temporary file left");
    int n_ok, n_failed, n_skipped, n_ns;
    json_t *lines = NULL;
    is_int(read_report(P("multi.jsonl"), &n_ok, &n_failed, &n_skipped, &n_ns, &lines), 2, "report: one line per input");
    is_int(n_ok, 2, "report: both ok");
    json_t *e = report_entry(lines, "/coffee.png");
    ok(e && json_is_null(json_object_get(e, "output")) && json_array_size(json_object_get(e, "outputs")) == 3,
       "report: output null, outputs lists the three");
    check_report_output(lines, "/coffee.png", "large", "webp", 200, 133);
    check_report_output(lines, "/coffee.png", "r3", "png", 50, 33);
    check_report_output(lines, "/sub/flower.jpg", "small", "png", 80, 60);
    check_report_output(lines, "/sub/flower.jpg", "r3", "jpeg", 50, 38);
    json_decref(lines);

    diag("--isolation process: the set crosses the worker protocol; {r} as a folder");
    const char *iso[] = {"--do", M_LARGE,   "--do",   M_SMALL, "--isolation", "process", "-r", "-n", "{r}/{dir}/{stem}.{ext}",
                         "-o",   P("miso"), P("min"), NULL};
    is_int(run_batch(iso, NULL), 0, "--isolation process with two --do: exit 0");
    check_image(P("miso/large/coffee.webp"), "webp", 200, 133);
    check_image(P("miso/small/sub/flower.png"), "png", 80, 60);
    is_int(count_files(P("miso"), NULL), 4, "--isolation process: four outputs");

    diag("--skip-existing: an input is skipped only when all its outputs exist");
    struct stat f0, f1, c1;
    stat(P("mout/sub/flower-large.webp"), &f0);
    unlink(P("mout/coffee-small.png"));
    usleep(20000);
    const char *skip[] = {
        "--do",     M_LARGE,          "--do", M_SMALL,   "--do",   M_KEEP, "-r", "-n", "{dir}/{stem}-{r}.{ext}", "--skip-existing",
        "--report", P("mskip.jsonl"), "-o",   P("mout"), P("min"), NULL};
    is_int(run_batch(skip, NULL), 0, "--skip-existing with one output missing: exit 0");
    is_int(read_report(P("mskip.jsonl"), &n_ok, &n_failed, &n_skipped, &n_ns, NULL), 2, "rerun: two report lines");
    ok(n_ok == 1 && n_skipped == 1, "rerun: the input missing an output is processed, the complete one skipped");
    check_image(P("mout/coffee-small.png"), "png", 80, 53);
    stat(P("mout/sub/flower-large.webp"), &f1);
    stat(P("mout/coffee-large.webp"), &c1);
    ok(f0.st_mtim.tv_sec == f1.st_mtim.tv_sec && f0.st_mtim.tv_nsec == f1.st_mtim.tv_nsec,
       "rerun: the skipped input's outputs untouched");
    ok(c1.st_mtim.tv_sec > f0.st_mtim.tv_sec || (c1.st_mtim.tv_sec == f0.st_mtim.tv_sec && c1.st_mtim.tv_nsec > f0.st_mtim.tv_nsec),
       "rerun: the reprocessed input's whole set rewritten");

    diag("--dry-run lists every output (2 inputs x 2)");
    const char *dry[] = {"--do",      M_LARGE, "--do",    M_SMALL,  "-r", "-n", "{dir}/{stem}-{r}.{ext}",
                         "--dry-run", "-o",    P("mdry"), P("min"), NULL};
    check_dry_run(dry, 4, "min/sub/flower.jpg", "mdry/sub/flower-small.png", "mdry");
}

static void test_several_do_errors(void)
{
    diag("several --do: usage errors, and a failing output fails its input whole");
    const char *no_r[] = {"--do", M_LARGE, "--do", M_SMALL, "-o", P("mx"), P("min"), NULL};
    is_int(run_batch(no_r, NULL), 2, "two --do and a template without {r}: exit 2");
    ok(strstr(err_text, "{r}") != NULL && strstr(err_text, "-n '{stem}-{r}.{ext}'") != NULL, "... naming the fix");
    const char *one_r[] = {"--do", M_LARGE, "-n", "{stem}-{r}.{ext}", "-o", P("mx"), P("min"), NULL};
    is_int(run_batch(one_r, NULL), 2, "{r} with one --do: exit 2");
    const char *not_tf[] = {"--do",  M_LARGE,  "--do", "fit?width=80&height=80", "-n", "{stem}-{r}.{ext}", "-o",
                            P("mx"), P("min"), NULL};
    is_int(run_batch(not_tf, NULL), 2, "a --do that is not a transform among several: exit 2");
    ok(strstr(err_text, "transform?") != NULL, "... saying outputs are transform steps");
    const char *same[] = {
        "--do", "transform?w=10&name=a", "--do", "transform?w=20&name=a", "-n", "{stem}-{r}.{ext}", "-o", P("mx"), P("min"), NULL};
    is_int(run_batch(same, NULL), 2, "two --do with one name=: exit 2");
    ok(!exists(P("mx")), "usage errors write nothing");

    /* the crop fits the 1600x1203 flower, not the 600x400 coffee */
    const char *crop[] = {"--do",
                          "transform?w=60&type=png",
                          "--do",
                          "transform?left=0&top=1000&areawidth=10&areaheight=10&type=png",
                          "-r",
                          "-n",
                          "{dir}/{stem}-{r}.{ext}",
                          "--report",
                          P("mfail.jsonl"),
                          "-o",
                          P("mfail"),
                          P("min"),
                          NULL};
    is_int(run_batch(crop, NULL), 3, "an output failing on one input: exit 3");
    is_str(report_error(P("mfail.jsonl"), "/coffee.png"), "operation_failed", "the input fails with the output's error");
    ok(!exists(P("mfail/coffee-r1.png")) && !exists(P("mfail/coffee-r2.png")), "none of the failed input's outputs is written");
    check_image(P("mfail/sub/flower-r1.png"), "png", 60, 45);
    check_image(P("mfail/sub/flower-r2.png"), "png", 10, 10);
    int hidden = -1;
    count_files(P("mfail"), &hidden);
    is_int(hidden, 0, "no temporary file left");

    /* a write that fails after another output's temporary file was made: the set is removed */
    mkdirs(P("mlink/elsewhere"));
    mkdirs(P("mlinkout"));
    if (symlink(P("mlink/elsewhere"), P("mlinkout/small")) != 0)
        diag("symlink: %s", strerror(errno));
    const char *wr[] = {"--do", M_LARGE, "--do", M_SMALL, "-n", "{r}/{stem}.{ext}", "-o", P("mlinkout"), P("min/coffee.png"), NULL};
    is_int(run_batch(wr, NULL), 3, "an output directory that is a symbolic link: exit 3");
    ok(strstr(err_text, "symbolic link") != NULL, "... named");
    ok(!exists(P("mlinkout/large/coffee.webp")), "the other output of the input is not left");
    hidden = -1;
    count_files(P("mlinkout/large"), &hidden);
    is_int(hidden, 0, "... nor its temporary file");
    is_int(count_files(P("mlink/elsewhere"), NULL), 0, "nothing written through the link");
}

/* An -o that cannot be written is refused before any image is decoded. */
static void test_unwritable_output(void)
{
    diag("an output directory that cannot be written: exit 2 at once");
    copy_file(tap_fixture("photos/coffee.png"), P("ro_in/a.png"));
    copy_file(tap_fixture("photos/coffee.png"), P("ro_in/b.png"));
    char ro[4096];
    if (geteuid() == 0) {
        snprintf(ro, sizeof(ro), "/proc/self"); /* root writes anywhere else; nobody creates files in /proc */
    } else {
        snprintf(ro, sizeof(ro), "%s", P("ro_out"));
        mkdirs(ro);
        chmod(ro, 0555);
    }
    const char *args[] = {"--do", "resize?width=16&type=png", "--report", P("ro.jsonl"), "-o", ro, P("ro_in"), NULL};
    is_int(run_batch(args, NULL), 2, "read-only -o: exit 2");
    ok(strstr(err_text, "cannot write in the output directory") != NULL && strstr(err_text, ro) != NULL,
       "... with a message naming the directory: %.200s", err_text);
    ok(strstr(err_text, "a.png") == NULL && strstr(err_text, "images:") == NULL, "... before any image was processed");
    struct stat st;
    ok(stat(P("ro.jsonl"), &st) != 0 || st.st_size == 0, "... no report line written");
    if (geteuid() != 0)
        chmod(ro, 0755);
}

/* libvips' warnings (a truncated JPEG) reach stderr as "imgpipe batch: PATH: warning: ...", never unprefixed. */
static void test_warnings_prefixed(void)
{
    diag("libvips warnings name their file");
    copy_file(tap_fixture("bad/truncated-10000B.jpg"), P("warn_in/trunc.jpg"));
    copy_file(tap_fixture("photos/coffee.png"), P("warn_in/ok.png"));
    const char *args[] = {"--do", "resize?width=16&type=png", "-j", "1", "-o", P("warn_out"), P("warn_in"), NULL};
    is_int(run_batch(args, NULL), 3, "one truncated input: exit 3");
    int lines = 0, bare = 0, named = 0;
    static char copy[sizeof(err_text)];
    snprintf(copy, sizeof(copy), "%s", err_text);
    for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
        lines++;
        if (strncmp(l, "imgpipe batch: ", 15) != 0) {
            bare++;
            diag("unprefixed stderr line: %.200s", l);
        }
        if (strstr(l, "trunc.jpg: warning: VIPS") != NULL)
            named++;
    }
    ok(lines > 0 && bare == 0, "every stderr line starts with 'imgpipe batch: ' (%d of %d do not)", bare, lines);
    ok(named > 0, "libvips' warnings name trunc.jpg (%d lines)", named);
}

static void make_big_set(int n)
{
    char name[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "big/p%02d.jpg", i);
        if (i == 0)
            copy_file(tap_fixture("edge/progressive-GreenMeadow.jpg"), P(name));
        else if (link(P("big/p00.jpg"), P(name)) != 0)
            copy_file(tap_fixture("edge/progressive-GreenMeadow.jpg"), P(name));
    }
}

/* On a terminal: a progress line redrawn in place ("\r" + erase line), with rate and ETA. */
static void test_tty_progress(void)
{
    diag("progress on a terminal (a pseudo-terminal)");
    const char *bin = getenv("IMGPIPE_BIN") ? getenv("IMGPIPE_BIN") : "imgpipe";
    char outdir[4096], indir[4096];
    snprintf(outdir, sizeof(outdir), "%s", P("ttyout"));
    snprintf(indir, sizeof(indir), "%s", P("big"));
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid == 0) {
        execl(bin, bin, "batch", "--do", "resize?width=1000&type=png", "-j", "2", "-o", outdir, indir, (char *)NULL);
        _exit(127);
    }
    ok(pid > 0, "started on a pseudo-terminal");
    if (pid < 0)
        return;
    static char text[1 << 16];
    size_t len = 0;
    double end = now_ms() + 60000;
    while (now_ms() < end && len < sizeof(text) - 1) {
        struct pollfd pfd = {.fd = master, .events = POLLIN};
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        ssize_t n = read(master, text + len, sizeof(text) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EIO: the child closed the terminal */
        len += (size_t)n;
    }
    /* the terminal may report EIO before the process has exited (a sanitizer's exit checks take a
     * while): wait for it, then read whatever the terminal still holds */
    int st = 0;
    pid_t w = 0;
    for (double stop = now_ms() + 20000; (w = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < stop;)
        usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    for (;;) {
        struct pollfd pfd = {.fd = master, .events = POLLIN};
        ssize_t n;
        if (len >= sizeof(text) - 1 || poll(&pfd, 1, 0) <= 0 || (n = read(master, text + len, sizeof(text) - 1 - len)) <= 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    close(master);
    if (!ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit 0"))
        diag("status %d, terminal output ends: %s", st, len > 600 ? text + len - 600 : text);
    ok(strstr(text, "\r\033[K") != NULL, "the line is redrawn in place");
    ok(strstr(text, "/40 ") && strstr(text, "images/s |") && strstr(text, "MB/s") && strstr(text, "ETA"),
       "the progress line has done/total, images/s, MB/s and ETA");
    ok(strstr(text, "40 images: 40 ok") != NULL, "then the summary");
}

/* twice: a second SIGINT right after the first cancels the running image instead of waiting. */
static void test_interrupt(bool twice)
{
    diag("%s during a larger run: no partial or temporary files, a summary, exit 130", twice ? "SIGINT twice" : "SIGINT");
    const int n = 40;
    char outdir[4096], report[4096]; /* copies: P() rotates its buffers */
    snprintf(outdir, sizeof(outdir), "%s", twice ? P("bigout2") : P("bigout"));
    snprintf(report, sizeof(report), "%s", twice ? P("int2.jsonl") : P("int.jsonl"));
    const char *args[] = {"--do", "resize?width=1200&type=png", "-j", "1", "--report", report, "-o", outdir, P("big"), NULL};
    pid_t pid = spawn_batch(args, NULL);
    ok(pid > 0, "started");
    double end = now_ms() + 20000;
    int tmp_files = 0;
    while (now_ms() < end && count_files(outdir, &tmp_files) - tmp_files < 1) /* a complete output, not a temporary */
        usleep(5000);
    ok(count_files(outdir, &tmp_files) - tmp_files >= 1, "the run made progress before the interrupt");
    kill(pid, SIGINT);
    double t0 = now_ms();
    if (twice) {
        usleep(20000);
        kill(pid, SIGINT);
    }
    int rc = wait_batch(pid, 30000);
    double stop_ms = now_ms() - t0;
    ok(stop_ms < 5000, "stopped %.0f ms after the interrupt", stop_ms);
    is_int(rc, 130, "interrupted run exits 130");
    ok(strstr(err_text, "interrupted") != NULL, "the interrupt is reported");
    ok(strstr(err_text, "images/s") != NULL && strstr(err_text, "not started") != NULL, "the summary is printed");
    int hidden = -1;
    int outs = count_files(outdir, &hidden);
    is_int(hidden, 0, "no temporary file left");
    ok(outs >= 1 && outs < n, "some but not all images written (%d of %d)", outs, n);
    int complete = 0;
    for (int i = 0; i < n; i++) {
        char f[64];
        snprintf(f, sizeof(f), "%s/p%02d.png", twice ? "bigout2" : "bigout", i);
        int w, h;
        if (exists(P(f)) && decode(P(f), &w, &h) == 0 && w == 1200)
            complete++;
    }
    is_int(complete, outs, "every output is a complete image");
    int n_ok, n_failed, n_skipped, n_ns;
    is_int(read_report(report, &n_ok, &n_failed, &n_skipped, &n_ns, NULL), n, "report: one line per input");
    is_int(n_ok, outs, "report: ok lines match the outputs");
    ok(n_ns > 0, "report: the rest are not_started (%d)", n_ns);
    is_int(n_ok + n_failed + n_ns, n, "report: ok + failed (cancelled) + not_started = all");
}

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 1;
    vips_cache_set_max(0);
    const char *base = argc > 1 ? argv[1] : ".";
    snprintf(root, sizeof(root), "%s/batch-test-XXXXXX", base);
    if (mkdtemp(root) == NULL) {
        printf("Bail out! cannot create a temporary directory under %s: %s\n", base, strerror(errno));
        return 1;
    }
    diag("working in %s", root);
    test_tree();
    test_symlinks_in_out();
    test_report_non_utf8();
    test_dry_run();
    test_stdin_and_skip();
    test_limits();
    test_isolation();
    test_null_and_duplicates();
    test_shards();
    test_usage_errors();
    test_several_do();
    test_several_do_errors();
    test_unwritable_output();
    test_warnings_prefixed();
    make_big_set(40);
    test_tty_progress();
    test_interrupt(false);
    test_interrupt(true);
    int rc = tap_done();
    if (rc == 0)
        nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    else
        diag("left %s for inspection", root);
    vips_shutdown();
    return rc;
}
