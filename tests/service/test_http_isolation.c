/*
 * test_http_isolation: fault containment with isolation=process, over real HTTP on 127.0.0.1.
 * The server runs with IMGPIPE_WORKER_TEST_FAULTS=1, so a body "IMGPIPE-TEST-CRASH" makes its
 * worker process die of SIGSEGV and "IMGPIPE-TEST-HANG" makes it spin outside libvips forever.
 *   - a crash sent among 8 ordinary requests: it gets 422 worker_crashed, the 8 others 200 with
 *     correct images, /health answers meanwhile, the next request is served by a new worker;
 *   - 20 crashes in a row, then ordinary requests: all served, 21 crashes counted in /metrics;
 *   - a hang is answered 504 shortly after the deadline (the worker is killed) and the next
 *     request is served;
 *   - the same server started with --isolation thread serves requests (no worker processes);
 *   - admission by predicted wait: with the defaults, a burst of 16 concurrent 1.9 MB uploads is
 *     served whole; a real overload (one pool thread, a 300 ms wait allowed) is refused with 503 at
 *     once while the admitted requests are served.
 */
#include <jansson.h>

#include "svc_test.h"

static char *jpg;
static size_t jpg_len;

typedef struct mjob {
    CURL *c;
    tresp r;
    char url[256];
    const char *body;
    size_t len;
    struct curl_slist *hl;
    double total_s;
} mjob;

/* Run n requests at once (POST when body set, else GET) with curl multi. Bounded: 60 s. */
static void run_multi(mjob *jobs, int n)
{
    CURLM *m = curl_multi_init();
    int running = 0;
    curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    for (int i = 0; i < n; i++) {
        mjob *j = &jobs[i];
        memset(&j->r, 0, sizeof(j->r));
        j->c = curl_easy_init();
        j->hl = curl_slist_append(NULL, "Expect:");
        curl_easy_setopt(j->c, CURLOPT_URL, j->url);
        if (j->body != NULL) {
            curl_easy_setopt(j->c, CURLOPT_POSTFIELDS, j->body);
            curl_easy_setopt(j->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
        }
        curl_easy_setopt(j->c, CURLOPT_HTTPHEADER, j->hl);
        curl_easy_setopt(j->c, CURLOPT_WRITEFUNCTION, t_write_cb);
        curl_easy_setopt(j->c, CURLOPT_WRITEDATA, &j->r);
        curl_easy_setopt(j->c, CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(j->c, CURLOPT_NOPROXY, "*");
        curl_multi_add_handle(m, j->c);
    }
    double end = t_now() + 60;
    do {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    } while (running && t_now() < end);
    for (int i = 0; i < n; i++) {
        mjob *j = &jobs[i];
        curl_easy_getinfo(j->c, CURLINFO_RESPONSE_CODE, &j->r.status);
        curl_easy_getinfo(j->c, CURLINFO_TOTAL_TIME, &j->total_s);
        curl_multi_remove_handle(m, j->c);
        curl_easy_cleanup(j->c);
        curl_slist_free_all(j->hl);
    }
    curl_multi_cleanup(m);
}

static long post(const tsrv *s, const char *path, const char *body, size_t len, tresp *r)
{
    CURL *c = curl_easy_init();
    treq q = {.body = body, .body_len = len};
    int rc = t_do(c, s, path, &q, r);
    curl_easy_cleanup(c);
    return rc == 0 ? r->status : -1;
}

/* a 200 whose body decodes to a JPEG of the expected size */
static int good_jpeg(const tresp *r, int want_w, int want_h)
{
    char fmt[32];
    int w, h;
    return r->status == 200 && t_decode(r, fmt, sizeof(fmt), &w, &h) == 0 && strcmp(fmt, "jpeg") == 0 && w == want_w && h == want_h;
}

static int error_name_is(const tresp *r, const char *name)
{
    json_t *j = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    int same = j != NULL && json_is_string(json_object_get(j, "error")) &&
               strcmp(json_string_value(json_object_get(j, "error")), name) == 0;
    json_decref(j);
    return same;
}

static void test_crash_among_others(const tsrv *s)
{
    mjob jobs[12];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 9; i++) {
        snprintf(jobs[i].url, sizeof(jobs[i].url), "%s/resize?width=800", s->base);
        jobs[i].body = jpg;
        jobs[i].len = jpg_len;
    }
    jobs[4].body = "IMGPIPE-TEST-CRASH"; /* in the middle of the queue */
    jobs[4].len = 18;
    for (int i = 9; i < 12; i++)
        snprintf(jobs[i].url, sizeof(jobs[i].url), "%s/health", s->base);
    run_multi(jobs, 12);
    is_int(jobs[4].r.status, 422, "the crashing request gets 422");
    ok(error_name_is(&jobs[4].r, "worker_crashed"), "its error is worker_crashed");
    int good = 0;
    for (int i = 0; i < 9; i++)
        good += i != 4 && good_jpeg(&jobs[i].r, 800, 602);
    is_int(good, 8, "the 8 ordinary requests sent with it get 200 and an 800x602 JPEG");
    int health = 0;
    for (int i = 9; i < 12; i++)
        health += jobs[i].r.status == 200 && jobs[i].total_s < 5;
    is_int(health, 3, "/health answers 200 meanwhile");
    for (int i = 0; i < 12; i++)
        tresp_free(&jobs[i].r);
    tresp r;
    post(s, "/resize?width=400", jpg, jpg_len, &r);
    ok(good_jpeg(&r, 400, 301), "the next request is served (by a new worker)");
    tresp_free(&r);
    is_int((long)t_metric(s, "imgpipe_worker_exits_total{reason=\"crashed\"} "), 1, "one crash counted in /metrics");
}

static void test_crash_series(const tsrv *s)
{
    int crashed = 0, served = 0;
    for (int i = 0; i < 20; i++) {
        tresp r;
        crashed += post(s, "/transform?w=100", "IMGPIPE-TEST-CRASH", 18, &r) == 422;
        tresp_free(&r);
    }
    is_int(crashed, 20, "20 crashes in a row: each gets 422");
    for (int i = 0; i < 4; i++) {
        tresp r;
        post(s, "/resize?width=200", jpg, jpg_len, &r);
        served += good_jpeg(&r, 200, 150);
        tresp_free(&r);
    }
    is_int(served, 4, "then ordinary requests are served");
    is_int((long)t_metric(s, "imgpipe_worker_exits_total{reason=\"crashed\"} "), 21, "21 crashes counted");
}

static void test_hang(const tsrv *s, double deadline_s)
{
    tresp r;
    double t0 = t_now();
    long st = post(s, "/resize?width=100", "IMGPIPE-TEST-HANG", 17, &r);
    double took = t_now() - t0;
    is_int(st, 504, "a worker that never returns is answered 504");
    ok(error_name_is(&r, "deadline_exceeded"), "with deadline_exceeded");
    ok(took < deadline_s + 2.0, "on time: %.2f s for a %.1f s deadline (the worker is killed after a 0.5 s grace)", took,
       deadline_s);
    tresp_free(&r);
    post(s, "/resize?width=200", jpg, jpg_len, &r);
    ok(good_jpeg(&r, 200, 150), "the next request is served by a new worker");
    tresp_free(&r);
    is_int((long)t_metric(s, "imgpipe_worker_exits_total{reason=\"deadline\"} "), 1, "one deadline kill counted");
}

/* A worker killed while idle (the OOM killer, an operator) costs no request: the next job finds
 * it gone before anything ran and runs on a new one. */
static void test_killed_while_idle(const tsrv *s)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "pkill -KILL -P %d -f 'imgpipe worker'", (int)s->pid);
    ok(system(cmd) == 0, "the idle worker processes are killed");
    usleep(200000);
    int good = 0;
    for (int i = 0; i < 4; i++) {
        tresp r;
        post(s, "/resize?width=200", jpg, jpg_len, &r);
        good += good_jpeg(&r, 200, 150);
        tresp_free(&r);
    }
    is_int(good, 4, "every request after that is served (none pays for the dead workers)");
}

static void test_thread_mode(void)
{
    tsrv s;
    static const char *const args[] = {"--isolation", "thread", "--workers", "2", NULL};
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server starts with --isolation thread"))
        return;
    tresp r;
    post(&s, "/resize?width=300", jpg, jpg_len, &r);
    ok(good_jpeg(&r, 300, 226), "isolation=thread serves a resize");
    tresp_free(&r);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "pgrep -P %d >/dev/null", (int)s.pid);
    ok(system(cmd) != 0, "isolation=thread has no worker processes");
    tsrv_stop(&s, 20);
    tsrv_cleanup(&s);
}

/* A 17 MP JPEG (4800x3609, q92, about 1.2 MB) made from the fixture, like a phone photo upload. */
static char *make_big_jpeg(size_t *len)
{
    VipsImage *in = vips_image_new_from_buffer(jpg, jpg_len, "", NULL), *big = NULL;
    void *buf = NULL;
    *len = 0;
    if (in != NULL && vips_resize(in, &big, 3.0, NULL) == 0)
        vips_jpegsave_buffer(big, &buf, len, "Q", 92, NULL);
    if (big)
        g_object_unref(big);
    if (in)
        g_object_unref(in);
    return buf;
}

static void test_burst(void)
{
    tsrv s;
    size_t len;
    char *big = make_big_jpeg(&len);
    mjob jobs[16];
    if (!ok(big != NULL && len > 1000000, "a %.1f MB JPEG made", len / 1e6) ||
        !ok(tsrv_start(&s, NULL, NULL) == 0, "server starts with the defaults")) {
        g_free(big);
        return;
    }
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 16; i++) {
        snprintf(jobs[i].url, sizeof(jobs[i].url), "%s/resize?width=120", s.base);
        jobs[i].body = big;
        jobs[i].len = len;
    }
    run_multi(jobs, 16);
    int good = 0;
    for (int i = 0; i < 16; i++) {
        good += good_jpeg(&jobs[i].r, 120, 90);
        tresp_free(&jobs[i].r);
    }
    is_int(good, 16, "a burst of 16 uploads at once: all 200 with a 120x90 JPEG (none refused)");
    tsrv_stop(&s, 20);
    tsrv_cleanup(&s);
    g_free(big);
}

static void test_overload(void)
{
    tsrv s;
    static const char *const args[] = {"--workers", "1", "--max-queue-wait", "300ms", NULL};
    mjob jobs[24];
    if (!ok(tsrv_start(&s, args, NULL) == 0, "server with one pool thread and a 300 ms queue wait starts"))
        return;
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 24; i++) {
        snprintf(jobs[i].url, sizeof(jobs[i].url), "%s/resize?width=800", s.base);
        jobs[i].body = jpg;
        jobs[i].len = jpg_len;
    }
    run_multi(jobs, 24);
    int n200 = 0, n503 = 0, fast503 = 0, other = 0;
    for (int i = 0; i < 24; i++) {
        if (good_jpeg(&jobs[i].r, 800, 602))
            n200++;
        else if (jobs[i].r.status == 503 && error_name_is(&jobs[i].r, "overloaded"))
            n503++, fast503 += jobs[i].total_s < 1.0;
        else
            other++;
        tresp_free(&jobs[i].r);
    }
    diag("24 at once on one pool thread: %d x 200, %d x 503", n200, n503);
    ok(n200 >= 1 && n503 >= 1, "some admitted, some refused by predicted wait");
    is_int(other, 0, "every answer is a correct 200 or a 503 overloaded");
    is_int(fast503, n503, "every 503 came within 1 s (refused at once, not after waiting)");
    tsrv_stop(&s, 20);
    tsrv_cleanup(&s);
}

int main(void)
{
    char path[1024];
    tsrv s;
    static const char *const args[] = {"--workers", "2", "--deadline", "3s", NULL};
    static const char *const env[] = {"IMGPIPE_WORKER_TEST_FAULTS=1", NULL};
    if (VIPS_INIT("test") || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        printf("Bail out! cannot start libvips or libcurl\n");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/photos/FreshFlower-1600x1203.jpg", getenv("IMGPIPE_FIXTURES"));
    if ((jpg = t_slurp(path, &jpg_len)) == NULL) {
        printf("Bail out! missing fixture %s\n", path);
        return 1;
    }
    if (ok(tsrv_start(&s, args, env) == 0, "server starts (isolation=process, test faults on)")) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "test $(pgrep -c -P %d) -eq 2", (int)s.pid);
        ok(system(cmd) == 0, "two worker processes run under the server");
        test_crash_among_others(&s);
        test_crash_series(&s);
        test_hang(&s, 3.0);
        test_killed_while_idle(&s);
        is_int(tsrv_stop(&s, 30), 0, "server exits 0 on SIGTERM after all that");
        tsrv_cleanup(&s);
    }
    test_thread_mode();
    test_burst();
    test_overload();
    free(jpg);
    return tap_done();
}
