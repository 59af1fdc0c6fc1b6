/*
 * svc_sources: where an image request's bytes come from when they are not the body, and the
 * ETag/304 step, on the loop thread. `url=` (enable-url-source + allowed-origins) and `file=`
 * (mount) on GET, or on a POST without a body, are checked here, handed to the fetch thread
 * (svc_fetch.c) and come back to svc_sources_on_fetched, which answers 304/errors or makes the
 * job (svc_job_set_input + svc_routes_submit).
 *
 * DESIGN (request <-> fetch link)
 *   As svc_routes' job link: a shared allocation in req->pool points at the fetch item and the
 *   item points back. If h2o disposes the request first (HTTP/2 reset, connection closed), the
 *   dispose callback sets `cancelled` (the fetch thread aborts the transfer) and clears the
 *   item's link; the receiver then frees the item without answering. Both pointers are touched
 *   on the loop thread only.
 */
#ifndef SVC_SOURCES_H
#define SVC_SOURCES_H

#include "qs_query.h"
#include "svc_app.h"
#include "svc_respond.h"

/* Startup (from svc_http_start, after the context exists): receiver, allowlist, mount, thread. */
int svc_sources_start(svc_app *app, char *errbuf, size_t errlen);
/* After the loop has stopped. */
void svc_sources_stop(svc_app *app);

/* GET is a method of image routes only when a source is on (imaginary: -enable-url-source/-mount). */
int svc_sources_get_allowed(const svc_app *app);

/* Source selection for an image route, after the signature, method and API-key checks: 1 when
 * the request was answered or handed to the fetch thread, 0 when the body is the source. */
int svc_sources_select(svc_reqctx *rc, pl_op op, const qs_query *qs);

/* ETag of an answer from the body; 1 when a matching If-None-Match was answered 304. */
int svc_sources_etag_body(svc_reqctx *rc, const pl_plan *plan, const uint8_t *data, size_t len, const uint8_t *overlay,
                          size_t overlay_len);

#endif
