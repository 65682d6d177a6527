/* ecs_tasks: arn:aws:states:::ecs:runTask (.sync, .waitForTaskToken). Parameters arrive in
 * the SDK's PascalCase and go to the ECS service as RunTask's camelCase request; answers come
 * back in PascalCase, as Step Functions shows them. .sync waits (without a thread) for the task
 * to stop: it succeeds when every essential container exited 0, and fails with
 * States.TaskFailed and the task as the cause otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "states/states_internal.h"
#include "tasks/tasks.h"

static void post(sl_states *s, const char *token, sfn_msg *m) {
    char arn[512];
    if (!sfn_token_parse(token, arn, sizeof arn, &m->run, &m->seq)) {
        sfn_msg_free(m);
        return;
    }
    sfn_runtime_post(s, arn, m);
}

static void fail(sl_states *s, const char *token, const char *error, const char *cause) {
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    m->kind = MSG_TASK_FAILED;
    m->error = sl_xstrdup(error);
    m->cause = sl_xstrdup(cause);
    post(s, token, m);
}

/* The task stopped: success when every essential container exited 0. */
static void stopped(void *ctx, json_t *task) {
    char *token = ctx;
    sl_states *s = NULL;
    memcpy(&s, token, sizeof s);
    const char *tok = token + sizeof s;
    bool ok = true;
    const char *stop_code = json_string_value(json_object_get(task, "stopCode"));
    if (stop_code && !strcmp(stop_code, "TaskFailedToStart")) ok = false;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(task, "containers"), i, c) {
        json_t *code = json_object_get(c, "exitCode");
        if (!code || json_integer_value(code) != 0) ok = false;
    }
    json_t *out = sl_json_recase(task, true);
    if (ok) {
        sfn_msg *m = sl_xcalloc(1, sizeof *m);
        m->kind = MSG_TASK_SUCCEEDED;
        m->output = out;
        post(s, tok, m);
    } else {
        char *cause = json_dumps(out, JSON_COMPACT);
        fail(s, tok, "States.TaskFailed", cause);
        free(cause);
        json_decref(out);
    }
    free(token);
}

/* A waiter context: the service pointer followed by the token text. */
static char *waiter_ctx(sl_states *s, const char *token) {
    size_t n = strlen(token);
    char *ctx = sl_xmalloc(sizeof s + n + 1);
    memcpy(ctx, &s, sizeof s);
    memcpy(ctx + sizeof s, token, n + 1);
    return ctx;
}

void sfn_ecs_run(sl_states *s, sfn_effect *f) {
    if (!s->tasks) {
        fail(s, f->token, "States.TaskFailed", "ECS is not running in this daemon.");
        return;
    }
    json_t *req = sl_json_recase(f->payload, false);
    char code[64], msg[512];
    json_t *out = sl_tasks_run(s->tasks, req, code, sizeof code, msg, sizeof msg);
    json_decref(req);
    if (!out) {
        char error[128];
        snprintf(error, sizeof error, "ECS.%s", code);
        fail(s, f->token, error, msg);
        return;
    }
    json_t *failures = json_object_get(out, "failures");
    json_t *tasks = json_object_get(out, "tasks");
    if (json_array_size(failures) || !json_array_size(tasks)) {
        json_t *pc = sl_json_recase(out, true);
        char *cause = json_dumps(pc, JSON_COMPACT);
        fail(s, f->token, "ECS.AmazonECSException", cause);
        free(cause);
        json_decref(pc);
        json_decref(out);
        return;
    }
    json_t *pc = sl_json_recase(out, true);
    const char *task_arn = json_string_value(json_object_get(json_array_get(tasks, 0), "taskArn"));
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    if (f->task_kind == TASK_ECS_RUN) {
        m->kind = MSG_TASK_SUCCEEDED;
        m->output = json_incref(pc);
        post(s, f->token, m);
    } else {
        m->kind = MSG_TASK_SUBMITTED;
        m->output = json_incref(pc);
        post(s, f->token, m);
        if (f->task_kind == TASK_ECS_RUN_SYNC && task_arn) {
            char *ctx = waiter_ctx(s, f->token);
            if (!sl_tasks_when_stopped(s->tasks, task_arn, stopped, ctx)) {
                free(ctx);
                fail(s, f->token, "States.TaskFailed", "The ECS task is gone.");
            }
        }
    }
    json_decref(pc);
    json_decref(out);
}

void sfn_ecs_watch(sl_states *s, sfn_effect *f) {
    if (!s->tasks || !f->arn) return;
    char *ctx = waiter_ctx(s, f->token);
    if (!sl_tasks_when_stopped(s->tasks, f->arn, stopped, ctx)) {
        free(ctx);
        fail(s, f->token, "States.TaskFailed", "The ECS task is not known any more.");
    }
}

void sfn_ecs_stop(sl_states *s, const char *task_arn) {
    if (s->tasks)
        sl_tasks_stop(s->tasks, task_arn, "Stopped by Step Functions: the task state ended");
}
