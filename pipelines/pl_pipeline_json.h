/*
 * pl_pipeline_json: /pipeline's `operations` JSON into the plan's steps (pl_pipeline_json.c), on
 * the parameter table (pl_params.h). Private to the grammar: pl_plan_parse.c calls it.
 *
 * Thread-safe and pure like pl_options.h.
 */
#ifndef PL_PIPELINE_JSON_H
#define PL_PIPELINE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "pl_options.h"

/* Parse the pipeline's `operations` JSON (decoded, len bytes) into plan->steps / n_steps. With
 * shape_only, stop after the JSON and item shape checks (imaginary decodes `operations` on every
 * route but only /pipeline looks at the steps); plan is then left untouched. */
int pl_pipeline_json_parse(const char *json, size_t len, bool shape_only, pl_plan *plan, pl_error *err);

#endif
