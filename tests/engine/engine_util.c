/*
 * engine_util: the engine tests' helpers (engine_util.h) over pl_run and libvips.
 */
#include "engine_util.h"

#include <libdeflate.h>
#include <math.h>

int eu_init(void)
{
    pl_error err;
    if (pl_engine_init(&(pl_engine_config){.vips_concurrency = 1}, &err) != 0) {
        printf("Bail out! %s\n", err.message);
        return -1;
    }
    return 0;
}

eu_file eu_read(const char *rel)
{
    eu_file f = {0};
    gchar *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(tap_fixture(rel), &data, &len, NULL)) {
        diag("cannot read fixture %s", rel);
        return f;
    }
    f.data = (uint8_t *)data;
    f.len = len;
    return f;
}

void eu_free(eu_file *f)
{
    g_free(f->data);
    f->data = NULL;
    f->len = 0;
}

int eu_run_full(const char *spec, const uint8_t *data, size_t len, const char *accept, const pl_limits *lim, pl_control *ctl,
                pl_result *res, pl_error *err)
{
    pl_plan plan;
    if (pl_plan_parse_string(spec, &plan, err) != 0) {
        diag("plan \"%s\" does not parse: %s", spec, err->message);
        memset(res, 0, sizeof(*res));
        return -2;
    }
    pl_input in = {.data = data, .len = len, .accept = accept};
    pl_limits dflt;
    if (lim == NULL) {
        pl_limits_default(&dflt);
        lim = &dflt;
    }
    int r = pl_run(&plan, &in, lim, ctl, res, err);
    if (r != 0)
        diag("%s: %s (%s)", spec, err->message, err->detail);
    return r;
}

int eu_run(const char *spec, const eu_file *f, pl_result *res, pl_error *err)
{
    return eu_run_full(spec, f->data, f->len, NULL, NULL, NULL, res, err);
}

int eu_run_switched_off(unsigned off, const char *spec, const eu_file *f, pl_result *res, pl_error *err)
{
    unsigned prev = pl_engine_set_switches(off);
    int r = eu_run(spec, f, res, err);
    pl_engine_set_switches(prev);
    return r;
}

double eu_maxdiff(const pl_result *a, const pl_result *b)
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
    vips_error_clear();
    return m;
}

eu_img eu_decode(const pl_result *res)
{
    eu_img d = {0};
    if (res->data == NULL || res->len == 0)
        return d;
    VipsImage *im = vips_image_new_from_buffer(res->data, res->len, "", "n", -1, NULL);
    if (im == NULL) {
        vips_error_clear();
        im = vips_image_new_from_buffer(res->data, res->len, "", NULL);
    }
    if (im == NULL) {
        diag("output does not decode: %s", vips_error_buffer());
        vips_error_clear();
        return d;
    }
    d.ok = 1;
    d.width = im->Xsize;
    d.height = im->Ysize;
    d.page_height = vips_image_get_page_height(im);
    d.pages = vips_image_get_n_pages(im);
    d.bands = im->Bands;
    d.space = im->Type;
    d.fmt = im->BandFmt;
    d.orientation = vips_image_get_typeof(im, VIPS_META_ORIENTATION) ? vips_image_get_orientation(im) : 0;
    d.has_icc = vips_image_get_typeof(im, VIPS_META_ICC_NAME) != 0;
    g_object_unref(im);
    return d;
}

double eu_diff(const pl_result *a, const pl_result *b)
{
    VipsImage *ia = vips_image_new_from_buffer(a->data, a->len, "", NULL);
    VipsImage *ib = vips_image_new_from_buffer(b->data, b->len, "", NULL);
    double avg = -1;
    VipsImage *t[4] = {0};
    if (ia != NULL && ib != NULL && ia->Xsize == ib->Xsize && ia->Ysize == ib->Ysize && !vips_subtract(ia, ib, &t[0], NULL) &&
        !vips_abs(t[0], &t[1], NULL) && !vips_avg(t[1], &avg, NULL)) {
    } else {
        avg = -1;
        vips_error_clear();
    }
    for (int i = 0; i < 4; i++)
        if (t[i])
            g_object_unref(t[i]);
    if (ia)
        g_object_unref(ia);
    if (ib)
        g_object_unref(ib);
    return avg;
}

eu_file eu_synth(int w, int h, const char *suffix)
{
    eu_file f = {0};
    VipsImage *t[6] = {0};
    void *buf = NULL;
    size_t len = 0;
    if (!vips_xyz(&t[0], w, h, NULL) && !vips_extract_band(t[0], &t[1], 0, NULL) && !vips_extract_band(t[0], &t[2], 1, NULL) &&
        !vips_add(t[1], t[2], &t[3], NULL)) {
        VipsImage *b[3] = {t[1], t[2], t[3]};
        if (!vips_bandjoin(b, &t[4], 3, NULL) && !vips_cast_uchar(t[4], &t[5], NULL) &&
            !vips_image_write_to_buffer(t[5], suffix, &buf, &len, NULL)) {
            f.data = buf;
            f.len = len;
        }
    }
    for (int i = 0; i < 6; i++)
        if (t[i])
            g_object_unref(t[i]);
    vips_error_clear();
    return f;
}

/* PSNR of two encoded images (decoded, sRGB 8-bit, alpha flattened on white); -1 if sizes differ. */
double eu_psnr(const void *a, size_t alen, const void *b, size_t blen)
{
    VipsImage *im[2] = {vips_image_new_from_buffer(a, alen, "", NULL), vips_image_new_from_buffer(b, blen, "", NULL)};
    VipsImage *t[2][4] = {{0}};
    double out = -1;
    for (int i = 0; i < 2 && im[0] && im[1]; i++) {
        VipsImage *x = im[i];
        if (vips_image_hasalpha(x)) {
            VipsArrayDouble *bg = vips_array_double_newv(1, 255.0);
            int r = vips_flatten(x, &t[i][0], "background", bg, NULL);
            vips_area_unref(VIPS_AREA(bg));
            if (r)
                goto done;
            x = t[i][0];
        }
        if (vips_colourspace(x, &t[i][1], VIPS_INTERPRETATION_sRGB, NULL) || vips_cast_uchar(t[i][1], &t[i][2], NULL))
            goto done;
    }
    if (!im[0] || !im[1] || t[0][2]->Xsize != t[1][2]->Xsize || t[0][2]->Ysize != t[1][2]->Ysize)
        goto done;
    {
        VipsImage *d = NULL, *sq = NULL;
        double mse = 0;
        if (!vips_subtract(t[0][2], t[1][2], &d, NULL) && !vips_multiply(d, d, &sq, NULL) && !vips_avg(sq, &mse, NULL))
            out = mse <= 1e-9 ? 99.0 : 10 * log10(255.0 * 255.0 / mse);
        if (d)
            g_object_unref(d);
        if (sq)
            g_object_unref(sq);
    }
done:
    vips_error_clear();
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 4; k++)
            if (t[i][k])
                g_object_unref(t[i][k]);
        if (im[i])
            g_object_unref(im[i]);
    }
    return out;
}

void eu_png_chunk(uint8_t *out, size_t *at, const char *type, const uint8_t *d, uint32_t len)
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

double eu_image_maxdiff(VipsImage *a, VipsImage *b)
{
    double m = -1;
    VipsImage *d = NULL, *ad = NULL;
    if (a != NULL && b != NULL && a->Xsize == b->Xsize && a->Ysize == b->Ysize && a->Bands == b->Bands &&
        a->BandFmt == b->BandFmt && (vips_subtract(a, b, &d, NULL) || vips_abs(d, &ad, NULL) || vips_max(ad, &m, NULL)))
        m = -1;
    VIPS_UNREF(ad);
    VIPS_UNREF(d);
    return m;
}
