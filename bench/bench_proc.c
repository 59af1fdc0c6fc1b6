/*
 * bench_proc: /proc/PID/status (VmRSS, VmHWM) and /proc/PID/stat (utime, stime) readers and the
 * sample series (see bench_proc.h). A process is measured with its children: imgpipe's worker
 * processes (isolation=process) do the image work, so they count as the server.
 */
#include "bench_proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One process: CPU seconds (its own, plus its reaped children's when with_reaped), VmRSS, VmHWM
 * and its parent pid. */
static int read_one(int pid, int with_reaped, uint64_t *rss_kb, uint64_t *hwm_kb, double *cpu_s, int *ppid)
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

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    *rss_kb = *hwm_kb = 0;
    char line[256];
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

/* The process and its live children (imgpipe's worker processes): RSS and HWM summed, CPU of all
 * of them including children already reaped (a recycled or crashed worker's time stays counted). */
int bench_proc_read(int pid, uint64_t *rss_kb, uint64_t *hwm_kb, double *cpu_s)
{
    int ppid;
    if (read_one(pid, 1, rss_kb, hwm_kb, cpu_s, &ppid) != 0)
        return -1;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        int child = atoi(e->d_name);
        uint64_t r, h;
        double c;
        if (child > 0 && child != pid && read_one(child, 0, &r, &h, &c, &ppid) == 0 && ppid == pid) {
            *rss_kb += r;
            *hwm_kb += h;
            *cpu_s += c;
        }
    }
    if (d != NULL)
        closedir(d);
    return 0;
}

int bench_proc_open(bench_proc *p, int pid, int64_t t0_us, bench_error *err)
{
    memset(p, 0, sizeof(*p));
    uint64_t rss, hwm;
    double cpu;
    if (pid <= 0 || bench_proc_read(pid, &rss, &hwm, &cpu) != 0)
        return bench_error_set(err, "--server-pid %d: cannot read /proc/%d/stat and status (is it running, on this machine?)", pid,
                               pid);
    p->pid = pid;
    p->t0_us = t0_us;
    return 0;
}

int bench_proc_record(bench_proc *p, int64_t now_us)
{
    if (p->pid <= 0)
        return -1;
    bench_proc_sample s;
    if (bench_proc_read(p->pid, &s.rss_kb, &p->hwm_kb, &s.cpu_s) != 0)
        return -1;
    s.t_s = (double)(now_us - p->t0_us) / 1e6;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        bench_proc_sample *grown = realloc(p->samples, cap * sizeof(*grown));
        if (!grown)
            return -1;
        p->samples = grown;
        p->cap = cap;
    }
    p->samples[p->n++] = s;
    return 0;
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
}

void bench_proc_free(bench_proc *p)
{
    free(p->samples);
    memset(p, 0, sizeof(*p));
}
