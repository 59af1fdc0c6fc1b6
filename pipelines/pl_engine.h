/*
 * pl_engine: runs a validated pl_plan over one image held in memory and returns encoded bytes.
 *
 * Order (docs/design.md, "The pipeline as pl_run runs it"): sniff -> output format -> header and
 * limits (pixels, frames, decode memory) -> load with shrink-on-load, converted to sRGB -> the
 * operation's steps (imaginary's order on its routes; transform's fixed order) -> metadata ->
 * encode. The cancel flag and the deadline are checked between steps, and libvips is stopped
 * mid-step from its eval signal with vips_image_set_kill().
 *
 * Threads: pl_engine_init() once, from the main thread, before any other call. pl_run() may be
 * called from any number of threads at once; each call owns its own libvips objects. A thread
 * that ran pl_run() calls pl_engine_thread_done() before it exits (vips_thread_shutdown).
 * pl_control is shared between the running worker and whoever may cancel it (another thread):
 * its fields are atomics.
 */
#ifndef PL_ENGINE_H
#define PL_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_error.h"
#include "pl_options.h"

/* Off switches of the engine's fast paths, each in front of the general libvips path that stays
 * its fallback (docs/design.md, "The pipeline as pl_run runs it"): for A/B measurements
 * (tests/engine/measure_run.c) and the tests that compare a fast path with the general one. Each
 * bit is named after the environment variable that also sets it (pl_engine_init). */
enum {
    PL_NO_FAST_PNG = 1u << 0,          /* PNG decode by libdeflate (pl_png.c) -> libvips' pngload */
    PL_NO_JPEG_MSCALE = 1u << 1,       /* JPEG decode at m/8 by TurboJPEG (pl_jpeg_scaled.c) -> jpegload */
    PL_NO_LOSSLESS_JPEG = 1u << 2,     /* DCT-domain rotate/flip (pl_jpeg_lossless.c) -> decode, rotate, encode */
    PL_NO_FAST_PNG_WRITE = 1u << 3,    /* PNG encode by libdeflate (pl_png_write.c) -> libpng */
    PL_NO_TRANSPOSED_REDUCE = 1u << 4, /* 8-bit downscales by pl_lanczos (pl_reduce.c) -> vips_resize */
    PL_NO_FAST_WEBP = 1u << 5,         /* still WebP by one WebPDecode (pl_webp.c) -> libvips' webpload */
    PL_NO_EARLY_FLATTEN = 1u << 6,     /* JPEG output: alpha flattened before the resize (pl_geometry.c) -> at encode */
    PL_NO_FAST_ICC = 1u << 7,          /* embedded RGB profiles by cached lcms2 transforms (pl_icc.c) -> vips_icc_transform */
    PL_NO_LATE_ICC = 1u << 8,          /* embedded RGB profiles converted after the resize (pl_geometry.c) -> at load */
    PL_NO_FAST_JPEG_WRITE = 1u << 9,   /* baseline 8-bit JPEG by libjpeg directly (pl_jpeg_write.c) -> jpegsave */
    PL_NO_PREMUL_BOX = 1u << 10,       /* PNG with alpha premultiplied while boxed on load (pl_png.c) -> full size */
};

/* All zero is the engine as the service runs it. */
typedef struct pl_engine_config {
    int vips_concurrency; /* libvips threads per image; 0 = libvips default */
    size_t vips_max_mem;  /* 0 = leave libvips' default */
    bool allow_untrusted; /* false: vips_block_untrusted_set(TRUE) */
    unsigned switches;    /* PL_NO_* bits: fast paths turned off; 0 = all on */
    /* true: leave glibc's malloc as the program set it: no mallopt() at init and no malloc_trim()
     * after HEIF/AVIF images (pl_engine_release_memory() still trims). false: 2 arenas, 32 MB mmap
     * threshold, 512 MB trim threshold (docs/performance.md), each unless MALLOC_ARENA_MAX,
     * MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES sets it. */
    bool keep_malloc;
    int malloc_arenas; /* with !keep_malloc: glibc malloc arenas; 0 = 2 (a worker process running one job at a time uses 1) */
} pl_engine_config;

/* Per-request limits. Defaults from pl_limits_default(); the service and the batch CLI share them. */
typedef struct pl_limits {
    uint64_t max_input_pixels;  /* width*height of one frame, from the header, before decode */
    uint64_t max_output_pixels; /* width*height of the result */
    int max_frames;             /* animated/multi-page inputs */
    uint64_t max_decode_bytes;  /* estimate width*height*bands*bytes_per_band*frames */
    uint32_t allowed_inputs;    /* bitmask of (1u << pl_format) */
    /* HEIF/AVIF encoders (x265, libaom) cannot be stopped by the deadline once started: estimated
     * CPU milliseconds one such encode may cost (pixels x measured cost of the format at its
     * effort, pl_encode.c); 0 = no limit. Over it, an output format that was not asked for becomes
     * JPEG (PNG with alpha); an asked one is refused (PL_E_TOO_MANY_PIXELS). */
    uint32_t max_heif_encode_ms;
} pl_limits;

void pl_limits_default(
    pl_limits *lim); /* 50 MP, 100 MP out, 256 frames, 1 GiB, jpeg png webp gif tiff heif avif, HEIF/AVIF encode 3000 ms */

/* The type lists (pl_formats_parse_mask) and their untrusted loaders: pl_formats.h. */

typedef struct pl_control {
    atomic_int cancelled; /* set to 1 by anyone: stop as soon as possible, result unwanted */
    int64_t deadline_us;  /* g_get_monotonic_time() value after which work stops; 0 = none */
} pl_control;

typedef struct pl_input {
    const uint8_t *data; /* not owned; must stay valid and unchanged during pl_run() */
    size_t len;
    const uint8_t *overlay; /* watermarkimage's second image, or NULL */
    size_t overlay_len;
    const char *accept; /* the request's Accept header for type=auto, or NULL */
    /* NULL: data is only read. Else the caller lets pl_run() move data's bytes about in place for
     * a moment (the PNG decoder gathers its IDAT payloads there instead of copying them): *moved
     * is set to 1 before the first byte moves, and to 0 once every byte is back, before anything
     * else reads data. A process that dies in between leaves 1: data is then not the input. */
    atomic_int *moved;
} pl_input;

typedef struct pl_timings {
    double decode_ms, process_ms, encode_ms; /* wall time of each stage in pl_run */
} pl_timings;

/* A field added here must also cross the worker-process boundary: service/svc_wproto.h (wp_result),
 * filled in svc_worker.c and read in svc_proc.c. */
typedef struct pl_result {
    void *data; /* owned by the result: free with pl_result_clear() */
    size_t len;
    /* how pl_result_clear() gives data back; NULL = g_free (what pl_run returns). The service sets
     * it for bytes that came from a worker process (a mapping). */
    void (*release)(void *data, size_t len);
    pl_format format;    /* of the output (PL_FMT_UNKNOWN for info's JSON) */
    const char *mime;    /* static string: "image/webp", "application/json" */
    int width, height;   /* of the output image (per frame) */
    bool vary_accept;    /* type=auto was used: the response must carry Vary: Accept */
    pl_format in_format; /* what the input really was (sniffed) */
    int in_width, in_height;
    /* Frames of an animated or multi-page input, and how many the output carries (fewer when a
     * limit, `frames` or a still output format dropped some): 1/1 for still images. */
    int frames_in, frames_out;
    pl_timings t;
} pl_result;

/* Header facts, read without decoding pixels. */
typedef struct pl_probe_info {
    pl_format format;
    int width, height, bands, pages, orientation;
    uint64_t decode_bytes; /* estimate of the memory a full decode would need */
} pl_probe_info;

/* The environment is read here, once, and never per request: each IMGPIPE_NO_* variable of the
 * switches above set to anything but "" or "0" adds its PL_NO_* bit to cfg->switches, so every program on the engine (service
 * and its worker processes, batch, bench, tests) takes them without code of its own. */
/* The process-wide malloc settings the engine's buffers want (two arenas, image-sized blocks kept
 * between requests; unless cfg->keep_malloc or the environment says otherwise). pl_engine_init
 * calls it; a process that holds image-sized buffers without running libvips (the server, when
 * worker processes decode) calls it alone. Main thread, before any other thread exists. */
void pl_engine_tune_malloc(const pl_engine_config *cfg);
int pl_engine_init(const pl_engine_config *cfg, pl_error *err);
/* Test hook: replace the PL_NO_* switches pl_engine_init() settled on; returns the previous ones.
 * Only while no pl_run() is running (tests A/B a fast path between runs). */
unsigned pl_engine_set_switches(unsigned switches);
void pl_engine_shutdown(void);
void pl_engine_thread_done(void);
/* Hands freed image buffers kept by malloc back to the system (malloc_trim). Any thread, any
 * time; meant for when no pl_run() has work (the service calls it after 1 s idle). */
void pl_engine_release_memory(void);

/* Sniff the format from the bytes (never from a name). */
pl_format pl_sniff(const uint8_t *data, size_t len);

int pl_probe(const uint8_t *data, size_t len, pl_probe_info *out, pl_error *err);
/* pl_probe's decode_bytes, cheaper: JPEG headers are read by TurboJPEG alone (no libvips image,
 * no EXIF parse: ~0.5 ms less per request on 3 MB photos); other formats through pl_probe.
 * 0 when the header does not parse (the run will refuse the input). Any thread. */
uint64_t pl_decode_bytes_estimate(const uint8_t *data, size_t len);
/* The decode memory pl_run(plan, in, lim) will need, for admission: width x height x bands x
 * bytes per band of one frame (TurboJPEG's header for JPEG, the loader's header for the rest)
 * times the frames pl_run decodes: one, unless input and output are both GIF/WebP and the output
 * keeps the animation (then its frames, capped by lim->max_frames, frames= and 1024, as pl_run
 * caps them). No shrink-on-load discount. 0 for /info (header only) and when the header does
 * not parse (pl_run will refuse the input). lim NULL = pl_limits_default. Any thread. */
uint64_t pl_run_estimate(const pl_plan *plan, const pl_input *in, const pl_limits *lim);

/* Run plan over in. On success fills out (caller owns; pl_result_clear) and returns 0; on failure
 * returns -1 with err filled and out left empty. ctl may be NULL. */
int pl_run(const pl_plan *plan, const pl_input *in, const pl_limits *lim, pl_control *ctl, pl_result *out, pl_error *err);

void pl_result_clear(pl_result *r);

/* Versions for GET / */
const char *pl_vips_version(void);

#endif
