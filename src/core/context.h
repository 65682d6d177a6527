/* context: what every service is given at start-up: the configuration, the store and the
 * credentials. Passed explicitly (no globals), so tests can run several daemons in one
 * process and each service states what it depends on. */
#ifndef SL_CONTEXT_H
#define SL_CONTEXT_H

#include "core/config.h"

struct sl_store;
struct sl_credentials;

typedef struct {
    const sl_config *cfg;
    struct sl_store *store;
    struct sl_credentials *credentials;
} sl_context;

#endif
