/*
 * svc_pool: bounded job queue (a ring of pointers under one mutex), the pool threads, and the
 * admission rule by predicted wait. See svc_pool.h for the thread rules. Pool threads block
 * SIGTERM/SIGINT so that those signals are handled by the main (loop) thread.
 *
 * The average job time is an exponentially weighted mean (weight 1/8) of the time each job held
 * its pool thread, seeded with 100 ms so that the first burst after start is judged by a
 * plausible cost rather than by zero.
 *
 * Memory: the engine keeps freed image buffers in malloc's arenas while requests flow
 * (pl_engine_tune_malloc), and so does this process for the uploads when worker processes
 * decode. When the pool has been idle for IDLE_TRIM_S after some work, the thread that notices
 * hands them back (pl_engine_release_memory). Worker processes do the same on their own
 * (svc_worker.c).
 */
#include "svc_pool.h"

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svc_admission.h"
#include "svc_arena.h"
#include "svc_crash.h"
#include "svc_log.h"
#include "svc_metrics.h"

typedef struct pool_thread {
    struct svc_pool *pool;
    pthread_t tid;
    svc_proc *proc;   /* isolation=process: owned by this thread */
    svc_arena *arena; /* isolation=process: its worker's input (svc_arena.h), made at the first job */
    _Atomic uint64_t rss;
} pool_thread;

struct svc_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    svc_job **ring;
    int cap, ring_size, head, count; /* ring_size = cap + workers */
    int waiting;                     /* threads blocked in cond_wait (a woken one counts until it holds the lock) */
    int stopping;
    int ran_since_trim; /* a job ran since the memory was last handed back */
    int n_threads, n_started, n_failed;
    char start_error[512];
    pool_thread *threads;
    const svc_proc_config *iso;
    int64_t max_wait_us;
    atomic_int depth, busy;
    _Atomic int64_t avg_job_us;
};

enum { IDLE_TRIM_S = 1, AVG_SEED_US = 100000 };

/* With p->mu held and nothing queued: wait for a job. The last thread to go
 * idle after some work waits at most IDLE_TRIM_S; if nothing came meanwhile, it releases the
 * engine's memory (outside the lock) and goes back to waiting. */
static void thread_wait(svc_pool *p)
{
    p->waiting++;
    if (!p->ran_since_trim || atomic_load(&p->busy) != 0) {
        pthread_cond_wait(&p->cv, &p->mu);
        p->waiting--;
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += IDLE_TRIM_S;
    int r = pthread_cond_timedwait(&p->cv, &p->mu, &until);
    p->waiting--;
    if (r == ETIMEDOUT && p->count == 0 && !p->stopping && p->ran_since_trim && atomic_load(&p->busy) == 0) {
        p->ran_since_trim = 0;
        pthread_mutex_unlock(&p->mu);
        pl_engine_release_memory();
        pthread_mutex_lock(&p->mu);
    }
}

static void record_job_time(svc_pool *p, int64_t us)
{
    int64_t avg = atomic_load(&p->avg_job_us);
    atomic_store(&p->avg_job_us, avg + (us - avg) / 8);
}

/* isolation=process: replace the worker between jobs when it has run enough or grown too big. */
static void maybe_recycle(pool_thread *t)
{
    const svc_proc_config *c = t->pool->iso;
    char errbuf[512];
    if (t->proc == NULL)
        return;
    uint64_t rss = svc_proc_rss(t->proc);
    atomic_store(&t->rss, rss);
    if ((c->max_jobs > 0 && svc_proc_jobs(t->proc) >= c->max_jobs) || (c->max_rss > 0 && rss > c->max_rss)) {
        svc_log_printf(SVC_LOG_INFO, "worker process %d replaced after %d jobs at %llu MB resident", (int)svc_proc_pid(t->proc),
                       svc_proc_jobs(t->proc), (unsigned long long)(rss >> 20));
        svc_metrics_worker_exit("recycled");
        svc_proc_stop(t->proc);
        svc_arena_free(t->arena); /* a new worker, a new arena */
        t->arena = NULL;
        if ((t->proc = svc_proc_start(c, errbuf, sizeof(errbuf))) == NULL)
            svc_log_printf(SVC_LOG_ERROR, "cannot replace a worker process: %s (retried with the next job)", errbuf);
    }
}

static void *thread_main(void *arg)
{
    pool_thread *t = arg;
    svc_pool *p = t->pool;
    if (p->iso != NULL) {
        char errbuf[512];
        t->proc = svc_proc_start(p->iso, errbuf, sizeof(errbuf));
        pthread_mutex_lock(&p->mu);
        if (t->proc == NULL && p->n_failed++ == 0)
            snprintf(p->start_error, sizeof(p->start_error), "%s", errbuf);
        p->n_started++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    for (;;) {
        svc_job *job;
        pthread_mutex_lock(&p->mu);
        while (p->count == 0 && !p->stopping)
            thread_wait(p);
        if (p->count == 0) { /* stopping and empty */
            pthread_mutex_unlock(&p->mu);
            break;
        }
        job = p->ring[p->head];
        p->head = (p->head + 1) % p->ring_size;
        p->count--;
        p->ran_since_trim = 1;
        atomic_store(&p->depth, p->count);
        atomic_fetch_add(&p->busy, 1);
        pthread_mutex_unlock(&p->mu);
        int64_t t0 = g_get_monotonic_time();
        svc_crash_set_request(job->request_id);
        if (p->iso != NULL)
            svc_job_run_isolated(job, &t->proc, &t->arena, p->iso); /* sends the job back: do not touch it after this */
        else
            svc_job_run(job);
        svc_crash_set_request("");
        record_job_time(p, g_get_monotonic_time() - t0);
        if (p->iso != NULL)
            maybe_recycle(t);
        atomic_fetch_sub(&p->busy, 1);
    }
    svc_arena_free(t->arena);
    t->arena = NULL;
    if (t->proc != NULL) {
        svc_proc_stop(t->proc);
        t->proc = NULL;
    } else {
        pl_engine_thread_done(); /* isolation=thread: this thread ran libvips */
    }
    return NULL;
}

svc_pool *svc_pool_new(int workers, int capacity, int64_t max_wait_us, const svc_proc_config *iso, char *errbuf, size_t errlen)
{
    svc_pool *p = calloc(1, sizeof(*p));
    sigset_t block, old;
    if (p == NULL)
        return NULL;
    p->cap = capacity;
    p->ring_size = capacity + workers;
    p->iso = iso;
    p->max_wait_us = max_wait_us;
    atomic_init(&p->avg_job_us, AVG_SEED_US);
    p->ring = calloc((size_t)p->ring_size, sizeof(*p->ring)); /* queue + jobs idle threads are taking */
    p->threads = calloc((size_t)workers, sizeof(*p->threads));
    if (p->ring == NULL || p->threads == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* thread_wait's timeout */
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < workers; i++) {
        p->threads[i].pool = p;
        if (pthread_create(&p->threads[i].tid, NULL, thread_main, &p->threads[i]) != 0)
            break;
        p->n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->n_threads != workers) {
        snprintf(errbuf, errlen, "cannot start %d pool threads", workers);
        svc_pool_stop(p);
        goto fail;
    }
    if (iso != NULL) { /* every worker process up and sandboxed, or a clear error */
        pthread_mutex_lock(&p->mu);
        while (p->n_started < p->n_threads)
            pthread_cond_wait(&p->cv, &p->mu);
        int failed = p->n_failed;
        pthread_mutex_unlock(&p->mu);
        if (failed) {
            snprintf(errbuf, errlen,
                     "%d of %d worker processes did not start: %s (--isolation thread serves without them, with no "
                     "crash containment)",
                     failed, workers, p->start_error);
            svc_pool_stop(p);
            goto fail;
        }
    }
    return p;
fail:
    free(p->ring);
    free(p->threads);
    free(p);
    return NULL;
}

static int64_t predicted_wait(const svc_pool *p)
{
    int ahead = p->count - p->waiting + atomic_load(&((svc_pool *)p)->busy);
    if (ahead <= 0)
        return 0;
    return (int64_t)ahead * atomic_load(&((svc_pool *)p)->avg_job_us) / (p->n_threads > 0 ? p->n_threads : 1);
}

/* capacity = jobs that must wait: a job an idle thread is about to take does not count, so a
 * burst on an idle pool is not refused before the threads wake up. With p->mu held. */
static bool pool_has_room(const svc_pool *p)
{
    if (p->stopping || p->count - p->waiting >= p->cap || p->count >= p->ring_size)
        return false;
    return p->max_wait_us <= 0 || predicted_wait(p) <= p->max_wait_us;
}

bool svc_pool_isolated(const svc_pool *p)
{
    return p->iso != NULL;
}

bool svc_pool_full(svc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    bool full = !pool_has_room(p);
    pthread_mutex_unlock(&p->mu);
    return full;
}

int64_t svc_pool_predicted_wait_us(svc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int64_t w = predicted_wait(p);
    pthread_mutex_unlock(&p->mu);
    return w;
}

int svc_pool_submit(svc_pool *p, svc_job *job)
{
    int rc = -1;
    pthread_mutex_lock(&p->mu);
    if (pool_has_room(p)) {
        p->ring[(p->head + p->count) % p->ring_size] = job;
        p->count++;
        atomic_store(&p->depth, p->count);
        pthread_cond_signal(&p->cv);
        rc = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void svc_pool_stop(svc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i].tid, NULL);
    p->n_threads = 0;
}

void svc_pool_free(svc_pool *p)
{
    if (p == NULL)
        return;
    svc_pool_stop(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->ring);
    free(p->threads);
    free(p);
}

int svc_pool_depth(const svc_pool *p)
{
    return atomic_load(&((svc_pool *)p)->depth);
}

int svc_pool_busy(const svc_pool *p)
{
    return atomic_load(&((svc_pool *)p)->busy);
}

int svc_pool_capacity(const svc_pool *p)
{
    return p->cap;
}

int svc_pool_workers(const svc_pool *p)
{
    return p->n_threads;
}

uint64_t svc_pool_worker_rss(const svc_pool *p)
{
    uint64_t sum = 0;
    for (int i = 0; i < p->n_threads; i++)
        sum += atomic_load(&p->threads[i].rss);
    return sum;
}
