/*
 * svc_etag: strong validators for image answers and If-None-Match.
 *
 * ETag = "<32 hex>": the first 128 bits of SHA-256 over the engine version (IMGPIPE_VERSION and
 * libvips'), the limits that can change a result (pl_limits), the parsed plan (pl_plan bytes:
 * a plain value, zeroed before parsing, so equal queries give equal bytes), the Accept header
 * when the plan says type=auto, and the SHA-256 of the source bytes (and of the overlay). The
 * same request on the same build gives the same ETag on every replica.
 *
 * Any thread.
 */
#ifndef SVC_ETAG_H
#define SVC_ETAG_H

#include <stddef.h>
#include <stdint.h>

#include "pl_engine.h"

#define SVC_ETAG_LEN 35 /* quotes + 32 hex + NUL */

/* SHA-256 of the source bytes (the costly part: on the fetch thread for url=/file=). */
void svc_etag_digest(const uint8_t *data, size_t len, uint8_t out[32]);

/* The ETag (quoted) from the source digest; overlay_digest may be NULL; accept only when the
 * plan uses type=auto (NULL otherwise). */
void svc_etag_make(const uint8_t digest[32], const uint8_t *overlay_digest, const pl_plan *plan, const pl_limits *limits,
                   const char *accept, size_t accept_len, char out[SVC_ETAG_LEN]);

/* 1 when an If-None-Match value ("*", or a comma-separated list, weak W/ tags compared weakly
 * as RFC 9110 says) matches etag. */
int svc_etag_match(const char *inm, size_t inm_len, const char *etag);

#endif
