/* Unit tests for iam: the Query protocol's form decoding, the model's name and path
 * constraints, and the policy grammar IAM checks before storing a document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iam/iam_internal.h"

static void test_form_decoding(void **state) {
    (void)state;
    static const struct {
        const char *body;
        int rc;
        const char *name, *value; /* one parameter to look up, NULL value: absent */
    } cases[] = {
        {"Action=CreateRole&Version=2010-05-08", 0, "Action", "CreateRole"},
        {"Action=CreateRole&Version=2010-05-08", 0, "Version", "2010-05-08"},
        {"RoleName=a+b", 0, "RoleName", "a b"},
        {"Doc=%7B%22a%22%3A1%7D", 0, "Doc", "{\"a\":1}"},
        {"Doc=%7b%22a%22%3a1%7d", 0, "Doc", "{\"a\":1}"}, /* lower-case hex */
        {"P=%2B", 0, "P", "+"},
        {"Empty=", 0, "Empty", ""},
        {"Flag", 0, "Flag", ""},
        {"&&A=1&&", 0, "A", "1"},
        {"A=1&A=2", 0, "A", "1"}, /* the first value wins */
        {"Tags.member.1.Key=k", 0, "Tags.member.1.Key", "k"},
        {"A%3DB=c", 0, "A=B", "c"},
        {"", 0, "A", NULL},
        {"A=1", 0, "a", NULL}, /* names are case-sensitive */
        {"A=%", -1, NULL, NULL},
        {"A=%4", -1, NULL, NULL},
        {"A=%zz", -1, NULL, NULL},
        {"A=x%00y", -1, NULL, NULL},
        {"%00=1", -1, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_form f;
        char err[256] = "";
        int rc = sl_form_parse(&f, cases[i].body, strlen(cases[i].body), err, sizeof err);
        if (rc != cases[i].rc) fail_msg("case %zu (%s): rc %d", i, cases[i].body, rc);
        if (rc != 0) {
            assert_non_null(strstr(err, "URL-encoded"));
            assert_int_equal(f.n, 0);
            continue;
        }
        const char *v = sl_form_get(&f, cases[i].name);
        if (cases[i].value) {
            if (!v || strcmp(v, cases[i].value))
                fail_msg("case %zu (%s): got %s", i, cases[i].body, v ? v : "(absent)");
        } else if (v) {
            fail_msg("case %zu (%s): expected absent, got %s", i, cases[i].body, v);
        }
        sl_form_free(&f);
    }
}

static void test_form_members_and_limits(void **state) {
    (void)state;
    const char *body = "Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=b&"
                       "Tags.member.2.Value=";
    sl_form f;
    char err[256];
    assert_int_equal(sl_form_parse(&f, body, strlen(body), err, sizeof err), 0);
    assert_string_equal(sl_form_getf(&f, "Tags.member.%d.Key", 2), "b");
    assert_string_equal(sl_form_getf(&f, "Tags.member.%d.Value", 2), "");
    assert_null(sl_form_getf(&f, "Tags.member.%d.Key", 3));
    sl_form_free(&f);

    /* A body is not a C string: parsing stops at its length. */
    assert_int_equal(sl_form_parse(&f, "A=1&B=2", 3, err, sizeof err), 0);
    assert_string_equal(sl_form_get(&f, "A"), "1");
    assert_null(sl_form_get(&f, "B"));
    sl_form_free(&f);

    /* More parameters than any call needs is refused, not scanned quadratically. */
    char *big = malloc(20000);
    size_t n = 0;
    for (int i = 0; i < 1001; i++) n += (size_t)sprintf(big + n, "P%d=1&", i);
    assert_int_equal(sl_form_parse(&f, big, n, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than"));
    free(big);
}

static void test_names_and_paths(void **state) {
    (void)state;
    assert_true(iam_name_valid("AWSCookbook607RuleRole", 64));
    assert_true(iam_name_valid("a_b+c=d,e.f@g-h", 64));
    assert_false(iam_name_valid("", 64));
    assert_false(iam_name_valid("has space", 64));
    assert_false(iam_name_valid("slash/", 64));
    assert_false(iam_name_valid("caf\xc3\xa9", 64));
    char long_name[130];
    memset(long_name, 'x', 129);
    long_name[129] = 0;
    assert_false(iam_name_valid(long_name, 128));
    long_name[128] = 0;
    assert_true(iam_name_valid(long_name, 128));
    long_name[65] = 0;
    assert_false(iam_name_valid(long_name, 64));

    assert_true(iam_path_valid("/"));
    assert_true(iam_path_valid("/service-role/"));
    assert_true(iam_path_valid("/a/b/"));
    assert_false(iam_path_valid(""));
    assert_false(iam_path_valid("service-role/"));
    assert_false(iam_path_valid("/service-role"));
    assert_false(iam_path_valid("/a b/"));
    assert_true(iam_path_prefix_valid("/"));
    assert_true(iam_path_prefix_valid("/serv"));
    assert_false(iam_path_prefix_valid("serv"));

    assert_true(iam_document_chars_valid("{\"a\":\t\"\xc3\xa9\"}\r\n"));
    assert_false(iam_document_chars_valid(""));
    assert_false(iam_document_chars_valid("\x01"));
    assert_false(iam_document_chars_valid("\xe2\x82\xac")); /* U+20AC is past U+00FF */
    assert_false(iam_document_chars_valid("\xc3"));         /* cut short */

    assert_int_equal(iam_utf8_length("abc"), 3);
    assert_int_equal(iam_utf8_length("caf\xc3\xa9"), 4);
    assert_int_equal(iam_utf8_length(""), 0);
}

static void test_policy_grammar(void **state) {
    (void)state;
    static const struct {
        const char *doc;
        bool trust;
        const char *error; /* NULL: accepted */
    } cases[] = {
        {"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
         "{\"Service\":\"events.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}",
         true, NULL},
        {"{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":"
         "[\"ecs:RunTask\"],\"Resource\":[\"arn:aws:ecs:*:*:task-definition/*\"]}}",
         false, NULL},
        {"{\"Statement\":[{\"Effect\":\"Deny\",\"NotAction\":\"s3:*\",\"NotResource\":\"*\"}]}",
         false, NULL},
        {"{\"Version\":\"2008-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
         "\"Resource\":\"*\"}]}",
         false, NULL},
        {"{bad", true, "This policy contains invalid Json"},
        {"", true, "This policy contains invalid Json"},
        {"[]", true, "Syntax errors in policy."},
        {"{\"Version\":\"2012-10-17\"}", true, "Syntax errors in policy."},
        {"{\"Statement\":[]}", true, "Syntax errors in policy."},
        {"{\"Statement\":[1]}", true, "Syntax errors in policy."},
        {"{\"Version\":\"2020-01-01\",\"Statement\":[]}", true, "The policy failed legacy parsing"},
        {"{\"Statement\":{\"Principal\":\"*\",\"Action\":\"sts:AssumeRole\"}}", true,
         "Missing required field Effect"},
        {"{\"Statement\":{\"Effect\":\"Maybe\",\"Principal\":\"*\",\"Action\":\"a\"}}", true,
         "Invalid effect: Maybe"},
        {"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\"}}", true,
         "Policy statement must contain actions."},
        {"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[]}}", true,
         "Syntax errors in policy."},
        {"{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\"}}", true,
         "Missing required field Principal"},
        {"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"a\","
         "\"Resource\":\"*\"}}",
         true, "Has prohibited field Resource"},
        {"{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}}", false,
         "Policy statement must contain resources."},
        {"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\","
         "\"Resource\":\"*\"}}",
         false, "Policy document should not specify a principal."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        int rc = iam_policy_check(cases[i].doc, cases[i].trust, err, sizeof err);
        if (!cases[i].error && rc != 0) fail_msg("case %zu refused: %s", i, err);
        if (cases[i].error && (rc == 0 || strcmp(err, cases[i].error)))
            fail_msg("case %zu: expected '%s', got rc %d '%s'", i, cases[i].error, rc, err);
    }
}

static void test_role_ids(void **state) {
    (void)state;
    char a[22], b[22];
    iam_role_id_new(a);
    iam_role_id_new(b);
    assert_int_equal(strlen(a), 21);
    assert_memory_equal(a, "AROA", 4);
    for (int i = 4; i < 21; i++)
        assert_true((a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= '0' && a[i] <= '9'));
    assert_string_not_equal(a, b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_decoding),   cmocka_unit_test(test_form_members_and_limits),
        cmocka_unit_test(test_names_and_paths), cmocka_unit_test(test_policy_grammar),
        cmocka_unit_test(test_role_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
