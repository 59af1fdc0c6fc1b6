/*
 * svc_worker: the worker process's main loop (see svc_worker.h). Arguments come from svc_proc:
 *   imgpipe worker VIPS_CONCURRENCY ALLOW_UNTRUSTED(0|1) MEMORY_LIMIT_BYTES LOG_LEVEL
 * Each job: validate the message, map the input, send the decode estimate and wait for the pool
 * thread's go, run pl_run with the shared control page as its pl_control, and send the result
 * back in a memfd. A malformed message ends the process (the pool thread then starts another).
 */
#include "svc_worker.h"

#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svc_crash.h"
#include "svc_log.h"
#include "svc_sandbox.h"
#include "svc_wproto.h"

enum { IDLE_TRIM_MS = 1000 };

static void die(const char *what)
{
    svc_log_printf(SVC_LOG_ERROR, "worker %d: %s", (int)getpid(), what);
    _exit(70);
}

static void test_fault(const uint8_t *data, size_t len)
{
    static int on = -1;
    if (on < 0)
        on = getenv("IMGPIPE_WORKER_TEST_FAULTS") != NULL && strcmp(getenv("IMGPIPE_WORKER_TEST_FAULTS"), "1") == 0;
    if (!on || data == NULL)
        return;
    if (len >= 17 && memcmp(data, "IMGPIPE-TEST-HANG", 17) == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    if (len >= 18 && memcmp(data, "IMGPIPE-TEST-CRASH", 18) == 0)
        raise(SIGSEGV);
}

static void send_result(int sock, int rc, const pl_result *res, const pl_error *err)
{
    wp_result r;
    int fd = -1;
    memset(&r, 0, sizeof(r));
    r.type = WP_RESULT;
    r.rc = rc;
    r.err = *err;
    r.format = res->format;
    r.in_format = res->in_format;
    r.width = res->width, r.height = res->height;
    r.in_width = res->in_width, r.in_height = res->in_height;
    r.frames_in = res->frames_in, r.frames_out = res->frames_out;
    r.vary_accept = res->vary_accept;
    r.t = res->t;
    if (res->mime != NULL)
        snprintf(r.mime, sizeof(r.mime), "%s", res->mime);
    if (rc == 0 && res->len > 0) {
        if ((fd = svc_wproto_memfd("imgpipe-out", res->data, res->len, NULL, 0)) < 0) {
            r.rc = pl_error_set(&r.err, PL_E_INTERNAL, "the worker could not hand over the result (memfd: %s)", strerror(errno));
        } else {
            r.len = res->len;
        }
    }
    if (svc_wproto_send(sock, &r, sizeof(r), fd) != 0)
        die("cannot send the result to the pool thread");
    if (fd >= 0)
        close(fd);
}

/* The input file's mapping, kept from job to job: the pool thread passes the same arena
 * (svc_arena.h) with every job and writes each image over the last, so its pages and this
 * mapping's page-table entries are made once, not per job (a 3 MB input: 0.8 ms of MAP_POPULATE
 * per job on the test VM). Mapped again when another file comes (a new arena after a worker
 * replacement; batch) or this one grew past the mapping. MAP_SHARED: the pool thread's writes
 * are what the next job reads, and the bytes the engine moves about (pl_input.moved) are back in
 * place before it reads on. */
static struct {
    dev_t dev;
    ino_t ino;
    uint8_t *map;
    size_t len;
    bool writable; /* mapped writable (the arena's memfd always is): the engine may move bytes about in it */
} kept;

static void kept_drop(void)
{
    if (kept.map != NULL)
        munmap((void *)kept.map, kept.len);
    memset(&kept, 0, sizeof(kept));
}

/* The input's bytes (the whole file, mapped); NULL when the message is inconsistent. */
static const uint8_t *map_input(const wp_job *j, int fd)
{
    struct stat st;
    uint64_t end = j->data_off + j->data_len;
    if (j->overlay_len && j->overlay_off + j->overlay_len > end)
        end = j->overlay_off + j->overlay_len;
    if (end == 0)
        return (const uint8_t *)"";
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size < end || end < j->data_len)
        return NULL;
    if (kept.map != NULL && kept.dev == st.st_dev && kept.ino == st.st_ino && kept.len >= end)
        return kept.map;
    kept_drop();
    /* writable, so that the PNG decoder can gather its IDAT chunks in place (pl_input.moved);
     * read-only for a file opened so */
    bool writable = true;
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED && errno == EACCES) {
        writable = false;
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    }
    if (p == MAP_FAILED)
        return NULL;
    /* the entries for this job's bytes in one call (the decoder reads them all), not for the
     * arena's unwritten tail, which reading would fill with zero pages; later jobs fault in what
     * they reach past it, once */
    madvise(p, (size_t)end, MADV_POPULATE_READ);
    kept.dev = st.st_dev, kept.ino = st.st_ino, kept.map = p, kept.len = (size_t)st.st_size, kept.writable = writable;
    return p;
}

/* One job; returns -1 when the pool thread sent something it should not have. */
static int run_job(int sock, svc_wproto_ctl *shared, wp_job *j, ssize_t n, int fd)
{
    pl_result res;
    pl_error err;
    if (n < (ssize_t)offsetof(wp_job, accept) || j->type != WP_JOB || j->accept_len >= WP_ACCEPT_MAX ||
        (size_t)n != offsetof(wp_job, accept) + j->accept_len)
        return -1;
    j->accept[j->accept_len] = '\0';
    j->request_id[sizeof(j->request_id) - 1] = '\0';
    const uint8_t *base = map_input(j, fd);
    if (fd >= 0)
        close(fd);
    if (base == NULL)
        return -1;
    svc_crash_set_request(j->request_id);
    svc_log_set_request(j->request_id); /* libvips' warnings in the log name the request */
    const uint8_t *data = base + j->data_off;
    shared->ctl.deadline_us = j->deadline_us;
    pl_input in = {.data = data,
                   .len = j->data_len,
                   .overlay = j->overlay_len ? base + j->overlay_off : NULL,
                   .overlay_len = j->overlay_len,
                   .accept = j->accept_len ? j->accept : NULL,
                   .moved = kept.writable && base == kept.map ? &shared->input_moved : NULL};
    if (j->want_estimate) { /* what this plan decodes (pl_run_estimate): the pool thread reserves it */
        wp_estimate e = {.type = WP_ESTIMATE, .bytes = j->plan.op == PL_OP_INFO ? 0 : pl_run_estimate(&j->plan, &in, &j->limits)};
        wp_go go;
        if (svc_wproto_send(sock, &e, sizeof(e), -1) != 0 || svc_wproto_recv(sock, &go, sizeof(go), NULL) != sizeof(go) ||
            (go.type != WP_GO && go.type != WP_STOP))
            return -1;
        if (go.type == WP_STOP) {
            svc_crash_set_request("");
            svc_log_set_request("");
            return 0;
        }
    }
    test_fault(data, j->data_len);
    memset(&res, 0, sizeof(res));
    pl_error_clear(&err);
    int rc = pl_run(&j->plan, &in, &j->limits, &shared->ctl, &res, &err);
    send_result(sock, rc, &res, &err);
    pl_result_clear(&res);
    svc_crash_set_request("");
    svc_log_set_request("");
    return 0;
}

int svc_worker_main(int argc, char **argv)
{
    static wp_job job; /* 9 KB: not on the stack */
    char errbuf[256];
    pl_error err;
    if (argc != 5) {
        fprintf(stderr, "imgpipe worker: internal command, started by imgpipe serve\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;
    close_range(SVC_WORKER_CTL_FD + 1, ~0U, 0);
    struct rlimit core = {0, 0}; /* a decoder crash under attack must not fill the disk with cores */
    setrlimit(RLIMIT_CORE, &core);
    svc_log_init(atoi(argv[4]), false);
    svc_crash_install();
    /* one malloc arena: one job at a time, and every arena keeps its freed image buffers while busy
     * (two per worker process made the thumbnail workload's peak RSS 1.6 x thread mode's) */
    pl_engine_config ecfg = {.vips_concurrency = atoi(argv[1]), .allow_untrusted = atoi(argv[2]) != 0, .malloc_arenas = 1};
    pl_error_clear(&err);
    if (pl_engine_init(&ecfg, &err) != 0)
        die(err.message);
    svc_log_capture_glib();
    svc_wproto_ctl *shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED, SVC_WORKER_CTL_FD, 0);
    if (shared == MAP_FAILED)
        die("cannot map the control page");
    close(SVC_WORKER_CTL_FD);
    if (svc_sandbox_enter(strtoull(argv[3], NULL, 10), errbuf, sizeof(errbuf)) != 0)
        die(errbuf);

    int sock = SVC_WORKER_SOCK_FD, ran_since_trim = 0;
    wp_go ready = {.type = WP_READY};
    if (svc_wproto_send(sock, &ready, sizeof(ready), -1) != 0)
        die("cannot reach the pool thread");
    for (;;) {
        struct pollfd pfd = {.fd = sock, .events = POLLIN};
        int pr = poll(&pfd, 1, ran_since_trim ? IDLE_TRIM_MS : -1);
        if (pr == 0) {
            pl_engine_release_memory();
            ran_since_trim = 0;
            continue;
        }
        if (pr < 0 && errno == EINTR)
            continue;
        int fd = -1;
        ssize_t n = svc_wproto_recv(sock, &job, sizeof(job), &fd);
        if (n == 0)
            break; /* the pool thread closed: stop */
        if (n < 0 || run_job(sock, shared, &job, n, fd) != 0)
            die("bad message from the pool thread");
        ran_since_trim = 1;
    }
    /* _exit: libvips and GLib have nothing to flush, and under ASan LeakSanitizer's exit scan
     * (which clones a tracer) cannot run inside the sandbox; the engine's leaks are checked
     * in-process by the engine suites. */
    pl_engine_thread_done();
    _exit(0);
}
