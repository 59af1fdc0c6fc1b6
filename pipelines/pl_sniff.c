/*
 * pl_sniff: the input's real format from its first bytes (magic numbers), never from a name or
 * a Content-Type. Binary signatures are checked before the SVG text test, so a WebP whose pixels
 * happen to contain "<svg" is a WebP. HEIF and AVIF share the ISO-BMFF "ftyp" box: the major and
 * compatible brands tell them apart. The signatures and brands are the format table's
 * (pl_formats.c); the SVG text test is this file's own. Pure function, thread-safe, no libvips.
 */
#include <string.h>

#include "pl_engine.h"

static bool pl_sniff_has(const uint8_t *d, size_t len, size_t off, const char *magic, size_t n)
{
    return len >= off + n && memcmp(d + off, magic, n) == 0;
}

/* ISO-BMFF: size(4) "ftyp" major(4) minor(4) compatible(4)*... The brands of the table's rows:
 * the major brand, then the compatible ones; the row latest in the table wins (any AVIF brand
 * makes it AVIF). */
static pl_format pl_sniff_ftyp(const uint8_t *d, size_t len)
{
    if (len < 16)
        return PL_FMT_UNKNOWN;
    size_t box = ((size_t)d[0] << 24) | ((size_t)d[1] << 16) | ((size_t)d[2] << 8) | d[3];
    if (box < 16 || box > len)
        box = len < 256 ? len : 256;
    pl_format found = PL_FMT_UNKNOWN;
    for (size_t off = 8; off + 4 <= box; off += 4) {
        if (off == 12)
            continue; /* minor version */
        for (int f = found + 1; f < PL_FMT__COUNT; f++) {
            const char *b = pl_format_get(f)->brands;
            for (; b != NULL && *b != '\0'; b += b[4] == ' ' ? 5 : 4)
                if (memcmp(d + off, b, 4) == 0)
                    found = f;
        }
    }
    return found;
}

/* One signature of the table, at the start of the file. */
static bool pl_sniff_magic(const uint8_t *d, size_t len, const pl_format_magic *m)
{
    if (m->len == 0 || len < m->len)
        return false;
    for (size_t i = 0; i < m->len; i++)
        if ((m->mask == NULL || m->mask[i] != '.') && d[i] != (uint8_t)m->bytes[i])
            return false;
    return true;
}

/* Text that starts (after a BOM, blanks and XML prologue) like an SVG document. */
static bool pl_sniff_svg(const uint8_t *d, size_t len)
{
    size_t i = 0, end = len < 4096 ? len : 4096;
    if (pl_sniff_has(d, len, 0, "\xEF\xBB\xBF", 3))
        i = 3;
    while (i < end && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
        i++;
    if (i >= end || d[i] != '<')
        return false;
    for (size_t j = i; j < end; j++) {
        if (d[j] == 0)
            return false; /* binary */
        if (j + 4 <= end && memcmp(d + j, "<svg", 4) == 0)
            return true;
    }
    return false;
}

pl_format pl_sniff(const uint8_t *d, size_t len)
{
    if (d == NULL || len < 3)
        return PL_FMT_UNKNOWN;
    for (int f = PL_FMT_UNKNOWN + 1; f < PL_FMT__COUNT; f++) {
        const pl_format_info *fi = pl_format_get(f);
        for (size_t i = 0; i < sizeof(fi->magic) / sizeof(fi->magic[0]); i++) {
            if (!pl_sniff_magic(d, len, &fi->magic[i]))
                continue;
            pl_format b = fi->brands != NULL ? pl_sniff_ftyp(d, len) : (pl_format)f;
            if (b != PL_FMT_UNKNOWN)
                return b;
        }
    }
    if (pl_sniff_svg(d, len))
        return PL_FMT_SVG;
    return PL_FMT_UNKNOWN;
}
