/*
 * svc_mount: the `mount` folder source (`file=`). A path is relative to the mount and may not
 * leave it: absolute paths, `..` components, symlinks (any, even inside the mount), magic links
 * and non-regular files are refused. The open is openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) where the kernel has it (Linux >= 5.6), else a walk of the components
 * with O_NOFOLLOW from the mount's directory descriptor. The file is opened O_NONBLOCK (a FIFO
 * cannot hang the reader) and read up to max_bytes.
 *
 * Blocking file IO: svc_mount_read runs on the fetch thread (svc_fetch.c), never on the loop.
 */
#ifndef SVC_MOUNT_H
#define SVC_MOUNT_H

#include <stddef.h>
#include <stdint.h>

/* Open the mount folder (O_PATH | O_DIRECTORY). -1 with a message when it is not a directory or
 * is "/" (as imaginary: the root is never mounted). */
int svc_mount_open(const char *dir, char *errbuf, size_t errlen);

/* Check `rel` without touching the disk: 0, or -1 (absolute, empty, `..`, NUL). */
int svc_mount_path_ok(const char *rel, size_t len);

/* Read mount/rel into *data (malloc'd). Returns 0, or an HTTP status (400 invalid path or
 * unreadable file, 413 larger than max_bytes, 503 out of memory) with *error (a static name)
 * and msg filled. */
int svc_mount_read(int mount_fd, const char *rel, size_t max_bytes, uint8_t **data, size_t *len, const char **error, char *msg,
                   size_t msglen);

/* 1 when this kernel has openat2 (for tests and the startup log). */
int svc_mount_has_openat2(void);

#endif
