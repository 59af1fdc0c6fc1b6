/*
 * test_sandbox: the worker sandbox (service/svc_sandbox.c) denies what it says it denies and
 * leaves what libvips needs. A child process enters the sandbox, tries each call, and writes one
 * result byte per check to a pipe that it inherited; the parent turns them into TAP lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "svc_sandbox.h"
#include "tap.h"

typedef struct check {
    const char *name;
    int want_denied; /* 1: must fail with EPERM or ENOSYS; 0: must work */
} check;

static const check checks[] = {
    {"socket(AF_INET) denied", 1},
    {"socket(AF_UNIX) denied", 1},
    {"socketpair denied", 1},
    {"execve /bin/true denied", 1},
    {"fork denied", 1},
    {"open for writing (O_CREAT) denied", 1},
    {"open existing file O_RDWR denied", 1},
    {"openat O_WRONLY|O_TRUNC denied", 1},
    {"unlink denied", 1},
    {"mkdir denied", 1},
    {"rename denied", 1},
    {"kill of the parent denied", 1},
    {"open for reading works", 0},
    {"a thread starts", 0},
    {"memfd_create + write works", 0},
    {"kill(self, 0) works", 0},
};
#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

static void *thread_fn(void *arg)
{
    return arg;
}

/* 1 = the call failed with EPERM/ENOSYS (denied), 0 = it worked, 2 = other failure */
static int denied(long rc)
{
    if (rc >= 0)
        return 0;
    return (errno == EPERM || errno == ENOSYS || errno == EACCES) ? 1 : 2;
}

static void child(int out, const char *dir, pid_t parent)
{
    char path[512], buf[N_CHECKS];
    char errbuf[256];
    int fd;
    if (svc_sandbox_enter(64ull << 20, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "sandbox: %s\n", errbuf);
        _exit(3);
    }
    int i = 0, sv[2];
    buf[i++] = (char)denied(socket(AF_INET, SOCK_STREAM, 0));
    buf[i++] = (char)denied(socket(AF_UNIX, SOCK_STREAM, 0));
    buf[i++] = (char)denied(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    {
        char *const argv[] = {"/bin/true", NULL};
        buf[i++] = (char)denied(execve("/bin/true", argv, NULL));
    }
    {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        if (p > 0)
            waitpid(p, NULL, 0);
        buf[i++] = (char)denied(p);
    }
    snprintf(path, sizeof(path), "%s/new-file", dir);
    buf[i++] = (char)denied(open(path, O_WRONLY | O_CREAT, 0644));
    snprintf(path, sizeof(path), "%s/existing", dir);
    buf[i++] = (char)denied(open(path, O_RDWR));
    buf[i++] = (char)denied(openat(AT_FDCWD, path, O_WRONLY | O_TRUNC));
    buf[i++] = (char)denied(unlink(path));
    snprintf(path, sizeof(path), "%s/newdir", dir);
    buf[i++] = (char)denied(mkdir(path, 0755));
    {
        char to[512];
        snprintf(path, sizeof(path), "%s/existing", dir);
        snprintf(to, sizeof(to), "%s/renamed", dir);
        buf[i++] = (char)denied(rename(path, to));
    }
    buf[i++] = (char)denied(kill(parent, 0));
    snprintf(path, sizeof(path), "%s/existing", dir);
    fd = open(path, O_RDONLY);
    buf[i++] = (char)denied(fd);
    if (fd >= 0)
        close(fd);
    {
        pthread_t t;
        int rc = pthread_create(&t, NULL, thread_fn, NULL);
        if (rc == 0)
            pthread_join(t, NULL);
        errno = rc;
        buf[i++] = (char)denied(rc == 0 ? 0 : -1);
    }
    fd = memfd_create("sandbox-test", MFD_CLOEXEC);
    buf[i++] = (char)denied(fd >= 0 ? write(fd, "x", 1) : -1);
    buf[i++] = (char)denied(kill(getpid(), 0));
    if (write(out, buf, (size_t)i) != i)
        _exit(4);
    _exit(0);
}

int main(void)
{
    char dir[] = "/tmp/imgpipe-sandbox-XXXXXX", path[600], got[N_CHECKS];
    int pfd[2], st = 0;
    if (mkdtemp(dir) == NULL || pipe(pfd) != 0) {
        printf("Bail out! cannot make a temporary directory or pipe\n");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/existing", dir);
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fputs("data", f);
        fclose(f);
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        child(pfd[1], dir, parent);
    }
    close(pfd[1]);
    ssize_t n = read(pfd[0], got, sizeof(got));
    waitpid(pid, &st, 0);
    is_int(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), 0, "sandboxed child ran every check and exited 0");
    is_int(n, (long)N_CHECKS, "one result per check");
    for (size_t i = 0; i < N_CHECKS && (ssize_t)i < n; i++)
        is_int(got[i], checks[i].want_denied, "%s", checks[i].name);
    struct stat sb;
    ok(stat(path, &sb) == 0 && sb.st_size == 4, "the existing file is unchanged (not truncated, not renamed)");
    snprintf(path, sizeof(path), "%s/new-file", dir);
    ok(access(path, F_OK) != 0, "no file was created");
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path) != 0)
        diag("could not remove %s", dir);
    return tap_done();
}
