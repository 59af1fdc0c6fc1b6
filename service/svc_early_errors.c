/*
 * svc_early_errors: the answers h2o 2.2 gives by itself, in the service's JSON error shape.
 *
 * Before a request reaches a handler, h2o answers some on its own through
 * h2o_send_error_generic(): 413 for a body over max-body-bytes (announced by Content-Length, or
 * a chunked body that grows past it), 400 for broken chunked or Content-Length framing, 417 for
 * an Expect other than 100-continue, 400 for HTTP/2 headers it refuses. Those bind the request to
 * the host's fallback path, so a filter there sees exactly them: it swaps h2o's plain-text body
 * ("request entity is too large") for {"message","status","error"} as svc_respond_error() writes
 * it, with the same headers, access-log line and metrics. The route is the operation the path
 * names, "other" when it names none.
 *
 * The message is chosen when h2o's body passes (the ostream's first do_send), before h2o's final
 * ostream has written the headers, so status, headers and length can still change there. A HEAD
 * request gets the headers without a body, as from h2o.
 *
 * HTTP/2 uploads over max-body-bytes are answered here too (svc_early_errors_send_too_large), by
 * the first handler, once svc_conns has drained them (h2o 2.2 would reset them instead).
 */
#include "svc_early_errors.h"

#include <stdio.h>
#include <string.h>

#include "pl_options.h"
#include "svc_errors.h"
#include "svc_respond.h"

typedef struct early_filter {
    h2o_filter_t super;
    svc_app *app;
} early_filter;

typedef struct early_ostream {
    h2o_ostream_t super;
    svc_app *app;
    int done; /* the JSON body has been passed on */
} early_ostream;

/* A request context whose route is the operation the path names, "other" when it names none. */
static svc_reqctx *early_reqctx(svc_app *app, h2o_req_t *req)
{
    svc_reqctx *rc = svc_reqctx_new(app, req);
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    int op = plen > 1 && req->path.base != NULL && req->path.base[0] == '/' ? pl_op_from_name(req->path.base + 1, plen - 1) : -1;
    rc->route = op >= 0 ? pl_op_name((pl_op)op) : "other";
    return rc;
}

static void too_large_message(const svc_app *app, char *msg, size_t cap)
{
    snprintf(msg, cap, "the request body is larger than max-body-bytes (%lld bytes): send a smaller image, or raise max-body-bytes",
             app->cfg->max_body_bytes);
}

void svc_early_errors_send_too_large(svc_app *app, h2o_req_t *req)
{
    char msg[320];
    too_large_message(app, msg, sizeof(msg));
    svc_respond_fail(early_reqctx(app, req), SVC_E_PAYLOAD_TOO_LARGE, msg);
}

/* Status, headers and log line of the JSON answer for h2o's `text`; returns its body. */
static h2o_iovec_t rewrite(svc_app *app, h2o_req_t *req, const char *text)
{
    svc_reqctx *rc = early_reqctx(app, req);
    char msg[320];
    svc_ecode e;
    switch (req->res.status) {
    case 413:
        e = SVC_E_PAYLOAD_TOO_LARGE;
        too_large_message(app, msg, sizeof(msg));
        break;
    case 417:
        e = SVC_E_EXPECTATION_FAILED;
        snprintf(msg, sizeof(msg), "unsupported Expect header: only 100-continue is understood");
        break;
    case 404:
        e = SVC_E_NOT_FOUND;
        snprintf(msg, sizeof(msg), "Not found"); /* imaginary's text, as on the routes */
        break;
    default:
        e = SVC_E_BAD_REQUEST;
        snprintf(msg, sizeof(msg), "malformed request: %s", text[0] ? text : "refused by the HTTP layer");
        break;
    }
    memset(&req->res.headers, 0, sizeof(req->res.headers)); /* h2o's text/plain */
    return svc_respond_error_begin(rc, svc_error_status(e), svc_error_name(e), msg, 0);
}

static void on_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    early_ostream *o = (early_ostream *)self;
    h2o_iovec_t body;
    if (!o->done) {
        char text[160];
        size_t n = 0;
        for (size_t i = 0; i < bufcnt && n < sizeof(text) - 1; i++) {
            size_t k = bufs[i].len < sizeof(text) - 1 - n ? bufs[i].len : sizeof(text) - 1 - n;
            memcpy(text + n, bufs[i].base, k);
            n += k;
        }
        text[n] = '\0';
        o->done = 1;
        body = rewrite(o->app, req, text);
        if (bufcnt > 0) { /* none for HEAD */
            h2o_ostream_send_next(self, req, &body, 1, state);
            return;
        }
    }
    h2o_ostream_send_next(self, req, NULL, 0, state);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (req->res.status >= 400) {
        early_ostream *o = (early_ostream *)h2o_add_ostream(req, sizeof(*o), slot);
        o->super.do_send = on_send;
        o->app = ((early_filter *)self)->app;
        o->done = 0;
        slot = &o->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

void svc_early_errors_register(svc_app *app, h2o_hostconf_t *host)
{
    early_filter *f = (early_filter *)h2o_create_filter(&host->fallback_path, sizeof(*f));
    f->super.on_setup_ostream = on_setup_ostream;
    f->app = app;
}
