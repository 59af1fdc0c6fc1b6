/*
 * pl_pipeline_json: reads /pipeline's `operations` parameter, a JSON array of 1..10 objects
 * {"operation": name, "ignore_failure": bool, "params": {…}}, into the plan's steps, with jansson.
 * Names and messages follow imaginary (image.go Pipeline, params.go parseJSONOperations); each step
 * starts from fresh defaults and is validated like its own route (required parameters).
 * Values: JSON integers exactly, non-integral numbers only for number parameters, strings with the
 * query rules, booleans as JSON or strings; colours, type, gravity … must be strings.
 *
 * On the parameter table (pl_params.h) only; pl_plan_parse.c calls it.
 *
 * Threads: pure; the jansson tree is local to the call and freed before returning.
 */
#include "pl_pipeline_json.h"
#include "pl_params.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const pl_pipe_names[PL_OP__COUNT] = {
#define PL_X(id, name, imag, pipe) [id] = pipe,
    PL_OPS(PL_X)
#undef PL_X
};

/* An operation's name in /pipeline, or NULL when /pipeline does not take it. */
static const char *pl_pipe_name(pl_op op)
{
    return (unsigned)op < PL_OP__COUNT ? pl_pipe_names[op] : NULL;
}

#define PL_OPS_PREFIX                                                                                                              \
    "Error while processing parameters, error while processing parameter \"operations\" with value \"%s\", error: "

static int pl_json_invalid(const char *json, size_t len, pl_error *err, const char *fmt, const char *a, const char *b)
{
    char q[96], what[256];
    pl_grammar_quote(json, len, q, sizeof(q));
    snprintf(what, sizeof(what), fmt, a, b);
    return pl_error_set(err, PL_E_PARAM, PL_OPS_PREFIX "%s", q, what);
}

/* Pass 1: shape of one item (object, known keys, key types), as Go's decoder with
 * DisallowUnknownFields. */
static int pl_json_check_item(const char *json, size_t len, size_t idx, json_t *item, pl_error *err)
{
    char where[48];
    snprintf(where, sizeof(where), "pipeline operation %zu", idx + 1);
    if (!json_is_object(item))
        return pl_json_invalid(json, len, err, "%s is not an object; expected {\"operation\": name, \"params\": {…}}%s", where, "");
    const char *key;
    json_t *v;
    json_object_foreach(item, key, v)
    {
        if (strcmp(key, "operation") == 0) {
            if (!json_is_string(v))
                return pl_json_invalid(json, len, err, "%s: \"operation\" must be a string%s", where, "");
        } else if (strcmp(key, "ignore_failure") == 0) {
            if (!json_is_boolean(v) && !json_is_null(v))
                return pl_json_invalid(json, len, err, "%s: \"ignore_failure\" must be true or false%s", where, "");
        } else if (strcmp(key, "params") == 0) {
            if (!json_is_object(v) && !json_is_null(v))
                return pl_json_invalid(json, len, err, "%s: \"params\" must be an object%s", where, "");
        } else {
            char q[64];
            pl_grammar_quote(key, strlen(key), q, sizeof(q));
            return pl_json_invalid(json, len, err, "json: unknown field \"%s\" in %s; allowed: operation, ignore_failure, params",
                                   q, where);
        }
    }
    return 0;
}

static int pl_json_set_param(const pl_grammar_ctx *ctx, const pl_param_def *def, json_t *v, pl_params *p, pl_error *err)
{
    char shown[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return pl_grammar_set_string(ctx, def, json_string_value(v), json_string_length(v), p, err);
    case JSON_INTEGER:
        snprintf(shown, sizeof(shown), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return pl_grammar_set_number(ctx, def, (double)json_integer_value(v), true, shown, p, err);
    case JSON_REAL:
        snprintf(shown, sizeof(shown), "%.17g", json_real_value(v));
        return pl_grammar_set_number(ctx, def, json_real_value(v), false, shown, p, err);
    case JSON_TRUE:
    case JSON_FALSE:
        if (def->kind != PL_K_BOOL)
            return pl_grammar_type_error(ctx, def, json_is_true(v) ? "true" : "false", err);
        return pl_grammar_set_bool(ctx, def, json_is_true(v), p, err);
    case JSON_NULL:
        return pl_grammar_type_error(ctx, def, "null", err);
    case JSON_ARRAY:
        return pl_grammar_type_error(ctx, def, "[…]", err);
    case JSON_OBJECT:
        return pl_grammar_type_error(ctx, def, "{…}", err);
    }
    return pl_grammar_type_error(ctx, def, "?", err);
}

/* Pass 2: one step: name, params, required parameters. */
static int pl_json_build_step(size_t idx, json_t *item, pl_step *step, pl_error *err)
{
    json_t *jop = json_object_get(item, "operation");
    const char *name = jop ? json_string_value(jop) : "";
    size_t nlen = jop ? json_string_length(jop) : 0;
    int op = -1;
    for (int i = 0; i < PL_OP__COUNT; i++)
        if (pl_pipe_names[i] != NULL && strlen(pl_pipe_names[i]) == nlen && memcmp(pl_pipe_names[i], name, nlen) == 0)
            op = i;
    if (op < 0) {
        char q[64], ops[256];
        pl_grammar_quote(name, nlen, q, sizeof(q));
        return pl_error_set(err, PL_E_PARAM,
                            "Error while processing the image: Unsupported operation name: %s (pipeline operation %zu; "
                            "expected one of %s)",
                            q, idx + 1, pl_grammar_op_list(pl_pipe_name, ops, sizeof(ops)));
    }
    step->op = (pl_op)op;
    step->ignore_failure = json_is_true(json_object_get(item, "ignore_failure"));
    pl_params_defaults(&step->params, step->op);

    pl_grammar_ctx ctx = {step->op, (int)idx};
    json_t *params = json_object_get(item, "params");
    if (json_is_object(params)) {
        const char *key;
        json_t *v;
        json_object_foreach(params, key, v)
        {
            const pl_param_def *def = pl_grammar_lookup(step->op, key, strlen(key));
            if (def == NULL || def->id == PL_P_OPERATIONS)
                continue; /* unknown params are ignored, as imaginary */
            if (pl_json_set_param(&ctx, def, v, &step->params, err) != 0)
                return -1;
        }
    }
    return pl_grammar_check_step(&ctx, step, err);
}

int pl_pipeline_json_parse(const char *json, size_t len, bool shape_only, pl_plan *plan, pl_error *err)
{
    int ret = -1;
    json_t *root = NULL;
    json_error_t jerr;

    if (!shape_only)
        plan->n_steps = 0;
    if (len < 2 && shape_only)
        return 0;
    if (len < 2) /* imaginary: fewer than 2 bytes = no operations */
        return pl_error_set(err, PL_E_MISSING_PARAM,
                            "Error while processing the image: Missing or invalid pipeline operations "
                            "JSON: give operations=[{\"operation\": \"resize\", \"params\": "
                            "{\"width\": 300}}] (URL-encoded)");
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char pos[48], text[120]; /* jansson's text quotes the input: escape it like any value */
        pl_grammar_quote(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), text, sizeof(text));
        snprintf(pos, sizeof(pos), "line %d column %d", jerr.line, jerr.column);
        pl_json_invalid(json, len, err, "invalid JSON: %s at %s", text, pos);
        goto out;
    }
    if (!json_is_array(root)) {
        pl_json_invalid(json, len, err, "expected a JSON array of 1 to 10 {\"operation\", \"params\"} objects%s%s", "", "");
        goto out;
    }
    size_t n = json_array_size(root);
    for (size_t i = 0; i < n; i++)
        if (pl_json_check_item(json, len, i, json_array_get(root, i), err) != 0)
            goto out;
    if (shape_only) {
        ret = 0;
        goto out;
    }
    if (n == 0) {
        pl_error_set(err, PL_E_MISSING_PARAM,
                     "Error while processing the image: Missing or invalid pipeline operations JSON: "
                     "the array is empty; give 1 to 10 operations");
        goto out;
    }
    if (n > PL_MAX_STEPS) {
        pl_error_set(err, PL_E_PARAM,
                     "Error while processing the image: Maximum allowed pipeline operations exceeded: %zu given, "
                     "at most %d allowed",
                     n, PL_MAX_STEPS);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (pl_json_build_step(i, json_array_get(root, i), &plan->steps[i], err) != 0)
            goto out;
    plan->n_steps = (int)n;
    ret = 0;
out:
    json_decref(root);
    return ret;
}
