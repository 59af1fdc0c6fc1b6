/*
 * bench_corpus: reads the corpus into memory (see bench_corpus.h). The type sniff is a few magic
 * numbers, enough to route a workload line to the inputs it is meant for; the server and the
 * engine do their own, authoritative sniffing.
 */
#include "bench_corpus.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *bench_corpus_sniff(const uint8_t *d, size_t n)
{
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return "jpeg";
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "png";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return "webp";
    if (n >= 4 && memcmp(d, "GIF8", 4) == 0)
        return "gif";
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
        return "tiff";
    if (n >= 12 && memcmp(d + 4, "ftyp", 4) == 0)
        return (memcmp(d + 8, "avif", 4) == 0 || memcmp(d + 8, "avis", 4) == 0) ? "avif" : "heif";
    if (n >= 5 && (memcmp(d, "<svg", 4) == 0 || memcmp(d, "<?xml", 5) == 0))
        return "svg";
    return "other";
}

static const char *corpus_mime(const char *type)
{
    static const char *const map[][2] = {{"jpeg", "image/jpeg"}, {"png", "image/png"},    {"webp", "image/webp"},
                                         {"gif", "image/gif"},   {"tiff", "image/tiff"},  {"heif", "image/heif"},
                                         {"avif", "image/avif"}, {"svg", "image/svg+xml"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], type) == 0)
            return map[i][1];
    return "application/octet-stream";
}

static int corpus_read_file(const char *path, const char *name, bench_corpus *c, bench_error *err)
{
    int rc = -1;
    uint8_t *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return bench_error_set(err, "cannot open corpus file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        bench_error_set(err, "corpus entry %s is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > BENCH_CORPUS_MAX_FILE_BYTES ||
        c->total_bytes + (uint64_t)st.st_size > BENCH_CORPUS_MAX_TOTAL_BYTES) {
        bench_error_set(err, "corpus too large at %s (limits: %llu MiB a file, %llu MiB in all): use a smaller folder", path,
                        BENCH_CORPUS_MAX_FILE_BYTES >> 20, BENCH_CORPUS_MAX_TOTAL_BYTES >> 20);
        goto out;
    }
    if (st.st_size == 0) { /* an empty file is a valid (bad) input, but not a benchmark one: skip it */
        rc = 0;
        goto out;
    }
    data = malloc((size_t)st.st_size);
    if (!data || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        bench_error_set(err, "cannot read corpus file %s", path);
        goto out;
    }
    bench_image *grown = realloc(c->images, (c->n + 1) * sizeof(*grown));
    if (!grown) {
        bench_error_set(err, "out of memory loading the corpus");
        goto out;
    }
    c->images = grown;
    bench_image *im = &c->images[c->n];
    im->name = strdup(name);
    im->data = data;
    im->len = (size_t)st.st_size;
    im->type = bench_corpus_sniff(data, im->len);
    im->mime = corpus_mime(im->type);
    c->n++;
    c->total_bytes += im->len;
    data = NULL;
    rc = 0;
out:
    free(data);
    fclose(f);
    return rc;
}

static int corpus_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int bench_corpus_load(const char *path, bench_corpus *out, bench_error *err)
{
    memset(out, 0, sizeof(*out));
    struct stat st;
    if (stat(path, &st) != 0)
        return bench_error_set(err, "--corpus %s: %s (name a folder of images or one image)", path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        const char *slash = strrchr(path, '/');
        if (corpus_read_file(path, slash ? slash + 1 : path, out, err) != 0) {
            bench_corpus_free(out);
            return -1;
        }
        return out->n ? 0 : bench_error_set(err, "--corpus %s is an empty file", path);
    }

    int rc = -1;
    char **names = NULL;
    size_t n = 0;
    DIR *dir = opendir(path);
    if (!dir)
        return bench_error_set(err, "--corpus %s: cannot open folder: %s", path, strerror(errno));
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n >= BENCH_CORPUS_MAX_FILES) {
            bench_error_set(err, "--corpus %s has more than %d files: use a smaller folder", path, BENCH_CORPUS_MAX_FILES);
            goto out;
        }
        char **grown = realloc(names, (n + 1) * sizeof(*grown));
        if (!grown)
            goto out;
        names = grown;
        names[n++] = strdup(de->d_name);
    }
    qsort(names, n, sizeof(*names), corpus_name_cmp);
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, names[i]);
        struct stat fst;
        if (stat(full, &fst) != 0 || !S_ISREG(fst.st_mode))
            continue; /* sub-folders, sockets …: not part of the corpus */
        if (corpus_read_file(full, names[i], out, err) != 0)
            goto out;
    }
    if (out->n == 0) {
        bench_error_set(err, "--corpus %s holds no non-empty regular files", path);
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(dir);
    if (rc != 0)
        bench_corpus_free(out);
    return rc;
}

void bench_corpus_free(bench_corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->images[i].name);
        free(c->images[i].data);
    }
    free(c->images);
    c->images = NULL;
    c->n = 0;
    c->total_bytes = 0;
}
