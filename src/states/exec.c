/* exec: the interpreter. Advances the runs of one execution state by state: input and output
 * processing, Choice, Wait, Pass, Succeed, Fail, Task scheduling and results, Parallel and Map
 * fan-out and fan-in, Retry with backoff and Catch, execution timeouts and stops. Every step
 * appends its history events to the execution and every wait it starts becomes an effect
 * (a timer to arm, an activity task to publish, a child execution to start) that the runtime
 * carries out once the step is durable. Nothing here blocks, locks or touches storage. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "states/intrinsics.h"
#include "states/s3_tasks.h"
#include "states/states_internal.h"

typedef struct {
    char error[128];
    char cause[2048];
} sfn_err;

static void err_set(sfn_err *er, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_set(sfn_err *er, const char *error, const char *fmt, ...) {
    snprintf(er->error, sizeof er->error, "%s", error);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(er->cause, sizeof er->cause, fmt, ap);
    va_end(ap);
}

const char *sfn_status_name(sfn_exec_status st) {
    switch (st) {
    case EXEC_RUNNING: return "RUNNING";
    case EXEC_SUCCEEDED: return "SUCCEEDED";
    case EXEC_FAILED: return "FAILED";
    case EXEC_TIMED_OUT: return "TIMED_OUT";
    case EXEC_ABORTED: return "ABORTED";
    }
    return "FAILED";
}

static char *json_text(const json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY); }

/* ---- tokens ---- */

char *sfn_token_make(const char *exec_arn, int run, int seq) {
    char nonce[9];
    sl_id_hex(nonce, 4);
    sl_buf raw;
    sl_buf_init(&raw);
    sl_buf_printf(&raw, "%d.%d.%s:%s", run, seq, nonce, exec_arn);
    char *out = sl_xmalloc(raw.len * 4 / 3 + 8);
    size_t n = sl_base64_encode((const unsigned char *)raw.data, raw.len, out);
    out[n] = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '+') out[i] = '-';
        else if (out[i] == '/') out[i] = '_';
    }
    sl_buf_free(&raw);
    return out;
}

bool sfn_token_parse(const char *token, char *arn, size_t arnlen, int *run, int *seq) {
    size_t n = strlen(token);
    if (n == 0 || n > 4096) return false;
    char *tmp = sl_xstrdup(token);
    for (size_t i = 0; i < n; i++) {
        if (tmp[i] == '-') tmp[i] = '+';
        else if (tmp[i] == '_') tmp[i] = '/';
    }
    unsigned char *raw = sl_xmalloc(n + 4);
    long len = sl_base64_decode(tmp, n, raw);
    free(tmp);
    bool ok = false;
    if (len > 0) {
        raw[len] = 0;
        char nonce[16];
        int used = 0;
        if (sscanf((char *)raw, "%d.%d.%8[0-9a-f]:%n", run, seq, nonce, &used) == 3 && used > 0 &&
            strncmp((char *)raw + used, "arn:", 4) == 0 && strlen((char *)raw + used) < arnlen) {
            snprintf(arn, arnlen, "%s", (char *)raw + used);
            ok = true;
        }
    }
    free(raw);
    return ok;
}

/* ---- events and effects ---- */

static bool recording(const sfn_exec *e) { return !e->express; }

static void exec_fail_now(sfn_exec *e, sfn_exec_status st, const char *error, const char *cause);

/* Appends a history event for run r (NULL: execution level). details: {"xEventDetails": {...}}
 * (stolen, may be NULL). */
static int hist(sfn_exec *e, sfn_run *r, const char *type, json_t *details) {
    if (!recording(e) || (r && r->silent)) {
        json_decref(details);
        return 0;
    }
    sfn_event *ev = sl_xcalloc(1, sizeof *ev);
    ev->id = ++e->next_event;
    ev->previous = r ? r->last_event : (e->next_event > 1 ? e->next_event - 1 : 0);
    if (r) r->last_event = ev->id;
    ev->type = type;
    ev->ts_ms = sl_now_ms();
    ev->details = details;
    if (e->events_tail) e->events_tail->next = ev;
    else e->events = ev;
    e->events_tail = ev;
    e->nevents++;
    return ev->id;
}

static json_t *details1(const char *field, json_t *obj) {
    json_t *d = json_object();
    json_object_set_new(d, field, obj);
    return d;
}

/* {"name":..., "input": text, "inputDetails": {"truncated": false}} and friends, from the
 * data's JSON text (NULL: no data field). */
static json_t *data_details_text(const char *name, const char *data_field, const char *text) {
    json_t *o = json_object();
    if (name) json_object_set_new(o, "name", json_string(name));
    if (text) {
        json_object_set_new(o, data_field, json_string(text));
        char det[32];
        snprintf(det, sizeof det, "%sDetails", data_field);
        json_object_set_new(o, det, json_pack("{s:b}", "truncated", 0));
    }
    return o;
}

/* The same from the data (NULL: no data field). */
static json_t *data_details(const char *name, const char *data_field, const json_t *data) {
    if (!data) return data_details_text(name, data_field, NULL);
    char *t = json_text(data);
    json_t *o = data_details_text(name, data_field, t ? t : "null");
    free(t);
    return o;
}

static sfn_effect *effect(sfn_exec *e, sfn_effect_kind kind) {
    sfn_effect *f = sl_xcalloc(1, sizeof *f);
    f->kind = kind;
    if (e->effects_tail) e->effects_tail->next = f;
    else e->effects = f;
    e->effects_tail = f;
    return f;
}

static void effect_timer(sfn_exec *e, sfn_run *r, sfn_msg_kind msg, int64_t when) {
    sfn_effect *f = effect(e, EFFECT_TIMER);
    f->run = r ? r->id : -1;
    f->seq = r ? r->seq : 0;
    f->msg = msg;
    f->when_ms = when;
}

void sfn_exec_event_free_all(sfn_exec *e) {
    for (sfn_event *ev = e->events, *nx; ev; ev = nx) {
        nx = ev->next;
        json_decref(ev->details);
        free(ev->text);
        free(ev);
    }
    e->events = e->events_tail = NULL;
    e->nevents = 0;
}

void sfn_exec_effect_free_all(sfn_exec *e) {
    for (sfn_effect *f = e->effects, *nx; f; f = nx) {
        nx = f->next;
        free(f->arn);
        free(f->token);
        json_decref(f->payload);
        free(f);
    }
    e->effects = e->effects_tail = NULL;
}

void sfn_msg_free(sfn_msg *m) {
    if (!m) return;
    json_decref(m->output);
    free(m->error);
    free(m->cause);
    free(m->worker);
    free(m);
}

/* ---- runs ---- */

sfn_run *sfn_run_new(sfn_exec *e, const sl_asl_machine *m, int parent, int slot, json_t *input) {
    sfn_run *r = sl_xcalloc(1, sizeof *r);
    if (e->nruns == e->cap_runs) {
        e->cap_runs = e->cap_runs ? e->cap_runs * 2 : 4;
        e->runs = sl_xrealloc(e->runs, (size_t)e->cap_runs * sizeof *e->runs);
    }
    r->id = e->nruns;
    e->runs[e->nruns++] = r;
    r->parent = parent;
    r->slot = slot;
    r->m = m;
    r->state = m->start;
    r->input = json_incref(input);
    r->phase = RUN_READY;
    return r;
}

static void run_clear_wait(sfn_run *r) {
    r->wait = WAIT_NONE;
    r->deadline_ms = r->heartbeat_ms = r->beat_deadline_ms = 0;
    free(r->token);
    r->token = NULL;
    free(r->resource);
    r->resource = NULL;
    json_decref(r->task_input);
    r->task_input = NULL;
    free(r->child_arn);
    r->child_arn = NULL;
    r->task_started = false;
}

static void run_clear_children(sfn_run *r) {
    json_decref(r->effective);
    json_decref(r->items);
    json_decref(r->results);
    json_decref(r->failures);
    free(r->map_run_arn);
    r->map_run_arn = NULL;
    r->items_prepared = false;
    r->effective = r->items = r->results = r->failures = NULL;
    r->next_item = r->active = r->done = 0;
    r->children_failed = false;
}

static void run_free(sfn_run *r) {
    if (!r) return;
    run_clear_wait(r);
    run_clear_children(r);
    json_decref(r->input);
    free(r->input_text);
    json_decref(r->output);
    free(r->error);
    free(r->cause);
    free(r->retries);
    free(r);
}

void sfn_run_ready(sfn_exec *e, sfn_run *r) {
    r->phase = RUN_READY;
    if (r->in_ready) return;
    r->in_ready = true;
    r->next_ready = NULL;
    if (e->ready_tail) e->ready_tail->next_ready = r;
    else e->ready_head = r;
    e->ready_tail = r;
}

static sfn_run *run_get(sfn_exec *e, int id) {
    return id >= 0 && id < e->nruns ? e->runs[id] : NULL;
}

static const sl_asl_state *run_state(const sfn_run *r) { return &r->m->states[r->state]; }

static void ready_remove(sfn_exec *e, sfn_run *r) {
    if (!r->in_ready) return;
    sfn_run *prev = NULL;
    for (sfn_run *x = e->ready_head; x; prev = x, x = x->next_ready) {
        if (x != r) continue;
        if (prev) prev->next_ready = x->next_ready;
        else e->ready_head = x->next_ready;
        if (e->ready_tail == x) e->ready_tail = prev;
        break;
    }
    r->in_ready = false;
    r->next_ready = NULL;
}

/* Ends the waits of r and of every run below it (the execution stopped, or a sibling branch
 * failed), freeing the descendants. */
static void run_abort_tree(sfn_exec *e, sfn_run *r) {
    for (int i = 0; i < e->nruns; i++) {
        sfn_run *c = e->runs[i];
        if (c && c->parent == r->id) {
            run_abort_tree(e, c);
            ready_remove(e, c);
            e->runs[i] = NULL;
            run_free(c);
        }
    }
    if (r->wait == WAIT_TASK && r->token) {
        sfn_effect *f = effect(e, EFFECT_FORGET_TOKEN);
        f->token = sl_xstrdup(r->token);
        if (r->child_arn) {
            sfn_effect *s = effect(e, EFFECT_STOP_CHILD);
            s->arn = sl_xstrdup(r->child_arn);
        }
    }
    r->seq++;
    run_clear_wait(r);
    r->phase = RUN_FINISHED;
}

/* ---- context object ---- */

/* $$.Execution and $$.StateMachine, built when a state first reads the context object (most
 * states never do) and shared by every context object of the execution after that. */
static void exec_context_init(sfn_exec *e) {
    char when[32];
    sl_time_iso8601_ms(e->start_ms, when);
    e->ctx_execution = json_pack("{s:s, s:O, s:s, s:s, s:s, s:i}", "Id", e->arn, "Input", e->input,
                                 "Name", e->name, "RoleArn", e->machine->role_arn, "StartTime",
                                 when, "RedriveCount", e->redrive_count);
    e->ctx_machine = json_pack("{s:s, s:s}", "Id", e->machine->arn, "Name", e->machine->name);
}

/* The context object for r's state, or NULL when the state never mentions `$$` (paths,
 * templates and intrinsics then never look at it; a `$$` path given NULL matches nothing). */
static json_t *context_for(sfn_exec *e, sfn_run *r, const char *token, json_t *map_item) {
    if (!run_state(r)->uses_context) return NULL;
    if (!e->ctx_execution) exec_context_init(e);
    char when[32];
    sl_time_iso8601_ms(r->entered_ms, when);
    json_t *ctx = json_object();
    json_object_set(ctx, "Execution", e->ctx_execution);
    json_object_set(ctx, "StateMachine", e->ctx_machine);
    json_object_set_new(ctx, "State",
                        json_pack("{s:s, s:s, s:i}", "EnteredTime", when, "Name",
                                  run_state(r)->name, "RetryCount", r->retry_total));
    if (token) json_object_set_new(ctx, "Task", json_pack("{s:s}", "Token", token));
    if (map_item) json_object_set_new(ctx, "Map", json_pack("{s:O}", "Item", map_item));
    return ctx;
}

/* ---- input and output processing ---- */

static const char *state_prefix(sfn_exec *e, sfn_run *r, char *buf, size_t n) {
    snprintf(buf, n,
             "An error occurred while executing the state '%s' (entered at the event id #%d).",
             run_state(r)->name, r->last_event);
    return buf;
}

static json_t *apply_path_raw(sfn_exec *e, sfn_run *r, const sl_asl_path *p, json_t *value,
                              json_t *ctx, sfn_err *er);

/* TestState's inspection data: what each processing step made of the tested state's data. */
static void inspect(sfn_exec *e, const sfn_run *r, const char *key, json_t *v) {
    if (e->inspect && r->parent < 0 && v) json_object_set(e->inspect, key, v);
}

static json_t *apply_path(sfn_exec *e, sfn_run *r, const sl_asl_path *p, const char *field,
                          json_t *value, json_t *ctx, sfn_err *er) {
    json_t *out = apply_path_raw(e, r, p, value, ctx, er);
    if (!strcmp(field, "InputPath")) inspect(e, r, "afterInputPath", out);
    else if (!strcmp(field, "ItemsPath")) inspect(e, r, "afterItemsPath", out);
    return out;
}

static json_t *apply_path_raw(sfn_exec *e, sfn_run *r, const sl_asl_path *p, json_t *value,
                              json_t *ctx, sfn_err *er) {
    if (p->is_null) return json_object();
    if (!p->path) return json_incref(value);
    char msg[512];
    json_t *out = sl_jsonpath_eval(p->path, value, ctx, msg, sizeof msg);
    if (!out) {
        char pre[256];
        err_set(er, SL_STATES_RUNTIME, "%s Invalid path '%s' : %s",
                state_prefix(e, r, pre, sizeof pre), sl_jsonpath_text(p->path), msg);
    }
    return out;
}

static json_t *apply_result_path(sfn_exec *e, sfn_run *r, const sl_asl_path *p, json_t *input,
                                 json_t *result, sfn_err *er) {
    if (p->is_null || !p->path) {
        json_t *out = json_incref(p->is_null ? input : result);
        inspect(e, r, "afterResultPath", out);
        return out;
    }
    char msg[512];
    json_t *out = sl_jsonpath_put(p->path, input, result, msg, sizeof msg);
    inspect(e, r, "afterResultPath", out);
    if (!out) {
        char pre[256];
        err_set(er, SL_STATES_RESULT_PATH_MATCH_FAILURE, "%s Unable to apply ResultPath '%s': %s",
                state_prefix(e, r, pre, sizeof pre), sl_jsonpath_text(p->path), msg);
    }
    return out;
}

static json_t *apply_payload(sfn_exec *e, sfn_run *r, const sl_payload *t, json_t *input,
                             json_t *ctx, sfn_err *er) {
    const char *name = NULL;
    char cause[1024];
    json_t *out = sl_payload_eval(t, input, ctx, &name, cause, sizeof cause);
    if (t == run_state(r)->parameters) inspect(e, r, "afterParameters", out);
    else if (t == run_state(r)->result_selector) inspect(e, r, "afterResultSelector", out);
    if (!out) {
        char pre[256];
        err_set(er, name ? name : SL_STATES_RUNTIME, "%s %s", state_prefix(e, r, pre, sizeof pre),
                cause);
    }
    return out;
}

/* A literal-or-computed field's value evaluated against input. NULL: absent or failed (er set
 * when failed). */
static json_t *value_eval(sfn_exec *e, sfn_run *r, const sl_asl_value *v, json_t *input,
                          json_t *ctx, sfn_err *er) {
    if (!v->present) return NULL;
    if (v->literal) return json_incref(v->literal);
    if (!v->dynamic) return NULL;
    json_t *o = apply_payload(e, r, v->dynamic, input, ctx, er);
    if (!o) return NULL;
    json_t *val = json_incref(json_object_get(o, "value"));
    json_decref(o);
    return val;
}

/* Output larger than the limit fails the state (AWS: States.DataLimitExceeded). Recorded
 * executions check the text they make for the history anyway; EXPRESS ones check the
 * execution's output with json_text_exceeds, which counts the text without writing it. */
static bool text_too_big(const char *text) { return text && strlen(text) > SFN_DATA_LIMIT; }

/* The length of a JSON string's text as jansson writes it: quotes, and escapes for '"', '\\'
 * and control characters (\b \f \n \r \t, else \u00XX); everything else as is. */
static size_t string_text_len(const char *p, size_t n) {
    size_t len = n + 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') len += 1;
        else if (c < 0x20)
            len += (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') ? 1 : 5;
    }
    return len;
}

/* Adds the length of v's compact text (json_text) to *len, giving up once it passes limit. */
static void text_len_upto(json_t *v, size_t *len, size_t limit) {
    if (*len > limit) return;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        *len += 2; /* {} */
        bool first = true;
        for (void *it = json_object_iter(v); it && *len <= limit;
             it = json_object_iter_next(v, it)) {
            if (!first) *len += 1; /* , */
            first = false;
            *len += string_text_len(json_object_iter_key(it), json_object_iter_key_len(it)) + 1;
            text_len_upto(json_object_iter_value(it), len, limit);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        *len += 2 + (n ? n - 1 : 0); /* [] and commas */
        for (size_t i = 0; i < n && *len <= limit; i++)
            text_len_upto(json_array_get(v, i), len, limit);
        break;
    }
    case JSON_STRING: *len += string_text_len(json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: {
        char buf[32];
        *len += (size_t)snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    }
    case JSON_REAL: { /* jansson's own formatting: rare enough to ask it */
        char *t = json_text(v);
        *len += t ? strlen(t) : 0;
        free(t);
        break;
    }
    case JSON_TRUE:
    case JSON_NULL: *len += 4; break;
    case JSON_FALSE: *len += 5; break;
    }
}

/* True when v's compact JSON text is longer than limit bytes. */
static bool json_text_exceeds(json_t *v, size_t limit) {
    size_t len = 0;
    text_len_upto(v, &len, limit);
    return len > limit;
}

/* ---- run lifecycle ---- */

static const char *const exited_type[] = {
    "PassStateExited",    "TaskStateExited", "ChoiceStateExited",   "WaitStateExited",
    "SucceedStateExited", "FailStateExited", "ParallelStateExited", "MapStateExited"};

static void state_error(sl_states *s, sfn_exec *e, sfn_run *r, const char *error,
                        const char *cause);
static void run_finish(sl_states *s, sfn_exec *e, sfn_run *r, bool ok, json_t *output,
                       const char *output_text, const char *error, const char *cause);

static void exec_end(sfn_exec *e, sfn_exec_status st, json_t *output, const char *error,
                     const char *cause) {
    if (e->status != EXEC_RUNNING) return;
    e->status = st;
    e->stop_ms = sl_now_ms();
    e->finished = true;
    e->dirty = true;
    if (st == EXEC_SUCCEEDED) {
        e->output = json_incref(output);
    } else {
        e->error = error ? sl_xstrdup(error) : NULL;
        e->cause = cause ? sl_xstrdup(cause) : NULL;
    }
    if (e->parent_token) {
        sfn_effect *f = effect(e, EFFECT_NOTIFY_PARENT);
        f->token = sl_xstrdup(e->parent_token);
    }
}

static void remember_redrive_point(sfn_exec *e, const sfn_run *top) {
    if (!top || e->redrive_point) return;
    e->redrive_point =
        json_pack("{s:s, s:O}", "state", top->m->states[top->state].name, "input", top->input);
}

static void exec_fail_now(sfn_exec *e, sfn_exec_status st, const char *error, const char *cause) {
    if (e->status != EXEC_RUNNING) return;
    sfn_run *top = run_get(e, 0);
    remember_redrive_point(e, top);
    const char *type = st == EXEC_TIMED_OUT ? "ExecutionTimedOut"
                       : st == EXEC_ABORTED ? "ExecutionAborted"
                                            : "ExecutionFailed";
    const char *field = st == EXEC_TIMED_OUT ? "executionTimedOutEventDetails"
                        : st == EXEC_ABORTED ? "executionAbortedEventDetails"
                                             : "executionFailedEventDetails";
    if (recording(e)) {
        json_t *d = json_object();
        if (error) json_object_set_new(d, "error", json_string(error));
        if (cause) json_object_set_new(d, "cause", json_string(cause));
        hist(e, top, type, details1(field, d));
    }
    if (top) run_abort_tree(e, top);
    exec_end(e, st, NULL, error, cause);
}

/* Moves r to its next state with output, or finishes it. text: output's JSON text when made
 * already (taken; the next StateEntered event reuses it), or NULL. */
static void run_transition(sl_states *s, sfn_exec *e, sfn_run *r, int next, json_t *output,
                           char *text) {
    if (next < 0) {
        run_finish(s, e, r, true, output, text, NULL, NULL);
        free(text);
        return;
    }
    if (e->test_mode && r->parent < 0) {
        free(text);
        /* TestState runs one state: the transition is its answer */
        free(e->test_next);
        e->test_next = sl_xstrdup(r->m->states[next].name);
        char *error = e->error, *cause = e->cause;
        e->error = e->cause = NULL;
        exec_end(e, EXEC_SUCCEEDED, output, NULL, NULL);
        e->error = error;
        e->cause = cause;
        return;
    }
    json_decref(r->input);
    r->input = json_incref(output);
    free(r->input_text);
    r->input_text = text;
    r->state = next;
    r->retry_total = 0;
    free(r->retries);
    r->retries = NULL;
    r->resumed = false;
    run_clear_wait(r);
    run_clear_children(r);
    sfn_run_ready(e, r);
}

/* StateExited + transition; a too-large output fails the state instead. */
static void state_exit(sl_states *s, sfn_exec *e, sfn_run *r, int next, json_t *output) {
    const sl_asl_state *st = run_state(r);
    char *text = NULL;
    if (recording(e)) {
        text = json_text(output);
        if (text_too_big(text)) {
            free(text);
            char cause[256];
            snprintf(cause, sizeof cause,
                     "The state/task '%s' returned a result with a size exceeding the maximum "
                     "number of bytes service limit.",
                     st->name);
            state_error(s, e, r, "States.DataLimitExceeded", cause);
            return;
        }
        hist(e, r, exited_type[st->type],
             details1("stateExitedEventDetails",
                      data_details_text(st->name, "output", text ? text : "null")));
    }
    run_transition(s, e, r, st->end ? -1 : st->next, output, text);
}

static void parent_child_done(sl_states *s, sfn_exec *e, sfn_run *p, sfn_run *c);

/* r ends: succeeded with output (its JSON text when made already, else NULL) or failed. */
static void run_finish(sl_states *s, sfn_exec *e, sfn_run *r, bool ok, json_t *output,
                       const char *output_text, const char *error, const char *cause) {
    r->phase = RUN_FINISHED;
    r->succeeded = ok;
    run_clear_wait(r);
    if (ok) {
        json_decref(r->output);
        r->output = json_incref(output);
    } else {
        free(r->error);
        free(r->cause);
        r->error = error ? sl_xstrdup(error) : NULL;
        r->cause = cause ? sl_xstrdup(cause) : NULL;
    }
    if (r->parent >= 0) {
        sfn_run *p = run_get(e, r->parent);
        if (p) parent_child_done(s, e, p, r);
        return;
    }
    if (ok) {
        if (recording(e)) {
            hist(e, r, "ExecutionSucceeded",
                 details1("executionSucceededEventDetails",
                          output_text ? data_details_text(NULL, "output", output_text)
                                      : data_details(NULL, "output", output)));
        } else {
            if (json_text_exceeds(output, SFN_DATA_LIMIT)) {
                exec_end(e, EXEC_FAILED, NULL, "States.DataLimitExceeded",
                         "The execution output exceeds the maximum number of bytes service limit.");
                return;
            }
        }
        exec_end(e, EXEC_SUCCEEDED, output, NULL, NULL);
        if (output_text && e->output == output && !e->output_text)
            e->output_text = sl_xstrdup(output_text);
    } else {
        remember_redrive_point(e, r);
        if (recording(e)) {
            json_t *d = json_object();
            if (error) json_object_set_new(d, "error", json_string(error));
            if (cause) json_object_set_new(d, "cause", json_string(cause));
            hist(e, r, "ExecutionFailed", details1("executionFailedEventDetails", d));
        }
        exec_end(e, EXEC_FAILED, NULL, error, cause);
    }
}

static double retry_delay(const sl_asl_retrier *rt, int attempt) {
    double d = rt->interval_seconds * pow(rt->backoff_rate, attempt);
    if (rt->max_delay_seconds > 0 && d > rt->max_delay_seconds) d = rt->max_delay_seconds;
    if (rt->jitter_full) {
        unsigned int rnd;
        sl_random_bytes(&rnd, sizeof rnd);
        d = d * ((double)rnd / 4294967295.0);
    }
    return d;
}

/* An error in state r: Retry, then Catch, then the run fails. */
static void state_error(sl_states *s, sfn_exec *e, sfn_run *r, const char *error,
                        const char *cause) {
    const sl_asl_state *st = run_state(r);
    if (st->nretriers) {
        if (!r->retries) r->retries = sl_xcalloc(st->nretriers, sizeof *r->retries);
        for (size_t i = 0; i < st->nretriers; i++) {
            const sl_asl_retrier *rt = &st->retriers[i];
            if (!sl_asl_error_matches(rt->errors, rt->nerrors, error)) continue;
            if (r->retries[i] >= rt->max_attempts) break;
            if (e->test_mode && r->parent < 0) {
                e->test_retriable = true;
                exec_end(e, EXEC_FAILED, NULL, error, cause);
                return;
            }
            double delay = retry_delay(rt, r->retries[i]);
            r->retries[i]++;
            r->retry_total++;
            run_clear_wait(r);
            run_clear_children(r);
            r->seq++;
            r->wait = WAIT_RETRY;
            r->phase = RUN_WAITING;
            r->deadline_ms = sl_now_ms() + (int64_t)(delay * 1000.0);
            effect_timer(e, r, MSG_TIMER, r->deadline_ms);
            e->dirty = true;
            return;
        }
    }
    for (size_t i = 0; i < st->ncatchers; i++) {
        const sl_asl_catcher *c = &st->catchers[i];
        if (!sl_asl_error_matches(c->errors, c->nerrors, error)) continue;
        if (e->test_mode && r->parent < 0) {
            free(e->error);
            free(e->cause);
            e->error = error ? sl_xstrdup(error) : NULL;
            e->cause = cause ? sl_xstrdup(cause) : NULL;
            e->test_caught = true;
        }
        json_t *eo = json_object();
        json_object_set_new(eo, "Error", json_string(error));
        json_object_set_new(eo, "Cause", json_string(cause ? cause : ""));
        sfn_err er = {0};
        json_t *out = apply_result_path(e, r, &c->result_path, r->input, eo, &er);
        json_decref(eo);
        if (!out) {
            run_finish(s, e, r, false, NULL, NULL, er.error, er.cause);
            return;
        }
        char *text = NULL;
        if (recording(e)) {
            text = json_text(out);
            hist(e, r, exited_type[st->type],
                 details1("stateExitedEventDetails",
                          data_details_text(st->name, "output", text ? text : "null")));
        }
        run_transition(s, e, r, c->next, out, text);
        json_decref(out);
        return;
    }
    run_finish(s, e, r, false, NULL, NULL, error, cause);
}

/* ---- Task ---- */

static const char *resource_type_of(sfn_task_kind k) {
    switch (k) {
    case TASK_START_EXECUTION:
    case TASK_START_EXECUTION_SYNC:
    case TASK_START_EXECUTION_SYNC2:
    case TASK_START_EXECUTION_TOKEN: return "states";
    case TASK_AWS_SDK_S3: return "aws-sdk:s3";
    case TASK_S3: return "s3";
    case TASK_EVENTS_PUT:
    case TASK_EVENTS_PUT_TOKEN: return "events";
    case TASK_ECS_RUN:
    case TASK_ECS_RUN_SYNC:
    case TASK_ECS_RUN_TOKEN: return "ecs";
    case TASK_SNS_PUBLISH:
    case TASK_SNS_PUBLISH_TOKEN: return "sns";
    default: return "unknown";
    }
}

/* "startExecution.sync:2" from "arn:aws:states:::states:startExecution.sync:2". */
static const char *resource_short(const char *resource) {
    const char *p = resource;
    int colons = 0;
    for (; *p && colons < 6; p++)
        if (*p == ':') colons++;
    if (colons < 6) return resource;
    const char *svc_end = strchr(p, ':');
    if (sl_str_has_prefix(p, "aws-sdk:")) svc_end = strchr(p + 8, ':');
    return svc_end ? svc_end + 1 : p;
}

static json_t *task_details(sfn_run *r, const char *data_field, const json_t *data) {
    json_t *d = json_object();
    json_object_set_new(d, "resourceType", json_string(resource_type_of(r->task_kind)));
    json_object_set_new(d, "resource", json_string(resource_short(r->resource)));
    if (data) {
        char *t = json_text(data);
        json_object_set_new(d, data_field, json_string(t ? t : "null"));
        free(t);
        char det[32];
        snprintf(det, sizeof det, "%sDetails", data_field);
        json_object_set_new(d, det, json_pack("{s:b}", "truncated", 0));
    }
    return d;
}

static void task_succeeded(sl_states *s, sfn_exec *e, sfn_run *r, json_t *result);
static void task_failed(sl_states *s, sfn_exec *e, sfn_run *r, const char *error, const char *cause,
                        bool timed_out);

static bool seconds_value(json_t *v, int64_t *out) {
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 &&
        floor(json_real_value(v)) == json_real_value(v)) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    return false;
}

static void task_enter(sl_states *s, sfn_exec *e, sfn_run *r) {
    const sl_asl_state *st = run_state(r);
    sfn_err er = {0};
    const char *action = NULL;
    sfn_task_kind kind = sfn_task_classify(s, st->resource, &action);
    r->seq++;
    char *token = sfn_token_make(e->arn, r->id, r->seq);
    json_t *ctx = context_for(e, r, token, NULL);
    json_t *eff = apply_path(e, r, &st->input_path, "InputPath", r->input, ctx, &er);
    json_t *params = NULL;
    if (eff)
        params =
            st->parameters ? apply_payload(e, r, st->parameters, eff, ctx, &er) : json_incref(eff);
    int64_t timeout = SFN_TASK_TIMEOUT_S, heartbeat = 0;
    if (params) {
        json_t *tv = value_eval(e, r, &st->timeout_seconds, r->input, ctx, &er);
        if (tv && (!seconds_value(tv, &timeout) || timeout <= 0)) {
            err_set(&er, SL_STATES_RUNTIME,
                    "The TimeoutSecondsPath value must be a positive integer");
            json_decref(params);
            params = NULL;
        }
        json_decref(tv);
    }
    if (params) {
        json_t *hv = value_eval(e, r, &st->heartbeat_seconds, r->input, ctx, &er);
        if (hv && (!seconds_value(hv, &heartbeat) || heartbeat <= 0)) {
            err_set(&er, SL_STATES_RUNTIME,
                    "The HeartbeatSecondsPath value must be a positive integer");
            json_decref(params);
            params = NULL;
        }
        json_decref(hv);
    }
    json_decref(ctx);
    json_decref(eff);
    if (!params) {
        free(token);
        state_error(s, e, r, er.error, er.cause);
        return;
    }
    run_clear_wait(r);
    r->token = token;
    r->resource = sl_xstrdup(st->resource);
    r->task_kind = (int)kind;
    r->task_input = params;
    int64_t now = sl_now_ms();

    if (e->mock) {
        /* TestState with a mocked result or error: the integration is not called */
        json_t *res = json_object_get(e->mock, "result");
        json_t *eo = json_object_get(e->mock, "errorOutput");
        if (json_is_string(res)) {
            json_t *v = json_loads(json_string_value(res), JSON_DECODE_ANY, NULL);
            task_succeeded(s, e, r, v ? v : json_null());
            json_decref(v);
        } else {
            task_failed(s, e, r, json_string_value(json_object_get(eo, "error")),
                        json_string_value(json_object_get(eo, "cause")), false);
        }
        return;
    }

    if (kind == TASK_ACTIVITY) {
        if (recording(e)) {
            json_t *d = data_details(NULL, "input", params);
            json_object_set_new(d, "resource", json_string(st->resource));
            if (st->timeout_seconds.present)
                json_object_set_new(d, "timeoutInSeconds", json_integer(timeout));
            if (heartbeat) json_object_set_new(d, "heartbeatInSeconds", json_integer(heartbeat));
            hist(e, r, "ActivityScheduled", details1("activityScheduledEventDetails", d));
        }
        sfn_effect *f = effect(e, EFFECT_ACTIVITY);
        f->arn = sl_xstrdup(st->resource);
        f->token = sl_xstrdup(token);
        f->payload = json_incref(params);
    } else {
        if (recording(e)) {
            json_t *d = json_object();
            json_object_set_new(d, "resourceType", json_string(resource_type_of(kind)));
            json_object_set_new(d, "resource", json_string(resource_short(st->resource)));
            json_object_set_new(d, "region", json_string(s->cfg->region));
            char *t = json_text(params);
            json_object_set_new(d, "parameters", json_string(t ? t : "{}"));
            free(t);
            if (st->timeout_seconds.present)
                json_object_set_new(d, "timeoutInSeconds", json_integer(timeout));
            if (heartbeat) json_object_set_new(d, "heartbeatInSeconds", json_integer(heartbeat));
            hist(e, r, "TaskScheduled", details1("taskScheduledEventDetails", d));
            hist(e, r, "TaskStarted",
                 details1("taskStartedEventDetails", task_details(r, NULL, NULL)));
        }
        r->task_started = true;
        if (kind == TASK_UNKNOWN) {
            char cause[512];
            snprintf(cause, sizeof cause, "The resource '%s' is not supported by Sluice.",
                     st->resource);
            if (recording(e)) {
                json_t *d = task_details(r, NULL, NULL);
                json_object_set_new(d, "error", json_string("States.TaskFailed"));
                json_object_set_new(d, "cause", json_string(cause));
                hist(e, r, "TaskFailed", details1("taskFailedEventDetails", d));
            }
            state_error(s, e, r, "States.TaskFailed", cause);
            return;
        }
        if (kind == TASK_AWS_SDK_S3 || kind == TASK_S3 || kind == TASK_EVENTS_PUT ||
            kind == TASK_EVENTS_PUT_TOKEN || kind == TASK_SNS_PUBLISH ||
            kind == TASK_SNS_PUBLISH_TOKEN) {
            char *error = NULL, *cause = NULL;
            json_t *res = sfn_task_run_sync(s, kind, action, params, &error, &cause);
            if (!res) {
                if (recording(e)) {
                    json_t *d = task_details(r, NULL, NULL);
                    json_object_set_new(d, "error",
                                        json_string(error ? error : "States.TaskFailed"));
                    json_object_set_new(d, "cause", json_string(cause ? cause : ""));
                    hist(e, r, "TaskFailed", details1("taskFailedEventDetails", d));
                }
                state_error(s, e, r, error ? error : "States.TaskFailed", cause);
                free(error);
                free(cause);
                return;
            }
            if (kind != TASK_EVENTS_PUT_TOKEN && kind != TASK_SNS_PUBLISH_TOKEN) {
                task_succeeded(s, e, r, res);
                json_decref(res);
                return;
            }
            if (recording(e))
                hist(e, r, "TaskSubmitted",
                     details1("taskSubmittedEventDetails", task_details(r, "output", res)));
            json_decref(res);
        } else if (kind == TASK_ECS_RUN || kind == TASK_ECS_RUN_SYNC ||
                   kind == TASK_ECS_RUN_TOKEN) {
            /* the ECS task starts once this step is durable */
            sfn_effect *f = effect(e, EFFECT_RUN_TASK);
            f->run = r->id;
            f->seq = r->seq;
            f->token = sl_xstrdup(token);
            f->task_kind = (int)kind;
            f->payload = json_incref(params);
        } else {
            /* startExecution: the child starts once this step is durable. */
            json_t *sm = json_object_get(params, "StateMachineArn");
            if (!json_is_string(sm)) {
                const char *c = "The field 'StateMachineArn' is required.";
                if (recording(e)) {
                    json_t *d = task_details(r, NULL, NULL);
                    json_object_set_new(d, "error", json_string("States.Runtime"));
                    json_object_set_new(d, "cause", json_string(c));
                    hist(e, r, "TaskFailed", details1("taskFailedEventDetails", d));
                }
                state_error(s, e, r, "States.TaskFailed", c);
                return;
            }
            const char *name = json_string_value(json_object_get(params, "Name"));
            char uuid[37];
            if (!name) {
                sl_id_uuid(uuid);
                name = uuid;
            }
            char mname[128], rest[8];
            if (!sfn_arn_split(json_string_value(sm), "stateMachine", mname, sizeof mname, rest,
                               sizeof rest))
                snprintf(mname, sizeof mname, "invalid");
            char child[512];
            char nm[300];
            snprintf(nm, sizeof nm, "%s:%.160s", mname, name);
            sfn_arn(s, "execution", nm, child, sizeof child);
            r->child_arn = sl_xstrdup(child);
            sfn_effect *f = effect(e, EFFECT_START_CHILD);
            f->arn = sl_xstrdup(child);
            f->run = r->id;
            f->seq = r->seq;
            f->token = sl_xstrdup(token);
            f->task_kind = (int)kind;
            f->payload = json_incref(params);
        }
    }
    r->wait = WAIT_TASK;
    r->phase = RUN_WAITING;
    r->deadline_ms = now + timeout * 1000;
    if (timeout < SFN_TASK_TIMEOUT_S) effect_timer(e, r, MSG_TASK_TIMED_OUT, r->deadline_ms);
    r->heartbeat_ms = heartbeat * 1000;
    if (heartbeat) {
        r->beat_deadline_ms = now + r->heartbeat_ms;
        effect_timer(e, r, MSG_TASK_TIMED_OUT, r->beat_deadline_ms);
    }
    e->dirty = true;
}

/* The task's result: ResultSelector, ResultPath, OutputPath, then on. */
static void task_succeeded(sl_states *s, sfn_exec *e, sfn_run *r, json_t *result) {
    const sl_asl_state *st = run_state(r);
    if (recording(e)) {
        if (r->task_kind == TASK_ACTIVITY)
            hist(e, r, "ActivitySucceeded",
                 details1("activitySucceededEventDetails", data_details(NULL, "output", result)));
        else
            hist(e, r, "TaskSucceeded",
                 details1("taskSucceededEventDetails", task_details(r, "output", result)));
    }
    run_clear_wait(r);
    r->phase = RUN_WAITING;
    inspect(e, r, "result", result);
    sfn_err er = {0};
    json_t *ctx = NULL;
    json_t *sel = NULL;
    if (st->result_selector) {
        ctx = context_for(e, r, NULL, NULL);
        sel = apply_payload(e, r, st->result_selector, result, ctx, &er);
    } else {
        sel = json_incref(result);
    }
    json_t *placed = sel ? apply_result_path(e, r, &st->result_path, r->input, sel, &er) : NULL;
    json_t *out = NULL;
    if (placed) {
        if (!ctx) ctx = context_for(e, r, NULL, NULL);
        out = apply_path(e, r, &st->output_path, "OutputPath", placed, ctx, &er);
    }
    json_decref(ctx);
    json_decref(sel);
    json_decref(placed);
    if (!out) {
        state_error(s, e, r, er.error, er.cause);
        return;
    }
    state_exit(s, e, r, st->next, out);
    json_decref(out);
}

static void task_failed(sl_states *s, sfn_exec *e, sfn_run *r, const char *error, const char *cause,
                        bool timed_out) {
    if (recording(e)) {
        json_t *d;
        const char *type, *field;
        if (r->task_kind == TASK_ACTIVITY) {
            d = json_object();
            type = timed_out ? "ActivityTimedOut" : "ActivityFailed";
            field = timed_out ? "activityTimedOutEventDetails" : "activityFailedEventDetails";
        } else {
            d = task_details(r, NULL, NULL);
            type = timed_out ? "TaskTimedOut" : "TaskFailed";
            field = timed_out ? "taskTimedOutEventDetails" : "taskFailedEventDetails";
        }
        if (error) json_object_set_new(d, "error", json_string(error));
        if (cause) json_object_set_new(d, "cause", json_string(cause));
        hist(e, r, type, details1(field, d));
    }
    if (r->token) {
        sfn_effect *f = effect(e, EFFECT_FORGET_TOKEN);
        f->token = sl_xstrdup(r->token);
    }
    if (timed_out && r->child_arn) {
        sfn_effect *f = effect(e, EFFECT_STOP_CHILD);
        f->arn = sl_xstrdup(r->child_arn);
    }
    run_clear_wait(r);
    state_error(s, e, r, error ? error : "States.TaskFailed", cause);
}

/* ---- Parallel and Map ---- */

static void map_launch(sl_states *s, sfn_exec *e, sfn_run *p);

/* ---- distributed Map: reader, batcher, tolerated failures, result writer ---- */

static json_t *map_read_items(sl_states *s, sfn_exec *e, sfn_run *r, json_t *eff, json_t *ctx,
                              sfn_err *er) {
    const sl_asl_state *st = run_state(r);
    json_t *params = st->item_reader_parameters
                         ? apply_payload(e, r, st->item_reader_parameters, eff, ctx, er)
                         : json_object();
    if (!params) return NULL;
    char *error = NULL, *cause = NULL;
    json_t *items = sfn_s3_read_items(s, st->item_reader, params, &error, &cause);
    json_decref(params);
    if (!items) {
        err_set(er, error ? error : "States.ItemReaderFailed", "%s", cause ? cause : "");
        free(error);
        free(cause);
    }
    return items;
}

/* An ItemBatcher field: the literal, or its *Path read from the effective input; 0: none. */
static int64_t batcher_limit(json_t *batcher, const char *field, json_t *eff) {
    json_t *v = json_object_get(batcher, field);
    if (!v) {
        char pf[64];
        snprintf(pf, sizeof pf, "%sPath", field);
        const char *path = json_string_value(json_object_get(batcher, pf));
        if (!path) return 0;
        char perr[128];
        sl_jsonpath *jp = sl_jsonpath_compile(path, perr, sizeof perr);
        v = jp ? sl_jsonpath_eval(jp, eff, NULL, perr, sizeof perr) : NULL;
        sl_jsonpath_free(jp);
        int64_t n = json_is_integer(v) ? json_integer_value(v) : 0;
        json_decref(v);
        return n;
    }
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* Items after ItemSelector, grouped as {"BatchInput": ..., "Items": [...]} per iteration. */
static json_t *map_batch(sfn_exec *e, sfn_run *r, json_t *eff, json_t *ctx, sfn_err *er) {
    const sl_asl_state *st = run_state(r);
    int64_t max_items = batcher_limit(st->item_batcher, "MaxItemsPerBatch", eff);
    int64_t max_bytes = batcher_limit(st->item_batcher, "MaxInputBytesPerBatch", eff);
    json_t *batch_input =
        st->item_batcher_input ? apply_payload(e, r, st->item_batcher_input, eff, ctx, er) : NULL;
    if (st->item_batcher_input && !batch_input) return NULL;
    json_t *batches = json_array();
    json_t *cur = NULL;
    size_t cur_bytes = 0;
    size_t i;
    json_t *item;
    json_array_foreach(r->items, i, item) {
        json_t *v;
        if (st->parameters) {
            json_t *mi = st->uses_context
                             ? json_pack("{s:I, s:O}", "Index", (json_int_t)i, "Value", item)
                             : NULL;
            json_t *ictx = context_for(e, r, NULL, mi);
            json_decref(mi);
            v = apply_payload(e, r, st->parameters, eff, ictx, er);
            json_decref(ictx);
            if (!v) {
                json_decref(cur);
                json_decref(batches);
                json_decref(batch_input);
                return NULL;
            }
        } else {
            v = json_incref(item);
        }
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t bytes = t ? strlen(t) : 0;
        free(t);
        json_t *items = cur ? json_object_get(cur, "Items") : NULL;
        if (cur && ((max_items > 0 && (int64_t)json_array_size(items) >= max_items) ||
                    (max_bytes > 0 && (int64_t)(cur_bytes + bytes) > max_bytes))) {
            json_array_append_new(batches, cur);
            cur = NULL;
        }
        if (!cur) {
            cur = json_object();
            if (batch_input) json_object_set(cur, "BatchInput", batch_input);
            json_object_set_new(cur, "Items", json_array());
            cur_bytes = 0;
        }
        json_array_append_new(json_object_get(cur, "Items"), v);
        cur_bytes += bytes;
    }
    if (cur) json_array_append_new(batches, cur);
    json_decref(batch_input);
    return batches;
}

/* A distributed Map's iteration failed: true when ToleratedFailureCount/Percentage absorb it
 * (its slot then holds {"Error","Cause"}). */
static bool map_tolerates(sfn_exec *e, sfn_run *p, sfn_run *c) {
    const sl_asl_state *st = run_state(p);
    sfn_err er = {0};
    json_t *cv = value_eval(e, p, &st->tolerated_failure_count, p->effective, NULL, &er);
    json_t *pv = value_eval(e, p, &st->tolerated_failure_percentage, p->effective, NULL, &er);
    double count = json_is_number(cv) ? json_number_value(cv) : 0;
    double pct = json_is_number(pv) ? json_number_value(pv) : 0;
    json_decref(cv);
    json_decref(pv);
    if (!p->failures) p->failures = json_object();
    size_t failed = json_object_size(p->failures) + 1;
    size_t total = json_array_size(p->items);
    bool ok = (double)failed <= count || (total && 100.0 * (double)failed / (double)total <= pct);
    if (!ok) return false;
    json_t *eo = json_pack("{s:s, s:s}", "Error", c->error ? c->error : "", "Cause",
                           c->cause ? c->cause : "");
    char key[24];
    snprintf(key, sizeof key, "%d", c->slot);
    json_object_set(p->failures, key, eo);
    json_array_set_new(p->results, (size_t)c->slot, eo);
    p->done++;
    if (p->active) p->active--;
    return true;
}

/* ResultWriter: the results go to S3; the state's result is {"MapRunArn",
 * "ResultWriterDetails"}. NULL after state_error when writing fails. */
static json_t *map_write_results(sl_states *s, sfn_exec *e, sfn_run *p, json_t *results) {
    const sl_asl_state *st = run_state(p);
    sfn_err er = {0};
    json_t *ctx = context_for(e, p, NULL, NULL);
    json_t *params = st->result_writer_parameters
                         ? apply_payload(e, p, st->result_writer_parameters, p->effective, ctx, &er)
                         : json_object();
    json_decref(ctx);
    if (!params) {
        run_clear_children(p);
        state_error(s, e, p, er.error, er.cause);
        return NULL;
    }
    json_t *rows = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(results, i, v) {
        char key[24];
        snprintf(key, sizeof key, "%zu", i);
        json_t *f = p->failures ? json_object_get(p->failures, key) : NULL;
        json_t *row =
            json_pack("{s:I, s:s}", "Index", (json_int_t)i, "Status", f ? "FAILED" : "SUCCEEDED");
        json_object_set(row, "Input", json_array_get(p->items, i));
        if (f) {
            json_object_set(row, "Error", json_object_get(f, "Error"));
            json_object_set(row, "Cause", json_object_get(f, "Cause"));
        } else {
            json_object_set(row, "Output", v);
        }
        json_array_append_new(rows, row);
    }
    char *error = NULL, *cause = NULL;
    json_t *details =
        sfn_s3_write_results(s, params, p->map_run_arn ? p->map_run_arn : "", rows, &error, &cause);
    json_decref(rows);
    json_decref(params);
    if (!details) {
        run_clear_children(p);
        state_error(s, e, p, error ? error : "States.ResultWriterFailed", cause);
        free(error);
        free(cause);
        return NULL;
    }
    json_t *out = json_pack("{s:s, s:o}", "MapRunArn", p->map_run_arn ? p->map_run_arn : "",
                            "ResultWriterDetails", details);
    return out;
}

static void children_complete(sl_states *s, sfn_exec *e, sfn_run *p) {
    const sl_asl_state *st = run_state(p);
    bool is_map = st->type == SL_ASL_MAP;
    json_t *results = json_incref(p->results);
    if (is_map && st->distributed) {
        if (st->result_writer) {
            json_t *written = map_write_results(s, e, p, results);
            json_decref(results);
            if (!written) return; /* failed: state_error done */
            results = written;
        }
        if (recording(e)) hist(e, p, "MapRunSucceeded", NULL);
    }
    if (recording(e)) hist(e, p, is_map ? "MapStateSucceeded" : "ParallelStateSucceeded", NULL);
    run_clear_children(p);
    inspect(e, p, "result", results);
    sfn_err er = {0};
    json_t *ctx = context_for(e, p, NULL, NULL);
    json_t *sel = st->result_selector ? apply_payload(e, p, st->result_selector, results, ctx, &er)
                                      : json_incref(results);
    json_t *placed = sel ? apply_result_path(e, p, &st->result_path, p->input, sel, &er) : NULL;
    json_t *out =
        placed ? apply_path(e, p, &st->output_path, "OutputPath", placed, ctx, &er) : NULL;
    json_decref(ctx);
    json_decref(results);
    json_decref(sel);
    json_decref(placed);
    if (!out) {
        state_error(s, e, p, er.error, er.cause);
        return;
    }
    state_exit(s, e, p, st->next, out);
    json_decref(out);
}

static void parent_child_done(sl_states *s, sfn_exec *e, sfn_run *p, sfn_run *c) {
    const sl_asl_state *st = run_state(p);
    bool is_map = st->type == SL_ASL_MAP;
    e->runs[c->id] = NULL;
    if (p->phase != RUN_WAITING || p->wait != WAIT_CHILDREN) {
        run_free(c);
        return;
    }
    if (c->succeeded) {
        if (is_map && recording(e))
            hist(e, c, "MapIterationSucceeded",
                 details1("mapIterationSucceededEventDetails",
                          json_pack("{s:s, s:i}", "name", st->name, "index", c->slot)));
        json_array_set(p->results, (size_t)c->slot, c->output);
        p->done++;
        if (p->active) p->active--;
        run_free(c);
        size_t total = is_map ? json_array_size(p->items) : st->nbranches;
        if (p->done == total) {
            children_complete(s, e, p);
        } else if (is_map) {
            map_launch(s, e, p);
            e->dirty = true;
        } else {
            e->dirty = true;
        }
        return;
    }
    if (is_map && st->distributed && map_tolerates(e, p, c)) {
        run_free(c);
        if (p->done == json_array_size(p->items)) {
            children_complete(s, e, p);
        } else {
            map_launch(s, e, p);
            e->dirty = true;
        }
        return;
    }
    char *error = c->error ? sl_xstrdup(c->error) : NULL;
    char *cause = c->cause ? sl_xstrdup(c->cause) : NULL;
    if (is_map && st->distributed && p->failures) {
        /* the tolerance is exceeded */
        free(error);
        free(cause);
        error = sl_xstrdup("States.ExceedToleratedFailureThreshold");
        cause = sl_xstrdup("The specified tolerated failure threshold was exceeded");
    }
    if (is_map && st->distributed && recording(e)) {
        json_t *d = json_object();
        json_object_set_new(d, "error", json_string(error ? error : ""));
        if (cause) json_object_set_new(d, "cause", json_string(cause));
        hist(e, p, "MapRunFailed", details1("mapRunFailedEventDetails", d));
    }
    if (recording(e)) {
        if (is_map)
            hist(e, c, "MapIterationFailed",
                 details1("mapIterationFailedEventDetails",
                          json_pack("{s:s, s:i}", "name", st->name, "index", c->slot)));
        json_t *d = json_object();
        hist(e, p, is_map ? "MapStateFailed" : "ParallelStateFailed", NULL);
        json_decref(d);
    }
    run_free(c);
    run_abort_tree(e, p);
    p->phase = RUN_WAITING;
    run_clear_children(p);
    state_error(s, e, p, error ? error : "States.BranchFailed", cause);
    free(error);
    free(cause);
}

static void map_launch(sl_states *s, sfn_exec *e, sfn_run *p) {
    const sl_asl_state *st = run_state(p);
    size_t n = json_array_size(p->items);
    while (p->next_item < n && (p->max_concurrency == 0 || p->active < p->max_concurrency)) {
        size_t i = p->next_item++;
        json_t *item = json_array_get(p->items, i);
        json_t *input;
        if (st->parameters && !p->items_prepared) {
            json_t *mi = st->uses_context
                             ? json_pack("{s:I, s:O}", "Index", (json_int_t)i, "Value", item)
                             : NULL;
            json_t *ctx = context_for(e, p, NULL, mi);
            json_decref(mi);
            sfn_err er = {0};
            input = apply_payload(e, p, st->parameters, p->effective, ctx, &er);
            json_decref(ctx);
            if (!input) {
                run_abort_tree(e, p);
                p->phase = RUN_WAITING;
                run_clear_children(p);
                state_error(s, e, p, er.error, er.cause);
                return;
            }
        } else {
            input = json_incref(item);
        }
        if (recording(e) && !st->distributed)
            hist(e, p, "MapIterationStarted",
                 details1("mapIterationStartedEventDetails",
                          json_pack("{s:s, s:I}", "name", st->name, "index", (json_int_t)i)));
        sfn_run *c = sfn_run_new(e, st->iterator, p->id, (int)i, input);
        c->last_event = p->last_event;
        c->silent = p->silent || st->distributed;
        json_decref(input);
        p->active++;
        sfn_run_ready(e, c);
    }
}

static void parallel_or_map_enter(sl_states *s, sfn_exec *e, sfn_run *r) {
    const sl_asl_state *st = run_state(r);
    bool is_map = st->type == SL_ASL_MAP;
    sfn_err er = {0};
    json_t *ctx = context_for(e, r, NULL, NULL);
    json_t *eff = apply_path(e, r, &st->input_path, "InputPath", r->input, ctx, &er);
    run_clear_children(r);
    if (!eff) goto fail;
    if (!is_map) {
        json_t *bin =
            st->parameters ? apply_payload(e, r, st->parameters, eff, ctx, &er) : json_incref(eff);
        json_decref(eff);
        if (!bin) goto fail;
        if (recording(e)) hist(e, r, "ParallelStateStarted", NULL);
        r->results = json_array();
        for (size_t i = 0; i < st->nbranches; i++) json_array_append_new(r->results, json_null());
        r->wait = WAIT_CHILDREN;
        r->phase = RUN_WAITING;
        r->seq++;
        for (size_t i = 0; i < st->nbranches; i++) {
            sfn_run *c = sfn_run_new(e, st->branches[i], r->id, (int)i, bin);
            c->last_event = r->last_event;
            c->silent = r->silent;
            sfn_run_ready(e, c);
        }
        json_decref(bin);
        json_decref(ctx);
        e->dirty = true;
        return;
    }
    json_t *items = st->item_reader ? map_read_items(s, e, r, eff, ctx, &er)
                                    : apply_path(e, r, &st->items_path, "ItemsPath", eff, ctx, &er);
    if (!items) {
        json_decref(eff);
        goto fail;
    }
    if (!json_is_array(items)) {
        char pre[256];
        err_set(&er, SL_STATES_RUNTIME, "%s Invalid path '%s': the value is not an array: %s",
                state_prefix(e, r, pre, sizeof pre),
                st->items_path.path ? sl_jsonpath_text(st->items_path.path) : "$",
                sl_json_kind(items));
        json_decref(items);
        json_decref(eff);
        goto fail;
    }
    json_t *mc = value_eval(e, r, &st->max_concurrency, r->input, ctx, &er);
    int64_t maxc = 0;
    if (mc && !seconds_value(mc, &maxc)) {
        json_decref(mc);
        json_decref(items);
        json_decref(eff);
        err_set(&er, SL_STATES_RUNTIME,
                "The MaxConcurrencyPath value must be a non-negative integer");
        goto fail;
    }
    json_decref(mc);
    r->effective = eff;
    r->items = items;
    r->max_concurrency = (size_t)maxc;
    if (st->item_batcher) {
        json_t *batches = map_batch(e, r, eff, ctx, &er);
        if (!batches) goto fail;
        json_decref(r->items);
        r->items = batches;
        r->items_prepared = true;
    }
    json_decref(ctx);
    ctx = NULL;
    size_t n = json_array_size(r->items);
    if (recording(e))
        hist(e, r, "MapStateStarted",
             details1("mapStateStartedEventDetails", json_pack("{s:I}", "length", (json_int_t)n)));
    if (st->distributed) {
        char uuid[37], tail[300];
        sl_id_uuid(uuid);
        snprintf(tail, sizeof tail, "%s/%s:%s", e->machine->name, st->label ? st->label : st->name,
                 uuid);
        char arn[512];
        sfn_arn(s, "mapRun", tail, arn, sizeof arn);
        r->map_run_arn = sl_xstrdup(arn);
        if (recording(e))
            hist(e, r, "MapRunStarted",
                 details1("mapRunStartedEventDetails", json_pack("{s:s}", "mapRunArn", arn)));
    }
    r->results = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(r->results, json_null());
    r->wait = WAIT_CHILDREN;
    r->phase = RUN_WAITING;
    r->seq++;
    e->dirty = true;
    if (n == 0) {
        children_complete(s, e, r);
        return;
    }
    map_launch(s, e, r);
    return;
fail:
    json_decref(ctx);
    state_error(s, e, r, er.error, er.cause);
}

/* ---- the other states ---- */

static void simple_enter(sl_states *s, sfn_exec *e, sfn_run *r) {
    const sl_asl_state *st = run_state(r);
    sfn_err er = {0};
    json_t *ctx = context_for(e, r, NULL, NULL);
    json_t *eff = NULL, *out = NULL;
    switch (st->type) {
    case SL_ASL_PASS: {
        eff = apply_path(e, r, &st->input_path, "InputPath", r->input, ctx, &er);
        if (!eff) break;
        json_t *res;
        if (st->result) res = json_incref(st->result);
        else if (st->parameters) res = apply_payload(e, r, st->parameters, eff, ctx, &er);
        else res = json_incref(eff);
        if (!res) break;
        inspect(e, r, "result", res);
        json_t *placed = apply_result_path(e, r, &st->result_path, r->input, res, &er);
        json_decref(res);
        if (!placed) break;
        out = apply_path(e, r, &st->output_path, "OutputPath", placed, ctx, &er);
        json_decref(placed);
        break;
    }
    case SL_ASL_CHOICE: {
        eff = apply_path(e, r, &st->input_path, "InputPath", r->input, ctx, &er);
        if (!eff) break;
        const char *name = NULL;
        char cause[1024];
        int next = sl_asl_choose(st, eff, ctx, &name, cause, sizeof cause);
        if (next < 0) {
            err_set(&er, name ? name : "States.NoChoiceMatched", "%s", cause);
            break;
        }
        out = apply_path(e, r, &st->output_path, "OutputPath", eff, ctx, &er);
        if (!out) break;
        json_decref(ctx);
        json_decref(eff);
        char *text = NULL;
        if (recording(e)) {
            text = json_text(out);
            if (text_too_big(text)) {
                free(text);
                json_decref(out);
                state_error(s, e, r, "States.DataLimitExceeded",
                            "The state output exceeds the maximum number of bytes service limit.");
                return;
            }
            hist(e, r, "ChoiceStateExited",
                 details1("stateExitedEventDetails",
                          data_details_text(st->name, "output", text ? text : "null")));
        }
        run_transition(s, e, r, next, out, text);
        json_decref(out);
        return;
    }
    case SL_ASL_SUCCEED:
        eff = apply_path(e, r, &st->input_path, "InputPath", r->input, ctx, &er);
        if (eff) out = apply_path(e, r, &st->output_path, "OutputPath", eff, ctx, &er);
        break;
    case SL_ASL_WAIT: {
        eff = apply_path(e, r, &st->input_path, "InputPath", r->input, ctx, &er);
        if (!eff) break;
        int64_t when = 0;
        if (st->wait_seconds.present) {
            json_t *v = value_eval(e, r, &st->wait_seconds, eff, ctx, &er);
            int64_t secs;
            if (!v) break;
            if (!seconds_value(v, &secs)) {
                char pre[256];
                err_set(&er, SL_STATES_RUNTIME,
                        "%s The SecondsPath parameter does not reference a valid integer value: %s",
                        state_prefix(e, r, pre, sizeof pre), sl_json_kind(v));
                json_decref(v);
                break;
            }
            json_decref(v);
            when = r->entered_ms + secs * 1000;
        } else {
            json_t *v = value_eval(e, r, &st->wait_timestamp, eff, ctx, &er);
            if (!v) break;
            long long secs = 0;
            long nanos = 0;
            bool ok =
                json_is_string(v) && sl_asl_timestamp_parse(json_string_value(v), &secs, &nanos);
            int64_t t = (int64_t)secs * 1000 + nanos / 1000000;
            if (!ok) {
                char pre[256];
                err_set(&er, SL_STATES_RUNTIME,
                        "%s The TimestampPath parameter does not reference a valid ISO-8601 "
                        "extended offset date-time format string",
                        state_prefix(e, r, pre, sizeof pre));
                json_decref(v);
                break;
            }
            json_decref(v);
            when = t;
        }
        json_decref(ctx);
        r->effective = eff;
        r->seq++;
        r->wait = WAIT_TIMER;
        r->phase = RUN_WAITING;
        r->deadline_ms = when;
        e->dirty = true;
        if (e->test_mode) when = 0; /* TestState does not wait */
        if (when <= sl_now_ms()) {
            sfn_run_ready(e, r); /* due already: resumes in this slice */
        } else {
            effect_timer(e, r, MSG_TIMER, when);
        }
        return;
    }
    case SL_ASL_FAIL: {
        json_t *ev = value_eval(e, r, &st->error, r->input, ctx, &er);
        json_t *cv = er.error[0] ? NULL : value_eval(e, r, &st->cause, r->input, ctx, &er);
        json_decref(ctx);
        if (er.error[0]) {
            json_decref(ev);
            json_decref(cv);
            run_finish(s, e, r, false, NULL, NULL, er.error, er.cause);
            return;
        }
        char *error =
            ev ? (json_is_string(ev) ? sl_xstrdup(json_string_value(ev)) : json_text(ev)) : NULL;
        char *cause =
            cv ? (json_is_string(cv) ? sl_xstrdup(json_string_value(cv)) : json_text(cv)) : NULL;
        json_decref(ev);
        json_decref(cv);
        run_finish(s, e, r, false, NULL, NULL, error, cause);
        free(error);
        free(cause);
        return;
    }
    default: break;
    }
    json_decref(ctx);
    json_decref(eff);
    if (!out) {
        state_error(s, e, r, er.error, er.cause);
        return;
    }
    if (st->type == SL_ASL_SUCCEED) {
        char *text = NULL;
        if (recording(e)) {
            text = json_text(out);
            hist(e, r, "SucceedStateExited",
                 details1("stateExitedEventDetails",
                          data_details_text(st->name, "output", text ? text : "null")));
        }
        run_finish(s, e, r, true, out, text, NULL, NULL);
        free(text);
    } else {
        state_exit(s, e, r, st->next, out);
    }
    json_decref(out);
}

static void wait_resume(sl_states *s, sfn_exec *e, sfn_run *r) {
    const sl_asl_state *st = run_state(r);
    sfn_err er = {0};
    json_t *eff = json_incref(r->effective);
    run_clear_children(r);
    r->wait = WAIT_NONE;
    json_t *ctx = context_for(e, r, NULL, NULL);
    json_t *out = apply_path(e, r, &st->output_path, "OutputPath", eff, ctx, &er);
    json_decref(ctx);
    json_decref(eff);
    if (!out) {
        state_error(s, e, r, er.error, er.cause);
        return;
    }
    state_exit(s, e, r, st->next, out);
    json_decref(out);
}

/* Enters (or, after a retry backoff, re-enters) the run's state. */
static void run_step(sl_states *s, sfn_exec *e, sfn_run *r) {
    const sl_asl_state *st = run_state(r);
    if (r->wait == WAIT_TIMER) {
        wait_resume(s, e, r);
        return;
    }
    if (!r->resumed) {
        r->entered_ms = sl_now_ms();
        if (recording(e)) {
            static const char *const entered[] = {"PassStateEntered",     "TaskStateEntered",
                                                  "ChoiceStateEntered",   "WaitStateEntered",
                                                  "SucceedStateEntered",  "FailStateEntered",
                                                  "ParallelStateEntered", "MapStateEntered"};
            /* the input's text when the last state's StateExited made it already */
            hist(e, r, entered[st->type],
                 details1("stateEnteredEventDetails",
                          r->input_text ? data_details_text(st->name, "input", r->input_text)
                                        : data_details(st->name, "input", r->input)));
        }
        if (e->nevents && e->next_event > SFN_HISTORY_LIMIT) {
            exec_fail_now(e, EXEC_FAILED, "States.Runtime",
                          "The execution reached the maximum number of history events (25000).");
            return;
        }
    }
    free(r->input_text);
    r->input_text = NULL;
    r->resumed = false;
    e->dirty = true;
    switch (st->type) {
    case SL_ASL_TASK: task_enter(s, e, r); break;
    case SL_ASL_PARALLEL:
    case SL_ASL_MAP: parallel_or_map_enter(s, e, r); break;
    default: simple_enter(s, e, r); break;
    }
}

/* A startExecution.sync child ended. .sync answers DescribeExecution's shape with Input and
 * Output as JSON text; .sync:2 with them parsed. A child that did not succeed fails the task
 * with States.TaskFailed and that description as the cause. */
static void child_done(sl_states *s, sfn_exec *e, sfn_run *r, json_t *d) {
    if (r->task_kind != TASK_START_EXECUTION_SYNC && r->task_kind != TASK_START_EXECUTION_SYNC2)
        return;
    bool text = r->task_kind == TASK_START_EXECUTION_SYNC;
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v) {
        if (text && (!strcmp(k, "Input") || !strcmp(k, "Output"))) {
            char *t = json_text(v);
            json_object_set_new(out, k, json_string(t ? t : "null"));
            free(t);
        } else {
            json_object_set(out, k, v);
        }
    }
    json_object_set_new(out, "InputDetails", json_pack("{s:b}", "Included", 1));
    if (json_object_get(d, "Output"))
        json_object_set_new(out, "OutputDetails", json_pack("{s:b}", "Included", 1));
    const char *status = json_string_value(json_object_get(d, "Status"));
    if (status && !strcmp(status, "SUCCEEDED")) {
        task_succeeded(s, e, r, out);
    } else {
        char *cause = json_text(out);
        task_failed(s, e, r, "States.TaskFailed", cause, false);
        free(cause);
    }
    json_decref(out);
}

/* ---- messages ---- */

void sfn_exec_apply(sl_states *s, sfn_exec *e, sfn_msg *m) {
    if (e->status != EXEC_RUNNING) return;
    int64_t now = sl_now_ms();
    if (m->kind == MSG_STOP) {
        exec_fail_now(e, EXEC_ABORTED, m->error, m->cause);
        return;
    }
    if (m->kind == MSG_EXEC_TIMEOUT) {
        if (e->timeout_ms && now >= e->timeout_ms)
            exec_fail_now(e, EXEC_TIMED_OUT, "States.Timeout",
                          "The execution timed out (TimeoutSeconds of the state machine).");
        return;
    }
    sfn_run *r = run_get(e, m->run);
    if (!r || r->phase != RUN_WAITING || r->seq != m->seq) return;
    switch (m->kind) {
    case MSG_TIMER:
        if (r->wait == WAIT_TIMER) {
            sfn_run_ready(e, r);
        } else if (r->wait == WAIT_RETRY) {
            r->wait = WAIT_NONE;
            r->resumed = true;
            sfn_run_ready(e, r);
        }
        break;
    case MSG_TASK_STARTED:
        if (r->wait != WAIT_TASK || r->task_started) break;
        r->task_started = true;
        e->dirty = true;
        if (recording(e))
            hist(e, r, "ActivityStarted",
                 details1("activityStartedEventDetails",
                          json_pack("{s:s}", "workerName", m->worker ? m->worker : "")));
        break;
    case MSG_HEARTBEAT:
        if (r->wait != WAIT_TASK || !r->heartbeat_ms) break;
        r->beat_deadline_ms = now + r->heartbeat_ms;
        effect_timer(e, r, MSG_TASK_TIMED_OUT, r->beat_deadline_ms);
        break;
    case MSG_TASK_TIMED_OUT:
        if (r->wait != WAIT_TASK) break;
        if (r->heartbeat_ms && now >= r->beat_deadline_ms && now < r->deadline_ms) {
            e->dirty = true;
            task_failed(s, e, r, "States.HeartbeatTimeout", NULL, true);
        } else if (now >= r->deadline_ms) {
            e->dirty = true;
            task_failed(s, e, r, "States.Timeout", NULL, true);
        }
        break;
    case MSG_TASK_SUCCEEDED:
        if (r->wait != WAIT_TASK) break;
        e->dirty = true;
        if (r->task_kind == TASK_ACTIVITY && !r->task_started && recording(e)) {
            hist(e, r, "ActivityStarted",
                 details1("activityStartedEventDetails", json_pack("{s:s}", "workerName", "")));
        }
        task_succeeded(s, e, r, m->output ? m->output : json_null());
        break;
    case MSG_TASK_FAILED:
        if (r->wait != WAIT_TASK) break;
        e->dirty = true;
        task_failed(s, e, r, m->error, m->cause, false);
        break;
    case MSG_TASK_SUBMITTED:
        if (r->wait != WAIT_TASK || r->child_arn || !m->output) break;
        e->dirty = true;
        {
            json_t *task = json_array_get(json_object_get(m->output, "Tasks"), 0);
            const char *arn = json_string_value(json_object_get(task, "TaskArn"));
            if (arn) r->child_arn = sl_xstrdup(arn);
            if (recording(e))
                hist(e, r, "TaskSubmitted",
                     details1("taskSubmittedEventDetails", task_details(r, "output", m->output)));
        }
        break;
    case MSG_CHILD_DONE:
        if (r->wait != WAIT_TASK || !m->output) break;
        e->dirty = true;
        child_done(s, e, r, m->output);
        break;
    default: break;
    }
}

void sfn_exec_advance(sl_states *s, sfn_exec *e) {
    while (e->ready_head && e->status == EXEC_RUNNING) {
        sfn_run *r = e->ready_head;
        e->ready_head = r->next_ready;
        if (!e->ready_head) e->ready_tail = NULL;
        r->in_ready = false;
        r->next_ready = NULL;
        if (r->phase != RUN_READY) continue;
        run_step(s, e, r);
    }
    if (e->status != EXEC_RUNNING) {
        e->ready_head = e->ready_tail = NULL;
        for (int i = 0; i < e->nruns; i++) {
            run_free(e->runs[i]);
            e->runs[i] = NULL;
        }
    }
}

/* ---- lifetime ---- */

sfn_exec *sfn_exec_new(sl_states *s, sfn_machine *m, const char *arn, const char *name,
                       json_t *input, int64_t now_ms) {
    sfn_exec *e = sl_xcalloc(1, sizeof *e);
    e->arn = sl_xstrdup(arn);
    e->name = sl_xstrdup(name);
    e->machine = m;
    e->express = strcmp(m->type, "EXPRESS") == 0;
    e->input = json_incref(input);
    e->start_ms = now_ms;
    e->status = EXEC_RUNNING;
    if (m->asl->timeout_seconds > 0)
        e->timeout_ms = now_ms + (int64_t)(m->asl->timeout_seconds * 1000.0);
    /* Express workflows run for at most five minutes */
    if (e->express && (!e->timeout_ms || e->timeout_ms > now_ms + 300000))
        e->timeout_ms = now_ms + 300000;
    return e;
}

void sfn_exec_begin(sl_states *s, sfn_exec *e) {
    if (recording(e)) {
        json_t *d = data_details(NULL, "input", e->input);
        json_object_set_new(d, "roleArn", json_string(e->machine->role_arn));
        hist(e, NULL, "ExecutionStarted", details1("executionStartedEventDetails", d));
    }
    sfn_run *top = sfn_run_new(e, e->machine->asl, -1, 0, e->input);
    top->last_event = 0;
    sfn_run_ready(e, top);
    if (e->timeout_ms) effect_timer(e, NULL, MSG_EXEC_TIMEOUT, e->timeout_ms);
    e->dirty = true;
    e->is_new = true;
}

void sfn_exec_redrive(sl_states *s, sfn_exec *e, const char *state, json_t *input) {
    (void)s;
    hist(e, NULL, "ExecutionRedriven",
         details1("executionRedrivenEventDetails",
                  json_pack("{s:i}", "redriveCount", e->redrive_count)));
    sfn_run *top = sfn_run_new(e, e->machine->asl, -1, 0, input);
    int idx = sl_asl_find(e->machine->asl, state);
    top->state = idx >= 0 ? idx : e->machine->asl->start;
    top->last_event = e->next_event;
    sfn_run_ready(e, top);
    if (e->timeout_ms) effect_timer(e, NULL, MSG_EXEC_TIMEOUT, e->timeout_ms);
    e->dirty = true;
}

void sfn_exec_free(sfn_exec *e) {
    if (!e) return;
    json_decref(e->redrive_point);
    json_decref(e->inspect);
    json_decref(e->mock);
    free(e->test_next);
    for (int i = 0; i < e->nruns; i++) run_free(e->runs[i]);
    free(e->runs);
    sfn_exec_event_free_all(e);
    sfn_exec_effect_free_all(e);
    for (sfn_msg *m = e->inbox, *nx; m; m = nx) {
        nx = m->next;
        sfn_msg_free(m);
    }
    json_decref(e->input);
    free(e->input_text);
    json_decref(e->output);
    free(e->output_text);
    json_decref(e->ctx_execution);
    json_decref(e->ctx_machine);
    free(e->arn);
    free(e->name);
    free(e->error);
    free(e->cause);
    free(e->parent_token);
    free(e->trace_header);
    free(e);
}

void sfn_exec_rearm(sl_states *s, sfn_exec *e) {
    (void)s;
    if (e->timeout_ms) effect_timer(e, NULL, MSG_EXEC_TIMEOUT, e->timeout_ms);
    for (int i = 0; i < e->nruns; i++) {
        sfn_run *r = e->runs[i];
        if (!r || r->phase != RUN_WAITING) continue;
        if (r->wait == WAIT_TIMER || r->wait == WAIT_RETRY) {
            effect_timer(e, r, MSG_TIMER, r->deadline_ms);
        } else if (r->wait == WAIT_TASK) {
            if (r->deadline_ms) effect_timer(e, r, MSG_TASK_TIMED_OUT, r->deadline_ms);
            if (r->heartbeat_ms) effect_timer(e, r, MSG_TASK_TIMED_OUT, r->beat_deadline_ms);
            if (r->task_kind == TASK_ACTIVITY && r->token) {
                sfn_effect *f = effect(e, EFFECT_ACTIVITY);
                f->arn = sl_xstrdup(r->resource);
                f->token = sl_xstrdup(r->token);
                f->payload = json_incref(r->task_input);
            } else if (r->task_kind == TASK_ECS_RUN || r->task_kind == TASK_ECS_RUN_SYNC ||
                       r->task_kind == TASK_ECS_RUN_TOKEN) {
                /* not yet started: start it; started and .sync: wait for it again */
                if (!r->child_arn || r->task_kind == TASK_ECS_RUN_SYNC) {
                    sfn_effect *f = effect(e, r->child_arn ? EFFECT_WATCH_TASK : EFFECT_RUN_TASK);
                    f->arn = r->child_arn ? sl_xstrdup(r->child_arn) : NULL;
                    f->run = r->id;
                    f->seq = r->seq;
                    f->token = sl_xstrdup(r->token);
                    f->task_kind = r->task_kind;
                    f->payload = json_incref(r->task_input);
                }
            } else if (r->child_arn) {
                /* The child may have ended (or never started) while we were down. */
                sfn_effect *f = effect(e, EFFECT_START_CHILD);
                f->arn = sl_xstrdup(r->child_arn);
                f->run = r->id;
                f->seq = r->seq;
                f->token = sl_xstrdup(r->token);
                f->task_kind = r->task_kind;
                f->payload = json_incref(r->task_input);
            }
        }
    }
}
