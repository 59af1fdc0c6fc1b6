/*
 * prom_check: the Prometheus text-format checker of the ops tests (prom_check.h): a line parser
 * filling a prom value, then the histogram rules over the series it holds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_check.h"

static int prom_name_ok(const char *s, size_t n, int allow_colon)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

prom_family *prom_fam_find(prom *p, const char *name)
{
    for (int i = 0; i < p->nf; i++)
        if (strcmp(p->f[i].name, name) == 0)
            return &p->f[i];
    return NULL;
}

static int prom_parse_value(const char *s, double *out)
{
    if (strcmp(s, "+Inf") == 0) {
        *out = INFINITY;
        return 0;
    }
    if (strcmp(s, "-Inf") == 0) {
        *out = -INFINITY;
        return 0;
    }
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    char *end;
    *out = strtod(s, &end);
    return (*s && *end == '\0') ? 0 : -1;
}

/* The family a sample belongs to: histograms own name_bucket/_sum/_count. */
static prom_family *prom_sample_family(prom *p, const char *name, const char **suffix)
{
    prom_family *f = prom_fam_find(p, name);
    *suffix = "";
    if (f)
        return f;
    static const char *sfx[] = {"_bucket", "_sum", "_count"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(sfx[i]);
        if (n > k && strcmp(name + n - k, sfx[i]) == 0) {
            char base[128];
            snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
            f = prom_fam_find(p, base);
            if (f && strcmp(f->type, "histogram") == 0) {
                *suffix = sfx[i];
                return f;
            }
        }
    }
    return NULL;
}

static int prom_fail(prom *p, int line, const char *what, const char *text)
{
    snprintf(p->err, sizeof(p->err), "line %d: %s: %.200s", line, what, text);
    return -1;
}

static int prom_parse_sample(prom *p, int lineno, char *line)
{
    prom_series *s = &p->s[p->n];
    memset(s, 0, sizeof(*s));
    char *q = line;
    while (*q && *q != '{' && *q != ' ')
        q++;
    if (!prom_name_ok(line, (size_t)(q - line), 1) || (size_t)(q - line) >= sizeof(s->name))
        return prom_fail(p, lineno, "bad metric name", line);
    memcpy(s->name, line, (size_t)(q - line));
    if (*q == '{') {
        q++;
        size_t lo = 0, lno = 0;
        while (*q != '}') {
            char *ln = q;
            while (*q && *q != '=')
                q++;
            if (*q != '=' || !prom_name_ok(ln, (size_t)(q - ln), 0))
                return prom_fail(p, lineno, "bad label name", line);
            size_t lnlen = (size_t)(q - ln);
            if (q[1] != '"')
                return prom_fail(p, lineno, "label value not quoted", line);
            char *vs = q + 2, *v = vs;
            char val[256];
            size_t vl = 0;
            while (*v && *v != '"') {
                if (*v == '\\') {
                    if (v[1] != '\\' && v[1] != '"' && v[1] != 'n')
                        return prom_fail(p, lineno, "bad escape in label value", line);
                    v++;
                }
                if (vl < sizeof(val) - 1)
                    val[vl++] = *v;
                v++;
            }
            val[vl] = '\0';
            if (*v != '"')
                return prom_fail(p, lineno, "unterminated label value", line);
            int is_le = lnlen == 2 && strncmp(ln, "le", 2) == 0;
            lo += (size_t)snprintf(s->labels + lo, sizeof(s->labels) - lo, "%s%.*s", lo ? "," : "", (int)(v + 1 - ln), ln);
            if (is_le)
                snprintf(s->le, sizeof(s->le), "%.31s", val);
            else
                lno += (size_t)snprintf(s->labels_no_le + lno, sizeof(s->labels_no_le) - lno, "%s%.*s", lno ? "," : "",
                                        (int)(v + 1 - ln), ln);
            q = v + 1;
            if (*q == ',')
                q++;
            else if (*q != '}')
                return prom_fail(p, lineno, "expected , or } after label", line);
        }
        q++;
    }
    if (*q != ' ')
        return prom_fail(p, lineno, "expected one space before the value", line);
    q++;
    char *sp = strchr(q, ' ');
    if (sp)
        *sp = '\0'; /* a timestamp may follow; we never write one */
    if (prom_parse_value(q, &s->value) != 0)
        return prom_fail(p, lineno, "bad sample value", line);
    if (sp)
        return prom_fail(p, lineno, "unexpected timestamp", line);

    const char *suffix;
    prom_family *f = prom_sample_family(p, s->name, &suffix);
    if (!f)
        return prom_fail(p, lineno, "sample without a preceding # TYPE of its family", line);
    if (strcmp(f->type, "counter") == 0 && strcmp(s->name + strlen(s->name) - 6, "_total") != 0)
        return prom_fail(p, lineno, "counter not named *_total", line);
    if (strcmp(f->type, "histogram") == 0) {
        if (!*suffix)
            return prom_fail(p, lineno, "histogram sample without _bucket/_sum/_count", line);
        if ((strcmp(suffix, "_bucket") == 0) != (s->le[0] != '\0'))
            return prom_fail(p, lineno, "le label on a non-bucket or bucket without le", line);
    }
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->s[i].name, s->name) == 0 && strcmp(p->s[i].labels, s->labels) == 0)
            return prom_fail(p, lineno, "duplicate series", line);
    if (++p->n >= PROM_MAX_SERIES)
        return prom_fail(p, lineno, "too many series", line);
    return 0;
}

static int prom_check_histograms(prom *p)
{
    for (int fi = 0; fi < p->nf; fi++) {
        prom_family *f = &p->f[fi];
        if (strcmp(f->type, "histogram") != 0)
            continue;
        char bname[160], sname[160], cname[160];
        snprintf(bname, sizeof(bname), "%s_bucket", f->name);
        snprintf(sname, sizeof(sname), "%s_sum", f->name);
        snprintf(cname, sizeof(cname), "%s_count", f->name);
        /* each distinct label set (without le) of the buckets is one histogram */
        for (int i = 0; i < p->n; i++) {
            if (strcmp(p->s[i].name, bname) != 0)
                continue;
            int first = 1;
            for (int j = 0; j < i; j++)
                if (strcmp(p->s[j].name, bname) == 0 && strcmp(p->s[j].labels_no_le, p->s[i].labels_no_le) == 0)
                    first = 0;
            if (!first)
                continue;
            double prev_le = -INFINITY, prev_v = -1, inf_v = -1;
            int ended = 0;
            for (int j = i; j < p->n; j++) {
                if (strcmp(p->s[j].name, bname) != 0 || strcmp(p->s[j].labels_no_le, p->s[i].labels_no_le) != 0)
                    continue;
                double le;
                if (ended)
                    return prom_fail(p, 0, "bucket after le=+Inf", p->s[j].labels);
                if (prom_parse_value(p->s[j].le, &le) != 0 || !(le > prev_le))
                    return prom_fail(p, 0, "bucket bounds not increasing", p->s[j].labels);
                if (p->s[j].value < prev_v)
                    return prom_fail(p, 0, "bucket counts not cumulative", p->s[j].labels);
                prev_le = le;
                prev_v = p->s[j].value;
                if (isinf(le)) {
                    ended = 1;
                    inf_v = p->s[j].value;
                }
            }
            if (!ended)
                return prom_fail(p, 0, "histogram does not end with le=+Inf", p->s[i].labels_no_le);
            int have_sum = 0, have_count = 0;
            for (int j = 0; j < p->n; j++) {
                if (strcmp(p->s[j].labels, p->s[i].labels_no_le) != 0)
                    continue;
                if (strcmp(p->s[j].name, sname) == 0)
                    have_sum = 1;
                if (strcmp(p->s[j].name, cname) == 0) {
                    have_count = 1;
                    if (p->s[j].value != inf_v)
                        return prom_fail(p, 0, "_count differs from the +Inf bucket", p->s[i].labels_no_le);
                }
            }
            if (!have_sum || !have_count)
                return prom_fail(p, 0, "histogram without _sum or _count", f->name);
        }
    }
    return 0;
}

int prom_parse(prom *p, const char *text, size_t len)
{
    memset(p, 0, sizeof(*p));
    if (len == 0 || text[len - 1] != '\n')
        return prom_fail(p, 0, "text must end with a newline", "");
    char *copy = strndup(text, len);
    int lineno = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (line[0] == '#') {
            char kw[8] = "", name[128] = "", rest[256] = "";
            int n = sscanf(line, "# %7s %127s %255[^\n]", kw, name, rest);
            if (strcmp(kw, "HELP") != 0 && strcmp(kw, "TYPE") != 0)
                continue; /* other comments are allowed */
            if (n < 3 || !prom_name_ok(name, strlen(name), 1)) {
                rc = prom_fail(p, lineno, "bad HELP/TYPE line", line);
                break;
            }
            prom_family *f = prom_fam_find(p, name);
            if (!f) {
                for (int i = 0; i < p->n; i++)
                    if (strncmp(p->s[i].name, name, strlen(name)) == 0 && strcmp(kw, "TYPE") == 0)
                        rc = prom_fail(p, lineno, "TYPE after samples of the family", line);
                if (p->nf >= PROM_MAX_FAMILIES) {
                    rc = prom_fail(p, lineno, "too many families", line);
                    break;
                }
                f = &p->f[p->nf++];
                snprintf(f->name, sizeof(f->name), "%s", name);
            }
            if (strcmp(kw, "HELP") == 0) {
                if (f->has_help++)
                    rc = prom_fail(p, lineno, "second HELP for a family", line);
            } else {
                if (f->type[0])
                    rc = prom_fail(p, lineno, "second TYPE for a family", line);
                else if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram") && strcmp(rest, "summary") &&
                         strcmp(rest, "untyped"))
                    rc = prom_fail(p, lineno, "unknown TYPE", line);
                else
                    snprintf(f->type, sizeof(f->type), "%s", rest);
            }
            continue;
        }
        rc = prom_parse_sample(p, lineno, line);
    }
    free(copy);
    if (rc == 0)
        rc = prom_check_histograms(p);
    return rc;
}

double prom_get(const prom *p, const char *name, const char *labels)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->s[i].name, name) == 0 && strcmp(p->s[i].labels, labels) == 0)
            return p->s[i].value;
    return -1;
}
