/*
 * pl_placeholder: the image placeholders of /renditions, each computed from 8-bit pixels in memory
 * (no libvips here): BlurHash (pl_blurhash.c), ThumbHash (pl_thumbhash.c) and the dominant colour
 * (pl_placeholder_color.c). pl_renditions.c makes the small upright sRGB image they read, and the
 * LQIP (a tiny WebP) itself.
 *
 * Threads: pure functions over caller-owned memory.
 */
#ifndef PL_PLACEHOLDER_H
#define PL_PLACEHOLDER_H

#include <stddef.h>
#include <stdint.h>

/* Longest BlurHash: 1 + 1 + 4 + 2 * 80 characters, and the NUL. */
#define PL_BLURHASH_MAX 167
/* Longest ThumbHash in bytes (alpha, 7x7 luminance triangle …), with room to spare. */
#define PL_THUMBHASH_MAX 64
/* ThumbHash reads images of at most this many pixels per side. */
#define PL_THUMBHASH_SIDE 100

/* BlurHash (woltapp's algorithm) of w x h pixels of `bands` bytes each (3 RGB or 4 RGBA, alpha
 * ignored), rows `stride` bytes apart, with cx x cy components (1..9 each). Writes the hash and a
 * NUL to out (size >= PL_BLURHASH_MAX). 0, or -1 on bad arguments. */
int pl_blurhash_encode(const uint8_t *px, int w, int h, int bands, size_t stride, int cx, int cy, char *out, size_t size);

/* ThumbHash (evanw's algorithm) of w x h RGBA pixels (not premultiplied), w, h <= 100, rows
 * packed. Writes *len bytes to out (size >= PL_THUMBHASH_MAX). 0, or -1 on bad arguments. */
int pl_thumbhash_encode(const uint8_t *rgba, int w, int h, uint8_t *out, size_t size, size_t *len);

/* The dominant colour of w x h RGBA pixels: the mean of the largest cluster of a small k-means
 * over the colours (pixels under half opacity ignored; all of them if every pixel is). */
void pl_placeholder_color(const uint8_t *rgba, int w, int h, uint8_t rgb[3]);

#endif
