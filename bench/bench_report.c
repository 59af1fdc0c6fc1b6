/*
 * bench_report: turns a bench_run into the table printed on stdout and the JSON document written
 * to --json (jansson). The JSON field names are the interface of bench/run.sh, the plots and the
 * smoke test: add fields, never rename them. Latencies are in milliseconds, sizes in bytes, RSS and
 * PSS in KiB; PSS is null in the JSON (0 in the TSV, "n/a" in the table) when smaps_rollup could not
 * be read.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bench_run.h"

typedef struct report_numbers {
    double rps, ips, mb_sent_s, mb_recv_s;
    double p50, p90, p99, p999, max, mean, min;
    bench_proc_summary proc;
    double cpu_ms_per_image;
} report_numbers;

static double report_ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void report_compute(const bench_run *run, report_numbers *n)
{
    memset(n, 0, sizeof(*n));
    const bench_stats *st = &run->st;
    double win = run->window_s > 0 ? run->window_s : 1e-9;
    n->rps = (double)st->window_done / win;
    n->ips = (double)st->window_ok / win;
    n->mb_sent_s = (double)st->window_bytes_sent / win / 1e6;
    n->mb_recv_s = (double)st->window_bytes_received / win / 1e6;
    n->p50 = report_ms(bench_hist_percentile(&st->hist, 50));
    n->p90 = report_ms(bench_hist_percentile(&st->hist, 90));
    n->p99 = report_ms(bench_hist_percentile(&st->hist, 99));
    n->p999 = report_ms(bench_hist_percentile(&st->hist, 99.9));
    n->max = report_ms(st->hist.count ? st->hist.max : 0);
    n->min = report_ms(st->hist.count ? st->hist.min : 0);
    n->mean = bench_hist_mean(&st->hist) / 1000.0;
    double warm = (double)run->cfg->warmup_ms / 1e3;
    bench_proc_summarize(&run->proc, warm, warm + run->window_s + 1.0, &n->proc);
    if (st->window_ok && n->proc.cpu_s > 0)
        n->cpu_ms_per_image = n->proc.cpu_s * 1000.0 / (double)st->window_ok;
}

/* The server's (or in-process: our own) line: CPU, then memory as RSS summed over the process and
 * its children, and as PSS (shared pages counted once). */
static void report_print_proc(const bench_run *run, const report_numbers *n, FILE *out)
{
    fprintf(out, "  %-12s pid %d: cpu %.2f cores (%.1f cpu-ms/image), rss peak %.1f MB, mean %.1f MB, hwm %.1f MB",
            strcmp(run->mode, "inprocess") == 0 ? "process" : "server", run->proc.pid, n->proc.cpu_cores, n->cpu_ms_per_image,
            (double)n->proc.rss_peak_kb / 1024.0, (double)n->proc.rss_mean_kb / 1024.0, (double)run->proc.hwm_kb / 1024.0);
    if (n->proc.pss_samples)
        fprintf(out, "; pss peak %.1f MB, mean %.1f MB\n", (double)n->proc.pss_peak_kb / 1024.0,
                (double)n->proc.pss_mean_kb / 1024.0);
    else
        fprintf(out, "; pss n/a (%s)\n", run->proc.pss_readable ? "not read in the window" : "smaps_rollup unreadable");
}

void bench_report_print(const bench_run *run, FILE *out)
{
    const bench_config *cfg = run->cfg;
    const bench_stats *st = &run->st;
    report_numbers n;
    report_compute(run, &n);
    if (strcmp(run->mode, "inprocess") == 0)
        fprintf(out, "imgpipe-bench: in-process ceiling, %d threads (libvips %d per image)", cfg->threads, cfg->vips_threads);
    else if (cfg->rate > 0)
        fprintf(out, "imgpipe-bench: open loop, %.1f req/s offered, %s, %s", cfg->rate, run->transport, cfg->url);
    else
        fprintf(out, "imgpipe-bench: closed loop, concurrency %d, %s, %s", cfg->concurrency, run->transport, cfg->url);
    fprintf(out, "\n  workload %s (%zu op%s), corpus %s (%zu images, %.1f MB)\n", run->w->name, run->w->n,
            run->w->n == 1 ? "" : "s", cfg->corpus, run->corpus->n, (double)run->corpus->total_bytes / 1e6);
    fprintf(out, "  window %.2f s after %.1f s warm-up; %llu requests sent in all\n", run->window_s, (double)cfg->warmup_ms / 1e3,
            (unsigned long long)run->sent_total);
    fprintf(out, "  requests     %10llu   ok %llu, errors %llu\n", (unsigned long long)st->requests, (unsigned long long)st->ok,
            (unsigned long long)st->errors);
    fprintf(out, "  throughput   %10.2f req/s   %.2f images/s   sent %.2f MB/s   received %.2f MB/s\n", n.rps, n.ips, n.mb_sent_s,
            n.mb_recv_s);
    fprintf(out, "  latency ms   p50 %.2f   p90 %.2f   p99 %.2f   p99.9 %.2f   max %.2f   (mean %.2f)\n", n.p50, n.p90, n.p99,
            n.p999, n.max, n.mean);
    if (st->errors) {
        fprintf(out, "  errors      ");
        for (int s = 0; s < BENCH_STATUS_SLOTS; s++)
            if (st->status[s] && (s < 200 || s >= 300))
                fprintf(out, " %s%d: %llu", s ? "" : "no-response/", s, (unsigned long long)st->status[s]);
        fprintf(out, "\n  first error  %s\n", st->first_error);
    }
    if (run->aborted[0])
        fprintf(out, "  ABORTED      %s\n", run->aborted);
    if (cfg->rate > 0)
        fprintf(out, "  schedule     %llu sends > 1 ms late, worst %.2f ms (the generator's own lag)\n",
                (unsigned long long)run->late_sends, (double)run->max_send_lag_us / 1000.0);
    if (run->proc.n)
        report_print_proc(run, &n, out);
    /* A ceiling that left its threads idle (a loaded machine, too few inputs, I/O) is too low, and
     * every service / ceiling ratio measured against it too high. */
    if (strcmp(run->mode, "inprocess") == 0 && run->proc.n && cfg->threads > 0 && n.proc.cpu_cores < 0.8 * cfg->threads)
        fprintf(out,
                "  WARNING      the ceiling used %.2f of %d cores (< 80 %%): it did not saturate them, so service / ceiling "
                "overstates the service; rerun on a quieter machine\n",
                n.proc.cpu_cores, cfg->threads);
    if (strcmp(run->mode, "inprocess") != 0)
        fprintf(out, "  client       cpu %.2f cores; answers over HTTP/1.1 %llu, HTTP/2 %llu\n",
                run->window_s > 0 ? run->client_cpu_s / run->window_s : 0, (unsigned long long)st->http1,
                (unsigned long long)st->http2);
    if (run->w->n > 1)
        for (size_t i = 0; i < run->w->n; i++)
            fprintf(out, "  op %-40s requests %llu ok %llu\n", run->w->ops[i].spec, (unsigned long long)st->op_requests[i],
                    (unsigned long long)st->op_ok[i]);
}

/* A KiB figure, or null when absent (0). */
static json_t *report_kb_or_null(uint64_t kb)
{
    return kb ? json_integer((json_int_t)kb) : json_null();
}

/* The "server" (or "process") object: the summary figures and every sample, PSS beside RSS. */
static json_t *report_json_proc(const bench_run *run, const report_numbers *n)
{
    json_t *samples = json_array();
    for (size_t i = 0; i < run->proc.n; i++) {
        const bench_proc_sample *s = &run->proc.samples[i];
        json_array_append_new(samples,
                              json_pack("[f, I, f, o]", s->t_s, (json_int_t)s->rss_kb, s->cpu_s, report_kb_or_null(s->pss_kb)));
    }
    json_t *proc = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:s}", "pid", run->proc.pid, "rss_peak_kb",
                             (json_int_t)n->proc.rss_peak_kb, "rss_mean_kb", (json_int_t)n->proc.rss_mean_kb, "rss_start_kb",
                             (json_int_t)n->proc.rss_start_kb, "rss_end_kb", (json_int_t)n->proc.rss_end_kb, "vm_hwm_kb",
                             (json_int_t)run->proc.hwm_kb, "cpu_s", n->proc.cpu_s, "cpu_cores", n->proc.cpu_cores,
                             "cpu_ms_per_image", n->cpu_ms_per_image, "samples_format", "[t_s, rss_kb, cpu_s, pss_kb]");
    json_object_set_new(proc, "pss_peak_kb", report_kb_or_null(n->proc.pss_peak_kb));
    json_object_set_new(proc, "pss_mean_kb", report_kb_or_null(n->proc.pss_mean_kb));
    json_object_set_new(proc, "pss_samples", json_integer((json_int_t)n->proc.pss_samples));
    json_object_set_new(proc, "samples", samples);
    return proc;
}

int bench_report_write_json(const bench_run *run, const char *path, bench_error *err)
{
    if (!path)
        return 0;
    const bench_config *cfg = run->cfg;
    const bench_stats *st = &run->st;
    report_numbers n;
    report_compute(run, &n);

    json_t *root = json_object();
    json_t *config =
        json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i, s:f, s:f, s:f, s:I, s:b, s:i, s:i, s:s?}", "mode", run->mode, "transport",
                  run->transport, "url", cfg->inprocess ? "" : cfg->url, "workload", run->w->name, "label", cfg->label,
                  "concurrency", cfg->concurrency, "rate", cfg->rate, "duration_s", (double)cfg->duration_ms / 1e3, "warmup_s",
                  (double)cfg->warmup_ms / 1e3, "max_requests", (json_int_t)cfg->max_requests, "http2", cfg->http2, "threads",
                  cfg->inprocess ? cfg->threads : 0, "vips_threads", cfg->inprocess ? cfg->vips_threads : 0, "corpus", cfg->corpus);
    json_t *ops = json_array();
    for (size_t i = 0; i < run->w->n; i++)
        json_array_append_new(ops, json_pack("{s:s, s:i, s:s, s:I, s:I}", "op", run->w->ops[i].spec, "weight",
                                             (int)run->w->ops[i].weight, "input_type", run->w->ops[i].type, "requests",
                                             (json_int_t)st->op_requests[i], "ok", (json_int_t)st->op_ok[i]));
    json_object_set_new(config, "ops", ops);
    json_object_set_new(config, "corpus_images", json_integer((json_int_t)run->corpus->n));
    json_object_set_new(root, "config", config);

    json_object_set_new(root, "window_s", json_real(run->window_s));
    json_object_set_new(root, "sent_total", json_integer((json_int_t)run->sent_total));
    json_object_set_new(root, "requests", json_integer((json_int_t)st->requests));
    json_object_set_new(root, "ok", json_integer((json_int_t)st->ok));
    json_object_set_new(root, "errors", json_integer((json_int_t)st->errors));
    json_object_set_new(root, "unfinished", json_integer((json_int_t)st->unfinished));
    json_object_set_new(root, "rps", json_real(n.rps));
    json_object_set_new(root, "images_per_s", json_real(n.ips));
    json_object_set_new(root, "bytes_sent", json_integer((json_int_t)st->window_bytes_sent));
    json_object_set_new(root, "bytes_received", json_integer((json_int_t)st->window_bytes_received));
    json_object_set_new(root, "latency_ms",
                        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I}", "p50", n.p50, "p90", n.p90, "p99", n.p99, "p99_9",
                                  n.p999, "max", n.max, "min", n.min, "mean", n.mean, "count", (json_int_t)st->hist.count));
    json_t *by_status = json_object();
    for (int s = 0; s < BENCH_STATUS_SLOTS; s++) {
        if (!st->status[s])
            continue;
        char key[16];
        snprintf(key, sizeof(key), "%d", s);
        json_object_set_new(by_status, key, json_integer((json_int_t)st->status[s]));
    }
    json_object_set_new(root, "status", by_status);
    if (st->first_error[0])
        json_object_set_new(root, "first_error", json_string(st->first_error));
    if (run->aborted[0])
        json_object_set_new(root, "aborted", json_string(run->aborted));
    if (cfg->rate > 0)
        json_object_set_new(root, "schedule",
                            json_pack("{s:I, s:f}", "late_sends", (json_int_t)run->late_sends, "max_lag_ms",
                                      (double)run->max_send_lag_us / 1000.0));
    if (strcmp(run->mode, "inprocess") != 0) {
        json_object_set_new(root, "client", json_pack("{s:f}", "cpu_s", run->client_cpu_s));
        json_object_set_new(root, "http_versions",
                            json_pack("{s:I, s:I}", "1.1", (json_int_t)st->http1, "2", (json_int_t)st->http2));
    }
    if (run->proc.n)
        json_object_set_new(root, strcmp(run->mode, "inprocess") == 0 ? "process" : "server", report_json_proc(run, &n));
    int rc = 0;
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0)
        rc = bench_error_set(err, "cannot write --json %s (does its folder exist and is it writable?)", path);
    json_decref(root);
    return rc;
}

int bench_report_append_tsv(const bench_run *run, const char *path, bench_error *err)
{
    if (!path)
        return 0;
    report_numbers n;
    report_compute(run, &n);
    const bench_config *cfg = run->cfg;
    FILE *f = fopen(path, "a+");
    if (!f)
        return bench_error_set(err, "cannot open --tsv %s for appending", path);
    fseek(f, 0, SEEK_END);
    if (ftell(f) == 0)
        fprintf(f, "label\tmode\ttransport\tload\trps\timages_per_s\tp50_ms\tp90_ms\tp99_ms\tp99_9_ms\tmax_ms\trequests\terrors\t"
                   "rss_peak_kb\tcpu_cores\tcpu_ms_per_image\tbytes_per_image\tpss_peak_kb\n");
    double load = strcmp(run->mode, "inprocess") == 0 ? cfg->threads : cfg->rate > 0 ? cfg->rate : cfg->concurrency;
    double bytes_per_image = run->st.window_ok ? (double)run->st.window_bytes_received / (double)run->st.window_ok : 0;
    fprintf(f, "%s\t%s\t%s\t%g\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%llu\t%llu\t%llu\t%.3f\t%.2f\t%.0f\t%llu\n",
            cfg->label ? cfg->label : "-", run->mode, run->transport, load, n.rps, n.ips, n.p50, n.p90, n.p99, n.p999, n.max,
            (unsigned long long)run->st.requests, (unsigned long long)run->st.errors, (unsigned long long)n.proc.rss_peak_kb,
            n.proc.cpu_cores, n.cpu_ms_per_image, bytes_per_image, (unsigned long long)n.proc.pss_peak_kb);
    int rc = fclose(f) == 0 ? 0 : bench_error_set(err, "cannot write --tsv %s", path);
    return rc;
}

int bench_report_write_samples(const bench_run *run, const char *path, bench_error *err)
{
    if (!path)
        return 0;
    FILE *f = fopen(path, "w");
    if (!f)
        return bench_error_set(err, "cannot write --samples %s", path);
    fprintf(f, "# t_s\trss_kb\tcpu_s\tpss_kb (pid %d; t from the start of the warm-up; pss NaN: not read)\n", run->proc.pid);
    for (size_t i = 0; i < run->proc.n; i++) {
        const bench_proc_sample *s = &run->proc.samples[i];
        fprintf(f, "%.3f\t%llu\t%.3f\t", s->t_s, (unsigned long long)s->rss_kb, s->cpu_s);
        if (s->pss_kb)
            fprintf(f, "%llu\n", (unsigned long long)s->pss_kb);
        else
            fprintf(f, "NaN\n");
    }
    return fclose(f) == 0 ? 0 : bench_error_set(err, "cannot write --samples %s", path);
}
