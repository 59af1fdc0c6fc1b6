/*
 * test_engine_png_write: the libdeflate PNG writer (pipelines/pl_png_write.c, used by pl_encode.c
 * for 8- and 16-bit non-interlaced output without compression asked).
 *  - synthetic inputs of 1-4 bands, 8 and 16 bits, and several sizes (1x1, odd widths, an IDAT stream over one
 *    256 KB chunk) come back pixel-exact through libvips' pngload with fail_on=warning, and the
 *    fast path really wrote them (its chunk layout: IHDR pHYs [iCCP] IDAT IEND, IDAT chunks of
 *    256 KB where libpng writes 8 KB ones); every chunk's CRC is checked here too;
 *  - pHYs carries the same resolution as libvips' pngsave, iCCP the same profile when metadata is
 *    kept, nothing when stripped;
 *  - fixtures give the same pixels with and without IMGPIPE_NO_FAST_PNG_WRITE=1;
 *  - the fallbacks reach libpng: palette (PLTE), interlace (IHDR), text comments
 *    with strip=false (tEXt), compression asked and the env switch (8 KB IDAT chunks).
 * Sizes against libvips' default pngsave are in test_engine_png.c.
 */
#include <libdeflate.h>
#include <stdlib.h>

#include "engine_util.h"

typedef struct {
    int ok;              /* signature, every chunk complete with a good CRC, IEND last */
    char seq[128];       /* chunk types in order, runs of IDAT as one */
    uint32_t first_idat; /* length of the first IDAT chunk */
    size_t idat_total;   /* bytes of the zlib stream */
    uint8_t ihdr[13];
    uint8_t phys[9];
    int has_phys;
} png_chunks;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static png_chunks png_walk(const uint8_t *d, size_t len)
{
    png_chunks c = {0};
    if (len < 8 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0)
        return c;
    size_t p = 8;
    int crc_ok = 1, iend = 0;
    while (p + 12 <= len && !iend) {
        uint32_t L = be32(d + p);
        if (L > len - p - 12)
            return c;
        const uint8_t *type = d + p + 4, *data = d + p + 8;
        if (libdeflate_crc32(0, type, L + 4) != be32(data + L))
            crc_ok = 0;
        int idat = memcmp(type, "IDAT", 4) == 0;
        size_t n = strlen(c.seq);
        if (!(idat && n >= 4 && strcmp(c.seq + n - 4, "IDAT") == 0) && n + 6 < sizeof(c.seq)) {
            if (n > 0)
                strcat(c.seq, " ");
            strncat(c.seq, (const char *)type, 4);
        }
        if (idat) {
            if (c.idat_total == 0)
                c.first_idat = L;
            c.idat_total += L;
        }
        if (memcmp(type, "IHDR", 4) == 0 && L == 13)
            memcpy(c.ihdr, data, 13);
        if (memcmp(type, "pHYs", 4) == 0 && L == 9) {
            memcpy(c.phys, data, 9);
            c.has_phys = 1;
        }
        iend = memcmp(type, "IEND", 4) == 0;
        p += 12 + (size_t)L;
    }
    c.ok = crc_ok && iend && p == len;
    return c;
}

/* The fast path's layout: no chunk but IHDR, pHYs, iCCP, IDAT, IEND, and IDAT chunks of 256 KB
 * (libpng: 8 KB) when the stream is longer than 8 KB. */
static int png_is_fast(const png_chunks *c)
{
    int layout = strcmp(c->seq, "IHDR pHYs IDAT IEND") == 0 || strcmp(c->seq, "IHDR pHYs iCCP IDAT IEND") == 0;
    size_t want = c->idat_total < (256u << 10) ? c->idat_total : (256u << 10);
    return c->ok && layout && c->first_idat == want;
}

static int png_is_libpng(const png_chunks *c)
{
    return c->ok && (c->idat_total <= 8192 || c->first_idat == 8192);
}

/* A noisy gradient of w x h, bands 1-4 (grey, grey+alpha, RGB, RGBA), 8 or 16 bits, at xres
 * pixels/mm, with a png comment when comment != NULL: the decoded image (*img) and its PNG. */
static eu_file synth_png(int w, int h, int bands, int sixteen, double xres, const char *comment, VipsImage **img)
{
    eu_file f = {0};
    VipsImage *base = vips_image_new();
    VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(base), 16);
    VipsImage *band[4];
    int ok = !vips_xyz(&t[0], w, h, NULL) && !vips_extract_band(t[0], &t[1], 0, NULL) &&
             !vips_linear1(t[1], &t[2], w > 1 ? 200.0 / (w - 1) : 0, 0, NULL);
    for (int b = 0; ok && b < bands; b++) {
        ok = !vips_gaussnoise(&t[3 + 2 * b], w, h, "mean", 0.0, "sigma", 20.0 + 5 * b, NULL) &&
             !vips_add(t[2], t[3 + 2 * b], &t[4 + 2 * b], NULL);
        band[b] = t[4 + 2 * b];
    }
    VipsImage *x = NULL;
    if (ok && !vips_bandjoin(band, &t[11], bands, NULL) &&
        !(sixteen ? vips_linear1(t[11], &t[12], 257.0, 0.0, NULL) || vips_cast_ushort(t[12], &t[13], NULL)
                  : vips_cast_uchar(t[11], &t[13], NULL)) &&
        !vips_copy(t[13], &t[14], "interpretation",
                   bands <= 2 ? (sixteen ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_B_W)
                              : (sixteen ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB),
                   "xres", xres, "yres", xres * 2, NULL)) {
        x = vips_image_copy_memory(t[14]);
        if (x != NULL && comment != NULL)
            vips_image_set_string(x, "png-comment-0-Comment", comment);
    }
    void *buf = NULL;
    size_t len = 0;
    if (x != NULL && !vips_pngsave_buffer(x, &buf, &len, "compression", 1, NULL)) {
        f.data = buf;
        f.len = len;
    }
    if (f.data == NULL)
        diag("synthetic image: %s", vips_error_buffer());
    vips_error_clear();
    g_object_unref(base);
    *img = x;
    return f;
}

/* Largest absolute difference between an encoded PNG (read strictly) and want; -1 if it does not
 * decode or differs in shape. */
static double png_maxdiff(const pl_result *r, VipsImage *want)
{
    VipsImage *im = NULL, *d = NULL, *ad = NULL;
    double m = -1;
    if (vips_pngload_buffer(r->data, r->len, &im, "fail_on", VIPS_FAIL_ON_WARNING, NULL) == 0 && im->Xsize == want->Xsize &&
        im->Ysize == want->Ysize && im->Bands == want->Bands && im->BandFmt == want->BandFmt &&
        vips_subtract(im, want, &d, NULL) == 0 && vips_abs(d, &ad, NULL) == 0 && vips_max(ad, &m, NULL) != 0)
        m = -1;
    if (m < 0)
        diag("decode: %s", vips_error_buffer());
    vips_error_clear();
    VIPS_UNREF(ad);
    VIPS_UNREF(d);
    VIPS_UNREF(im);
    return m;
}

static int run_env(const char *spec, const eu_file *f, int no_fast, pl_result *r)
{
    pl_error e;
    unsigned prev = pl_engine_set_switches(no_fast ? PL_NO_FAST_PNG_WRITE : 0);
    int rc = eu_run(spec, f, r, &e);
    pl_engine_set_switches(prev);
    return rc;
}

/* Synthetic image through the fast path: exact pixels, fast layout, pHYs as libpng writes it. */
static void test_roundtrip(int w, int h, int bands, int sixteen)
{
    VipsImage *src = NULL;
    eu_file f = synth_png(w, h, bands, sixteen, 11.811, NULL, &src);
    int depth = sixteen ? 16 : 8;
    pl_result a = {0}, b = {0};
    int ra = run_env("transform?type=png", &f, 0, &a);
    int rb = run_env("transform?type=png", &f, 1, &b);
    png_chunks ca = ra == 0 ? png_walk(a.data, a.len) : (png_chunks){0};
    png_chunks cb = rb == 0 ? png_walk(b.data, b.len) : (png_chunks){0};
    ok(src != NULL && ra == 0 && png_maxdiff(&a, src) == 0, "%dx%d %d bands %d-bit: pixel-exact through pngload fail_on=warning", w,
       h, bands, depth);
    if (!ok(png_is_fast(&ca), "%dx%d %d bands %d-bit: written by the fast path (CRCs good, %zu-byte zlib stream)", w, h, bands,
            depth, ca.idat_total))
        diag("  chunks \"%s\", first IDAT %u of %zu", ca.seq, ca.first_idat, ca.idat_total);
    ok(ca.has_phys && cb.has_phys && memcmp(ca.phys, cb.phys, 9) == 0 && be32(ca.phys) == 11811 && be32(ca.phys + 4) == 23622 &&
           ca.phys[8] == 1,
       "%dx%d %d bands %d-bit: pHYs %u x %u per metre, as libpng's", w, h, bands, depth, be32(ca.phys), be32(ca.phys + 4));
    ok(ca.ihdr[8] == depth && ca.ihdr[9] == (uint8_t[]){0, 0, 4, 2, 6}[bands] && ca.ihdr[12] == 0 &&
           memcmp(ca.ihdr, cb.ihdr, 13) == 0,
       "%dx%d %d bands %d-bit: IHDR as libpng's (colour type %d)", w, h, bands, depth, ca.ihdr[9]);
    pl_result_clear(&a);
    pl_result_clear(&b);
    VIPS_UNREF(src);
    eu_free(&f);
}

/* A fixture with and without the fast path: same pixels, same ICC, fast layout when it applies. */
static void test_fixture(const char *rel, const char *spec, int expect_icc)
{
    eu_file f = eu_read(rel);
    pl_result a = {0}, b = {0};
    int ra = run_env(spec, &f, 0, &a);
    int rb = run_env(spec, &f, 1, &b);
    VipsImage *y = rb == 0 ? vips_image_new_from_buffer(b.data, b.len, "", NULL) : NULL;
    VipsImage *yc = y != NULL ? vips_image_copy_memory(y) : NULL;
    ok(ra == 0 && yc != NULL && png_maxdiff(&a, yc) == 0, "%s %s: same pixels as libpng's output", rel, spec);
    png_chunks ca = ra == 0 ? png_walk(a.data, a.len) : (png_chunks){0};
    if (!ok(png_is_fast(&ca), "%s %s: fast path, CRCs good", rel, spec))
        diag("  chunks \"%s\", first IDAT %u of %zu", ca.seq, ca.first_idat, ca.idat_total);
    VipsImage *x = ra == 0 ? vips_image_new_from_buffer(a.data, a.len, "", NULL) : NULL;
    const void *pa = NULL, *pb = NULL;
    size_t la = 0, lb = 0;
    int ia = x != NULL && vips_image_get_typeof(x, VIPS_META_ICC_NAME) && !vips_image_get_blob(x, VIPS_META_ICC_NAME, &pa, &la);
    int ib = y != NULL && vips_image_get_typeof(y, VIPS_META_ICC_NAME) && !vips_image_get_blob(y, VIPS_META_ICC_NAME, &pb, &lb);
    ok(ia == expect_icc && ib == expect_icc && la == lb && (la == 0 || memcmp(pa, pb, la) == 0),
       "%s %s: ICC profile %s (%zu bytes), as libpng's output", rel, spec, expect_icc ? "kept" : "absent", la);
    VIPS_UNREF(x);
    VIPS_UNREF(yc);
    VIPS_UNREF(y);
    pl_result_clear(&a);
    pl_result_clear(&b);
    eu_free(&f);
}

/* Cases the fast path must leave to libpng, seen in the output's chunks. */
static void test_fallbacks(void)
{
    VipsImage *src = NULL;
    eu_file f = synth_png(300, 200, 4, 0, 2.835, "made by test_engine_png_write", &src);
    pl_result r = {0};
    png_chunks c;

    if (!ok(run_env("transform?type=png&strip=false", &f, 0, &r) == 0 && strstr((c = png_walk(r.data, r.len)).seq, "TXt") != NULL &&
                png_is_libpng(&c) && png_maxdiff(&r, src) == 0,
            "png comment kept (strip=false): libpng writes it (tEXt/zTXt)"))
        diag("  chunks \"%s\", first IDAT %u of %zu", c.seq, c.first_idat, c.idat_total);
    pl_result_clear(&r);
    ok(run_env("transform?type=png", &f, 0, &r) == 0 && png_is_fast((c = png_walk(r.data, r.len), &c)) &&
           strstr(c.seq, "TXt") == NULL,
       "the same image stripped: fast path, no text chunk");
    pl_result_clear(&r);
    ok(run_env("transform?type=png&interlace=true", &f, 0, &r) == 0 && (c = png_walk(r.data, r.len)).ihdr[12] == 1 &&
           png_is_libpng(&c) && png_maxdiff(&r, src) == 0,
       "interlace: libpng (Adam7 in IHDR), pixels exact");
    pl_result_clear(&r);
    ok(run_env("transform?type=png&palette=true", &f, 0, &r) == 0 && strstr((c = png_walk(r.data, r.len)).seq, "PLTE") != NULL,
       "palette: libpng (PLTE)");
    pl_result_clear(&r);
    ok(run_env("transform?type=png&compression=6", &f, 0, &r) == 0 && png_is_libpng((c = png_walk(r.data, r.len), &c)) &&
           c.idat_total > 8192 && png_maxdiff(&r, src) == 0,
       "compression asked: libpng at that zlib level (8 KB IDAT chunks), pixels exact");
    pl_result_clear(&r);
    ok(run_env("transform?type=png", &f, 1, &r) == 0 && png_is_libpng((c = png_walk(r.data, r.len), &c)) && c.idat_total > 8192,
       "IMGPIPE_NO_FAST_PNG_WRITE=1: libpng");
    pl_result_clear(&r);
    VIPS_UNREF(src);
    eu_free(&f);

    f = synth_png(200, 150, 3, 1, 2.835, NULL, &src);
    ok(run_env("transform?type=png&compression=6", &f, 0, &r) == 0 && (c = png_walk(r.data, r.len)).ihdr[8] == 16 &&
           png_is_libpng(&c) && png_maxdiff(&r, src) == 0,
       "16-bit, compression asked: libpng (depth 16 in IHDR), pixels exact");
    pl_result_clear(&r);
    VIPS_UNREF(src);
    eu_free(&f);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    static const int sizes[][2] = {{1, 1}, {3, 7}, {257, 129}, {600, 700}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (int bands = 1; bands <= 4; bands++)
            for (int sixteen = 0; sixteen <= 1; sixteen++)
                test_roundtrip(sizes[i][0], sizes[i][1], bands, sixteen);

    test_fixture("photos/coffee.png", "resize?width=300&type=png", 0);
    test_fixture("photos/kodim23-parrots.png", "transform?w=512&h=512&fit=cover&type=png", 0);
    test_fixture("edge/alpha-blackbug.png", "transform?w=512&h=512&fit=cover&type=png", 0);
    test_fixture("edge/pngsuite-basn6a08-rgba.png", "transform?type=png", 0);
    test_fixture("edge/pngsuite-basn0g01-1bit.png", "transform?type=png", 0);
    test_fixture("edge/pngsuite-basn0g16-grey16.png", "transform?type=png", 0);
    test_fixture("edge/pngsuite-basn6a16-rgba16.png", "resize?width=20&type=png", 0);
    test_fixture("edge/tall-strip-6x1024.png", "transform?type=png", 0);
    test_fixture("edge/displayp3-profile.png", "transform?type=png&strip=false", 1);
    test_fixture("edge/displayp3-profile.png", "transform?type=png", 0);
    test_fixture("edge/prophoto-profile.png", "transform?type=png&strip=false", 1);
    test_fallbacks();
    return tap_done();
}
