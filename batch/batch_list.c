/*
 * batch_list: turns the INPUT arguments of `imgpipe batch` into the job list, and checks the
 * whole list before any work starts.
 *
 * Relative paths ({dir}, the shard hash, the sort order): a file found under a directory
 * argument is relative to that argument (photos/a/b.jpg given `photos` -> a/b.jpg). A file named
 * directly (argument or stdin line) keeps its path when that is relative and has no ".."
 * (leading "./" dropped), is made relative to the current directory when it is absolute and under
 * it, and is reduced to its file name otherwise. Directory walks skip names starting with '.'
 * (hidden files, the run's own temporary files), do not follow symlinked directories, and never
 * enter the output directory.
 *
 * Every input has one output per --do (batch_out), named from the template ({r}: the output's
 * name when there are several). Checks (all before any work): two inputs with one output name ->
 * usage error naming both; an output that exists and is one of the inputs (same device and inode)
 * -> usage error; --skip-existing skips an input only when all its outputs exist. --shard
 * keeps the jobs whose relative path hashes to K (FNV-1a 64 mod N): every machine that sees the
 * same relative paths makes the same split, whatever the order or the rest of its list.
 *
 * Main thread only; uses GLib hash tables and strings.
 */
#include "batch_list.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_SNIFF_BYTES 4096
#define BATCH_MAX_COLLISIONS_SHOWN 10

static void batch_job_free(batch_job *j)
{
    free(j->path);
    free(j->rel);
    for (int k = 0; k < j->n_outs; k++)
        free(j->outs[k].path);
    free(j->outs);
    free(j->pre_error);
    free(j->message);
}

void batch_list_free(batch_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        batch_job_free(&list->v[i]);
    free(list->v);
    memset(list, 0, sizeof(*list));
}

static batch_job *batch_list_add(batch_list *list, char *path, char *rel)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 256;
        batch_job *v = realloc(list->v, cap * sizeof(*v));
        if (v == NULL) {
            fprintf(stderr, "imgpipe batch: out of memory listing inputs\n");
            exit(1);
        }
        list->v = v;
        list->cap = cap;
    }
    batch_job *j = &list->v[list->n++];
    memset(j, 0, sizeof(*j));
    j->path = path;
    j->rel = rel;
    return j;
}

static char *batch_xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL) {
        fprintf(stderr, "imgpipe batch: out of memory\n");
        exit(1);
    }
    return d;
}

static void batch_job_fail(batch_job *j, const char *what, int errnum)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s: %s", what, strerror(errnum));
    j->pre_error = batch_xstrdup(buf);
}

static const char *batch_basename(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Relative path for a file named directly (see the top of this file). */
static char *batch_rel_direct(const char *path, const char *cwd)
{
    const char *p = path;
    if (p[0] == '/') {
        size_t n = cwd ? strlen(cwd) : 0;
        if (n > 1 && strncmp(p, cwd, n) == 0 && p[n] == '/')
            p += n + 1;
        else
            return batch_xstrdup(batch_basename(path));
    }
    GString *s = g_string_new(NULL);
    while (*p != '\0') {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            g_string_free(s, TRUE);
            return batch_xstrdup(batch_basename(path));
        }
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (s->len > 0)
                g_string_append_c(s, '/');
            g_string_append_len(s, p, (gssize)len);
        }
        p += len;
        while (*p == '/')
            p++;
    }
    char *r = batch_xstrdup(s->len > 0 ? s->str : batch_basename(path));
    g_string_free(s, TRUE);
    return r;
}

typedef struct batch_walk {
    batch_list *list;
    bool recursive;
    bool have_out;
    dev_t out_dev;
    ino_t out_ino;
} batch_walk;

static void batch_add_file(batch_walk *w, char *path, char *rel, const struct stat *st)
{
    batch_job *j = batch_list_add(w->list, path, rel);
    j->bytes_in = (uint64_t)st->st_size;
    j->dev = st->st_dev;
    j->ino = st->st_ino;
}

static int batch_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of directory `dir` (whose relative prefix is `prefix`, "" at the top), in name order. */
static void batch_walk_dir(batch_walk *w, const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        batch_job *j = batch_list_add(w->list, batch_xstrdup(dir), batch_xstrdup(prefix[0] ? prefix : dir));
        batch_job_fail(j, "cannot open directory", errno);
        return;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            g_ptr_array_add(names, g_strdup(e->d_name));
    closedir(d);
    qsort(names->pdata, names->len, sizeof(char *), batch_name_cmp);

    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        char *path = g_strdup_printf("%s/%s", dir, name);
        char *rel = prefix[0] ? g_strdup_printf("%s/%s", prefix, name) : g_strdup(name);
        struct stat st;
        if (lstat(path, &st) != 0) {
            batch_job *j = batch_list_add(w->list, batch_xstrdup(path), batch_xstrdup(rel));
            batch_job_fail(j, "cannot stat", errno);
        } else if (S_ISDIR(st.st_mode)) {
            bool is_out = w->have_out && st.st_dev == w->out_dev && st.st_ino == w->out_ino;
            if (w->recursive && !is_out)
                batch_walk_dir(w, path, rel);
        } else {
            /* regular files, and symlinks to regular files (symlinked directories are not followed) */
            if (S_ISLNK(st.st_mode) && stat(path, &st) != 0)
                st.st_mode = 0;
            if (S_ISREG(st.st_mode))
                batch_add_file(w, batch_xstrdup(path), batch_xstrdup(rel), &st);
        }
        g_free(path);
        g_free(rel);
    }
    g_ptr_array_free(names, TRUE);
}

static void batch_add_input(batch_walk *w, const char *path, const char *cwd)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        batch_job *j = batch_list_add(w->list, batch_xstrdup(path), batch_rel_direct(path, cwd));
        batch_job_fail(j, "cannot read input", errno);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        /* trailing slashes off, so that paths built below read well */
        char *dir = batch_xstrdup(path);
        for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
            dir[n - 1] = '\0';
        batch_walk_dir(w, dir, "");
        free(dir);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        batch_job *j = batch_list_add(w->list, batch_xstrdup(path), batch_rel_direct(path, cwd));
        j->pre_error = batch_xstrdup("not a regular file or directory");
        return;
    }
    batch_add_file(w, batch_xstrdup(path), batch_rel_direct(path, cwd), &st);
}

int batch_list_collect(const batch_opts *opts, batch_list *list, char *msg, size_t msg_len)
{
    batch_walk w = {.list = list, .recursive = opts->recursive};
    struct stat st;
    if (stat(opts->out_dir, &st) == 0) {
        w.have_out = true;
        w.out_dev = st.st_dev;
        w.out_ino = st.st_ino;
    }
    char *cwd = getcwd(NULL, 0);
    bool stdin_used = false;
    for (int i = 0; i < opts->n_inputs; i++) {
        const char *in = opts->inputs[i];
        if (strcmp(in, "-") != 0) {
            batch_add_input(&w, in, cwd);
            continue;
        }
        if (stdin_used)
            continue;
        stdin_used = true;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getdelim(&line, &cap, opts->null_sep ? '\0' : '\n', stdin)) > 0) {
            if (opts->null_sep && line[n - 1] == '\0')
                n--;
            while (!opts->null_sep && n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            if (n > 0)
                batch_add_input(&w, line, cwd);
        }
        int e = errno;
        free(line);
        if (ferror(stdin)) {
            snprintf(msg, msg_len, "cannot read the list of paths on stdin: %s", strerror(e));
            free(cwd);
            return -1;
        }
    }
    free(cwd);
    return 0;
}

int batch_shard_of(const char *rel, int n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (const unsigned char *p = (const unsigned char *)rel; *p != '\0'; p++) {
        h ^= *p;
        h *= UINT64_C(1099511628211);
    }
    return (int)(h % (uint64_t)n);
}

const char *batch_ext_of(pl_format f)
{
    switch (f) {
    case PL_FMT_JPEG:
        return "jpg";
    case PL_FMT_PNG:
        return "png";
    case PL_FMT_WEBP:
        return "webp";
    case PL_FMT_GIF:
        return "gif";
    case PL_FMT_TIFF:
        return "tif";
    case PL_FMT_HEIF:
        return "heic";
    case PL_FMT_AVIF:
        return "avif";
    case PL_FMT_SVG:
        return "svg";
    case PL_FMT_PDF:
        return "pdf";
    case PL_FMT_JP2K:
        return "jp2";
    default:
        return NULL;
    }
}

/* The output type the plan asks for: the last `type` given (top level, then steps), or
 * PL_FMT_UNKNOWN when the output keeps the input's type. */
static pl_format batch_plan_type(const pl_plan *plan)
{
    pl_format f = PL_FMT_UNKNOWN;
    if (pl_params_has(&plan->params, PL_P_TYPE))
        f = plan->params.type;
    for (int i = 0; i < plan->n_steps && i < PL_MAX_STEPS; i++)
        if (pl_params_has(&plan->steps[i].params, PL_P_TYPE))
            f = plan->steps[i].params.type;
    return f;
}

/* The input's own format, from its first bytes (names never decide a format). */
static pl_format batch_sniff_file(const char *path)
{
    uint8_t buf[BATCH_SNIFF_BYTES];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PL_FMT_UNKNOWN;
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n > 0 ? pl_sniff(buf, (size_t)n) : PL_FMT_UNKNOWN;
}

/* The input's own extension, lower-cased ("bin" if none): names an output that will fail anyway. */
static void batch_own_ext(const char *rel, char *ext, size_t len)
{
    const char *name = batch_basename(rel);
    const char *dot = strrchr(name, '.');
    snprintf(ext, len, "%s", (dot && dot != name && dot[1]) ? dot + 1 : "bin");
    for (char *p = ext; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

/* out_dir + '/' + tmpl with its placeholders filled; r: the output's name for {r} (NULL: none). */
static char *batch_expand(const char *out_dir, const char *tmpl, const char *rel, const char *ext, const char *r)
{
    const char *name = batch_basename(rel);
    size_t dir_len = (size_t)(name - rel);
    if (dir_len > 0)
        dir_len--; /* without the '/' */
    const char *dot = strrchr(name, '.');
    size_t stem_len = (dot && dot != name) ? (size_t)(dot - name) : strlen(name);

    GString *s = g_string_new(NULL);
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{dir}", 5) == 0) {
            g_string_append_len(s, rel, (gssize)dir_len);
            p += 5;
        } else if (strncmp(p, "{stem}", 6) == 0) {
            g_string_append_len(s, name, (gssize)stem_len);
            p += 6;
        } else if (strncmp(p, "{name}", 6) == 0) {
            g_string_append(s, name);
            p += 6;
        } else if (strncmp(p, "{ext}", 5) == 0) {
            g_string_append(s, ext);
            p += 5;
        } else if (strncmp(p, "{r}", 3) == 0 && r != NULL) {
            g_string_append(s, r);
            p += 3;
        } else {
            g_string_append_c(s, *p++);
        }
    }
    /* out_dir + '/' + the expansion, with empty components ({dir} of a top-level file) removed */
    GString *o = g_string_new(out_dir);
    while (o->len > 1 && o->str[o->len - 1] == '/')
        g_string_truncate(o, o->len - 1);
    for (const char *p = s->str; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            g_string_append_c(o, '/');
            g_string_append_len(o, p, (gssize)len);
        }
        p += len;
    }
    g_string_free(s, TRUE);
    char *path = batch_xstrdup(o->str);
    g_string_free(o, TRUE);
    return path;
}

static int batch_job_cmp(const void *a, const void *b)
{
    const batch_job *x = a, *y = b;
    int c = strcmp(x->rel, y->rel);
    return c ? c : strcmp(x->path, y->path);
}

static guint batch_inode_hash(gconstpointer p)
{
    const batch_job *j = p;
    return (guint)(j->ino ^ (j->ino >> 32) ^ ((uint64_t)j->dev * 2654435761u));
}

static gboolean batch_inode_equal(gconstpointer a, gconstpointer b)
{
    const batch_job *x = a, *y = b;
    return x->dev == y->dev && x->ino == y->ino;
}

/* Outputs of jobs that collide; prints each collision. Returns the number found. */
static size_t batch_find_collisions(batch_list *list)
{
    GHashTable *by_out = g_hash_table_new(g_str_hash, g_str_equal);
    size_t found = 0;
    for (size_t i = 0; i < list->n; i++) {
        batch_job *j = &list->v[i];
        for (int k = 0; k < j->n_outs && !j->drop; k++) {
            char *out = j->outs[k].path;
            batch_job *other = g_hash_table_lookup(by_out, out);
            if (other == NULL) {
                g_hash_table_insert(by_out, out, j);
                continue;
            }
            if (other != j && other->pre_error == NULL && j->pre_error == NULL && other->dev == j->dev && other->ino == j->ino) {
                j->drop = true; /* one file named twice (a directory and a file in it …): one job */
                continue;
            }
            if (found++ < BATCH_MAX_COLLISIONS_SHOWN)
                fprintf(stderr, "imgpipe batch: inputs '%s' and '%s' would both be written to '%s'\n", other->path, j->path, out);
        }
    }
    if (found > BATCH_MAX_COLLISIONS_SHOWN)
        fprintf(stderr, "imgpipe batch: ... and %zu more collisions\n", found - BATCH_MAX_COLLISIONS_SHOWN);
    g_hash_table_destroy(by_out);
    return found;
}

/* The type output k asks for (PL_FMT_UNKNOWN: the input's own): one --do, or step k of several. */
static pl_format batch_out_type(const batch_opts *opts, int k)
{
    if (opts->n_do < 2)
        return batch_plan_type(&opts->plan);
    const pl_params *p = &opts->plan.rend.steps[k].params;
    return pl_params_has(p, PL_P_TYPE) ? p->type : PL_FMT_UNKNOWN;
}

/* Name every output of j (one per --do); the input is sniffed at most once. */
static void batch_name_job(const batch_opts *opts, batch_job *j)
{
    bool info = opts->plan.op == PL_OP_INFO;
    int n = opts->n_do > 1 ? opts->n_do : 1;
    pl_format own = PL_FMT__COUNT; /* not sniffed yet */
    if ((j->outs = calloc((size_t)n, sizeof(*j->outs))) == NULL) {
        fprintf(stderr, "imgpipe batch: out of memory naming outputs\n");
        exit(1);
    }
    j->n_outs = n;
    for (int k = 0; k < n; k++) {
        pl_format f = info ? PL_FMT_UNKNOWN : batch_out_type(opts, k);
        if (!info && f == PL_FMT_UNKNOWN && j->pre_error == NULL)
            f = own = own == PL_FMT__COUNT ? batch_sniff_file(j->path) : own;
        char ext[32];
        if (info)
            snprintf(ext, sizeof(ext), "json");
        else if (batch_ext_of(f) != NULL)
            snprintf(ext, sizeof(ext), "%s", batch_ext_of(f));
        else
            batch_own_ext(j->rel, ext, sizeof(ext));
        j->outs[k].expect = f;
        j->outs[k].path = batch_expand(opts->out_dir, opts->name, j->rel, ext, n > 1 ? opts->plan.rend.names[k] : NULL);
    }
}

int batch_list_plan(const batch_opts *opts, batch_list *list, char *msg, size_t msg_len)
{
    qsort(list->v, list->n, sizeof(*list->v), batch_job_cmp);

    /* 1. names */
    for (int k = 0; k < (opts->n_do > 1 ? opts->n_do : 1); k++)
        if (batch_out_type(opts, k) == PL_FMT_AUTO) {
            snprintf(msg, msg_len, "--do '%s': type=auto picks from an HTTP Accept header; name a type (jpeg, png, webp, avif …)",
                     opts->do_specs[k]);
            return -1;
        }
    for (size_t i = 0; i < list->n; i++)
        batch_name_job(opts, &list->v[i]);

    /* 2. collisions, over the whole list so that every shard refuses the same way */
    size_t n = batch_find_collisions(list);
    if (n > 0) {
        if (strstr(opts->name, "{dir}") == NULL)
            snprintf(msg, msg_len,
                     "%zu output name collision%s: add {dir} to --name (e.g. -n '{dir}/{stem}.{ext}') or rename inputs", n,
                     n == 1 ? "" : "s");
        else if (strstr(opts->name, "{stem}") != NULL)
            snprintf(msg, msg_len,
                     "%zu output name collision%s: --name '%s' already has {dir}, so the inputs differ by their extension "
                     "only (a.png, a.jpg) or were named as files from different folders (which keep only their file name): "
                     "use {name} for {stem} (-n '{dir}/{name}.{ext}'), give their common folder as the input, or rename inputs",
                     n, n == 1 ? "" : "s", opts->name);
        else
            snprintf(msg, msg_len,
                     "%zu output name collision%s: --name '%s' already has {dir}; inputs named as files from different "
                     "folders keep only their file name: give their common folder as the input, or rename inputs",
                     n, n == 1 ? "" : "s", opts->name);
        return -1;
    }

    /* 3. this shard only, without duplicates */
    size_t k = 0;
    for (size_t i = 0; i < list->n; i++) {
        batch_job *j = &list->v[i];
        if (!j->drop && (opts->shard_n == 0 || batch_shard_of(j->rel, opts->shard_n) == opts->shard_k)) {
            list->v[k++] = *j;
        } else {
            batch_job_free(j);
        }
    }
    list->n = k;

    /* 4. outputs that are inputs; existing outputs for --skip-existing */
    GHashTable *inodes = g_hash_table_new(batch_inode_hash, batch_inode_equal);
    for (size_t i = 0; i < list->n; i++)
        if (list->v[i].pre_error == NULL)
            g_hash_table_add(inodes, &list->v[i]);
    int rc = 0;
    for (size_t i = 0; i < list->n; i++) {
        batch_job *j = &list->v[i];
        int existing = 0;
        for (int k = 0; k < j->n_outs; k++) {
            struct stat st;
            if (stat(j->outs[k].path, &st) != 0)
                continue;
            batch_job key = {.dev = st.st_dev, .ino = st.st_ino};
            batch_job *in = g_hash_table_lookup(inodes, &key);
            if (in != NULL) {
                fprintf(stderr, "imgpipe batch: output '%s' of '%s' is the input '%s'\n", j->outs[k].path, j->path, in->path);
                snprintf(msg, msg_len,
                         "outputs would overwrite inputs: choose an -o directory outside the inputs or another --name");
                rc = -1;
            } else if (S_ISREG(st.st_mode)) {
                existing++;
            }
        }
        if (opts->skip_existing && existing == j->n_outs)
            j->status = BATCH_SKIPPED; /* every output of the input is there */
    }
    g_hash_table_destroy(inodes);
    return rc;
}
