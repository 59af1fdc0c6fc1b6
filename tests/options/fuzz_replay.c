/*
 * fuzz_replay: runs a libFuzzer target's LLVMFuzzerTestOneInput over every file of the seed
 * corpus directories given as arguments, without libFuzzer (gcc, meson's unit suite), so the seeds
 * and any kept crashers stay regression tests. The target aborts on a contract violation.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        int files = 0;
        if (!ok(d != NULL, "corpus %s opens", argv[i]))
            continue;
        struct dirent *e;
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
