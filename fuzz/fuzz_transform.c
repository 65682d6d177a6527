/* Fuzz target: InputTransformer templates and paths from arbitrary bytes, applied to a fixed
 * event. The first line is a JSON path for placeholder <p>; the rest is the template. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/events_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_t *event;
    if (!event)
        event = json_loads(
            "{\"id\":\"1\",\"detail\":{\"a\":[1,{\"b\":\"x\\\"y\"}],\"s\":\"<p>\",\"n\":null}}", 0,
            NULL);
    const char *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - (const char *)data) : size;
    char *path = strndup((const char *)data, plen);
    char *tpl = nl ? strndup(nl + 1, size - plen - 1) : strdup("");
    json_t *target = json_pack("{s:s,s:{s:{s:s},s:s}}", "Arn", "a", "InputTransformer",
                               "InputPathsMap", "p", path, "InputTemplate", tpl);
    if (target) {
        char err[256];
        if (ev_transform_valid(target, err, sizeof err)) {
            char *out = ev_transform(target, event, "arn", "rule", err, sizeof err);
            free(out);
        }
        json_decref(target);
    }
    free(path);
    free(tpl);
    return 0;
}
