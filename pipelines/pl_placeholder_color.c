/*
 * pl_placeholder_color: the dominant colour of a small image. The colours are binned (4 bits per
 * channel, 4096 bins, each keeping its pixel count and exact sums), then a weighted k-means (k = 5,
 * farthest-point start from the heaviest bin, at most 16 rounds) groups the bins; the answer is
 * the exact mean of the pixels in the heaviest group. Deterministic, ~0.2 ms on 100x100.
 * A 70 % red / 30 % blue image answers red itself; a photo answers the colour of its largest
 * area rather than the muddy average of everything.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pl_placeholder.h"

#define PL_COLOR_K 5
#define PL_COLOR_BINS 4096

typedef struct {
    double n, r, g, b; /* pixels, sums */
} pl_bin;

static double pl_color_d2(const double *a, const double *b)
{
    double dr = a[0] - b[0], dg = a[1] - b[1], db = a[2] - b[2];
    return dr * dr + dg * dg + db * db;
}

/* The colours in 4096 bins (4 bits per channel), opaque pixels only unless there are none. Returns
 * the occupied bins, packed at the start of bins[]. */
static int pl_color_bin(const uint8_t *rgba, size_t n, pl_bin *bins)
{
    size_t used = 0;
    for (int pass = 0; pass < 2 && used == 0; pass++)
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = rgba + 4 * i;
            if (pass == 0 && p[3] < 128)
                continue; /* see-through: not a colour anyone sees */
            pl_bin *b = &bins[(p[0] >> 4) << 8 | (p[1] >> 4) << 4 | (p[2] >> 4)];
            b->n += 1, b->r += p[0], b->g += p[1], b->b += p[2];
            used++;
        }
    int np = 0;
    for (int i = 0; i < PL_COLOR_BINS; i++)
        if (bins[i].n > 0)
            bins[np++] = bins[i];
    return np;
}

/* k starting centres: the heaviest bin, then each time the bin farthest (weighted) from the
 * centres so far. */
static void pl_color_seed(const pl_bin *bins, const double (*pt)[3], int np, int k, double (*c)[3])
{
    int heavy = 0;
    for (int i = 1; i < np; i++)
        if (bins[i].n > bins[heavy].n)
            heavy = i;
    memcpy(c[0], pt[heavy], sizeof(c[0]));
    for (int m = 1; m < k; m++) {
        int best = 0;
        double best_s = -1;
        for (int i = 0; i < np; i++) {
            double d = INFINITY;
            for (int j = 0; j < m; j++)
                d = fmin(d, pl_color_d2(pt[i], c[j]));
            double s = d * bins[i].n;
            if (s > best_s)
                best_s = s, best = i;
        }
        memcpy(c[m], pt[best], sizeof(c[m]));
    }
}

/* Weighted k-means over the bins, at most 16 rounds; acc[j] = pixels and colour sums of group j
 * (who[] is scratch, one entry per bin). */
static void pl_color_kmeans(const pl_bin *bins, const double (*pt)[3], int np, int k, double (*c)[3], int *who, double (*acc)[4])
{
    for (int round = 0; round < 16; round++) {
        bool moved = false;
        for (int i = 0; i < np; i++) {
            int best = 0;
            double bd = INFINITY;
            for (int j = 0; j < k; j++) {
                double d = pl_color_d2(pt[i], c[j]);
                if (d < bd)
                    bd = d, best = j;
            }
            if (round == 0 || who[i] != best)
                moved = true;
            who[i] = best;
        }
        memset(acc, 0, sizeof(double[4]) * PL_COLOR_K);
        for (int i = 0; i < np; i++) {
            double *a = acc[who[i]];
            a[0] += bins[i].n, a[1] += bins[i].r, a[2] += bins[i].g, a[3] += bins[i].b;
        }
        for (int j = 0; j < k; j++)
            if (acc[j][0] > 0)
                c[j][0] = acc[j][1] / acc[j][0], c[j][1] = acc[j][2] / acc[j][0], c[j][2] = acc[j][3] / acc[j][0];
        if (!moved)
            break;
    }
}

void pl_placeholder_color(const uint8_t *rgba, int w, int h, uint8_t rgb[3])
{
    rgb[0] = rgb[1] = rgb[2] = 0;
    if (rgba == NULL || w < 1 || h < 1)
        return;
    pl_bin *bins = calloc(PL_COLOR_BINS, sizeof(pl_bin));
    if (bins == NULL)
        return;
    int np = pl_color_bin(rgba, (size_t)w * (size_t)h, bins);
    double(*pt)[3] = malloc(sizeof(double[3]) * (size_t)(np > 0 ? np : 1));
    int *who = calloc((size_t)(np > 0 ? np : 1), sizeof(int));
    int k = np < PL_COLOR_K ? np : PL_COLOR_K;
    if (pt != NULL && who != NULL && k > 0) {
        for (int i = 0; i < np; i++)
            pt[i][0] = bins[i].r / bins[i].n, pt[i][1] = bins[i].g / bins[i].n, pt[i][2] = bins[i].b / bins[i].n;
        double c[PL_COLOR_K][3], acc[PL_COLOR_K][4] = {{0}};
        pl_color_seed(bins, (const double(*)[3])pt, np, k, c);
        pl_color_kmeans(bins, (const double(*)[3])pt, np, k, c, who, acc);
        int top = 0; /* the heaviest group */
        for (int j = 1; j < k; j++)
            if (acc[j][0] > acc[top][0])
                top = j;
        for (int ch = 0; ch < 3; ch++)
            rgb[ch] = (uint8_t)fmin(255, floor(c[top][ch] + 0.5));
    }
    free(pt);
    free(who);
    free(bins);
}
