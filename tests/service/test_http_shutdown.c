/*
 * test_http_shutdown: graceful shutdown and fatal signals of `imgpipe serve`.
 *   - SIGTERM while a request is being processed: the request still gets its full answer,
 *     /ready answers 503 on a connection that was already open, new connections are refused,
 *     and the process exits 0;
 *   - SIGINT on an idle server: exit 0;
 *   - SIGSEGV: the crash handler writes the signal, the last request id and a backtrace to
 *     stderr, then dies of the signal.
 */
#include <netinet/in.h>

#include "svc_test.h"

static char *big;
static size_t big_len;

/* Send a GET on an open socket and read one response (headers + Content-Length body). */
static int raw_get(int fd, const char *path, char *out, size_t outlen)
{
    char req[256];
    size_t len = 0;
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (write(fd, req, (size_t)n) != n)
        return -1;
    out[0] = '\0';
    while (len < outlen - 1) {
        ssize_t r = read(fd, out + len, outlen - 1 - len);
        char *hend, *cl;
        if (r <= 0)
            break;
        len += (size_t)r;
        out[len] = '\0';
        if ((hend = strstr(out, "\r\n\r\n")) != NULL && (cl = strcasestr(out, "content-length:")) != NULL &&
            len >= (size_t)(hend + 4 - out) + (size_t)atol(cl + 15))
            break;
    }
    return len > 0 ? 0 : -1;
}

static void test_sigterm_inflight(void)
{
    tsrv s;
    static const char *const args[] = {"--workers", "1", NULL};
    CURLM *m;
    CURL *c;
    tresp r;
    int running = 1, keep, st;
    char url[128], buf[4096];
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server starts"))
        return;
    keep = t_connect(s.port);
    ok(keep >= 0 && raw_get(keep, "/ready", buf, sizeof(buf)) == 0 && strstr(buf, " 200 "), "keep-alive connection: /ready 200");

    memset(&r, 0, sizeof(r));
    snprintf(url, sizeof(url), "%s/blur?sigma=25", s.base);
    m = curl_multi_init();
    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, big);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)big_len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, t_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, t_header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_multi_add_handle(m, c);
    /* let the request reach the worker */
    for (double end = t_now() + 0.4; t_now() < end;) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    ok(running, "slow request still running when SIGTERM is sent");
    kill(s.pid, SIGTERM);
    for (double end = t_now() + 0.3; t_now() < end;) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    /* draining: the already-open connection sees /ready 503 (or was closed by the shutdown) */
    if (raw_get(keep, "/ready", buf, sizeof(buf)) == 0 && buf[0])
        ok(strstr(buf, " 503 ") && strstr(buf, "draining"), "/ready on an open connection: 503 draining");
    else
        ok(1, "# the idle keep-alive connection was closed by the shutdown instead");
    close(keep);
    ok(t_connect(s.port) < 0, "new connections are refused while draining");
    for (double end = t_now() + 30; running && t_now() < end;) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    {
        char fmt[16];
        int w = 0, h = 0;
        is_int(r.status, 200, "in-flight request finished after SIGTERM: 200");
        int dec = t_decode(&r, fmt, sizeof(fmt), &w, &h);
        ok(dec == 0 && w == 2048 && h == 1536, "and its image is complete (%dx%d)", w, h);
    }
    curl_multi_remove_handle(m, c);
    curl_easy_cleanup(c);
    curl_multi_cleanup(m);
    tresp_free(&r);
    st = tsrv_wait(&s, 20); /* already signalled: a second SIGTERM would mean "exit now" */
    is_int(st, 0, "exit status 0 after the drain");
    {
        size_t len;
        char *err = t_slurp(s.err_path, &len);
        ok(err && strstr(err, "draining"), "stderr logs the drain");
        ok(err && strstr(err, "exit 0"), "stderr logs the clean exit");
        free(err);
    }
    tsrv_cleanup(&s);
}

static void test_sigint(void)
{
    tsrv s;
    int st = -1;
    if (!ok(tsrv_start(&s, NULL, NULL) == 0, "server starts (SIGINT case)"))
        return;
    kill(s.pid, SIGINT);
    for (double end = t_now() + 10; t_now() < end;) {
        int w;
        if (waitpid(s.pid, &w, WNOHANG) == s.pid) {
            st = WIFEXITED(w) ? WEXITSTATUS(w) : 128 + WTERMSIG(w);
            s.pid = 0;
            break;
        }
        usleep(20000);
    }
    is_int(st, 0, "SIGINT: exit 0");
    tsrv_cleanup(&s);
}

static void test_crash_handler(void)
{
    tsrv s;
    tresp r;
    int st = -1;
    static const char *const env[] = {"IMGPIPE_LOG_LEVEL=error", NULL};
    if (!ok(tsrv_start(&s, NULL, env) == 0, "server starts (crash case)"))
        return;
    t_get(&s, "/health", &r); /* a request id to report */
    tresp_free(&r);
    kill(s.pid, SIGSEGV);
    for (double end = t_now() + 10; t_now() < end;) {
        int w;
        if (waitpid(s.pid, &w, WNOHANG) == s.pid) {
            st = WIFSIGNALED(w) ? WTERMSIG(w) : -WEXITSTATUS(w);
            s.pid = 0;
            break;
        }
        usleep(20000);
    }
    is_int(st, SIGSEGV, "SIGSEGV: the process dies of the signal (re-raised)");
    {
        size_t len;
        char *err = t_slurp(s.err_path, &len);
        ok(err && strstr(err, "fatal signal SIGSEGV"), "stderr names the signal");
        ok(err && strstr(err, "last_request_id\":\"") && !strstr(err, "last_request_id\":\"\""), "stderr has the last request id");
        ok(err && strstr(err, "backtrace:") && strstr(err, "imgpipe"), "stderr has a backtrace");
        free(err);
    }
    tsrv_cleanup(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (VIPS_INIT("test_http_shutdown"))
        return 1;
    signal(SIGPIPE, SIG_IGN);
    big = t_slurp(tap_fixture("edge/alpha-blackbug.png"), &big_len);
    if (!ok(big != NULL, "fixture loads"))
        return tap_done();
    test_sigterm_inflight();
    test_sigint();
    test_crash_handler();
    free(big);
    curl_global_cleanup();
    return tap_done();
}
