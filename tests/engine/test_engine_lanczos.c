/*
 * test_engine_lanczos: the lanczos3 passes of pl_lanczos.c.
 *
 * Rows: the SSSE3 and AVX2 code give the scalar code's bytes for 1 to 4 bands over widths from 1 to 1600
 * pixels and factors from 1 to 60 (random rows, seeded); a factor of 1 is the identity; flat rows
 * stay flat (the weights sum to exactly one); a photo reduced by it is within 50 dB of libvips' own
 * reduceh (lanczos3) at the same size. Columns: the SSE2 and AVX2 code give the scalar code's bytes over
 * heights from 1 to 1500 and row lengths that are and are not multiples of 16; a photo reduced by
 * it lies within 50 dB of a float lanczos3 at factors 1.3 to 9, where libvips' 8-bit reducev
 * drifts further. Random rows are within one level of lanczos3 by its definition (double
 * precision) at ratios with few phases, many and one. Bad sizes make no plan.
 */
#include <math.h>

#include "engine_util.h"
#include "pl_lanczos.h"

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
    pl_lanczos_plan *p = pl_lanczos_plan_new(in_w, out_w, bands);
    size_t il = (size_t)in_w * (size_t)bands, ol = (size_t)out_w * (size_t)bands;
    uint8_t *in = g_malloc(il * ROWS), *a = g_malloc(ol * ROWS), *b = g_malloc(ol * ROWS), *c = g_malloc(ol * ROWS);
    for (size_t i = 0; i < il * ROWS; i++)
        in[i] = (i / il) % 2 ? rnd8() : (rnd8() & 1) * 255; /* noise, and hard edges (overshoot: clamping) */
    size_t differ = (size_t)-1;
    if (p != NULL) {
        pl_lanczos_rows(p, PL_LANCZOS_SCALAR, in, il, a, ol, ROWS);
        pl_lanczos_rows(p, PL_LANCZOS_SSSE3, in, il, b, ol, ROWS);
        pl_lanczos_rows(p, PL_LANCZOS_AVX2, in, il, c, ol, ROWS);
        differ = 0;
        for (size_t i = 0; i < ol * ROWS; i++)
            differ += (a[i] != b[i]) + (a[i] != c[i]);
    }
    ok(differ == 0, "%d -> %d, %d bands: AVX2, SSSE3 and scalar give the same bytes (%zd differ)", in_w, out_w, bands,
       (ssize_t)differ);
    pl_lanczos_plan_free(p);
    g_free(in);
    g_free(a);
    g_free(b);
    g_free(c);
}

/* The filter by its definition, in double precision: output pixel x is centred at (x + 0.5) s -
 * 0.5, taps within 3s, weights past an edge on the edge pixel, normalised. */
static double formula_pixel(const uint8_t *row, int in_w, int bands, int b, int x, double s)
{
    double cx = (x + 0.5) * s - 0.5, sum = 0, acc = 0;
    for (int j = (int)ceil(cx - 3 * s); j <= (int)floor(cx + 3 * s); j++) {
        double t = (j - cx) / s, pt = G_PI * t;
        double w = t == 0 ? 1.0 : fabs(t) >= 3 ? 0.0 : 3.0 * sin(pt) * sin(pt / 3.0) / (pt * pt);
        int k = j < 0 ? 0 : j > in_w - 1 ? in_w - 1 : j;
        acc += w * row[(size_t)k * (size_t)bands + (size_t)b];
        sum += w;
    }
    double v = acc / sum;
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* Every output pixel of random rows within one level of the definition: a window given another
 * pixel's weights (a phase reused wrongly, say) moves the result by much more on noise. */
static void check_vs_formula(int in_w, int out_w, int bands)
{
    pl_lanczos_plan *p = pl_lanczos_plan_new(in_w, out_w, bands);
    size_t il = (size_t)in_w * (size_t)bands, ol = (size_t)out_w * (size_t)bands;
    uint8_t *in = g_malloc(il), *out = g_malloc(ol);
    for (size_t i = 0; i < il; i++)
        in[i] = rnd8();
    double worst = 1e9;
    if (p != NULL) {
        pl_lanczos_rows(p, pl_lanczos_best(), in, il, out, ol, 1);
        worst = 0;
        for (int x = 0; x < out_w; x++)
            for (int b = 0; b < bands; b++)
                worst = fmax(worst, fabs(out[(size_t)x * (size_t)bands + (size_t)b] -
                                         formula_pixel(in, in_w, bands, b, x, (double)in_w / out_w)));
    }
    ok(worst <= 1.0, "%d -> %d, %d bands: within %.2f of lanczos3 by its definition (at most 1)", in_w, out_w, bands, worst);
    pl_lanczos_plan_free(p);
    g_free(in);
    g_free(out);
}

static void check_identity_and_flat(void)
{
    enum { W = 50 };
    uint8_t in[W * 3], out[W * 3];
    for (int i = 0; i < W * 3; i++)
        in[i] = rnd8();
    pl_lanczos_plan *p = pl_lanczos_plan_new(W, W, 3);
    if (p != NULL)
        pl_lanczos_rows(p, pl_lanczos_best(), in, sizeof in, out, sizeof out, 1);
    ok(p != NULL && memcmp(in, out, sizeof in) == 0, "a factor of 1 gives the row back");
    pl_lanczos_plan_free(p);
    int bad = 0;
    for (int v = 0; v < 256; v += 15) {
        for (int f = 0; f < 3; f++) {
            int in_w = (int[]){97, 1600, 333}[f], out_w = (int[]){40, 1237, 9}[f];
            uint8_t *row = g_malloc((size_t)in_w * 4), *o = g_malloc((size_t)out_w * 4);
            memset(row, v, (size_t)in_w * 4);
            pl_lanczos_plan *q = pl_lanczos_plan_new(in_w, out_w, 4);
            for (int impl = 0; impl < 2 && q != NULL; impl++) {
                pl_lanczos_rows(q, impl ? PL_LANCZOS_SSSE3 : PL_LANCZOS_SCALAR, row, (size_t)in_w * 4, o, (size_t)out_w * 4, 1);
                for (int i = 0; i < out_w * 4; i++)
                    bad += o[i] != v;
            }
            bad += q == NULL;
            pl_lanczos_plan_free(q);
            g_free(row);
            g_free(o);
        }
    }
    ok(bad == 0, "flat rows stay flat at every level (%d samples off)", bad);
}

/* PSNR of the row pass against vips_reduceh (lanczos3) on a photo, each to the same width */
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
        pl_lanczos_plan *p = pl_lanczos_plan_new(mem->Xsize, out_w, mem->Bands);
        if (p != NULL && r != NULL && rl == ol * (size_t)mem->Ysize) {
            pl_lanczos_rows(p, pl_lanczos_best(), (const uint8_t *)vips_image_get_data(mem), il, o, ol, mem->Ysize);
            double se = 0;
            for (size_t i = 0; i < rl; i++)
                se += ((double)o[i] - r[i]) * ((double)o[i] - r[i]);
            psnr = se > 0 ? 10 * log10(255.0 * 255.0 * (double)rl / se) : 99;
        }
        pl_lanczos_plan_free(p);
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

/* every output row of a column pass through both implementations; 0 = the same bytes */
static void check_columns(int in_h, int out_h, size_t row_bytes)
{
    pl_lanczos_plan *p = pl_lanczos_plan_new(in_h, out_h, 1);
    uint8_t *in = g_malloc(row_bytes * (size_t)in_h), *a = g_malloc(row_bytes), *b = g_malloc(row_bytes), *c = g_malloc(row_bytes);
    for (size_t i = 0; i < row_bytes * (size_t)in_h; i++)
        in[i] = (i / row_bytes) % 3 ? rnd8() : (rnd8() & 1) * 255;
    size_t differ = p != NULL ? 0 : (size_t)-1;
    for (int y = 0; p != NULL && y < out_h; y++) {
        pl_lanczos_column(p, PL_LANCZOS_SCALAR, y, in, 0, row_bytes, row_bytes, a);
        pl_lanczos_column(p, PL_LANCZOS_SSSE3, y, in, 0, row_bytes, row_bytes, b);
        pl_lanczos_column(p, PL_LANCZOS_AVX2, y, in, 0, row_bytes, row_bytes, c);
        for (size_t i = 0; i < row_bytes; i++)
            differ += (a[i] != b[i]) + (a[i] != c[i]);
    }
    ok(differ == 0, "columns %d -> %d rows of %zu bytes: AVX2, SSE2 and scalar give the same bytes (%zd differ)", in_h, out_h,
       row_bytes, (ssize_t)differ);
    pl_lanczos_plan_free(p);
    g_free(in);
    g_free(a);
    g_free(b);
    g_free(c);
}

/* PSNR of the column pass (and of libvips' reducev) against a float lanczos3 to out_h rows */
static void check_columns_vs_float(int out_h, double min)
{
    eu_file f = eu_read("photos/kodim23-parrots.png");
    VipsImage *im = f.data != NULL ? vips_image_new_from_buffer(f.data, f.len, "", NULL) : NULL, *mem = NULL, *fl = NULL,
              *ref = NULL, *rv = NULL, *rvm = NULL;
    double psnr = -1, psnr_vips = -1;
    if (im != NULL && (mem = vips_image_copy_memory(im)) != NULL && !vips_cast(mem, &fl, VIPS_FORMAT_FLOAT, NULL) &&
        !vips_resize(fl, &ref, 1.0, "vscale", (double)out_h / mem->Ysize, "gap", 0.0, "kernel", VIPS_KERNEL_LANCZOS3, NULL) &&
        ref->Ysize == out_h && !vips_reducev(mem, &rv, (double)mem->Ysize / out_h, "kernel", VIPS_KERNEL_LANCZOS3, NULL) &&
        (rvm = vips_image_copy_memory(rv)) != NULL) {
        size_t rl = 0;
        float *r = vips_image_write_to_memory(ref, &rl);
        size_t line = (size_t)mem->Xsize * (size_t)mem->Bands, n = line * (size_t)out_h;
        uint8_t *o = g_malloc(n);
        pl_lanczos_plan *p = pl_lanczos_plan_new(mem->Ysize, out_h, 1);
        if (p != NULL && r != NULL && rl == n * sizeof(float) && rvm->Ysize == out_h) {
            for (int y = 0; y < out_h; y++)
                pl_lanczos_column(p, pl_lanczos_best(), y, (const uint8_t *)vips_image_get_data(mem), 0, line, line,
                                  o + (size_t)y * line);
            const uint8_t *v = vips_image_get_data(rvm);
            double se = 0, sev = 0;
            for (size_t i = 0; i < n; i++) {
                double t = r[i] < 0 ? 0 : r[i] > 255 ? 255 : r[i];
                se += (o[i] - t) * (o[i] - t);
                sev += (v[i] - t) * (v[i] - t);
            }
            psnr = se > 0 ? 10 * log10(255.0 * 255.0 * (double)n / se) : 99;
            psnr_vips = sev > 0 ? 10 * log10(255.0 * 255.0 * (double)n / sev) : 99;
        }
        pl_lanczos_plan_free(p);
        g_free(o);
        g_free(r);
    }
    ok(psnr > min && psnr >= psnr_vips, "kodim23 512 -> %d rows: %.1f dB from a float lanczos3 (> %.0f; libvips' reducev %.1f)",
       out_h, psnr, min, psnr_vips);
    VIPS_UNREF(rvm);
    VIPS_UNREF(rv);
    VIPS_UNREF(ref);
    VIPS_UNREF(fl);
    VIPS_UNREF(mem);
    VIPS_UNREF(im);
    eu_free(&f);
    vips_error_clear();
}

int main(void)
{
    if (eu_init())
        return 1;
    if (!pl_lanczos_has(PL_LANCZOS_SSSE3) || !pl_lanczos_has(PL_LANCZOS_AVX2))
        diag("this CPU has %s: those runs below are the scalar (or SSSE3) code",
             pl_lanczos_has(PL_LANCZOS_SSSE3) ? "no AVX2" : "no SSSE3");
    const int sizes[][2] = {{1000, 800}, {1520, 800}, {1600, 1599}, {37, 20},  {7, 3},   {3, 1}, {1, 1},
                            {300, 299},  {1000, 251}, {63, 1},      {600, 10}, {16, 15}, {9, 4}, {1234, 617}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (int b = 1; b <= 4; b++)
            check_same(sizes[i][0], sizes[i][1], b);
    const int heights[][2] = {{750, 600}, {1500, 375}, {7, 3}, {3, 1}, {1, 1}, {100, 99}, {1000, 17}, {12, 11}};
    for (size_t i = 0; i < sizeof(heights) / sizeof(heights[0]); i++) {
        check_columns(heights[i][0], heights[i][1], 3000);
        check_columns(heights[i][0], heights[i][1], 37);
        check_columns(heights[i][0], heights[i][1], 48);
    }
    /* ratios with few phases (1000 -> 800: 4), many, and one */
    const int defs[][2] = {{1000, 800}, {750, 600}, {1024, 800}, {4000, 1000}, {1001, 1000}, {999, 333}, {3000, 1125}, {97, 13}};
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        check_vs_formula(defs[i][0], defs[i][1], i % 2 ? 1 : 3);
    check_columns_vs_float(400, 50);
    check_columns_vs_float(200, 50);
    check_columns_vs_float(57, 45);
    check_identity_and_flat();
    check_vs_libvips(600, 50);
    check_vs_libvips(400, 50);
    check_vs_libvips(250, 48);
    /* pl_lanczos_window_max is the largest window a plan gives (the streamed reduce sizes its
     * buffer by it) */
    const int win[][2] = {{3391, 450}, {4000, 400}, {3000, 50}, {37, 20}, {7, 3}, {1, 1}, {750, 600}, {100, 99}, {640, 11}};
    int win_bad = 0;
    for (size_t i = 0; i < sizeof(win) / sizeof(win[0]); i++) {
        pl_lanczos_plan *p = pl_lanczos_plan_new(win[i][0], win[i][1], 1);
        int most = 0, first, count;
        for (int y = 0; p != NULL && y < win[i][1]; y++) {
            pl_lanczos_window(p, y, &first, &count);
            most = count > most ? count : most;
            win_bad += first < 0 || first + count > win[i][0];
        }
        win_bad += p == NULL || most != pl_lanczos_window_max(win[i][0], win[i][1]);
        pl_lanczos_plan_free(p);
    }
    is_int(win_bad, 0, "column windows lie inside the image, and the widest is pl_lanczos_window_max");
    ok(pl_lanczos_plan_new(10, 11, 3) == NULL && pl_lanczos_plan_new(0, 1, 3) == NULL && pl_lanczos_plan_new(10, 5, 5) == NULL &&
           pl_lanczos_plan_new(640, 10, 3) == NULL && pl_lanczos_plan_new(10, 0, 1) == NULL,
       "no plan for an enlargement, an empty row, 5 bands or a factor of 64");
    return tap_done();
}
