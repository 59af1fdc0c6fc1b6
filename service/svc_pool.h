/*
 * svc_pool: a fixed set of pool threads pulling jobs from one bounded FIFO queue. With
 * isolation=process each pool thread drives one sandboxed worker process (svc_proc) and the job
 * runs there; with isolation=thread it runs in the pool thread itself.
 *
 * Admission by predicted wait: a job is admitted while the wait it would see, predicted from a
 * running average of recent job times ((jobs queued + jobs running) x average / pool threads),
 * stays within max_wait_us, and while the queue holds fewer than `capacity` jobs (a hard cap on
 * the bodies held). A burst of short jobs is queued and served; a real overload is refused with
 * 503 at once instead of queueing work that would pass its deadline.
 *
 * DESIGN (threads)
 *   - svc_pool_submit() is called from the loop thread and never blocks: a refused job (wait too
 *     long, queue full, stopping) returns -1 at once, and the caller answers 503.
 *   - Each pool thread runs svc_job_run (thread) or svc_job_run_isolated (process), which reserve
 *     the job's decode memory (svc_admission, may wait), run it and send it back to its loop; the
 *     pool never frees jobs. A pool thread owns its worker process: it alone starts, drives,
 *     recycles (after max_jobs jobs or above max_rss) and stops it.
 *   - svc_pool_stop() stops accepting, lets the threads finish everything already queued, stops
 *     the worker processes and joins the threads. Counters are atomics: readable from any thread.
 */
#ifndef SVC_POOL_H
#define SVC_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "svc_job.h"
#include "svc_proc.h"

typedef struct svc_pool svc_pool;

/* iso NULL: isolation=thread. Returns NULL with a message in errbuf when the threads or the
 * worker processes cannot start. max_wait_us 0: no wait-based refusal (count cap only). */
svc_pool *svc_pool_new(int workers, int capacity, int64_t max_wait_us, const svc_proc_config *iso, char *errbuf, size_t errlen);
int svc_pool_submit(svc_pool *p, svc_job *job); /* 0, or -1 if refused */
void svc_pool_stop(svc_pool *p);                /* drain the queue, join the threads */
void svc_pool_free(svc_pool *p);

/* Whether svc_pool_submit would refuse a job now (the same rule). Loop thread. */
bool svc_pool_full(svc_pool *p);

/* Does the pool run jobs in worker processes (svc_job_run_isolated: the input is copied into an
 * arena first, so a job may point into the request's body)? Any thread. */
bool svc_pool_isolated(const svc_pool *p);
int svc_pool_depth(const svc_pool *p); /* jobs waiting */
int svc_pool_busy(const svc_pool *p);  /* pool threads running a job */
int svc_pool_capacity(const svc_pool *p);
int svc_pool_workers(const svc_pool *p);
int64_t svc_pool_predicted_wait_us(svc_pool *p); /* what a job submitted now would wait */
uint64_t svc_pool_worker_rss(const svc_pool *p); /* sum of the worker processes' RSS after their last job */

#endif
