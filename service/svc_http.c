/*
 * svc_http: h2o 2.2 (evloop) wiring, after h2o's examples/libh2o/simple.c. One loop (the main
 * thread), one h2o_context_t, listeners created here. HTTP/2 without TLS works by prior
 * knowledge: h2o's HTTP/1 parser switches to HTTP/2 when it sees the connection preface
 * (http1.upgrade_to_http2, on by default).
 *
 * Connection limit: every accepted socket gets an on_close callback that decrements the count;
 * at max-connections the listeners stop reading (new connections wait in the kernel backlog)
 * until one closes (as h2o's own server does). Every accepted socket is also tracked by
 * svc_conns (its on_close data), which bounds the request bodies they buffer.
 */
#include "svc_http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "svc_conns.h"
#include "svc_early_errors.h"
#include "svc_reqhead.h"
#include "svc_respond.h"
#include "svc_routes.h"
#include "svc_sources.h"

static void on_accept(h2o_socket_t *listener, const char *err);

static void listeners_read(svc_app *app, int on)
{
    for (int i = 0; i < app->n_listeners; i++) {
        if (app->listeners[i].sock == NULL)
            continue;
        if (on)
            h2o_socket_read_start(app->listeners[i].sock, on_accept);
        else
            h2o_socket_read_stop(app->listeners[i].sock);
    }
}

static void on_sock_close_untracked(svc_app *app);

static void on_sock_close(void *data)
{
    on_sock_close_untracked(svc_conns_closed(data));
}

static void on_sock_close_untracked(svc_app *app)
{
    int n = atomic_fetch_sub(&app->connections, 1) - 1;
    if (app->accept_paused && n < app->cfg->max_connections && !atomic_load(&app->draining)) {
        app->accept_paused = 0;
        listeners_read(app, 1);
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    svc_listener *l = listener->data;
    svc_app *app = l->accept_ctx->ctx == NULL ? NULL : H2O_STRUCT_FROM_MEMBER(svc_app, ctx, l->accept_ctx->ctx);
    h2o_socket_t *sock;
    if (err != NULL || app == NULL)
        return;
    if ((sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    if (atomic_fetch_add(&app->connections, 1) + 1 >= app->cfg->max_connections) {
        app->accept_paused = 1;
        listeners_read(app, 0);
    }
    if ((sock->on_close.data = svc_conns_opened(app, sock)) == NULL) {
        h2o_socket_close(sock);
        on_sock_close_untracked(app);
        return;
    }
    sock->on_close.cb = on_sock_close;
    h2o_accept(l->accept_ctx, sock);
}

/* ---- request framing guard (HTTP/1) ------------------------------------------------------------
 * h2o 2.2 takes the first of several Content-Length headers and, when Transfer-Encoding is also
 * there, decodes chunked and ignores Content-Length; both headers are then dropped from
 * req->headers. A proxy in front that frames the same bytes the other way (the last
 * Content-Length, or Content-Length over chunked) would see a different next request: request
 * smuggling. This handler runs before the routes: it re-reads the request's header block, which
 * h2o 2.2 keeps at the start of the socket's input buffer until the answer is written (header
 * names lower-cased in place; svc_reqhead.c reads it), and answers 400 `bad_request` with
 * Connection: close to a request with Content-Length and Transfer-Encoding together or with two
 * different Content-Length values.
 * HTTP/2 framing has no such ambiguity (h2o checks content-length against the DATA frames).
 * Being first, this handler also answers the HTTP/2 uploads over max-body-bytes that svc_conns
 * drained (413). */

typedef struct framing_guard {
    h2o_handler_t super;
    svc_app *app;
} framing_guard;

static int framing_guard_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    framing_guard *g = (framing_guard *)self;
    h2o_socket_t *sock;
    const char *problem;
    char msg[160];
    if (svc_conns_take_oversize(req)) { /* HTTP/2 body over max-body-bytes, drained by svc_conns */
        svc_early_errors_send_too_large(g->app, req);
        return 0;
    }
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL ||
        (sock = req->conn->callbacks->get_socket(req->conn)) == NULL || sock->input == NULL || req->entity.base == NULL)
        return -1; /* only requests with a body can be framed two ways */
    svc_reqhead head;
    svc_reqhead_read(sock->input->bytes, sock->input->size < H2O_MAX_REQLEN ? sock->input->size : H2O_MAX_REQLEN, &head);
    if ((problem = svc_reqhead_framing_problem(&head)) == NULL)
        return -1;
    svc_reqctx *rc = svc_reqctx_new(g->app, req);
    rc->route = "bad_request";
    req->http1_is_persistent = 0; /* what follows on this connection cannot be trusted */
    snprintf(msg, sizeof(msg), "ambiguous request framing: %s (RFC 9112 6.3)", problem);
    svc_respond_fail(rc, SVC_E_BAD_REQUEST, msg);
    return 0;
}

static void framing_guard_register(svc_app *app, h2o_pathconf_t *pathconf)
{
    framing_guard *g = (framing_guard *)h2o_create_handler(pathconf, sizeof(*g));
    g->super.on_req = framing_guard_on_req;
    g->app = app;
}

/* Receive buffer of accepted sockets: one loop iteration reads at most this much (doubled by the
 * kernel) per readable socket, which bounds how far buffered bodies can pass
 * max-inflight-body-bytes before svc_conns_scan refuses (Linux autotuning grows it to tcp_rmem's
 * maximum, 6-32 MB, otherwise). */
#define SVC_HTTP_RCVBUF (256 * 1024)

static int open_listener(svc_app *app, const char *addr, h2o_accept_ctx_t *actx, char *errbuf, size_t errlen)
{
    char host[256], port_s[16];
    int port, fd = -1, one = 1, rcvbuf = SVC_HTTP_RCVBUF;
    struct addrinfo hints, *res = NULL;
    svc_listener *l;
    if (svc_config_split_addr(addr, host, sizeof(host), &port) != 0) {
        snprintf(errbuf, errlen, "listen: '%s' is not HOST:PORT", addr);
        return -1;
    }
    snprintf(port_s, sizeof(port_s), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, port_s, &hints, &res);
    if (gai != 0) {
        snprintf(errbuf, errlen, "listen: cannot resolve '%s': %s", addr, gai_strerror(gai));
        return -1;
    }
    if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        snprintf(errbuf, errlen, "listen: cannot listen on %s: %s (is another process using the port?)", addr, strerror(errno));
        if (fd != -1)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)); /* accepted sockets inherit it */
    l = &app->listeners[app->n_listeners++];
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    l->accept_ctx = actx;
    l->sock = h2o_evloop_socket_create(app->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    l->sock->data = l;
    h2o_socket_read_start(l->sock, on_accept);
    return 0;
}

static int setup_tls(svc_app *app, char *errbuf, size_t errlen)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (ssl == NULL) {
        snprintf(errbuf, errlen, "tls: cannot create an OpenSSL context");
        return -1;
    }
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ssl, app->cfg->tls_cert) != 1) {
        snprintf(errbuf, errlen, "tls-cert: cannot load PEM certificate chain from '%s'", app->cfg->tls_cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ssl, app->cfg->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ssl) != 1) {
        snprintf(errbuf, errlen, "tls-key: cannot load PEM private key from '%s', or it does not match tls-cert",
                 app->cfg->tls_key);
        goto fail;
    }
    h2o_ssl_register_alpn_protocols(ssl, h2o_http2_alpn_protocols);
    app->ssl = ssl;
    return 0;
fail:
    ERR_clear_error();
    SSL_CTX_free(ssl);
    return -1;
}

int svc_http_start(svc_app *app, char *errbuf, size_t errlen)
{
    const svc_config *cfg = app->cfg;
    h2o_hostconf_t *main_host, *metrics_host;
    static char server_name[64];

    h2o_config_init(&app->h2o);
    snprintf(server_name, sizeof(server_name), "imgpipe/%s", IMGPIPE_VERSION);
    app->h2o.server_name = h2o_iovec_init(server_name, strlen(server_name));
    app->h2o.max_request_entity_size = (size_t)cfg->max_body_bytes;
    app->h2o.http1.req_timeout = (uint64_t)cfg->idle_timeout_ms;
    app->h2o.http2.idle_timeout = (uint64_t)cfg->idle_timeout_ms;
    app->h2o.handshake_timeout = (uint64_t)cfg->handshake_timeout_ms;
    app->h2o.http2.graceful_shutdown_timeout = (uint64_t)cfg->drain_timeout_ms;
    /* requests of one HTTP/2 connection run at once (h2o queues the others, bodies complete);
     * streams still receiving a body are limited by svc_conns_scan */
    app->h2o.http2.max_concurrent_requests_per_connection = (size_t)cfg->http2_max_streams;

    main_host = h2o_config_register_host(&app->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *main_path = h2o_config_register_path(main_host, "/", 0);
    framing_guard_register(app, main_path); /* runs first: h2o tries handlers in order */
    svc_routes_register(app, main_path, 0);
    metrics_host = h2o_config_register_host(&app->h2o, h2o_iovec_init(H2O_STRLIT("metrics")), 65535);
    h2o_pathconf_t *metrics_path = h2o_config_register_path(metrics_host, "/", 0);
    framing_guard_register(app, metrics_path);
    svc_routes_register(app, metrics_path, 1);
    svc_early_errors_register(app, main_host); /* h2o's own 413/400/417 in JSON */
    svc_early_errors_register(app, metrics_host);
    app->hosts_main[0] = main_host;
    app->hosts_metrics[0] = metrics_host;

    if (cfg->tls_cert != NULL && setup_tls(app, errbuf, errlen) != 0)
        return -1;

    h2o_context_init(&app->ctx, h2o_evloop_create(), &app->h2o);
    h2o_multithread_register_receiver(app->ctx.queue, &app->receiver, svc_routes_on_jobs);
    h2o_linklist_init_anchor(&app->inflight_links);
    if (svc_sources_start(app, errbuf, errlen) != 0) /* url=, file=: the fetch thread and its receiver */
        return -1;

    app->accept_main.ctx = &app->ctx;
    app->accept_main.hosts = app->hosts_main;
    app->accept_main.ssl_ctx = app->ssl;
    app->accept_metrics.ctx = &app->ctx;
    app->accept_metrics.hosts = app->hosts_metrics;
    app->accept_metrics.ssl_ctx = NULL;

    for (int i = 0; i < cfg->listen.n; i++)
        if (open_listener(app, cfg->listen.v[i], &app->accept_main, errbuf, errlen) != 0)
            return -1;
    if (cfg->metrics_listen != NULL && open_listener(app, cfg->metrics_listen, &app->accept_metrics, errbuf, errlen) != 0)
        return -1;
    return 0;
}

void svc_http_close_listeners(svc_app *app)
{
    for (int i = 0; i < app->n_listeners; i++) {
        if (app->listeners[i].sock != NULL) {
            h2o_socket_read_stop(app->listeners[i].sock);
            h2o_socket_close(app->listeners[i].sock);
            app->listeners[i].sock = NULL;
        }
    }
}
