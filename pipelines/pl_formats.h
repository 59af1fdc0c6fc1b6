/*
 * pl_formats: the one table of image formats. What several files need to know about a format
 * is a field of its row: its name (type=, messages, logs, JSON), the other names type= and the
 * server's type lists take, MIME type, file extension, libvips loader and saver, whether it
 * animates, carries alpha, grey and 16-bit samples, needs libvips' untrusted loaders, the
 * largest side its encoder writes, and the first bytes (and ISO-BMFF brands) pl_sniff
 * recognises it by. pl_sniff, pl_load, pl_encode, pl_engine, pl_renditions and the grammar read
 * it; none of them lists formats. What one stage alone does per format (a loader's shrink
 * option, an encoder's settings, effort ranges) stays in that stage. Depends on nothing but
 * pl_error.
 *
 * Threads: a const table and pure functions.
 */
#ifndef PL_FORMATS_H
#define PL_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_error.h"

/* Image formats, for input sniffing and output. The order is the table's (and its lists'). */
typedef enum {
    PL_FMT_UNKNOWN = 0,
    PL_FMT_JPEG,
    PL_FMT_PNG,
    PL_FMT_WEBP,
    PL_FMT_GIF,
    PL_FMT_TIFF,
    PL_FMT_HEIF,
    PL_FMT_AVIF,
    PL_FMT_SVG,
    PL_FMT_PDF,
    PL_FMT_JP2K,
    PL_FMT_AUTO, /* output only: negotiate from Accept */
    PL_FMT__COUNT
} pl_format;

/* A signature at the start of the file: len bytes, each compared unless mask has '.' there. */
typedef struct pl_format_magic {
    const char *bytes;
    const char *mask; /* NULL: every byte counts */
    size_t len;
} pl_format_magic;

typedef struct pl_format_info {
    const char *name;         /* "jpeg"; NULL for PL_FMT_UNKNOWN */
    const char *type_alias;   /* another name type= takes ("jpg"), or NULL */
    const char *list_alias;   /* another name a server type list takes ("jpg", "tif", "heic", "jp2"), or NULL */
    const char *mime;         /* "image/jpeg"; NULL for PL_FMT_AUTO */
    const char *ext;          /* file name extension, "jpg" */
    const char *loader;       /* libvips loader run on the sniffed bytes (never libvips' guess), or NULL */
    const char *saver;        /* libvips saver pl_encode calls, or NULL: not written */
    bool type_param;          /* a value of type= */
    bool animates;            /* the loader reads, the saver writes several frames */
    bool alpha;               /* the saver writes an alpha channel */
    bool grey;                /* the saver writes grey images as such (the rest get sRGB) */
    bool deep;                /* the saver writes 16-bit samples (the rest get 8-bit) */
    bool untrusted;           /* libvips blocks the loader unless allow_untrusted; not allowed by default */
    int max_side;             /* largest side the saver writes; 0 = none of its own (the pixel limits decide) */
    pl_format_magic magic[4]; /* any one of them identifies the format (unused ones have len 0) */
    const char *brands;       /* ISO-BMFF ftyp brands ("avif avis"), 4 characters each, or NULL */
} pl_format_info;

/* The row of f; the PL_FMT_UNKNOWN row (all NULL, false, 0) for anything out of range. */
const pl_format_info *pl_format_get(pl_format f);

const char *pl_format_name(pl_format f); /* "jpeg" …; NULL for unknown */
const char *pl_format_mime(pl_format f); /* "image/jpeg" …; NULL for unknown and auto */

/* The format type= names by word (name or type_alias: trimmed, case-insensitive, as imaginary's
 * enum parsers), or -1. */
int pl_format_from_type(const char *s, size_t len);

/* The names of the formats keep() accepts, in table order, ", "-separated, into out (cut at
 * size). Returns out. For messages and the grammar's "allowed" text. */
const char *pl_format_list(bool (*keep)(const pl_format_info *fi), char *out, size_t size);

/* The default allowed inputs (pl_limits_default): every format with a trusted loader. */
uint32_t pl_formats_default_mask(void);

/* Parse a comma-separated type list ("jpeg,png,webp") into a pl_limits.allowed_inputs mask. */
int pl_formats_parse_mask(const char *list, uint32_t *mask, pl_error *err);

/* True when the mask allows a format whose libvips loader is "untrusted" (svg, pdf, jp2k): the
 * caller then sets pl_engine_config.allow_untrusted. Safe because the engine never lets libvips
 * pick a loader: it sniffs the bytes, checks the allow-list, then calls that format's loader. */
bool pl_formats_need_untrusted(uint32_t mask);

#endif
