/*
 * test_metrics: svc_metrics renders valid Prometheus text (format 0.0.4) and its counters,
 * histograms and gauges move with the calls, including under concurrent writers.
 *
 * The checker below parses every line: HELP/TYPE comments (one TYPE per family, before its
 * samples), metric and label name charsets, label value escapes, sample values, counters named
 * *_total, no duplicate series, and for histograms: _bucket series with `le`, bounds increasing,
 * counts cumulative, a final le="+Inf" equal to _count, and a _sum.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "svc_metrics.h"
#include "tap.h"

/* ---- a small Prometheus text-format checker ---- */

#define MAX_SERIES 4096
#define MAX_FAMILIES 256

typedef struct series {
    char name[128];
    char labels[512]; /* canonical "a=\"x\",b=\"y\"" as written */
    char labels_no_le[512];
    char le[32];
    double value;
} series;

typedef struct family {
    char name[128];
    char type[16];
    int has_help;
} family;

typedef struct prom {
    series s[MAX_SERIES];
    int n;
    family f[MAX_FAMILIES];
    int nf;
    char err[512];
} prom;

static int name_ok(const char *s, size_t n, int allow_colon)
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

static family *fam_find(prom *p, const char *name)
{
    for (int i = 0; i < p->nf; i++)
        if (strcmp(p->f[i].name, name) == 0)
            return &p->f[i];
    return NULL;
}

static int parse_value(const char *s, double *out)
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
static family *sample_family(prom *p, const char *name, const char **suffix)
{
    family *f = fam_find(p, name);
    *suffix = "";
    if (f)
        return f;
    static const char *sfx[] = {"_bucket", "_sum", "_count"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(sfx[i]);
        if (n > k && strcmp(name + n - k, sfx[i]) == 0) {
            char base[128];
            snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
            f = fam_find(p, base);
            if (f && strcmp(f->type, "histogram") == 0) {
                *suffix = sfx[i];
                return f;
            }
        }
    }
    return NULL;
}

static int fail(prom *p, int line, const char *what, const char *text)
{
    snprintf(p->err, sizeof(p->err), "line %d: %s: %.200s", line, what, text);
    return -1;
}

static int parse_sample(prom *p, int lineno, char *line)
{
    series *s = &p->s[p->n];
    memset(s, 0, sizeof(*s));
    char *q = line;
    while (*q && *q != '{' && *q != ' ')
        q++;
    if (!name_ok(line, (size_t)(q - line), 1) || (size_t)(q - line) >= sizeof(s->name))
        return fail(p, lineno, "bad metric name", line);
    memcpy(s->name, line, (size_t)(q - line));
    if (*q == '{') {
        q++;
        size_t lo = 0, lno = 0;
        while (*q != '}') {
            char *ln = q;
            while (*q && *q != '=')
                q++;
            if (*q != '=' || !name_ok(ln, (size_t)(q - ln), 0))
                return fail(p, lineno, "bad label name", line);
            size_t lnlen = (size_t)(q - ln);
            if (q[1] != '"')
                return fail(p, lineno, "label value not quoted", line);
            char *vs = q + 2, *v = vs;
            char val[256];
            size_t vl = 0;
            while (*v && *v != '"') {
                if (*v == '\\') {
                    if (v[1] != '\\' && v[1] != '"' && v[1] != 'n')
                        return fail(p, lineno, "bad escape in label value", line);
                    v++;
                }
                if (vl < sizeof(val) - 1)
                    val[vl++] = *v;
                v++;
            }
            val[vl] = '\0';
            if (*v != '"')
                return fail(p, lineno, "unterminated label value", line);
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
                return fail(p, lineno, "expected , or } after label", line);
        }
        q++;
    }
    if (*q != ' ')
        return fail(p, lineno, "expected one space before the value", line);
    q++;
    char *sp = strchr(q, ' ');
    if (sp)
        *sp = '\0'; /* a timestamp may follow; we never write one */
    if (parse_value(q, &s->value) != 0)
        return fail(p, lineno, "bad sample value", line);
    if (sp)
        return fail(p, lineno, "unexpected timestamp", line);

    const char *suffix;
    family *f = sample_family(p, s->name, &suffix);
    if (!f)
        return fail(p, lineno, "sample without a preceding # TYPE of its family", line);
    if (strcmp(f->type, "counter") == 0 && strcmp(s->name + strlen(s->name) - 6, "_total") != 0)
        return fail(p, lineno, "counter not named *_total", line);
    if (strcmp(f->type, "histogram") == 0) {
        if (!*suffix)
            return fail(p, lineno, "histogram sample without _bucket/_sum/_count", line);
        if ((strcmp(suffix, "_bucket") == 0) != (s->le[0] != '\0'))
            return fail(p, lineno, "le label on a non-bucket or bucket without le", line);
    }
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->s[i].name, s->name) == 0 && strcmp(p->s[i].labels, s->labels) == 0)
            return fail(p, lineno, "duplicate series", line);
    if (++p->n >= MAX_SERIES)
        return fail(p, lineno, "too many series", line);
    return 0;
}

static int check_histograms(prom *p)
{
    for (int fi = 0; fi < p->nf; fi++) {
        family *f = &p->f[fi];
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
                    return fail(p, 0, "bucket after le=+Inf", p->s[j].labels);
                if (parse_value(p->s[j].le, &le) != 0 || !(le > prev_le))
                    return fail(p, 0, "bucket bounds not increasing", p->s[j].labels);
                if (p->s[j].value < prev_v)
                    return fail(p, 0, "bucket counts not cumulative", p->s[j].labels);
                prev_le = le;
                prev_v = p->s[j].value;
                if (isinf(le)) {
                    ended = 1;
                    inf_v = p->s[j].value;
                }
            }
            if (!ended)
                return fail(p, 0, "histogram does not end with le=+Inf", p->s[i].labels_no_le);
            int have_sum = 0, have_count = 0;
            for (int j = 0; j < p->n; j++) {
                if (strcmp(p->s[j].labels, p->s[i].labels_no_le) != 0)
                    continue;
                if (strcmp(p->s[j].name, sname) == 0)
                    have_sum = 1;
                if (strcmp(p->s[j].name, cname) == 0) {
                    have_count = 1;
                    if (p->s[j].value != inf_v)
                        return fail(p, 0, "_count differs from the +Inf bucket", p->s[i].labels_no_le);
                }
            }
            if (!have_sum || !have_count)
                return fail(p, 0, "histogram without _sum or _count", f->name);
        }
    }
    return 0;
}

/* Parses text into p. Returns 0 or -1 with p->err. */
static int prom_parse(prom *p, const char *text, size_t len)
{
    memset(p, 0, sizeof(*p));
    if (len == 0 || text[len - 1] != '\n')
        return fail(p, 0, "text must end with a newline", "");
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
            if (n < 3 || !name_ok(name, strlen(name), 1)) {
                rc = fail(p, lineno, "bad HELP/TYPE line", line);
                break;
            }
            family *f = fam_find(p, name);
            if (!f) {
                for (int i = 0; i < p->n; i++)
                    if (strncmp(p->s[i].name, name, strlen(name)) == 0 && strcmp(kw, "TYPE") == 0)
                        rc = fail(p, lineno, "TYPE after samples of the family", line);
                if (p->nf >= MAX_FAMILIES) {
                    rc = fail(p, lineno, "too many families", line);
                    break;
                }
                f = &p->f[p->nf++];
                snprintf(f->name, sizeof(f->name), "%s", name);
            }
            if (strcmp(kw, "HELP") == 0) {
                if (f->has_help++)
                    rc = fail(p, lineno, "second HELP for a family", line);
            } else {
                if (f->type[0])
                    rc = fail(p, lineno, "second TYPE for a family", line);
                else if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram") && strcmp(rest, "summary") &&
                         strcmp(rest, "untyped"))
                    rc = fail(p, lineno, "unknown TYPE", line);
                else
                    snprintf(f->type, sizeof(f->type), "%s", rest);
            }
            continue;
        }
        rc = parse_sample(p, lineno, line);
    }
    free(copy);
    if (rc == 0)
        rc = check_histograms(p);
    return rc;
}

/* Value of name{labels} (labels exactly as rendered, "" for none); -1 when absent. */
static double prom_get(const prom *p, const char *name, const char *labels)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->s[i].name, name) == 0 && strcmp(p->s[i].labels, labels) == 0)
            return p->s[i].value;
    return -1;
}

/* ---- the tests ---- */

static prom P;

static int render_parse(const char *what)
{
    size_t len = 0;
    char *text = svc_metrics_render(&len);
    if (!ok(text != NULL && len == strlen(text), "%s: render returns text of the stated length", what))
        return -1;
    int rc = prom_parse(&P, text, len);
    if (!ok(rc == 0, "%s: the text parses as Prometheus 0.0.4", what)) {
        diag("%s", P.err);
        diag("text:\n%s", text);
    }
    free(text);
    return rc;
}

static void gauges(svc_metrics_gauges *out, void *arg)
{
    int *calls = arg;
    (*calls)++;
    out->workers = 4;
    out->busy_workers = 3;
    out->queue_capacity = 64;
    out->queue_depth = 7;
    out->inflight_bytes = 123456789012ULL;
    out->draining = 1;
    out->connections = 11;
}

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        svc_metrics_request_done("crop", 200, 0.001, 1, 2);
        svc_metrics_stage("encode", 0.0001);
    }
    return NULL;
}

int main(void)
{
    if (VIPS_INIT("test_metrics"))
        return 1;

    /* The checker itself must refuse bad text (a checker that accepts anything proves nothing). */
    static const char *bad[] = {
        "imgpipe_x 1\n",                                                                           /* no TYPE */
        "# TYPE a_total counter\na_total{route=\"x} 1\n",                                          /* unterminated label */
        "# TYPE a counter\na 1\n",                                                                 /* counter without _total */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n", /* not cumulative */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 0\nh_count 1\n",                          /* no +Inf */
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 2\n",                       /* count != +Inf */
        "# TYPE g gauge\ng 1\ng 2\n",                                                              /* duplicate */
        "# TYPE g gauge\n9g 1\n",                                                                  /* bad name */
        "# TYPE g gauge\ng{a-b=\"1\"} 1\n",                                                        /* bad label name */
        "# TYPE g gauge\ng abc\n",                                                                 /* bad value */
        "# TYPE g gauge\ng 1",                                                                     /* no final newline */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(prom_parse(&P, bad[i], strlen(bad[i])) != 0, "checker refuses bad text #%zu (%s)", i, P.err);
    const char *good = "# HELP g A gauge.\n# TYPE g gauge\ng{a=\"q\\\"\\\\\\n\"} 1.5e3\n";
    ok(prom_parse(&P, good, strlen(good)) == 0 && prom_get(&P, "g", "a=\"q\\\"\\\\\\n\"") == 1500,
       "checker accepts escapes and exponents");

    svc_metrics_init("9.9.9-test\"quoted\"");
    int gauge_calls = 0;
    if (render_parse("empty") != 0)
        return tap_done();
    is_int(prom_get(&P, "imgpipe_requests_total", "route=\"resize\",status=\"200\""), -1, "no request series before requests");
    is_int(prom_get(&P, "imgpipe_request_duration_seconds_count", ""), 0, "request histogram starts at 0");
    is_int(prom_get(&P, "imgpipe_queue_depth", ""), 0, "gauges are 0 without a gauge source");

    /* every family the issue names is present with a HELP and TYPE */
    static const struct {
        const char *name, *type;
    } fams[] = {
        {"imgpipe_requests_total", "counter"},
        {"imgpipe_request_duration_seconds", "histogram"},
        {"imgpipe_stage_duration_seconds", "histogram"},
        {"imgpipe_queue_depth", "gauge"},
        {"imgpipe_queue_capacity", "gauge"},
        {"imgpipe_workers", "gauge"},
        {"imgpipe_workers_busy", "gauge"},
        {"imgpipe_inflight_bytes", "gauge"},
        {"imgpipe_draining", "gauge"},
        {"imgpipe_connections", "gauge"},
        {"imgpipe_vips_memory_bytes", "gauge"},
        {"imgpipe_vips_memory_peak_bytes", "gauge"},
        {"process_resident_memory_bytes", "gauge"},
        {"process_cpu_seconds_total", "counter"},
        {"imgpipe_build_info", "gauge"},
        {"imgpipe_bytes_received_total", "counter"},
        {"imgpipe_bytes_sent_total", "counter"},
    };
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        family *f = fam_find(&P, fams[i].name);
        ok(f && f->has_help && strcmp(f->type, fams[i].type) == 0, "family %s is a %s with HELP", fams[i].name, fams[i].type);
    }
    char bi[256];
    snprintf(bi, sizeof(bi), "version=\"9.9.9-test\\\"quoted\\\"\",libvips=\"%s\"", vips_version_string());
    is_int(prom_get(&P, "imgpipe_build_info", bi), 1, "build_info carries the escaped version and the libvips version");
    ok(prom_get(&P, "process_resident_memory_bytes", "") > 1e6, "RSS is read from /proc (%.0f bytes)",
       prom_get(&P, "process_resident_memory_bytes", ""));
    ok(prom_get(&P, "process_cpu_seconds_total", "") >= 0, "process CPU seconds present");

    /* counters and histograms move */
    svc_metrics_request_done("resize", 200, 0.03, 1000, 500);
    svc_metrics_request_done("resize", 200, 0.2, 24, 12);
    svc_metrics_request_done("resize", 400, 100.0, 0, 60);
    svc_metrics_request_done("/etc/passwd?x=1", 404, 0.0001, 0, 30);
    svc_metrics_request_done("health", 200, -1.0, 0, 2);
    svc_metrics_stage("decode", 0.002);
    svc_metrics_stage("decode", 0.07);
    svc_metrics_stage("bogus", 1.0);
    void *before = malloc(1); /* libvips memory: allocate some tracked memory */
    free(before);
    void *tracked = vips_tracked_malloc(3 << 20);
    svc_metrics_set_gauge_source(gauges, &gauge_calls);
    if (render_parse("after requests") != 0)
        return tap_done();
    is_int(prom_get(&P, "imgpipe_requests_total", "route=\"resize\",status=\"200\""), 2, "resize 200 counted twice");
    is_int(prom_get(&P, "imgpipe_requests_total", "route=\"resize\",status=\"400\""), 1, "resize 400 counted once");
    is_int(prom_get(&P, "imgpipe_requests_total", "route=\"other\",status=\"404\""), 1, "a raw path is folded into route=other");
    is_int(prom_get(&P, "imgpipe_requests_total", "route=\"health\",status=\"200\""), 1, "health counted");
    is_int(prom_get(&P, "imgpipe_request_duration_seconds_count", ""), 5, "request histogram counted 5");
    is_int(prom_get(&P, "imgpipe_request_duration_seconds_bucket", "le=\"0.005\""), 2, "0.0001 s and a negative time in le=0.005");
    is_int(prom_get(&P, "imgpipe_request_duration_seconds_bucket", "le=\"0.05\""), 3, "0.03 s lands in le=0.05");
    is_int(prom_get(&P, "imgpipe_request_duration_seconds_bucket", "le=\"0.25\""), 4, "0.2 s lands in le=0.25");
    is_int(prom_get(&P, "imgpipe_request_duration_seconds_bucket", "le=\"30\""), 4, "100 s is above the last finite bucket");
    is_int(prom_get(&P, "imgpipe_request_duration_seconds_bucket", "le=\"+Inf\""), 5, "+Inf holds everything");
    ok(fabs(prom_get(&P, "imgpipe_request_duration_seconds_sum", "") - 100.2301) < 1e-6, "sum of durations is 100.2301 s (%f)",
       prom_get(&P, "imgpipe_request_duration_seconds_sum", ""));
    is_int(prom_get(&P, "imgpipe_stage_duration_seconds_count", "stage=\"decode\""), 2, "decode stage counted twice");
    is_int(prom_get(&P, "imgpipe_stage_duration_seconds_bucket", "stage=\"decode\",le=\"0.0025\""), 1, "2 ms decode in le=0.0025");
    is_int(prom_get(&P, "imgpipe_stage_duration_seconds_count", "stage=\"process\""), 0, "process stage untouched");
    is_int(prom_get(&P, "imgpipe_stage_duration_seconds_count", "stage=\"bogus\""), -1, "an unknown stage makes no series");
    is_int(prom_get(&P, "imgpipe_bytes_received_total", ""), 1024, "bytes received summed");
    is_int(prom_get(&P, "imgpipe_bytes_sent_total", ""), 604, "bytes sent summed");
    is_int(prom_get(&P, "imgpipe_queue_depth", ""), 7, "queue depth from the gauge source");
    is_int(prom_get(&P, "imgpipe_queue_capacity", ""), 64, "queue capacity from the gauge source");
    is_int(prom_get(&P, "imgpipe_workers", ""), 4, "workers from the gauge source");
    is_int(prom_get(&P, "imgpipe_workers_busy", ""), 3, "busy workers from the gauge source");
    ok(prom_get(&P, "imgpipe_inflight_bytes", "") == 123456789012.0, "in-flight bytes keep 64-bit values");
    is_int(prom_get(&P, "imgpipe_draining", ""), 1, "draining from the gauge source");
    is_int(prom_get(&P, "imgpipe_connections", ""), 11, "connections from the gauge source");
    is_int(gauge_calls, 1, "the gauge source is called once per render");
    ok(prom_get(&P, "imgpipe_vips_memory_bytes", "") >= (3 << 20), "libvips tracked memory seen (%.0f)",
       prom_get(&P, "imgpipe_vips_memory_bytes", ""));
    vips_tracked_free(tracked);
    if (render_parse("after free") == 0) {
        ok(prom_get(&P, "imgpipe_vips_memory_bytes", "") < (3 << 20), "libvips memory drops after free");
        ok(prom_get(&P, "imgpipe_vips_memory_peak_bytes", "") >= (3 << 20), "libvips peak memory kept");
    }

    /* concurrent writers lose nothing (atomics, no lock) while a reader renders */
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, hammer, NULL);
    int renders_ok = 1;
    for (int i = 0; i < 20; i++) {
        size_t len;
        char *t = svc_metrics_render(&len);
        renders_ok &= t && prom_parse(&P, t, len) == 0;
        free(t);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    ok(renders_ok, "renders during concurrent updates stay valid (histogram _count = +Inf bucket)");
    if (render_parse("after threads") == 0) {
        is_int(prom_get(&P, "imgpipe_requests_total", "route=\"crop\",status=\"200\""), THREADS * PER_THREAD,
               "no increment lost across %d threads", THREADS);
        is_int(prom_get(&P, "imgpipe_stage_duration_seconds_count", "stage=\"encode\""), THREADS * PER_THREAD,
               "no stage observation lost");
        is_int(prom_get(&P, "imgpipe_bytes_sent_total", ""), 604 + 2 * THREADS * PER_THREAD, "byte counters exact");
    }
    return tap_done();
}
