/*
 * opt_table: the settings machinery of every imgpipe command (`imgpipe serve`, `imgpipe batch`,
 * `imgpipe-bench`). A command describes its settings as one table of rows (name, short alias, type,
 * range, default, help, the field it fills); this file turns the table into the command line
 * (`--name value`, `--name=value`, `-x value`, `-xVALUE`, bundled `-rq`, positional arguments, `--`),
 * the environment (IMGPIPE_NAME, when the table names a prefix), `--help`, `--print-env` and the
 * settings' JSON, with error messages naming the option and what it accepts. Plain C: no h2o, no
 * libvips. Shared rows (the engine's limits) are in opt_limits.h.
 *
 * Value syntax, one for every command:
 *   INT       a whole number (min..max);
 *   REAL      a decimal number (min..max);
 *   BYTES     a whole number with an optional unit B, K/KiB/KB, M/MiB/MB, G/GiB/GB (all powers of 1024);
 *   DURATION  a decimal number with an optional unit ms, s or m; a bare number is seconds ("10", "0.5",
 *             "500ms", "2m"); stored in whole milliseconds (rounded), min/max in milliseconds;
 *   BOOL      on|off (also true/false, yes/no, 1/0);
 *   FLAG      a bool set by the bare flag (`--recursive`, `-r`); in the environment on|off;
 *   ENUM      one of the row's comma-separated choices, stored as its index (int);
 *   STR       any text; "" = unset (NULL);
 *   LIST      STR repeatable: each flag adds one value (at most max, at most OPT_LIST_MAX); the
 *             environment variable holds a comma-separated list. The first flag replaces the values
 *             of the default and the environment.
 * Precedence: the row's default < the environment < the command line.
 *
 * Ownership: STR values and LIST items point into argv, the environment or the row's default (all
 * live as long as the process; imgpipe never changes its environment), except the items of a LIST
 * split from a comma-separated default or environment value, which are copied into list->owned:
 * opt_free() releases those. Tables are constant; opt_parse() runs on the main thread at startup.
 */
#ifndef OPT_TABLE_H
#define OPT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { OPT_LIST, OPT_STR, OPT_INT, OPT_REAL, OPT_BYTES, OPT_DURATION, OPT_BOOL, OPT_FLAG, OPT_ENUM } opt_type;

#define OPT_LIST_MAX 32  /* values of one LIST row */
#define OPT_MAX_ROWS 128 /* rows of one table */

typedef struct opt_list {
    const char *v[OPT_LIST_MAX];
    int n;
    char *owned; /* the copy the items were split from, or NULL */
} opt_list;

typedef struct opt_row {
    const char *name; /* --name; env PREFIX + NAME (upper case, '-' -> '_') */
    char alias;       /* -x, or 0 */
    opt_type type;
    double min, max;     /* INT, REAL, BYTES; DURATION in ms; LIST: max = most values */
    const char *def;     /* default, in the flag's syntax; "" = none (field left 0 / NULL) */
    const char *choices; /* ENUM: comma-separated */
    size_t off, size;    /* the field, OPT_AT(struct, member). INT/BYTES/DURATION: int or long long (or a 32- or
                            64-bit unsigned); REAL: double; BOOL/FLAG: bool; ENUM: int; STR: const char *; LIST: opt_list */
    const char *arg;     /* the value's name in --help ("DIR", "N"); NULL = the type's */
    const char *help;
    bool secret; /* "(set)" in the JSON */
    /* Extra test of one value (each LIST item), after the type's: 0, or -1 with what is allowed in msg. */
    int (*check)(const char *value, char *msg, size_t msg_len);
} opt_row;

/* In a row's initializer: the field it fills. */
#define OPT_AT(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

typedef struct opt_table {
    const char *command;    /* "imgpipe serve": usage messages */
    const char *intro;      /* --help text before the rows (usage lines, what the command does) */
    const char *outro;      /* --help text after the rows, or NULL */
    const char *env_prefix; /* "IMGPIPE_": settings also read from the environment, --print-env; NULL: neither */
    const char *args;       /* positional arguments in --help ("INPUT..."); NULL: none accepted */
    const opt_row *rows;
    size_t n_rows;
} opt_table;

typedef struct opt_parsed {
    char **args; /* the positional arguments, in order (moved to the front of argv + 1) */
    int n_args;
    bool given[OPT_MAX_ROWS]; /* row i was set by the environment or the command line */
} opt_parsed;

/* Fill dst (zeroed by the caller) from the defaults, the environment and argv (argv[0] is the command).
 * Returns 0; 1 when --help or --print-env was printed on stdout (exit 0); -1 with a message naming
 * the option and what it accepts in msg (exit 2). out may be NULL when the caller needs neither
 * the positional arguments nor which rows were given. */
int opt_parse(const opt_table *t, int argc, char **argv, void *dst, opt_parsed *out, char *msg, size_t msg_len);
void opt_free(const opt_table *t, void *dst);

void opt_help(const opt_table *t, FILE *out);
void opt_print_env(const opt_table *t, FILE *out);
/* The settings as one JSON object (DURATION names get "_ms"; secrets "(set)"), no newline. */
void opt_json(const opt_table *t, const void *src, FILE *out);

const opt_row *opt_find(const opt_table *t, const char *name);
/* printf into msg; returns -1, for `return opt_fail(msg, len, "...", ...)` in a command's own checks. */
int opt_fail(char *msg, size_t msg_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An ENUM's choice idx as "name" (len bytes of the row's choices), for messages. */
const char *opt_enum_name(const opt_row *r, int idx, int *len);

#endif
