/*
 * pl_options: the one option grammar shared by HTTP, the batch CLI and the bench.
 *
 * A request is an operation name plus a query string: "resize" + "width=800&type=webp".
 * pl_plan_parse() turns it into a validated pl_plan, or fills a pl_error whose public message
 * names the parameter, the value and what is allowed. Operation and parameter names follow
 * imaginary's HTTP API (../shared/docs/imaginary-api.md, docs/imaginary-compat.md); `transform`
 * is imgpipe's own operation taking every parameter at once plus short aliases.
 *
 * Implemented by pl_plan_parse.c on the parameter table (pl_params.h: pl_params.c,
 * pl_params_query.c, pl_params_check.c) and the format table (pl_formats.h).
 *
 * Ownership: a pl_plan is a plain value (no pointers, no heap): copy it freely between threads.
 * Everything here is pure and thread-safe; no libvips calls.
 */
#ifndef PL_OPTIONS_H
#define PL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_error.h"
#include "pl_formats.h"
#include "qs_query.h"

/* Operations. X(id, name, imaginary_route, in_pipeline_name or NULL when not allowed in /pipeline) */
#define PL_OPS(X)                                                                                                                  \
    X(PL_OP_RESIZE, "resize", 1, "resize")                                                                                         \
    X(PL_OP_ENLARGE, "enlarge", 1, "enlarge")                                                                                      \
    X(PL_OP_EXTRACT, "extract", 1, "extract")                                                                                      \
    X(PL_OP_CROP, "crop", 1, "crop")                                                                                               \
    X(PL_OP_SMARTCROP, "smartcrop", 1, "smartcrop")                                                                                \
    X(PL_OP_FIT, "fit", 1, "fit")                                                                                                  \
    X(PL_OP_THUMBNAIL, "thumbnail", 1, "thumbnail")                                                                                \
    X(PL_OP_ZOOM, "zoom", 1, "zoom")                                                                                               \
    X(PL_OP_ROTATE, "rotate", 1, "rotate")                                                                                         \
    X(PL_OP_AUTOROTATE, "autorotate", 1, "autorotate")                                                                             \
    X(PL_OP_FLIP, "flip", 1, "flip")                                                                                               \
    X(PL_OP_FLOP, "flop", 1, "flop")                                                                                               \
    X(PL_OP_CONVERT, "convert", 1, "convert")                                                                                      \
    X(PL_OP_BLUR, "blur", 1, "blur")                                                                                               \
    X(PL_OP_WATERMARK, "watermark", 1, "watermark")                                                                                \
    X(PL_OP_WATERMARKIMAGE, "watermarkimage", 1, "watermarkImage")                                                                 \
    X(PL_OP_PIPELINE, "pipeline", 1, NULL)                                                                                         \
    X(PL_OP_INFO, "info", 1, NULL)                                                                                                 \
    X(PL_OP_TRANSFORM, "transform", 0, NULL)                                                                                       \
    X(PL_OP_RENDITIONS, "renditions", 0, NULL)

typedef enum {
#define PL_X(id, name, imag, pipe) id,
    PL_OPS(PL_X)
#undef PL_X
        PL_OP__COUNT
} pl_op;

/* Parameters. X(id, name, alias or NULL, kind). Kinds are the imaginary parse rules (params.go)
 * plus imgpipe's own. Service-level parameters (field, key, sign, expires, image) parse here so
 * one grammar knows every name, on every route, but the engine ignores them. */
#define PL_PARAMS(X)                                                                                                               \
    X(PL_P_WIDTH, "width", "w", PL_K_INT)                                                                                          \
    X(PL_P_HEIGHT, "height", "h", PL_K_INT)                                                                                        \
    X(PL_P_TOP, "top", NULL, PL_K_INT)                                                                                             \
    X(PL_P_LEFT, "left", NULL, PL_K_INT)                                                                                           \
    X(PL_P_AREAWIDTH, "areawidth", NULL, PL_K_INT)                                                                                 \
    X(PL_P_AREAHEIGHT, "areaheight", NULL, PL_K_INT)                                                                               \
    X(PL_P_QUALITY, "quality", "q", PL_K_INT)                                                                                      \
    X(PL_P_COMPRESSION, "compression", NULL, PL_K_INT)                                                                             \
    X(PL_P_ROTATE, "rotate", NULL, PL_K_INT)                                                                                       \
    X(PL_P_FACTOR, "factor", NULL, PL_K_INT)                                                                                       \
    X(PL_P_MARGIN, "margin", NULL, PL_K_INT)                                                                                       \
    X(PL_P_DPI, "dpi", NULL, PL_K_INT)                                                                                             \
    X(PL_P_TEXTWIDTH, "textwidth", NULL, PL_K_INT)                                                                                 \
    X(PL_P_SPEED, "speed", NULL, PL_K_INT)                                                                                         \
    X(PL_P_OPACITY, "opacity", NULL, PL_K_FLOAT)                                                                                   \
    X(PL_P_SIGMA, "sigma", NULL, PL_K_FLOAT)                                                                                       \
    X(PL_P_MINAMPL, "minampl", NULL, PL_K_FLOAT)                                                                                   \
    X(PL_P_FLIP, "flip", NULL, PL_K_BOOL)                                                                                          \
    X(PL_P_FLOP, "flop", NULL, PL_K_BOOL)                                                                                          \
    X(PL_P_FORCE, "force", NULL, PL_K_BOOL)                                                                                        \
    X(PL_P_EMBED, "embed", NULL, PL_K_BOOL)                                                                                        \
    X(PL_P_NOCROP, "nocrop", NULL, PL_K_BOOL)                                                                                      \
    X(PL_P_NOREPLICATE, "noreplicate", NULL, PL_K_BOOL)                                                                            \
    X(PL_P_NOROTATION, "norotation", NULL, PL_K_BOOL)                                                                              \
    X(PL_P_NOPROFILE, "noprofile", NULL, PL_K_BOOL)                                                                                \
    X(PL_P_STRIPMETA, "stripmeta", NULL, PL_K_BOOL)                                                                                \
    X(PL_P_INTERLACE, "interlace", NULL, PL_K_BOOL)                                                                                \
    X(PL_P_PALETTE, "palette", NULL, PL_K_BOOL)                                                                                    \
    X(PL_P_TEXT, "text", NULL, PL_K_STRING)                                                                                        \
    X(PL_P_FONT, "font", NULL, PL_K_STRING)                                                                                        \
    X(PL_P_COLOR, "color", NULL, PL_K_COLOR)                                                                                       \
    X(PL_P_BACKGROUND, "background", "bg", PL_K_COLOR)                                                                             \
    X(PL_P_TYPE, "type", NULL, PL_K_ENUM)                                                                                          \
    X(PL_P_GRAVITY, "gravity", NULL, PL_K_ENUM)                                                                                    \
    X(PL_P_COLORSPACE, "colorspace", NULL, PL_K_ENUM)                                                                              \
    X(PL_P_EXTEND, "extend", NULL, PL_K_ENUM)                                                                                      \
    X(PL_P_ASPECTRATIO, "aspectratio", NULL, PL_K_RATIO)                                                                           \
    X(PL_P_OPERATIONS, "operations", NULL, PL_K_JSON)                                                                              \
    /* imgpipe's own (transform) */                                                                                                \
    X(PL_P_FIT, "fit", NULL, PL_K_ENUM)                                                                                            \
    X(PL_P_DPR, "dpr", NULL, PL_K_FLOAT)                                                                                           \
    X(PL_P_TRIM, "trim", NULL, PL_K_FLOAT)                                                                                         \
    X(PL_P_SHARPEN, "sharpen", NULL, PL_K_FLOAT)                                                                                   \
    X(PL_P_GRAYSCALE, "grayscale", NULL, PL_K_BOOL)                                                                                \
    X(PL_P_LOSSLESS, "lossless", NULL, PL_K_BOOL)                                                                                  \
    X(PL_P_EFFORT, "effort", NULL, PL_K_INT)                                                                                       \
    X(PL_P_STRIP, "strip", NULL, PL_K_BOOL)                                                                                        \
    X(PL_P_FRAMES, "frames", NULL, PL_K_INT)                                                                                       \
    X(PL_P_ENLARGE, "enlarge", NULL, PL_K_BOOL)                                                                                    \
    /* service-level: parsed and kept, not used by the engine */                                                                   \
    X(PL_P_FIELD, "field", NULL, PL_K_STRING)                                                                                      \
    X(PL_P_KEY, "key", NULL, PL_K_STRING)                                                                                          \
    X(PL_P_SIGN, "sign", NULL, PL_K_STRING)                                                                                        \
    X(PL_P_EXPIRES, "expires", NULL, PL_K_STRING)                                                                                  \
    X(PL_P_IMAGE, "image", NULL, PL_K_STRING)

typedef enum {
#define PL_X(id, name, alias, kind) id,
    PL_PARAMS(PL_X)
#undef PL_X
        PL_P__COUNT
} pl_param_id;

typedef enum { PL_K_INT, PL_K_FLOAT, PL_K_BOOL, PL_K_STRING, PL_K_COLOR, PL_K_ENUM, PL_K_RATIO, PL_K_JSON } pl_kind;

typedef enum {
    PL_GRAVITY_CENTRE = 0,
    PL_GRAVITY_NORTH,
    PL_GRAVITY_NORTHEAST,
    PL_GRAVITY_EAST,
    PL_GRAVITY_SOUTHEAST,
    PL_GRAVITY_SOUTH,
    PL_GRAVITY_SOUTHWEST,
    PL_GRAVITY_WEST,
    PL_GRAVITY_NORTHWEST,
    PL_GRAVITY_SMART, /* imaginary's "smart": libvips attention */
    PL_GRAVITY_ENTROPY,
    PL_GRAVITY_ATTENTION
} pl_gravity;

/* imaginary's default extend is COPY (see imaginary-api.md §7). */
typedef enum {
    PL_EXTEND_COPY = 0,
    PL_EXTEND_BLACK,
    PL_EXTEND_WHITE,
    PL_EXTEND_MIRROR,
    PL_EXTEND_BACKGROUND,
    PL_EXTEND_LASTPIXEL
} pl_extend;

typedef enum { PL_FIT_NONE = 0, PL_FIT_CONTAIN, PL_FIT_COVER, PL_FIT_FILL, PL_FIT_INSIDE, PL_FIT_OUTSIDE } pl_fit;

typedef enum { PL_SPACE_SRGB = 0, PL_SPACE_BW } pl_colorspace;

typedef struct pl_color {
    uint8_t r, g, b, a; /* a = 255 unless given as a 4th part */
} pl_color;

#define PL_TEXT_MAX 256
#define PL_FONT_MAX 128
#define PL_FIELD_MAX 64
#define PL_KEY_MAX 256
#define PL_MAX_STEPS 10

/* One operation's parameters. `set` has bit (1ull << id) for each parameter given. Fields keep
 * imaginary's defaults when not set (quality 75, compression 6, extend copy, gravity centre …);
 * the engine reads `set` where "absent" and "zero" differ. */
typedef struct pl_params {
    uint64_t set;
    int width, height, top, left, areawidth, areaheight;
    int quality, compression, rotate, factor, margin, dpi, textwidth, speed;
    double opacity, sigma, minampl;
    bool flip, flop, force, embed, nocrop, noreplicate, norotation, noprofile, stripmeta, interlace, palette;
    char text[PL_TEXT_MAX];
    char font[PL_FONT_MAX];
    pl_color color, background;
    pl_format type; /* PL_FMT_UNKNOWN = keep the input's format */
    pl_gravity gravity;
    pl_colorspace colorspace;
    pl_extend extend;
    int aspect_w, aspect_h; /* 0,0 = not given */
    /* transform */
    pl_fit fit;
    double dpr;     /* 1.0 default */
    double trim;    /* threshold, 0 = no trim */
    double sharpen; /* sigma, 0 = no sharpen */
    bool grayscale, lossless, strip, enlarge;
    int effort; /* -1 = encoder default */
    int frames; /* max frames to keep; 0 = all (up to the limit) */
    /* service-level */
    char field[PL_FIELD_MAX];
} pl_params;

static inline bool pl_params_has(const pl_params *p, pl_param_id id)
{
    return (p->set >> id) & 1u;
}

typedef struct pl_step {
    pl_op op;
    bool ignore_failure;
    pl_params params;
} pl_step;

/* ---- renditions: several transform outputs and placeholders from one upload (pl_renditions.h) ---- */

#define PL_RENDITIONS_MAX 16     /* r= outputs per request */
#define PL_RENDITION_NAME_MAX 32 /* name= of an output, NUL included */

/* placeholders= bits */
enum { PL_PH_BLURHASH = 1u << 0, PL_PH_THUMBHASH = 1u << 1, PL_PH_COLOR = 1u << 2, PL_PH_LQIP = 1u << 3 };

/* /renditions' own query: each output is a whole transform step (plain values, no pointers, like
 * the rest of pl_plan). */
typedef struct pl_renditions_spec {
    int n;                      /* outputs, 0..PL_RENDITIONS_MAX */
    unsigned placeholders;      /* PL_PH_* */
    int blurhash_x, blurhash_y; /* components, 1..9 each (default 4x3) */
    bool info;                  /* add the original's /info facts */
    bool all;                   /* all-or-nothing: any failed output fails the request */
    char names[PL_RENDITIONS_MAX][PL_RENDITION_NAME_MAX];
    pl_step steps[PL_RENDITIONS_MAX]; /* op = PL_OP_TRANSFORM */
} pl_renditions_spec;

/* A validated request. For every operation but pipeline, n_steps = 1 and steps[0] holds the
 * operation and its parameters. For pipeline, steps are the JSON operations (each from fresh
 * defaults) and `params` holds the top-level query (validated, not applied, as imaginary). */
typedef struct pl_plan {
    pl_op op;
    int n_steps;
    pl_step steps[PL_MAX_STEPS];
    pl_params params;
    pl_renditions_spec rend; /* op == PL_OP_RENDITIONS only (steps[0] then holds the top-level query) */
} pl_plan;

/* Parse "op" + query ("a=1&b=2", percent-encoded, '+' = space; may be empty or NULL) into plan.
 * op is the route's last path segment without '/', case-sensitive as imaginary. Returns 0, or -1
 * with err filled (PL_E_PARAM, PL_E_MISSING_PARAM …, message names parameter, value, allowed).
 * Required-parameter checks of imaginary's routes (e.g. /fit needs width and height) happen here. */
int pl_plan_parse(const char *op, const char *query, size_t query_len, pl_plan *plan, pl_error *err);

/* The same over a query already parsed by common/qs_query.h (the service parses each request's
 * query once for signatures, keys and this grammar). Every pair is read in request order: a ';'
 * is a plain byte of its pair, a bad %-escape is PL_E_PARAM, the first occurrence of a name wins. */
int pl_plan_parse_query(const char *op, const qs_query *query, pl_plan *plan, pl_error *err);

/* effort (when given) against output format f: webp 0-6, avif/heif 0-9, gif and palette png 1-10
 * (libvips 8.14); PL_E_PARAM when out of range, or when f has no effort (jpeg, tiff, png without
 * palette) and the format was named (not type=auto). 0 for f unknown/auto (checked once known). */
int pl_params_check_effort(const pl_params *p, pl_format f, bool named, pl_error *err);

/* Whether the plan (or one of its steps) asks for type=auto: the answer then varies with Accept. */
bool pl_plan_wants_auto(const pl_plan *plan);

/* Parse a whole grammar string "op?query" (CLI, bench). */
int pl_plan_parse_string(const char *spec, pl_plan *plan, pl_error *err);

/* Set params to the defaults (imaginary's for imaginary ops, imgpipe's for transform). */
void pl_params_defaults(pl_params *p, pl_op op);

/* Lookups. Return -1 / NULL when unknown. */
int pl_op_from_name(const char *name, size_t len);
const char *pl_op_name(pl_op op);
bool pl_op_is_imaginary(pl_op op);

/* The parameter table: drives docs, OpenAPI and the grammar itself. */
typedef struct pl_param_def {
    pl_param_id id;
    const char *name;
    const char *alias; /* NULL if none */
    pl_kind kind;
    const char *allowed; /* human-readable allowed values/range, e.g. "integer 1..16383" */
    const char *help;
} pl_param_def;

const pl_param_def *pl_param_table(size_t *count);

#endif
