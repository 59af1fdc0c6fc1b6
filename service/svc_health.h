/*
 * svc_health: the bodies of GET /health (imaginary's fields + imgpipe's), GET / (versions) and
 * GET /ready. Read-only over atomics and /proc: callable from any thread; the loop calls them.
 */
#ifndef SVC_HEALTH_H
#define SVC_HEALTH_H

#include <stddef.h>

#include "svc_app.h"

/* Each writes NUL-terminated JSON into buf and returns its length (truncated to cap - 1). */
size_t svc_health_json(const svc_app *app, char *buf, size_t cap);
size_t svc_health_versions_json(char *buf, size_t cap);
/* Returns the HTTP status (200 ready, 503 draining or saturated) and the body. */
int svc_health_ready_json(const svc_app *app, char *buf, size_t cap, size_t *len);

/* Process resident set size in bytes (VmRSS), and its peak (VmHWM); 0 when unknown. */
void svc_health_rss(unsigned long long *rss, unsigned long long *hwm);

#endif
