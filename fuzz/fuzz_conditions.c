/* Fuzz target: Range headers, ETag lists and conditional headers from arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objects/conditions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    uint64_t start, end;
    uint64_t sizes[] = {0, 1, 100, UINT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        int rc = s3_range_parse(s, sizes[i], &start, &end);
        if (rc == 1 && (start > end || end >= sizes[i])) abort();
    }
    (void)s3_etag_list_matches(s, "\"abc\"");
    (void)s3_etag_list_matches("\"abc\"", s);
    s3_conditions c = {
        .if_match = s, .if_none_match = s, .if_modified_since = s, .if_unmodified_since = s};
    (void)s3_conditions_check(&c, "\"abc\"", 1700000000000);
    free(s);
    return 0;
}
