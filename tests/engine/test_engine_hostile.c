/*
 * test_engine_hostile: inputs built to hurt the engine, and the rules that keep them harmless.
 *
 * Animations: a 1.5 KB GIF of 64 1x1 frames on a 1000x1000 screen (192 MB decoded) killed the
 * process with SIGSEGV in libvips 8.14 (arrayjoin over a random-access load backed by a temporary
 * file) on full-size operations; it must now give every frame on /resize, /transform, /crop and
 * /thumbnail shapes (and /autorotate, /watermark on the 28-frame fixture, which crashed the same
 * way). A 256-frame one at width=100 goes frame by frame; a still output decodes frame 0 only (a
 * GIF whose later frames are corrupt converts to JPEG and fails as GIF); deadline and cancel
 * still stop an animation; a watermark image stays valid across frames.
 * Admission: pl_run_estimate counts one frame unless the output keeps the animation (capped).
 * Errors: the code and message of a failure come from the run's own stage, never from libvips'
 * process-wide error text: two threads, one failing to decode, the other hitting a blocked loader
 * or its deadline inside libvips, 200 times each, each gets its own code and message. A lossless
 * (SOF3) JPEG is named as such.
 */
#include <pthread.h>

#include "engine_util.h"

/* An animated GIF of `frames` 1x1 frames on a w x h screen, as the report's recipe builds it;
 * packed = the graphic control byte (0x04: no transparency, 0x05: transparent), frames from
 * bad_from on carry an LZW code that does not exist (-1: none). */
static eu_file gif_frames(int frames, int w, int h, int packed, int bad_from)
{
    GByteArray *b = g_byte_array_new();
    const uint8_t head[] = {'G',  'I', 'F', '8', '9', 'a', w & 0xff, w >> 8, h & 0xff, h >> 8,
                            0x80, 0,   0,   0,   0,   0,   0xff,     0xff,   0xff};
    const uint8_t loop[] = {0x21, 0xff, 0x0b, 'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0', 3, 1, 0, 0, 0};
    g_byte_array_append(b, head, sizeof(head));
    g_byte_array_append(b, loop, sizeof(loop));
    for (int i = 0; i < frames; i++) {
        const uint8_t fr[] = {0x21, 0xf9, 4, (uint8_t)packed, 1, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0};
        const uint8_t good[] = {2, 2, 0x44, 0x01, 0}, bad[] = {2, 2, 0xff, 0xff, 0};
        g_byte_array_append(b, fr, sizeof(fr));
        g_byte_array_append(b, bad_from >= 0 && i >= bad_from ? bad : good, 5);
    }
    g_byte_array_append(b, (const uint8_t *)";", 1);
    eu_file f = {.len = b->len};
    f.data = g_byte_array_free(b, FALSE);
    return f;
}

static void check_frames(const char *what, const eu_file *f, const char *spec, int frames, int w, int h, pl_format fmt)
{
    pl_result r;
    pl_error e;
    int rc = eu_run(spec, f, &r, &e);
    eu_img d = eu_decode(&r);
    ok(rc == 0 && r.format == fmt && d.pages == frames && d.width == w && d.page_height == h,
       "%s %s: %d frames of %dx%d (got rc %d, %d of %dx%d)", what, spec, frames, w, h, rc, d.pages, d.width, d.page_height);
    pl_result_clear(&r);
}

static void test_crash_gif(void)
{
    eu_file g = gif_frames(64, 1000, 1000, 0x04, -1);
    ok(g.len == 1511, "the 64-frame GIF is the 1511-byte file of the recipe (%zu)", g.len);
    check_frames("64 frames", &g, "resize?width=1000", 64, 1000, 1000, PL_FMT_GIF);
    check_frames("64 frames", &g, "transform?w=1000", 64, 1000, 1000, PL_FMT_GIF);
    check_frames("64 frames", &g, "crop?width=500&height=500", 64, 500, 500, PL_FMT_GIF);
    check_frames("64 frames", &g, "thumbnail?width=100", 64, 100, 100, PL_FMT_GIF);
    check_frames("64 frames", &g, "resize?width=1000&type=jpeg", 1, 1000, 1000, PL_FMT_JPEG);
    eu_free(&g);

    eu_file f = eu_read("edge/animated-28-frames-1x1-screen-1000.gif");
    check_frames("28 frames", &f, "autorotate", 28, 1000, 1000, PL_FMT_GIF);
    check_frames("28 frames", &f, "watermark?text=imgpipe", 28, 1000, 1000, PL_FMT_GIF);
    eu_free(&f);
}

static void test_frames_needed(void)
{
    eu_file g = gif_frames(256, 1000, 1000, 0x04, -1);
    check_frames("256 frames", &g, "resize?width=100", 256, 100, 100, PL_FMT_GIF);
    check_frames("256 frames", &g, "resize?width=100&type=jpeg", 1, 100, 100, PL_FMT_JPEG);
    check_frames("256 frames", &g, "transform?w=100&frames=3", 3, 100, 100, PL_FMT_GIF);

    /* deadline and cancel stop an animation (no crash, their own codes) */
    pl_result r;
    pl_error e;
    pl_control ctl;
    atomic_init(&ctl.cancelled, 0);
    ctl.deadline_us = g_get_monotonic_time() + 100 * 1000;
    int rc = eu_run_full("resize?width=800", g.data, g.len, NULL, NULL, &ctl, &r, &e);
    ok(rc == -1 && e.code == PL_E_DEADLINE && r.data == NULL, "256 frames at 800 px behind a 100 ms deadline: %s",
       pl_error_name(e.code));
    pl_result_clear(&r);
    atomic_init(&ctl.cancelled, 1);
    ctl.deadline_us = 0;
    rc = eu_run_full("resize?width=800", g.data, g.len, NULL, NULL, &ctl, &r, &e);
    ok(rc == -1 && e.code == PL_E_CANCELLED, "cancelled: %s", pl_error_name(e.code));
    pl_result_clear(&r);
    eu_free(&g);

    /* frames 1-3 do not decode: a still output never reads them, an animated one does */
    eu_file bad = gif_frames(4, 8, 8, 0x04, 1);
    check_frames("corrupt frames 1-3", &bad, "resize?width=4&type=jpeg", 1, 4, 4, PL_FMT_JPEG);
    rc = eu_run("resize?width=4", &bad, &r, &e);
    ok(rc == -1 && e.code == PL_E_DECODE, "corrupt frames 1-3 as GIF: undecodable (%s: %s)", pl_error_name(e.code), e.message);
    pl_result_clear(&r);
    eu_free(&bad);

    /* the watermark image is loaded once for the run, not freed with the first frame */
    eu_file anim = eu_read("edge/animated-rotating-squares.gif");
    eu_file logo = eu_synth(8, 8, ".png");
    rc = eu_run_full("watermarkimage?left=2&top=2", anim.data, anim.len, NULL, NULL, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_MISSING_PARAM, "watermarkimage without the image: missing_parameter");
    pl_result_clear(&r);
    pl_plan plan;
    pl_limits lim;
    pl_limits_default(&lim);
    pl_input in = {.data = anim.data, .len = anim.len, .overlay = logo.data, .overlay_len = logo.len};
    rc = pl_plan_parse_string("watermarkimage?left=2&top=2", &plan, &e) == 0 ? pl_run(&plan, &in, &lim, NULL, &r, &e) : -1;
    eu_img d = eu_decode(&r);
    ok(rc == 0 && d.pages == 30 && d.width == r.in_width && d.page_height == r.in_height,
       "watermarkimage on 30 frames: %d frames of %dx%d (%s)", d.pages, d.width, d.page_height, rc ? e.message : "ok");
    pl_result_clear(&r);
    /* a watermark JPEG with more scans than the limit: refused like the main image */
    eu_file scans = eu_read("bad/jpeg-884-scans.jpg"), photo = eu_read("edge/exif-orientation-1.jpg");
    pl_input win = {.data = photo.data, .len = photo.len, .overlay = scans.data, .overlay_len = scans.len};
    rc = pl_plan_parse_string("watermarkimage?left=2&top=2", &plan, &e) == 0 ? pl_run(&plan, &win, &lim, NULL, &r, &e) : -1;
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS && strstr(e.message, "500 scans"),
       "watermarkimage with an 884-scan JPEG as the watermark: image_too_large before decoding (%s)", e.message);
    pl_result_clear(&r);
    eu_free(&scans);
    eu_free(&photo);
    eu_free(&logo);
    eu_free(&anim);
}

static uint64_t est(const char *spec, const eu_file *f, const pl_limits *lim)
{
    pl_plan plan;
    pl_error e;
    if (pl_plan_parse_string(spec, &plan, &e) != 0) {
        diag("%s: %s", spec, e.message);
        return UINT64_MAX;
    }
    pl_input in = {.data = f->data, .len = f->len};
    return pl_run_estimate(&plan, &in, lim);
}

static void test_estimate(void)
{
    eu_file g = gif_frames(256, 1000, 1000, 0x04, -1);
    pl_probe_info pi;
    pl_error e;
    ok(pl_probe(g.data, g.len, &pi, &e) == 0 && pi.pages == 256, "256-frame GIF probes");
    uint64_t frame = (uint64_t)1000 * 1000 * (uint64_t)pi.bands;
    pl_limits lim;
    pl_limits_default(&lim);
    is_int(est("resize?width=100&type=jpeg", &g, &lim), frame, "GIF to JPEG: one frame");
    is_int(est("resize?width=100", &g, &lim), frame * 256, "GIF to GIF: every frame, max-frames 256");
    is_int(est("resize?width=100&type=webp", &g, &lim), frame * 256, "GIF to WebP: every frame");
    is_int(est("transform?w=100&frames=5", &g, &lim), frame * 5, "frames=5: five frames");
    lim.max_frames = 10;
    is_int(est("resize?width=100", &g, &lim), frame * 10, "max-frames 10: ten frames");
    is_int(est("info", &g, &lim), 0, "/info: header only");
    is_int(pl_decode_bytes_estimate(g.data, g.len), frame * 256, "pl_decode_bytes_estimate still counts every frame");
    lim.allowed_inputs = 1u << PL_FMT_JPEG;
    is_int(est("resize?width=100", &g, &lim), 0, "GIF not allowed: 0 (refused before decoding)");
    eu_free(&g);

    eu_file j = eu_read("photos/kodim23-parrots.png");
    pl_limits_default(&lim);
    ok(j.len > 0 && est("resize?width=100", &j, &lim) == pl_decode_bytes_estimate(j.data, j.len), "PNG: the probe's estimate");
    eu_free(&j);
    /* the PNG fast path's peak: Adam7 holds the inflated passes and the image, a palette image its
     * indices beside the pixels (pngsuite, 32x32, both 4 bands out) */
    j = eu_read("edge/pngsuite-basi6a08-interlaced.png");
    is_int(j.len > 0 ? pl_decode_bytes_estimate(j.data, j.len) : 0, 2 * 32 * 32 * 4, "interlaced PNG: two image buffers");
    eu_free(&j);
    j = eu_read("edge/pngsuite-tbbn3p08-palette-trns.png");
    is_int(j.len > 0 ? pl_decode_bytes_estimate(j.data, j.len) : 0, 32 * 32 * 4 + 32 * 32, "palette PNG: pixels and indices");
    eu_free(&j);
    j = eu_read("edge/exif-orientation-6.jpg");
    ok(j.len > 0 && est("resize?width=100", &j, &lim) == pl_decode_bytes_estimate(j.data, j.len) &&
           pl_probe(j.data, j.len, &pi, &e) == 0 && pl_decode_bytes_estimate(j.data, j.len) == pi.decode_bytes,
       "JPEG: TurboJPEG's estimate = the probe's");
    eu_free(&j);
    j = eu_read("edge/animated-rotating-squares.webp");
    ok(j.len > 0 && pl_probe(j.data, j.len, &pi, &e) == 0 && pi.pages == 9 &&
           est("fit?width=50&height=50", &j, &lim) == pi.decode_bytes &&
           est("fit?width=50&height=50&type=png", &j, &lim) * 9 == pi.decode_bytes,
       "animated WebP: 9 frames to WebP, one to PNG");
    eu_free(&j);
    is_int(est("resize?width=100", &(eu_file){(uint8_t *)"hello", 5}, NULL), 0, "not an image: 0");
}

static void test_jpeg_process(void)
{
    eu_file f = eu_read("bad/lossless-jpeg-sof3.jpg");
    pl_result r;
    pl_error e;
    int rc = eu_run("resize?width=50", &f, &r, &e);
    ok(rc == -1 && e.code == PL_E_DECODE && strstr(e.message, "Unsupported JPEG process (lossless, SOF3)") != NULL,
       "lossless JPEG: undecodable, named: %s", e.message);
    rc = eu_run("info", &f, &r, &e);
    ok(rc == -1 && e.code == PL_E_DECODE && strstr(e.message, "lossless, SOF3") != NULL, "lossless JPEG /info: named too");
    rc = eu_run("transform?w=50", &f, &r, &e);
    ok(rc == -1 && pl_error_http_status(e.code, 0) == 422 && strncmp(e.message, "Unsupported JPEG process", 24) == 0,
       "transform: 422, no imaginary prefix: %s", e.message);
    eu_free(&f);

    /* the same from the marker alone: a baseline JPEG with its SOF0 turned into SOF7 / SOF9 */
    eu_file j = eu_synth(32, 24, ".jpg");
    size_t at = 0;
    for (size_t i = 2; i + 1 < j.len && at == 0; i++)
        if (j.data[i] == 0xFF && j.data[i + 1] == 0xC0)
            at = i + 1;
    ok(at > 0, "synthetic JPEG has SOF0");
    j.data[at] = 0xC7;
    rc = eu_run("resize?width=10", &j, &r, &e);
    ok(rc == -1 && e.code == PL_E_DECODE && strstr(e.message, "(differential lossless, SOF7)") != NULL, "SOF7: %s", e.message);
    j.data[at] = 0xC9; /* arithmetic coding: libjpeg-turbo has it, so not refused by its marker */
    rc = eu_run("resize?width=10", &j, &r, &e);
    ok(rc == 0 || strstr(e.message, "Unsupported JPEG process") == NULL, "SOF9 (arithmetic) is left to the decoder: %s",
       rc == 0 ? "decoded" : e.message);
    pl_result_clear(&r);
    eu_free(&j);
}

/* Two threads at once: each checks that every failure it sees is its own. */
typedef struct side {
    int which;
    int iters;
    int wrong;
    char first_wrong[600];
} side;

static eu_file corrupt, truncated, svg, heavy;

static void note(side *s, const char *what, const pl_error *e)
{
    if (s->wrong++ == 0)
        snprintf(s->first_wrong, sizeof(s->first_wrong), "%s: %s \"%s\"", what, pl_error_name(e->code), e->message);
}

/* One round: five cheap failures (header stage) then one from inside libvips' evaluation. */
static void side_run(side *s, int k)
{
    pl_limits lim;
    pl_limits_default(&lim);
    lim.allowed_inputs |= 1u << PL_FMT_SVG; /* allowed, but libvips blocks the untrusted loader */
    pl_result r;
    pl_error e;
    int rc;
    if (s->which == 0 && k < 5) { /* a header that does not parse */
        rc = eu_run_full("transform?w=50", corrupt.data, corrupt.len, NULL, &lim, NULL, &r, &e);
        if (rc != -1 || e.code != PL_E_DECODE ||
            strcmp(e.message, "Cannot read the jpeg image header: the file is damaged or truncated") != 0)
            note(s, "corrupt header", &e);
    } else if (s->which == 0) { /* pixels that end early */
        rc = eu_run_full("transform?w=50", truncated.data, truncated.len, NULL, &lim, NULL, &r, &e);
        if (rc != -1 || e.code != PL_E_DECODE ||
            strcmp(e.message, "Cannot decode the image: its pixel data is damaged or truncated") != 0)
            note(s, "truncated JPEG", &e);
    } else if (k < 5) { /* a loader libvips blocks */
        rc = eu_run_full("transform?w=50", svg.data, svg.len, NULL, &lim, NULL, &r, &e);
        if (rc != -1 || e.code != PL_E_UNSUPPORTED_INPUT || strstr(e.message, "untrusted loaders") == NULL)
            note(s, "blocked SVG", &e);
    } else { /* a deadline that fires inside libvips' blur */
        pl_control ctl;
        atomic_init(&ctl.cancelled, 0);
        ctl.deadline_us = g_get_monotonic_time() + 3 * 1000;
        rc = eu_run_full("transform?w=1500&sigma=20", heavy.data, heavy.len, NULL, &lim, &ctl, &r, &e);
        if (rc != -1 || e.code != PL_E_DEADLINE || strncmp(e.message, "Processing took longer", 22) != 0)
            note(s, "deadline", &e);
    }
    pl_result_clear(&r);
}

static void *side_main(void *arg)
{
    side *s = arg;
    for (int i = 0; i < s->iters; i++)
        for (int k = 0; k < 6; k++)
            side_run(s, k);
    pl_engine_thread_done();
    return NULL;
}

static void test_error_kinds_two_threads(void)
{
    corrupt = eu_read("bad/corrupt-header.jpg");
    truncated = eu_read("bad/truncated-10000B.jpg");
    svg = eu_read("bad/vector-check.svg");
    heavy = eu_read("edge/alpha-blackbug.png");
    side a = {.which = 0, .iters = 200}, b = {.which = 1, .iters = 200};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, side_main, &a);
    pthread_create(&tb, NULL, side_main, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ok(a.wrong == 0, "decode failures, 200 rounds of 6 beside another thread's failures: each its own (%d wrong%s%s)", a.wrong,
       a.wrong ? ", first: " : "", a.first_wrong);
    ok(b.wrong == 0, "blocked loader and deadline, 200 rounds of 6 beside decode failures: each its own (%d wrong%s%s)", b.wrong,
       b.wrong ? ", first: " : "", b.first_wrong);
    eu_free(&corrupt);
    eu_free(&truncated);
    eu_free(&svg);
    eu_free(&heavy);
}

int main(void)
{
    if (eu_init() != 0)
        return 1;
    test_crash_gif();
    test_frames_needed();
    test_estimate();
    test_jpeg_process();
    test_error_kinds_two_threads();
    return tap_done();
}
