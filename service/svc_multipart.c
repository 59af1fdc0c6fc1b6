/*
 * svc_multipart: multipart/form-data over an in-memory body, returning spans into it.
 * Grammar handled: optional preamble, "--B" delimiters (the first may open the body, the others
 * follow CRLF), transport padding after a delimiter, header block ended by CRLFCRLF, the closing
 * "--B--". Bare LF line ends are accepted in the header block (some clients send them).
 * A part's header block must end within SVC_MP_MAX_HEADER_BYTES: the search for its blank line
 * never looks further, so every byte of the body is examined a bounded number of times (a 32 MiB
 * body of 16 parts without a blank line used to be scanned 16 times over on the loop thread).
 * Pure functions, no allocation.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "svc_multipart.h"

#include <string.h>
#include <strings.h>

static int ieq_prefix(const uint8_t *p, size_t len, const char *lit)
{
    size_t l = strlen(lit);
    return len >= l && strncasecmp((const char *)p, lit, l) == 0;
}

static void trim(const uint8_t **p, size_t *len)
{
    while (*len && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*len)--;
    }
    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t' || (*p)[*len - 1] == '\r'))
        (*len)--;
}

/* Iterate "; key=value" parameters of a header value starting at p. Values may be quoted. */
static int next_param(const uint8_t **pp, const uint8_t *end, svc_span *key, svc_span *val)
{
    const uint8_t *p = *pp;
    while (p < end && *p != ';') { /* skip to the next ';' outside quotes (the main value, or junk) */
        if (*p == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\' && p + 1 < end)
                    p++;
        }
        if (p < end)
            p++;
    }
    if (p >= end)
        return 0;
    p++; /* ';' */
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    key->p = p;
    while (p < end && *p != '=' && *p != ';')
        p++;
    key->len = (size_t)(p - key->p);
    while (key->len && (key->p[key->len - 1] == ' ' || key->p[key->len - 1] == '\t'))
        key->len--;
    val->p = p;
    val->len = 0;
    if (p < end && *p == '=') {
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '"') {
            val->p = ++p;
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end)
                    p++;
                p++;
            }
            val->len = (size_t)(p - val->p);
            if (p < end)
                p++;
        } else {
            val->p = p;
            while (p < end && *p != ';' && *p != ' ' && *p != '\t')
                p++;
            val->len = (size_t)(p - val->p);
        }
    }
    *pp = p;
    return 1;
}

int svc_multipart_is(const char *ct, size_t ct_len, svc_span *boundary)
{
    const uint8_t *p = (const uint8_t *)ct, *end = p + ct_len;
    svc_span k, v;
    boundary->p = NULL;
    boundary->len = 0;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (!ieq_prefix(p, (size_t)(end - p), "multipart/"))
        return 0;
    while (next_param(&p, end, &k, &v))
        if (k.len == 8 && strncasecmp((const char *)k.p, "boundary", 8) == 0 && boundary->p == NULL)
            *boundary = v;
    return 1;
}

static void parse_headers(const uint8_t *p, const uint8_t *end, svc_mp_part *part)
{
    while (p < end) {
        const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = eol ? eol : end, *colon;
        colon = memchr(p, ':', (size_t)(le - p));
        if (colon != NULL) {
            const uint8_t *v = colon + 1;
            size_t vl = (size_t)(le - v);
            trim(&v, &vl);
            if (ieq_prefix(p, (size_t)(colon - p), "content-disposition") && colon - p == 19) {
                const uint8_t *q = v, *qe = v + vl;
                svc_span k, val;
                while (next_param(&q, qe, &k, &val)) {
                    if (k.len == 4 && strncasecmp((const char *)k.p, "name", 4) == 0)
                        part->name = val;
                    else if (k.len == 8 && strncasecmp((const char *)k.p, "filename", 8) == 0)
                        part->filename = val;
                }
            } else if (ieq_prefix(p, (size_t)(colon - p), "content-type") && colon - p == 12) {
                part->content_type.p = v;
                part->content_type.len = vl;
            }
        }
        p = le + 1;
    }
}

/* memmem that adds the bytes it may have examined to *scanned (up to the end of the match, or
 * the whole haystack when there is none). */
static const uint8_t *find(const uint8_t *hay, size_t len, const void *needle, size_t nlen, size_t *scanned)
{
    const uint8_t *hit = memmem(hay, len, needle, nlen);
    *scanned += hit != NULL ? (size_t)(hit - hay) + nlen : len;
    return hit;
}

int svc_multipart_parse(const uint8_t *body, size_t len, svc_span boundary, svc_mp_part *parts, size_t max, size_t *n,
                        const char **err)
{
    size_t scanned;
    return svc_multipart_parse_counted(body, len, boundary, parts, max, n, &scanned, err);
}

/* The header block of the part starting at body[pos] (it ends with an empty line, CRLF or bare
 * LF, searched within SVC_MP_MAX_HEADER_BYTES): fills part's headers and returns where its data
 * starts, or SIZE_MAX with *err set. */
static size_t part_headers(const uint8_t *body, size_t len, size_t pos, svc_mp_part *part, size_t *scanned, const char **err)
{
    if (len - pos >= 2 && body[pos] == '\r' && body[pos + 1] == '\n')
        return pos + 2;
    if (pos < len && body[pos] == '\n')
        return pos + 1;
    size_t window = len - pos < SVC_MP_MAX_HEADER_BYTES ? len - pos : SVC_MP_MAX_HEADER_BYTES;
    const uint8_t *crlf = find(body + pos, window, "\r\n\r\n", 4, scanned);
    /* a bare-LF blank line can only be the end if it comes before the CRLF one */
    const uint8_t *lf = find(body + pos, crlf != NULL ? (size_t)(crlf - (body + pos)) + 2 : window, "\n\n", 2, scanned);
    if (crlf == NULL && lf == NULL) {
        *err = window == SVC_MP_MAX_HEADER_BYTES ? "multipart part headers are not terminated by an empty line within 8 KiB"
                                                 : "multipart part headers are not terminated by an empty line";
        return SIZE_MAX;
    }
    if (crlf != NULL && (lf == NULL || crlf < lf)) {
        parse_headers(body + pos, crlf, part);
        return (size_t)(crlf - body) + 4;
    }
    parse_headers(body + pos, lf, part);
    return (size_t)(lf - body) + 2;
}

int svc_multipart_parse_counted(const uint8_t *body, size_t len, svc_span boundary, svc_mp_part *parts, size_t max, size_t *n,
                                size_t *scanned, const char **err)
{
    uint8_t delim[SVC_MP_MAX_BOUNDARY + 4];
    size_t dlen, pos;
    const uint8_t *hit;
    *n = 0;
    *scanned = 0;
    if (boundary.len == 0 || boundary.len > SVC_MP_MAX_BOUNDARY) {
        *err = "multipart/form-data without a valid boundary parameter (1-200 characters)";
        return -1;
    }
    delim[0] = '\r';
    delim[1] = '\n';
    delim[2] = '-';
    delim[3] = '-';
    memcpy(delim + 4, boundary.p, boundary.len);
    dlen = boundary.len + 4;
    /* first delimiter: at the very start, or after a preamble line */
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        pos = dlen - 2;
    } else if ((hit = find(body, len, delim, dlen, scanned)) != NULL) {
        pos = (size_t)(hit - body) + dlen;
    } else {
        *err = "multipart body does not contain its boundary";
        return -1;
    }
    for (;;) {
        svc_mp_part part;
        size_t data_start;
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-')
            return 0; /* closing delimiter */
        while (pos < len && (body[pos] == ' ' || body[pos] == '\t'))
            pos++;
        if (pos < len && body[pos] == '\r')
            pos++;
        if (pos >= len || body[pos] != '\n') {
            *err = "multipart body ends before its closing boundary";
            return -1;
        }
        pos++;
        memset(&part, 0, sizeof(part));
        if ((data_start = part_headers(body, len, pos, &part, scanned, err)) == SIZE_MAX)
            return -1;
        hit = data_start <= len ? find(body + data_start, len - data_start, delim, dlen, scanned) : NULL;
        if (hit == NULL) {
            *err = "multipart body ends before its closing boundary";
            return -1;
        }
        part.data.p = body + data_start;
        part.data.len = (size_t)(hit - body) - data_start;
        if (*n >= max) {
            *err = "too many multipart parts";
            return -1;
        }
        parts[(*n)++] = part;
        pos = (size_t)(hit - body) + dlen;
    }
}

const svc_mp_part *svc_multipart_find(const svc_mp_part *parts, size_t n, const char *name)
{
    size_t l = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (parts[i].name.len == l && memcmp(parts[i].name.p, name, l) == 0)
            return &parts[i];
    return NULL;
}
