/*
 * svc_server: `imgpipe serve`, the h2o front end and the bounded worker pool: startup
 * (settings, engine, pool, listeners), the event loop, and graceful shutdown on SIGTERM/SIGINT.
 */
#ifndef SVC_SERVER_H
#define SVC_SERVER_H

#include <stddef.h>

#include "svc_config.h"

/* argv[0] is "serve". Returns the process exit status (0 after a clean shutdown, 1 on a runtime
 * failure, 2 on a bad setting). */
int svc_serve_main(int argc, char **argv);

/* 1 when addr (a listen HOST:PORT) can only be reached from this host: 127.0.0.0/8, ::1,
 * ::ffff:127.x.x.x or "localhost"; 0 for anything else (an empty host is every interface). */
int svc_server_addr_is_loopback(const char *addr);

/* The startup warning for an open service: when no API key and no URL signature key are set and
 * a listen address is not loopback, writes the message into buf and returns 1; else 0. */
int svc_server_open_warning(const svc_config *cfg, char *buf, size_t len);

#endif
