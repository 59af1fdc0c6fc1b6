/*
 * batch_opts: parses the command line of `imgpipe batch` into batch_opts, validating every
 * value (numbers, ranges, --shard K/N, the --name template's placeholders, the --do grammar
 * string through pl_plan_parse_string) so that a usage error stops the run before any work, with
 * a message naming the option and what it accepts. Main thread only (getopt_long).
 */
#include "batch_opts.h"
#include "batch_renditions.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void batch_opts_usage(FILE *out)
{
    pl_limits lim;
    pl_limits_default(&lim);
    fprintf(out,
            "usage: imgpipe batch --do 'OP?QUERY' -o OUTDIR [options] INPUT...\n"
            "\n"
            "Runs one imgpipe operation (the HTTP API's grammar: resize?width=800&type=webp) over files\n"
            "and folders, in one process with -j worker threads.\n"
            "\n"
            "INPUT is a file, a directory (its files; with -r its whole tree), or '-' to read one path per\n"
            "line from stdin (find photos -name '*.jpg' | imgpipe batch ... -; with -0, NUL-separated).\n"
            "\n"
            "  --do SPEC            operation and options, e.g. 'fit?width=800&height=800&type=jpeg&quality=80';\n"
            "                       repeat it (up to %d 'transform?...' specs) for several outputs from one decode\n"
            "  -o, --output DIR     output directory (created if missing)\n"
            "  -n, --name TEMPLATE  output name under DIR (default '" BATCH_DEFAULT_NAME "', with -r\n"
            "                       '" BATCH_DEFAULT_NAME_RECURSIVE "'): {dir} relative directory of the input\n"
            "                       (mirrors trees), {stem} file name without extension, {name} file name,\n"
            "                       {ext} extension of the output type, {r} the output's name (several --do)\n"
            "  -r, --recursive      walk directories recursively (and mirror the tree under DIR)\n"
            "  -0, --null           paths on stdin are NUL-separated (find -print0)\n"
            "  -j, --jobs N         worker threads (default: number of cores)\n"
            "  --skip-existing      leave inputs whose outputs all exist already (resume a run)\n"
            "  --shard K/N          process only the inputs whose relative path hashes to K (0..N-1) of N\n"
            "  --report FILE        one JSON line per input: path, output, status, error, sizes, ms\n"
            "  --dry-run            print 'INPUT -> OUTPUT' for this run (after every check), process nothing\n"
            "  -q, --quiet          no progress and no summary (errors are still printed)\n"
            "  --max-pixels N       largest input frame, width*height (default: %llu)\n"
            "  --max-output-pixels N  largest output, width*height (default: %llu)\n"
            "  --max-frames N       most frames of an animated input (default: %d)\n"
            "  --deadline SECONDS   per-image processing deadline, 0 = none (default: %g)\n"
            "  --allowed-types LIST input types accepted, e.g. jpeg,png,webp (default: the server's)\n"
            "  --isolation MODE     thread (default: local files) or process: each image is decoded in a\n"
            "                       sandboxed worker process, so a decoder crash or hang fails that image only\n"
            "  -h, --help           this text\n"
            "\n"
            "Exit status: 0 all inputs succeeded (or were skipped); 1 the run could not start (image engine,\n"
            "threads) or the report could not be written; 2 usage error or an output directory that cannot be\n"
            "written (nothing was processed); 3 some inputs failed (each named on stderr and in --report), the\n"
            "others were written; 130 interrupted (Ctrl-C: running images finish, a second Ctrl-C cancels them).\n"
            "See docs/batch.md.\n",
            BATCH_MAX_DO, (unsigned long long)lim.max_input_pixels, (unsigned long long)lim.max_output_pixels, lim.max_frames,
            BATCH_DEFAULT_DEADLINE_US / 1e6);
}

enum {
    OPT_DO = 256,
    OPT_SKIP_EXISTING,
    OPT_DRY_RUN,
    OPT_SHARD,
    OPT_REPORT,
    OPT_MAX_PIXELS,
    OPT_MAX_OUTPUT_PIXELS,
    OPT_MAX_FRAMES,
    OPT_DEADLINE,
    OPT_ALLOWED_TYPES,
    OPT_ISOLATION,
};

static const struct option batch_longopts[] = {
    {"do", required_argument, NULL, OPT_DO},
    {"output", required_argument, NULL, 'o'},
    {"name", required_argument, NULL, 'n'},
    {"recursive", no_argument, NULL, 'r'},
    {"null", no_argument, NULL, '0'},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"jobs", required_argument, NULL, 'j'},
    {"skip-existing", no_argument, NULL, OPT_SKIP_EXISTING},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"report", required_argument, NULL, OPT_REPORT},
    {"quiet", no_argument, NULL, 'q'},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    {"max-output-pixels", required_argument, NULL, OPT_MAX_OUTPUT_PIXELS},
    {"max-frames", required_argument, NULL, OPT_MAX_FRAMES},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"allowed-types", required_argument, NULL, OPT_ALLOWED_TYPES},
    {"isolation", required_argument, NULL, OPT_ISOLATION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* A whole non-negative integer in [min, max]; -1 otherwise. */
static int batch_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Seconds as a decimal ("10", "0.5"), 0 = none, at most a day. */
static int batch_parse_seconds(const char *s, int64_t *out_us)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= 0) || v > 86400)
        return -1;
    *out_us = (int64_t)(v * 1e6);
    return 0;
}

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

/* The template may use {dir} {stem} {name} {ext} {r}; literal braces are not allowed. */
static int batch_check_name(const char *t, char *msg, size_t msg_len)
{
    static const char *const known[] = {"{dir}", "{stem}", "{name}", "{ext}", "{r}"};
    if (*t == '\0' || *t == '/') {
        snprintf(msg, msg_len, "--name '%s': give a relative file name such as '{dir}/{stem}.{ext}'", t);
        return -1;
    }
    for (const char *p = t; *p != '\0';) {
        if (*p == '{') {
            size_t i;
            for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strncmp(p, known[i], strlen(known[i])) == 0)
                    break;
            if (i == sizeof(known) / sizeof(known[0])) {
                snprintf(msg, msg_len, "--name '%s': unknown placeholder at '%.16s'; use {dir} {stem} {name} {ext} {r}", t, p);
                return -1;
            }
            p += strlen(known[i]);
            continue;
        }
        if (*p == '}') {
            snprintf(msg, msg_len, "--name '%s': stray '}'; use {dir} {stem} {name} {ext} {r}", t);
            return -1;
        }
        /* a ".." component would leave the output directory */
        if (p[0] == '.' && p[1] == '.' && (p == t || p[-1] == '/') && (p[2] == '/' || p[2] == '\0')) {
            snprintf(msg, msg_len, "--name '%s': '..' is not allowed: outputs stay under -o", t);
            return -1;
        }
        p++;
    }
    if (strstr(t, "{stem}") == NULL && strstr(t, "{name}") == NULL) {
        snprintf(msg, msg_len, "--name '%s': needs {stem} or {name}, or every input gets the same name", t);
        return -1;
    }
    return 0;
}

static int batch_default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 256 ? 256 : (int)n);
}

int batch_opts_parse(int argc, char **argv, batch_opts *opts, char *msg, size_t msg_len)
{
    memset(opts, 0, sizeof(*opts));
    opts->name = BATCH_DEFAULT_NAME;
    opts->jobs = batch_default_jobs();
    opts->deadline_us = BATCH_DEFAULT_DEADLINE_US;
    pl_limits_default(&opts->limits);

    optind = 1;
    opterr = 0;
    int c;
    uint64_t u;
    pl_error err;
    bool name_given = false;
    while ((c = getopt_long(argc, argv, ":o:n:rj:qh0", batch_longopts, NULL)) != -1) {
        switch (c) {
        case OPT_DO:
            if (opts->n_do == BATCH_MAX_DO) {
                snprintf(msg, msg_len, "--do: at most %d per run (the outputs of one decode, as /renditions allows)", BATCH_MAX_DO);
                return -1;
            }
            opts->do_specs[opts->n_do++] = optarg;
            opts->spec = opts->do_specs[0];
            break;
        case 'o':
            opts->out_dir = optarg;
            break;
        case 'n':
            opts->name = optarg;
            name_given = true;
            break;
        case 'r':
            opts->recursive = true;
            break;
        case '0':
            opts->null_sep = true;
            break;
        case 'j':
            if (batch_parse_u64(optarg, 1, 256, &u) != 0) {
                snprintf(msg, msg_len, "-j '%s': give a number of worker threads from 1 to 256", optarg);
                return -1;
            }
            opts->jobs = (int)u;
            break;
        case OPT_DRY_RUN:
            opts->dry_run = true;
            break;
        case OPT_SKIP_EXISTING:
            opts->skip_existing = true;
            break;
        case OPT_SHARD:
            if (batch_parse_shard(optarg, &opts->shard_k, &opts->shard_n) != 0) {
                snprintf(msg, msg_len, "--shard '%s': give K/N with 0 <= K < N, e.g. 0/4", optarg);
                return -1;
            }
            break;
        case OPT_REPORT:
            opts->report = optarg;
            break;
        case 'q':
            opts->quiet = true;
            break;
        case OPT_MAX_PIXELS:
        case OPT_MAX_OUTPUT_PIXELS:
            if (batch_parse_u64(optarg, 1, UINT64_C(1) << 40, &u) != 0) {
                snprintf(msg, msg_len, "--%s '%s': give a pixel count (width*height) from 1 to 2^40",
                         c == OPT_MAX_PIXELS ? "max-pixels" : "max-output-pixels", optarg);
                return -1;
            }
            if (c == OPT_MAX_PIXELS)
                opts->limits.max_input_pixels = u;
            else
                opts->limits.max_output_pixels = u;
            break;
        case OPT_MAX_FRAMES:
            if (batch_parse_u64(optarg, 1, 1024, &u) != 0) {
                snprintf(msg, msg_len, "--max-frames '%s': give a number of frames from 1 to 1024", optarg);
                return -1;
            }
            opts->limits.max_frames = (int)u;
            break;
        case OPT_DEADLINE:
            if (batch_parse_seconds(optarg, &opts->deadline_us) != 0) {
                snprintf(msg, msg_len, "--deadline '%s': give seconds per image from 0 (none) to 86400, e.g. 10 or 0.5", optarg);
                return -1;
            }
            break;
        case OPT_ISOLATION:
            if (strcmp(optarg, "process") != 0 && strcmp(optarg, "thread") != 0) {
                snprintf(msg, msg_len, "--isolation '%s': give thread or process", optarg);
                return -1;
            }
            opts->isolate = strcmp(optarg, "process") == 0;
            break;
        case OPT_ALLOWED_TYPES:
            pl_error_clear(&err);
            if (pl_formats_parse_mask(optarg, &opts->limits.allowed_inputs, &err) != 0) {
                snprintf(msg, msg_len, "--allowed-types '%s': %s", optarg, err.message);
                return -1;
            }
            break;
        case 'h':
            batch_opts_usage(stdout);
            return 1;
        case ':':
            snprintf(msg, msg_len, "option '%s' needs a value (see imgpipe batch --help)", argv[optind - 1]);
            return -1;
        default:
            snprintf(msg, msg_len, "unknown option '%s' (see imgpipe batch --help)", argv[optind - 1]);
            return -1;
        }
    }
    opts->inputs = argv + optind;
    opts->n_inputs = argc - optind;

    if (opts->spec == NULL) {
        snprintf(msg, msg_len, "--do is required, e.g. --do 'resize?width=800&type=webp'");
        return -1;
    }
    if (opts->out_dir == NULL || *opts->out_dir == '\0') {
        snprintf(msg, msg_len, "-o OUTDIR is required: outputs never replace their inputs");
        return -1;
    }
    if (opts->n_inputs == 0) {
        snprintf(msg, msg_len, "no INPUT given: name files, directories, or '-' to read paths from stdin");
        return -1;
    }
    if (!name_given && opts->recursive)
        opts->name = BATCH_DEFAULT_NAME_RECURSIVE; /* mirror the tree, as recursive tools do */
    if (batch_check_name(opts->name, msg, msg_len) != 0)
        return -1;
    if (opts->n_do > 1 || strstr(opts->name, "{r}") != NULL)
        return batch_renditions_setup(opts, msg, msg_len); /* several outputs per input: batch_renditions.c */
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
