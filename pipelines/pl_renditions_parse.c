/*
 * pl_renditions_parse: the query grammar of /renditions. Each r= holds one output as a
 * URL-encoded transform query plus its name= ("r=w%3D640%26type%3Dwebp%26name%3Dhero"); every
 * r= is parsed by the parameter table (pl_params.h) exactly as /transform's query is, so an
 * output accepts what /transform accepts and is refused with the same message, prefixed with
 * the rendition's number and name. The other parameters are placeholders= (blurhash,
 * thumbhash, color, lqip), blurhash= (components, e.g. 4x3), info=, all= and the service's
 * field=, key=, sign=, expires=. The outer query comes parsed once (common/qs_query.h).
 * pl_renditions_parse_specs builds the same plan from outputs held apart ("transform?…" strings,
 * imgpipe batch's --do), each parsed like one r= value. It calls only the parameter table
 * (pl_params.h); pl_plan_parse.c calls pl_renditions_parse.
 *
 * Threads: pure; works on caller-owned memory.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_params.h"
#include "pl_renditions.h"

/* /renditions' own parameters. */
enum { PL_REND_R, PL_REND_PLACEHOLDERS, PL_REND_BLURHASH, PL_REND_INFO, PL_REND_ALL, PL_REND_FIELD };
static const char *const pl_rend_names[] = {
    [PL_REND_R] = "r",
    [PL_REND_PLACEHOLDERS] = "placeholders",
    [PL_REND_BLURHASH] = "blurhash",
    [PL_REND_INFO] = "info",
    [PL_REND_ALL] = "all",
    [PL_REND_FIELD] = "field",
    "key",
    "sign",
    "expires", /* the service's */
};

static bool pl_rend_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

static int pl_rend_bool(const char *name, const char *v, size_t len, bool *out, pl_error *err)
{
    if (pl_grammar_parse_bool(v, len, out) == 0)
        return 0;
    char q[80];
    pl_grammar_quote(v, len, q, sizeof(q));
    return pl_error_set(err, PL_E_PARAM, "invalid value \"%s\" for parameter \"%s\": expected a boolean: true or false (1, 0 …)", q,
                        name);
}

static int pl_rend_placeholders(const char *v, size_t len, unsigned *bits, pl_error *err)
{
    static const struct {
        const char *name;
        unsigned bit;
    } words[] = {{"blurhash", PL_PH_BLURHASH},
                 {"thumbhash", PL_PH_THUMBHASH},
                 {"color", PL_PH_COLOR},
                 {"colour", PL_PH_COLOR},
                 {"lqip", PL_PH_LQIP}};
    size_t i = 0;
    while (i < len) {
        size_t s = i;
        while (i < len && v[i] != ',')
            i++;
        size_t n = i - s;
        i++;
        if (n == 0)
            continue;
        bool found = false;
        for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
            if (pl_rend_is(v + s, n, words[k].name)) {
                *bits |= words[k].bit;
                found = true;
            }
        if (!found) {
            char q[80], known[64];
            size_t o = 0;
            pl_grammar_quote(v + s, n, q, sizeof(q));
            for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
                if (k == 0 || words[k].bit != words[k - 1].bit) /* "colour" is "color" */
                    o = pl_grammar_list_add(known, sizeof(known), o, words[k].name);
            return pl_error_set(err, PL_E_PARAM,
                                "invalid value \"%s\" in parameter \"placeholders\": expected a comma-separated list of %s", q,
                                known);
        }
    }
    return 0;
}

static int pl_rend_components(const char *v, size_t len, int *x, int *y, pl_error *err)
{
    if (len == 3 && v[0] >= '1' && v[0] <= '9' && (v[1] == 'x' || v[1] == 'X') && v[2] >= '1' && v[2] <= '9') {
        *x = v[0] - '0';
        *y = v[2] - '0';
        return 0;
    }
    char q[80];
    pl_grammar_quote(v, len, q, sizeof(q));
    return pl_error_set(err, PL_E_PARAM,
                        "invalid value \"%s\" for parameter \"blurhash\": expected XxY components with X and Y from 1 to 9, e.g. "
                        "4x3",
                        q);
}

static bool pl_rend_name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= PL_RENDITION_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return s[0] != '.';
}

/* The pairs of one r= but name= as a transform step, checked like /transform's. */
static int pl_rend_step(const qs_query *rest, pl_step *step, pl_error *err)
{
    const pl_grammar_ctx ctx = {PL_OP_TRANSFORM, -1};
    const char *ops = NULL; /* transform refuses `operations` */
    size_t ops_len = 0;
    *step = (pl_step){.op = PL_OP_TRANSFORM};
    pl_params_defaults(&step->params, PL_OP_TRANSFORM);
    if (pl_grammar_parse_pairs(&ctx, rest, &step->params, &ops, &ops_len, err) != 0)
        return -1;
    return pl_grammar_check_step(&ctx, step, err);
}

/* One r= value (decoded once: the transform query, still encoded for its own values): parsed by
 * the query layer, name= taken out, the other pairs parsed as transform. */
static int pl_rend_one(pl_renditions_spec *rs, int idx, const char *q, size_t qlen, pl_error *err)
{
    qs_query inner = {0};
    qs_pair *keep = NULL;
    int ret = -1;
    char *name = rs->names[idx];
    snprintf(name, PL_RENDITION_NAME_MAX, "r%d", idx + 1);
    if (qs_parse(q, qlen, &inner) != 0 || (keep = malloc((inner.n ? inner.n : 1) * sizeof(*keep))) == NULL) {
        pl_error_set(err, PL_E_INTERNAL, "out of memory parsing the query");
        goto out;
    }
    qs_query rest = inner;
    bool named = false;
    rest.pairs = keep;
    rest.n = 0;
    for (size_t i = 0; i < inner.n; i++) {
        const qs_pair *p = &inner.pairs[i];
        if (!qs_name_is(p, "name")) {
            keep[rest.n++] = *p;
            continue;
        }
        if (named)
            continue; /* first occurrence wins, as everywhere */
        named = true;
        if ((p->skip & QS_SKIP_ESCAPE) || !pl_rend_name_ok(p->value, p->value_len)) {
            char qq[80];
            pl_grammar_quote(p->value, p->value_len, qq, sizeof(qq));
            pl_error_set(err, PL_E_PARAM,
                         "invalid value \"%s\" for parameter \"name\": expected 1 to %d letters, digits, '-', '_' or '.' (not "
                         "first)",
                         qq, PL_RENDITION_NAME_MAX - 1);
            goto bad;
        }
        memcpy(name, p->value, p->value_len);
        name[p->value_len] = '\0';
    }
    for (int k = 0; k < idx; k++)
        if (strcmp(rs->names[k], name) == 0) {
            pl_error_set(err, PL_E_PARAM, "rendition %d (r=) has the name \"%s\" of rendition %d: names must differ", idx + 1, name,
                         k + 1);
            goto out;
        }
    if (pl_rend_step(&rest, &rs->steps[idx], err) != 0)
        goto bad;
    ret = 0;
    goto out;
bad : {
    char msg[PL_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof(msg), "rendition %d (r=, name \"%s\"): %.*s", idx + 1, name, (int)sizeof(msg) - 64, err->message);
    memcpy(err->message, msg, sizeof(msg));
}
out:
    free(keep);
    qs_free(&inner);
    return ret;
}

/* The plan's renditions fields before any output (both entry points). */
static void pl_rend_begin(pl_plan *plan)
{
    plan->op = PL_OP_RENDITIONS;
    plan->n_steps = 1;
    plan->steps[0].op = PL_OP_RENDITIONS;
    plan->rend.blurhash_x = 4;
    plan->rend.blurhash_y = 3;
}

/* The index of name in pl_rend_names, or -1. */
static int pl_rend_param(const char *name, size_t nlen)
{
    for (int k = 0; k < (int)(sizeof(pl_rend_names) / sizeof(pl_rend_names[0])); k++)
        if (pl_rend_is(name, nlen, pl_rend_names[k]))
            return k;
    return -1;
}

static int pl_rend_unknown(const char *name, size_t nlen, pl_error *err)
{
    char q[40], known[128];
    size_t o = 0;
    pl_grammar_quote(name, nlen, q, sizeof(q));
    for (size_t k = 0; k < sizeof(pl_rend_names) / sizeof(pl_rend_names[0]); k++)
        o = pl_grammar_list_add(known, sizeof(known), o, pl_rend_names[k]);
    return pl_error_set(err, PL_E_PARAM,
                        "unknown parameter \"%s\" on /renditions; known: %s (an output's own parameters go inside its r=, "
                        "URL-encoded: r=w%%3D640%%26type%%3Dwebp)",
                        q, known);
}

/* One of the parameters but r= (first occurrence only). */
static int pl_rend_set(int id, const char *val, size_t vlen, pl_plan *plan, pl_error *err)
{
    pl_renditions_spec *rs = &plan->rend;
    switch (id) {
    case PL_REND_PLACEHOLDERS:
        return pl_rend_placeholders(val, vlen, &rs->placeholders, err);
    case PL_REND_BLURHASH:
        rs->placeholders |= PL_PH_BLURHASH;
        return pl_rend_components(val, vlen, &rs->blurhash_x, &rs->blurhash_y, err);
    case PL_REND_INFO:
        return pl_rend_bool("info", val, vlen, &rs->info, err);
    case PL_REND_ALL:
        return pl_rend_bool("all", val, vlen, &rs->all, err);
    case PL_REND_FIELD:
        if (vlen >= PL_FIELD_MAX || memchr(val, '\0', vlen) != NULL)
            return pl_error_set(err, PL_E_PARAM, "invalid value for parameter \"field\": expected a name of at most %d bytes",
                                PL_FIELD_MAX - 1);
        memcpy(plan->params.field, val, vlen);
        plan->params.field[vlen] = '\0';
        return 0;
    default: /* key, sign, expires: the service's */
        return 0;
    }
}

int pl_renditions_parse(const qs_query *query, pl_plan *plan, pl_error *err)
{
    pl_renditions_spec *rs = &plan->rend;
    uint32_t seen = 0;
    pl_rend_begin(plan);
    for (size_t i = 0; i < query->n; i++) {
        const qs_pair *pair = &query->pairs[i];
        if (pair->skip & QS_SKIP_ESCAPE)
            return pl_grammar_escape_error(query, pair, err);
        int id = pl_rend_param(pair->name, pair->name_len);
        if (id < 0)
            return pl_rend_unknown(pair->name, pair->name_len, err);
        if (id == PL_REND_R) {
            if (rs->n >= PL_RENDITIONS_MAX)
                return pl_error_set(err, PL_E_PARAM, "too many renditions: at most %d r= parameters per request",
                                    PL_RENDITIONS_MAX);
            if (pl_rend_one(rs, rs->n, pair->value, pair->value_len, err) != 0)
                return -1;
            rs->n++;
            continue;
        }
        if (seen & (1u << id))
            continue; /* first occurrence wins, as the main grammar */
        seen |= 1u << id;
        if (pl_rend_set(id, pair->value, pair->value_len, plan, err) != 0)
            return -1;
    }
    if (rs->n == 0 && rs->placeholders == 0 && !rs->info)
        return pl_error_set(
            err, PL_E_MISSING_PARAM,
            "Missing required param: r (one per output, a URL-encoded transform query such as r=w%%3D640%%26type%%3Dwebp), "
            "or placeholders= or info=true");
    plan->steps[0].params = plan->params;
    return 0;
}

int pl_renditions_parse_specs(const char *const *specs, int n, pl_plan *plan, pl_error *err)
{
    memset(plan, 0, sizeof(*plan));
    pl_params_defaults(&plan->params, PL_OP_RENDITIONS);
    pl_rend_begin(plan);
    plan->steps[0].params = plan->params;
    if (n < 1 || n > PL_RENDITIONS_MAX)
        return pl_error_set(err, PL_E_PARAM, "%d outputs: a renditions set has 1 to %d", n, PL_RENDITIONS_MAX);
    int ret = 0;
    for (int i = 0; i < n && ret == 0; i++) {
        const char *s = specs[i][0] == '/' ? specs[i] + 1 : specs[i];
        const char *q = strchr(s, '?');
        size_t oplen = q != NULL ? (size_t)(q - s) : strlen(s);
        if (!pl_rend_is(s, oplen, "transform")) {
            char quoted[80];
            pl_grammar_quote(s, oplen, quoted, sizeof(quoted));
            ret = pl_error_set(err, PL_E_PARAM,
                               "output %d is \"%s\": each output of a renditions set is a transform step, e.g. "
                               "\"transform?width=800&type=webp&name=large\"",
                               i + 1, quoted);
            break;
        }
        q = q != NULL ? q + 1 : "";
        ret = pl_rend_one(&plan->rend, i, q, strlen(q), err);
        if (ret == 0)
            plan->rend.n++;
    }
    return ret;
}

bool pl_renditions_wants_json(const char *accept)
{
    if (accept == NULL)
        return false;
    const char *p = accept;
    while ((p = strstr(p, "application/json")) != NULL) {
        p += 16;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        /* refused with q=0 (q=0, q=0.0, q=0.000) */
        const char *q = g_strstr_len(p, (gssize)n, "q=");
        if (q == NULL || g_ascii_strtod(q + 2, NULL) > 0)
            return true;
    }
    return false;
}
