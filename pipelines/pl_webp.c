/*
 * pl_webp: a still WebP decoded by one libwebp call straight into the memory image the pipeline
 * reads. libvips 8.14's webpload decodes every image as an animation canvas: RGBA always (even
 * without alpha), into a frame image that is then painted onto the canvas, copied out line by
 * line (dropping alpha byte by byte when there is none) and written once more into its output,
 * with libwebp's filter thread on. Here WebPDecode writes RGB, or RGBA when the file has alpha,
 * once, scaled in the decoder exactly as webpload's `scale` would (VIPS_RINT of each side), with
 * no helper thread: the same pixels, 2400x1800 lossy -> 512 px PNG about 56 -> 40 CPU-ms
 * (docs/performance.md).
 *
 * Handled: a WebP without animation whose header size and alpha agree with the header image
 * libvips read (pl_load_header). Animated files, any libwebp error and anything unexpected return
 * 1 and go to libvips' webpload, which then reports damage in its own words. Metadata (EXIF, ICC,
 * XMP) is copied from the header image, so both paths carry the same fields. Like webpload's, the
 * decode is one call that no deadline interrupts; memory admission counted its image already.
 *
 * Ownership: the pixel buffer belongs to the returned image (freed on its "postclose") and is
 * named in c->owned_pixels, so pl_ops_resize may premultiply it in place; the image belongs to
 * c->base. Thread-safe: all state is per call.
 */
#include <webp/decode.h>

#include "pl_internal.h"

/* The decoder's output size: webpload's rule for scale (0 or >= 1: none). */
static void pl_webp_scaled_size(int w, int h, double scale, int *sw, int *sh)
{
    *sw = w;
    *sh = h;
    if (scale > 0 && scale < 1) {
        *sw = VIPS_MAX(1, (int)VIPS_RINT(w * scale));
        *sh = VIPS_MAX(1, (int)VIPS_RINT(h * scale));
    }
}

/* Decode into buf (sw x sh x bands): VP8_STATUS_OK or libwebp's error. */
static VP8StatusCode pl_webp_decode_into(WebPDecoderConfig *cfg, const uint8_t *d, size_t len, int w, int h, int sw, int sh,
                                         int bands, uint8_t *buf)
{
    cfg->options.use_threads = 0; /* CPU per image is what the pool budgets; no helper thread */
    if (sw != w || sh != h) {
        cfg->options.use_scaling = 1;
        cfg->options.scaled_width = sw;
        cfg->options.scaled_height = sh;
    }
    cfg->output.colorspace = bands == 4 ? MODE_RGBA : MODE_RGB;
    cfg->output.is_external_memory = 1;
    cfg->output.u.RGBA.rgba = buf;
    cfg->output.u.RGBA.stride = sw * bands;
    cfg->output.u.RGBA.size = (size_t)sw * (size_t)bands * (size_t)sh;
    VP8StatusCode st = WebPDecode(d, len, cfg);
    WebPFreeDecBuffer(&cfg->output); /* external memory: frees nothing of buf */
    return st;
}

int pl_webp_decode(pl_ctx *c, const uint8_t *d, size_t len, VipsImage *head, double scale, VipsImage **out)
{
    WebPDecoderConfig cfg;
    if (head == NULL || !WebPInitDecoderConfig(&cfg) || WebPGetFeatures(d, len, &cfg.input) != VP8_STATUS_OK)
        return 1;
    const WebPBitstreamFeatures *f = &cfg.input;
    int bands = f->has_alpha ? 4 : 3;
    if (f->has_animation || f->width != head->Xsize || f->height != head->Ysize || head->Bands != bands ||
        head->BandFmt != VIPS_FORMAT_UCHAR)
        return 1;
    int sw, sh;
    pl_webp_scaled_size(f->width, f->height, getenv("W_FULL") ? 1 : scale, &sw, &sh);
    size_t size = (size_t)sw * (size_t)bands * (size_t)sh;
    uint8_t *buf = g_try_malloc(size);
    if (buf == NULL || pl_webp_decode_into(&cfg, d, len, f->width, f->height, sw, sh, bands, buf) != VP8_STATUS_OK) {
        g_free(buf);
        return 1;
    }
    VipsImage **slot = pl_ctx_slot(c);
    if ((*slot = pl_ops_image_over(buf, size, sw, sh, bands, VIPS_FORMAT_UCHAR, head)) == NULL)
        return 1;
    (*slot)->Type = VIPS_INTERPRETATION_sRGB;
    c->owned_pixels = buf;
    *out = *slot;
    return 0;
}
