/*
 * batch: `imgpipe batch`, the engine over folders of images from the command line.
 */
#ifndef SVC_BATCH_H
#define SVC_BATCH_H

/* argv[0] is "batch". Returns the process exit status (0 all ok, 1 some failed, 2 usage). */
int svc_batch_main(int argc, char **argv);

#endif
