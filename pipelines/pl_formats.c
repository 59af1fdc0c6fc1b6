/*
 * pl_formats: the format table (see pl_formats.h) and the lookups over it.
 *
 * Max sides: libwebp 16383; JPEG 65500 (libjpeg's JPEG_MAX_DIMENSION; the format's fields would
 * hold 65535); GIF 65535; HEIF/AVIF libheif's default security limit
 * 16384; PNG/TIFF none of their own (the output-pixel limit decides). The magic numbers are
 * disjoint, so table order only matters where two could both match: the ftyp box (HEIF, AVIF)
 * is tested after the binary signatures before it and before JPEG 2000 (whose codestream
 * signature leaves bytes 4-7 free), and pl_sniff's SVG text test comes last.
 *
 * Threads: const table, pure functions.
 */
#include "pl_formats.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PL_FTYP                                                                                                                    \
    {                                                                                                                              \
        "\0\0\0\0ftyp", "....xxxx", 8                                                                                              \
    }

static const pl_format_info pl_format_table[PL_FMT__COUNT] = {
    [PL_FMT_UNKNOWN] = {0},
    [PL_FMT_JPEG] = {.name = "jpeg",
                     .type_alias = "jpg",
                     .list_alias = "jpg",
                     .mime = "image/jpeg",
                     .ext = "jpg",
                     .loader = "jpegload_buffer",
                     .saver = "jpegsave_buffer",
                     .type_param = true,
                     .grey = true,
                     .max_side = 65500,
                     .magic = {{"\xFF\xD8\xFF", NULL, 3}}},
    [PL_FMT_PNG] = {.name = "png",
                    .mime = "image/png",
                    .ext = "png",
                    .loader = "pngload_buffer",
                    .saver = "pngsave_buffer",
                    .type_param = true,
                    .alpha = true,
                    .grey = true,
                    .deep = true,
                    .magic = {{"\x89PNG\r\n\x1A\n", NULL, 8}}},
    [PL_FMT_WEBP] = {.name = "webp",
                     .mime = "image/webp",
                     .ext = "webp",
                     .loader = "webpload_buffer",
                     .saver = "webpsave_buffer",
                     .type_param = true,
                     .animates = true,
                     .alpha = true,
                     .max_side = 16383,
                     .magic = {{"RIFF\0\0\0\0WEBP", "xxxx....xxxx", 12}}},
    [PL_FMT_GIF] = {.name = "gif",
                    .mime = "image/gif",
                    .ext = "gif",
                    .loader = "gifload_buffer",
                    .saver = "gifsave_buffer",
                    .type_param = true,
                    .animates = true,
                    .alpha = true,
                    .max_side = 65535,
                    .magic = {{"GIF87a", NULL, 6}, {"GIF89a", NULL, 6}}},
    [PL_FMT_TIFF] = {.name = "tiff",
                     .list_alias = "tif",
                     .mime = "image/tiff",
                     .ext = "tiff",
                     .loader = "tiffload_buffer",
                     .saver = "tiffsave_buffer",
                     .type_param = true,
                     .alpha = true,
                     .grey = true,
                     .deep = true,
                     .magic = {{"II*\0", NULL, 4}, {"MM\0*", NULL, 4}, {"II+\0", NULL, 4}, {"MM\0+", NULL, 4}}},
    [PL_FMT_HEIF] = {.name = "heif",
                     .list_alias = "heic",
                     .mime = "image/heif",
                     .ext = "heif",
                     .loader = "heifload_buffer",
                     .saver = "heifsave_buffer",
                     .type_param = true,
                     .alpha = true,
                     .max_side = 16384,
                     .magic = {PL_FTYP},
                     .brands = "heic heix hevc hevx heim heis mif1 msf1 mif2"},
    [PL_FMT_AVIF] = {.name = "avif",
                     .mime = "image/avif",
                     .ext = "avif",
                     .loader = "heifload_buffer",
                     .saver = "heifsave_buffer",
                     .type_param = true,
                     .alpha = true,
                     .max_side = 16384,
                     .magic = {PL_FTYP},
                     .brands = "avif avis"},
    [PL_FMT_SVG] = {.name = "svg", .mime = "image/svg+xml", .ext = "svg", .loader = "svgload_buffer", .untrusted = true},
    [PL_FMT_PDF] = {.name = "pdf",
                    .mime = "application/pdf",
                    .ext = "pdf",
                    .loader = "pdfload_buffer",
                    .untrusted = true,
                    .magic = {{"%PDF-", NULL, 5}}},
    [PL_FMT_JP2K] = {.name = "jp2k",
                     .list_alias = "jp2",
                     .mime = "image/jp2",
                     .ext = "jp2",
                     .loader = "jp2kload_buffer",
                     .untrusted = true,
                     .magic = {{"\0\0\0\x0CjP  \r\n\x87\n", NULL, 12}, {"\xFF\x4F\xFF\x51", NULL, 4}}},
    [PL_FMT_AUTO] = {.name = "auto", .type_param = true},
};

const pl_format_info *pl_format_get(pl_format f)
{
    return &pl_format_table[(unsigned)f < PL_FMT__COUNT ? f : PL_FMT_UNKNOWN];
}

const char *pl_format_name(pl_format f)
{
    return pl_format_get(f)->name;
}

const char *pl_format_mime(pl_format f)
{
    return pl_format_get(f)->mime;
}

static bool pl_format_word_is(const char *s, size_t len, const char *word)
{
    return word != NULL && strlen(word) == len && g_ascii_strncasecmp(s, word, len) == 0;
}

int pl_format_from_type(const char *s, size_t len)
{
    while (len > 0 && g_ascii_isspace(s[0]))
        s++, len--;
    while (len > 0 && g_ascii_isspace(s[len - 1]))
        len--;
    for (int f = 0; f < PL_FMT__COUNT; f++) {
        const pl_format_info *fi = &pl_format_table[f];
        if (fi->type_param && (pl_format_word_is(s, len, fi->name) || pl_format_word_is(s, len, fi->type_alias)))
            return f;
    }
    return -1;
}

const char *pl_format_list(bool (*keep)(const pl_format_info *fi), char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (int f = 0; f < PL_FMT__COUNT; f++) {
        const pl_format_info *fi = &pl_format_table[f];
        if (fi->name == NULL || !keep(fi))
            continue;
        int n = snprintf(out + o, size - o, "%s%s", o ? ", " : "", fi->name);
        if (n < 0 || (size_t)n >= size - o)
            break;
        o += (size_t)n;
    }
    return out;
}

static bool pl_format_is_input(const pl_format_info *fi)
{
    return fi->loader != NULL;
}

uint32_t pl_formats_default_mask(void)
{
    uint32_t m = 0;
    for (int f = 0; f < PL_FMT__COUNT; f++)
        if (pl_format_table[f].loader != NULL && !pl_format_table[f].untrusted)
            m |= 1u << f;
    return m;
}

bool pl_formats_need_untrusted(uint32_t mask)
{
    for (int f = 0; f < PL_FMT__COUNT; f++)
        if ((mask & (1u << f)) && pl_format_table[f].untrusted)
            return true;
    return false;
}

/* One name of a server type list: a loader's format by name or list_alias, case-insensitive. */
static int pl_formats_list_name(const char *s, size_t n)
{
    for (int f = 0; f < PL_FMT__COUNT; f++) {
        const pl_format_info *fi = &pl_format_table[f];
        if (fi->loader != NULL && (pl_format_word_is(s, n, fi->name) || pl_format_word_is(s, n, fi->list_alias)))
            return f;
    }
    return -1;
}

int pl_formats_parse_mask(const char *list, uint32_t *mask, pl_error *err)
{
    uint32_t m = 0;
    const char *p = list != NULL ? list : "";
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        const char *s = p;
        while (*p != '\0' && *p != ',' && *p != ' ')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0)
            continue;
        int f = pl_formats_list_name(s, n);
        if (f < 0) {
            char known[128];
            return pl_error_set(err, PL_E_PARAM, "unknown image type \"%.*s\" in the type list; known: %s", (int)(n > 32 ? 32 : n),
                                s, pl_format_list(pl_format_is_input, known, sizeof(known)));
        }
        m |= 1u << f;
    }
    if (m == 0)
        return pl_error_set(err, PL_E_PARAM, "empty image type list; give e.g. \"jpeg,png,webp\"");
    *mask = m;
    return 0;
}
