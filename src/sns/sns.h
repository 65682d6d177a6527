/* sns: the Amazon SNS-compatible topic service. Topics and subscriptions (http, https, email,
 * email-json) live in the store; Publish writes one durable delivery row per matching
 * subscription in the same transaction as the message, and delivery senders drain them:
 * HTTP(S) POSTs in SNS's JSON shape, signed with a key pair the daemon keeps, and mail through
 * the configured SMTP server. Speaks SNS's Query protocol (docs/sns.md); other services call
 * it directly (S3 topic notifications, EventBridge SNS targets, Step Functions sns:publish). */
#ifndef SL_SNS_H
#define SL_SNS_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/context.h"
#include "core/router.h"

typedef struct sl_sns sl_sns;

sl_sns *sl_sns_new(const sl_context *ctx, char *err, size_t errlen);
/* Registers the Query service ("sns") and the unsigned SubscribeURL/UnsubscribeURL and
 * signing-certificate endpoints. */
void sl_sns_register(sl_sns *sns, sl_router *router);
/* The daemon's own URL (SubscribeURL, UnsubscribeURL, SigningCertURL point at it); starts
 * the delivery senders. */
void sl_sns_set_endpoint(sl_sns *sns, const char *endpoint);
/* Wakes the delivery senders (after a commit that queued deliveries in another's job). */
void sl_sns_kick(sl_sns *sns);
void sl_sns_free(sl_sns *sns);

typedef enum {
    SL_SNS_OK = 0,
    SL_SNS_NOT_FOUND, /* NotFound: the topic */
    SL_SNS_INVALID,   /* InvalidParameter: err says which */
    SL_SNS_FAILED,    /* InternalError */
} sl_sns_status;

/* One message to publish. attributes: {"name": {"DataType": ..., "StringValue"|"BinaryValue":
 * ...}} or NULL. structure: NULL or "json" (message is then {"default": ..., "http": ...}). */
typedef struct {
    const char *topic_arn;
    const char *message;
    const char *subject;
    const char *structure;
    const json_t *attributes;
} sl_sns_message;

/* Validates and publishes, durable when it returns SL_SNS_OK (message_id filled). Any thread
 * except the store's writer. */
sl_sns_status sl_sns_publish(sl_sns *sns, const sl_sns_message *m, char message_id[37], char *err,
                             size_t errlen);
/* The same inside a store write job (the caller's transaction); call sl_sns_kick after the
 * commit. */
sl_sns_status sl_sns_publish_in(sl_sns *sns, sqlite3 *db, const sl_sns_message *m,
                                char message_id[37], char *err, size_t errlen);
/* Message attributes given as JSON ({"name": {"DataType", "StringValue"|"BinaryValue"}}, as a
 * state machine writes them) checked as Publish checks them; the checked copy, or NULL with
 * SNS's message in err. */
json_t *sl_sns_message_attributes(const json_t *attributes, char *err, size_t errlen);
/* Whether the topic exists now (S3 checks a TopicConfiguration's destination). */
bool sl_sns_topic_exists(sl_sns *sns, const char *topic_arn);

/* Inside the events dispatcher's drain job: publishes the S3 event message (Records, version
 * 2.1) of an outbox row of kind "s3" to each topic of the bucket's TopicConfigurations whose
 * events and key filters it matches. Returns the number published, or -1 on a store error
 * or when sns is NULL (not wired in yet) and the bucket has topic configurations: the caller
 * keeps the row and tries again later. */
int sl_sns_s3_notify(sl_sns *sns, sqlite3 *db, const json_t *payload, int64_t sequence);
/* Inside S3's write job for PutBucketNotificationConfiguration: publishes s3:TestEvent to each
 * topic ARN of the JSON array topics. 0, or -1 on a store error. */
int sl_sns_s3_test_events(sl_sns *sns, sqlite3 *db, const char *bucket, const json_t *topics,
                          const char *request_id);
/* The S3 event message {"Records": [...]} for an outbox payload (the fields of
 * s3_event_payload: eventName, bucket, key, size, etag, timeMs, requestId, sourceIp,
 * accessKey, versionId when versioned), a configuration id, the region, the bucket owner's
 * principal id and a sequence (the sequencer, increasing per change). Pure. */
json_t *sl_sns_s3_records(const json_t *payload, const char *configuration_id, const char *region,
                          const char *owner, int64_t sequence);
/* {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time", "Bucket", "RequestId", "HostId"} */
json_t *sl_sns_s3_test_event(const char *bucket, const char *request_id, int64_t time_ms);
/* Whether a TopicConfiguration ({"Events": [...], "Filter": {"Key": {"FilterRules": [...]}}})
 * wants event_name ("ObjectCreated:Put") on key. */
bool sl_sns_s3_event_matches(const json_t *configuration, const char *event_name, const char *key);

#endif
