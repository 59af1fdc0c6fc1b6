/*
 * svc_health: liveness and readiness bodies. /health keeps imaginary's keys (MB with two
 * decimals) mapped onto what a C process has: allocatedMemory = libvips tracked memory now,
 * totalAllocatedMemory and maxHeapUsage = its high-water mark, heapInUse = RSS,
 * OSMemoryObtained = peak RSS, objectsInUse = libvips tracked allocations, goroutines = threads
 * (workers + loop), completedGCCycles = 0 (no GC). imgpipe's own fields follow.
 */
#include "svc_health.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

#include "svc_admission.h"
#include "svc_pool.h"

#define MB(x) ((double)(x) / (1024.0 * 1024.0))

void svc_health_rss(unsigned long long *rss, unsigned long long *hwm)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *rss = *hwm = 0;
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long kb;
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
            *rss = kb * 1024;
        else if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            *hwm = kb * 1024;
    }
    fclose(f);
}

static size_t clamp(int n, size_t cap)
{
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t svc_health_json(const svc_app *app, char *buf, size_t cap)
{
    unsigned long long rss, hwm;
    size_t mem = vips_tracked_get_mem(), peak = vips_tracked_get_mem_highwater();
    int allocs = vips_tracked_get_allocs();
    int64_t up_s = (g_get_monotonic_time() - app->started_us) / 1000000;
    int workers = svc_pool_workers(app->pool);
    svc_health_rss(&rss, &hwm);
    int n = snprintf(buf, cap,
                     "{\"uptime\":%lld,\"allocatedMemory\":%.2f,\"totalAllocatedMemory\":%.2f,\"goroutines\":%d,"
                     "\"completedGCCycles\":0,\"cpus\":%d,\"maxHeapUsage\":%.2f,\"heapInUse\":%.2f,\"objectsInUse\":%d,"
                     "\"OSMemoryObtained\":%.2f,"
                     "\"imgpipe\":{\"status\":\"%s\",\"workers\":%d,\"busyWorkers\":%d,\"queueDepth\":%d,\"queueCapacity\":%d,"
                     "\"inflight\":%d,\"connections\":%d,\"rssBytes\":%llu,\"peakRssBytes\":%llu,\"vipsMemoryBytes\":%zu,"
                     "\"vipsPeakMemoryBytes\":%zu,\"memoryBudgetBytes\":%llu,\"memoryReservedBytes\":%llu,"
                     "\"memoryWaiting\":%d}}",
                     (long long)up_s, MB(mem), MB(peak), workers + 1, app->cfg->cores, MB(peak), MB(rss), allocs, MB(hwm),
                     atomic_load(&((svc_app *)app)->draining) ? "draining" : "ok", workers, svc_pool_busy(app->pool),
                     svc_pool_depth(app->pool), svc_pool_capacity(app->pool), atomic_load(&((svc_app *)app)->inflight),
                     atomic_load(&((svc_app *)app)->connections), rss, hwm, mem, peak, (unsigned long long)svc_admission_budget(),
                     (unsigned long long)svc_admission_in_use(), svc_admission_waiting());
    return clamp(n, cap);
}

size_t svc_health_versions_json(char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "{\"imgpipe\":\"%s\",\"h2o\":\"%s\",\"libvips\":\"%s\"}", IMGPIPE_VERSION, H2O_VERSION,
                     pl_vips_version());
    return clamp(n, cap);
}

int svc_health_ready_json(const svc_app *app, char *buf, size_t cap, size_t *len)
{
    int status = 200;
    const char *state = "ready";
    if (atomic_load(&((svc_app *)app)->draining)) {
        status = 503;
        state = "draining";
    } else if (svc_pool_full(app->pool)) {
        status = 503;
        state = "saturated";
    }
    *len = clamp(snprintf(buf, cap, "{\"status\":\"%s\",\"queueDepth\":%d,\"queueCapacity\":%d,\"busyWorkers\":%d}", state,
                          svc_pool_depth(app->pool), svc_pool_capacity(app->pool), svc_pool_busy(app->pool)),
                 cap);
    return status;
}
