/*
 * test_qs_query: the query layer (common/qs_query.c), suite `unit`: splitting, percent-decoding,
 * '+', empty names and values, duplicates, the pairs url.ParseQuery drops (';', bad escapes) and
 * their marks, %00, raw spans, very long queries, caller memory of any alignment; then the option
 * grammar over a parsed query (pl_plan_parse_query): ';' a plain byte, bad escapes refused,
 * expires= accepted on transform.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pl_options.h"
#include "qs_query.h"
#include "tap.h"

static qs_query q;

static size_t parse(const char *s)
{
    qs_free(&q);
    if (qs_parse(s, s ? strlen(s) : 0, &q) != 0)
        return (size_t)-1;
    return q.n;
}

/* pair i has this decoded name and value (lengths exact) */
static int pair_is(size_t i, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (i >= q.n)
        return 0;
    const qs_pair *p = &q.pairs[i];
    return p->name_len == nlen && memcmp(p->name, name, nlen) == 0 && p->name[nlen] == '\0' && p->value_len == vlen &&
           memcmp(p->value, value, vlen) == 0 && p->value[vlen] == '\0';
}

#define PAIR(i, n, v) pair_is(i, n, sizeof(n) - 1, v, sizeof(v) - 1)

static void test_split(void)
{
    is_int(parse(NULL), 0, "NULL query: no pair");
    is_int(parse(""), 0, "empty query: no pair");
    is_int(parse("&&&"), 0, "only separators: no pair (Go skips empty pairs silently)");
    ok(q.n_skipped == 0, "  and none marked");
    is_int(parse("a=1&b=2"), 2, "two pairs");
    ok(PAIR(0, "a", "1") && PAIR(1, "b", "2"), "names and values in request order");
    ok(q.pairs[0].raw_off == 0 && q.pairs[0].raw_len == 3 && q.pairs[1].raw_off == 4 && q.pairs[1].raw_len == 3,
       "raw spans exclude the '&'");
    is_int(parse("&a=1&&b=2&"), 2, "empty pairs between and around are skipped");
    ok(q.pairs[1].raw_off == 6 && memcmp(q.raw + q.pairs[1].raw_off, "b=2", 3) == 0, "raw span of the second pair");
    is_int(parse("a=b=c"), 1, "split on the first '=' only");
    ok(PAIR(0, "a", "b=c"), "value keeps the later '='");
    is_int(parse("?a=1"), 1, "a leading '?' is part of the first name (as Go's RawQuery)");
    ok(PAIR(0, "?a", "1"), "  name \"?a\"");
}

static void test_empty(void)
{
    is_int(parse("flag&v=&=x&="), 4, "valueless, empty value, empty name, both empty");
    ok(PAIR(0, "flag", "") && !q.pairs[0].has_eq, "\"flag\": empty value, no '='");
    ok(PAIR(1, "v", "") && q.pairs[1].has_eq, "\"v=\": empty value, '=' seen");
    ok(PAIR(2, "", "x"), "\"=x\": empty name kept (Go keeps it)");
    ok(PAIR(3, "", "") && q.n_skipped == 0, "\"=\": both empty, kept");
}

static void test_escapes(void)
{
    is_int(parse("t=a+b%20c%2Bd&%41%62=%e9%C3%A9"), 2, "escaped pairs");
    ok(PAIR(0, "t", "a b c+d"), "'+' and %%20 are spaces, %%2B a plus");
    ok(PAIR(1, "Ab", "\xe9\xc3\xa9"), "escapes in names; lower and upper hex; bytes kept, not UTF-8 checked");
    is_int(parse("s=%26%3D%3B%25"), 1, "escaped separators");
    ok(PAIR(0, "s", "&=;%") && q.pairs[0].skip == 0, "%%26 %%3D %%3B %%25 decode to bytes, pair kept (no raw ';')");

    char out[16];
    size_t n = 0, bad = 99;
    ok(qs_unescape("a+b%2F", 6, false, out, &n, &bad) == 0 && n == 4 && memcmp(out, "a+b/", 5) == 0 && bad == 99,
       "path mode: '+' kept, bad_at untouched");
    ok(qs_unescape("x%4g%", 5, true, out, &n, &bad) == -1 && bad == 1 && n == 5 && memcmp(out, "x%4g%", 5) == 0,
       "bad escapes: -1, first at 1, bytes copied as is");
}

static void test_nul(void)
{
    is_int(parse("a%00b=c%00&k=v"), 2, "%%00 in a name and a value");
    ok(pair_is(0, "a\0b", 3, "c\0", 2) && q.n_skipped == 0, "NUL bytes kept inside exact lengths (Go keeps them); not marked");
    ok(strlen(q.pairs[0].value) == 1, "  so a C-string reader sees less: readers use the lengths");
}

static void test_dropped(void)
{
    is_int(parse("text=EVIL;&text=Copyright+ACME&key=k1"), 3, "';' pair kept in the list");
    ok(q.pairs[0].skip == QS_SKIP_SEMICOLON && q.n_skipped == 1, "';' pair marked as Go's ParseQuery drops it");
    ok(PAIR(0, "text", "EVIL;"), "  and still decoded (the grammar reads ';' as a byte)");
    const qs_pair *t = qs_get(&q, "text");
    ok(t == &q.pairs[1] && PAIR(1, "text", "Copyright ACME"), "qs_get skips it: the first pair Go keeps");
    ok(qs_get(&q, "nope") == NULL && qs_get(&q, "key") == &q.pairs[2], "qs_get: absent NULL, present found");

    is_int(parse("a;b=1&c=2;"), 2, "';' in a name, ';' at the end of a value");
    ok(q.pairs[0].skip == QS_SKIP_SEMICOLON && q.pairs[1].skip == QS_SKIP_SEMICOLON && q.n_skipped == 2, "both marked");

    static const struct {
        const char *q, *shown;
        size_t off;
    } bad[] = {
        {"w=1%zz", "%zz", 3}, {"w=1%4", "%4", 3},  {"w=1%", "%", 3},       {"w%7th=5", "%7t", 1},
        {"a%4=5", "%4", 1},   {"x=1&%=2", "%", 4}, {"x=%g0%zz", "%g0", 2}, {"ok=1&w=%%41", "%%4", 7},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse(bad[i].q);
        const qs_pair *p = &q.pairs[q.n - 1];
        ok(q.n_skipped == 1 && p->skip == QS_SKIP_ESCAPE && p->bad_off == bad[i].off && p->bad_len == strlen(bad[i].shown) &&
               memcmp(q.raw + p->bad_off, bad[i].shown, p->bad_len) == 0,
           "\"%s\": last pair marked bad escape at %zu, \"%s\"", bad[i].q, bad[i].off, bad[i].shown);
    }
    parse("w=%zz&w=5");
    ok(qs_get(&q, "w") == &q.pairs[1], "qs_get skips a bad-escape pair");
    parse("w=%zz;");
    ok(q.pairs[0].skip == (QS_SKIP_ESCAPE | QS_SKIP_SEMICOLON) && q.n_skipped == 1, "both reasons on one pair, counted once");
}

static void test_long(void)
{
    /* 2 MiB: 262144 pairs "a=12345&b" ... (the layer has no cap; the grammar caps at 1 MiB) */
    size_t reps = 1 << 18, len = reps * 8 - 1;
    char *big = malloc(len + 1);
    if (!ok(big != NULL, "2 MiB buffer"))
        return;
    for (size_t i = 0; i < reps; i++)
        memcpy(big + i * 8, i + 1 < reps ? "a=12345&" : "b=12345", i + 1 < reps ? 8 : 7);
    big[len] = '\0';
    qs_free(&q);
    ok(qs_parse(big, len, &q) == 0 && q.n == reps, "2 MiB query: %zu pairs", q.n);
    ok(PAIR(reps - 1, "b", "12345") && q.pairs[reps - 1].raw_off == len - 7, "last pair and its raw span");
    /* caller memory: exact size, any alignment; one byte short refused */
    size_t need = qs_need(big, len);
    char *mem = malloc(need + 1);
    qs_query q2;
    ok(mem && qs_parse_in(big, len, mem + 1, need, &q2) == 0 && q2.n == reps && q2.heap == NULL &&
           ((uintptr_t)q2.pairs % _Alignof(qs_pair)) == 0,
       "qs_parse_in in qs_need bytes at an odd address: aligned pairs");
    ok(mem && qs_parse_in(big, len, mem, need - 1, &q2) == -1, "one byte short: -1");
    free(mem);
    /* one value of 1 MiB */
    memset(big, 'x', len);
    memcpy(big, "v=", 2);
    qs_free(&q);
    ok(qs_parse(big, len, &q) == 0 && q.n == 1 && q.pairs[0].value_len == len - 2, "one 2 MiB value");
    free(big);
}

static void test_grammar(void)
{
    pl_plan plan;
    pl_error err;
    qs_free(&q);
    qs_parse("text=EVIL;&text=Copyright+ACME", 30, &q);
    ok(pl_plan_parse_query("watermark", &q, &plan, &err) == 0 && strcmp(plan.params.text, "EVIL;") == 0,
       "grammar: ';' is a byte and the first text= wins (signing off keeps this; signing on refuses first)");
    qs_free(&q);
    qs_parse("width=1%zz", 10, &q);
    ok(pl_plan_parse_query("resize", &q, &plan, &err) == -1 && err.code == PL_E_PARAM && strstr(err.message, "\"%zz\""),
       "grammar: a bad escape is a 400 quoting it (%s)", err.message);
    qs_free(&q);
    qs_parse("w=10&expires=4102444800&sign=abc", 32, &q);
    ok(pl_plan_parse_query("transform", &q, &plan, &err) == 0 && plan.params.width == 10,
       "transform accepts expires= and sign= (service parameters)");
    ok(pl_plan_parse("resize", "width=5&expires=1", 17, &plan, &err) == 0 && plan.params.width == 5,
       "pl_plan_parse (raw) wraps the same entry");
}

int main(void)
{
    test_split();
    test_empty();
    test_escapes();
    test_nul();
    test_dropped();
    test_long();
    test_grammar();
    qs_free(&q);
    return tap_done();
}
