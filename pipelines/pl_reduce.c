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
 * An image computed on demand (libvips' own loaders: TIFF, GIF, HEIF/AVIF, JPEG over TurboJPEG's
 * size limit, a CMYK JPEG's conversion) goes the same way, read once, in order, PL_REDUCE_STRIP
 * rows at a time into a window that slides down the image (pl_rows_src), on a libvips thread so
 * that the regions behind keep their buffers: the same bytes as in memory, without holding the
 * image (20 MP TIFF -> 800 px JPEG 98.8 -> 42.3 CPU-ms, LZW 310 -> 248, AVIF 408 -> 343, peak RSS
 * 132 -> 127 MB; before, images up to 24 MB were copied into memory first and larger ones took
 * vips_reducev with its box). A window larger than the two buffers of the path below and
 * PL_REDUCE_WINDOW_BYTES (a very wide image) keeps vips_reducev down the columns, with the gap,
 * into memory, then pl_lanczos along the rows.
 * By 64 or more (pl_lanczos' plans stop there) the rows go transposed, vips_reducev (with the
 * box), transposed back (pl_transpose_u8). Those two paths hold at most two buffers (each at most
 * the input's width x the output's height) at once: within the input's full size, which admission
 * reserved for the decode, or within PL_REDUCE_SMALL_PIXELS for small inputs; else nothing is
 * done here and vips_resize does it all. pl_lanczos alone holds the output and a window.
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
/* the window over an image computed on demand may hold this much when that is more than the two
 * buffers of the vips_reducev path */
#define PL_REDUCE_WINDOW_BYTES (24ull << 20)
/* rows asked of an image computed on demand at a time (each region behind holds that many) */
#define PL_REDUCE_STRIP 32
/* factors below this one go to pl_lanczos whole (its plans stop there) */
#define PL_REDUCE_FACTOR 64

/* Where pl_reduce_lanczos reads its input rows: an image in memory, in place, or one computed on
 * demand, read once, in order, through a region into a window buffer that slides down the image
 * (rows base .. base + filled - 1 of the image; next = base + filled is the next row to read). */
typedef struct pl_rows_src {
    const uint8_t *mem; /* the image in memory, or NULL */
    VipsRegion *reg;    /* else a region on it */
    uint8_t *win;
    int width, height, base, filled, cap;
    size_t line;
} pl_rows_src;

/* The window buffer's rows for windows of up to count rows: room for strips past the window, so
 * that the rows kept when it slides (memmove) are at most a third of those read. */
static int pl_rows_cap(int count)
{
    return count + VIPS_MAX(2 * PL_REDUCE_STRIP, 3 * count);
}

/* Rows first .. first + count - 1 (first never decreasing from call to call): a pointer to row
 * first, the others line bytes apart; NULL when the image could not be computed. */
static const uint8_t *pl_rows_at(pl_rows_src *s, int first, int count)
{
    if (s->mem != NULL)
        return s->mem + (size_t)first * s->line;
    while (s->base + s->filled < first + count) {
        if (s->cap - s->filled < PL_REDUCE_STRIP) { /* drop the rows no window reads again */
            int drop = VIPS_MIN(first - s->base, s->filled);
            memmove(s->win, s->win + (size_t)drop * s->line, (size_t)(s->filled - drop) * s->line);
            s->base += drop;
            s->filled -= drop;
        }
        int next = s->base + s->filled, want = VIPS_MIN(VIPS_MIN(s->cap - s->filled, PL_REDUCE_STRIP), s->height - next);
        VipsRect r = {0, next, s->width, want};
        if (want <= 0 || vips_region_prepare(s->reg, &r) != 0)
            return NULL;
        for (int i = 0; i < want; i++)
            memcpy(s->win + (size_t)(s->filled + i) * s->line, VIPS_REGION_ADDR(s->reg, 0, next + i), s->line);
        s->filled += want;
    }
    return s->win + (size_t)(first - s->base) * s->line;
}

/* One reduce: the plans, the source and the output buffer (line bytes a row, h rows). */
typedef struct pl_reduce_job {
    pl_ctx *c;
    VipsImage *in;
    pl_lanczos_plan *hp, *vp; /* NULL: that axis keeps its size */
    pl_rows_src src;
    uint8_t *buf, *tmp; /* the output, one column-pass row */
    size_t line;
    int h, rc;
} pl_reduce_job;

/* Each output row: the column pass of its window of input rows into the row buffer, then the
 * row pass into the output. */
static gpointer pl_reduce_rows(gpointer data)
{
    pl_reduce_job *j = data;
    pl_lanczos_impl impl = pl_lanczos_best();
    size_t in_line = j->src.line;
    if (j->src.mem == NULL) /* a region belongs to the thread that made it */
        j->src.reg = vips_region_new(j->in);
    for (int y = 0; y < j->h && j->rc == 0; y++) {
        if ((j->rc = pl_cancel_check(j->c)) != 0) /* an output row can read hundreds of input rows */
            break;
        int first = y, count = 1;
        if (j->vp != NULL)
            pl_lanczos_window(j->vp, y, &first, &count);
        const uint8_t *row = pl_rows_at(&j->src, first, count);
        if (row == NULL) {
            j->rc = pl_cancel_fail(j->c, PL_E_OPERATION, "Cannot resize the image");
            break;
        }
        if (j->vp != NULL) {
            uint8_t *dst = j->hp != NULL ? j->tmp : j->buf + (size_t)y * j->line;
            pl_lanczos_column(j->vp, impl, y, row, first, in_line, in_line, dst);
            row = dst;
        }
        if (j->hp != NULL)
            pl_lanczos_rows(j->hp, impl, row, in_line, j->buf + (size_t)y * j->line, j->line, 1);
    }
    VIPS_UNREF(j->src.reg);
    return NULL;
}

/* An 8-bit image reduced to w x h by pl_lanczos (factors below PL_REDUCE_FACTOR; h may be in's
 * height, w in's width), into a new memory image with in's metadata. in is read in place when it
 * is in memory, else through a window of win_rows rows (pl_rows_cap), on a thread of libvips' own:
 * libvips 8.14 keeps region buffers for reuse only on its threads, and on any other every region
 * of the pipeline behind would allocate and zero a new buffer for every strip (2 ms in 7 of a
 * 20 MP TIFF thumbnail). *out is a new reference the caller owns. */
static int pl_reduce_lanczos(pl_ctx *c, VipsImage *in, int w, int h, int win_rows, VipsImage **out)
{
    int W = in->Xsize, H = in->Ysize, nb = in->Bands;
    size_t in_line = (size_t)W * (size_t)nb, line = (size_t)w * (size_t)nb, size = line * (size_t)h;
    pl_reduce_job j = {.c = c,
                       .in = in,
                       .hp = w < W ? pl_lanczos_plan_new(W, w, nb) : NULL,
                       .vp = h < H ? pl_lanczos_plan_new(H, h, 1) : NULL,
                       .src = {.width = W, .height = H, .line = in_line, .cap = win_rows},
                       .buf = g_try_malloc(size),
                       .tmp = w < W && h < H ? g_try_malloc(in_line) : NULL,
                       .line = line,
                       .h = h};
    if (pl_ops_in_memory(in))
        j.src.mem = in->data;
    else
        j.src.win = g_try_malloc((size_t)win_rows * in_line);
    if ((w < W && j.hp == NULL) || (h < H && j.vp == NULL) || j.buf == NULL || (w < W && h < H && j.tmp == NULL) ||
        (j.src.mem == NULL && j.src.win == NULL)) {
        j.rc = pl_error_set(c->err, PL_E_INTERNAL, "Not enough memory to resize the image");
    } else if (j.src.mem != NULL) {
        pl_reduce_rows(&j);
    } else {
        GThread *t = vips_g_thread_new("pl_reduce", pl_reduce_rows, &j);
        if (t == NULL)
            j.rc = pl_error_set(c->err, PL_E_INTERNAL, "Cannot start a thread to resize the image");
        else
            g_thread_join(t);
    }
    pl_lanczos_plan_free(j.hp);
    pl_lanczos_plan_free(j.vp);
    g_free(j.tmp);
    g_free(j.src.win);
    if (j.rc != 0) {
        g_free(j.buf);
        return j.rc;
    }
    if ((*out = pl_ops_image_over(j.buf, size, w, h, nb, VIPS_FORMAT_UCHAR, in)) == NULL)
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
        pl_engine_switched_off(PL_NO_TRANSPOSED_REDUCE))
        return 0;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 4);
    bool rows_ok = in->Xsize < PL_REDUCE_FACTOR * w;
    /* in memory, or computed on demand (libvips' own loaders: TIFF, HEIF, GIF, a converted
     * colour space) and read once, in order, through a window no larger than the two buffers of
     * the path below or PL_REDUCE_WINDOW_BYTES */
    int win_rows = pl_rows_cap(h < in->Ysize ? pl_lanczos_window_max(in->Ysize, h) : 1);
    uint64_t win_bytes = (uint64_t)win_rows * (uint64_t)in->Xsize * (uint64_t)in->Bands;
    if (rows_ok && in->Ysize < PL_REDUCE_FACTOR * h &&
        (pl_ops_in_memory(in) || win_bytes <= VIPS_MAX(2 * mid * (uint64_t)in->Bands, PL_REDUCE_WINDOW_BYTES))) {
        if (pl_reduce_lanczos(c, in, w, h, win_rows, &t[0]))
            return -1;
        *out = t[0];
        return 0;
    }
    if (2 * mid > VIPS_MAX(full, PL_REDUCE_SMALL_PIXELS)) /* the two buffers below would not fit */
        return 0;
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
            if (pl_reduce_lanczos(c, t[1], w, t[1]->Ysize, 1, &t[2]))
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
