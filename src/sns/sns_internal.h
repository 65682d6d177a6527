/* sns_internal: what the SNS files share. request.c turns Query forms into values (attribute
 * maps, message attributes, tags, batch entries) and checks them; filter.c compiles and applies
 * filter policies; topics.c keeps topics and subscriptions in the store; publish.c fans a message
 * out into delivery rows; deliver.c holds the delivery senders (HTTP, SMTP, signatures);
 * s3_notify.c turns S3 changes into topic messages; api.c owns the wire. */
#ifndef SL_SNS_INTERNAL_H
#define SL_SNS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/query.h"
#include "sns/sns.h"
#include "store/store.h"

#define SNS_SENDERS 4 /* deliveries sent side by side */

struct sl_sns {
    const sl_config *cfg;
    sl_store *store;
    struct sl_credentials *credentials;
    char *endpoint; /* the daemon's URL, set once the HTTP server listens */

    /* the senders (deliver.c): each claims one due delivery at a time; mu guards what follows */
    pthread_t senders[SNS_SENDERS];
    int nsenders;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    unsigned generation;            /* bumped by every kick and every settled delivery */
    int64_t in_flight[SNS_SENDERS]; /* delivery ids being sent (0: free slot) */

    pthread_mutex_t signer_mu;
    struct sns_signer *signer; /* RSA key and certificate, made on first use (deliver.c) */
    bool signer_failed;
};

/* ---- request.c: Query forms into values (pure) ---- */

/* Prefix.entry.N.key / .value (N from 1) as a JSON object of strings. NULL with err when an
 * entry lacks its key or value. */
json_t *sns_form_map(const sl_form *f, const char *prefix, char *err, size_t errlen);
/* Prefix.entry.N.Name / .Value.DataType / .Value.StringValue / .Value.BinaryValue as
 * {"name": {"DataType": ..., "StringValue"|"BinaryValue": ...}}, checked as SNS checks message
 * attributes (names, data types, a value present, Number values numeric, at most 10). NULL
 * with SNS's InvalidParameterValue message in err. */
json_t *sns_form_message_attributes(const sl_form *f, const char *prefix, char *err, size_t errlen);
/* Prefix.member.N.Key / .Value as [{"Key":..,"Value":..}]; NULL with err when a member lacks
 * its key or a key/value is too long. */
json_t *sns_form_tags(const sl_form *f, const char *prefix, char *err, size_t errlen);
/* Prefix.member.N as a JSON array of strings. */
json_t *sns_form_list(const sl_form *f, const char *prefix);
/* A topic name: 1..256 of [A-Za-z0-9_-], with ".fifo" allowed at the end when fifo. */
bool sns_topic_name_valid(const char *name, bool fifo);
/* "arn:aws:sns:REGION:ACCOUNT:NAME": writes NAME's start into *name. */
bool sns_topic_arn_parse(const char *arn, const char **name);
/* A MessageStructure=json message: an object of strings with a "default" key. NULL with err
 * otherwise. The caller owns the result. */
json_t *sns_message_structure_parse(const char *message, char *err, size_t errlen);

/* ---- filter.c: filter policies ---- */

typedef struct sns_filter sns_filter;
/* Compiles a FilterPolicy for scope "MessageAttributes" (body=false) or "MessageBody"
 * (body=true). NULL with an InvalidParameter message in err naming the problem. */
sns_filter *sns_filter_compile(const char *policy, bool body, char *err, size_t errlen);
/* Message attributes ({"name": {"DataType", "StringValue"}}) as the JSON object a policy is
 * matched against: String values as strings, Number as numbers, String.Array as its array;
 * Binary attributes are left out (policies never match them). */
json_t *sns_filter_attributes_doc(const json_t *attributes);
/* Whether a message passes: attributes as above (NULL: none), body the message text. */
bool sns_filter_match(const sns_filter *f, const json_t *attributes, const char *body);
void sns_filter_free(sns_filter *f);

/* ---- topics.c: rows ---- */

typedef enum {
    SNS_OK = 0,
    SNS_NOT_FOUND,
    SNS_CONFLICT, /* an existing topic with other attributes or tags */
    SNS_FAILED,
} sns_status;

typedef struct {
    char *arn;
    char *name;
    json_t *attributes; /* the settable ones as set */
    json_t *tags;       /* [{"Key", "Value"}] */
    int64_t created_ms;
} sns_topic;

typedef struct {
    char *arn;
    char *topic_arn;
    char *protocol;
    char *endpoint;
    char *token;
    bool confirmed;
    json_t *attributes; /* FilterPolicy, FilterPolicyScope, RawMessageDelivery, DeliveryPolicy */
} sns_subscription;

void sns_topic_free(sns_topic *t);
void sns_subscription_free(sns_subscription *s);
void sns_topic_arn(const sl_sns *sns, const char *name, char *out, size_t n);

/* Creates the topic or, when one of that name exists, returns SNS_OK if attributes and tags
 * agree (CreateTopic is idempotent), SNS_CONFLICT otherwise. */
sns_status sns_topic_create(sl_sns *sns, const char *arn, const char *name,
                            const json_t *attributes, const json_t *tags);
sns_status sns_topic_get(sl_sns *sns, const char *arn, sns_topic *out);
sns_status sns_topic_delete(sl_sns *sns, const char *arn);
sns_status sns_topic_set_attribute(sl_sns *sns, const char *arn, const char *name,
                                   const char *value);
sns_status sns_topic_set_tags(sl_sns *sns, const char *arn, const json_t *tags);
/* Topic ARNs after `after` (NULL: from the first), up to max; *more when others follow. */
sns_status sns_topics_list(sl_sns *sns, const char *after, int max, json_t **arns, bool *more);
/* Counts of a topic's subscriptions: confirmed, pending. */
void sns_topic_counts(sl_sns *sns, const char *arn, int *confirmed, int *pending);

/* Adds a subscription or returns the existing one of the same topic, protocol and endpoint
 * (*out filled either way; *existing says which); SNS_CONFLICT when that one has other values
 * for the attributes asked for. */
sns_status sns_subscription_add(sl_sns *sns, const sns_subscription *s, sns_subscription *out,
                                bool *existing);
sns_status sns_subscription_get(sl_sns *sns, const char *arn, sns_subscription *out);
/* Confirms the topic's subscription whose token this is; *out is the subscription. */
sns_status sns_subscription_confirm(sl_sns *sns, const char *topic_arn, const char *token,
                                    sns_subscription *out);
sns_status sns_subscription_delete(sl_sns *sns, const char *arn);
sns_status sns_subscription_set_attribute(sl_sns *sns, const char *arn, const char *name,
                                          const char *value);
/* Subscriptions (of topic_arn, or all when NULL) whose ARN sorts after `after`, up to max. */
sns_status sns_subscriptions_list(sl_sns *sns, const char *topic_arn, const char *after, int max,
                                  sns_subscription **out, size_t *n, bool *more);

/* ---- publish.c: fan-out into delivery rows ---- */

/* Inside a write job: queues a SubscriptionConfirmation (or, unsubscribe=true, an
 * UnsubscribeConfirmation) for s. */
int sns_queue_confirmation(sl_sns *sns, sqlite3 *db, const sns_subscription *s, bool unsubscribe);

/* ---- deliver.c: the senders ---- */

int sns_deliver_start(sl_sns *sns, char *err, size_t errlen);
void sns_deliver_stop(sl_sns *sns);
/* The PEM certificate served at the SigningCertURL (valid while sns lives), or NULL when
 * the key is unusable. Makes the key on first use. */
const char *sns_signing_cert(sl_sns *sns);
void sns_signer_free(struct sns_signer *s);
/* Seconds before retry number k (1-based) of a retry policy ({"numRetries", "minDelayTarget",
 * "maxDelayTarget", "backoffFunction"}): linear/arithmetic spread evenly from min to max over
 * the retries, exponential/geometric double from min (at least 1) up to max. */
int64_t sns_retry_delay_s(const json_t *policy, int k);
/* The string SNS signs for a message document (Type decides the fields), as AWS documents. */
char *sns_string_to_sign(const json_t *msg);

/* SMTP: the mail for a delivery. Pure; the caller frees. */
char *sns_mail_text(const char *from, const char *to, const char *subject, const char *body,
                    const char *message_id);

#endif
