/* batch: stub, to be written. */
#include <stdio.h>
#include "batch.h"
int svc_batch_main(int argc, char **argv)
{
    fprintf(stderr, "imgpipe batch: not built yet\n");
    return 2;
}
