/*
 * pl_renditions_parse: the query grammar of /renditions. Each r= holds one output as a
 * URL-encoded transform query plus its name= ("r=w%3D640%26type%3Dwebp%26name%3Dhero"); every
 * r= is parsed by pl_plan_parse("transform", …) exactly as /transform would parse it, so an
 * output accepts what /transform accepts and is refused with the same message, prefixed with
 * the rendition's number and name. The other parameters are placeholders= (blurhash,
 * thumbhash, color, lqip), blurhash= (components, e.g. 4x3), info=, all= and the service's
 * field=, key=, sign=, expires=. The outer query comes parsed once (common/qs_query.h).
 * pl_renditions_parse_specs builds the same plan from outputs held apart ("transform?…" strings,
 * imgpipe batch's --do), each parsed like one r= value.
 *
 * Threads: pure; works on caller-owned memory and one temporary pl_plan on the heap.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_grammar_priv.h"
#include "pl_renditions.h"

#define PL_REND_KNOWN "r, placeholders, blurhash, info, all, field, key, sign, expires"

static bool pl_rend_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

static int pl_rend_bool(const char *name, const char *v, size_t len, bool *out, pl_error *err)
{
    static const char *yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *no[] = {"", "0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (pl_rend_is(v, len, yes[i]))
            return *out = true, 0;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (pl_rend_is(v, len, no[i]))
            return *out = false, 0;
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
            char q[80];
            pl_grammar_quote(v + s, n, q, sizeof(q));
            return pl_error_set(err, PL_E_PARAM,
                                "invalid value \"%s\" in parameter \"placeholders\": expected a comma-separated list of blurhash, "
                                "thumbhash, color, lqip",
                                q);
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

/* One r= value (decoded once: the transform query, still encoded for its own values): parsed by
 * the query layer, name= taken out, the other pairs parsed as transform. tmp: a scratch plan. */
static int pl_rend_one(pl_renditions_spec *rs, int idx, const char *q, size_t qlen, pl_plan *tmp, pl_error *err)
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
    if (pl_plan_parse_query("transform", &rest, tmp, err) != 0)
        goto bad;
    rs->steps[idx] = tmp->steps[0];
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

int pl_renditions_parse(const qs_query *query, pl_plan *plan, pl_error *err)
{
    pl_renditions_spec *rs = &plan->rend;
    pl_plan *tmp = malloc(sizeof(*tmp));
    uint32_t seen = 0;
    int ret = -1;
    pl_rend_begin(plan);
    if (tmp == NULL) {
        pl_error_set(err, PL_E_INTERNAL, "out of memory parsing the query");
        goto out;
    }
    for (size_t i = 0; i < query->n; i++) {
        const qs_pair *pair = &query->pairs[i];
        const char *name = pair->name, *val = pair->value;
        size_t nlen = pair->name_len, vlen = pair->value_len;
        if (pair->skip & QS_SKIP_ESCAPE) {
            char q[16];
            pl_grammar_quote(query->raw + pair->bad_off, pair->bad_len, q, sizeof(q));
            pl_error_set(err, PL_E_PARAM, "invalid URL escape \"%s\" in the query: write %% as %%25", q);
            goto out;
        }
        static const char *names[] = {"r", "placeholders", "blurhash", "info", "all", "field", "key", "sign", "expires"};
        int id = -1;
        for (int k = 0; k < (int)(sizeof(names) / sizeof(names[0])); k++)
            if (pl_rend_is(name, nlen, names[k]))
                id = k;
        if (id < 0) {
            char q[40];
            pl_grammar_quote(name, nlen, q, sizeof(q));
            pl_error_set(err, PL_E_PARAM,
                         "unknown parameter \"%s\" on /renditions; known: " PL_REND_KNOWN
                         " (an output's own parameters go inside its r=, URL-encoded: r=w%%3D640%%26type%%3Dwebp)",
                         q);
            goto out;
        }
        if (id == 0) {
            if (rs->n >= PL_RENDITIONS_MAX) {
                pl_error_set(err, PL_E_PARAM, "too many renditions: at most %d r= parameters per request", PL_RENDITIONS_MAX);
                goto out;
            }
            if (pl_rend_one(rs, rs->n, val, vlen, tmp, err) != 0)
                goto out;
            rs->n++;
            continue;
        }
        if (seen & (1u << id))
            continue; /* first occurrence wins, as the main grammar */
        seen |= 1u << id;
        int r = 0;
        switch (id) {
        case 1:
            r = pl_rend_placeholders(val, vlen, &rs->placeholders, err);
            break;
        case 2:
            r = pl_rend_components(val, vlen, &rs->blurhash_x, &rs->blurhash_y, err);
            rs->placeholders |= PL_PH_BLURHASH;
            break;
        case 3:
            r = pl_rend_bool("info", val, vlen, &rs->info, err);
            break;
        case 4:
            r = pl_rend_bool("all", val, vlen, &rs->all, err);
            break;
        case 5:
            if (vlen >= PL_FIELD_MAX || memchr(val, '\0', vlen) != NULL) {
                r = pl_error_set(err, PL_E_PARAM, "invalid value for parameter \"field\": expected a name of at most %d bytes",
                                 PL_FIELD_MAX - 1);
                break;
            }
            memcpy(plan->params.field, val, vlen);
            plan->params.field[vlen] = '\0';
            break;
        default: /* key, sign, expires: the service's */
            break;
        }
        if (r != 0)
            goto out;
    }
    if (rs->n == 0 && rs->placeholders == 0 && !rs->info) {
        pl_error_set(
            err, PL_E_MISSING_PARAM,
            "Missing required param: r (one per output, a URL-encoded transform query such as r=w%%3D640%%26type%%3Dwebp), "
            "or placeholders= or info=true");
        goto out;
    }
    plan->steps[0].params = plan->params;
    ret = 0;
out:
    free(tmp);
    return ret;
}

int pl_renditions_parse_specs(const char *const *specs, int n, pl_plan *plan, pl_error *err)
{
    memset(plan, 0, sizeof(*plan));
    pl_params_defaults(&plan->params, PL_OP_RENDITIONS);
    pl_rend_begin(plan);
    plan->steps[0].params = plan->params;
    if (n < 1 || n > PL_RENDITIONS_MAX)
        return pl_error_set(err, PL_E_PARAM, "%d outputs: a renditions set has 1 to %d", n, PL_RENDITIONS_MAX);
    pl_plan *tmp = malloc(sizeof(*tmp));
    if (tmp == NULL)
        return pl_error_set(err, PL_E_INTERNAL, "out of memory parsing the query");
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
        ret = pl_rend_one(&plan->rend, i, q, strlen(q), tmp, err);
        if (ret == 0)
            plan->rend.n++;
    }
    free(tmp);
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
