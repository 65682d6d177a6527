/* publish: a message fanned out to a topic's confirmed subscriptions, as one delivery row per
 * subscription whose filter policy passes, written in the caller's transaction: a Publish that
 * answered has every delivery on disk, and a crash loses none (the senders send them after a
 * restart; a delivery may repeat, at-least-once as on AWS). The row carries the message
 * document in SNS's JSON shape, minus what depends on the daemon's URL (SubscribeURL,
 * UnsubscribeURL, SigningCertURL) and the signature, which the sender adds when sending. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "sns/sns_internal.h"

#define MESSAGE_MAX_BYTES (256 * 1024)
#define SUBJECT_MAX       100

/* AWS's default HTTP/S delivery policy (healthyRetryPolicy): three retries 20 s apart. SMTP's
 * policy is not settable on AWS (50 attempts over some six hours: 10 s apart, then backing
 * off to 600 s); Sluice approximates it with 49 retries backing off from 10 s to 600 s. */
static json_t *default_policy(const char *protocol) {
    if (!strncmp(protocol, "email", 5))
        return json_pack("{s:i,s:i,s:i,s:s}", "numRetries", 49, "minDelayTarget", 10,
                         "maxDelayTarget", 600, "backoffFunction", "exponential");
    return json_pack("{s:i,s:i,s:i,s:s}", "numRetries", 3, "minDelayTarget", 20, "maxDelayTarget",
                     20, "backoffFunction", "linear");
}

/* The retry policy for a delivery: the subscription's DeliveryPolicy healthyRetryPolicy, else
 * the topic's DeliveryPolicy http.defaultHealthyRetryPolicy, else the default; plus the
 * request policy's headerContentType (requestPolicy, else http.defaultRequestPolicy) when set. */
static json_t *effective_policy(const char *protocol, const json_t *sub_attrs,
                                const json_t *topic_attrs) {
    json_t *out = default_policy(protocol);
    if (strncmp(protocol, "http", 4) != 0) return out;
    const char *docs[2] = {json_string_value(json_object_get(topic_attrs, "DeliveryPolicy")),
                           json_string_value(json_object_get(sub_attrs, "DeliveryPolicy"))};
    for (int i = 0; i < 2; i++) {
        json_t *d = docs[i] ? json_loads(docs[i], 0, NULL) : NULL;
        json_t *http = i == 0 ? json_object_get(d, "http") : d;
        json_t *p =
            json_object_get(http, i == 0 ? "defaultHealthyRetryPolicy" : "healthyRetryPolicy");
        const char *k;
        json_t *v;
        json_object_foreach(p, k, v) {
            if (json_object_get(out, k)) json_object_set(out, k, v);
        }
        /* the request policy's Content-Type rides along with the retry figures */
        json_t *ctype = json_object_get(
            json_object_get(http, i == 0 ? "defaultRequestPolicy" : "requestPolicy"),
            "headerContentType");
        if (json_is_string(ctype)) json_object_set(out, "headerContentType", ctype);
        json_decref(d);
    }
    return out;
}

/* {"name": {"Type": ..., "Value": ...}}: message attributes as HTTP/S and email-json
 * notifications carry them. */
static json_t *attributes_for_delivery(const json_t *attributes) {
    json_t *out = json_object();
    const char *name;
    json_t *a;
    json_object_foreach((json_t *)attributes, name, a) {
        json_t *v = json_object_get(a, "StringValue");
        if (!v) v = json_object_get(a, "BinaryValue");
        json_object_set_new(out, name,
                            json_pack("{s:O,s:O}", "Type", json_object_get(a, "DataType"), "Value",
                                      v ? v : json_null()));
    }
    return out;
}

static int insert_delivery(sqlite3 *db, const char *sub_arn, const char *protocol,
                           const char *endpoint, bool raw, const json_t *policy,
                           const json_t *doc) {
    sqlite3_stmt *st =
        sl_store_cached(db, "INSERT INTO sns_deliveries (subscription_arn, protocol, endpoint, raw,"
                            " policy, message, next_ms, created_ms)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)");
    if (!st) return -1;
    char *policy_text = json_dumps(policy, JSON_COMPACT);
    char *doc_text = json_dumps(doc, JSON_COMPACT);
    sqlite3_bind_text(st, 1, sub_arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, protocol, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, raw);
    sqlite3_bind_text(st, 5, policy_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, doc_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, sl_now_ms());
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(policy_text);
    free(doc_text);
    return rc == SQLITE_DONE ? 0 : -1;
}

static json_t *topic_attributes(sqlite3 *db, const char *topic_arn, bool *exists) {
    sqlite3_stmt *st = sl_store_cached(db, "SELECT attributes FROM sns_topics WHERE arn=?1");
    *exists = false;
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, topic_arn, -1, SQLITE_STATIC);
    json_t *attrs = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *exists = true;
        attrs = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    }
    sqlite3_reset(st);
    return attrs ? attrs : json_object();
}

/* The topic's SignatureVersion ("1" or "2"), for the sender that signs. */
static void copy_signature_version(json_t *doc, const json_t *topic_attrs) {
    json_t *v = json_object_get(topic_attrs, "SignatureVersion");
    if (json_is_string(v)) json_object_set(doc, "SignatureVersion", v);
}

int sns_queue_confirmation(sl_sns *sns, sqlite3 *db, const sns_subscription *s, bool unsubscribe) {
    (void)sns;
    char id[37], ts[32];
    sl_id_uuid(id);
    sl_time_iso8601_ms(sl_now_ms(), ts);
    char msg[1024];
    if (unsubscribe)
        snprintf(msg, sizeof msg,
                 "You have chosen to deactivate subscription %s.\n"
                 "To cancel this operation and restore the subscription, visit the SubscribeURL "
                 "included in this message.",
                 s->arn);
    else
        snprintf(msg, sizeof msg,
                 "You have chosen to subscribe to the topic %s.\n"
                 "To confirm the subscription, visit the SubscribeURL included in this message.",
                 s->topic_arn);
    json_t *doc =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "Type",
                  unsubscribe ? "UnsubscribeConfirmation" : "SubscriptionConfirmation", "MessageId",
                  id, "Token", s->token, "TopicArn", s->topic_arn, "Message", msg, "Timestamp", ts);
    bool exists;
    json_t *tattrs = topic_attributes(db, s->topic_arn, &exists);
    copy_signature_version(doc, tattrs);
    json_t *policy = effective_policy(s->protocol, s->attributes, tattrs);
    int rc = insert_delivery(db, s->arn, s->protocol, s->endpoint, false, policy, doc);
    json_decref(policy);
    json_decref(tattrs);
    json_decref(doc);
    return rc;
}

static bool subject_valid(const char *s) {
    size_t n = strlen(s);
    if (!n || n > SUBJECT_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return false;
    return true;
}

/* Checks a message as Publish does; 0 or -1 with err. */
static int message_check(const sl_sns_message *m, json_t **per_protocol, char *err, size_t errlen) {
    *per_protocol = NULL;
    if (!m->message || !*m->message) {
        snprintf(err, errlen, "Invalid parameter: Empty message");
        return -1;
    }
    size_t total = strlen(m->message);
    const char *name;
    json_t *a;
    json_object_foreach((json_t *)m->attributes, name, a) {
        total += strlen(name);
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v) total += json_string_length(v);
    }
    if (total > MESSAGE_MAX_BYTES) {
        snprintf(err, errlen, "Invalid parameter: Message too long");
        return -1;
    }
    if (m->subject && !subject_valid(m->subject)) {
        snprintf(err, errlen, "Invalid parameter: Subject");
        return -1;
    }
    if (m->structure) {
        if (strcmp(m->structure, "json") != 0) {
            snprintf(err, errlen, "Invalid parameter: MessageStructure");
            return -1;
        }
        *per_protocol = sns_message_structure_parse(m->message, err, errlen);
        if (!*per_protocol) return -1;
    }
    return 0;
}

sl_sns_status sl_sns_publish_in(sl_sns *sns, sqlite3 *db, const sl_sns_message *m,
                                char message_id[37], char *err, size_t errlen) {
    json_t *per_protocol;
    if (message_check(m, &per_protocol, err, errlen) != 0) return SL_SNS_INVALID;
    bool exists;
    json_t *tattrs = topic_attributes(db, m->topic_arn, &exists);
    if (!exists) {
        json_decref(tattrs);
        json_decref(per_protocol);
        snprintf(err, errlen, "Topic does not exist");
        return SL_SNS_NOT_FOUND;
    }
    sl_id_uuid(message_id);
    char ts[32];
    sl_time_iso8601_ms(sl_now_ms(), ts);
    sqlite3_stmt *st = sl_store_cached(db, "SELECT arn, protocol, endpoint, attributes"
                                           " FROM sns_subscriptions WHERE topic_arn=?1"
                                           " AND confirmed=1 ORDER BY arn");
    sl_sns_status status = st ? SL_SNS_OK : SL_SNS_FAILED;
    json_t *subs = json_array();
    if (st) {
        sqlite3_bind_text(st, 1, m->topic_arn, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *attrs = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
            json_array_append_new(subs,
                                  json_pack("[s,s,s,o]", (const char *)sqlite3_column_text(st, 0),
                                            (const char *)sqlite3_column_text(st, 1),
                                            (const char *)sqlite3_column_text(st, 2),
                                            attrs ? attrs : json_object()));
        }
        sqlite3_reset(st);
    }
    json_t *delivered_attrs =
        json_object_size(m->attributes) ? attributes_for_delivery(m->attributes) : NULL;
    size_t i;
    json_t *sub;
    json_array_foreach(subs, i, sub) {
        if (status != SL_SNS_OK) break;
        const char *sub_arn = json_string_value(json_array_get(sub, 0));
        const char *protocol = json_string_value(json_array_get(sub, 1));
        const char *endpoint = json_string_value(json_array_get(sub, 2));
        json_t *attrs = json_array_get(sub, 3);
        const char *body = m->message;
        if (per_protocol) {
            json_t *v = json_object_get(per_protocol, protocol);
            body = json_string_value(v ? v : json_object_get(per_protocol, "default"));
        }
        const char *policy_text = json_string_value(json_object_get(attrs, "FilterPolicy"));
        if (policy_text) {
            const char *scope = json_string_value(json_object_get(attrs, "FilterPolicyScope"));
            char ferr[256];
            sns_filter *f = sns_filter_compile(policy_text, scope && !strcmp(scope, "MessageBody"),
                                               ferr, sizeof ferr);
            bool pass = f && sns_filter_match(f, m->attributes, body);
            sns_filter_free(f);
            if (!pass) continue;
        }
        json_t *doc = json_pack("{s:s,s:s,s:s}", "Type", "Notification", "MessageId", message_id,
                                "TopicArn", m->topic_arn);
        if (m->subject) json_object_set_new(doc, "Subject", json_string(m->subject));
        json_object_set_new(doc, "Message", json_string(body));
        json_object_set_new(doc, "Timestamp", json_string(ts));
        if (delivered_attrs) json_object_set(doc, "MessageAttributes", delivered_attrs);
        copy_signature_version(doc, tattrs);
        const char *raw = json_string_value(json_object_get(attrs, "RawMessageDelivery"));
        json_t *policy = effective_policy(protocol, attrs, tattrs);
        if (insert_delivery(db, sub_arn, protocol, endpoint, raw && !strcmp(raw, "true"), policy,
                            doc) != 0)
            status = SL_SNS_FAILED;
        json_decref(policy);
        json_decref(doc);
    }
    json_decref(delivered_attrs);
    json_decref(subs);
    json_decref(tattrs);
    json_decref(per_protocol);
    if (status == SL_SNS_FAILED) snprintf(err, errlen, "the message could not be stored");
    return status;
}

typedef struct {
    sl_sns *sns;
    const sl_sns_message *m;
    char *message_id;
    char *err;
    size_t errlen;
} publish_job;

static int publish_run(sqlite3 *db, void *arg) {
    publish_job *j = arg;
    return (int)sl_sns_publish_in(j->sns, db, j->m, j->message_id, j->err, j->errlen);
}

sl_sns_status sl_sns_publish(sl_sns *sns, const sl_sns_message *m, char message_id[37], char *err,
                             size_t errlen) {
    publish_job j = {.sns = sns, .m = m, .message_id = message_id, .err = err, .errlen = errlen};
    int rc = sl_store_write(sns->store, publish_run, &j);
    if (rc == SL_SNS_OK) sl_sns_kick(sns);
    if (rc < 0 || rc > SL_SNS_FAILED) {
        snprintf(err, errlen, "the message could not be stored");
        return SL_SNS_FAILED;
    }
    return (sl_sns_status)rc;
}
