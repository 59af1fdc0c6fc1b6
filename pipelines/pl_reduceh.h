/*
 * pl_reduceh: the horizontal half of a lanczos3 downscale of 8-bit rows (1 to 4 bands), for
 * pl_reduce.c. The technique is described at the top of pl_reduceh.c.
 *
 * A plan holds, per output pixel, the first input pixel of its window and the window's 14-bit
 * weights (edge pixels repeated, as libvips' reduceh extends its input); it is built once per
 * image and read by any number of threads. Every implementation gives the same bytes.
 */
#ifndef PL_REDUCEH_H
#define PL_REDUCEH_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PL_REDUCEH_SCALAR = 0, PL_REDUCEH_SSSE3 = 1 } pl_reduceh_impl;

typedef struct pl_reduceh_plan pl_reduceh_plan;

/* The best implementation this CPU runs. */
pl_reduceh_impl pl_reduceh_best(void);
/* Whether this CPU runs impl (tests). */
int pl_reduceh_has(pl_reduceh_impl impl);

/* in_w -> out_w (1 <= out_w <= in_w, in_w < 64 * out_w), bands 1..4; NULL on bad sizes or no memory. */
pl_reduceh_plan *pl_reduceh_plan_new(int in_w, int out_w, int bands);
void pl_reduceh_plan_free(pl_reduceh_plan *p);

/* rows rows of in_w pixels (in_stride bytes apart) to rows of out_w pixels (out_stride apart). An
 * implementation this CPU does not run falls back to the scalar one. */
void pl_reduceh_rows(const pl_reduceh_plan *p, pl_reduceh_impl impl, const uint8_t *in, size_t in_stride, uint8_t *out,
                     size_t out_stride, int rows);

#endif
