/*
 * svc_ssrf: which network addresses the URL source may connect to. A fetch is refused when any
 * address its host name resolves to is loopback, private, shared (CGNAT), link-local (cloud
 * metadata included), multicast, unspecified, broadcast, reserved or documentation space, in
 * IPv4 or IPv6, including IPv4 written inside IPv6 (mapped, compatible, SIIT, NAT64 64:ff9b::/96,
 * 6to4). The operator can lift the rule with allow-private-sources.
 *
 * Pure functions, any thread. The rules and their tests: docs/hardening.md "URL source".
 */
#ifndef SVC_SSRF_H
#define SVC_SSRF_H

#include <stdint.h>
#include <sys/socket.h>

/* NULL when the address may be fetched, else a short reason ("loopback", "private" …).
 * v4 is in host byte order; v6 is the 16 address bytes. */
const char *svc_ssrf_v4_blocked(uint32_t v4);
const char *svc_ssrf_v6_blocked(const uint8_t v6[16]);
/* AF_INET / AF_INET6 socket addresses; any other family is blocked ("family"). */
const char *svc_ssrf_blocked(const struct sockaddr *sa, socklen_t len);

#endif
