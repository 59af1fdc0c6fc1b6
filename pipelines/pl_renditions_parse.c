/*
 * pl_renditions_parse: the query grammar of /renditions. Each r= holds one output as a
 * URL-encoded transform query plus its name= ("r=w%3D640%26type%3Dwebp%26name%3Dhero"); every
 * r= is parsed by pl_plan_parse("transform", …) exactly as /transform would parse it, so an
 * output accepts what /transform accepts and is refused with the same message, prefixed with
 * the rendition's number and name. The other parameters are placeholders= (blurhash,
 * thumbhash, color, lqip), blurhash= (components, e.g. 4x3), info=, all= and the service's
 * field=, key=, sign=.
 *
 * Threads: pure; works on caller-owned memory and one temporary pl_plan on the heap.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_grammar_priv.h"
#include "pl_renditions.h"

#define PL_REND_KNOWN "r, placeholders, blurhash, info, all, field, key, sign"

/* %XX and '+' as the main grammar; out has room for len bytes. */
static int pl_rend_unescape(const char *s, size_t len, char *out, size_t *out_len, pl_error *err)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < len ? g_ascii_xdigit_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? g_ascii_xdigit_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                char q[16];
                pl_grammar_quote(s + i, len - i < 3 ? len - i : 3, q, sizeof(q));
                return pl_error_set(err, PL_E_PARAM, "invalid URL escape \"%s\" in the query: write %% as %%25", q);
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    *out_len = o;
    return 0;
}

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

/* One r= value (decoded once: the transform query, still encoded for its own values): takes
 * name= out, parses the rest as transform. tmp: a scratch plan. */
static int pl_rend_one(pl_renditions_spec *rs, int idx, char *q, size_t qlen, pl_plan *tmp, pl_error *err)
{
    char *rest = malloc(qlen + 1), *nbuf = malloc(qlen + 1);
    size_t rlen = 0, nlen = 0;
    bool named = false;
    int ret = -1;
    char *name = rs->names[idx];
    snprintf(name, PL_RENDITION_NAME_MAX, "r%d", idx + 1);
    if (rest == NULL || nbuf == NULL) {
        pl_error_set(err, PL_E_INTERNAL, "out of memory parsing the query");
        goto out;
    }
    for (size_t i = 0; i < qlen;) {
        size_t s = i;
        while (i < qlen && q[i] != '&')
            i++;
        size_t n = i - s;
        i++;
        if (n >= 5 && memcmp(q + s, "name=", 5) == 0) {
            if (named)
                continue; /* first occurrence wins, as everywhere */
            named = true;
            if (pl_rend_unescape(q + s + 5, n - 5, nbuf, &nlen, err) != 0)
                goto bad;
            if (!pl_rend_name_ok(nbuf, nlen)) {
                char qq[80];
                pl_grammar_quote(nbuf, nlen, qq, sizeof(qq));
                pl_error_set(err, PL_E_PARAM,
                             "invalid value \"%s\" for parameter \"name\": expected 1 to %d letters, digits, '-', '_' or '.' (not "
                             "first)",
                             qq, PL_RENDITION_NAME_MAX - 1);
                goto bad;
            }
            memcpy(name, nbuf, nlen);
            name[nlen] = '\0';
            continue;
        }
        if (n == 0)
            continue;
        if (rlen > 0)
            rest[rlen++] = '&';
        memcpy(rest + rlen, q + s, n);
        rlen += n;
    }
    rest[rlen] = '\0';
    for (int k = 0; k < idx; k++)
        if (strcmp(rs->names[k], name) == 0) {
            pl_error_set(err, PL_E_PARAM, "rendition %d (r=) has the name \"%s\" of rendition %d: names must differ", idx + 1, name,
                         k + 1);
            goto out;
        }
    if (pl_plan_parse("transform", rest, rlen, tmp, err) != 0)
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
    free(rest);
    free(nbuf);
    return ret;
}

int pl_renditions_parse(const char *query, size_t len, pl_plan *plan, pl_error *err)
{
    pl_renditions_spec *rs = &plan->rend;
    pl_plan *tmp = malloc(sizeof(*tmp));
    char *name = malloc(len + 1), *val = malloc(len + 1);
    uint32_t seen = 0;
    int ret = -1;
    plan->op = PL_OP_RENDITIONS;
    plan->n_steps = 1;
    plan->steps[0].op = PL_OP_RENDITIONS;
    rs->blurhash_x = 4;
    rs->blurhash_y = 3;
    if (tmp == NULL || name == NULL || val == NULL) {
        pl_error_set(err, PL_E_INTERNAL, "out of memory parsing the query");
        goto out;
    }
    for (size_t i = 0; query != NULL && i < len;) {
        size_t s = i;
        while (i < len && query[i] != '&')
            i++;
        const char *pair = query + s;
        size_t plen = i - s;
        i++;
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen, nlen, vlen = 0;
        if (pl_rend_unescape(pair, klen, name, &nlen, err) != 0 ||
            (eq != NULL && pl_rend_unescape(eq + 1, plen - klen - 1, val, &vlen, err) != 0))
            goto out;
        static const char *names[] = {"r", "placeholders", "blurhash", "info", "all", "field", "key", "sign"};
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
        default: /* key, sign: the service's */
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
    free(name);
    free(val);
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
