/*
 * svc_test: the `http` suite's server harness (svc_test.h): a server child per test, requests
 * through libcurl, answers decoded with libvips. Single-threaded test code.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

#include "svc_test.h"

double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int t_connect(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int t_free_port(void)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

size_t t_write_cb(char *p, size_t sz, size_t n, void *ud)
{
    tresp *r = ud;
    size_t add = sz * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (nb == NULL)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, add);
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

size_t t_header_cb(char *p, size_t sz, size_t n, void *ud)
{
    tresp *r = ud;
    size_t add = sz * n;
    if (r->hlen + add < sizeof(r->headers) - 1) {
        memcpy(r->headers + r->hlen, p, add);
        r->hlen += add;
        r->headers[r->hlen] = '\0';
    }
    return add;
}

void tresp_free(tresp *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

const char *t_header(const tresp *r, const char *name, char *out, size_t outlen)
{
    const char *p = r->headers;
    size_t nl = strlen(name);
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t l;
            while (*v == ' ')
                v++;
            l = eol ? (size_t)(eol - v) : strlen(v);
            if (l >= outlen)
                l = outlen - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            return out;
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

char *t_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    *len = 0;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
        *len = (size_t)n;
    if (buf)
        buf[*len] = '\0';
    fclose(f);
    return buf;
}

int t_do(CURL *c, const tsrv *s, const char *path, const treq *q, tresp *r)
{
    char url[2048];
    struct curl_slist *hl = NULL;
    curl_mime *mime = NULL;
    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, t_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, t_header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q && q->timeout_ms ? q->timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (s->tls) { /* the tests' self-signed certificate */
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (q && q->http2 && s->tls) {
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    } else if (q && q->http2) {
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        /* curl 7.88 does not send a second request on a reused prior-knowledge connection */
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L); /* and a transfer that gives up closes its connection */
    }
    hl = curl_slist_append(hl, q && q->expect_continue ? "Expect: 100-continue" : "Expect:");
    for (int i = 0; q && i < 8 && q->headers[i]; i++)
        hl = curl_slist_append(hl, q->headers[i]);
    if (q && q->mp_file) {
        curl_mimepart *part;
        mime = curl_mime_init(c);
        part = curl_mime_addpart(mime);
        curl_mime_name(part, q->mp_name ? q->mp_name : "file");
        curl_mime_filename(part, "upload.bin");
        curl_mime_data(part, q->mp_file, q->mp_file_len);
        if (q->mp_image) {
            part = curl_mime_addpart(mime);
            curl_mime_name(part, "image");
            curl_mime_filename(part, "overlay.bin");
            curl_mime_data(part, q->mp_image, q->mp_image_len);
        }
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    } else if (q && q->body) {
        char ct[256];
        snprintf(ct, sizeof(ct), "Content-Type: %s", q->content_type ? q->content_type : "application/octet-stream");
        hl = curl_slist_append(hl, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    }
    if (q && q->method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    if (q && q->max_send_bps > 0)
        curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)q->max_send_bps);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    r->code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &r->http_version);
    curl_slist_free_all(hl);
    if (mime)
        curl_mime_free(mime);
    return r->code == CURLE_OK ? 0 : -1;
}

long t_get(const tsrv *s, const char *path, tresp *r)
{
    CURL *c = curl_easy_init();
    int rc = t_do(c, s, path, NULL, r);
    curl_easy_cleanup(c);
    return rc == 0 ? r->status : -1;
}

int tsrv_start(tsrv *s, const char *const *args, const char *const *env)
{
    const char *bin = getenv("IMGPIPE_BIN");
    char port_s[32], listen[64];
    const char *argv[64];
    int n = 0;
    static int seq;
    memset(s, 0, sizeof(*s));
    if (bin == NULL) {
        diag("IMGPIPE_BIN is not set");
        return -1;
    }
    s->port = t_free_port();
    snprintf(port_s, sizeof(port_s), "%d", s->port);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
    for (int i = 0; args && args[i]; i++)
        s->tls |= strcmp(args[i], "--tls-cert") == 0;
    snprintf(s->base, sizeof(s->base), "%s://127.0.0.1:%d", s->tls ? "https" : "http", s->port);
    snprintf(s->out_path, sizeof(s->out_path), "/tmp/imgpipe-test-%d-%d.out", (int)getpid(), seq);
    snprintf(s->err_path, sizeof(s->err_path), "/tmp/imgpipe-test-%d-%d.err", (int)getpid(), seq++);
    argv[n++] = bin;
    argv[n++] = "serve";
    argv[n++] = "--listen";
    argv[n++] = listen;
    for (int i = 0; args && args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    s->pid = fork();
    if (s->pid == 0) {
        int o = open(s->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (double end = t_now() + 15; t_now() < end;) {
        tresp r;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            diag("server exited during startup (status %d); stderr in %s", st, s->err_path);
            s->pid = 0;
            return -1;
        }
        long code = t_get(s, "/health", &r);
        tresp_free(&r);
        if (code > 0) /* any answer: up (with api-keys, /health answers 401) */
            return 0;
        usleep(50000);
    }
    diag("server did not answer /health within 15 s");
    return -1;
}

int tsrv_wait(tsrv *s, double timeout_s)
{
    int st = 0;
    for (double end = t_now() + timeout_s; s->pid > 0 && t_now() < end;) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20000);
    }
    return -1;
}

int tsrv_stop(tsrv *s, double timeout_s)
{
    int st = 0;
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    for (double end = t_now() + timeout_s; t_now() < end;) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    return -1;
}

void tsrv_cleanup(tsrv *s)
{
    if (s->pid > 0)
        tsrv_stop(s, 5);
    if (getenv("IMGPIPE_TEST_KEEP_LOGS") == NULL) {
        unlink(s->out_path);
        unlink(s->err_path);
    }
}

int t_pid_fds(int pid)
{
    char path[64], fd[320], target[128];
    int n = 0;
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(fd, sizeof(fd), "%s/%s", path, e->d_name);
        ssize_t k = readlink(fd, target, sizeof(target) - 1);
        target[k > 0 ? k : 0] = '\0';
        n += strstr(target, "memfd:imgpipe-in") == NULL;
    }
    closedir(d);
    return n;
}

double t_metric(const tsrv *s, const char *series)
{
    tresp r;
    double v = -1;
    if (t_get(s, "/metrics", &r) == 200 && r.body != NULL) {
        const char *p = strstr(r.body, series);
        if (p != NULL)
            v = strtod(p + strlen(series), NULL);
    }
    tresp_free(&r);
    return v;
}

long t_pid_status_kb(int pid, const char *field)
{
    char path[64], line[256], fmt[64];
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    snprintf(fmt, sizeof(fmt), "%s: %%ld kB", field);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, fmt, &kb) == 1)
            break;
    fclose(f);
    return kb;
}

long t_pid_rss_kb(int pid)
{
    return t_pid_status_kb(pid, "VmRSS");
}

long tsrv_rss_kb(const tsrv *s)
{
    long kb = t_pid_rss_kb((int)s->pid);
    DIR *d = opendir("/proc");
    struct dirent *e;
    if (kb < 0 || d == NULL) {
        if (d != NULL)
            closedir(d);
        return kb;
    }
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[512];
        int pid = atoi(e->d_name), ppid = 0;
        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
        if (rp != NULL && sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == (int)s->pid) {
            long c = t_pid_rss_kb(pid);
            if (c > 0)
                kb += c;
        }
    }
    closedir(d);
    return kb;
}

int t_decode(const tresp *r, char *fmt, size_t fmtlen, int *w, int *h)
{
    VipsImage *im;
    const char *loader;
    *w = *h = 0;
    fmt[0] = '\0';
    if (r->body == NULL || r->len == 0 || (loader = vips_foreign_find_load_buffer(r->body, r->len)) == NULL)
        return -1;
    if ((im = vips_image_new_from_buffer(r->body, r->len, "", NULL)) == NULL)
        return -1;
    *w = im->Xsize;
    *h = im->Ysize;
    /* "VipsForeignLoadJpegBuffer" -> "jpeg" */
    {
        const char *p = loader + strlen("VipsForeignLoad");
        size_t i = 0;
        for (; p[i] && i + 1 < fmtlen && strncmp(p + i, "Buffer", 6) != 0; i++)
            fmt[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
        fmt[i] = '\0';
    }
    g_object_unref(im);
    return 0;
}
