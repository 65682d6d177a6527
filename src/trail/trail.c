/* trail: CloudTrail's JSON 1.1 wire and its trails table. */
#include "trail/trail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/json_proto.h"
#include "store/store.h"
#include "trail/selectors.h"

struct sl_trails {
    const sl_config *cfg;
    sl_store *store;
    sl_json_service json;
};

static void trail_arn(const sl_trails *t, const char *name, char *out, size_t n) {
    snprintf(out, n, "arn:aws:cloudtrail:%s:%s:trail/%s", t->cfg->region, t->cfg->account_id, name);
}

/* Trail names may be given as ARNs. */
static const char *trail_name(const char *name_or_arn) {
    const char *p =
        name_or_arn && !strncmp(name_or_arn, "arn:", 4) ? strstr(name_or_arn, ":trail/") : NULL;
    return p ? p + 7 : name_or_arn;
}

static bool name_valid(const char *n) {
    size_t len = strlen(n);
    if (len < 3 || len > 128) return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

static void not_found(sl_json_call *call, const sl_trails *t, const char *name) {
    char arn[512];
    trail_arn(t, name, arn, sizeof arn);
    sl_json_fail(call, 400, "TrailNotFoundException", "Unknown trail: %s for the user: %s", arn,
                 t->cfg->account_id);
}

static void internal(sl_json_call *call) {
    sl_json_fail(call, 500, "InternalFailure", "The request was not applied.");
}

/* Loads a trail row: bucket, logging, selectors, spec. NULL when absent. */
static json_t *load(sl_trails *t, const char *name) {
    sqlite3_stmt *st = NULL;
    json_t *out = NULL;
    if (sqlite3_prepare_v2(
            sl_store_reader(t->store),
            "SELECT bucket, logging, selectors, advanced_selectors, spec FROM trails WHERE name=?1",
            -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *sel = (const char *)sqlite3_column_text(st, 2);
        const char *adv = (const char *)sqlite3_column_text(st, 3);
        json_t *spec = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
        out = json_pack("{s:s,s:s,s:b,s:o,s:o,s:o}", "Name", name, "S3BucketName",
                        (const char *)sqlite3_column_text(st, 0), "IsLogging",
                        sqlite3_column_int(st, 1), "EventSelectors",
                        sel ? json_loads(sel, 0, NULL) : json_null(), "AdvancedEventSelectors",
                        adv ? json_loads(adv, 0, NULL) : json_null(), "Spec",
                        spec ? spec : json_object());
    }
    sqlite3_finalize(st);
    return out;
}

/* The trail the request's `field` names (a name or an ARN): its row, or NULL after answering
 * the error. *name gets the trail's name. */
static json_t *requested_trail(sl_trails *t, sl_json_call *call, json_t *in, const char *field,
                               const char **name) {
    *name = trail_name(sl_json_str_req(call, in, field));
    if (!*name) return NULL;
    json_t *row = load(t, *name);
    if (!row) not_found(call, t, *name);
    return row;
}

static json_t *trail_json(sl_trails *t, json_t *row) {
    const char *name = json_string_value(json_object_get(row, "Name"));
    char arn[512];
    trail_arn(t, name, arn, sizeof arn);
    json_t *spec = json_object_get(row, "Spec");
    json_t *o = json_pack(
        "{s:s,s:O,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:b}", "Name", name, "S3BucketName",
        json_object_get(row, "S3BucketName"), "HomeRegion", t->cfg->region, "TrailARN", arn,
        "IncludeGlobalServiceEvents",
        !json_is_false(json_object_get(spec, "IncludeGlobalServiceEvents")), "IsMultiRegionTrail",
        json_is_true(json_object_get(spec, "IsMultiRegionTrail")), "LogFileValidationEnabled",
        json_is_true(json_object_get(spec, "EnableLogFileValidation")), "HasCustomEventSelectors",
        !json_is_null(json_object_get(row, "EventSelectors")) ||
            !json_is_null(json_object_get(row, "AdvancedEventSelectors")),
        "HasInsightSelectors", 0, "IsOrganizationTrail", 0);
    if (json_object_get(spec, "S3KeyPrefix"))
        json_object_set(o, "S3KeyPrefix", json_object_get(spec, "S3KeyPrefix"));
    return o;
}

static bool bucket_exists(sl_trails *t, const char *bucket) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sl_store_reader(t->store), "SELECT 1 FROM buckets WHERE name=?1", -1,
                           &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static void op_create_trail(void *svc, sl_json_call *call, json_t *in) {
    sl_trails *t = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    const char *bucket = sl_json_str_req(call, in, "S3BucketName");
    if (!bucket) return;
    if (!name_valid(name))
        return sl_json_fail(
            call, 400, "InvalidTrailNameException",
            "Trail name must be 3 to 128 letters, digits, periods, underscores or dashes.");
    if (!bucket_exists(t, bucket))
        return sl_json_fail(call, 400, "S3BucketDoesNotExistException",
                            "S3 bucket %s does not exist.", bucket);
    json_t *spec = json_deep_copy(in);
    char *spec_text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)sl_now_ms());
    sl_store_stmt_job e = {
        .sql = "INSERT INTO trails (name, bucket, created_ms, spec) VALUES (?1, ?2, ?3, ?4)",
        .args = {name, bucket, now, spec_text},
        .nargs = 4};
    int rc = sl_store_write(t->store, sl_store_exec_job, &e);
    free(spec_text);
    if (rc == 1)
        return sl_json_fail(call, 400, "TrailAlreadyExistsException",
                            "Trail %s already exists for customer: %s", name, t->cfg->account_id);
    if (rc != 0) return internal(call);
    json_t *row = load(t, name);
    if (!row) return internal(call);
    json_t *out = trail_json(t, row);
    json_object_del(out, "HomeRegion");
    json_object_del(out, "HasCustomEventSelectors");
    json_object_del(out, "HasInsightSelectors");
    json_decref(row);
    sl_json_reply(call, out);
}

static void op_delete_trail(void *svc, sl_json_call *call, json_t *in) {
    sl_trails *t = svc;
    const char *name = trail_name(sl_json_str_req(call, in, "Name"));
    if (!name) return;
    sl_store_stmt_job e = {.sql = "DELETE FROM trails WHERE name=?1", .args = {name}, .nargs = 1};
    if (sl_store_write(t->store, sl_store_exec_job, &e) != 0) return internal(call);
    if (!e.changes) return not_found(call, t, name);
    sl_json_reply(call, NULL);
}

static void set_logging(sl_trails *t, sl_json_call *call, json_t *in, const char *value) {
    const char *name = trail_name(sl_json_str_req(call, in, "Name"));
    if (!name) return;
    sl_store_stmt_job e = {
        .sql = "UPDATE trails SET logging=?2 WHERE name=?1", .args = {name, value}, .nargs = 2};
    if (sl_store_write(t->store, sl_store_exec_job, &e) != 0) return internal(call);
    if (!e.changes) return not_found(call, t, name);
    sl_json_reply(call, NULL);
}

static void op_start_logging(void *svc, sl_json_call *call, json_t *in) {
    set_logging(svc, call, in, "1");
}
static void op_stop_logging(void *svc, sl_json_call *call, json_t *in) {
    set_logging(svc, call, in, "0");
}

static void op_get_trail(void *svc, sl_json_call *call, json_t *in) {
    sl_trails *t = svc;
    const char *name;
    json_t *row = requested_trail(t, call, in, "Name", &name);
    if (!row) return;
    json_t *out = json_pack("{s:o}", "Trail", trail_json(t, row));
    json_decref(row);
    sl_json_reply(call, out);
}

static void op_get_trail_status(void *svc, sl_json_call *call, json_t *in) {
    sl_trails *t = svc;
    const char *name;
    json_t *row = requested_trail(t, call, in, "Name", &name);
    if (!row) return;
    json_t *out = json_pack("{s:O}", "IsLogging", json_object_get(row, "IsLogging"));
    json_decref(row);
    sl_json_reply(call, out);
}

static void op_describe_trails(void *svc, sl_json_call *call, json_t *in) {
    sl_trails *t = svc;
    json_t *wanted = json_object_get(in, "trailNameList");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sl_store_reader(t->store), "SELECT name FROM trails ORDER BY name", -1,
                           &st, NULL) != SQLITE_OK)
        return internal(call);
    json_t *list = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (json_array_size(wanted)) {
            bool hit = false;
            size_t i;
            json_t *w;
            json_array_foreach(wanted, i, w) hit |=
                json_is_string(w) && !strcmp(trail_name(json_string_value(w)), name);
            if (!hit) continue;
        }
        json_t *row = load(t, name);
        if (row) json_array_append_new(list, trail_json(t, row));
        json_decref(row);
    }
    sqlite3_finalize(st);
    sl_json_reply(call, json_pack("{s:o}", "trailList", list));
}

static void op_list_trails(void *svc, sl_json_call *call, json_t *in) {
    sl_trails *t = svc;
    (void)in;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sl_store_reader(t->store), "SELECT name FROM trails ORDER BY name", -1,
                           &st, NULL) != SQLITE_OK)
        return internal(call);
    json_t *list = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        char arn[512];
        trail_arn(t, name, arn, sizeof arn);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "TrailARN", arn, "Name", name,
                                              "HomeRegion", t->cfg->region));
    }
    sqlite3_finalize(st);
    sl_json_reply(call, json_pack("{s:o}", "Trails", list));
}

static void op_put_event_selectors(void *svc, sl_json_call *call, json_t *in) {
    sl_trails *t = svc;
    const char *name = trail_name(sl_json_str_req(call, in, "TrailName"));
    if (!name) return;
    json_t *sel = json_object_get(in, "EventSelectors");
    json_t *adv = json_object_get(in, "AdvancedEventSelectors");
    if ((sel && adv) || (!sel && !adv))
        return sl_json_fail(call, 400, "InvalidEventSelectorsException",
                            "Specify either EventSelectors or AdvancedEventSelectors, not both.");
    char err[256];
    sl_trail_selectors *compiled = sl_trail_selectors_compile(sel, adv, err, sizeof err);
    if (!compiled) return sl_json_fail(call, 400, "InvalidEventSelectorsException", "%s", err);
    sl_trail_selectors_free(compiled);
    char *s = sel ? json_dumps(sel, JSON_COMPACT) : NULL;
    char *a = adv ? json_dumps(adv, JSON_COMPACT) : NULL;
    sl_store_stmt_job e = {
        .sql = "UPDATE trails SET selectors=?2, advanced_selectors=?3 WHERE name=?1",
        .args = {name, s, a},
        .nargs = 3};
    int rc = sl_store_write(t->store, sl_store_exec_job, &e);
    free(s);
    free(a);
    if (rc != 0) return internal(call);
    if (!e.changes) return not_found(call, t, name);
    char arn[512];
    trail_arn(t, name, arn, sizeof arn);
    json_t *out = json_pack("{s:s}", "TrailARN", arn);
    if (sel) json_object_set(out, "EventSelectors", sel);
    if (adv) json_object_set(out, "AdvancedEventSelectors", adv);
    sl_json_reply(call, out);
}

static void op_get_event_selectors(void *svc, sl_json_call *call, json_t *in) {
    sl_trails *t = svc;
    const char *name;
    json_t *row = requested_trail(t, call, in, "TrailName", &name);
    if (!row) return;
    char arn[512];
    trail_arn(t, name, arn, sizeof arn);
    json_t *out = json_pack("{s:s}", "TrailARN", arn);
    json_t *sel = json_object_get(row, "EventSelectors"),
           *adv = json_object_get(row, "AdvancedEventSelectors");
    if (!json_is_null(adv)) json_object_set(out, "AdvancedEventSelectors", adv);
    else if (!json_is_null(sel)) json_object_set(out, "EventSelectors", sel);
    else /* A new trail logs management events only, as on AWS. */
        json_object_set_new(out, "EventSelectors",
                            json_pack("[{s:s,s:b,s:[],s:[]}]", "ReadWriteType", "All",
                                      "IncludeManagementEvents", 1, "DataResources",
                                      "ExcludeManagementEventSources"));
    json_decref(row);
    sl_json_reply(call, out);
}

static const sl_json_op ops[] = {
    {"CreateTrail", op_create_trail},
    {"DeleteTrail", op_delete_trail},
    {"GetTrail", op_get_trail},
    {"GetTrailStatus", op_get_trail_status},
    {"DescribeTrails", op_describe_trails},
    {"ListTrails", op_list_trails},
    {"StartLogging", op_start_logging},
    {"StopLogging", op_stop_logging},
    {"PutEventSelectors", op_put_event_selectors},
    {"GetEventSelectors", op_get_event_selectors},
    {NULL, NULL},
};

sl_trails *sl_trails_new(const sl_context *ctx) {
    sl_trails *t = sl_xcalloc(1, sizeof *t);
    t->cfg = ctx->cfg;
    t->store = ctx->store;
    t->json.target_prefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101";
    t->json.content_type = "application/x-amz-json-1.1";
    t->json.ops = ops;
    t->json.svc = t;
    t->json.credentials = ctx->credentials;
    return t;
}

void sl_trails_register(sl_trails *t, sl_router *router) {
    sl_router_add_json(router, t->json.target_prefix, sl_json_service_begin, &t->json);
}

void sl_trails_free(sl_trails *t) { free(t); }
