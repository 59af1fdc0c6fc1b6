/*
 * bench_hist: the log-bucketed histogram (see bench_hist.h for the layout and its precision).
 * Index of v: with m = the position of v's highest set bit, values with m < SUB_BITS map to
 * themselves (exact); otherwise shift = m - SUB_BITS + 1 and index = shift * HALF + (v >> shift),
 * where v >> shift lies in [HALF, 2 * HALF). Consecutive shifts therefore tile the index range.
 */
#include "bench_hist.h"

#include <string.h>

void bench_hist_init(bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned bench_hist_index(uint64_t value)
{
    if (value < (1u << BENCH_HIST_SUB_BITS))
        return (unsigned)value;
    unsigned msb = 63u - (unsigned)__builtin_clzll(value);
    unsigned shift = msb - BENCH_HIST_SUB_BITS + 1;
    return shift * BENCH_HIST_HALF + (unsigned)(value >> shift);
}

void bench_hist_bucket_range(unsigned index, uint64_t *lo, uint64_t *hi)
{
    if (index < (1u << BENCH_HIST_SUB_BITS)) {
        *lo = *hi = index;
        return;
    }
    unsigned shift = index / BENCH_HIST_HALF - 1;
    uint64_t sub = index - shift * BENCH_HIST_HALF;
    *lo = sub << shift;
    *hi = *lo + ((uint64_t)1 << shift) - 1;
}

void bench_hist_record(bench_hist *h, uint64_t value)
{
    h->buckets[bench_hist_index(value)]++;
    h->count++;
    h->sum += (double)value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
    if (from->count == 0)
        return;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t bench_hist_percentile(const bench_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    double want = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            bench_hist_bucket_range(i, &lo, &hi);
            if (hi > h->max)
                hi = h->max;
            if (hi < h->min)
                hi = h->min;
            return hi;
        }
    }
    return h->max;
}

double bench_hist_mean(const bench_hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
