/*
 * test_engine_jpeg_write: pl_jpeg_write.c writes the bytes libvips' jpegsave writes, and stops
 * cleanly when cancelled or past its deadline mid-encode.
 *  - directly: 8-bit sRGB and grey images at Q 10, 75, 89, 90 and 95 (4:2:0 below 90, 4:4:4 from
 *    90), with strip and with metadata kept: an image carrying EXIF, XMP, IPTC and an ICC profile
 *    of over one marker (split into APP2 markers) gives jpegsave's bytes exactly;
 *  - blocks jpegsave would drop with a warning (XMP over 60000 bytes, EXIF over one marker) make
 *    the writer decline (1), so that jpegsave runs; so do 16-bit, CMYK and 2-band images;
 *  - through the engine: fixtures (EXIF, orientation, ICC, grey, copyright, CMYK, PNG with a
 *    profile) on imaginary's routes (metadata kept) and /transform (stripped), give the same bytes
 *    with and without IMGPIPE_NO_FAST_JPEG_WRITE, and the writer did run for them;
 *  - an output wider than libjpeg's 65500 pixels is refused as too large, by name.
 */
#include "engine_util.h"
#include "pl_internal.h"

static int same_bytes(const void *a, size_t al, const void *b, size_t bl)
{
    return a != NULL && b != NULL && al == bl && memcmp(a, b, al) == 0;
}

/* jpegsave's bytes of x at q (strip = !meta) against pl_jpeg_write's, each on its own copy of x
 * (both rebuild the EXIF block in place). */
static void check_direct(VipsImage *x, int q, int meta, const char *what)
{
    VipsImage *a = vips_image_copy_memory(x), *b = NULL;
    void *ref = NULL, *got = NULL;
    size_t rl = 0, gl = 0;
    vips_copy(x, &b, NULL);
    VipsImage *bm = b != NULL ? vips_image_copy_memory(b) : NULL;
    int r1 = a != NULL
                 ? vips_jpegsave_buffer(a, &ref, &rl, "Q", q, "strip", !meta, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_AUTO, NULL)
                 : -1;
    int r2 = bm != NULL ? pl_jpeg_write(NULL, bm, q, meta != 0, &got, &gl) : -1;
    ok(r1 == 0 && r2 == 0 && same_bytes(ref, rl, got, gl), "%s, Q %d, %s: jpegsave's bytes (%zu / %zu, writer %d)", what, q,
       meta ? "metadata kept" : "stripped", rl, gl, r2);
    g_free(ref);
    g_free(got);
    g_clear_object(&a);
    g_clear_object(&b);
    g_clear_object(&bm);
}

static VipsImage *gradient(int w, int h, int bands)
{
    uint8_t *px = g_malloc((size_t)w * h * bands);
    for (int y = 0; y < h; y++)
        for (int i = 0; i < w * bands; i++)
            px[(size_t)y * w * bands + i] = (uint8_t)((i * 7 + y * 3 + (i % bands) * 50 + ((i / bands) ^ y) % 17) & 0xff);
    VipsImage *m = vips_image_new_from_memory_copy(px, (size_t)w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
    g_free(px);
    m->Type = bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
    return m;
}

static void test_direct(void)
{
    static const int qs[] = {10, 75, 89, 90, 95};
    VipsImage *rgb = gradient(203, 97, 3), *grey = gradient(64, 130, 1);
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        check_direct(rgb, qs[i], 0, "203x97 sRGB");
        check_direct(grey, qs[i], 0, "64x130 grey");
    }
    /* every block jpegsave writes: EXIF (rebuilt), XMP, IPTC, an ICC profile of 3 markers (a real
     * RGB profile padded to 150 KB, its size field updated: lcms still reads it) */
    eu_file f = eu_read("edge/exif-orientation-6.jpg"), pf = eu_read("edge/adobergb-a98-profile.jpg");
    VipsImage *ex = f.data ? vips_image_new_from_buffer(f.data, f.len, "", "access", VIPS_ACCESS_RANDOM, NULL) : NULL;
    VipsImage *pr = pf.data ? vips_image_new_from_buffer(pf.data, pf.len, "", NULL) : NULL;
    VipsImage *exm = ex ? vips_image_copy_memory(ex) : NULL;
    const void *prof = NULL;
    size_t prof_len = 0;
    if (pr == NULL || vips_image_get_blob(pr, VIPS_META_ICC_NAME, &prof, &prof_len) != 0)
        prof_len = 0;
    ok(exm != NULL && vips_image_get_typeof(exm, VIPS_META_EXIF_NAME) && prof_len > 128,
       "fixtures with EXIF and with an ICC profile (%zu bytes) load", prof_len);
    if (exm != NULL && prof_len > 128) {
        static const char xmp[] = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF/></x:xmpmeta>";
        static const uint8_t iptc[] = {'P', 'h', 'o', 't', 'o', 's', 'h', 'o', 'p', ' ', '3', '.', '0',
                                       0,   '8', 'B', 'I', 'M', 4,   4,   0,   0,   0,   0,   0,   0};
        size_t icc_len = 150000;
        uint8_t *icc = g_malloc0(icc_len);
        memcpy(icc, prof, prof_len);
        icc[0] = (uint8_t)(icc_len >> 24), icc[1] = (uint8_t)(icc_len >> 16), icc[2] = (uint8_t)(icc_len >> 8),
        icc[3] = (uint8_t)icc_len;
        ok(vips_icc_is_compatible_profile(exm, icc, icc_len), "the padded profile is one libvips keeps");
        vips_image_set_blob_copy(exm, VIPS_META_XMP_NAME, xmp, sizeof(xmp) - 1);
        vips_image_set_blob_copy(exm, VIPS_META_IPTC_NAME, iptc, sizeof(iptc));
        vips_image_set_blob_copy(exm, VIPS_META_ICC_NAME, icc, icc_len);
        g_free(icc);
        check_direct(exm, 80, 1, "EXIF + XMP + IPTC + 150 KB ICC");
        check_direct(exm, 92, 1, "EXIF + XMP + IPTC + 150 KB ICC");
        check_direct(exm, 80, 0, "the same, stripped");
        VipsImage *g1 = gradient(40, 30, 1); /* an RGB profile on a grey image: jpegsave drops it */
        vips_image_set_blob_copy(g1, VIPS_META_ICC_NAME, prof, prof_len);
        check_direct(g1, 80, 1, "grey with an RGB profile");
        g_object_unref(g1);
        /* a block jpegsave would drop with a warning: the writer declines */
        size_t big = 70000;
        char *bx = g_malloc0(big);
        VipsImage *o = vips_image_copy_memory(exm);
        vips_image_set_blob_copy(o, VIPS_META_XMP_NAME, bx, big);
        void *buf = NULL;
        size_t len = 0;
        is_int(pl_jpeg_write(NULL, o, 80, true, &buf, &len), 1, "XMP of 70000 bytes (jpegsave drops it): declined");
        is_int(pl_jpeg_write(NULL, o, 80, false, &buf, &len), 0, "... the same image stripped: written");
        g_free(buf);
        buf = NULL;
        vips_image_remove(o, VIPS_META_XMP_NAME);
        vips_image_set_blob_copy(o, VIPS_META_IPTC_NAME, bx, big);
        is_int(pl_jpeg_write(NULL, o, 80, true, &buf, &len), 1, "IPTC over one marker: declined");
        g_free(bx);
        g_object_unref(o);
    }
    eu_free(&f);
    eu_free(&pf);
    g_clear_object(&ex);
    g_clear_object(&pr);
    g_clear_object(&exm);
    /* not its images: jpegsave's */
    VipsImage *u16 = NULL, *cmyk = NULL, *two = NULL;
    void *buf = NULL;
    size_t len = 0;
    vips_cast_ushort(rgb, &u16, NULL);
    VipsImage *u16m = vips_image_copy_memory(u16);
    u16m->Type = VIPS_INTERPRETATION_RGB16;
    is_int(pl_jpeg_write(NULL, u16m, 80, false, &buf, &len), 1, "16-bit: declined");
    vips_bandjoin_const1(rgb, &cmyk, 0, NULL);
    VipsImage *cm = vips_image_copy_memory(cmyk);
    cm->Type = VIPS_INTERPRETATION_CMYK;
    is_int(pl_jpeg_write(NULL, cm, 80, false, &buf, &len), 1, "CMYK: declined");
    vips_bandjoin_const1(grey, &two, 255, NULL);
    VipsImage *tm = vips_image_copy_memory(two);
    is_int(pl_jpeg_write(NULL, tm, 80, false, &buf, &len), 1, "grey + alpha: declined");
    g_object_unref(u16);
    g_object_unref(u16m);
    g_object_unref(cmyk);
    g_object_unref(cm);
    g_object_unref(two);
    g_object_unref(tm);
    g_object_unref(rgb);
    g_object_unref(grey);
}

static void test_engine(void)
{
    static const char *files[] = {"photos/FreshFlower-1600x1203.jpg", "edge/exif-orientation-6.jpg",
                                  "edge/adobergb-a98-profile.jpg",    "edge/grayscale-gray22-profile.jpg",
                                  "edge/grey-copyright-400x256.jpg",  "edge/cmyk-with-swop-profile.jpg",
                                  "edge/displayp3-profile.png",       "photos/kodim23-parrots.png"};
    static const char *specs[] = {"fit?width=300&height=300&type=jpeg",
                                  "resize?width=200&type=jpeg",
                                  "transform?w=200&type=jpeg",
                                  "transform?w=180&type=jpeg&strip=false&q=93",
                                  "rotate?rotate=90&type=jpeg",
                                  "crop?width=100&height=100&type=jpeg&quality=95",
                                  "blur?sigma=2&type=jpeg",
                                  "thumbnail?width=120&type=jpeg&stripmeta=true",
                                  "resize?width=160&type=jpeg&colorspace=bw"};
    int same = 0, total = 0;
    unsigned before = pl_jpeg_write_count();
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        eu_file f = eu_read(files[i]);
        for (size_t k = 0; f.data != NULL && k < sizeof(specs) / sizeof(specs[0]); k++) {
            pl_result a = {0}, b = {0};
            pl_error ea, eb;
            int ra = eu_run(specs[k], &f, &a, &ea);
            int rb = eu_run_switched_off(PL_NO_FAST_JPEG_WRITE, specs[k], &f, &b, &eb);
            total++;
            if (ra == 0 && rb == 0 && same_bytes(a.data, a.len, b.data, b.len))
                same++;
            else
                diag("%s %s: %d/%d, %zu / %zu bytes", files[i], specs[k], ra, rb, a.len, b.len);
            pl_result_clear(&a);
            pl_result_clear(&b);
        }
        eu_free(&f);
    }
    is_int(same, total, "engine: %d fixture x operation pairs give the same bytes with and without the writer", total);
    unsigned used = pl_jpeg_write_count() - before;
    ok(used >= (unsigned)total * 3 / 4, "... and the writer wrote %u of the %d outputs (the rest: jpegsave)", used, total);
}

/* libjpeg writes at most 65500 pixels a side: wider is refused as too large, by name, before the
 * encoder (both encoders failed with a misleading message before). */
static void test_widest(void)
{
    static const int widths[] = {65500, 65535};
    for (int i = 0; i < 2; i++) {
        VipsImage *b = NULL;
        void *png = NULL;
        size_t plen = 0;
        vips_black(&b, widths[i], 2, "bands", 3, NULL);
        vips_pngsave_buffer(b, &png, &plen, NULL);
        eu_file f = {png, plen};
        pl_result r = {0};
        pl_error e;
        int rc = eu_run("convert?type=jpeg", &f, &r, &e);
        eu_img d = rc == 0 ? eu_decode(&r) : (eu_img){0};
        if (widths[i] == 65500)
            ok(rc == 0 && d.ok && d.width == 65500 && d.height == 2, "a 65500x2 image converts to JPEG (%d: %dx%d)", rc, d.width,
               d.height);
        else
            ok(rc != 0 && e.code == PL_E_TOO_MANY_PIXELS && strstr(e.message, "up to 65500 pixels per side"),
               "65535x2 to JPEG: image_too_large naming the 65500 limit (%d: %s)", rc, rc ? e.message : "");
        pl_result_clear(&r);
        g_free(png);
        g_object_unref(b);
    }
}

/* Stopped mid-encode (cancelled, or past the deadline, seen after the first strip): no output,
 * the right code, and the encoder's buffer freed once. The first strip of noise outgrows
 * libjpeg's first 4 KB buffer, which it frees and replaces without telling its caller until the
 * end: freeing the first one on the way out was a double free (glibc aborts on it). */
static void test_stopped(void)
{
    enum { W = 512, H = 512 };
    uint8_t *px = g_malloc((size_t)W * H * 3);
    guint32 seed = 7;
    for (size_t i = 0; i < (size_t)W * H * 3; i++)
        px[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    VipsImage *x = vips_image_new_from_memory(px, (size_t)W * H * 3, W, H, 3, VIPS_FORMAT_UCHAR);
    for (int k = 0; k < 2; k++) {
        pl_control ctl;
        pl_error err;
        pl_ctx c;
        pl_error_clear(&err);
        atomic_init(&ctl.cancelled, k == 0);
        ctl.deadline_us = k == 0 ? 0 : g_get_monotonic_time() - 1000;
        pl_engine_ctx_init(&c, NULL, NULL, NULL, &ctl, &err);
        void *buf = NULL;
        size_t len = 0;
        int rc = x != NULL ? pl_jpeg_write(&c, x, 90, false, &buf, &len) : 0;
        ok(rc == -2 && buf == NULL && len == 0 && err.code == (k == 0 ? PL_E_CANCELLED : PL_E_DEADLINE),
           "%s mid-encode: stopped, no output, %s (rc %d)", k == 0 ? "cancelled" : "past the deadline",
           pl_error_name(k == 0 ? PL_E_CANCELLED : PL_E_DEADLINE), rc);
        g_object_unref(c.base);
    }
    if (x != NULL)
        g_object_unref(x);
    g_free(px);
}

int main(void)
{
    if (eu_init())
        return 1;
    test_direct();
    test_engine();
    test_widest();
    test_stopped();
    return tap_done();
}
