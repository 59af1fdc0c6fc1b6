/*
 * svc_early_errors: the answers h2o gives by itself before any handler runs (413 over
 * max-body-bytes, 400 broken framing, 417), in the service's JSON error shape, logged and counted
 * like every other answer, and the 413 of an HTTP/2 upload over the limit. Loop thread only.
 */
#ifndef SVC_EARLY_ERRORS_H
#define SVC_EARLY_ERRORS_H

#include <h2o.h>

#include "svc_app.h"

/* Register on a host's fallback path, which h2o uses for the answers it gives itself. */
void svc_early_errors_register(svc_app *app, h2o_hostconf_t *host);

/* Answer req 413 payload_too_large (JSON, access log, metrics): for an HTTP/2 upload whose
 * content-length was over max-body-bytes (svc_conns_take_oversize). */
void svc_early_errors_send_too_large(svc_app *app, h2o_req_t *req);

#endif
