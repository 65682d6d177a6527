/* api: CloudWatch Logs' JSON 1.1 wire (X-Amz-Target: Logs_20140328.*): log groups, retention,
 * tags, log streams, PutLogEvents, GetLogEvents and FilterLogEvents. Validates input and maps
 * results to botocore's shapes and AWS's error codes and messages; the reads live in query.c,
 * the append job and retention in logs.c, filter patterns in filter.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "logs/logs_internal.h"

#define MAX_TAGS 50

static void internal(sl_json_call *call) {
    sl_json_fail(call, 500, "ServiceUnavailableException",
                 "An internal error occurred; the request was not applied.");
}

static void invalid(sl_json_call *call, const char *msg) {
    sl_json_fail(call, 400, "InvalidParameterException", "%s", msg);
}

static void no_group(sl_json_call *call) {
    sl_json_fail(call, 400, "ResourceNotFoundException", "The specified log group does not exist.");
}

static void no_stream(sl_json_call *call) {
    sl_json_fail(call, 400, "ResourceNotFoundException",
                 "The specified log stream does not exist.");
}

/* ---- input validation ---- */

static void bad_pattern(sl_json_call *call, const char *field, const char *value,
                        const char *pattern) {
    sl_json_fail(call, 400, "InvalidParameterException",
                 "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "
                 "Member must satisfy regular expression pattern: %s",
                 value, field, pattern);
}

#define GROUP_PATTERN  "[\\.\\-_/#A-Za-z0-9]+"
#define STREAM_PATTERN "[^:*]*"

/* A required log group name. */
static const char *group_name_req(sl_json_call *call, json_t *in, const char *field) {
    const char *name = sl_json_str_req(call, in, field);
    if (!name) return NULL;
    if (!lg_group_name_valid(name)) return bad_pattern(call, field, name, GROUP_PATTERN), NULL;
    return name;
}

static const char *stream_name_req(sl_json_call *call, json_t *in, const char *field) {
    const char *name = sl_json_str_req(call, in, field);
    if (!name) return NULL;
    if (!lg_stream_name_valid(name)) return bad_pattern(call, field, name, STREAM_PATTERN), NULL;
    return name;
}

/* logGroupName or logGroupIdentifier: exactly one. Writes the group's name to out. */
static bool group_name_or_identifier(sl_logs *l, sl_json_call *call, json_t *in, char *out,
                                     size_t n) {
    if (!sl_json_type_ok(call, in, "logGroupName", JSON_STRING) ||
        !sl_json_type_ok(call, in, "logGroupIdentifier", JSON_STRING))
        return false;
    const char *name = sl_json_str(in, "logGroupName");
    const char *ident = sl_json_str(in, "logGroupIdentifier");
    if (name && ident)
        return invalid(call, "LogGroup name and LogGroup ARN are mutually exclusive parameters."),
               false;
    if (!name && !ident)
        return invalid(call, "Either logGroupName or logGroupIdentifier must be specified."), false;
    if (name) {
        if (!lg_group_name_valid(name))
            return bad_pattern(call, "logGroupName", name, GROUP_PATTERN), false;
        snprintf(out, n, "%s", name);
        return true;
    }
    if (!lg_group_from_identifier(l, ident, out, n) || !lg_group_name_valid(out))
        return bad_pattern(call, "logGroupIdentifier", ident, "[\\w#+=/:,.@-]*"), false;
    return true;
}

/* An optional integer in [lo, hi]; false (and the call failed) when out of range. */
static bool int_param(sl_json_call *call, json_t *in, const char *field, int64_t lo, int64_t hi,
                      int64_t *out) {
    json_t *v = json_object_get(in, field);
    if (!v) return true;
    if (!json_is_integer(v)) {
        sl_json_fail(call, 400, "SerializationException", "Expected an integer for '%s'", field);
        return false;
    }
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        sl_json_fail(call, 400, "InvalidParameterException",
                     "1 validation error detected: Value '%" PRId64
                     "' at '%s' failed to satisfy constraint: Member must have value %s %" PRId64,
                     (int64_t)x, field,
                     x < lo ? "greater than or equal to" : "less than or equal to",
                     x < lo ? lo : hi);
        return false;
    }
    *out = x;
    return true;
}

/* A tags map: at most 50 string values. */
static bool tags_valid(sl_json_call *call, json_t *tags, const char *too_many_code) {
    if (!json_is_object(tags)) {
        sl_json_fail(call, 400, "SerializationException", "Expected an object for 'tags'");
        return false;
    }
    if (json_object_size(tags) > MAX_TAGS) {
        sl_json_fail(call, 400, too_many_code, "A resource can have no more than %d tags.",
                     MAX_TAGS);
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v) {
        if (!json_is_string(v) || strlen(k) == 0 || strlen(k) > 128 ||
            json_string_length(v) > 256) {
            sl_json_fail(call, 400, "InvalidParameterException", "Invalid tag '%s'.", k);
            return false;
        }
    }
    return true;
}

/* ---- log groups ---- */

static void op_create_log_group(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    const char *name = group_name_req(call, in, "logGroupName");
    if (!name) return;
    json_t *tags = json_object_get(in, "tags");
    if (tags && !tags_valid(call, tags, "InvalidParameterException")) return;
    if (!sl_json_type_ok(call, in, "kmsKeyId", JSON_STRING) ||
        !sl_json_type_ok(call, in, "logGroupClass", JSON_STRING))
        return;
    const char *cls = sl_json_str(in, "logGroupClass");
    if (cls && strcmp(cls, "STANDARD") && strcmp(cls, "INFREQUENT_ACCESS") &&
        strcmp(cls, "DELIVERY"))
        return sl_json_fail(call, 400, "InvalidParameterException",
                            "1 validation error detected: Value '%s' at 'logGroupClass' failed to "
                            "satisfy constraint: Member must satisfy enum value set: [STANDARD, "
                            "INFREQUENT_ACCESS, DELIVERY]",
                            cls);
    json_t *spec = json_pack("{s:s}", "logGroupClass", cls ? cls : "STANDARD");
    if (sl_json_str(in, "kmsKeyId"))
        json_object_set(spec, "kmsKeyId", json_object_get(in, "kmsKeyId"));
    char *spec_s = json_dumps(spec, JSON_COMPACT);
    char *tags_s = tags ? json_dumps(tags, JSON_COMPACT) : sl_xstrdup("{}");
    json_decref(spec);
    char now[32];
    snprintf(now, sizeof now, "%" PRId64, sl_now_ms());
    sl_store_stmt_job job = {.sql = "INSERT INTO log_groups (name, created_ms, tags, spec) VALUES "
                                    "(?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
                             .args = {name, now, tags_s, spec_s},
                             .nargs = 4};
    int rc = sl_store_write(l->store, sl_store_exec_job, &job);
    free(spec_s);
    free(tags_s);
    if (rc != 0) return internal(call);
    if (job.changes == 0)
        return sl_json_fail(call, 400, "ResourceAlreadyExistsException",
                            "The specified log group already exists");
    sl_json_reply(call, NULL);
}

typedef struct {
    const char *group, *stream; /* stream NULL: delete the group */
    bool found;
} delete_args;

static int delete_job(sqlite3 *db, void *arg) {
    delete_args *a = arg;
    sqlite3_stmt *st = NULL;
    const char *find = a->stream ? "SELECT s.id FROM log_streams s JOIN log_groups g ON "
                                   "g.id=s.group_id WHERE g.name=?1 AND s.name=?2"
                                 : "SELECT id FROM log_groups WHERE name=?1";
    if (sqlite3_prepare_v2(db, find, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, a->group, -1, SQLITE_STATIC);
    if (a->stream) sqlite3_bind_text(st, 2, a->stream, -1, SQLITE_STATIC);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (!id) return 0;
    a->found = true;
    static const char *const group_sqls[] = {"DELETE FROM log_events WHERE group_id=?1",
                                             "DELETE FROM log_streams WHERE group_id=?1",
                                             "DELETE FROM log_groups WHERE id=?1", NULL};
    static const char *const stream_sqls[] = {
        "UPDATE log_groups SET stored_bytes=max(0, stored_bytes-(SELECT"
        " coalesce(sum(length(CAST(message AS BLOB))), 0) FROM log_events WHERE stream_id=?1))"
        " WHERE id=(SELECT group_id FROM log_streams WHERE id=?1)",
        "DELETE FROM log_events WHERE stream_id=?1", "DELETE FROM log_streams WHERE id=?1", NULL};
    for (const char *const *sql = a->stream ? stream_sqls : group_sqls; *sql; sql++) {
        if (sqlite3_prepare_v2(db, *sql, -1, &st, NULL) != SQLITE_OK) return -1;
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return -1;
    }
    return 0;
}

static void op_delete_log_group(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    const char *name = group_name_req(call, in, "logGroupName");
    if (!name) return;
    delete_args a = {name, NULL, false};
    if (sl_store_write(l->store, delete_job, &a) != 0) return internal(call);
    if (!a.found) return no_group(call);
    sl_json_reply(call, NULL);
}

static json_t *group_json(sl_logs *l, sqlite3_stmt *st, bool brief) {
    /* columns: name, created_ms, retention_days, stored_bytes, spec */
    const char *name = (const char *)sqlite3_column_text(st, 0);
    char arn[700], plain[700];
    lg_group_arn(l, name, true, arn, sizeof arn);
    lg_group_arn(l, name, false, plain, sizeof plain);
    json_t *o = json_pack("{s:s,s:I,s:s}", "logGroupName", name, "creationTime",
                          (json_int_t)sqlite3_column_int64(st, 1), "arn", arn);
    if (brief) return o;
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
        json_object_set_new(o, "retentionInDays", json_integer(sqlite3_column_int(st, 2)));
    json_object_set_new(o, "metricFilterCount", json_integer(0));
    json_object_set_new(o, "storedBytes", json_integer(sqlite3_column_int64(st, 3)));
    json_object_set_new(o, "logGroupArn", json_string(plain));
    json_t *spec = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
    const char *cls = json_string_value(json_object_get(spec, "logGroupClass"));
    json_object_set_new(o, "logGroupClass", json_string(cls ? cls : "STANDARD"));
    if (json_object_get(spec, "kmsKeyId"))
        json_object_set(o, "kmsKeyId", json_object_get(spec, "kmsKeyId"));
    json_decref(spec);
    return o;
}

static void op_describe_log_groups(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    if (!sl_json_type_ok(call, in, "logGroupNamePrefix", JSON_STRING) ||
        !sl_json_type_ok(call, in, "logGroupNamePattern", JSON_STRING) ||
        !sl_json_type_ok(call, in, "nextToken", JSON_STRING) ||
        !sl_json_type_ok(call, in, "logGroupClass", JSON_STRING))
        return;
    const char *prefix = sl_json_str(in, "logGroupNamePrefix");
    const char *pattern = sl_json_str(in, "logGroupNamePattern");
    const char *token = sl_json_str(in, "nextToken");
    const char *cls = sl_json_str(in, "logGroupClass");
    if (prefix && pattern)
        return invalid(call, "LogGroup name prefix and LogGroup name pattern are mutually "
                             "exclusive parameters.");
    int64_t limit = 50;
    if (!int_param(call, in, "limit", 1, 50, &limit)) return;
    json_t *idents = json_object_get(in, "logGroupIdentifiers");
    if (idents && !json_is_array(idents))
        return sl_json_fail(call, 400, "SerializationException",
                            "Expected an array for 'logGroupIdentifiers'");
    json_t *names = NULL;
    if (idents) {
        if (prefix || pattern)
            return invalid(call, "logGroupIdentifiers cannot be combined with a name prefix or "
                                 "pattern.");
        names = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(idents, i, v) {
            char name[600];
            if (json_is_string(v) &&
                lg_group_from_identifier(l, json_string_value(v), name, sizeof name))
                json_array_append_new(names, json_string(name));
        }
    }
    char *names_s = names ? json_dumps(names, JSON_COMPACT) : NULL;
    json_decref(names);
    sqlite3_stmt *st = sl_store_cached(
        sl_store_reader(l->store),
        "SELECT name, created_ms, retention_days, stored_bytes, spec FROM log_groups WHERE"
        " name > ?1 AND (?2 IS NULL OR substr(name, 1, length(?2))=?2) AND (?3 IS NULL OR"
        " instr(name, ?3) > 0) AND (?4 IS NULL OR coalesce(json_extract(spec,"
        " '$.logGroupClass'), 'STANDARD')=?4) AND (?5 IS NULL OR name IN (SELECT value FROM"
        " json_each(?5))) ORDER BY name LIMIT ?6");
    if (!st) {
        free(names_s);
        return internal(call);
    }
    sqlite3_bind_text(st, 1, token ? token : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pattern && *pattern ? pattern : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cls, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, names_s, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, limit + 1);
    json_t *groups = json_array(), *out = json_object();
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int64_t)json_array_size(groups) == limit) {
            json_object_set(
                out, "nextToken",
                json_object_get(json_array_get(groups, (size_t)limit - 1), "logGroupName"));
            break;
        }
        json_array_append_new(groups, group_json(l, st, pattern != NULL));
    }
    sqlite3_reset(st);
    free(names_s);
    json_object_set_new(out, "logGroups", groups);
    sl_json_reply(call, out);
}

static void op_put_retention_policy(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    const char *name = group_name_req(call, in, "logGroupName");
    if (!name) return;
    json_t *days = json_object_get(in, "retentionInDays");
    if (!days)
        return sl_json_fail(call, 400, "ValidationException",
                            "1 validation error detected: Value null at 'retentionInDays' failed "
                            "to satisfy constraint: Member must not be null");
    if (!json_is_integer(days))
        return sl_json_fail(call, 400, "SerializationException",
                            "Expected an integer for 'retentionInDays'");
    if (!lg_retention_valid(json_integer_value(days)))
        return sl_json_fail(call, 400, "InvalidParameterException",
                            "1 validation error detected: Value '%" PRId64
                            "' at 'retentionInDays' failed to satisfy constraint: Member must "
                            "satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
                            "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]",
                            (int64_t)json_integer_value(days));
    char d[24];
    snprintf(d, sizeof d, "%" PRId64, (int64_t)json_integer_value(days));
    sl_store_stmt_job job = {.sql = "UPDATE log_groups SET retention_days=?2 WHERE name=?1",
                             .args = {name, d},
                             .nargs = 2};
    if (sl_store_write(l->store, sl_store_exec_job, &job) != 0) return internal(call);
    if (!job.changes) return no_group(call);
    sl_json_reply(call, NULL);
}

static void op_delete_retention_policy(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    const char *name = group_name_req(call, in, "logGroupName");
    if (!name) return;
    sl_store_stmt_job job = {.sql = "UPDATE log_groups SET retention_days=NULL WHERE name=?1",
                             .args = {name},
                             .nargs = 1};
    if (sl_store_write(l->store, sl_store_exec_job, &job) != 0) return internal(call);
    if (!job.changes) return no_group(call);
    sl_json_reply(call, NULL);
}

/* ---- tags ---- */

typedef struct {
    const char *group;
    json_t *add;    /* merged in */
    json_t *remove; /* array of keys */
    bool found, too_many;
} tags_args;

static int tags_job(sqlite3 *db, void *arg) {
    tags_args *a = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT tags FROM log_groups WHERE name=?1", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->group, -1, SQLITE_STATIC);
    json_t *tags = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        tags = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    if (!tags) return 0;
    a->found = true;
    if (a->add) json_object_update(tags, a->add);
    size_t i;
    json_t *k;
    if (a->remove) json_array_foreach(a->remove, i, k) {
            if (json_is_string(k)) json_object_del(tags, json_string_value(k));
        }
    if (json_object_size(tags) > MAX_TAGS) {
        a->too_many = true;
        json_decref(tags);
        return 0;
    }
    char *s = json_dumps(tags, JSON_COMPACT);
    json_decref(tags);
    int rc = -1;
    if (sqlite3_prepare_v2(db, "UPDATE log_groups SET tags=?2 WHERE name=?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, a->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
    }
    free(s);
    return rc;
}

static json_t *group_tags(sl_logs *l, const char *name) {
    sqlite3_stmt *st =
        sl_store_cached(sl_store_reader(l->store), "SELECT tags FROM log_groups WHERE name=?1");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    json_t *tags = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        tags = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    return tags;
}

/* resourceArn of a log group (with or without :*); false (call failed) otherwise. */
static bool group_from_arn(sl_logs *l, sl_json_call *call, json_t *in, char *out, size_t n) {
    const char *arn = sl_json_str_req(call, in, "resourceArn");
    if (!arn) return false;
    if (!sl_str_has_prefix(arn, "arn:") || !lg_group_from_identifier(l, arn, out, n) ||
        !lg_group_name_valid(out)) {
        sl_json_fail(call, 400, "ResourceNotFoundException",
                     "The specified resource does not exist: %s", arn);
        return false;
    }
    return true;
}

static void list_tags(sl_logs *l, sl_json_call *call, const char *name) {
    json_t *tags = group_tags(l, name);
    if (!tags) return no_group(call);
    sl_json_reply(call, json_pack("{s:o}", "tags", tags));
}

static void change_tags(sl_logs *l, sl_json_call *call, const char *name, json_t *add,
                        json_t *remove, const char *too_many_code) {
    tags_args a = {name, add, remove, false, false};
    if (sl_store_write(l->store, tags_job, &a) != 0) return internal(call);
    if (!a.found) return no_group(call);
    if (a.too_many)
        return sl_json_fail(call, 400, too_many_code, "A resource can have no more than %d tags.",
                            MAX_TAGS);
    sl_json_reply(call, NULL);
}

static void op_list_tags_log_group(void *svc, sl_json_call *call, json_t *in) {
    const char *name = group_name_req(call, in, "logGroupName");
    if (name) list_tags(svc, call, name);
}

static void op_tag_log_group(void *svc, sl_json_call *call, json_t *in) {
    const char *name = group_name_req(call, in, "logGroupName");
    if (!name) return;
    json_t *tags = json_object_get(in, "tags");
    if (!tags) return invalid(call, "tags must be specified.");
    if (!tags_valid(call, tags, "InvalidParameterException")) return;
    change_tags(svc, call, name, tags, NULL, "InvalidParameterException");
}

static void op_untag_log_group(void *svc, sl_json_call *call, json_t *in) {
    const char *name = group_name_req(call, in, "logGroupName");
    if (!name) return;
    json_t *keys = json_object_get(in, "tags");
    if (!json_is_array(keys)) return invalid(call, "tags must be a list of tag keys.");
    change_tags(svc, call, name, NULL, keys, "InvalidParameterException");
}

static void op_list_tags_for_resource(void *svc, sl_json_call *call, json_t *in) {
    char name[600];
    if (group_from_arn(svc, call, in, name, sizeof name)) list_tags(svc, call, name);
}

static void op_tag_resource(void *svc, sl_json_call *call, json_t *in) {
    char name[600];
    if (!group_from_arn(svc, call, in, name, sizeof name)) return;
    json_t *tags = json_object_get(in, "tags");
    if (!tags) return invalid(call, "tags must be specified.");
    if (!tags_valid(call, tags, "TooManyTagsException")) return;
    change_tags(svc, call, name, tags, NULL, "TooManyTagsException");
}

static void op_untag_resource(void *svc, sl_json_call *call, json_t *in) {
    char name[600];
    if (!group_from_arn(svc, call, in, name, sizeof name)) return;
    json_t *keys = json_object_get(in, "tagKeys");
    if (!json_is_array(keys)) return invalid(call, "tagKeys must be a list of tag keys.");
    change_tags(svc, call, name, NULL, keys, "InvalidParameterException");
}

/* ---- log streams ---- */

static void op_create_log_stream(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    const char *group = group_name_req(call, in, "logGroupName");
    if (!group) return;
    const char *stream = stream_name_req(call, in, "logStreamName");
    if (!stream) return;
    char now[32];
    snprintf(now, sizeof now, "%" PRId64, sl_now_ms());
    sl_store_stmt_job job = {
        .sql = "INSERT INTO log_streams (group_id, name, created_ms) SELECT id, ?2, ?3 FROM"
               " log_groups WHERE name=?1 ON CONFLICT (group_id, name) DO NOTHING",
        .args = {group, stream, now},
        .nargs = 3};
    if (sl_store_write(l->store, sl_store_exec_job, &job) != 0) return internal(call);
    if (job.changes == 0) {
        lg_group g;
        if (!lg_group_find(l, group, &g)) return no_group(call);
        return sl_json_fail(call, 400, "ResourceAlreadyExistsException",
                            "The specified log stream already exists");
    }
    sl_json_reply(call, NULL);
}

static void op_delete_log_stream(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    const char *group = group_name_req(call, in, "logGroupName");
    if (!group) return;
    const char *stream = stream_name_req(call, in, "logStreamName");
    if (!stream) return;
    delete_args a = {group, stream, false};
    if (sl_store_write(l->store, delete_job, &a) != 0) return internal(call);
    if (!a.found) {
        lg_group g;
        return lg_group_find(l, group, &g) ? no_stream(call) : no_group(call);
    }
    sl_json_reply(call, NULL);
}

static void sequence_token(int64_t stream_id, int64_t n, char out[64]) {
    snprintf(out, 64, "%020" PRId64 "%036" PRId64, stream_id, n < 0 ? 0 : n);
}

static json_t *stream_json(sl_logs *l, const char *group, sqlite3_stmt *st) {
    /* columns: id, name, created_ms, first_ts, last_ts, last_ingest_ms */
    const char *name = (const char *)sqlite3_column_text(st, 1);
    char arn[1200], seq[64];
    lg_stream_arn(l, group, name, arn, sizeof arn);
    json_t *o = json_pack("{s:s,s:I,s:s,s:i}", "logStreamName", name, "creationTime",
                          (json_int_t)sqlite3_column_int64(st, 2), "arn", arn, "storedBytes", 0);
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
        json_object_set_new(o, "firstEventTimestamp", json_integer(sqlite3_column_int64(st, 3)));
        json_object_set_new(o, "lastEventTimestamp", json_integer(sqlite3_column_int64(st, 4)));
        json_object_set_new(o, "lastIngestionTime", json_integer(sqlite3_column_int64(st, 5)));
    }
    sequence_token(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 5), seq);
    json_object_set_new(o, "uploadSequenceToken", json_string(seq));
    return o;
}

#define STREAM_COLUMNS "id, name, created_ms, first_ts, last_ts, last_ingest_ms"
/* Name order pages by name; event-time order by (last_ts or -1, id). */
static const char *const stream_sqls[4] = {
    "SELECT " STREAM_COLUMNS ", 0 FROM log_streams WHERE group_id=?1 AND name > ?2 AND (?3 IS"
    " NULL OR substr(name, 1, length(?3))=?3) ORDER BY name LIMIT ?4",
    "SELECT " STREAM_COLUMNS ", 0 FROM log_streams WHERE group_id=?1 AND (?2 IS NULL OR name <"
    " ?2) AND (?3 IS NULL OR substr(name, 1, length(?3))=?3) ORDER BY name DESC LIMIT ?4",
    "SELECT " STREAM_COLUMNS ", coalesce(last_ts, -1) AS k FROM log_streams WHERE group_id=?1"
    " AND (coalesce(last_ts, -1), id) > (?5, ?6) ORDER BY k, id LIMIT ?4",
    "SELECT " STREAM_COLUMNS ", coalesce(last_ts, -1) AS k FROM log_streams WHERE group_id=?1"
    " AND (coalesce(last_ts, -1), id) < (?5, ?6) ORDER BY k DESC, id DESC LIMIT ?4",
};

static void op_describe_log_streams(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    char group[600];
    if (!group_name_or_identifier(l, call, in, group, sizeof group)) return;
    if (!sl_json_type_ok(call, in, "logStreamNamePrefix", JSON_STRING) ||
        !sl_json_type_ok(call, in, "orderBy", JSON_STRING) ||
        !sl_json_type_ok(call, in, "nextToken", JSON_STRING))
        return;
    const char *prefix = sl_json_str(in, "logStreamNamePrefix");
    const char *order = sl_json_str(in, "orderBy");
    const char *token = sl_json_str(in, "nextToken");
    bool desc = json_is_true(json_object_get(in, "descending"));
    int64_t limit = 50;
    if (!int_param(call, in, "limit", 1, 50, &limit)) return;
    bool by_time = false;
    if (order) {
        if (!strcmp(order, "LastEventTime")) by_time = true;
        else if (strcmp(order, "LogStreamName") != 0)
            return sl_json_fail(call, 400, "InvalidParameterException",
                                "1 validation error detected: Value '%s' at 'orderBy' failed to "
                                "satisfy constraint: Member must satisfy enum value set: "
                                "[LogStreamName, LastEventTime]",
                                order);
    }
    if (by_time && prefix)
        return invalid(call, "Cannot order by LastEventTime with a logStreamNamePrefix.");
    lg_group g;
    if (!lg_group_find(l, group, &g)) return no_group(call);
    lg_pos after = {desc ? INT64_MAX : INT64_MIN, desc ? INT64_MAX : INT64_MIN};
    const char *after_name = desc ? NULL : "";
    if (token) {
        bool ok = by_time ? lg_token_decode(token, 't', &after)
                          : sl_str_has_prefix(token, "s/") && token[2];
        if (!ok) return invalid(call, "The specified nextToken is invalid.");
        if (!by_time) after_name = token + 2;
    }
    sqlite3_stmt *st =
        sl_store_cached(sl_store_reader(l->store), stream_sqls[(by_time ? 2 : 0) + (desc ? 1 : 0)]);
    if (!st) return internal(call);
    sqlite3_bind_int64(st, 1, g.id);
    if (!by_time) {
        sqlite3_bind_text(st, 2, after_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 5, after.ts);
        sqlite3_bind_int64(st, 6, after.id);
    }
    sqlite3_bind_int64(st, 4, limit + 1);
    json_t *streams = json_array(), *out = json_object();
    lg_pos last_pos = {0, 0};
    char last_name[600] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int64_t)json_array_size(streams) == limit) {
            char tok[700];
            if (by_time) lg_token_encode('t', last_pos, tok);
            else snprintf(tok, sizeof tok, "s/%s", last_name);
            json_object_set_new(out, "nextToken", json_string(tok));
            break;
        }
        json_array_append_new(streams, stream_json(l, group, st));
        last_pos = (lg_pos){sqlite3_column_int64(st, 6), sqlite3_column_int64(st, 0)};
        snprintf(last_name, sizeof last_name, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    json_object_set_new(out, "logStreams", streams);
    sl_json_reply(call, out);
}

/* ---- PutLogEvents ---- */

static void op_put_log_events(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    const char *group = group_name_req(call, in, "logGroupName");
    if (!group) return;
    const char *stream = stream_name_req(call, in, "logStreamName");
    if (!stream) return;
    json_t *events = json_object_get(in, "logEvents");
    if (!json_is_array(events) || json_array_size(events) == 0)
        return invalid(call, "logEvents must be a non-empty list of log events.");
    size_t n = json_array_size(events);
    if (n > LG_MAX_BATCH_EVENTS)
        return sl_json_fail(call, 400, "InvalidParameterException",
                            "1 validation error detected: Value at 'logEvents' failed to satisfy "
                            "constraint: Member must have length less than or equal to %d",
                            LG_MAX_BATCH_EVENTS);
    lg_group g;
    if (!lg_group_find(l, group, &g)) return no_group(call);
    sl_log_line *lines = sl_xcalloc(n, sizeof *lines);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(events, i);
        json_t *ts = json_object_get(e, "timestamp"), *msg = json_object_get(e, "message");
        if (!json_is_integer(ts) || !json_is_string(msg)) {
            free(lines);
            return invalid(call, "Each log event needs an integer timestamp and a string message.");
        }
        if (json_string_length(msg) == 0) {
            free(lines);
            return invalid(call, "Log event message cannot be empty.");
        }
        lines[i] =
            (sl_log_line){json_integer_value(ts), json_string_value(msg), json_string_length(msg)};
        if (i > 0 && lines[i].timestamp_ms < lines[i - 1].timestamp_ms) {
            free(lines);
            return invalid(
                call,
                "Log events in a single PutLogEvents request must be in chronological order.");
        }
        bytes += lines[i].len + LG_EVENT_OVERHEAD;
    }
    if (bytes > LG_MAX_BATCH_BYTES) {
        free(lines);
        return sl_json_fail(call, 400, "InvalidParameterException",
                            "Upload too large: %zu bytes exceeds limit of %d", bytes,
                            LG_MAX_BATCH_BYTES);
    }
    /* Sorted, so the rejected events are a prefix (too old, expired) and a suffix (too new). */
    int64_t now = sl_now_ms();
    int64_t expired_before = lg_retention_cutoff(g.retention_days, now);
    size_t too_old_end = 0, expired_end = 0, too_new_start = n;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].timestamp_ms < now - LG_MAX_PAST_MS) too_old_end = i + 1;
        if (lines[i].timestamp_ms < expired_before) expired_end = i + 1;
    }
    for (size_t i = n; i > 0 && lines[i - 1].timestamp_ms > now + LG_MAX_FUTURE_MS; i--)
        too_new_start = i - 1;
    size_t lo = too_old_end > expired_end ? too_old_end : expired_end;
    if (lo < too_new_start &&
        lines[too_new_start - 1].timestamp_ms - lines[lo].timestamp_ms > LG_MAX_SPAN_MS) {
        free(lines);
        return invalid(call, "The batch of log events in a single PutLogEvents request cannot "
                             "span more than 24 hours.");
    }
    lg_append a = {.group = group,
                   .stream = stream,
                   .lines = lines + lo,
                   .n = lo < too_new_start ? too_new_start - lo : 0,
                   .now_ms = now};
    int rc = sl_store_write(l->store, lg_append_job, &a);
    free(lines);
    if (rc != 0) return internal(call);
    if (a.result == LG_NO_GROUP) return no_group(call);
    if (a.result == LG_NO_STREAM) return no_stream(call);
    char seq[64];
    sequence_token(a.stream_id, now, seq);
    json_t *out = json_pack("{s:s}", "nextSequenceToken", seq);
    if (too_old_end || expired_end || too_new_start < n) {
        json_t *rej = json_object();
        if (too_new_start < n)
            json_object_set_new(rej, "tooNewLogEventStartIndex",
                                json_integer((json_int_t)too_new_start));
        if (too_old_end)
            json_object_set_new(rej, "tooOldLogEventEndIndex",
                                json_integer((json_int_t)too_old_end));
        if (expired_end)
            json_object_set_new(rej, "expiredLogEventEndIndex",
                                json_integer((json_int_t)expired_end));
        json_object_set_new(out, "rejectedLogEventsInfo", rej);
    }
    sl_json_reply(call, out);
}

/* ---- reading events ---- */

/* The group and the time range every read applies: [startTime, endTime] clipped to retention. */
static bool read_range(sl_json_call *call, json_t *in, const lg_group *g, int64_t *start,
                       int64_t *end) {
    *start = 0;
    *end = INT64_MAX;
    if (!int_param(call, in, "startTime", 0, INT64_MAX, start) ||
        !int_param(call, in, "endTime", 0, INT64_MAX, end))
        return false;
    int64_t cutoff = lg_retention_cutoff(g->retention_days, sl_now_ms());
    if (*start < cutoff) *start = cutoff;
    return true;
}

static void op_get_log_events(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    char group[600];
    if (!group_name_or_identifier(l, call, in, group, sizeof group)) return;
    const char *stream = stream_name_req(call, in, "logStreamName");
    if (!stream) return;
    if (!sl_json_type_ok(call, in, "nextToken", JSON_STRING)) return;
    int64_t limit = LG_MAX_BATCH_EVENTS;
    if (!int_param(call, in, "limit", 1, LG_MAX_BATCH_EVENTS, &limit)) return;
    lg_group g;
    if (!lg_group_find(l, group, &g)) return no_group(call);
    int64_t sid = lg_stream_find(l, g.id, stream);
    if (!sid) return no_stream(call);
    lg_get_query q = {.stream_id = sid,
                      .token = sl_json_str(in, "nextToken"),
                      .from_head = json_is_true(json_object_get(in, "startFromHead")),
                      .limit = (int)limit};
    if (!read_range(call, in, &g, &q.start, &q.end)) return;
    char err[256];
    json_t *out = lg_get_events(l, &q, err, sizeof err);
    if (!out) return invalid(call, err);
    sl_json_reply(call, out);
}

static void op_filter_log_events(void *svc, sl_json_call *call, json_t *in) {
    sl_logs *l = svc;
    char group[600];
    if (!group_name_or_identifier(l, call, in, group, sizeof group)) return;
    if (!sl_json_type_ok(call, in, "logStreamNamePrefix", JSON_STRING) ||
        !sl_json_type_ok(call, in, "filterPattern", JSON_STRING) ||
        !sl_json_type_ok(call, in, "nextToken", JSON_STRING) ||
        !sl_json_type_ok(call, in, "logStreamNames", JSON_ARRAY))
        return;
    json_t *names = json_object_get(in, "logStreamNames");
    const char *prefix = sl_json_str(in, "logStreamNamePrefix");
    if (names && prefix)
        return invalid(call, "logStreamNames and logStreamNamePrefix are mutually exclusive "
                             "parameters.");
    if (names && (json_array_size(names) == 0 || json_array_size(names) > 100))
        return invalid(call, "logStreamNames must name between 1 and 100 log streams.");
    int64_t limit = LG_MAX_BATCH_EVENTS;
    if (!int_param(call, in, "limit", 1, LG_MAX_BATCH_EVENTS, &limit)) return;
    const char *pattern = sl_json_str(in, "filterPattern");
    if (pattern && strlen(pattern) > 1024)
        return invalid(call, "filterPattern must be at most 1024 characters.");
    lg_group g;
    if (!lg_group_find(l, group, &g)) return no_group(call);
    char err[512];
    sl_log_filter *filter = sl_log_filter_compile(pattern, err, sizeof err);
    if (!filter) return invalid(call, err);
    lg_filter_query q = {.group_id = g.id,
                         .stream_names = names,
                         .stream_prefix = prefix,
                         .filter = filter,
                         .token = sl_json_str(in, "nextToken"),
                         .limit = (int)limit,
                         .scan_budget = 100000};
    json_t *out = NULL;
    if (read_range(call, in, &g, &q.start, &q.end)) {
        out = lg_filter_events(l, &q, err, sizeof err);
        if (!out) invalid(call, err);
        else sl_json_reply(call, out);
    }
    sl_log_filter_free(filter);
}

static const sl_json_op ops[] = {
    {"CreateLogGroup", op_create_log_group},
    {"DeleteLogGroup", op_delete_log_group},
    {"DescribeLogGroups", op_describe_log_groups},
    {"PutRetentionPolicy", op_put_retention_policy},
    {"DeleteRetentionPolicy", op_delete_retention_policy},
    {"ListTagsLogGroup", op_list_tags_log_group},
    {"TagLogGroup", op_tag_log_group},
    {"UntagLogGroup", op_untag_log_group},
    {"ListTagsForResource", op_list_tags_for_resource},
    {"TagResource", op_tag_resource},
    {"UntagResource", op_untag_resource},
    {"CreateLogStream", op_create_log_stream},
    {"DeleteLogStream", op_delete_log_stream},
    {"DescribeLogStreams", op_describe_log_streams},
    {"PutLogEvents", op_put_log_events},
    {"GetLogEvents", op_get_log_events},
    {"FilterLogEvents", op_filter_log_events},
    {NULL, NULL},
};

void lg_api_init(sl_logs *l) {
    l->json.target_prefix = "Logs_20140328";
    l->json.content_type = "application/x-amz-json-1.1";
    l->json.ops = ops;
    l->json.svc = l;
    l->json.credentials = l->credentials;
    l->json.body_limit = 2u << 20; /* a full 1 MiB batch plus JSON escaping */
}
