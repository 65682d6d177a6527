/* Unit tests for Step Functions' S3 integrations (states/s3_tasks.c) and the object store's
 * direct API under them (objects/direct.c): round trips through a real store in a temp dir
 * (inline and blob bodies, outbox rows like an HTTP write's), S3 error names as a state
 * machine sees them, ListObjectsV2 paging, the ItemReader parsers (CSV, JSON, JSONL, S3
 * Inventory manifests, listings) and the ResultWriter's layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/context.h"
#include "objects/direct.h"
#include "states/s3_tasks.h"
#include "states/states_internal.h"
#include "store/store.h"

typedef struct {
    char dir[64];
    sl_config cfg;
    sl_store *store;
    sl_objects *objects;
    sl_states states;
} fixture;

static int exec_job(sqlite3 *db, void *arg) {
    return sqlite3_exec(db, arg, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static void sql(fixture *f, const char *text) {
    assert_int_equal(sl_store_write(f->store, exec_job, (void *)text), 0);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-s3t-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    sl_config_defaults(&f->cfg);
    f->cfg.inline_max = 64; /* small, so tests see both inline rows and blobs */
    char err[256];
    f->store = sl_store_open(f->dir, err, sizeof err);
    if (!f->store) fail_msg("store: %s", err);
    sl_context ctx = {.cfg = &f->cfg, .store = f->store, .credentials = NULL};
    f->objects = sl_objects_new(&ctx, err, sizeof err);
    if (!f->objects) fail_msg("objects: %s", err);
    f->states.cfg = &f->cfg;
    f->states.store = f->store;
    f->states.objects = f->objects;
    sql(f, "INSERT INTO buckets (name, created_ms, region, config) VALUES ('b', 1, 'us-east-1',"
           " '{\"notification\":{\"EventBridgeConfiguration\":{}}}'),"
           " ('quiet', 1, 'us-east-1', '{}')");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sl_objects_free(f->objects);
    sl_store_close(f->store);
    sl_config_free(&f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static json_t *task(fixture *f, const char *action, const char *params_json, char **error,
                    char **cause) {
    json_error_t je;
    json_t *params = json_loads(params_json, 0, &je);
    if (!params) fail_msg("bad test JSON: %s: %s", params_json, je.text);
    *error = *cause = NULL;
    json_t *r = sfn_s3_task(&f->states, true, action, params, error, cause);
    json_decref(params);
    return r;
}

static json_t *ok(fixture *f, const char *action, const char *params_json) {
    char *error, *cause;
    json_t *r = task(f, action, params_json, &error, &cause);
    if (!r) fail_msg("%s failed: %s: %s", action, error, cause);
    return r;
}

static void expect_error(fixture *f, const char *action, const char *params_json,
                         const char *want) {
    char *error, *cause;
    json_t *r = task(f, action, params_json, &error, &cause);
    assert_null(r);
    assert_non_null(cause);
    if (strcmp(error, want) != 0) fail_msg("%s: want %s, got %s (%s)", action, want, error, cause);
    free(error);
    free(cause);
}

static const char *sget(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static long long iget(const json_t *o, const char *k) {
    return (long long)json_integer_value(json_object_get(o, k));
}

static int count_rows(fixture *f, const char *query) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(sl_store_reader(f->store), query, -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int count_blobs(fixture *f) {
    int n = 0;
    for (int i = 0; i < 256; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s/blobs/%02x", f->dir, i);
        DIR *d = opendir(p);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') n++;
        closedir(d);
    }
    return n;
}

static void put_raw(fixture *f, const char *bucket, const char *key, const void *body, size_t n) {
    sl_objects_put_args a = {
        .bucket = bucket, .key = key, .key_len = strlen(key), .body = body, .body_len = n};
    sl_objects_error e;
    if (sl_objects_put(f->objects, &a, NULL, &e) != 0) fail_msg("put: %s %s", e.code, e.message);
}

static json_t *parse(const char *data, const char *config_json, char *err, size_t errlen) {
    json_t *config = json_loads(config_json, 0, NULL);
    assert_non_null(config);
    json_t *items = sfn_items_parse(data, strlen(data), config, err, errlen);
    json_decref(config);
    return items;
}

static void assert_json(const json_t *got, const char *want_json) {
    json_t *want = json_loads(want_json, JSON_DECODE_ANY, NULL);
    assert_non_null(want);
    if (!json_equal((json_t *)got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("got %s\nwant %s", g, want_json);
    }
    json_decref(want);
}

/* ---- direct API and aws-sdk:s3 tasks ---- */

static void test_put_get_inline(void **state) {
    fixture *f = *state;
    json_t *r = ok(f, "putObject",
                   "{\"Bucket\":\"b\",\"Key\":\"a.txt\",\"Body\":\"hello\",\"ContentType\":"
                   "\"text/plain\",\"Metadata\":{\"Owner\":\"ann\"}}");
    assert_string_equal(sget(r, "ETag"), "\"5d41402abc4b2a76b9719d911017c592\"");
    json_decref(r);
    /* Like an HTTP PUT: the row is inline and the outbox has the event for the bucket's
     * notification configuration. */
    assert_int_equal(count_rows(f, "SELECT count(*) FROM objects WHERE key='a.txt' AND blob IS "
                                   "NULL AND data IS NOT NULL"),
                     1);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM outbox WHERE kind='s3' AND "
                                   "json_extract(payload,'$.api')='PutObject' AND "
                                   "json_extract(payload,'$.eventName')='ObjectCreated:Put' AND "
                                   "json_extract(payload,'$.sourceIp')='states.amazonaws.com'"),
                     1);
    r = ok(f, "getObject", "{\"Bucket\":\"b\",\"Key\":\"a.txt\"}");
    assert_string_equal(sget(r, "Body"), "hello");
    assert_int_equal(iget(r, "ContentLength"), 5);
    assert_string_equal(sget(r, "ContentType"), "text/plain");
    assert_string_equal(sget(r, "ETag"), "\"5d41402abc4b2a76b9719d911017c592\"");
    assert_string_equal(sget(json_object_get(r, "Metadata"), "owner"), "ann");
    const char *lm = sget(r, "LastModified");
    assert_non_null(lm);
    assert_int_equal(strlen(lm), 20); /* 2024-01-02T03:04:05Z */
    assert_int_equal(lm[19], 'Z');
    json_decref(r);
    r = ok(f, "headObject", "{\"Bucket\":\"b\",\"Key\":\"a.txt\"}");
    assert_null(json_object_get(r, "Body"));
    assert_int_equal(iget(r, "ContentLength"), 5);
    json_decref(r);
}

static void test_put_json_body_and_quiet_bucket(void **state) {
    fixture *f = *state;
    json_decref(ok(f, "putObject", "{\"Bucket\":\"quiet\",\"Key\":\"j\",\"Body\":{\"a\":[1,2]}}"));
    json_t *r = ok(f, "getObject", "{\"Bucket\":\"quiet\",\"Key\":\"j\"}");
    assert_string_equal(sget(r, "Body"), "{\"a\":[1,2]}");
    assert_string_equal(sget(r, "ContentType"), "binary/octet-stream");
    json_decref(r);
    /* No notification configuration and no trail: no outbox row, as for HTTP. */
    assert_int_equal(count_rows(f, "SELECT count(*) FROM outbox"), 0);
}

static void test_large_bodies_use_blobs(void **state) {
    fixture *f = *state;
    char big[1000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    put_raw(f, "b", "big", big, sizeof big);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM objects WHERE key='big' AND blob IS NOT "
                                   "NULL"),
                     1);
    assert_int_equal(count_blobs(f), 1);
    sl_object_info info;
    sl_objects_error e;
    assert_int_equal(sl_objects_get(f->objects, "b", "big", 3, 1 << 20, &info, &e), 0);
    assert_int_equal(info.size, sizeof big);
    assert_memory_equal(info.body, big, sizeof big);
    sl_object_info_free(&info);
    /* Too big for the caller's limit. */
    assert_int_equal(sl_objects_get(f->objects, "b", "big", 3, 10, &info, &e), -1);
    assert_string_equal(e.code, "EntityTooLarge");
    /* Replacing removes the old blob once the new row is durable; inline replaces too. */
    put_raw(f, "b", "big", big, sizeof big - 1);
    assert_int_equal(count_blobs(f), 1);
    put_raw(f, "b", "big", "small", 5);
    assert_int_equal(count_blobs(f), 0);
    /* Copies of blobs share data by link, and each row owns its blob. */
    put_raw(f, "b", "big", big, sizeof big);
    json_t *h = ok(f, "headObject", "{\"Bucket\":\"b\",\"Key\":\"big\"}");
    json_t *r = ok(f, "copyObject", "{\"Bucket\":\"b\",\"Key\":\"big2\",\"CopySource\":\"b/big\"}");
    assert_string_equal(sget(json_object_get(r, "CopyObjectResult"), "ETag"), sget(h, "ETag"));
    json_decref(r);
    json_decref(h);
    assert_int_equal(count_blobs(f), 2);
    json_decref(ok(f, "deleteObject", "{\"Bucket\":\"b\",\"Key\":\"big\"}"));
    assert_int_equal(count_blobs(f), 1);
    r = ok(f, "getObject", "{\"Bucket\":\"b\",\"Key\":\"big2\"}");
    assert_int_equal(json_string_length(json_object_get(r, "Body")), sizeof big);
    json_decref(r);
}

static void test_errors(void **state) {
    fixture *f = *state;
    char *error, *cause;
    json_t *r = task(f, "getObject", "{\"Bucket\":\"b\",\"Key\":\"nope\"}", &error, &cause);
    assert_null(r);
    assert_string_equal(error, "S3.NoSuchKeyException");
    assert_non_null(strstr(cause, "The specified key does not exist."));
    assert_non_null(strstr(cause, "Status Code: 404"));
    free(error);
    free(cause);
    expect_error(f, "getObject", "{\"Bucket\":\"nobucket\",\"Key\":\"k\"}",
                 "S3.NoSuchBucketException");
    expect_error(f, "putObject", "{\"Bucket\":\"nobucket\",\"Key\":\"k\",\"Body\":\"x\"}",
                 "S3.NoSuchBucketException");
    expect_error(f, "deleteObject", "{\"Bucket\":\"nobucket\",\"Key\":\"k\"}",
                 "S3.NoSuchBucketException");
    expect_error(f, "listObjectsV2", "{\"Bucket\":\"nobucket\"}", "S3.NoSuchBucketException");
    expect_error(f, "copyObject", "{\"Bucket\":\"b\",\"Key\":\"k\",\"CopySource\":\"b/nope\"}",
                 "S3.NoSuchKeyException");
    expect_error(f, "copyObject", "{\"Bucket\":\"b\",\"Key\":\"k\",\"CopySource\":\"nokey\"}",
                 "S3.InvalidArgumentException");
    expect_error(f, "listObjectsV2", "{\"Bucket\":\"b\",\"ContinuationToken\":\"!!\"}",
                 "S3.InvalidArgumentException");
    /* What Sluice cannot honour is refused, not ignored. */
    expect_error(f, "getObject", "{\"Bucket\":\"b\",\"Key\":\"k\",\"Range\":\"bytes=0-1\"}",
                 "States.Runtime");
    expect_error(f, "getObject", "{\"Bucket\":\"b\"}", "States.Runtime");
    expect_error(f, "putObject", "{\"Bucket\":\"b\",\"Key\":\"k\",\"Metadata\":{\"a\":1}}",
                 "States.Runtime");
    expect_error(f, "createBucket", "{\"Bucket\":\"b\"}", "States.Runtime");
    assert_true(sfn_s3_sdk_action_supported("listObjectsV2"));
    assert_false(sfn_s3_sdk_action_supported("createBucket"));
    assert_false(sfn_s3_action_supported("getObject"));
    json_t *p = json_pack("{s:s,s:s}", "Bucket", "b", "Key", "k");
    r = sfn_s3_task(&f->states, false, "getObject", p, &error, &cause);
    assert_null(r);
    assert_string_equal(error, "States.Runtime");
    free(error);
    free(cause);
    json_decref(p);
}

static void test_get_too_large_for_state(void **state) {
    fixture *f = *state;
    size_t n = SFN_DATA_LIMIT + 1;
    char *big = calloc(1, n);
    memset(big, 'x', n);
    put_raw(f, "b", "huge", big, n);
    free(big);
    expect_error(f, "getObject", "{\"Bucket\":\"b\",\"Key\":\"huge\"}", "States.DataLimitExceeded");
    json_t *r = ok(f, "headObject", "{\"Bucket\":\"b\",\"Key\":\"huge\"}");
    assert_int_equal(iget(r, "ContentLength"), (long long)n);
    json_decref(r);
}

static void test_binary_body_is_valid_utf8(void **state) {
    fixture *f = *state;
    put_raw(f, "b", "bin",
            "a\xff\xfe"
            "b",
            4);
    json_t *r = ok(f, "getObject", "{\"Bucket\":\"b\",\"Key\":\"bin\"}");
    assert_string_equal(sget(r, "Body"), "a\xEF\xBF\xBD\xEF\xBF\xBD"
                                         "b");
    json_decref(r);
}

static void test_copy(void **state) {
    fixture *f = *state;
    json_decref(ok(f, "putObject",
                   "{\"Bucket\":\"b\",\"Key\":\"src\",\"Body\":\"x\",\"ContentType\":\"a/b\","
                   "\"Metadata\":{\"m\":\"1\"}}"));
    json_t *r =
        ok(f, "copyObject", "{\"Bucket\":\"quiet\",\"Key\":\"dst\",\"CopySource\":\"/b/src\"}");
    assert_non_null(sget(json_object_get(r, "CopyObjectResult"), "LastModified"));
    json_decref(r);
    r = ok(f, "getObject", "{\"Bucket\":\"quiet\",\"Key\":\"dst\"}");
    assert_string_equal(sget(r, "Body"), "x");
    assert_string_equal(sget(r, "ContentType"), "a/b");
    assert_string_equal(sget(json_object_get(r, "Metadata"), "m"), "1");
    json_decref(r);
    expect_error(f, "copyObject", "{\"Bucket\":\"b\",\"Key\":\"src\",\"CopySource\":\"b/src\"}",
                 "S3.InvalidRequestException");
    json_decref(ok(f, "copyObject",
                   "{\"Bucket\":\"b\",\"Key\":\"src\",\"CopySource\":\"b%2Fsrc\","
                   "\"MetadataDirective\":\"REPLACE\",\"Metadata\":{\"n\":\"2\"}}"));
    r = ok(f, "headObject", "{\"Bucket\":\"b\",\"Key\":\"src\"}");
    assert_json(json_object_get(r, "Metadata"), "{\"n\":\"2\"}");
    assert_string_equal(sget(r, "ContentType"), "binary/octet-stream");
    json_decref(r);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM outbox WHERE "
                                   "json_extract(payload,'$.api')='CopyObject'"),
                     1); /* only the copy into 'b' publishes */
}

static void test_delete(void **state) {
    fixture *f = *state;
    put_raw(f, "b", "d1", "1", 1);
    put_raw(f, "b", "d2", "2", 1);
    json_t *r = ok(f, "deleteObject", "{\"Bucket\":\"b\",\"Key\":\"d1\"}");
    assert_json(r, "{}");
    json_decref(r);
    expect_error(f, "getObject", "{\"Bucket\":\"b\",\"Key\":\"d1\"}", "S3.NoSuchKeyException");
    json_decref(ok(f, "deleteObject", "{\"Bucket\":\"b\",\"Key\":\"d1\"}")); /* idempotent */
    r = ok(f, "deleteObjects",
           "{\"Bucket\":\"b\",\"Delete\":{\"Objects\":[{\"Key\":\"d2\"},{\"Key\":\"zz\"}]}}");
    assert_json(r, "{\"Deleted\":[{\"Key\":\"d2\"},{\"Key\":\"zz\"}]}");
    json_decref(r);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM objects WHERE bucket='b'"), 0);
    assert_int_equal(count_rows(f, "SELECT count(*) FROM outbox WHERE "
                                   "json_extract(payload,'$.eventName')='ObjectRemoved:Delete'"),
                     4);
}

static void test_list_v2(void **state) {
    fixture *f = *state;
    const char *keys[] = {"a/1", "a/2", "a/b/3", "c", "d/4", "e"};
    for (size_t i = 0; i < 6; i++) put_raw(f, "quiet", keys[i], "z", 1);
    json_t *r = ok(f, "listObjectsV2", "{\"Bucket\":\"quiet\",\"Delimiter\":\"/\"}");
    assert_int_equal(iget(r, "KeyCount"), 4);
    assert_json(json_object_get(r, "CommonPrefixes"), "[{\"Prefix\":\"a/\"},{\"Prefix\":\"d/\"}]");
    json_t *c0 = json_array_get(json_object_get(r, "Contents"), 0);
    assert_string_equal(sget(c0, "Key"), "c");
    assert_int_equal(iget(c0, "Size"), 1);
    assert_string_equal(sget(c0, "StorageClass"), "STANDARD");
    assert_string_equal(sget(c0, "ETag"), "\"fbade9e36a3f36d3d676c1b808451dd7\"");
    assert_false(json_is_true(json_object_get(r, "IsTruncated")));
    assert_string_equal(sget(r, "Name"), "quiet");
    assert_string_equal(sget(r, "Prefix"), "");
    assert_string_equal(sget(r, "Delimiter"), "/");
    json_decref(r);

    /* Paging with MaxKeys and the continuation token visits every key once. */
    char params[256];
    char token[128] = "";
    size_t seen = 0;
    for (int page = 0; page < 10; page++) {
        if (token[0])
            snprintf(params, sizeof params,
                     "{\"Bucket\":\"quiet\",\"MaxKeys\":4,\"ContinuationToken\":\"%s\"}", token);
        else snprintf(params, sizeof params, "{\"Bucket\":\"quiet\",\"MaxKeys\":4}");
        r = ok(f, "listObjectsV2", params);
        json_t *contents = json_object_get(r, "Contents");
        for (size_t i = 0; i < json_array_size(contents); i++)
            assert_string_equal(sget(json_array_get(contents, i), "Key"), keys[seen + i]);
        seen += json_array_size(contents);
        assert_int_equal(iget(r, "MaxKeys"), 4);
        bool more = json_is_true(json_object_get(r, "IsTruncated"));
        const char *next = sget(r, "NextContinuationToken");
        assert_int_equal(more, next != NULL);
        snprintf(token, sizeof token, "%s", next ? next : "");
        json_decref(r);
        if (!more) break;
    }
    assert_int_equal(seen, 6);

    r = ok(f, "listObjectsV2", "{\"Bucket\":\"quiet\",\"Prefix\":\"a/\",\"StartAfter\":\"a/1\"}");
    assert_int_equal(iget(r, "KeyCount"), 2);
    assert_string_equal(sget(r, "StartAfter"), "a/1");
    json_decref(r);
    r = ok(f, "listObjectsV2", "{\"Bucket\":\"quiet\",\"Prefix\":\"zzz\"}");
    assert_int_equal(iget(r, "KeyCount"), 0);
    assert_null(json_object_get(r, "Contents"));
    json_decref(r);

    r = ok(f, "listObjects", "{\"Bucket\":\"quiet\",\"Delimiter\":\"/\",\"MaxKeys\":2}");
    assert_true(json_is_true(json_object_get(r, "IsTruncated")));
    assert_string_equal(sget(r, "NextMarker"), "c");
    assert_string_equal(sget(r, "Marker"), "");
    json_decref(r);
    r = ok(f, "listObjects", "{\"Bucket\":\"quiet\",\"Delimiter\":\"/\",\"Marker\":\"c\"}");
    assert_json(json_object_get(r, "CommonPrefixes"), "[{\"Prefix\":\"d/\"}]");
    assert_int_equal(json_array_size(json_object_get(r, "Contents")), 1);
    json_decref(r);
}

/* ---- item parsing ---- */

static void test_csv_documented_example(void **state) {
    (void)state;
    char err[256];
    /* AWS's own example: quotes around a field with commas, "" and a newline; doubled quotes
     * in an unquoted field. */
    const char *csv = "abc,123,\"This string contains commas, a double quotation marks (\"\"), "
                      "and a newline (\n)\",{\"\"MyKey\"\":\"\"MyValue\"\"},\"[1,2,3]\"\n";
    json_t *items = parse(csv,
                          "{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"GIVEN\",\"CSVHeaders\":"
                          "[\"MyLetters\",\"MyNumbers\",\"MyString\",\"MyObject\",\"MyArray\"]}",
                          err, sizeof err);
    assert_non_null(items);
    assert_json(items, "[{\"MyLetters\":\"abc\",\"MyNumbers\":\"123\",\"MyString\":\"This string "
                       "contains commas, a double quotation marks (\\\"), and a newline "
                       "(\\n)\",\"MyObject\":\"{\\\"MyKey\\\":\\\"MyValue\\\"}\",\"MyArray\":"
                       "\"[1,2,3]\"}]");
    json_decref(items);
}

static void test_csv_rules(void **state) {
    (void)state;
    char err[256];
    static const struct {
        const char *data, *config, *want;
    } cases[] = {
        /* header from the first row; short rows padded, extra fields skipped; CRLF; blank
         * lines and a trailing newline make no records */
        {"a,b\r\n1,2\r\n\r\n3\n4,5,6\n",
         "{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"FIRST_ROW\"}",
         "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"\"},{\"a\":\"4\",\"b\":\"5\"}]"},
        /* FIRST_ROW is the default */
        {"x\n1\n", "{\"InputType\":\"CSV\"}", "[{\"x\":\"1\"}]"},
        /* backslashes escape themselves, quotes and the delimiter; otherwise vanish */
        {"path,size\nC:\\\\Program Files\\\\MyApp.exe,6534512\na\\,b,\\q\\\"\n",
         "{\"InputType\":\"CSV\"}",
         "[{\"path\":\"C:\\\\Program Files\\\\MyApp.exe\",\"size\":\"6534512\"},"
         "{\"path\":\"a,b\",\"size\":\"q\\\"\"}]"},
        /* other delimiters; an empty quoted field */
        {"a|b\n\"\"|x y\n", "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"PIPE\"}",
         "[{\"a\":\"\",\"b\":\"x y\"}]"},
        {"a\tb\n1\t2\n", "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"TAB\"}",
         "[{\"a\":\"1\",\"b\":\"2\"}]"},
        {"a;b\n1;2\n", "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"SEMICOLON\"}",
         "[{\"a\":\"1\",\"b\":\"2\"}]"},
        {"a b\n1 2\n", "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"SPACE\"}",
         "[{\"a\":\"1\",\"b\":\"2\"}]"},
        /* MaxItems counts data rows, not the header */
        {"h\n1\n2\n3\n", "{\"InputType\":\"CSV\",\"MaxItems\":2}", "[{\"h\":\"1\"},{\"h\":\"2\"}]"},
        /* only a header: no items */
        {"h1,h2\n", "{\"InputType\":\"CSV\"}", "[]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *items = parse(cases[i].data, cases[i].config, err, sizeof err);
        if (!items) fail_msg("case %zu: %s", i, err);
        assert_json(items, cases[i].want);
        json_decref(items);
    }
}

static void test_parse_errors(void **state) {
    (void)state;
    char err[256];
    static const struct {
        const char *data, *config, *msg;
    } cases[] = {
        {"a\n\"open\n", "{\"InputType\":\"CSV\"}", "unclosed quote"},
        {"", "{\"InputType\":\"CSV\"}", "no header row"},
        {"1\n", "{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"GIVEN\"}", "CSVHeaders"},
        {"1\n", "{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"MIDDLE\"}", "FIRST_ROW or GIVEN"},
        {"1\n", "{\"InputType\":\"CSV\",\"CSVDelimiter\":\"COLON\"}", "CSVDelimiter"},
        {"{\"a\":1}", "{\"InputType\":\"JSON\"}", "array"},
        {"[1,", "{\"InputType\":\"JSON\"}", "not valid JSON"},
        {"{\"a\":{\"b\":1}}", "{\"InputType\":\"JSON\",\"ItemsPointer\":\"/a/b\"}", "/a/b"},
        {"1\n{oops\n", "{\"InputType\":\"JSONL\"}", "Line 2"},
        {"[]", "{\"InputType\":\"PARQUET\"}", "PARQUET"},
        {"[]", "{}", "InputType"},
        {"[]", "{\"InputType\":\"JSON\",\"MaxItems\":-1}", "MaxItems"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *items = parse(cases[i].data, cases[i].config, err, sizeof err);
        if (items) fail_msg("case %zu parsed", i);
        if (!strstr(err, cases[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
    }
    /* Headers over 10 KiB */
    char *big = malloc(11 * 1024 + 3);
    memset(big, 'h', 11 * 1024);
    strcpy(big + 11 * 1024, "\n1");
    assert_null(parse(big, "{\"InputType\":\"CSV\"}", err, sizeof err));
    assert_non_null(strstr(err, "10 KiB"));
    free(big);
}

static void test_json_and_jsonl(void **state) {
    (void)state;
    char err[256];
    json_t *items = parse("[1,{\"a\":\"b\"},[2],\"s\",null]",
                          "{\"InputType\":\"JSON\",\"MaxItems\":4}", err, sizeof err);
    assert_json(items, "[1,{\"a\":\"b\"},[2],\"s\"]");
    json_decref(items);
    items = parse("{\"data\":{\"list\":[7,8]}}",
                  "{\"InputType\":\"JSON\",\"ItemsPointer\":\"/data/list\"}", err, sizeof err);
    assert_json(items, "[7,8]");
    json_decref(items);
    items = parse("{\"a\":1}\n\n  [2]  \r\n\"x\"\n4", "{\"InputType\":\"JSONL\"}", err, sizeof err);
    assert_json(items, "[{\"a\":1},[2],\"x\",4]");
    json_decref(items);
    items = parse("1\n2\n{broken", "{\"InputType\":\"JSONL\",\"MaxItems\":2}", err, sizeof err);
    assert_json(items, "[1,2]"); /* reading stops at MaxItems */
    json_decref(items);
}

/* ---- ItemReader / ResultWriter ---- */

static json_t *read_items(fixture *f, const char *reader_json, const char *params_json,
                          char **error, char **cause) {
    json_t *reader = json_loads(reader_json, 0, NULL), *params = json_loads(params_json, 0, NULL);
    assert_non_null(reader);
    assert_non_null(params);
    json_t *items = sfn_s3_read_items(&f->states, reader, params, error, cause);
    json_decref(reader);
    json_decref(params);
    return items;
}

static void test_item_reader_get_object(void **state) {
    fixture *f = *state;
    const char *csv = "name,age\nann,31\nbob,42\n";
    put_raw(f, "quiet", "people.csv", csv, strlen(csv));
    char *error, *cause;
    json_t *items = read_items(f,
                               "{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":"
                               "{\"InputType\":\"CSV\",\"CSVHeaderLocation\":\"FIRST_ROW\"}}",
                               "{\"Bucket\":\"quiet\",\"Key\":\"people.csv\"}", &error, &cause);
    assert_non_null(items);
    assert_json(items, "[{\"name\":\"ann\",\"age\":\"31\"},{\"name\":\"bob\",\"age\":\"42\"}]");
    json_decref(items);

    items = read_items(f,
                       "{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":"
                       "{\"InputType\":\"JSON\"}}",
                       "{\"Bucket\":\"quiet\",\"Key\":\"missing.json\"}", &error, &cause);
    assert_null(items);
    assert_string_equal(error, "States.ItemReaderFailed");
    assert_non_null(strstr(cause, "NoSuchKey"));
    free(error);
    free(cause);
    items = read_items(f,
                       "{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":"
                       "{\"InputType\":\"JSON\"}}",
                       "{\"Bucket\":\"quiet\",\"Key\":\"people.csv\"}", &error, &cause);
    assert_null(items);
    assert_string_equal(error, "States.ItemReaderFailed");
    assert_non_null(strstr(cause, "s3://quiet/people.csv"));
    free(error);
    free(cause);
    items = read_items(f, "{\"Resource\":\"arn:aws:states:::s3:getObjectV9\"}",
                       "{\"Bucket\":\"quiet\",\"Key\":\"people.csv\"}", &error, &cause);
    assert_null(items);
    assert_string_equal(error, "States.ItemReaderFailed");
    free(error);
    free(cause);
}

static void test_item_reader_listing(void **state) {
    fixture *f = *state;
    put_raw(f, "quiet", "img/1.jpg", "one", 3);
    put_raw(f, "quiet", "img/2.jpg", "two!", 4);
    put_raw(f, "quiet", "other", "x", 1);
    char *error, *cause;
    json_t *items = read_items(f, "{\"Resource\":\"arn:aws:states:::s3:listObjectsV2\"}",
                               "{\"Bucket\":\"quiet\",\"Prefix\":\"img/\"}", &error, &cause);
    assert_non_null(items);
    assert_int_equal(json_array_size(items), 2);
    json_t *it = json_array_get(items, 1);
    /* The documented child input: Etag (that casing), Key, LastModified in epoch seconds. */
    assert_string_equal(sget(it, "Key"), "img/2.jpg");
    assert_int_equal(iget(it, "Size"), 4);
    assert_string_equal(sget(it, "StorageClass"), "STANDARD");
    assert_non_null(sget(it, "Etag"));
    assert_int_equal(sget(it, "Etag")[0], '"');
    assert_true(json_is_integer(json_object_get(it, "LastModified")));
    assert_true(iget(it, "LastModified") > 1600000000 && iget(it, "LastModified") < 4000000000);
    assert_int_equal(json_object_size(it), 5);
    json_decref(items);
    items = read_items(f,
                       "{\"Resource\":\"arn:aws:states:::s3:listObjectsV2\",\"ReaderConfig\":"
                       "{\"MaxItems\":1}}",
                       "{\"Bucket\":\"quiet\"}", &error, &cause);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
}

static void test_item_reader_listing_pages(void **state) {
    fixture *f = *state;
    for (int i = 0; i < 1005; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%04d", i);
        put_raw(f, "quiet", key, "", 0);
    }
    char *error, *cause;
    json_t *items = read_items(f, "{\"Resource\":\"arn:aws:states:::s3:listObjectsV2\"}",
                               "{\"Bucket\":\"quiet\"}", &error, &cause);
    assert_int_equal(json_array_size(items), 1005);
    assert_string_equal(sget(json_array_get(items, 1004), "Key"), "k1004");
    json_decref(items);
}

static size_t gzip_text(const char *in, unsigned char *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)strlen(in);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static void test_item_reader_manifest(void **state) {
    fixture *f = *state;
    unsigned char gz[512];
    size_t n = gzip_text("\"src\",\"a.txt\",\"3\"\n\"src\",\"b.txt\",\"5\"\n", gz, sizeof gz);
    put_raw(f, "quiet", "inv/data/1.csv.gz", gz, n);
    const char *plain = "\"src\",\"c.txt\",\"7\"\n";
    put_raw(f, "quiet", "inv/data/2.csv", plain, strlen(plain));
    const char *manifest =
        "{\"sourceBucket\":\"src\",\"destinationBucket\":\"arn:aws:s3:::quiet\",\"version\":"
        "\"2016-11-30\",\"fileFormat\":\"CSV\",\"fileSchema\":\"Bucket, Key, Size\",\"files\":"
        "[{\"key\":\"inv/data/1.csv.gz\",\"size\":1},{\"key\":\"inv/data/2.csv\",\"size\":1}]}";
    put_raw(f, "quiet", "inv/manifest.json", manifest, strlen(manifest));
    char *error, *cause;
    json_t *items =
        read_items(f,
                   "{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":"
                   "{\"InputType\":\"MANIFEST\"}}",
                   "{\"Bucket\":\"quiet\",\"Key\":\"inv/manifest.json\"}", &error, &cause);
    if (!items) fail_msg("%s: %s", error, cause);
    assert_json(items, "[{\"Bucket\":\"src\",\"Key\":\"a.txt\",\"Size\":\"3\"},"
                       "{\"Bucket\":\"src\",\"Key\":\"b.txt\",\"Size\":\"5\"},"
                       "{\"Bucket\":\"src\",\"Key\":\"c.txt\",\"Size\":\"7\"}]");
    json_decref(items);
    items = read_items(f,
                       "{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":"
                       "{\"InputType\":\"MANIFEST\",\"MaxItems\":2}}",
                       "{\"Bucket\":\"quiet\",\"Key\":\"inv/manifest.json\"}", &error, &cause);
    assert_int_equal(json_array_size(items), 2);
    json_decref(items);
    items = read_items(f,
                       "{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":"
                       "{\"InputType\":\"MANIFEST\"}}",
                       "{\"Bucket\":\"quiet\",\"Key\":\"inv/data/2.csv\"}", &error, &cause);
    assert_null(items);
    assert_string_equal(error, "States.ItemReaderFailed");
    free(error);
    free(cause);
}

static void test_result_writer(void **state) {
    fixture *f = *state;
    const char *arn = "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:"
                      "ad9b5f27-090b-3ac6-9beb-243cd77144a7";
    json_t *results = json_loads(
        "[{\"Index\":0,\"Status\":\"SUCCEEDED\",\"Output\":{\"x\":1},\"Input\":{\"i\":0}},"
        "{\"Index\":1,\"Status\":\"FAILED\",\"Error\":\"E\",\"Cause\":\"C\"},"
        "{\"Index\":2,\"Status\":\"SUCCEEDED\",\"Output\":\"text\"}]",
        0, NULL);
    json_t *params = json_pack("{s:s,s:s}", "Bucket", "quiet", "Prefix", "jobs");
    char *error, *cause;
    json_t *d = sfn_s3_write_results(&f->states, params, arn, results, &error, &cause);
    if (!d) fail_msg("%s: %s", error, cause);
    assert_json(d, "{\"Bucket\":\"quiet\",\"Key\":"
                   "\"jobs/ad9b5f27-090b-3ac6-9beb-243cd77144a7/manifest.json\"}");
    json_decref(d);

    json_t *r = ok(f, "getObject",
                   "{\"Bucket\":\"quiet\",\"Key\":"
                   "\"jobs/ad9b5f27-090b-3ac6-9beb-243cd77144a7/manifest.json\"}");
    json_t *m = json_loads(sget(r, "Body"), 0, NULL);
    json_decref(r);
    assert_string_equal(sget(m, "DestinationBucket"), "quiet");
    assert_string_equal(sget(m, "MapRunArn"), arn);
    json_t *files = json_object_get(m, "ResultFiles");
    assert_int_equal(json_array_size(json_object_get(files, "PENDING")), 0);
    json_t *ok0 = json_array_get(json_object_get(files, "SUCCEEDED"), 0);
    assert_string_equal(sget(ok0, "Key"),
                        "jobs/ad9b5f27-090b-3ac6-9beb-243cd77144a7/SUCCEEDED_0.json");
    json_t *failed0 = json_array_get(json_object_get(files, "FAILED"), 0);
    assert_string_equal(sget(failed0, "Key"),
                        "jobs/ad9b5f27-090b-3ac6-9beb-243cd77144a7/FAILED_0.json");

    sl_object_info info;
    sl_objects_error e;
    const char *k = sget(ok0, "Key");
    assert_int_equal(sl_objects_get(f->objects, "quiet", k, strlen(k), 1 << 20, &info, &e), 0);
    assert_int_equal(iget(ok0, "Size"), (long long)info.size);
    json_t *succeeded = json_loads(info.body, 0, NULL);
    assert_string_equal(info.content_type, "application/json");
    sl_object_info_free(&info);
    assert_json(succeeded, "[{\"Status\":\"SUCCEEDED\",\"Output\":\"{\\\"x\\\":1}\","
                           "\"OutputDetails\":{\"Included\":true},\"Input\":\"{\\\"i\\\":0}\","
                           "\"InputDetails\":{\"Included\":true}},"
                           "{\"Status\":\"SUCCEEDED\",\"Output\":\"text\","
                           "\"OutputDetails\":{\"Included\":true}}]");
    json_decref(succeeded);
    json_decref(m);

    /* No prefix: the run's directory sits at the bucket's root; a trailing '/' is not doubled. */
    json_object_set_new(params, "Prefix", json_string("out/"));
    d = sfn_s3_write_results(&f->states, params, "arn:aws:states:r:1:mapRun:m/Map:id2", results,
                             &error, &cause);
    assert_string_equal(sget(d, "Key"), "out/id2/manifest.json");
    json_decref(d);
    json_object_del(params, "Prefix");
    d = sfn_s3_write_results(&f->states, params, "arn:aws:states:r:1:mapRun:m/Map:id3", results,
                             &error, &cause);
    assert_string_equal(sget(d, "Key"), "id3/manifest.json");
    json_decref(d);

    json_object_set_new(params, "Bucket", json_string("nobucket"));
    d = sfn_s3_write_results(&f->states, params, arn, results, &error, &cause);
    assert_null(d);
    assert_string_equal(error, "States.ResultWriterFailed");
    assert_non_null(strstr(cause, "NoSuchBucket"));
    free(error);
    free(cause);
    json_decref(params);
    json_decref(results);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_json_body_and_quiet_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_bodies_use_blobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_too_large_for_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_body_is_valid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_v2, setup, teardown),
        cmocka_unit_test(test_csv_documented_example),
        cmocka_unit_test(test_csv_rules),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_json_and_jsonl),
        cmocka_unit_test_setup_teardown(test_item_reader_get_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_reader_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_reader_listing_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_reader_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_writer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
