/* Fuzz target: JSONPath compile + evaluate + ResultPath placement from arbitrary bytes, against
 * a fixed input document and context object. Checks the contracts the engine relies on: a
 * definite path yields one value (never an array wrapper it did not select), an indefinite one
 * an array, and sl_jsonpath_put never changes its input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "states/jsonpath.h"

static const char *DOC =
    "{\"store\": {\"book\": [{\"category\": \"reference\", \"author\": \"Nigel Rees\", \"price\": "
    "8.95}, {\"category\": \"fiction\", \"isbn\": \"0-553-21311-3\", \"price\": 22.99, \"tags\": "
    "[\"a\", \"b\"]}], \"bicycle\": {\"color\": \"red\", \"price\": 19.95}}, \"n\": null, "
    "\"nums\": [0, 1, 2, 3, 4, 5], \"nested\": [[1, [2, [3]]], {\"x\": {\"x\": {\"x\": 1}}}], "
    "\"a b\": \"sp\", \"s\": \"h\\u00e9llo\", \"t\": true, \"e\": {}, \"z\": []}";
static const char *CTX =
    "{\"Execution\": {\"Id\": \"arn\", \"Input\": {\"k\": [1, 2]}}, \"Map\": {\"Item\": "
    "{\"Index\": 0, \"Value\": {\"v\": 1}}}, \"Task\": {\"Token\": \"t\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_t *doc, *ctx, *val;
    static char *doc_text;
    if (!doc) {
        doc = json_loads(DOC, 0, NULL);
        ctx = json_loads(CTX, 0, NULL);
        val = json_loads("{\"r\": [1]}", 0, NULL);
        doc_text = json_dumps(doc, JSON_COMPACT);
        if (!doc || !ctx || !val || !doc_text) abort();
    }
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    char err[512];
    sl_jsonpath *p = sl_jsonpath_compile(s, err, sizeof err);
    if (!p) {
        if (!err[0]) abort(); /* every rejection says why */
    } else {
        if (strcmp(sl_jsonpath_text(p), s) != 0) abort();
        json_t *r = sl_jsonpath_eval(p, doc, ctx, err, sizeof err);
        if (r && !sl_jsonpath_is_definite(p) && !json_is_array(r)) abort();
        if (!r && !err[0]) abort();
        json_decref(r);
        json_t *out = sl_jsonpath_put(p, doc, val, err, sizeof err);
        if (out && !sl_jsonpath_is_reference(p)) abort();
        if (out) {
            /* what was put can be read back */
            json_t *back = sl_jsonpath_eval(p, out, ctx, NULL, 0);
            if (!back || !json_equal(back, val)) abort();
            json_decref(back);
        }
        json_decref(out);
        char *after = json_dumps(doc, JSON_COMPACT);
        if (strcmp(after, doc_text) != 0) abort();
        free(after);
        sl_jsonpath_free(p);
    }
    /* the prefix form never reads past the terminator and reports what it used */
    size_t used = 0;
    p = sl_jsonpath_compile_prefix(s, &used, NULL, 0);
    if (p && used > size) abort();
    sl_jsonpath_free(p);
    free(s);
    return 0;
}
