/*
 * svc_admission: the process-wide decode-memory budget (see svc_admission.h for the rules).
 * State: one mutex, one condition variable, the bytes reserved and the number of waiters.
 * Waiters wake on every release and at least every 50 ms to notice a cancel or a deadline.
 */
#include "svc_admission.h"

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "svc_job.h"

#define SVC_ADMISSION_SLICE_US 50000

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t budget;
    _Atomic uint64_t in_use;
    atomic_int waiting;
    int inited;
} adm = {.mu = PTHREAD_MUTEX_INITIALIZER};

void svc_admission_init(uint64_t budget_bytes)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&adm.cv, &ca);
    pthread_condattr_destroy(&ca);
    adm.budget = budget_bytes;
    atomic_store(&adm.in_use, 0);
    atomic_store(&adm.waiting, 0);
    adm.inited = 1;
}

static int gave_up(const pl_control *ctl)
{
    if (ctl == NULL)
        return 0;
    if (atomic_load(&((pl_control *)ctl)->cancelled))
        return 1;
    return ctl->deadline_us != 0 && g_get_monotonic_time() >= ctl->deadline_us;
}

int svc_admission_acquire(uint64_t bytes, const pl_control *ctl, uint64_t *held)
{
    int rc = 0;
    *held = 0;
    if (!adm.inited || adm.budget == 0 || bytes == 0)
        return 0;
    if (bytes > adm.budget)
        bytes = adm.budget; /* alone it may run: the engine's own limits refuse what is truly too big */
    pthread_mutex_lock(&adm.mu);
    atomic_fetch_add(&adm.waiting, 1);
    /* a job that fits, or any job when nothing else holds memory (no deadlock) */
    while (atomic_load(&adm.in_use) + bytes > adm.budget && atomic_load(&adm.in_use) > 0) {
        struct timespec ts;
        if (gave_up(ctl)) {
            rc = -1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += SVC_ADMISSION_SLICE_US * 1000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&adm.cv, &adm.mu, &ts);
    }
    atomic_fetch_sub(&adm.waiting, 1);
    if (rc == 0) {
        atomic_fetch_add(&adm.in_use, bytes);
        *held = bytes;
    }
    pthread_mutex_unlock(&adm.mu);
    return rc;
}

void svc_admission_release(uint64_t held)
{
    if (held == 0)
        return;
    pthread_mutex_lock(&adm.mu);
    atomic_fetch_sub(&adm.in_use, held);
    pthread_cond_broadcast(&adm.cv);
    pthread_mutex_unlock(&adm.mu);
}

uint64_t svc_admission_estimate(pl_op op, const uint8_t *data, size_t len)
{
    if (op == PL_OP_INFO)
        return 0;
    uint64_t b = pl_decode_bytes_estimate(data, len);
    return b > 0 ? b : (uint64_t)len;
}

uint64_t svc_admission_enter(struct svc_job *job)
{
    uint64_t held = 0;
    if (!adm.inited || adm.budget == 0 || atomic_load(&job->ctl.cancelled))
        return 0;
    /* what this plan decodes: one frame of an animation unless the output keeps it */
    pl_input in = {
        .data = job->data, .len = job->data_len, .overlay = job->overlay, .overlay_len = job->overlay_len, .accept = job->accept};
    uint64_t est = job->plan.op == PL_OP_INFO ? 0 : pl_run_estimate(&job->plan, &in, &job->limits);
    if (est == 0 && job->plan.op != PL_OP_INFO)
        est = job->data_len; /* the header does not parse: pl_run will refuse it */
    svc_admission_acquire(est, &job->ctl, &held);
    return held;
}

void svc_admission_leave(uint64_t held)
{
    svc_admission_release(held);
}

uint64_t svc_admission_budget(void)
{
    return adm.budget;
}

uint64_t svc_admission_in_use(void)
{
    return atomic_load(&adm.in_use);
}

int svc_admission_waiting(void)
{
    return atomic_load(&adm.waiting);
}
