/*
 * test_engine_icc: embedded RGB profiles converted by pl_icc.c's cached lcms2 transforms give
 * libvips' icc_transform pixels exactly, and its sRGB profile when the profile is kept.
 *
 * Both paths run with the reduce switched off (vips_resize on both sides reads memory and lazy
 * images alike), so that only the conversion differs: IMGPIPE_NO_FAST_ICC=1 is libvips' path;
 * images with alpha are not resized (the premultiply differs between memory and lazy images).
 * Inputs: a photo tagged Display P3 (the fixture's profile) as JPEG (TurboJPEG decode), as PNG
 * (the PNG decoder, in place) and as PNG with an alpha ramp (alpha passed through); 12 profiles
 * made with lcms2 (more than the cache holds, each used twice, evictions while in use); the same
 * from four threads at once; a 72 KB profile (over the cache's size limit: a transform of its
 * own, twice); a profile that lcms cannot read (libvips' path decides: the image
 * decodes as if untagged, both alike); a 16-bit PNG (left to libvips). Those comparisons convert
 * at load (PL_NO_LATE_ICC). The conversion after the resize (pl_geometry.c) is held against the
 * one at load: taken on a plain resize, fit, cover crop with right-angle turns and an iPhone HEIC
 * (within 40-42 dB); not taken (the same bytes) when the step blurs, turns grey, pads onto a
 * colour, crops by content, or the image has alpha.
 */
#include <lcms2.h>
#include <math.h>
#include <pthread.h>

#include "engine_util.h"
#include "pl_internal.h"

/* kodim23 (crop w x h, alpha ramp or not) tagged with profile, encoded as suffix (".jpg", ".png") */
static eu_file tagged(const void *profile, size_t plen, bool alpha, const char *suffix, bool deep)
{
    eu_file f = {0}, src = eu_read("photos/kodim23-parrots.png");
    VipsImage *im = src.data != NULL ? vips_image_new_from_buffer(src.data, src.len, "", NULL) : NULL, *crop = NULL, *x = NULL,
              *y = NULL, *a = NULL, *rgba = NULL, *d = NULL, *out = NULL;
    if (im == NULL || vips_crop(im, &crop, 100, 50, 400, 300, NULL))
        goto done;
    out = crop;
    if (alpha) {
        if (vips_xyz(&x, 400, 300, NULL) || vips_extract_band(x, &y, 0, NULL) ||
            vips_linear1(y, &a, 255.0 / 400, 0, "uchar", TRUE, NULL) || vips_bandjoin2(crop, a, &rgba, NULL))
            goto done;
        out = rgba;
    }
    if (deep) {
        if (vips_cast(out, &d, VIPS_FORMAT_USHORT, NULL))
            goto done;
        d->Type = VIPS_INTERPRETATION_RGB16;
        out = d;
    }
    VipsImage *t = NULL;
    if (vips_copy(out, &t, NULL) == 0) {
        vips_image_set_blob_copy(t, VIPS_META_ICC_NAME, profile, plen);
        void *buf = NULL;
        size_t len = 0;
        if (vips_image_write_to_buffer(t, suffix, &buf, &len, "Q", 95, NULL) == 0)
            f.data = buf, f.len = len;
        g_object_unref(t);
    }
done:
    VIPS_UNREF(d);
    VIPS_UNREF(rgba);
    VIPS_UNREF(a);
    VIPS_UNREF(y);
    VIPS_UNREF(x);
    VIPS_UNREF(crop);
    VIPS_UNREF(im);
    eu_free(&src);
    vips_error_clear();
    return f;
}

/* a made RGB profile: sRGB primaries stretched by k, gamma g; table: the three curves as tables of
 * 12000 entries each (a profile of about 72 KB, over what the cache keeps) */
static void *made_profile(double k, double g, bool table, size_t *len)
{
    cmsCIExyY white = {0.3127, 0.3290, 1.0};
    cmsCIExyYTRIPLE prim = {{0.64 + k, 0.33, 1}, {0.30, 0.60 + k, 1}, {0.15, 0.06 - k / 2, 1}};
    enum { N = 12000 };
    static cmsUInt16Number values[3][N];
    cmsToneCurve *curves[3];
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < N; i++)
            values[c][i] = (cmsUInt16Number)lrint(65535.0 * pow((double)i / (N - 1), g + 0.01 * c));
        curves[c] = table ? cmsBuildTabulatedToneCurve16(NULL, N, values[c]) : cmsBuildGamma(NULL, g);
    }
    cmsHPROFILE p = cmsCreateRGBProfile(&white, &prim, curves);
    cmsUInt32Number n = 0;
    void *buf = NULL;
    if (p != NULL && cmsSaveProfileToMem(p, NULL, &n) && n > 0) {
        buf = g_malloc(n);
        if (!cmsSaveProfileToMem(p, buf, &n)) {
            g_free(buf);
            buf = NULL;
        }
    }
    if (p != NULL)
        cmsCloseProfile(p);
    for (int c = 0; c < 3; c++)
        cmsFreeToneCurve(curves[c]);
    *len = n;
    return buf;
}

/* The fast path and libvips' path on one input: same bytes (0 = yes, else the max difference) */
static double compare(const eu_file *f, const char *spec, pl_result *fast_out, bool *fast_taken)
{
    pl_result a, b;
    pl_error ea, eb;
    uint64_t n0 = pl_icc_conversions();
    int ra = eu_run_switched_off(PL_NO_TRANSPOSED_REDUCE | PL_NO_LATE_ICC, spec, f, &a, &ea);
    uint64_t n1 = pl_icc_conversions();
    int rb = eu_run_switched_off(PL_NO_TRANSPOSED_REDUCE | PL_NO_FAST_ICC | PL_NO_LATE_ICC, spec, f, &b, &eb);
    if (fast_taken != NULL)
        *fast_taken = n1 > n0; /* other threads may convert meanwhile: only "not taken" is exact */
    double m = ra == 0 && rb == 0 ? eu_maxdiff(&a, &b) : (ra == rb && ea.code == eb.code ? 0 : -1);
    if (ra == 0 && fast_out != NULL)
        *fast_out = a;
    else if (ra == 0)
        pl_result_clear(&a);
    if (rb == 0)
        pl_result_clear(&b);
    return m;
}

/* taken: whether the fast path must convert this one (1), must not (0) */
static void check_same(const eu_file *f, const char *what, const char *spec, int taken)
{
    bool t = false;
    double m = f->data != NULL ? compare(f, spec, NULL, &t) : -1;
    ok(m == 0 && t == (taken == 1), "%s %s: libvips' icc_transform pixels (max diff %g), %s", what, spec, m,
       t ? "converted by pl_icc" : "left to libvips");
}

typedef struct job {
    eu_file f;
    int bad;
} job;

static void *thread_main(void *arg)
{
    job *j = arg;
    for (int i = 0; i < 4; i++)
        j->bad += compare(&j->f, "transform?type=png", NULL, NULL) != 0;
    return NULL;
}

/* The conversion after the resize (pl_geometry_colours_late) against the conversion at load
 * (PL_NO_LATE_ICC): taken (late), the same size, other pixels within min dB, at most one
 * conversion by pl_icc either way (a lazy image after a rotation goes to libvips' transform);
 * or not taken: the same bytes. */
static void check_late(const eu_file *f, const char *what, const char *spec, int late, double min)
{
    pl_result a, b;
    pl_error ea, eb;
    uint64_t n0 = pl_icc_conversions();
    int ra = f->data != NULL ? eu_run(spec, f, &a, &ea) : -1;
    uint64_t n1 = pl_icc_conversions();
    int rb = f->data != NULL ? eu_run_switched_off(PL_NO_LATE_ICC, spec, f, &b, &eb) : -1;
    uint64_t n2 = pl_icc_conversions();
    bool same = ra == 0 && rb == 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
    double db = ra == 0 && rb == 0 ? eu_psnr(a.data, a.len, b.data, b.len) : -1;
    if (late)
        ok(ra == 0 && rb == 0 && a.width == b.width && a.height == b.height && !same && db > min && n1 - n0 <= 1 && n2 - n1 <= 1,
           "%s %s: converted after the resize, %dx%d, %.1f dB from the conversion at load (> %.0f)", what, spec, a.width, a.height,
           db, min);
    else
        ok(same, "%s %s: converted first (the step reads the colours): the bytes of the conversion at load", what, spec);
    if (ra != 0 || rb != 0)
        diag("  %s / %s", ra ? ea.message : "ok", rb ? eb.message : "ok");
    else if (late)
        diag("  conversions %llu then %llu, %dx%d against %dx%d", (unsigned long long)(n1 - n0), (unsigned long long)(n2 - n1),
             a.width, a.height, b.width, b.height);
    if (ra == 0)
        pl_result_clear(&a);
    if (rb == 0)
        pl_result_clear(&b);
}

int main(void)
{
    if (eu_init())
        return 1;
    eu_file p3png = eu_read("edge/displayp3-profile.png");
    VipsImage *pi = p3png.data != NULL ? vips_image_new_from_buffer(p3png.data, p3png.len, "", NULL) : NULL;
    const void *p3 = NULL;
    size_t p3len = 0;
    if (pi == NULL || vips_image_get_blob(pi, VIPS_META_ICC_NAME, &p3, &p3len))
        diag("no Display P3 profile in the fixture");
    eu_file jpg = tagged(p3, p3len, false, ".jpg", false), png = tagged(p3, p3len, false, ".png", false),
            pnga = tagged(p3, p3len, true, ".png", false), png16 = tagged(p3, p3len, false, ".png", true);
    check_same(&jpg, "P3 JPEG", "resize?width=300&type=png", 1);
    check_same(&jpg, "P3 JPEG", "fit?width=200&height=200&type=jpeg", 1);
    check_same(&png, "P3 PNG", "transform?w=250&type=png", 1);
    /* with alpha and no resize: the conversion alone (a resize premultiplies the decoder's memory
     * image with integers and libvips' lazy one in float: apart where alpha is near 0) */
    check_same(&pnga, "P3 PNG with alpha", "transform?type=png", 1);
    check_same(&png16, "P3 16-bit PNG", "transform?w=250&type=png", 0);
    /* after the resize, at the output's size, when nothing in the step reads the colours */
    check_late(&png, "P3 PNG", "resize?width=120&type=png", 1, 42);
    check_late(&jpg, "P3 JPEG", "fit?width=90&height=90&type=jpeg", 1, 40);
    check_late(&png, "P3 PNG", "transform?w=120&h=120&fit=cover&rotate=90&flip=true&type=png", 1, 42);
    check_late(&png, "P3 PNG", "transform?w=120&sigma=2&type=png", 0, 0);
    check_late(&png, "P3 PNG", "transform?w=120&grayscale=true&type=png", 0, 0);
    check_late(&png, "P3 PNG", "resize?width=120&height=120&embed=true&background=255,0,0&type=png", 0, 0);
    check_late(&png, "P3 PNG", "smartcrop?width=100&height=100&type=png", 0, 0);
    check_late(&pnga, "P3 PNG with alpha", "resize?width=120&type=jpeg", 0, 0);
    eu_file heic = eu_read("edge/iphone-displayp3.heic");
    check_late(&heic, "iPhone HEIC (Display P3, libvips' loader)", "fit?width=300&height=300&type=jpeg", 1, 40);
    eu_free(&heic);
    /* kept metadata: libvips' sRGB profile in place of P3, on both paths */
    pl_result r;
    double m = compare(&jpg, "transform?w=300&type=jpeg&strip=false", &r, NULL);
    VipsImage *o = m == 0 ? vips_image_new_from_buffer(r.data, r.len, "", NULL) : NULL;
    VipsBlob *srgb = NULL;
    const void *got = NULL, *want = NULL;
    size_t glen = 0, wlen = 0;
    if (o != NULL && vips_image_get_blob(o, VIPS_META_ICC_NAME, &got, &glen) == 0 && vips_profile_load("srgb", &srgb, NULL) == 0)
        want = vips_blob_get(srgb, &wlen);
    ok(m == 0 && got != NULL && want != NULL && glen == wlen && memcmp(got, want, glen) == 0,
       "strip=false: the output carries libvips' sRGB profile (%zu bytes, want %zu)", glen, wlen);
    if (srgb != NULL)
        vips_area_unref(VIPS_AREA(srgb));
    VIPS_UNREF(o);
    if (m == 0)
        pl_result_clear(&r);

    /* 12 profiles, twice each: more than the cache holds */
    int bad = 0, not_taken = 0;
    bool taken = false;
    job jobs[4] = {{{0}}};
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 12; i++) {
            size_t len = 0;
            void *prof = made_profile(0.01 * i, 1.8 + 0.05 * i, false, &len);
            eu_file f = prof != NULL ? tagged(prof, len, i % 3 == 0, ".png", false) : (eu_file){0};
            bad += f.data == NULL || compare(&f, i % 3 == 0 ? "transform?type=png" : "transform?w=200&type=png", NULL, &taken) != 0;
            not_taken += !taken;
            if (round == 1 && i < 4)
                jobs[i].f = f;
            else
                g_free(f.data);
            g_free(prof);
        }
    ok(bad == 0 && not_taken == 0,
       "12 made profiles, twice each (the cache holds 8): libvips' pixels every time (%d differ, %d not converted by pl_icc)", bad,
       not_taken);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_main, &jobs[i]);
    bad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad + (jobs[i].f.data == NULL);
        g_free(jobs[i].f.data);
    }
    ok(bad == 0, "4 threads, 4 profiles, 4 runs each: libvips' pixels every time (%d differ)", bad);

    /* a profile over the cache's size limit: converted alike, twice, with a transform of its own */
    size_t blen = 0;
    void *big = made_profile(0.02, 2.1, true, &blen);
    eu_file bigf = big != NULL ? tagged(big, blen, false, ".jpg", false) : (eu_file){0};
    diag("large profile: %zu bytes", blen);
    check_same(&bigf, "a 72 KB profile", "transform?w=250&type=png", blen > 64 * 1024);
    check_same(&bigf, "a 72 KB profile, again", "transform?w=250&type=png", blen > 64 * 1024);
    g_free(bigf.data);
    g_free(big);

    /* a profile lcms cannot read: 600 bytes of a header that lies */
    uint8_t junk[600];
    memset(junk, 0x5a, sizeof junk);
    junk[0] = 0, junk[1] = 0, junk[2] = 0x02, junk[3] = 0x58; /* size 600 */
    memcpy(junk + 12, "mntrRGB XYZ ", 12);
    memcpy(junk + 36, "acsp", 4);
    eu_file bad_icc = tagged(junk, sizeof junk, false, ".png", false);
    check_same(&bad_icc, "unreadable profile", "transform?w=250&type=png", 0);

    g_free(jpg.data);
    g_free(png.data);
    g_free(pnga.data);
    g_free(png16.data);
    g_free(bad_icc.data);
    VIPS_UNREF(pi);
    eu_free(&p3png);
    return tap_done();
}
