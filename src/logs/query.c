/* query: reads of groups, streams and events, and the tokens that page through them.
 *
 * Events are ordered by (timestamp, id); a position is a point between two events in that order,
 * so a token stays valid while events are appended. GetLogEvents' tokens are AWS-shaped
 * ("f/<56 digits>/s", "b/<56 digits>/s") and, as on AWS, a page with no events hands back the
 * token it was given, which is how `aws logs get-log-events` style loops know they are done.
 * FilterLogEvents answers a nextToken only when more matching events may follow (or its scan
 * budget ran out): `aws logs tail --follow` pages until there is none, then polls again. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "logs/logs_internal.h"

#define PAGE_BYTES (1024 * 1024)

/* ---- names, ARNs ---- */

static const char *col(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }

bool lg_group_find(sl_logs *l, const char *name, lg_group *out) {
    sqlite3_stmt *st = sl_store_cached(
        sl_store_reader(l->store),
        "SELECT id, created_ms, retention_days, stored_bytes FROM log_groups WHERE name=?1");
    if (!st) return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        out->id = sqlite3_column_int64(st, 0);
        out->created_ms = sqlite3_column_int64(st, 1);
        out->retention_days = sqlite3_column_int(st, 2);
        out->stored_bytes = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    return found;
}

int64_t lg_stream_find(sl_logs *l, int64_t group_id, const char *name) {
    sqlite3_stmt *st = sl_store_cached(sl_store_reader(l->store),
                                       "SELECT id FROM log_streams WHERE group_id=?1 AND name=?2");
    if (!st) return 0;
    sqlite3_bind_int64(st, 1, group_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

void lg_group_arn(const sl_logs *l, const char *group, bool star, char *out, size_t n) {
    snprintf(out, n, "arn:aws:logs:%s:%s:log-group:%s%s", l->cfg->region, l->cfg->account_id, group,
             star ? ":*" : "");
}

void lg_stream_arn(const sl_logs *l, const char *group, const char *stream, char *out, size_t n) {
    snprintf(out, n, "arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", l->cfg->region,
             l->cfg->account_id, group, stream);
}

bool lg_group_from_identifier(const sl_logs *l, const char *ident, char *out, size_t n) {
    (void)l;
    const char *name = ident;
    size_t len = strlen(ident);
    if (sl_str_has_prefix(ident, "arn:")) {
        const char *p = strstr(ident, ":log-group:");
        if (!p) return false;
        name = p + strlen(":log-group:");
        len = strlen(name);
        if (len >= 2 && !strcmp(name + len - 2, ":*")) len -= 2;
        if (memchr(name, ':', len)) return false;
    }
    if (len == 0 || len >= n) return false;
    memcpy(out, name, len);
    out[len] = '\0';
    return true;
}

/* ---- tokens ---- */

void lg_token_encode(char dir, lg_pos pos, char out[64]) {
    /* 56 digits as AWS's: 16 zeros, the timestamp and the id (both non-negative). */
    snprintf(out, 64, "%c/0000000000000000%020" PRId64 "%020" PRId64 "/s", dir,
             pos.ts < 0 ? 0 : pos.ts, pos.id < 0 ? 0 : pos.id);
}

bool lg_token_decode(const char *tok, char dir, lg_pos *pos) {
    if (!tok || strlen(tok) != 2 + 56 + 2 || tok[0] != dir || tok[1] != '/' ||
        strcmp(tok + 58, "/s") != 0)
        return false;
    int64_t v[2] = {0, 0};
    for (int i = 0; i < 56; i++) {
        char c = tok[2 + i];
        if (c < '0' || c > '9') return false;
        if (i < 16) {
            if (c != '0') return false;
            continue;
        }
        int k = i < 36 ? 0 : 1;
        if (v[k] > (INT64_MAX - 9) / 10) return false;
        v[k] = v[k] * 10 + (c - '0');
    }
    pos->ts = v[0];
    pos->id = v[1];
    return true;
}

/* ---- GetLogEvents ---- */

static const char SQL_GET_FWD[] =
    "SELECT id, ts, ingest_ms, message FROM log_events WHERE stream_id=?1 AND ts>=?2 AND ts<?3"
    " AND (ts, id) > (?4, ?5) ORDER BY ts, id LIMIT ?6";
static const char SQL_GET_BWD[] =
    "SELECT id, ts, ingest_ms, message FROM log_events WHERE stream_id=?1 AND ts>=?2 AND ts<?3"
    " AND (ts, id) < (?4, ?5) ORDER BY ts DESC, id DESC LIMIT ?6";

static json_t *event_json(sqlite3_stmt *st) {
    json_t *o = json_object();
    json_object_set_new(o, "timestamp", json_integer(sqlite3_column_int64(st, 1)));
    json_t *msg =
        json_stringn((const char *)sqlite3_column_text(st, 3), (size_t)sqlite3_column_bytes(st, 3));
    json_object_set_new(o, "message", msg ? msg : json_string(""));
    json_object_set_new(o, "ingestionTime", json_integer(sqlite3_column_int64(st, 2)));
    return o;
}

json_t *lg_get_events(sl_logs *l, const lg_get_query *q, char *err, size_t errlen) {
    bool forward = true;
    lg_pos pos = {INT64_MIN, INT64_MIN};
    if (q->token) {
        if (lg_token_decode(q->token, 'f', &pos)) forward = true;
        else if (lg_token_decode(q->token, 'b', &pos)) forward = false;
        else {
            snprintf(err, errlen, "The specified nextToken is invalid.");
            return NULL;
        }
    } else if (!q->from_head) {
        forward = false;
        pos = (lg_pos){INT64_MAX, INT64_MAX};
    }
    sqlite3_stmt *st =
        sl_store_cached(sl_store_reader(l->store), forward ? SQL_GET_FWD : SQL_GET_BWD);
    if (!st) {
        snprintf(err, errlen, "internal error");
        return NULL;
    }
    sqlite3_bind_int64(st, 1, q->stream_id);
    sqlite3_bind_int64(st, 2, q->start);
    sqlite3_bind_int64(st, 3, q->end);
    sqlite3_bind_int64(st, 4, pos.ts);
    sqlite3_bind_int64(st, 5, pos.id);
    sqlite3_bind_int(st, 6, q->limit);
    json_t *events = json_array();
    lg_pos first = {0, 0}, last = {0, 0};
    size_t bytes = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        if (json_array_size(events) > 0 && bytes + len > PAGE_BYTES) break;
        bytes += len;
        lg_pos p = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0)};
        if (json_array_size(events) == 0) first = last = p;
        if (forward) {
            json_array_append_new(events, event_json(st));
            last = p;
        } else {
            json_array_insert_new(events, 0, event_json(st));
            first = p;
        }
    }
    sqlite3_reset(st);
    char ftok[64], btok[64];
    if (json_array_size(events) > 0) {
        lg_token_encode('f', last, ftok);
        lg_token_encode('b', first, btok);
    } else {
        /* Nothing more in this direction: hand back the position we were given. */
        lg_pos here = q->token ? pos : (lg_pos){0, 0};
        lg_token_encode('f', here, ftok);
        lg_token_encode('b', here, btok);
    }
    return json_pack("{s:o,s:s,s:s}", "events", events, "nextForwardToken", ftok,
                     "nextBackwardToken", btok);
}

/* ---- FilterLogEvents ---- */

static const char SQL_FILTER[] =
    "SELECT e.id, e.ts, e.ingest_ms, e.message, s.name FROM log_events e INDEXED BY"
    " log_events_by_group CROSS JOIN log_streams s ON s.id=e.stream_id"
    " WHERE e.group_id=?1 AND e.ts>=?2 AND e.ts<=?3 AND (e.ts, e.id) > (?4, ?5)"
    " AND (?6 IS NULL OR s.name IN (SELECT value FROM json_each(?6)))"
    " AND (?7 IS NULL OR substr(s.name, 1, length(?7))=?7) ORDER BY e.ts, e.id";

json_t *lg_filter_events(sl_logs *l, const lg_filter_query *q, char *err, size_t errlen) {
    lg_pos pos = {INT64_MIN, INT64_MIN};
    if (q->token && !lg_token_decode(q->token, 'n', &pos)) {
        snprintf(err, errlen, "The specified nextToken is invalid.");
        return NULL;
    }
    sqlite3_stmt *st = sl_store_cached(sl_store_reader(l->store), SQL_FILTER);
    if (!st) {
        snprintf(err, errlen, "internal error");
        return NULL;
    }
    char *names = q->stream_names ? json_dumps(q->stream_names, JSON_COMPACT) : NULL;
    sqlite3_bind_int64(st, 1, q->group_id);
    sqlite3_bind_int64(st, 2, q->start);
    sqlite3_bind_int64(st, 3, q->end);
    sqlite3_bind_int64(st, 4, pos.ts);
    sqlite3_bind_int64(st, 5, pos.id);
    sqlite3_bind_text(st, 6, names, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, q->stream_prefix, -1, SQLITE_STATIC);
    json_t *events = json_array();
    bool all = sl_log_filter_is_all(q->filter);
    bool more = false;
    lg_pos resume = {0, 0};
    size_t bytes = 0;
    int scanned = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        lg_pos p = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0)};
        const char *msg = (const char *)sqlite3_column_text(st, 3);
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        if (all || sl_log_filter_match(q->filter, msg ? msg : "", len)) {
            if ((int)json_array_size(events) == q->limit ||
                (json_array_size(events) > 0 && bytes + len > PAGE_BYTES)) {
                more = true; /* resume after the last event returned */
                break;
            }
            json_t *ev = event_json(st);
            char id[64];
            snprintf(id, sizeof id, "%020" PRId64 "%036" PRId64, p.ts < 0 ? 0 : p.ts, p.id);
            json_object_set_new(ev, "logStreamName", json_string(col(st, 4)));
            json_object_set_new(ev, "eventId", json_string(id));
            json_array_append_new(events, ev);
            bytes += len;
        }
        resume = p;
        if (++scanned >= q->scan_budget) {
            more = true; /* a partial page: resume after the last event examined */
            break;
        }
    }
    sqlite3_reset(st);
    free(names);
    json_t *out = json_pack("{s:o,s:[]}", "events", events, "searchedLogStreams");
    if (more) {
        char tok[64];
        lg_token_encode('n', resume, tok);
        json_object_set_new(out, "nextToken", json_string(tok));
    }
    return out;
}
