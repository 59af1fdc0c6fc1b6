/*
 * pl_reduce: a downscale on each axis, most often the step left after shrink-on-load (a
 * 4000x3000 JPEG at DCT 1/4 is 1000x750 for an 800x600 thumbnail; a WebP decoded at 1.9x the
 * target), done as vips_resize does it (lanczos3) but without libvips 8.14's reduceh, which is
 * plain C at 9 taps a pixel (1000x750 -> 800x600 took 11 CPU-ms through vips_reduce). The
 * vertical pass is vips_reducev (orc vector code; a box shrink first by 4 or more, vips_resize's
 * gap), computed into memory (a sequential loader cannot give rows twice); the horizontal pass is
 * pl_reduceh (SSSE3, 59-63 dB from libvips' reduceh) over those rows into a new memory image, at
 * the whole factor, with no box in front: the cost is the input's width x 6 taps per output row
 * whatever the factor, and without the box's aliasing a 2560 px photo -> 150 / 300 px lies 45.8 /
 * 49.2 dB from a float lanczos3 against 43.4 / 47.8 (2560x1600 RGBA PNG -> 300 px JPEG: 44.8 ->
 * 42.6 CPU-ms). By 64 or more horizontally the row pass is transposed, vips_reducev (with the box),
 * transposed back (pl_transpose_u8; the same pixels as vips_rot 90, reducev, vips_rot 270).
 * History: transposing both ways for every factor took 1000x750 -> 800x600 to about 5.5 CPU-ms
 * (callgrind: 144 -> 52 M instructions), pl_reduceh to about 1.5 (photo12 thumbnail in process
 * 34.6 -> 33.3 CPU-ms). Each buffer is let go when the next exists, so at most two of them (each at
 * most the input's width x the output's height) are held at once: within the input's full size,
 * which admission reserved for the decode, or within PL_REDUCE_SMALL_PIXELS for small inputs; else
 * nothing is done here and vips_resize does it all.
 *
 * 8-bit only, any factor below 1 (vertically with vips_resize's gap: a box shrink first by 4 or more).
 * Factors of 1/2 and less reach here from images without shrink-on-load (PNG with transparency,
 * palettes, grey; 2400x1500 palette PNG -> 800 px JPEG 22.7 -> 17.8 CPU-ms): reducev's 8-bit
 * coefficients are a little further from a float lanczos3 than reduceh's (kodim23 by 1/3:
 * 50.5 against 50.8 dB; a 2400x1800 photo by 1/9.4: 45.6 against 46.3; the two 53-61 dB apart).
 * An image with alpha only when the caller says filtering it with its colours is safe
 * (alpha_safe: pl_ops_resize, whose pixels are premultiplied by then, or opaque: 2400x1500 RGBA
 * WebP -> 800 px JPEG 49 -> 41 CPU-ms, RGBA PNG 51 -> 44); without alpha pl_geometry calls it
 * before pl_ops_resize, which afterwards only makes the size exact.
 * IMGPIPE_NO_TRANSPOSED_REDUCE=1 leaves it all to vips_resize (A/B runs, tests).
 *
 * Called on a pool thread inside pl_run; every image made here belongs to c->base; no state.
 */
#include "pl_internal.h"
#include "pl_reduceh.h"

#define PL_REDUCE_SMALL_PIXELS (4ull * 1000 * 1000)
/* vips_resize's default: by 4 or more a box shrink first, leaving lanczos3 at least 2 (inside
 * (0.5, 1) it changes nothing) */
#define PL_REDUCE_GAP 2.0
/* horizontal factors below this one go to pl_reduceh whole (its plans stop there) */
#define PL_REDUCE_ROW_FACTOR 64
/* rows between two cancel checks of the horizontal pass */
#define PL_REDUCE_ROWS 256

/* The horizontal lanczos3 of an 8-bit image in memory to width w (pl_reduceh.c), into a new memory
 * image with in's metadata; *out is a new reference the caller owns. */
static int pl_reduce_rows(pl_ctx *c, VipsImage *in, int w, VipsImage **out)
{
    pl_reduceh_plan *plan = pl_reduceh_plan_new(in->Xsize, w, in->Bands);
    const uint8_t *src = (const uint8_t *)vips_image_get_data(in);
    size_t in_line = (size_t)in->Xsize * (size_t)in->Bands, line = (size_t)w * (size_t)in->Bands, size = line * (size_t)in->Ysize;
    uint8_t *buf = plan != NULL && src != NULL ? g_try_malloc(size) : NULL;
    if (buf == NULL) {
        pl_reduceh_plan_free(plan);
        return pl_error_set(c->err, PL_E_INTERNAL, "Not enough memory to resize the image");
    }
    pl_reduceh_impl impl = pl_reduceh_best();
    for (int y = 0; y < in->Ysize; y += PL_REDUCE_ROWS) {
        if (pl_cancel_check(c)) {
            g_free(buf);
            pl_reduceh_plan_free(plan);
            return -1;
        }
        int n = VIPS_MIN(PL_REDUCE_ROWS, in->Ysize - y);
        pl_reduceh_rows(plan, impl, src + (size_t)y * in_line, in_line, buf + (size_t)y * line, line, n);
    }
    pl_reduceh_plan_free(plan);
    if ((*out = pl_ops_image_over(buf, size, w, in->Ysize, in->Bands, VIPS_FORMAT_UCHAR, in)) == NULL)
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
        if (in->Xsize < PL_REDUCE_ROW_FACTOR * w) {
            if (pl_reduce_rows(c, t[1], w, &t[2]))
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
