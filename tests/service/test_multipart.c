/*
 * test_multipart: the multipart/form-data parser (service/svc_multipart.c) over hand-written
 * bodies: boundary extraction, parts and their names, binary data with CR/LF inside, preamble,
 * LF-only headers, and each malformed case giving an error instead of a crash. Suite `unit`.
 */
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
    return tap_done();
}
