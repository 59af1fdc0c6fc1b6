/*
 * batch_list: the inputs of `imgpipe batch` -> a sorted, named, checked list of jobs.
 * Main thread only, before any worker starts.
 */
#ifndef BATCH_LIST_H
#define BATCH_LIST_H

#include <stddef.h>

#include "batch_job.h"

/* Expand the INPUT arguments (files, directories, '-' for stdin) into list. An input that
 * cannot be read becomes a job with pre_error set (it fails alone). Returns 0, or -1 with msg
 * on a usage error (e.g. stdin cannot be read). */
int batch_list_collect(const batch_opts *opts, batch_list *list, char *msg, size_t msg_len);

/* Sort by relative path, name every output, refuse collisions (two inputs, one output) and
 * outputs that are inputs, keep this --shard, mark --skip-existing jobs. Prints each problem
 * on stderr. Returns 0, or -1 with msg on a usage error (nothing may be processed). */
int batch_list_plan(const batch_opts *opts, batch_list *list, char *msg, size_t msg_len);

/* The shard (0..n-1) of a relative path: FNV-1a 64-bit of its bytes, modulo n. */
int batch_shard_of(const char *rel, int n);

/* File extension written for a format ("jpg" for jpeg …); NULL if none. */
const char *batch_ext_of(pl_format f);

#endif
