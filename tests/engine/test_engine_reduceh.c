/*
 * test_engine_reduceh: the horizontal lanczos3 of pl_reduceh.c.
 *
 * The SSSE3 code gives the scalar code's bytes for 1 to 4 bands over widths from 1 to 1600 pixels
 * and factors from 1 to 60 (random rows, seeded); a factor of 1 is the identity; flat rows stay
 * flat (the weights sum to exactly one); a photo reduced by it is within 50 dB of libvips' own
 * reduceh (lanczos3) at the same size; bad sizes make no plan.
 */
#include <math.h>

#include "engine_util.h"
#include "pl_reduceh.h"

static guint32 seed = 2024u;

static uint8_t rnd8(void)
{
    seed = seed * 1103515245u + 12345u;
    return (uint8_t)(seed >> 16);
}

/* rows of random bytes through both implementations; 0 = the same bytes */
static void check_same(int in_w, int out_w, int bands)
{
    enum { ROWS = 5 };
    pl_reduceh_plan *p = pl_reduceh_plan_new(in_w, out_w, bands);
    size_t il = (size_t)in_w * (size_t)bands, ol = (size_t)out_w * (size_t)bands;
    uint8_t *in = g_malloc(il * ROWS), *a = g_malloc(ol * ROWS), *b = g_malloc(ol * ROWS);
    for (size_t i = 0; i < il * ROWS; i++)
        in[i] = (i / il) % 2 ? rnd8() : (rnd8() & 1) * 255; /* noise, and hard edges (overshoot: clamping) */
    size_t differ = (size_t)-1;
    if (p != NULL) {
        pl_reduceh_rows(p, PL_REDUCEH_SCALAR, in, il, a, ol, ROWS);
        pl_reduceh_rows(p, PL_REDUCEH_SSSE3, in, il, b, ol, ROWS);
        differ = 0;
        for (size_t i = 0; i < ol * ROWS; i++)
            differ += a[i] != b[i];
    }
    ok(differ == 0, "%d -> %d, %d bands: SSSE3 and scalar give the same bytes (%zd differ)", in_w, out_w, bands, (ssize_t)differ);
    pl_reduceh_plan_free(p);
    g_free(in);
    g_free(a);
    g_free(b);
}

static void check_identity_and_flat(void)
{
    enum { W = 50 };
    uint8_t in[W * 3], out[W * 3];
    for (int i = 0; i < W * 3; i++)
        in[i] = rnd8();
    pl_reduceh_plan *p = pl_reduceh_plan_new(W, W, 3);
    if (p != NULL)
        pl_reduceh_rows(p, pl_reduceh_best(), in, sizeof in, out, sizeof out, 1);
    ok(p != NULL && memcmp(in, out, sizeof in) == 0, "a factor of 1 gives the row back");
    pl_reduceh_plan_free(p);
    int bad = 0;
    for (int v = 0; v < 256; v += 15) {
        for (int f = 0; f < 3; f++) {
            int in_w = (int[]){97, 1600, 333}[f], out_w = (int[]){40, 1237, 9}[f];
            uint8_t *row = g_malloc((size_t)in_w * 4), *o = g_malloc((size_t)out_w * 4);
            memset(row, v, (size_t)in_w * 4);
            pl_reduceh_plan *q = pl_reduceh_plan_new(in_w, out_w, 4);
            for (int impl = 0; impl < 2 && q != NULL; impl++) {
                pl_reduceh_rows(q, impl ? PL_REDUCEH_SSSE3 : PL_REDUCEH_SCALAR, row, (size_t)in_w * 4, o, (size_t)out_w * 4, 1);
                for (int i = 0; i < out_w * 4; i++)
                    bad += o[i] != v;
            }
            bad += q == NULL;
            pl_reduceh_plan_free(q);
            g_free(row);
            g_free(o);
        }
    }
    ok(bad == 0, "flat rows stay flat at every level (%d samples off)", bad);
}

/* PSNR of pl_reduceh against vips_reduceh (lanczos3) on a photo, each to the same width */
static void check_vs_libvips(int out_w, double min)
{
    eu_file f = eu_read("photos/kodim23-parrots.png");
    VipsImage *im = f.data != NULL ? vips_image_new_from_buffer(f.data, f.len, "", NULL) : NULL, *mem = NULL, *ref = NULL;
    double psnr = -1;
    if (im != NULL && (mem = vips_image_copy_memory(im)) != NULL &&
        !vips_reduceh(mem, &ref, (double)mem->Xsize / out_w, "kernel", VIPS_KERNEL_LANCZOS3, NULL) && ref->Xsize == out_w) {
        size_t rl = 0;
        uint8_t *r = vips_image_write_to_memory(ref, &rl);
        size_t il = (size_t)mem->Xsize * (size_t)mem->Bands, ol = (size_t)out_w * (size_t)mem->Bands;
        uint8_t *o = g_malloc(ol * (size_t)mem->Ysize);
        pl_reduceh_plan *p = pl_reduceh_plan_new(mem->Xsize, out_w, mem->Bands);
        if (p != NULL && r != NULL && rl == ol * (size_t)mem->Ysize) {
            pl_reduceh_rows(p, pl_reduceh_best(), (const uint8_t *)vips_image_get_data(mem), il, o, ol, mem->Ysize);
            double se = 0;
            for (size_t i = 0; i < rl; i++)
                se += ((double)o[i] - r[i]) * ((double)o[i] - r[i]);
            psnr = se > 0 ? 10 * log10(255.0 * 255.0 * (double)rl / se) : 99;
        }
        pl_reduceh_plan_free(p);
        g_free(o);
        g_free(r);
    }
    ok(psnr > min, "kodim23 768 -> %d: %.1f dB from libvips' reduceh lanczos3 (> %.0f)", out_w, psnr, min);
    VIPS_UNREF(ref);
    VIPS_UNREF(mem);
    VIPS_UNREF(im);
    eu_free(&f);
    vips_error_clear();
}

int main(void)
{
    if (eu_init())
        return 1;
    if (!pl_reduceh_has(PL_REDUCEH_SSSE3))
        diag("this CPU has no SSSE3: both runs below are the scalar code");
    const int sizes[][2] = {{1000, 800}, {1520, 800}, {1600, 1599}, {37, 20},  {7, 3},   {3, 1}, {1, 1},
                            {300, 299},  {1000, 251}, {63, 1},      {600, 10}, {16, 15}, {9, 4}, {1234, 617}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (int b = 1; b <= 4; b++)
            check_same(sizes[i][0], sizes[i][1], b);
    check_identity_and_flat();
    check_vs_libvips(600, 50);
    check_vs_libvips(400, 50);
    check_vs_libvips(250, 48);
    ok(pl_reduceh_plan_new(10, 11, 3) == NULL && pl_reduceh_plan_new(0, 1, 3) == NULL && pl_reduceh_plan_new(10, 5, 5) == NULL &&
           pl_reduceh_plan_new(640, 10, 3) == NULL && pl_reduceh_plan_new(10, 0, 1) == NULL,
       "no plan for an enlargement, an empty row, 5 bands or a factor of 64");
    return tap_done();
}
