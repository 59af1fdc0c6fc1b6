/*
 * test_bench_proc: the /proc sampler (suite unit): reading this process's own figures, the summary
 * of a known series of samples (peak, mean, CPU cores over the window), and PSS: a child that
 * touches 64 MiB of its own, a tree of three processes sharing 64 MiB (RSS counts it three times,
 * PSS once), a zombie whose smaps_rollup cannot be read (PSS absent, the run goes on), and the
 * budget that spaces PSS reads. Children wait on a pipe and are killed and reaped at the end.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "bench_proc.h"

#define MIB_KB 1024ULL
#define TOUCH_MB 64

/* 64 MiB of anonymous memory, written so that it is resident (mmap: no allocator or sanitizer in
 * between). NULL on failure. */
static char *touch_64mib(void)
{
    size_t len = (size_t)TOUCH_MB << 20;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    memset(m, 0x5a, len);
    return m;
}

/* A child that touches 64 MiB of its own when private_mib, says so on a pipe, then waits until
 * killed (or its parent goes away). Returns its pid once it is ready, or -1. */
static pid_t spawn_waiter(int private_mib)
{
    int ready[2], hold[2];
    if (pipe(ready) != 0 || pipe(hold) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(hold[1]);
        char c = private_mib && touch_64mib() == NULL ? 'x' : 'r';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        while (read(hold[0], &c, 1) < 0) /* EOF when the parent exits: never outlives the test */
            ;
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    char c = 0;
    if (pid < 0 || read(ready[0], &c, 1) != 1 || c != 'r') {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        pid = -1;
    }
    close(ready[0]);
    return pid; /* hold[1] stays open in this process until it exits */
}

static void stop_child(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* One child with 64 MiB of its own (plus what it shares with us), then this process and two
 * children: the 64 MiB touched here before the forks is shared by all three. */
static void test_pss_tree(void)
{
    char *shared = touch_64mib();
    pid_t a = shared ? spawn_waiter(1) : -1, b = a > 0 ? spawn_waiter(0) : -1;
    if (!ok(shared && a > 0 && b > 0, "64 MiB touched here, child a with 64 MiB of its own and child b started")) {
        stop_child(a);
        return;
    }
    bench_proc_figures fa, ft;
    is_int(bench_proc_read_figures((int)a, 1, &fa), 0, "read child a with PSS");
    ok(fa.procs == 1 && fa.pss_kb >= TOUCH_MB * MIB_KB && fa.pss_kb <= fa.rss_kb,
       "child a: 1 process, 64 MiB <= pss %llu KiB <= rss %llu KiB", (unsigned long long)fa.pss_kb, (unsigned long long)fa.rss_kb);
    ok(fa.rss_kb - fa.pss_kb >= 2 * TOUCH_MB * MIB_KB / 3 - 4 * MIB_KB,
       "child a: the 64 MiB shared by three processes counts a third in its PSS (rss - pss = %llu KiB)",
       (unsigned long long)(fa.rss_kb - fa.pss_kb));
    ok(fa.pss_cpu_us > 0, "the cost of the PSS read is measured (%lld us)", (long long)fa.pss_cpu_us);

    is_int(bench_proc_read_figures((int)getpid(), 1, &ft), 0, "read this process and its children with PSS");
    is_int(ft.procs, 3, "this process and its two live children");
    ok(ft.pss_kb >= 2 * TOUCH_MB * MIB_KB && ft.pss_kb >= fa.pss_kb + TOUCH_MB * MIB_KB / 2,
       "tree pss %llu KiB >= the shared 64 MiB once + child a's own 64 MiB", (unsigned long long)ft.pss_kb);
    ok(ft.rss_kb >= 4 * TOUCH_MB * MIB_KB && ft.rss_kb - ft.pss_kb >= 2 * TOUCH_MB * MIB_KB - 8 * MIB_KB,
       "tree rss %llu KiB counts the shared 64 MiB three times, pss once (rss - pss = %llu KiB)", (unsigned long long)ft.rss_kb,
       (unsigned long long)(ft.rss_kb - ft.pss_kb));
    bench_proc_figures fn;
    is_int(bench_proc_read_figures((int)getpid(), 0, &fn), 0, "read the tree without PSS");
    ok(fn.pss_kb == 0 && fn.pss_cpu_us == 0 && fn.procs == 3, "without PSS: pss 0, no PSS cost, same 3 processes");
    stop_child(a);
    stop_child(b);
    munmap(shared, (size_t)TOUCH_MB << 20);
}

/* A zombie (exited, not reaped) has a status but no smaps_rollup: PSS absent, RSS sampled. */
static void test_pss_absent(void)
{
    pid_t z = fork();
    if (z == 0)
        _exit(0);
    siginfo_t si;
    if (!ok(z > 0 && waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT) == 0, "a zombie child"))
        return;
    bench_proc p;
    bench_error err = {{0}};
    is_int(bench_proc_open(&p, (int)z, 0, &err), 0, "open the zombie: its smaps_rollup is unreadable, the run goes on");
    ok(!p.pss_readable, "PSS marked unreadable");
    is_int(bench_proc_record(&p, 1000), 0, "record a sample");
    is_int(p.n ? p.samples[0].pss_kb : 1, 0, "the sample has no PSS");
    bench_proc_summary s;
    bench_proc_summarize(&p, 0, 1, &s);
    ok(s.pss_peak_kb == 0 && s.pss_mean_kb == 0 && s.pss_samples == 0, "summary: PSS absent (0, no samples)");
    bench_proc_free(&p);
    waitpid(z, NULL, 0);
}

/* PSS is read at the first sample, skipped right after it (the next waits 100 x its CPU), read
 * again once that time has passed; RSS at every sample. */
static void test_pss_budget(void)
{
    bench_proc p;
    bench_error err = {{0}};
    is_int(bench_proc_open(&p, (int)getpid(), 0, &err), 0, "open self");
    ok(p.pss_readable, "own smaps_rollup readable");
    bench_proc_record(&p, 1000);
    int64_t next = p.pss_next_us;
    bench_proc_record(&p, 1001);
    bench_proc_record(&p, next > 1001 ? next : 1002);
    ok(p.n == 3 && p.samples[0].pss_kb > 0 && p.samples[0].pss_kb <= p.samples[0].rss_kb,
       "first sample: 0 < pss %llu <= rss %llu KiB", (unsigned long long)p.samples[0].pss_kb,
       (unsigned long long)p.samples[0].rss_kb);
    ok(next > 1001 && p.samples[1].pss_kb == 0 && p.samples[1].rss_kb > 0,
       "1 us later: PSS skipped (next PSS read at %lld us), RSS read", (long long)next);
    ok(p.samples[2].pss_kb > 0, "at the budgeted time: PSS read again");
    bench_proc_summary s;
    bench_proc_summarize(&p, 0, 1, &s);
    ok(s.pss_samples == 2 && s.pss_peak_kb >= s.pss_mean_kb && s.pss_mean_kb > 0 && s.pss_peak_kb <= s.rss_peak_kb,
       "summary over the samples that read PSS: %zu, peak %llu >= mean %llu KiB", s.pss_samples, (unsigned long long)s.pss_peak_kb,
       (unsigned long long)s.pss_mean_kb);
    bench_proc_free(&p);
}

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

    /* PSS in a known series: read at t 1 and 3 only (0 = not read) */
    static const bench_proc_sample pss_known[] = {{0, 100, 0, 90}, {1, 200, 0, 150}, {2, 400, 0, 0}, {3, 300, 0, 250}};
    p = (bench_proc){.pid = 1, .samples = malloc(sizeof(pss_known)), .n = 4, .cap = 4};
    memcpy(p.samples, pss_known, sizeof(pss_known));
    bench_proc_summarize(&p, 1, 3, &s);
    ok(s.pss_peak_kb == 250 && s.pss_mean_kb == 200 && s.pss_samples == 2 && s.rss_peak_kb == 400,
       "pss over [1, 3] s: peak 250, mean 200 of 2 samples (got %llu, %llu, %zu); rss peak 400", (unsigned long long)s.pss_peak_kb,
       (unsigned long long)s.pss_mean_kb, s.pss_samples);
    bench_proc_free(&p);

    test_pss_tree();
    test_pss_absent();
    test_pss_budget();
    return tap_done();
}
