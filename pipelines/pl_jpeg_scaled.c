/*
 * pl_jpeg_scaled: JPEG shrink-on-load at any DCT scale M/8 < 1. libjpeg-turbo scales inside the
 * IDCT at any M/8; libvips 8.14 only asks it for 1/2, 1/4, 1/8, so a 1600 -> 1200 resize decoded
 * the full image and ran lanczos3. Here TurboJPEG (tjDecompress2) decodes the whole image at M/8
 * into a libvips memory image (6/8 costs about what a full decode costs) and vips_resize only
 * fixes the last pixel or so. pl_load_image sends libvips' own 1/2, 1/4, 1/8 here too: the same
 * pixels as jpegload's, 3-4 CPU-ms less on a 12 MP thumbnail (no region or line-cache work), and
 * already in memory for the reduce that follows (pl_reduce.c).
 *
 * Handled: baseline or progressive, 3-component YCbCr or 1-component grey, at most
 * PL_JPEG_SCALED_MAX_PIXELS in the full image (the decode is whole and cannot be interrupted).
 * Everything else (CMYK/YCCK, RGB-coded, bigger images) returns 1 and goes to libvips' jpegload,
 * as does any TurboJPEG error or warning (TJFLAG_STOPONWARNING): truncated or corrupt data is
 * then reported by jpegload in its own words, with the engine's fail_on=error semantics, and a
 * file whose only fault is a harmless warning still decodes there. Metadata (EXIF with its
 * orientation, ICC, XMP, resolution) is copied from the header image libvips already read
 * (pl_load_header), so both paths carry the same fields; orientation is left to the steps.
 *
 * pl_jpeg_header() reads width, height and colour space the same way, for the service's memory
 * admission (no libvips image, no EXIF parse).
 *
 * Ownership: the pixel buffer belongs to the returned image (freed on its "postclose"); the image
 * belongs to c->base. The TurboJPEG handle lives for one call. Thread-safe: all state is per call.
 */
#include <turbojpeg.h>

#include "pl_internal.h"

/* 16 MP: the worst decode here is ~175 CPU-ms without a cancel point (7/8 of the 15.9 MP
 * progressive 5312x2988 corpus photo; baseline 20 MP at 7/8: 127 ms, TurboJPEG alone, 2.1.5);
 * bigger images keep libvips' streaming, interruptible jpegload. */
#define PL_JPEG_SCALED_MAX_PIXELS (16ull * 1000 * 1000)

/* Whether this libjpeg-turbo decodes at m/8 (listed as 3/4 for 6/8 …). */
static bool pl_jpeg_scaled_supported(int m)
{
    int n = 0;
    const tjscalingfactor *f = tjGetScalingFactors(&n);
    for (int i = 0; f != NULL && i < n; i++)
        if (f[i].num * 8 == m * f[i].denom)
            return true;
    return false;
}

int pl_jpeg_header(const uint8_t *data, size_t len, int *w, int *h, int *bands)
{
    if (len > (size_t)0xffffffffu)
        return -1;
    tjhandle tj = tjInitDecompress();
    if (tj == NULL)
        return -1;
    int subsamp = 0, cs = 0;
    int r = tjDecompressHeader3(tj, data, (unsigned long)len, w, h, &subsamp, &cs);
    tjDestroy(tj);
    if (r != 0 || *w < 1 || *h < 1)
        return -1;
    *bands = cs == TJCS_GRAY ? 1 : (cs == TJCS_CMYK || cs == TJCS_YCCK) ? 4 : 3;
    return 0;
}

int pl_jpeg_scaled_decode(pl_ctx *c, const uint8_t *d, size_t len, VipsImage *head, int m, VipsImage **out)
{
    if (head == NULL || m < 1 || m > 7 || !pl_jpeg_scaled_supported(m) || len > (size_t)0xffffffffu ||
        (uint64_t)head->Xsize * (uint64_t)head->Ysize > PL_JPEG_SCALED_MAX_PIXELS)
        return 1;
    tjhandle tj = tjInitDecompress();
    if (tj == NULL)
        return 1;
    int rc = 1, w = 0, h = 0, subsamp = 0, cs = 0;
    uint8_t *buf = NULL;
    if (tjDecompressHeader3(tj, d, (unsigned long)len, &w, &h, &subsamp, &cs) != 0 || w != head->Xsize || h != head->Ysize ||
        (cs != TJCS_YCbCr && cs != TJCS_GRAY))
        goto done;
    int bands = cs == TJCS_GRAY ? 1 : 3;
    if (head->Bands != bands)
        goto done;
    tjscalingfactor sf = {m, 8};
    int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
    size_t pitch = (size_t)sw * (size_t)bands;
    buf = g_try_malloc(pitch * (size_t)sh);
    /* default IDCT: accurate (islow) at 8/8; the scaled IDCTs (3x3 … 7x7) have one variant only */
    if (buf == NULL || tjDecompress2(tj, d, (unsigned long)len, buf, sw, (int)pitch, sh, bands == 1 ? TJPF_GRAY : TJPF_RGB,
                                     TJFLAG_STOPONWARNING) != 0)
        goto done;
    VipsImage **slot = pl_ctx_slot(c);
    *slot = pl_ops_image_over(buf, pitch * (size_t)sh, sw, sh, bands, VIPS_FORMAT_UCHAR, head);
    buf = NULL; /* the image's now, or freed */
    if (*slot == NULL)
        goto done;
    (*slot)->Type = bands == 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
    *out = *slot;
    rc = 0;
done:
    g_free(buf);
    tjDestroy(tj);
    return rc;
}
