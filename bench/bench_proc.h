/*
 * bench_proc: samples a process's resident memory and CPU time from /proc/PID (Linux), to follow
 * the server under load (--server-pid) or the bench itself in --inprocess mode. Memory is counted
 * two ways over the process and its live children: VmRSS summed (a page mapped by three processes
 * counts three times) and Pss summed from smaps_rollup (each shared page split between the
 * processes that map it, so the sum counts it once): the fair figure for a multi-process server.
 *
 * Ownership: a caller-owned bench_proc collects samples in a growing array; bench_proc_free()
 * releases it. One thread (the bench's main loop) samples; not shared.
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

typedef struct bench_proc_sample {
    double t_s;      /* seconds since the run started (the start of the warm-up) */
    uint64_t rss_kb; /* VmRSS */
    double cpu_s;    /* user + system CPU seconds since the process started */
    uint64_t pss_kb; /* Pss (smaps_rollup); 0 when not read at this sample (see bench_proc_record) */
} bench_proc_sample;

typedef struct bench_proc {
    int pid;
    int64_t t0_us;
    bench_proc_sample *samples;
    size_t n, cap;
    uint64_t hwm_kb;     /* VmHWM at the last sample: the kernel's peak RSS since the process started */
    int pss_readable;    /* /proc/PID/smaps_rollup could be read when opened: PSS is sampled */
    int64_t pss_next_us; /* the first sample time that reads PSS again (its cost budget) */
} bench_proc;

typedef struct bench_proc_summary {
    uint64_t rss_peak_kb, rss_mean_kb, rss_start_kb, rss_end_kb;
    uint64_t pss_peak_kb, pss_mean_kb; /* over the samples that read PSS; 0 when none did (absent) */
    size_t pss_samples;                /* how many samples in the window read PSS */
    double cpu_s;                      /* CPU seconds used inside the window */
    double cpu_cores;                  /* cpu_s / window seconds: 2.0 = two cores busy */
} bench_proc_summary;

/* One reading of a process and its live children. */
typedef struct bench_proc_figures {
    uint64_t rss_kb, hwm_kb; /* VmRSS and VmHWM, summed */
    uint64_t pss_kb;         /* Pss summed; 0 when not asked, or unreadable for any of the processes */
    double cpu_s;            /* CPU seconds, the reaped children's included */
    int64_t pss_cpu_us;      /* the calling thread's CPU spent reading smaps_rollup */
    int procs;               /* the process and its live children */
} bench_proc_figures;

/* Read one process's figures now, its live children's added (RSS, HWM, CPU and, when with_pss,
 * PSS) and its reaped children's CPU. Returns -1 when /proc/PID cannot be read (gone, not Linux);
 * an unreadable smaps_rollup only leaves pss_kb at 0. */
int bench_proc_read_figures(int pid, int with_pss, bench_proc_figures *out);
/* The same without PSS. */
int bench_proc_read(int pid, uint64_t *rss_kb, uint64_t *hwm_kb, double *cpu_s);

int bench_proc_open(bench_proc *p, int pid, int64_t t0_us, bench_error *err);
int bench_proc_record(bench_proc *p, int64_t now_us); /* append one sample; -1 when the process is gone */
void bench_proc_summarize(const bench_proc *p, double from_s, double to_s, bench_proc_summary *out);
void bench_proc_free(bench_proc *p);

#endif
