/* Unit tests for CloudWatch Logs on a real store in a temporary directory: sl_logs_append
 * (group and stream creation, one job per batch, repair of what JSON cannot carry),
 * GetLogEvents' tokens (forward, backward, the same token at either end), FilterLogEvents
 * (interleaving, patterns, stream selection, nextToken only while more may follow) and the
 * retention sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/ids.h"
#include "logs/logs_internal.h"

typedef struct {
    char dir[64];
    sl_config cfg;
    sl_store *store;
    sl_logs *logs;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-logs-XXXXXX");
    *state = f;
    if (!mkdtemp(f->dir)) return -1;
    sl_config_defaults(&f->cfg);
    char err[256];
    f->store = sl_store_open(f->dir, err, sizeof err);
    if (!f->store) return -1;
    sl_context ctx = {.cfg = &f->cfg, .store = f->store, .credentials = NULL};
    f->logs = sl_logs_new(&ctx, err, sizeof err);
    return f->logs ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    sl_logs_free(f->logs);
    sl_store_close(f->store);
    sl_config_free(&f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void append(fixture *f, const char *group, const char *stream, int64_t ts0, int n,
                   const char *fmt) {
    sl_log_line lines[64];
    char text[64][64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        snprintf(text[i], sizeof text[i], fmt, i);
        lines[i] = (sl_log_line){ts0 + i, text[i], strlen(text[i])};
    }
    char err[256];
    assert_int_equal(
        sl_logs_append(f->logs, group, stream, true, lines, (size_t)n, err, sizeof err), 0);
}

static int64_t stream_id(fixture *f, const char *group, const char *stream) {
    lg_group g;
    assert_true(lg_group_find(f->logs, group, &g));
    int64_t id = lg_stream_find(f->logs, g.id, stream);
    assert_true(id > 0);
    return id;
}

static const char *msg_at(json_t *out, size_t i) {
    return json_string_value(
        json_object_get(json_array_get(json_object_get(out, "events"), i), "message"));
}

static size_t count(json_t *out) { return json_array_size(json_object_get(out, "events")); }

static const char *tok(json_t *out, const char *field) {
    return json_string_value(json_object_get(out, field));
}

static void test_append_creates_group_and_stream(void **state) {
    fixture *f = *state;
    char err[256];
    sl_log_line line = {1000, "hello", 5};
    assert_int_equal(
        sl_logs_append(f->logs, "/ecs/app", "web/c1/t1", false, &line, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not exist"));
    assert_int_equal(
        sl_logs_append(f->logs, "/ecs/app", "web/c1/t1", true, &line, 1, err, sizeof err), 0);
    /* a second stream in the existing group, without create_group */
    assert_int_equal(
        sl_logs_append(f->logs, "/ecs/app", "web/c1/t2", false, &line, 1, err, sizeof err), 0);
    assert_int_equal(sl_logs_append(f->logs, "bad group!", "s", true, &line, 1, err, sizeof err),
                     -1);
    assert_int_equal(sl_logs_append(f->logs, "/ecs/app", "a:b", true, &line, 1, err, sizeof err),
                     -1);
    lg_group g;
    assert_true(lg_group_find(f->logs, "/ecs/app", &g));
    assert_int_equal(g.stored_bytes, 10);
    /* no lines: the stream still appears (the awslogs driver creates it at container start) */
    assert_int_equal(sl_logs_append(f->logs, "/ecs/app", "empty", false, NULL, 0, err, sizeof err),
                     0);
    assert_true(lg_stream_find(f->logs, g.id, "empty") > 0);
}

static void test_get_events_tokens(void **state) {
    fixture *f = *state;
    append(f, "g", "s", 1000, 5, "line %d");
    lg_get_query q = {.stream_id = stream_id(f, "g", "s"),
                      .start = 0,
                      .end = INT64_MAX,
                      .from_head = true,
                      .limit = 2};
    char err[128];
    /* from the head, two at a time */
    json_t *p1 = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(p1), 2);
    assert_string_equal(msg_at(p1, 0), "line 0");
    q.token = tok(p1, "nextForwardToken");
    json_t *p2 = lg_get_events(f->logs, &q, err, sizeof err);
    assert_string_equal(msg_at(p2, 0), "line 2");
    q.token = tok(p2, "nextForwardToken");
    json_t *p3 = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(p3), 1);
    assert_string_equal(msg_at(p3, 0), "line 4");
    /* the end: no events and the very token we passed, so loops terminate */
    q.token = tok(p3, "nextForwardToken");
    json_t *p4 = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(p4), 0);
    assert_string_equal(tok(p4, "nextForwardToken"), q.token);
    /* a new event shows up after that token */
    append(f, "g", "s", 2000, 1, "late %d");
    json_t *p5 = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(p5), 1);
    assert_string_equal(msg_at(p5, 0), "late 0");
    /* backward from p3 returns the two before it, in ascending order */
    q.token = tok(p3, "nextBackwardToken");
    json_t *b1 = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(b1), 2);
    assert_string_equal(msg_at(b1, 0), "line 2");
    assert_string_equal(msg_at(b1, 1), "line 3");
    q.token = tok(b1, "nextBackwardToken");
    json_t *b2 = lg_get_events(f->logs, &q, err, sizeof err);
    assert_string_equal(msg_at(b2, 0), "line 0");
    q.token = tok(b2, "nextBackwardToken");
    json_t *b3 = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(b3), 0);
    assert_string_equal(tok(b3, "nextBackwardToken"), q.token);
    /* without a token and not from the head: the newest page */
    q.token = NULL;
    q.from_head = false;
    json_t *tail = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(tail), 2);
    assert_string_equal(msg_at(tail, 0), "line 4");
    assert_string_equal(msg_at(tail, 1), "late 0");
    /* a time range: [1001, 1003) */
    q.start = 1001;
    q.end = 1003;
    q.limit = 100;
    json_t *range = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(range), 2);
    assert_string_equal(msg_at(range, 0), "line 1");
    /* garbage tokens are refused */
    q.token = "f/123/s";
    assert_null(lg_get_events(f->logs, &q, err, sizeof err));
    assert_non_null(strstr(err, "nextToken"));
    json_t *all[] = {p1, p2, p3, p4, p5, b1, b2, b3, tail, range};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) json_decref(all[i]);
}

static void test_empty_stream_tokens(void **state) {
    fixture *f = *state;
    append(f, "g", "empty", 0, 0, "%d");
    lg_get_query q = {.stream_id = stream_id(f, "g", "empty"), .end = INT64_MAX, .limit = 10};
    char err[128];
    json_t *a = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(a), 0);
    q.token = tok(a, "nextForwardToken");
    json_t *b = lg_get_events(f->logs, &q, err, sizeof err);
    assert_string_equal(tok(b, "nextForwardToken"), q.token);
    json_decref(a);
    json_decref(b);
}

static json_t *filter(fixture *f, const char *pattern, const char *prefix, json_t *names,
                      const char *token, int limit, int budget) {
    char err[256];
    sl_log_filter *flt = sl_log_filter_compile(pattern, err, sizeof err);
    assert_non_null(flt);
    lg_group g;
    assert_true(lg_group_find(f->logs, "app", &g));
    lg_filter_query q = {.group_id = g.id,
                         .start = 0,
                         .end = INT64_MAX,
                         .stream_names = names,
                         .stream_prefix = prefix,
                         .filter = flt,
                         .token = token,
                         .limit = limit,
                         .scan_budget = budget};
    json_t *out = lg_filter_events(f->logs, &q, err, sizeof err);
    sl_log_filter_free(flt);
    assert_non_null(out);
    return out;
}

static void test_filter_interleaves_and_pages(void **state) {
    fixture *f = *state;
    /* a: 1000, 1002, 1004; b: 1001, 1003, 1005 */
    sl_log_line a[3], b[3];
    char ta[3][16], tb[3][16];
    for (int i = 0; i < 3; i++) {
        snprintf(ta[i], sizeof ta[i], "a%d %s", i, i == 1 ? "ERROR" : "ok");
        snprintf(tb[i], sizeof tb[i], "b%d %s", i, i == 2 ? "ERROR" : "ok");
        a[i] = (sl_log_line){1000 + 2 * i, ta[i], strlen(ta[i])};
        b[i] = (sl_log_line){1001 + 2 * i, tb[i], strlen(tb[i])};
    }
    char err[128];
    assert_int_equal(sl_logs_append(f->logs, "app", "web/a", true, a, 3, err, sizeof err), 0);
    assert_int_equal(sl_logs_append(f->logs, "app", "web/b", true, b, 3, err, sizeof err), 0);
    assert_int_equal(sl_logs_append(f->logs, "app", "db/c", true, a, 1, err, sizeof err), 0);

    json_t *all = filter(f, NULL, "web/", NULL, NULL, 100, 1000);
    assert_int_equal(count(all), 6);
    const char *order[] = {"a0 ok", "b0 ok", "a1 ERROR", "b1 ok", "a2 ok", "b2 ERROR"};
    for (size_t i = 0; i < 6; i++) assert_string_equal(msg_at(all, i), order[i]);
    assert_null(json_object_get(all, "nextToken")); /* nothing more: tail --follow stops paging */
    json_t *e0 = json_array_get(json_object_get(all, "events"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "logStreamName")), "web/a");
    assert_int_equal(strlen(json_string_value(json_object_get(e0, "eventId"))), 56);
    assert_true(json_is_array(json_object_get(all, "searchedLogStreams")));

    /* the pattern, paged two at a time: a nextToken only while matches remain */
    json_t *p1 = filter(f, "ERROR", NULL, NULL, NULL, 1, 1000);
    assert_int_equal(count(p1), 1);
    assert_string_equal(msg_at(p1, 0), "a1 ERROR");
    assert_non_null(tok(p1, "nextToken"));
    json_t *p2 = filter(f, "ERROR", NULL, NULL, tok(p1, "nextToken"), 1, 1000);
    assert_int_equal(count(p2), 1);
    assert_string_equal(msg_at(p2, 0), "b2 ERROR");
    assert_null(json_object_get(p2, "nextToken"));

    /* stream names; the same eventId for the same event on every call */
    json_t *names = json_pack("[s]", "web/b");
    json_t *only_b = filter(f, "", NULL, names, NULL, 100, 1000);
    assert_int_equal(count(only_b), 3);
    json_t *again = filter(f, "", NULL, names, NULL, 100, 1000);
    assert_true(json_equal(json_object_get(only_b, "events"), json_object_get(again, "events")));

    /* a scan budget smaller than the group answers a partial page that resumes correctly */
    json_t *part = filter(f, "b2", NULL, NULL, NULL, 100, 2);
    assert_int_equal(count(part), 0);
    const char *t = tok(part, "nextToken");
    assert_non_null(t);
    json_t *rest = filter(f, "b2", NULL, NULL, t, 100, 1000);
    assert_int_equal(count(rest), 1);

    json_t *done[] = {all, p1, p2, names, only_b, again, part, rest};
    for (size_t i = 0; i < sizeof done / sizeof done[0]; i++) json_decref(done[i]);
}

static int set_retention_job(sqlite3 *db, void *arg) {
    (void)arg;
    return sqlite3_exec(db, "UPDATE log_groups SET retention_days=1 WHERE name='old'", NULL, NULL,
                        NULL) == SQLITE_OK
               ? 0
               : -1;
}

static void test_retention_sweep(void **state) {
    fixture *f = *state;
    int64_t now = sl_now_ms();
    append(f, "old", "s", now - 3 * LG_DAY_MS, 10, "ancient %d");
    append(f, "old", "s", now - 1000, 3, "fresh %d");
    append(f, "keep", "s", now - 30 * LG_DAY_MS, 2, "kept %d"); /* no retention: never swept */
    assert_int_equal(sl_store_write(f->store, set_retention_job, NULL), 0);
    lg_group before;
    assert_true(lg_group_find(f->logs, "old", &before));
    assert_int_equal(lg_sweep(f->logs, now, 4), 10); /* in batches of 4 */
    lg_group after;
    assert_true(lg_group_find(f->logs, "old", &after));
    assert_true(after.stored_bytes < before.stored_bytes);
    assert_int_equal(after.stored_bytes, 3 * (int64_t)strlen("fresh 0"));
    lg_get_query q = {
        .stream_id = stream_id(f, "old", "s"), .end = INT64_MAX, .from_head = true, .limit = 100};
    char err[64];
    json_t *out = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(out), 3);
    assert_string_equal(msg_at(out, 0), "fresh 0");
    json_decref(out);
    assert_int_equal(lg_sweep(f->logs, now, 4), 0);
    q.stream_id = stream_id(f, "keep", "s");
    out = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(out), 2);
    json_decref(out);
    assert_int_equal(lg_retention_cutoff(0, now), INT64_MIN);
    assert_true(lg_retention_valid(3653));
    assert_false(lg_retention_valid(2));
}

static void test_invalid_utf8_is_repaired(void **state) {
    fixture *f = *state;
    const char raw[] = "bad \xff\xfe byte \xc3\xa9 ok";
    sl_log_line line = {-5, raw, sizeof raw - 1};
    char err[64];
    assert_int_equal(sl_logs_append(f->logs, "g", "s", true, &line, 1, err, sizeof err), 0);
    lg_get_query q = {
        .stream_id = stream_id(f, "g", "s"), .end = INT64_MAX, .from_head = true, .limit = 10};
    json_t *out = lg_get_events(f->logs, &q, err, sizeof err);
    assert_int_equal(count(out), 1);
    assert_string_equal(msg_at(out, 0), "bad \xef\xbf\xbd\xef\xbf\xbd byte \xc3\xa9 ok");
    /* negative timestamps are clamped to the epoch */
    json_t *e = json_array_get(json_object_get(out, "events"), 0);
    assert_int_equal(json_integer_value(json_object_get(e, "timestamp")), 0);
    json_decref(out);
}

static void test_tokens_round_trip(void **state) {
    (void)state;
    char t[64];
    lg_pos p = {1700000000123, 42}, back;
    lg_token_encode('f', p, t);
    assert_int_equal(strlen(t), 60);
    assert_true(lg_token_decode(t, 'f', &back));
    assert_int_equal(back.ts, p.ts);
    assert_int_equal(back.id, p.id);
    assert_false(lg_token_decode(t, 'b', &back));
    t[10] = 'x';
    assert_false(lg_token_decode(t, 'f', &back));
    assert_false(lg_token_decode("", 'f', &back));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_creates_group_and_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_events_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_stream_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_interleaves_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_is_repaired, setup, teardown),
        cmocka_unit_test(test_tokens_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
