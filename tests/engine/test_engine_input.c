/*
 * test_engine_input: what comes in. Format sniffing, all 8 EXIF orientations upright (pixels
 * compared with orientation 1), CMYK / Adobe RGB / P3 to sRGB, alpha and 16-bit kept where the
 * format carries them, animations keep their frames, every file of tests/fixtures/bad gives its
 * documented error code (the table below) and never crashes, the bomb is refused fast, limits.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_util.h"
#include "pl_internal.h"

static void test_sniff(void)
{
    static const struct {
        const char *file;
        pl_format f;
    } cases[] = {
        {"edge/looks-like-svg.webp", PL_FMT_WEBP},
        {"edge/example.avif", PL_FMT_AVIF},
        {"edge/avif-pitm-4096x800.avif", PL_FMT_AVIF},
        {"edge/iphone-displayp3.heic", PL_FMT_HEIF},
        {"edge/tiff-multipage.tif", PL_FMT_TIFF},
        {"edge/jpeg2000-relax.jp2", PL_FMT_JP2K},
        {"edge/animated-loop3.gif", PL_FMT_GIF},
        {"bad/jpeg-with-png-extension.png", PL_FMT_JPEG},
        {"bad/png-with-jpg-extension.jpg", PL_FMT_PNG},
        {"bad/vector-check.svg", PL_FMT_SVG},
        {"bad/not-an-image.pdf", PL_FMT_PDF},
        {"bad/not-an-image-text.txt", PL_FMT_UNKNOWN},
        {"bad/not-an-image-icc-profile.icm", PL_FMT_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eu_file f = eu_read(cases[i].file);
        is_int(pl_sniff(f.data, f.len), cases[i].f, "sniff %s", cases[i].file);
        eu_free(&f);
    }
    is_int(pl_sniff(NULL, 0), PL_FMT_UNKNOWN, "sniff empty");
    /* every signature of the format table, and the ftyp brands' precedence */
    static const struct {
        const char *bytes;
        size_t len;
        pl_format f;
    } mem[] = {
        {"\xFF\xD8\xFF\xE0", 4, PL_FMT_JPEG},
        {"\x89PNG\r\n\x1A\n", 8, PL_FMT_PNG},
        {"RIFF\x10\0\0\0WEBPVP8 ", 16, PL_FMT_WEBP},
        {"RIFF\x10\0\0\0WAVEfmt ", 16, PL_FMT_UNKNOWN},
        {"GIF87a\1\0", 8, PL_FMT_GIF},
        {"GIF89a\1\0", 8, PL_FMT_GIF},
        {"II*\0\x08\0\0\0", 8, PL_FMT_TIFF},
        {"MM\0*\0\0\0\x08", 8, PL_FMT_TIFF},
        {"II+\0\x08\0\0\0", 8, PL_FMT_TIFF},
        {"MM\0+\0\x08\0\0", 8, PL_FMT_TIFF},
        {"\0\0\0\030ftypheic\0\0\0\0mif1heic", 24, PL_FMT_HEIF},
        {"\0\0\0\030ftypmif1\0\0\0\0avifmiaf", 24, PL_FMT_AVIF},
        {"\0\0\0\024ftypisom\0\0\0\0mp41", 20, PL_FMT_UNKNOWN},
        {"%PDF-1.4", 8, PL_FMT_PDF},
        {"\0\0\0\x0CjP  \r\n\x87\n", 12, PL_FMT_JP2K},
        {"\xFF\x4F\xFF\x51\0\x29", 6, PL_FMT_JP2K},
        {"\xEF\xBB\xBF <svg>", 10, PL_FMT_SVG},
    };
    for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++)
        is_int(pl_sniff((const uint8_t *)mem[i].bytes, mem[i].len), mem[i].f, "sniff bytes %zu (%s)", i,
               mem[i].f ? pl_format_name(mem[i].f) : "unknown");
}

static void test_orientation(void)
{
    eu_file ref_f = eu_read("edge/exif-orientation-1.jpg");
    pl_result ref;
    pl_error e;
    eu_run("transform?w=300&type=png", &ref_f, &ref, &e);
    for (int o = 1; o <= 8; o++) {
        char name[64];
        snprintf(name, sizeof(name), "edge/exif-orientation-%d.jpg", o);
        eu_file f = eu_read(name);
        const char *specs[] = {"transform?w=300&type=png", "resize?width=300&type=png", "fit?width=300&height=300&type=png"};
        for (int s = 0; s < 3; s++) {
            pl_result r;
            int rc = eu_run(specs[s], &f, &r, &e);
            eu_img d = eu_decode(&r);
            double diff = rc == 0 ? eu_diff(&r, &ref) : -1;
            ok(rc == 0 && d.width == 300 && d.height == 225 && diff >= 0 && diff < 12, "orientation %d %s upright (diff %.1f)", o,
               specs[s], diff);
            pl_result_clear(&r);
        }
        /* the tag is gone after auto-orienting, also when metadata is kept (imaginary's trap) */
        pl_result r;
        int rc = eu_run("resize?width=300", &f, &r, &e);
        eu_img d = eu_decode(&r);
        ok(rc == 0 && d.width == 300 && d.height == 225 && d.orientation <= 1, "orientation %d: no stale tag after resize (%d)", o,
           d.orientation);
        pl_result_clear(&r);
        eu_free(&f);
    }
    /* at 6/8 (TurboJPEG decodes the stored orientation; the loader's target is swapped for 5-8) */
    {
        pl_result ref6;
        eu_run("transform?w=450&type=png", &ref_f, &ref6, &e);
        for (int o = 1; o <= 8; o++) {
            char name[64];
            snprintf(name, sizeof(name), "edge/exif-orientation-%d.jpg", o);
            eu_file f = eu_read(name);
            const char *specs[] = {"transform?w=450&type=png", "resize?width=450&type=png"};
            for (int s = 0; s < 2; s++) {
                pl_result r, old;
                int rc = eu_run(specs[s], &f, &r, &e);
                int rc_old = eu_run_switched_off(PL_NO_JPEG_MSCALE, specs[s], &f, &old, &e);
                eu_img d = eu_decode(&r);
                double diff = rc == 0 ? eu_diff(&r, &ref6) : -1, diff_old = rc == 0 && rc_old == 0 ? eu_diff(&r, &old) : -1;
                ok(rc == 0 && d.width == 450 && d.height == 338 && diff >= 0 && diff < 12 && diff_old > 0,
                   "orientation %d %s at 6/8 upright (diff %.1f; %.2f from the libvips path)", o, specs[s], diff, diff_old);
                pl_result_clear(&r);
                pl_result_clear(&old);
            }
            eu_free(&f);
        }
        pl_result_clear(&ref6);
    }
    /* /fit uses the upright size (imaginary's EXIF 5-8 bug gives 150x200 here) */
    {
        eu_file f5 = eu_read("edge/exif-orientation-6.jpg");
        pl_result r;
        eu_run("fit?width=300&height=200", &f5, &r, &e);
        eu_img d = eu_decode(&r);
        ok(d.width == 267 && d.height == 200, "fit 300x200 of an upright 600x450 (EXIF 6) -> 267x200 (got %dx%d)", d.width,
           d.height);
        pl_result_clear(&r);
        eu_free(&f5);
    }
    /* norotation keeps the stored pixels */
    eu_file f6 = eu_read("edge/exif-orientation-6.jpg");
    pl_result r;
    eu_run("resize?width=225&norotation=true", &f6, &r, &e);
    eu_img d = eu_decode(&r);
    ok(d.width == 225 && d.height == 300 && d.orientation <= 1,
       "norotation: stored orientation kept (%dx%d), no orientation tag left to turn it (%d)", d.width, d.height, d.orientation);
    pl_result_clear(&r);
    eu_free(&f6);
    pl_result_clear(&ref);
    eu_free(&ref_f);
}

static void check_colour(const char *file, const char *spec, int bands, VipsInterpretation space, const char *what)
{
    eu_file f = eu_read(file);
    pl_result r;
    pl_error e;
    int rc = eu_run(spec, &f, &r, &e);
    eu_img d = eu_decode(&r);
    ok(rc == 0 && d.ok && d.bands == bands && d.space == space, "%s: %s (bands %d, %s)", file, what, d.bands,
       vips_enum_nick(VIPS_TYPE_INTERPRETATION, d.space));
    pl_result_clear(&r);
    eu_free(&f);
}

static void test_colour(void)
{
    check_colour("edge/cmyk-no-profile.jpg", "resize?width=200", 3, VIPS_INTERPRETATION_sRGB, "CMYK without profile to sRGB");
    check_colour("edge/cmyk-with-swop-profile.jpg", "resize?width=200", 3, VIPS_INTERPRETATION_sRGB, "CMYK (SWOP) to sRGB");
    check_colour("edge/adobergb-a98-profile.jpg", "transform?w=200", 3, VIPS_INTERPRETATION_sRGB, "Adobe RGB to sRGB");
    check_colour("edge/displayp3-profile.png", "transform?w=8&type=png", 4, VIPS_INTERPRETATION_sRGB, "P3 to sRGB, alpha kept");
    check_colour("edge/webp-alpha.webp", "transform?w=100&type=png", 4, VIPS_INTERPRETATION_sRGB, "alpha survives png");
    check_colour("edge/webp-alpha.webp", "transform?w=100&type=webp", 4, VIPS_INTERPRETATION_sRGB, "alpha survives webp");
    check_colour("edge/webp-alpha.webp", "transform?w=100&type=avif", 4, VIPS_INTERPRETATION_sRGB, "alpha survives avif");
    check_colour("edge/webp-alpha.webp", "transform?w=100&type=jpeg", 3, VIPS_INTERPRETATION_sRGB, "jpeg flattens alpha");
    check_colour("edge/pngsuite-basn6a16-rgba16.png", "transform?w=16&type=png", 4, VIPS_INTERPRETATION_RGB16,
                 "16-bit RGBA stays 16-bit in png");
    check_colour("edge/pngsuite-basn0g16-grey16.png", "transform?w=16&type=png", 1, VIPS_INTERPRETATION_GREY16,
                 "16-bit grey stays 16-bit in png");
    check_colour("edge/pngsuite-basn6a16-rgba16.png", "transform?w=16&type=webp", 4, VIPS_INTERPRETATION_sRGB,
                 "16-bit to 8-bit for webp");
    check_colour("edge/grayscale-gray22-profile.jpg", "resize?width=100", 1, VIPS_INTERPRETATION_B_W, "grey stays grey");
    check_colour("imaginary/imaginary.jpg", "resize?width=100&colorspace=bw", 1, VIPS_INTERPRETATION_B_W, "colorspace=bw");

    /* noprofile drops the ICC profile; imaginary routes keep it otherwise; transform strips */
    eu_file f = eu_read("imaginary/imaginary.jpg");
    pl_result r;
    pl_error e;
    eu_run("resize?width=100", &f, &r, &e);
    ok(eu_decode(&r).has_icc, "resize keeps the ICC profile (imaginary keeps metadata)");
    pl_result_clear(&r);
    eu_run("resize?width=100&noprofile=true", &f, &r, &e);
    ok(!eu_decode(&r).has_icc, "noprofile drops it");
    pl_result_clear(&r);
    eu_run("transform?w=100", &f, &r, &e);
    ok(!eu_decode(&r).has_icc, "transform strips by default");
    pl_result_clear(&r);
    eu_free(&f);
    /* stripping keeps the copyright */
    f = eu_read("edge/grayscale-gray22-profile.jpg");
    const char *strips[] = {"transform?w=100", "resize?width=100&stripmeta=true", "transform?w=100&type=webp"};
    for (int i = 0; i < 3; i++) {
        eu_run(strips[i], &f, &r, &e);
        VipsImage *im = vips_image_new_from_buffer(r.data, r.len, "", NULL);
        const char *cr = NULL;
        bool kept = im != NULL && vips_image_get_string(im, "exif-ifd0-Copyright", &cr) == 0 && strstr(cr, "Marsel Minga") != NULL;
        ok(kept && !vips_image_get_typeof(im, VIPS_META_ICC_NAME) && !vips_image_get_typeof(im, VIPS_META_IPTC_NAME),
           "%s: metadata stripped, copyright kept", strips[i]);
        vips_error_clear();
        if (im)
            g_object_unref(im);
        pl_result_clear(&r);
    }
    eu_free(&f);
}

static void check_anim(const char *file, const char *spec, int frames, int w, int h, pl_format fmt)
{
    eu_file f = eu_read(file);
    pl_result r;
    pl_error e;
    int rc = eu_run(spec, &f, &r, &e);
    eu_img d = eu_decode(&r);
    ok(rc == 0 && r.format == fmt && d.pages == frames && d.width == w && d.page_height == h && d.height == h * frames,
       "%s %s: %d frames of %dx%d (got %d of %dx%d)", file, spec, frames, w, h, d.pages, d.width, d.page_height);
    pl_result_clear(&r);
    eu_free(&f);
}

static void test_animation(void)
{
    check_anim("edge/animated-rotating-squares.gif", "resize?width=40", 30, 40, 40, PL_FMT_GIF);
    check_anim("edge/animated-loop3.gif", "transform?w=185&type=webp", 10, 185, 143, PL_FMT_WEBP);
    check_anim("edge/animated-rotating-squares.gif", "transform?w=40&frames=5", 5, 40, 40, PL_FMT_GIF);
    check_anim("edge/animated-rotating-squares.webp", "fit?width=50&height=50", 9, 50, 50, PL_FMT_WEBP);
    check_anim("edge/animated-loop3.gif", "crop?width=100&height=100", 10, 100, 100, PL_FMT_GIF);
    check_anim("edge/animated-loop3.gif", "rotate?rotate=90", 10, 285, 370, PL_FMT_GIF);
    check_anim("edge/animated-loop3.gif", "convert?type=png", 1, 370, 285, PL_FMT_PNG); /* PNG: first frame */
    eu_file f = eu_read("edge/animated-loop3.gif");
    pl_result r;
    pl_error e;
    int rc = eu_run("smartcrop?width=100&height=100", &f, &r, &e);
    ok(rc == -1 && e.code == PL_E_ANIMATED && strstr(e.message, "smartcrop") != NULL, "smartcrop on an animation: %s", e.message);
    pl_limits lim;
    pl_limits_default(&lim);
    lim.max_frames = 3;
    rc = eu_run_full("resize?width=50", f.data, f.len, NULL, &lim, NULL, &r, &e);
    ok(rc == 0 && eu_decode(&r).pages == 3, "max_frames caps the frames");
    pl_result_clear(&r);
    eu_free(&f);
}

/* The bad-file table: file, expected code (docs/imaginary-compat.md "Damaged and hostile input"). */
static void test_bad(void)
{
    static const struct {
        const char *file;
        int code;      /* resize / transform; PL_OK: decodes */
        int info_code; /* info reads the header only */
    } cases[] = {
        {"bad/bomb-65536x65536.png", PL_E_TOO_MANY_PIXELS, PL_OK},
        {"bad/corrupt-header.jpg", PL_E_DECODE, PL_E_DECODE},
        /* 884 valid scans, each a full decoding pass: refused before any decode (pl_jpeg_markers.c) */
        {"bad/jpeg-884-scans.jpg", PL_E_TOO_MANY_PIXELS, PL_E_TOO_MANY_PIXELS},
        {"bad/jpeg-with-png-extension.png", PL_OK, PL_OK},
        {"bad/libpng-badadler.png", PL_OK, PL_OK},
        {"bad/libpng-badcrc.png", PL_E_DECODE, PL_OK}, /* fail_on=error: a CRC error in the pixel data is an error */
        {"bad/lossless-jpeg-sof3.jpg", PL_E_DECODE, PL_E_DECODE},
        {"bad/not-an-image-icc-profile.icm", PL_E_UNSUPPORTED_INPUT, PL_E_UNSUPPORTED_INPUT},
        {"bad/not-an-image-text.txt", PL_E_UNSUPPORTED_INPUT, PL_E_UNSUPPORTED_INPUT},
        {"bad/not-an-image.pdf", PL_E_UNSUPPORTED_INPUT, PL_E_UNSUPPORTED_INPUT}, /* PDF not in the default allowed inputs */
        {"bad/png-with-jpg-extension.jpg", PL_OK, PL_OK},
        {"bad/pngsuite-xcrn0g04-crlf-mangled.png", PL_E_UNSUPPORTED_INPUT, PL_E_UNSUPPORTED_INPUT},
        {"bad/pngsuite-xdtn0g01-no-idat.png", PL_E_DECODE, PL_E_DECODE},
        {"bad/pngsuite-xhdn0g08-bad-ihdr-crc.png", PL_E_DECODE, PL_E_DECODE},
        {"bad/pngsuite-xs1n0g01-bad-signature.png", PL_E_UNSUPPORTED_INPUT, PL_E_UNSUPPORTED_INPUT},
        {"bad/truncated-10000B.jpg", PL_E_DECODE, PL_OK}, /* fail_on=error: truncation is refused, not served half grey */
        {"bad/truncated-10000B.png", PL_E_DECODE, PL_OK},
        {"bad/vector-check.svg", PL_E_UNSUPPORTED_INPUT, PL_E_UNSUPPORTED_INPUT}, /* SVG not in the default allowed inputs */
        {"bad/zero-byte.jpg", PL_E_EMPTY, PL_E_EMPTY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eu_file f = eu_read(cases[i].file);
        const char *specs[] = {"resize?width=100", "info", "transform?w=50&type=png"};
        for (int s = 0; s < 3; s++) {
            pl_result r;
            pl_error e;
            int64_t t0 = g_get_monotonic_time();
            int rc = eu_run(specs[s], &f, &r, &e);
            double ms = (g_get_monotonic_time() - t0) / 1000.0;
            int want = s == 1 ? cases[i].info_code : cases[i].code;
            if (want == PL_OK)
                ok(rc == 0 && r.len > 0 && (s == 1 || eu_decode(&r).ok), "%s %s decodes (%.0f ms)", cases[i].file, specs[s], ms);
            else
                ok(rc == -1 && e.code == (pl_code)want && e.message[0] != '\0', "%s %s -> %s (%.0f ms)", cases[i].file, specs[s],
                   pl_error_name((pl_code)want), ms);
            if (rc == -1 && e.code != (pl_code)want)
                diag("  got %s: %s", pl_error_name(e.code), e.message);
            pl_result_clear(&r);
        }
        eu_free(&f);
    }
    /* a truncated JPEG at an m/8 scale (TurboJPEG tried first): the same error as libvips' path */
    {
        eu_file tr = eu_read("bad/truncated-10000B.jpg"); /* 2725x2225 */
        const char *specs[] = {"transform?w=2044&type=png", "transform?w=1000&type=png", "resize?width=2044&type=webp"};
        for (int s = 0; s < 3; s++) {
            pl_result r;
            pl_error e, e_old;
            int rc = eu_run(specs[s], &tr, &r, &e);
            int rc_old = eu_run_switched_off(PL_NO_JPEG_MSCALE, specs[s], &tr, &r, &e_old);
            ok(rc == -1 && rc_old == -1 && e.code == PL_E_DECODE && e_old.code == PL_E_DECODE &&
                   strcmp(e.message, e_old.message) == 0,
               "truncated JPEG %s -> %s, as with IMGPIPE_NO_JPEG_MSCALE=1 (%s)", specs[s], pl_error_name(e.code), e.message);
            pl_result_clear(&r);
        }
        eu_free(&tr);
    }
    /* the bomb is refused from its header, in milliseconds */
    eu_file bomb = eu_read("bad/bomb-65536x65536.png");
    pl_result r;
    pl_error e;
    int64_t t0 = g_get_monotonic_time();
    int rc = eu_run("resize?width=100", &bomb, &r, &e);
    double ms = (g_get_monotonic_time() - t0) / 1000.0;
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS && ms < 200, "bomb refused in %.1f ms: %s", ms, e.message);
    pl_probe_info pi;
    ok(pl_probe(bomb.data, bomb.len, &pi, &e) == 0 && pi.width == 65536 && pi.height == 65536 &&
           pi.decode_bytes == 65536ull * 65536ull * 3ull,
       "probe reads the bomb's header: 65536x65536, %llu bytes to decode", (unsigned long long)pi.decode_bytes);
    eu_free(&bomb);

    /* allowed_inputs and the pixel/decode limits */
    eu_file f = eu_read("imaginary/imaginary.jpg");
    pl_limits lim;
    pl_limits_default(&lim);
    lim.allowed_inputs = 1u << PL_FMT_PNG;
    rc = eu_run_full("resize?width=10", f.data, f.len, NULL, &lim, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_UNSUPPORTED_INPUT, "JPEG refused when only PNG is allowed");
    pl_limits_default(&lim);
    lim.max_input_pixels = 100000;
    rc = eu_run_full("resize?width=10", f.data, f.len, NULL, &lim, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS, "550x740 over a 0.1 MP input limit");
    pl_limits_default(&lim);
    lim.max_output_pixels = 100000;
    rc = eu_run_full("thumbnail?width=1000", f.data, f.len, NULL, &lim, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS, "1000x1345 output over a 0.1 MP output limit");
    pl_limits_default(&lim);
    lim.max_output_pixels = 1000000;
    int64_t t0e = g_get_monotonic_time();
    rc = eu_run_full("enlarge?width=2000&height=2000&gravity=smart", f.data, f.len, NULL, &lim, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS && g_get_monotonic_time() - t0e < 500000,
       "an enlargement over the output limit is refused before any smart-crop analysis");
    pl_limits_default(&lim);
    lim.max_decode_bytes = 1000000;
    rc = eu_run_full("resize?width=10", f.data, f.len, NULL, &lim, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS, "1.2 MB decode over a 1 MB decode limit");
    eu_file svg = eu_read("bad/vector-check.svg");
    pl_limits_default(&lim);
    lim.allowed_inputs |= 1u << PL_FMT_SVG;
    rc = eu_run_full("resize?width=10", svg.data, svg.len, NULL, &lim, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_UNSUPPORTED_INPUT && strstr(e.message, "untrusted") != NULL,
       "SVG allowed but libvips' untrusted loaders blocked: %s", e.message);
    eu_free(&svg);
    uint32_t mask = 0;
    ok(pl_formats_parse_mask("jpeg, png,webp", &mask, &e) == 0 &&
           mask == ((1u << PL_FMT_JPEG) | (1u << PL_FMT_PNG) | (1u << PL_FMT_WEBP)),
       "pl_formats_parse_mask");
    ok(pl_formats_parse_mask("JPG tif,heic jp2", &mask, &e) == 0 &&
           mask == ((1u << PL_FMT_JPEG) | (1u << PL_FMT_TIFF) | (1u << PL_FMT_HEIF) | (1u << PL_FMT_JP2K)) &&
           pl_formats_need_untrusted(mask),
       "the mask's other names, any case; jp2 needs the untrusted loaders");
    ok(pl_formats_parse_mask("jpeg,bmp", &mask, &e) == -1 && e.code == PL_E_PARAM && strstr(e.message, "bmp") &&
           strstr(e.message, "known: jpeg, png, webp, gif, tiff, heif, avif, svg, pdf, jp2k"),
       "unknown type in the mask: %s", e.message);
    ok(pl_formats_parse_mask("auto", &mask, &e) == -1 && pl_formats_parse_mask(" , ", &mask, &e) == -1,
       "auto and an empty list are no input types");
    pl_limits_default(&lim);
    ok(lim.allowed_inputs == ((1u << PL_FMT_JPEG) | (1u << PL_FMT_PNG) | (1u << PL_FMT_WEBP) | (1u << PL_FMT_GIF) |
                              (1u << PL_FMT_TIFF) | (1u << PL_FMT_HEIF) | (1u << PL_FMT_AVIF)) &&
           !pl_formats_need_untrusted(lim.allowed_inputs),
       "default inputs: the trusted loaders");
    eu_free(&f);
}

static void test_formats_in(void)
{
    static const struct {
        const char *file;
        pl_format out;
    } cases[] = {
        {"edge/example.avif", PL_FMT_AVIF},           {"edge/iphone-displayp3.heic", PL_FMT_HEIF},
        {"edge/tiff-multipage.tif", PL_FMT_TIFF},     {"edge/palette-swiss.png", PL_FMT_PNG},
        {"photos/webp-gallery-4.webp", PL_FMT_WEBP},  {"edge/progressive-GreenMeadow.jpg", PL_FMT_JPEG},
        {"edge/tiny-2x1-grey-alpha.gif", PL_FMT_GIF}, {"edge/pngsuite-basi6a08-interlaced.png", PL_FMT_PNG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eu_file f = eu_read(cases[i].file);
        pl_result r;
        pl_error e;
        int rc = eu_run("thumbnail?width=20", &f, &r, &e);
        eu_img d = eu_decode(&r);
        ok(rc == 0 && d.ok && d.width == 20 && r.format == cases[i].out && pl_sniff(r.data, r.len) == cases[i].out,
           "%s -> width 20, %s out (%s)", cases[i].file, pl_format_name(cases[i].out), r.mime ? r.mime : "-");
        pl_result_clear(&r);
        eu_free(&f);
    }
}

/* Crashers and leaks the fuzzer found (tests/engine/regress): each still answers cleanly. Run
 * under ASan (see tests/lsan.supp) to check the leak stays fixed. */
static void test_regress(void)
{
    static const struct {
        const char *file, *spec;
        pl_code code;
    } cases[] = {
        /* 1x118 JPEG, fit box 1x30: shrink-on-load 1/4 made a 0-wide image and libvips aborted */
        {"edge/tall-1x118.jpg", "fit?width=30&height=30", PL_OK},
        {"../engine/regress/fuzz-jpeg-1x118-shrink-abort.jpg", "fit?width=30&height=30&type=avif", PL_E_DECODE},
        /* animated GIF with a broken 5th frame, to animated WebP: libvips 8.14 leaked the encoder */
        {"../engine/regress/fuzz-gif-bad-frame-to-webp.gif", "rotate?rotate=90&type=webp", PL_E_DECODE},
        {"../engine/regress/fuzz-gif-bad-frame-to-webp.gif", "transform?w=50&type=webp", PL_E_DECODE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eu_file f = eu_read(cases[i].file);
        pl_result r;
        pl_error e;
        int rc = eu_run(cases[i].spec, &f, &r, &e);
        if (cases[i].code == PL_OK)
            ok(f.len > 0 && rc == 0 && eu_decode(&r).ok, "regress %s %s decodes", cases[i].file, cases[i].spec);
        else
            ok(f.len > 0 && rc == -1 && e.code == cases[i].code, "regress %s %s -> %s", cases[i].file, cases[i].spec,
               pl_error_name(cases[i].code));
        pl_result_clear(&r);
        eu_free(&f);
    }
}

/* pl_decode_bytes_estimate (TurboJPEG's header for JPEG) agrees with pl_probe's decode_bytes
 * (libvips' header) on every JPEG fixture, grey and CMYK included; other formats go through
 * pl_probe; what does not parse is 0. */
static void test_decode_estimate(void)
{
    static const char *const dirs[] = {"photos", "edge", "bad"};
    int n_jpeg = 0, agree = 0;
    for (size_t d = 0; d < G_N_ELEMENTS(dirs); d++) {
        char *path = g_build_filename(tap_fixture(""), dirs[d], NULL);
        GDir *dir = g_dir_open(path, 0, NULL);
        const char *name;
        while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
            char rel[512];
            snprintf(rel, sizeof(rel), "%s/%s", dirs[d], name);
            eu_file f = eu_read(rel);
            pl_probe_info pi;
            pl_error e;
            if (f.len > 0 && pl_sniff(f.data, f.len) == PL_FMT_JPEG && pl_probe(f.data, f.len, &pi, &e) == 0) {
                n_jpeg++;
                uint64_t est = pl_decode_bytes_estimate(f.data, f.len);
                if (est == pi.decode_bytes)
                    agree++;
                else
                    diag("%s: estimate %llu, libvips header %llu", rel, (unsigned long long)est,
                         (unsigned long long)pi.decode_bytes);
            }
            eu_free(&f);
        }
        if (dir != NULL)
            g_dir_close(dir);
        g_free(path);
    }
    ok(n_jpeg >= 10 && agree == n_jpeg, "decode estimate from TurboJPEG's header = libvips' on %d of %d JPEG fixtures", agree,
       n_jpeg);
    eu_file png = eu_read("photos/coffee.png");
    pl_probe_info pi;
    pl_error e;
    ok(png.len > 0 && pl_probe(png.data, png.len, &pi, &e) == 0 && pl_decode_bytes_estimate(png.data, png.len) == pi.decode_bytes,
       "PNG: the estimate is pl_probe's");
    eu_free(&png);
    is_int((long long)pl_decode_bytes_estimate((const uint8_t *)"hello", 5), 0, "not an image: 0");
    is_int((long long)pl_decode_bytes_estimate((const uint8_t *)"\xff\xd8\xff\xe0", 4), 0, "a JPEG cut in its header: 0");
}

/* pl_jpeg_markers.c: the frame header's SOFn and the scans, counted from the markers, stopping
 * past the limit */
static void test_markers(void)
{
    static const struct {
        const char *file;
        int limit, want, sof;
    } cases[] = {
        {"edge/progressive-GreenMeadow.jpg", 500, 10, 2}, /* libjpeg's progressive script */
        {"edge/exif-orientation-1.jpg", 500, 1, 0},       /* baseline, with an EXIF APP1 */
        {"bad/lossless-jpeg-sof3.jpg", 500, 1, 3},        {"bad/jpeg-884-scans.jpg", 1000, 884, 2},
        {"bad/jpeg-884-scans.jpg", 500, 501, 2},          {"bad/png-with-jpg-extension.jpg", 500, 0, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eu_file f = eu_read(cases[i].file);
        int sof = -2, n = f.data != NULL ? pl_jpeg_markers(f.data, f.len, cases[i].limit, &sof) : -1;
        ok(n == cases[i].want && sof == cases[i].sof, "%s: %d scans counted (limit %d), SOF%d (got %d, SOF%d)", cases[i].file,
           cases[i].want, cases[i].limit, cases[i].sof, n, sof);
        if (i == 0 && f.data != NULL) { /* every truncation of a real file: no overrun, never more */
            int worst = 0;
            for (size_t len = 0; len <= f.len; len += 1 + len / 64) {
                int k = pl_jpeg_markers(f.data, len, 500, &sof);
                if (k > worst)
                    worst = k;
            }
            ok(worst <= 10, "... and its truncations count at most 10 (%d)", worst);
        }
        eu_free(&f);
    }
}

/* A synthetic stream: SOI, SOFn with nf components, then `scans` scans of ns components each
 * with a few bytes of entropy-coded data, EOI. */
static size_t synthetic_jpeg(uint8_t *b, int sofn, int nf, int ns, int scans)
{
    size_t n = 0;
    b[n++] = 0xFF, b[n++] = 0xD8;
    b[n++] = 0xFF, b[n++] = (uint8_t)(0xC0 + sofn), b[n++] = 0, b[n++] = (uint8_t)(8 + 3 * nf);
    b[n++] = 8, b[n++] = 0, b[n++] = 16, b[n++] = 0, b[n++] = 16, b[n++] = (uint8_t)nf;
    for (int c = 0; c < nf; c++)
        b[n++] = (uint8_t)(c + 1), b[n++] = 0x11, b[n++] = 0;
    for (int k = 0; k < scans; k++) {
        b[n++] = 0xFF, b[n++] = 0xDA, b[n++] = 0, b[n++] = (uint8_t)(6 + 2 * ns), b[n++] = (uint8_t)ns;
        for (int c = 0; c < ns; c++)
            b[n++] = (uint8_t)(c + 1), b[n++] = 0;
        b[n++] = 0, b[n++] = 63, b[n++] = 0;
        b[n++] = 0x12, b[n++] = 0xFF, b[n++] = 0x00, b[n++] = 0x34; /* data with a stuffed 0xFF */
    }
    b[n++] = 0xFF, b[n++] = 0xD9;
    return n;
}

/* The walk stops at a sequential frame's first scan when it carries every component (libjpeg-turbo
 * decodes that one scan and refuses another); non-interleaved and progressive scans are counted. */
static void test_markers_single_scan(void)
{
    static uint8_t b[64 << 10];
    int sof;
    size_t n = synthetic_jpeg(b, 0, 3, 3, 700);
    is_int(pl_jpeg_markers(b, n, 500, &sof), 1, "baseline, first scan interleaved, 699 more after it: 1 scan (one pass)");
    n = synthetic_jpeg(b, 9, 1, 1, 700);
    is_int(pl_jpeg_markers(b, n, 500, &sof), 1, "arithmetic sequential grey, 700 scans: 1");
    n = synthetic_jpeg(b, 0, 3, 1, 700);
    is_int(pl_jpeg_markers(b, n, 500, &sof), 501, "baseline, non-interleaved scans (each a pass): counted past the limit");
    n = synthetic_jpeg(b, 2, 3, 3, 700);
    is_int(pl_jpeg_markers(b, n, 500, &sof), 501, "progressive with interleaved scans: counted past the limit");
    n = synthetic_jpeg(b, 1, 3, 2, 3);
    is_int(pl_jpeg_markers(b, n, 500, &sof), 3, "extended sequential, 2 of 3 components a scan: 3 counted");
    /* a real baseline photo with 600 copies of its scan after it (once refused as 601 scans) gives
     * what the photo with one copy gives: the decoders read the first scan, fail at the second SOS
     * (TurboJPEG's error sends the 1/4 decode to libvips' loader, which stops there too) */
    eu_file f = eu_read("edge/exif-orientation-1.jpg");
    const uint8_t *sos = f.data != NULL ? memmem(f.data, f.len, "\xff\xda", 2) : NULL;
    if (sos != NULL && f.len > 2 && f.data[f.len - 2] == 0xFF && f.data[f.len - 1] == 0xD9) {
        size_t head = (size_t)(sos - f.data), scan = f.len - 2 - head;
        uint8_t *m[2];
        size_t mlen[2];
        for (int v = 0; v < 2; v++) {
            int copies = v == 0 ? 1 : 600;
            mlen[v] = f.len + (size_t)copies * scan;
            m[v] = g_malloc(mlen[v]);
            memcpy(m[v], f.data, f.len - 2);
            for (int k = 0; k < copies; k++)
                memcpy(m[v] + f.len - 2 + (size_t)k * scan, sos, scan);
            m[v][mlen[v] - 2] = 0xFF, m[v][mlen[v] - 1] = 0xD9;
        }
        const char *specs[] = {"resize?width=150&type=png", "resize?width=600&type=png"}; /* 1/4 scale, and whole */
        for (int k = 0; k < 2; k++) {
            pl_result a, b;
            pl_error ea, eb;
            memset(&a, 0, sizeof(a)), memset(&b, 0, sizeof(b));
            int ra = eu_run_full(specs[k], m[0], mlen[0], NULL, NULL, NULL, &a, &ea);
            int rb = eu_run_full(specs[k], m[1], mlen[1], NULL, NULL, NULL, &b, &eb);
            double d = ra == 0 && rb == 0 ? eu_maxdiff(&a, &b) : -9;
            ok(d == 0, "%s of the photo with 600 scans after its own: what one more gives (maxdiff %.0f; %s)", specs[k], d,
               rb == 0 ? "ok" : eb.message);
            pl_result_clear(&a);
            pl_result_clear(&b);
        }
        g_free(m[0]);
        g_free(m[1]);
    } else {
        ok(0, "edge/exif-orientation-1.jpg: a baseline JPEG ending in EOI");
    }
    eu_free(&f);
    /* a frame header whose segment is too short to hold Nf (the byte where Nf would be belongs to
     * the next segment): no short-cut, the scans are counted */
    {
        size_t k = 0;
        b[k++] = 0xFF, b[k++] = 0xD8, b[k++] = 0xFF, b[k++] = 0xC0, b[k++] = 0, b[k++] = 2;
        for (int sc = 0; sc < 700; sc++) {
            static const uint8_t sos1[] = {0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0x34};
            memcpy(b + k, sos1, sizeof(sos1));
            k += sizeof(sos1);
        }
        b[k++] = 0xFF, b[k++] = 0xD9;
        is_int(pl_jpeg_markers(b, k, 500, &sof), 501, "a frame header too short for Nf: the scans are counted");
    }
    /* a frame header cut before Nf: not taken for a one-scan frame */
    uint8_t cut[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0};
    is_int(pl_jpeg_markers(cut, sizeof(cut), 500, &sof), 0, "a frame header cut short: no scan");
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    test_sniff();
    test_decode_estimate();
    test_formats_in();
    test_orientation();
    test_colour();
    test_animation();
    test_bad();
    test_markers();
    test_markers_single_scan();
    test_regress();
    return tap_done();
}
