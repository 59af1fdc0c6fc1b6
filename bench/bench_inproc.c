/*
 * bench_inproc: the ceiling. The same workload and corpus go straight through the engine
 * (pl_plan_parse_string once per operation, then pl_run per request) on --threads T threads, with
 * no HTTP, no sockets and no copies: what this machine can do at best, to compare the service to.
 *
 * DESIGN (threads): the main thread parses the plans, starts T workers and then only samples
 * /proc/self until they finish. Workers share the read-only plans, workload and corpus, take
 * request numbers from one atomic counter, and record into their own stats and histogram; the
 * main thread merges them after joining. Each worker calls pl_engine_thread_done() before it exits.
 *
 * --per-input FILE (one worker thread): each counted request is also timed by the process's CPU
 * (getrusage: the worker, its libvips threads and the sampler's few reads of /proc) and wall
 * clock, summed per operation and input file, and written as a TSV after the run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_run.h"
#include "pl_engine.h"
#include "pl_options.h"

typedef struct inproc_input { /* --per-input: one operation on one input file */
    uint64_t runs, ok;
    double cpu_ms, cpu_ms_min, wall_ms, out_bytes;
} inproc_input;

typedef struct inproc_shared {
    const bench_config *cfg;
    const bench_workload *w;
    const bench_corpus *c;
    const pl_plan *plans;
    pl_limits limits;
    int64_t warm_end_us, end_us;
    atomic_ullong next;
    atomic_ullong sent;
    atomic_llong last_done_us;
    inproc_input *per; /* --per-input: [op * corpus size + image], else NULL */
} inproc_shared;

static double inproc_cpu_ms(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

typedef struct inproc_worker {
    pthread_t thread;
    inproc_shared *sh;
    bench_stats st;
} inproc_worker;

static void *inproc_main(void *arg)
{
    inproc_worker *wk = arg;
    inproc_shared *sh = wk->sh;
    bench_stats *st = &wk->st;
    for (;;) {
        int64_t start = bench_now_us();
        if (start >= sh->end_us)
            break;
        uint64_t i = atomic_fetch_add(&sh->next, 1);
        if (sh->cfg->max_requests && i >= sh->cfg->max_requests)
            break;
        atomic_fetch_add(&sh->sent, 1);
        size_t op, image;
        bench_workload_pick(sh->w, i, &op, &image);
        const bench_image *im = &sh->c->images[image];
        pl_input in = {.data = im->data, .len = im->len};
        pl_result res;
        pl_error perr;
        memset(&res, 0, sizeof(res));
        pl_error_clear(&perr);
        double cpu0 = sh->per ? inproc_cpu_ms() : 0;
        /* --deadline per request; bench_now_us() is CLOCK_MONOTONIC, the engine's clock (g_get_monotonic_time) */
        pl_control ctl = {.deadline_us = sh->cfg->deadline_ms ? start + sh->cfg->deadline_ms * 1000 : 0};
        int rc = pl_run(&sh->plans[op], &in, &sh->limits, &ctl, &res, &perr);
        int64_t done = bench_now_us();
        if (done < sh->warm_end_us || done > sh->end_us) {
            pl_result_clear(&res);
            continue;
        }
        if (sh->per) {
            inproc_input *p = &sh->per[op * sh->c->n + image];
            double cpu = inproc_cpu_ms() - cpu0;
            p->cpu_ms_min = p->runs == 0 || cpu < p->cpu_ms_min ? cpu : p->cpu_ms_min;
            p->runs++;
            p->ok += rc == 0;
            p->cpu_ms += cpu;
            p->wall_ms += (double)(done - start) / 1e3;
            p->out_bytes += rc == 0 ? (double)res.len : 0;
        }
        int status = rc == 0 ? 200 : pl_error_http_status(perr.code, 0);
        st->window_done++;
        st->requests++;
        st->op_requests[op]++;
        st->window_bytes_sent += im->len;
        st->status[status > 0 && status < BENCH_STATUS_SLOTS ? status : 0]++;
        if (rc == 0) {
            st->window_ok++;
            st->ok++;
            st->op_ok[op]++;
            st->window_bytes_received += res.len;
            bench_hist_record(&st->hist, (uint64_t)(done - start));
        } else {
            st->errors++;
            if (!st->first_error[0])
                snprintf(st->first_error, sizeof(st->first_error), "%.150s on %.100s: %.250s", sh->w->ops[op].spec, im->name,
                         perr.message);
        }
        pl_result_clear(&res);
        long long prev = atomic_load(&sh->last_done_us);
        while (done > prev && !atomic_compare_exchange_weak(&sh->last_done_us, &prev, done))
            ;
    }
    pl_engine_thread_done();
    return NULL;
}

static void inproc_merge(bench_stats *into, const bench_stats *from)
{
    into->requests += from->requests;
    into->ok += from->ok;
    into->errors += from->errors;
    into->window_done += from->window_done;
    into->window_ok += from->window_ok;
    into->window_bytes_sent += from->window_bytes_sent;
    into->window_bytes_received += from->window_bytes_received;
    for (int i = 0; i < BENCH_STATUS_SLOTS; i++)
        into->status[i] += from->status[i];
    for (int i = 0; i < BENCH_WORKLOAD_MAX_OPS; i++) {
        into->op_requests[i] += from->op_requests[i];
        into->op_ok[i] += from->op_ok[i];
    }
    bench_hist_merge(&into->hist, &from->hist);
    if (!into->first_error[0])
        memcpy(into->first_error, from->first_error, sizeof(into->first_error));
}

/* --per-input: one line per operation and input file that ran in the window */
static int inproc_write_per_input(const char *path, const bench_workload *w, const bench_corpus *c, const inproc_input *per,
                                  bench_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return bench_error_set(err, "cannot write --per-input %s: %s", path, strerror(errno));
    fprintf(f, "operation\tfile\ttype\tbytes\truns\tok\tcpu_ms_mean\tcpu_ms_min\twall_ms_mean\tout_bytes_mean\n");
    for (size_t op = 0; op < w->n; op++)
        for (size_t i = 0; i < c->n; i++) {
            const inproc_input *p = &per[op * c->n + i];
            if (p->runs == 0)
                continue;
            fprintf(f, "%s\t%s\t%s\t%zu\t%llu\t%llu\t%.1f\t%.1f\t%.1f\t%.0f\n", w->ops[op].spec, c->images[i].name,
                    c->images[i].type, c->images[i].len, (unsigned long long)p->runs, (unsigned long long)p->ok,
                    p->cpu_ms / (double)p->runs, p->cpu_ms_min, p->wall_ms / (double)p->runs,
                    p->ok ? p->out_bytes / (double)p->ok : 0.0);
        }
    if (fclose(f) != 0)
        return bench_error_set(err, "cannot write --per-input %s: %s", path, strerror(errno));
    return 0;
}

/* Every operation's plan, and the engine started with the bench's libvips threads. */
static int inproc_prepare(const bench_config *cfg, const bench_workload *w, pl_plan *plans, bench_error *err)
{
    pl_error perr;
    for (size_t i = 0; i < w->n; i++) {
        pl_error_clear(&perr);
        if (pl_plan_parse_string(w->ops[i].spec, &plans[i], &perr) != 0)
            return bench_error_set(err, "workload %s: '%s': %s", w->name, w->ops[i].spec, perr.message);
    }
    pl_engine_config ecfg = {.vips_concurrency = cfg->vips_threads};
    pl_error_clear(&perr);
    if (pl_engine_init(&ecfg, &perr) != 0)
        return bench_error_set(err, "engine start failed: %s", perr.message);
    return 0;
}

/* Samples this process's RSS and CPU while the workers run; they stop by themselves at end_us or
 * at the request cap. */
static void inproc_sample(const bench_config *cfg, inproc_shared *sh, bench_run *run)
{
    int64_t sample_us = cfg->sample_ms * 1000;
    for (;;) {
        int64_t now = bench_now_us();
        bench_proc_record(&run->proc, now);
        bool capped = cfg->max_requests && atomic_load(&sh->next) >= cfg->max_requests;
        if (now >= sh->end_us || capped)
            break;
        int64_t nap = sh->end_us - now < sample_us ? sh->end_us - now : sample_us;
        struct timespec ts = {.tv_sec = nap / 1000000, .tv_nsec = (nap % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The measured window: from the end of the warm-up to the end, or to the last answer when the
 * request cap ended the run first. */
static void inproc_window(const bench_config *cfg, inproc_shared *sh, bench_run *run)
{
    int64_t finish = bench_now_us();
    bench_proc_record(&run->proc, finish);
    int64_t window_end = sh->end_us;
    int64_t last = atomic_load(&sh->last_done_us);
    if (cfg->max_requests && atomic_load(&sh->sent) >= cfg->max_requests && last < window_end)
        window_end = last > sh->warm_end_us ? last : finish;
    run->window_s = (double)(window_end - sh->warm_end_us) / 1e6;
    run->sent_total = atomic_load(&sh->sent);
}

int bench_inproc_run(const bench_config *cfg, const bench_workload *w, const bench_corpus *c, bench_run *run, bench_error *err)
{
    memset(run, 0, sizeof(*run));
    bench_hist_init(&run->st.hist);
    run->cfg = cfg;
    run->w = w;
    run->corpus = c;
    run->mode = "inprocess";
    run->transport = "none";

    int rc = -1, started = 0;
    pl_plan *plans = calloc(w->n, sizeof(*plans));
    inproc_worker *workers = calloc((size_t)cfg->threads, sizeof(*workers));
    inproc_shared sh = {.cfg = cfg, .w = w, .c = c, .plans = plans, .limits = cfg->limits};
    if (cfg->per_input_path)
        sh.per = calloc(w->n * c->n, sizeof(*sh.per));
    if (!plans || !workers || (cfg->per_input_path && !sh.per)) {
        bench_error_set(err, "out of memory");
        goto out;
    }
    if (inproc_prepare(cfg, w, plans, err) != 0)
        goto out;
    int64_t t0 = bench_now_us();
    sh.warm_end_us = t0 + cfg->warmup_ms * 1000;
    sh.end_us = sh.warm_end_us + cfg->duration_ms * 1000;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.sent, 0);
    atomic_init(&sh.last_done_us, 0);
    bench_proc_open(&run->proc, (int)getpid(), t0, NULL);
    for (; started < cfg->threads; started++) {
        workers[started].sh = &sh;
        bench_hist_init(&workers[started].st.hist);
        if (pthread_create(&workers[started].thread, NULL, inproc_main, &workers[started]) != 0) {
            bench_error_set(err, "cannot start worker thread %d", started);
            break;
        }
    }
    inproc_sample(cfg, &sh, run);
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        inproc_merge(&run->st, &workers[i].st);
    }
    inproc_window(cfg, &sh, run);
    rc = started == cfg->threads ? 0 : -1;
    if (rc == 0 && sh.per)
        rc = inproc_write_per_input(cfg->per_input_path, w, c, sh.per, err);
out:
    free(sh.per);
    free(plans);
    free(workers);
    return rc;
}
