/*
 * bench_proc: /proc/PID/stat (utime, stime), /proc/PID/status (VmRSS, VmHWM) and
 * /proc/PID/smaps_rollup (Pss) readers and the sample series (see bench_proc.h). A process is
 * measured with its children: imgpipe's worker processes (isolation=process) do the image work, so
 * they count as the server.
 *
 * Cost (measured, 1000 reads, 2-core VM, kernel 6.18): stat and status ~8 us a read, the walk
 * over /proc for the children ~250 us a sample; smaps_rollup walks the page tables of every
 * mapping: ~110-170 us for an idle imgpipe server or worker, ~1.5 ms for a process holding 512 MiB,
 * charged to the sampler and taken under the target's mmap read lock. An idle server with two
 * workers: ~600 us of PSS reads a sample, 0.3 % of the default 200 ms interval; at
 * --sample-interval 10ms, or with big workers, it would pass 1 %. So PSS is read at a sample only
 * when the sampler's CPU for the previous PSS read is at most 1 % of the time since it
 * (PSS_BUDGET_FACTOR): every sample in the usual case, every few samples otherwise. RSS and CPU are
 * read at every sample.
 */
#include "bench_proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PSS_BUDGET_FACTOR 100 /* PSS reads use at most 1 / 100 of the wall time of the run */

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* /proc/PID/stat: CPU seconds (its own, plus its reaped children's when with_reaped) and the parent pid. */
static int read_stat(int pid, int with_reaped, double *cpu_s, int *ppid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: fields start after the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long utime = 0, stime = 0;
    long cutime = 0, cstime = 0;
    if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", ppid, &utime, &stime, &cutime, &cstime) != 5)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    double ticks = (double)(utime + stime) + (with_reaped ? (double)(cutime + cstime) : 0);
    *cpu_s = ticks / (double)(hz > 0 ? hz : 100);
    return 0;
}

/* /proc/PID/status: VmRSS and VmHWM (0 for a kernel thread or a zombie, which have none). */
static int read_status(int pid, uint64_t *rss_kb, uint64_t *hwm_kb)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    *rss_kb = *hwm_kb = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "VmRSS: %llu", &v) == 1)
            *rss_kb = v;
        else if (sscanf(line, "VmHWM: %llu", &v) == 1)
            *hwm_kb = v;
    }
    fclose(f);
    return 0;
}

/* /proc/PID/smaps_rollup: the "Pss:" line (not Pss_Anon and the like). -1 when the file cannot be
 * read (a kernel before 4.14, another user's process, hidepid) or has no such line. */
static int read_pss(int pid, uint64_t *pss_kb)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (strncmp(line, "Pss:", 4) == 0 && sscanf(line + 4, "%llu", &v) == 1) {
            *pss_kb = v;
            found = 1;
        }
    }
    fclose(f);
    return found ? 0 : -1;
}

/* Add one process's memory to out: status, then (when asked and still valid) smaps_rollup. A
 * process without memory (a zombie worker not yet reaped) adds no PSS; one whose smaps_rollup
 * cannot be read voids the sum (absent rather than understated). */
static int add_memory(int pid, int *pss_valid, bench_proc_figures *out)
{
    uint64_t rss, hwm, pss = 0;
    if (read_status(pid, &rss, &hwm) != 0)
        return -1;
    out->rss_kb += rss;
    out->hwm_kb += hwm;
    out->procs++;
    if (*pss_valid && rss > 0) {
        int64_t c0 = thread_cpu_us();
        if (read_pss(pid, &pss) == 0)
            out->pss_kb += pss;
        else
            *pss_valid = 0;
        out->pss_cpu_us += thread_cpu_us() - c0;
    }
    return 0;
}

/* The process and its live children (imgpipe's worker processes): memory summed, CPU of all of
 * them including children already reaped (a recycled or crashed worker's time stays counted). */
int bench_proc_read_figures(int pid, int with_pss, bench_proc_figures *out)
{
    memset(out, 0, sizeof(*out));
    int ppid, pss_valid = with_pss;
    if (pid <= 0 || read_stat(pid, 1, &out->cpu_s, &ppid) != 0 || add_memory(pid, &pss_valid, out) != 0)
        return -1;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        int child = atoi(e->d_name);
        double c;
        if (child > 0 && child != pid && read_stat(child, 0, &c, &ppid) == 0 && ppid == pid &&
            add_memory(child, &pss_valid, out) == 0)
            out->cpu_s += c;
    }
    if (d != NULL)
        closedir(d);
    if (!pss_valid)
        out->pss_kb = 0;
    return 0;
}

int bench_proc_read(int pid, uint64_t *rss_kb, uint64_t *hwm_kb, double *cpu_s)
{
    bench_proc_figures f;
    if (bench_proc_read_figures(pid, 0, &f) != 0)
        return -1;
    *rss_kb = f.rss_kb;
    *hwm_kb = f.hwm_kb;
    *cpu_s = f.cpu_s;
    return 0;
}

int bench_proc_open(bench_proc *p, int pid, int64_t t0_us, bench_error *err)
{
    memset(p, 0, sizeof(*p));
    uint64_t rss, hwm, pss;
    double cpu;
    if (pid <= 0 || bench_proc_read(pid, &rss, &hwm, &cpu) != 0)
        return bench_error_set(err, "--server-pid %d: cannot read /proc/%d/stat and status (is it running, on this machine?)", pid,
                               pid);
    p->pid = pid;
    p->t0_us = t0_us;
    p->pss_readable = read_pss(pid, &pss) == 0;
    return 0;
}

/* Append s to the series. */
static int proc_append(bench_proc *p, const bench_proc_sample *s)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        bench_proc_sample *grown = realloc(p->samples, cap * sizeof(*grown));
        if (!grown)
            return -1;
        p->samples = grown;
        p->cap = cap;
    }
    p->samples[p->n++] = *s;
    return 0;
}

/* RSS and CPU at every sample; PSS too when its budget allows (see the top of this file): the next
 * PSS read waits PSS_BUDGET_FACTOR times the CPU this one took. */
int bench_proc_record(bench_proc *p, int64_t now_us)
{
    if (p->pid <= 0)
        return -1;
    int with_pss = p->pss_readable && now_us >= p->pss_next_us;
    bench_proc_figures f;
    if (bench_proc_read_figures(p->pid, with_pss, &f) != 0)
        return -1;
    if (with_pss)
        p->pss_next_us = now_us + PSS_BUDGET_FACTOR * f.pss_cpu_us;
    p->hwm_kb = f.hwm_kb;
    bench_proc_sample s = {.t_s = (double)(now_us - p->t0_us) / 1e6, .rss_kb = f.rss_kb, .cpu_s = f.cpu_s, .pss_kb = f.pss_kb};
    return proc_append(p, &s);
}

/* Peak and mean PSS over the samples of [from_s, to_s] that read it. */
static void summarize_pss(const bench_proc *p, double from_s, double to_s, bench_proc_summary *out)
{
    double sum = 0;
    for (size_t i = 0; i < p->n; i++) {
        const bench_proc_sample *s = &p->samples[i];
        if (s->t_s < from_s - 1e-3 || s->t_s > to_s + 1e-3 || s->pss_kb == 0)
            continue;
        sum += (double)s->pss_kb;
        out->pss_samples++;
        if (s->pss_kb > out->pss_peak_kb)
            out->pss_peak_kb = s->pss_kb;
    }
    if (out->pss_samples)
        out->pss_mean_kb = (uint64_t)(sum / (double)out->pss_samples);
}

void bench_proc_summarize(const bench_proc *p, double from_s, double to_s, bench_proc_summary *out)
{
    memset(out, 0, sizeof(*out));
    const bench_proc_sample *first = NULL, *last = NULL;
    double rss_sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const bench_proc_sample *s = &p->samples[i];
        if (s->t_s < from_s - 1e-3 || s->t_s > to_s + 1e-3)
            continue;
        if (!first)
            first = s;
        last = s;
        rss_sum += (double)s->rss_kb;
        n++;
        if (s->rss_kb > out->rss_peak_kb)
            out->rss_peak_kb = s->rss_kb;
    }
    if (!n)
        return;
    out->rss_mean_kb = (uint64_t)(rss_sum / (double)n);
    out->rss_start_kb = first->rss_kb;
    out->rss_end_kb = last->rss_kb;
    out->cpu_s = last->cpu_s - first->cpu_s;
    double span = last->t_s - first->t_s;
    out->cpu_cores = span > 0 ? out->cpu_s / span : 0;
    summarize_pss(p, from_s, to_s, out);
}

void bench_proc_free(bench_proc *p)
{
    free(p->samples);
    memset(p, 0, sizeof(*p));
}
