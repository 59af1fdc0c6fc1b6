/*
 * svc_log: JSON-lines logging for the service (access log on stdout, the rest on stderr), the
 * GLib/libvips log handler, and the shared JSON string escaper. Every line goes out in a single
 * write(2) from a stack buffer: no locks, no interleaving, safe from any thread.
 */
#include "svc_log.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_level = SVC_LOG_INFO;
static bool access_on = true;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void svc_log_init(int level, bool access_log)
{
    log_level = level;
    access_on = access_log;
}

bool svc_log_on(int level)
{
    return level <= log_level;
}

bool svc_log_access_on(void)
{
    return access_on;
}

void svc_log_json_escape(char *out, size_t cap, size_t *pos, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t p = *pos;
    for (size_t i = 0; i < len && p + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[p++] = '\\';
            out[p++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[p++] = '\\';
            out[p++] = 'u';
            out[p++] = '0';
            out[p++] = '0';
            out[p++] = hex[c >> 4];
            out[p++] = hex[c & 15];
        } else {
            out[p++] = (char)c;
        }
    }
    *pos = p;
}

static size_t put_time(char *buf, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, cap - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    return n;
}

static void put(char *buf, size_t cap, size_t *pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    if (*pos >= cap)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos = *pos + (size_t)n < cap ? *pos + (size_t)n : cap - 1;
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

void svc_log_write(int level, const char *msg, const char *extra_json)
{
    char buf[4096], ts[40];
    size_t pos = 0;
    if (!svc_log_on(level))
        return;
    put_time(ts, sizeof(ts));
    put(buf, sizeof(buf) - 2, &pos, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
    svc_log_json_escape(buf, sizeof(buf) - 2, &pos, msg, strlen(msg));
    put(buf, sizeof(buf) - 2, &pos, "\"%s%s}", extra_json && *extra_json ? "," : "", extra_json ? extra_json : "");
    buf[pos++] = '\n';
    write_all(2, buf, pos);
}

void svc_log_printf(int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    if (!svc_log_on(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    svc_log_write(level, msg, NULL);
}

#define SVC_LOG_ID_MAX 72
static __thread char log_thread_request[SVC_LOG_ID_MAX];
static char log_process_request[SVC_LOG_ID_MAX]; /* the worker process's current job; written by its one job thread */

void svc_log_set_request(const char *request_id)
{
    size_t n = strlen(request_id);
    if (n >= SVC_LOG_ID_MAX)
        n = SVC_LOG_ID_MAX - 1;
    memcpy(log_thread_request, request_id, n);
    log_thread_request[n] = '\0';
    memcpy(log_process_request, request_id, n);
    log_process_request[n] = '\0';
}

static void glib_handler(const gchar *domain, GLogLevelFlags flags, const gchar *message, gpointer user)
{
    int level = SVC_LOG_DEBUG;
    char extra[256];
    size_t pos = 0;
    if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        level = SVC_LOG_ERROR;
    else if (flags & G_LOG_LEVEL_WARNING)
        level = SVC_LOG_WARN;
    else if (flags & G_LOG_LEVEL_MESSAGE)
        level = SVC_LOG_INFO; /* G_LOG_LEVEL_INFO and DEBUG (libvips' chatter) stay at debug */
    if (!svc_log_on(level))
        return;
    put(extra, sizeof(extra), &pos, "\"source\":\"glib\",\"domain\":\"");
    svc_log_json_escape(extra, sizeof(extra) - 2, &pos, domain ? domain : "", domain ? strlen(domain) : 0);
    put(extra, sizeof(extra), &pos, "\"");
    {
        const char *id = log_thread_request[0] ? log_thread_request : log_process_request;
        if (id[0]) {
            put(extra, sizeof(extra), &pos, ",\"request_id\":\"");
            svc_log_json_escape(extra, sizeof(extra) - 2, &pos, id, strnlen(id, SVC_LOG_ID_MAX));
            put(extra, sizeof(extra), &pos, "\"");
        }
    }
    svc_log_write(level, message ? message : "", extra);
}

void svc_log_capture_glib(void)
{
    g_log_set_default_handler(glib_handler, NULL);
    g_log_set_handler("VIPS", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION, glib_handler, NULL);
    g_log_set_handler("GLib", G_LOG_LEVEL_MASK, glib_handler, NULL);
    g_log_set_handler("GLib-GObject", G_LOG_LEVEL_MASK, glib_handler, NULL);
}

static void put_str(char *buf, size_t cap, size_t *pos, const char *key, const char *v, size_t len)
{
    if (v == NULL)
        return;
    put(buf, cap, pos, ",\"%s\":\"", key);
    svc_log_json_escape(buf, cap, pos, v, len);
    put(buf, cap, pos, "\"");
}

static void put_ms(char *buf, size_t cap, size_t *pos, const char *key, double ms)
{
    if (ms >= 0)
        put(buf, cap, pos, ",\"%s\":%.3f", key, ms);
}

void svc_log_access(const svc_access *a)
{
    char buf[4096], ts[40];
    size_t pos = 0, cap = sizeof(buf) - 2;
    if (!access_on)
        return;
    put_time(ts, sizeof(ts));
    put(buf, cap, &pos, "{\"time\":\"%s\",\"type\":\"access\"", ts);
    put_str(buf, cap, &pos, "request_id", a->request_id, a->request_id ? strlen(a->request_id) : 0);
    put_str(buf, cap, &pos, "method", a->method, a->method ? strlen(a->method) : 0);
    put_str(buf, cap, &pos, "path", a->path, a->path_len > 512 ? 512 : a->path_len);
    put_str(buf, cap, &pos, "route", a->route, a->route ? strlen(a->route) : 0);
    put(buf, cap, &pos, ",\"http\":\"%d.%d\",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu", a->http_version >> 8,
        a->http_version & 0xff, a->status, (unsigned long long)a->bytes_in, (unsigned long long)a->bytes_out);
    if (a->in_type)
        put(buf, cap, &pos, ",\"in\":{\"type\":\"%s\",\"width\":%d,\"height\":%d}", a->in_type, a->in_w, a->in_h);
    if (a->out_type)
        put(buf, cap, &pos, ",\"out\":{\"type\":\"%s\",\"width\":%d,\"height\":%d}", a->out_type, a->out_w, a->out_h);
    put_ms(buf, cap, &pos, "total_ms", a->total_ms);
    put_ms(buf, cap, &pos, "queue_ms", a->queue_ms);
    put_ms(buf, cap, &pos, "decode_ms", a->decode_ms);
    put_ms(buf, cap, &pos, "process_ms", a->process_ms);
    put_ms(buf, cap, &pos, "encode_ms", a->encode_ms);
    put_str(buf, cap, &pos, "error", a->error, a->error ? strlen(a->error) : 0);
    put(buf, cap, &pos, "}");
    buf[pos++] = '\n';
    write_all(1, buf, pos);
}
