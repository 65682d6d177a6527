/* Unit tests for trail/selectors: PutEventSelectors validation of basic and advanced selectors
 * (each rule CloudTrail states, table-driven), and which S3 data events a compiled selector
 * list logs: ARN prefixes and suffixes, eventName, readOnly, Not* operators, AND across fields
 * and OR across selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "trail/selectors.h"

static sl_trail_selectors *compile_adv(const char *text, char *err, size_t n) {
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fail_msg("bad test JSON %s: %s", text, je.text);
    sl_trail_selectors *s = sl_trail_selectors_compile(NULL, j, err, n);
    json_decref(j);
    return s;
}

static sl_trail_selectors *compile_basic(const char *text, char *err, size_t n) {
    json_t *j = json_loads(text, 0, NULL);
    if (!j) fail_msg("bad test JSON %s", text);
    sl_trail_selectors *s = sl_trail_selectors_compile(j, NULL, err, n);
    json_decref(j);
    return s;
}

static sl_trail_event s3_event(const char *name, const char *arn, bool read_only) {
    sl_trail_event e = {.event_category = "Data",
                        .event_source = "s3.amazonaws.com",
                        .event_name = name,
                        .event_type = "AwsApiCall",
                        .resource_type = "AWS::S3::Object",
                        .resource_arn = arn,
                        .user_arn = "arn:aws:iam::000000000000:root",
                        .read_only = read_only};
    return e;
}

#define DATA_S3                                                                                    \
    "{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},"                                         \
    "{\"Field\":\"resources.type\",\"Equals\":[\"AWS::S3::Object\"]}"

static void test_advanced_valid(void **state) {
    (void)state;
    static const char *const good[] = {
        "[]",
        "[{\"FieldSelectors\":[" DATA_S3 "]}]",
        "[{\"Name\":\"in\",\"FieldSelectors\":[" DATA_S3
        ",{\"Field\":\"resources.ARN\",\"StartsWith\":[\"arn:aws:s3:::b/in/\"],"
        "\"NotEndsWith\":[\".tmp\"]}]}]",
        "[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"readOnly\",\"Equals\":[\"false\"]},"
        "{\"Field\":\"eventName\",\"NotEquals\":[\"DeleteObject\",\"DeleteObjects\"]}]}]",
        "[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Management\"]},"
        "{\"Field\":\"readOnly\",\"Equals\":[\"true\"]},"
        "{\"Field\":\"eventSource\",\"NotEquals\":[\"kms.amazonaws.com\"]}]}]",
        "[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},"
        "{\"Field\":\"resources.type\",\"Equals\":[\"AWS::Lambda::Function\"]}]}]",
        "[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"NetworkActivity\"]},"
        "{\"Field\":\"eventSource\",\"Equals\":[\"s3.amazonaws.com\"]}]}]",
        "[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"resources.ARN\",\"EndsWith\":[\".jpg\"]}"
        ",{\"Field\":\"userIdentity.arn\",\"StartsWith\":[\"arn:aws:iam::\"]}]}]",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char err[256] = "";
        sl_trail_selectors *s = compile_adv(good[i], err, sizeof err);
        if (!s) fail_msg("rejected %s: %s", good[i], err);
        sl_trail_selectors_free(s);
    }
}

#define EVENT_NAME_A "{\"Field\":\"eventName\",\"Equals\":[\"A\"]}"
#define EVENT_NAME_B "{\"Field\":\"eventName\",\"Equals\":[\"B\"]}"

static void test_advanced_invalid(void **state) {
    (void)state;
    static const struct {
        const char *json, *why; /* a word the message must contain */
    } bad[] = {
        {"{}", "list"},
        {"[{}]", "field selector"},
        {"[{\"FieldSelectors\":[]}]", "field selector"},
        {"[{\"FieldSelectors\":[{\"Field\":\"resources.type\",\"Equals\":[\"AWS::S3::Object\"]}]}]",
         "eventCategory"},
        {"[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]}]}]",
         "resources.type"},
        {"[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Insight\"]}]}]",
         "eventCategory"},
        {"[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"StartsWith\":[\"Da\"]}," DATA_S3
         "]}]",
         "Equals"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"color\",\"Equals\":[\"red\"]}]}]",
         "color"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"eventName\",\"Like\":[\"Put\"]}]}]",
         "operator"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"eventName\",\"Equals\":[]}]}]",
         "non-empty"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"eventName\",\"Equals\":[\"\"]}]}]",
         "1 to 2048"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"readOnly\",\"Equals\":[\"yes\"]}]}]",
         "readOnly"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"readOnly\",\"NotEquals\":[\"true\"]}]}]",
         "Equals"},
        {"[{\"FieldSelectors\":[" DATA_S3
         ",{\"Field\":\"resources.ARN\",\"StartsWith\":[\"b/in/\"]}]}]",
         "ARN"},
        {"[{\"FieldSelectors\":[" DATA_S3 "," EVENT_NAME_A "," EVENT_NAME_B "]}]",
         "more than once"},
        {"[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},"
         "{\"Field\":\"resources.type\",\"Equals\":[\"AWS::S3::Object\",\"AWS::Lambda::Function\"]}"
         "]}]",
         "resources.type"},
        {"[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},"
         "{\"Field\":\"resources.type\",\"Equals\":[\"S3Object\"]}]}]",
         "resource type"},
        {"[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Management\"]},"
         "{\"Field\":\"eventName\",\"Equals\":[\"PutObject\"]}]}]",
         "management"},
        {"[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"NetworkActivity\"]}]}]",
         "eventSource"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"eventName\"}]}]", "operator"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"event name\",\"Equals\":[\"x\"]}]}]",
         "Field"},
        {"[{\"Name\":7,\"FieldSelectors\":[" DATA_S3 "]}]", "Name"},
        {"[{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"eventName\",\"Equals\":[3]}]}]",
         "strings"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        sl_trail_selectors *s = compile_adv(bad[i].json, err, sizeof err);
        if (s) fail_msg("accepted %s", bad[i].json);
        if (!strstr(err, bad[i].why))
            fail_msg("%s: message \"%s\" does not mention %s", bad[i].json, err, bad[i].why);
    }
}

static void test_advanced_value_limit(void **state) {
    (void)state;
    /* 500 values in all conditions of all selectors, as CloudTrail counts them. */
    json_t *names = json_array();
    for (int i = 0; i < 499; i++) json_array_append_new(names, json_sprintf("Op%d", i));
    json_t *adv = json_pack("[{s:[{s:s,s:[s]},{s:s,s:[s]},{s:s,s:o}]}]", "FieldSelectors", "Field",
                            "eventCategory", "Equals", "Data", "Field", "resources.type", "Equals",
                            "AWS::S3::Object", "Field", "eventName", "Equals", names);
    char err[256] = "";
    sl_trail_selectors *s = sl_trail_selectors_compile(NULL, adv, err, sizeof err);
    assert_null(s); /* 2 + 499 = 501 */
    assert_non_null(strstr(err, "500"));
    json_array_remove(names, 0);
    s = sl_trail_selectors_compile(NULL, adv, err, sizeof err);
    assert_non_null(s);
    sl_trail_selectors_free(s);
    json_decref(adv);
}

static void expect(const sl_trail_selectors *s, const char *name, const char *arn, bool ro,
                   bool want) {
    sl_trail_event e = s3_event(name, arn, ro);
    if (sl_trail_selectors_match(s, &e) != want)
        fail_msg("%s %s (readOnly %d): expected %s", name, arn, ro, want ? "logged" : "not logged");
}

static void test_advanced_match(void **state) {
    (void)state;
    char err[256];
    /* Writes under in/ except .tmp files, and every DeleteObject anywhere in the bucket. */
    sl_trail_selectors *s = compile_adv(
        "[{\"Name\":\"writes under in/\",\"FieldSelectors\":[" DATA_S3
        ",{\"Field\":\"readOnly\",\"Equals\":[\"false\"]},"
        "{\"Field\":\"resources.ARN\",\"StartsWith\":[\"arn:aws:s3:::b/in/\",\"arn:aws:s3:::b/"
        "up/\"],\"NotEndsWith\":[\".tmp\",\".part\"]}]},"
        "{\"FieldSelectors\":[" DATA_S3 ",{\"Field\":\"eventName\",\"Equals\":[\"DeleteObject\"]},"
        "{\"Field\":\"resources.ARN\",\"StartsWith\":[\"arn:aws:s3:::b/\"]}]}]",
        err, sizeof err);
    assert_non_null(s);
    expect(s, "PutObject", "arn:aws:s3:::b/in/a.jpg", false, true);
    expect(s, "PutObject", "arn:aws:s3:::b/up/a.jpg", false, true);
    expect(s, "PutObject", "arn:aws:s3:::b/in/a.tmp", false, false);
    expect(s, "PutObject", "arn:aws:s3:::b/in/a.part", false, false);
    expect(s, "PutObject", "arn:aws:s3:::b/out/a.jpg", false, false);
    expect(s, "GetObject", "arn:aws:s3:::b/in/a.jpg", true, false);
    expect(s, "DeleteObject", "arn:aws:s3:::b/out/a.jpg", false, true);
    expect(s, "DeleteObject", "arn:aws:s3:::b2/out/a.jpg", false, false);
    expect(s, "PutObject", "arn:aws:s3:::bb/in/a.jpg", false, false);
    sl_trail_selectors_free(s);

    /* Not* operators: none of the values may match. */
    s = compile_adv("[{\"FieldSelectors\":[" DATA_S3
                    ",{\"Field\":\"eventName\",\"NotEquals\":[\"PutObject\",\"CopyObject\"]},"
                    "{\"Field\":\"resources.ARN\",\"NotStartsWith\":[\"arn:aws:s3:::b/tmp/\"]}]}]",
                    err, sizeof err);
    assert_non_null(s);
    expect(s, "PutObject", "arn:aws:s3:::b/a", false, false);
    expect(s, "CopyObject", "arn:aws:s3:::b/a", false, false);
    expect(s, "DeleteObject", "arn:aws:s3:::b/a", false, true);
    expect(s, "DeleteObject", "arn:aws:s3:::b/tmp/a", false, false);
    sl_trail_selectors_free(s);

    /* readOnly true selects reads only; eventName StartsWith. */
    s = compile_adv("[{\"FieldSelectors\":[" DATA_S3
                    ",{\"Field\":\"readOnly\",\"Equals\":[\"true\"]}]},"
                    "{\"FieldSelectors\":[" DATA_S3
                    ",{\"Field\":\"eventName\",\"StartsWith\":[\"Complete\"]}]}]",
                    err, sizeof err);
    assert_non_null(s);
    expect(s, "PutObject", "arn:aws:s3:::b/a", false, false);
    expect(s, "GetObject", "arn:aws:s3:::b/a", true, true);
    expect(s, "CompleteMultipartUpload", "arn:aws:s3:::b/a", false, true);
    sl_trail_selectors_free(s);

    /* Management selectors and other resource types never log S3 data events. */
    s = compile_adv(
        "[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Management\"]}]},"
        "{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},"
        "{\"Field\":\"resources.type\",\"Equals\":[\"AWS::Lambda::Function\"]}]}]",
        err, sizeof err);
    assert_non_null(s);
    expect(s, "PutObject", "arn:aws:s3:::b/a", false, false);
    sl_trail_selectors_free(s);

    /* errorCode is absent on a call that succeeded: Equals fails, NotEquals holds. */
    s = compile_adv("[{\"FieldSelectors\":[" DATA_S3
                    ",{\"Field\":\"errorCode\",\"NotEquals\":[\"AccessDenied\"]}]}]",
                    err, sizeof err);
    assert_non_null(s);
    expect(s, "PutObject", "arn:aws:s3:::b/a", false, true);
    sl_trail_selectors_free(s);
    s = compile_adv("[{\"FieldSelectors\":[" DATA_S3
                    ",{\"Field\":\"errorCode\",\"Equals\":[\"AccessDenied\"]}]}]",
                    err, sizeof err);
    assert_non_null(s);
    expect(s, "PutObject", "arn:aws:s3:::b/a", false, false);
    sl_trail_selectors_free(s);
}

static void test_basic(void **state) {
    (void)state;
    char err[256] = "";
    sl_trail_selectors *s = compile_basic(
        "[{\"ReadWriteType\":\"WriteOnly\",\"DataResources\":[{\"Type\":\"AWS::S3::Object\","
        "\"Values\":[\"arn:aws:s3:::b/in/\"]},{\"Type\":\"AWS::Lambda::Function\",\"Values\":"
        "[\"arn:aws:lambda\"]}]},{\"ReadWriteType\":\"ReadOnly\",\"DataResources\":[{\"Type\":"
        "\"AWS::S3::Object\",\"Values\":[\"arn:aws:s3\"]}]}]",
        err, sizeof err);
    assert_non_null(s);
    expect(s, "PutObject", "arn:aws:s3:::b/in/x", false, true);
    expect(s, "PutObject", "arn:aws:s3:::b/out/x", false, false);
    expect(s, "GetObject", "arn:aws:s3:::other/x", true, true); /* "arn:aws:s3": all buckets */
    sl_trail_selectors_free(s);

    static const char *const bad[] = {
        "{}",
        "[{},{},{},{},{},{}]",
        "[{\"ReadWriteType\":\"read-only\"}]",
        "[{\"DataResources\":[{\"Values\":[\"arn:aws:s3:::b/\"]}]}]",
        "[{\"DataResources\":[{\"Type\":\"AWS::S3::Object\",\"Values\":[\"b/in/\"]}]}]",
        "[{\"DataResources\":{}}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = compile_basic(bad[i], err, sizeof err);
        if (s) fail_msg("accepted %s", bad[i]);
    }
    /* 250 data resources at most across the trail. */
    json_t *values = json_array();
    for (int i = 0; i < 251; i++)
        json_array_append_new(values, json_sprintf("arn:aws:s3:::b%d/", i));
    json_t *sel = json_pack("[{s:[{s:s,s:o}]}]", "DataResources", "Type", "AWS::S3::Object",
                            "Values", values);
    assert_null(sl_trail_selectors_compile(sel, NULL, err, sizeof err));
    assert_non_null(strstr(err, "250"));
    json_decref(sel);
}

static void test_none_logs_nothing(void **state) {
    (void)state;
    char err[64];
    sl_trail_selectors *s = sl_trail_selectors_compile(NULL, NULL, err, sizeof err);
    assert_non_null(s);
    expect(s, "PutObject", "arn:aws:s3:::b/a", false, false);
    sl_trail_selectors_free(s);
    sl_trail_event e = s3_event("PutObject", "arn:aws:s3:::b/a", false);
    assert_false(sl_trail_selectors_match(NULL, &e));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advanced_valid),
        cmocka_unit_test(test_advanced_invalid),
        cmocka_unit_test(test_advanced_value_limit),
        cmocka_unit_test(test_advanced_match),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_none_logs_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
