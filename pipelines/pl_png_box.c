/*
 * pl_png_box: a 2x2 box mean of two 8-bit rows (see pl_png_box.h), the PNG decoder's
 * shrink-on-load: a 2400x1600 RGBA photo comes out of the decoder at 1200x800, and the resize
 * after it reads a quarter of the pixels (vips_resize to 768x512 and the 512x512 crop: 15 -> 9
 * CPU-ms). Quality: box 2 then lanczos3 for the rest of the reduction, as vips_resize does itself
 * for factors of 4 and more; 49.7 dB PSNR against lanczos3 alone for 2400x1600 -> 768x512, 44 dB
 * when the target is just under half the size (docs/performance.md).
 *
 * RGBA (4 bytes per pixel) in SSE2, plain and premultiplied: four output pixels from 32 bytes of
 * each row, sums in 16-bit lanes. Other layouts: a loop per pixel size that gcc vectorises (this file is built with the
 * dynamic cost model, as pl_png_write.c). Thread-safe: no state.
 * Alpha that is not 255 everywhere: pl_png_box_row_premul premultiplies each pixel before the
 * mean (a plain mean would let a transparent pixel's colour bleed into its neighbours), which is
 * what the resize after it would have done at full size.
 */
#include "pl_png_box.h"

#include <stdbool.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

/* pixels [x, half) of a layout of B bytes per pixel, B a constant after inlining */
static inline void pl_box_pairs(uint8_t *restrict out, const uint8_t *r0, const uint8_t *r1, size_t x, size_t half, int B)
{
    for (; x < half; x++)
        for (int b = 0; b < B; b++) {
            size_t i = 2 * x * (size_t)B + (size_t)b;
            out[x * (size_t)B + (size_t)b] = (uint8_t)((r0[i] + r0[i + (size_t)B] + r1[i] + r1[i + (size_t)B] + 2) >> 2);
        }
}

/* round(c * a / 255), exact for c, a <= 255 (as pl_ops.c premultiplies) */
static inline unsigned pl_box_pm(unsigned c, unsigned a)
{
    unsigned v = c * a + 128;
    return (v + (v >> 8)) >> 8;
}

/* pixels [x, half) of B bytes (2 or 4, alpha last), premultiplied before the mean */
static inline void pl_box_pairs_premul(uint8_t *restrict out, const uint8_t *r0, const uint8_t *r1, size_t x, size_t half, int B)
{
    const int ab = B - 1;
    for (; x < half; x++) {
        const uint8_t *p0 = r0 + 2 * x * (size_t)B, *p1 = r1 + 2 * x * (size_t)B;
        unsigned a00 = p0[ab], a01 = p0[B + ab], a10 = p1[ab], a11 = p1[B + ab];
        for (int b = 0; b < ab; b++)
            out[x * (size_t)B + (size_t)b] = (uint8_t)((pl_box_pm(p0[b], a00) + pl_box_pm(p0[B + b], a01) + pl_box_pm(p1[b], a10) +
                                                        pl_box_pm(p1[B + b], a11) + 2) >>
                                                       2);
        out[x * (size_t)B + (size_t)ab] = (uint8_t)((a00 + a01 + a10 + a11 + 2) >> 2);
    }
}

#if defined(__x86_64__)
/* pl_box_pm on two RGBA pixels in 16-bit lanes: each colour times its pixel's alpha, the alpha
 * times 255 (which pl_box_pm gives back unchanged); c * a + 128 <= 65153 fits the lanes */
static inline __m128i pl_box_pm_sse2(__m128i p, __m128i alpha_lanes, __m128i half_unit)
{
    __m128i a = _mm_shufflehi_epi16(_mm_shufflelo_epi16(p, _MM_SHUFFLE(3, 3, 3, 3)), _MM_SHUFFLE(3, 3, 3, 3));
    __m128i v = _mm_add_epi16(_mm_mullo_epi16(p, _mm_or_si128(a, alpha_lanes)), half_unit);
    return _mm_srli_epi16(_mm_add_epi16(v, _mm_srli_epi16(v, 8)), 8);
}

/* two rows' pixels (two in each register, 16-bit lanes) added, each premultiplied first when
 * premul */
static inline __m128i pl_box_vsum_sse2(__m128i p0, __m128i p1, bool premul, __m128i alpha_lanes, __m128i half_unit)
{
    if (premul) {
        p0 = pl_box_pm_sse2(p0, alpha_lanes, half_unit);
        p1 = pl_box_pm_sse2(p1, alpha_lanes, half_unit);
    }
    return _mm_add_epi16(p0, p1);
}

/* RGBA: 4 output pixels per step, each pixel premultiplied first when premul (the same bytes as
 * pl_box_pairs, pl_box_pairs_premul); returns the pixels done */
static size_t pl_box_rgba_sse2(uint8_t *restrict out, const uint8_t *r0, const uint8_t *r1, size_t half, bool premul)
{
    const __m128i z = _mm_setzero_si128(), two = _mm_set1_epi16(2), h = _mm_set1_epi16(128);
    const __m128i al = _mm_set_epi16(255, 0, 0, 0, 255, 0, 0, 0);
    size_t x = 0;
    for (; x + 4 <= half; x += 4) {
        __m128i a0 = _mm_loadu_si128((const __m128i *)(const void *)(r0 + 8 * x));
        __m128i a1 = _mm_loadu_si128((const __m128i *)(const void *)(r0 + 8 * x + 16));
        __m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)(r1 + 8 * x));
        __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(r1 + 8 * x + 16));
        /* vertical sums, two pixels per register (pixels 0-1, 2-3, 4-5, 6-7 of the 8 read) */
        __m128i v0 = pl_box_vsum_sse2(_mm_unpacklo_epi8(a0, z), _mm_unpacklo_epi8(b0, z), premul, al, h);
        __m128i v1 = pl_box_vsum_sse2(_mm_unpackhi_epi8(a0, z), _mm_unpackhi_epi8(b0, z), premul, al, h);
        __m128i v2 = pl_box_vsum_sse2(_mm_unpacklo_epi8(a1, z), _mm_unpacklo_epi8(b1, z), premul, al, h);
        __m128i v3 = pl_box_vsum_sse2(_mm_unpackhi_epi8(a1, z), _mm_unpackhi_epi8(b1, z), premul, al, h);
        /* horizontal: each register's two pixels added, then two outputs per register */
        v0 = _mm_add_epi16(v0, _mm_srli_si128(v0, 8));
        v1 = _mm_add_epi16(v1, _mm_srli_si128(v1, 8));
        v2 = _mm_add_epi16(v2, _mm_srli_si128(v2, 8));
        v3 = _mm_add_epi16(v3, _mm_srli_si128(v3, 8));
        __m128i o01 = _mm_srli_epi16(_mm_add_epi16(_mm_unpacklo_epi64(v0, v1), two), 2);
        __m128i o23 = _mm_srli_epi16(_mm_add_epi16(_mm_unpacklo_epi64(v2, v3), two), 2);
        _mm_storeu_si128((__m128i *)(void *)(out + 4 * x), _mm_packus_epi16(o01, o23));
    }
    return x;
}
#endif

void pl_png_box_row(uint8_t *restrict out, const uint8_t *r0, const uint8_t *r1, size_t w, int bpp)
{
    size_t half = w / 2, x = 0, B = (size_t)bpp;
    switch (bpp) {
    case 1:
        pl_box_pairs(out, r0, r1, 0, half, 1);
        break;
    case 2:
        pl_box_pairs(out, r0, r1, 0, half, 2);
        break;
    case 3:
        pl_box_pairs(out, r0, r1, 0, half, 3);
        break;
    default:
#if defined(__x86_64__)
        x = pl_box_rgba_sse2(out, r0, r1, half, false);
#endif
        pl_box_pairs(out, r0, r1, x, half, 4);
        break;
    }
    if (w % 2 != 0) /* the last column with itself */
        for (size_t b = 0; b < B; b++)
            out[half * B + b] = (uint8_t)((r0[2 * half * B + b] + r1[2 * half * B + b] + 1) >> 1);
}

void pl_png_box_row_premul(uint8_t *restrict out, const uint8_t *r0, const uint8_t *r1, size_t w, int bpp)
{
    size_t half = w / 2, B = (size_t)bpp, x = 0;
    if (bpp == 2) {
        pl_box_pairs_premul(out, r0, r1, 0, half, 2);
    } else {
#if defined(__x86_64__)
        x = pl_box_rgba_sse2(out, r0, r1, half, true);
#endif
        pl_box_pairs_premul(out, r0, r1, x, half, 4);
    }
    if (w % 2 != 0) { /* the last column with itself */
        const uint8_t *p0 = r0 + 2 * half * B, *p1 = r1 + 2 * half * B;
        unsigned a0 = p0[B - 1], a1 = p1[B - 1];
        for (size_t b = 0; b + 1 < B; b++)
            out[half * B + b] = (uint8_t)((pl_box_pm(p0[b], a0) + pl_box_pm(p1[b], a1) + 1) >> 1);
        out[half * B + B - 1] = (uint8_t)((a0 + a1 + 1) >> 1);
    }
}
