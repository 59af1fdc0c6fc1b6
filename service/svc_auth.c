/*
 * svc_auth: API keys, imaginary-compatible URL signatures and CORS origin decisions.
 *
 * API keys: several at once (rotation), taken from the `API-Key` header, else
 * `Authorization: Bearer <key>`, else the `key=` query parameter (imaginary). Keys are compared
 * through their SHA-256 digests with CRYPTO_memcmp against every configured key, so neither the
 * key's length nor which key matched shows in the timing.
 *
 * URL signatures follow imaginary's validateURLSignature: sign = base64url without padding of
 * HMAC-SHA256(key, P + Q), where P is the percent-decoded request path and Q is the query without
 * `sign`, as Go's url.ParseQuery reads it (common/qs_query.c: pairs split on '&', '+' = space)
 * re-encoded like url.Values.Encode (keys sorted byte-wise, values in request order, every byte
 * but A-Z a-z 0-9 - _ . ~ escaped as %XX uppercase, space as '+'). imgpipe adds an optional
 * `expires=UNIX_SECONDS` parameter, covered by the signature, that makes the URL refused (403)
 * after that second.
 *
 * One rule on top of imaginary's: ParseQuery drops a pair holding ';' or a bad %-escape, so such a
 * pair is outside the signature, and a reader with another rule (the option grammar reads ';' as a
 * plain byte) would obey text the signer never signed (`text=EVIL;&text=Copyright…&sign=…`). With
 * signing on, a query holding such a pair is refused: 400 invalid_signature, like a malformed
 * sign= (the URL cannot be verified as sent; signing again does not help, encoding does), where
 * 403 means "verifiable, but not by this key or not any more". svc_auth_sign refuses it too.
 *
 * Every reader (the signature, key=, the grammar, type=auto) gets the same qs_query, parsed once
 * per request by the caller.
 *
 * DESIGN (threads): a svc_auth is built once at startup and never changes; every function reads
 * it only, so any thread may call them concurrently. Nothing here allocates on the request path
 * except the canonical string of a signature check (malloc, freed before return).
 */
#include "svc_auth.h"
#include "qs_query.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define AUTH_SIGN_KEY_MIN 32
#define AUTH_SIG_B64_LEN 43 /* 32 bytes, base64 without padding */

struct svc_auth {
    size_t n_keys;
    unsigned char (*key_digests)[SHA256_DIGEST_LENGTH];
    char *sign_key;
    size_t sign_key_len;
    bool cors_any;
    size_t n_origins;
    char **origins; /* lower-cased */
};

/* Go's url.QueryEscape: unreserved bytes kept, space as '+', everything else %XX uppercase. */
static void auth_query_escape(FILE *f, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) && c < 128)
            fputc(c, f);
        else if (c == '-' || c == '_' || c == '.' || c == '~')
            fputc(c, f);
        else if (c == ' ')
            fputc('+', f);
        else
            fprintf(f, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

/* ---- the canonical string: decoded path + url.Values.Encode(query without sign) ---- */

static int auth_pair_cmp(const void *a, const void *b)
{
    const qs_pair *x = *(const qs_pair *const *)a, *y = *(const qs_pair *const *)b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: values keep request order (pairs are in request order) */
}

/* HMAC-SHA256(key, decoded path + url.Values.Encode(the pairs ParseQuery keeps, without sign)).
 * Returns 0 or -1 (bad %-escape in the path, out of memory). */
static int auth_compute(const char *key, size_t key_len, const char *path, size_t path_len, const qs_query *q,
                        unsigned char mac[SHA256_DIGEST_LENGTH])
{
    int ret = -1;
    const qs_pair **sorted = NULL;
    char *dpath = NULL, *canon = NULL;
    size_t canon_len = 0, dpath_len = 0, n = 0;
    FILE *f = NULL;

    dpath = malloc(path_len + 1);
    sorted = malloc((q->n ? q->n : 1) * sizeof(*sorted));
    if (!dpath || !sorted || qs_unescape(path ? path : "", path ? path_len : 0, false, dpath, &dpath_len, NULL) != 0)
        goto out;
    for (size_t i = 0; i < q->n; i++)
        if (q->pairs[i].skip == 0 && !qs_name_is(&q->pairs[i], "sign"))
            sorted[n++] = &q->pairs[i];
    qsort(sorted, n, sizeof(*sorted), auth_pair_cmp);
    f = open_memstream(&canon, &canon_len);
    if (!f)
        goto out;
    fwrite(dpath, 1, dpath_len, f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc('&', f);
        auth_query_escape(f, sorted[i]->name, sorted[i]->name_len);
        fputc('=', f);
        auth_query_escape(f, sorted[i]->value, sorted[i]->value_len);
    }
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)canon, canon_len, mac, &mac_len) ||
        mac_len != SHA256_DIGEST_LENGTH)
        goto out;
    ret = 0;
out:
    if (f)
        fclose(f);
    free(canon);
    free(sorted);
    free(dpath);
    return ret;
}

/* ---- base64url without padding (Go's base64.RawURLEncoding) ---- */

static void auth_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
        out[o++] = al[v >> 6 & 63];
        out[o++] = al[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
        out[o++] = al[v >> 6 & 63];
    }
    out[o] = '\0';
}

/* Decodes like Go's RawURLEncoding.DecodeString: '\r' and '\n' skipped, '=' and any byte outside
 * the URL alphabet rejected, a final group of 1 character rejected. Returns the length or -1. */
static long auth_b64url_decode(const char *s, size_t len, unsigned char *out, size_t outcap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0, nchars = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i], v;
        if (c == '\r' || c == '\n')
            continue;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return -1;
        nchars++;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o < outcap)
                out[o] = (unsigned char)(acc >> bits);
            o++;
        }
    }
    if (nchars % 4 == 1)
        return -1;
    return (long)o;
}

/* ---- construction ---- */

static char *auth_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* "scheme://host[:port]" with no path, query, fragment or whitespace. */
static bool auth_origin_valid(const char *o)
{
    const char *sep = strstr(o, "://");
    if (!sep || sep == o || !isalpha((unsigned char)o[0]))
        return false;
    for (const char *p = o; p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return false;
    const char *host = sep + 3;
    if (!*host)
        return false;
    for (const char *p = host; *p; p++)
        if (*p == '/' || *p == '?' || *p == '#' || *p == ' ' || *p == '*' || *p == ',')
            return false;
    return true;
}

void svc_auth_free(svc_auth *a)
{
    if (!a)
        return;
    free(a->key_digests);
    if (a->sign_key)
        OPENSSL_cleanse(a->sign_key, a->sign_key_len);
    free(a->sign_key);
    for (size_t i = 0; i < a->n_origins; i++)
        free(a->origins[i]);
    free(a->origins);
    free(a);
}

static size_t auth_count_items(const char *csv)
{
    size_t n = 1;
    for (const char *p = csv; *p; p++)
        n += *p == ',';
    return n;
}

#define AUTH_OOM "out of memory while reading the auth settings"

/* The API keys of `keys_csv` (comma-separated), kept as SHA-256 digests; the copy is wiped. */
static int auth_add_keys(svc_auth *a, const char *keys_csv, char *errbuf, size_t errlen)
{
    char *copy = strdup(keys_csv), *save = NULL;
    a->key_digests = calloc(auth_count_items(keys_csv), sizeof(*a->key_digests));
    if (!copy || !a->key_digests) {
        free(copy);
        snprintf(errbuf, errlen, AUTH_OOM);
        return -1;
    }
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *k = auth_trim(tok);
        if (*k)
            SHA256((const unsigned char *)k, strlen(k), a->key_digests[a->n_keys++]);
    }
    OPENSSL_cleanse(copy, strlen(keys_csv));
    free(copy);
    if (a->n_keys == 0) {
        snprintf(errbuf, errlen,
                 "API keys: '%s' holds no key; give one or more keys separated by commas, or leave it empty "
                 "to accept requests without a key",
                 keys_csv);
        return -1;
    }
    return 0;
}

static int auth_set_sign_key(svc_auth *a, const char *sign_key, char *errbuf, size_t errlen)
{
    size_t n = strlen(sign_key);
    if (n < AUTH_SIGN_KEY_MIN) {
        snprintf(errbuf, errlen,
                 "URL signature key: %zu characters is too short; use at least %d (as imaginary), e.g. "
                 "`openssl rand -hex 32`",
                 n, AUTH_SIGN_KEY_MIN);
        return -1;
    }
    if ((a->sign_key = strdup(sign_key)) == NULL) {
        snprintf(errbuf, errlen, AUTH_OOM);
        return -1;
    }
    a->sign_key_len = n;
    return 0;
}

/* One CORS origin: '*' or scheme://host[:port], kept in lower case. */
static int auth_add_origin(svc_auth *a, const char *o, char *errbuf, size_t errlen)
{
    if (strcmp(o, "*") == 0) {
        a->cors_any = true;
        return 0;
    }
    if (!auth_origin_valid(o)) {
        snprintf(errbuf, errlen,
                 "CORS origin '%s': use '*' or an origin such as https://example.com or "
                 "http://localhost:3000 (scheme://host[:port], no path or trailing slash)",
                 o);
        return -1;
    }
    char *lc = strdup(o);
    if (!lc) {
        snprintf(errbuf, errlen, AUTH_OOM);
        return -1;
    }
    for (char *p = lc; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    a->origins[a->n_origins++] = lc;
    return 0;
}

static int auth_add_origins(svc_auth *a, const char *cors_csv, char *errbuf, size_t errlen)
{
    char *copy = strdup(cors_csv), *save = NULL;
    int rc = 0;
    a->origins = calloc(auth_count_items(cors_csv), sizeof(*a->origins));
    if (!copy || !a->origins) {
        free(copy);
        snprintf(errbuf, errlen, AUTH_OOM);
        return -1;
    }
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        char *o = auth_trim(tok);
        if (*o)
            rc = auth_add_origin(a, o, errbuf, errlen);
    }
    free(copy);
    if (rc == 0 && !a->cors_any && a->n_origins == 0) {
        snprintf(errbuf, errlen,
                 "CORS origins: '%s' holds no origin; give '*' or origins separated by commas, or leave it "
                 "empty to turn CORS off",
                 cors_csv);
        rc = -1;
    }
    return rc;
}

svc_auth *svc_auth_new(const char *keys_csv, const char *sign_key, const char *cors_csv, char *errbuf, size_t errlen)
{
    svc_auth *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(errbuf, errlen, AUTH_OOM);
        return NULL;
    }
    if ((keys_csv && *keys_csv && auth_add_keys(a, keys_csv, errbuf, errlen) != 0) ||
        (sign_key && *sign_key && auth_set_sign_key(a, sign_key, errbuf, errlen) != 0) ||
        (cors_csv && *cors_csv && auth_add_origins(a, cors_csv, errbuf, errlen) != 0)) {
        svc_auth_free(a);
        return NULL;
    }
    return a;
}

bool svc_auth_keys_enabled(const svc_auth *a)
{
    return a && a->n_keys > 0;
}

bool svc_auth_signing_enabled(const svc_auth *a)
{
    return a && a->sign_key != NULL;
}

/* ---- checks ---- */

static bool auth_key_matches(const svc_auth *a, const char *key, size_t len)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    int match = 0;
    SHA256((const unsigned char *)key, len, d);
    for (size_t i = 0; i < a->n_keys; i++) /* no early exit: same work whichever key matches */
        match |= CRYPTO_memcmp(d, a->key_digests[i], sizeof(d)) == 0;
    OPENSSL_cleanse(d, sizeof(d));
    return match != 0;
}

svc_auth_result svc_auth_check_key(const svc_auth *a, const char *api_key, size_t api_key_len, const char *authorization,
                                   size_t authorization_len, const qs_query *query)
{
    if (!svc_auth_keys_enabled(a))
        return SVC_AUTH_OK;

    if (api_key && api_key_len)
        return auth_key_matches(a, api_key, api_key_len) ? SVC_AUTH_OK : SVC_AUTH_KEY_INVALID;

    if (authorization && authorization_len > 7 && strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *t = authorization + 7, *e = authorization + authorization_len;
        while (t < e && *t == ' ')
            t++;
        while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > t)
            return auth_key_matches(a, t, (size_t)(e - t)) ? SVC_AUTH_OK : SVC_AUTH_KEY_INVALID;
    }

    const qs_pair *k = query ? qs_get(query, "key") : NULL;
    if (k && k->value_len)
        return auth_key_matches(a, k->value, k->value_len) ? SVC_AUTH_OK : SVC_AUTH_KEY_INVALID;
    return SVC_AUTH_KEY_MISSING;
}

/* expires=UNIX_SECONDS: decimal digits only. Returns 0 or -1. */
static int auth_parse_expires(const qs_pair *p, long long *out)
{
    char buf[32];
    if (p->value_len == 0 || p->value_len >= sizeof(buf))
        return -1;
    memcpy(buf, p->value, p->value_len);
    buf[p->value_len] = '\0';
    for (size_t i = 0; i < p->value_len; i++)
        if (!isdigit((unsigned char)buf[i]))
            return -1;
    errno = 0;
    *out = strtoll(buf, NULL, 10);
    return errno ? -1 : 0;
}

svc_auth_result svc_auth_check_signature(const svc_auth *a, const char *path, size_t path_len, const qs_query *query, time_t now)
{
    if (!svc_auth_signing_enabled(a))
        return SVC_AUTH_OK;

    unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH + 8];
    /* A pair ParseQuery drops is outside the signature: refused, never half-read (see the top). */
    if (query->n_skipped)
        return SVC_AUTH_SIGN_UNCOVERED;

    /* As imaginary: an absent sign decodes to 0 bytes and so is a mismatch (403), not malformed. */
    const qs_pair *s = qs_get(query, "sign");
    long n = s ? auth_b64url_decode(s->value, s->value_len, got, sizeof(got)) : 0;
    if (n < 0)
        return SVC_AUTH_SIGN_MALFORMED;
    if (auth_compute(a->sign_key, a->sign_key_len, path, path_len, query, want) != 0)
        return SVC_AUTH_SIGN_MALFORMED; /* bad %-escape in the path: Go's server would have refused the request line */
    if (n != SHA256_DIGEST_LENGTH || CRYPTO_memcmp(got, want, sizeof(want)) != 0)
        return SVC_AUTH_SIGN_MISMATCH;
    const qs_pair *e = qs_get(query, "expires");
    if (e) {
        long long t;
        if (auth_parse_expires(e, &t) != 0)
            return SVC_AUTH_SIGN_MALFORMED;
        if ((long long)now > t)
            return SVC_AUTH_SIGN_EXPIRED;
    }
    return SVC_AUTH_OK;
}

int svc_auth_sign(const char *key, const char *path, size_t path_len, const char *query, size_t query_len, char *out, size_t outlen)
{
    unsigned char mac[SHA256_DIGEST_LENGTH];
    qs_query q;
    if (!key || !out || outlen < AUTH_SIG_B64_LEN + 1)
        return -1;
    if (qs_parse(query, query ? query_len : 0, &q) != 0)
        return -1;
    int r = q.n_skipped == 0 ? auth_compute(key, strlen(key), path, path_len, &q, mac) : -1;
    qs_free(&q);
    if (r != 0)
        return -1;
    auth_b64url_encode(mac, sizeof(mac), out);
    return 0;
}

const char *svc_auth_message(svc_auth_result r)
{
    switch (r) {
    case SVC_AUTH_OK:
        return "OK";
    case SVC_AUTH_KEY_MISSING:
    case SVC_AUTH_KEY_INVALID:
        return "Invalid or missing API key";
    case SVC_AUTH_SIGN_MALFORMED:
        return "Invalid URL signature";
    case SVC_AUTH_SIGN_UNCOVERED:
        return "Invalid URL signature: a query parameter holds ';' or a bad %-escape, which the signature cannot cover; "
               "percent-encode ';' as %3B and '%' as %25, then sign the URL again";
    case SVC_AUTH_SIGN_MISMATCH:
        return "URL signature mismatch";
    case SVC_AUTH_SIGN_EXPIRED:
        return "URL signature expired";
    }
    return "unauthorized";
}

const char *svc_auth_cors_origin(const svc_auth *a, const char *origin, size_t origin_len)
{
    if (!a)
        return NULL;
    if (a->cors_any)
        return "*";
    if (!origin || !origin_len)
        return NULL;
    for (size_t i = 0; i < a->n_origins; i++)
        if (strlen(a->origins[i]) == origin_len && strncasecmp(a->origins[i], origin, origin_len) == 0)
            return a->origins[i];
    return NULL;
}
