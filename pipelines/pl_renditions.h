/*
 * pl_renditions: /renditions, several transform outputs and placeholders from one upload decoded
 * once. The query grammar (pl_renditions_parse.c) fills pl_plan.rend; the run
 * (pl_renditions.c) decodes the input once at the largest shrink-on-load scale every output
 * needs, derives each output from the smallest image already made that still covers it, adds
 * the placeholders (pl_placeholder.h) and the /info facts, and assembles the whole answer as one
 * buffer (multipart/mixed, or JSON when the Accept header asks for application/json) that
 * pl_run() returns like any other result.
 *
 * Threads: pl_renditions_parse is pure (like pl_options.h); pl_renditions_run is re-entrant like
 * pl_run, which calls it for op == PL_OP_RENDITIONS.
 */
#ifndef PL_RENDITIONS_H
#define PL_RENDITIONS_H

#include <stddef.h>

#include "pl_engine.h"
#include "pl_options.h"

/* The renditions query ("r=w%3D640%26type%3Dwebp&r=…&placeholders=blurhash,color&info=true"),
 * raw (percent-encoded), into plan (op PL_OP_RENDITIONS, n_steps 1, plan->rend). Called by
 * pl_plan_parse. 0, or -1 with err naming the parameter or the rendition (number and name). */
int pl_renditions_parse(const qs_query *query, pl_plan *plan, pl_error *err);

/* The same plan from n (1..PL_RENDITIONS_MAX) whole "transform?QUERY" strings, each read like the
 * value of one r= (its name= included; default names r1, r2 …): for callers that hold the outputs
 * apart (imgpipe batch's --do). Placeholders, info and all stay off. 0, or -1 with err naming the
 * output. */
int pl_renditions_parse_specs(const char *const *specs, int n, pl_plan *plan, pl_error *err);

/* Run a renditions plan (pl_run's contract). out: the whole body, out->mime its Content-Type
 * (multipart/mixed with its boundary, or application/json), out->format PL_FMT_UNKNOWN. */
int pl_renditions_run(const pl_plan *plan, const pl_input *in, const pl_limits *lim, pl_control *ctl, pl_result *out,
                      pl_error *err);

/* True when the Accept header asks for the JSON form of the answer (application/json listed and
 * not refused with q=0). */
bool pl_renditions_wants_json(const char *accept);

#endif
