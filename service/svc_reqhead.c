/*
 * svc_reqhead: the framing facts of an HTTP/1 request head (see svc_reqhead.h). One pass over
 * the lines after the request line, to the blank line or the end of the bytes given: every
 * Content-Length and Transfer-Encoding line is looked at, values trimmed of spaces and tabs, a
 * Content-Length taken as a number only when it is digits alone (RFC 9110 8.6) and every copy of
 * it has the same text (identical duplicates are one value). Fuzzed by fuzz_multipart (the same
 * bytes are read as a head too); tests/service/test_reqhead.c.
 */
#include "svc_reqhead.h"

#include <string.h>
#include <strings.h>

/* line (len bytes, no LF) is "name: value": the value trimmed, 1; else 0 */
static int hdr_is(const char *line, size_t len, const char *name, size_t nlen, const char **value, size_t *vlen)
{
    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return 0;
    *value = line + nlen + 1;
    *vlen = len - nlen - 1;
    while (*vlen && (**value == ' ' || **value == '\t')) {
        (*value)++;
        (*vlen)--;
    }
    while (*vlen && ((*value)[*vlen - 1] == ' ' || (*value)[*vlen - 1] == '\t' || (*value)[*vlen - 1] == '\r'))
        (*vlen)--;
    return 1;
}

/* digits alone, at most 18 of them (fits 63 bits), into *n */
static bool digits(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

void svc_reqhead_read(const char *buf, size_t len, svc_reqhead *h)
{
    const char *p, *end = buf + len, *cl = NULL, *v;
    size_t cl_len = 0, vl;
    memset(h, 0, sizeof(*h));
    const char *eol = len ? memchr(buf, '\n', len) : NULL; /* skip the request line */
    if (eol == NULL)
        return;
    for (p = eol + 1; p < end;) {
        size_t ll;
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            break;
        ll = (size_t)(eol - p);
        if (ll == 0 || (ll == 1 && p[0] == '\r')) {
            h->head_len = (size_t)(eol + 1 - buf);
            break;
        }
        if (hdr_is(p, ll, "content-length", 14, &v, &vl)) {
            if (h->n_content_length++ == 0) {
                cl = v;
                cl_len = vl;
                h->content_length_ok = digits(v, vl, &h->content_length);
            } else if (vl != cl_len || memcmp(v, cl, vl) != 0) {
                h->differ = true;
                h->content_length_ok = false;
            }
        } else if (hdr_is(p, ll, "transfer-encoding", 17, &v, &vl)) {
            h->transfer_encoding = true;
        }
        p = eol + 1;
    }
    if (h->transfer_encoding)
        h->content_length_ok = false;
}

const char *svc_reqhead_framing_problem(const svc_reqhead *h)
{
    if (h->differ)
        return "two different Content-Length headers";
    if (h->transfer_encoding && h->n_content_length > 0)
        return "Content-Length together with Transfer-Encoding";
    return NULL;
}
