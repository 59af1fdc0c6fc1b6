/*
 * test_multipart: the multipart/form-data parser (service/svc_multipart.c) over hand-written
 * bodies: boundary extraction, parts and their names, binary data with CR/LF inside, preamble,
 * LF-only headers, and each malformed case giving an error instead of a crash; and the bound on
 * the work per body: a 32 MiB body of 16 parts whose headers never end is refused after a few KiB
 * (bytes examined counted by svc_multipart_parse_counted, not timed). Suite `unit`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_multipart.h"
#include "tap.h"

static int span_is(svc_span s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static int parse(const char *body, size_t len, const char *boundary, svc_mp_part *parts, size_t max, size_t *n, const char **err)
{
    svc_span b = {(const uint8_t *)boundary, strlen(boundary)};
    return svc_multipart_parse((const uint8_t *)body, len, b, parts, max, n, err);
}

int main(void)
{
    svc_span b;
    svc_mp_part parts[8];
    size_t n = 0;
    const char *err = NULL;

    /* boundary from Content-Type */
    const char *ct = "multipart/form-data; boundary=----XyZ";
    ok(svc_multipart_is(ct, strlen(ct), &b) == 1 && span_is(b, "----XyZ"), "boundary token");
    ct = "Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\"";
    ok(svc_multipart_is(ct, strlen(ct), &b) == 1 && span_is(b, "a b;c"), "quoted boundary, any case, after another param");
    ct = "multipart/form-data";
    ok(svc_multipart_is(ct, strlen(ct), &b) == 1 && b.len == 0, "multipart without boundary: recognised, empty boundary");
    ct = "image/jpeg";
    is_int(svc_multipart_is(ct, strlen(ct), &b), 0, "image/jpeg is not multipart");
    ct = "application/x-www-form-urlencoded";
    is_int(svc_multipart_is(ct, strlen(ct), &b), 0, "urlencoded is not multipart");

    /* two parts, binary data containing CRLF and a fake boundary prefix */
    static const char body1[] = "--XX\r\n"
                                "Content-Disposition: form-data; name=\"file\"; filename=\"a;b.jpg\"\r\n"
                                "Content-Type: image/jpeg\r\n"
                                "\r\n"
                                "\xff\xd8\r\n--X\r\n\x00\x01"
                                "\r\n--XX\r\n"
                                "content-disposition: form-data; name=image\r\n"
                                "\r\n"
                                "OVERLAY"
                                "\r\n--XX--\r\n";
    is_int(parse(body1, sizeof(body1) - 1, "XX", parts, 8, &n, &err), 0, "two parts parse");
    is_int(n, 2, "two parts found");
    ok(span_is(parts[0].name, "file"), "part 1 name");
    ok(span_is(parts[0].filename, "a;b.jpg"), "part 1 filename with ';' inside quotes");
    ok(span_is(parts[0].content_type, "image/jpeg"), "part 1 content type");
    is_int(parts[0].data.len, 11, "part 1 data length (CRLF and '--X' inside kept)");
    ok(parts[0].data.len == 11 && memcmp(parts[0].data.p, "\xff\xd8\r\n--X\r\n\x00\x01", 11) == 0, "part 1 bytes");
    ok(span_is(parts[1].name, "image") && span_is(parts[1].data, "OVERLAY"), "part 2: unquoted name, data");
    ok(svc_multipart_find(parts, n, "image") == &parts[1], "find image");
    ok(svc_multipart_find(parts, n, "File") == NULL, "find is case-sensitive");

    /* preamble, LF-only headers, transport padding after the delimiter */
    static const char body2[] = "preamble text\r\n--B  \r\nContent-Disposition: form-data; name=\"file\"\n\nDATA\r\n--B--";
    is_int(parse(body2, sizeof(body2) - 1, "B", parts, 8, &n, &err), 0, "preamble + LF headers parse");
    ok(n == 1 && span_is(parts[0].data, "DATA"), "data after LF-only header block");

    /* empty part data */
    static const char body3[] = "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\r\n--B--\r\n";
    is_int(parse(body3, sizeof(body3) - 1, "B", parts, 8, &n, &err), 0, "empty part parses");
    ok(n == 1 && parts[0].data.len == 0, "empty part has zero bytes");

    /* malformed */
    static const char bad1[] = "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nDATA without end";
    is_int(parse(bad1, sizeof(bad1) - 1, "B", parts, 8, &n, &err), -1, "missing closing boundary is an error");
    ok(err && strstr(err, "closing boundary"), "message: %s", err ? err : "");
    static const char bad2[] = "no boundary anywhere";
    is_int(parse(bad2, sizeof(bad2) - 1, "B", parts, 8, &n, &err), -1, "body without the boundary is an error");
    static const char bad3[] = "--B\r\nContent-Disposition: form-data; name=\"file\"";
    is_int(parse(bad3, sizeof(bad3) - 1, "B", parts, 8, &n, &err), -1, "unterminated headers are an error");
    is_int(parse(body1, sizeof(body1) - 1, "", parts, 8, &n, &err), -1, "empty boundary is an error");
    is_int(parse(body1, sizeof(body1) - 1, "XX", parts, 1, &n, &err), -1, "more parts than room is an error");
    is_int(parse("", 0, "B", parts, 8, &n, &err), -1, "empty body is an error");

    /* every truncation of body1 must fail or succeed without reading out of bounds (ASan run) */
    int crashes = 0;
    for (size_t cut = 0; cut < sizeof(body1) - 1; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, body1, cut);
        if (parse(copy, cut, "XX", parts, 8, &n, &err) == 0 && n > 2)
            crashes++;
        free(copy);
    }
    is_int(crashes, 0, "every truncation of a valid body parses to at most its parts or fails cleanly");

    /* 16 parts of 2 MiB each, no blank line anywhere: the first part's header search used to scan
     * the whole body twice (CRLF and bare-LF blank lines) before failing */
    {
        const size_t part_bytes = 2u << 20, nparts = 16;
        size_t cap = nparts * (part_bytes + 64) + 16, len = 0, scanned = 0;
        uint8_t *big = malloc(cap);
        for (size_t i = 0; i < nparts; i++) {
            static const char head[] = "\r\n--B\r\nContent-Disposition: form-data; name=\"f\"\r\n";
            size_t hl = sizeof(head) - 1 - (i == 0 ? 2 : 0);
            memcpy(big + len, head + (i == 0 ? 2 : 0), hl);
            len += hl;
            for (size_t k = 0; k < part_bytes; k++) /* header-looking lines, never an empty one */
                big[len + k] = (k % 64 == 63 && k + 1 < part_bytes) ? '\n' : (k % 64 == 62 && k + 2 < part_bytes ? '\r' : 'x');
            len += part_bytes;
        }
        memcpy(big + len, "\r\n--B--\r\n", 10);
        len += 10;
        svc_span bb = {(const uint8_t *)"B", 1};
        svc_mp_part parts16[16];
        err = NULL;
        is_int(svc_multipart_parse_counted(big, len, bb, parts, 8, &n, &scanned, &err), -1,
               "32 MiB, 16 parts, no blank line: refused");
        ok(err != NULL && strstr(err, "not terminated by an empty line") != NULL, "message names the unterminated headers: %s",
           err ? err : "");
        ok(scanned <= 64 * 1024, "bytes examined bounded (64 KiB): %zu (body %zu)", scanned, len);

        /* well formed with CRLF headers and no bare-LF blank line: each part's search for "\n\n"
         * used to scan the whole rest of the body (16 x ~16 MiB examined, 0.58 s of loop thread
         * for 32 MiB); now about len bytes examined */
        len = 0;
        for (size_t i = 0; i < 16; i++) {
            char head[96];
            int hl =
                snprintf(head, sizeof(head), "%s--B\r\nContent-Disposition: form-data; name=\"p%zu\"\r\n\r\n", i ? "\r\n" : "", i);
            memcpy(big + len, head, (size_t)hl);
            len += (size_t)hl;
            memset(big + len, 'y', part_bytes);
            len += part_bytes;
        }
        memcpy(big + len, "\r\n--B--\r\n", 10);
        len += 10;
        is_int(svc_multipart_parse_counted(big, len, bb, parts16, 16, &n, &scanned, &err), 0, "16 parts of 2 MiB parse");
        ok(n == 16 && parts16[15].data.len == part_bytes && span_is(parts16[15].name, "p15"), "16 parts, last one 2 MiB named p15");
        ok(scanned <= len + 16 * 64, "well-formed body examined about once: %zu of %zu", scanned, len);
        free(big);
    }
    return tap_done();
}
