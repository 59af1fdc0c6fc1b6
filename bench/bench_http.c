/*
 * bench_http: the HTTP load generator, on one thread, with libcurl's multi interface.
 *
 * Each slot is one reusable easy handle (one keep-alive connection in HTTP/1.1, one stream on a
 * shared connection in HTTP/2 with prior knowledge for http://, ALPN for https://). The request is
 * POST <url>/<op>?<query> whose body is a corpus image, pointed to (not copied) from memory.
 * Closed loop (--concurrency C): C slots, each sends its next request as soon as the previous one
 * answers. Open loop (--rate R): request i is due at start + i/R (bench_sched); due requests take a
 * free slot, new slots are opened up to --max-inflight, and a request that has to wait for a slot
 * keeps its intended time, so the wait shows in its latency. The counting rules are in bench_run.h.
 *
 * DESIGN: everything runs on the calling thread; curl_multi_poll() sleeps until a socket is ready
 * or the next due time / sample time. No other thread touches the slots or the stats.
 */
#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "bench_run.h"
#include "bench_sched.h"

typedef struct http_slot {
    CURL *easy;
    bool busy;
    bool counted; /* open loop: intended inside the window */
    size_t op, image;
    int64_t intended_us, sent_us;
    uint64_t bytes_received;
    long version;   /* CURL_HTTP_VERSION_* of the finished transfer */
    char head[160]; /* the first bytes of the answer, for the first error's message */
    char errbuf[CURL_ERROR_SIZE];
} http_slot;

typedef struct http_state {
    const bench_config *cfg;
    const bench_workload *w;
    const bench_corpus *c;
    bench_run *run;
    CURLM *multi;
    http_slot *slots;
    int n_slots, max_slots, busy;
    char **urls;                 /* one per op */
    struct curl_slist **headers; /* one per image (its Content-Type) */
    int64_t t0_us, warm_end_us, end_us, drain_end_us;
    int64_t sample_us, next_sample_us; /* --server-pid sampling */
    double cpu_start;                  /* the process's CPU seconds when the window started */
    bool cpu_started, stopped_by_cap;  /* stopped_by_cap: --max-requests reached, at stop_us */
    int64_t stop_us;
    uint64_t next_req; /* number of the next request to send */
    int64_t last_window_done_us;
    long h2_version;             /* CURL_HTTP_VERSION_* used for --http2 */
    uint64_t no_response_streak; /* answers in a row that never came (refused, reset, timeout) */
} http_state;

/* A server that stopped answering at all makes every slot fail at once and retry at once: stop the
 * run after this many in a row instead of spinning until --duration. */
#define HTTP_MAX_NO_RESPONSE_STREAK 1000

static size_t http_on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    http_slot *s = userdata;
    size_t have = s->bytes_received < sizeof(s->head) ? (size_t)s->bytes_received : sizeof(s->head) - 1;
    size_t take = sizeof(s->head) - 1 - have < size * nmemb ? sizeof(s->head) - 1 - have : size * nmemb;
    memcpy(s->head + have, ptr, take);
    s->head[have + take] = '\0';
    s->bytes_received += size * nmemb;
    return size * nmemb;
}

/* Defence in depth for the loopback rule: refuse to open a socket to anything else, whatever the
 * resolver answered between bench_url_check() and now. */
static curl_socket_t http_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    const bench_config *cfg = clientp;
    if (!cfg->allow_remote) {
        bool loop = false;
        if (a->family == AF_INET)
            loop = (ntohl(((struct sockaddr_in *)&a->addr)->sin_addr.s_addr) >> 24) == 127;
        else if (a->family == AF_INET6)
            loop = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&a->addr)->sin6_addr);
        if (!loop)
            return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static int http_slot_init(http_state *hs, http_slot *s, bench_error *err)
{
    s->easy = curl_easy_init();
    if (!s->easy)
        return bench_error_set(err, "curl_easy_init failed (out of memory?)");
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)hs->cfg->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, hs->cfg);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    if (hs->cfg->http2) {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, hs->h2_version);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L); /* wait for the shared connection rather than open another */
    } else {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    return 0;
}

/* Start request number hs->next_req on a free slot, due at intended_us. */
static int http_send(http_state *hs, http_slot *s, int64_t intended_us, bench_error *err)
{
    uint64_t i = hs->next_req++;
    bench_workload_pick(hs->w, i, &s->op, &s->image);
    const bench_image *im = &hs->c->images[s->image];
    s->busy = true;
    s->intended_us = intended_us;
    s->sent_us = bench_now_us();
    s->counted = intended_us >= hs->warm_end_us && intended_us < hs->end_us;
    s->bytes_received = 0;
    s->head[0] = '\0';
    s->errbuf[0] = '\0';
    curl_easy_setopt(s->easy, CURLOPT_URL, hs->urls[s->op]);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (const char *)im->data);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)im->len);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hs->headers[s->image]);
    CURLMcode mc = curl_multi_add_handle(hs->multi, s->easy);
    if (mc != CURLM_OK)
        return bench_error_set(err, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    hs->busy++;
    hs->run->sent_total++;
    int64_t lag = s->sent_us - intended_us;
    if (lag > hs->run->max_send_lag_us)
        hs->run->max_send_lag_us = lag;
    if (lag > 1000)
        hs->run->late_sends++;
    return 0;
}

static void http_count(http_state *hs, http_slot *s, int status, CURLcode result, int64_t done_us)
{
    bench_stats *st = &hs->run->st;
    bool ok = status >= 200 && status < 300;
    const bench_image *im = &hs->c->images[s->image];
    if (done_us >= hs->warm_end_us && done_us <= hs->end_us) {
        st->window_done++;
        st->window_ok += ok;
        st->window_bytes_sent += im->len;
        st->window_bytes_received += s->bytes_received;
        hs->last_window_done_us = done_us;
    }
    bool counted = hs->cfg->rate > 0 ? s->counted : (done_us >= hs->warm_end_us && done_us <= hs->end_us);
    if (!counted)
        return;
    st->requests++;
    st->op_requests[s->op]++;
    if (s->version == CURL_HTTP_VERSION_2_0)
        st->http2++;
    else if (s->version == CURL_HTTP_VERSION_1_1 || s->version == CURL_HTTP_VERSION_1_0)
        st->http1++;
    st->status[status >= 0 && status < BENCH_STATUS_SLOTS ? status : 0]++;
    if (ok) {
        st->ok++;
        st->op_ok[s->op]++;
        bench_hist_record(&st->hist, (uint64_t)(done_us - (hs->cfg->rate > 0 ? s->intended_us : s->sent_us)));
    } else {
        st->errors++;
        if (!st->first_error[0]) {
            for (char *p = s->head; *p; p++)
                if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
                    *p = '.';
            if (status)
                snprintf(st->first_error, sizeof(st->first_error), "%.200s: HTTP %d: %.159s", hs->w->ops[s->op].spec, status,
                         s->head);
            else
                snprintf(st->first_error, sizeof(st->first_error), "%.200s: %.120s (%.150s)", hs->w->ops[s->op].spec,
                         curl_easy_strerror(result), s->errbuf[0] ? s->errbuf : "no response");
        }
    }
}

static void http_collect(http_state *hs)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(hs->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        http_slot *s = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
        long status = 0;
        if (msg->data.result == CURLE_OK)
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        int64_t done = bench_now_us();
        long version = 0;
        curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
        s->version = version;
        curl_multi_remove_handle(hs->multi, e);
        s->busy = false;
        hs->busy--;
        hs->no_response_streak = status ? 0 : hs->no_response_streak + 1;
        http_count(hs, s, (int)status, msg->data.result, done);
    }
}

static http_slot *http_free_slot(http_state *hs, bench_error *err, int *failed)
{
    for (int i = 0; i < hs->n_slots; i++)
        if (!hs->slots[i].busy)
            return &hs->slots[i];
    if (hs->n_slots == hs->max_slots)
        return NULL;
    http_slot *s = &hs->slots[hs->n_slots];
    if (http_slot_init(hs, s, err) != 0) {
        *failed = 1;
        return NULL;
    }
    hs->n_slots++;
    return s;
}

static int http_prepare(http_state *hs, bench_error *err)
{
    const bench_config *cfg = hs->cfg;
    hs->max_slots = cfg->rate > 0 ? cfg->max_inflight : cfg->concurrency;
    hs->slots = calloc((size_t)hs->max_slots, sizeof(*hs->slots));
    hs->urls = calloc(hs->w->n, sizeof(*hs->urls));
    hs->headers = calloc(hs->c->n, sizeof(*hs->headers));
    hs->multi = curl_multi_init();
    if (!hs->slots || !hs->urls || !hs->headers || !hs->multi)
        return bench_error_set(err, "out of memory");
    /* h2c: prior knowledge, except on libcurl 7.88.x, which fails every request that reuses a
     * prior-knowledge connection ("Error in the HTTP2 framing layer", curl/curl#10634, fixed in 8.0.0;
     * Debian 12 ships 7.88.1). There the first request upgrades (Upgrade: h2c) and the rest reuse it. */
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    bool tls = strncmp(cfg->url, "https:", 6) == 0;
    bool pk_broken = cv->version_num >= 0x075800 && cv->version_num < 0x080000;
    hs->h2_version = tls         ? (long)CURL_HTTP_VERSION_2TLS
                     : pk_broken ? (long)CURL_HTTP_VERSION_2_0
                                 : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    if (cfg->http2)
        hs->run->transport = tls ? "HTTP/2 (TLS)" : pk_broken ? "HTTP/2 (h2c upgrade)" : "HTTP/2 (h2c prior knowledge)";
    size_t base_len = strlen(cfg->url);
    while (base_len > 0 && cfg->url[base_len - 1] == '/')
        base_len--;
    for (size_t i = 0; i < hs->w->n; i++) {
        const bench_op *op = &hs->w->ops[i];
        size_t n = base_len + strlen(op->spec) + 3;
        hs->urls[i] = malloc(n);
        if (!hs->urls[i])
            return bench_error_set(err, "out of memory");
        snprintf(hs->urls[i], n, "%.*s/%s", (int)base_len, cfg->url, op->spec);
    }
    for (size_t i = 0; i < hs->c->n; i++) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s", hs->c->images[i].mime);
        struct curl_slist *h = curl_slist_append(NULL, ct);
        if (h)
            h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip for large bodies */
        if (!h)
            return bench_error_set(err, "out of memory");
        hs->headers[i] = h;
    }
    /* keep one cached connection per slot; multiplex HTTP/2 streams over one connection */
    curl_multi_setopt(hs->multi, CURLMOPT_MAXCONNECTS, (long)hs->max_slots + 4);
    curl_multi_setopt(hs->multi, CURLMOPT_PIPELINING, cfg->http2 ? (long)CURLPIPE_MULTIPLEX : (long)CURLPIPE_NOTHING);
    if (cfg->http2)
        curl_multi_setopt(hs->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)hs->max_slots);
    int n_init = cfg->rate > 0 ? (hs->max_slots < 8 ? hs->max_slots : 8) : hs->max_slots;
    for (int i = 0; i < n_init; i++) {
        if (http_slot_init(hs, &hs->slots[i], err) != 0)
            return -1;
        hs->n_slots++;
    }
    return 0;
}

static void http_cleanup(http_state *hs)
{
    for (int i = 0; i < hs->n_slots; i++) {
        if (hs->slots[i].busy)
            curl_multi_remove_handle(hs->multi, hs->slots[i].easy);
        curl_easy_cleanup(hs->slots[i].easy);
    }
    if (hs->multi)
        curl_multi_cleanup(hs->multi);
    for (size_t i = 0; hs->urls && i < hs->w->n; i++)
        free(hs->urls[i]);
    for (size_t i = 0; hs->headers && i < hs->c->n; i++)
        curl_slist_free_all(hs->headers[i]);
    free(hs->urls);
    free(hs->headers);
    free(hs->slots);
}

static double http_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Before the window: nothing. From its start: the process's CPU at that moment; with --server-pid, a
 * /proc sample every --sample-interval. */
static void http_sample(http_state *hs, int64_t now)
{
    if (!hs->cpu_started && now >= hs->warm_end_us) {
        hs->cpu_start = http_self_cpu_s();
        hs->cpu_started = true;
    }
    if (hs->cfg->server_pid > 0 && now >= hs->next_sample_us) {
        bench_proc_record(&hs->run->proc, now);
        hs->next_sample_us += hs->sample_us;
        if (hs->next_sample_us < now)
            hs->next_sample_us = now + hs->sample_us;
    }
}

static bool http_capped(const http_state *hs)
{
    return hs->cfg->max_requests && hs->run->sent_total >= hs->cfg->max_requests;
}

/* Open loop: send every request due by now whose intended time is inside warm-up + window.
 * Returns 1 when the run is over, 0 to go on (*wake_us lowered to the next due time), -1 on error. */
static int http_open_step(http_state *hs, int64_t now, int64_t *wake_us, bench_error *err)
{
    double rate = hs->cfg->rate;
    bool cap = http_capped(hs);
    while (!cap) {
        int64_t t = bench_sched_intended_us(hs->t0_us, rate, hs->next_req);
        if (t >= hs->end_us)
            break;
        if (t > now) {
            *wake_us = t < *wake_us ? t : *wake_us;
            break;
        }
        int failed = 0;
        http_slot *s = http_free_slot(hs, err, &failed);
        if (failed)
            return -1;
        if (!s)
            break; /* all slots busy: the request waits, its latency keeps counting */
        if (http_send(hs, s, t, err) != 0)
            return -1;
        cap = http_capped(hs);
    }
    bool more_due = !cap && bench_sched_intended_us(hs->t0_us, rate, hs->next_req) < hs->end_us;
    bool counted_busy = false;
    for (int i = 0; i < hs->n_slots; i++)
        counted_busy |= hs->slots[i].busy && hs->slots[i].counted;
    if (now >= hs->end_us && !counted_busy && !(more_due && now < hs->drain_end_us))
        return 1;
    return now >= hs->drain_end_us;
}

/* Closed loop: every free slot sends its next request. Same returns as http_open_step. */
static int http_closed_step(http_state *hs, int64_t now, int64_t *wake_us, bench_error *err)
{
    bool cap = http_capped(hs);
    if (now >= hs->end_us || (cap && hs->busy == 0))
        return 1;
    for (int i = 0; i < hs->n_slots && !cap; i++) {
        if (hs->slots[i].busy)
            continue;
        if (http_send(hs, &hs->slots[i], now, err) != 0)
            return -1;
        cap = http_capped(hs);
    }
    *wake_us = hs->end_us < *wake_us ? hs->end_us : *wake_us;
    return 0;
}

/* Let libcurl move the transfers, count what finished, and sleep until a socket is ready or
 * wake_us (at most 100 ms). */
static int http_wait(http_state *hs, int64_t wake_us, bench_error *err)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(hs->multi, &running);
    if (mc != CURLM_OK)
        return bench_error_set(err, "curl_multi_perform: %s", curl_multi_strerror(mc));
    http_collect(hs);
    int64_t wait_ms = (wake_us - bench_now_us()) / 1000;
    if (wait_ms > 0)
        curl_multi_poll(hs->multi, NULL, 0, (int)(wait_ms > 100 ? 100 : wait_ms), NULL);
    curl_multi_perform(hs->multi, &running);
    http_collect(hs);
    return 0;
}

/* The driving loop, until the window (and, open loop, the drain) is over, the cap is reached and
 * answered, or the server stopped answering. */
static int http_loop(http_state *hs, bench_error *err)
{
    bench_run *run = hs->run;
    for (;;) {
        int64_t now = bench_now_us();
        http_sample(hs, now);
        if (hs->no_response_streak >= HTTP_MAX_NO_RESPONSE_STREAK) {
            snprintf(run->aborted, sizeof(run->aborted), "%d requests in a row got no answer: stopped early (is the server up?)",
                     HTTP_MAX_NO_RESPONSE_STREAK);
            return 0;
        }
        if (http_capped(hs) && !hs->stopped_by_cap) {
            hs->stopped_by_cap = true;
            hs->stop_us = now;
        }
        int64_t wake_us = now + 100000;
        int rc = hs->cfg->rate > 0 ? http_open_step(hs, now, &wake_us, err) : http_closed_step(hs, now, &wake_us, err);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (hs->cfg->server_pid > 0 && hs->next_sample_us < wake_us)
            wake_us = hs->next_sample_us;
        if (http_wait(hs, wake_us, err) != 0)
            return -1;
    }
}

static void http_count_unfinished(bench_stats *st, uint64_t n)
{
    st->requests += n;
    st->errors += n;
    st->unfinished += n;
    st->status[0] += n;
}

/* After the loop: open loop, requests inside the window still unanswered or never sent are errors;
 * the window actually measured, the bench's own CPU. */
static void http_finish(http_state *hs)
{
    const bench_config *cfg = hs->cfg;
    bench_run *run = hs->run;
    int64_t finish = bench_now_us();
    if (cfg->rate > 0) {
        for (int i = 0; i < hs->n_slots; i++)
            if (hs->slots[i].busy && hs->slots[i].counted)
                http_count_unfinished(&run->st, 1);
        uint64_t due_total = bench_sched_due(hs->t0_us, cfg->rate, hs->end_us - 1);
        uint64_t due_first = bench_sched_due(hs->t0_us, cfg->rate, hs->warm_end_us - 1);
        if (!hs->stopped_by_cap && hs->next_req < due_total)
            http_count_unfinished(&run->st, due_total - (hs->next_req > due_first ? hs->next_req : due_first));
    }
    if (cfg->server_pid > 0)
        bench_proc_record(&run->proc, finish);
    int64_t window_end = hs->end_us;
    if (hs->stopped_by_cap && hs->stop_us < window_end)
        window_end = hs->last_window_done_us > hs->stop_us ? hs->last_window_done_us : hs->stop_us;
    if (finish < window_end)
        window_end = finish;
    run->window_s = (double)(window_end - hs->warm_end_us) / 1e6;
    if (run->window_s < 0)
        run->window_s = 0;
    run->client_cpu_s = hs->cpu_started ? http_self_cpu_s() - hs->cpu_start : 0;
    if (run->st.unfinished && !run->st.first_error[0])
        snprintf(run->st.first_error, sizeof(run->st.first_error), "requests still unanswered after --drain %.1f s",
                 (double)cfg->drain_ms / 1e3);
}

int bench_http_run(const bench_config *cfg, const bench_workload *w, const bench_corpus *c, bench_run *run, bench_error *err)
{
    memset(run, 0, sizeof(*run));
    bench_hist_init(&run->st.hist);
    run->cfg = cfg;
    run->w = w;
    run->corpus = c;
    run->mode = cfg->rate > 0 ? "open" : "closed";
    run->transport = cfg->http2 ? "HTTP/2" : "HTTP/1.1";
    http_state hs = {.cfg = cfg, .w = w, .c = c, .run = run};
    int rc = -1;
    if (http_prepare(&hs, err) != 0)
        goto out;
    hs.t0_us = bench_now_us();
    hs.warm_end_us = hs.t0_us + cfg->warmup_ms * 1000;
    hs.end_us = hs.warm_end_us + cfg->duration_ms * 1000;
    hs.drain_end_us = hs.end_us + cfg->drain_ms * 1000;
    hs.sample_us = cfg->sample_ms * 1000;
    hs.next_sample_us = hs.t0_us;
    if (cfg->server_pid > 0 && bench_proc_open(&run->proc, cfg->server_pid, hs.t0_us, err) != 0)
        goto out;
    if (http_loop(&hs, err) != 0)
        goto out;
    http_finish(&hs);
    rc = 0;
out:
    http_cleanup(&hs);
    return rc;
}
