/*
 * svc_fetch: the source thread. It fetches `url=` images with libcurl's multi interface and
 * reads `file=` images from the mount, so that no network or disk wait ever runs on the loop
 * thread, and sends each finished item back to the loop with h2o_multithread_send_message.
 *
 * A URL fetch, hop by hop (at most url-max-redirects redirects, each hop checked again):
 *   svc_url_check (curl's parser + allowed-origins) -> getaddrinfo on this thread -> every
 *   address through svc_ssrf (unless allow-private-sources) -> CURLOPT_RESOLVE pins curl to
 *   those addresses (no second lookup) and CURLOPT_OPENSOCKETFUNCTION checks the address again
 *   at connect time -> http/https only, no proxy, no automatic redirects, body capped at
 *   max-body-bytes, connect and total timeouts inside the request's deadline.
 * The SHA-256 of the bytes (svc_etag_digest) is computed here too.
 *
 * DESIGN (ownership)
 *   The loop allocates an item, fills the inputs and calls svc_fetch_submit; from then the
 *   fetch thread owns it until it sends `msg` to `receiver`; the loop frees it in the receiver.
 *   `cancelled` (atomic) is the only field both threads touch meanwhile: the loop sets it when
 *   the request goes away, the fetch thread then aborts the transfer at its next turn (<= 100 ms)
 *   and sends the item back anyway. At svc_fetch_stop the thread frees what it still holds.
 *   The DNS lookup blocks this thread (bounded by the resolver's own timeouts); file reads are
 *   bounded by max-body-bytes.
 */
#ifndef SVC_FETCH_H
#define SVC_FETCH_H

#include <stdatomic.h>
#include <stdint.h>

#include <h2o/multithread.h>

#include "svc_origin.h"

typedef struct svc_fetch svc_fetch;
struct svc_fetch_item;

typedef struct svc_fetch_settings {
    const svc_origins *origins; /* allowed-origins */
    int allow_private;          /* allow-private-sources */
    int max_redirects;          /* url-max-redirects */
    long long timeout_ms;       /* url-timeout, for the whole fetch (all hops) */
    size_t max_bytes;           /* max-body-bytes */
    int mount_fd;               /* -1 = no mount */
    const char *user_agent;
    void (*discard)(struct svc_fetch_item *it); /* frees an item svc_fetch_stop finds unfinished */
} svc_fetch_settings;

typedef enum { SVC_FETCH_URL, SVC_FETCH_FILE } svc_fetch_kind;

typedef struct svc_fetch_item {
    h2o_multithread_message_t msg; /* zeroed before sending */
    h2o_multithread_receiver_t *receiver;
    struct svc_fetch_item *next; /* pending list (under the fetcher's lock) */
    /* inputs: set by the loop before submit */
    svc_fetch_kind kind;
    char *target;        /* URL (curl-normalised) or path relative to the mount; malloc'd, freed by svc_fetch_item_free */
    int64_t deadline_us; /* g_get_monotonic_time() scale */
    atomic_int cancelled;
    /* outputs: written by the fetch thread before sending */
    uint8_t *data; /* malloc'd; NULL on failure */
    size_t len;
    uint8_t digest[32]; /* SHA-256 of data */
    int status;         /* 0 = got the bytes; else the HTTP status to answer */
    int upstream_status;
    const char *error; /* static error name when status != 0 */
    char message[512];
    int hops;
} svc_fetch_item;

/* Start the thread. NULL with a message on failure. s is copied (origins must outlive it). */
svc_fetch *svc_fetch_start(const svc_fetch_settings *s, char *errbuf, size_t errlen);
/* Loop thread: hand an item over. -1 when stopping (the item stays the caller's). */
int svc_fetch_submit(svc_fetch *f, svc_fetch_item *it);
/* Stop and join the thread; items it still holds go to settings.discard. */
void svc_fetch_stop(svc_fetch *f);

void svc_fetch_item_free(svc_fetch_item *it); /* frees target and data (not the item) */

#endif
