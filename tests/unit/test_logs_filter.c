/* Unit tests for CloudWatch Logs filter patterns: a table of (pattern, message, expected) for
 * text and JSON patterns, and a table of patterns that must be rejected with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "logs/filter.h"

typedef struct {
    const char *pattern;
    const char *message;
    bool match;
} match_case;

static const match_case cases[] = {
    /* empty and blank patterns match everything */
    {"", "anything", true},
    {"   ", "anything", true},
    /* plain terms: case-sensitive substrings, all required */
    {"ERROR", "2024 ERROR disk full", true},
    {"ERROR", "[ERROR] x", true},
    {"ERROR", "error: lower case", false},
    {"ERROR disk", "ERROR disk full", true},
    {"ERROR disk", "ERROR memory", false},
    {"ERROR   disk", "disk ERROR", true},
    /* quoted phrases */
    {"\"disk full\"", "ERROR disk full now", true},
    {"\"disk full\"", "disk is full", false},
    {"\"say \\\"hi\\\"\"", "they say \"hi\" loudly", true},
    {"\"\"", "x", true},
    {"\"a:b/c\"", "url a:b/c", true},
    /* ?term: at least one */
    {"?ERROR ?WARN", "WARN low disk", true},
    {"?ERROR ?WARN", "ERROR", true},
    {"?ERROR ?WARN", "INFO ok", false},
    {"?\"disk full\" ?oom", "oom killer", true},
    /* -term: must not occur */
    {"ERROR -Exiting", "ERROR retrying", true},
    {"ERROR -Exiting", "ERROR Exiting now", false},
    {"-DEBUG", "INFO hello", true},
    {"-DEBUG", "DEBUG hello", false},
    {"-\"health check\"", "GET /health-check", true},
    {"-\"health check\"", "a health check passed", false},
    /* mixed: all plain terms, no excluded term, and one of the ?terms */
    {"GET ?500 ?503 -health", "GET /x 503", true},
    {"GET ?500 ?503 -health", "GET /x 200", false},
    {"GET ?500 ?503 -health", "GET /health 500", false},
    /* JSON: equality on strings, with wildcards */
    {"{ $.level = \"error\" }", "{\"level\":\"error\"}", true},
    {"{ $.level = \"error\" }", "{\"level\":\"info\"}", false},
    {"{$.level=\"error\"}", "{\"level\":\"error\"}", true},
    {"{ $.level = error }", "{\"level\":\"error\"}", true},
    {"{ $.path = \"/api/*\" }", "{\"path\":\"/api/users\"}", true},
    {"{ $.path = \"*users\" }", "{\"path\":\"/api/users\"}", true},
    {"{ $.path = \"/api/*\" }", "{\"path\":\"/web/users\"}", false},
    {"{ $.ip != 10.0.* }", "{\"ip\":\"192.168.1.1\"}", true},
    {"{ $.ip != 10.0.* }", "{\"ip\":\"10.0.3.4\"}", false},
    {"{ $.missing != \"x\" }", "{\"a\":1}", false},
    /* JSON: nested fields and arrays */
    {"{ $.user.name = \"ann\" }", "{\"user\":{\"name\":\"ann\"}}", true},
    {"{ $.items[1].id = 7 }", "{\"items\":[{\"id\":1},{\"id\":7}]}", true},
    {"{ $.items[5].id = 7 }", "{\"items\":[{\"id\":1}]}", false},
    {"{ $.tags[0] = \"a\" }", "{\"tags\":[\"a\",\"b\"]}", true},
    /* JSON: numbers */
    {"{ $.latency > 100 }", "{\"latency\":150}", true},
    {"{ $.latency > 100 }", "{\"latency\":100}", false},
    {"{ $.latency >= 100 }", "{\"latency\":100}", true},
    {"{ $.latency < 1.5 }", "{\"latency\":1.25}", true},
    {"{ $.latency <= -2 }", "{\"latency\":-3}", true},
    {"{ $.status = 200 }", "{\"status\":200}", true},
    {"{ $.status = 200 }", "{\"status\":200.0}", true},
    {"{ $.status = 200 }", "{\"status\":\"200\"}", false},
    {"{ $.status != 200 }", "{\"status\":500}", true},
    {"{ $.latency > 100 }", "{\"latency\":\"150\"}", false},
    /* JSON: IS and NOT EXISTS */
    {"{ $.ok IS TRUE }", "{\"ok\":true}", true},
    {"{ $.ok IS TRUE }", "{\"ok\":false}", false},
    {"{ $.ok IS FALSE }", "{\"ok\":false}", true},
    {"{ $.v IS NULL }", "{\"v\":null}", true},
    {"{ $.v IS NULL }", "{}", false},
    {"{ $.v NOT EXISTS }", "{}", true},
    {"{ $.v NOT EXISTS }", "{\"v\":null}", false},
    {"{ $.ok = true }", "{\"ok\":true}", true},
    /* JSON: && and || with parentheses; && binds tighter */
    {"{ ($.a = 1) && ($.b = \"x\") }", "{\"a\":1,\"b\":\"x\"}", true},
    {"{ ($.a = 1) && ($.b = \"x\") }", "{\"a\":1,\"b\":\"y\"}", false},
    {"{ $.a = 1 || $.b = 2 }", "{\"a\":0,\"b\":2}", true},
    {"{ $.a = 1 || $.b = 2 && $.c = 3 }", "{\"a\":1}", true},
    {"{ $.a = 1 || $.b = 2 && $.c = 3 }", "{\"b\":2,\"c\":4}", false},
    {"{ ($.a = 1 || $.b = 2) && $.c = 3 }", "{\"a\":1,\"c\":4}", false},
    {"{ (($.a = 1)) }", "{\"a\":1}", true},
    /* JSON patterns never match messages that are not JSON objects */
    {"{ $.a = 1 }", "a = 1", false},
    {"{ $.a = 1 }", "[1]", false},
    {"{ $.a NOT EXISTS }", "plain text", false},
};

static void test_match_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const match_case *c = &cases[i];
        char err[512] = "";
        sl_log_filter *f = sl_log_filter_compile(c->pattern, err, sizeof err);
        if (!f) fail_msg("pattern %zu '%s' did not compile: %s", i, c->pattern, err);
        bool got = sl_log_filter_match(f, c->message, strlen(c->message));
        if (got != c->match)
            fail_msg("pattern '%s' on '%s': expected %s", c->pattern, c->message,
                     c->match ? "a match" : "no match");
        sl_log_filter_free(f);
    }
}

typedef struct {
    const char *pattern;
    const char *in_message; /* a substring the error must contain */
} reject_case;

static const reject_case rejects[] = {
    {"\"unterminated", "unterminated"},
    {"?", "followed by a term"},
    {"ERROR -", "followed by a term"},
    {"[ip, user]", "space-delimited"},
    {"%ERROR [0-9]+%", "regular expression"},
    {"ab\"cd", "quote"},
    {"ERROR { $.a = 1 }", "whole pattern"},
    {"{ $.a = 1", "'}'"},
    {"{ }", "selector"},
    {"{ a = 1 }", "selector"},
    {"{ $ = 1 }", "field"},
    {"{ $. = 1 }", "field name"},
    {"{ $.a }", "after the selector"},
    {"{ $.a > \"x\" }", "needs a number"},
    {"{ $.a IS MAYBE }", "TRUE, FALSE or NULL"},
    {"{ $.a NOT THERE }", "after the selector"},
    {"{ $.a = 1 } trailing", "after '}'"},
    {"{ ($.a = 1 }", "')'"},
    {"{ $.a[x] = 1 }", "array index"},
    {"{ $.* = 1 }", "wildcard"},
    {"{ $.a = 1 && }", "selector"},
    {"{ $.a = }", "value"},
    {"{ (((((((((((((((((((((((((((((((((($.a = 1)))))))))))))))))))))))))))))))))) }", "nested"},
};

static void test_reject_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        char err[512] = "";
        sl_log_filter *f = sl_log_filter_compile(rejects[i].pattern, err, sizeof err);
        if (f) fail_msg("pattern '%s' compiled; expected a rejection", rejects[i].pattern);
        if (!strstr(err, rejects[i].in_message))
            fail_msg("pattern '%s': error '%s' lacks '%s'", rejects[i].pattern, err,
                     rejects[i].in_message);
        if (!strstr(err, "Invalid filter pattern"))
            fail_msg("error '%s' does not name the pattern", err);
    }
}

static void test_null_and_all(void **state) {
    (void)state;
    char err[64];
    sl_log_filter *f = sl_log_filter_compile(NULL, err, sizeof err);
    assert_non_null(f);
    assert_true(sl_log_filter_is_all(f));
    assert_true(sl_log_filter_match(f, "", 0));
    sl_log_filter_free(f);
    f = sl_log_filter_compile("x", err, sizeof err);
    assert_false(sl_log_filter_is_all(f));
    /* messages are matched by length, not up to a NUL */
    assert_true(sl_log_filter_match(f, "a\0x", 3));
    sl_log_filter_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_reject_table),
        cmocka_unit_test(test_null_and_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
