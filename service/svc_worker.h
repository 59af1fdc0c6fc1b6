/*
 * svc_worker: the worker process, `imgpipe worker` (internal: started by svc_proc, never by
 * hand). It inherits the socket to its pool thread as fd 3 and the shared control page as fd 4,
 * closes every other descriptor, starts libvips, enters the sandbox (svc_sandbox) and then runs
 * one job at a time (svc_wproto.h) until the socket closes. It dies with its parent
 * (PR_SET_PDEATHSIG) and hands freed image memory back after 1 s without work.
 *
 * Test switch: with IMGPIPE_WORKER_TEST_FAULTS=1 in its environment, an input that starts with
 * "IMGPIPE-TEST-HANG" spins forever outside libvips and one that starts with
 * "IMGPIPE-TEST-CRASH" dies of SIGSEGV: the hard deadline and crash containment are tested with
 * these. Off unless the variable is set.
 */
#ifndef SVC_WORKER_H
#define SVC_WORKER_H

#define SVC_WORKER_SOCK_FD 3
#define SVC_WORKER_CTL_FD 4

int svc_worker_main(int argc, char **argv);

#endif
