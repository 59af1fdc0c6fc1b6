/*
 * pl_params: the bottom of the option grammar (pl_params.h): the operation and parameter tables
 * and the setters that parse one value into a pl_params, with imaginary's names and parse rules
 * and imgpipe's rule on top: no silent clamping. A value that does not parse or is out of range
 * is PL_E_PARAM with a message naming the parameter, the value and what is allowed. The
 * decisions (ranges, empty values, unknown names …) are listed in docs/imaginary-compat.md,
 * "Parameters and grammar". The "allowed" texts of the word parameters (type, gravity, extend,
 * fit, colorspace, the booleans) are made from the word tables themselves, once, when the
 * program loads (pl_params_allowed_init), so a message never lists a word the parser refuses.
 *
 * Threads: pure functions over caller-owned memory; the tables are const once the program has
 * started (the "allowed" buffers are written before main() runs, read only after).
 */
#include "pl_params.h"

#include <glib.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- operations ---- */

static const struct {
    const char *name;
    bool imaginary;
} pl_op_table[PL_OP__COUNT] = {
#define PL_X(id, name, imag, pipe) [id] = {name, imag},
    PL_OPS(PL_X)
#undef PL_X
};

int pl_op_from_name(const char *name, size_t len)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < PL_OP__COUNT; i++)
        if (strlen(pl_op_table[i].name) == len && memcmp(pl_op_table[i].name, name, len) == 0)
            return i;
    return -1;
}

const char *pl_op_name(pl_op op)
{
    return (unsigned)op < PL_OP__COUNT ? pl_op_table[op].name : NULL;
}

bool pl_op_is_imaginary(pl_op op)
{
    return (unsigned)op < PL_OP__COUNT && pl_op_table[op].imaginary;
}

const char *pl_grammar_op_list(const char *(*name_of)(pl_op op), char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < PL_OP__COUNT; i++)
        if (name_of((pl_op)i) != NULL)
            o = pl_grammar_list_add(out, size, o, name_of((pl_op)i));
    return out;
}

/* ---- the parameter table ---- */

#define PL_OFFSET_MAX 1000000 /* offsets and areas in input pixels */

_Static_assert(PL_P__COUNT <= 64, "pl_params.set and the first-occurrence mask hold one bit per parameter");

/* Where each number and boolean lives in pl_params, and the inclusive bounds of the numbers. */
#define PL_SLOT(field, lo, hi)                                                                                                     \
    {                                                                                                                              \
        offsetof(pl_params, field), lo, hi                                                                                         \
    }
static const struct {
    size_t off;
    double min, max;
} pl_slots[PL_P__COUNT] = {
    [PL_P_WIDTH] = PL_SLOT(width, 0, PL_DIM_MAX),
    [PL_P_HEIGHT] = PL_SLOT(height, 0, PL_DIM_MAX),
    [PL_P_TOP] = PL_SLOT(top, 0, PL_OFFSET_MAX),
    [PL_P_LEFT] = PL_SLOT(left, 0, PL_OFFSET_MAX),
    [PL_P_AREAWIDTH] = PL_SLOT(areawidth, 0, PL_OFFSET_MAX),
    [PL_P_AREAHEIGHT] = PL_SLOT(areaheight, 0, PL_OFFSET_MAX),
    [PL_P_QUALITY] = PL_SLOT(quality, 0, 100),
    [PL_P_COMPRESSION] = PL_SLOT(compression, 0, 9),
    [PL_P_ROTATE] = PL_SLOT(rotate, -1000000, 1000000),
    [PL_P_FACTOR] = PL_SLOT(factor, 1, 100),
    [PL_P_MARGIN] = PL_SLOT(margin, 0, PL_DIM_MAX),
    [PL_P_DPI] = PL_SLOT(dpi, 1, 2400),
    [PL_P_TEXTWIDTH] = PL_SLOT(textwidth, 0, PL_DIM_MAX),
    [PL_P_SPEED] = PL_SLOT(speed, 0, 9),
    [PL_P_EFFORT] = PL_SLOT(effort, 0, 10),
    [PL_P_FRAMES] = PL_SLOT(frames, 0, 10000),
    [PL_P_OPACITY] = PL_SLOT(opacity, 0, 1),
    [PL_P_SIGMA] = PL_SLOT(sigma, 0, 100),
    [PL_P_MINAMPL] = PL_SLOT(minampl, 0, 1),
    [PL_P_DPR] = PL_SLOT(dpr, 1, 5),
    [PL_P_TRIM] = PL_SLOT(trim, 0, 255),
    [PL_P_SHARPEN] = PL_SLOT(sharpen, 0, 10),
    [PL_P_FLIP] = PL_SLOT(flip, 0, 1),
    [PL_P_FLOP] = PL_SLOT(flop, 0, 1),
    [PL_P_FORCE] = PL_SLOT(force, 0, 1),
    [PL_P_EMBED] = PL_SLOT(embed, 0, 1),
    [PL_P_NOCROP] = PL_SLOT(nocrop, 0, 1),
    [PL_P_NOREPLICATE] = PL_SLOT(noreplicate, 0, 1),
    [PL_P_NOROTATION] = PL_SLOT(norotation, 0, 1),
    [PL_P_NOPROFILE] = PL_SLOT(noprofile, 0, 1),
    [PL_P_STRIPMETA] = PL_SLOT(stripmeta, 0, 1),
    [PL_P_INTERLACE] = PL_SLOT(interlace, 0, 1),
    [PL_P_PALETTE] = PL_SLOT(palette, 0, 1),
    [PL_P_GRAYSCALE] = PL_SLOT(grayscale, 0, 1),
    [PL_P_LOSSLESS] = PL_SLOT(lossless, 0, 1),
    [PL_P_STRIP] = PL_SLOT(strip, 0, 1),
    [PL_P_ENLARGE] = PL_SLOT(enlarge, 0, 1),
};

/* Longest accepted string values (bytes, after decoding). */
#define PL_IMAGE_MAX 2048
#define PL_SIGN_MAX 256
#define PL_COLOR_ALLOWED "R,G,B or R,G,B,A with each part an integer from 0 to 255"

/* The word parameters' "allowed" texts, made from their tables by pl_params_allowed_init. */
static char pl_type_allowed[96], pl_gravity_allowed[160], pl_extend_allowed[96], pl_fit_allowed[80], pl_space_allowed[32],
    pl_bool_allowed[192];
#define PL_TYPE_ALLOWED pl_type_allowed
#define PL_GRAVITY_ALLOWED pl_gravity_allowed
#define PL_EXTEND_ALLOWED pl_extend_allowed
#define PL_FIT_ALLOWED pl_fit_allowed
#define PL_BOOL_ALLOWED pl_bool_allowed

static const pl_param_def pl_params_table[PL_P__COUNT] = {
    {PL_P_WIDTH, "width", "w", PL_K_INT, "an integer from 0 to 16383", "output width in pixels (0 = not set)"},
    {PL_P_HEIGHT, "height", "h", PL_K_INT, "an integer from 0 to 16383", "output height in pixels (0 = not set)"},
    {PL_P_TOP, "top", NULL, PL_K_INT, "an integer from 0 to 1000000", "top edge of the area (extract, zoom, watermarkimage)"},
    {PL_P_LEFT, "left", NULL, PL_K_INT, "an integer from 0 to 1000000", "left edge of the area (extract, zoom, watermarkimage)"},
    {PL_P_AREAWIDTH, "areawidth", NULL, PL_K_INT, "an integer from 0 to 1000000", "width of the area to extract"},
    {PL_P_AREAHEIGHT, "areaheight", NULL, PL_K_INT, "an integer from 0 to 1000000", "height of the area to extract"},
    {PL_P_QUALITY, "quality", "q", PL_K_INT, "an integer from 1 to 100 (0 = default 75)", "JPEG/WebP/AVIF/HEIF quality"},
    {PL_P_COMPRESSION, "compression", NULL, PL_K_INT, "an integer from 0 to 9", "PNG zlib compression level (default 6)"},
    {PL_P_ROTATE, "rotate", NULL, PL_K_INT, "an integer from -1000000 to 1000000 (degrees)",
     "rotation angle: imaginary's routes round it down to a multiple of 90; transform turns by any angle clockwise "
     "(negative: counter-clockwise), the corners filled with background"},
    {PL_P_FACTOR, "factor", NULL, PL_K_INT, "an integer from 1 to 100", "zoom factor: each side grows factor+1 times"},
    {PL_P_MARGIN, "margin", NULL, PL_K_INT, "an integer from 0 to 16383",
     "watermark distance from the edges gravity names (text: the space around it, default textwidth; image: default 0)"},
    {PL_P_DPI, "dpi", NULL, PL_K_INT, "an integer from 1 to 2400", "text watermark resolution (default 150)"},
    {PL_P_TEXTWIDTH, "textwidth", NULL, PL_K_INT, "an integer from 0 to 16383", "text watermark width (0 = image width / 6)"},
    {PL_P_SPEED, "speed", NULL, PL_K_INT, "an integer from 0 to 9", "AVIF/HEIF encoder speed"},
    {PL_P_OPACITY, "opacity", NULL, PL_K_FLOAT, "a number from 0 to 1", "watermark opacity (default 0.25 text, 1 image)"},
    {PL_P_SIGMA, "sigma", NULL, PL_K_FLOAT, "a number from 0 to 100", "gaussian blur sigma"},
    {PL_P_MINAMPL, "minampl", NULL, PL_K_FLOAT, "a number from 0 to 1", "gaussian blur minimum amplitude"},
    {PL_P_FLIP, "flip", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "mirror left-right (imaginary's naming)"},
    {PL_P_FLOP, "flop", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "mirror top-bottom (imaginary's naming)"},
    {PL_P_FORCE, "force", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "force exactly width x height, ignoring the aspect ratio"},
    {PL_P_EMBED, "embed", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "embed the resized image in width x height using extend"},
    {PL_P_NOCROP, "nocrop", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "do not crop (its mere presence matters on /resize)"},
    {PL_P_NOREPLICATE, "noreplicate", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "text watermark once instead of tiled"},
    {PL_P_NOROTATION, "norotation", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "do not auto-rotate from EXIF orientation"},
    {PL_P_NOPROFILE, "noprofile", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "drop the ICC profile"},
    {PL_P_STRIPMETA, "stripmeta", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "strip metadata"},
    {PL_P_INTERLACE, "interlace", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "progressive JPEG / interlaced PNG"},
    {PL_P_PALETTE, "palette", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "quantised (palette) PNG"},
    {PL_P_TEXT, "text", NULL, PL_K_STRING, "UTF-8 text of at most 255 bytes", "text watermark content"},
    {PL_P_FONT, "font", NULL, PL_K_STRING, "a UTF-8 Pango font description of at most 127 bytes, e.g. \"sans 10\"",
     "text watermark font (default \"sans 10\")"},
    {PL_P_COLOR, "color", NULL, PL_K_COLOR, PL_COLOR_ALLOWED, "text watermark colour (default black)"},
    {PL_P_BACKGROUND, "background", "bg", PL_K_COLOR, PL_COLOR_ALLOWED,
     "background for extend=background, alpha flattening and transform's rotation corners"},
    {PL_P_TYPE, "type", NULL, PL_K_ENUM, PL_TYPE_ALLOWED, "output format (default: the input's; auto = from Accept)"},
    {PL_P_GRAVITY, "gravity", NULL, PL_K_ENUM, PL_GRAVITY_ALLOWED,
     "crop anchor (default centre); on watermarks the side or corner to place them at (default top-left; compass or centre)"},
    {PL_P_COLORSPACE, "colorspace", NULL, PL_K_ENUM, pl_space_allowed, "output colour space (default srgb)"},
    {PL_P_EXTEND, "extend", NULL, PL_K_ENUM, PL_EXTEND_ALLOWED, "how to fill padding (default copy, as imaginary)"},
    {PL_P_ASPECTRATIO, "aspectratio", NULL, PL_K_RATIO, "W:H with W and H integers from 1 to 10000",
     "derive the missing side when only one of width/height is given"},
    {PL_P_OPERATIONS, "operations", NULL, PL_K_JSON,
     "a JSON array of 1 to 10 {\"operation\", \"ignore_failure\", \"params\"} objects", "the steps of /pipeline"},
    {PL_P_FIT, "fit", NULL, PL_K_ENUM, PL_FIT_ALLOWED, "transform: how width x height is filled (default inside)"},
    {PL_P_DPR, "dpr", NULL, PL_K_FLOAT, "a number from 1 to 5", "transform: device pixel ratio multiplying width and height"},
    {PL_P_TRIM, "trim", NULL, PL_K_FLOAT, "a number from 0 to 255", "transform: trim edges within this threshold (0 = off)"},
    {PL_P_SHARPEN, "sharpen", NULL, PL_K_FLOAT, "a number from 0 to 10", "transform: sharpen sigma (0 = off)"},
    {PL_P_GRAYSCALE, "grayscale", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "transform: convert to grey"},
    {PL_P_LOSSLESS, "lossless", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "transform: lossless WebP/AVIF"},
    {PL_P_EFFORT, "effort", NULL, PL_K_INT, "an integer: webp 0 to 6, avif/heif 0 to 9, gif and palette png 1 to 10",
     "transform: encoder effort (default: encoder's); refused for jpeg, tiff and non-palette png"},
    {PL_P_STRIP, "strip", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "transform: strip metadata except copyright (default true)"},
    {PL_P_FRAMES, "frames", NULL, PL_K_INT, "an integer from 0 to 10000", "transform: keep at most this many frames (0 = all)"},
    {PL_P_ENLARGE, "enlarge", NULL, PL_K_BOOL, PL_BOOL_ALLOWED, "transform: allow upscaling"},
    {PL_P_FIELD, "field", NULL, PL_K_STRING, "a name of at most 63 bytes", "multipart part holding the image (default file)"},
    {PL_P_KEY, "key", NULL, PL_K_STRING, "at most 255 bytes", "API key (service)"},
    {PL_P_SIGN, "sign", NULL, PL_K_STRING, "at most 255 bytes", "URL signature (service)"},
    {PL_P_EXPIRES, "expires", NULL, PL_K_STRING, "at most 255 bytes",
     "URL signature expiry, UNIX seconds (service; checked with sign)"},
    {PL_P_IMAGE, "image", NULL, PL_K_STRING, "at most 2047 bytes", "watermark image URL (imaginary; imgpipe takes a part)"},
};

const pl_param_def *pl_param_table(size_t *count)
{
    if (count != NULL)
        *count = PL_P__COUNT;
    return pl_params_table;
}

/* Parameters imaginary knows (accepted on its routes); the rest are transform's own. */
static bool pl_param_is_imaginary(pl_param_id id)
{
    return id <= PL_P_OPERATIONS || id >= PL_P_FIELD;
}

const pl_param_def *pl_grammar_lookup(pl_op op, const char *name, size_t len)
{
    bool native = !pl_op_is_imaginary(op);
    for (int i = 0; i < PL_P__COUNT; i++) {
        const pl_param_def *d = &pl_params_table[i];
        if (!native && !pl_param_is_imaginary(d->id))
            continue;
        if (strlen(d->name) == len && memcmp(d->name, name, len) == 0)
            return d;
        if (native && d->alias != NULL && strlen(d->alias) == len && memcmp(d->alias, name, len) == 0)
            return d;
    }
    return NULL;
}

/* ---- defaults ---- */

void pl_params_defaults(pl_params *p, pl_op op)
{
    memset(p, 0, sizeof(*p));
    p->quality = 75;
    p->compression = 6;
    p->dpi = 150;
    p->opacity = op == PL_OP_WATERMARKIMAGE ? 1.0 : 0.25;
    snprintf(p->font, sizeof(p->font), "%s", "sans 10");
    p->color = (pl_color){0, 0, 0, 255};
    p->background = (pl_color){0, 0, 0, 255};
    p->type = PL_FMT_UNKNOWN;
    p->gravity = PL_GRAVITY_CENTRE;
    p->colorspace = PL_SPACE_SRGB;
    p->extend = PL_EXTEND_COPY;
    p->dpr = 1.0;
    p->effort = -1;
    if (op == PL_OP_TRANSFORM) {
        p->fit = PL_FIT_INSIDE;
        p->strip = true;
    } else {
        p->fit = PL_FIT_NONE;
        p->strip = false;
    }
}

/* ---- messages ---- */

void pl_grammar_quote(const char *s, size_t len, char *out, size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[5];
        size_t n;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\', tmp[1] = (char)c, n = 2;
        } else if (c >= 0x20 && c < 0x7f) {
            tmp[0] = (char)c, n = 1;
        } else {
            tmp[0] = '\\', tmp[1] = 'x', tmp[2] = hex[c >> 4], tmp[3] = hex[c & 15], n = 4;
        }
        if (o + n + 4 >= out_size) { /* room for "..." and NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
}

/* The one shape of a bad-value message. Imaginary routes keep imaginary's prefix (the service
 * adds nothing); transform says it plainly. `what` is e.g. "expected an integer from 0 to 16383". */
static int pl_grammar_failf(const pl_grammar_ctx *ctx, pl_error *err, const char *name, const char *val, size_t len,
                            const char *what)
{
    char q[80], where[64] = "";
    pl_grammar_quote(val, len, q, sizeof(q));
    if (ctx->step >= 0)
        snprintf(where, sizeof(where), " (pipeline operation %d, \"%s\")", ctx->step + 1, pl_op_name(ctx->op));
    if (pl_op_is_imaginary(ctx->op))
        return pl_error_set(err, PL_E_PARAM,
                            "Error while processing parameters, error while processing parameter \"%s\" with value \"%s\", "
                            "error: %s%s",
                            name, q, what, where);
    return pl_error_set(err, PL_E_PARAM, "invalid value \"%s\" for parameter \"%s\": %s%s", q, name, what, where);
}

static int pl_grammar_bad(const pl_grammar_ctx *ctx, pl_error *err, const pl_param_def *def, const char *val, size_t len)
{
    char what[200];
    snprintf(what, sizeof(what), "expected %s", def->allowed);
    return pl_grammar_failf(ctx, err, def->name, val, len, what);
}

int pl_grammar_type_error(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *shown, pl_error *err)
{
    char what[220];
    snprintf(what, sizeof(what), "wrong JSON type, expected %s%s",
             def->kind == PL_K_INT || def->kind == PL_K_FLOAT ? "" : "a string: ", def->allowed);
    return pl_grammar_failf(ctx, err, def->name, shown, strlen(shown), what);
}

/* ---- setters ---- */

/* The kind checks keep the casts below honest: PL_K_INT slots are int, PL_K_FLOAT double,
 * PL_K_BOOL bool (pl_params' field types). */
static int pl_set_int(const pl_grammar_ctx *ctx, const pl_param_def *def, double v, const char *shown, size_t shown_len,
                      pl_params *p, pl_error *err)
{
    double r = floor(v + 0.5); /* imaginary: round half up */
    if (def->kind != PL_K_INT)
        return pl_error_set(err, PL_E_INTERNAL, "parameter \"%s\" is not an integer parameter", def->name);
    if (!(r >= pl_slots[def->id].min && r <= pl_slots[def->id].max))
        return pl_grammar_bad(ctx, err, def, shown, shown_len);
    *(int *)((char *)p + pl_slots[def->id].off) = (int)r;
    p->set |= 1ull << def->id;
    return 0;
}

static int pl_set_float(const pl_grammar_ctx *ctx, const pl_param_def *def, double v, const char *shown, size_t shown_len,
                        pl_params *p, pl_error *err)
{
    if (def->kind != PL_K_FLOAT)
        return pl_error_set(err, PL_E_INTERNAL, "parameter \"%s\" is not a number parameter", def->name);
    if (!(v >= pl_slots[def->id].min && v <= pl_slots[def->id].max))
        return pl_grammar_bad(ctx, err, def, shown, shown_len);
    *(double *)((char *)p + pl_slots[def->id].off) = v;
    p->set |= 1ull << def->id;
    return 0;
}

int pl_grammar_set_bool(const pl_grammar_ctx *ctx, const pl_param_def *def, bool v, pl_params *p, pl_error *err)
{
    (void)ctx;
    if (def->kind != PL_K_BOOL)
        return pl_error_set(err, PL_E_INTERNAL, "parameter \"%s\" is not a boolean parameter", def->name);
    *(bool *)((char *)p + pl_slots[def->id].off) = v;
    p->set |= 1ull << def->id;
    return 0;
}

int pl_grammar_set_number(const pl_grammar_ctx *ctx, const pl_param_def *def, double v, bool is_integer, const char *shown,
                          pl_params *p, pl_error *err)
{
    if (def->kind == PL_K_INT) {
        if (!is_integer && v != floor(v))
            return pl_grammar_bad(ctx, err, def, shown, strlen(shown));
        return pl_set_int(ctx, def, v, shown, strlen(shown), p, err);
    }
    if (def->kind == PL_K_FLOAT)
        return pl_set_float(ctx, def, v, shown, strlen(shown), p, err);
    return pl_grammar_type_error(ctx, def, shown, err);
}

static const pl_word pl_gravity_words[] = {
    {"centre", PL_GRAVITY_CENTRE},       {"center", PL_GRAVITY_CENTRE},       {"north", PL_GRAVITY_NORTH},
    {"northeast", PL_GRAVITY_NORTHEAST}, {"east", PL_GRAVITY_EAST},           {"southeast", PL_GRAVITY_SOUTHEAST},
    {"south", PL_GRAVITY_SOUTH},         {"southwest", PL_GRAVITY_SOUTHWEST}, {"west", PL_GRAVITY_WEST},
    {"northwest", PL_GRAVITY_NORTHWEST}, {"smart", PL_GRAVITY_SMART},         {"entropy", PL_GRAVITY_ENTROPY},
    {"attention", PL_GRAVITY_ATTENTION},
};

static const pl_word pl_extend_words[] = {
    {"copy", PL_EXTEND_COPY},     {"black", PL_EXTEND_BLACK},           {"white", PL_EXTEND_WHITE},
    {"mirror", PL_EXTEND_MIRROR}, {"background", PL_EXTEND_BACKGROUND}, {"lastpixel", PL_EXTEND_LASTPIXEL},
};

static const pl_word pl_fit_words[] = {
    {"contain", PL_FIT_CONTAIN}, {"cover", PL_FIT_COVER},     {"fill", PL_FIT_FILL},
    {"inside", PL_FIT_INSIDE},   {"outside", PL_FIT_OUTSIDE},
};

static const pl_word pl_space_words[] = {{"srgb", PL_SPACE_SRGB}, {"bw", PL_SPACE_BW}};

/* The word parameters but type (whose words are the format table's): words and "allowed" text. */
#define PL_ENUM(id, words, allowed)                                                                                                \
    {                                                                                                                              \
        id, words, G_N_ELEMENTS(words), allowed, sizeof(allowed)                                                                   \
    }
static const struct {
    pl_param_id id;
    const pl_word *words;
    size_t n;
    char *allowed;
    size_t allowed_size;
} pl_enums[] = {
    PL_ENUM(PL_P_GRAVITY, pl_gravity_words, pl_gravity_allowed),
    PL_ENUM(PL_P_EXTEND, pl_extend_words, pl_extend_allowed),
    PL_ENUM(PL_P_FIT, pl_fit_words, pl_fit_allowed),
    PL_ENUM(PL_P_COLORSPACE, pl_space_words, pl_space_allowed),
};

static bool pl_format_is_type(const pl_format_info *fi)
{
    return fi->type_param;
}

/* "one of a, b, c" and the boolean text from the tables, once, before main() (GCC and Clang run
 * constructors of a linked object at load): every "allowed" pointer is then a finished string. */
__attribute__((constructor)) static void pl_params_allowed_init(void)
{
    char list[160];
    snprintf(pl_type_allowed, sizeof(pl_type_allowed), "one of %s", pl_format_list(pl_format_is_type, list, sizeof(list)));
    for (size_t e = 0; e < G_N_ELEMENTS(pl_enums); e++) {
        size_t o = 0;
        for (size_t i = 0; i < pl_enums[e].n; i++)
            o = pl_grammar_list_add(list, sizeof(list), o, pl_enums[e].words[i].word);
        snprintf(pl_enums[e].allowed, pl_enums[e].allowed_size, "one of %s", list);
    }
    snprintf(pl_bool_allowed, sizeof(pl_bool_allowed), "a boolean: %s (empty = false)", pl_grammar_bool_words(list, sizeof(list)));
}

static int pl_set_text(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *val, size_t len, char *dst, size_t dst_size,
                       pl_params *p, pl_error *err)
{
    if (len >= dst_size || !g_utf8_validate_len(val, len, NULL))
        return pl_grammar_bad(ctx, err, def, val, len);
    if (dst != NULL) {
        memcpy(dst, val, len);
        dst[len] = '\0';
    }
    p->set |= 1ull << def->id;
    return 0;
}

/* PL_K_STRING: each parameter's buffer and bound (key, sign and expires are checked, not kept). */
static int pl_set_string_param(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *val, size_t len, pl_params *p,
                               pl_error *err)
{
    switch (def->id) {
    case PL_P_TEXT:
        return pl_set_text(ctx, def, val, len, p->text, sizeof(p->text), p, err);
    case PL_P_FONT:
        return pl_set_text(ctx, def, val, len, p->font, sizeof(p->font), p, err);
    case PL_P_FIELD:
        return pl_set_text(ctx, def, val, len, p->field, sizeof(p->field), p, err);
    case PL_P_IMAGE:
        return pl_set_text(ctx, def, val, len, NULL, PL_IMAGE_MAX, p, err);
    default:
        return pl_set_text(ctx, def, val, len, NULL, PL_SIGN_MAX, p, err);
    }
}

/* type: the format table's words; imaginary's routes answer with imaginary's prefix. */
static int pl_set_type(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *val, size_t len, pl_params *p, pl_error *err)
{
    int v = pl_format_from_type(val, len);
    if (v >= 0) {
        p->type = (pl_format)v;
        return 0;
    }
    if (!pl_op_is_imaginary(ctx->op))
        return pl_grammar_bad(ctx, err, def, val, len);
    char q[80];
    pl_grammar_quote(val, len, q, sizeof(q));
    return pl_error_set(err, PL_E_PARAM,
                        "Unsupported output image format: invalid value \"%s\" for parameter \"type\": expected %s", q,
                        def->allowed);
}

/* PL_K_ENUM: type, or one of pl_enums' word lists. */
static int pl_set_word(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *val, size_t len, pl_params *p, pl_error *err)
{
    if (def->id == PL_P_TYPE)
        return pl_set_type(ctx, def, val, len, p, err);
    for (size_t e = 0; e < G_N_ELEMENTS(pl_enums); e++) {
        int v;
        if (pl_enums[e].id != def->id)
            continue;
        if (pl_grammar_parse_word(pl_enums[e].words, pl_enums[e].n, val, len, &v) != 0)
            return pl_grammar_bad(ctx, err, def, val, len);
        if (def->id == PL_P_GRAVITY)
            p->gravity = (pl_gravity)v;
        else if (def->id == PL_P_EXTEND)
            p->extend = (pl_extend)v;
        else if (def->id == PL_P_FIT)
            p->fit = (pl_fit)v;
        else
            p->colorspace = (pl_colorspace)v;
        return 0;
    }
    return pl_error_set(err, PL_E_INTERNAL, "parameter \"%s\" has no word list", def->name);
}

/* PL_K_COLOR: color or background. */
static int pl_set_color(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *val, size_t len, pl_params *p,
                        pl_error *err)
{
    pl_color c;
    if (pl_grammar_parse_color(val, len, &c) != 0)
        return pl_grammar_bad(ctx, err, def, val, len);
    if (def->id == PL_P_COLOR)
        p->color = c;
    else
        p->background = c;
    return 0;
}

int pl_grammar_set_string(const pl_grammar_ctx *ctx, const pl_param_def *def, const char *val, size_t len, pl_params *p,
                          pl_error *err)
{
    if (memchr(val, '\0', len) != NULL)
        return pl_grammar_failf(ctx, err, def->name, val, len, "the value contains a NUL byte");
    if (len == 0 && def->kind != PL_K_BOOL)
        return 0; /* empty = not given (imaginary: "" is 0 / no colour / default) */
    double d;
    bool b;
    int r = 0;
    switch (def->kind) {
    case PL_K_INT:
    case PL_K_FLOAT:
        if (pl_grammar_parse_number(val, len, &d) != 0)
            return pl_grammar_bad(ctx, err, def, val, len);
        return def->kind == PL_K_INT ? pl_set_int(ctx, def, d, val, len, p, err) : pl_set_float(ctx, def, d, val, len, p, err);
    case PL_K_BOOL:
        if (pl_grammar_parse_bool(val, len, &b) != 0)
            return pl_grammar_bad(ctx, err, def, val, len);
        return pl_grammar_set_bool(ctx, def, b, p, err);
    case PL_K_STRING:
        return pl_set_string_param(ctx, def, val, len, p, err);
    case PL_K_COLOR:
        r = pl_set_color(ctx, def, val, len, p, err);
        break;
    case PL_K_ENUM:
        r = pl_set_word(ctx, def, val, len, p, err);
        break;
    case PL_K_RATIO:
        if (pl_grammar_parse_ratio(val, len, &p->aspect_w, &p->aspect_h) != 0)
            return pl_grammar_bad(ctx, err, def, val, len);
        break;
    case PL_K_JSON:
        /* Parsed by pl_plan_parse for /pipeline (pl_pipeline_json.c); just marked here. */
        break;
    }
    if (r == 0)
        p->set |= 1ull << def->id;
    return r;
}

int pl_grammar_escape_error(const qs_query *query, const qs_pair *pair, pl_error *err)
{
    char q[16];
    pl_grammar_quote(query->raw + pair->bad_off, pair->bad_len, q, sizeof(q));
    return pl_error_set(err, PL_E_PARAM, "invalid URL escape \"%s\" in the query: write %% as %%25", q);
}
