/*
 * pl_geometry: what one step does to the geometry, as a pure plan over sizes (pl_geo), then the
 * libvips calls that carry it out on one frame.
 *
 * Imaginary's routes follow bimg's resizer order and size rules (imaginary-api.md §3, §4):
 * auto-orient (unless norotation or rotate given) -> rotate/flip/flop -> zoom -> sizes
 * (force, crop = cover, embed = fit inside then pad) -> crop/embed/area extract -> blur ->
 * watermarks -> flatten onto background -> colourspace. imgpipe's `transform` uses the fixed
 * pipeline order of design.md with fit=inside|outside|cover|contain|fill; its rotate takes any
 * angle (right angles exact, others resampled into the rotated bounding box, after the resize).
 *
 * Sizes are computed from the step's logical input size (the original's, upright) even when the
 * loader already shrank the pixels (shrink-on-load), so results are exact whatever the loader
 * did: the first resize goes straight from the shrunk pixels to the computed size.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pl_internal.h"

typedef enum { PL_FIN_NONE = 0, PL_FIN_CROP, PL_FIN_EMBED } pl_fin;

typedef struct pl_geo {
    bool autorot;
    int angle; /* 0, 90, 180, 270 */
    bool flip, flop;
    int zoom;      /* multiplier, 1 = none */
    bool trim;     /* transform only: size unknown before the pixels are read */
    bool pre_area; /* transform: extract before resizing */
    int rw, rh;    /* resize to; 0 = no resize */
    pl_fin fin;
    int fw, fh; /* crop/embed box */
    pl_gravity gravity;
    pl_extend extend;
    pl_color background;
    pl_color rot_bg; /* transform: corners of a rotation by other than a right angle */
    bool area;       /* extract after resizing (imaginary's /extract, /zoom with top/left) */
    int al, at, aw, ah;
} pl_geo;

static int pl_geo_round(double x)
{
    return (int)floor(x + 0.5); /* Go's math.Round for positive values */
}

/* Resize so that the side that decides the scale lands exactly on its target. */
static void pl_geo_scale(int w, int h, int W, int H, bool by_width, pl_geo *g)
{
    if (by_width) {
        g->rw = W;
        g->rh = VIPS_MAX(1, pl_geo_round((double)h * W / w));
    } else {
        g->rh = H;
        g->rw = VIPS_MAX(1, pl_geo_round((double)w * H / h));
    }
}

static bool pl_geo_swaps(const pl_ctx *c, const pl_geo *g)
{
    bool s = g->autorot && c->orientation >= 5 && c->orientation <= 8;
    if (g->angle == 90 || g->angle == 270)
        s = !s;
    return s;
}

/* What an imaginary route asks of its box: crop to it, embed in it, enlarge to it, force it. */
typedef struct pl_geo_mode {
    bool crop, embed, enlarge, force;
} pl_geo_mode;

/* Each route's rule (bimg's options per handler): the box W x H (fit narrows it to the image's
 * aspect), the mode, and zoom's or extract's area; w, h grow by zoom. */
static pl_geo_mode pl_geo_route_rule(const pl_step *s, int *w, int *h, int *W, int *H, pl_geo *g)
{
    const pl_params *p = &s->params;
    pl_geo_mode m = {false, p->embed, false, p->force};
    switch (s->op) {
    case PL_OP_RESIZE:
        m.embed = true;
        if (pl_params_has(p, PL_P_NOCROP))
            m.crop = !p->nocrop;
        break;
    case PL_OP_FIT:
        if (*W > 0 && *H > 0) {
            if ((int64_t)*w * *H > (int64_t)*W * *h)
                *H = VIPS_MAX(1, pl_geo_round((double)*W * *h / *w));
            else
                *W = VIPS_MAX(1, pl_geo_round((double)*H * *w / *h));
        }
        m.embed = true;
        break;
    case PL_OP_ENLARGE:
        m.enlarge = true;
        m.crop = !p->nocrop;
        break;
    case PL_OP_EXTRACT:
        g->area = true;
        break;
    case PL_OP_CROP:
        m.crop = true;
        break;
    case PL_OP_SMARTCROP:
        m.crop = true;
        g->gravity = PL_GRAVITY_SMART;
        break;
    case PL_OP_ZOOM:
        g->zoom = p->factor + 1;
        if (p->top > 0 || p->left > 0) {
            g->area = true;
            m.crop = !p->nocrop;
        }
        *w *= g->zoom;
        *h *= g->zoom;
        break;
    default:
        break;
    }
    if (g->area) {
        g->al = p->left;
        g->at = p->top;
        g->aw = p->areawidth > 0 ? p->areawidth : *w / g->zoom;
        g->ah = p->areaheight > 0 ? p->areaheight : *h / g->zoom;
    }
    if (!m.force && !m.crop && !m.embed && !m.enlarge && p->rotate == 0 && (*W > 0 || *H > 0))
        m.force = true;
    return m;
}

/* bimg's Process for imaginary's routes. w, h: logical size before the step's rotations. */
static void pl_geo_imaginary(const pl_ctx *c, const pl_step *s, int w, int h, pl_geo *g)
{
    const pl_params *p = &s->params;
    memset(g, 0, sizeof(*g));
    g->zoom = 1;
    g->gravity = p->gravity;
    g->extend = p->extend;
    g->background = p->background;
    g->angle = pl_ops_angle_floor(p->rotate);
    g->autorot = !p->norotation && p->rotate == 0;
    g->flip = p->flip || s->op == PL_OP_FLIP;
    g->flop = p->flop || s->op == PL_OP_FLOP;
    if (pl_geo_swaps(c, g)) {
        int t = w;
        w = h;
        h = t;
    }
    int W = p->width, H = p->height;
    if (p->aspect_w > 0 && p->aspect_h > 0 && ((W == 0) != (H == 0))) {
        if (W != 0)
            H = W / p->aspect_w * p->aspect_h;
        else
            W = H / p->aspect_h * p->aspect_w;
    }
    pl_geo_mode m = pl_geo_route_rule(s, &w, &h, &W, &H, g);
    if (W <= 0 && H <= 0)
        return;
    if (W > 0 && H <= 0)
        H = m.crop ? h : VIPS_MAX(1, pl_geo_round((double)h * W / w));
    else if (H > 0 && W <= 0)
        W = m.crop ? w : VIPS_MAX(1, pl_geo_round((double)w * H / h));
    double fx = (double)w / W, fy = (double)h / H;
    bool by_width = m.crop ? fx <= fy : fx >= fy;
    if (!m.enlarge && !m.force && w < W && h < H) {
        W = w;
        H = h;
    }
    if (m.force) {
        g->rw = W;
        g->rh = H;
        return;
    }
    pl_geo_scale(w, h, W, H, by_width, g);
    if (g->rw == w && g->rh == h)
        g->rw = g->rh = 0; /* already there: no resampling */
    g->fw = W;
    g->fh = H;
    g->fin = m.crop ? PL_FIN_CROP : m.embed ? PL_FIN_EMBED : PL_FIN_NONE;
}

/* transform's start: rotation, flips, trim, background and the area taken before resizing;
 * *w, *h become the size the box applies to. */
static void pl_geo_transform_start(const pl_ctx *c, const pl_params *p, int *w, int *h, pl_geo *g)
{
    memset(g, 0, sizeof(*g));
    g->zoom = 1;
    g->gravity = p->gravity;
    g->extend = PL_EXTEND_BACKGROUND;
    g->background = p->background;
    if (!pl_params_has(p, PL_P_BACKGROUND))
        g->background = c->in_alpha ? (pl_color){0, 0, 0, 0} : (pl_color){255, 255, 255, 255};
    g->autorot = !p->norotation;
    /* any angle, clockwise; the corners of a rotation by other than a right angle are the asked
     * background, else transparent when the output format carries alpha, else white */
    g->angle = pl_ops_angle_normal(p->rotate);
    g->rot_bg = p->background;
    if (!pl_params_has(p, PL_P_BACKGROUND))
        g->rot_bg = pl_format_get(c->out_format)->alpha ? (pl_color){0, 0, 0, 0} : (pl_color){255, 255, 255, 255};
    g->flip = p->flip;
    g->flop = p->flop;
    g->trim = p->trim > 0;
    g->pre_area = p->areawidth > 0 && p->areaheight > 0;
    if (g->autorot && c->orientation >= 5 && c->orientation <= 8) {
        int t = *w;
        *w = *h;
        *h = t;
    }
    if (g->pre_area) {
        g->al = p->left;
        g->at = p->top;
        g->aw = p->areawidth;
        g->ah = p->areaheight;
        *w = g->aw;
        *h = g->ah;
    }
}

/* transform's fit of w x h to the box W x H (both set; `given` says which side the request named
 * when it named one only: 'w', 'h', or 0 for both). */
static void pl_geo_transform_fit(const pl_params *p, pl_fit fit, int w, int h, int W, int H, char given, pl_geo *g)
{
    double sx = (double)W / w, sy = (double)H / h;
    if (fit == PL_FIT_FILL) {
        g->rw = W;
        g->rh = H;
        return;
    }
    /* cover/outside fill the box (the larger scale), inside/contain fit in it (the smaller); one
     * side asked: that side, exactly (the other was rounded from it, so comparing the two scales
     * could pick the rounded one: w=640 on 4608x1976 gave 639 wide) */
    bool covers = fit == PL_FIT_COVER || fit == PL_FIT_OUTSIDE;
    bool by_width = given ? given == 'w' : covers ? sx >= sy : sx <= sy;
    double sc = by_width ? sx : sy;
    if (!p->enlarge && sc > 1.0) {
        g->rw = w, g->rh = h;
    } else {
        pl_geo_scale(w, h, W, H, by_width, g);
    }
    if (fit == PL_FIT_COVER) {
        g->fin = PL_FIN_CROP;
        g->fw = VIPS_MIN(W, g->rw);
        g->fh = VIPS_MIN(H, g->rh);
    } else if (fit == PL_FIT_CONTAIN) {
        g->fin = PL_FIN_EMBED;
        g->fw = W;
        g->fh = H;
    }
}

/* imgpipe's transform. w, h: logical size before the step. */
static void pl_geo_transform(const pl_ctx *c, const pl_step *s, int w, int h, pl_geo *g)
{
    const pl_params *p = &s->params;
    pl_geo_transform_start(c, p, &w, &h, g);
    double dpr = p->dpr > 0 ? p->dpr : 1.0;
    int W = p->width > 0 ? pl_geo_round(p->width * dpr) : 0;
    int H = p->height > 0 ? pl_geo_round(p->height * dpr) : 0;
    pl_fit fit = p->fit == PL_FIT_NONE ? PL_FIT_INSIDE : p->fit;
    if (p->aspect_w > 0 && p->aspect_h > 0 && (W > 0) != (H > 0)) {
        /* aspectratio gives the box its missing side (rounded, where imaginary truncates); the
         * image is fitted in that box and padded to it, as /resize does, unless fit says else */
        if (W > 0)
            H = VIPS_MAX(1, pl_geo_round((double)W * p->aspect_h / p->aspect_w));
        else
            W = VIPS_MAX(1, pl_geo_round((double)H * p->aspect_w / p->aspect_h));
        if (!pl_params_has(p, PL_P_FIT))
            fit = PL_FIT_CONTAIN;
    }
    if (g->angle == 90 || g->angle == 270) {
        /* w/h describe the output: the rotation comes after the resize */
        int t = W;
        W = H;
        H = t;
    }
    if (W <= 0 && H <= 0)
        return;
    char given = 0;
    if (W <= 0 || H <= 0) {
        /* one side: every fit mode scales to that side */
        given = W > 0 ? 'w' : 'h';
        if (W <= 0)
            W = VIPS_MAX(1, pl_geo_round((double)w * H / h));
        else
            H = VIPS_MAX(1, pl_geo_round((double)h * W / w));
        if (fit == PL_FIT_COVER || fit == PL_FIT_CONTAIN)
            fit = PL_FIT_INSIDE;
    }
    pl_geo_transform_fit(p, fit, w, h, W, H, given, g);
}

static void pl_geo_for(const pl_ctx *c, const pl_step *s, int w, int h, pl_geo *g)
{
    if (s->op == PL_OP_TRANSFORM)
        pl_geo_transform(c, s, w, h, g);
    else
        pl_geo_imaginary(c, s, w, h, g);
}

void pl_geometry_target(const pl_ctx *c, const pl_step *s, int *tw, int *th)
{
    *tw = *th = 0;
    if (s->op == PL_OP_AUTOROTATE || s->op == PL_OP_INFO)
        return;
    pl_geo g;
    pl_geo_for(c, s, c->lw, c->lh, &g);
    if (g.zoom > 1 || g.trim || g.pre_area || g.rw <= 0 || g.rh <= 0)
        return;
    /* in stored orientation, for the loader */
    bool swap = s->op == PL_OP_TRANSFORM ? (g.autorot && c->orientation >= 5 && c->orientation <= 8) : pl_geo_swaps(c, &g);
    *tw = swap ? g.rh : g.rw;
    *th = swap ? g.rw : g.rh;
}

bool pl_geometry_needs_random(const pl_ctx *c, const pl_step *s)
{
    pl_geo g;
    pl_geo_for(c, s, c->lw, c->lh, &g);
    if (s->op == PL_OP_AUTOROTATE)
        g.autorot = true;
    const pl_params *p = &s->params;
    bool smart = g.gravity == PL_GRAVITY_SMART || g.gravity == PL_GRAVITY_ENTROPY || g.gravity == PL_GRAVITY_ATTENTION;
    return (g.autorot && c->orientation >= 3) || g.angle != 0 || g.flop || g.trim || (smart && g.fin == PL_FIN_CROP) ||
           g.zoom > 1 || p->sigma > 0 || p->sharpen > 0;
}

int pl_geometry_check_animated(const pl_ctx *c, const pl_step *s)
{
    pl_geo g;
    pl_geo_for(c, s, c->lw, c->lh, &g);
    bool smart = g.gravity == PL_GRAVITY_SMART || g.gravity == PL_GRAVITY_ENTROPY || g.gravity == PL_GRAVITY_ATTENTION;
    if (g.trim)
        return pl_error_set(c->err, PL_E_ANIMATED,
                            "trim cannot apply to an animated image (each frame would trim differently); "
                            "send a still image or ask for frames=1");
    if (smart && g.fin == PL_FIN_CROP)
        return pl_error_set(c->err, PL_E_ANIMATED,
                            "%s with gravity=smart/entropy/attention cannot apply to an animated image; use a compass gravity "
                            "or frames=1",
                            pl_op_name(s->op));
    return 0;
}

/* The steps shared by both kinds after the size work: filters, watermarks. */
static int pl_geometry_finish(pl_ctx *c, const pl_step *s, VipsImage *x, VipsImage **out)
{
    const pl_params *p = &s->params;
    bool imaginary = s->op != PL_OP_TRANSFORM;
    if (pl_ops_blur(c, x, p->sigma, p->minampl, &x))
        return -1;
    if (!imaginary && (pl_ops_sharpen(c, x, p->sharpen, &x) || (p->grayscale && pl_ops_grayscale(c, x, &x))))
        return -1;
    if ((s->op == PL_OP_WATERMARK || (!imaginary && p->text[0] != '\0')) && pl_watermark_text(c, p, imaginary, x, &x))
        return -1;
    if ((s->op == PL_OP_WATERMARKIMAGE || (!imaginary && c->in->overlay != NULL)) && pl_watermark_image(c, p, imaginary, x, &x))
        return -1;
    /* imaginary flattens onto an explicit background (bimg: when it is not 0,0,0) */
    if (imaginary && pl_params_has(p, PL_P_BACKGROUND) && (p->background.r || p->background.g || p->background.b) &&
        pl_ops_flatten(c, x, p->background, &x))
        return -1;
    if (imaginary && p->colorspace == PL_SPACE_BW && pl_ops_grayscale(c, x, &x))
        return -1;
    *out = x;
    return 0;
}

/* After the resize, the step only crops, rotates by right angles or flips: nothing reads the
 * pixels' values or alpha (no padding past the resized size, no rotation by another angle with its
 * see-through corners, no crop by content, blur, sharpen, grey, watermark), in one still step,
 * outside /renditions (where one output's resized pixels may be the source of the next). */
static bool pl_geometry_plain(const pl_ctx *c, const pl_step *s, const pl_geo *g)
{
    const pl_params *p = &s->params;
    bool imaginary = s->op != PL_OP_TRANSFORM;
    bool smart = g->gravity == PL_GRAVITY_SMART || g->gravity == PL_GRAVITY_ENTROPY || g->gravity == PL_GRAVITY_ATTENTION;
    if (c->plan->n_steps != 1 || c->animated || c->shared_sources)
        return false;
    bool pads = g->fin == PL_FIN_EMBED && (g->fw > g->rw || g->fh > g->rh);
    if (pads || (g->fin == PL_FIN_CROP && smart) || p->sigma > 0 || s->op == PL_OP_WATERMARK || s->op == PL_OP_WATERMARKIMAGE)
        return false;
    if (imaginary)
        return p->colorspace != PL_SPACE_BW;
    return g->angle % 90 == 0 && p->sharpen <= 0 && !p->grayscale && p->text[0] == '\0' && c->in->overlay == NULL;
}

/* JPEG carries no alpha: pl_encode flattens an image with alpha onto the background (the asked one,
 * else white) before it encodes. Flattening onto a constant commutes with a linear resize (the
 * premultiplied resize of colour and alpha, then the flatten, gives the same sums as the resize of
 * the flattened colours), so when nothing after the resize reads alpha (pl_geometry_plain) it is
 * done before: the resize runs on three bands, with no premultiply and no unpremultiply (2400x1500
 * RGBA PNG -> 800 px JPEG: 46 -> 40 CPU-ms; and closer to the exact result, as 8-bit
 * premultiplied pixels lose precision where alpha is low). */
static bool pl_geometry_flatten_first(const pl_ctx *c, const pl_step *s, const pl_geo *g, VipsImage *x)
{
    return c->out_format == PL_FMT_JPEG && vips_image_hasalpha(x) && x->BandFmt == VIPS_FORMAT_UCHAR &&
           !pl_engine_switched_off(PL_NO_EARLY_FLATTEN) && pl_geometry_plain(c, s, g);
}

/* An embedded colour profile (an iPhone's Display P3, Adobe RGB) left by pl_load_to_srgb
 * (c->icc_pending) is converted to sRGB here: after the resize, crop and right-angle turns when
 * nothing in the step depends on the colours (pl_geometry_plain; no alpha, which a flatten onto an
 * sRGB background would read), at the output's size, as vips_thumbnail does; else first. The two
 * orders differ only by resampling before or after a per-pixel transform whose curves are close
 * to linear (P3 and sRGB share their transfer curve): 40-52 dB apart (test_engine_icc.c).
 * An 8.5 MP iPhone HEIC -> 800 px JPEG 337 -> 285 CPU-ms (libvips' lcms transform over the full
 * lazy image before), a 2400x1800 P3 PNG 42.1 -> 38.6. IMGPIPE_NO_LATE_ICC=1 converts at load. */
static bool pl_geometry_colours_late(const pl_ctx *c, const pl_step *s, const pl_geo *g, VipsImage *x)
{
    return c->icc_pending && !vips_image_hasalpha(x) && pl_geometry_plain(c, s, g);
}

static int pl_geometry_colours(pl_ctx *c, VipsImage **x)
{
    if (!c->icc_pending)
        return 0;
    c->icc_pending = false;
    return pl_load_to_srgb(c, *x, x);
}

static int pl_geometry_apply(pl_ctx *c, const pl_step *s, const pl_geo *g, VipsImage *x, VipsImage **out)
{
    if (!pl_geometry_colours_late(c, s, g, x) && pl_geometry_colours(c, &x))
        return -1;
    if (g->autorot) {
        if (pl_ops_autorot(c, x, &x))
            return -1;
    } else if (vips_image_get_typeof(x, VIPS_META_ORIENTATION)) {
        /* orientation ignored (norotation, rotate given): the stored pixels are the picture now
         * (a view keeps a decoder's buffer readable in place, pl_reduce_u8) */
        VipsImage *v = pl_ops_view(c, x, x->Bands), **t = v != NULL ? &v : pl_ctx_slot(c);
        if (v == NULL && vips_copy(x, t, NULL))
            return pl_cancel_fail(c, PL_E_INTERNAL, "Cannot copy the image");
        vips_image_remove(*t, VIPS_META_ORIENTATION);
        vips_image_remove(*t, "exif-ifd0-Orientation");
        x = *t;
    }
    if (s->op == PL_OP_TRANSFORM) {
        if (g->trim && pl_ops_trim(c, x, s->params.trim, &x))
            return -1;
        if (g->pre_area && pl_ops_extract(c, x, g->al, g->at, g->aw, g->ah, &x))
            return -1;
    } else {
        if (pl_ops_rotate(c, x, g->angle, &x))
            return -1;
        if (g->flip && pl_ops_flip(c, x, true, &x))
            return -1;
        if (g->flop && pl_ops_flip(c, x, false, &x))
            return -1;
        if (pl_ops_zoom(c, x, g->zoom, &x))
            return -1;
    }
    if (g->rw > 0 && g->rh > 0) {
        /* an enlargement past the output limit would be computed (smart crop analyses it) before
         * the check at encode time: refuse it here */
        uint64_t px = (uint64_t)g->rw * (uint64_t)g->rh;
        if (c->lim != NULL && c->lim->max_output_pixels > 0 && px > c->lim->max_output_pixels &&
            px > (uint64_t)x->Xsize * (uint64_t)x->Ysize)
            return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS,
                                "Image too large: enlarging to %dx%d is over the limit of %.1f megapixels", g->rw, g->rh,
                                c->lim->max_output_pixels / 1e6);
        if (pl_geometry_flatten_first(c, s, g, x)) {
            if (pl_ops_flatten(c, x, pl_flatten_background(&s->params), &x))
                return -1;
        }
        if (pl_reduce_u8(c, x, g->rw, g->rh, false, &x) || pl_ops_resize(c, x, g->rw, g->rh, &x))
            return -1;
    }
    if (g->fin == PL_FIN_CROP && pl_ops_crop(c, x, g->fw, g->fh, g->gravity, &x))
        return -1;
    if (g->fin == PL_FIN_EMBED) {
        if (pl_ops_crop(c, x, g->fw, g->fh, PL_GRAVITY_CENTRE, &x) ||
            pl_ops_embed(c, x, g->fw, g->fh, g->extend, g->background, &x))
            return -1;
    }
    if (s->op != PL_OP_TRANSFORM && g->area && pl_ops_extract(c, x, g->al, g->at, g->aw, g->ah, &x))
        return -1;
    if (s->op == PL_OP_TRANSFORM) {
        if (pl_ops_rotate_any(c, x, g->angle, g->rot_bg, &x))
            return -1;
        if (g->flip && pl_ops_flip(c, x, true, &x))
            return -1;
        if (g->flop && pl_ops_flip(c, x, false, &x))
            return -1;
    }
    if (pl_geometry_colours(c, &x)) /* left until now: at the output's size */
        return -1;
    c->lw = x->Xsize;
    c->lh = x->Ysize;
    c->orientation = 1; /* applied or deliberately ignored: later steps see upright pixels */
    return pl_geometry_finish(c, s, x, out);
}

int pl_geometry_imaginary(pl_ctx *c, const pl_step *s, VipsImage *in, VipsImage **out)
{
    if (s->op == PL_OP_AUTOROTATE) {
        /* imaginary: vips_autorot only, every other parameter ignored */
        if (pl_ops_autorot(c, in, out) || pl_geometry_colours(c, out))
            return -1;
        c->lw = (*out)->Xsize;
        c->lh = (*out)->Ysize;
        c->orientation = 1;
        return 0;
    }
    pl_geo g;
    pl_geo_imaginary(c, s, c->lw, c->lh, &g);
    return pl_geometry_apply(c, s, &g, in, out);
}

int pl_geometry_transform(pl_ctx *c, const pl_step *s, VipsImage *in, VipsImage **out)
{
    pl_geo g;
    pl_geo_transform(c, s, c->lw, c->lh, &g);
    if (g.trim) {
        /* the sizes depend on what trim leaves: orient and trim first, then plan the rest */
        if (pl_geometry_colours(c, &in) || (g.autorot && pl_ops_autorot(c, in, &in)))
            return -1;
        if (pl_ops_trim(c, in, s->params.trim, &in))
            return -1;
        c->lw = in->Xsize;
        c->lh = in->Ysize;
        c->orientation = 1;
        pl_geo_transform(c, s, c->lw, c->lh, &g);
        g.trim = false;
        g.autorot = false;
    }
    return pl_geometry_apply(c, s, &g, in, out);
}
