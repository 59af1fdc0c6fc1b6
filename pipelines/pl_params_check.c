/*
 * pl_params_check: the rules over one parsed step (pl_params.h): the required parameters of
 * imaginary's routes (with imaginary's messages), the conflicts of imgpipe's transform, quality 0
 * as the default, and effort against the output format. One function per kind of rule; the
 * grammar calls pl_grammar_check_step once per step, after its parameters are set.
 *
 * Threads: pure functions over caller-owned memory.
 */
#include "pl_params.h"

#include <math.h>
#include <stdio.h>

/* ---- effort per output format ---- */

int pl_params_check_effort(const pl_params *p, pl_format f, bool named, pl_error *err)
{
    if (!pl_params_has(p, PL_P_EFFORT) || f == PL_FMT_UNKNOWN || f == PL_FMT_AUTO)
        return 0;
    int lo = 0, hi = -1;
    switch (f) {
    case PL_FMT_WEBP:
        hi = 6;
        break;
    case PL_FMT_AVIF:
    case PL_FMT_HEIF:
        hi = 9;
        break;
    case PL_FMT_GIF:
        lo = 1, hi = 10;
        break;
    case PL_FMT_PNG:
        if (p->palette)
            lo = 1, hi = 10;
        break;
    default:
        break;
    }
    if (hi < 0) {
        if (!named)
            return 0; /* type=auto chose a format without an effort: documented as not applying */
        return pl_error_set(err, PL_E_PARAM,
                            "parameter \"effort\" does not apply to %s output%s: drop it, or ask for webp (0 to 6), avif or "
                            "heif (0 to 9), gif or png with palette=true (1 to 10)",
                            pl_format_name(f), f == PL_FMT_PNG ? " without palette=true (its level is \"compression\")" : "");
    }
    if (p->effort < lo || p->effort > hi)
        return pl_error_set(err, PL_E_PARAM,
                            "invalid value \"%d\" for parameter \"effort\": %s output takes an integer from %d to %d", p->effort,
                            pl_format_name(f), lo, hi);
    return 0;
}

/* ---- required parameters (imaginary's routes) ---- */

static int pl_missing(const pl_grammar_ctx *ctx, pl_error *err, const char *what)
{
    char where[64] = "";
    if (ctx->step >= 0)
        snprintf(where, sizeof(where), " (pipeline operation %d, \"%s\")", ctx->step + 1, pl_op_name(ctx->op));
    return pl_error_set(err, PL_E_MISSING_PARAM, "Error while processing the image: %s%s", what, where);
}

static int pl_conflict(pl_error *err, const char *a, const char *b, const char *why)
{
    return pl_error_set(err, PL_E_PARAM, "parameters \"%s\" and \"%s\" conflict: %s", a, b, why);
}

/* The routes that need a size or an area: each with imaginary's own wording. */
static int pl_check_size(const pl_grammar_ctx *ctx, pl_op op, const pl_params *p, pl_error *err)
{
    switch (op) {
    case PL_OP_RESIZE:
    case PL_OP_CROP:
    case PL_OP_SMARTCROP:
        return p->width == 0 && p->height == 0 ? pl_missing(ctx, err, "Missing required param: height or width") : 0;
    case PL_OP_THUMBNAIL:
        return p->width == 0 && p->height == 0 ? pl_missing(ctx, err, "Missing required params: width or height") : 0;
    case PL_OP_FIT:
    case PL_OP_ENLARGE:
        return p->width == 0 || p->height == 0 ? pl_missing(ctx, err, "Missing required params: height, width") : 0;
    case PL_OP_EXTRACT:
        return p->areawidth == 0 || p->areaheight == 0 ? pl_missing(ctx, err, "Missing required params: areawidth or areaheight")
                                                       : 0;
    case PL_OP_ZOOM:
        if (p->factor == 0)
            return pl_missing(ctx, err, "Missing required param: factor");
        if ((p->top > 0 || p->left > 0) && p->areawidth == 0 && p->areaheight == 0)
            return pl_missing(ctx, err, "Missing required params: areawidth, areaheight");
        return 0;
    default:
        return 0;
    }
}

/* The routes that need one value. */
static int pl_check_value(const pl_grammar_ctx *ctx, pl_op op, const pl_params *p, pl_error *err)
{
    switch (op) {
    case PL_OP_ROTATE:
        return p->rotate == 0 ? pl_missing(ctx, err, "Missing required param: rotate") : 0;
    case PL_OP_CONVERT:
        return p->type == PL_FMT_UNKNOWN ? pl_missing(ctx, err, "Missing required param: type") : 0;
    case PL_OP_BLUR:
        return p->sigma == 0 && p->minampl == 0 ? pl_missing(ctx, err, "Missing required param: sigma or minampl") : 0;
    case PL_OP_WATERMARK:
        return p->text[0] == '\0' ? pl_missing(ctx, err, "Missing required param: text") : 0;
    default:
        return 0;
    }
}

/* left/top place the overlay exactly (imaginary); gravity and margin place it from a side. */
static int pl_check_watermarkimage(const pl_params *p, pl_error *err)
{
    bool at = pl_params_has(p, PL_P_LEFT) || pl_params_has(p, PL_P_TOP);
    const char *from = pl_params_has(p, PL_P_GRAVITY) ? "gravity" : pl_params_has(p, PL_P_MARGIN) ? "margin" : NULL;
    if (at && from != NULL)
        return pl_conflict(err, from, pl_params_has(p, PL_P_LEFT) ? "left" : "top",
                           "left/top place the watermark image at exact pixels, gravity and margin from a side or corner: "
                           "give one way");
    return 0;
}

/* ---- transform's conflicts ---- */

/* fit=cover/contain/fill need both sides (or one and aspectratio). */
static int pl_check_transform_fit(const pl_params *p, pl_error *err)
{
    bool w = p->width > 0, h = p->height > 0;
    bool ratio = pl_params_has(p, PL_P_ASPECTRATIO) && w != h; /* derives the missing side */
    if (!(p->fit == PL_FIT_COVER || p->fit == PL_FIT_CONTAIN || p->fit == PL_FIT_FILL) || (w && h) || ratio)
        return 0;
    const char *fit = p->fit == PL_FIT_COVER ? "cover" : p->fit == PL_FIT_CONTAIN ? "contain" : "fill";
    return pl_error_set(err, PL_E_PARAM,
                        "parameters \"fit\" and \"%s\" conflict: fit=%s needs both \"width\" and \"height\" (w, h) "
                        "greater than 0 (or one of them and \"aspectratio\")",
                        w ? "height" : "width", fit);
}

/* An extract area needs both sides; top/left need an area. */
static int pl_check_transform_area(const pl_params *p, pl_error *err)
{
    if (pl_params_has(p, PL_P_AREAWIDTH) != pl_params_has(p, PL_P_AREAHEIGHT) || (p->areawidth > 0) != (p->areaheight > 0))
        return pl_conflict(err, "areawidth", "areaheight", "an extract area needs both, each greater than 0");
    if ((p->top > 0 || p->left > 0) && p->areawidth == 0)
        return pl_conflict(err, p->top > 0 ? "top" : "left", "areawidth",
                           "top/left place an extract area: give \"areawidth\" and \"areaheight\" too");
    return 0;
}

/* aspectratio with exactly one side, and the side it derives (times dpr) within PL_DIM_MAX;
 * force is fit=fill. */
static int pl_check_transform_ratio(const pl_params *p, pl_error *err)
{
    bool w = p->width > 0, h = p->height > 0;
    if (pl_params_has(p, PL_P_ASPECTRATIO) && w == h)
        return pl_conflict(err, "aspectratio", "width",
                           "aspectratio derives the missing side: give exactly one of \"width\" and \"height\"");
    if (p->force && pl_params_has(p, PL_P_FIT))
        return pl_conflict(err, "force", "fit", "force is fit=fill: give only one of them");
    if (!pl_params_has(p, PL_P_ASPECTRATIO))
        return 0;
    int derived = (int)floor((w ? (double)p->width * p->aspect_h / p->aspect_w : (double)p->height * p->aspect_w / p->aspect_h) +
                             0.5); /* before dpr */
    if (derived * p->dpr > PL_DIM_MAX + 0.5)
        return pl_error_set(err, PL_E_PARAM,
                            "parameters \"aspectratio\" and \"%s\" conflict: %d:%d makes the %s %.0f pixels (dpr %g), over the "
                            "limit of %d",
                            w ? "width" : "height", p->aspect_w, p->aspect_h, w ? "height" : "width", derived * p->dpr, p->dpr,
                            PL_DIM_MAX);
    return 0;
}

/* width and height times dpr within PL_DIM_MAX. */
static int pl_check_transform_dpr(const pl_params *p, pl_error *err)
{
    for (int k = 0; k < 2; k++) {
        int side = k ? p->height : p->width;
        if (side * p->dpr > PL_DIM_MAX + 0.5)
            return pl_error_set(err, PL_E_PARAM,
                                "parameters \"%s\" and \"dpr\" conflict: %d x %g = %.0f pixels, over the limit of %d; "
                                "lower one of them",
                                k ? "height" : "width", side, p->dpr, side * p->dpr, PL_DIM_MAX);
    }
    return 0;
}

/* In this order, so that the first rule broken is the one reported. */
static int pl_check_transform(const pl_params *p, pl_error *err)
{
    if (pl_check_transform_fit(p, err) != 0 || pl_check_transform_area(p, err) != 0 || pl_check_transform_ratio(p, err) != 0 ||
        pl_params_check_effort(p, p->type, true, err) != 0 || pl_check_transform_dpr(p, err) != 0)
        return -1;
    return 0;
}

int pl_grammar_check_step(const pl_grammar_ctx *ctx, pl_step *s, pl_error *err)
{
    pl_params *p = &s->params;
    /* quality 0 means the default, as imaginary (bimg) */
    if (p->quality == 0) {
        p->quality = 75;
        p->set &= ~(1ull << PL_P_QUALITY);
    }
    if (s->op == PL_OP_WATERMARKIMAGE)
        return pl_check_watermarkimage(p, err);
    if (s->op == PL_OP_TRANSFORM)
        return pl_check_transform(p, err);
    if (pl_check_size(ctx, s->op, p, err) != 0)
        return -1;
    return pl_check_value(ctx, s->op, p, err);
}
