/*
 * pl_png_unfilter: PNG row unfiltering (None, Sub, Up, Average, Paeth) for 1, 2, 3, 4, 6 and 8
 * bytes per pixel, scalar and SSE2/SSSE3 (chosen at run time), for the PNG fast path (pl_png.c).
 * The technique is described at the top of pl_png_unfilter.c.
 */
#ifndef PL_PNG_UNFILTER_H
#define PL_PNG_UNFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Implementations, for tests and measurements: the scalar code, SSE2 (the x86-64 baseline) and
 * SSE2 + SSSE3. */
typedef enum { PL_UNFILTER_SCALAR = 0, PL_UNFILTER_SSE2 = 1, PL_UNFILTER_SSSE3 = 2 } pl_unfilter_impl;

/* The best implementation this build and CPU run (IMGPIPE_PNG_UNFILTER=scalar|sse2|ssse3 caps it,
 * for A/B measurements). */
pl_unfilter_impl pl_png_unfilter_best(void);
/* 1 when this build and CPU can run impl. */
int pl_png_unfilter_has(pl_unfilter_impl impl);

/* Unfilter one row of n bytes: src (the filtered bytes, without the filter byte) -> dst, with up =
 * the previous unfiltered row (NULL for the first row). bpp: 1, 2, 3, 4, 6 or 8. dst is either
 * apart from src or lies before it in the same buffer (dst < src: the in-place layout of
 * pl_png_unfilter_image), never at src itself, and does not overlap up. An implementation this
 * CPU lacks runs the scalar code. Returns -1 on an unknown filter type or bpp, else 0. */
int pl_png_unfilter_row(pl_unfilter_impl impl, uint8_t *dst, const uint8_t *src, const uint8_t *up, size_t n, int bpp, int filter);

/* Unfilter h rows stored as [filter byte, s bytes] at buf + i*(s+1) into rows of s bytes at
 * buf + i*s (in place, with the best implementation). alpha = bytes of alpha at the end of each
 * pixel (0 none, 1 for 8-bit GA/RGBA, 2 for 16-bit; bpp 2, 4 or 8 when not 0); then *opaque says
 * whether every alpha sample is all ones (255, 65535), checked on each row while it is in cache.
 * Returns -1 on a bad filter byte or alpha layout. */
int pl_png_unfilter_image(uint8_t *buf, size_t s, size_t h, int bpp, int alpha, bool *opaque);

/* Scratch memory of pl_png_unfilter_rows, kept between the calls on one image ({0} at first, the
 * same s every call) and freed with pl_png_unfilter_mem_free. */
typedef struct pl_unfilter_mem {
    uint8_t *pair; /* s bytes: a Paeth pair's first row, copied aside */
    uint8_t *wave; /* pl_png_wave_scratch_size(s) bytes, zeroed when made */
} pl_unfilter_mem;
void pl_png_unfilter_mem_free(pl_unfilter_mem *mem);

/* The same for rows y0 .. y1 - 1 only (the rows before y0 done already): *opaque stays true while
 * every alpha sample seen is all ones (start it at alpha != 0); alpha 0 leaves it alone. */
int pl_png_unfilter_rows(uint8_t *buf, size_t s, size_t y0, size_t y1, int bpp, int alpha, bool *opaque, pl_unfilter_mem *mem);

/* 1 when every pixel of a row of n bytes (a whole number of pixels of bpp 2, 4 or 8 bytes) ends
 * in alpha bytes of 0xff. */
bool pl_png_row_opaque(const uint8_t *row, size_t n, int bpp, int alpha);

/* Rows y .. y + pl_png_wave_rows(bpp) - 1 (8 / bpp, at 1 or 2 bytes per pixel), in pl_png_unfilter_image's
 * layout (rows before y done), unfiltered together as a wavefront (pl_png_unfilter_wave.c) when
 * impl is SIMD this CPU runs and one of them is Average or Paeth: returns the rows done, else 0
 * (nothing done: also on a bad filter byte). scratch: pl_png_wave_scratch_size(s) zeroed bytes,
 * kept between calls. */
#define PL_WAVE_ROWS 8
size_t pl_png_wave_rows(int bpp); /* the rows of a wave at bpp bytes per pixel, 0 for none */
size_t pl_png_wave_scratch_size(size_t s);
size_t pl_png_unfilter_wave(pl_unfilter_impl impl, uint8_t *buf, size_t s, size_t y, int bpp, uint8_t *scratch);

/* 16-bit samples from PNG's big-endian order to the host's, in place (n bytes, n even). */
void pl_png_unfilter_be16(uint8_t *p, size_t n);

#endif
