/*
 * qs_query: splits and percent-decodes a request query once, marking the pairs Go's
 * url.ParseQuery would drop (see qs_query.h). Its readers (URL signatures, API keys, the option
 * grammar, type=auto) all see the same pairs, so none of them can read a pair another skipped
 * without knowing it.
 *
 * Go's rules, from net/url (parseQuery, unescape with encodeQueryComponent): pairs split on '&';
 * an empty pair is skipped silently; a pair holding ';' is dropped; a pair is split on its first
 * '='; name and value are unescaped, '+' becoming a space and "%XX" a byte, and a '%' without two
 * hex digits after it (in the name or the value) drops the pair.
 *
 * Threads: pure functions over caller-owned memory.
 */
#include "qs_query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* mem need not be aligned (h2o 2.2's pool is not): qs_parse_in aligns the pairs itself. */
#define QS_ALIGN _Alignof(qs_pair)

static int qs_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int qs_unescape(const char *s, size_t len, bool plus_is_space, char *out, size_t *out_len, size_t *bad_at)
{
    size_t o = 0;
    int ret = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 1 < len ? qs_hex((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? qs_hex((unsigned char)s[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
            if (ret == 0 && bad_at != NULL)
                *bad_at = i;
            ret = -1;
            out[o++] = '%';
        } else if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return ret;
}

/* Upper bound of the pairs in raw: one more than its '&'. */
static size_t qs_max_pairs(const char *raw, size_t len)
{
    size_t n = 1;
    const char *p = raw, *end = raw + len;
    while (p < end && (p = memchr(p, '&', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

size_t qs_need(const char *raw, size_t len)
{
    size_t pairs = raw != NULL ? qs_max_pairs(raw, len) : 1;
    /* pairs, then for each pair its decoded name and value (never longer than the raw pair) + 2 NULs */
    if (len > (SIZE_MAX - 64) / 4 || pairs > (SIZE_MAX - 64) / (sizeof(qs_pair) + 4))
        return SIZE_MAX;
    return QS_ALIGN - 1 + pairs * sizeof(qs_pair) + len + 2 * pairs + 1;
}

/* Decodes one part (name or value) of the pair at raw[off..off+len) into *st, recording a bad escape. */
static void qs_part(const char *raw, size_t off, size_t len, char **st, const char **out, size_t *out_len, qs_pair *p)
{
    size_t bad = 0;
    *out = *st;
    if (qs_unescape(raw + off, len, true, *st, out_len, &bad) != 0 && !(p->skip & QS_SKIP_ESCAPE)) {
        p->skip |= QS_SKIP_ESCAPE;
        p->bad_off = off + bad;
        p->bad_len = len - bad < 3 ? len - bad : 3;
    }
    *st += *out_len + 1;
}

int qs_parse_in(const char *raw, size_t len, void *mem, size_t mem_len, qs_query *q)
{
    memset(q, 0, sizeof(*q));
    if (raw == NULL)
        len = 0;
    size_t need = qs_need(raw, len);
    if (mem == NULL || need == SIZE_MAX || mem_len < need)
        return -1;
    q->raw = raw != NULL ? raw : "";
    q->raw_len = len;
    size_t max_pairs = raw != NULL ? qs_max_pairs(raw, len) : 1;
    size_t pad = (QS_ALIGN - (uintptr_t)mem % QS_ALIGN) % QS_ALIGN;
    qs_pair *pairs = (qs_pair *)(void *)((char *)mem + pad);
    char *st = (char *)pairs + max_pairs * sizeof(qs_pair);
    q->pairs = pairs;

    size_t i = 0;
    while (i < len) {
        size_t start = i;
        const char *amp = memchr(raw + i, '&', len - i);
        size_t end = amp != NULL ? (size_t)(amp - raw) : len;
        i = end + 1;
        if (end == start)
            continue; /* "&&": Go skips empty pairs without complaint */
        qs_pair *p = &pairs[q->n++];
        memset(p, 0, sizeof(*p));
        p->raw_off = start;
        p->raw_len = end - start;
        if (memchr(raw + start, ';', p->raw_len) != NULL)
            p->skip |= QS_SKIP_SEMICOLON;
        const char *eq = memchr(raw + start, '=', p->raw_len);
        size_t klen = eq != NULL ? (size_t)(eq - (raw + start)) : p->raw_len;
        p->has_eq = eq != NULL;
        qs_part(raw, start, klen, &st, &p->name, &p->name_len, p);
        if (eq != NULL)
            qs_part(raw, start + klen + 1, p->raw_len - klen - 1, &st, &p->value, &p->value_len, p);
        else
            qs_part(raw, start, 0, &st, &p->value, &p->value_len, p);
        if (p->skip != 0)
            q->n_skipped++;
    }
    return 0;
}

int qs_parse(const char *raw, size_t len, qs_query *q)
{
    memset(q, 0, sizeof(*q));
    if (raw == NULL)
        len = 0;
    size_t need = qs_need(raw, len);
    void *mem = need != SIZE_MAX ? malloc(need) : NULL;
    if (mem == NULL || qs_parse_in(raw, len, mem, need, q) != 0) {
        free(mem);
        return -1;
    }
    q->heap = mem;
    return 0;
}

void qs_free(qs_query *q)
{
    if (q == NULL)
        return;
    free(q->heap);
    memset(q, 0, sizeof(*q));
}

bool qs_name_is(const qs_pair *p, const char *name)
{
    size_t n = strlen(name);
    return p->name_len == n && memcmp(p->name, name, n) == 0;
}

const qs_pair *qs_get(const qs_query *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->pairs[i].skip == 0 && qs_name_is(&q->pairs[i], name))
            return &q->pairs[i];
    return NULL;
}
