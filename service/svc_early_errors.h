/*
 * svc_early_errors: the answers h2o gives by itself before any handler runs (413 over
 * max-body-bytes, 400 broken framing, 417), in the service's JSON error shape, logged and counted
 * like every other answer. Loop thread only.
 */
#ifndef SVC_EARLY_ERRORS_H
#define SVC_EARLY_ERRORS_H

#include <h2o.h>

#include "svc_app.h"

/* Register on a host's fallback path, which h2o uses for the answers it gives itself. */
void svc_early_errors_register(svc_app *app, h2o_hostconf_t *host);

#endif
