/* svc_server: stub, to be written. */
#include <stdio.h>
#include "svc_server.h"
int svc_serve_main(int argc, char **argv)
{
    fprintf(stderr, "imgpipe serve: not built yet\n");
    return 1;
}
