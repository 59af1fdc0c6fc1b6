/*
 * bench_sched: intended send times of the open-loop schedule (see bench_sched.h). Computed from
 * the index, never accumulated, so rounding does not drift over long runs.
 */
#include "bench_sched.h"

#include <math.h>

int64_t bench_sched_intended_us(int64_t start_us, double rate, uint64_t i)
{
    return start_us + (int64_t)llround((double)i * 1e6 / rate);
}

uint64_t bench_sched_due(int64_t start_us, double rate, int64_t now_us)
{
    if (now_us < start_us || rate <= 0)
        return 0;
    uint64_t n = (uint64_t)floor((double)(now_us - start_us) * rate / 1e6) + 1;
    /* correct the floating-point estimate against the exact rounding used for the times */
    while (n > 0 && bench_sched_intended_us(start_us, rate, n - 1) > now_us)
        n--;
    while (bench_sched_intended_us(start_us, rate, n) <= now_us)
        n++;
    return n;
}

int bench_sched_window(int64_t start_us, double rate, int64_t from_us, int64_t to_us, int64_t *out, size_t cap, size_t *n)
{
    *n = 0;
    if (rate <= 0 || to_us < from_us)
        return -1;
    uint64_t first = bench_sched_due(start_us, rate, from_us - 1);
    for (uint64_t i = first; *n < cap; i++) {
        int64_t t = bench_sched_intended_us(start_us, rate, i);
        if (t >= to_us)
            break;
        if (t >= from_us)
            out[(*n)++] = t;
    }
    return 0;
}
