/*
 * svc_routes: the route table and the request handlers (image routes, /, /health, /ready,
 * /metrics, /openapi.json), plus the receiver that turns finished jobs into responses.
 * Loop thread only.
 */
#ifndef SVC_ROUTES_H
#define SVC_ROUTES_H

#include <h2o.h>

#include "svc_app.h"
#include "svc_job.h"
#include "svc_respond.h"

/* Register the handler on pathconf; metrics_only restricts it to /metrics, /health, /ready. */
void svc_routes_register(svc_app *app, h2o_pathconf_t *pathconf, int metrics_only);

/* The h2o_multithread receiver callback for finished jobs (registered by svc_http). */
void svc_routes_on_jobs(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

/* HTTP/1 clients that went away while their job waits or runs: h2o 2.2 does not read an HTTP/1
 * socket while a request is being handled, so the loop peeks at those sockets (at most every
 * 100 ms) and cancels the jobs of the ones reset (an error, or TCP state CLOSE). EOF alone is a
 * half-close: plain-TCP HTTP/1.1 sockets at EOF get one "102 Processing" probe, which a closed
 * client's kernel answers with a reset. */
void svc_routes_scan_disconnects(svc_app *app);

/* Submit a job whose input is already set (svc_job_set_input) for plan, linked to the request as
 * image_route's jobs are; answers 503 itself when the pool refuses. Loop thread. */
void svc_routes_submit(svc_reqctx *rc, svc_job *job, const pl_plan *plan);

#endif
