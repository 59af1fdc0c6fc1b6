/*
 * test_engine_flatten: alpha flattened for JPEG output.
 *
 * The pixel loop (pl_flatten.c) gives vips_flatten's exact bytes for 8-bit RGBA and grey-alpha,
 * every alpha, onto white, black and a colour, written apart and in place. Through pl_run, a JPEG
 * output of an image with alpha whose step only resizes (and crops) flattens before the resize:
 * the output differs from IMGPIPE_NO_EARLY_FLATTEN=1's (so the path ran), has the asked size, and
 * is at least as close to the exact result (flatten, then a float lanczos3 resize) as the path
 * that resizes premultiplied pixels and flattens at the end. Steps that read alpha after the resize
 * (padding, blur, smart crop, watermark, a rotation by other than a right angle) and outputs that
 * keep alpha give exactly the switched-off bytes. In /renditions, where a JPEG output's resized
 * pixels may be a later output's source, a PNG output after a JPEG one keeps its alpha.
 */
#include <jansson.h>
#include <math.h>

#include "engine_util.h"
#include "pl_internal.h"

/* vips_flatten's bytes for n random pixels of nb bands (seeded), onto ink */
static void check_pixels(int nb, const unsigned *ink, bool in_place, const char *what)
{
    enum { W = 256, H = 64 };
    size_t n = (size_t)W * H;
    uint8_t *src = g_malloc(n * (size_t)nb), *mine = g_malloc(n * (size_t)nb);
    guint32 seed = 12345u + (guint32)nb;
    for (size_t i = 0; i < n * (size_t)nb; i++) {
        seed = seed * 1103515245u + 12345u;
        src[i] = (uint8_t)(seed >> 16);
    }
    /* every alpha value at least W / 4 times: the first pixels of each row run over all of them */
    for (size_t i = 0; i < n; i++)
        if (i % W < 256)
            src[i * (size_t)nb + (size_t)nb - 1] = (uint8_t)(i % W);
    memcpy(mine, src, n * (size_t)nb);
    uint8_t *dst = in_place ? mine : g_malloc(n * (size_t)(nb - 1));
    pl_flatten_pixels(mine, dst, n, nb, ink);
    VipsImage *im = vips_image_new_from_memory(src, n * (size_t)nb, W, H, nb, VIPS_FORMAT_UCHAR), *flat = NULL;
    double bg[3] = {ink[0], nb == 4 ? ink[1] : 0, nb == 4 ? ink[2] : 0};
    VipsArrayDouble *arr = vips_array_double_new(bg, nb - 1);
    size_t differ = (size_t)-1;
    if (im != NULL && vips_flatten(im, &flat, "background", arr, "max_alpha", 255.0, NULL) == 0) {
        size_t len = 0;
        uint8_t *ref = vips_image_write_to_memory(flat, &len);
        if (ref != NULL && len == n * (size_t)(nb - 1)) {
            differ = 0;
            for (size_t i = 0; i < len; i++)
                differ += ref[i] != dst[i];
        }
        g_free(ref);
    }
    ok(differ == 0, "%s, %d bands onto %u,%u,%u%s: vips_flatten's bytes (%zd differ)", what, nb, ink[0], nb == 4 ? ink[1] : ink[0],
       nb == 4 ? ink[2] : ink[0], in_place ? ", in place" : "", (ssize_t)differ);
    vips_area_unref(VIPS_AREA(arr));
    VIPS_UNREF(flat);
    VIPS_UNREF(im);
    if (!in_place)
        g_free(dst);
    g_free(src);
    g_free(mine);
    vips_error_clear();
}

/* PSNR of an encoded output against the input flattened onto bg, then resized in float (lanczos3)
 * to the output's size: the exact result of a resize and a flatten in either order. */
static double psnr_vs_flat_exact(const eu_file *f, const pl_result *r, const double *bg, int nbg)
{
    VipsImage *mine = vips_image_new_from_buffer(r->data, r->len, "", NULL);
    VipsImage *full = vips_image_new_from_buffer(f->data, f->len, "", NULL), *t[6] = {0};
    VipsArrayDouble *arr = vips_array_double_new(bg, nbg);
    double mse = -1;
    if (mine != NULL && full != NULL && !vips_cast(full, &t[0], VIPS_FORMAT_FLOAT, NULL) &&
        !vips_flatten(t[0], &t[1], "background", arr, "max_alpha", 255.0, NULL) &&
        !vips_resize(t[1], &t[2], (double)mine->Xsize / full->Xsize, "vscale", (double)mine->Ysize / full->Ysize, "kernel",
                     VIPS_KERNEL_LANCZOS3, NULL) &&
        t[2]->Xsize == mine->Xsize && t[2]->Ysize == mine->Ysize && t[2]->Bands == mine->Bands &&
        !vips_subtract(mine, t[2], &t[3], NULL) && !vips_multiply(t[3], t[3], &t[4], NULL))
        vips_avg(t[4], &mse, NULL);
    vips_area_unref(VIPS_AREA(arr));
    for (int i = 0; i < 6; i++)
        VIPS_UNREF(t[i]);
    VIPS_UNREF(mine);
    VIPS_UNREF(full);
    vips_error_clear();
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : (mse == 0 ? 99 : -1);
}

/* A step that only resizes, JPEG out: flattened first (the output differs from the switched-off
 * one where alpha is neither 0 nor 255 over wide areas: must_differ), the asked size, as close to
 * exact. */
static void check_early(const eu_file *f, const char *name, const char *spec, int w, int h, const double *bg, int nbg, double min,
                        bool must_differ)
{
    pl_result r, old;
    pl_error e;
    int rc = eu_run(spec, f, &r, &e), rc_old = eu_run_switched_off(PL_NO_EARLY_FLATTEN, spec, f, &old, &e);
    eu_img d = eu_decode(&r);
    bool differs = rc == 0 && rc_old == 0 && (r.len != old.len || memcmp(r.data, old.data, r.len) != 0);
    double p = rc == 0 ? psnr_vs_flat_exact(f, &r, bg, nbg) : -1, p_old = rc_old == 0 ? psnr_vs_flat_exact(f, &old, bg, nbg) : -1;
    ok(rc == 0 && (differs || !must_differ) && d.width == w && d.height == h && d.bands == nbg && p >= min && p >= p_old - 0.3,
       "%s %s -> %dx%d, %d bands: %.1f dB from the exact result (> %.0f; flattened at the end: %.1f)%s", name, spec, d.width,
       d.height, d.bands, p, min, p_old, differs ? "" : "; the same bytes");
    pl_result_clear(&r);
    pl_result_clear(&old);
}

/* A step that reads alpha after the resize, or an output that keeps it: the switched-off bytes. */
static void check_not_early(const eu_file *f, const char *name, const char *spec)
{
    pl_result r, old;
    pl_error e;
    int rc = eu_run(spec, f, &r, &e), rc_old = eu_run_switched_off(PL_NO_EARLY_FLATTEN, spec, f, &old, &e);
    ok(rc == 0 && rc_old == 0 && r.len == old.len && memcmp(r.data, old.data, r.len) == 0,
       "%s %s: flattened where it was (the same bytes as with the switch off)", name, spec);
    pl_result_clear(&r);
    pl_result_clear(&old);
}

/* /renditions: 800 px JPEG first (a plain resize, kept as the source of the smaller outputs), then
 * a 400 px PNG and a 300 px JPEG on another background: the PNG keeps its alpha, and each output is
 * what /transform alone gives (within JPEG's noise). */
static void check_renditions(const eu_file *f)
{
    const char *q = "renditions?r=w%3D800%26type%3Djpeg&r=w%3D400%26type%3Dpng&r=w%3D300%26type%3Djpeg%26background%3D0%2C0%2C255";
    const char *alone[] = {"transform?w=800&type=jpeg", "transform?w=400&type=png", "transform?w=300&type=jpeg&background=0,0,255"};
    const int bands[] = {3, 4, 3};
    pl_result res;
    pl_error err;
    json_t *doc = NULL;
    int rc = eu_run_full(q, f->data, f->len, "application/json", NULL, NULL, &res, &err);
    if (rc == 0)
        doc = json_loadb(res.data, res.len, 0, NULL);
    json_t *list = json_object_get(doc, "renditions");
    ok(rc == 0 && json_array_size(list) == 3, "renditions JPEG 800, PNG 400, JPEG 300 on blue: ran (%s)",
       rc == 0 ? "ok" : err.message);
    for (size_t i = 0; i < 3 && i < json_array_size(list); i++) {
        const char *b64 = json_string_value(json_object_get(json_array_get(list, i), "data"));
        gsize dl = 0;
        guchar *d = b64 != NULL ? g_base64_decode(b64, &dl) : NULL;
        pl_result one;
        int orc = eu_run_full(alone[i], f->data, f->len, NULL, NULL, NULL, &one, &err);
        eu_img di = eu_decode(&(pl_result){.data = d, .len = dl});
        double db = d != NULL && orc == 0 ? eu_psnr(d, dl, one.data, one.len) : -1;
        ok(di.ok && di.bands == bands[i] && db > 40, "rendition %zu (%s): %d bands (want %d), %.1f dB from it alone (> 40)", i + 1,
           alone[i], di.bands, bands[i], db);
        g_free(d);
        if (orc == 0)
            pl_result_clear(&one);
    }
    json_decref(doc);
    if (rc == 0)
        pl_result_clear(&res);
}

/* kodim23 with an alpha ramp (0 at the top to 255 at the bottom) as PNG bytes */
static eu_file ramp_png(void)
{
    eu_file g = {0}, src = eu_read("photos/kodim23-parrots.png");
    VipsImage *im = src.data != NULL ? vips_image_new_from_buffer(src.data, src.len, "", NULL) : NULL, *xy = NULL, *y = NULL,
              *a = NULL, *rgba = NULL;
    void *buf = NULL;
    size_t len = 0;
    if (im != NULL && !vips_xyz(&xy, im->Xsize, im->Ysize, NULL) && !vips_extract_band(xy, &y, 1, NULL) &&
        !vips_linear1(y, &a, 255.0 / im->Ysize, 0, "uchar", TRUE, NULL) && !vips_bandjoin2(im, a, &rgba, NULL) &&
        !vips_pngsave_buffer(rgba, &buf, &len, NULL))
        g.data = buf, g.len = len;
    VIPS_UNREF(rgba);
    VIPS_UNREF(a);
    VIPS_UNREF(y);
    VIPS_UNREF(xy);
    VIPS_UNREF(im);
    eu_free(&src);
    return g;
}

/* grey + alpha as PNG bytes, from a fixture with alpha */
static eu_file grey_alpha_png(const eu_file *rgba)
{
    eu_file g = {0};
    VipsImage *im = vips_image_new_from_buffer(rgba->data, rgba->len, "", NULL), *bw = NULL;
    void *buf = NULL;
    size_t len = 0;
    if (im != NULL && !vips_colourspace(im, &bw, VIPS_INTERPRETATION_B_W, NULL) && !vips_pngsave_buffer(bw, &buf, &len, NULL))
        g.data = buf, g.len = len;
    VIPS_UNREF(bw);
    VIPS_UNREF(im);
    return g;
}

int main(void)
{
    if (eu_init())
        return 1;
    const unsigned white[3] = {255, 255, 255}, black[3] = {0, 0, 0}, colour[3] = {10, 200, 31};
    check_pixels(4, white, false, "RGBA");
    check_pixels(4, black, true, "RGBA");
    check_pixels(4, colour, true, "RGBA");
    check_pixels(4, colour, false, "RGBA");
    check_pixels(2, white, true, "grey-alpha");
    check_pixels(2, colour, false, "grey-alpha");

    const double bw[3] = {255, 255, 255}, bc[3] = {10, 200, 31};
    eu_file bug = eu_read("edge/alpha-blackbug.png"), webp = eu_read("edge/webp-alpha.webp");
    eu_file ga = grey_alpha_png(&bug), ramp = ramp_png();
    /* 768x512 RGBA PNG with an alpha ramp; 2048x1536 RGBA PNG, alpha mostly 0 or 255 (a cutout:
     * both orders can give the same bytes); 300x300 RGBA WebP; grey-alpha made from the cutout */
    check_early(&ramp, "RGBA ramp PNG", "fit?width=600&height=600&type=jpeg&quality=95", 600, 400, bw, 3, 40, true);
    check_early(&ramp, "RGBA ramp PNG", "resize?width=200&type=jpeg&quality=95&background=10,200,31", 200, 133, bc, 3, 40, true);
    check_early(&ramp, "RGBA ramp PNG", "thumbnail?width=300&type=jpeg&quality=95", 300, 200, bw, 3, 40, true);
    check_early(&bug, "RGBA PNG", "fit?width=800&height=800&type=jpeg&quality=95", 800, 600, bw, 3, 40, false);
    check_early(&bug, "RGBA PNG", "resize?width=500&type=jpeg&quality=95", 500, 375, bw, 3, 40, false);
    check_early(&bug, "RGBA PNG", "transform?w=640&type=jpeg&quality=95&background=10,200,31", 640, 480, bc, 3, 40, false);
    check_early(&bug, "RGBA PNG", "thumbnail?width=300&type=jpeg&quality=95", 300, 225, bw, 3, 40, false);
    check_early(&webp, "RGBA WebP", "fit?width=200&height=200&type=jpeg&quality=95", 200, 200, bw, 3, 40, true);
    check_early(&webp, "RGBA WebP", "resize?width=120&type=jpeg&quality=95&background=10,200,31", 120, 120, bc, 3, 35, true);
    check_early(&ga, "grey-alpha PNG", "fit?width=800&height=800&type=jpeg&quality=95", 800, 600, bw, 1, 40, false);
    ok(ga.data != NULL && ramp.data != NULL, "grey-alpha and ramp PNGs made");

    check_not_early(&bug, "RGBA PNG", "resize?width=800&height=800&type=jpeg"); /* pads to 800x800 */
    check_not_early(&bug, "RGBA PNG", "resize?width=800&type=jpeg&sigma=2");
    check_not_early(&bug, "RGBA PNG", "smartcrop?width=400&height=400&type=jpeg");
    check_not_early(&bug, "RGBA PNG", "transform?w=400&h=400&fit=cover&gravity=attention&type=jpeg");
    check_not_early(&bug, "RGBA PNG", "transform?w=400&rotate=30&background=0,0,0,0&type=jpeg");
    check_not_early(&bug, "RGBA PNG", "transform?w=400&grayscale=true&type=jpeg");
    check_not_early(&bug, "RGBA PNG", "watermark?text=imgpipe&width=400&type=jpeg");
    check_not_early(&bug, "RGBA PNG", "fit?width=800&height=800&type=png");
    check_not_early(&webp, "RGBA WebP", "fit?width=200&height=200&type=webp");
    check_not_early(&webp, "RGBA WebP", "transform?w=150&h=200&fit=contain&type=jpeg"); /* pads */

    check_renditions(&bug);

    eu_free(&bug);
    eu_free(&webp);
    g_free(ga.data);
    g_free(ramp.data);
    return tap_done();
}
