/*
 * pl_internal: what the engine's files (pl_engine.c, pl_load.c, pl_geometry.c, pl_ops.c,
 * pl_watermark.c, pl_encode.c, pl_info.c, pl_cancel.c, pl_sniff.c, pl_png.c, pl_png_write.c)
 * share. Not part of the public contract (pl_engine.h): nothing outside pipelines/ includes this.
 *
 * DESIGN: one pl_ctx per pl_run() call, on the calling thread's stack. Every libvips image made
 * during the run is owned by ctx->base through vips_object_local_array(), so a single
 * g_object_unref(base) at the end frees everything, on success and failure alike. Image pointers
 * returned by the helpers below are borrowed from base: never unref them.
 */
#ifndef PL_INTERNAL_H
#define PL_INTERNAL_H

#include <vips/vips.h>

#include "pl_engine.h"

#define PL_MAX_FRAMES_HARD 1024

typedef struct pl_ctx {
    VipsObject *base; /* owns every image of this run */
    const pl_plan *plan;
    const pl_input *in;
    const pl_limits *lim;
    pl_control *ctl;
    pl_error *err;

    /* input facts, from the header */
    pl_format in_format;
    int in_width, in_height; /* stored size of one frame */
    int in_bands, in_pages, orientation;
    bool in_alpha;
    VipsImage *head;    /* first image of the pipeline: progress/kill hang off it */
    VipsImage *overlay; /* watermarkimage's second image, loaded once per run */

    /* current logical size of one upright frame (the original's, until a step resizes) */
    int lw, lh;
    int n_frames;  /* frames being processed (1 for still images) */
    bool animated; /* n_frames > 1 */

    /* output */
    pl_format out_format;
    bool out_format_asked; /* type= named it (or Accept chose it): no silent fallback */
    bool vary_accept;
    bool keep_meta;       /* false: strip metadata on save */
    bool keep_profile;    /* false: drop the ICC profile */
    atomic_int kill_code; /* set by the eval callback (any thread): PL_E_CANCELLED / PL_E_DEADLINE */
    /* set (any thread) when this run's loader failed to deliver pixels during an evaluation
     * (pl_load's guard): a later failing call reports PL_E_DECODE, whatever stage evaluated */
    atomic_int load_failed;

    /* Pixels this run decoded itself into memory (pl_png's buffer) that nothing but the decoded
     * image reads: the step that replaces that image may rewrite them in place (pl_ops_resize's
     * premultiply) and then clears this. A step that derives a second image from the decoded one
     * while keeping the first in use must clear it first. */
    const void *owned_pixels;
    /* The pixels of a decoded image with an alpha of 255 (65535) everywhere (pl_png saw it while
     * unfiltering): premultiplying them is a no-op that pl_ops_resize skips. Read-only. */
    const void *opaque_pixels;
    /* /renditions: an output's resized pixels may be a later output's source, so a step must leave
     * them as the picture is (no flatten for one output's format: pl_geometry_flatten_first) */
    bool shared_sources;
    /* Embedded RGB profile: icc_defer (set around the main image's load, one still step) lets
     * pl_load_to_srgb leave the conversion for later and say so in icc_pending; pl_geometry then
     * converts at the output's size when nothing in the step depends on the colours, else first */
    bool icc_defer, icc_pending;
    /* premul_decode (set around the main image's load by pl_engine_load, when the step's first
     * pixel reader is pl_ops_resize): pl_png may hand over an image with alpha whose colours are
     * already premultiplied, shrunk on load, and then sets premul_pending; pl_ops_resize takes it
     * as premultiplied and clears it (pl_engine unpremultiplies what is left pending after the
     * steps) */
    bool premul_decode, premul_pending;
} pl_ctx;

/* im is the decoded image whose alpha pl_png found at 255 everywhere (c->opaque_pixels) */
static inline bool pl_ctx_opaque(const pl_ctx *c, const VipsImage *im)
{
    return c->opaque_pixels != NULL && c->opaque_pixels == im->data;
}

/* A fresh slot owned by ctx->base, for one libvips output. */
static inline VipsImage **pl_ctx_slot(pl_ctx *c)
{
    return (VipsImage **)vips_object_local_array(c->base, 1);
}

/* pl_engine.c: is the fast path of this PL_NO_* bit switched off (pl_engine_config.switches)? */
bool pl_engine_switched_off(unsigned bit);
/* pl_engine.c: malloc_trim() unless pl_engine_config.keep_malloc (after HEIF/AVIF codecs) */
void pl_engine_trim(void);
/* pl_engine.c: a zeroed context for one run, with a fresh base (the caller unrefs c->base) */
void pl_engine_ctx_init(pl_ctx *c, const pl_plan *plan, const pl_input *in, const pl_limits *lim, pl_control *ctl, pl_error *err);

/* pl_cancel.c */
void pl_cancel_attach(pl_ctx *c, VipsImage *img);
int pl_cancel_check(pl_ctx *c);
/* After a failed libvips call: fill err with the cancel/deadline code if this run's kill fired
 * (or its cancel/deadline is due), else PL_E_DECODE if this run's loader failed during the call's
 * evaluation (c->load_failed), else code + what. Never from libvips' error text, which is shared
 * by every thread: that text only goes to err->detail. Returns -1. */
int pl_cancel_fail(pl_ctx *c, pl_code code, const char *what);

/* pl_load.c */
int pl_load_header(pl_ctx *c, const uint8_t *data, size_t len, pl_probe_info *info);
/* A run's first step: cancel check, then the header of c->in, its format and size copied into out. */
int pl_load_open(pl_ctx *c, pl_probe_info *info, pl_result *out);
/* Limits from the header before any decode; frames = frames that will be decoded. */
int pl_load_check_limits(pl_ctx *c, const pl_probe_info *pi, int frames);
/* Load the input for processing. tw/th: upright size the whole image will be resized to
 * (0 = no downscale known): picks the shrink-on-load. random: the plan needs random access. */
int pl_load_image(pl_ctx *c, int n_frames, int tw, int th, bool random, VipsImage **out);
/* Embedded ICC profiles and CMYK to sRGB (sRGB-tagged and untagged RGB/grey left alone). */
int pl_load_to_srgb(pl_ctx *c, VipsImage *in, VipsImage **out);
/* pl_icc.c: an 8-bit RGB(A) image in memory with an embedded RGB profile converted to sRGB by a
 * cached lcms2 transform (the pixels and profile libvips' icc_transform gives), in place when the
 * run owns the pixels. 0 done, 1 not applicable (libvips' path), -1 cancelled (c->err set). */
int pl_icc_to_srgb(pl_ctx *c, VipsImage *in, VipsImage **out);
/* How many conversions pl_icc_to_srgb has made in this process (tests). */
uint64_t pl_icc_conversions(void);
/* The image carries an ICC profile that says it is sRGB (pl_load_to_srgb leaves those alone). */
bool pl_load_profile_is_srgb(VipsImage *img);
/* Load the overlay image of watermarkimage (sniffed, limit-checked, sRGB with alpha). */
int pl_load_overlay(pl_ctx *c, VipsImage **out);

/* pl_png.c: 8/16-bit grey/RGB(A) non-interlaced PNG through libdeflate into a memory image, with
 * head's metadata; shrink 2: an 8-bit image without alpha or with an alpha of 255 everywhere comes
 * out at half the size (ceil), 2x2 box means. 0 = decoded (*out owned by c->base), 1 = not
 * handled: use libvips' pngload. */
int pl_png_decode(pl_ctx *c, const uint8_t *data, size_t len, VipsImage *head, int shrink, VipsImage **out);

/* pl_png_write.c: 8-bit grey/RGB(A) non-interlaced PNG of an in-memory image through libdeflate
 * (IHDR, pHYs, iCCP when icc and the image has a profile, IDAT, IEND; no other metadata).
 * 0 = written (*buf g_malloc'd, the caller's), 1 = not handled (use pngsave), -1 = no memory. */
typedef enum { PL_PNGW_PAETH, PL_PNGW_NONE } pl_pngw_filter;
typedef struct {
    int level; /* libdeflate level, 0 (stored) .. 12 */
    pl_pngw_filter filter;
    bool icc; /* write the image's ICC profile as iCCP */
} pl_pngw_opts;
int pl_png_write(VipsImage *im, const pl_pngw_opts *o, void **buf, size_t *len);
/* Levels chosen by measurement (docs/performance.md): Paeth at 1, unfiltered flat images at 8. */
#define PL_PNGW_FAST_LEVEL 1
#define PL_PNGW_FLAT_LEVEL 8

/* pl_jpeg_write.c: baseline JPEG of an 8-bit sRGB or grey image in memory (x->data), the bytes
 * jpegsave writes with subsample_mode auto, and strip = !meta (meta: x's EXIF block is rebuilt in
 * place, as jpegsave does). 0 = written (*buf malloc'd, the caller's: g_free), 1 = not an image it
 * writes (use jpegsave), -1 = no memory (or libjpeg failed, with c NULL), -2 = libjpeg failed,
 * cancelled or past the deadline (c->err filled; c may be NULL: no checks). pl_jpeg_write_count:
 * images written (tests). */
bool pl_jpeg_write_ok(const VipsImage *x);
int pl_jpeg_write(pl_ctx *c, VipsImage *x, int q, bool meta, void **buf, size_t *len);
unsigned pl_jpeg_write_count(void);

/* pl_jpeg_scaled.c: YCbCr/grey JPEG (<= 16 MP) decoded whole at m/8 (m = 1..7) by TurboJPEG into a
 * memory image with head's metadata. 0 = decoded (*out owned by c->base), 1 = not handled or any
 * TurboJPEG error or warning: use libvips' jpegload. */
/* Width, height and the bands libvips' jpegload gives (1 grey, 4 CMYK/YCCK, else 3) from the
 * JPEG header alone (TurboJPEG). 0, or -1 when it does not parse. */
int pl_jpeg_header(const uint8_t *data, size_t len, int *w, int *h, int *bands);
int pl_jpeg_scaled_decode(pl_ctx *c, const uint8_t *data, size_t len, VipsImage *head, int m, VipsImage **out);

/* pl_jpeg_markers.c: from a JPEG's markers, in one walk: *sof = n of its frame header's SOFn
 * (-1: none before the first scan), and the number of scans it returns (at most limit + 1). Each
 * scan is a full pass of the decoder: more than PL_JPEG_MAX_SCANS is refused before any decode. */
#define PL_JPEG_MAX_SCANS 500
int pl_jpeg_markers(const uint8_t *d, size_t len, int limit, int *sof);

/* pl_webp.c: a still WebP decoded by one WebPDecode into a memory image with head's metadata, at
 * webpload's size for scale (0 = none). 0 = decoded (*out and its pixels, c->owned_pixels, owned
 * by c->base), 1 = not handled (animated, not what head says) or any libwebp error: use webpload. */
int pl_webp_decode(pl_ctx *c, const uint8_t *data, size_t len, VipsImage *head, double scale, VipsImage **out);

/* pl_jpeg_lossless.c: a lone /rotate, /flip or /flop on a JPEG as a DCT-domain transform
 * (TurboJPEG), when that gives what the normal path means. After the header, output format,
 * limits and metadata policy are known. 0 = done (out filled, as pl_encode_image fills it),
 * 1 = not handled: run the normal path, -1 = cancelled or past the deadline (err filled). */
int pl_jpeg_lossless_run(pl_ctx *c, pl_result *out);

/* pl_ops.c: small geometry and filter primitives over one frame. */
int pl_ops_autorot(pl_ctx *c, VipsImage *in, VipsImage **out);
int pl_ops_resize(pl_ctx *c, VipsImage *in, int w, int h, VipsImage **out);
int pl_ops_crop(pl_ctx *c, VipsImage *in, int w, int h, pl_gravity g, VipsImage **out);
int pl_ops_embed(pl_ctx *c, VipsImage *in, int w, int h, pl_extend ext, pl_color bg, VipsImage **out);
int pl_ops_extract(pl_ctx *c, VipsImage *in, int left, int top, int w, int h, VipsImage **out);
int pl_ops_rotate(pl_ctx *c, VipsImage *in, int angle, VipsImage **out);
int pl_ops_flip(pl_ctx *c, VipsImage *in, bool horizontal, VipsImage **out);
int pl_ops_blur(pl_ctx *c, VipsImage *in, double sigma, double minampl, VipsImage **out);
int pl_ops_sharpen(pl_ctx *c, VipsImage *in, double sigma, VipsImage **out);
int pl_ops_grayscale(pl_ctx *c, VipsImage *in, VipsImage **out);
int pl_ops_zoom(pl_ctx *c, VipsImage *in, int factor, VipsImage **out);
int pl_ops_trim(pl_ctx *c, VipsImage *in, double threshold, VipsImage **out);
int pl_ops_flatten(pl_ctx *c, VipsImage *in, pl_color bg, VipsImage **out);
/* imaginary's rotate: floor to a multiple of 90, cap at 270, negative as absolute value. */
int pl_ops_angle_floor(int rotate);
/* transform's rotate: clockwise degrees to 0..359 (negative = counter-clockwise). */
int pl_ops_angle_normal(int rotate);
/* Rotate clockwise by any angle: right angles exactly (vips_rot), others resampled (vips_rotate)
 * into the rotated bounding box, the corners filled with bg (an alpha band added for a
 * see-through bg). */
int pl_ops_rotate_any(pl_ctx *c, VipsImage *in, int angle, pl_color bg, VipsImage **out);
/* Copy metadata fields (ICC, EXIF …), Type and resolution from one image to another. */
void pl_ops_copy_meta(VipsImage *from, VipsImage *to);
/* A memory image of w x h pixels of bands samples of fmt over buf (size bytes, g_malloc'd), which
 * it owns from then on: g_free'd on its "postclose", or at once when libvips refuses it (NULL).
 * With from's metadata, Type and resolution when from != NULL. The caller owns the reference. */
VipsImage *pl_ops_image_over(void *buf, size_t size, int w, int h, int bands, VipsBandFormat fmt, VipsImage *from);
/* Whether in's pixels are a buffer in memory (in->data), not computed on demand. */
static inline bool pl_ops_in_memory(const VipsImage *in)
{
    return (in->dtype == VIPS_IMAGE_SETBUF || in->dtype == VIPS_IMAGE_SETBUF_FOREIGN) && in->data != NULL;
}
/* A memory image over in's buffer (in in memory), its first bands samples per pixel read as whole
 * pixels (bands == in->Bands: the same pixels; fewer: what an in-place pass packed there), with
 * in's metadata, keeping a reference to in; it belongs to c->base. NULL when in is not in memory. */
VipsImage *pl_ops_view(pl_ctx *c, VipsImage *in, int bands);
/* (x, y) -> (y, x) of an 8-bit image in memory (vips_image_copy_memory), into a new memory image
 * with in's metadata; *out is a new reference the caller owns (pl_transpose.c). */
int pl_transpose_u8(pl_ctx *c, VipsImage *in, VipsImage **out);

/* pl_reduce.c: an 8-bit image reduced to w x h, lanczos3: pl_lanczos on both axes when in is in
 * memory, else vips_reducev down the columns and pl_lanczos along the rows (by 64 or more:
 * transposed, vips_reducev, transposed back), when it applies: any factor below 1 on both axes,
 * buffers within the input's size;
 * an image with alpha only with alpha_safe (premultiplied or opaque); *out = in otherwise. 0, or
 * -1 with c->err set. */
int pl_reduce_u8(pl_ctx *c, VipsImage *in, int w, int h, bool alpha_safe, VipsImage **out);
/* The colour that alpha is flattened onto for a format without alpha (JPEG): the asked background,
 * else white. */
static inline pl_color pl_flatten_background(const pl_params *p)
{
    return pl_params_has(p, PL_P_BACKGROUND) ? p->background : (pl_color){255, 255, 255, 255};
}
/* pl_flatten.c: an 8-bit RGBA or grey-alpha image in memory flattened onto bg (bands - 1 values,
 * whole numbers in 0..255) with vips_flatten's arithmetic, in place when the run owns the pixels.
 * 0 done, 1 not applicable (use vips_flatten), -1 with c->err set. */
int pl_flatten_mem(pl_ctx *c, VipsImage *in, const double *bg, VipsImage **out);
/* The pixel loop of it: n pixels of nb (2 or 4) bytes, alpha last, to nb - 1 bytes onto ink (nb - 1
 * values in 0..255); dst == src allowed. */
void pl_flatten_pixels(const uint8_t *src, uint8_t *dst, size_t n, int nb, const unsigned *ink);
/* Background pixel for in's bands/format from an RGBA colour. n = bands. */
void pl_ops_background(const VipsImage *in, pl_color bg, double *px, int *n);

/* pl_geometry.c: one step of an imaginary route (bimg's order) or of transform. */
int pl_geometry_imaginary(pl_ctx *c, const pl_step *s, VipsImage *in, VipsImage **out);
int pl_geometry_transform(pl_ctx *c, const pl_step *s, VipsImage *in, VipsImage **out);
/* The upright size the input will be resized to by the first step, for shrink-on-load; 0,0 if
 * unknown or not a downscale of the whole image. */
void pl_geometry_target(const pl_ctx *c, const pl_step *s, int *tw, int *th);
/* Whether the step needs random pixel access (rotations, flips, trim, smart crop …). */
bool pl_geometry_needs_random(const pl_ctx *c, const pl_step *s);
/* Whether the step can apply to each frame of an animation; else sets err (PL_E_ANIMATED). */
int pl_geometry_check_animated(const pl_ctx *c, const pl_step *s);

/* pl_watermark.c */
int pl_watermark_text(pl_ctx *c, const pl_params *p, bool imaginary, VipsImage *in, VipsImage **out);
/* imaginary_route: /watermarkimage or /pipeline's watermarkImage (left/top place the overlay). */
int pl_watermark_image(pl_ctx *c, const pl_params *p, bool imaginary_route, VipsImage *in, VipsImage **out);

/* pl_encode.c */
/* Decide ctx->out_format (and vary_accept) for the plan. */
int pl_encode_choose(pl_ctx *c);
/* Colour to output, metadata, then encode img to out->data/len. */
int pl_encode_image(pl_ctx *c, VipsImage *img, pl_result *out);
const char *pl_encode_mime(pl_format f);
const char *pl_encode_name(pl_format f);

/* pl_info.c */
int pl_info_json(pl_ctx *c, const pl_probe_info *pi, VipsImage *head, pl_result *out);

#endif
