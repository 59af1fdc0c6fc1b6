/*
 * svc_app: the state of one `imgpipe serve` process, shared by the service's files.
 *
 * DESIGN (threads)
 *   - Fields marked "loop" are touched only on the loop thread (h2o objects, counters of live
 *     requests and connections). Fields marked "any" are immutable after startup or atomic.
 *   - There is one loop thread (the main thread); the workers live in svc_pool.
 */
#ifndef SVC_APP_H
#define SVC_APP_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <h2o.h>

#include "pl_engine.h"
#include "svc_auth.h"
#include "svc_config.h"
#include "svc_pool.h"

typedef struct svc_listener {
    h2o_socket_t *sock;
    h2o_accept_ctx_t *accept_ctx;
    char addr[128];
} svc_listener;

typedef struct svc_app {
    /* any: immutable after startup */
    const svc_config *cfg;
    svc_pool *pool;
    svc_auth *auth; /* NULL when no key, signature or CORS is configured */
    pl_limits limits;
    int64_t started_us; /* g_get_monotonic_time() at startup */
    /* any: atomics */
    atomic_int draining;
    atomic_int connections;
    atomic_int inflight;      /* image jobs submitted and not yet answered (written on the loop) */
    atomic_int open_requests; /* h2o requests not yet disposed, i.e. answers not fully written */
    /* loop */
    h2o_globalconf_t h2o;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_main, accept_metrics;
    h2o_hostconf_t *hosts_main[2], *hosts_metrics[2];
    SSL_CTX *ssl;
    h2o_multithread_receiver_t receiver;
    h2o_linklist_t inflight_links; /* svc_req_link of HTTP/1 requests waiting for a worker's answer */
    int64_t last_disconnect_scan_us;
    svc_listener listeners[SVC_MAX_LISTEN + 1];
    int n_listeners;
    int accept_paused;
    uint64_t id_seed, id_counter;
    /* image sources beyond the body (svc_sources.c): url= and file= */
    struct svc_fetch *fetch;                   /* any (thread-safe submit); NULL when no source is on */
    struct svc_origins *origins;               /* any: immutable; NULL when url= is off */
    int mount_fd;                              /* any: -1 when file= is off */
    h2o_multithread_receiver_t fetch_receiver; /* loop: finished fetches come back here */
    int fetches;                               /* loop: items out at the fetch thread */
} svc_app;

#endif
