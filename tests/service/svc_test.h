/*
 * svc_test: helpers for the `http` suite (libsvc_test.a, svc_test.c): start the built imgpipe
 * ($IMGPIPE_BIN) on a free loopback port, wait for /health, drive it with libcurl, decode answers
 * with libvips, read the server's RSS, stop it with SIGTERM. The test's main thread only.
 * Every wait is bounded in time; traffic goes to 127.0.0.1 only.
 */
#ifndef SVC_TEST_H
#define SVC_TEST_H

/* the POSIX and libvips headers the http tests use beside these helpers (fork, signals, sockets,
 * waitpid, VIPS_INIT) come with this header */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

#include "tap.h"

typedef struct tsrv {
    pid_t pid;
    int port;
    char base[64]; /* http://127.0.0.1:PORT (https:// when started with --tls-cert) */
    int tls;
    char out_path[256]; /* server stdout (access log) */
    char err_path[256]; /* server stderr */
} tsrv;

typedef struct tresp {
    long status;
    char *body;
    size_t len;
    char headers[8192];
    size_t hlen;
    long http_version; /* CURL_HTTP_VERSION_1_1 / _2_0 */
    CURLcode code;
} tresp;

/* Options of one request. */
typedef struct treq {
    const char *method; /* NULL = GET, or POST when a body is given */
    const char *body;   /* raw body */
    size_t body_len;
    const char *content_type; /* for the raw body */
    const char *mp_file;      /* multipart: bytes of part "file" (or mp_name) */
    size_t mp_file_len;
    const char *mp_name;  /* default "file" */
    const char *mp_image; /* multipart: a second part "image" */
    size_t mp_image_len;
    const char *headers[8]; /* extra "Name: value" */
    int http2;              /* h2c prior knowledge */
    int expect_continue;    /* send "Expect: 100-continue" and wait for it (curl's default for big bodies) */
    long timeout_ms;        /* default 30000 */
    long max_send_bps;      /* upload at most this many bytes a second (0 = as fast as it goes) */
} treq;

/* Monotonic clock, seconds. */
double t_now(void);
/* A TCP connection to 127.0.0.1:port, or -1. */
int t_connect(int port);
/* A loopback port free right now. */
int t_free_port(void);
/* Read a whole file (fixture); malloc'd, NUL-terminated, or NULL. */
char *t_slurp(const char *path, size_t *len);

/* Start imgpipe serve with extra args (NULL-terminated), env "K=V" strings (NULL-terminated or
 * NULL). Waits (<= 15 s) for /health. Returns 0 or -1. */
int tsrv_start(tsrv *s, const char *const *args, const char *const *env);
/* Wait <= timeout_s for the server to exit by itself; returns as tsrv_stop. */
int tsrv_wait(tsrv *s, double timeout_s);
/* SIGTERM, wait <= timeout_s; returns the exit status (or 128+signal, or -1 on timeout: killed). */
int tsrv_stop(tsrv *s, double timeout_s);
/* Stop the server if it runs; remove its logs unless IMGPIPE_TEST_KEEP_LOGS is set. */
void tsrv_cleanup(tsrv *s);
/* A "Field: N kB" line of /proc/PID/status (VmRSS, VmHWM, ...) in KiB, or -1. */
long t_pid_status_kb(int pid, const char *field);
/* VmRSS of one process in KiB, or -1. */
long t_pid_rss_kb(int pid);
/* Open file descriptors of one process, or -1. The pool threads' input arenas (memfd:imgpipe-in,
 * one per worker, kept from the first job on: svc_arena.h) are not counted; test_http_upload
 * checks their number. */
int t_pid_fds(int pid);
/* The value of one /metrics series (its name with labels and the trailing space), -1 when absent. */
double t_metric(const tsrv *s, const char *series);
/* RSS of the server and of its worker processes (isolation=process), in KiB; -1 if gone. */
long tsrv_rss_kb(const tsrv *s);

/* libcurl callbacks filling a tresp (ud): CURLOPT_WRITEFUNCTION (body), CURLOPT_HEADERFUNCTION */
size_t t_write_cb(char *p, size_t sz, size_t n, void *ud);
size_t t_header_cb(char *p, size_t sz, size_t n, void *ud);
/* One request on handle c (reset first); r is filled (tresp_free it). Returns 0, or -1 on a
 * transport error (r->code). */
int t_do(CURL *c, const tsrv *s, const char *path, const treq *q, tresp *r);
/* GET path; returns status or -1. */
long t_get(const tsrv *s, const char *path, tresp *r);
void tresp_free(tresp *r);
/* Value of a response header (case-insensitive name), copied into out; NULL when absent. */
const char *t_header(const tresp *r, const char *name, char *out, size_t outlen);
/* Decode a response body with libvips: loader nick ("jpeg", "png", "webp" …), width, height. */
int t_decode(const tresp *r, char *fmt, size_t fmtlen, int *w, int *h);

#endif
