/* test_state: TestState — one state run in isolation on the caller's thread, nothing stored.
 * The state (alone, or picked from a whole definition by stateName) is wrapped into a machine
 * whose transition targets are placeholders; the engine runs it in test mode, where a Wait
 * does not wait, a matching retrier ends the test as RETRIABLE, a Catch as CAUGHT_ERROR and the
 * first transition as SUCCEEDED with nextState. Task states call their integration, or take
 * the mocked result or error. Activities and the .sync / .waitForTaskToken patterns need a
 * mock, as on AWS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "states/states_internal.h"

static void add_target(json_t *states, json_t *name) {
    if (json_is_string(name) && !json_object_get(states, json_string_value(name)))
        json_object_set_new(states, json_string_value(name), json_pack("{s:s}", "Type", "Succeed"));
}

/* {"StartAt": name, "States": {name: state, <each target>: Succeed}} */
static json_t *wrap(const char *name, json_t *state) {
    json_t *states = json_object();
    json_object_set(states, name, state);
    add_target(states, json_object_get(state, "Next"));
    add_target(states, json_object_get(state, "Default"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(state, "Choices"), i, c) {
        add_target(states, json_object_get(c, "Next"));
    }
    json_array_foreach(json_object_get(state, "Catch"), i, c) {
        add_target(states, json_object_get(c, "Next"));
    }
    return json_pack("{s:s, s:o}", "StartAt", name, "States", states);
}

typedef struct {
    bool mocked;
    const char *bad;
} pattern_check;

static int needs_mock(const sl_asl_state *st, void *ctx) {
    pattern_check *pc = ctx;
    const char *r = st->resource;
    if (pc->mocked) return 0;
    if (strstr(r, ":activity:") || strstr(r, ".sync") || strstr(r, ".waitForTaskToken")) {
        pc->bad = r;
        return 1;
    }
    return 0;
}

static void set_text(json_t *o, const char *k, const json_t *v) {
    if (!v) return;
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_object_set_new(o, k, json_string(t ? t : "null"));
    free(t);
}

json_t *sfn_test_state(sl_states *s, json_t *in, char *code, size_t codelen, char *msg,
                       size_t msglen) {
    const char *def_text = json_string_value(json_object_get(in, "definition"));
    json_t *def = def_text ? json_loads(def_text, 0, NULL) : NULL;
    if (!json_is_object(def)) {
        json_decref(def);
        snprintf(code, codelen, "InvalidDefinition");
        snprintf(msg, msglen,
                 "Invalid State Machine Definition: 'the definition is not a JSON object'");
        return NULL;
    }
    const char *state_name = json_string_value(json_object_get(in, "stateName"));
    json_t *state = def;
    if (json_object_get(def, "States")) {
        if (!state_name) {
            json_decref(def);
            snprintf(code, codelen, "ValidationException");
            snprintf(msg, msglen, "stateName is required when the definition is a state machine");
            return NULL;
        }
        state = json_object_get(json_object_get(def, "States"), state_name);
        if (!state) {
            json_decref(def);
            snprintf(code, codelen, "ValidationException");
            snprintf(msg, msglen, "The state '%s' is not in the definition", state_name);
            return NULL;
        }
    }
    const char *name = state_name ? state_name : "TestState";
    json_t *machine = wrap(name, state);
    json_decref(def);
    char *text = json_dumps(machine, JSON_COMPACT);
    json_decref(machine);
    char err[2048];
    sl_asl_machine *asl = sfn_compile(s, text, err, sizeof err);
    if (!asl) {
        free(text);
        snprintf(code, codelen, "InvalidDefinition");
        snprintf(msg, msglen, "%s", err);
        return NULL;
    }
    json_t *mock = json_object_get(in, "mock");
    pattern_check pc = {.mocked = mock != NULL};
    if (sl_asl_each_task(asl, needs_mock, &pc)) {
        snprintf(code, codelen, "ValidationException");
        snprintf(msg, msglen,
                 "TestState needs a mock for activities and the .sync and .waitForTaskToken "
                 "patterns (%s)",
                 pc.bad);
        sl_asl_free(asl);
        free(text);
        return NULL;
    }
    const char *input_text = json_string_value(json_object_get(in, "input"));
    json_t *input = json_loads(input_text ? input_text : "{}", JSON_DECODE_ANY, NULL);
    if (!input) {
        sl_asl_free(asl);
        free(text);
        snprintf(code, codelen, "InvalidExecutionInput");
        snprintf(msg, msglen, "Invalid input: not JSON");
        return NULL;
    }
    const char *role = json_string_value(json_object_get(in, "roleArn"));
    sfn_machine m = {.name = (char *)"TestState",
                     .type = (char *)"STANDARD",
                     .role_arn = (char *)(role ? role : ""),
                     .asl = asl,
                     .definition = text};
    char marn[256], earn[512], uuid[37], tail[128];
    sfn_arn(s, "stateMachine", "TestState", marn, sizeof marn);
    m.arn = marn;
    sl_id_uuid(uuid);
    snprintf(tail, sizeof tail, "TestState:%s", uuid);
    sfn_arn(s, "execution", tail, earn, sizeof earn);
    sfn_exec *e = sfn_exec_new(s, &m, earn, uuid, input, sl_now_ms());
    e->test_mode = true;
    const char *level = json_string_value(json_object_get(in, "inspectionLevel"));
    bool debug = level && (!strcmp(level, "DEBUG") || !strcmp(level, "TRACE"));
    if (debug) e->inspect = json_object();
    if (mock) e->mock = json_incref(mock);
    sfn_exec_begin(s, e);
    sfn_exec_advance(s, e);

    json_t *out = json_object();
    const char *status;
    if (e->status == EXEC_RUNNING) {
        status = "FAILED";
        json_object_set_new(out, "error", json_string("States.Runtime"));
        json_object_set_new(out, "cause",
                            json_string("The state waits on something TestState cannot provide."));
    } else if (e->test_retriable) {
        status = "RETRIABLE";
    } else if (e->test_caught) {
        status = "CAUGHT_ERROR";
    } else {
        status = e->status == EXEC_SUCCEEDED ? "SUCCEEDED" : "FAILED";
    }
    json_object_set_new(out, "status", json_string(status));
    if (e->status == EXEC_SUCCEEDED) set_text(out, "output", e->output);
    if (e->error) json_object_set_new(out, "error", json_string(e->error));
    if (e->cause) json_object_set_new(out, "cause", json_string(e->cause));
    if (e->test_next) json_object_set_new(out, "nextState", json_string(e->test_next));
    if (debug) {
        json_t *insp = json_object();
        set_text(insp, "input", input);
        const char *k;
        json_t *v;
        json_object_foreach(e->inspect, k, v) { set_text(insp, k, v); }
        json_object_set_new(out, "inspectionData", insp);
    }
    sfn_exec_free(e);
    json_decref(input);
    sl_asl_free(asl);
    free(text);
    return out;
}
