/*
 * svc_job: the plain struct that carries one image request from the loop thread to a worker and
 * back. It holds no h2o object that a worker may touch: the worker reads the inputs, writes the
 * outputs, and sends `msg` to `receiver` (the loop that owns the request).
 *
 * DESIGN (ownership)
 *   - The loop thread allocates the job (svc_job_new), gives it the image bytes, submits it to the
 *     pool, and is the only one to free it (svc_job_free), in the receiver, after the worker has
 *     sent it back.
 *   - The image bytes are in a memfd that the job owns a descriptor of: the upload (and overlay)
 *     is copied into it once with write(), on the loop thread (svc_job_set_input). `data`/`overlay`
 *     point into a read-only mapping of it. A worker thread reads the mapping (isolation=thread);
 *     a worker process gets the fd and maps it itself (isolation=process). The job holds the
 *     memfd, not h2o's buffer, so h2o may free the request at any moment. h2o writes no more into
 *     a received body's buffer until the answer is sent (HTTP/1 stops reading; an HTTP/2 stream's
 *     body is complete), and the answer waits for the job.
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
    const uint8_t *data; /* the image bytes (in in_map) */
    size_t data_len;
    const uint8_t *overlay; /* watermarkimage's second image (in in_map, after data) or NULL */
    size_t overlay_len;
    int in_fd;                      /* memfd holding data and overlay; -1 before svc_job_set_input(_fd) */
    uint64_t data_off, overlay_off; /* where they are in in_fd */
    void *in_map;                   /* read-only mapping of in_fd, over data and overlay */
    size_t in_map_len;
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
    char mime[128];   /* result.mime points here when the result came from a worker process */
    int fault;        /* svc_proc_fault of the worker process that ran the job (0 = none) */
    int fault_signal; /* its signal (crash) or exit status */
    int64_t started_us, finished_us;
    /* loop thread only */
    struct svc_req_link *link;
    uint64_t bytes_in;
    int64_t received_us;
    size_t held_bytes; /* counted in svc_job_inflight_bytes() until freed */
} svc_job;

svc_job *svc_job_new(void);
void svc_job_free(svc_job *job); /* frees inputs and any result still held */

/* Loop thread: copy the image (and overlay, may be NULL) into the job's memfd. 0, or -1 when the
 * memory for it cannot be had. */
int svc_job_set_input(svc_job *job, const uint8_t *data, size_t len, const uint8_t *overlay, size_t overlay_len);

/* Account bytes a job holds (inputs copied, result produced); read by /metrics. Any thread. */
void svc_job_hold_bytes(svc_job *job, size_t n);
uint64_t svc_job_inflight_bytes(void);

/* Worker thread side (isolation=thread): reserve memory, run the plan in this thread (or fail
 * with deadline/cancelled), release, then send the job back. */
void svc_job_run(svc_job *job);

/* Pool thread side (isolation=process): the same through the worker process *proc (started here
 * when NULL or dead; freed and set to NULL when it died or was killed, so the caller starts the
 * next one). Always sends the job back. */
struct svc_proc;
struct svc_proc_config;
void svc_job_run_isolated(svc_job *job, struct svc_proc **proc, const struct svc_proc_config *cfg);

#endif
