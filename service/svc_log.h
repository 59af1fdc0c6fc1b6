/*
 * svc_log: the service's logs, all JSON lines.
 *   - access log: one line per request on stdout, written by the loop thread (svc_log_access);
 *   - everything else (startup line, warnings, errors, GLib/libvips warnings): stderr.
 * Each line is written with one write(2), so lines from different threads never interleave.
 * The level is checked before any formatting (svc_log_on). Thread-safe.
 */
#ifndef SVC_LOG_H
#define SVC_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc_config.h"

void svc_log_init(int level, bool access_log);
bool svc_log_on(int level);
bool svc_log_access_on(void);

/* msg: a plain message; extra_json: "" or a JSON fragment of extra members without braces
 * ("\"port\":8080"), or NULL. */
void svc_log_write(int level, const char *msg, const char *extra_json);
void svc_log_printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Route GLib / libvips log messages (g_log) into svc_log. Call after the engine's init. */
void svc_log_capture_glib(void);

/* The request the calling thread works for ("" = none): GLib / libvips lines captured above carry
 * it as "request_id". Also kept process-wide for libvips' own pool threads, which is exact in a
 * worker process (one job at a time): call it there only, as svc_worker.c does. Any thread. */
void svc_log_set_request(const char *request_id);

/* Append s JSON-escaped (without quotes) to out[*pos..cap); truncates safely. */
void svc_log_json_escape(char *out, size_t cap, size_t *pos, const char *s, size_t len);

/* One access-log line. Strings may be NULL. Times in ms; negative = not measured. */
typedef struct svc_access {
    const char *request_id, *method, *path, *route, *error;
    size_t path_len;
    int status, http_version;
    uint64_t bytes_in, bytes_out;
    const char *in_type, *out_type;
    int in_w, in_h, out_w, out_h;
    double total_ms, queue_ms, decode_ms, process_ms, encode_ms;
} svc_access;
void svc_log_access(const svc_access *a);

#endif
