/* notification: Put/GetBucketNotificationConfiguration. The configuration is kept in the
 * bucket's config (as JSON) and read by the event dispatcher when it turns an object change
 * into events. EventBridgeConfiguration and TopicConfigurations (SNS) take effect at once: a
 * topic must exist when the configuration is put (AWS's "Unable to validate the following
 * destination configurations" otherwise), and each gets s3:TestEvent in the same transaction
 * that stores the configuration. Function destinations are stored and returned only, until
 * Sluice has Lambda (docs/s3.md says so). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ids.h"
#include "core/xml.h"
#include "objects/s3.h"
#include "sns/sns.h"

static const char *const valid_events[] = {"s3:ObjectCreated:*",
                                           "s3:ObjectCreated:Put",
                                           "s3:ObjectCreated:Post",
                                           "s3:ObjectCreated:Copy",
                                           "s3:ObjectCreated:CompleteMultipartUpload",
                                           "s3:ObjectRemoved:*",
                                           "s3:ObjectRemoved:Delete",
                                           "s3:ObjectRemoved:DeleteMarkerCreated",
                                           "s3:ObjectTagging:*",
                                           "s3:ObjectTagging:Put",
                                           "s3:ObjectTagging:Delete",
                                           "s3:ObjectRestore:*",
                                           "s3:ObjectRestore:Post",
                                           "s3:ObjectRestore:Completed",
                                           "s3:ObjectRestore:Delete",
                                           "s3:ReducedRedundancyLostObject",
                                           "s3:Replication:*",
                                           "s3:LifecycleExpiration:*",
                                           "s3:LifecycleTransition",
                                           "s3:IntelligentTiering",
                                           "s3:ObjectAcl:Put",
                                           "s3:*",
                                           NULL};

static const struct {
    const char *xml, *arn_elem, *json, *arn_json;
} kinds[] = {
    {"TopicConfiguration", "Topic", "TopicConfigurations", "TopicArn"},
    {"CloudFunctionConfiguration", "CloudFunction", "LambdaFunctionConfigurations",
     "LambdaFunctionArn"},
    {"QueueConfiguration", "Queue", "QueueConfigurations", "QueueArn"},
};

static void invalid(s3_call *c, const char *msg) { s3_error(c, 400, "InvalidArgument", msg); }

typedef struct {
    char *bucket;
    char *config;
    struct sl_sns *sns;
    json_t *topics; /* topic ARNs that get s3:TestEvent */
    const char *request_id;
} notif_args;

static int put_job(sqlite3 *db, void *arg) {
    notif_args *a = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "UPDATE buckets SET config = json_set(config, '$.notification', "
                           "json(?2)) WHERE name=?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->config, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return -1;
    if (!sqlite3_changes(db)) return 1;
    if (a->sns && json_array_size(a->topics) &&
        sl_sns_s3_test_events(a->sns, db, a->bucket, a->topics, a->request_id) != 0)
        return -1;
    return 0;
}

/* The topics of cfg that do not exist, as AWS's error lists them: ArgumentName1/Value1... */
static bool topics_exist(s3_call *c, const json_t *cfg, json_t *topics) {
    sl_buf extra;
    sl_buf_init(&extra);
    int missing = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(cfg, "TopicConfigurations"), i, e) {
        const char *arn = json_string_value(json_object_get(e, "TopicArn"));
        if (c->o->sns && sl_sns_topic_exists(c->o->sns, arn)) {
            json_array_append_new(topics, json_string(arn));
            continue;
        }
        missing++;
        sl_buf_printf(&extra, "<ArgumentName%d>", missing);
        sl_buf_xml_escape(&extra, arn, strlen(arn));
        sl_buf_printf(&extra,
                      "</ArgumentName%d><ArgumentValue%d>The destination topic does not "
                      "exist</ArgumentValue%d>",
                      missing, missing, missing);
    }
    if (missing) {
        char resource[300];
        snprintf(resource, sizeof resource, "/%s", c->bucket);
        sl_s3_error(c->req, 400, "InvalidArgument",
                    "Unable to validate the following destination configurations", resource,
                    extra.data);
    }
    sl_buf_free(&extra);
    return missing == 0;
}

void s3_put_bucket_notification(s3_call *c) {
    sl_req *req = c->req;
    char err[256];
    sl_xml_node *root =
        sl_xml_parse(req->body.data ? req->body.data : "", req->body.len, err, sizeof err);
    if (!root || strcmp(root->name, "NotificationConfiguration") != 0) {
        sl_xml_free(root);
        return s3_error(c, 400, "MalformedXML",
                        "The XML you provided was not well-formed or did not validate against our "
                        "published schema");
    }
    json_t *cfg = json_object();
    const char *problem = NULL;
    for (const sl_xml_node *n = root->first_child; n && !problem; n = n->next_sibling) {
        if (!strcmp(n->name, "EventBridgeConfiguration")) {
            json_object_set_new(cfg, "EventBridgeConfiguration", json_object());
            continue;
        }
        size_t k = 0;
        while (k < 3 && strcmp(n->name, kinds[k].xml) != 0) k++;
        if (k == 3) {
            problem = "Unknown element in NotificationConfiguration";
            break;
        }
        if (k == 2) {
            problem =
                "Sluice has no queue service: QueueConfiguration destinations are not supported";
            break;
        }
        const char *arn = sl_xml_child_text(n, kinds[k].arn_elem);
        if (!arn || strncmp(arn, "arn:", 4) != 0) {
            problem = "The destination ARN is not valid";
            break;
        }
        json_t *entry = json_object();
        const char *id = sl_xml_child_text(n, "Id");
        char gen[37];
        if (!id) sl_id_uuid(gen), id = gen;
        json_object_set_new(entry, "Id", json_string(id));
        json_object_set_new(entry, kinds[k].arn_json, json_string(arn));
        json_t *events = json_array();
        for (const sl_xml_node *e = sl_xml_child(n, "Event"); e;
             e = sl_xml_child_next(e, "Event")) {
            bool ok = false;
            for (int i = 0; valid_events[i] && !ok; i++) ok = !strcmp(e->text, valid_events[i]);
            if (!ok) problem = "The event is not supported for notifications";
            json_array_append_new(events, json_string(e->text));
        }
        if (!json_array_size(events) && !problem)
            problem = "A notification configuration needs at least one Event";
        json_object_set_new(entry, "Events", events);
        const sl_xml_node *filter = sl_xml_child(n, "Filter");
        const sl_xml_node *key = filter ? sl_xml_child(filter, "S3Key") : NULL;
        if (filter && !key) problem = "Filter must have an S3Key";
        if (key) {
            json_t *rules = json_array();
            bool prefix = false, suffix = false;
            for (const sl_xml_node *r = sl_xml_child(key, "FilterRule"); r;
                 r = sl_xml_child_next(r, "FilterRule")) {
                const char *name = sl_xml_child_text(r, "Name");
                const char *value = sl_xml_child_text(r, "Value");
                if (!name || !value || (strcasecmp(name, "prefix") && strcasecmp(name, "suffix"))) {
                    problem = "FilterRule Name must be either prefix or suffix";
                    break;
                }
                bool is_prefix = !strcasecmp(name, "prefix");
                if ((is_prefix && prefix) || (!is_prefix && suffix)) {
                    problem = "Cannot specify more than one prefix rule in a filter.";
                    break;
                }
                prefix |= is_prefix;
                suffix |= !is_prefix;
                json_array_append_new(rules,
                                      json_pack("{s:s,s:s}", "Name",
                                                is_prefix ? "Prefix" : "Suffix", "Value", value));
            }
            json_object_set_new(entry, "Filter",
                                json_pack("{s:{s:o}}", "Key", "FilterRules", rules));
        }
        json_t *list = json_object_get(cfg, kinds[k].json);
        if (!list) json_object_set_new(cfg, kinds[k].json, list = json_array());
        json_array_append_new(list, entry);
    }
    sl_xml_free(root);
    if (problem) {
        json_decref(cfg);
        return invalid(c, problem);
    }
    json_t *topics = json_array();
    if (!topics_exist(c, cfg, topics)) {
        json_decref(topics);
        json_decref(cfg);
        return;
    }
    notif_args a = {c->bucket, json_dumps(cfg, JSON_COMPACT), c->o->sns, topics,
                    c->req->request_id};
    json_decref(cfg);
    int rc = sl_store_write(c->o->store, put_job, &a);
    free(a.config);
    if (rc == 0 && json_array_size(topics)) sl_sns_kick(c->o->sns);
    json_decref(topics);
    if (rc == 1) return s3_no_such_bucket(c);
    if (rc != 0) return s3_internal_error(c, "put notification");
    sl_resp_set(c->req, 200, NULL, NULL, 0);
}

void s3_get_bucket_notification(s3_call *c) {
    sqlite3 *db = sl_store_reader(c->o->store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db, "SELECT json_extract(config, '$.notification') FROM buckets WHERE name=?1", -1, &st,
            NULL) != SQLITE_OK)
        return s3_internal_error(c, "get notification");
    sqlite3_bind_text(st, 1, c->bucket, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return s3_no_such_bucket(c);
    }
    const char *text = (const char *)sqlite3_column_text(st, 0);
    json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;
    sqlite3_finalize(st);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "NotificationConfiguration");
    for (size_t k = 0; k < 3; k++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(cfg, kinds[k].json), i, e) {
            sl_buf_printf(&b, "<%s>", kinds[k].xml);
            s3_xml_elem(&b, "Id", json_string_value(json_object_get(e, "Id")));
            s3_xml_elem(&b, kinds[k].arn_elem,
                        json_string_value(json_object_get(e, kinds[k].arn_json)));
            size_t j;
            json_t *ev;
            json_array_foreach(json_object_get(e, "Events"), j, ev)
                s3_xml_elem(&b, "Event", json_string_value(ev));
            json_t *rules = json_object_get(json_object_get(json_object_get(e, "Filter"), "Key"),
                                            "FilterRules");
            if (rules) {
                sl_buf_puts(&b, "<Filter><S3Key>");
                json_t *r;
                json_array_foreach(rules, j, r) {
                    sl_buf_puts(&b, "<FilterRule>");
                    s3_xml_elem(&b, "Name", json_string_value(json_object_get(r, "Name")));
                    s3_xml_elem(&b, "Value", json_string_value(json_object_get(r, "Value")));
                    sl_buf_puts(&b, "</FilterRule>");
                }
                sl_buf_puts(&b, "</S3Key></Filter>");
            }
            sl_buf_printf(&b, "</%s>", kinds[k].xml);
        }
    }
    if (json_object_get(cfg, "EventBridgeConfiguration"))
        sl_buf_puts(&b, "<EventBridgeConfiguration></EventBridgeConfiguration>");
    sl_buf_puts(&b, "</NotificationConfiguration>");
    json_decref(cfg);
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}
