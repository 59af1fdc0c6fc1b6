/*
 * svc_pool: bounded job queue (a ring of pointers under one mutex) and the worker threads.
 * See svc_pool.h for the thread rules. Workers block SIGTERM/SIGINT so that those signals are
 * handled by the main (loop) thread.
 *
 * Memory: the engine keeps freed image buffers in malloc's arenas while requests flow (no page
 * faults per request: pl_engine_init). When the pool has been idle for IDLE_TRIM_S after some
 * work, the worker that notices hands them back (pl_engine_release_memory), so an idle server
 * goes back to its resting RSS.

 */
#include "svc_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "svc_admission.h"
#include "svc_crash.h"

struct svc_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    svc_job **ring;
    int cap, ring_size, head, count; /* ring_size = cap + workers */
    int waiting;                     /* workers blocked in cond_wait (a woken one counts until it holds the lock) */
    int stopping;
    int ran_since_trim; /* a job ran since the memory was last handed back */
    int n_threads;
    pthread_t *threads;
    atomic_int depth, busy;
};

enum { IDLE_TRIM_S = 1 };

/* With p->mu held and nothing queued: wait for a job. The last worker to go idle after some
 * work waits at most IDLE_TRIM_S; if nothing came meanwhile, it releases the engine's memory
 * (outside the lock) and goes back to waiting. */
static void worker_wait(svc_pool *p)
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

static void *worker_main(void *arg)
{
    svc_pool *p = arg;
    for (;;) {
        svc_job *job;
        pthread_mutex_lock(&p->mu);
        while (p->count == 0 && !p->stopping)
            worker_wait(p);
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
        svc_crash_set_request(job->request_id);
        uint64_t held = svc_admission_enter(job); /* waits while the memory budget is spent */
        svc_job_run(job);                         /* sends the job back: do not touch it after this */
        svc_admission_leave(held);
        svc_crash_set_request("");
        atomic_fetch_sub(&p->busy, 1);
    }
    pl_engine_thread_done();
    return NULL;
}

svc_pool *svc_pool_new(int workers, int capacity)
{
    svc_pool *p = calloc(1, sizeof(*p));
    sigset_t block, old;
    if (p == NULL)
        return NULL;
    p->cap = capacity;
    p->ring_size = capacity + workers;
    p->ring = calloc((size_t)p->ring_size, sizeof(*p->ring)); /* queue + jobs idle workers are taking */
    p->threads = calloc((size_t)workers, sizeof(*p->threads));
    if (p->ring == NULL || p->threads == NULL)
        goto fail;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* worker_wait's timeout */
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            break;
        p->n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->n_threads != workers) {
        svc_pool_stop(p);
        goto fail;
    }
    return p;
fail:
    free(p->ring);
    free(p->threads);
    free(p);
    return NULL;
}

/* capacity = jobs that must wait: a job an idle worker is about to take does not count, so a
 * burst on an idle pool is not refused before the workers wake up. With p->mu held. */
static bool pool_has_room(const svc_pool *p)
{
    return !p->stopping && p->count - p->waiting < p->cap && p->count < p->ring_size;
}

bool svc_pool_full(svc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    bool full = !pool_has_room(p);
    pthread_mutex_unlock(&p->mu);
    return full;
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
        pthread_join(p->threads[i], NULL);
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
