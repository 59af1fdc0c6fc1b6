/*
 * svc_server: `imgpipe serve`, the h2o front end and the bounded worker pool: startup
 * (settings, engine, pool, listeners), the event loop, and graceful shutdown on SIGTERM/SIGINT.
 */
#ifndef SVC_SERVER_H
#define SVC_SERVER_H

/* argv[0] is "serve". Returns the process exit status (0 after a clean shutdown, 1 on a runtime
 * failure, 2 on a bad setting). */
int svc_serve_main(int argc, char **argv);

#endif
