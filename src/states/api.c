/* api: the Step Functions JSON 1.0 wire (X-Amz-Target: AWSStepFunctions.<Operation>): state
 * machines, executions, history, activities, task callbacks and tags. Turns requests into calls
 * on the catalog and the runtime and their results into botocore's shapes and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "states/activities.h"
#include "states/states_internal.h"

bool sfn_name_valid(const char *name);
void sfn_api_init(sl_states *s);

#define FAIL(call, code, ...) sl_json_fail(call, 400, code, __VA_ARGS__)

static double epoch(int64_t ms) { return (double)ms / 1000.0; }

static void internal(sl_json_call *call) {
    sl_json_fail(call, 500, "InternalServerError", "The store failed; see the daemon's log.");
}

static bool arn_of(sl_json_call *call, json_t *in, const char *field, const char *kind, char *name,
                   size_t nlen, char *rest, size_t rlen, const char **arn) {
    *arn = sl_json_str_req(call, in, field);
    if (!*arn) return false;
    if (!sfn_arn_split(*arn, kind, name, nlen, rest, rlen)) {
        FAIL(call, "InvalidArn", "Invalid Arn: '%s'", *arn);
        return false;
    }
    return true;
}

static bool role_valid(const char *role) {
    return role && sl_str_has_prefix(role, "arn:aws:iam::") && strstr(role, ":role/");
}

/* ---- tags ---- */

typedef struct {
    const char *arn;
    json_t *tags; /* [{key, value}] */
    json_t *keys; /* untag */
} tags_job;

static int tags_write(sqlite3 *db, void *arg) {
    tags_job *j = arg;
    size_t i;
    json_t *t;
    json_array_foreach(j->tags, i, t) {
        sqlite3_stmt *st = sl_store_cached(
            db, "INSERT OR REPLACE INTO sfn_tags (arn, key, value) VALUES (?1, ?2, ?3)");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(t, "key")), -1, SQLITE_STATIC);
        const char *v = json_string_value(json_object_get(t, "value"));
        sqlite3_bind_text(st, 3, v ? v : "", -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return -1;
    }
    json_array_foreach(j->keys, i, t) {
        sqlite3_stmt *st = sl_store_cached(db, "DELETE FROM sfn_tags WHERE arn = ?1 AND key = ?2");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_string_value(t), -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return -1;
    }
    return 0;
}

static bool tags_valid(sl_json_call *call, json_t *tags) {
    if (!tags) return true;
    if (!json_is_array(tags) || json_array_size(tags) > 50) {
        FAIL(call, "TooManyTags", "At most 50 tags");
        return false;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        if (!json_is_string(json_object_get(t, "key"))) {
            FAIL(call, "ValidationException", "Each tag needs a key");
            return false;
        }
    }
    return true;
}

/* Does the ARN name a stored machine or activity? */
static bool resource_exists(sl_states *s, const char *arn) {
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st = sl_store_cached(db, "SELECT 1 FROM sfn_machines WHERE arn = ?1 UNION ALL "
                                           "SELECT 1 FROM sfn_activities WHERE arn = ?1");
    if (!st) return false;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return ok;
}

static void op_tag_resource(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *arn = sl_json_str_req(call, in, "resourceArn");
    if (!arn) return;
    json_t *tags = json_object_get(in, "tags");
    if (!tags_valid(call, tags)) return;
    if (!resource_exists(s, arn)) {
        sl_json_fail(call, 400, "ResourceNotFound", "Resource not found: '%s'", arn);
        return;
    }
    tags_job j = {.arn = arn, .tags = tags};
    if (sl_store_write(s->store, tags_write, &j) != 0) return internal(call);
    sl_json_reply(call, NULL);
}

static void op_untag_resource(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *arn = sl_json_str_req(call, in, "resourceArn");
    if (!arn) return;
    if (!resource_exists(s, arn)) {
        sl_json_fail(call, 400, "ResourceNotFound", "Resource not found: '%s'", arn);
        return;
    }
    tags_job j = {.arn = arn, .keys = json_object_get(in, "tagKeys")};
    if (sl_store_write(s->store, tags_write, &j) != 0) return internal(call);
    sl_json_reply(call, NULL);
}

static void op_list_tags(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *arn = sl_json_str_req(call, in, "resourceArn");
    if (!arn) return;
    if (!resource_exists(s, arn)) {
        sl_json_fail(call, 400, "ResourceNotFound", "Resource not found: '%s'", arn);
        return;
    }
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st =
        sl_store_cached(db, "SELECT key, value FROM sfn_tags WHERE arn = ?1 ORDER BY key");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    json_t *tags = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(tags, json_pack("{s:s, s:s}", "key", sqlite3_column_text(st, 0),
                                              "value", sqlite3_column_text(st, 1)));
    sqlite3_reset(st);
    sl_json_reply(call, json_pack("{s:o}", "tags", tags));
}

/* ---- state machines ---- */

typedef struct {
    char *name, *type, *hash, *definition, *role, *revision, *spec;
    int64_t created, updated;
} machine_row;

static void machine_row_free(machine_row *r) {
    free(r->name);
    free(r->type);
    free(r->hash);
    free(r->definition);
    free(r->role);
    free(r->revision);
    free(r->spec);
}

static char *col(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? sl_xstrdup((const char *)t) : NULL;
}

static bool machine_read(sl_states *s, const char *arn, machine_row *r) {
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT m.name, m.type, m.def_hash, d.definition, m.role_arn, m.revision, m.spec, "
            "m.created_ms, m.updated_ms FROM sfn_machines m JOIN sfn_definitions d ON "
            "d.hash = m.def_hash WHERE m.arn = ?1");
    if (!st) return false;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        r->name = col(st, 0);
        r->type = col(st, 1);
        r->hash = col(st, 2);
        r->definition = col(st, 3);
        r->role = col(st, 4);
        r->revision = col(st, 5);
        r->spec = col(st, 6);
        r->created = sqlite3_column_int64(st, 7);
        r->updated = sqlite3_column_int64(st, 8);
    }
    sqlite3_reset(st);
    return ok;
}

typedef struct {
    const char *bad;
    const char *what;
    char state[128];
} express_check;

/* Express workflows run request-response integrations only: no activities, no .sync, no
 * .waitForTaskToken (AWS refuses them when the machine is created). */
static int express_refuses(const sl_asl_state *st, void *ctx) {
    express_check *x = ctx;
    const char *r = st->resource;
    if (strstr(r, ":activity:")) x->what = "Activity ARN";
    else if (strstr(r, ".sync")) x->what = "'.sync' service integration";
    else if (strstr(r, ".waitForTaskToken")) x->what = "'.waitForTaskToken' service integration";
    else return 0;
    x->bad = r;
    snprintf(x->state, sizeof x->state, "%s", st->name);
    return 1;
}

static bool definition_ok(sl_states *s, sl_json_call *call, const char *definition,
                          const char *type) {
    char err[2048];
    sl_asl_machine *m = sfn_compile(s, definition, err, sizeof err);
    if (!m) {
        FAIL(call, "InvalidDefinition", "%s", err);
        return false;
    }
    express_check x = {0};
    if (type && !strcmp(type, "EXPRESS") && sl_asl_each_task(m, express_refuses, &x)) {
        FAIL(call, "InvalidDefinition",
             "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state "
             "machine does not support %s at /States/%s/Resource'",
             x.what, x.state);
        sl_asl_free(m);
        return false;
    }
    sl_asl_free(m);
    return true;
}

static void op_create_state_machine(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *name = sl_json_str_req(call, in, "name");
    if (!name) return;
    const char *definition = sl_json_str_req(call, in, "definition");
    if (!definition) return;
    const char *role = sl_json_str_req(call, in, "roleArn");
    if (!role) return;
    const char *type = sl_json_str(in, "type");
    if (!type) type = "STANDARD";
    if (strcmp(type, "STANDARD") != 0 && strcmp(type, "EXPRESS") != 0) {
        FAIL(call, "ValidationException",
             "1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: "
             "Member must satisfy enum value set: [STANDARD, EXPRESS]",
             type);
        return;
    }
    if (!sfn_name_valid(name)) {
        FAIL(call, "InvalidName", "Invalid Name: '%s'", name);
        return;
    }
    if (!role_valid(role)) {
        FAIL(call, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'",
             role);
        return;
    }
    json_t *tags = json_object_get(in, "tags");
    if (!tags_valid(call, tags)) return;
    if (!definition_ok(s, call, definition, type)) return;
    char arn[256], hash[65], rev[37];
    sfn_arn(s, "stateMachine", name, arn, sizeof arn);
    sfn_definition_hash(definition, hash);
    sl_id_uuid(rev);
    json_t *spec = json_object();
    json_t *v;
    if ((v = json_object_get(in, "loggingConfiguration"))) json_object_set(spec, "logging", v);
    if ((v = json_object_get(in, "tracingConfiguration"))) json_object_set(spec, "tracing", v);
    if ((v = json_object_get(in, "encryptionConfiguration")))
        json_object_set(spec, "encryption", v);
    char *spec_text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    tags_job tj = {.arn = arn, .tags = tags};
    sfn_machine_job j = {.arn = arn,
                         .name = name,
                         .type = type,
                         .hash = hash,
                         .definition = definition,
                         .role = role,
                         .revision = rev,
                         .spec = spec_text,
                         .now = sl_now_ms(),
                         .after = tags_write,
                         .after_ctx = &tj};
    int rc = sl_store_write(s->store, sfn_machine_write, &j);
    free(spec_text);
    if (rc == 1) {
        /* AWS: the same definition, role and type again is not an error */
        machine_row r = {0};
        /* AWS: a different roleArn or tags are ignored (and not applied) */
        bool same =
            machine_read(s, arn, &r) && !strcmp(r.definition, definition) && !strcmp(r.type, type);
        int64_t created = r.created;
        machine_row_free(&r);
        if (same) {
            sl_json_reply(call, json_pack("{s:s, s:f}", "stateMachineArn", arn, "creationDate",
                                          epoch(created)));
            return;
        }
        FAIL(call, "StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn);
        return;
    }
    if (rc != 0) return internal(call);
    sfn_machines_invalidate(s, arn);
    sl_json_reply(call,
                  json_pack("{s:s, s:f}", "stateMachineArn", arn, "creationDate", epoch(j.now)));
}

static void op_describe_state_machine(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char name[128], rest[128];
    const char *arn;
    if (!arn_of(call, in, "stateMachineArn", "stateMachine", name, sizeof name, rest, sizeof rest,
                &arn))
        return;
    machine_row r = {0};
    if (!machine_read(s, arn, &r)) {
        FAIL(call, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn);
        return;
    }
    json_t *out =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:s}", "stateMachineArn", arn, "name",
                  r.name, "status", "ACTIVE", "definition", r.definition, "roleArn", r.role, "type",
                  r.type, "creationDate", epoch(r.created), "revisionId", r.revision);
    json_t *spec = json_loads(r.spec ? r.spec : "{}", 0, NULL);
    json_t *logging = json_object_get(spec, "logging");
    json_object_set_new(out, "loggingConfiguration",
                        logging
                            ? json_incref(logging)
                            : json_pack("{s:s, s:b}", "level", "OFF", "includeExecutionData", 0));
    json_t *tracing = json_object_get(spec, "tracing");
    json_object_set_new(out, "tracingConfiguration",
                        tracing ? json_incref(tracing) : json_pack("{s:b}", "enabled", 0));
    json_decref(spec);
    machine_row_free(&r);
    sl_json_reply(call, out);
}

static void op_update_state_machine(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char name[128], rest[128];
    const char *arn;
    if (!arn_of(call, in, "stateMachineArn", "stateMachine", name, sizeof name, rest, sizeof rest,
                &arn))
        return;
    const char *definition = sl_json_str(in, "definition");
    const char *role = sl_json_str(in, "roleArn");
    if (!definition && !role && !json_object_get(in, "loggingConfiguration") &&
        !json_object_get(in, "tracingConfiguration")) {
        FAIL(call, "MissingRequiredParameter",
             "Either the definition, the roleArn, the loggingConfiguration or the "
             "tracingConfiguration must be specified");
        return;
    }
    if (role && !role_valid(role)) {
        FAIL(call, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'",
             role);
        return;
    }
    machine_row r = {0};
    if (!machine_read(s, arn, &r)) {
        FAIL(call, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn);
        return;
    }
    if (definition && !definition_ok(s, call, definition, r.type)) {
        machine_row_free(&r);
        return;
    }
    char hash[65], rev[37];
    const char *def = definition ? definition : r.definition;
    sfn_definition_hash(def, hash);
    sl_id_uuid(rev);
    sfn_machine_job j = {.arn = arn,
                         .hash = hash,
                         .definition = def,
                         .role = role ? role : r.role,
                         .revision = rev,
                         .now = sl_now_ms(),
                         .update = true};
    int rc = sl_store_write(s->store, sfn_machine_write, &j);
    machine_row_free(&r);
    if (rc != 0) return internal(call);
    sfn_machines_invalidate(s, arn);
    sl_json_reply(call, json_pack("{s:f, s:s}", "updateDate", epoch(j.now), "revisionId", rev));
}

static void op_delete_state_machine(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char name[128], rest[128];
    const char *arn;
    if (!arn_of(call, in, "stateMachineArn", "stateMachine", name, sizeof name, rest, sizeof rest,
                &arn))
        return;
    sl_store_stmt_job a = {
        .sql = "DELETE FROM sfn_machines WHERE arn = ?1", .args = {arn}, .nargs = 1};
    if (sl_store_write(s->store, sl_store_exec_job, &a) < 0) return internal(call);
    sl_store_stmt_job t = {.sql = "DELETE FROM sfn_tags WHERE arn = ?1", .args = {arn}, .nargs = 1};
    sl_store_write(s->store, sl_store_exec_job, &t);
    sfn_machines_invalidate(s, arn);
    sl_json_reply(call, NULL);
}

/* Pagination: nextToken is the offset of the next page. */
static bool page_args(sl_json_call *call, json_t *in, int *limit, long *offset, int deflt) {
    json_t *mr = json_object_get(in, "maxResults");
    *limit = deflt;
    if (mr) {
        if (!json_is_integer(mr) || json_integer_value(mr) < 0 || json_integer_value(mr) > 1000) {
            FAIL(call, "ValidationException",
                 "1 validation error detected: Value at 'maxResults' failed to satisfy "
                 "constraint: Member must have value less than or equal to 1000");
            return false;
        }
        if (json_integer_value(mr) > 0) *limit = (int)json_integer_value(mr);
    }
    *offset = 0;
    const char *tok = sl_json_str(in, "nextToken");
    if (tok) {
        char *end;
        *offset = strtol(tok, &end, 10);
        if (*end || *offset < 0) {
            FAIL(call, "InvalidToken", "Invalid Token: '%s'", tok);
            return false;
        }
    }
    return true;
}

static void next_token(json_t *out, long offset, int limit, int got, bool more) {
    if (more && got == limit) {
        char t[32];
        snprintf(t, sizeof t, "%ld", offset + limit);
        json_object_set_new(out, "nextToken", json_string(t));
    }
}

/* Runs a listing statement whose last two parameters are LIMIT (limit + 1) and OFFSET, turning
 * each row into an item with row(); answers {field: [...], "nextToken"?}. */
static void reply_page(sl_json_call *call, sqlite3_stmt *st, int limit_param, int limit,
                       long offset, const char *field, json_t *(*row)(sqlite3_stmt *st, void *ctx),
                       void *ctx) {
    sqlite3_bind_int(st, limit_param, limit + 1);
    sqlite3_bind_int64(st, limit_param + 1, offset);
    json_t *list = json_array();
    int n = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        json_array_append_new(list, row(st, ctx));
        n++;
    }
    sqlite3_reset(st);
    json_t *out = json_object();
    json_object_set_new(out, field, list);
    next_token(out, offset, limit, n, more);
    sl_json_reply(call, out);
}

static json_t *machine_item(sqlite3_stmt *st, void *ctx) {
    (void)ctx;
    return json_pack("{s:s, s:s, s:s, s:f}", "stateMachineArn", sqlite3_column_text(st, 0), "name",
                     sqlite3_column_text(st, 1), "type", sqlite3_column_text(st, 2), "creationDate",
                     epoch(sqlite3_column_int64(st, 3)));
}

static void op_list_state_machines(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    int limit;
    long offset;
    if (!page_args(call, in, &limit, &offset, 100)) return;
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st = sl_store_cached(db, "SELECT arn, name, type, created_ms FROM sfn_machines "
                                           "ORDER BY name LIMIT ?1 OFFSET ?2");
    if (!st) return internal(call);
    reply_page(call, st, 1, limit, offset, "stateMachines", machine_item, NULL);
}

static void op_validate_definition(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *definition = sl_json_str_req(call, in, "definition");
    if (!definition) return;
    json_t *diags = sl_asl_diagnose(definition);
    json_t *out_diags = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(diags, i, d) {
        json_t *o = json_pack("{s:s, s:O, s:O}", "severity", "ERROR", "code",
                              json_object_get(d, "code"), "message", json_object_get(d, "message"));
        if (json_object_get(d, "location"))
            json_object_set(o, "location", json_object_get(d, "location"));
        json_array_append_new(out_diags, o);
    }
    json_decref(diags);
    if (json_array_size(out_diags) == 0) {
        char err[2048];
        sl_asl_machine *m = sfn_compile(s, definition, err, sizeof err);
        if (m) sl_asl_free(m);
        else
            json_array_append_new(out_diags,
                                  json_pack("{s:s, s:s, s:s}", "severity", "ERROR", "code",
                                            "SCHEMA_VALIDATION_FAILED", "message", err));
    }
    const char *result = json_array_size(out_diags) ? "FAIL" : "OK";
    sl_json_reply(call, json_pack("{s:s, s:o, s:b}", "result", result, "diagnostics", out_diags,
                                  "truncated", 0));
}

/* ---- executions ---- */

static void started_reply(sfn_exec *e, void *ctx) {
    sl_json_call *call = ctx;
    (void)e;
    sl_json_wake(call);
}

typedef struct {
    char arn[512];
    int64_t start_ms;
} start_state;

static void start_then(sl_json_call *call) {
    start_state *st = call->state;
    sl_json_reply(
        call, json_pack("{s:s, s:f}", "executionArn", st->arn, "startDate", epoch(st->start_ms)));
}

static sfn_machine *machine_for_call(sl_states *s, sl_json_call *call, json_t *in,
                                     const char **arn) {
    char name[128], rest[128];
    if (!arn_of(call, in, "stateMachineArn", "stateMachine", name, sizeof name, rest, sizeof rest,
                arn))
        return NULL;
    sfn_machine *m = sfn_machine_get(s, *arn);
    if (!m) FAIL(call, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", *arn);
    return m;
}

static json_t *input_of(sl_json_call *call, json_t *in) {
    const char *text = sl_json_str(in, "input");
    json_t *v = json_loads(text ? text : "{}", JSON_DECODE_ANY, NULL);
    if (!v)
        FAIL(call, "InvalidExecutionInput",
             "Invalid State Machine Execution Input: 'Unexpected character: was expecting JSON'");
    return v;
}

static void op_start_execution(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *marn;
    sfn_machine *m = machine_for_call(s, call, in, &marn);
    if (!m) return;
    json_t *input = input_of(call, in);
    if (!input) return;
    start_state *st = sl_xcalloc(1, sizeof *st);
    call->state = st;
    call->state_free = free;
    bool express = strcmp(m->type, "EXPRESS") == 0;
    sfn_start_args a = {.name = sl_json_str(in, "name"),
                        .input = input,
                        .input_text = sl_json_str(in, "input"),
                        .trace_header = sl_json_str(in, "traceHeader"),
                        .on_stored = started_reply,
                        .on_stored_ctx = call};
    char code[64], msg[512];
    if (!express) sl_json_wait(call, start_then); /* answered once the start is durable */
    int rc = sfn_start(s, m, &a, st->arn, sizeof st->arn, &st->start_ms, code, sizeof code, msg,
                       sizeof msg);
    json_decref(input);
    if (rc != 0) {
        if (!express) {
            call->then = NULL;
            sl_req_resume(call->req);
        }
        if (rc < 0) FAIL(call, code, "%s", msg);
        else start_then(call);
        return;
    }
    if (express) start_then(call);
}

static void put_data(json_t *out, const char *field, const char *text, bool include) {
    if (!text) return;
    char det[32];
    snprintf(det, sizeof det, "%sDetails", field);
    if (include) {
        json_object_set_new(out, field, json_string(text));
        json_object_set_new(out, det, json_pack("{s:b}", "included", 1));
    } else {
        json_object_set_new(out, det, json_pack("{s:b}", "included", 0));
    }
}

typedef struct {
    json_t *out;
} sync_state;

static void sync_done(sfn_exec *e, void *ctx) {
    sl_json_call *call = ctx;
    sync_state *st = call->state;
    json_t *out = json_pack("{s:s, s:s, s:s, s:f, s:f}", "executionArn", e->arn, "stateMachineArn",
                            e->machine->arn, "name", e->name, "startDate", epoch(e->start_ms),
                            "stopDate", epoch(e->stop_ms ? e->stop_ms : sl_now_ms()));
    const char *status = e->status == EXEC_RUNNING ? "FAILED" : sfn_status_name(e->status);
    if (!strcmp(status, "ABORTED")) status = "FAILED";
    json_object_set_new(out, "status", json_string(status));
    put_data(out, "input", e->input_text, true);
    if (e->output) {
        char *o = json_dumps(e->output, JSON_COMPACT | JSON_ENCODE_ANY);
        put_data(out, "output", o, true);
        free(o);
    }
    if (e->error) json_object_set_new(out, "error", json_string(e->error));
    if (e->cause) json_object_set_new(out, "cause", json_string(e->cause));
    int64_t dur = (e->stop_ms ? e->stop_ms : sl_now_ms()) - e->start_ms;
    json_object_set_new(out, "billingDetails",
                        json_pack("{s:I, s:I}", "billedMemoryUsedInMB", (json_int_t)64,
                                  "billedDurationInMilliseconds",
                                  (json_int_t)(((dur + 99) / 100) * 100)));
    st->out = out;
    sl_json_wake(call);
}

static void sync_then(sl_json_call *call) {
    sync_state *st = call->state;
    json_t *out = st->out;
    st->out = NULL;
    sl_json_reply(call, out);
}

static void sync_state_free(void *p) {
    sync_state *st = p;
    json_decref(st->out);
    free(st);
}

static void op_start_sync_execution(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *marn;
    sfn_machine *m = machine_for_call(s, call, in, &marn);
    if (!m) return;
    if (strcmp(m->type, "EXPRESS") != 0) {
        FAIL(call, "StateMachineTypeNotSupported",
             "This operation is not supported by this type of state machine");
        return;
    }
    json_t *input = input_of(call, in);
    if (!input) return;
    sync_state *st = sl_xcalloc(1, sizeof *st);
    call->state = st;
    call->state_free = sync_state_free;
    sfn_start_args a = {.name = sl_json_str(in, "name"),
                        .input = input,
                        .input_text = sl_json_str(in, "input"),
                        .trace_header = sl_json_str(in, "traceHeader"),
                        .on_done = sync_done,
                        .on_done_ctx = call};
    char arn[512], code[64], msg[512];
    int64_t start;
    sl_json_wait(call, sync_then);
    int rc = sfn_start(s, m, &a, arn, sizeof arn, &start, code, sizeof code, msg, sizeof msg);
    json_decref(input);
    if (rc != 0) {
        call->then = NULL;
        sl_req_resume(call->req);
        FAIL(call, rc < 0 ? code : "ExecutionAlreadyExists", "%s",
             rc < 0 ? msg : "An execution of that name is running");
    }
}

typedef struct {
    char *arn, *machine_arn, *name, *hash, *status, *input, *output, *error, *cause;
    int64_t started, stopped;
    bool has_stop;
    int redrive_count;
    char *redrive; /* {"state","input"} when redrivable */
    char *revision;
    int64_t revision_ms;
    char *trace;
    char *parent;
} exec_row;

static void exec_row_free(exec_row *r) {
    free(r->arn);
    free(r->machine_arn);
    free(r->name);
    free(r->hash);
    free(r->status);
    free(r->input);
    free(r->output);
    free(r->error);
    free(r->cause);
    free(r->redrive);
    free(r->revision);
    free(r->trace);
    free(r->parent);
}

static bool exec_read(sl_states *s, const char *arn, exec_row *r) {
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT arn, machine_arn, name, def_hash, status, input, output, error, cause, "
            "started_ms, stopped_ms, redrive_count, redrive, trace_header, parent, revision, "
            "revision_ms FROM sfn_executions WHERE arn = ?1");
    if (!st) return false;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        r->arn = col(st, 0);
        r->machine_arn = col(st, 1);
        r->name = col(st, 2);
        r->hash = col(st, 3);
        r->status = col(st, 4);
        r->input = col(st, 5);
        r->output = col(st, 6);
        r->error = col(st, 7);
        r->cause = col(st, 8);
        r->started = sqlite3_column_int64(st, 9);
        r->has_stop = sqlite3_column_type(st, 10) != SQLITE_NULL;
        r->stopped = sqlite3_column_int64(st, 10);
        r->redrive_count = sqlite3_column_int(st, 11);
        r->redrive = col(st, 12);
        r->trace = col(st, 13);
        r->parent = col(st, 14);
        r->revision = col(st, 15);
        r->revision_ms = sqlite3_column_int64(st, 16);
    }
    sqlite3_reset(st);
    return ok;
}

static bool exec_for_call(sl_states *s, sl_json_call *call, json_t *in, exec_row *r) {
    char name[128], rest[256];
    const char *arn;
    if (!arn_of(call, in, "executionArn", "execution", name, sizeof name, rest, sizeof rest, &arn))
        return false;
    if (!exec_read(s, arn, r)) {
        FAIL(call, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
        return false;
    }
    return true;
}

static void op_describe_execution(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    exec_row r = {0};
    if (!exec_for_call(s, call, in, &r)) return;
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:f, s:i}", "executionArn", r.arn,
                            "stateMachineArn", r.machine_arn, "name", r.name, "status", r.status,
                            "startDate", epoch(r.started), "redriveCount", r.redrive_count);
    if (r.has_stop) json_object_set_new(out, "stopDate", json_real(epoch(r.stopped)));
    put_data(out, "input", r.input, true);
    put_data(out, "output", r.output, true);
    if (r.error) json_object_set_new(out, "error", json_string(r.error));
    if (r.cause) json_object_set_new(out, "cause", json_string(r.cause));
    if (!strcmp(r.status, "RUNNING") || !strcmp(r.status, "SUCCEEDED")) {
        json_object_set_new(out, "redriveStatus", json_string("NOT_REDRIVABLE"));
        json_object_set_new(out, "redriveStatusReason",
                            json_string(!strcmp(r.status, "RUNNING")
                                            ? "Execution is RUNNING and cannot be redriven"
                                            : "Execution is SUCCEEDED and cannot be redriven"));
    } else {
        json_object_set_new(out, "redriveStatus",
                            json_string(r.redrive ? "REDRIVABLE" : "NOT_REDRIVABLE"));
    }
    exec_row_free(&r);
    sl_json_reply(call, out);
}

static void op_describe_machine_for_execution(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    exec_row r = {0};
    if (!exec_for_call(s, call, in, &r)) return;
    sfn_machine *m = sfn_machine_for_hash(s, r.machine_arn, r.hash);
    if (!m) {
        exec_row_free(&r);
        return internal(call);
    }
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:f}", "stateMachineArn", m->arn, "name", m->name,
                            "definition", m->definition, "roleArn", m->role_arn, "updateDate",
                            epoch(r.revision_ms ? r.revision_ms : r.started));
    if (r.revision) json_object_set_new(out, "revisionId", json_string(r.revision));
    exec_row_free(&r);
    sl_json_reply(call, out);
}

static json_t *execution_item(sqlite3_stmt *st, void *machine_arn) {
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:f, s:i}", "executionArn", sqlite3_column_text(st, 0),
                  "stateMachineArn", (const char *)machine_arn, "name", sqlite3_column_text(st, 1),
                  "status", sqlite3_column_text(st, 2), "startDate",
                  epoch(sqlite3_column_int64(st, 3)), "redriveCount", sqlite3_column_int(st, 5));
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        json_object_set_new(o, "stopDate", json_real(epoch(sqlite3_column_int64(st, 4))));
    return o;
}

static void op_list_executions(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *marn = sl_json_str(in, "stateMachineArn");
    if (!marn) {
        FAIL(call, "ValidationException", "Must provide a StateMachine ARN or MapRun ARN");
        return;
    }
    char name[128], rest[128];
    if (!sfn_arn_split(marn, "stateMachine", name, sizeof name, rest, sizeof rest)) {
        FAIL(call, "InvalidArn", "Invalid Arn: '%s'", marn);
        return;
    }
    sfn_machine *m = sfn_machine_get(s, marn);
    if (!m) {
        FAIL(call, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", marn);
        return;
    }
    if (!strcmp(m->type, "EXPRESS")) {
        FAIL(call, "StateMachineTypeNotSupported",
             "This operation is not supported by this type of state machine");
        return;
    }
    const char *status = sl_json_str(in, "statusFilter");
    static const char *const statuses[] = {"RUNNING",   "SUCCEEDED", "FAILED",
                                           "TIMED_OUT", "ABORTED",   "PENDING_REDRIVE"};
    if (status) {
        bool ok = false;
        for (size_t i = 0; i < 6; i++) ok |= !strcmp(status, statuses[i]);
        if (!ok) {
            FAIL(call, "ValidationException",
                 "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy "
                 "constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, "
                 "TIMED_OUT, ABORTED, PENDING_REDRIVE]",
                 status);
            return;
        }
    }
    int limit;
    long offset;
    if (!page_args(call, in, &limit, &offset, 100)) return;
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT arn, name, status, started_ms, stopped_ms, redrive_count FROM sfn_executions "
            "WHERE machine_arn = ?1 AND (?2 IS NULL OR status = ?2) "
            "ORDER BY started_ms DESC, arn LIMIT ?3 OFFSET ?4");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, marn, -1, SQLITE_TRANSIENT);
    if (status) sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
    reply_page(call, st, 3, limit, offset, "executions", execution_item, (void *)marn);
}

static void stop_ended(void *ctx) { sl_json_wake(ctx); }

static void stop_then(sl_json_call *call) {
    sl_json_reply(call, json_pack("{s:f}", "stopDate", epoch(sl_now_ms())));
}

static void op_stop_execution(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    exec_row r = {0};
    if (!exec_for_call(s, call, in, &r)) return;
    const char *error = sl_json_str(in, "error");
    const char *cause = sl_json_str(in, "cause");
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    m->kind = MSG_STOP;
    m->error = error ? sl_xstrdup(error) : NULL;
    m->cause = cause ? sl_xstrdup(cause) : NULL;
    /* answered once the abort is durable: DescribeExecution right after says ABORTED */
    sl_json_wait(call, stop_then);
    bool waiting = sfn_runtime_when_ended(s, r.arn, stop_ended, call);
    if (waiting) sfn_runtime_post(s, r.arn, m); /* frees m when it has just ended */
    else sfn_msg_free(m);
    exec_row_free(&r);
    if (!waiting) sl_json_wake(call); /* not running: answer with now */
}

static void strip_data(json_t *details) {
    const char *k;
    json_t *v;
    json_object_foreach(details, k, v) {
        if (!json_is_object(v)) continue;
        json_object_del(v, "input");
        json_object_del(v, "output");
        if (json_object_get(v, "inputDetails"))
            json_object_set_new(v, "inputDetails", json_pack("{s:b}", "truncated", 0));
        if (json_object_get(v, "outputDetails"))
            json_object_set_new(v, "outputDetails", json_pack("{s:b}", "truncated", 0));
    }
}

static json_t *history_item(sqlite3_stmt *st, void *include_data) {
    json_t *ev = NULL;
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        ev = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
    if (!ev) ev = json_object();
    if (!*(bool *)include_data) strip_data(ev);
    json_object_set_new(ev, "timestamp", json_real(epoch(sqlite3_column_int64(st, 3))));
    json_object_set_new(ev, "type", json_string((const char *)sqlite3_column_text(st, 2)));
    json_object_set_new(ev, "id", json_integer(sqlite3_column_int(st, 0)));
    json_object_set_new(ev, "previousEventId", json_integer(sqlite3_column_int(st, 1)));
    return ev;
}

static void op_get_execution_history(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    exec_row r = {0};
    if (!exec_for_call(s, call, in, &r)) return;
    int limit;
    long offset;
    if (!page_args(call, in, &limit, &offset, 100)) {
        exec_row_free(&r);
        return;
    }
    bool reverse = json_is_true(json_object_get(in, "reverseOrder"));
    json_t *inc = json_object_get(in, "includeExecutionData");
    bool include = !inc || json_is_true(inc);
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st = sl_store_cached(
        db, reverse ? "SELECT id, previous_id, type, ts_ms, details FROM sfn_history WHERE "
                      "execution_arn = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
                    : "SELECT id, previous_id, type, ts_ms, details FROM sfn_history WHERE "
                      "execution_arn = ?1 ORDER BY id LIMIT ?2 OFFSET ?3");
    if (!st) {
        exec_row_free(&r);
        return internal(call);
    }
    sqlite3_bind_text(st, 1, r.arn, -1, SQLITE_TRANSIENT);
    reply_page(call, st, 2, limit, offset, "events", history_item, &include);
    exec_row_free(&r);
}

typedef struct {
    const char *arn;
    const char *snapshot;
    int64_t now;
} redrive_job;

static int redrive_write(sqlite3 *db, void *arg) {
    redrive_job *j = arg;
    sqlite3_stmt *st = sl_store_cached(
        db, "UPDATE sfn_executions SET status = 'RUNNING', redrive_count = redrive_count + 1, "
            "redrive_ms = ?2, stopped_ms = NULL, error = NULL, cause = NULL, output = NULL, "
            "redrive = NULL, snapshot = ?3 WHERE arn = ?1 AND redrive IS NOT NULL");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->now);
    sqlite3_bind_text(st, 3, j->snapshot, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int changed = sqlite3_changes(db);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return -1;
    return changed == 1 ? 0 : 1;
}

static int max_event_id(sl_states *s, const char *arn) {
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st =
        sl_store_cached(db, "SELECT MAX(id) FROM sfn_history WHERE execution_arn = ?1");
    if (!st) return 0;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

static void op_redrive_execution(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    exec_row r = {0};
    if (!exec_for_call(s, call, in, &r)) return;
    if (!r.redrive) {
        FAIL(call, "ExecutionNotRedrivable", "Execution is %s and cannot be redriven", r.status);
        exec_row_free(&r);
        return;
    }
    sfn_machine *m = sfn_machine_for_hash(s, r.machine_arn, r.hash);
    json_t *point = json_loads(r.redrive, 0, NULL);
    json_t *input = json_loads(r.input, JSON_DECODE_ANY, NULL);
    if (!m || !point || !input) {
        json_decref(point);
        json_decref(input);
        exec_row_free(&r);
        return internal(call);
    }
    int64_t now = sl_now_ms();
    sfn_exec *e = sfn_exec_new(s, m, r.arn, r.name, input, r.started);
    e->input_text = sl_xstrdup(r.input);
    e->timeout_ms =
        m->asl->timeout_seconds > 0 ? now + (int64_t)(m->asl->timeout_seconds * 1000.0) : 0;
    e->next_event = max_event_id(s, r.arn);
    e->redrive_count = r.redrive_count + 1;
    if (r.parent) e->parent_token = sl_xstrdup(r.parent);
    if (r.trace) e->trace_header = sl_xstrdup(r.trace);
    sfn_exec_redrive(s, e, json_string_value(json_object_get(point, "state")),
                     json_object_get(point, "input"));
    /* the resumed run state is stored with the status, so a crash before the first step
     * still finds the execution RUNNING and able to go on */
    char *snapshot = sfn_snapshot_dump(e);
    redrive_job j = {.arn = r.arn, .snapshot = snapshot, .now = now};
    int rc = sl_store_write(s->store, redrive_write, &j);
    free(snapshot);
    if (rc != 0) {
        sfn_exec_free(e);
        json_decref(point);
        json_decref(input);
        if (rc == 1) FAIL(call, "ExecutionNotRedrivable", "Execution cannot be redriven");
        else internal(call);
        exec_row_free(&r);
        return;
    }
    sfn_runtime_submit(s, e);
    json_decref(point);
    json_decref(input);
    exec_row_free(&r);
    sl_json_reply(call, json_pack("{s:f}", "redriveDate", epoch(j.now)));
}

static void op_test_state(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    if (!sl_json_str_req(call, in, "definition")) return;
    const char *role = sl_json_str(in, "roleArn");
    if (role && !role_valid(role)) {
        FAIL(call, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'",
             role);
        return;
    }
    char code[64], msg[2048];
    json_t *out = sfn_test_state(s, in, code, sizeof code, msg, sizeof msg);
    if (!out) {
        FAIL(call, code, "%s", msg);
        return;
    }
    sl_json_reply(call, out);
}

/* ---- task callbacks ---- */

static bool token_target(sl_json_call *call, json_t *in, char *arn, size_t n, int *run, int *seq,
                         const char **token) {
    *token = sl_json_str_req(call, in, "taskToken");
    if (!*token) return false;
    if (!sfn_token_parse(*token, arn, n, run, seq)) {
        FAIL(call, "InvalidToken", "Invalid token");
        return false;
    }
    return true;
}

static void send_task(sl_states *s, sl_json_call *call, sfn_msg *m, const char *arn) {
    if (!sfn_runtime_post(s, arn, m)) {
        FAIL(call, "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'");
        return;
    }
    sl_json_reply(call, NULL);
}

static void op_send_task_success(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char arn[512];
    int run, seq;
    const char *token;
    if (!token_target(call, in, arn, sizeof arn, &run, &seq, &token)) return;
    const char *output = sl_json_str_req(call, in, "output");
    if (!output) return;
    if (strlen(output) > SFN_DATA_LIMIT) {
        FAIL(call, "InvalidOutput", "The output exceeds the maximum size of 262144 bytes.");
        return;
    }
    json_t *v = json_loads(output, JSON_DECODE_ANY, NULL);
    if (!v) {
        FAIL(call, "InvalidOutput", "Invalid Output: 'not JSON'");
        return;
    }
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    m->kind = MSG_TASK_SUCCEEDED;
    m->run = run;
    m->seq = seq;
    m->output = v;
    send_task(s, call, m, arn);
}

static void op_send_task_failure(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char arn[512];
    int run, seq;
    const char *token;
    if (!token_target(call, in, arn, sizeof arn, &run, &seq, &token)) return;
    const char *error = sl_json_str(in, "error"), *cause = sl_json_str(in, "cause");
    if ((error && strlen(error) > 256) || (cause && strlen(cause) > 32768)) {
        FAIL(call, "ValidationException", "error is limited to 256 and cause to 32768 characters");
        return;
    }
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    m->kind = MSG_TASK_FAILED;
    m->run = run;
    m->seq = seq;
    m->error = error ? sl_xstrdup(error) : NULL;
    m->cause = cause ? sl_xstrdup(cause) : NULL;
    send_task(s, call, m, arn);
}

static void op_send_task_heartbeat(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char arn[512];
    int run, seq;
    const char *token;
    if (!token_target(call, in, arn, sizeof arn, &run, &seq, &token)) return;
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    m->kind = MSG_HEARTBEAT;
    m->run = run;
    m->seq = seq;
    send_task(s, call, m, arn);
}

/* ---- activities ---- */

static bool activity_read(sl_states *s, const char *arn, char **name, int64_t *created) {
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st =
        sl_store_cached(db, "SELECT name, created_ms FROM sfn_activities WHERE arn = ?1");
    if (!st) return false;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        if (name) *name = col(st, 0);
        if (created) *created = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return ok;
}

static void op_create_activity(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    const char *name = sl_json_str_req(call, in, "name");
    if (!name) return;
    if (!sfn_name_valid(name)) {
        FAIL(call, "InvalidName", "Invalid Name: '%s'", name);
        return;
    }
    json_t *tags = json_object_get(in, "tags");
    if (!tags_valid(call, tags)) return;
    char arn[256], now[32];
    sfn_arn(s, "activity", name, arn, sizeof arn);
    int64_t ms = sl_now_ms();
    snprintf(now, sizeof now, "%lld", (long long)ms);
    sl_store_stmt_job a = {
        .sql = "INSERT INTO sfn_activities (arn, name, created_ms) VALUES (?1, ?2, ?3)",
        .args = {arn, name, now},
        .nargs = 3};
    int rc = sl_store_write(s->store, sl_store_exec_job, &a);
    if (rc < 0) return internal(call);
    if (rc == 1) activity_read(s, arn, NULL, &ms); /* exists: CreateActivity is idempotent */
    else if (tags) {
        tags_job tj = {.arn = arn, .tags = tags};
        sl_store_write(s->store, tags_write, &tj);
    }
    sl_json_reply(call, json_pack("{s:s, s:f}", "activityArn", arn, "creationDate", epoch(ms)));
}

static void op_describe_activity(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char name[128], rest[8];
    const char *arn;
    if (!arn_of(call, in, "activityArn", "activity", name, sizeof name, rest, sizeof rest, &arn))
        return;
    char *nm = NULL;
    int64_t created = 0;
    if (!activity_read(s, arn, &nm, &created)) {
        FAIL(call, "ActivityDoesNotExist", "Activity Does Not Exist: '%s'", arn);
        return;
    }
    sl_json_reply(call, json_pack("{s:s, s:s, s:f}", "activityArn", arn, "name", nm, "creationDate",
                                  epoch(created)));
    free(nm);
}

static void op_delete_activity(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char name[128], rest[8];
    const char *arn;
    if (!arn_of(call, in, "activityArn", "activity", name, sizeof name, rest, sizeof rest, &arn))
        return;
    sl_store_stmt_job a = {
        .sql = "DELETE FROM sfn_activities WHERE arn = ?1", .args = {arn}, .nargs = 1};
    if (sl_store_write(s->store, sl_store_exec_job, &a) < 0) return internal(call);
    sl_json_reply(call, NULL);
}

static json_t *activity_item(sqlite3_stmt *st, void *ctx) {
    (void)ctx;
    return json_pack("{s:s, s:s, s:f}", "activityArn", sqlite3_column_text(st, 0), "name",
                     sqlite3_column_text(st, 1), "creationDate",
                     epoch(sqlite3_column_int64(st, 2)));
}

static void op_list_activities(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    int limit;
    long offset;
    if (!page_args(call, in, &limit, &offset, 100)) return;
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st = sl_store_cached(db, "SELECT arn, name, created_ms FROM sfn_activities "
                                           "ORDER BY name LIMIT ?1 OFFSET ?2");
    if (!st) return internal(call);
    reply_page(call, st, 1, limit, offset, "activities", activity_item, NULL);
}

static void op_get_activity_task(void *svc, sl_json_call *call, json_t *in) {
    sl_states *s = svc;
    char name[128], rest[8];
    const char *arn;
    if (!arn_of(call, in, "activityArn", "activity", name, sizeof name, rest, sizeof rest, &arn))
        return;
    if (!activity_read(s, arn, NULL, NULL)) {
        FAIL(call, "ActivityDoesNotExist", "Activity Does Not Exist: '%s'", arn);
        return;
    }
    sfn_activity_poll(s, call, arn, sl_json_str(in, "workerName"));
}

static const sl_json_op ops[] = {
    {"CreateStateMachine", op_create_state_machine},
    {"DescribeStateMachine", op_describe_state_machine},
    {"UpdateStateMachine", op_update_state_machine},
    {"DeleteStateMachine", op_delete_state_machine},
    {"ListStateMachines", op_list_state_machines},
    {"ValidateStateMachineDefinition", op_validate_definition},
    {"StartExecution", op_start_execution},
    {"StartSyncExecution", op_start_sync_execution},
    {"DescribeExecution", op_describe_execution},
    {"DescribeStateMachineForExecution", op_describe_machine_for_execution},
    {"ListExecutions", op_list_executions},
    {"StopExecution", op_stop_execution},
    {"RedriveExecution", op_redrive_execution},
    {"TestState", op_test_state},
    {"GetExecutionHistory", op_get_execution_history},
    {"SendTaskSuccess", op_send_task_success},
    {"SendTaskFailure", op_send_task_failure},
    {"SendTaskHeartbeat", op_send_task_heartbeat},
    {"CreateActivity", op_create_activity},
    {"DescribeActivity", op_describe_activity},
    {"DeleteActivity", op_delete_activity},
    {"ListActivities", op_list_activities},
    {"GetActivityTask", op_get_activity_task},
    {"TagResource", op_tag_resource},
    {"UntagResource", op_untag_resource},
    {"ListTagsForResource", op_list_tags},
    {NULL, NULL},
};

void sfn_api_init(sl_states *s) {
    s->json = (sl_json_service){.target_prefix = "AWSStepFunctions",
                                .content_type = "application/x-amz-json-1.0",
                                .ops = ops,
                                .svc = s,
                                .credentials = s->credentials};
}
