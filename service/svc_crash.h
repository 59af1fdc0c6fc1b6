/*
 * svc_crash: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT write the signal, the request id the
 * crashing thread was serving (or the last one seen) and a backtrace to stderr, then re-raise
 * with the default action so the exit status and core dump stay those of the signal.
 * svc_crash_set_request() is called by the loop and the workers (thread-local + a global copy).
 */
#ifndef SVC_CRASH_H
#define SVC_CRASH_H

void svc_crash_install(void);
void svc_crash_set_request(const char *request_id);

#endif
