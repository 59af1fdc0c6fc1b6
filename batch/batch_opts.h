/*
 * batch_opts: the command line of `imgpipe batch` -> batch_opts, and its --help text, both from
 * one settings table (common/opt_table.h). Main thread only.
 */
#ifndef BATCH_OPTS_H
#define BATCH_OPTS_H

#include <stdio.h>

#include "batch_job.h"
#include "opt_table.h"

/* Parse argv (argv[0] is "batch") into opts. Returns 0; 1 when --help was printed (exit 0);
 * -1 on a usage error, with a message naming the option and what is allowed in msg. */
int batch_opts_parse(int argc, char **argv, batch_opts *opts, char *msg, size_t msg_len);

void batch_opts_usage(FILE *out);

/* The table (for tests and tools that list the settings). */
const opt_table *batch_opts_table(void);

#endif
