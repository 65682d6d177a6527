/* s3_shapes: the events a change in the object store raises, in AWS's exact shapes:
 *   - EventBridge "Object Created" / "Object Deleted" / "Object Tags Added" / "Object Tags
 *     Deleted" (source aws.s3), when the bucket's notification configuration enables
 *     EventBridge;
 *   - "AWS API Call via CloudTrail" data events, when a logging trail's event selectors select
 *     the object (DataResources of type AWS::S3::Object with an ARN prefix, write events). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "events/events_internal.h"

json_t *ev_envelope(const sl_events *ev, const char *source, const char *detail_type,
                    int64_t time_ms, json_t *resources, json_t *detail) {
    char id[37], t[32];
    sl_id_uuid(id);
    sl_time_iso8601_ms(time_ms, t);
    /* EventBridge times have second precision: 2026-11-22T22:00:00Z */
    t[19] = 'Z';
    t[20] = 0;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "version", "0", "id", id,
                     "detail-type", detail_type, "source", source, "account", ev->cfg->account_id,
                     "time", t, "region", ev->cfg->region, "resources",
                     resources ? resources : json_array(), "detail",
                     detail ? detail : json_object());
}

static json_t *bucket_config(sqlite3 *db, const char *bucket) {
    sqlite3_stmt *st = NULL;
    json_t *cfg = NULL;
    if (sqlite3_prepare_v2(db, "SELECT config FROM buckets WHERE name=?1", -1, &st, NULL) !=
        SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        cfg = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    return cfg;
}

static const char *detail_type_of(const char *event_name) {
    if (!strncmp(event_name, "ObjectCreated:", 14)) return "Object Created";
    if (!strncmp(event_name, "ObjectRemoved:", 14)) return "Object Deleted";
    if (!strcmp(event_name, "ObjectTagging:Put")) return "Object Tags Added";
    if (!strcmp(event_name, "ObjectTagging:Delete")) return "Object Tags Deleted";
    return NULL;
}

static json_t *eventbridge_event(sl_events *ev, const json_t *p, const char *sequencer) {
    const char *event_name = json_string_value(json_object_get(p, "eventName"));
    const char *dt = event_name ? detail_type_of(event_name) : NULL;
    if (!dt) return NULL;
    const char *bucket = json_string_value(json_object_get(p, "bucket"));
    json_t *object = json_pack("{s:O}", "key", json_object_get(p, "key"));
    bool created = !strcmp(dt, "Object Created");
    if (created) {
        json_object_set(object, "size", json_object_get(p, "size"));
        json_object_set(object, "etag", json_object_get(p, "etag"));
    }
    json_object_set_new(object, "sequencer", json_string(sequencer));
    json_t *detail =
        json_pack("{s:s,s:{s:s},s:o,s:O,s:s,s:O}", "version", "0", "bucket", "name", bucket,
                  "object", object, "request-id", json_object_get(p, "requestId"), "requester",
                  ev->cfg->account_id, "source-ip-address", json_object_get(p, "sourceIp"));
    if (created) json_object_set(detail, "reason", json_object_get(p, "api"));
    if (!strcmp(dt, "Object Deleted")) {
        json_object_set_new(detail, "reason", json_string("DeleteObject"));
        json_object_set_new(detail, "deletion-type", json_string("Permanently Deleted"));
    }
    char arn[1200];
    snprintf(arn, sizeof arn, "arn:aws:s3:::%s", bucket);
    return ev_envelope(ev, "aws.s3", dt, json_integer_value(json_object_get(p, "timeMs")),
                       json_pack("[s]", arn), detail);
}

/* True when a selector list selects a write to bucket/key. */
static bool selectors_select(const json_t *selectors, const char *bucket, const char *key) {
    sl_buf object_arn;
    sl_buf_init(&object_arn);
    sl_buf_printf(&object_arn, "arn:aws:s3:::%s/%s", bucket, key);
    bool selected = false;
    size_t i;
    json_t *sel;
    json_array_foreach(selectors, i, sel) {
        const char *rw = json_string_value(json_object_get(sel, "ReadWriteType"));
        if (rw && !strcmp(rw, "ReadOnly")) continue;
        size_t j;
        json_t *dr;
        json_array_foreach(json_object_get(sel, "DataResources"), j, dr) {
            const char *type = json_string_value(json_object_get(dr, "Type"));
            if (!type || strcmp(type, "AWS::S3::Object") != 0) continue;
            size_t k;
            json_t *v;
            json_array_foreach(json_object_get(dr, "Values"), k, v) {
                const char *prefix = json_string_value(v);
                if (!prefix) continue;
                /* "arn:aws:s3" (or "arn:aws:s3:::") selects every bucket. */
                if (!strcmp(prefix, "arn:aws:s3") || !strcmp(prefix, "arn:aws:s3:::") ||
                    sl_str_has_prefix(object_arn.data, prefix))
                    selected = true;
            }
        }
    }
    sl_buf_free(&object_arn);
    return selected;
}

static bool trail_selects(sqlite3 *db, const char *bucket, const char *key) {
    sqlite3_stmt *st = NULL;
    bool selected = false;
    if (sqlite3_prepare_v2(db,
                           "SELECT selectors FROM trails WHERE logging=1 AND selectors IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    while (!selected && sqlite3_step(st) == SQLITE_ROW) {
        json_t *sel = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        selected = sel && selectors_select(sel, bucket, key);
        json_decref(sel);
    }
    sqlite3_finalize(st);
    return selected;
}

static json_t *cloudtrail_event(sl_events *ev, const json_t *p) {
    const char *bucket = json_string_value(json_object_get(p, "bucket"));
    const char *key = json_string_value(json_object_get(p, "key"));
    const char *api = json_string_value(json_object_get(p, "api"));
    int64_t time_ms = json_integer_value(json_object_get(p, "timeMs"));
    char t[32], event_id[37], principal[64], user_arn[128];
    sl_time_iso8601_ms(time_ms, t);
    t[19] = 'Z';
    t[20] = 0;
    sl_id_uuid(event_id);
    snprintf(principal, sizeof principal, "%s", ev->cfg->account_id);
    snprintf(user_arn, sizeof user_arn, "arn:aws:iam::%s:root", ev->cfg->account_id);
    sl_buf object_arn, bucket_arn;
    sl_buf_init(&object_arn);
    sl_buf_init(&bucket_arn);
    sl_buf_printf(&object_arn, "arn:aws:s3:::%s/%s", bucket, key);
    sl_buf_printf(&bucket_arn, "arn:aws:s3:::%s", bucket);
    json_t *user = json_pack("{s:s,s:s,s:s,s:s,s:O}", "type", "Root", "principalId", principal,
                             "arn", user_arn, "accountId", ev->cfg->account_id, "accessKeyId",
                             json_object_get(p, "accessKey"));
    json_t *request =
        json_pack("{s:s,s:s,s:s}", "bucketName", bucket, "Host", "s3.amazonaws.com", "key", key);
    json_t *resources = json_pack("[{s:s,s:s},{s:s,s:s,s:s}]", "type", "AWS::S3::Object", "ARN",
                                  object_arn.data, "accountId", ev->cfg->account_id, "type",
                                  "AWS::S3::Bucket", "ARN", bucket_arn.data);
    json_t *ua = json_object_get(p, "userAgent");
    json_t *detail =
        json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:O,s:s,s:o,s:n,s:O,s:s,s:b,s:o,s:s,s:b,s:s,s:s}",
                  "eventVersion", "1.08", "userIdentity", user, "eventTime", t, "eventSource",
                  "s3.amazonaws.com", "eventName", api, "awsRegion", ev->cfg->region,
                  "sourceIPAddress", json_object_get(p, "sourceIp"), "userAgent",
                  ua ? json_string_value(ua) : "", "requestParameters", request, "responseElements",
                  "requestID", json_object_get(p, "requestId"), "eventID", event_id, "readOnly", 0,
                  "resources", resources, "eventType", "AwsApiCall", "managementEvent", 0,
                  "recipientAccountId", ev->cfg->account_id, "eventCategory", "Data");
    sl_buf_free(&object_arn);
    sl_buf_free(&bucket_arn);
    return ev_envelope(ev, "aws.s3", "AWS API Call via CloudTrail", time_ms, json_array(), detail);
}

void ev_s3_events(sl_events *ev, sqlite3 *db, const json_t *payload, int64_t sequence,
                  json_t *out) {
    const char *bucket = json_string_value(json_object_get(payload, "bucket"));
    const char *key = json_string_value(json_object_get(payload, "key"));
    if (!bucket || !key) return;
    char sequencer[32];
    snprintf(sequencer, sizeof sequencer, "%016llX", (unsigned long long)sequence);
    json_t *cfg = bucket_config(db, bucket);
    if (json_object_get(json_object_get(cfg, "notification"), "EventBridgeConfiguration")) {
        json_t *e = eventbridge_event(ev, payload, sequencer);
        if (e) json_array_append_new(out, json_pack("{s:s,s:o}", "bus", "default", "event", e));
    }
    json_decref(cfg);
    if (trail_selects(db, bucket, key))
        json_array_append_new(
            out, json_pack("{s:s,s:o}", "bus", "default", "event", cloudtrail_event(ev, payload)));
}
