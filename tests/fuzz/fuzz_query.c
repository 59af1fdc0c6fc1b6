/*
 * fuzz_query: libFuzzer target for the query layer (common/qs_query.c) and the URL signature over
 * it (service/svc_auth.c). Input: the raw query bytes. Checks on every input:
 * - the pairs tile the query: raw spans in order, non-empty, without '&', separated only by '&';
 * - each skip mark is exactly Go's rule, recomputed here independently (';' in the pair; a '%' in
 *   the name or the value without two hex digits after it inside that part), n_skipped counts them;
 * - decoded names and values are NUL-terminated and no longer than their raw bytes; qs_get is the
 *   first unmarked pair of that name;
 * - qs_parse_in at an odd address gives the same pairs as qs_parse;
 * - re-encoding the kept pairs (every byte %XX) and parsing again gives the same names and values;
 * - signing: svc_auth_sign succeeds exactly when no pair is marked, and then the URL with its
 *   sign= verifies (or is expired / a bad expires=, never a mismatch); a marked query never
 *   verifies (SVC_AUTH_SIGN_UNCOVERED), whatever its signature.
 * Build and run with tests/fuzz/run-fuzz.sh query SECONDS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qs_query.h"
#include "svc_auth.h"

#define FUZZ_KEY "0123456789abcdef0123456789abcdef-fuzz"

static int fuzz_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int fuzz_bad_escape(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '%') {
            if (i + 2 >= len || !fuzz_hex((unsigned char)s[i + 1]) || !fuzz_hex((unsigned char)s[i + 2]))
                return 1;
            i += 2;
        }
    return 0;
}

static void fuzz_same_pairs(const qs_query *a, const qs_query *b)
{
    if (a->n != b->n || a->n_skipped != b->n_skipped)
        abort();
    for (size_t i = 0; i < a->n; i++) {
        const qs_pair *x = &a->pairs[i], *y = &b->pairs[i];
        if (x->name_len != y->name_len || x->value_len != y->value_len || memcmp(x->name, y->name, x->name_len) != 0 ||
            memcmp(x->value, y->value, x->value_len) != 0 || x->skip != y->skip || x->raw_off != y->raw_off ||
            x->raw_len != y->raw_len || x->bad_off != y->bad_off || x->bad_len != y->bad_len || x->has_eq != y->has_eq)
            abort();
    }
}

static void fuzz_check_pairs(const char *raw, size_t len, const qs_query *q)
{
    size_t at = 0, skipped = 0;
    for (size_t i = 0; i < q->n; i++) {
        const qs_pair *p = &q->pairs[i];
        if (p->raw_off < at || p->raw_len == 0 || p->raw_off + p->raw_len > len)
            abort();
        for (size_t k = at; k < p->raw_off; k++)
            if (raw[k] != '&')
                abort();
        const char *r = raw + p->raw_off;
        if (memchr(r, '&', p->raw_len) != NULL)
            abort();
        const char *eq = memchr(r, '=', p->raw_len);
        size_t klen = eq ? (size_t)(eq - r) : p->raw_len;
        unsigned want = 0;
        if (memchr(r, ';', p->raw_len) != NULL)
            want |= QS_SKIP_SEMICOLON;
        if (fuzz_bad_escape(r, klen) || (eq && fuzz_bad_escape(eq + 1, p->raw_len - klen - 1)))
            want |= QS_SKIP_ESCAPE;
        if (p->skip != want || p->has_eq != (eq != NULL))
            abort();
        if ((want & QS_SKIP_ESCAPE) && (p->bad_off < p->raw_off || p->bad_off >= p->raw_off + p->raw_len ||
                                        raw[p->bad_off] != '%' || p->bad_len < 1 || p->bad_len > 3))
            abort();
        skipped += want != 0;
        if (p->name_len > klen || p->value_len > (eq ? p->raw_len - klen - 1 : 0) || p->name[p->name_len] != '\0' ||
            p->value[p->value_len] != '\0')
            abort();
        at = p->raw_off + p->raw_len;
    }
    for (size_t k = at; k < len; k++)
        if (raw[k] != '&')
            abort();
    if (skipped != q->n_skipped)
        abort();
    /* qs_get: the first unmarked pair of each name */
    for (size_t i = 0; i < q->n && i < 64; i++) {
        const qs_pair *p = &q->pairs[i];
        if (memchr(p->name, '\0', p->name_len) != NULL)
            continue;
        const qs_pair *g = qs_get(q, p->name), *want = NULL;
        for (size_t j = 0; j < q->n && !want; j++)
            if (q->pairs[j].skip == 0 && q->pairs[j].name_len == p->name_len && memcmp(q->pairs[j].name, p->name, p->name_len) == 0)
                want = &q->pairs[j];
        if (g != want)
            abort();
    }
}

/* Every kept pair re-encoded byte by byte; parsing it again must give the same names and values. */
static void fuzz_round_trip(const qs_query *q)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t cap = 1, o = 0;
    for (size_t i = 0; i < q->n; i++)
        cap += 3 * (q->pairs[i].name_len + q->pairs[i].value_len) + 2;
    char *s = malloc(cap);
    if (s == NULL)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < q->n; i++) {
        const qs_pair *p = &q->pairs[i];
        if (p->skip)
            continue;
        if (kept++)
            s[o++] = '&';
        for (size_t k = 0; k < p->name_len; k++) {
            unsigned char c = (unsigned char)p->name[k];
            s[o++] = '%', s[o++] = hex[c >> 4], s[o++] = hex[c & 15];
        }
        s[o++] = '=';
        for (size_t k = 0; k < p->value_len; k++) {
            unsigned char c = (unsigned char)p->value[k];
            s[o++] = '%', s[o++] = hex[c >> 4], s[o++] = hex[c & 15];
        }
    }
    qs_query r;
    if (qs_parse(s, o, &r) == 0) {
        size_t j = 0;
        if (r.n_skipped != 0)
            abort();
        for (size_t i = 0; i < q->n; i++) {
            const qs_pair *p = &q->pairs[i];
            if (p->skip)
                continue;
            if (j >= r.n || r.pairs[j].name_len != p->name_len || r.pairs[j].value_len != p->value_len ||
                memcmp(r.pairs[j].name, p->name, p->name_len) != 0 || memcmp(r.pairs[j].value, p->value, p->value_len) != 0)
                abort();
            j++;
        }
        if (j != r.n)
            abort();
        qs_free(&r);
    }
    free(s);
}

static void fuzz_signature(const char *raw, size_t len, const qs_query *q)
{
    static svc_auth *auth;
    char err[256], sig[64];
    if (auth == NULL && (auth = svc_auth_new(NULL, FUZZ_KEY, NULL, err, sizeof(err))) == NULL)
        abort();
    int signed_ok = svc_auth_sign(FUZZ_KEY, "/resize", 7, raw, len, sig, sizeof(sig)) == 0;
    if (signed_ok != (q->n_skipped == 0))
        abort();
    /* "sign=SIG&" + raw: our sign= comes first, so it is the one Go's Get returns */
    char *url = malloc(len + 80);
    if (url == NULL)
        return;
    int pre = snprintf(url, 80, "sign=%s&", signed_ok ? sig : "AAAA");
    memcpy(url + pre, raw, len);
    qs_query u;
    if (qs_parse(url, (size_t)pre + len, &u) == 0) {
        svc_auth_result r = svc_auth_check_signature(auth, "/resize", 7, &u, 1700000000);
        if (q->n_skipped != 0 && r != SVC_AUTH_SIGN_UNCOVERED)
            abort();
        if (q->n_skipped == 0) {
            /* every sign= is left out of the canonical string, one in raw too: it still verifies */
            int expiry = qs_get(q, "expires") != NULL;
            if (r != SVC_AUTH_OK && !(expiry && (r == SVC_AUTH_SIGN_EXPIRED || r == SVC_AUTH_SIGN_MALFORMED)))
                abort();
        }
        qs_free(&u);
    }
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    qs_query q, q2;
    if (qs_parse(raw, size, &q) != 0)
        return 0;
    fuzz_check_pairs(raw, size, &q);

    size_t need = qs_need(raw, size);
    char *mem = malloc(need + 1);
    if (mem != NULL) {
        if (qs_parse_in(raw, size, mem + 1, need, &q2) != 0)
            abort();
        fuzz_same_pairs(&q, &q2);
        free(mem);
    }
    fuzz_round_trip(&q);
    fuzz_signature(raw, size, &q);
    qs_free(&q);
    return 0;
}
