/*
 * pl_renditions: runs a /renditions plan. The input is decoded once: every output's target size
 * (pl_geometry_target, as /transform alone would shrink-on-load for it) is folded into one box
 * and pl_load_image opens the input at the largest shrink-on-load scale that still covers the
 * box (JPEG m/8, WebP scale, HEIF thumbnail, the PNG fast path), brings it to sRGB, and the result
 * is held in memory once. Outputs then run largest first; each starts from the smallest image
 * already made that still covers its own target: the decoded image, or the pixels of an earlier
 * output that was a plain resize of the whole picture (kept in memory as an intermediate). Two
 * outputs with the same geometry (e.g. 640 px WebP and 640 px JPEG) thus share one resize, and a
 * 320 px output reads the 640 px pixels, not the full decode. An output that needs the original
 * coordinates (trim, extract area), its full size, or its stored orientation (norotation) reads
 * the decoded image. The placeholders (pl_placeholder.h) read the smallest image covering 100 px.
 *
 * Each output is otherwise exactly /transform's step (pl_geometry_transform, pl_encode_image);
 * one that fails fails its part (error JSON with its status) unless all=true. The run goes in
 * named steps: open (header, limits, info), plan (each output's facts, the decode box, the
 * order), decode, shape (every geometry, in order), encode (the outputs need nothing from each
 * other there: a second thread shares them when libvips may use more than one thread per image),
 * verdict, answer. Limits count the
 * whole set: the sum of the outputs' pixels against max_output_pixels, and one deadline (a
 * deadline or cancel fails the request). The answer is one buffer: multipart/mixed (a JSON part
 * first, then one part per output) or, when Accept asks for application/json, one JSON document
 * with the outputs in base64.
 *
 * DESIGN: one pl_ctx for the run (its base owns every image, the eval callback that stops libvips
 * points at it); the per-output fields (plan, err, logical size, orientation, output format,
 * metadata policy) are set before each output's geometry, and a copy of the context as it stands
 * then (pl_rend_out.ec) is what its encode reads. The shared images are in memory and never
 * written: libvips images are immutable, and c->owned_pixels is cleared so that no step
 * premultiplies the shared pixels in place.
 *
 * Threads: the encode step may run on the calling thread and one more (pl_rend_encode_all).
 * They take outputs from one atomic counter; each output's context, error and result are touched
 * by the one thread that took it; the second thread's images hang off its own base object (a
 * VipsObject's local arrays are not thread-safe), which the caller drops after joining it. Cancel
 * and deadline reach the second thread through pl_control (pl_cancel_check, and the eval callback
 * on the decoded image, which every derived image shares; libvips updates that image's progress
 * counters from both threads then, statistics nothing here reads).
 */
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_internal.h"
#include "pl_placeholder.h"
#include "pl_renditions.h"

/* An image outputs may start from: in memory, upright or in the stored orientation. */
typedef struct pl_rend_src {
    VipsImage *img;
    bool upright;
    int owner; /* the output whose pixels these are, -1 = the decoded image */
} pl_rend_src;

typedef struct pl_rend_out {
    pl_plan plan; /* the output as a transform plan */
    pl_error err;
    pl_result res;
    int rc;
    bool chosen;        /* pl_encode_choose passed */
    pl_format fmt;      /* its output format */
    bool asked, vary;   /* pl_encode_choose's facts */
    int tw, th;         /* upright target size; 0 = the full picture */
    bool needs_decoded; /* reads the decoded image (trim, extract, norotation, full size) */
    bool plain;         /* a resize of the whole picture, nothing else: can serve later outputs */
    int from;           /* the source it started from (pl_rend_src.owner) */
    VipsImage *img;     /* its geometry's result, to encode (owned by the run's base) */
    pl_ctx ec;          /* the context its encode reads: the run's, with this output's facts */
} pl_rend_out;

#define PL_REND_SOURCES (PL_RENDITIONS_MAX + 1)

static double pl_rend_ms(int64_t from, int64_t to)
{
    return (double)(to - from) / 1000.0;
}

static bool pl_rend_fatal(const pl_error *e)
{
    return e->code == PL_E_CANCELLED || e->code == PL_E_DEADLINE || e->code == PL_E_INTERNAL;
}

/* The facts of one output before any pixel: format, target, which images it may start from. */
static void pl_rend_prepare(pl_ctx *c, pl_rend_out *o, int orient0)
{
    const pl_step *s = &o->plan.steps[0];
    const pl_params *p = &s->params;
    c->plan = &o->plan;
    c->err = &o->err;
    c->lw = c->in_width, c->lh = c->in_height, c->orientation = orient0;
    o->rc = -1;
    if (pl_encode_choose(c) != 0)
        return;
    o->chosen = true;
    o->fmt = c->out_format;
    o->asked = c->out_format_asked;
    o->vary = c->vary_accept;
    int tw = 0, th = 0;
    pl_geometry_target(c, s, &tw, &th); /* stored orientation, 0 = no downscale of the whole */
    bool swap = !p->norotation && orient0 >= 5 && orient0 <= 8;
    o->tw = swap ? th : tw;
    o->th = swap ? tw : th;
    bool rotated_tag = orient0 > 1;
    o->needs_decoded = tw <= 0 || th <= 0 || (p->norotation && rotated_tag);
    bool fit_keeps_aspect = p->fit == PL_FIT_NONE || p->fit == PL_FIT_INSIDE || p->fit == PL_FIT_OUTSIDE;
    o->plain = !o->needs_decoded && fit_keeps_aspect && !p->force && p->trim <= 0 && p->areawidth == 0 && p->areaheight == 0 &&
               pl_ops_angle_floor(p->rotate) == 0 && !p->flip && !p->flop && p->sigma <= 0 && p->sharpen <= 0 && !p->grayscale &&
               p->text[0] == '\0';
}

/* The smallest source that covers w x h (upright), among those the output may use. */
static const pl_rend_src *pl_rend_pick(const pl_rend_src *src, int n_src, int w, int h, bool decoded_only)
{
    const pl_rend_src *best = &src[0];
    for (int i = 1; !decoded_only && i < n_src; i++) {
        const VipsImage *im = src[i].img;
        if (im->Xsize >= w && im->Ysize >= h && (uint64_t)im->Xsize * im->Ysize < (uint64_t)best->img->Xsize * best->img->Ysize)
            best = &src[i];
    }
    return best;
}

/* Metadata policy of a transform step (pl_engine's rule). */
static void pl_rend_meta(pl_ctx *c, const pl_params *p)
{
    c->keep_meta = !p->strip;
    c->keep_profile = !p->noprofile;
}

static int pl_rend_materialise(pl_ctx *c, VipsImage **x)
{
    VipsImage **t = pl_ctx_slot(c);
    *t = vips_image_copy_memory(*x);
    if (*t == NULL)
        return pl_cancel_fail(c, PL_E_DECODE, "Cannot decode the image: its pixel data is damaged or truncated");
    *x = *t;
    return 0;
}

/* One output's geometry: from its source, within the set's pixel budget, kept as a source when
 * it can serve later outputs. Leaves o->img and o->ec (the context its encode reads); -1 with
 * o->err on failure. */
static int pl_rend_shape(pl_ctx *c, pl_rend_out *o, int idx, const char *name, pl_rend_src *src, int *n_src, int orient0, bool more,
                         uint64_t *set_px)
{
    const pl_step *s = &o->plan.steps[0];
    c->plan = &o->plan;
    c->err = &o->err;
    if (pl_cancel_check(c))
        return -1;
    const pl_rend_src *from = pl_rend_pick(src, *n_src, o->tw, o->th, o->needs_decoded);
    o->from = from->owner;
    bool swap = orient0 >= 5 && orient0 <= 8;
    if (from->upright && from != &src[0]) {
        c->lw = swap ? c->in_height : c->in_width;
        c->lh = swap ? c->in_width : c->in_height;
        c->orientation = 1;
    } else {
        c->lw = c->in_width, c->lh = c->in_height, c->orientation = orient0;
    }
    c->out_format = o->fmt;
    c->out_format_asked = o->asked;
    c->vary_accept = o->vary;
    pl_rend_meta(c, &s->params);
    VipsImage *x;
    if (pl_geometry_transform(c, s, from->img, &x))
        return -1;
    uint64_t px = (uint64_t)x->Xsize * (uint64_t)vips_image_get_page_height(x);
    const pl_limits *lim = c->lim;
    if (lim != NULL && lim->max_output_pixels > 0 && *set_px + px > lim->max_output_pixels)
        return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS,
                            "Output set too large: rendition %d (\"%s\", %dx%d) brings the outputs to %.1f megapixels, over the "
                            "limit of %.1f for the whole set",
                            idx + 1, name, x->Xsize, vips_image_get_page_height(x), (double)(*set_px + px) / 1e6,
                            lim->max_output_pixels / 1e6);
    *set_px += px;
    if (o->plain && more && *n_src < PL_REND_SOURCES &&
        (uint64_t)x->Xsize * x->Ysize < (uint64_t)from->img->Xsize * from->img->Ysize) {
        if (pl_rend_materialise(c, &x))
            return -1;
        src[(*n_src)++] = (pl_rend_src){x, true, idx};
    }
    o->img = x;
    o->ec = *c;
    atomic_init(&o->ec.kill_code, 0);
    atomic_init(&o->ec.load_failed, atomic_load(&c->load_failed));
    return 0;
}

/* ---- placeholders ---- */

static json_t *pl_rend_b64(const char *prefix, const void *data, size_t len)
{
    gchar *b = g_base64_encode(data, len);
    GString *s = g_string_new(prefix);
    g_string_append(s, b);
    json_t *j = json_string(s->str);
    g_free(b);
    g_string_free(s, TRUE);
    return j;
}

/* 8-bit sRGB with alpha, upright, fitting box x box, read out into memory. */
static int pl_rend_small(pl_ctx *c, const pl_rend_src *from, int box, VipsImage **img_out, uint8_t **px, size_t *len)
{
    VipsImage *x = from->img;
    if (!from->upright && pl_ops_autorot(c, x, &x))
        return -1;
    double s = fmin(1.0, fmin((double)box / x->Xsize, (double)box / x->Ysize));
    int w = (int)fmax(1, floor(x->Xsize * s + 0.5)), h = (int)fmax(1, floor(x->Ysize * s + 0.5));
    if (pl_ops_resize(c, x, w, h, &x))
        return -1;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 4);
    if (x->Type != VIPS_INTERPRETATION_sRGB || x->BandFmt != VIPS_FORMAT_UCHAR || x->Bands < 3) {
        if (vips_colourspace(x, &t[0], VIPS_INTERPRETATION_sRGB, NULL) || vips_cast_uchar(t[0], &t[1], NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot make the placeholder image");
        x = t[1];
    }
    if (x->Bands > 4) {
        if (vips_extract_band(x, &t[2], 0, "n", 4, NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot make the placeholder image");
        x = t[2];
    }
    *img_out = x;
    if (x->Bands == 3) {
        if (vips_addalpha(x, &t[3], NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot make the placeholder image");
        x = t[3];
    }
    *px = vips_image_write_to_memory(x, len);
    if (*px == NULL)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot make the placeholder image");
    return 0;
}

/* libvips 8.14's webpsave writes a small EXIF block (resolution) even when stripping: drop the
 * EXIF and XMP chunks and their VP8X flags in place (488 -> ~260 bytes for a 32 px LQIP). */
static void pl_rend_webp_strip(uint8_t *b, size_t *len)
{
    if (*len < 20 || memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WEBP", 4) != 0)
        return;
    size_t o = 12, w = 12;
    while (o + 8 <= *len) {
        uint32_t n = (uint32_t)b[o + 4] | (uint32_t)b[o + 5] << 8 | (uint32_t)b[o + 6] << 16 | (uint32_t)b[o + 7] << 24;
        size_t whole = 8 + (size_t)n + (n & 1);
        if (o + whole > *len)
            return; /* not what we expect: leave it alone */
        if (memcmp(b + o, "VP8X", 4) == 0 && n >= 1)
            b[o + 8] &= (uint8_t) ~(0x08 | 0x04);
        if (memcmp(b + o, "EXIF", 4) != 0 && memcmp(b + o, "XMP ", 4) != 0) {
            memmove(b + w, b + o, whole);
            w += whole;
        }
        o += whole;
    }
    uint32_t riff = (uint32_t)(w - 8);
    b[4] = riff & 255, b[5] = (riff >> 8) & 255, b[6] = (riff >> 16) & 255, b[7] = (uint8_t)(riff >> 24);
    *len = w;
}

/* The LQIP: longest side 32 px, WebP q50, as a data URI. */
static json_t *pl_rend_lqip(pl_ctx *c, VipsImage *small)
{
    VipsImage *x = small;
    int big = x->Xsize > x->Ysize ? x->Xsize : x->Ysize;
    if (big > 32) {
        int w = (int)fmax(1, floor(x->Xsize * 32.0 / big + 0.5)), h = (int)fmax(1, floor(x->Ysize * 32.0 / big + 0.5));
        if (pl_ops_resize(c, x, w, h, &x))
            return NULL;
    }
    /* pixels only: no EXIF, XMP or profile in a data URI */
    size_t raw_len = 0;
    void *raw = vips_image_write_to_memory(x, &raw_len);
    VipsImage **t = pl_ctx_slot(c);
    if (raw == NULL || (*t = vips_image_new_from_memory_copy(raw, raw_len, x->Xsize, x->Ysize, x->Bands, x->BandFmt)) == NULL) {
        g_free(raw);
        pl_cancel_fail(c, PL_E_OPERATION, "Cannot make the LQIP");
        return NULL;
    }
    g_free(raw);
    (*t)->Type = VIPS_INTERPRETATION_sRGB;
    x = *t;
    void *buf = NULL;
    size_t len = 0;
    if (vips_webpsave_buffer(x, &buf, &len, "Q", 50, "strip", TRUE, NULL)) {
        pl_cancel_fail(c, PL_E_OPERATION, "Cannot encode the LQIP");
        return NULL;
    }
    pl_rend_webp_strip(buf, &len);
    json_t *j = json_pack("{s:o, s:i, s:i}", "src", pl_rend_b64("data:image/webp;base64,", buf, len), "width", x->Xsize, "height",
                          x->Ysize);
    g_free(buf);
    return j;
}

static int pl_rend_placeholders(pl_ctx *c, const pl_renditions_spec *rs, const pl_rend_src *src, int n_src, int orient0,
                                json_t *obj)
{
    int box = PL_THUMBHASH_SIDE;
    /* the smallest source from which the picture fits box x box without enlarging */
    bool swap = orient0 >= 5 && orient0 <= 8;
    int uw = swap ? c->in_height : c->in_width, uh = swap ? c->in_width : c->in_height;
    double s = fmin(1.0, (double)box / VIPS_MAX(uw, uh));
    const pl_rend_src *from = pl_rend_pick(src, n_src, (int)ceil(uw * s - 0.5), (int)ceil(uh * s - 0.5), false);
    VipsImage *small = NULL;
    uint8_t *px = NULL;
    size_t len = 0;
    if (pl_rend_small(c, from, box, &small, &px, &len))
        return -1;
    int w = small->Xsize, h = small->Ysize;
    int rc = 0;
    if (rs->placeholders & PL_PH_BLURHASH) {
        char bh[PL_BLURHASH_MAX];
        if (pl_blurhash_encode(px, w, h, 4, (size_t)w * 4, rs->blurhash_x, rs->blurhash_y, bh, sizeof(bh)) == 0)
            json_object_set_new(obj, "blurhash", json_string(bh));
    }
    if (rs->placeholders & PL_PH_THUMBHASH) {
        uint8_t th[PL_THUMBHASH_MAX];
        size_t n = 0;
        if (pl_thumbhash_encode(px, w, h, th, sizeof(th), &n) == 0)
            json_object_set_new(obj, "thumbhash", pl_rend_b64("", th, n));
    }
    if (rs->placeholders & PL_PH_COLOR) {
        uint8_t rgb[3];
        char hex[8];
        pl_placeholder_color(px, w, h, rgb);
        snprintf(hex, sizeof(hex), "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
        json_object_set_new(obj, "color", json_string(hex));
    }
    if (rs->placeholders & PL_PH_LQIP) {
        json_t *l = pl_rend_lqip(c, small);
        if (l == NULL)
            rc = -1;
        else
            json_object_set_new(obj, "lqip", l);
    }
    g_free(px);
    return rc;
}

/* ---- the answer ---- */

static json_t *pl_rend_error_json(const pl_error *e)
{
    return json_pack("{s:s, s:i, s:s}", "message", e->message, "status", pl_error_http_status(e->code, 0), "error",
                     pl_error_name(e->code));
}

static const char *pl_rend_ext(pl_format f)
{
    return pl_format_get(f)->ext;
}

/* Boundaries, each with its Content-Type: the first that occurs in no part is used. */
static const struct {
    const char *boundary, *content_type;
} pl_rend_boundaries[] = {
    {"imgpipe-renditions-6f1d0c9a2b7e4853", "multipart/mixed; boundary=imgpipe-renditions-6f1d0c9a2b7e4853"},
    {"imgpipe-renditions-c43a8e17f5d29b06", "multipart/mixed; boundary=imgpipe-renditions-c43a8e17f5d29b06"},
    {"imgpipe-renditions-0b9e62d7a1c5f384", "multipart/mixed; boundary=imgpipe-renditions-0b9e62d7a1c5f384"},
    {"imgpipe-renditions-95d7f3b0e8a26c41", "multipart/mixed; boundary=imgpipe-renditions-95d7f3b0e8a26c41"},
};

static bool pl_rend_contains(const void *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (const uint8_t *p = hay, *end = (const uint8_t *)hay + n; p + k <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (p == NULL || p + k > end)
            return false;
        if (memcmp(p, needle, k) == 0)
            return true;
    }
    return false;
}

static int pl_rend_multipart(const pl_renditions_spec *rs, pl_rend_out *outs, const char *meta, pl_result *out, pl_error *err)
{
    size_t nb = sizeof(pl_rend_boundaries) / sizeof(pl_rend_boundaries[0]), b = 0;
    for (; b < nb; b++) {
        const char *bd = pl_rend_boundaries[b].boundary;
        bool clash = pl_rend_contains(meta, strlen(meta), bd);
        for (int i = 0; !clash && i < rs->n; i++)
            clash = outs[i].rc == 0 && pl_rend_contains(outs[i].res.data, outs[i].res.len, bd);
        if (!clash)
            break;
    }
    if (b == nb)
        return pl_error_set(err, PL_E_INTERNAL, "Cannot find a multipart boundary that no output contains");
    const char *bd = pl_rend_boundaries[b].boundary;
    GString *s = g_string_sized_new(4096);
    g_string_append_printf(s,
                           "--%s\r\nContent-Type: application/json\r\nContent-Disposition: inline; name=\"meta\"; "
                           "filename=\"meta.json\"\r\nContent-Length: %zu\r\n\r\n%s\r\n",
                           bd, strlen(meta), meta);
    for (int i = 0; i < rs->n; i++) {
        const pl_rend_out *o = &outs[i];
        const char *name = rs->names[i];
        if (o->rc == 0) {
            g_string_append_printf(s,
                                   "--%s\r\nContent-Type: %s\r\nContent-Disposition: inline; name=\"%s\"; filename=\"%s.%s\"\r\n"
                                   "Image-Width: %d\r\nImage-Height: %d\r\nContent-Length: %zu\r\n\r\n",
                                   bd, o->res.mime, name, name, pl_rend_ext(o->res.format), o->res.width, o->res.height,
                                   o->res.len);
            g_string_append_len(s, o->res.data, (gssize)o->res.len);
        } else {
            json_t *e = pl_rend_error_json(&o->err);
            json_object_set_new(e, "name", json_string(name));
            char *txt = json_dumps(e, JSON_COMPACT);
            json_decref(e);
            g_string_append_printf(s,
                                   "--%s\r\nContent-Type: application/json\r\nContent-Disposition: inline; name=\"%s\"; "
                                   "filename=\"%s.json\"\r\nImage-Status: %d\r\nContent-Length: %zu\r\n\r\n%s",
                                   bd, name, name, pl_error_http_status(o->err.code, 0), txt ? strlen(txt) : 0, txt ? txt : "");
            free(txt);
        }
        g_string_append(s, "\r\n");
    }
    g_string_append_printf(s, "--%s--\r\n", bd);
    out->len = s->len;
    out->data = g_string_free(s, FALSE);
    out->mime = pl_rend_boundaries[b].content_type;
    return 0;
}

/* The outputs' summary (meta part) or, in the JSON form, the outputs themselves. */
static json_t *pl_rend_list(const pl_renditions_spec *rs, const pl_rend_out *outs, bool with_data)
{
    json_t *arr = json_array();
    for (int i = 0; i < rs->n; i++) {
        const pl_rend_out *o = &outs[i];
        json_t *j;
        if (o->rc == 0) {
            j = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:I, s:s}", "name", rs->names[i], "status", 200, "type",
                          pl_format_name(o->res.format), "mime", o->res.mime, "width", o->res.width, "height", o->res.height,
                          "bytes", (json_int_t)o->res.len, "source", o->from >= 0 ? rs->names[o->from] : "decoded");
            if (with_data)
                json_object_set_new(j, "data", pl_rend_b64("", o->res.data, o->res.len));
        } else {
            j = json_pack("{s:s, s:i, s:o}", "name", rs->names[i], "status", pl_error_http_status(o->err.code, 0), "error",
                          pl_rend_error_json(&o->err));
        }
        json_array_append_new(arr, j);
    }
    return arr;
}

/* ---- the run ---- */

/* One /renditions run: its context, its outputs in the order they are made, the images they may
 * start from. */
typedef struct pl_rend_run {
    pl_ctx c;
    const pl_renditions_spec *rs;
    pl_rend_out *outs;
    int order[PL_RENDITIONS_MAX], n_order; /* chosen outputs, largest first */
    int n_shaped;                          /* order[0 .. n_shaped - 1] went through pl_rend_shape */
    int orient0;                           /* the stored orientation */
    int bw, bh;                            /* the box the decode covers (stored orientation) */
    pl_rend_src src[PL_REND_SOURCES];
    int n_src;
} pl_rend_run;

/* Every output's facts, the one box the decode must cover and the order: largest first (stable:
 * equal sizes keep the request's order). */
static void pl_rend_plan(pl_rend_run *r)
{
    pl_ctx *c = &r->c;
    const pl_renditions_spec *rs = r->rs;
    bool swap = r->orient0 >= 5 && r->orient0 <= 8;
    for (int i = 0; i < rs->n; i++) {
        pl_rend_out *o = &r->outs[i];
        o->plan.op = PL_OP_TRANSFORM;
        o->plan.n_steps = 1;
        o->plan.steps[0] = rs->steps[i];
        o->plan.params = rs->steps[i].params;
        pl_rend_prepare(c, o, r->orient0);
        if (!o->chosen)
            continue;
        r->bw = VIPS_MAX(r->bw, o->needs_decoded ? c->in_width : swap ? o->th : o->tw);
        r->bh = VIPS_MAX(r->bh, o->needs_decoded ? c->in_height : swap ? o->tw : o->th);
        r->order[r->n_order++] = i;
    }
    if (rs->placeholders != 0 || r->n_order == 0) {
        double s = fmin(1.0, (double)PL_THUMBHASH_SIDE / VIPS_MAX(c->in_width, c->in_height));
        r->bw = VIPS_MAX(r->bw, (int)ceil(c->in_width * s));
        r->bh = VIPS_MAX(r->bh, (int)ceil(c->in_height * s));
    }
    for (int i = 1; i < r->n_order; i++)
        for (int j = i; j > 0; j--) {
            const pl_rend_out *a = &r->outs[r->order[j - 1]], *b = &r->outs[r->order[j]];
            uint64_t aa = a->needs_decoded ? UINT64_MAX : (uint64_t)a->tw * a->th;
            uint64_t ba = b->needs_decoded ? UINT64_MAX : (uint64_t)b->tw * b->th;
            if (ba <= aa)
                break;
            int t = r->order[j];
            r->order[j] = r->order[j - 1];
            r->order[j - 1] = t;
        }
}

/* Decode once, at the largest shrink-on-load scale that covers the box, into memory. */
static int pl_rend_decode(pl_rend_run *r)
{
    pl_ctx *c = &r->c;
    c->lw = c->in_width, c->lh = c->in_height, c->orientation = r->orient0;
    VipsImage *img;
    bool full = r->bw >= c->in_width && r->bh >= c->in_height;
    /* GIF: random access, as pl_run (libvips 8.14's sequential gifload can spin on tall frames) */
    if (pl_load_image(c, 1, full ? 0 : r->bw, full ? 0 : r->bh, c->in_format == PL_FMT_GIF, &img) || pl_rend_materialise(c, &img))
        return -1;
    c->owned_pixels = NULL; /* shared by every output: never rewritten in place */
    c->head = img;
    pl_cancel_attach(c, img);
    r->src[0] = (pl_rend_src){img, r->orient0 <= 1, -1};
    r->n_src = 1;
    return 0;
}

/* Every output's geometry, in order (serial: each may read the one before). Stops at the first
 * failure that ends the request (cancel, deadline, internal; any with all=true). */
static void pl_rend_shape_all(pl_rend_run *r)
{
    uint64_t set_px = 0;
    for (int k = 0; k < r->n_order; k++) {
        int i = r->order[k];
        pl_rend_out *o = &r->outs[i];
        bool more = k + 1 < r->n_order || r->rs->placeholders != 0;
        r->n_shaped = k + 1;
        o->rc = pl_rend_shape(&r->c, o, i, r->rs->names[i], r->src, &r->n_src, r->orient0, more, &set_px);
        if (o->rc != 0 && (pl_rend_fatal(&o->err) || r->rs->all))
            break;
    }
}

/* The encodes share a list (largest first) that one or more threads take outputs from. */
typedef struct pl_rend_queue {
    pl_rend_run *r;
    atomic_int next;
    VipsObject *base; /* the second thread's images (the caller's go to the run's base) */
} pl_rend_queue;

static void pl_rend_encode_from(pl_rend_queue *q, VipsObject *base)
{
    pl_rend_run *r = q->r;
    for (int k; (k = atomic_fetch_add(&q->next, 1)) < r->n_shaped;) {
        pl_rend_out *o = &r->outs[r->order[k]];
        if (o->rc != 0)
            continue;
        o->ec.base = base;
        o->rc = pl_cancel_check(&o->ec) ? -1 : pl_encode_image(&o->ec, o->img, &o->res);
    }
}

static gpointer pl_rend_encode_thread(gpointer data)
{
    pl_rend_queue *q = data;
    pl_rend_encode_from(q, q->base);
    pl_engine_thread_done();
    return NULL;
}

/* The encodes (the set's dearest part) need nothing from each other: with libvips allowed more
 * than one thread per image (vips_concurrency_get(); the service gives each worker cores / workers)
 * a second thread takes outputs from the same list, which shortens one request's wall time; with
 * one (the service's default on 2 cores with 2 workers) they run here, in order. */
static void pl_rend_encode_all(pl_rend_run *r)
{
    pl_rend_queue q = {.r = r, .base = NULL};
    atomic_init(&q.next, 0);
    GThread *second = NULL;
    if (vips_concurrency_get() > 1 && r->n_shaped > 1) {
        q.base = VIPS_OBJECT(vips_image_new());
        second = g_thread_try_new("imgpipe-rend", pl_rend_encode_thread, &q, NULL);
    }
    pl_rend_encode_from(&q, r->c.base);
    if (second != NULL)
        g_thread_join(second);
    if (q.base != NULL)
        g_object_unref(q.base);
}

/* The request's verdict from the outputs, in the order they were made: the first failure that
 * ends the request (cancel, deadline, internal) or, with all=true, the first failure of any kind.
 * 0 = answer, -1 = fail with err, 1 = fail naming output *failed. */
static int pl_rend_verdict(const pl_rend_run *r, pl_error *err, int *failed)
{
    for (int k = 0; k < r->n_shaped; k++) {
        const pl_rend_out *o = &r->outs[r->order[k]];
        if (o->rc == 0)
            continue;
        *err = o->err;
        if (pl_rend_fatal(&o->err))
            return -1;
        if (r->rs->all) {
            *failed = r->order[k];
            return 1;
        }
    }
    return 0;
}

/* all=true: the first failed output fails the request, named. */
static void pl_rend_name_failure(const pl_renditions_spec *rs, int failed, pl_error *err)
{
    char msg[PL_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof(msg), "rendition %d (\"%s\") failed and all=true: %.*s", failed + 1, rs->names[failed],
             (int)sizeof(msg) - 96, err->message);
    memcpy(err->message, msg, sizeof(msg));
}

/* The answer: the meta JSON (decoded size, placeholders, info, the outputs' list), then
 * multipart/mixed, or one JSON document when Accept asks for it. Takes info. */
static int pl_rend_answer(pl_rend_run *r, json_t *info, pl_result *out, pl_error *err)
{
    pl_ctx *c = &r->c;
    const pl_renditions_spec *rs = r->rs;
    json_t *meta = json_object();
    int rc = -1;
    json_object_set_new(meta, "decoded", json_pack("{s:i, s:i}", "width", r->src[0].img->Xsize, "height", r->src[0].img->Ysize));
    if (rs->placeholders != 0) {
        json_t *ph = json_object();
        json_object_set_new(meta, "placeholders", ph);
        if (pl_rend_placeholders(c, rs, r->src, r->n_src, r->orient0, ph)) {
            json_decref(info);
            goto done;
        }
    }
    if (info != NULL)
        json_object_set_new(meta, "info", info);
    bool as_json = pl_renditions_wants_json(c->in->accept);
    json_object_set_new(meta, "renditions", pl_rend_list(rs, r->outs, as_json));
    char *text = json_dumps(meta, JSON_COMPACT);
    if (text == NULL) {
        pl_error_set(err, PL_E_INTERNAL, "Out of memory building the renditions answer");
        goto done;
    }
    if (as_json) {
        out->len = strlen(text);
        out->data = g_memdup2(text, out->len + 1);
        out->mime = "application/json";
        rc = 0;
    } else {
        rc = pl_rend_multipart(rs, r->outs, text, out, err);
    }
    free(text);
    out->format = PL_FMT_UNKNOWN;
    out->vary_accept = true; /* Accept picks the JSON or the multipart form */
done:
    json_decref(meta);
    return rc;
}

/* The header, the limits and, when asked, the /info facts (*info) of the input. */
static int pl_rend_open(pl_rend_run *r, pl_result *out, json_t **info)
{
    pl_ctx *c = &r->c;
    pl_probe_info pi;
    if (pl_load_open(c, &pi, out))
        return -1;
    if (pl_load_check_limits(c, &pi, 1))
        return -1;
    if (r->rs->info) {
        pl_result ir = {0};
        if (pl_info_json(c, &pi, c->head, &ir))
            return -1;
        *info = json_loadb(ir.data, ir.len, 0, NULL);
        pl_result_clear(&ir);
    }
    r->orient0 = c->orientation;
    c->n_frames = 1; /* the first frame of an animation */
    return 0;
}

int pl_renditions_run(const pl_plan *plan, const pl_input *in, const pl_limits *lim, pl_control *ctl, pl_result *out, pl_error *err)
{
    pl_rend_run *r = g_new0(pl_rend_run, 1);
    pl_ctx *c = &r->c;
    pl_engine_ctx_init(c, plan, in, lim, ctl, err);
    c->shared_sources = true;
    r->rs = &plan->rend;
    r->outs = g_new0(pl_rend_out, r->rs->n > 0 ? r->rs->n : 1);
    json_t *info = NULL;
    int rc = -1, failed = 0, verdict;
    int64_t t0 = g_get_monotonic_time(), t1, t2;

    if (pl_rend_open(r, out, &info))
        goto done;
    pl_rend_plan(r);
    c->err = err;
    for (int i = 0; r->rs->all && i < r->rs->n; i++)
        if (!r->outs[i].chosen) {
            *err = r->outs[i].err;
            pl_rend_name_failure(r->rs, i, err);
            goto done;
        }
    if (pl_rend_decode(r))
        goto done;
    t1 = g_get_monotonic_time();
    out->t.decode_ms = pl_rend_ms(t0, t1);
    pl_rend_shape_all(r);
    pl_rend_encode_all(r);
    c->err = err;
    c->plan = plan;
    t2 = g_get_monotonic_time();
    out->t.encode_ms = pl_rend_ms(t1, t2);
    verdict = pl_rend_verdict(r, err, &failed);
    if (verdict == 1)
        pl_rend_name_failure(r->rs, failed, err);
    if (verdict != 0)
        goto done;
    rc = pl_rend_answer(r, info, out, err);
    info = NULL;
    out->t.process_ms = pl_rend_ms(t2, g_get_monotonic_time());
done:
    for (int i = 0; i < r->rs->n; i++)
        pl_result_clear(&r->outs[i].res);
    g_free(r->outs);
    json_decref(info);
#ifdef __GLIBC__
    if (c->in_format == PL_FMT_HEIF || c->in_format == PL_FMT_AVIF)
        malloc_trim(0);
#endif
    if (rc != 0) {
        pl_format f = out->in_format;
        int w = out->in_width, h = out->in_height;
        pl_result_clear(out);
        out->in_format = f, out->in_width = w, out->in_height = h;
    }
    g_object_unref(c->base);
    g_free(r);
    return rc;
}
