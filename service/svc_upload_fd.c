/*
 * svc_upload_fd: h2o buffers whose bytes live in a memfd (see svc_upload_fd.h).
 *
 * h2o 2.2.5 frees a buffer whose _fd is not -1 by closing _fd and munmap()ing
 * topagesize(capacity) bytes from the buffer's header (h2o_buffer__do_free). The buffers made
 * here are one mapping of exactly that size:
 *   - page 0: private anonymous memory holding the h2o_buffer_t header (capacity, size, the
 *     bytes and prototype pointers), which only this process can reach;
 *   - pages 1..n: the memfd, MAP_SHARED, its offset 0 at page 1, where `bytes` starts.
 * So a byte's offset in the memfd is its address minus page 1, whatever h2o did to the buffer
 * (consumed bytes from the front, moved them). Their prototype is upload_prototype, h2o's socket
 * prototype without mmap_settings: h2o grows a buffer past mmap_settings' threshold (32 MB) by
 * remapping its descriptor as a whole from offset 0, which would read the header from the image
 * bytes here; without them it grows one of these into malloc, copying, and frees it through
 * h2o_buffer__do_free, as it does its own. A connection's input buffer that h2o empties goes
 * back to that prototype, which serves as h2o's own (same initial size, same recycling). The
 * prototype also tells these buffers from h2o's. The memfd is sized to the announced total plus
 * the 4 KiB h2o's socket read reserves before every read, so a body that arrives as announced is
 * never copied; it is sparse: a client that announces a size and sends less costs what it sent,
 * and the pages made ahead of the reads (svc_upload_fd_ahead), never more than that again.
 * A worker gets a read-only descriptor of the memfd (svc_upload_fd_lend: /proc/self/fd reopened
 * O_RDONLY; its sandbox refuses to open anything for writing), so it can neither write the bytes
 * h2o may still parse nor reach the header page. The memfd lives as long as its last descriptor
 * or mapping: the job's keeps the bytes after h2o freed the buffer (a client gone). Worker
 * processes are started with posix_spawn + exec: they inherit neither the mappings nor (CLOEXEC)
 * the descriptors. Loop thread only (upload_prototype's recycling list is not locked).
 */
#include "svc_upload_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define READ_RESERVE 4096 /* h2o's on_read_core reserves this much room before every read */

/* Pages made ahead of h2o's reads (MADV_POPULATE_WRITE, one call for many pages): a page that a
 * socket read faults in one at a time costs several times more (an 11 MB body: 8.5 ms of the loop
 * thread instead of 10). At most as far ahead as the bytes received, and AHEAD_MAX: a client that
 * stops sending has cost at most twice what it sent. */
#define AHEAD_MAX (4u << 20) /* more than one loop iteration's reads (the socket's receive queue) */

/* How far each memfd buffer's pages were made, by descriptor + 1 (0: a free entry). A buffer's _fd
 * stays open as long as the buffer, and svc_upload_fd_grow resets the entry of a descriptor number
 * used again; entries are taken in turn, so a buffer that outlives SVC_UPLOAD_FD_MAX newer ones may
 * lose its entry: its pages are then faulted in by the reads, as without this. */
static struct {
    int key;
    size_t made;
} made_ahead[SVC_UPLOAD_FD_MAX];
static unsigned made_next;  /* the entry svc_upload_fd_grow takes when none has its descriptor */
static int populate_broken; /* the kernel has no MADV_POPULATE_WRITE (before Linux 5.14) */

/* h2o_socket_buffer_prototype's recycling and initial size, without its mmap_settings (above) */
static h2o_buffer_prototype_t upload_prototype = {{16}, {H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE * 2}, NULL};

static size_t page_size(void)
{
    static size_t ps;
    if (ps == 0)
        ps = (size_t)sysconf(_SC_PAGESIZE);
    return ps;
}

/* h2o's topagesize(): the mapping length of a fd-backed buffer of this capacity */
static size_t mapping_len(size_t capacity)
{
    size_t ps = page_size();
    return (offsetof(h2o_buffer_t, _buf) + capacity + ps - 1) / ps * ps;
}

static int is_memfd_buffer(const h2o_buffer_t *b)
{
    return b != NULL && b->bytes != NULL && b->_fd >= 0 && b->_prototype == &upload_prototype;
}

/* the memfd's bytes: [*start, *end) */
static void memfd_span(const h2o_buffer_t *b, const char **start, const char **end)
{
    *start = (const char *)b + page_size();
    *end = (const char *)b + mapping_len(b->capacity);
}

static size_t *made_of(int fd, int take)
{
    for (size_t i = 0; i < SVC_UPLOAD_FD_MAX; i++)
        if (made_ahead[i].key == fd + 1)
            return &made_ahead[i].made;
    if (!take)
        return NULL;
    size_t i = made_next++ % SVC_UPLOAD_FD_MAX; /* entries of freed buffers are overwritten in turn */
    made_ahead[i].key = fd + 1;
    return &made_ahead[i].made;
}

void svc_upload_fd_ahead(h2o_buffer_t *b)
{
    const char *start, *end;
    size_t *made, ps = page_size();
#ifdef MADV_POPULATE_WRITE
    if (populate_broken || !is_memfd_buffer(b) || (made = made_of(b->_fd, 0)) == NULL)
        return;
    memfd_span(b, &start, &end);
    if (b->bytes < start) /* h2o moved the bytes to its header page: no longer lent, nothing to make */
        return;
    size_t got = (size_t)(b->bytes - start) + b->size, room = (size_t)(end - start);
    size_t ahead = got < AHEAD_MAX ? got : AHEAD_MAX;
    size_t want = got + ahead < room ? got + ahead : room;
    if (*made >= want || *made >= got + ahead / 2) /* made far enough: no call at every read */
        return;
    size_t from = *made > got ? *made : got / ps * ps;
    want = (want + ps - 1) / ps * ps;
    if (madvise((char *)start + from, want - from, MADV_POPULATE_WRITE) != 0) {
        if (errno == EINVAL)
            populate_broken = 1;
        want = room; /* out of memory: the reads fault the pages in, or fail, as before */
    }
    *made = want;
#else
    (void)b, (void)start, (void)end, (void)made, (void)ps;
#endif
}

int svc_upload_fd_is(const h2o_buffer_t *b)
{
    return is_memfd_buffer(b);
}

int svc_upload_fd_fits(const h2o_buffer_t *b, size_t total)
{
    const char *start, *end;
    if (!is_memfd_buffer(b))
        return 0;
    memfd_span(b, &start, &end);
    return b->bytes >= start && (size_t)(end - b->bytes) >= total + READ_RESERVE;
}

int svc_upload_fd_grow(h2o_buffer_t **buf, size_t total)
{
    h2o_buffer_t *old = *buf;
    size_t ps = page_size();
    if (old == NULL || old->bytes == NULL || old->size > total || total > SIZE_MAX / 2)
        return -1;
    size_t data_len = (total + READ_RESERVE + ps - 1) / ps * ps;
    size_t map_len = ps + data_len;
    int fd = memfd_create("imgpipe-upload", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    char *m = MAP_FAILED;
    if (ftruncate(fd, (off_t)data_len) != 0 ||
        (m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED ||
        mmap(m + ps, data_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
        if (m != MAP_FAILED)
            munmap(m, map_len);
        close(fd);
        return -1;
    }
    h2o_buffer_t *b = (h2o_buffer_t *)m;
    b->capacity = map_len - offsetof(h2o_buffer_t, _buf);
    b->size = old->size;
    b->bytes = m + ps;
    b->_prototype = &upload_prototype;
    b->_fd = fd;
    *made_of(fd, 1) = 0;
    svc_upload_fd_ahead(b);
    memcpy(b->bytes, old->bytes, old->size);
    h2o_buffer__do_free(old);
    *buf = b;
    return 0;
}

int svc_upload_fd_lend(const h2o_buffer_t *b, const void *p, size_t len, uint64_t *off)
{
    const char *start, *end, *c = p;
    char path[64];
    if (!is_memfd_buffer(b) || c == NULL || len == 0)
        return -1;
    memfd_span(b, &start, &end);
    if (c < start || c >= end || len > (size_t)(end - c))
        return -1;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", b->_fd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    *off = (uint64_t)(c - start);
    return fd;
}
