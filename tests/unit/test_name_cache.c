/* test_name_cache: the positive-lookup cache (core/name_cache.c): values kept and handed out as
 * new references, a forget empties it, a value read before a forget is not put back, a full
 * cache starts over, and lookups from several threads while another forgets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/name_cache.h"

static void test_put_get_forget(void **state) {
    (void)state;
    sl_name_cache *c = sl_name_cache_new(16);
    assert_null(sl_name_cache_get(c, "photos"));
    json_t *v = json_string("us-east-1");
    sl_name_cache_put(c, "photos", v, sl_name_cache_generation(c));
    json_decref(v); /* the cache holds its own reference */
    json_t *got = sl_name_cache_get(c, "photos");
    assert_non_null(got);
    assert_string_equal(json_string_value(got), "us-east-1");
    sl_name_cache_forget(c);
    assert_null(sl_name_cache_get(c, "photos"));
    assert_string_equal(json_string_value(got), "us-east-1"); /* the caller's stays valid */
    json_decref(got);
    sl_name_cache_free(c);
}

static void test_value_read_before_a_forget_is_not_kept(void **state) {
    (void)state;
    sl_name_cache *c = sl_name_cache_new(16);
    uint64_t before = sl_name_cache_generation(c);     /* a lookup starts reading the store... */
    sl_name_cache_forget(c);                           /* ...the bucket is deleted meanwhile... */
    sl_name_cache_put(c, "gone", json_true(), before); /* ...and its stale answer arrives */
    assert_null(sl_name_cache_get(c, "gone"));
    sl_name_cache_put(c, "gone", json_true(), sl_name_cache_generation(c));
    json_t *v = sl_name_cache_get(c, "gone");
    assert_true(json_is_true(v));
    json_decref(v);
    sl_name_cache_free(c);
}

static void test_full_cache_starts_over(void **state) {
    (void)state;
    sl_name_cache *c = sl_name_cache_new(4);
    char name[16];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "n%d", i);
        json_t *v = json_integer(i);
        sl_name_cache_put(c, name, v, sl_name_cache_generation(c));
        json_decref(v);
    }
    json_t *last = sl_name_cache_get(c, "n4");
    assert_int_equal(json_integer_value(last), 4);
    json_decref(last);
    assert_null(sl_name_cache_get(c, "n0")); /* emptied when the fifth came */
    sl_name_cache_free(c);
}

static void *reader(void *arg) {
    sl_name_cache *c = arg;
    for (int i = 0; i < 20000; i++) {
        json_t *v = sl_name_cache_get(c, "hot");
        if (v) assert_string_equal(json_string_value(v), "value");
        json_decref(v);
        if (!v) {
            json_t *nv = json_string("value");
            sl_name_cache_put(c, "hot", nv, sl_name_cache_generation(c));
            json_decref(nv);
        }
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    sl_name_cache *c = sl_name_cache_new(16);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, reader, c);
    for (int i = 0; i < 2000; i++) sl_name_cache_forget(c);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    sl_name_cache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_forget),
        cmocka_unit_test(test_value_read_before_a_forget_is_not_kept),
        cmocka_unit_test(test_full_cache_starts_over),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
