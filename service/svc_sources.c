/*
 * svc_sources: url= and file= sources and the ETag step of image routes, loop thread (rules in
 * svc_sources.h, the fetch itself in svc_fetch.c). Order on a GET (imaginary's): a source
 * parameter must be there (400 "Cannot process the image due to missing or invalid params"),
 * then parameter errors (no fetch for a bad query), a full queue or too many fetches (503), the
 * url= allowlist or the file= path (400/403, no IO), then the fetch thread.
 */
#include "svc_sources.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "svc_etag.h"
#include "svc_fetch.h"
#include "svc_log.h"
#include "svc_metrics.h"
#include "svc_mount.h"
#include "svc_origin.h"
#include "svc_routes.h"

#define MSG_NO_SOURCE "Cannot process the image due to missing or invalid params"
#define MAX_TARGET 8192

typedef struct src_link src_link;

typedef struct src_req {
    svc_fetch_item it; /* first: the receiver gets &it.msg */
    src_link *link;    /* loop only; NULL once the request is gone */
    pl_plan plan;
    char request_id[72];
    const char *route;
    int64_t received_us;
} src_req;

struct src_link {
    src_req *sr;
    svc_reqctx *rc;
};

/* ---- query helpers ---------------------------------------------------------------------------- */

/* The first `name=` pair of the request's one query parse (Go's Query().Get): 1 found (*v = its
 * decoded value), 0 absent, -1 a bad escape or a NUL in it. */
static int source_param(const qs_query *qs, const char *name, const char **v)
{
    for (size_t i = 0; i < qs->n; i++) {
        const qs_pair *p = &qs->pairs[i];
        if (!qs_name_is(p, name))
            continue;
        if ((p->skip & QS_SKIP_ESCAPE) || memchr(p->value, '\0', p->value_len) != NULL)
            return -1;
        *v = p->value;
        return 1;
    }
    return 0;
}

/* The query without its url= and file= pairs (transform refuses names it does not know); the
 * pairs are copied into keep (room for qs->n). */
static qs_query without_sources(const qs_query *qs, qs_pair *keep)
{
    qs_query out = *qs;
    size_t n = 0;
    for (size_t i = 0; i < qs->n; i++)
        if (!qs_name_is(&qs->pairs[i], "url") && !qs_name_is(&qs->pairs[i], "file"))
            keep[n++] = qs->pairs[i];
    out.pairs = keep;
    out.n = n;
    out.heap = NULL;
    return out;
}

static h2o_iovec_t req_header(h2o_req_t *req, const h2o_token_t *tok)
{
    ssize_t i = h2o_find_header(&req->headers, tok, -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static void plan_error(svc_reqctx *rc, pl_op op, const pl_error *err)
{
    int status = pl_error_http_status(err->code, pl_op_is_imaginary(op));
    if (status < 400 || status > 511)
        status = 503;
    svc_respond_error(rc, status, pl_error_name(err->code), err->message, 0);
}

static void overloaded(svc_reqctx *rc, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "server busy: %s; retry later", what);
    svc_respond_fail(rc, SVC_E_OVERLOADED, msg);
}

/* ETag for `digest` (and the overlay's) with this request's plan and Accept; 1 when answered 304. */
static int etag_step(svc_reqctx *rc, const pl_plan *plan, const uint8_t digest[32], const uint8_t *overlay_digest)
{
    h2o_req_t *req = rc->req;
    h2o_iovec_t acc = h2o_iovec_init(NULL, 0), inm;
    if (!rc->app->cfg->etag)
        return 0;
    if (pl_plan_wants_auto(plan)) {
        acc = req_header(req, H2O_TOKEN_ACCEPT);
        if (acc.base == NULL)
            acc = h2o_iovec_init("", 0);
    }
    svc_etag_make(digest, overlay_digest, plan, &rc->app->limits, acc.base, acc.len, rc->etag);
    inm = req_header(req, H2O_TOKEN_IF_NONE_MATCH);
    if (inm.base == NULL || !svc_etag_match(inm.base, inm.len, rc->etag))
        return 0;
    rc->vary_accept = pl_plan_wants_auto(plan);
    svc_respond_not_modified(rc);
    return 1;
}

int svc_sources_etag_body(svc_reqctx *rc, const pl_plan *plan, const uint8_t *data, size_t len, const uint8_t *overlay,
                          size_t overlay_len)
{
    uint8_t d[32], od[32];
    /* An upload is hashed only for a client that asks (If-None-Match): no cache keeps answers to
     * a POST, and SHA-256 costs about 0.56 ms per MB on the loop thread (a 5 MB PNG: 3 of the
     * server's 5 ms); an answer with no hash carries no ETag. */
    if (!rc->app->cfg->etag || req_header(rc->req, H2O_TOKEN_IF_NONE_MATCH).base == NULL)
        return 0;
    svc_etag_digest(data, len, d);
    if (overlay != NULL)
        svc_etag_digest(overlay, overlay_len, od);
    return etag_step(rc, plan, d, overlay != NULL ? od : NULL);
}

/* ---- selection (loop) ------------------------------------------------------------------------- */

static void link_dispose(void *p)
{
    src_link *link = p;
    if (link->sr != NULL) {
        atomic_store(&link->sr->it.cancelled, 1);
        link->sr->link = NULL;
        link->sr = NULL;
    }
}

static void src_free(src_req *sr)
{
    svc_fetch_item_free(&sr->it);
    free(sr);
}

int svc_sources_get_allowed(const svc_app *app)
{
    return app->fetch != NULL;
}

/* The source a GET names: 1 found (*kind, *target), 0 none (answered with MSG_NO_SOURCE unless
 * `quiet`), -1 answered with the error. imaginary: an empty value matches no source. */
static int find_source(svc_reqctx *rc, const qs_query *qs, bool quiet, svc_fetch_kind *kind, const char **target)
{
    svc_app *app = rc->app;
    const char *url = "", *file = "";
    int has_url = app->origins != NULL ? source_param(qs, "url", &url) : 0;
    int has_file = app->mount_fd >= 0 ? source_param(qs, "file", &file) : 0;

    if (has_url < 0 || has_file < 0) {
        svc_respond_fail(rc, has_url < 0 ? SVC_E_INVALID_URL : SVC_E_INVALID_FILE_PATH,
                         has_url < 0 ? "Invalid image URL: bad percent-encoding" : "Invalid file path");
        return -1;
    }
    if ((has_url && strlen(url) >= MAX_TARGET) || (has_file && strlen(file) >= MAX_TARGET)) {
        svc_respond_fail(rc, has_url ? SVC_E_INVALID_URL : SVC_E_INVALID_FILE_PATH,
                         has_url ? "Invalid image URL: longer than 8 KiB" : "Invalid file path");
        return -1;
    }
    if ((has_url && url[0] == '\0') || (has_file && file[0] == '\0'))
        has_url = has_file = 0;
    if (!has_url && !has_file) {
        if (!quiet)
            svc_respond_fail(rc, SVC_E_MISSING_SOURCE, MSG_NO_SOURCE);
        return quiet ? 0 : -1;
    }
    if (has_url && has_file) {
        svc_respond_fail(rc, SVC_E_BAD_PARAMETER, "give the image as url= or as file=, not both");
        return -1;
    }
    *kind = has_url ? SVC_FETCH_URL : SVC_FETCH_FILE;
    *target = has_url ? url : file;
    return 1;
}

/* The plan of the query without its url=/file= pairs; 0, or -1 answered. */
static int parse_plan(svc_reqctx *rc, pl_op op, const qs_query *qs, pl_plan *plan)
{
    pl_error perr;
    qs_pair *keep = malloc((qs->n ? qs->n : 1) * sizeof(*keep));
    if (keep == NULL) {
        svc_respond_fail(rc, SVC_E_OUT_OF_MEMORY, "the server is out of memory; retry later");
        return -1;
    }
    qs_query rest = without_sources(qs, keep);
    int rc_parse = pl_plan_parse_query(pl_op_name(op), &rest, plan, &perr);
    free(keep);
    if (rc_parse != 0) {
        plan_error(rc, op, &perr);
        return -1;
    }
    rc->vary_accept = pl_plan_wants_auto(plan);
    if (op == PL_OP_WATERMARKIMAGE) {
        svc_respond_fail(rc, SVC_E_MISSING_PARAMETER,
                         "watermarkimage needs the overlay image: send multipart/form-data with the image in part \"file\" and "
                         "the overlay in part \"image\"");
        return -1;
    }
    return 0;
}

/* Room for one more fetch and its job, and a target that passes the cheap checks (the fetch
 * thread checks every hop again); 0, or -1 answered. */
static int admit_fetch(svc_reqctx *rc, svc_fetch_kind kind, const char *target)
{
    svc_app *app = rc->app;
    if (svc_pool_full(app->pool)) {
        overloaded(rc, "every worker is busy and the queue is full");
        return -1;
    }
    if (app->fetches >= app->cfg->url_max_fetches) {
        overloaded(rc, "url-max-fetches source reads are in flight");
        return -1;
    }
    if (kind == SVC_FETCH_URL) {
        svc_url u;
        char msg[600];
        svc_url_verdict v = svc_url_check(app->origins, target, &u, msg, sizeof(msg));
        svc_url_clear(&u);
        if (v != SVC_URL_OK) {
            svc_respond_fail(rc, v == SVC_URL_INVALID ? SVC_E_INVALID_URL : SVC_E_ORIGIN_NOT_ALLOWED, msg);
            return -1;
        }
    } else if (svc_mount_path_ok(target, strlen(target)) != 0) {
        svc_respond_fail(rc, SVC_E_INVALID_FILE_PATH, "Invalid file path");
        return -1;
    }
    return 0;
}

/* Hands the read to the source thread and links it to the request (the link's dispose cancels
 * it when the request goes first). Always answers on failure. */
static void start_fetch(svc_reqctx *rc, svc_fetch_kind kind, const char *target, const pl_plan *plan)
{
    svc_app *app = rc->app;
    src_req *sr = calloc(1, sizeof(*sr));
    if (sr == NULL || (sr->it.target = strdup(target)) == NULL) {
        free(sr);
        svc_respond_fail(rc, SVC_E_OUT_OF_MEMORY, "the server is out of memory; retry later");
        return;
    }
    long long budget_ms = app->cfg->deadline_ms < app->cfg->url_timeout_ms ? app->cfg->deadline_ms : app->cfg->url_timeout_ms;
    sr->it.kind = kind;
    sr->it.receiver = &app->fetch_receiver;
    sr->it.deadline_us = rc->received_us + budget_ms * 1000;
    atomic_init(&sr->it.cancelled, 0);
    sr->plan = *plan;
    sr->route = rc->route;
    sr->received_us = rc->received_us;
    snprintf(sr->request_id, sizeof(sr->request_id), "%s", rc->request_id);
    if (svc_fetch_submit(app->fetch, &sr->it) != 0) {
        src_free(sr);
        overloaded(rc, "the server is stopping");
        return;
    }
    src_link *link = h2o_mem_alloc_shared(&rc->req->pool, sizeof(*link), link_dispose);
    link->sr = sr;
    link->rc = rc;
    sr->link = link; /* the fetch thread never reads link */
    app->fetches++;
}

int svc_sources_select(svc_reqctx *rc, pl_op op, const qs_query *qs)
{
    h2o_req_t *req = rc->req;
    bool is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    svc_fetch_kind kind;
    const char *target;
    pl_plan plan;

    if (!is_get && req->entity.base != NULL && req->entity.len > 0)
        return 0; /* a body: it is the image */
    int found = find_source(rc, qs, !is_get, &kind, &target);
    if (found == 0)
        return 0; /* POST without a body or a source: the empty-body answer of the body path */
    if (found < 0 || parse_plan(rc, op, qs, &plan) != 0 || admit_fetch(rc, kind, target) != 0)
        return 1;
    start_fetch(rc, kind, target, &plan);
    return 1;
}

/* ---- the receiver (loop) ---------------------------------------------------------------------- */

static void fetched(svc_app *app, src_req *sr)
{
    src_link *link = sr->link;
    svc_fetch_item *it = &sr->it;
    app->fetches--;
    svc_metrics_source_read(it->kind == SVC_FETCH_FILE, it->status == 0 ? "ok" : it->error);
    if (link == NULL) { /* the request went away during the fetch */
        svc_respond_log_dropped(app, sr->request_id, sr->route, 0, (double)(g_get_monotonic_time() - sr->received_us) / 1000.0);
        src_free(sr);
        return;
    }
    link->sr = NULL;
    sr->link = NULL;
    svc_reqctx *rc = link->rc;
    if (it->status != 0) {
        if (svc_log_on(SVC_LOG_DEBUG))
            svc_log_printf(SVC_LOG_DEBUG, "request %s: source: %s (upstream status %d, %d redirects)", rc->request_id, it->message,
                           it->upstream_status, it->hops);
        svc_respond_error(rc, it->status, it->error ? it->error : "upstream_error", it->message, it->status == 503);
    } else if (it->len == 0) {
        svc_respond_fail(rc, SVC_E_EMPTY_IMAGE, "Empty or unreadable image");
    } else if (etag_step(rc, &sr->plan, it->digest, NULL)) {
        /* 304 answered */
    } else if (svc_pool_full(app->pool)) {
        overloaded(rc, "every worker is busy and the queue is full");
    } else {
        svc_job *job = svc_job_new();
        if (job == NULL || svc_job_set_input(job, it->data, it->len, NULL, 0) != 0) {
            svc_job_free(job);
            svc_respond_fail(rc, SVC_E_OUT_OF_MEMORY, "the server is out of memory; retry later");
        } else {
            free(it->data); /* the job has its copy */
            it->data = NULL;
            svc_routes_submit(rc, job, &sr->plan);
        }
    }
    src_free(sr);
}

static void on_fetched(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    svc_app *app = H2O_STRUCT_FROM_MEMBER(svc_app, fetch_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        src_req *sr = (src_req *)H2O_STRUCT_FROM_MEMBER(svc_fetch_item, msg, msg);
        h2o_linklist_unlink(&msg->link);
        fetched(app, sr);
    }
}

/* At stop, on the fetch thread while the loop no longer runs: nobody will answer these. */
static void discard(svc_fetch_item *it)
{
    src_free((src_req *)it);
}

int svc_sources_start(svc_app *app, char *errbuf, size_t errlen)
{
    const svc_config *cfg = app->cfg;
    svc_fetch_settings s;
    static char ua[64];
    app->mount_fd = -1;
    if (!cfg->enable_url_source && cfg->mount == NULL)
        return 0;
    if (cfg->enable_url_source && (app->origins = svc_origins_new(cfg->allowed_origins, errbuf, errlen)) == NULL)
        return -1;
    if (cfg->mount != NULL && (app->mount_fd = svc_mount_open(cfg->mount, errbuf, errlen)) < 0)
        return -1;
    h2o_multithread_register_receiver(app->ctx.queue, &app->fetch_receiver, on_fetched);
    snprintf(ua, sizeof(ua), "imgpipe/%s", IMGPIPE_VERSION);
    memset(&s, 0, sizeof(s));
    s.origins = app->origins;
    s.allow_private = cfg->allow_private_sources;
    s.max_redirects = (int)cfg->url_max_redirects;
    s.timeout_ms = cfg->url_timeout_ms;
    s.max_bytes = (size_t)cfg->max_body_bytes;
    s.mount_fd = app->mount_fd;
    s.user_agent = ua;
    s.discard = discard;
    if ((app->fetch = svc_fetch_start(&s, errbuf, errlen)) == NULL)
        return -1;
    if (cfg->mount != NULL && !svc_mount_has_openat2())
        svc_log_printf(SVC_LOG_WARN, "mount: this kernel has no openat2; file= is opened by a component walk with O_NOFOLLOW");
    return 0;
}

void svc_sources_stop(svc_app *app)
{
    svc_fetch_stop(app->fetch);
    app->fetch = NULL;
    if (app->origins != NULL)
        svc_origins_free(app->origins);
    app->origins = NULL;
    if (app->mount_fd >= 0)
        close(app->mount_fd);
    app->mount_fd = -1;
}
