/*
 * batch_progress: formats the run's counters for people. On a terminal one line is redrawn in
 * place ("\r" + erase) a few times a second; elsewhere (a log, a pipe) plain lines are printed
 * at a slower period chosen by the caller. Rates are over the whole run: images/s counts images
 * processed (ok or failed, not skipped), MB/s counts input bytes read.
 *
 * Main thread only; output under run->err_lock, shared with the workers' error lines.
 *
 * Also libvips' warnings, prefixed with the file they are about. DESIGN (threads): a worker
 * thread names its file in a thread-local and in a slot of a mutex-guarded table
 * (batch_log_file); the GLib handler runs on whatever thread warned: the worker itself
 * (header reads) or one of libvips' pool threads (pixels). It names the thread-local file, else
 * the one file in progress, else every file in progress ("one of A, B").
 */
#include "batch_progress.h"

#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define BATCH_LOG_SLOTS 256 /* -j is at most 256 */

static __thread int batch_log_slot = -1;
static __thread const char *batch_log_path;
static pthread_mutex_t batch_log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *batch_log_files[BATCH_LOG_SLOTS];

void batch_log_file(const char *path)
{
    pthread_mutex_lock(&batch_log_lock);
    if (batch_log_slot >= 0)
        batch_log_files[batch_log_slot] = NULL;
    batch_log_slot = -1;
    for (int i = 0; path != NULL && i < BATCH_LOG_SLOTS; i++)
        if (batch_log_files[i] == NULL) {
            batch_log_files[i] = path;
            batch_log_slot = i;
            break;
        }
    batch_log_path = path;
    pthread_mutex_unlock(&batch_log_lock);
}

static void batch_log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user)
{
    batch_run *run = user;
    char who[1024];
    size_t pos = 0;
    int n = 0;
    if (!(level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)))
        return; /* libvips' info/debug chatter */
    pthread_mutex_lock(&batch_log_lock);
    if (batch_log_path != NULL) {
        snprintf(who, sizeof(who), "%s", batch_log_path);
    } else {
        const char *one = NULL;
        who[0] = '\0';
        for (int i = 0; i < BATCH_LOG_SLOTS; i++) {
            if (batch_log_files[i] == NULL)
                continue;
            one = batch_log_files[i];
            if (pos < sizeof(who))
                pos += (size_t)snprintf(who + pos, sizeof(who) - pos, "%s%s", n ? ", " : "", one);
            n++;
        }
        if (n == 0)
            snprintf(who, sizeof(who), "(no file in progress)");
        else if (n == 1)
            snprintf(who, sizeof(who), "%s", one);
    }
    pthread_mutex_unlock(&batch_log_lock);
    pthread_mutex_lock(&run->err_lock);
    if (run->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "imgpipe batch: %s%s: warning: %s: %s\n", n > 1 ? "one of " : "", who, domain ? domain : "glib",
            message ? message : "");
    fflush(stderr);
    pthread_mutex_unlock(&run->err_lock);
}

void batch_log_capture(batch_run *run)
{
    /* prepended to the domain's handlers, so it wins over pl_engine_init's plain one */
    g_log_set_handler("VIPS", G_LOG_LEVEL_MASK, batch_log_handler, run);
    g_log_set_handler(NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL, batch_log_handler, run);
}

static double batch_elapsed_s(const batch_run *run)
{
    return (double)(g_get_monotonic_time() - run->stats.start_us) / 1e6;
}

static void batch_fmt_duration(double s, char *buf, size_t len)
{
    if (s < 0 || s > 360000) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static void batch_fmt_bytes(uint64_t b, char *buf, size_t len)
{
    if (b < 1000 * 1000)
        snprintf(buf, len, "%.1f kB", (double)b / 1e3);
    else if (b < UINT64_C(1000) * 1000 * 1000)
        snprintf(buf, len, "%.1f MB", (double)b / 1e6);
    else
        snprintf(buf, len, "%.2f GB", (double)b / 1e9);
}

void batch_progress_show(batch_run *run)
{
    batch_stats *st = &run->stats;
    size_t done = atomic_load(&st->done), failed = atomic_load(&st->failed), skipped = atomic_load(&st->skipped);
    size_t ran = done - skipped;
    double secs = batch_elapsed_s(run);
    double rate = secs > 0 ? (double)ran / secs : 0;
    double mbs = secs > 0 ? (double)atomic_load(&st->bytes_in) / 1e6 / secs : 0;
    char eta[32];
    if (rate > 0)
        batch_fmt_duration((double)(st->total - done) / rate, eta, sizeof(eta));
    else
        snprintf(eta, sizeof(eta), "?");
    int pct = st->total ? (int)(100.0 * (double)done / (double)st->total) : 100;

    pthread_mutex_lock(&run->err_lock);
    if (run->tty)
        fprintf(stderr, "\r\033[K%zu/%zu %d%% | %.1f images/s | %.1f MB/s | %zu failed | ETA %s", done, st->total, pct, rate, mbs,
                failed, eta);
    else
        fprintf(stderr, "imgpipe batch: progress %zu/%zu (%d%%), %.1f images/s, %.1f MB/s, %zu failed, ETA %s\n", done, st->total,
                pct, rate, mbs, failed, eta);
    fflush(stderr);
    pthread_mutex_unlock(&run->err_lock);
}

void batch_progress_clear(batch_run *run)
{
    if (!run->tty)
        return;
    pthread_mutex_lock(&run->err_lock);
    fputs("\r\033[K", stderr);
    fflush(stderr);
    pthread_mutex_unlock(&run->err_lock);
}

void batch_progress_summary(batch_run *run, bool interrupted)
{
    batch_stats *st = &run->stats;
    size_t ok = atomic_load(&st->ok), failed = atomic_load(&st->failed), skipped = atomic_load(&st->skipped);
    size_t not_started = st->total - atomic_load(&st->done);
    double secs = batch_elapsed_s(run);
    double rate = secs > 0 ? (double)(ok + failed) / secs : 0;
    char wall[48] = "", in[32], out[32];
    if (secs >= 60) {
        wall[0] = ' ';
        wall[1] = '(';
        batch_fmt_duration(secs, wall + 2, sizeof(wall) - 3);
        strcat(wall, ")");
    }
    batch_fmt_bytes(atomic_load(&st->bytes_in), in, sizeof(in));
    batch_fmt_bytes(atomic_load(&st->bytes_out), out, sizeof(out));

    pthread_mutex_lock(&run->err_lock);
    if (run->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "imgpipe batch: %s%zu image%s: %zu ok, %zu failed, %zu skipped, %zu not started\n",
            interrupted ? "interrupted: " : "", st->total, st->total == 1 ? "" : "s", ok, failed, skipped, not_started);
    fprintf(stderr, "imgpipe batch: in %s, out %s, wall %.2f s%s, %.1f images/s\n", in, out, secs, wall, rate);
    fflush(stderr);
    pthread_mutex_unlock(&run->err_lock);
}
