/*
 * test_engine_matrix: every edge and photo fixture through every operation type: each
 * run either succeeds with an output that decodes to the size pl_result reports, or fails with an
 * expected code (animations and smart crops; allowed-type policy; for tests/fixtures/bad an
 * input error); never a crash, never an internal error. Operations carry a small width so the whole matrix stays quick.
 */
#include <dirent.h>

#include "engine_util.h"

static const char *ops[] = {
    "resize?width=100",
    "fit?width=100&height=100",
    "crop?width=64&height=64&gravity=south",
    "smartcrop?width=64&height=64",
    "thumbnail?width=64&height=48",
    "enlarge?width=64&height=64",
    "extract?areawidth=1&areaheight=1&top=0&left=0",
    "zoom?factor=1&width=50",
    "rotate?rotate=90&width=100",
    "flip?width=100",
    "flop?width=100",
    "blur?sigma=1&width=100",
    "watermark?text=imgpipe&width=100",
    "convert?type=webp&width=100",
    "transform?w=80&h=80&fit=cover&type=auto",
    "transform?w=60&trim=20&sharpen=1&grayscale=true&type=png",
    "info",
};

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir, bool bad)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s", tap_fixture(dir));
    DIR *d = opendir(path);
    if (d == NULL) {
        ok(0, "open %s", path);
        return;
    }
    char *names[128];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 128)
        if (de->d_name[0] != '.' && !g_str_has_suffix(de->d_name, ".md") && !g_str_has_suffix(de->d_name, ".tsv"))
            names[n++] = g_strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp);
    for (int i = 0; i < n; i++) {
        char rel[512];
        snprintf(rel, sizeof(rel), "%s/%s", dir, names[i]);
        eu_file f = eu_read(rel);
        pl_format fmt = pl_sniff(f.data, f.len);
        int good = 0, total = 0;
        int64_t t0 = g_get_monotonic_time();
        /* big inputs (HEVC decode of 8 MP takes ~0.5 s here) get every fifth operation only */
        pl_probe_info pi = {0};
        pl_error pe;
        bool heavy = pl_probe(f.data, f.len, &pi, &pe) == 0 && (uint64_t)pi.width * pi.height > 2500000;
        for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
            if (heavy && o % 5 != 0)
                continue;
            pl_result r;
            pl_error e;
            total++;
            int rc = eu_run_full(ops[o], f.data, f.len, "image/webp,*/*", NULL, NULL, &r, &e);
            if (rc == 0) {
                eu_img im = strcmp(ops[o], "info") == 0 ? (eu_img){.ok = 1} : eu_decode(&r);
                bool size_ok = strcmp(ops[o], "info") == 0 || (im.width == r.width && im.page_height == r.height);
                if (im.ok && size_ok && r.len > 0)
                    good++;
                else
                    diag("%s %s: output does not match (%dx%d vs %dx%d)", rel, ops[o], im.width, im.page_height, r.width, r.height);
            } else if (e.code == PL_E_ANIMATED || (e.code == PL_E_UNSUPPORTED_INPUT && fmt == PL_FMT_JP2K) ||
                       (e.code == PL_E_TOO_MANY_PIXELS && strstr(e.message, "allows up to") != NULL) ||
                       (bad && (e.code == PL_E_EMPTY || e.code == PL_E_UNSUPPORTED_INPUT || e.code == PL_E_DECODE ||
                                e.code == PL_E_TOO_MANY_PIXELS))) {
                good++; /* documented refusals: animations, JPEG 2000 not allowed, a side over the format's limit */
            } else {
                diag("%s %s: %s: %s (%s)", rel, ops[o], pl_error_name(e.code), e.message, e.detail);
            }
            pl_result_clear(&r);
        }
        ok(good == total, "%s: %d/%d operations answered as documented (%.0f ms)", rel, good, total,
           (g_get_monotonic_time() - t0) / 1000.0);
        eu_free(&f);
        g_free(names[i]);
    }
}

int main(void)
{
    pl_error err;
    if (pl_engine_init(&(pl_engine_config){.vips_concurrency = 2}, &err) != 0) {
        printf("Bail out! %s\n", err.message);
        return 1;
    }
    run_dir("edge", false);
    run_dir("photos", false);
    run_dir("imaginary", false);
    run_dir("bad", true); /* input errors only: never an operation or internal error, never a crash */
    return tap_done();
}
