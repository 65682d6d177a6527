/* store: SQLite (WAL) with one writer thread doing group commits, and per-thread readers.
 * Owns the database file and its connections; knows no service's tables beyond migrations. */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "store/migrations.h"

#define MAX_BATCH 512

typedef struct write_job {
    sl_store_write_fn fn;
    sl_store_done_fn done;
    void *arg;
    int rc;
    struct write_job *next;
} write_job;

typedef struct reader {
    sqlite3 *db;
    struct reader *next;
} reader;

struct sl_store {
    char *dir;
    char *db_path;
    sqlite3 *writer;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    write_job *head, *tail;
    bool stopping;
    reader *readers;
    pthread_key_t reader_key;
    void (*on_commit)(void *ctx);
    void *on_commit_ctx;
};

void sl_store_on_commit(sl_store *st, void (*fn)(void *ctx), void *ctx) {
    pthread_mutex_lock(&st->lock);
    st->on_commit = fn;
    st->on_commit_ctx = ctx;
    pthread_mutex_unlock(&st->lock);
}

static void close_conn(sqlite3 *db);

static int open_conn(const char *path, sqlite3 **out, bool writer) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, out, flags, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_busy_timeout(*out, 10000);
    sqlite3_exec(*out,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                 "PRAGMA temp_store=MEMORY;",
                 NULL, NULL, NULL);
    /* Readers are one per HTTP thread: keep their page caches small (idle RSS). */
    sqlite3_exec(*out, writer ? "PRAGMA cache_size=-1024" : "PRAGMA cache_size=-512", NULL, NULL,
                 NULL);
    /* Pages of the database file are read through a shared mapping rather than a pread(2)
     * each: every write in WAL mode sends the other connections back to the file for the
     * pages it changed, and a read here was a system call each (16 a pipeline). */
    sqlite3_exec(*out, "PRAGMA mmap_size=67108864", NULL, NULL, NULL);
    return SQLITE_OK;
}

static __thread bool commit_signalled;

void sl_store_commit_signal(void) { commit_signalled = true; }

/* One transaction-control statement, prepared once per connection (the writer runs a
 * SAVEPOINT and a RELEASE per job: parsing them each time was measurable). */
static bool exec_cached(sqlite3 *db, const char *sql) {
    sqlite3_stmt *stmt = sl_store_cached(db, sql);
    if (!stmt) return false;
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE", SQL_COMMIT[] = "COMMIT",
                  SQL_ROLLBACK[] = "ROLLBACK", SQL_SAVEPOINT[] = "SAVEPOINT job",
                  SQL_ROLLBACK_TO[] = "ROLLBACK TO job", SQL_RELEASE[] = "RELEASE job";

static void run_batch(sl_store *st, write_job *batch) {
    commit_signalled = false;
    sqlite3 *db = st->writer;
    bool ok = exec_cached(db, SQL_BEGIN);
    for (write_job *j = batch; j; j = j->next) {
        if (!ok) {
            j->rc = SL_STORE_EIO;
            continue;
        }
        exec_cached(db, SQL_SAVEPOINT);
        j->rc = j->fn(db, j->arg);
        if (j->rc != 0) exec_cached(db, SQL_ROLLBACK_TO);
        exec_cached(db, SQL_RELEASE);
    }
    if (ok && !exec_cached(db, SQL_COMMIT)) {
        sl_error("\"commit failed\" detail=\"%s\"", sqlite3_errmsg(db));
        exec_cached(db, SQL_ROLLBACK);
        ok = false;
    }
    for (write_job *j = batch, *n; j; j = n) {
        n = j->next;
        j->done(j->arg, ok ? j->rc : SL_STORE_EIO);
        free(j);
    }
    if (ok && commit_signalled && st->on_commit) st->on_commit(st->on_commit_ctx);
}

static void *writer_main(void *arg) {
    sl_store *st = arg;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (!st->head && !st->stopping) pthread_cond_wait(&st->wake, &st->lock);
        if (!st->head && st->stopping) break;
        /* Take up to MAX_BATCH jobs: everything that queued during the last commit. */
        write_job *batch = st->head, *last = batch;
        int n = 1;
        while (last->next && n < MAX_BATCH) last = last->next, n++;
        st->head = last->next;
        if (!st->head) st->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&st->lock);
        run_batch(st, batch);
        pthread_mutex_lock(&st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

sl_store *sl_store_open(const char *data_dir, char *err, size_t errlen) {
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir %s: %s", data_dir, strerror(errno));
        return NULL;
    }
    sl_store *st = sl_xcalloc(1, sizeof *st);
    st->dir = sl_xstrdup(data_dir);
    sl_buf p;
    sl_buf_init(&p);
    sl_buf_printf(&p, "%s/sluice.db", data_dir);
    st->db_path = sl_buf_steal(&p);
    if (open_conn(st->db_path, &st->writer, true) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", st->db_path,
                 st->writer ? sqlite3_errmsg(st->writer) : "out of memory");
        sqlite3_close(st->writer);
        free(st->dir);
        free(st->db_path);
        free(st);
        return NULL;
    }
    if (sl_migrations_apply(st->writer, err, errlen) != SQLITE_OK) {
        sqlite3_close(st->writer);
        free(st->dir);
        free(st->db_path);
        free(st);
        return NULL;
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->wake, NULL);
    pthread_key_create(&st->reader_key, NULL);
    pthread_create(&st->thread, NULL, writer_main, st);
    pthread_setname_np(st->thread, "sl-store");
    return st;
}

void sl_store_close(sl_store *st) {
    if (!st) return;
    pthread_mutex_lock(&st->lock);
    st->stopping = true;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
    pthread_join(st->thread, NULL);
    for (reader *r = st->readers, *n; r; r = n) {
        n = r->next;
        close_conn(r->db);
        free(r);
    }
    close_conn(st->writer);
    pthread_key_delete(st->reader_key);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->wake);
    free(st->dir);
    free(st->db_path);
    free(st);
}

const char *sl_store_dir(const sl_store *st) { return st->dir; }

sqlite3 *sl_store_reader(sl_store *st) {
    reader *r = pthread_getspecific(st->reader_key);
    if (r) return r->db;
    r = sl_xcalloc(1, sizeof *r);
    if (open_conn(st->db_path, &r->db, false) != SQLITE_OK) {
        sl_error("\"cannot open reader\" detail=\"%s\"", sqlite3_errmsg(r->db));
    }
    pthread_setspecific(st->reader_key, r);
    pthread_mutex_lock(&st->lock);
    r->next = st->readers;
    st->readers = r;
    pthread_mutex_unlock(&st->lock);
    return r->db;
}

void sl_store_write_async(sl_store *st, sl_store_write_fn fn, sl_store_done_fn done, void *arg) {
    write_job *j = sl_xcalloc(1, sizeof *j);
    j->fn = fn;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&st->lock);
    if (st->tail) st->tail->next = j;
    else st->head = j;
    st->tail = j;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    sl_store_write_fn fn;
    void *arg;
} sync_wait;

static int sync_run(sqlite3 *db, void *arg) {
    sync_wait *w = arg;
    return w->fn(db, w->arg);
}
static void sync_done(void *arg, int rc) {
    sync_wait *w = arg;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    w->rc = rc;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int sl_store_write(sl_store *st, sl_store_write_fn fn, void *arg) {
    sync_wait w = {.fn = fn, .arg = arg};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    sl_store_write_async(st, sync_run, sync_done, &w);
    pthread_mutex_lock(&w.lock);
    while (!w.done) pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    return w.rc;
}

/* The statement cache: per thread, set-associative on (connection, SQL address): a set of
 * STMT_CACHE_WAYS slots, the least recently used one replaced (the writer thread alone runs
 * every service's write statements; a direct-mapped cache thrashed there, re-preparing hot
 * statements). Closing a store finalizes every statement of its connections and bumps the
 * generation, so entries cached by any thread for a closed connection are treated as empty,
 * never used. */
#define STMT_CACHE_SETS 64
#define STMT_CACHE_WAYS 4

static _Atomic unsigned stmt_generation = 1;

typedef struct {
    sqlite3 *db;
    const char *sql;
    sqlite3_stmt *stmt;
    unsigned gen;
    unsigned used; /* the set's clock when last returned */
} stmt_slot;

static __thread stmt_slot stmt_cache[STMT_CACHE_SETS][STMT_CACHE_WAYS];
static __thread unsigned stmt_clock;

sqlite3_stmt *sl_store_cached(sqlite3 *db, const char *sql) {
    uintptr_t h = ((uintptr_t)sql >> 3) ^ ((uintptr_t)db >> 4);
    stmt_slot *set = stmt_cache[(h ^ (h >> 7) ^ (h >> 13)) % STMT_CACHE_SETS];
    unsigned gen = atomic_load(&stmt_generation);
    stmt_slot *victim = &set[0];
    for (int i = 0; i < STMT_CACHE_WAYS; i++) {
        stmt_slot *slot = &set[i];
        if (slot->gen == gen && slot->db == db && slot->sql == sql) {
            slot->used = ++stmt_clock;
            sqlite3_reset(slot->stmt);
            sqlite3_clear_bindings(slot->stmt);
            return slot->stmt;
        }
        if (slot->gen != gen) victim = slot, victim->used = 0; /* empty or stale: take it first */
        else if (victim->gen == gen && slot->used < victim->used) victim = slot;
    }
    if (victim->gen == gen && victim->stmt) sqlite3_finalize(victim->stmt);
    victim->stmt = NULL;
    victim->gen = 0;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
        sl_error("\"prepare failed\" sql=\"%.60s\" detail=\"%s\"", sql, sqlite3_errmsg(db));
        return NULL;
    }
    victim->db = db;
    victim->sql = sql;
    victim->stmt = stmt;
    victim->gen = gen;
    victim->used = ++stmt_clock;
    return stmt;
}

/* Finalizes every statement of a connection (cached ones included) and closes it. */
static void close_conn(sqlite3 *db) {
    if (!db) return;
    atomic_fetch_add(&stmt_generation, 1);
    sqlite3_stmt *s;
    while ((s = sqlite3_next_stmt(db, NULL))) sqlite3_finalize(s);
    sqlite3_close(db);
}

int sl_store_exec_job(sqlite3 *db, void *arg) {
    sl_store_stmt_job *j = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, j->sql, -1, &st, NULL) != SQLITE_OK) return -1;
    for (int i = 0; i < j->nargs; i++) sqlite3_bind_text(st, i + 1, j->args[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY ? 1 : -1;
    j->changes = sqlite3_changes(db);
    return 0;
}

int64_t sl_store_due_in_ms(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = sl_store_cached(db, sql);
    int64_t next = INT64_MAX;
    if (!st) return next;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        int64_t due = sqlite3_column_int64(st, 0) - sl_now_ms();
        next = due < 0 ? 0 : due;
    }
    sqlite3_reset(st);
    return next;
}
