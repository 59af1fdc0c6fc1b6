/*
 * test_engine_ops: every operation's output size and type, decoded back with libvips, over the
 * fixtures and a few synthetic sizes (imaginary-api.md §3/§4/§9 examples), plus output formats,
 * type=auto negotiation and /info.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_util.h"
#include "pl_lanczos.h"

static void check_size(const char *spec, const eu_file *f, int w, int h, pl_format fmt)
{
    pl_result r;
    pl_error e;
    int rc = eu_run(spec, f, &r, &e);
    eu_img d = eu_decode(&r);
    ok(rc == 0 && d.ok && d.width == w && d.page_height == h && r.format == fmt && r.width == w && r.height == h, "%s -> %dx%d %s",
       spec, w, h, pl_format_name(fmt));
    if (rc == 0 && !(d.width == w && d.page_height == h))
        diag("  got %dx%d (result says %dx%d)", d.width, d.page_height, r.width, r.height);
    if (rc == 0 && r.format != fmt)
        diag("  got format %s", pl_format_name(r.format));
    pl_result_clear(&r);
}

static void check_error(const char *spec, const eu_file *f, pl_code code)
{
    pl_result r;
    pl_error e;
    int rc = eu_run(spec, f, &r, &e);
    ok(rc == -1 && e.code == code && r.data == NULL, "%s fails with %s", spec, pl_error_name(code));
    if (rc == -1 && e.code != code)
        diag("  got %s: %s", pl_error_name(e.code), e.message);
    pl_result_clear(&r);
}

static void test_imaginary_routes(void)
{
    eu_file big = eu_synth(2560, 1600, ".jpg");
    ok(big.len > 0, "synthetic 2560x1600 JPEG");
    /* §9: /fit 500x500 of 2560x1600 -> 500x313 */
    check_size("fit?width=500&height=500", &big, 500, 313, PL_FMT_JPEG);
    check_size("resize?width=500&height=500", &big, 500, 500, PL_FMT_JPEG);
    check_size("resize?width=300", &big, 300, 188, PL_FMT_JPEG);
    check_size("thumbnail?width=200&height=200", &big, 200, 200, PL_FMT_JPEG);
    check_size("crop?width=400&height=400", &big, 400, 400, PL_FMT_JPEG);
    check_size("smartcrop?width=300&height=200", &big, 300, 200, PL_FMT_JPEG);
    eu_free(&big);

    eu_file f = eu_read("imaginary/imaginary.jpg"); /* 550x740 */
    check_size("resize?width=300", &f, 300, 404, PL_FMT_JPEG);
    check_size("resize?height=300", &f, 223, 300, PL_FMT_JPEG);
    check_size("resize?width=300&height=300", &f, 300, 300, PL_FMT_JPEG);
    check_size("resize?width=1000", &f, 550, 740, PL_FMT_JPEG);             /* never upscales */
    check_size("resize?width=300&nocrop=false", &f, 300, 740, PL_FMT_JPEG); /* centre strip, no scaling */
    check_size("resize?width=300&nocrop=true", &f, 300, 404, PL_FMT_JPEG);
    check_size("fit?width=300&height=300", &f, 223, 300, PL_FMT_JPEG);
    check_size("fit?width=1000&height=1000", &f, 550, 740, PL_FMT_JPEG);
    check_size("thumbnail?width=100", &f, 100, 135, PL_FMT_JPEG);
    check_size("thumbnail?width=100&height=400", &f, 100, 400, PL_FMT_JPEG); /* stretched */
    check_size("thumbnail?width=1100", &f, 1100, 1480, PL_FMT_JPEG);         /* upscales */
    check_size("crop?width=200&height=100", &f, 200, 100, PL_FMT_JPEG);
    check_size("crop?width=200", &f, 200, 740, PL_FMT_JPEG);
    check_size("crop?height=100", &f, 550, 100, PL_FMT_JPEG);
    check_size("crop?width=200&height=100&gravity=north", &f, 200, 100, PL_FMT_JPEG);
    check_size("enlarge?width=1100&height=800", &f, 1100, 800, PL_FMT_JPEG);
    check_size("enlarge?width=1100&height=800&nocrop=true", &f, 595, 800, PL_FMT_JPEG);
    check_size("extract?areawidth=100&areaheight=50&top=10&left=20", &f, 100, 50, PL_FMT_JPEG);
    check_size("extract?areawidth=100&areaheight=50&width=200&height=200", &f, 100, 50, PL_FMT_JPEG);
    check_error("extract?areawidth=600&areaheight=50&top=10&left=10", &f, PL_E_OPERATION);
    {
        pl_result r;
        pl_error e;
        eu_run("extract?areawidth=600&areaheight=50", &f, &r, &e);
        ok(strncmp(e.message, "Error while processing the image: extract_area: bad extract area", 64) == 0,
           "imaginary's wire text for a bad area: %s", e.message);
        eu_run("transform?areawidth=600&areaheight=50", &f, &r, &e);
        ok(e.code == PL_E_OPERATION && strncmp(e.message, "extract_area: bad extract area", 30) == 0,
           "transform's message is plain: %s", e.message);
    }
    check_size("zoom?factor=1", &f, 1100, 1480, PL_FMT_JPEG);
    check_size("zoom?factor=1&top=10&left=10&areawidth=100&areaheight=80", &f, 100, 80, PL_FMT_JPEG);
    check_size("rotate?rotate=90", &f, 740, 550, PL_FMT_JPEG);
    check_size("rotate?rotate=45", &f, 550, 740, PL_FMT_JPEG);  /* floors to 0: nothing */
    check_size("rotate?rotate=360", &f, 740, 550, PL_FMT_JPEG); /* capped at 270 */
    check_size("rotate?rotate=180&width=100", &f, 100, 135, PL_FMT_JPEG);
    check_size("autorotate", &f, 550, 740, PL_FMT_JPEG);
    check_size("flip", &f, 550, 740, PL_FMT_JPEG);
    check_size("flop", &f, 550, 740, PL_FMT_JPEG);
    check_size("blur?sigma=2", &f, 550, 740, PL_FMT_JPEG);
    check_size("blur?sigma=2&width=300", &f, 300, 404, PL_FMT_JPEG); /* common params apply */
    check_size("convert?type=png", &f, 550, 740, PL_FMT_PNG);
    check_size("convert?type=webp", &f, 550, 740, PL_FMT_WEBP);
    check_size("convert?type=tiff", &f, 550, 740, PL_FMT_TIFF);
    check_size("convert?type=avif&width=100", &f, 100, 135, PL_FMT_AVIF);
    check_error("convert?type=gif", &f, PL_E_UNSUPPORTED_OUTPUT);
    check_size("watermark?text=imgpipe", &f, 550, 740, PL_FMT_JPEG);
    check_size("watermark?text=imgpipe&noreplicate=true&width=200", &f, 200, 269, PL_FMT_JPEG);
    check_size("pipeline?operations=%5B%7B%22operation%22%3A%22crop%22%2C%22params%22%3A%7B%22width%22%3A300%2C%22height%22%3A"
               "260%7D%7D%2C%7B%22operation%22%3A%22convert%22%2C%22params%22%3A%7B%22type%22%3A%22webp%22%7D%7D%5D",
               &f, 300, 260, PL_FMT_WEBP);
    eu_free(&f);

    /* flip is left<->right (bimg naming), flop top<->bottom: compare corners */
    eu_file g = eu_synth(64, 32, ".png");
    pl_result a, b;
    pl_error e;
    int ra = eu_run("flip", &g, &a, &e), rb = eu_run("transform?flip=true&strip=true", &g, &b, &e);
    VipsImage *ia = ra == 0 ? vips_image_new_from_buffer(a.data, a.len, "", NULL) : NULL;
    double *px = NULL;
    int n = 0;
    ok(ia != NULL && vips_getpoint(ia, &px, &n, 0, 0, NULL) == 0 && px[0] >= 62, "flip mirrors left<->right (x at left = %g)",
       px ? px[0] : -1);
    g_free(px);
    if (ia)
        g_object_unref(ia);
    ok(rb == 0 && eu_diff(&a, &b) == 0, "transform flip means the same as /flip");
    pl_result_clear(&a);
    pl_result_clear(&b);
    eu_free(&g);
}

/* imaginary's TestCalculateDestinationFitDimension cases, end to end */
static void test_fit_rounding(void)
{
    static const int cases[][6] = {{1280, 1000, 710, 9999, 710, 555}, {1279, 1000, 710, 9999, 710, 555},
                                   {900, 500, 312, 312, 312, 173},    {900, 500, 313, 313, 313, 174},
                                   {1299, 2000, 710, 999, 649, 999},  {1500, 2000, 710, 999, 710, 947}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eu_file f = eu_synth(cases[i][0], cases[i][1], ".png");
        char spec[96];
        snprintf(spec, sizeof(spec), "fit?width=%d&height=%d&type=jpeg", cases[i][2], cases[i][3]);
        check_size(spec, &f, cases[i][4], cases[i][5], PL_FMT_JPEG);
        eu_free(&f);
    }
}

static void test_transform(void)
{
    eu_file f = eu_read("imaginary/imaginary.jpg"); /* 550x740 */
    check_size("transform?w=300", &f, 300, 404, PL_FMT_JPEG);
    check_size("transform?w=300&h=300", &f, 223, 300, PL_FMT_JPEG);
    check_size("transform?w=300&h=300&fit=inside", &f, 223, 300, PL_FMT_JPEG);
    check_size("transform?w=300&h=300&fit=outside", &f, 300, 404, PL_FMT_JPEG);
    check_size("transform?w=300&h=300&fit=cover", &f, 300, 300, PL_FMT_JPEG);
    check_size("transform?w=300&h=300&fit=cover&gravity=entropy", &f, 300, 300, PL_FMT_JPEG);
    check_size("transform?w=300&h=300&fit=cover&gravity=attention", &f, 300, 300, PL_FMT_JPEG);
    check_size("transform?w=300&h=300&fit=contain", &f, 300, 300, PL_FMT_JPEG);
    {
        pl_result r;
        pl_error e;
        int rc = eu_run("transform?w=300&h=300&fit=contain&bg=0,0,0,0&type=png", &f, &r, &e);
        eu_img d = eu_decode(&r);
        ok(rc == 0 && d.width == 300 && d.height == 300 && d.bands == 4,
           "contain with a transparent bg pads see-through (%d bands)", d.bands);
        pl_result_clear(&r);
    }
    check_size("transform?w=300&h=100&fit=fill", &f, 300, 100, PL_FMT_JPEG);
    check_size("transform?w=1000", &f, 550, 740, PL_FMT_JPEG);
    check_size("transform?w=1100&enlarge=true", &f, 1100, 1480, PL_FMT_JPEG);
    check_size("transform?w=150&dpr=2", &f, 300, 404, PL_FMT_JPEG);
    check_size("transform?areawidth=100&areaheight=200&top=5&left=5&w=50", &f, 50, 100, PL_FMT_JPEG);
    check_size("transform?w=300&rotate=90", &f, 300, 223, PL_FMT_JPEG); /* w/h describe the rotated output */
    check_size("transform?w=300&h=100&fit=cover&rotate=270", &f, 300, 100, PL_FMT_JPEG);
    check_size("transform?w=200&sigma=1&sharpen=1&grayscale=true&type=png", &f, 200, 269, PL_FMT_PNG);
    check_size("transform?w=200&type=gif", &f, 200, 269, PL_FMT_GIF);
    check_size("transform?w=200&type=heif", &f, 200, 269, PL_FMT_HEIF);
    eu_free(&f);
    /* one side asked is that side exactly, even where the other side's rounding makes its scale
     * the smaller one (2304x988 at w=320: h = round(137.2) = 137, and 137/988 < 320/2304) */
    eu_file wide = eu_synth(2304, 988, ".png");
    check_size("transform?w=320&type=png", &wide, 320, 137, PL_FMT_PNG);
    check_size("transform?w=320&h=137&type=png", &wide, 319, 137, PL_FMT_PNG); /* both given: fit inside, as before */
    check_size("transform?h=137&type=png", &wide, 319, 137, PL_FMT_PNG);
    check_size("transform?w=320&fit=outside&type=png", &wide, 320, 137, PL_FMT_PNG);
    eu_free(&wide);

    eu_file t = eu_read("edge/tall-strip-6x1024.png");
    check_size("transform?h=100", &t, 1, 100, PL_FMT_PNG);
    check_size("resize?width=3&height=3", &t, 3, 3, PL_FMT_PNG);
    eu_free(&t);
    eu_file one = eu_read("edge/tiny-1x1-palette.png");
    check_size("transform?w=10&h=10&fit=cover&enlarge=true", &one, 10, 10, PL_FMT_PNG);
    check_size("watermark?text=x", &one, 1, 1, PL_FMT_PNG); /* imaginary: "embed: bad dimensions" */
    eu_free(&one);
}

static void check_auto(const char *spec, const char *fixture, const char *accept, int want_rc, pl_format want)
{
    eu_file f = eu_read(fixture);
    pl_result r;
    pl_error e;
    int rc = eu_run_full(spec, f.data, f.len, accept, NULL, NULL, &r, &e);
    if (want_rc == 0)
        ok(rc == 0 && r.format == want && r.vary_accept && eu_decode(&r).ok, "%s Accept \"%s\" -> %s, Vary", spec,
           accept ? accept : "(none)", pl_format_name(want));
    else
        ok(rc == -1 && e.code == (pl_code)want_rc, "%s Accept \"%s\" -> %s", spec, accept ? accept : "(none)",
           pl_error_name((pl_code)want_rc));
    if (rc == 0 && r.format != want)
        diag("  got %s", pl_format_name(r.format));
    pl_result_clear(&r);
    eu_free(&f);
}

static void test_auto(void)
{
    const char *jpg = "imaginary/imaginary.jpg", *alpha = "edge/pngsuite-basn6a08-rgba.png";
    /* imaginary: first of webp/png/jpeg in header order, q ignored */
    check_auto("resize?width=50&type=auto", jpg, "image/png, image/webp", 0, PL_FMT_PNG);
    check_auto("resize?width=50&type=auto", jpg, "image/webp;q=0, image/png", 0, PL_FMT_WEBP);
    check_auto("resize?width=50&type=auto", jpg, "text/html, */*", 0, PL_FMT_JPEG); /* none: input format */
    /* /convert: a wildcard and none of the three keeps the input's type; no wildcard: 400 */
    check_auto("convert?type=auto", jpg, "image/avif, */*", 0, PL_FMT_JPEG);
    check_auto("convert?type=auto", jpg, "image/avif", PL_E_MISSING_PARAM, PL_FMT_UNKNOWN);
    /* transform: avif > webp > jpeg (png with alpha), q=0 honoured */
    check_auto("transform?w=50&type=auto", jpg, "image/avif,image/webp,*/*", 0, PL_FMT_AVIF);
    check_auto("transform?w=50&type=auto", jpg, "image/avif;q=0,image/webp,*/*", 0, PL_FMT_WEBP);
    check_auto("transform?w=50&type=auto", jpg, "text/html,*/*;q=0.8", 0, PL_FMT_JPEG);
    check_auto("transform?w=50&type=auto", jpg, NULL, 0, PL_FMT_JPEG);
    check_auto("transform?w=20&type=auto", alpha, "*/*", 0, PL_FMT_PNG);
    check_auto("transform?w=50&type=auto", jpg, "text/html", PL_E_NOT_ACCEPTABLE, PL_FMT_UNKNOWN);
    /* none of avif, webp, jpeg: another type the client names (PNG), not 406 */
    check_auto("transform?w=50&type=auto", jpg, "image/jpeg;q=0, image/png", 0, PL_FMT_PNG);
    check_auto("transform?w=50&type=auto", jpg, "image/jpeg;q=0, text/html", PL_E_NOT_ACCEPTABLE, PL_FMT_UNKNOWN);
}

static void test_info(void)
{
    eu_file f = eu_read("edge/exif-orientation-6.jpg");
    pl_result r;
    pl_error e;
    int rc = eu_run("info", &f, &r, &e);
    json_t *j = rc == 0 ? json_loadb(r.data, r.len, 0, NULL) : NULL;
    ok(j != NULL && strcmp(r.mime, "application/json") == 0, "info is JSON");
    ok(j && json_integer_value(json_object_get(j, "width")) == 450 && json_integer_value(json_object_get(j, "height")) == 600,
       "info: stored (unrotated) size 450x600");
    ok(j && json_integer_value(json_object_get(j, "orientation")) == 6, "info: orientation 6");
    ok(j && strcmp(json_string_value(json_object_get(j, "type")), "jpeg") == 0 &&
           strcmp(json_string_value(json_object_get(j, "space")), "srgb") == 0,
       "info: type jpeg, space srgb");
    ok(j && json_is_false(json_object_get(j, "hasAlpha")) && json_is_true(json_object_get(j, "hasProfile")) &&
           json_integer_value(json_object_get(j, "channels")) == 3 && json_integer_value(json_object_get(j, "pages")) == 1 &&
           json_integer_value(json_object_get(j, "size")) == (json_int_t)f.len,
       "info: hasAlpha, hasProfile, channels, pages, size");
    json_decref(j);
    pl_result_clear(&r);
    eu_free(&f);
    f = eu_read("edge/animated-rotating-squares.gif");
    rc = eu_run("info", &f, &r, &e);
    j = rc == 0 ? json_loadb(r.data, r.len, 0, NULL) : NULL;
    ok(j && json_integer_value(json_object_get(j, "pages")) == 30 && json_is_true(json_object_get(j, "hasAlpha")) &&
           json_integer_value(json_object_get(j, "orientation")) == 0,
       "info: GIF has 30 pages, alpha, orientation 0");
    json_decref(j);
    pl_result_clear(&r);
    eu_free(&f);
}

/* Transparent pixels must not bleed their colour into opaque ones when resizing (premultiplied). */
static void test_alpha_bleed(void)
{
    /* 100x100: left half transparent red, right half opaque blue */
    double red[4] = {255, 0, 0, 0}, blue[4] = {0, 0, 255, 255};
    VipsImage *t[5] = {0};
    void *buf = NULL;
    size_t len = 0;
    vips_black(&t[0], 50, 100, "bands", 4, NULL);
    vips_linear(t[0], &t[1], (double[]){1, 1, 1, 1}, red, 4, NULL);
    vips_linear(t[0], &t[2], (double[]){1, 1, 1, 1}, blue, 4, NULL);
    vips_join(t[1], t[2], &t[3], VIPS_DIRECTION_HORIZONTAL, NULL);
    vips_cast_uchar(t[3], &t[4], NULL);
    vips_image_set_int(t[4], "interpretation", VIPS_INTERPRETATION_sRGB);
    t[4]->Type = VIPS_INTERPRETATION_sRGB;
    vips_pngsave_buffer(t[4], &buf, &len, NULL);
    for (int i = 0; i < 5; i++)
        if (t[i])
            g_object_unref(t[i]);
    pl_result r;
    pl_error e;
    int rc = eu_run_full("thumbnail?width=10&height=10&type=png", buf, len, NULL, NULL, NULL, &r, &e);
    VipsImage *im = rc == 0 ? vips_image_new_from_buffer(r.data, r.len, "", NULL) : NULL;
    double *px = NULL;
    int n = 0;
    bool got = im != NULL && im->Bands == 4 && vips_getpoint(im, &px, &n, 5, 5, NULL) == 0;
    ok(got && px[0] < 4 && px[3] > 100, "no red bleeding into the opaque edge pixel (r=%g a=%g)", got ? px[0] : -1,
       got ? px[3] : -1);
    g_free(px);
    if (im)
        g_object_unref(im);
    pl_result_clear(&r);
    g_free(buf);
}

/* PSNR of an encoded output against the exact path (full decode, one lanczos3 resize to its size);
 * -1 on error, 99 when identical. */
static double psnr_vs_exact(const eu_file *f, const pl_result *r, int *bands)
{
    VipsImage *mine = vips_image_new_from_buffer(r->data, r->len, "", NULL);
    VipsImage *full = vips_image_new_from_buffer(f->data, f->len, "", NULL), *exact = NULL, *t[3] = {0};
    double mse = -1;
    if (mine != NULL && full != NULL &&
        !vips_resize(full, &exact, (double)mine->Xsize / full->Xsize, "vscale", (double)mine->Ysize / full->Ysize, NULL) &&
        exact->Xsize == mine->Xsize && exact->Ysize == mine->Ysize && exact->Bands == mine->Bands &&
        !vips_subtract(mine, exact, &t[0], NULL) && !vips_multiply(t[0], t[0], &t[1], NULL))
        vips_avg(t[1], &mse, NULL);
    *bands = mine != NULL ? mine->Bands : 0;
    for (int i = 0; i < 3; i++)
        if (t[i])
            g_object_unref(t[i]);
    if (exact)
        g_object_unref(exact);
    if (mine)
        g_object_unref(mine);
    if (full)
        g_object_unref(full);
    vips_error_clear();
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : (mse == 0 ? 99 : -1);
}

/* Shrink-on-load (JPEG DCT scaling, WebP's decoder scaling) stays close to the exact path (full
 * decode + one resize to the same size). */
static void check_shrink_quality(const char *fixture, int w, double min_psnr)
{
    eu_file f = eu_read(fixture);
    pl_result r;
    pl_error e;
    char spec[64];
    int bands = 0, got_w = 0;
    snprintf(spec, sizeof(spec), "transform?w=%d&type=png", w);
    int rc = eu_run(spec, &f, &r, &e);
    double psnr = -1;
    if (rc == 0) {
        VipsImage *mine = vips_image_new_from_buffer(r.data, r.len, "", NULL);
        got_w = mine != NULL ? mine->Xsize : 0;
        if (mine)
            g_object_unref(mine);
        psnr = psnr_vs_exact(&f, &r, &bands);
    }
    ok(got_w == w && psnr > min_psnr, "shrink-on-load %s -> width %d: PSNR %.1f dB vs exact (> %.0f)", fixture, w, psnr, min_psnr);
    vips_error_clear();
    pl_result_clear(&r);
    eu_free(&f);
}

/* JPEG at an m/8 DCT scale through TurboJPEG (pl_jpeg_scaled.c): exact size, close to the exact
 * path, and really taken (the output differs from IMGPIPE_NO_JPEG_MSCALE=1's). */
static void check_mscale_quality(const char *fixture, int w, int h, int bands, double min_psnr, const char *what)
{
    eu_file f = eu_read(fixture);
    char spec[64];
    snprintf(spec, sizeof(spec), "transform?w=%d&type=png", w);
    pl_result r, old;
    pl_error e;
    int rc = eu_run(spec, &f, &r, &e);
    int rc_old = eu_run_switched_off(PL_NO_JPEG_MSCALE, spec, &f, &old, &e);
    eu_img d = eu_decode(&r);
    int got_bands = 0;
    double psnr = rc == 0 ? psnr_vs_exact(&f, &r, &got_bands) : -1;
    double diff = rc == 0 && rc_old == 0 ? eu_diff(&r, &old) : -1;
    ok(rc == 0 && d.width == w && d.height == h && got_bands == bands && psnr > min_psnr && diff > 0,
       "%s %s -> %dx%d, %d bands: PSNR %.1f dB vs exact (> %.0f), TurboJPEG path taken (mean diff %.2f vs libvips path)", what,
       fixture, d.width, d.height, got_bands, psnr, min_psnr, diff);
    pl_result_clear(&r);
    pl_result_clear(&old);
    eu_free(&f);
}

/* Same output with and without IMGPIPE_NO_JPEG_MSCALE=1: the TurboJPEG path declined. */
static void check_mscale_declined(const char *fixture, const char *spec, int w, int h, const char *what)
{
    eu_file f = eu_read(fixture);
    pl_result r, old;
    pl_error e;
    int rc = eu_run(spec, &f, &r, &e);
    int rc_old = eu_run_switched_off(PL_NO_JPEG_MSCALE, spec, &f, &old, &e);
    eu_img d = eu_decode(&r);
    bool same = rc == 0 && rc_old == 0 && r.len == old.len && memcmp(r.data, old.data, r.len) == 0;
    ok(same && d.width == w && d.height == h, "%s %s %s -> %dx%d, bytes identical to libvips' jpegload path", what, fixture, spec,
       d.width, d.height);
    pl_result_clear(&r);
    pl_result_clear(&old);
    eu_free(&f);
}

/* Mean absolute difference of two encoded images after an 8x8 box shrink: pixel-level resampling
 * differences average out, colour shifts (a missed ICC conversion: ~2.4 on the Adobe RGB fixture)
 * stay. -1 on error. */
static double coarse_diff(const pl_result *a, const pl_result *b)
{
    VipsImage *ia = vips_image_new_from_buffer(a->data, a->len, "", NULL);
    VipsImage *ib = vips_image_new_from_buffer(b->data, b->len, "", NULL);
    VipsImage *t[5] = {0};
    double avg = -1;
    if (ia == NULL || ib == NULL || ia->Xsize != ib->Xsize || ia->Ysize != ib->Ysize || vips_shrink(ia, &t[0], 8, 8, NULL) ||
        vips_shrink(ib, &t[1], 8, 8, NULL) || vips_subtract(t[0], t[1], &t[2], NULL) || vips_abs(t[2], &t[3], NULL) ||
        vips_avg(t[3], &avg, NULL))
        avg = -1;
    vips_error_clear();
    for (int i = 0; i < 5; i++)
        if (t[i])
            g_object_unref(t[i]);
    if (ia)
        g_object_unref(ia);
    if (ib)
        g_object_unref(ib);
    return avg;
}

/* Close to IMGPIPE_NO_JPEG_MSCALE=1's output (0 < mean diff: the TurboJPEG path was taken; after an
 * 8x8 shrink < max_diff: colour travelled), with the same ICC presence and EXIF orientation tag. */
static void check_mscale_close(const char *fixture, const char *spec, int w, int h, double max_diff, const char *what)
{
    eu_file f = eu_read(fixture);
    pl_result r, old;
    pl_error e;
    int rc = eu_run(spec, &f, &r, &e);
    int rc_old = eu_run_switched_off(PL_NO_JPEG_MSCALE, spec, &f, &old, &e);
    eu_img d = eu_decode(&r), d_old = eu_decode(&old);
    double diff = rc == 0 && rc_old == 0 ? eu_diff(&r, &old) : -1, coarse = rc == 0 && rc_old == 0 ? coarse_diff(&r, &old) : -1;
    ok(rc == 0 && d.width == w && d.height == h && diff > 0 && coarse >= 0 && coarse < max_diff && d.has_icc == d_old.has_icc &&
           d.orientation == d_old.orientation && d.bands == d_old.bands,
       "%s %s %s -> %dx%d, mean diff %.2f vs the libvips path, %.2f after 8x8 shrink (< %.1f), icc %d/%d, orientation %d/%d", what,
       fixture, spec, d.width, d.height, diff, coarse, max_diff, d.has_icc, d_old.has_icc, d.orientation, d_old.orientation);
    pl_result_clear(&r);
    pl_result_clear(&old);
    eu_free(&f);
}

static void test_shrink_quality(void)
{
    check_shrink_quality("edge/progressive-GreenMeadow.jpg", 150, 38); /* 1280x1024: DCT 1/8 */
    check_shrink_quality("photos/FreshFlower-1600x1203.jpg", 400, 38); /* DCT 1/4 */
    check_shrink_quality("photos/webp-gallery-4.webp", 300, 38);       /* libwebp scaling to 1.9x, then lanczos */
    /* 1024 -> 400: 1.9x would keep 0.74 of each side, where libwebp's rescaler costs more than a
     * full decode: no decoder scale, all lanczos3 (the scaled decode scored 44 dB) */
    check_shrink_quality("photos/webp-gallery-4.webp", 400, 50);
    /* m/8 with TurboJPEG; measured PSNR: FreshFlower 7/8 49.4, 6/8 44.9, 5/8 45.4, 3/8 39.1 (1/4: 39.7);
     * GreenMeadow 7/8 49.0, 6/8 48.8, 5/8 48.7, 3/8 47.9 */
    check_mscale_quality("photos/FreshFlower-1600x1203.jpg", 1400, 1053, 3, 38, "7/8");
    check_mscale_quality("photos/FreshFlower-1600x1203.jpg", 1200, 902, 3, 38, "6/8");
    check_mscale_quality("photos/FreshFlower-1600x1203.jpg", 1000, 752, 3, 38, "5/8");
    check_mscale_quality("photos/FreshFlower-1600x1203.jpg", 600, 451, 3, 38, "3/8");
    check_mscale_quality("edge/progressive-GreenMeadow.jpg", 960, 768, 3, 38, "6/8 progressive");
    check_mscale_quality("edge/progressive-GreenMeadow.jpg", 480, 384, 3, 38, "3/8 progressive");
    /* a grainy high-ISO photo: libvips' own 1/4 and 1/8 score 33.5 and 34.9 dB on it (6/8: 32.4) */
    check_mscale_quality("edge/grayscale-gray22-profile.jpg", 300, 200, 1, 30, "6/8 grey");
    /* 4/8 where libvips' 1/2 (floor: 800x601) misses 800x602 by a row: no resize left at all */
    check_mscale_quality("photos/FreshFlower-1600x1203.jpg", 800, 602, 3, 38, "4/8");
    /* embedded ICC (Adobe RGB) converted to sRGB from the memory image; kept on imaginary's routes */
    check_mscale_close("edge/adobergb-a98-profile.jpg", "transform?w=218&type=png", 218, 332, 1, "6/8 Adobe RGB:");
    check_mscale_close("edge/adobergb-a98-profile.jpg", "resize?width=218&type=png", 218, 332, 1, "6/8 Adobe RGB, metadata kept:");
    /* CMYK (and YCCK) JPEGs stay with libvips' jpegload and its CMYK -> sRGB */
    check_mscale_declined("edge/cmyk-no-profile.jpg", "transform?w=375&type=png", 375, 250, "CMYK at 6/8:");
    check_mscale_declined("edge/cmyk-with-swop-profile.jpg", "transform?w=375&type=png", 375, 250, "YCCK at 6/8:");
    /* 1/2, 1/4, 1/8 go through TurboJPEG too (up to 16 MP): the same pixels as libvips' jpegload */
    check_mscale_declined("edge/progressive-GreenMeadow.jpg", "transform?w=640&type=png", 640, 512, "1/2:");
    check_mscale_declined("edge/progressive-GreenMeadow.jpg", "transform?w=320&type=png", 320, 256, "1/4 progressive:");
    check_mscale_declined("edge/progressive-GreenMeadow.jpg", "transform?w=160&type=png", 160, 128, "1/8 progressive:");
    check_mscale_declined("edge/exif-orientation-6-portrait.jpg", "transform?w=300&norotation=true&type=png", 300, 225,
                          "1/2 baseline:");
    /* random access (rotate needs it): the memory image serves it, close to the libvips path */
    eu_file f = eu_read("photos/FreshFlower-1600x1203.jpg");
    pl_result r, old;
    pl_error e;
    int rc = eu_run("transform?w=1200&rotate=180&type=png", &f, &r, &e);
    int rc_old = eu_run_switched_off(PL_NO_JPEG_MSCALE, "transform?w=1200&rotate=180&type=png", &f, &old, &e);
    eu_img d = eu_decode(&r);
    double diff = rc == 0 && rc_old == 0 ? eu_diff(&r, &old) : -1;
    ok(rc == 0 && d.width == 1200 && d.height == 902 && diff > 0 && diff < 2,
       "6/8 with random access (rotate=180) -> %dx%d, mean diff %.2f vs the libvips path (0 < d < 2)", d.width, d.height, diff);
    pl_result_clear(&r);
    pl_result_clear(&old);
    eu_free(&f);
}

/* The reduce left after shrink-on-load (factor in (0.5, 1)), done by vips_reducev on both axes
 * (pl_reduce_u8): exact size, the same picture as vips_resize's lanczos3
 * (PL_NO_TRANSPOSED_REDUCE: > min_same dB, and not identical, so the path was taken; a
 * transposed or shifted result would score far lower), and as close to the exact path (not
 * compared when min_exact < 0: the exact path here does not auto-orient). */
static void check_reduce(const char *fixture, const char *spec, int w, int h, double min_same, double min_exact, const char *what)
{
    eu_file f = eu_read(fixture);
    pl_result r, old;
    pl_error e;
    int rc = eu_run(spec, &f, &r, &e);
    int rc_old = eu_run_switched_off(PL_NO_TRANSPOSED_REDUCE, spec, &f, &old, &e);
    eu_img d = eu_decode(&r);
    int bands = 0;
    double same = rc == 0 && rc_old == 0 ? eu_psnr(r.data, r.len, old.data, old.len) : -1;
    double exact = rc == 0 ? psnr_vs_exact(&f, &r, &bands) : -1, exact_old = rc_old == 0 ? psnr_vs_exact(&f, &old, &bands) : -1;
    ok(rc == 0 && d.width == w && d.height == h && same > min_same && same < 99 && (min_exact < 0 || exact > min_exact),
       "%s %s %s -> %dx%d: PSNR %.1f dB vs the reduceh path (> %.0f, < 99), %.1f vs exact (reduceh path %.1f; > %.0f)", what,
       fixture, spec, d.width, d.height, same, min_same, exact, exact_old, min_exact);
    pl_result_clear(&r);
    pl_result_clear(&old);
    eu_free(&f);
}

/* An image from one of libvips' own loaders (TIFF here), small enough to be brought into memory,
 * reduced by pl_lanczos on both axes: the asked size and as close to a float lanczos3 without
 * vips_resize's box as the in-memory path (55.3 / 55.7 dB at 100 / 150 px; vips_reducev with its
 * box in front, the path before: 52.9 / 52.4). */
static void check_lazy_reduce(int w, double min)
{
    eu_file png = eu_read("photos/kodim23-parrots.png");
    VipsImage *im = png.data != NULL ? vips_image_new_from_buffer(png.data, png.len, "", NULL) : NULL, *t[6] = {0};
    void *tif = NULL;
    size_t tlen = 0;
    pl_result r = {0};
    pl_error e;
    double db = -1;
    char spec[64];
    snprintf(spec, sizeof spec, "transform?w=%d&type=png", w);
    int rc = -1;
    if (im != NULL && vips_image_write_to_buffer(im, ".tif", &tif, &tlen, NULL) == 0) {
        eu_file f = {tif, tlen};
        rc = eu_run(spec, &f, &r, &e);
    }
    double mse = -1;
    if (rc == 0 && (t[0] = vips_image_new_from_buffer(r.data, r.len, "", NULL)) != NULL &&
        !vips_cast(im, &t[1], VIPS_FORMAT_FLOAT, NULL) &&
        !vips_resize(t[1], &t[2], (double)t[0]->Xsize / im->Xsize, "vscale", (double)t[0]->Ysize / im->Ysize, "gap", 0.0, "kernel",
                     VIPS_KERNEL_LANCZOS3, NULL) &&
        !vips_subtract(t[0], t[2], &t[3], NULL) && !vips_multiply(t[3], t[3], &t[4], NULL))
        vips_avg(t[4], &mse, NULL);
    if (mse > 0)
        db = 10 * log10(255.0 * 255.0 / mse);
    ok(rc == 0 && r.width == w && db > min, "TIFF (libvips' loader) %s -> %dx%d: %.1f dB from a float lanczos3 (> %.1f)", spec,
       r.width, r.height, db, min);
    for (int i = 0; i < 6; i++)
        VIPS_UNREF(t[i]);
    VIPS_UNREF(im);
    g_free(tif);
    if (rc == 0)
        pl_result_clear(&r);
    eu_free(&png);
    vips_error_clear();
}

/* pl_lanczos over a whole image in memory, column pass then row pass per output row: what the
 * engine computes for a decoder's buffer, the reference for an image it streams. */
static VipsImage *lanczos_in_memory(VipsImage *mem, int w, int h)
{
    int W = mem->Xsize, H = mem->Ysize, nb = mem->Bands;
    size_t in_line = (size_t)W * nb, line = (size_t)w * nb;
    pl_lanczos_plan *hp = w < W ? pl_lanczos_plan_new(W, w, nb) : NULL, *vp = h < H ? pl_lanczos_plan_new(H, h, 1) : NULL;
    uint8_t *buf = g_malloc(line * h), *tmp = g_malloc(in_line);
    const uint8_t *src = vips_image_get_data(mem);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * in_line;
        if (vp != NULL) {
            pl_lanczos_column(vp, pl_lanczos_best(), y, src, 0, in_line, in_line, hp != NULL ? tmp : buf + (size_t)y * line);
            row = hp != NULL ? tmp : buf + (size_t)y * line;
        }
        if (hp != NULL)
            pl_lanczos_rows(hp, pl_lanczos_best(), row, in_line, buf + (size_t)y * line, line, 1);
    }
    VipsImage *out = vips_image_new_from_memory_copy(buf, line * h, w, h, nb, VIPS_FORMAT_UCHAR);
    pl_lanczos_plan_free(hp);
    pl_lanczos_plan_free(vp);
    g_free(buf);
    g_free(tmp);
    return out;
}

/* A TIFF of any size (libvips' loader computes it on demand) is read once, in order, through a
 * window that slides down the image: the same bytes as pl_lanczos over the image in memory, for
 * tall images (the window refilled many times), factors up to 60, one axis only, and a window
 * that covers the whole height. */
static void check_lazy_stream(int W, int H, int w, int h)
{
    eu_file png = eu_read("photos/kodim23-parrots.png");
    VipsImage *photo = png.data != NULL ? vips_image_new_from_buffer(png.data, png.len, "", NULL) : NULL, *t[4] = {0};
    void *tif = NULL;
    size_t tlen = 0;
    pl_result r = {0};
    pl_error e;
    char spec[96];
    int rc = -1;
    long diff = -1;
    snprintf(spec, sizeof spec, "transform?w=%d&h=%d&fit=fill&type=png", w, h);
    if (photo != NULL && !vips_replicate(photo, &t[0], W / photo->Xsize + 1, H / photo->Ysize + 1, NULL) &&
        !vips_extract_area(t[0], &t[1], 0, 0, W, H, NULL) && (t[2] = vips_image_copy_memory(t[1])) != NULL &&
        vips_image_write_to_buffer(t[2], ".tif", &tif, &tlen, NULL) == 0) {
        eu_file f = {tif, tlen};
        rc = eu_run(spec, &f, &r, &e);
    }
    VipsImage *got = NULL, *got_mem = NULL;
    if (rc == 0 && (t[3] = lanczos_in_memory(t[2], w, h)) != NULL &&
        (got = vips_image_new_from_buffer(r.data, r.len, "", NULL)) != NULL && (got_mem = vips_image_copy_memory(got)) != NULL &&
        got_mem->Xsize == w && got_mem->Ysize == h && got_mem->Bands == 3 && got_mem->BandFmt == VIPS_FORMAT_UCHAR) {
        const uint8_t *a = vips_image_get_data(got_mem), *b = vips_image_get_data(t[3]);
        diff = 0;
        for (size_t i = 0; i < (size_t)w * h * 3; i++)
            diff += a[i] != b[i];
    }
    VIPS_UNREF(got);
    VIPS_UNREF(got_mem);
    ok(rc == 0 && diff == 0, "TIFF %dx%d -> %dx%d streamed: the bytes of pl_lanczos over the image in memory (%ld differ)", W, H, w,
       h, diff);
    for (int i = 0; i < 4; i++)
        VIPS_UNREF(t[i]);
    VIPS_UNREF(photo);
    g_free(tif);
    if (rc == 0)
        pl_result_clear(&r);
    eu_free(&png);
    vips_error_clear();
}

static void test_residual_reduce(void)
{
    check_lazy_reduce(100, 54.5);
    check_lazy_reduce(150, 54.5);
    check_lazy_stream(600, 4000, 60, 400);   /* factor 10: the window refilled ~40 times */
    check_lazy_stream(900, 3000, 600, 50);   /* factor 60 down, 1.5 across */
    check_lazy_stream(800, 2500, 800, 333);  /* the columns only */
    check_lazy_stream(2000, 900, 300, 900);  /* the rows only */
    check_lazy_stream(500, 37, 100, 20);     /* a window over every row */
    check_lazy_stream(3200, 3000, 320, 300); /* 29 MB: was vips_reducev with its box */
    /* 1600x1203 at DCT 1/2 (800x602) -> 700x526: factor 0.875 on both axes */
    check_reduce("photos/FreshFlower-1600x1203.jpg", "transform?w=700&type=png", 700, 526, 50, 38, "1/2 then 0.875:");
    /* the thumbnail route, JPEG out */
    check_reduce("photos/FreshFlower-1600x1203.jpg", "fit?width=700&height=700&type=jpeg&quality=80", 700, 526, 40, 34,
                 "fit, JPEG q80:");
    /* 1280x1024 progressive at 1/4 (320x256) -> 300x240 */
    check_reduce("edge/progressive-GreenMeadow.jpg", "transform?w=300&type=png", 300, 240, 50, 38, "1/4 progressive:");
    /* EXIF orientation 6: the target is upright, the reduce works on the stored pixels */
    check_reduce("edge/exif-orientation-6-portrait.jpg", "transform?h=500&type=png", 375, 500, 50, -1, "orientation 6, 7/8:");
    /* grey, one band: 7/8 is 350x234 */
    check_reduce("edge/grayscale-gray22-profile.jpg", "transform?w=320&type=png", 320, 214, 50, 30, "grey, 7/8:");
    /* alpha: inside pl_ops_resize, premultiplied, by any factor (32 -> 28; 2048 -> 600 is 0.29); not
     * against the exact path, which psnr_vs_exact resizes without premultiplying */
    check_reduce("edge/pngsuite-basn6a08-rgba.png", "transform?w=28&type=png", 28, 28, 50, -1, "RGBA by 0.875:");
    check_reduce("edge/alpha-blackbug.png", "transform?w=600&type=png", 600, 450, 50, -1, "RGBA by 0.29:");
    /* by 4 and more the rows take the whole factor in one lanczos3 (no box in front): 2048 -> 300 */
    check_reduce("edge/alpha-blackbug.png", "transform?w=300&type=png", 300, 225, 45, -1, "RGBA by 1/6.8:");
    check_reduce("photos/kodim23-parrots.png", "transform?w=100&h=100&fit=fill&type=png", 100, 100, 45, 38,
                 "RGB by 1/7.7 and 1/5.1:");
    /* a factor of 0.5 or less without alpha too (768 -> 300), with vips_resize's gap */
    check_reduce("photos/kodim23-parrots.png", "transform?w=300&type=png", 300, 200, 50, 40, "factor 0.39:");
    /* a 4.3 MP PNG (no shrink-on-load) by 0.9: pl_lanczos holds only the output (3.5 MP) and a
     * row, within the input's size (the vips_reducev path would hold two 3.9 MP buffers and is not
     * taken): not the reduceh path's bytes, within 45 dB of them */
    eu_file big = eu_synth(2400, 1800, ".png");
    pl_result r, old;
    pl_error e;
    int rc = eu_run_full("transform?w=2160&type=png", big.data, big.len, NULL, NULL, NULL, &r, &e);
    unsigned was = pl_engine_set_switches(PL_NO_TRANSPOSED_REDUCE);
    int rc_old = eu_run_full("transform?w=2160&type=png", big.data, big.len, NULL, NULL, NULL, &old, &e);
    pl_engine_set_switches(was);
    double db = rc == 0 && rc_old == 0 ? eu_psnr(r.data, r.len, old.data, old.len) : -1;
    ok(rc == 0 && rc_old == 0 && r.width == 2160 && r.height == 1620 && db > 45 && db < 99,
       "2400x1800 PNG -> 2160 wide by pl_lanczos: %dx%d, %.1f dB from the reduceh path (> 45, < 99)", r.width, r.height, db);
    pl_result_clear(&r);
    pl_result_clear(&old);
    eu_free(&big);
    check_reduce("photos/kodim23-parrots.png", "transform?w=691&type=png", 691, 461, 50, 40, "small PNG by 0.9:");
    /* the reduce's own buffers take the metadata of an image autorot has already turned upright:
     * the orientation tag must not come back from the EXIF blob (viewers would turn it again) */
    eu_file o6 = eu_read("edge/exif-orientation-6-portrait.jpg");
    const char *o6_specs[] = {"fit?width=300&height=300&type=jpeg", "resize?width=300&type=png", "transform?w=300&type=jpeg"};
    for (size_t i = 0; i < sizeof(o6_specs) / sizeof(o6_specs[0]); i++) {
        pl_result o6r;
        int o6rc = eu_run(o6_specs[i], &o6, &o6r, &e);
        eu_img d = o6rc == 0 ? eu_decode(&o6r) : (eu_img){0};
        ok(o6rc == 0 && d.ok && d.height > d.width && d.orientation <= 1,
           "orientation 6 through the reduce, %s: upright %dx%d, orientation tag %d (absent or 1)", o6_specs[i], d.width, d.height,
           d.orientation);
        pl_result_clear(&o6r);
    }
    eu_free(&o6);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    test_imaginary_routes();
    test_fit_rounding();
    test_transform();
    test_auto();
    test_info();
    test_shrink_quality();
    test_residual_reduce();
    test_alpha_bleed();
    return tap_done();
}
