/*
 * svc_origin: allowed-origins entries and the url= check (the rule is in svc_origin.h). URLs go
 * through libcurl's parser only; entries through the small parser below (curl does not take
 * `*.` host patterns).
 */
#include "svc_origin.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct origin_entry {
    char host[256]; /* "" with any = 1 */
    int any, wildcard;
    int port; /* 0 = the scheme's default */
    char path[1024];
} origin_entry;

struct svc_origins {
    size_t n;
    origin_entry e[];
};

static void host_norm(char *h)
{
    size_t l;
    for (char *p = h; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    l = strlen(h);
    if (l > 1 && h[l - 1] == '.')
        h[l - 1] = '\0';
}

static int parse_entry(const char *s, size_t len, origin_entry *e, char *errbuf, size_t errlen)
{
    char buf[1400];
    char *p, *host, *slash, *colon;
    memset(e, 0, sizeof(*e));
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(errbuf, errlen,
                 "allowed-origins: an empty or too long entry (write e.g. https://images.example.org,*.cdn.example)");
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    p = buf;
    if ((host = strstr(p, "://")) != NULL) {
        if (!((host - p == 4 && strncasecmp(p, "http", 4) == 0) || (host - p == 5 && strncasecmp(p, "https", 5) == 0))) {
            snprintf(errbuf, errlen, "allowed-origins: '%s': only http:// and https:// sources can be fetched", buf);
            return -1;
        }
        p = host + 3;
    }
    host = p;
    if (*host == '[') {
        char *rb = strchr(host, ']');
        if (rb == NULL) {
            snprintf(errbuf, errlen, "allowed-origins: '%s': unterminated [IPv6] host", buf);
            return -1;
        }
        *rb = '\0';
        host++;
        p = rb + 1;
    } else {
        p = host + strcspn(host, ":/");
    }
    slash = strchr(p, '/');
    if (slash != NULL) {
        snprintf(e->path, sizeof(e->path), "%.1000s", slash);
        *slash = '\0';
    }
    colon = (*p == ':') ? p : NULL;
    if (colon != NULL) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535) {
            snprintf(errbuf, errlen, "allowed-origins: '%.*s': the port must be 1..65535", (int)len, s);
            return -1;
        }
        e->port = (int)port;
        *colon = '\0';
    }
    if (strcmp(host, "*") == 0) {
        e->any = 1;
    } else if (strncmp(host, "*.", 2) == 0 && host[2] != '\0') {
        e->wildcard = 1;
        snprintf(e->host, sizeof(e->host), "%.255s", host + 2);
    } else if (host[0] != '\0' && strchr(host, '*') == NULL) {
        snprintf(e->host, sizeof(e->host), "%.255s", host);
    } else {
        snprintf(errbuf, errlen, "allowed-origins: '%.*s': the host must be a name, an IP, *.domain or *", (int)len, s);
        return -1;
    }
    for (const char *c = e->host; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != ':' && *c != '_') {
            snprintf(errbuf, errlen, "allowed-origins: '%.*s': unexpected character '%c' in the host", (int)len, s, *c);
            return -1;
        }
    host_norm(e->host);
    /* imaginary's path rule: "/a*" is the prefix "/a", "/a" means "/a/" */
    size_t pl = strlen(e->path);
    if (pl > 0) {
        if (e->path[pl - 1] == '*')
            e->path[pl - 1] = '\0';
        else if (e->path[pl - 1] != '/' && pl + 1 < sizeof(e->path))
            strcat(e->path, "/");
    }
    return 0;
}

svc_origins *svc_origins_new(const char *list, char *errbuf, size_t errlen)
{
    size_t n = 1, k = 0;
    svc_origins *o;
    if (list == NULL || *list == '\0') {
        snprintf(errbuf, errlen, "allowed-origins: empty (list the hosts url= may name, or * for any public host)");
        return NULL;
    }
    for (const char *p = list; *p; p++)
        n += *p == ',';
    if ((o = calloc(1, sizeof(*o) + n * sizeof(origin_entry))) == NULL) {
        snprintf(errbuf, errlen, "allowed-origins: out of memory");
        return NULL;
    }
    for (const char *p = list; k < n;) {
        size_t l = strcspn(p, ",");
        if (parse_entry(p, l, &o->e[k++], errbuf, errlen) != 0) {
            free(o);
            return NULL;
        }
        p += l + (p[l] == ',');
    }
    o->n = k;
    return o;
}

void svc_origins_free(svc_origins *o)
{
    free(o);
}

static int path_suspicious(const char *path)
{
    for (const char *p = path; *p; p++) {
        if (*p == '\\')
            return 1;
        if (*p == '%' && p[1] && p[2]) {
            char c1 = p[1], c2 = (char)tolower((unsigned char)p[2]);
            if ((c1 == '2' && (c2 == 'e' || c2 == 'f')) || (c1 == '5' && c2 == 'c'))
                return 1;
        }
    }
    return 0;
}

static int entry_matches(const origin_entry *e, const svc_url *u, int default_port)
{
    if (!e->any) {
        if (e->wildcard) {
            size_t hl = strlen(u->host), el = strlen(e->host);
            if (!(strcmp(u->host, e->host) == 0 ||
                  (hl > el && u->host[hl - el - 1] == '.' && strcmp(u->host + hl - el, e->host) == 0)))
                return 0;
        } else if (strcmp(u->host, e->host) != 0) {
            return 0;
        }
    }
    if (e->port ? u->port != e->port : u->port != default_port)
        return 0;
    if (e->path[0] != '\0' && (strncmp(u->path, e->path, strlen(e->path)) != 0 || path_suspicious(u->path)))
        return 0;
    return 1;
}

void svc_url_clear(svc_url *u)
{
    curl_free(u->url);
    curl_free(u->path);
    memset(u, 0, sizeof(*u));
}

svc_url_verdict svc_url_check(const svc_origins *o, const char *text, svc_url *out, char *msg, size_t msglen)
{
    CURLU *cu = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL, *zone = NULL;
    svc_url_verdict v = SVC_URL_INVALID;
    int default_port;
    memset(out, 0, sizeof(*out));
    snprintf(msg, msglen, "Invalid image URL");
    if (cu == NULL || curl_url_set(cu, CURLUPART_URL, text, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(msg, msglen, "Invalid image URL: only http:// and https:// URLs can be fetched");
        goto out;
    }
    if (curl_url_get(cu, CURLUPART_USER, &user, 0) == CURLUE_OK || curl_url_get(cu, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        snprintf(msg, msglen, "Invalid image URL: user:password@ is not allowed in url=");
        goto out;
    }
    if (curl_url_get(cu, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK) {
        snprintf(msg, msglen, "Invalid image URL: an IPv6 zone id is not allowed");
        goto out;
    }
    if (curl_url_get(cu, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(cu, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_get(cu, CURLUPART_PATH, &out->path, 0) != CURLUE_OK || curl_url_get(cu, CURLUPART_URL, &out->url, 0) != CURLUE_OK)
        goto out;
    out->port = atoi(port);
    if (out->port < 1 || out->port > 65535)
        goto out;
    if (host[0] == '[') {
        size_t l = strlen(host);
        snprintf(out->host, sizeof(out->host), "%.*s", (int)(l > 2 ? l - 2 : 0), host + 1);
        out->literal = 1;
    } else {
        snprintf(out->host, sizeof(out->host), "%s", host);
        out->literal = strspn(host, "0123456789.") == strlen(host); /* curl wrote any IPv4 form as a.b.c.d */
    }
    host_norm(out->host);
    if (out->host[0] == '\0')
        goto out;
    default_port = strcmp(scheme, "https") == 0 ? 443 : 80;
    v = SVC_URL_NOT_ALLOWED;
    snprintf(msg, msglen, "not allowed remote URL origin: %s%s", out->host, out->path);
    if (o == NULL) {
        v = SVC_URL_OK;
    } else {
        for (size_t i = 0; i < o->n && v != SVC_URL_OK; i++)
            if (entry_matches(&o->e[i], out, default_port))
                v = SVC_URL_OK;
    }
    if (v == SVC_URL_OK)
        msg[0] = '\0';
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(pass);
    curl_free(zone);
    curl_url_cleanup(cu);
    return v;
}
