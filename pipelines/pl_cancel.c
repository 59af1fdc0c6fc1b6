/*
 * pl_cancel: stopping work that nobody wants any more (client gone) or that ran past its deadline.
 *
 * Between steps, pl_cancel_check() looks at the pl_control. Inside a step, libvips computes
 * pixels lazily on its own worker threads; pl_cancel_attach() turns on progress reporting for the
 * head image of the pipeline (every image built from it inherits the progress signal) and the
 * "eval" callback kills the evaluation with vips_image_set_kill() as soon as ctl->cancelled is set
 * or the deadline passed. The failed libvips call then returns -1 and pl_cancel_fail() reports
 * PL_E_CANCELLED / PL_E_DEADLINE instead of libvips' "killed" text.
 *
 * DESIGN: the callback may run on a libvips thread; it only reads the atomics of pl_control and
 * writes ctx->kill_code (atomic) and the image's kill flag (libvips' own, thread-safe).
 */
#include <stdio.h>
#include <string.h>

#include "pl_internal.h"

static pl_code pl_cancel_state(const pl_control *ctl)
{
    if (ctl == NULL)
        return PL_OK;
    if (atomic_load(&((pl_control *)ctl)->cancelled))
        return PL_E_CANCELLED;
    if (ctl->deadline_us > 0 && g_get_monotonic_time() >= ctl->deadline_us)
        return PL_E_DEADLINE;
    return PL_OK;
}

static void pl_cancel_on_eval(VipsImage *image, VipsProgress *progress, void *user)
{
    pl_ctx *c = user;
    pl_code code = pl_cancel_state(c->ctl);
    if (code != PL_OK) {
        int none = 0;
        atomic_compare_exchange_strong(&c->kill_code, &none, (int)code);
        vips_image_set_kill(image, TRUE);
        if (c->head != NULL)
            vips_image_set_kill(c->head, TRUE);
    }
}

void pl_cancel_attach(pl_ctx *c, VipsImage *img)
{
    if (c->ctl == NULL || img == NULL)
        return;
    vips_image_set_progress(img, TRUE);
    g_signal_connect(img, "eval", G_CALLBACK(pl_cancel_on_eval), c);
}

static int pl_cancel_report(pl_ctx *c, pl_code code)
{
    if (code == PL_E_CANCELLED)
        return pl_error_set(c->err, PL_E_CANCELLED, "Request cancelled: the client went away");
    return pl_error_set(c->err, PL_E_DEADLINE, "Processing took longer than the deadline allows; try a smaller image or output");
}

int pl_cancel_check(pl_ctx *c)
{
    pl_code code = pl_cancel_state(c->ctl);
    if (code == PL_OK)
        return 0;
    return pl_cancel_report(c, code);
}

int pl_cancel_fail(pl_ctx *c, pl_code code, const char *what)
{
    int killed = atomic_load(&c->kill_code);
    if (killed != 0 || pl_cancel_state(c->ctl) != PL_OK) {
        vips_error_clear();
        return pl_cancel_report(c, killed != 0 ? (pl_code)killed : pl_cancel_state(c->ctl));
    }
    pl_error_set_vips(c->err, code, "%s", what);
    /* Pixels are decoded lazily, inside whatever operation first reads them (smartcrop, trim,
     * the encoder): a loader's error there is the input's fault, not the operation's. */
    static const char *decode_marks[] = {"load", "VipsJpeg", "vipspng", "libpng", "Premature end", "not enough data", "truncated"};
    if (c->err != NULL && code != PL_E_DECODE)
        for (size_t i = 0; i < sizeof(decode_marks) / sizeof(decode_marks[0]); i++)
            if (strstr(c->err->detail, decode_marks[i]) != NULL) {
                c->err->code = PL_E_DECODE;
                snprintf(c->err->message, sizeof(c->err->message),
                         "Cannot decode the image: its pixel data is damaged or truncated");
                break;
            }
    return -1;
}
