/*
 * pl_sniff: the input's real format from its first bytes (magic numbers), never from a name or
 * a Content-Type. Binary signatures are checked before the SVG text test, so a WebP whose pixels
 * happen to contain "<svg" is a WebP. HEIF and AVIF share the ISO-BMFF "ftyp" box: the major and
 * compatible brands tell them apart. Pure function, thread-safe, no libvips.
 */
#include <string.h>

#include "pl_engine.h"

static bool pl_sniff_has(const uint8_t *d, size_t len, size_t off, const char *magic, size_t n)
{
    return len >= off + n && memcmp(d + off, magic, n) == 0;
}

/* ISO-BMFF: size(4) "ftyp" major(4) minor(4) compatible(4)*... */
static pl_format pl_sniff_ftyp(const uint8_t *d, size_t len)
{
    if (!pl_sniff_has(d, len, 4, "ftyp", 4) || len < 16)
        return PL_FMT_UNKNOWN;
    size_t box = ((size_t)d[0] << 24) | ((size_t)d[1] << 16) | ((size_t)d[2] << 8) | d[3];
    if (box < 16 || box > len)
        box = len < 256 ? len : 256;
    static const char *avif[] = {"avif", "avis"};
    static const char *heif[] = {"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "mif2"};
    bool is_heif = false;
    /* the major brand, then the compatible brands: any AVIF brand makes it AVIF */
    for (size_t off = 8; off + 4 <= box; off += 4) {
        if (off == 12)
            continue; /* minor version */
        for (size_t i = 0; i < sizeof(avif) / sizeof(avif[0]); i++)
            if (memcmp(d + off, avif[i], 4) == 0)
                return PL_FMT_AVIF;
        for (size_t i = 0; i < sizeof(heif) / sizeof(heif[0]); i++)
            if (memcmp(d + off, heif[i], 4) == 0)
                is_heif = true;
    }
    return is_heif ? PL_FMT_HEIF : PL_FMT_UNKNOWN;
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
    if (pl_sniff_has(d, len, 0, "\xFF\xD8\xFF", 3))
        return PL_FMT_JPEG;
    if (pl_sniff_has(d, len, 0, "\x89PNG\r\n\x1A\n", 8))
        return PL_FMT_PNG;
    if (pl_sniff_has(d, len, 0, "GIF87a", 6) || pl_sniff_has(d, len, 0, "GIF89a", 6))
        return PL_FMT_GIF;
    if (pl_sniff_has(d, len, 0, "RIFF", 4) && pl_sniff_has(d, len, 8, "WEBP", 4))
        return PL_FMT_WEBP;
    if (pl_sniff_has(d, len, 0, "II*\0", 4) || pl_sniff_has(d, len, 0, "MM\0*", 4) || pl_sniff_has(d, len, 0, "II+\0", 4) ||
        pl_sniff_has(d, len, 0, "MM\0+", 4))
        return PL_FMT_TIFF;
    pl_format f = pl_sniff_ftyp(d, len);
    if (f != PL_FMT_UNKNOWN)
        return f;
    if (pl_sniff_has(d, len, 0, "\0\0\0\x0CjP  \r\n\x87\n", 12) || pl_sniff_has(d, len, 0, "\xFF\x4F\xFF\x51", 4))
        return PL_FMT_JP2K;
    if (pl_sniff_has(d, len, 0, "%PDF-", 5))
        return PL_FMT_PDF;
    if (pl_sniff_svg(d, len))
        return PL_FMT_SVG;
    return PL_FMT_UNKNOWN;
}
