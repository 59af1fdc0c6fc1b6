/*
 * svc_upload_fd: h2o buffers whose bytes live in a memfd, so that a large upload is received
 * where the worker reads it: no copy into a job memfd (an 11 MB body cost 4.6 ms of the loop
 * thread and 11 MB more memory while it was processed). Loop thread only.
 */
#ifndef SVC_UPLOAD_FD_H
#define SVC_UPLOAD_FD_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

/* Memfd upload buffers the service keeps at once (each holds a descriptor; svc_server's open
 * files budget counts them); svc_conns makes no more while this many are alive. */
#define SVC_UPLOAD_FD_MAX 64

/* 1 when buf is one of these memfd buffers. */
int svc_upload_fd_is(const h2o_buffer_t *buf);

/* The longest request head kept out of the memfd (svc_conns reads heads within 16 KiB) */
#define SVC_UPLOAD_FD_HEAD_MAX (64u << 10)

/* Replace *buf (a buffer h2o allocated, holding bytes) with a memfd buffer with room for `total`
 * bytes from its start, its bytes copied; the first head_len of them (an HTTP/1 request head, at
 * most SVC_UPLOAD_FD_HEAD_MAX; 0 for an HTTP/2 body) stay in private memory before the memfd,
 * which starts with the body. h2o uses, grows and frees it as its own. 0, or -1 when the memory
 * cannot be had (*buf unchanged). */
int svc_upload_fd_grow(h2o_buffer_t **buf, size_t total, size_t head_len);

/* When buf is a memfd buffer: makes its pages ahead of h2o's next reads, in one call (at most
 * as many bytes as were received, up to 4 MiB). Call it as bytes arrive (each loop iteration). */
void svc_upload_fd_ahead(h2o_buffer_t *buf);

/* 1 when buf is a memfd buffer with room for `total` bytes from where its bytes start. */
int svc_upload_fd_fits(const h2o_buffer_t *buf, size_t total);

/* When buf is a memfd buffer whose memfd holds [p, p + len): a new read-only descriptor of that
 * memfd (the caller closes it) and *off, the offset of p in it. -1 otherwise, or when no such
 * descriptor can be opened (the caller copies the bytes instead). */
int svc_upload_fd_lend(const h2o_buffer_t *buf, const void *p, size_t len, uint64_t *off);

#endif
