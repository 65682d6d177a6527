/* states: the service's lifetime (catalog, runtime, recovery of running executions, the wire)
 * and starting an execution, which the API, nested-machine tasks and EventBridge targets share:
 * name rules, ARNs, StartExecution's idempotency. */
#include "states/states.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "states/states_internal.h"

void sfn_api_init(sl_states *s);

sl_states *sl_states_new(const sl_context *ctx, char *err, size_t errlen) {
    sl_states *s = sl_xcalloc(1, sizeof *s);
    s->cfg = ctx->cfg;
    s->store = ctx->store;
    s->credentials = ctx->credentials;
    pthread_mutex_init(&s->catalog_mu, NULL);
    pthread_mutex_init(&s->act_mu, NULL);
    sfn_api_init(s);
    if (sfn_runtime_start(s, err, errlen) != 0 || sfn_runtime_recover(s, err, errlen) != 0) {
        sl_states_free(s);
        return NULL;
    }
    return s;
}

void sl_states_register(sl_states *s, sl_router *router) {
    sl_router_add_json(router, "AWSStepFunctions", sl_json_service_begin, &s->json);
}

void sl_states_quiesce(sl_states *s) { sfn_activities_quiesce(s); }

void sl_states_free(sl_states *s) {
    if (!s) return;
    sfn_runtime_stop(s);
    sfn_activities_free(s);
    sfn_machines_free(s);
    pthread_mutex_destroy(&s->catalog_mu);
    pthread_mutex_destroy(&s->act_mu);
    free(s);
}

void sl_states_set_objects(sl_states *s, struct sl_objects *objects) { s->objects = objects; }

void sl_states_set_tasks(sl_states *s, struct sl_tasks *tasks) { s->tasks = tasks; }

void sl_states_set_sns(sl_states *s, struct sl_sns *sns) { s->sns = sns; }

/* AWS: 1-80 characters; no whitespace, brackets, wildcards, the special characters below or
 * control characters. */
bool sfn_name_valid(const char *name);
bool sfn_name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 80) return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) return false;
        if (strchr("<>{}[]?*\"#%\\^|~`$&,;:/", *p)) return false;
    }
    return true;
}

/* A version-4 UUID for an execution's name, from a per-thread xorshift128+ generator seeded
 * from the system's random source: names must not repeat, not be secret (task tokens carry
 * their own nonce), and a getrandom call per start costs more than the rest of a small
 * EXPRESS execution's start. */
static void name_uuid(char out[37]) {
    static _Thread_local uint64_t st[2];
    if (!st[0] && !st[1]) {
        while (!st[0] && !st[1]) sl_random_bytes(st, sizeof st);
    }
    unsigned char b[16];
    for (int half = 0; half < 2; half++) {
        uint64_t x = st[0], y = st[1];
        st[0] = y;
        x ^= x << 23;
        st[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
        uint64_t v = st[1] + y;
        for (int i = 0; i < 8; i++) b[half * 8 + i] = (unsigned char)(v >> (8 * i));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = 0;
}

int sfn_start(sl_states *s, sfn_machine *m, const sfn_start_args *a, char *arn_out, size_t arnlen,
              int64_t *start_ms, char *code, size_t codelen, char *msg, size_t msglen) {
    char uuid[37];
    const char *name = a->name;
    if (!name) {
        name_uuid(uuid);
        name = uuid;
    }
    if (!sfn_name_valid(name)) {
        snprintf(code, codelen, "InvalidName");
        snprintf(msg, msglen, "Invalid Name: '%s'", name);
        return -1;
    }
    bool express = strcmp(m->type, "EXPRESS") == 0;
    char tail[256];
    snprintf(tail, sizeof tail, "%s:%s", m->name, name);
    sfn_arn(s, express ? "express" : "execution", tail, arn_out, arnlen);
    char *text = a->input_text ? sl_xstrdup(a->input_text)
                               : json_dumps(a->input, JSON_COMPACT | JSON_ENCODE_ANY);
    if (strlen(text) > SFN_DATA_LIMIT) {
        free(text);
        snprintf(code, codelen, "InvalidExecutionInput");
        snprintf(msg, msglen, "The input exceeds the maximum size of 262144 bytes.");
        return -1;
    }
    if (!express) {
        /* a closed execution of that name (running ones are in the runtime's table) */
        sqlite3 *db = sl_store_reader(s->store);
        static const char *SQL = "SELECT snapshot IS NULL FROM sfn_executions WHERE arn = ?1";
        sqlite3_stmt *st = sl_store_cached(db, SQL);
        if (st) {
            sqlite3_bind_text(st, 1, arn_out, -1, SQLITE_TRANSIENT);
            bool closed = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
            sqlite3_reset(st);
            if (closed) {
                free(text);
                snprintf(code, codelen, "ExecutionAlreadyExists");
                snprintf(msg, msglen, "Execution Already Exists: '%s'", arn_out);
                return -1;
            }
        }
    }
    int64_t now = sl_now_ms();
    sfn_exec *e = sfn_exec_new(s, m, arn_out, name, a->input, now);
    e->input_text = text;
    if (a->parent_token) e->parent_token = sl_xstrdup(a->parent_token);
    if (a->trace_header) e->trace_header = sl_xstrdup(a->trace_header);
    e->on_done = a->on_done;
    e->on_done_ctx = a->on_done_ctx;
    e->on_stored = express ? NULL : a->on_stored;
    e->on_stored_ctx = a->on_stored_ctx;
    sfn_exec_begin(s, e);
    /* An EXPRESS execution whose caller waits for its end runs here, on the caller's thread:
     * most end without waiting and never need a worker. A name the caller gave must be unique
     * among running executions; a UUID is. */
    sfn_exec *old = express && a->on_done ? sfn_runtime_run_inline(s, e, a->name != NULL)
                                          : sfn_runtime_submit_unique(s, e);
    if (old) {
        bool same = !old->finished && old->input_text && strcmp(old->input_text, text) == 0;
        *start_ms = old->start_ms;
        sfn_runtime_release(s, old);
        sfn_exec_free(e);
        if (same) return 1;
        snprintf(code, codelen, "ExecutionAlreadyExists");
        snprintf(msg, msglen, "Execution Already Exists: '%s'", arn_out);
        return -1;
    }
    *start_ms = now;
    return 0;
}

int sl_states_start(sl_states *s, const char *machine_arn, const char *name, const char *input,
                    char *arn_out, size_t arnlen, char *code, size_t codelen, char *err,
                    size_t errlen) {
    sfn_machine *m = sfn_machine_get(s, machine_arn);
    if (!m) {
        snprintf(code, codelen, "StateMachineDoesNotExist");
        snprintf(err, errlen, "State Machine Does Not Exist: '%s'", machine_arn);
        return -1;
    }
    json_t *in = json_loads(input ? input : "{}", JSON_DECODE_ANY, NULL);
    if (!in) {
        snprintf(code, codelen, "InvalidExecutionInput");
        snprintf(err, errlen, "Invalid State Machine Execution Input: not JSON");
        return -1;
    }
    sfn_start_args a = {.name = name, .input = in, .input_text = input};
    int64_t start;
    int rc = sfn_start(s, m, &a, arn_out, arnlen, &start, code, codelen, err, errlen);
    json_decref(in);
    return rc < 0 ? -1 : 0;
}
