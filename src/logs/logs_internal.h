/* logs_internal: what the logs files share. logs.c owns the service's lifetime, the append
 * job (PutLogEvents and sl_logs_append) and the retention sweep; query.c reads groups, streams
 * and events and makes the pagination tokens; filter.c compiles filter patterns; api.c is the
 * JSON wire and nothing else. */
#ifndef SL_LOGS_INTERNAL_H
#define SL_LOGS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/json_proto.h"
#include "logs/filter.h"
#include "logs/logs.h"
#include "store/store.h"

#define LG_DAY_MS           (86400000LL)
#define LG_MAX_BATCH_EVENTS 10000
#define LG_MAX_BATCH_BYTES  1048576
#define LG_EVENT_OVERHEAD   26 /* bytes AWS counts per event in a batch */
#define LG_MAX_FUTURE_MS    (2 * 3600 * 1000LL)
#define LG_MAX_PAST_MS      (14 * LG_DAY_MS)
#define LG_MAX_SPAN_MS      LG_DAY_MS

struct sl_logs {
    const sl_config *cfg;
    sl_store *store;
    struct sl_credentials *credentials;
    sl_json_service json;

    /* the retention sweeper */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool started;
};

/* A log group as the store keeps it. */
typedef struct {
    int64_t id;
    int64_t created_ms;
    int retention_days; /* 0: never expire */
    int64_t stored_bytes;
} lg_group;

/* ---- logs.c ---- */

enum {
    LG_OK = 0,
    LG_NO_GROUP = 1,
    LG_NO_STREAM = 2
};

/* One append: a write job. Creates the group (create_group) and the stream (create_stream)
 * when missing; otherwise result says which is missing and nothing is written. lines must be
 * in the order they are to be stored; their timestamps are stored as given. */
typedef struct {
    const char *group, *stream;
    bool create_group, create_stream;
    const sl_log_line *lines;
    size_t n;
    int64_t now_ms;
    int result;        /* LG_* */
    int64_t stream_id; /* set when result is LG_OK */
} lg_append;
int lg_append_job(sqlite3 *db, void *arg);

/* Deletes events older than each group's retention, at most batch rows per group per call.
 * Returns the number of rows deleted, or -1. Exposed so tests can sweep at a chosen time. */
int64_t lg_sweep(sl_logs *l, int64_t now_ms, int batch);

/* The earliest timestamp a group's retention keeps at now_ms (INT64_MIN: no retention). */
int64_t lg_retention_cutoff(int retention_days, int64_t now_ms);
bool lg_retention_valid(int64_t days);
/* Names as CloudWatch Logs accepts them: a group is 1-512 of [.\-_/#A-Za-z0-9], a stream 1-512
 * characters without ':' or '*'. */
bool lg_group_name_valid(const char *s);
bool lg_stream_name_valid(const char *s);

/* ---- query.c ---- */

/* Reads a group by name; false when it does not exist. */
bool lg_group_find(sl_logs *l, const char *name, lg_group *out);
/* The stream's id in group_id, or 0 when it does not exist. */
int64_t lg_stream_find(sl_logs *l, int64_t group_id, const char *name);

void lg_group_arn(const sl_logs *l, const char *group, bool star, char *out, size_t n);
void lg_stream_arn(const sl_logs *l, const char *group, const char *stream, char *out, size_t n);
/* A logGroupIdentifier (a name or an ARN, with or without :*) to the group name. */
bool lg_group_from_identifier(const sl_logs *l, const char *ident, char *out, size_t n);

/* A position in a stream or group: between events, ordered by (timestamp, id). */
typedef struct {
    int64_t ts, id;
} lg_pos;
void lg_token_encode(char dir, lg_pos pos, char out[64]);
/* false when tok is not a token of direction dir. */
bool lg_token_decode(const char *tok, char dir, lg_pos *pos);

typedef struct {
    int64_t stream_id;
    int64_t start, end; /* [start, end) */
    const char *token;  /* NULL, "f/..." or "b/..." */
    bool from_head;
    int limit;
} lg_get_query;
/* GetLogEvents' response ({events, nextForwardToken, nextBackwardToken}); NULL with err when
 * the token is invalid. */
json_t *lg_get_events(sl_logs *l, const lg_get_query *q, char *err, size_t errlen);

typedef struct {
    int64_t group_id;
    int64_t start, end;        /* [start, end] */
    json_t *stream_names;      /* array of names, or NULL */
    const char *stream_prefix; /* or NULL */
    const sl_log_filter *filter;
    const char *token;
    int limit;
    int scan_budget; /* rows examined before answering a partial page */
} lg_filter_query;
/* FilterLogEvents' response ({events, searchedLogStreams, nextToken?}); NULL with err when the
 * token is invalid. */
json_t *lg_filter_events(sl_logs *l, const lg_filter_query *q, char *err, size_t errlen);

/* ---- api.c ---- */
void lg_api_init(sl_logs *l);

#endif
