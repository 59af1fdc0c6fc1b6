/*
 * batch_run: the worker threads of `imgpipe batch`: each claims the next job, reads the file,
 * runs the engine in-process (pl_run) and writes the output through a temporary file and a
 * rename; each finished job adds one line to the --report file.
 *
 * Threads: batch_run_start() and everything else here but the workers' own loop run on the
 * main thread. Workers touch only the job they claimed, the atomics in batch_stats, their
 * own slot in `workers`, and the report / stderr under their mutexes. SIGINT and SIGTERM are
 * blocked in the workers (and so in the libvips threads they start): the main thread handles
 * them and asks the workers to stop (stats.stop) or to cancel (stats.cancel + pl_control).
 */
#ifndef BATCH_RUN_H
#define BATCH_RUN_H

#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

#include "batch_job.h"

typedef struct batch_worker {
    struct batch_run *run;
    pthread_t thread;
    pl_control ctl; /* shared with the main thread, which may set ctl.cancelled */
    uint8_t *buf;   /* the input file, reused from one job to the next (worker-owned) */
    size_t buf_cap;
    char *last_dir;          /* the last output directory opened, relative to -o (worker-owned) */
    int last_dirfd;          /* its descriptor (worker-owned; -1 = none) */
    struct svc_proc *proc;   /* --isolation process: this thread's worker process (worker-owned) */
    struct svc_arena *arena; /* --isolation process: the input handed to it, kept (svc_arena.h; worker-owned) */
    bool started;
} batch_worker;

typedef struct batch_run {
    const batch_opts *opts;
    batch_list *list;
    batch_stats stats;
    FILE *report; /* or NULL; written under report_lock */
    pthread_mutex_t report_lock;
    pthread_mutex_t err_lock; /* stderr: error lines from workers and the progress line */
    bool tty;                 /* stderr is a terminal and a progress line may be on screen */
    mode_t file_mode;         /* 0666 & ~umask, for outputs (created 0600) */
    int out_fd;               /* -o, opened once; every output is written below it with *at() calls */
    batch_worker *workers;
    int n_workers;
    pthread_mutex_t lock; /* guards workers_left; cond signalled when a worker exits */
    pthread_cond_t cond;  /* CLOCK_MONOTONIC */
    int workers_left;
} batch_run;

/* Prepare run (mutexes, counters) for opts and list. report may be NULL. */
int batch_run_init(batch_run *run, const batch_opts *opts, batch_list *list, FILE *report);

/* Start opts->jobs workers, with SIGINT/SIGTERM blocked in them. Returns 0, or -1 if no thread
 * could be started (then nothing runs). */
int batch_run_start(batch_run *run);

/* Wait at most timeout_us for all workers to finish. Returns 1 when they have all finished. */
int batch_run_wait(batch_run *run, int64_t timeout_us);

/* Take no new job; running jobs finish. Then, if hard, cancel the running ones (pl_control). */
void batch_run_stop(batch_run *run, bool hard);

/* Join the workers (after batch_run_wait returned 1), write the report lines of the jobs
 * that never started, and free what run_init and run_start allocated. */
void batch_run_finish(batch_run *run);

/* Print one line on stderr from any thread (clears a progress line on a terminal first). */
void batch_run_say(batch_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
