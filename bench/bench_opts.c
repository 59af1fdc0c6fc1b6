/*
 * bench_opts: the command line of `imgpipe-bench`: its settings table (common/opt_table.h; for
 * --inprocess, the engine's limits and the deadline are the rows shared with the service,
 * common/opt_limits.h), then the bench's own checks: what each mode needs and what it does not
 * take, and the values derived from the machine (threads). Main thread only.
 */
#include <string.h>
#include <unistd.h>

#include "bench_run.h"
#include "opt_limits.h"

#define A(m) OPT_AT(bench_config, m)

/* clang-format off */
static const opt_row bench_rows[] = {
    {.name = "url", .type = OPT_STR, .arg = "URL", A(url),
     .help = "server base URL, e.g. http://127.0.0.1:8080 (loopback only unless --allow-remote)"},
    {.name = "corpus", .type = OPT_STR, .arg = "PATH", A(corpus),
     .help = "folder of images (regular files, sorted, read into memory once) or one image"},
    {.name = "do", .type = OPT_STR, .arg = "OP|FILE", A(do_arg),
     .help = "one operation 'fit?width=800&height=800&type=jpeg&quality=80', or a workload file (lines 'weight op?query [input "
             "type]', see bench/workloads/)"},
    {.name = "concurrency", .type = OPT_INT, .min = 1, .max = 4096, .arg = "C", A(concurrency),
     .help = "closed loop: C requests in flight, each sent when the previous answers"},
    {.name = "rate", .type = OPT_REAL, .min = 0.1, .max = 100000, .arg = "R", A(rate),
     .help = "open loop: R requests/s at constant intervals; latency from the intended send time (coordinated omission)"},
    {.name = "duration", .type = OPT_DURATION, .min = 100, .max = 86400000, .def = "10s", A(duration_ms),
     .help = "measured window"},
    {.name = "warmup", .type = OPT_DURATION, .max = 3600000, .def = "0", A(warmup_ms), .help = "sent first and not counted"},
    {.name = "max-requests", .type = OPT_INT, .min = 1, .max = 1e15, A(max_requests),
     .help = "stop after N requests sent in all, warm-up included (default: no bound)"},
    {.name = "http2", .type = OPT_FLAG, A(http2),
     .help = "HTTP/2 (prior knowledge on http://, ALPN on https://); default HTTP/1.1 keep-alive"},
    {.name = "server-pid", .type = OPT_INT, .min = 1, .max = 4194304, .arg = "PID", A(server_pid),
     .help = "sample the server's RSS and CPU from /proc/PID during the run"},
    {.name = "json", .type = OPT_STR, .arg = "FILE", A(json_path), .help = "write the results as JSON"},
    {.name = "label", .type = OPT_STR, .arg = "TEXT", A(label), .help = "free text copied into the JSON and the TSV line"},
    {.name = "tsv", .type = OPT_STR, .arg = "FILE", A(tsv_path),
     .help = "append one tab-separated summary line (header when the file is new)"},
    {.name = "samples", .type = OPT_STR, .arg = "FILE", A(samples_path),
     .help = "write the RSS/CPU/PSS samples as 't_s rss_kb cpu_s pss_kb' lines (for plots)"},
    {.name = "inprocess", .type = OPT_FLAG, A(inprocess), .help = "no HTTP: run the engine directly on --threads T"},
    {.name = "threads", .type = OPT_INT, .min = 1, .max = 256, .arg = "T", A(threads),
     .help = "in-process: worker threads (default: cores)"},
    {.name = "vips-threads", .type = OPT_INT, .min = 1, .max = 256, A(vips_threads),
     .help = "in-process: libvips threads per image (default: max(1, cores / T))"},
    {.name = "per-input", .type = OPT_STR, .arg = "FILE", A(per_input_path),
     .help = "in-process, one thread: CPU-ms and wall-ms per input file and operation (TSV)"},
    OPT_LIMIT_ROWS(bench_config, limits.max_input_pixels, limits.max_output_pixels, limits.max_frames,
                   limits.max_heif_encode_ms, deadline_ms, allowed_types),
    {.name = "timeout", .type = OPT_DURATION, .min = 10, .max = 3600000, .def = "30s", A(timeout_ms),
     .help = "per-request timeout"},
    {.name = "drain", .type = OPT_DURATION, .max = 3600000, .def = "10s", A(drain_ms),
     .help = "open loop: wait this long after the window for answers"},
    {.name = "max-inflight", .type = OPT_INT, .min = 1, .max = 65536, .def = "512", A(max_inflight),
     .help = "open loop: requests in flight at most"},
    {.name = "sample-interval", .type = OPT_DURATION, .min = 10, .max = 60000, .def = "200ms", A(sample_ms),
     .help = "/proc sampling period"},
    {.name = "allow-remote", .type = OPT_FLAG, A(allow_remote), .help = "allow a non-loopback --url (only for a server you run)"},
    {.name = "quiet", .type = OPT_FLAG, A(quiet), .help = "no table on stdout"},
    {.name = "free-port", .type = OPT_FLAG, A(free_port), .help = "print a free TCP port on 127.0.0.1 and exit (for scripts)"},
};
/* clang-format on */

static const opt_table bench_table = {
    .command = "imgpipe-bench",
    .intro =
        "usage: imgpipe-bench --url URL --corpus DIR --do OP|FILE (--concurrency C | --rate R) --duration TIME\n"
        "                     [--warmup TIME] [--max-requests N] [--http2] [--server-pid PID] [--json FILE]\n"
        "       imgpipe-bench --inprocess --threads T --corpus DIR --do OP|FILE --duration TIME [--json FILE] [--per-input FILE]\n"
        "       imgpipe-bench --free-port     print a free TCP port on 127.0.0.1 (for scripts)\n"
        "\n"
        "Load an imgpipe (or imaginary-compatible) server with POST URL/op?query requests whose bodies cycle\n"
        "through the images of --corpus, and report throughput, latency percentiles, errors by status and\n"
        "the server's RSS/CPU. --inprocess runs the same workload through the engine with no HTTP: the ceiling,\n"
        "with the service's limits and deadline (same names, syntax, ranges and defaults as imgpipe serve).\n"
        "Times are seconds (a bare number, decimals allowed) or with a unit: 500ms, 10s, 2m.\n"
        "\n",
    .outro =
        "\nExit status: 0 measured, 1 failed to run, 2 bad usage, 3 ran but nothing succeeded or the server stopped answering.\n",
    .rows = bench_rows,
    .n_rows = sizeof(bench_rows) / sizeof(bench_rows[0]),
};

const opt_table *bench_opts_table(void)
{
    return &bench_table;
}

/* Was any of these rows (NULL-terminated names) on the command line? The first one, or NULL. */
static const char *bench_opts_any(const opt_parsed *p, const char *const *names)
{
    for (; *names; names++)
        if (p->given[opt_find(&bench_table, *names) - bench_table.rows])
            return *names;
    return NULL;
}

static int bench_opts_inprocess(bench_config *cfg, const opt_parsed *p, bench_error *err)
{
    static const char *const http_only[] = {"url", "rate", "concurrency", "http2", "server-pid", NULL};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *name = bench_opts_any(p, http_only);
    pl_error perr;
    if (name != NULL)
        return bench_error_set(err,
                               "--inprocess runs without HTTP: drop --%s (and --url, --rate, --concurrency, --http2, "
                               "--server-pid)",
                               name);
    if (cfg->per_input_path && cfg->threads > 1)
        return bench_error_set(err, "--per-input times each request by the process's CPU: use it with --threads 1");
    pl_error_clear(&perr);
    if (pl_formats_parse_mask(cfg->allowed_types ? cfg->allowed_types : "", &cfg->limits.allowed_inputs, &perr) != 0)
        return bench_error_set(err, "--allowed-types '%s': %s", cfg->allowed_types ? cfg->allowed_types : "", perr.message);
    cores = cores < 1 ? 1 : cores;
    if (cfg->per_input_path)
        cfg->threads = 1;
    if (!cfg->threads)
        cfg->threads = (int)cores;
    if (!cfg->vips_threads)
        cfg->vips_threads = cores / cfg->threads > 1 ? (int)(cores / cfg->threads) : 1;
    return 0;
}

static int bench_opts_http(bench_config *cfg, const opt_parsed *p, bench_error *err)
{
    static const char *const inprocess_only[] = {
        "threads",    "vips-threads",       "per-input", "max-pixels",    "max-output-pixels",
        "max-frames", "max-heif-encode-ms", "deadline",  "allowed-types", NULL};
    const char *name = bench_opts_any(p, inprocess_only);
    if (name != NULL)
        return bench_error_set(err, "--%s belongs to --inprocess (over HTTP the server applies its own settings)", name);
    if (!cfg->url)
        return bench_error_set(err, "--url is required (or --inprocess), e.g. --url http://127.0.0.1:8080");
    if ((cfg->concurrency > 0) == (cfg->rate > 0))
        return bench_error_set(err, "give exactly one of --concurrency C (closed loop) and --rate R (open loop)");
    return 0;
}

int bench_opts_parse(int argc, char **argv, bench_config *cfg, bench_error *err)
{
    opt_parsed p;
    memset(cfg, 0, sizeof(*cfg));
    pl_limits_default(&cfg->limits); /* the fields no row sets (max_decode_bytes) */
    int rc = opt_parse(&bench_table, argc, argv, cfg, &p, err->message, sizeof(err->message));
    if (rc != 0 || cfg->free_port)
        return rc;
    if (!cfg->corpus || !cfg->do_arg)
        return bench_error_set(err, "--corpus and --do are required (see --help)");
    return cfg->inprocess ? bench_opts_inprocess(cfg, &p, err) : bench_opts_http(cfg, &p, err);
}
