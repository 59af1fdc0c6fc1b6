/*
 * svc_openapi: the OpenAPI 3 document served at GET /openapi.json, generated from the grammar's
 * operation and parameter tables (pl_options.h) and the service's fixed routes, so it cannot
 * drift from the code. Built once; thread-safe after svc_openapi_json() first returns.
 */
#ifndef SVC_OPENAPI_H
#define SVC_OPENAPI_H

#include <stddef.h>

/* The service's non-image routes, in one place (the router and the document both use it). */
typedef struct svc_route_info {
    const char *path;    /* "/health" */
    const char *methods; /* "GET" or "GET,POST" */
    const char *summary;
} svc_route_info;
const svc_route_info *svc_openapi_fixed_routes(size_t *count);

/* Returns a malloc'd JSON document (caller frees); *len set. version goes into info.version. */
char *svc_openapi_json(const char *version, size_t *len);

#endif
