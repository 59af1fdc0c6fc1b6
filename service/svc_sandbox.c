/*
 * svc_sandbox: the worker process's seccomp filter and memory ceiling (see svc_sandbox.h for
 * what is denied and why). The filter allows by default and denies a list: an allow-list would
 * have to follow every syscall libvips, GLib, libheif, fontconfig and glibc may make on some
 * input, and a missing entry would turn into a failed request in production; the list below
 * closes what an attacker needs to leave the process (network, exec, fork, writes, signals).
 */
#include "svc_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

/* syscalls denied whatever their arguments */
/* the syscalls grouped by what they do (not reflowed) */
/* clang-format off */
static const char *const denied[] = {
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "execve", "execveat", "fork", "vfork",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
    "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
    "truncate", "mknod", "mknodat", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "tkill",
#if !defined(__SANITIZE_ADDRESS__)
    "ptrace", /* LeakSanitizer's exit-time scan ptraces the process: allowed in ASan builds only */
#endif
    "process_vm_writev", "open_by_handle_at", "name_to_handle_at", "fanotify_init",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "init_module", "finit_module",
    "io_uring_setup",
};
/* clang-format on */

static int deny_open_flags(scmp_filter_ctx sc, int nr, unsigned arg)
{
    static const int masks[][2] = {{O_ACCMODE, O_WRONLY}, {O_ACCMODE, O_RDWR}, {O_CREAT, O_CREAT}, {O_TRUNC, O_TRUNC}};
    for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        struct scmp_arg_cmp cmp = {
            .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = (scmp_datum_t)masks[i][0], .datum_b = (scmp_datum_t)masks[i][1]};
        if (seccomp_rule_add_array(sc, SCMP_ACT_ERRNO(EPERM), nr, 1, &cmp) != 0)
            return -1;
    }
    return 0;
}

static int build_filter(scmp_filter_ctx sc, char *errbuf, size_t errlen)
{
    pid_t self = getpid();
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        if (seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0) {
            snprintf(errbuf, errlen, "seccomp: cannot deny %s", denied[i]);
            return -1;
        }
    }
    /* clone: threads only */
    if (seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)) != 0 ||
        seccomp_rule_add(sc, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0 ||
        seccomp_rule_add(sc, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0) != 0) {
        snprintf(errbuf, errlen, "seccomp: cannot restrict clone");
        return -1;
    }
    /* signals: only to this process (raise and abort use tgkill on themselves) */
    if (seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self)) != 0 ||
        seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self)) != 0) {
        snprintf(errbuf, errlen, "seccomp: cannot restrict kill");
        return -1;
    }
    if (deny_open_flags(sc, SCMP_SYS(openat), 2) != 0 || deny_open_flags(sc, SCMP_SYS(open), 1) != 0 ||
        seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(creat), 0) != 0) {
        snprintf(errbuf, errlen, "seccomp: cannot restrict open");
        return -1;
    }
    return 0;
}

int svc_sandbox_enter(uint64_t memory_limit, char *errbuf, size_t errlen)
{
#if defined(__SANITIZE_ADDRESS__)
    memory_limit = 0; /* ASan's shadow mappings alone are terabytes of address space */
#endif
    if (memory_limit > 0) {
        struct rlimit rl = {.rlim_cur = (rlim_t)memory_limit, .rlim_max = (rlim_t)memory_limit};
        if (setrlimit(RLIMIT_DATA, &rl) != 0) {
            snprintf(errbuf, errlen, "setrlimit(RLIMIT_DATA, %llu): %s", (unsigned long long)memory_limit, strerror(errno));
            return -1;
        }
    }
    scmp_filter_ctx sc = seccomp_init(SCMP_ACT_ALLOW);
    if (sc == NULL) {
        snprintf(errbuf, errlen, "seccomp_init failed");
        return -1;
    }
    int rc = build_filter(sc, errbuf, errlen);
    if (rc == 0 && (rc = seccomp_load(sc)) != 0)
        snprintf(errbuf, errlen, "seccomp_load: %s (the kernel must have CONFIG_SECCOMP_FILTER)", strerror(-rc));
    seccomp_release(sc);
    return rc == 0 ? 0 : -1;
}
