/*
 * test_reqhead: svc_reqhead.c, the framing facts of a raw HTTP/1 request head: where the head
 * ends (CRLF and bare LF), Content-Length as a number only when it is digits alone and every copy
 * says the same, Transfer-Encoding, the framing guard's two refusals, and heads that are cut
 * short. Suite unit.
 */
#include <string.h>

#include "svc_reqhead.h"
#include "tap.h"

static svc_reqhead rd(const char *s)
{
    svc_reqhead h;
    svc_reqhead_read(s, strlen(s), &h);
    return h;
}

int main(void)
{
    const char *req = "POST /resize?width=10 HTTP/1.1\r\nHost: a\r\nContent-Length: 12345\r\n\r\nbody";
    svc_reqhead h = rd(req);
    is_int((long)h.head_len, (long)(strstr(req, "body") - req), "CRLF head: its length up to the blank line");
    ok(h.content_length_ok && h.content_length == 12345 && h.n_content_length == 1, "Content-Length 12345 read");
    ok(svc_reqhead_framing_problem(&h) == NULL, "... one framing");

    h = rd("POST / HTTP/1.1\nhost: a\ncontent-length:\t 7 \t\n\nxxxxxxx");
    ok(h.head_len == strlen("POST / HTTP/1.1\nhost: a\ncontent-length:\t 7 \t\n\n") && h.content_length_ok && h.content_length == 7,
       "bare LF, lower case, value trimmed of spaces and tabs");

    h = rd("POST / HTTP/1.1\r\nContent-Length: 10\r\nContent-Length: 10\r\n\r\n");
    ok(h.content_length_ok && h.content_length == 10 && h.n_content_length == 2 && !h.differ &&
           svc_reqhead_framing_problem(&h) == NULL,
       "the same Content-Length twice is one value");

    h = rd("POST / HTTP/1.1\r\nContent-Length: 10\r\nContent-Length: 11\r\n\r\n");
    ok(!h.content_length_ok && h.differ, "two different values: no length");
    is_str(svc_reqhead_framing_problem(&h), "two different Content-Length headers", "... refused by the framing guard");

    h = rd("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n");
    ok(!h.content_length_ok && h.transfer_encoding, "Transfer-Encoding with Content-Length: no length");
    is_str(svc_reqhead_framing_problem(&h), "Content-Length together with Transfer-Encoding", "... refused by the framing guard");

    h = rd("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    ok(!h.content_length_ok && svc_reqhead_framing_problem(&h) == NULL, "chunked alone: no length, one framing");

    static const char *bad[] = {"+10", "1e3", "0x10", "10 10", "", "1234567890123456789", "-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", bad[i]);
        h = rd(buf);
        ok(!h.content_length_ok && h.head_len > 0, "Content-Length '%s': not a length", bad[i]);
    }
    h = rd("POST / HTTP/1.1\r\nContent-Length: 123456789012345678\r\n\r\n");
    ok(h.content_length_ok && h.content_length == 123456789012345678ull, "18 digits still read");

    h = rd("POST / HTTP/1.1\r\nContent-Length: 10\r\n");
    ok(h.head_len == 0 && h.content_length_ok, "no blank line yet: the head is not complete");
    h = rd("POST / HTTP/1.1");
    ok(h.head_len == 0 && h.n_content_length == 0, "the request line alone");
    svc_reqhead_read("", 0, &h);
    ok(h.head_len == 0 && !h.content_length_ok, "nothing");
    h = rd("POST / HTTP/1.1\r\nX-Content-Length: 5\r\nContent-Lengthy: 6\r\n\r\n");
    ok(h.n_content_length == 0 && !h.content_length_ok, "look-alike names are not Content-Length");
    return tap_done();
}
