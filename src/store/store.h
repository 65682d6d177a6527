/* store: the persistence interface. Embedded backend: SQLite in WAL mode under the data dir.
 *
 * Reads use a connection private to the calling thread (sl_store_reader). Every write goes
 * through one writer thread as a job: jobs that queue while a commit is in flight are applied
 * together in the next transaction (each inside its own SAVEPOINT, so a failing job rolls back
 * alone) and made durable by a single fsync. That is the group commit that lets many small
 * PUTs share one sync. A job's done callback runs on the writer thread after the commit is
 * durable, with the job's result; it must not block. */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_store sl_store;

/* A write job: runs inside the group transaction. Return 0 to keep its changes, anything else
 * (an error code of the caller's choosing) to roll back just this job. */
typedef int (*sl_store_write_fn)(sqlite3 *db, void *arg);
/* Called once the job's fate is durable: rc is the job's return, or SL_STORE_EIO when the
 * commit itself failed. */
typedef void (*sl_store_done_fn)(void *arg, int rc);

#define SL_STORE_EIO (-5)

sl_store *sl_store_open(const char *data_dir, char *err, size_t errlen);
void sl_store_close(sl_store *st);
const char *sl_store_dir(const sl_store *st);

/* This thread's read connection (opened on first use, closed by sl_store_close). */
sqlite3 *sl_store_reader(sl_store *st);

void sl_store_write_async(sl_store *st, sl_store_write_fn fn, sl_store_done_fn done, void *arg);
/* Blocking form: queues the job and waits for its durable result. */
int sl_store_write(sl_store *st, sl_store_write_fn fn, void *arg);

/* Registers fn to run on the writer thread after a durable commit in which some job called
 * sl_store_commit_signal (cheap and non-blocking: e.g. waking a dispatcher that drains what the
 * commit queued). One hook per store. */
void sl_store_on_commit(sl_store *st, void (*fn)(void *ctx), void *ctx);
/* Inside a write job: this commit queued work for the commit hook. */
void sl_store_commit_signal(void);

/* A write job of one statement with text parameters ?1..?n (a NULL argument binds NULL), for
 * the many API calls that write one row: sl_store_write(st, sl_store_exec_job, &job). Returns 0,
 * 1 when the statement hit a primary-key conflict (an "already exists"), -1 otherwise; sets
 * job.changes to the rows changed. */
typedef struct {
    const char *sql;
    const char *args[8];
    int nargs;
    int changes;
} sl_store_stmt_job;
int sl_store_exec_job(sqlite3 *db, void *job);

/* A prepared statement for sql on db from this thread's statement cache: reset, bindings
 * cleared, owned by the cache (never finalize it). sql must have static storage: its address
 * is the cache key. Call sqlite3_reset() when done reading so no read transaction stays open.
 * NULL (logged) when the SQL does not prepare. Hot paths use this: preparing costs more than
 * running a point query. */
sqlite3_stmt *sl_store_cached(sqlite3 *db, const char *sql);

/* For workers that poll a table of due rows: sql selects one value, the earliest due time in
 * ms since the epoch (e.g. "SELECT min(next_ms) FROM ..."). Returns the ms until then (0 when
 * already due), or INT64_MAX when sql gives NULL or fails. Reads with db. */
int64_t sl_store_due_in_ms(sqlite3 *db, const char *sql);

#endif
