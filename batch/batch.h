/*
 * batch: `imgpipe batch`, the engine over folders of images from the command line.
 */
#ifndef BATCH_H
#define BATCH_H

/* argv[0] is "batch". Returns the process exit status (0 all ok, 1 some failed, 2 usage). */
int batch_main(int argc, char **argv);

#endif
