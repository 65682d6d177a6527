/* meta: object rows in the store (load, insert-or-replace, delete), the headers S3 keeps with
 * an object, and tag sets. Runs SQL only; knows nothing of HTTP beyond reading headers. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ids.h"
#include "core/log.h"
#include "objects/conditions.h"
#include "objects/s3.h"
#include "store/outbox.h"

void s3_object_free(s3_object *ob) {
    free(ob->bucket);
    free(ob->key);
    free(ob->etag);
    free(ob->content_type);
    json_decref(ob->headers);
    free(ob->checksum_algo);
    free(ob->checksum);
    free(ob->checksum_type);
    json_decref(ob->tags);
    json_decref(ob->part_sizes);
    free(ob->blob);
    free(ob->data);
    memset(ob, 0, sizeof *ob);
}

static char *col_str(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? sl_xstrdup((const char *)t) : NULL;
}

int s3_object_load(sl_objects *o, const char *bucket, const char *key, size_t key_len,
                   s3_object *out, bool with_data) {
    sqlite3 *db = sl_store_reader(o->store);
    const char *sql =
        with_data
            ? "SELECT size, etag, last_modified_ms, content_type, headers, checksum_algo, checksum,"
              " checksum_type, tags, blob, parts, part_sizes, data FROM objects WHERE bucket=?1 "
              "AND key=?2"
            : "SELECT size, etag, last_modified_ms, content_type, headers, checksum_algo, checksum,"
              " checksum_type, tags, blob, parts, part_sizes FROM objects WHERE bucket=?1 AND "
              "key=?2";
    sqlite3_stmt *st = sl_store_cached(db, sql);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, (int)key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    memset(out, 0, sizeof *out);
    out->bucket = sl_xstrdup(bucket);
    out->key = sl_xstrndup(key, key_len);
    out->key_len = key_len;
    out->size = (uint64_t)sqlite3_column_int64(st, 0);
    out->etag = col_str(st, 1);
    out->last_modified_ms = sqlite3_column_int64(st, 2);
    out->content_type = col_str(st, 3);
    const char *h = (const char *)sqlite3_column_text(st, 4);
    out->headers = h ? json_loads(h, 0, NULL) : NULL;
    if (!out->headers) out->headers = json_object();
    out->checksum_algo = col_str(st, 5);
    out->checksum = col_str(st, 6);
    out->checksum_type = col_str(st, 7);
    const char *t = (const char *)sqlite3_column_text(st, 8);
    out->tags = t ? json_loads(t, 0, NULL) : NULL;
    out->blob = col_str(st, 9);
    out->parts = sqlite3_column_int(st, 10);
    const char *ps = (const char *)sqlite3_column_text(st, 11);
    out->part_sizes = ps ? json_loads(ps, 0, NULL) : NULL;
    if (with_data && !out->blob) {
        int n = sqlite3_column_bytes(st, 12);
        out->data = sl_xmalloc((size_t)n + 1);
        if (n) memcpy(out->data, sqlite3_column_blob(st, 12), (size_t)n);
        out->data_len = (size_t)n;
    }
    sqlite3_reset(st);
    return 1;
}

static int old_blob_of(sqlite3 *db, const char *bucket, const char *key, size_t key_len,
                       char **old_blob) {
    *old_blob = NULL;
    sqlite3_stmt *st = sl_store_cached(db, "SELECT blob FROM objects WHERE bucket=?1 AND key=?2");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, (int)key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        found = 1;
        *old_blob = col_str(st, 0);
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

int s3_object_store(sqlite3 *db, const s3_object *ob, char **old_blob) {
    if (old_blob_of(db, ob->bucket, ob->key, ob->key_len, old_blob) < 0) return -1;
    sqlite3_stmt *st = sl_store_cached(
        db,
        "INSERT OR REPLACE INTO objects (bucket, key, size, etag, last_modified_ms,"
        " content_type, headers, checksum_algo, checksum, checksum_type, tags, blob,"
        " data, parts, part_sizes) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)");
    if (!st) return -1;
    char *headers = json_dumps(ob->headers ? ob->headers : json_object(), JSON_COMPACT);
    char *tags = ob->tags && json_array_size(ob->tags) ? json_dumps(ob->tags, JSON_COMPACT) : NULL;
    sqlite3_bind_text(st, 1, ob->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ob->key, (int)ob->key_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)ob->size);
    sqlite3_bind_text(st, 4, ob->etag, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, ob->last_modified_ms);
    sqlite3_bind_text(st, 6, ob->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, headers, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, ob->checksum_algo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, ob->checksum, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, ob->checksum_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, ob->blob, -1, SQLITE_STATIC);
    if (ob->blob) sqlite3_bind_null(st, 13);
    else sqlite3_bind_blob(st, 13, ob->data ? ob->data : "", (int)ob->data_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 14, ob->parts);
    char *part_sizes = ob->part_sizes ? json_dumps(ob->part_sizes, JSON_COMPACT) : NULL;
    sqlite3_bind_text(st, 15, part_sizes, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(part_sizes);
    free(headers);
    free(tags);
    if (rc != SQLITE_DONE) {
        sl_error("\"object row write failed\" detail=\"%s\"", sqlite3_errmsg(db));
        free(*old_blob);
        *old_blob = NULL;
        return -1;
    }
    return 0;
}

int s3_object_delete_row(sqlite3 *db, const char *bucket, const char *key, size_t key_len,
                         char **old_blob) {
    int found = old_blob_of(db, bucket, key, key_len, old_blob);
    if (found <= 0) return found;
    sqlite3_stmt *st = sl_store_cached(db, "DELETE FROM objects WHERE bucket=?1 AND key=?2");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, (int)key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 1 : -1;
}

/* Headers S3 stores with an object and returns on GET/HEAD. */
static const char *const stored_headers[] = {"Cache-Control",
                                             "Content-Disposition",
                                             "Content-Language",
                                             "Expires",
                                             "x-amz-website-redirect-location",
                                             "x-amz-storage-class",
                                             NULL};

struct meta_collect {
    json_t *obj;
};

static void collect_meta(void *ctx, const char *k, const char *v) {
    struct meta_collect *mc = ctx;
    if (strncasecmp(k, "x-amz-meta-", 11) != 0) return;
    char name[256];
    size_t n = strlen(k);
    if (n >= sizeof name) n = sizeof name - 1;
    for (size_t i = 0; i < n; i++)
        name[i] = (char)((k[i] >= 'A' && k[i] <= 'Z') ? k[i] + 32 : k[i]);
    name[n] = 0;
    json_object_set_new(mc->obj, name, json_string(v));
}

json_t *s3_headers_from_request(sl_req *req) {
    json_t *h = json_object();
    for (int i = 0; stored_headers[i]; i++) {
        const char *v = sl_req_header(req, stored_headers[i]);
        if (v && !(i == 5 && !strcmp(v, "STANDARD")))
            json_object_set_new(h, stored_headers[i], json_string(v));
    }
    /* aws-chunked is a transfer detail of the upload, not an encoding of the object. */
    const char *ce = sl_req_header(req, "Content-Encoding");
    if (ce) {
        sl_buf b;
        sl_buf_init(&b);
        const char *p = ce;
        while (*p) {
            while (*p == ' ' || *p == ',') p++;
            size_t n = strcspn(p, ",");
            size_t t = n;
            while (t && p[t - 1] == ' ') t--;
            if (t && !(t == 11 && !strncasecmp(p, "aws-chunked", 11))) {
                if (b.len) sl_buf_putc(&b, ',');
                sl_buf_append(&b, p, t);
            }
            p += n;
        }
        if (b.len) json_object_set_new(h, "Content-Encoding", json_string(b.data));
        sl_buf_free(&b);
    }
    struct meta_collect mc = {h};
    sl_req_each_header(req, collect_meta, &mc);
    return h;
}

void s3_apply_stored_headers(sl_req *req, const json_t *headers) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) {
        if (json_is_string(v)) sl_resp_header_add(req, k, json_string_value(v));
    }
}

bool s3_tags_valid(s3_call *c, const json_t *tags) {
    size_t n = json_array_size(tags);
    if (n > 10) {
        s3_error(c, 400, "BadRequest", "Object tags cannot be greater than 10");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *k = json_string_value(json_object_get(json_array_get(tags, i), "Key"));
        const char *v = json_string_value(json_object_get(json_array_get(tags, i), "Value"));
        if (!k || !*k || strlen(k) > 128) {
            s3_error(c, 400, "InvalidTag", "The TagKey you have provided is invalid");
            return false;
        }
        if (!v || strlen(v) > 256) {
            s3_error(c, 400, "InvalidTag", "The TagValue you have provided is invalid");
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            const char *k2 = json_string_value(json_object_get(json_array_get(tags, j), "Key"));
            if (k2 && !strcmp(k, k2)) {
                s3_error(c, 400, "InvalidTag", "Cannot provide multiple Tags with the same key");
                return false;
            }
        }
    }
    return true;
}

json_t *s3_tags_from_query_string(s3_call *c, const char *s) {
    json_t *tags = json_array();
    while (*s) {
        size_t len = strcspn(s, "&");
        const char *eq = memchr(s, '=', len);
        size_t klen = eq ? (size_t)(eq - s) : len;
        size_t vlen = eq ? len - klen - 1 : 0;
        char *k = sl_xmalloc(klen + 1), *v = sl_xmalloc(vlen + 1);
        long a = sl_uri_decode(s, klen, k, true);
        long b = sl_uri_decode(eq ? eq + 1 : "", vlen, v, true);
        if (a < 0 || b < 0) {
            free(k);
            free(v);
            json_decref(tags);
            s3_error(c, 400, "InvalidArgument",
                     "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL "
                     "query parameters without tag name duplicates.");
            return NULL;
        }
        json_array_append_new(tags, json_pack("{s:s,s:s}", "Key", k, "Value", v));
        free(k);
        free(v);
        s += len + (s[len] ? 1 : 0);
    }
    if (!s3_tags_valid(c, tags)) {
        json_decref(tags);
        return NULL;
    }
    return tags;
}

json_t *s3_event_payload(s3_call *c, const char *event_name, const char *api, const char *key,
                         size_t key_len, uint64_t size, const char *etag) {
    json_t *p = json_object();
    json_object_set_new(p, "eventName", json_string(event_name));
    json_object_set_new(p, "api", json_string(api));
    json_object_set_new(p, "bucket", json_string(c->bucket));
    json_object_set_new(p, "key", json_stringn(key, key_len));
    json_object_set_new(p, "size", json_integer((json_int_t)size));
    if (etag) {
        size_t n = strlen(etag);
        if (n >= 2 && etag[0] == '"') json_object_set_new(p, "etag", json_stringn(etag + 1, n - 2));
        else json_object_set_new(p, "etag", json_string(etag));
    }
    json_object_set_new(p, "timeMs", json_integer(sl_now_ms()));
    json_object_set_new(p, "requestId", json_string(c->req->request_id));
    json_object_set_new(p, "sourceIp",
                        json_string(c->req->source_ip[0] ? c->req->source_ip : "127.0.0.1"));
    json_object_set_new(p, "accessKey", json_string(c->auth.access_key));
    const char *ua = sl_req_header(c->req, "User-Agent");
    if (ua) json_object_set_new(p, "userAgent", json_string(ua));
    return p;
}

/* Whether a change in bucket raises any event: the bucket has a notification configuration,
 * or some trail is logging (its selectors are applied when the outbox is drained). Changes
 * nobody listens to skip the outbox, and so the dispatcher's commit. */
static bool bucket_publishes(sqlite3 *db, const char *bucket) {
    sqlite3_stmt *st =
        sl_store_cached(db, "SELECT 1 FROM buckets WHERE name=?1 AND"
                            " json_extract(config, '$.notification') IS NOT NULL"
                            " UNION ALL SELECT 1 FROM trails WHERE logging=1 LIMIT 1");
    if (!st) return true; /* when in doubt, record */
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return yes;
}

int s3_event_record(sqlite3 *db, const json_t *payload) {
    if (!payload) return 0;
    const char *bucket = json_string_value(json_object_get(payload, "bucket"));
    if (bucket && !bucket_publishes(db, bucket)) return 0;
    return sl_outbox_add(db, "s3", payload);
}

int s3_check_write_conditions(sqlite3 *db, const char *bucket, const char *key, size_t key_len,
                              const char *if_match, const char *if_none_match) {
    if (!if_match && !if_none_match) return 0;
    sqlite3_stmt *st = sl_store_cached(db, "SELECT etag FROM objects WHERE bucket=?1 AND key=?2");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, (int)key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    char *etag = rc == SQLITE_ROW ? sl_xstrdup((const char *)sqlite3_column_text(st, 0)) : NULL;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return -1;
    int result = 0;
    if (if_none_match && etag &&
        (!strcmp(if_none_match, "*") || s3_etag_list_matches(if_none_match, etag)))
        result = S3_RC_PRECONDITION;
    else if (if_match && !etag) result = S3_RC_NO_KEY;
    else if (if_match && !s3_etag_list_matches(if_match, etag)) result = S3_RC_PRECONDITION;
    free(etag);
    return result;
}

void s3_write_condition_failed(s3_call *c, int rc) {
    if (rc == S3_RC_NO_KEY) s3_error_key(c, 404, "NoSuchKey", "The specified key does not exist.");
    else
        s3_error(c, 412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
}
