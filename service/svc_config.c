/*
 * svc_config: the one settings table of `imgpipe serve` and the code that applies it to flags,
 * environment variables, --help, --print-env, validation and the startup log line
 * (the shape of redis's static_configs[]). Adding a setting = one svc_config field + one row.
 * Runs on the main thread at startup only.
 */
#include "svc_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svc_mount.h"
#include "svc_origin.h"

typedef enum { T_LIST, T_STR, T_INT, T_BYTES, T_DURATION, T_BOOL, T_ENUM } svc_type;

typedef struct svc_setting {
    const char *name; /* flag --name; env IMGPIPE_NAME (upper case, '-' -> '_') */
    svc_type type;
    long long min, max;  /* T_INT, T_BYTES, T_DURATION (ms) */
    const char *def;     /* default, in the same syntax as a flag value; "" = unset */
    const char *choices; /* T_ENUM: comma-separated */
    bool secret;         /* redacted in the startup line */
    size_t off;
    const char *help;
} svc_setting;

#define OFF(f) offsetof(svc_config, f)
#define GIB (1024LL * 1024 * 1024)

static const svc_setting settings[] = {
    {"listen", T_LIST, 0, 0, "127.0.0.1:8080", NULL, false, OFF(listen),
     "address to serve HTTP on, HOST:PORT; repeat the flag (or comma-separate the env var) for several"},
    {"workers", T_INT, 0, 256, "0", NULL, false, OFF(workers), "image jobs run at once (pool threads); 0 = number of cores"},
    {"isolation", T_ENUM, 0, 0, "process", "process,thread", false, OFF(isolation),
     "process: each pool thread drives a sandboxed worker process, so a decoder crash or hang fails one request; thread: jobs run in the server process"},
    {"queue", T_INT, 0, 65536, "0", NULL, false, OFF(queue),
     "most jobs waiting for a worker (a hard cap on bodies held); 0 = 16 x workers"},
    {"max-queue-wait", T_DURATION, 0, 3600000, "0", NULL, false, OFF(max_queue_wait_ms),
     "admit a job while its predicted queue wait (recent job times x jobs ahead / workers) is at most this, else 503 at once; 0 = half the deadline"},
    {"worker-max-jobs", T_INT, 0, 100000000, "10000", NULL, false, OFF(worker_max_jobs),
     "isolation=process: jobs one worker process runs before it is replaced; 0 = never"},
    {"worker-max-rss", T_BYTES, 0, 1024 * GIB, "1GiB", NULL, false, OFF(worker_max_rss),
     "isolation=process: a worker process resident above this after a job is replaced; 0 = never"},
    {"worker-memory-limit", T_BYTES, 0, 1024 * GIB, "0", NULL, false, OFF(worker_memory_limit),
     "isolation=process: memory ceiling of each worker process (RLIMIT_DATA); 0 = memory-budget + 1GiB (none when memory-budget is 0)"},
    {"max-body-bytes", T_BYTES, 1, 4 * GIB, "32MiB", NULL, false, OFF(max_body_bytes),
     "largest request body (suffixes KiB, MiB, GiB); larger gets 413"},
    {"max-pixels", T_INT, 1, 10000000000LL, "50000000", NULL, false, OFF(max_pixels),
     "largest input frame, width x height, checked from the header before decoding"},
    {"max-output-pixels", T_INT, 1, 10000000000LL, "100000000", NULL, false, OFF(max_output_pixels),
     "largest output image, width x height"},
    {"max-frames", T_INT, 1, 1024, "256", NULL, false, OFF(max_frames), "most frames/pages read from an animated input"},
    {"max-heif-encode-ms", T_INT, 0, 3600000, "3000", NULL, false, OFF(max_heif_encode_ms),
     "estimated CPU-ms an HEIF/AVIF encode may take (libheif cannot be stopped mid-encode); over it, kept HEIF input is written as JPEG/PNG and an asked type=heif|avif is refused; 0 = no limit"},
    {"deadline", T_DURATION, 1, 3600000, "10s", NULL, false, OFF(deadline_ms),
     "processing deadline per request (queue wait included), e.g. 10s, 500ms; 504 when it fires"},
    {"allowed-types", T_STR, 0, 0, "jpeg,png,webp,gif,tiff,heif,avif", NULL, false, OFF(allowed_types),
     "input formats accepted (jpeg,png,webp,gif,tiff,heif,avif; svg,pdf,jp2k only when listed: they unblock libvips untrusted loaders); others get 406/415"},
    {"tls-cert", T_STR, 0, 0, "", NULL, false, OFF(tls_cert), "PEM certificate chain file: serve HTTPS (HTTP/2 by ALPN)"},
    {"tls-key", T_STR, 0, 0, "", NULL, false, OFF(tls_key), "PEM private key file for tls-cert"},
    {"log-level", T_ENUM, 0, 0, "info", "error,warn,info,debug", false, OFF(log_level), "least severe log level written"},
    {"access-log", T_BOOL, 0, 0, "on", NULL, false, OFF(access_log), "one JSON line per request on stdout (on/off)"},
    {"vips-concurrency", T_INT, 0, 64, "0", NULL, false, OFF(vips_concurrency),
     "libvips threads per image; 0 = cores / workers (at least 1)"},
    {"api-keys", T_STR, 0, 0, "", NULL, true, OFF(api_keys),
     "comma-separated API keys (API-Key header, key= or Authorization: Bearer); empty = open"},
    {"url-signature-key", T_STR, 0, 0, "", NULL, true, OFF(url_signature_key),
     "HMAC key (>= 32 chars) for imaginary-style sign= URL signatures; empty = off"},
    {"cors-origins", T_STR, 0, 0, "", NULL, false, OFF(cors_origins), "comma-separated allowed CORS origins, * = any; empty = off"},
    {"metrics-listen", T_STR, 0, 0, "", NULL, false, OFF(metrics_listen),
     "extra HOST:PORT serving only /metrics, /health and /ready; empty = none"},
    {"max-connections", T_INT, 1, 1000000, "1024", NULL, false, OFF(max_connections),
     "open client connections; above it new connections wait in the kernel backlog"},
    {"idle-timeout", T_DURATION, 100, 3600000, "10s", NULL, false, OFF(idle_timeout_ms),
     "h2o: HTTP/1 request/keep-alive timeout and HTTP/2 idle timeout"},
    {"handshake-timeout", T_DURATION, 100, 3600000, "10s", NULL, false, OFF(handshake_timeout_ms), "h2o: TLS handshake timeout"},
    {"memory-budget", T_BYTES, 0, 1024 * GIB, "1GiB", NULL, false, OFF(memory_budget),
     "decode memory (header estimate) all running jobs may hold; jobs over it wait in the queue; 0 = off"},
    {"max-inflight-body-bytes", T_BYTES, 0, 1024 * GIB, "0", NULL, false, OFF(max_inflight_body_bytes),
     "request bodies (all connections, all streams) held in memory at once; over it the largest uploads still being received are "
     "refused (HTTP/1: 503, HTTP/2: stream reset REFUSED_STREAM); 0 = memory-budget / 4, at least max-body-bytes (8 x "
     "max-body-bytes when memory-budget is 0)"},
    {"http2-max-streams", T_INT, 1, 100, "32", NULL, false, OFF(http2_max_streams),
     "HTTP/2 streams of one connection that may receive a body at once (more are reset REFUSED_STREAM), and requests of one "
     "connection run at once"},
    {"drain-timeout", T_DURATION, 0, 3600000, "15s", NULL, false, OFF(drain_timeout_ms),
     "on SIGTERM/SIGINT: longest wait for in-flight requests before exiting"},
    {"enable-url-source", T_BOOL, 0, 0, "off", NULL, false, OFF(enable_url_source),
     "fetch the image from url= (GET, or POST without a body); needs allowed-origins (on/off)"},
    {"allowed-origins", T_STR, 0, 0, "", NULL, false, OFF(allowed_origins),
     "comma-separated origins url= may name: [scheme://]host[:port][/path-prefix], *.domain matches the domain and its "
     "subdomains, * any host (docs/http-api.md)"},
    {"allow-private-sources", T_BOOL, 0, 0, "off", NULL, false, OFF(allow_private_sources),
     "let url= reach loopback, private, link-local and other non-public addresses (on/off); off refuses them with 403"},
    {"url-max-redirects", T_INT, 0, 5, "0", NULL, false, OFF(url_max_redirects),
     "redirects url= may follow, each hop checked against allowed-origins and the address rules"},
    {"url-timeout", T_DURATION, 100, 600000, "5s", NULL, false, OFF(url_timeout_ms),
     "longest url= fetch, all hops (also cut by the request's deadline); 504 when it fires"},
    {"url-max-fetches", T_INT, 1, 4096, "64", NULL, false, OFF(url_max_fetches),
     "url=/file= reads in flight at once; above it 503 + Retry-After"},
    {"mount", T_STR, 0, 0, "", NULL, false, OFF(mount),
     "folder file= is read from (GET ?file=relative/path); no symlinks, no way out; empty = off"},
    {"http-cache-ttl", T_INT, -1, 31556926, "-1", NULL, false, OFF(http_cache_ttl),
     "seconds for Cache-Control: public, s-maxage, max-age and Expires on successful GET image answers (imaginary's); "
     "0 = private, no-cache, no-store; -1 = no header; errors get no-store"},
    {"etag", T_BOOL, 0, 0, "on", NULL, false, OFF(etag),
     "strong ETag on image answers and 304 to a matching If-None-Match (on/off)"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static int fail(char *errbuf, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void env_name(const svc_setting *s, char *out, size_t outlen)
{
    size_t i = 0, j = 0;
    j = (size_t)snprintf(out, outlen, "IMGPIPE_");
    for (i = 0; s->name[i] && j + 1 < outlen; i++)
        out[j++] = s->name[i] == '-' ? '_' : (char)toupper((unsigned char)s->name[i]);
    out[j] = '\0';
}

static const char *type_desc(const svc_setting *s, char *buf, size_t len)
{
    switch (s->type) {
    case T_LIST:
        return "HOST:PORT list";
    case T_STR:
        return "string";
    case T_INT:
        snprintf(buf, len, "integer %lld..%lld", s->min, s->max);
        return buf;
    case T_BYTES:
        snprintf(buf, len, "bytes %lld..%lld (or with KiB/MiB/GiB)", s->min, s->max);
        return buf;
    case T_DURATION:
        snprintf(buf, len, "duration %lldms..%llds (ms, s, m)", s->min, s->max / 1000);
        return buf;
    case T_BOOL:
        return "on|off";
    case T_ENUM:
        snprintf(buf, len, "one of %s", s->choices);
        return buf;
    }
    return "";
}

static int parse_ll(const char *v, long long *out, char **end)
{
    errno = 0;
    *out = strtoll(v, end, 10);
    return (errno != 0 || *end == v) ? -1 : 0;
}

static int mult_suffix(const char *suf, const char *const *names, const long long *mults, size_t n, long long *mult)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(suf, names[i]) == 0) {
            *mult = mults[i];
            return 0;
        }
    }
    return -1;
}

/* Set one setting from a text value. source is "--name" or "IMGPIPE_NAME" for messages. */
static int apply(const svc_setting *s, svc_config *cfg, const char *v, const char *source, char *errbuf, size_t errlen)
{
    char *base = (char *)cfg + s->off, desc[128], *end;
    long long n, mult = 1;
    type_desc(s, desc, sizeof(desc));
    switch (s->type) {
    case T_LIST: {
        char *copy = strdup(v), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char host[256];
            int port;
            while (*tok == ' ')
                tok++;
            if (*tok == '\0')
                continue;
            if (svc_config_split_addr(tok, host, sizeof(host), &port) != 0) {
                fail(errbuf, errlen, "%s: '%s' is not HOST:PORT with a port 1..65535 (e.g. 127.0.0.1:8080, [::1]:8080, :8080)",
                     source, tok);
                free(copy); /* tok points into copy: free after formatting */
                return -1;
            }
            if (cfg->n_listen >= SVC_MAX_LISTEN) {
                free(copy);
                return fail(errbuf, errlen, "%s: at most %d addresses", source, SVC_MAX_LISTEN);
            }
            cfg->listen[cfg->n_listen++] = strdup(tok);
        }
        free(copy);
        return 0;
    }
    case T_STR: {
        char **p = (char **)base;
        free(*p);
        *p = *v ? strdup(v) : NULL;
        return 0;
    }
    case T_INT:
        if (parse_ll(v, &n, &end) != 0 || *end != '\0' || n < s->min || n > s->max)
            return fail(errbuf, errlen, "%s: '%s' is not allowed: %s expected", source, v, desc);
        *(long long *)base = n;
        return 0;
    case T_BYTES: {
        static const char *const names[] = {"", "B", "K", "KiB", "KB", "M", "MiB", "MB", "G", "GiB", "GB"};
        static const long long mults[] = {1,         1,         1LL << 10, 1LL << 10, 1LL << 10, 1LL << 20,
                                          1LL << 20, 1LL << 20, 1LL << 30, 1LL << 30, 1LL << 30};
        if (parse_ll(v, &n, &end) != 0 || mult_suffix(end, names, mults, sizeof(mults) / sizeof(mults[0]), &mult) != 0 || n < 0 ||
            n > s->max / mult || n * mult < s->min)
            return fail(errbuf, errlen, "%s: '%s' is not allowed: %s expected", source, v, desc);
        *(long long *)base = n * mult;
        return 0;
    }
    case T_DURATION: {
        static const char *const names[] = {"ms", "s", "m"};
        static const long long mults[] = {1, 1000, 60000};
        if (parse_ll(v, &n, &end) != 0 || mult_suffix(*end ? end : "s", names, mults, 3, &mult) != 0 || n < 0 ||
            n > s->max / mult || n * mult < s->min)
            return fail(errbuf, errlen, "%s: '%s' is not allowed: %s expected", source, v, desc);
        *(long long *)base = n * mult;
        return 0;
    }
    case T_BOOL:
        if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"))
            *(bool *)base = true;
        else if (!strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))
            *(bool *)base = false;
        else
            return fail(errbuf, errlen, "%s: '%s' is not allowed: on or off expected", source, v);
        return 0;
    case T_ENUM: {
        int idx = 0;
        const char *c = s->choices;
        size_t vl = strlen(v);
        while (*c) {
            size_t l = strcspn(c, ",");
            if (l == vl && strncasecmp(c, v, l) == 0) {
                *(int *)base = idx;
                return 0;
            }
            c += l + (c[l] == ',');
            idx++;
        }
        return fail(errbuf, errlen, "%s: '%s' is not allowed: %s expected", source, v, desc);
    }
    }
    return -1;
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

static void print_help(FILE *out)
{
    char env[64], desc[128];
    int wname = 0, wenv = 0;
    /* Columns as wide as the longest flag and variable name, so no name runs into the description. */
    for (size_t i = 0; i < N_SETTINGS; i++) {
        int ln = (int)strlen(settings[i].name), le;
        env_name(&settings[i], env, sizeof(env));
        le = (int)strlen(env);
        wname = ln > wname ? ln : wname;
        wenv = le > wenv ? le : wenv;
    }
    fprintf(out, "usage: imgpipe serve [--SETTING VALUE ...] [--print-env] [--help]\n\n"
                 "Every setting is a flag and an environment variable; flags win over the environment.\n\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const svc_setting *s = &settings[i];
        env_name(s, env, sizeof(env));
        fprintf(out, "  --%-*s  %-*s  %s\n", wname, s->name, wenv, env, s->help);
        fprintf(out, "  %*s  %*s  %s; default %s\n", wname + 2, "", wenv, "", type_desc(s, desc, sizeof(desc)),
                *s->def ? s->def : "(empty)");
    }
    fprintf(out, "\n  --print-env    print an env file (IMGPIPE_*=default, with comments) generated from this table\n"
                 "  --help         this text\n");
}

static void print_env(FILE *out)
{
    char env[64], desc[128];
    fprintf(out, "# imgpipe serve settings (generated by `imgpipe serve --print-env`).\n"
                 "# Each line sets the default; edit, or delete a line to keep the built-in default.\n\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const svc_setting *s = &settings[i];
        env_name(s, env, sizeof(env));
        fprintf(out, "# %s\n# %s%s\n%s=%s\n\n", s->help, type_desc(s, desc, sizeof(desc)),
                s->type == T_LIST ? " (comma-separated)" : "", env, s->def);
    }
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

int svc_config_load(int argc, char **argv, svc_config *cfg, char *errbuf, size_t errlen)
{
    char env[64], src[96];
    bool listen_from_flags = false;
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const svc_setting *s = &settings[i];
        if (s->type != T_LIST && apply(s, cfg, s->def, "default", errbuf, errlen) != 0)
            return -1;
    }
    /* environment */
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const svc_setting *s = &settings[i];
        const char *v;
        env_name(s, env, sizeof(env));
        if ((v = getenv(env)) == NULL || (*v == '\0' && s->type != T_STR))
            continue;
        if (apply(s, cfg, v, env, errbuf, errlen) != 0)
            return -1;
    }
    /* flags */
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a], *val = NULL, *name;
        size_t nlen;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(stdout);
            return 1;
        }
        if (strcmp(arg, "--print-env") == 0) {
            print_env(stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return fail(errbuf, errlen, "unexpected argument '%s' (settings are --name value; see imgpipe serve --help)", arg);
        name = arg + 2;
        nlen = strcspn(name, "=");
        if (name[nlen] == '=')
            val = name + nlen + 1;
        const svc_setting *s = NULL;
        for (size_t i = 0; i < N_SETTINGS; i++)
            if (strlen(settings[i].name) == nlen && strncmp(settings[i].name, name, nlen) == 0)
                s = &settings[i];
        if (s == NULL)
            return fail(errbuf, errlen, "unknown setting '%s' (see imgpipe serve --help)", arg);
        if (val == NULL) {
            if (a + 1 >= argc)
                return fail(errbuf, errlen, "--%s needs a value (see imgpipe serve --help)", s->name);
            val = argv[++a];
        }
        if (s->type == T_LIST && !listen_from_flags) { /* flags replace the env's list */
            for (int i = 0; i < cfg->n_listen; i++)
                free(cfg->listen[i]);
            cfg->n_listen = 0;
            listen_from_flags = true;
        }
        snprintf(src, sizeof(src), "--%s", s->name);
        if (apply(s, cfg, val, src, errbuf, errlen) != 0)
            return -1;
    }
    if (cfg->n_listen == 0 && apply(&settings[0], cfg, settings[0].def, "default", errbuf, errlen) != 0)
        return -1;
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        return fail(errbuf, errlen, "tls-cert and tls-key: set both (HTTPS) or neither (plain HTTP)");
    if (cfg->metrics_listen != NULL) {
        char host[256];
        int port;
        if (svc_config_split_addr(cfg->metrics_listen, host, sizeof(host), &port) != 0)
            return fail(errbuf, errlen, "metrics-listen: '%s' is not HOST:PORT with a port 1..65535", cfg->metrics_listen);
    }
    if (cfg->enable_url_source && cfg->allowed_origins == NULL)
        return fail(errbuf, errlen,
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
    resolve(cfg);
    return 0;
}

void svc_config_free(svc_config *cfg)
{
    for (int i = 0; i < cfg->n_listen; i++)
        free(cfg->listen[i]);
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (settings[i].type == T_STR)
            free(*(char **)((char *)cfg + settings[i].off));
    memset(cfg, 0, sizeof(*cfg));
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

char *svc_config_json(const svc_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    fputc('{', f);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const svc_setting *s = &settings[i];
        const char *base = (const char *)cfg + s->off;
        fprintf(f, "%s\"%s%s\":", i ? "," : "", s->name, s->type == T_DURATION ? "_ms" : "");
        switch (s->type) {
        case T_LIST:
            fputc('[', f);
            for (int j = 0; j < cfg->n_listen; j++) {
                if (j)
                    fputc(',', f);
                json_str(f, cfg->listen[j]);
            }
            fputc(']', f);
            break;
        case T_STR: {
            const char *v = *(char *const *)base;
            if (v == NULL)
                fputs("null", f);
            else
                json_str(f, s->secret ? "(set)" : v);
            break;
        }
        case T_INT:
        case T_BYTES:
        case T_DURATION:
            fprintf(f, "%lld", *(const long long *)base);
            break;
        case T_BOOL:
            fputs(*(const bool *)base ? "true" : "false", f);
            break;
        case T_ENUM: {
            int idx = *(const int *)base;
            const char *c = s->choices;
            for (int k = 0; k < idx && c; k++)
                c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
            fprintf(f, "\"%.*s\"", c ? (int)strcspn(c, ",") : 0, c ? c : "");
            break;
        }
        }
    }
    fprintf(f, ",\"cores\":%d}", cfg->cores);
    fclose(f);
    return buf;
}
