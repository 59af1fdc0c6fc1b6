/*
 * pl_watermark: text watermarks (vips_text mask, tiled unless noreplicate, blended with the
 * colour at an opacity) and image watermarks (the request's second image, pl_input.overlay,
 * composited with an opacity), on /watermark, /watermarkimage, /pipeline's watermark and
 * watermarkImage steps and on transform (text= and/or an overlay).
 *
 * Placement: `gravity` (a compass point or centre) and `margin`, on both kinds. A single text
 * block (noreplicate) or the overlay goes to that side or corner, margin pixels from the edges
 * (text: margin is the space around the text, imaginary's meaning, so the same distance); tiled
 * text anchors its grid there. Without gravity: text from the top-left corner as imaginary;
 * /watermarkimage's overlay at left/top (imaginary), or at margin from the top-left; transform's
 * overlay at the top-left corner (its left/top belong to the extract area). gravity=smart,
 * entropy and attention place nothing (they find a crop) and are refused.
 *
 * imaginary's text defaults: font "sans 10", textwidth = image width / 6, dpi 150, margin =
 * textwidth, opacity 0.25, colour black. Unlike imaginary (400 "embed: bad dimensions" on images
 * narrower than ~510 px), a mask larger than the image is cut to the image: small images get a
 * watermark too. The overlay's opacity defaults to 1 (transform included, where text's is 0.25).
 */
#include "pl_internal.h"

/* Top-left of an item_w x item_h item placed in a box_w x box_h box at gravity g, margin pixels
 * in from the sides g names (centre ignores the margin on that axis). */
static void pl_watermark_place(pl_gravity g, int box_w, int box_h, int item_w, int item_h, int margin, int *x, int *y)
{
    int cx = (box_w - item_w) / 2, cy = (box_h - item_h) / 2;
    int east = box_w - item_w - margin, south = box_h - item_h - margin;
    switch (g) {
    case PL_GRAVITY_NORTH:
        *x = cx, *y = margin;
        break;
    case PL_GRAVITY_NORTHEAST:
        *x = east, *y = margin;
        break;
    case PL_GRAVITY_EAST:
        *x = east, *y = cy;
        break;
    case PL_GRAVITY_SOUTHEAST:
        *x = east, *y = south;
        break;
    case PL_GRAVITY_SOUTH:
        *x = cx, *y = south;
        break;
    case PL_GRAVITY_SOUTHWEST:
        *x = margin, *y = south;
        break;
    case PL_GRAVITY_WEST:
        *x = margin, *y = cy;
        break;
    case PL_GRAVITY_NORTHWEST:
        *x = margin, *y = margin;
        break;
    default:
        *x = cx, *y = cy;
        break;
    }
}

/* The gravity a watermark is placed at: the asked one, else the top-left corner. */
static int pl_watermark_gravity(pl_ctx *c, const pl_params *p, pl_gravity *g)
{
    *g = pl_params_has(p, PL_P_GRAVITY) ? p->gravity : PL_GRAVITY_NORTHWEST;
    if (*g == PL_GRAVITY_SMART || *g == PL_GRAVITY_ENTROPY || *g == PL_GRAVITY_ATTENTION)
        return pl_error_set(c->err, PL_E_PARAM,
                            "invalid value for parameter \"gravity\": a watermark is placed at centre or a compass point "
                            "(north, northeast, east, southeast, south, southwest, west, northwest), not smart, entropy or "
                            "attention");
    return 0;
}

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
    pl_gravity g;
    if (pl_watermark_gravity(c, p, &g))
        return -1;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 7);

    if (vips_text(&t[0], p->text, "font", font, "width", tw, "dpi", dpi, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot render the watermark text (check font and text)");
    VipsImage *m = t[0];
    if (vips_embed(m, &t[1], margin, margin, m->Xsize + 2 * margin, m->Ysize + 2 * margin, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot place the watermark text");
    m = t[1];
    int x = 0, y = 0;
    if (!p->noreplicate) {
        /* tiles covering the image with a tile to spare, the window anchored at gravity */
        if (vips_replicate(m, &t[2], 2 + W / m->Xsize, 2 + H / m->Ysize, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot tile the watermark text");
        m = t[2];
        pl_watermark_place(g, m->Xsize, m->Ysize, W, H, 0, &x, &y);
        if (vips_extract_area(m, &t[4], x, y, W, H, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot place the watermark text");
    } else {
        /* one block (its margin around it) at gravity; a block larger than the image is cut:
         * never "bad dimensions" */
        pl_watermark_place(g, W, H, m->Xsize, m->Ysize, 0, &x, &y);
        if (vips_embed(m, &t[4], x, y, W, H, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot place the watermark text");
    }
    if (vips_linear1(t[4], &t[5], opacity, 0, NULL) || vips_cast_uchar(t[5], &t[6], NULL))
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

int pl_watermark_image(pl_ctx *c, const pl_params *p, bool imaginary_route, VipsImage *in, VipsImage **out)
{
    *out = in;
    if (c->overlay == NULL && pl_load_overlay(c, &c->overlay))
        return -1;
    VipsImage *ov = c->overlay;
    double opacity = p->opacity > 1.0 ? 1.0 : p->opacity < 0 ? 0 : p->opacity;
    if (!pl_params_has(p, PL_P_OPACITY))
        opacity = 1.0; /* transform's default opacity (0.25) is the text's */
    pl_gravity g;
    if (pl_watermark_gravity(c, p, &g))
        return -1;
    int margin = pl_params_has(p, PL_P_MARGIN) ? p->margin : 0;
    int ox = 0, oy = 0;
    if (pl_params_has(p, PL_P_GRAVITY) || pl_params_has(p, PL_P_MARGIN) || !imaginary_route)
        pl_watermark_place(g, in->Xsize, in->Ysize, ov->Xsize, ov->Ysize, margin, &ox, &oy);
    else
        ox = p->left, oy = p->top; /* imaginary's placement */
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
    if (vips_composite2(x, ov, &t[4], VIPS_BLEND_MODE_OVER, "x", ox, "y", oy, NULL) || vips_cast_uchar(t[4], &t[5], NULL))
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
