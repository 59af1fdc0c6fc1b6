/*
 * test_options: the option grammar (pl_params*.c, pl_pipeline_json.c, pl_plan_parse.c), suite `unit`.
 * Every parameter with valid and invalid values, aliases, defaults, required parameters per
 * route, percent-decoding, the first-occurrence rule, pipeline JSON, and the error messages.
 */
#include "../tap.h"
#include "pl_options.h"

#include <glib.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>

static pl_plan plan;
static pl_error err;

static int parse(const char *spec)
{
    pl_error_clear(&err);
    return pl_plan_parse_string(spec, &plan, &err);
}

/* spec parses; returns steps[0].params */
static const pl_params *ok_spec(const char *spec)
{
    int r = parse(spec);
    if (!ok(r == 0, "parses: %s", spec))
        diag("  error: %s", err.message);
    return &plan.steps[0].params;
}

static void bad_spec(const char *spec, pl_code code, const char *needle)
{
    int r = parse(spec);
    ok(r == -1 && err.code == code, "rejected (%s): %s", pl_error_name(code), spec);
    if (needle != NULL && !ok(strstr(err.message, needle) != NULL, "  message has '%s'", needle))
        diag("  message: %s", err.message);
}

static void test_lookups(void)
{
    is_int(pl_op_from_name("resize", 6), PL_OP_RESIZE, "op resize");
    is_int(pl_op_from_name("Resize", 6), -1, "op names are case-sensitive");
    is_int(pl_op_from_name("transform", 9), PL_OP_TRANSFORM, "op transform");
    is_int(pl_op_from_name("watermarkImage", 14), -1, "camel-case only inside pipelines");
    is_str(pl_op_name(PL_OP_WATERMARKIMAGE), "watermarkimage", "op name");
    ok(pl_op_is_imaginary(PL_OP_PIPELINE) && !pl_op_is_imaginary(PL_OP_TRANSFORM), "imaginary flag");
    is_str(pl_format_name(PL_FMT_WEBP), "webp", "format name");
    is_str(pl_format_mime(PL_FMT_AVIF), "image/avif", "format mime");
    size_t n = 0;
    const pl_param_def *t = pl_param_table(&n);
    is_int(n, PL_P__COUNT, "param table size");
    int okk = 1;
    for (size_t i = 0; i < n; i++)
        okk &= t[i].id == (pl_param_id)i && t[i].name && t[i].allowed && t[i].help;
    ok(okk, "param table ordered by id, every row filled");
    /* the word parameters' texts come from the word tables (whole, nothing cut) */
    static const struct {
        pl_param_id id;
        const char *allowed;
    } words[] = {
        {PL_P_TYPE, "one of jpeg, png, webp, gif, tiff, heif, avif, auto"},
        {PL_P_GRAVITY,
         "one of centre, center, north, northeast, east, southeast, south, southwest, west, northwest, smart, entropy, attention"},
        {PL_P_EXTEND, "one of copy, black, white, mirror, background, lastpixel"},
        {PL_P_FIT, "one of contain, cover, fill, inside, outside"},
        {PL_P_COLORSPACE, "one of srgb, bw"},
        {PL_P_FLIP, "a boolean: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False (empty = false)"},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        is_str(t[words[i].id].allowed, words[i].allowed, "allowed text of %s", t[words[i].id].name);
}

static void test_defaults(void)
{
    pl_params p;
    pl_params_defaults(&p, PL_OP_RESIZE);
    ok(p.set == 0 && p.quality == 75 && p.compression == 6 && p.extend == PL_EXTEND_COPY && p.gravity == PL_GRAVITY_CENTRE &&
           p.type == PL_FMT_UNKNOWN && !p.strip && p.fit == PL_FIT_NONE && fabs(p.opacity - 0.25) < 1e-9,
       "imaginary defaults");
    pl_params_defaults(&p, PL_OP_WATERMARKIMAGE);
    ok(fabs(p.opacity - 1.0) < 1e-9, "watermarkimage opacity 1");
    pl_params_defaults(&p, PL_OP_TRANSFORM);
    ok(p.strip && p.fit == PL_FIT_INSIDE && p.dpr == 1.0 && p.effort == -1, "transform defaults");
}

/* ---- every number parameter: bounds, syntax, empty ---- */

static double get_num(const pl_params *p, pl_param_id id)
{
    switch (id) {
    case PL_P_WIDTH:
        return p->width;
    case PL_P_HEIGHT:
        return p->height;
    case PL_P_TOP:
        return p->top;
    case PL_P_LEFT:
        return p->left;
    case PL_P_AREAWIDTH:
        return p->areawidth;
    case PL_P_AREAHEIGHT:
        return p->areaheight;
    case PL_P_QUALITY:
        return p->quality;
    case PL_P_COMPRESSION:
        return p->compression;
    case PL_P_ROTATE:
        return p->rotate;
    case PL_P_FACTOR:
        return p->factor;
    case PL_P_MARGIN:
        return p->margin;
    case PL_P_DPI:
        return p->dpi;
    case PL_P_TEXTWIDTH:
        return p->textwidth;
    case PL_P_SPEED:
        return p->speed;
    case PL_P_EFFORT:
        return p->effort;
    case PL_P_FRAMES:
        return p->frames;
    case PL_P_OPACITY:
        return p->opacity;
    case PL_P_SIGMA:
        return p->sigma;
    case PL_P_MINAMPL:
        return p->minampl;
    case PL_P_DPR:
        return p->dpr;
    case PL_P_TRIM:
        return p->trim;
    case PL_P_SHARPEN:
        return p->sharpen;
    default:
        return NAN;
    }
}

static bool get_bool(const pl_params *p, pl_param_id id)
{
    switch (id) {
    case PL_P_FLIP:
        return p->flip;
    case PL_P_FLOP:
        return p->flop;
    case PL_P_FORCE:
        return p->force;
    case PL_P_EMBED:
        return p->embed;
    case PL_P_NOCROP:
        return p->nocrop;
    case PL_P_NOREPLICATE:
        return p->noreplicate;
    case PL_P_NOROTATION:
        return p->norotation;
    case PL_P_NOPROFILE:
        return p->noprofile;
    case PL_P_STRIPMETA:
        return p->stripmeta;
    case PL_P_INTERLACE:
        return p->interlace;
    case PL_P_PALETTE:
        return p->palette;
    case PL_P_GRAYSCALE:
        return p->grayscale;
    case PL_P_LOSSLESS:
        return p->lossless;
    case PL_P_STRIP:
        return p->strip;
    case PL_P_ENLARGE:
        return p->enlarge;
    default:
        return false;
    }
}

/* The documented ranges (docs/imaginary-compat.md). op: a route with no required parameter
 * that accepts the parameter. */
static const struct {
    pl_param_id id;
    const char *op;
    double min, max;
    bool is_int;
} ranges[] = {
    {PL_P_WIDTH, "flip", 0, 16383, 1},       {PL_P_HEIGHT, "flip", 0, 16383, 1},      {PL_P_TOP, "flip", 0, 1000000, 1},
    {PL_P_LEFT, "flip", 0, 1000000, 1},      {PL_P_AREAWIDTH, "flip", 0, 1000000, 1}, {PL_P_AREAHEIGHT, "flip", 0, 1000000, 1},
    {PL_P_QUALITY, "flip", 1, 100, 1},       {PL_P_COMPRESSION, "flip", 0, 9, 1},     {PL_P_ROTATE, "flip", -1000000, 1000000, 1},
    {PL_P_FACTOR, "flip", 1, 100, 1},        {PL_P_MARGIN, "flip", 0, 16383, 1},      {PL_P_DPI, "flip", 1, 2400, 1},
    {PL_P_TEXTWIDTH, "flip", 0, 16383, 1},   {PL_P_SPEED, "flip", 0, 9, 1},           {PL_P_EFFORT, "transform", 0, 10, 1},
    {PL_P_FRAMES, "transform", 0, 10000, 1}, {PL_P_OPACITY, "flip", 0, 1, 0},         {PL_P_SIGMA, "flip", 0, 100, 0},
    {PL_P_MINAMPL, "flip", 0, 1, 0},         {PL_P_DPR, "transform", 1, 5, 0},        {PL_P_TRIM, "transform", 0, 255, 0},
    {PL_P_SHARPEN, "transform", 0, 10, 0},
};

static void test_numbers(void)
{
    const pl_param_def *t = pl_param_table(NULL);
    int covered = 0;
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        const pl_param_def *d = &t[ranges[i].id];
        char spec[256], v[64];
        covered++;
        ok(d->kind == (ranges[i].is_int ? PL_K_INT : PL_K_FLOAT), "%s kind", d->name);
        /* min and max accepted and stored */
        const double ends[2] = {ranges[i].min, ranges[i].max};
        for (int e = 0; e < 2; e++) {
            snprintf(spec, sizeof(spec), "%s?%s=%.17g", ranges[i].op, d->name, ends[e]);
            const pl_params *p = ok_spec(spec);
            ok(get_num(p, d->id) == ends[e] && pl_params_has(p, d->id), "%s=%g stored", d->name, ends[e]);
        }
        /* just outside: rejected, message names parameter, value and allowed */
        const double out[2] = {ranges[i].min - (ranges[i].is_int ? 1 : 0.01), ranges[i].max + (ranges[i].is_int ? 1 : 0.01)};
        for (int e = 0; e < 2; e++) {
            if (d->id == PL_P_QUALITY && e == 0)
                continue; /* quality=0 is the default: tested below */
            snprintf(v, sizeof(v), "%.17g", out[e]);
            snprintf(spec, sizeof(spec), "%s?%s=%s", ranges[i].op, d->name, v);
            int r = parse(spec);
            ok(r == -1 && err.code == PL_E_PARAM && strstr(err.message, d->name) && strstr(err.message, v) &&
                   strstr(err.message, d->allowed),
               "%s=%s out of range: %s", d->name, v, err.message);
        }
        /* junk of each class */
        static const char *const junk[] = {"abc", "1e", "0x10", "inf", "NaN", "%201", "1%20", "1.2.3", "--1", "1_000", "."};
        for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
            snprintf(spec, sizeof(spec), "%s?%s=%s", ranges[i].op, d->name, junk[j]);
            bad_spec(spec, PL_E_PARAM, d->allowed);
        }
        /* empty = not given */
        snprintf(spec, sizeof(spec), "%s?%s=", ranges[i].op, d->name);
        const pl_params *p = ok_spec(spec);
        ok(!pl_params_has(p, d->id), "%s= (empty) is not given", d->name);
    }
    /* every number parameter of the table is covered above */
    int numbers = 0;
    for (int i = 0; i < PL_P__COUNT; i++)
        numbers += t[i].kind == PL_K_INT || t[i].kind == PL_K_FLOAT;
    is_int(covered, numbers, "every number parameter has a range test");

    /* Go float syntax, rounded half up (imaginary's parseInt), no abs */
    static const struct {
        const char *v;
        int want;
    } ints[] = {{"1e2", 100}, {"0100", 100}, {"%2B5", 5}, {"99.9", 100}, {"99.02", 99},  {"99.5", 100},
                {".5", 1},    {"5.", 5},     {"1E1", 10}, {"5e-1", 1},   {"5E%2B1", 50}, {"2.5e1", 25}};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "resize?width=%s", ints[i].v);
        is_int(ok_spec(spec)->width, ints[i].want, "width=%s", ints[i].v);
    }
    is_int(ok_spec("rotate?rotate=-90")->rotate, -90, "rotate keeps its sign (the engine applies imaginary's rule)");
    bad_spec("resize?width=-0.6", PL_E_PARAM, "\"-0.6\"");
    is_int(ok_spec("resize?width=-0.4&height=1")->width, 0, "-0.4 rounds to 0");
    ok(fabs(ok_spec("watermark?text=x&opacity=0.5")->opacity - 0.5) < 1e-12, "opacity 0.5");
    bad_spec("watermark?text=x&opacity=1.5", PL_E_PARAM, "a number from 0 to 1");
    bad_spec("resize?width=1e400", PL_E_PARAM, "\"1e400\"");

    /* quality 0 = default 75 (imaginary); compression 0 kept */
    const pl_params *p = ok_spec("flip?quality=0&compression=0");
    ok(p->quality == 75 && !pl_params_has(p, PL_P_QUALITY), "quality=0 is the default 75");
    ok(p->compression == 0 && pl_params_has(p, PL_P_COMPRESSION), "compression=0 kept");
    is_int(ok_spec("transform?q=0")->quality, 75, "transform q=0 is 75 too");
    bad_spec("flip?quality=-1", PL_E_PARAM, "an integer from 1 to 100 (0 = default 75)");
}

static void test_bools(void)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False", ""};
    static const char *const junk[] = {"yes", "no", "2", "tRUE", "on", "%20true", "true%20"};
    const pl_param_def *t = pl_param_table(NULL);
    for (int i = 0; i < PL_P__COUNT; i++) {
        if (t[i].kind != PL_K_BOOL)
            continue;
        const char *op = i >= PL_P_FIT ? "transform" : "flip";
        char spec[128];
        for (size_t k = 0; k < sizeof(yes) / sizeof(yes[0]); k++) {
            snprintf(spec, sizeof(spec), "%s?%s=%s", op, t[i].name, yes[k]);
            const pl_params *p = ok_spec(spec);
            ok(get_bool(p, t[i].id) && pl_params_has(p, t[i].id), "%s=%s is true", t[i].name, yes[k]);
        }
        for (size_t k = 0; k < sizeof(no) / sizeof(no[0]); k++) {
            snprintf(spec, sizeof(spec), "%s?%s=%s", op, t[i].name, no[k]);
            const pl_params *p = ok_spec(spec);
            ok(!get_bool(p, t[i].id) && pl_params_has(p, t[i].id), "%s=%s is false and given", t[i].name, no[k]);
        }
        for (size_t k = 0; k < sizeof(junk) / sizeof(junk[0]); k++) {
            snprintf(spec, sizeof(spec), "%s?%s=%s", op, t[i].name, junk[k]);
            bad_spec(spec, PL_E_PARAM, "a boolean");
        }
    }
    const pl_params *p = ok_spec("resize?width=10&nocrop");
    ok(pl_params_has(p, PL_P_NOCROP) && !p->nocrop, "bare nocrop: given, false (its presence matters on /resize)");
    ok(ok_spec("transform?strip=false")->strip == false, "transform strip=false");
    ok(ok_spec("transform")->strip == true, "transform strips by default");
}

static void test_strings(void)
{
    const pl_params *p = ok_spec("watermark?text=Hello+w%C3%B6rld%21&font=serif%2012");
    is_str(p->text, "Hello w\xc3\xb6rld!", "text percent-decoded, + is space, UTF-8 kept");
    is_str(p->font, "serif 12", "font");
    is_str(ok_spec("watermark?text=x")->font, "sans 10", "font default sans 10");
    char spec[700];
    char big[300];
    memset(big, 'a', 255);
    big[255] = '\0';
    snprintf(spec, sizeof(spec), "watermark?text=%s", big);
    is_int(strlen(ok_spec(spec)->text), 255, "text of 255 bytes");
    snprintf(spec, sizeof(spec), "watermark?text=%sa", big);
    bad_spec(spec, PL_E_PARAM, "at most 255 bytes");
    bad_spec("watermark?text=%FF%FE", PL_E_PARAM, "UTF-8");
    bad_spec("watermark?text=a%00b", PL_E_PARAM, "NUL");
    is_str(ok_spec("flip?field=upload")->field, "upload", "field");
    memset(big, 'f', 64);
    big[64] = '\0';
    snprintf(spec, sizeof(spec), "flip?field=%s", big);
    bad_spec(spec, PL_E_PARAM, "field");
    ok_spec("flip?key=secret&sign=abc&image=http%3A%2F%2Fexample%2Fw.png");
    bad_spec("watermark?text=", PL_E_MISSING_PARAM, "Missing required param: text");
}

static void test_colors(void)
{
    const pl_params *p = ok_spec("flip?color=255,128,0&background=%201%20,%202%20,%203%20");
    ok(p->color.r == 255 && p->color.g == 128 && p->color.b == 0 && p->color.a == 255, "color R,G,B");
    ok(p->background.r == 1 && p->background.g == 2 && p->background.b == 3, "background parts trimmed");
    p = ok_spec("transform?bg=10,20,30,40");
    ok(p->background.r == 10 && p->background.a == 40 && pl_params_has(p, PL_P_BACKGROUND), "bg alias with alpha");
    static const char *const junk[] = {"256,0,0", "-1,0,0",  "1,2",     "1,2,3,4,5", "a,b,c",
                                       "1,,3",    "#ffffff", "1.5,2,3", ",",         "1,2,3,"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        char spec[128];
        snprintf(spec, sizeof(spec), "flip?background=%s", junk[i]);
        bad_spec(spec, PL_E_PARAM, "R,G,B or R,G,B,A with each part an integer from 0 to 255");
    }
    ok(!pl_params_has(ok_spec("flip?color="), PL_P_COLOR), "empty colour is not given");
}

static void test_enums(void)
{
    static const struct {
        const char *v;
        pl_format f;
    } types[] = {{"jpeg", PL_FMT_JPEG}, {"JPEG", PL_FMT_JPEG}, {"jpg", PL_FMT_JPEG},       {"png", PL_FMT_PNG},
                 {"webp", PL_FMT_WEBP}, {"tiff", PL_FMT_TIFF}, {"gif", PL_FMT_GIF},        {"avif", PL_FMT_AVIF},
                 {"heif", PL_FMT_HEIF}, {"auto", PL_FMT_AUTO}, {"%20Webp%20", PL_FMT_WEBP}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "convert?type=%s", types[i].v);
        is_int(ok_spec(spec)->type, types[i].f, "type=%s", types[i].v);
    }
    bad_spec("resize?width=1&type=bmp", PL_E_PARAM, "Unsupported output image format");
    bad_spec("resize?width=1&type=svg", PL_E_PARAM, "one of jpeg, png, webp, gif, tiff, heif, avif, auto");
    bad_spec("transform?type=pdf", PL_E_PARAM, "invalid value \"pdf\" for parameter \"type\"");

    static const struct {
        const char *v;
        pl_gravity g;
    } gravities[] = {{"centre", PL_GRAVITY_CENTRE},       {"center", PL_GRAVITY_CENTRE},       {"north", PL_GRAVITY_NORTH},
                     {"northeast", PL_GRAVITY_NORTHEAST}, {"east", PL_GRAVITY_EAST},           {"southeast", PL_GRAVITY_SOUTHEAST},
                     {"south", PL_GRAVITY_SOUTH},         {"southwest", PL_GRAVITY_SOUTHWEST}, {"west", PL_GRAVITY_WEST},
                     {"northwest", PL_GRAVITY_NORTHWEST}, {"smart", PL_GRAVITY_SMART},         {"entropy", PL_GRAVITY_ENTROPY},
                     {"attention", PL_GRAVITY_ATTENTION}, {"%20North", PL_GRAVITY_NORTH}};
    for (size_t i = 0; i < sizeof(gravities) / sizeof(gravities[0]); i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "crop?width=1&gravity=%s", gravities[i].v);
        is_int(ok_spec(spec)->gravity, gravities[i].g, "gravity=%s", gravities[i].v);
    }
    bad_spec("crop?width=1&gravity=up", PL_E_PARAM, "one of centre, center, north");
    bad_spec("transform?gravity=middle", PL_E_PARAM, "invalid value \"middle\" for parameter \"gravity\"");

    static const char *const extends[] = {"copy", "black", "white", "mirror", "background", "lastpixel"};
    for (size_t i = 0; i < 6; i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "resize?width=1&extend=%s", extends[i]);
        is_int(ok_spec(spec)->extend, (pl_extend)i, "extend=%s", extends[i]);
    }
    is_int(ok_spec("resize?width=1&extend=MIRROR")->extend, PL_EXTEND_MIRROR, "extend any case");
    bad_spec("resize?width=1&extend=repeat", PL_E_PARAM, "one of copy, black, white, mirror, background, lastpixel");
    is_int(ok_spec("resize?width=1&extend=")->extend, PL_EXTEND_COPY, "extend= (empty) keeps copy");

    is_int(ok_spec("flip?colorspace=bw")->colorspace, PL_SPACE_BW, "colorspace bw");
    is_int(ok_spec("flip?colorspace=sRGB")->colorspace, PL_SPACE_SRGB, "colorspace srgb");
    bad_spec("flip?colorspace=cmyk", PL_E_PARAM, "one of srgb, bw");

    static const char *const fits[] = {"contain", "cover", "fill", "inside", "outside"};
    for (size_t i = 0; i < 5; i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "transform?w=10&h=10&fit=%s", fits[i]);
        is_int(ok_spec(spec)->fit, (pl_fit)(i + 1), "fit=%s", fits[i]);
    }
    bad_spec("transform?fit=stretch", PL_E_PARAM, "one of contain, cover, fill, inside, outside");
    const pl_params *p = ok_spec("resize?width=10&fit=cover&dpr=9&w=3");
    ok(p->fit == PL_FIT_NONE && p->dpr == 1.0 && p->width == 10,
       "transform-only names and aliases are ignored on imaginary routes");
}

static void test_ratio(void)
{
    const pl_params *p = ok_spec("resize?width=300&aspectratio=16:9");
    ok(p->aspect_w == 16 && p->aspect_h == 9, "aspectratio 16:9");
    static const char *const junk[] = {"169", "0:9", ":", "16:", ":9", "a:b", "16:9:1", "1.5:1", "-16:9", "100000:1"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "resize?width=300&aspectratio=%s", junk[i]);
        bad_spec(spec, PL_E_PARAM, "W:H with W and H integers from 1 to 10000");
    }
}

static void test_query(void)
{
    /* percent-decoding, names too */
    is_int(ok_spec("resize?wid%74h=5")->width, 5, "encoded name");
    is_int(ok_spec("resize?wid%74h=5%2e%34")->width, 5, "lower-case hex escapes");
    bad_spec("resize?wid%7th=5", PL_E_PARAM, "invalid URL escape \"%7t\"");
    is_str(ok_spec("watermark?text=a%2Bb+c%25")->text, "a+b c%", "%%2B, + and %%25");
    bad_spec("resize?width=1%zz", PL_E_PARAM, "invalid URL escape \"%zz\"");
    bad_spec("resize?width=1%4", PL_E_PARAM, "invalid URL escape \"%4\"");
    bad_spec("resize?width=1%", PL_E_PARAM, "invalid URL escape \"%\"");
    /* first occurrence wins; later ones are not even read (Go's Query().Get) */
    is_int(ok_spec("resize?width=100&width=200")->width, 100, "first width wins");
    is_int(ok_spec("resize?width=100&width=abc")->width, 100, "later junk is not read");
    is_int(ok_spec("transform?w=1&width=2")->width, 1, "alias and name share the first-occurrence rule");
    /* empty pairs, no value, unknown names */
    is_int(ok_spec("resize?&&width=7&&")->width, 7, "empty pairs skipped");
    is_int(ok_spec("resize?width=7&cachebuster=123&Width=9")->width, 7, "unknown names (and wrong case) ignored on imaginary");
    bad_spec("transform?w=1&foo=2", PL_E_PARAM, "unknown parameter \"foo\"; known: width(w),height(h),");
    bad_spec("transform?Width=1", PL_E_PARAM, "unknown parameter \"Width\"");
    bad_spec("transform?widht=1", PL_E_PARAM, "unknown parameter \"widht\" (did you mean \"width\"?); known: width(w),height(h)");
    bad_spec("transform?qualty=1", PL_E_PARAM, "(did you mean \"quality\"?)");
    bad_spec("transform?zzzzzzzz=1", PL_E_PARAM, "unknown parameter \"zzzzzzzz\"; known:");
    bad_spec("transform?operations=%5B%5D", PL_E_PARAM, "belongs to /pipeline");
    ok(pl_plan_parse("flip", NULL, 0, &plan, &err) == 0 && plan.n_steps == 1 && plan.steps[0].op == PL_OP_FLIP, "NULL query");
    ok(pl_plan_parse("resize", "width=12&height=3", 8, &plan, &err) == 0 && plan.params.width == 12 && plan.params.height == 0,
       "query_len bounds the query");
    {
        static char huge[(1 << 20) + 16];
        memset(huge, 'a', sizeof(huge) - 1);
        ok(pl_plan_parse("flip", huge, sizeof(huge) - 1, &plan, &err) == -1 && err.code == PL_E_PARAM &&
               strstr(err.message, "at most 1048576 bytes"),
           "query over 1 MiB rejected");
        ok(pl_plan_parse("flip", huge, 1 << 20, &plan, &err) == 0, "query of exactly 1 MiB parsed (unknown name ignored)");
    }
    /* op names */
    bad_spec("nope?width=1", PL_E_PARAM, "unknown operation \"nope\"");
    bad_spec("Resize?width=1", PL_E_PARAM, "unknown operation \"Resize\"");
    bad_spec("averyveryveryveryveryverylongoperationname?x", PL_E_PARAM, "unknown operation");
    bad_spec("nope", PL_E_PARAM,
             "expected one of resize, enlarge, extract, crop, smartcrop, fit, thumbnail, zoom, rotate, autorotate, flip, flop, "
             "convert, blur, watermark, watermarkimage, pipeline, info, transform, renditions");
    ok(ok_spec("/resize?width=1")->width == 1 && plan.op == PL_OP_RESIZE, "leading slash allowed in the CLI form");
    ok_spec("info");
    ok(plan.op == PL_OP_INFO && plan.n_steps == 1, "info without query");
    /* messages stay printable: control bytes are escaped */
    bad_spec("resize?width=%0A1", PL_E_PARAM, "\\x0a1");
    int printable = 1;
    for (const char *c = err.message; *c; c++)
        printable &= (unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f;
    ok(printable, "message is printable ASCII");
    /* plan->params mirrors steps[0] */
    ok(ok_spec("crop?width=9&gravity=east")->gravity == PL_GRAVITY_EAST && plan.params.gravity == PL_GRAVITY_EAST &&
           plan.params.width == 9,
       "plan.params mirrors the single step");
}

static void test_required(void)
{
    static const struct {
        const char *spec;
        const char *missing; /* NULL: parses */
    } cases[] = {
        {"resize", "Missing required param: height or width"},
        {"resize?height=5", NULL},
        {"resize?width=0", "Missing required param: height or width"},
        {"crop", "Missing required param: height or width"},
        {"crop?width=5", NULL},
        {"smartcrop", "Missing required param: height or width"},
        {"smartcrop?height=5", NULL},
        {"thumbnail", "Missing required params: width or height"},
        {"thumbnail?width=5", NULL},
        {"fit?width=5", "Missing required params: height, width"},
        {"fit?width=5&height=5", NULL},
        {"enlarge?height=5", "Missing required params: height, width"},
        {"enlarge?width=5&height=5", NULL},
        {"extract?areawidth=5", "Missing required params: areawidth or areaheight"},
        {"extract?areawidth=5&areaheight=5", NULL},
        {"zoom", "Missing required param: factor"},
        {"zoom?factor=1", NULL},
        {"zoom?factor=1&top=5", "Missing required params: areawidth, areaheight"},
        {"zoom?factor=1&top=5&areawidth=3", NULL},
        {"rotate", "Missing required param: rotate"},
        {"rotate?rotate=0", "Missing required param: rotate"},
        {"rotate?rotate=90", NULL},
        {"convert", "Missing required param: type"},
        {"convert?type=", "Missing required param: type"},
        {"convert?type=png", NULL},
        {"blur", "Missing required param: sigma or minampl"},
        {"blur?minampl=0.5", NULL},
        {"blur?sigma=2", NULL},
        {"watermark", "Missing required param: text"},
        {"watermark?text=hi", NULL},
        {"pipeline", "Missing or invalid pipeline operations JSON"},
        {"pipeline?operations=", "Missing or invalid pipeline operations JSON"},
        {"pipeline?operations=%5B", "Missing or invalid pipeline operations JSON"},
        {"watermarkimage", NULL},
        {"autorotate", NULL},
        {"flip", NULL},
        {"flop", NULL},
        {"info", NULL},
        {"transform", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].missing == NULL) {
            ok_spec(cases[i].spec);
            continue;
        }
        char want[160];
        snprintf(want, sizeof(want), "Error while processing the image: %s", cases[i].missing);
        bad_spec(cases[i].spec, PL_E_MISSING_PARAM, want);
    }
}

static void test_conflicts(void)
{
    bad_spec("transform?w=100&fit=cover", PL_E_PARAM, "parameters \"fit\" and \"height\" conflict");
    bad_spec("transform?h=100&fit=fill", PL_E_PARAM, "parameters \"fit\" and \"width\" conflict");
    bad_spec("transform?fit=contain", PL_E_PARAM, "fit=contain needs both");
    ok_spec("transform?w=100&fit=inside");
    ok_spec("transform?w=100&h=50&fit=cover&gravity=attention");
    bad_spec("transform?areawidth=10", PL_E_PARAM, "parameters \"areawidth\" and \"areaheight\" conflict");
    bad_spec("transform?areaheight=10", PL_E_PARAM, "parameters \"areawidth\" and \"areaheight\" conflict");
    bad_spec("transform?top=10", PL_E_PARAM, "parameters \"top\" and \"areawidth\" conflict");
    ok_spec("transform?top=10&left=3&areawidth=5&areaheight=5");
    bad_spec("transform?w=10&h=10&aspectratio=1:1", PL_E_PARAM, "parameters \"aspectratio\" and \"width\" conflict");
    bad_spec("transform?aspectratio=1:1", PL_E_PARAM, "exactly one of");
    ok(ok_spec("transform?h=10&aspectratio=4:3")->aspect_w == 4, "transform aspectratio with one side");
    bad_spec("transform?w=10&h=10&fit=fill&force=true", PL_E_PARAM, "parameters \"force\" and \"fit\" conflict");
    bad_spec("transform?w=10000&dpr=2", PL_E_PARAM, "parameters \"width\" and \"dpr\" conflict: 10000 x 2 = 20000 pixels");
    bad_spec("transform?h=9000&dpr=1.9", PL_E_PARAM, "parameters \"height\" and \"dpr\" conflict");
    ok(ok_spec("transform?w=8000&h=100&dpr=2")->dpr == 2.0, "w x dpr within the limit");
    /* aspectratio gives fit its missing side */
    ok_spec("transform?w=200&aspectratio=1:1&fit=cover");
    ok_spec("transform?h=90&aspectratio=16:9&fit=contain");
    bad_spec("transform?w=9000&aspectratio=1:2", PL_E_PARAM,
             "parameters \"aspectratio\" and \"width\" conflict: 1:2 makes the height");
    /* watermarkimage: left/top or gravity/margin, not both */
    ok_spec("watermarkimage?gravity=southeast&margin=10");
    ok_spec("watermarkimage?left=10&top=5");
    bad_spec("watermarkimage?gravity=east&top=3", PL_E_PARAM, "parameters \"gravity\" and \"top\" conflict");
    bad_spec("watermarkimage?margin=4&left=3", PL_E_PARAM, "parameters \"margin\" and \"left\" conflict");
}

static void test_effort(void)
{
    /* per output format (libvips 8.14's ranges), never clamped */
    bad_spec("transform?type=webp&effort=10", PL_E_PARAM, "webp output takes an integer from 0 to 6");
    ok_spec("transform?type=webp&effort=0");
    ok_spec("transform?type=webp&effort=6");
    ok_spec("transform?type=avif&effort=9");
    bad_spec("transform?type=heif&effort=10", PL_E_PARAM, "heif output takes an integer from 0 to 9");
    bad_spec("transform?type=gif&effort=0", PL_E_PARAM, "gif output takes an integer from 1 to 10");
    ok_spec("transform?type=gif&effort=10");
    ok_spec("transform?type=png&palette=true&effort=1");
    bad_spec("transform?type=png&effort=5", PL_E_PARAM, "does not apply to png output without palette=true");
    bad_spec("transform?type=jpeg&effort=5", PL_E_PARAM, "does not apply to jpeg output");
    /* no type, or auto: checked once the format is known (the engine) */
    ok_spec("transform?effort=10");
    ok_spec("transform?type=auto&effort=9");
    bad_spec("transform?effort=11", PL_E_PARAM, "effort");
}

static void pipeline_spec(char *out, size_t size, const char *json)
{
    /* percent-encode the JSON for the query */
    size_t o = snprintf(out, size, "pipeline?operations=");
    for (const char *c = json; *c && o + 4 < size; c++) {
        if (g_ascii_isalnum(*c) || strchr("-_.~", *c))
            out[o++] = *c;
        else
            o += snprintf(out + o, size - o, "%%%02X", (unsigned char)*c);
    }
    out[o] = '\0';
}

static int parse_pipeline(const char *json, const char *extra)
{
    static char spec[16384];
    pipeline_spec(spec, sizeof(spec) - 200, json);
    if (extra)
        strcat(spec, extra);
    return parse(spec);
}

static void bad_pipeline(const char *json, pl_code code, const char *needle)
{
    int r = parse_pipeline(json, NULL);
    ok(r == -1 && err.code == code, "pipeline rejected (%s): %s", pl_error_name(code), json);
    if (needle && !ok(strstr(err.message, needle) != NULL, "  message has '%s'", needle))
        diag("  message: %s", err.message);
}

static void test_pipeline(void)
{
    int r = parse_pipeline("[{\"operation\":\"crop\",\"params\":{\"width\":300,\"height\":\"200\",\"gravity\":\"south\"}},"
                           "{\"operation\":\"convert\",\"ignore_failure\":true,\"params\":{\"type\":\"webp\",\"quality\":60.0}},"
                           "{\"operation\":\"watermarkImage\",\"params\":{\"opacity\":0.5,\"left\":10,\"top\":\"5\"}},"
                           "{\"operation\":\"flip\",\"params\":{\"stripmeta\":true,\"interlace\":\"1\"}},"
                           "{\"operation\":\"resize\",\"params\":{\"width\":\"-0.2\",\"height\":100,\"unknown\":[1]}}]",
                           "&type=png&width=5");
    ok(r == 0, "valid pipeline: %s", r ? err.message : "");
    ok(plan.op == PL_OP_PIPELINE && plan.n_steps == 5, "5 steps");
    ok(plan.steps[0].op == PL_OP_CROP && plan.steps[0].params.width == 300 && plan.steps[0].params.height == 200 &&
           plan.steps[0].params.gravity == PL_GRAVITY_SOUTH && !plan.steps[0].ignore_failure,
       "step 1 crop: number, string number, gravity");
    ok(plan.steps[1].op == PL_OP_CONVERT && plan.steps[1].params.type == PL_FMT_WEBP && plan.steps[1].params.quality == 60 &&
           plan.steps[1].ignore_failure,
       "step 2 convert, ignore_failure, integral real 60.0");
    ok(plan.steps[2].op == PL_OP_WATERMARKIMAGE && fabs(plan.steps[2].params.opacity - 0.5) < 1e-12 &&
           plan.steps[2].params.left == 10 && plan.steps[2].params.top == 5,
       "step 3 watermarkImage (camel case)");
    ok(plan.steps[3].params.stripmeta && plan.steps[3].params.interlace, "step 4 bools from JSON and string");
    ok(plan.steps[4].params.width == 0 && plan.steps[4].params.height == 100, "step 5 string \"-0.2\" rounds to 0");
    ok(plan.params.type == PL_FMT_PNG && plan.params.width == 5 && plan.steps[0].params.type == PL_FMT_UNKNOWN,
       "top-level query kept in plan.params, not applied to steps");
    ok(plan.steps[2].params.quality == 75 && plan.steps[2].params.type == PL_FMT_UNKNOWN, "each step from fresh defaults");
    ok(parse_pipeline("[{\"operation\":\"flip\"}]", "&quality=0") == 0 && plan.params.quality == 75,
       "top-level quality=0 normalised like a route's");
    ok(ok_spec("flip?operations=")->flip == false && plan.n_steps == 1, "empty operations on another route: nothing to check");
    ok(ok_spec("flip?operations=%5B")->flip == false, "one-byte operations on another route: nothing to check (as imaginary)");

    /* counts */
    bad_pipeline("[]", PL_E_MISSING_PARAM, "Error while processing the image: Missing or invalid pipeline operations JSON");
    char json[2048] = "[";
    for (int i = 0; i < 11; i++)
        strcat(json, i ? ",{\"operation\":\"flip\"}" : "{\"operation\":\"flip\"}");
    strcat(json, "]");
    bad_pipeline(json, PL_E_PARAM, "Error while processing the image: Maximum allowed pipeline operations exceeded");
    json[strlen(json) - strlen(",{\"operation\":\"flip\"}]")] = '\0';
    strcat(json, "]");
    ok(parse_pipeline(json, NULL) == 0 && plan.n_steps == 10, "10 steps are allowed");

    /* names */
    bad_pipeline("[{\"operation\":\"watermarkimage\"}]", PL_E_PARAM, "Unsupported operation name: watermarkimage");
    bad_pipeline("[{\"operation\":\"info\"}]", PL_E_PARAM, "Unsupported operation name: info");
    bad_pipeline("[{\"operation\":\"pipeline\"}]", PL_E_PARAM, "Unsupported operation name: pipeline");
    bad_pipeline("[{\"operation\":\"transform\"}]", PL_E_PARAM, "Unsupported operation name: transform");
    bad_pipeline("[{\"operation\":\"Resize\",\"params\":{\"width\":1}}]", PL_E_PARAM, "Unsupported operation name: Resize");
    bad_pipeline("[{\"params\":{}}]", PL_E_PARAM, "Unsupported operation name: ");
    bad_pipeline("[{\"operation\":\"info\"}]", PL_E_PARAM,
                 "(pipeline operation 1; expected one of resize, enlarge, extract, crop, smartcrop, fit, thumbnail, zoom, rotate, "
                 "autorotate, flip, flop, convert, blur, watermark, watermarkImage)");

    /* bad params in a step */
    bad_pipeline("[{\"operation\":\"flip\"},{\"operation\":\"resize\",\"params\":{\"width\":-200}}]", PL_E_PARAM,
                 "parameter \"width\" with value \"-200\", error: expected an integer from 0 to 16383 (pipeline operation 2");
    bad_pipeline("[{\"operation\":\"resize\",\"params\":{\"width\":300.5}}]", PL_E_PARAM, "with value \"300.5\"");
    bad_pipeline("[{\"operation\":\"resize\",\"params\":{\"width\":\"abc\"}}]", PL_E_PARAM, "with value \"abc\"");
    bad_pipeline("[{\"operation\":\"convert\",\"params\":{\"type\":1}}]", PL_E_PARAM, "wrong JSON type");
    bad_pipeline("[{\"operation\":\"crop\",\"params\":{\"width\":1,\"gravity\":2}}]", PL_E_PARAM, "parameter \"gravity\"");
    bad_pipeline("[{\"operation\":\"flip\",\"params\":{\"background\":[1,2,3]}}]", PL_E_PARAM, "wrong JSON type");
    bad_pipeline("[{\"operation\":\"flip\",\"params\":{\"color\":{\"r\":1}}}]", PL_E_PARAM, "wrong JSON type");
    bad_pipeline("[{\"operation\":\"flip\",\"params\":{\"nocrop\":1}}]", PL_E_PARAM, "parameter \"nocrop\"");
    bad_pipeline("[{\"operation\":\"resize\",\"params\":{\"width\":null}}]", PL_E_PARAM, "with value \"null\"");
    bad_pipeline("[{\"operation\":\"resize\",\"params\":{\"width\":true}}]", PL_E_PARAM, "parameter \"width\"");
    bad_pipeline("[{\"operation\":\"flip\"},{\"operation\":\"fit\",\"params\":{\"width\":1}}]", PL_E_MISSING_PARAM,
                 "Missing required params: height, width (pipeline operation 2, \"fit\")");

    /* shape */
    bad_pipeline("[{\"operation\":\"flip\",\"extra\":1}]", PL_E_PARAM, "unknown field \"extra\"");
    bad_pipeline("[{\"operation\":\"flip\",\"ignore_failure\":\"yes\"}]", PL_E_PARAM, "\"ignore_failure\" must be true or false");
    bad_pipeline("[{\"operation\":\"flip\",\"params\":[]}]", PL_E_PARAM, "\"params\" must be an object");
    bad_pipeline("[{\"operation\":5}]", PL_E_PARAM, "\"operation\" must be a string");
    bad_pipeline("[1]", PL_E_PARAM, "is not an object");
    bad_pipeline("{\"operation\":\"flip\"}", PL_E_PARAM, "expected a JSON array");
    bad_pipeline("[{\"operation\":\"flip\"", PL_E_PARAM, "invalid JSON");
    bad_pipeline("[{\"operation\":\"flip\",\"operation\":\"flop\"}]", PL_E_PARAM, "invalid JSON");
    bad_pipeline("[{\"operation\":\"flip\"}] trailing", PL_E_PARAM, "invalid JSON");
    bad_pipeline("[{\"operation\":\"flip\",\"params\":{\"text\":\"a\\u0000b\"}}]", PL_E_PARAM, "invalid JSON");
    ok(parse_pipeline("[{\"operation\":\"flip\",\"params\":null,\"ignore_failure\":null}]", NULL) == 0, "null params allowed");

    /* top-level query validated */
    r = parse_pipeline("[{\"operation\":\"flip\"}]", "&width=abc");
    ok(r == -1 && err.code == PL_E_PARAM && strstr(err.message, "\"width\""), "top-level query validated");
    /* imaginary validates `operations` on every route */
    bad_spec("resize?width=1&operations=%5Bx", PL_E_PARAM, "invalid JSON");
    bad_spec("resize?width=1&operations=%5B%7B%22x%22%3A1%7D%5D", PL_E_PARAM, "unknown field \"x\"");
    ok(ok_spec("resize?width=1&operations=%5B%7B%22operation%22%3A%22fit%22%7D%5D")->width == 1 && plan.n_steps == 1 &&
           plan.steps[0].op == PL_OP_RESIZE,
       "other routes check only the JSON of operations, never its steps");
}

/* ---- thread safety: the same specs in 4 threads give the same plans ---- */

static const char *const thread_specs[] = {
    "resize?width=800&height=600&type=webp&quality=80",
    "transform?w=512&h=512&fit=cover&type=png&bg=1,2,3",
    "watermark?text=hello+world&opacity=0.3",
    "pipeline?operations=%5B%7B%22operation%22%3A%22resize%22%2C%22params%22%3A%7B%22width%22%3A300%7D%7D%5D",
    "resize?width=-1",
};

static void *thread_main(void *arg)
{
    intptr_t bad = 0;
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof(thread_specs) / sizeof(thread_specs[0]); i++) {
            pl_plan a;
            pl_error e;
            int r = pl_plan_parse_string(thread_specs[i], &a, &e);
            if ((i == 4) != (r == -1))
                bad++;
            if (r == 0 && a.steps[0].params.width != (i == 0 ? 800 : i == 1 ? 512 : i == 3 ? 300 : 0))
                bad++;
        }
    }
    (void)arg;
    return (void *)bad;
}

static void test_threads(void)
{
    pthread_t th[4];
    intptr_t bad = 0;
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_main, NULL);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += (intptr_t)r;
    }
    is_int(bad, 0, "4 threads x 2000 rounds parse consistently");
}

int main(void)
{
    test_lookups();
    test_defaults();
    const pl_params *p = ok_spec("resize?width=800&height=600&type=webp&quality=80");
    ok(p->width == 800 && p->height == 600 && p->type == PL_FMT_WEBP && p->quality == 80, "resize values");
    bad_spec("resize?width=-100", PL_E_PARAM,
             "Error while processing parameters, error while processing parameter \"width\" with value \"-100\", error: "
             "expected an integer from 0 to 16383");
    bad_spec("transform?w=-100", PL_E_PARAM, "invalid value \"-100\" for parameter \"width\": expected an integer from 0 to 16383");
    bad_spec("resize?width=abc", PL_E_PARAM,
             "Error while processing parameters, error while processing parameter \"width\" with value \"abc\", error: ");
    test_numbers();
    test_bools();
    test_strings();
    test_colors();
    test_enums();
    test_ratio();
    test_query();
    test_required();
    test_conflicts();
    test_effort();
    test_pipeline();
    test_threads();
    return tap_done();
}
