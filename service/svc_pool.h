/*
 * svc_pool: a fixed set of worker threads pulling jobs from one bounded FIFO queue.
 *
 * DESIGN (threads)
 *   - svc_pool_submit() is called from the loop thread and never blocks: a full queue (or a
 *     stopping pool) returns -1 at once, and the caller answers 503 without touching libvips.
 *   - Each worker reserves the job's decode memory (svc_admission, may wait), runs
 *     svc_job_run(job), which sends the job back to its loop, and releases the memory; the pool
 *     never frees jobs. A worker calls pl_engine_thread_done() before it exits.
 *   - svc_pool_stop() stops accepting, lets workers finish everything already queued, and joins
 *     them. Counters are atomics: readable from any thread (metrics, /ready, /health).
 */
#ifndef SVC_POOL_H
#define SVC_POOL_H

#include <stdbool.h>

#include "svc_job.h"

typedef struct svc_pool svc_pool;

svc_pool *svc_pool_new(int workers, int capacity);
int svc_pool_submit(svc_pool *p, svc_job *job); /* 0, or -1 if full or stopping */
void svc_pool_stop(svc_pool *p);                /* drain the queue, join the workers */
void svc_pool_free(svc_pool *p);

/* Whether svc_pool_submit would refuse a job now (the same rule: jobs that must wait, not counting
 * those idle workers are about to take, at capacity; or stopping). Loop thread. */
bool svc_pool_full(svc_pool *p);
int svc_pool_depth(const svc_pool *p); /* jobs waiting */
int svc_pool_busy(const svc_pool *p);  /* workers running a job */
int svc_pool_capacity(const svc_pool *p);
int svc_pool_workers(const svc_pool *p);

#endif
