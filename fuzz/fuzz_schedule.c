/* Fuzz target: schedule expressions; every accepted one must give a next time after now. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = strndup((const char *)data, size);
    char err[256];
    sl_schedule *sc = sl_schedule_parse(s, err, sizeof err);
    if (sc) {
        int64_t now = 1767225600000; /* 2026-01-01 */
        int64_t next = sl_schedule_next(sc, now);
        if (next != -1 && next <= now) abort();
        sl_schedule_free(sc);
    }
    free(s);
    return 0;
}
