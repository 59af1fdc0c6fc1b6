/*
 * test_linger: answers given before the body is read reach clients that send the whole body
 * first, in JSON, against a real `imgpipe serve --max-body-bytes 1MiB` on 127.0.0.1:
 *   - a 3 MiB body announced by Content-Length, sent in full before reading (Python's
 *     http.client, requests): every byte is accepted and the client reads 413 payload_too_large
 *     and then a clean end of stream (without the lingering close: EPIPE or a reset);
 *   - the same with a chunked body that grows past the limit; 20 of them in a row;
 *   - over HTTP/2 (h2c) such a body is read to its end and answered 413 in JSON on its stream;
 *   - a client that stops sending halfway and stays connected is closed within seconds;
 *   - h2o's other early answers (broken chunked framing, an unknown Expect) are JSON too, in the
 *     access log and the metrics;
 *   - no descriptor is left behind: the server's open files return to where they started;
 *   - under a hard open-files limit of 600, max-connections is lowered to fit it (a warning says
 *     so), and 150 connections at once leave the server serving.
 * Every loop is bounded in count and time; suite http.
 */
#include <dirent.h>
#include <poll.h>
#include <sys/resource.h>

#include "svc_test.h"

#define MB (1024 * 1024)

typedef struct exchange {
    int sent_all;      /* every body byte was accepted by the socket */
    int send_errno;    /* errno of the failed send, 0 = none */
    int clean_end;     /* the answer ended with read() == 0, not an error */
    int status;        /* of the answer, -1 = none */
    char answer[4096]; /* its start */
    double end_s;      /* seconds from the last byte sent to the end of the answer */
} exchange;

static void send_all(int fd, const char *p, size_t len, exchange *x)
{
    size_t off = 0;
    double t0 = t_now();
    while (off < len && t_now() - t0 < 20) {
        ssize_t w = send(fd, p + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            x->sent_all = 0;
            x->send_errno = errno;
            return;
        }
        off += (size_t)w;
    }
    if (off < len)
        x->sent_all = 0;
}

/* Read the answer until the end of the stream (<= limit_s). */
static void read_answer(int fd, exchange *x, double limit_s)
{
    size_t n = 0;
    double t0 = t_now();
    x->status = -1;
    x->clean_end = 0;
    while (t_now() - t0 < limit_s) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char buf[8192];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == 0) {
            x->clean_end = 1;
            break;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        size_t k = (size_t)r < sizeof(x->answer) - 1 - n ? (size_t)r : sizeof(x->answer) - 1 - n;
        memcpy(x->answer + n, buf, k);
        n += k;
    }
    x->answer[n] = '\0';
    x->end_s = t_now() - t0;
    sscanf(x->answer, "HTTP/1.1 %d", &x->status);
}

/* Headers, then the whole body, then the answer: the way a client without Expect: 100-continue
 * does it. chunked: the body goes out as 64 KiB chunks and the final chunk. */
static void upload_first(int port, size_t body_len, int chunked, exchange *x)
{
    int fd = t_connect(port);
    char head[256];
    memset(x, 0, sizeof(*x));
    x->sent_all = 1;
    x->status = -1;
    if (fd < 0) {
        x->sent_all = 0;
        return;
    }
    int n = chunked ? snprintf(head, sizeof(head),
                               "POST /resize?width=64 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n")
                    : snprintf(head, sizeof(head),
                               "POST /resize?width=64 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                               "Content-Length: %zu\r\n\r\n",
                               body_len);
    char *body = calloc(1, 64 * 1024 + 16);
    send_all(fd, head, (size_t)n, x);
    for (size_t off = 0; off < body_len && x->sent_all;) {
        size_t k = body_len - off < 64 * 1024 ? body_len - off : 64 * 1024;
        if (chunked) {
            char ch[16];
            int cl = snprintf(ch, sizeof(ch), "%zx\r\n", k);
            send_all(fd, ch, (size_t)cl, x);
            memcpy(body + k, "\r\n", 2);
            send_all(fd, body, k + 2, x);
        } else {
            send_all(fd, body, k, x);
        }
        off += k;
    }
    if (chunked && x->sent_all)
        send_all(fd, "0\r\n\r\n", 5, x);
    free(body);
    read_answer(fd, x, 10);
    close(fd);
}

static int is_json_413(const exchange *x)
{
    return x->status == 413 && strstr(x->answer, "application/json") && strstr(x->answer, "\"status\":413") &&
           strstr(x->answer, "\"error\":\"payload_too_large\"") && strstr(x->answer, "max-body-bytes (1048576 bytes)");
}

static void test_upload_first(const tsrv *s)
{
    exchange x;
    for (int chunked = 0; chunked < 2; chunked++) {
        const char *how = chunked ? "chunked" : "Content-Length";
        upload_first(s->port, 3 * MB, chunked, &x);
        ok(x.sent_all, "3 MiB %s body over max-body-bytes 1MiB, sent in full before reading: every byte accepted (errno %d)", how,
           x.send_errno);
        ok(is_json_413(&x), "... then 413 payload_too_large in JSON naming the limit");
        if (!is_json_413(&x))
            diag("answer: %.300s", x.answer);
        ok(x.clean_end, "... and a clean end of stream, not a reset");
    }
    int good = 0;
    for (int i = 0; i < 20; i++) {
        upload_first(s->port, 2 * MB, i % 2, &x);
        good += x.sent_all && is_json_413(&x) && x.clean_end;
    }
    is_int(good, 20, "20 such uploads in a row: every one gets its 413");
}

/* HTTP/2 (h2c, libcurl): a body whose content-length is over the limit is read to its end and
 * answered 413 in JSON on its stream; h2o 2.2 alone reset it with REFUSED_STREAM, which curl
 * retried 5 times before failing with no answer. A body just under the limit still reaches the
 * handler, and the connection goes on serving. */
static void test_http2_over_limit(const tsrv *s)
{
    size_t jpeg_len = 0;
    char *big = calloc(1, 3 * MB), *jpeg = t_slurp(tap_fixture("photos/FreshFlower-1600x1203.jpg"), &jpeg_len);
    CURL *c = curl_easy_init();
    tresp r;
    treq q = {.body = big, .body_len = 3 * MB, .content_type = "image/jpeg", .http2 = 1, .timeout_ms = 20000};
    int good = 0;
    for (int i = 0; i < 5; i++) {
        int rc = t_do(c, s, "/resize?width=64", &q, &r);
        good += rc == 0 && r.status == 413 && r.http_version == CURL_HTTP_VERSION_2_0 && r.body &&
                strstr(r.body, "\"error\":\"payload_too_large\"") && strstr(r.body, "max-body-bytes (1048576 bytes)");
        if (i == 0) {
            is_int(r.status, 413, "h2c: a 3 MiB body over max-body-bytes 1MiB is answered 413 (curl: %s)",
                   curl_easy_strerror(r.code));
            ok(r.body && strstr(r.body, "\"status\":413") && strstr(r.body, "\"error\":\"payload_too_large\""),
               "... in JSON: %.200s", r.body ? r.body : "(none)");
        }
        tresp_free(&r);
    }
    is_int(good, 5, "h2c: 5 such uploads in a row on one handle: every one gets its 413");
    q.body_len = 1 * MB - 4096; /* under the limit: not an image, so the handler's 406 */
    t_do(c, s, "/resize?width=64", &q, &r);
    is_int(r.status, 406, "h2c: a body just under the limit reaches the handler (406 not an image)");
    tresp_free(&r);
    q.body = jpeg;
    q.body_len = jpeg_len;
    t_do(c, s, "/resize?width=64", &q, &r);
    int w = 0, h = 0;
    char fmt[16] = "";
    int decoded = r.status == 200 && t_decode(&r, fmt, sizeof(fmt), &w, &h) == 0;
    ok(decoded && strcmp(fmt, "jpeg") == 0 && w == 64 && h == 48, "h2c: then an image is served: %ld, %s %dx%d", r.status, fmt, w,
       h);
    tresp_free(&r);
    curl_easy_cleanup(c);
    free(big);
    free(jpeg);
}

/* A client that announces 3 MiB, sends 256 KiB and then waits, connected: it reads the 413 and
 * the end of the stream at once (the FIN after the answer). Returns its socket, still open: the
 * server closes its side within the linger's idle time (2 s; idle-timeout is 60 s here). */
static int test_silent_client(const tsrv *s)
{
    exchange x;
    int fd = t_connect(s->port);
    char head[256];
    memset(&x, 0, sizeof(x));
    x.sent_all = 1;
    int n = snprintf(head, sizeof(head), "POST /resize?width=64 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n", 3 * MB);
    char *part = calloc(1, 256 * 1024);
    send_all(fd, head, (size_t)n, &x);
    send_all(fd, part, 256 * 1024, &x);
    read_answer(fd, &x, 15);
    free(part);
    ok(is_json_413(&x), "a client that stops sending halfway reads its 413");
    ok(x.clean_end && x.end_s < 5, "... and the end of the stream after %.1f s", x.end_s);
    return fd;
}

static int raw_answer(int port, const char *req, exchange *x)
{
    int fd = t_connect(port);
    memset(x, 0, sizeof(*x));
    x->sent_all = 1;
    if (fd < 0)
        return -1;
    send_all(fd, req, strlen(req), x);
    read_answer(fd, x, 10);
    close(fd);
    return x->status;
}

static void test_other_early_answers(const tsrv *s)
{
    exchange x;
    is_int(raw_answer(s->port, "POST /crop?width=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
                      &x),
           400, "broken chunked framing: 400");
    ok(strstr(x.answer, "application/json") && strstr(x.answer, "\"error\":\"bad_request\"") &&
           strstr(x.answer, "malformed request: broken chunked-encoding"),
       "... bad_request in JSON with h2o's reason");
    is_int(raw_answer(s->port,
                      "POST /crop?width=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: something-else\r\nContent-Length: 3\r\n\r\nabc",
                      &x),
           417, "Expect other than 100-continue: 417");
    ok(strstr(x.answer, "417 Expectation Failed") && strstr(x.answer, "\"error\":\"expectation_failed\""),
       "... expectation_failed in JSON");
}

/* The access log has the early answers; /metrics counts them under their route. */
static void test_logged(const tsrv *s)
{
    size_t len;
    char *log = t_slurp(s->out_path, &len), *metrics;
    int n413 = 0;
    for (const char *p = log; p && (p = strstr(p, "\"status\":413,")) != NULL; p++)
        n413++;
    ok(n413 >= 28, "access log: %d lines with status 413 (>= 28)", n413);
    ok(log && strstr(log, "\"route\":\"resize\",\"http\":\"1.1\",\"status\":413") && strstr(log, "\"error\":\"payload_too_large\""),
       "... on route resize with error payload_too_large");
    ok(log && strstr(log, "\"route\":\"crop\",\"http\":\"1.1\",\"status\":417"), "... and the 417 on route crop");
    ok(log && strstr(log, "\"route\":\"resize\",\"http\":\"2.0\",\"status\":413"), "... and the HTTP/2 413s");
    free(log);
    tresp r;
    t_get(s, "/metrics", &r);
    metrics = r.body ? strstr(r.body, "imgpipe_requests_total{route=\"resize\",status=\"413\"} ") : NULL;
    long counted = metrics ? strtol(metrics + strlen("imgpipe_requests_total{route=\"resize\",status=\"413\"} "), NULL, 10) : 0;
    ok(counted >= 28, "/metrics: %ld 413 answers on route resize (>= 28)", counted);
    tresp_free(&r);
}

/* Under a hard limit of 600 open files (set on this process, inherited by the server) the
 * default max-connections 1024 cannot fit: it is lowered to (600 - 256) / 3 = 114, and 150
 * connections held open at once do not stop the server (the rest wait in the backlog). */
static void test_fd_limit(void)
{
    struct rlimit rl = {600, 600};
    tsrv s;
    const char *args[] = {"--workers", "1", NULL};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || tsrv_start(&s, args, NULL) != 0) {
        ok(0, "server under an open-files limit of 600 starts");
        return;
    }
    size_t len;
    char *log = t_slurp(s.out_path, &len), *err = t_slurp(s.err_path, &len);
    ok((log && strstr(log, "max-connections lowered from 1024 to 114")) ||
           (err && strstr(err, "max-connections lowered from 1024 to 114")),
       "open files limited to 600: a warning says max-connections is lowered from 1024 to 114");
    ok((log && strstr(log, "\"max-connections\":114")) || (err && strstr(err, "\"max-connections\":114")),
       "... and the settings logged at startup say 114");
    free(log);
    free(err);
    int fds[150], n = 0;
    for (int i = 0; i < 150; i++)
        if ((fds[n] = t_connect(s.port)) >= 0)
            n++;
    usleep(300 * 1000);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    tresp r;
    long st = -1;
    for (double t0 = t_now(); t_now() - t0 < 10 && st != 200; usleep(100 * 1000)) {
        st = t_get(&s, "/health", &r);
        tresp_free(&r);
    }
    is_int(st, 200, "after %d connections at once, /health answers 200", n);
    is_int(tsrv_stop(&s, 20), 0, "server exits 0");
    tsrv_cleanup(&s);
}

int main(void)
{
    tsrv s;
    const char *args[] = {"--workers", "1", "--max-body-bytes", "1MiB", "--idle-timeout", "60s", NULL};
    if (VIPS_INIT("test_linger"))
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (tsrv_start(&s, args, NULL) != 0) {
        ok(0, "server with --max-body-bytes 1MiB starts");
        return tap_done();
    }
    int fds0 = t_pid_fds(s.pid);
    test_upload_first(&s);
    test_http2_over_limit(&s);
    int silent = test_silent_client(&s);
    test_other_early_answers(&s);
    test_logged(&s);
    /* every lingering connection has ended, the silent client's too while it stays connected */
    int fds = -1;
    double t0 = t_now();
    while (t_now() - t0 < 8) {
        if ((fds = t_pid_fds(s.pid)) <= fds0)
            break;
        usleep(100 * 1000);
    }
    ok(fds0 > 0 && fds <= fds0, "the server's open files are back to %d (now %d) after %.1f s, with the silent client connected",
       fds0, fds, t_now() - t0);
    close(silent);
    is_int(tsrv_stop(&s, 20), 0, "server exits 0");
    tsrv_cleanup(&s);
    test_fd_limit();
    curl_global_cleanup();
    return tap_done();
}
