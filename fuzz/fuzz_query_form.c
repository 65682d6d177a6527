/* Fuzz target: the Query protocol's form decoder (IAM, SNS) on arbitrary bodies; every decoded name
 * and value must be a NUL-terminated string that lookups return. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_form f;
    memset(&f, 0, sizeof f);
    char err[256];
    if (sl_form_parse(&f, (const char *)data, size, err, sizeof err) == 0) {
        const char *a = sl_form_get(&f, "Action");
        if (a) (void)strlen(a);
        const char *t = sl_form_getf(&f, "Tags.member.%d.Key", 1);
        if (t) (void)strlen(t);
    }
    sl_form_free(&f);
    return 0;
}
