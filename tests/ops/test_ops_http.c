/*
 * test_ops_http: the ops modules inside a running `imgpipe serve` (suite http).
 *  1. open server: GET /metrics parses as Prometheus text, its counters move with real requests
 *     (resize 200s, a 400, a 404, stage histograms, bytes), gauges show the configured pool;
 *     GET /openapi.json is the OpenAPI document.
 *  2. locked server (--api-keys, --url-signature-key, --cors-origins): keys by header, Bearer and
 *     key=; signed URLs accepted, mismatched/padded/expired refused with imaginary's statuses;
 *     CORS origin echoed only for a listed origin; /ready and /metrics open, /health locked.
 * Servers bind 127.0.0.1 on a free port, are waited for at most 10 s and are stopped with SIGTERM
 * (exit status checked). Env: IMGPIPE_BIN, IMGPIPE_FIXTURES.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prom_check.h"
#include "tap.h"

#define SKEY "0123456789abcdef0123456789abcdef"
/* computed with openssl over "/resizeheight=200&type=webp&width=300" (see test_auth.c) */
#define SIG1 "qpdKayqe3lXzmsTsiBXQyIjUriicxT4AXo7WrWbXpD4"
/* over "/resizeexpires=1000000000&width=10" (2001) */
#define SIG_PAST "hYdA6evvb_xI3G5htu_RDJ1NAW0FFO3AJ8pJ1xftMPQ"

typedef struct server {
    pid_t pid;
    int port;
} server;

typedef struct resp {
    long status;
    char *body;
    size_t len;
    char headers[4096];
    size_t hlen;
} resp;

static char *image;
static size_t image_len;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    resp *r = arg;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, sz * n);
    r->body = nb;
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    resp *r = arg;
    size_t k = sz * n;
    if (r->hlen + k < sizeof(r->headers)) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = '\0';
    }
    return k;
}

/* One request to the server; body NULL = GET. hdrs: NULL-terminated "Name: value" list. */
static int request(const server *s, const char *path, const char *const *hdrs, const char *body, size_t body_len, resp *r)
{
    char url[512];
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    for (; hdrs && *hdrs; hdrs++)
        h = curl_slist_append(h, *hdrs);
    if (body) {
        h = curl_slist_append(h, "Content-Type: image/jpeg");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

static long status_of(const server *s, const char *path, const char *const *hdrs, int post)
{
    resp r;
    if (request(s, path, hdrs, post ? image : NULL, post ? image_len : 0, &r) != 0)
        return -1;
    free(r.body);
    return r.status;
}

/* Value of a response header (case-insensitive name), copied into out; "" when absent. */
static const char *header_value(const resp *r, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = r->headers; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)vl, v);
            break;
        }
    }
    return out;
}

static int start(server *s, const char *const *extra)
{
    const char *bin = getenv("IMGPIPE_BIN");
    char listen[64];
    const char *argv[32] = {"imgpipe", "serve", "--listen", listen, "--workers", "1", "--access-log", "off"};
    int argc = 8;
    for (; extra && *extra && argc < 30; extra++)
        argv[argc++] = *extra;
    argv[argc] = NULL;
    s->port = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
    if (!bin || s->port < 0)
        return -1;
    s->pid = fork();
    if (s->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* 10 s */
        if (status_of(s, "/ready", NULL, 0) == 200)
            return 0;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = -1;
            return -1;
        }
        usleep(100000);
    }
    return -1;
}

/* SIGTERM, then wait at most 20 s. Returns the exit status, or -1. */
static int stop(server *s)
{
    int st = 0;
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(100000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    return -1;
}

static prom P;

static double metric(const server *s, const char *name, const char *labels)
{
    resp r;
    double v = -2;
    if (request(s, "/metrics", NULL, NULL, 0, &r) == 0 && r.status == 200 && prom_parse(&P, r.body, r.len) == 0) {
        v = prom_get(&P, name, labels);
        if (v < 0)
            v = 0; /* absent series = 0 */
    }
    free(r.body);
    return v;
}

static void test_open(void)
{
    server s;
    if (!ok(start(&s, NULL) == 0, "imgpipe serve starts and /ready answers 200")) {
        tap_skip(1, "no server");
        return;
    }
    resp r;
    char ct[256];
    ok(request(&s, "/metrics", NULL, NULL, 0, &r) == 0 && r.status == 200, "GET /metrics: 200");
    ok(strncmp(header_value(&r, "content-type", ct, sizeof(ct)), "text/plain; version=0.0.4", 25) == 0,
       "Content-Type text/plain; version=0.0.4 (%s)", ct);
    int parsed = r.body && prom_parse(&P, r.body, r.len) == 0;
    if (!ok(parsed, "/metrics parses as Prometheus text"))
        diag("%s", P.err);
    free(r.body);

    double r200 = metric(&s, "imgpipe_requests_total", "route=\"resize\",status=\"200\"");
    double r400 = metric(&s, "imgpipe_requests_total", "route=\"resize\",status=\"400\"");
    double nf = metric(&s, "imgpipe_requests_total", "route=\"not_found\",status=\"404\"");
    double cnt = metric(&s, "imgpipe_request_duration_seconds_count", "");
    double dec = metric(&s, "imgpipe_stage_duration_seconds_count", "stage=\"decode\"");
    double bin = metric(&s, "imgpipe_bytes_received_total", "");
    double bout = metric(&s, "imgpipe_bytes_sent_total", "");
    is_int(r200, 0, "no resize yet");

    for (int i = 0; i < 3; i++)
        is_int(status_of(&s, "/resize?width=100", NULL, 1), 200, "POST /resize?width=100 #%d: 200", i + 1);
    is_int(status_of(&s, "/resize?width=abc", NULL, 1), 400, "POST /resize?width=abc: 400");
    is_int(status_of(&s, "/no-such-route", NULL, 0), 404, "GET /no-such-route: 404");

    is_int(metric(&s, "imgpipe_requests_total", "route=\"resize\",status=\"200\"") - r200, 3, "resize 200 counter +3");
    is_int(metric(&s, "imgpipe_requests_total", "route=\"resize\",status=\"400\"") - r400, 1, "resize 400 counter +1");
    is_int(metric(&s, "imgpipe_requests_total", "route=\"not_found\",status=\"404\"") - nf, 1, "not_found 404 counter +1");
    ok(metric(&s, "imgpipe_request_duration_seconds_count", "") - cnt >= 5, "request histogram counted the 5 requests");
    is_int(metric(&s, "imgpipe_stage_duration_seconds_count", "stage=\"decode\"") - dec, 3, "decode stage observed 3 times");
    ok(metric(&s, "imgpipe_bytes_received_total", "") - bin >= 4.0 * image_len, "bytes received grew by the 4 bodies");
    ok(metric(&s, "imgpipe_bytes_sent_total", "") - bout > 3 * 100, "bytes sent grew");
    is_int(metric(&s, "imgpipe_workers", ""), 1, "imgpipe_workers = --workers 1");
    ok(metric(&s, "imgpipe_queue_capacity", "") >= 1, "queue capacity reported");
    ok(metric(&s, "process_resident_memory_bytes", "") > 1e6, "process RSS reported");
    ok(metric(&s, "imgpipe_worker_processes_resident_bytes", "") > 1e6, "worker process RSS reported after decoding");
    is_int(metric(&s, "imgpipe_worker_exits_total", "reason=\"crashed\""), 0, "no worker process crashed");

    ok(request(&s, "/openapi.json", NULL, NULL, 0, &r) == 0 && r.status == 200, "GET /openapi.json: 200");
    json_t *doc = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    ok(doc && json_object_get(json_object_get(json_object_get(doc, "paths"), "/resize"), "post") &&
           strncmp(json_string_value(json_object_get(doc, "openapi")), "3.0.", 4) == 0,
       "the served document is OpenAPI 3.0 with POST /resize");
    json_decref(doc);
    free(r.body);
    is_int(stop(&s), 0, "SIGTERM: exit status 0");
}

static void test_locked(void)
{
    server s;
    const char *const args[] = {
        "--api-keys", "old-key,new-key", "--url-signature-key", SKEY, "--cors-origins", "https://app.example", NULL};
    if (!ok(start(&s, args) == 0, "imgpipe serve with keys, signatures and CORS starts")) {
        tap_skip(1, "no server");
        return;
    }
    const char *const key_hdr[] = {"API-Key: new-key", NULL};
    const char *const bearer[] = {"Authorization: Bearer old-key", NULL};
    const char *const bad_key[] = {"API-Key: nope", NULL};
    const char *good = "/resize?width=300&height=200&type=webp&sign=" SIG1;
    is_int(status_of(&s, good, key_hdr, 1), 200, "signed URL + API-Key header: 200");
    is_int(status_of(&s, "/resize?type=webp&sign=" SIG1 "&height=200&width=300", bearer, 1), 200,
           "signed URL in another order + Bearer: 200");
    is_int(status_of(&s, good, NULL, 1), 401, "signed URL without a key: 401");
    is_int(status_of(&s, good, bad_key, 1), 401, "signed URL with a wrong key: 401");
    is_int(status_of(&s, "/resize?width=301&height=200&type=webp&sign=" SIG1, key_hdr, 1), 403, "changed parameter: 403");
    is_int(status_of(&s, "/resize?width=300&height=200&type=webp", key_hdr, 1), 403, "no sign: 403 (as imaginary)");
    is_int(status_of(&s, "/resize?width=300&height=200&type=webp&sign=" SIG1 "=", key_hdr, 1), 400, "padded sign: 400");
    is_int(status_of(&s, "/resize?width=10&expires=1000000000&sign=" SIG_PAST, key_hdr, 1), 403, "expired signed URL: 403");
    is_int(status_of(&s, "/ready", NULL, 0), 200, "/ready needs no key");
    is_int(status_of(&s, "/metrics", NULL, 0), 200, "/metrics needs no key");
    is_int(status_of(&s, "/health", NULL, 0), 401, "/health needs the key (imaginary)");
    is_int(status_of(&s, "/health", key_hdr, 0), 200, "/health with the key: 200");

    resp r;
    char v[256];
    const char *const cors_ok[] = {"API-Key: new-key", "Origin: https://app.example", NULL};
    const char *const cors_bad[] = {"API-Key: new-key", "Origin: https://evil.example", NULL};
    request(&s, good, cors_ok, image, image_len, &r);
    is_str(header_value(&r, "access-control-allow-origin", v, sizeof(v)), "https://app.example",
           "listed Origin echoed in Access-Control-Allow-Origin");
    free(r.body);
    request(&s, good, cors_bad, image, image_len, &r);
    is_str(header_value(&r, "access-control-allow-origin", v, sizeof(v)), "", "unlisted Origin gets no CORS header");
    free(r.body);
    stop(&s);
}

int main(void)
{
    FILE *f = fopen(tap_fixture("photos/FreshFlower-1600x1203.jpg"), "rb");
    if (!f || !getenv("IMGPIPE_BIN")) {
        printf("1..0 # SKIP fixture or IMGPIPE_BIN missing\n");
        return 0;
    }
    fseek(f, 0, SEEK_END);
    image_len = (size_t)ftell(f);
    rewind(f);
    image = malloc(image_len);
    if (fread(image, 1, image_len, f) != image_len)
        image_len = 0;
    fclose(f);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_open();
    test_locked();
    curl_global_cleanup();
    free(image);
    return tap_done();
}
