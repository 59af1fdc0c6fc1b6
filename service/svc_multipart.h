/*
 * svc_multipart: a small multipart/form-data parser (RFC 7578 / RFC 2046) over a buffer that is
 * already in memory. Zero-copy: every span points into the caller's buffers, which must outlive
 * the parts. Pure (no h2o, no allocation, no globals): safe from any thread, and fuzzable.
 * Debian 12 packages no C multipart parser, hence this file.
 */
#ifndef SVC_MULTIPART_H
#define SVC_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

typedef struct svc_span {
    const uint8_t *p;
    size_t len;
} svc_span;

typedef struct svc_mp_part {
    svc_span name;         /* Content-Disposition name="…" (unquoted, without escapes) */
    svc_span filename;     /* filename="…" or empty */
    svc_span content_type; /* the part's Content-Type or empty */
    svc_span data;         /* the part's bytes */
} svc_mp_part;

#define SVC_MP_MAX_BOUNDARY 200
/* A part's header block (from after its delimiter line to its blank line) longer than this is
 * refused: the parser never searches further for the blank line. */
#define SVC_MP_MAX_HEADER_BYTES 8192

/* If the Content-Type value names a multipart type ("multipart/…", any case), returns 1 and sets
 * *boundary (unquoted; empty when the parameter is missing); otherwise returns 0. */
int svc_multipart_is(const char *ct, size_t ct_len, svc_span *boundary);

/* Parse body into at most max parts. Returns 0 with *n set, or -1 with *err set to a static,
 * client-safe message. */
int svc_multipart_parse(const uint8_t *body, size_t len, svc_span boundary, svc_mp_part *parts, size_t max, size_t *n,
                        const char **err);

/* The same, also returning in *scanned how many body bytes the searches examined (at most, per
 * search, up to the end of its match): about len for a well-formed body, never more than
 * len + parts x 2 x SVC_MP_MAX_HEADER_BYTES. For tests. */
int svc_multipart_parse_counted(const uint8_t *body, size_t len, svc_span boundary, svc_mp_part *parts, size_t max, size_t *n,
                                size_t *scanned, const char **err);

/* First part whose name equals name (case-sensitive), or NULL. */
const svc_mp_part *svc_multipart_find(const svc_mp_part *parts, size_t n, const char *name);

#endif
