/*
 * pl_cancel: stopping work that nobody wants any more (client gone) or that ran past its deadline.
 *
 * Between steps, pl_cancel_check() looks at the pl_control. Inside a step, libvips computes
 * pixels lazily on its own worker threads; pl_cancel_attach() turns on progress reporting for the
 * head image of the pipeline (every image built from it inherits the progress signal) and the
 * "eval" callback kills the evaluation with vips_image_set_kill() as soon as ctl->cancelled is set
 * or the deadline passed. The failed libvips call then returns -1 and pl_cancel_fail() reports
 * PL_E_CANCELLED / PL_E_DEADLINE from this run's own kill_code, never from libvips' error text
 * (one buffer for every thread: another run's failure can be in it).
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
    /* img reports its own progress: libvips 8.14's set_progress(TRUE) on an image that inherited
     * another's reporter clears it instead */
    vips_image_set_progress(img, FALSE);
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
    pl_code state = pl_cancel_state(c->ctl);
    if (killed != 0 || state != PL_OK) {
        /* libvips' "killed" text stays where it is: the buffer is every thread's */
        return pl_cancel_report(c, killed != 0 ? (pl_code)killed : state);
    }
    /* Pixels are decoded lazily, inside whatever operation first reads them (smartcrop, trim,
     * the encoder): when this run's loader failed there (pl_load's guard saw it), the input is
     * at fault, not the operation. */
    if (atomic_load(&c->load_failed))
        return pl_error_set_vips(c->err, PL_E_DECODE, "Cannot decode the image: its pixel data is damaged or truncated");
    return pl_error_set_vips(c->err, code, "%s", what);
}
