/* Unit tests for states/jsonpath: every path example in AWS's Step Functions docs (Reference
 * Paths, InputPath/OutputPath, ResultPath, the context object, flattening arrays), the JSONPath
 * forms Step Functions accepts (dot and bracket names, indexes, wildcards, slices, unions,
 * recursive descent, filters, functions), definite versus indefinite results, "not found",
 * compile errors, and ResultPath placement with its States.ResultPathMatchFailure cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "states/jsonpath.h"

/* The Reference Paths example from the AWS docs, plus the filter example of the paths page. */
static const char *DOC_AWS =
    "{\"foo\": 123, \"bar\": [\"a\", \"b\", \"c\"], \"car\": {\"cdr\": true},"
    " \"jar\": [{\"a\": 1}, {\"a\": 5}, {\"a\": 2}, {\"a\": 7}, {\"a\": 3}]}";

/* The classic bookstore document. */
static const char *DOC_STORE =
    "{\"store\": {\"book\": ["
    "{\"category\": \"reference\", \"author\": \"Nigel Rees\", \"title\": \"Sayings of the "
    "Century\", \"price\": 8.95},"
    "{\"category\": \"fiction\", \"author\": \"Evelyn Waugh\", \"title\": \"Sword of Honour\", "
    "\"price\": 12.99},"
    "{\"category\": \"fiction\", \"author\": \"Herman Melville\", \"title\": \"Moby Dick\", "
    "\"isbn\": \"0-553-21311-3\", \"price\": 8.99},"
    "{\"category\": \"fiction\", \"author\": \"J. R. R. Tolkien\", \"title\": \"The Lord of the "
    "Rings\", \"isbn\": \"0-395-19395-8\", \"price\": 22.99}],"
    "\"bicycle\": {\"color\": \"red\", \"price\": 19.95}}, \"expensive\": 10}";

/* Odd names, nulls, nesting and arrays of arrays. */
static const char *DOC_MISC =
    "{\"a b\": 1, \"it's\": 2, \"quo\\\"te\": 3, \"dash-ed\": 4, \"under_score\": 5,"
    " \"n\": null, \"f\": false, \"empty\": {}, \"none\": [], \"s\": \"héllo\","
    " \"nested\": [[1, 2, 3], [4, 5, 6]], \"nums\": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],"
    " \"obj\": {\"x\": 1, \"y\": {\"x\": 2}, \"z\": [{\"x\": 3}]},"
    " \"dataset1\": {\"val1\": 1, \"val2\": 2, \"val3\": 3},"
    " \"dataset2\": {\"val1\": \"a\", \"val2\": \"b\", \"val3\": \"c\"},"
    " \"items\": [{\"id\": 1, \"tag\": \"x\", \"price\": 5, \"tags\": [\"red\", \"big\"]},"
    "            {\"id\": 2, \"price\": 15, \"tags\": [\"blue\"]},"
    "            {\"id\": 3, \"tag\": null, \"price\": 10, \"name\": \"Widget\"}]}";

static const char *CONTEXT =
    "{\"Execution\": {\"Id\": \"arn:aws:states:us-east-1:000000000000:execution:sm:run-1\","
    " \"Input\": {\"key\": \"value\"}, \"Name\": \"run-1\", \"StartTime\": "
    "\"2019-03-26T20:14:13.192Z\", \"RoleArn\": \"arn:aws:iam::000000000000:role/r\"},"
    " \"State\": {\"EnteredTime\": \"2019-03-26T20:14:13.192Z\", \"Name\": \"Test\", "
    "\"RetryCount\": 3},"
    " \"StateMachine\": {\"Id\": \"arn:aws:states:us-east-1:000000000000:stateMachine:sm\", "
    "\"Name\": \"sm\"},"
    " \"Task\": {\"Token\": \"h7XRiCdLtd/83p1E0dMccoxlzFhglsdkzpK9mBVKZsp7d9yrT1W\"},"
    " \"Map\": {\"Item\": {\"Index\": 2, \"Value\": {\"prod\": \"R40\"}}}}";

static json_t *J(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) fail_msg("bad test JSON %s: %s", text, e.text);
    return v;
}

static void assert_json(json_t *got, const char *want, const char *what) {
    if (!want) {
        if (got) {
            char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
            fail_msg("%s: expected no match, got %s", what, s);
        }
        return;
    }
    if (!got) fail_msg("%s: expected %s, got nothing", what, want);
    json_t *w = J(want);
    if (!json_equal(got, w)) {
        char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
        fail_msg("%s: expected %s, got %s", what, want, s);
    }
    json_decref(w);
}

typedef struct {
    const char **doc;
    const char *path;
    const char *want; /* JSON text; NULL: the path matches nothing */
} eval_case;

static const eval_case eval_cases[] = {
    /* AWS Reference Paths example */
    {&DOC_AWS, "$.foo", "123"},
    {&DOC_AWS, "$.bar", "[\"a\", \"b\", \"c\"]"},
    {&DOC_AWS, "$.car.cdr", "true"},
    {&DOC_AWS, "$.jar[?(@.a >= 5)]", "[{\"a\": 5}, {\"a\": 7}]"},
    /* root */
    {&DOC_AWS, "$", NULL}, /* filled in by the test: the whole document */
    /* dot and bracket names */
    {&DOC_AWS, "$['foo']", "123"},
    {&DOC_AWS, "$[\"foo\"]", "123"},
    {&DOC_AWS, "$['car']['cdr']", "true"},
    {&DOC_AWS, "$.car['cdr']", "true"},
    {&DOC_AWS, "$.car.['cdr']", "true"}, /* AWS's `$.abc.['def ghi']` form */
    {&DOC_MISC, "$['a b']", "1"},
    {&DOC_MISC, "$['it\\'s']", "2"},
    {&DOC_MISC, "$[\"it's\"]", "2"},
    {&DOC_MISC, "$['quo\"te']", "3"},
    {&DOC_MISC, "$[\"quo\\\"te\"]", "3"},
    {&DOC_MISC, "$.dash-ed", "4"},
    {&DOC_MISC, "$['']", NULL},
    {&DOC_MISC, "$.under_score", "5"},
    {&DOC_MISC, "$.n", "null"},
    {&DOC_MISC, "$.f", "false"},
    {&DOC_MISC, "$.empty", "{}"},
    {&DOC_MISC, "$.none", "[]"},
    {&DOC_MISC, "$.s", "\"héllo\""},
    /* indexes */
    {&DOC_AWS, "$.bar[0]", "\"a\""},
    {&DOC_AWS, "$.bar[2]", "\"c\""},
    {&DOC_AWS, "$.bar[-1]", "\"c\""},
    {&DOC_AWS, "$.bar[-3]", "\"a\""},
    {&DOC_AWS, "$.bar[ 1 ]", "\"b\""},
    {&DOC_AWS, "$.jar[3].a", "7"},
    {&DOC_MISC, "$.nested[1][2]", "6"},
    /* wildcards: indefinite, results as an array */
    {&DOC_AWS, "$.bar[*]", "[\"a\", \"b\", \"c\"]"},
    {&DOC_AWS, "$.bar.*", "[\"a\", \"b\", \"c\"]"},
    {&DOC_AWS, "$.jar[*].a", "[1, 5, 2, 7, 3]"},
    {&DOC_AWS, "$.car.*", "[true]"},
    {&DOC_AWS, "$.foo.*", "[]"},
    {&DOC_MISC, "$.dataset1.*", "[1, 2, 3]"},
    {&DOC_MISC, "$.items[*].tag", "[\"x\", null]"}, /* missing leaves are skipped */
    {&DOC_MISC, "$.items[*].tags[0]", "[\"red\", \"blue\"]"},
    {&DOC_MISC, "$.none[*]", "[]"},
    /* flattening arrays of arrays (AWS's ResultSelector example uses `$[*][*]`) */
    {&DOC_MISC, "$.nested[*][*]", "[1, 2, 3, 4, 5, 6]"},
    /* slices */
    {&DOC_MISC, "$.nums[1:3]", "[1, 2]"},
    {&DOC_MISC, "$.nums[:2]", "[0, 1]"},
    {&DOC_MISC, "$.nums[8:]", "[8, 9]"},
    {&DOC_MISC, "$.nums[-2:]", "[8, 9]"},
    {&DOC_MISC, "$.nums[:-8]", "[0, 1]"},
    {&DOC_MISC, "$.nums[::3]", "[0, 3, 6, 9]"},
    {&DOC_MISC, "$.nums[1:8:2]", "[1, 3, 5, 7]"},
    {&DOC_MISC, "$.nums[::-4]", "[9, 5, 1]"},
    {&DOC_MISC, "$.nums[5:2:-1]", "[5, 4, 3]"},
    {&DOC_MISC, "$.nums[20:30]", "[]"},
    {&DOC_MISC, "$.nums[3:1]", "[]"},
    {&DOC_MISC, "$.nums[-100:2]", "[0, 1]"},
    {&DOC_MISC, "$.nums[:]", "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"},
    /* unions */
    {&DOC_MISC, "$.nums[0,2,-1]", "[0, 2, 9]"},
    {&DOC_MISC, "$.nums[1, 50, 3]", "[1, 3]"},
    {&DOC_MISC, "$.dataset2['val1','val3']", "[\"a\", \"c\"]"},
    {&DOC_MISC, "$.dataset2['val1','nope']", "[\"a\"]"},
    /* recursive descent */
    {&DOC_MISC, "$.obj..x", "[1, 2, 3]"},
    {&DOC_STORE, "$..author",
     "[\"Nigel Rees\", \"Evelyn Waugh\", \"Herman Melville\", \"J. R. R. Tolkien\"]"},
    {&DOC_STORE, "$.store..price", "[8.95, 12.99, 8.99, 22.99, 19.95]"},
    {&DOC_STORE, "$..book[2].title", "[\"Moby Dick\"]"},
    {&DOC_STORE, "$..book[-1].title", "[\"The Lord of the Rings\"]"},
    {&DOC_STORE, "$..book[0,1].title", "[\"Sayings of the Century\", \"Sword of Honour\"]"},
    {&DOC_STORE, "$..book[:2].category", "[\"reference\", \"fiction\"]"},
    {&DOC_STORE, "$..['color']", "[\"red\"]"},
    {&DOC_STORE, "$..nothing", "[]"},
    {&DOC_MISC, "$.obj..*", "[1, {\"x\": 2}, [{\"x\": 3}], 2, {\"x\": 3}, 3]"},
    /* filters */
    {&DOC_STORE, "$.store.book[?(@.isbn)].title", "[\"Moby Dick\", \"The Lord of the Rings\"]"},
    {&DOC_STORE, "$.store.book[?(@.price < 10)].title",
     "[\"Sayings of the Century\", \"Moby Dick\"]"},
    {&DOC_STORE, "$..book[?(@.price <= $.expensive)].price", "[8.95, 8.99]"},
    {&DOC_STORE, "$..book[?(@.price > 20)].author", "[\"J. R. R. Tolkien\"]"},
    {&DOC_STORE, "$.store.book[?(@.category == 'reference')].author", "[\"Nigel Rees\"]"},
    {&DOC_STORE, "$.store.book[?(@.category == \"reference\")].author", "[\"Nigel Rees\"]"},
    {&DOC_STORE, "$.store.book[?(@.category != 'fiction')].price", "[8.95]"},
    {&DOC_STORE, "$.store.book[?(@.author =~ /.*Rees/)].price", "[8.95]"},
    {&DOC_STORE, "$.store.book[?(@.author =~ /.*REES/i)].price", "[8.95]"},
    {&DOC_STORE, "$.store.book[?(@.isbn =~ /\\d-\\d+-\\d+-\\d/)].price", "[8.99, 22.99]"},
    {&DOC_STORE, "$.store.book[?(@.isbn =~ /[0-9]-[\\d]{3}-.*/)].price", "[8.99, 22.99]"},
    {&DOC_STORE, "$.store.book[?(@.author =~ /\\w+ \\w+/)].price", "[8.95, 12.99, 8.99]"},
    {&DOC_STORE, "$.store.book[?(@.category == 'fiction' && @.price < 10)].title",
     "[\"Moby Dick\"]"},
    {&DOC_STORE, "$.store.book[?(@.price < 9 || @.price > 20)].price", "[8.95, 8.99, 22.99]"},
    {&DOC_STORE, "$.store.book[?(!(@.price < 10))].price", "[12.99, 22.99]"},
    {&DOC_STORE, "$.store.book[?(!@.isbn)].price", "[8.95, 12.99]"},
    {&DOC_STORE, "$.store.book[?(@.category in ['reference', 'poetry'])].price", "[8.95]"},
    {&DOC_STORE, "$.store.book[?(@.category nin ['fiction'])].price", "[8.95]"},
    {&DOC_STORE, "$.store.book[?(@.title size 9)].price", "[8.99]"},
    {&DOC_MISC, "$.items[?(@.tag)].id", "[1, 3]"}, /* exists, even when null */
    {&DOC_MISC, "$.items[?(@.tag == null)].id", "[3]"},
    {&DOC_MISC, "$.items[?(@.tags contains 'red')].id", "[1]"},
    {&DOC_MISC, "$.items[?(@.tags anyof ['blue', 'green'])].id", "[2]"},
    {&DOC_MISC, "$.items[?(@.tags subsetof ['red', 'big', 'small'])].id", "[1]"},
    {&DOC_MISC, "$.items[?(@.tags noneof ['red'])].id", "[2]"},
    {&DOC_MISC, "$.items[?(@.tags empty false)].id", "[1, 2]"},
    {&DOC_MISC, "$.items[?(@.name contains 'idg')].id", "[3]"},
    {&DOC_MISC, "$.items[?(@.price == 10.0)].id", "[3]"}, /* 10 and 10.0 compare equal */
    {&DOC_MISC, "$.items[?(@.price >= -1e3)].id", "[1, 2, 3]"},
    {&DOC_MISC, "$.items[?(@.price > '5')].id", "[]"}, /* no cross-type ordering */
    {&DOC_MISC, "$.items[?(@.id != 2)].id", "[1, 3]"},
    {&DOC_MISC, "$.items[?(@.missing != 2)].id", "[1, 2, 3]"}, /* != is "not ==" */
    {&DOC_MISC, "$.items[?(@.missing < 2)].id", "[]"},
    {&DOC_MISC, "$.items[?(@.tags[1])].id", "[1]"},
    {&DOC_MISC, "$.items[?(@.tags[*])].id", "[1, 2]"},
    {&DOC_MISC, "$.nums[?(@ > 7)]", "[8, 9]"},
    {&DOC_MISC, "$.nums[?(@ == 3 || @ == 4)]", "[3, 4]"},
    {&DOC_MISC, "$.obj[?(@.x == 1)].x", "[1]"}, /* a filter on an object tests the object */
    {&DOC_MISC, "$.obj[?(@.x == 2)]", "[]"},
    {&DOC_MISC, "$.items[?(@.price < 100)][?(@.id > 2)].id", "[3]"},
    {&DOC_MISC, "$..[?(@.x == 3)]", "[{\"x\": 3}]"},
    {&DOC_MISC, "$.items[?( @.id==1 )].id", "[1]"},
    {&DOC_MISC, "$.items[?(@['id'] == 2)].price", "[15]"},
    /* functions */
    {&DOC_AWS, "$.bar.length()", "3"},
    {&DOC_AWS, "$.jar[*].a.length()", "5"},
    {&DOC_AWS, "$.jar[*].a.min()", "1"},
    {&DOC_AWS, "$.jar[*].a.max()", "7"},
    {&DOC_AWS, "$.jar[*].a.sum()", "18"},
    {&DOC_AWS, "$.jar[*].a.avg()", "3.6"},
    {&DOC_MISC, "$.nums.stddev()", "2.8722813232690143"},
    {&DOC_MISC, "$.dataset1.keys()", "[\"val1\", \"val2\", \"val3\"]"},
    {&DOC_MISC, "$.nums.first()", "0"},
    {&DOC_MISC, "$.nums.last()", "9"},
    {&DOC_MISC, "$.s.length()", "5"},
    {&DOC_MISC, "$.dataset1.length()", "3"},
    {&DOC_STORE, "$..price.sum()", "73.87"},
    /* AWS InputPath example */
    {&DOC_MISC, "$.dataset2", "{\"val1\": \"a\", \"val2\": \"b\", \"val3\": \"c\"}"},
    /* not found: definite paths */
    {&DOC_AWS, "$.nope", NULL},
    {&DOC_AWS, "$.nope.deeper", NULL},
    {&DOC_AWS, "$.foo.bar", NULL}, /* a property of a number */
    {&DOC_AWS, "$.bar[3]", NULL},  /* out of range */
    {&DOC_AWS, "$.bar[-4]", NULL},
    {&DOC_AWS, "$.car[0]", NULL}, /* an index into an object */
    {&DOC_AWS, "$.bar.x", NULL},  /* a property of an array */
    {&DOC_MISC, "$.n.x", NULL},   /* through null */
    {&DOC_MISC, "$.none.length()", "0"},
    {&DOC_AWS, "$.nope.length()", NULL},
    /* not found: a missing definite prefix of an indefinite path */
    {&DOC_AWS, "$.nope[*]", NULL},
    {&DOC_AWS, "$.nope.deeper[*].x", NULL},
    {&DOC_AWS, "$.foo[*]", "[]"}, /* a wildcard over a scalar matches nothing */
    {&DOC_AWS, "$.foo[0:2]", NULL},
    {&DOC_AWS, "$.car[?(@.cdr)]", "[{\"cdr\": true}]"},
    {&DOC_AWS, "$.nope[?(@.a)]", NULL},
};

static void test_eval_table(void **state) {
    (void)state;
    json_t *ctx = J(CONTEXT);
    for (size_t i = 0; i < sizeof eval_cases / sizeof *eval_cases; i++) {
        const eval_case *c = &eval_cases[i];
        char err[512];
        sl_jsonpath *p = sl_jsonpath_compile(c->path, err, sizeof err);
        if (!p) fail_msg("%s: %s", c->path, err);
        json_t *doc = J(*c->doc);
        json_t *got = sl_jsonpath_eval(p, doc, ctx, err, sizeof err);
        if (!strcmp(c->path, "$")) {
            assert_true(got == doc);
        } else {
            assert_json(got, c->want, c->path);
            if (!got) {
                assert_non_null(strstr(err, "could not be found"));
                assert_non_null(strstr(err, c->path));
            }
        }
        json_decref(got);
        json_decref(doc);
        sl_jsonpath_free(p);
    }
    json_decref(ctx);
}

typedef struct {
    const char *path;
    const char *want;
} ctx_case;

static const ctx_case context_cases[] = {
    {"$$.Execution.Id", "\"arn:aws:states:us-east-1:000000000000:execution:sm:run-1\""},
    {"$$.Execution.Input", "{\"key\": \"value\"}"},
    {"$$.Execution.Input.key", "\"value\""},
    {"$$.Execution.Name", "\"run-1\""},
    {"$$.State.Name", "\"Test\""},
    {"$$.State.EnteredTime", "\"2019-03-26T20:14:13.192Z\""},
    {"$$.State.RetryCount", "3"},
    {"$$.StateMachine.Name", "\"sm\""},
    {"$$.Task.Token", "\"h7XRiCdLtd/83p1E0dMccoxlzFhglsdkzpK9mBVKZsp7d9yrT1W\""},
    {"$$.Map.Item.Index", "2"},
    {"$$.Map.Item.Value", "{\"prod\": \"R40\"}"},
    {"$$.Map.Item.Value.prod", "\"R40\""},
    {"$$['State']['Name']", "\"Test\""},
    {"$$.*.Name", "[\"run-1\", \"Test\", \"sm\"]"},
    {"$$.Nope", NULL},
};

static void test_context_paths(void **state) {
    (void)state;
    json_t *ctx = J(CONTEXT);
    json_t *input = J("{\"Execution\": \"not me\"}");
    for (size_t i = 0; i < sizeof context_cases / sizeof *context_cases; i++) {
        char err[512];
        sl_jsonpath *p = sl_jsonpath_compile(context_cases[i].path, err, sizeof err);
        if (!p) fail_msg("%s: %s", context_cases[i].path, err);
        assert_true(sl_jsonpath_is_context(p));
        assert_false(sl_jsonpath_is_reference(p));
        json_t *got = sl_jsonpath_eval(p, input, ctx, err, sizeof err);
        assert_json(got, context_cases[i].want, context_cases[i].path);
        if (!got) assert_non_null(strstr(err, "context object"));
        json_decref(got);
        sl_jsonpath_free(p);
    }
    /* `$$` alone is the whole context object */
    sl_jsonpath *p = sl_jsonpath_compile("$$", NULL, 0);
    json_t *got = sl_jsonpath_eval(p, input, ctx, NULL, 0);
    assert_true(got == ctx);
    json_decref(got);
    /* no context object: nothing to find */
    got = sl_jsonpath_eval(p, input, NULL, NULL, 0);
    assert_null(got);
    sl_jsonpath_free(p);
    /* filters can look at the root document with `$` */
    p = sl_jsonpath_compile("$$.Execution[?(@.Name == $.want)].Id", NULL, 0);
    assert_non_null(p);
    json_t *in2 = J("{\"want\": \"run-1\"}");
    got = sl_jsonpath_eval(p, in2, ctx, NULL, 0);
    assert_json(got, "[\"arn:aws:states:us-east-1:000000000000:execution:sm:run-1\"]", "root ref");
    json_decref(got);
    json_decref(in2);
    sl_jsonpath_free(p);
    json_decref(input);
    json_decref(ctx);
}

typedef struct {
    const char *path;
    bool definite, reference, context;
} kind_case;

static const kind_case kind_cases[] = {
    {"$", true, true, false},
    {"$.a", true, true, false},
    {"$.a.b.c", true, true, false},
    {"$['a b'].c", true, true, false},
    {"$.a[0]", true, true, false},
    {"$.a[-1]", true, true, false},
    {"$.a[0][1].b", true, true, false},
    {"$.a.['b']", true, true, false},
    {"$.a[*]", false, false, false},
    {"$.a.*", false, false, false},
    {"$.a[0,1]", false, false, false},
    {"$['a','b']", false, false, false},
    {"$.a[1:3]", false, false, false},
    {"$.a[::2]", false, false, false},
    {"$..a", false, false, false},
    {"$.a[?(@.b)]", false, false, false},
    {"$.a.length()", true, false, false},
    {"$.a[*].length()", true, false, false},
    {"$$", true, false, true},
    {"$$.Execution.Id", true, false, true},
    {"$$.Map.Item.Value[*]", false, false, true},
};

static void test_kinds(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof kind_cases / sizeof *kind_cases; i++) {
        const kind_case *c = &kind_cases[i];
        char err[256];
        sl_jsonpath *p = sl_jsonpath_compile(c->path, err, sizeof err);
        if (!p) fail_msg("%s: %s", c->path, err);
        if (sl_jsonpath_is_definite(p) != c->definite) fail_msg("%s: definite", c->path);
        if (sl_jsonpath_is_reference(p) != c->reference) fail_msg("%s: reference", c->path);
        if (sl_jsonpath_is_context(p) != c->context) fail_msg("%s: context", c->path);
        assert_string_equal(sl_jsonpath_text(p), c->path);
        sl_jsonpath_free(p);
    }
}

typedef struct {
    const char *path;
    const char *msg; /* a fragment of the error */
} bad_case;

static const bad_case bad_cases[] = {
    {"", "must start with '$'"},
    {"a.b", "must start with '$'"},
    {"foo", "must start with '$'"},
    {"@.a", "must start with '$'"},
    {"$.", "must not end with '.'"},
    {"$..", "must not end with '..'"},
    {"$.a.", "must not end with '.'"},
    {"$a", "'$a' is a workflow variable reference; variables are not supported"},
    {"$myVar.field", "'$myVar' is a workflow variable"},
    {"$1", "unexpected '1'"},
    {"$.a b", "unexpected ' '"},
    {"$[", "unterminated '['"},
    {"$[]", "unexpected ']'"},
    {"$['a'", "expected ']'"},
    {"$['a]", "unterminated quoted string"},
    {"$[0", "expected ']'"},
    {"$[a]", "unexpected 'a'"},
    {"$[0,]", "expected a number"},
    {"$[1:2:0]", "step must not be 0"},
    {"$[99999999999999999]", "out of range"},
    {"$.a[?(@.b <)]", "unexpected ')' in a filter"},
    {"$.a[?(@.b <", "the filter ended early"},
    {"$.a[?(@.b = 1)]", "found '='"},
    {"$.a[?(@.b == 1]", "expected ')'"},
    {"$.a[?@.b]", "expected '('"},
    {"$.a[?(1)]", "a literal alone is not a condition"},
    {"$.a[?(@.b =~ 'x')]", "regex"},
    {"$.a[?(@.b =~ /x)]", "unterminated regular expression"},
    {"$.a[?(@.b =~ /(/)]", "invalid regular expression"},
    {"$.a[?(@.b =~ /.*++++++++/i)]", "stacked quantifiers"},
    {"$.a[?(@.b =~ /a*?/)]", "stacked quantifiers"},
    {"$.a[?(@.b =~ /(a{1,1000})/)]", "above 100"},
    {"$.a[?(@.b =~ /a{1}b{1}c{1}d{1}e{1}/)]", "too many"},
    {"$.a[?(@.b =~ /a{x}/)]", "invalid regular expression"},
    {"$.a[?(@.b == 'x)]", "unterminated quoted string"},
    {"$.a[?(@.b in [1, @.c])]", "literal values"},
    {"$.a.nope()", "unknown function 'nope()'"},
    {"$.a.length(1)", "expected ')'"},
    {"$..length()", "function cannot follow '..'"},
    {"$.a.length().b", "unexpected '.'"},
    {"$.a)", "unexpected ')'"},
    {"$$$", "unexpected '$'"},
    {"$.a[?((((((((((((((((((((((((((((((((((@.b))))))))))))))))))))))))))))))))))]",
     "nested too deeply"},
};

static void test_compile_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        char err[512] = "";
        sl_jsonpath *p = sl_jsonpath_compile(bad_cases[i].path, err, sizeof err);
        if (p) fail_msg("%s: compiled, expected an error", bad_cases[i].path);
        if (!strstr(err, bad_cases[i].msg))
            fail_msg("%s: error '%s' lacks '%s'", bad_cases[i].path, err, bad_cases[i].msg);
        assert_non_null(strstr(err, "Invalid JSONPath"));
    }
    /* NULL err buffers are fine */
    assert_null(sl_jsonpath_compile("nope", NULL, 0));
    assert_null(sl_jsonpath_compile(NULL, NULL, 0));
}

static void test_prefix(void **state) {
    (void)state;
    static const struct {
        const char *s;
        size_t used;
    } cases[] = {
        {"$.a, 'x')", 3},
        {"$.a)", 3},
        {"$, 1)", 1},
        {"$$.Execution.Id,", 15},
        {"$.a[0,1], 2", 8},
        {"$.a[?(@.b, 1)]", 0}, /* not a path: error */
        {"$.items[?(@.x == ')')].y)", 24},
        {"$['a,b'] ,", 8},
        {"$.a.length())", 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t used = 99;
        sl_jsonpath *p = sl_jsonpath_compile_prefix(cases[i].s, &used, NULL, 0);
        if (cases[i].used == 0) {
            assert_null(p);
            continue;
        }
        if (!p) fail_msg("%s: no prefix", cases[i].s);
        if (used != cases[i].used)
            fail_msg("%s: used %zu, want %zu", cases[i].s, used, cases[i].used);
        sl_jsonpath_free(p);
    }
}

typedef struct {
    const char *input;
    const char *path;
    const char *value;
    const char *want; /* NULL: States.ResultPathMatchFailure */
} put_case;

static const put_case put_cases[] = {
    /* AWS ResultPath docs: replace the input, add the result to the input, update a node */
    {"{\"comment\": \"This is a test\", \"details\": \"Default example\", \"who\": \"Step "
     "Functions\"}",
     "$", "\"Hello, Step Functions!\"", "\"Hello, Step Functions!\""},
    {"{\"comment\": \"This is a test\", \"details\": \"Default example\", \"who\": \"Step "
     "Functions\"}",
     "$.taskresult", "\"Hello, Step Functions!\"",
     "{\"comment\": \"This is a test\", \"details\": \"Default example\", \"who\": \"Step "
     "Functions\", \"taskresult\": \"Hello, Step Functions!\"}"},
    {"{\"master\": {\"detail\": [1, 2, 3]}}", "$.master.detail", "\"Hello, Step Functions!\"",
     "{\"master\": {\"detail\": \"Hello, Step Functions!\"}}"},
    {"{\"master\": {\"detail\": [1, 2, 3]}}", "$.master.result.sum", "6",
     "{\"master\": {\"detail\": [1, 2, 3], \"result\": {\"sum\": 6}}}"},
    /* Catch: the error output placed in the input */
    {"{\"foo\": \"bar\"}", "$.error", "{\"Error\": \"States.TaskFailed\", \"Cause\": \"boom\"}",
     "{\"foo\": \"bar\", \"error\": {\"Error\": \"States.TaskFailed\", \"Cause\": \"boom\"}}"},
    /* intermediate objects are created */
    {"{}", "$.a.b.c", "1", "{\"a\": {\"b\": {\"c\": 1}}}"},
    {"{\"a\": {}}", "$['a']['x y']", "true", "{\"a\": {\"x y\": true}}"},
    {"{}", "$['']", "1", "{\"\": 1}"},
    /* existing values of any type are replaced */
    {"{\"a\": \"str\"}", "$.a", "{\"n\": 1}", "{\"a\": {\"n\": 1}}"},
    {"{\"a\": null}", "$.a", "2", "{\"a\": 2}"},
    /* indexes replace existing elements */
    {"{\"a\": [1, 2, 3]}", "$.a[1]", "\"x\"", "{\"a\": [1, \"x\", 3]}"},
    {"{\"a\": [1, 2, 3]}", "$.a[-1]", "\"x\"", "{\"a\": [1, 2, \"x\"]}"},
    {"{\"a\": [{\"b\": 1}]}", "$.a[0].c", "2", "{\"a\": [{\"b\": 1, \"c\": 2}]}"},
    {"[1, 2]", "$[0]", "9", "[9, 2]"},
    {"\"scalar\"", "$", "[1]", "[1]"},
    /* States.ResultPathMatchFailure */
    {"\"scalar\"", "$.a", "1", NULL},
    {"[1, 2]", "$.a", "1", NULL},
    {"{\"a\": \"str\"}", "$.a.b", "1", NULL},
    {"{\"a\": 5}", "$.a.b.c", "1", NULL},
    {"{\"a\": null}", "$.a.b", "1", NULL},
    {"{\"a\": [1, 2, 3]}", "$.a[3]", "1", NULL},
    {"{\"a\": [1, 2, 3]}", "$.a[-4]", "1", NULL},
    {"{\"a\": {}}", "$.a[0]", "1", NULL},
    {"{}", "$.a[0]", "1", NULL}, /* arrays are never created */
    {"{\"a\": [1]}", "$.a.b", "1", NULL},
};

static void test_put(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof put_cases / sizeof *put_cases; i++) {
        const put_case *c = &put_cases[i];
        char err[512];
        sl_jsonpath *p = sl_jsonpath_compile(c->path, err, sizeof err);
        if (!p) fail_msg("%s: %s", c->path, err);
        assert_true(sl_jsonpath_is_reference(p));
        json_t *in = J(c->input), *val = J(c->value);
        char *before = json_dumps(in, JSON_ENCODE_ANY | JSON_COMPACT);
        json_t *got = sl_jsonpath_put(p, in, val, err, sizeof err);
        char what[256];
        snprintf(what, sizeof what, "put %s into %s at %s", c->value, c->input, c->path);
        assert_json(got, c->want, what);
        if (!got) {
            assert_non_null(strstr(err, "Unable to apply ResultPath"));
            assert_non_null(strstr(err, c->path));
        }
        /* the input document is never modified */
        char *after = json_dumps(in, JSON_ENCODE_ANY | JSON_COMPACT);
        assert_string_equal(before, after);
        free(before);
        free(after);
        json_decref(got);
        json_decref(in);
        json_decref(val);
        sl_jsonpath_free(p);
    }
}

static void test_put_rejects_non_reference(void **state) {
    (void)state;
    const char *paths[] = {"$.a[*]",          "$..a",         "$.a[0,1]", "$.a[?(@.b)]",
                           "$$.Execution.Id", "$.a.length()", "$.a[1:2]"};
    json_t *in = J("{\"a\": [{\"b\": 1}]}"), *v = J("1");
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        char err[256];
        sl_jsonpath *p = sl_jsonpath_compile(paths[i], err, sizeof err);
        assert_non_null(p);
        assert_false(sl_jsonpath_is_reference(p));
        assert_null(sl_jsonpath_put(p, in, v, err, sizeof err));
        assert_non_null(strstr(err, "not a reference path"));
        sl_jsonpath_free(p);
    }
    json_decref(in);
    json_decref(v);
}

static void test_results_share_input(void **state) {
    (void)state;
    /* A definite match is the input node itself (no copy); put() shares untouched subtrees. */
    json_t *in = J("{\"a\": {\"big\": [1, 2, 3]}, \"b\": {}}");
    sl_jsonpath *p = sl_jsonpath_compile("$.a", NULL, 0);
    json_t *got = sl_jsonpath_eval(p, in, NULL, NULL, 0);
    assert_true(got == json_object_get(in, "a"));
    json_decref(got);
    sl_jsonpath_free(p);
    p = sl_jsonpath_compile("$.b.x", NULL, 0);
    json_t *one = json_integer(1);
    json_t *out = sl_jsonpath_put(p, in, one, NULL, 0);
    assert_true(json_object_get(out, "a") == json_object_get(in, "a"));
    assert_int_equal(json_object_size(json_object_get(in, "b")), 0);
    json_decref(one);
    json_decref(out);
    json_decref(in);
    sl_jsonpath_free(p);
}

static void test_function_errors(void **state) {
    (void)state;
    const char *cases[][2] = {
        {"$.s.keys()", "keys() needs an object"}, {"$.obj.first()", "non-empty array"},
        {"$.none.last()", "non-empty array"},     {"$.s.min()", "array of numbers"},
        {"$.dataset2.*.avg()", "no numbers"},     {"$.n.length()", "length() needs"},
    };
    json_t *doc = J(DOC_MISC);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[256];
        sl_jsonpath *p = sl_jsonpath_compile(cases[i][0], err, sizeof err);
        if (!p) fail_msg("%s: %s", cases[i][0], err);
        assert_null(sl_jsonpath_eval(p, doc, NULL, err, sizeof err));
        if (!strstr(err, cases[i][1])) fail_msg("%s: '%s'", cases[i][0], err);
        sl_jsonpath_free(p);
    }
    json_decref(doc);
}

static void test_budget(void **state) {
    (void)state;
    /* Nested recursive descent over a deep document stops instead of running for ages. */
    json_t *doc = json_integer(0);
    for (int i = 0; i < 200; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "a", doc);
        doc = o;
    }
    char err[256];
    sl_jsonpath *p = sl_jsonpath_compile("$..*..*..*..*", err, sizeof err);
    assert_non_null(p);
    json_t *got = sl_jsonpath_eval(p, doc, NULL, err, sizeof err);
    assert_null(got);
    assert_non_null(strstr(err, "budget"));
    sl_jsonpath_free(p);
    json_decref(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_table),
        cmocka_unit_test(test_context_paths),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_put),
        cmocka_unit_test(test_put_rejects_non_reference),
        cmocka_unit_test(test_results_share_input),
        cmocka_unit_test(test_function_errors),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
