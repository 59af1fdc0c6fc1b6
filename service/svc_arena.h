/*
 * svc_arena: the memfd through which one pool thread (or one batch worker) hands image bytes to
 * its worker process, kept from job to job.
 *
 * Why kept: on the test VM a page first written or mapped through a new page-table entry costs
 * about 5 us, so a new memfd per job (written, then mapped populated by the worker) cost a 3 MB
 * upload about 1.5 ms of CPU on both sides (docs/performance.md). An arena's pages stay: the
 * owner writes the next job over the last with pwrite(), and the worker keeps its mapping of the
 * arena (svc_worker.c maps an arena again only when it is a new file or grew past its mapping).
 *
 * Layout: the image at offset 0, the overlay (watermarkimage) right after it. The file grows to
 * what a job needs (in whole MiB) and is cut back when it is over 4 x what the last job needed and
 * over 8 MiB, so one large upload does not pin its size for good.
 *
 * Isolation: an arena belongs to one pool thread and is seen by that thread's worker only. The
 * owner makes a new one when it replaces its worker after a fault or a recycle, so a new worker
 * does not see what the old one was given; a worker found dead before a job reached it is
 * replaced on the same arena, which already holds that job (svc_job.c, svc_pool.c).
 *
 * Thread rule: the owner's thread only. The worker process reads it, never at the same time as a
 * pwrite (one job at a time).
 */
#ifndef SVC_ARENA_H
#define SVC_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct svc_arena svc_arena;

/* A new, empty arena; NULL (errno set) when no memfd can be made. */
svc_arena *svc_arena_new(void);
void svc_arena_free(svc_arena *a); /* NULL is fine */

/* Write data at 0 and overlay (may be NULL) right after it, sizing the file first. 0, or -1 with
 * errno (ENOMEM, ENOSPC: the memory for it cannot be had). */
int svc_arena_put(svc_arena *a, const void *data, size_t len, const void *overlay, size_t overlay_len);

/* The memfd, to pass to the worker with each job. */
int svc_arena_fd(const svc_arena *a);

/* Read back up to n bytes at off (the log line of a crashed job); bytes read or -1. */
ssize_t svc_arena_read(const svc_arena *a, uint64_t off, void *buf, size_t n);

#endif
