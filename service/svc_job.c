/*
 * svc_job: allocation of the request job and the worker-side run (see svc_job.h for the
 * ownership rule). svc_job_run executes on a worker thread and touches only the job.
 */
#include "svc_job.h"

#include <glib.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "svc_metrics.h"

static atomic_ullong inflight_bytes;

void svc_job_hold_bytes(svc_job *job, size_t n)
{
    job->held_bytes += n;
    atomic_fetch_add(&inflight_bytes, n);
}

uint64_t svc_job_inflight_bytes(void)
{
    return atomic_load(&inflight_bytes);
}

svc_job *svc_job_new(void)
{
    return calloc(1, sizeof(svc_job));
}

void svc_job_free(svc_job *job)
{
    if (job == NULL)
        return;
    atomic_fetch_sub(&inflight_bytes, job->held_bytes);
    if (!job->borrowed) {
        free((void *)job->data);
        free((void *)job->overlay);
    }
    free(job->accept);
    pl_result_clear(&job->result);
    free(job);
}

int svc_job_set_input(svc_job *job, const uint8_t *data, size_t len, const uint8_t *overlay, size_t overlay_len)
{
    uint8_t *d = malloc(len ? len : 1), *o = NULL;
    if (d == NULL || (overlay != NULL && (o = malloc(overlay_len ? overlay_len : 1)) == NULL)) {
        free(d);
        return -1;
    }
    if (len)
        memcpy(d, data, len);
    if (o != NULL && overlay_len)
        memcpy(o, overlay, overlay_len);
    job->borrowed = false;
    job->data = d;
    job->data_len = len;
    job->overlay = o;
    job->overlay_len = o != NULL ? overlay_len : 0;
    svc_job_hold_bytes(job, len + job->overlay_len);
    return 0;
}

void svc_job_run(svc_job *job)
{
    job->started_us = g_get_monotonic_time();
    pl_error_clear(&job->err);
    if (atomic_load(&job->ctl.cancelled)) {
        job->rc = pl_error_set(&job->err, PL_E_CANCELLED, "the client went away before processing started");
    } else if (job->ctl.deadline_us != 0 && job->started_us >= job->ctl.deadline_us) {
        job->rc = pl_error_set(&job->err, PL_E_DEADLINE, "processing deadline exceeded while waiting in the queue");
    } else {
        pl_input in = {.data = job->data,
                       .len = job->data_len,
                       .overlay = job->overlay,
                       .overlay_len = job->overlay_len,
                       .accept = job->accept};
        job->rc = pl_run(&job->plan, &in, &job->limits, &job->ctl, &job->result, &job->err);
        if (job->rc == 0) {
            svc_job_hold_bytes(job, job->result.len);
            svc_metrics_stage("decode", job->result.t.decode_ms / 1000.0);
            svc_metrics_stage("process", job->result.t.process_ms / 1000.0);
            svc_metrics_stage("encode", job->result.t.encode_ms / 1000.0);
        }
    }
    svc_metrics_stage("queue", (double)(job->started_us - job->enqueued_us) / 1e6);
    job->finished_us = g_get_monotonic_time();
    atomic_store(&job->finished, 1);
    memset(&job->msg, 0, sizeof(job->msg));
    h2o_multithread_send_message(job->receiver, &job->msg);
}
