/*
 * bench_util: what every part of imgpipe-bench shares: the caller-owned error record and the
 * monotonic clock. Thread-safe (no state).
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdint.h>

#define BENCH_ERROR_MAX 512

/* Filled by a failing function (which then returns -1); message tells the user what to fix. */
typedef struct bench_error {
    char message[BENCH_ERROR_MAX];
} bench_error;

/* printf into err->message (err may be NULL); returns -1 for `return bench_error_set(...)`. */
int bench_error_set(bench_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CLOCK_MONOTONIC in microseconds. */
int64_t bench_now_us(void);

#endif
