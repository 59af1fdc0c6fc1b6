/*
 * svc_linger: lingering close of client connections.
 *
 * h2o 2.2 closes an HTTP/1 connection as soon as it has written an answer it gives without
 * reading the body (413 over max-body-bytes, 400 for broken chunked or Content-Length framing,
 * 417; its http1.c says "TODO use lingering close"), and so does the framing guard. Body bytes
 * still queued at the socket when it is closed, or arriving after, make the kernel answer with
 * RST, and a client that writes its whole body before it reads (Python's http.client and
 * requests, most clients without Expect: 100-continue) then meets a reset or EPIPE instead of
 * the answer. So every accepted socket keeps a second descriptor (svc_linger_keep: a dup of
 * h2o's, the same connection); when h2o has closed its own, svc_linger_release() takes the
 * connection over:
 *   - it reads and drops what the client has already sent; a client that has closed (the usual
 *     way a connection ends) or reset is then closed at once: one recv();
 *   - otherwise it shuts the write side (a FIN after h2o's answer) and goes on reading and
 *     dropping until the client closes, stays silent SVC_LINGER_IDLE_MS, or SVC_LINGER_MAX_MS
 *     have passed, as nginx's lingering_close does (lingering_timeout 5 s, lingering_time 30 s
 *     there);
 *   - at most max-connections (and 1024) linger at once; past that a connection is closed at
 *     once, as h2o alone would.
 * A connection refused with a reset by svc_conns is disconnected before h2o closes it: the first
 * recv() sees that and closes it.
 *
 * DESIGN (ownership, loop thread only)
 *   The kept descriptor belongs to the connection's svc_conn until h2o closes the socket, then to
 *   this file: a lingering connection is an h2o socket over it (h2o_evloop_socket_create) with
 *   one idle timeout entry, freed by linger_end().
 */
#include "svc_linger.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define SVC_LINGER_IDLE_MS 2000
#define SVC_LINGER_MAX_MS 10000

typedef struct linger_conn {
    h2o_socket_t *sock;
    h2o_timeout_entry_t idle;
    int64_t end_us; /* SVC_LINGER_MAX_MS after the start */
} linger_conn;

static h2o_timeout_t idle_timeout;
static int idle_timeout_ready;
static int lingering, max_lingering = 1024;

void svc_linger_init(int max_sockets)
{
    max_lingering = max_sockets < 1024 ? max_sockets : 1024;
}

int svc_linger_keep(h2o_socket_t *sock)
{
    int fd = h2o_socket_get_fd(sock);
    return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* Read and drop what is queued (at most 1 MiB): 1 when the client has closed or the connection
 * failed, 0 when it is open and nothing more is queued. */
static int drop_queued(int fd)
{
    static char sink[64 * 1024];
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
    return 0;
}

static void linger_end(linger_conn *lc)
{
    if (h2o_timeout_is_linked(&lc->idle))
        h2o_timeout_unlink(&lc->idle);
    h2o_socket_close(lc->sock); /* closes the kept descriptor */
    free(lc);
    lingering--;
}

static void on_idle(h2o_timeout_entry_t *entry)
{
    linger_end(H2O_STRUCT_FROM_MEMBER(linger_conn, idle, entry));
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    linger_conn *lc = sock->data;
    if (err != NULL || g_get_monotonic_time() >= lc->end_us) { /* closed by the client, failed, or time is up */
        linger_end(lc);
        return;
    }
    h2o_buffer_consume(&sock->input, sock->input->size);
    h2o_timeout_unlink(&lc->idle);
    h2o_timeout_link(h2o_socket_get_loop(sock), &idle_timeout, &lc->idle);
}

void svc_linger_release(h2o_loop_t *loop, int fd)
{
    linger_conn *lc;
    if (fd < 0)
        return;
    if (drop_queued(fd) || lingering >= max_lingering || (lc = calloc(1, sizeof(*lc))) == NULL) {
        close(fd);
        return;
    }
    shutdown(fd, SHUT_WR); /* the client reads h2o's answer, then the end */
    if (!idle_timeout_ready) {
        h2o_timeout_init(loop, &idle_timeout, SVC_LINGER_IDLE_MS);
        idle_timeout_ready = 1;
    }
    lingering++;
    lc->end_us = g_get_monotonic_time() + (int64_t)SVC_LINGER_MAX_MS * 1000;
    lc->idle.cb = on_idle;
    lc->sock = h2o_evloop_socket_create(loop, fd, 0);
    lc->sock->data = lc;
    h2o_timeout_link(loop, &idle_timeout, &lc->idle);
    h2o_socket_read_start(lc->sock, on_read);
}
