/* Unit tests for events/transform: Input, InputPath and InputTransformer placement rules
 * (inside a JSON string: the value's text; elsewhere: the value as JSON; non-JSON templates:
 * text), predefined placeholders, and PutTargets-time validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "events/events_internal.h"

static const char *EVENT = "{\"id\":\"e1\",\"source\":\"aws.s3\",\"detail-type\":\"Object "
                           "Created\",\"time\":\"2026-01-01T00:00:00Z\","
                           "\"detail\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"in/a "
                           "\\\"q\\\".txt\",\"size\":8},"
                           "\"tags\":[\"x\",\"y\"],\"flag\":true,\"none\":null}}";

static char *run(const char *target_json) {
    json_t *target = json_loads(target_json, 0, NULL);
    json_t *event = json_loads(EVENT, 0, NULL);
    assert_non_null(target);
    assert_non_null(event);
    char err[256] = "";
    char *out = ev_transform(target, event, "arn:aws:events:us-east-1:000000000000:rule/r", "r",
                             err, sizeof err);
    json_decref(target);
    json_decref(event);
    return out;
}

static void expect_json(const char *target, const char *want) {
    char *out = run(target);
    assert_non_null(out);
    json_t *got = json_loads(out, JSON_DECODE_ANY, NULL);
    json_t *exp = json_loads(want, JSON_DECODE_ANY, NULL);
    if (!got || !exp || !json_equal(got, exp))
        fail_msg("target %s\n got  %s\n want %s", target, out, want);
    json_decref(got);
    json_decref(exp);
    free(out);
}

static void expect_text(const char *target, const char *want) {
    char *out = run(target);
    assert_non_null(out);
    if (strcmp(out, want) != 0) fail_msg("target %s\n got  %s\n want %s", target, out, want);
    free(out);
}

static void test_whole_event_input_and_path(void **state) {
    (void)state;
    expect_json("{\"Arn\":\"a\"}", EVENT);
    expect_json("{\"Arn\":\"a\",\"Input\":\"{\\\"fixed\\\": 1}\"}", "{\"fixed\": 1}");
    expect_json("{\"Arn\":\"a\",\"InputPath\":\"$.detail.object\"}",
                "{\"key\":\"in/a \\\"q\\\".txt\",\"size\":8}");
    expect_json("{\"Arn\":\"a\",\"InputPath\":\"$.detail.object.size\"}", "8");
}

static void test_template_placement(void **state) {
    (void)state;
    /* Outside strings: JSON values (strings keep quotes, escaped). */
    expect_json(
        "{\"Arn\":\"a\",\"InputTransformer\":{\"InputPathsMap\":{\"k\":\"$.detail.object.key\","
        "\"s\":\"$.detail.object.size\",\"t\":\"$.detail.tags\",\"f\":\"$.detail.flag\"},"
        "\"InputTemplate\":\"{\\\"key\\\": <k>, \\\"size\\\": <s>, \\\"tags\\\": <t>, "
        "\\\"flag\\\": <f>}\"}}",
        "{\"key\":\"in/a \\\"q\\\".txt\",\"size\":8,\"tags\":[\"x\",\"y\"],\"flag\":true}");
    /* Inside strings: text, escaped for the string. */
    expect_json(
        "{\"Arn\":\"a\",\"InputTransformer\":{\"InputPathsMap\":{\"k\":\"$.detail.object.key\","
        "\"s\":\"$.detail.object.size\"},"
        "\"InputTemplate\":\"{\\\"msg\\\": \\\"<k> has <s> bytes\\\"}\"}}",
        "{\"msg\":\"in/a \\\"q\\\".txt has 8 bytes\"}");
    /* A path that matches nothing: null outside strings, empty inside. */
    expect_json(
        "{\"Arn\":\"a\",\"InputTransformer\":{\"InputPathsMap\":{\"m\":\"$.detail.missing\"},"
        "\"InputTemplate\":\"{\\\"a\\\": <m>, \\\"b\\\": \\\"[<m>]\\\"}\"}}",
        "{\"a\":null,\"b\":\"[]\"}");
    /* A string template (not JSON) places plain text. */
    expect_text(
        "{\"Arn\":\"a\",\"InputTransformer\":{\"InputPathsMap\":{\"b\":\"$.detail.bucket.name\"},"
        "\"InputTemplate\":\"\\\"bucket <b> changed\\\"\"}}",
        "\"bucket b changed\"");
    /* Unknown placeholders and stray '<' are left alone. */
    expect_text("{\"Arn\":\"a\",\"InputTransformer\":{\"InputTemplate\":\"a < b <unknown>\"}}",
                "a < b <unknown>");
}

static void test_predefined(void **state) {
    (void)state;
    expect_json(
        "{\"Arn\":\"a\",\"InputTransformer\":{\"InputTemplate\":"
        "\"{\\\"rule\\\": \\\"<aws.events.rule-name>\\\", \\\"arn\\\": <aws.events.rule-arn>}\"}}",
        "{\"rule\":\"r\",\"arn\":\"arn:aws:events:us-east-1:000000000000:rule/r\"}");
    char *out = run("{\"Arn\":\"a\",\"InputTransformer\":{\"InputTemplate\":\"{\\\"e\\\": "
                    "<aws.events.event>}\"}}");
    json_t *got = json_loads(out, 0, NULL);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(json_object_get(got, "e"), "id")), "e1");
    json_decref(got);
    free(out);
}

static void test_validation(void **state) {
    (void)state;
    static const struct {
        const char *target;
        bool ok;
    } cases[] = {
        {"{\"Arn\":\"a\"}", true},
        {"{\"Arn\":\"a\",\"Input\":\"{}\"}", true},
        {"{\"Arn\":\"a\",\"Input\":\"{not json\"}", false},
        {"{\"Arn\":\"a\",\"Input\":\"{}\",\"InputPath\":\"$\"}", false},
        {"{\"Arn\":\"a\",\"InputPath\":\"$.a[\"}", false},
        {"{\"Arn\":\"a\",\"InputTransformer\":{}}", false},
        {"{\"Arn\":\"a\",\"InputTransformer\":{\"InputTemplate\":\"x\",\"InputPathsMap\":{\"k\":"
         "\"nopath\"}}}",
         false},
        {"{\"Arn\":\"a\",\"InputTransformer\":{\"InputTemplate\":\"x\",\"InputPathsMap\":{\"aws."
         "x\":\"$.a\"}}}",
         false},
        {"{\"Arn\":\"a\",\"InputTransformer\":{\"InputTemplate\":\"x\",\"InputPathsMap\":{\"k\":\"$"
         ".a\"}}}",
         true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *t = json_loads(cases[i].target, 0, NULL);
        assert_non_null(t);
        char err[256] = "";
        bool ok = ev_transform_valid(t, err, sizeof err);
        if (ok != cases[i].ok) fail_msg("case %zu %s: got %d (%s)", i, cases[i].target, ok, err);
        if (!ok) assert_true(strlen(err) > 0);
        json_decref(t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_event_input_and_path),
        cmocka_unit_test(test_template_placement),
        cmocka_unit_test(test_predefined),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
