/*
 * batch: `imgpipe batch`, the engine over files and folders from the command line, with the
 * same grammar as the HTTP service (--do 'resize?width=800&type=webp').
 *
 * The steps, each in its own file: options (batch_opts.c) -> the input list, its output names
 * and its checks, all before any work (batch_list.c) -> worker threads calling pl_run in this
 * process (batch_run.c) -> progress and summary on stderr (batch_progress.c). See docs/batch.md.
 *
 * Threads: this file runs on the main thread only. It owns the options, the list and the run;
 * it handles SIGINT/SIGTERM (blocked in the workers): the first one stops new work and lets
 * running images finish, the second cancels them. Exit status: 0 all ok or skipped, 1 the run
 * could not start (the engine, the threads) or its report could not be written, 2 usage error or
 * an output directory that cannot be written (nothing processed), 3 the run went through but some
 * inputs failed (each named on stderr and in --report), 130 interrupted.
 */
#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_job.h"
#include "batch_list.h"
#include "batch_opts.h"
#include "batch_progress.h"
#include "batch_run.h"
#include "svc_log.h"
#include "svc_proc.h"

#define BATCH_TICK_US (100 * 1000)
#define BATCH_TTY_PERIOD_US (250 * 1000)
#define BATCH_LOG_PERIOD_US (5 * 1000 * 1000)

static volatile sig_atomic_t batch_interrupts;

static void batch_on_signal(int sig)
{
    (void)sig;
    batch_interrupts++;
}

static void batch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = batch_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Can files be created in dir? Tried for real (a temporary file, removed at once): access(2)
 * says yes to root on a read-only mount and knows nothing of ACLs or quotas. */
static int batch_check_writable(const char *dir, char *msg, size_t msg_len)
{
    char *probe = g_strdup_printf("%s/.imgpipe-probe-XXXXXX", dir);
    int fd = mkostemp(probe, O_CLOEXEC);
    int e = errno;
    if (fd >= 0) {
        close(fd);
        unlink(probe);
    }
    g_free(probe);
    if (fd >= 0)
        return 0;
    snprintf(msg, msg_len, "cannot write in the output directory '%s': %s (nothing was processed; choose a writable -o)", dir,
             strerror(e));
    return -1;
}

static int batch_engine_init(batch_opts *opts)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pl_engine_config cfg = {0};
    /* workers x libvips threads ~ cores: images in parallel scale better than threads per image */
    cfg.vips_concurrency = cores > opts->jobs ? (int)(cores / opts->jobs) : 1;
    cfg.allow_untrusted = pl_formats_need_untrusted(opts->limits.allowed_inputs); /* svg, pdf, jp2k when listed */
    pl_error err;
    pl_error_clear(&err);
    if (pl_engine_init(&cfg, &err) != 0) {
        fprintf(stderr, "imgpipe batch: cannot start the image engine: %s %s\n", err.message, err.detail);
        return -1;
    }
    if (opts->isolate) { /* each worker thread drives a sandboxed worker process (svc_proc) */
        static svc_proc_config pc;
        pc = (svc_proc_config){.vips_concurrency = cfg.vips_concurrency,
                               .allow_untrusted = cfg.allow_untrusted,
                               .memory_limit = 0,
                               .log_level = SVC_LOG_WARN,
                               .grace_us = 500000};
        opts->proc_cfg = &pc;
    }
    return 0;
}

/* Wait for the workers, showing progress and turning signals into stop / cancel. */
static bool batch_supervise(batch_run *run, bool quiet)
{
    int seen = 0;
    int64_t period = run->tty ? BATCH_TTY_PERIOD_US : BATCH_LOG_PERIOD_US;
    int64_t next_show = g_get_monotonic_time() + period;
    while (!batch_run_wait(run, BATCH_TICK_US)) {
        int n = batch_interrupts;
        if (n != seen) {
            seen = n;
            batch_run_stop(run, n >= 2);
            if (n == 1)
                batch_run_say(run, "interrupted: no new images; waiting for the running ones (interrupt again to cancel "
                                   "them)");
            else
                batch_run_say(run, "interrupted again: cancelling the running images");
        }
        if (!quiet && g_get_monotonic_time() >= next_show) {
            batch_progress_show(run);
            next_show = g_get_monotonic_time() + period;
        }
    }
    return batch_interrupts > 0;
}

int batch_main(int argc, char **argv)
{
    batch_opts opts;
    batch_list list = {0};
    batch_run run;
    FILE *report = NULL;
    bool engine = false;
    char msg[1024] = "";
    int status = 2;

    int prc = batch_opts_parse(argc, argv, &opts, msg, sizeof(msg));
    if (prc == 1)
        return 0;
    if (prc != 0)
        goto usage;
    if (batch_list_collect(&opts, &list, msg, sizeof(msg)) != 0 || batch_list_plan(&opts, &list, msg, sizeof(msg)) != 0)
        goto usage;
    if (opts.dry_run) {
        for (size_t i = 0; i < list.n; i++)
            for (int k = 0; k < list.v[i].n_outs; k++) /* one line per output */
                printf("%s -> %s%s\n", list.v[i].path, list.v[i].outs[k].path,
                       list.v[i].status == BATCH_SKIPPED ? " (exists: skip)" : "");
        status = 0;
        goto out;
    }
    if (g_mkdir_with_parents(opts.out_dir, 0777) != 0) {
        snprintf(msg, sizeof(msg), "cannot create the output directory '%s': %s", opts.out_dir, strerror(errno));
        goto usage;
    }
    if (batch_check_writable(opts.out_dir, msg, sizeof(msg)) != 0)
        goto usage;
    if (opts.report != NULL && (report = fopen(opts.report, "w")) == NULL) {
        snprintf(msg, sizeof(msg), "--report '%s': cannot write it: %s", opts.report, strerror(errno));
        goto usage;
    }
    if (batch_engine_init(&opts) != 0) {
        status = 1;
        goto out;
    }
    engine = true;

    batch_signals();
    batch_run_init(&run, &opts, &list, report);
    run.tty = !opts.quiet && isatty(STDERR_FILENO);
    batch_log_capture(&run);
    if (batch_run_start(&run) != 0) {
        fprintf(stderr, "imgpipe batch: cannot start worker threads: %s\n", strerror(errno));
        batch_run_finish(&run);
        status = 1;
        goto out;
    }
    bool interrupted = batch_supervise(&run, opts.quiet);
    batch_progress_clear(&run);
    if (!opts.quiet)
        batch_progress_summary(&run, interrupted);
    size_t failed = atomic_load(&run.stats.failed);
    batch_run_finish(&run);
    status = interrupted ? 130 : failed > 0 ? 3 : 0;
    goto out;

usage:
    fprintf(stderr, "imgpipe batch: %s\n", msg);
    status = 2;
out:
    if (report != NULL && fclose(report) != 0) {
        fprintf(stderr, "imgpipe batch: --report '%s': write failed: %s\n", opts.report, strerror(errno));
        if (status == 0)
            status = 1;
    }
    if (engine)
        pl_engine_shutdown();
    batch_list_free(&list);
    return status;
}
