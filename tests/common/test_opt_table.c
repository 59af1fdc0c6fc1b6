/*
 * test_opt_table: the settings machinery of the three commands (common/opt_table.c) on a table of
 * its own: every type's syntax and range, defaults < environment < command line, LIST values (the
 * first flag replaces the environment's), short aliases and bundles, flags without a value,
 * positional arguments and `--`, the row's own check, which rows were given, error messages naming
 * the option and what it accepts, --help and the JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "opt_table.h"
#include "tap.h"

typedef struct t_cfg {
    opt_list addr;
    const char *name;
    long long n;
    int small;
    long long size;
    long long wait_ms;
    double x;
    bool on, force, go;
    int mode;
} t_cfg;

static int t_check_name(const char *v, char *msg, size_t msg_len)
{
    if (strcmp(v, "bad") != 0)
        return 0;
    snprintf(msg, msg_len, "not that one");
    return -1;
}

#define F(m) OPT_AT(t_cfg, m)
static const opt_row t_rows[] = {
    {.name = "addr", .type = OPT_LIST, .max = 3, .def = "a:1", .arg = "HOST:PORT", F(addr), .help = "addresses"},
    {.name = "name", .alias = 'N', .type = OPT_STR, F(name), .check = t_check_name, .help = "a name"},
    {.name = "n", .alias = 'n', .type = OPT_INT, .min = -5, .max = 5000000000.0, .def = "7", F(n), .help = "a count"},
    {.name = "small", .type = OPT_INT, .min = 1, .max = 10, .def = "3", F(small), .help = "an int field"},
    {.name = "size", .type = OPT_BYTES, .max = 1 << 30, .def = "1MiB", F(size), .help = "bytes"},
    {.name = "wait", .type = OPT_DURATION, .max = 3600000, .def = "10s", F(wait_ms), .help = "a time"},
    {.name = "x", .type = OPT_REAL, .min = 0.1, .max = 2.5, .def = "1", F(x), .help = "a real"},
    {.name = "on", .type = OPT_BOOL, .def = "on", F(on), .help = "a switch"},
    {.name = "force", .alias = 'f', .type = OPT_FLAG, F(force), .help = "a flag"},
    {.name = "go", .alias = 'g', .type = OPT_FLAG, F(go), .help = "another flag"},
    {.name = "mode", .type = OPT_ENUM, .def = "slow", .choices = "slow,fast", F(mode), .help = "a choice"},
};
static const opt_table t_table = {.command = "tcmd",
                                  .intro = "usage: tcmd [options] FILE...\n\n",
                                  .env_prefix = "TOPT_",
                                  .args = "FILE...",
                                  .rows = t_rows,
                                  .n_rows = sizeof(t_rows) / sizeof(t_rows[0])};

static char msg[512];
static opt_parsed parsed;

/* Parse a NULL-terminated list of arguments (argv[0] added). */
static int parse(t_cfg *c, const char *const *args)
{
    static char *argv[32] = {"tcmd"}; /* parsed.args points into it */
    int argc = 1;
    while (*args && argc < 31)
        argv[argc++] = (char *)*args++;
    opt_free(&t_table, c);
    memset(c, 0, sizeof(*c));
    msg[0] = '\0';
    return opt_parse(&t_table, argc, argv, c, &parsed, msg, sizeof(msg));
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_defaults_env_flags(t_cfg *c)
{
    is_int(parse(c, ARGS("f1")), 0, "defaults: parsed");
    ok(c->addr.n == 1 && strcmp(c->addr.v[0], "a:1") == 0, "LIST default");
    ok(c->name == NULL && c->n == 7 && c->small == 3 && c->size == 1048576 && c->wait_ms == 10000 && c->x == 1 && c->on &&
           !c->force && c->mode == 0,
       "every type's default");
    ok(!parsed.given[2], "nothing given");
    setenv("TOPT_N", "9", 1);
    setenv("TOPT_ADDR", " b:2, c:3 ,", 1);
    is_int(parse(c, ARGS("f1")), 0, "environment: parsed");
    ok(c->n == 9 && parsed.given[2], "TOPT_N over the default, marked given");
    ok(c->addr.n == 2 && strcmp(c->addr.v[0], "b:2") == 0 && strcmp(c->addr.v[1], "c:3") == 0,
       "TOPT_ADDR: a comma-separated list, spaces and empty items dropped");
    is_int(parse(c, ARGS("--n", "11", "--addr", "d:4", "--addr=e:5", "f1")), 0, "flags: parsed");
    ok(c->n == 11, "the flag over the environment");
    ok(c->addr.n == 2 && strcmp(c->addr.v[0], "d:4") == 0 && strcmp(c->addr.v[1], "e:5") == 0,
       "the first --addr replaces the environment's list, the next adds");
    is_int(parse(c, ARGS("--addr", "1", "--addr", "2", "--addr", "3", "--addr", "4")), -1, "a fourth --addr (max 3): refused");
    is_str(msg, "--addr: given more than 3 times", "message: how many");
    setenv("TOPT_N", "x", 1);
    is_int(parse(c, ARGS("f1")), -1, "bad environment value: refused");
    is_str(msg, "TOPT_N: 'x' is not allowed: integer -5..5000000000 expected", "message names the variable and the range");
    unsetenv("TOPT_N");
    unsetenv("TOPT_ADDR");
}

static void test_values(t_cfg *c)
{
    static const struct {
        const char *flag, *value;
        long long want; /* wait_ms, size, n, small */
    } good[] = {
        {"--wait", "1.5s", 1500},  {"--wait", "250ms", 250},
        {"--wait", "2m", 120000},  {"--wait", "3", 3000},
        {"--wait", "0.5", 500},    {"--size", "2KiB", 2048},
        {"--size", "3M", 3145728}, {"--size", "12", 12},
        {"--n", "-5", -5},         {"--n", "4000000000", 4000000000LL},
        {"--small", "10", 10},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int rc = parse(c, ARGS(good[i].flag, good[i].value));
        long long got = !strcmp(good[i].flag, "--wait")   ? c->wait_ms
                        : !strcmp(good[i].flag, "--size") ? c->size
                        : !strcmp(good[i].flag, "--n")    ? c->n
                                                          : c->small;
        ok(rc == 0 && got == good[i].want, "%s %s = %lld (got %lld: %s)", good[i].flag, good[i].value, good[i].want, got, msg);
    }
    const struct {
        const char *const *args;
        const char *msg;
    } bad[] = {
        {ARGS("--wait", "1x"), "--wait: '1x' is not allowed: duration 0..3600s (seconds, or with ms, s, m) expected"},
        {ARGS("--wait", "2h"), "--wait: '2h' is not allowed: duration 0..3600s (seconds, or with ms, s, m) expected"},
        {ARGS("--size", "1.5M"), "--size: '1.5M' is not allowed: bytes 0..1073741824 (or with KiB/MiB/GiB) expected"},
        {ARGS("--small", "11"), "--small: '11' is not allowed: integer 1..10 expected"},
        {ARGS("--x", "3"), "--x: '3' is not allowed: number 0.1..2.5 expected"},
        {ARGS("--on", "maybe"), "--on: 'maybe' is not allowed: on or off expected"},
        {ARGS("--mode", "medium"), "--mode: 'medium' is not allowed: one of slow,fast expected"},
        {ARGS("-n", "six"), "-n: 'six' is not allowed: integer -5..5000000000 expected"},
        {ARGS("--name", "bad"), "--name: 'bad': not that one"},
        {ARGS("--nope", "1"), "unknown setting '--nope' (see tcmd --help)"},
        {ARGS("-fz"), "unknown option '-z' in '-fz' (see tcmd --help)"},
        {ARGS("--force=on"), "--force takes no value (see tcmd --help)"},
        {ARGS("f1", "--n"), "--n needs a value (see tcmd --help)"},
        {ARGS("-N"), "-N needs a value (see tcmd --help)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(parse(c, bad[i].args), -1, "bad %zu: refused", i);
        is_str(msg, bad[i].msg, "bad %zu: the message names the option and what it accepts", i);
    }
    is_int(parse(c, ARGS("--mode", "FAST", "--x", "0.25", "--on", "no")), 0, "enum (any case), real, bool: parsed");
    ok(c->mode == 1 && c->x == 0.25 && !c->on, "FAST = 1, 0.25, off");
}

static void test_argv_shapes(t_cfg *c)
{
    is_int(parse(c, ARGS("one", "-fg", "two", "-n5", "-N", "nm", "-", "--", "-f", "--n")), 0, "bundles, aliases, --: parsed");
    ok(c->force && c->go && c->n == 5 && c->name && strcmp(c->name, "nm") == 0, "-fg sets both flags, -n5 and -N nm");
    ok(parsed.n_args == 5 && !strcmp(parsed.args[0], "one") && !strcmp(parsed.args[1], "two") && !strcmp(parsed.args[2], "-") &&
           !strcmp(parsed.args[3], "-f") && !strcmp(parsed.args[4], "--n"),
       "positional arguments in order; '-' is one; after '--' everything is");
    is_int(parse(c, ARGS("-gn", "6")), 0, "a bundle ending with a valued alias takes the next argument");
    ok(c->go && c->n == 6, "-gn 6");
    is_int(parse(c, ARGS("--name", "")), 0, "an empty string: parsed");
    ok(c->name == NULL && parsed.given[1], "an empty string is unset, but given");
    opt_table no_args = t_table;
    no_args.args = NULL;
    opt_free(&t_table, c);
    memset(c, 0, sizeof(*c));
    char *argv[] = {"tcmd", "stray", NULL};
    is_int(opt_parse(&no_args, 2, argv, c, NULL, msg, sizeof(msg)), -1, "a table without positional arguments refuses one");
    ok(strstr(msg, "unexpected argument 'stray'") != NULL, "message: %s", msg);
    opt_free(&no_args, c);
}

static void test_help_json(t_cfg *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    opt_help(&t_table, f);
    fclose(f);
    int missing = 0;
    for (size_t i = 0; i < t_table.n_rows; i++) {
        char want[64];
        if (t_rows[i].alias)
            snprintf(want, sizeof(want), "-%c, --%s", t_rows[i].alias, t_rows[i].name);
        else
            snprintf(want, sizeof(want), "    --%s", t_rows[i].name);
        missing += strstr(buf, want) == NULL;
    }
    is_int(missing, 0, "--help lists every row with its alias");
    ok(strstr(buf, "TOPT_SMALL") && strstr(buf, "--mode slow|fast") && strstr(buf, "integer 1..10; default 3") &&
           strstr(buf, "--print-env"),
       "--help: env names, choices, ranges and defaults, --print-env");
    free(buf);
    is_int(parse(c, ARGS("--wait", "2s", "--name", "q\"")), 0, "parsed for JSON");
    buf = NULL;
    f = open_memstream(&buf, &len);
    opt_json(&t_table, c, f);
    fclose(f);
    ok(strstr(buf, "\"addr\":[\"a:1\"],\"name\":\"q\\\"\",\"n\":7,\"small\":3,") && strstr(buf, "\"wait_ms\":2000") &&
           strstr(buf, "\"mode\":\"slow\"") && strstr(buf, "\"force\":false"),
       "JSON: every row, durations in _ms, strings escaped (%s)", buf);
    free(buf);
}

int main(void)
{
    t_cfg c;
    memset(&c, 0, sizeof(c));
    test_defaults_env_flags(&c);
    test_values(&c);
    test_argv_shapes(&c);
    test_help_json(&c);
    opt_free(&t_table, &c);
    return tap_done();
}
