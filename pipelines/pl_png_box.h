/*
 * pl_png_box: the PNG fast path's shrink-on-load (pl_png.c): a 2x2 box mean of two unfiltered
 * 8-bit rows into one row of half the width.
 */
#ifndef PL_PNG_BOX_H
#define PL_PNG_BOX_H

#include <stddef.h>
#include <stdint.h>

/* out (ceil(w / 2) pixels) = the rounded mean of each 2x2 block of rows r0 and r1 (w pixels of
 * bpp 1-4 bytes; r1 may be r0 for an odd height's last row); an odd width's last pixel is the mean
 * of its column pair alone. Plain means: for alpha images only when every alpha is 255, where
 * premultiplied and plain means agree. */
void pl_png_box_row(uint8_t *restrict out, const uint8_t *r0, const uint8_t *r1, size_t w, int bpp);

/* The same for grey+alpha (bpp 2) or RGBA (bpp 4) of any alpha: each pixel premultiplied first,
 * round(c * a / 255), then the means of the premultiplied colours and of alpha. out is
 * premultiplied; equal to pl_png_box_row where every alpha is 255. */
void pl_png_box_row_premul(uint8_t *restrict out, const uint8_t *r0, const uint8_t *r1, size_t w, int bpp);

#endif
