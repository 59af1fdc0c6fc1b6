/*
 * svc_routes: request handling on the loop thread.
 *
 * Image routes (POST /<operation>) check in imaginary's order (imaginary-api.md §1): URL
 * signature -> method (GET 405, others 405) -> API key -> source (raw body, or multipart part
 * `file` / field=) -> empty body -> parameters (pl_plan_parse) -> queue (503 when full). The job
 * then runs on a worker; svc_routes_on_jobs() answers when it comes back.
 *
 * DESIGN (request <-> job link)
 *   A shared allocation in req->pool (svc_req_link) points at the job and the job points back at
 *   it. If h2o disposes the request first (client gone), link_dispose() marks the job cancelled
 *   (the engine stops libvips) and clears job->link; the receiver then drops the result and frees
 *   the job. If the job comes back first, the receiver clears link->job and responds. Both sides
 *   run on the loop thread, so the two pointers never race; only ctl.cancelled and the job's pin
 *   on the body cross threads (link_dispose() lets go of the body before it is freed: svc_job.h;
 *   an HTTP/2 body is taken from its stream into req->pool first, svc_conns_hold_body, so that
 *   it is freed after the link, registered later).
 */
#include "svc_routes.h"

#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "svc_conns.h"
#include "svc_crash.h"
#include "svc_health.h"
#include "svc_log.h"
#include "svc_metrics.h"
#include "svc_multipart.h"
#include "svc_openapi.h"
#include "svc_respond.h"
#include "svc_sources.h"

typedef struct svc_handler {
    h2o_handler_t super;
    svc_app *app;
    int metrics_only;
} svc_handler;

typedef struct svc_req_link {
    svc_job *job;
    svc_reqctx *rc;
    h2o_linklist_t inflight; /* in app->inflight_links while an HTTP/1 job is out */
    int fd;                  /* the HTTP/1 connection's socket, or -1 */
    int client_gone;
} svc_req_link;

#define MSG_GET_NOT_ALLOWED                                                                                                        \
    "GET method not allowed: POST the image, or start imgpipe with enable-url-source (url=) or mount (file=), see "                \
    "docs/http-api.md"
#define MSG_METHOD_NOT_ALLOWED "HTTP method not allowed. Try with a POST method"
#define MSG_KEY "Invalid or missing API key"

static int is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static h2o_iovec_t header(h2o_req_t *req, const h2o_token_t *tok)
{
    ssize_t i = h2o_find_header(&req->headers, tok, -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static h2o_iovec_t header_str(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

/* API key check; answers 401 itself and returns -1 when refused. */
static int check_key(svc_reqctx *rc, const qs_query *qs)
{
    svc_app *app = rc->app;
    if (app->auth == NULL || !svc_auth_keys_enabled(app->auth))
        return 0;
    h2o_iovec_t k = header_str(rc->req, "api-key"), a = header(rc->req, H2O_TOKEN_AUTHORIZATION);
    if (svc_auth_check_key(app->auth, k.base, k.len, a.base, a.len, qs) == SVC_AUTH_OK)
        return 0;
    svc_respond_fail(rc, SVC_E_UNAUTHORIZED, MSG_KEY);
    return -1;
}

/* ---- fixed routes ---------------------------------------------------------------------------- */

static void route_root(svc_reqctx *rc)
{
    char buf[256];
    size_t n = svc_health_versions_json(buf, sizeof(buf));
    svc_respond_body(rc, 200, "application/json", buf, n);
}

static void route_health(svc_reqctx *rc)
{
    char buf[2048];
    size_t n = svc_health_json(rc->app, buf, sizeof(buf));
    svc_respond_body(rc, 200, "application/json", buf, n);
}

static void route_ready(svc_reqctx *rc)
{
    char buf[256];
    size_t n;
    int status = svc_health_ready_json(rc->app, buf, sizeof(buf), &n);
    svc_respond_body(rc, status, "application/json", buf, n);
}

static void route_metrics(svc_reqctx *rc)
{
    size_t n = 0;
    char *text = svc_metrics_render(&n);
    if (text == NULL) {
        svc_respond_fail(rc, SVC_E_INTERNAL, "metrics could not be rendered");
        return;
    }
    svc_respond_body(rc, 200, "text/plain; version=0.0.4; charset=utf-8", text, n);
    free(text);
}

static void route_openapi(svc_reqctx *rc)
{
    static char *doc;
    static size_t doc_len;
    if (doc == NULL)
        doc = svc_openapi_json(IMGPIPE_VERSION, &doc_len);
    if (doc == NULL) {
        svc_respond_fail(rc, SVC_E_INTERNAL, "the OpenAPI document could not be built");
        return;
    }
    svc_respond_body(rc, 200, "application/json", doc, doc_len);
}

typedef struct fixed_handler {
    const char *path;
    const char *route; /* metrics label */
    void (*fn)(svc_reqctx *rc);
    int needs_key;  /* imaginary: / and /health are behind the API key */
    int on_metrics; /* also served on metrics-listen */
} fixed_handler;

static const fixed_handler fixed_handlers[] = {
    {"/", "root", route_root, 1, 0},
    {"/health", "health", route_health, 1, 1},
    {"/ready", "ready", route_ready, 0, 1},
    {"/metrics", "metrics", route_metrics, 0, 1},
    {"/openapi.json", "openapi", route_openapi, 0, 0},
};

/* The paths and methods come from the one list of fixed routes (svc_openapi_fixed_routes, also
 * used for the OpenAPI document); this file only supplies the handler of each. */
static const fixed_handler *find_fixed(const char *path, size_t len, const char **methods)
{
    size_t n = 0;
    const svc_route_info *ri = svc_openapi_fixed_routes(&n);
    for (size_t k = 0; ri != NULL && k < n; k++) {
        if (strlen(ri[k].path) != len || memcmp(ri[k].path, path, len) != 0)
            continue;
        *methods = ri[k].methods;
        for (size_t i = 0; i < sizeof(fixed_handlers) / sizeof(fixed_handlers[0]); i++)
            if (strcmp(fixed_handlers[i].path, ri[k].path) == 0)
                return &fixed_handlers[i];
        svc_log_printf(SVC_LOG_ERROR, "route %s is listed in svc_openapi_fixed_routes but has no handler", ri[k].path);
        return NULL;
    }
    return NULL;
}

static int method_listed(h2o_req_t *req, const char *methods)
{
    const char *p = methods;
    while (*p) {
        size_t l = strcspn(p, ",");
        if (h2o_memis(req->method.base, req->method.len, p, l))
            return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

/* ---- image routes ----------------------------------------------------------------------------- */

static void link_unlist(svc_req_link *link)
{
    if (h2o_linklist_is_linked(&link->inflight))
        h2o_linklist_unlink(&link->inflight);
}

static void link_dispose(void *p)
{
    svc_req_link *link = p;
    link_unlist(link);
    if (link->job != NULL) { /* it runs on, cancelled, and is dropped; it lets go of the body first */
        svc_job_unpin(link->job);
        atomic_store(&link->job->ctl.cancelled, 1);
        link->job->link = NULL;
        link->job = NULL;
    }
}

/* The grammar's first type= is auto (trimmed, any case): for errors before/without a parsed plan. */
static int query_wants_auto(const qs_query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        const char *v = q->pairs[i].value, *e = v + q->pairs[i].value_len;
        if (!qs_name_is(&q->pairs[i], "type"))
            continue;
        while (v < e && g_ascii_isspace(*v))
            v++;
        while (e > v && g_ascii_isspace(e[-1]))
            e--;
        return e - v == 4 && strncasecmp(v, "auto", 4) == 0;
    }
    return 0;
}

/* The request's query, parsed once (common/qs_query.h) into the request's pool, for every reader. */
static void parse_query(h2o_req_t *req, const char *query, size_t qlen, qs_query *qs)
{
    size_t need = qs_need(query, qlen);
    qs_parse_in(query, qlen, h2o_mem_alloc_pool(&req->pool, need), need, qs);
}

static void image_error(svc_reqctx *rc, pl_op op, const pl_error *err)
{
    int status = pl_error_http_status(err->code, pl_op_is_imaginary(op));
    if (status < 400 || status > 511)
        status = 503;
    if (err->detail[0] && svc_log_on(SVC_LOG_DEBUG))
        svc_log_printf(SVC_LOG_DEBUG, "request %s: %s: %s", rc->request_id, err->message, err->detail);
    svc_respond_error(rc, status, pl_error_name(err->code), err->message, 0);
}

/* 503 + Retry-After from the loop thread, without touching libvips. */
static void overloaded(svc_reqctx *rc, svc_app *app)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "server busy: %d workers busy and %d requests queued; retry later", svc_pool_workers(app->pool),
             svc_pool_capacity(app->pool));
    svc_respond_fail(rc, SVC_E_OVERLOADED, msg);
}

/* 1. URL signature (image routes only, before the method, as imaginary). -1 when answered. */
static int check_signature(svc_reqctx *rc, const char *path, size_t path_len, const qs_query *qs)
{
    svc_app *app = rc->app;
    if (app->auth == NULL || !svc_auth_signing_enabled(app->auth))
        return 0;
    svc_auth_result r = svc_auth_check_signature(app->auth, path, path_len, qs, time(NULL));
    if (r == SVC_AUTH_OK)
        return 0;
    if (r == SVC_AUTH_SIGN_MALFORMED || r == SVC_AUTH_SIGN_UNCOVERED)
        svc_respond_fail(rc, SVC_E_INVALID_SIGNATURE, svc_auth_message(r));
    else
        svc_respond_fail(rc, SVC_E_SIGNATURE_MISMATCH, svc_auth_message(r));
    return -1;
}

/* 2-3. method: POST, or GET when a source (url=, file=) is on. -1 when answered. */
static int check_image_method(svc_reqctx *rc)
{
    if (is_method(rc->req, "GET") && !svc_sources_get_allowed(rc->app)) {
        svc_respond_fail(rc, SVC_E_METHOD_NOT_ALLOWED, MSG_GET_NOT_ALLOWED);
        return -1;
    }
    if (!is_method(rc->req, "POST") && !is_method(rc->req, "GET")) {
        svc_respond_fail(rc, SVC_E_METHOD_NOT_ALLOWED, MSG_METHOD_NOT_ALLOWED);
        return -1;
    }
    return 0;
}

/* The image bytes of an upload and the overlay, pointing into the request body. */
typedef struct upload {
    const uint8_t *data, *overlay;
    size_t data_len, overlay_len;
} upload;

/* 6-7. source: the multipart part `file` (or the plan's field=) and the `image` part, else the
 * raw body; an empty one is refused. -1 when answered. */
static int read_upload(svc_reqctx *rc, pl_op op, const pl_plan *plan, upload *up)
{
    h2o_req_t *req = rc->req;
    h2o_iovec_t ct = header(req, H2O_TOKEN_CONTENT_TYPE);
    svc_span boundary;
    memset(up, 0, sizeof(*up));
    if (ct.base != NULL && svc_multipart_is(ct.base, ct.len, &boundary)) {
        svc_mp_part parts[16];
        size_t n = 0;
        const char *mperr = NULL;
        const char *field = (plan != NULL && plan->params.field[0]) ? plan->params.field : "file";
        const svc_mp_part *part;
        if (req->entity.base == NULL || req->entity.len == 0) {
            svc_respond_fail(rc, SVC_E_EMPTY_IMAGE, "Empty or unreadable image");
            return -1;
        }
        if (svc_multipart_parse((const uint8_t *)req->entity.base, req->entity.len, boundary, parts, 16, &n, &mperr) != 0) {
            svc_respond_fail(rc, SVC_E_BAD_MULTIPART, mperr);
            return -1;
        }
        if ((part = svc_multipart_find(parts, n, field)) == NULL) {
            svc_respond_fail(rc, SVC_E_MISSING_FILE, "http: no such file");
            return -1;
        }
        up->data = part->data.p;
        up->data_len = part->data.len;
        if ((op == PL_OP_WATERMARKIMAGE || op == PL_OP_PIPELINE || op == PL_OP_TRANSFORM) &&
            (part = svc_multipart_find(parts, n, "image")) != NULL) {
            up->overlay = part->data.p;
            up->overlay_len = part->data.len;
        }
    } else if (req->entity.base != NULL) {
        up->data = (const uint8_t *)req->entity.base;
        up->data_len = req->entity.len;
    }
    if (up->data_len == 0) {
        svc_respond_fail(rc, SVC_E_EMPTY_IMAGE, "Empty or unreadable image");
        return -1;
    }
    return 0;
}

/* The job: refused at once when the pool would refuse it (before anything is copied; only this
 * loop thread submits, so room seen here is still there at svc_pool_submit), else given the image
 * and submitted. A body run by a worker process is read where it is, once, by the pool thread
 * (into its worker's arena): HTTP/1 in h2o's socket buffer, HTTP/2 in its stream's buffer, held
 * with the request; others are copied here. */
static void submit_upload(svc_reqctx *rc, const pl_plan *plan, const upload *up)
{
    if (svc_pool_full(rc->app->pool)) {
        overloaded(rc, rc->app);
        return;
    }
    svc_job *job = svc_job_new();
    if (job != NULL && svc_pool_isolated(rc->app->pool) && svc_conns_hold_body(rc->req)) {
        svc_job_pin_input(job, up->data, up->data_len, up->overlay, up->overlay_len); /* read in place (svc_job.h) */
    } else if (job == NULL || svc_job_set_input(job, up->data, up->data_len, up->overlay, up->overlay_len) != 0) {
        svc_job_free(job);
        svc_respond_fail(rc, SVC_E_OUT_OF_MEMORY, "the server is out of memory; retry later");
        return;
    }
    svc_routes_submit(rc, job, plan);
}

/* An image route, in imaginary's order (imaginary-api.md §1). */
static int image_route(svc_reqctx *rc, pl_op op, const char *path, size_t path_len, const qs_query *qs)
{
    pl_plan plan;
    pl_error perr;
    upload up;
    rc->route = pl_op_name(op);
    rc->vary_accept = query_wants_auto(qs);
    rc->cache_headers = is_method(rc->req, "GET"); /* http-cache-ttl: GET answers only, as imaginary */
    if (check_signature(rc, path, path_len, qs) != 0 || check_image_method(rc) != 0 || check_key(rc, qs) != 0)
        return 0;
    if (svc_sources_select(rc, op, qs) != 0) /* url= / file=: answered here or by the source thread */
        return 0;
    int plan_rc = pl_plan_parse_query(pl_op_name(op), qs, &plan, &perr);
    if (read_upload(rc, op, plan_rc == 0 ? &plan : NULL, &up) != 0)
        return 0;
    if (plan_rc != 0) { /* parameter errors after the body checks, as imaginary */
        image_error(rc, op, &perr);
        return 0;
    }
    rc->vary_accept = pl_plan_wants_auto(&plan);
    if (op == PL_OP_WATERMARKIMAGE && up.overlay == NULL) {
        svc_respond_fail(rc, SVC_E_MISSING_PARAMETER,
                         "watermarkimage needs the overlay image: send multipart/form-data with the image in part \"file\" and "
                         "the overlay in part \"image\"");
        return 0;
    }
    if (svc_sources_etag_body(rc, &plan, up.data, up.data_len, up.overlay, up.overlay_len) != 0)
        return 0; /* a matching If-None-Match: 304, no job */
    submit_upload(rc, &plan, &up);
    return 0;
}

/* ---- jobs from other sources (svc_sources.c) --------------------------------------------------- */

void svc_routes_submit(svc_reqctx *rc, svc_job *job, const pl_plan *plan)
{
    svc_app *app = rc->app;
    h2o_req_t *req = rc->req;
    h2o_iovec_t acc = header(req, H2O_TOKEN_ACCEPT);
    if (acc.base != NULL)
        job->accept = strndup(acc.base, acc.len);
    rc->vary_accept = pl_plan_wants_auto(plan);
    job->plan = *plan;
    job->limits = app->limits;
    job->receiver = &app->receiver;
    job->route = rc->route;
    job->bytes_in = req->entity.len;
    job->received_us = rc->received_us;
    snprintf(job->request_id, sizeof(job->request_id), "%s", rc->request_id);
    job->enqueued_us = g_get_monotonic_time();
    job->ctl.deadline_us = rc->received_us + app->cfg->deadline_ms * 1000;
    atomic_init(&job->ctl.cancelled, 0);
    if (svc_pool_submit(app->pool, job) != 0) {
        svc_job_free(job);
        overloaded(rc, app);
        return;
    }
    svc_req_link *link = h2o_mem_alloc_shared(&req->pool, sizeof(*link), link_dispose);
    memset(link, 0, sizeof(*link));
    link->job = job;
    link->rc = rc;
    link->fd = -1;
    if (req->version < 0x200 && req->conn->callbacks->get_socket != NULL) {
        h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
        if (sock != NULL && (link->fd = h2o_socket_get_fd(sock)) >= 0)
            h2o_linklist_insert(&app->inflight_links, &link->inflight);
    }
    job->link = link;
    atomic_fetch_add(&app->inflight, 1);
}

/* ---- the receiver ----------------------------------------------------------------------------- */

static void job_done(svc_app *app, svc_job *job)
{
    svc_req_link *link = job->link;
    double queue_ms = (double)(job->started_us - job->enqueued_us) / 1000.0;
    atomic_fetch_sub(&app->inflight, 1);
    if (link == NULL) { /* the request went away: drop the result */
        svc_respond_log_dropped(app, job->request_id, job->route, job->bytes_in,
                                (double)(g_get_monotonic_time() - job->received_us) / 1000.0);
        svc_job_free(job);
        return;
    }
    link->job = NULL;
    job->link = NULL;
    link_unlist(link);
    svc_reqctx *rc = link->rc;
    if (link->client_gone) { /* answer anyway so that h2o releases the request; nobody reads it */
        svc_respond_fail(rc, SVC_E_CANCELLED, "the client closed the connection");
    } else if (job->fault == SVC_PROC_CRASHED || job->fault == SVC_PROC_EXITED) {
        rc->queue_ms = queue_ms;
        svc_respond_fail(rc, SVC_E_WORKER_CRASHED,
                         "processing this image crashed the image library; only this request failed, and the same "
                         "bytes would fail again, so do not retry them");
    } else if (job->rc == 0) {
        svc_respond_result(rc, &job->result, queue_ms);
    } else {
        rc->queue_ms = queue_ms;
        image_error(rc, job->plan.op, &job->err);
    }
    svc_job_free(job);
}

void svc_routes_on_jobs(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    svc_app *app = H2O_STRUCT_FROM_MEMBER(svc_app, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        svc_job *job = H2O_STRUCT_FROM_MEMBER(svc_job, msg, msg);
        h2o_linklist_unlink(&msg->link);
        job_done(app, job);
    }
}

/* Links whose socket showed EOF and got the 102 probe (scan_disconnects only): a probe per link. */
static struct probed_link {
    const void *link;
    int fd, seen;
} * probed;
static size_t n_probed, cap_probed;

static int probed_find(const void *link, int fd)
{
    for (size_t i = 0; i < n_probed; i++)
        if (probed[i].link == link && probed[i].fd == fd) {
            probed[i].seen = 1;
            return 1;
        }
    return 0;
}

static void probed_add(const void *link, int fd)
{
    if (n_probed == cap_probed) {
        size_t cap = cap_probed ? 2 * cap_probed : 16;
        struct probed_link *p = realloc(probed, cap * sizeof(*p));
        if (p == NULL)
            return; /* probed again at the next scan: harmless */
        probed = p;
        cap_probed = cap;
    }
    probed[n_probed++] = (struct probed_link){link, fd, 1};
}

/* After a FIN, recv() reports EOF even once a reset has arrived; the TCP state says CLOSE then. */
static int socket_closed(int fd)
{
    struct tcp_info ti;
    socklen_t l = sizeof(ti);
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 && ti.tcpi_state == TCP_CLOSE;
}

/* EOF (the client sent FIN) is not a disconnect: a client may half-close after its request and
 * still read the answer. A client that closed completely sent the same FIN, so a plain-TCP
 * HTTP/1.1 connection at EOF gets one interim answer "HTTP/1.1 102 Processing" (RFC 9110: clients
 * must parse 1xx answers; h2o writes nothing while the job runs): a closed client's kernel
 * answers it with RST, seen at the next scan as the TCP state CLOSE. Errors (ECONNRESET, EPIPE, ...) are
 * disconnects. HTTP/1.0 (no 1xx allowed) and TLS (no raw writes) connections at EOF keep their
 * job: the answer is written and, if nobody reads it, the kernel drops it. */
void svc_routes_scan_disconnects(svc_app *app)
{
    static const char probe[] = "HTTP/1.1 102 Processing\r\n\r\n";
    int64_t now = g_get_monotonic_time();
    h2o_linklist_t *node;
    if (now - app->last_disconnect_scan_us < 100000)
        return;
    app->last_disconnect_scan_us = now;
    for (size_t i = 0; i < n_probed; i++)
        probed[i].seen = 0;
    for (node = app->inflight_links.next; node != &app->inflight_links; node = node->next) {
        svc_req_link *link = H2O_STRUCT_FROM_MEMBER(svc_req_link, inflight, node);
        char c;
        ssize_t n;
        if (link->client_gone || link->job == NULL)
            continue;
        n = recv(link->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            link->client_gone = 1;
            atomic_store(&link->job->ctl.cancelled, 1);
        } else if (n == 0 && socket_closed(link->fd)) { /* FIN, then RST (to the probe): recv still says EOF */
            link->client_gone = 1;
            atomic_store(&link->job->ctl.cancelled, 1);
        } else if (n == 0 && !probed_find(link, link->fd)) {
            h2o_req_t *req = link->rc->req;
            h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
            probed_add(link, link->fd);
            if (req->version >= 0x101 && sock != NULL && sock->ssl == NULL &&
                send(link->fd, probe, sizeof(probe) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
                errno != EWOULDBLOCK) {
                link->client_gone = 1; /* the write itself failed: gone */
                atomic_store(&link->job->ctl.cancelled, 1);
            }
        }
    }
    for (size_t i = 0; i < n_probed;) /* forget links no longer waiting */
        if (!probed[i].seen)
            probed[i] = probed[--n_probed];
        else
            i++;
}

/* ---- dispatch --------------------------------------------------------------------------------- */

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    svc_handler *h = (svc_handler *)self;
    svc_reqctx *rc = svc_reqctx_new(h->app, req);
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *path = req->path.base;
    const char *query = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : NULL;
    size_t qlen = query ? req->path.len - req->query_at - 1 : 0;
    qs_query qs;
    const char *methods = "GET";
    const fixed_handler *fh;
    int op;

    svc_crash_set_request(rc->request_id);
    parse_query(req, query, qlen, &qs);
    if (h->app->auth != NULL) {
        h2o_iovec_t origin = header_str(req, "origin");
        if (origin.base != NULL)
            rc->cors_origin = svc_auth_cors_origin(h->app->auth, origin.base, origin.len);
    }
    if (rc->cors_origin != NULL && is_method(req, "OPTIONS")) { /* CORS preflight from an allowed origin */
        rc->route = "preflight";
        svc_respond_preflight(rc);
        return 0;
    }
    if ((fh = find_fixed(path, path_len, &methods)) != NULL && (!h->metrics_only || fh->on_metrics)) {
        rc->route = fh->route;
        if (!method_listed(req, methods)) {
            svc_respond_fail(rc, SVC_E_METHOD_NOT_ALLOWED, "HTTP method not allowed on this route");
            return 0;
        }
        if (fh->needs_key && !h->metrics_only && check_key(rc, &qs) != 0) /* metrics-listen: internal probes */
            return 0;
        fh->fn(rc);
        return 0;
    }
    op = (!h->metrics_only && path_len > 1 && path[0] == '/') ? pl_op_from_name(path + 1, path_len - 1) : -1;
    if (op >= 0)
        return image_route(rc, (pl_op)op, path, path_len, &qs);
    rc->route = "not_found";
    if (!h->metrics_only && check_key(rc, &qs) != 0)
        return 0;
    /* imaginary's exact body plus the additive error name */
    svc_respond_fail(rc, SVC_E_NOT_FOUND, "Not found");
    return 0;
}

void svc_routes_register(svc_app *app, h2o_pathconf_t *pathconf, int metrics_only)
{
    svc_handler *h = (svc_handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->app = app;
    h->metrics_only = metrics_only;
}
