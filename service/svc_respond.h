/*
 * svc_respond: every response the service sends (images, JSON, JSON errors), with the common
 * headers (X-Request-Id, Vary: Accept, CORS), the access-log line and the request metrics.
 * Loop thread only: these functions touch h2o_req_t.
 */
#ifndef SVC_RESPOND_H
#define SVC_RESPOND_H

#include <h2o.h>

#include "svc_app.h"
#include "svc_errors.h"

/* Per-request state, allocated in req->pool (freed with the request). */
typedef struct svc_reqctx {
    svc_app *app;
    h2o_req_t *req;
    char request_id[72];
    const char *route; /* static: "resize", "health", "not_found" … */
    int64_t received_us;
    int vary_accept;
    const char *cors_origin; /* NULL = no CORS header */
    char etag[36];           /* quoted strong ETag of a successful image answer, "" = none (svc_etag) */
    int cache_headers;       /* GET image request: Cache-Control/Expires per http-cache-ttl */
    /* for the access log, filled when known */
    const char *in_type, *out_type;
    int in_w, in_h, out_w, out_h;
    double queue_ms, decode_ms, process_ms, encode_ms;
} svc_reqctx;

svc_reqctx *svc_reqctx_new(svc_app *app, h2o_req_t *req);

/* JSON error {"message","status","error"}; newlines in message become spaces. retry_after > 0
 * adds Retry-After. */
void svc_respond_error(svc_reqctx *rc, int status, const char *error_name, const char *message, int retry_after);

/* The same error without sending it: status and headers set, logged and counted; returns the
 * body (in req->pool) for a response already started elsewhere (svc_early_errors). */
h2o_iovec_t svc_respond_error_begin(svc_reqctx *rc, int status, const char *error_name, const char *message, int retry_after);

/* One of the service's own errors (svc_errors.h: name, status, Retry-After from the table). */
void svc_respond_fail(svc_reqctx *rc, svc_ecode e, const char *message);

/* A JSON (or other text) body; copied into the request pool. */
void svc_respond_body(svc_reqctx *rc, int status, const char *content_type, const char *body, size_t len);

/* The engine's result; ownership of res->data moves to the request (freed when h2o disposes the
 * request), *res is cleared. queue_ms: time spent waiting for a worker. */
void svc_respond_result(svc_reqctx *rc, pl_result *res, double queue_ms);

/* 304 to a matching If-None-Match: ETag, Cache-Control/Expires and Vary as a 200 would carry. */
void svc_respond_not_modified(svc_reqctx *rc);

/* 204 answer to a CORS preflight (OPTIONS) from an allowed origin. */
void svc_respond_preflight(svc_reqctx *rc);

/* Access log + metrics for a request whose h2o_req_t is already gone (client went away). */
void svc_respond_log_dropped(svc_app *app, const char *request_id, const char *route, uint64_t bytes_in, double total_ms);

const char *svc_respond_reason(int status);

#endif
