/*
 * pl_watermark: text watermarks (vips_text mask, tiled unless noreplicate, blended with the
 * colour at an opacity) and image watermarks (the request's second image, placed at left/top
 * with an opacity).
 *
 * imaginary's text defaults: font "sans 10", textwidth = image width / 6, dpi 150, margin =
 * textwidth, opacity 0.25, colour black. Unlike imaginary (400 "embed: bad dimensions" on images
 * narrower than ~510 px), a mask larger than the image is cut to the image: small images get a
 * watermark too.
 */
#include "pl_internal.h"

int pl_watermark_text(pl_ctx *c, const pl_params *p, bool imaginary, VipsImage *in, VipsImage **out)
{
    *out = in;
    if (p->text[0] == '\0')
        return pl_error_set(c->err, PL_E_MISSING_PARAM, "Missing required param: text");
    int W = in->Xsize, H = in->Ysize;
    int tw = pl_params_has(p, PL_P_TEXTWIDTH) && p->textwidth > 0 ? p->textwidth : VIPS_MAX(1, W / 6);
    int dpi = p->dpi > 0 ? p->dpi : 150;
    int margin = pl_params_has(p, PL_P_MARGIN) ? p->margin : tw;
    double opacity = p->opacity > 1.0 ? 1.0 : p->opacity < 0 ? 0 : p->opacity;
    const char *font = p->font[0] != '\0' ? p->font : "sans 10";
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 7);

    if (vips_text(&t[0], p->text, "font", font, "width", tw, "dpi", dpi, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot render the watermark text (check font and text)");
    VipsImage *m = t[0];
    if (vips_embed(m, &t[1], margin, margin, m->Xsize + 2 * margin, m->Ysize + 2 * margin, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot place the watermark text");
    m = t[1];
    if (!p->noreplicate) {
        if (vips_replicate(m, &t[2], 1 + W / m->Xsize, 1 + H / m->Ysize, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot tile the watermark text");
        m = t[2];
    }
    /* a mask smaller than the image is padded, a larger one cut: never "bad dimensions" */
    if (m->Xsize < W || m->Ysize < H) {
        if (vips_embed(m, &t[3], 0, 0, VIPS_MAX(W, m->Xsize), VIPS_MAX(H, m->Ysize), NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot place the watermark text");
        m = t[3];
    }
    if (vips_extract_area(m, &t[4], 0, 0, W, H, NULL) || vips_linear1(t[4], &t[5], opacity, 0, NULL) ||
        vips_cast_uchar(t[5], &t[6], NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot place the watermark text");
    m = t[6];

    double px[4];
    int n;
    pl_color col = p->color;
    col.a = 255;
    pl_ops_background(in, col, px, &n);
    VipsImage **u = (VipsImage **)vips_object_local_array(c->base, 2);
    u[0] = vips_image_new_from_image(in, px, n);
    if (u[0] == NULL || vips_ifthenelse(m, u[0], in, &u[1], "blend", TRUE, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot blend the watermark text");
    (void)imaginary;
    *out = u[1];
    return 0;
}

int pl_watermark_image(pl_ctx *c, const pl_params *p, VipsImage *in, VipsImage **out)
{
    *out = in;
    if (c->overlay == NULL && pl_load_overlay(c, &c->overlay))
        return -1;
    VipsImage *ov = c->overlay;
    double opacity = p->opacity > 1.0 ? 1.0 : p->opacity < 0 ? 0 : p->opacity;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 8);
    VipsImage *x = in;
    if (x->Type != VIPS_INTERPRETATION_sRGB || x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(x, &t[0], VIPS_INTERPRETATION_sRGB, NULL) || vips_cast_uchar(t[0], &t[1], NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot convert the image for the watermark");
        x = t[1];
    }
    if (opacity < 1.0) {
        double a[4] = {1, 1, 1, opacity}, b[4] = {0, 0, 0, 0};
        if (vips_linear(ov, &t[2], a, b, 4, NULL) || vips_cast_uchar(t[2], &t[3], NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot apply the watermark opacity");
        ov = t[3];
    }
    if (vips_composite2(x, ov, &t[4], VIPS_BLEND_MODE_OVER, "x", p->left, "y", p->top, NULL) || vips_cast_uchar(t[4], &t[5], NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot place the watermark image");
    x = t[5];
    if (!vips_image_hasalpha(in) && x->Bands == 4) {
        if (vips_extract_band(x, &t[6], 0, "n", 3, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot place the watermark image");
        x = t[6];
    }
    *out = x;
    return 0;
}
