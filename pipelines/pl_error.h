/*
 * pl_error: the engine's error codes and the one table that maps each to a stable machine name,
 * the HTTP status on imaginary's routes, the HTTP status on imgpipe's own routes (/transform …),
 * and the exit-status class used by the batch CLI.
 *
 * A pl_error is a caller-owned record: functions that fail fill it and return -1. `message` is
 * public (safe to send to a client, names the parameter/value/allowed range when it is about
 * input); `detail` is for the log only: libvips' error text, taken at once from libvips' one
 * process-wide buffer, so with several runs at once it may hold another run's text too. The code
 * and message never come from that text (the engine decides them by the stage that failed).
 */
#ifndef PL_ERROR_H
#define PL_ERROR_H

#include <stddef.h>

/* X(code, name, imaginary_status, native_status), one row per line (not reflowed) */
/* clang-format off */
#define PL_ERROR_CODES(X)                                                                                                          \
    X(PL_OK, "ok", 200, 200)                                                                                                       \
    X(PL_E_PARAM, "bad_parameter", 400, 400)                  /* value does not parse / out of range / unknown (native) */    \
    X(PL_E_MISSING_PARAM, "missing_parameter", 400, 400)      /* a required parameter is absent */                            \
    X(PL_E_EMPTY, "empty_image", 400, 400)                    /* zero-byte body */                                            \
    X(PL_E_UNSUPPORTED_INPUT, "unsupported_media_type", 406, 415) /* not an image, or type not allowed */                    \
    X(PL_E_UNSUPPORTED_OUTPUT, "unsupported_output_type", 400, 400) /* type the operation cannot write */                    \
    X(PL_E_NOT_ACCEPTABLE, "not_acceptable", 400, 406)        /* type=auto and nothing in Accept we can write */              \
    X(PL_E_DECODE, "undecodable_image", 400, 422)             /* header or pixels do not decode */                            \
    X(PL_E_TOO_MANY_PIXELS, "image_too_large", 422, 413)      /* input/frame/output pixels or frames over the limit */        \
    X(PL_E_OPERATION, "operation_failed", 400, 400)           /* the operation cannot apply (bad extract area …) */          \
    X(PL_E_ANIMATED, "animation_unsupported", 400, 400)       /* the operation cannot apply to an animated image */           \
    X(PL_E_DEADLINE, "deadline_exceeded", 504, 504)           /* processing deadline fired; libvips was stopped */            \
    X(PL_E_CANCELLED, "cancelled", 499, 499)                  /* the client went away; nobody reads the answer */             \
    X(PL_E_INTERNAL, "internal_error", 500, 500)              /* a bug or out of memory */
/* clang-format on */

typedef enum {
#define PL_X(code, name, imag, native) code,
    PL_ERROR_CODES(PL_X)
#undef PL_X
        PL_E__COUNT
} pl_code;

#define PL_ERROR_MESSAGE_MAX 512
#define PL_ERROR_DETAIL_MAX 1024

typedef struct pl_error {
    pl_code code;
    char message[PL_ERROR_MESSAGE_MAX]; /* public: goes to the client */
    char detail[PL_ERROR_DETAIL_MAX];   /* private: goes to the log (libvips text …) */
} pl_error;

/* Fill err (code, printf-style public message); detail left empty. Returns -1 so callers can
 * `return pl_error_set(err, PL_E_PARAM, "…", …);`. err may be NULL. */
int pl_error_set(pl_error *err, pl_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like pl_error_set, and takes libvips' process-wide error text into detail (vips_error_buffer_copy:
 * copied and emptied at once; the tail when it is longer than detail). Never classifies by it. */
int pl_error_set_vips(pl_error *err, pl_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void pl_error_clear(pl_error *err);

/* Stable machine-readable name ("bad_parameter" …), for the `error` JSON field, logs, metrics. */
const char *pl_error_name(pl_code code);

/* HTTP status for this code on imaginary's routes (imaginary_route=1) or imgpipe's own routes. */
int pl_error_http_status(pl_code code, int imaginary_route);

#endif
