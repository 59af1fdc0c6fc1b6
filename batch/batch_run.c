/*
 * batch_run: the worker threads of `imgpipe batch` and the --report writer.
 *
 * DESIGN
 * - Jobs are claimed with one atomic counter (stats.next), in the list's sorted order, so the
 *   workers share the list without a queue or a lock. A claimed job belongs to its worker.
 * - Input: one read() of the whole file into the worker's reused buffer (not mmap: a file
 *   truncated by someone else while mapped would kill the whole run with SIGBUS).
 * - Output: written to ".NAME.imgpipe-XXXXXX" in the output's own directory (same file system,
 *   so rename() is atomic), mode set from the umask, then renamed over NAME. Directories under -o
 *   are made and opened one component at a time from -o's descriptor (mkdirat, openat with
 *   O_NOFOLLOW | O_DIRECTORY) and files are created with openat(O_NOFOLLOW) and renameat: a
 *   symbolic link inside -o is refused, so no write ever leaves -o. Any failure or a
 *   cancel removes the temporary file: an output is either absent or complete. Names starting
 *   with '.' are never taken as inputs, so a temporary file is never read back.
 * - Several --do: the engine runs one renditions plan (one decode) and answers one buffer, the
 *   same in this thread or through a worker process; batch_renditions_split finds the outputs in
 *   it. All their temporary files are written before any rename, and a failure removes the set's
 *   files (renamed ones too): an input's outputs are all there or none is.
 * - Interrupt: the main thread sets stats.stop (no new claims) and, on a second interrupt,
 *   stats.cancel and every worker's ctl.cancelled (the engine stops libvips mid-step). Jobs
 *   never claimed stay PENDING and get a "not_started" report line from the main thread.
 * - Each worker calls pl_engine_thread_done() before it exits (libvips per-thread state).
 * - --isolation process: each worker thread owns one worker process (svc_proc.h), started at its
 *   first image, replaced after a crash or a hang, stopped when the thread ends.
 */
#include "batch_run.h"

#include "batch_progress.h"
#include "batch_renditions.h"
#include "svc_arena.h"
#include "svc_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Names for failures outside the engine (the engine's come from pl_error_name()). */
#define BATCH_E_READ "input_unreadable"
#define BATCH_E_WRITE "output_write_failed"
#define BATCH_E_TYPE "output_type_mismatch"

typedef struct batch_outcome {
    const char *error; /* stable name, or NULL when ok */
    char message[PL_ERROR_MESSAGE_MAX + PL_ERROR_DETAIL_MAX + 64];
} batch_outcome;

void batch_run_say(batch_run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&run->err_lock);
    if (run->tty)
        fputs("\r\033[K", stderr);
    fputs("imgpipe batch: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&run->err_lock);
    va_end(ap);
}

static const char *batch_status_name(batch_status s)
{
    switch (s) {
    case BATCH_OK:
        return "ok";
    case BATCH_FAILED:
        return "failed";
    case BATCH_SKIPPED:
        return "skipped";
    default:
        return "not_started";
    }
}

/* A JSON string for a file name or a message. JSON strings are Unicode, file names are bytes: a
 * name that is not valid UTF-8 is written with each byte that is not part of a valid character,
 * and each backslash, as the four characters \xNN (*escaped set), so that the original bytes can
 * be recovered (and the key is never dropped, as jansson does with invalid UTF-8). */
static json_t *batch_json_name(const char *s, bool *escaped)
{
    *escaped = false;
    if (s == NULL)
        return json_null();
    if (g_utf8_validate(s, -1, NULL))
        return json_string(s);
    GString *o = g_string_new(NULL);
    const char *p = s;
    while (*p) {
        const char *end = NULL;
        if (g_utf8_validate(p, -1, &end)) {
            end = p + strlen(p);
        }
        for (const char *q = p; q < end; q++) { /* the valid run, backslashes escaped */
            if (*q == '\\')
                g_string_append(o, "\\x5c");
            else
                g_string_append_c(o, *q);
        }
        p = end;
        if (*p) { /* one byte that starts no valid character */
            g_string_append_printf(o, "\\x%02x", (unsigned char)*p);
            p++;
        }
    }
    *escaped = true;
    json_t *r = json_string(o->str);
    g_string_free(o, TRUE);
    return r;
}

/* Several --do: every output of the job, as {"name","path","type","width","height","bytes"}; the sizes
 * are null unless the input is ok, the type is null when it was to be the input's own unknown one. */
static json_t *batch_report_outputs(const batch_run *run, const batch_job *j)
{
    json_t *arr = json_array();
    for (int k = 0; k < j->n_outs; k++) {
        const batch_out *bo = &j->outs[k];
        bool ok = j->status == BATCH_OK, esc;
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(run->opts->plan.rend.names[k]));
        json_object_set_new(o, "path", batch_json_name(bo->path, &esc));
        if (esc)
            json_object_set_new(o, "path_escaped", json_true());
        json_object_set_new(o, "type", bo->expect != PL_FMT_UNKNOWN ? json_string(pl_format_name(bo->expect)) : json_null());
        json_object_set_new(o, "width", ok ? json_integer(bo->width) : json_null());
        json_object_set_new(o, "height", ok ? json_integer(bo->height) : json_null());
        json_object_set_new(o, "bytes", ok ? json_integer((json_int_t)bo->bytes) : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}

static void batch_report_line(batch_run *run, const batch_job *j, const char *error)
{
    bool path_esc, out_esc, msg_esc;
    if (run->report == NULL)
        return;
    bool one = j->n_outs == 1; /* several --do: output, width, height null; "outputs" lists them */
    bool has_out = one && (j->status == BATCH_OK || j->status == BATCH_SKIPPED);
    bool ran = j->status == BATCH_OK || j->status == BATCH_FAILED;
    bool sized = one && j->status == BATCH_OK;
    json_t *o = json_object();
    json_object_set_new(o, "path", batch_json_name(j->path, &path_esc));
    if (path_esc)
        json_object_set_new(o, "path_escaped", json_true());
    json_object_set_new(o, "output", batch_json_name(has_out ? j->outs[0].path : NULL, &out_esc));
    if (out_esc)
        json_object_set_new(o, "output_escaped", json_true());
    if (!one)
        json_object_set_new(o, "outputs", batch_report_outputs(run, j));
    json_object_set_new(o, "status", json_string(batch_status_name(j->status)));
    json_object_set_new(o, "error", error ? json_string(error) : json_null());
    json_object_set_new(o, "message", batch_json_name(j->message, &msg_esc));
    json_object_set_new(o, "width", sized ? json_integer(j->outs[0].width) : json_null());
    json_object_set_new(o, "height", sized ? json_integer(j->outs[0].height) : json_null());
    json_object_set_new(o, "bytes_in", json_integer((json_int_t)j->bytes_in));
    json_object_set_new(o, "bytes_out", json_integer((json_int_t)j->bytes_out));
    json_object_set_new(o, "ms", ran ? json_real((double)(int64_t)(j->ms * 1000) / 1000) : json_null());
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (line == NULL)
        return;
    pthread_mutex_lock(&run->report_lock);
    fputs(line, run->report);
    fputc('\n', run->report);
    fflush(run->report);
    pthread_mutex_unlock(&run->report_lock);
    free(line);
}

static int batch_fail(batch_outcome *oc, const char *error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int batch_fail(batch_outcome *oc, const char *error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    oc->error = error;
    vsnprintf(oc->message, sizeof(oc->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* The whole file into w->buf. */
static int batch_read_input(batch_worker *w, const char *path, size_t *len, batch_outcome *oc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return batch_fail(oc, BATCH_E_READ, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return batch_fail(oc, BATCH_E_READ, "not a regular file");
    }
    size_t want = (size_t)st.st_size;
    if (want + 1 > w->buf_cap) {
        size_t cap = want + 1 > 1 << 20 ? want + 1 : 1 << 20;
        uint8_t *b = realloc(w->buf, cap);
        if (b == NULL) {
            close(fd);
            return batch_fail(oc, BATCH_E_READ, "out of memory reading %zu bytes", want);
        }
        w->buf = b;
        w->buf_cap = cap;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, w->buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return batch_fail(oc, BATCH_E_READ, "read failed: %s", strerror(e));
        }
        if (n == 0)
            break; /* shrank since fstat: take what is there */
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return 0;
}

/* out relative to -o ("a/b/x.jpg"), or NULL when out is not under it (it always is: batch_list
 * builds out as out_dir + '/' + the expanded name). */
static const char *batch_rel_out(const batch_run *run, const char *out)
{
    size_t n = strlen(run->opts->out_dir);
    while (n > 1 && run->opts->out_dir[n - 1] == '/')
        n--;
    if (strncmp(out, run->opts->out_dir, n) != 0)
        return NULL;
    out += n;
    while (*out == '/')
        out++;
    return out;
}

/* The directory of out, made and opened one component at a time from -o's descriptor with
 * mkdirat + openat(O_NOFOLLOW | O_DIRECTORY): a symbolic link (or "..") inside -o is refused, so
 * no write leaves -o. w->last_dirfd caches the last directory (most jobs share it). */
static int batch_open_dir(batch_worker *w, const char *out, const char **base, batch_outcome *oc)
{
    batch_run *run = w->run;
    const char *rel = batch_rel_out(run, out), *slash;
    if (run->out_fd < 0)
        return batch_fail(oc, BATCH_E_WRITE, "cannot open the output directory '%s'", run->opts->out_dir);
    if (rel == NULL || *rel == '\0')
        return batch_fail(oc, BATCH_E_WRITE, "output '%s' is not inside the output directory", out);
    slash = strrchr(rel, '/');
    *base = slash ? slash + 1 : rel;
    size_t dir_len = slash ? (size_t)(slash - rel) : 0;
    if (w->last_dir != NULL && strlen(w->last_dir) == dir_len && strncmp(w->last_dir, rel, dir_len) == 0)
        return 0;
    if (w->last_dirfd >= 0 && w->last_dirfd != run->out_fd)
        close(w->last_dirfd);
    w->last_dirfd = -1;
    g_free(w->last_dir);
    w->last_dir = NULL;
    int dfd = run->out_fd;
    for (const char *p = rel; p < rel + dir_len;) {
        const char *e = memchr(p, '/', (size_t)(rel + dir_len - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(rel + dir_len - p);
        char comp[NAME_MAX + 1];
        if (len == 0) {
            p++;
            continue;
        }
        if (len > NAME_MAX || (len == 2 && p[0] == '.' && p[1] == '.') || (len == 1 && p[0] == '.')) {
            if (dfd != run->out_fd)
                close(dfd);
            return batch_fail(oc, BATCH_E_WRITE, "output '%s': the name has a '.', '..' or over-long directory component", out);
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        int e_mk = mkdirat(dfd, comp, 0777) == 0 ? 0 : errno;
        int nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e_open = errno;
        if (dfd != run->out_fd)
            close(dfd);
        if (nfd < 0) {
            if (e_open == ELOOP || e_open == ENOTDIR)
                return batch_fail(oc, BATCH_E_WRITE,
                                  "output '%s': '%.*s' inside the output directory is a symbolic link or not a directory "
                                  "(outputs are never written outside -o)",
                                  out, (int)(p + len - rel), rel);
            return batch_fail(oc, BATCH_E_WRITE, "cannot create directory '%.*s' in '%s': %s", (int)(p + len - rel), rel,
                              run->opts->out_dir, strerror(e_mk && e_mk != EEXIST ? e_mk : e_open));
        }
        dfd = nfd;
        p += len;
    }
    w->last_dirfd = dfd;
    w->last_dir = g_strndup(rel, dir_len);
    return 0;
}

/* A complete temporary file beside its output, not yet renamed. */
typedef struct batch_tmp {
    int dfd;          /* its directory (owned) */
    const char *base; /* the output's file name (points into the output's path) */
    char name[NAME_MAX + 32];
} batch_tmp;

/* data -> a temporary file beside out (in the directory w->last_dirfd, kept in t->dfd). Never
 * leaves the temporary file on failure; never follows a link (O_NOFOLLOW, and the rename replaces
 * a link named like the output instead of writing through it). */
static int batch_write_temp(batch_worker *w, const char *out, const void *data, size_t len, batch_tmp *t, batch_outcome *oc)
{
    batch_run *run = w->run;
    int rc = -1, fd = -1, dfd;
    bool created = false;
    t->base = NULL;
    if (batch_open_dir(w, out, &t->base, oc) != 0)
        return -1;
    dfd = w->last_dirfd;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(t->name, sizeof(t->name), ".%.*s.imgpipe-%06x", (int)(NAME_MAX - 24), t->base,
                 (unsigned)g_random_int() & 0xffffff);
        fd = openat(dfd, t->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        batch_fail(oc, BATCH_E_WRITE, "cannot create a temporary file beside '%s': %s", out, strerror(errno));
        goto out;
    }
    created = true;
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            batch_fail(oc, BATCH_E_WRITE, "cannot write the temporary file of '%s': %s", out, strerror(errno));
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fchmod(fd, run->file_mode) != 0) {
        batch_fail(oc, BATCH_E_WRITE, "cannot set the mode of the temporary file of '%s': %s", out, strerror(errno));
        goto out;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        batch_fail(oc, BATCH_E_WRITE, "cannot write the temporary file of '%s': %s", out, strerror(errno));
        goto out;
    }
    if ((t->dfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0) { /* w->last_dirfd may change with the next output */
        batch_fail(oc, BATCH_E_WRITE, "cannot keep the directory of '%s' open: %s", out, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && created)
        unlinkat(dfd, t->name, 0);
    return rc;
}

/* The outputs of job j (parts[k] -> j->outs[k].path): every temporary file first, then every
 * rename. Any failure removes the files of this set, temporary and already renamed: an input's
 * outputs are written all or none (with one output: the file, or nothing). */
static int batch_write_set(batch_worker *w, const batch_job *j, const batch_part *parts, batch_outcome *oc)
{
    batch_tmp t[BATCH_MAX_DO];
    int made = 0, renamed = 0, rc = -1;
    for (; made < j->n_outs; made++)
        if (batch_write_temp(w, j->outs[made].path, parts[made].data, parts[made].len, &t[made], oc) != 0)
            goto out;
    for (; renamed < j->n_outs; renamed++)
        if (renameat(t[renamed].dfd, t[renamed].name, t[renamed].dfd, t[renamed].base) != 0) {
            batch_fail(oc, BATCH_E_WRITE, "cannot rename the temporary file to '%s': %s", j->outs[renamed].path, strerror(errno));
            goto out;
        }
    rc = 0;
out:
    for (int k = 0; k < made; k++) {
        if (rc != 0)
            unlinkat(t[k].dfd, k < renamed ? t[k].base : t[k].name, 0);
        close(t[k].dfd);
    }
    return rc;
}

/* pl_run over w->buf[0..len): in this thread, or (--isolation process) in this thread's worker
 * process, started here when there is none; a worker that crashed or hung fails this image only
 * (err->code PL_OK with the message: the caller names it worker_crashed) and is replaced. */
static int batch_run_engine(batch_worker *w, size_t len, pl_result *res, pl_error *err)
{
    const batch_opts *opts = w->run->opts;
    if (!opts->isolate) {
        atomic_int moved = 0;
        pl_input in = {.data = w->buf, .len = len, .moved = &moved}; /* this thread's own buffer */
        return pl_run(&opts->plan, &in, &opts->limits, &w->ctl, res, err);
    }
    char errbuf[512], mime[128];
    int rc = -1, sig = 0;
    if (!svc_proc_alive(w->proc)) {
        svc_proc_stop(w->proc);
        if ((w->proc = svc_proc_start(opts->proc_cfg, errbuf, sizeof(errbuf))) == NULL)
            return pl_error_set(err, PL_E_INTERNAL, "%s", errbuf);
    }
    if ((w->arena == NULL && (w->arena = svc_arena_new()) == NULL) || svc_arena_put(w->arena, w->buf, len, NULL, 0) != 0)
        return pl_error_set(err, PL_E_INTERNAL, "cannot hand the image to the worker process: %s", strerror(errno));
    svc_proc_job pj = {.plan = &opts->plan,
                       .limits = &opts->limits,
                       .fd = svc_arena_fd(w->arena),
                       .data_len = len,
                       .deadline_us = w->ctl.deadline_us,
                       .cancelled = &w->ctl.cancelled};
    svc_proc_fault f = svc_proc_run(w->proc, &pj, &rc, res, err, mime, sizeof(mime), &sig);
    if (f == SVC_PROC_GONE) { /* it had died while idle: nothing ran, once more on a new one */
        svc_proc_stop(w->proc);
        if ((w->proc = svc_proc_start(opts->proc_cfg, errbuf, sizeof(errbuf))) == NULL)
            return pl_error_set(err, PL_E_INTERNAL, "%s", errbuf);
        f = svc_proc_run(w->proc, &pj, &rc, res, err, mime, sizeof(mime), &sig);
    }
    if (f == SVC_PROC_OK) {
        if (rc == 0 && res->mime == mime)
            res->mime = NULL; /* points into this frame; batch does not use it */
        return rc == 0 ? 0 : -1;
    }
    svc_proc_stop(w->proc);
    w->proc = NULL;
    svc_arena_free(w->arena); /* the next worker process gets a new one */
    w->arena = NULL;
    pl_error_clear(err);
    if (f == SVC_PROC_KILLED_DEADLINE)
        return pl_error_set(err, PL_E_DEADLINE, "processing deadline exceeded; the image library did not stop and was killed");
    if (f == SVC_PROC_KILLED_CANCEL)
        return pl_error_set(err, PL_E_CANCELLED, "cancelled");
    pl_error_set(err, PL_E_INTERNAL, "processing this image crashed the image library (%s %d); the worker process was replaced",
                 f == SVC_PROC_CRASHED ? "signal" : "exit status", sig);
    err->code = PL_OK; /* named worker_crashed by the caller */
    return -1;
}

static int batch_process(batch_worker *w, batch_job *j, batch_outcome *oc)
{
    batch_run *run = w->run;
    const batch_opts *opts = run->opts;
    size_t len = 0;
    if (j->pre_error != NULL)
        return batch_fail(oc, BATCH_E_READ, "%s", j->pre_error);
    if (batch_read_input(w, j->path, &len, oc) != 0)
        return -1;
    j->bytes_in = len;
    atomic_fetch_add(&run->stats.bytes_in, (uint_fast64_t)len);

    atomic_store(&w->ctl.cancelled, 0);
    w->ctl.deadline_us = opts->deadline_us > 0 ? g_get_monotonic_time() + opts->deadline_us : 0;
    if (atomic_load(&run->stats.cancel)) /* a cancel that came between the claim and here */
        atomic_store(&w->ctl.cancelled, 1);

    pl_result res;
    memset(&res, 0, sizeof(res));
    pl_error err;
    pl_error_clear(&err);
    if (batch_run_engine(w, len, &res, &err) != 0) {
        if (err.detail[0] != '\0')
            return batch_fail(oc, pl_error_name(err.code), "%s (%s)", err.message, err.detail);
        return batch_fail(oc, err.code == PL_OK ? "worker_crashed" : pl_error_name(err.code), "%s", err.message);
    }
    int rc = -1;
    batch_part parts[BATCH_MAX_DO];
    char m[PL_ERROR_MESSAGE_MAX];
    if (j->n_outs == 1)
        parts[0] = (batch_part){.format = res.format, .width = res.width, .height = res.height, .data = res.data, .len = res.len};
    else if (batch_renditions_split(res.data, res.len, parts, j->n_outs, m, sizeof(m)) != 0) {
        batch_fail(oc, pl_error_name(PL_E_INTERNAL), "%s", m);
        goto out;
    }
    for (int k = 0; k < j->n_outs; k++) {
        pl_format want = j->outs[k].expect;
        if (opts->plan.op != PL_OP_INFO && want != PL_FMT_UNKNOWN && parts[k].format != want) {
            batch_fail(oc, BATCH_E_TYPE, "%s%sthe engine wrote %s where %s was expected from the input's type",
                       j->n_outs > 1 ? opts->plan.rend.names[k] : "", j->n_outs > 1 ? ": " : "", pl_format_name(parts[k].format),
                       pl_format_name(want));
            goto out;
        }
    }
    if (batch_write_set(w, j, parts, oc) != 0)
        goto out;
    for (int k = 0; k < j->n_outs; k++) {
        j->outs[k].width = parts[k].width;
        j->outs[k].height = parts[k].height;
        j->outs[k].bytes = parts[k].len;
        j->bytes_out += parts[k].len;
    }
    atomic_fetch_add(&run->stats.bytes_out, (uint_fast64_t)j->bytes_out);
    rc = 0;
out:
    pl_result_clear(&res);
    return rc;
}

static void batch_run_job(batch_worker *w, batch_job *j)
{
    batch_run *run = w->run;
    if (j->status == BATCH_SKIPPED) {
        atomic_fetch_add(&run->stats.skipped, 1);
        atomic_fetch_add(&run->stats.done, 1);
        batch_report_line(run, j, NULL);
        return;
    }
    int64_t t0 = g_get_monotonic_time();
    batch_outcome oc = {0};
    batch_log_file(j->path); /* names the file in libvips' warnings (batch_progress.c) */
    int rc = batch_process(w, j, &oc);
    batch_log_file(NULL);
    j->ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
    if (rc == 0) {
        j->status = BATCH_OK;
        atomic_fetch_add(&run->stats.ok, 1);
    } else {
        j->status = BATCH_FAILED;
        j->message = strdup(oc.message);
        atomic_fetch_add(&run->stats.failed, 1);
        batch_run_say(run, "%s: %s [%s]", j->path, oc.message, oc.error);
    }
    atomic_fetch_add(&run->stats.done, 1);
    batch_report_line(run, j, oc.error);
}

static void *batch_worker_main(void *arg)
{
    batch_worker *w = arg;
    batch_run *run = w->run;
    while (!atomic_load(&run->stats.stop)) {
        size_t i = atomic_fetch_add(&run->stats.next, 1);
        if (i >= run->list->n)
            break;
        batch_run_job(w, &run->list->v[i]);
    }
    svc_proc_stop(w->proc);
    w->proc = NULL;
    svc_arena_free(w->arena);
    w->arena = NULL;
    pl_engine_thread_done();
    pthread_mutex_lock(&run->lock);
    run->workers_left--;
    pthread_cond_broadcast(&run->cond);
    pthread_mutex_unlock(&run->lock);
    return NULL;
}

int batch_run_init(batch_run *run, const batch_opts *opts, batch_list *list, FILE *report)
{
    memset(run, 0, sizeof(*run));
    run->opts = opts;
    run->list = list;
    run->report = report;
    run->stats.total = list->n;
    run->stats.start_us = g_get_monotonic_time();
    mode_t mask = umask(0);
    umask(mask);
    run->file_mode = 0666 & ~mask;
    /* -o itself may be a link (the user named it); nothing under it is followed */
    run->out_fd = opts->out_dir != NULL ? open(opts->out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    pthread_mutex_init(&run->report_lock, NULL);
    pthread_mutex_init(&run->err_lock, NULL);
    pthread_mutex_init(&run->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run->cond, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

int batch_run_start(batch_run *run)
{
    int n = run->opts->jobs;
    if ((size_t)n > run->list->n)
        n = run->list->n > 0 ? (int)run->list->n : 1;
    run->workers = calloc((size_t)n, sizeof(*run->workers));
    if (run->workers == NULL)
        return -1;
    run->n_workers = n;
    for (int i = 0; i < n; i++)
        run->workers[i].last_dirfd = -1;

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int started = 0;
    for (int i = 0; i < n; i++) {
        batch_worker *w = &run->workers[i];
        w->run = run;
        pthread_mutex_lock(&run->lock);
        run->workers_left++;
        pthread_mutex_unlock(&run->lock);
        if (pthread_create(&w->thread, NULL, batch_worker_main, w) != 0) {
            pthread_mutex_lock(&run->lock);
            run->workers_left--;
            pthread_mutex_unlock(&run->lock);
            break;
        }
        w->started = true;
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started > 0 ? 0 : -1;
}

int batch_run_wait(batch_run *run, int64_t timeout_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + timeout_us * 1000;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&run->lock);
    int rc = 0;
    while (run->workers_left > 0 && rc == 0)
        rc = pthread_cond_timedwait(&run->cond, &run->lock, &ts);
    int done = run->workers_left == 0;
    pthread_mutex_unlock(&run->lock);
    return done;
}

void batch_run_stop(batch_run *run, bool hard)
{
    atomic_store(&run->stats.stop, 1);
    if (!hard)
        return;
    atomic_store(&run->stats.cancel, 1);
    for (int i = 0; i < run->n_workers; i++)
        atomic_store(&run->workers[i].ctl.cancelled, 1);
}

void batch_run_finish(batch_run *run)
{
    for (int i = 0; i < run->n_workers; i++) {
        batch_worker *w = &run->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        free(w->buf);
        g_free(w->last_dir);
        if (w->last_dirfd >= 0 && w->last_dirfd != run->out_fd)
            close(w->last_dirfd);
    }
    if (run->out_fd >= 0)
        close(run->out_fd);
    run->out_fd = -1;
    free(run->workers);
    run->workers = NULL;
    run->n_workers = 0;
    for (size_t i = 0; i < run->list->n; i++)
        if (run->list->v[i].status == BATCH_PENDING)
            batch_report_line(run, &run->list->v[i], NULL);
    pthread_mutex_destroy(&run->report_lock);
    pthread_mutex_destroy(&run->err_lock);
    pthread_mutex_destroy(&run->lock);
    pthread_cond_destroy(&run->cond);
}
