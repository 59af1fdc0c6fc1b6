/*
 * test_auth: API keys (header, Bearer, key= query, rotation), imaginary URL signatures and their
 * canonical query, expiry, and CORS decisions: every accept and refuse case.
 *
 * The expected signatures were computed independently of this code, with the OpenSSL command
 * line over the canonical string written out by hand from Go's url.Values.Encode rules:
 *   printf '%s' "$CANON" | openssl dgst -sha256 -hmac "$KEY" -binary | basenc --base64url | tr -d =
 */
#include <string.h>
#include <time.h>

#include "qs_query.h"
#include "svc_auth.h"
#include "tap.h"

#define SKEY "0123456789abcdef0123456789abcdef"

/* canonical "/resizeheight=200&type=webp&width=300" */
#define SIG1 "qpdKayqe3lXzmsTsiBXQyIjUriicxT4AXo7WrWbXpD4"
/* canonical
 * "/resizea=~~-_.x&a=2&b=a%2Fb+c&flag=&key=k1&text=%C3%A9t%C3%A9+%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D&z=1"
 */
#define SIG2 "2QglBHLErdNodvpJ_-hVJf4o8IaY0bFV9Z67STMy09U"
/* canonical "/resizeexpires=4102444800&width=10" (2100-01-01) */
#define SIG_FUTURE "4nfv5b53hPHdAXtuWEDBtH9tyvirEnsG8XPgxDZ_ogU"
/* canonical "/resizeexpires=1000000000&width=10" (2001-09-09) */
#define SIG_PAST "hYdA6evvb_xI3G5htu_RDJ1NAW0FFO3AJ8pJ1xftMPQ"

/* The raw query for SIG2: escapes in both cases, '+' and %20 spaces, a valueless pair, repeated
 * keys, empty pairs (skipped, as Go's ParseQuery does). */
#define Q2 "z=1&text=%c3%a9t%C3%A9%20!*'()%3B:@%26%3D%2B$,/?%23[]&b=a%2Fb+c&a=%7E~-_.x&flag&key=k1&a=2&&"

/* The query is parsed once (common/qs_query.h), as the service does per request. */
static svc_auth_result sig(const svc_auth *a, const char *path, const char *query, time_t now)
{
    qs_query q;
    if (qs_parse(query, query ? strlen(query) : 0, &q) != 0)
        return (svc_auth_result)-1;
    svc_auth_result r = svc_auth_check_signature(a, path, strlen(path), &q, now);
    qs_free(&q);
    return r;
}

static svc_auth_result key(const svc_auth *a, const char *hdr, const char *authz, const char *query)
{
    qs_query q;
    if (qs_parse(query, query ? strlen(query) : 0, &q) != 0)
        return (svc_auth_result)-1;
    svc_auth_result r = svc_auth_check_key(a, hdr, hdr ? strlen(hdr) : 0, authz, authz ? strlen(authz) : 0, &q);
    qs_free(&q);
    return r;
}

static void test_config(void)
{
    char err[256] = "";
    svc_auth *a = svc_auth_new(NULL, NULL, NULL, err, sizeof(err));
    ok(a != NULL, "all-off configuration accepted");
    ok(!svc_auth_keys_enabled(a) && !svc_auth_signing_enabled(a), "keys and signatures off");
    is_int(key(a, NULL, NULL, NULL), SVC_AUTH_OK, "no key required when keys are off");
    is_int(sig(a, "/resize", "width=1", 0), SVC_AUTH_OK, "no signature required when signing is off");
    ok(svc_auth_cors_origin(a, "https://x.example", 17) == NULL, "no CORS header when CORS is off");
    svc_auth_free(a);

    a = svc_auth_new("", "", "", err, sizeof(err));
    ok(a && !svc_auth_keys_enabled(a) && !svc_auth_signing_enabled(a), "empty strings mean off");
    svc_auth_free(a);

    err[0] = '\0';
    ok(svc_auth_new(NULL, "short-key", NULL, err, sizeof(err)) == NULL && strstr(err, "at least 32"),
       "a signature key under 32 characters is refused with a hint (%s)", err);
    err[0] = '\0';
    ok(svc_auth_new(" , ,", NULL, NULL, err, sizeof(err)) == NULL && strstr(err, "no key"),
       "a key list without keys is refused (%s)", err);
    err[0] = '\0';
    ok(svc_auth_new(NULL, NULL, "https://ok.example, https://bad.example/path", err, sizeof(err)) == NULL &&
           strstr(err, "bad.example/path"),
       "a CORS origin with a path is refused, naming it (%s)", err);
    err[0] = '\0';
    ok(svc_auth_new(NULL, NULL, "example.com", err, sizeof(err)) == NULL, "a CORS origin without scheme is refused (%s)", err);
}

static void test_keys(void)
{
    char err[256];
    svc_auth *a = svc_auth_new(" old-key-1 ,new-key-2", NULL, NULL, err, sizeof(err));
    if (!ok(a != NULL, "two keys accepted (%s)", a ? "" : err))
        return;
    ok(svc_auth_keys_enabled(a), "keys enabled");
    is_int(key(a, NULL, NULL, NULL), SVC_AUTH_KEY_MISSING, "no key at all: missing (401)");
    is_int(key(a, NULL, NULL, "width=100"), SVC_AUTH_KEY_MISSING, "query without key=: missing");
    is_int(key(a, "old-key-1", NULL, NULL), SVC_AUTH_OK, "API-Key header with the first key");
    is_int(key(a, "new-key-2", NULL, NULL), SVC_AUTH_OK, "API-Key header with the second key (rotation)");
    is_int(key(a, "new-key-", NULL, NULL), SVC_AUTH_KEY_INVALID, "a prefix of a key is refused");
    is_int(key(a, "new-key-22", NULL, NULL), SVC_AUTH_KEY_INVALID, "a key with an extra byte is refused");
    is_int(key(a, "old-key-1,new-key-2", NULL, NULL), SVC_AUTH_KEY_INVALID, "the whole list is not a key");
    is_int(key(a, "wrong", NULL, "key=old-key-1"), SVC_AUTH_KEY_INVALID, "a wrong header is not rescued by key= (as imaginary)");
    is_int(key(a, NULL, "Bearer new-key-2", NULL), SVC_AUTH_OK, "Authorization: Bearer");
    is_int(key(a, NULL, "bearer   new-key-2  ", NULL), SVC_AUTH_OK, "Bearer scheme case-insensitive, spaces trimmed");
    is_int(key(a, NULL, "Bearer nope", NULL), SVC_AUTH_KEY_INVALID, "wrong Bearer token");
    is_int(key(a, NULL, "Basic b2xkLWtleS0xOg==", NULL), SVC_AUTH_KEY_MISSING, "Basic auth is not a key");
    is_int(key(a, NULL, NULL, "width=1&key=old-key-1"), SVC_AUTH_OK, "key= query parameter");
    is_int(key(a, NULL, NULL, "key=new%2Dkey%2D2"), SVC_AUTH_OK, "key= is percent-decoded");
    is_int(key(a, NULL, NULL, "?key=new-key-2"), SVC_AUTH_KEY_MISSING, "a leading ? belongs to the name, as in Go");
    is_int(key(a, NULL, NULL, "key=old-key-1;x=1"), SVC_AUTH_KEY_MISSING, "key= in a pair with ';' is dropped, as Go's Get");
    is_int(key(a, NULL, NULL, "key=old%zz&key=new-key-2"), SVC_AUTH_OK, "a key= with a bad escape is dropped; the next counts");
    is_int(key(a, NULL, NULL, "key=old-key-1%00"), SVC_AUTH_KEY_INVALID, "%%00 is a byte of the key (no truncation)");
    is_int(key(a, NULL, NULL, "key=bad&key=old-key-1"), SVC_AUTH_KEY_INVALID, "only the first key= counts (Go's Get)");
    is_int(key(a, NULL, NULL, "key="), SVC_AUTH_KEY_MISSING, "empty key= is missing");
    is_int(key(a, NULL, NULL, "xkey=old-key-1"), SVC_AUTH_KEY_MISSING, "a parameter ending in key is not key=");
    svc_auth_free(a);
}

static void test_signatures(void)
{
    char err[256], out[64];
    time_t now = 1700000000; /* 2023-11-14 */

    ok(svc_auth_sign(SKEY, "/resize", 7, "width=300&height=200&type=webp", 30, out, sizeof(out)) == 0, "sign works");
    is_str(out, SIG1, "signature equals the one computed with openssl");
    ok(svc_auth_sign(SKEY, "/resize", 7, Q2, strlen(Q2), out, sizeof(out)) == 0, "sign of an awkward query works");
    is_str(out, SIG2, "canonical query matches Go's url.Values.Encode byte for byte");
    is_int(svc_auth_sign(SKEY, "/resize", 7, "", 0, out, 43), -1, "sign refuses a buffer without room for the NUL");
    is_int(svc_auth_sign(SKEY, "/resize", 7, Q2 "&x=1;y=2", strlen(Q2) + 8, out, sizeof(out)), -1,
           "sign refuses a query with a ';' pair (the check would refuse it)");
    is_int(svc_auth_sign(SKEY, "/resize", 7, "bad=%zz", 7, out, sizeof(out)), -1, "sign refuses a bad %%-escape");

    svc_auth *a = svc_auth_new(NULL, SKEY, NULL, err, sizeof(err));
    if (!ok(a != NULL && svc_auth_signing_enabled(a), "signing enabled"))
        return;
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=" SIG1, now), SVC_AUTH_OK, "good signature accepted");
    is_int(sig(a, "/resize", "sign=" SIG1 "&type=webp&height=200&width=300", now), SVC_AUTH_OK, "parameter order does not matter");
    is_int(sig(a, "/res%69ze", "width=300&height=200&type=webp&sign=" SIG1, now), SVC_AUTH_OK,
           "the path is percent-decoded (Go's URL.Path)");
    is_int(sig(a, "/resize", Q2 "&sign=" SIG2, now), SVC_AUTH_OK, "awkward query accepted");
    /* pairs url.ParseQuery drops are outside the signature: such a query is refused, never half-read */
    is_int(sig(a, "/resize", "text=EVIL;&width=300&height=200&type=webp&sign=" SIG1, now), SVC_AUTH_SIGN_UNCOVERED,
           "an extra pair holding ';' (unsigned): 400 uncovered, though the signed pairs match");
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=" SIG1 "&x=1;y=2", now), SVC_AUTH_SIGN_UNCOVERED,
           "';' in a later pair: 400 uncovered");
    is_int(sig(a, "/resize", "bad=%zz&width=300&height=200&type=webp&sign=" SIG1, now), SVC_AUTH_SIGN_UNCOVERED,
           "a bad %%-escape (unsigned): 400 uncovered");
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=" SIG1 ";", now), SVC_AUTH_SIGN_UNCOVERED,
           "';' in the sign pair itself: 400 uncovered");
    is_int(sig(a, "/resize", "text=%3B&width=300&height=200&type=webp&sign=" SIG1, now), SVC_AUTH_SIGN_MISMATCH,
           "an encoded ';' (%%3B) is a signed byte: 403");
    ok(strstr(svc_auth_message(SVC_AUTH_SIGN_UNCOVERED), "%3B") != NULL, "the uncovered message tells how to encode ';'");
    is_int(sig(a, "/resize", "width=301&height=200&type=webp&sign=" SIG1, now), SVC_AUTH_SIGN_MISMATCH, "changed value: 403");
    is_int(sig(a, "/fit", "width=300&height=200&type=webp&sign=" SIG1, now), SVC_AUTH_SIGN_MISMATCH, "changed path: 403");
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&extra=1&sign=" SIG1, now), SVC_AUTH_SIGN_MISMATCH,
           "added parameter: 403");
    is_int(sig(a, "/resize", "width=300&height=200&type=webp", now), SVC_AUTH_SIGN_MISMATCH,
           "no sign: 403 mismatch, as imaginary (empty decodes to nothing)");
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=" SIG1 "=", now), SVC_AUTH_SIGN_MALFORMED,
           "padded signature: 400 malformed");
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=qpdK+ayqe3lXzmsTsiBXQyIjUriicxT4AXo7WrWbXpD4", now),
           SVC_AUTH_SIGN_MALFORMED, "a byte outside base64url: 400");
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=qpdKa", now), SVC_AUTH_SIGN_MALFORMED,
           "a 5-character (impossible) base64 length: 400");
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=qpdKayqe", now), SVC_AUTH_SIGN_MISMATCH,
           "well-formed but short signature: 403");
    {
        char flipped[] = "width=300&height=200&type=webp&sign=" SIG1;
        char *s = strstr(flipped, "sign=") + 5;
        s[10] = s[10] == 'A' ? 'B' : 'A';
        is_int(sig(a, "/resize", flipped, now), SVC_AUTH_SIGN_MISMATCH, "one character changed: 403");
    }
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=" SIG1 "&sign=zzz", now), SVC_AUTH_OK,
           "every sign= is removed, the first is checked (Go's Get/Del)");

    /* expiry */
    is_int(sig(a, "/resize", "width=10&expires=4102444800&sign=" SIG_FUTURE, now), SVC_AUTH_OK, "future expires accepted");
    is_int(sig(a, "/resize", "width=10&expires=1000000000&sign=" SIG_PAST, now), SVC_AUTH_SIGN_EXPIRED,
           "past expires: 403 expired");
    is_int(sig(a, "/resize", "width=10&expires=1000000000&sign=" SIG_PAST, 1000000000), SVC_AUTH_OK, "valid up to its second");
    is_int(sig(a, "/resize", "width=10&expires=1000000000&sign=" SIG_PAST, 1000000001), SVC_AUTH_SIGN_EXPIRED,
           "expired one second later");
    is_int(sig(a, "/resize", "width=10&expires=4102444801&sign=" SIG_FUTURE, now), SVC_AUTH_SIGN_MISMATCH,
           "expires is covered by the signature");
    is_int(sig(a, "/resize", "width=10&sign=" SIG_FUTURE, now), SVC_AUTH_SIGN_MISMATCH, "dropping expires breaks the signature");
    ok(svc_auth_sign(SKEY, "/resize", 7, "width=10&expires=soon", 21, out, sizeof(out)) == 0, "sign a bad expires");
    {
        char q[128];
        snprintf(q, sizeof(q), "width=10&expires=soon&sign=%s", out);
        is_int(sig(a, "/resize", q, now), SVC_AUTH_SIGN_MALFORMED, "a signed but non-numeric expires: 400");
    }
    svc_auth_free(a);

    /* a different key does not verify */
    a = svc_auth_new(NULL, SKEY "x", NULL, err, sizeof(err));
    is_int(sig(a, "/resize", "width=300&height=200&type=webp&sign=" SIG1, now), SVC_AUTH_SIGN_MISMATCH, "another key: 403");
    svc_auth_free(a);
}

static void test_cors(void)
{
    char err[256];
    svc_auth *a = svc_auth_new(NULL, NULL, "https://app.example.com, http://localhost:3000", err, sizeof(err));
    if (!ok(a != NULL, "CORS origins accepted"))
        return;
    const char *o = "https://app.example.com";
    is_str(svc_auth_cors_origin(a, o, strlen(o)), "https://app.example.com", "listed origin echoed");
    o = "http://localhost:3000";
    is_str(svc_auth_cors_origin(a, o, strlen(o)), "http://localhost:3000", "second listed origin echoed");
    o = "HTTPS://App.Example.com";
    is_str(svc_auth_cors_origin(a, o, strlen(o)), "https://app.example.com", "scheme and host compare case-insensitively");
    o = "https://app.example.com.evil.test";
    ok(svc_auth_cors_origin(a, o, strlen(o)) == NULL, "a longer host is refused");
    o = "https://app.example.co";
    ok(svc_auth_cors_origin(a, o, strlen(o)) == NULL, "a prefix is refused");
    o = "http://app.example.com";
    ok(svc_auth_cors_origin(a, o, strlen(o)) == NULL, "another scheme is refused");
    o = "http://localhost:3001";
    ok(svc_auth_cors_origin(a, o, strlen(o)) == NULL, "another port is refused");
    o = "https://app.example.comXXXX";
    ok(svc_auth_cors_origin(a, o, 23) != NULL, "origin_len is honoured (not NUL-terminated input)");
    ok(svc_auth_cors_origin(a, NULL, 0) == NULL, "no Origin header, no CORS header");
    svc_auth_free(a);

    a = svc_auth_new(NULL, NULL, "*", err, sizeof(err));
    o = "https://anything.test";
    is_str(svc_auth_cors_origin(a, o, strlen(o)), "*", "'*' allows any origin");
    svc_auth_free(a);
}

int main(void)
{
    test_config();
    test_keys();
    test_signatures();
    test_cors();
    return tap_done();
}
