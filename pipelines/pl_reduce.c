/*
 * pl_reduce: a downscale on each axis, most often the step left after shrink-on-load (a
 * 4000x3000 JPEG at DCT 1/4 is 1000x750 for an 800x600 thumbnail; a WebP decoded at 1.9x the
 * target), done as vips_resize does it (lanczos3) but without libvips 8.14's reduceh, which is
 * plain C at 9 taps a pixel (1000x750 -> 800x600 took 11 CPU-ms through vips_reduce).
 *
 * An image in memory (what the TurboJPEG, PNG and WebP decoders make, and the in-place passes
 * after them: premultiply, flatten, an upright view) is read in place by pl_lanczos on both axes
 * at the whole factor: each output row is the column pass of its window of input rows into one
 * row buffer, then the row pass, into the output buffer: no intermediate image, 14-bit weights.
 * Against vips_reducev with vips_resize's gap (a box shrink first by 4 or more, which cost more
 * than the filter: vips_shrinkv), in process, one thread: 2400x1800 RGBA PNG -> 300 px JPEG 57.8 ->
 * 47.6 CPU-ms, palette 25.6 -> 16.8, photo12 thumbnail 35.4 -> 33.2; and closer to a float
 * lanczos3 (2400 px photo -> 300 px: 50.6 -> 55.2 dB; dithered palette 48.9 -> 53.6).
 * An image computed on demand (libvips' own loaders: TIFF, GIF, HEIF/AVIF, a CMYK JPEG's
 * conversion) is first read into memory, once, in order, when that holds no more than the two
 * buffers of the path below or PL_REDUCE_MATERIALISE_BYTES (2400x1800 TIFF -> 300 px JPEG 19.0 ->
 * 10.8 CPU-ms, GIF 88.8 -> 44.9, AVIF 106.6 -> 91.4, CMYK JPEG -> 800 px 116.5 -> 93.7; peak RSS
 * within 6 MB either way); a larger one keeps vips_reducev down the columns, with the gap, into
 * memory, then pl_lanczos along the rows.
 * By 64 or more (pl_lanczos' plans stop there) the rows go transposed, vips_reducev (with the
 * box), transposed back (pl_transpose_u8). At most two buffers (each at most the input's width x
 * the output's height) are held at once: within the input's full size, which admission reserved
 * for the decode, or within PL_REDUCE_SMALL_PIXELS for small inputs; else nothing is done here
 * and vips_resize does it all.
 *
 * 8-bit only, any factor below 1. Factors of 1/2 and less reach here from images without
 * shrink-on-load (PNG with transparency, palettes, grey). An image with alpha only when the caller
 * says filtering it with its colours is safe (alpha_safe: pl_ops_resize, whose pixels are
 * premultiplied by then, or opaque: 2400x1500 RGBA WebP -> 800 px JPEG 49 -> 41 CPU-ms, RGBA PNG
 * 51 -> 44); without alpha pl_geometry calls it before pl_ops_resize, which afterwards only makes
 * the size exact. IMGPIPE_NO_TRANSPOSED_REDUCE=1 (the name from when the rows were transposed)
 * leaves it all to vips_resize (A/B runs, tests).
 *
 * Called on a pool thread inside pl_run; every image made here belongs to c->base; no state.
 */
#include "pl_internal.h"
#include "pl_lanczos.h"

#define PL_REDUCE_SMALL_PIXELS (4ull * 1000 * 1000)
/* vips_resize's default: by 4 or more a box shrink first, leaving lanczos3 at least 2 (inside
 * (0.5, 1) it changes nothing) */
#define PL_REDUCE_GAP 2.0
/* an image computed on demand up to this size is brought into memory for pl_lanczos */
#define PL_REDUCE_MATERIALISE_BYTES (24ull << 20)
/* factors below this one go to pl_lanczos whole (its plans stop there) */
#define PL_REDUCE_FACTOR 64

/* An 8-bit image in memory reduced to w x h by pl_lanczos (factors below PL_REDUCE_FACTOR; h may
 * be in's height, w in's width), into a new memory image with in's metadata: each output row is
 * the column pass of its window of input rows into one row buffer, then the row pass. *out is a
 * new reference the caller owns. */
static int pl_reduce_lanczos(pl_ctx *c, VipsImage *in, int w, int h, VipsImage **out)
{
    int W = in->Xsize, H = in->Ysize, nb = in->Bands;
    bool rows = w < W, cols = h < H;
    pl_lanczos_plan *hp = rows ? pl_lanczos_plan_new(W, w, nb) : NULL, *vp = cols ? pl_lanczos_plan_new(H, h, 1) : NULL;
    const uint8_t *src = in->data;
    size_t in_line = (size_t)W * (size_t)nb, line = (size_t)w * (size_t)nb, size = line * (size_t)h;
    uint8_t *buf = g_try_malloc(size), *tmp = rows && cols ? g_try_malloc(in_line) : NULL;
    int rc = 0;
    if ((rows && hp == NULL) || (cols && vp == NULL) || buf == NULL || (rows && cols && tmp == NULL)) {
        rc = pl_error_set(c->err, PL_E_INTERNAL, "Not enough memory to resize the image");
        goto out;
    }
    pl_lanczos_impl impl = pl_lanczos_best();
    for (int y = 0; y < h; y++) {
        if ((rc = pl_cancel_check(c)) != 0) /* an output row can read hundreds of input rows */
            goto out;
        const uint8_t *row = src + (size_t)y * in_line;
        if (cols) {
            uint8_t *dst = rows ? tmp : buf + (size_t)y * line;
            pl_lanczos_column(vp, impl, y, src, in_line, in_line, dst);
            row = dst;
        }
        if (rows)
            pl_lanczos_rows(hp, impl, row, in_line, buf + (size_t)y * line, line, 1);
    }
out:
    pl_lanczos_plan_free(hp);
    pl_lanczos_plan_free(vp);
    g_free(tmp);
    if (rc != 0) {
        g_free(buf);
        return rc;
    }
    if ((*out = pl_ops_image_over(buf, size, w, h, nb, VIPS_FORMAT_UCHAR, in)) == NULL)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
    return 0;
}

int pl_reduce_u8(pl_ctx *c, VipsImage *in, int w, int h, bool alpha_safe, VipsImage **out)
{
    *out = in;
    double hs = (double)w / in->Xsize, vs = (double)h / in->Ysize;
    uint64_t mid = (uint64_t)in->Xsize * (uint64_t)h, full = (uint64_t)c->in_width * (uint64_t)c->in_height;
    if (hs <= 0 || vs <= 0 || hs > 1 || vs > 1 || (hs == 1 && vs == 1) || in->BandFmt != VIPS_FORMAT_UCHAR ||
        in->Coding != VIPS_CODING_NONE || (vips_image_hasalpha(in) && !alpha_safe) ||
        2 * mid > VIPS_MAX(full, PL_REDUCE_SMALL_PIXELS) || pl_engine_switched_off(PL_NO_TRANSPOSED_REDUCE))
        return 0;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 4);
    bool rows_ok = in->Xsize < PL_REDUCE_FACTOR * w;
    /* computed on demand (libvips' own loaders: TIFF, HEIF, GIF, a converted colour space):
     * into memory first when that holds no more than the two buffers of the path below, or
     * PL_REDUCE_MATERIALISE_BYTES; the loader is read once, in order, either way */
    uint64_t bytes = (uint64_t)in->Xsize * (uint64_t)in->Ysize * (uint64_t)in->Bands;
    if (!pl_ops_in_memory(in) && rows_ok && in->Ysize < PL_REDUCE_FACTOR * h &&
        bytes <= VIPS_MAX(2 * mid * (uint64_t)in->Bands, PL_REDUCE_MATERIALISE_BYTES)) {
        if ((t[3] = vips_image_copy_memory(in)) == NULL)
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
        in = t[3];
    }
    if (pl_ops_in_memory(in) && rows_ok && in->Ysize < PL_REDUCE_FACTOR * h) {
        if (pl_reduce_lanczos(c, in, w, h, &t[0]))
            return -1;
        *out = t[0];
        return 0;
    }
    VipsImage *x = in;
    if (vs < 1) {
        if (vips_reducev(x, &t[0], 1.0 / vs, "kernel", VIPS_KERNEL_LANCZOS3, "gap", PL_REDUCE_GAP, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
        x = t[0];
    }
    if (hs < 1) {
        /* each buffer is let go as soon as the next one is made: at most two at a time */
        if ((t[1] = vips_image_copy_memory(x)) == NULL)
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
        if (rows_ok) {
            if (pl_reduce_lanczos(c, t[1], w, t[1]->Ysize, &t[2]))
                return -1;
            VIPS_UNREF(t[1]);
            x = t[2];
        } else {
            if (pl_transpose_u8(c, t[1], &t[2]))
                return -1;
            VIPS_UNREF(t[1]);
            VipsImage *reduced;
            if (vips_reducev(t[2], &reduced, 1.0 / hs, "kernel", VIPS_KERNEL_LANCZOS3, "gap", PL_REDUCE_GAP, NULL))
                return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
            t[3] = vips_image_copy_memory(reduced);
            g_object_unref(reduced);
            VIPS_UNREF(t[2]);
            if (t[3] == NULL)
                return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
            if (pl_transpose_u8(c, t[3], &t[1]))
                return -1;
            VIPS_UNREF(t[3]);
            x = t[1];
        }
    }
    *out = x;
    return 0;
}
