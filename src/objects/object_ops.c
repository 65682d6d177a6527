/* object_ops: PutObject (after the upload sink), GetObject/HeadObject (conditions, ranges,
 * overrides, sendfile), DeleteObject(s), CopyObject and object tagging. Writes go through the
 * group commit; a replaced blob is removed only once the new row is durable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/xml.h"
#include "objects/conditions.h"
#include "objects/s3.h"

#define RC_NO_BUCKET S3_RC_NO_BUCKET
#define RC_NO_KEY    S3_RC_NO_KEY

static int bucket_row_exists(sqlite3 *db, const char *bucket) {
    sqlite3_stmt *st = sl_store_cached(db, "SELECT 1 FROM buckets WHERE name=?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static void respond_checksum(sl_req *req, const char *algo, const char *value, const char *type) {
    if (!algo || !value) return;
    sl_ck_algo a = sl_ck_algo_parse(algo);
    if (a == SL_CK_NONE) return;
    sl_resp_header_add(req, sl_ck_header_name(a), value);
    if (type) sl_resp_header_add(req, "x-amz-checksum-type", type);
}

/* ---- PutObject ---- */

typedef struct {
    s3_object ob;
    char *old_blob;
    json_t *event; /* outbox payload written with the row */
    char *if_match, *if_none_match;
} write_state;

static void write_state_free(void *p) {
    write_state *ws = p;
    s3_object_free(&ws->ob);
    json_decref(ws->event);
    free(ws->if_match);
    free(ws->if_none_match);
    free(ws->old_blob);
    free(ws);
}

static int put_job(sqlite3 *db, void *arg) {
    write_state *ws = arg;
    int b = bucket_row_exists(db, ws->ob.bucket);
    if (b <= 0) return b < 0 ? -1 : RC_NO_BUCKET;
    int cond = s3_check_write_conditions(db, ws->ob.bucket, ws->ob.key, ws->ob.key_len,
                                         ws->if_match, ws->if_none_match);
    if (cond) return cond;
    if (s3_object_store(db, &ws->ob, &ws->old_blob) != 0) return -1;
    return s3_event_record(db, ws->event);
}

static void put_done(s3_call *c) {
    write_state *ws = c->op_state;
    if (c->commit_rc == RC_NO_BUCKET) return s3_no_such_bucket(c);
    if (c->commit_rc == S3_RC_NO_KEY || c->commit_rc == S3_RC_PRECONDITION)
        return s3_write_condition_failed(c, c->commit_rc);
    if (c->commit_rc != 0) return s3_internal_error(c, "put object commit");
    upload_disown_blob(c->upload);
    if (ws->old_blob && (!ws->ob.blob || strcmp(ws->old_blob, ws->ob.blob) != 0))
        sl_blob_remove(&c->o->blobs, ws->old_blob);
    sl_resp_header_add(c->req, "ETag", ws->ob.etag);
    respond_checksum(c->req, ws->ob.checksum_algo, ws->ob.checksum, ws->ob.checksum_type);
    sl_resp_set(c->req, 200, NULL, NULL, 0);
}

void s3_put_object_complete(s3_call *c) {
    if (upload_finish(c) != 0) return;
    const upload_result *r = upload_get_result(c->upload);
    write_state *ws = sl_xcalloc(1, sizeof *ws);
    c->op_state = ws;
    c->op_state_free = write_state_free;
    s3_object *ob = &ws->ob;
    ob->bucket = sl_xstrdup(c->bucket);
    ob->key = sl_xstrndup(c->key, c->key_len);
    ob->key_len = c->key_len;
    ob->size = r->size;
    ob->etag = sl_xstrdup(r->etag);
    ob->last_modified_ms = sl_now_ms();
    const char *ct = sl_req_header(c->req, "Content-Type");
    ob->content_type = sl_xstrdup(ct && *ct ? ct : "binary/octet-stream");
    ob->headers = s3_headers_from_request(c->req);
    const char *tagging = sl_req_header(c->req, "x-amz-tagging");
    if (tagging && !(ob->tags = s3_tags_from_query_string(c, tagging))) return;
    if (r->ck_algo != SL_CK_NONE) {
        ob->checksum_algo = sl_xstrdup(sl_ck_algo_name(r->ck_algo));
        ob->checksum = sl_xstrdup(r->checksum);
        ob->checksum_type = sl_xstrdup("FULL_OBJECT");
    }
    if (r->blob_id[0]) {
        ob->blob = sl_xstrdup(r->blob_id);
    } else {
        ob->data = upload_take_inline(c->upload);
        ob->data_len = r->size;
    }
    ws->event = s3_event_payload(c, "ObjectCreated:Put", "PutObject", c->key, c->key_len, ob->size,
                                 ob->etag);
    const char *im = sl_req_header(c->req, "If-Match"),
               *inm = sl_req_header(c->req, "If-None-Match");
    if (im) ws->if_match = sl_xstrdup(im);
    if (inm) ws->if_none_match = sl_xstrdup(inm);
    s3_commit(c, put_job, ws, put_done);
}

/* ---- GetObject / HeadObject ---- */

/* Returns 0 to go on, or the status (304/412) the conditions demand. */
static int check_conditions(sl_req *req, const char *etag, int64_t last_modified_ms,
                            const char *prefix) {
    char name[96];
#define H(suffix) (snprintf(name, sizeof name, "%s%s", prefix, suffix), sl_req_header(req, name))
    s3_conditions cond;
    cond.if_match = H("If-Match");
    cond.if_none_match = H("If-None-Match");
    cond.if_modified_since = H("If-Modified-Since");
    cond.if_unmodified_since = H("If-Unmodified-Since");
#undef H
    return s3_conditions_check(&cond, etag, last_modified_ms);
}

static void add_object_headers(s3_call *c, const s3_object *ob) {
    sl_req *req = c->req;
    char lm[40];
    sl_time_rfc1123(ob->last_modified_ms, lm);
    sl_resp_header_add(req, "Last-Modified", lm);
    sl_resp_header_add(req, "ETag", ob->etag);
    sl_resp_header_add(req, "Accept-Ranges", "bytes");
    if (ob->tags && json_array_size(ob->tags))
        sl_resp_header_printf(req, "x-amz-tagging-count", "%zu", json_array_size(ob->tags));
    if (ob->parts > 0 && s3_param_has(c, "partNumber"))
        sl_resp_header_printf(req, "x-amz-mp-parts-count", "%d", ob->parts);
}

static const struct {
    const char *param, *header;
} overrides[] = {{"response-cache-control", "Cache-Control"},
                 {"response-content-disposition", "Content-Disposition"},
                 {"response-content-encoding", "Content-Encoding"},
                 {"response-content-language", "Content-Language"},
                 {"response-expires", "Expires"}};

void s3_get_object(s3_call *c, bool head) {
    sl_req *req = c->req;
    s3_object ob;
    for (int attempt = 0; attempt < 5; attempt++) {
        int found = s3_object_load(c->o, c->bucket, c->key, c->key_len, &ob, !head);
        if (found < 0) return s3_internal_error(c, "load object");
        if (!found) {
            if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
            return s3_error_key(c, 404, "NoSuchKey", "The specified key does not exist.");
        }
        int cond = check_conditions(req, ob.etag, ob.last_modified_ms, "");
        if (cond) {
            if (cond == 304) {
                add_object_headers(c, &ob);
                sl_resp_set(req, 304, NULL, NULL, 0);
            } else {
                s3_error(c, 412, "PreconditionFailed",
                         "At least one of the pre-conditions you specified did not hold");
            }
            s3_object_free(&ob);
            return;
        }
        uint64_t start = 0, end = ob.size ? ob.size - 1 : 0;
        int ranged = s3_range_parse(sl_req_header(req, "Range"), ob.size, &start, &end);
        const char *pn = s3_param_get(c, "partNumber");
        if (pn) {
            char *e;
            long n = strtol(pn, &e, 10);
            if (*e || e == pn || n < 1 || n > S3_MAX_PART_NUMBER) {
                s3_object_free(&ob);
                return s3_error(c, 400, "InvalidArgument",
                                "Part number must be an integer between 1 and 10000, inclusive");
            }
            if (sl_req_header(req, "Range")) {
                s3_object_free(&ob);
                return s3_error(c, 400, "InvalidRequest",
                                "Cannot specify both Range header and partNumber query parameter");
            }
            size_t count = ob.part_sizes ? json_array_size(ob.part_sizes) : 1;
            if ((size_t)n > count) {
                s3_object_free(&ob);
                return s3_error(c, 416, "InvalidPartNumber",
                                "The requested partnumber is not satisfiable");
            }
            ranged = 0;
            if (ob.part_sizes) {
                uint64_t off = 0;
                for (long i = 0; i + 1 < n; i++)
                    off += (uint64_t)json_integer_value(json_array_get(ob.part_sizes, (size_t)i));
                uint64_t psize =
                    (uint64_t)json_integer_value(json_array_get(ob.part_sizes, (size_t)n - 1));
                start = off;
                end = off + psize - 1;
                ranged = psize ? 1 : 0;
            }
        }
        if (ranged < 0) {
            sl_buf extra;
            sl_buf_init(&extra);
            const char *range = sl_req_header(req, "Range");
            sl_buf_puts(&extra, "<RangeRequested>");
            sl_buf_xml_escape(&extra, range, strlen(range));
            sl_buf_printf(&extra, "</RangeRequested><ActualObjectSize>%llu</ActualObjectSize>",
                          (unsigned long long)ob.size);
            sl_s3_error(req, 416, "InvalidRange", "The requested range is not satisfiable",
                        req->raw_path, extra.data);
            sl_buf_free(&extra);
            sl_resp_header_printf(req, "Content-Range", "bytes */%llu",
                                  (unsigned long long)ob.size);
            s3_object_free(&ob);
            return;
        }
        uint64_t len = ob.size ? end - start + 1 : 0;
        int fd = -1;
        if (ob.blob) {
            fd = sl_blob_open(&c->o->blobs, ob.blob);
            if (fd < 0 && errno == ENOENT) {
                /* Replaced between our read and open: read the row again. */
                s3_object_free(&ob);
                continue;
            }
            if (fd < 0) {
                s3_object_free(&ob);
                return s3_internal_error(c, "open blob");
            }
        }
        add_object_headers(c, &ob);
        const char *ct = s3_param_get(c, "response-content-type");
        sl_resp_header_add(req, "Content-Type",
                           ct                ? ct
                           : ob.content_type ? ob.content_type
                                             : "binary/octet-stream");
        json_t *h = json_deep_copy(ob.headers);
        for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
            const char *v = s3_param_get(c, overrides[i].param);
            if (v) json_object_set_new(h, overrides[i].header, json_string(v));
        }
        s3_apply_stored_headers(req, h);
        json_decref(h);
        const char *mode = sl_req_header(req, "x-amz-checksum-mode");
        if (mode && !strcasecmp(mode, "ENABLED") && ranged == 0)
            respond_checksum(req, ob.checksum_algo, ob.checksum, ob.checksum_type);
        int status = 200;
        if (ranged == 1) {
            status = 206;
            sl_resp_header_printf(req, "Content-Range", "bytes %llu-%llu/%llu",
                                  (unsigned long long)start, (unsigned long long)end,
                                  (unsigned long long)ob.size);
        }
        if (fd >= 0) {
            sl_resp_set_fd(req, status, fd, start, len);
        } else {
            req->status = status;
            sl_buf_reset(&req->resp_body);
            if (head) {
                /* HEAD answers the body's length without sending it. */
                sl_buf_reserve(&req->resp_body, len);
                memset(req->resp_body.data, 0, len);
                req->resp_body.len = len;
            } else if (len) {
                sl_buf_append(&req->resp_body, (char *)ob.data + start, len);
            }
            req->responded = true;
        }
        s3_object_free(&ob);
        return;
    }
    s3_internal_error(c, "object kept changing");
}

/* ---- DeleteObject(s) ---- */

typedef struct {
    char *bucket;
    json_t *keys;      /* array of key strings */
    json_t *old_blobs; /* blobs to remove after commit */
    json_t *events;    /* outbox payloads, one per key */
} delete_state;

static void delete_state_free(void *p) {
    delete_state *ds = p;
    free(ds->bucket);
    json_decref(ds->events);
    json_decref(ds->keys);
    json_decref(ds->old_blobs);
    free(ds);
}

static int delete_job(sqlite3 *db, void *arg) {
    delete_state *ds = arg;
    int b = bucket_row_exists(db, ds->bucket);
    if (b <= 0) return b < 0 ? -1 : RC_NO_BUCKET;
    size_t i;
    json_t *k;
    json_array_foreach(ds->keys, i, k) {
        char *old = NULL;
        if (s3_object_delete_row(db, ds->bucket, json_string_value(k), json_string_length(k),
                                 &old) < 0)
            return -1;
        if (old) json_array_append_new(ds->old_blobs, json_string(old));
        free(old);
        if (s3_event_record(db, json_array_get(ds->events, i)) != 0) return -1;
    }
    return 0;
}

static void remove_old_blobs(s3_call *c, delete_state *ds) {
    size_t i;
    json_t *v;
    json_array_foreach(ds->old_blobs, i, v) sl_blob_remove(&c->o->blobs, json_string_value(v));
}

static void delete_done(s3_call *c) {
    delete_state *ds = c->op_state;
    if (c->commit_rc == RC_NO_BUCKET) return s3_no_such_bucket(c);
    if (c->commit_rc != 0) return s3_internal_error(c, "delete object");
    remove_old_blobs(c, ds);
    sl_resp_set(c->req, 204, NULL, NULL, 0);
}

static delete_state *delete_state_new(s3_call *c) {
    delete_state *ds = sl_xcalloc(1, sizeof *ds);
    ds->bucket = sl_xstrdup(c->bucket);
    ds->keys = json_array();
    ds->old_blobs = json_array();
    ds->events = json_array();
    c->op_state = ds;
    c->op_state_free = delete_state_free;
    return ds;
}

void s3_delete_object(s3_call *c) {
    delete_state *ds = delete_state_new(c);
    json_array_append_new(ds->keys, json_stringn(c->key, c->key_len));
    json_array_append_new(ds->events, s3_event_payload(c, "ObjectRemoved:Delete", "DeleteObject",
                                                       c->key, c->key_len, 0, NULL));
    s3_commit(c, delete_job, ds, delete_done);
}

static void delete_objects_done(s3_call *c) {
    delete_state *ds = c->op_state;
    if (c->commit_rc == RC_NO_BUCKET) return s3_no_such_bucket(c);
    if (c->commit_rc != 0) return s3_internal_error(c, "delete objects");
    remove_old_blobs(c, ds);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "DeleteResult");
    size_t i;
    json_t *k;
    json_array_foreach(ds->keys, i, k) {
        sl_buf_puts(&b, "<Deleted>");
        s3_xml_elem_n(&b, "Key", json_string_value(k), json_string_length(k));
        sl_buf_puts(&b, "</Deleted>");
    }
    sl_buf_puts(&b, "</DeleteResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

static void delete_objects_quiet_done(s3_call *c) {
    if (c->commit_rc == RC_NO_BUCKET) return s3_no_such_bucket(c);
    if (c->commit_rc != 0) return s3_internal_error(c, "delete objects");
    remove_old_blobs(c, c->op_state);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "DeleteResult");
    sl_buf_puts(&b, "</DeleteResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

static void malformed_xml(s3_call *c) {
    s3_error(c, 400, "MalformedXML",
             "The XML you provided was not well-formed or did not validate against our published "
             "schema");
}

void s3_delete_objects(s3_call *c) {
    sl_req *req = c->req;
    if (!sl_req_header(req, "Content-MD5") && !sl_req_header(req, "x-amz-sdk-checksum-algorithm") &&
        !sl_req_header(req, "x-amz-checksum-crc32") &&
        !sl_req_header(req, "x-amz-checksum-crc32c") &&
        !sl_req_header(req, "x-amz-checksum-crc64nvme") &&
        !sl_req_header(req, "x-amz-checksum-sha1") &&
        !sl_req_header(req, "x-amz-checksum-sha256")) {
        s3_error(c, 400, "InvalidRequest",
                 "Missing required header for this request: Content-MD5 OR x-amz-checksum-*");
        return;
    }
    char err[256];
    sl_xml_node *root =
        sl_xml_parse(req->body.data ? req->body.data : "", req->body.len, err, sizeof err);
    if (!root || strcmp(root->name, "Delete") != 0) {
        sl_xml_free(root);
        return malformed_xml(c);
    }
    delete_state *ds = delete_state_new(c);
    const char *quiet = sl_xml_child_text(root, "Quiet");
    size_t count = 0;
    for (const sl_xml_node *n = root->first_child; n; n = n->next_sibling) {
        if (strcmp(n->name, "Object") != 0) continue;
        const sl_xml_node *k = sl_xml_child(n, "Key");
        if (!k || ++count > 1000) {
            sl_xml_free(root);
            return malformed_xml(c);
        }
        if (k->text_len > S3_MAX_KEY) {
            sl_xml_free(root);
            return s3_error(c, 400, "KeyTooLongError", "Your key is too long");
        }
        json_array_append_new(ds->keys, json_stringn(k->text, k->text_len));
        json_array_append_new(ds->events,
                              s3_event_payload(c, "ObjectRemoved:Delete", "DeleteObjects", k->text,
                                               k->text_len, 0, NULL));
    }
    bool is_quiet = quiet && !strcasecmp(quiet, "true");
    sl_xml_free(root);
    if (count == 0) return malformed_xml(c);
    /* CloudTrail records one DeleteObjects event per call: the first key's payload lists every
     * key for it (events/s3_shapes.c); each key still raises its own "Object Deleted". */
    json_object_set(json_array_get(ds->events, 0), "deleteKeys", ds->keys);
    s3_commit(c, delete_job, ds, is_quiet ? delete_objects_quiet_done : delete_objects_done);
}

/* ---- CopyObject ---- */

/* Parses x-amz-copy-source ("/bucket/key" or "bucket/key", URL-encoded, optional
 * ?versionId=). Returns 0 or -1 after setting the error. */
static int s3_parse_copy_source(s3_call *c, char **bucket, char **key, size_t *key_len) {
    const char *src = sl_req_header(c->req, "x-amz-copy-source");
    size_t n = strlen(src);
    const char *q = strstr(src, "?versionId=");
    if (q) {
        if (strcmp(q + 11, "null") != 0) {
            s3_error(c, 404, "NoSuchVersion", "The specified version does not exist.");
            return -1;
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
        s3_error(c, 400, "InvalidArgument",
                 "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        return -1;
    }
    *bucket = sl_xstrndup(p, (size_t)(slash - p));
    *key_len = (size_t)dn - (size_t)(slash - p) - 1;
    *key = sl_xstrndup(slash + 1, *key_len);
    free(dec);
    if (*key_len > S3_MAX_KEY) {
        free(*bucket);
        free(*key);
        s3_error(c, 400, "KeyTooLongError", "Your key is too long");
        return -1;
    }
    return 0;
}

/* Loads the copy source and checks x-amz-copy-source-if-*; returns 1 with *out loaded, or 0
 * after setting the error. */
int s3_load_copy_source(s3_call *c, s3_object *out) {
    char *sb, *sk;
    size_t sklen;
    if (s3_parse_copy_source(c, &sb, &sk, &sklen) != 0) return 0;
    int found = s3_object_load(c->o, sb, sk, sklen, out, true);
    if (found <= 0) {
        if (found < 0) s3_internal_error(c, "load copy source");
        else if (!s3_bucket_exists(c, sb)) {
            char *saved = c->bucket;
            c->bucket = sb;
            s3_no_such_bucket(c);
            c->bucket = saved;
        } else {
            sl_buf extra;
            sl_buf_init(&extra);
            sl_buf_puts(&extra, "<Key>");
            sl_buf_xml_escape(&extra, sk, sklen);
            sl_buf_puts(&extra, "</Key>");
            sl_s3_error(c->req, 404, "NoSuchKey", "The specified key does not exist.",
                        c->req->raw_path, extra.data);
            sl_buf_free(&extra);
        }
        free(sb);
        free(sk);
        return 0;
    }
    free(sb);
    free(sk);
    if (check_conditions(c->req, out->etag, out->last_modified_ms, "x-amz-copy-source-")) {
        s3_object_free(out);
        s3_error(c, 412, "PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold");
        return 0;
    }
    return 1;
}

static void copy_done(s3_call *c) {
    write_state *ws = c->op_state;
    if (c->commit_rc == RC_NO_BUCKET) {
        if (ws->ob.blob) sl_blob_remove(&c->o->blobs, ws->ob.blob);
        return s3_no_such_bucket(c);
    }
    if (c->commit_rc != 0) {
        if (ws->ob.blob) sl_blob_remove(&c->o->blobs, ws->ob.blob);
        return s3_internal_error(c, "copy object");
    }
    if (ws->old_blob) sl_blob_remove(&c->o->blobs, ws->old_blob);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "CopyObjectResult");
    s3_xml_time(&b, "LastModified", ws->ob.last_modified_ms);
    s3_xml_elem(&b, "ETag", ws->ob.etag);
    if (ws->ob.checksum_algo && ws->ob.checksum) {
        char name[32];
        sl_ck_algo a = sl_ck_algo_parse(ws->ob.checksum_algo);
        const char *n = sl_ck_algo_name(a);
        snprintf(name, sizeof name, "Checksum%s", n);
        if (a != SL_CK_NONE) s3_xml_elem(&b, name, ws->ob.checksum);
        if (ws->ob.checksum_type) s3_xml_elem(&b, "ChecksumType", ws->ob.checksum_type);
    }
    sl_buf_puts(&b, "</CopyObjectResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

void s3_copy_object(s3_call *c) {
    sl_req *req = c->req;
    const char *directive = sl_req_header(req, "x-amz-metadata-directive");
    const char *tag_directive = sl_req_header(req, "x-amz-tagging-directive");
    if ((directive && strcmp(directive, "COPY") && strcmp(directive, "REPLACE")) ||
        (tag_directive && strcmp(tag_directive, "COPY") && strcmp(tag_directive, "REPLACE"))) {
        return s3_error(c, 400, "InvalidArgument", "Unknown metadata directive.");
    }
    bool replace = directive && !strcmp(directive, "REPLACE");
    bool replace_tags = tag_directive && !strcmp(tag_directive, "REPLACE");
    if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
    write_state *ws = sl_xcalloc(1, sizeof *ws);
    c->op_state = ws;
    c->op_state_free = write_state_free;
    s3_object *src = &ws->ob;
    if (!s3_load_copy_source(c, src)) return;
    bool same = !strcmp(src->bucket, c->bucket) && src->key_len == c->key_len &&
                !memcmp(src->key, c->key, c->key_len);
    if (same && !replace && !sl_req_header(req, "x-amz-storage-class") &&
        !sl_req_header(req, "x-amz-website-redirect-location")) {
        return s3_error(
            c, 400, "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without "
            "changing the object's metadata, storage class, website redirect location or "
            "encryption "
            "attributes.");
    }
    /* The destination row reuses the source record with a new identity. */
    free(src->bucket);
    free(src->key);
    src->bucket = sl_xstrdup(c->bucket);
    src->key = sl_xstrndup(c->key, c->key_len);
    src->key_len = c->key_len;
    src->last_modified_ms = sl_now_ms();
    if (replace) {
        json_decref(src->headers);
        src->headers = s3_headers_from_request(req);
        free(src->content_type);
        const char *ct = sl_req_header(req, "Content-Type");
        src->content_type = sl_xstrdup(ct && *ct ? ct : "binary/octet-stream");
    }
    if (replace_tags) {
        json_decref(src->tags);
        src->tags = NULL;
        const char *tagging = sl_req_header(req, "x-amz-tagging");
        if (tagging && !(src->tags = s3_tags_from_query_string(c, tagging))) return;
    }
    if (src->blob) {
        char new_id[SL_BLOB_ID_LEN + 1];
        if (sl_blob_link(&c->o->blobs, src->blob, new_id) != 0)
            return s3_internal_error(c, "link blob");
        free(src->blob);
        src->blob = sl_xstrdup(new_id);
    }
    ws->event = s3_event_payload(c, "ObjectCreated:Copy", "CopyObject", c->key, c->key_len,
                                 src->size, src->etag);
    s3_commit(c, put_job, ws, copy_done);
}

/* ---- tagging ---- */

void s3_get_object_tagging(s3_call *c) {
    s3_object ob;
    int found = s3_object_load(c->o, c->bucket, c->key, c->key_len, &ob, false);
    if (found < 0) return s3_internal_error(c, "load object");
    if (!found) {
        if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
        return s3_error_key(c, 404, "NoSuchKey", "The specified key does not exist.");
    }
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "Tagging");
    sl_buf_puts(&b, "<TagSet>");
    size_t i;
    json_t *t;
    json_array_foreach(ob.tags, i, t) {
        sl_buf_puts(&b, "<Tag>");
        s3_xml_elem(&b, "Key", json_string_value(json_object_get(t, "Key")));
        s3_xml_elem(&b, "Value", json_string_value(json_object_get(t, "Value")));
        sl_buf_puts(&b, "</Tag>");
    }
    sl_buf_puts(&b, "</TagSet></Tagging>");
    s3_object_free(&ob);
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

typedef struct {
    char *bucket, *key;
    size_t key_len;
    char *tags; /* JSON or NULL */
    json_t *event;
} tag_state;

static void tag_state_free(void *p) {
    tag_state *ts = p;
    json_decref(ts->event);
    free(ts->bucket);
    free(ts->key);
    free(ts->tags);
    free(ts);
}

static int tag_job(sqlite3 *db, void *arg) {
    tag_state *ts = arg;
    int b = bucket_row_exists(db, ts->bucket);
    if (b <= 0) return b < 0 ? -1 : RC_NO_BUCKET;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE objects SET tags=?3 WHERE bucket=?1 AND key=?2", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, ts->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ts->key, (int)ts->key_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ts->tags, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return -1;
    if (!sqlite3_changes(db)) return RC_NO_KEY;
    return s3_event_record(db, ts->event);
}

static void tag_done(s3_call *c) {
    tag_state *ts = c->op_state;
    if (c->commit_rc == RC_NO_BUCKET) return s3_no_such_bucket(c);
    if (c->commit_rc == RC_NO_KEY)
        return s3_error_key(c, 404, "NoSuchKey", "The specified key does not exist.");
    if (c->commit_rc != 0) return s3_internal_error(c, "tagging");
    sl_resp_set(c->req, ts->tags ? 200 : 204, NULL, NULL, 0);
}

static tag_state *tag_state_new(s3_call *c) {
    tag_state *ts = sl_xcalloc(1, sizeof *ts);
    ts->bucket = sl_xstrdup(c->bucket);
    ts->key = sl_xstrndup(c->key, c->key_len);
    ts->key_len = c->key_len;
    c->op_state = ts;
    c->op_state_free = tag_state_free;
    return ts;
}

void s3_put_object_tagging(s3_call *c) {
    char err[256];
    sl_xml_node *root =
        sl_xml_parse(c->req->body.data ? c->req->body.data : "", c->req->body.len, err, sizeof err);
    const sl_xml_node *set =
        root && !strcmp(root->name, "Tagging") ? sl_xml_child(root, "TagSet") : NULL;
    if (!set) {
        sl_xml_free(root);
        return malformed_xml(c);
    }
    json_t *tags = json_array();
    for (const sl_xml_node *t = set->first_child; t; t = t->next_sibling) {
        if (strcmp(t->name, "Tag") != 0) continue;
        const char *k = sl_xml_child_text(t, "Key"), *v = sl_xml_child_text(t, "Value");
        if (!k || !v) {
            json_decref(tags);
            sl_xml_free(root);
            return malformed_xml(c);
        }
        json_array_append_new(tags, json_pack("{s:s,s:s}", "Key", k, "Value", v));
    }
    sl_xml_free(root);
    if (!s3_tags_valid(c, tags)) {
        json_decref(tags);
        return;
    }
    tag_state *ts = tag_state_new(c);
    ts->tags = json_dumps(tags, JSON_COMPACT);
    json_decref(tags);
    ts->event =
        s3_event_payload(c, "ObjectTagging:Put", "PutObjectTagging", c->key, c->key_len, 0, NULL);
    s3_commit(c, tag_job, ts, tag_done);
}

void s3_delete_object_tagging(s3_call *c) {
    tag_state *ts = tag_state_new(c);
    ts->event = s3_event_payload(c, "ObjectTagging:Delete", "DeleteObjectTagging", c->key,
                                 c->key_len, 0, NULL);
    s3_commit(c, tag_job, c->op_state, tag_done);
}
