/*
 * batch_progress: formats the run's counters for people. On a terminal one line is redrawn in
 * place ("\r" + erase) a few times a second; elsewhere (a log, a pipe) plain lines are printed
 * at a slower period chosen by the caller. Rates are over the whole run: images/s counts images
 * processed (ok or failed, not skipped), MB/s counts input bytes read.
 *
 * Main thread only; output under run->err_lock, shared with the workers' error lines.
 */
#include "batch_progress.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

static double svc_batch_elapsed_s(const svc_batch_run *run)
{
    return (double)(g_get_monotonic_time() - run->stats.start_us) / 1e6;
}

static void svc_batch_fmt_duration(double s, char *buf, size_t len)
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

static void svc_batch_fmt_bytes(uint64_t b, char *buf, size_t len)
{
    if (b < 1000 * 1000)
        snprintf(buf, len, "%.1f kB", (double)b / 1e3);
    else if (b < UINT64_C(1000) * 1000 * 1000)
        snprintf(buf, len, "%.1f MB", (double)b / 1e6);
    else
        snprintf(buf, len, "%.2f GB", (double)b / 1e9);
}

void svc_batch_progress_show(svc_batch_run *run)
{
    svc_batch_stats *st = &run->stats;
    size_t done = atomic_load(&st->done), failed = atomic_load(&st->failed), skipped = atomic_load(&st->skipped);
    size_t ran = done - skipped;
    double secs = svc_batch_elapsed_s(run);
    double rate = secs > 0 ? (double)ran / secs : 0;
    double mbs = secs > 0 ? (double)atomic_load(&st->bytes_in) / 1e6 / secs : 0;
    char eta[32];
    if (rate > 0)
        svc_batch_fmt_duration((double)(st->total - done) / rate, eta, sizeof(eta));
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

void svc_batch_progress_clear(svc_batch_run *run)
{
    if (!run->tty)
        return;
    pthread_mutex_lock(&run->err_lock);
    fputs("\r\033[K", stderr);
    fflush(stderr);
    pthread_mutex_unlock(&run->err_lock);
}

void svc_batch_progress_summary(svc_batch_run *run, bool interrupted)
{
    svc_batch_stats *st = &run->stats;
    size_t ok = atomic_load(&st->ok), failed = atomic_load(&st->failed), skipped = atomic_load(&st->skipped);
    size_t not_started = st->total - atomic_load(&st->done);
    double secs = svc_batch_elapsed_s(run);
    double rate = secs > 0 ? (double)(ok + failed) / secs : 0;
    char wall[48] = "", in[32], out[32];
    if (secs >= 60) {
        wall[0] = ' ';
        wall[1] = '(';
        svc_batch_fmt_duration(secs, wall + 2, sizeof(wall) - 3);
        strcat(wall, ")");
    }
    svc_batch_fmt_bytes(atomic_load(&st->bytes_in), in, sizeof(in));
    svc_batch_fmt_bytes(atomic_load(&st->bytes_out), out, sizeof(out));

    pthread_mutex_lock(&run->err_lock);
    if (run->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "imgpipe batch: %s%zu image%s: %zu ok, %zu failed, %zu skipped, %zu not started\n",
            interrupted ? "interrupted: " : "", st->total, st->total == 1 ? "" : "s", ok, failed, skipped, not_started);
    fprintf(stderr, "imgpipe batch: in %s, out %s, wall %.2f s%s, %.1f images/s\n", in, out, secs, wall, rate);
    fflush(stderr);
    pthread_mutex_unlock(&run->err_lock);
}
