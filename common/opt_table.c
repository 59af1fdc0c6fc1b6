/*
 * opt_table: applies a command's settings table (opt_table.h) to its fields: values parsed by
 * type (units, ranges, choices), the defaults, the environment, the command line (long names, short
 * aliases, bundles, positional arguments), and prints --help, --print-env and the JSON of the
 * settings from the same rows. Startup only, main thread.
 */
#include "opt_table.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One parse: the table, the struct it fills, what was given, and which LIST rows a flag already reset. */
typedef struct opt_state {
    const opt_table *t;
    void *dst;
    opt_parsed *out;
    bool list_from_argv[OPT_MAX_ROWS];
    char *msg;
    size_t msg_len;
} opt_state;

int opt_fail(char *msg, size_t msg_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msg_len, fmt, ap);
    va_end(ap);
    return -1;
}

static void env_name(const opt_table *t, const opt_row *r, char *out, size_t outlen)
{
    size_t j = (size_t)snprintf(out, outlen, "%s", t->env_prefix ? t->env_prefix : "");
    for (size_t i = 0; r->name[i] && j + 1 < outlen; i++)
        out[j++] = r->name[i] == '-' ? '_' : (char)toupper((unsigned char)r->name[i]);
    out[j < outlen ? j : outlen - 1] = '\0';
}

/* A duration in ms as the shortest exact text: "86400s", "100ms", "0". */
static const char *dur_text(double ms, char *buf, size_t len)
{
    long long v = (long long)ms;
    if (v != 0 && v % 1000 == 0)
        snprintf(buf, len, "%llds", v / 1000);
    else
        snprintf(buf, len, "%lld%s", v, v ? "ms" : "");
    return buf;
}

static const char *type_desc(const opt_row *r, char *buf, size_t len)
{
    char lo[32], hi[32];
    switch (r->type) {
    case OPT_LIST:
        snprintf(buf, len, "%s, repeatable (at most %.0f)", r->arg ? r->arg : "text", r->max);
        return buf;
    case OPT_STR:
        return r->arg ? r->arg : "string";
    case OPT_INT:
        snprintf(buf, len, "integer %.0f..%.0f", r->min, r->max);
        return buf;
    case OPT_REAL:
        snprintf(buf, len, "number %g..%g", r->min, r->max);
        return buf;
    case OPT_BYTES:
        snprintf(buf, len, "bytes %.0f..%.0f (or with KiB/MiB/GiB)", r->min, r->max);
        return buf;
    case OPT_DURATION:
        snprintf(buf, len, "duration %s..%s (seconds, or with ms, s, m)", dur_text(r->min, lo, sizeof(lo)),
                 dur_text(r->max, hi, sizeof(hi)));
        return buf;
    case OPT_BOOL:
        return "on|off";
    case OPT_FLAG:
        return "flag (no value; on|off in the environment)";
    case OPT_ENUM:
        snprintf(buf, len, "one of %s", r->choices);
        return buf;
    }
    return "";
}

static void store_int(const opt_row *r, void *dst, long long v)
{
    char *p = (char *)dst + r->off;
    if (r->size == sizeof(int))
        *(int *)p = (int)v;
    else
        *(long long *)p = v;
}

static long long load_int(const opt_row *r, const void *src)
{
    const char *p = (const char *)src + r->off;
    return r->size == sizeof(int) ? *(const int *)p : *(const long long *)p;
}

/* The multiplier of a unit (case-insensitive), or 0. */
static double unit_mult(const char *unit, const char *const *names, const double *mults, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(unit, names[i]) == 0)
            return mults[i];
    return 0;
}

/* A number with an optional unit from names (none = mults[0]) -> value * unit; -1 if not one. */
static int parse_scaled(const char *v, bool decimal, const char *const *names, const double *mults, size_t n, double *out)
{
    char *end;
    double x, mult = 1;
    errno = 0;
    if (decimal)
        x = strtod(v, &end);
    else
        x = (double)strtoll(v, &end, 10);
    if (errno != 0 || end == v || !isfinite(x))
        return -1;
    if (n > 0 && (mult = unit_mult(*end ? end : names[0], names, mults, n)) == 0)
        return -1;
    if (n == 0 && *end != '\0')
        return -1;
    *out = x * mult;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const on[] = {"on", "true", "yes", "1"}, *const off[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, on[i]) == 0 || strcasecmp(v, off[i]) == 0) {
            *out = strcasecmp(v, on[i]) == 0;
            return 0;
        }
    }
    return -1;
}

static int parse_enum(const opt_row *r, const char *v)
{
    const char *c = r->choices;
    size_t vl = strlen(v);
    for (int idx = 0; *c; idx++) {
        size_t l = strcspn(c, ",");
        if (l == vl && strncasecmp(c, v, l) == 0)
            return idx;
        c += l + (c[l] == ',');
    }
    return -1;
}

/* A number-like value -> the field, within the row's range. */
static int set_number(const opt_row *r, void *dst, const char *v)
{
    static const char *const bytes[] = {"", "B", "K", "KiB", "KB", "M", "MiB", "MB", "G", "GiB", "GB"};
    static const double bmult[] = {1, 1, 0x1p10, 0x1p10, 0x1p10, 0x1p20, 0x1p20, 0x1p20, 0x1p30, 0x1p30, 0x1p30};
    static const char *const dur[] = {"s", "ms", "m"};
    static const double dmult[] = {1000, 1, 60000};
    double x;
    int rc = r->type == OPT_BYTES      ? parse_scaled(v, false, bytes, bmult, sizeof(bmult) / sizeof(bmult[0]), &x)
             : r->type == OPT_DURATION ? parse_scaled(v, true, dur, dmult, 3, &x)
                                       : parse_scaled(v, r->type == OPT_REAL, NULL, NULL, 0, &x);
    if (rc != 0)
        return -1;
    if (r->type == OPT_DURATION)
        x = round(x);
    if (x < r->min || x > r->max)
        return -1;
    if (r->type == OPT_REAL)
        *(double *)((char *)dst + r->off) = x;
    else
        store_int(r, dst, (long long)x);
    return 0;
}

static void list_reset(opt_list *l)
{
    free(l->owned);
    memset(l, 0, sizeof(*l));
}

static int list_add(const opt_row *r, opt_list *l, const char *item, const char *source, char *msg, size_t msg_len)
{
    if (l->n >= (int)r->max || l->n >= OPT_LIST_MAX)
        return opt_fail(msg, msg_len, "%s: given more than %.0f time%s", source, r->max, r->max == 1 ? "" : "s");
    l->v[l->n++] = item;
    return 0;
}

/* A comma-separated default or environment value: its items, copied (spaces around them dropped). */
static int list_split(const opt_row *r, opt_list *l, const char *v, const char *source, char *msg, size_t msg_len)
{
    list_reset(l);
    if ((l->owned = strdup(v)) == NULL)
        return opt_fail(msg, msg_len, "%s: out of memory", source);
    char *save = NULL;
    for (char *tok = strtok_r(l->owned, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        for (char *e = tok + strlen(tok); e > tok && e[-1] == ' ';)
            *--e = '\0';
        if (*tok != '\0' && list_add(r, l, tok, source, msg, msg_len) != 0)
            return -1;
    }
    return 0;
}

/* Set one row from text. split: a LIST value is a comma-separated list (default, environment), else
 * one item. source ("--name", "-x", "IMGPIPE_NAME", "default") names it in messages. */
static int set_value(const opt_row *r, void *dst, const char *v, bool split, const char *source, char *msg, size_t msg_len)
{
    char desc[160];
    char *field = (char *)dst + r->off;
    int idx;
    bool b;
    switch (r->type) {
    case OPT_LIST:
        if (split)
            return list_split(r, (opt_list *)field, v, source, msg, msg_len);
        return list_add(r, (opt_list *)field, v, source, msg, msg_len);
    case OPT_STR:
        *(const char **)field = *v ? v : NULL;
        return 0;
    case OPT_BOOL:
    case OPT_FLAG:
        if (parse_bool(v, &b) != 0)
            return opt_fail(msg, msg_len, "%s: '%s' is not allowed: on or off expected", source, v);
        *(bool *)field = b;
        return 0;
    case OPT_ENUM:
        if ((idx = parse_enum(r, v)) < 0)
            break;
        *(int *)field = idx;
        return 0;
    default:
        if (set_number(r, dst, v) == 0)
            return 0;
    }
    return opt_fail(msg, msg_len, "%s: '%s' is not allowed: %s expected", source, v, type_desc(r, desc, sizeof(desc)));
}

/* set_value, then the row's own check of each value. */
static int set_checked(const opt_row *r, void *dst, const char *v, bool split, const char *source, char *msg, size_t msg_len)
{
    char why[256] = "";
    if (set_value(r, dst, v, split, source, msg, msg_len) != 0)
        return -1;
    if (r->check == NULL)
        return 0;
    if (r->type == OPT_LIST) {
        const opt_list *l = (const opt_list *)((char *)dst + r->off);
        for (int i = split ? 0 : l->n - 1; i < l->n; i++)
            if (r->check(l->v[i], why, sizeof(why)) != 0)
                return opt_fail(msg, msg_len, "%s: '%s': %s", source, l->v[i], why);
        return 0;
    }
    if (*v != '\0' && r->check(v, why, sizeof(why)) != 0)
        return opt_fail(msg, msg_len, "%s: '%s': %s", source, v, why);
    return 0;
}

static int apply_defaults(opt_state *st)
{
    for (size_t i = 0; i < st->t->n_rows; i++) {
        const opt_row *r = &st->t->rows[i];
        if (r->def != NULL && *r->def != '\0' && set_value(r, st->dst, r->def, true, "default", st->msg, st->msg_len) != 0)
            return -1;
    }
    return 0;
}

static int apply_env(opt_state *st)
{
    char env[96];
    if (st->t->env_prefix == NULL)
        return 0;
    for (size_t i = 0; i < st->t->n_rows; i++) {
        const opt_row *r = &st->t->rows[i];
        const char *v;
        env_name(st->t, r, env, sizeof(env));
        if ((v = getenv(env)) == NULL || (*v == '\0' && r->type != OPT_STR))
            continue;
        if (set_checked(r, st->dst, v, true, env, st->msg, st->msg_len) != 0)
            return -1;
        st->out->given[i] = true;
    }
    return 0;
}

/* One row from the command line; val is NULL for a flag. */
static int apply_arg(opt_state *st, const opt_row *r, const char *val, const char *source)
{
    size_t i = (size_t)(r - st->t->rows);
    st->out->given[i] = true;
    if (r->type == OPT_FLAG) {
        *(bool *)((char *)st->dst + r->off) = true;
        return 0;
    }
    if (r->type == OPT_LIST && !st->list_from_argv[i]) { /* the first flag replaces the default's and env's list */
        list_reset((opt_list *)((char *)st->dst + r->off));
        st->list_from_argv[i] = true;
    }
    return set_checked(r, st->dst, val, false, source, st->msg, st->msg_len);
}

const opt_row *opt_find(const opt_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_rows; i++)
        if (strcmp(t->rows[i].name, name) == 0)
            return &t->rows[i];
    return NULL;
}

static const opt_row *find_len(const opt_table *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n_rows; i++)
        if (strlen(t->rows[i].name) == len && strncmp(t->rows[i].name, name, len) == 0)
            return &t->rows[i];
    return NULL;
}

/* "--name", "--name=value" or "--name value" (then *a moves past the value). 1: --help / --print-env printed. */
static int parse_long(opt_state *st, int argc, char **argv, int *a)
{
    const char *arg = argv[*a], *name = arg + 2, *val = NULL;
    size_t nlen = strcspn(name, "=");
    char source[96];
    if (name[nlen] == '=')
        val = name + nlen + 1;
    if (strcmp(arg, "--help") == 0) {
        opt_help(st->t, stdout);
        return 1;
    }
    if (strcmp(arg, "--print-env") == 0 && st->t->env_prefix != NULL) {
        opt_print_env(st->t, stdout);
        return 1;
    }
    const opt_row *r = find_len(st->t, name, nlen);
    if (r == NULL)
        return opt_fail(st->msg, st->msg_len, "unknown setting '%s' (see %s --help)", arg, st->t->command);
    snprintf(source, sizeof(source), "--%s", r->name);
    if (r->type == OPT_FLAG && val != NULL)
        return opt_fail(st->msg, st->msg_len, "%s takes no value (see %s --help)", source, st->t->command);
    if (r->type != OPT_FLAG && val == NULL) {
        if (*a + 1 >= argc)
            return opt_fail(st->msg, st->msg_len, "%s needs a value (see %s --help)", source, st->t->command);
        val = argv[++*a];
    }
    return apply_arg(st, r, val, source);
}

/* "-x", "-xVALUE", "-x VALUE", "-rq0" (flags bundled, the last may take a value). */
static int parse_short(opt_state *st, int argc, char **argv, int *a)
{
    const char *arg = argv[*a];
    for (const char *p = arg + 1; *p; p++) {
        const opt_row *r = NULL;
        char source[8];
        if (*p == 'h') {
            opt_help(st->t, stdout);
            return 1;
        }
        for (size_t i = 0; i < st->t->n_rows && r == NULL; i++)
            r = st->t->rows[i].alias == *p ? &st->t->rows[i] : NULL;
        if (r == NULL)
            return opt_fail(st->msg, st->msg_len, "unknown option '-%c' in '%s' (see %s --help)", *p, arg, st->t->command);
        snprintf(source, sizeof(source), "-%c", *p);
        if (r->type == OPT_FLAG) {
            if (apply_arg(st, r, NULL, source) != 0)
                return -1;
            continue;
        }
        if (p[1] != '\0')
            return apply_arg(st, r, p + 1, source);
        if (*a + 1 >= argc)
            return opt_fail(st->msg, st->msg_len, "%s needs a value (see %s --help)", source, st->t->command);
        return apply_arg(st, r, argv[++*a], source);
    }
    return 0;
}

/* Options anywhere; positional arguments moved, in order, to argv[1..]. */
static int apply_argv(opt_state *st, int argc, char **argv)
{
    int n_args = 0, rc = 0;
    bool options = true;
    for (int a = 1; a < argc && rc == 0; a++) {
        char *arg = argv[a];
        if (options && strcmp(arg, "--") == 0)
            options = false;
        else if (options && strncmp(arg, "--", 2) == 0)
            rc = parse_long(st, argc, argv, &a);
        else if (options && arg[0] == '-' && arg[1] != '\0')
            rc = parse_short(st, argc, argv, &a);
        else if (st->t->args == NULL)
            rc = opt_fail(st->msg, st->msg_len, "unexpected argument '%s' (settings are --name value; see %s --help)", arg,
                          st->t->command);
        else
            argv[1 + n_args++] = arg; /* never past a: only read entries are overwritten */
    }
    st->out->args = argv + 1;
    st->out->n_args = n_args;
    return rc;
}

int opt_parse(const opt_table *t, int argc, char **argv, void *dst, opt_parsed *out, char *msg, size_t msg_len)
{
    opt_parsed local;
    opt_state st = {.t = t, .dst = dst, .out = out ? out : &local, .msg = msg, .msg_len = msg_len};
    memset(st.out, 0, sizeof(*st.out));
    if (t->n_rows > OPT_MAX_ROWS)
        return opt_fail(msg, msg_len, "%s: settings table has %zu rows, at most %d", t->command, t->n_rows, OPT_MAX_ROWS);
    if (apply_defaults(&st) != 0 || apply_env(&st) != 0)
        return -1;
    return apply_argv(&st, argc, argv);
}

void opt_free(const opt_table *t, void *dst)
{
    for (size_t i = 0; i < t->n_rows; i++)
        if (t->rows[i].type == OPT_LIST)
            list_reset((opt_list *)((char *)dst + t->rows[i].off));
}

const char *opt_enum_name(const opt_row *r, int idx, int *len)
{
    const char *c = r->choices;
    for (int k = 0; k < idx && c; k++)
        c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
    *len = c ? (int)strcspn(c, ",") : 0;
    return c ? c : "";
}

/* "-x, --name ARG" (aliases: the table has some, so "    " stands for a missing one): --help's first column. */
static void help_flag(const opt_row *r, bool aliases, char *buf, size_t len)
{
    static const char *const args[] = {[OPT_LIST] = "VALUE", [OPT_STR] = "VALUE",     [OPT_INT] = "N",       [OPT_REAL] = "X",
                                       [OPT_BYTES] = "SIZE", [OPT_DURATION] = "TIME", [OPT_BOOL] = "on|off", [OPT_FLAG] = NULL};
    const char *arg = r->arg ? r->arg : r->type == OPT_ENUM ? r->choices : args[r->type];
    char alias[8] = "";
    int n;
    if (aliases)
        snprintf(alias, sizeof(alias), r->alias ? "-%c, " : "    ", r->alias);
    n = snprintf(buf, len, "%s--%s%s%s", alias, r->name, arg ? " " : "", arg ? arg : "");
    for (char *p = buf + n - (arg ? strlen(arg) : 0); r->type == OPT_ENUM && r->arg == NULL && *p; p++)
        *p = *p == ',' ? '|' : *p; /* choices: a|b|c */
}

void opt_help(const opt_table *t, FILE *out)
{
    char flag[160], env[96], desc[160];
    int wflag = 0, wenv = 0;
    bool aliases = false;
    for (size_t i = 0; i < t->n_rows; i++)
        aliases |= t->rows[i].alias != 0;
    /* Columns as wide as the longest flag and variable name, so no name runs into the description. */
    for (size_t i = 0; i < t->n_rows; i++) {
        help_flag(&t->rows[i], aliases, flag, sizeof(flag));
        env_name(t, &t->rows[i], env, sizeof(env));
        wflag = (int)strlen(flag) > wflag ? (int)strlen(flag) : wflag;
        wenv = (int)strlen(env) > wenv ? (int)strlen(env) : wenv;
    }
    fputs(t->intro, out);
    for (size_t i = 0; i < t->n_rows; i++) {
        const opt_row *r = &t->rows[i];
        const char *sep = t->env_prefix ? "  " : ""; /* the env column and its gap, when there is one */
        help_flag(r, aliases, flag, sizeof(flag));
        env_name(t, r, env, sizeof(env));
        fprintf(out, "  %-*s  %-*s%s%s\n", wflag, flag, t->env_prefix ? wenv : 0, t->env_prefix ? env : "", sep, r->help);
        bool has_def = r->def != NULL && *r->def != '\0';
        if (r->type == OPT_FLAG || ((r->type == OPT_STR || r->type == OPT_LIST) && !has_def))
            continue; /* the first line says it all */
        fprintf(out, "  %*s  %*s%s%s%s%s\n", wflag, "", t->env_prefix ? wenv : 0, "", sep, type_desc(r, desc, sizeof(desc)),
                has_def ? "; default " : "", has_def ? r->def : "");
    }
    fprintf(out, "\n  %-*s  %s\n", wflag, "-h, --help", "this text");
    if (t->env_prefix)
        fprintf(out, "  %-*s  print an env file (%s*=default, with comments) generated from this table\n", wflag, "--print-env",
                t->env_prefix);
    if (t->outro)
        fputs(t->outro, out);
}

void opt_print_env(const opt_table *t, FILE *out)
{
    char env[96], desc[160];
    fprintf(out,
            "# %s settings (generated by `%s --print-env`).\n"
            "# Each line sets the default; edit, or delete a line to keep the built-in default.\n\n",
            t->command, t->command);
    for (size_t i = 0; i < t->n_rows; i++) {
        const opt_row *r = &t->rows[i];
        env_name(t, r, env, sizeof(env));
        if (r->type == OPT_LIST)
            snprintf(desc, sizeof(desc), "%s list, comma-separated (at most %.0f)", r->arg ? r->arg : "string", r->max);
        fprintf(out, "# %s\n# %s\n%s=%s\n\n", r->help, r->type == OPT_LIST ? desc : type_desc(r, desc, sizeof(desc)), env,
                r->def ? r->def : "");
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_value(const opt_row *r, const void *src, FILE *f)
{
    const char *field = (const char *)src + r->off;
    int len;
    switch (r->type) {
    case OPT_LIST: {
        const opt_list *l = (const opt_list *)field;
        fputc('[', f);
        for (int j = 0; j < l->n; j++) {
            fputs(j ? "," : "", f);
            json_str(f, l->v[j]);
        }
        fputc(']', f);
        return;
    }
    case OPT_STR: {
        const char *v = *(const char *const *)field;
        if (v == NULL)
            fputs("null", f);
        else
            json_str(f, r->secret ? "(set)" : v);
        return;
    }
    case OPT_REAL:
        fprintf(f, "%g", *(const double *)field);
        return;
    case OPT_BOOL:
    case OPT_FLAG:
        fputs(*(const bool *)field ? "true" : "false", f);
        return;
    case OPT_ENUM: {
        const char *c = opt_enum_name(r, *(const int *)field, &len);
        fprintf(f, "\"%.*s\"", len, c);
        return;
    }
    default:
        fprintf(f, "%lld", load_int(r, src));
    }
}

void opt_json(const opt_table *t, const void *src, FILE *out)
{
    for (size_t i = 0; i < t->n_rows; i++) {
        const opt_row *r = &t->rows[i];
        fprintf(out, "%s\"%s%s\":", i ? "," : "", r->name, r->type == OPT_DURATION ? "_ms" : "");
        json_value(r, src, out);
    }
}
