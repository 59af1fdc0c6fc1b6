/*
 * test_engine_cancel: a deadline of 100 ms stops a heavy libvips operation (blur sigma 50 on a
 * 2048x1536 RGBA image, seconds of CPU) mid-step, through the eval signal and vips_image_set_kill,
 * and the thread runs the next request whole; a cancelled control stops before work starts; a
 * control with a far deadline changes nothing. Also: pipeline ignore_failure, timings, watermarkimage, trim; the
 * HEIF/AVIF encode budget (x265/libaom cannot be stopped once started) and the deadline checked
 * before such an encode; imaginary's message prefix on the engine's own errors.
 */
#include <sys/resource.h>

#include "engine_util.h"

/* CPU time of the whole process (the calling thread and libvips' workers), ms: the work done,
 * which a loaded machine does not inflate the way it does wall time. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Run spec behind a 100 ms deadline: the deadline error, no output, and the work stopped: under
 * DL_MAX_CPU_MS of CPU (run whole, each spec below costs 3.4-6.6 CPU-s on a 2048x1536 RGBA image)
 * and under DL_MAX_WALL_MS of wall time, generous for a shared machine. A deadline checked only
 * between steps would let the step run whole and fail both bounds; no deadline at all gives rc 0. */
#define DL_DEADLINE_MS 100
#define DL_MAX_CPU_MS 1500.0
#define DL_MAX_WALL_MS 5000.0
static void deadline_stops(const eu_file *f, const char *spec)
{
    pl_result r;
    pl_error e;
    pl_control ctl;
    atomic_init(&ctl.cancelled, 0);
    ctl.deadline_us = g_get_monotonic_time() + DL_DEADLINE_MS * 1000;
    double c0 = cpu_ms();
    int64_t t0 = g_get_monotonic_time();
    int rc = eu_run_full(spec, f->data, f->len, NULL, NULL, &ctl, &r, &e);
    double ms = (g_get_monotonic_time() - t0) / 1000.0, cpu = cpu_ms() - c0;
    ok(rc == -1 && e.code == PL_E_DEADLINE && r.data == NULL && r.len == 0, "%s behind a %d ms deadline: %s, no output (%s)", spec,
       DL_DEADLINE_MS, pl_error_name(e.code), e.message);
    ok(cpu < DL_MAX_CPU_MS && ms < DL_MAX_WALL_MS, "%s: stopped mid-step after %.0f CPU-ms, %.0f ms (bounds %.0f, %.0f)", spec, cpu,
       ms, DL_MAX_CPU_MS, DL_MAX_WALL_MS);
    pl_result_clear(&r);
}

static void test_deadline(void)
{
    eu_file f = eu_read("edge/alpha-blackbug.png");
    pl_result r;
    pl_error e;
    pl_control ctl;
    deadline_stops(&f, "blur?sigma=50");
    deadline_stops(&f, "transform?sharpen=10&sigma=40&type=webp");

    atomic_init(&ctl.cancelled, 1);
    ctl.deadline_us = 0;
    int rc = eu_run_full("resize?width=100", f.data, f.len, NULL, NULL, &ctl, &r, &e);
    ok(rc == -1 && e.code == PL_E_CANCELLED && r.data == NULL, "cancelled control: PL_E_CANCELLED, no output");

    /* the same thread, after two killed runs, runs the next request whole */
    atomic_init(&ctl.cancelled, 0);
    ctl.deadline_us = g_get_monotonic_time() + 60 * 1000 * 1000;
    rc = eu_run_full("resize?width=100", f.data, f.len, NULL, NULL, &ctl, &r, &e);
    ok(rc == 0 && eu_decode(&r).width == 100, "far deadline, after the killed runs: runs to the end");
    ok(r.t.decode_ms >= 0 && r.t.process_ms >= 0 && r.t.encode_ms > 0 && r.in_width == 2048 && r.in_height == 1536 &&
           r.in_format == PL_FMT_PNG,
       "timings (decode %.1f, process %.1f, encode %.1f ms) and input facts", r.t.decode_ms, r.t.process_ms, r.t.encode_ms);
    pl_result_clear(&r);
    eu_free(&f);
}

static void test_pipeline_ignore_failure(void)
{
    eu_file f = eu_read("imaginary/imaginary.jpg");
    pl_result r;
    pl_error e;
    /* [extract out of bounds (ignored), resize width 100, convert png] */
    const char *ops = "pipeline?operations=%5B%7B%22operation%22%3A%22extract%22%2C%22ignore_failure%22%3Atrue%2C%22params%22%3A"
                      "%7B%22areawidth%22%3A5000%2C%22areaheight%22%3A10%7D%7D%2C%7B%22operation%22%3A%22resize%22%2C%22params%22%"
                      "3A%7B%22width%22%3A100%7D%7D%2C%7B%22operation%22%3A%22convert%22%2C%22params%22%3A%7B%22type%22%3A%22png%"
                      "22%7D%7D%5D";
    int rc = eu_run(ops, &f, &r, &e);
    eu_img d = eu_decode(&r);
    ok(rc == 0 && d.width == 100 && d.height == 135 && r.format == PL_FMT_PNG, "pipeline: failed step skipped with ignore_failure");
    pl_result_clear(&r);
    const char *ops2 = "pipeline?operations=%5B%7B%22operation%22%3A%22extract%22%2C%22params%22%3A%7B%22areawidth%22%3A5000%2C%"
                       "22areaheight%22%3A10%7D%7D%2C%7B%22operation%22%3A%22resize%22%2C%22params%22%3A%7B%22width%22%3A100%7D%"
                       "7D%5D";
    rc = eu_run(ops2, &f, &r, &e);
    ok(rc == -1 && e.code == PL_E_OPERATION, "pipeline: failed step without ignore_failure fails the request");
    pl_result_clear(&r);
    eu_free(&f);
}

static void test_watermark_image(void)
{
    eu_file f = eu_read("imaginary/imaginary.jpg");
    eu_file ov = eu_read("edge/pngsuite-basn6a08-rgba.png");
    pl_result r, plain;
    pl_error e;
    pl_plan plan;
    pl_plan_parse_string("watermarkimage?left=10&top=20&opacity=1&type=png&image=http://x/y.png", &plan, &e);
    pl_input in = {.data = f.data, .len = f.len, .overlay = ov.data, .overlay_len = ov.len};
    pl_limits lim;
    pl_limits_default(&lim);
    int rc = pl_run(&plan, &in, &lim, NULL, &r, &e);
    eu_img d = eu_decode(&r);
    eu_run("convert?type=png", &f, &plain, &e);
    double diff = eu_diff(&r, &plain);
    ok(rc == 0 && d.width == 550 && d.height == 740 && d.bands == 3 && diff > 0, "watermarkimage: same size, pixels changed (%.3f)",
       diff);
    pl_result_clear(&r);
    pl_result_clear(&plain);
    in.overlay = NULL;
    in.overlay_len = 0;
    rc = pl_run(&plan, &in, &lim, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_MISSING_PARAM, "watermarkimage without a second image: %s", e.message);
    eu_free(&ov);
    eu_free(&f);
}

static void test_trim(void)
{
    /* a 100x80 white canvas with a 30x20 dark block at (40,25) */
    VipsImage *t[4] = {0};
    void *buf = NULL;
    size_t len = 0;
    vips_black(&t[0], 30, 20, "bands", 3, NULL);
    vips_embed(t[0], &t[1], 40, 25, 100, 80, "extend", VIPS_EXTEND_WHITE, NULL);
    vips_pngsave_buffer(t[1], &buf, &len, NULL);
    for (int i = 0; i < 4; i++)
        if (t[i])
            g_object_unref(t[i]);
    pl_result r;
    pl_error e;
    int rc = eu_run_full("transform?trim=10&type=png", buf, len, NULL, NULL, NULL, &r, &e);
    eu_img d = eu_decode(&r);
    ok(rc == 0 && d.width == 30 && d.height == 20, "trim cuts to the 30x20 block (got %dx%d)", d.width, d.height);
    pl_result_clear(&r);
    rc = eu_run_full("transform?trim=10&w=60&type=png", buf, len, NULL, NULL, NULL, &r, &e);
    d = eu_decode(&r);
    ok(rc == 0 && d.width == 30 && d.height == 20, "trim then w=60 without enlarge keeps 30x20 (got %dx%d)", d.width, d.height);
    pl_result_clear(&r);
    rc = eu_run_full("transform?trim=10&w=15&type=png", buf, len, NULL, NULL, NULL, &r, &e);
    d = eu_decode(&r);
    ok(rc == 0 && d.width == 15 && d.height == 10, "trim then w=15: sizes from the trimmed image (got %dx%d)", d.width, d.height);
    pl_result_clear(&r);
    g_free(buf);
}

/* pl_run from several threads at once: every answer correct, each thread says goodbye to libvips. */
typedef struct {
    const eu_file *f;
    const char *spec;
    int want_w, want_h, good;
} worker;

static gpointer worker_run(gpointer data)
{
    worker *w = data;
    for (int i = 0; i < 4; i++) {
        pl_result r;
        pl_error e;
        int rc = eu_run(w->spec, w->f, &r, &e);
        eu_img d = eu_decode(&r);
        if (rc == 0 && d.width == w->want_w && d.page_height == w->want_h)
            w->good++;
        pl_result_clear(&r);
    }
    pl_engine_thread_done();
    return NULL;
}

static void test_threads(void)
{
    eu_file jpg = eu_read("imaginary/imaginary.jpg"), gif = eu_read("edge/animated-loop3.gif");
    worker ws[4] = {{&jpg, "resize?width=200", 200, 269, 0},
                    {&jpg, "transform?w=100&h=100&fit=cover&type=webp", 100, 100, 0},
                    {&gif, "resize?width=100", 100, 77, 0},
                    {&jpg, "watermark?text=hello&width=300", 300, 404, 0}};
    GThread *th[4];
    for (int i = 0; i < 4; i++)
        th[i] = g_thread_new("w", worker_run, &ws[i]);
    int good = 0;
    for (int i = 0; i < 4; i++) {
        g_thread_join(th[i]);
        good += ws[i].good;
    }
    is_int(good, 16, "4 threads x 4 runs at once, all correct");
    eu_free(&jpg);
    eu_free(&gif);
}

/* An 8.5 MP HEIC kept as HEIF would cost ~6 s of x265 that no deadline can stop. */
static void test_heif_budget(void)
{
    eu_file f = eu_read("edge/iphone-displayp3.heic");
    pl_result r;
    pl_error e;
    int64_t t0 = g_get_monotonic_time();
    int rc = eu_run("autorotate", &f, &r, &e);
    double ms = (g_get_monotonic_time() - t0) / 1000.0;
    eu_img d = eu_decode(&r);
    ok(rc == 0 && r.format == PL_FMT_JPEG && d.width == 2566 && d.height == 3313 && ms < 15000,
       "autorotate of a 2566x3313 HEIC (no type): JPEG instead of an unstoppable x265 encode (%.0f ms)", ms);
    pl_result_clear(&r);

    rc = eu_run("transform?type=heif", &f, &r, &e);
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS && strstr(e.message, "max-heif-encode-ms") != NULL && r.data == NULL,
       "type=heif at 8.5 MP asked explicitly: refused, naming the setting: %s", e.message);
    rc = eu_run("transform?w=400&type=avif&effort=9", &f, &r, &e);
    ok(rc == 0 && r.format == PL_FMT_AVIF && eu_decode(&r).width == 400, "AVIF effort 9 at 400 px wide: within the budget");
    pl_result_clear(&r);
    rc = eu_run("transform?w=1200&type=avif&effort=9", &f, &r, &e);
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS && strstr(e.message, "lower effort") != NULL,
       "AVIF effort 9 at 1200x1549: over the budget: %s", e.message);
    rc = eu_run("resize?width=800", &f, &r, &e);
    ok(rc == 0 && r.format == PL_FMT_HEIF && eu_decode(&r).width == 800, "resize of a HEIC to 800 wide: stays HEIF");
    pl_result_clear(&r);

    pl_limits lim;
    pl_limits_default(&lim);
    lim.max_heif_encode_ms = 10;
    rc = eu_run_full("resize?width=800", f.data, f.len, NULL, &lim, NULL, &r, &e);
    ok(rc == 0 && r.format == PL_FMT_JPEG && eu_decode(&r).width == 800, "budget of 10 ms: the HEIC comes out as JPEG");
    pl_result_clear(&r);
    eu_free(&f);

    /* the PNG with alpha falls back to PNG, not JPEG */
    eu_file a = eu_read("edge/alpha-blackbug.png");
    eu_file av = eu_read("edge/example.avif");
    rc = eu_run_full("transform?type=avif", a.data, a.len, NULL, &lim, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_TOO_MANY_PIXELS, "type=avif asked, over a 10 ms budget: refused");
    rc = eu_run_full("flip", av.data, av.len, NULL, &lim, NULL, &r, &e);
    ok(rc == 0 && (r.format == PL_FMT_JPEG || r.format == PL_FMT_PNG), "AVIF input kept as AVIF over the budget: %s out",
       pl_format_name(r.format));
    pl_result_clear(&r);

    /* the deadline fires while the pixels are computed: x265/libaom never start */
    pl_control ctl;
    atomic_init(&ctl.cancelled, 0);
    ctl.deadline_us = g_get_monotonic_time() + 100 * 1000;
    t0 = g_get_monotonic_time();
    double c0 = cpu_ms();
    rc = eu_run_full("transform?sharpen=10&sigma=40&type=avif&effort=0", a.data, a.len, NULL, NULL, &ctl, &r, &e);
    ms = (g_get_monotonic_time() - t0) / 1000.0;
    double cpu = cpu_ms() - c0;
    ok(rc == -1 && e.code == PL_E_DEADLINE && r.data == NULL && cpu < DL_MAX_CPU_MS && ms < DL_MAX_WALL_MS,
       "AVIF encode behind a 100 ms deadline: stopped before the encoder, %.0f CPU-ms, %.0f ms", cpu, ms);
    eu_free(&a);
    eu_free(&av);
}

/* The engine's own errors on imaginary's routes carry imaginary's prefix, as the grammar's do. */
static void test_imaginary_messages(void)
{
    eu_file f = eu_read("imaginary/imaginary.jpg");
    static const char prefix[] = "Error while processing the image: ";
    static const struct {
        const char *spec, *accept, *want;
    } cases[] = {
        {"convert?type=auto", "text/html", "Missing required param: type"},
        {"watermarkimage", NULL, "Missing required param: image"},
        {"pipeline?operations=%5B%7B%22operation%22%3A%22convert%22%2C%22params%22%3A%7B%22type%22%3A%22auto%22%7D%7D%5D",
         "text/html", "Missing required param: type"},
        {"extract?top=10&left=10&areawidth=5000&areaheight=10", NULL, "extract_area"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pl_result r;
        pl_error e;
        int rc = eu_run_full(cases[i].spec, f.data, f.len, cases[i].accept, NULL, NULL, &r, &e);
        ok(rc == -1 && e.code != PL_E_INTERNAL && strncmp(e.message, prefix, sizeof(prefix) - 1) == 0 &&
               strstr(e.message, cases[i].want) != NULL,
           "%.40s: \"%s\"", cases[i].spec, e.message);
    }
    pl_result r;
    pl_error e;
    int rc = eu_run_full("transform?type=auto", f.data, f.len, "text/html", NULL, NULL, &r, &e);
    ok(rc == -1 && e.code == PL_E_NOT_ACCEPTABLE && strncmp(e.message, prefix, sizeof(prefix) - 1) != 0,
       "transform (not imaginary's): no prefix: %s", e.message);
    eu_free(&f);
}

int main(void)
{
    pl_error err;
    if (pl_engine_init(&(pl_engine_config){.vips_concurrency = 2}, &err) != 0) {
        printf("Bail out! %s\n", err.message);
        return 1;
    }
    test_deadline();
    test_pipeline_ignore_failure();
    test_watermark_image();
    test_trim();
    test_threads();
    test_heif_budget();
    test_imaginary_messages();
    return tap_done();
}
