/*
 * pl_transpose: swaps the axes of an 8-bit image held in memory, (x, y) -> (y, x), into a new
 * memory image that owns its buffer and carries the input's metadata. pl_reduce_u8 uses it
 * to run the horizontal half of a reduce by 4 or more (vips_resize's box shrink, then lanczos3)
 * as libvips' vector reducev: transpose, reducev,
 * transpose back gives the same pixels as vips_rot 90, reducev, vips_rot 270 (the axis that is
 * mirrored by a rotation is never filtered), at a fraction of the cost: vips_rot moves one
 * pixel at a time through the region machinery and needs a copy to memory after it; this walks
 * 32x32-pixel tiles so that both sides stay in the cache. The caller owns the new image (a
 * reference it unrefs when done, so that the buffers of a reduce can go one by one). Called on a
 * pool thread inside pl_run; no state.
 */
#include <string.h>

#include "pl_internal.h"

#define PL_TRANSPOSE_TILE 32

/* One tile; `ps` bytes per pixel, a constant in each caller below so that memcpy is a move. */
static inline void pl_transpose_tile(const uint8_t *src, size_t src_line, uint8_t *dst, size_t dst_line, int x0, int y0, int x1,
                                     int y1, size_t ps)
{
    for (int y = y0; y < y1; y++) {
        const uint8_t *s = src + (size_t)y * src_line + (size_t)x0 * ps;
        uint8_t *d = dst + (size_t)x0 * dst_line + (size_t)y * ps;
        for (int x = x0; x < x1; x++, s += ps, d += dst_line)
            memcpy(d, s, ps);
    }
}

static void pl_transpose_bytes(const uint8_t *src, int w, int h, size_t ps, uint8_t *dst)
{
    size_t src_line = (size_t)w * ps, dst_line = (size_t)h * ps;
    for (int y0 = 0; y0 < h; y0 += PL_TRANSPOSE_TILE) {
        int y1 = VIPS_MIN(h, y0 + PL_TRANSPOSE_TILE);
        for (int x0 = 0; x0 < w; x0 += PL_TRANSPOSE_TILE) {
            int x1 = VIPS_MIN(w, x0 + PL_TRANSPOSE_TILE);
            switch (ps) {
            case 1:
                pl_transpose_tile(src, src_line, dst, dst_line, x0, y0, x1, y1, 1);
                break;
            case 3:
                pl_transpose_tile(src, src_line, dst, dst_line, x0, y0, x1, y1, 3);
                break;
            case 4:
                pl_transpose_tile(src, src_line, dst, dst_line, x0, y0, x1, y1, 4);
                break;
            default:
                pl_transpose_tile(src, src_line, dst, dst_line, x0, y0, x1, y1, ps);
                break;
            }
        }
    }
}

int pl_transpose_u8(pl_ctx *c, VipsImage *in, VipsImage **out)
{
    const uint8_t *src = (const uint8_t *)vips_image_get_data(in);
    if (src == NULL || in->BandFmt != VIPS_FORMAT_UCHAR || in->Coding != VIPS_CODING_NONE)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
    size_t ps = (size_t)in->Bands, size = (size_t)in->Xsize * (size_t)in->Ysize * ps;
    uint8_t *buf = g_try_malloc(size);
    if (buf == NULL)
        return pl_error_set(c->err, PL_E_INTERNAL, "Not enough memory to resize the image");
    pl_transpose_bytes(src, in->Xsize, in->Ysize, ps, buf);
    if ((*out = pl_ops_image_over(buf, size, in->Ysize, in->Xsize, in->Bands, VIPS_FORMAT_UCHAR, in)) == NULL)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot resize the image");
    (*out)->Xres = in->Yres;
    (*out)->Yres = in->Xres;
    return 0;
}
