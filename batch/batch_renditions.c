/*
 * batch_renditions: several --do for each input, written from one decode. The specs become one
 * renditions plan (pl_renditions_parse_specs: each --do a transform step, its outputs named r1,
 * r2 … or by its name=), with all=true so that the engine stops at the first failing output and
 * the input fails whole; the --name template must then hold {r}. The engine answers a renditions
 * plan with one buffer (multipart/mixed: a JSON meta part, then one part per output in --do
 * order, each with Content-Type, Image-Width, Image-Height and Content-Length), the same bytes
 * whether it ran in this thread or in a worker process (svc_wproto passes a result as one
 * buffer): batch_renditions_split finds the outputs in it without copying them.
 *
 * Threads: setup runs on the main thread before any worker; split is pure.
 */
#include "batch_renditions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_renditions.h"

int batch_renditions_setup(batch_opts *opts, char *msg, size_t msg_len)
{
    if (opts->n_do < 2) {
        snprintf(msg, msg_len, "--name '%s': {r} names one of several outputs per input; with one --do leave it out", opts->name);
        return -1;
    }
    if (strstr(opts->name, "{r}") == NULL) {
        const char *ext = strstr(opts->name, ".{ext}");
        int stem = ext != NULL ? (int)(ext - opts->name) : (int)strlen(opts->name);
        snprintf(msg, msg_len,
                 "--name '%s': %d --do give every input %d outputs, which need different names: add {r} (the output's "
                 "name: r1, r2 … or the name= of its --do), e.g. -n '%.*s-{r}%s'",
                 opts->name, opts->n_do, opts->n_do, stem, opts->name, ext != NULL ? ext : "");
        return -1;
    }
    pl_error err;
    pl_error_clear(&err);
    if (pl_renditions_parse_specs(opts->do_specs, opts->n_do, &opts->plan, &err) != 0) {
        snprintf(msg, msg_len, "--do: %s", err.message);
        return -1;
    }
    opts->plan.rend.all = true; /* one failing output fails the input: no partial set is written */
    return 0;
}

/* The value of header key in a part's header block [h, hend), which starts with the "\r\n" that
 * ends the delimiter line and ends before the blank line's "\r\n". */
static const char *batch_part_header(const uint8_t *h, const uint8_t *hend, const char *key, size_t *vlen)
{
    char needle[64];
    int n = snprintf(needle, sizeof(needle), "\r\n%s: ", key);
    const uint8_t *k = memmem(h, (size_t)(hend - h), needle, (size_t)n);
    if (k == NULL)
        return NULL;
    const uint8_t *v = k + n, *e = memmem(v, (size_t)(hend + 2 - v), "\r\n", 2);
    *vlen = (size_t)(e - v);
    return (const char *)v;
}

static long long batch_part_number(const uint8_t *h, const uint8_t *hend, const char *key)
{
    size_t n = 0;
    const char *v = batch_part_header(h, hend, key, &n);
    char buf[24];
    if (v == NULL || n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end;
    long long x = strtoll(buf, &end, 10);
    return *end == '\0' && x >= 0 ? x : -1;
}

static pl_format batch_part_format(const uint8_t *h, const uint8_t *hend)
{
    size_t n = 0;
    const char *v = batch_part_header(h, hend, "Content-Type", &n);
    for (int f = PL_FMT_UNKNOWN + 1; v != NULL && f < PL_FMT__COUNT; f++) {
        const char *m = pl_format_mime((pl_format)f);
        if (m != NULL && strlen(m) == n && memcmp(m, v, n) == 0)
            return (pl_format)f;
    }
    return PL_FMT_UNKNOWN;
}

int batch_renditions_split(const uint8_t *body, size_t len, batch_part *parts, int n, char *msg, size_t msg_len)
{
    const uint8_t *p = body, *end = body + len;
    const uint8_t *eol = len > 2 && body[0] == '-' && body[1] == '-' ? memmem(body, len, "\r\n", 2) : NULL;
    size_t bd = eol != NULL ? (size_t)(eol - body) : 0; /* "--BOUNDARY" */
    int k = -1;                                         /* -1: the meta part */
    while (bd > 0 && (size_t)(end - p) >= bd + 2 && memcmp(p, body, bd) == 0) {
        const uint8_t *h = p + bd;
        if (h[0] == '-' && h[1] == '-') /* the closing delimiter */
            break;
        const uint8_t *hend = memmem(h, (size_t)(end - h), "\r\n\r\n", 4);
        long long clen = hend != NULL ? batch_part_number(h, hend, "Content-Length") : -1;
        const uint8_t *data = hend != NULL ? hend + 4 : end;
        if (clen < 0 || clen + 2 > end - data || k >= n)
            break;
        if (k >= 0) {
            batch_part *pt = &parts[k];
            *pt = (batch_part){.format = batch_part_format(h, hend),
                               .width = (int)batch_part_number(h, hend, "Image-Width"),
                               .height = (int)batch_part_number(h, hend, "Image-Height"),
                               .data = data,
                               .len = (size_t)clen};
            if (pt->format == PL_FMT_UNKNOWN || pt->width <= 0 || pt->height <= 0) {
                snprintf(msg, msg_len, "output %d failed: %.*s", k + 1, (int)(clen < 400 ? clen : 400), (const char *)data);
                return -1;
            }
        }
        k++;
        p = data + clen + 2; /* the part's "\r\n" */
    }
    if (k == n && (size_t)(end - p) >= bd + 2 && memcmp(p, body, bd) == 0 && p[bd] == '-' && p[bd + 1] == '-')
        return 0;
    snprintf(msg, msg_len, "the engine's renditions answer (%zu bytes) does not hold the %d outputs asked for", len, n);
    return -1;
}
