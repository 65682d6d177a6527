/* outbox: appends rows to the outbox table inside the caller's transaction. */
#include "store/outbox.h"

#include <stdlib.h>

#include "core/ids.h"
#include "store/store.h"

int sl_outbox_add(sqlite3 *db, const char *kind, const json_t *payload) {
    sqlite3_stmt *st =
        sl_store_cached(db, "INSERT INTO outbox (kind, payload, created_ms) VALUES (?1, ?2, ?3)");
    if (!st) return -1;
    char *text = json_dumps(payload, JSON_COMPACT);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, sl_now_ms());
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(text);
    if (rc != SQLITE_DONE) return -1;
    sl_store_commit_signal();
    return 0;
}
