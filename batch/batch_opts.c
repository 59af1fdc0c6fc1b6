/*
 * batch_opts: the command line of `imgpipe batch`: its settings table (common/opt_table.h; the
 * engine's limits and the deadline are the rows shared with the service, common/opt_limits.h), then
 * batch's own checks: what is required, --shard K/N, the --name template's placeholders, the --do
 * grammar strings (one through pl_plan_parse_string, several through batch_renditions.c), the --allowed-types list. A usage error
 * stops the run before any work, with a message naming the option and what it accepts. Main thread only.
 */
#include "batch_opts.h"
#include "batch_renditions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opt_limits.h"

/* What the table fills: batch_opts' own fields, and the values batch turns into others. */
typedef struct batch_args {
    batch_opts o;
    opt_list specs;            /* every --do -> o.do_specs; o.spec is the first */
    const char *shard;         /* --shard K/N -> o.shard_k, o.shard_n */
    const char *allowed_types; /* -> o.limits.allowed_inputs */
    long long deadline_ms;     /* -> o.deadline_us */
    int isolation;             /* BATCH_ISOLATION_*: -> o.isolate */
} batch_args;

enum { BATCH_ISOLATION_THREAD = 0, BATCH_ISOLATION_PROCESS = 1 }; /* order of the row's choices */

static int batch_parse_shard(const char *s, int *k, int *n)
{
    char *end;
    errno = 0;
    long kk = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '/' || *s == '-' || *s == '+')
        return -1;
    const char *ns = end + 1;
    if (*ns == '-' || *ns == '+')
        return -1;
    long nn = strtol(ns, &end, 10);
    if (errno != 0 || end == ns || *end != '\0' || nn < 1 || nn > 1000000 || kk < 0 || kk >= nn)
        return -1;
    *k = (int)kk;
    *n = (int)nn;
    return 0;
}

/* The template may use {dir} {stem} {name} {ext} {r}; literal braces are not allowed. The row's check:
 * msg gets what is wrong (the caller names the option and the value). */
static int batch_check_name(const char *t, char *msg, size_t msg_len)
{
    static const char *const known[] = {"{dir}", "{stem}", "{name}", "{ext}", "{r}"};
    if (*t == '\0' || *t == '/') {
        snprintf(msg, msg_len, "give a relative file name such as '{dir}/{stem}.{ext}'");
        return -1;
    }
    for (const char *p = t; *p != '\0';) {
        if (*p == '{') {
            size_t i;
            for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strncmp(p, known[i], strlen(known[i])) == 0)
                    break;
            if (i == sizeof(known) / sizeof(known[0])) {
                snprintf(msg, msg_len, "unknown placeholder at '%.16s'; use {dir} {stem} {name} {ext} {r}", p);
                return -1;
            }
            p += strlen(known[i]);
            continue;
        }
        if (*p == '}') {
            snprintf(msg, msg_len, "stray '}'; use {dir} {stem} {name} {ext} {r}");
            return -1;
        }
        /* a ".." component would leave the output directory */
        if (p[0] == '.' && p[1] == '.' && (p == t || p[-1] == '/') && (p[2] == '/' || p[2] == '\0')) {
            snprintf(msg, msg_len, "'..' is not allowed: outputs stay under -o");
            return -1;
        }
        p++;
    }
    if (strstr(t, "{stem}") == NULL && strstr(t, "{name}") == NULL) {
        snprintf(msg, msg_len, "needs {stem} or {name}, or every input gets the same name");
        return -1;
    }
    return 0;
}

static int batch_check_shard(const char *v, char *msg, size_t msg_len)
{
    int k, n;
    if (batch_parse_shard(v, &k, &n) == 0)
        return 0;
    snprintf(msg, msg_len, "give K/N with 0 <= K < N, e.g. 0/4");
    return -1;
}

#define A(m) OPT_AT(batch_args, m)

/* clang-format off */
static const opt_row batch_rows[] = {
    {.name = "do", .type = OPT_LIST, .max = BATCH_MAX_DO, .arg = "SPEC", A(specs),
     .help = "operation and options, e.g. 'fit?width=800&height=800&type=jpeg&quality=80'; repeat it ('transform?...' "
             "specs) for several outputs from one decode"},
    {.name = "output", .alias = 'o', .type = OPT_STR, .arg = "DIR", A(o.out_dir), .help = "output directory (created if missing)"},
    {.name = "name", .alias = 'n', .type = OPT_STR, .arg = "TEMPLATE", A(o.name), .check = batch_check_name,
     .help = "output name under DIR (default '" BATCH_DEFAULT_NAME "', with -r '" BATCH_DEFAULT_NAME_RECURSIVE "'): {dir} "
             "relative directory of the input (mirrors trees), {stem} file name without extension, {name} file name, {ext} "
             "extension of the output type, {r} the output's name (several --do)"},
    {.name = "recursive", .alias = 'r', .type = OPT_FLAG, A(o.recursive),
     .help = "walk directories recursively (and mirror the tree under DIR)"},
    {.name = "null", .alias = '0', .type = OPT_FLAG, A(o.null_sep), .help = "paths on stdin are NUL-separated (find -print0)"},
    {.name = "jobs", .alias = 'j', .type = OPT_INT, .min = 1, .max = 256, A(o.jobs),
     .help = "worker threads (default: number of cores)"},
    {.name = "skip-existing", .type = OPT_FLAG, A(o.skip_existing),
     .help = "leave inputs whose outputs all exist already (resume a run)"},
    {.name = "shard", .type = OPT_STR, .arg = "K/N", A(shard), .check = batch_check_shard,
     .help = "process only the inputs whose relative path hashes to K (0..N-1) of N"},
    {.name = "report", .type = OPT_STR, .arg = "FILE", A(o.report),
     .help = "one JSON line per input: path, output, status, error, sizes, ms"},
    {.name = "dry-run", .type = OPT_FLAG, A(o.dry_run),
     .help = "print 'INPUT -> OUTPUT' for this run (after every check), process nothing"},
    {.name = "quiet", .alias = 'q', .type = OPT_FLAG, A(o.quiet), .help = "no progress and no summary (errors are still printed)"},
    OPT_LIMIT_ROWS(batch_args, o.limits.max_input_pixels, o.limits.max_output_pixels, o.limits.max_frames,
                   o.limits.max_heif_encode_ms, deadline_ms, allowed_types),
    {.name = "isolation", .type = OPT_ENUM, .def = "thread", .choices = "thread,process", A(isolation),
     .help = "thread (local files) or process: each image is decoded in a sandboxed worker process, so a decoder crash or hang "
             "fails that image only"},
};
/* clang-format on */

static const opt_table batch_table = {
    .command = "imgpipe batch",
    .intro = "usage: imgpipe batch --do 'OP?QUERY' -o OUTDIR [options] INPUT...\n"
             "\n"
             "Runs one imgpipe operation (the HTTP API's grammar: resize?width=800&type=webp) over files\n"
             "and folders, in one process with -j worker threads.\n"
             "\n"
             "INPUT is a file, a directory (its files; with -r its whole tree), or '-' to read one path per\n"
             "line from stdin (find photos -name '*.jpg' | imgpipe batch ... -; with -0, NUL-separated).\n"
             "The limits and --deadline are the service's settings: same names, syntax, ranges and defaults.\n"
             "\n",
    .outro = "\n"
             "Exit status: 0 all inputs succeeded (or were skipped); 1 the run could not start (image engine,\n"
             "threads) or the report could not be written; 2 usage error or an output directory that cannot be\n"
             "written (nothing was processed); 3 some inputs failed (each named on stderr and in --report), the\n"
             "others were written; 130 interrupted (Ctrl-C: running images finish, a second Ctrl-C cancels them).\n"
             "See docs/batch.md.\n",
    .args = "INPUT...",
    .rows = batch_rows,
    .n_rows = sizeof(batch_rows) / sizeof(batch_rows[0]),
};

const opt_table *batch_opts_table(void)
{
    return &batch_table;
}

void batch_opts_usage(FILE *out)
{
    opt_help(&batch_table, out);
}

static int batch_default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 256 ? 256 : (int)n);
}

static bool batch_given(const opt_parsed *p, const char *name)
{
    return p->given[opt_find(&batch_table, name) - batch_table.rows];
}

/* What is required, and the values batch turns into its own fields. */
static int batch_args_finish(batch_args *a, const opt_parsed *p, char *msg, size_t msg_len)
{
    batch_opts *o = &a->o;
    pl_error err;
    if (a->specs.n == 0)
        return opt_fail(msg, msg_len, "--do is required, e.g. --do 'resize?width=800&type=webp'");
    if (o->out_dir == NULL)
        return opt_fail(msg, msg_len, "-o OUTDIR is required: outputs never replace their inputs");
    if (p->n_args == 0)
        return opt_fail(msg, msg_len, "no INPUT given: name files, directories, or '-' to read paths from stdin");
    if (o->name == NULL && batch_given(p, "name"))
        return opt_fail(msg, msg_len, "--name '': give a relative file name such as '{dir}/{stem}.{ext}'");
    pl_error_clear(&err);
    if (pl_formats_parse_mask(a->allowed_types ? a->allowed_types : "", &o->limits.allowed_inputs, &err) != 0)
        return opt_fail(msg, msg_len, "--allowed-types '%s': %s", a->allowed_types ? a->allowed_types : "", err.message);
    if (o->name == NULL) /* with -r mirror the tree, as recursive tools do */
        o->name = o->recursive ? BATCH_DEFAULT_NAME_RECURSIVE : BATCH_DEFAULT_NAME;
    if (o->jobs == 0)
        o->jobs = batch_default_jobs();
    if (a->shard != NULL)
        batch_parse_shard(a->shard, &o->shard_k, &o->shard_n); /* checked by the row */
    for (int i = 0; i < a->specs.n; i++)
        o->do_specs[i] = a->specs.v[i];
    o->n_do = a->specs.n;
    o->spec = a->specs.v[0];
    o->inputs = p->args;
    o->n_inputs = p->n_args;
    o->deadline_us = a->deadline_ms * 1000;
    o->isolate = a->isolation == BATCH_ISOLATION_PROCESS;
    return 0;
}

/* The --do string: the grammar, and the operations batch cannot write as one image file. */
static int batch_check_spec(batch_opts *opts, char *msg, size_t msg_len)
{
    pl_error err;
    pl_error_clear(&err);
    if (pl_plan_parse_string(opts->spec, &opts->plan, &err) != 0) {
        snprintf(msg, msg_len, "--do '%s': %s", opts->spec, err.message);
        return -1;
    }
    if (opts->plan.op == PL_OP_RENDITIONS) { /* one multipart answer, not an image file */
        snprintf(msg, msg_len, "--do '%s': renditions is an HTTP operation (a multipart answer); batch writes one image per --do",
                 opts->spec);
        return -1;
    }
    /* watermarkimage needs a second image per request (HTTP's part "image"); batch has none to give */
    for (int i = 0; i < opts->plan.n_steps; i++)
        if (opts->plan.steps[i].op == PL_OP_WATERMARKIMAGE) {
            snprintf(msg, msg_len,
                     "--do '%s': %s needs the overlay image, which batch has no source for (over HTTP it is the multipart "
                     "part \"image\"); use the service, or a text watermark (watermark?text=...)",
                     opts->spec, opts->plan.op == PL_OP_PIPELINE ? "the pipeline's watermarkImage step" : "watermarkimage");
            return -1;
        }
    return 0;
}

int batch_opts_parse(int argc, char **argv, batch_opts *opts, char *msg, size_t msg_len)
{
    batch_args a;
    opt_parsed p;
    memset(&a, 0, sizeof(a));
    pl_limits_default(&a.o.limits); /* the fields no row sets (max_decode_bytes) */
    int rc = opt_parse(&batch_table, argc, argv, &a, &p, msg, msg_len);
    if (rc != 0)
        return rc;
    if (batch_args_finish(&a, &p, msg, msg_len) != 0)
        return -1;
    /* several outputs per input (or a template naming them): batch_renditions.c */
    bool several = a.o.n_do > 1 || strstr(a.o.name, "{r}") != NULL;
    if ((several ? batch_renditions_setup(&a.o, msg, msg_len) : batch_check_spec(&a.o, msg, msg_len)) != 0)
        return -1;
    *opts = a.o; /* strings point into argv: nothing to free */
    return 0;
}
