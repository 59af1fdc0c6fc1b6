/*
 * svc_config: the service's settings, all in one table (name, env var IMGPIPE_*, type, bounds,
 * default, help; common/opt_table.h). The table drives command-line flags (`--name value`), the
 * environment, `imgpipe serve --help`, `imgpipe serve --print-env`, validation and the startup log
 * line. The engine's limits and the deadline are rows shared with batch and the bench (opt_limits.h).
 *
 * Precedence: built-in default < environment < command line. A bad value stops startup with a
 * message naming the setting and what is allowed (exit status 2).
 *
 * Ownership: svc_config_load() fills a caller-owned svc_config; its strings point into argv, the
 * environment or the table's defaults (opt_table.h), and svc_config_free() releases the copies a
 * list holds (a load that does not return 0 has freed them already; freeing twice is harmless).
 * After startup the config is read-only and may be read from any thread.
 */
#ifndef SVC_CONFIG_H
#define SVC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opt_table.h"

#define SVC_MAX_LISTEN 8

enum { SVC_LOG_ERROR = 0, SVC_LOG_WARN, SVC_LOG_INFO, SVC_LOG_DEBUG };
enum { SVC_ISOLATION_PROCESS = 0, SVC_ISOLATION_THREAD = 1 }; /* order of the setting's choices */

typedef struct svc_config {
    opt_list listen;               /* "HOST:PORT", 1..SVC_MAX_LISTEN */
    long long workers;             /* 0 in the table = number of cores; resolved by svc_config_load */
    int isolation;                 /* SVC_ISOLATION_* */
    long long queue;               /* 0 in the table = 16 x workers; resolved */
    long long max_queue_wait_ms;   /* 0 in the table = deadline / 2; resolved */
    long long worker_max_jobs;     /* 0 = never recycle by count */
    long long worker_max_rss;      /* 0 = never recycle by size */
    long long worker_memory_limit; /* 0 in the table = memory_budget + 1 GiB; resolved (0 = none) */
    long long max_body_bytes;
    long long max_pixels;
    long long max_output_pixels;
    long long max_frames;
    long long max_heif_encode_ms;
    long long deadline_ms; /* 1 ms.. (the shared row allows 0 = none; serve refuses it) */
    const char *allowed_types;
    const char *tls_cert, *tls_key; /* NULL = no TLS */
    int log_level;
    bool access_log;
    long long vips_concurrency;                              /* 0 in the table = cores / workers (at least 1); resolved */
    const char *api_keys, *url_signature_key, *cors_origins; /* NULL = off */
    const char *metrics_listen;                              /* NULL = /metrics on the main listeners only */
    long long max_connections;
    long long idle_timeout_ms;
    long long handshake_timeout_ms;
    long long drain_timeout_ms;
    long long memory_budget; /* bytes of decode memory for all jobs in flight; 0 = off (svc_admission) */
    /* image sources beyond the body (svc_fetch, svc_origin, svc_mount) and HTTP caching (svc_etag) */
    bool enable_url_source;
    const char *allowed_origins; /* NULL = none (then url= is off) */
    bool allow_private_sources;
    long long url_max_redirects;
    long long url_timeout_ms;
    long long url_max_fetches;
    const char *mount;        /* NULL = off */
    long long http_cache_ttl; /* -1 = no Cache-Control */
    bool etag;
    long long max_inflight_body_bytes; /* request bodies buffered at once; 0 = derived (svc_conns_body_limit) */
    long long http2_max_streams;       /* HTTP/2 streams of one connection receiving a body / running at once */
    int cores;                         /* detected, for the startup line */
} svc_config;

/* Parse argv (argv[0] is "serve") over the environment and the defaults. Returns 0 (run),
 * 1 (printed --help or --print-env to stdout: exit 0), or -1 with a message in errbuf (exit 2). */
int svc_config_load(int argc, char **argv, svc_config *cfg, char *errbuf, size_t errlen);
void svc_config_free(svc_config *cfg);

/* The table (for tests and tools that list the settings). */
const opt_table *svc_config_table(void);

/* The startup log line's "settings" object (JSON text, secrets redacted), malloc'd. */
char *svc_config_json(const svc_config *cfg);

/* Split "host:port" / "[v6]:port" / ":port". Returns 0 or -1. host gets "" when absent. */
int svc_config_split_addr(const char *addr, char *host, size_t hostlen, int *port);

#endif
