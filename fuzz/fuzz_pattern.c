/* fuzz_pattern: libFuzzer target for the event-pattern compiler and both matchers. The input is a
 * pattern, a NUL byte, then an event (without the NUL, the input is used as both). Besides "no
 * crash, no leak, no UB" it checks what the contract promises: a rejected pattern gets an AWS-style
 * message; an accepted one has between 1 and SL_PATTERN_MAX_BRANCHES branches; and the multi-rule
 * machine reports the rule exactly when the direct evaluator says the pattern matches, alone, next
 * to other rules that share its states, and after those rules are removed again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX "Event pattern is not valid. Reason: "

typedef struct {
    int mine, others;
} seen;

static void on_rule(void *ctx, const char *id) {
    seen *s = ctx;
    if (!strcmp(id, "fuzzed")) s->mine++;
    else s->others++;
}

/* Rules whose first constraints often coincide with fuzzed ones, so states get shared. */
static const char *const NEIGHBOURS[] = {
    "{\"a\":[\"x\"]}",
    "{\"a\":[{\"prefix\":\"\"}],\"b\":[{\"exists\":false}]}",
    "{\"source\":[\"aws.s3\"],\"detail\":{\"object\":{\"key\":[{\"prefix\":\"in/\"}]}}}",
    "{\"$or\":[{\"a\":[1]},{\"b\":[{\"numeric\":[\">\",0]}]}]}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t plen = nul ? (size_t)(nul - data) : size;
    const char *ev_text = nul ? (const char *)nul + 1 : text;
    size_t ev_len = nul ? size - plen - 1 : size;

    char err[512];
    memset(err, 'z', sizeof err);
    sl_pattern *p = sl_pattern_compile(text, plen, err, sizeof err);
    if (!p) {
        if (strncmp(err, PREFIX, strlen(PREFIX)) || !memchr(err, 0, sizeof err)) abort();
        return 0;
    }
    size_t nb = sl_pattern_branch_count(p);
    if (nb < 1 || nb > SL_PATTERN_MAX_BRANCHES) abort();

    json_error_t jerr;
    json_t *ev = json_loadb(ev_text, ev_len, JSON_DECODE_ANY, &jerr);
    if (!ev && json_error_code(&jerr) == json_error_numeric_overflow)
        ev = json_loadb(ev_text, ev_len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);

    bool want = sl_pattern_match(p, ev);
    sl_matcher *m = sl_matcher_new();
    sl_matcher_add_compiled(m, "fuzzed", p);
    seen s = {0, 0};
    size_t n = sl_matcher_match(m, ev, on_rule, &s);
    if (s.mine != (want ? 1 : 0) || n != (size_t)s.mine) abort();

    for (size_t i = 0; i < sizeof NEIGHBOURS / sizeof *NEIGHBOURS; i++) {
        char id[8] = {'n', (char)('0' + i), 0};
        if (sl_matcher_add(m, id, NEIGHBOURS[i], strlen(NEIGHBOURS[i]), err, sizeof err)) abort();
    }
    s = (seen){0, 0};
    n = sl_matcher_match(m, ev, on_rule, &s);
    if (s.mine != (want ? 1 : 0) || n != (size_t)(s.mine + s.others)) abort();
    /* the text entry point (its own JSON reader) accepts what jansson accepts, and agrees; except
     * that a raw NUL byte is always refused, where jansson lets one pass after a number */
    seen t = {0, 0};
    long tn = sl_matcher_match_text(m, ev_text, ev_len, on_rule, &t);
    if (memchr(ev_text, 0, ev_len)) {
        if (tn != -1) abort();
    } else if (ev && json_is_object(ev)) {
        if (tn != (long)n || t.mine != s.mine) abort();
        if (sl_pattern_match_text(p, ev_text, ev_len) != want) abort();
    } else if (tn != -1) {
        abort();
    }
    for (size_t i = 0; i < sizeof NEIGHBOURS / sizeof *NEIGHBOURS; i++) {
        char id[8] = {'n', (char)('0' + i), 0};
        if (sl_matcher_remove(m, id)) abort();
    }
    s = (seen){0, 0};
    sl_matcher_match(m, ev, on_rule, &s);
    if (s.mine != (want ? 1 : 0) || s.others) abort();
    if (sl_matcher_remove(m, "fuzzed") || sl_matcher_rule_count(m) != 0) abort();
    if (sl_matcher_match(m, ev, NULL, NULL) != 0) abort();

    sl_matcher_free(m);
    json_decref(ev);
    sl_pattern_free(p);
    return 0;
}
