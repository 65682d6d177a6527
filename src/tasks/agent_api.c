/* agent_api: container instances (agents on other machines, ECS Anywhere style) and the
 * protocol they speak (docs/agent-protocol.md): RegisterContainerInstance & co. on the ECS
 * wire, and PollTasks / ReportTaskState / PutLogLines on X-Amz-Target SluiceAgentV1. An
 * instance's pending starts and stops wait in memory for its long poll, which is parked (no
 * thread held) until there is work or 20 s pass. Any call from an agent is its heartbeat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "tasks/tasks_internal.h"

#define POLL_MS 20000

#define FAIL(call, code, ...) sl_json_fail(call, 400, code, __VA_ARGS__)

/* ---- registry (caller holds t->mu) ---- */

static ecs_instance *find_locked(sl_tasks *t, const char *arn) {
    for (ecs_instance *i = t->instances; i; i = i->next)
        if (!strcmp(i->arn, arn)) return i;
    return NULL;
}

static int counts(sl_tasks *t, const char *arn, int *running, int *pending) {
    *running = *pending = 0;
    for (ecs_task *k = t->tasks; k; k = k->next) {
        if (!k->instance_arn || strcmp(k->instance_arn, arn)) continue;
        if (!strcmp(k->last_status, "RUNNING")) (*running)++;
        else if (strcmp(k->last_status, "STOPPED")) (*pending)++;
    }
    return *running + *pending;
}

/* The ContainerInstance shape with live fields. Caller holds the lock. */
static json_t *instance_doc(sl_tasks *t, ecs_instance *i) {
    json_t *d = json_deep_copy(i->doc);
    int running, pending;
    counts(t, i->arn, &running, &pending);
    json_object_set_new(d, "agentConnected", json_boolean(i->connected));
    json_object_set_new(d, "runningTasksCount", json_integer(running));
    json_object_set_new(d, "pendingTasksCount", json_integer(pending));
    return d;
}

static int persist_instance(sl_tasks *t, const char *arn, const char *cluster, const char *status,
                            json_t *doc, int64_t registered) {
    char *text = json_dumps(doc, JSON_COMPACT);
    char reg[32], now[32];
    snprintf(reg, sizeof reg, "%lld", (long long)registered);
    snprintf(now, sizeof now, "%lld", (long long)sl_now_ms());
    sl_store_stmt_job j = {
        .sql = "INSERT INTO ecs_container_instances (arn, cluster, status, registered_ms, "
               "last_seen_ms, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(arn) DO UPDATE "
               "SET status = ?3, last_seen_ms = ?5, doc = ?6",
        .args = {arn, cluster, status, reg, now, text},
        .nargs = 6};
    int rc = sl_store_write(t->store, sl_store_exec_job, &j);
    free(text);
    return rc;
}

int ecs_agents_load(sl_tasks *t) {
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT arn, cluster, doc FROM ecs_container_instances WHERE status = "
                           "'ACTIVE'",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    int64_t now = sl_now_ms();
    pthread_mutex_lock(&t->mu);
    while (sqlite3_step(st) == SQLITE_ROW) {
        ecs_instance *i = sl_xcalloc(1, sizeof *i);
        i->arn = sl_xstrdup((const char *)sqlite3_column_text(st, 0));
        i->cluster = sl_xstrdup((const char *)sqlite3_column_text(st, 1));
        i->doc = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        if (!i->doc) i->doc = json_object();
        i->last_seen = now; /* a grace period: the agent finds us again after a restart */
        i->connected = true;
        i->start = json_array();
        i->stop = json_array();
        i->next = t->instances;
        t->instances = i;
    }
    pthread_mutex_unlock(&t->mu);
    sqlite3_finalize(st);
    return 0;
}

void ecs_agents_free(sl_tasks *t) {
    for (ecs_instance *i = t->instances, *nx; i; i = nx) {
        nx = i->next;
        free(i->arn);
        free(i->cluster);
        json_decref(i->doc);
        json_decref(i->start);
        json_decref(i->stop);
        free(i);
    }
    t->instances = NULL;
}

bool ecs_agent_pick(sl_tasks *t, const char *cluster, char *out, size_t n) {
    pthread_mutex_lock(&t->mu);
    ecs_instance *best = NULL;
    int best_load = 0;
    for (ecs_instance *i = t->instances; i; i = i->next) {
        if (!i->connected || strcmp(i->cluster, cluster)) continue;
        int r, p;
        int load = counts(t, i->arn, &r, &p);
        if (!best || load < best_load) {
            best = i;
            best_load = load;
        }
    }
    if (best) snprintf(out, n, "%s", best->arn);
    pthread_mutex_unlock(&t->mu);
    return best != NULL;
}

bool ecs_agent_connected(sl_tasks *t, const char *cluster, const char *ref, char *out, size_t n) {
    pthread_mutex_lock(&t->mu);
    ecs_instance *found = NULL;
    for (ecs_instance *i = t->instances; i; i = i->next) {
        const char *slash = strrchr(i->arn, '/');
        if (i->connected && !strcmp(i->cluster, cluster) &&
            (!strcmp(i->arn, ref) || (slash && !strcmp(slash + 1, ref))))
            found = i;
    }
    if (found) snprintf(out, n, "%s", found->arn);
    pthread_mutex_unlock(&t->mu);
    return found != NULL;
}

static void wake_locked(ecs_instance *i) {
    if (i->poll) {
        sl_json_call *c = i->poll;
        i->poll = NULL;
        sl_json_wake(c);
    }
}

void ecs_agent_send_start(sl_tasks *t, const char *instance_arn, json_t *entry) {
    pthread_mutex_lock(&t->mu);
    ecs_instance *i = find_locked(t, instance_arn);
    if (i) {
        json_array_append(i->start, entry);
        wake_locked(i);
    }
    pthread_mutex_unlock(&t->mu);
}

void ecs_agent_send_stop(sl_tasks *t, const char *instance_arn, const char *task_arn) {
    pthread_mutex_lock(&t->mu);
    ecs_instance *i = find_locked(t, instance_arn);
    json_t *never_started = NULL;
    if (i) {
        /* not handed out yet: it never runs; its containers end now, without an agent */
        size_t n;
        json_t *e;
        json_array_foreach(i->start, n, e) {
            const char *arn = json_string_value(json_object_get(e, "taskArn"));
            if (arn && !strcmp(arn, task_arn)) {
                never_started = json_array();
                size_t m;
                json_t *c;
                json_array_foreach(json_object_get(e, "containers"), m, c) {
                    json_array_append_new(never_started,
                                          json_pack("{s:O, s:s, s:s}", "name",
                                                    json_object_get(c, "name"), "status", "STOPPED",
                                                    "reason", "Task stopped before it started"));
                }
                json_array_remove(i->start, n);
                break;
            }
        }
        if (!never_started) {
            json_array_append_new(i->stop, json_string(task_arn));
            wake_locked(i);
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (never_started) {
        ecs_task_report(t, task_arn, never_started);
        json_decref(never_started);
    }
}

json_t *ecs_agents_expire(sl_tasks *t) {
    json_t *lost = json_array();
    int64_t now = sl_now_ms();
    pthread_mutex_lock(&t->mu);
    for (ecs_instance *i = t->instances; i; i = i->next) {
        if (i->connected && !i->poll && now - i->last_seen > t->agent_timeout_ms) {
            i->connected = false;
            json_array_append_new(lost, json_string(i->arn));
            sl_warn("\"agent lost\" instance=%s silent_ms=%lld", i->arn,
                    (long long)(now - i->last_seen));
        }
    }
    pthread_mutex_unlock(&t->mu);
    return lost;
}

/* ---- the ECS API's container instance operations ---- */

void ecs_op_register_instance(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *cluster = ecs_cluster_name(sl_json_str(in, "cluster"));
    if (!ecs_cluster_exists(t, cluster)) {
        FAIL(call, "ClusterNotFoundException", "Cluster not found.");
        return;
    }
    const char *want = sl_json_str(in, "containerInstanceArn");
    char arn[400];
    int64_t now = sl_now_ms(), registered = now;
    pthread_mutex_lock(&t->mu);
    ecs_instance *i = want ? find_locked(t, want) : NULL;
    if (i && strcmp(i->cluster, cluster) != 0) i = NULL;
    json_t *lost = NULL;
    if (i) {
        /* an agent registers again when it restarts: what it ran before is gone */
        lost = json_array();
        for (ecs_task *k = t->tasks; k; k = k->next)
            if (k->instance_arn && !strcmp(k->instance_arn, i->arn) &&
                strcmp(k->last_status, "STOPPED") != 0 &&
                strcmp(k->last_status, "PROVISIONING") != 0)
                json_array_append_new(lost, json_string(k->arn));
        json_array_clear(i->start);
        snprintf(arn, sizeof arn, "%s", i->arn);
        registered = (int64_t)(json_number_value(json_object_get(i->doc, "registeredAt")) * 1000.0);
    } else {
        char id[33], rest[300];
        sl_id_hex(id, 16);
        snprintf(rest, sizeof rest, "%s/%s", cluster, id);
        ecs_arn(t, "container-instance", rest, arn, sizeof arn);
        i = sl_xcalloc(1, sizeof *i);
        i->arn = sl_xstrdup(arn);
        i->cluster = sl_xstrdup(cluster);
        i->start = json_array();
        i->stop = json_array();
        i->next = t->instances;
        t->instances = i;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "containerInstanceArn", json_string(arn));
    char mi[64];
    snprintf(mi, sizeof mi, "mi-%.17s", strrchr(arn, '/') + 1);
    json_object_set_new(doc, "ec2InstanceId", json_string(mi));
    json_object_set_new(doc, "version", json_integer(1));
    json_t *vi = json_object_get(in, "versionInfo");
    json_object_set_new(doc, "versionInfo", vi ? json_incref(vi) : json_object());
    json_t *res = json_object_get(in, "totalResources");
    json_object_set_new(doc, "registeredResources", res ? json_incref(res) : json_array());
    json_object_set_new(doc, "remainingResources", res ? json_deep_copy(res) : json_array());
    json_object_set_new(doc, "status", json_string("ACTIVE"));
    json_t *attrs = json_object_get(in, "attributes");
    json_object_set_new(doc, "attributes", attrs ? json_incref(attrs) : json_array());
    json_object_set_new(doc, "registeredAt", json_real(ecs_epoch(registered)));
    json_t *tags = json_object_get(in, "tags");
    json_object_set_new(doc, "tags", tags ? json_incref(tags) : json_array());
    json_decref(i->doc);
    i->doc = doc;
    i->connected = true;
    i->last_seen = now;
    json_t *out = instance_doc(t, i);
    json_t *saved = json_deep_copy(doc);
    pthread_mutex_unlock(&t->mu);
    int rc = persist_instance(t, arn, cluster, "ACTIVE", saved, registered);
    json_decref(saved);
    if (rc < 0) {
        json_decref(out);
        sl_json_fail(call, 500, "ServerException", "The store failed.");
        return;
    }
    if (json_array_size(lost)) {
        ecs_event *ev = sl_xcalloc(1, sizeof *ev);
        ev->kind = EV_LOST;
        ev->reason = sl_xstrdup(arn);
        ev->report = json_incref(lost);
        pthread_mutex_lock(&t->mu);
        if (t->queue_tail) t->queue_tail->next = ev;
        else t->queue = ev;
        t->queue_tail = ev;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
    json_decref(lost);
    sl_info("\"agent registered\" instance=%s cluster=%s", arn, cluster);
    sl_json_reply(call, json_pack("{s:o}", "containerInstance", out));
}

/* The instance of cluster named by ref (its ARN or id); an instance of another cluster is not
 * one. Caller holds the lock. */
static ecs_instance *find_in_cluster_locked(sl_tasks *t, const char *cluster, const char *ref) {
    ecs_instance *found = NULL;
    for (ecs_instance *i = t->instances; i && ref; i = i->next) {
        const char *slash = strrchr(i->arn, '/');
        if (!strcmp(i->cluster, cluster) &&
            (!strcmp(i->arn, ref) || (slash && !strcmp(slash + 1, ref))))
            found = i;
    }
    return found;
}

static ecs_instance *instance_for_call(sl_tasks *t, sl_json_call *call, json_t *in,
                                       const char *field) {
    const char *ref = sl_json_str_req(call, in, field);
    if (!ref) return NULL;
    ecs_instance *found =
        find_in_cluster_locked(t, ecs_cluster_name(sl_json_str(in, "cluster")), ref);
    if (!found)
        FAIL(call, "InvalidParameterException",
             "The referenced container instance %s was not found.", ref);
    return found;
}

void ecs_op_deregister_instance(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    pthread_mutex_lock(&t->mu);
    ecs_instance *i = instance_for_call(t, call, in, "containerInstance");
    if (!i) {
        pthread_mutex_unlock(&t->mu);
        return;
    }
    int running, pending;
    if (counts(t, i->arn, &running, &pending) && !json_is_true(json_object_get(in, "force"))) {
        pthread_mutex_unlock(&t->mu);
        FAIL(call, "InvalidParameterException",
             "Found running tasks on the instance; use force to deregister it.");
        return;
    }
    i->connected = false;
    json_object_set_new(i->doc, "status", json_string("INACTIVE"));
    json_t *out = instance_doc(t, i);
    char *arn = sl_xstrdup(i->arn), *cluster = sl_xstrdup(i->cluster);
    json_t *saved = json_deep_copy(i->doc);
    wake_locked(i);
    pthread_mutex_unlock(&t->mu);
    persist_instance(t, arn, cluster, "INACTIVE", saved, sl_now_ms());
    json_decref(saved);
    /* its tasks end as when the agent is lost */
    ecs_event *ev = sl_xcalloc(1, sizeof *ev);
    ev->kind = EV_LOST;
    ev->reason = arn;
    pthread_mutex_lock(&t->mu);
    ev->next = NULL;
    if (t->queue_tail) t->queue_tail->next = ev;
    else t->queue = ev;
    t->queue_tail = ev;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    free(cluster);
    sl_json_reply(call, json_pack("{s:o}", "containerInstance", out));
}

static int arn_order(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* In ARN order, so that pages are stable whatever order the instances registered in. */
void ecs_op_list_instances(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *cluster = ecs_cluster_name(sl_json_str(in, "cluster"));
    const char *status = sl_json_str(in, "status");
    int limit;
    json_t *after;
    if (!ecs_page_begin(call, in, "ListContainerInstances", "s", &limit, &after)) return;
    const char *from = after ? json_string_value(json_array_get(after, 0)) : NULL;
    size_t n = 0, cap = 16;
    char **arns = sl_xmalloc(cap * sizeof *arns);
    pthread_mutex_lock(&t->mu);
    for (ecs_instance *i = t->instances; i; i = i->next) {
        const char *st = json_string_value(json_object_get(i->doc, "status"));
        if (strcmp(i->cluster, cluster)) continue;
        if (status ? (st && strcmp(st, status)) : (st && !strcmp(st, "INACTIVE"))) continue;
        if (from && strcmp(i->arn, from) <= 0) continue;
        if (n == cap) arns = sl_xrealloc(arns, (cap *= 2) * sizeof *arns);
        arns[n++] = sl_xstrdup(i->arn);
    }
    pthread_mutex_unlock(&t->mu);
    qsort(arns, n, sizeof *arns, arn_order);
    json_t *list = json_array(), *out = json_object();
    for (size_t k = 0; k < n; k++) {
        if (k < (size_t)limit) json_array_append_new(list, json_string(arns[k]));
        free(arns[k]);
    }
    free(arns);
    if (n > (size_t)limit)
        json_object_set_new(out, "nextToken",
                            ecs_page_token("ListContainerInstances",
                                           json_pack("[O]", json_array_get(list, limit - 1))));
    json_decref(after);
    json_object_set_new(out, "containerInstanceArns", list);
    sl_json_reply(call, out);
}

void ecs_op_describe_instances(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    json_t *refs = json_object_get(in, "containerInstances");
    const char *cluster = ecs_cluster_name(sl_json_str(in, "cluster"));
    json_t *out = json_array(), *failures = json_array();
    size_t n;
    json_t *r;
    pthread_mutex_lock(&t->mu);
    json_array_foreach(refs, n, r) {
        const char *ref = json_string_value(r);
        ecs_instance *found = find_in_cluster_locked(t, cluster, ref);
        if (found) json_array_append_new(out, instance_doc(t, found));
        else
            json_array_append_new(
                failures, json_pack("{s:s, s:s}", "arn", ref ? ref : "", "reason", "MISSING"));
    }
    pthread_mutex_unlock(&t->mu);
    sl_json_reply(call, json_pack("{s:o, s:o}", "containerInstances", out, "failures", failures));
}

/* ---- SluiceAgentV1 ---- */

typedef struct {
    sl_tasks *t;
    char *arn;
    json_t *answer;
    int refs;
} poll_state;

static void poll_unref(poll_state *p) {
    if (--p->refs > 0) return;
    json_decref(p->answer);
    free(p->arn);
    free(p);
}

/* Takes the instance's pending work into an answer. Caller holds the lock. */
static json_t *take_work(sl_tasks *t, ecs_instance *i, json_t *running) {
    json_t *stop = i->stop;
    i->stop = json_array();
    /* tasks the agent runs that we do not want (any more) */
    size_t n;
    json_t *v;
    json_array_foreach(running, n, v) {
        const char *arn = json_string_value(v);
        bool wanted = false;
        for (ecs_task *k = t->tasks; k && arn; k = k->next)
            if (!strcmp(k->arn, arn) && k->instance_arn && !strcmp(k->instance_arn, i->arn) &&
                strcmp(k->last_status, "STOPPED"))
                wanted = true;
        if (arn && !wanted) json_array_append_new(stop, json_string(arn));
    }
    json_t *out =
        json_pack("{s:I, s:o, s:o}", "heartbeatSeconds",
                  (json_int_t)(t->agent_timeout_ms / 3000 > 0 ? t->agent_timeout_ms / 3000 : 1),
                  "start", i->start, "stop", stop);
    i->start = json_array();
    return out;
}

static bool has_work(ecs_instance *i) {
    return json_array_size(i->start) || json_array_size(i->stop);
}

static void poll_then(sl_json_call *call) {
    poll_state *p = call->state;
    sl_tasks *t = p->t;
    pthread_mutex_lock(&t->mu);
    ecs_instance *i = find_locked(t, p->arn);
    json_t *out = NULL;
    if (i) {
        i->last_seen = sl_now_ms();
        if (i->poll == call) i->poll = NULL;
        out = take_work(t, i, NULL);
    }
    pthread_mutex_unlock(&t->mu);
    if (!out) {
        FAIL(call, "ClientException", "The container instance is not registered.");
        return;
    }
    sl_json_reply(call, out);
}

static void poll_state_free(void *arg) {
    poll_state *p = arg;
    sl_tasks *t = p->t;
    pthread_mutex_lock(&t->mu);
    /* the call is going away: make sure no instance still points at it */
    for (ecs_instance *i = t->instances; i; i = i->next)
        if (i->poll && i->poll->state == p) i->poll = NULL;
    poll_unref(p);
    pthread_mutex_unlock(&t->mu);
}

void ecs_agents_quiesce(sl_tasks *t) {
    pthread_mutex_lock(&t->mu);
    t->quiescing = true;
    for (ecs_instance *i = t->instances; i; i = i->next) wake_locked(i);
    pthread_mutex_unlock(&t->mu);
}

static void op_poll_tasks(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *arn = sl_json_str_req(call, in, "containerInstanceArn");
    if (!arn) return;
    pthread_mutex_lock(&t->mu);
    ecs_instance *i = find_locked(t, arn);
    if (!i || !i->connected) {
        bool known = i != NULL;
        pthread_mutex_unlock(&t->mu);
        FAIL(call, "ClientException",
             known ? "The container instance was disconnected or deregistered: register again."
                   : "The container instance is not registered.");
        return;
    }
    i->last_seen = sl_now_ms();
    json_t *running = json_object_get(in, "running");
    if (has_work(i) || json_array_size(running)) {
        json_t *out = take_work(t, i, running);
        bool empty = !json_array_size(json_object_get(out, "start")) &&
                     !json_array_size(json_object_get(out, "stop"));
        if (!empty || has_work(i)) {
            pthread_mutex_unlock(&t->mu);
            sl_json_reply(call, out);
            return;
        }
        json_decref(out); /* everything it runs is wanted: wait for work */
    }
    if (t->quiescing) { /* the daemon is stopping: no poll may stay parked */
        json_t *out = take_work(t, i, NULL);
        pthread_mutex_unlock(&t->mu);
        sl_json_reply(call, out);
        return;
    }
    if (i->poll) { /* a second poll replaces the first, which answers empty now */
        sl_json_call *old = i->poll;
        i->poll = NULL;
        sl_json_wake(old);
    }
    poll_state *p = sl_xcalloc(1, sizeof *p);
    p->t = t;
    p->arn = sl_xstrdup(arn);
    p->refs = 1;
    call->state = p;
    call->state_free = poll_state_free;
    i->poll = call;
    i->poll_since = sl_now_ms();
    sl_json_wait(call, poll_then);
    pthread_mutex_unlock(&t->mu);
}

/* Parked polls are answered empty after POLL_MS (called by the runner's tick). */
void ecs_agents_tick(sl_tasks *t) {
    int64_t now = sl_now_ms();
    pthread_mutex_lock(&t->mu);
    /* A parked poll does not prove the agent lives (a killed agent's connection looks open):
     * polls end after half the agent timeout, and an agent that does not poll again is lost. */
    int64_t wait = t->agent_timeout_ms / 2 < POLL_MS ? t->agent_timeout_ms / 2 : POLL_MS;
    for (ecs_instance *i = t->instances; i; i = i->next) {
        if (i->poll && now - i->poll_since >= wait) {
            sl_json_call *c = i->poll;
            i->poll = NULL;
            sl_json_wake(c);
        }
    }
    pthread_mutex_unlock(&t->mu);
}

static void touch(sl_tasks *t, const char *arn) {
    if (!arn) return;
    pthread_mutex_lock(&t->mu);
    ecs_instance *i = find_locked(t, arn);
    if (i) i->last_seen = sl_now_ms();
    pthread_mutex_unlock(&t->mu);
}

static void op_report_task_state(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *task = sl_json_str_req(call, in, "taskArn");
    if (!task) return;
    touch(t, sl_json_str(in, "containerInstanceArn"));
    json_t *containers = json_object_get(in, "containers");
    if (!json_is_array(containers)) {
        FAIL(call, "InvalidParameterException", "containers must be a list");
        return;
    }
    ecs_task_report(t, task, containers);
    sl_json_reply(call, NULL);
}

static void op_put_log_lines(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *task = sl_json_str_req(call, in, "taskArn");
    const char *container = task ? sl_json_str_req(call, in, "container") : NULL;
    if (!task || !container) return;
    touch(t, sl_json_str(in, "containerInstanceArn"));
    json_t *lines = json_object_get(in, "lines");
    if (!json_is_array(lines) || json_array_size(lines) > 1000) {
        FAIL(call, "InvalidParameterException", "lines must be a list of at most 1000");
        return;
    }
    char err[256];
    if (ecs_task_log_lines(t, task, container, lines, err, sizeof err) != 0) {
        FAIL(call, "InvalidParameterException", "%s", err);
        return;
    }
    sl_json_reply(call, NULL);
}

static const sl_json_op agent_ops[] = {
    {"PollTasks", op_poll_tasks},
    {"ReportTaskState", op_report_task_state},
    {"PutLogLines", op_put_log_lines},
    {NULL, NULL},
};

void ecs_agent_api_init(sl_tasks *t) {
    t->agent_json = (sl_json_service){.target_prefix = "SluiceAgentV1",
                                      .content_type = "application/x-amz-json-1.1",
                                      .ops = agent_ops,
                                      .svc = t,
                                      .credentials = t->credentials};
    const char *to = getenv("SLUICE_AGENT_TIMEOUT_S");
    long s = to ? strtol(to, NULL, 10) : 30;
    t->agent_timeout_ms = (s > 0 ? s : 30) * 1000;
}

void ecs_agents_register(sl_tasks *t, sl_router *router) {
    sl_router_add_json(router, "SluiceAgentV1", sl_json_service_begin, &t->agent_json);
}
