/*
 * measure_shrink: not a test. Times pl_run's shrink-on-load path against vips_thumbnail_buffer
 * (libvips 8.14) for "fit inside WxH, JPEG q80" on one photo, and measures the quality cost of
 * each as PSNR against the exact path (full decode + one vips_resize), on lossless output.
 *   measure_shrink PHOTO.jpg [W H N]
 * Single-threaded libvips (concurrency 1) so CPU time per image is comparable.
 */
#include <math.h>
#include <time.h>

#include "engine_util.h"

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double psnr(VipsImage *a, VipsImage *b)
{
    VipsImage *t[4] = {0};
    double mse = -1;
    if (!vips_subtract(a, b, &t[0], NULL) && !vips_multiply(t[0], t[0], &t[1], NULL))
        vips_avg(t[1], &mse, NULL);
    for (int i = 0; i < 4; i++)
        if (t[i])
            g_object_unref(t[i]);
    return mse <= 0 ? 99.0 : 10 * log10(255.0 * 255.0 / mse);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: measure_shrink PHOTO.jpg [W H N]\n");
        return 2;
    }
    int W = argc > 3 ? atoi(argv[2]) : 800, H = argc > 3 ? atoi(argv[3]) : 800, N = argc > 4 ? atoi(argv[4]) : 5;
    pl_error err;
    pl_engine_init(&(pl_engine_config){.vips_concurrency = 1}, &err);
    gchar *data;
    gsize len;
    if (!g_file_get_contents(argv[1], &data, &len, NULL))
        return 2;
    char spec[128], spec_png[128];
    snprintf(spec, sizeof(spec), "transform?w=%d&h=%d&q=80&type=jpeg", W, H);
    snprintf(spec_png, sizeof(spec_png), "transform?w=%d&h=%d&type=png", W, H);
    pl_result r;
    /* warm up */
    eu_run_full(spec, (uint8_t *)data, len, NULL, NULL, NULL, &r, &err);
    int ow = r.width, oh = r.height;
    pl_result_clear(&r);
    double c0 = cpu_ms();
    int64_t w0 = g_get_monotonic_time();
    for (int i = 0; i < N; i++) {
        eu_run_full(spec, (uint8_t *)data, len, NULL, NULL, NULL, &r, &err);
        pl_result_clear(&r);
    }
    double pl_cpu = (cpu_ms() - c0) / N, pl_wall = (g_get_monotonic_time() - w0) / 1e3 / N;
    c0 = cpu_ms();
    w0 = g_get_monotonic_time();
    for (int i = 0; i < N; i++) {
        VipsImage *t = NULL;
        void *buf = NULL;
        size_t blen;
        vips_thumbnail_buffer(data, len, &t, W, "height", H, NULL);
        vips_jpegsave_buffer(t, &buf, &blen, "Q", 80, "strip", TRUE, NULL);
        g_free(buf);
        g_object_unref(t);
    }
    double th_cpu = (cpu_ms() - c0) / N, th_wall = (g_get_monotonic_time() - w0) / 1e3 / N;

    /* quality: lossless outputs against the exact path */
    VipsImage *full = vips_image_new_from_buffer(data, len, "", NULL), *exact = NULL, *rot = NULL;
    vips_autorot(full, &rot, NULL);
    vips_resize(rot, &exact, (double)ow / rot->Xsize, "vscale", (double)oh / rot->Ysize, NULL);
    eu_run_full(spec_png, (uint8_t *)data, len, NULL, NULL, NULL, &r, &err);
    VipsImage *mine = vips_image_new_from_buffer(r.data, r.len, "", NULL);
    VipsImage *th = NULL;
    vips_thumbnail_buffer(data, len, &th, W, "height", H, NULL);
    double p_mine = psnr(mine, exact), p_th = th->Xsize == exact->Xsize && th->Ysize == exact->Ysize ? psnr(th, exact) : -1;
    printf("input %dx%d -> %dx%d, %d runs, libvips concurrency 1\n", rot->Xsize, rot->Ysize, ow, oh, N);
    printf("pl_run shrink-on-load:  %.1f CPU-ms  %.1f wall-ms  PSNR vs exact %.2f dB\n", pl_cpu, pl_wall, p_mine);
    printf("vips_thumbnail_buffer:  %.1f CPU-ms  %.1f wall-ms  PSNR vs exact %.2f dB (%dx%d)\n", th_cpu, th_wall, p_th, th->Xsize,
           th->Ysize);
    pl_result_clear(&r);
    g_object_unref(mine);
    g_object_unref(th);
    g_object_unref(exact);
    g_object_unref(rot);
    g_object_unref(full);
    g_free(data);
    return 0;
}
