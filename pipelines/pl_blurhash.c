/*
 * pl_blurhash: BlurHash encoding (https://blurha.sh, woltapp/blurhash's Algorithm.md). The image
 * is projected on cx x cy cosine bases in linear light; the average colour (DC) is sent as 24-bit
 * sRGB, the other factors quantised to 19 levels per channel against their largest magnitude,
 * all in base 83. Computed in single precision with the same sums in the same order as the
 * reference C encoder, so the hashes are identical to its published ones
 * (tests/engine/test_engine_placeholder.c checks its reference table).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pl_placeholder.h"

static const char pl_b83[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

static char *pl_bh_put(char *p, int value, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = pl_b83[value % 83];
        value /= 83;
    }
    return p + digits;
}

static int pl_bh_to_srgb(float value)
{
    float v = fmaxf(0, fminf(1, value));
    if (v <= 0.0031308)
        return (int)(v * 12.92 * 255 + 0.5);
    return (int)((1.055 * powf(v, 1 / 2.4) - 0.055) * 255 + 0.5);
}

static float pl_bh_sign_sqrt(float v)
{
    return copysignf(powf(fabsf(v), 0.5f), v);
}

static int pl_bh_ac(const float *f, float max)
{
    int q[3];
    for (int k = 0; k < 3; k++)
        q[k] = (int)fmaxf(0, fminf(18, floorf(pl_bh_sign_sqrt(f[k] / max) * 9 + 9.5f)));
    return q[0] * 19 * 19 + q[1] * 19 + q[2];
}

int pl_blurhash_encode(const uint8_t *px, int w, int h, int bands, size_t stride, int cx, int cy, char *out, size_t size)
{
    if (px == NULL || w < 1 || h < 1 || (bands != 3 && bands != 4) || cx < 1 || cx > 9 || cy < 1 || cy > 9 ||
        size < PL_BLURHASH_MAX)
        return -1;
    float lin[256];
    for (int i = 0; i < 256; i++) {
        float v = (float)i / 255;
        lin[i] = v <= 0.04045 ? (float)(v / 12.92) : powf((float)((v + 0.055) / 1.055), 2.4f);
    }
    float *bx = malloc(sizeof(float) * (size_t)w * (size_t)cx), *by = malloc(sizeof(float) * (size_t)h * (size_t)cy);
    if (bx == NULL || by == NULL) {
        free(bx);
        free(by);
        return -1;
    }
    for (int i = 0; i < cx; i++)
        for (int x = 0; x < w; x++)
            bx[i * w + x] = cosf((float)(M_PI * i * x / w));
    for (int j = 0; j < cy; j++)
        for (int y = 0; y < h; y++)
            by[j * h + y] = cosf((float)(M_PI * j * y / h));
    float f[81][3];
    for (int j = 0; j < cy; j++)
        for (int i = 0; i < cx; i++) {
            float r = 0, g = 0, b = 0;
            for (int y = 0; y < h; y++) {
                const uint8_t *row = px + (size_t)y * stride;
                for (int x = 0; x < w; x++) {
                    float basis = bx[i * w + x] * by[j * h + y];
                    const uint8_t *p = row + (size_t)x * bands;
                    r += basis * lin[p[0]];
                    g += basis * lin[p[1]];
                    b += basis * lin[p[2]];
                }
            }
            float scale = (float)((i == 0 && j == 0) ? 1 : 2) / (float)(w * h);
            float *o = f[j * cx + i];
            o[0] = r * scale, o[1] = g * scale, o[2] = b * scale;
        }
    free(bx);
    free(by);
    int n_ac = cx * cy - 1;
    char *p = pl_bh_put(out, (cx - 1) + (cy - 1) * 9, 1);
    float max = 1;
    if (n_ac > 0) {
        float actual = 0;
        for (int k = 1; k <= n_ac; k++)
            for (int c = 0; c < 3; c++)
                actual = fmaxf(fabsf(f[k][c]), actual);
        int qmax = (int)fmaxf(0, fminf(82, floorf(actual * 166 - 0.5f)));
        max = ((float)qmax + 1) / 166;
        p = pl_bh_put(p, qmax, 1);
    } else {
        p = pl_bh_put(p, 0, 1);
    }
    p = pl_bh_put(p, (pl_bh_to_srgb(f[0][0]) << 16) + (pl_bh_to_srgb(f[0][1]) << 8) + pl_bh_to_srgb(f[0][2]), 4);
    for (int k = 1; k <= n_ac; k++)
        p = pl_bh_put(p, pl_bh_ac(f[k], max), 2);
    *p = '\0';
    return 0;
}
