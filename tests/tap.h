/*
 * tap.h: a tiny TAP producer for the C test programs (meson test, protocol 'tap').
 * Header-only; single-threaded use (call from the test's main thread).
 *   ok(cond, "name %d", i); is_int(got, want, "name"); is_str(got, want, "name");
 *   return tap_done();   // prints the plan, exit status 1 if anything failed
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_vok(int cond, const char *fmt, va_list ap)
{
    flockfile(stdout); /* one line, whole, when threads report at once (and the counters with it) */
    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    if (!cond)
        tap_failed++;
    funlockfile(stdout);
    return cond;
}

static inline __attribute__((format(printf, 2, 3))) int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = tap_vok(cond, fmt, ap);
    va_end(ap);
    return r;
}

/* A comment line; a newline inside the text (a library's error message) starts another "# " line,
 * and the whole comment goes out under stdout's lock, so that threads that report at once (the
 * hostile tests run jobs in parallel) keep the TAP stream valid. */
static inline __attribute__((format(printf, 1, 2))) void diag(const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap); /* whole: a failing test may print a page of metrics */
    va_end(ap);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf != NULL)
        vsnprintf(buf, (size_t)n + 1, fmt, again);
    va_end(again);
    flockfile(stdout);
    fputs("# ", stdout);
    for (const char *c = buf != NULL ? buf : "(diag: out of memory)"; *c; c++) {
        if (*c != '\n')
            putc_unlocked(*c, stdout);
        else if (c[1] != '\0')
            fputs("\n# ", stdout);
    }
    putc_unlocked('\n', stdout);
    funlockfile(stdout);
    free(buf);
}

#define is_int(got, want, ...)                                                                                                     \
    do {                                                                                                                           \
        long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);                                                           \
        if (!ok(tap_g_ == tap_w_, __VA_ARGS__))                                                                                    \
            diag("  got %lld, want %lld", tap_g_, tap_w_);                                                                         \
    } while (0)

#define is_str(got, want, ...)                                                                                                     \
    do {                                                                                                                           \
        const char *tap_g_ = (got), *tap_w_ = (want);                                                                              \
        if (!ok(tap_g_ != NULL && tap_w_ != NULL && strcmp(tap_g_, tap_w_) == 0, __VA_ARGS__))                                     \
            diag("  got \"%s\", want \"%s\"", tap_g_ ? tap_g_ : "(null)", tap_w_ ? tap_w_ : "(null)");                             \
    } while (0)

static inline void tap_skip(int n, const char *why)
{
    for (int i = 0; i < n; i++)
        printf("ok %d # SKIP %s\n", ++tap_n, why);
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

/* Path of a fixture: $IMGPIPE_FIXTURES/rel (static buffer, valid until the next call). */
static inline const char *tap_fixture(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("IMGPIPE_FIXTURES");
    snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : "tests/fixtures", rel);
    return buf;
}

#endif
