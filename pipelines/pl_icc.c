/*
 * pl_icc: an 8-bit RGB image in memory with an embedded RGB profile (Adobe RGB from cameras,
 * Display P3 from phones) brought to sRGB by lcms2 directly, with the transform kept for the next
 * image that carries the same profile.
 *
 * Why: libvips 8.14's icc_transform builds a new lcms transform for every image (lcms inverts the
 * output profile's tone curves each time: about 2 ms, a fifth of the conversion of a 1000x750
 * thumbnail's pixels) and converts through its region machinery. Here the transform is the one
 * libvips would build: the embedded profile in, libvips' own "srgb" profile out
 * (vips_profile_load), relative colorimetric intent, no black point compensation, lcms2's 8-bit
 * RGB (RGBA with alpha copied), cmsFLAGS_NOCACHE (safe to share between threads); so the pixels
 * are libvips' (tests/engine/test_engine_icc.c). The output carries libvips' sRGB profile, as
 * libvips' transform leaves it. The conversion runs in place over the decoder's buffer when the
 * run owns it (c->owned_pixels), else into a new one, in strips between cancel checks.
 *
 * Anything else (16-bit, grey, CMYK, images computed on demand, a profile lcms cannot read or
 * that is not RGB) returns 1 and pl_load_to_srgb keeps libvips' path, which also decides what a
 * broken profile means.
 *
 * Cache: PL_ICC_CACHE transforms per process, keyed by the profile's bytes (compared in full) and
 * the band count, least recently used replaced; behind one mutex (lookups from any pool thread).
 * Profiles over PL_ICC_CACHE_MAX_BYTES get a transform of their own, freed after the image.
 * A transform is never freed while the process runs a conversion with it: entries are only
 * replaced under the mutex, and a conversion holds its own reference count.
 */
#include <lcms2.h>
#include <stdatomic.h>
#include <string.h>

#include "pl_internal.h"

#define PL_ICC_CACHE 8
/* larger profiles (LUT-based printer profiles: hundreds of KB) are converted with a transform made
 * for the image and dropped after it, so that 8 entries never hold more than 8 x this */
#define PL_ICC_CACHE_MAX_BYTES (64 * 1024)
/* rows between two cancel checks */
#define PL_ICC_ROWS 128

typedef struct pl_icc_entry {
    void *profile; /* the embedded profile's bytes (g_malloc'd), the key with bands */
    size_t len;
    int bands;
    cmsHTRANSFORM xf;
    unsigned refs; /* conversions running with xf, + 1 while cached */
    uint64_t used; /* tick of the last lookup */
} pl_icc_entry;

static GMutex pl_icc_lock;
static atomic_uint_fast64_t pl_icc_done; /* conversions made here (tests) */
static pl_icc_entry *pl_icc_cache[PL_ICC_CACHE];
static uint64_t pl_icc_tick;

static void pl_icc_unref_locked(pl_icc_entry *e)
{
    if (--e->refs == 0) {
        cmsDeleteTransform(e->xf);
        g_free(e->profile);
        g_free(e);
    }
}

/* libvips' "srgb" profile, loaded once for the process (never freed); NULL if libvips has none */
static VipsBlob *pl_icc_srgb(void)
{
    static gsize once;
    static VipsBlob *srgb;
    if (g_once_init_enter(&once)) {
        if (vips_profile_load("srgb", &srgb, NULL) != 0) {
            srgb = NULL;
            vips_error_clear();
        }
        g_once_init_leave(&once, 1);
    }
    return srgb;
}

static cmsHTRANSFORM pl_icc_build(const void *profile, size_t len, int bands)
{
    VipsBlob *srgb = pl_icc_srgb();
    size_t slen = 0;
    const void *sdata = srgb != NULL ? vips_blob_get(srgb, &slen) : NULL;
    cmsHPROFILE in = cmsOpenProfileFromMem(profile, (cmsUInt32Number)len);
    cmsHPROFILE out = sdata != NULL ? cmsOpenProfileFromMem(sdata, (cmsUInt32Number)slen) : NULL;
    cmsHTRANSFORM xf = NULL;
    if (in != NULL && out != NULL && cmsGetColorSpace(in) == cmsSigRgbData && cmsGetDeviceClass(in) != cmsSigLinkClass &&
        cmsIsIntentSupported(in, INTENT_RELATIVE_COLORIMETRIC, LCMS_USED_AS_INPUT)) {
        cmsUInt32Number fmt = bands == 4 ? TYPE_RGBA_8 : TYPE_RGB_8;
        xf = cmsCreateTransform(in, fmt, out, fmt, INTENT_RELATIVE_COLORIMETRIC,
                                cmsFLAGS_NOCACHE | (bands == 4 ? cmsFLAGS_COPY_ALPHA : 0));
    }
    if (in != NULL)
        cmsCloseProfile(in);
    if (out != NULL)
        cmsCloseProfile(out);
    vips_error_clear();
    return xf;
}

/* The cached transform for this profile (a reference the caller drops with pl_icc_release), or a
 * new one entered in the cache; NULL when lcms cannot make one. */
static pl_icc_entry *pl_icc_get(const void *profile, size_t len, int bands)
{
    g_mutex_lock(&pl_icc_lock);
    pl_icc_tick++;
    for (int i = 0; i < PL_ICC_CACHE; i++) {
        pl_icc_entry *e = pl_icc_cache[i];
        if (e != NULL && e->len == len && e->bands == bands && memcmp(e->profile, profile, len) == 0) {
            e->used = pl_icc_tick;
            e->refs++;
            g_mutex_unlock(&pl_icc_lock);
            return e;
        }
    }
    g_mutex_unlock(&pl_icc_lock);
    /* built outside the lock: another thread may build the same one meanwhile (both work) */
    cmsHTRANSFORM xf = pl_icc_build(profile, len, bands);
    if (xf == NULL)
        return NULL;
    pl_icc_entry *e = g_new0(pl_icc_entry, 1);
    e->len = len;
    e->bands = bands;
    e->xf = xf;
    e->refs = 1; /* the caller's */
    if (len > PL_ICC_CACHE_MAX_BYTES)
        return e; /* not cached: the release frees it */
    e->profile = g_memdup2(profile, len);
    e->refs = 2; /* and the cache's */
    g_mutex_lock(&pl_icc_lock);
    int victim = 0;
    for (int i = 0; i < PL_ICC_CACHE; i++) {
        if (pl_icc_cache[i] == NULL) {
            victim = i;
            break;
        }
        if (pl_icc_cache[i]->used < pl_icc_cache[victim]->used)
            victim = i;
    }
    if (pl_icc_cache[victim] != NULL)
        pl_icc_unref_locked(pl_icc_cache[victim]);
    e->used = ++pl_icc_tick;
    pl_icc_cache[victim] = e;
    g_mutex_unlock(&pl_icc_lock);
    return e;
}

static void pl_icc_release(pl_icc_entry *e)
{
    g_mutex_lock(&pl_icc_lock);
    pl_icc_unref_locked(e);
    g_mutex_unlock(&pl_icc_lock);
}

int pl_icc_to_srgb(pl_ctx *c, VipsImage *in, VipsImage **out)
{
    const void *profile = NULL;
    size_t len = 0;
    if (in->BandFmt != VIPS_FORMAT_UCHAR || (in->Bands != 3 && in->Bands != 4) || in->Coding != VIPS_CODING_NONE ||
        in->Type != VIPS_INTERPRETATION_sRGB || !pl_ops_in_memory(in) || pl_engine_switched_off(PL_NO_FAST_ICC) ||
        vips_image_get_blob(in, VIPS_META_ICC_NAME, &profile, &len) || profile == NULL || len < 128)
        return 1;
    pl_icc_entry *e = pl_icc_get(profile, len, in->Bands);
    if (e == NULL)
        return 1;
    size_t line = (size_t)in->Xsize * (size_t)in->Bands, size = line * (size_t)in->Ysize;
    bool in_place = c->owned_pixels != NULL && c->owned_pixels == in->data;
    uint8_t *buf = in_place ? in->data : g_try_malloc(size);
    int rc = 0;
    if (buf == NULL) {
        pl_icc_release(e);
        return 1;
    }
    for (int y = 0; y < in->Ysize && rc == 0; y += PL_ICC_ROWS) {
        if ((rc = pl_cancel_check(c)) != 0)
            break;
        int n = VIPS_MIN(PL_ICC_ROWS, in->Ysize - y);
        cmsDoTransform(e->xf, (const uint8_t *)in->data + (size_t)y * line, buf + (size_t)y * line,
                       (cmsUInt32Number)((size_t)n * (size_t)in->Xsize));
    }
    pl_icc_release(e);
    if (rc != 0) {
        if (!in_place)
            g_free(buf);
        return rc;
    }
    VipsImage *x = in_place ? pl_ops_view(c, in, in->Bands) : NULL;
    if (!in_place) {
        VipsImage **slot = pl_ctx_slot(c);
        *slot = pl_ops_image_over(buf, size, in->Xsize, in->Ysize, in->Bands, VIPS_FORMAT_UCHAR, in);
        x = *slot;
    }
    if (x == NULL)
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot convert the image to sRGB");
    atomic_fetch_add(&pl_icc_done, 1);
    /* what libvips' transform leaves: its sRGB profile in place of the embedded one */
    VipsBlob *srgb = pl_icc_srgb(); /* pl_icc_get made a transform, so it is there */
    size_t slen = 0;
    const void *sdata = vips_blob_get(srgb, &slen);
    vips_image_set_blob_copy(x, VIPS_META_ICC_NAME, sdata, slen);
    *out = x;
    return 0;
}

uint64_t pl_icc_conversions(void)
{
    return atomic_load(&pl_icc_done);
}
