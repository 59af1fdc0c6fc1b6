/*
 * pl_encode: the output side. pl_encode_choose() decides the output format before any pixel is
 * decoded (it also decides whether an animation is kept: only GIF and WebP carry one);
 * pl_encode_image() brings the final image to what the format can carry (alpha flattened for
 * JPEG, 16-bit kept for PNG/TIFF only), applies the metadata policy and encodes to memory.
 *
 * Output type when none is asked: the input's format when libvips can write it (JPEG, PNG,
 * WebP, GIF, TIFF, HEIF, AVIF; HEIC stays HEIF, labelled image/heif); SVG, PDF and JPEG 2000
 * inputs become PNG when they have alpha, else JPEG. type=auto: on imaginary's routes the
 * first of image/webp, image/png, image/jpeg in Accept's order (q ignored, as imaginary); on
 * transform the best acceptable of AVIF > WebP > JPEG (PNG instead of JPEG when the image has
 * alpha), honouring q=0; AVIF and WebP only when named explicitly, JPEG/PNG also through the
 * image and any wildcards; no Accept at all means JPEG/PNG.
 *
 * Metadata: stripped on transform by default and with stripmeta on imaginary's routes, except
 * the EXIF copyright, which is kept.
 *
 * HEIF/AVIF: x265 and libaom run as one call that libvips' kill cannot interrupt, so a deadline
 * cannot stop them. The pixels are computed first (that part can be stopped), the deadline is
 * checked, and the encode's CPU cost is estimated from measured costs (pl_encode_heif_cost_ms):
 * over lim->max_heif_encode_ms an output format nobody asked for (HEIF/AVIF input kept) falls
 * back to JPEG (PNG with alpha), an asked one is refused. libvips 8.14 passes effort to x265 as
 * "speed", which x265 does not know: HEVC costs the same at every effort. After a HEIF/AVIF
 * encode, malloc_trim() hands the encoders' buffers (~150 MB for 8 MP) back to the system.
 *
 * JPEG: no Huffman-table optimisation unless interlace (progressive) is asked: on an 800x600 q80
 * encode it doubles the encoder's CPU (1.6 -> 3.1 ms) for files 1.7-1.9% smaller; chroma 4:2:0
 * below quality 90 (libvips' auto mode).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "pl_internal.h"

/* The format table's name and MIME type (pl_formats.c) with safe fallbacks for log lines and headers. */
const char *pl_encode_name(pl_format f)
{
    const char *n = pl_format_name(f);
    return n != NULL ? n : "unknown";
}

const char *pl_encode_mime(pl_format f)
{
    const char *m = pl_format_mime(f);
    return m != NULL ? m : "application/octet-stream";
}

static bool pl_encode_writable(pl_format f)
{
    return pl_format_get(f)->saver != NULL;
}

/* Walk Accept's media ranges: calls back with (type, len, q) in header order. */
typedef bool (*pl_accept_fn)(const char *type, size_t len, double q, void *user);

static void pl_encode_accept_walk(const char *accept, pl_accept_fn fn, void *user)
{
    const char *p = accept;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *semi = memchr(p, ';', n);
        size_t tlen = semi ? (size_t)(semi - p) : n;
        const char *t = p;
        while (tlen > 0 && isspace((unsigned char)*t))
            t++, tlen--;
        while (tlen > 0 && isspace((unsigned char)t[tlen - 1]))
            tlen--;
        double q = 1.0;
        for (const char *s = semi; s != NULL && s < p + n;) {
            s++;
            while (s < p + n && isspace((unsigned char)*s))
                s++;
            if (s + 2 <= p + n && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
                q = strtod(s + 2, NULL);
            s = memchr(s, ';', (size_t)(p + n - s));
        }
        if (tlen > 0 && fn(t, tlen, q, user))
            return;
        p = end ? end + 1 : NULL;
    }
}

typedef struct {
    pl_format found;
} pl_accept_first;

static bool pl_encode_imaginary_cb(const char *t, size_t len, double q, void *user)
{
    pl_accept_first *a = user;
    static const pl_format known[] = {PL_FMT_WEBP, PL_FMT_PNG, PL_FMT_JPEG};
    (void)q; /* imaginary ignores q-values */
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const char *mime = pl_format_mime(known[i]);
        if (strlen(mime) == len && strncasecmp(t, mime, len) == 0) {
            a->found = known[i];
            return true;
        }
    }
    return false;
}

typedef struct {
    const char *mime;
    double q;      /* explicit q, -1 if not named */
    double q_wild; /* q of the image or any wildcard, -1 if absent */
} pl_accept_q;

static bool pl_encode_q_cb(const char *t, size_t len, double q, void *user)
{
    pl_accept_q *a = user;
    if (strlen(a->mime) == len && strncasecmp(t, a->mime, len) == 0) {
        if (a->q < 0)
            a->q = q;
    } else if ((len == 7 && strncasecmp(t, "image/*", 7) == 0) || (len == 3 && strncmp(t, "*/*", 3) == 0)) {
        if (q > a->q_wild)
            a->q_wild = q;
    }
    return false;
}

static bool pl_encode_accepts(const char *accept, pl_format f, bool wildcard_ok)
{
    if (accept == NULL || *accept == '\0')
        return wildcard_ok;
    pl_accept_q a = {pl_encode_mime(f), -1, -1};
    pl_encode_accept_walk(accept, pl_encode_q_cb, &a);
    if (a.q >= 0)
        return a.q > 0;
    return wildcard_ok && a.q_wild > 0;
}

static int pl_encode_negotiate(pl_ctx *c, bool imaginary, pl_format *out)
{
    const char *accept = c->in->accept;
    c->vary_accept = true;
    if (imaginary) {
        pl_accept_first a = {PL_FMT_UNKNOWN};
        if (accept != NULL)
            pl_encode_accept_walk(accept, pl_encode_imaginary_cb, &a);
        *out = a.found;
        return 0;
    }
    bool alpha = c->in_alpha;
    const pl_format order[3] = {PL_FMT_AVIF, PL_FMT_WEBP, alpha ? PL_FMT_PNG : PL_FMT_JPEG};
    for (int i = 0; i < 3; i++)
        if (pl_encode_accepts(accept, order[i], i == 2)) {
            *out = order[i];
            return 0;
        }
    /* none of those: any other type the client names with q > 0, the highest q first (ties in
     * this order), rather than a 406 for a type the engine can write */
    const pl_format more[4] = {alpha ? PL_FMT_JPEG : PL_FMT_PNG, PL_FMT_GIF, PL_FMT_TIFF, PL_FMT_HEIF};
    double best_q = 0;
    for (int i = 0; i < 4; i++) {
        pl_accept_q a = {pl_encode_mime(more[i]), -1, -1};
        pl_encode_accept_walk(accept, pl_encode_q_cb, &a);
        if (a.q > best_q)
            best_q = a.q, *out = more[i];
    }
    if (best_q > 0)
        return 0;
    return pl_error_set(c->err, PL_E_NOT_ACCEPTABLE,
                        "No acceptable output type: Accept \"%.200s\" allows none of image/avif, image/webp, image/jpeg, "
                        "image/png, image/gif, image/tiff, image/heif; send one of them or name a type with type=",
                        accept);
}

/* /convert with type=auto and no image/webp, image/png or image/jpeg in Accept: with no Accept or
 * a wildcard (curl sends * / *), the input's type when /convert writes it, else JPEG (PNG with alpha);
 * an Accept naming only other types is refused with what it lacked. */
static int pl_encode_convert_auto(pl_ctx *c, pl_format *out)
{
    const char *accept = c->in->accept;
    pl_accept_q a = {"image/x-none", -1, -1};
    if (accept != NULL && *accept != '\0')
        pl_encode_accept_walk(accept, pl_encode_q_cb, &a);
    if (accept != NULL && *accept != '\0' && a.q_wild < 0)
        return pl_error_set(c->err, PL_E_MISSING_PARAM,
                            "Missing required param: type: type=auto takes image/webp, image/png or image/jpeg from Accept, and "
                            "Accept \"%.200s\" names none of them (nor */* or image/*); name a type (jpeg, png, webp, tiff, avif, "
                            "heif) or accept one of those",
                            accept);
    pl_format f = c->in_format;
    if (!pl_encode_writable(f) || f == PL_FMT_GIF) /* /convert refuses gif (below) */
        f = c->in_alpha ? PL_FMT_PNG : PL_FMT_JPEG;
    *out = f;
    return 0;
}

int pl_encode_choose(pl_ctx *c)
{
    const pl_plan *plan = c->plan;
    const pl_step *typed = NULL;
    for (int i = 0; i < plan->n_steps; i++)
        if (pl_params_has(&plan->steps[i].params, PL_P_TYPE) && plan->steps[i].params.type != PL_FMT_UNKNOWN)
            typed = &plan->steps[i];
    pl_format f = PL_FMT_UNKNOWN;
    c->vary_accept = false;
    if (plan->op == PL_OP_AUTOROTATE)
        typed = NULL; /* imaginary: /autorotate ignores type */
    if (typed != NULL) {
        f = typed->params.type;
        if (f == PL_FMT_AUTO && pl_encode_negotiate(c, typed->op != PL_OP_TRANSFORM, &f))
            return -1;
        if (f == PL_FMT_UNKNOWN && typed->op == PL_OP_CONVERT && pl_encode_convert_auto(c, &f))
            return -1;
        if (typed->op == PL_OP_CONVERT && f == PL_FMT_GIF)
            return pl_error_set(
                c->err, PL_E_UNSUPPORTED_OUTPUT,
                "Unsupported image output type: gif: /convert writes jpeg, png, webp, tiff, avif or heif (imaginary's "
                "/convert refuses gif, and imgpipe keeps that); /transform?type=gif writes GIF, animations included");
        if (typed->op == PL_OP_CONVERT && (f == PL_FMT_SVG || f == PL_FMT_PDF))
            return pl_error_set(c->err, PL_E_UNSUPPORTED_OUTPUT,
                                "Unsupported image output type: %s: imgpipe reads %s but writes no %s; use jpeg, png, webp, tiff, "
                                "avif or heif",
                                pl_encode_name(f), pl_encode_name(f), pl_encode_name(f));
    }
    if (f == PL_FMT_UNKNOWN) {
        f = c->in_format;
        if (!pl_encode_writable(f))
            f = c->in_alpha ? PL_FMT_PNG : PL_FMT_JPEG;
    }
    if (!pl_encode_writable(f))
        return pl_error_set(c->err, PL_E_UNSUPPORTED_OUTPUT, "Unsupported image output type: %s", pl_encode_name(f));
    c->out_format = f;
    c->out_format_asked = typed != NULL;
    /* effort within the chosen format's range (pl_params_check.c checked it when type named one) */
    const pl_params *last = &plan->steps[plan->n_steps - 1].params;
    bool named = typed == NULL || typed->params.type != PL_FMT_AUTO;
    return pl_params_check_effort(last, f, named, c->err);
}

/* The last step's parameters carry the encoder options. */
static const pl_params *pl_encode_params(const pl_ctx *c)
{
    const pl_plan *plan = c->plan;
    return plan->n_steps > 0 ? &plan->steps[plan->n_steps - 1].params : &plan->params;
}

static int pl_encode_effort(const pl_params *p, int lo, int hi, int dflt)
{
    /* imaginary's speed (0 slowest .. 9 fastest, AVIF/HEIF) is the opposite of effort */
    if (p->effort < 0 && hi == 9 && pl_params_has(p, PL_P_SPEED))
        return 9 - (p->speed < 0 ? 0 : p->speed > 9 ? 9 : p->speed);
    if (p->effort < 0)
        return dflt;
    return p->effort < lo ? lo : p->effort > hi ? hi : p->effort;
}

/* Estimated CPU ms of one HEIF/AVIF encode of px pixels, measured on a 2-core Debian 12 VM with
 * libheif 1.15.1, x265 3.5, libaom 3.6.0 (docs/performance.md): HEVC 0.75 s per megapixel at
 * any effort (x265's default preset); AV1 per effort 0..9. */
static double pl_encode_heif_cost_ms(pl_format f, int effort, uint64_t px)
{
    static const double av1_ms_per_mp[10] = {50, 150, 250, 250, 1200, 1500, 2800, 4500, 7000, 10000};
    double mp = (double)px / 1e6;
    if (f == PL_FMT_HEIF)
        return 750.0 * mp;
    return av1_ms_per_mp[effort < 0 ? 0 : effort > 9 ? 9 : effort] * mp;
}

static int pl_encode_heif_effort(const pl_ctx *c, const pl_params *p)
{
    return pl_encode_effort(p, 0, 9, c->out_format == PL_FMT_AVIF ? 2 : 4);
}

/* The HEIF/AVIF encode budget: fall back (format not asked) or refuse when over it. */
static int pl_encode_heif_budget(pl_ctx *c, const pl_params *p, int w, int h)
{
    if ((c->out_format != PL_FMT_HEIF && c->out_format != PL_FMT_AVIF) || c->lim == NULL || c->lim->max_heif_encode_ms == 0)
        return 0;
    int effort = pl_encode_heif_effort(c, p);
    double ms = pl_encode_heif_cost_ms(c->out_format, effort, (uint64_t)w * (uint64_t)h);
    if (ms <= c->lim->max_heif_encode_ms)
        return 0;
    if (!c->out_format_asked) {
        c->out_format = c->in_alpha ? PL_FMT_PNG : PL_FMT_JPEG;
        return 0;
    }
    return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS,
                        "Output image too large for %s: encoding %dx%d%s would take about %.1f s of CPU, over this server's "
                        "limit of %u ms (max-heif-encode-ms); ask for a smaller size%s or another type (jpeg, webp)",
                        pl_encode_name(c->out_format), w, h, c->out_format == PL_FMT_AVIF ? " at this effort" : "", ms / 1000.0,
                        (unsigned)c->lim->max_heif_encode_ms, c->out_format == PL_FMT_AVIF ? ", a lower effort" : "");
}

/* Metadata fields that a strip removes (frame timing, page-height … stay). */
static void *pl_encode_meta_collect(VipsImage *im, const char *name, GValue *value, void *user)
{
    GSList **names = user;
    (void)im;
    (void)value;
    if (strcmp(name, "exif-ifd0-Copyright") == 0)
        return NULL;
    if (g_str_has_prefix(name, "exif-") || g_str_has_prefix(name, "png-comment-") || g_str_has_prefix(name, "heif-") ||
        strcmp(name, VIPS_META_XMP_NAME) == 0 || strcmp(name, VIPS_META_IPTC_NAME) == 0 || strcmp(name, VIPS_META_ICC_NAME) == 0 ||
        strcmp(name, VIPS_META_ORIENTATION) == 0 || strcmp(name, VIPS_META_IMAGEDESCRIPTION) == 0 ||
        strcmp(name, "jpeg-thumbnail-data") == 0 || strcmp(name, "gif-comment") == 0)
        *names = g_slist_prepend(*names, g_strdup(name));
    return NULL;
}

/* The raw value of IFD0's Copyright (0x8298, ASCII: "photographer\0editor\0" or one string) in an
 * EXIF block ("Exif\0\0" + TIFF, as libvips keeps it). *val points into blob. 0, or -1 if absent. */
static int pl_encode_exif_copyright(const uint8_t *blob, size_t len, const uint8_t **val, uint32_t *n)
{
    if (len >= 6 && memcmp(blob, "Exif\0\0", 6) == 0)
        blob += 6, len -= 6;
    if (len < 8 || !((blob[0] == 'I' && blob[1] == 'I') || (blob[0] == 'M' && blob[1] == 'M')))
        return -1;
    bool le = blob[0] == 'I';
#define PL_U16(p) (le ? (uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 : (uint32_t)(p)[1] | (uint32_t)(p)[0] << 8)
#define PL_U32(p) (le ? PL_U16(p) | PL_U16((p) + 2) << 16 : PL_U16((p) + 2) | PL_U16(p) << 16)
    uint32_t ifd = PL_U32(blob + 4);
    if (ifd > len || len - ifd < 2)
        return -1;
    uint32_t count = PL_U16(blob + ifd);
    for (uint32_t i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + 12 * (size_t)i;
        if (e + 12 > len)
            return -1;
        if (PL_U16(blob + e) != 0x8298 || PL_U16(blob + e + 2) != 2)
            continue;
        uint32_t cnt = PL_U32(blob + e + 4);
        size_t off = cnt <= 4 ? e + 8 : PL_U32(blob + e + 8);
        if (cnt == 0 || off > len || len - off < cnt)
            return -1;
        *val = blob + off;
        *n = cnt;
        return 0;
    }
    return -1;
#undef PL_U32
#undef PL_U16
}

/* A minimal EXIF block: IFD0 with only Copyright (value: n raw bytes). g_malloc'd, *len set. */
static uint8_t *pl_encode_exif_minimal(const uint8_t *val, uint32_t n, size_t *len)
{
    /* "Exif\0\0", "II" 42, IFD0 at 8: 1 entry, next IFD 0; the value after it (offset 26) */
    static const uint8_t head[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x98, 0x82, 2, 0};
    *len = sizeof(head) + 4 + 4 + 4 + (n > 4 ? n : 0);
    uint8_t *b = g_malloc0(*len);
    memcpy(b, head, sizeof(head));
    uint8_t *p = b + sizeof(head);
    p[0] = n & 0xff, p[1] = (n >> 8) & 0xff, p[2] = (n >> 16) & 0xff, p[3] = (uint8_t)(n >> 24);
    if (n <= 4) {
        memcpy(p + 4, val, n);
    } else {
        uint32_t off = 8 + 2 + 12 + 4; /* from the TIFF header */
        p[4] = off & 0xff, p[5] = (off >> 8) & 0xff;
        memcpy(p + 12, val, n);
    }
    /* next-IFD offset (p + 8 .. p + 11) stays 0 */
    return b;
}

/* Strip, keeping only the EXIF copyright. libvips 8.14's strip has no "keep", and webpsave writes
 * an EXIF block even with strip: remove every metadata field here. With a copyright, the EXIF
 * block becomes one holding only the raw Copyright entry, and exif-ifd0-Copyright (libvips'
 * rendering of that same entry) stays, so libvips' EXIF writer keeps the raw bytes (re-creating
 * the tag from the rendering, "value (value (Photographer) - [None] (Editor), ASCII, …)", is what
 * corrupted it). *manual tells the caller to save without libvips' strip. */
static int pl_encode_strip_keep_copyright(pl_ctx *c, VipsImage *x, VipsImage **out, bool *manual)
{
    *out = x;
    *manual = false;
    const uint8_t *val = NULL;
    uint32_t n = 0;
    const void *blob = NULL;
    size_t blen = 0;
    bool keep = vips_image_get_typeof(x, "exif-ifd0-Copyright") && vips_image_get_typeof(x, VIPS_META_EXIF_NAME) &&
                vips_image_get_blob(x, VIPS_META_EXIF_NAME, &blob, &blen) == 0 &&
                pl_encode_exif_copyright(blob, blen, &val, &n) == 0;
    VipsImage **t = pl_ctx_slot(c);
    if (vips_copy(x, t, NULL))
        return pl_cancel_fail(c, PL_E_INTERNAL, "Cannot copy the image");
    uint8_t *mini = NULL;
    size_t mlen = 0;
    if (keep)
        mini = pl_encode_exif_minimal(val, n, &mlen); /* before the blob it points into goes */
    GSList *names = NULL;
    vips_image_map(*t, pl_encode_meta_collect, &names);
    for (GSList *p = names; p != NULL; p = p->next)
        vips_image_remove(*t, p->data);
    g_slist_free_full(names, g_free);
    if (keep) {
        vips_image_set_blob(*t, VIPS_META_EXIF_NAME, (VipsCallbackFn)vips_area_free_cb, mini, mlen);
        *manual = true;
    } else {
        vips_image_remove(*t, "exif-ifd0-Copyright");
    }
    *out = *t;
    return 0;
}

/* libvips 8.14's webpsave writes an EXIF chunk (resolution, and the input's orientation) even with
 * strip: drop EXIF chunks from the RIFF container in place and clear VP8X's EXIF flag. */
static void pl_encode_webp_drop_exif(uint8_t *buf, size_t *len)
{
    if (*len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WEBP", 4) != 0)
        return;
    size_t o = 12, w = 12;
    uint8_t *vp8x = NULL;
    while (o + 8 <= *len) {
        size_t n = (size_t)buf[o + 4] | (size_t)buf[o + 5] << 8 | (size_t)buf[o + 6] << 16 | (size_t)buf[o + 7] << 24;
        size_t total = 8 + n + (n & 1);
        if (total > *len - o)
            return; /* not what libwebp writes: leave it alone */
        if (memcmp(buf + o, "EXIF", 4) != 0) {
            memmove(buf + w, buf + o, total);
            if (memcmp(buf + w, "VP8X", 4) == 0 && n >= 1)
                vp8x = buf + w + 8;
            w += total;
        }
        o += total;
    }
    if (o != *len || w == *len)
        return;
    if (vp8x != NULL)
        vp8x[0] &= (uint8_t)~0x08u;
    uint32_t riff = (uint32_t)(w - 8);
    buf[4] = riff & 0xff, buf[5] = (riff >> 8) & 0xff, buf[6] = (riff >> 16) & 0xff, buf[7] = (uint8_t)(riff >> 24);
    *len = w;
}

/* What the format can carry: alpha flattened for JPEG, 8-bit except PNG/TIFF. */
static int pl_encode_prepare(pl_ctx *c, const pl_params *p, VipsImage *x, VipsImage **out)
{
    pl_format f = c->out_format;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 3);
    if (f == PL_FMT_JPEG && vips_image_hasalpha(x)) {
        if (pl_ops_flatten(c, x, pl_flatten_background(p), &x))
            return -1;
    }
    bool deep = x->BandFmt != VIPS_FORMAT_UCHAR;
    if (deep && !pl_format_get(f)->deep) {
        bool grey = x->Bands <= 2 && pl_format_get(f)->grey;
        if (vips_colourspace(x, &t[0], grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB, NULL) ||
            vips_cast_uchar(t[0], &t[1], NULL))
            return pl_cancel_fail(c, PL_E_OPERATION, "Cannot convert the image to 8-bit");
        x = t[1];
    }
    bool keep_profile = c->keep_profile && c->keep_meta;
    if (!keep_profile && vips_image_get_typeof(x, VIPS_META_ICC_NAME)) {
        if (vips_copy(x, &t[2], NULL))
            return pl_cancel_fail(c, PL_E_INTERNAL, "Cannot copy the image");
        vips_image_remove(t[2], VIPS_META_ICC_NAME);
        x = t[2];
    }
    *out = x;
    return 0;
}

static int pl_encode_materialise(pl_ctx *c, VipsImage **x)
{
    VipsImage **t = pl_ctx_slot(c);
    *t = vips_image_copy_memory(*x);
    if (*t == NULL)
        return pl_cancel_fail(c, PL_E_DECODE, "Cannot decode the image: its pixel data is damaged or truncated");
    *x = *t;
    return 0;
}

/* Whether pl_png_write.c can write everything pngsave would write for x: 8-bit, 1-4 bands, sRGB or
 * grey, not interlaced or palette, and, when metadata is kept, none that libpng writes but that
 * writer does not (EXIF, XMP, text comments; an ICC profile it writes). */
static void *pl_encode_png_meta_cb(VipsImage *im, const char *name, GValue *value, void *user)
{
    (void)im;
    (void)value;
    (void)user;
    if (g_str_has_prefix(name, "exif-") || g_str_has_prefix(name, "png-comment-") || strcmp(name, VIPS_META_XMP_NAME) == 0)
        return (void *)name;
    return NULL;
}

static bool pl_encode_png_fast_ok(const pl_params *p, VipsImage *x, gboolean strip)
{
    /* PL_NO_FAST_PNG_WRITE (IMGPIPE_NO_FAST_PNG_WRITE=1): libpng only (A/B measurements and tests) */
    bool u8 = x->BandFmt == VIPS_FORMAT_UCHAR && (x->Type == VIPS_INTERPRETATION_sRGB || x->Type == VIPS_INTERPRETATION_B_W);
    bool u16 = x->BandFmt == VIPS_FORMAT_USHORT && (x->Type == VIPS_INTERPRETATION_RGB16 || x->Type == VIPS_INTERPRETATION_GREY16);
    if (pl_engine_switched_off(PL_NO_FAST_PNG_WRITE) || p->palette || p->interlace || !(u8 || u16) ||
        x->Coding != VIPS_CODING_NONE || x->Bands < 1 || x->Bands > 4)
        return false;
    return strip || vips_image_map(x, pl_encode_png_meta_cb, NULL) == NULL;
}

/* The flat-image rule of pl_encode_png: small or well-compressed outputs are tried unfiltered too. */
static bool pl_encode_png_flat(uint64_t raw, size_t len)
{
    return len < raw / 4 || raw <= (256u << 10);
}

/* The libdeflate writer (pl_png_write.c) on the in-memory x: Paeth at libdeflate level 1, and for
 * flat images also unfiltered at level 8, the smaller kept. 0 = written, 1 = not handled. */
static int pl_encode_png_fast(VipsImage *x, uint64_t raw, gboolean strip, void **buf, size_t *len)
{
    pl_pngw_opts o = {PL_PNGW_FAST_LEVEL, PL_PNGW_PAETH, !strip};
    if (pl_png_write(x, &o, buf, len) != 0)
        return 1;
    if (!pl_encode_png_flat(raw, *len))
        return 0;
    void *b2 = NULL;
    size_t l2 = 0;
    o.level = PL_PNGW_FLAT_LEVEL;
    o.filter = PL_PNGW_NONE;
    if (pl_png_write(x, &o, &b2, &l2) == 0 && l2 < *len) {
        g_free(*buf);
        *buf = b2;
        *len = l2;
        return 0;
    }
    g_free(b2);
    return 0;
}

/* PNG without compression asked: 8- and 16-bit grey/RGB(A) images of at most 16 MB raw, not interlaced,
 * whose metadata pngsave would not extend (pl_encode_png_fast_ok) go to pl_png_write.c (libdeflate,
 * Paeth on every row, level 1): on the 512x512 RGBA photo of the png workload 7.3 CPU-ms and 512 KB
 * against libpng's 18.2 ms and 543 KB with the same filter at zlib level 1 (docs/performance.md;
 * IMGPIPE_NO_FAST_PNG_WRITE=1 turns it off). Flat graphics compress better unfiltered: when the
 * result is under a quarter of the raw size, or the image is under 256 KB raw, the unfiltered file
 * is made too (libdeflate level 8: smaller than zlib's level 6, libvips' default, where libdeflate's
 * own level 6 is not always) and the smaller kept.
 * Everything else goes to libpng: the Paeth row filter at zlib level 1 unless a level is asked
 * (then adaptive filters, libpng choosing per row, at exactly that zlib level); the same flat-image
 * rule with the unfiltered file at level 6 (unless asked), so the output is never larger than
 * libvips' default. Only above 16 MB raw (not kept in memory for a second pass) is this left to
 * the filter. Palette output (palette=true) keeps libvips' settings (no filter, as libpng advises). */
static int pl_encode_png(pl_ctx *c, const pl_params *p, VipsImage **x, int q, gboolean strip, void **buf, size_t *len)
{
    int effort = pl_encode_effort(p, 1, 10, 7);
    if (p->palette)
        return vips_pngsave_buffer(*x, buf, len, "compression", p->compression, "interlace", p->interlace, "palette", TRUE, "Q", q,
                                   "effort", effort, "strip", strip, NULL);
    bool asked = pl_params_has(p, PL_P_COMPRESSION);
    int level = asked ? p->compression : 1;
    VipsForeignPngFilter filter = asked ? VIPS_FOREIGN_PNG_FILTER_ALL : VIPS_FOREIGN_PNG_FILTER_PAETH;
    uint64_t raw = (uint64_t)VIPS_IMAGE_SIZEOF_LINE(*x) * (uint64_t)(*x)->Ysize;
    bool retry = raw <= (16u << 20);
    if (retry && pl_encode_materialise(c, x))
        return -1;
    if (retry && !asked && pl_encode_png_fast_ok(p, *x, strip) && pl_encode_png_fast(*x, raw, strip, buf, len) == 0)
        return 0;
    if (vips_pngsave_buffer(*x, buf, len, "compression", level, "filter", filter, "interlace", p->interlace, "strip", strip, NULL))
        return -1;
    if (!retry || !pl_encode_png_flat(raw, *len))
        return 0;
    void *b2 = NULL;
    size_t l2 = 0;
    if (vips_pngsave_buffer(*x, &b2, &l2, "compression", asked ? level : 6, "filter", VIPS_FOREIGN_PNG_FILTER_NONE, "interlace",
                            p->interlace, "strip", strip, NULL) == 0 &&
        l2 < *len) {
        g_free(*buf);
        *buf = b2;
        *len = l2;
        return 0;
    }
    g_free(b2); /* the first file stands; libvips' text of this try stays in its shared buffer */
    return 0;
}

/* The output-pixel limit and the format's largest side, on the prepared image (ph: page height). */
static int pl_encode_check_size(pl_ctx *c, const VipsImage *x, int ph)
{
    uint64_t px = (uint64_t)x->Xsize * (uint64_t)ph;
    if (c->lim != NULL && c->lim->max_output_pixels > 0 && px > c->lim->max_output_pixels)
        return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS, "Output image too large: %dx%d is over the limit of %.1f megapixels",
                            x->Xsize, ph, c->lim->max_output_pixels / 1e6);
    int max_side = pl_format_get(c->out_format)->max_side;
    if (max_side > 0 && (x->Xsize > max_side || ph > max_side))
        return pl_error_set(c->err, PL_E_TOO_MANY_PIXELS,
                            "Output image too large for %s: %dx%d, the format allows up to %d pixels per side",
                            pl_encode_name(c->out_format), x->Xsize, ph, max_side);
    return 0;
}

/* Baseline JPEG of an 8-bit sRGB or grey image of at most 16 MB (raw; images not in memory are
 * materialised first, as for PNG) goes to pl_jpeg_write.c: jpegsave's bytes, metadata included,
 * without its write thread and sink (800x600 at Q 80: 1.77 -> 1.06 ms; IMGPIPE_NO_FAST_JPEG_WRITE=1
 * turns it off). */
static bool pl_encode_jpeg_fast_ok(const pl_params *p, const VipsImage *x)
{
    return !p->interlace && pl_jpeg_write_ok(x) && !pl_engine_switched_off(PL_NO_FAST_JPEG_WRITE) &&
           (uint64_t)VIPS_IMAGE_SIZEOF_LINE(x) * (uint64_t)x->Ysize <= (16u << 20);
}

static int pl_encode_jpeg_failed(pl_ctx *c)
{
    pl_error_set(c->err, PL_E_INTERNAL, "Cannot encode the image as JPEG: out of memory");
    return -2;
}

/* The saver of c->out_format over *x into buf/len: 0; -1 when the saver failed (the caller
 * reports it); -2 with c->err already filled (pixels not decoded, cancelled, no saver). */
static int pl_encode_save(pl_ctx *c, const pl_params *p, VipsImage **x, gboolean strip, void **buf, size_t *len)
{
    int q = p->quality > 0 ? p->quality : 75;
    int r;
    switch (c->out_format) {
    case PL_FMT_JPEG:
        if (pl_encode_jpeg_fast_ok(p, *x)) {
            if (pl_encode_materialise(c, x))
                return -2;
            if ((r = pl_jpeg_write(c, *x, q, !strip, buf, len)) != 1)
                return r == -1 ? pl_encode_jpeg_failed(c) : r;
        }
        return vips_jpegsave_buffer(*x, buf, len, "Q", q, "interlace", p->interlace, "optimize_coding", p->interlace, "strip",
                                    strip, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_AUTO, NULL);
    case PL_FMT_PNG:
        return pl_encode_png(c, p, x, q, strip, buf, len);
    case PL_FMT_WEBP:
        /* libvips 8.14 leaks libwebp's animation encoder (~1.2 MB) when the pixels fail to
         * decode in the middle of webpsave (found by tests/fuzz/fuzz_engine.c): decode first,
         * into memory the encoder would need anyway, and encode only pixels that exist. */
        if (pl_encode_materialise(c, x))
            return -2;
        r = vips_webpsave_buffer(*x, buf, len, "Q", q, "lossless", p->lossless, "effort", pl_encode_effort(p, 0, 6, 4), "strip",
                                 strip, NULL);
        if (r == 0 && strip)
            pl_encode_webp_drop_exif(*buf, len);
        return r;
    case PL_FMT_AVIF:
    case PL_FMT_HEIF:
        /* pixels first (stoppable), then the deadline, then the encoder (not stoppable) */
        if (pl_encode_materialise(c, x) || pl_cancel_check(c))
            return -2;
        r = vips_heifsave_buffer(*x, buf, len, "Q", q, "lossless", p->lossless, "compression",
                                 c->out_format == PL_FMT_AVIF ? VIPS_FOREIGN_HEIF_COMPRESSION_AV1
                                                              : VIPS_FOREIGN_HEIF_COMPRESSION_HEVC,
                                 "effort", pl_encode_heif_effort(c, p), "strip", strip, NULL);
        pl_engine_trim(); /* the encoders' buffers; pl_run trims again after HEIF/AVIF inputs */
        return r;
    case PL_FMT_GIF:
        return vips_gifsave_buffer(*x, buf, len, "effort", pl_encode_effort(p, 1, 10, 7), "strip", strip, NULL);
    case PL_FMT_TIFF:
        return vips_tiffsave_buffer(*x, buf, len, "compression", VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE, "predictor",
                                    VIPS_FOREIGN_TIFF_PREDICTOR_HORIZONTAL, "strip", strip, NULL);
    default:
        pl_error_set(c->err, PL_E_UNSUPPORTED_OUTPUT, "Unsupported image output type: %s", pl_encode_name(c->out_format));
        return -2;
    }
}

int pl_encode_image(pl_ctx *c, VipsImage *img, pl_result *out)
{
    const pl_params *p = pl_encode_params(c);
    VipsImage *x = img;
    if (pl_encode_heif_budget(c, p, img->Xsize, vips_image_get_page_height(img)) || pl_encode_prepare(c, p, img, &x))
        return -1;
    int ph = vips_image_get_page_height(x);
    if (pl_encode_check_size(c, x, ph))
        return -1;
    gboolean strip = !c->keep_meta;
    bool manual = false;
    if (strip && c->out_format != PL_FMT_GIF && pl_encode_strip_keep_copyright(c, x, &x, &manual))
        return -1;
    if (manual)
        strip = FALSE;
    void *buf = NULL;
    size_t len = 0;
    int r = pl_encode_save(c, p, &x, strip, &buf, &len);
    if (r == -2)
        return -1;
    if (r != 0) {
        g_free(buf);
        return pl_cancel_fail(c, PL_E_DECODE, "Cannot decode the image: its pixel data is damaged or truncated");
    }
    out->data = buf;
    out->len = len;
    out->format = c->out_format;
    out->mime = pl_encode_mime(c->out_format);
    out->width = x->Xsize;
    out->height = ph;
    out->frames_in = c->in_pages > 1 ? c->in_pages : 1;
    out->frames_out = ph > 0 && x->Ysize / ph > 1 ? x->Ysize / ph : 1;
    return 0;
}
