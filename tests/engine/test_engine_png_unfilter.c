/*
 * test_engine_png_unfilter: the PNG unfilter of the fast decoder (pipelines/pl_png_unfilter.c).
 * 1. Every implementation this CPU runs (scalar, SSE2, SSSE3) against a textbook reference written
 *    here from the PNG specification, on random rows: every filter, 1/2/3/4/6/8 bytes per pixel,
 *    widths 1..67 pixels, first row (no row above) and later rows, into a separate buffer and in
 *    the in-place layout (dst 1 or 3 bytes before src); and whole random images unfiltered in place
 *    (Paeth row pairs at 4 bytes per pixel go two rows at once).
 * 2. PNGs written by libvips' pngsave with each filter (none, sub, up, avg, paeth, all = adaptive)
 *    at 8 and 16 bits, 1-4 bands, odd sizes, plus every PNG fixture in the fast path's layout: the
 *    IDAT stream inflated here and unfiltered in place by pl_png_unfilter_image (16-bit samples
 *    put in host order by pl_png_unfilter_be16) must equal vips_pngload_buffer's pixels byte for
 *    byte; and the whole engine (pl_run, PNG in and out, 16 bits kept) must give those pixels too
 *    (images without an ICC profile: a profile brings a colour transform; test_engine_png compares
 *    those with the fast path on and off). The unfilter's opaque-alpha answer must match pngload's
 *    alpha band; pl_png_row_opaque is checked on rows with one alpha byte off.
 * 3. The shrink-on-load's 2x2 box (pipelines/pl_png_box.c) against the mean written out.
 */
#include <libdeflate.h>
#include <stdlib.h>

#include "engine_util.h"
#include "pl_png_box.h"
#include "pl_png_unfilter.h"

static const int bpps[] = {1, 2, 3, 4, 6, 8};
static const char *impl_names[] = {"scalar", "sse2", "ssse3"};

/* ---- 1. the reference, from the specification's formulas, one byte at a time */

static int ref_paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc)
        return a;
    return pb <= pc ? b : c;
}

static void ref_row(uint8_t *out, const uint8_t *src, const uint8_t *up, size_t n, int bpp, int f)
{
    for (size_t x = 0; x < n; x++) {
        int a = x >= (size_t)bpp ? out[x - bpp] : 0, b = up ? up[x] : 0, c = up && x >= (size_t)bpp ? up[x - bpp] : 0;
        int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : ref_paeth(a, b, c);
        out[x] = (uint8_t)(src[x] + pred);
    }
}

static uint32_t rng = 12345;
static uint8_t rnd8(void)
{
    rng = rng * 1103515245u + 12345u;
    return (uint8_t)(rng >> 16);
}

static void test_rows(void)
{
    enum { MAXN = 67 * 8 };
    uint8_t src[MAXN], up[MAXN], want[MAXN], got[MAXN], inplace[MAXN + 8];
    for (int impl = 0; impl <= PL_UNFILTER_SSSE3; impl++) {
        if (!pl_png_unfilter_has((pl_unfilter_impl)impl)) {
            ok(1, "# SKIP %s: not on this CPU/build", impl_names[impl]);
            continue;
        }
        for (size_t bi = 0; bi < sizeof(bpps) / sizeof(bpps[0]); bi++)
            for (int f = 0; f <= 4; f++) {
                int bad = 0, cases = 0;
                for (int w = 1; w <= 67; w++)
                    for (int first = 0; first <= 1; first++)
                        for (int rep = 0; rep < 3; rep++) {
                            size_t n = (size_t)w * (size_t)bpps[bi];
                            /* rep 2: extreme values (0 and 255 only) where Paeth's ties and overflows live */
                            for (size_t x = 0; x < n; x++) {
                                src[x] = rep == 2 ? (rnd8() & 1) * 255 : rnd8();
                                up[x] = rep == 2 ? (rnd8() & 1) * 255 : rnd8();
                            }
                            const uint8_t *u = first ? NULL : up;
                            ref_row(want, src, u, n, bpps[bi], f);
                            memset(got, 0xa5, sizeof(got));
                            int rc = pl_png_unfilter_row((pl_unfilter_impl)impl, got, src, u, n, bpps[bi], f);
                            bad += rc != 0 || memcmp(got, want, n) != 0;
                            /* in place: the filtered bytes at inplace + k, the result at inplace */
                            size_t k = rep == 0 ? 1 : 3;
                            memcpy(inplace + k, src, n);
                            rc = pl_png_unfilter_row((pl_unfilter_impl)impl, inplace, inplace + k, u, n, bpps[bi], f);
                            bad += rc != 0 || memcmp(inplace, want, n) != 0;
                            cases += 2;
                        }
                ok(bad == 0, "%s, %d bytes/pixel, filter %d: %d of %d random rows (widths 1..67) differ from the reference",
                   impl_names[impl], bpps[bi], f, bad, cases);
            }
        uint8_t row[4] = {0};
        ok(pl_png_unfilter_row((pl_unfilter_impl)impl, got, row, NULL, 4, 4, 5) == -1 &&
               pl_png_unfilter_row((pl_unfilter_impl)impl, got, row, NULL, 4, 5, 1) == -1,
           "%s: filter type 5 and 5 bytes/pixel are refused", impl_names[impl]);
    }
}

/* ---- 2. real PNGs */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct {
    uint32_t w, h;
    int depth, ct, interlace, bpp, filters[5];
    size_t s;
    uint8_t *raw; /* (s + 1) * h bytes, filter byte first on each row */
} png_raw;

/* Inflate a PNG's IDAT stream. 0 = done, 1 = not the fast path's layout, -1 = unreadable. */
static int png_inflate(const uint8_t *d, size_t len, png_raw *r)
{
    memset(r, 0, sizeof(*r));
    if (len < 8 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0)
        return -1;
    uint8_t *z = NULL;
    size_t zlen = 0;
    int other = 0;
    for (size_t p = 8; p + 12 <= len;) {
        uint32_t L = be32(d + p);
        if (L > len - p - 12)
            break;
        const uint8_t *t = d + p + 4;
        if (memcmp(t, "IHDR", 4) == 0 && L == 13) {
            r->w = be32(d + p + 8);
            r->h = be32(d + p + 12);
            r->depth = d[p + 16];
            r->ct = d[p + 17];
            r->interlace = d[p + 20];
        } else if (memcmp(t, "IDAT", 4) == 0) {
            z = g_realloc(z, zlen + L);
            memcpy(z + zlen, d + p + 8, L);
            zlen += L;
        } else if (memcmp(t, "tRNS", 4) == 0 || memcmp(t, "PLTE", 4) == 0) {
            other = 1;
        }
        p += 12 + (size_t)L;
    }
    int bands = r->ct == 0 ? 1 : r->ct == 4 ? 2 : r->ct == 2 ? 3 : r->ct == 6 ? 4 : 0;
    if (other || bands == 0 || r->interlace != 0 || (r->depth != 8 && r->depth != 16) || z == NULL) {
        g_free(z);
        return 1;
    }
    r->bpp = bands * r->depth / 8;
    r->s = (size_t)r->w * (size_t)r->bpp;
    size_t rawlen = (r->s + 1) * r->h, got = 0;
    r->raw = g_malloc(rawlen);
    struct libdeflate_decompressor *dd = libdeflate_alloc_decompressor();
    int rc = libdeflate_zlib_decompress(dd, z, zlen, r->raw, rawlen, &got) == LIBDEFLATE_SUCCESS && got == rawlen ? 0 : -1;
    libdeflate_free_decompressor(dd);
    g_free(z);
    for (uint32_t y = 0; rc == 0 && y < r->h; y++)
        if (r->raw[y * (r->s + 1)] <= 4)
            r->filters[r->raw[y * (r->s + 1)]]++;
    return rc;
}

/* 1 when the image has alpha (2 or 4 bands) and every alpha sample is 255 (65535) */
static bool ref_opaque(VipsImage *ref)
{
    double min = 0;
    VipsImage *a = NULL;
    bool yes = (ref->Bands == 2 || ref->Bands == 4) && vips_extract_band(ref, &a, ref->Bands - 1, NULL) == 0 &&
               vips_min(a, &min, NULL) == 0 && min == (ref->BandFmt == VIPS_FORMAT_USHORT ? 65535 : 255);
    VIPS_UNREF(a);
    return yes;
}

/* decoded pixels of the whole engine: PNG in, PNG out (lossless, depth kept), decoded by libvips */
static int engine_pixels(const uint8_t *d, size_t len, VipsImage **out)
{
    pl_result res;
    pl_error err;
    if (eu_run_full("transform?type=png&strip=false", d, len, NULL, NULL, NULL, &res, &err) != 0)
        return -1;
    VipsImage *im = vips_image_new_from_buffer(res.data, res.len, "", NULL);
    *out = im != NULL ? vips_image_copy_memory(im) : NULL;
    VIPS_UNREF(im);
    pl_result_clear(&res);
    return *out != NULL ? 0 : -1;
}

/* Check one PNG; want_filter >= 0: every row must carry that filter. Returns 1 if it was checked. */
static int check_png(const char *name, const uint8_t *d, size_t len, int want_filter)
{
    png_raw r;
    int rc = png_inflate(d, len, &r);
    if (rc == 1)
        return 0;
    VipsImage *ref = NULL, *lo = NULL;
    if (vips_pngload_buffer((void *)d, len, &lo, NULL) == 0)
        ref = vips_image_copy_memory(lo);
    VIPS_UNREF(lo);
    size_t refsize = 0;
    const void *refpix = ref != NULL ? vips_image_get_data(ref) : NULL;
    if (ref != NULL)
        refsize = VIPS_IMAGE_SIZEOF_IMAGE(ref);
    if (!ok(rc == 0 && refpix != NULL && refsize == r.s * r.h, "%s: inflated (%ux%u, %d-bit, %d bytes/pixel), libvips loads it",
            name, r.w, r.h, r.depth, r.bpp)) {
        g_free(r.raw);
        VIPS_UNREF(ref);
        return 1;
    }
    if (want_filter >= 0)
        ok(r.filters[want_filter] == (int)r.h, "%s: all %u rows carry filter %d", name, r.h, want_filter);
    int alpha = r.ct == 4 || r.ct == 6 ? r.depth / 8 : 0;
    bool opaque = true;
    int un = pl_png_unfilter_image(r.raw, r.s, r.h, r.bpp, alpha, &opaque);
    if (r.depth == 16)
        pl_png_unfilter_be16(r.raw, r.s * r.h);
    ok(un == 0 && memcmp(r.raw, refpix, refsize) == 0,
       "%s: pl_png_unfilter_image = vips_pngload_buffer, byte for byte (rows by filter 0-4: %d %d %d %d %d)", name, r.filters[0],
       r.filters[1], r.filters[2], r.filters[3], r.filters[4]);
    ok(opaque == (alpha > 0 && ref_opaque(ref)), "%s: opaque %d = every alpha sample of pngload's pixels at its maximum", name,
       opaque);
    /* an ICC profile sends the engine's pixels through a colour transform: test_engine_png covers those */
    if (vips_image_get_typeof(ref, VIPS_META_ICC_NAME) != 0) {
        g_free(r.raw);
        VIPS_UNREF(ref);
        return 1;
    }
    VipsImage *eng = NULL;
    int e = engine_pixels(d, len, &eng);
    ok(e == 0 && eng->Bands == ref->Bands && eng->BandFmt == ref->BandFmt && VIPS_IMAGE_SIZEOF_IMAGE(eng) == refsize &&
           memcmp(vips_image_get_data(eng), refpix, refsize) == 0,
       "%s: the engine's PNG round trip keeps pngload's pixels", name);
    VIPS_UNREF(eng);
    VIPS_UNREF(ref);
    g_free(r.raw);
    return 1;
}

/* noise with some structure (a ramp under it), so that every filter predicts something */
static VipsImage *make_image(int w, int h, int bands, int depth)
{
    VipsImage *noise = NULL, *ramp = NULL, *sum = NULL, *cast = NULL, *joined = NULL;
    VipsImage *bandv[4] = {NULL};
    double top = depth == 16 ? 65535 : 255;
    for (int b = 0; b < bands; b++) {
        if (vips_gaussnoise(&noise, w, h, "mean", top / 2, "sigma", top / 6, "seed", 7 + b, NULL) || vips_xyz(&ramp, w, h, NULL) ||
            vips_extract_band(ramp, &joined, 0, NULL) || vips_linear1(joined, &sum, top / (3.0 * w), -top / 6, NULL))
            return NULL;
        VIPS_UNREF(joined);
        VipsImage *t = NULL;
        if (vips_add(noise, sum, &t, NULL) || vips_cast(t, &bandv[b], depth == 16 ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR, NULL))
            return NULL;
        VIPS_UNREF(t);
        VIPS_UNREF(noise);
        VIPS_UNREF(ramp);
        VIPS_UNREF(sum);
    }
    if (vips_bandjoin(bandv, &cast, bands, NULL))
        return NULL;
    for (int b = 0; b < bands; b++)
        VIPS_UNREF(bandv[b]);
    cast->Type = depth == 16 ? (bands >= 3 ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16)
                             : (bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W);
    return cast;
}

static void test_generated(void)
{
    static const struct {
        VipsForeignPngFilter f;
        int byte; /* the filter byte every row must carry, -1 = adaptive */
        const char *name;
    } filters[] = {{VIPS_FOREIGN_PNG_FILTER_NONE, 0, "none"},   {VIPS_FOREIGN_PNG_FILTER_SUB, 1, "sub"},
                   {VIPS_FOREIGN_PNG_FILTER_UP, 2, "up"},       {VIPS_FOREIGN_PNG_FILTER_AVG, 3, "avg"},
                   {VIPS_FOREIGN_PNG_FILTER_PAETH, 4, "paeth"}, {VIPS_FOREIGN_PNG_FILTER_ALL, -1, "all"}};
    static const int sizes[][2] = {{67, 13}, {1, 5}, {2, 3}, {33, 17}, {5, 1}};
    for (int depth = 8; depth <= 16; depth += 8)
        for (int bands = 1; bands <= 4; bands++)
            for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
                VipsImage *im = make_image(sizes[si][0], sizes[si][1], bands, depth);
                if (!ok(im != NULL, "made a %dx%d %d-band %d-bit image", sizes[si][0], sizes[si][1], bands, depth)) {
                    diag("%s", vips_error_buffer());
                    continue;
                }
                for (size_t fi = 0; fi < sizeof(filters) / sizeof(filters[0]); fi++) {
                    void *buf = NULL;
                    size_t len = 0;
                    char name[96];
                    snprintf(name, sizeof(name), "pngsave %dx%d %d-band %d-bit filter=%s", sizes[si][0], sizes[si][1], bands, depth,
                             filters[fi].name);
                    if (vips_pngsave_buffer(im, &buf, &len, "filter", filters[fi].f, "bitdepth", depth, "strip", TRUE, NULL)) {
                        ok(0, "%s: %s", name, vips_error_buffer());
                        vips_error_clear();
                        continue;
                    }
                    /* libpng writes a 1-pixel-wide or 1-row image with other filters than asked */
                    ok(check_png(name, buf, len, sizes[si][0] > 1 && sizes[si][1] > 1 ? filters[fi].byte : -1),
                       "%s: in the fast path's layout", name);
                    g_free(buf);
                }
                VIPS_UNREF(im);
            }
}

/* pl_png_unfilter_image on whole random images, rows Paeth or a random filter (Paeth pairs at 4
 * bytes per pixel are unfiltered two rows at once, in place), against the reference row by row */
static void test_images(void)
{
    enum { MAXW = 67, MAXH = 19 }; /* 1 byte per pixel: waves of 8 rows, then rows one by one */
    static uint8_t raw[(MAXW * 8 + 1) * MAXH], want[MAXW * 8 * MAXH];
    for (size_t bi = 0; bi < sizeof(bpps) / sizeof(bpps[0]); bi++) {
        int bpp = bpps[bi], bad = 0, cases = 0;
        for (size_t w = 1; w <= MAXW; w++)
            for (size_t h = 1; h <= MAXH; h++)
                for (int mixed = 0; mixed <= 2; mixed++) { /* Paeth; a third random; all random */
                    size_t n = w * (size_t)bpp;
                    for (size_t y = 0; y < h; y++) {
                        uint8_t *row = raw + y * (n + 1);
                        row[0] = mixed == 2 || (mixed && rnd8() % 3 == 0) ? rnd8() % 5 : 4;
                        for (size_t x = 0; x < n; x++)
                            row[1 + x] = rnd8();
                        ref_row(want + y * n, row + 1, y > 0 ? want + (y - 1) * n : NULL, n, bpp, row[0]);
                    }
                    bool op;
                    bad += pl_png_unfilter_image(raw, n, h, bpp, 0, &op) != 0 || memcmp(raw, want, n * h) != 0;
                    cases++;
                }
        ok(bad == 0, "whole images, %d bytes/pixel, Paeth rows (or mixed, or any filter): %d of %d differ from the reference", bpp,
           bad, cases);
    }
}

/* pl_png_row_opaque: one byte below 0xff in any alpha sample (first, middle, last pixel, in the
 * word loop and in the tail) makes a row not opaque; colour bytes never matter */
static void test_row_opaque(void)
{
    static const struct {
        int bpp, alpha;
    } lay[] = {{2, 1}, {4, 1}, {4, 2}, {8, 2}};
    uint8_t row[8 * 67];
    for (size_t li = 0; li < sizeof(lay) / sizeof(lay[0]); li++) {
        int bpp = lay[li].bpp, alpha = lay[li].alpha, bad = 0, cases = 0;
        for (size_t w = 1; w <= 67; w++) {
            size_t n = w * (size_t)bpp;
            for (size_t x = 0; x < n; x++)
                row[x] = (int)(x % (size_t)bpp) >= bpp - alpha ? 0xff : rnd8();
            bad += !pl_png_row_opaque(row, n, bpp, alpha);
            cases++;
            size_t pix[3] = {0, w / 2, w - 1};
            for (int k = 0; k < 3; k++)
                for (int ab = 0; ab < alpha; ab++) {
                    uint8_t *p = row + pix[k] * (size_t)bpp + (size_t)(bpp - alpha + ab);
                    *p = 0xfe;
                    bad += pl_png_row_opaque(row, n, bpp, alpha);
                    *p = 0xff;
                    cases++;
                }
        }
        ok(bad == 0, "row opaque, %d bytes/pixel, %d alpha byte(s): %d of %d rows judged wrong", bpp, alpha, bad, cases);
    }
    bool op = true;
    uint8_t img[2 * (1 + 4)] = {0, 1, 2, 3, 255, 2, 0, 0, 0, 0};
    ok(pl_png_unfilter_image(img, 4, 2, 4, 3, &op) == -1 && pl_png_unfilter_image(img, 4, 2, 3, 1, &op) == -1,
       "pl_png_unfilter_image refuses an alpha layout it cannot check");
    ok(pl_png_unfilter_image(img, 4, 2, 4, 1, &op) == 0 && op && img[3] == 255 && img[7] == 255,
       "an alpha of 255 reached through the Up filter is opaque");
}

/* two rows of n random bytes; with alpha_every (bytes per pixel, alpha last), a third of row 0's
 * alphas are 0 or 255 */
static void random_rows(uint8_t *r0, uint8_t *r1, size_t n, int alpha_every)
{
    for (size_t i = 0; i < n; i++) {
        r0[i] = rnd8();
        r1[i] = rnd8();
        if (alpha_every > 0 && (int)(i % (size_t)alpha_every) == alpha_every - 1 && r0[i] % 3 == 0)
            r0[i] = r1[i] % 2 ? 0 : 255;
    }
}

/* pl_png_box_row against the 2x2 mean written out here: random rows, 1-4 bytes per pixel,
 * widths 1..67 (odd: the last column's pair alone), two rows and one row with itself */
static void test_box(void)
{
    enum { MAXW = 67 };
    uint8_t r0[MAXW * 4], r1[MAXW * 4], got[MAXW * 2 + 8], want[MAXW * 2 + 8];
    for (int bpp = 1; bpp <= 4; bpp++) {
        int bad = 0, cases = 0;
        for (size_t w = 1; w <= MAXW; w++)
            for (int same = 0; same <= 1; same++) {
                random_rows(r0, r1, w * (size_t)bpp, 0);
                const uint8_t *b = same ? r0 : r1;
                size_t ow = (w + 1) / 2;
                for (size_t x = 0; x < ow; x++)
                    for (int c = 0; c < bpp; c++) {
                        size_t i0 = 2 * x * (size_t)bpp + (size_t)c, i1 = 2 * x + 1 < w ? i0 + (size_t)bpp : i0;
                        want[x * (size_t)bpp + (size_t)c] = (uint8_t)((r0[i0] + r0[i1] + b[i0] + b[i1] + 2) / 4);
                    }
                memset(got, 0xa5, sizeof(got));
                pl_png_box_row(got, r0, b, w, bpp);
                bad += memcmp(got, want, ow * (size_t)bpp) != 0 || got[ow * (size_t)bpp] != 0xa5;
                cases++;
            }
        ok(bad == 0, "2x2 box, %d bytes/pixel: %d of %d rows differ from the mean (or write past the row)", bpp, bad, cases);
    }
}

/* pl_png_box_row_premul against the premultiplied mean written out here (round(c * a / 255) has
 * no ties: 2ca is even, 255(2k + 1) odd): random rows of grey+alpha and RGBA, alphas drawn from
 * 0, 255 and anything between, widths 1..67, two rows and one row with itself */
static void test_box_premul(void)
{
    enum { MAXW = 67 };
    uint8_t r0[MAXW * 4], r1[MAXW * 4], got[MAXW * 2 + 8], want[MAXW * 2 + 8];
    for (int bpp = 2; bpp <= 4; bpp += 2) {
        int bad = 0, cases = 0;
        for (size_t w = 1; w <= MAXW; w++)
            for (int same = 0; same <= 1; same++) {
                random_rows(r0, r1, w * (size_t)bpp, bpp);
                const uint8_t *b = same ? r0 : r1;
                size_t ow = (w + 1) / 2;
                for (size_t x = 0; x < ow; x++) {
                    size_t p[2] = {2 * x, 2 * x + 1 < w ? 2 * x + 1 : 2 * x};
                    for (int c = 0; c < bpp; c++) {
                        unsigned sum = 0;
                        for (int k = 0; k < 2; k++)
                            for (int row = 0; row < 2; row++) {
                                const uint8_t *px = (row ? b : r0) + p[k] * (size_t)bpp;
                                unsigned a = px[bpp - 1];
                                sum += c == bpp - 1 ? a : (2 * px[c] * a + 255) / 510;
                            }
                        want[x * (size_t)bpp + (size_t)c] = (uint8_t)(w % 2 && x == ow - 1 ? (sum / 2 + 1) / 2 : (sum + 2) / 4);
                    }
                }
                memset(got, 0xa5, sizeof(got));
                pl_png_box_row_premul(got, r0, b, w, bpp);
                bad += memcmp(got, want, ow * (size_t)bpp) != 0 || got[ow * (size_t)bpp] != 0xa5;
                cases++;
            }
        ok(bad == 0, "2x2 box premultiplied, %d bytes/pixel: %d of %d rows differ from the mean (or write past the row)", bpp, bad,
           cases);
    }
}

static void test_fixtures(void)
{
    static const char *pngs[] = {"edge/alpha-blackbug.png",
                                 "edge/displayp3-profile.png",
                                 "edge/palette-swiss.png",
                                 "edge/pngsuite-basi6a08-interlaced.png",
                                 "edge/pngsuite-basn0g16-grey16.png",
                                 "edge/pngsuite-basn6a08-rgba.png",
                                 "edge/pngsuite-basn6a16-rgba16.png",
                                 "edge/prophoto-profile.png",
                                 "edge/tall-strip-6x1024.png",
                                 "photos/coffee.png",
                                 "photos/kodim23-parrots.png"};
    int checked = 0;
    for (size_t i = 0; i < sizeof(pngs) / sizeof(pngs[0]); i++) {
        eu_file f = eu_read(pngs[i]);
        checked += f.len > 0 && check_png(pngs[i], f.data, f.len, -1);
        eu_free(&f);
    }
    ok(checked >= 8, "%d PNG fixtures in the fast path's layout checked", checked);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    diag("best unfilter here: %s", impl_names[pl_png_unfilter_best()]);
    test_rows();
    test_images();
    test_row_opaque();
    test_box();
    test_box_premul();
    test_generated();
    test_fixtures();
    return tap_done();
}
