/*
 * svc_respond: building and sending responses on the loop thread. Image bodies are sent
 * without a copy: the pl_result moves into a shared allocation in req->pool whose dispose
 * callback frees it once h2o is done with the request. Every response ends in finish(), which
 * writes the access-log line and records the request metrics.
 */
#include "svc_respond.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "svc_log.h"
#include "svc_metrics.h"

static h2o_generator_t static_generator = {NULL, NULL};

const char *svc_respond_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 502:
        return "Bad Gateway";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

static int id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == ':';
}

static void open_request_dispose(void *p)
{
    atomic_fetch_sub(&(*(svc_app **)p)->open_requests, 1);
}

svc_reqctx *svc_reqctx_new(svc_app *app, h2o_req_t *req)
{
    svc_reqctx *rc = h2o_mem_alloc_pool(&req->pool, sizeof(*rc));
    svc_app **tracker = h2o_mem_alloc_shared(&req->pool, sizeof(*tracker), open_request_dispose);
    ssize_t i;
    *tracker = app; /* the drain waits until every request has been written and disposed */
    atomic_fetch_add(&app->open_requests, 1);
    memset(rc, 0, sizeof(*rc));
    rc->app = app;
    rc->req = req;
    rc->received_us = g_get_monotonic_time();
    rc->queue_ms = rc->decode_ms = rc->process_ms = rc->encode_ms = -1;
    rc->route = "unknown";
    i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i != -1) {
        h2o_iovec_t v = req->headers.entries[i].value;
        int good = v.len > 0 && v.len < sizeof(rc->request_id);
        for (size_t k = 0; good && k < v.len; k++)
            good = id_char_ok(v.base[k]);
        if (good) {
            memcpy(rc->request_id, v.base, v.len);
            rc->request_id[v.len] = '\0';
        }
    }
    if (rc->request_id[0] == '\0')
        snprintf(rc->request_id, sizeof(rc->request_id), "%08llx%08llx", (unsigned long long)(app->id_seed & 0xffffffffu),
                 (unsigned long long)++app->id_counter);
    return rc;
}

static void add_header(h2o_req_t *req, const char *name, size_t name_len, const char *value, size_t value_len)
{
    h2o_iovec_t v = h2o_strdup(&req->pool, value, value_len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, name_len, 0, NULL, v.base, v.len);
}

static void common_headers(svc_reqctx *rc)
{
    h2o_req_t *req = rc->req;
    add_header(req, H2O_STRLIT("x-request-id"), rc->request_id, strlen(rc->request_id));
    if (rc->vary_accept)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept"));
    if (rc->cors_origin != NULL) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, rc->cors_origin,
                       strlen(rc->cors_origin));
        if (strcmp(rc->cors_origin, "*") != 0)
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
        if (req->res.status != 204)
            h2o_add_header_by_str(
                &req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0, NULL,
                H2O_STRLIT("Image-Width, Image-Height, Image-Frames, Server-Timing, X-Request-Id, Retry-After, ETag"));
    }
}

/* imaginary's caching headers (middleware.go setCacheHeaders) on GET image answers when
 * http-cache-ttl >= 0, but only on successes: an error is never cacheable (no-store). */
static void cache_headers(svc_reqctx *rc, int ok)
{
    h2o_req_t *req = rc->req;
    long long ttl = rc->app->cfg->http_cache_ttl;
    char buf[128];
    int l;
    if (ok && rc->etag[0])
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, rc->etag, strlen(rc->etag));
    if (!rc->cache_headers || ttl < 0)
        return;
    if (!ok) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        return;
    }
    if (ttl == 0)
        l = snprintf(buf, sizeof(buf), "private, no-cache, no-store, must-revalidate");
    else
        l = snprintf(buf, sizeof(buf), "public, s-maxage=%lld, max-age=%lld, no-transform", ttl, ttl);
    add_header(req, H2O_STRLIT("cache-control"), buf, (size_t)l);
    time_t t = time(NULL) + (time_t)ttl;
    struct tm tm;
    gmtime_r(&t, &tm);
    l = (int)strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    add_header(req, H2O_STRLIT("expires"), buf, (size_t)l);
}

/* Server-Timing for the stages the request reached (a stage at -1 was not reached); none when no stage was. */
static void timing_header(svc_reqctx *rc)
{
    const char *names[4] = {"queue", "decode", "process", "encode"};
    double ms[4] = {rc->queue_ms, rc->decode_ms, rc->process_ms, rc->encode_ms};
    char buf[256];
    size_t l = 0;
    for (int i = 0; i < 4 && l < sizeof(buf) - 48; i++)
        if (ms[i] >= 0)
            l += (size_t)snprintf(buf + l, sizeof(buf) - l, "%s%s;dur=%.1f", l ? ", " : "", names[i], ms[i]);
    if (l > 0)
        add_header(rc->req, H2O_STRLIT("server-timing"), buf, l);
}

static void finish(svc_reqctx *rc, const char *error_name)
{
    h2o_req_t *req = rc->req;
    double total_ms = (double)(g_get_monotonic_time() - rc->received_us) / 1000.0;
    uint64_t bytes_in = req->entity.base ? req->entity.len : 0;
    svc_metrics_request_done(rc->route, req->res.status, total_ms / 1000.0, bytes_in, req->res.content_length);
    if (svc_log_access_on()) {
        svc_access a = {.request_id = rc->request_id,
                        .method = NULL,
                        .path = req->path.base,
                        .path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len, /* no query: key=, sign= */
                        .route = rc->route,
                        .error = error_name,
                        .status = req->res.status,
                        .http_version = req->version,
                        .bytes_in = bytes_in,
                        .bytes_out = req->res.content_length,
                        .in_type = rc->in_type,
                        .out_type = rc->out_type,
                        .in_w = rc->in_w,
                        .in_h = rc->in_h,
                        .out_w = rc->out_w,
                        .out_h = rc->out_h,
                        .total_ms = total_ms,
                        .queue_ms = rc->queue_ms,
                        .decode_ms = rc->decode_ms,
                        .process_ms = rc->process_ms,
                        .encode_ms = rc->encode_ms};
        char method[16];
        size_t ml = req->method.len < sizeof(method) - 1 ? req->method.len : sizeof(method) - 1;
        memcpy(method, req->method.base, ml);
        method[ml] = '\0';
        a.method = method;
        svc_log_access(&a);
    }
}

static void send_copy(h2o_req_t *req, const char *body, size_t len)
{
    h2o_iovec_t buf = h2o_strdup(&req->pool, body, len);
    req->res.content_length = len;
    h2o_start_response(req, &static_generator);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void svc_respond_fail(svc_reqctx *rc, svc_ecode e, const char *message)
{
    svc_respond_error(rc, svc_error_status(e), svc_error_name(e), message, svc_error_retry_after(e));
}

void svc_respond_body(svc_reqctx *rc, int status, const char *content_type, const char *body, size_t len)
{
    h2o_req_t *req = rc->req;
    req->res.status = status;
    req->res.reason = svc_respond_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    common_headers(rc);
    req->res.content_length = len;
    finish(rc, NULL);
    send_copy(req, body, len);
}

h2o_iovec_t svc_respond_error_begin(svc_reqctx *rc, int status, const char *error_name, const char *message, int retry_after)
{
    h2o_req_t *req = rc->req;
    char body[2048], msg[PL_ERROR_MESSAGE_MAX + 64];
    size_t pos = 0, n;
    snprintf(msg, sizeof(msg), "%s", message);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    pos = (size_t)snprintf(body, sizeof(body), "{\"message\":\"");
    svc_log_json_escape(body, sizeof(body) - 64, &pos, msg, strlen(msg));
    n = (size_t)snprintf(body + pos, sizeof(body) - pos, "\",\"status\":%d,\"error\":\"%s\"}", status, error_name);
    pos += n;
    req->res.status = status;
    req->res.reason = svc_respond_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (retry_after > 0) {
        char ra[16];
        int l = snprintf(ra, sizeof(ra), "%d", retry_after);
        add_header(req, H2O_STRLIT("retry-after"), ra, (size_t)l);
    }
    if (status == 503 && rc->queue_ms < 0)
        rc->queue_ms = 0; /* refused at the queue without waiting */
    timing_header(rc);
    common_headers(rc);
    cache_headers(rc, 0);
    req->res.content_length = pos;
    finish(rc, error_name);
    return h2o_strdup(&req->pool, body, pos);
}

void svc_respond_error(svc_reqctx *rc, int status, const char *error_name, const char *message, int retry_after)
{
    h2o_iovec_t body = svc_respond_error_begin(rc, status, error_name, message, retry_after);
    h2o_start_response(rc->req, &static_generator);
    h2o_send(rc->req, &body, 1, H2O_SEND_STATE_FINAL);
}

void svc_respond_preflight(svc_reqctx *rc)
{
    h2o_req_t *req = rc->req;
    req->res.status = 204;
    req->res.reason = "No Content";
    add_header(req, H2O_STRLIT("access-control-allow-methods"), H2O_STRLIT("GET, POST"));
    add_header(req, H2O_STRLIT("access-control-allow-headers"), H2O_STRLIT("API-Key, Authorization, Content-Type, X-Request-Id"));
    add_header(req, H2O_STRLIT("access-control-max-age"), H2O_STRLIT("600"));
    common_headers(rc);
    req->res.content_length = 0;
    finish(rc, NULL);
    h2o_start_response(req, &static_generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

void svc_respond_not_modified(svc_reqctx *rc)
{
    h2o_req_t *req = rc->req;
    req->res.status = 304;
    req->res.reason = "Not Modified";
    common_headers(rc);
    cache_headers(rc, 1);
    req->res.content_length = 0; /* for the access log and metrics */
    finish(rc, NULL);
    req->res.content_length = SIZE_MAX; /* no Content-Length: 0 (RFC 9110: it would describe the 200's body) */
    h2o_start_response(req, &static_generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

typedef struct result_hold {
    pl_result result;
} result_hold;

static void result_hold_dispose(void *p)
{
    pl_result_clear(&((result_hold *)p)->result);
}

void svc_respond_result(svc_reqctx *rc, pl_result *res, double queue_ms)
{
    h2o_req_t *req = rc->req;
    result_hold *hold = h2o_mem_alloc_shared(&req->pool, sizeof(*hold), result_hold_dispose);
    char buf[256];
    int l;
    hold->result = *res;
    memset(res, 0, sizeof(*res));
    res = &hold->result;
    if (res->vary_accept)
        rc->vary_accept = 1;
    rc->queue_ms = queue_ms;
    rc->decode_ms = res->t.decode_ms;
    rc->process_ms = res->t.process_ms;
    rc->encode_ms = res->t.encode_ms;
    rc->in_type = res->in_format != PL_FMT_UNKNOWN ? pl_format_name(res->in_format) : NULL;
    rc->in_w = res->in_width;
    rc->in_h = res->in_height;
    rc->out_type = res->format != PL_FMT_UNKNOWN ? pl_format_name(res->format) : "json";
    rc->out_w = res->width;
    rc->out_h = res->height;

    req->res.status = 200;
    req->res.reason = "OK";
    {
        const char *mime = res->mime ? res->mime : "application/octet-stream";
        h2o_iovec_t m = h2o_strdup(&req->pool, mime, SIZE_MAX); /* res->mime may live in the job */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, m.base, m.len);
        res->mime = NULL;
    }
    if (res->format != PL_FMT_UNKNOWN) {
        l = snprintf(buf, sizeof(buf), "%d", res->width);
        add_header(req, H2O_STRLIT("image-width"), buf, (size_t)l);
        l = snprintf(buf, sizeof(buf), "%d", res->height);
        add_header(req, H2O_STRLIT("image-height"), buf, (size_t)l);
    }
    if (res->frames_in > 1) {
        /* frames out/in of an animated input: fewer out when a limit, frames= or a still type dropped some */
        l = snprintf(buf, sizeof(buf), "%d/%d", res->frames_out, res->frames_in);
        add_header(req, H2O_STRLIT("image-frames"), buf, (size_t)l);
        if (res->frames_out < res->frames_in)
            svc_log_printf(SVC_LOG_INFO, "request %s: %d of %d frames kept (max-frames, frames= or a still output type)",
                           rc->request_id, res->frames_out, res->frames_in);
    }
    timing_header(rc);
    common_headers(rc);
    cache_headers(rc, 1);
    req->res.content_length = res->len;
    finish(rc, NULL);
    h2o_iovec_t body = h2o_iovec_init(res->data, res->len);
    h2o_start_response(req, &static_generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

void svc_respond_log_dropped(svc_app *app, const char *request_id, const char *route, uint64_t bytes_in, double total_ms)
{
    svc_metrics_request_done(route, 499, total_ms / 1000.0, bytes_in, 0);
    if (svc_log_access_on()) {
        svc_access a = {.request_id = request_id,
                        .method = "POST",
                        .route = route,
                        .error = "cancelled",
                        .status = 499,
                        .http_version = 0x200, /* only HTTP/2 requests are disposed before the answer */
                        .bytes_in = bytes_in,
                        .total_ms = total_ms,
                        .queue_ms = -1,
                        .decode_ms = -1,
                        .process_ms = -1,
                        .encode_ms = -1};
        svc_log_access(&a);
    }
    (void)app;
}
