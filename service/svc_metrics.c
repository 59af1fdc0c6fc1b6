/*
 * svc_metrics: the service's Prometheus metrics, rendered in text exposition format 0.0.4 at
 * GET /metrics. Counters and histogram buckets are fixed arrays of 64-bit integers updated with
 * relaxed atomic adds; labels come from small fixed tables (routes, stages), never from request
 * data, so the cardinality is bounded and nothing allocates on the request path.
 *
 * DESIGN (threads): svc_metrics_init() and svc_metrics_set_gauge_source() run once at startup,
 * before any other thread calls in. svc_metrics_request_done() (loop threads) and
 * svc_metrics_stage() (workers) only do atomic adds. svc_metrics_render() may run on any thread
 * at the same time as the writers: it reads each value atomically (a scrape sees a consistent
 * value per series, not a snapshot of all of them, as Prometheus client libraries do). The gauge
 * source callback runs on the rendering thread and must be thread-safe itself.
 */
#include "svc_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <vips/vips.h>

#include "pl_options.h"

/* Route labels: every operation of the grammar, the fixed routes, and two catch-alls. */
static const char *const metrics_routes[] = {
#define PL_X(id, name, imag, pipe) name,
    PL_OPS(PL_X)
#undef PL_X
        "root",
    "health",
    "ready",
    "metrics",
    "openapi",
    "form",
    "not_found",
    "other",
};
#define METRICS_N_ROUTES (sizeof(metrics_routes) / sizeof(metrics_routes[0]))
#define METRICS_ROUTE_OTHER (METRICS_N_ROUTES - 1)

static const char *const metrics_stages[] = {"queue", "decode", "process", "encode"};

/* Why a worker process ended (svc_job.c, svc_pool.c). */
static const char *const metrics_exit_reasons[] = {"crashed", "exited", "deadline", "cancelled", "recycled"};
#define METRICS_N_EXIT_REASONS (sizeof(metrics_exit_reasons) / sizeof(metrics_exit_reasons[0]))
/* url=/file= reads by result: ok, or the error name the read failed with (svc_fetch.c,
 * svc_mount.c); any other name counts as "other". */
static const char *const metrics_source_kinds[] = {"url", "file"};
static const char *const metrics_source_results[] = {"ok",
                                                     "invalid_url",
                                                     "origin_not_allowed",
                                                     "private_address",
                                                     "invalid_file_path",
                                                     "upstream_error",
                                                     "upstream_redirect",
                                                     "upstream_status",
                                                     "upstream_timeout",
                                                     "payload_too_large",
                                                     "out_of_memory",
                                                     "cancelled",
                                                     "other"};
#define METRICS_N_SOURCE_RESULTS (sizeof(metrics_source_results) / sizeof(metrics_source_results[0]))
#define METRICS_N_STAGES (sizeof(metrics_stages) / sizeof(metrics_stages[0]))

/* Buckets (seconds), the upper bounds of the finite buckets; +Inf is implicit. */
static const double metrics_request_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define METRICS_N_REQ_BOUNDS (sizeof(metrics_request_bounds) / sizeof(metrics_request_bounds[0]))
static const double metrics_stage_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define METRICS_N_STAGE_BOUNDS (sizeof(metrics_stage_bounds) / sizeof(metrics_stage_bounds[0]))
#define METRICS_MAX_BUCKETS 16
_Static_assert(METRICS_N_REQ_BOUNDS < METRICS_MAX_BUCKETS && METRICS_N_STAGE_BOUNDS < METRICS_MAX_BUCKETS,
               "raise METRICS_MAX_BUCKETS");

#define METRICS_STATUS_MIN 100
#define METRICS_STATUS_MAX 599
#define METRICS_N_STATUS (METRICS_STATUS_MAX - METRICS_STATUS_MIN + 1)

/* A histogram: per-bucket (non-cumulative) counts, the last one for +Inf; sum in nanoseconds. */
typedef struct metrics_hist {
    uint64_t buckets[METRICS_MAX_BUCKETS];
    uint64_t count;
    uint64_t sum_ns;
} metrics_hist;

static struct {
    char version[64];
    double start_time; /* unix seconds */
    svc_metrics_gauge_fn gauge_fn;
    void *gauge_arg;
    uint64_t requests[METRICS_N_ROUTES][METRICS_N_STATUS];
    uint64_t requests_bad_status; /* status outside 100..599: counted under route "other", status 0 */
    metrics_hist request_hist;
    metrics_hist stage_hist[METRICS_N_STAGES];
    uint64_t bytes_in, bytes_out;
    uint64_t worker_exits[METRICS_N_EXIT_REASONS];
    uint64_t source_reads[2][METRICS_N_SOURCE_RESULTS];
    uint64_t job_input_bytes;
} metrics;

static inline void metrics_add(uint64_t *p, uint64_t v)
{
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t metrics_load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void svc_metrics_init(const char *version)
{
    struct timespec ts;
    snprintf(metrics.version, sizeof(metrics.version), "%s", version ? version : "unknown");
    clock_gettime(CLOCK_REALTIME, &ts);
    metrics.start_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void svc_metrics_set_gauge_source(svc_metrics_gauge_fn fn, void *arg)
{
    metrics.gauge_arg = arg;
    __atomic_store_n(&metrics.gauge_fn, fn, __ATOMIC_RELEASE);
}

static size_t metrics_route_index(const char *route)
{
    if (route)
        for (size_t i = 0; i < METRICS_N_ROUTES; i++)
            if (strcmp(metrics_routes[i], route) == 0)
                return i;
    return METRICS_ROUTE_OTHER;
}

static void metrics_hist_observe(metrics_hist *h, const double *bounds, size_t n_bounds, double seconds)
{
    size_t b = n_bounds; /* +Inf */
    if (!(seconds >= 0)) /* negative or NaN: a clock glitch, count it as 0 */
        seconds = 0;
    for (size_t i = 0; i < n_bounds; i++) {
        if (seconds <= bounds[i]) {
            b = i;
            break;
        }
    }
    metrics_add(&h->buckets[b], 1);
    metrics_add(&h->count, 1);
    metrics_add(&h->sum_ns, seconds > 1e9 ? (uint64_t)1e18 : (uint64_t)llround(seconds * 1e9));
}

void svc_metrics_request_done(const char *route, int status, double seconds, uint64_t bytes_in, uint64_t bytes_out)
{
    size_t r = metrics_route_index(route);
    if (status >= METRICS_STATUS_MIN && status <= METRICS_STATUS_MAX)
        metrics_add(&metrics.requests[r][status - METRICS_STATUS_MIN], 1);
    else
        metrics_add(&metrics.requests_bad_status, 1);
    metrics_hist_observe(&metrics.request_hist, metrics_request_bounds, METRICS_N_REQ_BOUNDS, seconds);
    metrics_add(&metrics.bytes_in, bytes_in);
    metrics_add(&metrics.bytes_out, bytes_out);
}

void svc_metrics_stage(const char *stage, double seconds)
{
    for (size_t i = 0; stage && i < METRICS_N_STAGES; i++) {
        if (strcmp(metrics_stages[i], stage) == 0) {
            metrics_hist_observe(&metrics.stage_hist[i], metrics_stage_bounds, METRICS_N_STAGE_BOUNDS, seconds);
            return;
        }
    }
}

void svc_metrics_worker_exit(const char *reason)
{
    for (size_t i = 0; reason && i < METRICS_N_EXIT_REASONS; i++)
        if (strcmp(metrics_exit_reasons[i], reason) == 0)
            metrics_add(&metrics.worker_exits[i], 1);
}

void svc_metrics_source_read(bool is_file, const char *result)
{
    size_t i = 0;
    while (i + 1 < METRICS_N_SOURCE_RESULTS && (result == NULL || strcmp(metrics_source_results[i], result) != 0))
        i++;
    metrics_add(&metrics.source_reads[is_file ? 1 : 0][i], 1);
}

void svc_metrics_job_input(uint64_t bytes)
{
    metrics_add(&metrics.job_input_bytes, bytes);
}

/* Label value escaping per the text format: backslash, double quote and newline. */
static void metrics_put_label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void metrics_put_header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes the _bucket/_sum/_count series of one histogram. label: "" or `stage="decode",`. */
static void metrics_put_hist(FILE *f, const char *name, const char *label, const metrics_hist *h, const double *bounds,
                             size_t n_bounds)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= n_bounds; i++) {
        cum += metrics_load(&h->buckets[i]);
        if (i < n_bounds)
            fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, label, bounds[i], (unsigned long long)cum);
        else
            fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, label, (unsigned long long)cum);
    }
    /* The count is the +Inf bucket (read once above), so _count always equals it even mid-update. */
    size_t llen = strlen(label);
    if (llen) {
        fprintf(f, "%s_sum{%.*s} %.9f\n", name, (int)(llen - 1), label, metrics_load(&h->sum_ns) / 1e9);
        fprintf(f, "%s_count{%.*s} %llu\n", name, (int)(llen - 1), label, (unsigned long long)cum);
    } else {
        fprintf(f, "%s_sum %.9f\n", name, metrics_load(&h->sum_ns) / 1e9);
        fprintf(f, "%s_count %llu\n", name, (unsigned long long)cum);
    }
}

/* Resident set size from /proc/self/statm (pages). Returns -1 when unreadable. */
static long long metrics_rss_bytes(void)
{
    long long size = 0, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static void metrics_put_gauges(FILE *f)
{
    svc_metrics_gauges g = {0};
    svc_metrics_gauge_fn fn = __atomic_load_n(&metrics.gauge_fn, __ATOMIC_ACQUIRE);
    if (fn)
        fn(&g, metrics.gauge_arg);
    metrics_put_header(f, "imgpipe_queue_depth", "gauge", "Jobs waiting in the work queue.");
    fprintf(f, "imgpipe_queue_depth %d\n", g.queue_depth);
    metrics_put_header(f, "imgpipe_queue_capacity", "gauge", "Capacity of the work queue (a full queue answers 503).");
    fprintf(f, "imgpipe_queue_capacity %d\n", g.queue_capacity);
    metrics_put_header(f, "imgpipe_workers", "gauge", "Worker threads.");
    fprintf(f, "imgpipe_workers %d\n", g.workers);
    metrics_put_header(f, "imgpipe_workers_busy", "gauge", "Worker threads processing a job.");
    fprintf(f, "imgpipe_workers_busy %d\n", g.busy_workers);
    metrics_put_header(f, "imgpipe_inflight_bytes", "gauge", "Bytes of request bodies and results held by jobs.");
    fprintf(f, "imgpipe_inflight_bytes %llu\n", (unsigned long long)g.inflight_bytes);
    metrics_put_header(f, "imgpipe_draining", "gauge", "1 while shutting down after SIGTERM, else 0.");
    fprintf(f, "imgpipe_draining %d\n", g.draining ? 1 : 0);
    metrics_put_header(f, "imgpipe_connections", "gauge", "Open client connections.");
    fprintf(f, "imgpipe_connections %d\n", g.connections);
    metrics_put_header(f, "imgpipe_memory_budget_bytes", "gauge",
                       "Decode memory all running jobs may reserve (memory-budget; 0 = off).");
    fprintf(f, "imgpipe_memory_budget_bytes %llu\n", (unsigned long long)g.memory_budget);
    metrics_put_header(f, "imgpipe_memory_reserved_bytes", "gauge", "Decode memory reserved by running jobs.");
    fprintf(f, "imgpipe_memory_reserved_bytes %llu\n", (unsigned long long)g.memory_reserved);
    metrics_put_header(f, "imgpipe_memory_waiting_jobs", "gauge", "Jobs waiting for decode memory.");
    fprintf(f, "imgpipe_memory_waiting_jobs %d\n", g.memory_waiting);
    metrics_put_header(f, "imgpipe_worker_processes_resident_bytes", "gauge",
                       "Resident memory of the worker processes (isolation=process; 0 with threads).");
    fprintf(f, "imgpipe_worker_processes_resident_bytes %llu\n", (unsigned long long)g.worker_rss);
}

static void metrics_put_process(FILE *f)
{
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    metrics_put_header(f, "imgpipe_vips_memory_bytes", "gauge",
                       "Memory currently allocated by libvips in the server process (vips_tracked_get_mem; 0 with "
                       "isolation=process: see imgpipe_worker_processes_resident_bytes).");
    fprintf(f, "imgpipe_vips_memory_bytes %zu\n", vips_tracked_get_mem());
    metrics_put_header(f, "imgpipe_vips_memory_peak_bytes", "gauge", "Highest memory allocated by libvips since start.");
    fprintf(f, "imgpipe_vips_memory_peak_bytes %zu\n", vips_tracked_get_mem_highwater());
    long long rss = metrics_rss_bytes();
    if (rss >= 0) {
        metrics_put_header(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        fprintf(f, "process_resident_memory_bytes %lld\n", rss);
    }
    metrics_put_header(f, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    fprintf(f, "process_cpu_seconds_total %.6f\n", cpu);
    metrics_put_header(f, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    fprintf(f, "process_start_time_seconds %.3f\n", metrics.start_time);
}

char *svc_metrics_render(size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;

    metrics_put_header(f, "imgpipe_build_info", "gauge", "Build information; the value is always 1.");
    fputs("imgpipe_build_info{version=\"", f);
    metrics_put_label_value(f, metrics.version[0] ? metrics.version : "unknown");
    fputs("\",libvips=\"", f);
    metrics_put_label_value(f, vips_version_string());
    fputs("\"} 1\n", f);

    metrics_put_header(f, "imgpipe_requests_total", "counter", "HTTP requests answered, by route and status.");
    for (size_t r = 0; r < METRICS_N_ROUTES; r++)
        for (int s = 0; s < METRICS_N_STATUS; s++) {
            uint64_t v = metrics_load(&metrics.requests[r][s]);
            if (v)
                fprintf(f, "imgpipe_requests_total{route=\"%s\",status=\"%d\"} %llu\n", metrics_routes[r], s + METRICS_STATUS_MIN,
                        (unsigned long long)v);
        }
    uint64_t bad = metrics_load(&metrics.requests_bad_status);
    if (bad)
        fprintf(f, "imgpipe_requests_total{route=\"other\",status=\"0\"} %llu\n", (unsigned long long)bad);

    metrics_put_header(f, "imgpipe_request_duration_seconds", "histogram",
                       "Time from request received to response sent, in seconds.");
    metrics_put_hist(f, "imgpipe_request_duration_seconds", "", &metrics.request_hist, metrics_request_bounds,
                     METRICS_N_REQ_BOUNDS);

    metrics_put_header(f, "imgpipe_stage_duration_seconds", "histogram",
                       "Time spent per processing stage (queue, decode, process, encode), in seconds.");
    for (size_t i = 0; i < METRICS_N_STAGES; i++) {
        char label[64];
        snprintf(label, sizeof(label), "stage=\"%s\",", metrics_stages[i]);
        metrics_put_hist(f, "imgpipe_stage_duration_seconds", label, &metrics.stage_hist[i], metrics_stage_bounds,
                         METRICS_N_STAGE_BOUNDS);
    }

    metrics_put_header(f, "imgpipe_bytes_received_total", "counter", "Request body bytes received.");
    fprintf(f, "imgpipe_bytes_received_total %llu\n", (unsigned long long)metrics_load(&metrics.bytes_in));
    metrics_put_header(f, "imgpipe_bytes_sent_total", "counter", "Response body bytes sent.");
    fprintf(f, "imgpipe_bytes_sent_total %llu\n", (unsigned long long)metrics_load(&metrics.bytes_out));

    metrics_put_header(f, "imgpipe_worker_exits_total", "counter",
                       "Worker processes that ended, by reason (crashed, exited, deadline, cancelled: the job's request "
                       "failed; recycled: replaced between jobs).");
    for (size_t i = 0; i < METRICS_N_EXIT_REASONS; i++)
        fprintf(f, "imgpipe_worker_exits_total{reason=\"%s\"} %llu\n", metrics_exit_reasons[i],
                (unsigned long long)metrics_load(&metrics.worker_exits[i]));

    metrics_put_header(f, "imgpipe_source_reads_total", "counter",
                       "url= fetches and file= reads, by kind and result (ok, or the error name the request got).");
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < METRICS_N_SOURCE_RESULTS; i++)
            fprintf(f, "imgpipe_source_reads_total{kind=\"%s\",result=\"%s\"} %llu\n", metrics_source_kinds[k],
                    metrics_source_results[i], (unsigned long long)metrics_load(&metrics.source_reads[k][i]));

    metrics_put_header(f, "imgpipe_job_input_bytes_total", "counter",
                       "Image bytes given to jobs (each copied once, into the worker's input memfd or the job's own buffer).");
    fprintf(f, "imgpipe_job_input_bytes_total %llu\n", (unsigned long long)metrics_load(&metrics.job_input_bytes));

    metrics_put_gauges(f);
    metrics_put_process(f);

    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = size;
    return buf;
}
