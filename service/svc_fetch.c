/*
 * svc_fetch: the source thread (url= with libcurl multi, file= from the mount); the rules and the
 * ownership are in svc_fetch.h. One thread runs curl_multi_poll (woken by curl_multi_wakeup on
 * each submit, and every 100 ms to notice cancelled requests); each transfer is one hop.
 */
#include "svc_fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <glib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_etag.h"
#include "svc_log.h"
#include "svc_mount.h"
#include "svc_ssrf.h"

struct svc_fetch {
    svc_fetch_settings s;
    pthread_t thread;
    pthread_mutex_t mu;
    svc_fetch_item *pending, *pending_tail; /* under mu */
    int stop;                               /* under mu */
    CURLM *multi;
};

typedef struct xfer {
    svc_fetch *f;
    svc_fetch_item *it;
    CURL *easy;
    CURLSH *dns; /* this hop's own DNS cache: the pinned addresses go away with the hop */
    struct curl_slist *resolve;
    char errbuf[CURL_ERROR_SIZE];
    size_t cap;
    int too_big;
    const char *blocked; /* set by the open-socket check */
    char blocked_addr[64];
    int64_t started_us;
    struct xfer *next;
} xfer;

void svc_fetch_item_free(svc_fetch_item *it)
{
    if (it == NULL)
        return;
    free(it->target);
    free(it->data);
    it->target = NULL;
    it->data = NULL;
}

static void item_fail(svc_fetch_item *it, int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void item_fail(svc_fetch_item *it, int status, const char *error, const char *fmt, ...)
{
    va_list ap;
    it->status = status;
    it->error = error;
    va_start(ap, fmt);
    vsnprintf(it->message, sizeof(it->message), fmt, ap);
    va_end(ap);
    free(it->data);
    it->data = NULL;
    it->len = 0;
}

static void item_send(svc_fetch_item *it)
{
    if (it->status == 0)
        svc_etag_digest(it->data, it->len, it->digest);
    memset(&it->msg, 0, sizeof(it->msg));
    h2o_multithread_send_message(it->receiver, &it->msg);
}

/* ---- one hop ---------------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    xfer *x = ud;
    svc_fetch_item *it = x->it;
    size_t add = sz * n;
    if (it->len + add > x->f->s.max_bytes) {
        x->too_big = 1;
        return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
    }
    if (it->len + add > x->cap) {
        size_t cap = x->cap ? x->cap : 65536;
        while (cap < it->len + add)
            cap *= 2;
        if (cap > x->f->s.max_bytes)
            cap = x->f->s.max_bytes;
        uint8_t *nb = realloc(it->data, cap);
        if (nb == NULL)
            return 0;
        it->data = nb;
        x->cap = cap;
    }
    memcpy(it->data + it->len, p, add);
    it->len += add;
    return add;
}

/* The last gate: curl asks for a socket to this address; refuse what svc_ssrf refuses. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    xfer *x = ud;
    if (!x->f->s.allow_private) {
        const char *why = svc_ssrf_blocked(&a->addr, a->addrlen);
        if (why != NULL) {
            x->blocked = why;
            return CURL_SOCKET_BAD;
        }
    }
    (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t outlen, int brackets)
{
    char b[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, b, sizeof(b));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, b, sizeof(b));
    snprintf(out, outlen, brackets && sa->sa_family == AF_INET6 ? "[%s]" : "%s", b);
}

static void xfer_free(xfer *x)
{
    if (x->easy != NULL) {
        curl_multi_remove_handle(x->f->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    if (x->dns != NULL)
        curl_share_cleanup(x->dns);
    curl_slist_free_all(x->resolve);
    free(x);
}

/* Resolves u's host here, once, and refuses it unless every address is public; fills `entry`
 * with the CURLOPT_RESOLVE line "host:port:addr,…" (at most 16 addresses). 0, or -1 with the
 * item failed. */
static int resolve_public(svc_fetch *f, svc_fetch_item *it, const svc_url *u, char *entry, size_t entry_len)
{
    char port_s[16];
    struct addrinfo hints, *res = NULL;
    int rc = -1, n_addr = 0;

    snprintf(port_s, sizeof(port_s), "%d", u->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (u->literal ? AI_NUMERICHOST : 0);
    int gai = getaddrinfo(u->host, port_s, &hints, &res);
    if (gai != 0) {
        item_fail(it, 400, "upstream_error", "error fetching remote http image: cannot resolve %s: %s", u->host, gai_strerror(gai));
        return -1;
    }
    size_t pos = (size_t)snprintf(entry, entry_len, "%s:%d:", u->host, u->port);
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        char a[80];
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        const char *why = f->s.allow_private ? NULL : svc_ssrf_blocked(ai->ai_addr, ai->ai_addrlen);
        addr_text(ai->ai_addr, a, sizeof(a), 0);
        if (why != NULL) {
            item_fail(it, 403, "private_address",
                      "url= host %s resolves to %s (%s): private, loopback and link-local addresses are not fetched "
                      "(allow-private-sources)",
                      u->host, a, why);
            goto out;
        }
        addr_text(ai->ai_addr, a, sizeof(a), 1);
        if (pos + strlen(a) + 2 < entry_len && n_addr < 16) {
            pos += (size_t)snprintf(entry + pos, entry_len - pos, "%s%s", n_addr ? "," : "", a);
            n_addr++;
        }
    }
    if (n_addr == 0)
        item_fail(it, 400, "upstream_error", "error fetching remote http image: %s has no IPv4 or IPv6 address", u->host);
    else
        rc = 0;
out:
    freeaddrinfo(res);
    return rc;
}

/* The easy handle's options for one hop: only http(s), no redirects (each hop is checked here),
 * no proxy, the checked addresses only, the size bound and what is left of the deadline. */
static void hop_options(xfer *x, const svc_url *u, long left_ms)
{
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, u->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (x->dns != NULL)
        curl_easy_setopt(e, CURLOPT_SHARE, x->dns);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    if (x->resolve != NULL)
        curl_easy_setopt(e, CURLOPT_RESOLVE, x->resolve);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->f->s.max_bytes);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, left_ms < 3000 ? left_ms : 3000L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, x->f->s.user_agent);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
}

/* Check `text` and start a hop for it. NULL when refused or when curl cannot be set up: the item
 * is then failed (status, error, message) and the caller sends it back. */
static xfer *hop_start(svc_fetch *f, svc_fetch_item *it, const char *text)
{
    svc_url u;
    char msg[600], entry[1024];
    xfer *x = NULL;
    int64_t now = g_get_monotonic_time(), left_ms;
    svc_url_verdict v = svc_url_check(f->s.origins, text, &u, msg, sizeof(msg));
    if (v != SVC_URL_OK) {
        item_fail(it, v == SVC_URL_INVALID ? 400 : 403, v == SVC_URL_INVALID ? "invalid_url" : "origin_not_allowed", "%s", msg);
        goto out;
    }
    left_ms = (it->deadline_us - now) / 1000;
    if (left_ms <= 0) {
        item_fail(it, 504, "upstream_timeout", "the origin did not send the image within url-timeout (%lld ms)", f->s.timeout_ms);
        goto out;
    }
    if (resolve_public(f, it, &u, entry, sizeof(entry)) != 0)
        goto out;
    if ((x = calloc(1, sizeof(*x))) == NULL || (x->easy = curl_easy_init()) == NULL) {
        item_fail(it, 503, "out_of_memory", "the server is out of memory; retry later");
        free(x);
        x = NULL;
        goto out;
    }
    x->f = f;
    x->it = it;
    x->started_us = now;
    if (!u.literal)
        x->resolve = curl_slist_append(NULL, entry);
    /* CURLOPT_RESOLVE entries never expire: in the multi's shared cache one would stay per host
     * name ever fetched, so each hop gets a cache of its own */
    if ((x->dns = curl_share_init()) != NULL)
        curl_share_setopt(x->dns, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    hop_options(x, &u, (long)left_ms);
    if (curl_multi_add_handle(f->multi, x->easy) != CURLM_OK) {
        item_fail(it, 503, "out_of_memory", "the server could not start the fetch; retry later");
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
        xfer_free(x);
        x = NULL;
    }
out:
    svc_url_clear(&u);
    return x;
}

/* A hop ended: the item is done (sent back), or a redirect starts the next hop. */
static xfer *hop_done(svc_fetch *f, xfer *x, CURLcode rc)
{
    svc_fetch_item *it = x->it;
    long code = 0;
    char *loc = NULL, next_url[4096] = "";
    xfer *next = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    it->upstream_status = (int)code;
    if (x->blocked != NULL) {
        item_fail(it, 403, "private_address", "url= host connects to a %s address: not fetched (allow-private-sources)",
                  x->blocked);
    } else if (atomic_load(&it->cancelled)) {
        item_fail(it, 499, "cancelled", "the client closed the connection");
    } else if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        item_fail(it, 413, "payload_too_large", "the image at url= is larger than max-body-bytes (%zu bytes)", f->s.max_bytes);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        item_fail(it, 504, "upstream_timeout", "the origin did not send the image within url-timeout (%lld ms) or the deadline",
                  f->s.timeout_ms);
    } else if (rc != CURLE_OK) {
        item_fail(it, 400, "upstream_error", "error fetching remote http image: %s",
                  x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    } else if (code == 200) {
        it->status = 0;
    } else if ((code == 301 || code == 302 || code == 303 || code == 307 || code == 308) &&
               curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc != NULL) {
        if (it->hops >= f->s.max_redirects) {
            item_fail(it, 502, "upstream_redirect",
                      "error fetching remote http image: the origin redirected (status=%ld) and url-max-redirects (%d) is reached",
                      code, f->s.max_redirects);
        } else {
            snprintf(next_url, sizeof(next_url), "%s", loc);
            it->hops++;
        }
    } else {
        /* imaginary: the upstream status becomes the answer's, 503 outside 400..511 */
        item_fail(it, code >= 400 && code <= 511 ? (int)code : 503, "upstream_status",
                  "error fetching remote http image: (status=%ld)", code);
    }
    xfer_free(x);
    if (next_url[0] != '\0') {
        free(it->data);
        it->data = NULL;
        it->len = 0;
        next = hop_start(f, it, next_url);
        if (next != NULL)
            return next;
    }
    item_send(it);
    return NULL;
}

/* ---- the thread ------------------------------------------------------------------------------- */

static void run_file(svc_fetch *f, svc_fetch_item *it)
{
    const char *error = NULL;
    int st;
    if (f->s.mount_fd < 0) {
        item_fail(it, 400, "invalid_file_path", "Invalid file path");
    } else if ((st = svc_mount_read(f->s.mount_fd, it->target, f->s.max_bytes, &it->data, &it->len, &error, it->message,
                                    sizeof(it->message))) != 0) {
        it->status = st;
        it->error = error;
    }
    item_send(it);
}

static void *fetch_main(void *arg)
{
    svc_fetch *f = arg;
    xfer *active = NULL;
    int stop = 0;
    pthread_setname_np(pthread_self(), "imgpipe-fetch");
    while (!stop) {
        svc_fetch_item *batch;
        pthread_mutex_lock(&f->mu);
        batch = f->pending;
        f->pending = f->pending_tail = NULL;
        stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        while (batch != NULL) {
            svc_fetch_item *it = batch;
            batch = it->next;
            it->next = NULL;
            if (stop) {
                f->s.discard(it);
            } else if (it->kind == SVC_FETCH_FILE) {
                run_file(f, it);
            } else {
                xfer *x = hop_start(f, it, it->target);
                if (x == NULL) {
                    item_send(it);
                } else {
                    x->next = active;
                    active = x;
                }
            }
        }
        if (stop)
            break;
        int running = 0;
        curl_multi_perform(f->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            xfer *x = NULL, **pp;
            CURL *done = m->easy_handle;
            CURLcode rc = m->data.result;
            curl_easy_getinfo(done, CURLINFO_PRIVATE, (char **)&x);
            for (pp = &active; *pp != NULL && *pp != x; pp = &(*pp)->next)
                ;
            if (*pp == NULL)
                continue;
            *pp = x->next;
            xfer *next = hop_done(f, x, rc);
            if (next != NULL) {
                next->next = active;
                active = next;
            }
        }
        /* cancelled requests: abort their transfers */
        for (xfer **pp = &active; *pp != NULL;) {
            xfer *x = *pp;
            if (atomic_load(&x->it->cancelled)) {
                *pp = x->next;
                svc_fetch_item *it = x->it;
                xfer_free(x);
                item_fail(it, 499, "cancelled", "the client closed the connection");
                item_send(it);
            } else {
                pp = &x->next;
            }
        }
        curl_multi_poll(f->multi, NULL, 0, 100, NULL);
    }
    while (active != NULL) {
        xfer *x = active;
        active = x->next;
        svc_fetch_item *it = x->it;
        xfer_free(x);
        f->s.discard(it);
    }
    return NULL;
}

svc_fetch *svc_fetch_start(const svc_fetch_settings *s, char *errbuf, size_t errlen)
{
    svc_fetch *f = calloc(1, sizeof(*f));
    if (f == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (f->multi = curl_multi_init()) == NULL) {
        snprintf(errbuf, errlen, "url source: cannot initialise libcurl");
        free(f);
        return NULL;
    }
    f->s = *s;
    pthread_mutex_init(&f->mu, NULL);
    if (pthread_create(&f->thread, NULL, fetch_main, f) != 0) {
        snprintf(errbuf, errlen, "url source: cannot start the fetch thread: %s", strerror(errno));
        curl_multi_cleanup(f->multi);
        free(f);
        return NULL;
    }
    return f;
}

int svc_fetch_submit(svc_fetch *f, svc_fetch_item *it)
{
    int rc = 0;
    it->next = NULL;
    pthread_mutex_lock(&f->mu);
    if (f->stop) {
        rc = -1;
    } else if (f->pending_tail != NULL) {
        f->pending_tail->next = it;
        f->pending_tail = it;
    } else {
        f->pending = f->pending_tail = it;
    }
    pthread_mutex_unlock(&f->mu);
    if (rc == 0)
        curl_multi_wakeup(f->multi);
    return rc;
}

void svc_fetch_stop(svc_fetch *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_mutex_unlock(&f->mu);
    curl_multi_wakeup(f->multi);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->mu);
    curl_multi_cleanup(f->multi);
    free(f);
}
