/*
 * test_admission_http: the decode-memory budget seen from outside. `imgpipe serve` with a
 * 1 MiB budget (smaller than any photo's estimate, so every job is clamped and runs alone):
 * 6 concurrent requests all succeed (no deadlock), /health shows jobs waiting for memory while
 * they run and nothing reserved afterwards; with a 1.5 s deadline the jobs that waited too long
 * get 504 and every other answer is 200. Loopback only, bounded (curl timeouts of 30 s).
 */
#include <jansson.h>

#include "svc_test.h"

enum { N = 6 };

typedef struct flight {
    CURL *h[N];
    tresp r[N];
} flight;

/* Start N POSTs of img to path at once; poll /health every 20 ms while they run and return the
 * largest memoryWaiting seen. */
static long run_flight(const tsrv *s, const char *path, const char *img, size_t len, flight *f)
{
    CURLM *m = curl_multi_init();
    char url[256];
    int running = 0;
    long max_waiting = 0;
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: image/jpeg");
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    for (int i = 0; i < N; i++) {
        memset(&f->r[i], 0, sizeof(f->r[i]));
        f->h[i] = curl_easy_init();
        curl_easy_setopt(f->h[i], CURLOPT_URL, url);
        curl_easy_setopt(f->h[i], CURLOPT_POSTFIELDS, img);
        curl_easy_setopt(f->h[i], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(f->h[i], CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(f->h[i], CURLOPT_WRITEFUNCTION, t_write_cb);
        curl_easy_setopt(f->h[i], CURLOPT_WRITEDATA, &f->r[i]);
        curl_easy_setopt(f->h[i], CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(f->h[i], CURLOPT_NOPROXY, "*");
        curl_multi_add_handle(m, f->h[i]);
    }
    double last_poll = 0;
    do {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 10, NULL);
        if (t_now() - last_poll > 0.02) {
            tresp hr;
            last_poll = t_now();
            if (t_get(s, "/health", &hr) == 200 && hr.body) {
                json_error_t je;
                json_t *j = json_loads(hr.body, 0, &je), *w = NULL;
                const char *k;
                json_t *v;
                /* memoryWaiting may sit in a nested object: search one level down */
                json_object_foreach(j, k, v)
                {
                    if (strcmp(k, "memoryWaiting") == 0)
                        w = v;
                    else if (json_is_object(v) && json_object_get(v, "memoryWaiting"))
                        w = json_object_get(v, "memoryWaiting");
                }
                if (w && json_integer_value(w) > max_waiting)
                    max_waiting = (long)json_integer_value(w);
                json_decref(j);
            }
            tresp_free(&hr);
        }
    } while (running > 0);
    for (int i = 0; i < N; i++) {
        curl_easy_getinfo(f->h[i], CURLINFO_RESPONSE_CODE, &f->r[i].status);
        curl_multi_remove_handle(m, f->h[i]);
        curl_easy_cleanup(f->h[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hl);
    return max_waiting;
}

static long long health_field(const tsrv *s, const char *name)
{
    tresp hr;
    long long val = -1;
    if (t_get(s, "/health", &hr) == 200 && hr.body) {
        const char *p = strstr(hr.body, name);
        if (p && (p = strchr(p, ':')) != NULL)
            val = strtoll(p + 1, NULL, 10);
    }
    tresp_free(&hr);
    return val;
}

int main(void)
{
    tsrv s;
    flight f;
    size_t len;
    char *img;
    static const char *const args[] = {"--workers", "2", "--queue", "16", "--memory-budget", "1MiB", "--access-log", "off", NULL};
    static const char *const args_dl[] = {"--workers",  "2",      "--queue",      "16",  "--memory-budget",  "1MiB",
                                          "--deadline", "1500ms", "--access-log", "off", "--max-queue-wait", "10s",
                                          NULL};

    if (VIPS_INIT("test_admission_http"))
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    img = t_slurp(tap_fixture("photos/FreshFlower-1600x1203.jpg"), &len);
    ok(img != NULL, "photo fixture read");

    if (!ok(tsrv_start(&s, args, NULL) == 0, "server with a 1 MiB memory budget starts"))
        return tap_done();
    is_int(health_field(&s, "memoryBudgetBytes"), 1 << 20, "/health shows the budget");
    long waiting = run_flight(&s, "/blur?sigma=3", img, len, &f);
    int ok200 = 0;
    for (int i = 0; i < N; i++) {
        ok200 += f.r[i].status == 200;
        tresp_free(&f.r[i]);
    }
    is_int(ok200, N, "%d concurrent jobs over a too-small budget: all 200 (clamped, run one at a time)", N);
    ok(waiting >= 1, "/health saw jobs waiting for memory meanwhile (max %ld)", waiting);
    is_int(health_field(&s, "memoryReservedBytes"), 0, "nothing reserved afterwards");
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);

    if (!ok(tsrv_start(&s, args_dl, NULL) == 0, "server with a 1 MiB budget and a 1.5 s deadline starts"))
        return tap_done();
    run_flight(&s, "/blur?sigma=3", img, len, &f);
    int n200 = 0, n504 = 0;
    for (int i = 0; i < N; i++) {
        n200 += f.r[i].status == 200;
        n504 += f.r[i].status == 504;
        if (f.r[i].status == 504 && !(f.r[i].body && strstr(f.r[i].body, "deadline")))
            diag("504 without a deadline message: %s", f.r[i].body ? f.r[i].body : "");
        tresp_free(&f.r[i]);
    }
    diag("1.5 s deadline: %d x 200, %d x 504", n200, n504);
    is_int(n200 + n504, N, "every answer is 200 or 504 (deadline passed while waiting for memory)");
    ok(n200 >= 1, "the first job admitted succeeds");
    is_int(health_field(&s, "memoryReservedBytes"), 0, "nothing reserved afterwards");
    is_int(tsrv_stop(&s, 20), 0, "exit 0");
    tsrv_cleanup(&s);
    free(img);
    curl_global_cleanup();
    return tap_done();
}
