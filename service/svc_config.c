/*
 * svc_config: the rows of `imgpipe serve`'s settings table (common/opt_table.h applies them to flags,
 * IMGPIPE_* variables, --help, --print-env and the startup line's JSON; the engine's limits and the
 * deadline are the shared rows of common/opt_limits.h), then serve's own checks across settings and
 * the resolution of the "0 = derived" values. Adding a setting = one svc_config field + one row.
 * Runs on the main thread at startup only.
 */
#include "svc_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opt_limits.h"
#include "svc_mount.h"
#include "svc_origin.h"

#define GIB (1024.0 * 1024 * 1024)

static int check_addr(const char *v, char *msg, size_t msg_len)
{
    char host[256];
    int port;
    if (svc_config_split_addr(v, host, sizeof(host), &port) == 0)
        return 0;
    snprintf(msg, msg_len, "give HOST:PORT with a port 1..65535 (e.g. 127.0.0.1:8080, [::1]:8080, :8080)");
    return -1;
}

/* clang-format off */
static const opt_row settings[] = {
    {.name = "listen", .type = OPT_LIST, .max = SVC_MAX_LISTEN, .def = "127.0.0.1:8080", .arg = "HOST:PORT", .check = check_addr,
     OPT_AT(svc_config, listen),
     .help = "address to serve HTTP on, HOST:PORT; repeat the flag (or comma-separate the env var) for several"},
    {.name = "workers", .type = OPT_INT, .max = 256, .def = "0", OPT_AT(svc_config, workers),
     .help = "image jobs run at once (pool threads); 0 = number of cores"},
    {.name = "isolation", .type = OPT_ENUM, .def = "process", .choices = "process,thread", OPT_AT(svc_config, isolation),
     .help = "process: each pool thread drives a sandboxed worker process, so a decoder crash or hang fails one request; "
             "thread: jobs run in the server process"},
    {.name = "queue", .type = OPT_INT, .max = 65536, .def = "0", OPT_AT(svc_config, queue),
     .help = "most jobs waiting for a worker (a hard cap on bodies held); 0 = 16 x workers"},
    {.name = "max-queue-wait", .type = OPT_DURATION, .max = 3600000, .def = "0", OPT_AT(svc_config, max_queue_wait_ms),
     .help = "admit a job while its predicted queue wait (recent job times x jobs ahead / workers) is at most this, else 503 at "
             "once; 0 = half the deadline"},
    {.name = "worker-max-jobs", .type = OPT_INT, .max = 100000000, .def = "10000", OPT_AT(svc_config, worker_max_jobs),
     .help = "isolation=process: jobs one worker process runs before it is replaced; 0 = never"},
    {.name = "worker-max-rss", .type = OPT_BYTES, .max = 1024 * GIB, .def = "1GiB", OPT_AT(svc_config, worker_max_rss),
     .help = "isolation=process: a worker process resident above this after a job is replaced; 0 = never"},
    {.name = "worker-memory-limit", .type = OPT_BYTES, .max = 1024 * GIB, .def = "0", OPT_AT(svc_config, worker_memory_limit),
     .help = "isolation=process: memory ceiling of each worker process (RLIMIT_DATA); 0 = memory-budget + 1GiB (none when "
             "memory-budget is 0)"},
    {.name = "max-body-bytes", .type = OPT_BYTES, .min = 1, .max = 4 * GIB, .def = "32MiB", OPT_AT(svc_config, max_body_bytes),
     .help = "largest request body (suffixes KiB, MiB, GiB); larger gets 413"},
    OPT_LIMIT_ROWS(svc_config, max_pixels, max_output_pixels, max_frames, max_heif_encode_ms, deadline_ms, allowed_types),
    {.name = "tls-cert", .type = OPT_STR, .def = "", OPT_AT(svc_config, tls_cert),
     .help = "PEM certificate chain file: serve HTTPS (HTTP/2 by ALPN)"},
    {.name = "tls-key", .type = OPT_STR, .def = "", OPT_AT(svc_config, tls_key), .help = "PEM private key file for tls-cert"},
    {.name = "log-level", .type = OPT_ENUM, .def = "info", .choices = "error,warn,info,debug", OPT_AT(svc_config, log_level),
     .help = "least severe log level written"},
    {.name = "access-log", .type = OPT_BOOL, .def = "on", OPT_AT(svc_config, access_log),
     .help = "one JSON line per request on stdout (on/off)"},
    {.name = "vips-concurrency", .type = OPT_INT, .max = 64, .def = "0", OPT_AT(svc_config, vips_concurrency),
     .help = "libvips threads per image; 0 = cores / workers (at least 1)"},
    {.name = "api-keys", .type = OPT_STR, .def = "", .secret = true, OPT_AT(svc_config, api_keys),
     .help = "comma-separated API keys (API-Key header, key= or Authorization: Bearer); empty = open"},
    {.name = "url-signature-key", .type = OPT_STR, .def = "", .secret = true, OPT_AT(svc_config, url_signature_key),
     .help = "HMAC key (>= 32 chars) for imaginary-style sign= URL signatures; empty = off"},
    {.name = "cors-origins", .type = OPT_STR, .def = "", OPT_AT(svc_config, cors_origins),
     .help = "comma-separated allowed CORS origins, * = any; empty = off"},
    {.name = "metrics-listen", .type = OPT_STR, .def = "", .arg = "HOST:PORT", .check = check_addr,
     OPT_AT(svc_config, metrics_listen),
     .help = "extra HOST:PORT serving only /metrics, /health and /ready; empty = none"},
    {.name = "max-connections", .type = OPT_INT, .min = 1, .max = 1000000, .def = "1024", OPT_AT(svc_config, max_connections),
     .help = "open client connections; above it new connections wait in the kernel backlog (lowered to fit the open-files "
             "limit, 3 each)"},
    {.name = "idle-timeout", .type = OPT_DURATION, .min = 100, .max = 3600000, .def = "10s", OPT_AT(svc_config, idle_timeout_ms),
     .help = "h2o: HTTP/1 request/keep-alive timeout and HTTP/2 idle timeout"},
    {.name = "handshake-timeout", .type = OPT_DURATION, .min = 100, .max = 3600000, .def = "10s",
     OPT_AT(svc_config, handshake_timeout_ms),
     .help = "h2o: TLS handshake timeout"},
    {.name = "memory-budget", .type = OPT_BYTES, .max = 1024 * GIB, .def = "1GiB", OPT_AT(svc_config, memory_budget),
     .help = "decode memory (header estimate) all running jobs may hold; jobs over it wait in the queue; 0 = off"},
    {.name = "max-inflight-body-bytes", .type = OPT_BYTES, .max = 1024 * GIB, .def = "0",
     OPT_AT(svc_config, max_inflight_body_bytes),
     .help = "request bodies (all connections, all streams) held in memory at once; over it the largest uploads still being "
             "received are refused (HTTP/1: 503, HTTP/2: stream reset REFUSED_STREAM); 0 = memory-budget / 4, at least "
             "max-body-bytes (8 x max-body-bytes when memory-budget is 0)"},
    {.name = "http2-max-streams", .type = OPT_INT, .min = 1, .max = 100, .def = "32", OPT_AT(svc_config, http2_max_streams),
     .help = "HTTP/2 streams of one connection that may receive a body at once (more are reset REFUSED_STREAM), and requests of "
             "one connection run at once"},
    {.name = "drain-timeout", .type = OPT_DURATION, .max = 3600000, .def = "15s", OPT_AT(svc_config, drain_timeout_ms),
     .help = "on SIGTERM/SIGINT: longest wait for in-flight requests before exiting"},
    {.name = "enable-url-source", .type = OPT_BOOL, .def = "off", OPT_AT(svc_config, enable_url_source),
     .help = "fetch the image from url= (GET, or POST without a body); needs allowed-origins (on/off)"},
    {.name = "allowed-origins", .type = OPT_STR, .def = "", OPT_AT(svc_config, allowed_origins),
     .help = "comma-separated origins url= may name: [scheme://]host[:port][/path-prefix], *.domain matches the domain and its "
             "subdomains, * any host (docs/http-api.md)"},
    {.name = "allow-private-sources", .type = OPT_BOOL, .def = "off", OPT_AT(svc_config, allow_private_sources),
     .help = "let url= reach loopback, private, link-local and other non-public addresses (on/off); off refuses them with 403"},
    {.name = "url-max-redirects", .type = OPT_INT, .max = 5, .def = "0", OPT_AT(svc_config, url_max_redirects),
     .help = "redirects url= may follow, each hop checked against allowed-origins and the address rules"},
    {.name = "url-timeout", .type = OPT_DURATION, .min = 100, .max = 600000, .def = "5s", OPT_AT(svc_config, url_timeout_ms),
     .help = "longest url= fetch, all hops (also cut by the request's deadline); 504 when it fires"},
    {.name = "url-max-fetches", .type = OPT_INT, .min = 1, .max = 4096, .def = "64", OPT_AT(svc_config, url_max_fetches),
     .help = "url=/file= reads in flight at once; above it 503 + Retry-After"},
    {.name = "mount", .type = OPT_STR, .def = "", OPT_AT(svc_config, mount),
     .help = "folder file= is read from (GET ?file=relative/path); no symlinks, no way out; empty = off"},
    {.name = "http-cache-ttl", .type = OPT_INT, .min = -1, .max = 31556926, .def = "-1", OPT_AT(svc_config, http_cache_ttl),
     .help = "seconds for Cache-Control: public, s-maxage, max-age and Expires on successful GET image answers (imaginary's); 0 "
             "= private, no-cache, no-store; -1 = no header; errors get no-store"},
    {.name = "etag", .type = OPT_BOOL, .def = "on", OPT_AT(svc_config, etag),
     .help = "strong ETag on image answers and 304 to a matching If-None-Match (on/off)"},
};
/* clang-format on */

static const opt_table serve_table = {
    .command = "imgpipe serve",
    .intro = "usage: imgpipe serve [--SETTING VALUE ...] [--print-env] [--help]\n\n"
             "Every setting is a flag and an environment variable; flags win over the environment.\n\n",
    .env_prefix = "IMGPIPE_",
    .rows = settings,
    .n_rows = sizeof(settings) / sizeof(settings[0]),
};

const opt_table *svc_config_table(void)
{
    return &serve_table;
}

int svc_config_split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *colon;
    char *end;
    long p;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (rb == NULL || rb[1] != ':' || (size_t)(rb - addr - 1) >= hostlen)
            return -1;
        memcpy(host, addr + 1, (size_t)(rb - addr - 1));
        host[rb - addr - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= hostlen)
            return -1;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
    }
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static void resolve(svc_config *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->cores = cores > 0 ? (int)cores : 1;
    if (cfg->workers == 0)
        cfg->workers = cfg->cores;
    if (cfg->queue == 0)
        cfg->queue = 16 * cfg->workers;
    if (cfg->max_queue_wait_ms == 0)
        cfg->max_queue_wait_ms = cfg->deadline_ms / 2;
    if (cfg->worker_memory_limit == 0 && cfg->memory_budget > 0)
        cfg->worker_memory_limit = cfg->memory_budget + (1LL << 30);
    if (cfg->vips_concurrency == 0) {
        cfg->vips_concurrency = cfg->cores / cfg->workers;
        if (cfg->vips_concurrency < 1)
            cfg->vips_concurrency = 1;
    }
}

/* What no single row can check: settings that need each other, and the files and origins named. */
static int validate(const svc_config *cfg, char *errbuf, size_t errlen)
{
    if (cfg->deadline_ms == 0)
        return opt_fail(errbuf, errlen,
                        "deadline: 0 (none) is for imgpipe batch and the bench; the service needs one (1ms..86400s)");
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        return opt_fail(errbuf, errlen, "tls-cert and tls-key: set both (HTTPS) or neither (plain HTTP)");
    if (cfg->enable_url_source && cfg->allowed_origins == NULL)
        return opt_fail(errbuf, errlen,
                        "enable-url-source needs allowed-origins: list the hosts url= may name (e.g. "
                        "https://images.example.org,*.cdn.example), or * for any public host");
    if (cfg->allowed_origins != NULL) {
        svc_origins *o = svc_origins_new(cfg->allowed_origins, errbuf, errlen);
        if (o == NULL)
            return -1;
        svc_origins_free(o);
    }
    if (cfg->mount != NULL) {
        int fd = svc_mount_open(cfg->mount, errbuf, errlen);
        if (fd < 0)
            return -1;
        close(fd);
    }
    return 0;
}

int svc_config_load(int argc, char **argv, svc_config *cfg, char *errbuf, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    int rc = opt_parse(&serve_table, argc, argv, cfg, NULL, errbuf, errlen);
    if (rc == 0 && validate(cfg, errbuf, errlen) != 0)
        rc = -1;
    if (rc != 0) { /* nothing to run: the caller gets no config to free */
        svc_config_free(cfg);
        return rc;
    }
    resolve(cfg);
    return 0;
}

void svc_config_free(svc_config *cfg)
{
    opt_free(&serve_table, cfg);
    memset(cfg, 0, sizeof(*cfg));
}

char *svc_config_json(const svc_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    fputc('{', f);
    opt_json(&serve_table, cfg, f);
    fprintf(f, ",\"cores\":%d}", cfg->cores);
    fclose(f);
    return buf;
}
