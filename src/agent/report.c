/* report: the agent's reporter thread and the container callbacks that feed it. The
 * supervisor's callbacks only append a line or record an exit in the task table and signal;
 * this thread wakes at least every 250 ms, ships pending output (PutLogLines, ≤1000 lines a
 * call) and then the task's state (ReportTaskState) — output strictly first, so a task's logs
 * are complete when the daemon hears STOPPED. A task whose final state is delivered is
 * forgotten. While the daemon is unreachable nothing is dropped (up to a cap of pending lines
 * per container) and calls are retried with backoff, 1 s doubling to 10 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_internal.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"

#define BATCH_LINES      1000
#define MAX_PENDING      200000 /* per container: beyond this, output is dropped and counted */
#define FLUSH_MS         250
#define CALL_TIMEOUT_MS  15000L
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   10000

/* ---- callbacks (supervisor thread: never block, never call back into the supervisor) ---- */

void agent_on_line(void *ctx, sl_stream stream, const char *line, size_t len, int64_t ts_ms) {
    agent_container *c = ctx;
    sl_agent *a = c->agent;
    char *text = sl_xstrndup(line, len);
    pthread_mutex_lock(&a->mu);
    if (c->nlines >= MAX_PENDING) {
        c->dropped++;
        pthread_mutex_unlock(&a->mu);
        free(text);
        return;
    }
    if (c->nlines == c->cap_lines) {
        c->cap_lines = c->cap_lines ? c->cap_lines * 2 : 64;
        c->lines = sl_xrealloc(c->lines, c->cap_lines * sizeof *c->lines);
    }
    c->lines[c->nlines++] = (agent_line){ts_ms, text};
    if (c->nlines % BATCH_LINES == 0) pthread_cond_signal(&a->report_cv);
    pthread_mutex_unlock(&a->mu);
}

void agent_on_exit(void *ctx, const sl_container_exit *exit) {
    agent_container *c = ctx;
    sl_agent *a = c->agent;
    pthread_mutex_lock(&a->mu);
    agent_task *t = c->task;
    c->status = "STOPPED";
    c->has_exit = !exit->start_failed && exit->exit_code >= 0;
    c->exit_code = exit->exit_code;
    if (exit->start_failed && strncmp(exit->reason, "CannotStartContainerError", 25))
        snprintf(c->reason, sizeof c->reason, "CannotStartContainerError: %s", exit->reason);
    else snprintf(c->reason, sizeof c->reason, "%s", exit->reason);
    if (t->live) t->live--;
    t->dirty = true;
    /* ECS stops a task when one of its essential containers exits */
    if (c->essential && t->live) t->stop_wanted = true;
    pthread_cond_signal(&a->report_cv);
    pthread_cond_broadcast(&a->exit_cv);
    pthread_mutex_unlock(&a->mu);
}

/* ---- shipping ---- */

typedef enum {
    SHIP_DONE,    /* delivered, or refused and dropped */
    SHIP_RETRY,   /* daemon unreachable: try again after a backoff */
    SHIP_ABORTED, /* shutting down without the daemon */
} ship_status;

static ship_status ship_status_of(agent_call_status st) {
    return st == AGENT_CALL_ABORTED       ? SHIP_ABORTED
           : st == AGENT_CALL_UNREACHABLE ? SHIP_RETRY
                                          : SHIP_DONE;
}

/* The first container of t with pending output, or NULL. Caller holds mu. */
static agent_container *with_lines(agent_task *t) {
    for (size_t i = 0; i < t->ncontainers; i++)
        if (t->containers[i].nlines) return &t->containers[i];
    return NULL;
}

static ship_status ship_lines(sl_agent *a, agent_container *c) {
    pthread_mutex_lock(&a->mu);
    size_t n = c->nlines < BATCH_LINES ? c->nlines : BATCH_LINES;
    json_t *lines = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(lines,
                              json_pack("{s:I, s:s}", "timestamp", (json_int_t)c->lines[i].ts,
                                        "message", c->lines[i].text));
    size_t dropped = c->dropped;
    c->dropped = 0;
    json_t *req = json_pack("{s:s, s:s, s:s, s:o}", "containerInstanceArn", a->instance_arn,
                            "taskArn", c->task->arn, "container", c->name, "lines", lines);
    pthread_mutex_unlock(&a->mu);
    if (dropped)
        sl_warn("\"output lines dropped: the daemon was unreachable too long\" task=%s "
                "container=%s lines=%zu",
                c->task->id, c->name, dropped);
    agent_reply r;
    agent_call_status st =
        agent_call(a->report_client, "SluiceAgentV1.PutLogLines", req, CALL_TIMEOUT_MS, &r);
    json_decref(req);
    if (st == AGENT_CALL_REFUSED)
        sl_warn("\"output refused by the daemon, dropped\" task=%s container=%s lines=%zu "
                "error=%s message=\"%s\"",
                c->task->id, c->name, n, r.type, r.message);
    agent_reply_clear(&r);
    ship_status out = ship_status_of(st);
    if (out == SHIP_DONE) {
        pthread_mutex_lock(&a->mu);
        for (size_t i = 0; i < n; i++) free(c->lines[i].text);
        memmove(c->lines, c->lines + n, (c->nlines - n) * sizeof *c->lines);
        c->nlines -= n;
        pthread_mutex_unlock(&a->mu);
    }
    return out;
}

/* The ReportTaskState body for t's current state; *final when every container has stopped.
 * Caller holds mu. */
static json_t *state_report(sl_agent *a, agent_task *t, bool *final) {
    json_t *containers = json_array();
    *final = t->live == 0;
    for (size_t i = 0; i < t->ncontainers; i++) {
        agent_container *c = &t->containers[i];
        json_t *o = json_pack("{s:s, s:s}", "name", c->name, "status", c->status);
        if (c->has_exit) json_object_set_new(o, "exitCode", json_integer(c->exit_code));
        if (c->reason[0]) json_object_set_new(o, "reason", json_string(c->reason));
        if (c->pid > 0) json_object_set_new(o, "pid", json_integer(c->pid));
        json_array_append_new(containers, o);
        if (strcmp(c->status, "STOPPED")) *final = false;
    }
    return json_pack("{s:s, s:s, s:o}", "containerInstanceArn", a->instance_arn, "taskArn", t->arn,
                     "containers", containers);
}

/* Unlinks a task whose final state is delivered; the table's reference goes with it. */
static void forget(sl_agent *a, agent_task *t) {
    bool unlinked = false;
    pthread_mutex_lock(&a->mu);
    for (agent_task **p = &a->tasks; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            t->next = NULL;
            unlinked = true;
            break;
        }
    t->done = true;
    pthread_mutex_unlock(&a->mu);
    if (unlinked) agent_task_unref(a, t);
}

/* Output first, then the state once no output is left that came before it. */
static ship_status ship_task(sl_agent *a, agent_task *t) {
    for (;;) {
        pthread_mutex_lock(&a->mu);
        agent_container *c = with_lines(t);
        if (c) {
            pthread_mutex_unlock(&a->mu);
            ship_status st = ship_lines(a, c);
            if (st != SHIP_DONE) return st;
            continue;
        }
        if (!t->dirty || t->done) {
            pthread_mutex_unlock(&a->mu);
            return SHIP_DONE;
        }
        bool final;
        json_t *req = state_report(a, t, &final);
        t->dirty = false;
        pthread_mutex_unlock(&a->mu);
        agent_reply r;
        agent_call_status cs =
            agent_call(a->report_client, "SluiceAgentV1.ReportTaskState", req, CALL_TIMEOUT_MS, &r);
        json_decref(req);
        ship_status st = ship_status_of(cs);
        if (cs == AGENT_CALL_REFUSED)
            sl_warn("\"task state refused by the daemon\" task=%s error=%s message=\"%s\"", t->id,
                    r.type, r.message);
        agent_reply_clear(&r);
        if (st != SHIP_DONE) {
            pthread_mutex_lock(&a->mu);
            t->dirty = true;
            pthread_mutex_unlock(&a->mu);
            return st;
        }
        if (final) {
            sl_info("\"task reported stopped\" task=%s", t->id);
            forget(a, t);
        }
        return SHIP_DONE;
    }
}

/* Stops the live containers of a task that must stop (outside mu: the supervisor locks). */
static void stop_if_wanted(sl_agent *a, agent_task *t) {
    sl_container *h[64];
    size_t n = 0;
    pthread_mutex_lock(&a->mu);
    if (t->stop_wanted)
        for (size_t i = 0; i < t->ncontainers && n < 64; i++) {
            agent_container *c = &t->containers[i];
            if (c->handle && !c->stop_sent && !strcmp(c->status, "RUNNING")) {
                c->stop_sent = true;
                h[n++] = c->handle;
            }
        }
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < n; i++) sl_container_stop(h[i]);
}

static void deadline_in(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void *agent_reporter_main(void *arg) {
    sl_agent *a = arg;
    int64_t backoff = BACKOFF_FIRST_MS;
    bool down = false;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        struct timespec ts;
        deadline_in(&ts, a->reporter_drain ? 50 : FLUSH_MS);
        pthread_cond_timedwait(&a->report_cv, &a->mu, &ts);
        bool drain = a->reporter_drain;
        int64_t drain_left = a->drain_deadline_ms - sl_mono_ms();
        if (drain && (!a->tasks || drain_left <= 0)) break;
        size_t n = 0, cap = 0;
        agent_task **snap = NULL;
        if (a->instance_arn[0])
            for (agent_task *t = a->tasks; t; t = t->next) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    snap = sl_xrealloc(snap, cap * sizeof *snap);
                }
                agent_task_ref(t);
                snap[n++] = t;
            }
        pthread_mutex_unlock(&a->mu);
        ship_status worst = SHIP_DONE;
        for (size_t i = 0; i < n; i++) {
            stop_if_wanted(a, snap[i]);
            if (worst == SHIP_DONE) worst = ship_task(a, snap[i]);
        }
        for (size_t i = 0; i < n; i++) agent_task_unref(a, snap[i]);
        free(snap);
        if (worst == SHIP_RETRY) {
            if (!down) sl_warn("\"daemon unreachable: reports wait\" endpoint=%s", a->endpoint);
            down = true;
            agent_sleep(&a->reporter_abort, drain && drain_left < backoff ? drain_left : backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        } else if (worst == SHIP_DONE) {
            if (down) sl_info("\"daemon reachable again: reports resume\"");
            down = false;
            backoff = BACKOFF_FIRST_MS;
        }
        pthread_mutex_lock(&a->mu);
        if (a->reporter_drain && sl_mono_ms() >= a->drain_deadline_ms) {
            atomic_store(&a->reporter_abort, true);
            break;
        }
        if (atomic_load(&a->reporter_abort)) break;
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}
