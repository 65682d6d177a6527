/* The ASL conformance suite (tests/states/conformance/ cases) run against the engine directly:
 * the Step Functions service in process over a store in a temporary directory, no HTTP. Every
 * case's machines are stored, its execution "exec" started, its activity tasks taken and
 * answered by the case's script, and the end state compared with the expectations: status,
 * output (1 and 1.0 equal), error, cause, and the history's event types read back from the
 * store. tests/integration/test_states_conformance.py runs the same cases through boto3, and
 * the ones that need S3 objects ("objects") only there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/ids.h"
#include "states/states_internal.h"
#include "store/store.h"

#define CASES_DIR "../states/conformance"
#define ROLE      "arn:aws:iam::000000000000:role/conformance"

typedef struct {
    char arn[256];
    json_t *script;
    size_t next;
} activity;

typedef struct {
    json_t *c;
    const char *name;
    char file[64];
    char exec_arn[512];
    bool started, done;
    char status[16];
    json_t *output;
    char *error, *cause;
    activity acts[8];
    size_t nacts;
    char problem[4096];
} case_run;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void on_done(sfn_exec *e, void *ctx) {
    case_run *cr = ctx;
    pthread_mutex_lock(&mu);
    snprintf(cr->status, sizeof cr->status, "%s", sfn_status_name(e->status));
    cr->output = e->output ? json_incref(e->output) : NULL;
    cr->error = e->error ? strdup(e->error) : NULL;
    cr->cause = e->cause ? strdup(e->cause) : NULL;
    cr->done = true;
    pthread_mutex_unlock(&mu);
}

/* JSON equality where 1 == 1.0. */
static bool same(json_t *a, json_t *b) {
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b)) return false;
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !same(v, w)) return false;
        }
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    return json_equal(a, b);
}

static void problem(case_run *cr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(case_run *cr, const char *fmt, ...) {
    size_t n = strlen(cr->problem);
    if (n) n += (size_t)snprintf(cr->problem + n, sizeof cr->problem - n, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cr->problem + n, sizeof cr->problem - n, fmt, ap);
    va_end(ap);
}

typedef struct {
    const char *arn, *name, *type, *definition, *hash;
    int64_t now;
} store_args;

static bool store_machine(sl_states *s, const char *name, json_t *definition, case_run *cr,
                          char *arn_out, size_t arnlen) {
    char *text = json_dumps(definition, JSON_COMPACT);
    char err[2048];
    sl_asl_machine *m = sfn_compile(s, text, err, sizeof err);
    if (!m) {
        free(text);
        if (!json_is_true(json_object_get(json_object_get(cr->c, "expect"), "invalid_definition")))
            problem(cr, "definition of %s refused: %s", name, err);
        else snprintf(cr->status, sizeof cr->status, "INVALID");
        return false;
    }
    sl_asl_free(m);
    char hash[65], rev[37];
    sfn_definition_hash(text, hash);
    sl_id_uuid(rev);
    sfn_arn(s, "stateMachine", name, arn_out, arnlen);
    sfn_machine_job j = {.arn = arn_out,
                         .name = name,
                         .type = "STANDARD",
                         .hash = hash,
                         .definition = text,
                         .role = ROLE,
                         .revision = rev,
                         .spec = "{}",
                         .now = sl_now_ms()};
    int rc = sl_store_write(s->store, sfn_machine_write, &j);
    free(text);
    if (rc != 0) problem(cr, "storing machine %s failed (%d)", name, rc);
    return rc == 0;
}

static void start_case(sl_states *s, case_run *cr) {
    json_t *machines = json_object_get(cr->c, "machines");
    const char *k;
    json_t *v;
    char arn[256];
    json_object_foreach(machines, k, v) {
        if (!store_machine(s, k, v, cr, arn, sizeof arn)) return;
    }
    if (!store_machine(s, cr->name, json_object_get(cr->c, "definition"), cr, arn, sizeof arn))
        return;
    json_t *acts = json_object_get(cr->c, "activities");
    json_object_foreach(acts, k, v) {
        if (cr->nacts == 8) break;
        activity *a = &cr->acts[cr->nacts++];
        sfn_arn(s, "activity", k, a->arn, sizeof a->arn);
        a->script = v;
    }
    sfn_machine *m = sfn_machine_get(s, arn);
    json_t *input = json_object_get(cr->c, "input");
    json_t *in = input ? json_incref(input) : json_object();
    sfn_start_args a = {.name = "exec", .input = in, .on_done = on_done, .on_done_ctx = cr};
    char code[64], msg[512];
    int64_t start;
    int rc = sfn_start(s, m, &a, cr->exec_arn, sizeof cr->exec_arn, &start, code, sizeof code, msg,
                       sizeof msg);
    json_decref(in);
    if (rc != 0) problem(cr, "StartExecution: %s %s", code, msg);
    else cr->started = true;
}

static void post(sl_states *s, const char *token, sfn_msg *m) {
    char arn[512];
    if (!sfn_token_parse(token, arn, sizeof arn, &m->run, &m->seq)) {
        sfn_msg_free(m);
        return;
    }
    sfn_runtime_post(s, arn, m);
}

/* Takes and answers whatever tasks the case's activities have. */
static void work_activities(sl_states *s, case_run *cr) {
    for (size_t i = 0; i < cr->nacts; i++) {
        activity *a = &cr->acts[i];
        char *token;
        json_t *input;
        while (a->next < json_array_size(a->script) &&
               sfn_activity_take(s, a->arn, "conformance", &token, &input)) {
            json_t *step = json_array_get(a->script, a->next++);
            sfn_msg *m = sl_xcalloc(1, sizeof *m);
            if (json_object_get(step, "output")) {
                m->kind = MSG_TASK_SUCCEEDED;
                m->output = json_incref(json_object_get(step, "output"));
            } else if (json_is_true(json_object_get(step, "echo"))) {
                m->kind = MSG_TASK_SUCCEEDED;
                m->output = json_incref(input);
            } else if (json_object_get(step, "error")) {
                m->kind = MSG_TASK_FAILED;
                m->error = strdup(json_string_value(json_object_get(step, "error")));
                const char *c = json_string_value(json_object_get(step, "cause"));
                m->cause = c ? strdup(c) : NULL;
            } else if (json_object_get(step, "heartbeat_then_ignore")) {
                m->kind = MSG_HEARTBEAT;
            } else {
                sfn_msg_free(m);
                m = NULL;
            }
            if (m) post(s, token, m);
            free(token);
            json_decref(input);
        }
    }
}

static json_t *history_types(sl_states *s, const char *arn) {
    sqlite3 *db = sl_store_reader(s->store);
    sqlite3_stmt *st;
    json_t *types = json_array();
    if (sqlite3_prepare_v2(db, "SELECT type FROM sfn_history WHERE execution_arn = ?1 ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return types;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(types, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    return types;
}

static void check_case(sl_states *s, case_run *cr) {
    json_t *expect = json_object_get(cr->c, "expect");
    if (json_is_true(json_object_get(expect, "invalid_definition"))) {
        if (strcmp(cr->status, "INVALID") != 0 && !cr->problem[0])
            problem(cr, "the definition was accepted; InvalidDefinition expected");
        return;
    }
    if (cr->problem[0]) return;
    if (!cr->done) {
        problem(cr, "still RUNNING after the deadline");
        return;
    }
    const char *want = json_string_value(json_object_get(expect, "status"));
    if (want && strcmp(want, cr->status) != 0)
        problem(cr, "status %s (error %s, cause %s), expected %s", cr->status,
                cr->error ? cr->error : "-", cr->cause ? cr->cause : "-", want);
    json_t *out = json_object_get(expect, "output");
    if (out && !strcmp(cr->status, "SUCCEEDED") &&
        !same(out, cr->output ? cr->output : json_null())) {
        char *g = json_dumps(cr->output, JSON_COMPACT | JSON_ENCODE_ANY);
        char *w = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
        problem(cr, "output %s, expected %s", g ? g : "null", w);
        free(g);
        free(w);
    }
    const char *err = json_string_value(json_object_get(expect, "error"));
    if (err && (!cr->error || strcmp(err, cr->error) != 0))
        problem(cr, "error %s, expected %s", cr->error ? cr->error : "-", err);
    const char *cause = json_string_value(json_object_get(expect, "cause"));
    if (cause && (!cr->cause || strcmp(cause, cr->cause) != 0))
        problem(cr, "cause %s, expected %s", cr->cause ? cr->cause : "-", cause);
    const char *cc = json_string_value(json_object_get(expect, "cause_contains"));
    if (cc && (!cr->cause || !strstr(cr->cause, cc)))
        problem(cr, "cause %s lacks %s", cr->cause ? cr->cause : "-", cc);
    json_t *hist = json_object_get(expect, "history");
    if (hist) {
        json_t *got = history_types(s, cr->exec_arn);
        if (!json_equal(got, hist)) {
            char *g = json_dumps(got, JSON_COMPACT);
            problem(cr, "history %s", g);
            free(g);
        }
        json_decref(got);
    }
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void conformance(void **state) {
    (void)state;
    char dir[] = "/tmp/sluice-conformance-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[512];
    sl_store *st = sl_store_open(dir, err, sizeof err);
    assert_non_null(st);
    sl_config cfg;
    sl_config_defaults(&cfg);
    sl_context ctx = {.cfg = &cfg, .store = st};
    sl_states *s = sl_states_new(&ctx, err, sizeof err);
    assert_non_null(s);

    json_t *all = json_array();
    struct dirent **names;
    int n = scandir(CASES_DIR, &names, NULL, by_name);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        const char *f = names[i]->d_name;
        size_t len = strlen(f);
        if (len > 5 && !strcmp(f + len - 5, ".json")) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", CASES_DIR, f);
            json_error_t je;
            json_t *cases = json_load_file(path, 0, &je);
            if (!cases) fail_msg("%s: %s", path, je.text);
            size_t k;
            json_t *c;
            json_array_foreach(cases, k, c) {
                json_object_set_new(c, "_file", json_stringn(f, len - 5));
                json_array_append(all, c);
            }
            json_decref(cases);
        }
        free(names[i]);
    }
    free(names);
    const char *filter = getenv("SLUICE_TEST_FILTER");
    size_t total = json_array_size(all);
    case_run *runs = calloc(total, sizeof *runs);
    size_t nr = 0;
    for (size_t i = 0; i < total; i++) {
        json_t *c = json_array_get(all, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        if (filter && !strstr(name, filter)) continue;
        /* cases that need S3 objects run through boto3 only (test_states_conformance.py) */
        if (json_object_get(c, "objects")) continue;
        case_run *cr = &runs[nr++];
        cr->c = c;
        cr->name = name;
        snprintf(cr->file, sizeof cr->file, "%s", json_string_value(json_object_get(c, "_file")));
        start_case(s, cr);
        /* starting hundreds of cases takes a while: keep answering tasks meanwhile, or the
         * first cases' one-second task timeouts fire before their worker looks */
        for (size_t j = 0; j < nr; j++)
            if (runs[j].started) work_activities(s, &runs[j]);
    }
    int64_t deadline = sl_now_ms() + 60000;
    for (;;) {
        bool all_done = true;
        for (size_t i = 0; i < nr; i++) {
            case_run *cr = &runs[i];
            pthread_mutex_lock(&mu);
            bool done = cr->done;
            pthread_mutex_unlock(&mu);
            if (!cr->started || done) continue;
            all_done = false;
            work_activities(s, cr);
        }
        if (all_done || sl_now_ms() > deadline) break;
        usleep(2000);
    }
    size_t failed = 0;
    for (size_t i = 0; i < nr; i++) {
        case_run *cr = &runs[i];
        pthread_mutex_lock(&mu);
        check_case(s, cr);
        pthread_mutex_unlock(&mu);
        if (cr->problem[0]) {
            failed++;
            printf("not ok - conformance %s: %s: %s\n", cr->file, cr->name, cr->problem);
        }
    }
    printf("conformance: %zu cases, %zu failed\n", nr, failed);
    sl_states_free(s);
    for (size_t i = 0; i < nr; i++) {
        json_decref(runs[i].output);
        free(runs[i].error);
        free(runs[i].cause);
    }
    free(runs);
    json_decref(all);
    sl_store_close(st);
    sl_config_free(&cfg);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    assert_int_equal(failed, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(conformance)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
