/*
 * test_sources_unit: the pieces of the url= and file= sources that need no server.
 *   - the address classifier (svc_ssrf) over every way of writing an address: decimal, octal,
 *     hex and short IPv4, IPv6 literals, IPv4-mapped/compatible/NAT64/6to4 IPv6, trailing dots,
 *     percent-encoded hosts. Each URL is parsed by curl's URL API (svc_url_check, as the service
 *     does), its host resolved with getaddrinfo (numeric, or `localhost` from /etc/hosts: no
 *     traffic) and every address classified;
 *   - what svc_url_check refuses before any lookup (userinfo, schemes, zone ids) and the
 *     allowed-origins rule (wildcards, ports, path prefixes, dot segments, encoded dots);
 *   - svc_mount: `..`, absolute paths, symlinks in and out of the mount, a FIFO, a directory,
 *     a file over the limit;
 *   - If-None-Match matching and the ETag's inputs.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svc_etag.h"
#include "svc_mount.h"
#include "svc_origin.h"
#include "svc_ssrf.h"
#include "tap.h"

/* Parse like the service, resolve, classify: the first reason any address is refused, or NULL. */
static const char *url_blocked(const char *text, char *host_out, size_t host_len)
{
    svc_url u;
    char msg[600], port[16];
    struct addrinfo hints, *res = NULL;
    const char *why = "unparsed";
    if (svc_url_check(NULL, text, &u, msg, sizeof(msg)) != SVC_URL_OK) {
        svc_url_clear(&u);
        return "invalid";
    }
    snprintf(host_out, host_len, "%s", u.host);
    snprintf(port, sizeof(port), "%d", u.port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (u.literal ? AI_NUMERICHOST : 0);
    if (getaddrinfo(u.host, port, &hints, &res) == 0) {
        why = NULL;
        for (struct addrinfo *ai = res; ai && why == NULL; ai = ai->ai_next)
            why = svc_ssrf_blocked(ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(res);
    } else {
        why = "unresolved";
    }
    svc_url_clear(&u);
    return why;
}

static void test_address_forms(void)
{
    static const struct {
        const char *url, *host, *why; /* why: NULL = may be fetched */
    } t[] = {
        {"http://2130706433/", "127.0.0.1", "loopback"},                      /* decimal */
        {"http://0177.0.0.1/", "127.0.0.1", "loopback"},                      /* octal */
        {"http://0x7f.1/", "127.0.0.1", "loopback"},                          /* hex, short */
        {"http://127.1/", "127.0.0.1", "loopback"},                           /* short */
        {"http://%31%32%37.0.0.1/", "127.0.0.1", "loopback"},                 /* percent-encoded */
        {"http://localhost/", "localhost", "loopback"},                       /* a name */
        {"http://localhost./", "localhost", "loopback"},                      /* trailing dot */
        {"http://LocalHost:8080/", "localhost", "loopback"},                  /* case */
        {"http://[::1]/", "::1", "loopback"},                                 /* IPv6 */
        {"http://[0:0:0:0:0:0:0:1]/", "::1", "loopback"},                     /* IPv6 long */
        {"http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", "loopback"},       /* IPv4-mapped */
        {"http://[::ffff:7f00:1]/", "::ffff:7f00:1", "loopback"},             /* IPv4-mapped, hex */
        {"http://[::127.0.0.1]/", "::127.0.0.1", "loopback"},                 /* IPv4-compatible */
        {"http://[::ffff:0:a00:1]/", "::ffff:0:a00:1", "private"},            /* SIIT 10.0.0.1 */
        {"http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe", "link-local"}, /* NAT64 of the metadata address */
        {"http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1", "loopback"},
        {"http://[64:ff9b:1::1]/", "64:ff9b:1::1", "nat64-local"},
        {"http://[2002:7f00:1::1]/", "2002:7f00:1::1", "loopback"}, /* 6to4 of 127.0.0.1 */
        {"http://[::]/", "::", "unspecified"},
        {"http://[fe80::1]/", "fe80::1", "link-local"},
        {"http://[fc00::1]/", "fc00::1", "private"},
        {"http://[fd12:3456::1]/", "fd12:3456::1", "private"},
        {"http://[ff02::1]/", "ff02::1", "multicast"},
        {"http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"},
        {"http://0.0.0.0/", "0.0.0.0", "unspecified"},
        {"http://0/", "0.0.0.0", "unspecified"},
        {"http://10.1.2.3/", "10.1.2.3", "private"},
        {"http://172.31.255.255/", "172.31.255.255", "private"},
        {"http://192.168.0.1/", "192.168.0.1", "private"},
        {"http://100.64.0.1/", "100.64.0.1", "shared"},
        {"http://224.0.0.1/", "224.0.0.1", "multicast"},
        {"http://255.255.255.255/", "255.255.255.255", "broadcast"},
        {"http://240.0.0.1/", "240.0.0.1", "reserved"},
        {"http://93.184.216.34/", "93.184.216.34", NULL}, /* public: allowed (classified, never fetched here) */
        {"http://172.32.0.1/", "172.32.0.1", NULL},       /* just outside 172.16/12 */
        {"http://100.128.0.1/", "100.128.0.1", NULL},     /* just outside 100.64/10 */
        {"http://[2606:4700::1111]/", "2606:4700::1111", NULL},
        {"http://[64:ff9b::808:808]/", "64:ff9b::808:808", NULL}, /* NAT64 of a public address */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char host[256] = "";
        const char *why = url_blocked(t[i].url, host, sizeof(host));
        is_str(host, t[i].host, "%s: the host curl reads", t[i].url);
        const char *want = t[i].why ? t[i].why : "allowed";
        is_str(why ? why : "allowed", want, "%s: %s", t[i].url, want);
    }
}

static void test_url_refusals(void)
{
    static const char *const bad[] = {
        "http://allowed.example.org@evil.test/", /* userinfo: refused outright */
        "http://user:pass@example.org/",
        "http://a.example.org\\@evil.test/", /* curl reads evil.test as the host and a user: refused */
        "ftp://example.org/a.jpg",
        "file:///etc/passwd",
        "gopher://example.org/",
        "dict://127.0.0.1:11211/",
        "http://[fe80::1%25eth0]/", /* zone id */
        "http://example.org:0/",
        "//example.org/a.jpg",
        "http://exa mple.org/",
        "not a url",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        svc_url u;
        char msg[600];
        is_int(svc_url_check(NULL, bad[i], &u, msg, sizeof(msg)), SVC_URL_INVALID, "refused before any lookup: %s", bad[i]);
        ok(strncmp(msg, "Invalid image URL", 17) == 0, "message: %s", msg);
        svc_url_clear(&u);
    }
}

static void test_allowlist(void)
{
    char err[512];
    svc_origins *o =
        svc_origins_new("https://*.example.org, http://localhost:8080/img,images.test/pub*,http://[::1]:9000", err, sizeof(err));
    static const struct {
        const char *url;
        int want;
    } t[] = {
        {"https://example.org/a.jpg", SVC_URL_OK},             /* *.example.org matches the domain itself */
        {"http://cdn.eu.example.org/a.jpg", SVC_URL_OK},       /* and subdomains, any scheme (imaginary) */
        {"https://EXAMPLE.ORG./a.jpg", SVC_URL_OK},            /* case, trailing dot */
        {"https://badexample.org/a.jpg", SVC_URL_NOT_ALLOWED}, /* not a subdomain */
        {"https://example.org.evil.test/", SVC_URL_NOT_ALLOWED},
        {"https://example.org:8443/a.jpg", SVC_URL_NOT_ALLOWED}, /* no port in the entry: default ports only */
        {"http://example.org:80/a.jpg", SVC_URL_OK},
        {"http://localhost:8080/img/a.jpg", SVC_URL_OK},
        {"http://localhost:8080/img", SVC_URL_NOT_ALLOWED}, /* "/img" means "/img/" */
        {"http://localhost:8080/imgx/a.jpg", SVC_URL_NOT_ALLOWED},
        {"http://localhost:8080/img/../etc/passwd", SVC_URL_NOT_ALLOWED}, /* curl removes dot segments first */
        {"http://localhost:8080/img/%2e%2e/etc/passwd", SVC_URL_NOT_ALLOWED},
        {"http://localhost:8080/img/a%2fb", SVC_URL_NOT_ALLOWED},
        {"http://localhost/img/a.jpg", SVC_URL_NOT_ALLOWED},      /* port */
        {"http://127.0.0.1:8080/img/a.jpg", SVC_URL_NOT_ALLOWED}, /* names are not resolved for the allowlist */
        {"http://images.test/pub2/a.jpg", SVC_URL_OK},            /* "pub*": any path starting /pub */
        {"https://images.test/pub/a.jpg", SVC_URL_OK},
        {"http://images.test/private/a.jpg", SVC_URL_NOT_ALLOWED},
        {"http://[::1]:9000/a.jpg", SVC_URL_OK},
        {"http://[::1]/a.jpg", SVC_URL_NOT_ALLOWED},
        {"http://localhost:8080@evil.test/img/a.jpg", SVC_URL_INVALID}, /* userinfo trick */
        {"http://evil.test#@localhost:8080/img/a.jpg", SVC_URL_NOT_ALLOWED},
        {"http://evil.test?@localhost:8080/img/", SVC_URL_NOT_ALLOWED},
    };
    if (!ok(o != NULL, "allowlist parses (%s)", o ? "" : err))
        return;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        svc_url u;
        char msg[600];
        is_int(svc_url_check(o, t[i].url, &u, msg, sizeof(msg)), t[i].want, "%s -> %s", t[i].url,
               t[i].want == SVC_URL_OK        ? "allowed"
               : t[i].want == SVC_URL_INVALID ? "invalid"
                                              : "not allowed");
        svc_url_clear(&u);
    }
    svc_origins_free(o);
    o = svc_origins_new("*", err, sizeof(err));
    {
        svc_url u;
        char msg[600];
        is_int(svc_url_check(o, "https://anything.test/x.jpg", &u, msg, sizeof(msg)), SVC_URL_OK, "* allows any host");
        svc_url_clear(&u);
    }
    svc_origins_free(o);
    static const char *const bad[] = {"", "ftp://a.test", "http://a.test:99999", "*.", "a*b.test", "http://[::1", " , "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = svc_origins_new(bad[i], err, sizeof(err));
        ok(o == NULL && strncmp(err, "allowed-origins", 15) == 0, "bad entry '%s' refused: %s", bad[i], err);
        svc_origins_free(o);
    }
}

static void write_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; f && i < n; i++)
        fputc('x', f);
    if (f)
        fclose(f);
}

static void test_mount(void)
{
    char dir[] = "/tmp/imgpipe-mount-XXXXXX", outside[] = "/tmp/imgpipe-outside-XXXXXX", p[512], err[256], msg[256];
    const char *error;
    uint8_t *data;
    size_t len;
    int fd;
    if (!ok(mkdtemp(dir) != NULL && mkdtemp(outside) != NULL, "temporary folders"))
        return;
    snprintf(p, sizeof(p), "%s/sub", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/sub/a.jpg", dir);
    write_file(p, 100);
    snprintf(p, sizeof(p), "%s/big.jpg", dir);
    write_file(p, 2000);
    snprintf(p, sizeof(p), "%s/secret", outside);
    write_file(p, 10);
    snprintf(p, sizeof(p), "%s/out", dir);
    ok(symlink(outside, p) == 0, "symlink to a folder outside the mount");
    snprintf(p, sizeof(p), "%s/secret-link", dir);
    char target[600];
    snprintf(target, sizeof(target), "%s/secret", outside);
    ok(symlink(target, p) == 0, "symlink to a file outside the mount");
    snprintf(p, sizeof(p), "%s/inside-link", dir);
    ok(symlink("sub/a.jpg", p) == 0, "symlink to a file inside the mount");
    snprintf(p, sizeof(p), "%s/fifo", dir);
    ok(mkfifo(p, 0644) == 0, "a FIFO in the mount");

    fd = svc_mount_open(dir, err, sizeof(err));
    if (!ok(fd >= 0, "mount opens (%s)", fd >= 0 ? "" : err))
        return;
    ok(svc_mount_open("/", err, sizeof(err)) < 0 && strstr(err, "root"), "the root directory is never a mount");
    ok(svc_mount_open("/nonexistent-imgpipe", err, sizeof(err)) < 0, "a missing folder is refused at startup");
    diag("openat2: %s", svc_mount_has_openat2() ? "yes" : "no (component walk)");

    is_int(svc_mount_read(fd, "sub/a.jpg", 1000, &data, &len, &error, msg, sizeof(msg)), 0, "sub/a.jpg is read");
    is_int((int)len, 100, "all 100 bytes");
    free(data);
    static const char *const refused[] = {"../x", "sub/../../x", "sub/../sub/a.jpg", "/etc/passwd",
                                          "",     "out/secret",  "secret-link",      "inside-link",
                                          "sub",  "fifo",        "missing.jpg",      "sub/a.jpg/"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        data = (uint8_t *)"x";
        is_int(svc_mount_read(fd, refused[i], 1000, &data, &len, &error, msg, sizeof(msg)), 400, "file=%s: 400", refused[i]);
        ok(data == NULL && strcmp(msg, "Invalid file path") == 0, "file=%s: imaginary's message, no bytes", refused[i]);
    }
    is_int(svc_mount_read(fd, "big.jpg", 1000, &data, &len, &error, msg, sizeof(msg)), 413, "a file over max-body-bytes: 413");
    is_str(error, "payload_too_large", "named payload_too_large");
    ok(svc_mount_path_ok("a..b/c..", 8) == 0 && svc_mount_path_ok("a/\0b", 4) != 0, "'..' only as a whole component; no NUL");
    close(fd);
    snprintf(p, sizeof(p), "rm -rf '%s' '%s'", dir, outside);
    if (system(p) != 0)
        diag("could not remove %s", dir);
}

static void test_etag(void)
{
    char a[SVC_ETAG_LEN], b[SVC_ETAG_LEN], c[SVC_ETAG_LEN], d[SVC_ETAG_LEN];
    uint8_t h1[32], h2[32];
    pl_plan p1, p2;
    pl_error err;
    pl_limits lim;
    pl_limits_default(&lim);
    svc_etag_digest((const uint8_t *)"abc", 3, h1);
    svc_etag_digest((const uint8_t *)"abd", 3, h2);
    pl_plan_parse("resize", "width=100", 9, &p1, &err);
    pl_plan_parse("resize", "width=101", 9, &p2, &err);
    svc_etag_make(h1, NULL, &p1, &lim, NULL, 0, a);
    svc_etag_make(h1, NULL, &p1, &lim, NULL, 0, b);
    is_str(a, b, "same bytes and plan: same ETag");
    ok(strlen(a) == 34 && a[0] == '"' && a[33] == '"', "ETag is a quoted 32-hex strong tag: %s", a);
    svc_etag_make(h2, NULL, &p1, &lim, NULL, 0, c);
    svc_etag_make(h1, NULL, &p2, &lim, NULL, 0, d);
    ok(strcmp(a, c) != 0 && strcmp(a, d) != 0, "other bytes or another plan: another ETag");
    svc_etag_make(h1, NULL, &p1, &lim, "image/webp", 10, c);
    svc_etag_make(h1, NULL, &p1, &lim, "image/png", 9, d);
    ok(strcmp(c, d) != 0, "the Accept header feeds the ETag when given (type=auto)");
    ok(svc_etag_match(a, strlen(a), a), "exact match");
    char list[200];
    snprintf(list, sizeof(list), "\"zzz\" , W/%s", a);
    ok(svc_etag_match(list, strlen(list), a), "a list with a weak form matches (weak comparison)");
    ok(svc_etag_match("*", 1, a), "* matches");
    ok(!svc_etag_match("\"zzz\"", 5, a) && !svc_etag_match("", 0, a), "others do not");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_address_forms();
    test_url_refusals();
    test_allowlist();
    test_mount();
    test_etag();
    curl_global_cleanup();
    return tap_done();
}
