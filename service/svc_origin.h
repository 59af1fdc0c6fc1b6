/*
 * svc_origin: the URL source's allowlist (`allowed-origins`) and the parsing of `url=`.
 *
 * The rule (imaginary's, made exact): allowed-origins is a comma-separated list of entries
 * `[scheme://]HOST[:PORT][/PATH]`. The scheme, when given, is ignored (as imaginary: the URL may
 * be http or https either way). HOST is a name or an IP literal (IPv6 in brackets), compared
 * without case and without a trailing dot; `*.example.org` matches example.org and every name
 * ending in .example.org; `*` alone matches every host. Without PORT the URL must use its
 * scheme's default port (80/443); with PORT, exactly that port. PATH is a prefix of the URL's
 * path after curl's dot-segment removal: `/images` means `/images/`, `/images*` means any path
 * starting with `/images`; with a PATH, URLs whose path holds %2e, %2f, %5c or a backslash are
 * refused (an origin may decode them into a way out of the prefix).
 *
 * `url=` is parsed once, by libcurl's URL API (curl_url), and the fetch uses curl's own
 * normalised URL: the allowlist sees exactly the host, port and path curl will use. Refused: not
 * http/https, user:password@, a zone id, port 0, unparsable text.
 *
 * svc_origins is immutable after svc_origins_new: any thread may read it.
 */
#ifndef SVC_ORIGIN_H
#define SVC_ORIGIN_H

#include <stddef.h>

typedef struct svc_origins svc_origins;

/* Parse the list. NULL with a message in errbuf when an entry is malformed or the list is empty. */
svc_origins *svc_origins_new(const char *list, char *errbuf, size_t errlen);
void svc_origins_free(svc_origins *o);

typedef struct svc_url {
    char *url;      /* curl's normalised URL, what is requested (malloc'd) */
    char host[256]; /* lower case, no brackets, no trailing dot */
    int port;       /* effective port */
    int literal;    /* host is an IP literal */
    char *path;     /* path as requested (malloc'd) */
} svc_url;

typedef enum { SVC_URL_OK = 0, SVC_URL_INVALID, SVC_URL_NOT_ALLOWED } svc_url_verdict;

/* Parse `text` and check it against the allowlist (o == NULL: any host). The public message
 * (msg) says why when the verdict is not OK. out is filled when the parse succeeded (clear it
 * with svc_url_clear whatever the verdict). */
svc_url_verdict svc_url_check(const svc_origins *o, const char *text, svc_url *out, char *msg, size_t msglen);
void svc_url_clear(svc_url *u);

#endif
