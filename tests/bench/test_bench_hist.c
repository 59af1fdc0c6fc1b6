/*
 * test_bench_hist: bench_hist's bucket layout and percentiles against known samples (suite unit).
 * Percentiles are nearest-rank and reported as the top of their bucket, so each check states the
 * exact bound: the true value <= reported <= true * (1 + 1/128).
 */
#include <math.h>
#include <stdint.h>

#include "../tap.h"
#include "bench_hist.h"

static bench_hist h; /* 60 KB: not on the stack */

static int within(uint64_t got, uint64_t exact)
{
    return got >= exact && (double)got <= (double)exact * (1.0 + 1.0 / 128.0);
}

int main(void)
{
    /* bucket layout: exact below 256, tiles without gaps or overlaps above */
    int tiles = 1;
    for (unsigned i = 0; i + 1 < BENCH_HIST_BUCKETS; i++) {
        uint64_t lo, hi, lo2, hi2;
        bench_hist_bucket_range(i, &lo, &hi);
        bench_hist_bucket_range(i + 1, &lo2, &hi2);
        if (lo2 != hi + 1 || bench_hist_index(lo) != i || bench_hist_index(hi) != i) {
            tiles = 0;
            diag("bucket %u: [%llu, %llu] then [%llu, %llu]", i, (unsigned long long)lo, (unsigned long long)hi,
                 (unsigned long long)lo2, (unsigned long long)hi2);
            break;
        }
    }
    ok(tiles, "buckets tile the value range, each value maps to the bucket that covers it");
    is_int(bench_hist_index(255), 255, "values below 256 are exact");
    is_int(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1, "UINT64_MAX lands in the last bucket");
    uint64_t lo, hi;
    bench_hist_bucket_range(bench_hist_index(1000000), &lo, &hi);
    ok(lo <= 1000000 && hi >= 1000000 && (double)(hi - lo + 1) / (double)lo <= 1.0 / 128.0,
       "1 s in us: bucket [%llu, %llu] is within 1/128", (unsigned long long)lo, (unsigned long long)hi);

    /* empty */
    bench_hist_init(&h);
    is_int(bench_hist_percentile(&h, 50), 0, "empty: p50 = 0");

    /* 1..100: nearest rank gives exactly k for pk while values are exact */
    for (uint64_t v = 1; v <= 100; v++)
        bench_hist_record(&h, v);
    is_int(h.count, 100, "count 100");
    is_int(bench_hist_percentile(&h, 50), 50, "1..100: p50 = 50");
    is_int(bench_hist_percentile(&h, 90), 90, "1..100: p90 = 90");
    is_int(bench_hist_percentile(&h, 99), 99, "1..100: p99 = 99");
    is_int(bench_hist_percentile(&h, 99.9), 100, "1..100: p99.9 = 100 (rank ceil(99.9) = 100)");
    is_int(bench_hist_percentile(&h, 100), 100, "1..100: p100 = max");
    is_int(h.min, 1, "min 1");
    ok(fabs(bench_hist_mean(&h) - 50.5) < 1e-9, "mean 50.5");

    /* 1..100000 us: relative precision above 256 */
    bench_hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        bench_hist_record(&h, v);
    uint64_t p50 = bench_hist_percentile(&h, 50), p99 = bench_hist_percentile(&h, 99), p999 = bench_hist_percentile(&h, 99.9);
    ok(within(p50, 50000), "1..100000: p50 %llu within 1/128 above 50000", (unsigned long long)p50);
    ok(within(p99, 99000), "1..100000: p99 %llu within 1/128 above 99000", (unsigned long long)p99);
    ok(within(p999, 99900) && p999 <= 100000, "1..100000: p99.9 %llu within bucket and <= max", (unsigned long long)p999);
    is_int(bench_hist_percentile(&h, 100), 100000, "p100 is the exact max, not the bucket top");

    /* a long tail: 990 fast, 10 slow; p99 is fast, p99.9 slow */
    bench_hist_init(&h);
    for (int i = 0; i < 990; i++)
        bench_hist_record(&h, 2000);
    for (int i = 0; i < 10; i++)
        bench_hist_record(&h, 5000000);
    ok(within(bench_hist_percentile(&h, 99), 2000), "tail: p99 = 2000 within bucket");
    ok(within(bench_hist_percentile(&h, 99.1), 5000000), "tail: p99.1 = 5 s within bucket");
    is_int(bench_hist_percentile(&h, 99.9), 5000000, "tail: p99.9 clamps to the exact max");

    /* merge equals recording everything into one */
    static bench_hist a, b, all;
    bench_hist_init(&a);
    bench_hist_init(&b);
    bench_hist_init(&all);
    for (uint64_t v = 1; v <= 5000; v++) {
        bench_hist_record(v % 2 ? &a : &b, v * 37);
        bench_hist_record(&all, v * 37);
    }
    bench_hist_merge(&a, &b);
    int same = a.count == all.count && a.min == all.min && a.max == all.max;
    for (double p = 1; p <= 100; p += 0.5)
        same &= bench_hist_percentile(&a, p) == bench_hist_percentile(&all, p);
    ok(same, "merged halves give the same percentiles, count, min and max as one histogram");
    return tap_done();
}
