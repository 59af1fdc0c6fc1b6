/*
 * test_settings: the three commands' settings tables side by side (service/svc_config.c,
 * batch/batch_opts.c, bench/bench_opts.c). A shared limit (common/opt_limits.h) is parsed the same
 * by all three and a bad one gets the same message naming the flag; the shared rows' defaults are
 * the engine's (pl_limits_default); each --help lists every row of its table.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_opts.h"
#include "bench_run.h"
#include "opt_limits.h"
#include "pl_engine.h"
#include "svc_config.h"
#include "tap.h"

/* What the three parsed: the shared limits as the engine sees them, and the deadline in ms. */
typedef struct limits_seen {
    int rc;
    char msg[512];
    pl_limits lim;
    long long deadline_ms;
} limits_seen;

enum { SERVE, BATCH, BENCH, N_CMDS };
static const char *const cmd_names[N_CMDS] = {"serve", "batch", "bench"};

/* Each command's own required arguments, then extra (NULL-terminated). */
static void parse_all(const char *const *extra, limits_seen seen[N_CMDS])
{
    static const char *const pre[N_CMDS][8] = {
        {"serve", NULL},
        {"batch", "--do", "resize?width=10", "-o", "out", "in.jpg", NULL},
        {"imgpipe-bench", "--inprocess", "--corpus", "c", "--do", "resize?width=10", NULL},
    };
    for (int k = 0; k < N_CMDS; k++) {
        char *argv[32];
        int argc = 0;
        for (const char *const *a = pre[k]; *a; a++)
            argv[argc++] = (char *)*a;
        for (const char *const *a = extra; *a && argc < 31; a++)
            argv[argc++] = (char *)*a;
        argv[argc] = NULL;
        limits_seen *s = &seen[k];
        memset(s, 0, sizeof(*s));
        if (k == SERVE) {
            svc_config cfg;
            s->rc = svc_config_load(argc, argv, &cfg, s->msg, sizeof(s->msg));
            s->lim = (pl_limits){.max_input_pixels = (uint64_t)cfg.max_pixels,
                                 .max_output_pixels = (uint64_t)cfg.max_output_pixels,
                                 .max_frames = (int)cfg.max_frames,
                                 .max_heif_encode_ms = (uint32_t)cfg.max_heif_encode_ms};
            pl_error err;
            if (s->rc == 0 && pl_formats_parse_mask(cfg.allowed_types, &s->lim.allowed_inputs, &err) != 0)
                s->rc = -2;
            s->deadline_ms = cfg.deadline_ms;
            svc_config_free(&cfg);
        } else if (k == BATCH) {
            batch_opts o;
            s->rc = batch_opts_parse(argc, argv, &o, s->msg, sizeof(s->msg));
            s->lim = o.limits;
            s->deadline_ms = o.deadline_us / 1000;
        } else {
            bench_config cfg;
            bench_error err = {{0}};
            s->rc = bench_opts_parse(argc, argv, &cfg, &err);
            snprintf(s->msg, sizeof(s->msg), "%s", err.message);
            s->lim = cfg.limits;
            s->deadline_ms = cfg.deadline_ms;
        }
    }
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_same_values(void)
{
    limits_seen seen[N_CMDS];
    pl_limits dflt;
    pl_limits_default(&dflt);
    parse_all(ARGS(NULL), seen);
    for (int k = 0; k < N_CMDS; k++) {
        is_int(seen[k].rc, 0, "%s: defaults parse (%s)", cmd_names[k], seen[k].msg);
        ok(seen[k].lim.max_input_pixels == dflt.max_input_pixels && seen[k].lim.max_output_pixels == dflt.max_output_pixels &&
               seen[k].lim.max_frames == dflt.max_frames && seen[k].lim.max_heif_encode_ms == dflt.max_heif_encode_ms &&
               seen[k].lim.allowed_inputs == dflt.allowed_inputs,
           "%s: the shared rows' defaults are pl_limits_default()'s", cmd_names[k]);
        is_int(seen[k].deadline_ms, 10000, "%s: default deadline 10 s", cmd_names[k]);
    }
    static const struct {
        const char *value;
        long long ms;
    } deadlines[] = {{"1500ms", 1500}, {"2", 2000}, {"0.5", 500}, {"1m", 60000}, {"86400s", 86400000}};
    for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++) {
        parse_all(ARGS("--max-pixels", "7000000", "--max-output-pixels=9000000", "--max-frames", "12", "--max-heif-encode-ms",
                       "250", "--allowed-types", "png,jpeg", "--deadline", deadlines[i].value),
                  seen);
        for (int k = 0; k < N_CMDS; k++) {
            ok(seen[k].rc == 0 && seen[k].lim.max_input_pixels == 7000000 && seen[k].lim.max_output_pixels == 9000000 &&
                   seen[k].lim.max_frames == 12 && seen[k].lim.max_heif_encode_ms == 250 &&
                   seen[k].lim.allowed_inputs == ((1u << PL_FMT_JPEG) | (1u << PL_FMT_PNG)) &&
                   seen[k].deadline_ms == deadlines[i].ms,
               "%s: the limits and --deadline %s (= %lld ms) as given (%s)", cmd_names[k], deadlines[i].value, deadlines[i].ms,
               seen[k].msg);
        }
    }
    parse_all(ARGS("--deadline", "0"), seen);
    ok(seen[BATCH].rc == 0 && seen[BATCH].deadline_ms == 0 && seen[BENCH].rc == 0 && seen[BENCH].deadline_ms == 0,
       "--deadline 0: none, in batch and the bench");
    ok(seen[SERVE].rc == -1 && strstr(seen[SERVE].msg, "deadline") != NULL, "--deadline 0: serve needs one (%s)", seen[SERVE].msg);
}

static void test_same_errors(void)
{
    static const struct {
        const char *flag, *value, *msg;
    } bad[] = {
        {"--max-pixels", "0", "--max-pixels: '0' is not allowed: integer 1..1099511627776 expected"},
        {"--max-output-pixels", "2e6", "--max-output-pixels: '2e6' is not allowed: integer 1..1099511627776 expected"},
        {"--max-frames", "1025", "--max-frames: '1025' is not allowed: integer 1..1024 expected"},
        {"--deadline", "forever", "--deadline: 'forever' is not allowed: duration 0..86400s (seconds, or with ms, s, m) expected"},
        {"--deadline", "-1", "--deadline: '-1' is not allowed: duration 0..86400s (seconds, or with ms, s, m) expected"},
        {"--deadline", "2d", "--deadline: '2d' is not allowed: duration 0..86400s (seconds, or with ms, s, m) expected"},
    };
    limits_seen seen[N_CMDS];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse_all((const char *const[]){bad[i].flag, bad[i].value, NULL}, seen);
        for (int k = 0; k < N_CMDS; k++) {
            is_int(seen[k].rc, -1, "%s %s %s: refused", cmd_names[k], bad[i].flag, bad[i].value);
            is_str(seen[k].msg, bad[i].msg, "%s: the message names the flag and what it accepts", cmd_names[k]);
        }
    }
}

/* Every row of the table appears in its --help as "--name" (with "-x, " before it when aliased). */
static void test_help_lists_rows(const char *what, const opt_table *t)
{
    char *buf = NULL, want[80];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    opt_help(t, f);
    fclose(f);
    int missing = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        const opt_row *r = &t->rows[i];
        if (r->alias)
            snprintf(want, sizeof(want), "-%c, --%s", r->alias, r->name);
        else
            snprintf(want, sizeof(want), "--%s", r->name);
        if (strstr(buf, want) == NULL && ++missing)
            diag("%s --help lacks %s", what, want);
    }
    ok(t->n_rows > 10 && missing == 0, "%s --help lists all %zu rows", what, t->n_rows);
    ok(strstr(buf, "--max-pixels N") && strstr(buf, "--deadline TIME") && strstr(buf, "default 10s"),
       "%s --help: the shared limits with their syntax and defaults", what);
    free(buf);
}

int main(void)
{
    test_same_values();
    test_same_errors();
    test_help_lists_rows("serve", svc_config_table());
    test_help_lists_rows("batch", batch_opts_table());
    test_help_lists_rows("bench", bench_opts_table());
    return tap_done();
}
