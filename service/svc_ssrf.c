/*
 * svc_ssrf: the address classifier of the URL source (see svc_ssrf.h). It looks only at the
 * numeric address the fetch thread is about to connect to, never at how the URL spelled the host:
 * every spelling (decimal, octal, hex, short IPv4, IPv6 literals, names) ends up here as bytes,
 * so there is no parser differential to exploit.
 */
#include "svc_ssrf.h"

#include <netinet/in.h>
#include <string.h>

typedef struct v4_range {
    uint32_t net, mask;
    const char *why;
} v4_range;

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define MASK(bits) ((uint32_t)(0xffffffffu << (32 - (bits))))

static const v4_range v4_blocked[] = {
    {V4(0, 0, 0, 0), MASK(8), "unspecified"},         /* "this network", 0.0.0.0 */
    {V4(10, 0, 0, 0), MASK(8), "private"},            /* RFC 1918 */
    {V4(100, 64, 0, 0), MASK(10), "shared"},          /* CGNAT, RFC 6598 */
    {V4(127, 0, 0, 0), MASK(8), "loopback"},          /* */
    {V4(169, 254, 0, 0), MASK(16), "link-local"},     /* 169.254.169.254: cloud metadata */
    {V4(172, 16, 0, 0), MASK(12), "private"},         /* RFC 1918 */
    {V4(192, 0, 0, 0), MASK(24), "reserved"},         /* IETF protocol assignments */
    {V4(192, 0, 2, 0), MASK(24), "documentation"},    /* TEST-NET-1 */
    {V4(192, 88, 99, 0), MASK(24), "reserved"},       /* 6to4 relay anycast */
    {V4(192, 168, 0, 0), MASK(16), "private"},        /* RFC 1918 */
    {V4(198, 18, 0, 0), MASK(15), "reserved"},        /* benchmarking */
    {V4(198, 51, 100, 0), MASK(24), "documentation"}, /* TEST-NET-2 */
    {V4(203, 0, 113, 0), MASK(24), "documentation"},  /* TEST-NET-3 */
    {V4(224, 0, 0, 0), MASK(4), "multicast"},         /* */
    {V4(255, 255, 255, 255), MASK(32), "broadcast"},  /* before 240/4 for the reason */
    {V4(240, 0, 0, 0), MASK(4), "reserved"},          /* class E */
};

const char *svc_ssrf_v4_blocked(uint32_t v4)
{
    for (size_t i = 0; i < sizeof(v4_blocked) / sizeof(v4_blocked[0]); i++)
        if ((v4 & v4_blocked[i].mask) == v4_blocked[i].net)
            return v4_blocked[i].why;
    return NULL;
}

static uint32_t v4_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

const char *svc_ssrf_v6_blocked(const uint8_t a[16])
{
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (zero(a, 16))
        return "unspecified";
    if (zero(a, 15) && a[15] == 1)
        return "loopback";
    /* IPv4 inside IPv6: the embedded address decides */
    if (zero(a, 10) && a[10] == 0xff && a[11] == 0xff) /* ::ffff:a.b.c.d mapped */
        return svc_ssrf_v4_blocked(v4_at(a + 12));
    if (zero(a, 12)) /* ::a.b.c.d compatible (deprecated) */
        return svc_ssrf_v4_blocked(v4_at(a + 12));
    if (zero(a, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0) /* ::ffff:0:a.b.c.d SIIT */
        return svc_ssrf_v4_blocked(v4_at(a + 12));
    if (memcmp(a, nat64, 12) == 0) /* 64:ff9b::a.b.c.d well-known NAT64 prefix */
        return svc_ssrf_v4_blocked(v4_at(a + 12));
    if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1) /* 64:ff9b:1::/48 */
        return "nat64-local";
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 2002:a.b.c.d::/48 */
        return svc_ssrf_v4_blocked(v4_at(a + 2));
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) /* Teredo 2001::/32: the server is anywhere */
        return "teredo";
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) /* 2001:db8::/32 */
        return "documentation";
    if (a[0] == 0x01 && zero(a + 1, 7)) /* 100::/64 discard */
        return "reserved";
    if ((a[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return "private";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 */
        return "link-local";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) /* fec0::/10 site-local (deprecated) */
        return "private";
    if (a[0] == 0xff) /* ff00::/8 */
        return "multicast";
    if (zero(a, 8)) /* the rest of ::/64 (incl. ::/96 forms not matched above) */
        return "reserved";
    return NULL;
}

const char *svc_ssrf_blocked(const struct sockaddr *sa, socklen_t len)
{
    if (sa == NULL)
        return "family";
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        return svc_ssrf_v4_blocked(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        return svc_ssrf_v6_blocked(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return "family";
}
