/*
 * svc_conns: the accepted connections and the bound on request bodies buffered at once.
 *
 * h2o 2.2 reads a whole request body into memory before it calls the handler, and has neither a
 * streaming-body API nor a callback when the body starts: an HTTP/1 body grows in the socket's
 * input buffer (sock->input, until the answer is written), an HTTP/2 body in its stream's
 * buffer (stream->_req_body, until the stream closes). max-body-bytes bounds one body and
 * max-connections the connections, so without this file 32 unfinished 33 MB uploads on one h2c
 * connection held 1.1 GB. h2o's read callback (on_read_core) drains a readable socket completely
 * and hands it to HTTP/1 or HTTP/2 in the same call, so the loop, between two
 * h2o_evloop_run() calls, sees every buffer in a settled state: this file measures them all
 * after every loop iteration (O(connections + streams), no allocation) and, when the total is
 * over the limit, refuses the largest uploads still being received until it is not:
 *   - HTTP/2: RST_STREAM REFUSED_STREAM and h2o_http2_stream_reset(), exactly what h2o does for
 *     a body over max-body-bytes; the stream's buffer is freed at once, the connection and its
 *     other streams go on; clients may retry a refused stream.
 *   - HTTP/1 (a connection h2o is reading, with bytes buffered): h2o 2.2 exports no way to close
 *     an HTTP/1 connection, so the loop writes a 503 `overloaded` answer on the plain-TCP socket
 *     itself (h2o writes nothing while it reads a request) and disconnects the socket
 *     (connect(AF_UNSPEC): RST, kernel queues dropped); h2o's next read fails and it closes the
 *     connection and frees its buffer through its own path. TLS sockets get no 503 (the answer
 *     would have to be encrypted by h2o), only the reset.
 * A request whose body is complete is being handled: its bytes count in the total but it is never
 * refused.
 * An HTTP/2 upload whose content-length is over max-body-bytes is answered 413 in JSON, as over
 * HTTP/1, and not refused: h2o 2.2 would reset it with REFUSED_STREAM when its buffer passes the
 * limit, which tells a client to retry (curl tries 5 times, then fails with no answer), and it
 * has no hook to answer earlier. The scan marks such a stream the first time it sees it (one
 * loop iteration reads at most a receive buffer, 256 KiB, so before h2o's own check unless
 * max-body-bytes is smaller), clears its _expected_content_length (h2o's end-of-stream check
 * would otherwise reset it) and, at every scan, drops what its buffer holds. When the client
 * ends the stream, h2o runs the request and the first handler asks svc_conns_take_oversize()
 * and answers 413. A marked stream still receiving after SVC_CONN_OVER_MAX_US is refused as
 * before, which bounds how long a client can keep a connection busy with bytes nobody reads (the
 * lingering close of HTTP/1 has the same bound). A stream without content-length that grows
 * past the limit is still refused by h2o (REFUSED_STREAM).
 * HTTP/2 uploads of one connection beyond http2-max-streams are refused the same way, newest
 * first (h2o 2.2 announces 100 streams in a constant SETTINGS frame it cannot change).
 * Overshoot: one loop iteration reads what the kernel had queued for each readable socket, so the
 * total may pass the limit by the sockets' receive queues before the scan refuses: svc_http caps
 * them (SO_RCVBUF 256 KiB on the listeners; Linux autotuning would allow up to 6-32 MB each).
 * Refused bodies go back to malloc, whose free lists the engine keeps (trim threshold 512 MB) and
 * the doubling buffers of other uploads cannot reuse: malloc_trim() after refusals.
 *
 * DESIGN (ownership, loop thread only)
 *   One svc_conn per accepted socket, in `conns`, created by svc_conns_opened() from on_accept
 *   and freed by svc_conns_closed() from the socket's on_close (h2o calls it when it closes the
 *   socket, after an HTTP/1 to HTTP/2 upgrade too). A svc_conn is found from a socket through
 *   sock->on_close.data. The HTTP/2 structures (h2o/http2_internal.h, with khash.h of h2o 2.2.5
 *   vendored in h2o_compat/) are read here and nowhere else.
 *   A complete HTTP/2 body that a job reads in place is taken from its stream into the request's
 *   pool (svc_conns_hold_body): h2o frees a stream's buffer before it disposes the request, which
 *   the job's link to the request needs the other way round (svc_routes.c). held_bytes counts
 *   those bodies in the total, as their streams did.
 */
#include "svc_conns.h"

#include <errno.h>
#include <malloc.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "h2o/http2.h"
#include "h2o/http2_internal.h"
#include "svc_linger.h"
#include "svc_log.h"
#include "svc_reqhead.h"

#define SVC_CONN_OVER_STREAMS 8             /* streams of one connection marked over max-body-bytes at once */
#define SVC_CONN_OVER_MAX_US (10 * 1000000) /* how long a marked stream may go on sending */

typedef struct svc_conn {
    h2o_linklist_t link; /* in conns */
    h2o_socket_t *sock;
    svc_app *app;
    uint64_t bytes;       /* measured at the last scan */
    h2o_http2_conn_t *h2; /* set during a scan when the socket carries HTTP/2 */
    int refused;          /* HTTP/1 refused and reset: h2o closes it at its next read */
    int linger_fd;        /* svc_linger's descriptor of the connection, handed over at the close */
    /* HTTP/2 streams whose content-length is over max-body-bytes: their bytes are dropped and
     * they are answered 413 when they end (over_since_us: when marked) */
    uint32_t over_ids[SVC_CONN_OVER_STREAMS];
    int64_t over_since_us[SVC_CONN_OVER_STREAMS];
    int n_over;
    /* HTTP/1: the bytes the request being received announces (head + Content-Length), 0 = not
     * read yet, UINT64_MAX = none; h1_seen: the input's size at the last scan */
    uint64_t h1_total;
    size_t h1_seen;
} svc_conn;

static h2o_linklist_t conns = {&conns, &conns};
static int64_t last_refusal_log_us, last_trim_us;
static uint64_t scans, trim_after_scan; /* trim_after_scan: 0 = nothing to give back */
static uint64_t refusals_since_log;
static uint64_t held_bytes; /* HTTP/2 bodies taken from their streams (svc_conns_hold_body) */

uint64_t svc_conns_body_limit(const svc_config *cfg)
{
    uint64_t limit;
    if (cfg->max_inflight_body_bytes > 0)
        return (uint64_t)cfg->max_inflight_body_bytes;
    if (cfg->memory_budget <= 0)
        return 8 * (uint64_t)cfg->max_body_bytes;
    limit = (uint64_t)cfg->memory_budget / 4;
    return limit < (uint64_t)cfg->max_body_bytes ? (uint64_t)cfg->max_body_bytes : limit;
}

svc_conn *svc_conns_opened(svc_app *app, h2o_socket_t *sock)
{
    svc_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->sock = sock;
    c->app = app;
    c->linger_fd = svc_linger_keep(sock);
    h2o_linklist_insert(&conns, &c->link);
    return c;
}

svc_app *svc_conns_closed(svc_conn *c)
{
    svc_app *app = c->app;
    h2o_linklist_unlink(&c->link);
    svc_linger_release(app->ctx.loop, c->linger_fd);
    free(c);
    return app;
}

static void log_refusal(const char *what, uint64_t bytes, uint64_t total, uint64_t limit)
{
    int64_t now = g_get_monotonic_time();
    trim_after_scan = scans; /* a refused HTTP/1 buffer is freed by h2o in a later iteration */
    refusals_since_log++;
    if (now - last_refusal_log_us < 1000000) /* at most one line a second under attack */
        return;
    svc_log_printf(SVC_LOG_WARN,
                   "refused %s holding %llu body bytes (%llu uploads refused in the last second): %llu bytes buffered, over "
                   "max-inflight-body-bytes %llu",
                   what, (unsigned long long)bytes, (unsigned long long)refusals_since_log, (unsigned long long)total,
                   (unsigned long long)limit);
    last_refusal_log_us = now;
    refusals_since_log = 0;
}

/* ---- uploads grown once ---------------------------------------------------------------------- */

/* An upload that announced its size gets a buffer of that size in one step. h2o doubles its
 * buffers as bytes arrive (an 11 MB body went through 8 KB, 16 KB ... 16 MB: 11 MB of copies, and
 * the freed buffers stay in the heap, which keeps them: the png workload's server held 53 MB for
 * two such uploads). Only once a sixteenth of the body is in, so that what is reserved and not
 * yet written stays within 16 x what was received (bounded by max-inflight-body-bytes), and never
 * past `max_total` (h2o refuses those anyway). The body stays in the heap, whose pages the next
 * upload reuses; the pool thread copies it from there into its worker's arena (svc_job.h,
 * svc_arena.h). Receiving into a memfd, mapped, was measured slower: on the test VM a page
 * written first through a new mapping costs about 5 us, so a 3 MB upload cost the loop thread
 * 4 ms more than this and a write() (docs/performance.md). h2o grows these buffers itself at any
 * read, so nothing points into one still being received; a job points into an HTTP/1 body only
 * once it is complete and h2o has stopped reading the socket (svc_job.h). */
static void presize(h2o_buffer_t **buf, uint64_t total, uint64_t max_total)
{
    h2o_buffer_t *b = *buf;
    if (b == NULL || b->bytes == NULL || total == 0 || total > max_total || b->size >= total || b->size < total / 16)
        return;
    size_t room = b->capacity - b->size - (size_t)(b->bytes - b->_buf);
    if (room < total - b->size)
        h2o_buffer_reserve(buf, (size_t)(total - b->size));
}

#define PRESIZE_FROM (64u << 10) /* an upload's bytes before its head is read: smaller ones never are */
#define PRESIZE_HEAD (16u << 10) /* a head must end within this for its Content-Length to be used */

/* HTTP/1: the announced size of the request being received, read once per request and only
 * when PRESIZE_FROM bytes have arrived (a head that trickles in, byte by byte, is never
 * re-read: the work stays one bounded read per large upload). */
static void h1_presize(svc_conn *c, uint64_t max_body)
{
    h2o_buffer_t *in = c->sock->input;
    if (in->size < c->h1_seen) /* the last request's bytes were consumed: another one */
        c->h1_total = 0;
    c->h1_seen = in->size;
    if (c->h1_total == 0 && in->size >= PRESIZE_FROM) {
        svc_reqhead h;
        svc_reqhead_read(in->bytes, PRESIZE_HEAD, &h);
        c->h1_total =
            h.head_len > 0 && h.content_length_ok && h.content_length <= max_body ? h.head_len + h.content_length : UINT64_MAX;
    }
    if (c->h1_total != 0 && c->h1_total != UINT64_MAX)
        presize(&c->sock->input, c->h1_total, max_body + PRESIZE_HEAD);
}

/* ---- HTTP/2 ----------------------------------------------------------------------------------- */

static uint64_t stream_bytes(const h2o_http2_stream_t *st)
{
    return st->_req_body != NULL ? st->_req_body->size : 0;
}

static void refuse_stream(h2o_http2_conn_t *h2, h2o_http2_stream_t *st)
{
    /* h2o's stream_send_error() + reset, as for a body over max-body-bytes */
    h2o_http2__encode_rst_stream_frame(&h2->_write.buf, st->stream_id, -H2O_HTTP2_ERROR_REFUSED_STREAM);
    h2o_http2_conn_request_write(h2);
    h2o_http2_stream_reset(h2, st);
}

/* Streams may be refused only while the connection is open: on a closing connection h2o may
 * free the connection when its last stream goes (h2o_http2_conn_unregister_stream). */
static int h2_can_refuse(const h2o_http2_conn_t *h2)
{
    return h2->state == H2O_HTTP2_CONN_STATE_OPEN;
}

/* The receiving stream with the most (or, newest = 1, the highest id) bytes, or NULL. */
static h2o_http2_stream_t *h2_pick(h2o_http2_conn_t *h2, int newest, size_t *n_receiving)
{
    h2o_http2_stream_t *best = NULL;
    *n_receiving = 0;
    for (khiter_t k = kh_begin(h2->streams); k != kh_end(h2->streams); ++k) {
        if (!kh_exist(h2->streams, k))
            continue;
        h2o_http2_stream_t *st = kh_val(h2->streams, k);
        if (st->state != H2O_HTTP2_STREAM_STATE_RECV_BODY)
            continue;
        (*n_receiving)++;
        if (best == NULL || (newest ? st->stream_id > best->stream_id : stream_bytes(st) > stream_bytes(best)))
            best = st;
    }
    return best;
}

static int over_find(const svc_conn *c, uint32_t stream_id)
{
    for (int i = 0; i < c->n_over; i++)
        if (c->over_ids[i] == stream_id)
            return i;
    return -1;
}

static void over_remove(svc_conn *c, int i)
{
    c->n_over--;
    c->over_ids[i] = c->over_ids[c->n_over];
    c->over_since_us[i] = c->over_since_us[c->n_over];
}

/* The streams receiving a body: marks those that announce more than max-body-bytes, drops what
 * the marked ones hold, refuses those that send for too long, and forgets the marks of streams
 * that are gone; grows the others' buffers once to their content-length (presize). */
static void h2_uploads(svc_conn *c, h2o_http2_conn_t *h2, uint64_t max_body, int64_t now)
{
    for (int i = c->n_over - 1; i >= 0; i--) {
        khiter_t k = kh_get(h2o_http2_stream_t, h2->streams, c->over_ids[i]);
        if (k == kh_end(h2->streams)) /* reset, or answered and closed */
            over_remove(c, i);
    }
    for (khiter_t k = kh_begin(h2->streams); k != kh_end(h2->streams); ++k) {
        if (!kh_exist(h2->streams, k))
            continue;
        h2o_http2_stream_t *st = kh_val(h2->streams, k);
        if (st->state != H2O_HTTP2_STREAM_STATE_RECV_BODY || st->_req_body == NULL)
            continue;
        int i = over_find(c, st->stream_id);
        if (i < 0) {
            if (st->_expected_content_length == SIZE_MAX)
                continue;
            if (st->_expected_content_length <= max_body) {
                presize(&st->_req_body, st->_expected_content_length, max_body);
                continue;
            }
            if (c->n_over == SVC_CONN_OVER_STREAMS) {
                if (h2_can_refuse(h2))
                    refuse_stream(h2, st); /* h2o's own answer */
                continue;
            }
            i = c->n_over++;
            c->over_ids[i] = st->stream_id;
            c->over_since_us[i] = now;
            st->_expected_content_length = SIZE_MAX; /* the body will not match it: we drop it */
        }
        if (now - c->over_since_us[i] > SVC_CONN_OVER_MAX_US) {
            if (h2_can_refuse(h2)) {
                svc_log_printf(SVC_LOG_WARN, "refused an HTTP/2 stream over max-body-bytes still sending after %d s",
                               SVC_CONN_OVER_MAX_US / 1000000);
                refuse_stream(h2, st);
                over_remove(c, i);
            }
            continue;
        }
        if (st->_req_body->size > 0)
            h2o_buffer_consume(&st->_req_body, st->_req_body->size);
    }
}

int svc_conns_take_oversize(h2o_req_t *req)
{
    if (req->version < 0x200)
        return 0;
    h2o_http2_conn_t *h2 = (h2o_http2_conn_t *)req->conn; /* h2o 2.2's only protocol at 0x200 */
    svc_conn *c = h2->sock != NULL && h2->sock->on_close.data != NULL ? (svc_conn *)h2->sock->on_close.data : NULL;
    if (c == NULL || c->sock != h2->sock || c->n_over == 0)
        return 0;
    int i = over_find(c, H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, req, req)->stream_id);
    if (i < 0)
        return 0;
    over_remove(c, i);
    return 1;
}

/* An HTTP/2 body taken from its stream, freed with its request's pool (after the job's link to
 * the request, registered later, has let go of it: h2o disposes pool entries newest first). */
typedef struct held_body {
    h2o_buffer_t *buf;
    uint64_t size;
} held_body;

static void held_body_dispose(void *p)
{
    held_body *h = p;
    held_bytes -= h->size;
    h2o_buffer_dispose(&h->buf);
}

bool svc_conns_hold_body(h2o_req_t *req)
{
    if (req->version < 0x200)
        return true; /* h2o 2.2.5 frees an HTTP/1 socket's buffer after it disposes the request */
    h2o_http2_stream_t *st = H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, req, req);
    h2o_buffer_t *b = st->_req_body;
    /* the stream's buffer holds the body (not so for stream 1 of an h2c upgrade: in
     * conn->_http1_req_input) and h2o is done writing it (the stream ended: REQ_PENDING or
     * later; DATA frames in any other state are refused without touching it) */
    if (b == NULL || req->entity.base == NULL || req->entity.base < b->bytes ||
        req->entity.base + req->entity.len > b->bytes + b->size)
        return false;
    held_body *h = h2o_mem_alloc_shared(&req->pool, sizeof(*h), held_body_dispose);
    h->buf = b;
    h->size = b->size;
    held_bytes += h->size;
    st->_req_body = NULL; /* h2o_http2_stream_close() disposes it only when set */
    return true;
}

/* the bytes an HTTP/2 connection holds */
static uint64_t h2_bytes(h2o_http2_conn_t *h2)
{
    uint64_t n = h2->sock != NULL && h2->sock->input != NULL ? h2->sock->input->size : 0;
    for (khiter_t k = kh_begin(h2->streams); k != kh_end(h2->streams); ++k)
        if (kh_exist(h2->streams, k)) {
            const h2o_http2_stream_t *st = kh_val(h2->streams, k);
            n += stream_bytes(st);
        }
    return n;
}

/* ---- HTTP/1 ----------------------------------------------------------------------------------- */

/* h2o reads an HTTP/1 socket only while it waits for (the rest of) a request; bytes buffered
 * then are an unfinished request. */
static int h1_receiving(const svc_conn *c)
{
    return c->h2 == NULL && !c->refused && c->sock->_cb.read != NULL && c->sock->input != NULL && c->sock->input->size > 0;
}

/* Answer 503 on the plain-TCP socket (h2o writes nothing while it reads a request), then reset
 * the connection (connect(AF_UNSPEC): RST, the kernel's queues dropped). h2o keeps reading: its
 * next read fails (ENOTCONN) and it closes the connection and frees the buffer itself. The
 * client's kernel keeps the 503 readable after the RST (Linux); a client that only writes sees
 * the reset. */
static void h1_refuse(svc_conn *c)
{
    static const char body[] = "{\"message\":\"server busy: request bodies being received exceed max-inflight-body-bytes; retry "
                               "later\",\"status\":503,\"error\":\"overloaded\"}";
    struct sockaddr sa;
    int fd = h2o_socket_get_fd(c->sock);
    if (fd < 0)
        return;
    if (c->sock->ssl == NULL) {
        char resp[512];
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                         "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                         sizeof(body) - 1, body);
        ssize_t w = send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w; /* a full send buffer: the client only sees the reset */
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNSPEC;
    if (connect(fd, &sa, sizeof(sa)) != 0)
        shutdown(fd, SHUT_RDWR);
    c->refused = 1;
}

/* ---- the scan --------------------------------------------------------------------------------- */

static svc_conn *conn_of(h2o_socket_t *sock)
{
    return sock != NULL && sock->on_close.data != NULL ? (svc_conn *)sock->on_close.data : NULL;
}

void svc_conns_scan(svc_app *app)
{
    const uint64_t limit = svc_conns_body_limit(app->cfg);
    const size_t max_streams = (size_t)app->cfg->http2_max_streams;
    int64_t now = g_get_monotonic_time();
    uint64_t total = held_bytes; /* bodies of requests being handled count, wherever they are */
    h2o_linklist_t *node;
    scans++;

    for (node = conns.next; node != &conns; node = node->next) {
        svc_conn *c = H2O_STRUCT_FROM_MEMBER(svc_conn, link, node);
        c->h2 = NULL;
    }
    for (node = app->ctx.http2._conns.next; node != &app->ctx.http2._conns; node = node->next) {
        h2o_http2_conn_t *h2 = H2O_STRUCT_FROM_MEMBER(h2o_http2_conn_t, _conns, node);
        svc_conn *c = conn_of(h2->sock);
        h2o_http2_stream_t *st;
        size_t n;
        if (c == NULL || c->sock != h2->sock)
            continue;
        c->h2 = h2;
        h2_uploads(c, h2, (uint64_t)app->cfg->max_body_bytes, now);
        /* uploads per connection */
        while (h2_can_refuse(h2) && (st = h2_pick(h2, 1, &n)) != NULL && n > max_streams) {
            log_refusal("an HTTP/2 stream over http2-max-streams", stream_bytes(st), total, limit);
            refuse_stream(h2, st);
        }
    }
    for (node = conns.next; node != &conns; node = node->next) {
        svc_conn *c = H2O_STRUCT_FROM_MEMBER(svc_conn, link, node);
        if (c->h2 == NULL && !c->refused && h1_receiving(c))
            h1_presize(c, (uint64_t)app->cfg->max_body_bytes);
        else if (c->h2 == NULL)
            c->h1_total = 0, c->h1_seen = 0;
        if (c->refused) /* leaving: its buffer is freed with the connection */
            c->bytes = 0;
        else if (c->h2 != NULL)
            c->bytes = h2_bytes(c->h2);
        else
            c->bytes = c->sock->input != NULL ? c->sock->input->size : 0;
        total += c->bytes;
    }
    /* over the limit: refuse the largest uploads still being received */
    while (total > limit) {
        svc_conn *best = NULL;
        h2o_http2_stream_t *best_st = NULL;
        uint64_t best_bytes = 0;
        for (node = conns.next; node != &conns; node = node->next) {
            svc_conn *c = H2O_STRUCT_FROM_MEMBER(svc_conn, link, node);
            if (c->h2 != NULL) {
                size_t n;
                h2o_http2_stream_t *st = h2_can_refuse(c->h2) ? h2_pick(c->h2, 0, &n) : NULL;
                if (st != NULL && stream_bytes(st) > best_bytes) {
                    best = c;
                    best_st = st;
                    best_bytes = stream_bytes(st);
                }
            } else if (h1_receiving(c) && c->bytes > best_bytes) {
                best = c;
                best_st = NULL;
                best_bytes = c->bytes;
            }
        }
        if (best == NULL)
            break; /* only requests being handled hold the rest */
        log_refusal(best_st != NULL ? "an HTTP/2 upload" : "an HTTP/1 upload", best_bytes, total, limit);
        if (best_st != NULL) {
            refuse_stream(best->h2, best_st);
            best->bytes -= best_bytes;
        } else {
            h1_refuse(best);
            best->bytes = 0;
        }
        total -= best_bytes;
    }
    /* refused bodies were freed into malloc's free lists, which the engine's settings keep (trim
     * threshold 512 MB) and which the doubling buffers of other uploads cannot reuse: give the
     * pages back, at most every 50 ms */
    if (trim_after_scan != 0 && scans > trim_after_scan && now - last_trim_us >= 50000) {
        malloc_trim(0);
        last_trim_us = now;
        trim_after_scan = 0;
    }
}
