/* s3_tasks: Step Functions' S3 integrations on the in-process object store (objects/direct.h):
 *   - arn:aws:states:::aws-sdk:s3:<action> Task states: getObject, headObject, putObject,
 *     copyObject, deleteObject, deleteObjects, listObjects, listObjectsV2, with the SDK's
 *     PascalCase parameters and results;
 *   - a distributed Map's ItemReader (arn:aws:states:::s3:getObject with InputType JSON, JSONL,
 *     CSV or MANIFEST; arn:aws:states:::s3:listObjectsV2) and ResultWriter
 *     (arn:aws:states:::s3:putObject: manifest.json + <STATUS>_0.json).
 *
 * AWS has no optimized (arn:aws:states:::s3:*) Task integration: those ARNs exist only inside
 * ItemReader and ResultWriter, so sfn_s3_action_supported answers false and Task states must
 * use aws-sdk:s3. Errors follow AWS's rule for SDK integrations: "S3." + the S3 error code +
 * "Exception" (S3.NoSuchKeyException, S3.NoSuchBucketException), the suffix added even where
 * S3's own code lacks it. Parameters Sluice cannot honour fail with States.Runtime instead of
 * being ignored. This file parses item files but never touches HTTP or SQL. */
#include "states/s3_tasks.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/ids.h"
#include "objects/direct.h"
#include "states/states_internal.h"

/* The largest object an ItemReader reads (after decompression, for inventory files): the
 * reader holds it in memory. */
#define ITEM_READER_MAX_BYTES (64u << 20)
#define CSV_HEADER_MAX_BYTES  (10u * 1024)

static void set_error(char **error, char **cause, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(char **error, char **cause, const char *name, const char *fmt, ...) {
    sl_buf b;
    sl_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sl_buf_puts(&b, tmp);
    *error = sl_xstrdup(name);
    *cause = sl_buf_steal(&b);
}

/* ---- text helpers ---- */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, at
 * most U+10FFFF), or 0 when malformed. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min, cp;
    if ((c & 0xE0) == 0xC0) len = 2, min = 0x80, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000, cp = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* Appends s as valid UTF-8, each malformed byte becoming U+FFFD (as a string-typed Body is
 * decoded by the SDK). */
static void append_utf8(sl_buf *b, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k) {
            sl_buf_append(b, p + i, k);
            i += k;
        } else {
            sl_buf_append(b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

static json_t *json_text(const char *s, size_t n) {
    json_t *v = json_stringn(s, n);
    if (v) return v;
    sl_buf b;
    sl_buf_init(&b);
    append_utf8(&b, s, n);
    v = json_stringn(b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    return v;
}

/* "2024-01-02T03:04:05Z": how the SDK integration renders timestamps. */
static json_t *json_time(int64_t ms) {
    char t[32];
    sl_time_iso8601_ms(ms, t);
    t[19] = 'Z';
    t[20] = 0;
    return json_string(t);
}

/* ---- errors from the object store ---- */

static int s3_status_of(const char *code) {
    if (!strcmp(code, "NoSuchKey") || !strcmp(code, "NoSuchBucket")) return 404;
    if (!strcmp(code, "InternalError")) return 500;
    if (!strcmp(code, "InsufficientStorage")) return 507;
    return 400;
}

/* AWS's rule for SDK integrations: ServiceName.ErrorName, with an Exception suffix always. */
static void s3_failed(const sl_objects_error *e, char **error, char **cause) {
    size_t n = strlen(e->code);
    bool has_suffix = n >= 9 && !strcmp(e->code + n - 9, "Exception");
    char name[96], rid[33];
    snprintf(name, sizeof name, "S3.%s%s", e->code, has_suffix ? "" : "Exception");
    sl_id_request(rid);
    set_error(error, cause, name, "%s (Service: S3, Status Code: %d, Request ID: %s)", e->message,
              s3_status_of(e->code), rid);
}

/* ---- parameters ---- */

static const char *str_param(json_t *params, const char *name) {
    return json_string_value(json_object_get(params, name));
}

/* Fails with States.Runtime when params holds a field not in allowed (or the always-harmless
 * ones): Sluice refuses what it would otherwise silently ignore. */
static bool params_known(json_t *params, const char *action, const char *const *allowed,
                         char **error, char **cause) {
    static const char *const harmless[] = {"ExpectedBucketOwner", "RequestPayer", "ChecksumMode",
                                           "ExpectedSourceBucketOwner", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = !strcmp(k, allowed[i]);
        for (size_t i = 0; harmless[i] && !ok; i++) ok = !strcmp(k, harmless[i]);
        if (!ok) {
            set_error(error, cause, "States.Runtime",
                      "Sluice's aws-sdk:s3:%s does not support the parameter '%s'", action, k);
            return false;
        }
    }
    return true;
}

static bool require_str(json_t *params, const char *name, const char *action, const char **out,
                        char **error, char **cause) {
    json_t *v = json_object_get(params, name);
    if (!json_is_string(v) || !json_string_length(v)) {
        set_error(error, cause, "States.Runtime",
                  "aws-sdk:s3:%s needs the parameter '%s' as a non-empty string", action, name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool optional_str(json_t *params, const char *name, const char *action, const char **out,
                         char **error, char **cause) {
    json_t *v = json_object_get(params, name);
    *out = NULL;
    if (!v || json_is_null(v)) return true;
    if (!json_is_string(v)) {
        set_error(error, cause, "States.Runtime", "aws-sdk:s3:%s: '%s' must be a string", action,
                  name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool metadata_param(json_t *params, const char *action, json_t **out, char **error,
                           char **cause) {
    json_t *m = json_object_get(params, "Metadata");
    *out = NULL;
    if (!m || json_is_null(m)) return true;
    bool ok = json_is_object(m);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) ok = ok && json_is_string(v);
    if (!ok) {
        set_error(error, cause, "States.Runtime",
                  "aws-sdk:s3:%s: Metadata must be an object of string values", action);
        return false;
    }
    *out = m;
    return true;
}

/* ---- actions ---- */

static void add_object_fields(json_t *r, const sl_object_info *info) {
    json_object_set_new(r, "AcceptRanges", json_string("bytes"));
    json_object_set_new(r, "ContentLength", json_integer((json_int_t)info->size));
    json_object_set_new(r, "ContentType", json_string(info->content_type));
    json_object_set_new(r, "ETag", json_string(info->etag));
    json_object_set_new(r, "LastModified", json_time(info->last_modified_ms));
    json_object_set(r, "Metadata", info->metadata);
    static const struct {
        const char *header, *field;
    } stored[] = {{"Cache-Control", "CacheControl"},
                  {"Content-Disposition", "ContentDisposition"},
                  {"Content-Encoding", "ContentEncoding"},
                  {"Content-Language", "ContentLanguage"},
                  {"Expires", "Expires"},
                  {"x-amz-website-redirect-location", "WebsiteRedirectLocation"},
                  {"x-amz-storage-class", "StorageClass"}};
    for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++) {
        json_t *v = json_object_get(info->headers, stored[i].header);
        if (json_is_string(v)) json_object_set(r, stored[i].field, v);
    }
}

static json_t *get_object(sl_states *s, json_t *params, bool head, char **error, char **cause) {
    static const char *const allowed[] = {"Bucket", "Key", NULL};
    const char *action = head ? "headObject" : "getObject";
    const char *bucket, *key;
    if (!params_known(params, action, allowed, error, cause) ||
        !require_str(params, "Bucket", action, &bucket, error, cause) ||
        !require_str(params, "Key", action, &key, error, cause))
        return NULL;
    sl_object_info info;
    sl_objects_error e;
    int rc = head ? sl_objects_head(s->objects, bucket, key, strlen(key), &info, &e)
                  : sl_objects_get(s->objects, bucket, key, strlen(key), SFN_DATA_LIMIT, &info, &e);
    if (rc != 0) {
        if (!strcmp(e.code, "EntityTooLarge")) {
            set_error(error, cause, "States.DataLimitExceeded",
                      "The object s3://%s/%s is larger than a state's %d-byte payload limit",
                      bucket, key, SFN_DATA_LIMIT);
            return NULL;
        }
        s3_failed(&e, error, cause);
        return NULL;
    }
    json_t *r = json_object();
    if (!head) json_object_set_new(r, "Body", json_text(info.body, (size_t)info.size));
    add_object_fields(r, &info);
    sl_object_info_free(&info);
    return r;
}

static json_t *put_object(sl_states *s, json_t *params, char **error, char **cause) {
    static const char *const allowed[] = {"Bucket", "Key", "Body", "ContentType", "Metadata", NULL};
    const char *bucket, *key, *ctype;
    json_t *meta;
    if (!params_known(params, "putObject", allowed, error, cause) ||
        !require_str(params, "Bucket", "putObject", &bucket, error, cause) ||
        !require_str(params, "Key", "putObject", &key, error, cause) ||
        !optional_str(params, "ContentType", "putObject", &ctype, error, cause) ||
        !metadata_param(params, "putObject", &meta, error, cause))
        return NULL;
    /* Body: a string is stored as is; any other JSON value as its serialization. */
    json_t *body = json_object_get(params, "Body");
    char *dumped = NULL;
    const char *data = "";
    size_t len = 0;
    if (json_is_string(body)) {
        data = json_string_value(body);
        len = json_string_length(body);
    } else if (body && !json_is_null(body)) {
        dumped = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        data = dumped;
        len = strlen(dumped);
    }
    sl_objects_put_args a = {.bucket = bucket,
                             .key = key,
                             .key_len = strlen(key),
                             .body = data,
                             .body_len = len,
                             .content_type = ctype,
                             .metadata = meta};
    sl_object_info info;
    sl_objects_error e;
    int rc = sl_objects_put(s->objects, &a, &info, &e);
    free(dumped);
    if (rc != 0) {
        s3_failed(&e, error, cause);
        return NULL;
    }
    json_t *r = json_pack("{s:s}", "ETag", info.etag);
    sl_object_info_free(&info);
    return r;
}

/* CopySource: "bucket/key" (a leading '/' allowed), URL-encoded as S3 expects. */
static bool parse_copy_source(const char *src, char **bucket, char **key, size_t *key_len,
                              char **error, char **cause) {
    size_t n = strlen(src);
    const char *q = strstr(src, "?versionId=");
    if (q) {
        if (strcmp(q + 11, "null") != 0) {
            sl_objects_error e = {"NoSuchVersion", "The specified version does not exist."};
            s3_failed(&e, error, cause);
            return false;
        }
        n = (size_t)(q - src);
    }
    char *dec = sl_xmalloc(n + 1);
    long dn = sl_uri_decode(src, n, dec, false);
    const char *p = dec;
    if (dn > 0 && *p == '/') p++, dn--;
    const char *slash = dn > 0 ? memchr(p, '/', (size_t)dn) : NULL;
    if (dn < 0 || !slash || slash == p || (size_t)dn == (size_t)(slash - p) + 1) {
        free(dec);
        sl_objects_error e = {
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"};
        s3_failed(&e, error, cause);
        return false;
    }
    *bucket = sl_xstrndup(p, (size_t)(slash - p));
    *key_len = (size_t)dn - (size_t)(slash - p) - 1;
    *key = sl_xstrndup(slash + 1, *key_len);
    free(dec);
    return true;
}

static json_t *copy_object(sl_states *s, json_t *params, char **error, char **cause) {
    static const char *const allowed[] = {
        "Bucket", "Key", "CopySource", "ContentType", "Metadata", "MetadataDirective", NULL};
    const char *bucket, *key, *src, *ctype, *directive;
    json_t *meta;
    if (!params_known(params, "copyObject", allowed, error, cause) ||
        !require_str(params, "Bucket", "copyObject", &bucket, error, cause) ||
        !require_str(params, "Key", "copyObject", &key, error, cause) ||
        !require_str(params, "CopySource", "copyObject", &src, error, cause) ||
        !optional_str(params, "ContentType", "copyObject", &ctype, error, cause) ||
        !optional_str(params, "MetadataDirective", "copyObject", &directive, error, cause) ||
        !metadata_param(params, "copyObject", &meta, error, cause))
        return NULL;
    if (directive && strcmp(directive, "COPY") && strcmp(directive, "REPLACE")) {
        sl_objects_error e = {"InvalidArgument", "Unknown metadata directive."};
        s3_failed(&e, error, cause);
        return NULL;
    }
    char *sb, *sk;
    size_t sklen;
    if (!parse_copy_source(src, &sb, &sk, &sklen, error, cause)) return NULL;
    sl_objects_copy_args a = {.src_bucket = sb,
                              .src_key = sk,
                              .src_key_len = sklen,
                              .bucket = bucket,
                              .key = key,
                              .key_len = strlen(key),
                              .replace_metadata = directive && !strcmp(directive, "REPLACE"),
                              .content_type = ctype,
                              .metadata = meta};
    sl_object_info info;
    sl_objects_error e;
    int rc = sl_objects_copy(s->objects, &a, &info, &e);
    free(sb);
    free(sk);
    if (rc != 0) {
        s3_failed(&e, error, cause);
        return NULL;
    }
    json_t *r = json_pack("{s:{s:s,s:o}}", "CopyObjectResult", "ETag", info.etag, "LastModified",
                          json_time(info.last_modified_ms));
    sl_object_info_free(&info);
    return r;
}

static json_t *delete_object(sl_states *s, json_t *params, char **error, char **cause) {
    static const char *const allowed[] = {"Bucket", "Key", NULL};
    const char *bucket, *key;
    if (!params_known(params, "deleteObject", allowed, error, cause) ||
        !require_str(params, "Bucket", "deleteObject", &bucket, error, cause) ||
        !require_str(params, "Key", "deleteObject", &key, error, cause))
        return NULL;
    sl_objects_error e;
    if (sl_objects_delete(s->objects, bucket, key, strlen(key), NULL, &e) != 0) {
        s3_failed(&e, error, cause);
        return NULL;
    }
    return json_object();
}

static json_t *delete_objects(sl_states *s, json_t *params, char **error, char **cause) {
    static const char *const allowed[] = {"Bucket", "Delete", NULL};
    const char *bucket;
    if (!params_known(params, "deleteObjects", allowed, error, cause) ||
        !require_str(params, "Bucket", "deleteObjects", &bucket, error, cause))
        return NULL;
    json_t *del = json_object_get(params, "Delete");
    json_t *objs = json_object_get(del, "Objects");
    size_t n = json_array_size(objs);
    if (!json_is_array(objs) || n == 0 || n > 1000) {
        sl_objects_error e = {"MalformedXML", "The XML you provided was not well-formed or did "
                                              "not validate against our published schema"};
        s3_failed(&e, error, cause);
        return NULL;
    }
    size_t i;
    json_t *ob;
    json_array_foreach(objs, i, ob) {
        if (!json_is_string(json_object_get(ob, "Key"))) {
            set_error(error, cause, "States.Runtime",
                      "aws-sdk:s3:deleteObjects: every Delete.Objects entry needs a Key");
            return NULL;
        }
    }
    bool quiet = json_is_true(json_object_get(del, "Quiet"));
    json_t *deleted = json_array(), *errors = json_array();
    json_array_foreach(objs, i, ob) {
        json_t *k = json_object_get(ob, "Key");
        sl_objects_error e;
        if (sl_objects_delete(s->objects, bucket, json_string_value(k), json_string_length(k), NULL,
                              &e) == 0) {
            if (!quiet) json_array_append_new(deleted, json_pack("{s:O}", "Key", k));
        } else if (!strcmp(e.code, "NoSuchBucket")) {
            json_decref(deleted);
            json_decref(errors);
            s3_failed(&e, error, cause);
            return NULL;
        } else {
            json_array_append_new(
                errors, json_pack("{s:O,s:s,s:s}", "Key", k, "Code", e.code, "Message", e.message));
        }
    }
    json_t *r = json_object();
    if (json_array_size(deleted)) json_object_set(r, "Deleted", deleted);
    if (json_array_size(errors)) json_object_set(r, "Errors", errors);
    json_decref(deleted);
    json_decref(errors);
    return r;
}

static bool max_keys_param(json_t *params, const char *action, long *out, char **error,
                           char **cause) {
    json_t *v = json_object_get(params, "MaxKeys");
    *out = -1;
    if (!v || json_is_null(v)) return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        set_error(error, cause, "States.Runtime",
                  "aws-sdk:s3:%s: MaxKeys must be a non-negative integer", action);
        return false;
    }
    json_int_t n = json_integer_value(v);
    *out = n > 1000 ? 1000 : (long)n;
    return true;
}

static json_t *list_contents(const json_t *contents) {
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(contents, i, c) {
        json_array_append_new(
            out,
            json_pack("{s:O,s:o,s:O,s:O,s:s}", "Key", json_object_get(c, "Key"), "LastModified",
                      json_time(json_integer_value(json_object_get(c, "LastModified"))), "ETag",
                      json_object_get(c, "ETag"), "Size", json_object_get(c, "Size"),
                      "StorageClass", "STANDARD"));
    }
    return out;
}

static void add_list_common(json_t *r, const sl_objects_list_result *lr, const char *bucket,
                            const char *prefix, const char *delim) {
    if (json_array_size(lr->contents))
        json_object_set_new(r, "Contents", list_contents(lr->contents));
    if (json_array_size(lr->common_prefixes)) {
        json_t *cps = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(lr->common_prefixes, i, p)
            json_array_append_new(cps, json_pack("{s:O}", "Prefix", p));
        json_object_set_new(r, "CommonPrefixes", cps);
    }
    if (delim && *delim) json_object_set_new(r, "Delimiter", json_string(delim));
    json_object_set_new(r, "IsTruncated", json_boolean(lr->is_truncated));
    json_object_set_new(r, "MaxKeys", json_integer(lr->max_keys));
    json_object_set_new(r, "Name", json_string(bucket));
    json_object_set_new(r, "Prefix", json_string(prefix ? prefix : ""));
}

static json_t *list_objects(sl_states *s, json_t *params, bool v2, char **error, char **cause) {
    static const char *const allowed_v2[] = {"Bucket",     "Prefix",     "Delimiter",
                                             "MaxKeys",    "StartAfter", "ContinuationToken",
                                             "FetchOwner", NULL};
    static const char *const allowed_v1[] = {"Bucket",  "Prefix", "Delimiter",
                                             "MaxKeys", "Marker", NULL};
    const char *action = v2 ? "listObjectsV2" : "listObjects";
    const char *bucket, *prefix, *delim, *start = NULL, *token = NULL;
    long max_keys;
    if (!params_known(params, action, v2 ? allowed_v2 : allowed_v1, error, cause) ||
        !require_str(params, "Bucket", action, &bucket, error, cause) ||
        !optional_str(params, "Prefix", action, &prefix, error, cause) ||
        !optional_str(params, "Delimiter", action, &delim, error, cause) ||
        !max_keys_param(params, action, &max_keys, error, cause) ||
        !optional_str(params, v2 ? "StartAfter" : "Marker", action, &start, error, cause) ||
        (v2 && !optional_str(params, "ContinuationToken", action, &token, error, cause)))
        return NULL;
    sl_objects_list_args a = {.bucket = bucket,
                              .prefix = prefix,
                              .delimiter = delim,
                              .max_keys = max_keys,
                              .continuation_token = token,
                              .start_after = start};
    sl_objects_list_result lr;
    sl_objects_error e;
    if (sl_objects_list(s->objects, &a, &lr, &e) != 0) {
        s3_failed(&e, error, cause);
        return NULL;
    }
    json_t *r = json_object();
    add_list_common(r, &lr, bucket, prefix, delim);
    if (v2) {
        json_object_set_new(r, "KeyCount", json_integer(lr.key_count));
        if (token) json_object_set_new(r, "ContinuationToken", json_string(token));
        if (lr.next_token)
            json_object_set_new(r, "NextContinuationToken", json_string(lr.next_token));
        if (start) json_object_set_new(r, "StartAfter", json_string(start));
    } else {
        json_object_set_new(r, "Marker", json_string(start ? start : ""));
        if (lr.is_truncated && delim && *delim) {
            /* NextMarker: the last entry returned, key or common prefix, whichever sorts last. */
            const char *lk = json_string_value(json_object_get(
                json_array_get(lr.contents, json_array_size(lr.contents) - 1), "Key"));
            const char *lp = json_string_value(
                json_array_get(lr.common_prefixes, json_array_size(lr.common_prefixes) - 1));
            const char *next = !lk ? lp : !lp ? lk : strcmp(lk, lp) > 0 ? lk : lp;
            if (next) json_object_set_new(r, "NextMarker", json_string(next));
        }
    }
    sl_objects_list_result_free(&lr);
    return r;
}

/* ---- Task entry points ---- */

static const char *const sdk_actions[] = {"getObject",   "headObject",    "putObject",
                                          "copyObject",  "deleteObject",  "deleteObjects",
                                          "listObjects", "listObjectsV2", NULL};

bool sfn_s3_sdk_action_supported(const char *action) {
    for (size_t i = 0; action && sdk_actions[i]; i++)
        if (!strcmp(action, sdk_actions[i])) return true;
    return false;
}

bool sfn_s3_action_supported(const char *action) {
    (void)action;
    return false; /* AWS documents none: s3:getObject etc. live only in ItemReader/ResultWriter */
}

json_t *sfn_s3_task(sl_states *s, bool sdk, const char *action, json_t *params, char **error,
                    char **cause) {
    *error = *cause = NULL;
    if (!sdk || !sfn_s3_sdk_action_supported(action)) {
        set_error(error, cause, "States.Runtime",
                  "Sluice does not run the S3 action '%s%s'; Task states call S3 through "
                  "arn:aws:states:::aws-sdk:s3:<action>",
                  sdk ? "aws-sdk:s3:" : "s3:", action ? action : "");
        return NULL;
    }
    if (!s->objects) {
        set_error(error, cause, "States.Runtime", "The object store is not available");
        return NULL;
    }
    json_t *empty = NULL;
    if (!params || json_is_null(params)) params = empty = json_object();
    if (!json_is_object(params)) {
        set_error(error, cause, "States.Runtime", "The task's Parameters must be an object");
        return NULL;
    }
    json_t *r;
    if (!strcmp(action, "getObject")) r = get_object(s, params, false, error, cause);
    else if (!strcmp(action, "headObject")) r = get_object(s, params, true, error, cause);
    else if (!strcmp(action, "putObject")) r = put_object(s, params, error, cause);
    else if (!strcmp(action, "copyObject")) r = copy_object(s, params, error, cause);
    else if (!strcmp(action, "deleteObject")) r = delete_object(s, params, error, cause);
    else if (!strcmp(action, "deleteObjects")) r = delete_objects(s, params, error, cause);
    else if (!strcmp(action, "listObjects")) r = list_objects(s, params, false, error, cause);
    else r = list_objects(s, params, true, error, cause);
    json_decref(empty);
    return r;
}

/* ---- item parsing (pure) ---- */

static json_t *parse_failed(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *parse_failed(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return NULL;
}

/* RFC 6901 pointer into doc, or NULL. */
static json_t *json_pointer(json_t *doc, const char *ptr) {
    if (!*ptr) return doc;
    if (*ptr != '/') return NULL;
    json_t *cur = doc;
    const char *p = ptr;
    sl_buf tok;
    sl_buf_init(&tok);
    while (cur && *p == '/') {
        p++;
        sl_buf_reset(&tok);
        while (*p && *p != '/') {
            if (p[0] == '~' && p[1] == '0') sl_buf_putc(&tok, '~'), p += 2;
            else if (p[0] == '~' && p[1] == '1') sl_buf_putc(&tok, '/'), p += 2;
            else sl_buf_putc(&tok, *p++);
        }
        const char *t = tok.data ? tok.data : "";
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, t, tok.len);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(t, &end, 10);
            bool digits = tok.len && *end == 0 && isdigit((unsigned char)t[0]) &&
                          (t[0] != '0' || tok.len == 1);
            cur = digits ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
    }
    sl_buf_free(&tok);
    return cur;
}

static json_t *parse_json_items(const char *data, size_t len, const char *pointer, char *err,
                                size_t errlen) {
    json_error_t je;
    json_t *doc = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc)
        return parse_failed(err, errlen, "The JSON file is not valid JSON: %s at line %d", je.text,
                            je.line);
    json_t *items = pointer ? json_pointer(doc, pointer) : doc;
    if (!json_is_array(items)) {
        json_decref(doc);
        return parse_failed(err, errlen,
                            pointer ? "ItemsPointer '%s' does not point to a JSON array"
                                    : "The JSON file must hold an array of items%s",
                            pointer ? pointer : "");
    }
    json_incref(items);
    json_decref(doc);
    return items;
}

static json_t *parse_jsonl_items(const char *data, size_t len, size_t max, char *err,
                                 size_t errlen) {
    json_t *items = json_array();
    size_t line = 0, pos = 0;
    while (pos < len && (!max || json_array_size(items) < max)) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        line++;
        size_t a = pos, b = end;
        while (a < b && isspace((unsigned char)data[a])) a++;
        while (b > a && isspace((unsigned char)data[b - 1])) b--;
        if (b > a) {
            json_error_t je;
            json_t *v = json_loadb(data + a, b - a, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
            if (!v) {
                json_decref(items);
                return parse_failed(err, errlen, "Line %zu of the JSONL file is not valid JSON: %s",
                                    line, je.text);
            }
            json_array_append_new(items, v);
        }
        pos = end + 1;
    }
    return items;
}

typedef struct {
    const char *p, *end;
    char delim;
} csv_reader;

/* Reads one record into fields (a JSON array of strings). Returns 1 with a record, 0 at the
 * end, -1 on an unclosed quote. Empty lines yield no record. */
static int csv_next(csv_reader *r, json_t *fields) {
    json_array_clear(fields);
    while (r->p < r->end && (*r->p == '\n' || (*r->p == '\r' && r->p + 1 < r->end &&
                                               r->p[1] == '\n'))) /* skip empty lines */
        r->p += *r->p == '\r' ? 2 : 1;
    if (r->p >= r->end) return 0;
    sl_buf f;
    sl_buf_init(&f);
    bool quoted = false, at_start = true;
    for (;;) {
        if (r->p >= r->end) {
            if (quoted) {
                sl_buf_free(&f);
                return -1;
            }
            break;
        }
        char c = *r->p;
        if (c == '"') {
            if (at_start && !quoted) {
                quoted = true;
                r->p++;
            } else if (r->p + 1 < r->end && r->p[1] == '"') {
                sl_buf_putc(&f, '"'); /* a doubled quote is one quote, in or out of quotes */
                r->p += 2;
            } else {
                quoted = !quoted;
                r->p++;
            }
            at_start = false;
            continue;
        }
        if (c == '\\') {
            /* Escapes the delimiter, a quote or a backslash; before anything else the
             * backslash is dropped. */
            r->p++;
            if (r->p < r->end && (*r->p == '\\' || *r->p == '"' || *r->p == r->delim)) {
                sl_buf_putc(&f, *r->p);
                r->p++;
            }
            at_start = false;
            continue;
        }
        if (!quoted && c == r->delim) {
            json_array_append_new(fields, json_text(f.data ? f.data : "", f.len));
            sl_buf_reset(&f);
            r->p++;
            at_start = true;
            continue;
        }
        if (!quoted && (c == '\n' || (c == '\r' && r->p + 1 < r->end && r->p[1] == '\n'))) {
            r->p += c == '\r' ? 2 : 1;
            break;
        }
        sl_buf_putc(&f, c);
        r->p++;
        at_start = false;
    }
    json_array_append_new(fields, json_text(f.data ? f.data : "", f.len));
    sl_buf_free(&f);
    return 1;
}

static bool csv_delimiter(const json_t *config, char *out, char *err, size_t errlen) {
    const char *d = json_string_value(json_object_get(config, "CSVDelimiter"));
    static const struct {
        const char *name;
        char c;
    } names[] = {{"COMMA", ','}, {"PIPE", '|'}, {"SEMICOLON", ';'}, {"SPACE", ' '}, {"TAB", '\t'}};
    if (!json_object_get(config, "CSVDelimiter")) {
        *out = ',';
        return true;
    }
    for (size_t i = 0; d && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(d, names[i].name)) {
            *out = names[i].c;
            return true;
        }
    snprintf(err, errlen, "CSVDelimiter must be COMMA, PIPE, SEMICOLON, SPACE or TAB");
    return false;
}

static json_t *parse_csv_items(const char *data, size_t len, const json_t *config, size_t max,
                               char *err, size_t errlen) {
    csv_reader r = {data, data + len, ','};
    if (!csv_delimiter(config, &r.delim, err, errlen)) return NULL;
    const char *loc = json_string_value(json_object_get(config, "CSVHeaderLocation"));
    if (!loc) loc = "FIRST_ROW";
    json_t *headers;
    json_t *fields = json_array();
    if (!strcmp(loc, "GIVEN")) {
        json_t *given = json_object_get(config, "CSVHeaders");
        bool ok = json_is_array(given) && json_array_size(given) > 0;
        size_t i;
        json_t *h;
        json_array_foreach(given, i, h) ok = ok && json_is_string(h);
        if (!ok) {
            json_decref(fields);
            return parse_failed(err, errlen,
                                "CSVHeaderLocation GIVEN needs CSVHeaders, an array of strings");
        }
        headers = json_incref(given);
    } else if (!strcmp(loc, "FIRST_ROW")) {
        int rc = csv_next(&r, fields);
        if (rc < 0) {
            json_decref(fields);
            return parse_failed(err, errlen, "The CSV header row has an unclosed quote");
        }
        if (rc == 0) {
            json_decref(fields);
            return parse_failed(err, errlen, "The CSV file has no header row");
        }
        headers = json_copy(fields);
    } else {
        json_decref(fields);
        return parse_failed(err, errlen, "CSVHeaderLocation must be FIRST_ROW or GIVEN");
    }
    size_t header_bytes = 0, i;
    json_t *h;
    json_array_foreach(headers, i, h) header_bytes += json_string_length(h);
    if (header_bytes > CSV_HEADER_MAX_BYTES) {
        json_decref(headers);
        json_decref(fields);
        return parse_failed(err, errlen, "The CSV header is longer than 10 KiB");
    }
    json_t *items = json_array();
    size_t row = 0;
    while (!max || json_array_size(items) < max) {
        int rc = csv_next(&r, fields);
        if (rc == 0) break;
        row++;
        if (rc < 0) {
            json_decref(items);
            items = parse_failed(err, errlen, "CSV record %zu has an unclosed quote", row);
            break;
        }
        /* Short rows get "" for the missing fields; extra fields are skipped. */
        json_t *item = json_object();
        json_array_foreach(headers, i, h) {
            json_t *v = json_array_get(fields, i);
            json_object_setn_new(item, json_string_value(h), json_string_length(h),
                                 v ? json_incref(v) : json_string(""));
        }
        json_array_append_new(items, item);
    }
    json_decref(headers);
    json_decref(fields);
    return items;
}

/* MaxItems: 0 (or absent) reads every item. */
static bool max_items_of(const json_t *config, size_t *max, char *err, size_t errlen) {
    json_t *m = json_object_get(config, "MaxItems");
    *max = 0;
    if (!m || json_is_null(m)) return true;
    if (!json_is_integer(m) || json_integer_value(m) < 0 || json_integer_value(m) > 100000000) {
        snprintf(err, errlen, "MaxItems must be an integer from 0 to 100000000");
        return false;
    }
    *max = (size_t)json_integer_value(m);
    return true;
}

static void cap_items(json_t *items, size_t max) {
    if (!max) return;
    while (json_array_size(items) > max) json_array_remove(items, json_array_size(items) - 1);
}

json_t *sfn_items_parse(const char *data, size_t len, const json_t *config, char *err,
                        size_t errlen) {
    const char *type = json_string_value(json_object_get(config, "InputType"));
    size_t max;
    if (!max_items_of(config, &max, err, errlen)) return NULL;
    json_t *items;
    if (!type)
        return parse_failed(err, errlen, "ReaderConfig needs InputType (JSON, JSONL or CSV)");
    if (!strcmp(type, "JSON")) {
        json_t *ptr = json_object_get(config, "ItemsPointer");
        if (ptr && !json_is_string(ptr))
            return parse_failed(err, errlen, "ItemsPointer must be a string");
        items = parse_json_items(data, len, json_string_value(ptr), err, errlen);
    } else if (!strcmp(type, "JSONL")) {
        items = parse_jsonl_items(data, len, max, err, errlen);
    } else if (!strcmp(type, "CSV")) {
        items = parse_csv_items(data, len, config, max, err, errlen);
    } else {
        return parse_failed(err, errlen, "InputType '%s' is not JSON, JSONL or CSV here", type);
    }
    if (items) cap_items(items, max);
    return items;
}

/* ---- ItemReader ---- */

static bool reader_get(sl_states *s, const char *bucket, const char *key, sl_object_info *info,
                       char **error, char **cause) {
    sl_objects_error e;
    if (sl_objects_get(s->objects, bucket, key, strlen(key), ITEM_READER_MAX_BYTES, info, &e) == 0)
        return true;
    set_error(error, cause, "States.ItemReaderFailed", "Cannot read s3://%s/%s: %s (%s)", bucket,
              key, e.message, e.code);
    return false;
}

/* gzip (inventory files are .csv.gz) to plain bytes, at most ITEM_READER_MAX_BYTES. */
static char *gunzip(const char *in, size_t n, size_t *out_len, char *err, size_t errlen) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        snprintf(err, errlen, "cannot start gzip decoding");
        return NULL;
    }
    sl_buf b;
    sl_buf_init(&b);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    int rc;
    do {
        sl_buf_reserve(&b, 65536);
        z.next_out = (Bytef *)b.data + b.len;
        z.avail_out = 65536;
        rc = inflate(&z, Z_NO_FLUSH);
        b.len = 65536 - z.avail_out + b.len;
        if (b.len > ITEM_READER_MAX_BYTES) rc = Z_MEM_ERROR;
    } while (rc == Z_OK);
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        sl_buf_free(&b);
        snprintf(err, errlen,
                 rc == Z_MEM_ERROR ? "decompressed file is too large"
                                   : "the file is not valid gzip");
        return NULL;
    }
    *out_len = b.len;
    return b.data ? sl_buf_steal(&b) : sl_xstrdup("");
}

/* An S3 Inventory manifest: every listed CSV file (gzip or plain) of the destination bucket,
 * each row an object keyed by the manifest's fileSchema. */
static json_t *read_manifest(sl_states *s, const char *bucket, const char *key,
                             const sl_object_info *mf, size_t max, char **error, char **cause) {
    json_error_t je;
    json_t *m = json_loadb(mf->body, (size_t)mf->size, 0, &je);
    const char *format = json_string_value(json_object_get(m, "fileFormat"));
    const char *schema = json_string_value(json_object_get(m, "fileSchema"));
    const char *dest = json_string_value(json_object_get(m, "destinationBucket"));
    json_t *files = json_object_get(m, "files");
    if (!m || !format || !schema || !dest || !json_is_array(files)) {
        json_decref(m);
        set_error(error, cause, "States.ItemReaderFailed",
                  "s3://%s/%s is not an S3 Inventory manifest (fileFormat, fileSchema, "
                  "destinationBucket and files are required)",
                  bucket, key);
        return NULL;
    }
    if (strcmp(format, "CSV") != 0) {
        set_error(error, cause, "States.ItemReaderFailed",
                  "The inventory's fileFormat is %s; a distributed Map reads CSV inventories",
                  format);
        json_decref(m);
        return NULL;
    }
    const char *dest_bucket = sl_str_has_prefix(dest, "arn:aws:s3:::") ? dest + 13 : dest;
    json_t *headers = json_array();
    for (const char *p = schema; *p;) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t && p[t - 1] == ' ') t--;
        if (t) json_array_append_new(headers, json_stringn(p, t));
        p += n;
    }
    json_t *config = json_pack("{s:s,s:s,s:o}", "InputType", "CSV", "CSVHeaderLocation", "GIVEN",
                               "CSVHeaders", headers);
    json_t *items = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *fkey = json_string_value(json_object_get(f, "key"));
        if (!fkey) continue;
        sl_object_info info;
        if (!reader_get(s, dest_bucket, fkey, &info, error, cause)) goto fail;
        char perr[256];
        char *plain = NULL;
        size_t plain_len = info.size;
        if (info.size >= 2 && (unsigned char)info.body[0] == 0x1f &&
            (unsigned char)info.body[1] == 0x8b) {
            plain = gunzip(info.body, (size_t)info.size, &plain_len, perr, sizeof perr);
            if (!plain) {
                sl_object_info_free(&info);
                set_error(error, cause, "States.ItemReaderFailed", "s3://%s/%s: %s", dest_bucket,
                          fkey, perr);
                goto fail;
            }
        }
        json_t *rows =
            sfn_items_parse(plain ? plain : info.body, plain_len, config, perr, sizeof perr);
        free(plain);
        sl_object_info_free(&info);
        if (!rows) {
            set_error(error, cause, "States.ItemReaderFailed", "s3://%s/%s: %s", dest_bucket, fkey,
                      perr);
            goto fail;
        }
        json_array_extend(items, rows);
        json_decref(rows);
        if (max && json_array_size(items) >= max) break;
    }
    cap_items(items, max);
    json_decref(config);
    json_decref(m);
    return items;
fail:
    json_decref(items);
    json_decref(config);
    json_decref(m);
    return NULL;
}

/* listObjectsV2 items: {"Etag","Key","LastModified" (epoch seconds),"Size","StorageClass"},
 * the fields and casing AWS documents for a distributed Map's child input. */
static json_t *read_listing(sl_states *s, json_t *params, size_t max, char **error, char **cause) {
    const char *bucket = str_param(params, "Bucket");
    if (!bucket || !*bucket) {
        set_error(error, cause, "States.ItemReaderFailed",
                  "ItemReader Parameters need a Bucket for s3:listObjectsV2");
        return NULL;
    }
    json_t *items = json_array();
    char *token = NULL;
    for (;;) {
        sl_objects_list_args a = {.bucket = bucket,
                                  .prefix = str_param(params, "Prefix"),
                                  .max_keys = 1000,
                                  .continuation_token = token};
        sl_objects_list_result lr;
        sl_objects_error e;
        int rc = sl_objects_list(s->objects, &a, &lr, &e);
        free(token);
        token = NULL;
        if (rc != 0) {
            json_decref(items);
            set_error(error, cause, "States.ItemReaderFailed", "Cannot list s3://%s/%s: %s (%s)",
                      bucket, a.prefix ? a.prefix : "", e.message, e.code);
            return NULL;
        }
        size_t i;
        json_t *c;
        json_array_foreach(lr.contents, i, c) {
            if (max && json_array_size(items) >= max) break;
            json_array_append_new(
                items,
                json_pack(
                    "{s:O,s:O,s:I,s:O,s:s}", "Etag", json_object_get(c, "ETag"), "Key",
                    json_object_get(c, "Key"), "LastModified",
                    (json_int_t)(json_integer_value(json_object_get(c, "LastModified")) / 1000),
                    "Size", json_object_get(c, "Size"), "StorageClass", "STANDARD"));
        }
        if (lr.next_token) token = sl_xstrdup(lr.next_token);
        sl_objects_list_result_free(&lr);
        if (!token || (max && json_array_size(items) >= max)) break;
    }
    free(token);
    return items;
}

json_t *sfn_s3_read_items(sl_states *s, json_t *reader, json_t *params, char **error,
                          char **cause) {
    *error = *cause = NULL;
    const char *resource = json_string_value(json_object_get(reader, "Resource"));
    json_t *config = json_object_get(reader, "ReaderConfig");
    char perr[512];
    size_t max;
    if (!s->objects) {
        set_error(error, cause, "States.ItemReaderFailed", "The object store is not available");
        return NULL;
    }
    if (config && !json_is_object(config)) {
        set_error(error, cause, "States.ItemReaderFailed", "ReaderConfig must be an object");
        return NULL;
    }
    if (!max_items_of(config, &max, perr, sizeof perr)) {
        set_error(error, cause, "States.ItemReaderFailed", "%s", perr);
        return NULL;
    }
    if (resource && !strcmp(resource, "arn:aws:states:::s3:listObjectsV2"))
        return read_listing(s, params, max, error, cause);
    if (!resource || strcmp(resource, "arn:aws:states:::s3:getObject") != 0) {
        set_error(error, cause, "States.ItemReaderFailed",
                  "ItemReader Resource must be arn:aws:states:::s3:getObject or "
                  "arn:aws:states:::s3:listObjectsV2, not '%s'",
                  resource ? resource : "");
        return NULL;
    }
    const char *bucket = str_param(params, "Bucket"), *key = str_param(params, "Key");
    if (!bucket || !*bucket || !key || !*key) {
        set_error(error, cause, "States.ItemReaderFailed",
                  "ItemReader Parameters need a Bucket and a Key for s3:getObject");
        return NULL;
    }
    const char *version = str_param(params, "VersionId");
    if (version && strcmp(version, "null") != 0) {
        set_error(error, cause, "States.ItemReaderFailed",
                  "Cannot read s3://%s/%s: The specified version does not exist. (NoSuchVersion)",
                  bucket, key);
        return NULL;
    }
    const char *type = json_string_value(json_object_get(config, "InputType"));
    sl_object_info info;
    if (!reader_get(s, bucket, key, &info, error, cause)) return NULL;
    json_t *items;
    if (type && !strcmp(type, "MANIFEST")) {
        items = read_manifest(s, bucket, key, &info, max, error, cause);
    } else {
        items = sfn_items_parse(info.body, (size_t)info.size, config, perr, sizeof perr);
        if (!items)
            set_error(error, cause, "States.ItemReaderFailed", "s3://%s/%s: %s", bucket, key, perr);
    }
    sl_object_info_free(&info);
    return items;
}

/* ---- ResultWriter ---- */

/* A result as AWS writes it in <STATUS>_n.json: the child's fields, with Input and Output as
 * JSON text and their *Details; the Index is Sluice's bookkeeping and stays out. */
static json_t *result_record(const json_t *r) {
    json_t *rec = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)r, k, v) {
        if (!strcmp(k, "Index")) continue;
        if ((!strcmp(k, "Input") || !strcmp(k, "Output")) && !json_is_string(v)) {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            json_object_set_new(rec, k, json_string(text ? text : "null"));
            free(text);
        } else {
            json_object_set(rec, k, v);
        }
        if (!strcmp(k, "Input") && !json_object_get(r, "InputDetails"))
            json_object_set_new(rec, "InputDetails", json_pack("{s:b}", "Included", 1));
        if (!strcmp(k, "Output") && !json_object_get(r, "OutputDetails"))
            json_object_set_new(rec, "OutputDetails", json_pack("{s:b}", "Included", 1));
    }
    return rec;
}

static bool put_json(sl_states *s, const char *bucket, const char *key, const json_t *doc,
                     size_t *size, char **error, char **cause) {
    char *text = json_dumps(doc, JSON_COMPACT);
    sl_objects_put_args a = {.bucket = bucket,
                             .key = key,
                             .key_len = strlen(key),
                             .body = text,
                             .body_len = strlen(text),
                             .content_type = "application/json"};
    sl_objects_error e;
    int rc = sl_objects_put(s->objects, &a, NULL, &e);
    *size = strlen(text);
    free(text);
    if (rc == 0) return true;
    set_error(error, cause, "States.ResultWriterFailed", "Cannot write s3://%s/%s: %s (%s)", bucket,
              key, e.message, e.code);
    return false;
}

json_t *sfn_s3_write_results(sl_states *s, json_t *params, const char *map_run_arn, json_t *results,
                             char **error, char **cause) {
    *error = *cause = NULL;
    const char *bucket = str_param(params, "Bucket");
    const char *prefix = str_param(params, "Prefix");
    if (!s->objects) {
        set_error(error, cause, "States.ResultWriterFailed", "The object store is not available");
        return NULL;
    }
    if (!bucket || !*bucket || !map_run_arn) {
        set_error(error, cause, "States.ResultWriterFailed",
                  "ResultWriter Parameters need a Bucket (and the Map Run an ARN)");
        return NULL;
    }
    /* Prefix/<map run id>/, the id being the ARN's last segment. */
    const char *colon = strrchr(map_run_arn, ':');
    const char *run_id = colon ? colon + 1 : map_run_arn;
    sl_buf dir;
    sl_buf_init(&dir);
    if (prefix && *prefix) {
        sl_buf_puts(&dir, prefix);
        if (!sl_str_has_suffix(prefix, "/")) sl_buf_putc(&dir, '/');
    }
    sl_buf_printf(&dir, "%s/", run_id);

    static const char *const statuses[] = {"SUCCEEDED", "FAILED", "PENDING"};
    json_t *groups[3];
    for (int g = 0; g < 3; g++) groups[g] = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        const char *st = json_string_value(json_object_get(r, "Status"));
        /* Timed-out and aborted children are failures to the manifest. */
        int g = !st                                                ? 1
                : !strcmp(st, "SUCCEEDED")                         ? 0
                : !strcmp(st, "PENDING") || !strcmp(st, "RUNNING") ? 2
                                                                   : 1;
        json_array_append_new(groups[g], result_record(r));
    }
    json_t *files = json_object();
    bool ok = true;
    for (int g = 0; g < 3; g++) {
        json_t *list = json_array();
        if (ok && json_array_size(groups[g])) {
            sl_buf key;
            sl_buf_init(&key);
            sl_buf_printf(&key, "%s%s_0.json", dir.data, statuses[g]);
            size_t size;
            ok = put_json(s, bucket, key.data, groups[g], &size, error, cause);
            if (ok)
                json_array_append_new(
                    list, json_pack("{s:s,s:I}", "Key", key.data, "Size", (json_int_t)size));
            sl_buf_free(&key);
        }
        json_object_set_new(files, statuses[g], list);
        json_decref(groups[g]);
    }
    json_t *details = NULL;
    if (ok) {
        json_t *manifest = json_pack("{s:s,s:s,s:O}", "DestinationBucket", bucket, "MapRunArn",
                                     map_run_arn, "ResultFiles", files);
        sl_buf key;
        sl_buf_init(&key);
        sl_buf_printf(&key, "%smanifest.json", dir.data);
        size_t size;
        if (put_json(s, bucket, key.data, manifest, &size, error, cause))
            details = json_pack("{s:s,s:s}", "Bucket", bucket, "Key", key.data);
        sl_buf_free(&key);
        json_decref(manifest);
    }
    json_decref(files);
    sl_buf_free(&dir);
    return details;
}
