/*
 * test_http_sources: url= and file= against a real `imgpipe serve`, with an origin HTTP server
 * run by this test on 127.0.0.1 (a thread per connection, below). Covers: a fetched image
 * decoded to the right size (GET, and POST without a body), allowed-origins (403), a name that
 * resolves to 127.0.0.1 without allow-private-sources (403), redirects re-checked per hop (to a
 * host not listed: 403; too many: 502; within the limit: 200), upstream statuses (imaginary's:
 * the origin's 404/500 become the answer's), an origin sending more than max-body-bytes (413,
 * with and without Content-Length) or too slowly (504 at url-timeout), a client leaving during a
 * fetch (HTTP/1 and HTTP/2: the server stays up), file= (200; `..`, absolute, symlink out: 400),
 * ETag + If-None-Match answered 304 without running a job (the queue stage count in /metrics
 * does not move; uploads too), Accept feeding the ETag with type=auto, Cache-Control with the
 * TTL on 200 and no-store on errors, and sign= covering url=.
 * Traffic stays on 127.0.0.1: evil.test in redirects is refused by the allowlist before any lookup.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include "svc_auth.h"
#include "svc_test.h"

static char *jpg;
static size_t jpg_len;
static CURL *curl;
static int oport; /* the origin's port */
static int origin_fd = -1;

/* ---- the origin ------------------------------------------------------------------------------- */

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, const char *status, const char *extra, const void *body, size_t len)
{
    char h[512];
    int n = snprintf(h, sizeof(h), "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status, len, extra);
    send_all(fd, h, (size_t)n);
    if (len)
        send_all(fd, body, len);
}

static void *origin_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[4096] = "", path[1024] = "", loc[256];
    size_t got = 0;
    while (got < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
        ssize_t n = recv(fd, req + got, sizeof(req) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        req[got] = '\0';
    }
    sscanf(req, "GET %1023s", path);
    if (strcmp(path, "/a.jpg") == 0) {
        reply(fd, "200 OK", "Content-Type: image/jpeg\r\n", jpg, jpg_len);
    } else if (strcmp(path, "/redir-ok") == 0) {
        snprintf(loc, sizeof(loc), "Location: http://localhost:%d/a.jpg\r\n", oport);
        reply(fd, "302 Found", loc, NULL, 0);
    } else if (strcmp(path, "/redir-ip") == 0) { /* the same origin by an address the allowlist does not name */
        snprintf(loc, sizeof(loc), "Location: http://127.0.0.1:%d/a.jpg\r\n", oport);
        reply(fd, "302 Found", loc, NULL, 0);
    } else if (strcmp(path, "/redir-evil") == 0) {
        reply(fd, "301 Moved Permanently", "Location: http://evil.test/a.jpg\r\n", NULL, 0);
    } else if (strcmp(path, "/redir-loop") == 0) {
        reply(fd, "307 Temporary Redirect", "Location: /redir-loop\r\n", NULL, 0);
    } else if (strcmp(path, "/404") == 0) {
        reply(fd, "404 Not Found", "", "nope", 4);
    } else if (strcmp(path, "/500") == 0) {
        reply(fd, "500 Internal Server Error", "", "bad", 3);
    } else if (strcmp(path, "/empty") == 0) {
        reply(fd, "200 OK", "", NULL, 0);
    } else if (strcmp(path, "/big-cl") == 0 || strcmp(path, "/big-stream") == 0) {
        static char chunk[65536];
        const char *h = strcmp(path, "/big-cl") == 0 ? "HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\nConnection: close\r\n\r\n"
                                                     : "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
        memset(chunk, 'x', sizeof(chunk));
        send_all(fd, h, strlen(h));
        for (int i = 0; i < 32; i++) /* 2 MiB, or until imgpipe hangs up */
            send_all(fd, chunk, sizeof(chunk));
    } else if (strcmp(path, "/slow") == 0) {
        const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n";
        send_all(fd, h, strlen(h));
        for (int i = 0; i < 100; i++) { /* one byte every 100 ms: 10 s, far past url-timeout */
            if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
                break;
            usleep(100000);
        }
    } else {
        reply(fd, "404 Not Found", "", NULL, 0);
    }
    shutdown(fd, SHUT_WR);
    close(fd);
    return NULL;
}

static void *origin_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(origin_fd, NULL, NULL);
        pthread_t t;
        if (c < 0)
            return NULL;
        if (pthread_create(&t, NULL, origin_conn, (void *)(intptr_t)c) == 0)
            pthread_detach(t);
        else
            close(c);
    }
}

static int origin_start(void)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    pthread_t t;
    int one = 1;
    origin_fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(origin_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(origin_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(origin_fd, 64) != 0 ||
        getsockname(origin_fd, (struct sockaddr *)&a, &l) != 0)
        return -1;
    oport = ntohs(a.sin_port);
    return pthread_create(&t, NULL, origin_main, NULL) == 0 ? 0 : -1;
}

/* ---- helpers ---------------------------------------------------------------------------------- */

static long get(const tsrv *s, const char *path, const char *h1, const char *h2, tresp *r)
{
    treq q = {.headers = {h1, h2}, .timeout_ms = 10000};
    t_do(curl, s, path, &q, r);
    return r->status;
}

static void check_error(const tresp *r, long status, const char *name, const char *what)
{
    char want[96], v[256];
    is_int(r->status, status, "%s: status %ld", what, status);
    snprintf(want, sizeof(want), "\"error\":\"%s\"", name);
    ok(r->body && strstr(r->body, want), "%s: error %s (%s)", what, name, r->body ? r->body : "no body");
    ok(t_header(r, "cache-control", v, sizeof(v)) == NULL || strstr(v, "max-age") == NULL, "%s: no max-age on an error", what);
}

/* imgpipe_stage_duration_seconds_count{stage="queue"}: one per job a worker ran. */
static long jobs_run(const tsrv *s)
{
    return (long)t_metric(s, "imgpipe_stage_duration_seconds_count{stage=\"queue\"} ");
}

static long source_reads(const tsrv *s, const char *result)
{
    char key[160];
    snprintf(key, sizeof(key), "imgpipe_source_reads_total{kind=\"url\",result=\"%s\"} ", result);
    return (long)t_metric(s, key);
}

static void expect_image(const tresp *r, int w, int h, const char *what)
{
    char fmt[32];
    int gw = 0, gh = 0;
    is_int(r->status, 200, "%s: 200", what);
    ok(t_decode(r, fmt, sizeof(fmt), &gw, &gh) == 0 && gw == w && gh == h && strcmp(fmt, "jpeg") == 0,
       "%s: a %dx%d JPEG (%s %dx%d)", what, w, h, fmt, gw, gh);
}

/* ---- the cases -------------------------------------------------------------------------------- */

static void test_url_source(const char *mountdir)
{
    tsrv s;
    tresp r;
    char allowed[128], path[1024], v[256], etag[64] = "", inm[128];
    snprintf(allowed, sizeof(allowed), "http://localhost:%d", oport);
    const char *args[] = {"--enable-url-source",
                          "on",
                          "--allowed-origins",
                          allowed,
                          "--allow-private-sources",
                          "on",
                          "--url-max-redirects",
                          "2",
                          "--url-timeout",
                          "1s",
                          "--max-body-bytes",
                          "1MiB",
                          "--http-cache-ttl",
                          "120",
                          "--mount",
                          mountdir,
                          "--workers",
                          "1",
                          NULL};
    if (!ok(tsrv_start(&s, args, (const char *const[]){"IMGPIPE_LOG_LEVEL=warn", NULL}) == 0, "server with url= and file= starts"))
        return;

    snprintf(path, sizeof(path), "/resize?width=100&url=http://localhost:%d/a.jpg", oport);
    get(&s, path, NULL, NULL, &r);
    expect_image(&r, 100, 75, "GET url=");
    ok(t_header(&r, "cache-control", v, sizeof(v)) && strcmp(v, "public, s-maxage=120, max-age=120, no-transform") == 0,
       "Cache-Control as imaginary with the TTL (%s)", v);
    ok(t_header(&r, "expires", v, sizeof(v)) && strstr(v, " GMT"), "Expires set (%s)", v);
    ok(t_header(&r, "etag", etag, sizeof(etag)) && strlen(etag) == 34 && etag[0] == '"', "strong ETag (%s)", etag);
    tresp_free(&r);
    {
        treq q = {.method = "POST", .timeout_ms = 10000};
        t_do(curl, &s, path, &q, &r);
        expect_image(&r, 100, 75, "POST without a body, url=");
        ok(t_header(&r, "cache-control", v, sizeof(v)) == NULL, "no Cache-Control on POST (imaginary: GET only)");
        tresp_free(&r);
    }
    snprintf(path, sizeof(path), "/resize?width=100&url=http%%3A%%2F%%2Flocalhost%%3A%d%%2Fa.jpg", oport);
    get(&s, path, NULL, NULL, &r);
    expect_image(&r, 100, 75, "percent-encoded url=");
    tresp_free(&r);

    /* 304 with no job: the queue stage count does not move */
    long before = jobs_run(&s);
    snprintf(path, sizeof(path), "/resize?width=100&url=http://localhost:%d/a.jpg", oport);
    snprintf(inm, sizeof(inm), "If-None-Match: \"0000\", %s", etag);
    get(&s, path, inm, NULL, &r);
    is_int(r.status, 304, "If-None-Match with the ETag: 304");
    ok(r.len == 0, "304 has no body");
    ok(t_header(&r, "cache-control", v, sizeof(v)) && strstr(v, "max-age=120"), "304 carries Cache-Control");
    ok(t_header(&r, "etag", v, sizeof(v)) && strcmp(v, etag) == 0, "304 carries the ETag");
    tresp_free(&r);
    {
        treq q = {.method = "POST", .body = jpg, .body_len = jpg_len, .headers = {inm}, .timeout_ms = 10000};
        t_do(curl, &s, "/resize?width=100", &q, &r);
        is_int(r.status, 304, "upload with the same bytes and plan: 304 (the ETag is the bytes', not the source's)");
        tresp_free(&r);
    }
    is_int(jobs_run(&s), before, "no job ran for the 304s (imgpipe_stage_duration_seconds_count{stage=\"queue\"} %ld)", before);
    {
        /* an upload is hashed only when the client asks: no If-None-Match, no ETag; another
         * If-None-Match, a 200 with the tag the GET gave */
        treq q = {.method = "POST", .body = jpg, .body_len = jpg_len, .timeout_ms = 10000};
        t_do(curl, &s, "/resize?width=100", &q, &r);
        is_int(r.status, 200, "upload without If-None-Match: 200");
        ok(t_header(&r, "etag", v, sizeof(v)) == NULL, "and no ETag (not hashed)");
        tresp_free(&r);
        treq q2 = {
            .method = "POST", .body = jpg, .body_len = jpg_len, .headers = {"If-None-Match: \"other\""}, .timeout_ms = 10000};
        t_do(curl, &s, "/resize?width=100", &q2, &r);
        is_int(r.status, 200, "upload with a stale If-None-Match: 200");
        ok(t_header(&r, "etag", v, sizeof(v)) && strcmp(v, etag) == 0, "with the ETag the GET of the same bytes gave (%s)", v);
        tresp_free(&r);
        before += 2;
    }
    is_int(jobs_run(&s), before, "no job ran for the 304s (imgpipe_stage_duration_seconds_count{stage=\"queue\"} %ld)", before);
    snprintf(path, sizeof(path), "/resize?width=101&url=http://localhost:%d/a.jpg", oport);
    get(&s, path, inm, NULL, &r);
    is_int(r.status, 200, "another plan, same If-None-Match: 200");
    tresp_free(&r);
    ok(jobs_run(&s) == before + 1, "and that one ran a job");

    /* type=auto: Accept feeds the ETag, Vary: Accept stays */
    {
        char e1[64] = "", e2[64] = "";
        snprintf(path, sizeof(path), "/resize?width=50&type=auto&url=http://localhost:%d/a.jpg", oport);
        get(&s, path, "Accept: image/webp", NULL, &r);
        is_int(r.status, 200, "type=auto, Accept webp: 200");
        t_header(&r, "etag", e1, sizeof(e1));
        ok(t_header(&r, "vary", v, sizeof(v)) && strstr(v, "Accept"), "Vary: Accept");
        tresp_free(&r);
        get(&s, path, "Accept: image/png", NULL, &r);
        t_header(&r, "etag", e2, sizeof(e2));
        ok(e1[0] && e2[0] && strcmp(e1, e2) != 0, "another Accept, another ETag (%s / %s)", e1, e2);
        tresp_free(&r);
        snprintf(inm, sizeof(inm), "If-None-Match: %s", e1);
        get(&s, path, "Accept: image/png", inm, &r);
        is_int(r.status, 200, "the webp ETag does not validate the png answer");
        tresp_free(&r);
        get(&s, path, "Accept: image/webp", inm, &r);
        is_int(r.status, 304, "but validates the webp one");
        ok(t_header(&r, "vary", v, sizeof(v)) && strstr(v, "Accept"), "304 keeps Vary: Accept");
        tresp_free(&r);
    }

    /* allowlist, redirects, upstream failures */
    snprintf(path, sizeof(path), "/resize?width=100&url=http://127.0.0.1:%d/a.jpg", oport);
    get(&s, path, NULL, NULL, &r);
    check_error(&r, 403, "origin_not_allowed", "host not allow-listed");
    ok(t_header(&r, "cache-control", v, sizeof(v)) && strcmp(v, "no-store") == 0, "errors are no-store");
    tresp_free(&r);
    get(&s, "/resize?width=100&url=http://evil.test/a.jpg", NULL, NULL, &r);
    check_error(&r, 403, "origin_not_allowed", "another host");
    tresp_free(&r);
    snprintf(path, sizeof(path), "/resize?width=100&url=http://localhost:%d@evil.test/a.jpg", oport);
    get(&s, path, NULL, NULL, &r);
    check_error(&r, 400, "invalid_url", "userinfo trick");
    tresp_free(&r);
    snprintf(path, sizeof(path), "/resize?width=100&url=ftp://localhost:%d/a.jpg", oport);
    get(&s, path, NULL, NULL, &r);
    check_error(&r, 400, "invalid_url", "ftp://");
    tresp_free(&r);
    get(&s, "/resize?width=100", NULL, NULL, &r);
    check_error(&r, 400, "missing_source", "GET with no url= or file=");
    ok(r.body && strstr(r.body, "Cannot process the image due to missing or invalid params"), "imaginary's message");
    tresp_free(&r);
    static const struct {
        const char *origin_path, *error, *what;
        long status;
    } up[] = {
        {"/redir-ok", NULL, "redirect to the listed origin (1 hop of 2)", 200},
        {"/redir-ip", "origin_not_allowed", "redirect to an address the allowlist does not name: re-checked", 403},
        {"/redir-evil", "origin_not_allowed", "redirect to another host", 403},
        {"/redir-loop", "upstream_redirect", "more redirects than url-max-redirects", 502},
        {"/404", "upstream_status", "origin 404: the answer is 404 (imaginary)", 404},
        {"/500", "upstream_status", "origin 500: the answer is 500 (imaginary)", 500},
        {"/empty", "empty_image", "origin sends no bytes", 400},
        {"/big-cl", "payload_too_large", "origin announces 2 MiB, over max-body-bytes", 413},
        {"/big-stream", "payload_too_large", "origin streams 2 MiB without Content-Length", 413},
        {"/slow", "upstream_timeout", "origin sends 1 byte per 100 ms: url-timeout (1 s)", 504},
    };
    for (size_t i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
        double t0 = t_now();
        snprintf(path, sizeof(path), "/resize?width=100&url=http://localhost:%d%s", oport, up[i].origin_path);
        get(&s, path, NULL, NULL, &r);
        if (up[i].error == NULL)
            expect_image(&r, 100, 75, up[i].what);
        else
            check_error(&r, up[i].status, up[i].error, up[i].what);
        if (strcmp(up[i].origin_path, "/slow") == 0)
            ok(r.code == CURLE_OK && t_now() - t0 < 8.0, "the 504 comes before the client's 10 s timeout (%.1f s)", t_now() - t0);
        tresp_free(&r);
    }
    is_int(source_reads(&s, "upstream_timeout"), 1, "/metrics: one url= read timed out");
    is_int(source_reads(&s, "payload_too_large"), 2, "/metrics: two url= reads over max-body-bytes");
    is_int(source_reads(&s, "upstream_status"), 2, "/metrics: two url= reads got an error status");
    is_int(source_reads(&s, "upstream_redirect"), 1, "/metrics: one url= read ended in a redirect loop");
    is_int(source_reads(&s, "origin_not_allowed"), 2, "/metrics: two redirects to hosts not allowed (checked on the fetch thread)");
    ok(source_reads(&s, "ok") >= 5, "/metrics: the url= reads that worked (%ld)", source_reads(&s, "ok"));

    /* a client leaving during a fetch: the server stays up and answers the next request */
    snprintf(path, sizeof(path), "/resize?width=100&url=http://localhost:%d/slow", oport);
    {
        treq q1 = {.timeout_ms = 200}, q2 = {.timeout_ms = 200, .http2 = 1};
        t_do(curl, &s, path, &q1, &r);
        ok(r.code == CURLE_OPERATION_TIMEDOUT, "HTTP/1 client gave up during the fetch");
        tresp_free(&r);
        t_do(curl, &s, path, &q2, &r);
        ok(r.code == CURLE_OPERATION_TIMEDOUT, "HTTP/2 client gave up during the fetch");
        tresp_free(&r);
        usleep(1500000); /* past url-timeout: both fetches are over */
        is_int(t_get(&s, "/health", &r), 200, "server still answers after clients left mid-fetch");
        tresp_free(&r);
    }

    /* file= */
    get(&s, "/resize?width=100&file=a.jpg", NULL, NULL, &r);
    expect_image(&r, 100, 75, "file=a.jpg");
    ok(t_header(&r, "cache-control", v, sizeof(v)) && strstr(v, "max-age=120"), "file= answers carry Cache-Control");
    tresp_free(&r);
    get(&s, "/resize?width=100&file=sub%2Fb.jpg", NULL, NULL, &r);
    expect_image(&r, 100, 75, "file=sub/b.jpg");
    tresp_free(&r);
    static const char *const badfiles[] = {"../x",      "sub/../../etc/passwd", "/etc/passwd", "%2Fetc%2Fpasswd", "link-out/secret",
                                           "link-file", "missing.jpg",          "sub"};
    for (size_t i = 0; i < sizeof(badfiles) / sizeof(badfiles[0]); i++) {
        snprintf(path, sizeof(path), "/resize?width=100&file=%s", badfiles[i]);
        get(&s, path, NULL, NULL, &r);
        check_error(&r, 400, "invalid_file_path", badfiles[i]);
        tresp_free(&r);
    }
    snprintf(path, sizeof(path), "/resize?width=100&file=a.jpg&url=http://localhost:%d/a.jpg", oport);
    get(&s, path, NULL, NULL, &r);
    check_error(&r, 400, "bad_parameter", "url= and file= together");
    tresp_free(&r);
    get(&s, "/transform?w=40&file=a.jpg", NULL, NULL, &r);
    expect_image(&r, 40, 30, "transform takes file= (not an unknown parameter)");
    tresp_free(&r);
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);
}

static void test_private_refused(void)
{
    tsrv s;
    tresp r;
    char allowed[128], path[512];
    snprintf(allowed, sizeof(allowed), "http://localhost:%d,http://127.0.0.1:%d", oport, oport);
    const char *args[] = {"--enable-url-source", "on", "--allowed-origins", allowed, NULL};
    if (!ok(tsrv_start(&s, args, (const char *const[]){"IMGPIPE_LOG_LEVEL=warn", NULL}) == 0,
            "server without allow-private-sources"))
        return;
    snprintf(path, sizeof(path), "/resize?width=100&url=http://localhost:%d/a.jpg", oport);
    get(&s, path, NULL, NULL, &r);
    check_error(&r, 403, "private_address", "allow-listed localhost resolving to 127.0.0.1");
    ok(r.body && strstr(r.body, "127.0.0.1") && strstr(r.body, "loopback"), "the message names the address and why");
    tresp_free(&r);
    snprintf(path, sizeof(path), "/resize?width=100&url=http://127.0.0.1:%d/a.jpg", oport);
    get(&s, path, NULL, NULL, &r);
    check_error(&r, 403, "private_address", "allow-listed 127.0.0.1");
    tresp_free(&r);
    get(&s, "/resize?width=100&file=a.jpg", NULL, NULL, &r);
    check_error(&r, 400, "missing_source", "file= without mount");
    tresp_free(&r);
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);
}

static void test_signature_and_off(void)
{
    tsrv s;
    tresp r;
    char allowed[128], path[1024], query[512], sig[128];
    const char *key = "0123456789abcdef0123456789abcdef";
    snprintf(allowed, sizeof(allowed), "http://localhost:%d", oport);
    const char *args[] = {"--enable-url-source",
                          "on",
                          "--allowed-origins",
                          allowed,
                          "--allow-private-sources",
                          "on",
                          "--url-signature-key",
                          key,
                          NULL};
    if (!ok(tsrv_start(&s, args, (const char *const[]){"IMGPIPE_LOG_LEVEL=warn", NULL}) == 0, "server with URL signatures"))
        return;
    snprintf(query, sizeof(query), "url=http%%3A%%2F%%2Flocalhost%%3A%d%%2Fa.jpg&width=100", oport);
    ok(svc_auth_sign(key, "/resize", 7, query, strlen(query), sig, sizeof(sig)) == 0, "sign a url= query");
    snprintf(path, sizeof(path), "/resize?%s&sign=%s", query, sig);
    get(&s, path, NULL, NULL, &r);
    expect_image(&r, 100, 75, "signed url=");
    tresp_free(&r);
    snprintf(path, sizeof(path), "/resize?url=http%%3A%%2F%%2Flocalhost%%3A%d%%2F404&width=100&sign=%s", oport, sig);
    get(&s, path, NULL, NULL, &r);
    check_error(&r, 403, "signature_mismatch", "the signature of one url= does not cover another");
    tresp_free(&r);
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);

    /* sources off: GET is 405 as before; enable-url-source without allowed-origins does not start */
    if (tsrv_start(&s, NULL, (const char *const[]){"IMGPIPE_LOG_LEVEL=warn", NULL}) == 0) {
        snprintf(path, sizeof(path), "/resize?width=100&url=http://localhost:%d/a.jpg", oport);
        get(&s, path, NULL, NULL, &r);
        check_error(&r, 405, "method_not_allowed", "GET with sources off");
        tresp_free(&r);
        tsrv_stop(&s, 20);
        tsrv_cleanup(&s);
    }
    const char *lone[] = {"--enable-url-source", "on", NULL};
    ok(tsrv_start(&s, lone, (const char *const[]){"IMGPIPE_LOG_LEVEL=warn", NULL}) != 0,
       "enable-url-source alone refuses to start");
    tsrv_cleanup(&s);
}

int main(void)
{
    char dir[] = "/tmp/imgpipe-srcmount-XXXXXX", p[600], q[600];
    vips_init("test_http_sources");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    jpg = t_slurp(tap_fixture("photos/FreshFlower-1600x1203.jpg"), &jpg_len);
    if (jpg == NULL || jpg_len == 0 || origin_start() != 0 || mkdtemp(dir) == NULL) {
        ok(0, "fixture, origin server and mount folder");
        return tap_done();
    }
    /* the mount: a.jpg, sub/b.jpg, a symlink to a folder outside and one to a file outside */
    snprintf(p, sizeof(p), "%s/sub", dir);
    mkdir(p, 0755);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), i ? "%s/sub/b.jpg" : "%s/a.jpg", dir);
        FILE *f = fopen(p, "wb");
        if (f) {
            fwrite(jpg, 1, jpg_len, f);
            fclose(f);
        }
    }
    snprintf(p, sizeof(p), "%s/link-out", dir);
    if (symlink("/etc", p) != 0)
        diag("symlink: %s", strerror(errno));
    snprintf(p, sizeof(p), "%s/link-file", dir);
    snprintf(q, sizeof(q), "%s/a.jpg", dir);
    if (symlink(q, p) != 0)
        diag("symlink: %s", strerror(errno));

    test_url_source(dir);
    test_private_refused();
    test_signature_and_off();

    snprintf(p, sizeof(p), "rm -rf '%s'", dir);
    if (system(p) != 0)
        diag("could not remove %s", dir);
    curl_easy_cleanup(curl);
    free(jpg);
    return tap_done();
}
