/*
 * qs_query: the request query ("a=1&b=2"), parsed once for every reader: the URL-signature check
 * and the API-key lookup (service/svc_auth.c), the option grammar (pipelines/pl_params_query.c) and
 * the service's type=auto test. Pure byte work: no h2o, no libvips, no GLib.
 *
 * A query is split on '&' into pairs (empty pairs skipped), each pair on its first '=' into a
 * name and a value, both percent-decoded (%XX, '+' as a space) like Go's url.QueryUnescape. Every
 * non-empty pair is kept, in request order, with its raw bytes and a `skip` mark telling whether
 * Go's url.ParseQuery (imaginary's parser) would drop it: a ';' anywhere in the pair, or a bad
 * %-escape in its name or value. Readers choose: the signature layer refuses such a query when
 * signing is on, the grammar reads ';' as a plain byte and refuses a bad escape.
 *
 * Decoding keeps every byte: %00 gives a NUL inside a name or value (lengths are exact; each is
 * also NUL-terminated for convenience). No length limit here; callers cap the query.
 *
 * Ownership: a qs_query points into the raw query (not copied: it must outlive the qs_query) and
 * into one block of memory, the caller's (qs_parse_in) or malloc'd (qs_parse, freed by qs_free).
 * A parsed qs_query is read-only: any thread may read it.
 */
#ifndef QS_QUERY_H
#define QS_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* Why url.ParseQuery would drop a pair (qs_pair.skip bits). */
#define QS_SKIP_SEMICOLON 1u /* ';' in the pair (Go >= 1.17: "invalid semicolon separator in query") */
#define QS_SKIP_ESCAPE 2u    /* a '%' not followed by two hex digits, in the name or the value */

typedef struct qs_pair {
    const char *name; /* decoded, name_len bytes plus a NUL */
    size_t name_len;
    const char *value; /* decoded, value_len bytes plus a NUL; "" when the pair has no '=' */
    size_t value_len;
    size_t raw_off, raw_len; /* the pair's bytes in the raw query, without the '&' */
    size_t bad_off, bad_len; /* QS_SKIP_ESCAPE: the first bad escape in the raw query ("%", "%4", "%zz") */
    unsigned skip;           /* 0: url.ParseQuery keeps the pair; else QS_SKIP_* bits */
    bool has_eq;             /* the pair held a '=' ("flag" vs "flag=") */
} qs_pair;

typedef struct qs_query {
    const char *raw; /* the query as given (no leading '?'), raw_len bytes */
    size_t raw_len;
    const qs_pair *pairs; /* every non-empty pair, in request order */
    size_t n;
    size_t n_skipped; /* pairs with skip != 0 */
    void *heap;       /* qs_parse's block; NULL after qs_parse_in */
} qs_query;

/* Bytes qs_parse_in needs for this raw query (always > 0). */
size_t qs_need(const char *raw, size_t len);

/* Parse raw[0..len) into q (raw may be NULL when len is 0; a leading '?' belongs to the first
 * name, as in Go), using mem (mem_len >= qs_need(raw, len), any alignment) for the pairs
 * and the decoded bytes. Returns 0, or -1 when mem is too small. */
int qs_parse_in(const char *raw, size_t len, void *mem, size_t mem_len, qs_query *q);

/* The same with a malloc'd block; free it with qs_free. Returns 0, or -1 when out of memory. */
int qs_parse(const char *raw, size_t len, qs_query *q);
void qs_free(qs_query *q);

/* The first pair named name (exact bytes) that url.ParseQuery keeps (skip == 0), or NULL: Go's
 * Values.Get. */
const qs_pair *qs_get(const qs_query *q, const char *name);

/* Does the pair's decoded name equal name (exact bytes)? */
bool qs_name_is(const qs_pair *p, const char *name);

/* Percent-decode s[0..len) into out (room for len + 1 bytes; NUL-terminated), *out_len bytes;
 * '+' is a space when plus_is_space (query) and kept otherwise (path). Returns 0, or -1 when s
 * holds a bad escape (Go's unescape error): *bad_at (when not NULL) is then the offset of the
 * first one in s, and out still holds the whole string with each bad '%' copied as is. */
int qs_unescape(const char *s, size_t len, bool plus_is_space, char *out, size_t *out_len, size_t *bad_at);

#endif
