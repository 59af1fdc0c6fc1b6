/*
 * pl_reduceh: the horizontal half of a lanczos3 downscale of 8-bit rows, 1 to 4 bands.
 *
 * Why: libvips 8.14's reduceh is plain C (one multiply per tap and band through its region
 * machinery), and its vector reducev works down columns only. pl_reduce.c used to run the
 * horizontal half as transpose, reducev, transpose: two passes over the pixels that move 3- or
 * 4-byte elements one by one, and a copy between them. Here the horizontal half is computed
 * directly, row by row, from a plan made once per image.
 *
 * The filter is vips_resize's: lanczos3 stretched by the factor s = in_w / out_w (support 3s on
 * each side), output pixel x centred at (x + 0.5) s - 0.5, weights normalised to 1, pixels past an
 * edge taken as the edge pixel (libvips extends its input by copying the edge). Weights are exact
 * positions (libvips rounds them to 1/1024 of a pixel), folded onto the edge where the window
 * passes it, and held as 14-bit integers that sum to exactly 16384; sums are 32-bit, rounded
 * half up and clamped. Every window is padded to a multiple of 4 taps and moved inside the row
 * (zero weights outside the real window), so that loads never leave the row.
 *
 * SSSE3 (chosen at run time): four taps per step; one pshufb puts each band's two neighbouring
 * samples into one 32-bit lane as 16-bit values and pmaddwd multiplies and adds them by a pair of
 * weights, so a step is two shuffles and two multiply-adds for RGB/RGBA (grey-alpha: one; grey:
 * one over four taps). RGB loads 8 + 4 bytes, never past the 12 it uses. The scalar code computes
 * the same integer sums: the bytes are identical (tests/engine/test_engine_reduceh.c).
 *
 * Thread-safe: the plan is read-only once made; no state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "pl_reduceh.h"

#if defined(__x86_64__)
#define PL_REDUCEH_X86 1
#include <emmintrin.h>
#include <tmmintrin.h>
#define PL_RH_SSSE3 __attribute__((target("ssse3")))
#endif

#define PL_RH_BITS 14
#define PL_RH_ONE (1 << PL_RH_BITS)

struct pl_reduceh_plan {
    int in_w, out_w, bands;
    int n;         /* taps per output pixel, a multiple of 4 */
    int *start;    /* first input pixel of each window */
    int16_t *coef; /* n weights per output pixel */
    int vector_ok; /* in_w >= n: every padded window fits inside a row */
    /* the weights as the SSSE3 code multiplies them: per output pixel and step of 4 taps, two
     * 16-byte vectors (see pl_rh_spread); 16-byte aligned */
    int16_t *wide;
};

static double pl_rh_lanczos3(double t)
{
    if (t == 0)
        return 1.0;
    if (t <= -3 || t >= 3)
        return 0.0;
    double pt = G_PI * t;
    return 3.0 * sin(pt) * sin(pt / 3.0) / (pt * pt);
}

/* Per step of four taps c0..c3, the two vectors the SSSE3 code multiplies by: RGB/RGBA lanes are
 * (sample at tap k, at tap k + 1) per band, so (c0, c1) four times, then (c2, c3) four times;
 * grey-alpha lanes are grey and alpha of taps 0-1, then of taps 2-3: (c0, c1, c0, c1, c2, c3, c2,
 * c3) and zeros; grey lanes are taps 0..3: (c0, c1, c2, c3, 0, 0, 0, 0) and zeros. */
static void pl_rh_spread(pl_reduceh_plan *p, size_t groups)
{
    for (size_t g = 0; g < groups; g++) {
        const int16_t *c = p->coef + 4 * g;
        int16_t *v = p->wide + 16 * g;
        memset(v, 0, 16 * sizeof(int16_t));
        for (int i = 0; i < 4; i++) {
            if (p->bands >= 3) {
                v[2 * i] = c[0], v[2 * i + 1] = c[1];
                v[8 + 2 * i] = c[2], v[8 + 2 * i + 1] = c[3];
            } else if (p->bands == 2) {
                v[i] = c[i & 1];
                v[4 + i] = c[2 + (i & 1)];
            } else {
                v[i] = c[i];
            }
        }
    }
}

pl_reduceh_plan *pl_reduceh_plan_new(int in_w, int out_w, int bands)
{
    if (in_w < 1 || out_w < 1 || out_w > in_w || bands < 1 || bands > 4 || in_w / 64 >= out_w)
        return NULL;
    double s = (double)in_w / out_w, r = 3.0 * s;
    int span = (int)ceil(2 * r) + 2; /* most input pixels one window can touch */
    int n = span > in_w ? in_w : span;
    n = (n + 3) & ~3;
    pl_reduceh_plan *p = g_try_new0(pl_reduceh_plan, 1);
    double *w = g_try_new(double, (gsize)span);
    if (p == NULL || w == NULL)
        goto fail;
    p->in_w = in_w, p->out_w = out_w, p->bands = bands, p->n = n;
    p->vector_ok = in_w >= n;
    p->start = g_try_new(int, (gsize)out_w);
    p->coef = g_try_new0(int16_t, (gsize)out_w * (gsize)n);
    if (p->start == NULL || p->coef == NULL)
        goto fail;
    for (int x = 0; x < out_w; x++) {
        double cx = (x + 0.5) * s - 0.5;
        int j0 = (int)ceil(cx - r), j1 = (int)floor(cx + r);
        /* the window clamped to the row; weights past an edge fold onto the edge pixel */
        int lo = j0 < 0 ? 0 : j0, hi = j1 > in_w - 1 ? in_w - 1 : j1;
        if (hi < lo)
            lo = hi = cx < 0 ? 0 : in_w - 1;
        memset(w, 0, sizeof(double) * (size_t)(hi - lo + 1));
        double sum = 0;
        for (int j = j0; j <= j1; j++) {
            double v = pl_rh_lanczos3((j - cx) / s);
            int k = (j < lo ? lo : j > hi ? hi : j) - lo;
            w[k] += v;
            sum += v;
        }
        int st = lo;
        if (p->vector_ok && st > in_w - n)
            st = in_w - n;
        if (!p->vector_ok)
            st = 0;
        int16_t *c = p->coef + (size_t)x * (size_t)n;
        int total = 0, big = lo - st;
        for (int j = lo; j <= hi; j++) {
            int q = (int)lrint(w[j - lo] / sum * PL_RH_ONE);
            c[j - st] = (int16_t)q;
            total += q;
            if (abs(q) > abs(c[big]))
                big = j - st;
        }
        c[big] = (int16_t)(c[big] + PL_RH_ONE - total); /* the weights sum to exactly 1 */
        p->start[x] = st;
    }
    g_free(w);
    if (p->vector_ok && pl_reduceh_has(PL_REDUCEH_SSSE3)) {
        size_t groups = (size_t)out_w * (size_t)(n / 4);
        if (posix_memalign((void **)&p->wide, 16, groups * 16 * sizeof(int16_t)) != 0)
            p->wide = NULL;
        else
            pl_rh_spread(p, groups);
    }
    return p;
fail:
    g_free(w);
    pl_reduceh_plan_free(p);
    return NULL;
}

void pl_reduceh_plan_free(pl_reduceh_plan *p)
{
    if (p == NULL)
        return;
    g_free(p->start);
    g_free(p->coef);
    free(p->wide);
    g_free(p);
}

static inline uint8_t pl_rh_clamp(int32_t v)
{
    v = (v + PL_RH_ONE / 2) >> PL_RH_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void pl_rh_row_scalar(const pl_reduceh_plan *p, const uint8_t *in, uint8_t *out)
{
    int nb = p->bands, n = p->n < p->in_w ? p->n : p->in_w;
    for (int x = 0; x < p->out_w; x++) {
        const uint8_t *s = in + (size_t)p->start[x] * (size_t)nb;
        const int16_t *c = p->coef + (size_t)x * (size_t)p->n;
        int32_t acc[4] = {0, 0, 0, 0};
        for (int k = 0; k < n; k++, s += nb)
            for (int b = 0; b < nb; b++)
                acc[b] += (int32_t)c[k] * s[b];
        for (int b = 0; b < nb; b++)
            out[(size_t)x * (size_t)nb + (size_t)b] = pl_rh_clamp(acc[b]);
    }
}

#ifdef PL_REDUCEH_X86
static inline uint32_t pl_rh_load32(const uint8_t *s)
{
    uint32_t v;
    memcpy(&v, s, 4);
    return v;
}

/* (acc + 1/2) >> 14, clamped to bytes, in the low lanes of the result */
PL_RH_SSSE3 static inline __m128i pl_rh_pack(__m128i acc)
{
    acc = _mm_srai_epi32(_mm_add_epi32(acc, _mm_set1_epi32(PL_RH_ONE / 2)), PL_RH_BITS);
    acc = _mm_packs_epi32(acc, acc);
    return _mm_packus_epi16(acc, acc);
}

/* RGB (NB 3) and RGBA (4): lanes R, G, B, A; four taps per step */
PL_RH_SSSE3 static inline void pl_rh_row_ssse3_34(const pl_reduceh_plan *p, const uint8_t *in, uint8_t *out, const int NB)
{
    const int n = p->n;
    const __m128i mlo = NB == 3 ? _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1)
                                : _mm_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1);
    const __m128i mhi = NB == 3 ? _mm_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1)
                                : _mm_setr_epi8(8, -1, 12, -1, 9, -1, 13, -1, 10, -1, 14, -1, 11, -1, 15, -1);
    const __m128i *w = (const __m128i *)p->wide;
    for (int x = 0; x < p->out_w; x++) {
        const uint8_t *s = in + (size_t)p->start[x] * NB;
        __m128i acc = _mm_setzero_si128();
        for (int k = 0; k < n; k += 4, s += 4 * NB, w += 2) {
            __m128i v = NB == 3
                            ? _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)s), _mm_cvtsi32_si128((int)pl_rh_load32(s + 8)))
                            : _mm_loadu_si128((const __m128i *)s);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_shuffle_epi8(v, mlo), _mm_load_si128(w)));
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_shuffle_epi8(v, mhi), _mm_load_si128(w + 1)));
        }
        uint32_t px = (uint32_t)_mm_cvtsi128_si32(pl_rh_pack(acc));
        memcpy(out + (size_t)x * NB, &px, NB);
    }
}

PL_RH_SSSE3 static void pl_rh_row_ssse3_3(const pl_reduceh_plan *p, const uint8_t *in, uint8_t *out)
{
    pl_rh_row_ssse3_34(p, in, out, 3);
}

PL_RH_SSSE3 static void pl_rh_row_ssse3_4(const pl_reduceh_plan *p, const uint8_t *in, uint8_t *out)
{
    pl_rh_row_ssse3_34(p, in, out, 4);
}

/* grey-alpha: lanes (grey, alpha) of taps 0-1, then of taps 2-3, summed at the end */
PL_RH_SSSE3 static void pl_rh_row_ssse3_2(const pl_reduceh_plan *p, const uint8_t *in, uint8_t *out)
{
    const int n = p->n;
    const __m128i m = _mm_setr_epi8(0, -1, 2, -1, 1, -1, 3, -1, 4, -1, 6, -1, 5, -1, 7, -1);
    const __m128i *w = (const __m128i *)p->wide;
    for (int x = 0; x < p->out_w; x++) {
        const uint8_t *s = in + (size_t)p->start[x] * 2;
        __m128i acc = _mm_setzero_si128();
        for (int k = 0; k < n; k += 4, s += 8, w += 2)
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)s), m), _mm_load_si128(w)));
        acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4E));
        uint16_t px = (uint16_t)_mm_cvtsi128_si32(pl_rh_pack(acc));
        memcpy(out + (size_t)x * 2, &px, 2);
    }
}

/* grey: four taps in the low four 16-bit lanes, two partial sums */
PL_RH_SSSE3 static void pl_rh_row_ssse3_1(const pl_reduceh_plan *p, const uint8_t *in, uint8_t *out)
{
    const int n = p->n;
    const __m128i zero = _mm_setzero_si128();
    const __m128i *w = (const __m128i *)p->wide;
    for (int x = 0; x < p->out_w; x++) {
        const uint8_t *s = in + p->start[x];
        __m128i acc = _mm_setzero_si128();
        for (int k = 0; k < n; k += 4, s += 4, w += 2) {
            __m128i v = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)pl_rh_load32(s)), zero);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(v, _mm_load_si128(w)));
        }
        acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x55));
        out[x] = (uint8_t)_mm_cvtsi128_si32(pl_rh_pack(acc));
    }
}
#endif

int pl_reduceh_has(pl_reduceh_impl impl)
{
    switch (impl) {
    case PL_REDUCEH_SCALAR:
        return 1;
    case PL_REDUCEH_SSSE3:
#ifdef PL_REDUCEH_X86
        return __builtin_cpu_supports("ssse3") ? 1 : 0;
#else
        return 0;
#endif
    }
    return 0;
}

pl_reduceh_impl pl_reduceh_best(void)
{
    return pl_reduceh_has(PL_REDUCEH_SSSE3) ? PL_REDUCEH_SSSE3 : PL_REDUCEH_SCALAR;
}

void pl_reduceh_rows(const pl_reduceh_plan *p, pl_reduceh_impl impl, const uint8_t *in, size_t in_stride, uint8_t *out,
                     size_t out_stride, int rows)
{
    void (*row)(const pl_reduceh_plan *, const uint8_t *, uint8_t *) = pl_rh_row_scalar;
#ifdef PL_REDUCEH_X86
    static void (*const ssse3[5])(const pl_reduceh_plan *, const uint8_t *,
                                  uint8_t *) = {NULL, pl_rh_row_ssse3_1, pl_rh_row_ssse3_2, pl_rh_row_ssse3_3, pl_rh_row_ssse3_4};
    if (impl == PL_REDUCEH_SSSE3 && p->wide != NULL)
        row = ssse3[p->bands];
#else
    (void)impl;
#endif
    for (int y = 0; y < rows; y++)
        row(p, in + (size_t)y * in_stride, out + (size_t)y * out_stride);
}
