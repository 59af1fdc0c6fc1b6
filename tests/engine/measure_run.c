/*
 * measure_run: not a test. Runs one grammar string over one image N times through pl_run on one
 * thread (libvips concurrency 1, or $VT) and prints CPU-ms per image (getrusage: user + system),
 * the output size and peak RSS; the last output is written to OUT when given. For A/B runs (the
 * IMGPIPE_NO_*=1 switches of pl_engine.h: FAST_PNG, JPEG_MSCALE, LOSSLESS_JPEG, FAST_PNG_WRITE,
 * TRANSPOSED_REDUCE, FAST_WEBP, EARLY_FLATTEN, FAST_ICC) and for callgrind:
 *   ninja -C build tests/engine/measure_run
 *   build/tests/engine/measure_run IMAGE 'transform?w=512&h=512&fit=cover&type=png' 8 [OUT]
 *   valgrind --tool=callgrind build/tests/engine/measure_run IMAGE SPEC 1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <glib.h>

#include "pl_engine.h"

static double mr_cpu_ms(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: measure_run IMAGE SPEC N [OUT]\n");
        return 2;
    }
    pl_error e;
    pl_engine_config cfg = {.vips_concurrency = getenv("VT") ? atoi(getenv("VT")) : 1};
    if (pl_engine_init(&cfg, &e))
        return 1;
    gchar *d = NULL;
    gsize n = 0;
    if (!g_file_get_contents(argv[1], &d, &n, NULL)) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    pl_plan plan;
    if (pl_plan_parse_string(argv[2], &plan, &e)) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    int runs = atoi(argv[3]) > 0 ? atoi(argv[3]) : 1;
    pl_input in = {.data = (uint8_t *)d, .len = n};
    size_t len = 0;
    double c0 = 0;
    for (int i = 0; i <= runs; i++) { /* run 0 warms up */
        if (i == 1)
            c0 = mr_cpu_ms();
        pl_result r;
        if (pl_run(&plan, &in, NULL, NULL, &r, &e)) {
            fprintf(stderr, "%s (%s)\n", e.message, e.detail);
            return 1;
        }
        len = r.len;
        if (i == runs && argc > 4)
            g_file_set_contents(argv[4], r.data, (gssize)r.len, NULL);
        pl_result_clear(&r);
    }
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    printf("%.1f cpu-ms/img, out %zu bytes, maxrss %ld MB\n", (mr_cpu_ms() - c0) / runs, len, u.ru_maxrss / 1024);
    g_free(d);
    return 0;
}
