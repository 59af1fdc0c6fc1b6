/*
 * svc_metrics: Prometheus counters, gauges and histograms for the service, rendered as text at
 * GET /metrics. Every function is thread-safe (atomics, no locks on the hot path): the loop
 * thread records requests, workers record stage timings.
 */
#ifndef SVC_METRICS_H
#define SVC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Gauges the server owns; the metrics module asks for them at render time. */
typedef struct svc_metrics_gauges {
    int workers, busy_workers;
    int queue_capacity, queue_depth;
    uint64_t inflight_bytes; /* request bodies + results held by jobs */
    int draining;            /* 1 after SIGTERM */
    int connections;
    uint64_t memory_budget, memory_reserved; /* svc_admission */
    int memory_waiting;
    uint64_t worker_rss; /* sum over worker processes, sampled after each job */
} svc_metrics_gauges;
typedef void (*svc_metrics_gauge_fn)(svc_metrics_gauges *out, void *arg);

void svc_metrics_init(const char *version);
void svc_metrics_set_gauge_source(svc_metrics_gauge_fn fn, void *arg);

/* route: "resize", "health", "not_found" … (a small fixed set: never a raw path) */
void svc_metrics_request_done(const char *route, int status, double seconds, uint64_t bytes_in, uint64_t bytes_out);

/* stage: "queue", "decode", "process", "encode" */
void svc_metrics_stage(const char *stage, double seconds);

/* reason: "crashed", "exited", "deadline", "cancelled", "recycled" */
void svc_metrics_worker_exit(const char *reason);

/* Prometheus text exposition format 0.0.4. Returns malloc'd text (caller frees), *len set. */
/* One url= fetch or file= read ended: result "ok" or its error name. Any thread. */
void svc_metrics_source_read(bool is_file, const char *result);

/* Image bytes given to a job. Any thread. */
void svc_metrics_job_input(uint64_t bytes);

char *svc_metrics_render(size_t *len);

#endif
