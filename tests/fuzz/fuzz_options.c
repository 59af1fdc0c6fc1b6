/*
 * fuzz_options: libFuzzer target for the option grammar (pl_plan_parse, pl_plan_parse_string).
 * Input: the whole "op?query" string. Checks the contract on every input: a result of 0 gives
 * 1..10 steps; -1 gives an error code other than PL_OK and a non-empty, printable message.
 * Build and run with tests/fuzz/run-fuzz.sh options SECONDS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pl_options.h"

static void fuzz_check(int r, const pl_plan *plan, const pl_error *err)
{
    if (r == 0) {
        if (plan->n_steps < 1 || plan->n_steps > PL_MAX_STEPS || (unsigned)plan->op >= PL_OP__COUNT)
            abort();
        for (int i = 0; i < plan->n_steps; i++)
            if ((unsigned)plan->steps[i].op >= PL_OP__COUNT)
                abort();
        return;
    }
    if (r != -1 || err->code == PL_OK || err->message[0] == '\0')
        abort();
    for (const char *c = err->message; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            abort(); /* messages go into JSON bodies and log lines */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pl_plan plan;
    pl_error err;
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    /* the CLI form: stops at the first NUL like any C string */
    pl_error_clear(&err);
    fuzz_check(pl_plan_parse_string(s, &plan, &err), &plan, &err);

    /* the HTTP form: op from the first byte, the raw bytes (NULs included) as the query */
    if (size > 0) {
        const char *op = pl_op_name((pl_op)(data[0] % PL_OP__COUNT));
        pl_error_clear(&err);
        fuzz_check(pl_plan_parse(op, s + 1, size - 1, &plan, &err), &plan, &err);
    }
    free(s);
    return 0;
}
