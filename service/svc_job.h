/*
 * svc_job: the plain struct that carries one image request from the loop thread to a worker and
 * back. It holds no h2o object that a worker may touch: the worker reads the inputs, writes the
 * outputs, and sends `msg` to `receiver` (the loop that owns the request).
 *
 * DESIGN (ownership)
 *   - The loop thread allocates the job (svc_job_new), gives it the image bytes, submits it to the
 *     pool, and is the only one to free it (svc_job_free), in the receiver, after the worker has
 *     sent it back.
 *   - The image bytes: either the job's own copy (svc_job_set_input: URL and file sources,
 *     isolation=thread, an h2c upgrade's first request) or, for an upload run by a worker process,
 *     the buffer h2o received the body in, pinned (svc_job_pin_input). h2o writes no more into a
 *     received HTTP/1 body until the answer is sent (it stops reading the socket), nor into an
 *     ended HTTP/2 stream's, and the answer waits for the job; the one way the buffer goes earlier
 *     is the request's disposal (the client left), whose callback calls svc_job_unpin() first:
 *     h2o 2.2.5 disposes an HTTP/1 request before it closes the socket and frees its buffer
 *     (lib/http1.c close_connection), and an HTTP/2 stream's buffer, which h2o would free first
 *     (lib/http2/stream.c), is taken into the request's pool beforehand (svc_conns_hold_body),
 *     where it is freed after the callback. The pool thread
 *     copies pinned bytes into its worker's arena (svc_arena.h) once, between taking the pin and
 *     letting it go (svc_job_copy_input), and never reads them after: svc_job_unpin() revokes a
 *     pin not yet taken (the job is then cancelled) and waits out a copy under way (a few ms at
 *     most).
 *   - `link` is loop-thread-only: it points to a shared allocation in req->pool. If the request
 *     is disposed first (client gone), the dispose callback sets link = NULL and ctl.cancelled = 1;
 *     the receiver then drops the result. ctl.cancelled and pin are the only fields both sides
 *     touch at once (atomics).
 */
#ifndef SVC_JOB_H
#define SVC_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <h2o/multithread.h>

#include "pl_engine.h"

struct svc_req_link;

/* svc_job.pin. NONE: the job owns a copy. HELD: the bytes are in the request's body, free to be
 * copied. COPYING: the pool thread is copying them. DONE: copied, never read again. REVOKED: the
 * request went before the copy began. */
enum { SVC_PIN_NONE = 0, SVC_PIN_HELD, SVC_PIN_COPYING, SVC_PIN_DONE, SVC_PIN_REVOKED };

typedef struct svc_job {
    h2o_multithread_message_t msg; /* zeroed by the worker just before sending */
    h2o_multithread_receiver_t *receiver;
    /* inputs, read-only for the worker */
    const uint8_t *data; /* the image bytes (in in_copy, or pinned in the request's body) */
    size_t data_len;
    const uint8_t *overlay; /* watermarkimage's second image or NULL */
    size_t overlay_len;
    uint8_t *in_copy; /* the job's own copy of data and overlay; NULL when pinned */
    atomic_int pin;   /* SVC_PIN_* (svc_job.c): the only input field both threads touch */
    char *accept;     /* copy of the Accept header or NULL */
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

/* Loop thread: copy the image (and overlay, may be NULL) into the job. 0, or -1 when the memory
 * for it cannot be had. */
int svc_job_set_input(svc_job *job, const uint8_t *data, size_t len, const uint8_t *overlay, size_t overlay_len);

/* Loop thread, isolation=process, a body svc_conns_hold_body() keeps: the job reads the image (and
 * overlay) where they are, in the request's body, which stays until svc_job_unpin() (see DESIGN). */
void svc_job_pin_input(svc_job *job, const uint8_t *data, size_t len, const uint8_t *overlay, size_t overlay_len);

/* Loop thread, before the request's body may be freed: after this the job never reads it (a copy
 * under way is waited for; one not begun never will be, and the job ends cancelled). */
void svc_job_unpin(svc_job *job);

/* Pool thread, once: the image at 0 of the arena and the overlay right after it. The pinned bytes
 * are not read after this returns, and the job's own copy is freed (data and overlay are NULL
 * after it). 0; 1 when the request went before the copy began (answer it cancelled); -1 when
 * the arena cannot hold them. */
struct svc_arena;
int svc_job_copy_input(svc_job *job, struct svc_arena *arena);

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
/* *arena: the pool thread's arena (made here when NULL; freed and set to NULL with *proc after a
 * fault, so that the next worker gets a new one). */
void svc_job_run_isolated(svc_job *job, struct svc_proc **proc, struct svc_arena **arena, const struct svc_proc_config *cfg);

#endif
