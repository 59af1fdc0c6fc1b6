/*
 * svc_reqhead: what an HTTP/1 request head says about the body's framing, read from the raw bytes
 * h2o 2.2 keeps at the start of a socket's input buffer (request line, header lines, the blank
 * line). For the framing guard (svc_http.c) and for growing an upload's buffer once to the size
 * it announces (svc_conns.c). Pure functions over bytes; no h2o.
 */
#ifndef SVC_REQHEAD_H
#define SVC_REQHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct svc_reqhead {
    size_t head_len;         /* bytes up to and including the blank line; 0 = the head is not complete */
    int n_content_length;    /* Content-Length header lines */
    bool content_length_ok;  /* every one of them is the same run of digits, fitting 63 bits */
    uint64_t content_length; /* its value when content_length_ok */
    bool differ;             /* two Content-Length values differ as text */
    bool transfer_encoding;  /* a Transfer-Encoding line */
} svc_reqhead;

/* Read the head at buf (len bytes, of which only the first H2O_MAX_REQLEN-like prefix matters:
 * the caller bounds len). Lines end with LF, CRLF allowed; header names are matched without
 * regard to case. */
void svc_reqhead_read(const char *buf, size_t len, svc_reqhead *h);

/* NULL, or why a request with this head is framed two ways (Content-Length with
 * Transfer-Encoding, or two different Content-Length values). */
const char *svc_reqhead_framing_problem(const svc_reqhead *h);

#endif
