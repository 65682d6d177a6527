/* catalog: the in-memory side of rules: one compiled matcher per bus (enabled rules with an
 * event pattern) and the rate() schedules. The store is the truth; a bus's matcher is rebuilt
 * from it whenever one of its rules changes, so a rule takes effect as soon as PutRule returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "events/events_internal.h"

void ev_bus_arn(const sl_events *ev, const char *bus, char *out, size_t n) {
    snprintf(out, n, "arn:aws:events:%s:%s:event-bus/%s", ev->cfg->region, ev->cfg->account_id,
             bus);
}

void ev_rule_arn(const sl_events *ev, const char *bus, const char *rule, char *out, size_t n) {
    if (!strcmp(bus, "default"))
        snprintf(out, n, "arn:aws:events:%s:%s:rule/%s", ev->cfg->region, ev->cfg->account_id,
                 rule);
    else
        snprintf(out, n, "arn:aws:events:%s:%s:rule/%s/%s", ev->cfg->region, ev->cfg->account_id,
                 bus, rule);
}

bool ev_bus_name(const char *name_or_arn, char *out, size_t n) {
    const char *name = name_or_arn ? name_or_arn : "default";
    if (!strncmp(name, "arn:", 4)) {
        const char *p = strstr(name, ":event-bus/");
        if (!p) return false;
        name = p + 11;
    }
    if (!*name || strlen(name) >= n) return false;
    snprintf(out, n, "%s", name);
    return true;
}

static bus_matcher *find_bus(sl_events *ev, const char *bus) {
    for (bus_matcher *b = ev->matchers; b; b = b->next)
        if (!strcmp(b->bus, bus)) return b;
    return NULL;
}

static void free_rates_of(sl_events *ev, const char *bus) {
    rate_rule **pp = &ev->rates;
    while (*pp) {
        rate_rule *r = *pp;
        if (!strcmp(r->bus, bus)) {
            *pp = r->next;
            sl_schedule_free(r->schedule);
            free(r->bus);
            free(r->name);
            free(r);
        } else {
            pp = &r->next;
        }
    }
}

/* Records which sources a pattern can match: the strings of a top-level "source" list of exact
 * values; anything else (no "source", an operator, "$or" at the top) can match any source. */
static void note_sources(bus_matcher *b, const char *pattern) {
    json_t *p = json_loads(pattern, 0, NULL);
    json_t *src = json_object_get(p, "source");
    bool exact = json_is_array(src) && json_array_size(src) > 0 && !json_object_get(p, "$or");
    size_t i;
    json_t *v;
    json_array_foreach(src, i, v) {
        if (!json_is_string(v)) exact = false;
    }
    if (exact) {
        json_array_foreach(src, i, v) json_array_append(b->sources, v);
    } else {
        b->any_source = true;
    }
    json_decref(p);
}

/* Builds the matcher for bus from the store; called with the write lock held. */
static void load_bus(sl_events *ev, sqlite3 *db, const char *bus) {
    bus_matcher *b = find_bus(ev, bus);
    if (!b) {
        b = sl_xcalloc(1, sizeof *b);
        b->bus = sl_xstrdup(bus);
        b->next = ev->matchers;
        ev->matchers = b;
    }
    sl_matcher *m = sl_matcher_new();
    free_rates_of(ev, bus);
    json_decref(b->sources);
    b->sources = json_array();
    b->any_source = false;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db, "SELECT name, pattern, schedule FROM event_rules WHERE bus=?1 AND state='ENABLED'",
            -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, bus, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            const char *pattern = (const char *)sqlite3_column_text(st, 1);
            const char *schedule = (const char *)sqlite3_column_text(st, 2);
            char err[256];
            if (pattern && sl_matcher_add(m, name, pattern, strlen(pattern), err, sizeof err) != 0)
                sl_warn("\"stored rule pattern does not compile\" bus=%s rule=%s detail=\"%s\"",
                        bus, name, err);
            else if (pattern) note_sources(b, pattern);
            sl_schedule *sched = schedule ? sl_schedule_parse(schedule, err, sizeof err) : NULL;
            if (sched) {
                rate_rule *r = sl_xcalloc(1, sizeof *r);
                r->bus = sl_xstrdup(bus);
                r->name = sl_xstrdup(name);
                r->schedule = sched;
                r->next_ms = sl_schedule_next(sched, sl_now_ms());
                r->next = ev->rates;
                ev->rates = r;
            }
        }
        sqlite3_finalize(st);
    }
    if (b->matcher) sl_matcher_free(b->matcher);
    b->matcher = m;
}

int ev_catalog_load(sl_events *ev, char *err, size_t errlen) {
    sqlite3 *db = sl_store_reader(ev->store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name FROM event_buses", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "events: %s", sqlite3_errmsg(db));
        return -1;
    }
    pthread_rwlock_wrlock(&ev->lock);
    while (sqlite3_step(st) == SQLITE_ROW)
        load_bus(ev, db, (const char *)sqlite3_column_text(st, 0));
    pthread_rwlock_unlock(&ev->lock);
    sqlite3_finalize(st);
    return 0;
}

void ev_catalog_reload_bus(sl_events *ev, const char *bus) {
    sqlite3 *db = sl_store_reader(ev->store);
    pthread_rwlock_wrlock(&ev->lock);
    load_bus(ev, db, bus);
    pthread_rwlock_unlock(&ev->lock);
}

void ev_catalog_free(sl_events *ev) {
    for (bus_matcher *b = ev->matchers, *n; b; b = n) {
        n = b->next;
        sl_matcher_free(b->matcher);
        json_decref(b->sources);
        free(b->bus);
        free(b);
    }
    ev->matchers = NULL;
    while (ev->rates) {
        rate_rule *r = ev->rates;
        ev->rates = r->next;
        sl_schedule_free(r->schedule);
        free(r->bus);
        free(r->name);
        free(r);
    }
}

size_t ev_catalog_match(sl_events *ev, const char *bus, const json_t *event,
                        void (*fn)(void *ctx, const char *rule), void *ctx) {
    size_t n = 0;
    pthread_rwlock_rdlock(&ev->lock);
    bus_matcher *b = find_bus(ev, bus);
    if (b && b->matcher) n = sl_matcher_match(b->matcher, event, fn, ctx);
    pthread_rwlock_unlock(&ev->lock);
    return n;
}

bool ev_catalog_may_match_source(sl_events *ev, const char *bus, const char *source) {
    bool yes = false;
    pthread_rwlock_rdlock(&ev->lock);
    bus_matcher *b = find_bus(ev, bus);
    if (b && b->any_source) yes = true;
    size_t i;
    json_t *v;
    if (b && !yes) json_array_foreach(b->sources, i, v) {
            if (!strcmp(json_string_value(v), source)) {
                yes = true;
                break;
            }
        }
    pthread_rwlock_unlock(&ev->lock);
    return yes;
}

bool ev_bus_exists(sl_events *ev, const char *bus) {
    sqlite3 *db = sl_store_reader(ev->store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM event_buses WHERE name=?1", -1, &st, NULL) !=
        SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, bus, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}
