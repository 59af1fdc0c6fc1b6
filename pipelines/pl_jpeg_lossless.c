/*
 * pl_jpeg_lossless: imaginary's /rotate (90, 180, 270), /flip and /flop on a JPEG done in the DCT
 * domain with TurboJPEG's tjTransform (the jpegtran engine): the coefficients are moved, never
 * decoded to pixels and re-encoded, so there is no generation loss and a 12 MP rotate costs a
 * fraction of the CPU (docs/performance.md, "Levers").
 *
 * Taken only when the result means exactly what the normal path gives, else pl_run goes on as
 * usual (return 1): an imaginary route run on its own (not /pipeline) with no parameter but the
 * angle, type (resolving to JPEG), stripmeta, norotation and the service-level ones; a YCbCr or
 * grey JPEG (no CMYK/YCCK, no RGB-coded), baseline or progressive; no embedded ICC profile other
 * than sRGB on colour images (the normal path converts those to sRGB at load); EXIF orientation 1
 * or absent; a "perfect" transform (TJXOPT_PERFECT: the partial MCU blocks at the edges it moves
 * must not exist; never TJXOPT_TRIM, which changes the size); with stripmeta, no EXIF copyright
 * (the normal path keeps it, TJXOPT_COPYNONE cannot); no MPF marker (multi-picture files: the
 * pictures after the first would be lost while their index stayed). Any TurboJPEG failure,
 * warnings included (TurboJPEG 2.1 fails a transform that warned, e.g. a truncated file;
 * TJFLAG_STOPONWARNING stops it at the first warning instead of finishing a useless output),
 * falls back to the normal path, which then decodes or refuses the file its own way.
 * PL_NO_LOSSLESS_JPEG (IMGPIPE_NO_LOSSLESS_JPEG=1) turns the path off (A/B measurements, tests).
 *
 * Metadata: kept (every APPn/COM marker copied) unless stripmeta (TJXOPT_COPYNONE); see
 * docs/imaginary-compat.md for how this differs from the normal path's re-encode.
 *
 * Ownership: one tjhandle per call, destroyed before returning; no shared state, so any number
 * of pl_run() calls may use this at once. On success the output buffer, allocated by TurboJPEG
 * with malloc (tjAlloc), moves into pl_result; pl_result_clear() frees it with g_free, which is
 * free() since GLib 2.46. The transform itself cannot be interrupted: the cancel flag and the
 * deadline are checked right before and right after it.
 */
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "pl_internal.h"

#define PL_JL_BIT(id) (1ull << (id))

/* The TurboJPEG operation for the plan, or -1 when the plan is not a lone rotate/flip/flop. */
static int pl_jpeg_lossless_op(const pl_plan *plan)
{
    if (plan->n_steps != 1 || plan->steps[0].op != plan->op)
        return -1;
    const pl_params *p = &plan->steps[0].params;
    uint64_t allowed = PL_JL_BIT(PL_P_TYPE) | PL_JL_BIT(PL_P_STRIPMETA) | PL_JL_BIT(PL_P_NOROTATION) | PL_JL_BIT(PL_P_FIELD) |
                       PL_JL_BIT(PL_P_KEY) | PL_JL_BIT(PL_P_SIGN) | PL_JL_BIT(PL_P_EXPIRES);
    int op = -1;
    switch (plan->op) {
    case PL_OP_ROTATE:
        allowed |= PL_JL_BIT(PL_P_ROTATE);
        /* imaginary floors to a multiple of 90 and caps at 270; 0 (e.g. rotate=45) re-encodes */
        switch (pl_ops_angle_floor(p->rotate)) {
        case 90:
            op = TJXOP_ROT90;
            break;
        case 180:
            op = TJXOP_ROT180;
            break;
        case 270:
            op = TJXOP_ROT270;
            break;
        default:
            return -1;
        }
        break;
    case PL_OP_FLIP:
        op = TJXOP_HFLIP; /* imaginary's flip is the left-right mirror (bimg naming) */
        break;
    case PL_OP_FLOP:
        op = TJXOP_VFLIP;
        break;
    default:
        return -1;
    }
    return (p->set & ~allowed) == 0 ? op : -1;
}

/* An APP2 "MPF" marker before the first scan: a multi-picture file (Ultra HDR gain map, camera
 * previews) whose other pictures follow the first one's EOI. Copying MPF would point into the
 * pictures the transform does not carry; the normal path drops MPF. */
static bool pl_jpeg_lossless_has_mpf(const uint8_t *d, size_t len)
{
    size_t i = 2;
    while (i + 4 <= len && d[i] == 0xFF) {
        uint8_t m = d[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xDA || m == 0xD9)
            break;
        size_t seg = ((size_t)d[i + 2] << 8) | d[i + 3];
        if (m == 0xE2 && seg >= 6 && i + 8 <= len && memcmp(d + i + 4, "MPF", 4) == 0)
            return true;
        i += 2 + seg;
    }
    return false;
}

/* The input as the header shows it: what the normal path would give unchanged in colour. */
static bool pl_jpeg_lossless_input_ok(const pl_ctx *c)
{
    VipsImage *h = c->head;
    if (c->in_format != PL_FMT_JPEG || h == NULL || c->orientation > 1 || c->in_pages > 1)
        return false;
    if (h->Type == VIPS_INTERPRETATION_CMYK || (h->Bands != 1 && h->Bands != 3) || h->BandFmt != VIPS_FORMAT_UCHAR)
        return false;
    if (h->Bands >= 3 && vips_image_get_typeof(h, VIPS_META_ICC_NAME) && !pl_load_profile_is_srgb(h))
        return false;
    if (!c->keep_meta && vips_image_get_typeof(h, "exif-ifd0-Copyright"))
        return false;
    return !pl_jpeg_lossless_has_mpf(c->in->data, c->in->len);
}

int pl_jpeg_lossless_run(pl_ctx *c, pl_result *out)
{
    if (pl_engine_switched_off(PL_NO_LOSSLESS_JPEG))
        return 1;
    int op = pl_jpeg_lossless_op(c->plan);
    if (op < 0 || c->out_format != PL_FMT_JPEG || !c->keep_profile || !pl_jpeg_lossless_input_ok(c))
        return 1;
    uint64_t px = (uint64_t)c->in_width * (uint64_t)c->in_height;
    if (c->lim != NULL && c->lim->max_output_pixels > 0 && px > c->lim->max_output_pixels)
        return 1; /* the normal path refuses it with its own message */

    tjhandle tj = tjInitTransform();
    if (tj == NULL)
        return 1;
    int w = 0, h = 0, subsamp = 0, space = 0;
    if (tjDecompressHeader3(tj, c->in->data, (unsigned long)c->in->len, &w, &h, &subsamp, &space) != 0 ||
        (space != TJCS_YCbCr && space != TJCS_GRAY) || w != c->in_width || h != c->in_height) {
        tjDestroy(tj);
        return 1;
    }
    if (pl_cancel_check(c)) {
        tjDestroy(tj);
        return -1;
    }
    tjtransform xf = {.op = op, .options = TJXOPT_PERFECT | (c->keep_meta ? 0 : TJXOPT_COPYNONE)};
    unsigned char *buf = NULL;
    unsigned long len = 0;
    int r = tjTransform(tj, c->in->data, (unsigned long)c->in->len, 1, &buf, &len, &xf, TJFLAG_STOPONWARNING);
    tjDestroy(tj);
    if (r != 0 || buf == NULL || len == 0) {
        tjFree(buf);
        return 1;
    }
    if (pl_cancel_check(c)) {
        tjFree(buf);
        return -1;
    }
    bool swap = op == TJXOP_ROT90 || op == TJXOP_ROT270;
    out->data = buf;
    out->len = len;
    out->format = PL_FMT_JPEG;
    out->mime = pl_encode_mime(PL_FMT_JPEG);
    out->width = swap ? h : w;
    out->height = swap ? w : h;
    out->vary_accept = c->vary_accept;
    return 0;
}
