/* Unit tests for store: migrations, group commit (many concurrent jobs, each durable and
 * isolated: a failing job rolls back alone), per-thread readers, reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static char dir[64];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sluice-store-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct {
    int id;
    bool fail;
} insert_arg;

static int insert_job(sqlite3 *db, void *arg) {
    insert_arg *a = arg;
    char sql[128];
    snprintf(sql, sizeof sql,
             "INSERT INTO buckets (name, created_ms, region) VALUES ('b%d', 1, 'r')", a->id);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return -1;
    return a->fail ? 7 : 0; /* a failing job's insert must vanish */
}

static int count_buckets(sl_store *st) {
    sqlite3_stmt *s;
    sqlite3 *db = sl_store_reader(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM buckets", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

typedef struct {
    sl_store *st;
    int base;
    int rcs[50];
} worker_arg;

static void *worker(void *p) {
    worker_arg *w = p;
    for (int i = 0; i < 50; i++) {
        insert_arg a = {w->base + i, (i % 10) == 3};
        w->rcs[i] = sl_store_write(w->st, insert_job, &a);
    }
    return NULL;
}

static void test_group_commit(void **state) {
    (void)state;
    char err[256];
    sl_store *st = sl_store_open(dir, err, sizeof err);
    assert_non_null(st);
    pthread_t t[8];
    worker_arg w[8];
    for (int i = 0; i < 8; i++) {
        w[i].st = st;
        w[i].base = i * 1000;
        pthread_create(&t[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 50; j++) assert_int_equal(w[i].rcs[j], (j % 10) == 3 ? 7 : 0);
    /* 5 of every 50 failed and rolled back alone. */
    assert_int_equal(count_buckets(st), 8 * 45);
    /* A duplicate insert fails inside the job (constraint): reported, nothing else lost. */
    insert_arg dup = {0, false};
    assert_int_equal(sl_store_write(st, insert_job, &dup), -1);
    assert_int_equal(count_buckets(st), 8 * 45);
    sl_store_close(st);

    /* Everything committed is there after reopening. */
    st = sl_store_open(dir, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(count_buckets(st), 8 * 45);
    sl_store_close(st);
}

static void test_open_errors(void **state) {
    (void)state;
    char err[256];
    assert_null(sl_store_open("/proc/definitely/not/here", err, sizeof err));
    assert_non_null(strstr(err, "/proc/definitely/not/here"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
