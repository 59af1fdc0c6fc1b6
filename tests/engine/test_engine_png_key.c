/*
 * test_engine_png_key: grey and RGB PNGs with a tRNS colour key on the fast decoder (pl_png.c).
 * PNGs written here (8 and 16 bits, grey and RGB, rows None and Sub, plain and Adam7) are decoded
 * by pl_png_decode itself, which must take them (0) and give libvips' pngload's pixels exactly:
 * an alpha band of 0 where every sample equals the key, else all ones, also where only some
 * samples do, or where a 16-bit sample is the key's bytes swapped. A key no pixel carries leaves
 * the pixels marked opaque. tRNS chunks libpng ignores or reads otherwise (after IDAT, twice, of
 * the wrong length, on RGBA, an 8-bit key past 255) are declined (1), and the whole pipeline then
 * gives pngload's result all the same.
 */
#include <libdeflate.h>

#include "engine_util.h"
#include "pl_internal.h"

/* A PNG of w x h pixels of `samples` samples of `depth` bits (px: big-endian for 16 bits),
 * colour type ct, Adam7 when interlaced (every row None), else rows None and Sub in turn;
 * chunks: IHDR, then tRNS (trns_len bytes; none when 0) before IDAT, or after it when late,
 * twice when twice. The caller g_frees data. */
typedef struct {
    int w, h, depth, ct, samples;
    bool interlaced, late, twice;
    const uint8_t *trns;
    uint32_t trns_len;
} png_spec;

static const uint8_t adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                    {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};

static eu_file png_keyed(const uint8_t *px, const png_spec *p)
{
    size_t B = (size_t)p->samples * (size_t)p->depth / 8, s = (size_t)p->w * B;
    uint8_t *raw = g_malloc((s + 7) * (size_t)p->h * 2), *o = raw;
    for (int pass = 0; pass < (p->interlaced ? 7 : 1); pass++) {
        const uint8_t *a = p->interlaced ? adam7[pass] : (const uint8_t[4]){0, 0, 1, 1};
        for (int y = a[1]; y < p->h; y += a[3]) {
            bool sub = !p->interlaced && y % 2 == 1;
            *o++ = sub ? 1 : 0;
            size_t row_start = (size_t)(o - raw);
            for (int x = a[0]; x < p->w; x += a[2])
                for (size_t k = 0; k < B; k++) {
                    size_t i = (size_t)(o - raw) - row_start;
                    const uint8_t *cur = px + (size_t)y * s + (size_t)x * B + k;
                    *o++ = (uint8_t)(sub && i >= B ? *cur - *(cur - B) : *cur);
                }
        }
    }
    size_t raw_len = (size_t)(o - raw);
    struct libdeflate_compressor *dc = libdeflate_alloc_compressor(6);
    size_t zmax = libdeflate_zlib_compress_bound(dc, raw_len);
    uint8_t *z = g_malloc(zmax), *f = g_malloc(8 + 25 + 3 * (12 + 8) + 12 + zmax + 12);
    size_t zlen = libdeflate_zlib_compress(dc, raw, raw_len, z, zmax), at = 8;
    libdeflate_free_compressor(dc);
    memcpy(f, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13] = {
        0, 0, (uint8_t)(p->w >> 8), (uint8_t)p->w, 0, 0, (uint8_t)(p->h >> 8), (uint8_t)p->h, (uint8_t)p->depth, (uint8_t)p->ct,
        0, 0, p->interlaced ? 1 : 0};
    eu_png_chunk(f, &at, "IHDR", ihdr, 13);
    for (int k = 0; p->trns_len > 0 && !p->late && k < (p->twice ? 2 : 1); k++)
        eu_png_chunk(f, &at, "tRNS", p->trns, p->trns_len);
    eu_png_chunk(f, &at, "IDAT", z, (uint32_t)zlen);
    if (p->trns_len > 0 && p->late)
        eu_png_chunk(f, &at, "tRNS", p->trns, p->trns_len);
    eu_png_chunk(f, &at, "IEND", NULL, 0);
    g_free(raw);
    g_free(z);
    return (eu_file){f, at};
}

/* Pixels of a pattern; with put, the key in some (every 5th), the key in all samples but the last
 * (every 7th) and, for 16 bits, the key's bytes swapped (every 11th); without, no pixel is the key.
 * key: the samples as the pixels hold them (big-endian for 16 bits). */
static uint8_t *pixels_with_key(const png_spec *p, const uint8_t *key, bool put)
{
    size_t B = (size_t)p->samples * (size_t)p->depth / 8, n = (size_t)p->w * (size_t)p->h;
    uint8_t *px = g_malloc(n * B);
    for (size_t i = 0; i < n; i++) {
        uint8_t *d = px + i * B;
        for (size_t k = 0; k < B; k++)
            d[k] = (uint8_t)(i * 7 + k * 29 + (i / (size_t)p->w) * 3);
        if (!put && memcmp(d, key, B) == 0)
            d[B - 1] ^= 1;
        else if (put && i % 5 == 0)
            memcpy(d, key, B);
        else if (put && i % 7 == 0 && p->samples > 1)
            memcpy(d, key, B - (size_t)p->depth / 8);
        else if (put && i % 11 == 0 && p->depth == 16)
            for (size_t k = 0; k < B; k += 2)
                d[k] = key[k + 1], d[k + 1] = key[k];
    }
    return px;
}

/* pl_png_decode on f: its return, and for 0, whether it gave pngload's pixels and marked them
 * opaque */
static int decode(const eu_file *f, bool *same, bool *opaque, int *bands)
{
    pl_input in = {.data = f->data, .len = f->len};
    pl_ctx c = {.in = &in};
    c.base = VIPS_OBJECT(vips_image_new());
    VipsImage *head = vips_image_new_from_buffer(f->data, f->len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    VipsImage *mine = NULL, *ref = NULL;
    int rc = head != NULL ? pl_png_decode(&c, f->data, f->len, head, 1, &mine) : -1;
    *opaque = rc == 0 && c.opaque_pixels != NULL;
    *bands = rc == 0 ? mine->Bands : 0;
    *same = rc == 0 && vips_pngload_buffer(f->data, f->len, &ref, NULL) == 0 && eu_image_maxdiff(ref, mine) == 0;
    VIPS_UNREF(ref);
    VIPS_UNREF(head);
    g_object_unref(c.base);
    vips_error_clear();
    return rc;
}

/* A file of p with the tRNS chunk trns whose key is px_key in the pixels' own terms: put in some
 * pixels or in none */
static void test_taken(const char *what, const png_spec *p, const uint8_t *px_key, bool put)
{
    uint8_t *px = pixels_with_key(p, px_key, put);
    eu_file f = png_keyed(px, p);
    bool same, opaque;
    int bands;
    int rc = decode(&f, &same, &opaque, &bands);
    ok(rc == 0 && same && bands == p->samples + 1 && opaque == !put,
       "%s %dx%d, the key in %s pixels: decoded (%d), pngload's pixels (%s), %d bands, opaque %s", what, p->w, p->h,
       put ? "some" : "no", rc, same ? "yes" : "no", bands, opaque ? "yes" : "no");
    g_free(f.data);
    g_free(px);
}

static void test_declined(const char *what, png_spec p, const uint8_t *trns)
{
    p.trns = trns;
    uint8_t *px = pixels_with_key(&p, trns, false);
    eu_file f = png_keyed(px, &p);
    bool same, opaque;
    int bands;
    int rc = decode(&f, &same, &opaque, &bands);
    pl_result a, b;
    pl_error ea, eb;
    int ra = eu_run("resize?width=9&type=png", &f, &a, &ea);
    int rb = eu_run_switched_off(PL_NO_FAST_PNG, "resize?width=9&type=png", &f, &b, &eb);
    ok(rc == 1 && ra == 0 && rb == 0 && eu_maxdiff(&a, &b) == 0, "%s: declined (%d), the pipeline gives pngload's result (%d/%d)",
       what, rc, ra, rb);
    if (ra == 0)
        pl_result_clear(&a);
    if (rb == 0)
        pl_result_clear(&b);
    g_free(f.data);
    g_free(px);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    static const uint8_t grey8[2] = {0, 77}, rgb8[6] = {0, 10, 0, 20, 0, 30}, grey16[2] = {0x12, 0x34},
                         rgb16[6] = {0x01, 0x02, 0x80, 0x04, 0xff, 0x06};
    /* the pixels of 8-bit files hold the key's low bytes */
    static const uint8_t grey8_px[1] = {77}, rgb8_px[3] = {10, 20, 30};
    const struct {
        const char *what;
        png_spec p;
        const uint8_t *trns, *px_key;
    } cases[] = {
        {"grey 8-bit", {37, 13, 8, 0, 1}, grey8, grey8_px},
        {"RGB 8-bit", {37, 13, 8, 2, 3}, rgb8, rgb8_px},
        {"grey 16-bit", {37, 13, 16, 0, 1}, grey16, grey16},
        {"RGB 16-bit", {37, 13, 16, 2, 3}, rgb16, rgb16},
        {"RGB 8-bit, Adam7", {19, 11, 8, 2, 3, true}, rgb8, rgb8_px},
        {"grey 16-bit, Adam7", {19, 11, 16, 0, 1, true}, grey16, grey16},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        png_spec p = cases[i].p;
        p.trns = cases[i].trns;
        p.trns_len = 2 * (uint32_t)p.samples;
        test_taken(cases[i].what, &p, cases[i].px_key, true);
        test_taken(cases[i].what, &p, cases[i].px_key, false);
    }
    static const uint8_t over255[2] = {1, 77}, rgb8_short[4] = {0, 10, 0, 20}, rgba8[8] = {0};
    test_declined("grey 8-bit, a key of 0x014d (past 255)", (png_spec){37, 13, 8, 0, 1, .trns_len = 2}, over255);
    test_declined("RGB 8-bit, tRNS of 4 bytes", (png_spec){37, 13, 8, 2, 3, .trns_len = 4}, rgb8_short);
    test_declined("RGBA 8-bit with a tRNS", (png_spec){37, 13, 8, 6, 4, .trns_len = 8}, rgba8);
    test_declined("RGB 8-bit, tRNS after IDAT", (png_spec){37, 13, 8, 2, 3, .late = true, .trns_len = 6}, rgb8);
    test_declined("RGB 8-bit, two tRNS", (png_spec){37, 13, 8, 2, 3, .twice = true, .trns_len = 6}, rgb8);
    return tap_done();
}
