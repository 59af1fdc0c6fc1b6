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

/* Stop accepting and close the listening sockets (graceful shutdown, step 1). */
void svc_http_close_listeners(svc_app *app);

#endif
