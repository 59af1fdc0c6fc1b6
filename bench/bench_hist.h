/*
 * bench_hist: a log-bucketed latency histogram (the HdrHistogram layout) with fixed relative
 * precision. Values are non-negative integers (the bench records microseconds). Values below
 * 2^BENCH_HIST_SUB_BITS are kept exactly; above, each power of two is split into
 * 2^(BENCH_HIST_SUB_BITS-1) equal sub-buckets, so a reported value is never more than
 * 1/128 (0.8 %) above the true one. The exact minimum and maximum are kept beside the buckets.
 *
 * Ownership and threads: a bench_hist is a plain value owned by one thread; threads record into
 * their own and bench_hist_merge() them afterwards. No allocation: it can live on the stack.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 8
#define BENCH_HIST_HALF (1u << (BENCH_HIST_SUB_BITS - 1))
#define BENCH_HIST_MAX_SHIFT (64 - BENCH_HIST_SUB_BITS)
#define BENCH_HIST_BUCKETS ((BENCH_HIST_MAX_SHIFT + 2) * BENCH_HIST_HALF)

typedef struct bench_hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t buckets[BENCH_HIST_BUCKETS];
} bench_hist;

void bench_hist_init(bench_hist *h);
void bench_hist_record(bench_hist *h, uint64_t value);
void bench_hist_merge(bench_hist *into, const bench_hist *from);

/* The value at percentile p (0 < p <= 100), by nearest rank: the smallest recorded value v such
 * that at least p % of the values are <= v, reported as the highest value of v's bucket (never
 * above the exact maximum). 0 when the histogram is empty. */
uint64_t bench_hist_percentile(const bench_hist *h, double p);

double bench_hist_mean(const bench_hist *h);

/* Bucket arithmetic, exposed for the tests: the index of a value and the range an index covers. */
unsigned bench_hist_index(uint64_t value);
void bench_hist_bucket_range(unsigned index, uint64_t *lo, uint64_t *hi);

#endif
