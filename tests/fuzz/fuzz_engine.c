/*
 * fuzz_engine: libFuzzer target for the decoder path: pl_probe(), pl_decode_bytes_estimate() and
 * pl_run() on arbitrary bytes, with small limits (1 MP in and out, 4 frames, 16 MiB decode
 * estimate) and a 2 s deadline, as the service runs them. Input: one selector byte (which of a
 * few plans to run), then the image bytes.
 * Contract checked (abort on violation): success gives a non-empty result within the output
 * limit; failure gives a non-empty, printable public message and never PL_E_INTERNAL (a 500 on
 * hostile input is a bug); pl_probe() and pl_run() never disagree about an input being too
 * large; the admission estimates (pl_decode_bytes_estimate, pl_run_estimate) equal the probe's on
 * every JPEG the probe reads, and pl_run_estimate never counts more than max-frames; an input the
 * engine may move about in place (pl_input.moved, as in a worker process) is left as it came;
 * nothing leaks (ASan).
 * Build and run with tests/fuzz/run-fuzz.sh engine SECONDS; replayed by tests/fuzz (unit).
 */
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_engine.h"

static const char *const plans[] = {
    "resize?width=32",
    "transform?w=24&h=24&fit=cover&type=png",
    "info",
    "extract?areawidth=8&areaheight=8&top=1&left=1",
    "rotate?rotate=90&type=jpeg",
    "transform?w=16&trim=10&sharpen=1&grayscale=true&type=webp",
    "thumbnail?width=20&height=10&type=gif",
    "smartcrop?width=16&height=16",
    /* text through pango and fontconfig; an AV1 encode */
    "watermark?text=x&width=50&type=png",
    "fit?width=30&height=30&type=avif",
    /* JPEG out of an image with alpha: flattened before the resize (pl_geometry_flatten_first) */
    "fit?width=40&height=40&type=jpeg",
};
#define N_PLANS (sizeof(plans) / sizeof(plans[0]))

/* PNG chunk CRC (ISO 3309 / zlib polynomial), bitwise: inputs are small. */
static uint32_t png_crc(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

/* Rewrite the CRC of every whole chunk of a PNG in place. */
static void png_fix_crcs(uint8_t *d, size_t len)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t pos = 8;
    if (len < 8 || memcmp(d, sig, 8) != 0)
        return;
    while (pos + 12 <= len) {
        uint32_t n = (uint32_t)d[pos] << 24 | (uint32_t)d[pos + 1] << 16 | (uint32_t)d[pos + 2] << 8 | d[pos + 3];
        if (n > len - pos - 12)
            return;
        uint32_t c = png_crc(d + pos + 4, (size_t)n + 4);
        d[pos + 8 + n] = (uint8_t)(c >> 24);
        d[pos + 9 + n] = (uint8_t)(c >> 16);
        d[pos + 10 + n] = (uint8_t)(c >> 8);
        d[pos + 11 + n] = (uint8_t)c;
        pos += (size_t)n + 12;
    }
}

static void check_message(const pl_error *err)
{
    if (err->code == PL_OK || err->message[0] == '\0')
        abort();
    for (const char *c = err->message; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    static pl_plan parsed[N_PLANS];
    pl_limits lim;
    pl_control ctl;
    pl_result res;
    pl_error err;
    pl_probe_info info;
    if (!inited) {
        pl_engine_config cfg = {.vips_concurrency = 1, .vips_max_mem = 0, .allow_untrusted = false};
        pl_error e;
        if (pl_engine_init(&cfg, &e) != 0) {
            fprintf(stderr, "pl_engine_init: %s\n", e.message);
            abort();
        }
        for (size_t i = 0; i < N_PLANS; i++)
            if (pl_plan_parse_string(plans[i], &parsed[i], &e) != 0) {
                fprintf(stderr, "plan %s: %s\n", plans[i], e.message);
                abort();
            }
        inited = 1;
    }
    if (size < 1)
        return 0;
    pl_limits_default(&lim);
    lim.max_input_pixels = 1u << 20;
    lim.max_output_pixels = 1u << 20;
    lim.max_frames = 4;
    lim.max_decode_bytes = 16u << 20;

    /* the service copies the body: so do we, exactly sized, so ASan sees reads past its end */
    size_t len = size - 1;
    uint8_t *img = malloc(len ? len : 1);
    if (img == NULL)
        abort();
    memcpy(img, data + 1, len);
    if (data[0] & 0x80)
        png_fix_crcs(img, len);

    pl_error_clear(&err);
    int probe_rc = pl_probe(img, len, &info, &err);
    if (probe_rc != 0)
        check_message(&err);
    /* the service's admission estimate: equal to the probe's whenever the probe reads a JPEG */
    uint64_t est = pl_decode_bytes_estimate(img, len);
    if (probe_rc == 0 && info.format == PL_FMT_JPEG && est != info.decode_bytes) {
        fprintf(stderr, "decode estimate %llu but the probe says %llu\n", (unsigned long long)est,
                (unsigned long long)info.decode_bytes);
        abort();
    }
    /* the plan's estimate (what admission reserves): the same for a JPEG, one frame, never more
     * than every frame (capped by lim.max_frames) for the rest */
    const pl_plan *eplan = &parsed[(data[0] & 0x7f) % N_PLANS];
    pl_input ein = {.data = img, .len = len};
    uint64_t run_est = pl_run_estimate(eplan, &ein, &lim);
    bool anim = (info.format == PL_FMT_GIF || info.format == PL_FMT_WEBP) && info.pages > 1;
    uint64_t frames = anim ? (uint64_t)info.pages : 1; /* the probe counts every frame of these only */
    if (probe_rc == 0 && eplan->op != PL_OP_INFO &&
        (info.format == PL_FMT_JPEG ? run_est != info.decode_bytes
                                    : run_est > info.decode_bytes / frames * (uint64_t)(lim.max_frames))) {
        fprintf(stderr, "plan estimate %llu, probe %llu for %llu frames\n", (unsigned long long)run_est,
                (unsigned long long)info.decode_bytes, (unsigned long long)frames);
        abort();
    }

    memset(&res, 0, sizeof(res));
    pl_error_clear(&err);
    atomic_init(&ctl.cancelled, 0);
    ctl.deadline_us = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    /* inputs of even length run as a worker process runs them: the engine may move the bytes about
     * in place (pl_input.moved), and must leave them as they came */
    atomic_int moved = 0;
    uint8_t *orig = len % 2 == 0 ? g_memdup2(img, len) : NULL;
    pl_input in = {.data = img, .len = len, .overlay = NULL, .overlay_len = 0, .accept = NULL, .moved = orig ? &moved : NULL};
    const pl_plan *plan = &parsed[(data[0] & 0x7f) % N_PLANS];
    int rc = pl_run(plan, &in, &lim, &ctl, &res, &err);
    if (orig != NULL && (memcmp(orig, img, len) != 0 || atomic_load(&moved) != 0)) {
        fprintf(stderr, "the input's bytes were not put back (moved %d)\n", atomic_load(&moved));
        abort();
    }
    g_free(orig);
    if (probe_rc == 0 && plan->op != PL_OP_INFO && (uint64_t)info.width * (uint64_t)info.height > lim.max_input_pixels &&
        (rc == 0 || err.code != PL_E_TOO_MANY_PIXELS)) {
        fprintf(stderr, "probe says %dx%d (over the limit) but pl_run gave rc %d code %s\n", info.width, info.height, rc,
                pl_error_name(err.code));
        abort();
    }
    if (rc == 0) {
        if (res.data == NULL || res.len == 0)
            abort();
        if (plan->op != PL_OP_INFO &&
            (res.width <= 0 || res.height <= 0 || (uint64_t)res.width * (uint64_t)res.height > lim.max_output_pixels))
            abort();
        pl_result_clear(&res);
    } else {
        check_message(&err);
        if (err.code == PL_E_INTERNAL) {
            fprintf(stderr, "internal error on input: %s | %s\n", err.message, err.detail);
            abort();
        }
        if (res.data != NULL)
            abort(); /* out must be left empty on failure */
    }
    free(img);
    return 0;
}
