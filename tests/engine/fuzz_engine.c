/*
 * fuzz_engine: libFuzzer target for the engine on arbitrary bytes, limits on: every
 * input must give 0 or -1 with a known code, never a crash, a hang or an internal error.
 * Not part of `meson test`; build and run by hand with tests/engine/run-fuzz-engine.sh [SECONDS].
 */
#include <stdio.h>
#include <stdlib.h>

#include "pl_engine.h"

#define FZ_PLANS 8
static pl_plan fz_plans[FZ_PLANS];
static pl_limits fz_lim;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pl_error err;
    if (pl_engine_init(&(pl_engine_config){.vips_concurrency = 1}, &err) != 0)
        abort();
    const char *specs[FZ_PLANS] = {"resize?width=64",
                                   "info",
                                   "transform?w=32&h=32&fit=cover&type=png",
                                   "rotate?rotate=90&type=webp",
                                   "smartcrop?width=20&height=20&type=jpeg",
                                   "transform?w=40&trim=10&sharpen=1&type=gif",
                                   "watermark?text=x&width=50&type=png",
                                   "fit?width=30&height=30&type=avif"};
    for (int i = 0; i < FZ_PLANS; i++)
        if (pl_plan_parse_string(specs[i], &fz_plans[i], &err) != 0)
            abort();
    pl_limits_default(&fz_lim);
    fz_lim.max_input_pixels = 4000000;
    fz_lim.max_decode_bytes = 64u << 20;
    fz_lim.max_frames = 8;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_input in = {.data = data, .len = size};
    pl_control ctl;
    atomic_init(&ctl.cancelled, 0);
    const pl_plan *plan = &fz_plans[size % FZ_PLANS];
    ctl.deadline_us = 0;
    pl_result r;
    pl_error e;
    int rc = pl_run(plan, &in, &fz_lim, &ctl, &r, &e);
    if (rc == 0 && (r.data == NULL || r.len == 0))
        abort();
    if (rc != 0 && (e.code == PL_E_INTERNAL || e.code == PL_OK || e.message[0] == '\0')) {
        fprintf(stderr, "bad error: %d %s (%s)\n", e.code, e.message, e.detail);
        abort();
    }
    pl_result_clear(&r);
    return 0;
}
