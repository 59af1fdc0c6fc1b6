/*
 * main: the `imgpipe` command. Dispatches to `serve` (HTTP service) and `batch` (folders of images).
 */
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "svc_server.h"
#include "svc_worker.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: imgpipe serve [options]      run the HTTP service (imgpipe serve --help)\n"
                 "       imgpipe batch [options] ...  process files and folders (imgpipe batch --help)\n"
                 "       imgpipe version | --version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return svc_serve_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "worker") == 0) /* internal: started by serve's pool (svc_proc.c) */
        return svc_worker_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "batch") == 0)
        return batch_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("imgpipe %s\n", IMGPIPE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "imgpipe: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
