/*
 * svc_http: h2o setup for `imgpipe serve`: global configuration (body limit, timeouts, HTTP/2
 * upgrade and h2c prior knowledge), the loop context, the job receiver, TLS with ALPN (h2,
 * http/1.1) when a certificate and key are configured, and the listening sockets with the
 * max-connections limit. Loop thread only.
 */
#ifndef SVC_HTTP_H
#define SVC_HTTP_H

#include <stddef.h>

#include "svc_app.h"

/* Set up everything and start listening. Returns 0, or -1 with a message in errbuf. */
int svc_http_start(svc_app *app, char *errbuf, size_t errlen);

/* The framing guard's check over an HTTP/1 request's raw header block (request line first):
 * NULL, or why the request is refused (Content-Length with Transfer-Encoding, or two different
 * Content-Length values). Pure; for tests. */
const char *svc_http_framing_problem(const char *buf, size_t len);

/* Stop accepting and close the listening sockets (graceful shutdown, step 1). */
void svc_http_close_listeners(svc_app *app);

#endif
