/* api: SNS's Query protocol. A call is `POST /` with a form-encoded body (Action=Publish,
 * Version=2010-03-31, map entries as Attributes.entry.N.key/value, message attributes as
 * MessageAttributes.entry.N.Name/Value.DataType/...), signed with SigV4 for "sns"; answers are
 * XML in SNS's namespace (core/query.c). Two calls also come unsigned, as on AWS: the
 * SubscribeURL (GET /?Action=ConfirmSubscription&TopicArn=...&Token=...) and the
 * UnsubscribeURL (GET /?Action=Unsubscribe&SubscriptionArn=...) that messages carry; the
 * signing certificate is served at /_sluice/sns/SimpleNotificationService.pem.
 * This file owns the wire: decoding, input checks with SNS's codes, XML. An action not in
 * `ops` answers InvalidAction, as IAM does (docs/sns.md lists them). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "sns/sns_internal.h"

#define SNS_XMLNS      "http://sns.amazonaws.com/doc/2010-03-31/"
#define SNS_VERSION    "2010-03-31"
#define BODY_LIMIT     (1u << 20)
#define PAGE_TOPICS    100
#define PAGE_SUBS      100
#define TAGS_MAX       50
#define BATCH_MAX      10
#define BATCH_MAX_SIZE (256 * 1024)

typedef struct {
    sl_req *req;
    sl_sns *sns;
    sl_form form;
    const char *action;
} sns_call;

/* ---- answers ---- */

#define fail(c, status, code, ...) sl_query_failf((c)->req, SNS_XMLNS, status, code, __VA_ARGS__)

static void invalid(sns_call *c, const char *what) {
    fail(c, 400, "InvalidParameter", "Invalid parameter: %s", what);
}

static void internal_error(sns_call *c) {
    fail(c, 500, "InternalError", "The request was not applied; see the daemon's log.");
}

static void not_found(sns_call *c, const char *what) {
    fail(c, 404, "NotFound", "%s does not exist", what);
}

static void reply_begin(sns_call *c, sl_buf *b, bool result) {
    sl_query_reply_begin(b, SNS_XMLNS, c->action, result);
}

static void reply_end(sns_call *c, sl_buf *b, bool result) {
    sl_query_reply_end(c->req, b, c->action, result);
}

static void reply_empty(sns_call *c) {
    sl_buf b;
    reply_begin(c, &b, false);
    reply_end(c, &b, false);
}

#define xml_text sl_query_xml_text

static void xml_attributes(sl_buf *b, const json_t *attrs) {
    sl_buf_puts(b, "<Attributes>");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)attrs, k, v) {
        sl_buf_puts(b, "<entry>");
        xml_text(b, "key", k);
        xml_text(b, "value", json_string_value(v) ? json_string_value(v) : "");
        sl_buf_puts(b, "</entry>");
    }
    sl_buf_puts(b, "</Attributes>");
}

/* ---- input ---- */

static const char *param(sns_call *c, const char *name) { return sl_form_get(&c->form, name); }

/* A required parameter, or NULL after answering InvalidParameter. */
static const char *required(sns_call *c, const char *name) {
    const char *v = param(c, name);
    if (!v)
        fail(c, 400, "InvalidParameter", "Invalid parameter: %s Reason: must be provided", name);
    return v;
}

/* A required topic ARN that parses, or NULL after the error. */
static const char *topic_arn_param(sns_call *c, const char *field) {
    const char *arn = required(c, field);
    const char *name;
    if (arn && !sns_topic_arn_parse(arn, &name)) {
        invalid(c, field);
        return NULL;
    }
    return arn;
}

static bool subscription_arn_valid(const char *arn) {
    const char *last = arn ? strrchr(arn, ':') : NULL;
    if (!last || last == arn) return false;
    char topic[600];
    size_t n = (size_t)(last - arn);
    if (n >= sizeof topic) return false;
    memcpy(topic, arn, n);
    topic[n] = 0;
    const char *name;
    return sns_topic_arn_parse(topic, &name) && strlen(last + 1) == 36;
}

/* ---- topics ---- */

static const char *const topic_settable[] = {
    "DisplayName",          "Policy",        "DeliveryPolicy",
    "SignatureVersion",     "TracingConfig", "KmsMasterKeyId",
    "DataProtectionPolicy", "ArchivePolicy", NULL};

static bool in_list(const char *const *list, const char *s) {
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], s)) return true;
    return false;
}

/* Checks one topic attribute; answers the error and returns false when it is not valid. */
static bool topic_attribute_ok(sns_call *c, const char *name, const char *value) {
    if (!strcmp(name, "FifoTopic") || !strcmp(name, "ContentBasedDeduplication") ||
        !strcmp(name, "FifoThroughputScope")) {
        if (!strcmp(name, "FifoTopic") && !strcmp(value, "false")) return true;
        fail(c, 400, "InvalidParameter",
             "Invalid parameter: Attributes Reason: %s: Sluice does not support FIFO topics "
             "(docs/sns.md)",
             name);
        return false;
    }
    if (!in_list(topic_settable, name)) {
        invalid(c, "AttributeName");
        return false;
    }
    if (!strcmp(name, "SignatureVersion") && strcmp(value, "1") && strcmp(value, "2")) {
        fail(c, 400, "InvalidParameter",
             "Invalid parameter: Attributes Reason: SignatureVersion: Invalid value [%.32s]. "
             "Must be 1 or 2",
             value);
        return false;
    }
    if ((!strcmp(name, "Policy") || !strcmp(name, "DeliveryPolicy")) && *value) {
        json_t *doc = json_loads(value, 0, NULL);
        bool ok = json_is_object(doc);
        json_decref(doc);
        if (!ok) {
            fail(c, 400, "InvalidParameter",
                 "Invalid parameter: Attributes Reason: %s: "
                 "the value is not a JSON object",
                 name);
            return false;
        }
    }
    return true;
}

static void op_create_topic(sns_call *c) {
    const char *name = required(c, "Name");
    if (!name) return;
    char err[300];
    json_t *attrs = sns_form_map(&c->form, "Attributes", err, sizeof err);
    if (!attrs) return fail(c, 400, "InvalidParameter", "%s", err);
    const char *fifo = json_string_value(json_object_get(attrs, "FifoTopic"));
    if (sl_str_has_suffix(name, ".fifo") || (fifo && !strcmp(fifo, "true"))) {
        json_decref(attrs);
        return fail(c, 400, "InvalidParameter",
                    "Invalid parameter: Sluice does not support FIFO topics (docs/sns.md)");
    }
    if (!sns_topic_name_valid(name, false)) {
        json_decref(attrs);
        return fail(c, 400, "InvalidParameter", "Invalid parameter: Topic Name");
    }
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v) {
        if (!topic_attribute_ok(c, k, json_string_value(v))) return json_decref(attrs);
    }
    json_object_del(attrs, "FifoTopic");
    const char *dpp = param(c, "DataProtectionPolicy");
    if (dpp) json_object_set_new(attrs, "DataProtectionPolicy", json_string(dpp));
    json_t *tags = sns_form_tags(&c->form, "Tags", err, sizeof err);
    if (!tags) {
        json_decref(attrs);
        return fail(c, 400, "InvalidParameter", "%s", err);
    }
    if (json_array_size(tags) > TAGS_MAX) {
        json_decref(attrs);
        json_decref(tags);
        return fail(c, 400, "TagLimitExceeded",
                    "Could not complete request: tag quota of per resource exceeded");
    }
    char arn[600];
    sns_topic_arn(c->sns, name, arn, sizeof arn);
    sns_status s = sns_topic_create(c->sns, arn, name, attrs, tags);
    json_decref(attrs);
    json_decref(tags);
    if (s == SNS_CONFLICT)
        return fail(c, 400, "InvalidParameter",
                    "Invalid parameter: Attributes Reason: Topic already exists with different "
                    "attributes or tags");
    if (s != SNS_OK) return internal_error(c);
    sl_buf b;
    reply_begin(c, &b, true);
    xml_text(&b, "TopicArn", arn);
    reply_end(c, &b, true);
}

static void op_delete_topic(sns_call *c) {
    const char *arn = topic_arn_param(c, "TopicArn");
    if (!arn) return;
    if (sns_topic_delete(c->sns, arn) != SNS_OK) return internal_error(c);
    reply_empty(c);
}

/* A page position: the last ARN of the previous page. */
static bool next_token_param(sns_call *c, const char **token) {
    *token = param(c, "NextToken");
    if (*token && !**token) {
        invalid(c, "NextToken");
        return false;
    }
    return true;
}

static void op_list_topics(sns_call *c) {
    const char *token;
    if (!next_token_param(c, &token)) return;
    json_t *arns;
    bool more;
    if (sns_topics_list(c->sns, token, PAGE_TOPICS, &arns, &more) != SNS_OK) {
        json_decref(arns);
        return internal_error(c);
    }
    sl_buf b;
    reply_begin(c, &b, true);
    sl_buf_puts(&b, "<Topics>");
    size_t i;
    json_t *a;
    json_array_foreach(arns, i, a) {
        sl_buf_puts(&b, "<member>");
        xml_text(&b, "TopicArn", json_string_value(a));
        sl_buf_puts(&b, "</member>");
    }
    sl_buf_puts(&b, "</Topics>");
    if (more) xml_text(&b, "NextToken", json_string_value(json_array_get(arns, i - 1)));
    reply_end(c, &b, true);
    json_decref(arns);
}

static char *default_topic_policy(const sl_sns *sns, const char *arn) {
    json_t *p = json_pack(
        "{s:s,s:s,s:[{s:s,s:s,s:{s:s},s:[s,s,s,s,s,s,s,s],s:s,s:{s:{s:s}}}]}", "Version",
        "2008-10-17", "Id", "__default_policy_ID", "Statement", "Sid", "__default_statement_ID",
        "Effect", "Allow", "Principal", "AWS", "*", "Action", "SNS:GetTopicAttributes",
        "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission", "SNS:DeleteTopic",
        "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish", "Resource", arn,
        "Condition", "StringEquals", "AWS:SourceOwner", sns->cfg->account_id);
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return s;
}

static const char effective_http_policy[] =
    "{\"http\":{\"defaultHealthyRetryPolicy\":{\"minDelayTarget\":20,\"maxDelayTarget\":20,"
    "\"numRetries\":3,\"numMaxDelayRetries\":0,\"numNoDelayRetries\":0,\"numMinDelayRetries\":0,"
    "\"backoffFunction\":\"linear\"},\"disableSubscriptionOverrides\":false,"
    "\"defaultRequestPolicy\":{\"headerContentType\":\"text/plain; charset=UTF-8\"}}}";

static void op_get_topic_attributes(sns_call *c) {
    const char *arn = topic_arn_param(c, "TopicArn");
    if (!arn) return;
    sns_topic t;
    sns_status s = sns_topic_get(c->sns, arn, &t);
    if (s == SNS_NOT_FOUND) return not_found(c, "Topic");
    if (s != SNS_OK) return internal_error(c);
    int confirmed, pending;
    sns_topic_counts(c->sns, arn, &confirmed, &pending);
    json_t *out = json_object();
    char *policy = default_topic_policy(c->sns, arn);
    json_object_set_new(out, "Policy", json_string(policy));
    free(policy);
    json_object_set_new(out, "Owner", json_string(c->sns->cfg->account_id));
    json_object_set_new(out, "TopicArn", json_string(arn));
    json_object_set_new(out, "DisplayName", json_string(""));
    json_object_set_new(out, "EffectiveDeliveryPolicy", json_string(effective_http_policy));
    char n[16];
    snprintf(n, sizeof n, "%d", confirmed);
    json_object_set_new(out, "SubscriptionsConfirmed", json_string(n));
    snprintf(n, sizeof n, "%d", pending);
    json_object_set_new(out, "SubscriptionsPending", json_string(n));
    json_object_set_new(out, "SubscriptionsDeleted", json_string("0"));
    json_object_update(out, t.attributes);
    if (json_string_value(json_object_get(t.attributes, "DeliveryPolicy")))
        json_object_set(out, "EffectiveDeliveryPolicy",
                        json_object_get(t.attributes, "DeliveryPolicy"));
    sl_buf b;
    reply_begin(c, &b, true);
    xml_attributes(&b, out);
    reply_end(c, &b, true);
    json_decref(out);
    sns_topic_free(&t);
}

static void op_set_topic_attributes(sns_call *c) {
    const char *arn = topic_arn_param(c, "TopicArn");
    if (!arn) return;
    const char *name = required(c, "AttributeName");
    if (!name) return;
    const char *value = param(c, "AttributeValue");
    if (!value) value = "";
    if (!topic_attribute_ok(c, name, value)) return;
    sns_status s = sns_topic_set_attribute(c->sns, arn, name, value);
    if (s == SNS_NOT_FOUND) return not_found(c, "Topic");
    if (s != SNS_OK) return internal_error(c);
    reply_empty(c);
}

/* ---- subscriptions ---- */

static const char *const sub_settable[] = {
    "DeliveryPolicy", "FilterPolicy",        "FilterPolicyScope", "RawMessageDelivery",
    "RedrivePolicy",  "SubscriptionRoleArn", "ReplayPolicy",      NULL};

/* Checks one subscription attribute given the protocol and the other attributes (a
 * FilterPolicy is compiled for the scope it will have). */
static bool sub_attribute_ok(sns_call *c, const char *protocol, const char *name, const char *value,
                             const json_t *others) {
    if (!in_list(sub_settable, name)) {
        invalid(c, "AttributeName");
        return false;
    }
    if (!strcmp(name, "RawMessageDelivery")) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            invalid(c, "Attributes Reason: RawMessageDelivery: Invalid value. Must be true or "
                       "false.");
            return false;
        }
        if (!strcmp(value, "true") && strncmp(protocol, "http", 4) != 0) {
            fail(c, 400, "InvalidParameter",
                 "Invalid parameter: Attributes Reason: Delivery protocol [%s] does not support "
                 "raw message delivery.",
                 protocol);
            return false;
        }
    }
    if (!strcmp(name, "FilterPolicyScope") && strcmp(value, "MessageAttributes") &&
        strcmp(value, "MessageBody")) {
        invalid(c, "Attributes Reason: FilterPolicyScope: Invalid value [MessageAttributes, "
                   "MessageBody]");
        return false;
    }
    const char *policy = !strcmp(name, "FilterPolicy")
                             ? value
                             : json_string_value(json_object_get(others, "FilterPolicy"));
    const char *scope = !strcmp(name, "FilterPolicyScope")
                            ? value
                            : json_string_value(json_object_get(others, "FilterPolicyScope"));
    if (policy && *policy &&
        (!strcmp(name, "FilterPolicy") || !strcmp(name, "FilterPolicyScope"))) {
        char err[512];
        sns_filter *f =
            sns_filter_compile(policy, scope && !strcmp(scope, "MessageBody"), err, sizeof err);
        if (!f) {
            fail(c, 400, "InvalidParameter", "%s", err);
            return false;
        }
        sns_filter_free(f);
    }
    if (!strcmp(name, "DeliveryPolicy") || !strcmp(name, "RedrivePolicy")) {
        json_t *doc = json_loads(value, 0, NULL);
        bool ok = json_is_object(doc);
        json_decref(doc);
        if (!ok) {
            fail(c, 400, "InvalidParameter",
                 "Invalid parameter: Attributes Reason: %s: the value is not a JSON object", name);
            return false;
        }
    }
    return true;
}

static bool email_valid(const char *s) {
    const char *at = strchr(s, '@');
    return at && at > s && at[1] && !strchr(at + 1, '@') && !strpbrk(s, " \t\r\n<>") &&
           strlen(s) < 320;
}

static void op_subscribe(sns_call *c) {
    const char *topic = topic_arn_param(c, "TopicArn");
    if (!topic) return;
    const char *protocol = required(c, "Protocol");
    if (!protocol) return;
    const char *endpoint = param(c, "Endpoint");
    static const char *const aws_only[] = {"sqs", "lambda", "sms", "application", "firehose", NULL};
    bool http = !strcmp(protocol, "http"), https = !strcmp(protocol, "https");
    bool email = !strcmp(protocol, "email") || !strcmp(protocol, "email-json");
    if (in_list(aws_only, protocol))
        return fail(c, 400, "InvalidParameter",
                    "Invalid parameter: Protocol Reason: Sluice does not deliver to %s "
                    "endpoints (docs/sns.md)",
                    protocol);
    if (!http && !https && !email)
        return fail(c, 400, "InvalidParameter",
                    "Invalid parameter: Amazon SNS does not support this protocol string: %.64s",
                    protocol);
    if (email && (!endpoint || !email_valid(endpoint))) return invalid(c, "Email address");
    const char *scheme = https ? "https://" : "http://";
    if (!email &&
        (!endpoint || !sl_str_has_prefix(endpoint, scheme) || strlen(endpoint) <= strlen(scheme)))
        return invalid(c, "Endpoint Reason: Endpoint must match the specified protocol");
    char err[300];
    json_t *attrs = sns_form_map(&c->form, "Attributes", err, sizeof err);
    if (!attrs) return fail(c, 400, "InvalidParameter", "%s", err);
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v) {
        if (!sub_attribute_ok(c, protocol, k, json_string_value(v), attrs))
            return json_decref(attrs);
    }
    char uuid[37], token[129], arn[700];
    sl_id_uuid(uuid);
    sl_id_hex(token, 64);
    snprintf(arn, sizeof arn, "%s:%s", topic, uuid);
    sns_subscription in = {.arn = arn,
                           .topic_arn = (char *)topic,
                           .protocol = (char *)protocol,
                           .endpoint = (char *)endpoint,
                           .token = token,
                           .confirmed = false,
                           .attributes = attrs};
    sns_subscription out;
    bool existing;
    sns_status s = sns_subscription_add(c->sns, &in, &out, &existing);
    json_decref(attrs);
    if (s == SNS_NOT_FOUND) return not_found(c, "Topic");
    if (s == SNS_CONFLICT)
        return invalid(c, "Attributes Reason: Subscription already exists with different "
                          "attributes");
    if (s != SNS_OK) return internal_error(c);
    const char *ret = param(c, "ReturnSubscriptionArn");
    bool show = out.confirmed || (ret && !strcmp(ret, "true"));
    sl_buf b;
    reply_begin(c, &b, true);
    xml_text(&b, "SubscriptionArn", show ? out.arn : "pending confirmation");
    reply_end(c, &b, true);
    sns_subscription_free(&out);
}

static void op_confirm_subscription(sns_call *c) {
    const char *topic = topic_arn_param(c, "TopicArn");
    if (!topic) return;
    const char *token = required(c, "Token");
    if (!token) return;
    if (!sl_sns_topic_exists(c->sns, topic)) return not_found(c, "Topic");
    sns_subscription s;
    sns_status st = sns_subscription_confirm(c->sns, topic, token, &s);
    if (st == SNS_NOT_FOUND) return invalid(c, "Token");
    if (st != SNS_OK) return internal_error(c);
    sl_buf b;
    reply_begin(c, &b, true);
    xml_text(&b, "SubscriptionArn", s.arn);
    reply_end(c, &b, true);
    sns_subscription_free(&s);
}

static const char *subscription_arn_param(sns_call *c) {
    const char *arn = required(c, "SubscriptionArn");
    if (arn && !subscription_arn_valid(arn)) {
        invalid(c, "SubscriptionArn");
        return NULL;
    }
    return arn;
}

static void op_unsubscribe(sns_call *c) {
    const char *arn = subscription_arn_param(c);
    if (!arn) return;
    sns_status s = sns_subscription_delete(c->sns, arn);
    if (s == SNS_NOT_FOUND) return not_found(c, "Subscription");
    if (s != SNS_OK) return internal_error(c);
    reply_empty(c);
}

static void op_get_subscription_attributes(sns_call *c) {
    const char *arn = subscription_arn_param(c);
    if (!arn) return;
    sns_subscription s;
    sns_status st = sns_subscription_get(c->sns, arn, &s);
    if (st == SNS_NOT_FOUND) return not_found(c, "Subscription");
    if (st != SNS_OK) return internal_error(c);
    json_t *out =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "SubscriptionArn", s.arn, "TopicArn",
                  s.topic_arn, "Owner", c->sns->cfg->account_id, "Protocol", s.protocol, "Endpoint",
                  s.endpoint, "ConfirmationWasAuthenticated", "false", "PendingConfirmation",
                  s.confirmed ? "false" : "true", "RawMessageDelivery", "false");
    if (!strncmp(s.protocol, "http", 4))
        json_object_set_new(out, "EffectiveDeliveryPolicy", json_string(effective_http_policy));
    json_object_update(out, s.attributes);
    if (json_object_get(s.attributes, "FilterPolicy") &&
        !json_object_get(s.attributes, "FilterPolicyScope"))
        json_object_set_new(out, "FilterPolicyScope", json_string("MessageAttributes"));
    sl_buf b;
    reply_begin(c, &b, true);
    xml_attributes(&b, out);
    reply_end(c, &b, true);
    json_decref(out);
    sns_subscription_free(&s);
}

static void op_set_subscription_attributes(sns_call *c) {
    const char *arn = subscription_arn_param(c);
    if (!arn) return;
    const char *name = required(c, "AttributeName");
    if (!name) return;
    const char *value = param(c, "AttributeValue");
    if (!value) value = "";
    sns_subscription s;
    sns_status st = sns_subscription_get(c->sns, arn, &s);
    if (st == SNS_NOT_FOUND) return not_found(c, "Subscription");
    if (st != SNS_OK) return internal_error(c);
    bool ok = sub_attribute_ok(c, s.protocol, name, value, s.attributes);
    sns_subscription_free(&s);
    if (!ok) return;
    /* An empty FilterPolicy removes the policy, as on AWS. */
    bool remove = !*value && !strcmp(name, "FilterPolicy");
    st = sns_subscription_set_attribute(c->sns, arn, name, remove ? NULL : value);
    if (st == SNS_NOT_FOUND) return not_found(c, "Subscription");
    if (st != SNS_OK) return internal_error(c);
    reply_empty(c);
}

static void list_subscriptions(sns_call *c, const char *topic) {
    const char *token;
    if (!next_token_param(c, &token)) return;
    if (topic && !sl_sns_topic_exists(c->sns, topic)) return not_found(c, "Topic");
    sns_subscription *subs;
    size_t n;
    bool more;
    if (sns_subscriptions_list(c->sns, topic, token, PAGE_SUBS, &subs, &n, &more) != SNS_OK)
        return internal_error(c);
    sl_buf b;
    reply_begin(c, &b, true);
    sl_buf_puts(&b, "<Subscriptions>");
    for (size_t i = 0; i < n; i++) {
        sl_buf_puts(&b, "<member>");
        xml_text(&b, "SubscriptionArn", subs[i].confirmed ? subs[i].arn : "PendingConfirmation");
        xml_text(&b, "Owner", c->sns->cfg->account_id);
        xml_text(&b, "Protocol", subs[i].protocol);
        xml_text(&b, "Endpoint", subs[i].endpoint);
        xml_text(&b, "TopicArn", subs[i].topic_arn);
        sl_buf_puts(&b, "</member>");
    }
    sl_buf_puts(&b, "</Subscriptions>");
    if (more) xml_text(&b, "NextToken", subs[n - 1].arn);
    reply_end(c, &b, true);
    for (size_t i = 0; i < n; i++) sns_subscription_free(&subs[i]);
    free(subs);
}

static void op_list_subscriptions(sns_call *c) { list_subscriptions(c, NULL); }

static void op_list_subscriptions_by_topic(sns_call *c) {
    const char *topic = topic_arn_param(c, "TopicArn");
    if (topic) list_subscriptions(c, topic);
}

/* ---- publishing ---- */

static void publish_failed(sns_call *c, sl_sns_status s, const char *err) {
    if (s == SL_SNS_NOT_FOUND) return not_found(c, "Topic");
    if (s == SL_SNS_INVALID) return fail(c, 400, "InvalidParameter", "%s", err);
    internal_error(c);
}

/* Parameters Sluice refuses on a standard topic, as AWS does. */
static bool fifo_only_params_absent(sns_call *c, const char *prefix) {
    static const char *const names[] = {"MessageGroupId", "MessageDeduplicationId"};
    for (size_t i = 0; i < 2; i++) {
        if (sl_form_getf(&c->form, "%s%s", prefix, names[i])) {
            fail(c, 400, "InvalidParameter",
                 "Invalid parameter: The request includes %s parameter that is not valid for "
                 "this topic type",
                 names[i]);
            return false;
        }
    }
    return true;
}

static void op_publish(sns_call *c) {
    const char *topic = param(c, "TopicArn"), *target = param(c, "TargetArn");
    if (param(c, "PhoneNumber"))
        return invalid(c, "PhoneNumber Reason: Sluice does not send SMS (docs/sns.md)");
    if (topic && target)
        return invalid(c, "TopicArn or TargetArn Reason: Only one of TopicArn or TargetArn "
                          "may be specified");
    if (!topic && !target)
        return invalid(c, "TopicArn or TargetArn Reason: no value for required parameter");
    const char *arn = topic ? topic : target, *name;
    if (!sns_topic_arn_parse(arn, &name)) return invalid(c, topic ? "TopicArn" : "TargetArn");
    const char *message = param(c, "Message");
    if (!message) return invalid(c, "Message Reason: no value for required parameter");
    if (!fifo_only_params_absent(c, "")) return;
    char err[512];
    json_t *attrs = sns_form_message_attributes(&c->form, "MessageAttributes", err, sizeof err);
    if (!attrs) return fail(c, 400, "ParameterValueInvalid", "%s", err);
    sl_sns_message m = {.topic_arn = arn,
                        .message = message,
                        .subject = param(c, "Subject"),
                        .structure = param(c, "MessageStructure"),
                        .attributes = attrs};
    char id[37];
    sl_sns_status s = sl_sns_publish(c->sns, &m, id, err, sizeof err);
    json_decref(attrs);
    if (s != SL_SNS_OK) return publish_failed(c, s, err);
    sl_buf b;
    reply_begin(c, &b, true);
    xml_text(&b, "MessageId", id);
    reply_end(c, &b, true);
}

typedef struct {
    char id[81];
    sl_sns_message m;
    json_t *attrs;
    char message_id[37];
    sl_sns_status status;
    char code[32];
    char err[512];
} batch_entry;

typedef struct {
    sl_sns *sns;
    batch_entry *e;
    size_t n;
} batch_job;

static int batch_run(sqlite3 *db, void *arg) {
    batch_job *bj = arg;
    for (size_t i = 0; i < bj->n; i++) {
        batch_entry *e = &bj->e[i];
        if (e->code[0]) continue;
        e->status = sl_sns_publish_in(bj->sns, db, &e->m, e->message_id, e->err, sizeof e->err);
        if (e->status == SL_SNS_FAILED) return -1;
        if (e->status == SL_SNS_NOT_FOUND) return SL_SNS_NOT_FOUND;
        if (e->status == SL_SNS_INVALID) snprintf(e->code, sizeof e->code, "InvalidParameter");
    }
    return 0;
}

static bool batch_id_valid(const char *id) {
    size_t n = strlen(id);
    if (!n || n > 80) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9') &&
            ch != '-' && ch != '_')
            return false;
    }
    return true;
}

static void op_publish_batch(sns_call *c) {
    const char *topic = topic_arn_param(c, "TopicArn");
    if (!topic) return;
    size_t n = 0;
    while (sl_form_getf(&c->form, "PublishBatchRequestEntries.member.%zu.Id", n + 1) ||
           sl_form_getf(&c->form, "PublishBatchRequestEntries.member.%zu.Message", n + 1))
        n++;
    if (!n)
        return fail(c, 400, "EmptyBatchRequest", "The batch request doesn't contain any entries");
    if (n > BATCH_MAX)
        return fail(c, 400, "TooManyEntriesInBatchRequest",
                    "The batch request contains more entries than permissible.");
    batch_entry *e = sl_xcalloc(n, sizeof *e);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = sl_form_getf(&c->form, "PublishBatchRequestEntries.member.%zu.Id", i + 1);
        if (!id || !batch_id_valid(id)) {
            fail(c, 400, "InvalidBatchEntryId",
                 "A batch entry id can only contain alphanumeric characters, hyphens and "
                 "underscores. It can be at most 80 letters long.");
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(e[j].id, id)) {
                fail(c, 400, "BatchEntryIdsNotDistinct",
                     "Two or more batch entries in the request have the same Id.");
                goto out;
            }
        snprintf(e[i].id, sizeof e[i].id, "%s", id);
        char prefix[80];
        snprintf(prefix, sizeof prefix, "PublishBatchRequestEntries.member.%zu.", i + 1);
        if (!fifo_only_params_absent(c, prefix)) goto out;
        e[i].m.topic_arn = topic;
        e[i].m.message = sl_form_getf(&c->form, "%sMessage", prefix);
        e[i].m.subject = sl_form_getf(&c->form, "%sSubject", prefix);
        e[i].m.structure = sl_form_getf(&c->form, "%sMessageStructure", prefix);
        total += e[i].m.message ? strlen(e[i].m.message) : 0;
        char ma[100];
        snprintf(ma, sizeof ma, "%sMessageAttributes", prefix);
        e[i].attrs = sns_form_message_attributes(&c->form, ma, e[i].err, sizeof e[i].err);
        if (!e[i].attrs) snprintf(e[i].code, sizeof e[i].code, "ParameterValueInvalid");
        else if (!e[i].m.message) {
            snprintf(e[i].code, sizeof e[i].code, "InvalidParameter");
            snprintf(e[i].err, sizeof e[i].err,
                     "Invalid parameter: Message Reason: no value "
                     "for required parameter");
        }
        e[i].m.attributes = e[i].attrs;
    }
    if (total > BATCH_MAX_SIZE) {
        fail(c, 400, "BatchRequestTooLong",
             "The length of all the messages put together is more than the limit.");
        goto out;
    }
    batch_job bj = {c->sns, e, n};
    int rc = sl_store_write(c->sns->store, batch_run, &bj);
    if (rc == SL_SNS_NOT_FOUND) {
        not_found(c, "Topic");
        goto out;
    }
    if (rc != 0) {
        internal_error(c);
        goto out;
    }
    sl_sns_kick(c->sns);
    sl_buf b;
    reply_begin(c, &b, true);
    sl_buf_puts(&b, "<Successful>");
    for (size_t i = 0; i < n; i++) {
        if (e[i].code[0]) continue;
        sl_buf_puts(&b, "<member>");
        xml_text(&b, "Id", e[i].id);
        xml_text(&b, "MessageId", e[i].message_id);
        sl_buf_puts(&b, "</member>");
    }
    sl_buf_puts(&b, "</Successful><Failed>");
    for (size_t i = 0; i < n; i++) {
        if (!e[i].code[0]) continue;
        sl_buf_puts(&b, "<member>");
        xml_text(&b, "Id", e[i].id);
        xml_text(&b, "Code", e[i].code);
        xml_text(&b, "Message", e[i].err);
        sl_buf_puts(&b, "<SenderFault>true</SenderFault></member>");
    }
    sl_buf_puts(&b, "</Failed>");
    reply_end(c, &b, true);
out:
    for (size_t i = 0; i < n; i++) json_decref(e[i].attrs);
    free(e);
}

/* ---- tags ---- */

/* The topic a ResourceArn names, loaded into *t; false after answering the error. */
static bool tagged_topic(sns_call *c, sns_topic *t) {
    const char *arn = required(c, "ResourceArn"), *name;
    memset(t, 0, sizeof *t);
    if (!arn) return false;
    if (!sns_topic_arn_parse(arn, &name)) {
        invalid(c, "ResourceArn");
        return false;
    }
    sns_status s = sns_topic_get(c->sns, arn, t);
    if (s == SNS_NOT_FOUND) fail(c, 404, "ResourceNotFound", "Resource does not exist");
    else if (s != SNS_OK) internal_error(c);
    return s == SNS_OK;
}

static void save_tags(sns_call *c, sns_topic *t) {
    if (json_array_size(t->tags) > TAGS_MAX)
        fail(c, 400, "TagLimitExceeded",
             "Could not complete request: tag quota of per resource exceeded");
    else if (sns_topic_set_tags(c->sns, t->arn, t->tags) != SNS_OK) internal_error(c);
    else {
        /* Tag/UntagResource answer an empty result element, unlike the other setters */
        sl_buf b;
        reply_begin(c, &b, true);
        reply_end(c, &b, true);
    }
    sns_topic_free(t);
}

static void op_tag_resource(sns_call *c) {
    sns_topic t;
    if (!tagged_topic(c, &t)) return sns_topic_free(&t);
    char err[300];
    json_t *add = sns_form_tags(&c->form, "Tags", err, sizeof err);
    if (!add) {
        sns_topic_free(&t);
        return fail(c, 400, "InvalidParameter", "%s", err);
    }
    size_t i, j;
    json_t *a, *have;
    json_array_foreach(add, i, a) {
        bool replaced = false;
        json_array_foreach(t.tags, j, have) {
            if (json_equal(json_object_get(have, "Key"), json_object_get(a, "Key"))) {
                json_object_set(have, "Value", json_object_get(a, "Value"));
                replaced = true;
            }
        }
        if (!replaced) json_array_append(t.tags, a);
    }
    json_decref(add);
    save_tags(c, &t);
}

static void op_untag_resource(sns_call *c) {
    sns_topic t;
    if (!tagged_topic(c, &t)) return sns_topic_free(&t);
    json_t *keys = sns_form_list(&c->form, "TagKeys");
    json_t *kept = json_array();
    size_t i, j;
    json_t *have, *k;
    json_array_foreach(t.tags, i, have) {
        bool drop = false;
        json_array_foreach(keys, j, k) drop |= json_equal(json_object_get(have, "Key"), k);
        if (!drop) json_array_append(kept, have);
    }
    json_decref(keys);
    json_decref(t.tags);
    t.tags = kept;
    save_tags(c, &t);
}

static void op_list_tags_for_resource(sns_call *c) {
    sns_topic t;
    if (!tagged_topic(c, &t)) return sns_topic_free(&t);
    sl_buf b;
    reply_begin(c, &b, true);
    sl_query_xml_tags(&b, t.tags);
    reply_end(c, &b, true);
    sns_topic_free(&t);
}

static const struct {
    const char *action;
    void (*fn)(sns_call *c);
} ops[] = {
    {"CreateTopic", op_create_topic},
    {"DeleteTopic", op_delete_topic},
    {"ListTopics", op_list_topics},
    {"GetTopicAttributes", op_get_topic_attributes},
    {"SetTopicAttributes", op_set_topic_attributes},
    {"Subscribe", op_subscribe},
    {"ConfirmSubscription", op_confirm_subscription},
    {"Unsubscribe", op_unsubscribe},
    {"ListSubscriptions", op_list_subscriptions},
    {"ListSubscriptionsByTopic", op_list_subscriptions_by_topic},
    {"GetSubscriptionAttributes", op_get_subscription_attributes},
    {"SetSubscriptionAttributes", op_set_subscription_attributes},
    {"Publish", op_publish},
    {"PublishBatch", op_publish_batch},
    {"TagResource", op_tag_resource},
    {"UntagResource", op_untag_resource},
    {"ListTagsForResource", op_list_tags_for_resource},
};

/* ---- framing ---- */

static void dispatch(sns_call *c, bool signed_call) {
    const char *action = param(c, "Action");
    if (!action) return fail(c, 400, "MissingAction", "Missing Action");
    const char *version = param(c, "Version");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].action, action) != 0) continue;
        if (version && strcmp(version, SNS_VERSION) != 0) break;
        /* unsigned, only what the SubscribeURL and UnsubscribeURL do */
        if (!signed_call && ops[i].fn != op_confirm_subscription && ops[i].fn != op_unsubscribe)
            break;
        c->action = ops[i].action;
        return ops[i].fn(c);
    }
    fail(c, 400, "InvalidAction", "Could not find operation %.64s for version %.32s", action,
         version ? version : SNS_VERSION);
}

static void on_complete(sl_req *req) {
    sns_call *c = req->state;
    c->action = "";
    if (req->body_too_large)
        return fail(c, 413, "RequestEntityTooLarge", "The request body is larger than 1 MiB.");
    if (!sl_query_authenticate(req, c->sns->credentials, SNS_XMLNS)) return;
    char err[256];
    if (sl_form_parse(&c->form, req->body.data ? req->body.data : "", req->body.len, err,
                      sizeof err) != 0)
        return fail(c, 400, "MalformedQueryString", "%s", err);
    dispatch(c, true);
}

/* GET /?Action=ConfirmSubscription|Unsubscribe&...: the links messages carry. */
static void on_complete_link(sl_req *req) {
    sns_call *c = req->state;
    c->action = "";
    char err[256];
    if (sl_form_parse(&c->form, req->raw_query, strlen(req->raw_query), err, sizeof err) != 0)
        return fail(c, 400, "MalformedQueryString", "%s", err);
    dispatch(c, false);
}

static void call_free(sl_req *req) {
    sns_call *c = req->state;
    if (!c) return;
    sl_form_free(&c->form);
    free(c);
    req->state = NULL;
}

static sns_call *call_new(sl_req *req, sl_sns *sns) {
    sns_call *c = sl_xcalloc(1, sizeof *c);
    c->req = req;
    c->sns = sns;
    req->state = c;
    req->on_free = call_free;
    req->body_limit = BODY_LIMIT;
    sl_resp_header_add(req, "x-amzn-RequestId", req->request_id);
    return c;
}

static void begin(sl_req *req, void *svc) {
    call_new(req, svc);
    req->on_complete = on_complete;
}

static void begin_link(sl_req *req, void *svc) {
    call_new(req, svc);
    req->on_complete = on_complete_link;
}

static void begin_cert(sl_req *req, void *svc) {
    sl_sns *sns = svc;
    if (strcmp(req->raw_path, "/_sluice/sns/SimpleNotificationService.pem") != 0) {
        static const char nf[] = "{\"message\":\"no such Sluice endpoint\"}\n";
        return sl_resp_set(req, 404, "application/json", nf, sizeof nf - 1);
    }
    const char *pem = sns_signing_cert(sns);
    if (!pem) {
        static const char err[] =
            "{\"message\":\"the SNS signing key is unusable: see the log\"}\n";
        return sl_resp_set(req, 500, "application/json", err, sizeof err - 1);
    }
    sl_resp_set(req, 200, "application/x-pem-file", pem, strlen(pem));
}

void sl_sns_register(sl_sns *sns, sl_router *router) {
    sl_router_add_query(router, "sns", begin, sns);
    sl_router_add_link(router, "ConfirmSubscription", begin_link, sns);
    sl_router_add_link(router, "Unsubscribe", begin_link, sns);
    sl_router_add_rest(router, "/_sluice/sns/", begin_cert, sns);
}
