/*
 * svc_proc: starting, driving, killing and reaping one worker process (see svc_proc.h for the
 * process model and the thread rule: one pool thread per svc_proc).
 */
#include "svc_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "svc_worker.h"
#include "svc_wproto.h"

extern char **environ;

enum { SLICE_MS = 50, READY_TIMEOUT_MS = 30000, STOP_WAIT_MS = 2000 };

struct svc_proc {
    pid_t pid;
    int sock;
    svc_wproto_ctl *shared;
    int jobs;
    bool dead;
    int64_t grace_us;
};

static void result_free(void *data, size_t len)
{
    (void)len;
    free(data);
}

/* The result's bytes, read from the worker's memfd into this process's heap: a read() of reused
 * heap pages costs less than mapping the memfd (new page-table entries, then a TLB shootdown
 * when the loop thread unmaps it after the answer). NULL when they cannot be had, or when the
 * memfd is shorter than the length the worker announced (nothing is allocated for a length a
 * misbehaving worker made up). */
static void *read_result(int fd, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size < len)
        return NULL;
    char *buf = malloc(len);
    size_t got = 0;
    while (buf != NULL && got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    return buf;
}

/* fd moved to a number >= 10 so that the dup2 to 3 and 4 in the child cannot clobber it */
static int high_fd(int fd)
{
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return h;
}

static int reap(svc_proc *p, int timeout_ms, int *status)
{
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(p->pid, status, WNOHANG);
        if (r == p->pid || (r < 0 && errno == ECHILD))
            return 0;
        if (waited >= timeout_ms)
            return -1;
        usleep(10000);
    }
}

static void kill_and_reap(svc_proc *p, int *status)
{
    int st = 0;
    if (!p->dead && p->pid > 0) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    if (status != NULL)
        *status = st;
    p->dead = true;
}

static int spawn(svc_proc *p, const svc_proc_config *cfg, int child_sock, int ctl_fd, char *errbuf, size_t errlen)
{
    char conc[16], untrusted[4], mem[32], level[8];
    char *argv[] = {"imgpipe", "worker", conc, untrusted, mem, level, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    snprintf(conc, sizeof(conc), "%d", cfg->vips_concurrency);
    snprintf(untrusted, sizeof(untrusted), "%d", cfg->allow_untrusted ? 1 : 0);
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)cfg->memory_limit);
    snprintf(level, sizeof(level), "%d", cfg->log_level);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, child_sock, SVC_WORKER_SOCK_FD);
    posix_spawn_file_actions_adddup2(&fa, ctl_fd, SVC_WORKER_CTL_FD);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none); /* pool threads block SIGTERM/SIGINT; the worker must not */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawn(&p->pid, "/proc/self/exe", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        snprintf(errbuf, errlen, "cannot start a worker process (posix_spawn /proc/self/exe): %s", strerror(rc));
    return rc == 0 ? 0 : -1;
}

svc_proc *svc_proc_start(const svc_proc_config *cfg, char *errbuf, size_t errlen)
{
    int sv[2] = {-1, -1}, ctl_fd = -1;
    svc_proc *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    p->sock = -1;
    p->shared = MAP_FAILED;
    p->grace_us = cfg->grace_us > 0 ? cfg->grace_us : 500000;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 || (ctl_fd = memfd_create("imgpipe-ctl", MFD_CLOEXEC)) < 0 ||
        ftruncate(ctl_fd, sizeof(svc_wproto_ctl)) != 0 ||
        (p->shared = mmap(NULL, sizeof(svc_wproto_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, ctl_fd, 0)) == MAP_FAILED ||
        (sv[1] = high_fd(sv[1])) < 0 || (ctl_fd = high_fd(ctl_fd)) < 0) {
        snprintf(errbuf, errlen, "cannot set up a worker process: %s", strerror(errno));
        goto fail;
    }
    p->sock = sv[0];
    if (spawn(p, cfg, sv[1], ctl_fd, errbuf, errlen) != 0)
        goto fail;
    close(sv[1]), sv[1] = -1;
    close(ctl_fd), ctl_fd = -1;
    struct pollfd pfd = {.fd = p->sock, .events = POLLIN};
    wp_go ready;
    if (poll(&pfd, 1, READY_TIMEOUT_MS) != 1 || svc_wproto_recv(p->sock, &ready, sizeof(ready), NULL) != sizeof(ready) ||
        ready.type != WP_READY) {
        int st = 0;
        kill_and_reap(p, &st);
        snprintf(errbuf, errlen, "the worker process did not start (%s %d; its log line above says why)",
                 WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        goto fail;
    }
    return p;
fail:
    if (sv[1] >= 0)
        close(sv[1]);
    if (ctl_fd >= 0)
        close(ctl_fd);
    if (p->sock >= 0)
        close(p->sock);
    else if (sv[0] >= 0)
        close(sv[0]);
    if (p->shared != MAP_FAILED)
        munmap(p->shared, sizeof(svc_wproto_ctl));
    free(p);
    return NULL;
}

void svc_proc_stop(svc_proc *p)
{
    if (p == NULL)
        return;
    close(p->sock);
    if (!p->dead) {
        int st;
        if (reap(p, STOP_WAIT_MS, &st) != 0)
            kill_and_reap(p, NULL);
    }
    munmap(p->shared, sizeof(svc_wproto_ctl));
    free(p);
}

bool svc_proc_alive(const svc_proc *p)
{
    return p != NULL && !p->dead;
}

pid_t svc_proc_pid(const svc_proc *p)
{
    return p->pid;
}

int svc_proc_jobs(const svc_proc *p)
{
    return p->jobs;
}

bool svc_proc_input_moved(const svc_proc *p)
{
    return atomic_load(&p->shared->input_moved) != 0;
}

uint64_t svc_proc_rss(const svc_proc *p)
{
    char path[64];
    unsigned long long size = 0, rss = 0;
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)p->pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The worker went away: reap it and say how. */
static svc_proc_fault lost(svc_proc *p, int *sig)
{
    int st = 0;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
        ;
    p->dead = true;
    if (WIFSIGNALED(st)) {
        *sig = WTERMSIG(st);
        return SVC_PROC_CRASHED;
    }
    *sig = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return SVC_PROC_EXITED;
}

/* Wait until the worker has something to say, watching the deadline and the cancel flag.
 * Returns SVC_PROC_OK when the socket is readable, else the fault (worker killed). */
static svc_proc_fault wait_readable(svc_proc *p, const svc_proc_job *job, int64_t *cancel_seen_us, int64_t grace_us)
{
    for (;;) {
        struct pollfd pfd = {.fd = p->sock, .events = POLLIN};
        int r = poll(&pfd, 1, SLICE_MS);
        if (r > 0)
            return SVC_PROC_OK; /* a message, or a hang-up that recv will show */
        if (r < 0 && errno != EINTR)
            return SVC_PROC_OK; /* let recv report it */
        int64_t now = g_get_monotonic_time();
        if (job->cancelled != NULL && atomic_load(job->cancelled)) {
            atomic_store(&p->shared->ctl.cancelled, 1);
            if (*cancel_seen_us == 0)
                *cancel_seen_us = now;
            if (now - *cancel_seen_us > grace_us) {
                kill_and_reap(p, NULL);
                return SVC_PROC_KILLED_CANCEL;
            }
        }
        if (job->deadline_us != 0 && now > job->deadline_us + grace_us) {
            kill_and_reap(p, NULL);
            return SVC_PROC_KILLED_DEADLINE;
        }
    }
}

static int send_job(svc_proc *p, const svc_proc_job *job)
{
    static __thread wp_job m; /* 9 KB: one per pool thread, not on the stack */
    size_t alen = job->accept ? strlen(job->accept) : 0;
    if (alen >= WP_ACCEPT_MAX)
        alen = WP_ACCEPT_MAX - 1;
    memset(&m, 0, offsetof(wp_job, accept));
    m.type = WP_JOB;
    m.accept_len = (uint32_t)alen;
    m.data_off = job->data_off, m.data_len = job->data_len;
    m.overlay_off = job->overlay_off, m.overlay_len = job->overlay_len;
    m.deadline_us = job->deadline_us;
    m.want_estimate = job->admit != NULL;
    snprintf(m.request_id, sizeof(m.request_id), "%s", job->request_id ? job->request_id : "");
    m.plan = *job->plan;
    m.limits = *job->limits;
    if (alen)
        memcpy(m.accept, job->accept, alen);
    atomic_store(&p->shared->ctl.cancelled, 0);
    atomic_store(&p->shared->input_moved, 0);
    p->shared->ctl.deadline_us = job->deadline_us;
    return svc_wproto_send(p->sock, &m, offsetof(wp_job, accept) + alen, job->data_len + job->overlay_len ? job->fd : -1);
}

/* Turn the worker's WP_RESULT into the caller's outputs. */
static int take_result(const wp_result *r, int fd, pl_result *out, pl_error *err, char *mime_buf, size_t mime_len)
{
    memset(out, 0, sizeof(*out));
    *err = r->err;
    err->message[sizeof(err->message) - 1] = '\0';
    err->detail[sizeof(err->detail) - 1] = '\0';
    out->format = r->format;
    out->in_format = r->in_format;
    out->width = r->width, out->height = r->height;
    out->in_width = r->in_width, out->in_height = r->in_height;
    out->frames_in = r->frames_in, out->frames_out = r->frames_out;
    out->vary_accept = r->vary_accept != 0;
    out->t = r->t;
    snprintf(mime_buf, mime_len, "%.*s", WP_MIME_MAX - 1, r->mime);
    out->mime = mime_buf[0] ? mime_buf : NULL;
    if (r->rc != 0)
        return -1;
    if (r->len > 0) {
        if (fd < 0 || (out->data = read_result(fd, r->len)) == NULL)
            return pl_error_set(err, PL_E_INTERNAL, "the result could not be taken over from the worker process");
        out->len = r->len;
        out->release = result_free;
    }
    return 0;
}

svc_proc_fault svc_proc_run(svc_proc *p, const svc_proc_job *job, int *rc, pl_result *out, pl_error *err, char *mime_buf,
                            size_t mime_len, int *sig)
{
    int64_t cancel_seen = 0, grace = p->grace_us;
    svc_proc_fault f;
    int fd = -1;
    *rc = -1;
    *sig = 0;
    memset(out, 0, sizeof(*out));
    if (send_job(p, job) != 0) {
        lost(p, sig);
        return SVC_PROC_GONE;
    }
    p->jobs++;
    if (job->admit != NULL) {
        wp_estimate e;
        wp_go go = {.type = WP_GO};
        if ((f = wait_readable(p, job, &cancel_seen, grace)) != SVC_PROC_OK)
            return f;
        if (svc_wproto_recv(p->sock, &e, sizeof(e), NULL) != sizeof(e) || e.type != WP_ESTIMATE)
            return lost(p, sig);
        if (job->admit(job->admit_arg, e.bytes) != 0)
            go.type = WP_STOP;
        if (svc_wproto_send(p->sock, &go, sizeof(go), -1) != 0)
            return lost(p, sig);
        if (go.type == WP_STOP) {
            *rc = 1;
            return SVC_PROC_OK;
        }
    }
    static __thread wp_result r;
    if ((f = wait_readable(p, job, &cancel_seen, grace)) != SVC_PROC_OK)
        return f;
    if (svc_wproto_recv(p->sock, &r, sizeof(r), &fd) != sizeof(r) || r.type != WP_RESULT) {
        if (fd >= 0)
            close(fd);
        return lost(p, sig);
    }
    *rc = take_result(&r, fd, out, err, mime_buf, mime_len);
    if (fd >= 0)
        close(fd);
    return SVC_PROC_OK;
}
