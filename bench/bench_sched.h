/*
 * bench_sched: the open-loop (constant arrival rate) schedule, as pure functions of time.
 *
 * Request i (counting from 0) is due at start + i / rate seconds, whether or not the server has
 * answered the earlier ones. The load generator sends every due request and measures its latency
 * from this intended time, not from when it could actually be sent, so a server that stalls
 * cannot hide the queue it builds (coordinated omission). Times are in microseconds.
 * No state, no threads: safe anywhere.
 */
#ifndef BENCH_SCHED_H
#define BENCH_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* Intended send time of request i at rate requests/s (rate > 0). */
int64_t bench_sched_intended_us(int64_t start_us, double rate, uint64_t i);

/* How many requests are due at time now_us (those with intended time <= now_us); 0 before start. */
uint64_t bench_sched_due(int64_t start_us, double rate, int64_t now_us);

/* Fill out[] with the intended times of the requests due in [from_us, to_us) for a schedule
 * starting at start_us, at most cap of them. Returns how many were written to *n. Returns 0, or
 * -1 when rate <= 0 or the window is empty the wrong way round. */
int bench_sched_window(int64_t start_us, double rate, int64_t from_us, int64_t to_us, int64_t *out, size_t cap, size_t *n);

#endif
