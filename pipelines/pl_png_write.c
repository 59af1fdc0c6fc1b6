/*
 * pl_png_write: a PNG writer for the common case (8- or 16-bit grey, grey+alpha, RGB, RGBA, not
 * interlaced) of an image already in memory, with libdeflate instead of libpng + zlib. It writes
 * what libvips' pngsave writes for such an image: signature, IHDR, pHYs (Xres/Yres in pixels per
 * metre, rounded, as pngsave), iCCP when asked (profile name "icc", as pngsave), the IDAT stream
 * (one zlib stream in chunks of PL_PNGW_CHUNK bytes), IEND. Metadata that pngsave would also
 * write (EXIF, XMP, text comments) is the caller's business: pl_encode.c keeps libpng for it.
 * Memory: the filtered rows (raw size + 1 byte per row) and the output buffer (libdeflate's bound,
 * about the raw size, shrunk at the end); libpng streams in 8 KB pieces instead. 16-bit samples
 * are swapped to PNG's big-endian order a row at a time (two row buffers: this row and the one
 * above) and filtered as bytes, a pixel being 2 x bands bytes, as the format defines it.
 *
 * Filters: PL_PNGW_PAETH on every row, or PL_PNGW_NONE. Sub, up, average and libpng's adaptive
 * choice (minimum sum of absolute differences per row) were measured and dropped: on the png
 * workload's photo Paeth is both the smallest and the cheapest (docs/performance.md).
 *
 * Ownership: *buf is g_malloc'd and belongs to the caller (g_free). All state is per call: safe
 * on any thread. Returns 0 on success, 1 when the image is not one this writer handles (the caller
 * uses libvips' pngsave), -1 when memory runs out.
 */
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "pl_internal.h"

/* IDAT chunk payload size: large enough that the 12 bytes of chunk overhead do not matter, small
 * enough that a streaming reader gets its first rows early. */
#define PL_PNGW_CHUNK (256u << 10)

static void pl_pngw_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Write one chunk (length, type, data, CRC) at out; returns the bytes written. */
static size_t pl_pngw_chunk(uint8_t *out, const char *type, const uint8_t *data, size_t len)
{
    pl_pngw_put32(out, (uint32_t)len);
    memcpy(out + 4, type, 4);
    if (len > 0 && data != out + 8)
        memcpy(out + 8, data, len);
    pl_pngw_put32(out + 8 + len, libdeflate_crc32(0, out + 4, len + 4));
    return 12 + len;
}

/* Paeth on one row: dst = filtered row (s bytes, no filter byte), cur = this row, up = the row
 * above (zeros for the first row), bpp = bytes per pixel. In the encoding direction the predictor
 * reads only unfiltered bytes, so the loop has no carried dependency and no branch: gcc
 * vectorises it (16 lanes of int16 with SSE2). */
static void pl_pngw_paeth(uint8_t *restrict dst, const uint8_t *restrict cur, const uint8_t *restrict up, size_t s, int bpp)
{
    /* first pixel: a = c = 0, so the predictor is b (up) */
    for (int x = 0; x < bpp; x++)
        dst[x] = (uint8_t)(cur[x] - up[x]);
    /* then over n = s - bpp bytes, with left = cur - bpp and upleft = up - bpp (a counted loop
     * over plain pointers: gcc cannot count "x from bpp to s" once this is inlined) */
    size_t n = s - (size_t)bpp;
    const uint8_t *restrict left = cur, *restrict upleft = up;
    cur += bpp;
    up += bpp;
    dst += bpp;
    for (size_t i = 0; i < n; i++) {
        int16_t a = left[i], b = up[i], c = upleft[i];
        int16_t pa = (int16_t)abs(b - c), pb = (int16_t)abs(a - c), pc = (int16_t)abs(a + b - 2 * c);
        int16_t pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
        dst[i] = (uint8_t)(cur[i] - pred);
    }
}

/* An ICC profile is written only when its header's length field matches the blob (libpng's
 * first check; pngsave drops profiles libpng rejects, so anything doubtful goes that way). */
static bool pl_pngw_icc_ok(const uint8_t *icc, size_t len)
{
    return len >= 132 && len < (1u << 30) &&
           ((uint32_t)icc[0] << 24 | (uint32_t)icc[1] << 16 | (uint32_t)icc[2] << 8 | icc[3]) == len;
}

/* The image's ICC profile when asked and libpng would keep it: *icc NULL when none; 1 when the
 * profile is doubtful (the caller then leaves the image to pngsave). */
static int pl_pngw_icc(VipsImage *im, const pl_pngw_opts *o, const uint8_t **icc, size_t *icc_len)
{
    *icc = NULL;
    *icc_len = 0;
    if (!o->icc || !vips_image_get_typeof(im, VIPS_META_ICC_NAME))
        return 0;
    const void *d = NULL;
    if (vips_image_get_blob(im, VIPS_META_ICC_NAME, &d, icc_len) || !pl_pngw_icc_ok(d, *icc_len))
        return 1;
    *icc = d;
    return 0;
}

/* The iCCP payload (name "icc", NUL, method 0, zlib stream) in a new buffer; NULL when memory runs
 * out. */
static uint8_t *pl_pngw_iccp(struct libdeflate_compressor *dc, const uint8_t *icc, size_t icc_len, size_t *len)
{
    size_t bound = libdeflate_zlib_compress_bound(dc, icc_len);
    uint8_t *z = g_try_malloc(5 + bound);
    size_t zlen = z != NULL ? libdeflate_zlib_compress(dc, icc, icc_len, z + 5, bound) : 0;
    if (zlen == 0) {
        g_free(z);
        return NULL;
    }
    memcpy(z, "icc\0\0", 5);
    *len = 5 + zlen;
    return z;
}

/* n 16-bit samples from host order to big-endian */
static void pl_pngw_be16(uint8_t *restrict dst, const uint8_t *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, src + 2 * i, 2);
        dst[2 * i] = (uint8_t)(v >> 8);
        dst[2 * i + 1] = (uint8_t)v;
    }
}

/* Every row with its filter byte (Paeth or none) into filt, (s + 1) * h bytes, s = bytes per row;
 * zero = s zero bytes, the row above the first; be = 2 x s bytes for 16-bit rows in PNG order
 * (NULL for 8-bit). */
static void pl_pngw_rows(VipsImage *im, const pl_pngw_opts *o, uint8_t *filt, const uint8_t *zero, uint8_t *be)
{
    size_t s = (size_t)VIPS_IMAGE_SIZEOF_LINE(im);
    int bpp = (int)VIPS_IMAGE_SIZEOF_PEL(im);
    const uint8_t *up = zero;
    for (size_t y = 0; y < (size_t)im->Ysize; y++) {
        const uint8_t *cur = VIPS_IMAGE_ADDR(im, 0, y);
        if (be != NULL) {
            uint8_t *dst = be + (y & 1) * s;
            pl_pngw_be16(dst, cur, s / 2);
            cur = dst;
        }
        uint8_t *row = filt + y * (s + 1);
        row[0] = o->filter == PL_PNGW_NONE ? 0 : 4;
        if (o->filter == PL_PNGW_NONE)
            memcpy(row + 1, cur, s);
        else
            pl_pngw_paeth(row + 1, cur, up, s, bpp);
        up = cur;
    }
}

/* The bytes before the IDAT chunks: signature, IHDR, pHYs, iCCP (iccp NULL: none); returns
 * their length (8 + 25 + 21 + iCCP's 12 + iccp_len). */
static size_t pl_pngw_head(uint8_t *out, VipsImage *im, uint32_t xppm, uint32_t yppm, const uint8_t *iccp, size_t iccp_len)
{
    static const uint8_t colour[5] = {0, 0, 4, 2, 6};
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    size_t at = 8;
    uint8_t ihdr[13];
    pl_pngw_put32(ihdr, (uint32_t)im->Xsize);
    pl_pngw_put32(ihdr + 4, (uint32_t)im->Ysize);
    ihdr[8] = im->BandFmt == VIPS_FORMAT_USHORT ? 16 : 8;
    ihdr[9] = colour[im->Bands];
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
    at += pl_pngw_chunk(out + at, "IHDR", ihdr, 13);
    uint8_t phys[9];
    pl_pngw_put32(phys, xppm);
    pl_pngw_put32(phys + 4, yppm);
    phys[8] = 1; /* unit: metre */
    at += pl_pngw_chunk(out + at, "pHYs", phys, 9);
    if (iccp != NULL)
        at += pl_pngw_chunk(out + at, "iCCP", iccp, iccp_len);
    return at;
}

/* The zlib stream of zlen bytes at out + head + 8 spread into IDAT chunks in place, last chunk
 * first (each moves up by 12 bytes per chunk before it), then IEND; returns the file's length. */
static size_t pl_pngw_idat(uint8_t *out, size_t head, size_t zlen)
{
    size_t n = (zlen + PL_PNGW_CHUNK - 1) / PL_PNGW_CHUNK;
    for (size_t k = n; k-- > 0;) {
        size_t clen = k + 1 < n ? PL_PNGW_CHUNK : zlen - k * PL_PNGW_CHUNK;
        uint8_t *dst = out + head + k * (PL_PNGW_CHUNK + 12);
        memmove(dst + 8, out + head + 8 + k * PL_PNGW_CHUNK, clen);
        pl_pngw_chunk(dst, "IDAT", dst + 8, clen);
    }
    size_t at = head + zlen + 12 * n;
    return at + pl_pngw_chunk(out + at, "IEND", NULL, 0);
}

int pl_png_write(VipsImage *im, const pl_pngw_opts *o, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int bands = im->Bands;
    bool deep = im->BandFmt == VIPS_FORMAT_USHORT;
    if ((im->BandFmt != VIPS_FORMAT_UCHAR && !deep) || im->Coding != VIPS_CODING_NONE || bands < 1 || bands > 4 ||
        im->data == NULL || im->Xsize < 1 || im->Ysize < 1 || o->level < 0 || o->level > 12)
        return 1;
    double xppm = VIPS_RINT(im->Xres * 1000), yppm = VIPS_RINT(im->Yres * 1000);
    const uint8_t *icc;
    size_t icc_len;
    if (!(xppm >= 0 && xppm <= INT32_MAX && yppm >= 0 && yppm <= INT32_MAX) || pl_pngw_icc(im, o, &icc, &icc_len))
        return 1;
    size_t s = (size_t)VIPS_IMAGE_SIZEOF_LINE(im), raw = (s + 1) * (size_t)im->Ysize;
    struct libdeflate_compressor *dc = libdeflate_alloc_compressor(o->level);
    uint8_t *filt = g_try_malloc(raw);
    uint8_t *zero = g_try_malloc0(s); /* the row above the first */
    uint8_t *be = deep ? g_try_malloc(2 * s) : NULL;
    uint8_t *iccp = NULL, *out = NULL;
    size_t iccp_len = 0;
    int rc = -1;
    if (dc == NULL || filt == NULL || zero == NULL || (deep && be == NULL) ||
        (icc != NULL && (iccp = pl_pngw_iccp(dc, icc, icc_len, &iccp_len)) == NULL))
        goto done;
    pl_pngw_rows(im, o, filt, zero, be);
    /* the zlib stream is compressed straight into the output after the header chunks */
    size_t head = 8 + 25 + 21 + (iccp != NULL ? 12 + iccp_len : 0);
    size_t zbound = libdeflate_zlib_compress_bound(dc, raw);
    size_t n_max = (zbound + PL_PNGW_CHUNK - 1) / PL_PNGW_CHUNK;
    out = g_try_malloc(head + zbound + 12 * n_max + 12);
    size_t zlen = out != NULL ? libdeflate_zlib_compress(dc, filt, raw, out + head + 8, zbound) : 0;
    if (zlen == 0)
        goto done;
    pl_pngw_head(out, im, (uint32_t)xppm, (uint32_t)yppm, iccp, iccp_len);
    size_t at = pl_pngw_idat(out, head, zlen);
    uint8_t *shrunk = g_try_realloc(out, at);
    *buf = shrunk != NULL ? shrunk : out;
    *len = at;
    out = NULL;
    rc = 0;
done:
    if (dc != NULL)
        libdeflate_free_compressor(dc);
    g_free(filt);
    g_free(zero);
    g_free(be);
    g_free(iccp);
    g_free(out);
    return rc;
}
