/*
 * bench_workload: parses operation strings and workload files, builds the weighted cycle, and
 * maps a request number to (operation, image) (see bench_workload.h). The grammar itself is the
 * engine's (pl_plan_parse_string) or the server's business; here an operation is only checked
 * to be a plain route name and a query that can go into a URL as written.
 */
#include "bench_workload.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int workload_add_op(bench_workload *w, const char *where, unsigned weight, const char *spec, const char *type,
                           bench_error *err)
{
    if (w->n >= BENCH_WORKLOAD_MAX_OPS)
        return bench_error_set(err, "%s: more than %d operations", where, BENCH_WORKLOAD_MAX_OPS);
    size_t len = strlen(spec);
    if (len == 0 || len >= BENCH_OP_SPEC_MAX)
        return bench_error_set(err, "%s: the operation must be 1..%d characters, like 'fit?width=800&height=800'", where,
                               BENCH_OP_SPEC_MAX - 1);
    size_t name_len = strcspn(spec, "?");
    if (name_len == 0 || name_len >= sizeof(w->ops[0].name))
        return bench_error_set(err, "%s: '%s' does not start with an operation name, like 'fit?width=800&height=800'", where, spec);
    for (size_t i = 0; i < name_len; i++)
        if (!isalnum((unsigned char)spec[i]))
            return bench_error_set(err, "%s: operation name in '%s' may hold only letters and digits", where, spec);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)spec[i] <= ' ' || (unsigned char)spec[i] >= 0x7f || spec[i] == '#')
            return bench_error_set(err, "%s: '%s' holds a space, '#' or a non-ASCII byte: percent-encode it (%%20 …)", where, spec);
    if (!w->ops) /* allocated once at its bound: op->query points into op->spec and must not move */
        w->ops = calloc(BENCH_WORKLOAD_MAX_OPS, sizeof(*w->ops));
    if (!w->ops)
        return bench_error_set(err, "out of memory");
    bench_op *op = &w->ops[w->n++];
    memset(op, 0, sizeof(*op));
    memcpy(op->spec, spec, len + 1);
    memcpy(op->name, spec, name_len);
    op->query = spec[name_len] == '?' ? op->spec + name_len + 1 : op->spec + len;
    op->weight = weight;
    snprintf(op->type, sizeof(op->type), "%s", type ? type : "");
    return 0;
}

/* Smooth weighted round-robin (nginx's): each step adds every weight to its op's credit, picks the
 * largest credit and takes the total from it. Deterministic and evenly interleaved. */
static int workload_build_cycle(bench_workload *w, bench_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < w->n; i++)
        total += w->ops[i].weight;
    w->order = calloc(total, sizeof(*w->order));
    w->ordinal = calloc(total, sizeof(*w->ordinal));
    long long *credit = calloc(w->n, sizeof(*credit));
    uint64_t *seen = calloc(w->n, sizeof(*seen));
    int rc = -1;
    if (!w->order || !w->ordinal || !credit || !seen) {
        bench_error_set(err, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < total; k++) {
        size_t best = 0;
        for (size_t i = 0; i < w->n; i++) {
            credit[i] += w->ops[i].weight;
            if (credit[i] > credit[best])
                best = i;
        }
        credit[best] -= (long long)total;
        w->order[k] = (unsigned)best;
        w->ordinal[k] = seen[best]++;
    }
    w->cycle = total;
    rc = 0;
out:
    free(credit);
    free(seen);
    return rc;
}

static const char *const workload_types[] = {"jpeg", "png", "webp", "gif", "tiff", "heif", "avif", "svg"};

int bench_workload_parse_text(const char *name, const char *text, bench_workload *w, bench_error *err)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->name, sizeof(w->name), "%s", name);
    char *copy = strdup(text);
    if (!copy)
        return bench_error_set(err, "out of memory");
    int rc = -1, lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++; /* strtok_r skips empty lines: numbers count non-empty ones, good enough for messages */
        char *hash = strchr(line, '#');
        if (hash && (hash == line || isspace((unsigned char)hash[-1])))
            *hash = '\0';
        char where[320];
        snprintf(where, sizeof(where), "%s line %d", name, lineno);
        char *fields[4] = {0};
        int nf = 0;
        char *fsave = NULL;
        for (char *f = strtok_r(line, " \t\r", &fsave); f; f = strtok_r(NULL, " \t\r", &fsave)) {
            if (nf == 3) {
                bench_error_set(err, "%s: too many fields (want: weight op?query [input type])", where);
                goto out;
            }
            fields[nf++] = f;
        }
        if (nf == 0)
            continue;
        if (nf < 2) {
            bench_error_set(err, "%s: want 'weight op?query [input type]', like '3 fit?width=800&height=800'", where);
            goto out;
        }
        char *end;
        errno = 0;
        long weight = strtol(fields[0], &end, 10);
        if (errno || *end || weight < 1 || weight > 1000) {
            bench_error_set(err, "%s: weight '%s' must be an integer 1..1000", where, fields[0]);
            goto out;
        }
        if (fields[2]) {
            int known = 0;
            for (size_t t = 0; t < sizeof(workload_types) / sizeof(workload_types[0]); t++)
                known |= strcmp(fields[2], workload_types[t]) == 0;
            if (!known) {
                bench_error_set(err, "%s: input type '%s' must be one of jpeg png webp gif tiff heif avif svg", where, fields[2]);
                goto out;
            }
        }
        if (workload_add_op(w, where, (unsigned)weight, fields[1], fields[2], err) != 0)
            goto out;
    }
    if (w->n == 0) {
        bench_error_set(err, "%s holds no operations (lines 'weight op?query [input type]')", name);
        goto out;
    }
    rc = workload_build_cycle(w, err);
out:
    free(copy);
    if (rc != 0)
        bench_workload_free(w);
    return rc;
}

static int workload_read_file(const char *path, bench_workload *w, bench_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return bench_error_set(err, "cannot open workload file %s: %s", path, strerror(errno));
    char buf[256 * 1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    int too_big = !feof(f);
    fclose(f);
    if (too_big)
        return bench_error_set(err, "workload file %s is larger than %zu bytes", path, sizeof(buf) - 1);
    buf[n] = '\0';
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[256];
    snprintf(name, sizeof(name), "%s", base);
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, ".txt") == 0)
        name[len - 4] = '\0';
    if (bench_workload_parse_text(name, buf, w, err) != 0) {
        /* the message names the workload; say which file it came from */
        if (err) {
            char msg[BENCH_ERROR_MAX];
            memcpy(msg, err->message, sizeof(msg));
            snprintf(err->message, sizeof(err->message), "%.380s (file %.120s)", msg, path);
        }
        return -1;
    }
    return 0;
}

int bench_workload_parse(const char *arg, bench_workload *w, bench_error *err)
{
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode))
        return workload_read_file(arg, w, err);
    memset(w, 0, sizeof(*w));
    snprintf(w->name, sizeof(w->name), "%s", arg);
    if (workload_add_op(w, "--do", 1, arg, NULL, err) != 0 || workload_build_cycle(w, err) != 0) {
        bench_workload_free(w);
        return -1;
    }
    return 0;
}

int bench_workload_bind(bench_workload *w, const bench_corpus *c, bench_error *err)
{
    for (size_t i = 0; i < w->n; i++) {
        bench_op *op = &w->ops[i];
        free(op->inputs);
        op->inputs = calloc(c->n, sizeof(*op->inputs));
        op->n_inputs = 0;
        if (!op->inputs)
            return bench_error_set(err, "out of memory");
        for (size_t k = 0; k < c->n; k++)
            if (op->type[0] == '\0' || strcmp(op->type, c->images[k].type) == 0)
                op->inputs[op->n_inputs++] = k;
        if (op->n_inputs == 0)
            return bench_error_set(err, "workload %s: '%s' wants %s inputs and the corpus has none: add some or drop the type",
                                   w->name, op->spec, op->type);
    }
    return 0;
}

void bench_workload_pick(const bench_workload *w, uint64_t i, size_t *op, size_t *image)
{
    size_t k = (size_t)(i % w->cycle);
    const bench_op *o = &w->ops[w->order[k]];
    uint64_t nth = (i / w->cycle) * o->weight + w->ordinal[k];
    *op = w->order[k];
    *image = o->inputs[nth % o->n_inputs];
}

void bench_workload_free(bench_workload *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->ops[i].inputs);
    free(w->ops);
    free(w->order);
    free(w->ordinal);
    memset(w, 0, sizeof(*w));
}
