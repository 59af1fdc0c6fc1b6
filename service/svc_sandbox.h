/*
 * svc_sandbox: what a worker process gives up once libvips is loaded, so that a decoder bug an
 * attacker controls cannot reach the network, other programs or the file system.
 *
 * svc_sandbox_enter() installs a seccomp filter (libseccomp) that answers EPERM to: creating
 * sockets (socket, socketpair) and using new ones (connect, bind, listen, accept), running
 * programs (execve, execveat), creating processes (fork, vfork, clone without CLONE_THREAD;
 * clone3 answers ENOSYS so glibc falls back to clone, whose flags the filter can see), opening
 * files for writing or creating them (open, openat, creat with O_WRONLY, O_RDWR, O_CREAT or
 * O_TRUNC; openat2, whose flags the filter cannot see, answers ENOSYS), changing the file system
 * (unlink, rename, mkdir, rmdir, link, symlink, chmod, chown, truncate, mknod, mount and their
 * *at forms), signalling other processes (kill and tgkill to another pid, tkill), ptrace and
 * process_vm_writev. Threads, reads of files (fonts, ICC profiles, libvips modules), memfds,
 * mmap and the already-open socket to the pool thread keep working. no_new_privs is set.
 * It also sets the worker's memory ceiling (RLIMIT_DATA) when memory_limit > 0.
 *
 * Call once, from the worker's main thread, after every library is initialised and before any
 * untrusted byte is read. Returns 0, or -1 with a message in errbuf.
 */
#ifndef SVC_SANDBOX_H
#define SVC_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

int svc_sandbox_enter(uint64_t memory_limit, char *errbuf, size_t errlen);

#endif
