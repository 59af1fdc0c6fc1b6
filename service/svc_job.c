/*
 * svc_job: allocation of the request job, its input (a copy, or the request's body pinned, and
 * the pin's hand-over to the pool thread), and the two ways a job runs: in the pool thread itself
 * (isolation=thread, svc_job_run) or through the pool thread's worker process (isolation=process,
 * svc_job_run_isolated, which first copies the input into the thread's arena). See svc_job.h for
 * the ownership rule; both run functions touch only the job and send it back to the loop thread
 * at the end.
 */
#include "svc_job.h"

#include <errno.h>
#include <glib.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
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
#include "svc_proc.h"

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
    svc_job *job = calloc(1, sizeof(svc_job));
    if (job != NULL)
        atomic_init(&job->pin, SVC_PIN_NONE);
    return job;
}

void svc_job_free(svc_job *job)
{
    if (job == NULL)
        return;
    atomic_fetch_sub(&inflight_bytes, job->held_bytes);
    free(job->in_copy);
    free(job->accept);
    pl_result_clear(&job->result);
    free(job);
}

static void input_set(svc_job *job, const uint8_t *data, size_t len, const uint8_t *overlay, size_t overlay_len)
{
    job->data = len > 0 ? data : (const uint8_t *)"";
    job->data_len = len;
    job->overlay = overlay;
    job->overlay_len = overlay != NULL ? overlay_len : 0;
    svc_job_hold_bytes(job, len + job->overlay_len);
    svc_metrics_job_input(len + job->overlay_len);
}

int svc_job_set_input(svc_job *job, const uint8_t *data, size_t len, const uint8_t *overlay, size_t overlay_len)
{
    size_t olen = overlay != NULL ? overlay_len : 0;
    if ((job->in_copy = malloc(len + olen + 1)) == NULL)
        return -1;
    if (len > 0)
        memcpy(job->in_copy, data, len);
    if (olen > 0)
        memcpy(job->in_copy + len, overlay, olen);
    input_set(job, job->in_copy, len, overlay != NULL ? job->in_copy + len : NULL, olen);
    return 0;
}

void svc_job_pin_input(svc_job *job, const uint8_t *data, size_t len, const uint8_t *overlay, size_t overlay_len)
{
    input_set(job, data, len, overlay, overlay_len);
    atomic_store(&job->pin, SVC_PIN_HELD);
}

void svc_job_unpin(svc_job *job)
{
    int held = SVC_PIN_HELD;
    if (atomic_compare_exchange_strong(&job->pin, &held, SVC_PIN_REVOKED))
        return;
    while (atomic_load(&job->pin) == SVC_PIN_COPYING) { /* the copy of one body: ms at most */
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

int svc_job_copy_input(svc_job *job, svc_arena *arena)
{
    int held = SVC_PIN_HELD;
    bool pinned = atomic_load(&job->pin) != SVC_PIN_NONE;
    if (pinned && !atomic_compare_exchange_strong(&job->pin, &held, SVC_PIN_COPYING))
        return 1;
    int rc = svc_arena_put(arena, job->data, job->data_len, job->overlay, job->overlay_len);
    job->data = NULL, job->overlay = NULL;
    if (pinned)
        atomic_store(&job->pin, SVC_PIN_DONE);
    free(job->in_copy);
    job->in_copy = NULL;
    return rc == 0 ? 0 : -1;
}

/* Before running: the job may already be over. Returns 1 (and fills job->err) when it is. */
static int job_over_before_start(svc_job *job)
{
    job->started_us = g_get_monotonic_time();
    pl_error_clear(&job->err);
    if (atomic_load(&job->ctl.cancelled)) {
        job->rc = pl_error_set(&job->err, PL_E_CANCELLED, "the client went away before processing started");
        return 1;
    }
    if (job->ctl.deadline_us != 0 && job->started_us >= job->ctl.deadline_us) {
        job->rc = pl_error_set(&job->err, PL_E_DEADLINE, "processing deadline exceeded while waiting in the queue");
        return 1;
    }
    return 0;
}

static void send_back(svc_job *job)
{
    if (job->rc == 0) {
        svc_job_hold_bytes(job, job->result.len);
        svc_metrics_stage("decode", job->result.t.decode_ms / 1000.0);
        svc_metrics_stage("process", job->result.t.process_ms / 1000.0);
        svc_metrics_stage("encode", job->result.t.encode_ms / 1000.0);
    }
    svc_metrics_stage("queue", (double)(job->started_us - job->enqueued_us) / 1e6);
    job->finished_us = g_get_monotonic_time();
    memset(&job->msg, 0, sizeof(job->msg));
    h2o_multithread_send_message(job->receiver, &job->msg);
}

void svc_job_run(svc_job *job)
{
    uint64_t held = svc_admission_enter(job); /* waits while the memory budget is spent */
    if (!job_over_before_start(job)) {
        atomic_int moved = 0; /* job->data is the job's own copy here, read by nothing else meanwhile */
        pl_input in = {.data = job->data,
                       .len = job->data_len,
                       .overlay = job->overlay,
                       .overlay_len = job->overlay_len,
                       .accept = job->accept,
                       .moved = job->in_copy != NULL ? &moved : NULL};
        job->rc = pl_run(&job->plan, &in, &job->limits, &job->ctl, &job->result, &job->err);
    }
    svc_admission_leave(held);
    send_back(job);
}

/* ---- isolation=process ------------------------------------------------------------------------ */

typedef struct admit_state {
    svc_job *job;
    uint64_t held;
} admit_state;

static int admit(void *arg, uint64_t estimate)
{
    admit_state *a = arg;
    int got = svc_admission_acquire(estimate, &a->job->ctl, &a->held);
    if (job_over_before_start(a->job)) /* fills job->err: deadline or cancel while waiting */
        return -1;
    if (got != 0)
        return pl_error_set(&a->job->err, PL_E_INTERNAL, "memory admission failed");
    return 0;
}

static const char *fault_reason(svc_proc_fault f)
{
    switch (f) {
    case SVC_PROC_CRASHED:
        return "crashed";
    case SVC_PROC_EXITED:
        return "exited";
    case SVC_PROC_KILLED_DEADLINE:
        return "deadline";
    case SVC_PROC_KILLED_CANCEL:
        return "cancelled";
    default:
        return "ok";
    }
}

/* The log line of a lost worker: request, route, signal, and the input's SHA-256 so that the
 * file can be found again (the bytes themselves are not logged). */
static void input_sha256(const svc_arena *arena, size_t len, char hex[2 * SHA256_DIGEST_LENGTH + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH], buf[64 << 10];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    for (size_t off = 0; ok && off < len;) { /* the arena still holds the job's input */
        ssize_t n = svc_arena_read(arena, off, buf, len - off < sizeof(buf) ? len - off : sizeof(buf));
        ok = n > 0 && EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
        off += n > 0 ? (size_t)n : 0;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == SHA256_DIGEST_LENGTH;
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (!ok)
        snprintf(hex, 2 * SHA256_DIGEST_LENGTH + 1, "unknown (the input could not be read back)");
}

static void log_fault(const svc_job *job, const svc_arena *arena, bool moved, svc_proc_fault f, int sig, pid_t pid)
{
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    if (moved)
        snprintf(hex, sizeof(hex), "unknown (the worker had the bytes moved about)");
    else
        input_sha256(arena, job->data_len, hex);
    if (f == SVC_PROC_CRASHED)
        svc_log_printf(SVC_LOG_ERROR,
                       "request %s: worker process %d died of signal %d (%s) on /%s, input %zu bytes sha256 %s; replacing it",
                       job->request_id, (int)pid, sig, strsignal(sig), job->route, job->data_len, hex);
    else if (f == SVC_PROC_EXITED)
        svc_log_printf(SVC_LOG_ERROR,
                       "request %s: worker process %d exited (status %d) mid-job on /%s, input sha256 %s; replacing it",
                       job->request_id, (int)pid, sig, job->route, hex);
    else
        svc_log_printf(SVC_LOG_WARN,
                       "request %s: worker process %d did not stop after its %s; killed, input sha256 %s; replacing it",
                       job->request_id, (int)pid, f == SVC_PROC_KILLED_DEADLINE ? "deadline" : "cancel", hex);
}

static void record_fault(svc_job *job, svc_proc_fault f, int sig)
{
    job->fault = f;
    job->fault_signal = sig;
    pl_result_clear(&job->result);
    if (f == SVC_PROC_KILLED_DEADLINE)
        job->rc =
            pl_error_set(&job->err, PL_E_DEADLINE, "processing deadline exceeded; the image library did not stop and was killed");
    else if (f == SVC_PROC_KILLED_CANCEL)
        job->rc = pl_error_set(&job->err, PL_E_CANCELLED, "the client went away");
    else
        job->rc = pl_error_set(&job->err, PL_E_INTERNAL, "processing this image crashed the image library (%s %d)",
                               f == SVC_PROC_CRASHED ? "signal" : "exit status", sig);
}

/* The pool thread's worker process, started when there is none (or it died). -1 when none can be
 * started: the job is then answered (500) and sent back. */
static int ensure_proc(svc_job *job, svc_proc **proc, const svc_proc_config *cfg)
{
    char errbuf[512];
    if (svc_proc_alive(*proc))
        return 0;
    svc_proc_stop(*proc);
    if ((*proc = svc_proc_start(cfg, errbuf, sizeof(errbuf))) != NULL)
        return 0;
    svc_log_printf(SVC_LOG_ERROR, "request %s: %s", job->request_id, errbuf);
    job->started_us = g_get_monotonic_time();
    job->rc = pl_error_set(&job->err, PL_E_INTERNAL, "no worker process could be started; see the server log");
    send_back(job);
    return -1;
}

/* The job's input in the pool thread's arena (made here the first time). 0, or -1 when the job
 * was answered (cancelled, or no memory) and sent back. */
static int input_to_arena(svc_job *job, svc_arena **arena)
{
    int r = -1;
    if (*arena == NULL && (*arena = svc_arena_new()) == NULL)
        svc_log_printf(SVC_LOG_ERROR, "request %s: no memfd for the input: %s", job->request_id, strerror(errno));
    else if ((r = svc_job_copy_input(job, *arena)) == 0)
        return 0;
    if (r == 1)
        job->rc = pl_error_set(&job->err, PL_E_CANCELLED, "the client went away before processing started");
    else
        job->rc = pl_error_set(&job->err, PL_E_INTERNAL, "the server is out of memory for the image; retry later");
    send_back(job);
    return -1;
}

void svc_job_run_isolated(svc_job *job, svc_proc **proc, svc_arena **arena, const svc_proc_config *cfg)
{
    char errbuf[512];
    if (job_over_before_start(job)) { /* no need to wake the worker */
        send_back(job);
        return;
    }
    if (input_to_arena(job, arena) != 0 || ensure_proc(job, proc, cfg) != 0)
        return;
    admit_state a = {.job = job, .held = 0};
    svc_proc_job pj = {.plan = &job->plan,
                       .limits = &job->limits,
                       .accept = job->accept,
                       .request_id = job->request_id,
                       .fd = svc_arena_fd(*arena),
                       .data_off = 0,
                       .data_len = job->data_len,
                       .overlay_off = job->data_len,
                       .overlay_len = job->overlay_len,
                       .deadline_us = job->ctl.deadline_us,
                       .cancelled = &job->ctl.cancelled,
                       .admit = admit,
                       .admit_arg = &a};
    int rc = -1, sig = 0;
    pid_t pid = svc_proc_pid(*proc);
    svc_proc_fault f = svc_proc_run(*proc, &pj, &rc, &job->result, &job->err, job->mime, sizeof(job->mime), &sig);
    if (f == SVC_PROC_GONE) { /* died while idle (an OOM kill, say): not this job's doing, run it on a new one */
        svc_log_printf(SVC_LOG_WARN, "worker process %d had died while idle; replacing it", (int)pid);
        svc_metrics_worker_exit("exited");
        if (ensure_proc(job, proc, cfg) != 0)
            return;
        pid = svc_proc_pid(*proc);
        f = svc_proc_run(*proc, &pj, &rc, &job->result, &job->err, job->mime, sizeof(job->mime), &sig);
        if (f == SVC_PROC_GONE) /* a new worker gone at once: count it as this job's */
            f = SVC_PROC_EXITED;
    }
    svc_admission_release(a.held);
    if (f != SVC_PROC_OK) {
        svc_metrics_worker_exit(fault_reason(f));
        log_fault(job, *arena, svc_proc_input_moved(*proc), f, sig, pid);
        record_fault(job, f, sig);
        svc_proc_stop(*proc);
        *proc = NULL;
        svc_arena_free(*arena); /* the next worker gets a new one */
        *arena = NULL;
    } else {
        job->rc = rc == 0 ? 0 : -1; /* rc 1: admission gave up, job->err filled by admit() */
    }
    send_back(job); /* the job is the loop thread's from here on */
    if (*proc == NULL && (*proc = svc_proc_start(cfg, errbuf, sizeof(errbuf))) == NULL) /* the replacement, at once */
        svc_log_printf(SVC_LOG_ERROR, "cannot replace a worker process: %s (retried with the next job)", errbuf);
}
