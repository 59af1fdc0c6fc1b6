/*
 * batch_progress: the progress line and the end summary of `imgpipe batch`, on stderr.
 * Main thread only; reads the run's atomic counters; writes under run->err_lock.
 */
#ifndef BATCH_PROGRESS_H
#define BATCH_PROGRESS_H

#include "batch_run.h"

/* One progress update: on a terminal the line is redrawn in place, otherwise a plain line. */
void batch_progress_show(batch_run *run);

/* Clear a progress line left on a terminal. */
void batch_progress_clear(batch_run *run);

/* The end summary: images, failures, skipped, not started, bytes in/out, wall time, images/s. */
void batch_progress_summary(batch_run *run, bool interrupted);

/* libvips' warnings (GLib domain VIPS) on stderr as "imgpipe batch: PATH: warning: TEXT", PATH the
 * file being processed, under run->err_lock. Call once, after pl_engine_init, before the workers. */
void batch_log_capture(batch_run *run);

/* The file the calling worker thread is processing (NULL when done): names the file in warnings.
 * Any thread. */
void batch_log_file(const char *path);

#endif
