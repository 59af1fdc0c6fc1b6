/*
 * svc_arena: the kept input memfd of a pool thread or batch worker (see svc_arena.h).
 */
#include "svc_arena.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_STEP ((uint64_t)1 << 20) /* sizes in whole MiB: a little more upload is no regrowth */
#define ARENA_KEEP ((uint64_t)8 << 20) /* never cut back below this */
#define ARENA_SLACK 4                  /* cut back when over this many times what a job needed */

struct svc_arena {
    int fd;
    uint64_t size; /* the file's size, as last set here */
};

svc_arena *svc_arena_new(void)
{
    svc_arena *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    if ((a->fd = memfd_create("imgpipe-in", MFD_CLOEXEC)) < 0) {
        int e = errno;
        free(a);
        errno = e;
        return NULL;
    }
    return a;
}

void svc_arena_free(svc_arena *a)
{
    if (a == NULL)
        return;
    close(a->fd);
    free(a);
}

int svc_arena_fd(const svc_arena *a)
{
    return a->fd;
}

static int pwrite_all(int fd, const void *p, size_t len, uint64_t off)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = pwrite(fd, c, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        c += n, len -= (size_t)n, off += (uint64_t)n;
    }
    return 0;
}

int svc_arena_put(svc_arena *a, const void *data, size_t len, const void *overlay, size_t overlay_len)
{
    uint64_t need = (uint64_t)len + (overlay != NULL ? overlay_len : 0);
    uint64_t want = (need + ARENA_STEP - 1) / ARENA_STEP * ARENA_STEP;
    if (want == 0)
        want = ARENA_STEP;
    /* grow to what this job needs; cut back after a much larger one (the kernel frees the pages
     * past the end; the worker only reads inside the job it is given) */
    if (want > a->size || (a->size > ARENA_KEEP && a->size > ARENA_SLACK * want)) {
        uint64_t to = want > ARENA_KEEP || want > a->size ? want : ARENA_KEEP;
        if (ftruncate(a->fd, (off_t)to) != 0)
            return -1;
        a->size = to;
    }
    if (len > 0 && pwrite_all(a->fd, data, len, 0) != 0)
        return -1;
    if (overlay != NULL && overlay_len > 0 && pwrite_all(a->fd, overlay, overlay_len, len) != 0)
        return -1;
    return 0;
}

ssize_t svc_arena_read(const svc_arena *a, uint64_t off, void *buf, size_t n)
{
    ssize_t r;
    do
        r = pread(a->fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    return r;
}
