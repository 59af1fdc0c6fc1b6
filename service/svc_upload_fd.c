/*
 * svc_upload_fd: h2o buffers whose bytes live in a memfd (see svc_upload_fd.h).
 *
 * h2o 2.2.5 frees a buffer whose _fd is not -1 by closing _fd and munmap()ing
 * topagesize(capacity) bytes from the buffer's header (h2o_buffer__do_free). The buffers made
 * here are one mapping of exactly that size:
 *   - first, private anonymous pages holding the h2o_buffer_t header (capacity, size, the bytes
 *     and prototype pointers) and, at their end, the HTTP/1 request head (its header lines, an
 *     API key or a cookie among them): only this process can reach them;
 *   - then the memfd, MAP_SHARED, its offset 0 where the body starts.
 * So the memfd's start is the mapping's end less the memfd's size, whatever h2o did to the buffer
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
 * h2o may still parse nor reach the header or the request head. What it can read past the body:
 * the 4 KiB of room after it, where a client that pipelines its next HTTP/1 request before the
 * answer may have sent its first bytes. The memfd lives as long as its last descriptor
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
#include <sys/stat.h>
#include <unistd.h>

#define READ_RESERVE 4096 /* h2o's on_read_core reserves this much room before every read */

/* Pages made ahead of h2o's reads (MADV_POPULATE_WRITE, one call for many pages): a page that a
 * socket read faults in one at a time costs several times more (an 11 MB body: 8.5 ms of the loop
 * thread instead of 10). At most as far ahead as the bytes received, and AHEAD_MAX: a client that
 * stops sending has cost at most twice what it sent. */
#define AHEAD_MAX (4u << 20) /* more than one loop iteration's reads (the socket's receive queue) */

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

/* the memfd's bytes, [*start, *end): the end of the mapping, less the memfd's size; *made, the
 * bytes of its pages that exist (written or made ahead: from its start on, without holes). -1 when
 * the memfd cannot be read. */
static int memfd_span(const h2o_buffer_t *b, const char **start, const char **end, size_t *made)
{
    struct stat st;
    if (fstat(b->_fd, &st) != 0 || st.st_size <= 0 || (size_t)st.st_size > mapping_len(b->capacity))
        return -1;
    *end = (const char *)b + mapping_len(b->capacity);
    *start = *end - st.st_size;
    *made = (size_t)st.st_blocks * 512;
    return 0;
}

void svc_upload_fd_ahead(h2o_buffer_t *b)
{
#ifdef MADV_POPULATE_WRITE
    const char *start, *end;
    size_t made, ps = page_size();
    if (populate_broken || !is_memfd_buffer(b) || memfd_span(b, &start, &end, &made) != 0)
        return;
    const char *last = b->bytes + b->size; /* past the last byte received */
    if (last < start)                      /* nothing in the memfd yet */
        return;
    size_t got = (size_t)(last - start), room = (size_t)(end - start);
    size_t ahead = got < AHEAD_MAX ? got : AHEAD_MAX;
    size_t want = got + ahead < room ? got + ahead : room;
    if (made >= want || made >= got + ahead / 2) /* made far enough: no call at every read */
        return;
    /* from the first page that does not exist yet: in svc_upload_fd_grow, before the bytes
     * received so far are copied in, that is the memfd's first */
    size_t from = made / ps * ps;
    want = (want + ps - 1) / ps * ps;
    if (madvise((char *)start + from, want - from, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
        populate_broken = 1; /* out of memory: the reads fault the pages in, or fail, as before */
#else
    (void)b;
#endif
}

int svc_upload_fd_is(const h2o_buffer_t *b)
{
    return is_memfd_buffer(b);
}

int svc_upload_fd_fits(const h2o_buffer_t *b, size_t total)
{
    return is_memfd_buffer(b) && (size_t)((const char *)b + mapping_len(b->capacity) - b->bytes) >= total + READ_RESERVE;
}

int svc_upload_fd_grow(h2o_buffer_t **buf, size_t total, size_t head_len)
{
    h2o_buffer_t *old = *buf;
    size_t ps = page_size();
    if (old == NULL || old->bytes == NULL || old->size > total || head_len > old->size || total > SIZE_MAX / 2 ||
        head_len > SVC_UPLOAD_FD_HEAD_MAX)
        return -1;
    size_t head_pages = (offsetof(h2o_buffer_t, _buf) + head_len + ps - 1) / ps * ps;
    size_t data_len = (total - head_len + READ_RESERVE + ps - 1) / ps * ps;
    size_t map_len = head_pages + data_len;
    int fd = memfd_create("imgpipe-upload", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    char *m = MAP_FAILED;
    if (ftruncate(fd, (off_t)data_len) != 0 ||
        (m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED ||
        mmap(m + head_pages, data_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
        if (m != MAP_FAILED)
            munmap(m, map_len);
        close(fd);
        return -1;
    }
    h2o_buffer_t *b = (h2o_buffer_t *)m;
    b->capacity = map_len - offsetof(h2o_buffer_t, _buf);
    b->size = old->size;
    b->bytes = m + head_pages - head_len; /* the head just before the memfd, the body at its start */
    b->_prototype = &upload_prototype;
    b->_fd = fd;
    svc_upload_fd_ahead(b);
    memcpy(b->bytes, old->bytes, old->size);
    h2o_buffer__do_free(old);
    *buf = b;
    return 0;
}

int svc_upload_fd_lend(const h2o_buffer_t *b, const void *p, size_t len, uint64_t *off)
{
    const char *start, *end, *c = p;
    size_t made;
    char path[64];
    if (!is_memfd_buffer(b) || c == NULL || len == 0 || memfd_span(b, &start, &end, &made) != 0)
        return -1;
    if (c < start || c >= end || len > (size_t)(end - c))
        return -1;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", b->_fd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    *off = (uint64_t)(c - start);
    return fd;
}
