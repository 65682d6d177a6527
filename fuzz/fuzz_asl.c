/* Fuzz target: Amazon States Language definitions from arbitrary bytes, through sl_asl_compile
 * and sl_asl_diagnose. Checks the contracts the engine and the API rely on: both entry points
 * agree (a machine exactly when there is no diagnostic), every refusal says why, every
 * diagnostic has a code and a message, indexes stay inside their machine, every state is found
 * by its name, and every compiled Choice state evaluates against a fixed input without
 * crashing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "states/asl.h"

static const char *INPUT =
    "{\"s\": \"log-1.txt\", \"n\": 3, \"b\": true, \"t\": \"2020-01-01T00:00:00+01:00\","
    " \"x\": null, \"a\": [1, \"2\", {\"k\": false}], \"o\": {\"s\": \"\\u00e9\"}}";
static const char *CTX = "{\"Execution\": {\"Input\": {\"n\": 1}}, \"Map\": {\"Item\": "
                         "{\"Index\": 0, \"Value\": \"v\"}}}";

static void check_index(const sl_asl_machine *m, int i, bool may_be_none) {
    if (i < 0 ? !(may_be_none && i == -1) : (size_t)i >= m->nstates) abort();
}

static int count_task(const sl_asl_state *st, void *ctx) {
    if (st->type != SL_ASL_TASK || !st->resource) abort();
    (*(size_t *)ctx)++;
    return 0;
}

static void walk(const sl_asl_machine *m, json_t *input, json_t *ctx) {
    check_index(m, m->start, false);
    for (size_t i = 0; i < m->nstates; i++) {
        const sl_asl_state *st = &m->states[i];
        if (sl_asl_find(m, st->name) != (int)i) abort();
        if (strcmp(sl_asl_type_name(st->type), "Unknown") == 0) abort();
        check_index(m, st->next, true);
        if (st->end && st->next != -1) abort();
        if (st->type != SL_ASL_CHOICE && !st->end && st->next < 0) abort();
        check_index(m, st->default_next, true);
        for (size_t c = 0; c < st->ncatchers; c++) check_index(m, st->catchers[c].next, false);
        for (size_t c = 0; c < st->nchoices; c++) check_index(m, st->choices[c].next, false);
        if (st->type == SL_ASL_CHOICE) {
            const char *en = NULL;
            char cause[256];
            int next = sl_asl_choose(st, input, ctx, &en, cause, sizeof cause);
            if (next < 0 && (!en || !cause[0])) abort();
            check_index(m, next, true);
        }
        for (size_t b = 0; b < st->nbranches; b++) walk(st->branches[b], input, ctx);
        if (st->iterator) walk(st->iterator, input, ctx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_t *input, *ctx;
    if (!input) {
        input = json_loads(INPUT, 0, NULL);
        ctx = json_loads(CTX, 0, NULL);
        if (!input || !ctx) abort();
    }
    if (size > 65536) return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    char err[1024];
    sl_asl_machine *m = sl_asl_compile(s, err, sizeof err);
    json_t *diags = sl_asl_diagnose(s);
    if (!json_is_array(diags)) abort();
    if ((m != NULL) != (json_array_size(diags) == 0)) abort();
    if (!m && strncmp(err, "Invalid State Machine Definition: '", 35) != 0) abort();
    size_t i;
    json_t *d;
    json_array_foreach(diags, i, d) {
        const char *code = json_string_value(json_object_get(d, "code"));
        const char *msg = json_string_value(json_object_get(d, "message"));
        json_t *loc = json_object_get(d, "location");
        if (!code || !code[0] || !msg || !msg[0]) abort();
        if (loc && (!json_is_string(loc) || json_string_value(loc)[0] != '/')) abort();
    }
    if (m) {
        walk(m, input, ctx);
        size_t ntasks = 0;
        if (sl_asl_each_task(m, count_task, &ntasks) != 0) abort();
    }
    json_decref(diags);
    sl_asl_free(m);
    free(s);
    return 0;
}
