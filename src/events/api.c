/* api: EventBridge's JSON 1.1 wire (X-Amz-Target: AWSEvents.*): buses, rules, targets,
 * PutEvents, TestEventPattern, connections and API destinations. Validation and error codes
 * follow botocore's model and AWS's documented messages. Writes go through the store; a rule
 * change rebuilds its bus's matcher before the call returns. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/credentials.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "events/events_internal.h"

#define MAX_TARGETS_PER_RULE 5
#define PUT_EVENTS_MAX_BYTES (256 * 1024)

static double epoch_s(int64_t ms) { return (double)ms / 1000.0; }

static bool name_ok(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

static void invalid_name(sl_json_call *call, const char *field, const char *value) {
    sl_json_fail(call, 400, "ValidationException",
                 "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "
                 "Member must satisfy "
                 "regular expression pattern: [\\.\\-_A-Za-z0-9]+",
                 value, field);
}

/* Resolves EventBusName (name or ARN) and checks the bus exists. */
static bool resolve_bus(sl_events *ev, sl_json_call *call, json_t *in, const char *field, char *bus,
                        size_t n) {
    const char *given = sl_json_str(in, field);
    if (!ev_bus_name(given, bus, n)) {
        sl_json_fail(call, 400, "ValidationException", "EventBusName '%s' is not valid.",
                     given ? given : "");
        return false;
    }
    if (!ev_bus_exists(ev, bus)) {
        sl_json_fail(call, 400, "ResourceNotFoundException", "Event bus %s does not exist.", bus);
        return false;
    }
    return true;
}

/* ---- simple statement helpers ---- */

static sqlite3_stmt *query(sl_events *ev, const char *sql) {
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(sl_store_reader(ev->store), sql, -1, &st, NULL);
    return st;
}

static const char *col(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }

static void internal(sl_json_call *call) {
    sl_json_fail(call, 500, "InternalException",
                 "An internal error occurred; the request was not applied.");
}

/* ---- event buses ---- */

static void op_create_event_bus(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    if (!name_ok(name, 256) || !strcmp(name, "default")) return invalid_name(call, "name", name);
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)sl_now_ms());
    const char *desc = sl_json_str(in, "Description");
    sl_store_stmt_job a = {
        .sql = "INSERT INTO event_buses (name, description, created_ms, modified_ms) "
               "VALUES (?1, ?2, ?3, ?3)",
        .args = {name, desc, now},
        .nargs = 3};
    int rc = sl_store_write(ev->store, sl_store_exec_job, &a);
    if (rc == 1)
        return sl_json_fail(call, 400, "ResourceAlreadyExistsException",
                            "Event bus %s already exists.", name);
    if (rc != 0) return internal(call);
    ev_catalog_reload_bus(ev, name);
    char arn[512];
    ev_bus_arn(ev, name, arn, sizeof arn);
    json_t *out = json_pack("{s:s}", "EventBusArn", arn);
    if (desc) json_object_set_new(out, "Description", json_string(desc));
    sl_json_reply(call, out);
}

static void op_delete_event_bus(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    if (!strcmp(name, "default"))
        return sl_json_fail(call, 400, "ValidationException", "Cannot delete event bus default.");
    sl_store_stmt_job a = {
        .sql = "DELETE FROM event_buses WHERE name=?1 AND NOT EXISTS (SELECT 1 FROM "
               "event_rules WHERE bus=?1)",
        .args = {name},
        .nargs = 1};
    if (sl_store_write(ev->store, sl_store_exec_job, &a) != 0) return internal(call);
    if (!a.changes && ev_bus_exists(ev, name))
        return sl_json_fail(call, 400, "ValidationException",
                            "Event bus %s still has rules; delete them first.", name);
    sl_json_reply(call, NULL);
}

static json_t *bus_json(sl_events *ev, sqlite3_stmt *st) {
    char arn[512];
    ev_bus_arn(ev, col(st, 0), arn, sizeof arn);
    json_t *o = json_pack("{s:s,s:s,s:f,s:f}", "Name", col(st, 0), "Arn", arn, "CreationTime",
                          epoch_s(sqlite3_column_int64(st, 2)), "LastModifiedTime",
                          epoch_s(sqlite3_column_int64(st, 3)));
    if (col(st, 1)) json_object_set_new(o, "Description", json_string(col(st, 1)));
    return o;
}

static void op_describe_event_bus(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    char bus[256];
    if (!resolve_bus(ev, call, in, "Name", bus, sizeof bus)) return;
    sqlite3_stmt *st = query(
        ev, "SELECT name, description, created_ms, modified_ms FROM event_buses WHERE name=?1");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, bus, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return sl_json_fail(call, 400, "ResourceNotFoundException", "Event bus %s does not exist.",
                            bus);
    }
    json_t *out = bus_json(ev, st);
    sqlite3_finalize(st);
    sl_json_reply(call, out);
}

/* NextToken is the last name of the previous page. */
static void op_list_event_buses(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *prefix = sl_json_str(in, "NamePrefix");
    const char *token = sl_json_str(in, "NextToken");
    json_int_t limit = json_integer_value(json_object_get(in, "Limit"));
    if (limit <= 0 || limit > 100) limit = 100;
    sqlite3_stmt *st = query(
        ev, "SELECT name, description, created_ms, modified_ms FROM event_buses WHERE name > ?1"
            " AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2) ORDER BY name LIMIT ?3");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, token ? token : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit + 1);
    json_t *list = json_array();
    json_t *out = json_object();
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((json_int_t)json_array_size(list) == limit) {
            json_object_set(out, "NextToken",
                            json_object_get(json_array_get(list, (size_t)limit - 1), "Name"));
            break;
        }
        json_array_append_new(list, bus_json(ev, st));
    }
    sqlite3_finalize(st);
    json_object_set_new(out, "EventBuses", list);
    sl_json_reply(call, out);
}

/* ---- rules ---- */

typedef struct {
    const char *bus, *name, *pattern, *schedule, *state, *description, *role;
    int64_t now;
} rule_args;

static int put_rule_job(sqlite3 *db, void *arg) {
    rule_args *a = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO event_rules (bus, name, pattern, schedule, state, description, role_arn,"
            " created_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT (bus, name) DO UPDATE SET"
            " pattern=?3, schedule=?4, state=?5, description=?6, role_arn=?7",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->bus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->pattern, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->schedule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, a->role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, a->now);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void op_put_rule(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    if (!name_ok(name, 64)) return invalid_name(call, "name", name);
    char bus[256];
    if (!resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    const char *pattern = sl_json_str(in, "EventPattern");
    const char *schedule = sl_json_str(in, "ScheduleExpression");
    const char *state = sl_json_str(in, "State");
    if (!pattern && !schedule)
        return sl_json_fail(call, 400, "ValidationException",
                            "Parameter(s) EventPattern or ScheduleExpression must be specified.");
    if (state && strcmp(state, "ENABLED") && strcmp(state, "DISABLED"))
        return sl_json_fail(call, 400, "ValidationException",
                            "1 validation error detected: Value '%s' at 'state' failed to satisfy "
                            "constraint: Member "
                            "must satisfy enum value set: [ENABLED, DISABLED]",
                            state);
    char err[512];
    if (pattern) {
        sl_pattern *p = sl_pattern_compile(pattern, strlen(pattern), err, sizeof err);
        if (!p) return sl_json_fail(call, 400, "InvalidEventPatternException", "%s", err);
        sl_pattern_free(p);
    }
    if (schedule) {
        if (strcmp(bus, "default") != 0)
            return sl_json_fail(call, 400, "ValidationException",
                                "ScheduleExpression is supported only on the default event bus.");
        sl_schedule *sched = sl_schedule_parse(schedule, err, sizeof err);
        if (!sched) return sl_json_fail(call, 400, "ValidationException", "%s", err);
        sl_schedule_free(sched);
    }
    rule_args a = {bus,
                   name,
                   pattern,
                   schedule,
                   state ? state : "ENABLED",
                   sl_json_str(in, "Description"),
                   sl_json_str(in, "RoleArn"),
                   sl_now_ms()};
    if (sl_store_write(ev->store, put_rule_job, &a) != 0) return internal(call);
    ev_catalog_reload_bus(ev, bus);
    char arn[512];
    ev_rule_arn(ev, bus, name, arn, sizeof arn);
    sl_json_reply(call, json_pack("{s:s}", "RuleArn", arn));
}

static json_t *rule_json(sl_events *ev, sqlite3_stmt *st) {
    /* columns: bus, name, pattern, schedule, state, description, role_arn */
    char arn[512];
    ev_rule_arn(ev, col(st, 0), col(st, 1), arn, sizeof arn);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "Name", col(st, 1), "Arn", arn, "State", col(st, 4),
                          "EventBusName", col(st, 0));
    if (col(st, 2)) json_object_set_new(o, "EventPattern", json_string(col(st, 2)));
    if (col(st, 3)) json_object_set_new(o, "ScheduleExpression", json_string(col(st, 3)));
    if (col(st, 5)) json_object_set_new(o, "Description", json_string(col(st, 5)));
    if (col(st, 6)) json_object_set_new(o, "RoleArn", json_string(col(st, 6)));
    return o;
}

#define RULE_COLUMNS "bus, name, pattern, schedule, state, description, role_arn"

static void rule_not_found(sl_json_call *call, const char *name, const char *bus) {
    sl_json_fail(call, 400, "ResourceNotFoundException", "Rule %s does not exist on EventBus %s.",
                 name, bus);
}

static bool rule_exists(sl_events *ev, const char *bus, const char *name) {
    sqlite3_stmt *st = query(ev, "SELECT 1 FROM event_rules WHERE bus=?1 AND name=?2");
    if (!st) return false;
    sqlite3_bind_text(st, 1, bus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static void op_describe_rule(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    char bus[256];
    if (!name || !resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    sqlite3_stmt *st =
        query(ev, "SELECT " RULE_COLUMNS " FROM event_rules WHERE bus=?1 AND name=?2");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, bus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rule_not_found(call, name, bus);
    }
    json_t *out = rule_json(ev, st);
    json_object_set_new(out, "CreatedBy", json_string(ev->cfg->account_id));
    sqlite3_finalize(st);
    sl_json_reply(call, out);
}

static void op_list_rules(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    char bus[256];
    if (!resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    const char *prefix = sl_json_str(in, "NamePrefix");
    const char *token = sl_json_str(in, "NextToken");
    json_int_t limit = json_integer_value(json_object_get(in, "Limit"));
    if (limit <= 0 || limit > 100) limit = 100;
    sqlite3_stmt *st =
        query(ev, "SELECT " RULE_COLUMNS " FROM event_rules WHERE bus=?1 AND name > ?2 AND"
                  " (?3 IS NULL OR substr(name, 1, length(?3)) = ?3) ORDER BY name LIMIT ?4");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, bus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, token ? token : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, limit + 1);
    json_t *rules = json_array(), *out = json_object();
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((json_int_t)json_array_size(rules) == limit) {
            json_object_set(out, "NextToken",
                            json_object_get(json_array_get(rules, (size_t)limit - 1), "Name"));
            break;
        }
        json_array_append_new(rules, rule_json(ev, st));
    }
    sqlite3_finalize(st);
    json_object_set_new(out, "Rules", rules);
    sl_json_reply(call, out);
}

static void set_rule_state(sl_events *ev, sl_json_call *call, json_t *in, const char *state) {
    const char *name = sl_json_str_req(call, in, "Name");
    char bus[256];
    if (!name || !resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    sl_store_stmt_job a = {.sql = "UPDATE event_rules SET state=?3 WHERE bus=?1 AND name=?2",
                           .args = {bus, name, state},
                           .nargs = 3};
    if (sl_store_write(ev->store, sl_store_exec_job, &a) != 0) return internal(call);
    if (!a.changes) return rule_not_found(call, name, bus);
    ev_catalog_reload_bus(ev, bus);
    sl_json_reply(call, NULL);
}

static void op_enable_rule(void *svc, sl_json_call *call, json_t *in) {
    set_rule_state(svc, call, in, "ENABLED");
}
static void op_disable_rule(void *svc, sl_json_call *call, json_t *in) {
    set_rule_state(svc, call, in, "DISABLED");
}

typedef struct {
    const char *bus, *name;
    bool force;
    int result; /* 0 deleted, 1 absent, 2 has targets */
} delete_rule_args;

static int delete_rule_job(sqlite3 *db, void *arg) {
    delete_rule_args *a = arg;
    sqlite3_stmt *st = NULL;
    if (!a->force) {
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM event_targets WHERE bus=?1 AND rule=?2 LIMIT 1",
                               -1, &st, NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_text(st, 1, a->bus, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
        bool has = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (has) {
            a->result = 2;
            return 0;
        }
    }
    static const char *const sqls[] = {"DELETE FROM event_targets WHERE bus=?1 AND rule=?2",
                                       "DELETE FROM event_rules WHERE bus=?1 AND name=?2"};
    for (int i = 0; i < 2; i++) {
        if (sqlite3_prepare_v2(db, sqls[i], -1, &st, NULL) != SQLITE_OK) return -1;
        sqlite3_bind_text(st, 1, a->bus, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return -1;
    }
    a->result = sqlite3_changes(db) ? 0 : 1;
    return 0;
}

static void op_delete_rule(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    char bus[256];
    if (!name || !resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    delete_rule_args a = {bus, name, json_is_true(json_object_get(in, "Force")), 0};
    if (sl_store_write(ev->store, delete_rule_job, &a) != 0) return internal(call);
    if (a.result == 2)
        return sl_json_fail(call, 400, "ValidationException",
                            "Rule can't be deleted since it has targets.");
    ev_catalog_reload_bus(ev, bus);
    sl_json_reply(call, NULL); /* deleting an absent rule succeeds, as on AWS */
}

/* ---- targets ---- */

typedef struct {
    const char *bus, *rule;
    json_t *targets; /* accepted targets */
    int existing;
} put_targets_args;

static int put_targets_job(sqlite3 *db, void *arg) {
    put_targets_args *a = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO event_targets (bus, rule, id, arn, spec) VALUES (?1,?2,?3,?4,?5)"
            " ON CONFLICT (bus, rule, id) DO UPDATE SET arn=?4, spec=?5",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    size_t i;
    json_t *t;
    json_array_foreach(a->targets, i, t) {
        char *spec = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, a->bus, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, a->rule, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json_string_value(json_object_get(t, "Id")), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, json_string_value(json_object_get(t, "Arn")), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, spec, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        free(spec);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM event_targets WHERE bus=?1 AND rule=?2", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->bus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->rule, -1, SQLITE_STATIC);
    int count = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return count > MAX_TARGETS_PER_RULE ? 1 : 0; /* too many: roll back */
}

static void op_put_targets(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *rule = sl_json_str_req(call, in, "Rule");
    char bus[256];
    if (!rule || !resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    json_t *targets = json_object_get(in, "Targets");
    if (!json_is_array(targets) || json_array_size(targets) == 0 || json_array_size(targets) > 10)
        return sl_json_fail(
            call, 400, "ValidationException",
            "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member "
            "must have length less than or equal to 10 and greater than or equal to 1");
    if (!rule_exists(ev, bus, rule)) return rule_not_found(call, rule, bus);
    json_t *failed = json_array();
    put_targets_args a = {bus, rule, json_array(), 0};
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t) {
        const char *id = json_string_value(json_object_get(t, "Id"));
        const char *arn = json_string_value(json_object_get(t, "Arn"));
        char err[300];
        if (!id || !arn) {
            json_array_append_new(failed, json_pack("{s:s?,s:s,s:s}", "TargetId", id, "ErrorCode",
                                                    "ValidationException", "ErrorMessage",
                                                    "Targets need an Id and an Arn."));
            continue;
        }
        if (!name_ok(id, 64)) {
            json_array_append_new(failed, json_pack("{s:s,s:s,s:s}", "TargetId", id, "ErrorCode",
                                                    "ValidationException", "ErrorMessage",
                                                    "Target Id is not valid."));
            continue;
        }
        if (!ev_target_supported(arn, err, sizeof err) || !ev_transform_valid(t, err, sizeof err)) {
            json_array_append_new(failed, json_pack("{s:s,s:s,s:s}", "TargetId", id, "ErrorCode",
                                                    "ValidationException", "ErrorMessage", err));
            continue;
        }
        json_array_append(a.targets, t);
    }
    int rc = json_array_size(a.targets) ? sl_store_write(ev->store, put_targets_job, &a) : 0;
    json_decref(a.targets);
    if (rc == 1) {
        json_decref(failed);
        return sl_json_fail(
            call, 400, "LimitExceededException",
            "The requested resource exceeds the maximum number allowed (%d targets per rule).",
            MAX_TARGETS_PER_RULE);
    }
    if (rc != 0) {
        json_decref(failed);
        return internal(call);
    }
    sl_json_reply(call, json_pack("{s:i,s:o}", "FailedEntryCount", (int)json_array_size(failed),
                                  "FailedEntries", failed));
}

static void op_remove_targets(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *rule = sl_json_str_req(call, in, "Rule");
    char bus[256];
    if (!rule || !resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    if (!rule_exists(ev, bus, rule)) return rule_not_found(call, rule, bus);
    json_t *ids = json_object_get(in, "Ids");
    if (!json_is_array(ids) || !json_array_size(ids))
        return sl_json_fail(call, 400, "ValidationException", "Ids must list 1 to 100 target ids.");
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        sl_store_stmt_job a = {.sql =
                                   "DELETE FROM event_targets WHERE bus=?1 AND rule=?2 AND id=?3",
                               .args = {bus, rule, json_string_value(id)},
                               .nargs = 3};
        if (!json_is_string(id) || sl_store_write(ev->store, sl_store_exec_job, &a) != 0)
            return internal(call);
    }
    sl_json_reply(call, json_pack("{s:i,s:[]}", "FailedEntryCount", 0, "FailedEntries"));
}

static void op_list_targets_by_rule(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *rule = sl_json_str_req(call, in, "Rule");
    char bus[256];
    if (!rule || !resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    if (!rule_exists(ev, bus, rule)) return rule_not_found(call, rule, bus);
    sqlite3_stmt *st =
        query(ev, "SELECT spec FROM event_targets WHERE bus=?1 AND rule=?2 ORDER BY id");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, bus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rule, -1, SQLITE_STATIC);
    json_t *list = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *t = json_loads(col(st, 0), 0, NULL);
        if (t) json_array_append_new(list, t);
    }
    sqlite3_finalize(st);
    sl_json_reply(call, json_pack("{s:o}", "Targets", list));
}

static void op_list_rule_names_by_target(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *arn = sl_json_str_req(call, in, "TargetArn");
    char bus[256];
    if (!arn || !resolve_bus(ev, call, in, "EventBusName", bus, sizeof bus)) return;
    sqlite3_stmt *st =
        query(ev, "SELECT DISTINCT rule FROM event_targets WHERE bus=?1 AND arn=?2 ORDER BY rule");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, bus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, arn, -1, SQLITE_STATIC);
    json_t *names = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) json_array_append_new(names, json_string(col(st, 0)));
    sqlite3_finalize(st);
    sl_json_reply(call, json_pack("{s:o}", "RuleNames", names));
}

/* ---- PutEvents and TestEventPattern ---- */

typedef struct {
    sl_events *ev;
    json_t *routes; /* [[bus, event], ...] */
} put_events_args;

static int put_events_job(sqlite3 *db, void *arg) {
    put_events_args *a = arg;
    size_t i;
    json_t *r;
    json_array_foreach(a->routes, i, r) {
        if (ev_route(a->ev, db, json_string_value(json_array_get(r, 0)), json_array_get(r, 1)) < 0)
            return -1;
    }
    return 0;
}

static json_t *entry_error(const char *code, const char *fmt, const char *arg) {
    char msg[300];
    snprintf(msg, sizeof msg, fmt, arg);
    return json_pack("{s:s,s:s}", "ErrorCode", code, "ErrorMessage", msg);
}

static void op_put_events(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    json_t *entries = json_object_get(in, "Entries");
    if (!json_is_array(entries) || json_array_size(entries) < 1 || json_array_size(entries) > 10)
        return sl_json_fail(call, 400, "ValidationException",
                            "1 validation error detected: Value at 'entries' failed to satisfy "
                            "constraint: Member must "
                            "have length less than or equal to 10 and greater than or equal to 1");
    if (call->req->body.len > PUT_EVENTS_MAX_BYTES + 1024)
        return sl_json_fail(call, 400, "ValidationException",
                            "Total size of the entries in the request is over the limit.");
    json_t *results = json_array();
    put_events_args a = {ev, json_array()};
    int failed = 0;
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        const char *source = sl_json_str(e, "Source");
        const char *dt = sl_json_str(e, "DetailType");
        const char *detail = sl_json_str(e, "Detail");
        json_t *err = NULL;
        char bus[256];
        json_t *detail_json = NULL;
        if (!source)
            err = entry_error("InvalidArgument",
                              "Parameter %s is not valid. Reason: Source is a required argument.",
                              "Source");
        else if (!dt)
            err =
                entry_error("InvalidArgument",
                            "Parameter %s is not valid. Reason: DetailType is a required argument.",
                            "DetailType");
        else if (!detail)
            err = entry_error("InvalidArgument",
                              "Parameter %s is not valid. Reason: Detail is a required argument.",
                              "Detail");
        else if (!(detail_json = json_loads(detail, 0, NULL)) || !json_is_object(detail_json))
            err = entry_error("MalformedDetail", "%s", "Detail is malformed.");
        else if (!strncmp(source, "aws.", 4))
            err = entry_error("NotAuthorizedForSourceException",
                              "Not authorized for the source %s.", source);
        else if (!ev_bus_name(sl_json_str(e, "EventBusName"), bus, sizeof bus) ||
                 !ev_bus_exists(ev, bus))
            err = entry_error("InvalidArgument", "Event bus %s does not exist.",
                              sl_json_str(e, "EventBusName") ? sl_json_str(e, "EventBusName")
                                                             : "default");
        if (err) {
            json_decref(detail_json);
            json_array_append_new(results, err);
            failed++;
            continue;
        }
        json_t *time = json_object_get(e, "Time");
        int64_t ms = sl_now_ms();
        if (json_is_number(time)) ms = (int64_t)(json_number_value(time) * 1000.0);
        else if (json_is_string(time) && sl_time_parse(json_string_value(time)) >= 0)
            ms = sl_time_parse(json_string_value(time));
        json_t *resources = json_object_get(e, "Resources");
        json_t *event = ev_envelope(
            ev, source, dt, ms, json_is_array(resources) ? json_deep_copy(resources) : json_array(),
            detail_json);
        json_array_append_new(results, json_pack("{s:O}", "EventId", json_object_get(event, "id")));
        json_array_append_new(a.routes, json_pack("[s,o]", bus, event));
    }
    if (json_array_size(a.routes) && sl_store_write(ev->store, put_events_job, &a) != 0) {
        json_decref(a.routes);
        json_decref(results);
        return internal(call);
    }
    json_decref(a.routes);
    sl_json_reply(call, json_pack("{s:i,s:o}", "FailedEntryCount", failed, "Entries", results));
}

static void op_test_event_pattern(void *svc, sl_json_call *call, json_t *in) {
    (void)svc;
    const char *pattern = sl_json_str_req(call, in, "EventPattern");
    if (!pattern) return;
    const char *event = sl_json_str_req(call, in, "Event");
    if (!event) return;
    char err[512];
    sl_pattern *p = sl_pattern_compile(pattern, strlen(pattern), err, sizeof err);
    if (!p) return sl_json_fail(call, 400, "InvalidEventPatternException", "%s", err);
    json_t *e = json_loads(event, 0, NULL);
    static const char *const required[] = {"id",     "account",     "source", "time",
                                           "region", "detail-type", NULL};
    const char *missing = NULL;
    for (int i = 0; e && required[i] && !missing; i++)
        if (!json_object_get(e, required[i])) missing = required[i];
    if (!e || !json_is_object(e) || missing) {
        sl_pattern_free(p);
        json_decref(e);
        if (missing)
            return sl_json_fail(call, 400, "ValidationException",
                                "Parameter Event is not valid: the field '%s' is missing.",
                                missing);
        return sl_json_fail(call, 400, "ValidationException", "Parameter Event is not valid.");
    }
    bool result = sl_pattern_match(p, e);
    sl_pattern_free(p);
    json_decref(e);
    sl_json_reply(call, json_pack("{s:b}", "Result", result));
}

/* ---- named resources (connections, API destinations) ---- */

static void resource_arn(sl_events *ev, const char *kind, const char *name, char *out, size_t n) {
    char uuid[37];
    sl_id_uuid(uuid);
    snprintf(out, n, "arn:aws:events:%s:%s:%s/%s/%s", ev->cfg->region, ev->cfg->account_id, kind,
             name, uuid);
}

static json_t *load_named(sl_events *ev, const char *table, const char *name, int64_t *created,
                          int64_t *modified) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT spec, created_ms, modified_ms FROM %s WHERE name=?1", table);
    sqlite3_stmt *st = query(ev, sql);
    json_t *spec = NULL;
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        spec = json_loads(col(st, 0), 0, NULL);
        if (created) *created = sqlite3_column_int64(st, 1);
        if (modified) *modified = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return spec;
}

static int insert_named(sl_events *ev, const char *table, const char *name, json_t *spec) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (name, spec, created_ms, modified_ms) VALUES (?1, ?2, ?3, ?3)", table);
    char *text = json_dumps(spec, JSON_COMPACT);
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)sl_now_ms());
    sl_store_stmt_job a = {.sql = sql, .args = {name, text, now}, .nargs = 3};
    int rc = sl_store_write(ev->store, sl_store_exec_job, &a);
    free(text);
    return rc;
}

/* ---- connections ---- */

#define CONNECTION_TYPES "[BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]"

static bool connection_type_ok(const char *type) {
    return !strcmp(type, "API_KEY") || !strcmp(type, "BASIC") ||
           !strcmp(type, "OAUTH_CLIENT_CREDENTIALS");
}

/* AuthHeaderParameters (credentials that travel in a header): 1-512 characters, no control
 * characters other than tab, no ':' (botocore's pattern). The value is never echoed. */
static bool header_param_ok(sl_json_call *call, const char *value, const char *where) {
    size_t n = value ? strlen(value) : 0;
    bool ok = n >= 1 && n <= 512;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char ch = (unsigned char)value[i];
        ok = !((ch < 0x20 && ch != '\t') || ch == 0x7f || ch == ':');
    }
    if (!ok)
        sl_json_fail(call, 400, "ValidationException",
                     "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                     "Member must have length between 1 and 512 and contain no control characters "
                     "or ':'",
                     where);
    return ok;
}

/* ConnectionHttpParameters: up to 100 each of header, query string and body parameters with a
 * Key and a Value; header keys are tokens and header values printable, so nothing can be
 * smuggled into a request. */
static bool http_params_ok(sl_json_call *call, const json_t *p, const char *where) {
    if (!p) return true;
    static const char *const lists[] = {"HeaderParameters", "QueryStringParameters",
                                        "BodyParameters"};
    if (!json_is_object(p)) {
        sl_json_fail(call, 400, "ValidationException", "%s must be an object.", where);
        return false;
    }
    for (int l = 0; l < 3; l++) {
        json_t *list = json_object_get(p, lists[l]);
        if (!list) continue;
        if (!json_is_array(list) || json_array_size(list) > 100) {
            sl_json_fail(call, 400, "ValidationException",
                         "%s.%s must be a list of at most 100 parameters.", where, lists[l]);
            return false;
        }
        size_t i;
        json_t *kv;
        json_array_foreach(list, i, kv) {
            const char *k = json_string_value(json_object_get(kv, "Key"));
            const char *v = json_string_value(json_object_get(kv, "Value"));
            json_t *secret = json_object_get(kv, "IsValueSecret");
            bool ok = k && v && strlen(k) <= 512 && (l == 2 || strlen(v) <= 512) &&
                      (!secret || json_is_boolean(secret));
            for (const char *c = k; ok && *c; c++)
                ok = l == 0 ? (strchr("!#$%&'*+-.^_`|~", *c) || (*c >= '0' && *c <= '9') ||
                               (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))
                            : !((unsigned char)*c < 0x20 || *c == 0x7f);
            for (const char *c = v; ok && l == 0 && *c; c++)
                ok = (unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f;
            if (!ok) {
                sl_json_fail(call, 400, "ValidationException",
                             "%s.%s[%zu] needs a valid Key and Value.", where, lists[l], i);
                return false;
            }
        }
    }
    return true;
}

/* Checks AuthParameters for the authorization type, after answering the error when not. */
/* An API key or Basic pair: both members present, each fit to travel in a header. */
static bool credential_pair_ok(sl_json_call *call, json_t *auth, const char *group,
                               const char *first, const char *second) {
    json_t *g = json_object_get(auth, group);
    if (!sl_json_str(g, first) || !sl_json_str(g, second)) {
        sl_json_fail(call, 400, "ValidationException", "%s needs %s and %s.", group, first, second);
        return false;
    }
    const char *members[2] = {first, second};
    for (int i = 0; i < 2; i++) {
        /* the path as AWS's validation messages spell it: authParameters.basicAuthParameters... */
        char where[160];
        snprintf(where, sizeof where, "authParameters.%c%s.%c%s", (char)(group[0] - 'A' + 'a'),
                 group + 1, (char)(members[i][0] - 'A' + 'a'), members[i] + 1);
        if (!header_param_ok(call, sl_json_str(g, members[i]), where)) return false;
    }
    return true;
}

static bool auth_ok(sl_json_call *call, const char *type, json_t *auth) {
    if (!json_is_object(auth)) {
        sl_json_fail(call, 400, "ValidationException", "AuthParameters must be provided.");
        return false;
    }
    if (!strcmp(type, "API_KEY")) {
        if (!credential_pair_ok(call, auth, "ApiKeyAuthParameters", "ApiKeyName", "ApiKeyValue"))
            return false;
    } else if (!strcmp(type, "BASIC")) {
        if (!credential_pair_ok(call, auth, "BasicAuthParameters", "Username", "Password"))
            return false;
    } else {
        json_t *o = json_object_get(auth, "OAuthParameters");
        json_t *cp = json_object_get(o, "ClientParameters");
        const char *endpoint = sl_json_str(o, "AuthorizationEndpoint");
        const char *method = sl_json_str(o, "HttpMethod");
        if (!endpoint || !method || !sl_json_str(cp, "ClientID") ||
            !sl_json_str(cp, "ClientSecret")) {
            sl_json_fail(call, 400, "ValidationException",
                         "OAuthParameters needs AuthorizationEndpoint, HttpMethod and "
                         "ClientParameters (ClientID, ClientSecret).");
            return false;
        }
        if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT")) {
            sl_json_fail(call, 400, "ValidationException",
                         "1 validation error detected: Value '%.32s' at "
                         "'authParameters.oAuthParameters.httpMethod' failed to satisfy "
                         "constraint: Member must satisfy enum value set: [GET, POST, PUT]",
                         method);
            return false;
        }
        /* AWS demands https; a local pipeline's token server is often plain http. */
        bool scheme = !strncmp(endpoint, "https://", 8) || !strncmp(endpoint, "http://", 7);
        bool clean = strlen(endpoint) <= 2048;
        for (const char *c = endpoint; clean && *c; c++)
            clean = (unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f;
        if (!scheme || !clean) {
            sl_json_fail(call, 400, "ValidationException",
                         "AuthorizationEndpoint must be an http(s) URL of at most 2048 "
                         "characters.");
            return false;
        }
        if (!header_param_ok(call, sl_json_str(cp, "ClientID"),
                             "authParameters.oAuthParameters.clientParameters.clientID") ||
            !header_param_ok(call, sl_json_str(cp, "ClientSecret"),
                             "authParameters.oAuthParameters.clientParameters.clientSecret") ||
            !http_params_ok(call, json_object_get(o, "OAuthHttpParameters"),
                            "OAuthParameters.OAuthHttpParameters"))
            return false;
    }
    return http_params_ok(call, json_object_get(auth, "InvocationHttpParameters"),
                          "AuthParameters.InvocationHttpParameters");
}

static const char *connection_state(const json_t *spec) {
    const char *s = json_string_value(json_object_get(spec, "ConnectionState"));
    return s ? s : "AUTHORIZED"; /* connections saved before states were kept */
}

/* Sets the state an authorization type starts in: OAuth connections wait for their token. */
static void set_initial_state(json_t *spec, const char *type, int64_t now) {
    json_object_del(spec, "StateReason");
    if (!strcmp(type, "OAUTH_CLIENT_CREDENTIALS")) {
        json_object_set_new(spec, "ConnectionState", json_string("AUTHORIZING"));
    } else {
        json_object_set_new(spec, "ConnectionState", json_string("AUTHORIZED"));
        json_object_set_new(spec, "LastAuthorizedMs", json_integer(now));
    }
}

static void op_create_connection(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    const char *type = sl_json_str_req(call, in, "AuthorizationType");
    if (!type) return;
    if (!name_ok(name, 64)) return invalid_name(call, "name", name);
    if (!connection_type_ok(type))
        return sl_json_fail(
            call, 400, "ValidationException",
            "1 validation error detected: Value '%.64s' at 'authorizationType' failed to satisfy "
            "constraint: Member must satisfy enum value set: " CONNECTION_TYPES,
            type);
    json_t *auth = json_object_get(in, "AuthParameters");
    if (!auth_ok(call, type, auth)) return;
    char arn[512];
    resource_arn(ev, "connection", name, arn, sizeof arn);
    int64_t now = sl_now_ms();
    json_t *spec = json_pack("{s:s,s:s,s:s,s:O}", "Name", name, "ConnectionArn", arn,
                             "AuthorizationType", type, "AuthParameters", auth);
    if (sl_json_str(in, "Description"))
        json_object_set(spec, "Description", json_object_get(in, "Description"));
    set_initial_state(spec, type, now);
    int rc = insert_named(ev, "event_connections", name, spec);
    json_decref(spec);
    if (rc == 1)
        return sl_json_fail(call, 400, "ResourceAlreadyExistsException",
                            "Connection %s already exists.", name);
    if (rc != 0) return internal(call);
    bool oauth = !strcmp(type, "OAUTH_CLIENT_CREDENTIALS");
    if (oauth) ev_oauth_request_authorization(ev);
    sl_json_reply(call, json_pack("{s:s,s:s,s:f,s:f}", "ConnectionArn", arn, "ConnectionState",
                                  oauth ? "AUTHORIZING" : "AUTHORIZED", "CreationTime",
                                  epoch_s(now), "LastModifiedTime", epoch_s(now)));
}

/* ConnectionHttpParameters as Describe shows them: values marked secret are left out. */
static json_t *public_http(const json_t *p) {
    json_t *out = json_object();
    static const char *const lists[] = {"HeaderParameters", "QueryStringParameters",
                                        "BodyParameters"};
    for (int l = 0; l < 3; l++) {
        json_t *list = json_object_get(p, lists[l]);
        if (!json_is_array(list)) continue;
        json_t *copy = json_array();
        size_t i;
        json_t *kv;
        json_array_foreach(list, i, kv) {
            bool secret = json_is_true(json_object_get(kv, "IsValueSecret"));
            json_t *e =
                json_pack("{s:O,s:b}", "Key", json_object_get(kv, "Key"), "IsValueSecret", secret);
            if (!secret && json_object_get(kv, "Value"))
                json_object_set(e, "Value", json_object_get(kv, "Value"));
            json_array_append_new(copy, e);
        }
        json_object_set_new(out, lists[l], copy);
    }
    return out;
}

/* The secret parts of a connection are never returned. */
static json_t *public_auth(const json_t *auth) {
    json_t *out = json_object();
    json_t *k = json_object_get(auth, "ApiKeyAuthParameters");
    if (k)
        json_object_set_new(out, "ApiKeyAuthParameters",
                            json_pack("{s:O}", "ApiKeyName", json_object_get(k, "ApiKeyName")));
    json_t *b = json_object_get(auth, "BasicAuthParameters");
    if (b)
        json_object_set_new(out, "BasicAuthParameters",
                            json_pack("{s:O}", "Username", json_object_get(b, "Username")));
    json_t *o = json_object_get(auth, "OAuthParameters");
    if (o) {
        json_t *po = json_pack("{s:{s:O},s:O,s:O}", "ClientParameters", "ClientID",
                               json_object_get(json_object_get(o, "ClientParameters"), "ClientID"),
                               "AuthorizationEndpoint", json_object_get(o, "AuthorizationEndpoint"),
                               "HttpMethod", json_object_get(o, "HttpMethod"));
        if (json_object_get(o, "OAuthHttpParameters"))
            json_object_set_new(po, "OAuthHttpParameters",
                                public_http(json_object_get(o, "OAuthHttpParameters")));
        json_object_set_new(out, "OAuthParameters", po);
    }
    json_t *inv = json_object_get(auth, "InvocationHttpParameters");
    if (inv) json_object_set_new(out, "InvocationHttpParameters", public_http(inv));
    return out;
}

/* The state fields every connection answer carries (Create/Update/Deauthorize/Delete and
 * the list entries), with state overriding the stored one when given. */
static json_t *connection_summary(const json_t *spec, int64_t created, int64_t modified,
                                  const char *state) {
    json_t *o =
        json_pack("{s:O,s:s,s:f,s:f}", "ConnectionArn", json_object_get(spec, "ConnectionArn"),
                  "ConnectionState", state ? state : connection_state(spec), "CreationTime",
                  epoch_s(created), "LastModifiedTime", epoch_s(modified));
    json_t *authorized = json_object_get(spec, "LastAuthorizedMs");
    if (json_is_integer(authorized))
        json_object_set_new(o, "LastAuthorizedTime",
                            json_real(epoch_s(json_integer_value(authorized))));
    else if (!json_object_get(spec, "ConnectionState")) /* saved before states were kept */
        json_object_set_new(o, "LastAuthorizedTime", json_real(epoch_s(created)));
    return o;
}

static json_t *connection_json(json_t *spec, int64_t created, int64_t modified, bool full) {
    json_t *o = connection_summary(spec, created, modified, NULL);
    json_object_set(o, "Name", json_object_get(spec, "Name"));
    json_object_set(o, "AuthorizationType", json_object_get(spec, "AuthorizationType"));
    if (json_object_get(spec, "StateReason"))
        json_object_set(o, "StateReason", json_object_get(spec, "StateReason"));
    if (full) {
        json_object_set_new(o, "AuthParameters",
                            public_auth(json_object_get(spec, "AuthParameters")));
        if (json_object_get(spec, "Description"))
            json_object_set(o, "Description", json_object_get(spec, "Description"));
    }
    return o;
}

static void connection_not_found(sl_json_call *call, const char *name) {
    sl_json_fail(call, 400, "ResourceNotFoundException", "Connection '%s' does not exist.", name);
}

static void op_describe_connection(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    int64_t c = 0, m = 0;
    json_t *spec = load_named(ev, "event_connections", name, &c, &m);
    if (!spec)
        return sl_json_fail(call, 400, "ResourceNotFoundException",
                            "Failed to describe the connection(s). Connection '%s' does not exist.",
                            name);
    json_t *out = connection_json(spec, c, m, true);
    json_decref(spec);
    sl_json_reply(call, out);
}

static void list_named(sl_events *ev, sl_json_call *call, const char *table, const char *key,
                       json_t *(*render)(json_t *spec, int64_t c, int64_t m, bool full)) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT spec, created_ms, modified_ms FROM %s ORDER BY name", table);
    sqlite3_stmt *st = query(ev, sql);
    if (!st) return internal(call);
    json_t *list = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *spec = json_loads(col(st, 0), 0, NULL);
        if (!spec) continue;
        json_array_append_new(
            list, render(spec, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), false));
        json_decref(spec);
    }
    sqlite3_finalize(st);
    sl_json_reply(call, json_pack("{s:o}", key, list));
}

/* NamePrefix, ConnectionState, Limit; NextToken is the last name of the previous page. */
static void op_list_connections(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *prefix = sl_json_str(in, "NamePrefix");
    const char *state = sl_json_str(in, "ConnectionState");
    const char *token = sl_json_str(in, "NextToken");
    json_int_t limit = json_integer_value(json_object_get(in, "Limit"));
    if (limit <= 0 || limit > 100) limit = 100;
    sqlite3_stmt *st = query(
        ev, "SELECT spec, created_ms, modified_ms, name FROM event_connections WHERE name > ?1"
            " AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2)"
            " AND (?3 IS NULL OR coalesce(json_extract(spec, '$.ConnectionState'), 'AUTHORIZED')"
            " = ?3) ORDER BY name LIMIT ?4");
    if (!st) return internal(call);
    sqlite3_bind_text(st, 1, token ? token : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, limit + 1);
    json_t *list = json_array(), *out = json_object();
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((json_int_t)json_array_size(list) == limit) {
            json_object_set(out, "NextToken",
                            json_object_get(json_array_get(list, (size_t)limit - 1), "Name"));
            break;
        }
        json_t *spec = json_loads(col(st, 0), 0, NULL);
        if (!spec) continue;
        json_array_append_new(list, connection_json(spec, sqlite3_column_int64(st, 1),
                                                    sqlite3_column_int64(st, 2), false));
        json_decref(spec);
    }
    sqlite3_finalize(st);
    json_object_set_new(out, "Connections", list);
    sl_json_reply(call, out);
}

/* Rewrites a connection's spec; modified_ms moves forward (never equal to the previous one:
 * it is the version OAuth tokens are kept against). */
static int save_connection(sl_events *ev, const char *name, json_t *spec, int64_t *modified) {
    int64_t now = sl_now_ms();
    *modified = now > *modified ? now : *modified + 1;
    char *text = json_dumps(spec, JSON_COMPACT);
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)*modified);
    sl_store_stmt_job a = {.sql =
                               "UPDATE event_connections SET spec=?2, modified_ms=?3 WHERE name=?1",
                           .args = {name, text, ms},
                           .nargs = 3};
    int rc = sl_store_write(ev->store, sl_store_exec_job, &a);
    free(text);
    return rc != 0 ? -1 : a.changes ? 0 : 1;
}

/* UpdateConnection's merge: given members replace stored ones, the client credentials member
 * by member; changing the authorization type drops the old type's parameters. */
static json_t *merged_auth(const json_t *stored, const json_t *given, bool type_changed) {
    json_t *auth = json_deep_copy(stored);
    if (!json_is_object(auth)) {
        json_decref(auth);
        auth = json_object();
    }
    if (type_changed) {
        json_object_del(auth, "ApiKeyAuthParameters");
        json_object_del(auth, "BasicAuthParameters");
        json_object_del(auth, "OAuthParameters");
    }
    static const char *const flat[] = {"ApiKeyAuthParameters", "BasicAuthParameters"};
    for (int i = 0; i < 2; i++) {
        json_t *g = json_object_get(given, flat[i]);
        if (!json_is_object(g)) continue;
        json_t *cur = json_object_get(auth, flat[i]);
        if (!json_is_object(cur)) json_object_set_new(auth, flat[i], json_deep_copy(g));
        else json_object_update(cur, g);
    }
    json_t *go = json_object_get(given, "OAuthParameters");
    if (json_is_object(go)) {
        json_t *cur = json_object_get(auth, "OAuthParameters");
        if (!json_is_object(cur)) {
            cur = json_object();
            json_object_set_new(auth, "OAuthParameters", cur);
        }
        const char *k;
        json_t *v;
        json_object_foreach(go, k, v) {
            json_t *have = json_object_get(cur, k);
            if (!strcmp(k, "ClientParameters") && json_is_object(have) && json_is_object(v))
                json_object_update(have, v);
            else json_object_set(cur, k, v);
        }
    }
    json_t *inv = json_object_get(given, "InvocationHttpParameters");
    if (inv) json_object_set(auth, "InvocationHttpParameters", inv);
    return auth;
}

/* Stores a changed connection (spec is consumed) and answers its summary, with answer_state
 * as the state when given; a connection left AUTHORIZING is authorized next. */
static void save_and_reply(sl_events *ev, sl_json_call *call, const char *name, json_t *spec,
                           int64_t created, int64_t modified, const char *answer_state) {
    int rc = save_connection(ev, name, spec, &modified);
    if (rc != 0) {
        json_decref(spec);
        return rc == 1 ? connection_not_found(call, name) : internal(call);
    }
    if (!strcmp(connection_state(spec), "AUTHORIZING")) ev_oauth_request_authorization(ev);
    json_t *out = connection_summary(spec, created, modified, answer_state);
    json_decref(spec);
    sl_json_reply(call, out);
}

static void op_update_connection(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    const char *type = sl_json_str(in, "AuthorizationType");
    if (type && !connection_type_ok(type))
        return sl_json_fail(
            call, 400, "ValidationException",
            "1 validation error detected: Value '%.64s' at 'authorizationType' failed to satisfy "
            "constraint: Member must satisfy enum value set: " CONNECTION_TYPES,
            type);
    json_t *given = json_object_get(in, "AuthParameters");
    if (given && !json_is_object(given))
        return sl_json_fail(call, 400, "ValidationException", "AuthParameters must be an object.");
    int64_t created = 0, modified = 0;
    json_t *spec = load_named(ev, "event_connections", name, &created, &modified);
    if (!spec) return connection_not_found(call, name);
    const char *old_type = json_string_value(json_object_get(spec, "AuthorizationType"));
    char type_buf[32];
    snprintf(type_buf, sizeof type_buf, "%s", type ? type : old_type ? old_type : "API_KEY");
    bool type_changed = !old_type || strcmp(type_buf, old_type) != 0;
    type = type_buf; /* the stored string goes when the spec is rewritten */
    json_t *auth = merged_auth(json_object_get(spec, "AuthParameters"), given, type_changed);
    if (!auth_ok(call, type, auth)) {
        json_decref(auth);
        json_decref(spec);
        return;
    }
    json_object_set_new(spec, "AuthorizationType", json_string(type));
    json_object_set_new(spec, "AuthParameters", auth);
    if (json_object_get(in, "Description"))
        json_object_set(spec, "Description", json_object_get(in, "Description"));
    set_initial_state(spec, type, sl_now_ms());
    save_and_reply(ev, call, name, spec, created, modified, NULL);
}

/* DeauthorizeConnection removes the connection's credentials (API key value, password, client
 * secret): it stays DEAUTHORIZED until an UpdateConnection gives them back. Its HTTP parameters
 * stay as they are. */
static void op_deauthorize_connection(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    int64_t created = 0, modified = 0;
    json_t *spec = load_named(ev, "event_connections", name, &created, &modified);
    if (!spec) return connection_not_found(call, name);
    json_t *auth = json_object_get(spec, "AuthParameters");
    json_object_del(json_object_get(auth, "ApiKeyAuthParameters"), "ApiKeyValue");
    json_object_del(json_object_get(auth, "BasicAuthParameters"), "Password");
    json_object_del(json_object_get(json_object_get(auth, "OAuthParameters"), "ClientParameters"),
                    "ClientSecret");
    json_object_set_new(spec, "ConnectionState", json_string("DEAUTHORIZED"));
    json_object_del(spec, "StateReason");
    /* DEAUTHORIZING as AWS answers while it removes the secret; here that is already done. */
    save_and_reply(ev, call, name, spec, created, modified, "DEAUTHORIZING");
}

static void delete_named(sl_events *ev, sl_json_call *call, json_t *in, const char *table,
                         const char *what) {
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE name=?1", table);
    sl_store_stmt_job a = {.sql = sql, .args = {name}, .nargs = 1};
    if (sl_store_write(ev->store, sl_store_exec_job, &a) != 0) return internal(call);
    if (!a.changes)
        return sl_json_fail(call, 400, "ResourceNotFoundException", "%s '%s' does not exist.", what,
                            name);
    sl_json_reply(call, NULL);
}

static void op_delete_connection(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    int64_t created = 0, modified = 0;
    json_t *spec = load_named(ev, "event_connections", name, &created, &modified);
    if (!spec) return connection_not_found(call, name);
    sl_store_stmt_job a = {
        .sql = "DELETE FROM event_connections WHERE name=?1", .args = {name}, .nargs = 1};
    if (sl_store_write(ev->store, sl_store_exec_job, &a) != 0) {
        json_decref(spec);
        return internal(call);
    }
    if (!a.changes) {
        json_decref(spec);
        return connection_not_found(call, name);
    }
    json_t *out = connection_summary(spec, created, modified, "DELETING");
    json_decref(spec);
    sl_json_reply(call, out);
}

/* ---- API destinations ---- */

static void op_create_api_destination(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    const char *conn = sl_json_str_req(call, in, "ConnectionArn");
    if (!conn) return;
    const char *endpoint = sl_json_str_req(call, in, "InvocationEndpoint");
    if (!endpoint) return;
    const char *method = sl_json_str_req(call, in, "HttpMethod");
    if (!method) return;
    if (!name_ok(name, 64)) return invalid_name(call, "name", name);
    static const char *const methods[] = {"POST", "GET",   "HEAD",   "OPTIONS",
                                          "PUT",  "PATCH", "DELETE", NULL};
    bool mok = false;
    for (int i = 0; methods[i]; i++) mok |= !strcmp(method, methods[i]);
    if (!mok)
        return sl_json_fail(call, 400, "ValidationException", "HttpMethod %s is not valid.",
                            method);
    /* AWS demands https; a local pipeline talks to local hosts, so http is allowed too. */
    if (strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0)
        return sl_json_fail(call, 400, "ValidationException",
                            "InvocationEndpoint must be an http(s) URL.");
    const char *cn = strstr(conn, ":connection/");
    char cname[128] = "";
    if (cn) snprintf(cname, sizeof cname, "%.*s", (int)strcspn(cn + 12, "/"), cn + 12);
    json_t *cspec = cname[0] ? load_named(ev, "event_connections", cname, NULL, NULL) : NULL;
    if (!cspec)
        return sl_json_fail(call, 400, "ResourceNotFoundException",
                            "Connection '%s' does not exist.", conn);
    json_decref(cspec);
    json_t *rate = json_object_get(in, "InvocationRateLimitPerSecond");
    if (rate &&
        (!json_is_integer(rate) || json_integer_value(rate) < 1 || json_integer_value(rate) > 300))
        return sl_json_fail(call, 400, "ValidationException",
                            "InvocationRateLimitPerSecond must be between 1 and 300.");
    char arn[512];
    resource_arn(ev, "api-destination", name, arn, sizeof arn);
    json_t *spec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "Name", name, "ApiDestinationArn", arn,
                             "ConnectionArn", conn, "InvocationEndpoint", endpoint, "HttpMethod",
                             method, "InvocationRateLimitPerSecond",
                             rate ? json_integer_value(rate) : (json_int_t)300);
    if (sl_json_str(in, "Description"))
        json_object_set(spec, "Description", json_object_get(in, "Description"));
    int rc = insert_named(ev, "event_api_destinations", name, spec);
    json_decref(spec);
    if (rc == 1)
        return sl_json_fail(call, 400, "ResourceAlreadyExistsException",
                            "An api-destination '%s' already exists.", name);
    if (rc != 0) return internal(call);
    double now = epoch_s(sl_now_ms());
    sl_json_reply(call,
                  json_pack("{s:s,s:s,s:f,s:f}", "ApiDestinationArn", arn, "ApiDestinationState",
                            "ACTIVE", "CreationTime", now, "LastModifiedTime", now));
}

static json_t *destination_json(json_t *spec, int64_t c, int64_t m, bool full) {
    (void)full;
    json_t *o = json_deep_copy(spec);
    json_object_set_new(o, "ApiDestinationState", json_string("ACTIVE"));
    json_object_set_new(o, "CreationTime", json_real(epoch_s(c)));
    json_object_set_new(o, "LastModifiedTime", json_real(epoch_s(m)));
    return o;
}

static void op_describe_api_destination(void *svc, sl_json_call *call, json_t *in) {
    sl_events *ev = svc;
    const char *name = sl_json_str_req(call, in, "Name");
    if (!name) return;
    int64_t c = 0, m = 0;
    json_t *spec = load_named(ev, "event_api_destinations", name, &c, &m);
    if (!spec)
        return sl_json_fail(call, 400, "ResourceNotFoundException",
                            "An api-destination '%s' does not exist.", name);
    json_t *out = destination_json(spec, c, m, true);
    json_decref(spec);
    sl_json_reply(call, out);
}

static void op_list_api_destinations(void *svc, sl_json_call *call, json_t *in) {
    (void)in;
    list_named(svc, call, "event_api_destinations", "ApiDestinations", destination_json);
}

static void op_delete_api_destination(void *svc, sl_json_call *call, json_t *in) {
    delete_named(svc, call, in, "event_api_destinations", "An api-destination");
}

static const sl_json_op ops[] = {
    {"CreateEventBus", op_create_event_bus},
    {"DeleteEventBus", op_delete_event_bus},
    {"DescribeEventBus", op_describe_event_bus},
    {"ListEventBuses", op_list_event_buses},
    {"PutRule", op_put_rule},
    {"DescribeRule", op_describe_rule},
    {"ListRules", op_list_rules},
    {"EnableRule", op_enable_rule},
    {"DisableRule", op_disable_rule},
    {"DeleteRule", op_delete_rule},
    {"PutTargets", op_put_targets},
    {"RemoveTargets", op_remove_targets},
    {"ListTargetsByRule", op_list_targets_by_rule},
    {"ListRuleNamesByTarget", op_list_rule_names_by_target},
    {"PutEvents", op_put_events},
    {"TestEventPattern", op_test_event_pattern},
    {"CreateConnection", op_create_connection},
    {"DescribeConnection", op_describe_connection},
    {"ListConnections", op_list_connections},
    {"DeleteConnection", op_delete_connection},
    {"UpdateConnection", op_update_connection},
    {"DeauthorizeConnection", op_deauthorize_connection},
    {"CreateApiDestination", op_create_api_destination},
    {"DescribeApiDestination", op_describe_api_destination},
    {"ListApiDestinations", op_list_api_destinations},
    {"DeleteApiDestination", op_delete_api_destination},
    {NULL, NULL},
};

void ev_api_init(sl_events *ev) {
    ev->json.target_prefix = "AWSEvents";
    ev->json.content_type = "application/x-amz-json-1.1";
    ev->json.ops = ops;
    ev->json.svc = ev;
    ev->json.credentials = ev->credentials;
    ev->json.body_limit = 1u << 20;
}
