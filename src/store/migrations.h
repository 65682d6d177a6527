/* migrations: the numbered schema changes of the embedded store, applied in order at open. */
#ifndef SL_MIGRATIONS_H
#define SL_MIGRATIONS_H

#include <sqlite3.h>
#include <stddef.h>

/* Brings the schema to the newest version; returns 0 or an SQLite error code. */
int sl_migrations_apply(sqlite3 *db, char *err, size_t errlen);

#endif
