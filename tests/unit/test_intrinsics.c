/* Unit tests for states/intrinsics: every example in AWS's intrinsic functions documentation,
 * the call syntax (nesting, literals and their escapes, path and context arguments), each
 * function's limits and type checks with the error name a Catch would see
 * (States.IntrinsicFailure, States.Runtime), compile-time rejections, and the JSON text form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "states/intrinsics.h"

static json_t *J(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) fail_msg("bad test JSON %s: %s", text, e.text);
    return v;
}

static const char *CONTEXT =
    "{\"Execution\": {\"Id\": \"arn:aws:states:us-east-1:0:execution:sm:e1\","
    " \"Name\": \"e1\"}, \"Map\": {\"Item\": {\"Index\": 4}},"
    " \"Task\": {\"Token\": \"tok\"}}";

typedef struct {
    const char *expr;
    const char *input;
    const char *want; /* JSON text */
} ok_case;

static const ok_case ok_cases[] = {
    /* AWS docs: States.Format */
    {"States.Format('Hello, my name is {}.', $.name)",
     "{\"name\": \"Arnav\", \"template\": \"Hello, my name is {}.\"}",
     "\"Hello, my name is Arnav.\""},
    {"States.Format($.template, $.name)",
     "{\"name\": \"Arnav\", \"template\": \"Hello, my name is {}.\"}",
     "\"Hello, my name is Arnav.\""},
    /* AWS docs: States.StringToJson / States.JsonToString */
    {"States.StringToJson($.escapedJsonString)",
     "{\"escapedJsonString\": \"{\\\"foo\\\": \\\"bar\\\"}\"}", "{\"foo\": \"bar\"}"},
    {"States.JsonToString($.unescapedJson)", "{\"unescapedJson\": {\"foo\": \"bar\"}}",
     "\"{\\\"foo\\\":\\\"bar\\\"}\""},
    /* AWS docs: arrays */
    {"States.Array($.Id)", "{\"Id\": 123456}", "[123456]"},
    {"States.ArrayPartition($.inputArray,4)", "{\"inputArray\": [1,2,3,4,5,6,7,8,9]}",
     "[[1,2,3,4],[5,6,7,8],[9]]"},
    {"States.ArrayContains($.inputArray, $.lookingFor)",
     "{\"inputArray\": [1,2,3,4,5,6,7,8,9], \"lookingFor\": 5}", "true"},
    {"States.ArrayRange(1, 9, 2)", "{}", "[1,3,5,7,9]"},
    {"States.ArrayGetItem($.inputArray, $.index)",
     "{\"inputArray\": [1,2,3,4,5,6,7,8,9], \"index\": 5}", "6"},
    {"States.ArrayLength($.inputArray)", "{\"inputArray\": [1,2,3,4,5,6,7,8,9]}", "9"},
    {"States.ArrayUnique($.inputArray)", "{\"inputArray\": [1,2,3,3,3,3,3,3,4]}", "[1,2,3,4]"},
    /* AWS docs: encoding and hashing */
    {"States.Base64Encode($.input)", "{\"input\": \"Data to encode\"}", "\"RGF0YSB0byBlbmNvZGU=\""},
    {"States.Base64Decode($.base64)", "{\"base64\": \"RGF0YSB0byBlbmNvZGU=\"}",
     "\"Data to encode\""},
    {"States.Hash($.Data, $.Algorithm)", "{\"Data\": \"input data\", \"Algorithm\": \"SHA-1\"}",
     "\"aaff4a450a104cd177d28d18d74485e8cae074b7\""},
    /* AWS docs: JSON merge (shallow: json2's "a" replaces json1's) */
    {"States.JsonMerge($.json1, $.json2, false)",
     "{\"json1\": {\"a\": {\"a1\": 1, \"a2\": 2}, \"b\": 2}, \"json2\": {\"a\": {\"a3\": 1, "
     "\"a4\": 2}, \"c\": 3}}",
     "{\"a\": {\"a3\": 1, \"a4\": 2}, \"b\": 2, \"c\": 3}"},
    /* AWS docs: math */
    {"States.MathAdd($.value1, $.step)", "{\"value1\": 111, \"step\": -1}", "110"},
    /* AWS docs: strings */
    {"States.StringSplit($.inputString, $.splitter)",
     "{\"inputString\": \"1,2,3,4,5\", \"splitter\": \",\"}", "[\"1\",\"2\",\"3\",\"4\",\"5\"]"},
    {"States.StringSplit($.inputString, $.splitter)",
     "{\"inputString\": \"This.is+a,test=string\", \"splitter\": \".+,=\"}",
     "[\"This\",\"is\",\"a\",\"test\",\"string\"]"},
    /* AWS docs: nesting (a corrected form of the myArn example: two placeholders) */
    {"States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
     "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
     "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), "
     "'.'), 1))",
     "{\"ImageRecipe\": {\"Arn\": "
     "\"arn:aws:imagebuilder:us-east-1:111122223333:image-recipe/my-recipe/1.0.0\"}}",
     "\"1.0\""},
    /* Format: escapes, placeholders, value rendering */
    {"States.Format('no placeholders')", "{}", "\"no placeholders\""},
    {"States.Format('a\\{b\\}c {}', 1)", "{}", "\"a{b}c 1\""},
    {"States.Format('Hello {}, please answer in JSON. For example: \\{ \"name\": \"Bob\" \\}', "
     "$.Name)",
     "{\"Name\": \"Ann\"}",
     "\"Hello Ann, please answer in JSON. For example: { \\\"name\\\": \\\"Bob\\\" }\""},
    {"States.Format('it\\'s {}', 'mine')", "{}", "\"it's mine\""},
    {"States.Format('back\\\\slash {}', 'x')", "{}", "\"back\\\\slash x\""},
    {"States.Format('\\\\{}', 'x')", "{}", "\"\\\\x\""},
    {"States.Format('{}{}{}', 1, 'b', true)", "{}", "\"1btrue\""},
    {"States.Format('{} {} {} {}', null, 1.5, -2, false)", "{}", "\"null 1.5 -2 false\""},
    {"States.Format('{}', $.obj)", "{\"obj\": {\"a\": [1, \"x\"]}}",
     "\"{\\\"a\\\":[1,\\\"x\\\"]}\""},
    {"States.Format('{} and {}', $.a, $.a)", "{\"a\": \"x\"}", "\"x and x\""},
    {"States.Format('{}', $.real)", "{\"real\": 3.0}", "\"3.0\""},
    {"States.Format('{}', $.real)", "{\"real\": 0.1}", "\"0.1\""},
    {"States.Format('{}', $.s)", "{\"s\": \"{} stays\"}", "\"{} stays\""},
    {"States.Format('x}y{}', 1)", "{}", "\"x}y1\""},
    {"States.Format('{}', $$.Execution.Name)", "{}", "\"e1\""},
    {"States.Format('é{}ü', 'ß')", "{}", "\"éßü\""},
    /* literals */
    {"States.Array('a', 1, -2, 1.5, 2e3, true, false, null)", "{}",
     "[\"a\", 1, -2, 1.5, 2000.0, true, false, null]"},
    {"States.Array()", "{}", "[]"},
    {"States.Array( 'spaced' ,  1 )", "{}", "[\"spaced\", 1]"},
    {"  States.Array(1)  ", "{}", "[1]"},
    {"States.Array('a,b', 'c)d', '')", "{}", "[\"a,b\", \"c)d\", \"\"]"},
    {"States.Array('\\{\\}', '{x}')", "{}", "[\"{}\", \"{x}\"]"},
    {"States.Array($, $$.Task.Token)", "{\"k\": 1}", "[{\"k\": 1}, \"tok\"]"},
    {"States.Array($.a[0], $.a[-1], $['b c'])", "{\"a\": [1, 2], \"b c\": 3}", "[1, 2, 3]"},
    {"States.Array($.items[*].id)", "{\"items\": [{\"id\": 1}, {\"id\": 2}]}", "[[1, 2]]"},
    {"States.ArrayLength($.items[?(@.id > 1)])", "{\"items\": [{\"id\": 1}, {\"id\": 2}]}", "1"},
    {"States.Array(States.Array(States.Array()))", "{}", "[[[]]]"},
    /* StringToJson / JsonToString */
    {"States.StringToJson('[1, 2]')", "{}", "[1, 2]"},
    {"States.StringToJson('\"s\"')", "{}", "\"s\""},
    {"States.StringToJson('12')", "{}", "12"},
    {"States.StringToJson('null')", "{}", "null"},
    {"States.JsonToString($.v)", "{\"v\": [1, \"a\\\"b\", null, true, 2.5, {}]}",
     "\"[1,\\\"a\\\\\\\"b\\\",null,true,2.5,{}]\""},
    {"States.JsonToString($.v)", "{\"v\": \"str\"}", "\"\\\"str\\\"\""},
    {"States.JsonToString($.v)", "{\"v\": \"é\\n\\u0001\"}", "\"\\\"é\\\\n\\\\u0001\\\"\""},
    {"States.StringToJson(States.JsonToString($.v))", "{\"v\": {\"x\": [1, {\"y\": null}]}}",
     "{\"x\": [1, {\"y\": null}]}"},
    /* arrays */
    {"States.ArrayPartition($.a, 2)", "{\"a\": []}", "[]"},
    {"States.ArrayPartition($.a, 5)", "{\"a\": [1, 2]}", "[[1, 2]]"},
    {"States.ArrayPartition($.a, 1)", "{\"a\": [1, 2]}", "[[1], [2]]"},
    {"States.ArrayPartition($.a, 2.0)", "{\"a\": [1, 2, 3]}", "[[1, 2], [3]]"},
    {"States.ArrayContains($.a, $.v)", "{\"a\": [{\"x\": 1}, [2]], \"v\": {\"x\": 1}}", "true"},
    {"States.ArrayContains($.a, 'x')", "{\"a\": [1, 2]}", "false"},
    {"States.ArrayContains($.a, 1)", "{\"a\": []}", "false"},
    {"States.ArrayRange(0, 0, 1)", "{}", "[0]"},
    {"States.ArrayRange(5, 1, -2)", "{}", "[5, 3, 1]"},
    {"States.ArrayRange(1, 5, -1)", "{}", "[]"},
    {"States.ArrayRange(-3, 3, 3)", "{}", "[-3, 0, 3]"},
    {"States.ArrayGetItem($.a, 0)", "{\"a\": [{\"x\": 1}]}", "{\"x\": 1}"},
    {"States.ArrayLength($.a)", "{\"a\": []}", "0"},
    {"States.ArrayUnique($.a)", "{\"a\": []}", "[]"},
    {"States.ArrayUnique($.a)",
     "{\"a\": [{\"x\": 1, \"y\": 2}, \"s\", {\"y\": 2, \"x\": 1}, 1, 1.0, \"s\", [1], [1], null, "
     "null]}",
     "[{\"x\": 1, \"y\": 2}, \"s\", 1, 1.0, [1], null]"},
    /* encoding */
    {"States.Base64Encode('')", "{}", "\"\""},
    {"States.Base64Decode('')", "{}", "\"\""},
    {"States.Base64Encode('héllo')", "{}", "\"aMOpbGxv\""},
    {"States.Base64Decode('aMOpbGxv')", "{}", "\"héllo\""},
    {"States.Base64Decode('YQ')", "{}", "\"a\""}, /* padding optional */
    {"States.Base64Decode('YWI')", "{}", "\"ab\""},
    {"States.Base64Decode('/w==')", "{}", "\"\xEF\xBF\xBD\""}, /* not UTF-8: U+FFFD */
    {"States.Base64Decode(States.Base64Encode($.s))", "{\"s\": \"round trip ✓\"}",
     "\"round trip ✓\""},
    /* hashing */
    {"States.Hash('input data', 'MD5')", "{}", "\"812f45842bc6d66ee14572ce20db8e86\""},
    {"States.Hash('input data', 'SHA-256')", "{}",
     "\"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3\""},
    {"States.Hash('', 'SHA-384')", "{}",
     "\"38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f"
     "14898b95b\""},
    {"States.Hash('', 'SHA-512')", "{}",
     "\"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318"
     "d2877eec2f63b931bd47417a81a538327af927da3e\""},
    {"States.Hash($.o, 'MD5')", "{\"o\": {\"a\": 1}}", "\"bb6cb5c68df4652941caf652a366f2d8\""},
    /* JsonMerge */
    {"States.JsonMerge($.a, $.b, false)", "{\"a\": {}, \"b\": {}}", "{}"},
    {"States.JsonMerge($.a, $.b, false)", "{\"a\": {\"x\": 1}, \"b\": {\"x\": null}}",
     "{\"x\": null}"},
    /* math */
    {"States.MathAdd(1, 2)", "{}", "3"},
    {"States.MathAdd(1.5, 1)", "{}", "3"}, /* rounded half up */
    {"States.MathAdd(-1.5, 0)", "{}", "-1"},
    {"States.MathAdd(2147483647, 2147483647)", "{}", "4294967294"},
    {"States.MathAdd(-2147483648, 0)", "{}", "-2147483648"},
    {"States.MathAdd($$.Map.Item.Index, 1)", "{}", "5"},
    {"States.MathRandom(5, 6)", "{}", "5"},
    {"States.MathRandom(-3, -2, 99)", "{}", "-3"},
    /* strings */
    {"States.StringSplit('a,,b,', ',')", "{}", "[\"a\", \"b\"]"},
    {"States.StringSplit('', ',')", "{}", "[]"},
    {"States.StringSplit('abc', '')", "{}", "[\"abc\"]"},
    {"States.StringSplit(',,,', ',')", "{}", "[]"},
    {"States.StringSplit('a→b→c', '→')", "{}", "[\"a\", \"b\", \"c\"]"},
    {"States.StringSplit('2020-05-27T08:00:00.000Z', 'T')", "{}",
     "[\"2020-05-27\", \"08:00:00.000Z\"]"},
    {"States.ArrayGetItem(States.StringSplit('2020-05-27T08:00:00.000Z', 'T'), 0)", "{}",
     "\"2020-05-27\""},
};

static void test_ok_table(void **state) {
    (void)state;
    json_t *ctx = J(CONTEXT);
    for (size_t i = 0; i < sizeof ok_cases / sizeof *ok_cases; i++) {
        const ok_case *c = &ok_cases[i];
        char err[512];
        sl_intrinsic *f = sl_intrinsic_compile(c->expr, err, sizeof err);
        if (!f) fail_msg("%s: %s", c->expr, err);
        json_t *in = J(c->input);
        const char *name = NULL;
        json_t *got = sl_intrinsic_eval(f, in, ctx, &name, err, sizeof err);
        if (!got) fail_msg("%s: %s: %s", c->expr, name, err);
        json_t *want = J(c->want);
        if (!json_equal(got, want)) {
            char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
            fail_msg("%s: got %s, want %s", c->expr, s, c->want);
        }
        json_decref(want);
        json_decref(got);
        json_decref(in);
        sl_intrinsic_free(f);
    }
    json_decref(ctx);
}

typedef struct {
    const char *expr;
    const char *input;
    const char *error; /* error name */
    const char *cause; /* fragment */
} err_case;

static const err_case err_cases[] = {
    /* the AWS docs' nesting example as written has three placeholders and two arguments */
    {"States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
     "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
     "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), "
     "'.'), 1))",
     "{\"ImageRecipe\": {\"Arn\": \"arn:aws:imagebuilder:us-east-1:1:image-recipe/r/1.0.0\"}}",
     "States.IntrinsicFailure", "3 placeholders but 2 arguments"},
    /* Format */
    {"States.Format('{}')", "{}", "States.IntrinsicFailure", "1 placeholder but 0 arguments"},
    {"States.Format('x', 1)", "{}", "States.IntrinsicFailure", "0 placeholders but 1 argument"},
    {"States.Format('Hello {name}', 'x')", "{}", "States.IntrinsicFailure",
     "Invalid template in States.Format: matching '}' not found for '{'."},
    {"States.Format('{', 'x')", "{}", "States.IntrinsicFailure", "matching '}' not found"},
    {"States.Format($.t, 'x')", "{\"t\": \"{ {}\"}", "States.IntrinsicFailure",
     "matching '}' not found"},
    {"States.Format($.t)", "{\"t\": 5}", "States.IntrinsicFailure", "template must be a string"},
    {"States.Format(1)", "{}", "States.IntrinsicFailure", "template must be a string"},
    {"States.Format('a\\nb')", "{}", "States.IntrinsicFailure", "open escape"},
    {"States.Array('tab\\t')", "{}", "States.IntrinsicFailure", "open escape"},
    /* path arguments that match nothing */
    {"States.Format('{}', $.missing)", "{}", "States.Runtime",
     "The JSONPath '$.missing' could not be found in the input"},
    {"States.Array($$.Nope)", "{}", "States.Runtime", "context object"},
    {"States.ArrayLength(States.Array($.a.b))", "{\"a\": 1}", "States.Runtime", "'$.a.b'"},
    /* StringToJson / JsonToString */
    {"States.StringToJson('{oops')", "{}", "States.IntrinsicFailure", "not valid JSON"},
    {"States.StringToJson('')", "{}", "States.IntrinsicFailure", "not valid JSON"},
    {"States.StringToJson($.n)", "{\"n\": 1}", "States.IntrinsicFailure", "must be a string"},
    /* arrays */
    {"States.ArrayPartition($.a, 0)", "{\"a\": [1]}", "States.IntrinsicFailure",
     "positive integer"},
    {"States.ArrayPartition($.a, -1)", "{\"a\": [1]}", "States.IntrinsicFailure",
     "positive integer"},
    {"States.ArrayPartition($.a, 1.5)", "{\"a\": [1]}", "States.IntrinsicFailure",
     "positive integer"},
    {"States.ArrayPartition($.a, 2)", "{\"a\": {}}", "States.IntrinsicFailure",
     "must be an array, not an object"},
    {"States.ArrayContains('x', 1)", "{}", "States.IntrinsicFailure", "must be an array"},
    {"States.ArrayRange(1, 1001, 1)", "{}", "States.IntrinsicFailure",
     "1001 elements; the limit is 1000"},
    {"States.ArrayRange(0, 10000, 1)", "{}", "States.IntrinsicFailure", "the limit is 1000"},
    {"States.ArrayRange(1, 5, 0)", "{}", "States.IntrinsicFailure", "step must not be 0"},
    {"States.ArrayRange(-9223372036854775807, 9223372036854775807, 1)", "{}",
     "States.IntrinsicFailure", "between -2147483648 and 2147483647"},
    {"States.ArrayRange(0, 1, -2147483649)", "{}", "States.IntrinsicFailure", "between"},
    {"States.ArrayRange(1.5, 5, 1)", "{}", "States.IntrinsicFailure", "must be integers"},
    {"States.ArrayRange('1', 5, 1)", "{}", "States.IntrinsicFailure", "must be integers"},
    {"States.ArrayGetItem($.a, 3)", "{\"a\": [1, 2, 3]}", "States.IntrinsicFailure",
     "index 3 is out of bounds for an array of 3 elements"},
    {"States.ArrayGetItem($.a, -1)", "{\"a\": [1, 2, 3]}", "States.IntrinsicFailure",
     "non-negative integer"},
    {"States.ArrayGetItem($.a, 0.5)", "{\"a\": [1, 2, 3]}", "States.IntrinsicFailure",
     "non-negative integer"},
    {"States.ArrayGetItem($.a, 0)", "{\"a\": \"abc\"}", "States.IntrinsicFailure",
     "must be an array, not a string"},
    {"States.ArrayLength($.a)", "{\"a\": null}", "States.IntrinsicFailure", "not null"},
    {"States.ArrayUnique($.a)", "{\"a\": 1}", "States.IntrinsicFailure", "not a number"},
    /* encoding and hashing limits */
    {"States.Base64Encode($.s)", NULL, "States.IntrinsicFailure",
     "10001 characters; the limit is 10000"},
    {"States.Base64Decode('!!!!')", "{}", "States.IntrinsicFailure", "not valid base64"},
    {"States.Base64Decode('Y')", "{}", "States.IntrinsicFailure", "not valid base64"},
    {"States.Base64Decode('Y===')", "{}", "States.IntrinsicFailure", "not valid base64"},
    {"States.Base64Encode(1)", "{}", "States.IntrinsicFailure", "must be a string"},
    {"States.Hash('x', 'SHA1')", "{}", "States.IntrinsicFailure",
     "'SHA1' is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"},
    {"States.Hash('x', 'sha-256')", "{}", "States.IntrinsicFailure", "not supported"},
    {"States.Hash('x', 1)", "{}", "States.IntrinsicFailure", "algorithm must be a string"},
    {"States.Hash($.s, 'MD5')", NULL, "States.IntrinsicFailure", "the limit is 10000"},
    /* JsonMerge */
    {"States.JsonMerge($.a, $.b, true)", "{\"a\": {}, \"b\": {}}", "States.IntrinsicFailure",
     "deep merging is not supported"},
    {"States.JsonMerge($.a, $.b, 'false')", "{\"a\": {}, \"b\": {}}", "States.IntrinsicFailure",
     "must be the boolean false"},
    {"States.JsonMerge($.a, $.b, false)", "{\"a\": [], \"b\": {}}", "States.IntrinsicFailure",
     "must be JSON objects"},
    /* math */
    {"States.MathAdd('1', 2)", "{}", "States.IntrinsicFailure", "must be numbers"},
    {"States.MathAdd(2147483648, 0)", "{}", "States.IntrinsicFailure",
     "between -2147483648 and 2147483647"},
    {"States.MathAdd(0, -2147483649)", "{}", "States.IntrinsicFailure", "between"},
    {"States.MathRandom(5, 5)", "{}", "States.IntrinsicFailure", "must be greater than the start"},
    {"States.MathRandom(9, 1)", "{}", "States.IntrinsicFailure", "must be greater"},
    {"States.MathRandom('a', 1)", "{}", "States.IntrinsicFailure", "must be numbers"},
    {"States.MathRandom(1, 5, 'seed')", "{}", "States.IntrinsicFailure", "seed must be a number"},
    /* strings */
    {"States.StringSplit($.a, ',')", "{\"a\": [1]}", "States.IntrinsicFailure",
     "both arguments must be strings"},
};

static void test_error_table(void **state) {
    (void)state;
    json_t *ctx = J(CONTEXT);
    /* 10,001 characters (multi-byte ones count once) */
    char *big = malloc(10001 * 2 + 32);
    strcpy(big, "{\"s\": \"");
    size_t n = strlen(big);
    for (int i = 0; i < 10001; i++) {
        memcpy(big + n, "\xC3\xA9", 2);
        n += 2;
    }
    strcpy(big + n, "\"}");
    for (size_t i = 0; i < sizeof err_cases / sizeof *err_cases; i++) {
        const err_case *c = &err_cases[i];
        char err[1024];
        sl_intrinsic *f = sl_intrinsic_compile(c->expr, err, sizeof err);
        if (!f) fail_msg("%s: %s", c->expr, err);
        json_t *in = J(c->input ? c->input : big);
        const char *name = NULL;
        json_t *got = sl_intrinsic_eval(f, in, ctx, &name, err, sizeof err);
        if (got) {
            char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
            fail_msg("%s: expected %s, got %s", c->expr, c->error, s);
        }
        if (!name || strcmp(name, c->error) != 0)
            fail_msg("%s: error %s, want %s (%s)", c->expr, name, c->error, err);
        if (!strstr(err, c->cause)) fail_msg("%s: cause '%s' lacks '%s'", c->expr, err, c->cause);
        json_decref(in);
        sl_intrinsic_free(f);
    }
    free(big);
    json_decref(ctx);
}

typedef struct {
    const char *expr;
    const char *msg;
} bad_case;

static const bad_case bad_cases[] = {
    {"", "starts with 'States.'"},
    {"$.a", "starts with 'States.'"},
    {"Format('x')", "starts with 'States.'"},
    {"States.Nope(1)", "'States.Nope' is not a supported intrinsic function"},
    {"States.format('x')", "not a supported intrinsic function"},
    {"States.Format", "expected '(' after States.Format"},
    {"States.Format(", "ended early"},
    {"States.Format('x'", "missing ')'"},
    {"States.Format('x')x", "unexpected 'x'"},
    {"States.Format('x') States.Array()", "unexpected 'S'"},
    {"States.Format('x)", "unterminated string literal"},
    {"States.Format('x\\')", "unterminated string literal"},
    {"States.Format('x' 'y')", "expected ',' or ')'"},
    {"States.Format('x',)", "unexpected ')'"},
    {"States.Format(,'x')", "unexpected ','"},
    {"States.Format(\"x\")", "unexpected '\"'"},
    {"States.Array(abc)", "unexpected 'a'"},
    {"States.Array(True)", "unexpected 'T'"},
    {"States.Array(1.)", "malformed number"},
    {"States.Array(1e)", "malformed number"},
    {"States.Array(-)", "expected a number"},
    {"States.Array(1e999)", "out of range"},
    {"States.Array($.)", "expected a name after '.'"},
    {"States.Array($.a b)", "expected ',' or ')'"},
    {"States.Array(@.a)", "unexpected '@'"},
    {"States.Format()", "takes at least 1 argument but was given 0"},
    {"States.UUID(1)", "takes 0 arguments but was given 1"},
    {"States.ArrayRange(1, 2)", "takes 3 arguments but was given 2"},
    {"States.MathRandom(1)", "takes 2 to 3 arguments but was given 1"},
    {"States.MathRandom(1, 2, 3, 4)", "takes 2 to 3 arguments"},
    {"States.JsonMerge($.a, $.b)", "takes 3 arguments"},
    {"States.StringToJson()", "takes 1 argument but was given 0"},
    {"States.Array(States.Array(States.Array(States.Array(States.Array(States.Array("
     "States.Array(States.Array(States.Array(States.Array(States.Array()))))))))))",
     "nested more than 10 deep"},
};

static void test_compile_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        char err[512] = "";
        sl_intrinsic *f = sl_intrinsic_compile(bad_cases[i].expr, err, sizeof err);
        if (f) fail_msg("%s: compiled, expected an error", bad_cases[i].expr);
        if (!strstr(err, bad_cases[i].msg))
            fail_msg("%s: error '%s' lacks '%s'", bad_cases[i].expr, err, bad_cases[i].msg);
        assert_non_null(strstr(err, "Invalid intrinsic function"));
    }
    assert_null(sl_intrinsic_compile(NULL, NULL, 0));
    /* ten levels is the documented limit and compiles */
    sl_intrinsic *f = sl_intrinsic_compile(
        "States.Array(States.Array(States.Array(States.Array(States.Array(States.Array("
        "States.Array(States.Array(States.Array(States.Array())))))))))",
        NULL, 0);
    assert_non_null(f);
    sl_intrinsic_free(f);
}

static void test_is_call(void **state) {
    (void)state;
    assert_true(sl_intrinsic_is_call("States.Format('x')"));
    assert_true(sl_intrinsic_is_call("States.Nope"));
    assert_false(sl_intrinsic_is_call("$.States"));
    assert_false(sl_intrinsic_is_call("States"));
    assert_false(sl_intrinsic_is_call(NULL));
    sl_intrinsic *f = sl_intrinsic_compile("States.UUID()", NULL, 0);
    assert_string_equal(sl_intrinsic_text(f), "States.UUID()");
    sl_intrinsic_free(f);
}

static void test_uuid(void **state) {
    (void)state;
    sl_intrinsic *f = sl_intrinsic_compile("States.UUID()", NULL, 0);
    json_t *in = json_object();
    char prev[40] = "";
    for (int i = 0; i < 50; i++) {
        json_t *u = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
        assert_true(json_is_string(u));
        const char *s = json_string_value(u);
        assert_int_equal(strlen(s), 36);
        for (int k = 0; k < 36; k++) {
            if (k == 8 || k == 13 || k == 18 || k == 23) assert_int_equal(s[k], '-');
            else assert_non_null(strchr("0123456789abcdef", s[k]));
        }
        assert_int_equal(s[14], '4');           /* version 4 */
        assert_non_null(strchr("89ab", s[19])); /* RFC 4122 variant */
        assert_string_not_equal(s, prev);
        snprintf(prev, sizeof prev, "%s", s);
        json_decref(u);
    }
    json_decref(in);
    sl_intrinsic_free(f);
}

static void test_math_random(void **state) {
    (void)state;
    json_t *in = J("{\"start\": 1, \"end\": 999}");
    /* AWS docs example: a value between start and end */
    sl_intrinsic *f = sl_intrinsic_compile("States.MathRandom($.start, $.end)", NULL, 0);
    bool seen_low = false, seen_high = false;
    for (int i = 0; i < 2000; i++) {
        json_t *v = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
        assert_true(json_is_integer(v));
        json_int_t x = json_integer_value(v);
        assert_true(x >= 1 && x < 999);
        seen_low |= x < 100;
        seen_high |= x > 900;
        json_decref(v);
    }
    assert_true(seen_low && seen_high);
    sl_intrinsic_free(f);
    /* a seed gives the same value every time (java.util.Random's sequence) */
    f = sl_intrinsic_compile("States.MathRandom($.start, $.end, 42)", NULL, 0);
    json_t *a = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
    json_t *b = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
    assert_true(json_equal(a, b));
    /* start + new Random(42).nextInt(end - start) = 1 + 254 */
    assert_int_equal(json_integer_value(a), 1 + 254);
    json_decref(a);
    json_decref(b);
    sl_intrinsic_free(f);
    /* a power-of-two span takes java's fast path: new Random(7).nextInt(16) */
    f = sl_intrinsic_compile("States.MathRandom(0, 16, 7)", NULL, 0);
    a = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
    assert_int_equal(json_integer_value(a), 11);
    json_decref(a);
    sl_intrinsic_free(f);
    json_decref(in);
}

static void test_array_range_limit(void **state) {
    (void)state;
    sl_intrinsic *f = sl_intrinsic_compile("States.ArrayRange(1, 1000, 1)", NULL, 0);
    json_t *in = json_object();
    json_t *v = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
    assert_int_equal(json_array_size(v), 1000);
    assert_int_equal(json_integer_value(json_array_get(v, 999)), 1000);
    json_decref(v);
    sl_intrinsic_free(f);
    f = sl_intrinsic_compile("States.ArrayRange(0, 2997, 3)", NULL, 0);
    v = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
    assert_int_equal(json_array_size(v), 1000);
    json_decref(v);
    sl_intrinsic_free(f);
    json_decref(in);
}

static void test_input_limits(void **state) {
    (void)state;
    /* exactly 10,000 characters is allowed for Base64Encode and Hash */
    char *s = malloc(10001);
    memset(s, 'a', 10000);
    s[10000] = 0;
    json_t *in = json_pack("{s:s}", "s", s);
    const char *exprs[] = {"States.Base64Encode($.s)", "States.Hash($.s, 'SHA-512')",
                           "States.Base64Decode(States.Base64Encode('abc'))"};
    for (size_t i = 0; i < 3; i++) {
        sl_intrinsic *f = sl_intrinsic_compile(exprs[i], NULL, 0);
        json_t *v = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
        assert_non_null(v);
        json_decref(v);
        sl_intrinsic_free(f);
    }
    json_decref(in);
    free(s);
}

static void test_json_text(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"{\"a\": 1, \"b\": [true, false, null], \"c\": \"x\"}",
         "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\"}"},
        {"{\"z\": 1, \"a\": 2}", "{\"z\":1,\"a\":2}"}, /* member order kept */
        {"1.5", "1.5"},
        {"2.0", "2.0"},
        {"0.1", "0.1"},
        {"1e300", "1e+300"},
        {"-0.000001", "-1e-06"},
        {"123456789012", "123456789012"},
        {"\"tab\\tquote\\\"slash/\\\\ é \\u001f\"", "\"tab\\tquote\\\"slash/\\\\ é \\u001f\""},
        {"[]", "[]"},
        {"{}", "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *v = J(cases[i].in);
        char *s = sl_intrinsic_json_text(v);
        assert_string_equal(s, cases[i].out);
        free(s);
        json_decref(v);
    }
    char *s = sl_intrinsic_json_text(NULL);
    assert_string_equal(s, "");
    free(s);
}

static void test_compiled_is_reusable(void **state) {
    (void)state;
    /* compile once, evaluate many times against different inputs */
    sl_intrinsic *f =
        sl_intrinsic_compile("States.Format('{}-{}', $.a, States.MathAdd($.b, 1))", NULL, 0);
    for (int i = 0; i < 20; i++) {
        json_t *in = json_pack("{s:i,s:i}", "a", i, "b", i * 10);
        json_t *v = sl_intrinsic_eval(f, in, NULL, NULL, NULL, 0);
        char want[64];
        snprintf(want, sizeof want, "%d-%d", i, i * 10 + 1);
        assert_string_equal(json_string_value(v), want);
        json_decref(v);
        json_decref(in);
    }
    sl_intrinsic_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_table),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_is_call),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_math_random),
        cmocka_unit_test(test_array_range_limit),
        cmocka_unit_test(test_input_limits),
        cmocka_unit_test(test_json_text),
        cmocka_unit_test(test_compiled_is_reusable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
