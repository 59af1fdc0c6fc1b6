/*
 * pl_png_unfilter_wave: PNG rows of 1 or 2 bytes per pixel (8-bit grey, palette indices, 8-bit
 * grey+alpha, 16-bit grey) unfiltered 8 / bpp at once as a wavefront, for pl_png_unfilter.c.
 *
 * Why. At 1 byte per pixel, Sub, Average and Paeth make each row one chain of bytes: every byte
 * needs the one to its left, so one row runs at the chain's latency (about 5 ns a byte in scalar
 * code: 17 of 34 CPU-ms of a 2400x1500 grey photo PNG -> 800 px JPEG; here about 1 ns). Rows
 * depend on the row above only at the same and the previous column, so row y + j can run j
 * pixels behind row y: at step t, the lanes of row j in a register of eight 16-bit lanes (lane j
 * at 1 byte per pixel, lanes 2j and 2j + 1 at 2) hold row y + j's pixel t - j. Its left neighbour
 * (a) is its own lanes one step earlier, the pixel above (b) is row j - 1's lanes one step
 * earlier (the register shifted by one pixel; row 0 reads the row above the group), and
 * above-left (c) is b one step earlier. 8 / bpp chains then share each instruction. Each row
 * keeps its filter: every predictor is computed (a, b, (a + b) >> 1, Paeth as in
 * pl_png_unfilter.c, as an offset from c) and the row's own chosen with masks.
 *
 * Data movement. The rows (and the row above) are copied into a scratch area with PL_WAVE_PAD
 * bytes on each side, so that the loads of the skewed columns never leave it: row j is loaded 16
 * bytes at a time from pixel T - j, the loads transposed (SSE2 unpacks) into 16 / bpp steps of
 * eight bytes, and the results transposed back and stored at the same places of the scratch
 * rows, then copied to their places. Bytes left of pixel 0 are zero and stay zero (a zero
 * filtered byte with zero neighbours predicts zero for every filter), which is what PNG puts
 * left of a row; what is computed right of the row's end is never read by a byte inside it.
 *
 * Thread-safe: no state; the caller owns the scratch area (pl_png_wave_scratch_size bytes).
 */
#include <string.h>

#include "pl_png_unfilter.h"

#define PL_WAVE_PAD 32 /* >= 7 bytes of skew on the left, 7 + 15 past the end on the right */

size_t pl_png_wave_rows(int bpp)
{
    return bpp == 1 || bpp == 2 ? PL_WAVE_ROWS / (size_t)bpp : 0;
}

size_t pl_png_wave_scratch_size(size_t n)
{
    return (PL_WAVE_ROWS + 1) * (n + 2 * PL_WAVE_PAD);
}

#if defined(__x86_64__)
#include <emmintrin.h>
#include <tmmintrin.h>

#define PL_WAVE_INLINE static inline __attribute__((always_inline))

PL_WAVE_INLINE __m128i pl_wave_abs_sse2(__m128i v)
{
    return _mm_max_epi16(v, _mm_sub_epi16(_mm_setzero_si128(), v));
}

/* r[j] = row j's bytes at 16 consecutive steps -> p[m] = step 2m's eight bytes (rows 0-7) in the
 * low half, step 2m + 1's in the high half */
PL_WAVE_INLINE void pl_wave_gather(const __m128i r[8], __m128i p[8])
{
    __m128i a0 = _mm_unpacklo_epi8(r[0], r[1]), a1 = _mm_unpackhi_epi8(r[0], r[1]);
    __m128i a2 = _mm_unpacklo_epi8(r[2], r[3]), a3 = _mm_unpackhi_epi8(r[2], r[3]);
    __m128i a4 = _mm_unpacklo_epi8(r[4], r[5]), a5 = _mm_unpackhi_epi8(r[4], r[5]);
    __m128i a6 = _mm_unpacklo_epi8(r[6], r[7]), a7 = _mm_unpackhi_epi8(r[6], r[7]);
    /* rows 0-3, then rows 4-7, of steps 0-3, 4-7, 8-11, 12-15 */
    __m128i b0 = _mm_unpacklo_epi16(a0, a2), b1 = _mm_unpackhi_epi16(a0, a2);
    __m128i b2 = _mm_unpacklo_epi16(a1, a3), b3 = _mm_unpackhi_epi16(a1, a3);
    __m128i b4 = _mm_unpacklo_epi16(a4, a6), b5 = _mm_unpackhi_epi16(a4, a6);
    __m128i b6 = _mm_unpacklo_epi16(a5, a7), b7 = _mm_unpackhi_epi16(a5, a7);
    p[0] = _mm_unpacklo_epi32(b0, b4), p[1] = _mm_unpackhi_epi32(b0, b4);
    p[2] = _mm_unpacklo_epi32(b1, b5), p[3] = _mm_unpackhi_epi32(b1, b5);
    p[4] = _mm_unpacklo_epi32(b2, b6), p[5] = _mm_unpackhi_epi32(b2, b6);
    p[6] = _mm_unpacklo_epi32(b3, b7), p[7] = _mm_unpackhi_epi32(b3, b7);
}

/* The inverse: p[m] (steps 2m and 2m + 1, rows 0-7) -> r[j] (row j, steps 0-15) */
PL_WAVE_INLINE void pl_wave_scatter(const __m128i p[8], __m128i r[8])
{
    __m128i u[8], v[8], w[8];
    for (int m = 0; m < 8; m++) /* row j's bytes of steps 2m, 2m + 1 as 16-bit unit j */
        u[m] = _mm_unpacklo_epi8(p[m], _mm_srli_si128(p[m], 8));
    for (int q = 0; q < 4; q++) { /* steps 4q .. 4q + 3: rows 0-3 (v[2q]), rows 4-7 (v[2q + 1]) */
        v[2 * q] = _mm_unpacklo_epi16(u[2 * q], u[2 * q + 1]);
        v[2 * q + 1] = _mm_unpackhi_epi16(u[2 * q], u[2 * q + 1]);
    }
    for (int h = 0; h < 2; h++) { /* steps 8h .. 8h + 7 of rows 0-1, 2-3, 4-5, 6-7 */
        w[4 * h] = _mm_unpacklo_epi32(v[4 * h], v[4 * h + 2]);
        w[4 * h + 1] = _mm_unpackhi_epi32(v[4 * h], v[4 * h + 2]);
        w[4 * h + 2] = _mm_unpacklo_epi32(v[4 * h + 1], v[4 * h + 3]);
        w[4 * h + 3] = _mm_unpackhi_epi32(v[4 * h + 1], v[4 * h + 3]);
    }
    for (int k = 0; k < 4; k++) { /* rows 2k, 2k + 1: steps 0-7, then 8-15 */
        r[2 * k] = _mm_unpacklo_epi64(w[k], w[4 + k]);
        r[2 * k + 1] = _mm_unpackhi_epi64(w[k], w[4 + k]);
    }
}

/* 2 bytes per pixel: r[j] = row j's pixels (2 bytes) at 8 consecutive steps, rows 0-3 -> p[m] =
 * step 2m's four pixels in the low half, step 2m + 1's in the high half */
PL_WAVE_INLINE void pl_wave_gather2(const __m128i r[4], __m128i p[4])
{
    __m128i a0 = _mm_unpacklo_epi16(r[0], r[1]), a1 = _mm_unpackhi_epi16(r[0], r[1]);
    __m128i a2 = _mm_unpacklo_epi16(r[2], r[3]), a3 = _mm_unpackhi_epi16(r[2], r[3]);
    p[0] = _mm_unpacklo_epi32(a0, a2), p[1] = _mm_unpackhi_epi32(a0, a2);
    p[2] = _mm_unpacklo_epi32(a1, a3), p[3] = _mm_unpackhi_epi32(a1, a3);
}

PL_WAVE_INLINE void pl_wave_scatter2(const __m128i p[4], __m128i r[4])
{
    __m128i u[4];
    for (int m = 0; m < 4; m++) /* row j's pixels of steps 2m, 2m + 1 as 32-bit unit j */
        u[m] = _mm_unpacklo_epi16(p[m], _mm_srli_si128(p[m], 8));
    __m128i v0 = _mm_unpacklo_epi32(u[0], u[1]), v1 = _mm_unpackhi_epi32(u[0], u[1]); /* steps 0-3: rows 0-1, 2-3 */
    __m128i v2 = _mm_unpacklo_epi32(u[2], u[3]), v3 = _mm_unpackhi_epi32(u[2], u[3]); /* steps 4-7 */
    r[0] = _mm_unpacklo_epi64(v0, v2), r[1] = _mm_unpackhi_epi64(v0, v2);
    r[2] = _mm_unpacklo_epi64(v1, v3), r[3] = _mm_unpackhi_epi64(v1, v3);
}

/* The wavefront over n bytes a row at BPP (1 or 2) bytes per pixel, 8 / BPP rows: rows[j] = row
 * j's filtered bytes (column 0 at rows[j], padded), replaced by its pixels; up = the row above,
 * padded; f = the rows' filter types (0-4). A register holds one pixel of each row (lanes i of
 * row i / BPP); a block is 16 / BPP steps. ABS is SSE2's or SSSE3's absolute value of 16-bit
 * lanes. */
#define PL_WAVE_FN(name, attr, ABS, BPP)                                                                                           \
    attr static void name(uint8_t *const rows[], const uint8_t *up, size_t n, const uint8_t f[])                                   \
    {                                                                                                                              \
        enum { K = 8 / BPP, STEPS = 16 / BPP };                                                                                    \
        const __m128i zero = _mm_setzero_si128(), lo = _mm_set1_epi16(0xff);                                                       \
        uint16_t mk[5][8];                                                                                                         \
        for (int k = 0; k < 5; k++)                                                                                                \
            for (int i = 0; i < 8; i++)                                                                                            \
                mk[k][i] = f[i / BPP] == k ? 0xffff : 0;                                                                           \
        const __m128i m_sub = _mm_loadu_si128((const __m128i *)(const void *)mk[1]),                                               \
                      m_up = _mm_loadu_si128((const __m128i *)(const void *)mk[2]),                                                \
                      m_avg = _mm_loadu_si128((const __m128i *)(const void *)mk[3]),                                               \
                      m_paeth = _mm_loadu_si128((const __m128i *)(const void *)mk[4]);                                             \
        __m128i a = zero, c = zero;                                                                                                \
        for (size_t T = 0; T < n / BPP + K - 1; T += STEPS) {                                                                      \
            __m128i r[K], p[K], o[K], res[STEPS];                                                                                  \
            for (int j = 0; j < K; j++)                                                                                            \
                r[j] = _mm_loadu_si128((const __m128i *)(const void *)(rows[j] + (ptrdiff_t)BPP * ((ptrdiff_t)T - j)));            \
            if (BPP == 1)                                                                                                          \
                pl_wave_gather(r, p);                                                                                              \
            else                                                                                                                   \
                pl_wave_gather2(r, p);                                                                                             \
            for (int k = 0; k < STEPS; k++) {                                                                                      \
                __m128i s = k % 2 ? _mm_unpackhi_epi8(p[k / 2], zero) : _mm_unpacklo_epi8(p[k / 2], zero);                         \
                const uint8_t *u = up + BPP * (T + (size_t)k);                                                                     \
                __m128i b = _mm_or_si128(_mm_slli_si128(a, 2 * BPP), _mm_cvtsi32_si128(BPP == 1 ? u[0] : u[0] | u[1] << 16));      \
                __m128i bc = _mm_sub_epi16(b, c), ac = _mm_sub_epi16(a, c);                                                        \
                __m128i pa = ABS(bc), pb = ABS(ac), pc = ABS(_mm_add_epi16(ac, bc));                                               \
                __m128i use_b = _mm_cmpgt_epi16(pa, pb);                                                                           \
                __m128i use_c = _mm_cmpgt_epi16(_mm_min_epi16(pa, pb), pc);                                                        \
                __m128i off = _mm_xor_si128(ac, _mm_and_si128(_mm_xor_si128(ac, bc), use_b));                                      \
                __m128i paeth = _mm_add_epi16(c, _mm_andnot_si128(use_c, off));                                                    \
                __m128i avg = _mm_srli_epi16(_mm_add_epi16(a, b), 1);                                                              \
                __m128i pred = _mm_or_si128(_mm_or_si128(_mm_and_si128(m_sub, a), _mm_and_si128(m_up, b)),                         \
                                            _mm_or_si128(_mm_and_si128(m_avg, avg), _mm_and_si128(m_paeth, paeth)));               \
                c = b;                                                                                                             \
                a = _mm_and_si128(_mm_add_epi16(s, pred), lo);                                                                     \
                res[k] = a;                                                                                                        \
            }                                                                                                                      \
            for (int m = 0; m < STEPS / 2; m++)                                                                                    \
                p[m] = _mm_packus_epi16(res[2 * m], res[2 * m + 1]);                                                               \
            if (BPP == 1)                                                                                                          \
                pl_wave_scatter(p, o);                                                                                             \
            else                                                                                                                   \
                pl_wave_scatter2(p, o);                                                                                            \
            for (int j = 0; j < K; j++)                                                                                            \
                _mm_storeu_si128((__m128i *)(void *)(rows[j] + (ptrdiff_t)BPP * ((ptrdiff_t)T - j)), o[j]);                        \
        }                                                                                                                          \
    }
#define PL_WAVE_SSSE3 __attribute__((target("ssse3")))
PL_WAVE_FN(pl_wave1_sse2, , pl_wave_abs_sse2, 1)
PL_WAVE_FN(pl_wave1_ssse3, PL_WAVE_SSSE3, _mm_abs_epi16, 1)
PL_WAVE_FN(pl_wave2_sse2, , pl_wave_abs_sse2, 2)
PL_WAVE_FN(pl_wave2_ssse3, PL_WAVE_SSSE3, _mm_abs_epi16, 2)

size_t pl_png_unfilter_wave(pl_unfilter_impl impl, uint8_t *buf, size_t s, size_t y, int bpp, uint8_t *scratch)
{
    size_t k = pl_png_wave_rows(bpp);
    if (k == 0 || impl == PL_UNFILTER_SCALAR || !pl_png_unfilter_has(impl))
        return 0;
    uint8_t f[PL_WAVE_ROWS];
    bool chained = false;
    for (size_t j = 0; j < k; j++) {
        f[j] = buf[(y + j) * (s + 1)];
        if (f[j] > 4)
            return 0;
        chained = chained || f[j] >= 3;
    }
    if (!chained) /* Sub, Up and None alone are faster row by row (pl_png_unfilter.c) */
        return 0;
    size_t stride = s + 2 * PL_WAVE_PAD;
    uint8_t *up = scratch + PL_WAVE_PAD, *rows[PL_WAVE_ROWS];
    if (y > 0)
        memcpy(up, buf + (y - 1) * s, s);
    else
        memset(up, 0, s);
    for (size_t j = 0; j < k; j++) {
        rows[j] = scratch + (j + 1) * stride + PL_WAVE_PAD;
        memcpy(rows[j], buf + (y + j) * (s + 1) + 1, s);
    }
    bool ssse3 = impl == PL_UNFILTER_SSSE3;
    if (bpp == 1)
        (ssse3 ? pl_wave1_ssse3 : pl_wave1_sse2)(rows, up, s, f);
    else
        (ssse3 ? pl_wave2_ssse3 : pl_wave2_sse2)(rows, up, s, f);
    for (size_t j = 0; j < k; j++)
        memcpy(buf + (y + j) * s, rows[j], s);
    return k;
}
#else
size_t pl_png_unfilter_wave(pl_unfilter_impl impl, uint8_t *buf, size_t s, size_t y, int bpp, uint8_t *scratch)
{
    (void)impl, (void)buf, (void)s, (void)y, (void)bpp, (void)scratch;
    return 0;
}
#endif
