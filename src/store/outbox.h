/* outbox: events written in the same transaction as the change that raises them, so there is
 * no event without its change and no change without its events, across crashes. The events
 * dispatcher drains the table in id order. */
#ifndef SL_OUTBOX_H
#define SL_OUTBOX_H

#include <jansson.h>
#include <sqlite3.h>

/* Inside a store write job: appends (kind, payload). Returns 0 or -1. */
int sl_outbox_add(sqlite3 *db, const char *kind, const json_t *payload);

#endif
