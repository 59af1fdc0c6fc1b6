/*
 * pl_params: the bottom of the option grammar, private to it (everybody else uses pl_options.h).
 * The operation and parameter tables with imaginary's names and imgpipe's aliases, kinds,
 * ranges and "allowed" texts, and the setters that parse one value into a pl_params
 * (pl_params.c); the syntax of one value (pl_params_values.c); the query pairs of one
 * operation (pl_params_query.c); the rules over one parsed step: required parameters,
 * conflicts, effort (pl_params_check.c). It depends on nothing else of the grammar (only
 * pl_formats, pl_error and common/qs_query); the readers on top of it are pl_pipeline_json.c
 * (/pipeline's JSON steps), pl_renditions_parse.c (/renditions' r= outputs) and pl_plan_parse.c
 * (operation + query -> pl_plan), which calls the other two:
 *
 *   pl_formats <- pl_params <- pl_pipeline_json, pl_renditions_parse <- pl_plan_parse
 *
 * Thread-safe and pure like pl_options.h: no shared state, no libvips.
 */
#ifndef PL_PARAMS_H
#define PL_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "pl_options.h"

#define PL_DIM_MAX 16383 /* largest output side (WebP's limit) */

/* Where a value comes from, for the error message: a query parameter, or a parameter of the
 * pipeline's step `step` (0-based; -1 = query). */
typedef struct pl_grammar_ctx {
    pl_op op; /* the operation whose parameters are being parsed */
    int step; /* pipeline step index, or -1 */
} pl_grammar_ctx;

/* ---- pl_params.c: the tables and the setters ---- */

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

/* Quote a value for a message: printable ASCII kept, the rest escaped, cut to max bytes with "…". */
void pl_grammar_quote(const char *s, size_t len, char *out, size_t out_size);

/* The operations' names as name_of gives them (NULL: left out), ", "-separated in table order
 * (PL_OPS), into out (cut at size). Returns out. For "expected one of …". */
const char *pl_grammar_op_list(const char *(*name_of)(pl_op op), char *out, size_t size);

/* "invalid URL escape …" for a pair of query whose escape does not decode. Returns -1. */
int pl_grammar_escape_error(const qs_query *query, const qs_pair *pair, pl_error *err);

/* ---- pl_params_values.c: the syntax of one value ---- */

/* Each returns 0, or -1 when s (decoded, len bytes) is not such a value. */
/* Go's strconv.ParseFloat, decimal only: no hex, inf, nan or spaces; finite. */
int pl_grammar_parse_number(const char *s, size_t len, double *out);
/* Go's strconv.ParseBool, with empty = false. */
int pl_grammar_parse_bool(const char *s, size_t len, bool *out);
/* "R,G,B" or "R,G,B,A", each part 0..255 (spaces around parts allowed); A is 255 when absent. */
int pl_grammar_parse_color(const char *s, size_t len, pl_color *out);
/* "W:H", each 1..10000. */
int pl_grammar_parse_ratio(const char *s, size_t len, int *w, int *h);

/* A word of an enum parameter and its value. */
typedef struct pl_word {
    const char *word;
    int value;
} pl_word;
/* The value of the word s among t[0..n) (trimmed, case-insensitive, as imaginary's enum parsers). */
int pl_grammar_parse_word(const pl_word *t, size_t n, const char *s, size_t len, int *out);
/* Append word to the ", "-separated list in out (size bytes, o of them used): returns the new
 * length, or size once a word did not fit (then it and every later word are left out). */
size_t pl_grammar_list_add(char *out, size_t size, size_t o, const char *word);

/* The boolean words, ", "-separated, into out. Returns out. */
const char *pl_grammar_bool_words(char *out, size_t size);

/* ---- pl_params_query.c: one operation's query ---- */

/* Every pair of query in request order into p (defaults already set): names op knows, the first
 * occurrence of each; unknown names are skipped on imaginary's routes and refused with "did you
 * mean" on imgpipe's. *ops / *ops_len: the decoded `operations` value when given (else left).
 * 0, or -1 with err. */
int pl_grammar_parse_pairs(const pl_grammar_ctx *ctx, const qs_query *query, pl_params *p, const char **ops, size_t *ops_len,
                           pl_error *err);

/* ---- pl_params_check.c: one parsed step ---- */

/* Required parameters, conflicts and normalisation (quality 0 -> 75 …) of one step. */
int pl_grammar_check_step(const pl_grammar_ctx *ctx, pl_step *s, pl_error *err);

#endif
