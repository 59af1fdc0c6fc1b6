/*
 * bench_main: the `imgpipe-bench` command. Parses and bounds the flags, loads the workload and
 * the corpus, runs the HTTP driver (closed or open loop) or the in-process ceiling, then prints the
 * table and writes the JSON. Everything it does is bounded: --duration + --warmup + --drain in
 * time, --max-requests in count, --max-inflight in connections.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_run.h"

static void main_usage(FILE *out)
{
    fprintf(
        out,
        "usage: imgpipe-bench --url URL --corpus DIR --do OP|FILE (--concurrency C | --rate R) --duration S\n"
        "                     [--warmup S] [--max-requests N] [--http2] [--server-pid PID] [--json FILE]\n"
        "       imgpipe-bench --inprocess --threads T --corpus DIR --do OP|FILE --duration S [--json FILE] [--per-input FILE]\n"
        "       imgpipe-bench --free-port     print a free TCP port on 127.0.0.1 (for scripts)\n"
        "\n"
        "Load an imgpipe (or imaginary-compatible) server with POST URL/op?query requests whose bodies cycle\n"
        "through the images of --corpus, and report throughput, latency percentiles, errors by status and\n"
        "the server's RSS/CPU. --inprocess runs the same workload through the engine with no HTTP: the ceiling.\n"
        "\n"
        "  --url URL            server base URL, e.g. http://127.0.0.1:8080 (loopback only unless --allow-remote)\n"
        "  --corpus PATH        folder of images (regular files, sorted, read into memory once) or one image\n"
        "  --do OP|FILE         one operation 'fit?width=800&height=800&type=jpeg&quality=80', or a workload file\n"
        "                       (lines 'weight op?query [input type]', see bench/workloads/)\n"
        "  --concurrency C      closed loop: C requests in flight, each sent when the previous answers (1..4096)\n"
        "  --rate R             open loop: R requests/s at constant intervals; latency from the intended send\n"
        "                       time (coordinated omission) (0.1..100000)\n"
        "  --duration S         measured window in seconds (0.1..86400; default 10)\n"
        "  --warmup S           seconds sent first and not counted (0..3600; default 0)\n"
        "  --max-requests N     stop after N requests sent in all, warm-up included (default: no bound)\n"
        "  --http2              HTTP/2 (prior knowledge on http://, ALPN on https://); default HTTP/1.1 keep-alive\n"
        "  --server-pid PID     sample the server's RSS and CPU from /proc/PID during the run\n"
        "  --json FILE          write the results as JSON\n"
        "  --label TEXT         free text copied into the JSON and the TSV line\n"
        "  --tsv FILE           append one tab-separated summary line (header when the file is new)\n"
        "  --samples FILE       write the RSS/CPU samples as 't_s rss_kb cpu_s' lines (for plots)\n"
        "  --inprocess          no HTTP: run the engine directly on --threads T (1..256; default: cores)\n"
        "  --vips-threads N     in-process: libvips threads per image (default: max(1, cores / T))\n"
        "  --per-input FILE     in-process, one thread: CPU-ms and wall-ms per input file and operation (TSV)\n"
        "  --timeout S          per-request timeout (default 30)\n"
        "  --drain S            open loop: wait this long after the window for answers (default 10)\n"
        "  --max-inflight N     open loop: requests in flight at most (default 512)\n"
        "  --sample-interval S  /proc sampling period (default 0.2)\n"
        "  --allow-remote       allow a non-loopback --url (only for a server you run)\n"
        "  --quiet              no table on stdout\n"
        "\n"
        "Exit status: 0 measured, 1 failed to run, 2 bad usage, 3 ran but nothing succeeded or the server stopped answering.\n");
}

static int main_number(const char *name, const char *s, double lo, double hi, double *out, bench_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return bench_error_set(err, "%s '%s' must be a number from %g to %g", name, s, lo, hi);
    *out = v;
    return 0;
}

static int main_integer(const char *name, const char *s, double lo, double hi, double *out, bench_error *err)
{
    if (main_number(name, s, lo, hi, out, err) != 0)
        return -1;
    if (*out != floor(*out))
        return bench_error_set(err, "%s '%s' must be a whole number from %g to %g", name, s, lo, hi);
    return 0;
}

/* Bind port 0 on loopback and print what the kernel chose (small race with the next user; fine for scripts). */
static int main_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        fprintf(stderr, "imgpipe-bench: cannot bind a loopback port: %s\n", strerror(errno));
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

enum {
    OPT_WARMUP = 256,
    OPT_MAXREQ,
    OPT_HTTP2,
    OPT_PID,
    OPT_JSON,
    OPT_INPROC,
    OPT_THREADS,
    OPT_VIPS,
    OPT_TIMEOUT,
    OPT_DRAIN,
    OPT_INFLIGHT,
    OPT_SAMPLE,
    OPT_REMOTE,
    OPT_QUIET,
    OPT_LABEL,
    OPT_FREEPORT,
    OPT_TSV,
    OPT_SAMPLES,
    OPT_PERINPUT
};

static int main_parse(int argc, char **argv, bench_config *cfg, bench_error *err)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"corpus", required_argument, NULL, 'c'},
                                         {"do", required_argument, NULL, 'd'},
                                         {"concurrency", required_argument, NULL, 'C'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"duration", required_argument, NULL, 't'},
                                         {"warmup", required_argument, NULL, OPT_WARMUP},
                                         {"max-requests", required_argument, NULL, OPT_MAXREQ},
                                         {"http2", no_argument, NULL, OPT_HTTP2},
                                         {"server-pid", required_argument, NULL, OPT_PID},
                                         {"json", required_argument, NULL, OPT_JSON},
                                         {"inprocess", no_argument, NULL, OPT_INPROC},
                                         {"threads", required_argument, NULL, OPT_THREADS},
                                         {"vips-threads", required_argument, NULL, OPT_VIPS},
                                         {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                         {"drain", required_argument, NULL, OPT_DRAIN},
                                         {"max-inflight", required_argument, NULL, OPT_INFLIGHT},
                                         {"sample-interval", required_argument, NULL, OPT_SAMPLE},
                                         {"allow-remote", no_argument, NULL, OPT_REMOTE},
                                         {"quiet", no_argument, NULL, OPT_QUIET},
                                         {"label", required_argument, NULL, OPT_LABEL},
                                         {"free-port", no_argument, NULL, OPT_FREEPORT},
                                         {"tsv", required_argument, NULL, OPT_TSV},
                                         {"samples", required_argument, NULL, OPT_SAMPLES},
                                         {"per-input", required_argument, NULL, OPT_PERINPUT},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    *cfg = (bench_config){.duration_s = 10, .drain_s = 10, .timeout_s = 30, .sample_s = 0.2, .max_inflight = 512};
    double v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'u':
            cfg->url = optarg;
            break;
        case 'c':
            cfg->corpus = optarg;
            break;
        case 'd':
            cfg->do_arg = optarg;
            break;
        case 'C':
            rc = main_integer("--concurrency", optarg, 1, 4096, &v, err);
            cfg->concurrency = (int)v;
            break;
        case 'r':
            rc = main_number("--rate", optarg, 0.1, 100000, &v, err);
            cfg->rate = v;
            break;
        case 't':
            rc = main_number("--duration", optarg, 0.1, 86400, &cfg->duration_s, err);
            break;
        case OPT_WARMUP:
            rc = main_number("--warmup", optarg, 0, 3600, &cfg->warmup_s, err);
            break;
        case OPT_MAXREQ:
            rc = main_integer("--max-requests", optarg, 1, 1e15, &v, err);
            cfg->max_requests = (uint64_t)v;
            break;
        case OPT_HTTP2:
            cfg->http2 = true;
            break;
        case OPT_PID:
            rc = main_integer("--server-pid", optarg, 1, 4194304, &v, err);
            cfg->server_pid = (int)v;
            break;
        case OPT_JSON:
            cfg->json_path = optarg;
            break;
        case OPT_INPROC:
            cfg->inprocess = true;
            break;
        case OPT_THREADS:
            rc = main_integer("--threads", optarg, 1, 256, &v, err);
            cfg->threads = (int)v;
            break;
        case OPT_VIPS:
            rc = main_integer("--vips-threads", optarg, 1, 256, &v, err);
            cfg->vips_threads = (int)v;
            break;
        case OPT_TIMEOUT:
            rc = main_number("--timeout", optarg, 0.01, 3600, &cfg->timeout_s, err);
            break;
        case OPT_DRAIN:
            rc = main_number("--drain", optarg, 0, 3600, &cfg->drain_s, err);
            break;
        case OPT_INFLIGHT:
            rc = main_integer("--max-inflight", optarg, 1, 65536, &v, err);
            cfg->max_inflight = (int)v;
            break;
        case OPT_SAMPLE:
            rc = main_number("--sample-interval", optarg, 0.01, 60, &cfg->sample_s, err);
            break;
        case OPT_REMOTE:
            cfg->allow_remote = true;
            break;
        case OPT_QUIET:
            cfg->quiet = true;
            break;
        case OPT_TSV:
            cfg->tsv_path = optarg;
            break;
        case OPT_SAMPLES:
            cfg->samples_path = optarg;
            break;
        case OPT_PERINPUT:
            cfg->per_input_path = optarg;
            break;
        case OPT_LABEL:
            cfg->label = optarg;
            break;
        case OPT_FREEPORT:
            exit(main_free_port());
        case 'h':
            main_usage(stdout);
            exit(0);
        default:
            return bench_error_set(err, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        }
        if (rc != 0)
            return -1;
    }
    if (optind < argc)
        return bench_error_set(err, "unexpected argument '%s' (see --help)", argv[optind]);
    if (!cfg->corpus || !cfg->do_arg)
        return bench_error_set(err, "--corpus and --do are required (see --help)");
    if (cfg->inprocess) {
        if (cfg->url || cfg->rate > 0 || cfg->concurrency || cfg->http2 || cfg->server_pid)
            return bench_error_set(err, "--inprocess runs without HTTP: drop --url, --rate, --concurrency, --http2, --server-pid");
        if (cfg->per_input_path && cfg->threads > 1)
            return bench_error_set(err, "--per-input times each request by the process's CPU: use it with --threads 1");
        if (cfg->per_input_path)
            cfg->threads = 1;
        if (!cfg->threads)
            cfg->threads = (int)cores;
        if (!cfg->vips_threads)
            cfg->vips_threads = cores / cfg->threads > 1 ? (int)(cores / cfg->threads) : 1;
        return 0;
    }
    if (cfg->threads || cfg->vips_threads || cfg->per_input_path)
        return bench_error_set(err, "--threads, --vips-threads and --per-input belong to --inprocess");
    if (!cfg->url)
        return bench_error_set(err, "--url is required (or --inprocess), e.g. --url http://127.0.0.1:8080");
    if ((cfg->concurrency > 0) == (cfg->rate > 0))
        return bench_error_set(err, "give exactly one of --concurrency C (closed loop) and --rate R (open loop)");
    return 0;
}

int main(int argc, char **argv)
{
    bench_config cfg;
    bench_error err = {{0}};
    bench_corpus corpus = {0};
    bench_workload w = {0};
    bench_run *run = NULL;
    int status = 2;
    if (main_parse(argc, argv, &cfg, &err) != 0)
        goto fail;
    status = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        bench_error_set(&err, "libcurl failed to initialise");
        goto fail;
    }
    if (!cfg.inprocess && bench_url_check(cfg.url, cfg.allow_remote, &err) != 0)
        goto fail;
    if (bench_workload_parse(cfg.do_arg, &w, &err) != 0 || bench_corpus_load(cfg.corpus, &corpus, &err) != 0 ||
        bench_workload_bind(&w, &corpus, &err) != 0)
        goto fail;
    run = calloc(1, sizeof(*run));
    if (!run) {
        bench_error_set(&err, "out of memory");
        goto fail;
    }
    int rc = cfg.inprocess ? bench_inproc_run(&cfg, &w, &corpus, run, &err) : bench_http_run(&cfg, &w, &corpus, run, &err);
    if (rc != 0)
        goto fail;
    if (!cfg.quiet)
        bench_report_print(run, stdout);
    if (bench_report_write_json(run, cfg.json_path, &err) != 0 || bench_report_append_tsv(run, cfg.tsv_path, &err) != 0 ||
        bench_report_write_samples(run, cfg.samples_path, &err) != 0)
        goto fail;
    /* the run completed; say so in the status when it measured nothing useful */
    status = 0;
    if (run->aborted[0] || (run->st.requests > 0 && run->st.ok == 0)) {
        fprintf(
            stderr, "imgpipe-bench: %s\n",
            run->aborted[0]
                ? run->aborted
                : "no request succeeded: see 'first error' (server down or overloaded, or a wrong --url, operation or corpus?)");
        status = 3;
    }
    goto out;
fail:
    fprintf(stderr, "imgpipe-bench: %s\n", err.message);
out:
    if (run)
        bench_proc_free(&run->proc);
    free(run);
    bench_workload_free(&w);
    bench_corpus_free(&corpus);
    curl_global_cleanup();
    return status;
}
