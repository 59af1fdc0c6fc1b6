/*
 * engine_util: helpers shared by the engine tests (suite `pipeline`; libengine_util.a,
 * engine_util.c): read a fixture, run a grammar string through pl_run, decode the output bytes
 * with libvips and compare pixels. Single-threaded test code.
 */
#ifndef ENGINE_UTIL_H
#define ENGINE_UTIL_H

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "../tap.h"
#include "pl_engine.h"

typedef struct eu_file {
    uint8_t *data;
    size_t len;
} eu_file;

/* Decoded facts of an output. */
typedef struct eu_img {
    int ok, width, height, page_height, pages, bands, orientation;
    VipsInterpretation space;
    VipsBandFormat fmt;
    int has_icc;
} eu_img;

/* pl_engine_init with one libvips thread per image; on failure a TAP "Bail out!" and -1 */
int eu_init(void);
/* Bytes of fixture rel ($IMGPIPE_FIXTURES/rel); empty (data NULL) with a diag when unreadable. */
eu_file eu_read(const char *rel);
void eu_free(eu_file *f);

/* Run spec ("resize?width=300") over bytes. Returns pl_run's result (-2: the spec does not
 * parse); res/err filled. lim NULL: pl_limits_default. */
int eu_run_full(const char *spec, const uint8_t *data, size_t len, const char *accept, const pl_limits *lim, pl_control *ctl,
                pl_result *res, pl_error *err);
int eu_run(const char *spec, const eu_file *f, pl_result *res, pl_error *err);
/* eu_run with fast paths switched off (PL_NO_FAST_PNG, PL_NO_JPEG_MSCALE, ... bits) for this one
 * run: the A/B reference of a fast path (pl_engine_set_switches). */
int eu_run_switched_off(unsigned off, const char *spec, const eu_file *f, pl_result *res, pl_error *err);

eu_img eu_decode(const pl_result *res);
/* Largest absolute pixel difference of two encoded images; -1 if they differ in size, bands or
 * format (or do not decode), -2 if only one carries an ICC profile. */
double eu_maxdiff(const pl_result *a, const pl_result *b);
/* Mean absolute difference of two encoded images of the same size (sRGB, 3 bands); -1 on error. */
double eu_diff(const pl_result *a, const pl_result *b);
/* PSNR of two encoded images (decoded, sRGB 8-bit, alpha flattened on white); 99 when identical,
 * -1 if the sizes differ or one does not decode. */
double eu_psnr(const void *a, size_t alen, const void *b, size_t blen);
/* Largest absolute difference of two decoded images; -1 when their size, bands or format differ
 * (or either is NULL). */
double eu_image_maxdiff(VipsImage *a, VipsImage *b);
/* One PNG chunk (length, type, len bytes of d, CRC) written at out + *at; *at moves past it. */
void eu_png_chunk(uint8_t *out, size_t *at, const char *type, const uint8_t *d, uint32_t len);
/* Encode a synthetic image (a gradient with some structure) as JPEG/PNG, for sizes no fixture has. */
eu_file eu_synth(int w, int h, const char *suffix);

#endif
