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

void pl_placeholder_color(const uint8_t *rgba, int w, int h, uint8_t rgb[3])
{
    pl_bin *bins = calloc(PL_COLOR_BINS, sizeof(pl_bin));
    rgb[0] = rgb[1] = rgb[2] = 0;
    if (bins == NULL || rgba == NULL || w < 1 || h < 1) {
        free(bins);
        return;
    }
    size_t n = (size_t)w * (size_t)h, used = 0;
    for (int pass = 0; pass < 2 && used == 0; pass++)
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = rgba + 4 * i;
            if (pass == 0 && p[3] < 128)
                continue; /* see-through: not a colour anyone sees */
            pl_bin *b = &bins[(p[0] >> 4) << 8 | (p[1] >> 4) << 4 | (p[2] >> 4)];
            b->n += 1, b->r += p[0], b->g += p[1], b->b += p[2];
            used++;
        }
    /* the occupied bins as weighted points */
    int np = 0;
    for (int i = 0; i < PL_COLOR_BINS; i++)
        if (bins[i].n > 0)
            bins[np++] = bins[i];
    double(*pt)[3] = malloc(sizeof(double[3]) * (size_t)(np > 0 ? np : 1));
    int *who = calloc((size_t)(np > 0 ? np : 1), sizeof(int));
    if (pt == NULL || who == NULL) {
        free(pt);
        free(who);
        free(bins);
        return;
    }
    for (int i = 0; i < np; i++)
        pt[i][0] = bins[i].r / bins[i].n, pt[i][1] = bins[i].g / bins[i].n, pt[i][2] = bins[i].b / bins[i].n;
    int k = np < PL_COLOR_K ? np : PL_COLOR_K;
    double c[PL_COLOR_K][3];
    int heavy = 0;
    for (int i = 1; i < np; i++)
        if (bins[i].n > bins[heavy].n)
            heavy = i;
    memcpy(c[0], pt[heavy], sizeof(c[0]));
    for (int m = 1; m < k; m++) { /* farthest point (weighted) from the centres so far */
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
    double acc[PL_COLOR_K][4] = {{0}};
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
        memset(acc, 0, sizeof(acc));
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
    int top = 0;
    for (int j = 1; j < k; j++)
        if (acc[j][0] > acc[top][0])
            top = j;
    if (k > 0)
        for (int ch = 0; ch < 3; ch++)
            rgb[ch] = (uint8_t)fmin(255, floor(c[top][ch] + 0.5));
    free(pt);
    free(who);
    free(bins);
}
