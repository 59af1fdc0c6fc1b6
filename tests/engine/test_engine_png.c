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

static void put_chunk(uint8_t *out, size_t *at, const char *type, const uint8_t *d, uint32_t len)
{
    uint8_t *c = out + *at;
    c[0] = (uint8_t)(len >> 24), c[1] = (uint8_t)(len >> 16), c[2] = (uint8_t)(len >> 8), c[3] = (uint8_t)len;
    memcpy(c + 4, type, 4);
    if (len > 0)
        memcpy(c + 8, d, len);
    uint32_t crc = libdeflate_crc32(0, c + 4, len + 4);
    c[8 + len] = (uint8_t)(crc >> 24), c[9 + len] = (uint8_t)(crc >> 16), c[10 + len] = (uint8_t)(crc >> 8);
    c[11 + len] = (uint8_t)crc;
    *at += 12 + len;
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
    put_chunk(png, &at, "IHDR", ihdr, 13);
    put_chunk(png, &at, "PLTE", plte, 9);
    if (trns)
        put_chunk(png, &at, "tRNS", alpha, 2);
    put_chunk(png, &at, "IDAT", z, (uint32_t)zlen);
    put_chunk(png, &at, "IEND", NULL, 0);
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
    test_adam7();
    for (int t = 0; t <= 1; t++)
        for (int bad = 0; bad <= 1; bad++)
            test_palette(t, bad);
    return tap_done();
}
