/*
 * pl_engine: the engine's entry points (pl_engine.h): libvips set-up, limits, probe, and pl_run(),
 * which drives one request through the fixed order: header + limits (pl_load) -> output format
 * (pl_encode_choose) -> [a lone rotate/flip/flop of a JPEG that can be moved in the DCT domain:
 * pl_jpeg_lossless, done] -> load with shrink-on-load (pl_load) -> for each frame, each step
 * (pl_geometry, pl_ops, pl_watermark) -> frames joined -> encode (pl_encode) or info (pl_info).
 *
 * Animated GIF/WebP: when the output format can animate (GIF, WebP), every frame (capped by
 * lim->max_frames and the `frames` parameter) goes through the same steps and the frames are
 * joined again; otherwise only the first frame is used. Operations that cannot give every frame
 * the same geometry (trim, smart crop) are refused with PL_E_ANIMATED.
 *
 * DESIGN: pl_run() is re-entrant; all state lives in a pl_ctx on the caller's stack and every
 * libvips object hangs off ctx.base, unreferenced once at the end. The cancel flag and deadline
 * are checked between steps and inside libvips through the eval signal (pl_cancel.c).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pl_internal.h"
#include "pl_renditions.h"

static void pl_engine_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user)
{
    (void)user;
    /* libvips' warnings are about one image: keep them off stdout (the batch CLI writes there);
     * its info/debug chatter is dropped */
    if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
        fprintf(stderr, "%s: %s\n", domain != NULL ? domain : "vips", message);
}

#ifdef __GLIBC__
static bool pl_engine_tunable_set(const char *name)
{
    const char *t = getenv("GLIBC_TUNABLES");
    return t != NULL && strstr(t, name) != NULL;
}
#endif

/* Settled once by pl_engine_init(); read by every pl_run() (atomics: the test hook may write). */
static atomic_uint pl_engine_switches;
static atomic_bool pl_engine_keep_malloc;

static unsigned pl_engine_switches_from_env(void)
{
    static const struct {
        const char *env;
        unsigned bit;
    } vars[] = {{"IMGPIPE_NO_FAST_PNG", PL_NO_FAST_PNG},
                {"IMGPIPE_NO_JPEG_MSCALE", PL_NO_JPEG_MSCALE},
                {"IMGPIPE_NO_LOSSLESS_JPEG", PL_NO_LOSSLESS_JPEG},
                {"IMGPIPE_NO_FAST_PNG_WRITE", PL_NO_FAST_PNG_WRITE},
                {"IMGPIPE_NO_TRANSPOSED_REDUCE", PL_NO_TRANSPOSED_REDUCE},
                {"IMGPIPE_NO_FAST_WEBP", PL_NO_FAST_WEBP},
                {"IMGPIPE_NO_EARLY_FLATTEN", PL_NO_EARLY_FLATTEN},
                {"IMGPIPE_NO_FAST_ICC", PL_NO_FAST_ICC},
                {"IMGPIPE_NO_LATE_ICC", PL_NO_LATE_ICC},
                {"IMGPIPE_NO_FAST_JPEG_WRITE", PL_NO_FAST_JPEG_WRITE},
                {"IMGPIPE_NO_PREMUL_BOX", PL_NO_PREMUL_BOX}};
    unsigned bits = 0;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i].env);
        if (v != NULL && *v != '\0' && strcmp(v, "0") != 0)
            bits |= vars[i].bit;
    }
    return bits;
}

bool pl_engine_switched_off(unsigned bit)
{
    return (atomic_load_explicit(&pl_engine_switches, memory_order_relaxed) & bit) != 0;
}

unsigned pl_engine_set_switches(unsigned switches)
{
    return atomic_exchange(&pl_engine_switches, switches);
}

void pl_engine_trim(void)
{
#ifdef __GLIBC__
    if (!atomic_load_explicit(&pl_engine_keep_malloc, memory_order_relaxed))
        malloc_trim(0);
#endif
}

void pl_engine_tune_malloc(const pl_engine_config *cfg)
{
#ifdef __GLIBC__
    if (cfg == NULL || !cfg->keep_malloc) {
        /* Two malloc arenas unless MALLOC_ARENA_MAX says otherwise: glibc's default (8 per core, one
         * per worker thread here) keeps each worker's freed image buffers: thumbnail workload at
         * concurrency 4, peak RSS 476 -> 231 MB (docs/performance.md). Before any worker thread exists. */
        if (getenv("MALLOC_ARENA_MAX") == NULL)
            mallopt(M_ARENA_MAX, cfg != NULL && cfg->malloc_arenas > 0 ? cfg->malloc_arenas : 2);
        /* Image-sized buffers (a decoded 2400x1600 RGBA PNG is 15 MB, an uploaded body as much) stay
         * in the arenas between requests instead of going back to the kernel at free() and being
         * page-faulted (and zeroed) in again by the next request: the png workload spent ~19 % of
         * its CPU in page faults and brk (104 -> 88 CPU-ms per image, same peak RSS), the server
         * process with worker processes half its CPU per 2 MB upload (docs/performance.md). Blocks
         * above 32 MB (glibc's largest dynamic threshold) are still mmap()ed and returned at once.
         * The memory kept is handed back when the service goes idle (pl_engine_release_memory).
         * GLIBC_TUNABLES or MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ in the environment win. */
        if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL && !pl_engine_tunable_set("glibc.malloc.mmap_threshold"))
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
        if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL && !pl_engine_tunable_set("glibc.malloc.trim_threshold"))
            mallopt(M_TRIM_THRESHOLD, 512 << 20);
    }
#else
    (void)cfg;
#endif
}

int pl_engine_init(const pl_engine_config *cfg, pl_error *err)
{
    atomic_store(&pl_engine_switches, (cfg != NULL ? cfg->switches : 0) | pl_engine_switches_from_env());
    atomic_store(&pl_engine_keep_malloc, cfg != NULL && cfg->keep_malloc);
    pl_engine_tune_malloc(cfg);
    /* Decoded images never go to a temporary file: libvips 8.14 writes an image over 100 MB that
     * needs random access to /tmp, which turns a small hostile upload (a 1.5 KB GIF of 64
     * 1000x1000 frames) into 256 MB of disk writes, and the worker sandbox forbids writing files
     * anyway. Memory admission and the worker's memory ceiling bound what is held instead.
     * VIPS_DISC_THRESHOLD in the environment wins. */
    setenv("VIPS_DISC_THRESHOLD", "1024g", 0); /* vips__parse_size: k, m, g only */
    if (VIPS_INIT("imgpipe"))
        return pl_error_set_vips(err, PL_E_INTERNAL, "Cannot start libvips");
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, pl_engine_log,
                      NULL);
    vips_cache_set_max(0);
    if (cfg != NULL && cfg->vips_max_mem > 0)
        vips_cache_set_max_mem(cfg->vips_max_mem);
    vips_leak_set(FALSE);
    if (cfg != NULL && cfg->vips_concurrency > 0)
        vips_concurrency_set(cfg->vips_concurrency);
    vips_block_untrusted_set(cfg == NULL || !cfg->allow_untrusted);
    return 0;
}

void pl_engine_shutdown(void)
{
    vips_shutdown();
}

void pl_engine_thread_done(void)
{
    vips_thread_shutdown();
}

void pl_engine_release_memory(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void pl_limits_default(pl_limits *lim)
{
    lim->max_input_pixels = 50000000ull;
    lim->max_output_pixels = 100000000ull;
    lim->max_frames = 256;
    lim->max_decode_bytes = 1ull << 30;
    lim->allowed_inputs = pl_formats_default_mask();
    lim->max_heif_encode_ms = 3000; /* HEVC: a 4 MP output; AVIF at effort 2: ~12 MP */
}

const char *pl_vips_version(void)
{
    return vips_version_string();
}

void pl_result_clear(pl_result *r)
{
    if (r == NULL)
        return;
    if (r->release != NULL)
        r->release(r->data, r->len);
    else
        g_free(r->data);
    memset(r, 0, sizeof(*r));
}

void pl_engine_ctx_init(pl_ctx *c, const pl_plan *plan, const pl_input *in, const pl_limits *lim, pl_control *ctl, pl_error *err)
{
    memset(c, 0, sizeof(*c));
    c->base = VIPS_OBJECT(vips_image_new());
    c->plan = plan;
    c->in = in;
    c->lim = lim;
    c->ctl = ctl;
    c->err = err;
    atomic_init(&c->kill_code, 0);
    atomic_init(&c->load_failed, 0);
}

int pl_probe(const uint8_t *data, size_t len, pl_probe_info *out, pl_error *err)
{
    pl_ctx c;
    pl_input in = {.data = data, .len = len};
    pl_engine_ctx_init(&c, NULL, &in, NULL, NULL, err);
    int r = pl_load_header(&c, data, len, out);
    g_object_unref(c.base);
    return r;
}

uint64_t pl_decode_bytes_estimate(const uint8_t *data, size_t len)
{
    int w = 0, h = 0, bands = 0;
    if (pl_sniff(data, len) == PL_FMT_JPEG && pl_jpeg_header(data, len, &w, &h, &bands) == 0)
        return (uint64_t)w * (uint64_t)h * (uint64_t)bands;
    pl_probe_info pi;
    pl_error err;
    return pl_probe(data, len, &pi, &err) == 0 ? pi.decode_bytes : 0;
}

static int pl_engine_frames(const pl_ctx *c);

uint64_t pl_run_estimate(const pl_plan *plan, const pl_input *in, const pl_limits *lim)
{
    if (plan == NULL || in == NULL || plan->op == PL_OP_INFO)
        return 0;
    int w = 0, h = 0, bands = 0;
    /* JPEG has one frame: TurboJPEG's header is enough (when it parses it: libjpeg, behind
     * libvips, tolerates more, then the loader's header below). No shrink-on-load discount: the
     * target size depends on the steps, orientation and the m/8 path; a full-size estimate is safe. */
    if (pl_sniff(in->data, in->len) == PL_FMT_JPEG) {
        if (lim != NULL && !(lim->allowed_inputs & (1u << PL_FMT_JPEG)))
            return 0; /* refused before decoding */
        if (pl_jpeg_header(in->data, in->len, &w, &h, &bands) == 0)
            return (uint64_t)w * (uint64_t)h * (uint64_t)bands;
    }
    pl_limits dflt;
    if (lim == NULL) {
        pl_limits_default(&dflt);
        lim = &dflt;
    }
    pl_error err;
    pl_ctx c;
    pl_probe_info pi;
    pl_engine_ctx_init(&c, plan, in, lim, NULL, &err);
    uint64_t est = 0;
    if (pl_load_header(&c, in->data, in->len, &pi) == 0) {
        uint64_t pages = pl_format_get(pi.format)->animates && pi.pages > 1 ? (uint64_t)pi.pages : 1;
        uint64_t per_frame = pi.decode_bytes / pages;
        /* frames pl_run will decode: one, unless the output keeps the animation (capped); an output
         * format that will be refused costs no decode at all, one frame is a safe upper bound */
        int n = pl_encode_choose(&c) == 0 ? pl_engine_frames(&c) : 1;
        est = per_frame * (uint64_t)(n > 0 ? n : 1);
    }
    g_object_unref(c.base);
    return est;
}

static double pl_engine_ms(int64_t from, int64_t to)
{
    return (double)(to - from) / 1000.0;
}

/* How many frames to decode: all of an animation when the output animates, within the caps. */
static int pl_engine_frames(const pl_ctx *c)
{
    if (c->in_pages <= 1 || !pl_format_get(c->in_format)->animates || !pl_format_get(c->out_format)->animates)
        return 1;
    int n = c->in_pages;
    if (c->lim != NULL && c->lim->max_frames > 0 && n > c->lim->max_frames)
        n = c->lim->max_frames;
    for (int i = 0; i < c->plan->n_steps; i++) {
        const pl_params *p = &c->plan->steps[i].params;
        if (pl_params_has(p, PL_P_FRAMES) && p->frames > 0 && n > p->frames)
            n = p->frames;
    }
    return n > PL_MAX_FRAMES_HARD ? PL_MAX_FRAMES_HARD : n;
}

/* Run every step over one frame. */
static int pl_engine_steps(pl_ctx *c, VipsImage *x, VipsImage **out)
{
    const pl_plan *plan = c->plan;
    for (int i = 0; i < plan->n_steps; i++) {
        const pl_step *s = &plan->steps[i];
        if (pl_cancel_check(c))
            return -1;
        int lw = c->lw, lh = c->lh, orient = c->orientation;
        VipsImage *next;
        int r = s->op == PL_OP_TRANSFORM ? pl_geometry_transform(c, s, x, &next) : pl_geometry_imaginary(c, s, x, &next);
        if (r == 0) {
            x = next;
            continue;
        }
        if (plan->op == PL_OP_PIPELINE && s->ignore_failure && c->err->code != PL_E_CANCELLED && c->err->code != PL_E_DEADLINE) {
            /* skip the failed step: go on with the previous image (imaginary's is broken) */
            c->lw = lw, c->lh = lh, c->orientation = orient;
            pl_error_clear(c->err);
            continue;
        }
        return -1;
    }
    if (c->icc_pending) { /* a step that never reached its conversion (pl_geometry converts) */
        c->icc_pending = false;
        if (pl_load_to_srgb(c, x, &x))
            return -1;
    }
    *out = x;
    return 0;
}

/* One frame of an animation, frame by frame: the frame's rows of the (sequential) loader are
 * decoded into memory, the steps run over that copy, and when their result is no bigger than the
 * decoded frame (a downscale: the usual case) it is computed into memory at once and everything
 * in between, the decoded frame included, is freed before the next frame; otherwise (enlarged,
 * deeper pixels) the steps stay lazy over the decoded frame and the encoder computes them one
 * frame at a time. The loader decodes each frame once, in order. Memory: at most the decoded
 * frames (what the admission estimate counts), and for downscales one decoded frame plus the
 * small results: a 6 KB GIF of 256 1000x1000 frames under resize?width=100 was 768 MB of decoded
 * pixels written to a temporary file and ran into the deadline, it is now ~2 CPU-s.
 * It also keeps libvips 8.14's arrayjoin away from a random-access loader over 100 MB: libvips
 * backs that with a temporary file read through mmap windows, and arrayjoin forwards pointers
 * into windows that it then releases, so a 1.5 KB GIF (64 1x1 frames on a 1000x1000 screen)
 * crashed the process with SIGSEGV (fixed in libvips 8.15.2, libvips#3835). Here arrayjoin only
 * reads images that live in memory. */
static int pl_engine_frame(pl_ctx *c, VipsImage *img, int f, int ph, VipsImage **out)
{
    VipsObject *run_base = c->base;
    c->base = VIPS_OBJECT(vips_image_new()); /* this frame's images, freed below */
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 2);
    VipsImage *y;
    int rc = -1;
    if (pl_cancel_check(c))
        goto out;
    if (vips_extract_area(img, &t[0], 0, f * ph, img->Xsize, ph, NULL) || (t[1] = vips_image_copy_memory(t[0])) == NULL) {
        pl_cancel_fail(c, PL_E_DECODE, "Cannot decode a frame of the animation: the file is damaged or truncated");
        goto out;
    }
    pl_cancel_attach(c, t[1]);
    if (pl_engine_steps(c, t[1], &y))
        goto out;
    VipsImage **keep = (VipsImage **)vips_object_local_array(run_base, 1);
    if (y == t[1] || VIPS_IMAGE_SIZEOF_IMAGE(y) > VIPS_IMAGE_SIZEOF_IMAGE(t[1])) {
        *keep = g_object_ref(y); /* the frame as decoded, or lazy over it (with its progress reporting) */
    } else {
        if ((*keep = vips_image_copy_memory(y)) == NULL) {
            pl_cancel_fail(c, PL_E_OPERATION, "Cannot process a frame of the animation");
            goto out;
        }
        /* it inherited the decoded frame's progress reporting, which dies below */
        vips_image_set_progress(*keep, FALSE);
    }
    *out = *keep;
    rc = 0;
out:
    g_object_unref(c->base);
    c->base = run_base;
    return rc;
}

/* Metadata policy: imaginary's routes keep it unless stripmeta; transform strips unless strip=false. */
static void pl_engine_meta_policy(pl_ctx *c)
{
    const pl_plan *plan = c->plan;
    c->keep_meta = true;
    c->keep_profile = true;
    for (int i = 0; i < plan->n_steps; i++) {
        const pl_params *p = &plan->steps[i].params;
        if (plan->steps[i].op == PL_OP_TRANSFORM ? p->strip : p->stripmeta)
            c->keep_meta = false;
        if (p->noprofile)
            c->keep_profile = false;
    }
}

/* imaginary answers operation errors as "Error while processing the image: <msg>": same text on
 * its routes so clients that match on it keep working. */
static void pl_engine_imaginary_message(const pl_plan *plan, pl_error *err)
{
    static const char prefix[] = "Error while processing the image: ";
    pl_code c = err->code;
    if (!pl_op_is_imaginary(plan->op) || strncmp(err->message, prefix, sizeof(prefix) - 1) == 0 ||
        !(c == PL_E_OPERATION || c == PL_E_DECODE || c == PL_E_UNSUPPORTED_OUTPUT || c == PL_E_MISSING_PARAM || c == PL_E_ANIMATED))
        return;
    char msg[PL_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof(msg), "%s%.*s", prefix, (int)(sizeof(msg) - sizeof(prefix)), err->message);
    memcpy(err->message, msg, sizeof(msg));
}

/* Output format, frames, limits, metadata policy: what is decided before a pixel is decoded. */
static int pl_engine_decide(pl_ctx *c, const pl_probe_info *pi)
{
    if (pl_encode_choose(c))
        return -1;
    int n = pl_engine_frames(c);
    if (pl_load_check_limits(c, pi, n))
        return -1;
    c->n_frames = n;
    c->animated = n > 1;
    pl_engine_meta_policy(c);
    return 0;
}

/* Whether pl_png's shrink-on-load may premultiply an image with alpha (c->premul_decode): when the
 * one step's first pixel reader is pl_ops_resize. One still step outside /renditions, no
 * watermark, an output other than JPEG (whose early flatten reads straight alpha before the
 * resize), no embedded profile (its conversion at load reads the colours). */
static bool pl_engine_premul_ok(const pl_ctx *c)
{
    const pl_step *s = &c->plan->steps[0];
    return c->plan->n_steps == 1 && !c->animated && !c->shared_sources && c->in_format == PL_FMT_PNG &&
           c->out_format != PL_FMT_JPEG && s->op != PL_OP_WATERMARK && s->op != PL_OP_WATERMARKIMAGE && c->in->overlay == NULL &&
           (c->head == NULL || !vips_image_get_typeof(c->head, VIPS_META_ICC_NAME)) && !pl_engine_switched_off(PL_NO_PREMUL_BOX);
}

/* An image decoded premultiplied (c->premul_pending) that no resize took: back to plain alpha.
 * pl_engine_premul_ok allows it only where a resize follows; this keeps a mistake there from
 * reaching the output as darkened colours. */
static int pl_engine_unpremultiply(pl_ctx *c, VipsImage **x)
{
    c->premul_pending = false;
    if (!vips_image_hasalpha(*x))
        return 0;
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 2);
    if (vips_unpremultiply(*x, &t[0], NULL) || vips_cast(t[0], &t[1], (*x)->BandFmt, NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot process the image");
    *x = t[1];
    return 0;
}

/* Access mode, the animation checks and the watermark image, then the load with shrink-on-load. */
static int pl_engine_load(pl_ctx *c, VipsImage **img)
{
    const pl_plan *plan = c->plan;
    c->lw = c->in_width;
    c->lh = c->in_height;
    /* A still GIF: random access. libvips 8.14's gifload renders whole frames into memory anyway, and
     * its sequential mode never finishes a region far down a tall frame: a 43-byte 2x65281 GIF under
     * transform?w=24&h=24&fit=cover (centre crop of a 12x enlargement) spun past every deadline
     * (found by fuzz_engine; tests/fixtures/bad/gif-tall-2x65281.gif). Random: 0.5 s.
     * An animation: sequential, read top to bottom one whole frame at a time into memory
     * (pl_engine_frame), where the steps get all the random access they need. */
    bool random = !c->animated && (plan->n_steps > 1 || c->in_format == PL_FMT_GIF);
    for (int i = 0; i < plan->n_steps; i++) {
        if (c->animated && pl_geometry_check_animated(c, &plan->steps[i]))
            return -1;
        random = random || (!c->animated && pl_geometry_needs_random(c, &plan->steps[i]));
    }
    /* the watermark image is loaded once per run, by the first frame's step: into the run's
     * images, not the frame's (pl_engine_frame frees those) */
    if (c->animated && c->in->overlay != NULL && c->in->overlay_len > 0 && pl_load_overlay(c, &c->overlay) != 0) {
        c->overlay = NULL;
        pl_error_clear(c->err); /* the step that needs it reports the failure */
    }
    int tw = 0, th = 0;
    pl_geometry_target(c, &plan->steps[0], &tw, &th);
    /* one still step: an embedded profile may wait for pl_geometry (pl_geometry_colours_late) */
    c->icc_defer = plan->n_steps == 1 && !c->animated && !pl_engine_switched_off(PL_NO_LATE_ICC);
    c->premul_decode = pl_engine_premul_ok(c);
    int rc = pl_load_image(c, c->n_frames, tw, th, random, img);
    c->icc_defer = false;
    c->premul_decode = false;
    return rc;
}

/* An animation's processed frames as one image again (page height, frame count, delays). */
static int pl_engine_join(pl_ctx *c, VipsImage **frames, int n, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(c->base, 2);
    if (vips_arrayjoin(frames, &t[0], n, "across", 1, NULL) || vips_copy(t[0], &t[1], NULL))
        return pl_cancel_fail(c, PL_E_OPERATION, "Cannot join the frames of the animation");
    vips_image_set_int(t[1], VIPS_META_PAGE_HEIGHT, frames[0]->Ysize);
    vips_image_set_int(t[1], VIPS_META_N_PAGES, n);
    int *delay = NULL, n_delay = 0;
    if (vips_image_get_typeof(t[1], "delay") && vips_image_get_array_int(t[1], "delay", &delay, &n_delay) == 0 && n_delay > n) {
        int *copy = g_memdup2(delay, sizeof(int) * n); /* frames were capped: as many delays as frames */
        vips_image_set_array_int(t[1], "delay", copy, n);
        g_free(copy);
    }
    *out = t[1];
    pl_cancel_attach(c, *out); /* the frames are in memory: the encoder's evaluation starts here */
    return 0;
}

/* Every step over every frame (each from the same start), then the frames joined. */
static int pl_engine_process(pl_ctx *c, VipsImage *img, VipsImage **final)
{
    int n = c->n_frames;
    int ph = n > 1 ? vips_image_get_page_height(img) : img->Ysize;
    if (n > 1 && ph * n > img->Ysize)
        n = img->Ysize / ph;
    int lw0 = c->lw, lh0 = c->lh, or0 = c->orientation;
    c->n_frames = n;
    VipsImage **frames = g_new0(VipsImage *, n); /* borrowed images: the array alone is freed */
    int rc = -1;
    for (int f = 0; f < n; f++) {
        c->lw = lw0, c->lh = lh0, c->orientation = or0;
        if (n > 1 ? pl_engine_frame(c, img, f, ph, &frames[f]) : pl_engine_steps(c, img, &frames[f]))
            goto out;
        if (f > 0 && (frames[f]->Xsize != frames[0]->Xsize || frames[f]->Ysize != frames[0]->Ysize)) {
            pl_error_set(c->err, PL_E_ANIMATED, "The frames of the animation came out in different sizes");
            goto out;
        }
    }
    *final = frames[0];
    rc = n > 1 ? pl_engine_join(c, frames, n, final) : 0;
out:
    g_free(frames);
    return rc;
}

/* One run over a set-up ctx: header, info or decisions, the lossless JPEG path or load, steps
 * and encode, each stage's wall time into out->t. 0, or -1 with c->err. */
static int pl_engine_run(pl_ctx *c, pl_result *out)
{
    int64_t t0 = g_get_monotonic_time(), t1, t2;
    pl_probe_info pi;
    if (pl_load_open(c, &pi, out))
        return -1;
    if (c->plan->op == PL_OP_INFO) {
        int rc = pl_info_json(c, &pi, c->head, out);
        out->t.decode_ms = pl_engine_ms(t0, g_get_monotonic_time());
        return rc;
    }
    if (pl_engine_decide(c, &pi))
        return -1;
    /* a lone /rotate, /flip, /flop on a JPEG: moved in the DCT domain when that is exact */
    t1 = g_get_monotonic_time();
    int lossless = pl_jpeg_lossless_run(c, out);
    if (lossless <= 0) {
        out->t.decode_ms = pl_engine_ms(t0, t1);
        out->t.encode_ms = pl_engine_ms(t1, g_get_monotonic_time());
        return lossless;
    }
    VipsImage *img, *final;
    if (pl_engine_load(c, &img))
        return -1;
    t1 = g_get_monotonic_time();
    out->t.decode_ms = pl_engine_ms(t0, t1);
    if (pl_engine_process(c, img, &final) || (c->premul_pending && pl_engine_unpremultiply(c, &final)))
        return -1;
    t2 = g_get_monotonic_time();
    out->t.process_ms = pl_engine_ms(t1, t2);
    if (pl_cancel_check(c) || pl_encode_image(c, final, out))
        return -1;
    out->t.encode_ms = pl_engine_ms(t2, g_get_monotonic_time());
    out->vary_accept = c->vary_accept;
    return 0;
}

/* After a run: imaginary's message prefix, codec memory back to the system, a failed result
 * emptied but for the input facts, every image of the run freed. */
static void pl_engine_done(pl_ctx *c, int rc, pl_result *out)
{
    if (rc != 0)
        pl_engine_imaginary_message(c->plan, c->err);
    /* libheif/libde265/x265/libaom allocate a full-size frame's worth of buffers per image; glibc
     * keeps them after they are freed (RSS +80-250 MB after one 8 MP HEIC): hand them back. */
    if (c->in_format == PL_FMT_HEIF || c->in_format == PL_FMT_AVIF)
        pl_engine_trim();
    if (rc != 0) {
        pl_format f = out->in_format;
        int w = out->in_width, h = out->in_height;
        pl_result_clear(out);
        /* the input facts stay: they help the log line */
        out->in_format = f, out->in_width = w, out->in_height = h;
        out->vary_accept = c->vary_accept;
    }
    g_object_unref(c->base);
}

int pl_run(const pl_plan *plan, const pl_input *in, const pl_limits *lim, pl_control *ctl, pl_result *out, pl_error *err)
{
    pl_error local;
    pl_limits dflt;
    if (err == NULL)
        err = &local;
    pl_error_clear(err);
    memset(out, 0, sizeof(*out));
    if (lim == NULL) {
        pl_limits_default(&dflt);
        lim = &dflt;
    }
    if (plan != NULL && in != NULL && plan->op == PL_OP_RENDITIONS)
        return pl_renditions_run(plan, in, lim, ctl, out, err);
    if (plan == NULL || in == NULL || plan->n_steps < 1 || plan->n_steps > PL_MAX_STEPS)
        return pl_error_set(err, PL_E_INTERNAL, "Invalid plan: no operation to run");
    pl_ctx c;
    pl_engine_ctx_init(&c, plan, in, lim, ctl, err);
    int rc = pl_engine_run(&c, out);
    pl_engine_done(&c, rc, out);
    return rc;
}
