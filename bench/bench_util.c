/*
 * bench_util: the error record and the clock (see bench_util.h).
 */
#include "bench_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int bench_error_set(bench_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return -1;
}

int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
