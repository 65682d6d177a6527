/* logs: the service's lifetime (register the wire, run the retention sweeper), the append job
 * that PutLogEvents and sl_logs_append share, and the sweep itself.
 *
 * An append is one store job whatever the number of lines: find or create the group and the
 * stream, one cached prepared insert per line, then one update of the stream's first/last
 * timestamps and one of the group's stored bytes. Retention is enforced twice: reads never
 * return events older than the group's retention, and the sweeper deletes them in bounded
 * batches so a large backlog never holds the writer for long. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "logs/logs_internal.h"

#define SWEEP_FIRST_MS  (10 * 1000)
#define SWEEP_PERIOD_MS (10 * 60 * 1000)
#define SWEEP_BATCH     5000
#define SWEEP_ROUNDS    100 /* batches per group per sweep */

/* ---- retention ---- */

bool lg_retention_valid(int64_t days) {
    static const int valid[] = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                                365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        if (valid[i] == days) return true;
    return false;
}

int64_t lg_retention_cutoff(int retention_days, int64_t now_ms) {
    if (retention_days <= 0) return INT64_MIN;
    return now_ms - (int64_t)retention_days * LG_DAY_MS;
}

/* ---- append ---- */

static const char SQL_GROUP_ID[] = "SELECT id FROM log_groups WHERE name=?1";
static const char SQL_GROUP_INSERT[] = "INSERT INTO log_groups (name, created_ms) VALUES (?1, ?2)";
static const char SQL_STREAM_ID[] = "SELECT id FROM log_streams WHERE group_id=?1 AND name=?2";
static const char SQL_STREAM_INSERT[] =
    "INSERT INTO log_streams (group_id, name, created_ms) VALUES (?1, ?2, ?3)";
static const char SQL_EVENT_INSERT[] =
    "INSERT INTO log_events (group_id, stream_id, ts, ingest_ms, message) VALUES (?1,?2,?3,?4,?5)";
static const char SQL_STREAM_TOUCH[] =
    "UPDATE log_streams SET first_ts=min(coalesce(first_ts, ?2), ?2),"
    " last_ts=max(coalesce(last_ts, ?3), ?3), last_ingest_ms=?4 WHERE id=?1";
static const char SQL_GROUP_BYTES[] =
    "UPDATE log_groups SET stored_bytes=stored_bytes+?2 WHERE id=?1";

/* Runs a cached statement to completion; returns the sqlite result. */
static int step_done(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The id of the row found by a cached one-column lookup, 0 when absent, -1 on error. */
static int64_t lookup_id(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return id;
}

static int64_t find_or_create(sqlite3 *db, const char *find_sql, const char *insert_sql,
                              int64_t group_id, const char *name, int64_t now, bool create,
                              bool *absent) {
    sqlite3_stmt *st = sl_store_cached(db, find_sql);
    if (!st) return -1;
    int arg = 1;
    if (group_id) sqlite3_bind_int64(st, arg++, group_id);
    sqlite3_bind_text(st, arg, name, -1, SQLITE_STATIC);
    int64_t id = lookup_id(st);
    if (id != 0) return id;
    if (!create) {
        *absent = true;
        return 0;
    }
    st = sl_store_cached(db, insert_sql);
    if (!st) return -1;
    arg = 1;
    if (group_id) sqlite3_bind_int64(st, arg++, group_id);
    sqlite3_bind_text(st, arg++, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, arg, now);
    if (step_done(st) != 0) return -1;
    return sqlite3_last_insert_rowid(db);
}

int lg_append_job(sqlite3 *db, void *arg) {
    lg_append *a = arg;
    bool absent = false;
    int64_t gid = find_or_create(db, SQL_GROUP_ID, SQL_GROUP_INSERT, 0, a->group, a->now_ms,
                                 a->create_group, &absent);
    if (gid < 0) return -1;
    if (absent) {
        a->result = LG_NO_GROUP;
        return 0;
    }
    int64_t sid = find_or_create(db, SQL_STREAM_ID, SQL_STREAM_INSERT, gid, a->stream, a->now_ms,
                                 a->create_stream, &absent);
    if (sid < 0) return -1;
    if (absent) {
        a->result = LG_NO_STREAM;
        return 0;
    }
    a->result = LG_OK;
    a->stream_id = sid;
    if (a->n == 0) return 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN, bytes = 0;
    for (size_t i = 0; i < a->n; i++) {
        const sl_log_line *line = &a->lines[i];
        sqlite3_stmt *st = sl_store_cached(db, SQL_EVENT_INSERT);
        if (!st) return -1;
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_int64(st, 2, sid);
        sqlite3_bind_int64(st, 3, line->timestamp_ms);
        sqlite3_bind_int64(st, 4, a->now_ms);
        sqlite3_bind_text(st, 5, line->message, (int)line->len, SQLITE_STATIC);
        if (step_done(st) != 0) return -1;
        if (line->timestamp_ms < lo) lo = line->timestamp_ms;
        if (line->timestamp_ms > hi) hi = line->timestamp_ms;
        bytes += (int64_t)line->len;
    }
    sqlite3_stmt *st = sl_store_cached(db, SQL_STREAM_TOUCH);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    sqlite3_bind_int64(st, 4, a->now_ms);
    if (step_done(st) != 0) return -1;
    st = sl_store_cached(db, SQL_GROUP_BYTES);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_int64(st, 2, bytes);
    return step_done(st);
}

bool lg_group_name_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 512) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._-/#", *s)))
            return false;
    return true;
}

bool lg_stream_name_valid(const char *s) {
    size_t n = strlen(s);
    return n > 0 && n <= 512 && !strpbrk(s, ":*");
}

/* Whether s[0..n) is valid UTF-8 (what JSON answers must carry). */
static bool utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) k = 1, cp = c & 0x1Fu;
        else if ((c & 0xF0) == 0xE0) k = 2, cp = c & 0x0Fu;
        else if ((c & 0xF8) == 0xF0) k = 3, cp = c & 0x07u;
        else return false;
        if (k > n - i - 1) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k + 1;
    }
    return true;
}

/* A copy of a container's line fit to store: invalid UTF-8 bytes become U+FFFD. */
static char *utf8_repair(const char *s, size_t n, size_t *out_len) {
    sl_buf b;
    sl_buf_init(&b);
    size_t i = 0;
    while (i < n) {
        const unsigned char *u = (const unsigned char *)s + i;
        size_t len = u[0] < 0x80         ? 1
                     : (u[0] >> 5) == 6  ? 2
                     : (u[0] >> 4) == 14 ? 3
                     : (u[0] >> 3) == 30 ? 4
                                         : 0;
        if (len && i + len <= n && utf8_valid(u, len)) {
            sl_buf_append(&b, u, len);
            i += len;
        } else {
            sl_buf_puts(&b, "\xEF\xBF\xBD");
            i++;
        }
    }
    *out_len = b.len;
    return sl_buf_steal(&b);
}

int sl_logs_append(sl_logs *l, const char *group, const char *stream, bool create_group,
                   const sl_log_line *lines, size_t n, char *err, size_t errlen) {
    if (!lg_group_name_valid(group)) {
        snprintf(err, errlen, "invalid log group name '%s'", group);
        return -1;
    }
    if (!lg_stream_name_valid(stream)) {
        snprintf(err, errlen, "invalid log stream name '%s'", stream);
        return -1;
    }
    /* Lines come from containers: repair what JSON cannot carry, and keep timestamps in the
     * range tokens encode. The common case copies nothing. */
    sl_log_line *fixed = NULL;
    char **owned = NULL;
    for (size_t i = 0; i < n; i++) {
        bool bad_text = !utf8_valid((const unsigned char *)lines[i].message, lines[i].len);
        if (!bad_text && lines[i].timestamp_ms >= 0) continue;
        if (!fixed) {
            fixed = sl_xmalloc(n * sizeof *fixed);
            memcpy(fixed, lines, n * sizeof *fixed);
            owned = sl_xcalloc(n, sizeof *owned);
        }
        if (fixed[i].timestamp_ms < 0) fixed[i].timestamp_ms = 0;
        if (bad_text) {
            owned[i] = utf8_repair(lines[i].message, lines[i].len, &fixed[i].len);
            fixed[i].message = owned[i];
        }
    }
    lg_append a = {.group = group,
                   .stream = stream,
                   .create_group = create_group,
                   .create_stream = true,
                   .lines = fixed ? fixed : lines,
                   .n = n,
                   .now_ms = sl_now_ms()};
    int rc = sl_store_write(l->store, lg_append_job, &a);
    if (fixed) {
        for (size_t i = 0; i < n; i++) free(owned[i]);
        free(owned);
        free(fixed);
    }
    if (rc != 0) {
        snprintf(err, errlen, "the store failed to append to %s/%s", group, stream);
        return -1;
    }
    if (a.result == LG_NO_GROUP) {
        snprintf(err, errlen, "log group %s does not exist", group);
        return -1;
    }
    return 0;
}

/* ---- retention sweep ---- */

typedef struct {
    int64_t group_id, cutoff;
    int batch;
    int deleted;
} sweep_job;

static int sweep_group_job(sqlite3 *db, void *arg) {
    sweep_job *j = arg;
    static const char *const sqls[] = {
        "UPDATE log_groups SET stored_bytes = max(0, stored_bytes - (SELECT"
        " coalesce(sum(length(CAST(message AS BLOB))), 0) FROM (SELECT message FROM log_events"
        " WHERE group_id=?1 AND ts<?2 ORDER BY ts, id LIMIT ?3))) WHERE id=?1",
        "DELETE FROM log_events WHERE id IN (SELECT id FROM log_events WHERE group_id=?1 AND"
        " ts<?2 ORDER BY ts, id LIMIT ?3)",
        "UPDATE log_streams SET first_ts=(SELECT min(ts) FROM log_events WHERE"
        " stream_id=log_streams.id) WHERE group_id=?1 AND first_ts<?2",
    };
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *st = sl_store_cached(db, sqls[i]);
        if (!st) return -1;
        sqlite3_bind_int64(st, 1, j->group_id);
        sqlite3_bind_int64(st, 2, j->cutoff);
        if (i < 2) sqlite3_bind_int(st, 3, j->batch);
        if (step_done(st) != 0) return -1;
        if (i == 1) j->deleted = sqlite3_changes(db);
    }
    return 0;
}

int64_t lg_sweep(sl_logs *l, int64_t now_ms, int batch) {
    sqlite3 *db = sl_store_reader(l->store);
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT id, retention_days FROM log_groups WHERE retention_days IS NOT NULL");
    if (!st) return -1;
    size_t n = 0, cap = 0;
    sweep_job *jobs = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) jobs = sl_xrealloc(jobs, (cap = cap ? cap * 2 : 8) * sizeof *jobs);
        jobs[n++] = (sweep_job){sqlite3_column_int64(st, 0),
                                lg_retention_cutoff(sqlite3_column_int(st, 1), now_ms), batch, 0};
    }
    sqlite3_reset(st);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        for (int round = 0; round < SWEEP_ROUNDS; round++) {
            jobs[i].deleted = 0;
            if (sl_store_write(l->store, sweep_group_job, &jobs[i]) != 0) {
                free(jobs);
                return -1;
            }
            total += jobs[i].deleted;
            if (jobs[i].deleted < batch) break;
        }
    }
    free(jobs);
    return total;
}

static void *sweeper(void *arg) {
    sl_logs *l = arg;
    int64_t wait_ms = SWEEP_FIRST_MS;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(wait_ms / 1000);
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->stopping) break;
        pthread_mutex_unlock(&l->mu);
        int64_t n = lg_sweep(l, sl_now_ms(), SWEEP_BATCH);
        if (n > 0) sl_info("\"logs retention sweep\" deleted=%lld", (long long)n);
        pthread_mutex_lock(&l->mu);
        wait_ms = SWEEP_PERIOD_MS;
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- lifetime ---- */

sl_logs *sl_logs_new(const sl_context *ctx, char *err, size_t errlen) {
    sl_logs *l = sl_xcalloc(1, sizeof *l);
    l->cfg = ctx->cfg;
    l->store = ctx->store;
    l->credentials = ctx->credentials;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    lg_api_init(l);
    int rc = pthread_create(&l->thread, NULL, sweeper, l);
    if (rc != 0) {
        snprintf(err, errlen, "logs: cannot start the retention sweeper: %s", strerror(rc));
        sl_logs_free(l);
        return NULL;
    }
    l->started = true;
    return l;
}

void sl_logs_register(sl_logs *l, sl_router *router) {
    sl_router_add_json(router, "Logs_20140328", sl_json_service_begin, &l->json);
}

void sl_logs_free(sl_logs *l) {
    if (!l) return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stopping = true;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
