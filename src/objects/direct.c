/* direct: GetObject, HeadObject, PutObject, CopyObject, DeleteObject and ListObjectsV2 for
 * in-process callers. Shares the object rows (meta.c), blobs (blob.c), the outbox recording
 * (s3_event_record) and the write-job discipline of object_ops.c: a body is durable (inline in
 * the row, or a published blob) before its row commits, a replaced blob is removed only after
 * the commit, and a failed commit removes the blob it brought. Must not grow HTTP concerns:
 * conditions, ranges and response overrides stay in object_ops.c. */
#include "objects/direct.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ids.h"
#include "objects/s3.h"

#define RC_NO_BUCKET S3_RC_NO_BUCKET

static int fail(sl_objects_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(sl_objects_error *err, const char *code, const char *fmt, ...) {
    if (!err) return -1;
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int no_such_bucket(sl_objects_error *err) {
    return fail(err, "NoSuchBucket", "The specified bucket does not exist");
}
static int no_such_key(sl_objects_error *err) {
    return fail(err, "NoSuchKey", "The specified key does not exist.");
}
static int internal(sl_objects_error *err, const char *what) {
    return fail(err, "InternalError", "We encountered an internal error (%s). Please try again.",
                what);
}

static int bucket_row_exists(sqlite3 *db, const char *bucket) {
    sqlite3_stmt *st = sl_store_cached(db, "SELECT 1 FROM buckets WHERE name=?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int check_key(const char *bucket, const char *key, size_t key_len, sl_objects_error *err) {
    if (!bucket || !*bucket) return fail(err, "InvalidArgument", "Bucket must not be empty");
    if (!key || key_len == 0) return fail(err, "InvalidArgument", "Key must not be empty");
    if (key_len > S3_MAX_KEY) return fail(err, "KeyTooLongError", "Your key is too long");
    return 0;
}

/* ---- stored headers <-> Metadata ---- */

/* S3 keeps user metadata as lower-cased x-amz-meta-* headers; the SDK shows them without the
 * prefix. */
static json_t *headers_with_metadata(const json_t *metadata) {
    json_t *h = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)metadata, k, v) {
        if (!json_is_string(v)) continue;
        sl_buf name;
        sl_buf_init(&name);
        sl_buf_puts(&name, "x-amz-meta-");
        for (const char *p = k; *p; p++)
            sl_buf_putc(&name, (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p));
        json_object_set(h, name.data, v);
        sl_buf_free(&name);
    }
    return h;
}

static void info_from_row(sl_object_info *info, s3_object *ob) {
    memset(info, 0, sizeof *info);
    info->content_type = sl_xstrdup(ob->content_type ? ob->content_type : "binary/octet-stream");
    info->size = ob->size;
    snprintf(info->etag, sizeof info->etag, "%s", ob->etag ? ob->etag : "");
    info->last_modified_ms = ob->last_modified_ms;
    info->metadata = json_object();
    info->headers = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(ob->headers, k, v) {
        if (!strncmp(k, "x-amz-meta-", 11)) json_object_set(info->metadata, k + 11, v);
        else json_object_set(info->headers, k, v);
    }
}

void sl_object_info_free(sl_object_info *info) {
    if (!info) return;
    free(info->content_type);
    json_decref(info->metadata);
    json_decref(info->headers);
    free(info->body);
    memset(info, 0, sizeof *info);
}

/* ---- the outbox payload (the shape meta.c's s3_event_payload gives HTTP writes) ---- */

static json_t *event_payload(const sl_objects *o, const sl_objects_caller *who,
                             const char *event_name, const char *api, const char *bucket,
                             const char *key, size_t key_len, uint64_t size, const char *etag) {
    char request_id[33];
    sl_id_request(request_id);
    json_t *p = json_object();
    json_object_set_new(p, "eventName", json_string(event_name));
    json_object_set_new(p, "api", json_string(api));
    json_object_set_new(p, "bucket", json_string(bucket));
    json_object_set_new(p, "key", json_stringn(key, key_len));
    json_object_set_new(p, "size", json_integer((json_int_t)size));
    if (etag) {
        size_t n = strlen(etag);
        if (n >= 2 && etag[0] == '"') json_object_set_new(p, "etag", json_stringn(etag + 1, n - 2));
        else json_object_set_new(p, "etag", json_string(etag));
    }
    json_object_set_new(p, "timeMs", json_integer(sl_now_ms()));
    json_object_set_new(p, "requestId", json_string(request_id));
    const char *ip = who && who->source_ip ? who->source_ip : "states.amazonaws.com";
    const char *ua = who && who->user_agent ? who->user_agent : "states.amazonaws.com";
    const char *ak = who && who->access_key ? who->access_key : o->cfg->access_key_id;
    json_object_set_new(p, "sourceIp", json_string(ip));
    json_object_set_new(p, "accessKey", json_string(ak ? ak : ""));
    json_object_set_new(p, "userAgent", json_string(ua));
    return p;
}

/* ---- reads ---- */

static int read_blob(sl_objects *o, const char *id, uint64_t size, char **out) {
    int fd = sl_blob_open(&o->blobs, id);
    if (fd < 0) return -1;
    char *buf = sl_xmalloc((size_t)size + 1);
    uint64_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, (size_t)(size - got), (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            free(buf);
            errno = e;
            return -1;
        }
        got += (uint64_t)n;
    }
    close(fd);
    buf[size] = 0;
    *out = buf;
    return 0;
}

static int load(sl_objects *o, const char *bucket, const char *key, size_t key_len, bool body,
                uint64_t max_body, sl_object_info *out, sl_objects_error *err) {
    memset(out, 0, sizeof *out);
    if (check_key(bucket, key, key_len, err) != 0) return -1;
    /* A blob replaced between reading the row and opening the file: read the row again. */
    for (int attempt = 0; attempt < 5; attempt++) {
        s3_object ob;
        int found = s3_object_load(o, bucket, key, key_len, &ob, body);
        if (found < 0) return internal(err, "load object");
        if (!found) {
            int b = bucket_row_exists(sl_store_reader(o->store), bucket);
            if (b < 0) return internal(err, "load bucket");
            return b ? no_such_key(err) : no_such_bucket(err);
        }
        if (body && ob.size > max_body) {
            s3_object_free(&ob);
            return fail(err, "EntityTooLarge",
                        "The object is %llu bytes, more than the %llu this call can hold",
                        (unsigned long long)ob.size, (unsigned long long)max_body);
        }
        char *data = NULL;
        if (body && ob.blob) {
            if (read_blob(o, ob.blob, ob.size, &data) != 0) {
                bool replaced = errno == ENOENT;
                s3_object_free(&ob);
                if (replaced) continue;
                return internal(err, "read blob");
            }
        } else if (body) {
            data = ob.data; /* size bytes + NUL (meta.c allocates one more) */
            ob.data = NULL;
            if (ob.data_len != ob.size) {
                free(data);
                s3_object_free(&ob);
                return internal(err, "inline body size");
            }
            data[ob.size] = 0;
        }
        info_from_row(out, &ob);
        out->body = data;
        s3_object_free(&ob);
        return 0;
    }
    return internal(err, "object kept changing");
}

int sl_objects_get(sl_objects *o, const char *bucket, const char *key, size_t key_len,
                   uint64_t max_body, sl_object_info *out, sl_objects_error *err) {
    return load(o, bucket, key, key_len, true, max_body, out, err);
}

int sl_objects_head(sl_objects *o, const char *bucket, const char *key, size_t key_len,
                    sl_object_info *out, sl_objects_error *err) {
    return load(o, bucket, key, key_len, false, 0, out, err);
}

/* ---- writes ---- */

typedef struct {
    s3_object ob;
    char *old_blob;
    json_t *event;
} write_job;

static int write_run(sqlite3 *db, void *arg) {
    write_job *j = arg;
    int b = bucket_row_exists(db, j->ob.bucket);
    if (b <= 0) return b < 0 ? -1 : RC_NO_BUCKET;
    if (s3_object_store(db, &j->ob, &j->old_blob) != 0) return -1;
    return s3_event_record(db, j->event);
}

/* Commits the row; afterwards removes whichever blob lost (the replaced one, or on failure the
 * one this write brought). Frees the job's contents. */
static int write_commit(sl_objects *o, write_job *j, sl_object_info *out, sl_objects_error *err) {
    int rc = sl_store_write(o->store, write_run, j);
    if (rc != 0) {
        if (j->ob.blob) sl_blob_remove(&o->blobs, j->ob.blob);
    } else {
        if (j->old_blob && (!j->ob.blob || strcmp(j->old_blob, j->ob.blob) != 0))
            sl_blob_remove(&o->blobs, j->old_blob);
        if (out) info_from_row(out, &j->ob);
    }
    s3_object_free(&j->ob);
    free(j->old_blob);
    json_decref(j->event);
    if (rc == RC_NO_BUCKET) return no_such_bucket(err);
    if (rc != 0) return internal(err, "commit");
    return 0;
}

int sl_objects_put(sl_objects *o, const sl_objects_put_args *a, sl_object_info *out,
                   sl_objects_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (check_key(a->bucket, a->key, a->key_len, err) != 0) return -1;
    if ((uint64_t)a->body_len > 5ull * 1024 * 1024 * 1024)
        return fail(err, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    write_job j;
    memset(&j, 0, sizeof j);
    s3_object *ob = &j.ob;
    char md5_hex[33];
    unsigned char md5_raw[16];
    sl_hasher *h = sl_hasher_new(SL_CK_NONE, false);
    sl_hasher_update(h, a->body ? a->body : "", a->body_len);
    sl_hasher_final(h, md5_hex, md5_raw, NULL, NULL, NULL);
    sl_hasher_free(h);
    char etag[40];
    snprintf(etag, sizeof etag, "\"%s\"", md5_hex);
    if (a->body_len > o->cfg->inline_max) {
        /* Large bodies take the HTTP path's route: a temp file, fsynced and published. */
        char id[SL_BLOB_ID_LEN + 1];
        int fd = sl_blob_create_tmp(&o->blobs, id);
        if (fd < 0) return internal(err, "create blob");
        if (sl_blob_write_all(fd, a->body, a->body_len) != 0) {
            sl_blob_discard_tmp(&o->blobs, fd, id);
            return errno == ENOSPC ? fail(err, "InsufficientStorage", "The data directory is full")
                                   : internal(err, "write blob");
        }
        if (sl_blob_publish(&o->blobs, fd, id) != 0) {
            sl_blob_discard_tmp(&o->blobs, -1, id);
            sl_blob_remove(&o->blobs, id);
            return internal(err, "publish blob");
        }
        ob->blob = sl_xstrdup(id);
    } else {
        ob->data = sl_xmalloc(a->body_len + 1);
        if (a->body_len) memcpy(ob->data, a->body, a->body_len);
        ob->data_len = a->body_len;
    }
    ob->bucket = sl_xstrdup(a->bucket);
    ob->key = sl_xstrndup(a->key, a->key_len);
    ob->key_len = a->key_len;
    ob->size = a->body_len;
    ob->etag = sl_xstrdup(etag);
    ob->last_modified_ms = sl_now_ms();
    ob->content_type =
        sl_xstrdup(a->content_type && *a->content_type ? a->content_type : "binary/octet-stream");
    ob->headers = headers_with_metadata(a->metadata);
    j.event = event_payload(o, a->caller, "ObjectCreated:Put", "PutObject", a->bucket, a->key,
                            a->key_len, ob->size, etag);
    return write_commit(o, &j, out, err);
}

int sl_objects_copy(sl_objects *o, const sl_objects_copy_args *a, sl_object_info *out,
                    sl_objects_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (check_key(a->src_bucket, a->src_key, a->src_key_len, err) != 0 ||
        check_key(a->bucket, a->key, a->key_len, err) != 0)
        return -1;
    sqlite3 *db = sl_store_reader(o->store);
    int b = bucket_row_exists(db, a->bucket);
    if (b < 0) return internal(err, "load bucket");
    if (!b) return no_such_bucket(err);
    bool same = !strcmp(a->src_bucket, a->bucket) && a->src_key_len == a->key_len &&
                !memcmp(a->src_key, a->key, a->key_len);
    if (same && !a->replace_metadata)
        return fail(err, "InvalidRequest",
                    "This copy request is illegal because it is trying to copy an object to "
                    "itself without changing the object's metadata, storage class, website "
                    "redirect location or encryption attributes.");
    write_job j;
    memset(&j, 0, sizeof j);
    s3_object *ob = &j.ob;
    int found = s3_object_load(o, a->src_bucket, a->src_key, a->src_key_len, ob, true);
    if (found < 0) return internal(err, "load copy source");
    if (!found) {
        int sb = bucket_row_exists(db, a->src_bucket);
        if (sb < 0) return internal(err, "load bucket");
        return sb ? no_such_key(err) : no_such_bucket(err);
    }
    /* The destination row is the source record with a new identity. */
    free(ob->bucket);
    free(ob->key);
    ob->bucket = sl_xstrdup(a->bucket);
    ob->key = sl_xstrndup(a->key, a->key_len);
    ob->key_len = a->key_len;
    ob->last_modified_ms = sl_now_ms();
    if (a->replace_metadata) {
        /* REPLACE swaps user metadata and Content-Type; other stored headers go too, as in
         * object_ops.c, where they come from the copy request. */
        json_decref(ob->headers);
        ob->headers = headers_with_metadata(a->metadata);
        free(ob->content_type);
        ob->content_type = sl_xstrdup(a->content_type && *a->content_type ? a->content_type
                                                                          : "binary/octet-stream");
    }
    if (ob->blob) {
        char new_id[SL_BLOB_ID_LEN + 1];
        if (sl_blob_link(&o->blobs, ob->blob, new_id) != 0) {
            s3_object_free(ob);
            return internal(err, "link blob");
        }
        free(ob->blob);
        ob->blob = sl_xstrdup(new_id);
    }
    j.event = event_payload(o, a->caller, "ObjectCreated:Copy", "CopyObject", a->bucket, a->key,
                            a->key_len, ob->size, ob->etag);
    return write_commit(o, &j, out, err);
}

typedef struct {
    const char *bucket, *key;
    size_t key_len;
    char *old_blob;
    json_t *event;
} delete_job;

static int delete_run(sqlite3 *db, void *arg) {
    delete_job *j = arg;
    int b = bucket_row_exists(db, j->bucket);
    if (b <= 0) return b < 0 ? -1 : RC_NO_BUCKET;
    if (s3_object_delete_row(db, j->bucket, j->key, j->key_len, &j->old_blob) < 0) return -1;
    return s3_event_record(db, j->event);
}

int sl_objects_delete(sl_objects *o, const char *bucket, const char *key, size_t key_len,
                      const sl_objects_caller *caller, sl_objects_error *err) {
    if (check_key(bucket, key, key_len, err) != 0) return -1;
    delete_job j = {bucket, key, key_len, NULL, NULL};
    j.event = event_payload(o, caller, "ObjectRemoved:Delete", "DeleteObject", bucket, key, key_len,
                            0, NULL);
    int rc = sl_store_write(o->store, delete_run, &j);
    if (rc == 0 && j.old_blob) sl_blob_remove(&o->blobs, j.old_blob);
    free(j.old_blob);
    json_decref(j.event);
    if (rc == RC_NO_BUCKET) return no_such_bucket(err);
    if (rc != 0) return internal(err, "delete object");
    return 0;
}

/* ---- ListObjectsV2 ---- */

void sl_objects_list_result_free(sl_objects_list_result *r) {
    if (!r) return;
    json_decref(r->contents);
    json_decref(r->common_prefixes);
    free(r->next_token);
    memset(r, 0, sizeof *r);
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r) return r;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* The walk of list_ops.c, producing JSON: keys in byte order after the marker; a delimiter
 * folds keys into common prefixes and the walk seeks past each whole prefix. */
static int walk(sl_objects *o, const char *bucket, const char *prefix, size_t prefix_len,
                const char *delim, size_t delim_len, const char *marker, size_t marker_len,
                sl_objects_list_result *out, sl_buf *last) {
    static const char *const sql_gt = "SELECT key, size, etag, last_modified_ms FROM objects"
                                      " WHERE bucket=?1 AND key > ?2 ORDER BY key LIMIT 1001";
    static const char *const sql_ge = "SELECT key, size, etag, last_modified_ms FROM objects"
                                      " WHERE bucket=?1 AND key >= ?2 ORDER BY key LIMIT 1001";
    sqlite3 *db = sl_store_reader(o->store);
    sl_buf seek, last_cp;
    sl_buf_init(&seek);
    sl_buf_init(&last_cp);
    bool inclusive;
    if (marker && cmp_bytes(marker, marker_len, prefix, prefix_len) >= 0) {
        sl_buf_append(&seek, marker, marker_len);
        inclusive = false;
    } else {
        sl_buf_append(&seek, prefix, prefix_len);
        inclusive = true;
    }
    int rc = 0;
    bool done = false;
    while (!done) {
        sqlite3_stmt *st = sl_store_cached(db, inclusive ? sql_ge : sql_gt);
        if (!st) {
            rc = -1;
            break;
        }
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, seek.data ? seek.data : "", (int)seek.len, SQLITE_TRANSIENT);
        bool reseek = false;
        int rows = 0, step = SQLITE_DONE;
        while (!reseek && (step = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            const char *key = (const char *)sqlite3_column_text(st, 0);
            size_t klen = (size_t)sqlite3_column_bytes(st, 0);
            if (klen < prefix_len || memcmp(key, prefix, prefix_len) != 0) {
                done = true;
                break;
            }
            const char *cp_end = NULL;
            if (delim) {
                const char *rest = key + prefix_len;
                size_t rlen = klen - prefix_len;
                for (size_t i = 0; i + delim_len <= rlen; i++)
                    if (!memcmp(rest + i, delim, delim_len)) {
                        cp_end = rest + i + delim_len;
                        break;
                    }
            }
            if (cp_end) {
                size_t cplen = (size_t)(cp_end - key);
                bool before_marker = marker && cmp_bytes(key, cplen, marker, marker_len) <= 0;
                bool repeat = last_cp.len == cplen && !memcmp(last_cp.data, key, cplen);
                if (!before_marker && !repeat) {
                    if (out->key_count == out->max_keys) {
                        out->is_truncated = true;
                        done = true;
                        break;
                    }
                    json_array_append_new(out->common_prefixes, json_stringn(key, cplen));
                    sl_buf_reset(&last_cp);
                    sl_buf_append(&last_cp, key, cplen);
                    sl_buf_reset(last);
                    sl_buf_append(last, key, cplen);
                    out->key_count++;
                }
                /* Skip every key under this prefix: valid UTF-8 never holds 0xFF. */
                sl_buf_reset(&seek);
                sl_buf_append(&seek, key, cplen);
                sl_buf_putc(&seek, (char)0xFF);
                inclusive = true;
                reseek = true;
                break;
            }
            if (out->key_count == out->max_keys) {
                out->is_truncated = true;
                done = true;
                break;
            }
            json_array_append_new(
                out->contents, json_pack("{s:s%,s:I,s:s,s:I}", "Key", key, klen, "Size",
                                         (json_int_t)sqlite3_column_int64(st, 1), "ETag",
                                         (const char *)sqlite3_column_text(st, 2), "LastModified",
                                         (json_int_t)sqlite3_column_int64(st, 3)));
            sl_buf_reset(last);
            sl_buf_append(last, key, klen);
            out->key_count++;
            sl_buf_reset(&seek);
            sl_buf_append(&seek, key, klen);
            inclusive = false;
        }
        if (!reseek && !done && step != SQLITE_DONE && step != SQLITE_ROW) rc = -1;
        sqlite3_reset(st);
        if (rc != 0 || (!reseek && rows == 0)) done = true;
    }
    sl_buf_free(&seek);
    sl_buf_free(&last_cp);
    return rc;
}

int sl_objects_list(sl_objects *o, const sl_objects_list_args *a, sl_objects_list_result *out,
                    sl_objects_error *err) {
    memset(out, 0, sizeof *out);
    if (!a->bucket || !*a->bucket) return fail(err, "InvalidArgument", "Bucket must not be empty");
    int b = bucket_row_exists(sl_store_reader(o->store), a->bucket);
    if (b < 0) return internal(err, "load bucket");
    if (!b) return no_such_bucket(err);
    const char *prefix = a->prefix ? a->prefix : "";
    const char *delim = a->delimiter && *a->delimiter ? a->delimiter : NULL;
    char *marker = NULL;
    size_t marker_len = 0;
    if (a->continuation_token) {
        size_t n = strlen(a->continuation_token);
        marker = sl_xmalloc(n + 1);
        long dn = sl_base64_decode(a->continuation_token, n, (unsigned char *)marker);
        if (dn <= 0) {
            free(marker);
            return fail(err, "InvalidArgument", "The continuation token provided is incorrect");
        }
        marker[dn] = 0;
        marker_len = (size_t)dn;
    } else if (a->start_after && *a->start_after) {
        marker = sl_xstrdup(a->start_after);
        marker_len = strlen(marker);
    }
    out->contents = json_array();
    out->common_prefixes = json_array();
    out->max_keys = a->max_keys < 0 ? 1000 : a->max_keys > 1000 ? 1000 : a->max_keys;
    sl_buf last;
    sl_buf_init(&last);
    int rc = walk(o, a->bucket, prefix, strlen(prefix), delim, delim ? strlen(delim) : 0, marker,
                  marker_len, out, &last);
    free(marker);
    if (rc != 0) {
        sl_buf_free(&last);
        sl_objects_list_result_free(out);
        return internal(err, "list objects");
    }
    if (out->is_truncated && last.len) {
        out->next_token = sl_xmalloc(4 * (last.len / 3 + 2));
        sl_base64_encode((const unsigned char *)last.data, last.len, out->next_token);
    }
    sl_buf_free(&last);
    return 0;
}
