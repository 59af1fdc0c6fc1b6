/*
 * test_admission: unit test of service/svc_admission.c, the global decode-memory budget:
 * reserve/release, waiting until memory is released, giving up at the deadline or on cancel,
 * clamping of an estimate larger than the budget, the estimate from a real header, and 8
 * threads hammering it without ever exceeding the budget.
 */
#include <glib.h>
#include <pthread.h>
#include <unistd.h>

#include "../tap.h"
#include "svc_admission.h"

static double now_s(void)
{
    return (double)g_get_monotonic_time() / 1e6;
}

typedef struct waiter {
    uint64_t bytes;
    pl_control ctl;
    int rc;
    uint64_t held;
    double waited;
} waiter;

static void *wait_thread(void *p)
{
    waiter *w = p;
    double t0 = now_s();
    w->rc = svc_admission_acquire(w->bytes, &w->ctl, &w->held);
    w->waited = now_s() - t0;
    return NULL;
}

static atomic_int over_budget;

static void *hammer(void *p)
{
    unsigned seed = (unsigned)(uintptr_t)p;
    for (int i = 0; i < 2000; i++) {
        uint64_t held;
        uint64_t want = 1 + (uint64_t)(rand_r(&seed) % 600);
        if (svc_admission_acquire(want, NULL, &held) != 0) {
            atomic_fetch_add(&over_budget, 1000);
            continue;
        }
        if (svc_admission_in_use() > svc_admission_budget())
            atomic_fetch_add(&over_budget, 1);
        svc_admission_release(held);
    }
    return NULL;
}

int main(void)
{
    uint64_t a, b;
    pthread_t th;
    waiter w;

    pl_engine_config cfg = {.vips_concurrency = 1};
    pl_error err;
    ok(pl_engine_init(&cfg, &err) == 0, "engine init");

    /* off: never waits, holds nothing */
    svc_admission_init(0);
    ok(svc_admission_acquire(1u << 30, NULL, &a) == 0 && a == 0, "budget 0: admission off");

    svc_admission_init(1000);
    ok(svc_admission_acquire(800, NULL, &a) == 0 && a == 800, "800 of 1000 reserved");
    is_int(svc_admission_in_use(), 800, "in use 800");

    /* 300 does not fit: gives up at its deadline */
    memset(&w, 0, sizeof(w));
    w.bytes = 300;
    w.ctl.deadline_us = g_get_monotonic_time() + 200000;
    wait_thread(&w);
    ok(w.rc == -1 && w.held == 0, "300 more does not fit: -1 at the deadline");
    ok(w.waited >= 0.18 && w.waited < 1.0, "... after waiting %.0f ms (deadline 200 ms)", w.waited * 1000);

    /* cancel while waiting */
    memset(&w, 0, sizeof(w));
    w.bytes = 300;
    pthread_create(&th, NULL, wait_thread, &w);
    usleep(100000);
    is_int(svc_admission_waiting(), 1, "one job waits for memory");
    atomic_store(&w.ctl.cancelled, 1);
    pthread_join(th, NULL);
    ok(w.rc == -1 && w.waited < 0.5, "cancelled while waiting: -1 within %.0f ms", w.waited * 1000);

    /* a release wakes the waiter */
    memset(&w, 0, sizeof(w));
    w.bytes = 300;
    pthread_create(&th, NULL, wait_thread, &w);
    usleep(150000);
    svc_admission_release(a);
    pthread_join(th, NULL);
    ok(w.rc == 0 && w.held == 300, "after the release the waiter gets its 300");
    ok(w.waited >= 0.12, "... having waited %.0f ms for it", w.waited * 1000);
    is_int(svc_admission_in_use(), 300, "in use 300");
    svc_admission_release(w.held);
    is_int(svc_admission_in_use(), 0, "in use back to 0");

    /* larger than the whole budget: clamped, runs alone */
    ok(svc_admission_acquire(5000, NULL, &b) == 0 && b == 1000, "5000 > budget: clamped to the budget, admitted alone");
    memset(&w, 0, sizeof(w));
    w.bytes = 1;
    w.ctl.deadline_us = g_get_monotonic_time() + 100000;
    wait_thread(&w);
    is_int(w.rc, -1, "nothing else fits while it runs");
    svc_admission_release(b);

    /* estimates */
    {
        FILE *f = fopen(tap_fixture("edge/exif-orientation-1.jpg"), "rb");
        static uint8_t buf[1 << 20];
        size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
        pl_probe_info pi;
        if (f)
            fclose(f);
        ok(n > 0 && pl_probe(buf, n, &pi, &err) == 0, "probe a JPEG fixture");
        is_int(svc_admission_estimate(PL_OP_RESIZE, buf, n), (uint64_t)pi.width * pi.height * 3, "estimate = w x h x 3 bands");
        is_int(svc_admission_estimate(PL_OP_INFO, buf, n), 0, "/info reads the header only: 0");
        is_int(svc_admission_estimate(PL_OP_RESIZE, (const uint8_t *)"hello", 5), 5, "not an image: the body length");
    }

    /* 8 threads, random sizes: never over the budget, all released */
    {
        pthread_t t[8];
        svc_admission_init(1000);
        for (uintptr_t i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, hammer, (void *)(i + 1));
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
        is_int(atomic_load(&over_budget), 0, "8 threads x 2000 reservations: never over the budget");
        is_int(svc_admission_in_use(), 0, "everything released");
    }
    pl_engine_shutdown();
    return tap_done();
}
