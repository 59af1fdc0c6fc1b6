/*
 * svc_auth: API keys, imaginary-compatible URL signatures and CORS decisions.
 * Pure functions over an immutable svc_auth built at startup: safe from any thread.
 */
#ifndef SVC_AUTH_H
#define SVC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "qs_query.h"

typedef struct svc_auth svc_auth;

typedef enum {
    SVC_AUTH_OK = 0,
    SVC_AUTH_KEY_MISSING,    /* 401 */
    SVC_AUTH_KEY_INVALID,    /* 401 */
    SVC_AUTH_SIGN_MALFORMED, /* 400 "Invalid URL signature" (padded, not base64url); a missing sign= is a mismatch (403), as
                                imaginary */
    SVC_AUTH_SIGN_UNCOVERED, /* 400 invalid_signature: a pair url.ParseQuery drops (';', bad %-escape), so unsigned */
    SVC_AUTH_SIGN_MISMATCH,  /* 403 */
    SVC_AUTH_SIGN_EXPIRED,   /* 403 (expires= in the past) */
} svc_auth_result;

/* keys_csv: comma-separated API keys (NULL/"" = no key required). sign_key: URL-signature HMAC key
 * (NULL/"" = signatures off; imaginary requires >= 32 chars). cors_csv: allowed origins ("*" = any,
 * NULL/"" = CORS off). Returns NULL with a message in errbuf on a bad configuration. */
svc_auth *svc_auth_new(const char *keys_csv, const char *sign_key, const char *cors_csv, char *errbuf, size_t errlen);
void svc_auth_free(svc_auth *a);

bool svc_auth_keys_enabled(const svc_auth *a);
bool svc_auth_signing_enabled(const svc_auth *a);

/* api_key: the API-Key header value (or NULL); authorization: the Authorization header (or NULL,
 * "Bearer <key>" accepted); query: the request's parsed query (or NULL): the first key= that
 * url.ParseQuery keeps is looked at. Constant-time compare. */
svc_auth_result svc_auth_check_key(const svc_auth *a, const char *api_key, size_t api_key_len, const char *authorization,
                                   size_t authorization_len, const qs_query *query);

/* path: the request path without query (raw, percent-decoded here); query: the request's parsed
 * query, sign= (and optional expires=UNIX_SECONDS) included. HMAC-SHA256(key, path + canonical
 * sorted query without sign), base64url without padding, as imaginary. A query holding a pair
 * url.ParseQuery drops is SVC_AUTH_SIGN_UNCOVERED, whatever its signature. */
svc_auth_result svc_auth_check_signature(const svc_auth *a, const char *path, size_t path_len, const qs_query *query, time_t now);

/* Compute the signature for path + raw query (query without sign=). Writes a NUL-terminated
 * string. Returns 0, or -1 (also for a query svc_auth_check_signature would refuse as uncovered). */
int svc_auth_sign(const char *key, const char *path, size_t path_len, const char *query, size_t query_len, char *out,
                  size_t outlen);

/* The public message for a refusal (imaginary's text where it has one; a hint for the uncovered query). */
const char *svc_auth_message(svc_auth_result r);

/* The value for Access-Control-Allow-Origin for this request's Origin, or NULL (no CORS headers). */
const char *svc_auth_cors_origin(const svc_auth *a, const char *origin, size_t origin_len);

#endif
