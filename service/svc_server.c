/*
 * svc_server: `imgpipe serve` from start to exit.
 *
 * Startup: settings (svc_config) -> logs -> engine (pl_engine_init with the libvips thread
 * count) -> limits -> auth -> metrics -> worker pool -> h2o and listeners -> one JSON startup
 * line on stderr (and a warning when a non-loopback listener has no API key and no URL
 * signature key) -> the loop.
 *
 * DESIGN (graceful shutdown)
 *   SIGTERM/SIGINT only set a flag (the handler is async-signal-safe); the loop wakes at least
 *   every 100 ms and then: marks the app draining (/ready answers 503), closes the listening
 *   sockets, asks h2o to shut connections down (GOAWAY on HTTP/2, "Connection: close" on
 *   HTTP/1), keeps running until every in-flight image request has been answered and every
 *   answer has been written out (h2o disposed the request), bounded by drain-timeout, then
 *   stops the pool (workers finish what they hold and call pl_engine_thread_done) and exits 0.
 *   A second signal during the drain exits at once with status 1.
 */
#include "svc_server.h"

#include <glib.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "svc_admission.h"
#include "svc_app.h"
#include "svc_config.h"
#include "svc_conns.h"
#include "svc_crash.h"
#include "svc_job.h"
#include "svc_http.h"
#include "svc_linger.h"
#include "svc_log.h"
#include "svc_metrics.h"
#include "svc_pool.h"
#include "svc_routes.h"
#include "svc_sources.h"

/* isolation=process: how long past its deadline (or its cancel) a job's worker process may run
 * before it is killed and the request answered 504 (499). libvips normally stops within a few
 * ms of the deadline by itself (pl_cancel); this only catches code that never returns to it. */
#define SVC_HARD_DEADLINE_GRACE_US 500000

static volatile sig_atomic_t stop_signals;

static void on_stop_signal(int sig)
{
    stop_signals++;
    if (stop_signals > 1) {
        static const char msg[] = "{\"level\":\"error\",\"msg\":\"second stop signal during drain: exiting now\"}\n";
        ssize_t r = write(2, msg, sizeof(msg) - 1);
        (void)r;
        _exit(1);
    }
    (void)sig;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    svc_crash_install();
}

static void gauges(svc_metrics_gauges *out, void *arg)
{
    svc_app *app = arg;
    out->workers = svc_pool_workers(app->pool);
    out->busy_workers = svc_pool_busy(app->pool);
    out->queue_capacity = svc_pool_capacity(app->pool);
    out->queue_depth = svc_pool_depth(app->pool);
    out->inflight_bytes = svc_job_inflight_bytes();
    out->draining = atomic_load(&app->draining);
    out->connections = atomic_load(&app->connections);
    out->memory_budget = svc_admission_budget();
    out->memory_reserved = svc_admission_in_use();
    out->memory_waiting = svc_admission_waiting();
    out->worker_rss = svc_pool_worker_rss(app->pool);
}

static int setup_engine(svc_app *app, const svc_config *cfg, char *errbuf, size_t errlen)
{
    pl_engine_config ecfg = {.vips_concurrency = (int)cfg->vips_concurrency, .vips_max_mem = 0, .allow_untrusted = false};
    pl_error err;
    pl_error_clear(&err);
    pl_limits_default(&app->limits);
    app->limits.max_input_pixels = (uint64_t)cfg->max_pixels;
    app->limits.max_output_pixels = (uint64_t)cfg->max_output_pixels;
    app->limits.max_frames = (int)cfg->max_frames;
    app->limits.max_heif_encode_ms = (uint32_t)cfg->max_heif_encode_ms;
    if (pl_formats_parse_mask(cfg->allowed_types ? cfg->allowed_types : "", &app->limits.allowed_inputs, &err) != 0) {
        snprintf(errbuf, errlen, "allowed-types: %s", err.message);
        return -2;
    }
    /* svg, pdf, jp2k: libvips' untrusted loaders, unblocked only when the operator lists them */
    ecfg.allow_untrusted = pl_formats_need_untrusted(app->limits.allowed_inputs);
    if (cfg->isolation == SVC_ISOLATION_PROCESS) {
        /* libvips runs in the worker processes only: no module, no decoder in this one; but the
         * uploads are image-sized buffers here too */
        pl_engine_tune_malloc(&ecfg);
        return 0;
    }
    if (pl_engine_init(&ecfg, &err) != 0) {
        snprintf(errbuf, errlen, "engine: %.300s %.300s", err.message, err.detail);
        return -1;
    }
    return 0;
}

static void log_startup(const svc_app *app)
{
    char *settings = svc_config_json(app->cfg);
    char *extra = NULL;
    if (settings != NULL && asprintf(&extra, "\"version\":\"%s\",\"h2o\":\"%s\",\"libvips\":\"%s\",\"tls\":%s,\"settings\":%s",
                                     IMGPIPE_VERSION, H2O_VERSION, pl_vips_version(), app->ssl ? "true" : "false", settings) > 0)
        svc_log_write(SVC_LOG_INFO, "imgpipe serve: listening", extra);
    free(extra);
    free(settings);
}

int svc_server_addr_is_loopback(const char *addr)
{
    char host[256];
    int port;
    struct in_addr a4;
    struct in6_addr a6;
    if (svc_config_split_addr(addr, host, sizeof(host), &port) != 0 || host[0] == '\0')
        return 0;
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0; /* a name other than localhost: may resolve to anything */
}

int svc_server_open_warning(const svc_config *cfg, char *buf, size_t len)
{
    if (cfg->api_keys != NULL || cfg->url_signature_key != NULL)
        return 0;
    for (int i = 0; i < cfg->listen.n; i++) {
        if (svc_server_addr_is_loopback(cfg->listen.v[i]))
            continue;
        snprintf(buf, len,
                 "listening on %s, which is not a loopback address, with no API key and no URL signature key: anyone who "
                 "can reach it can use it; set api-keys (IMGPIPE_API_KEYS) or url-signature-key (IMGPIPE_URL_SIGNATURE_KEY), "
                 "or listen on 127.0.0.1 behind a proxy that authenticates",
                 cfg->listen.v[i]);
        return 1;
    }
    return 0;
}

/* Open files: a client connection holds two descriptors (h2o's and svc_linger's), and as many
 * connections again may linger after their close (svc_linger caps them at max-connections), plus
 * slack for the rest (the pool threads' input memfds and the results in flight among them): the
 * soft limit is raised toward the hard one to hold that (a systemd service starts at 1024), as Go
 * and nginx do for theirs; when the hard limit is lower, max-connections is lowered to fit it,
 * so that accept() never meets EMFILE. */
static void fit_fd_limit(svc_config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg->max_connections * 3 + 256 + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = was;
    if (rl.rlim_cur >= want)
        return;
    long long fit = rl.rlim_cur > 256 + 3 * 16 ? (long long)(rl.rlim_cur - 256) / 3 : 16;
    svc_log_printf(SVC_LOG_WARN,
                   "open files limited to %llu: max-connections lowered from %lld to %lld (each takes up to 3); raise the "
                   "hard limit (LimitNOFILE=, ulimit -Hn) to keep it",
                   (unsigned long long)rl.rlim_cur, cfg->max_connections, fit);
    cfg->max_connections = fit;
}

/* Run the loop until the stop signal and the drain are over. */
static void run_loop(svc_app *app)
{
    int64_t drain_deadline = 0;
    while (1) {
        h2o_evloop_run(app->ctx.loop, 100);
        svc_conns_scan(app); /* every iteration: bodies buffered stay under max-inflight-body-bytes */
        svc_routes_scan_disconnects(app);
        if (stop_signals && !atomic_load(&app->draining)) {
            atomic_store(&app->draining, 1);
            svc_log_printf(SVC_LOG_INFO, "stop signal: draining (%d requests in flight, up to %lld ms)",
                           atomic_load(&app->inflight), (long long)app->cfg->drain_timeout_ms);
            svc_http_close_listeners(app);
            h2o_context_request_shutdown(&app->ctx);
            drain_deadline = g_get_monotonic_time() + app->cfg->drain_timeout_ms * 1000;
        }
        if (!atomic_load(&app->draining))
            continue;
        int64_t now = g_get_monotonic_time();
        if ((atomic_load(&app->inflight) > 0 || atomic_load(&app->open_requests) > 0) && now < drain_deadline)
            continue;
        if (atomic_load(&app->inflight) > 0 || atomic_load(&app->open_requests) > 0)
            svc_log_printf(SVC_LOG_WARN, "drain-timeout reached with %d jobs and %d responses unfinished",
                           atomic_load(&app->inflight), atomic_load(&app->open_requests));
        break;
    }
}

int svc_serve_main(int argc, char **argv)
{
    static svc_config cfg;
    static svc_app app;
    char errbuf[1024];
    int rc, status = 1;

    rc = svc_config_load(argc, argv, &cfg, errbuf, sizeof(errbuf));
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "imgpipe serve: %s\n", errbuf);
        return 2;
    }
    svc_log_init(cfg.log_level, cfg.access_log);
    fit_fd_limit(&cfg);
    svc_linger_init((int)cfg.max_connections);
    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    app.started_us = g_get_monotonic_time();
    app.id_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)app.started_us;
    app.id_seed = (app.id_seed * 0x9E3779B97F4A7C15ull) >> 16;
    install_signals();

    if ((rc = setup_engine(&app, &cfg, errbuf, sizeof(errbuf))) != 0) {
        fprintf(stderr, "imgpipe serve: %s\n", errbuf);
        svc_config_free(&cfg);
        return rc == -2 ? 2 : 1;
    }
    svc_log_capture_glib();
    if (cfg.api_keys != NULL || cfg.url_signature_key != NULL || cfg.cors_origins != NULL) {
        app.auth = svc_auth_new(cfg.api_keys, cfg.url_signature_key, cfg.cors_origins, errbuf, sizeof(errbuf));
        if (app.auth == NULL) {
            fprintf(stderr, "imgpipe serve: %s\n", errbuf);
            status = 2;
            goto out_engine;
        }
    }
    svc_metrics_init(IMGPIPE_VERSION);
    svc_admission_init((uint64_t)cfg.memory_budget); /* before the workers start */
    static svc_proc_config iso;
    iso = (svc_proc_config){.vips_concurrency = (int)cfg.vips_concurrency,
                            .allow_untrusted = pl_formats_need_untrusted(app.limits.allowed_inputs),
                            .memory_limit = (uint64_t)cfg.worker_memory_limit,
                            .log_level = cfg.log_level,
                            .grace_us = SVC_HARD_DEADLINE_GRACE_US,
                            .max_jobs = (int)cfg.worker_max_jobs,
                            .max_rss = (uint64_t)cfg.worker_max_rss};
    app.pool = svc_pool_new((int)cfg.workers, (int)cfg.queue, cfg.max_queue_wait_ms * 1000,
                            cfg.isolation == SVC_ISOLATION_PROCESS ? &iso : NULL, errbuf, sizeof(errbuf));
    if (app.pool == NULL) {
        fprintf(stderr, "imgpipe serve: %s\n", errbuf);
        goto out_auth;
    }
    svc_metrics_set_gauge_source(gauges, &app);
    if (svc_http_start(&app, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "imgpipe serve: %s\n", errbuf);
        goto out_pool;
    }
    log_startup(&app);
    if (svc_server_open_warning(&cfg, errbuf, sizeof(errbuf)))
        svc_log_printf(SVC_LOG_WARN, "%s", errbuf);
    run_loop(&app);
    svc_log_printf(SVC_LOG_INFO, "stopped accepting; waiting for the workers");
    svc_sources_stop(&app);
    status = 0;
out_pool:
    svc_pool_free(app.pool);
    app.pool = NULL;
    if (status == 0)
        svc_log_printf(SVC_LOG_INFO, "imgpipe serve: exit 0");
out_auth:
    if (app.auth != NULL)
        svc_auth_free(app.auth);
out_engine:
    if (cfg.isolation == SVC_ISOLATION_THREAD)
        pl_engine_shutdown();
    svc_config_free(&cfg);
    return status;
}
