/* Fuzz target: CloudWatch Logs filter patterns. The input is split at the first newline into a
 * pattern and a message; every compiled pattern is matched against the message and against a
 * JSON document, and a rejected pattern must say why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logs/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - (const char *)data) : size;
    char *pattern = strndup((const char *)data, plen);
    const char *msg = nl ? nl + 1 : "";
    size_t mlen = nl ? size - plen - 1 : 0;
    char err[512] = "";
    sl_log_filter *f = sl_log_filter_compile(pattern, err, sizeof err);
    if (f) {
        (void)sl_log_filter_match(f, msg, mlen);
        static const char doc[] = "{\"a\":1,\"b\":{\"c\":[1,\"x\",null,true]},\"level\":\"ERROR\"}";
        (void)sl_log_filter_match(f, doc, sizeof doc - 1);
        sl_log_filter_free(f);
    } else if (err[0] == '\0') {
        abort(); /* a rejection must carry a message */
    }
    free(pattern);
    return 0;
}
