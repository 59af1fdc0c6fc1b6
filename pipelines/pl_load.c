/*
 * pl_load: from bytes in memory to the first libvips image of the pipeline.
 *
 * pl_load_header() reads only the header (no pixel decode) with the loader of the sniffed format,
 * and checks pl_limits (pixels per frame, decode-memory estimate) before anything is decoded: a
 * 65536x65536 PNG bomb is refused in milliseconds. pl_load_image() then opens the input for
 * processing with shrink-on-load: for JPEG the smallest DCT scale m/8 whose result still covers
 * the target size (sharp's fastShrinkOnLoad, Pillow's draft; libvips 8.14's thumbnail keeps at
 * least 2x the target), decoded by TurboJPEG into memory (pl_jpeg_scaled.c: up to 16 MP, YCbCr
 * or grey) or else by libvips' jpegload at 1/2, 1/4, 1/8 (streaming, interruptible); WebP's
 * `scale`; HEIF's embedded thumbnail when it is large enough. The remaining reduction is
 * vips_resize's job (pl_ops_resize; pl_reduce_u8 for 8-bit downscales). Sequential
 * access unless the plan needs random access (pl_run asks for it for every still GIF; an animation
 * is read one frame at a time: see there).
 * Colour is brought to sRGB here (embedded ICC profiles, CMYK with libvips' built-in profile when
 * none is embedded), after the cheap shrink; 8-bit RGB in memory by pl_icc's cached transforms.
 * An 8-bit RGB profile of a plan with one still step is left to pl_geometry (c->icc_defer,
 * c->icc_pending), which converts after the resize when the step allows.
 *
 * Errors are classified by the stage that failed, never by libvips' error text (one buffer shared
 * by every thread, so it can hold another run's failure; it is copied into err->detail for the
 * log only): a format not allowed, a loader libvips blocks (VIPS_OPERATION_BLOCKED: SVG, PDF,
 * JPEG 2000 unless allow_untrusted) and a JPEG coding process libjpeg-turbo lacks (lossless,
 * hierarchical: the SOFn marker) are decided from the bytes and the flags before any loader runs;
 * a loader that fails on the header is PL_E_DECODE; pixels are decoded lazily later, in whatever
 * call first reads them, so every image a loader returns is wrapped in a guard
 * (pl_load_guard) that marks this run's ctx->load_failed when the loader fails there, and
 * pl_cancel_fail then reports PL_E_DECODE unless this run's kill fired.
 *
 * Damaged files: fail_on=error. libvips' default (none) would serve a truncated JPEG/PNG with its
 * missing part grey, and a CDN would cache that; sharp's fail-on=warning refuses many real phone
 * JPEGs over harmless warnings ("extraneous bytes before marker"). At "error", truncated pixel
 * data and CRC errors in it are PL_E_DECODE (the client can retry the upload), warnings pass.
 * Headers that do not parse are PL_E_DECODE too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_internal.h"

typedef struct pl_load_opts {
    VipsAccess access;
    int n;          /* pages/frames to load (GIF/WebP); 1 = first only */
    int shrink;     /* JPEG DCT shrink 1,2,4,8 */
    double scale;   /* WebP scale, 0 = none */
    bool thumbnail; /* HEIF/AVIF embedded thumbnail */
    int png_shrink; /* PNG: 1, or 2 for a 2x2 box while the fast path decodes (pl_png.c) */
} pl_load_opts;

/* The guard between a loader and the rest of the run: passes the loader's pixels on (pointer, no
 * copy) and, when the loader fails to produce them, marks the run (ctx->load_failed) so that the
 * call that was evaluating reports a decode error. Runs on libvips' threads: only the atomic. */
static int pl_load_guard_gen(VipsRegion *out, void *seq, void *a, void *b, gboolean *stop)
{
    VipsRegion *ir = seq;
    pl_ctx *c = b;
    (void)a;
    (void)stop;
    if (vips_region_prepare(ir, &out->valid)) {
        atomic_store(&c->load_failed, 1);
        return -1;
    }
    return vips_region_region(out, ir, &out->valid, out->valid.left, out->valid.top);
}

static int pl_load_guard(pl_ctx *c, VipsImage *in, VipsImage **out)
{
    VipsImage **t = pl_ctx_slot(c);
    *t = vips_image_new();
    if (vips_image_pipelinev(*t, VIPS_DEMAND_STYLE_THINSTRIP, in, NULL) ||
        vips_image_generate(*t, vips_start_one, pl_load_guard_gen, vips_stop_one, in, c))
        return -1;
    *out = *t;
    return 0;
}

/* The JPEG coding processes libjpeg-turbo 2.1 cannot decode, by SOFn n (pl_jpeg_markers); NULL:
 * baseline, extended, progressive, arithmetic. */
static const char *const pl_load_jpeg_unsupported[16] = {
    [3] = "lossless",
    [5] = "differential sequential",
    [6] = "differential progressive",
    [7] = "differential lossless",
    [11] = "lossless, arithmetic-coded",
    [13] = "differential sequential, arithmetic-coded",
    [14] = "differential progressive, arithmetic-coded",
    [15] = "differential lossless, arithmetic-coded",
};

/* A JPEG the loaders must not see: a coding process libjpeg-turbo lacks (a decode error: the body
 * is the JPEG it says it is, and imaginary answers it as one), named, before the loader says
 * "damaged"; more scans than PL_JPEG_MAX_SCANS (a decoder bomb). overlay: the watermark image. */
static int pl_load_jpeg_check(pl_ctx *c, const uint8_t *d, size_t len, bool overlay)
{
    int sof, scans = pl_jpeg_markers(d, len, PL_JPEG_MAX_SCANS, &sof);
    const char *which = overlay ? "the watermark image's" : "this";
    if (sof >= 0 && pl_load_jpeg_unsupported[sof] != NULL)
        return pl_error_set(c->err, PL_E_DECODE,
                            "Unsupported JPEG process (%s, SOF%d): this server decodes baseline, extended and progressive "
                            "JPEG; save %s image as one of those",
                            pl_load_jpeg_unsupported[sof], sof, overlay ? "the watermark" : "the");
    if (scans > PL_JPEG_MAX_SCANS)
        return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS,
                            "Image too complex: %s JPEG has more than %d scans, each a full decoding pass (a decoder bomb); "
                            "save it again with an ordinary encoder",
                            which, PL_JPEG_MAX_SCANS);
    return 0;
}

/* Run the format's own loader (never libvips' guess) with opts; *out owned by c->base.
 * -2: libvips blocks this loader (untrusted, and allow_untrusted is off); -1: it failed. */
static int pl_load_run(pl_ctx *c, pl_format f, const uint8_t *d, size_t len, const pl_load_opts *o, VipsImage **out)
{
    const char *name = pl_format_get(f)->loader;
    VipsOperation *op = name != NULL ? vips_operation_new(name) : NULL;
    if (op == NULL)
        return -1;
    if (vips_operation_get_flags(op) & VIPS_OPERATION_BLOCKED) {
        g_object_unref(op);
        return -2;
    }
    VipsBlob *blob = vips_blob_new(NULL, d, len);
    g_object_set(op, "buffer", blob, "access", o->access, "fail_on", VIPS_FAIL_ON_ERROR, NULL);
    vips_area_unref(VIPS_AREA(blob));
    if (o->n != 1 && pl_format_get(f)->animates)
        g_object_set(op, "n", o->n, NULL);
    if (o->shrink > 1 && f == PL_FMT_JPEG)
        g_object_set(op, "shrink", o->shrink, NULL);
    if (o->scale > 0 && o->scale < 1 && f == PL_FMT_WEBP)
        g_object_set(op, "scale", o->scale, NULL);
    if (o->thumbnail && (f == PL_FMT_HEIF || f == PL_FMT_AVIF))
        g_object_set(op, "thumbnail", TRUE, NULL);
    if (vips_cache_operation_buildp(&op)) {
        vips_object_unref_outputs(VIPS_OBJECT(op));
        g_object_unref(op);
        return -1;
    }
    VipsImage **slot = pl_ctx_slot(c);
    g_object_get(op, "out", slot, NULL);
    vips_object_unref_outputs(VIPS_OBJECT(op));
    g_object_unref(op);
    *out = *slot;
    return 0;
}

int pl_load_header(pl_ctx *c, const uint8_t *data, size_t len, pl_probe_info *pi)
{
    memset(pi, 0, sizeof(*pi));
    if (data == NULL || len == 0)
        return pl_error_set(c->err, PL_E_EMPTY, "Empty or unreadable image");
    pl_format f = pl_sniff(data, len);
    if (f == PL_FMT_UNKNOWN)
        return pl_error_set(c->err, PL_E_UNSUPPORTED_INPUT, "Unsupported media type: the body is not an image in a known format");
    if (c->lim != NULL && !(c->lim->allowed_inputs & (1u << f)))
        return pl_error_set(c->err, PL_E_UNSUPPORTED_INPUT, "Unsupported media type: %s input is not allowed on this server",
                            pl_encode_name(f));
    if (f == PL_FMT_JPEG && pl_load_jpeg_check(c, data, len, false))
        return -1;
    pl_load_opts o = {.access = VIPS_ACCESS_SEQUENTIAL, .n = 1, .shrink = 1};
    VipsImage *img;
    int r = pl_load_run(c, f, data, len, &o, &img);
    if (r == -2) /* SVG, PDF, JPEG 2000: libvips' untrusted loaders, off unless allow_untrusted */
        return pl_error_set(c->err, PL_E_UNSUPPORTED_INPUT,
                            "Unsupported media type: %s input needs libvips' untrusted loaders, which this server disables",
                            pl_encode_name(f));
    if (r != 0)
        return pl_error_set_vips(c->err, PL_E_DECODE, "Cannot read the %s image header: the file is damaged or truncated",
                                 pl_encode_name(f));
    pi->format = f;
    pi->width = img->Xsize;
    pi->height = vips_image_get_page_height(img);
    pi->bands = img->Bands;
    pi->pages = vips_image_get_n_pages(img);
    pi->orientation = vips_image_get_typeof(img, VIPS_META_ORIENTATION) ? vips_image_get_orientation(img) : 0;
    uint64_t frames = pl_format_get(f)->animates ? (uint64_t)pi->pages : 1;
    pi->decode_bytes =
        (uint64_t)pi->width * (uint64_t)pi->height * (uint64_t)img->Bands * (uint64_t)vips_format_sizeof(img->BandFmt) * frames;
    if (f == PL_FMT_PNG) {
        /* the PNG fast path's peak (pl_png.c): an Adam7 image is inflated whole and then put in
         * place in a second buffer (counted for every interlaced PNG: more than pngload needs for
         * those the fast path leaves to it); grey or RGB with a tRNS colour key (IHDR's colour type
         * 0 or 2, an alpha band in libvips' header) is grown by its alpha band, which may move it;
         * an 8-bit palette image's indices sit beside its expanded pixels (1, 2 and 4-bit ones go
         * to pngload) */
        int interlaced = 0, palette_bits = 0;
        bool keyed = len > 25 && (data[25] == 0 || data[25] == 2) && (img->Bands == 2 || img->Bands == 4);
        if ((vips_image_get_typeof(img, "interlaced") && vips_image_get_int(img, "interlaced", &interlaced) == 0 && interlaced) ||
            keyed)
            pi->decode_bytes *= 2;
        else if (vips_image_get_typeof(img, "palette-bit-depth") &&
                 vips_image_get_int(img, "palette-bit-depth", &palette_bits) == 0 && palette_bits == 8)
            pi->decode_bytes += (uint64_t)pi->width * (uint64_t)pi->height;
    }
    c->head = img;
    c->in_format = f;
    c->in_width = pi->width;
    c->in_height = pi->height;
    c->in_bands = pi->bands;
    c->in_pages = pi->pages;
    c->orientation = pi->orientation;
    c->in_alpha = vips_image_hasalpha(img);
    return 0;
}

int pl_load_open(pl_ctx *c, pl_probe_info *info, pl_result *out)
{
    if (pl_cancel_check(c) || pl_load_header(c, c->in->data, c->in->len, info))
        return -1;
    out->in_format = c->in_format;
    out->in_width = c->in_width;
    out->in_height = c->in_height;
    return 0;
}

/* Limits from the header, before any pixel is decoded. frames = frames that will be decoded. */
int pl_load_check_limits(pl_ctx *c, const pl_probe_info *pi, int frames)
{
    const pl_limits *lim = c->lim;
    if (lim == NULL)
        return 0;
    uint64_t px = (uint64_t)pi->width * (uint64_t)pi->height;
    if (lim->max_input_pixels > 0 && px > lim->max_input_pixels)
        return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS,
                            "Image resolution is too big: %dx%d is %.1f megapixels, this server accepts up to %.1f", pi->width,
                            pi->height, px / 1e6, lim->max_input_pixels / 1e6);
    uint64_t per_frame = pi->decode_bytes / (uint64_t)(pl_format_get(pi->format)->animates && pi->pages > 0 ? pi->pages : 1);
    uint64_t need = per_frame * (uint64_t)(frames > 0 ? frames : 1);
    if (lim->max_decode_bytes > 0 && need > lim->max_decode_bytes)
        return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS,
                            "Image too large to decode: it needs about %llu MB, this server allows %llu MB; send fewer frames or "
                            "pixels",
                            (unsigned long long)(need >> 20), (unsigned long long)(lim->max_decode_bytes >> 20));
    return 0;
}

/* ICC profile that says it is sRGB: converting it to sRGB would be wasted work. */
bool pl_load_profile_is_srgb(VipsImage *img)
{
    const void *data = NULL;
    size_t len = 0;
    if (vips_image_get_blob(img, VIPS_META_ICC_NAME, &data, &len) || data == NULL || len < 132)
        return false;
    return memmem(data, len, "sRGB", 4) != NULL || memmem(data, len, "s\0R\0G\0B", 7) != NULL;
}

int pl_load_to_srgb(pl_ctx *c, VipsImage *in, VipsImage **out)
{
    bool cmyk = in->Type == VIPS_INTERPRETATION_CMYK;
    bool has_icc = vips_image_get_typeof(in, VIPS_META_ICC_NAME) != 0;
    *out = in;
    if (!cmyk && (!has_icc || in->Bands < 3 || pl_load_profile_is_srgb(in)))
        return 0;
    if (c->icc_defer && !cmyk && in->Bands == 3 && in->BandFmt == VIPS_FORMAT_UCHAR) {
        c->icc_pending = true; /* pl_geometry converts it, at the output's size when it can */
        return 0;
    }
    int fast = cmyk ? 1 : pl_icc_to_srgb(c, in, out);
    if (fast <= 0)
        return fast;
    VipsImage **t = pl_ctx_slot(c);
    int depth = in->BandFmt == VIPS_FORMAT_USHORT ? 16 : 8;
    int r = cmyk ? vips_icc_transform(in, t, "srgb", "input_profile", "cmyk", "embedded", TRUE, "depth", depth, NULL)
                 : vips_icc_transform(in, t, "srgb", "embedded", TRUE, "depth", depth, NULL);
    if (r == 0) {
        *out = *t;
        return 0;
    }
    /* A broken embedded profile: decode as if untagged rather than refuse the image (libvips'
     * text about it stays in its shared buffer: never cleared here, another run may need its own). */
    if (cmyk) {
        if (vips_colourspace(in, t, VIPS_INTERPRETATION_sRGB, NULL))
            return pl_cancel_fail(c, PL_E_DECODE, "Cannot convert the CMYK image to sRGB");
    } else {
        if (vips_copy(in, t, NULL))
            return pl_cancel_fail(c, PL_E_INTERNAL, "Cannot copy the image");
        vips_image_remove(*t, VIPS_META_ICC_NAME);
    }
    *out = *t;
    return 0;
}

/* JPEG: libvips' DCT shrink (o->shrink) and the TurboJPEG scale m/8 (returned, 8 = none) for a
 * w x h image brought to cover tw x th. */
static int pl_load_jpeg_scale(int w, int h, int tw, int th, pl_load_opts *o)
{
    int jpeg_m = 8;
    /* floor, not libjpeg's ceil: libvips 8.14 sizes the shrunk image w / s and aborts
     * (assertion, whole process) when a side comes out 0, e.g. a 1x118 JPEG at 1/4 */
    for (int s = 8; s > 1; s /= 2)
        if (w / s >= tw && h / s >= th && w / s >= 1 && h / s >= 1) {
            o->shrink = s;
            break;
        }
    /* libjpeg-turbo scales at any m/8 to ceil(w * m / 8) (TurboJPEG's size; libvips' is the
     * floor above): the smallest m below libvips' scale that covers the target goes through
     * TurboJPEG (pl_jpeg_scaled.c). That is 3/8, 5/8, 6/8, 7/8, which libvips never asks
     * for (1600x1203 -> 1200x902 at 6/8), and 1/8, 2/8, 4/8 where only the floor misses
     * the target by a row (1600x1203 -> 800x602 at 4/8; libvips' 1/2 is 800x601). */
    for (int m = 1; m < 8 / o->shrink; m++) {
        int64_t mw = ((int64_t)w * m + 7) / 8, mh = ((int64_t)h * m + 7) / 8;
        if (mw >= tw && mh >= th) {
            jpeg_m = m;
            break;
        }
    }
    /* libvips' own scales too: TurboJPEG's whole decode into memory skips jpegload's
     * region and line-cache work, 3-4 CPU-ms of a 12 MP 4000x3000 thumbnail at 1/4 (43 ->
     * 39 ms, identical pixels), and the pixels come out in memory, which the reduce after
     * it wants (pl_reduce_u8). Above pl_jpeg_scaled's size limit jpegload streams. */
    if (jpeg_m == 8 && o->shrink > 1)
        jpeg_m = 8 / o->shrink;
    return jpeg_m;
}

/* WebP: the decoder scales only below this (see pl_load_webp_scale) */
#define PL_LOAD_WEBP_MAX_SCALE (2.0 / 3.0)

/* WebP: the decoder's scale (o->scale) for a w x h image brought to tw x th. */
static void pl_load_webp_scale(int w, int h, int tw, int th, pl_load_opts *o)
{
    /* libwebp scales in its decoder with a box filter: asked for the target itself it
     * lands 33 dB PSNR from the exact (full decode + lanczos3) result on a 1024->300
     * photo; at twice the target, 41 dB for ~30% more CPU (15.5 -> 20.7 ms). 1.9x, not
     * 2x: lanczos3 is then left a reduce just inside (0.5, 1), which pl_reduce_u8
     * runs on reducev, where exactly 2x left vips_resize a 2x2 box and a lanczos3 of 1.0.
     * Closer to the exact result and cheaper (1024->300: 40.9 -> 41.4 dB; 2400x1800 lossy
     * -> 600 px: 44.5 -> 45.2; 2400x1500: 45.4 -> 46.1; 2-4% less CPU). Never below 1 px.
     * Not at all when it would keep 2/3 of each side or more: Debian's libwebp 1.2.4 rescales
     * (every row, every channel) at more cost than a full decode leaves to pl_lanczos (2400x1800
     * -> 1000 px JPEG: lossy 51.6 -> 42.5 CPU-ms, with alpha 68.8 -> 56.4, lossless 119.3 ->
     * 102.2; at a scale of 0.63 both cost the same, below 0.6 the decoder's scale wins). */
    double sx = (double)tw / w, sy = (double)th / h;
    double s = 1.9 * (sx > sy ? sx : sy);
    double floor_s = 1.0 / (w < h ? w : h);
    if (s < floor_s)
        s = floor_s;
    if (s < PL_LOAD_WEBP_MAX_SCALE)
        o->scale = s;
}

/* HEIF/AVIF: the embedded thumbnail (o->thumbnail) when it is smaller than the image and still
 * covers tw x th. */
static void pl_load_heif_thumbnail(pl_ctx *c, int tw, int th, pl_load_opts *o)
{
    pl_load_opts th_o = *o;
    th_o.thumbnail = true;
    VipsImage *thumb;
    if (pl_load_run(c, c->in_format, c->in->data, c->in->len, &th_o, &thumb) == 0 && thumb->Xsize < c->in_width &&
        thumb->Xsize >= tw && thumb->Ysize >= th)
        o->thumbnail = true;
}

/* Shrink-on-load for a target tw x th (upright; 0 = none): fills o, returns the TurboJPEG m/8. */
static int pl_load_shrink(pl_ctx *c, int tw, int th, pl_load_opts *o)
{
    int w = c->in_width, h = c->in_height;
    /* the target is upright; the loader works on the stored orientation */
    if (c->orientation >= 5 && c->lw == h && c->lh == w && w != h) {
        int t = tw;
        tw = th;
        th = t;
    }
    if (!(tw > 0 && th > 0 && (tw < w || th < h)))
        return 8;
    if (c->in_format == PL_FMT_JPEG)
        return pl_load_jpeg_scale(w, h, tw, th, o);
    /* PNG: a 2x2 box while decoding (pl_png.c) when the input is 3x the target or more, so that
     * lanczos3 still reduces by 1.5 or more after it (>= 40 dB from lanczos3 alone; 44 at 2x) */
    if (c->in_format == PL_FMT_PNG && (int64_t)w >= 3 * (int64_t)tw && (int64_t)h >= 3 * (int64_t)th)
        o->png_shrink = 2;
    if (c->in_format == PL_FMT_WEBP)
        pl_load_webp_scale(w, h, tw, th, o);
    else if (c->in_format == PL_FMT_HEIF || c->in_format == PL_FMT_AVIF)
        pl_load_heif_thumbnail(c, tw, th, o);
    return 8;
}

/* The engine's own decoders (pl_png.c, pl_jpeg_scaled.c, pl_webp.c) when they take the input: 0
 * with *img, else 1 (libvips' loader then). */
static int pl_load_own_decoder(pl_ctx *c, int jpeg_m, const pl_load_opts *o, VipsImage **img)
{
    /* PL_NO_FAST_PNG (IMGPIPE_NO_FAST_PNG=1): libvips' pngload only (A/B measurements and tests) */
    if (c->in_format == PL_FMT_PNG && !pl_engine_switched_off(PL_NO_FAST_PNG) &&
        pl_png_decode(c, c->in->data, c->in->len, c->head, o->png_shrink, img) == 0)
        return 0;
    /* PL_NO_FAST_WEBP (IMGPIPE_NO_FAST_WEBP=1): libvips' webpload only (animations always) */
    if (c->in_format == PL_FMT_WEBP && !pl_engine_switched_off(PL_NO_FAST_WEBP) &&
        pl_webp_decode(c, c->in->data, c->in->len, c->head, o->scale, img) == 0)
        return 0;
    /* PL_NO_JPEG_MSCALE (IMGPIPE_NO_JPEG_MSCALE=1): libvips' jpegload at 1/2, 1/4, 1/8 only (A/B measurements and tests) */
    if (c->in_format == PL_FMT_JPEG && jpeg_m < 8 && !pl_engine_switched_off(PL_NO_JPEG_MSCALE) &&
        pl_jpeg_scaled_decode(c, c->in->data, c->in->len, c->head, jpeg_m, img) == 0)
        return 0;
    return 1;
}

int pl_load_image(pl_ctx *c, int n_frames, int tw, int th, bool random, VipsImage **out)
{
    pl_load_opts o = {.access = random ? VIPS_ACCESS_RANDOM : VIPS_ACCESS_SEQUENTIAL, .n = n_frames, .shrink = 1, .png_shrink = 1};
    int jpeg_m = pl_load_shrink(c, tw, th, &o);
    VipsImage *img = c->head;
    if (pl_load_own_decoder(c, jpeg_m, &o, &img) == 0) {
        c->head = img;
        pl_cancel_attach(c, img);
        return pl_load_to_srgb(c, img, out);
    }
    img = c->head;
    bool same = o.shrink == 1 && o.scale == 0 && !o.thumbnail && !random && n_frames == 1;
    /* the header's image was opened exactly like this: reuse it (GIF headers scan every frame) */
    if (!same || img == NULL) {
        if (pl_load_run(c, c->in_format, c->in->data, c->in->len, &o, &img))
            return pl_error_set_vips(c->err, PL_E_DECODE, "Cannot decode the %s image: the file is damaged or truncated",
                                     pl_encode_name(c->in_format));
    }
    if (pl_load_guard(c, img, &img))
        return pl_error_set_vips(c->err, PL_E_INTERNAL, "Cannot set up the image pipeline");
    c->head = img;
    pl_cancel_attach(c, img);
    return pl_load_to_srgb(c, img, out);
}

int pl_load_overlay(pl_ctx *c, VipsImage **out)
{
    const pl_input *in = c->in;
    if (in->overlay == NULL || in->overlay_len == 0)
        return pl_error_set(c->err, PL_E_MISSING_PARAM, "Missing required param: image (the watermark image is empty)");
    pl_format f = pl_sniff(in->overlay, in->overlay_len);
    if (f == PL_FMT_UNKNOWN || (c->lim != NULL && !(c->lim->allowed_inputs & (1u << f))))
        return pl_error_set(c->err, PL_E_UNSUPPORTED_INPUT,
                            "Unsupported media type: the watermark image is not an allowed image type");
    if (f == PL_FMT_JPEG && pl_load_jpeg_check(c, in->overlay, in->overlay_len, true))
        return -1;
    pl_load_opts o = {.access = VIPS_ACCESS_RANDOM, .n = 1, .shrink = 1};
    VipsImage *img;
    int r = pl_load_run(c, f, in->overlay, in->overlay_len, &o, &img);
    if (r == -2)
        return pl_error_set(c->err, PL_E_UNSUPPORTED_INPUT,
                            "Unsupported media type: the watermark image needs libvips' untrusted loaders, which this server "
                            "disables");
    if (r != 0 || pl_load_guard(c, img, &img))
        return pl_error_set_vips(c->err, PL_E_DECODE, "Cannot decode the watermark image");
    uint64_t px = (uint64_t)img->Xsize * (uint64_t)img->Ysize;
    if (c->lim != NULL && c->lim->max_input_pixels > 0 && px > c->lim->max_input_pixels)
        return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS, "Watermark image resolution is too big: %dx%d", img->Xsize, img->Ysize);
    VipsImage *t;
    if (pl_ops_autorot(c, img, &t) || pl_load_to_srgb(c, t, &t))
        return -1;
    VipsImage **s = (VipsImage **)vips_object_local_array(c->base, 3);
    if (t->Type != VIPS_INTERPRETATION_sRGB || t->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(t, &s[0], VIPS_INTERPRETATION_sRGB, NULL) || vips_cast_uchar(s[0], &s[1], NULL))
            return pl_error_set_vips(c->err, PL_E_DECODE, "Cannot convert the watermark image to sRGB");
        t = s[1];
    }
    if (!vips_image_hasalpha(t)) {
        if (vips_addalpha(t, &s[2], NULL))
            return pl_error_set_vips(c->err, PL_E_INTERNAL, "Cannot add alpha to the watermark image");
        t = s[2];
    }
    *out = t;
    return 0;
}
