/*
 * test_engine_png: the PNG fast path (pl_png.c: libdeflate + unfilter into a memory image) gives
 * exactly the pixels and metadata of libvips' pngload on every PNG fixture (grey, grey+alpha, RGB,
 * RGBA, palette, tRNS, 16-bit, 1-bit, interlaced, ICC, damaged): each fixture runs with the fast
 * path and with IMGPIPE_NO_FAST_PNG=1, and the results must agree to the pixel (or fail alike).
 * Also: PNG output is never larger than libvips' default pngsave (compression 6, no filter), on the
 * libdeflate writer's path (pl_png_write.c: no compression asked) and on libpng's (compression=6).
 * An opaque RGBA photo (premultiply skipped; shrink-on-load, a 2x2 box, at 3x the target and more)
 * stays within one level (40 dB when shrunk) of libvips' pngload path, and a hard transparent edge
 * resizes without a dark fringe on both paths, with the same pixels. Adam7 PNGs of every layout
 * the fast path takes give pngload's pixels; so do palette PNGs with and without tRNS, and with an
 * index past the palette (the fast path leaves those to pngload). Alpha that is not 255 is boxed
 * on load too, premultiplied, where the resize is the first to read the pixels (test_premul_box).
 * Rows of filter None are boxed where they lie, and the zlib stream's Adler-32 is not checked
 * (the chunk CRCs are): test_filters_and_frame. Where the caller lets the engine move the input's
 * bytes about, many IDAT chunks are gathered in place and put back (test_gathered).
 */
#include <libdeflate.h>
#include <math.h>
#include <stdlib.h>

#include "engine_util.h"

/* Where both paths are run to compare the decoders, both resize with vips_resize: pl_reduce_u8
 * reads the fast decoder's memory image in place with pl_lanczos on both axes, and libvips' lazy
 * pngload through vips_reducev, a few levels apart (both lanczos3). And images with alpha are not
 * boxed on load (premultiplied) there: test_premul_box compares that path with this one. */
#define SAME_REDUCE (PL_NO_TRANSPOSED_REDUCE | PL_NO_PREMUL_BOX)

/* min_db 0: the same pixels exactly; else (a spec where the fast path may shrink on load, a 2x2
 * box) the same or at least min_db dB PSNR apart */
static void test_same(const char *rel, const char *spec, double min_db)
{
    eu_file f = eu_read(rel);
    pl_result a, b;
    pl_error ea, eb;
    int ra = eu_run_switched_off(SAME_REDUCE, spec, &f, &a, &ea);
    int rb = eu_run_switched_off(PL_NO_FAST_PNG | SAME_REDUCE, spec, &f, &b, &eb);
    if (ra != 0 || rb != 0)
        ok(ra == rb && ea.code == eb.code, "%s %s: both paths fail alike (%s / %s)", rel, spec, pl_error_name(ea.code),
           pl_error_name(eb.code));
    else if (min_db == 0)
        ok(eu_maxdiff(&a, &b) == 0, "%s %s: fast path = libvips' pngload (%dx%d)", rel, spec, a.width, a.height);
    else {
        double db = eu_maxdiff(&a, &b) == 0 ? 99 : eu_psnr(a.data, a.len, b.data, b.len);
        ok(db >= min_db, "%s %s: fast path %.1f dB from libvips' pngload (>= %.0f; %dx%d)", rel, spec, db, min_db, a.width,
           a.height);
    }
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

/* An encoded PNG (libpng's adaptive filters, as ordinary encoders write them) of w x h RGBA
 * pixels; the caller g_frees data. */
static eu_file png_of_rgba(const uint8_t *px, int w, int h)
{
    eu_file f = {NULL, 0};
    VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * 4, w, h, 4, VIPS_FORMAT_UCHAR);
    if (im != NULL) {
        im->Type = VIPS_INTERPRETATION_sRGB;
        void *buf = NULL;
        if (vips_pngsave_buffer(im, &buf, &f.len, "filter", VIPS_FOREIGN_PNG_FILTER_ALL, "strip", TRUE, NULL) == 0)
            f.data = buf;
    }
    VIPS_UNREF(im);
    return f;
}

/* The decoded output in memory (8-bit), or NULL. */
static VipsImage *png_pixels(const pl_result *r)
{
    VipsImage *x = vips_image_new_from_buffer(r->data, r->len, "", NULL);
    VipsImage *m = x != NULL ? vips_image_copy_memory(x) : NULL;
    VIPS_UNREF(x);
    return m;
}

/* A photo with an alpha of 255 everywhere: the fast path skips premultiplying it; the result must
 * be libvips' pngload path's within one level (min_db 0), or min_db dB PSNR from it where the
 * fast path shrinks on load, and stay RGBA with its alpha at 255. */
static void test_opaque_alpha(const char *spec, double min_db)
{
    eu_file rgb = eu_read("photos/kodim23-parrots.png");
    VipsImage *in = rgb.len ? vips_image_new_from_buffer(rgb.data, rgb.len, "", NULL) : NULL, *rgba = NULL, *mem = NULL;
    eu_file f = {NULL, 0};
    if (in != NULL && vips_bandjoin_const1(in, &rgba, 255, NULL) == 0 && (mem = vips_image_copy_memory(rgba)) != NULL)
        f = png_of_rgba(vips_image_get_data(mem), mem->Xsize, mem->Ysize);
    pl_result a, b;
    pl_error ea, eb;
    int ra = f.len ? eu_run_switched_off(SAME_REDUCE, spec, &f, &a, &ea) : -1,
        rb = f.len ? eu_run_switched_off(PL_NO_FAST_PNG | SAME_REDUCE, spec, &f, &b, &eb) : -1;
    VipsImage *pa = ra == 0 ? png_pixels(&a) : NULL, *alpha = NULL;
    double d = ra == 0 && rb == 0 ? eu_maxdiff(&a, &b) : -1, amin = 0;
    double db = ra == 0 && rb == 0 ? eu_psnr(a.data, a.len, b.data, b.len) : -1;
    if (pa != NULL && pa->Bands == 4 && vips_extract_band(pa, &alpha, 3, NULL) == 0 && vips_min(alpha, &amin, NULL) != 0)
        amin = -1;
    ok(ra == 0 && rb == 0 && d >= 0 && (min_db == 0 ? d <= 1 : db >= min_db) && pa != NULL && pa->Bands == 4 && amin == 255,
       "opaque RGBA photo %s: fast path within %g (%.1f dB) of libvips' pngload (%s), %d bands, alpha min %g", spec, d, db,
       min_db == 0 ? "<= 1" : ">= 40 dB", pa ? pa->Bands : 0, amin);
    if (ra == 0)
        pl_result_clear(&a);
    if (rb == 0)
        pl_result_clear(&b);
    VIPS_UNREF(alpha);
    VIPS_UNREF(pa);
    VIPS_UNREF(mem);
    VIPS_UNREF(rgba);
    VIPS_UNREF(in);
    g_free(f.data);
    eu_free(&rgb);
}

/* Real transparency: black at alpha 0 left of column 47, white at alpha 255 from it (below row
 * top; above it all opaque white: the decoder starts its shrink-on-load box there and must drop
 * it at the first transparent row). A resize that premultiplies gives white wherever some alpha
 * is left (no dark fringe at the edge); one that does not gives greys there. Fast path and
 * libvips' pngload, each checked, and the two the same. */
static void test_transparent_edge(const char *spec, int top)
{
    enum { W = 96, H = 64, EDGE = 47 };
    static uint8_t px[W * H * 4];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t v = x >= EDGE || y < top ? 255 : 0;
            memset(px + ((size_t)y * W + x) * 4, v, 4);
        }
    eu_file f = png_of_rgba(px, W, H);
    pl_result both[2] = {{0}};
    for (int fast = 1; fast >= 0; fast--) {
        pl_result r;
        pl_error e;
        int rc = !f.len ? -1 : eu_run_switched_off(fast ? SAME_REDUCE : PL_NO_FAST_PNG | SAME_REDUCE, spec, &f, &r, &e);
        VipsImage *p = rc == 0 ? png_pixels(&r) : NULL;
        int edge = 0, worst = 255;
        for (int y = 0; p != NULL && p->Bands == 4 && y < p->Ysize; y++)
            for (int x = 0; x < p->Xsize; x++) {
                const uint8_t *q = VIPS_IMAGE_ADDR(p, x, y);
                if (q[3] >= 8 && q[3] < 255) {
                    edge++;
                    for (int b = 0; b < 3; b++)
                        worst = VIPS_MIN(worst, q[b]);
                }
            }
        ok(p != NULL && p->Bands == 4 && edge > 0 && worst >= 245,
           "transparent edge %s (%s): %d partly transparent pixels, darkest colour %d (>= 245: no dark fringe)", spec,
           fast ? "fast path" : "libvips' pngload", edge, worst);
        VIPS_UNREF(p);
        if (rc == 0)
            both[fast] = r;
    }
    ok(both[0].len > 0 && both[1].len > 0 && eu_maxdiff(&both[0], &both[1]) == 0,
       "transparent edge %s, opaque above row %d: fast path = libvips' pngload", spec, top);
    pl_result_clear(&both[0]);
    pl_result_clear(&both[1]);
    g_free(f.data);
}

/* An RGBA photo whose alpha is a ramp (kodim23's green and blue, alpha 40..255 across, and a
 * fully transparent strip of red on the left whose colour must not bleed): at 3x the target and more the decoder
 * boxes it on load, premultiplied, and the resize takes it as premultiplied. Against the same run
 * without (IMGPIPE_NO_PREMUL_BOX=1): other bytes (the path was taken), >= 40 dB on white, no red
 * where alpha is left. Runs that must not take it give the same bytes with and without: JPEG
 * output (flattened before the resize), a watermark, an image under 3x its target. */
static void test_premul_box(void)
{
    eu_file rgb = eu_read("photos/kodim23-parrots.png");
    VipsImage *in = rgb.len ? vips_image_new_from_buffer(rgb.data, rgb.len, "", NULL) : NULL;
    eu_file f = {NULL, 0};
    if (in != NULL) {
        int w = in->Xsize, h = in->Ysize;
        VipsImage *m = vips_image_copy_memory(in);
        uint8_t *px = g_malloc((size_t)w * h * 4);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const uint8_t *s = VIPS_IMAGE_ADDR(m, x, y);
                uint8_t *d = px + ((size_t)y * w + x) * 4;
                bool clear = x < w / 8; /* red, fully transparent */
                d[0] = clear ? 255 : 0; /* no red in the picture: red with alpha is bleeding */
                d[1] = clear ? 0 : s[1];
                d[2] = clear ? 0 : s[2];
                d[3] = clear ? 0 : (uint8_t)(40 + 215 * (x - w / 8) / (w - w / 8));
            }
        f = png_of_rgba(px, w, h);
        g_free(px);
        g_object_unref(m);
    }
    static const struct {
        const char *spec;
        bool taken;
    } cases[] = {{"transform?w=120&h=120&fit=cover&type=png", true},      {"resize?width=180&type=png", true},
                 {"fit?width=150&height=150&type=webp&quality=90", true}, {"resize?width=180&type=jpeg", false},
                 {"watermark?text=hi&width=180&type=png", false},         {"resize?width=300&type=png", false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pl_result a = {0}, b = {0};
        pl_error ea, eb;
        int ra = f.len ? eu_run(cases[i].spec, &f, &a, &ea) : -1;
        int rb = f.len ? eu_run_switched_off(PL_NO_PREMUL_BOX, cases[i].spec, &f, &b, &eb) : -1;
        bool same = ra == 0 && rb == 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        double db = ra == 0 && rb == 0 ? (same ? 99 : eu_psnr(a.data, a.len, b.data, b.len)) : -1;
        int red = 0;
        VipsImage *p = ra == 0 && cases[i].taken && a.format == PL_FMT_PNG ? png_pixels(&a) : NULL;
        for (int y = 0; p != NULL && p->Bands == 4 && y < p->Ysize; y++)
            for (int x = 0; x < p->Xsize; x++) {
                const uint8_t *q = VIPS_IMAGE_ADDR(p, x, y);
                red += q[3] >= 16 && q[0] > q[1] + 128 && q[0] > q[2] + 128;
            }
        if (cases[i].taken)
            ok(ra == 0 && rb == 0 && !same && db >= 40 && red == 0 && a.width == b.width && a.height == b.height,
               "alpha-ramp photo %s: boxed premultiplied on load, %.1f dB from the full-size path, %d red pixels with alpha",
               cases[i].spec, db, red);
        else
            ok(same, "alpha-ramp photo %s: not boxed premultiplied (the same bytes)", cases[i].spec);
        VIPS_UNREF(p);
        pl_result_clear(&a);
        pl_result_clear(&b);
    }
    VIPS_UNREF(in);
    g_free(f.data);
    eu_free(&rgb);
    /* odd sizes (the box's last column and row alone), grey+alpha and RGBA */
    for (int bands = 2; bands <= 4; bands += 2) {
        enum { W = 301, H = 203 };
        uint8_t *px = g_malloc((size_t)W * H * bands);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *d = px + ((size_t)y * W + x) * bands;
                for (int b = 0; b < bands - 1; b++)
                    d[b] = (uint8_t)(128 + 100 * sin(x / 17.0 + b) * cos(y / 13.0)); /* smooth, as photos are */
                d[bands - 1] = (uint8_t)(x < 20 ? 0 : 30 + (x * 225) / W);
            }
        VipsImage *im = vips_image_new_from_memory(px, (size_t)W * H * bands, W, H, bands, VIPS_FORMAT_UCHAR);
        im->Type = bands == 2 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
        void *buf = NULL;
        size_t len = 0;
        vips_pngsave_buffer(im, &buf, &len, "filter", VIPS_FOREIGN_PNG_FILTER_ALL, "strip", TRUE, NULL);
        eu_file g = {buf, len};
        pl_result a = {0}, b = {0};
        pl_error ea, eb;
        int ra = eu_run("resize?width=61&type=png", &g, &a, &ea);
        int rb = eu_run_switched_off(PL_NO_PREMUL_BOX, "resize?width=61&type=png", &g, &b, &eb);
        bool same = ra == 0 && rb == 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        double db = ra == 0 && rb == 0 ? eu_psnr(a.data, a.len, b.data, b.len) : -1;
        ok(ra == 0 && rb == 0 && !same && db >= 40 && a.width == 61 && a.height == b.height,
           "%dx%d %s with an alpha ramp -> 61 px: boxed premultiplied on load, %.1f dB from the full-size path", W, H,
           bands == 2 ? "grey+alpha" : "RGBA", db);
        pl_result_clear(&a);
        pl_result_clear(&b);
        g_free(buf);
        g_object_unref(im);
        g_free(px);
    }
}

/* Adam7 PNGs written by libvips (libpng), 1-4 bands, 8 and 16 bits, sizes where passes are empty
 * or one pixel wide: the fast path's deinterlace gives pngload's pixels exactly */
static void test_adam7(void)
{
    static const int sizes[][2] = {{1, 1}, {3, 5}, {9, 9}, {33, 17}, {2, 7}};
    int bad = 0, cases = 0;
    for (int depth = 8; depth <= 16; depth += 8)
        for (int bands = 1; bands <= 4; bands++)
            for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
                VipsImage *noise = NULL, *cast = NULL;
                void *buf = NULL;
                size_t len = 0;
                double top = depth == 16 ? 65535 : 255;
                if (vips_gaussnoise(&noise, sizes[si][0], sizes[si][1], "mean", top / 2, "sigma", top / 4, NULL) == 0 &&
                    vips_cast(noise, &cast, depth == 16 ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR, NULL) == 0) {
                    VipsImage *b[4] = {cast, cast, cast, cast}, *joined = NULL;
                    if (vips_bandjoin(b, &joined, bands, NULL) == 0) {
                        joined->Type = depth == 16 ? (bands >= 3 ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16)
                                                   : (bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W);
                        vips_pngsave_buffer(joined, &buf, &len, "interlace", TRUE, "bitdepth", depth, "strip", TRUE, NULL);
                    }
                    VIPS_UNREF(joined);
                }
                VIPS_UNREF(cast);
                VIPS_UNREF(noise);
                eu_file f = {buf, len};
                pl_result a, r;
                pl_error ea, eb;
                int ra = len ? eu_run("transform?type=png", &f, &a, &ea) : -1;
                int rb = len ? eu_run_switched_off(PL_NO_FAST_PNG, "transform?type=png", &f, &r, &eb) : -1;
                bad += ra != 0 || rb != 0 || eu_maxdiff(&a, &r) != 0;
                cases++;
                if (ra == 0)
                    pl_result_clear(&a);
                if (rb == 0)
                    pl_result_clear(&r);
                g_free(buf);
            }
    ok(bad == 0, "Adam7 PNGs, 1-4 bands, 8 and 16 bits, 5 sizes: %d of %d differ from libvips' pngload", bad, cases);
}

/* A 16x8 palette PNG written here: 3 entries, tRNS for the first two (0 and 128) when trns, Paeth
 * rows; every index in range, or one pixel at index 7 past the palette. Fast path and libvips'
 * pngload give the same pixels, or both refuse. */
static void test_palette(bool trns, bool bad_index)
{
    enum { W = 16, H = 8 };
    uint8_t raw[(W + 1) * H], z[512], png[1024];
    for (int y = 0; y < H; y++) {
        raw[y * (W + 1)] = y % 2 ? 4 : 0; /* Paeth or none; indices chosen so that the filtered bytes stay < 3 */
        for (int x = 0; x < W; x++)
            raw[y * (W + 1) + 1 + x] = y % 2 ? 0 : (uint8_t)((x + y) % 3);
    }
    if (bad_index)
        raw[1 + 5] = 7;
    struct libdeflate_compressor *dc = libdeflate_alloc_compressor(6);
    size_t zlen = libdeflate_zlib_compress(dc, raw, sizeof(raw), z, sizeof(z)), at = 8;
    libdeflate_free_compressor(dc);
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    static const uint8_t ihdr[13] = {0, 0, 0, W, 0, 0, 0, H, 8, 3, 0, 0, 0};
    static const uint8_t plte[9] = {255, 0, 0, 0, 255, 0, 0, 0, 255}, alpha[2] = {0, 128};
    eu_png_chunk(png, &at, "IHDR", ihdr, 13);
    eu_png_chunk(png, &at, "PLTE", plte, 9);
    if (trns)
        eu_png_chunk(png, &at, "tRNS", alpha, 2);
    eu_png_chunk(png, &at, "IDAT", z, (uint32_t)zlen);
    eu_png_chunk(png, &at, "IEND", NULL, 0);
    eu_file f = {png, at};
    pl_result a, b;
    pl_error ea, eb;
    int ra = eu_run("transform?type=png", &f, &a, &ea), rb = eu_run_switched_off(PL_NO_FAST_PNG, "transform?type=png", &f, &b, &eb);
    VipsImage *pa = ra == 0 ? png_pixels(&a) : NULL;
    if (ra != 0 || rb != 0)
        ok(ra == rb && ea.code == eb.code && zlen > 0, "palette%s%s: both paths fail alike (%s / %s)", trns ? " + tRNS" : "",
           bad_index ? ", an index past the palette" : "", pl_error_name(ea.code), pl_error_name(eb.code));
    else
        ok(zlen > 0 && eu_maxdiff(&a, &b) == 0 && pa != NULL && pa->Bands == (trns ? 4 : 3),
           "palette%s%s: fast path = libvips' pngload, %d bands", trns ? " + tRNS" : "",
           bad_index ? ", an index past the palette" : "", pa ? pa->Bands : 0);
    VIPS_UNREF(pa);
    if (ra == 0)
        pl_result_clear(&a);
    if (rb == 0)
        pl_result_clear(&b);
}

/* A photo as an 8-bit palette PNG (libvips' quantiser, dithered) of odd width and height, at 3x
 * the target and more: never shrunk on load (a 2x2 box aliases the dithering: 3-5 dB further
 * from the unquantised photo), so the same pixels as libvips' pngload path. */
static void test_palette_box(void)
{
    eu_file src = eu_read("photos/kodim23-parrots.png");
    VipsImage *im = src.data != NULL ? vips_image_new_from_buffer(src.data, src.len, "", NULL) : NULL, *crop = NULL;
    void *buf = NULL;
    size_t len = 0;
    bool made = im != NULL && vips_crop(im, &crop, 0, 0, 767, 511, NULL) == 0 &&
                vips_pngsave_buffer(crop, &buf, &len, "palette", TRUE, "strip", TRUE, NULL) == 0 && len > 26 &&
                ((uint8_t *)buf)[25] == 3;
    ok(made, "palette photo written (%zu bytes, colour type 3)", len);
    eu_file f = {buf, len};
    static const char *const specs[] = {"resize?width=200&type=png", "transform?w=150&h=150&fit=cover&type=jpeg",
                                        "resize?width=255&type=png"};
    for (size_t i = 0; made && i < sizeof(specs) / sizeof(specs[0]); i++) {
        pl_result a, b;
        pl_error ea, eb;
        int ra = eu_run_switched_off(SAME_REDUCE, specs[i], &f, &a, &ea),
            rb = eu_run_switched_off(PL_NO_FAST_PNG | SAME_REDUCE, specs[i], &f, &b, &eb);
        double m = ra == 0 && rb == 0 ? eu_maxdiff(&a, &b) : -1;
        ok(ra == 0 && rb == 0 && a.width == b.width && a.height == b.height && m == 0,
           "palette 767x511 %s: %dx%d, libvips' pngload path's pixels (max diff %g)", specs[i], ra == 0 ? a.width : 0,
           ra == 0 ? a.height : 0, m);
        if (ra == 0)
            pl_result_clear(&a);
        if (rb == 0)
            pl_result_clear(&b);
    }
    g_free(buf);
    VIPS_UNREF(crop);
    VIPS_UNREF(im);
    eu_free(&src);
}

/* ---- rows by filter, and the zlib stream's frame ------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* w x h pixels of `bands` 8-bit bands as a PNG whose row y carries filter filt[y] (the
 * specification's formulas in the encoding direction), one IDAT; the caller g_frees data. */
static eu_file png_with_filters(const uint8_t *px, int w, int h, int bands, const uint8_t *filt)
{
    static const uint8_t colour_type[5] = {0, 0, 4, 2, 6};
    size_t s = (size_t)w * bands, raw_len = (s + 1) * h;
    uint8_t *raw = g_malloc(raw_len);
    for (int y = 0; y < h; y++) {
        const uint8_t *cur = px + y * s, *up = y > 0 ? cur - s : NULL;
        uint8_t *o = raw + y * (s + 1);
        o[0] = filt[y];
        for (size_t x = 0; x < s; x++) {
            int a = x >= (size_t)bands ? cur[x - bands] : 0, b = up ? up[x] : 0, c = up && x >= (size_t)bands ? up[x - bands] : 0;
            int pred = filt[y] == 1 ? a : filt[y] == 2 ? b : filt[y] == 3 ? (a + b) / 2 : filt[y] == 4 ? paeth(a, b, c) : 0;
            o[1 + x] = (uint8_t)(cur[x] - pred);
        }
    }
    struct libdeflate_compressor *dc = libdeflate_alloc_compressor(6);
    size_t zmax = libdeflate_zlib_compress_bound(dc, raw_len);
    uint8_t *f = g_malloc(8 + 25 + 12 + zmax + 12);
    memcpy(f, "\x89PNG\r\n\x1a\n", 8);
    uint8_t *c = f + 8;
    put32(c, 13), memcpy(c + 4, "IHDR", 4), put32(c + 8, (uint32_t)w), put32(c + 12, (uint32_t)h);
    c[16] = 8, c[17] = colour_type[bands], c[18] = c[19] = c[20] = 0;
    put32(c + 21, libdeflate_crc32(0, c + 4, 17));
    c += 25;
    size_t zlen = libdeflate_zlib_compress(dc, raw, raw_len, c + 8, zmax);
    put32(c, (uint32_t)zlen), memcpy(c + 4, "IDAT", 4), put32(c + 8 + zlen, libdeflate_crc32(0, c + 4, zlen + 4));
    c += 12 + zlen;
    put32(c, 0), memcpy(c + 4, "IEND", 4), put32(c + 8, libdeflate_crc32(0, c + 4, 4));
    libdeflate_free_compressor(dc);
    g_free(raw);
    return (eu_file){f, (size_t)(c + 12 - f)};
}

/* The IDAT's zlib stream of a png_with_filters file, and a way to put its CRC right again */
static uint8_t *idat_of(eu_file *f, size_t *n)
{
    *n = (size_t)f->data[33] << 24 | (size_t)f->data[34] << 16 | (size_t)f->data[35] << 8 | f->data[36];
    return f->data + 33 + 8;
}

static void idat_crc(eu_file *f, size_t n)
{
    put32(f->data + 33 + 8 + n, libdeflate_crc32(0, f->data + 33 + 4, n + 4));
}

/* Shrink-on-load boxes rows of filter None where they lie (pl_png_rows_as_they_are): the same
 * pixels written with rows None in pairs followed by each filter, all None, or all Paeth must give
 * the same bytes, for grey and RGB (no alpha), grey+alpha and RGBA with an alpha ramp (premultiplied), odd
 * sides. The Adler-32 of the zlib stream is not checked (the chunk CRCs are): a wrong one gives
 * the same bytes; a header that is not plain deflate, or a stream without its checksum bytes, is
 * left to libvips' pngload and fails alike. */
static void test_filters_and_frame(void)
{
    enum { W = 301, H = 203 };
    static const char *spec = "resize?width=61&type=png";
    uint8_t *filt[3];
    for (int k = 0; k < 3; k++)
        filt[k] = g_malloc(H);
    for (int y = 0; y < H; y++) {
        int pair = y / 2, k = pair / 2 % 5;
        filt[0][y] = pair % 2 == 0 ? 0 : (uint8_t)(y % 2 ? (k + 2) % 5 : k); /* None pairs, then each filter */
        filt[1][y] = 0;
        filt[2][y] = 4;
    }
    for (int bands = 1; bands <= 4; bands++) {
        uint8_t *px = g_malloc((size_t)W * H * bands);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *d = px + ((size_t)y * W + x) * bands;
                for (int b = 0; b < bands; b++)
                    d[b] = (uint8_t)(128 + 100 * sin(x / 17.0 + b) * cos(y / 13.0));
                if (bands % 2 == 0) /* grey+alpha, RGBA: a ramp, 0 at the left */
                    d[bands - 1] = (uint8_t)(x < 20 ? 0 : 30 + (x * 225) / W);
            }
        pl_result r[3] = {{0}};
        pl_error e[3];
        int rc[3];
        eu_file f[3];
        for (int k = 0; k < 3; k++) {
            f[k] = png_with_filters(px, W, H, bands, filt[k]);
            rc[k] = eu_run(spec, &f[k], &r[k], &e[k]);
        }
        bool same = rc[0] == 0 && rc[1] == 0 && rc[2] == 0 && r[0].len == r[2].len && r[1].len == r[2].len &&
                    memcmp(r[0].data, r[2].data, r[2].len) == 0 && memcmp(r[1].data, r[2].data, r[2].len) == 0;
        ok(same && r[2].width == 61,
           "%d bands, %dx%d -> 61 px: rows None in pairs before each filter, all None, all Paeth: the same bytes", bands, W, H);

        /* the zlib frame, on the all-None file */
        size_t n;
        uint8_t *z = idat_of(&f[1], &n);
        pl_result a = {0}, b = {0};
        pl_error ea, eb;
        z[n - 1] ^= 0x5a;
        idat_crc(&f[1], n);
        int ra = eu_run(spec, &f[1], &a, &ea);
        ok(ra == 0 && a.len == r[2].len && memcmp(a.data, r[2].data, a.len) == 0, "%d bands: a wrong Adler-32 gives the same bytes",
           bands);
        pl_result_clear(&a);
        z[n - 1] ^= 0x5a;
        z[1] = (uint8_t)((z[1] | 0x20) & 0xe0), z[1] = (uint8_t)(z[1] + (31 - ((unsigned)z[0] << 8 | z[1]) % 31) % 31);
        idat_crc(&f[1], n);
        ra = eu_run(spec, &f[1], &a, &ea);
        int rb = eu_run_switched_off(PL_NO_FAST_PNG, spec, &f[1], &b, &eb);
        ok(ra != 0 && rb != 0 && ea.code == eb.code, "%d bands: a preset dictionary: refused as pngload refuses it (%s / %s)",
           bands, pl_error_name(ea.code), pl_error_name(eb.code));
        pl_result_clear(&a);
        pl_result_clear(&b);
        for (int k = 0; k < 3; k++) {
            pl_result_clear(&r[k]);
            g_free(f[k].data);
        }
        /* the stream without its 4 checksum bytes */
        eu_file t = png_with_filters(px, W, H, bands, filt[1]);
        z = idat_of(&t, &n);
        put32(t.data + 33, (uint32_t)(n - 4));
        memmove(z + n - 4, z + n, 4 + 12); /* the CRC slot and IEND move up */
        t.len -= 4;
        idat_crc(&t, n - 4);
        ra = eu_run(spec, &t, &a, &ea);
        rb = eu_run_switched_off(PL_NO_FAST_PNG, spec, &t, &b, &eb);
        ok((ra != 0) == (rb != 0) && (ra != 0 ? ea.code == eb.code : eu_maxdiff(&a, &b) <= 1),
           "%d bands: a stream without its checksum: as pngload (%s / %s)", bands, ra ? pl_error_name(ea.code) : "decoded",
           rb ? pl_error_name(eb.code) : "decoded");
        pl_result_clear(&a);
        pl_result_clear(&b);
        g_free(t.data);
        g_free(px);
    }
    for (int k = 0; k < 3; k++)
        g_free(filt[k]);
}

/* ---- IDAT chunks gathered in place (pl_input.moved) --------------------------------------- */

/* f's one IDAT cut into chunks of `piece` bytes (an empty one after the first), with a tEXt chunk
 * after the second when text; the caller g_frees data. */
static eu_file png_split_idat(eu_file *f, size_t piece, bool text)
{
    size_t n;
    const uint8_t *z = idat_of(f, &n);
    uint8_t *o = g_malloc(f->len + (n / piece + 3) * 12 + 64);
    size_t at = 33;
    memcpy(o, f->data, 33);
    for (size_t k = 0, i = 0; i < n; k++) {
        size_t L = VIPS_MIN(piece, n - i);
        eu_png_chunk(o, &at, "IDAT", z + i, (uint32_t)L);
        i += L;
        if (k == 0)
            eu_png_chunk(o, &at, "IDAT", NULL, 0);
        if (k == 1 && text)
            eu_png_chunk(o, &at, "tEXt", (const uint8_t *)"Comment\0between", 15);
    }
    eu_png_chunk(o, &at, "IEND", NULL, 0);
    return (eu_file){o, at};
}

static int run_moved(const char *spec, const eu_file *f, atomic_int *moved, pl_result *res, pl_error *err)
{
    pl_plan plan;
    pl_limits lim;
    pl_limits_default(&lim);
    if (pl_plan_parse_string(spec, &plan, err) != 0)
        return -2;
    pl_input in = {.data = f->data, .len = f->len, .moved = moved};
    return pl_run(&plan, &in, &lim, NULL, res, err);
}

/* A PNG of many IDAT chunks, run where the engine may move the input's bytes about: the payloads
 * are gathered in place (the flag goes 1 then 0: a sentinel left there means they were not) and
 * put back, so the input is byte for byte what it was, and the pixels are those of the same
 * stream in one chunk. With a chunk between two IDATs they are copied and nothing moves. A stream
 * damaged under valid CRCs fails as libvips' pngload fails on it, with the input put back first. */
static void test_gathered(void)
{
    enum { W = 257, H = 131 };
    static const char *spec = "resize?width=61&type=png";
    uint8_t *px = g_malloc((size_t)W * H * 4), filt[H];
    for (int y = 0; y < H; y++)
        filt[y] = (uint8_t)(y % 5);
    for (size_t i = 0; i < (size_t)W * H * 4; i++)
        px[i] = (uint8_t)(i % 4 == 3 ? 40 + i % 200 : 128 + 90 * sin((double)i / 311.0));
    eu_file one = png_with_filters(px, W, H, 4, filt);
    pl_result r1 = {0};
    pl_error e1;
    int rc1 = eu_run(spec, &one, &r1, &e1);
    ok(rc1 == 0 && r1.width == 61, "one IDAT: decoded, 61 px wide");
    for (int text = 0; text <= 1; text++) {
        eu_file f = png_split_idat(&one, 997, text);
        uint8_t *orig = g_memdup2(f.data, f.len);
        atomic_int moved = 7;
        pl_result r = {0};
        pl_error e;
        int rc = run_moved(spec, &f, &moved, &r, &e);
        ok(rc == 0 && rc1 == 0 && r.len == r1.len && memcmp(r.data, r1.data, r.len) == 0,
           "%s: the pixels of the stream in one chunk", text ? "tEXt between IDATs (copied)" : "IDATs gathered in place");
        ok(memcmp(f.data, orig, f.len) == 0, "%s: the input is byte for byte as it came", text ? "copied" : "gathered");
        ok(atomic_load(&moved) == (text ? 7 : 0), "%s: the moved flag is %d (%d)",
           text ? "copied: untouched" : "gathered: back to 0", text ? 7 : 0, atomic_load(&moved));
        pl_result_clear(&r);

        /* a byte in the middle of the deflate stream changed, every chunk's CRC made right */
        size_t mid = f.len / 2, p = 8;
        while (p + 12 + ((size_t)f.data[p] << 24 | (size_t)f.data[p + 1] << 16 | (size_t)f.data[p + 2] << 8 | f.data[p + 3]) <= mid)
            p += 12 + ((size_t)f.data[p] << 24 | (size_t)f.data[p + 1] << 16 | (size_t)f.data[p + 2] << 8 | f.data[p + 3]);
        uint32_t L = (uint32_t)((size_t)f.data[p] << 24 | (size_t)f.data[p + 1] << 16 | (size_t)f.data[p + 2] << 8 | f.data[p + 3]);
        f.data[p + 8 + L / 2] ^= 0xff, f.data[p + 9 + L / 2] ^= 0x3c;
        put32(f.data + p + 8 + L, libdeflate_crc32(0, f.data + p + 4, L + 4));
        g_free(orig);
        orig = g_memdup2(f.data, f.len);
        pl_result a = {0}, b = {0};
        pl_error ea, eb;
        moved = 7;
        int ra = run_moved(spec, &f, &moved, &a, &ea);
        int rb = eu_run_switched_off(PL_NO_FAST_PNG, spec, &f, &b, &eb);
        ok((ra != 0) == (rb != 0) && (ra != 0 ? ea.code == eb.code : eu_maxdiff(&a, &b) <= 1),
           "%s, damaged stream: as pngload (%s / %s)", text ? "copied" : "gathered", ra ? pl_error_name(ea.code) : "decoded",
           rb ? pl_error_name(eb.code) : "decoded");
        ok(memcmp(f.data, orig, f.len) == 0 && atomic_load(&moved) == (text ? 7 : 0), "%s, damaged stream: the input put back",
           text ? "copied" : "gathered");
        pl_result_clear(&a);
        pl_result_clear(&b);
        g_free(orig);
        g_free(f.data);
    }
    pl_result_clear(&r1);
    g_free(one.data);
    g_free(px);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    test_palette_box();
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
        test_same(pngs[i], "transform?type=png&strip=false", 0);
        test_same(pngs[i], "resize?width=33&type=png", 40);
        test_same(pngs[i], "resize?width=1000&type=png", 0); /* never shrunk on load */
    }
    static const char *sizes[] = {"edge/alpha-blackbug.png", "photos/kodim23-parrots.png", "photos/coffee.png",
                                  "edge/palette-swiss.png", "edge/pngsuite-basn6a08-rgba.png"};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        test_size(sizes[i], "transform?w=512&h=512&fit=cover&type=png");
        test_size(sizes[i], "resize?width=300&type=png&compression=6");
        test_size(sizes[i], "resize?width=300&type=png");
        test_size(sizes[i], "transform?type=png");
    }
    test_opaque_alpha("transform?w=200&h=200&fit=cover&type=png", 0);
    test_opaque_alpha("resize?width=300&type=png", 0);
    test_opaque_alpha("transform?w=120&h=120&fit=cover&type=png", 40); /* 768x512 -> 180x120: shrunk on load */
    test_transparent_edge("resize?width=30&type=png", 0);
    test_transparent_edge("transform?w=20&h=20&fit=cover&type=png", 0);
    test_transparent_edge("resize?width=30&type=png", 21);
    test_premul_box();
    test_filters_and_frame();
    test_gathered();
    test_adam7();
    for (int t = 0; t <= 1; t++)
        for (int bad = 0; bad <= 1; bad++)
            test_palette(t, bad);
    return tap_done();
}
