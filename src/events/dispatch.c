/* dispatch: the events engine's thread. It drains the outbox (changes other services
 * committed) into events and routes them to targets, fires rate() schedules, authorizes OAuth
 * connections left AUTHORIZING, and runs due deliveries — a batch at a time, side by side on a
 * small pool of delivery threads, since a target call mostly waits (an HTTP answer, a RunTask's
 * commit). Every step is a store transaction: an outbox row is deleted in the same commit that
 * queues its deliveries, and a delivery row is deleted only after its target took it, so a
 * crash at any point loses nothing (a delivery may repeat: at-least-once, as AWS). */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "events/events_internal.h"
#include "sns/sns.h"

#define OUTBOX_BATCH         256
#define DELIVERY_BATCH       64
#define DELIVERY_THREADS     7 /* besides the dispatcher itself */
#define DEFAULT_MAX_ATTEMPTS 185
#define DEFAULT_MAX_AGE_S    86400

void ev_dispatch_kick(void *arg) {
    sl_events *ev = arg;
    pthread_mutex_lock(&ev->mu);
    ev->kicked = true;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

/* ---- routing ---- */

typedef struct {
    sl_events *ev;
    sqlite3 *db;
    const char *bus;
    const json_t *event;
    char *event_text;
    int64_t event_ms;
    int queued;
    bool failed;
} route_ctx;

static void queue_rule_targets(route_ctx *rc, const char *rule) {
    static const char
        sql_targets[] = "SELECT spec FROM event_targets WHERE bus=?1 AND rule=?2",
        sql_insert[] = "INSERT INTO event_deliveries (bus, rule, target, event, event_ms, next_ms)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    sqlite3_stmt *st = sl_store_cached(rc->db, sql_targets);
    sqlite3_stmt *ins = st ? sl_store_cached(rc->db, sql_insert) : NULL;
    if (!ins) {
        if (st) sqlite3_reset(st);
        rc->failed = true;
        return;
    }
    sqlite3_bind_text(st, 1, rc->bus, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rule, -1, SQLITE_STATIC);
    /* the event's text only once some rule wants it: most events match nothing */
    if (!rc->event_text) rc->event_text = json_dumps(rc->event, JSON_COMPACT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, rc->bus, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, rule, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, (const char *)sqlite3_column_text(st, 0), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, rc->event_text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 5, rc->event_ms);
        sqlite3_bind_int64(ins, 6, sl_now_ms());
        if (sqlite3_step(ins) != SQLITE_DONE) rc->failed = true;
        else rc->queued++;
        sl_store_commit_signal();
    }
    sqlite3_reset(st);
    sqlite3_reset(ins);
}

static void on_rule_match(void *ctx, const char *rule) { queue_rule_targets(ctx, rule); }

static int64_t event_time_ms(const json_t *event) {
    const char *t = json_string_value(json_object_get(event, "time"));
    int64_t ms = t ? sl_time_parse(t) : -1;
    return ms >= 0 ? ms : sl_now_ms();
}

int ev_route(sl_events *ev, sqlite3 *db, const char *bus, const json_t *event) {
    route_ctx rc = {.ev = ev, .db = db, .bus = bus, .event = event};
    rc.event_ms = event_time_ms(event);
    ev_catalog_match(ev, bus, event, on_rule_match, &rc);
    free(rc.event_text);
    return rc.failed ? -1 : rc.queued;
}

/* ---- the outbox ---- */

typedef struct {
    sl_events *ev;
    int64_t max_id;
    json_t *rows;  /* [[id, kind, payload], ...] */
    int published; /* SNS messages queued (the SNS worker is woken after the commit) */
} drain_job;

static int drain_run(sqlite3 *db, void *arg) {
    drain_job *dj = arg;
    size_t i;
    json_t *row;
    json_array_foreach(dj->rows, i, row) {
        int64_t id = json_integer_value(json_array_get(row, 0));
        const char *kind = json_string_value(json_array_get(row, 1));
        json_t *payload = json_array_get(row, 2);
        json_t *events = json_array();
        if (!strcmp(kind, "s3")) {
            ev_s3_events(dj->ev, db, payload, id, events);
            /* TopicConfigurations publish in this same transaction: no change is lost or
             * published twice across a crash */
            int published = sl_sns_s3_notify(dj->ev->sns, db, payload, id);
            if (published < 0) {
                json_decref(events);
                return -1;
            }
            dj->published += published;
        } else if (!strcmp(kind, "event")) {
            /* Another service's event for a bus: {"bus": ..., "event": {...}}. */
            json_array_append(events, payload);
        }
        size_t j;
        json_t *e;
        json_array_foreach(events, j, e) {
            const char *bus = json_string_value(json_object_get(e, "bus"));
            json_t *body = json_object_get(e, "event");
            if (ev_route(dj->ev, db, bus ? bus : "default", body ? body : e) < 0) {
                json_decref(events);
                return -1;
            }
        }
        json_decref(events);
    }
    static const char sql_delete[] = "DELETE FROM outbox WHERE id <= ?1";
    sqlite3_stmt *st = sl_store_cached(db, sql_delete);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, dj->max_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Returns rows drained (0 when the outbox is empty), or -1 on a store error. */
static int drain_outbox(sl_events *ev) {
    sqlite3 *db = sl_store_reader(ev->store);
    static const char sql_rows[] = "SELECT id, kind, payload FROM outbox ORDER BY id LIMIT ?1";
    sqlite3_stmt *st = sl_store_cached(db, sql_rows);
    if (!st) return -1;
    sqlite3_bind_int(st, 1, OUTBOX_BATCH);
    drain_job dj = {.ev = ev, .rows = json_array()};
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        json_t *payload = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        if (payload)
            json_array_append_new(dj.rows,
                                  json_pack("[I,s,o]", (json_int_t)id,
                                            (const char *)sqlite3_column_text(st, 1), payload));
        dj.max_id = id;
    }
    sqlite3_reset(st);
    int n = (int)json_array_size(dj.rows);
    int rc = 0;
    if (dj.max_id) {
        rc = sl_store_write(ev->store, drain_run, &dj);
        if (rc != 0) sl_error("\"outbox drain failed\" rc=%d", rc);
        else if (dj.published) sl_sns_kick(ev->sns);
    }
    json_decref(dj.rows);
    return rc != 0 ? -1 : (dj.max_id ? (n ? n : 1) : 0);
}

/* ---- schedules ---- */

typedef struct {
    sl_events *ev;
    json_t *fires; /* [[bus, rule, event], ...] */
} fire_job;

static int fire_run(sqlite3 *db, void *arg) {
    fire_job *fj = arg;
    size_t i;
    json_t *f;
    json_array_foreach(fj->fires, i, f) {
        route_ctx rc = {.ev = fj->ev, .db = db, .bus = json_string_value(json_array_get(f, 0))};
        rc.event_text = json_dumps(json_array_get(f, 2), JSON_COMPACT);
        rc.event_ms = sl_now_ms();
        queue_rule_targets(&rc, json_string_value(json_array_get(f, 1)));
        free(rc.event_text);
        if (rc.failed) return -1;
    }
    return 0;
}

/* Fires due rate() rules; returns ms until the next one (or INT64_MAX). */
static int64_t fire_schedules(sl_events *ev) {
    int64_t now = sl_now_ms(), next = INT64_MAX;
    fire_job fj = {.ev = ev, .fires = json_array()};
    pthread_rwlock_wrlock(&ev->lock);
    for (rate_rule *r = ev->rates; r; r = r->next) {
        if (r->next_ms >= 0 && r->next_ms <= now) {
            char arn[512];
            ev_rule_arn(ev, r->bus, r->name, arn, sizeof arn);
            json_t *e = ev_envelope(ev, "aws.events", "Scheduled Event", now, json_pack("[s]", arn),
                                    json_object());
            json_array_append_new(fj.fires, json_pack("[s,s,o]", r->bus, r->name, e));
            r->next_ms = sl_schedule_next(r->schedule, now);
        }
        if (r->next_ms >= 0 && r->next_ms < next) next = r->next_ms;
    }
    pthread_rwlock_unlock(&ev->lock);
    if (json_array_size(fj.fires) && sl_store_write(ev->store, fire_run, &fj) != 0)
        sl_error("\"schedule fire failed\"");
    json_decref(fj.fires);
    return next == INT64_MAX ? INT64_MAX : next - now;
}

/* ---- deliveries ---- */

typedef struct {
    int64_t id;
    int attempts;
    bool ok;
    bool retry;
    int64_t next_ms;
    char error[300];
} delivery_outcome;

typedef struct {
    sl_events *ev;
    delivery_outcome *out;
    size_t n;
    json_t *forwards; /* [[bus, event], ...] for event-bus targets */
} settle_job;

static int settle_run(sqlite3 *db, void *arg) {
    settle_job *sj = arg;
    static const char sql_del[] = "DELETE FROM event_deliveries WHERE id=?1",
                      sql_retry[] = "UPDATE event_deliveries SET attempts=?2, next_ms=?3,"
                                    " last_error=?4 WHERE id=?1",
                      sql_dead[] = "UPDATE event_deliveries SET attempts=?2, state='dead',"
                                   " last_error=?3 WHERE id=?1";
    sqlite3_stmt *del = sl_store_cached(db, sql_del), *retry = sl_store_cached(db, sql_retry),
                 *dead = sl_store_cached(db, sql_dead);
    if (!del || !retry || !dead) return -1;
    int rc = 0;
    for (size_t i = 0; i < sj->n && !rc; i++) {
        delivery_outcome *o = &sj->out[i];
        sqlite3_stmt *st = o->ok ? del : o->retry ? retry : dead;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, o->id);
        if (!o->ok) {
            sqlite3_bind_int(st, 2, o->attempts);
            if (o->retry) {
                sqlite3_bind_int64(st, 3, o->next_ms);
                sqlite3_bind_text(st, 4, o->error, -1, SQLITE_STATIC);
            } else {
                sqlite3_bind_text(st, 3, o->error, -1, SQLITE_STATIC);
            }
        }
        if (sqlite3_step(st) != SQLITE_DONE) rc = -1;
    }
    size_t i;
    json_t *f;
    json_array_foreach(sj->forwards, i, f) {
        if (!rc &&
            ev_route(sj->ev, db, json_string_value(json_array_get(f, 0)), json_array_get(f, 1)) < 0)
            rc = -1;
    }
    sqlite3_reset(del);
    sqlite3_reset(retry);
    sqlite3_reset(dead);
    return rc;
}

static int64_t backoff_ms(int attempts) {
    int64_t ms = 1000;
    for (int i = 1; i < attempts && ms < 60000; i++) ms *= 2;
    return ms > 60000 ? 60000 : ms;
}

/* One due delivery: read by the dispatcher, carried out by whichever thread takes it. */
typedef struct {
    json_t *target, *event;
    int64_t event_ms;
    char *bus, *rule;
    delivery_outcome *o;
} delivery_item;

static void deliver_item(sl_events *ev, delivery_item *it) {
    delivery_outcome *o = it->o;
    bool retryable = false;
    int64_t defer_until = 0;
    char rule_arn[512];
    ev_rule_arn(ev, it->bus, it->rule, rule_arn, sizeof rule_arn);
    char *body = ev_transform(it->target, it->event, rule_arn, it->rule, o->error, sizeof o->error);
    int rc =
        body ? ev_deliver(ev, it->target, body, &retryable, &defer_until, o->error, sizeof o->error)
             : -1;
    free(body);
    o->ok = rc == 0;
    if (rc == 1) {
        /* Rate limited: not an attempt, just later. */
        o->attempts--;
        o->retry = true;
        o->next_ms = defer_until;
        snprintf(o->error, sizeof o->error, "deferred by the destination's rate limit");
    }
    if (rc < 0 && retryable) {
        json_t *policy = json_object_get(it->target, "RetryPolicy");
        json_t *ma = json_object_get(policy, "MaximumRetryAttempts");
        json_t *age = json_object_get(policy, "MaximumEventAgeInSeconds");
        int max_attempts = ma ? (int)json_integer_value(ma) : DEFAULT_MAX_ATTEMPTS;
        int64_t max_age = (age ? json_integer_value(age) : DEFAULT_MAX_AGE_S) * 1000;
        o->next_ms = sl_now_ms() + backoff_ms(o->attempts);
        o->retry = o->attempts <= max_attempts && o->next_ms - it->event_ms <= max_age;
    }
}

/* ---- the delivery pool ---- */

typedef struct {
    delivery_item *items;
    size_t n;
    atomic_size_t next; /* the next item to take */
    size_t done;        /* items finished (under the pool's lock) */
    int active;         /* pool threads inside this batch (under the pool's lock) */
} delivery_batch;

typedef struct ev_delivery_pool {
    sl_events *ev;
    pthread_mutex_t mu;
    pthread_cond_t work, idle;
    delivery_batch *batch; /* the batch being run, or NULL */
    unsigned generation;   /* bumped per batch, so a thread takes part in each once */
    bool stopping;
    pthread_t threads[DELIVERY_THREADS];
    int nthreads;
} ev_delivery_pool;

/* Takes items until none is left; returns how many this thread finished. */
static size_t take_items(sl_events *ev, delivery_batch *b) {
    size_t finished = 0;
    for (size_t i; (i = atomic_fetch_add(&b->next, 1)) < b->n; finished++)
        deliver_item(ev, &b->items[i]);
    return finished;
}

static void *pool_main(void *arg) {
    ev_delivery_pool *p = arg;
    unsigned seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && (!p->batch || p->generation == seen))
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stopping) break;
        delivery_batch *b = p->batch;
        seen = p->generation;
        b->active++;
        pthread_mutex_unlock(&p->mu);
        size_t finished = take_items(p->ev, b);
        pthread_mutex_lock(&p->mu);
        b->done += finished;
        b->active--;
        /* only the dispatcher waits on idle, and only for the whole batch */
        if (b->active == 0 && b->done >= b->n) pthread_cond_signal(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    ev_http_thread_end();
    return NULL;
}

static ev_delivery_pool *pool_start(sl_events *ev) {
    ev_delivery_pool *p = sl_xcalloc(1, sizeof *p);
    p->ev = ev;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (int i = 0; i < DELIVERY_THREADS; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) break;
        pthread_setname_np(p->threads[i], "sl-deliver");
        p->nthreads++;
    }
    return p;
}

static void pool_stop(ev_delivery_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    free(p);
}

/* Runs the items on the dispatcher and the pool; returns when every one is done and no pool
 * thread still holds the batch. */
static void pool_run(ev_delivery_pool *p, sl_events *ev, delivery_item *items, size_t n) {
    delivery_batch b = {.items = items, .n = n};
    atomic_init(&b.next, 0);
    if (n > 1 && p->nthreads) {
        /* as many helpers as there are items besides the dispatcher's own: waking the whole
         * pool for two deliveries cost more context switches than the deliveries */
        size_t helpers = n - 1 < (size_t)p->nthreads ? n - 1 : (size_t)p->nthreads;
        pthread_mutex_lock(&p->mu);
        p->batch = &b;
        p->generation++;
        for (size_t i = 0; i < helpers; i++) pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->mu);
    }
    size_t finished = take_items(ev, &b);
    pthread_mutex_lock(&p->mu);
    b.done += finished;
    while (b.done < n || b.active > 0) pthread_cond_wait(&p->idle, &p->mu);
    p->batch = NULL;
    pthread_mutex_unlock(&p->mu);
}

/* Runs due deliveries; returns ms until the next is due (INT64_MAX when none). */
static int64_t run_deliveries(sl_events *ev) {
    sqlite3 *db = sl_store_reader(ev->store);
    static const char sql_due[] =
        "SELECT id, target, event, event_ms, attempts, bus, rule FROM event_deliveries"
        " WHERE state='pending' AND next_ms <= ?1 ORDER BY next_ms LIMIT ?2";
    int64_t now = sl_now_ms();
    sqlite3_stmt *st = sl_store_cached(db, sql_due);
    if (!st) return 1000;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, DELIVERY_BATCH);
    delivery_outcome out[DELIVERY_BATCH];
    delivery_item items[DELIVERY_BATCH];
    size_t nitems = 0;
    settle_job sj = {.ev = ev, .out = out, .forwards = json_array()};
    while (sqlite3_step(st) == SQLITE_ROW && sj.n < DELIVERY_BATCH) {
        delivery_outcome *o = &out[sj.n++];
        memset(o, 0, sizeof *o);
        o->id = sqlite3_column_int64(st, 0);
        o->attempts = sqlite3_column_int(st, 4) + 1;
        json_t *target = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        json_t *event = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        const char *arn = json_string_value(json_object_get(target, "Arn"));
        if (!target || !event || !arn) {
            snprintf(o->error, sizeof o->error, "stored delivery is unreadable");
        } else if (strstr(arn, ":event-bus/")) {
            char bus[256];
            if (ev_bus_name(arn, bus, sizeof bus) && ev_bus_exists(ev, bus)) {
                json_array_append_new(sj.forwards, json_pack("[s,O]", bus, event));
                o->ok = true;
            } else {
                snprintf(o->error, sizeof o->error, "event bus %s does not exist", arn);
            }
        } else {
            items[nitems++] = (delivery_item){
                .target = json_incref(target),
                .event = json_incref(event),
                .event_ms = sqlite3_column_int64(st, 3),
                .bus = sl_xstrdup((const char *)sqlite3_column_text(st, 5)),
                .rule = sl_xstrdup((const char *)sqlite3_column_text(st, 6)),
                .o = o,
            };
        }
        json_decref(target);
        json_decref(event);
    }
    sqlite3_reset(st);
    pool_run(ev->pool, ev, items, nitems);
    for (size_t i = 0; i < nitems; i++) {
        json_decref(items[i].target);
        json_decref(items[i].event);
        free(items[i].bus);
        free(items[i].rule);
    }
    for (size_t i = 0; i < sj.n; i++) {
        delivery_outcome *o = &out[i];
        if (!o->ok && strcmp(o->error, "deferred by the destination's rate limit") != 0)
            sl_info("\"delivery failed\" id=%lld attempt=%d retry=%s error=\"%s\"",
                    (long long)o->id, o->attempts, o->retry ? "yes" : "no", o->error);
    }
    if (sj.n && sl_store_write(ev->store, settle_run, &sj) != 0)
        sl_error("\"delivery settle failed\"");
    json_decref(sj.forwards);
    if (sj.n == DELIVERY_BATCH) return 0;
    return sl_store_due_in_ms(db,
                              "SELECT min(next_ms) FROM event_deliveries WHERE state='pending'");
}

static void *dispatcher_main(void *arg) {
    sl_events *ev = arg;
    int64_t wait_ms = 0;
    int idle_rounds = 0;
    for (;;) {
        pthread_mutex_lock(&ev->mu);
        if (!ev->kicked && !ev->stopping && wait_ms > 0) {
            bool timed_out = sl_cond_wait_ms(&ev->cv, &ev->mu, wait_ms > 1000 ? 1000 : wait_ms);
            /* After a quiet spell, hand freed heap back to the kernel: a daemon that idles at
             * the edge should not keep its busiest moment's memory. */
            if (timed_out && ++idle_rounds == 2) malloc_trim(0);
            if (!timed_out) idle_rounds = 0;
        }
        bool stop = ev->stopping;
        bool authorize = ev->oauth_pending;
        ev->kicked = false;
        ev->oauth_pending = false;
        pthread_mutex_unlock(&ev->mu);
        if (stop) break;
        int drained;
        while ((drained = drain_outbox(ev)) > 0) {}
        if (authorize) ev_oauth_authorize_pending(ev);
        int64_t a = fire_schedules(ev);
        int64_t b = run_deliveries(ev);
        wait_ms = a < b ? a : b;
        if (drained < 0 && wait_ms > 1000) wait_ms = 1000;
    }
    ev_http_thread_end();
    return NULL;
}

int ev_dispatch_start(sl_events *ev, char *err, size_t errlen) {
    pthread_mutex_init(&ev->mu, NULL);
    pthread_cond_init(&ev->cv, NULL);
    ev->oauth_pending = true; /* connections a restart left AUTHORIZING */
    ev->pool = pool_start(ev);
    if (pthread_create(&ev->thread, NULL, dispatcher_main, ev) != 0) {
        snprintf(err, errlen, "cannot start the events dispatcher");
        pool_stop(ev->pool);
        ev->pool = NULL;
        return -1;
    }
    pthread_setname_np(ev->thread, "sl-events");
    ev->started = true;
    return 0;
}

void ev_dispatch_stop(sl_events *ev) {
    if (!ev->started) return;
    pthread_mutex_lock(&ev->mu);
    ev->stopping = true;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    pthread_join(ev->thread, NULL);
    pool_stop(ev->pool);
    ev->pool = NULL;
    pthread_mutex_destroy(&ev->mu);
    pthread_cond_destroy(&ev->cv);
    ev->started = false;
}
