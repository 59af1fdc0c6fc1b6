/*
 * test_metrics: svc_metrics renders valid Prometheus text (format 0.0.4) and its counters,
 * histograms and gauges move with the calls, including under concurrent writers.
 * The text is checked line by line with prom_check.h (shared with the HTTP test); the checker is
 * first shown to refuse bad text.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "prom_check.h"
#include "svc_metrics.h"
#include "tap.h"

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
        prom_family *f = prom_fam_find(&P, fams[i].name);
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
