/*
 * pl_thumbhash: ThumbHash encoding (https://evanw.github.io/thumbhash/). The RGBA image (at most
 * 100x100) is composited over its own average colour and split into luminance, yellow-blue,
 * red-green and alpha; each channel's low-frequency DCT terms (a triangle of them) are kept:
 * the constant term and the largest AC magnitude in a 5-byte header (plus one byte for alpha),
 * then every AC term normalised to 4 bits. The aspect ratio rides along in the luminance term
 * counts. Double precision and round-half-up, as the reference (JavaScript) encoder; the tests
 * check a published hash of the reference repository's flower.jpg.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pl_placeholder.h"

static int pl_th_round(double x)
{
    return (int)floor(x + 0.5);
}

/* DC, normalised ACs (appended to ac, *n_ac grows) and the AC scale of one channel. */
static void pl_th_channel(const double *ch, int w, int h, int nx, int ny, double *dc, double *ac, int *n_ac, double *scale)
{
    double *fx = malloc(sizeof(double) * (size_t)w);
    int start = *n_ac;
    *dc = 0;
    *scale = 0;
    if (fx == NULL)
        return;
    for (int cy = 0; cy < ny; cy++) {
        for (int cx = 0; cx * ny < nx * (ny - cy); cx++) {
            double f = 0;
            for (int x = 0; x < w; x++)
                fx[x] = cos(M_PI / w * cx * (x + 0.5));
            for (int y = 0; y < h; y++) {
                double fy = cos(M_PI / h * cy * (y + 0.5));
                for (int x = 0; x < w; x++)
                    f += ch[x + y * w] * fx[x] * fy;
            }
            f /= w * h;
            if (cx || cy) {
                ac[(*n_ac)++] = f;
                *scale = fmax(*scale, fabs(f));
            } else {
                *dc = f;
            }
        }
    }
    if (*scale > 0)
        for (int i = start; i < *n_ac; i++)
            ac[i] = 0.5 + 0.5 / *scale * ac[i];
    free(fx);
}

int pl_thumbhash_encode(const uint8_t *rgba, int w, int h, uint8_t *out, size_t size, size_t *len)
{
    if (rgba == NULL || w < 1 || h < 1 || w > PL_THUMBHASH_SIDE || h > PL_THUMBHASH_SIDE || size < PL_THUMBHASH_MAX)
        return -1;
    size_t n = (size_t)w * (size_t)h;
    double ar = 0, ag = 0, ab = 0, aa = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rgba + 4 * i;
        double alpha = p[3] / 255.0;
        ar += alpha / 255 * p[0];
        ag += alpha / 255 * p[1];
        ab += alpha / 255 * p[2];
        aa += alpha;
    }
    if (aa > 0) {
        ar /= aa;
        ag /= aa;
        ab /= aa;
    }
    bool has_alpha = aa < (double)n;
    int l_limit = has_alpha ? 5 : 7;
    int big = w > h ? w : h;
    int lx = pl_th_round((double)l_limit * w / big), ly = pl_th_round((double)l_limit * h / big);
    lx = lx < 1 ? 1 : lx;
    ly = ly < 1 ? 1 : ly;
    double *buf = malloc(sizeof(double) * n * 4);
    if (buf == NULL)
        return -1;
    double *l = buf, *pp = buf + n, *q = buf + 2 * n, *a = buf + 3 * n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rgba + 4 * i;
        double alpha = p[3] / 255.0;
        double r = ar * (1 - alpha) + alpha / 255 * p[0];
        double g = ag * (1 - alpha) + alpha / 255 * p[1];
        double b = ab * (1 - alpha) + alpha / 255 * p[2];
        l[i] = (r + g + b) / 3;
        pp[i] = (r + g) / 2 - b;
        q[i] = r - g;
        a[i] = alpha;
    }
    double ac[128], l_dc, p_dc, q_dc, a_dc = 0, l_sc, p_sc, q_sc, a_sc = 0;
    int n_ac = 0;
    pl_th_channel(l, w, h, lx > 3 ? lx : 3, ly > 3 ? ly : 3, &l_dc, ac, &n_ac, &l_sc);
    pl_th_channel(pp, w, h, 3, 3, &p_dc, ac, &n_ac, &p_sc);
    pl_th_channel(q, w, h, 3, 3, &q_dc, ac, &n_ac, &q_sc);
    if (has_alpha)
        pl_th_channel(a, w, h, 5, 5, &a_dc, ac, &n_ac, &a_sc);
    free(buf);
    bool landscape = w > h;
    uint32_t h24 = (uint32_t)pl_th_round(63 * l_dc) | ((uint32_t)pl_th_round(31.5 + 31.5 * p_dc) << 6) |
                   ((uint32_t)pl_th_round(31.5 + 31.5 * q_dc) << 12) | ((uint32_t)pl_th_round(31 * l_sc) << 18) |
                   ((uint32_t)has_alpha << 23);
    uint32_t h16 = (uint32_t)(landscape ? ly : lx) | ((uint32_t)pl_th_round(63 * p_sc) << 3) |
                   ((uint32_t)pl_th_round(63 * q_sc) << 9) | ((uint32_t)landscape << 15);
    size_t start = has_alpha ? 6 : 5, total = start + ((size_t)n_ac + 1) / 2;
    if (total > size)
        return -1;
    memset(out, 0, total);
    out[0] = h24 & 255, out[1] = (h24 >> 8) & 255, out[2] = (h24 >> 16) & 255;
    out[3] = h16 & 255, out[4] = (h16 >> 8) & 255;
    if (has_alpha)
        out[5] = (uint8_t)(pl_th_round(15 * a_dc) | (pl_th_round(15 * a_sc) << 4));
    for (int i = 0; i < n_ac; i++)
        out[start + (size_t)(i >> 1)] |= (uint8_t)(pl_th_round(15 * ac[i]) << ((i & 1) << 2));
    *len = total;
    return 0;
}
