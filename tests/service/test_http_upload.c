/*
 * test_http_upload: uploads of 64 KiB and more that announce their size are read by the worker
 * where they were received (svc_upload_fd), the others copied. The answers must be the same
 * bytes either way: HTTP/1 and HTTP/2 raw bodies, a multipart body whose image and overlay are
 * two parts of one memfd, three uploads in a row on one keep-alive connection, and a server
 * with isolation=thread; imgpipe_job_input_bytes_total says which way each went. Uploads that
 * stall keep at most 64 memfds. Suite http.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_test.h"
#include "tap.h"

/* The large uploads are paced (curl sends 64 KiB, then waits) so that the server's loop sees
 * them arrive: one that arrives whole between two loop iterations is handled before it could be
 * given a memfd, and is copied. */
#define PACE (4L << 20)

static CURL *curl;
static char *big, *overlay, *small;
static size_t big_len, overlay_len, small_len;

static long in_place(const tsrv *s)
{
    return (long)t_metric(s, "imgpipe_job_input_bytes_total{how=\"in_place\"} ");
}

static long copied(const tsrv *s)
{
    return (long)t_metric(s, "imgpipe_job_input_bytes_total{how=\"copied\"} ");
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

/* The same request with Content-Length (in place) and chunked (copied): same answer bytes. */
static void compare(const tsrv *s, const char *path, treq q, int w, int h, long in_bytes, const char *what)
{
    char name[160];
    long ip0 = in_place(s), cp0 = copied(s);
    snprintf(name, sizeof(name), "%s, Content-Length", what);
    tresp a = run(s, path, &q, w, h, name);
    is_int(in_place(s) - ip0, in_bytes, "%s: its %ld image bytes read in place", name, in_bytes);
    is_int(copied(s) - cp0, 0, "%s: none copied", name);
    q.headers[0] = "Transfer-Encoding: chunked";
    snprintf(name, sizeof(name), "%s, chunked", what);
    ip0 = in_place(s), cp0 = copied(s);
    tresp b = run(s, path, &q, w, h, name);
    is_int(copied(s) - cp0, in_bytes, "%s: no size announced, so copied", name);
    is_int(in_place(s) - ip0, 0, "%s: none in place", name);
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
    long ip0 = in_place(&s), cp0 = copied(&s);
    treq q = {.body = big, .body_len = big_len, .max_send_bps = PACE};
    tresp a = run(&s, "/resize?width=200&type=png", &q, 200, 133, "keep-alive 1");
    q = (treq){.body = small, .body_len = small_len};
    tresp b = run(&s, "/resize?width=100&type=png", &q, 100, 64, "keep-alive 2 (under 64 KiB)");
    q = (treq){.body = big, .body_len = big_len, .max_send_bps = PACE};
    tresp c = run(&s, "/resize?width=200&type=png", &q, 200, 133, "keep-alive 3");
    ok(same_body(&a, &c), "keep-alive: the first and the third answers are the same bytes");
    is_int(in_place(&s) - ip0, 2 * (long)big_len, "keep-alive: the two large uploads read in place");
    is_int(copied(&s) - cp0, (long)small_len, "keep-alive: the small one copied");
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
    return got > 0 && memmem(bytes, (size_t)got, "POST /resize", 12) != NULL;
}

/* The memfds of the uploads under way in the server; *with_head (when not NULL): how many of them
 * hold a request head in their first 64 KiB (none should: a worker reads the memfd). */
static int upload_memfds(const tsrv *s, int *with_head)
{
    char dir[64], path[320], target[128];
    int n = 0;
    if (with_head != NULL)
        *with_head = 0;
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)s->pid);
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ssize_t k = readlink(path, target, sizeof(target) - 1);
        if (k > 0) {
            target[k] = '\0';
            int up = strstr(target, "memfd:imgpipe-upload") != NULL;
            n += up;
            if (up && with_head != NULL)
                *with_head += holds_head(path);
        }
    }
    closedir(d);
    return n;
}

/* 80 uploads that stall after 100 KB of the 1 MB they announce: at most 64 memfds (each is a
 * descriptor), the others in h2o's memory; all gone with their connections. */
static void test_memfd_cap(void)
{
    static const char *const args[] = {"--workers", "1", NULL};
    enum { N = 80 };
    static char chunk[100000];
    int fds[N], sent = 0, most = 0, heads = 0;
    tsrv s;
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server starts (memfd cap)"))
        return;
    const char *head = "POST /resize?width=10 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n";
    for (int i = 0; i < N; i++) {
        fds[i] = t_connect(s.port);
        sent += fds[i] >= 0 && write(fds[i], head, strlen(head)) == (ssize_t)strlen(head) &&
                write(fds[i], chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk);
    }
    is_int(sent, N, "%d stalled uploads under way", N);
    double full = 0; /* when 64 were first seen: then 300 ms more, for any beyond */
    for (double t0 = t_now(); t_now() - t0 < 3 && (full == 0 || t_now() - full < 0.3);) {
        int h, n = upload_memfds(&s, &h);
        most = n > most ? n : most;
        heads += h;
        if (n >= 64 && full == 0)
            full = t_now();
        usleep(20000);
    }
    is_int(most, 64, "64 of them were given a memfd, no more");
    is_int(heads, 0, "no memfd holds a request head (the worker reads the memfd)");
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    int left = -1;
    for (double t0 = t_now(); t_now() - t0 < 5 && (left = upload_memfds(&s, NULL)) != 0;)
        usleep(20000);
    is_int(left, 0, "closed: their memfds are gone");

    /* clients that send a whole large upload and leave while it is processed (a close, a reset):
     * the job keeps its own descriptor, and both are gone once it is done */
    char head2[160];
    snprintf(head2, sizeof(head2), "POST /resize?width=300&type=png HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", big_len);
    long ip0 = in_place(&s);
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
    for (double t0 = t_now(); t_now() - t0 < 5 && (left = upload_memfds(&s, NULL)) != 0;)
        usleep(20000);
    is_int(left, 0, "clients gone mid-job: their memfds are gone");
    ok(in_place(&s) - ip0 >= (long)big_len, "... at least one of them was read in place");
    compare(&s, "/resize?width=300&type=png", (treq){.body = big, .body_len = big_len, .max_send_bps = PACE}, 300, 200,
            (long)big_len, "after them, HTTP/1 raw body");
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
    test_thread();
    test_memfd_cap();
    curl_easy_cleanup(curl);
    free(big);
    free(overlay);
    free(small);
    curl_global_cleanup();
    return tap_done();
}
