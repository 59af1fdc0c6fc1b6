/*
 * pl_png_unfilter: undoes PNG's row filters for the fast decoder (pl_png.c), for 1, 2, 3, 4, 6
 * and 8 bytes per pixel (8-bit G/GA/RGB/RGBA and 16-bit G/GA/RGB/RGBA).
 *
 * Technique. Up has no dependency inside a row: 16 bytes per SSE2 add. Sub, Average and Paeth
 * depend on the pixel to the left (a), so a row is a chain of pixels; what SIMD buys is the
 * channels of one pixel at once (3, 4, 6 or 8 byte lanes), with the chain kept in registers and
 * every load and store off it. Sub at 1 and 2 bytes per pixel is a prefix sum: 16 bytes at a
 * time, summed in log2(16/bpp) shifted adds plus the previous block's last pixel. Average uses
 * pavgb, which rounds up, minus the lost low bit: ((a + b) >> 1) = pavgb(a, b) - ((a ^ b) & 1).
 * Paeth (the filter of most rows that adaptive encoders write for photos) works in 16-bit lanes:
 * with b (above) and c (above left), |b - c| and b - c do not depend on a and are computed off the
 * chain; on it stay a - c, |a - c|, |a + b - 2c|, two compares and a select written as the
 * offset from c (a - c, b - c or 0), so that the new pixel is ((c + x) + offset) & 0xff and never
 * leaves its 16-bit register between pixels. SSSE3's pabsw shortens the chain by the SSE2
 * max(v, -v) pair, chosen at run time (__builtin_cpu_supports). Average and Paeth at 1 and 2
 * bytes per pixel go 8 / bpp rows at a time as a wavefront (pl_png_unfilter_wave.c: row y + j runs
 * j pixels behind row y, one lane each); a row alone there stays scalar (the chain is one byte or
 * two, and a vector lane buys nothing). Pixels at 3 and 6 bytes are stored with their exact size and loaded 4 or 8 bytes wide
 * (exact at a row's end), so that no store reaches bytes the chain has not read yet: rows can be
 * unfiltered in place, each moving down by its filter byte and the ones before it
 * (pl_png_unfilter_image). Two Paeth rows in a row at 4 bytes per pixel (RGBA photos: most of
 * their rows) go together: row y's pixel x and row y + 1's pixel x - 1 share the registers' halves,
 * two chains per instruction (2400x1600 RGBA: about 4 CPU-ms less); row y's filtered bytes are
 * copied aside first, as row y + 1's output lands on them in place. While a row is in cache, an
 * alpha channel is also checked for 255 everywhere (pl_png_row_opaque).
 *
 * Thread-safe: no state; the implementation is chosen per image (pl_png_unfilter_best).
 */
#include <stdlib.h>
#include <string.h>

#include "pl_png_unfilter.h"

#if defined(__x86_64__)
#define PL_UNFILTER_X86 1
#include <emmintrin.h>
#include <tmmintrin.h>
#endif

/* ---- scalar: every filter, every bpp; the reference of the SIMD code and its fallback */

static inline uint8_t pl_uf_paeth(int a, int b, int c)
{
    int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    if (pb < pa) {
        pa = pb;
        a = b;
    }
    return (uint8_t)(pc < pa ? c : a);
}

/* from byte x on (x >= bpp, or x = 0 for the whole row) */
static void pl_uf_scalar(uint8_t *dst, const uint8_t *src, const uint8_t *up, size_t x, size_t n, int bpp, int filter)
{
    size_t b = (size_t)bpp;
    switch (filter) {
    case 1:
        for (; x < n; x++)
            dst[x] = (uint8_t)(src[x] + (x >= b ? dst[x - b] : 0));
        break;
    case 2:
        for (; x < n; x++)
            dst[x] = (uint8_t)(src[x] + (up ? up[x] : 0));
        break;
    case 3:
        for (; x < n; x++)
            dst[x] = (uint8_t)(src[x] + (((x >= b ? dst[x - b] : 0) + (up ? up[x] : 0)) >> 1));
        break;
    case 4:
        if (up == NULL) { /* b = c = 0: Paeth is Sub */
            pl_uf_scalar(dst, src, up, x, n, bpp, 1);
            break;
        }
        for (; x < b && x < n; x++)
            dst[x] = (uint8_t)(src[x] + up[x]);
        for (; x < n; x++)
            dst[x] = (uint8_t)(src[x] + pl_uf_paeth(dst[x - b], up[x], up[x - b]));
        break;
    default:
        if (dst != src)
            memmove(dst + x, src + x, n - x);
        break;
    }
}

#ifdef PL_UNFILTER_X86
#define PL_UF_INLINE static inline __attribute__((always_inline))

/* A pixel's bytes to and from the low lanes of a register. Loads: wide = 8 more bytes may be
 * read at p (4 or 8 bytes then carry a 3- or 6-byte pixel, the extra lanes are ignored); else
 * the exact bytes, put together in a general register (a copy through memory would stall on
 * store forwarding). Stores: the exact size. */
PL_UF_INLINE __m128i pl_uf_load(const uint8_t *p, int bpp, int wide)
{
    uint32_t v32;
    uint16_t v16;
    uint64_t v64;
    switch (bpp) {
    case 3:
        if (wide) {
            memcpy(&v32, p, 4);
        } else {
            memcpy(&v16, p, 2);
            v32 = v16 | (uint32_t)p[2] << 16;
        }
        return _mm_cvtsi32_si128((int)v32);
    case 4:
        memcpy(&v32, p, 4);
        return _mm_cvtsi32_si128((int)v32);
    case 6:
        if (wide) {
            memcpy(&v64, p, 8);
        } else {
            memcpy(&v32, p, 4);
            memcpy(&v16, p + 4, 2);
            v64 = v32 | (uint64_t)v16 << 32;
        }
        return _mm_cvtsi64_si128((long long)v64);
    default:
        return _mm_loadl_epi64((const __m128i *)(const void *)p);
    }
}

PL_UF_INLINE void pl_uf_store(uint8_t *p, __m128i v, int bpp)
{
    if (bpp <= 4) {
        uint32_t v32 = (uint32_t)_mm_cvtsi128_si32(v);
        memcpy(p, &v32, (size_t)bpp);
    } else {
        uint64_t v64 = (uint64_t)_mm_cvtsi128_si64(v);
        memcpy(p, &v64, (size_t)bpp);
    }
}

PL_UF_INLINE void pl_uf_up_sse2(uint8_t *dst, const uint8_t *src, const uint8_t *up, size_t n)
{
    size_t x = 0;
    for (; x + 16 <= n; x += 16) {
        __m128i s = _mm_loadu_si128((const __m128i *)(const void *)(src + x));
        __m128i u = _mm_loadu_si128((const __m128i *)(const void *)(up + x));
        _mm_storeu_si128((__m128i *)(void *)(dst + x), _mm_add_epi8(s, u));
    }
    for (; x < n; x++)
        dst[x] = (uint8_t)(src[x] + up[x]);
}

/* Sub at 1 or 2 bytes per pixel: prefix sums of 16-byte blocks */
PL_UF_INLINE void pl_uf_sub_small_sse2(uint8_t *dst, const uint8_t *src, size_t n, int bpp)
{
    __m128i carry = _mm_setzero_si128();
    size_t x = 0;
    for (; x + 16 <= n; x += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + x));
        if (bpp == 1)
            v = _mm_add_epi8(v, _mm_slli_si128(v, 1));
        v = _mm_add_epi8(v, _mm_slli_si128(v, 2));
        v = _mm_add_epi8(v, _mm_slli_si128(v, 4));
        v = _mm_add_epi8(v, _mm_slli_si128(v, 8));
        v = _mm_add_epi8(v, carry);
        _mm_storeu_si128((__m128i *)(void *)(dst + x), v);
        /* the last pixel (byte 15, or bytes 14-15) in every lane */
        __m128i w = bpp == 1 ? _mm_unpackhi_epi8(v, v) : v;
        carry = _mm_shuffle_epi32(_mm_shufflehi_epi16(w, 0xff), 0xff);
    }
    pl_uf_scalar(dst, src, NULL, x, n, bpp, 1);
}

/* Sub at 3, 4, 6, 8 bytes per pixel: one pixel per add */
PL_UF_INLINE void pl_uf_sub_px_sse2(uint8_t *dst, const uint8_t *src, size_t n, int bpp)
{
    __m128i a = _mm_setzero_si128();
    for (size_t x = 0; x + (size_t)bpp <= n; x += (size_t)bpp) {
        a = _mm_add_epi8(a, pl_uf_load(src + x, bpp, x + 8 <= n));
        pl_uf_store(dst + x, a, bpp);
    }
}

/* Average at 3, 4, 6, 8 bytes per pixel (up != NULL) */
PL_UF_INLINE void pl_uf_avg_px_sse2(uint8_t *dst, const uint8_t *src, const uint8_t *up, size_t n, int bpp)
{
    const __m128i one = _mm_set1_epi8(1);
    __m128i a = _mm_setzero_si128();
    for (size_t x = 0; x + (size_t)bpp <= n; x += (size_t)bpp) {
        int wide = x + 8 <= n;
        __m128i b = pl_uf_load(up + x, bpp, wide), s = pl_uf_load(src + x, bpp, wide);
        __m128i lost = _mm_and_si128(_mm_xor_si128(a, b), one);
        a = _mm_sub_epi8(_mm_add_epi8(_mm_avg_epu8(a, b), s), lost);
        pl_uf_store(dst + x, a, bpp);
    }
}

PL_UF_INLINE __m128i pl_uf_abs16_sse2(__m128i v)
{
    return _mm_max_epi16(v, _mm_sub_epi16(_mm_setzero_si128(), v));
}

/* The next pixel of a Paeth chain in 16-bit lanes: a (left), b (above), c (above left), cx = c +
 * the filtered byte; ABS is SSE2's or SSSE3's */
#define PL_UF_PAETH_NEXT(ABS, a, b, c, cx, lo)                                                                                     \
    __extension__({                                                                                                                \
        __m128i bc = _mm_sub_epi16(b, c), pa = ABS(bc);                                                                            \
        __m128i ac = _mm_sub_epi16(a, c);                                                                                          \
        __m128i pb = ABS(ac), pc = ABS(_mm_add_epi16(ac, bc));                                                                     \
        __m128i use_b = _mm_cmpgt_epi16(pa, pb);                                      /* pb < pa */                                \
        __m128i use_c = _mm_cmpgt_epi16(_mm_min_epi16(pa, pb), pc);                   /* pc < both */                              \
        __m128i off = _mm_xor_si128(ac, _mm_and_si128(_mm_xor_si128(ac, bc), use_b)); /* a - c or b - c */                         \
        _mm_and_si128(_mm_add_epi16(cx, _mm_andnot_si128(use_c, off)), lo);                                                        \
    })

/* Paeth at 3, 4, 6, 8 bytes per pixel (up != NULL), in 16-bit lanes; ABS is SSE2's or SSSE3's */
#define PL_UF_PAETH_PX(ABS)                                                                                                        \
    do {                                                                                                                           \
        const __m128i zero = _mm_setzero_si128(), lo = _mm_set1_epi16(0xff);                                                       \
        __m128i a = zero, c = zero;                                                                                                \
        for (size_t x = 0; x + (size_t)bpp <= n; x += (size_t)bpp) {                                                               \
            int wide = x + 8 <= n;                                                                                                 \
            __m128i b = _mm_unpacklo_epi8(pl_uf_load(up + x, bpp, wide), zero);                                                    \
            __m128i cx = _mm_add_epi16(c, _mm_unpacklo_epi8(pl_uf_load(src + x, bpp, wide), zero));                                \
            a = PL_UF_PAETH_NEXT(ABS, a, b, c, cx, lo);                                                                            \
            pl_uf_store(dst + x, _mm_packus_epi16(a, a), bpp);                                                                     \
            c = b;                                                                                                                 \
        }                                                                                                                          \
    } while (0)

/* one function per implementation and bpp (a constant bpp makes the loads and stores fixed) */
#define PL_UF_PAETH_FN(name, attr, ABS, BPP)                                                                                       \
    attr static void name(uint8_t *dst, const uint8_t *src, const uint8_t *up, size_t n)                                           \
    {                                                                                                                              \
        const int bpp = BPP;                                                                                                       \
        PL_UF_PAETH_PX(ABS);                                                                                                       \
    }
#define PL_UF_SSSE3 __attribute__((target("ssse3")))
PL_UF_PAETH_FN(pl_uf_paeth3_sse2, , pl_uf_abs16_sse2, 3)
PL_UF_PAETH_FN(pl_uf_paeth4_sse2, , pl_uf_abs16_sse2, 4)
PL_UF_PAETH_FN(pl_uf_paeth6_sse2, , pl_uf_abs16_sse2, 6)
PL_UF_PAETH_FN(pl_uf_paeth8_sse2, , pl_uf_abs16_sse2, 8)
PL_UF_PAETH_FN(pl_uf_paeth3_ssse3, PL_UF_SSSE3, _mm_abs_epi16, 3)
PL_UF_PAETH_FN(pl_uf_paeth4_ssse3, PL_UF_SSSE3, _mm_abs_epi16, 4)
PL_UF_PAETH_FN(pl_uf_paeth6_ssse3, PL_UF_SSSE3, _mm_abs_epi16, 6)
PL_UF_PAETH_FN(pl_uf_paeth8_ssse3, PL_UF_SSSE3, _mm_abs_epi16, 8)

/* Paeth on two rows at once, 4 bytes per pixel: row y's pixel x in the low half of the registers,
 * row y + 1's pixel x - 1 in the high half, so that two chains share each instruction (the row
 * above row y + 1's pixel is row y's result of the step before: b's high half is a's low half).
 * s0 must not lie in the rows being written (pl_png_unfilter_rows copies it aside). */
#define PL_UF_PAETH2_FN(name, attr, ABS)                                                                                           \
    attr static void name(uint8_t *d0, const uint8_t *s0, const uint8_t *up, uint8_t *d1, const uint8_t *s1, size_t w)             \
    {                                                                                                                              \
        const __m128i zero = _mm_setzero_si128(), lo = _mm_set1_epi16(0xff);                                                       \
        __m128i a = zero, c = zero;                                                                                                \
        for (size_t x = 0; x <= w; x++) {                                                                                          \
            uint32_t u = 0, p0 = 0, p1 = 0;                                                                                        \
            if (x < w) {                                                                                                           \
                memcpy(&u, up + 4 * x, 4);                                                                                         \
                memcpy(&p0, s0 + 4 * x, 4);                                                                                        \
            }                                                                                                                      \
            if (x > 0)                                                                                                             \
                memcpy(&p1, s1 + 4 * (x - 1), 4);                                                                                  \
            __m128i sv = _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)p0), _mm_cvtsi32_si128((int)p1));                               \
            __m128i cx = _mm_add_epi16(c, _mm_unpacklo_epi8(sv, zero));                                                            \
            __m128i b = _mm_unpacklo_epi64(_mm_unpacklo_epi8(_mm_cvtsi32_si128((int)u), zero), a);                                 \
            a = PL_UF_PAETH_NEXT(ABS, a, b, c, cx, lo);                                                                            \
            __m128i pk = _mm_packus_epi16(a, a);                                                                                   \
            uint32_t r0 = (uint32_t)_mm_cvtsi128_si32(pk), r1 = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(pk, 4));                \
            if (x < w)                                                                                                             \
                memcpy(d0 + 4 * x, &r0, 4);                                                                                        \
            if (x > 0)                                                                                                             \
                memcpy(d1 + 4 * (x - 1), &r1, 4);                                                                                  \
            c = b;                                                                                                                 \
        }                                                                                                                          \
    }
PL_UF_PAETH2_FN(pl_uf_paeth4x2_sse2, , pl_uf_abs16_sse2)
PL_UF_PAETH2_FN(pl_uf_paeth4x2_ssse3, PL_UF_SSSE3, _mm_abs_epi16)

/* Each bpp gets its own copy of the loops (a constant bpp makes the loads and stores fixed). */
#define PL_UF_BY_BPP(fn, ...)                                                                                                      \
    switch (bpp) {                                                                                                                 \
    case 3:                                                                                                                        \
        fn(__VA_ARGS__, 3);                                                                                                        \
        break;                                                                                                                     \
    case 4:                                                                                                                        \
        fn(__VA_ARGS__, 4);                                                                                                        \
        break;                                                                                                                     \
    case 6:                                                                                                                        \
        fn(__VA_ARGS__, 6);                                                                                                        \
        break;                                                                                                                     \
    default:                                                                                                                       \
        fn(__VA_ARGS__, 8);                                                                                                        \
        break;                                                                                                                     \
    }

static void pl_uf_simd(pl_unfilter_impl impl, uint8_t *dst, const uint8_t *src, const uint8_t *up, size_t n, int bpp, int filter)
{
    if (up == NULL && filter >= 2) { /* the first row: Up is None, Paeth is Sub, Average is a >> 1 */
        if (filter == 3)
            pl_uf_scalar(dst, src, up, 0, n, bpp, 3);
        else if (filter == 2)
            pl_uf_scalar(dst, src, up, 0, n, bpp, 0);
        else
            pl_uf_simd(impl, dst, src, up, n, bpp, 1);
        return;
    }
    switch (filter) {
    case 1:
        if (bpp <= 2)
            pl_uf_sub_small_sse2(dst, src, n, bpp);
        else
            PL_UF_BY_BPP(pl_uf_sub_px_sse2, dst, src, n);
        break;
    case 2:
        pl_uf_up_sse2(dst, src, up, n);
        break;
    case 3:
        if (bpp <= 2)
            pl_uf_scalar(dst, src, up, 0, n, bpp, 3);
        else
            PL_UF_BY_BPP(pl_uf_avg_px_sse2, dst, src, up, n);
        break;
    case 4:
        if (bpp <= 2)
            pl_uf_scalar(dst, src, up, 0, n, bpp, 4);
        else if (impl == PL_UNFILTER_SSSE3)
            (bpp == 3   ? pl_uf_paeth3_ssse3
             : bpp == 4 ? pl_uf_paeth4_ssse3
             : bpp == 6 ? pl_uf_paeth6_ssse3
                        : pl_uf_paeth8_ssse3)(dst, src, up, n);
        else
            (bpp == 3   ? pl_uf_paeth3_sse2
             : bpp == 4 ? pl_uf_paeth4_sse2
             : bpp == 6 ? pl_uf_paeth6_sse2
                        : pl_uf_paeth8_sse2)(dst, src, up, n);
        break;
    default:
        memmove(dst, src, n);
        break;
    }
}
#endif

int pl_png_unfilter_has(pl_unfilter_impl impl)
{
#ifdef PL_UNFILTER_X86
    if (impl == PL_UNFILTER_SSSE3)
        return __builtin_cpu_supports("ssse3") ? 1 : 0;
    return impl == PL_UNFILTER_SCALAR || impl == PL_UNFILTER_SSE2;
#else
    return impl == PL_UNFILTER_SCALAR;
#endif
}

/* The choice is made once per process (the environment is read at the first PNG, not per image);
 * racing first calls compute the same value. */
pl_unfilter_impl pl_png_unfilter_best(void)
{
    static int best = -1;
    int b = __atomic_load_n(&best, __ATOMIC_RELAXED);
    if (b >= 0)
        return (pl_unfilter_impl)b;
    const char *cap = getenv("IMGPIPE_PNG_UNFILTER");
    pl_unfilter_impl max = PL_UNFILTER_SSSE3;
    if (cap != NULL)
        max = strcmp(cap, "scalar") == 0 ? PL_UNFILTER_SCALAR : strcmp(cap, "sse2") == 0 ? PL_UNFILTER_SSE2 : PL_UNFILTER_SSSE3;
    b = PL_UNFILTER_SCALAR;
    for (int i = (int)max; i > 0; i--)
        if (pl_png_unfilter_has((pl_unfilter_impl)i)) {
            b = i;
            break;
        }
    __atomic_store_n(&best, b, __ATOMIC_RELAXED);
    return (pl_unfilter_impl)b;
}

int pl_png_unfilter_row(pl_unfilter_impl impl, uint8_t *dst, const uint8_t *src, const uint8_t *up, size_t n, int bpp, int filter)
{
    if (filter < 0 || filter > 4 || !(bpp == 1 || bpp == 2 || bpp == 3 || bpp == 4 || bpp == 6 || bpp == 8))
        return -1;
#ifdef PL_UNFILTER_X86
    if (impl != PL_UNFILTER_SCALAR && pl_png_unfilter_has(impl)) {
        pl_uf_simd(impl, dst, src, up, n, bpp, filter);
        return 0;
    }
#endif
    (void)impl;
    pl_uf_scalar(dst, src, up, 0, n, bpp, filter);
    return 0;
}

/* The row's bytes AND-ed 8 at a time: bpp 2, 4 and 8 divide 8, so every word holds whole pixels
 * with their alpha bytes at the same places (mask m); the tail is a whole number of pixels, padded
 * with ones. gcc vectorises the AND; a 2400-pixel RGBA row costs well under a microsecond. */
bool pl_png_row_opaque(const uint8_t *row, size_t n, int bpp, int alpha)
{
    uint8_t mb[8] = {0}, tail[8];
    for (int i = 0; i < 8; i++)
        mb[i] = i % bpp >= bpp - alpha ? 0xff : 0;
    uint64_t m, w, acc = ~(uint64_t)0;
    memcpy(&m, mb, 8);
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        memcpy(&w, row + k, 8);
        acc &= w;
    }
    memset(tail, 0xff, 8);
    memcpy(tail, row + k, n - k);
    memcpy(&w, tail, 8);
    acc &= w;
    return (acc & m) == m;
}

/* Rows y and y + 1, both Paeth at 4 bytes per pixel, y > 0, with SIMD: unfiltered together
 * (row y's filtered bytes copied to tmp first: row y + 1's output overwrites them in place).
 * 1 = done, 0 = not that case. */
static int pl_uf_pair(pl_unfilter_impl impl, uint8_t *buf, size_t s, size_t y, size_t y1, int bpp, uint8_t **tmp)
{
#ifdef PL_UNFILTER_X86
    const uint8_t *f0 = buf + y * (s + 1), *f1 = f0 + s + 1;
    if (impl == PL_UNFILTER_SCALAR || bpp != 4 || y == 0 || y + 1 >= y1 || f0[0] != 4 || f1[0] != 4 || !pl_png_unfilter_has(impl) ||
        (*tmp == NULL && (*tmp = malloc(s)) == NULL))
        return 0;
    memcpy(*tmp, f0 + 1, s);
    uint8_t *d0 = buf + y * s;
    (impl == PL_UNFILTER_SSSE3 ? pl_uf_paeth4x2_ssse3 : pl_uf_paeth4x2_sse2)(d0, *tmp, d0 - s, d0 + s, f1 + 1, s / 4);
    return 1;
#else
    (void)impl, (void)buf, (void)s, (void)y, (void)y1, (void)bpp, (void)tmp;
    return 0;
#endif
}

void pl_png_unfilter_mem_free(pl_unfilter_mem *mem)
{
    free(mem->pair);
    free(mem->wave);
    mem->pair = mem->wave = NULL;
}

int pl_png_unfilter_rows(uint8_t *buf, size_t s, size_t y0, size_t y1, int bpp, int alpha, bool *opaque, pl_unfilter_mem *mem)
{
    if (alpha != 0 && (opaque == NULL || alpha > 2 || (bpp != 2 && bpp != 4 && bpp != 8) || alpha >= bpp))
        return -1;
    pl_unfilter_impl impl = pl_png_unfilter_best();
    size_t wave_rows = impl != PL_UNFILTER_SCALAR ? pl_png_wave_rows(bpp) : 0;
    if (wave_rows > 0 && y1 - y0 >= wave_rows && mem->wave == NULL)
        mem->wave = calloc(1, pl_png_wave_scratch_size(s));
    if (mem->wave == NULL)
        wave_rows = 0;
    int rc = 0;
    for (size_t i = y0; i < y1 && rc == 0; i++) {
        const uint8_t *src = buf + i * (s + 1);
        uint8_t *dst = buf + i * s;
        size_t rows = 1;
        if (wave_rows > 0 && i + wave_rows <= y1 && pl_png_unfilter_wave(impl, buf, s, i, bpp, mem->wave) != 0)
            rows = wave_rows;
        else if (pl_uf_pair(impl, buf, s, i, y1, bpp, &mem->pair))
            rows = 2;
        else if (pl_png_unfilter_row(impl, dst, src + 1, i > 0 ? dst - s : NULL, s, bpp, src[0]) != 0)
            rc = -1;
        for (size_t k = 0; k < rows && rc == 0 && alpha != 0 && *opaque; k++)
            *opaque = pl_png_row_opaque(dst + k * s, s, bpp, alpha);
        i += rows - 1;
    }
    return rc;
}

int pl_png_unfilter_image(uint8_t *buf, size_t s, size_t h, int bpp, int alpha, bool *opaque)
{
    if (opaque != NULL)
        *opaque = alpha != 0;
    pl_unfilter_mem mem = {0};
    int rc = pl_png_unfilter_rows(buf, s, 0, h, bpp, alpha, opaque, &mem);
    pl_png_unfilter_mem_free(&mem);
    return rc;
}

void pl_png_unfilter_be16(uint8_t *p, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    (void)p;
    (void)n;
#else
    size_t x = 0;
#ifdef PL_UNFILTER_X86
    for (; x + 16 <= n; x += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + x));
        _mm_storeu_si128((__m128i *)(void *)(p + x), _mm_or_si128(_mm_slli_epi16(v, 8), _mm_srli_epi16(v, 8)));
    }
#endif
    for (; x + 2 <= n; x += 2) {
        uint8_t t = p[x];
        p[x] = p[x + 1];
        p[x + 1] = t;
    }
#endif
}
