/*
 * pl_ops: the small libvips primitives every route is built from (resize to an exact size, crop
 * at a gravity, embed with an extend mode, extract, rotate (right angles exact, any other angle
 * resampled onto a background), flip, blur, sharpen, grayscale, zoom,
 * trim, flatten, auto-orient). Each works on one frame, fills *out with an image owned by
 * c->base, and on failure fills c->err (libvips' text to the detail, for the log).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "pl_internal.h"

static double pl_ops_max_value(const VipsImage *in)
{
    switch (in->BandFmt) {
    case VIPS_FORMAT_USHORT:
    case VIPS_FORMAT_SHORT:
        return 65535.0;
    case VIPS_FORMAT_FLOAT:
    case VIPS_FORMAT_DOUBLE:
        return in->Type == VIPS_INTERPRETATION_scRGB ? 1.0 : 255.0;
    default:
        return 255.0;
    }
}

void pl_ops_background(const VipsImage *in, pl_color bg, double *px, int *n)
{
    double scale = pl_ops_max_value(in) / 255.0;
    int bands = in->Bands > 4 ? 4 : in->Bands;
    if (bands <= 2) {
        px[0] = (0.2126 * bg.r + 0.7152 * bg.g + 0.0722 * bg.b) * scale;
        if (bands == 2)
            px[1] = bg.a * scale;
    } else {
        px[0] = bg.r * scale;
        px[1] = bg.g * scale;
        px[2] = bg.b * scale;
        if (bands == 4)
            px[3] = bg.a * scale;
    }
    *n = bands;
}

int pl_ops_autorot(pl_ctx *c, VipsImage *in, VipsImage **out)
{
    *out = in;
    if (!vips_image_get_typeof(in, VIPS_META_ORIENTATION) && !vips_image_get_typeof(in, "exif-ifd0-Orientation"))
        return 0;
    /* upright already (orientation 1, a camera's usual tag): the same pixels under metadata
     * without the tag, still in memory when they were (pl_reduce_u8 reads them in place) */
    VipsImage *view = vips_image_get_orientation(in) <= 1 ? pl_ops_view(c, in, in->Bands) : NULL;
    if (view != NULL) {
        vips_image_remove(view, VIPS_META_ORIENTATION);
        vips_image_remove(view, "exif-ifd0-Orientation");
        *out = view;
        return 0;
    }
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 2);
    if (vips_autorot(in, &t[0], NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot auto-rotate the image");
    /* The pixels are upright now: no orientation tag may survive into the output's EXIF, or
     * viewers rotate a second time (imaginary's trap). */
    if (vips_copy(t[0], &t[1], NULL))
        return pl_cancel_fail(c, PL_E_INTERNAL, "Cannot copy the image");
    vips_image_remove(t[1], VIPS_META_ORIENTATION);
    vips_image_remove(t[1], "exif-ifd0-Orientation");
    *out = t[1];
    return 0;
}

static void *pl_ops_copy_field(VipsImage *from, const char *name, GValue *value, void *to)
{
    (void)from;
    if (vips_image_get_typeof(to, name) == 0) /* metadata only: width, bands, xres … are the caller's */
        vips_image_set(to, name, value);
    return NULL;
}

/* Collects the names `to` has and `from` has not (user: {from, GSList *}). */
static void *pl_ops_extra_field(VipsImage *to, const char *name, GValue *value, void *user)
{
    void **a = user;
    (void)to;
    (void)value;
    if (vips_image_get_typeof((VipsImage *)a[0], name) == 0)
        a[1] = g_slist_prepend(a[1], g_strdup(name));
    return NULL;
}

/* from's metadata on to, and nothing more: vips_image_set of "exif-data" parses the blob again
 * and sets its fields, the orientation among them, which would bring back what pl_ops_autorot
 * removed on purpose (the pixels upright, the tag saying 6: viewers rotate twice). */
void pl_ops_copy_meta(VipsImage *from, VipsImage *to)
{
    void *extra[2] = {from, NULL};
    vips_image_map(from, pl_ops_copy_field, to);
    vips_image_map(to, pl_ops_extra_field, extra);
    for (GSList *l = extra[1]; l != NULL; l = l->next)
        vips_image_remove(to, l->data);
    g_slist_free_full(extra[1], g_free);
    to->Type = from->Type;
    to->Xres = from->Xres;
    to->Yres = from->Yres;
}

static void pl_ops_free_buf(VipsImage *im, void *buf)
{
    (void)im;
    g_free(buf);
}

VipsImage *pl_ops_image_over(void *buf, size_t size, int w, int h, int bands, VipsBandFormat fmt, VipsImage *from)
{
    VipsImage *im = vips_image_new_from_memory(buf, size, w, h, bands, fmt);
    if (im == NULL) {
        g_free(buf);
        return NULL;
    }
    g_signal_connect(im, "postclose", G_CALLBACK(pl_ops_free_buf), buf);
    if (from != NULL)
        pl_ops_copy_meta(from, im);
    return im;
}

VipsImage *pl_ops_view(pl_ctx *c, VipsImage *in, int bands)
{
    if (!pl_ops_in_memory(in) || bands < 1 || bands > in->Bands)
        return NULL;
    size_t bytes = (size_t)in->Xsize * (size_t)in->Ysize * (size_t)bands * (size_t)VIPS_IMAGE_SIZEOF_ELEMENT(in);
    VipsImage **slot = pl_ctx_slot(c);
    if ((*slot = vips_image_new_from_memory(in->data, bytes, in->Xsize, in->Ysize, bands, in->BandFmt)) == NULL)
        return NULL;
    g_object_ref(in); /* the pixels stay in's: in lives as long as the view */
    vips_object_local(*slot, in);
    pl_ops_copy_meta(in, *slot);
    return *slot;
}

/* round(c * a / 255) for the three colour bytes of little-endian RGBA pixels, two lanes of 16 bits
 * per multiply (R and B, then G): exact for every c, a <= 255. 2400x1600: ~5 ms against ~10 for the
 * byte loop. src == dst is allowed. */
static void pl_ops_premultiply_rgba(const uint8_t *src, uint8_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t p;
        memcpy(&p, src + 4 * i, 4);
        uint32_t a = p >> 24;
        uint32_t rb = (p & 0x00FF00FFu) * a + 0x00800080u;
        rb = ((rb + ((rb >> 8) & 0x00FF00FFu)) >> 8) & 0x00FF00FFu;
        uint32_t g = ((p >> 8) & 0xFFu) * a + 0x80u;
        g = ((g + (g >> 8)) >> 8) & 0xFFu;
        p = rb | (g << 8) | (p & 0xFF000000u);
        memcpy(dst + 4 * i, &p, 4);
    }
}

/* round(c * a / 65535) for 16-bit samples in host order; nb samples per pixel, alpha last. */
static void pl_ops_premultiply_u16(const uint16_t *src, uint16_t *dst, size_t n, int nb)
{
    int ab = nb - 1;
    for (size_t i = 0; i < n; i++, src += nb, dst += nb) {
        uint32_t a = src[ab];
        for (int b = 0; b < ab; b++) {
            uint32_t v = (uint32_t)src[b] * a + 32768u;
            dst[b] = (uint16_t)((v + (v >> 16)) >> 16); /* exact round(x / 65535) for x <= 65535 * 65535 */
        }
        dst[ab] = (uint16_t)a;
    }
}

static void pl_ops_premultiply_bytes(const uint8_t *src, uint8_t *dst, size_t n, int nb)
{
    int ab = nb - 1;
    for (size_t i = 0; i < n; i++, src += nb, dst += nb) {
        unsigned a = src[ab];
        for (int b = 0; b < ab; b++) {
            unsigned v = src[b] * a + 128;
            dst[b] = (uint8_t)((v + (v >> 8)) >> 8); /* exact round(x / 255) for x <= 255 * 255 */
        }
        dst[ab] = (uint8_t)a;
    }
}

/* Premultiplied 8- or 16-bit RGBA/grey-alpha straight from an image already in memory (the PNG
 * and WebP decoders'): one integer pass, round(c * a / max), instead of libvips' float premultiply
 * and cast back (2400x1600 8-bit: ~28 -> ~5 CPU-ms). In place when the run owns the pixels
 * (c->owned_pixels): no second 15 MB buffer. 1 = not applicable (other formats, not in memory). */
static int pl_ops_premultiply_mem(pl_ctx *c, VipsImage *in, VipsImage **out)
{
    /* 16-bit only where libvips' unpremultiply after the resize also takes 65535 as opaque */
    bool u16 =
        in->BandFmt == VIPS_FORMAT_USHORT && (in->Type == VIPS_INTERPRETATION_RGB16 || in->Type == VIPS_INTERPRETATION_GREY16);
    if ((in->BandFmt != VIPS_FORMAT_UCHAR && !u16) || (in->Bands != 2 && in->Bands != 4) || in->Coding != VIPS_CODING_NONE ||
        !pl_ops_in_memory(in))
        return 1;
    size_t n = (size_t)in->Xsize * (size_t)in->Ysize;
    int nb = in->Bands;
    size_t bytes = n * (size_t)nb * (u16 ? 2 : 1);
    bool in_place = c->owned_pixels != NULL && c->owned_pixels == in->data;
    uint8_t *buf = in_place ? (uint8_t *)in->data : g_try_malloc(bytes);
    if (buf == NULL)
        return 1;
    bool le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
    if (u16)
        pl_ops_premultiply_u16((const uint16_t *)in->data, (uint16_t *)buf, n, nb);
    else if (nb == 4 && le)
        pl_ops_premultiply_rgba(in->data, buf, n);
    else
        pl_ops_premultiply_bytes(in->data, buf, n, nb);
    if (in_place) {
        c->owned_pixels = NULL; /* premultiplied now: never twice */
        *out = in;
        return 0;
    }
    VipsImage **slot = pl_ctx_slot(c);
    if ((*slot = pl_ops_image_over(buf, bytes, in->Xsize, in->Ysize, nb, in->BandFmt, in)) == NULL)
        return 1;
    *out = *slot;
    return 0;
}

int pl_ops_resize(pl_ctx *c, VipsImage *in, int w, int h, VipsImage **out)
{
    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    *out = in;
    if (in->Xsize == w && in->Ysize == h)
        return 0;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 7);
    VipsImage *x = in;
    /* an alpha of 255 everywhere (pl_png saw it while decoding): premultiplying changes nothing,
     * so neither it nor the unpremultiply is done (2400x1600 RGBA: ~5 + ~2 CPU-ms) */
    bool alpha = vips_image_hasalpha(in) && !pl_ctx_opaque(c, in);
    if (alpha && c->premul_pending) {
        c->premul_pending = false; /* decoded premultiplied (pl_png's box): as if done here */
    } else if (alpha) {
        /* Premultiplied, so transparent pixels do not bleed their colour; back to the input's
         * integer format before resampling: libvips' integer resize paths are much faster than
         * float (2400x1600 RGBA -> 768x512: 187 -> 154 CPU-ms, 50 dB PSNR against float). */
        if (pl_ops_premultiply_mem(c, x, &x) != 0) {
            if (vips_premultiply(x, &t[0], NULL) || vips_cast(t[0], &t[6], in->BandFmt, NULL))
                return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
            x = t[6];
        }
    }
    /* alpha premultiplied now, or opaque: the transposed reduce may take it too (pl_reduce.c) */
    VipsImage *reduced = x;
    if (vips_image_hasalpha(in) && pl_reduce_u8(c, x, w, h, true, &reduced))
        return -1;
    if (reduced != x)
        x = reduced;
    else {
        double hs = (double)w / in->Xsize, vs = (double)h / in->Ysize;
        if (vips_resize(x, &t[1], hs, "vscale", vs, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
        x = t[1];
    }
    if (alpha) {
        if (vips_unpremultiply(x, &t[2], NULL) || vips_cast(t[2], &t[3], in->BandFmt, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
        x = t[3];
    }
    /* vips_resize rounds each side on its own: make the size exact */
    if (x->Xsize > w || x->Ysize > h) {
        if (vips_extract_area(x, &t[4], 0, 0, VIPS_MIN(w, x->Xsize), VIPS_MIN(h, x->Ysize), NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
        x = t[4];
    }
    if (x->Xsize < w || x->Ysize < h) {
        if (vips_embed(x, &t[5], 0, 0, w, h, "extend", VIPS_EXTEND_COPY, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
        x = t[5];
    }
    *out = x;
    return 0;
}

int pl_ops_crop(pl_ctx *c, VipsImage *in, int w, int h, pl_gravity g, VipsImage **out)
{
    int W = in->Xsize, H = in->Ysize;
    w = VIPS_MIN(w, W);
    h = VIPS_MIN(h, H);
    *out = in;
    if (w == W && h == H)
        return 0;
    VipsImage **t = pl_ctx_slot(c);
    if (g == PL_GRAVITY_SMART || g == PL_GRAVITY_ATTENTION || g == PL_GRAVITY_ENTROPY) {
        VipsInteresting i = g == PL_GRAVITY_ENTROPY ? VIPS_INTERESTING_ENTROPY : VIPS_INTERESTING_ATTENTION;
        if (vips_smartcrop(in, t, w, h, "interesting", i, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot smart-crop the image");
        *out = *t;
        return 0;
    }
    /* bimg's offsets: centre ((W-w+1)/2, (H-h+1)/2) */
    int cx = (W - w + 1) / 2, cy = (H - h + 1) / 2, x = cx, y = cy;
    switch (g) {
    case PL_GRAVITY_NORTH:
        y = 0;
        break;
    case PL_GRAVITY_SOUTH:
        y = H - h;
        break;
    case PL_GRAVITY_EAST:
        x = W - w;
        break;
    case PL_GRAVITY_WEST:
        x = 0;
        break;
    case PL_GRAVITY_NORTHEAST:
        x = W - w, y = 0;
        break;
    case PL_GRAVITY_SOUTHEAST:
        x = W - w, y = H - h;
        break;
    case PL_GRAVITY_SOUTHWEST:
        x = 0, y = H - h;
        break;
    case PL_GRAVITY_NORTHWEST:
        x = 0, y = 0;
        break;
    default:
        break;
    }
    if (x > W - w)
        x = W - w;
    if (y > H - h)
        y = H - h;
    if (vips_extract_area(in, t, x, y, w, h, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot crop the image");
    *out = *t;
    return 0;
}

int pl_ops_embed(pl_ctx *c, VipsImage *in, int w, int h, pl_extend ext, pl_color bg, VipsImage **out)
{
    *out = in;
    if (in->Xsize == w && in->Ysize == h)
        return 0;
    VipsExtend e = VIPS_EXTEND_COPY;
    switch (ext) {
    case PL_EXTEND_BLACK:
        e = VIPS_EXTEND_BLACK;
        break;
    case PL_EXTEND_WHITE:
        e = VIPS_EXTEND_WHITE;
        break;
    case PL_EXTEND_MIRROR:
        e = VIPS_EXTEND_MIRROR;
        break;
    case PL_EXTEND_BACKGROUND:
        e = VIPS_EXTEND_BACKGROUND;
        break;
    default: /* copy, and lastpixel (the edge pixel repeated is what "last pixel" means) */
        e = VIPS_EXTEND_COPY;
        break;
    }
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 2);
    if (e == VIPS_EXTEND_BACKGROUND && bg.a < 255 && !vips_image_hasalpha(in) && in->Bands != 2 && in->Bands < 4) {
        /* a see-through background needs an alpha band to be see-through in */
        if (vips_addalpha(in, &t[1], NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot extend the image");
        in = t[1];
    }
    double px[4];
    int n;
    pl_ops_background(in, bg, px, &n);
    VipsArrayDouble *arr = vips_array_double_new(px, n);
    int x = (w - in->Xsize) / 2, y = (h - in->Ysize) / 2;
    int r = vips_embed(in, t, x, y, w, h, "extend", e, "background", arr, NULL);
    vips_area_unref(VIPS_AREA(arr));
    if (r)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot extend the image");
    *out = *t;
    return 0;
}

int pl_ops_extract(pl_ctx *c, VipsImage *in, int left, int top, int w, int h, VipsImage **out)
{
    if (left < 0 || top < 0 || w <= 0 || h <= 0 || (int64_t)left + w > in->Xsize || (int64_t)top + h > in->Ysize)
        return pl_error_set(c->err, PL_E_OPERATION,
                            "extract_area: bad extract area: %dx%d at left=%d, top=%d does not fit inside the %dx%d image", w, h,
                            left, top, in->Xsize, in->Ysize);
    VipsImage **t = pl_ctx_slot(c);
    if (vips_extract_area(in, t, left, top, w, h, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot extract the area");
    *out = *t;
    return 0;
}

int pl_ops_angle_floor(int rotate)
{
    int a = rotate < 0 ? -rotate : rotate;
    a = a / 90 * 90;
    return a > 270 ? 270 : a;
}

int pl_ops_rotate(pl_ctx *c, VipsImage *in, int angle, VipsImage **out)
{
    *out = in;
    VipsAngle a;
    switch (angle) {
    case 90:
        a = VIPS_ANGLE_D90;
        break;
    case 180:
        a = VIPS_ANGLE_D180;
        break;
    case 270:
        a = VIPS_ANGLE_D270;
        break;
    default:
        return 0;
    }
    VipsImage **t = pl_ctx_slot(c);
    if (vips_rot(in, t, a, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot rotate the image");
    *out = *t;
    return 0;
}

int pl_ops_angle_normal(int rotate)
{
    int a = rotate % 360;
    return a < 0 ? a + 360 : a;
}

int pl_ops_rotate_any(pl_ctx *c, VipsImage *in, int angle, pl_color bg, VipsImage **out)
{
    *out = in;
    angle = pl_ops_angle_normal(angle);
    if (angle % 90 == 0)
        return pl_ops_rotate(c, in, angle, out);
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 2);
    if (bg.a < 255 && !vips_image_hasalpha(in)) {
        /* see-through corners need an alpha band to be see-through in */
        if (vips_addalpha(in, &t[0], NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot rotate the image");
        in = t[0];
    }
    double px[4];
    int n;
    pl_ops_background(in, bg, px, &n);
    VipsArrayDouble *arr = vips_array_double_new(px, n);
    /* vips_rotate turns clockwise, as vips_rot; the output is the rotated bounding box. Its affine
     * premultiplies an image with alpha itself: the soft edges keep their colour. */
    int r = vips_rotate(in, &t[1], (double)angle, "background", arr, NULL);
    vips_area_unref(VIPS_AREA(arr));
    if (r)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot rotate the image");
    *out = t[1];
    return 0;
}

int pl_ops_flip(pl_ctx *c, VipsImage *in, bool horizontal, VipsImage **out)
{
    VipsImage **t = pl_ctx_slot(c);
    if (vips_flip(in, t, horizontal ? VIPS_DIRECTION_HORIZONTAL : VIPS_DIRECTION_VERTICAL, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot flip the image");
    *out = *t;
    return 0;
}

int pl_ops_blur(pl_ctx *c, VipsImage *in, double sigma, double minampl, VipsImage **out)
{
    *out = in;
    if (sigma <= 0)
        return 0;
    VipsImage **t = pl_ctx_slot(c);
    int r = minampl > 0 ? vips_gaussblur(in, t, sigma, "min_ampl", minampl, NULL) : vips_gaussblur(in, t, sigma, NULL);
    if (r)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot blur the image");
    *out = *t;
    return 0;
}

int pl_ops_sharpen(pl_ctx *c, VipsImage *in, double sigma, VipsImage **out)
{
    *out = in;
    if (sigma <= 0)
        return 0;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 2);
    if (vips_sharpen(in, &t[0], "sigma", sigma, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot sharpen the image");
    /* vips_sharpen answers in LabS/16-bit for some inputs: back to the input's space and depth */
    if (t[0]->Type != in->Type || t[0]->BandFmt != in->BandFmt) {
        if (vips_colourspace(t[0], &t[1], in->Type, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot sharpen the image");
        *out = t[1];
    } else {
        *out = t[0];
    }
    return 0;
}

int pl_ops_grayscale(pl_ctx *c, VipsImage *in, VipsImage **out)
{
    *out = in;
    if (in->Type == VIPS_INTERPRETATION_B_W || in->Type == VIPS_INTERPRETATION_GREY16)
        return 0;
    VipsImage **t = pl_ctx_slot(c);
    VipsInterpretation to = in->BandFmt == VIPS_FORMAT_USHORT ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_B_W;
    if (vips_colourspace(in, t, to, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot convert the image to greyscale");
    *out = *t;
    return 0;
}

int pl_ops_zoom(pl_ctx *c, VipsImage *in, int factor, VipsImage **out)
{
    *out = in;
    if (factor <= 1)
        return 0;
    uint64_t px = (uint64_t)in->Xsize * factor * (uint64_t)in->Ysize * factor;
    if (c->lim != NULL && c->lim->max_output_pixels > 0 && px > c->lim->max_output_pixels)
        return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS, "Zoomed image too large: %dx%d times %d exceeds the output limit",
                            in->Xsize, in->Ysize, factor);
    VipsImage **t = pl_ctx_slot(c);
    if (vips_zoom(in, t, factor, factor, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot zoom the image");
    *out = *t;
    return 0;
}

int pl_ops_trim(pl_ctx *c, VipsImage *in, double threshold, VipsImage **out)
{
    *out = in;
    /* find_trim's 3x3 median needs at least 3x3 pixels: smaller images have nothing to trim */
    if (threshold <= 0 || in->Xsize < 3 || in->Ysize < 3)
        return 0;
    double *px = NULL;
    int n = 0;
    /* the background is the top-left pixel's colour (as sharp does); find_trim flattens alpha
     * itself and wants the colour bands only */
    if (vips_getpoint(in, &px, &n, 0, 0, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot trim the image");
    if (vips_image_hasalpha(in) && n > 1)
        n--;
    VipsArrayDouble *bg = vips_array_double_new(px, n);
    g_free(px);
    int left, top, w, h;
    int r = vips_find_trim(in, &left, &top, &w, &h, "threshold", threshold, "background", bg, NULL);
    vips_area_unref(VIPS_AREA(bg));
    if (r)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot trim the image");
    if (w <= 0 || h <= 0)
        return 0; /* all background: keep the image rather than answer nothing */
    VipsImage **t = pl_ctx_slot(c);
    if (vips_extract_area(in, t, left, top, w, h, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot trim the image");
    *out = *t;
    return 0;
}

int pl_ops_flatten(pl_ctx *c, VipsImage *in, pl_color bg, VipsImage **out)
{
    *out = in;
    if (!vips_image_hasalpha(in))
        return 0;
    double px[4];
    int n;
    pl_color opaque = bg;
    opaque.a = 255;
    pl_ops_background(in, opaque, px, &n);
    int fast = pl_flatten_mem(c, in, px, out);
    if (fast <= 0)
        return fast;
    VipsArrayDouble *arr = vips_array_double_new(px, n - 1);
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 2);
    int r = vips_flatten(in, &t[0], "background", arr, "max_alpha", pl_ops_max_value(in), NULL);
    vips_area_unref(VIPS_AREA(arr));
    if (r || vips_cast(t[0], &t[1], in->BandFmt, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot flatten the alpha channel");
    *out = t[1];
    return 0;
}
