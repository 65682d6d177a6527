/* Fuzz target: intrinsic function compile + evaluate from arbitrary bytes against a fixed input
 * document and context object; the same bytes are also tried as a `.$` value of a payload
 * template. Every failure must carry an error name and a cause. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "states/intrinsics.h"
#include "states/payload.h"

static const char *DOC =
    "{\"name\": \"Arnav\", \"template\": \"Hello, my name is {}.\", \"arr\": [1, 2, 3, 3, "
    "\"x\", {\"k\": 1}], \"nums\": [5, 1, 9], \"obj\": {\"a\": {\"b\": 1}, \"c\": [true]}, "
    "\"obj2\": {\"a\": 2}, \"s\": \"a,b;c\", \"b64\": \"RGF0YSB0byBlbmNvZGU=\", \"json\": "
    "\"{\\\"foo\\\": [1, null]}\", \"i\": 2, \"f\": 1.5, \"neg\": -7, \"big\": 2147483647, "
    "\"n\": null, \"t\": true, \"empty\": \"\"}";
static const char *CTX = "{\"Execution\": {\"Id\": \"arn\", \"Name\": \"e\"}, \"Map\": {\"Item\": "
                         "{\"Index\": 3, \"Value\": \"v\"}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_t *doc, *ctx;
    if (!doc) {
        doc = json_loads(DOC, 0, NULL);
        ctx = json_loads(CTX, 0, NULL);
        if (!doc || !ctx) abort();
    }
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    char err[1024];
    sl_intrinsic *f = sl_intrinsic_compile(s, err, sizeof err);
    if (!f) {
        if (!err[0]) abort();
    } else {
        const char *name = NULL;
        json_t *r = sl_intrinsic_eval(f, doc, ctx, &name, err, sizeof err);
        if (!r && (!name || !err[0])) abort();
        if (r) {
            char *text = sl_intrinsic_json_text(r);
            json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (!back) abort(); /* the JSON text form is always valid JSON */
            json_decref(back);
            free(text);
        }
        json_decref(r);
        sl_intrinsic_free(f);
    }
    /* as a payload template field (only valid UTF-8 can be a JSON string) */
    json_t *v = json_stringn(s, size);
    if (v) {
        json_t *tmpl = json_pack("{s:o,s:[{s:O}]}", "x.$", v, "arr", "y.$", v);
        sl_payload *t = sl_payload_compile(tmpl, err, sizeof err);
        if (t) {
            const char *name = NULL;
            json_t *r = sl_payload_eval(t, doc, ctx, &name, err, sizeof err);
            if (!r && (!name || !err[0])) abort();
            json_decref(r);
            sl_payload_free(t);
        } else if (!err[0]) {
            abort();
        }
        json_decref(tmpl);
    }
    free(s);
    return 0;
}
