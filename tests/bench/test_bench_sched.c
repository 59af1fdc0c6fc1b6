/*
 * test_bench_sched: the open-loop schedule's intended send times (suite unit), plus the workload
 * grammar's weighted cycle and the loopback rule, which are pure too.
 */
#include <string.h>

#include "../tap.h"
#include "bench_run.h"
#include "bench_sched.h"
#include "bench_workload.h"

static void test_sched(void)
{
    int64_t t[2000];
    size_t n;
    is_int(bench_sched_window(1000, 100, 1000, 1001000, t, 2000, &n), 0, "window ok");
    is_int(n, 100, "100 req/s over [start, start+1 s): 100 sends");
    is_int(t[0], 1000, "first send at the start");
    int even = 1;
    for (size_t i = 1; i < n; i++)
        even &= t[i] - t[i - 1] == 10000;
    ok(even, "constant 10 ms spacing");
    is_int(t[99], 1000 + 990000, "last at start + 990 ms");

    /* non-integer interval: 3 req/s, times rounded to the microsecond from the index (no drift) */
    is_int(bench_sched_intended_us(0, 3, 1), 333333, "3 req/s: #1 at 333333 us");
    is_int(bench_sched_intended_us(0, 3, 2), 666667, "3 req/s: #2 at 666667 us");
    is_int(bench_sched_intended_us(0, 3, 3000000), 1000000000000LL, "3 req/s: #3e6 exactly at 1e6 s (no drift)");

    /* due counts agree with the times, at the edges */
    is_int(bench_sched_due(0, 100, -1), 0, "nothing due before start");
    is_int(bench_sched_due(0, 100, 0), 1, "one due at start");
    is_int(bench_sched_due(0, 100, 9999), 1, "still one at 9.999 ms");
    is_int(bench_sched_due(0, 100, 10000), 2, "two at 10 ms");
    is_int(bench_sched_due(0, 3, 666666), 2, "3 req/s: two due just before #2");
    is_int(bench_sched_due(0, 3, 666667), 3, "3 req/s: three due at #2");

    /* a window in the middle: the warm-up excluded */
    is_int(bench_sched_window(0, 10, 2000000, 3000000, t, 2000, &n), 0, "middle window ok");
    is_int(n, 10, "10 req/s over 1 s after a 2 s warm-up: 10 sends");
    is_int(t[0], 2000000, "first at the window start");
    is_int(t[9], 2900000, "last at 2.9 s");
    is_int(bench_sched_window(0, 10, 0, 10000000, t, 5, &n), 0, "capped window ok");
    is_int(n, 5, "cap respected");
    is_int(bench_sched_window(0, 0, 0, 1, t, 5, &n), -1, "rate 0 refused");
}

static void test_workload(void)
{
    bench_workload w;
    bench_error err = {{0}};
    int rc = bench_workload_parse_text(
        "mix", "# a mix\n3 fit?width=800&height=800 jpeg\n\n1 transform?w=512&h=512&fit=cover&type=png png  # alpha\n", &w, &err);
    is_int(rc, 0, "workload text parses");
    if (rc != 0) {
        diag("%s", err.message);
        return;
    }
    is_int(w.n, 2, "two ops");
    is_str(w.ops[0].name, "fit", "op name");
    is_str(w.ops[0].query, "width=800&height=800", "op query");
    is_str(w.ops[1].type, "png", "input type");
    is_int(w.cycle, 4, "cycle = sum of weights");
    ok(w.order[0] == 0 && w.order[1] == 0 && w.order[2] == 1 && w.order[3] == 0, "weights 3:1 interleave as a a b a");

    static uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xE0}, png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    bench_image ims[4] = {
        {.name = "a.jpg", .data = jpg, .len = sizeof(jpg)},
        {.name = "b.png", .data = png, .len = sizeof(png)},
        {.name = "c.jpg", .data = jpg, .len = sizeof(jpg)},
        {.name = "d.jpg", .data = jpg, .len = sizeof(jpg)},
    };
    for (int i = 0; i < 4; i++)
        ims[i].type = bench_corpus_sniff(ims[i].data, ims[i].len);
    is_str(ims[1].type, "png", "sniff png");
    bench_corpus c = {.images = ims, .n = 4};
    is_int(bench_workload_bind(&w, &c, &err), 0, "bind");
    is_int(w.ops[0].n_inputs, 3, "jpeg op gets the 3 JPEGs");
    size_t op, im, prev = 99;
    int jpeg_ok = 1, png_ok = 1, differ = 1;
    for (uint64_t i = 0; i < 400; i++) {
        bench_workload_pick(&w, i, &op, &im);
        if (op == 0)
            jpeg_ok &= strcmp(ims[im].type, "jpeg") == 0;
        else
            png_ok &= im == 1;
        if (op == 0 && prev != 99)
            differ &= im != prev;
        if (op == 0)
            prev = im;
    }
    ok(jpeg_ok && png_ok, "each op only gets inputs of its type");
    ok(differ, "consecutive requests of one op carry different images");
    bench_workload_free(&w);

    ok(bench_workload_parse_text("bad", "0 fit?width=1\n", &w, &err) == -1 && strstr(err.message, "weight"), "weight 0 refused: %s",
       err.message);
    ok(bench_workload_parse_text("bad", "1 fit?text=a b\n", &w, &err) == -1, "space in query refused (3 fields, not a type)");
    ok(bench_workload_parse("fit?text=a b", &w, &err) == -1 && strstr(err.message, "percent-encode"), "space refused: %s",
       err.message);
    ok(bench_workload_parse_text("bad", "# nothing\n", &w, &err) == -1, "empty workload refused");
}

static void test_url(void)
{
    bench_error err = {{0}};
    is_int(bench_url_check("http://127.0.0.1:8080", false, &err), 0, "127.0.0.1 allowed");
    is_int(bench_url_check("http://[::1]:8080/", false, &err), 0, "::1 allowed");
    is_int(bench_url_check("http://127.3.4.5:1", false, &err), 0, "127/8 allowed");
    ok(bench_url_check("http://10.1.2.3:8080", false, &err) == -1 && strstr(err.message, "--allow-remote"),
       "10.1.2.3 refused without --allow-remote: %s", err.message);
    is_int(bench_url_check("http://10.1.2.3:8080", true, &err), 0, "10.1.2.3 allowed with --allow-remote");
    ok(bench_url_check("ftp://127.0.0.1/", false, &err) == -1, "ftp refused");
    ok(bench_url_check("http://127.0.0.1:8080/?a=1", false, &err) == -1, "query in base URL refused");
}

int main(void)
{
    test_sched();
    test_workload();
    test_url();
    return tap_done();
}
