/*
 * test_http_upload: large uploads that announce their size (their buffer grown once, in the
 * server's memory) and chunked ones give the same answer bytes: HTTP/1 and HTTP/2 raw bodies, a
 * multipart body with an image and an overlay, three uploads in a row on one keep-alive
 * connection, and a server with isolation=thread; imgpipe_job_input_bytes_total counts each
 * image byte once. Uploads being received hold no memfd; the arena a pool thread gives its worker
 * (one memfd, kept) holds the image and never the request head, and is the upload byte for byte
 * after a job that moved its bytes about (a PNG's IDAT chunks gathered in place); clients that leave mid-job leave
 * nothing more behind. Suite http.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_test.h"
#include "tap.h"

/* The large uploads are paced (curl sends 64 KiB, then waits) so that the server's loop sees
 * them arrive and grows their buffer once they announced enough. */
#define PACE (4L << 20)

static CURL *curl;
static char *big, *overlay, *small;
static size_t big_len, overlay_len, small_len;

static long input_bytes(const tsrv *s)
{
    return (long)t_metric(s, "\nimgpipe_job_input_bytes_total "); /* the sample, not its HELP line */
}

/* One request; its answer must be a w x h image. Returns the response (caller frees). */
static tresp run(const tsrv *s, const char *path, const treq *q, int w, int h, const char *what)
{
    tresp r;
    char fmt[32] = "";
    int gw = 0, gh = 0;
    t_do(curl, s, path, q, &r);
    is_int(r.status, 200, "%s: 200", what);
    int dec = t_decode(&r, fmt, sizeof(fmt), &gw, &gh);
    ok(dec == 0 && gw == w && gh == h, "%s: a %dx%d image (%s %dx%d)", what, w, h, fmt, gw, gh);
    return r;
}

static int same_body(const tresp *a, const tresp *b)
{
    return a->body != NULL && b->body != NULL && a->len == b->len && memcmp(a->body, b->body, a->len) == 0;
}

/* The same request with Content-Length and chunked: same answer bytes, in_bytes given each time */
static void compare(const tsrv *s, const char *path, treq q, int w, int h, long in_bytes, const char *what)
{
    char name[160];
    long in0 = input_bytes(s);
    snprintf(name, sizeof(name), "%s, Content-Length", what);
    tresp a = run(s, path, &q, w, h, name);
    is_int(input_bytes(s) - in0, in_bytes, "%s: its %ld image bytes given to the job", name, in_bytes);
    q.headers[0] = "Transfer-Encoding: chunked";
    snprintf(name, sizeof(name), "%s, chunked", what);
    in0 = input_bytes(s);
    tresp b = run(s, path, &q, w, h, name);
    is_int(input_bytes(s) - in0, in_bytes, "%s: the same bytes given", name);
    ok(same_body(&a, &b), "%s: the same answer bytes both ways", what);
    tresp_free(&a);
    tresp_free(&b);
}

static void test_process(void)
{
    static const char *const args[] = {"--workers", "2", NULL};
    tsrv s;
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server starts (isolation=process)"))
        return;
    compare(&s, "/resize?width=300&type=png", (treq){.body = big, .body_len = big_len, .max_send_bps = PACE}, 300, 200,
            (long)big_len, "HTTP/1 raw body");
    compare(&s, "/resize?width=300&type=png", (treq){.body = big, .body_len = big_len, .http2 = 1, .max_send_bps = PACE}, 300, 200,
            (long)big_len, "HTTP/2 raw body");
    compare(&s, "/watermarkimage?top=40&left=60&type=png",
            (treq){.mp_file = big, .mp_file_len = big_len, .mp_image = overlay, .mp_image_len = overlay_len, .max_send_bps = PACE},
            768, 512, (long)(big_len + overlay_len), "multipart image + overlay");

    /* three in a row on one keep-alive connection, the middle one small */
    long in0 = input_bytes(&s);
    treq q = {.body = big, .body_len = big_len, .max_send_bps = PACE};
    tresp a = run(&s, "/resize?width=200&type=png", &q, 200, 133, "keep-alive 1");
    q = (treq){.body = small, .body_len = small_len};
    tresp b = run(&s, "/resize?width=100&type=png", &q, 100, 64, "keep-alive 2 (under 64 KiB)");
    q = (treq){.body = big, .body_len = big_len, .max_send_bps = PACE};
    tresp c = run(&s, "/resize?width=200&type=png", &q, 200, 133, "keep-alive 3");
    ok(same_body(&a, &c), "keep-alive: the first and the third answers are the same bytes");
    is_int(input_bytes(&s) - in0, 2 * (long)big_len + (long)small_len, "keep-alive: each image's bytes given once");
    tresp_free(&a);
    tresp_free(&b);
    tresp_free(&c);
    is_int(tsrv_stop(&s, 20), 0, "SIGTERM: exit 0");
    tsrv_cleanup(&s);
}

/* 1 when the file's first 64 KiB hold a request line (h2o lower-cases the header names in place) */
static int holds_head(const char *path)
{
    static char bytes[64 << 10];
    int fd = open(path, O_RDONLY);
    ssize_t got = fd >= 0 ? read(fd, bytes, sizeof(bytes)) : -1;
    if (fd >= 0)
        close(fd);
    return got > 0 && memmem(bytes, (size_t)got, "POST /", 6) != NULL;
}

/* Does the memfd at path start with these bytes? */
static int starts_with(const char *path, const uint8_t *want, size_t n)
{
    uint8_t got[64];
    int fd = open(path, O_RDONLY);
    ssize_t k = fd >= 0 && n <= sizeof(got) ? read(fd, got, n) : -1;
    if (fd >= 0)
        close(fd);
    return k == (ssize_t)n && memcmp(got, want, n) == 0;
}

/* Does the memfd at path hold exactly these n bytes first? */
static int holds_exactly(const char *path, const char *want, size_t n)
{
    char *got = malloc(n);
    int fd = open(path, O_RDONLY);
    ssize_t k = fd >= 0 && got != NULL ? pread(fd, got, n, 0) : -1;
    if (fd >= 0)
        close(fd);
    int same = k == (ssize_t)n && memcmp(got, want, n) == 0;
    free(got);
    return same;
}

/* The server's input memfds; *with_head (when not NULL): how many of them hold a request head in
 * their first 64 KiB (none should: a worker reads them); *with_image (when not NULL): how many
 * start with the bytes of `big`. */
static int server_memfds(const tsrv *s, int *with_head, int *with_image)
{
    char dir[64], path[320], target[128];
    int n = 0;
    if (with_head != NULL)
        *with_head = 0;
    if (with_image != NULL)
        *with_image = 0;
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)s->pid);
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ssize_t k = readlink(path, target, sizeof(target) - 1);
        if (k > 0) {
            target[k] = '\0';
            int m = strstr(target, "memfd:imgpipe-in") != NULL;
            n += m;
            if (m && with_head != NULL)
                *with_head += holds_head(path);
            if (m && with_image != NULL)
                *with_image += starts_with(path, (const uint8_t *)big, 16);
        }
    }
    closedir(d);
    return n;
}

/* How many of the server's input memfds hold exactly these n bytes first */
static int arenas_holding(const tsrv *s, const char *want, size_t n)
{
    char dir[64], path[320], target[128];
    int found = 0;
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)s->pid);
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ssize_t k = readlink(path, target, sizeof(target) - 1);
        if (k > 0 && (target[k] = '\0', strstr(target, "memfd:imgpipe-in") != NULL))
            found += holds_exactly(path, want, n);
    }
    if (d != NULL)
        closedir(d);
    return found;
}

/* 80 uploads that stall after 100 KB of the 1 MB they announce: received in the server's memory,
 * no memfd, nothing left once they close. Then clients that send a whole upload and leave while
 * it is processed: the one worker's arena holds the image, never a request head, and stays the
 * only memfd after them. */
static void test_stalled_and_leaving(void)
{
    static const char *const args[] = {"--workers", "1", NULL};
    enum { N = 80 };
    static char chunk[100000];
    int fds[N], sent = 0, most = 0, heads = 0;
    tsrv s;
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server starts (stalled and leaving clients)"))
        return;
    const char *head = "POST /resize?width=10 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n";
    for (int i = 0; i < N; i++) {
        fds[i] = t_connect(s.port);
        sent += fds[i] >= 0 && write(fds[i], head, strlen(head)) == (ssize_t)strlen(head) &&
                write(fds[i], chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk);
    }
    is_int(sent, N, "%d stalled uploads under way", N);
    for (double t0 = t_now(); t_now() - t0 < 0.5;) {
        int n = server_memfds(&s, NULL, NULL);
        most = n > most ? n : most;
        usleep(20000);
    }
    is_int(most, 0, "no memfd while they are received");
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);

    /* clients that send a whole large upload (enlarged: long enough to be seen at work) and leave
     * while it is processed (a close, a reset) */
    char head2[192];
    snprintf(head2, sizeof(head2),
             "POST /enlarge?width=3000&height=2000&type=png HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", big_len);
    for (int i = 0; i < 4; i++) {
        int fd = t_connect(s.port);
        int whole = fd >= 0 && write(fd, head2, strlen(head2)) == (ssize_t)strlen(head2) && write(fd, big, 100000) == 100000 &&
                    usleep(30000) == 0 && write(fd, big + 100000, big_len - 100000) == (ssize_t)(big_len - 100000);
        ok(whole, "leaving client %d: its upload sent", i);
        if (fd >= 0 && i % 2 == 1) {
            struct linger lg = {1, 0}; /* reset */
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        if (fd >= 0)
            close(fd);
    }
    int seen = 0, most_fds = 0, images = 0;
    for (double t0 = t_now(); t_now() - t0 < 1.5;) {
        int h, im, n = server_memfds(&s, &h, &im);
        seen += n > 0;
        most_fds = n > most_fds ? n : most_fds;
        heads += h;
        images += im;
        usleep(2000);
    }
    ok(seen > 0 && images > 0, "the arena seen at work, holding the image (%d times, %d with the image)", seen, images);
    is_int(heads, 0, "no memfd holds a request head (the worker reads the image only)");
    is_int(most_fds, 1, "one worker, one input memfd: jobs add none");
    compare(&s, "/resize?width=300&type=png", (treq){.body = big, .body_len = big_len, .max_send_bps = PACE}, 300, 200,
            (long)big_len, "after them, HTTP/1 raw body");
    /* a PNG of 57 IDAT chunks: the worker's decoder gathers them in place, and puts them back */
    compare(&s, "/resize?width=300&type=png", (treq){.body = overlay, .body_len = overlay_len}, 300, 200, (long)overlay_len,
            "a PNG of many IDAT chunks");
    is_int(arenas_holding(&s, overlay, overlay_len), 1, "after it, the arena holds the upload byte for byte");
    is_int(tsrv_stop(&s, 20), 0, "SIGTERM: exit 0");
    tsrv_cleanup(&s);
}

static void test_thread(void)
{
    static const char *const args[] = {"--workers", "1", "--isolation", "thread", NULL};
    tsrv s;
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server starts (isolation=thread)"))
        return;
    compare(&s, "/resize?width=300&type=png", (treq){.body = big, .body_len = big_len, .max_send_bps = PACE}, 300, 200,
            (long)big_len, "isolation=thread, HTTP/1 raw body");
    is_int(tsrv_stop(&s, 20), 0, "SIGTERM: exit 0");
    tsrv_cleanup(&s);
}

/* The server's peak resident memory so far (VmHWM), in bytes; -1 when unreadable */
static long peak_rss(const tsrv *s)
{
    long kb = t_pid_status_kb((int)s->pid, "VmHWM");
    return kb < 0 ? -1 : kb * 1024;
}

/* An HTTP/2 upload is read where h2o received it, as an HTTP/1 one is: a 28 MB PNG raises the
 * server's peak resident memory by about its size once (held, not copied: a copy made it twice)
 * (the rest is the request's other buffers and, under ASan, its shadow memory: 5-10 MB).
 * Then HTTP/2 clients that leave mid-job (their streams reset, their connections closed) leave
 * the server answering: the next HTTP/2 upload gets its image, and no worker was lost. */
static void test_http2_held(void)
{
    static const char *const args[] = {"--workers", "1", NULL};
    VipsImage *noise = NULL, *u = NULL;
    void *png = NULL;
    size_t png_len = 0;
    VipsImage *rgb = NULL;
    int made = vips_gaussnoise(&noise, 3060, 3060, "mean", 128.0, "sigma", 60.0, NULL) == 0;
    VipsImage *three[3] = {noise, noise, noise};
    made = made && vips_bandjoin(three, &u, 3, NULL) == 0 && vips_cast_uchar(u, &rgb, NULL) == 0 &&
           vips_pngsave_buffer(rgb, &png, &png_len, "compression", 0, NULL) == 0;
    VIPS_UNREF(noise);
    VIPS_UNREF(u);
    VIPS_UNREF(rgb);
    if (!ok(made, "a 3060x3060 noise PNG (%zu bytes)", png_len))
        return;
    tsrv s;
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server starts (HTTP/2 bodies held)")) {
        g_free(png);
        return;
    }
    long hwm0 = peak_rss(&s);
    treq q = {.body = png, .body_len = png_len, .http2 = 1};
    tresp r = run(&s, "/resize?width=100&type=png", &q, 100, 100, "HTTP/2, a 28 MB noise PNG");
    tresp_free(&r);
    long grown = peak_rss(&s) - hwm0;
    ok(hwm0 > 0 && grown < (long)png_len * 17 / 10, "HTTP/2: the server's peak memory grew by %.1f MB for a %.1f MB body (held once)",
       grown / 1e6, png_len / 1e6);

    /* clients that leave while their jobs run: a 24 MP PNG enlarge takes the worker well over a
     * second, the clients 150-270 ms (their 0.5 MB upload a few) */
    for (int i = 0; i < 4; i++) {
        treq l = {.body = big, .body_len = big_len, .http2 = 1, .timeout_ms = 150 + 40 * i};
        t_do(curl, &s, "/enlarge?width=6000&height=4000&type=png", &l, &r);
        ok(r.status == 0, "HTTP/2 client %d left mid-job (no answer: %ld)", i, r.status);
        tresp_free(&r);
    }
    r = run(&s, "/resize?width=300&type=png", &(treq){.body = big, .body_len = big_len, .http2 = 1}, 300, 200,
            "after them, an HTTP/2 upload");
    tresp_free(&r);
    is_int((long)t_metric(&s, "\nimgpipe_worker_exits_total{reason=\"crashed\"} "), 0, "no worker crashed");
    is_int(tsrv_stop(&s, 20), 0, "SIGTERM: exit 0");
    tsrv_cleanup(&s);
    g_free(png);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (VIPS_INIT("test_http_upload"))
        return 1;
    big = t_slurp(tap_fixture("photos/kodim23-parrots.png"), &big_len);
    overlay = t_slurp(tap_fixture("photos/coffee.png"), &overlay_len);
    small = t_slurp(tap_fixture("edge/grey-copyright-400x256.jpg"), &small_len);
    if (!ok(big && overlay && small && big_len >= (64u << 10) && small_len < (64u << 10), "fixtures load"))
        return tap_done();
    curl = curl_easy_init();
    test_process();
    test_http2_held();
    test_thread();
    test_stalled_and_leaving();
    curl_easy_cleanup(curl);
    free(big);
    free(overlay);
    free(small);
    curl_global_cleanup();
    return tap_done();
}
