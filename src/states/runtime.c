/* runtime: where executions run. A table of running executions by ARN, a ready queue served by
 * two worker threads, a timer heap served by one timer thread, and the commit pipeline: after a
 * worker advances an execution, a STANDARD execution's new snapshot and history events go to
 * the store as one write job (group-committed with everything else queued), and only once that
 * is durable does the runtime carry out the step's effects (publish an activity task, arm a
 * timer, start a child execution). An execution is handled by one worker at a time; messages
 * that arrive meanwhile wait in its inbox. No thread ever sleeps on behalf of one execution. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "states/states_internal.h"
#include "store/outbox.h"

/* ---- the table ---- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static sfn_exec *table_get(sl_states *s, const char *arn) {
    if (!s->table_cap) return NULL;
    for (sfn_exec *e = s->table[hash_str(arn) & (s->table_cap - 1)]; e; e = e->hash_next)
        if (strcmp(e->arn, arn) == 0) return e;
    return NULL;
}

static void table_put(sl_states *s, sfn_exec *e) {
    if (s->table_len * 2 >= s->table_cap) {
        size_t ncap = s->table_cap ? s->table_cap * 2 : 256;
        sfn_exec **nt = sl_xcalloc(ncap, sizeof *nt);
        for (size_t i = 0; i < s->table_cap; i++) {
            for (sfn_exec *x = s->table[i], *nx; x; x = nx) {
                nx = x->hash_next;
                size_t b = hash_str(x->arn) & (ncap - 1);
                x->hash_next = nt[b];
                nt[b] = x;
            }
        }
        free(s->table);
        s->table = nt;
        s->table_cap = ncap;
    }
    size_t b = hash_str(e->arn) & (s->table_cap - 1);
    e->hash_next = s->table[b];
    s->table[b] = e;
    s->table_len++;
}

static void table_del(sl_states *s, sfn_exec *e) {
    sfn_exec **pp = &s->table[hash_str(e->arn) & (s->table_cap - 1)];
    for (; *pp; pp = &(*pp)->hash_next) {
        if (*pp == e) {
            *pp = e->hash_next;
            s->table_len--;
            return;
        }
    }
}

static void exec_unref_locked(sfn_exec *e) {
    if (--e->refs == 0) sfn_exec_free(e);
}

sfn_exec *sfn_runtime_find(sl_states *s, const char *arn) {
    pthread_mutex_lock(&s->mu);
    sfn_exec *e = table_get(s, arn);
    if (e) e->refs++;
    pthread_mutex_unlock(&s->mu);
    return e;
}

void sfn_runtime_release(sl_states *s, sfn_exec *e) {
    pthread_mutex_lock(&s->mu);
    exec_unref_locked(e);
    pthread_mutex_unlock(&s->mu);
}

typedef struct sfn_waiter {
    void (*fn)(void *ctx);
    void *ctx;
    struct sfn_waiter *next;
} sfn_waiter;

bool sfn_runtime_when_ended(sl_states *s, const char *arn, void (*fn)(void *ctx), void *ctx) {
    pthread_mutex_lock(&s->mu);
    sfn_exec *e = table_get(s, arn);
    if (e) {
        sfn_waiter *w = sl_xcalloc(1, sizeof *w);
        w->fn = fn;
        w->ctx = ctx;
        w->next = e->end_waiters;
        e->end_waiters = w;
    }
    pthread_mutex_unlock(&s->mu);
    return e != NULL;
}

/* ---- the queue ---- */

static void schedule_locked(sl_states *s, sfn_exec *e) {
    if (e->scheduled || e->running || e->committing) return;
    e->scheduled = true;
    e->next_queued = NULL;
    if (s->queue_tail) s->queue_tail->next_queued = e;
    else s->queue_head = e;
    s->queue_tail = e;
    pthread_cond_signal(&s->work_cv);
}

static void post_locked(sl_states *s, sfn_exec *e, sfn_msg *m) {
    m->next = NULL;
    if (e->inbox_tail) e->inbox_tail->next = m;
    else e->inbox = m;
    e->inbox_tail = m;
    schedule_locked(s, e);
}

bool sfn_runtime_post(sl_states *s, const char *exec_arn, sfn_msg *m) {
    pthread_mutex_lock(&s->mu);
    sfn_exec *e = table_get(s, exec_arn);
    if (!e || e->finished) {
        pthread_mutex_unlock(&s->mu);
        sfn_msg_free(m);
        return false;
    }
    post_locked(s, e, m);
    pthread_mutex_unlock(&s->mu);
    return true;
}

/* ---- timers ---- */

typedef struct {
    int64_t when;
    char *arn; /* an execution message, or */
    int run, seq;
    sfn_msg_kind msg;
    void (*fn)(void *ctx); /* a callback */
    void *ctx;
} sfn_timer;

typedef struct sfn_timer_heap {
    sfn_timer *v;
    size_t n, cap;
} sfn_timer_heap;

static void heap_push(sfn_timer_heap *h, sfn_timer t) {
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = sl_xrealloc(h->v, h->cap * sizeof *h->v);
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].when <= t.when) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = t;
}

static sfn_timer heap_pop(sfn_timer_heap *h) {
    sfn_timer top = h->v[0];
    sfn_timer last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t mw = last.when;
        if (l < h->n && h->v[l].when < mw) {
            m = l;
            mw = h->v[l].when;
        }
        if (r < h->n && h->v[r].when < mw) m = r;
        if (m == i) break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n) h->v[i] = last;
    return top;
}

static void timer_add_locked(sl_states *s, sfn_timer t) {
    bool earliest = s->timers->n == 0 || t.when < s->timers->v[0].when;
    heap_push(s->timers, t);
    if (earliest) pthread_cond_signal(&s->timer_cv);
}

void sfn_runtime_timer(sl_states *s, int64_t when_ms, void (*fn)(void *ctx), void *ctx) {
    pthread_mutex_lock(&s->mu);
    timer_add_locked(s, (sfn_timer){.when = when_ms, .fn = fn, .ctx = ctx});
    pthread_mutex_unlock(&s->mu);
}

static void *timer_main(void *arg) {
    sl_states *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        if (s->timers->n == 0) {
            pthread_cond_wait(&s->timer_cv, &s->mu);
            continue;
        }
        int64_t now = sl_now_ms();
        if (s->timers->v[0].when > now) {
            int64_t w = s->timers->v[0].when;
            struct timespec ts = {.tv_sec = w / 1000, .tv_nsec = (long)(w % 1000) * 1000000L};
            pthread_cond_timedwait(&s->timer_cv, &s->mu, &ts);
            continue;
        }
        sfn_timer t = heap_pop(s->timers);
        if (t.fn) {
            pthread_mutex_unlock(&s->mu);
            t.fn(t.ctx);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        sfn_exec *e = table_get(s, t.arn);
        if (e && !e->finished) {
            sfn_msg *m = sl_xcalloc(1, sizeof *m);
            m->kind = t.msg;
            m->run = t.run;
            m->seq = t.seq;
            post_locked(s, e, m);
        }
        free(t.arn);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- effects ---- */

static json_t *child_description(const sfn_exec *c) {
    json_t *d = json_object();
    json_object_set_new(d, "ExecutionArn", json_string(c->arn));
    json_object_set_new(d, "StateMachineArn", json_string(c->machine->arn));
    json_object_set_new(d, "Name", json_string(c->name));
    json_object_set_new(d, "Status", json_string(sfn_status_name(c->status)));
    json_object_set_new(d, "StartDate", json_integer(c->start_ms));
    json_object_set_new(d, "StopDate", json_integer(c->stop_ms));
    json_object_set(d, "Input", c->input);
    if (c->output) json_object_set(d, "Output", c->output);
    if (c->error) json_object_set_new(d, "Error", json_string(c->error));
    if (c->cause) json_object_set_new(d, "Cause", json_string(c->cause));
    return d;
}

static void effect_run(sl_states *s, sfn_exec *e, sfn_effect *f) {
    switch (f->kind) {
    case EFFECT_TIMER:
        pthread_mutex_lock(&s->mu);
        timer_add_locked(s, (sfn_timer){.when = f->when_ms,
                                        .arn = sl_xstrdup(e->arn),
                                        .run = f->run,
                                        .seq = f->seq,
                                        .msg = f->msg});
        pthread_mutex_unlock(&s->mu);
        break;
    case EFFECT_ACTIVITY: sfn_activity_publish(s, f->arn, f->token, f->payload); break;
    case EFFECT_FORGET_TOKEN: sfn_activity_forget(s, f->token); break;
    case EFFECT_START_CHILD: sfn_child_start(s, e->arn, f); break;
    case EFFECT_RUN_TASK: sfn_ecs_run(s, f); break;
    case EFFECT_WATCH_TASK: sfn_ecs_watch(s, f); break;
    case EFFECT_STOP_CHILD: {
        if (strstr(f->arn, ":ecs:")) {
            sfn_ecs_stop(s, f->arn);
            break;
        }
        sfn_msg *m = sl_xcalloc(1, sizeof *m);
        m->kind = MSG_STOP;
        m->error = sl_xstrdup("States.Aborted");
        m->cause = sl_xstrdup("The parent execution's task ended.");
        sfn_runtime_post(s, f->arn, m);
        break;
    }
    case EFFECT_NOTIFY_PARENT: {
        json_t *d = child_description(e);
        sfn_child_notify(s, f->token, d);
        json_decref(d);
        break;
    }
    }
}

static void effects_run(sl_states *s, sfn_exec *e, sfn_effect *list) {
    for (sfn_effect *f = list; f; f = f->next) effect_run(s, e, f);
}

static void effects_free(sfn_effect *list) {
    for (sfn_effect *f = list, *nx; f; f = nx) {
        nx = f->next;
        free(f->arn);
        free(f->token);
        json_decref(f->payload);
        free(f);
    }
}

/* ---- the commit pipeline ---- */

typedef struct {
    sl_states *s;
    sfn_exec *e;
    bool is_new, finished;
    char *snapshot;
    char *output, *error, *cause;
    char *redrive;      /* where a failed execution would resume */
    json_t *status_row; /* the outbox row of the EventBridge "Step Functions Execution Status
                         * Change" event, or NULL */
    sfn_event *events;  /* details already written as text (ev->text) */
    sfn_effect *effects;
    int64_t stop_ms;
    const char *status;
} commit_job;

static const char *SQL_INSERT_EXEC =
    "INSERT INTO sfn_executions (arn, machine_arn, name, def_hash, status, input, started_ms, "
    "parent, trace_header, snapshot, output, error, cause, stopped_ms, redrive, revision, "
    "revision_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
    "?17)";
static const char *SQL_UPDATE_EXEC =
    "UPDATE sfn_executions SET status = ?2, snapshot = ?3, output = ?4, error = ?5, cause = ?6, "
    "stopped_ms = ?7, redrive = ?8 WHERE arn = ?1";
static const char *SQL_INSERT_EVENT =
    "INSERT INTO sfn_history (execution_arn, id, previous_id, type, ts_ms, details) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

static int commit_write(sqlite3 *db, void *arg) {
    commit_job *j = arg;
    sfn_exec *e = j->e;
    sqlite3_stmt *st;
    if (j->is_new) {
        st = sl_store_cached(db, SQL_INSERT_EXEC);
        if (!st) return -1;
        bind_text(st, 1, e->arn);
        bind_text(st, 2, e->machine->arn);
        bind_text(st, 3, e->name);
        bind_text(st, 4, e->machine->def_hash);
        bind_text(st, 5, j->status);
        bind_text(st, 6, e->input_text);
        sqlite3_bind_int64(st, 7, e->start_ms);
        bind_text(st, 8, e->parent_token);
        bind_text(st, 9, e->trace_header);
        bind_text(st, 10, j->snapshot);
        bind_text(st, 11, j->output);
        bind_text(st, 12, j->error);
        bind_text(st, 13, j->cause);
        if (j->finished) sqlite3_bind_int64(st, 14, j->stop_ms);
        bind_text(st, 15, j->redrive);
        bind_text(st, 16, e->machine->revision);
        sqlite3_bind_int64(st, 17, e->machine->updated_ms);
    } else {
        st = sl_store_cached(db, SQL_UPDATE_EXEC);
        if (!st) return -1;
        bind_text(st, 1, e->arn);
        bind_text(st, 2, j->status);
        bind_text(st, 3, j->snapshot);
        bind_text(st, 4, j->output);
        bind_text(st, 5, j->error);
        bind_text(st, 6, j->cause);
        if (j->finished) sqlite3_bind_int64(st, 7, j->stop_ms);
        bind_text(st, 8, j->redrive);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return -1;
    for (sfn_event *ev = j->events; ev; ev = ev->next) {
        st = sl_store_cached(db, SQL_INSERT_EVENT);
        if (!st) return -1;
        bind_text(st, 1, e->arn);
        sqlite3_bind_int(st, 2, ev->id);
        sqlite3_bind_int(st, 3, ev->previous);
        bind_text(st, 4, ev->type);
        sqlite3_bind_int64(st, 5, ev->ts_ms);
        bind_text(st, 6, ev->text);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return -1;
    }
    if (j->status_row) {
        if (sl_outbox_add(db, "event", j->status_row) != 0) return -1;
        sl_store_commit_signal();
    }
    return 0;
}

static void commit_job_free(commit_job *j) {
    free(j->snapshot);
    free(j->output);
    free(j->error);
    free(j->cause);
    free(j->redrive);
    json_decref(j->status_row);
    for (sfn_event *ev = j->events, *nx; ev; ev = nx) {
        nx = ev->next;
        json_decref(ev->details);
        free(ev->text);
        free(ev);
    }
    effects_free(j->effects);
    free(j);
}

/* The EventBridge event AWS sends for a STANDARD execution's status change, as the outbox row
 * that carries it. output: the execution's output as text, or NULL. */
static json_t *status_change_row(sl_states *s, sfn_exec *e, const char *status,
                                 const char *output) {
    char id[37], when[32];
    sl_id_uuid(id);
    int64_t now = sl_now_ms();
    char t[32];
    sl_time_iso8601_ms(now, t);
    t[19] = 'Z';
    t[20] = 0;
    (void)when;
    json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:I, s:O?, s:s?, s:s?}", "executionArn",
                               e->arn, "stateMachineArn", e->machine->arn, "name", e->name,
                               "status", status, "startDate", (json_int_t)e->start_ms, "input",
                               json_null(), "error", e->error, "cause", e->cause);
    json_object_set_new(detail, "input", json_string(e->input_text ? e->input_text : "{}"));
    if (e->stop_ms) json_object_set_new(detail, "stopDate", json_integer(e->stop_ms));
    else json_object_set_new(detail, "stopDate", json_null());
    if (output) {
        json_object_set_new(detail, "output", json_string(output));
    } else {
        json_object_set_new(detail, "output", json_null());
    }
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:o}", "version", "0", "id",
                           id, "detail-type", "Step Functions Execution Status Change", "source",
                           "aws.states", "account", s->cfg->account_id, "time", t, "region",
                           s->cfg->region, "resources", e->arn, "detail", detail);
    return json_pack("{s:s, s:o}", "bus", "default", "event", ev);
}

static void commit_done(void *arg, int rc);

/* Hands e's step to the store. Called by the worker with e->committing set. */
static void commit_start(sl_states *s, sfn_exec *e) {
    commit_job *j = sl_xcalloc(1, sizeof *j);
    j->s = s;
    j->e = e;
    j->is_new = e->is_new;
    j->finished = e->finished;
    j->status = sfn_status_name(e->status);
    j->stop_ms = e->stop_ms;
    if (!e->finished) j->snapshot = sfn_snapshot_dump(e);
    if (e->output_text) { /* made for the history already */
        j->output = e->output_text;
        e->output_text = NULL;
    } else if (e->output) {
        j->output = json_dumps(e->output, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (e->error) j->error = sl_xstrdup(e->error);
    if (e->cause) j->cause = sl_xstrdup(e->cause);
    if (e->finished && e->redrive_point && !e->express)
        j->redrive = json_dumps(e->redrive_point, JSON_COMPACT);
    if (e->is_new || e->finished) j->status_row = status_change_row(s, e, j->status, j->output);
    /* the details' text is made here, on the worker, not on the store's single writer */
    for (sfn_event *ev = e->events; ev; ev = ev->next) {
        if (!ev->details) continue;
        ev->text = json_dumps(ev->details, JSON_COMPACT);
        json_decref(ev->details);
        ev->details = NULL;
    }
    j->events = e->events;
    j->effects = e->effects;
    e->events = e->events_tail = NULL;
    e->nevents = 0;
    e->effects = e->effects_tail = NULL;
    e->is_new = false;
    e->dirty = false;
    sl_store_write_async(s->store, commit_write, commit_done, j);
}

static void finish_locked(sl_states *s, sfn_exec *e);

static void commit_done(void *arg, int rc) {
    commit_job *j = arg;
    sl_states *s = j->s;
    sfn_exec *e = j->e;
    if (rc != 0) sl_error("states: storing %s failed (%d)", e->arn, rc);
    /* Effects run on a worker (they may read the store); park them on the execution. */
    pthread_mutex_lock(&s->mu);
    e->committing = false;
    if (j->effects) {
        sfn_effect *tail = j->effects;
        while (tail->next) tail = tail->next;
        tail->next = e->effects;
        e->effects = j->effects;
        if (!e->effects_tail) e->effects_tail = tail;
        j->effects = NULL;
    }
    void (*stored)(sfn_exec *, void *) = j->is_new ? e->on_stored : NULL;
    e->on_stored = NULL;
    if (stored) {
        e->refs++;
        pthread_mutex_unlock(&s->mu);
        stored(e, e->on_stored_ctx);
        pthread_mutex_lock(&s->mu);
        e->refs--;
    }
    if (e->effects || e->inbox || e->ready_head) schedule_locked(s, e);
    else if (e->finished) finish_locked(s, e);
    pthread_mutex_unlock(&s->mu);
    commit_job_free(j);
}

/* e ended and its last step is durable (or it is EXPRESS): forget it. */
static void finish_locked(sl_states *s, sfn_exec *e) {
    if (!table_get(s, e->arn)) return;
    table_del(s, e);
    void (*cb)(sfn_exec *, void *) = e->on_done;
    e->on_done = NULL;
    sfn_waiter *waiters = e->end_waiters;
    e->end_waiters = NULL;
    if (cb || waiters) {
        e->refs++;
        pthread_mutex_unlock(&s->mu);
        if (cb) cb(e, e->on_done_ctx);
        for (sfn_waiter *w = waiters, *nx; w; w = nx) {
            nx = w->next;
            w->fn(w->ctx);
            free(w);
        }
        pthread_mutex_lock(&s->mu);
        e->refs--;
    }
    exec_unref_locked(e);
}

/* ---- workers ---- */

static void work_one(sl_states *s, sfn_exec *e) {
    /* effects of the last durable step first, then messages, then the ready runs */
    sfn_effect *fx = e->effects;
    e->effects = e->effects_tail = NULL;
    pthread_mutex_lock(&s->mu);
    sfn_msg *msgs = e->inbox;
    e->inbox = e->inbox_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    if (fx) {
        effects_run(s, e, fx);
        effects_free(fx);
    }
    for (sfn_msg *m = msgs, *nx; m; m = nx) {
        nx = m->next;
        sfn_exec_apply(s, e, m);
        sfn_msg_free(m);
    }
    sfn_exec_advance(s, e);
    if (e->express) {
        sfn_exec_event_free_all(e);
        fx = e->effects;
        e->effects = e->effects_tail = NULL;
        if (fx) {
            effects_run(s, e, fx);
            effects_free(fx);
        }
        pthread_mutex_lock(&s->mu);
        e->running = false;
        if (e->finished) finish_locked(s, e);
        else if (e->inbox || e->ready_head) schedule_locked(s, e);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (e->dirty || e->events || e->effects || e->is_new) {
        pthread_mutex_lock(&s->mu);
        e->running = false;
        e->committing = true;
        pthread_mutex_unlock(&s->mu);
        commit_start(s, e);
        return;
    }
    pthread_mutex_lock(&s->mu);
    e->running = false;
    if (e->finished) finish_locked(s, e);
    else if (e->inbox || e->ready_head) schedule_locked(s, e);
    pthread_mutex_unlock(&s->mu);
}

static void *worker_main(void *arg) {
    sl_states *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        sfn_exec *e = s->queue_head;
        if (!e) {
            pthread_cond_wait(&s->work_cv, &s->mu);
            continue;
        }
        s->queue_head = e->next_queued;
        if (!s->queue_head) s->queue_tail = NULL;
        e->scheduled = false;
        e->running = true;
        e->refs++;
        pthread_mutex_unlock(&s->mu);
        work_one(s, e);
        pthread_mutex_lock(&s->mu);
        exec_unref_locked(e);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Lists e under its ARN unless an execution of that ARN is there: then that one is returned
 * with a reference held and e is not listed. Caller holds the lock. */
static sfn_exec *claim_locked(sl_states *s, sfn_exec *e) {
    sfn_exec *old = table_get(s, e->arn);
    if (old) {
        old->refs++;
        return old;
    }
    e->refs++;
    table_put(s, e);
    return NULL;
}

void sfn_runtime_submit(sl_states *s, sfn_exec *e) {
    pthread_mutex_lock(&s->mu);
    e->refs++;
    table_put(s, e);
    schedule_locked(s, e);
    pthread_mutex_unlock(&s->mu);
}

sfn_exec *sfn_runtime_run_inline(sl_states *s, sfn_exec *e, bool unique) {
    if (unique) {
        /* listed while it runs, so a start of the same name sees it; running keeps workers
         * off it (messages posted meanwhile wait in the inbox) */
        pthread_mutex_lock(&s->mu);
        sfn_exec *old = claim_locked(s, e);
        if (!old) e->running = true;
        pthread_mutex_unlock(&s->mu);
        if (old) return old;
    }
    sfn_exec_advance(s, e);
    sfn_exec_event_free_all(e);
    if (!e->finished) {
        /* it waits: the runtime takes it over, its effects first (work_one) */
        pthread_mutex_lock(&s->mu);
        if (!unique) {
            e->refs++;
            table_put(s, e);
        }
        e->running = false;
        schedule_locked(s, e);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    /* It ended. Timers have nothing left to wake; the other effects (telling a parent,
     * forgetting tokens) are carried out as a worker would. */
    sfn_effect *fx = e->effects;
    e->effects = e->effects_tail = NULL;
    for (sfn_effect *f = fx; f; f = f->next)
        if (f->kind != EFFECT_TIMER) effect_run(s, e, f);
    effects_free(fx);
    if (unique) {
        pthread_mutex_lock(&s->mu);
        e->running = false;
        finish_locked(s, e);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    void (*cb)(sfn_exec *, void *) = e->on_done;
    e->on_done = NULL;
    if (cb) cb(e, e->on_done_ctx);
    sfn_exec_free(e);
    return NULL;
}

sfn_exec *sfn_runtime_submit_unique(sl_states *s, sfn_exec *e) {
    pthread_mutex_lock(&s->mu);
    sfn_exec *old = claim_locked(s, e);
    if (!old) schedule_locked(s, e);
    pthread_mutex_unlock(&s->mu);
    return old;
}

int sfn_runtime_start(sl_states *s, char *err, size_t errlen) {
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->timer_cv, NULL);
    s->timers = sl_xcalloc(1, sizeof *s->timers);
    s->nworkers = 2;
    for (int i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0) {
            snprintf(err, errlen, "states: cannot start a worker");
            s->nworkers = i;
            return -1;
        }
        pthread_setname_np(s->workers[i], "sl-sfn-worker");
    }
    if (pthread_create(&s->timer_thread, NULL, timer_main, s) != 0) {
        snprintf(err, errlen, "states: cannot start the timer thread");
        return -1;
    }
    pthread_setname_np(s->timer_thread, "sl-sfn-timer");
    return 0;
}

void sfn_runtime_stop(sl_states *s) {
    if (!s->timers) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->work_cv);
    pthread_cond_broadcast(&s->timer_cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++) pthread_join(s->workers[i], NULL);
    pthread_join(s->timer_thread, NULL);
    /* Wait for commits in flight: their done callbacks touch executions. */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool busy = false;
        for (size_t i = 0; i < s->table_cap && !busy; i++)
            for (sfn_exec *e = s->table[i]; e; e = e->hash_next)
                if (e->committing) busy = true;
        pthread_mutex_unlock(&s->mu);
        if (!busy) break;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < s->table_cap; i++) {
        for (sfn_exec *e = s->table[i], *nx; e; e = nx) {
            nx = e->hash_next;
            /* the HTTP server has stopped: waiting callers are gone, do not call them */
            for (sfn_waiter *w = e->end_waiters, *nw; w; w = nw) {
                nw = w->next;
                free(w);
            }
            sfn_exec_free(e);
        }
    }
    free(s->table);
    s->table = NULL;
    s->table_cap = s->table_len = 0;
    for (size_t i = 0; i < s->timers->n; i++) {
        if (s->timers->v[i].fn) s->timers->v[i].fn(s->timers->v[i].ctx); /* sees stopping */
        free(s->timers->v[i].arn);
    }
    free(s->timers->v);
    free(s->timers);
    s->timers = NULL;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->timer_cv);
}

/* ---- recovery ---- */

int sfn_runtime_recover(sl_states *s, char *err, size_t errlen) {
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT arn, machine_arn, name, def_hash, input, started_ms, parent, "
                           "snapshot FROM sfn_executions WHERE snapshot IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "states: %s", sqlite3_errmsg(db));
        return -1;
    }
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *arn = (const char *)sqlite3_column_text(st, 0);
        const char *marn = (const char *)sqlite3_column_text(st, 1);
        const char *hash = (const char *)sqlite3_column_text(st, 3);
        sfn_machine *m = sfn_machine_for_hash(s, marn, hash);
        if (!m) {
            sl_error("states: %s: its definition is gone; left as it was", arn);
            continue;
        }
        json_t *input = json_loads((const char *)sqlite3_column_text(st, 4), JSON_DECODE_ANY, NULL);
        if (!input) input = json_object();
        sfn_exec *e = sfn_exec_new(s, m, arn, (const char *)sqlite3_column_text(st, 2), input,
                                   sqlite3_column_int64(st, 5));
        json_decref(input);
        e->input_text = sl_xstrdup((const char *)sqlite3_column_text(st, 4));
        if (sqlite3_column_type(st, 6) != SQLITE_NULL)
            e->parent_token = sl_xstrdup((const char *)sqlite3_column_text(st, 6));
        char lerr[256];
        if (sfn_snapshot_load(e, (const char *)sqlite3_column_text(st, 7), lerr, sizeof lerr) !=
            0) {
            sl_error("states: %s", lerr);
            sfn_exec_free(e);
            continue;
        }
        sfn_exec_rearm(s, e);
        sfn_runtime_submit(s, e);
        n++;
    }
    sqlite3_finalize(st);
    if (n) sl_info("states: resumed %d execution(s)", n);
    return 0;
}
