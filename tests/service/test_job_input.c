/*
 * test_job_input: how a job's image reaches its worker's arena (svc_job.c, svc_arena.c).
 *
 * The arena: an image and an overlay read back where svc_proc says they are; it grows in whole
 * MiB, and after a much larger upload it is cut back. The pin on a request's body: a copy takes
 * the bytes once and never reads them again; a pin revoked before the copy leaves the job
 * cancelled and the arena untouched; svc_job_unpin() during a copy returns only after it, so the
 * body may be freed at once (checked by overwriting a 48 MB body the moment unpin returns and
 * reading the arena back). A job's own copy (HTTP/2, sources) is freed by the copy. Suite unit.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svc_arena.h"
#include "svc_job.h"
#include "tap.h"

static uint64_t file_size(const svc_arena *a)
{
    struct stat st;
    return fstat(svc_arena_fd(a), &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Does the arena hold want[0..len) at off? */
static int holds(const svc_arena *a, uint64_t off, const uint8_t *want, size_t len)
{
    uint8_t *got = malloc(len ? len : 1);
    size_t n = 0;
    while (got != NULL && n < len) {
        ssize_t r = svc_arena_read(a, off + n, got + n, len - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    int same = got != NULL && n == len && memcmp(got, want, len) == 0;
    free(got);
    return same;
}

static uint8_t *pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len);
    for (size_t i = 0; p != NULL && i < len; i++)
        p[i] = (uint8_t)((i * 131u + seed * 7u) >> 3);
    return p;
}

static void test_arena(void)
{
    svc_arena *a = svc_arena_new();
    if (!ok(a != NULL, "an arena"))
        return;
    uint8_t *img = pattern(3200000, 1), *ovl = pattern(5000, 2), *big = pattern(40u << 20, 3);
    ok(svc_arena_put(a, img, 3200000, ovl, 5000) == 0 && holds(a, 0, img, 3200000) && holds(a, 3200000, ovl, 5000),
       "an image and its overlay read back at 0 and right after");
    is_int((long long)file_size(a), 4 << 20, "sized in whole MiB (3.2 MB + 5 KB: 4 MiB)");
    ok(svc_arena_put(a, big, 40u << 20, NULL, 0) == 0 && holds(a, 0, big, 40u << 20), "a 40 MiB upload after it");
    is_int((long long)file_size(a), 40 << 20, "grown to 40 MiB");
    ok(svc_arena_put(a, img, 1000, NULL, 0) == 0 && holds(a, 0, img, 1000), "then a small one");
    is_int((long long)file_size(a), 8 << 20, "cut back to 8 MiB after it (over 4 x what it needed)");
    ok(svc_arena_put(a, img, 3200000, NULL, 0) == 0 && file_size(a) == 8u << 20, "a 3.2 MB one keeps 8 MiB");
    svc_arena_free(a);
    free(img);
    free(ovl);
    free(big);
}

typedef struct copier {
    svc_job *job;
    svc_arena *arena;
    int rc;
} copier;

static void *copy_thread(void *arg)
{
    copier *c = arg;
    c->rc = svc_job_copy_input(c->job, c->arena);
    return NULL;
}

static void test_pin(void)
{
    svc_arena *a = svc_arena_new();
    uint8_t *body = pattern(1 << 20, 4), *ovl = pattern(777, 5);
    if (!ok(a != NULL && body != NULL, "an arena and a body"))
        return;

    /* copied, then let go: unpin returns at once, data and overlay are no longer the job's */
    svc_job *job = svc_job_new();
    svc_job_pin_input(job, body, 1 << 20, ovl, 777);
    is_int(svc_job_copy_input(job, a), 0, "a pinned body is copied");
    ok(holds(a, 0, body, 1 << 20) && holds(a, 1 << 20, ovl, 777), "... the image and overlay are in the arena");
    ok(job->data == NULL && job->overlay == NULL && job->data_len == (1u << 20) && job->overlay_len == 777,
       "... the job keeps their sizes, not pointers into the body");
    svc_job_unpin(job);
    is_int(atomic_load(&job->pin), SVC_PIN_DONE, "... and unpin after the copy leaves it done");
    svc_job_free(job);

    /* revoked before the copy: nothing is read */
    uint8_t *other = pattern(1 << 20, 6);
    job = svc_job_new();
    svc_job_pin_input(job, other, 1 << 20, NULL, 0);
    svc_job_unpin(job);
    is_int(svc_job_copy_input(job, a), 1, "a pin revoked before the copy: the copy refuses (the job is cancelled)");
    ok(holds(a, 0, body, 1 << 20), "... and the arena still holds the last job's bytes");
    svc_job_free(job);
    free(other);

    /* the job's own copy: freed by the copy */
    job = svc_job_new();
    ok(svc_job_set_input(job, body, 5000, NULL, 0) == 0 && job->in_copy != NULL, "a job's own copy");
    ok(svc_job_copy_input(job, a) == 0 && job->in_copy == NULL && holds(a, 0, body, 5000), "... copied, then freed");
    svc_job_unpin(job); /* nothing pinned: returns */
    svc_job_free(job);

    /* unpin during a copy of 48 MB: waits for it; the body is overwritten the moment it returns */
    size_t n = 48u << 20;
    uint8_t *large = pattern(n, 7), *want = pattern(n, 7);
    int waited = 0, tries = 0;
    for (; tries < 5 && !waited; tries++) {
        job = svc_job_new();
        svc_job_pin_input(job, large, n, NULL, 0);
        copier c = {.job = job, .arena = a, .rc = -2};
        pthread_t t;
        pthread_create(&t, NULL, copy_thread, &c);
        while (atomic_load(&job->pin) == SVC_PIN_HELD) /* the copy has not begun */
            sched_yield();
        svc_job_unpin(job);
        memset(large, 0, n); /* what h2o may do with the buffer once unpin returns */
        pthread_join(t, NULL);
        waited = c.rc == 0 && holds(a, 0, want, n);
        memcpy(large, want, n);
        svc_job_free(job);
    }
    ok(waited, "unpin during a copy returns after it: the arena holds the body as it was (%d tries)", tries);
    free(large);
    free(want);
    free(body);
    free(ovl);
    svc_arena_free(a);
}

int main(void)
{
    test_arena();
    test_pin();
    return tap_done();
}
