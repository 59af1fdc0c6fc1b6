/*
 * svc_proc: one worker process seen from the pool thread that drives it: start it, run a job
 * through it under a hard deadline, and notice when it dies.
 *
 * DESIGN (process model)
 *   - Each pool thread owns one svc_proc (never shared): it alone sends to and reads from the
 *     worker's socket, and it alone kills and reaps the process. The worker is `imgpipe worker`
 *     started with posix_spawn (no fork of the multithreaded server), sandboxed before it reads
 *     any request byte (svc_sandbox.h); the protocol is in svc_wproto.h.
 *   - svc_proc_run() waits for the worker in slices of 50 ms. In each slice it copies the job's
 *     cancel flag into the shared control page (the engine in the worker stops at its next eval
 *     callback), and it kills the worker (SIGKILL) when the job's deadline has passed by more
 *     than the grace, or the job was cancelled more than the grace ago: the answer is then 504 or
 *     499 on time even when native code never returns to libvips. A worker that dies by itself
 *     (a decoder crash, the memory ceiling) fails only the job it was running.
 *   - After any fault the svc_proc is dead (svc_proc_alive() false): the owner frees it and
 *     starts a new one. The result's bytes come back in a memfd of the worker's, read into this
 *     process's heap (pl_result_clear() frees them; the response keeps them until sent).
 *   - The input is a file the worker maps (svc_arena.h: the owner's arena, written before each
 *     job); the worker keeps its mapping while the same file comes back.
 */
#ifndef SVC_PROC_H
#define SVC_PROC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pl_engine.h"

typedef struct svc_proc_config {
    int vips_concurrency;  /* libvips threads per image in the worker */
    bool allow_untrusted;  /* unblock libvips' untrusted loaders (allowed-types lists svg/pdf/jp2k) */
    uint64_t memory_limit; /* RLIMIT_DATA of the worker; 0 = none */
    int log_level;         /* svc_log level for the worker's own lines */
    int64_t grace_us;      /* after the deadline (or a cancel) before the worker is killed */
    /* recycling, applied by the pool between jobs: 0 = never */
    int max_jobs;     /* jobs one worker runs before it is replaced */
    uint64_t max_rss; /* resident bytes after a job above which it is replaced */
} svc_proc_config;

typedef enum {
    SVC_PROC_OK = 0,          /* the worker answered (rc may still be an engine error) */
    SVC_PROC_CRASHED,         /* killed by a signal it raised or received (SIGSEGV, SIGABRT, OOM kill …) */
    SVC_PROC_EXITED,          /* exited on its own mid-job (bad message, failed hand-over) */
    SVC_PROC_KILLED_DEADLINE, /* deadline + grace passed: killed */
    SVC_PROC_KILLED_CANCEL,   /* cancelled + grace passed: killed */
    SVC_PROC_GONE,            /* the worker had died before the job reached it (killed while idle):
                               * nothing ran; start a new one and run the job there */
} svc_proc_fault;

typedef struct svc_proc_job {
    const pl_plan *plan;
    const pl_limits *limits;
    const char *accept;     /* Accept header or NULL */
    const char *request_id; /* for the worker's log lines */
    int fd;                 /* the input file (svc_arena_fd): data at data_off, overlay (if any) at overlay_off */
    uint64_t data_off, data_len, overlay_off, overlay_len;
    int64_t deadline_us;         /* g_get_monotonic_time() clock; 0 = none */
    const atomic_int *cancelled; /* watched while the worker runs; NULL = never */
    /* Called with the worker's decode estimate before it decodes; returns 0 to go on, -1 to drop
     * the job (deadline or cancel while waiting for memory). NULL: no admission step. */
    int (*admit)(void *arg, uint64_t estimate);
    void *admit_arg;
} svc_proc_job;

typedef struct svc_proc svc_proc;

/* Start a worker and wait until it is sandboxed and ready (at most 30 s). NULL with a message in
 * errbuf when it cannot start. */
svc_proc *svc_proc_start(const svc_proc_config *cfg, char *errbuf, size_t errlen);

/* Close the socket (the worker exits), reap it (SIGKILL after 2 s), free. NULL is fine. */
void svc_proc_stop(svc_proc *p);

/* Run one job. Returns the fault; with SVC_PROC_OK, *rc is pl_run's return and *out / *err are
 * filled as pl_run fills them (out->data is malloc()ed, out->mime points into mime_buf). When the
 * admit callback refused, returns SVC_PROC_OK with *rc = 1 and nothing else filled. After a fault
 * *sig holds the signal (CRASHED) or the exit status (EXITED) and the process is gone. */
svc_proc_fault svc_proc_run(svc_proc *p, const svc_proc_job *job, int *rc, pl_result *out, pl_error *err, char *mime_buf,
                            size_t mime_len, int *sig);

bool svc_proc_alive(const svc_proc *p);
pid_t svc_proc_pid(const svc_proc *p);
uint64_t svc_proc_rss(const svc_proc *p); /* resident bytes now, from /proc; 0 if unknown */
int svc_proc_jobs(const svc_proc *p);     /* jobs run by this worker */
/* The last job's worker left its input's bytes moved about (pl_input.moved): it died while its
 * engine had them so, and the input file no longer holds the upload as sent. */
bool svc_proc_input_moved(const svc_proc *p);

#endif
