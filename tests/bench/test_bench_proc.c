/*
 * test_bench_proc: the /proc sampler (suite unit): reading this process's own figures, and the
 * summary of a known series of samples (peak, mean, CPU cores over the window).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "bench_proc.h"

int main(void)
{
    uint64_t rss = 0, hwm = 0;
    double cpu = -1;
    is_int(bench_proc_read((int)getpid(), &rss, &hwm, &cpu), 0, "read /proc/self figures");
    ok(rss > 100 && hwm >= rss && cpu >= 0, "rss %llu KiB > 0, hwm %llu >= rss, cpu %.3f s >= 0", (unsigned long long)rss,
       (unsigned long long)hwm, cpu);
    is_int(bench_proc_read(0, &rss, &hwm, &cpu), -1, "pid 0 is refused");

    bench_proc p;
    bench_error err = {{0}};
    ok(bench_proc_open(&p, 999999999, 0, &err) == -1 && strstr(err.message, "--server-pid"), "a missing pid names the flag: %s",
       err.message);
    is_int(bench_proc_open(&p, (int)getpid(), 0, &err), 0, "open self");
    is_int(bench_proc_record(&p, 1000), 0, "record one sample");
    is_int(p.n, 1, "one sample kept");
    ok(fabs(p.samples[0].t_s - 0.001) < 1e-9, "t_s is relative to t0");
    bench_proc_free(&p);

    /* a known series: t 0..4 s, rss 100 200 400 300 200 KiB, cpu +1.5 s per second from t = 1 */
    static const bench_proc_sample known[] = {{0, 100, 10.0}, {1, 200, 10.0}, {2, 400, 11.5}, {3, 300, 13.0}, {4, 200, 14.5}};
    p = (bench_proc){.pid = 1, .samples = malloc(sizeof(known)), .n = 5, .cap = 5};
    memcpy(p.samples, known, sizeof(known));
    bench_proc_summary s;
    bench_proc_summarize(&p, 1, 4, &s);
    is_int(s.rss_peak_kb, 400, "peak over [1, 4] s");
    is_int(s.rss_mean_kb, 275, "mean over [1, 4] s");
    is_int(s.rss_start_kb, 200, "first sample in the window");
    is_int(s.rss_end_kb, 200, "last sample in the window");
    ok(fabs(s.cpu_s - 4.5) < 1e-9 && fabs(s.cpu_cores - 1.5) < 1e-9, "cpu 4.5 s over 3 s = 1.5 cores (got %.3f, %.3f)", s.cpu_s,
       s.cpu_cores);
    bench_proc_summarize(&p, 10, 20, &s);
    is_int(s.rss_peak_kb, 0, "no samples in the window: zeros");
    bench_proc_free(&p);
    return tap_done();
}
