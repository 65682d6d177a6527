/* runner: tasks from RunTask to STOPPED. RunTask (any thread) checks the request, writes each
 * task PROVISIONING and queues it; the runner thread starts its containers through the
 * supervisor (PENDING → RUNNING), hears their exits, stops the rest when an essential one ends
 * (DEPROVISIONING), ships their output to CloudWatch Logs and only then records STOPPED, so a
 * task's logs are complete when DescribeTasks says it stopped. Every status change rewrites
 * the task's row and puts an "ECS Task State Change" event on the default bus in the same
 * transaction. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/credentials.h"
#include "core/ids.h"
#include "core/log.h"
#include "events/events.h"
#include "logs/logs.h"
#include "store/outbox.h"
#include "tasks/tasks_internal.h"

/* Lines wait for the runner's next flush (every 200 ms, sooner once FLUSH_LINES are waiting).
 * Past MAX_PENDING_LINES (a task printing faster than the store takes them) they are counted
 * and dropped, with a warning at the flush. */
#define FLUSH_LINES       8192
#define MAX_PENDING_LINES 2000000

/* ---- documents ---- */

static void set_time(json_t *o, const char *k, int64_t ms) {
    if (ms) json_object_set_new(o, k, json_real(ecs_epoch(ms)));
}

static json_t *container_doc(ecs_container *c) {
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "containerArn", c->arn, "taskArn", c->task->arn,
                  "name", c->name, "image", c->image, "lastStatus", c->last_status);
    if (c->has_exit) json_object_set_new(o, "exitCode", json_integer(c->exit_code));
    if (c->reason) json_object_set_new(o, "reason", json_string(c->reason));
    if (c->pid > 0) {
        char rid[32];
        snprintf(rid, sizeof rid, "%d", c->pid);
        json_object_set_new(o, "runtimeId", json_string(rid));
    }
    json_object_set_new(o, "networkBindings", json_array());
    json_object_set_new(o, "networkInterfaces", json_array());
    json_object_set_new(o, "healthStatus", json_string("UNKNOWN"));
    json_t *v;
    if ((v = json_object_get(c->def, "cpu"))) {
        char s[32];
        snprintf(s, sizeof s, "%lld", (long long)json_integer_value(v));
        json_object_set_new(o, "cpu", json_string(s));
    }
    if ((v = json_object_get(c->def, "memory"))) {
        char s[32];
        snprintf(s, sizeof s, "%lld", (long long)json_integer_value(v));
        json_object_set_new(o, "memory", json_string(s));
    }
    if ((v = json_object_get(c->def, "memoryReservation"))) {
        char s[32];
        snprintf(s, sizeof s, "%lld", (long long)json_integer_value(v));
        json_object_set_new(o, "memoryReservation", json_string(s));
    }
    return o;
}

/* Rebuilds task->doc (the Task shape). Caller holds the lock. */
static void doc_refresh(ecs_task *k) {
    json_t *o = json_object();
    json_object_set_new(o, "taskArn", json_string(k->arn));
    json_object_set_new(o, "clusterArn", json_string(k->cluster_arn));
    json_object_set_new(o, "taskDefinitionArn", json_string(k->taskdef_arn));
    json_object_set_new(o, "lastStatus", json_string(k->last_status));
    json_object_set_new(o, "desiredStatus", json_string(k->desired_status));
    json_object_set_new(o, "launchType", json_string(k->launch_type));
    json_object_set_new(o, "group", json_string(k->group));
    json_object_set_new(o, "version", json_integer(k->version));
    if (k->cpu) json_object_set_new(o, "cpu", json_string(k->cpu));
    if (k->memory) json_object_set_new(o, "memory", json_string(k->memory));
    if (k->started_by) json_object_set_new(o, "startedBy", json_string(k->started_by));
    if (k->instance_arn)
        json_object_set_new(o, "containerInstanceArn", json_string(k->instance_arn));
    json_object_set(o, "overrides", k->overrides);
    json_object_set(o, "tags", k->tags);
    json_object_set_new(o, "attachments", json_array());
    json_object_set_new(o, "attributes", json_array());
    json_object_set_new(o, "availabilityZone", json_string("local"));
    json_object_set_new(o, "connectivity", json_string("CONNECTED"));
    json_object_set_new(o, "enableExecuteCommand", json_false());
    json_object_set_new(o, "healthStatus", json_string("UNKNOWN"));
    if (!strcmp(k->launch_type, "FARGATE")) {
        json_object_set_new(o, "platformVersion", json_string("1.4.0"));
        json_object_set_new(o, "platformFamily", json_string("Linux"));
        json_object_set_new(o, "ephemeralStorage", json_pack("{s:i}", "sizeInGiB", 20));
    }
    set_time(o, "createdAt", k->created);
    set_time(o, "connectivityAt", k->created);
    set_time(o, "pullStartedAt", k->pull_started);
    set_time(o, "pullStoppedAt", k->pull_stopped);
    set_time(o, "startedAt", k->started);
    set_time(o, "stoppingAt", k->stopping);
    set_time(o, "executionStoppedAt", k->execution_stopped);
    set_time(o, "stoppedAt", k->stopped);
    if (k->stop_code) json_object_set_new(o, "stopCode", json_string(k->stop_code));
    if (k->stopped_reason) json_object_set_new(o, "stoppedReason", json_string(k->stopped_reason));
    json_t *cs = json_array();
    for (size_t i = 0; i < k->ncontainers; i++)
        json_array_append_new(cs, container_doc(&k->containers[i]));
    json_object_set_new(o, "containers", cs);
    json_decref(k->doc);
    k->doc = o;
}

/* Puts k first in the tasks in memory (a doubly linked list: a task leaves it in constant
 * time however many are alive). Caller holds t->mu. */
static void task_link(sl_tasks *t, ecs_task *k) {
    k->prev = NULL;
    k->next = t->tasks;
    if (t->tasks) t->tasks->prev = k;
    t->tasks = k;
}

/* The event AWS puts on the bus: the task with ISO-8601 times. A shallow copy: doc_refresh
 * builds a new document for every change and never edits one in place, so the event may share
 * its values (jansson's reference counts are atomic). */
static json_t *state_change_event(sl_tasks *t, json_t *doc) {
    json_t *detail = json_copy(doc);
    static const char *const times[] = {"createdAt",          "connectivityAt", "pullStartedAt",
                                        "pullStoppedAt",      "startedAt",      "stoppingAt",
                                        "executionStoppedAt", "stoppedAt"};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        json_t *v = json_object_get(detail, times[i]);
        if (!v) continue;
        char iso[32];
        sl_time_iso8601_ms((int64_t)(json_number_value(v) * 1000.0), iso);
        json_object_set_new(detail, times[i], json_string(iso));
    }
    json_object_set_new(detail, "updatedAt", json_string(""));
    char id[37], now[32];
    sl_id_uuid(id);
    sl_time_iso8601_ms(sl_now_ms(), now);
    json_object_set_new(detail, "updatedAt", json_string(now));
    now[19] = 'Z';
    now[20] = 0;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[O], s:o}", "version", "0", "id", id,
                     "detail-type", "ECS Task State Change", "source", "aws.ecs", "account",
                     t->cfg->account_id, "time", now, "region", t->cfg->region, "resources",
                     json_object_get(doc, "taskArn"), "detail", detail);
}

typedef struct {
    bool insert;
    char *arn, *cluster, *family, *started_by, *launch_type, *desired, *last, *instance;
    char *doc, *runtime;
    int64_t created;
    json_t *events; /* state-change events for the bus, in order; NULL: none */
} persist_job;

static int persist_write(sqlite3 *db, void *arg) {
    persist_job *j = arg;
    sqlite3_stmt *st;
    if (j->insert) {
        st = sl_store_cached(db, "INSERT INTO ecs_tasks (arn, cluster, family, started_by, "
                                 "launch_type, desired_status, last_status, created_ms, doc, "
                                 "runtime, container_instance) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                 "?7, ?8, ?9, ?10, ?11)");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, j->cluster, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, j->family, -1, SQLITE_STATIC);
        if (j->started_by) sqlite3_bind_text(st, 4, j->started_by, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, j->launch_type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, j->desired, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, j->last, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, j->created);
        sqlite3_bind_text(st, 9, j->doc, -1, SQLITE_STATIC);
        if (j->runtime) sqlite3_bind_text(st, 10, j->runtime, -1, SQLITE_STATIC);
        if (j->instance) sqlite3_bind_text(st, 11, j->instance, -1, SQLITE_STATIC);
    } else {
        st = sl_store_cached(db, "UPDATE ecs_tasks SET desired_status = ?2, last_status = ?3, "
                                 "doc = ?4, runtime = ?5 WHERE arn = ?1");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, j->desired, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, j->last, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, j->doc, -1, SQLITE_STATIC);
        if (j->runtime) sqlite3_bind_text(st, 5, j->runtime, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return -1;
    size_t i;
    json_t *ev;
    json_array_foreach(j->events, i, ev) {
        json_t *row = json_pack("{s:s, s:O}", "bus", "default", "event", ev);
        rc = sl_outbox_add(db, "event", row);
        json_decref(row);
        if (rc != 0) return -1;
    }
    if (json_array_size(j->events)) sl_store_commit_signal();
    return 0;
}

/* What a restart needs to clean up after this task: its process ids and its access key. */
static char *runtime_of(ecs_task *k) {
    json_t *pids = json_array();
    for (size_t i = 0; i < k->ncontainers; i++)
        if (k->containers[i].pid > 0 && !k->containers[i].has_exit)
            json_array_append_new(pids, json_integer(k->containers[i].pid));
    json_t *rt =
        json_pack("{s:o, s:s, s:s}", "pids", pids, "key", k->access_key, "workdir", k->workdir);
    char *s = json_dumps(rt, JSON_COMPACT);
    json_decref(rt);
    return s;
}

/* Appends k's state-change event to *events, unless no rule of the default bus wants it then.
 * Under t->mu, after doc_refresh. */
static void add_state_event(sl_tasks *t, ecs_task *k, json_t **events) {
    if (t->events && !sl_events_may_want(t->events, "default", "aws.ecs")) return;
    json_t *ev = state_change_event(t, k->doc);
    if (t->events && !sl_events_wanted(t->events, "default", ev)) {
        json_decref(ev);
        return;
    }
    if (!*events) *events = json_array();
    json_array_append_new(*events, ev);
}

/* The events a write of k carries: those held back, then this state's when the status changed.
 * Under t->mu, after doc_refresh. */
static json_t *take_events(sl_tasks *t, ecs_task *k, bool status_changed) {
    json_t *events = k->held_events;
    k->held_events = NULL;
    if (status_changed) add_state_event(t, k, &events);
    return events;
}

/* A state that is not written on its own: its event waits for the task's next write. */
static void hold_state(sl_tasks *t, ecs_task *k) {
    pthread_mutex_lock(&t->mu);
    k->version++;
    doc_refresh(k);
    add_state_event(t, k, &k->held_events);
    pthread_mutex_unlock(&t->mu);
}

/* RunTask's inserts. Each is queued before the task's start is posted, so every later write of
 * the task follows it, and RunTask answers once all of its inserts are durable, so a task the
 * caller has heard of survives a crash; the processes start meanwhile, without waiting for the
 * fsync. (A crash inside that window can leave a command that started with no record: the
 * caller got no answer and will ask again, the at-least-once every AWS client expects.) */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
} insert_batch;

typedef struct {
    persist_job job; /* the immutable fields point into the task, alive until this is applied */
    insert_batch *batch;
    json_t *reply; /* the task as RunTask answers it */
    char *arn;
    int rc;
} insert_job;

static void insert_done(void *arg, int rc) {
    insert_job *ij = arg;
    free(ij->job.doc);
    free(ij->job.runtime);
    json_decref(ij->job.events);
    insert_batch *b = ij->batch;
    pthread_mutex_lock(&b->mu);
    ij->rc = rc;
    if (--b->pending == 0) pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Makes k known (DescribeTasks sees it from now on) and queues its insert. */
static void insert_async(sl_tasks *t, ecs_task *k, insert_job *ij, insert_batch *b) {
    pthread_mutex_lock(&t->mu);
    k->version++;
    doc_refresh(k);
    ij->job = (persist_job){.insert = true,
                            .arn = k->arn,
                            .cluster = k->cluster_name,
                            .family = k->family,
                            .started_by = k->started_by,
                            .launch_type = k->launch_type,
                            .desired = (char *)k->desired_status,
                            .last = (char *)k->last_status,
                            .created = k->created,
                            .instance = k->instance_arn,
                            .doc = json_dumps(k->doc, JSON_COMPACT),
                            .runtime = runtime_of(k),
                            .events = take_events(t, k, true)};
    ij->reply = json_deep_copy(k->doc);
    ij->arn = sl_xstrdup(k->arn);
    ij->batch = b;
    task_link(t, k);
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_lock(&b->mu);
    b->pending++;
    pthread_mutex_unlock(&b->mu);
    sl_store_write_async(t->store, persist_write, insert_done, ij);
}

typedef struct {
    persist_job job;
    sl_tasks *t;
    ecs_task *k; /* finish: the task leaves memory once this write is durable */
    bool finish;
} async_persist;

static void finish_done(sl_tasks *t, ecs_task *k);

static void persist_async_done(void *arg, int rc) {
    async_persist *a = arg;
    if (rc != 0) sl_error("\"task state not stored\" task=%s rc=%d", a->job.arn, rc);
    if (a->finish) finish_done(a->t, a->k);
    free(a->job.arn);
    free(a->job.desired);
    free(a->job.last);
    free(a->job.doc);
    free(a->job.runtime);
    json_decref(a->job.events);
    sl_tasks *t = a->t;
    free(a);
    pthread_mutex_lock(&t->mu);
    if (--t->pending_writes == 0) pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* The same as persist() without waiting: status changes of running tasks are group-committed
 * with everything else (writes are applied in order). finish: k is dropped from memory, its
 * waiters told, once the write is durable (until then DescribeTasks reads it from memory). */
static void persist_async(sl_tasks *t, ecs_task *k, bool status_changed, bool finish) {
    async_persist *a = sl_xcalloc(1, sizeof *a);
    a->t = t;
    a->k = k;
    a->finish = finish;
    pthread_mutex_lock(&t->mu);
    k->version++;
    doc_refresh(k);
    a->job = (persist_job){.arn = sl_xstrdup(k->arn),
                           .desired = sl_xstrdup(k->desired_status),
                           .last = sl_xstrdup(k->last_status),
                           .doc = json_dumps(k->doc, JSON_COMPACT),
                           .runtime = runtime_of(k),
                           .events = take_events(t, k, status_changed)};
    t->pending_writes++;
    pthread_mutex_unlock(&t->mu);
    sl_store_write_async(t->store, persist_write, persist_async_done, a);
}

/* ---- the queue ---- */

static void post(sl_tasks *t, ecs_event *ev) {
    pthread_mutex_lock(&t->mu);
    ev->next = NULL;
    if (t->queue_tail) t->queue_tail->next = ev;
    else t->queue = ev;
    t->queue_tail = ev;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* ---- supervisor callbacks (supervisor thread: quick, no blocking) ---- */

static void on_line(void *ctx, sl_stream stream, const char *line, size_t len, int64_t ts) {
    ecs_container *c = ctx;
    (void)stream;
    if (!c->log_group) return; /* no awslogs: output is dropped, as with no log driver */
    bool wake = false;
    pthread_mutex_lock(&c->lines_mu);
    if (c->nlines < MAX_PENDING_LINES) {
        if (c->nlines == c->cap_lines) {
            c->cap_lines = c->cap_lines ? c->cap_lines * 2 : 64;
            c->lines = sl_xrealloc(c->lines, c->cap_lines * sizeof *c->lines);
        }
        c->lines[c->nlines].ts = ts;
        c->lines[c->nlines].text = sl_xstrndup(line, len);
        c->nlines++;
        wake = c->nlines % FLUSH_LINES == 0;
    } else {
        c->dropped_lines++;
    }
    pthread_mutex_unlock(&c->lines_mu);
    if (wake) { /* a flood: flush now rather than at the next tick */
        sl_tasks *t = c->task->svc;
        pthread_mutex_lock(&t->mu);
        t->flush_now = true;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
}

static void on_exit_cb(void *ctx, const sl_container_exit *x) {
    ecs_container *c = ctx;
    ecs_event *ev = sl_xcalloc(1, sizeof *ev);
    ev->kind = EV_EXIT;
    ev->task = c->task;
    ev->container = c->index;
    ev->exit = *x;
    post(c->task->svc, ev);
}

/* ---- logs ---- */

/* Ships what the containers printed since the last flush. Runner thread. */
static void flush_logs(sl_tasks *t, ecs_task *k) {
    for (size_t i = 0; i < k->ncontainers; i++) {
        ecs_container *c = &k->containers[i];
        if (!c->log_group) continue;
        pthread_mutex_lock(&c->lines_mu);
        ecs_line *lines = c->lines;
        size_t n = c->nlines, dropped = c->dropped_lines;
        c->lines = NULL;
        c->nlines = c->cap_lines = 0;
        c->dropped_lines = 0;
        pthread_mutex_unlock(&c->lines_mu);
        if (dropped)
            sl_warn("\"task output dropped\" task=%s container=%s lines=%zu", k->id, c->name,
                    dropped);
        if (!n) continue;
        if (t->logs) {
            sl_log_line *ll = sl_xcalloc(n, sizeof *ll);
            for (size_t j = 0; j < n; j++)
                ll[j] = (sl_log_line){lines[j].ts, lines[j].text, strlen(lines[j].text)};
            char err[256];
            if (sl_logs_append(t->logs, c->log_group, c->log_stream, c->log_create_group, ll, n,
                               err, sizeof err) != 0)
                sl_warn("\"task logs lost\" task=%s container=%s error=\"%s\"", k->id, c->name,
                        err);
            free(ll);
        }
        for (size_t j = 0; j < n; j++) free(lines[j].text);
        free(lines);
    }
}

/* ---- lifecycle (runner thread) ---- */

static void container_exited(sl_tasks *t, ecs_task *k, int idx, const sl_container_exit *x);

static void task_free(ecs_task *k) {
    for (size_t i = 0; i < k->ncontainers; i++) {
        ecs_container *c = &k->containers[i];
        if (c->handle) sl_container_release(c->handle);
        free(c->name);
        free(c->image);
        free(c->arn);
        free(c->reason);
        free(c->log_group);
        free(c->log_stream);
        json_decref(c->def);
        for (size_t j = 0; j < c->nlines; j++) free(c->lines[j].text);
        free(c->lines);
        pthread_mutex_destroy(&c->lines_mu);
    }
    free(k->containers);
    free(k->arn);
    free(k->id);
    free(k->cluster_arn);
    free(k->cluster_name);
    free(k->taskdef_arn);
    free(k->family);
    json_decref(k->taskdef);
    json_decref(k->overrides);
    json_decref(k->tags);
    free(k->launch_type);
    free(k->started_by);
    free(k->group);
    free(k->cpu);
    free(k->memory);
    free(k->stopped_reason);
    free(k->instance_arn);
    json_decref(k->doc);
    json_decref(k->held_events);
    free(k);
}

/* All containers have exited: logs, STOPPED, the waiters; then the task leaves memory. */
static void task_finish(sl_tasks *t, ecs_task *k) {
    k->finishing = true;
    k->last_status = "DEPROVISIONING";
    if (!k->execution_stopped) k->execution_stopped = sl_now_ms();
    hold_state(t, k); /* written with STOPPED: nothing to recover in between */
    flush_logs(t, k); /* queued before STOPPED, so durable no later than it */
    k->last_status = "STOPPED";
    k->desired_status = "STOPPED";
    k->stopped = sl_now_ms();
    sl_credentials_revoke(t->credentials, k->access_key);
    ecs_workdir_release(t, k->workdir, k->ncontainers ? k->containers[0].name : "");
    persist_async(t, k, true, true);
}

/* The STOPPED state is durable: the task leaves memory and its waiters hear of it. */
static void finish_done(sl_tasks *t, ecs_task *k) {
    pthread_mutex_lock(&t->mu);
    ecs_waiter *w = k->waiters;
    k->waiters = NULL;
    json_t *doc = w ? json_deep_copy(k->doc) : NULL;
    if (k->prev) k->prev->next = k->next;
    else t->tasks = k->next;
    if (k->next) k->next->prev = k->prev;
    pthread_mutex_unlock(&t->mu);
    for (ecs_waiter *nx; w; w = nx) {
        nx = w->next;
        w->fn(w->ctx, doc);
        free(w);
    }
    json_decref(doc);
    task_free(k);
}

static void stop_containers(ecs_task *k) {
    if (k->instance_arn) {
        ecs_agent_send_stop(k->svc, k->instance_arn, k->arn);
        return;
    }
    for (size_t i = 0; i < k->ncontainers; i++) {
        ecs_container *c = &k->containers[i];
        if (c->handle && !c->has_exit) sl_container_stop(c->handle);
    }
}

static void begin_stopping(sl_tasks *t, ecs_task *k, const char *code, const char *reason) {
    if (!strcmp(k->desired_status, "STOPPED")) return;
    k->desired_status = "STOPPED";
    k->stop_code = code;
    free(k->stopped_reason);
    k->stopped_reason = sl_xstrdup(reason);
    k->stopping = sl_now_ms();
    /* with nothing left running, task_finish follows at once and writes it all */
    if (k->running > 0 || k->instance_arn) persist_async(t, k, false, false);
    stop_containers(k);
}

/* EXTERNAL: the containers' launch specs go to the agent, which reports back. */
static void task_start_external(sl_tasks *t, ecs_task *k) {
    k->last_status = "PENDING";
    k->pull_started = sl_now_ms();
    persist_async(t, k, true, false);
    int64_t expires = sl_now_ms() + 7 * 24 * 3600 * 1000LL;
    sl_credentials_issue(t->credentials, expires, k->access_key, k->secret);
    json_t *cs = json_array();
    for (size_t i = 0; i < k->ncontainers; i++) {
        ecs_container *c = &k->containers[i];
        ecs_launch l;
        if (!ecs_launch_prepare(t, c, &l)) {
            c->reason = sl_xstrdup(l.reason);
            ecs_launch_free(&l);
            json_decref(cs);
            for (size_t j = 0; j < k->ncontainers; j++) k->containers[j].last_status = "STOPPED";
            begin_stopping(t, k, "TaskFailedToStart", "Task failed to start");
            task_finish(t, k);
            return;
        }
        json_t *argv = json_array(), *env = json_array();
        for (char **p = l.argv; p && *p; p++) json_array_append_new(argv, json_string(*p));
        for (char **p = l.envp; p && *p; p++) json_array_append_new(env, json_string(*p));
        json_t *mem = json_object_get(c->def, "memory");
        json_t *res = json_object_get(c->def, "memoryReservation");
        json_t *cpu = json_object_get(c->def, "cpu");
        json_t *sto = json_object_get(c->def, "stopTimeout");
        json_array_append_new(
            cs, json_pack(
                    "{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:b, s:b}", "name", c->name, "image",
                    l.image, "argv", argv, "env", env, "cpuUnits",
                    (json_int_t)(cpu ? json_integer_value(cpu) : 0), "memoryMiB",
                    (json_int_t)(mem ? json_integer_value(mem) : (k->memory ? atoi(k->memory) : 0)),
                    "memoryReservationMiB", (json_int_t)(res ? json_integer_value(res) : 0),
                    "stopTimeoutSeconds", (json_int_t)(sto ? json_integer_value(sto) : 30),
                    "noNetwork", json_is_true(json_object_get(c->def, "disableNetworking")),
                    "essential", c->essential));
        ecs_launch_free(&l);
    }
    json_t *entry =
        json_pack("{s:s, s:s, s:o}", "taskArn", k->arn, "taskId", k->id, "containers", cs);
    ecs_agent_send_start(t, k->instance_arn, entry);
    json_decref(entry);
    k->pull_stopped = sl_now_ms();
}

/* An agent's report: containers RUNNING or STOPPED (with exit code or reason). */
static void apply_report(sl_tasks *t, ecs_task *k, json_t *containers) {
    if (!strcmp(k->last_status, "STOPPED")) return;
    size_t n;
    json_t *r;
    bool changed = false;
    json_array_foreach(containers, n, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        const char *status = json_string_value(json_object_get(r, "status"));
        if (!name || !status) continue;
        for (size_t i = 0; i < k->ncontainers; i++) {
            ecs_container *c = &k->containers[i];
            if (strcmp(c->name, name) != 0) continue;
            if (!strcmp(status, "RUNNING") && !strcmp(c->last_status, "PENDING")) {
                c->last_status = "RUNNING";
                json_t *pid = json_object_get(r, "pid");
                c->pid = pid ? (int)json_integer_value(pid) : 0;
                c->started_ms = sl_now_ms();
                k->running++;
                changed = true;
            } else if (!strcmp(status, "STOPPED") && strcmp(c->last_status, "STOPPED") != 0) {
                sl_container_exit x = {.exit_code = -1};
                json_t *code = json_object_get(r, "exitCode");
                const char *reason = json_string_value(json_object_get(r, "reason"));
                bool never_ran = !strcmp(c->last_status, "PENDING");
                if (code) x.exit_code = (int)json_integer_value(code);
                x.start_failed = !code && never_ran;
                if (reason) snprintf(x.reason, sizeof x.reason, "%s", reason);
                if (never_ran) k->running++; /* container_exited counts it down */
                bool last = k->running <= 1;
                container_exited(t, k, (int)i, &x);
                if (last) return; /* the task finished and is freed */
            }
        }
    }
    if (changed && strcmp(k->last_status, "RUNNING") != 0) {
        k->last_status = "RUNNING";
        k->started = sl_now_ms();
        persist_async(t, k, true, false);
    } else if (changed) {
        persist_async(t, k, false, false);
    }
}

/* The agent is gone: its tasks end. */
static bool in_list(json_t *list, const char *arn) {
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (!strcmp(json_string_value(v), arn)) return true;
    }
    return false;
}

/* only: the task ARNs to end (NULL: all of the instance's). */
static void instance_lost(sl_tasks *t, const char *instance_arn, json_t *only) {
    for (;;) {
        pthread_mutex_lock(&t->mu);
        ecs_task *k = t->tasks;
        while (k && (!k->instance_arn || strcmp(k->instance_arn, instance_arn) ||
                     !strcmp(k->last_status, "STOPPED") || (only && !in_list(only, k->arn))))
            k = k->next;
        pthread_mutex_unlock(&t->mu);
        if (!k) return;
        k->desired_status = "STOPPED";
        k->stop_code = "TerminationNotice";
        free(k->stopped_reason);
        k->stopped_reason = sl_xstrdup("The container instance's agent stopped responding; its "
                                       "tasks are lost");
        if (!k->stopping) k->stopping = sl_now_ms();
        for (size_t i = 0; i < k->ncontainers; i++) {
            ecs_container *c = &k->containers[i];
            if (strcmp(c->last_status, "STOPPED") != 0) {
                c->last_status = "STOPPED";
                if (!c->reason) c->reason = sl_xstrdup("Container instance agent disconnected");
            }
        }
        k->running = 0;
        task_finish(t, k);
    }
}

static void task_start(sl_tasks *t, ecs_task *k) {
    if (k->instance_arn && strcmp(k->desired_status, "STOPPED") != 0) {
        task_start_external(t, k);
        return;
    }
    if (!strcmp(k->desired_status, "STOPPED")) { /* stopped before it started */
        for (size_t i = 0; i < k->ncontainers; i++) k->containers[i].last_status = "STOPPED";
        task_finish(t, k);
        return;
    }
    k->last_status = "PENDING";
    k->pull_started = sl_now_ms();
    hold_state(t, k); /* written with RUNNING (or the failure): no process yet to recover */
    int64_t expires = sl_now_ms() + 7 * 24 * 3600 * 1000LL;
    sl_credentials_issue(t->credentials, expires, k->access_key, k->secret);
    char err[512] = "";
    bool failed = false;
    for (size_t i = 0; i < k->ncontainers && !failed; i++) {
        ecs_container *c = &k->containers[i];
        char dir[1500];
        snprintf(dir, sizeof dir, "%.1200s/%.255s", k->workdir, c->name);
        if (i == 0 ? ecs_workdir_make(t, k->workdir, c->name) : mkdir(dir, 0700))
            sl_warn("\"cannot make the task's directory\" path=%s errno=%d", dir, errno);
        ecs_launch l;
        if (!t->supervisor) {
            snprintf(l.reason, sizeof l.reason, "CannotStartContainerError: %s", t->supervisor_err);
            memset(&l, 0, offsetof(ecs_launch, reason));
            failed = true;
        } else if (!ecs_launch_prepare(t, c, &l)) {
            failed = true;
        }
        if (failed) {
            c->reason = sl_xstrdup(l.reason);
            ecs_launch_free(&l);
            break;
        }
        json_t *mem = json_object_get(c->def, "memory");
        json_t *res = json_object_get(c->def, "memoryReservation");
        json_t *cpu = json_object_get(c->def, "cpu");
        json_t *stop_to = json_object_get(c->def, "stopTimeout");
        int mem_mib = mem ? (int)json_integer_value(mem) : (k->memory ? atoi(k->memory) : 0);
        sl_container_spec spec = {
            .image = l.image,
            .argv = l.argv,
            .envp = l.envp,
            .workdir = dir,
            .cpu_units = cpu ? (int)json_integer_value(cpu) : 0,
            .memory_mib = mem_mib,
            .memory_reservation_mib = res ? (int)json_integer_value(res) : 0,
            .stop_timeout_s = stop_to ? (int)json_integer_value(stop_to) : 30,
            .no_network = json_is_true(json_object_get(c->def, "disableNetworking")),
            .docker_socket = t->cfg->docker_socket,
            .name = c->arn,
            .on_line = on_line,
            .on_exit = on_exit_cb,
            .ctx = c,
        };
        if (sl_container_start(t->supervisor, &spec, &c->handle, err, sizeof err) != 0) {
            char reason[700];
            snprintf(reason, sizeof reason, "CannotStartContainerError: %s", err);
            c->reason = sl_xstrdup(reason);
            failed = true;
        } else {
            c->pid = sl_container_pid(c->handle);
            c->started_ms = sl_now_ms();
            c->last_status = "RUNNING";
            k->running++;
        }
        ecs_launch_free(&l);
    }
    k->pull_stopped = sl_now_ms();
    if (failed) {
        for (size_t i = 0; i < k->ncontainers; i++)
            if (!k->containers[i].handle) k->containers[i].last_status = "STOPPED";
        k->desired_status = "RUNNING"; /* begin_stopping changes it */
        begin_stopping(t, k, "TaskFailedToStart", "Task failed to start");
        if (k->running == 0) task_finish(t, k);
        return;
    }
    k->last_status = "RUNNING";
    k->started = sl_now_ms();
    persist_async(t, k, true, false);
}

static void container_exited(sl_tasks *t, ecs_task *k, int idx, const sl_container_exit *x) {
    ecs_container *c = &k->containers[idx];
    c->has_exit = !x->start_failed;
    c->exit_code = x->exit_code;
    c->last_status = "STOPPED";
    if (x->reason[0] && !c->reason) c->reason = sl_xstrdup(x->reason);
    if (k->running) k->running--;
    if (c->essential && strcmp(k->desired_status, "STOPPED") != 0) {
        if (x->start_failed) begin_stopping(t, k, "TaskFailedToStart", "Task failed to start");
        else begin_stopping(t, k, "EssentialContainerExited", "Essential container in task exited");
    } else {
        persist_async(t, k, false, false);
    }
    if (k->running == 0) task_finish(t, k);
}

static ecs_task *find_locked(sl_tasks *t, const char *arn_or_id);

static void handle(sl_tasks *t, ecs_event *ev) {
    ecs_task *k = ev->task;
    if (ev->task_arn) { /* posted from another thread: the task may have ended since */
        pthread_mutex_lock(&t->mu);
        k = find_locked(t, ev->task_arn);
        pthread_mutex_unlock(&t->mu);
    }
    if (ev->kind != EV_LOST && (!k || k->finishing)) return;
    switch (ev->kind) {
    case EV_START: task_start(t, k); break;
    case EV_EXIT: container_exited(t, k, ev->container, &ev->exit); break;
    case EV_REPORT: apply_report(t, k, ev->report); break;
    case EV_LOST: instance_lost(t, ev->reason, ev->report); break;
    case EV_STOP:
        if (!strcmp(k->last_status, "STOPPED")) break;
        if (!strcmp(k->last_status, "PROVISIONING")) {
            /* not started yet: EV_START (queued before us) sees desired STOPPED */
            k->desired_status = "STOPPED";
            k->stop_code = "UserInitiated";
            free(k->stopped_reason);
            k->stopped_reason = sl_xstrdup(ev->reason ? ev->reason : "Task stopped by user");
            break;
        }
        begin_stopping(t, k, "UserInitiated", ev->reason ? ev->reason : "Task stopped by user");
        break;
    }
}

static void *runner_main(void *arg) {
    sl_tasks *t = arg;
    int64_t flushed_ms = 0;
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        if (!t->queue && !t->flush_now) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        }
        ecs_event *ev = t->queue;
        t->queue = t->queue_tail = NULL;
        /* Output goes to the logs every 200 ms, or at once for a flood (flush_now), not on every
         * wake-up: a burst of task events would otherwise walk every running task each time. */
        int64_t now = sl_mono_ms();
        bool flush = t->flush_now || now - flushed_ms >= 200;
        t->flush_now = false;
        if (flush) flushed_ms = now;
        size_t nrun = 0, cap = 0;
        ecs_task **running = NULL;
        for (ecs_task *k = flush ? t->tasks : NULL; k; k = k->next) {
            if (strcmp(k->last_status, "RUNNING") && strcmp(k->last_status, "PENDING")) continue;
            if (nrun == cap) {
                cap = cap ? cap * 2 : 16;
                running = sl_xrealloc(running, cap * sizeof *running);
            }
            running[nrun++] = k;
        }
        pthread_mutex_unlock(&t->mu);
        /* only this thread frees tasks, so the pointers stay good while it flushes */
        for (size_t i = 0; i < nrun; i++) flush_logs(t, running[i]);
        free(running);
        ecs_agents_tick(t);
        json_t *lost = ecs_agents_expire(t);
        size_t li;
        json_t *la;
        json_array_foreach(lost, li, la) { instance_lost(t, json_string_value(la), NULL); }
        json_decref(lost);
        for (ecs_event *nx; ev; ev = nx) {
            nx = ev->next;
            handle(t, ev);
            free(ev->reason);
            free(ev->task_arn);
            json_decref(ev->report);
            free(ev);
        }
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int ecs_runner_start(sl_tasks *t, char *err, size_t errlen) {
    if (pthread_create(&t->thread, NULL, runner_main, t) != 0) {
        snprintf(err, errlen, "ecs: cannot start the runner thread");
        return -1;
    }
    pthread_setname_np(t->thread, "sl-ecs-runner");
    t->started = true;
    return 0;
}

void ecs_runner_stop(sl_tasks *t) {
    if (!t->started) return;
    /* kill what still runs; the supervisor reports the exits, which we no longer record */
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    t->started = false;
    if (t->supervisor) {
        sl_supervisor_free(t->supervisor); /* kills the containers, calls on_exit */
        t->supervisor = NULL;
    }
    for (ecs_event *ev = t->queue, *nx; ev; ev = nx) {
        nx = ev->next;
        free(ev->reason);
        free(ev->task_arn);
        json_decref(ev->report);
        free(ev);
    }
    /* writes in flight end with callbacks that touch tasks: let them land first */
    pthread_mutex_lock(&t->mu);
    while (t->pending_writes > 0) pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    t->queue = t->queue_tail = NULL;
    for (ecs_task *k = t->tasks, *nx; k; k = nx) {
        nx = k->next;
        for (ecs_waiter *w = k->waiters, *nw; w; w = nw) {
            nw = w->next;
            free(w);
        }
        task_free(k);
    }
    t->tasks = NULL;
}

/* ---- RunTask ---- */

static json_t *failure(const char *arn, const char *reason, const char *detail) {
    json_t *f = json_pack("{s:s, s:s}", "arn", arn, "reason", reason);
    if (detail) json_object_set_new(f, "detail", json_string(detail));
    return f;
}

static json_t *find_override(json_t *overrides, const char *name) {
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(overrides, "containerOverrides"), i, o) {
        const char *n = json_string_value(json_object_get(o, "name"));
        if (n && !strcmp(n, name)) return o;
    }
    return NULL;
}

static ecs_task *task_new(sl_tasks *t, json_t *td, json_t *req, const char *cluster,
                          const char *launch_type) {
    ecs_task *k = sl_xcalloc(1, sizeof *k);
    k->svc = t;
    char id[33], rest[400], arn[512];
    sl_id_hex(id, 16);
    k->id = sl_xstrdup(id);
    snprintf(rest, sizeof rest, "%s/%s", cluster, id);
    ecs_arn(t, "task", rest, arn, sizeof arn);
    k->arn = sl_xstrdup(arn);
    ecs_arn(t, "cluster", cluster, arn, sizeof arn);
    k->cluster_arn = sl_xstrdup(arn);
    k->cluster_name = sl_xstrdup(cluster);
    k->taskdef_arn = sl_xstrdup(json_string_value(json_object_get(td, "taskDefinitionArn")));
    k->family = sl_xstrdup(json_string_value(json_object_get(td, "family")));
    k->revision = (int)json_integer_value(json_object_get(td, "revision"));
    k->taskdef = json_incref(td);
    json_t *ov = json_object_get(req, "overrides");
    k->overrides = ov ? json_deep_copy(ov) : json_object();
    if (!json_object_get(k->overrides, "containerOverrides"))
        json_object_set_new(k->overrides, "containerOverrides", json_array());
    if (!json_object_get(k->overrides, "inferenceAcceleratorOverrides"))
        json_object_set_new(k->overrides, "inferenceAcceleratorOverrides", json_array());
    json_t *tags = json_object_get(req, "tags");
    k->tags = tags ? json_incref(tags) : json_array();
    k->launch_type = sl_xstrdup(launch_type);
    const char *sb = json_string_value(json_object_get(req, "startedBy"));
    if (sb) k->started_by = sl_xstrdup(sb);
    const char *group = json_string_value(json_object_get(req, "group"));
    char g[300];
    snprintf(g, sizeof g, "family:%s", k->family);
    k->group = sl_xstrdup(group ? group : g);
    const char *cpu = json_string_value(json_object_get(ov, "cpu"));
    if (!cpu) cpu = json_string_value(json_object_get(td, "cpu"));
    const char *mem = json_string_value(json_object_get(ov, "memory"));
    if (!mem) mem = json_string_value(json_object_get(td, "memory"));
    if (cpu) k->cpu = sl_xstrdup(cpu);
    if (mem) k->memory = sl_xstrdup(mem);
    k->last_status = "PROVISIONING";
    k->desired_status = "RUNNING";
    k->created = sl_now_ms();
    snprintf(k->workdir, sizeof k->workdir, "%.1000s/tasks/%s", t->data_dir, id);
    json_t *defs = json_object_get(td, "containerDefinitions");
    k->ncontainers = json_array_size(defs);
    k->containers = sl_xcalloc(k->ncontainers ? k->ncontainers : 1, sizeof *k->containers);
    for (size_t i = 0; i < k->ncontainers; i++) {
        ecs_container *c = &k->containers[i];
        json_t *d = json_array_get(defs, i);
        c->task = k;
        c->index = (int)i;
        pthread_mutex_init(&c->lines_mu, NULL);
        c->name = sl_xstrdup(json_string_value(json_object_get(d, "name")));
        c->image = sl_xstrdup(json_string_value(json_object_get(d, "image")));
        c->def = json_deep_copy(d);
        json_t *o = find_override(k->overrides, c->name);
        static const char *const fields[] = {"cpu", "memory", "memoryReservation"};
        for (size_t f = 0; f < 3; f++)
            if (o && json_object_get(o, fields[f]))
                json_object_set(c->def, fields[f], json_object_get(o, fields[f]));
        json_t *ess = json_object_get(d, "essential");
        c->essential = !ess || json_is_true(ess);
        c->last_status = "PENDING";
        char uuid[37];
        sl_id_uuid(uuid);
        snprintf(rest, sizeof rest, "%s/%s/%s", cluster, id, uuid);
        ecs_arn(t, "container", rest, arn, sizeof arn);
        c->arn = sl_xstrdup(arn);
        json_t *lc = json_object_get(d, "logConfiguration");
        const char *driver = json_string_value(json_object_get(lc, "logDriver"));
        json_t *opts = json_object_get(lc, "options");
        const char *lg = json_string_value(json_object_get(opts, "awslogs-group"));
        if (driver && !strcmp(driver, "awslogs") && lg) {
            const char *prefix = json_string_value(json_object_get(opts, "awslogs-stream-prefix"));
            char stream[600];
            if (prefix) snprintf(stream, sizeof stream, "%s/%s/%s", prefix, c->name, id);
            else snprintf(stream, sizeof stream, "%s/%s", c->name, id);
            c->log_group = sl_xstrdup(lg);
            c->log_stream = sl_xstrdup(stream);
            const char *cg = json_string_value(json_object_get(opts, "awslogs-create-group"));
            c->log_create_group = cg && !strcmp(cg, "true");
        }
    }
    return k;
}

json_t *sl_tasks_run(sl_tasks *t, json_t *req, char *code, size_t codelen, char *msg,
                     size_t msglen) {
    const char *tdref = json_string_value(json_object_get(req, "taskDefinition"));
    if (!tdref) {
        snprintf(code, codelen, "InvalidParameterException");
        snprintf(msg, msglen, "taskDefinition is required");
        return NULL;
    }
    const char *cluster = ecs_cluster_name(json_string_value(json_object_get(req, "cluster")));
    if (!ecs_cluster_exists(t, cluster)) {
        snprintf(code, codelen, "ClusterNotFoundException");
        snprintf(msg, msglen, "Cluster not found.");
        return NULL;
    }
    json_t *cnt = json_object_get(req, "count");
    json_int_t count = cnt ? json_integer_value(cnt) : 1;
    if (cnt && (!json_is_integer(cnt) || count < 1 || count > 10)) {
        snprintf(code, codelen, "InvalidParameterException");
        snprintf(msg, msglen, "count must be between 1 and 10");
        return NULL;
    }
    const char *lt = json_string_value(json_object_get(req, "launchType"));
    if (!lt) lt = "EC2";
    if (strcmp(lt, "EC2") && strcmp(lt, "FARGATE") && strcmp(lt, "EXTERNAL")) {
        snprintf(code, codelen, "InvalidParameterException");
        snprintf(msg, msglen, "launchType must be EC2, FARGATE or EXTERNAL");
        return NULL;
    }
    const char *sb = json_string_value(json_object_get(req, "startedBy"));
    if (sb && strlen(sb) > 36) {
        snprintf(code, codelen, "InvalidParameterException");
        snprintf(msg, msglen, "startedBy may be at most 36 characters");
        return NULL;
    }
    bool inactive;
    json_t *td = ecs_taskdef_get(t, tdref, &inactive);
    if (!td || inactive) {
        json_decref(td);
        snprintf(code, codelen, "InvalidParameterException");
        snprintf(msg, msglen,
                 inactive ? "TaskDefinition is inactive" : "TaskDefinition not found.");
        return NULL;
    }
    json_t *defs = json_object_get(td, "containerDefinitions");
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(json_object_get(req, "overrides"), "containerOverrides"), i,
                       o) {
        const char *n = json_string_value(json_object_get(o, "name"));
        bool found = false;
        size_t j;
        json_t *d;
        json_array_foreach(defs, j, d) {
            const char *dn = json_string_value(json_object_get(d, "name"));
            if (n && dn && !strcmp(n, dn)) found = true;
        }
        if (!found) {
            json_decref(td);
            snprintf(code, codelen, "InvalidParameterException");
            snprintf(msg, msglen,
                     "Override for container named %s is not a container in the TaskDefinition.",
                     n ? n : "(none)");
            return NULL;
        }
    }
    json_t *tasks = json_array(), *failures = json_array();
    char cluster_arn[300];
    ecs_arn(t, "cluster", cluster, cluster_arn, sizeof cluster_arn);
    /* what cannot run here is answered in failures, as ECS answers what cannot be placed */
    char reason[600] = "";
    const char *why = NULL;
    char instance[400] = "";
    /* StartTask names the instance (an internal field: RunTask's model has no such member) */
    const char *forced = json_string_value(json_object_get(req, "_containerInstance"));
    if (forced) {
        if (!ecs_agent_connected(t, cluster, forced, instance, sizeof instance)) why = "MISSING";
    } else if (!strcmp(lt, "EXTERNAL") && !ecs_agent_pick(t, cluster, instance, sizeof instance)) {
        why = "No Container Instances were found in your cluster.";
    } else if (!t->supervisor && strcmp(lt, "EXTERNAL") != 0) {
        snprintf(reason, sizeof reason, "Tasks cannot run on this machine: %s", t->supervisor_err);
        why = "RESOURCE:CPU";
    } else {
        json_t *d;
        json_array_foreach(defs, i, d) {
            if (!ecs_image_runnable(t, json_string_value(json_object_get(d, "image")), reason,
                                    sizeof reason)) {
                why = "CannotPullContainerError";
                break;
            }
        }
    }
    insert_batch batch = {.pending = 0};
    pthread_mutex_init(&batch.mu, NULL);
    pthread_cond_init(&batch.cv, NULL);
    insert_job *inserts = sl_xcalloc((size_t)count, sizeof *inserts);
    size_t ninserts = 0;
    for (json_int_t n = 0; n < count; n++) {
        if (why) {
            json_array_append_new(
                failures, failure(!strcmp(why, "CannotPullContainerError")
                                      ? json_string_value(json_object_get(td, "taskDefinitionArn"))
                                      : cluster_arn,
                                  why, reason[0] ? reason : NULL));
            continue;
        }
        ecs_task *k = task_new(t, td, req, cluster, lt);
        if (instance[0]) k->instance_arn = sl_xstrdup(instance);
        insert_async(t, k, &inserts[ninserts++], &batch);
        ecs_event *ev = sl_xcalloc(1, sizeof *ev);
        ev->kind = EV_START;
        ev->task = k;
        post(t, ev);
    }
    pthread_mutex_lock(&batch.mu);
    while (batch.pending) pthread_cond_wait(&batch.cv, &batch.mu);
    pthread_mutex_unlock(&batch.mu);
    for (size_t n = 0; n < ninserts; n++) {
        insert_job *ij = &inserts[n];
        if (ij->rc == 0) {
            json_array_append(tasks, ij->reply);
        } else { /* not recorded: stop what started; the caller hears it failed */
            json_array_append_new(failures, failure(ij->arn, "INTERNAL", "the store failed"));
            ecs_event *ev = sl_xcalloc(1, sizeof *ev);
            ev->kind = EV_STOP;
            ev->task_arn = sl_xstrdup(ij->arn);
            ev->reason = sl_xstrdup("The task could not be recorded");
            post(t, ev);
        }
        json_decref(ij->reply);
        free(ij->arn);
    }
    free(inserts);
    pthread_mutex_destroy(&batch.mu);
    pthread_cond_destroy(&batch.cv);
    json_decref(td);
    return json_pack("{s:o, s:o}", "tasks", tasks, "failures", failures);
}

/* ---- queries and requests from other threads ---- */

static ecs_task *find_locked(sl_tasks *t, const char *arn_or_id) {
    for (ecs_task *k = t->tasks; k; k = k->next)
        if (!strcmp(k->arn, arn_or_id) || !strcmp(k->id, arn_or_id)) return k;
    return NULL;
}

json_t *ecs_task_doc(sl_tasks *t, const char *arn_or_id) {
    pthread_mutex_lock(&t->mu);
    ecs_task *k = find_locked(t, arn_or_id);
    json_t *d = k && k->doc ? json_deep_copy(k->doc) : NULL;
    pthread_mutex_unlock(&t->mu);
    return d;
}

void ecs_task_stop(sl_tasks *t, const char *arn, const char *reason) {
    pthread_mutex_lock(&t->mu);
    ecs_task *k = find_locked(t, arn);
    pthread_mutex_unlock(&t->mu);
    if (!k) return;
    ecs_event *ev = sl_xcalloc(1, sizeof *ev);
    ev->kind = EV_STOP;
    ev->task_arn = sl_xstrdup(arn);
    ev->reason = reason ? sl_xstrdup(reason) : NULL;
    post(t, ev);
}

void sl_tasks_stop(sl_tasks *t, const char *task_arn, const char *reason) {
    ecs_task_stop(t, task_arn, reason);
}

/* A stopped task's stored document, or NULL. */
static json_t *stored_doc(sl_tasks *t, const char *arn) {
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st = sl_store_cached(db, "SELECT doc FROM ecs_tasks WHERE arn = ?1");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    json_t *d = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        d = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    return d;
}

bool sl_tasks_when_stopped(sl_tasks *t, const char *task_arn, void (*fn)(void *ctx, json_t *task),
                           void *ctx) {
    pthread_mutex_lock(&t->mu);
    ecs_task *k = find_locked(t, task_arn);
    if (k) {
        ecs_waiter *w = sl_xcalloc(1, sizeof *w);
        w->fn = fn;
        w->ctx = ctx;
        w->next = k->waiters;
        k->waiters = w;
    }
    pthread_mutex_unlock(&t->mu);
    if (k) return true;
    json_t *d = stored_doc(t, task_arn);
    if (!d) return false;
    const char *ls = json_string_value(json_object_get(d, "lastStatus"));
    bool stopped = ls && !strcmp(ls, "STOPPED");
    if (stopped) fn(ctx, d);
    json_decref(d);
    return stopped;
}

void ecs_task_report(sl_tasks *t, const char *task_arn, json_t *containers) {
    pthread_mutex_lock(&t->mu);
    ecs_task *k = find_locked(t, task_arn);
    pthread_mutex_unlock(&t->mu);
    if (!k) return;
    ecs_event *ev = sl_xcalloc(1, sizeof *ev);
    ev->kind = EV_REPORT;
    ev->task_arn = sl_xstrdup(task_arn);
    ev->report = json_incref(containers);
    post(t, ev);
}

int ecs_task_log_lines(sl_tasks *t, const char *task_arn, const char *container, json_t *lines,
                       char *err, size_t errlen) {
    char group[512] = "", stream[700] = "";
    bool create = false;
    pthread_mutex_lock(&t->mu);
    ecs_task *k = find_locked(t, task_arn);
    for (size_t i = 0; k && i < k->ncontainers; i++) {
        ecs_container *c = &k->containers[i];
        if (!strcmp(c->name, container) && c->log_group) {
            snprintf(group, sizeof group, "%s", c->log_group);
            snprintf(stream, sizeof stream, "%s", c->log_stream);
            create = c->log_create_group;
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (!k) {
        snprintf(err, errlen, "no such task %s", task_arn);
        return -1;
    }
    if (!group[0] || !t->logs) return 0; /* no awslogs: dropped */
    size_t n = json_array_size(lines);
    if (!n) return 0;
    sl_log_line *ll = sl_xcalloc(n, sizeof *ll);
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(lines, i);
        const char *m = json_string_value(json_object_get(l, "message"));
        ll[i] = (sl_log_line){json_integer_value(json_object_get(l, "timestamp")), m ? m : "",
                              m ? strlen(m) : 0};
    }
    int rc = sl_logs_append(t->logs, group, stream, create, ll, n, err, errlen);
    free(ll);
    return rc;
}

bool ecs_task_wanted(sl_tasks *t, const char *task_arn, const char *instance_arn) {
    pthread_mutex_lock(&t->mu);
    ecs_task *k = find_locked(t, task_arn);
    bool ok = k && k->instance_arn && !strcmp(k->instance_arn, instance_arn) &&
              strcmp(k->last_status, "STOPPED") != 0;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

/* ---- the metadata endpoint's documents ---- */

static json_t *container_meta(ecs_task *k, ecs_container *c) {
    json_t *labels =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "com.amazonaws.ecs.cluster", k->cluster_arn,
                  "com.amazonaws.ecs.container-name", c->name, "com.amazonaws.ecs.task-arn", k->arn,
                  "com.amazonaws.ecs.task-definition-family", k->family,
                  "com.amazonaws.ecs.task-definition-version", "");
    char rev[16];
    snprintf(rev, sizeof rev, "%d", k->revision);
    json_object_set_new(labels, "com.amazonaws.ecs.task-definition-version", json_string(rev));
    char docker_id[64];
    snprintf(docker_id, sizeof docker_id, "%s-%d", k->id, c->index);
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s}", "DockerId", docker_id,
                          "Name", c->name, "DockerName", c->name, "Image", c->image, "Labels",
                          labels, "DesiredStatus", k->desired_status, "KnownStatus", c->last_status,
                          "Type", "NORMAL", "ContainerARN", c->arn);
    json_t *limits = json_object();
    json_t *v;
    if ((v = json_object_get(c->def, "cpu"))) json_object_set(limits, "CPU", v);
    if ((v = json_object_get(c->def, "memory"))) json_object_set(limits, "Memory", v);
    json_object_set_new(m, "Limits", limits);
    if (c->started_ms) {
        char iso[32];
        sl_time_iso8601_ms(c->started_ms, iso);
        json_object_set_new(m, "StartedAt", json_string(iso));
    }
    if (c->has_exit) json_object_set_new(m, "ExitCode", json_integer(c->exit_code));
    if (c->log_group) {
        json_object_set_new(m, "LogDriver", json_string("awslogs"));
        json_object_set_new(m, "LogOptions",
                            json_pack("{s:s, s:s}", "awslogs-group", c->log_group, "awslogs-stream",
                                      c->log_stream));
    }
    return m;
}

json_t *ecs_metadata(sl_tasks *t, const char *task_id, const char *container, bool task_level) {
    pthread_mutex_lock(&t->mu);
    ecs_task *k = find_locked(t, task_id);
    json_t *out = NULL;
    if (k) {
        ecs_container *c = NULL;
        for (size_t i = 0; i < k->ncontainers; i++)
            if (!strcmp(k->containers[i].name, container)) c = &k->containers[i];
        if (c && !task_level) {
            out = container_meta(k, c);
        } else if (c) {
            char rev[16];
            snprintf(rev, sizeof rev, "%d", k->revision);
            json_t *cs = json_array();
            for (size_t i = 0; i < k->ncontainers; i++)
                json_array_append_new(cs, container_meta(k, &k->containers[i]));
            out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "Cluster",
                            k->cluster_arn, "TaskARN", k->arn, "Family", k->family, "Revision", rev,
                            "DesiredStatus", k->desired_status, "KnownStatus", k->last_status,
                            "LaunchType", k->launch_type, "Containers", cs, "AvailabilityZone",
                            "local");
            if (k->cpu || k->memory) {
                json_t *lim = json_object();
                if (k->cpu) json_object_set_new(lim, "CPU", json_real(atof(k->cpu) / 1024.0));
                if (k->memory) json_object_set_new(lim, "Memory", json_integer(atoi(k->memory)));
                json_object_set_new(out, "Limits", lim);
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    return out;
}

/* ---- restart ---- */

/* An EXTERNAL task from its stored document, so its agent's reports land after a restart. */
static void adopt_external(sl_tasks *t, json_t *doc, const char *instance) {
    const char *tdarn = json_string_value(json_object_get(doc, "taskDefinitionArn"));
    json_t *td = tdarn ? ecs_taskdef_get(t, tdarn, NULL) : NULL;
    if (!td) return;
    json_t *req =
        json_pack("{s:O?, s:O?, s:O?, s:O?}", "overrides", json_object_get(doc, "overrides"),
                  "tags", json_object_get(doc, "tags"), "startedBy",
                  json_object_get(doc, "startedBy"), "group", json_object_get(doc, "group"));
    const char *cluster_arn = json_string_value(json_object_get(doc, "clusterArn"));
    ecs_task *k = task_new(t, td, req, ecs_cluster_name(cluster_arn), "EXTERNAL");
    json_decref(req);
    json_decref(td);
    const char *arn = json_string_value(json_object_get(doc, "taskArn"));
    free(k->arn);
    k->arn = sl_xstrdup(arn);
    /* task_new named things after a fresh id: give them the task's own back */
    const char *real_id = strrchr(arn, '/') + 1;
    for (size_t ci = 0; ci < k->ncontainers; ci++) {
        ecs_container *cc = &k->containers[ci];
        size_t n = cc->log_stream ? strlen(cc->log_stream) : 0, idn = strlen(k->id);
        if (n >= idn && !strcmp(cc->log_stream + n - idn, k->id)) {
            char *stream = sl_xmalloc(n - idn + strlen(real_id) + 1);
            memcpy(stream, cc->log_stream, n - idn);
            strcpy(stream + n - idn, real_id);
            free(cc->log_stream);
            cc->log_stream = stream;
        }
    }
    free(k->id);
    k->id = sl_xstrdup(real_id);
    snprintf(k->workdir, sizeof k->workdir, "%.1000s/tasks/%s", t->data_dir, real_id);
    k->instance_arn = sl_xstrdup(instance);
    static const char *const statuses[] = {"PROVISIONING", "PENDING",  "ACTIVATING",    "RUNNING",
                                           "DEACTIVATING", "STOPPING", "DEPROVISIONING"};
    const char *ls = json_string_value(json_object_get(doc, "lastStatus"));
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (ls && !strcmp(ls, statuses[i])) k->last_status = statuses[i];
    const char *ds = json_string_value(json_object_get(doc, "desiredStatus"));
    k->desired_status = ds && !strcmp(ds, "STOPPED") ? "STOPPED" : "RUNNING";
    k->created = (int64_t)(json_number_value(json_object_get(doc, "createdAt")) * 1000.0);
    k->started = (int64_t)(json_number_value(json_object_get(doc, "startedAt")) * 1000.0);
    k->version = (int)json_integer_value(json_object_get(doc, "version"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "containers"), i, c) {
        if (i >= k->ncontainers) break;
        ecs_container *cc = &k->containers[i];
        const char *cs = json_string_value(json_object_get(c, "lastStatus"));
        if (cs && !strcmp(cs, "RUNNING")) {
            cc->last_status = "RUNNING";
            k->running++;
        } else if (cs && !strcmp(cs, "STOPPED")) {
            cc->last_status = "STOPPED";
        }
        json_t *ca = json_object_get(c, "containerArn");
        if (json_is_string(ca)) {
            free(cc->arn);
            cc->arn = sl_xstrdup(json_string_value(ca));
        }
    }
    pthread_mutex_lock(&t->mu);
    doc_refresh(k);
    task_link(t, k);
    pthread_mutex_unlock(&t->mu);
}

/* Tasks a previous process ran are gone with it: their processes are killed and they are
 * recorded STOPPED with the reason. EXTERNAL tasks run on their agents: they are taken back
 * in memory and go on (the agent reports them, or is declared lost). */
int ecs_runner_recover(sl_tasks *t) {
    sqlite3_stmt *ext;
    if (sqlite3_prepare_v2(sl_store_reader(t->store),
                           "SELECT doc, container_instance FROM ecs_tasks WHERE last_status != "
                           "'STOPPED' AND container_instance IS NOT NULL",
                           -1, &ext, NULL) == SQLITE_OK) {
        while (sqlite3_step(ext) == SQLITE_ROW) {
            json_t *doc = json_loads((const char *)sqlite3_column_text(ext, 0), 0, NULL);
            if (doc) adopt_external(t, doc, (const char *)sqlite3_column_text(ext, 1));
            json_decref(doc);
        }
        sqlite3_finalize(ext);
    }
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT arn, doc, runtime FROM ecs_tasks WHERE last_status != "
                           "'STOPPED' AND container_instance IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *arn = (const char *)sqlite3_column_text(st, 0);
        json_t *doc = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        json_t *rt = sqlite3_column_type(st, 2) != SQLITE_NULL
                         ? json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL)
                         : NULL;
        size_t i;
        json_t *pid;
        json_array_foreach(json_object_get(rt, "pids"), i, pid) {
            pid_t p = (pid_t)json_integer_value(pid);
            if (p > 1) kill(-p, SIGKILL);
        }
        const char *wd = json_string_value(json_object_get(rt, "workdir"));
        if (wd) ecs_workdir_remove(wd);
        if (doc) {
            int64_t now = sl_now_ms();
            json_object_set_new(doc, "lastStatus", json_string("STOPPED"));
            json_object_set_new(doc, "desiredStatus", json_string("STOPPED"));
            json_object_set_new(doc, "stopCode", json_string("TaskFailedToStart"));
            json_object_set_new(doc, "stoppedReason",
                                json_string("Sluice restarted while the task ran: its processes "
                                            "were stopped"));
            json_object_set_new(doc, "stoppedAt", json_real(ecs_epoch(now)));
            json_object_set_new(doc, "executionStoppedAt", json_real(ecs_epoch(now)));
            json_t *c;
            json_array_foreach(json_object_get(doc, "containers"), i, c) {
                json_object_set_new(c, "lastStatus", json_string("STOPPED"));
                if (!json_object_get(c, "reason"))
                    json_object_set_new(c, "reason", json_string("Sluice restarted"));
            }
            persist_job j = {.arn = (char *)arn,
                             .desired = "STOPPED",
                             .last = "STOPPED",
                             .doc = json_dumps(doc, JSON_COMPACT),
                             .events = json_pack("[o]", state_change_event(t, doc))};
            sl_store_write(t->store, persist_write, &j);
            free(j.doc);
            json_decref(j.events);
            json_decref(doc);
            n++;
        }
        json_decref(rt);
    }
    sqlite3_finalize(st);
    if (n) sl_info("\"tasks stopped by the restart\" count=%d", n);
    return 0;
}
