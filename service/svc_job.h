/*
 * svc_job: the plain struct that carries one image request from the loop thread to a worker and
 * back. It holds no h2o object that a worker may touch: the worker reads the inputs, writes the
 * outputs, and sends `msg` to `receiver` (the loop that owns the request).
 *
 * DESIGN (ownership)
 *   - The loop thread allocates the job (svc_job_new), gives it the image bytes, submits it to the
 *     pool, and is the only one to free it (svc_job_free), in the receiver, after the worker has
 *     sent it back.
 *   - The image bytes: HTTP/1 requests lend theirs (`borrowed`): h2o 2.2 keeps an HTTP/1
 *     request's entity in the connection's input buffer until the answer to it has been written,
 *     stops reading the socket and arms no timer meanwhile, and every answer to an image request
 *     is sent by the receiver after the worker is done (client gone: 499, deadline: 504). HTTP/2
 *     streams can be reset and freed by the client at any moment, so those bytes are copied.
 *   - `link` is loop-thread-only: it points to a shared allocation in req->pool. If the request
 *     is disposed first (client gone), the dispose callback sets link = NULL and ctl.cancelled = 1;
 *     the receiver then drops the result. ctl.cancelled is the only field both sides touch at
 *     once (atomic).
 */
#ifndef SVC_JOB_H
#define SVC_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <h2o/multithread.h>

#include "pl_engine.h"

struct svc_req_link;

typedef struct svc_job {
    h2o_multithread_message_t msg; /* zeroed by the worker just before sending */
    h2o_multithread_receiver_t *receiver;
    /* inputs, read-only for the worker */
    const uint8_t *data; /* the image bytes */
    size_t data_len;
    const uint8_t *overlay; /* watermarkimage's second image or NULL */
    size_t overlay_len;
    bool borrowed;        /* data/overlay point into the HTTP/1 request: not the job's to free */
    atomic_int finished;  /* set by the worker just before it sends the job back */
    char *accept; /* copy of the Accept header or NULL */
    pl_plan plan;
    pl_limits limits;
    pl_control ctl;
    char request_id[72];
    const char *route;   /* static string: the operation name */
    int64_t enqueued_us; /* g_get_monotonic_time() */
    /* outputs: written by the worker before sending */
    int rc;
    pl_result result;
    pl_error err;
    int64_t started_us, finished_us;
    /* loop thread only */
    struct svc_req_link *link;
    uint64_t bytes_in;
    int64_t received_us;
    size_t held_bytes; /* counted in svc_job_inflight_bytes() until freed */
} svc_job;

svc_job *svc_job_new(void);
void svc_job_free(svc_job *job); /* frees inputs and any result still held */

/* Give the job its own copy of the image bytes (and of the overlay, when overlay is not NULL);
 * the copies are counted in svc_job_inflight_bytes(). Returns 0, or -1 when memory runs out
 * (the job then holds nothing). Loop thread, before submitting. */
int svc_job_set_input(svc_job *job, const uint8_t *data, size_t len, const uint8_t *overlay, size_t overlay_len);

/* Account bytes a job holds (inputs copied, result produced); read by /metrics. Any thread. */
void svc_job_hold_bytes(svc_job *job, size_t n);
uint64_t svc_job_inflight_bytes(void);

/* Worker side: run the plan (or fail with deadline/cancelled), then send the job back. */
void svc_job_run(svc_job *job);

#endif
