/*
 * pl_lanczos: a lanczos3 downscale of 8-bit pixels along rows (1 to 4 bands) and down columns,
 * for pl_reduce.c. The technique is described at the top of pl_lanczos.c.
 *
 * A plan holds, per output pixel (or row), the first input pixel (or row) of its window and the
 * window's 14-bit weights (edge pixels repeated, as libvips' reduce extends its input); it is
 * built once per image and read by any number of threads. Every implementation gives the same
 * bytes.
 */
#ifndef PL_LANCZOS_H
#define PL_LANCZOS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PL_LANCZOS_SCALAR = 0, PL_LANCZOS_SSSE3 = 1, PL_LANCZOS_AVX2 = 2 } pl_lanczos_impl;

typedef struct pl_lanczos_plan pl_lanczos_plan;

/* The best implementation this CPU runs. */
pl_lanczos_impl pl_lanczos_best(void);
/* Whether this CPU runs impl (tests). */
int pl_lanczos_has(pl_lanczos_impl impl);

/* in_w -> out_w (1 <= out_w <= in_w, in_w < 64 * out_w), bands 1..4 (1 for a column pass); NULL on
 * bad sizes or no memory. */
pl_lanczos_plan *pl_lanczos_plan_new(int in_w, int out_w, int bands);
void pl_lanczos_plan_free(pl_lanczos_plan *p);

/* rows rows of in_w pixels (in_stride bytes apart) to rows of out_w pixels (out_stride apart). An
 * implementation this CPU does not run falls back to the scalar one. */
void pl_lanczos_rows(const pl_lanczos_plan *p, pl_lanczos_impl impl, const uint8_t *in, size_t in_stride, uint8_t *out,
                     size_t out_stride, int rows);

/* The most input rows (pixels) one window of an in_w -> out_w plan reads: the largest count
 * pl_lanczos_window gives. */
int pl_lanczos_window_max(int in_w, int out_w);

/* The input rows output row y of a column pass reads: *first and the *count after it. Both grow
 * (never shrink) with y. */
void pl_lanczos_window(const pl_lanczos_plan *p, int y, int *first, int *count);

/* Output row y of a column pass (a plan made with bands 1 for in_h -> out_h): row_bytes bytes from
 * the plan's window of input rows into out. in points at input row in_first (in_stride bytes
 * apart) and holds at least the window (pl_lanczos_window). */
void pl_lanczos_column(const pl_lanczos_plan *p, pl_lanczos_impl impl, int y, const uint8_t *in, int in_first, size_t in_stride,
                       size_t row_bytes, uint8_t *out);

#endif
