/* s3_notify: S3 notifications to SNS topics. An object change (an outbox row of kind "s3",
 * drained by the events dispatcher) is published, inside the dispatcher's transaction, to each
 * topic of the bucket's TopicConfigurations whose events and key filters it matches, as S3's
 * event message (Records, eventVersion 2.1) with the subject "Amazon S3 Notification". Putting
 * a configuration publishes s3:TestEvent to each of its topics. The Records builder is pure,
 * so it is unit-tested against AWS's documented example. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "sns/sns_internal.h"

#define S3_SUBJECT "Amazon S3 Notification"

/* Keys in S3 event messages are URL-encoded the way S3 does it: a space becomes '+', bytes
 * other than letters, digits, '-', '_', '.', '*' and '/' become %XX. */
static char *key_encode(const char *key) {
    static const char hex[] = "0123456789ABCDEF";
    sl_buf b;
    sl_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '*' || ch == '/')
            sl_buf_putc(&b, (char)ch);
        else if (ch == ' ') sl_buf_putc(&b, '+');
        else {
            sl_buf_putc(&b, '%');
            sl_buf_putc(&b, hex[ch >> 4]);
            sl_buf_putc(&b, hex[ch & 15]);
        }
    }
    if (!b.data) sl_buf_puts(&b, "");
    return sl_buf_steal(&b);
}

json_t *sl_sns_s3_records(const json_t *payload, const char *configuration_id, const char *region,
                          const char *owner, int64_t sequence) {
    const char *event = json_string_value(json_object_get(payload, "eventName"));
    const char *bucket = json_string_value(json_object_get(payload, "bucket"));
    const char *key = json_string_value(json_object_get(payload, "key"));
    const char *request_id = json_string_value(json_object_get(payload, "requestId"));
    const char *principal = json_string_value(json_object_get(payload, "accessKey"));
    const char *ip = json_string_value(json_object_get(payload, "sourceIp"));
    char when[32], seq[24], bucket_arn[300];
    sl_time_iso8601_ms(json_integer_value(json_object_get(payload, "timeMs")), when);
    snprintf(seq, sizeof seq, "%016llX", (unsigned long long)sequence);
    snprintf(bucket_arn, sizeof bucket_arn, "arn:aws:s3:::%s", bucket ? bucket : "");
    char *enc = key_encode(key ? key : "");
    json_t *object = json_pack("{s:s}", "key", enc);
    free(enc);
    if (event && !strncmp(event, "ObjectCreated:", 14)) {
        json_object_set(object, "size", json_object_get(payload, "size"));
        json_t *etag = json_object_get(payload, "etag");
        if (etag) json_object_set(object, "eTag", etag);
    }
    json_t *version = json_object_get(payload, "versionId");
    if (version) json_object_set(object, "versionId", version);
    json_object_set_new(object, "sequencer", json_string(seq));
    json_t *record = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s,s:s,s:{s:s,s:{s:s},s:s},s:o}}",
        "eventVersion", "2.1", "eventSource", "aws:s3", "awsRegion", region, "eventTime", when,
        "eventName", event ? event : "", "userIdentity", "principalId",
        principal ? principal : "anonymous", "requestParameters", "sourceIPAddress",
        ip ? ip : "127.0.0.1", "responseElements", "x-amz-request-id", request_id ? request_id : "",
        "x-amz-id-2", request_id ? request_id : "", "s3", "s3SchemaVersion", "1.0",
        "configurationId", configuration_id, "bucket", "name", bucket ? bucket : "",
        "ownerIdentity", "principalId", owner, "arn", bucket_arn, "object", object);
    return json_pack("{s:[o]}", "Records", record);
}

json_t *sl_sns_s3_test_event(const char *bucket, const char *request_id, int64_t time_ms) {
    char when[32];
    sl_time_iso8601_ms(time_ms, when);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "Service", "Amazon S3", "Event", "s3:TestEvent",
                     "Time", when, "Bucket", bucket, "RequestId", request_id, "HostId", request_id);
}

bool sl_sns_s3_event_matches(const json_t *configuration, const char *event_name, const char *key) {
    bool wanted = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(configuration, "Events"), i, e) {
        const char *want = json_string_value(e);
        if (!want || strncmp(want, "s3:", 3) != 0) continue;
        want += 3;
        size_t n = strlen(want);
        if (!strcmp(want, event_name) || !strcmp(want, "*") ||
            (n >= 2 && !strcmp(want + n - 2, ":*") && !strncmp(want, event_name, n - 1)))
            wanted = true;
    }
    if (!wanted) return false;
    json_t *rules = json_object_get(
        json_object_get(json_object_get(configuration, "Filter"), "Key"), "FilterRules");
    json_array_foreach(rules, i, e) {
        const char *name = json_string_value(json_object_get(e, "Name"));
        const char *value = json_string_value(json_object_get(e, "Value"));
        if (!name || !value) continue;
        if (!strcmp(name, "Prefix") && !sl_str_has_prefix(key, value)) return false;
        if (!strcmp(name, "Suffix") && !sl_str_has_suffix(key, value)) return false;
    }
    return true;
}

int sl_sns_s3_notify(sl_sns *sns, sqlite3 *db, const json_t *payload, int64_t sequence) {
    const char *bucket = json_string_value(json_object_get(payload, "bucket"));
    const char *event = json_string_value(json_object_get(payload, "eventName"));
    const char *key = json_string_value(json_object_get(payload, "key"));
    if (!bucket || !event || !key) return 0;
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT json_extract(config, '$.notification.TopicConfigurations') FROM buckets"
            " WHERE name=?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    json_t *configs = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        configs = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    if (!sns) {
        /* The dispatcher may drain before the SNS service is wired in (start-up): a change
         * some topic waits for stays in the outbox until it is. */
        int waiting = json_array_size(configs) ? -1 : 0;
        json_decref(configs);
        return waiting;
    }
    int published = 0;
    size_t i;
    json_t *c;
    json_array_foreach(configs, i, c) {
        if (!sl_sns_s3_event_matches(c, event, key)) continue;
        const char *topic = json_string_value(json_object_get(c, "TopicArn"));
        const char *id = json_string_value(json_object_get(c, "Id"));
        json_t *records = sl_sns_s3_records(payload, id ? id : "", sns->cfg->region,
                                            sns->cfg->account_id, sequence);
        char *text = json_dumps(records, JSON_COMPACT);
        json_decref(records);
        sl_sns_message m = {.topic_arn = topic, .message = text, .subject = S3_SUBJECT};
        char message_id[37], err[256];
        sl_sns_status s = sl_sns_publish_in(sns, db, &m, message_id, err, sizeof err);
        free(text);
        if (s == SL_SNS_FAILED) {
            json_decref(configs);
            return -1;
        }
        /* a topic deleted since the configuration was put: S3 drops the event too */
        if (s != SL_SNS_OK)
            sl_info("\"s3 notification not published\" bucket=%s topic=%s error=\"%s\"", bucket,
                    topic ? topic : "", err);
        else published++;
    }
    json_decref(configs);
    return published;
}

int sl_sns_s3_test_events(sl_sns *sns, sqlite3 *db, const char *bucket, const json_t *topics,
                          const char *request_id) {
    json_t *doc = sl_sns_s3_test_event(bucket, request_id, sl_now_ms());
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    int rc = 0;
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t) {
        sl_sns_message m = {
            .topic_arn = json_string_value(t), .message = text, .subject = S3_SUBJECT};
        char message_id[37], err[256];
        if (sl_sns_publish_in(sns, db, &m, message_id, err, sizeof err) == SL_SNS_FAILED) rc = -1;
    }
    free(text);
    return rc;
}
