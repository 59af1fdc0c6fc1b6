/*
 * fuzz_pipeline_json: libFuzzer target for /pipeline's `operations` JSON (pl_pipeline_json.c via
 * pl_plan_parse). Input: the JSON text; it is percent-encoded into "operations=…" so every byte
 * reaches jansson and the step builder. Same contract checks as fuzz_options.
 * Build and run with tests/fuzz/run-fuzz.sh pipeline_json SECONDS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pl_plan plan;
    static const char hex[] = "0123456789ABCDEF";
    pl_error err;
    const char prefix[] = "operations=";
    char *q = malloc(sizeof(prefix) + 3 * size);
    if (q == NULL)
        return 0;
    size_t o = sizeof(prefix) - 1;
    memcpy(q, prefix, o);
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data[i];
        if (c == '%' || c == '&' || c == '+' || c < 0x20 || c >= 0x7f) {
            q[o++] = '%';
            q[o++] = hex[c >> 4];
            q[o++] = hex[c & 15];
        } else {
            q[o++] = (char)c;
        }
    }
    pl_error_clear(&err);
    int r = pl_plan_parse("pipeline", q, o, &plan, &err);
    if (r == 0 && (plan.op != PL_OP_PIPELINE || plan.n_steps < 1 || plan.n_steps > PL_MAX_STEPS))
        abort();
    if (r != 0) {
        if (r != -1 || err.code == PL_OK || err.message[0] == '\0')
            abort();
        for (const char *c = err.message; *c != '\0'; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
                abort();
    }
    free(q);
    return 0;
}
