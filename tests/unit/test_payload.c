/* Unit tests for states/payload: the Parameters, ResultSelector and ItemSelector examples from
 * AWS's input and output processing docs, `.$` fields in nested objects and inside arrays, the
 * context object, intrinsic calls, definition-time rejections naming the field and where it is,
 * and run-time failures with the error name and cause Step Functions reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "states/payload.h"

static json_t *J(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) fail_msg("bad test JSON %s: %s", text, e.text);
    return v;
}

static const char *CONTEXT =
    "{\"Execution\": {\"Id\": \"arn:aws:states:us-east-1:123456789012:execution:sm:e1\","
    " \"Input\": {\"orig\": true}},"
    " \"State\": {\"Name\": \"Process\", \"EnteredTime\": \"2019-03-26T20:14:13.192Z\"},"
    " \"Task\": {\"Token\": \"token-123\"},"
    " \"Map\": {\"Item\": {\"Index\": 1, \"Value\": {\"prod\": \"R40\", \"dest-code\": 9511, "
    "\"quantity\": 1344}}}}";

typedef struct {
    const char *name;
    const char *tmpl;
    const char *input;
    const char *want;
} ok_case;

static const ok_case ok_cases[] = {
    {"AWS Parameters example",
     "{\"comment\": \"Selecting what I care about.\", \"MyDetails\": {\"size.$\": "
     "\"$.product.details.size\", \"exists.$\": \"$.product.availability\", \"StaticValue\": "
     "\"foo\"}}",
     "{\"comment\": \"Example for Parameters.\", \"product\": {\"details\": {\"color\": \"blue\", "
     "\"size\": \"small\", \"material\": \"cotton\"}, \"availability\": \"in stock\", \"sku\": "
     "\"2317\", \"cost\": \"$23\"}}",
     "{\"comment\": \"Selecting what I care about.\", \"MyDetails\": {\"size\": \"small\", "
     "\"exists\": \"in stock\", \"StaticValue\": \"foo\"}}"},
    {"AWS context object example",
     "{\"comment\": \"Selecting what I care about.\", \"MyDetails\": {\"size.$\": "
     "\"$.product.details.size\", \"exists.$\": \"$.product.availability\", \"StaticValue\": "
     "\"foo\"}, \"MyContextObject.$\": \"$$.State.Name\"}",
     "{\"product\": {\"details\": {\"size\": \"small\"}, \"availability\": \"in stock\"}}",
     "{\"comment\": \"Selecting what I care about.\", \"MyDetails\": {\"size\": \"small\", "
     "\"exists\": \"in stock\", \"StaticValue\": \"foo\"}, \"MyContextObject\": \"Process\"}"},
    {"AWS callback task token",
     "{\"QueueUrl\": \"https://sqs.us-east-1.amazonaws.com/123456789012/q\", \"MessageBody\": "
     "{\"Message.$\": \"$.message\", \"TaskToken.$\": \"$$.Task.Token\"}}",
     "{\"message\": \"hi\"}",
     "{\"QueueUrl\": \"https://sqs.us-east-1.amazonaws.com/123456789012/q\", \"MessageBody\": "
     "{\"Message\": \"hi\", \"TaskToken\": \"token-123\"}}"},
    {"AWS ResultSelector example",
     "{\"ClusterId.$\": \"$.output.ClusterId\", \"ResourceType.$\": \"$.resourceType\"}",
     "{\"resourceType\": \"elasticmapreduce\", \"resource\": \"createCluster.sync\", \"output\": "
     "{\"SdkHttpMetadata\": {\"HttpHeaders\": {\"Content-Length\": \"1112\", \"Content-Type\": "
     "\"application/x-amz-JSON-1.1\", \"Date\": \"Mon, 25 Nov 2019 19:41:29 GMT\", "
     "\"x-amzn-RequestId\": \"1234-5678-9011\"}, \"HttpStatusCode\": 200}, "
     "\"SdkResponseMetadata\": {\"RequestId\": \"1234-5678-9011\"}, \"ClusterId\": "
     "\"AKIAIOSFODNN7EXAMPLE\"}}",
     "{\"ClusterId\": \"AKIAIOSFODNN7EXAMPLE\", \"ResourceType\": \"elasticmapreduce\"}"},
    {"AWS flatten an array of arrays", "{\"flattenArray.$\": \"$[*][*]\"}",
     "[[1, 2, 3], [4, 5, 6]]", "{\"flattenArray\": [1, 2, 3, 4, 5, 6]}"},
    {"AWS Map ItemSelector example",
     "{\"parcel.$\": \"$$.Map.Item.Value\", \"courier.$\": \"$.delivery-partner\"}",
     "{\"delivery-partner\": \"UQS\", \"shipped\": [{\"prod\": \"R31\", \"dest-code\": 9511, "
     "\"quantity\": 1344}, {\"prod\": \"R40\", \"dest-code\": 9511, \"quantity\": 1344}]}",
     "{\"parcel\": {\"prod\": \"R40\", \"dest-code\": 9511, \"quantity\": 1344}, \"courier\": "
     "\"UQS\"}"},
    {"AWS Map ItemSelector with index",
     "{\"ContextIndex.$\": \"$$.Map.Item.Index\", \"ContextValue.$\": \"$$.Map.Item.Value\"}", "{}",
     "{\"ContextIndex\": 1, \"ContextValue\": {\"prod\": \"R40\", \"dest-code\": 9511, "
     "\"quantity\": 1344}}"},
    {"AWS intrinsic example", "{\"KeyId.$\": \"States.Array($.Id)\"}", "{\"Id\": 123456}",
     "{\"KeyId\": [123456]}"},
    {"intrinsics with context and nesting",
     "{\"greeting.$\": \"States.Format('Hello {} from {}', $.name, $$.State.Name)\", "
     "\"parts.$\": \"States.StringSplit($.csv, ',')\", \"n.$\": "
     "\"States.MathAdd(States.ArrayLength($.list), 1)\"}",
     "{\"name\": \"Ann\", \"csv\": \"a,b\", \"list\": [1, 2]}",
     "{\"greeting\": \"Hello Ann from Process\", \"parts\": [\"a\", \"b\"], \"n\": 3}"},
    {"objects inside arrays are templates too",
     "{\"list\": [{\"id.$\": \"$.a\"}, \"static\", 3, [{\"x.$\": \"$.b\", \"y\": [true]}], "
     "{\"plain\": \"$.a\"}]}",
     "{\"a\": 1, \"b\": 2}",
     "{\"list\": [{\"id\": 1}, \"static\", 3, [{\"x\": 2, \"y\": [true]}], {\"plain\": \"$.a\"}]}"},
    {"values without .$ stay literal",
     "{\"literal\": \"$.notevaluated\", \"fn\": \"States.UUID()\"}", "{\"notevaluated\": 1}",
     "{\"literal\": \"$.notevaluated\", \"fn\": \"States.UUID()\"}"},
    {"deeply nested", "{\"a\": {\"b\": {\"c\": {\"d.$\": \"$.v\", \"e\": null}}}}", "{\"v\": [1]}",
     "{\"a\": {\"b\": {\"c\": {\"d\": [1], \"e\": null}}}}"},
    {"whole input and whole context", "{\"in.$\": \"$\", \"exec.$\": \"$$.Execution.Input\"}",
     "{\"k\": \"v\"}", "{\"in\": {\"k\": \"v\"}, \"exec\": {\"orig\": true}}"},
    {"indefinite paths give arrays",
     "{\"ids.$\": \"$.items[*].id\", \"cheap.$\": \"$.items[?(@.price < 10)].id\", "
     "\"count.$\": \"$.items.length()\"}",
     "{\"items\": [{\"id\": 1, \"price\": 5}, {\"id\": 2, \"price\": 50}]}",
     "{\"ids\": [1, 2], \"cheap\": [1], \"count\": 2}"},
    {"null and false values are found", "{\"n.$\": \"$.n\", \"f.$\": \"$.f\"}",
     "{\"n\": null, \"f\": false}", "{\"n\": null, \"f\": false}"},
    {"a bare .$ key", "{\".$\": \"$.x\"}", "{\"x\": 1}", "{\"\": 1}"},
    {"only the last .$ is stripped", "{\"a.$.$\": \"$.x\"}", "{\"x\": 1}", "{\"a.$\": 1}"},
    {"keys with dots", "{\"a.b.$\": \"$['c.d']\"}", "{\"c.d\": 7}", "{\"a.b\": 7}"},
    {"array template", "[{\"a.$\": \"$.x\"}, 1]", "{\"x\": \"y\"}", "[{\"a\": \"y\"}, 1]"},
    {"scalar template", "\"hello\"", "{}", "\"hello\""},
    {"empty object", "{}", "{\"x\": 1}", "{}"},
    {"member order kept", "{\"z\": 1, \"m.$\": \"$.x\", \"a\": 2}", "{\"x\": 0}",
     "{\"z\": 1, \"m\": 0, \"a\": 2}"},
};

static void test_ok_table(void **state) {
    (void)state;
    json_t *ctx = J(CONTEXT);
    for (size_t i = 0; i < sizeof ok_cases / sizeof *ok_cases; i++) {
        const ok_case *c = &ok_cases[i];
        char err[1024];
        json_t *tmpl = J(c->tmpl);
        sl_payload *t = sl_payload_compile(tmpl, err, sizeof err);
        if (!t) fail_msg("%s: %s", c->name, err);
        json_t *in = J(c->input);
        const char *name = NULL;
        json_t *got = sl_payload_eval(t, in, ctx, &name, err, sizeof err);
        if (!got) fail_msg("%s: %s: %s", c->name, name, err);
        json_t *want = J(c->want);
        if (!json_equal(got, want)) {
            char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
            fail_msg("%s: got %s want %s", c->name, s, c->want);
        }
        /* member order is kept (json_equal ignores it) */
        char *gs = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
        char *ws = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
        if (strcmp(gs, ws) != 0) fail_msg("%s: order %s vs %s", c->name, gs, ws);
        free(gs);
        free(ws);
        /* evaluating twice gives the same thing: nothing was consumed or mutated */
        json_t *again = sl_payload_eval(t, in, ctx, NULL, NULL, 0);
        assert_true(json_equal(again, want));
        json_decref(again);
        json_decref(want);
        json_decref(got);
        json_decref(in);
        json_decref(tmpl);
        sl_payload_free(t);
    }
    json_decref(ctx);
}

typedef struct {
    const char *tmpl;
    const char *input;
    const char *error;
    const char *cause; /* exact when it starts with '=' (the rest), else a fragment */
} err_case;

static const err_case err_cases[] = {
    /* AWS's message for a path that matches nothing */
    {"{\"missing.$\": \"$.nope.deep\"}", "{\"other\": 1}", "States.Runtime",
     "=The JSONPath '$.nope.deep' specified for the field 'missing.$' could not be found in the "
     "input '{\"other\":1}'"},
    {"{\"a\": {\"b\": [{\"c.$\": \"$.x[5]\"}]}}", "{\"x\": [1]}", "States.Runtime",
     "=The JSONPath '$.x[5]' specified for the field 'c.$' could not be found in the input "
     "'{\"x\":[1]}'"},
    {"{\"t.$\": \"$$.Task.Nope\"}", "{}", "States.Runtime",
     "specified for the field 't.$' could not be found in the context object"},
    {"{\"x.$\": \"$.a[*].b\"}", "{}", "States.Runtime", "could not be found"},
    {"{\"x.$\": \"$.s.keys()\"}", "{\"s\": \"str\"}", "States.Runtime", "keys() needs an object"},
    /* intrinsic failures keep their error name */
    {"{\"x.$\": \"States.ArrayGetItem($.a, 9)\"}", "{\"a\": [1]}", "States.IntrinsicFailure",
     "out of bounds"},
    {"{\"x.$\": \"States.ArrayGetItem($.a, 9)\"}", "{\"a\": [1]}", "States.IntrinsicFailure",
     "field 'x.$'"},
    {"{\"ok.$\": \"$.a\", \"bad.$\": \"States.Format('{} {}', $.a)\"}", "{\"a\": 1}",
     "States.IntrinsicFailure", "2 placeholders but 1 argument"},
    {"{\"x.$\": \"States.Array($.nope)\"}", "{}", "States.Runtime", "'$.nope' could not be found"},
    {"[{\"x.$\": \"States.JsonMerge($.a, $.a, true)\"}]", "{\"a\": {}}", "States.IntrinsicFailure",
     "deep merging"},
};

static void test_error_table(void **state) {
    (void)state;
    json_t *ctx = J(CONTEXT);
    for (size_t i = 0; i < sizeof err_cases / sizeof *err_cases; i++) {
        const err_case *c = &err_cases[i];
        char err[1024];
        json_t *tmpl = J(c->tmpl);
        sl_payload *t = sl_payload_compile(tmpl, err, sizeof err);
        if (!t) fail_msg("%s: %s", c->tmpl, err);
        json_t *in = J(c->input);
        const char *name = NULL;
        json_t *got = sl_payload_eval(t, in, ctx, &name, err, sizeof err);
        if (got) fail_msg("%s: expected %s", c->tmpl, c->error);
        if (!name || strcmp(name, c->error) != 0)
            fail_msg("%s: error %s want %s (%s)", c->tmpl, name, c->error, err);
        if (c->cause[0] == '=') {
            if (strcmp(err, c->cause + 1) != 0)
                fail_msg("%s: cause\n %s\nwant\n %s", c->tmpl, err, c->cause + 1);
        } else if (!strstr(err, c->cause)) {
            fail_msg("%s: cause '%s' lacks '%s'", c->tmpl, err, c->cause);
        }
        /* NULL error outputs are allowed */
        assert_null(sl_payload_eval(t, in, ctx, NULL, NULL, 0));
        json_decref(in);
        json_decref(tmpl);
        sl_payload_free(t);
    }
    json_decref(ctx);
}

typedef struct {
    const char *tmpl;
    const char *msg;
} bad_case;

static const bad_case bad_cases[] = {
    {"{\"x.$\": 5}",
     "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call, "
     "not a number (at /x.$)"},
    {"{\"x.$\": {\"a\": 1}}", "not an object (at /x.$)"},
    {"{\"x.$\": null}", "not null"},
    {"{\"x.$\": \"plain text\"}",
     "'plain text' is neither a path (starting with '$') nor an intrinsic function"},
    {"{\"x.$\": \"\"}", "is neither a path"},
    {"{\"x.$\": \"$.a[\"}", "Invalid JSONPath '$.a['"},
    {"{\"x.$\": \"$.a b\"}", "(at /x.$): Invalid JSONPath"},
    {"{\"x.$\": \"States.Nope()\"}", "'States.Nope' is not a supported intrinsic function"},
    {"{\"x.$\": \"States.Format('x'\"}", "missing ')'"},
    {"{\"a\": {\"b\": [1, {\"c.$\": \"bad\"}]}}", "field 'c.$'"},
    {"{\"a\": {\"b\": [1, {\"c.$\": \"bad\"}]}}", "(at /a/b/1/c.$)"},
    {"{\"a/b\": {\"c~d\": {\"e.$\": 1}}}", "(at /a~1b/c~0d/e.$)"},
    {"[{\"x.$\": 1}]", "(at /0/x.$)"},
    {"{\"a\": 1, \"a.$\": \"$.x\"}", "The field 'a' is given twice, as 'a' and 'a.$'"},
    {"{\"a.$\": \"$.x\", \"a\": 1}", "given twice"},
};

static void test_compile_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        char err[1024] = "";
        json_t *tmpl = J(bad_cases[i].tmpl);
        sl_payload *t = sl_payload_compile(tmpl, err, sizeof err);
        if (t) fail_msg("%s: compiled", bad_cases[i].tmpl);
        if (!strstr(err, bad_cases[i].msg))
            fail_msg("%s: '%s' lacks '%s'", bad_cases[i].tmpl, err, bad_cases[i].msg);
        json_decref(tmpl);
    }
    assert_null(sl_payload_compile(NULL, NULL, 0));
    json_t *tmpl = J("{\"x.$\": 1}");
    assert_null(sl_payload_compile(tmpl, NULL, 0));
    json_decref(tmpl);
}

static void test_static_templates(void **state) {
    (void)state;
    json_t *tmpl = J("{\"a\": [1, {\"b\": \"$.c\"}], \"d\": {\"e\": null}}");
    sl_payload *t = sl_payload_compile(tmpl, NULL, 0);
    assert_non_null(t);
    assert_true(sl_payload_is_static(t));
    /* the compiled template owns a copy: changing the source afterwards changes nothing */
    json_object_set_new(tmpl, "later", json_true());
    json_t *in = json_object();
    json_t *got = sl_payload_eval(t, in, NULL, NULL, NULL, 0);
    json_t *want = J("{\"a\": [1, {\"b\": \"$.c\"}], \"d\": {\"e\": null}}");
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    sl_payload_free(t);
    json_decref(tmpl);

    tmpl = J("{\"a\": [1, {\"b.$\": \"$.c\"}]}");
    t = sl_payload_compile(tmpl, NULL, 0);
    assert_false(sl_payload_is_static(t));
    sl_payload_free(t);
    json_decref(tmpl);
    json_decref(in);
}

static void test_eval_many_inputs(void **state) {
    (void)state;
    /* compile once (definition time), evaluate per state entry */
    json_t *tmpl = J("{\"id.$\": \"$.id\", \"tag.$\": \"States.Format('item-{}', $.id)\", "
                     "\"index.$\": \"$$.Map.Item.Index\", \"fixed\": {\"k\": [1, 2]}}");
    sl_payload *t = sl_payload_compile(tmpl, NULL, 0);
    json_decref(tmpl);
    for (int i = 0; i < 100; i++) {
        json_t *in = json_pack("{s:i}", "id", i);
        json_t *ctx = json_pack("{s:{s:{s:i}}}", "Map", "Item", "Index", i);
        json_t *got = sl_payload_eval(t, in, ctx, NULL, NULL, 0);
        assert_int_equal(json_integer_value(json_object_get(got, "id")), i);
        assert_int_equal(json_integer_value(json_object_get(got, "index")), i);
        char want[32];
        snprintf(want, sizeof want, "item-%d", i);
        assert_string_equal(json_string_value(json_object_get(got, "tag")), want);
        json_decref(got);
        json_decref(ctx);
        json_decref(in);
    }
    sl_payload_free(t);
}

static void test_long_cause_truncated(void **state) {
    (void)state;
    /* a big input in the cause is cut to the buffer, never overflowing it */
    json_t *in = json_object();
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%03d", i);
        json_object_set_new(in, k, json_string("some longish value to pad the input"));
    }
    json_t *tmpl = J("{\"x.$\": \"$.missing\"}");
    sl_payload *t = sl_payload_compile(tmpl, NULL, 0);
    char cause[128];
    memset(cause, 'Z', sizeof cause);
    const char *name = NULL;
    assert_null(sl_payload_eval(t, in, NULL, &name, cause, sizeof cause));
    assert_string_equal(name, "States.Runtime");
    assert_int_equal(strlen(cause), sizeof cause - 1);
    assert_true(strncmp(cause, "The JSONPath '$.missing' specified for the field 'x.$'", 52) == 0);
    sl_payload_free(t);
    json_decref(tmpl);
    json_decref(in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_table),         cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_compile_errors),   cmocka_unit_test(test_static_templates),
        cmocka_unit_test(test_eval_many_inputs), cmocka_unit_test(test_long_cause_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
