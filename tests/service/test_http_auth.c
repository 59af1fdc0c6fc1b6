/*
 * test_http_auth: the security settings of `imgpipe serve` wired into the routes: API keys
 * (header, Bearer, key=; 401 on image routes, /, /health and unknown paths; /ready open), the
 * metrics listener (only /metrics, /health, /ready; no key), CORS headers and preflight, URL
 * signatures (missing 400, wrong 403, right 200) and TLS with HTTP/2 by ALPN (skipped when the
 * openssl command is not installed).
 */
#include "svc_auth.h"
#include "svc_test.h"

static char *jpg;
static size_t jpg_len;
static CURL *curl;

static long post_status(const tsrv *s, const char *path, const char *h1, const char *h2, tresp *r)
{
    treq q = {.method = "POST", .body = jpg, .body_len = jpg_len, .headers = {h1, h2}};
    t_do(curl, s, path, &q, r);
    return r->status;
}

static void test_keys_cors_metrics(void)
{
    tsrv s, ms;
    tresp r;
    char mlisten[64], v[256];
    int mport = t_free_port();
    snprintf(mlisten, sizeof(mlisten), "127.0.0.1:%d", mport);
    const char *args[] = {"--api-keys", "k1,k2", "--cors-origins", "https://app.example", "--metrics-listen", mlisten, NULL};
    if (!ok(tsrv_start(&s, args, (const char *const[]){"IMGPIPE_LOG_LEVEL=warn", NULL}) == 0, "server with keys starts"))
        return;
    is_int(post_status(&s, "/resize?width=10", NULL, NULL, &r), 401, "no key: 401");
    ok(r.body && strstr(r.body, "\"error\":\"unauthorized\""), "401 body names the error");
    tresp_free(&r);
    is_int(post_status(&s, "/resize?width=10", "API-Key: k2", NULL, &r), 200, "API-Key header (second key): 200");
    tresp_free(&r);
    is_int(post_status(&s, "/resize?width=10", "Authorization: Bearer k1", NULL, &r), 200, "Authorization: Bearer: 200");
    tresp_free(&r);
    is_int(post_status(&s, "/resize?width=10&key=k1", NULL, NULL, &r), 200, "key= query: 200");
    tresp_free(&r);
    is_int(post_status(&s, "/resize?width=10", "API-Key: nope", NULL, &r), 401, "wrong key: 401");
    tresp_free(&r);
    is_int(t_get(&s, "/health", &r), 401, "/health needs the key (as imaginary)");
    tresp_free(&r);
    is_int(t_get(&s, "/nope", &r), 401, "unknown path without key: 401 (as imaginary)");
    tresp_free(&r);
    is_int(t_get(&s, "/ready", &r), 200, "/ready is open (probes)");
    tresp_free(&r);

    /* CORS */
    post_status(&s, "/resize?width=10", "API-Key: k1", "Origin: https://app.example", &r);
    ok(t_header(&r, "access-control-allow-origin", v, sizeof(v)) && strcmp(v, "https://app.example") == 0,
       "allowed origin echoed in Access-Control-Allow-Origin");
    ok(t_header(&r, "access-control-expose-headers", v, sizeof(v)) && strstr(v, "Image-Width"), "Image-Width exposed to scripts");
    tresp_free(&r);
    post_status(&s, "/resize?width=10", "API-Key: k1", "Origin: https://evil.example", &r);
    ok(t_header(&r, "access-control-allow-origin", v, sizeof(v)) == NULL, "other origin: no CORS header");
    tresp_free(&r);
    {
        treq q = {.method = "OPTIONS", .headers = {"Origin: https://app.example", "Access-Control-Request-Method: POST"}};
        t_do(curl, &s, "/resize?width=10", &q, &r);
        is_int(r.status, 204, "preflight from an allowed origin: 204");
        ok(t_header(&r, "access-control-allow-methods", v, sizeof(v)) && strstr(v, "POST"), "preflight allows POST");
        ok(t_header(&r, "access-control-allow-headers", v, sizeof(v)) && strstr(v, "API-Key"), "preflight allows API-Key");
        tresp_free(&r);
        q.headers[0] = "Origin: https://evil.example";
        t_do(curl, &s, "/resize?width=10", &q, &r);
        is_int(r.status, 405, "preflight from another origin: 405 (as imaginary)");
        tresp_free(&r);
    }

    /* metrics listener: a second address with only the operational routes, no key */
    memset(&ms, 0, sizeof(ms));
    ms.port = mport;
    snprintf(ms.base, sizeof(ms.base), "http://127.0.0.1:%d", mport);
    is_int(t_get(&ms, "/metrics", &r), 200, "metrics-listen: /metrics 200 without key");
    ok(r.body && strstr(r.body, "imgpipe_requests_total"), "metrics-listen: Prometheus text");
    tresp_free(&r);
    is_int(t_get(&ms, "/health", &r), 200, "metrics-listen: /health 200 without key");
    tresp_free(&r);
    is_int(post_status(&ms, "/resize?width=10", "API-Key: k1", NULL, &r), 404, "metrics-listen: image routes are not there");
    tresp_free(&r);
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);
}

static void test_signature(void)
{
    tsrv s;
    tresp r;
    char sig[128], path[512];
    static const char *const key = "0123456789abcdef0123456789abcdef-signing";
    const char *args[] = {"--url-signature-key", key, NULL};
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server with URL signatures starts"))
        return;
    is_int(post_status(&s, "/resize?width=10", NULL, NULL, &r), 403, "no sign=: 403 (imaginary: empty signature mismatches)");
    tresp_free(&r);
    is_int(post_status(&s, "/resize?width=10&sign=abc=", NULL, NULL, &r), 400, "padded sign=: 400");
    tresp_free(&r);
    ok(svc_auth_sign(key, "/resize", 7, "width=10", 8, sig, sizeof(sig)) == 0, "sign /resize?width=10");
    snprintf(path, sizeof(path), "/resize?width=10&sign=%s", sig);
    is_int(post_status(&s, path, NULL, NULL, &r), 200, "right signature: 200");
    tresp_free(&r);
    snprintf(path, sizeof(path), "/resize?width=11&sign=%s", sig);
    is_int(post_status(&s, path, NULL, NULL, &r), 403, "signature of another query: 403");
    tresp_free(&r);
    is_int(t_get(&s, "/health", &r), 200, "/health is not signed");
    tresp_free(&r);
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);
}

static void test_tls(void)
{
    tsrv s;
    tresp r;
    char cmd[1024], dir[] = "/tmp/imgpipe-tls-XXXXXX", cert[128], keyf[128];
    if (access("/usr/bin/openssl", X_OK) != 0) {
        tap_skip(5, "openssl command not installed: no certificate for the TLS test");
        return;
    }
    if (mkdtemp(dir) == NULL) {
        ok(0, "temp dir");
        return;
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(keyf, sizeof(keyf), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout %s -out %s >/dev/null 2>&1", keyf,
             cert);
    if (!ok(system(cmd) == 0, "self-signed certificate made"))
        return;
    const char *args[] = {"--tls-cert", cert, "--tls-key", keyf, NULL};
    if (ok(tsrv_start(&s, args, NULL) == 0, "TLS server starts")) {
        treq q = {.method = "POST", .body = jpg, .body_len = jpg_len, .http2 = 1};
        char fmt[16];
        int w = 0, h = 0;
        t_do(curl, &s, "/resize?width=64", &q, &r);
        is_int(r.http_version, CURL_HTTP_VERSION_2_0, "HTTPS: HTTP/2 chosen by ALPN");
        int dec = t_decode(&r, fmt, sizeof(fmt), &w, &h);
        ok(r.status == 200 && dec == 0 && w == 64, "HTTPS resize: 200, width 64 (%ld, %d)", r.status, w);
        tresp_free(&r);
        is_int(tsrv_stop(&s, 20), 0, "exit 0");
    }
    tsrv_cleanup(&s);
    unlink(cert);
    unlink(keyf);
    rmdir(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (VIPS_INIT("test_http_auth"))
        return 1;
    jpg = t_slurp(tap_fixture("imaginary/imaginary.jpg"), &jpg_len);
    if (!ok(jpg != NULL, "fixture loads"))
        return tap_done();
    curl = curl_easy_init();
    test_keys_cors_metrics();
    test_signature();
    test_tls();
    curl_easy_cleanup(curl);
    free(jpg);
    curl_global_cleanup();
    return tap_done();
}
