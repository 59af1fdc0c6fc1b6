/*
 * test_engine_params: parameters that must change the output (never be silently ignored) and
 * the metadata and format rules around them, through pl_run: arbitrary rotation on transform with
 * its background, the overlay image on transform and /pipeline, watermark placement (gravity,
 * margin), the raw EXIF copyright kept by a strip, type=auto falling back to a type the client
 * accepts, the frames count of a capped animation, aspectratio on transform, effort per format,
 * and /convert's type errors. Synthetic images (libvips) and fixtures; single-threaded.
 */
#include <math.h>
#include <string.h>

#include "engine_util.h"

/* Pixel (x, y) of an encoded result: px[0..bands-1]; returns bands, 0 on error. */
static int pt(const pl_result *res, int x, int y, double px[4])
{
    VipsImage *im = vips_image_new_from_buffer(res->data, res->len, "", NULL);
    double *v = NULL;
    int n = 0;
    if (im == NULL || vips_getpoint(im, &v, &n, x, y, NULL)) {
        vips_error_clear();
        n = 0;
    }
    for (int i = 0; i < n && i < 4; i++)
        px[i] = v[i];
    g_free(v);
    if (im != NULL)
        g_object_unref(im);
    return n > 4 ? 4 : n;
}

/* A solid w x h image of colour (r, g, b[, a]) encoded as suffix (".png", ".jpg"). */
static eu_file solid(int w, int h, int r, int g, int b, int a, const char *suffix)
{
    eu_file f = {0};
    double c[4] = {r, g, b, a};
    VipsImage *t[3] = {0};
    void *buf = NULL;
    size_t len = 0;
    if (!vips_black(&t[0], w, h, "bands", a >= 0 ? 4 : 3, NULL) &&
        !vips_linear(t[0], &t[1], (double[]){1, 1, 1, 1}, c, a >= 0 ? 4 : 3, NULL) && !vips_cast_uchar(t[1], &t[2], NULL)) {
        t[2]->Type = VIPS_INTERPRETATION_sRGB;
        if (!vips_image_write_to_buffer(t[2], suffix, &buf, &len, NULL))
            f.data = buf, f.len = len;
    }
    for (int i = 0; i < 3; i++)
        if (t[i])
            g_object_unref(t[i]);
    vips_error_clear();
    return f;
}

static int run_overlay(const char *spec, const eu_file *f, const eu_file *ov, const char *accept, pl_result *res, pl_error *err)
{
    pl_plan plan;
    memset(res, 0, sizeof(*res));
    if (pl_plan_parse_string(spec, &plan, err) != 0) {
        diag("plan \"%s\" does not parse: %s", spec, err->message);
        return -2;
    }
    pl_input in = {
        .data = f->data, .len = f->len, .overlay = ov ? ov->data : NULL, .overlay_len = ov ? ov->len : 0, .accept = accept};
    int r = pl_run(&plan, &in, NULL, NULL, res, err);
    if (r != 0)
        diag("%s: %s (%s)", spec, err->message, err->detail);
    return r;
}

static bool near(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

static void test_rotate(void)
{
    eu_file f = solid(200, 100, 20, 40, 200, -1, ".jpg");
    pl_result res;
    pl_error err;
    double px[4] = {0};

    /* transform: any angle, the output is the rotated bounding box */
    int r = eu_run("transform?rotate=30", &f, &res, &err);
    eu_img d = eu_decode(&res);
    double bw = 200 * cos(M_PI / 6) + 100 * sin(M_PI / 6), bh = 200 * sin(M_PI / 6) + 100 * cos(M_PI / 6);
    ok(r == 0 && near(d.width, bw, 2) && near(d.height, bh, 2), "transform rotate=30: %dx%d, the %.0fx%.0f bounding box", d.width,
       d.height, bw, bh);
    ok(r == 0 && pt(&res, 1, 1, px) == 3 && px[0] > 240 && px[1] > 240 && px[2] > 240,
       "transform rotate=30 to JPEG: the corner is the default white background (%.0f,%.0f,%.0f)", px[0], px[1], px[2]);
    ok(r == 0 && pt(&res, d.width / 2, d.height / 2, px) == 3 && near(px[2], 200, 12) && near(px[0], 20, 12),
       "transform rotate=30: the centre is the image");
    pl_result_clear(&res);

    r = eu_run("transform?rotate=45&type=png", &f, &res, &err);
    d = eu_decode(&res);
    ok(r == 0 && d.bands == 4 && pt(&res, 1, 1, px) == 4 && px[3] == 0 && pt(&res, d.width / 2, d.height / 2, px) == 4 &&
           px[3] == 255,
       "transform rotate=45 to PNG: transparent corners, opaque centre");
    /* the soft edge keeps the image's colour (interpolated premultiplied, not darkened) */
    int edge = -1;
    for (int x = 0; r == 0 && x < d.width / 2 && edge < 0; x++)
        if (pt(&res, x, d.height / 2, px) == 4 && px[3] > 20 && px[3] < 235)
            edge = x;
    ok(edge >= 0 && near(px[0], 20, 12) && near(px[1], 40, 12) && near(px[2], 200, 12),
       "transform rotate=45 to PNG: the soft edge at x=%d is the image's colour (%.0f,%.0f,%.0f,a %.0f)", edge, px[0], px[1], px[2],
       px[3]);
    pl_result_clear(&res);

    r = eu_run("transform?rotate=45&bg=255,0,0", &f, &res, &err);
    ok(r == 0 && pt(&res, 1, 1, px) == 3 && px[0] > 230 && px[1] < 30 && px[2] < 30, "transform rotate=45&bg=255,0,0: red corners");
    pl_result_clear(&res);

    /* right angles stay exact; negative angles turn the other way */
    r = eu_run("transform?rotate=90", &f, &res, &err);
    d = eu_decode(&res);
    ok(r == 0 && d.width == 100 && d.height == 200, "transform rotate=90: 100x200");
    pl_result_clear(&res);
    eu_file g = eu_synth(120, 80, ".png");
    pl_result a, b;
    int ra = eu_run("transform?rotate=-90", &g, &a, &err);
    int rb = eu_run("transform?rotate=270", &g, &b, &err);
    ok(ra == 0 && rb == 0 && eu_diff(&a, &b) == 0, "transform rotate=-90 is rotate=270");
    pl_result_clear(&a);
    pl_result_clear(&b);
    ra = eu_run("transform?rotate=390", &g, &a, &err);
    rb = eu_run("transform?rotate=30", &g, &b, &err);
    ok(ra == 0 && rb == 0 && eu_diff(&a, &b) == 0, "transform rotate=390 is rotate=30");
    pl_result_clear(&a);
    pl_result_clear(&b);

    /* imaginary's /rotate floors to a multiple of 90 (imaginary-api.md §3) */
    r = eu_run("rotate?rotate=135", &f, &res, &err);
    d = eu_decode(&res);
    ok(r == 0 && d.width == 100 && d.height == 200, "/rotate rotate=135 floors to 90: 100x200");
    pl_result_clear(&res);
    eu_free(&g);
    eu_free(&f);
}

static void test_overlay(void)
{
    eu_file f = solid(200, 100, 0, 0, 255, -1, ".png");
    eu_file ov = solid(20, 10, 255, 0, 0, -1, ".png");
    pl_result res;
    pl_error err;
    double px[4];

    int r = run_overlay("transform?w=200", &f, &ov, NULL, &res, &err);
    ok(r == 0 && pt(&res, 5, 5, px) >= 3 && px[0] > 250 && px[2] < 5 && pt(&res, 100, 50, px) >= 3 && px[2] > 250,
       "transform with an overlay: it lands at the top-left corner");
    pl_result_clear(&res);

    r = run_overlay("pipeline?operations=%5B%7B%22operation%22%3A%22resize%22%2C%22params%22%3A%7B%22width%22%3A200%7D%7D%2C"
                    "%7B%22operation%22%3A%22watermarkImage%22%2C%22params%22%3A%7B%22left%22%3A50%2C%22top%22%3A20%7D%7D%5D",
                    &f, &ov, NULL, &res, &err);
    ok(r == 0 && pt(&res, 55, 25, px) >= 3 && px[0] > 250 && px[2] < 5 && pt(&res, 5, 5, px) >= 3 && px[2] > 250,
       "pipeline watermarkImage step: the overlay lands at left=50, top=20");
    pl_result_clear(&res);

    r = run_overlay("pipeline?operations=%5B%7B%22operation%22%3A%22watermarkImage%22%7D%5D", &f, NULL, NULL, &res, &err);
    ok(r != 0 && err.code == PL_E_MISSING_PARAM && strstr(err.message, "image") != NULL,
       "pipeline watermarkImage without an overlay: missing param \"image\" (%s)", err.message);
    pl_result_clear(&res);
    eu_free(&ov);
    eu_free(&f);
}

static void test_placement(void)
{
    eu_file f = solid(200, 100, 0, 0, 255, -1, ".png");
    eu_file ov = solid(20, 10, 255, 0, 0, -1, ".png");
    pl_result res;
    pl_error err;
    double px[4];

    int r = run_overlay("watermarkimage?gravity=southeast", &f, &ov, NULL, &res, &err);
    ok(r == 0 && pt(&res, 195, 95, px) >= 3 && px[0] > 250 && pt(&res, 5, 5, px) >= 3 && px[2] > 250 && px[0] < 5,
       "watermarkimage gravity=southeast: bottom-right corner, not 0,0");
    pl_result_clear(&res);

    r = run_overlay("watermarkimage?gravity=southeast&margin=10", &f, &ov, NULL, &res, &err);
    ok(r == 0 && pt(&res, 175, 85, px) >= 3 && px[0] > 250 && pt(&res, 195, 95, px) >= 3 && px[2] > 250 && px[0] < 5,
       "watermarkimage gravity=southeast&margin=10: 10 px from the edges");
    pl_result_clear(&res);

    r = run_overlay("watermarkimage?gravity=north", &f, &ov, NULL, &res, &err);
    ok(r == 0 && pt(&res, 100, 5, px) >= 3 && px[0] > 250 && pt(&res, 5, 5, px) >= 3 && px[0] < 5,
       "watermarkimage gravity=north: top centre");
    pl_result_clear(&res);

    r = run_overlay("transform?gravity=southwest&margin=4", &f, &ov, NULL, &res, &err);
    ok(r == 0 && pt(&res, 10, 90, px) >= 3 && px[0] > 250 && pt(&res, 10, 5, px) >= 3 && px[0] < 5,
       "transform overlay gravity=southwest&margin=4: bottom-left");
    pl_result_clear(&res);

    r = run_overlay("watermarkimage?gravity=east&left=10", &f, &ov, NULL, &res, &err);
    ok(r != 0 && err.code == PL_E_PARAM && strstr(err.message, "gravity") && strstr(err.message, "left"),
       "watermarkimage gravity with left: a conflict (%s)", err.message);
    pl_result_clear(&res);

    /* text: one block in the bottom-right corner */
    eu_file w = solid(600, 300, 255, 255, 255, -1, ".png");
    r = eu_run("watermark?text=IMGPIPE&noreplicate=true&opacity=1&gravity=southeast&margin=5&textwidth=100", &w, &res, &err);
    VipsImage *im = r == 0 ? vips_image_new_from_buffer(res.data, res.len, "", NULL) : NULL;
    double tl = 255, br = 255;
    VipsImage *t[2] = {0};
    if (im != NULL && !vips_extract_area(im, &t[0], 0, 0, 300, 150, NULL) &&
        !vips_extract_area(im, &t[1], 300, 150, 300, 150, NULL)) {
        vips_min(t[0], &tl, NULL);
        vips_min(t[1], &br, NULL);
    }
    ok(r == 0 && tl > 250 && br < 100, "watermark gravity=southeast: text only in the bottom-right quarter (min %.0f / %.0f)", tl,
       br);
    for (int i = 0; i < 2; i++)
        if (t[i])
            g_object_unref(t[i]), t[i] = NULL;
    if (im)
        g_object_unref(im);
    pl_result_clear(&res);

    /* tiled text: gravity moves the grid (ignoring it would give the top-left anchored tiles) */
    pl_result a, b;
    int ra = eu_run("watermark?text=IMGPIPE&opacity=1&textwidth=100&margin=40", &w, &a, &err);
    int rb = eu_run("watermark?text=IMGPIPE&opacity=1&textwidth=100&margin=40&gravity=southeast", &w, &b, &err);
    ok(ra == 0 && rb == 0 && eu_diff(&a, &b) > 1, "tiled text with gravity=southeast: another grid (diff %.2f)", eu_diff(&a, &b));
    pl_result_clear(&a);
    pl_result_clear(&b);
    r = eu_run("watermark?text=IMGPIPE&gravity=smart", &w, &res, &err);
    ok(r != 0 && err.code == PL_E_PARAM && strstr(err.message, "gravity"), "watermark gravity=smart: 400 (%s)", err.message);
    pl_result_clear(&res);
    r = eu_run("transform?text=IMGPIPE&noreplicate=true&opacity=1&gravity=northeast&margin=5&textwidth=100&type=png", &w, &res,
               &err);
    im = r == 0 ? vips_image_new_from_buffer(res.data, res.len, "", NULL) : NULL;
    double tr = 255, bl = 255;
    if (im != NULL && !vips_extract_area(im, &t[0], 300, 0, 300, 150, NULL) &&
        !vips_extract_area(im, &t[1], 0, 150, 300, 150, NULL)) {
        vips_min(t[0], &tr, NULL);
        vips_min(t[1], &bl, NULL);
    }
    ok(r == 0 && tr < 100 && bl > 250, "transform text gravity=northeast: text only in the top-right quarter (min %.0f / %.0f)", tr,
       bl);
    for (int i = 0; i < 2; i++)
        if (t[i])
            g_object_unref(t[i]);
    if (im)
        g_object_unref(im);
    pl_result_clear(&res);
    eu_free(&w);
    eu_free(&ov);
    eu_free(&f);
}

/* A JPEG whose EXIF holds Make and Copyright (raw ASCII values). */
static eu_file with_copyright(const char *copyright)
{
    /* Exif header, little-endian TIFF, IFD0 with Make (0x010f) and Copyright (0x8298) */
    uint8_t b[512] = "Exif\0\0II*\0\x08\0\0\0";
    size_t n = 14, cl = strlen(copyright) + 1;
    const char make[] = "TestCam";
    uint8_t *ifd = b + n;
    uint32_t data = 8 + 2 + 2 * 12 + 4;
    ifd[0] = 2, ifd[1] = 0;
    uint8_t e1[12] = {0x0f, 0x01, 2, 0, (uint8_t)sizeof(make), 0, 0, 0, (uint8_t)data, 0, 0, 0};
    uint8_t e2[12] = {0x98, 0x82, 2, 0, (uint8_t)cl, 0, 0, 0, (uint8_t)(data + sizeof(make)), 0, 0, 0};
    memcpy(ifd + 2, e1, 12);
    memcpy(ifd + 14, e2, 12);
    memset(ifd + 26, 0, 4);
    memcpy(ifd + 30, make, sizeof(make));
    memcpy(ifd + 30 + sizeof(make), copyright, cl);
    n += 30 + sizeof(make) + cl;
    eu_file f = {0};
    VipsImage *t[2] = {0};
    void *buf = NULL;
    size_t len = 0;
    eu_file s = eu_synth(64, 48, ".jpg");
    t[0] = vips_image_new_from_buffer(s.data, s.len, "", NULL);
    if (t[0] != NULL && !vips_copy(t[0], &t[1], NULL)) {
        vips_image_set_blob_copy(t[1], VIPS_META_EXIF_NAME, b, n);
        if (!vips_jpegsave_buffer(t[1], &buf, &len, NULL))
            f.data = buf, f.len = len;
    }
    for (int i = 0; i < 2; i++)
        if (t[i])
            g_object_unref(t[i]);
    eu_free(&s);
    vips_error_clear();
    return f;
}

/* The output's raw EXIF block (NULL if none) and its length. */
static const uint8_t *exif_of(const pl_result *res, VipsImage **keep, size_t *len)
{
    *keep = vips_image_new_from_buffer(res->data, res->len, "", NULL);
    const void *blob = NULL;
    *len = 0;
    if (*keep == NULL || !vips_image_get_typeof(*keep, VIPS_META_EXIF_NAME) ||
        vips_image_get_blob(*keep, VIPS_META_EXIF_NAME, &blob, len)) {
        vips_error_clear();
        return NULL;
    }
    return blob;
}

static bool has_bytes(const uint8_t *hay, size_t n, const char *needle, size_t nl)
{
    for (size_t i = 0; hay != NULL && i + nl <= n; i++)
        if (memcmp(hay + i, needle, nl) == 0)
            return true;
    return false;
}

static void test_copyright(void)
{
    const char cr[] = "(c) Test Owner 2026";
    eu_file f = with_copyright(cr);
    const char *specs[] = {"transform?w=32", "transform?w=32&type=webp", "transform?w=32&type=png",
                           "resize?width=32&stripmeta=true", "transform?w=32&type=avif"};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        pl_result res;
        pl_error err;
        int r = eu_run(specs[i], &f, &res, &err);
        VipsImage *im = NULL;
        size_t n = 0;
        const uint8_t *ex = r == 0 ? exif_of(&res, &im, &n) : NULL;
        /* the value with its terminating NUL, and nothing of libvips' formatted form */
        ok(ex != NULL && has_bytes(ex, n, cr, sizeof(cr)) && !has_bytes(ex, n, "Photographer", 12) &&
               !has_bytes(ex, n, "TestCam", 7),
           "%s: the copyright is kept exactly, the rest stripped (%zu bytes of EXIF)", specs[i], n);
        if (im)
            g_object_unref(im);
        pl_result_clear(&res);
    }
    eu_free(&f);

    /* nothing to keep: no EXIF block at all, WebP included */
    eu_file g = eu_read("edge/exif-orientation-6.jpg");
    const char *plain[] = {"transform?w=32&type=webp", "transform?w=32", "resize?width=32&stripmeta=true&type=webp"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        pl_result res;
        pl_error err;
        int r = eu_run(plain[i], &g, &res, &err);
        VipsImage *im = NULL;
        size_t n = 0;
        const uint8_t *ex = r == 0 ? exif_of(&res, &im, &n) : NULL;
        ok(r == 0 && im != NULL && ex == NULL, "%s of an image without copyright: no EXIF block (%zu bytes)", plain[i], n);
        if (im)
            g_object_unref(im);
        pl_result_clear(&res);
    }
    eu_free(&g);
}

static void test_auto(void)
{
    eu_file f = eu_synth(64, 48, ".jpg");
    pl_result res;
    pl_error err;
    int r = eu_run_full("transform?w=32&type=auto", f.data, f.len, "image/png", NULL, NULL, &res, &err);
    ok(r == 0 && res.format == PL_FMT_PNG && res.vary_accept, "transform type=auto, Accept: image/png, opaque image: PNG");
    pl_result_clear(&res);
    r = eu_run_full("transform?w=32&type=auto", f.data, f.len, "image/gif, image/tiff;q=0.5", NULL, NULL, &res, &err);
    ok(r == 0 && res.format == PL_FMT_GIF, "transform type=auto, Accept: image/gif, image/tiff;q=0.5: GIF (the higher q)");
    pl_result_clear(&res);
    r = eu_run_full("transform?w=32&type=auto", f.data, f.len, "text/html", NULL, NULL, &res, &err);
    ok(r != 0 && err.code == PL_E_NOT_ACCEPTABLE && strstr(err.message, "text/html") != NULL,
       "transform type=auto, Accept: text/html: 406 naming the header (%s)", err.message);
    pl_result_clear(&res);
    eu_free(&f);
}

static void test_frames(void)
{
    eu_file f = eu_read("edge/animated-rotating-squares.gif");
    pl_result res;
    pl_error err;
    pl_limits lim;
    pl_limits_default(&lim);
    lim.max_frames = 5;
    int r = eu_run_full("transform?w=40", f.data, f.len, NULL, &lim, NULL, &res, &err);
    eu_img d = eu_decode(&res);
    ok(r == 0 && d.pages == 5 && res.frames_in == 30 && res.frames_out == 5, "max_frames 5 of 30: frames_in %d, frames_out %d",
       res.frames_in, res.frames_out);
    pl_result_clear(&res);
    r = eu_run("transform?w=40&frames=3", &f, &res, &err);
    ok(r == 0 && res.frames_in == 30 && res.frames_out == 3, "frames=3 of 30: 3/30");
    pl_result_clear(&res);
    r = eu_run("transform?w=40&type=png", &f, &res, &err);
    ok(r == 0 && res.frames_in == 30 && res.frames_out == 1, "a still output of an animation: 1/30");
    pl_result_clear(&res);
    eu_free(&f);
    eu_file g = eu_synth(64, 48, ".jpg");
    r = eu_run("transform?w=40", &g, &res, &err);
    ok(r == 0 && res.frames_in == 1 && res.frames_out == 1, "a still image: 1/1");
    pl_result_clear(&res);
    eu_free(&g);
}

static void test_aspect(void)
{
    eu_file f = eu_synth(300, 200, ".jpg");
    pl_result res;
    pl_error err;
    int r = eu_run("transform?w=200&aspectratio=1:1", &f, &res, &err);
    eu_img d = eu_decode(&res);
    ok(r == 0 && d.width == 200 && d.height == 200, "transform w=200&aspectratio=1:1: %dx%d (as /resize)", d.width, d.height);
    pl_result_clear(&res);
    r = eu_run("resize?width=200&aspectratio=1:1", &f, &res, &err);
    d = eu_decode(&res);
    ok(r == 0 && d.width == 200 && d.height == 200, "resize width=200&aspectratio=1:1: 200x200");
    pl_result_clear(&res);
    r = eu_run("transform?h=90&aspectratio=16:9&fit=cover", &f, &res, &err);
    d = eu_decode(&res);
    ok(r == 0 && d.width == 160 && d.height == 90, "transform h=90&aspectratio=16:9&fit=cover: %dx%d", d.width, d.height);
    pl_result_clear(&res);
    eu_free(&f);
}

static void test_effort(void)
{
    eu_file f = eu_synth(64, 48, ".jpg");
    eu_file a = eu_read("edge/animated-rotating-squares.webp");
    pl_result res;
    pl_error err;
    int r = eu_run("transform?w=32&type=webp&effort=10", &f, &res, &err);
    ok(r != 0 && err.code == PL_E_PARAM && strstr(err.message, "effort") && strstr(err.message, "0 to 6"),
       "effort=10 for WebP: 400 naming the range (%s)", err.message);
    pl_result_clear(&res);
    /* the format known only from the input */
    r = eu_run("transform?w=32&effort=9", &a, &res, &err);
    ok(r != 0 && err.code == PL_E_PARAM && strstr(err.message, "0 to 6"), "effort=9 on a WebP input kept as WebP: 400 (%s)",
       err.message);
    pl_result_clear(&res);
    r = eu_run("transform?w=32&type=webp&effort=6", &f, &res, &err);
    ok(r == 0 && res.format == PL_FMT_WEBP, "effort=6 for WebP: fine");
    pl_result_clear(&res);
    r = eu_run("transform?w=32&type=avif&effort=9", &f, &res, &err);
    ok(r == 0 && res.format == PL_FMT_AVIF, "effort=9 for AVIF: fine");
    pl_result_clear(&res);
    r = eu_run("transform?w=32&type=avif&effort=10", &f, &res, &err);
    ok(r != 0 && err.code == PL_E_PARAM && strstr(err.message, "0 to 9"), "effort=10 for AVIF: 400 (%s)", err.message);
    pl_result_clear(&res);
    r = eu_run("transform?w=32&type=gif&effort=0", &f, &res, &err);
    ok(r != 0 && err.code == PL_E_PARAM && strstr(err.message, "1 to 10"), "effort=0 for GIF: 400 (%s)", err.message);
    pl_result_clear(&res);
    r = eu_run("transform?w=32&type=jpeg&effort=5", &f, &res, &err);
    ok(r != 0 && err.code == PL_E_PARAM && strstr(err.message, "jpeg"), "effort for JPEG: 400, JPEG has no effort (%s)",
       err.message);
    pl_result_clear(&res);
    r = eu_run("transform?w=32&type=png&palette=true&effort=10", &f, &res, &err);
    ok(r == 0 && res.format == PL_FMT_PNG, "effort=10 for palette PNG: fine");
    pl_result_clear(&res);
    eu_free(&a);
    eu_free(&f);
}

static void test_convert(void)
{
    eu_file f = eu_synth(64, 48, ".jpg");
    eu_file p = eu_read("edge/webp-alpha.webp");
    pl_result res;
    pl_error err;
    int r = eu_run("convert?type=gif", &f, &res, &err);
    ok(r != 0 && err.code == PL_E_UNSUPPORTED_OUTPUT && strstr(err.message, "transform?type=gif"),
       "/convert type=gif: 400 saying why and what writes GIF (%s)", err.message);
    pl_result_clear(&res);
    r = eu_run_full("convert?type=auto", f.data, f.len, "*/*", NULL, NULL, &res, &err);
    ok(r == 0 && res.format == PL_FMT_JPEG && res.vary_accept, "/convert type=auto, Accept: */*: the input's type (JPEG)");
    pl_result_clear(&res);
    r = eu_run_full("convert?type=auto", p.data, p.len, "image/*", NULL, NULL, &res, &err);
    ok(r == 0 && res.format == PL_FMT_WEBP, "/convert type=auto, Accept: image/*: the input's type (WebP)");
    pl_result_clear(&res);
    r = eu_run_full("convert?type=auto", f.data, f.len, "image/avif", NULL, NULL, &res, &err);
    ok(r != 0 && strstr(err.message, "image/avif") && strstr(err.message, "Accept"),
       "/convert type=auto, Accept: image/avif: 400 naming the header (%s)", err.message);
    pl_result_clear(&res);
    /* imaginary's other routes keep the input's format (imaginary-api.md §5) */
    r = eu_run_full("resize?width=32&type=auto", f.data, f.len, "*/*", NULL, NULL, &res, &err);
    ok(r == 0 && res.format == PL_FMT_JPEG, "/resize type=auto, Accept: */*: the input's type");
    pl_result_clear(&res);
    eu_free(&p);
    eu_free(&f);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    test_rotate();
    test_overlay();
    test_placement();
    test_copyright();
    test_auto();
    test_frames();
    test_aspect();
    test_effort();
    test_convert();
    return tap_done();
}
