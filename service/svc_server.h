/*
 * svc_server: `imgpipe serve`, the h2o front end and the bounded worker pool.
 */
#ifndef SVC_SERVER_H
#define SVC_SERVER_H

/* argv[0] is "serve". Returns the process exit status. */
int svc_serve_main(int argc, char **argv);

#endif
