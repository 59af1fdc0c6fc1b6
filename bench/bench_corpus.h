/*
 * bench_corpus: the input images, read into memory once before the run so that reading files
 * never shows up in the measurement. A corpus is a directory (its regular, non-hidden files,
 * sorted by name, not recursive) or a single file. Each image's type is sniffed from its bytes.
 *
 * Ownership: bench_corpus_load() fills a caller-owned bench_corpus; bench_corpus_free() releases
 * it. After loading it is read-only and may be shared by any number of threads.
 */
#ifndef BENCH_CORPUS_H
#define BENCH_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

#define BENCH_CORPUS_MAX_FILES 100000
#define BENCH_CORPUS_MAX_FILE_BYTES (512ull << 20)
#define BENCH_CORPUS_MAX_TOTAL_BYTES (4ull << 30)

typedef struct bench_image {
    char *name; /* file name, for messages */
    uint8_t *data;
    size_t len;
    const char *type; /* sniffed: "jpeg", "png", "webp", "gif", "tiff", "heif", "avif", "svg" or "other" */
    const char *mime; /* "image/jpeg" … or "application/octet-stream" */
} bench_image;

typedef struct bench_corpus {
    bench_image *images;
    size_t n;
    uint64_t total_bytes;
} bench_corpus;

/* Load path (directory or file). Fails when nothing loads or a bound above is passed. */
int bench_corpus_load(const char *path, bench_corpus *out, bench_error *err);
void bench_corpus_free(bench_corpus *c);

/* The type name of some bytes, as above. */
const char *bench_corpus_sniff(const uint8_t *data, size_t len);

#endif
