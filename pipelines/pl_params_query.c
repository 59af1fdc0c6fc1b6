/*
 * pl_params_query: the query pairs of one operation into its pl_params (pl_params.h), in request
 * order: a ';' is a plain byte of its pair (see qs_query.h: with URL signatures on, the service
 * refuses such a query before it gets here), a bad %-escape is PL_E_PARAM, the first occurrence
 * of a name wins (imaginary: Go's Query().Get), unknown names are skipped on imaginary's routes
 * (cache busters …) and refused on imgpipe's with the closest known name and the whole list.
 *
 * Threads: pure functions over caller-owned memory.
 */
#include "pl_params.h"

#include <stdio.h>
#include <string.h>

/* Edit distance of two short names (for "did you mean"); names are at most 31 bytes here. */
static size_t pl_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[32];
    if (la > 31 || lb > 31)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest name (or alias) op accepts to an unknown name, if close enough to be a typo. */
static const char *pl_suggest(pl_op op, const char *name, size_t len)
{
    const pl_param_def *table = pl_param_table(NULL);
    const char *best = NULL;
    size_t best_d = len <= 3 ? 1 : 2;
    for (int i = 0; i < PL_P__COUNT; i++) {
        const pl_param_def *d = &table[i];
        if (pl_grammar_lookup(op, d->name, strlen(d->name)) == NULL)
            continue;
        size_t dn = pl_distance(name, len, d->name, strlen(d->name));
        if (dn <= best_d && (best == NULL || dn < best_d))
            best = d->name, best_d = dn;
    }
    return best;
}

/* The names op accepts, for "unknown parameter" on transform. */
static void pl_known_names(pl_op op, char *out, size_t size)
{
    const pl_param_def *table = pl_param_table(NULL);
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < PL_P__COUNT; i++) {
        const pl_param_def *d = &table[i];
        if (op == PL_OP_TRANSFORM && d->id == PL_P_OPERATIONS)
            continue;
        bool alias = op == PL_OP_TRANSFORM && d->alias != NULL;
        int n = snprintf(out + o, size - o, "%s%s%s%s%s", o ? "," : "", d->name, alias ? "(" : "", alias ? d->alias : "",
                         alias ? ")" : "");
        if (n < 0 || (size_t)n >= size - o) {
            out[o] = '\0';
            return;
        }
        o += (size_t)n;
    }
}

/* "unknown parameter" on imgpipe's routes, with "did you mean" and every name op knows. */
static int pl_unknown_param(pl_op op, const char *name, size_t nlen, pl_error *err)
{
    char q[40], known[440], hint[48] = "";
    pl_grammar_quote(name, nlen, q, sizeof(q));
    const char *near = pl_suggest(op, name, nlen);
    if (near != NULL)
        snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", near);
    pl_known_names(op, known, sizeof(known));
    return pl_error_set(err, PL_E_PARAM, "unknown parameter \"%s\"%s; known: %s", q, hint, known);
}

int pl_grammar_parse_pairs(const pl_grammar_ctx *ctx, const qs_query *query, pl_params *p, const char **ops, size_t *ops_len,
                           pl_error *err)
{
    uint64_t seen = 0;
    for (size_t i = 0; i < query->n; i++) {
        const qs_pair *pair = &query->pairs[i];
        if (pair->skip & QS_SKIP_ESCAPE)
            return pl_grammar_escape_error(query, pair, err);
        const char *name = pair->name;
        size_t nlen = pair->name_len;
        const pl_param_def *def = memchr(name, '\0', nlen) ? NULL : pl_grammar_lookup(ctx->op, name, nlen);
        if (def == NULL && pl_op_is_imaginary(ctx->op))
            continue;
        if (def == NULL)
            return pl_unknown_param(ctx->op, name, nlen, err);
        if (seen & (1ull << def->id))
            continue;
        seen |= 1ull << def->id;
        if (def->id == PL_P_OPERATIONS && ctx->op == PL_OP_TRANSFORM)
            return pl_error_set(err, PL_E_PARAM,
                                "parameter \"operations\" belongs to /pipeline; transform takes every parameter at once");
        if (pl_grammar_set_string(ctx, def, pair->value, pair->value_len, p, err) != 0)
            return -1;
        if (def->id == PL_P_OPERATIONS && pair->value_len > 0) {
            *ops = pair->value;
            *ops_len = pair->value_len;
        }
    }
    return 0;
}
