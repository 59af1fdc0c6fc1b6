/*
 * prom_check: a small Prometheus text-format (0.0.4) checker for the ops tests (libprom_check.a,
 * prom_check.c). Single-threaded (one prom value per caller). prom_parse() checks every line:
 * HELP/TYPE comments (one TYPE per family, before its samples), metric and label name charsets,
 * label value escapes, sample values, counters named *_total, no duplicate series, and for
 * histograms: _bucket series with `le`, bounds increasing, counts cumulative, a final le="+Inf"
 * equal to _count, and a _sum. prom_get() reads one series' value back.
 */
#ifndef PROM_CHECK_H
#define PROM_CHECK_H

#include <stddef.h>

#define PROM_MAX_SERIES 4096
#define PROM_MAX_FAMILIES 256

typedef struct prom_series {
    char name[128];
    char labels[512]; /* canonical "a=\"x\",b=\"y\"" as written */
    char labels_no_le[512];
    char le[32];
    double value;
} prom_series;

typedef struct prom_family {
    char name[128];
    char type[16];
    int has_help;
} prom_family;

typedef struct prom {
    prom_series s[PROM_MAX_SERIES];
    int n;
    prom_family f[PROM_MAX_FAMILIES];
    int nf;
    char err[512];
} prom;

/* Parses text into p. Returns 0 or -1 with p->err. */
int prom_parse(prom *p, const char *text, size_t len);
/* Value of name{labels} (labels exactly as rendered, "" for none); -1 when absent. */
double prom_get(const prom *p, const char *name, const char *labels);
/* The family (HELP/TYPE) named name, or NULL. */
prom_family *prom_fam_find(prom *p, const char *name);

#endif
