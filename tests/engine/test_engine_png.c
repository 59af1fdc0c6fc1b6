/*
 * test_engine_png: the PNG fast path (pl_png.c: libdeflate + unfilter into a memory image) gives
 * exactly the pixels and metadata of libvips' pngload on every PNG fixture (grey, grey+alpha, RGB,
 * RGBA, palette, tRNS, 16-bit, 1-bit, interlaced, ICC, damaged): each fixture runs with the fast
 * path and with IMGPIPE_NO_FAST_PNG=1, and the results must agree to the pixel (or fail alike).
 * Also: PNG output is never larger than libvips' default pngsave (compression 6, no filter), on the
 * libdeflate writer's path (pl_png_write.c: no compression asked) and on libpng's (compression=6).
 */
#include <stdlib.h>

#include "engine_util.h"

/* largest absolute pixel difference of two encoded images, -1 if they differ in shape */
static double png_maxdiff(const pl_result *a, const pl_result *b)
{
    VipsImage *x = vips_image_new_from_buffer(a->data, a->len, "", NULL);
    VipsImage *y = vips_image_new_from_buffer(b->data, b->len, "", NULL);
    double m = -1;
    VipsImage *d = NULL, *ad = NULL;
    if (x != NULL && y != NULL && x->Xsize == y->Xsize && x->Ysize == y->Ysize && x->Bands == y->Bands &&
        x->BandFmt == y->BandFmt && vips_subtract(x, y, &d, NULL) == 0 && vips_abs(d, &ad, NULL) == 0 &&
        vips_max(ad, &m, NULL) != 0)
        m = -1;
    if (x != NULL && y != NULL &&
        (vips_image_get_typeof(x, VIPS_META_ICC_NAME) != 0) != (vips_image_get_typeof(y, VIPS_META_ICC_NAME) != 0))
        m = -2;
    VIPS_UNREF(ad);
    VIPS_UNREF(d);
    VIPS_UNREF(x);
    VIPS_UNREF(y);
    return m;
}

static void test_same(const char *rel, const char *spec)
{
    eu_file f = eu_read(rel);
    pl_result a, b;
    pl_error ea, eb;
    int ra = eu_run(spec, &f, &a, &ea);
    int rb = eu_run_switched_off(PL_NO_FAST_PNG, spec, &f, &b, &eb);
    if (ra != 0 || rb != 0)
        ok(ra == rb && ea.code == eb.code, "%s %s: both paths fail alike (%s / %s)", rel, spec, pl_error_name(ea.code),
           pl_error_name(eb.code));
    else
        ok(png_maxdiff(&a, &b) == 0, "%s %s: fast path = libvips' pngload (%dx%d)", rel, spec, a.width, a.height);
    pl_result_clear(&a);
    pl_result_clear(&b);
    eu_free(&f);
}

static void test_size(const char *rel, const char *spec)
{
    eu_file f = eu_read(rel);
    pl_result r;
    pl_error e;
    void *naive = NULL;
    size_t naive_len = 0;
    int rc = eu_run(spec, &f, &r, &e);
    /* the naive path: the same pixels through libvips' default pngsave (level 6, no filter) */
    VipsImage *out = rc == 0 ? vips_image_new_from_buffer(r.data, r.len, "", NULL) : NULL;
    if (out != NULL)
        vips_pngsave_buffer(out, &naive, &naive_len, "strip", TRUE, NULL);
    ok(rc == 0 && naive_len > 0 && r.len <= naive_len, "%s %s: %zu bytes, libvips' default pngsave %zu", rel, spec, r.len,
       naive_len);
    g_free(naive);
    VIPS_UNREF(out);
    pl_result_clear(&r);
    eu_free(&f);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    static const char *pngs[] = {"edge/alpha-blackbug.png",
                                 "edge/displayp3-profile.png",
                                 "edge/palette-swiss.png",
                                 "edge/pngsuite-basi3p02-interlaced-palette.png",
                                 "edge/pngsuite-basi6a08-interlaced.png",
                                 "edge/pngsuite-basn0g01-1bit.png",
                                 "edge/pngsuite-basn0g16-grey16.png",
                                 "edge/pngsuite-basn3p08-palette.png",
                                 "edge/pngsuite-basn6a08-rgba.png",
                                 "edge/pngsuite-basn6a16-rgba16.png",
                                 "edge/pngsuite-tbbn3p08-palette-trns.png",
                                 "edge/prophoto-profile.png",
                                 "edge/tall-strip-6x1024.png",
                                 "edge/tiny-1x1-interlaced.png",
                                 "edge/tiny-1x1-palette.png",
                                 "photos/coffee.png",
                                 "photos/kodim23-parrots.png",
                                 "bad/libpng-badadler.png",
                                 "bad/libpng-badcrc.png",
                                 "bad/truncated-10000B.png",
                                 "bad/pngsuite-xcrn0g04-crlf-mangled.png",
                                 "bad/pngsuite-xdtn0g01-no-idat.png",
                                 "bad/pngsuite-xhdn0g08-bad-ihdr-crc.png"};
    for (size_t i = 0; i < sizeof(pngs) / sizeof(pngs[0]); i++) {
        test_same(pngs[i], "transform?type=png&strip=false");
        test_same(pngs[i], "resize?width=33&type=png");
    }
    static const char *sizes[] = {"edge/alpha-blackbug.png", "photos/kodim23-parrots.png", "photos/coffee.png",
                                  "edge/palette-swiss.png", "edge/pngsuite-basn6a08-rgba.png"};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        test_size(sizes[i], "transform?w=512&h=512&fit=cover&type=png");
        test_size(sizes[i], "resize?width=300&type=png&compression=6");
        test_size(sizes[i], "resize?width=300&type=png");
        test_size(sizes[i], "transform?type=png");
    }
    return tap_done();
}
