/*
 * pl_lanczos: a lanczos3 downscale of 8-bit pixels, along rows (1 to 4 bands) and down columns.
 *
 * Why: libvips 8.14's reduceh is plain C (one multiply per tap and band through its region
 * machinery), and its vector reducev keeps 8-bit weights: at large factors (many small weights)
 * it drifts from a float lanczos3 (a dithered palette photo by 1/4.8: 47.8 dB, against 52.3 with
 * vips_resize's box shrink first; and that box, vips_shrinkv, cost more than the filter). Here
 * both passes run from one plan per axis, with 14-bit weights, at the whole factor.
 *
 * The filter is vips_resize's: lanczos3 stretched by the factor s = in / out (support 3s on each
 * side), output pixel x centred at (x + 0.5) s - 0.5, weights normalised to 1, pixels past an
 * edge taken as the edge pixel (libvips extends its input by copying the edge). Weights are exact
 * positions (libvips rounds them to 1/1024 of a pixel), folded onto the edge where the window
 * passes it, and held as 14-bit integers that sum to exactly 16384; sums are 32-bit, rounded
 * half up and clamped. Every window is padded to a multiple of 4 taps and moved inside the row
 * (zero weights outside the real window), so that loads never leave the row or the image.
 *
 * Rows, SSSE3 or AVX2 (chosen at run time): four taps per step; one pshufb puts each band's two
 * neighbouring samples into one 32-bit lane as 16-bit values and pmaddwd multiplies and adds them
 * by a pair of weights, so a step is two shuffles and two multiply-adds for RGB/RGBA (grey-alpha:
 * one; grey: one over four taps). RGB loads 8 + 4 bytes, never past the 12 it uses. AVX2 runs two
 * RGB/RGBA output pixels at once, one per 128-bit lane (photo12's thumbnail: -0.5 to -0.8 CPU-ms),
 * with both pixels' weights side by side (one aligned 32-byte load per half step) and whole
 * 16-byte input loads wherever 4 bytes past the window are still in the row; both pixels are
 * packed and stored together (-0.4 CPU-ms more: the row pass was 4.3 % of that thumbnail).
 * Windows are as wide as the widest one really is, rounded up to 4 taps: 8 at s = 1.25, the
 * residual factor after a DCT-scaled JPEG decode (a bound of 6s + 2 made it 12).
 * Columns, SSE2: 16 bytes of two input rows at a time, widened and interleaved to 16-bit pairs,
 * one pmaddwd per 4 samples and pair of rows; AVX2: 32 bytes, the same in each lane. The scalar
 * code computes the same integer sums: the bytes are identical (tests/engine/test_engine_lanczos.c).
 *
 * Thread-safe: a plan is read-only once made; no state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "pl_lanczos.h"

#if defined(__x86_64__)
#define PL_LANCZOS_X86 1
#include <emmintrin.h>
#include <immintrin.h>
#include <tmmintrin.h>
#define PL_RH_SSSE3 __attribute__((target("ssse3")))
#define PL_RH_AVX2 __attribute__((target("avx2")))
#endif

#define PL_RH_BITS 14
#define PL_RH_ONE (1 << PL_RH_BITS)

struct pl_lanczos_plan {
    int in_w, out_w, bands;
    int n;         /* taps per output pixel, a multiple of 4 */
    int *start;    /* first input pixel of each window */
    int16_t *coef; /* n weights per output pixel */
    int vector_ok; /* in_w >= n: every padded window fits inside a row */
    /* the weights as the SSSE3 code multiplies them: per output pixel and step of 4 taps, two
     * 16-byte vectors (see pl_rh_spread); 16-byte aligned */
    int16_t *wide;
    /* AVX2, RGB/RGBA: the same weights for output pixels 2q and 2q + 1 side by side, one 32-byte
     * vector per half step (see pl_rh_pair); 32-byte aligned; NULL without AVX2 */
    int16_t *pair;
    int x16; /* output pixels 0..x16-1 may load 16 bytes at each step (RGB: 4 past the 12 used) */
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
static void pl_rh_spread(pl_lanczos_plan *p, size_t groups)
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

/* The AVX2 layout: for pixels 2q and 2q + 1 and each step, [lo of 2q | lo of 2q + 1] then
 * [hi of 2q | hi of 2q + 1], so that a step loads its weights as two aligned 32-byte vectors. */
static void pl_rh_pair(pl_lanczos_plan *p)
{
    size_t steps = (size_t)p->n / 4;
    for (size_t q = 0; q < (size_t)p->out_w / 2; q++)
        for (size_t k = 0; k < steps; k++) {
            const int16_t *a = p->wide + (2 * q * steps + k) * 16, *b = a + steps * 16;
            int16_t *v = p->pair + (q * steps + k) * 32;
            memcpy(v, a, 8 * sizeof(int16_t));
            memcpy(v + 8, b, 8 * sizeof(int16_t));
            memcpy(v + 16, a + 8, 8 * sizeof(int16_t));
            memcpy(v + 24, b + 8, 8 * sizeof(int16_t));
        }
}

/* The input pixels output pixel x's window reaches, j0..j1 (before clamping to the row): those
 * within 3s of its centre. */
static inline void pl_lanczos_reach(double s, int x, int *j0, int *j1)
{
    double cx = (x + 0.5) * s - 0.5, r = 3.0 * s;
    *j0 = (int)ceil(cx - r);
    *j1 = (int)floor(cx + r);
}

/* The most input pixels one window reaches, for in_w -> out_w: at most floor(6s) + 1, found by
 * walking the windows (the bound 6s + 2 padded 7.5 taps to 12 at the common s = 1.25, a third
 * more multiplies for weights that are zero). */
static int pl_lanczos_span(int in_w, int out_w)
{
    double s = (double)in_w / out_w;
    int span = 1;
    for (int x = 0; x < out_w; x++) {
        int j0, j1;
        pl_lanczos_reach(s, x, &j0, &j1);
        span = MAX(span, j1 - j0 + 1);
    }
    return span;
}

int pl_lanczos_window_max(int in_w, int out_w)
{
    int n = (MIN(pl_lanczos_span(in_w, out_w), in_w) + 3) & ~3;
    return in_w >= n ? n : in_w; /* pl_lanczos_window's count */
}

/* The filter's taps by phase. Output pixels x and x + P, P = out / gcd(in, out), sit at the same
 * fraction of an input pixel (their centres are in / gcd pixels apart), so their windows' taps
 * are the same numbers: each phase's are computed once and reused (1000 -> 800, the thumbnail's
 * residual after a 1/4 JPEG decode, has 4 phases: two sin() per tap were 1 % of its CPU). A
 * window is reused only when it is the first one's moved by exactly that many pixels; the rest,
 * and ratios with too many phases to keep, are computed as they come. */
typedef struct pl_lanczos_phases {
    int period, shift, span; /* P, in / gcd, taps kept per phase */
    double *taps;            /* period x span; NULL: nothing kept */
    int *j0, *j1;            /* the first window of each phase; j0 > j1 until it is made */
} pl_lanczos_phases;

enum { PL_LANCZOS_PHASE_DOUBLES = 1 << 16 };

static void pl_lanczos_phases_init(pl_lanczos_phases *ph, int in_w, int out_w, int span)
{
    int a = in_w, b = out_w;
    while (b != 0) {
        int t = a % b;
        a = b, b = t;
    }
    memset(ph, 0, sizeof(*ph));
    ph->period = out_w / a, ph->shift = in_w / a, ph->span = span;
    if (ph->period > out_w / 2 || (size_t)ph->period * (size_t)span > PL_LANCZOS_PHASE_DOUBLES)
        return;
    /* one block: the taps, then the two window bounds per phase */
    ph->taps = g_try_malloc((size_t)ph->period * ((size_t)span * sizeof(double) + 2 * sizeof(int)));
    if (ph->taps == NULL)
        return;
    ph->j0 = (int *)(ph->taps + (size_t)ph->period * (size_t)span);
    ph->j1 = ph->j0 + ph->period;
    for (int q = 0; q < ph->period; q++)
        ph->j0[q] = 1, ph->j1[q] = 0;
}

/* Output pixel x's taps for j0..j1 (centre cx), from its phase's first window; NULL: compute them. */
static const double *pl_lanczos_phase_taps(pl_lanczos_phases *ph, double s, int x, double cx, int j0, int j1)
{
    if (ph->taps == NULL || j1 - j0 + 1 > ph->span)
        return NULL;
    int q = x % ph->period;
    double *t = ph->taps + (size_t)q * (size_t)ph->span;
    if (ph->j0[q] > ph->j1[q]) { /* the phase's first window */
        for (int j = j0; j <= j1; j++)
            t[j - j0] = pl_rh_lanczos3((j - cx) / s);
        ph->j0[q] = j0, ph->j1[q] = j1;
        return t;
    }
    long d = (long)(x / ph->period) * ph->shift; /* the phase's first window was output pixel q's */
    return (long)ph->j0[q] + d == j0 && (long)ph->j1[q] + d == j1 ? t : NULL;
}

pl_lanczos_plan *pl_lanczos_plan_new(int in_w, int out_w, int bands)
{
    if (in_w < 1 || out_w < 1 || out_w > in_w || bands < 1 || bands > 4 || in_w / 64 >= out_w)
        return NULL;
    double s = (double)in_w / out_w;
    int span = pl_lanczos_span(in_w, out_w);
    int n = span > in_w ? in_w : span;
    n = (n + 3) & ~3;
    pl_lanczos_plan *p = g_try_new0(pl_lanczos_plan, 1);
    double *w = g_try_new(double, (gsize)span);
    if (p == NULL || w == NULL)
        goto fail;
    p->in_w = in_w, p->out_w = out_w, p->bands = bands, p->n = n;
    p->vector_ok = in_w >= n;
    p->start = g_try_new(int, (gsize)out_w);
    p->coef = g_try_new0(int16_t, (gsize)out_w * (gsize)n);
    if (p->start == NULL || p->coef == NULL)
        goto fail;
    pl_lanczos_phases ph;
    pl_lanczos_phases_init(&ph, in_w, out_w, span);
    for (int x = 0; x < out_w; x++) {
        double cx = (x + 0.5) * s - 0.5;
        int j0, j1;
        pl_lanczos_reach(s, x, &j0, &j1);
        /* the window clamped to the row; weights past an edge fold onto the edge pixel */
        int lo = j0 < 0 ? 0 : j0, hi = j1 > in_w - 1 ? in_w - 1 : j1;
        if (hi < lo)
            lo = hi = cx < 0 ? 0 : in_w - 1;
        memset(w, 0, sizeof(double) * (size_t)(hi - lo + 1));
        const double *tap = pl_lanczos_phase_taps(&ph, s, x, cx, j0, j1);
        double sum = 0;
        for (int j = j0; j <= j1; j++) {
            double v = tap != NULL ? tap[j - j0] : pl_rh_lanczos3((j - cx) / s);
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
    g_free(ph.taps);
    if (p->vector_ok && pl_lanczos_has(PL_LANCZOS_SSSE3)) {
        size_t groups = (size_t)out_w * (size_t)(n / 4);
        if (posix_memalign((void **)&p->wide, 16, groups * 16 * sizeof(int16_t)) != 0)
            p->wide = NULL;
        else
            pl_rh_spread(p, groups);
    }
    if (p->wide != NULL && bands >= 3 && pl_lanczos_has(PL_LANCZOS_AVX2)) {
        size_t pairs = (size_t)(out_w / 2) * (size_t)(n / 4);
        if (pairs > 0 && posix_memalign((void **)&p->pair, 32, pairs * 32 * sizeof(int16_t)) == 0)
            pl_rh_pair(p);
        else
            p->pair = NULL;
        /* the last step of pixel x reads input bytes [(start + n - 4) * bands, + 16): inside the row
         * when start + n <= in_w - 2 (RGB; RGBA uses all 16); windows only move right */
        while (p->x16 < out_w && (bands == 4 || p->start[p->x16] + n <= in_w - 2))
            p->x16++;
    }
    return p;
fail:
    g_free(w);
    pl_lanczos_plan_free(p);
    return NULL;
}

void pl_lanczos_plan_free(pl_lanczos_plan *p)
{
    if (p == NULL)
        return;
    g_free(p->start);
    g_free(p->coef);
    free(p->wide);
    free(p->pair);
    g_free(p);
}

static inline uint8_t pl_rh_clamp(int32_t v)
{
    v = (v + PL_RH_ONE / 2) >> PL_RH_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void pl_rh_row_scalar(const pl_lanczos_plan *p, const uint8_t *in, uint8_t *out)
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

#ifdef PL_LANCZOS_X86
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
PL_RH_SSSE3 static inline void pl_rh_row_ssse3_34(const pl_lanczos_plan *p, const uint8_t *in, uint8_t *out, const int NB)
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

PL_RH_SSSE3 static void pl_rh_row_ssse3_3(const pl_lanczos_plan *p, const uint8_t *in, uint8_t *out)
{
    pl_rh_row_ssse3_34(p, in, out, 3);
}

PL_RH_SSSE3 static void pl_rh_row_ssse3_4(const pl_lanczos_plan *p, const uint8_t *in, uint8_t *out)
{
    pl_rh_row_ssse3_34(p, in, out, 4);
}

/* AVX2, RGB/RGBA: two output pixels at once, pixel x in the low 128-bit lane and x + 1 in the
 * high one, each lane exactly the SSSE3 step above; an odd last pixel goes through SSSE3. */
PL_RH_AVX2 static inline __m128i pl_rh_load4(const uint8_t *s, const int NB)
{
    return NB == 3 ? _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)s), _mm_cvtsi32_si128((int)pl_rh_load32(s + 8)))
                   : _mm_loadu_si128((const __m128i *)s);
}

PL_RH_AVX2 static inline __attribute__((always_inline)) void pl_rh_row_avx2_34(const pl_lanczos_plan *p, const uint8_t *in,
                                                                               uint8_t *out, const int NB)
{
    const int n = p->n, steps = n / 4;
    const __m256i mlo = NB == 3 ? _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0, -1, 3, -1, 1, -1, 4,
                                                   -1, 2, -1, 5, -1, -1, -1, -1, -1)
                                : _mm256_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1, 0, -1, 4, -1, 1, -1, 5,
                                                   -1, 2, -1, 6, -1, 3, -1, 7, -1);
    const __m256i mhi = NB == 3 ? _mm256_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1, 6, -1, 9, -1, 7, -1,
                                                   10, -1, 8, -1, 11, -1, -1, -1, -1, -1)
                                : _mm256_setr_epi8(8, -1, 12, -1, 9, -1, 13, -1, 10, -1, 14, -1, 11, -1, 15, -1, 8, -1, 12, -1, 9,
                                                   -1, 13, -1, 10, -1, 14, -1, 11, -1, 15, -1);
    const __m128i *w = (const __m128i *)p->wide;
    int x = 0;
    if (p->pair != NULL) /* whole 16-byte loads, weights of both pixels in one vector each */
        for (const __m256i *wp = (const __m256i *)p->pair; x + 1 < p->x16; x += 2) {
            const uint8_t *s0 = in + (size_t)p->start[x] * NB, *s1 = in + (size_t)p->start[x + 1] * NB;
            __m256i acc = _mm256_setzero_si256();
            for (int k = 0; k < steps; k++, s0 += 4 * NB, s1 += 4 * NB, wp += 2) {
                __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)s0)),
                                                    _mm_loadu_si128((const __m128i *)s1), 1);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_shuffle_epi8(v, mlo), _mm256_load_si256(wp)));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_shuffle_epi8(v, mhi), _mm256_load_si256(wp + 1)));
            }
            /* pl_rh_pack of both lanes at once: bytes R0 G0 B0 A0 R1 G1 B1 A1 (RGB: A is 0) */
            acc = _mm256_srai_epi32(_mm256_add_epi32(acc, _mm256_set1_epi32(PL_RH_ONE / 2)), PL_RH_BITS);
            __m128i px = _mm_packs_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            px = _mm_packus_epi16(px, px);
            uint8_t *o = out + (size_t)x * NB;
            if (NB == 4) {
                _mm_storel_epi64((__m128i *)o, px);
            } else {
                px = _mm_shuffle_epi8(px, _mm_setr_epi8(0, 1, 2, 4, 5, 6, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
                if (x + 3 < p->out_w) { /* 8 bytes: the 2 past pixel x + 1 are the next pair's */
                    _mm_storel_epi64((__m128i *)o, px);
                } else {
                    uint64_t b = (uint64_t)_mm_cvtsi128_si64(px);
                    memcpy(o, &b, 6);
                }
            }
        }
    for (; x + 1 < p->out_w; x += 2) {
        const uint8_t *s0 = in + (size_t)p->start[x] * NB, *s1 = in + (size_t)p->start[x + 1] * NB;
        const __m128i *w0 = w + (size_t)x * (size_t)steps * 2, *w1 = w0 + (size_t)steps * 2;
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < steps; k++, s0 += 4 * NB, s1 += 4 * NB, w0 += 2, w1 += 2) {
            __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(pl_rh_load4(s0, NB)), pl_rh_load4(s1, NB), 1);
            __m256i wl = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_load_si128(w0)), _mm_load_si128(w1), 1);
            __m256i wh = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_load_si128(w0 + 1)), _mm_load_si128(w1 + 1), 1);
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_shuffle_epi8(v, mlo), wl));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_shuffle_epi8(v, mhi), wh));
        }
        uint32_t p0 = (uint32_t)_mm_cvtsi128_si32(pl_rh_pack(_mm256_castsi256_si128(acc)));
        uint32_t p1 = (uint32_t)_mm_cvtsi128_si32(pl_rh_pack(_mm256_extracti128_si256(acc, 1)));
        memcpy(out + (size_t)x * NB, &p0, NB);
        memcpy(out + (size_t)(x + 1) * NB, &p1, NB);
    }
    if (x < p->out_w) { /* the last, odd pixel: one lane */
        const uint8_t *s0 = in + (size_t)p->start[x] * NB;
        const __m128i *w0 = w + (size_t)x * (size_t)steps * 2;
        __m128i acc = _mm_setzero_si128();
        for (int k = 0; k < steps; k++, s0 += 4 * NB, w0 += 2) {
            __m128i v = pl_rh_load4(s0, NB);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_shuffle_epi8(v, _mm256_castsi256_si128(mlo)), _mm_load_si128(w0)));
            acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_shuffle_epi8(v, _mm256_castsi256_si128(mhi)), _mm_load_si128(w0 + 1)));
        }
        uint32_t p0 = (uint32_t)_mm_cvtsi128_si32(pl_rh_pack(acc));
        memcpy(out + (size_t)x * NB, &p0, NB);
    }
}

PL_RH_AVX2 static void pl_rh_row_avx2_3(const pl_lanczos_plan *p, const uint8_t *in, uint8_t *out)
{
    pl_rh_row_avx2_34(p, in, out, 3);
}

PL_RH_AVX2 static void pl_rh_row_avx2_4(const pl_lanczos_plan *p, const uint8_t *in, uint8_t *out)
{
    pl_rh_row_avx2_34(p, in, out, 4);
}

/* grey-alpha: lanes (grey, alpha) of taps 0-1, then of taps 2-3, summed at the end */
PL_RH_SSSE3 static void pl_rh_row_ssse3_2(const pl_lanczos_plan *p, const uint8_t *in, uint8_t *out)
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
PL_RH_SSSE3 static void pl_rh_row_ssse3_1(const pl_lanczos_plan *p, const uint8_t *in, uint8_t *out)
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

/* out = the window's weighted sum of bytes [i0, i1) of rows st.. (n of them) */
static void pl_lz_column_scalar(const int16_t *c, int n, const uint8_t *in, size_t stride, size_t i0, size_t i1, uint8_t *out)
{
    for (size_t i = i0; i < i1; i++) {
        int32_t acc = 0;
        const uint8_t *s = in + i;
        for (int k = 0; k < n; k++, s += stride)
            acc += (int32_t)c[k] * *s;
        out[i] = pl_rh_clamp(acc);
    }
}

#ifdef PL_LANCZOS_X86
/* 16 bytes at a time; n even (plans pad to 4). Returns how many bytes it did. */
static size_t pl_lz_column_sse2(const int16_t *c, int n, const uint8_t *in, size_t stride, size_t bytes, uint8_t *out)
{
    const __m128i zero = _mm_setzero_si128(), half = _mm_set1_epi32(PL_RH_ONE / 2);
    size_t i = 0;
    for (; i + 16 <= bytes; i += 16) {
        __m128i a0 = half, a1 = half, a2 = half, a3 = half;
        const uint8_t *s = in + i;
        for (int k = 0; k < n; k += 2, s += 2 * stride) {
            int32_t pair;
            memcpy(&pair, c + k, 4);
            __m128i w = _mm_set1_epi32(pair);
            __m128i r0 = _mm_loadu_si128((const __m128i *)s), r1 = _mm_loadu_si128((const __m128i *)(s + stride));
            __m128i l0 = _mm_unpacklo_epi8(r0, zero), h0 = _mm_unpackhi_epi8(r0, zero);
            __m128i l1 = _mm_unpacklo_epi8(r1, zero), h1 = _mm_unpackhi_epi8(r1, zero);
            a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(l0, l1), w));
            a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(l0, l1), w));
            a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi16(h0, h1), w));
            a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi16(h0, h1), w));
        }
        a0 = _mm_srai_epi32(a0, PL_RH_BITS), a1 = _mm_srai_epi32(a1, PL_RH_BITS);
        a2 = _mm_srai_epi32(a2, PL_RH_BITS), a3 = _mm_srai_epi32(a3, PL_RH_BITS);
        _mm_storeu_si128((__m128i *)(out + i), _mm_packus_epi16(_mm_packs_epi32(a0, a1), _mm_packs_epi32(a2, a3)));
    }
    return i;
}
#endif

#ifdef PL_LANCZOS_X86
/* the same, 32 bytes at a time: each 128-bit lane is the SSE2 code's 16 bytes */
PL_RH_AVX2 static size_t pl_lz_column_avx2(const int16_t *c, int n, const uint8_t *in, size_t stride, size_t bytes, uint8_t *out)
{
    const __m256i zero = _mm256_setzero_si256(), half = _mm256_set1_epi32(PL_RH_ONE / 2);
    size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        __m256i a0 = half, a1 = half, a2 = half, a3 = half;
        const uint8_t *s = in + i;
        for (int k = 0; k < n; k += 2, s += 2 * stride) {
            int32_t pair;
            memcpy(&pair, c + k, 4);
            __m256i w = _mm256_set1_epi32(pair);
            __m256i r0 = _mm256_loadu_si256((const __m256i *)s), r1 = _mm256_loadu_si256((const __m256i *)(s + stride));
            __m256i l0 = _mm256_unpacklo_epi8(r0, zero), h0 = _mm256_unpackhi_epi8(r0, zero);
            __m256i l1 = _mm256_unpacklo_epi8(r1, zero), h1 = _mm256_unpackhi_epi8(r1, zero);
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(l0, l1), w));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(l0, l1), w));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_unpacklo_epi16(h0, h1), w));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_unpackhi_epi16(h0, h1), w));
        }
        a0 = _mm256_srai_epi32(a0, PL_RH_BITS), a1 = _mm256_srai_epi32(a1, PL_RH_BITS);
        a2 = _mm256_srai_epi32(a2, PL_RH_BITS), a3 = _mm256_srai_epi32(a3, PL_RH_BITS);
        /* unpack and pack stay inside each lane: the bytes come out in their order */
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3)));
    }
    return i;
}
#endif

void pl_lanczos_window(const pl_lanczos_plan *p, int y, int *first, int *count)
{
    *first = p->start[y];
    *count = p->vector_ok ? p->n : p->in_w; /* a short image: every row, from row 0 */
}

void pl_lanczos_column(const pl_lanczos_plan *p, pl_lanczos_impl impl, int y, const uint8_t *in, int in_first, size_t in_stride,
                       size_t row_bytes, uint8_t *out)
{
    const int16_t *c = p->coef + (size_t)y * (size_t)p->n;
    const uint8_t *rows = in + (size_t)(p->start[y] - in_first) * in_stride;
    size_t done = 0;
#ifdef PL_LANCZOS_X86
    if (impl == PL_LANCZOS_AVX2 && p->vector_ok && pl_lanczos_has(PL_LANCZOS_AVX2))
        done = pl_lz_column_avx2(c, p->n, rows, in_stride, row_bytes, out);
    if (impl != PL_LANCZOS_SCALAR && p->vector_ok)
        done += pl_lz_column_sse2(c, p->n, rows + done, in_stride, row_bytes - done, out + done);
#else
    (void)impl;
#endif
    pl_lz_column_scalar(c, p->vector_ok ? p->n : p->in_w, rows, in_stride, done, row_bytes, out);
}

int pl_lanczos_has(pl_lanczos_impl impl)
{
    switch (impl) {
    case PL_LANCZOS_SCALAR:
        return 1;
    case PL_LANCZOS_SSSE3:
#ifdef PL_LANCZOS_X86
        return __builtin_cpu_supports("ssse3") ? 1 : 0;
#else
        return 0;
#endif
    case PL_LANCZOS_AVX2:
#ifdef PL_LANCZOS_X86
        return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
        return 0;
#endif
    }
    return 0;
}

pl_lanczos_impl pl_lanczos_best(void)
{
    return pl_lanczos_has(PL_LANCZOS_AVX2)    ? PL_LANCZOS_AVX2
           : pl_lanczos_has(PL_LANCZOS_SSSE3) ? PL_LANCZOS_SSSE3
                                              : PL_LANCZOS_SCALAR;
}

void pl_lanczos_rows(const pl_lanczos_plan *p, pl_lanczos_impl impl, const uint8_t *in, size_t in_stride, uint8_t *out,
                     size_t out_stride, int rows)
{
    void (*row)(const pl_lanczos_plan *, const uint8_t *, uint8_t *) = pl_rh_row_scalar;
#ifdef PL_LANCZOS_X86
    static void (*const ssse3[5])(const pl_lanczos_plan *, const uint8_t *,
                                  uint8_t *) = {NULL, pl_rh_row_ssse3_1, pl_rh_row_ssse3_2, pl_rh_row_ssse3_3, pl_rh_row_ssse3_4};
    if (impl != PL_LANCZOS_SCALAR && p->wide != NULL)
        row = ssse3[p->bands];
    if (impl == PL_LANCZOS_AVX2 && p->wide != NULL && p->bands >= 3 && pl_lanczos_has(PL_LANCZOS_AVX2))
        row = p->bands == 3 ? pl_rh_row_avx2_3 : pl_rh_row_avx2_4;
#else
    (void)impl;
#endif
    for (int y = 0; y < rows; y++)
        row(p, in + (size_t)y * in_stride, out + (size_t)y * out_stride);
}
