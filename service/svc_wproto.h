/*
 * svc_wproto: the messages between a pool thread (svc_proc.c) and its worker process
 * (svc_worker.c), over one AF_UNIX SOCK_SEQPACKET socket pair: one message per send, file
 * descriptors passed with SCM_RIGHTS. Both ends are the same binary, so the structs are sent as
 * they are (plain values: no pointers cross).
 *
 * Once, at start: worker -> pool WP_READY (a wp_go) when libvips is up and the sandbox is on.
 * One job, in order:
 *   pool   -> worker  WP_JOB       the plan, limits, deadline, request id, Accept header (after the
 *                                  struct), and the input's fd (the sender's arena: svc_arena.h)
 *   worker -> pool    WP_ESTIMATE  the decode memory this plan will need (from the header only)
 *   pool   -> worker  WP_GO        admission granted; or WP_STOP (deadline/cancel while waiting):
 *                                  the worker drops the job and waits for the next one
 *   worker -> pool    WP_RESULT    rc, pl_error, the result's facts, and its bytes as a memfd
 * Cancel and deadline travel through a shared page (svc_wproto_ctl) that both ends map: the pool
 * thread sets ctl.cancelled, the engine's eval callback in the worker reads it.
 */
#ifndef SVC_WPROTO_H
#define SVC_WPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pl_engine.h"

enum { WP_JOB = 1, WP_ESTIMATE, WP_GO, WP_STOP, WP_RESULT, WP_READY };

#define WP_ACCEPT_MAX 2048 /* longer Accept headers are cut: only type=auto reads them */
#define WP_MIME_MAX 128

/* The page both ends map (a memfd made by the pool side, fd 4 in the worker). */
typedef struct svc_wproto_ctl {
    pl_control ctl;         /* cancelled: set by the pool thread; deadline_us: set with each job */
    atomic_int input_moved; /* set by the worker while its engine has the input's bytes moved about
                             * (pl_input.moved); read by the pool thread only after the worker is gone */
} svc_wproto_ctl;

typedef struct wp_job {
    uint32_t type; /* WP_JOB */
    uint32_t accept_len;
    uint64_t data_off, data_len;       /* in the passed fd */
    uint64_t overlay_off, overlay_len; /* overlay_len 0: none */
    int64_t deadline_us;               /* CLOCK_MONOTONIC µs (g_get_monotonic_time), 0 = none */
    uint32_t want_estimate;            /* 1: send WP_ESTIMATE and wait for WP_GO / WP_STOP */
    char request_id[72];
    pl_plan plan;
    pl_limits limits;
    char accept[WP_ACCEPT_MAX]; /* only accept_len bytes are sent */
} wp_job;

typedef struct wp_estimate {
    uint32_t type; /* WP_ESTIMATE */
    uint64_t bytes;
} wp_estimate;

typedef struct wp_go {
    uint32_t type; /* WP_GO or WP_STOP */
} wp_go;

typedef struct wp_result {
    uint32_t type; /* WP_RESULT */
    int32_t rc;
    pl_error err;
    int32_t format, in_format;
    int32_t width, height, in_width, in_height;
    int32_t frames_in, frames_out;
    uint32_t vary_accept;
    pl_timings t;
    uint64_t len; /* bytes in the passed memfd; 0: no fd */
    char mime[WP_MIME_MAX];
} wp_result;

/* Send one message with an optional fd (-1: none). Returns 0 or -1 (errno set). */
int svc_wproto_send(int sock, const void *msg, size_t len, int fd);

/* Receive one message of at most cap bytes; *fd gets a passed fd or -1 (fd may be NULL: any
 * passed fd is closed). Returns the message length, 0 when the peer closed, -1 on error. */
ssize_t svc_wproto_recv(int sock, void *msg, size_t cap, int *fd);

/* A new memfd holding a copy of the bytes (one write), or -1. name shows in /proc/<pid>/fd. */
int svc_wproto_memfd(const char *name, const void *a, size_t alen, const void *b, size_t blen);

#endif
