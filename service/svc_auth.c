/*
 * svc_auth: API keys, imaginary-compatible URL signatures and CORS origin decisions.
 *
 * API keys: several at once (rotation), taken from the `API-Key` header, else
 * `Authorization: Bearer <key>`, else the `key=` query parameter (imaginary). Keys are compared
 * through their SHA-256 digests with CRYPTO_memcmp against every configured key, so neither the
 * key's length nor which key matched shows in the timing.
 *
 * URL signatures follow imaginary's validateURLSignature byte for byte: sign = base64url without
 * padding of HMAC-SHA256(key, P + Q), where P is the percent-decoded request path and Q is the
 * query without `sign`, parsed like Go's url.ParseQuery (pairs split on '&', pairs holding ';' or
 * a bad %-escape dropped, '+' = space) and re-encoded like url.Values.Encode (keys sorted
 * byte-wise, values in request order, every byte but A-Z a-z 0-9 - _ . ~ escaped as %XX
 * uppercase, space as '+'). imgpipe adds an optional `expires=UNIX_SECONDS` parameter, covered
 * by the signature, that makes the URL refused (403) after that second.
 *
 * DESIGN (threads): a svc_auth is built once at startup and never changes; every function reads
 * it only, so any thread may call them concurrently. Nothing here allocates on the request path
 * except the query canonicalisation (malloc, freed before return).
 */
#include "svc_auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
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

/* ---- small string helpers ---- */

/* Percent-decode s[0..len) into out (at least len+1 bytes). plus_is_space: query mode ('+' = ' ').
 * Returns the decoded length, or -1 on a bad escape (Go's unescape rejects those). */
static long auth_unescape(const char *s, size_t len, bool plus_is_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -1;
            hi = g_ascii_xdigit_value(s[i + 1]);
            lo = g_ascii_xdigit_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

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

/* ---- query parsing like Go's url.ParseQuery ---- */

typedef struct auth_pair {
    char *key, *value;
    size_t key_len, value_len, order;
} auth_pair;

typedef struct auth_query {
    auth_pair *pairs;
    size_t n;
    char *storage; /* decoded keys and values */
} auth_query;

static void auth_query_free(auth_query *q)
{
    free(q->pairs);
    free(q->storage);
    memset(q, 0, sizeof(*q));
}

/* Parses query (a leading '?' is skipped). Returns 0, or -1 when out of memory. */
static int auth_query_parse(const char *query, size_t len, auth_query *q)
{
    memset(q, 0, sizeof(*q));
    if (query && len && query[0] == '?') {
        query++;
        len--;
    }
    if (!query || !len)
        return 0;
    size_t max_pairs = 1;
    for (size_t i = 0; i < len; i++)
        max_pairs += query[i] == '&';
    q->pairs = calloc(max_pairs, sizeof(*q->pairs));
    q->storage = malloc(2 * len + 2 * max_pairs + 2);
    if (!q->pairs || !q->storage) {
        auth_query_free(q);
        return -1;
    }
    char *st = q->storage;
    const char *p = query, *end = query + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        size_t plen = (size_t)(pe - p);
        if (plen && !memchr(p, ';', plen)) {
            const char *eq = memchr(p, '=', plen);
            size_t klen = eq ? (size_t)(eq - p) : plen;
            const char *v = eq ? eq + 1 : pe;
            size_t vlen = (size_t)(pe - v);
            long kd = auth_unescape(p, klen, true, st);
            long vd = kd < 0 ? -1 : auth_unescape(v, vlen, true, st + kd + 1);
            if (kd >= 0 && vd >= 0) {
                auth_pair *ap = &q->pairs[q->n];
                ap->key = st;
                ap->key_len = (size_t)kd;
                ap->value = st + kd + 1;
                ap->value_len = (size_t)vd;
                ap->order = q->n;
                q->n++;
                st += kd + 1 + vd + 1;
            }
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

/* The first value of name, or NULL (query.Get returns "" for absent; callers tell them apart). */
static const auth_pair *auth_query_get(const auth_query *q, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < q->n; i++)
        if (q->pairs[i].key_len == nlen && memcmp(q->pairs[i].key, name, nlen) == 0)
            return &q->pairs[i];
    return NULL;
}

static int auth_pair_cmp(const void *a, const void *b)
{
    const auth_pair *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order; /* stable: values keep request order */
}

/* HMAC-SHA256(key, decoded path + url.Values.Encode(query without sign)). Returns 0 or -1. */
static int auth_compute(const char *key, size_t key_len, const char *path, size_t path_len, const char *query, size_t query_len,
                        unsigned char mac[SHA256_DIGEST_LENGTH])
{
    int ret = -1;
    auth_query q;
    char *dpath = NULL, *canon = NULL;
    size_t canon_len = 0;
    FILE *f = NULL;

    if (auth_query_parse(query, query_len, &q) != 0)
        return -1;
    dpath = malloc(path_len + 1);
    if (!dpath || auth_unescape(path ? path : "", path_len, false, dpath) < 0)
        goto out;
    qsort(q.pairs, q.n, sizeof(*q.pairs), auth_pair_cmp);
    f = open_memstream(&canon, &canon_len);
    if (!f)
        goto out;
    fputs(dpath, f);
    bool first = true;
    for (size_t i = 0; i < q.n; i++) {
        const auth_pair *ap = &q.pairs[i];
        if (ap->key_len == 4 && memcmp(ap->key, "sign", 4) == 0)
            continue;
        if (!first)
            fputc('&', f);
        first = false;
        auth_query_escape(f, ap->key, ap->key_len);
        fputc('=', f);
        auth_query_escape(f, ap->value, ap->value_len);
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
    free(dpath);
    auth_query_free(&q);
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

svc_auth *svc_auth_new(const char *keys_csv, const char *sign_key, const char *cors_csv, char *errbuf, size_t errlen)
{
    svc_auth *a = calloc(1, sizeof(*a));
    char *copy = NULL;
    if (!a)
        goto oom;

    if (keys_csv && *keys_csv) {
        copy = strdup(keys_csv);
        a->key_digests = calloc(auth_count_items(keys_csv), sizeof(*a->key_digests));
        if (!copy || !a->key_digests)
            goto oom;
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *k = auth_trim(tok);
            if (!*k)
                continue;
            SHA256((const unsigned char *)k, strlen(k), a->key_digests[a->n_keys++]);
        }
        OPENSSL_cleanse(copy, strlen(keys_csv));
        free(copy);
        copy = NULL;
        if (a->n_keys == 0) {
            snprintf(errbuf, errlen,
                     "API keys: '%s' holds no key; give one or more keys separated by commas, or leave it empty "
                     "to accept requests without a key",
                     keys_csv);
            goto fail;
        }
    }

    if (sign_key && *sign_key) {
        size_t n = strlen(sign_key);
        if (n < AUTH_SIGN_KEY_MIN) {
            snprintf(errbuf, errlen,
                     "URL signature key: %zu characters is too short; use at least %d (as imaginary), e.g. "
                     "`openssl rand -hex 32`",
                     n, AUTH_SIGN_KEY_MIN);
            goto fail;
        }
        a->sign_key = strdup(sign_key);
        if (!a->sign_key)
            goto oom;
        a->sign_key_len = n;
    }

    if (cors_csv && *cors_csv) {
        copy = strdup(cors_csv);
        a->origins = calloc(auth_count_items(cors_csv), sizeof(*a->origins));
        if (!copy || !a->origins)
            goto oom;
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *o = auth_trim(tok);
            if (!*o)
                continue;
            if (strcmp(o, "*") == 0) {
                a->cors_any = true;
                continue;
            }
            if (!auth_origin_valid(o)) {
                snprintf(errbuf, errlen,
                         "CORS origin '%s': use '*' or an origin such as https://example.com or "
                         "http://localhost:3000 (scheme://host[:port], no path or trailing slash)",
                         o);
                goto fail;
            }
            char *lc = strdup(o);
            if (!lc)
                goto oom;
            for (char *p = lc; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            a->origins[a->n_origins++] = lc;
        }
        free(copy);
        copy = NULL;
        if (!a->cors_any && a->n_origins == 0) {
            snprintf(errbuf, errlen,
                     "CORS origins: '%s' holds no origin; give '*' or origins separated by commas, or leave it "
                     "empty to turn CORS off",
                     cors_csv);
            goto fail;
        }
    }
    return a;

oom:
    snprintf(errbuf, errlen, "out of memory while reading the auth settings");
fail:
    free(copy);
    svc_auth_free(a);
    return NULL;
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
                                   size_t authorization_len, const char *query, size_t query_len)
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

    auth_query q;
    if (auth_query_parse(query, query_len, &q) != 0)
        return SVC_AUTH_KEY_INVALID;
    const auth_pair *k = auth_query_get(&q, "key");
    svc_auth_result r = SVC_AUTH_KEY_MISSING;
    if (k && k->value_len)
        r = auth_key_matches(a, k->value, k->value_len) ? SVC_AUTH_OK : SVC_AUTH_KEY_INVALID;
    auth_query_free(&q);
    return r;
}

/* expires=UNIX_SECONDS: decimal digits only. Returns 0 or -1. */
static int auth_parse_expires(const auth_pair *p, long long *out)
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

svc_auth_result svc_auth_check_signature(const svc_auth *a, const char *path, size_t path_len, const char *query, size_t query_len,
                                         time_t now)
{
    if (!svc_auth_signing_enabled(a))
        return SVC_AUTH_OK;

    auth_query q;
    svc_auth_result r = SVC_AUTH_SIGN_MALFORMED;
    unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH + 8];
    if (auth_query_parse(query, query_len, &q) != 0)
        return SVC_AUTH_SIGN_MALFORMED;

    /* As imaginary: an absent sign decodes to 0 bytes and so is a mismatch (403), not malformed. */
    const auth_pair *s = auth_query_get(&q, "sign");
    long n = s ? auth_b64url_decode(s->value, s->value_len, got, sizeof(got)) : 0;
    if (n < 0)
        goto out;
    if (auth_compute(a->sign_key, a->sign_key_len, path, path_len, query, query_len, want) != 0)
        goto out; /* bad %-escape in the path: Go's server would have refused the request line */
    if (n != SHA256_DIGEST_LENGTH || CRYPTO_memcmp(got, want, sizeof(want)) != 0) {
        r = SVC_AUTH_SIGN_MISMATCH;
        goto out;
    }
    const auth_pair *e = auth_query_get(&q, "expires");
    if (e) {
        long long t;
        if (auth_parse_expires(e, &t) != 0)
            goto out;
        if ((long long)now > t) {
            r = SVC_AUTH_SIGN_EXPIRED;
            goto out;
        }
    }
    r = SVC_AUTH_OK;
out:
    auth_query_free(&q);
    return r;
}

int svc_auth_sign(const char *key, const char *path, size_t path_len, const char *query, size_t query_len, char *out, size_t outlen)
{
    unsigned char mac[SHA256_DIGEST_LENGTH];
    if (!key || !out || outlen < AUTH_SIG_B64_LEN + 1)
        return -1;
    if (auth_compute(key, strlen(key), path, path_len, query, query_len, mac) != 0)
        return -1;
    auth_b64url_encode(mac, sizeof(mac), out);
    return 0;
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
