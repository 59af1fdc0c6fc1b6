/*
 * test_engine_lossless: the lossless JPEG path (pl_jpeg_lossless.c, TurboJPEG tjTransform) for
 * /rotate (90, 180, 270), /flip and /flop. Every request runs twice, with the path and with
 * IMGPIPE_NO_LOSSLESS_JPEG=1 (the normal decode, rotate, re-encode), and:
 * - where the lossless path applies (MCU-aligned edges, YCbCr/grey, sRGB or no profile,
 *   orientation 1 or none, no other parameter): the outputs differ in bytes (the path was
 *   taken), the result fields agree, the decoded size is right, the pixels are within
 *   LL_MIN_PSNR dB of rotating the decoded original (and closer than the normal path's q75
 *   re-encode), and the transform is really lossless: rotate 90 four times, flip twice, flop
 *   twice give back the original's decoded pixels exactly;
 * - where it must not apply (edges not on the MCU grid, EXIF orientation, CMYK, a non-sRGB
 *   profile, quality, resize, another type, interlace, stripmeta over an EXIF copyright …):
 *   both runs give the same bytes (the normal path ran) and the output is right;
 * - metadata: EXIF and ICC kept by default, dropped with stripmeta; limits, deadline and cancel
 *   answer as the normal path does.
 * Single-threaded test code (setenv between runs).
 */
#include <math.h>
#include <stdlib.h>

#include "engine_util.h"

/* DCT-domain transforms move coefficients; decoding them differs from rotating the decoded
 * pixels only by the IDCT's and chroma upsampling's rounding order (a few levels at most). */
#define LL_MIN_PSNR 45.0

typedef struct ll_pair {
    int rl, rn; /* rc with the lossless path allowed / forced off */
    pl_result l, n;
    pl_error el, en;
} ll_pair;

static void ll_run(const char *spec, const uint8_t *d, size_t len, const char *accept, const pl_limits *lim, pl_control *ctl,
                   ll_pair *p)
{
    unsigned prev = pl_engine_set_switches(0);
    p->rl = eu_run_full(spec, d, len, accept, lim, ctl, &p->l, &p->el);
    pl_engine_set_switches(PL_NO_LOSSLESS_JPEG);
    p->rn = eu_run_full(spec, d, len, accept, lim, ctl, &p->n, &p->en);
    pl_engine_set_switches(prev);
}

static void ll_clear(ll_pair *p)
{
    pl_result_clear(&p->l);
    pl_result_clear(&p->n);
}

static bool ll_same_bytes(const pl_result *a, const pl_result *b)
{
    return a->len == b->len && a->len > 0 && memcmp(a->data, b->data, a->len) == 0;
}

static VipsImage *ll_decode(const void *d, size_t len)
{
    VipsImage *im = vips_image_new_from_buffer(d, len, "", "access", VIPS_ACCESS_RANDOM, NULL);
    if (im == NULL) {
        diag("does not decode: %s", vips_error_buffer());
        vips_error_clear();
    }
    return im;
}

/* The decoded original moved as the request says (vips_rot / vips_flip, as the normal path). */
static VipsImage *ll_reference(const uint8_t *d, size_t len, const char *op)
{
    VipsImage *in = ll_decode(d, len), *out = NULL;
    if (in == NULL)
        return NULL;
    int r = -1;
    if (strcmp(op, "rotate?rotate=90") == 0)
        r = vips_rot(in, &out, VIPS_ANGLE_D90, NULL);
    else if (strcmp(op, "rotate?rotate=180") == 0)
        r = vips_rot(in, &out, VIPS_ANGLE_D180, NULL);
    else if (strcmp(op, "rotate?rotate=270") == 0)
        r = vips_rot(in, &out, VIPS_ANGLE_D270, NULL);
    else if (strcmp(op, "flip") == 0)
        r = vips_flip(in, &out, VIPS_DIRECTION_HORIZONTAL, NULL); /* imaginary's flip: left-right */
    else if (strcmp(op, "flop") == 0)
        r = vips_flip(in, &out, VIPS_DIRECTION_VERTICAL, NULL);
    g_object_unref(in);
    if (r != 0) {
        vips_error_clear();
        return NULL;
    }
    return out;
}

/* PSNR in dB of two 8-bit images of the same shape (INFINITY when equal, -1 if shapes differ);
 * *maxd gets the largest difference. */
static double ll_psnr(VipsImage *a, VipsImage *b, double *maxd)
{
    *maxd = -1;
    if (a == NULL || b == NULL || a->Xsize != b->Xsize || a->Ysize != b->Ysize || a->Bands != b->Bands)
        return -1;
    VipsImage *t[3] = {0};
    double mse = -1;
    if (vips_subtract(a, b, &t[0], NULL) || vips_multiply(t[0], t[0], &t[1], NULL) || vips_avg(t[1], &mse, NULL) ||
        vips_abs(t[0], &t[2], NULL) || vips_max(t[2], maxd, NULL))
        mse = -1;
    for (int i = 0; i < 3; i++)
        VIPS_UNREF(t[i]);
    vips_error_clear();
    if (mse < 0)
        return -1;
    return mse == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 / mse);
}

/* The lossless path ran: outputs differ, fields agree, size and pixels right. */
static void check_lossless(const char *name, const eu_file *f, const char *op, int w, int h)
{
    ll_pair p;
    ll_run(op, f->data, f->len, NULL, NULL, NULL, &p);
    bool fields = p.rl == 0 && p.rn == 0 && p.l.format == PL_FMT_JPEG && p.l.format == p.n.format && p.l.mime != NULL &&
                  strcmp(p.l.mime, p.n.mime) == 0 && p.l.width == p.n.width && p.l.height == p.n.height &&
                  p.l.in_format == p.n.in_format && p.l.in_width == p.n.in_width && p.l.in_height == p.n.in_height &&
                  p.l.vary_accept == p.n.vary_accept;
    ok(fields && !ll_same_bytes(&p.l, &p.n), "%s %s: lossless path taken, result fields as the normal path's (%dx%d, %zu vs %zu B)",
       name, op, p.l.width, p.l.height, p.l.len, p.n.len);
    eu_img d = eu_decode(&p.l);
    eu_img dn = eu_decode(&p.n);
    ok(d.ok && d.width == w && d.height == h && p.l.width == w && p.l.height == h && d.bands == dn.bands,
       "%s %s: decodes to %dx%d, %d band(s)", name, op, w, h, dn.bands);
    VipsImage *ref = ll_reference(f->data, f->len, op);
    VipsImage *il = p.rl == 0 ? ll_decode(p.l.data, p.l.len) : NULL;
    VipsImage *in = p.rn == 0 ? ll_decode(p.n.data, p.n.len) : NULL;
    double ml, mn;
    double pl = ll_psnr(il, ref, &ml), pn = ll_psnr(in, ref, &mn);
    ok(pl >= LL_MIN_PSNR && pl > pn, "%s %s: %.1f dB (max diff %.0f) from the rotated original, normal path %.1f dB", name, op, pl,
       ml, pn);
    VIPS_UNREF(ref);
    VIPS_UNREF(il);
    VIPS_UNREF(in);
    ll_clear(&p);
}

/* The normal path ran (same bytes as with the switch off) and gave w x h in fmt. */
static void check_normal(const char *name, const uint8_t *d, size_t len, const char *op, int w, int h, pl_format fmt)
{
    ll_pair p;
    ll_run(op, d, len, NULL, NULL, NULL, &p);
    eu_img di = eu_decode(&p.l);
    ok(p.rl == 0 && p.rn == 0 && ll_same_bytes(&p.l, &p.n) && p.l.format == fmt && di.width == w && di.height == h,
       "%s %s: normal path (same bytes), %dx%d %s", name, op, w, h, pl_format_name(fmt));
    if (p.rl == 0 && !(di.width == w && di.height == h))
        diag("  got %dx%d", di.width, di.height);
    ll_clear(&p);
}

/* Apply op n times through pl_run; the decoded result must equal the decoded original exactly. */
static void check_round_trip(const char *name, const eu_file *f, const char *op, int n)
{
    uint8_t *cur = f->data;
    size_t len = f->len;
    pl_result r = {0};
    bool ran = true;
    for (int i = 0; i < n && ran; i++) {
        pl_result next;
        pl_error e;
        ran = eu_run_full(op, cur, len, NULL, NULL, NULL, &next, &e) == 0;
        pl_result_clear(&r);
        r = next;
        cur = r.data;
        len = r.len;
    }
    VipsImage *a = ran ? ll_decode(r.data, r.len) : NULL, *b = ll_decode(f->data, f->len);
    double m;
    double ps = ll_psnr(a, b, &m);
    ok(ran && isinf(ps) && m == 0, "%s: %s %d times gives the original's pixels exactly (%.1f dB)", name, op, n, ps);
    VIPS_UNREF(a);
    VIPS_UNREF(b);
    pl_result_clear(&r);
}

/* A JPEG made from a fixture with changed metadata / crop: orientation (0 = keep), ICC from
 * another file (NULL = keep), crop to w x h (0 = keep). */
static eu_file make_variant(const char *rel, int orientation, const char *icc_from, int w, int h, int q)
{
    eu_file out = {0}, src = eu_read(rel);
    VipsImage *im = ll_decode(src.data, src.len), *t[2] = {0};
    if (im == NULL)
        goto done;
    if (vips_extract_area(im, &t[0], 0, 0, w > 0 ? w : im->Xsize, h > 0 ? h : im->Ysize, NULL) || vips_copy(t[0], &t[1], NULL))
        goto done;
    if (orientation > 0)
        vips_image_set_int(t[1], VIPS_META_ORIENTATION, orientation);
    if (icc_from != NULL) {
        eu_file g = eu_read(icc_from);
        VipsImage *gi = ll_decode(g.data, g.len);
        const void *blob;
        size_t bl;
        if (gi != NULL && vips_image_get_blob(gi, VIPS_META_ICC_NAME, &blob, &bl) == 0)
            vips_image_set_blob_copy(t[1], VIPS_META_ICC_NAME, blob, bl);
        VIPS_UNREF(gi);
        eu_free(&g);
    }
    void *buf = NULL;
    size_t len = 0;
    if (vips_jpegsave_buffer(t[1], &buf, &len, "Q", q, NULL) == 0) {
        out.data = buf;
        out.len = len;
    }
done:
    vips_error_clear();
    VIPS_UNREF(t[0]);
    VIPS_UNREF(t[1]);
    VIPS_UNREF(im);
    eu_free(&src);
    return out;
}

/* The fixture with an APP2 segment "<id>\0" + 8 bytes inserted after SOI. */
static eu_file make_app2(const char *rel, const char *id)
{
    eu_file src = eu_read(rel), out = {0};
    if (src.len < 2)
        return out;
    uint8_t seg[16] = {0xFF, 0xE2, 0x00, 14};
    memcpy(seg + 4, id, 3);
    out.len = src.len + sizeof(seg);
    out.data = g_malloc(out.len);
    memcpy(out.data, src.data, 2);
    memcpy(out.data + 2, seg, sizeof(seg));
    memcpy(out.data + 2 + sizeof(seg), src.data + 2, src.len - 2);
    eu_free(&src);
    return out;
}

static const char *const ll_ops[] = {"rotate?rotate=90", "rotate?rotate=180", "rotate?rotate=270", "flip", "flop"};

static void test_lossless_fixtures(void)
{
    struct {
        const char *name, *rel;
        int w, h;
    } fx[] = {{"baseline 4:2:0 sRGB+EXIF", "edge/aligned-srgb-exif-272x368.jpg", 272, 368},
              {"progressive 4:2:0", "edge/progressive-GreenMeadow.jpg", 1280, 1024},
              {"grey + Gray ICC", "edge/grey-copyright-400x256.jpg", 400, 256}};
    for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
        eu_file f = eu_read(fx[i].rel);
        for (size_t k = 0; k < sizeof(ll_ops) / sizeof(ll_ops[0]); k++) {
            bool swap = k == 0 || k == 2;
            check_lossless(fx[i].name, &f, ll_ops[k], swap ? fx[i].h : fx[i].w, swap ? fx[i].w : fx[i].h);
        }
        eu_free(&f);
    }
    /* 4:4:4 (8x8 MCU) at a size that is not a multiple of 16 */
    eu_file s = eu_synth(264, 136, ".jpg[Q=95]");
    check_lossless("synthetic 4:4:4 264x136", &s, "rotate?rotate=90", 136, 264);
    check_lossless("synthetic 4:4:4 264x136", &s, "flop", 264, 136);
    eu_free(&s);
    /* flip needs only the width on the grid: 1600x1203 4:2:0 flips losslessly, flops normally */
    eu_file fl = eu_read("photos/FreshFlower-1600x1203.jpg");
    check_lossless("1600x1203", &fl, "flip", 1600, 1203);
    check_normal("1600x1203 (height off the 16 px grid)", fl.data, fl.len, "flop", 1600, 1203, PL_FMT_JPEG);
    check_normal("1600x1203 (height off the 16 px grid)", fl.data, fl.len, "rotate?rotate=90", 1203, 1600, PL_FMT_JPEG);
    check_normal("1600x1203 (height off the 16 px grid)", fl.data, fl.len, "rotate?rotate=180", 1600, 1203, PL_FMT_JPEG);
    eu_free(&fl);
}

static void test_exact(void)
{
    eu_file f = eu_read("edge/aligned-srgb-exif-272x368.jpg");
    check_round_trip("baseline", &f, "rotate?rotate=90", 4);
    check_round_trip("baseline", &f, "rotate?rotate=180", 2);
    check_round_trip("baseline", &f, "flip", 2);
    check_round_trip("baseline", &f, "flop", 2);
    eu_free(&f);
    f = eu_read("edge/progressive-GreenMeadow.jpg");
    check_round_trip("progressive", &f, "rotate?rotate=270", 4);
    eu_free(&f);
    f = eu_read("edge/grey-copyright-400x256.jpg");
    check_round_trip("grey", &f, "rotate?rotate=90", 4);
    eu_free(&f);
}

static void test_normal_path(void)
{
    eu_file f = eu_read("edge/aligned-srgb-exif-272x368.jpg");
    static const struct {
        const char *spec;
        int w, h;
        pl_format fmt;
    } specs[] = {
        {"rotate?rotate=90&quality=90", 368, 272, PL_FMT_JPEG},
        {"rotate?rotate=90&width=100", 100, 74, PL_FMT_JPEG},
        {"rotate?rotate=90&type=png", 368, 272, PL_FMT_PNG},
        {"rotate?rotate=90&type=webp", 368, 272, PL_FMT_WEBP},
        {"rotate?rotate=90&interlace=true", 368, 272, PL_FMT_JPEG},
        {"rotate?rotate=90&noprofile=true", 368, 272, PL_FMT_JPEG},
        {"rotate?rotate=90&flip=true", 368, 272, PL_FMT_JPEG},
        {"rotate?rotate=90&sigma=1", 368, 272, PL_FMT_JPEG},
        {"rotate?rotate=45", 272, 368, PL_FMT_JPEG}, /* floors to 0: imaginary re-encodes */
        {"flip?rotate=90", 368, 272, PL_FMT_JPEG},
        {"flop?background=255,0,0", 272, 368, PL_FMT_JPEG},
        {"transform?rotate=90&strip=false", 368, 272, PL_FMT_JPEG},
        {"pipeline?operations=%5B%7B%22operation%22%3A%22rotate%22%2C%22params%22%3A%7B%22rotate%22%3A90%7D%7D%5D", 368, 272,
         PL_FMT_JPEG},
    };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        check_normal("baseline", f.data, f.len, specs[i].spec, specs[i].w, specs[i].h, specs[i].fmt);
    eu_free(&f);

    /* the same re-save with nothing changed takes the lossless path: what changes below decides */
    eu_file same = make_variant("edge/aligned-srgb-exif-272x368.jpg", 0, NULL, 0, 0, 90);
    check_lossless("re-saved, orientation 1", &same, "rotate?rotate=90", 368, 272);
    eu_free(&same);
    /* EXIF orientation 6 on an aligned JPEG: the engine's rule (rotate given: orientation
     * ignored and cleared) is the normal path's */
    eu_file o6 = make_variant("edge/aligned-srgb-exif-272x368.jpg", 6, NULL, 0, 0, 90);
    check_normal("orientation 6", o6.data, o6.len, "rotate?rotate=90", 368, 272, PL_FMT_JPEG);
    check_normal("orientation 6", o6.data, o6.len, "flip", 368, 272, PL_FMT_JPEG); /* auto-oriented first */
    pl_result r;
    pl_error e;
    eu_run_full("rotate?rotate=90", o6.data, o6.len, NULL, NULL, NULL, &r, &e);
    int orient = eu_decode(&r).orientation;
    ok(orient <= 1, "orientation 6 + rotate: the output carries no orientation to apply again (%d)", orient);
    pl_result_clear(&r);
    eu_free(&o6);
    /* an Adobe RGB profile: the normal path converts to sRGB */
    eu_file a98 = make_variant("edge/aligned-srgb-exif-272x368.jpg", 0, "edge/adobergb-a98-profile.jpg", 0, 0, 90);
    check_normal("Adobe RGB profile", a98.data, a98.len, "rotate?rotate=90", 368, 272, PL_FMT_JPEG);
    eu_free(&a98);
    /* a multi-picture (MPF) marker: normal path; any other APP2 is copied along */
    eu_file mpf = make_app2("edge/aligned-srgb-exif-272x368.jpg", "MPF");
    check_normal("APP2 MPF", mpf.data, mpf.len, "rotate?rotate=90", 368, 272, PL_FMT_JPEG);
    eu_free(&mpf);
    eu_file xyz = make_app2("edge/aligned-srgb-exif-272x368.jpg", "XYZ");
    check_lossless("APP2 XYZ", &xyz, "rotate?rotate=90", 368, 272);
    eu_free(&xyz);
    /* CMYK on the 8 px grid */
    eu_file cmyk = make_variant("edge/cmyk-no-profile.jpg", 0, NULL, 496, 328, 90);
    check_normal("CMYK 496x328", cmyk.data, cmyk.len, "rotate?rotate=90", 328, 496, PL_FMT_JPEG);
    check_normal("CMYK 496x328", cmyk.data, cmyk.len, "flip", 496, 328, PL_FMT_JPEG);
    eu_free(&cmyk);
}

static void test_type_auto(void)
{
    eu_file f = eu_read("edge/aligned-srgb-exif-272x368.jpg");
    ll_pair p;
    ll_run("rotate?rotate=90&type=auto", f.data, f.len, "image/jpeg,*/*", NULL, NULL, &p);
    ok(p.rl == 0 && p.l.format == PL_FMT_JPEG && p.l.vary_accept && p.n.vary_accept && !ll_same_bytes(&p.l, &p.n),
       "type=auto resolving to JPEG: lossless, Vary: Accept kept");
    ll_clear(&p);
    ll_run("rotate?rotate=90&type=auto", f.data, f.len, "image/webp,*/*", NULL, NULL, &p);
    ok(p.rl == 0 && p.l.format == PL_FMT_WEBP && ll_same_bytes(&p.l, &p.n), "type=auto resolving to WebP: normal path");
    ll_clear(&p);
    ll_run("flop?type=jpeg", f.data, f.len, NULL, NULL, NULL, &p);
    ok(p.rl == 0 && p.l.format == PL_FMT_JPEG && !ll_same_bytes(&p.l, &p.n), "type=jpeg: lossless");
    ll_clear(&p);
    eu_free(&f);
}

static bool ll_has(const pl_result *r, const char *field)
{
    VipsImage *im = ll_decode(r->data, r->len);
    bool has = im != NULL && vips_image_get_typeof(im, field) != 0;
    VIPS_UNREF(im);
    return has;
}

static void test_metadata(void)
{
    eu_file f = eu_read("edge/aligned-srgb-exif-272x368.jpg");
    ll_pair p;
    ll_run("rotate?rotate=90", f.data, f.len, NULL, NULL, NULL, &p);
    ok(ll_has(&p.l, VIPS_META_EXIF_NAME) && ll_has(&p.l, VIPS_META_ICC_NAME) && ll_has(&p.n, VIPS_META_EXIF_NAME) &&
           ll_has(&p.n, VIPS_META_ICC_NAME),
       "default: EXIF and ICC kept, as the normal path");
    VipsImage *im = ll_decode(p.l.data, p.l.len);
    int px = 0, py = 0;
    if (im != NULL) {
        const char *s = NULL; /* libvips gives "368 (368, Long, 1 components, 4 bytes)" */
        if (vips_image_get_string(im, "exif-ifd2-PixelXDimension", &s) == 0)
            px = atoi(s);
        if (vips_image_get_string(im, "exif-ifd2-PixelYDimension", &s) == 0)
            py = atoi(s);
    }
    vips_error_clear();
    ok(px == 368 && py == 272, "EXIF pixel dimensions follow the rotation (%dx%d)", px, py);
    VIPS_UNREF(im);
    ll_clear(&p);
    ll_run("rotate?rotate=90&stripmeta=true", f.data, f.len, NULL, NULL, NULL, &p);
    ok(p.rl == 0 && !ll_same_bytes(&p.l, &p.n) && !ll_has(&p.l, VIPS_META_EXIF_NAME) && !ll_has(&p.l, VIPS_META_ICC_NAME) &&
           !ll_has(&p.n, VIPS_META_EXIF_NAME) && !ll_has(&p.n, VIPS_META_ICC_NAME),
       "stripmeta: lossless, EXIF and ICC dropped, as the normal path");
    ll_clear(&p);
    eu_free(&f);

    /* an EXIF copyright: kept by default (markers copied); with stripmeta only the normal path
     * can keep it alone, so it runs */
    f = eu_read("edge/grey-copyright-400x256.jpg");
    ll_run("flip", f.data, f.len, NULL, NULL, NULL, &p);
    ok(p.rl == 0 && !ll_same_bytes(&p.l, &p.n) && ll_has(&p.l, "exif-ifd0-Copyright"), "copyright, default: lossless, kept");
    ll_clear(&p);
    ll_run("flip?stripmeta=true", f.data, f.len, NULL, NULL, NULL, &p);
    ok(p.rl == 0 && ll_same_bytes(&p.l, &p.n) && ll_has(&p.l, "exif-ifd0-Copyright") && !ll_has(&p.l, VIPS_META_ICC_NAME),
       "copyright + stripmeta: normal path, copyright kept, the rest stripped");
    ll_clear(&p);
    eu_free(&f);
}

static void test_limits_and_damage(void)
{
    eu_file f = eu_read("edge/aligned-srgb-exif-272x368.jpg");
    pl_limits lim;
    pl_limits_default(&lim);
    lim.max_output_pixels = 272 * 368 - 1;
    ll_pair p;
    ll_run("rotate?rotate=90", f.data, f.len, NULL, &lim, NULL, &p);
    ok(p.rl == -1 && p.el.code == PL_E_TOO_MANY_PIXELS && p.en.code == PL_E_TOO_MANY_PIXELS && p.l.data == NULL,
       "max_output_pixels: refused as the normal path refuses");
    ll_clear(&p);
    pl_limits_default(&lim);
    lim.max_input_pixels = 1000;
    ll_run("flip", f.data, f.len, NULL, &lim, NULL, &p);
    ok(p.rl == -1 && p.el.code == PL_E_TOO_MANY_PIXELS, "max_input_pixels: the header check runs first");
    ll_clear(&p);
    pl_control ctl = {.deadline_us = g_get_monotonic_time() - 1};
    atomic_init(&ctl.cancelled, 0);
    ll_run("rotate?rotate=180", f.data, f.len, NULL, NULL, &ctl, &p);
    ok(p.rl == -1 && p.el.code == PL_E_DEADLINE && p.l.data == NULL, "deadline passed: deadline_exceeded");
    ll_clear(&p);
    ctl.deadline_us = 0;
    atomic_store(&ctl.cancelled, 1);
    ll_run("flop", f.data, f.len, NULL, NULL, &ctl, &p);
    ok(p.rl == -1 && p.el.code == PL_E_CANCELLED && p.l.data == NULL, "cancelled: cancelled");
    ll_clear(&p);
    /* truncated pixel data: TurboJPEG's warning stops the transform, the normal path decides */
    static const double cut[] = {0.5, 0.9};
    for (int i = 0; i < 2; i++) {
        size_t n = (size_t)(f.len * cut[i]);
        ll_run("rotate?rotate=90", f.data, n, NULL, NULL, NULL, &p);
        ok(p.rl == p.rn && (p.rl != 0 || ll_same_bytes(&p.l, &p.n)) && (p.rl == 0 || p.el.code == p.en.code),
           "truncated to %.0f%%: answered as the normal path (%s)", cut[i] * 100, p.rl == 0 ? "ok" : pl_error_name(p.el.code));
        ll_clear(&p);
    }
    eu_free(&f);
    f = eu_read("edge/progressive-GreenMeadow.jpg");
    ll_run("flop", f.data, f.len * 6 / 10, NULL, NULL, NULL, &p);
    ok(p.rl == p.rn && (p.rl != 0 || ll_same_bytes(&p.l, &p.n)) && (p.rl == 0 || p.el.code == p.en.code),
       "progressive truncated to 60%%: answered as the normal path (%s)", p.rl == 0 ? "ok" : pl_error_name(p.el.code));
    ll_clear(&p);
    eu_free(&f);
}

int main(void)
{
    /* the environment switch is read once, by pl_engine_init; the runs below flip the switch with
     * pl_engine_set_switches */
    setenv("IMGPIPE_NO_LOSSLESS_JPEG", "1", 1);
    if (eu_init() != 0)
        return 1;
    unsetenv("IMGPIPE_NO_LOSSLESS_JPEG");
    ok((pl_engine_set_switches(0) & PL_NO_LOSSLESS_JPEG) != 0,
       "IMGPIPE_NO_LOSSLESS_JPEG=1 at start: switched off by pl_engine_init");
    test_lossless_fixtures();
    test_exact();
    test_normal_path();
    test_type_auto();
    test_metadata();
    test_limits_and_damage();
    return tap_done();
}
