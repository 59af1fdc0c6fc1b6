/*
 * bench_run: one benchmark run's settings (from the command line) and its results, shared by the
 * HTTP driver (bench_http.c), the in-process driver (bench_inproc.c) and the report
 * (bench_report.c).
 *
 * Counting rules (the same for every mode, written in bench/README.md):
 * - the run starts with --warmup seconds whose requests are sent but not counted, then a window
 *   of --duration seconds;
 * - throughput (requests/s, images/s, bytes/s) = responses that completed inside the window /
 *   window length;
 * - latency and errors: closed loop and in-process, the requests that completed inside the
 *   window, timed from when they were sent; open loop, every request whose INTENDED send time
 *   lies in the window, timed from that intended time (coordinated omission), including those
 *   that complete after the window (waited for up to --drain seconds; the rest count as errors
 *   "unfinished");
 * - the latency histogram holds successful (2xx) responses; errors are counted by status.
 *
 * Ownership: bench_run is filled by one driver call on the main thread, then read by the report.
 */
#ifndef BENCH_RUN_H
#define BENCH_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_corpus.h"
#include "bench_hist.h"
#include "bench_proc.h"
#include "bench_util.h"
#include "bench_workload.h"
#include "opt_table.h"
#include "pl_engine.h"

#define BENCH_STATUS_SLOTS 600 /* index = HTTP status; 0 = no response (transport error, timeout) */

/* The command line (bench_opts.c: its table fills this directly). Strings point into argv. */
typedef struct bench_config {
    const char *url;
    const char *corpus;
    const char *do_arg;
    const char *json_path;
    const char *tsv_path;       /* --tsv: append one summary line */
    const char *samples_path;   /* --samples: write the RSS/CPU/PSS samples */
    const char *per_input_path; /* --per-input: in-process, one thread: CPU-ms per input file (TSV) */
    const char *label;          /* free text copied to the JSON */
    int concurrency;            /* closed loop; 0 when --rate */
    double rate;                /* open loop requests/s; 0 when --concurrency */
    long long duration_ms, warmup_ms, drain_ms, timeout_ms, sample_ms;
    uint64_t max_requests; /* bound on every request sent, warm-up included */
    int max_inflight;      /* open loop: connections/streams in flight at most */
    bool http2, allow_remote, inprocess, quiet, free_port;
    int threads, vips_threads; /* in-process */
    int server_pid;            /* 0 = none */
    /* in-process: the engine's limits and the deadline, the service's rows (common/opt_limits.h) */
    pl_limits limits;
    long long deadline_ms;     /* 0 = none */
    const char *allowed_types; /* -> limits.allowed_inputs */
} bench_config;

/* Parse argv into cfg. Returns 0 (run; or cfg->free_port: print a port), 1 (printed --help: exit 0)
 * or -1 with err set (exit 2). */
int bench_opts_parse(int argc, char **argv, bench_config *cfg, bench_error *err);
const opt_table *bench_opts_table(void); /* for tests and tools that list the settings */

typedef struct bench_stats {
    uint64_t requests, ok, errors; /* counted per the rules above */
    uint64_t unfinished;           /* open loop: still waiting when --drain ran out (also in errors) */
    uint64_t status[BENCH_STATUS_SLOTS];
    uint64_t window_done, window_ok; /* completions inside the window: the throughput numerator */
    uint64_t window_bytes_sent, window_bytes_received;
    uint64_t op_requests[BENCH_WORKLOAD_MAX_OPS], op_ok[BENCH_WORKLOAD_MAX_OPS];
    uint64_t http1, http2; /* counted responses by the HTTP version they really used */
    bench_hist hist;       /* latency of counted 2xx responses, microseconds */
    char first_error[512];
} bench_stats;

typedef struct bench_run {
    const bench_config *cfg;
    const bench_workload *w;
    const bench_corpus *corpus;
    const char *mode;      /* "closed", "open", "inprocess" */
    const char *transport; /* "HTTP/1.1", "HTTP/2", "none" */
    bench_stats st;
    double window_s;         /* measured window length actually used (shorter if --max-requests stopped it) */
    uint64_t sent_total;     /* every request sent, warm-up included */
    int64_t max_send_lag_us; /* open loop: worst delay between intended and actual send */
    uint64_t late_sends;     /* open loop: sends more than 1 ms behind schedule */
    bench_proc proc;         /* the server's (or in-process: our own) samples */
    double client_cpu_s;     /* the bench process's CPU inside the window (HTTP modes) */
    char aborted[160];       /* why the run stopped early, or "" */
} bench_run;

/* Drivers: fill run (caller-owned, zeroed by the driver) or fail with err. */
int bench_http_run(const bench_config *cfg, const bench_workload *w, const bench_corpus *c, bench_run *run, bench_error *err);
int bench_inproc_run(const bench_config *cfg, const bench_workload *w, const bench_corpus *c, bench_run *run, bench_error *err);

/* Refuse URLs that are not http(s) or whose host does not resolve only to loopback addresses,
 * unless allow_remote (the user named another address on purpose with --allow-remote). */
int bench_url_check(const char *url, bool allow_remote, bench_error *err);

/* The report: a table on out, and the JSON document to path (NULL: no file). */
void bench_report_print(const bench_run *run, FILE *out);
int bench_report_write_json(const bench_run *run, const char *path, bench_error *err);
/* One line of results appended to a TSV file (header written when the file is new), for scripts. */
int bench_report_append_tsv(const bench_run *run, const char *path, bench_error *err);
/* The /proc samples as "t_s rss_kb cpu_s pss_kb" lines (pss NaN when not read), for gnuplot. */
int bench_report_write_samples(const bench_run *run, const char *path, bench_error *err);

#endif
