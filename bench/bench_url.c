/*
 * bench_url: the target check. A load generator aimed at someone else's server is an attack, so
 * imgpipe-bench talks only to loopback unless the user names another address with --allow-remote.
 * The URL is parsed with libcurl's own parser (the one that will use it) and the host resolved
 * with getaddrinfo: every address must be 127.0.0.0/8 or ::1.
 */
#include "bench_run.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

static bool url_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return a->s6_addr[12] == 127;
    }
    return false;
}

int bench_url_check(const char *url, bool allow_remote, bench_error *err)
{
    int rc = -1;
    char *scheme = NULL, *host = NULL, *query = NULL;
    struct addrinfo *res = NULL;
    CURLU *u = curl_url();
    if (!u)
        return bench_error_set(err, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        bench_error_set(err, "--url '%s' is not a URL: give the server's base, like http://127.0.0.1:8080", url);
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        bench_error_set(err, "--url '%s': only http:// and https:// are supported", url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query && *query) {
        bench_error_set(err, "--url '%s' has a query: give the base URL, the workload adds /op?query", url);
        goto out;
    }
    if (allow_remote) {
        rc = 0;
        goto out;
    }
    /* curl keeps IPv6 literals in brackets */
    char name[256];
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
        snprintf(name, sizeof(name), "%.*s", (int)(len - 2), host + 1);
    else
        snprintf(name, sizeof(name), "%s", host);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(name, NULL, &hints, &res);
    if (gai != 0) {
        bench_error_set(err, "--url host '%s' does not resolve: %s", name, gai_strerror(gai));
        goto out;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (!url_is_loopback(ai->ai_addr)) {
            bench_error_set(err,
                            "--url host '%s' is not a loopback address: imgpipe-bench only loads 127.0.0.1/::1 unless you "
                            "add --allow-remote for a server you run",
                            name);
            goto out;
        }
    }
    rc = 0;
out:
    if (res)
        freeaddrinfo(res);
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}
