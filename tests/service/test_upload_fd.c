/*
 * test_upload_fd: svc_upload_fd.c, h2o buffers whose bytes live in a memfd. The bytes survive the
 * move; h2o's own reads (reserve 4 KiB, read) fill a body of the announced size without a copy;
 * the descriptor lent is read-only and reads the body at the offset given; h2o grows such a
 * buffer past its room (into malloc, also past the 32 MB where h2o's socket prototype would remap
 * a file), consumes and frees it, and no descriptor is left open. Pages are made ahead of the
 * reads, never more than the bytes received. An HTTP/1 head stays out of the memfd. Suite unit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svc_test.h"
#include "svc_upload_fd.h"

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 2654435761u >> 13);
}

/* h2o's on_read_core: reserve 4 KiB, then "read" up to what is left of n bytes */
static void h2o_like_read(h2o_buffer_t **b, size_t *written, size_t n)
{
    while (*written < n) {
        h2o_iovec_t room = h2o_buffer_reserve(b, 4096);
        size_t k = room.len < n - *written ? room.len : n - *written;
        for (size_t i = 0; i < k; i++)
            room.base[i] = (char)pattern(*written + i);
        (*b)->size += k;
        *written += k;
    }
}

static int same_as_pattern(const char *p, size_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] != pattern(from + i))
            return 0;
    return 1;
}

/* the memory a memfd buffer's pages hold (shmem counts them in st_blocks) */
static size_t memfd_bytes(const h2o_buffer_t *b)
{
    struct stat st;
    return fstat(b->_fd, &st) == 0 ? (size_t)st.st_blocks * 512 : 0;
}

int main(void)
{
    const size_t total = 3u << 20;
    int fds0 = t_pid_fds(getpid());
    h2o_buffer_t *b;
    size_t written = 0;
    uint64_t off = 0;
    h2o_buffer_init(&b, &h2o_socket_buffer_prototype);
    h2o_like_read(&b, &written, 100000);
    ok(!svc_upload_fd_fits(b, total), "h2o's own buffer is not a memfd buffer");
    ok(svc_upload_fd_lend(b, b->bytes, 10, &off) < 0, "... and lends nothing");

    const size_t head = 700; /* an HTTP/1 request head: kept out of the memfd */
    is_int(svc_upload_fd_grow(&b, total, head), 0, "grown to 3 MiB");
    ok(b->size == 100000 && same_as_pattern(b->bytes, 0, b->size), "the bytes received so far moved over");
    ok(svc_upload_fd_fits(b, total), "it fits the announced total");
    h2o_buffer_t *moved = b;
    h2o_like_read(&b, &written, total);
    ok(b == moved && b->size == total && same_as_pattern(b->bytes, 0, total),
       "h2o's reads (reserve 4 KiB each) fill the announced total in place");

    int fd = svc_upload_fd_lend(b, b->bytes + 5000, 200000, &off);
    ok(fd >= 0, "a descriptor is lent for a range inside");
    is_int((long)off, 5000 - (long)head, "... at the range's offset (the body starts the memfd)");
    ok(fd >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY, "... read-only");
    errno = 0;
    ok(fd >= 0 && write(fd, "x", 1) < 0 && errno == EBADF, "... writes are refused");
    ok(fd >= 0 && mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES,
       "... and so is a writable shared mapping");
    char *view = fd >= 0 ? mmap(NULL, total, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    ok(view != MAP_FAILED && same_as_pattern(view + off, 5000, 200000), "it reads the body's bytes at that offset");
    ok(view != MAP_FAILED && same_as_pattern(view, head, 4096), "the memfd starts with the body, not the head");
    ok(svc_upload_fd_lend(b, b->bytes, 10, &off) < 0 && svc_upload_fd_lend(b, b->bytes + head - 1, 10, &off) < 0,
       "a range in the head: nothing lent");
    ok(svc_upload_fd_lend(b, b->bytes + total, 1 << 20, &off) < 0, "a range ending past it: nothing lent");

    /* consumed from the front (a pipelined request's head), then grown past its room by h2o */
    h2o_buffer_consume(&b, 1000);
    int fd2 = svc_upload_fd_lend(b, b->bytes, 10, &off);
    ok(fd2 >= 0 && off == 1000 - head, "consumed from the front: offsets still right");
    if (fd2 >= 0)
        close(fd2);
    h2o_iovec_t room = h2o_buffer_reserve(&b, 40u << 20);
    ok(room.base != NULL && room.len >= (40u << 20), "h2o grows it past 32 MB");
    ok(b->size == total - 1000 && same_as_pattern(b->bytes, 1000, b->size), "... with its bytes");
    ok(b->_fd == -1 && svc_upload_fd_lend(b, b->bytes, 10, &off) < 0, "... into its own memory, lending nothing");
    ok(view != MAP_FAILED && same_as_pattern(view + 5000 - head, 5000, 200000), "the lent memfd still holds the body");
    h2o_buffer_consume(&b, b->size);
    ok(b->bytes == NULL, "consumed whole: back to a prototype");
    written = 0;
    h2o_like_read(&b, &written, 20000);
    ok(b->size == 20000 && same_as_pattern(b->bytes, 0, 20000), "which h2o allocates from again");
    h2o_buffer_dispose(&b);

    /* pages made ahead of the reads: as many as the bytes received, up to 4 MiB, never more */
    {
        const size_t big = 32u << 20, got0 = 300000;
        h2o_buffer_init(&b, &h2o_socket_buffer_prototype);
        written = 0;
        h2o_like_read(&b, &written, got0);
        is_int(svc_upload_fd_grow(&b, big, 0), 0, "grown to 32 MiB");
        size_t made = memfd_bytes(b), made_again;
        ok(made >= 2 * got0 - 4096 && made <= 2 * got0 + 8192, "pages made ahead: %zu bytes for %zu received", made, got0);
        for (int i = 0; i < 5; i++)
            svc_upload_fd_ahead(b);
        made_again = memfd_bytes(b);
        ok(made_again == made, "a client that sends nothing more costs nothing more (%zu bytes)", made_again);
        size_t worst = 0;
        while (written < (12u << 20)) {
            h2o_like_read(&b, &written, written + (1u << 20));
            svc_upload_fd_ahead(b);
            made = memfd_bytes(b);
            size_t ahead = made - written, bound = written < (4u << 20) ? written : (4u << 20);
            if (made < written + (256u << 10) || ahead > bound + 4096)
                worst = made;
        }
        ok(worst == 0, "as the body arrives: made ahead by 256 KiB at least, by the bytes received or 4 MiB at most");
        h2o_buffer_dispose(&b);
    }

    /* a buffer h2o frees itself (a client gone) */
    h2o_buffer_init(&b, &h2o_socket_buffer_prototype);
    written = 0;
    h2o_like_read(&b, &written, 70000);
    is_int(svc_upload_fd_grow(&b, 1u << 20, 0), 0, "another one");
    h2o_buffer_dispose(&b);

    if (view != MAP_FAILED)
        munmap(view, total);
    if (fd >= 0)
        close(fd);
    is_int(t_pid_fds(getpid()), fds0, "no descriptor left open");
    return tap_done();
}
