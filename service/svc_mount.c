/*
 * svc_mount: reading `file=` beneath the mount folder (rules in svc_mount.h). Every failure to
 * open is imaginary's 400 "Invalid file path": a missing file, a symlink and an escape look the
 * same to the client, and the log says which at debug level.
 */
#include "svc_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MSG_INVALID "Invalid file path"

int svc_mount_open(const char *dir, char *errbuf, size_t errlen)
{
    struct stat st;
    char real[4096];
    int fd;
    if (realpath(dir, real) == NULL) {
        snprintf(errbuf, errlen, "mount: '%s': %s", dir, strerror(errno));
        return -1;
    }
    if (strcmp(real, "/") == 0) {
        snprintf(errbuf, errlen, "mount: '%s' is the root directory: mount a folder of images instead", dir);
        return -1;
    }
    if ((fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "mount: '%s' is not a readable directory: %s", dir, strerror(errno ? errno : ENOTDIR));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int svc_mount_path_ok(const char *rel, size_t len)
{
    if (len == 0 || rel[0] == '/' || memchr(rel, '\0', len) != NULL)
        return -1;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && rel[j] != '/')
            j++;
        if (j - i == 2 && rel[i] == '.' && rel[i + 1] == '.')
            return -1;
        i = j + 1;
    }
    return 0;
}

static int openat2_beneath(int dirfd, const char *rel, int flags)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
}

int svc_mount_has_openat2(void)
{
    int fd = openat2_beneath(AT_FDCWD, ".", O_PATH | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return !(fd < 0 && errno == ENOSYS);
}

/* Fallback: one component at a time, never following a symlink. */
static int walk_beneath(int dirfd, const char *rel, int flags)
{
    char buf[4096];
    char *save = NULL, *comp, *next;
    int cur = dirfd, fd = -1;
    if (strlen(rel) >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, rel);
    comp = strtok_r(buf, "/", &save);
    while (comp != NULL) {
        next = strtok_r(NULL, "/", &save);
        if (strcmp(comp, "..") == 0) {
            errno = EXDEV;
            fd = -1;
            break;
        }
        fd = next ? openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : openat(cur, comp, flags | O_NOFOLLOW);
        if (cur != dirfd)
            close(cur);
        if (fd < 0)
            return -1;
        cur = fd;
        comp = next;
    }
    return fd;
}

int svc_mount_read(int mount_fd, const char *rel, size_t max_bytes, uint8_t **data, size_t *len, const char **error, char *msg,
                   size_t msglen)
{
    int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, fd;
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    *data = NULL;
    *len = 0;
    *error = "invalid_file_path";
    snprintf(msg, msglen, MSG_INVALID);
    if (svc_mount_path_ok(rel, strlen(rel)) != 0)
        return 400;
    fd = openat2_beneath(mount_fd, rel, flags);
    if (fd < 0 && errno == ENOSYS)
        fd = walk_beneath(mount_fd, rel, flags);
    if (fd < 0)
        return 400;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 400;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        *error = "payload_too_large";
        snprintf(msg, msglen, "the file is %lld bytes, more than max-body-bytes (%zu)", (long long)st.st_size, max_bytes);
        return 413;
    }
    if ((buf = malloc(st.st_size ? (size_t)st.st_size : 1)) == NULL) {
        close(fd);
        *error = "out_of_memory";
        snprintf(msg, msglen, "the server is out of memory; retry later");
        return 503;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *len = got; /* a file that shrank while read gives what was there */
    *error = NULL;
    msg[0] = '\0';
    return 0;
}
