/*
 * bench_workload: what the bench asks for. Either one operation in the project's grammar
 * (`fit?width=800&height=800&type=jpeg&quality=80`) or a workload file mixing several with weights
 * (bench/workloads/, files NAME.txt), one per line:
 *
 *     # comment
 *     <weight> <op>?<query> [<input type>]
 *
 * weight is an integer 1..1000; the optional input type (jpeg, png, webp, gif, tiff, heif, avif)
 * restricts that line to the corpus images of that type, so one folder can feed a mixed workload.
 *
 * Request i (from 0) is pure arithmetic: its operation comes from a smooth weighted round-robin
 * cycle (deterministic, interleaved: weights 3:1 give a a b a, not a a a b) and its image cycles
 * through that operation's inputs, so consecutive requests carry different bodies. No state is
 * changed by bench_workload_pick(): any number of threads may call it at once.
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "bench_corpus.h"
#include "bench_util.h"

#define BENCH_OP_SPEC_MAX 2048
#define BENCH_WORKLOAD_MAX_OPS 64

typedef struct bench_op {
    char spec[BENCH_OP_SPEC_MAX]; /* "op?query" as written */
    char name[64];                /* "op" */
    const char *query;            /* into spec, after '?'; "" when none */
    unsigned weight;
    char type[16];  /* input type filter; "" = every image */
    size_t *inputs; /* indices into the corpus, after bench_workload_bind() */
    size_t n_inputs;
} bench_op;

typedef struct bench_workload {
    char name[256]; /* the file's base name without .txt, or the operation string */
    bench_op *ops;
    size_t n;
    unsigned *order;   /* op index of each position of one cycle */
    uint64_t *ordinal; /* how many times order[k]'s op occurred before position k in the cycle */
    size_t cycle;      /* sum of the weights */
} bench_workload;

/* arg is a workload file when it names an existing regular file, otherwise an operation string.
 * Fills a caller-owned w (free with bench_workload_free). */
int bench_workload_parse(const char *arg, bench_workload *w, bench_error *err);

/* Parse a workload file's text (name is used in messages and as the workload's name). */
int bench_workload_parse_text(const char *name, const char *text, bench_workload *w, bench_error *err);

/* Attach the corpus: each op gets the images of its type. Fails when an op has none. */
int bench_workload_bind(bench_workload *w, const bench_corpus *c, bench_error *err);

/* Request i's op index and corpus image index. */
void bench_workload_pick(const bench_workload *w, uint64_t i, size_t *op, size_t *image);

void bench_workload_free(bench_workload *w);

#endif
