/*
 * pl_params_values: the syntax of one decoded value (pl_params.h), with the rules of imaginary's
 * parsers (Go): numbers as strconv.ParseFloat (decimal only), booleans as strconv.ParseBool
 * (empty = false), colours "R,G,B[,A]", ratios "W:H", words trimmed and case-insensitive; and
 * the ", "-separated word lists of messages. Ranges and where a value goes are pl_params.c's.
 * The bottom of pl_params: it calls nothing else of the grammar.
 *
 * Threads: pure functions.
 */
#include "pl_params.h"

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Go's ParseFloat syntax, decimal only: [+-] digits [. digits] [e [+-] digits]. Rejects hex, inf,
 * nan, spaces. */
int pl_grammar_parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    size_t i = 0, digits = 0;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < len && g_ascii_isdigit(s[i]))
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && g_ascii_isdigit(s[i]))
            i++, digits++;
    }
    if (digits == 0)
        return -1;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < len && g_ascii_isdigit(s[i]))
            i++, exp_digits++;
        if (exp_digits == 0)
            return -1;
    }
    if (i != len)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    double v = g_ascii_strtod(buf, NULL);
    if (!isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Go's strconv.ParseBool's words. */
static const char *const pl_bool_yes[] = {"1", "t", "T", "TRUE", "true", "True"};
static const char *const pl_bool_no[] = {"0", "f", "F", "FALSE", "false", "False"};

int pl_grammar_parse_bool(const char *s, size_t len, bool *out)
{
    if (len == 0) {
        *out = false;
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(pl_bool_yes); i++) {
        if (strlen(pl_bool_yes[i]) == len && memcmp(pl_bool_yes[i], s, len) == 0) {
            *out = true;
            return 0;
        }
        if (strlen(pl_bool_no[i]) == len && memcmp(pl_bool_no[i], s, len) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Trim ASCII spaces (Go's strings.Trim(s, " ") and TrimSpace for the enums). */
static void pl_trim(const char **s, size_t *len)
{
    while (*len > 0 && g_ascii_isspace((*s)[0]))
        (*s)++, (*len)--;
    while (*len > 0 && g_ascii_isspace((*s)[*len - 1]))
        (*len)--;
}

static bool pl_word_eq(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && g_ascii_strncasecmp(s, word, len) == 0;
}

int pl_grammar_parse_color(const char *s, size_t len, pl_color *out)
{
    int parts[4], n = 0;
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < len && s[i] != ',')
            i++;
        const char *part = s + start;
        size_t plen = i - start;
        pl_trim(&part, &plen);
        if (n == 4 || plen == 0 || plen > 3)
            return -1;
        int v = 0;
        for (size_t k = 0; k < plen; k++) {
            if (!g_ascii_isdigit(part[k]))
                return -1;
            v = v * 10 + (part[k] - '0');
        }
        if (v > 255)
            return -1;
        parts[n++] = v;
        if (i == len)
            break;
        i++; /* skip ',' */
    }
    if (n < 3)
        return -1;
    out->r = (uint8_t)parts[0];
    out->g = (uint8_t)parts[1];
    out->b = (uint8_t)parts[2];
    out->a = n == 4 ? (uint8_t)parts[3] : 255;
    return 0;
}

int pl_grammar_parse_ratio(const char *s, size_t len, int *w, int *h)
{
    const char *colon = memchr(s, ':', len);
    if (colon == NULL)
        return -1;
    int v[2];
    const char *seg[2] = {s, colon + 1};
    size_t seglen[2] = {(size_t)(colon - s), len - (size_t)(colon - s) - 1};
    for (int k = 0; k < 2; k++) {
        const char *t = seg[k];
        size_t tl = seglen[k];
        pl_trim(&t, &tl);
        if (tl == 0 || tl > 5)
            return -1;
        v[k] = 0;
        for (size_t i = 0; i < tl; i++) {
            if (!g_ascii_isdigit(t[i]))
                return -1;
            v[k] = v[k] * 10 + (t[i] - '0');
        }
        if (v[k] < 1 || v[k] > 10000)
            return -1;
    }
    *w = v[0];
    *h = v[1];
    return 0;
}

/* Trimmed, case-insensitive, as imaginary's enum parsers. */
int pl_grammar_parse_word(const pl_word *t, size_t n, const char *s, size_t len, int *out)
{
    pl_trim(&s, &len);
    for (size_t i = 0; i < n; i++)
        if (pl_word_eq(s, len, t[i].word)) {
            *out = t[i].value;
            return 0;
        }
    return -1;
}

size_t pl_grammar_list_add(char *out, size_t size, size_t o, const char *word)
{
    if (o >= size)
        return size;
    int n = snprintf(out + o, size - o, "%s%s", o ? ", " : "", word);
    if (n < 0 || (size_t)n >= size - o) {
        out[o] = '\0';
        return size;
    }
    return o + (size_t)n;
}

const char *pl_grammar_bool_words(char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < G_N_ELEMENTS(pl_bool_yes); i++)
        o = pl_grammar_list_add(out, size, o, pl_bool_yes[i]);
    for (size_t i = 0; i < G_N_ELEMENTS(pl_bool_no); i++)
        o = pl_grammar_list_add(out, size, o, pl_bool_no[i]);
    return out;
}
