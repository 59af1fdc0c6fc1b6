/*
 * fuzz_replay (tests/fuzz): runs a libFuzzer target's LLVMFuzzerTestOneInput over every file of
 * the corpus folders given as arguments, without libFuzzer (gcc, meson's unit suite), so the
 * seeds and every kept crasher (corpus_TARGET/crash-*) stay regression tests. The target aborts
 * on a contract violation, which fails the test. Inputs up to 1 MiB.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    enum { MAX = 1 << 20 };
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;
    if (f == NULL)
        return -1;
    buf = malloc(MAX);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, MAX, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        int files = 0;
        struct dirent *e;
        if (!ok(d != NULL, "corpus %s opens", argv[i]))
            continue;
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            ok(replay_file(path) == 0, "replayed %s", e->d_name);
            files++;
        }
        closedir(d);
        ok(files > 0, "corpus %s has %d inputs", argv[i], files);
    }
    return tap_done();
}
