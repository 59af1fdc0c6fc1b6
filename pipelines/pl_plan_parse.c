/*
 * pl_plan_parse: the top of the option grammar (pl_options.h): an operation name plus a query
 * into a validated pl_plan. It finds the operation, bounds the query, and hands the query to
 * the layer below for that operation: /renditions to pl_renditions_parse.c, every other route
 * to the parameter table (pl_params_query.c, pl_params_check.c), whose `operations` JSON goes to
 * pl_pipeline_json.c. Nothing below calls back up here:
 *
 *   pl_formats <- pl_params <- pl_pipeline_json, pl_renditions_parse <- pl_plan_parse
 *
 * Threads: pure functions over caller-owned memory. The query is split and decoded once by
 * common/qs_query.c (pl_plan_parse_query reads those pairs; pl_plan_parse parses the raw string
 * into a temporary qs_query first); nothing outlives a call.
 */
#include "pl_options.h"
#include "pl_params.h"
#include "pl_pipeline_json.h"
#include "pl_renditions.h"

#include <stdio.h>
#include <string.h>

/* Longest query accepted (a pipeline's JSON included); keeps the decode buffers bounded. */
#define PL_QUERY_MAX (1 << 20)

/* The operation called op_name, or PL_E_PARAM listing every operation. */
static int pl_plan_op(const char *op_name, pl_op *op, pl_error *err)
{
    int i = op_name != NULL ? pl_op_from_name(op_name, strlen(op_name)) : -1;
    if (i >= 0) {
        *op = (pl_op)i;
        return 0;
    }
    char q[80], ops[320];
    pl_grammar_quote(op_name ? op_name : "", op_name ? strlen(op_name) : 0, q, sizeof(q));
    return pl_error_set(err, PL_E_PARAM, "unknown operation \"%s\": expected one of %s", q,
                        pl_grammar_op_list(pl_op_name, ops, sizeof(ops)));
}

/* /pipeline: the top-level query validated, not applied (imaginary), then the JSON steps. */
static int pl_plan_pipeline(const pl_grammar_ctx *ctx, const char *ops, size_t ops_len, pl_plan *plan, pl_error *err)
{
    pl_step top = {.op = PL_OP_PIPELINE, .params = plan->params};
    if (pl_grammar_check_step(ctx, &top, err) != 0)
        return -1;
    plan->params = top.params;
    return pl_pipeline_json_parse(ops ? ops : "", ops_len, false, plan, err);
}

/* Every other route: one step. Imaginary's routes check the JSON of `operations` too (imaginary
 * decodes it everywhere) before the step's own rules. */
static int pl_plan_single(const pl_grammar_ctx *ctx, const char *ops, size_t ops_len, pl_plan *plan, pl_error *err)
{
    if (ops != NULL && pl_pipeline_json_parse(ops, ops_len, true, plan, err) != 0)
        return -1;
    plan->n_steps = 1;
    plan->steps[0].op = plan->op;
    plan->steps[0].params = plan->params;
    if (pl_grammar_check_step(ctx, &plan->steps[0], err) != 0)
        return -1;
    plan->params = plan->steps[0].params;
    return 0;
}

int pl_plan_parse_query(const char *op_name, const qs_query *query, pl_plan *plan, pl_error *err)
{
    const char *ops = NULL; /* the decoded `operations`, once seen */
    size_t ops_len = 0;
    memset(plan, 0, sizeof(*plan));
    if (pl_plan_op(op_name, &plan->op, err) != 0)
        return -1;
    pl_params_defaults(&plan->params, plan->op);
    if (query->raw_len > PL_QUERY_MAX)
        return pl_error_set(err, PL_E_PARAM, "the query is %zu bytes long; at most %d bytes are allowed", query->raw_len,
                            PL_QUERY_MAX);
    /* renditions: its own query grammar (r= outputs, placeholders=; pl_renditions_parse.c) */
    if (plan->op == PL_OP_RENDITIONS)
        return pl_renditions_parse(query, plan, err);
    pl_grammar_ctx ctx = {plan->op, -1};
    if (pl_grammar_parse_pairs(&ctx, query, &plan->params, &ops, &ops_len, err) != 0)
        return -1;
    return plan->op == PL_OP_PIPELINE ? pl_plan_pipeline(&ctx, ops, ops_len, plan, err)
                                      : pl_plan_single(&ctx, ops, ops_len, plan, err);
}

int pl_plan_parse(const char *op_name, const char *query, size_t query_len, pl_plan *plan, pl_error *err)
{
    qs_query q = {.raw = "", .raw_len = query != NULL ? query_len : 0};
    /* over the cap: left unparsed, pl_plan_parse_query refuses it by raw_len (after the op name) */
    if (q.raw_len <= PL_QUERY_MAX && qs_parse(query, q.raw_len, &q) != 0) {
        memset(plan, 0, sizeof(*plan));
        return pl_error_set(err, PL_E_INTERNAL, "out of memory parsing the query");
    }
    int r = pl_plan_parse_query(op_name, &q, plan, err);
    qs_free(&q);
    return r;
}

int pl_plan_parse_string(const char *spec, pl_plan *plan, pl_error *err)
{
    if (spec == NULL)
        spec = "";
    if (spec[0] == '/')
        spec++;
    const char *q = strchr(spec, '?');
    size_t oplen = q ? (size_t)(q - spec) : strlen(spec);
    char op[32];
    if (oplen >= sizeof(op)) {
        char quoted[80];
        pl_grammar_quote(spec, oplen, quoted, sizeof(quoted));
        memset(plan, 0, sizeof(*plan));
        return pl_error_set(err, PL_E_PARAM,
                            "unknown operation \"%s\": write \"operation?name=value&…\", e.g. "
                            "\"resize?width=800\"",
                            quoted);
    }
    memcpy(op, spec, oplen);
    op[oplen] = '\0';
    return pl_plan_parse(op, q ? q + 1 : NULL, q ? strlen(q + 1) : 0, plan, err);
}

bool pl_plan_wants_auto(const pl_plan *plan)
{
    if (plan->params.type == PL_FMT_AUTO)
        return true;
    for (int i = 0; i < plan->n_steps; i++)
        if (plan->steps[i].params.type == PL_FMT_AUTO)
            return true;
    return false;
}
