/*
 * test_engine_webp: the still-WebP decoder (pl_webp.c: one WebPDecode into a memory image) gives
 * exactly the pixels, size, bands and metadata of libvips' webpload, with and without its scale:
 * lossy RGB, lossy and lossless with alpha, an ICC profile and EXIF orientation 6, the
 * fixtures and images written here. Animated files are left to webpload. Through pl_run, each
 * spec gives what IMGPIPE_NO_FAST_WEBP=1 gives (the same pixels without alpha; with alpha the
 * integer premultiply in place, within 45 dB), and damaged files (truncated, bytes flipped in the
 * bitstream, a lying RIFF size) fail alike on both paths or decode alike. Hand-made containers: a
 * VP8X header whose canvas (7000x7000) is not the bitstream's size fails alike; one whose alpha
 * flag is set over an RGB lossless bitstream is left to webpload (libwebp and libvips disagree on
 * its bands) and decodes as webpload decodes it.
 */
#include <stdlib.h>

#include "engine_util.h"
#include "pl_internal.h"

/* A w x h crop of a photo, with an alpha ramp (or not), as WebP bytes: lossless or q 80; icc: a
 * Display P3 profile attached; orient: EXIF orientation (0 = none). The caller frees data. */
static eu_file webp_made(int w, int h, bool alpha, bool lossless, bool icc, int orient)
{
    eu_file f = {0}, src = eu_read("photos/kodim23-parrots.png");
    VipsImage *photo = NULL, *crop = NULL, *img = NULL, *x = NULL, *ramp = NULL, *a = NULL;
    photo = src.data != NULL ? vips_image_new_from_buffer(src.data, src.len, "", NULL) : NULL;
    if (photo == NULL || vips_extract_area(photo, &crop, 40, 30, w, h, NULL) || vips_copy(crop, &img, NULL))
        goto out;
    if (alpha) {
        VipsImage *rgba = NULL;
        if (vips_xyz(&x, w, h, NULL) || vips_extract_band(x, &ramp, 1, NULL) ||
            vips_linear1(ramp, &a, 255.0 / h, 0, "uchar", TRUE, NULL) || vips_bandjoin2(img, a, &rgba, NULL))
            goto out;
        g_object_unref(img);
        img = rgba;
    }
    vips_image_remove(img, VIPS_META_ICC_NAME);
    if (icc) {
        eu_file p = eu_read("edge/displayp3-profile.png");
        VipsImage *pi = p.data != NULL ? vips_image_new_from_buffer(p.data, p.len, "", NULL) : NULL;
        const void *blob;
        size_t blen;
        if (pi != NULL && vips_image_get_blob(pi, VIPS_META_ICC_NAME, &blob, &blen) == 0)
            vips_image_set_blob_copy(img, VIPS_META_ICC_NAME, blob, blen);
        VIPS_UNREF(pi);
        eu_free(&p);
    }
    if (orient > 0)
        vips_image_set_int(img, VIPS_META_ORIENTATION, orient);
    void *buf = NULL;
    size_t len = 0;
    if (vips_webpsave_buffer(img, &buf, &len, "lossless", lossless, "Q", 80, NULL) == 0) {
        f.data = buf;
        f.len = len;
    }
out:
    VIPS_UNREF(a);
    VIPS_UNREF(ramp);
    VIPS_UNREF(x);
    VIPS_UNREF(img);
    VIPS_UNREF(crop);
    VIPS_UNREF(photo);
    eu_free(&src);
    vips_error_clear();
    return f;
}

static bool same_blob(VipsImage *a, VipsImage *b, const char *name)
{
    const void *pa = NULL, *pb = NULL;
    size_t la = 0, lb = 0;
    bool ha = vips_image_get_typeof(a, name) != 0 && vips_image_get_blob(a, name, &pa, &la) == 0;
    bool hb = vips_image_get_typeof(b, name) != 0 && vips_image_get_blob(b, name, &pb, &lb) == 0;
    return ha == hb && la == lb && (la == 0 || memcmp(pa, pb, la) == 0);
}

/* pl_webp_decode against webpload with the same scale: want 0 (decoded, identical) or 1 (declined) */
static void test_decoder(const char *what, const eu_file *f, double scale, int want)
{
    pl_ctx c = {0};
    c.base = VIPS_OBJECT(vips_image_new());
    VipsImage *head = vips_image_new_from_buffer(f->data, f->len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    VipsImage *ref = NULL, *mine = NULL;
    int rc = head != NULL ? pl_webp_decode(&c, f->data, f->len, head, scale, &mine) : -1;
    if (rc != 0 || want != 0) {
        ok(rc == want, "%s scale %.3f: pl_webp_decode returns %d (want %d)", what, scale, rc, want);
    } else {
        if (scale > 0)
            vips_webpload_buffer(f->data, f->len, &ref, "scale", scale, NULL);
        else
            vips_webpload_buffer(f->data, f->len, &ref, NULL);
        double m = eu_image_maxdiff(ref, mine);
        bool shape = m >= 0;
        int oa = 0, ob = 0;
        vips_image_get_int(ref, VIPS_META_ORIENTATION, &oa);
        vips_image_get_int(mine, VIPS_META_ORIENTATION, &ob);
        ok(shape && m == 0 && same_blob(ref, mine, VIPS_META_ICC_NAME) && same_blob(ref, mine, VIPS_META_EXIF_NAME) && oa == ob,
           "%s scale %.3f: %dx%dx%d, webpload's pixels (max diff %g) and metadata (orientation %d/%d)", what, scale, mine->Xsize,
           mine->Ysize, mine->Bands, m, ob, oa);
    }
    VIPS_UNREF(ref);
    VIPS_UNREF(head);
    g_object_unref(c.base);
    vips_error_clear();
}

/* pl_run with the decoder against pl_run without it: min_db 0 = the same pixels */
static void test_run(const char *what, const eu_file *f, const char *spec, double min_db)
{
    pl_result a, b;
    pl_error ea, eb;
    /* both resize with vips_resize: pl_reduce_u8 reads the decoder's memory image in place with
     * pl_lanczos on both axes and webpload's lazy image through vips_reducev, a few levels apart */
    int ra = eu_run_switched_off(PL_NO_TRANSPOSED_REDUCE, spec, f, &a, &ea);
    int rb = eu_run_switched_off(PL_NO_FAST_WEBP | PL_NO_TRANSPOSED_REDUCE, spec, f, &b, &eb);
    if (ra != 0 || rb != 0)
        ok(ra == rb && ea.code == eb.code, "%s %s: both paths fail alike (%s / %s)", what, spec, pl_error_name(ea.code),
           pl_error_name(eb.code));
    else {
        double m = eu_maxdiff(&a, &b);
        double db = m == 0 ? 99 : m < 0 ? -1 : eu_psnr(a.data, a.len, b.data, b.len);
        ok(min_db == 0 ? m == 0 : db >= min_db, "%s %s: %dx%d, %.1f dB from webpload's path (max diff %g, want %s %g)", what, spec,
           a.width, a.height, db, m, min_db == 0 ? "max diff" : "dB >=", min_db);
    }
    pl_result_clear(&a);
    pl_result_clear(&b);
}

static void test_damaged(const eu_file *good)
{
    static const char *specs[] = {"resize?width=64&type=png", "transform?type=png"};
    uint8_t *d = g_memdup2(good->data, good->len);
    eu_file cut = {d, good->len / 2};
    eu_file head_only = {d, 30};
    for (size_t i = 0; i < 2; i++) {
        test_run("truncated to half", &cut, specs[i], 0);
        test_run("header only", &head_only, specs[i], 0);
    }
    for (size_t at = good->len / 3; at < good->len; at += good->len / 7)
        d[at] ^= 0x5a;
    eu_file flipped = {d, good->len};
    test_run("bytes flipped", &flipped, specs[0], 0);
    memcpy(d, good->data, good->len);
    d[4] = 0xff, d[5] = 0xff, d[6] = 0xff, d[7] = 0x7f; /* RIFF size far past the end */
    test_run("RIFF size lies", &flipped, specs[0], 0);
    g_free(d);
}

/* good's lossless bitstream (its VP8L chunk) in a new RIFF/WEBP/VP8X(flags, canvas cw x ch)
 * container; empty when good has no VP8L chunk. The caller frees data. */
static eu_file webp_in_vp8x(const eu_file *good, uint8_t flags, uint32_t cw, uint32_t ch)
{
    eu_file f = {0};
    size_t at = 12, chunk = 0;
    while (at + 8 <= good->len) {
        const uint8_t *c = good->data + at;
        size_t n = (size_t)c[4] | (size_t)c[5] << 8 | (size_t)c[6] << 16 | (size_t)c[7] << 24;
        if (memcmp(c, "VP8L", 4) == 0 && n <= good->len - at - 8) {
            chunk = 8 + n + (n & 1);
            break;
        }
        at += 8 + n + (n & 1);
    }
    if (chunk == 0 || at + chunk > good->len)
        return f;
    size_t len = 12 + 18 + chunk;
    uint8_t *d = g_malloc0(len);
    memcpy(d, "RIFF", 4);
    uint32_t riff = (uint32_t)(len - 8);
    for (int i = 0; i < 4; i++)
        d[4 + i] = (uint8_t)(riff >> (8 * i));
    memcpy(d + 8, "WEBPVP8X", 8);
    d[16] = 10; /* the VP8X payload's size */
    d[20] = flags;
    for (int i = 0; i < 3; i++) {
        d[24 + i] = (uint8_t)((cw - 1) >> (8 * i));
        d[27 + i] = (uint8_t)((ch - 1) >> (8 * i));
    }
    memcpy(d + 30, good->data + at, chunk);
    f.data = d;
    f.len = len;
    return f;
}

static void test_vp8x(const eu_file *lossless)
{
    eu_file bomb = webp_in_vp8x(lossless, 0, 7000, 7000);
    ok(bomb.data != NULL, "VP8X canvas 7000x7000 over a 301x203 bitstream: made");
    if (bomb.data != NULL)
        test_run("VP8X canvas larger than its bitstream", &bomb, "resize?width=64&type=png", 0);
    eu_free(&bomb);
    eu_file alpha = webp_in_vp8x(lossless, 0x10, 301, 203);
    ok(alpha.data != NULL, "VP8X with the alpha flag over a lossless bitstream: made");
    if (alpha.data != NULL) {
        /* libwebp's features say alpha (the flag), libvips' header says 3 bands (the bitstream has
         * none): the decoder declines and webpload decodes it */
        test_decoder("VP8X alpha flag over an RGB bitstream", &alpha, 0, 1);
        test_run("VP8X alpha flag", &alpha, "transform?type=png", 0);
    }
    eu_free(&alpha);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    static const char *fixtures[] = {"photos/webp-gallery-4.webp", "edge/webp-alpha.webp", "edge/looks-like-svg.webp"};
    static const double scales[] = {0, 0.5, 0.371, 0.0021};
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        eu_file f = eu_read(fixtures[i]);
        for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++)
            test_decoder(fixtures[i], &f, scales[s], 0);
        test_run(fixtures[i], &f, "transform?type=png&strip=false", 0);
        bool alpha = i > 0;
        test_run(fixtures[i], &f, "resize?width=150&type=png", alpha ? 45 : 0);
        /* JPEG: alpha flattened, then 8x8 blocks quantised; a rounding apart in premultiplied
         * pixels moves a few blocks by more */
        test_run(fixtures[i], &f, "transform?w=96&h=96&fit=cover&type=jpeg", alpha ? 40 : 0);
        eu_free(&f);
    }
    eu_file anim = eu_read("edge/animated-rotating-squares.webp");
    test_decoder("animated", &anim, 0, 1);
    test_run("animated", &anim, "resize?width=40&type=webp", 0);
    eu_free(&anim);

    struct {
        const char *what;
        bool alpha, lossless, icc;
        int orient;
    } made[] = {{"lossless rgb", false, true, false, 0},
                {"lossless rgba", true, true, false, 0},
                {"lossy rgba", true, false, false, 0},
                {"lossy rgb, icc, orientation 6", false, false, true, 6}};
    for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
        eu_file f = webp_made(301, 203, made[i].alpha, made[i].lossless, made[i].icc, made[i].orient);
        VipsImage *h = f.data != NULL ? vips_image_new_from_buffer(f.data, f.len, "", NULL) : NULL;
        ok(h != NULL && (vips_image_get_typeof(h, VIPS_META_ICC_NAME) != 0) == made[i].icc && h->Bands == (made[i].alpha ? 4 : 3),
           "%s: test image written (%zu bytes, %d bands, ICC %s)", made[i].what, f.len, h ? h->Bands : 0,
           made[i].icc ? "attached" : "none");
        VIPS_UNREF(h);
        if (f.data == NULL)
            continue;
        test_decoder(made[i].what, &f, 0, 0);
        test_decoder(made[i].what, &f, 0.29, 0);
        test_run(made[i].what, &f, "resize?width=100&type=png&strip=false", made[i].alpha ? 45 : 0);
        if (made[i].orient == 6) {
            pl_result r;
            pl_error e;
            int rc = eu_run("resize?width=100&type=png", &f, &r, &e);
            ok(rc == 0 && r.width == 100 && r.height == 148, "%s: upright after autorotate (%dx%d, want 100x148)", made[i].what,
               r.width, r.height);
            pl_result_clear(&r);
        }
        if (i == 0) {
            test_damaged(&f);
            test_vp8x(&f);
        }
        eu_free(&f);
    }
    return tap_done();
}
