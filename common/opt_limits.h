/*
 * opt_limits: the settings rows every imgpipe command shares (opt_table.h), one definition each:
 * the engine's limits (the fields of pl_limits, pipelines/pl_engine.h) and the processing
 * deadline. `imgpipe serve`, `imgpipe batch` and `imgpipe-bench --inprocess` include these rows in
 * their tables, so a limit has one name, one syntax, one range and one default everywhere. The
 * defaults are pl_limits_default()'s (tests/common/test_settings.c checks that they agree).
 *
 * Each macro takes the struct the table fills and the member for that setting; integer members may
 * be int, long long or a 32-/64-bit unsigned (opt_table.h), the deadline is milliseconds, the type
 * list a string the command turns into a mask with pl_formats_parse_mask().
 */
#ifndef OPT_LIMITS_H
#define OPT_LIMITS_H

#include "opt_table.h"

#define OPT_LIMIT_PIXELS_MAX 1099511627776.0 /* 2^40 */
#define OPT_LIMIT_DEADLINE_MAX 86400000.0    /* a day, in ms */

#define OPT_ROW_MAX_PIXELS(T, m)                                                                                                   \
    {                                                                                                                              \
        .name = "max-pixels", .type = OPT_INT, .min = 1, .max = OPT_LIMIT_PIXELS_MAX, .def = "50000000", OPT_AT(T, m),             \
        .help = "largest input frame, width x height, checked from the header before decoding"                                     \
    }
#define OPT_ROW_MAX_OUTPUT_PIXELS(T, m)                                                                                            \
    {                                                                                                                              \
        .name = "max-output-pixels", .type = OPT_INT, .min = 1, .max = OPT_LIMIT_PIXELS_MAX, .def = "100000000", OPT_AT(T, m),     \
        .help = "largest output image, width x height"                                                                             \
    }
#define OPT_ROW_MAX_FRAMES(T, m)                                                                                                   \
    {                                                                                                                              \
        .name = "max-frames", .type = OPT_INT, .min = 1, .max = 1024, .def = "256", OPT_AT(T, m),                                  \
        .help = "most frames/pages read from an animated input"                                                                    \
    }
#define OPT_ROW_MAX_HEIF_ENCODE_MS(T, m)                                                                                           \
    {                                                                                                                              \
        .name = "max-heif-encode-ms", .type = OPT_INT, .min = 0, .max = 3600000, .def = "3000", OPT_AT(T, m),                      \
        .help = "estimated CPU-ms an HEIF/AVIF encode may take (libheif cannot be stopped mid-encode); over it, kept HEIF input "  \
                "is written as JPEG/PNG and an asked type=heif|avif is refused; 0 = no limit"                                      \
    }
#define OPT_ROW_DEADLINE(T, m)                                                                                                     \
    {                                                                                                                              \
        .name = "deadline", .type = OPT_DURATION, .min = 0, .max = OPT_LIMIT_DEADLINE_MAX, .def = "10s", OPT_AT(T, m),             \
        .help = "processing deadline per image (serve: per request, queue wait included), e.g. 10s, 500ms, 0.5 (seconds); 0 = "    \
                "none (batch and the bench only); deadline_exceeded (504) when it fires"                                           \
    }
#define OPT_ROW_ALLOWED_TYPES(T, m)                                                                                                \
    {                                                                                                                              \
        .name = "allowed-types", .type = OPT_STR, .def = "jpeg,png,webp,gif,tiff,heif,avif", .arg = "LIST", OPT_AT(T, m),          \
        .help = "input formats accepted (jpeg,png,webp,gif,tiff,heif,avif; svg,pdf,jp2k only when listed: they unblock libvips "   \
                "untrusted loaders); others fail unsupported_media_type (406/415)"                                                 \
    }

/* All six, in this order (T: the struct; then its members for each). */
#define OPT_LIMIT_ROWS(T, pixels, output_pixels, frames, heif_encode_ms, deadline_ms, allowed_types)                               \
    OPT_ROW_MAX_PIXELS(T, pixels), OPT_ROW_MAX_OUTPUT_PIXELS(T, output_pixels), OPT_ROW_MAX_FRAMES(T, frames),                     \
        OPT_ROW_MAX_HEIF_ENCODE_MS(T, heif_encode_ms), OPT_ROW_DEADLINE(T, deadline_ms), OPT_ROW_ALLOWED_TYPES(T, allowed_types)

#endif
