/* snapshot: a STANDARD execution's run state as JSON, written with every transition and read
 * back after a restart. Runs are listed parents first; a run's machine is found again from its
 * parent's state (a Parallel branch by index, a Map's processor), so a snapshot holds data,
 * never pointers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "states/states_internal.h"

static void set_str(json_t *o, const char *k, const char *v) {
    if (v) json_object_set_new(o, k, json_string(v));
}
static void set_int(json_t *o, const char *k, json_int_t v) {
    if (v) json_object_set_new(o, k, json_integer(v));
}
static void set_val(json_t *o, const char *k, json_t *v) {
    if (v) json_object_set(o, k, v);
}

char *sfn_snapshot_dump(const sfn_exec *e) {
    json_t *runs = json_array();
    json_t *ready = json_array();
    for (int i = 0; i < e->nruns; i++) {
        const sfn_run *r = e->runs[i];
        if (!r || r->phase == RUN_FINISHED) continue;
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(r->id));
        json_object_set_new(o, "p", json_integer(r->parent));
        set_int(o, "slot", r->slot);
        json_object_set_new(o, "st", json_string(r->m->states[r->state].name));
        set_val(o, "in", r->input);
        set_int(o, "em", r->entered_ms);
        set_int(o, "rt", r->retry_total);
        if (r->retries) {
            json_t *a = json_array();
            for (size_t k = 0; k < r->m->states[r->state].nretriers; k++)
                json_array_append_new(a, json_integer(r->retries[k]));
            json_object_set_new(o, "rs", a);
        }
        if (r->resumed) json_object_set_new(o, "rsm", json_true());
        set_int(o, "ph", r->phase);
        set_int(o, "le", r->last_event);
        set_int(o, "w", r->wait);
        set_int(o, "seq", r->seq);
        set_int(o, "dl", r->deadline_ms);
        set_int(o, "hb", r->heartbeat_ms);
        set_int(o, "bd", r->beat_deadline_ms);
        set_str(o, "tok", r->token);
        set_str(o, "res", r->resource);
        set_int(o, "tk", r->task_kind);
        set_val(o, "ti", r->task_input);
        set_str(o, "ca", r->child_arn);
        if (r->task_started) json_object_set_new(o, "ts", json_true());
        set_val(o, "eff", r->effective);
        set_val(o, "items", r->items);
        set_val(o, "res_", r->results);
        set_int(o, "ni", (json_int_t)r->next_item);
        set_int(o, "act", (json_int_t)r->active);
        set_int(o, "done", (json_int_t)r->done);
        set_int(o, "mc", (json_int_t)r->max_concurrency);
        if (r->silent) json_object_set_new(o, "sil", json_true());
        if (r->items_prepared) json_object_set_new(o, "ip", json_true());
        set_val(o, "fail", r->failures);
        set_str(o, "mr", r->map_run_arn);
        json_array_append_new(runs, o);
        if (r->in_ready || r->phase == RUN_READY) json_array_append_new(ready, json_integer(r->id));
    }
    json_t *snap = json_pack("{s:i, s:i, s:i, s:o, s:o}", "v", 1, "ne", e->next_event, "nr",
                             e->nruns, "runs", runs, "ready", ready);
    char *text = json_dumps(snap, JSON_COMPACT);
    json_decref(snap);
    return text;
}

static json_int_t geti(json_t *o, const char *k) {
    return json_integer_value(json_object_get(o, k));
}
static char *gets(json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v ? sl_xstrdup(v) : NULL;
}

int sfn_snapshot_load(sfn_exec *e, const char *text, char *err, size_t errlen) {
    json_error_t je;
    json_t *snap = json_loads(text, 0, &je);
    if (!snap) {
        snprintf(err, errlen, "snapshot: %s", je.text);
        return -1;
    }
    e->next_event = (int)geti(snap, "ne");
    int nr = (int)geti(snap, "nr");
    if (nr < 0 || nr > 10000000) nr = 0;
    e->cap_runs = nr > 4 ? nr : 4;
    e->runs = sl_xcalloc((size_t)e->cap_runs, sizeof *e->runs);
    e->nruns = nr;
    json_t *runs = json_object_get(snap, "runs");
    size_t i;
    json_t *o;
    json_array_foreach(runs, i, o) {
        int id = (int)geti(o, "id"), parent = (int)geti(o, "p"), slot = (int)geti(o, "slot");
        if (id < 0 || id >= nr) goto bad;
        const sl_asl_machine *m = e->machine->asl;
        if (parent >= 0) {
            sfn_run *p = parent < nr ? e->runs[parent] : NULL;
            if (!p) goto bad;
            const sl_asl_state *ps = &p->m->states[p->state];
            if (ps->type == SL_ASL_PARALLEL && (size_t)slot < ps->nbranches) m = ps->branches[slot];
            else if (ps->type == SL_ASL_MAP) m = ps->iterator;
            else goto bad;
        }
        int state = sl_asl_find(m, json_string_value(json_object_get(o, "st")));
        if (state < 0) goto bad;
        sfn_run *r = sl_xcalloc(1, sizeof *r);
        e->runs[id] = r;
        r->id = id;
        r->parent = parent;
        r->slot = slot;
        r->m = m;
        r->state = state;
        r->input = json_incref(json_object_get(o, "in"));
        if (!r->input) r->input = json_object();
        r->entered_ms = geti(o, "em");
        r->retry_total = (int)geti(o, "rt");
        json_t *rs = json_object_get(o, "rs");
        size_t nret = m->states[state].nretriers;
        if (json_is_array(rs) && nret) {
            r->retries = sl_xcalloc(nret, sizeof *r->retries);
            for (size_t k = 0; k < nret && k < json_array_size(rs); k++)
                r->retries[k] = (int)json_integer_value(json_array_get(rs, k));
        }
        r->resumed = json_is_true(json_object_get(o, "rsm"));
        r->phase = (sfn_run_phase)geti(o, "ph");
        r->last_event = (int)geti(o, "le");
        r->wait = (sfn_wait_kind)geti(o, "w");
        r->seq = (int)geti(o, "seq");
        r->deadline_ms = geti(o, "dl");
        r->heartbeat_ms = geti(o, "hb");
        r->beat_deadline_ms = geti(o, "bd");
        r->token = gets(o, "tok");
        r->resource = gets(o, "res");
        r->task_kind = (int)geti(o, "tk");
        r->task_input = json_incref(json_object_get(o, "ti"));
        r->child_arn = gets(o, "ca");
        r->task_started = json_is_true(json_object_get(o, "ts"));
        r->effective = json_incref(json_object_get(o, "eff"));
        r->items = json_incref(json_object_get(o, "items"));
        r->results = json_incref(json_object_get(o, "res_"));
        r->next_item = (size_t)geti(o, "ni");
        r->active = (size_t)geti(o, "act");
        r->done = (size_t)geti(o, "done");
        r->max_concurrency = (size_t)geti(o, "mc");
        r->silent = json_is_true(json_object_get(o, "sil"));
        r->items_prepared = json_is_true(json_object_get(o, "ip"));
        r->failures = json_incref(json_object_get(o, "fail"));
        r->map_run_arn = gets(o, "mr");
    }
    json_t *ready = json_object_get(snap, "ready");
    json_array_foreach(ready, i, o) {
        int id = (int)json_integer_value(o);
        if (id >= 0 && id < nr && e->runs[id]) sfn_run_ready(e, e->runs[id]);
    }
    json_decref(snap);
    return 0;
bad:
    snprintf(err, errlen, "snapshot of %s does not fit its definition", e->arn);
    json_decref(snap);
    return -1;
}
