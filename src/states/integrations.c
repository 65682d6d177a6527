/* integrations: the Task resources Sluice runs — activities, nested state machines
 * (arn:aws:states:::states:startExecution, .sync, .sync:2, .waitForTaskToken), EventBridge
 * (arn:aws:states:::events:putEvents, .waitForTaskToken) and S3 (aws-sdk:s3:*, s3:*, run by
 * s3_tasks.c). Classifies a Resource, runs the
 * synchronous ones and starts and reports child executions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "states/s3_tasks.h"
#include "states/states_internal.h"
#include "store/outbox.h"

sfn_task_kind sfn_task_classify(const sl_states *s, const char *resource, const char **action) {
    *action = NULL;
    if (!resource) return TASK_UNKNOWN;
    char name[128], rest[8];
    if (sfn_arn_split(resource, "activity", name, sizeof name, rest, sizeof rest) && !rest[0])
        return TASK_ACTIVITY;
    static const struct {
        const char *resource;
        sfn_task_kind kind;
    } fixed[] = {
        {"arn:aws:states:::states:startExecution", TASK_START_EXECUTION},
        {"arn:aws:states:::states:startExecution.sync", TASK_START_EXECUTION_SYNC},
        {"arn:aws:states:::states:startExecution.sync:2", TASK_START_EXECUTION_SYNC2},
        {"arn:aws:states:::states:startExecution.waitForTaskToken", TASK_START_EXECUTION_TOKEN},
        {"arn:aws:states:::events:putEvents", TASK_EVENTS_PUT},
        {"arn:aws:states:::events:putEvents.waitForTaskToken", TASK_EVENTS_PUT_TOKEN},
        {"arn:aws:states:::ecs:runTask", TASK_ECS_RUN},
        {"arn:aws:states:::ecs:runTask.sync", TASK_ECS_RUN_SYNC},
        {"arn:aws:states:::ecs:runTask.waitForTaskToken", TASK_ECS_RUN_TOKEN},
        {"arn:aws:states:::sns:publish", TASK_SNS_PUBLISH},
        {"arn:aws:states:::sns:publish.waitForTaskToken", TASK_SNS_PUBLISH_TOKEN},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(resource, fixed[i].resource) == 0) return fixed[i].kind;
    (void)s;
    static const char SDK_S3[] = "arn:aws:states:::aws-sdk:s3:";
    static const char S3[] = "arn:aws:states:::s3:";
    if (sl_str_has_prefix(resource, SDK_S3) &&
        sfn_s3_sdk_action_supported(resource + strlen(SDK_S3))) {
        *action = resource + strlen(SDK_S3);
        return TASK_AWS_SDK_S3;
    }
    if (sl_str_has_prefix(resource, S3) && sfn_s3_action_supported(resource + strlen(S3))) {
        *action = resource + strlen(S3);
        return TASK_S3;
    }
    return TASK_UNKNOWN;
}

/* ---- events:putEvents ---- */

typedef struct {
    json_t *rows;
} put_events_job;

static int put_events_write(sqlite3 *db, void *arg) {
    put_events_job *j = arg;
    size_t i;
    json_t *row;
    json_array_foreach(j->rows, i, row) {
        if (sl_outbox_add(db, "event", row) != 0) return -1;
    }
    sl_store_commit_signal();
    return 0;
}

static json_t *put_events(sl_states *s, json_t *params, char **error, char **cause) {
    json_t *entries = json_object_get(params, "Entries");
    if (!json_is_array(entries) || json_array_size(entries) == 0 || json_array_size(entries) > 10) {
        *error = sl_xstrdup("EventBridge.ValidationException");
        *cause = sl_xstrdup("Entries must hold 1 to 10 events.");
        return NULL;
    }
    json_t *rows = json_array();
    json_t *out = json_array();
    size_t i;
    json_t *en;
    char t[32];
    sl_time_iso8601_ms(sl_now_ms(), t);
    t[19] = 'Z';
    t[20] = 0;
    json_array_foreach(entries, i, en) {
        const char *source = json_string_value(json_object_get(en, "Source"));
        const char *dtype = json_string_value(json_object_get(en, "DetailType"));
        json_t *detail = json_object_get(en, "Detail");
        if (!source || !dtype || !detail) {
            json_array_append_new(out, json_pack("{s:s, s:s}", "ErrorCode", "InvalidArgument",
                                                 "ErrorMessage",
                                                 "Source, DetailType and Detail are required."));
            continue;
        }
        json_t *d = json_is_string(detail) ? json_loads(json_string_value(detail), 0, NULL)
                                           : json_incref(detail);
        if (!json_is_object(d)) {
            json_decref(d);
            json_array_append_new(out, json_pack("{s:s, s:s}", "ErrorCode", "MalformedDetail",
                                                 "ErrorMessage", "Detail is malformed."));
            continue;
        }
        char id[37];
        sl_id_uuid(id);
        const char *bus = json_string_value(json_object_get(en, "EventBusName"));
        char busname[256];
        const char *slash = bus ? strrchr(bus, '/') : NULL;
        snprintf(busname, sizeof busname, "%s", slash ? slash + 1 : bus ? bus : "default");
        json_t *resources = json_object_get(en, "Resources");
        resources = json_is_array(resources) ? json_incref(resources) : json_array();
        json_t *ev =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "version", "0", "id", id,
                      "detail-type", dtype, "source", source, "account", s->cfg->account_id, "time",
                      t, "region", s->cfg->region, "resources", resources, "detail", d);
        json_array_append_new(rows, json_pack("{s:s, s:o}", "bus", busname, "event", ev));
        json_array_append_new(out, json_pack("{s:s}", "EventId", id));
    }
    size_t failed = json_array_size(entries) - json_array_size(rows);
    put_events_job job = {rows};
    int rc = json_array_size(rows) ? sl_store_write(s->store, put_events_write, &job) : 0;
    json_decref(rows);
    if (rc != 0) {
        json_decref(out);
        *error = sl_xstrdup("EventBridge.InternalException");
        *cause = sl_xstrdup("The events could not be stored.");
        return NULL;
    }
    return json_pack("{s:o, s:I}", "Entries", out, "FailedEntryCount", (json_int_t)failed);
}

json_t *sfn_task_run_sync(sl_states *s, sfn_task_kind kind, const char *action, json_t *params,
                          char **error, char **cause) {
    switch (kind) {
    case TASK_EVENTS_PUT:
    case TASK_EVENTS_PUT_TOKEN: return put_events(s, params, error, cause);
    case TASK_AWS_SDK_S3: return sfn_s3_task(s, true, action, params, error, cause);
    case TASK_S3: return sfn_s3_task(s, false, action, params, error, cause);
    case TASK_SNS_PUBLISH:
    case TASK_SNS_PUBLISH_TOKEN: return sfn_sns_publish(s, params, error, cause);
    default:
        *error = sl_xstrdup("States.TaskFailed");
        *cause = sl_xstrdup("This resource does not run synchronously.");
        return NULL;
    }
}

/* ---- child executions ---- */

static void post_to_parent(sl_states *s, const char *token, sfn_msg *m) {
    char arn[512];
    if (!sfn_token_parse(token, arn, sizeof arn, &m->run, &m->seq)) {
        sfn_msg_free(m);
        return;
    }
    sfn_runtime_post(s, arn, m);
}

static void fail_parent(sl_states *s, const char *token, const char *error, const char *cause) {
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    m->kind = MSG_TASK_FAILED;
    m->error = sl_xstrdup(error);
    m->cause = sl_xstrdup(cause);
    post_to_parent(s, token, m);
}

void sfn_child_notify(sl_states *s, const char *parent_token, json_t *description) {
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    m->kind = MSG_CHILD_DONE;
    m->output = json_incref(description);
    post_to_parent(s, parent_token, m);
}

/* A stored child (after a restart): report it if it ended; it reports itself otherwise. */
static bool child_stored(sl_states *s, const char *child_arn, const char *token) {
    sqlite3 *db = sl_store_reader(s->store);
    static const char *SQL =
        "SELECT e.parent, e.snapshot IS NULL, e.status, e.input, e.output, e.error, e.cause, "
        "e.started_ms, e.stopped_ms, e.machine_arn, e.name FROM sfn_executions e WHERE e.arn = ?1";
    sqlite3_stmt *st = sl_store_cached(db, SQL);
    if (!st) return false;
    sqlite3_bind_text(st, 1, child_arn, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return false;
    }
    const char *parent = (const char *)sqlite3_column_text(st, 0);
    bool ours = parent && strcmp(parent, token) == 0;
    if (!ours) {
        sqlite3_reset(st);
        char cause[700];
        snprintf(cause, sizeof cause, "Execution Already Exists: '%s'", child_arn);
        fail_parent(s, token, "StepFunctions.ExecutionAlreadyExistsException", cause);
        return true;
    }
    if (sqlite3_column_int(st, 1)) {
        json_t *d = json_object();
        json_object_set_new(d, "ExecutionArn", json_string(child_arn));
        json_object_set_new(d, "StateMachineArn",
                            json_string((const char *)sqlite3_column_text(st, 9)));
        json_object_set_new(d, "Name", json_string((const char *)sqlite3_column_text(st, 10)));
        json_object_set_new(d, "Status", json_string((const char *)sqlite3_column_text(st, 2)));
        json_object_set_new(d, "StartDate", json_integer(sqlite3_column_int64(st, 7)));
        json_object_set_new(d, "StopDate", json_integer(sqlite3_column_int64(st, 8)));
        json_t *in = json_loads((const char *)sqlite3_column_text(st, 3), JSON_DECODE_ANY, NULL);
        json_object_set_new(d, "Input", in ? in : json_object());
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
            json_t *o = json_loads((const char *)sqlite3_column_text(st, 4), JSON_DECODE_ANY, NULL);
            if (o) json_object_set_new(d, "Output", o);
        }
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            json_object_set_new(d, "Error", json_string((const char *)sqlite3_column_text(st, 5)));
        if (sqlite3_column_type(st, 6) != SQLITE_NULL)
            json_object_set_new(d, "Cause", json_string((const char *)sqlite3_column_text(st, 6)));
        sqlite3_reset(st);
        sfn_child_notify(s, token, d);
        json_decref(d);
        return true;
    }
    sqlite3_reset(st);
    return true;
}

void sfn_child_start(sl_states *s, const char *parent_arn, sfn_effect *f) {
    (void)parent_arn;
    sfn_exec *running = sfn_runtime_find(s, f->arn);
    if (running) { /* already under way (a restart re-issued this effect) */
        sfn_runtime_release(s, running);
        return;
    }
    if (child_stored(s, f->arn, f->token)) return;
    const char *sm = json_string_value(json_object_get(f->payload, "StateMachineArn"));
    sfn_machine *m = sm ? sfn_machine_get(s, sm) : NULL;
    if (!m) {
        char cause[700];
        snprintf(cause, sizeof cause, "State Machine Does Not Exist: '%s'", sm ? sm : "");
        fail_parent(s, f->token, "StepFunctions.StateMachineDoesNotExistException", cause);
        return;
    }
    json_t *in = json_object_get(f->payload, "Input");
    json_t *input = NULL;
    if (!in) input = json_object();
    else if (json_is_string(in)) input = json_loads(json_string_value(in), JSON_DECODE_ANY, NULL);
    else input = json_incref(in);
    if (!input) {
        fail_parent(s, f->token, "StepFunctions.InvalidExecutionInputException",
                    "Invalid State Machine Execution Input: the Input is not JSON.");
        return;
    }
    /* the name is the last part of the ARN exec.c chose */
    const char *name = strrchr(f->arn, ':') + 1;
    bool sync =
        f->task_kind == TASK_START_EXECUTION_SYNC || f->task_kind == TASK_START_EXECUTION_SYNC2;
    sfn_start_args a = {.name = name, .input = input, .parent_token = sync ? f->token : NULL};
    char arn[512], code[64], msg[512];
    int64_t start_ms = 0;
    int rc = sfn_start(s, m, &a, arn, sizeof arn, &start_ms, code, sizeof code, msg, sizeof msg);
    json_decref(input);
    if (rc < 0) {
        char error[128];
        snprintf(error, sizeof error, "StepFunctions.%sException", code);
        fail_parent(s, f->token, error, msg);
        return;
    }
    if (f->task_kind == TASK_START_EXECUTION) {
        char when[32];
        sl_time_iso8601_ms(start_ms, when);
        sfn_msg *mm = sl_xcalloc(1, sizeof *mm);
        mm->kind = MSG_TASK_SUCCEEDED;
        mm->output = json_pack("{s:s, s:s}", "ExecutionArn", arn, "StartDate", when);
        post_to_parent(s, f->token, mm);
    }
}
