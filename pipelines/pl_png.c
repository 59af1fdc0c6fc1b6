/*
 * pl_png: a fast decoder for the common PNG layouts (8- and 16-bit grey, grey+alpha, RGB, RGBA,
 * 8-bit palette, tRNS of a palette or a colour key of grey or RGB, not interlaced or Adam7): the IDAT stream is inflated in one
 * call with libdeflate (twice zlib's speed: 77 -> 36 CPU-ms on a 2400x1600 RGBA PNG) and unfiltered in place (pl_png_unfilter.c,
 * SIMD) into a libvips memory image; 16-bit samples are then put in host byte order. libdeflate has no streaming interface, so
 * inflate and unfilter are two passes over the whole image, and the stream must be in one piece: a file's
 * IDAT chunks are gathered in place when the caller allows it (pl_input.moved: the worker's input arena), else copied.
 * While each row is in cache the unfilter also checks whether every alpha
 * sample is opaque: then c->opaque_pixels names the buffer, and pl_ops_resize skips premultiplying it (a no-op at 255).
 * Shrink-on-load (a 2x2 box while unfiltering) takes opaque images, and any alpha when the run
 * allows it (c->premul_decode): the box then premultiplies, and c->premul_pending tells
 * pl_ops_resize that its input already is.
 * Adam7 images are unfiltered pass by pass and their pixels then put in place (a second buffer of
 * the image's size; no shrink-on-load there).
 * 8-bit palette images (with or without tRNS) are unfiltered as indices, then expanded to RGB or
 * RGBA as libpng does for pngload. Grey and RGB with a tRNS colour key are unfiltered as they are
 * stored, then given an alpha band in place: 0 where a pixel is the key, else all ones (libpng's
 * tRNS-to-alpha, which pngload asks for). Neither kind is shrunk on load.
 * Everything else (1/2/4-bit, a key outside the bit depth's range) returns 1 and goes to libvips' pngload, as
 * does any damage (bad CRC, short or corrupt data, bad filter byte), so that loader still reports
 * errors in its own words. Metadata (ICC, EXIF, XMP, text, resolution) is copied
 * from the header image that libvips already read (pl_load_header), so both paths carry the same
 * fields.
 *
 * Ownership: the pixel buffer belongs to the returned image (freed on its "postclose"); the image
 * belongs to c->base. Thread-safe: all state is per call.
 */
#include <libdeflate.h>
#include <string.h>

#include "pl_internal.h"
#include "pl_png_box.h"
#include "pl_png_unfilter.h"

/* What the chunk walk found: the layout (only those the fast path takes) and the IDAT stream. */
typedef struct {
    uint32_t w, h;
    int bands, depth;
    bool adam7;        /* interlaced */
    bool palette;      /* 8-bit indices into pal (bands 3, or 4 with tRNS) */
    bool key;          /* grey or RGB with a tRNS colour key: bands counts the alpha band added */
    uint16_t key_v[3]; /* the key's samples (grey: [0]) */
    int n_pal;
    uint8_t pal[256][4];
    size_t zlen; /* bytes of the zlib stream over all IDAT chunks */
    int n_idat;
} pl_png_layout;

static uint32_t pl_png_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* IHDR: 8- or 16-bit G/GA/RGB/RGBA or 8-bit palette, deflate, standard filters, not interlaced
 * or Adam7; else 1. */
static int pl_png_ihdr(const uint8_t *ih, uint32_t len, pl_png_layout *l)
{
    if (len != 13)
        return 1;
    l->w = pl_png_u32(ih);
    l->h = pl_png_u32(ih + 4);
    l->depth = ih[8];
    l->adam7 = ih[12] == 1;
    int ct = ih[9];
    l->palette = ct == 3;
    if ((l->depth != 8 && l->depth != 16) || (l->palette && l->depth != 8) || ih[10] != 0 || ih[11] != 0 || ih[12] > 1)
        return 1;
    l->bands = ct == 0 ? 1 : ct == 4 ? 2 : ct == 2 || ct == 3 ? 3 : ct == 6 ? 4 : 0;
    return l->bands == 0;
}

/* PLTE of a palette image (elsewhere, a suggestion libpng may apply: left to pngload), once */
static int pl_png_plte(const uint8_t *p, uint32_t len, pl_png_layout *l)
{
    if (!l->palette || l->n_pal != 0 || len % 3 != 0 || len == 0 || len > 3 * 256)
        return 1;
    l->n_pal = (int)(len / 3);
    for (int i = 0; i < l->n_pal; i++) {
        memcpy(l->pal[i], p + 3 * i, 3);
        l->pal[i][3] = 255;
    }
    return 0;
}

/* tRNS, once, before IDAT: of a palette image after its PLTE, the alphas of the first len
 * entries; of grey or RGB, a colour key (its samples within the bit depth). 4 bands out (grey: 2). */
static int pl_png_trns(const uint8_t *p, uint32_t len, pl_png_layout *l)
{
    if (l->n_idat != 0 || l->key || (l->palette && l->bands == 4))
        return 1;
    if (l->palette) {
        if (l->n_pal == 0 || len == 0 || len > (uint32_t)l->n_pal)
            return 1;
        for (uint32_t i = 0; i < len; i++)
            l->pal[i][3] = p[i];
        l->bands = 4;
        return 0;
    }
    if ((l->bands != 1 && l->bands != 3) || len != 2 * (uint32_t)l->bands)
        return 1;
    for (int i = 0; i < l->bands; i++) {
        l->key_v[i] = (uint16_t)(p[2 * i] << 8 | p[2 * i + 1]);
        if (l->depth == 8 && l->key_v[i] > 255)
            return 1; /* libpng warns and compares the low byte: left to it */
    }
    l->key = true;
    l->bands++;
    return 0;
}

/* First pass: check the layout and the CRCs of IHDR and IDAT, measure the IDAT stream, and match
 * the header libvips read. 0 = the fast path takes it. */
static int pl_png_scan(const uint8_t *d, size_t len, const VipsImage *head, pl_png_layout *l)
{
    memset(l, 0, sizeof(*l));
    for (size_t p = 8; p + 12 <= len;) {
        uint32_t L = pl_png_u32(d + p);
        if (L > len - p - 12)
            return 1;
        const uint8_t *type = d + p + 4;
        bool ihdr = memcmp(type, "IHDR", 4) == 0, idat = memcmp(type, "IDAT", 4) == 0;
        bool plte = memcmp(type, "PLTE", 4) == 0, trns = memcmp(type, "tRNS", 4) == 0;
        if ((ihdr || idat || plte || trns) && libdeflate_crc32(0, type, L + 4) != pl_png_u32(d + p + 8 + L))
            return 1;
        if ((ihdr && pl_png_ihdr(d + p + 8, L, l)) || (plte && pl_png_plte(d + p + 8, L, l)) ||
            (trns && pl_png_trns(d + p + 8, L, l)) || (idat && (l->bands == 0 || (l->palette && l->n_pal == 0))))
            return 1;
        if (idat) {
            l->zlen += L;
            l->n_idat++;
        }
        if (memcmp(type, "IEND", 4) == 0)
            break;
        p += 12 + (size_t)L;
    }
    return l->bands == 0 || l->n_idat == 0 || l->w == 0 || l->h == 0 || (int)l->w != head->Xsize || (int)l->h != head->Ysize ||
           head->Bands != l->bands || head->BandFmt != (l->depth == 16 ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR);
}

/* The zlib stream in one piece (pl_png_stream_open), and what gives the input back
 * (pl_png_stream_close). One IDAT chunk: its payload where it lies. Several, when the caller lets
 * the input be moved about (pl_input.moved) and they follow one another as the standard says:
 * their payloads are gathered in place, each moved back over the 12 bytes before it (the last
 * chunk's CRC, its own length and type), which gaps keeps; that moves what a copy would, without
 * a second buffer of the stream's size in the worker (12 MB of a 2400x1600 RGBA photo, written
 * by libpng in 8 KB chunks). Else the payloads are copied into copy. */
typedef struct {
    const uint8_t *z; /* the stream; NULL when memory ran out */
    uint8_t *copy;    /* owned: the copied payloads, or NULL */
    uint8_t *first;   /* gathered: the first payload (the stream starts there) */
    uint8_t *gaps;    /* owned: 12 bytes for each chunk after the first; NULL: nothing moved */
    uint32_t n;       /* chunks gathered */
    atomic_int *moved;
} pl_png_stream;

/* Offset of the first IDAT chunk, and whether all n follow it one after another. */
static bool pl_png_idat_run(const uint8_t *d, size_t len, uint32_t n, size_t *first)
{
    size_t p = 8;
    while (p + 12 <= len && memcmp(d + p + 4, "IDAT", 4) != 0)
        p += 12 + (size_t)pl_png_u32(d + p);
    *first = p;
    for (uint32_t i = 0; i < n; i++) {
        if (p + 12 > len || memcmp(d + p + 4, "IDAT", 4) != 0)
            return false;
        p += 12 + (size_t)pl_png_u32(d + p);
    }
    return true;
}

/* Gathers the n payloads from the chunk at offset first: 0, or -1 when memory runs out. */
static int pl_png_gather(pl_png_stream *st, uint8_t *d, size_t first, uint32_t n)
{
    if ((st->gaps = g_try_malloc((size_t)(n - 1) * 12)) == NULL)
        return -1;
    st->first = d + first + 8;
    st->n = n;
    atomic_store(st->moved, 1);
    size_t p = first + 12 + pl_png_u32(d + first);
    uint8_t *w = st->first + pl_png_u32(d + first);
    for (uint32_t i = 1; i < n; i++) { /* the gap before payload i lies past what was written */
        uint32_t L = pl_png_u32(d + p);
        memcpy(st->gaps + 12 * (size_t)(i - 1), d + p - 4, 12);
        memmove(w, d + p + 8, L);
        w += L;
        p += 12 + (size_t)L;
    }
    st->z = st->first;
    return 0;
}

static void pl_png_stream_open(pl_png_stream *st, const uint8_t *d, size_t len, const pl_png_layout *l, atomic_int *moved)
{
    memset(st, 0, sizeof(*st));
    st->moved = moved;
    size_t first;
    bool run = pl_png_idat_run(d, len, (uint32_t)l->n_idat, &first);
    if (l->n_idat == 1) {
        st->z = d + first + 8;
        return;
    }
    /* the caller said data may be moved about (pl_input.moved): the one place it is written */
    if (moved != NULL && run && pl_png_gather(st, (uint8_t *)(uintptr_t)d, first, (uint32_t)l->n_idat) == 0)
        return;
    if ((st->copy = g_try_malloc(l->zlen)) == NULL)
        return;
    size_t at = 0;
    for (size_t p = 8; p + 12 <= len;) {
        uint32_t L = pl_png_u32(d + p);
        if (memcmp(d + p + 4, "IDAT", 4) == 0) {
            memcpy(st->copy + at, d + p + 8, L);
            at += L;
        } else if (memcmp(d + p + 4, "IEND", 4) == 0) {
            break;
        }
        p += 12 + (size_t)L;
    }
    st->z = st->copy;
}

/* Every payload back where it was, last first, with the 12 bytes before it; the copy freed. */
static void pl_png_stream_close(pl_png_stream *st, size_t zlen)
{
    g_free(st->copy);
    if (st->gaps == NULL)
        return;
    uint8_t *end = st->first + zlen;
    for (uint32_t i = st->n - 1; i >= 1; i--) {
        const uint8_t *gap = st->gaps + 12 * (size_t)(i - 1);
        uint32_t L = pl_png_u32(gap + 4);
        uint8_t *at = end - L, *orig = at + 12 * (size_t)i;
        memmove(orig, at, L);
        memcpy(orig - 12, gap, 12);
        end = at;
    }
    atomic_store(st->moved, 0);
    g_free(st->gaps);
    st->gaps = NULL;
}

/* Rows y .. y1 - 1 carry filter None and the row after them None or Sub (or there is none): their
 * bytes are their pixels where they lie, and no row reads them again as the row above. */
static bool pl_png_rows_as_they_are(const uint8_t *buf, size_t s, size_t y, size_t y1, size_t h)
{
    for (size_t i = y; i < y1; i++)
        if (buf[i * (s + 1)] != 0)
            return false;
    return y1 >= h || buf[y1 * (s + 1)] <= 1;
}

/* 8-bit, shrink-on-load: unfilter two rows at a time and box them into a new buffer of half the
 * size (pl_png_box.c) while every alpha sample seen is 255 (a plain mean is then the premultiplied
 * one); at the first row that is not, the boxing stops and the rest is only unfiltered (buf still
 * holds every full row) - unless premul: then every pair of rows is premultiplied while it is
 * boxed, and the half-size pixels come out premultiplied (*opaque false says so). Returns the
 * half-size pixels or NULL (not boxed); *bad on damage. Rows that are their own pixels (filter
 * None, pl_png_rows_as_they_are) are boxed where they lie when the boxing cannot stop (no alpha,
 * or premul) instead of moved to the packed layout first: libvips writes every row None, and the
 * moves cost about 1 ms of a 2400x1600 RGBA's 57. At 1 and 2 bytes per pixel the rows are
 * unfiltered a wave at a time (pl_png_wave_rows), so that pl_png_unfilter_rows can run them as
 * one wavefront. */
static uint8_t *pl_png_unfilter_box(uint8_t *buf, const pl_png_layout *l, int alpha, bool premul, bool *opaque, bool *bad)
{
    int bpp = l->bands;
    size_t s = (size_t)l->w * (size_t)bpp, os = ((size_t)l->w + 1) / 2 * (size_t)bpp;
    uint8_t *small = g_try_malloc(os * (((size_t)l->h + 1) / 2));
    *opaque = alpha != 0;
    *bad = false;
    size_t done = 0; /* rows before it unfiltered ahead (a wave of them at once, pl_png_wave_rows) */
    pl_unfilter_mem mem = {0};
    for (size_t y = 0; y < l->h; y += 2) {
        size_t y1 = VIPS_MIN(y + 2, (size_t)l->h);
        const uint8_t *r0 = buf + y * s, *r1 = buf + (y1 - 1) * s;
        if (y1 <= done) {
            /* unfiltered already */
        } else if (small != NULL && (alpha == 0 || premul) && pl_png_rows_as_they_are(buf, s, y, y1, l->h)) {
            r0 = buf + y * (s + 1) + 1; /* boxed where they lie */
            r1 = buf + (y1 - 1) * (s + 1) + 1;
            for (size_t i = y; i < y1 && alpha != 0 && *opaque; i++)
                *opaque = pl_png_row_opaque(buf + i * (s + 1) + 1, s, bpp, alpha);
        } else if ((done = VIPS_MIN(y + VIPS_MAX(pl_png_wave_rows(bpp), 2), (size_t)l->h)),
                   pl_png_unfilter_rows(buf, s, y, done, bpp, alpha, opaque, &mem) != 0) {
            *bad = true;
            break;
        }
        if (small != NULL && alpha != 0 && premul) {
            pl_png_box_row_premul(small + y / 2 * os, r0, r1, l->w, bpp);
        } else if (small != NULL && alpha != 0 && !*opaque) {
            VIPS_FREE(small);
        } else if (small != NULL) {
            pl_png_box_row(small + y / 2 * os, r0, r1, l->w, bpp);
        }
    }
    pl_png_unfilter_mem_free(&mem);
    if (*bad)
        VIPS_FREE(small);
    return small;
}

/* Adam7's seven passes: first column and row, column and row steps */
static const uint8_t pl_png_adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                           {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};

/* Pixels of pass p along a side of n pixels, from first at step */
static size_t pl_png_pass_n(uint32_t n, int first, int step)
{
    return n > (uint32_t)first ? (n - (uint32_t)first + (uint32_t)step - 1) / (uint32_t)step : 0;
}

/* Bytes of the inflated stream: rows with their filter byte (for Adam7, each non-empty pass's) */
static size_t pl_png_raw_size(const pl_png_layout *l, int bpp)
{
    if (!l->adam7)
        return ((size_t)l->w * (size_t)bpp + 1) * (size_t)l->h;
    size_t raw = 0;
    for (int p = 0; p < 7; p++) {
        size_t pw = pl_png_pass_n(l->w, pl_png_adam7[p][0], pl_png_adam7[p][2]);
        size_t ph = pl_png_pass_n(l->h, pl_png_adam7[p][1], pl_png_adam7[p][3]);
        raw += pw > 0 ? (pw * (size_t)bpp + 1) * ph : 0;
    }
    return raw;
}

/* Adam7: each pass unfiltered in place where it lies in the inflated stream, then its pixels put
 * in their places in a new buffer of the whole image (libvips' pngload, through libpng, takes
 * 145-200 CPU-ms for a 2400x1600 RGBA photo -> 512² cover; here about a third). NULL on damage or
 * when memory runs out. */
static uint8_t *pl_png_deinterlace(uint8_t *raw, const pl_png_layout *l, int bpp, int alpha, bool *opaque)
{
    size_t B = (size_t)bpp, s = (size_t)l->w * B;
    uint8_t *out = g_try_malloc(s * (size_t)l->h);
    *opaque = alpha != 0;
    for (int p = 0; p < 7 && out != NULL; p++) {
        const uint8_t *a = pl_png_adam7[p];
        size_t pw = pl_png_pass_n(l->w, a[0], a[2]), ph = pl_png_pass_n(l->h, a[1], a[3]);
        if (pw == 0 || ph == 0)
            continue;
        pl_unfilter_mem mem = {0};
        int rc = pl_png_unfilter_rows(raw, pw * B, 0, ph, bpp, alpha, opaque, &mem);
        pl_png_unfilter_mem_free(&mem);
        if (rc != 0) {
            VIPS_FREE(out);
            break;
        }
        for (size_t y = 0; y < ph; y++)
            for (size_t x = 0; x < pw; x++)
                memcpy(out + (a[1] + y * a[3]) * s + (a[0] + x * a[2]) * B, raw + (y * pw + x) * B, B);
        raw += (pw * B + 1) * ph;
    }
    return out;
}

/* One row of w palette indices to B-byte pixels (B = 3 or 4, a constant at each call so that
 * the 4-byte moves inline): each pixel is stored as 4 bytes from pal32, the 4th of an RGB pixel
 * then overwritten by the next one (the last pixel is copied exactly). false on an index past
 * the palette. */
static inline bool pl_png_expand_row(uint8_t *restrict out, const uint8_t *restrict idx, size_t w, const uint32_t *pal32, int n_pal,
                                     size_t B)
{
    for (size_t x = 0; x < w; x++) {
        if (idx[x] >= n_pal)
            return false;
        if (x + 1 < w || B == 4)
            memcpy(out + x * B, &pal32[idx[x]], 4);
        else
            memcpy(out + x * B, &pal32[idx[x]], 3);
    }
    return true;
}

/* Palette indices (w x h bytes) to RGB or RGBA in a new buffer; NULL on an index past the
 * palette (left to pngload) or when memory runs out. *opaque: RGBA whose palette alphas are 255.
 * Never shrunk on load: palettes of photos are dithered, and a 2x2 box before lanczos3 lets that
 * noise alias into the result (kodim23 quantised, 767 px -> 255/150/100: 36.6/39.2/40.4 dB from
 * the unquantised photo resized, against 42.0/42.9/43.6 for lanczos3 alone). */
static uint8_t *pl_png_expand(const uint8_t *idx, const pl_png_layout *l, bool *opaque)
{
    size_t w = l->w, h = l->h, B = (size_t)l->bands;
    uint32_t pal32[256] = {0};
    *opaque = B == 4;
    for (int i = 0; i < l->n_pal; i++) {
        *opaque = *opaque && l->pal[i][3] == 255;
        memcpy(&pal32[i], l->pal[i], 4);
    }
    uint8_t *out = g_try_malloc(w * h * B);
    bool ok = out != NULL;
    for (size_t y = 0; ok && y < h; y++)
        ok = B == 3 ? pl_png_expand_row(out + y * w * B, idx + y * w, w, pal32, l->n_pal, 3)
                    : pl_png_expand_row(out + y * w * B, idx + y * w, w, pal32, l->n_pal, 4);
    if (!ok)
        VIPS_FREE(out);
    return out;
}

/* A colour key's alpha band added in place: buf holds w x h pixels of B samples of D bytes (host
 * order) and is grown to B + 1 samples a pixel, walking from the last pixel back so that no pixel
 * is overwritten before it is read. alpha 0 where every sample equals the key, else all ones.
 * *opaque: no pixel is the key. NULL when memory runs out (buf is then freed). B and D are
 * constants at each call, so the moves inline. */
static inline uint8_t *pl_png_key_alpha_of(uint8_t *buf, size_t n, const uint16_t *key, size_t B, size_t D, bool *opaque)
{
    uint8_t *out = g_try_realloc(buf, n * (B + 1) * D);
    if (out == NULL) {
        g_free(buf);
        return NULL;
    }
    bool keyed = false;
    for (size_t i = n; i-- > 0;) {
        const uint8_t *src = out + i * B * D;
        uint8_t *dst = out + i * (B + 1) * D;
        bool is_key = true;
        for (size_t b = 0; b < B; b++) {
            uint16_t v = src[b];
            if (D == 2)
                memcpy(&v, src + 2 * b, 2);
            is_key = is_key && v == key[b];
        }
        keyed = keyed || is_key;
        memmove(dst, src, B * D);
        memset(dst + B * D, is_key ? 0 : 255, D);
    }
    *opaque = !keyed;
    return out;
}

static uint8_t *pl_png_key_alpha(uint8_t *buf, const pl_png_layout *l, bool *opaque)
{
    size_t n = (size_t)l->w * l->h;
    if (l->depth == 8)
        return l->bands == 2 ? pl_png_key_alpha_of(buf, n, l->key_v, 1, 1, opaque)
                             : pl_png_key_alpha_of(buf, n, l->key_v, 3, 1, opaque);
    return l->bands == 2 ? pl_png_key_alpha_of(buf, n, l->key_v, 1, 2, opaque)
                         : pl_png_key_alpha_of(buf, n, l->key_v, 3, 2, opaque);
}

/* The zlib stream z of n bytes inflated into out (room bytes), *got = bytes out; 0 or -1 on damage.
 * Its header is checked and its Adler-32 is not: every IDAT chunk's CRC was (pl_png_scan), and the
 * checksum of 15 MB of pixels costs 1.5-2 ms, 5 % of the inflate (libpng can skip it too:
 * PNG_IGNORE_ADLER32). The 4 bytes of the checksum must be there, as before. */
static int pl_png_inflate(struct libdeflate_decompressor *dd, const uint8_t *z, size_t n, uint8_t *out, size_t room, size_t *got)
{
    size_t used = 0;
    if (n < 2 + 4 || (z[0] & 0x0f) != 8 || (z[0] >> 4) > 7 || (z[1] & 0x20) != 0 || ((unsigned)z[0] << 8 | z[1]) % 31 != 0)
        return -1; /* not deflate, a window over 32 KiB, a preset dictionary, a bad check */
    if (libdeflate_deflate_decompress_ex(dd, z + 2, n - 2, out, room, &used, got) != LIBDEFLATE_SUCCESS || used + 4 > n - 2)
        return -1;
    return 0;
}

/* Inflate st (closed at once: the input is whole again before the unfilter) and unfilter into a new buffer of h rows of w pixels
 * (host byte order), or of half that when shrink is 2 and the image 8-bit and opaque, or with premul of any alpha (l->w, l->h then
 * say so; *premultiplied when the pixels came out premultiplied); NULL on damage or when memory
 * runs out. *opaque: every alpha sample is all ones (false without alpha). */
static uint8_t *pl_png_pixels(pl_png_stream *st, pl_png_layout *l, int shrink, bool premul, bool *opaque, bool *premultiplied)
{
    int stored = l->key ? l->bands - 1 : l->bands; /* samples a pixel in the stream */
    int bpp = l->palette ? 1 : stored * l->depth / 8;
    size_t s = (size_t)l->w * (size_t)bpp, raw = pl_png_raw_size(l, bpp), got = 0;
    int alpha = !l->palette && (stored == 2 || stored == 4) ? l->depth / 8 : 0;
    uint8_t *buf = g_try_malloc(raw), *small = NULL;
    struct libdeflate_decompressor *dd = libdeflate_alloc_decompressor();
    bool ok = buf != NULL && dd != NULL && pl_png_inflate(dd, st->z, l->zlen, buf, raw, &got) == 0 && got == raw;
    if (dd != NULL)
        libdeflate_free_decompressor(dd);
    pl_png_stream_close(st, l->zlen); /* the input as it came from here on */
    if (ok && l->adam7) {
        uint8_t *whole = pl_png_deinterlace(buf, l, bpp, alpha, opaque);
        g_free(buf);
        buf = whole;
        ok = buf != NULL;
    } else if (ok && shrink == 2 && l->depth == 8 && !l->palette && !l->key) {
        bool bad;
        small = pl_png_unfilter_box(buf, l, alpha, premul, opaque, &bad);
        ok = !bad;
        *premultiplied = small != NULL && alpha != 0 && premul && !*opaque;
    } else if (ok) {
        ok = pl_png_unfilter_image(buf, s, l->h, bpp, alpha, opaque) == 0;
    }
    if (!ok || small != NULL) {
        g_free(buf);
        if (small != NULL) {
            l->w = (l->w + 1) / 2;
            l->h = (l->h + 1) / 2;
        }
        return small;
    }
    if (l->depth == 16)
        pl_png_unfilter_be16(buf, s * l->h);
    if (l->palette) {
        uint8_t *rgb = pl_png_expand(buf, l, opaque);
        g_free(buf);
        buf = rgb;
    } else if (l->key) {
        buf = pl_png_key_alpha(buf, l, opaque);
    }
    return buf;
}

/* The pixels as a libvips memory image in a slot of c->base, with head's metadata; the image
 * owns buf from then on (also on failure: NULL). */
static VipsImage *pl_png_image(pl_ctx *c, uint8_t *buf, const pl_png_layout *l, VipsImage *head)
{
    size_t bytes = (size_t)l->w * l->h * (size_t)(l->bands * l->depth / 8);
    VipsImage **slot = pl_ctx_slot(c);
    *slot = pl_ops_image_over(buf, bytes, (int)l->w, (int)l->h, l->bands, l->depth == 16 ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR,
                              head);
    if (*slot == NULL)
        return NULL;
    if (l->depth == 16)
        (*slot)->Type = l->bands >= 3 ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16;
    else
        (*slot)->Type = l->bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
    return *slot;
}

int pl_png_decode(pl_ctx *c, const uint8_t *d, size_t len, VipsImage *head, int shrink, VipsImage **out)
{
    bool premultiplied = false;
    pl_png_layout l;
    if (len < 8 + 25 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0 || head == NULL || pl_png_scan(d, len, head, &l))
        return 1;
    pl_png_stream st;
    pl_png_stream_open(&st, d, len, &l, c->in->moved);
    bool opaque = false;
    uint8_t *buf = st.z != NULL ? pl_png_pixels(&st, &l, shrink, c->premul_decode, &opaque, &premultiplied) : NULL;
    VipsImage *im = buf != NULL ? pl_png_image(c, buf, &l, head) : NULL;
    if (im == NULL)
        return 1;
    c->owned_pixels = buf;
    c->opaque_pixels = opaque ? buf : NULL;
    c->premul_pending = premultiplied;
    *out = im;
    return 0;
}
