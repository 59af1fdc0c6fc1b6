/*
 * pl_jpeg_write: a baseline JPEG of an 8-bit sRGB or grey image in memory, written with
 * libjpeg-turbo's libjpeg API directly and with exactly what libvips 8.14's jpegsave (built with
 * libexif, as Debian's) writes for it: jpeg_set_defaults, jpeg_set_quality(Q, force baseline),
 * Huffman tables not optimised, 4:2:0 below Q 90 and 4:4:4 from Q 90 (subsample_mode auto), no
 * JFIF marker; with metadata kept, as jpegsave without strip: the EXIF block rebuilt from the
 * image's fields by libvips' own vips__exif_update() (APP1), XMP (APP1 after Adobe's namespace),
 * IPTC (APP13), then the ICC profile when it fits the image (APP2 markers, as
 * jpeg_write_icc_profile splits it). Where
 * jpegsave would drop a block with a warning (over one marker), this writer declines and jpegsave
 * runs. The bytes are jpegsave's (tests/engine/test_engine_jpeg_write.c).
 *
 * Why: jpegsave runs libjpeg on a libvips write thread fed through its sink (a thread hand-off,
 * region copies and a growing buffer per image): 800x600 at Q 80 took 1.77 ms there against 1.06
 * here, 0.7 ms of the 33 ms a 12 MP thumbnail costs (docs/performance.md).
 *
 * The caller (pl_encode.c) keeps jpegsave for everything else: a metadata block over one marker,
 * progressive, CMYK, other formats or interpretations, images over 16 MB raw. Deadlines:
 * pl_cancel_check() between strips of rows (c may be NULL: no checks).
 * libjpeg reports errors through error_exit, which would end the process: it longjmps back here.
 * Ownership: *buf is malloc'd by libjpeg's memory destination and belongs to the caller (g_free,
 * which is free() since glib 2.46). All state is per call: safe on any thread.
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#include "pl_internal.h"

/* libvips' EXIF rebuild, which jpegsave runs before it writes the block: exported by libvips 8.14
 * but declared only in its private headers. */
int vips__exif_update(VipsImage *image);

#define PL_JW_MAX_MARKER 65533 /* bytes of data one JPEG marker holds */
#define PL_JW_MAX_XMP 60000    /* jpegsave's limit for XMP */
#define PL_JW_XMP_NS "http://ns.adobe.com/xap/1.0/"

static atomic_uint pl_jw_count;

unsigned pl_jpeg_write_count(void)
{
    return atomic_load(&pl_jw_count);
}

#define PL_JW_STRIP 64 /* rows per jpeg_write_scanlines call, and between deadline checks */

typedef struct pl_jw_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} pl_jw_err;

static void pl_jw_error_exit(j_common_ptr ci)
{
    pl_jw_err *e = (pl_jw_err *)ci->err;
    e->pub.format_message(ci, e->msg);
    longjmp(e->jump, 1);
}

static void pl_jw_output_message(j_common_ptr ci)
{
    (void)ci; /* warnings: the caller reports failures in its own words */
}

bool pl_jpeg_write_ok(const VipsImage *x)
{
    return x->BandFmt == VIPS_FORMAT_UCHAR && x->Coding == VIPS_CODING_NONE &&
           ((x->Bands == 3 && x->Type == VIPS_INTERPRETATION_sRGB) || (x->Bands == 1 && x->Type == VIPS_INTERPRETATION_B_W));
}

/* The blob `name` of x (NULL when absent) and its size. */
static const uint8_t *pl_jw_blob(VipsImage *x, const char *name, size_t *len)
{
    const void *d = NULL;
    *len = 0;
    if (!vips_image_get_typeof(x, name) || vips_image_get_blob(x, name, &d, len) != 0)
        return NULL;
    return d;
}

/* Whether every block jpegsave would write fits where it would write it. */
static bool pl_jw_meta_fits(VipsImage *x)
{
    size_t exif, xmp, iptc, icc;
    pl_jw_blob(x, VIPS_META_EXIF_NAME, &exif);
    pl_jw_blob(x, VIPS_META_XMP_NAME, &xmp);
    pl_jw_blob(x, VIPS_META_IPTC_NAME, &iptc);
    pl_jw_blob(x, VIPS_META_ICC_NAME, &icc);
    return exif <= PL_JW_MAX_MARKER && xmp <= PL_JW_MAX_XMP && iptc <= PL_JW_MAX_MARKER && icc <= 255u * (PL_JW_MAX_MARKER - 14);
}

/* jpegsave's markers after the frame header, in its order (after jpeg_start_compress). */
static void pl_jw_meta(j_compress_ptr ci, VipsImage *x)
{
    size_t len;
    const uint8_t *d;
    if ((d = pl_jw_blob(x, VIPS_META_EXIF_NAME, &len)) != NULL)
        jpeg_write_marker(ci, JPEG_APP0 + 1, d, (unsigned)len);
    if ((d = pl_jw_blob(x, VIPS_META_XMP_NAME, &len)) != NULL) {
        size_t ns = sizeof(PL_JW_XMP_NS); /* the namespace and its NUL */
        jpeg_write_m_header(ci, JPEG_APP0 + 1, (unsigned)(ns + len));
        for (size_t i = 0; i < ns; i++)
            jpeg_write_m_byte(ci, PL_JW_XMP_NS[i]);
        for (size_t i = 0; i < len; i++)
            jpeg_write_m_byte(ci, d[i]);
    }
    if ((d = pl_jw_blob(x, VIPS_META_IPTC_NAME, &len)) != NULL)
        jpeg_write_marker(ci, JPEG_APP0 + 13, d, (unsigned)len);
    /* jpegsave drops a profile lcms cannot read or whose colour space does not fit the bands
     * (vips__foreign_convert_saveable) */
    if ((d = pl_jw_blob(x, VIPS_META_ICC_NAME, &len)) != NULL && len > 0 && vips_icc_is_compatible_profile(x, d, len))
        jpeg_write_icc_profile(ci, d, (unsigned)len);
}

/* The state longjmp must find in memory, not in registers. */
typedef struct pl_jw_state {
    struct jpeg_compress_struct ci;
    pl_jw_err err;
    unsigned char *out;
    unsigned long out_len;
    int rc; /* 0, or what pl_jpeg_write returns on the way out */
} pl_jw_state;

int pl_jpeg_write(pl_ctx *c, VipsImage *x, int q, bool meta, void **buf, size_t *len)
{
    if (!pl_jpeg_write_ok(x) || x->data == NULL || q < 1 || q > 100)
        return 1;
    if (meta && (vips__exif_update(x) != 0 || !pl_jw_meta_fits(x)))
        return 1;
    pl_jw_state *s = g_try_new0(pl_jw_state, 1);
    if (s == NULL)
        return -1;
    s->ci.err = jpeg_std_error(&s->err.pub);
    s->err.pub.error_exit = pl_jw_error_exit;
    s->err.pub.output_message = pl_jw_output_message;
    if (setjmp(s->err.jump)) {
        s->rc = -1;
        if (c != NULL) {
            pl_error_set(c->err, PL_E_INTERNAL, "Cannot encode the image as JPEG: %s", s->err.msg);
            s->rc = -2;
        }
        goto done;
    }
    jpeg_create_compress(&s->ci);
    jpeg_mem_dest(&s->ci, &s->out, &s->out_len);
    s->ci.image_width = (JDIMENSION)x->Xsize;
    s->ci.image_height = (JDIMENSION)x->Ysize;
    s->ci.input_components = x->Bands;
    s->ci.in_color_space = x->Bands == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&s->ci);
    s->ci.optimize_coding = FALSE;
    jpeg_set_quality(&s->ci, q, TRUE);
    if (q >= 90)
        for (int i = 0; i < x->Bands; i++)
            s->ci.comp_info[i].h_samp_factor = s->ci.comp_info[i].v_samp_factor = 1;
    s->ci.write_JFIF_header = FALSE;
    jpeg_start_compress(&s->ci, TRUE);
    if (meta)
        pl_jw_meta(&s->ci, x);
    while (s->ci.next_scanline < s->ci.image_height) {
        JSAMPROW rows[PL_JW_STRIP];
        int n = 0;
        for (JDIMENSION y = s->ci.next_scanline; n < PL_JW_STRIP && y < s->ci.image_height; n++, y++)
            rows[n] = (JSAMPROW)VIPS_IMAGE_ADDR(x, 0, (int)y);
        jpeg_write_scanlines(&s->ci, rows, (JDIMENSION)n);
        if (c != NULL && pl_cancel_check(c)) {
            s->rc = -2;
            goto done;
        }
    }
    jpeg_finish_compress(&s->ci);
    *buf = s->out;
    *len = s->out_len;
    s->out = NULL;
    atomic_fetch_add(&pl_jw_count, 1);
done:
    /* Stopped early (a cancel, an error): libjpeg's memory destination moves its buffer as it
     * grows and tells s->out only at term_destination, so s->out may still name a buffer it has
     * freed (a double free once the first strip outgrew 4 KB). Its term_destination just
     * publishes the buffer of the moment: call it, then free that one. */
    if (s->out != NULL && s->ci.dest != NULL)
        s->ci.dest->term_destination(&s->ci);
    jpeg_destroy_compress(&s->ci);
    free(s->out); /* NULL once handed over */
    int rc = s->rc;
    g_free(s);
    return rc;
}
