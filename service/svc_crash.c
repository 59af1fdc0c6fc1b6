/*
 * svc_crash: the fatal-signal handler. Only async-signal-safe calls in the handler: write(2),
 * backtrace_symbols_fd (backtrace() is called once at install time so that libgcc is already
 * loaded), signal(), raise(). The request ids are fixed-size buffers copied with memcpy; a torn
 * read in the handler can garble an id, never crash.
 */
#include "svc_crash.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define ID_MAX 72

static __thread char thread_request[ID_MAX];
static char last_request[ID_MAX];

void svc_crash_set_request(const char *request_id)
{
    size_t n = strlen(request_id);
    if (n >= ID_MAX)
        n = ID_MAX - 1;
    memcpy(thread_request, request_id, n);
    thread_request[n] = '\0';
    if (n > 0) {
        memcpy(last_request, request_id, n);
        last_request[n] = '\0';
    }
}

static void say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void on_fatal(int sig)
{
    void *frames[64];
    int n;
    say("{\"level\":\"fatal\",\"msg\":\"imgpipe: fatal signal ");
    say(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE" : sig == SIGILL ? "SIGILL" : "SIGABRT");
    say("\",\"request_id\":\"");
    say(thread_request[0] ? thread_request : "");
    say("\",\"last_request_id\":\"");
    say(last_request);
    say("\"}\nbacktrace:\n");
    n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

void svc_crash_install(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    void *warm[2];
    struct sigaction sa;
    backtrace(warm, 2);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}
