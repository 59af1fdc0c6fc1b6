/*
 * svc_admission: admission control by memory. One process-wide budget of decode memory (bytes)
 * shared by every request in flight: before a worker runs a job it reserves the job's estimate
 * (pl_probe's decode_bytes: width x height x bands x bytes per band x frames, read from the
 * header) and releases it when pl_run returns. When the budget is spent the worker waits, so
 * further jobs wait in the bounded queue and, once it is full, new requests get 503 at once
 * (svc_pool). An estimate larger than the whole budget is clamped to it: such a job runs alone.
 * A waiting job gives up when its deadline passes (then answered 504 as any queue wait) or its
 * client goes away.
 *
 * DESIGN (threads): svc_admission_init() once at startup from the main thread, before the
 * workers start; every other call from any thread (a mutex and a condition variable; counters
 * readable without the lock for metrics). svc_admission_enter/leave are called by the worker
 * that runs the job, around svc_job_run().
 */
#ifndef SVC_ADMISSION_H
#define SVC_ADMISSION_H

#include <stdint.h>

#include "pl_engine.h"

/* budget_bytes = 0: no memory admission (enter never waits). */
void svc_admission_init(uint64_t budget_bytes);

/* Reserve bytes (clamped to the budget), waiting while the budget is spent, until ctl is
 * cancelled or ctl->deadline_us passes (ctl may be NULL: wait for as long as it takes).
 * Returns 0 with *held = the bytes reserved (0 when admission is off), or -1 with *held = 0. */
int svc_admission_acquire(uint64_t bytes, const pl_control *ctl, uint64_t *held);
void svc_admission_release(uint64_t held);

/* The estimate for one image: pl_probe's decode_bytes; when the header does not parse, the
 * body length (pl_run will refuse it without decoding). /info reads only the header: 0. */
uint64_t svc_admission_estimate(pl_op op, const uint8_t *data, size_t len);

/* Worker side, around svc_job_run(job): estimate, then acquire with the job's control. Returns
 * the bytes held (pass them to svc_admission_leave after svc_job_run returns, the job may be
 * freed by then). On a deadline or cancel while waiting, returns 0 and leaves the job as it is:
 * svc_job_run then answers 504 (deadline passed in the queue) or drops it (cancelled). */
struct svc_job;
uint64_t svc_admission_enter(struct svc_job *job);
void svc_admission_leave(uint64_t held);

/* For metrics and /health: the budget, the bytes reserved now, jobs waiting for memory. */
uint64_t svc_admission_budget(void);
uint64_t svc_admission_in_use(void);
int svc_admission_waiting(void);

#endif
