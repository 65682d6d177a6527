/* multipart: CreateMultipartUpload, UploadPart(Copy), CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads. Every part is a blob of its own;
 * completion concatenates them (copy_file_range) into the object's blob, so a GET is one
 * sendfile. The object's ETag is MD5 of the parts' MD5s with "-N"; its checksum is the
 * composite of the parts' checksums or, for full-object CRCs, their combination. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/xml.h"
#include "objects/s3.h"

#define RC_NO_UPLOAD 3 /* distinct from the S3_RC_* codes in s3.h */

typedef struct {
    char *upload_id;
    char *bucket;
    char *key;
    size_t key_len;
    int64_t created_ms;
    char *content_type;
    char *headers;
    char *checksum_algo;
    char *checksum_type;
    char *tags;
} upload_row;

static void upload_row_free(upload_row *u) {
    free(u->upload_id);
    free(u->bucket);
    free(u->key);
    free(u->content_type);
    free(u->headers);
    free(u->checksum_algo);
    free(u->checksum_type);
    free(u->tags);
    memset(u, 0, sizeof *u);
}

static char *dup_col(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? sl_xstrdup((const char *)t) : NULL;
}

/* Loads the upload and checks it belongs to this bucket and key. 1 found, 0 absent, -1. */
static int load_upload(sqlite3 *db, const char *upload_id, const char *bucket, const char *key,
                       size_t key_len, upload_row *out) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT bucket, key, created_ms, content_type, headers, checksum_algo, checksum_type,"
            " tags FROM uploads WHERE upload_id=?1",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        const char *b = (const char *)sqlite3_column_text(st, 0);
        const void *k = sqlite3_column_text(st, 1);
        size_t kl = (size_t)sqlite3_column_bytes(st, 1);
        if (!strcmp(b, bucket) && kl == key_len && !memcmp(k, key, kl)) {
            found = 1;
            if (out) {
                memset(out, 0, sizeof *out);
                out->upload_id = sl_xstrdup(upload_id);
                out->bucket = sl_xstrdup(b);
                out->key = sl_xstrndup(k, kl);
                out->key_len = kl;
                out->created_ms = sqlite3_column_int64(st, 2);
                out->content_type = dup_col(st, 3);
                out->headers = dup_col(st, 4);
                out->checksum_algo = dup_col(st, 5);
                out->checksum_type = dup_col(st, 6);
                out->tags = dup_col(st, 7);
            }
        }
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

static void no_such_upload(s3_call *c) {
    sl_buf extra;
    sl_buf_init(&extra);
    const char *id = s3_param_get(c, "uploadId");
    sl_buf_puts(&extra, "<UploadId>");
    sl_buf_xml_escape(&extra, id ? id : "", id ? strlen(id) : 0);
    sl_buf_puts(&extra, "</UploadId>");
    sl_s3_error(c->req, 404, "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, or the upload "
                "may have been "
                "aborted or completed.",
                c->req->raw_path, extra.data);
    sl_buf_free(&extra);
}

sl_ck_algo s3_upload_part_algo(s3_call *c, bool *exists) {
    upload_row u;
    const char *id = s3_param_get(c, "uploadId");
    int found = load_upload(sl_store_reader(c->o->store), id, c->bucket, c->key, c->key_len, &u);
    *exists = found == 1;
    if (found != 1) return SL_CK_NONE;
    sl_ck_algo a = u.checksum_algo ? sl_ck_algo_parse(u.checksum_algo) : SL_CK_NONE;
    upload_row_free(&u);
    return a;
}

static int parse_part_number(s3_call *c) {
    const char *pn = s3_param_get(c, "partNumber");
    char *end;
    errno = 0;
    long v = pn ? strtol(pn, &end, 10) : 0;
    if (!pn || errno || *end || end == pn || v < 1 || v > S3_MAX_PART_NUMBER) {
        s3_error(c, 400, "InvalidArgument",
                 "Part number must be an integer between 1 and 10000, inclusive");
        return -1;
    }
    return (int)v;
}

/* ---- CreateMultipartUpload ---- */

static int create_job(sqlite3 *db, void *arg) {
    upload_row *u = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM buckets WHERE name=?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, u->bucket, -1, SQLITE_STATIC);
    int exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!exists) return 1;
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO uploads (upload_id, bucket, key, created_ms, content_type, headers,"
            " checksum_algo, checksum_type, tags) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, u->upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, u->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, u->key, (int)u->key_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, u->created_ms);
    sqlite3_bind_text(st, 5, u->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, u->headers, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, u->checksum_algo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, u->checksum_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, u->tags, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

void s3_create_multipart(s3_call *c) {
    sl_req *req = c->req;
    upload_row u = {0};
    char id[65];
    sl_id_hex(id, 24);
    u.upload_id = sl_xstrdup(id);
    u.bucket = sl_xstrdup(c->bucket);
    u.key = sl_xstrndup(c->key, c->key_len);
    u.key_len = c->key_len;
    u.created_ms = sl_now_ms();
    const char *ct = sl_req_header(req, "Content-Type");
    u.content_type = sl_xstrdup(ct && *ct ? ct : "binary/octet-stream");
    json_t *h = s3_headers_from_request(req);
    u.headers = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    const char *algo = sl_req_header(req, "x-amz-checksum-algorithm");
    const char *type = sl_req_header(req, "x-amz-checksum-type");
    if (algo) {
        sl_ck_algo a = sl_ck_algo_parse(algo);
        if (a == SL_CK_NONE) {
            upload_row_free(&u);
            return s3_error(c, 400, "InvalidRequest",
                            "Checksum algorithm provided is unsupported.");
        }
        u.checksum_algo = sl_xstrdup(sl_ck_algo_name(a));
        if (type && strcmp(type, "COMPOSITE") && strcmp(type, "FULL_OBJECT")) {
            upload_row_free(&u);
            return s3_error(c, 400, "InvalidRequest",
                            "Value for x-amz-checksum-type header is invalid.");
        }
        bool crc = a == SL_CK_CRC32 || a == SL_CK_CRC32C || a == SL_CK_CRC64NVME;
        if (type && !strcmp(type, "FULL_OBJECT") && !crc) {
            upload_row_free(&u);
            return s3_error(
                c, 400, "InvalidRequest",
                "The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.");
        }
        if (type && !strcmp(type, "COMPOSITE") && a == SL_CK_CRC64NVME) {
            upload_row_free(&u);
            return s3_error(c, 400, "InvalidRequest",
                            "The COMPOSITE checksum type cannot be used with the crc64nvme "
                            "checksum algorithm.");
        }
        u.checksum_type = sl_xstrdup(type                   ? type
                                     : a == SL_CK_CRC64NVME ? "FULL_OBJECT"
                                                            : "COMPOSITE");
    }
    const char *tagging = sl_req_header(req, "x-amz-tagging");
    if (tagging) {
        json_t *tags = s3_tags_from_query_string(c, tagging);
        if (!tags) {
            upload_row_free(&u);
            return;
        }
        u.tags = json_array_size(tags) ? json_dumps(tags, JSON_COMPACT) : NULL;
        json_decref(tags);
    }
    int rc = sl_store_write(c->o->store, create_job, &u);
    if (rc == 1) {
        upload_row_free(&u);
        return s3_no_such_bucket(c);
    }
    if (rc != 0) {
        upload_row_free(&u);
        return s3_internal_error(c, "create upload");
    }
    if (u.checksum_algo) {
        sl_resp_header_add(req, "x-amz-checksum-algorithm", u.checksum_algo);
        sl_resp_header_add(req, "x-amz-checksum-type", u.checksum_type);
    }
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "InitiateMultipartUploadResult");
    s3_xml_elem(&b, "Bucket", c->bucket);
    s3_xml_elem_n(&b, "Key", c->key, c->key_len);
    s3_xml_elem(&b, "UploadId", id);
    sl_buf_puts(&b, "</InitiateMultipartUploadResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
    upload_row_free(&u);
}

/* ---- UploadPart / UploadPartCopy ---- */

typedef struct {
    char *upload_id, *bucket, *key;
    size_t key_len;
    int part_number;
    uint64_t size;
    char etag[80];
    char checksum[96];
    sl_ck_algo algo;
    char blob[SL_BLOB_ID_LEN + 1];
    char *old_blob;
    int64_t now;
    bool blob_is_ours; /* UploadPartCopy's blob, removed by us on failure */
} part_state;

static void part_state_free(void *p) {
    part_state *ps = p;
    free(ps->upload_id);
    free(ps->bucket);
    free(ps->key);
    free(ps->old_blob);
    free(ps);
}

static int part_job(sqlite3 *db, void *arg) {
    part_state *ps = arg;
    int found = load_upload(db, ps->upload_id, ps->bucket, ps->key, ps->key_len, NULL);
    if (found <= 0) return found < 0 ? -1 : RC_NO_UPLOAD;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT blob FROM parts WHERE upload_id=?1 AND part_number=?2", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, ps->upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, ps->part_number);
    if (sqlite3_step(st) == SQLITE_ROW) ps->old_blob = dup_col(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(
            db,
            "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, checksum, blob,"
            " last_modified_ms) VALUES (?1,?2,?3,?4,?5,?6,?7)",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, ps->upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, ps->part_number);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)ps->size);
    sqlite3_bind_text(st, 4, ps->etag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ps->checksum[0] ? ps->checksum : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, ps->blob, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, ps->now);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Common end of UploadPart(Copy): false after answering the error. */
static bool part_committed(s3_call *c) {
    part_state *ps = c->op_state;
    if (c->commit_rc != 0) {
        if (ps->blob_is_ours) sl_blob_remove(&c->o->blobs, ps->blob);
        if (c->commit_rc == RC_NO_UPLOAD) no_such_upload(c);
        else s3_internal_error(c, "upload part");
        return false;
    }
    if (c->upload) upload_disown_blob(c->upload);
    if (ps->old_blob) sl_blob_remove(&c->o->blobs, ps->old_blob);
    return true;
}

static void part_done(s3_call *c) {
    part_state *ps = c->op_state;
    if (!part_committed(c)) return;
    sl_resp_header_add(c->req, "ETag", ps->etag);
    if (ps->algo != SL_CK_NONE && ps->checksum[0])
        sl_resp_header_add(c->req, sl_ck_header_name(ps->algo), ps->checksum);
    sl_resp_set(c->req, 200, NULL, NULL, 0);
}

static part_state *part_state_new(s3_call *c, int part_number) {
    part_state *ps = sl_xcalloc(1, sizeof *ps);
    ps->upload_id = sl_xstrdup(s3_param_get(c, "uploadId"));
    ps->bucket = sl_xstrdup(c->bucket);
    ps->key = sl_xstrndup(c->key, c->key_len);
    ps->key_len = c->key_len;
    ps->part_number = part_number;
    ps->now = sl_now_ms();
    c->op_state = ps;
    c->op_state_free = part_state_free;
    return ps;
}

void s3_upload_part_complete(s3_call *c) {
    int pn = parse_part_number(c);
    if (pn < 0) return;
    if (upload_finish(c) != 0) return;
    const upload_result *r = upload_get_result(c->upload);
    part_state *ps = part_state_new(c, pn);
    ps->size = r->size;
    snprintf(ps->etag, sizeof ps->etag, "%s", r->etag);
    ps->algo = r->ck_algo;
    if (r->ck_algo != SL_CK_NONE) snprintf(ps->checksum, sizeof ps->checksum, "%s", r->checksum);
    snprintf(ps->blob, sizeof ps->blob, "%s", r->blob_id);
    s3_commit(c, part_job, ps, part_done);
}

/* UploadPartCopy answers with a document rather than headers. */
static void part_copy_done(s3_call *c) {
    part_state *ps = c->op_state;
    if (!part_committed(c)) return;
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "CopyPartResult");
    s3_xml_time(&b, "LastModified", ps->now);
    s3_xml_elem(&b, "ETag", ps->etag);
    if (ps->algo != SL_CK_NONE && ps->checksum[0]) {
        char name[32];
        snprintf(name, sizeof name, "Checksum%s", sl_ck_algo_name(ps->algo));
        s3_xml_elem(&b, name, ps->checksum);
    }
    sl_buf_puts(&b, "</CopyPartResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

void s3_upload_part_copy(s3_call *c) {
    int pn = parse_part_number(c);
    if (pn < 0) return;
    bool exists;
    sl_ck_algo algo = s3_upload_part_algo(c, &exists);
    if (!exists) return no_such_upload(c);
    s3_object src;
    if (!s3_load_copy_source(c, &src)) return;
    uint64_t start = 0, end = src.size ? src.size - 1 : 0;
    const char *range = sl_req_header(c->req, "x-amz-copy-source-range");
    if (range) {
        unsigned long long a, b;
        char tail;
        if (sscanf(range, "bytes=%llu-%llu%c", &a, &b, &tail) != 2 || b < a || b >= src.size) {
            s3_object_free(&src);
            return s3_error(
                c, 400, "InvalidArgument",
                "The x-amz-copy-source-range value must be of the form bytes=first-last where "
                "first "
                "and last are the zero-based offsets of the first and last bytes to copy");
        }
        start = a;
        end = b;
    }
    uint64_t len = src.size ? end - start + 1 : 0;
    part_state *ps = part_state_new(c, pn);
    int out = sl_blob_create_tmp(&c->o->blobs, ps->blob);
    if (out < 0) {
        s3_object_free(&src);
        return s3_internal_error(c, "create part file");
    }
    sl_hasher *h = sl_hasher_new(algo, false);
    int in = src.blob ? sl_blob_open(&c->o->blobs, src.blob) : -1;
    bool ok = src.blob ? in >= 0 : true;
    if (ok && in >= 0) {
        char buf[1 << 16];
        uint64_t off = start, left = len;
        while (ok && left) {
            ssize_t n = pread(in, buf, left < sizeof buf ? left : sizeof buf, (off_t)off);
            if (n <= 0) {
                ok = false;
                break;
            }
            sl_hasher_update(h, buf, (size_t)n);
            ok = sl_blob_write_all(out, buf, (size_t)n) == 0;
            off += (uint64_t)n;
            left -= (uint64_t)n;
        }
    } else if (ok && len) {
        sl_hasher_update(h, (char *)src.data + start, len);
        ok = sl_blob_write_all(out, (char *)src.data + start, len) == 0;
    }
    if (in >= 0) close(in);
    char md5[33];
    unsigned char md5raw[16];
    sl_hasher_final(h, md5, md5raw, ps->checksum, NULL, NULL);
    sl_hasher_free(h);
    if (algo == SL_CK_NONE) ps->checksum[0] = 0;
    s3_object_free(&src);
    if (!ok || sl_blob_publish(&c->o->blobs, out, ps->blob) != 0) {
        if (ok) sl_blob_remove(&c->o->blobs, ps->blob);
        else sl_blob_discard_tmp(&c->o->blobs, out, ps->blob);
        return s3_internal_error(c, "copy part");
    }
    ps->blob_is_ours = true;
    ps->size = len;
    ps->algo = algo;
    snprintf(ps->etag, sizeof ps->etag, "\"%s\"", md5);
    s3_commit(c, part_job, ps, part_copy_done);
}

/* ---- CompleteMultipartUpload ---- */

typedef struct {
    int number;
    uint64_t size;
    char *etag;
    char *checksum;
    char *blob;
} part_row;

typedef struct {
    upload_row up;
    s3_object ob;
    char *old_blob;
    part_row *parts; /* all stored parts of the upload */
    size_t nparts;
    json_t *event;
    char *if_match, *if_none_match;
} complete_state;

static void complete_state_free(void *p) {
    complete_state *cs = p;
    json_decref(cs->event);
    free(cs->if_match);
    free(cs->if_none_match);
    upload_row_free(&cs->up);
    s3_object_free(&cs->ob);
    free(cs->old_blob);
    for (size_t i = 0; i < cs->nparts; i++) {
        free(cs->parts[i].etag);
        free(cs->parts[i].checksum);
        free(cs->parts[i].blob);
    }
    free(cs->parts);
    free(cs);
}

static int load_parts(sqlite3 *db, const char *upload_id, part_row **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT part_number, size, etag, checksum, blob FROM parts WHERE upload_id=?1"
            " ORDER BY part_number",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = sl_xrealloc(*out, cap * sizeof **out);
        }
        part_row *p = &(*out)[(*n)++];
        p->number = sqlite3_column_int(st, 0);
        p->size = (uint64_t)sqlite3_column_int64(st, 1);
        p->etag = dup_col(st, 2);
        p->checksum = dup_col(st, 3);
        p->blob = dup_col(st, 4);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Inside a write job: forgets an upload and its parts (their blobs are the caller's to remove
 * once the commit is durable). */
static int delete_upload_rows(sqlite3 *db, const char *upload_id) {
    static const char *const sqls[] = {"DELETE FROM parts WHERE upload_id=?1",
                                       "DELETE FROM uploads WHERE upload_id=?1"};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sqls[i], -1, &st, NULL) != SQLITE_OK) return -1;
        sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return -1;
    }
    return 0;
}

static int complete_job(sqlite3 *db, void *arg) {
    complete_state *cs = arg;
    int found = load_upload(db, cs->up.upload_id, cs->up.bucket, cs->up.key, cs->up.key_len, NULL);
    if (found <= 0) return found < 0 ? -1 : RC_NO_UPLOAD;
    int cond = s3_check_write_conditions(db, cs->up.bucket, cs->up.key, cs->up.key_len,
                                         cs->if_match, cs->if_none_match);
    if (cond) return cond;
    if (s3_object_store(db, &cs->ob, &cs->old_blob) != 0) return -1;
    if (s3_event_record(db, cs->event) != 0) return -1;
    return delete_upload_rows(db, cs->up.upload_id);
}

static void complete_done(s3_call *c) {
    complete_state *cs = c->op_state;
    if (c->commit_rc != 0) {
        sl_blob_remove(&c->o->blobs, cs->ob.blob);
        if (c->commit_rc == RC_NO_UPLOAD) return no_such_upload(c);
        if (c->commit_rc == S3_RC_NO_KEY || c->commit_rc == S3_RC_PRECONDITION)
            return s3_write_condition_failed(c, c->commit_rc);
        return s3_internal_error(c, "complete upload");
    }
    for (size_t i = 0; i < cs->nparts; i++) sl_blob_remove(&c->o->blobs, cs->parts[i].blob);
    if (cs->old_blob) sl_blob_remove(&c->o->blobs, cs->old_blob);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "CompleteMultipartUploadResult");
    sl_buf loc;
    sl_buf_init(&loc);
    const char *host = sl_req_header(c->req, "Host");
    sl_buf_printf(&loc, "http://%s/%s/", host ? host : "localhost", c->bucket);
    sl_buf_uri_encode(&loc, c->key, c->key_len, true);
    s3_xml_elem(&b, "Location", loc.data);
    sl_buf_free(&loc);
    s3_xml_elem(&b, "Bucket", c->bucket);
    s3_xml_elem_n(&b, "Key", c->key, c->key_len);
    s3_xml_elem(&b, "ETag", cs->ob.etag);
    if (cs->ob.checksum_algo) {
        char name[32];
        snprintf(name, sizeof name, "Checksum%s", cs->ob.checksum_algo);
        s3_xml_elem(&b, name, cs->ob.checksum);
        s3_xml_elem(&b, "ChecksumType", cs->ob.checksum_type);
    }
    sl_buf_puts(&b, "</CompleteMultipartUploadResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

static void malformed(s3_call *c) {
    s3_error(c, 400, "MalformedXML",
             "The XML you provided was not well-formed or did not validate against our published "
             "schema");
}

static void invalid_part(s3_call *c) {
    s3_error(c, 400, "InvalidPart",
             "One or more of the specified parts could not be found.  The part may not have been "
             "uploaded, or "
             "the specified entity tag may not match the part's entity tag.");
}

static bool etag_equal(const char *a, const char *b) {
    size_t an = strlen(a), bn = strlen(b);
    if (an >= 2 && a[0] == '"') a++, an -= 2;
    if (bn >= 2 && b[0] == '"') b++, bn -= 2;
    return an == bn && !strncasecmp(a, b, an);
}

/* The object's checksum from its parts' checksums: composite "<b64>-N" or full-object CRC. */
static bool combine_checksums(const complete_state *cs, const part_row **chosen, size_t n,
                              char *out, size_t outlen) {
    sl_ck_algo a = sl_ck_algo_parse(cs->up.checksum_algo);
    size_t dl = sl_ck_digest_len(a);
    bool full = cs->up.checksum_type && !strcmp(cs->up.checksum_type, "FULL_OBJECT");
    unsigned char *raw = sl_xmalloc(dl * n + 1);
    uint64_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        const char *b64 = chosen[i]->checksum;
        unsigned char d[48];
        if (!b64 || strlen(b64) > 44 || sl_base64_decode(b64, strlen(b64), d) != (long)dl) {
            free(raw);
            return false;
        }
        memcpy(raw + i * dl, d, dl);
        if (full) crc = sl_ck_crc_combine(a, crc, sl_ck_crc_from_raw(a, d), chosen[i]->size);
    }
    if (full) {
        char b64[64];
        sl_ck_crc_to_b64(a, crc, b64);
        snprintf(out, outlen, "%s", b64);
    } else {
        char comp[80];
        sl_ck_composite(a, raw, n, comp);
        snprintf(out, outlen, "%s", comp);
    }
    free(raw);
    return true;
}

void s3_complete_multipart(s3_call *c) {
    sl_req *req = c->req;
    const char *upload_id = s3_param_get(c, "uploadId");
    complete_state *cs = sl_xcalloc(1, sizeof *cs);
    c->op_state = cs;
    c->op_state_free = complete_state_free;
    sqlite3 *db = sl_store_reader(c->o->store);
    int found = load_upload(db, upload_id, c->bucket, c->key, c->key_len, &cs->up);
    if (found < 0) return s3_internal_error(c, "load upload");
    if (!found) {
        if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
        return no_such_upload(c);
    }
    if (load_parts(db, upload_id, &cs->parts, &cs->nparts) != 0)
        return s3_internal_error(c, "load parts");

    char err[256];
    sl_xml_node *root =
        sl_xml_parse(req->body.data ? req->body.data : "", req->body.len, err, sizeof err);
    if (!root || strcmp(root->name, "CompleteMultipartUpload") != 0) {
        sl_xml_free(root);
        return malformed(c);
    }
    size_t n = 0;
    for (const sl_xml_node *p = root->first_child; p; p = p->next_sibling)
        if (!strcmp(p->name, "Part")) n++;
    if (n == 0) {
        sl_xml_free(root);
        return s3_error(c, 400, "MalformedXML",
                        "The XML you provided was not well-formed or did not validate against our "
                        "published schema");
    }
    const part_row **chosen = sl_xcalloc(n, sizeof *chosen);
    size_t i = 0;
    int prev = 0;
    const char *problem = NULL;
    sl_ck_algo algo = cs->up.checksum_algo ? sl_ck_algo_parse(cs->up.checksum_algo) : SL_CK_NONE;
    for (const sl_xml_node *p = root->first_child; p && !problem; p = p->next_sibling) {
        if (strcmp(p->name, "Part") != 0) continue;
        const char *num = sl_xml_child_text(p, "PartNumber");
        const char *etag = sl_xml_child_text(p, "ETag");
        char *end;
        long pn = num ? strtol(num, &end, 10) : 0;
        if (!num || *end || pn < 1 || pn > S3_MAX_PART_NUMBER || !etag) {
            problem = "malformed";
            break;
        }
        if (pn <= prev) {
            problem = "order";
            break;
        }
        prev = (int)pn;
        const part_row *found_part = NULL;
        for (size_t j = 0; j < cs->nparts; j++)
            if (cs->parts[j].number == pn) found_part = &cs->parts[j];
        if (!found_part || !etag_equal(found_part->etag, etag)) {
            problem = "invalid";
            break;
        }
        if (algo != SL_CK_NONE) {
            char name[32];
            snprintf(name, sizeof name, "Checksum%s", sl_ck_algo_name(algo));
            const char *given = sl_xml_child_text(p, name);
            if (given && found_part->checksum && strcmp(given, found_part->checksum) != 0) {
                problem = "invalid";
                break;
            }
        }
        chosen[i++] = found_part;
    }
    sl_xml_free(root);
    if (problem) {
        free(chosen);
        if (!strcmp(problem, "order"))
            return s3_error(c, 400, "InvalidPartOrder",
                            "The list of parts was not in ascending order. Parts must be ordered "
                            "by part number.");
        if (!strcmp(problem, "invalid")) return invalid_part(c);
        return malformed(c);
    }
    for (size_t j = 0; j + 1 < n; j++) {
        if (chosen[j]->size < S3_MIN_PART) {
            free(chosen);
            return s3_error(
                c, 400, "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.");
        }
    }
    /* Concatenate the parts into the object's blob. */
    s3_object *ob = &cs->ob;
    char blob_id[SL_BLOB_ID_LEN + 1];
    int out = sl_blob_create_tmp(&c->o->blobs, blob_id);
    if (out < 0) {
        free(chosen);
        return s3_internal_error(c, "create object file");
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_md5(), NULL);
    uint64_t total = 0;
    bool ok = true;
    for (size_t j = 0; j < n && ok; j++) {
        int in = sl_blob_open(&c->o->blobs, chosen[j]->blob);
        ok = in >= 0 && sl_blob_copy_range(out, in, 0, chosen[j]->size) == 0;
        if (in >= 0) close(in);
        unsigned char d[16];
        const char *e = chosen[j]->etag;
        char hex[33];
        snprintf(hex, sizeof hex, "%.32s", e[0] == '"' ? e + 1 : e);
        for (int k = 0; k < 16; k++) {
            unsigned int byte = 0;
            sscanf(hex + 2 * k, "%2x", &byte);
            d[k] = (unsigned char)byte;
        }
        EVP_DigestUpdate(md, d, 16);
        total += chosen[j]->size;
    }
    unsigned char digest[16];
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    if (!ok || sl_blob_publish(&c->o->blobs, out, blob_id) != 0) {
        if (ok) sl_blob_remove(&c->o->blobs, blob_id);
        else sl_blob_discard_tmp(&c->o->blobs, out, blob_id);
        free(chosen);
        return s3_internal_error(c, "assemble object");
    }
    char hex[33];
    sl_hex_encode(digest, 16, hex);
    char etag[80];
    snprintf(etag, sizeof etag, "\"%s-%zu\"", hex, n);
    ob->bucket = sl_xstrdup(c->bucket);
    ob->key = sl_xstrndup(c->key, c->key_len);
    ob->key_len = c->key_len;
    ob->size = total;
    ob->etag = sl_xstrdup(etag);
    ob->last_modified_ms = sl_now_ms();
    ob->content_type =
        sl_xstrdup(cs->up.content_type ? cs->up.content_type : "binary/octet-stream");
    ob->headers = cs->up.headers ? json_loads(cs->up.headers, 0, NULL) : json_object();
    ob->tags = cs->up.tags ? json_loads(cs->up.tags, 0, NULL) : NULL;
    ob->blob = sl_xstrdup(blob_id);
    ob->parts = (int)n;
    ob->part_sizes = json_array();
    for (size_t j = 0; j < n; j++)
        json_array_append_new(ob->part_sizes, json_integer((json_int_t)chosen[j]->size));
    if (algo != SL_CK_NONE) {
        char value[96];
        if (combine_checksums(cs, chosen, n, value, sizeof value)) {
            ob->checksum_algo = sl_xstrdup(cs->up.checksum_algo);
            ob->checksum = sl_xstrdup(value);
            ob->checksum_type =
                sl_xstrdup(cs->up.checksum_type ? cs->up.checksum_type : "COMPOSITE");
        }
    }
    free(chosen);
    const char *im = sl_req_header(req, "If-Match"), *inm = sl_req_header(req, "If-None-Match");
    if (im) cs->if_match = sl_xstrdup(im);
    if (inm) cs->if_none_match = sl_xstrdup(inm);
    cs->event = s3_event_payload(c, "ObjectCreated:CompleteMultipartUpload",
                                 "CompleteMultipartUpload", c->key, c->key_len, ob->size, ob->etag);
    s3_commit(c, complete_job, cs, complete_done);
}

/* ---- AbortMultipartUpload ---- */

static int abort_job(sqlite3 *db, void *arg) {
    complete_state *cs = arg;
    int found = load_upload(db, cs->up.upload_id, cs->up.bucket, cs->up.key, cs->up.key_len, NULL);
    if (found <= 0) return found < 0 ? -1 : RC_NO_UPLOAD;
    if (load_parts(db, cs->up.upload_id, &cs->parts, &cs->nparts) != 0) return -1;
    return delete_upload_rows(db, cs->up.upload_id);
}

static void abort_done(s3_call *c) {
    complete_state *cs = c->op_state;
    if (c->commit_rc == RC_NO_UPLOAD) return no_such_upload(c);
    if (c->commit_rc != 0) return s3_internal_error(c, "abort upload");
    for (size_t i = 0; i < cs->nparts; i++) sl_blob_remove(&c->o->blobs, cs->parts[i].blob);
    sl_resp_set(c->req, 204, NULL, NULL, 0);
}

void s3_abort_multipart(s3_call *c) {
    if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
    complete_state *cs = sl_xcalloc(1, sizeof *cs);
    c->op_state = cs;
    c->op_state_free = complete_state_free;
    cs->up.upload_id = sl_xstrdup(s3_param_get(c, "uploadId"));
    cs->up.bucket = sl_xstrdup(c->bucket);
    cs->up.key = sl_xstrndup(c->key, c->key_len);
    cs->up.key_len = c->key_len;
    s3_commit(c, abort_job, cs, abort_done);
}

/* ---- ListParts ---- */

static void owner_initiator(sl_buf *b) {
    static const char id[] = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
    sl_buf_printf(b, "<Initiator><ID>%s</ID><DisplayName>sluice</DisplayName></Initiator>", id);
    sl_buf_printf(b, "<Owner><ID>%s</ID><DisplayName>sluice</DisplayName></Owner>", id);
}

void s3_list_parts(s3_call *c) {
    const char *upload_id = s3_param_get(c, "uploadId");
    upload_row up;
    sqlite3 *db = sl_store_reader(c->o->store);
    int found = load_upload(db, upload_id, c->bucket, c->key, c->key_len, &up);
    if (found < 0) return s3_internal_error(c, "load upload");
    if (!found) {
        if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
        return no_such_upload(c);
    }
    long max_parts = 1000, marker = 0;
    const char *mp = s3_param_get(c, "max-parts"), *pm = s3_param_get(c, "part-number-marker");
    char *end;
    if (mp && (max_parts = strtol(mp, &end, 10), *end || max_parts < 0)) {
        upload_row_free(&up);
        return s3_error(c, 400, "InvalidArgument",
                        "Provided max-parts not an integer or within integer range");
    }
    if (pm && (marker = strtol(pm, &end, 10), *end || marker < 0)) {
        upload_row_free(&up);
        return s3_error(c, 400, "InvalidArgument",
                        "Provided part-number-marker not an integer or within integer range");
    }
    if (max_parts > 1000) max_parts = 1000;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT part_number, size, etag, checksum, last_modified_ms FROM parts "
                           "WHERE upload_id=?1"
                           " AND part_number > ?2 ORDER BY part_number LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        upload_row_free(&up);
        return s3_internal_error(c, "list parts");
    }
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, marker);
    sqlite3_bind_int64(st, 3, max_parts + 1);
    sl_buf parts;
    sl_buf_init(&parts);
    long count = 0, last = 0;
    bool truncated = false;
    char ckname[32] = "";
    if (up.checksum_algo) snprintf(ckname, sizeof ckname, "Checksum%s", up.checksum_algo);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (count == max_parts) {
            truncated = true;
            break;
        }
        sl_buf_puts(&parts, "<Part>");
        last = sqlite3_column_int(st, 0);
        sl_buf_printf(&parts, "<PartNumber>%ld</PartNumber>", last);
        s3_xml_time(&parts, "LastModified", sqlite3_column_int64(st, 4));
        s3_xml_elem(&parts, "ETag", (const char *)sqlite3_column_text(st, 2));
        if (ckname[0] && sqlite3_column_type(st, 3) != SQLITE_NULL)
            s3_xml_elem(&parts, ckname, (const char *)sqlite3_column_text(st, 3));
        s3_xml_elem_u64(&parts, "Size", (uint64_t)sqlite3_column_int64(st, 1));
        sl_buf_puts(&parts, "</Part>");
        count++;
    }
    sqlite3_finalize(st);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "ListPartsResult");
    s3_xml_elem(&b, "Bucket", c->bucket);
    s3_xml_elem_n(&b, "Key", c->key, c->key_len);
    s3_xml_elem(&b, "UploadId", upload_id);
    sl_buf_printf(&b, "<PartNumberMarker>%ld</PartNumberMarker>", marker);
    if (truncated) sl_buf_printf(&b, "<NextPartNumberMarker>%ld</NextPartNumberMarker>", last);
    sl_buf_printf(&b, "<MaxParts>%ld</MaxParts><IsTruncated>%s</IsTruncated>", max_parts,
                  truncated ? "true" : "false");
    owner_initiator(&b);
    sl_buf_puts(&b, "<StorageClass>STANDARD</StorageClass>");
    if (up.checksum_algo) {
        s3_xml_elem(&b, "ChecksumAlgorithm", up.checksum_algo);
        s3_xml_elem(&b, "ChecksumType", up.checksum_type);
    }
    if (parts.len) sl_buf_append(&b, parts.data, parts.len);
    sl_buf_puts(&b, "</ListPartsResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
    sl_buf_free(&parts);
    upload_row_free(&up);
}

/* ---- ListMultipartUploads ---- */

void s3_list_multipart_uploads(s3_call *c) {
    if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
    const char *prefix = s3_param_get(c, "prefix");
    const char *key_marker = s3_param_get(c, "key-marker");
    const char *id_marker = s3_param_get(c, "upload-id-marker");
    long max = 1000;
    const char *mu = s3_param_get(c, "max-uploads");
    char *end;
    if (mu && (max = strtol(mu, &end, 10), *end || max < 0))
        return s3_error(c, 400, "InvalidArgument",
                        "Provided max-uploads not an integer or within integer range");
    if (max > 1000) max = 1000;
    sqlite3 *db = sl_store_reader(c->o->store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT key, upload_id, created_ms, checksum_algo, checksum_type FROM uploads"
            " WHERE bucket=?1 AND (?2 IS NULL OR key > ?2 OR (key = ?2 AND ?3 IS NOT NULL AND"
            " upload_id > ?3)) ORDER BY key, created_ms, upload_id",
            -1, &st, NULL) != SQLITE_OK)
        return s3_internal_error(c, "list uploads");
    sqlite3_bind_text(st, 1, c->bucket, -1, SQLITE_STATIC);
    if (key_marker && *key_marker) sqlite3_bind_text(st, 2, key_marker, -1, SQLITE_STATIC);
    if (id_marker && *id_marker) sqlite3_bind_text(st, 3, id_marker, -1, SQLITE_STATIC);
    sl_buf ups;
    sl_buf_init(&ups);
    long count = 0;
    bool truncated = false;
    char *last_key = NULL, *last_id = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        size_t klen = (size_t)sqlite3_column_bytes(st, 0);
        if (prefix && !sl_str_has_prefix(key, prefix)) continue;
        if (count == max) {
            truncated = true;
            break;
        }
        sl_buf_puts(&ups, "<Upload>");
        s3_xml_elem_n(&ups, "Key", key, klen);
        s3_xml_elem(&ups, "UploadId", (const char *)sqlite3_column_text(st, 1));
        owner_initiator(&ups);
        sl_buf_puts(&ups, "<StorageClass>STANDARD</StorageClass>");
        s3_xml_time(&ups, "Initiated", sqlite3_column_int64(st, 2));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            s3_xml_elem(&ups, "ChecksumAlgorithm", (const char *)sqlite3_column_text(st, 3));
            s3_xml_elem(&ups, "ChecksumType", (const char *)sqlite3_column_text(st, 4));
        }
        sl_buf_puts(&ups, "</Upload>");
        free(last_key);
        free(last_id);
        last_key = sl_xstrndup(key, klen);
        last_id = sl_xstrdup((const char *)sqlite3_column_text(st, 1));
        count++;
    }
    sqlite3_finalize(st);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "ListMultipartUploadsResult");
    s3_xml_elem(&b, "Bucket", c->bucket);
    s3_xml_elem(&b, "KeyMarker", key_marker ? key_marker : "");
    s3_xml_elem(&b, "UploadIdMarker", id_marker ? id_marker : "");
    if (truncated && last_key) {
        s3_xml_elem(&b, "NextKeyMarker", last_key);
        s3_xml_elem(&b, "NextUploadIdMarker", last_id);
    }
    if (prefix) s3_xml_elem(&b, "Prefix", prefix);
    sl_buf_printf(&b, "<MaxUploads>%ld</MaxUploads><IsTruncated>%s</IsTruncated>", max,
                  truncated ? "true" : "false");
    if (ups.len) sl_buf_append(&b, ups.data, ups.len);
    sl_buf_puts(&b, "</ListMultipartUploadsResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
    sl_buf_free(&ups);
    free(last_key);
    free(last_id);
}
