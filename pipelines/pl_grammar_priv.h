/*
 * pl_grammar_priv: the seam between the query grammar (pl_options.c) and the pipeline JSON reader
 * (pl_pipeline_json.c). Private to those two files; everybody else uses pl_options.h.
 *
 * Thread-safe and pure like pl_options.h: no shared state, no libvips.
 */
#ifndef PL_GRAMMAR_PRIV_H
#define PL_GRAMMAR_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "pl_options.h"

/* Where a value comes from, for the error message: a query parameter, or a parameter of the
 * pipeline's step `step` (0-based; -1 = query). */
typedef struct pl_grammar_ctx {
    pl_op op; /* the operation whose parameters are being parsed */
    int step; /* pipeline step index, or -1 */
} pl_grammar_ctx;

/* The parameter called name (exact, case-sensitive) as op accepts it, or NULL when op does not
 * know it (imaginary routes ignore such names, transform rejects them). Aliases and imgpipe's own
 * parameters exist on transform only. */
const pl_param_def *pl_grammar_lookup(pl_op op, const char *name, size_t len);

/* Parse one decoded value (query rules) of parameter def into p. Empty means "not given", except
 * for booleans (false). Returns 0 or -1 with err (PL_E_PARAM naming parameter, value, allowed). */
int pl_grammar_set_string(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *val, size_t len, pl_params *p,
                          pl_error *err);

/* Typed setters for JSON values (pipeline params). is_integer: the JSON number had no fraction. */
int pl_grammar_set_number(const pl_grammar_ctx *ctx, const pl_param_def *def, double v, bool is_integer, const char *shown,
                          pl_params *p, pl_error *err);
int pl_grammar_set_bool(const pl_grammar_ctx *ctx, const pl_param_def *def, bool v, pl_params *p, pl_error *err);

/* A parameter of the wrong JSON type (e.g. a number for `type`). */
int pl_grammar_type_error(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *shown, pl_error *err);

/* Required parameters, conflicts and normalisation (quality 0 -> 75 …) of one step. */
int pl_grammar_check_step(const pl_grammar_ctx *ctx, pl_step *s, pl_error *err);

/* Parse the pipeline's `operations` JSON (decoded, len bytes) into plan->steps / n_steps. With
 * shape_only, stop after the JSON and item shape checks (imaginary decodes `operations` on every
 * route but only /pipeline looks at the steps); plan is then left untouched. */
int pl_pipeline_json_parse(const char *json, size_t len, bool shape_only, pl_plan *plan, pl_error *err);

/* Quote a value for a message: printable ASCII kept, the rest escaped, cut to max bytes with "…". */
void pl_grammar_quote(const char *s, size_t len, char *out, size_t out_size);

#endif
