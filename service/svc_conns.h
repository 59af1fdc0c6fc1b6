/*
 * svc_conns: every client connection the listeners accepted, and the bounds on what they may
 * make the loop buffer: the total of request bodies held at once (max-inflight-body-bytes) and
 * the HTTP/2 streams of one connection receiving a body (http2-max-streams). Loop thread only.
 */
#ifndef SVC_CONNS_H
#define SVC_CONNS_H

#include <h2o.h>

#include "svc_app.h"

struct svc_conn;

/* The body bound in effect: max-inflight-body-bytes, or when 0: memory-budget / 4, at least
 * max-body-bytes (8 x max-body-bytes when memory-budget is 0). */
uint64_t svc_conns_body_limit(const svc_config *cfg);

/* Track a socket just accepted; the caller sets sock->on_close.data to the result (NULL when out
 * of memory: the caller closes the socket) and calls svc_conns_closed() from on_close, which
 * hands the connection to svc_linger. */
struct svc_conn *svc_conns_opened(svc_app *app, h2o_socket_t *sock);
svc_app *svc_conns_closed(struct svc_conn *conn);

/* After every h2o_evloop_run(): measure the bytes buffered by every connection (HTTP/1: the
 * socket's input buffer; HTTP/2: the input buffer and every stream's body buffer), mark and
 * drain the HTTP/2 uploads whose content-length is over max-body-bytes, refuse the
 * HTTP/2 uploads over http2-max-streams per connection, and while the total is over the body
 * limit refuse the largest uploads still being received. */
void svc_conns_scan(svc_app *app);

/* 1 (once) when req is an HTTP/2 request whose content-length was over max-body-bytes: its body
 * was dropped as it arrived and it is to be answered 413 payload_too_large; 0 otherwise. */
int svc_conns_take_oversize(h2o_req_t *req);

/* Keep req's complete body (req->entity) where it is until the request is disposed, so that a job
 * can read it in place (svc_job_pin_input). HTTP/1: h2o frees the socket's buffer only after the
 * request is disposed: true. HTTP/2: the stream's buffer is taken into req->pool (h2o would free
 * it first); true when taken, false when the body lies elsewhere (the caller copies it). Call it
 * before anything registered in req->pool must be disposed ahead of the body. */
bool svc_conns_hold_body(h2o_req_t *req);

#endif
