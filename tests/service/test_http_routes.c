/*
 * test_http_routes: every route of `imgpipe serve` over real HTTP on 127.0.0.1: each operation
 * with a raw and a multipart upload (status, type and size decoded with libvips), Accept
 * negotiation and Vary, response headers, JSON errors (bad parameter, bad/empty/oversized body,
 * missing part, unknown route, wrong method), HTTP/2 with prior knowledge, the fixed routes
 * (/, /health, /ready, /metrics, /openapi.json) and the JSON access log.
 */
#include <jansson.h>

#include "svc_test.h"

static tsrv srv;
static CURL *curl;
static char *jpg, *png, *txt, *corrupt;
static size_t jpg_len, png_len, txt_len, corrupt_len;

/* POST bytes (raw or multipart) to path. */
static void post(const char *path, const char *data, size_t len, int multipart, const char *accept, tresp *r)
{
    treq q = {0};
    char hdr[256];
    if (multipart) {
        q.mp_file = data;
        q.mp_file_len = len;
    } else {
        q.body = data;
        q.body_len = len;
        q.content_type = "image/jpeg";
    }
    if (accept) {
        snprintf(hdr, sizeof(hdr), "Accept: %s", accept);
        q.headers[0] = hdr;
    }
    q.method = "POST";
    t_do(curl, &srv, path, &q, r);
}

/* Check a JSON error body: status, message non-empty, error name. */
static void check_error(const tresp *r, long status, const char *error, const char *name)
{
    json_error_t je;
    char ct[128];
    json_t *j = r->body ? json_loads(r->body, 0, &je) : NULL;
    is_int(r->status, status, "%s: HTTP status", name);
    ok(t_header(r, "content-type", ct, sizeof(ct)) && strcmp(ct, "application/json") == 0, "%s: JSON content type", name);
    ok(j && json_integer_value(json_object_get(j, "status")) == status, "%s: body status %ld", name, status);
    ok(j && json_string_length(json_object_get(j, "message")) > 0, "%s: body message: %s", name,
       j ? json_string_value(json_object_get(j, "message")) : "(no JSON)");
    if (error)
        ok(j && json_string_value(json_object_get(j, "error")) &&
               strcmp(json_string_value(json_object_get(j, "error")), error) == 0,
           "%s: error name %s", name, error);
    json_decref(j);
}

static void check_image(const tresp *r, const char *fmt, int w, int h, const char *name)
{
    char got[32], hv[64];
    int gw, gh;
    is_int(r->status, 200, "%s: 200", name);
    if (r->status != 200 && r->body)
        diag("body: %.300s", r->body);
    ok(t_decode(r, got, sizeof(got), &gw, &gh) == 0, "%s: body decodes", name);
    if (fmt)
        is_str(got, fmt, "%s: type", name);
    if (w > 0)
        is_int(gw, w, "%s: width", name);
    if (h > 0)
        is_int(gh, h, "%s: height", name);
    ok(t_header(r, "image-width", hv, sizeof(hv)) && atoi(hv) == gw, "%s: Image-Width matches", name);
    ok(t_header(r, "image-height", hv, sizeof(hv)) && atoi(hv) == gh, "%s: Image-Height matches", name);
}

static void test_operations(void)
{
    /* imaginary.jpg is 550x740 */
    static const struct {
        const char *path;
        const char *fmt;
        int w, h;
    } ops[] = {
        {"/resize?width=200", "jpeg", 200, 269},
        {"/enlarge?width=800&height=900", "jpeg", 800, 900},
        {"/extract?top=10&left=10&areawidth=100&areaheight=80", "jpeg", 100, 80},
        {"/crop?width=200&height=200", "jpeg", 200, 200},
        {"/smartcrop?width=150&height=150", "jpeg", 150, 150},
        {"/fit?width=300&height=300", "jpeg", 223, 300},
        {"/thumbnail?width=100", "jpeg", 100, 0},
        {"/zoom?factor=1", "jpeg", 1100, 1480},
        {"/rotate?rotate=90", "jpeg", 740, 550},
        {"/autorotate", "jpeg", 550, 740},
        {"/flip", "jpeg", 550, 740},
        {"/flop", "jpeg", 550, 740},
        {"/convert?type=png", "png", 550, 740},
        {"/blur?sigma=2", "jpeg", 550, 740},
        {"/watermark?text=imgpipe", "jpeg", 550, 740},
        {"/pipeline?operations=%5B%7B%22operation%22%3A%22crop%22%2C%22params%22%3A%7B%22width%22%3A100%2C%22height%22%3A90%7D%7D%"
         "2C%7B%22operation%22%3A%22convert%22%2C%22params%22%3A%7B%22type%22%3A%22webp%22%7D%7D%5D",
         "webp", 100, 90},
        {"/transform?width=120&type=webp", "webp", 120, 161},
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        for (int mp = 0; mp < 2; mp++) {
            tresp r;
            char name[300];
            snprintf(name, sizeof(name), "%s %s", mp ? "multipart" : "raw", ops[i].path);
            post(ops[i].path, jpg, jpg_len, mp, NULL, &r);
            check_image(&r, ops[i].fmt, ops[i].w, ops[i].h, name);
            tresp_free(&r);
        }
    }
    /* /info: JSON */
    for (int mp = 0; mp < 2; mp++) {
        tresp r;
        json_error_t je;
        post("/info", png, png_len, mp, NULL, &r);
        json_t *j = r.body ? json_loads(r.body, 0, &je) : NULL;
        is_int(r.status, 200, "%s /info: 200", mp ? "multipart" : "raw");
        ok(j && json_integer_value(json_object_get(j, "width")) == 600 && json_integer_value(json_object_get(j, "height")) == 400,
           "/info: 600x400");
        ok(j && json_string_value(json_object_get(j, "type")) && strcmp(json_string_value(json_object_get(j, "type")), "png") == 0,
           "/info: type png");
        json_decref(j);
        tresp_free(&r);
    }
    /* PNG in, application/octet-stream */
    {
        treq q = {.method = "POST", .body = png, .body_len = png_len, .content_type = "application/octet-stream"};
        tresp r;
        t_do(curl, &srv, "/resize?width=300", &q, &r);
        check_image(&r, "png", 300, 200, "octet-stream PNG keeps PNG");
        tresp_free(&r);
    }
    /* watermarkimage: overlay in part "image" */
    {
        treq q = {.method = "POST", .mp_file = jpg, .mp_file_len = jpg_len, .mp_image = png, .mp_image_len = png_len};
        tresp r;
        t_do(curl, &srv, "/watermarkimage?top=10&left=10", &q, &r);
        check_image(&r, "jpeg", 550, 740, "watermarkimage with part image");
        tresp_free(&r);
        post("/watermarkimage", jpg, jpg_len, 0, NULL, &r);
        check_error(&r, 400, "missing_parameter", "watermarkimage without overlay");
        tresp_free(&r);
    }
    /* the overlay part reaches /pipeline's watermarkImage steps and transform */
    {
        treq q = {.method = "POST", .mp_file = jpg, .mp_file_len = jpg_len, .mp_image = png, .mp_image_len = png_len};
        tresp r, plain;
        t_do(curl, &srv,
             "/pipeline?operations=%5B%7B%22operation%22%3A%22watermarkImage%22%2C%22params%22%3A%7B%22left%22%3A5%7D%7D%5D", &q,
             &r);
        check_image(&r, "jpeg", 550, 740, "pipeline watermarkImage with part image");
        tresp_free(&r);
        t_do(curl, &srv, "/transform?w=200&type=png", &q, &r);
        post("/transform?w=200&type=png", jpg, jpg_len, 1, NULL, &plain);
        ok(r.status == 200 && plain.status == 200 && (r.len != plain.len || memcmp(r.body, plain.body, r.len) != 0),
           "transform with part image: the overlay changes the output");
        tresp_free(&r);
        tresp_free(&plain);
    }
    /* an animation cut by frames=: Image-Frames out/in */
    {
        size_t gif_len = 0;
        char *gif = t_slurp(tap_fixture("edge/animated-rotating-squares.gif"), &gif_len);
        tresp r;
        char hv[64];
        post("/transform?w=40&frames=5", gif, gif_len, 0, NULL, &r);
        const char *fr = t_header(&r, "image-frames", hv, sizeof(hv));
        ok(r.status == 200 && fr != NULL && strcmp(fr, "5/30") == 0, "frames=5 of 30: Image-Frames: 5/30 (%s)", fr ? fr : "none");
        tresp_free(&r);
        post("/resize?width=40", jpg, jpg_len, 0, NULL, &r);
        ok(r.status == 200 && t_header(&r, "image-frames", hv, sizeof(hv)) == NULL, "a still image: no Image-Frames");
        tresp_free(&r);
        free(gif);
    }
    /* field= renames the part */
    {
        treq q = {.method = "POST", .mp_file = jpg, .mp_file_len = jpg_len, .mp_name = "upload"};
        tresp r;
        t_do(curl, &srv, "/resize?width=50&field=upload", &q, &r);
        check_image(&r, "jpeg", 50, 0, "field=upload");
        tresp_free(&r);
        t_do(curl, &srv, "/resize?width=50", &q, &r);
        check_error(&r, 400, "missing_file", "multipart without part file");
        ok(r.body && strstr(r.body, "http: no such file"), "imaginary's message for a missing part");
        tresp_free(&r);
    }
}

static void test_headers_and_negotiation(void)
{
    tresp r;
    char v[256], fmt[16];
    int w, h;
    post("/resize?width=100", jpg, jpg_len, 0, NULL, &r);
    ok(t_header(&r, "server-timing", v, sizeof(v)) && strstr(v, "queue;dur=") && strstr(v, "decode;dur=") &&
           strstr(v, "process;dur=") && strstr(v, "encode;dur="),
       "Server-Timing has the four stages: %s", v);
    ok(t_header(&r, "x-request-id", v, sizeof(v)) && strlen(v) >= 8, "X-Request-Id generated");
    ok(t_header(&r, "content-length", v, sizeof(v)) && (size_t)atol(v) == r.len, "Content-Length is the body length");
    ok(t_header(&r, "vary", v, sizeof(v)) == NULL, "no Vary without type=auto");
    tresp_free(&r);

    /* An error after the job ran carries the stages it reached; one refused before any stage carries none. */
    post("/extract?left=5000&top=5000&areawidth=100&areaheight=100", jpg, jpg_len, 0, NULL, &r);
    ok(r.status == 400 && t_header(&r, "server-timing", v, sizeof(v)) && strstr(v, "queue;dur="),
       "an error from the worker carries Server-Timing with its queue stage (%ld: %s)", r.status,
       t_header(&r, "server-timing", v, sizeof(v)) ? v : "none");
    ok(t_header(&r, "image-width", v, sizeof(v)) == NULL, "no Image-Width on an error");
    tresp_free(&r);
    {
        /* libvips warns about a truncated JPEG: the log line names the request (checked in test_access_log) */
        size_t tlen = 0;
        char *trunc = t_slurp(tap_fixture("bad/truncated-10000B.jpg"), &tlen);
        treq q = {.method = "POST", .body = trunc, .body_len = tlen, .headers = {"X-Request-Id: vips-warn-7"}};
        t_do(curl, &srv, "/resize?width=50", &q, &r);
        ok(r.status == 400, "a truncated JPEG: 400 (%ld)", r.status);
        tresp_free(&r);
        free(trunc);
    }
    post("/resize?width=abc", jpg, jpg_len, 0, NULL, &r);
    ok(r.status == 400 && t_header(&r, "server-timing", v, sizeof(v)) == NULL && t_header(&r, "x-request-id", v, sizeof(v)),
       "a parameter error (no stage reached) carries X-Request-Id and no Server-Timing (%ld)", r.status);
    tresp_free(&r);

    {
        treq q = {.method = "POST", .body = jpg, .body_len = jpg_len, .headers = {"X-Request-Id: test-id-42"}};
        t_do(curl, &srv, "/resize?width=100", &q, &r);
        ok(t_header(&r, "x-request-id", v, sizeof(v)) && strcmp(v, "test-id-42") == 0, "X-Request-Id passed through");
        tresp_free(&r);
    }
    post("/resize?width=100&type=auto", jpg, jpg_len, 0, "image/webp,*/*", &r);
    ok(t_decode(&r, fmt, sizeof(fmt), &w, &h) == 0 && strcmp(fmt, "webp") == 0, "type=auto + Accept webp -> webp");
    ok(t_header(&r, "vary", v, sizeof(v)) && strcasestr(v, "accept"), "Vary: Accept with type=auto");
    tresp_free(&r);
    post("/resize?width=100&type=auto", jpg, jpg_len, 0, "image/png", &r);
    ok(t_decode(&r, fmt, sizeof(fmt), &w, &h) == 0 && strcmp(fmt, "png") == 0, "type=auto + Accept png -> png");
    tresp_free(&r);
    post("/resize?type=auto", jpg, jpg_len, 0, "image/webp", &r);
    is_int(r.status, 400, "type=auto without width: 400");
    ok(t_header(&r, "vary", v, sizeof(v)) && strcasestr(v, "accept"), "Vary: Accept on the error too");
    tresp_free(&r);
}

static void test_errors(void)
{
    tresp r;
    char big_name[64];
    post("/resize", jpg, jpg_len, 0, NULL, &r);
    check_error(&r, 400, NULL, "resize without width");
    tresp_free(&r);
    post("/resize?width=abc", jpg, jpg_len, 0, NULL, &r);
    check_error(&r, 400, "bad_parameter", "width=abc");
    ok(r.body && strstr(r.body, "width"), "message names the parameter");
    tresp_free(&r);
    post("/resize?width=100", txt, txt_len, 0, NULL, &r);
    check_error(&r, 406, "unsupported_media_type", "text body on an imaginary route");
    tresp_free(&r);
    post("/transform?width=100", txt, txt_len, 0, NULL, &r);
    check_error(&r, 415, "unsupported_media_type", "text body on /transform");
    tresp_free(&r);
    post("/resize?width=100", corrupt, corrupt_len, 0, NULL, &r);
    ok(r.status == 400 || r.status == 406, "corrupt JPEG on /resize: 400/406 (got %ld)", r.status);
    check_error(&r, r.status, NULL, "corrupt JPEG");
    tresp_free(&r);
    post("/resize?width=100", "", 0, 0, NULL, &r);
    check_error(&r, 400, "empty_image", "empty body");
    ok(r.body && strstr(r.body, "Empty or unreadable image"), "imaginary's empty-body message");
    tresp_free(&r);
    {
        /* 3 MiB of zeros over the 2 MiB limit: h2o answers 413 itself */
        size_t n = 3 << 20;
        char *big = calloc(1, n);
        post("/resize?width=100", big, n, 0, NULL, &r);
        is_int(r.status, 413, "body over max-body-bytes: 413");
        free(big);
        tresp_free(&r);
    }
    {
        treq q = {.method = "POST", .body = "--x\r\nno", .body_len = 7, .content_type = "multipart/form-data; boundary=x"};
        t_do(curl, &srv, "/resize?width=10", &q, &r);
        check_error(&r, 400, "bad_multipart", "broken multipart");
        tresp_free(&r);
    }
    static const char *const not_found[] = {"/nope", "/resize/", "/Resize", "/health/", "/resize/extra", "//resize"};
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        snprintf(big_name, sizeof(big_name), "404 %s", not_found[i]);
        post(not_found[i], jpg, jpg_len, 0, NULL, &r);
        check_error(&r, 404, "not_found", big_name);
        ok(r.body && strncmp(r.body, "{\"message\":\"Not found\",\"status\":404", 35) == 0, "%s: imaginary's 404 body", big_name);
        tresp_free(&r);
    }
    t_get(&srv, "/resize?width=100", &r);
    check_error(&r, 405, "method_not_allowed", "GET on an image route");
    ok(r.body && strstr(r.body, "GET method not allowed"), "GET message as imaginary");
    tresp_free(&r);
    static const char *const methods[] = {"PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < 4; i++) {
        treq q = {.method = methods[i], .body = jpg, .body_len = jpg_len};
        snprintf(big_name, sizeof(big_name), "%s /resize", methods[i]);
        t_do(curl, &srv, "/resize?width=10", &q, &r);
        check_error(&r, 405, "method_not_allowed", big_name);
        tresp_free(&r);
    }
    {
        treq q = {.method = "DELETE"};
        t_do(curl, &srv, "/health", &q, &r);
        check_error(&r, 405, "method_not_allowed", "DELETE /health");
        tresp_free(&r);
        q.method = "POST";
        t_do(curl, &srv, "/metrics", &q, &r);
        check_error(&r, 405, "method_not_allowed", "POST /metrics");
        tresp_free(&r);
    }
}

static void test_fixed_routes(void)
{
    tresp r;
    json_error_t je;
    json_t *j;
    is_int(t_get(&srv, "/health", &r), 200, "GET /health");
    j = json_loads(r.body ? r.body : "", 0, &je);
    static const char *const keys[] = {
        "uptime",       "allocatedMemory", "totalAllocatedMemory", "goroutines",      "completedGCCycles", "cpus",
        "maxHeapUsage", "heapInUse",       "objectsInUse",         "OSMemoryObtained"};
    int missing = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        missing += json_object_get(j, keys[i]) == NULL;
    is_int(missing, 0, "/health has imaginary's keys");
    ok(json_object_get(json_object_get(j, "imgpipe"), "queueCapacity") != NULL, "/health has imgpipe's fields");
    json_decref(j);
    tresp_free(&r);
    {
        treq q = {.method = "POST"};
        t_do(curl, &srv, "/health", &q, &r);
        is_int(r.status, 200, "POST /health (imaginary accepts GET and POST)");
        tresp_free(&r);
    }
    is_int(t_get(&srv, "/", &r), 200, "GET /");
    j = json_loads(r.body ? r.body : "", 0, &je);
    ok(json_string_value(json_object_get(j, "imgpipe")) && json_string_value(json_object_get(j, "libvips")) &&
           json_string_value(json_object_get(j, "h2o")),
       "/ has imgpipe, libvips and h2o versions");
    json_decref(j);
    tresp_free(&r);
    is_int(t_get(&srv, "/ready", &r), 200, "GET /ready when idle");
    ok(r.body && strstr(r.body, "\"ready\""), "/ready says ready");
    tresp_free(&r);
    is_int(t_get(&srv, "/metrics", &r), 200, "GET /metrics");
    ok(r.body && strstr(r.body, "imgpipe_requests_total"), "/metrics has imgpipe_requests_total");
    ok(r.body && strstr(r.body, "route=\"resize\""), "/metrics counted resize requests");
    tresp_free(&r);
    is_int(t_get(&srv, "/openapi.json", &r), 200, "GET /openapi.json");
    j = json_loads(r.body ? r.body : "", 0, &je);
    ok(j && json_string_value(json_object_get(j, "openapi")), "/openapi.json is an OpenAPI document");
    json_decref(j);
    tresp_free(&r);
}

static void test_http2(void)
{
    treq q = {.method = "POST", .body = jpg, .body_len = jpg_len, .http2 = 1};
    tresp r;
    t_do(curl, &srv, "/resize?width=123", &q, &r);
    is_int(r.http_version, CURL_HTTP_VERSION_2_0, "h2c prior knowledge: answered over HTTP/2");
    check_image(&r, "jpeg", 123, 0, "HTTP/2 resize");
    tresp_free(&r);
    q.body = NULL;
    q.method = NULL;
    if (t_do(curl, &srv, "/nope", &q, &r) != 0 || r.status != 404)
        diag("curl: %s; headers: %s", curl_easy_strerror(r.code), r.headers);
    check_error(&r, 404, "not_found", "HTTP/2 404");
    tresp_free(&r);
}

static void test_access_log(void)
{
    size_t len;
    char *log = t_slurp(srv.out_path, &len);
    int lines = 0, good = 0, saw_resize = 0;
    for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        lines++;
        if (j == NULL || !json_object_get(j, "route") || !json_object_get(j, "request_id"))
            diag("not JSON or incomplete: %s", line);
        if (j && json_string_value(json_object_get(j, "request_id")) && json_integer_value(json_object_get(j, "status")) > 0 &&
            json_string_value(json_object_get(j, "route")) && json_object_get(j, "bytes_in") && json_object_get(j, "bytes_out"))
            good++;
        if (j && json_object_get(j, "out") && json_object_get(j, "decode_ms"))
            saw_resize++;
        json_decref(j);
    }
    ok(lines > 50, "access log has a line per request (%d)", lines);
    is_int(good, lines, "every access-log line is JSON with request_id, status, route, bytes");
    ok(saw_resize > 0, "image lines carry output size and stage timings");
    free(log);

    /* stderr: the startup line and every other log line are JSON too */
    log = t_slurp(srv.err_path, &len);
    lines = good = 0;
    int startup = 0, vips_warn = 0;
    for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        lines++;
        if (j && json_string_value(json_object_get(j, "level")) && json_string_value(json_object_get(j, "msg")))
            good++;
        else
            diag("stderr line not JSON with level and msg: %.200s", line);
        if (j && json_object_get(j, "settings") && json_object_get(json_object_get(j, "settings"), "max-body-bytes"))
            startup++;
        if (j && json_string_value(json_object_get(j, "domain")) &&
            strcmp(json_string_value(json_object_get(j, "domain")), "VIPS") == 0 &&
            json_string_value(json_object_get(j, "request_id")) &&
            strcmp(json_string_value(json_object_get(j, "request_id")), "vips-warn-7") == 0)
            vips_warn++;
        json_decref(j);
    }
    ok(lines >= 3, "stderr has the startup and shutdown lines (%d)", lines);
    is_int(good, lines, "every stderr line is JSON with level and msg");
    is_int(startup, 1, "one startup line with every setting");
    ok(vips_warn > 0, "libvips' warnings about the truncated JPEG carry its request id (%d lines)", vips_warn);
    free(log);
}

int main(void)
{
    static const char *const args[] = {"--max-body-bytes", "2MiB", "--workers", "2", NULL};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (VIPS_INIT("test_http_routes"))
        return 1;
    jpg = t_slurp(tap_fixture("imaginary/imaginary.jpg"), &jpg_len);
    png = t_slurp(tap_fixture("photos/coffee.png"), &png_len);
    txt = t_slurp(tap_fixture("bad/not-an-image-text.txt"), &txt_len);
    corrupt = t_slurp(tap_fixture("bad/corrupt-header.jpg"), &corrupt_len);
    if (!ok(jpg && png && txt && corrupt, "fixtures load"))
        return tap_done();
    if (!ok(tsrv_start(&srv, args, NULL) == 0, "server starts"))
        return tap_done();
    curl = curl_easy_init();
    test_operations();
    test_headers_and_negotiation();
    test_errors();
    test_fixed_routes();
    test_http2();
    is_int(tsrv_stop(&srv, 20), 0, "SIGTERM: exit 0");
    test_access_log();
    tsrv_cleanup(&srv);
    curl_easy_cleanup(curl);
    free(jpg);
    free(png);
    free(txt);
    free(corrupt);
    curl_global_cleanup();
    return tap_done();
}
