/*
 * batch_renditions: several --do for each input, from one decode (the engine's renditions op).
 * Main thread: batch_renditions_setup (option checks). Any thread: the rest (pure functions over
 * caller-owned memory).
 */
#ifndef BATCH_RENDITIONS_H
#define BATCH_RENDITIONS_H

#include <stddef.h>
#include <stdint.h>

#include "batch_job.h"

/* Several --do (or a --name with {r}): every spec into one renditions plan in opts->plan, every
 * output failing its input when it fails (all or nothing), and the template checked for {r}.
 * Returns 0, or -1 with a usage message naming the fix. */
int batch_renditions_setup(batch_opts *opts, char *msg, size_t msg_len);

/* One output in the engine's answer: points into the answer's bytes. */
typedef struct batch_part {
    pl_format format;
    int width, height;
    const uint8_t *data;
    size_t len;
} batch_part;

/* Split the engine's renditions answer (multipart/mixed: a meta part, then one part per output in
 * the order of the --do) into parts[0..n). Returns 0, or -1 with msg when the answer does not hold
 * n image parts (a failed output's JSON part: its message). */
int batch_renditions_split(const uint8_t *body, size_t len, batch_part *parts, int n, char *msg, size_t msg_len);

#endif
