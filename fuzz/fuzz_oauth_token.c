/* Fuzz target: an OAuth authorization endpoint's answer (any server a connection names) parsed
 * into an access token, and the freshness check on what came out. */
#include <stddef.h>
#include <stdint.h>

#include "events/events_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ev_oauth_token t;
    char err[160];
    if (ev_oauth_parse_token((const char *)data, size, 1700000000000LL, &t, err, sizeof err) == 0) {
        (void)ev_oauth_token_fresh(&t, 1700000000000LL + 30000);
        ev_oauth_token_clear(&t);
    }
    return 0;
}
