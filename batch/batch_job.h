/*
 * batch_job: the plain data shared by the parts of `imgpipe batch`: the parsed options, one job
 * per input file, and the run's counters.
 *
 * Ownership: batch_main() owns the options and the job list for the whole run. Before the
 * workers start only the main thread touches them. While workers run, job i is written by the one
 * worker that claimed index i (through batch_stats.next) and read by nobody else until the
 * workers are joined; the counters in batch_stats are atomics, read by the progress line.
 */
#ifndef BATCH_JOB_H
#define BATCH_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pl_engine.h"
#include "pl_options.h"

#define BATCH_DEFAULT_NAME "{stem}.{ext}"                 /* without -r */
#define BATCH_DEFAULT_NAME_RECURSIVE "{dir}/{stem}.{ext}" /* with -r: the tree mirrored */
#define BATCH_DEFAULT_DEADLINE_US (10 * 1000 * 1000)      /* the server's default: 10 s per image */

#define BATCH_MAX_DO PL_RENDITIONS_MAX /* --do outputs per input, as /renditions allows */

typedef struct batch_opts {
    const char *spec;                   /* --do, the grammar string (the first one) */
    const char *do_specs[BATCH_MAX_DO]; /* every --do, in order */
    int n_do;                           /* > 1: several outputs per input, one decode (batch_renditions.h) */
    pl_plan plan;                       /* parsed from spec, or the renditions plan of every --do */
    const char *out_dir;                /* -o */
    const char *name;                   /* --name template */
    const char *report;                 /* --report FILE or NULL */
    int jobs;                           /* -j */
    bool recursive;                     /* -r */
    bool skip_existing;                 /* --skip-existing */
    bool quiet;                         /* --quiet */
    bool dry_run;                       /* --dry-run: print the plan (input -> output), process nothing */
    bool null_sep;                      /* -0: paths on stdin end with NUL, not newline */
    int shard_k, shard_n;               /* --shard K/N; shard_n == 0: no sharding */
    pl_limits limits;                   /* --max-pixels, --max-output-pixels, --max-frames, --allowed-types */
    int64_t deadline_us;                /* --deadline, per image; 0 = none */
    bool isolate;                       /* --isolation process: each worker thread drives a sandboxed worker process */
    struct svc_proc_config *proc_cfg;   /* set by batch_main when isolate (vips threads, untrusted loaders) */
    char **inputs;                      /* the INPUT arguments (argv slice, not owned) */
    int n_inputs;
} batch_opts;

typedef enum {
    BATCH_PENDING = 0, /* not started (yet, or never: interrupted run) */
    BATCH_OK,
    BATCH_FAILED,
    BATCH_SKIPPED, /* --skip-existing and every output of the input exists */
} batch_status;

/* One output of a job: one per --do. */
typedef struct batch_out {
    char *path;        /* out_dir + expanded template (owned) */
    pl_format expect;  /* output format the name was made for (PL_FMT_UNKNOWN for info's JSON) */
    int width, height; /* results, written by the worker that ran the job */
    uint64_t bytes;
} batch_out;

typedef struct batch_job {
    char *path;      /* what open() uses: as given, or dir argument + relative path (owned) */
    char *rel;       /* relative path: {dir}/{stem}, shard hash, sort key (owned) */
    batch_out *outs; /* its outputs, one per --do (owned; set by batch_list_plan) */
    int n_outs;
    char *pre_error;   /* set when the input failed before any work (cannot stat …) (owned) */
    uint64_t bytes_in; /* size from stat */
    dev_t dev;
    ino_t ino;
    bool drop; /* the same file listed twice under the same output name: run it once */
    /* results, written by the worker that ran the job */
    batch_status status;
    pl_code code;       /* PL_OK or the failure's code */
    char *message;      /* failure text (owned) or NULL */
    uint64_t bytes_out; /* all its outputs */
    double ms;
} batch_job;

typedef struct batch_list {
    batch_job *v;
    size_t n, cap;
} batch_list;

typedef struct batch_stats {
    atomic_size_t next;    /* next job index to claim */
    atomic_size_t done;    /* finished (ok, failed or skipped) */
    atomic_size_t ok;      /* written */
    atomic_size_t failed;  /* failed */
    atomic_size_t skipped; /* --skip-existing */
    atomic_uint_fast64_t bytes_in, bytes_out;
    atomic_int stop;   /* 1: take no new job (SIGINT) */
    atomic_int cancel; /* 1: cancel running jobs too (second SIGINT) */
    size_t total;      /* jobs in this run (after --shard) */
    int64_t start_us;  /* g_get_monotonic_time() at start */
} batch_stats;

void batch_list_free(batch_list *list);

#endif
