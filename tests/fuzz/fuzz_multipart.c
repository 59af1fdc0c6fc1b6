/*
 * fuzz_multipart: libFuzzer target for service/svc_multipart.c (the request-body parser of
 * every image route). Input: a Content-Type value up to the first '\n', then the body. When the
 * Content-Type is not multipart, its bytes are used as the boundary itself, so both the
 * header-parameter parser and the body parser see arbitrary bytes.
 * Contract checked (abort on violation): parse returns 0 or -1; on -1 a non-empty, printable
 * message; on 0 at most `max` parts, every span inside the body, parts in order and disjoint;
 * svc_multipart_find returns one of the parts or NULL. The body is also read as an HTTP/1 request
 * head (svc_reqhead.c): the head ends inside the bytes, a length only without a conflict.
 * Build and run with tests/fuzz/run-fuzz.sh multipart SECONDS; replayed by tests/fuzz (unit).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svc_multipart.h"
#include "svc_reqhead.h"

static void check_span(svc_span s, const uint8_t *lo, const uint8_t *hi)
{
    if (s.len == 0)
        return;
    if (s.p == NULL || s.p < lo || s.p + s.len > hi)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAX = 8 };
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - data) : 0;
    const uint8_t *body = nl ? nl + 1 : data;
    size_t body_len = size - (size_t)(body - data);
    svc_mp_part parts[MAX];
    svc_span boundary;
    size_t n = 99;
    const char *err = NULL;
    /* copy the body so that ASan sees reads past its end */
    uint8_t *copy = malloc(body_len ? body_len : 1);
    char *ct = malloc(ct_len ? ct_len : 1);
    if (copy == NULL || ct == NULL)
        abort();
    memcpy(copy, body, body_len);
    memcpy(ct, data, ct_len);

    if (!svc_multipart_is(ct, ct_len, &boundary)) {
        boundary.p = (const uint8_t *)ct;
        boundary.len = ct_len;
    } else {
        check_span(boundary, (const uint8_t *)ct, (const uint8_t *)ct + ct_len);
    }
    int rc = svc_multipart_parse(copy, body_len, boundary, parts, MAX, &n, &err);
    if (rc == -1) {
        if (err == NULL || err[0] == '\0')
            abort();
        for (const char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                abort();
    } else if (rc == 0) {
        const uint8_t *prev_end = copy;
        if (n > MAX)
            abort();
        for (size_t i = 0; i < n; i++) {
            check_span(parts[i].name, copy, copy + body_len);
            check_span(parts[i].filename, copy, copy + body_len);
            check_span(parts[i].content_type, copy, copy + body_len);
            check_span(parts[i].data, copy, copy + body_len);
            if (parts[i].data.len && parts[i].data.p < prev_end)
                abort(); /* parts overlap or go backwards */
            if (parts[i].data.len)
                prev_end = parts[i].data.p + parts[i].data.len;
        }
        const svc_mp_part *f = svc_multipart_find(parts, n, "file");
        if (f != NULL && (f < parts || f >= parts + n))
            abort();
    } else {
        abort();
    }
    /* the same bytes as an HTTP/1 request head (svc_reqhead.c) */
    svc_reqhead h;
    svc_reqhead_read((const char *)copy, body_len, &h);
    if (h.head_len > body_len || (h.content_length_ok && (h.n_content_length < 1 || h.differ || h.transfer_encoding)) ||
        (h.content_length_ok && h.content_length > 999999999999999999ull) ||
        ((svc_reqhead_framing_problem(&h) != NULL) != (h.differ || (h.transfer_encoding && h.n_content_length > 0))))
        abort();
    free(copy);
    free(ct);
    return 0;
}
