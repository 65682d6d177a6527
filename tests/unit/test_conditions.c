/* Unit tests for objects/conditions: Range parsing, ETag lists and conditional evaluation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "objects/conditions.h"

static const struct {
    const char *header;
    uint64_t size;
    int rc;
    uint64_t start, end;
} range_cases[] = {
    {NULL, 100, 0, 0, 0},
    {"bytes=0-9", 100, 1, 0, 9},
    {"bytes=10-", 100, 1, 10, 99},
    {"bytes=-10", 100, 1, 90, 99},
    {"bytes=-1000", 100, 1, 0, 99},    /* suffix longer than the object: all of it */
    {"bytes=90-1000", 100, 1, 90, 99}, /* end past the object is clamped */
    {"bytes=99-99", 100, 1, 99, 99},
    {"bytes=100-", 100, -1, 0, 0}, /* starts past the end: 416 */
    {"bytes=100-200", 100, -1, 0, 0},
    {"bytes=-0", 100, -1, 0, 0},
    {"bytes=0-0", 0, -1, 0, 0}, /* nothing to serve in an empty object */
    {"bytes=-5", 0, -1, 0, 0},
    {"bytes=5-2", 100, 0, 0, 0},     /* inverted: ignored, whole object */
    {"bytes=0-1,5-6", 100, 0, 0, 0}, /* several ranges: S3 serves the whole object */
    {"bits=0-1", 100, 0, 0, 0},
    {"bytes=abc", 100, 0, 0, 0},
    {"bytes=1-x", 100, 0, 0, 0},
    {"bytes=", 100, 0, 0, 0},
    {"bytes=-", 100, 0, 0, 0},
    {"bytes= 1-2", 100, 0, 0, 0},
    {"bytes=99999999999999999999999-", 100, 0, 0, 0},
};

static void test_range(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof range_cases / sizeof range_cases[0]; i++) {
        uint64_t s = 7, e = 7;
        int rc = s3_range_parse(range_cases[i].header, range_cases[i].size, &s, &e);
        if (rc != range_cases[i].rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, range_cases[i].header, rc,
                     range_cases[i].rc);
        if (rc == 1) {
            assert_int_equal(s, range_cases[i].start);
            assert_int_equal(e, range_cases[i].end);
        }
    }
}

static void test_etag_lists(void **state) {
    (void)state;
    const char *etag = "\"abc\"";
    assert_true(s3_etag_list_matches("\"abc\"", etag));
    assert_true(s3_etag_list_matches("abc", etag));
    assert_true(s3_etag_list_matches("*", etag));
    assert_true(s3_etag_list_matches("\"x\", \"abc\"", etag));
    assert_true(s3_etag_list_matches("W/\"abc\"", etag));
    assert_false(s3_etag_list_matches("\"abcd\"", etag));
    assert_false(s3_etag_list_matches("\"ab\"", etag));
    assert_false(s3_etag_list_matches("", etag));
    assert_false(s3_etag_list_matches("\"", etag));
}

static void test_conditions(void **state) {
    (void)state;
    const char *etag = "\"e1\"";
    int64_t lm = 1700000000500; /* Tue, 14 Nov 2023 22:13:20 GMT, plus 500 ms */
    s3_conditions none = {0};
    assert_int_equal(s3_conditions_check(&none, etag, lm), 0);
    s3_conditions m = {.if_match = "\"e2\""};
    assert_int_equal(s3_conditions_check(&m, etag, lm), 412);
    s3_conditions nm = {.if_none_match = "\"e1\""};
    assert_int_equal(s3_conditions_check(&nm, etag, lm), 304);
    /* Same second as Last-Modified: not modified since. */
    s3_conditions ims = {.if_modified_since = "Tue, 14 Nov 2023 22:13:20 GMT"};
    assert_int_equal(s3_conditions_check(&ims, etag, lm), 304);
    s3_conditions ims_old = {.if_modified_since = "Tue, 14 Nov 2023 22:13:19 GMT"};
    assert_int_equal(s3_conditions_check(&ims_old, etag, lm), 0);
    s3_conditions ius = {.if_unmodified_since = "Tue, 14 Nov 2023 22:13:19 GMT"};
    assert_int_equal(s3_conditions_check(&ius, etag, lm), 412);
    s3_conditions ius_ok = {.if_unmodified_since = "2023-11-14T22:13:20Z"};
    assert_int_equal(s3_conditions_check(&ius_ok, etag, lm), 0);
    /* If-Match true wins over If-Unmodified-Since false (RFC 7232 order, as S3). */
    s3_conditions both = {.if_match = "\"e1\"",
                          .if_unmodified_since = "Tue, 14 Nov 2023 00:00:00 GMT"};
    assert_int_equal(s3_conditions_check(&both, etag, lm), 0);
    /* If-None-Match false with If-Modified-Since true... If-None-Match decides: 200. */
    s3_conditions nm2 = {.if_none_match = "\"zz\"",
                         .if_modified_since = "Tue, 14 Nov 2023 23:00:00 GMT"};
    assert_int_equal(s3_conditions_check(&nm2, etag, lm), 0);
    s3_conditions junk = {.if_modified_since = "yesterday"};
    assert_int_equal(s3_conditions_check(&junk, etag, lm), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_etag_lists),
        cmocka_unit_test(test_conditions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
