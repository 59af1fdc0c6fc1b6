/*
 * test_http_signed_query: one parse of the query for the signature, the API key and the grammar,
 * against a real `imgpipe serve` on 127.0.0.1. With URL signatures on, a signed
 * /watermark?text=Copyright+ACME&key=k1 still works, and the same URL with an extra pair the
 * signature cannot cover (`text=EVIL;` first, or a bad %-escape) is refused 400
 * invalid_signature instead of serving the attacker's text (the grammar reads ';' as a byte and
 * the first text= wins). expires= is accepted on /transform (signed: 200, past: 403). With
 * signing off, ';' stays a plain byte of its value (imaginary compatibility, docs).
 */
#include "svc_auth.h"
#include "svc_test.h"

static char *jpg;
static size_t jpg_len;
static CURL *curl;

#define SIGN_KEY "0123456789abcdef0123456789abcdef-query"

static long post(const tsrv *s, const char *path, tresp *r)
{
    treq q = {.method = "POST", .body = jpg, .body_len = jpg_len};
    t_do(curl, s, path, &q, r);
    return r->status;
}

/* "path?query&sign=…" signed with SIGN_KEY; "" when signing refused the query. */
static const char *signed_url(char *out, size_t outlen, const char *path, const char *query)
{
    char sig[64];
    if (svc_auth_sign(SIGN_KEY, path, strlen(path), query, strlen(query), sig, sizeof(sig)) != 0)
        return "";
    snprintf(out, outlen, "%s?%s&sign=%s", path, query, sig);
    return out;
}

static void test_signed(void)
{
    tsrv s;
    tresp r;
    char url[512], evil[600], fmt[16];
    int w = 0, h = 0;
    const char *args[] = {"--url-signature-key", SIGN_KEY, "--api-keys", "k1", NULL};
    if (!ok(tsrv_start(&s, args, (const char *const[]){"IMGPIPE_LOG_LEVEL=warn", NULL}) == 0, "server with signatures and keys"))
        return;

    signed_url(url, sizeof(url), "/watermark", "text=Copyright+ACME&key=k1");
    ok(url[0] == '/', "signed %s", url);
    is_int(post(&s, url, &r), 200, "the signed watermark URL: 200");
    ok(t_decode(&r, fmt, sizeof(fmt), &w, &h) == 0 && w > 0, "  an image comes back (%s %dx%d)", fmt, w, h);
    tresp_free(&r);

    /* the finding: reuse the signed URL with an unsigned first text= */
    const char *rest = strchr(url, '?') + 1;
    snprintf(evil, sizeof(evil), "/watermark?text=EVIL;&%s", rest);
    is_int(post(&s, evil, &r), 400, "text=EVIL; prepended to the signed URL: 400");
    ok(r.body && strstr(r.body, "\"error\":\"invalid_signature\"") && strstr(r.body, "%3B"),
       "  invalid_signature, the message says how to encode ';' (%s)", r.body ? r.body : "");
    tresp_free(&r);
    snprintf(evil, sizeof(evil), "/watermark?%s&text=EVIL;", rest);
    is_int(post(&s, evil, &r), 400, "text=EVIL; appended: 400");
    tresp_free(&r);
    snprintf(evil, sizeof(evil), "/watermark?x=%%zz&%s", rest);
    is_int(post(&s, evil, &r), 400, "a bad %%-escape pair added: 400 invalid_signature");
    ok(r.body && strstr(r.body, "invalid_signature"), "  named invalid_signature");
    tresp_free(&r);
    snprintf(evil, sizeof(evil), "/watermark?text=EVIL&%s", rest);
    is_int(post(&s, evil, &r), 403, "a plain extra text= (signed over): 403 mismatch, as before");
    tresp_free(&r);

    /* a ';' the client means is encoded, signed and served */
    signed_url(url, sizeof(url), "/watermark", "text=a%3Bb&key=k1");
    is_int(post(&s, url, &r), 200, "text=a%%3Bb signed: 200");
    tresp_free(&r);
    ok(strcmp(signed_url(url, sizeof(url), "/watermark", "text=a;b&key=k1"), "") == 0, "svc_auth_sign refuses a raw ';'");

    /* expires= on transform (and an imaginary route), consumed by the signature layer */
    signed_url(url, sizeof(url), "/transform", "w=64&expires=4102444800&key=k1");
    is_int(post(&s, url, &r), 200, "signed /transform with expires=: 200");
    ok(t_decode(&r, fmt, sizeof(fmt), &w, &h) == 0 && w == 64, "  width 64 (%d)", w);
    tresp_free(&r);
    signed_url(url, sizeof(url), "/transform", "w=64&expires=1000000000&key=k1");
    is_int(post(&s, url, &r), 403, "signed /transform, expires in the past: 403");
    ok(r.body && strstr(r.body, "expired"), "  says expired");
    tresp_free(&r);
    signed_url(url, sizeof(url), "/rotate", "rotate=90&expires=4102444800&key=k1");
    is_int(post(&s, url, &r), 200, "signed /rotate with expires=: 200");
    tresp_free(&r);

    /* the key= the signature covers is the one the key check reads */
    signed_url(url, sizeof(url), "/resize", "width=32&key=nope");
    is_int(post(&s, url, &r), 401, "signed, but a wrong key=: 401");
    tresp_free(&r);

    /* type=auto seen through the parsed query for early errors (Vary: Accept) */
    char v[64];
    post(&s, "/resize?width=10&type=%61uto&sign=AAAA", &r);
    ok(r.status == 403 && t_header(&r, "vary", v, sizeof(v)) && strstr(v, "Accept"),
       "type=%%61uto (decoded auto) sets Vary: Accept on a refusal (%ld)", r.status);
    tresp_free(&r);
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);
}

static void test_unsigned(void)
{
    tsrv s;
    tresp a, b;
    if (!ok(tsrv_start(&s, NULL, (const char *const[]){"IMGPIPE_LOG_LEVEL=warn", NULL}) == 0, "server without signatures"))
        return;
    is_int(post(&s, "/transform?w=64&expires=123", &a), 200, "unsigned /transform?expires=: 200 (accepted, unused)");
    tresp_free(&a);
    post(&s, "/watermark?text=EVIL;&text=ACME", &a);
    post(&s, "/watermark?text=ACME", &b);
    ok(a.status == 200 && b.status == 200 && a.body && b.body && (a.len != b.len || memcmp(a.body, b.body, a.len) != 0),
       "signing off: ';' is a byte of the value and the first text= wins (documented)");
    tresp_free(&a);
    tresp_free(&b);
    is_int(post(&s, "/watermark?text=%zz", &a), 400, "signing off: a bad escape is 400 bad_parameter");
    ok(a.body && strstr(a.body, "bad_parameter"), "  bad_parameter");
    tresp_free(&a);
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (VIPS_INIT("test_http_signed_query"))
        return 1;
    jpg = t_slurp(tap_fixture("imaginary/imaginary.jpg"), &jpg_len);
    if (!ok(jpg != NULL, "fixture loads"))
        return tap_done();
    curl = curl_easy_init();
    test_signed();
    test_unsigned();
    curl_easy_cleanup(curl);
    free(jpg);
    curl_global_cleanup();
    return tap_done();
}
