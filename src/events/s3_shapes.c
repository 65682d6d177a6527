/* s3_shapes: the events a change in the object store raises, in AWS's exact shapes:
 *   - EventBridge "Object Created" / "Object Deleted" / "Object Tags Added" / "Object Tags
 *     Deleted" (source aws.s3), when the bucket's notification configuration enables
 *     EventBridge;
 *   - "AWS API Call via CloudTrail" data events, when a logging trail's event selectors (basic
 *     or advanced, trail/selectors.c) select the call: one event per call, so a DeleteObjects
 *     of many keys is one event (raised by its first key's payload, which lists them all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "events/events_internal.h"
#include "trail/selectors.h"

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
    static const char sql[] = "SELECT config FROM buckets WHERE name=?1";
    sqlite3_stmt *st = sl_store_cached(db, sql);
    json_t *cfg = NULL;
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        cfg = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
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

/* ---- which calls a trail logs ---- */

/* A logging trail's selectors, compiled once and reused while its stored text stays the same:
 * the outbox brings every write of every bucket while some trail logs. */
struct ev_trail_cache {
    char *name;
    char *basic, *advanced; /* the stored JSON texts (NULL when absent) */
    sl_trail_selectors *compiled;
    struct ev_trail_cache *next;
};

#define TRAIL_CACHE_MAX 64

static bool same_text(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

void ev_trail_cache_free(struct ev_trail_cache *c) {
    while (c) {
        struct ev_trail_cache *next = c->next;
        free(c->name);
        free(c->basic);
        free(c->advanced);
        sl_trail_selectors_free(c->compiled);
        free(c);
        c = next;
    }
}

/* Caller holds ev->trail_mu. NULL when the stored selectors do not compile (never logs). */
static const sl_trail_selectors *trail_selectors(sl_events *ev, const char *name, const char *basic,
                                                 const char *advanced) {
    size_t n = 0;
    for (struct ev_trail_cache *c = ev->trail_cache; c; c = c->next, n++) {
        if (strcmp(c->name, name) != 0) continue;
        if (same_text(c->basic, basic) && same_text(c->advanced, advanced)) return c->compiled;
        break;
    }
    /* A changed or new trail: start over when the cache has grown (trails come and go). */
    if (n >= TRAIL_CACHE_MAX) {
        ev_trail_cache_free(ev->trail_cache);
        ev->trail_cache = NULL;
    }
    struct ev_trail_cache **pp = &ev->trail_cache;
    while (*pp && strcmp((*pp)->name, name) != 0) pp = &(*pp)->next;
    struct ev_trail_cache *c = *pp;
    if (!c) {
        c = sl_xcalloc(1, sizeof *c);
        c->name = sl_xstrdup(name);
        *pp = c;
    } else {
        free(c->basic);
        free(c->advanced);
        sl_trail_selectors_free(c->compiled);
    }
    c->basic = basic ? sl_xstrdup(basic) : NULL;
    c->advanced = advanced ? sl_xstrdup(advanced) : NULL;
    json_t *b = basic ? json_loads(basic, 0, NULL) : NULL;
    json_t *a = advanced ? json_loads(advanced, 0, NULL) : NULL;
    char err[256];
    c->compiled = sl_trail_selectors_compile(b, a, err, sizeof err);
    json_decref(b);
    json_decref(a);
    return c->compiled;
}

/* The keys a call's CloudTrail event is about: the object's, or for DeleteObjects every key
 * of the request (carried by its first key's payload; the others raise no CloudTrail event). */
static json_t *trail_keys(const json_t *p, const char *api) {
    if (!strcmp(api, "DeleteObjects")) return json_incref(json_object_get(p, "deleteKeys"));
    json_t *key = json_object_get(p, "key");
    return json_is_string(key) ? json_pack("[O]", key) : NULL;
}

/* Whether some logging trail logs the call: one of its selectors selects one of its keys. */
static bool trail_logs(sl_events *ev, sqlite3 *db, const json_t *p) {
    const char *api = json_string_value(json_object_get(p, "api"));
    const char *bucket = json_string_value(json_object_get(p, "bucket"));
    json_t *keys = api && bucket ? trail_keys(p, api) : NULL;
    if (!json_array_size(keys)) {
        json_decref(keys);
        return false;
    }
    sqlite3_stmt *st =
        sl_store_cached(db, "SELECT name, selectors, advanced_selectors FROM trails WHERE logging=1"
                            " AND (selectors IS NOT NULL OR advanced_selectors IS NOT NULL)");
    if (!st) {
        json_decref(keys);
        return false;
    }
    char user_arn[128];
    snprintf(user_arn, sizeof user_arn, "arn:aws:iam::%.32s:root", ev->cfg->account_id);
    sl_trail_event e = {.event_category = "Data",
                        .event_source = "s3.amazonaws.com",
                        .event_name = api,
                        .event_type = "AwsApiCall",
                        .resource_type = "AWS::S3::Object",
                        .user_arn = user_arn,
                        .read_only = false};
    sl_buf arn;
    sl_buf_init(&arn);
    bool logged = false;
    pthread_mutex_lock(&ev->trail_mu);
    while (!logged && sqlite3_step(st) == SQLITE_ROW) {
        const sl_trail_selectors *sel = trail_selectors(
            ev, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2));
        size_t i;
        json_t *k;
        json_array_foreach(keys, i, k) {
            sl_buf_reset(&arn);
            sl_buf_printf(&arn, "arn:aws:s3:::%s/%s", bucket, json_string_value(k));
            e.resource_arn = arn.data;
            if ((logged = sl_trail_selectors_match(sel, &e))) break;
        }
    }
    pthread_mutex_unlock(&ev->trail_mu);
    sqlite3_reset(st);
    sl_buf_free(&arn);
    json_decref(keys);
    return logged;
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
    json_t *request, *resources;
    if (!strcmp(api, "DeleteObjects")) {
        /* One event for the call, as CloudTrail records it: the ?delete subresource, not the
         * keys; the object resource is the bucket's ARN prefix. */
        request = json_pack("{s:s,s:s,s:s}", "bucketName", bucket, "Host", "s3.amazonaws.com",
                            "delete", "");
        sl_buf_reset(&object_arn);
        sl_buf_printf(&object_arn, "arn:aws:s3:::%s/", bucket);
        resources = json_pack("[{s:s,s:s},{s:s,s:s,s:s}]", "type", "AWS::S3::Object", "ARNPrefix",
                              object_arn.data, "accountId", ev->cfg->account_id, "type",
                              "AWS::S3::Bucket", "ARN", bucket_arn.data);
    } else {
        request = json_pack("{s:s,s:s,s:s}", "bucketName", bucket, "Host", "s3.amazonaws.com",
                            "key", key);
        resources = json_pack("[{s:s,s:s},{s:s,s:s,s:s}]", "type", "AWS::S3::Object", "ARN",
                              object_arn.data, "accountId", ev->cfg->account_id, "type",
                              "AWS::S3::Bucket", "ARN", bucket_arn.data);
    }
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
    if (trail_logs(ev, db, payload))
        json_array_append_new(
            out, json_pack("{s:s,s:o}", "bus", "default", "event", cloudtrail_event(ev, payload)));
}
