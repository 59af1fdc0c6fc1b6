/*
 * pl_error: the error table (see pl_error.h) and helpers that fill a caller-owned pl_error.
 * Thread-safe: no shared state of its own. libvips has one error buffer for the whole process:
 * pl_error_set_vips takes its text (vips_error_buffer_copy copies and empties it under libvips'
 * lock) for `detail` only; with runs on several threads that text may belong to another run, so
 * no code is ever decided from it, and nothing here calls vips_error_clear().
 */
#include "pl_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

static const struct {
    const char *name;
    int imaginary_status;
    int native_status;
} pl_error_table[PL_E__COUNT] = {
#define PL_X(code, name, imag, native) [code] = {name, imag, native},
    PL_ERROR_CODES(PL_X)
#undef PL_X
};

static void pl_error_vset(pl_error *err, pl_code code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    err->detail[0] = '\0';
}

int pl_error_set(pl_error *err, pl_code code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        pl_error_vset(err, code, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int pl_error_set_vips(pl_error *err, pl_code code, const char *fmt, ...)
{
    char *text = vips_error_buffer_copy(); /* takes the shared text (copied and emptied at once) */
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        pl_error_vset(err, code, fmt, ap);
        va_end(ap);
        if (text != NULL) {
            /* the newest lines are last: keep the tail when it does not fit */
            size_t n = strlen(text), max = sizeof(err->detail) - 1;
            snprintf(err->detail, sizeof(err->detail), "%s", n > max ? text + (n - max) : text);
            /* one line: the log is JSON lines */
            for (char *p = err->detail; *p != '\0'; p++)
                if (*p == '\n' || *p == '\r')
                    *p = ' ';
        }
    }
    g_free(text);
    return -1;
}

void pl_error_clear(pl_error *err)
{
    if (err != NULL) {
        err->code = PL_OK;
        err->message[0] = '\0';
        err->detail[0] = '\0';
    }
}

const char *pl_error_name(pl_code code)
{
    return (unsigned)code < PL_E__COUNT ? pl_error_table[code].name : "internal_error";
}

int pl_error_http_status(pl_code code, int imaginary_route)
{
    if ((unsigned)code >= PL_E__COUNT)
        return 500;
    return imaginary_route ? pl_error_table[code].imaginary_status : pl_error_table[code].native_status;
}
