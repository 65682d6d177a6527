/* test_asl: Amazon States Language definitions. The definition cases live in
 * tests/unit/asl/definitions.txt as data (definition, the exact set of diagnostic codes and
 * locations, a message fragment); every case runs through both sl_asl_diagnose and
 * sl_asl_compile. Then: the shape of compiled machines (indexes, defaults, values the engine
 * reads), every Choice operator evaluated on matching, non-matching, wrongly typed and missing
 * values, Retry/Catch error matching, timestamps, and the limits that keep a hostile definition
 * from costing more than a refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "states/asl.h"

static json_t *J(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) fail_msg("bad test JSON %s: %s", text, e.text);
    return v;
}

/* ---- the definitions file ---- */

typedef struct {
    char *name;
    bool ok;
    char **errors; /* "CODE at LOCATION" */
    size_t nerrors;
    char **messages;
    size_t nmessages;
    sl_buf definition;
} def_case;

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (tests run from tests/unit)", path);
    sl_buf b;
    sl_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&b, chunk, n);
    fclose(f);
    return sl_buf_steal(&b);
}

static void *grow(void *p, size_t size) {
    void *q = realloc(p, size);
    if (!q) abort();
    return q;
}

static void push(char ***v, size_t *n, const char *s) {
    *v = grow(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = strdup(s);
}

static def_case *read_cases(const char *path, size_t *count) {
    char *text = slurp(path);
    def_case *cases = NULL;
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        if (!strncmp(line, "== ", 3)) {
            cases = grow(cases, (n + 1) * sizeof *cases);
            memset(&cases[n], 0, sizeof cases[n]);
            cases[n].name = strdup(line + 3);
            sl_buf_init(&cases[n].definition);
            n++;
            continue;
        }
        if (!n) continue;
        def_case *c = &cases[n - 1];
        if (!strcmp(line, "ok")) c->ok = true;
        else if (!strncmp(line, "error: ", 7)) push(&c->errors, &c->nerrors, line + 7);
        else if (!strncmp(line, "message: ", 9)) push(&c->messages, &c->nmessages, line + 9);
        else if (!strncmp(line, "  ", 2)) {
            sl_buf_puts(&c->definition, line + 2);
            sl_buf_putc(&c->definition, '\n');
        }
    }
    free(text);
    *count = n;
    return cases;
}

static void free_cases(def_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(cases[i].name);
        for (size_t k = 0; k < cases[i].nerrors; k++) free(cases[i].errors[k]);
        for (size_t k = 0; k < cases[i].nmessages; k++) free(cases[i].messages[k]);
        free(cases[i].errors);
        free(cases[i].messages);
        sl_buf_free(&cases[i].definition);
    }
    free(cases);
}

static char *diag_key(json_t *d) {
    json_t *loc = json_object_get(d, "location");
    char *s;
    if (asprintf(&s, "%s at %s", json_string_value(json_object_get(d, "code")),
                 loc ? json_string_value(loc) : "null") < 0)
        abort();
    return s;
}

static void test_definitions(void **state) {
    (void)state;
    size_t n;
    def_case *cases = read_cases("asl/definitions.txt", &n);
    assert_true(n >= 80);
    size_t failures = 0;
    for (size_t i = 0; i < n; i++) {
        def_case *c = &cases[i];
        if (!c->ok && !c->nerrors) fail_msg("case '%s' expects nothing", c->name);
        const char *def = c->definition.data ? c->definition.data : "";
        json_t *diags = sl_asl_diagnose(def);
        assert_non_null(diags);
        char *dump = json_dumps(diags, JSON_INDENT(1));
        bool bad = false;
        /* every diagnostic expected, nothing else */
        bool *used = calloc(json_array_size(diags) + 1, 1);
        for (size_t k = 0; k < c->nerrors; k++) {
            bool found = false;
            for (size_t d = 0; d < json_array_size(diags) && !found; d++) {
                char *key = diag_key(json_array_get(diags, d));
                if (!used[d] && !strcmp(key, c->errors[k])) found = used[d] = true;
                free(key);
            }
            if (!found) {
                print_error("case '%s': missing diagnostic %s\n", c->name, c->errors[k]);
                bad = true;
            }
        }
        for (size_t d = 0; d < json_array_size(diags); d++)
            if (!used[d]) bad = true;
        for (size_t k = 0; k < c->nmessages; k++) {
            bool found = false;
            for (size_t d = 0; d < json_array_size(diags); d++)
                found |=
                    strstr(json_string_value(json_object_get(json_array_get(diags, d), "message")),
                           c->messages[k]) != NULL;
            if (!found) {
                print_error("case '%s': no message contains \"%s\"\n", c->name, c->messages[k]);
                bad = true;
            }
        }
        /* sl_asl_compile agrees, and its message names every diagnostic */
        char err[4096];
        sl_asl_machine *m = sl_asl_compile(def, err, sizeof err);
        if ((m != NULL) != (json_array_size(diags) == 0)) bad = true;
        if (!m && strncmp(err, "Invalid State Machine Definition: '", 35) != 0) bad = true;
        for (size_t d = 0; !m && d < json_array_size(diags); d++) {
            char *key = diag_key(json_array_get(diags, d));
            char *code_end = strstr(key, " at ");
            *code_end = 0;
            if (!strstr(err, key)) bad = true;
            free(key);
        }
        if (bad) {
            print_error("case '%s' got: %s\n", c->name, dump);
            failures++;
        }
        sl_asl_free(m);
        free(used);
        free(dump);
        json_decref(diags);
    }
    free_cases(cases, n);
    if (failures) fail_msg("%zu definition cases failed", failures);
}

/* ---- compiled machines ---- */

static sl_asl_machine *must_compile(const char *def) {
    char err[2048];
    sl_asl_machine *m = sl_asl_compile(def, err, sizeof err);
    if (!m) fail_msg("%s", err);
    return m;
}

static void test_machine_shape(void **state) {
    (void)state;
    sl_asl_machine *m = must_compile(
        "{\"Comment\": \"shape\", \"TimeoutSeconds\": 30, \"StartAt\": \"T\", \"States\": {"
        "\"T\": {\"Type\": \"Task\", \"Resource\": \"arn:r\", \"TimeoutSecondsPath\": \"$.t\","
        " \"HeartbeatSeconds\": 5, \"OutputPath\": null,"
        " \"Retry\": [{\"ErrorEquals\": [\"A\", \"B\"]}, {\"ErrorEquals\": [\"States.ALL\"],"
        " \"IntervalSeconds\": 3, \"MaxAttempts\": 0, \"BackoffRate\": 1.5,"
        " \"MaxDelaySeconds\": 9, \"JitterStrategy\": \"FULL\"}],"
        " \"Catch\": [{\"ErrorEquals\": [\"States.ALL\"], \"Next\": \"F\", \"ResultPath\": null}],"
        " \"Next\": \"C\"},"
        "\"C\": {\"Type\": \"Choice\", \"Choices\": [{\"Variable\": \"$.x\", \"IsPresent\": true,"
        " \"Next\": \"W\"}], \"Default\": \"S\"},"
        "\"W\": {\"Type\": \"Wait\", \"Timestamp\": \"2020-01-01T00:00:00Z\", \"Next\": \"S\"},"
        "\"S\": {\"Type\": \"Succeed\"},"
        "\"F\": {\"Type\": \"Fail\", \"Error\": \"E\", \"CausePath\": \"$.c\"}}}");
    assert_int_equal(m->nstates, 5);
    assert_int_equal(m->start, 0);
    assert_string_equal(m->comment, "shape");
    assert_true(m->timeout_seconds == 30);
    int T = sl_asl_find(m, "T"), C = sl_asl_find(m, "C"), W = sl_asl_find(m, "W");
    int S = sl_asl_find(m, "S"), F = sl_asl_find(m, "F");
    assert_int_equal(sl_asl_find(m, "nope"), -1);
    const sl_asl_state *t = &m->states[T];
    assert_int_equal(t->type, SL_ASL_TASK);
    assert_string_equal(sl_asl_type_name(t->type), "Task");
    assert_string_equal(t->resource, "arn:r");
    assert_int_equal(t->next, C);
    assert_false(t->end);
    assert_true(t->timeout_seconds.present);
    assert_null(t->timeout_seconds.literal);
    assert_non_null(t->timeout_seconds.dynamic);
    assert_true(t->heartbeat_seconds.present);
    assert_int_equal(json_integer_value(t->heartbeat_seconds.literal), 5);
    assert_null(t->input_path.path);
    assert_false(t->input_path.is_null);
    assert_true(t->output_path.is_null);
    assert_int_equal(t->nretriers, 2);
    assert_int_equal(t->retriers[0].nerrors, 2);
    assert_string_equal(t->retriers[0].errors[1], "B");
    assert_true(t->retriers[0].interval_seconds == 1);
    assert_int_equal(t->retriers[0].max_attempts, 3);
    assert_true(t->retriers[0].backoff_rate == 2.0);
    assert_true(t->retriers[0].max_delay_seconds == 0);
    assert_false(t->retriers[0].jitter_full);
    assert_true(t->retriers[1].interval_seconds == 3);
    assert_int_equal(t->retriers[1].max_attempts, 0);
    assert_true(t->retriers[1].backoff_rate == 1.5);
    assert_true(t->retriers[1].max_delay_seconds == 9);
    assert_true(t->retriers[1].jitter_full);
    assert_int_equal(t->ncatchers, 1);
    assert_int_equal(t->catchers[0].next, F);
    assert_true(t->catchers[0].result_path.is_null);

    const sl_asl_state *c = &m->states[C];
    assert_int_equal(c->next, -1);
    assert_int_equal(c->default_next, S);
    assert_int_equal(c->nchoices, 1);
    assert_int_equal(c->choices[0].next, W);

    const sl_asl_state *w = &m->states[W];
    assert_true(w->wait_timestamp.present);
    assert_string_equal(json_string_value(w->wait_timestamp.literal), "2020-01-01T00:00:00Z");
    assert_false(w->wait_seconds.present);
    assert_int_equal(w->next, S);

    assert_true(m->states[S].end);
    assert_int_equal(m->states[S].next, -1);
    const sl_asl_state *f = &m->states[F];
    assert_true(f->end);
    assert_int_equal(f->next, -1);
    assert_string_equal(json_string_value(f->error.literal), "E");
    assert_true(f->cause.present);
    assert_non_null(f->cause.dynamic);

    /* the dynamic value evaluates through the payload template */
    json_t *in = J("{\"c\": \"because\"}");
    const char *en = NULL;
    char cause[128];
    json_t *out = sl_payload_eval(f->cause.dynamic, in, NULL, &en, cause, sizeof cause);
    assert_non_null(out);
    assert_string_equal(json_string_value(json_object_get(out, "value")), "because");
    json_decref(out);
    json_decref(in);
    sl_asl_free(m);
}

static void test_map_and_parallel_shape(void **state) {
    (void)state;
    sl_asl_machine *m = must_compile(
        "{\"StartAt\": \"P\", \"States\": {"
        "\"P\": {\"Type\": \"Parallel\", \"Next\": \"M\", \"Branches\": ["
        "  {\"StartAt\": \"B1\", \"States\": {\"B1\": {\"Type\": \"Task\", \"Resource\": \"r1\","
        "   \"End\": true}}},"
        "  {\"StartAt\": \"B2\", \"States\": {\"B2\": {\"Type\": \"Pass\", \"Next\": \"B3\"},"
        "   \"B3\": {\"Type\": \"Task\", \"Resource\": \"r2\", \"End\": true}}}]},"
        "\"M\": {\"Type\": \"Map\", \"ItemsPath\": \"$.items\", \"MaxConcurrency\": 4,"
        " \"Parameters\": {\"v.$\": \"$$.Map.Item.Value\"}, \"Label\": \"L\","
        " \"ItemProcessor\": {\"ProcessorConfig\": {\"Mode\": \"DISTRIBUTED\","
        "  \"ExecutionType\": \"EXPRESS\"}, \"StartAt\": \"I\", \"States\": {\"I\": {\"Type\":"
        "  \"Task\", \"Resource\": \"r3\", \"End\": true}}},"
        " \"ItemReader\": {\"Resource\": \"arn:aws:states:::s3:getObject\", \"Parameters\":"
        "  {\"Bucket.$\": \"$.b\"}},"
        " \"ItemBatcher\": {\"MaxItemsPerBatch\": 2, \"BatchInput\": {\"x\": 1}},"
        " \"ResultWriter\": {\"Resource\": \"arn:aws:states:::s3:putObject\", \"Parameters\":"
        "  {\"Bucket\": \"b\"}},"
        " \"ToleratedFailurePercentage\": 12.5, \"End\": true}}}");
    const sl_asl_state *p = &m->states[0];
    assert_int_equal(p->type, SL_ASL_PARALLEL);
    assert_int_equal(p->nbranches, 2);
    assert_int_equal(p->branches[1]->nstates, 2);
    assert_int_equal(p->branches[1]->states[0].next, 1);
    assert_int_equal(sl_asl_find(p->branches[1], "B3"), 1);
    assert_int_equal(sl_asl_find(m, "B3"), -1); /* a branch is its own scope */
    const sl_asl_state *mp = &m->states[1];
    assert_int_equal(mp->type, SL_ASL_MAP);
    assert_non_null(mp->iterator);
    assert_string_equal(mp->iterator->states[0].resource, "r3");
    assert_non_null(mp->items_path.path);
    assert_int_equal(json_integer_value(mp->max_concurrency.literal), 4);
    assert_non_null(mp->parameters);
    assert_true(mp->distributed);
    assert_string_equal(mp->execution_type, "EXPRESS");
    assert_string_equal(json_string_value(json_object_get(mp->item_reader, "Resource")),
                        "arn:aws:states:::s3:getObject");
    assert_non_null(mp->item_reader_parameters);
    assert_non_null(mp->item_batcher);
    assert_non_null(mp->item_batcher_input);
    assert_non_null(mp->result_writer);
    assert_non_null(mp->result_writer_parameters);
    assert_true(json_number_value(mp->tolerated_failure_percentage.literal) == 12.5);
    assert_false(mp->tolerated_failure_count.present);
    assert_string_equal(mp->label, "L");
    assert_true(mp->end);
    sl_asl_free(m);
}

static int collect_task(const sl_asl_state *st, void *ctx) {
    sl_buf *b = ctx;
    sl_buf_puts(b, st->resource);
    sl_buf_putc(b, ' ');
    return !strcmp(st->resource, "stop") ? 7 : 0;
}

static void test_each_task(void **state) {
    (void)state;
    sl_asl_machine *m = must_compile(
        "{\"StartAt\": \"A\", \"States\": {"
        "\"A\": {\"Type\": \"Task\", \"Resource\": \"a\", \"Next\": \"P\"},"
        "\"P\": {\"Type\": \"Parallel\", \"Next\": \"M\", \"Branches\": [{\"StartAt\": \"B\","
        " \"States\": {\"B\": {\"Type\": \"Task\", \"Resource\": \"b\", \"End\": true}}}]},"
        "\"M\": {\"Type\": \"Map\", \"Next\": \"Z\", \"Iterator\": {\"StartAt\": \"I\", \"States\":"
        " {\"I\": {\"Type\": \"Task\", \"Resource\": \"stop\", \"End\": true}}}},"
        "\"Z\": {\"Type\": \"Task\", \"Resource\": \"z\", \"End\": true}}}");
    sl_buf b;
    sl_buf_init(&b);
    assert_int_equal(sl_asl_each_task(m, collect_task, &b), 7);
    assert_string_equal(b.data, "a b stop ");
    sl_buf_free(&b);
    sl_asl_free(m);
}

static void test_compile_message(void **state) {
    (void)state;
    char err[512];
    const char *def = "{\"StartAt\": \"pass1\", \"States\": {\"pass1\": {\"Type\": \"Pass\","
                      " \"Next\": \"pass3\"}, \"pass2\": {\"Type\": \"Pass\", \"End\": true}}}";
    assert_null(sl_asl_compile(def, err, sizeof err));
    /* AWS's text for this very definition */
    assert_string_equal(err, "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: "
                             "Missing 'Next' target: pass3 at /States/pass1/Next, "
                             "MISSING_TRANSITION_TARGET: State \"pass2\" is not reachable. at "
                             "/States/pass2'");
    assert_null(sl_asl_compile("{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Pass\","
                               " \"Next\": \"A\"}}}",
                               err, sizeof err));
    assert_string_equal(err, "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow "
                             "has no terminal state at null'");
    /* a short buffer is truncated, never overrun */
    char small[16];
    assert_null(sl_asl_compile(def, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_null(sl_asl_compile(def, NULL, 0));
    /* success clears err */
    sl_asl_machine *m = sl_asl_compile(
        "{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Succeed\"}}}", err, sizeof err);
    assert_non_null(m);
    assert_string_equal(err, "");
    sl_asl_free(m);
}

static void test_empty_and_huge(void **state) {
    (void)state;
    json_t *d = sl_asl_diagnose(NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "code")),
                        "MISSING_DESCRIPTION");
    json_decref(d);
    d = sl_asl_diagnose("   \n");
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "code")),
                        "MISSING_DESCRIPTION");
    json_decref(d);

    size_t big = 1024 * 1024 + 10;
    char *s = malloc(big + 1);
    memset(s, ' ', big);
    const char *def = "{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Succeed\"}}}";
    memcpy(s, def, strlen(def));
    s[big] = 0;
    char err[256];
    assert_null(sl_asl_compile(s, err, sizeof err));
    assert_non_null(strstr(err, "maximum is 1048576 bytes"));
    free(s);
}

/* Parallel nested n deep, each branch ending in a Succeed. */
static char *nested_parallel(int n) {
    sl_buf b;
    sl_buf_init(&b);
    for (int i = 0; i < n; i++)
        sl_buf_printf(&b,
                      "{\"StartAt\": \"P%d\", \"States\": {\"P%d\": {\"Type\": \"Parallel\","
                      " \"End\": true, \"Branches\": [",
                      i, i);
    sl_buf_puts(&b, "{\"StartAt\": \"S\", \"States\": {\"S\": {\"Type\": \"Succeed\"}}}");
    for (int i = 0; i < n; i++) sl_buf_puts(&b, "]}}}");
    return sl_buf_steal(&b);
}

static void test_nesting_limits(void **state) {
    (void)state;
    char *ok = nested_parallel(32);
    sl_asl_machine *m = must_compile(ok);
    sl_asl_free(m);
    free(ok);
    char *deep = nested_parallel(33);
    char err[256];
    assert_null(sl_asl_compile(deep, err, sizeof err));
    assert_non_null(strstr(err, "nested at most 32 levels"));
    free(deep);

    /* Not inside Not, 40 deep */
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "{\"StartAt\": \"C\", \"States\": {\"S\": {\"Type\": \"Succeed\"}, \"C\":"
                    " {\"Type\": \"Choice\", \"Choices\": [{\"Next\": \"S\", ");
    for (int i = 0; i < 40; i++) sl_buf_puts(&b, "\"Not\": {");
    sl_buf_puts(&b, "\"Variable\": \"$.x\", \"IsPresent\": true");
    for (int i = 0; i < 40; i++) sl_buf_putc(&b, '}');
    sl_buf_puts(&b, "}]}}}");
    assert_null(sl_asl_compile(b.data, err, sizeof err));
    assert_non_null(strstr(err, "Choice rules may be nested at most 32 levels deep"));
    sl_buf_free(&b);
}

/* ---- Choice evaluation ---- */

typedef struct {
    const char *rule;  /* a choice rule without Next */
    const char *input; /* state input */
    int want;          /* 1 matches, 0 does not, -1 States.Runtime */
} choice_case;

static const char *CONTEXT =
    "{\"Execution\": {\"Input\": {\"flag\": true, \"when\": \"2020-01-01T00:00:00Z\"}},"
    " \"Map\": {\"Item\": {\"Index\": 3}}}";

static const choice_case choice_cases[] = {
    /* strings */
    {"{\"Variable\": \"$.s\", \"StringEquals\": \"abc\"}", "{\"s\": \"abc\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringEquals\": \"abc\"}", "{\"s\": \"abd\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringEquals\": \"1\"}", "{\"s\": 1}", 0},
    {"{\"Variable\": \"$.s\", \"StringEquals\": \"abc\"}", "{}", -1},
    {"{\"Variable\": \"$.s\", \"StringEqualsPath\": \"$.t\"}", "{\"s\": \"x\", \"t\": \"x\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringEqualsPath\": \"$.t\"}", "{\"s\": \"x\", \"t\": \"y\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringEqualsPath\": \"$.t\"}", "{\"s\": \"x\", \"t\": 1}", 0},
    {"{\"Variable\": \"$.s\", \"StringEqualsPath\": \"$.t\"}", "{\"s\": \"x\"}", -1},
    {"{\"Variable\": \"$.s\", \"StringLessThan\": \"b\"}", "{\"s\": \"a\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringLessThan\": \"b\"}", "{\"s\": \"b\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringLessThan\": \"ab\"}", "{\"s\": \"a\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringLessThan\": \"a\"}", "{\"s\": \"B\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringLessThanPath\": \"$.t\"}", "{\"s\": \"a\", \"t\": \"b\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringGreaterThan\": \"a\"}", "{\"s\": \"b\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringGreaterThan\": \"a\"}", "{\"s\": \"a\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringGreaterThanPath\": \"$.t\"}", "{\"s\": \"b\", \"t\": \"a\"}",
     1},
    {"{\"Variable\": \"$.s\", \"StringLessThanEquals\": \"a\"}", "{\"s\": \"a\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringLessThanEqualsPath\": \"$.t\"}",
     "{\"s\": \"b\", \"t\": \"a\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringGreaterThanEquals\": \"a\"}", "{\"s\": \"a\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringGreaterThanEqualsPath\": \"$.t\"}",
     "{\"s\": \"a\", \"t\": \"b\"}", 0},
    /* Java compareTo order: U+1F600 (surrogates D83D DE00) sorts before U+FF21 */
    {"{\"Variable\": \"$.s\", \"StringLessThan\": \"\\uFF21\"}", "{\"s\": \"\\uD83D\\uDE00\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringGreaterThan\": \"z\"}", "{\"s\": \"\\u00e9\"}", 1},
    /* StringMatches */
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"log-*.txt\"}", "{\"s\": \"log-2020.txt\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"log-*.txt\"}", "{\"s\": \"log-.txt\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"log-*.txt\"}", "{\"s\": \"log-1.txt.gz\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"*\"}", "{\"s\": \"\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"a*b*c\"}", "{\"s\": \"aXbYbZc\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"a*b*c\"}", "{\"s\": \"aXbYbZ\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"a\\\\*b\"}", "{\"s\": \"a*b\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"a\\\\*b\"}", "{\"s\": \"aXb\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"a\\\\\\\\*\"}", "{\"s\": \"a\\\\xyz\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"a\\\\\\\\*\"}", "{\"s\": \"axyz\"}", 0},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"\\u00e9*\"}", "{\"s\": \"\\u00e9t\\u00e9\"}", 1},
    {"{\"Variable\": \"$.s\", \"StringMatches\": \"*\"}", "{\"s\": 5}", 0},
    /* numbers */
    {"{\"Variable\": \"$.n\", \"NumericEquals\": 1}", "{\"n\": 1}", 1},
    {"{\"Variable\": \"$.n\", \"NumericEquals\": 1}", "{\"n\": 1.0}", 1},
    {"{\"Variable\": \"$.n\", \"NumericEquals\": 1}", "{\"n\": \"1\"}", 0},
    {"{\"Variable\": \"$.n\", \"NumericEquals\": 1}", "{\"n\": true}", 0},
    {"{\"Variable\": \"$.n\", \"NumericEquals\": 1}", "{\"m\": 1}", -1},
    {"{\"Variable\": \"$.n\", \"NumericEqualsPath\": \"$.m\"}", "{\"n\": 2, \"m\": 2}", 1},
    {"{\"Variable\": \"$.n\", \"NumericEqualsPath\": \"$.m\"}", "{\"n\": 2, \"m\": \"2\"}", 0},
    {"{\"Variable\": \"$.n\", \"NumericLessThan\": 1.5}", "{\"n\": 1}", 1},
    {"{\"Variable\": \"$.n\", \"NumericLessThan\": 1}", "{\"n\": 1}", 0},
    {"{\"Variable\": \"$.n\", \"NumericLessThanPath\": \"$.m\"}", "{\"n\": -3, \"m\": -2.5}", 1},
    {"{\"Variable\": \"$.n\", \"NumericGreaterThan\": 1}", "{\"n\": 9007199254740993}", 1},
    {"{\"Variable\": \"$.n\", \"NumericGreaterThanPath\": \"$.m\"}",
     "{\"n\": 9007199254740993, \"m\": 9007199254740992}", 1},
    {"{\"Variable\": \"$.n\", \"NumericLessThanEquals\": 2}", "{\"n\": 2}", 1},
    {"{\"Variable\": \"$.n\", \"NumericLessThanEqualsPath\": \"$.m\"}", "{\"n\": 3, \"m\": 2}", 0},
    {"{\"Variable\": \"$.n\", \"NumericGreaterThanEquals\": 2}", "{\"n\": 2.0}", 1},
    {"{\"Variable\": \"$.n\", \"NumericGreaterThanEqualsPath\": \"$.m\"}", "{\"n\": 1, \"m\": 2}",
     0},
    {"{\"Variable\": \"$.n\", \"NumericGreaterThanEqualsPath\": \"$.m\"}", "{\"n\": 1}", -1},
    /* booleans */
    {"{\"Variable\": \"$.b\", \"BooleanEquals\": true}", "{\"b\": true}", 1},
    {"{\"Variable\": \"$.b\", \"BooleanEquals\": false}", "{\"b\": true}", 0},
    {"{\"Variable\": \"$.b\", \"BooleanEquals\": false}", "{\"b\": 0}", 0},
    {"{\"Variable\": \"$.b\", \"BooleanEquals\": true}", "{\"b\": \"true\"}", 0},
    {"{\"Variable\": \"$.b\", \"BooleanEqualsPath\": \"$.c\"}", "{\"b\": false, \"c\": false}", 1},
    {"{\"Variable\": \"$.b\", \"BooleanEqualsPath\": \"$$.Execution.Input.flag\"}", "{\"b\": true}",
     1},
    /* timestamps: instants, offsets and fractions */
    {"{\"Variable\": \"$.t\", \"TimestampEquals\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T12:00:00Z\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampEquals\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T14:00:00+02:00\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampEquals\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T12:00:00.000Z\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampEquals\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T12:00:00.001Z\"}", 0},
    {"{\"Variable\": \"$.t\", \"TimestampEquals\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"not a time\"}", 0},
    {"{\"Variable\": \"$.t\", \"TimestampEquals\": \"2001-01-01T12:00:00Z\"}", "{\"t\": 5}", 0},
    {"{\"Variable\": \"$.t\", \"TimestampLessThan\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T12:30:00+01:00\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampLessThan\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T11:59:59.999999999Z\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampGreaterThan\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T08:00:01-04:00\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampGreaterThan\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2000-12-31T23:59:59Z\"}", 0},
    {"{\"Variable\": \"$.t\", \"TimestampLessThanEquals\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T12:00:00Z\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampGreaterThanEquals\": \"2001-01-01T12:00:00Z\"}",
     "{\"t\": \"2001-01-01T11:00:00Z\"}", 0},
    {"{\"Variable\": \"$.t\", \"TimestampEqualsPath\": \"$.u\"}",
     "{\"t\": \"2020-02-29T10:00:00+10:00\", \"u\": \"2020-02-29T00:00:00Z\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampLessThanPath\": \"$$.Execution.Input.when\"}",
     "{\"t\": \"2019-12-31T23:59:59Z\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampGreaterThanPath\": \"$.u\"}",
     "{\"t\": \"2020-01-01T00:00:00Z\", \"u\": \"garbage\"}", 0},
    {"{\"Variable\": \"$.t\", \"TimestampLessThanEqualsPath\": \"$.u\"}",
     "{\"t\": \"2020-01-01T00:00:00Z\", \"u\": \"2020-01-01T00:00:00Z\"}", 1},
    {"{\"Variable\": \"$.t\", \"TimestampGreaterThanEqualsPath\": \"$.u\"}",
     "{\"t\": \"2020-01-01T00:00:00Z\"}", -1},
    /* type tests */
    {"{\"Variable\": \"$.x\", \"IsNull\": true}", "{\"x\": null}", 1},
    {"{\"Variable\": \"$.x\", \"IsNull\": true}", "{\"x\": 0}", 0},
    {"{\"Variable\": \"$.x\", \"IsNull\": false}", "{\"x\": 0}", 1},
    {"{\"Variable\": \"$.x\", \"IsNull\": true}", "{}", 0},
    {"{\"Variable\": \"$.x\", \"IsNull\": false}", "{}", 1},
    {"{\"Variable\": \"$.x\", \"IsPresent\": true}", "{\"x\": null}", 1},
    {"{\"Variable\": \"$.x\", \"IsPresent\": true}", "{}", 0},
    {"{\"Variable\": \"$.x\", \"IsPresent\": false}", "{}", 1},
    {"{\"Variable\": \"$.x.y.z\", \"IsPresent\": false}", "{\"x\": 3}", 1},
    {"{\"Variable\": \"$.x\", \"IsNumeric\": true}", "{\"x\": 1.5}", 1},
    {"{\"Variable\": \"$.x\", \"IsNumeric\": true}", "{\"x\": \"1.5\"}", 0},
    {"{\"Variable\": \"$.x\", \"IsNumeric\": true}", "{}", 0},
    {"{\"Variable\": \"$.x\", \"IsString\": true}", "{\"x\": \"\"}", 1},
    {"{\"Variable\": \"$.x\", \"IsString\": false}", "{\"x\": []}", 1},
    {"{\"Variable\": \"$.x\", \"IsBoolean\": true}", "{\"x\": false}", 1},
    {"{\"Variable\": \"$.x\", \"IsBoolean\": true}", "{\"x\": \"false\"}", 0},
    {"{\"Variable\": \"$.x\", \"IsTimestamp\": true}", "{\"x\": \"2016-03-14T01:59:00Z\"}", 1},
    {"{\"Variable\": \"$.x\", \"IsTimestamp\": true}", "{\"x\": \"2016-03-14 01:59:00Z\"}", 0},
    {"{\"Variable\": \"$.x\", \"IsTimestamp\": false}", "{\"x\": 1458000000}", 1},
    {"{\"Variable\": \"$$.Map.Item.Index\", \"NumericEquals\": 3}", "{}", 1},
    {"{\"Variable\": \"$$.Execution.Nope\", \"IsPresent\": true}", "{}", 0},
    {"{\"Variable\": \"$.a[1]\", \"StringEquals\": \"y\"}", "{\"a\": [\"x\", \"y\"]}", 1},
    {"{\"Variable\": \"$.a[5]\", \"StringEquals\": \"y\"}", "{\"a\": [\"x\", \"y\"]}", -1},
    /* And / Or / Not */
    {"{\"And\": [{\"Variable\": \"$.v\", \"NumericGreaterThanEquals\": 20}, {\"Variable\":"
     " \"$.v\", \"NumericLessThan\": 30}]}",
     "{\"v\": 22}", 1},
    {"{\"And\": [{\"Variable\": \"$.v\", \"NumericGreaterThanEquals\": 20}, {\"Variable\":"
     " \"$.v\", \"NumericLessThan\": 30}]}",
     "{\"v\": 30}", 0},
    {"{\"Or\": [{\"Variable\": \"$.v\", \"NumericEquals\": 1}, {\"Variable\": \"$.v\","
     " \"NumericEquals\": 2}]}",
     "{\"v\": 2}", 1},
    {"{\"Or\": [{\"Variable\": \"$.v\", \"NumericEquals\": 1}, {\"Variable\": \"$.v\","
     " \"NumericEquals\": 2}]}",
     "{\"v\": 3}", 0},
    {"{\"Not\": {\"Variable\": \"$.type\", \"StringEquals\": \"Private\"}}",
     "{\"type\": \"Public\"}", 1},
    {"{\"Not\": {\"Variable\": \"$.type\", \"StringEquals\": \"Private\"}}",
     "{\"type\": \"Private\"}", 0},
    {"{\"Not\": {\"Not\": {\"Variable\": \"$.x\", \"IsPresent\": true}}}", "{\"x\": 1}", 1},
    /* AWS's guard: the comparison only runs when the key exists (short-circuit) */
    {"{\"And\": [{\"Variable\": \"$.k\", \"IsPresent\": true}, {\"Variable\": \"$.k\","
     " \"StringEquals\": \"foo\"}]}",
     "{}", 0},
    {"{\"Or\": [{\"Variable\": \"$.k\", \"IsPresent\": false}, {\"Variable\": \"$.k\","
     " \"StringEquals\": \"foo\"}]}",
     "{}", 1},
    /* an error inside And/Or/Not is an error */
    {"{\"Not\": {\"Variable\": \"$.k\", \"StringEquals\": \"foo\"}}", "{}", -1},
    {"{\"Or\": [{\"Variable\": \"$.a\", \"IsNull\": true}, {\"Variable\": \"$.k\","
     " \"StringEquals\": \"foo\"}]}",
     "{\"a\": 1}", -1},
    {"{\"And\": [{\"Or\": [{\"Variable\": \"$.a\", \"NumericEquals\": 1}, {\"Variable\": \"$.a\","
     " \"NumericEquals\": 2}]}, {\"Not\": {\"Variable\": \"$.b\", \"BooleanEquals\": true}}]}",
     "{\"a\": 2, \"b\": false}", 1},
};

static void test_choice_operators(void **state) {
    (void)state;
    json_t *ctx = J(CONTEXT);
    size_t failures = 0;
    for (size_t i = 0; i < sizeof choice_cases / sizeof *choice_cases; i++) {
        const choice_case *c = &choice_cases[i];
        json_t *rule = J(c->rule);
        json_object_set_new(rule, "Next", json_string("Yes"));
        json_t *def = json_pack("{s:s, s:{s:{s:s, s:[O], s:s}, s:{s:s}, s:{s:s}}}", "StartAt", "C",
                                "States", "C", "Type", "Choice", "Choices", rule, "Default", "No",
                                "Yes", "Type", "Succeed", "No", "Type", "Succeed");
        char *text = json_dumps(def, 0);
        char err[1024];
        sl_asl_machine *m = sl_asl_compile(text, err, sizeof err);
        if (!m) fail_msg("choice case %zu does not compile: %s", i, err);
        json_t *input = J(c->input);
        const char *en = NULL;
        char cause[256];
        int next = sl_asl_choose(&m->states[0], input, ctx, &en, cause, sizeof cause);
        int got = next == sl_asl_find(m, "Yes") ? 1 : next == sl_asl_find(m, "No") ? 0 : -1;
        if (got != c->want) {
            print_error("choice case %zu: %s on %s: want %d, got %d (%s)\n", i, c->rule, c->input,
                        c->want, got, next < 0 ? cause : "");
            failures++;
        } else if (got < 0) {
            assert_string_equal(en, "States.Runtime");
            assert_non_null(strstr(cause, "Invalid path '$"));
            assert_non_null(strstr(cause, "The choice state's condition path references an "
                                          "invalid value."));
        }
        json_decref(input);
        sl_asl_free(m);
        free(text);
        json_decref(def);
        json_decref(rule);
    }
    json_decref(ctx);
    if (failures) fail_msg("%zu choice cases failed", failures);
}

static void test_choice_order_and_no_match(void **state) {
    (void)state;
    sl_asl_machine *m = must_compile(
        "{\"StartAt\": \"C\", \"States\": {\"C\": {\"Type\": \"Choice\", \"Choices\": ["
        "{\"Variable\": \"$.v\", \"NumericGreaterThan\": 10, \"Next\": \"Big\"},"
        "{\"Variable\": \"$.v\", \"NumericGreaterThan\": 0, \"Next\": \"Small\"},"
        "{\"Variable\": \"$.v\", \"NumericGreaterThan\": 5, \"Next\": \"Never\"}]},"
        "\"Big\": {\"Type\": \"Succeed\"}, \"Small\": {\"Type\": \"Succeed\"},"
        " \"Never\": {\"Type\": \"Succeed\"}}}");
    const char *en = NULL;
    char cause[256];
    json_t *in = J("{\"v\": 50}");
    assert_int_equal(sl_asl_choose(&m->states[0], in, NULL, &en, cause, sizeof cause),
                     sl_asl_find(m, "Big"));
    json_decref(in);
    in = J("{\"v\": 7}");
    assert_int_equal(sl_asl_choose(&m->states[0], in, NULL, &en, cause, sizeof cause),
                     sl_asl_find(m, "Small"));
    json_decref(in);
    in = J("{\"v\": -1}");
    assert_int_equal(sl_asl_choose(&m->states[0], in, NULL, &en, cause, sizeof cause), -1);
    assert_string_equal(en, "States.NoChoiceMatched");
    assert_non_null(strstr(cause, "'C'"));
    json_decref(in);
    sl_asl_free(m);
}

/* ---- error matching ---- */

typedef struct {
    const char *list; /* space-separated ErrorEquals */
    const char *error;
    bool want;
} match_case;

static const match_case match_cases[] = {
    {"States.ALL", "MyError", true},
    {"States.ALL", "States.Timeout", true},
    {"States.ALL", "States.TaskFailed", true},
    {"States.ALL", "States.Runtime", false},
    {"States.ALL", "States.DataLimitExceeded", false},
    {"States.DataLimitExceeded", "States.DataLimitExceeded", true},
    {"States.Runtime", "States.Runtime", false},
    {"States.TaskFailed", "Lambda.ServiceException", true},
    {"States.TaskFailed", "States.HeartbeatTimeout", true},
    {"States.TaskFailed", "States.Timeout", false},
    {"States.TaskFailed", "States.Runtime", false},
    {"States.TaskFailed", "States.DataLimitExceeded", false},
    {"States.Timeout", "States.Timeout", true},
    {"A B C", "B", true},
    {"A B C", "D", false},
    {"myerror", "MyError", false},
    {"States.Permissions States.ALL", "X", true},
};

static void test_error_matching(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof match_cases / sizeof *match_cases; i++) {
        char *copy = strdup(match_cases[i].list);
        char *names[8];
        size_t n = 0;
        char *save = NULL;
        for (char *t = strtok_r(copy, " ", &save); t && n < 8; t = strtok_r(NULL, " ", &save))
            names[n++] = t;
        if (sl_asl_error_matches(names, n, match_cases[i].error) != match_cases[i].want)
            fail_msg("[%s] vs %s: want %d", match_cases[i].list, match_cases[i].error,
                     match_cases[i].want);
        free(copy);
    }
    assert_false(sl_asl_error_matches(NULL, 0, "X"));
}

/* ---- timestamps ---- */

static void test_timestamps(void **state) {
    (void)state;
    long long s;
    long ns;
    assert_true(sl_asl_timestamp_parse("1970-01-01T00:00:00Z", &s, &ns));
    assert_int_equal(s, 0);
    assert_int_equal(ns, 0);
    assert_true(sl_asl_timestamp_parse("2016-03-14T01:59:00Z", &s, &ns));
    assert_int_equal(s, 1457920740);
    assert_true(sl_asl_timestamp_parse("2016-03-14T01:59:00.5-01:30", &s, &ns));
    assert_int_equal(s, 1457920740 + 5400);
    assert_int_equal(ns, 500000000);
    assert_true(sl_asl_timestamp_parse("2000-02-29T23:59:59.123456789+00:00", &s, &ns));
    assert_int_equal(ns, 123456789);
    assert_true(sl_asl_timestamp_parse("1969-12-31T23:59:59Z", &s, NULL));
    assert_int_equal(s, -1);
    assert_true(sl_asl_timestamp_parse("2016-03-14T01:59:00Z", NULL, NULL));
    static const char *const bad[] = {
        "",
        "2016-03-14",
        "2016-03-14T01:59Z",
        "2016-03-14T01:59:00",
        "2016-03-14T01:59:00z",
        "2016-03-14t01:59:00Z",
        "2016-03-14 01:59:00Z",
        "2016-13-14T01:59:00Z",
        "2016-00-14T01:59:00Z",
        "2015-02-29T01:59:00Z",
        "1900-02-29T01:59:00Z",
        "2016-03-14T24:00:00Z",
        "2016-03-14T01:60:00Z",
        "2016-03-14T01:59:60Z",
        "2016-03-14T01:59:00.Z",
        "2016-03-14T01:59:00.1234567890Z",
        "2016-03-14T01:59:00+0100",
        "2016-03-14T01:59:00+24:00",
        "2016-03-14T01:59:00Zjunk",
        "+2016-03-14T01:59:00Z",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++)
        if (sl_asl_timestamp_parse(bad[i], &s, &ns)) fail_msg("accepted %s", bad[i]);
    assert_false(sl_asl_timestamp_parse(NULL, &s, &ns));
}

static void test_type_names(void **state) {
    (void)state;
    static const char *const want[] = {"Pass",    "Task", "Choice",   "Wait",
                                       "Succeed", "Fail", "Parallel", "Map"};
    for (int t = SL_ASL_PASS; t <= SL_ASL_MAP; t++)
        assert_string_equal(sl_asl_type_name((sl_asl_type)t), want[t]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definitions),
        cmocka_unit_test(test_machine_shape),
        cmocka_unit_test(test_map_and_parallel_shape),
        cmocka_unit_test(test_each_task),
        cmocka_unit_test(test_compile_message),
        cmocka_unit_test(test_empty_and_huge),
        cmocka_unit_test(test_nesting_limits),
        cmocka_unit_test(test_choice_operators),
        cmocka_unit_test(test_choice_order_and_no_match),
        cmocka_unit_test(test_error_matching),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
