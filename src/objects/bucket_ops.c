/* bucket_ops: CreateBucket, DeleteBucket, HeadBucket, ListBuckets, GetBucketLocation, and the
 * bucket facts Sluice answers truthfully without storing settings for them (versioning is
 * never enabled; the owner holds FULL_CONTROL). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/xml.h"
#include "objects/s3.h"

#define OWNER_ID "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"

bool s3_bucket_name_valid(const char *name) {
    size_t n = strlen(name);
    if (n < 3 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
        if (!ok) return false;
        if (ch == '.' && i + 1 < n && (name[i + 1] == '.' || name[i + 1] == '-')) return false;
        if (ch == '-' && i + 1 < n && name[i + 1] == '.') return false;
    }
    char first = name[0], last = name[n - 1];
    if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) return false;
    if (!((last >= 'a' && last <= 'z') || (last >= '0' && last <= '9'))) return false;
    struct in_addr a;
    if (inet_pton(AF_INET, name, &a) == 1) return false;
    static const char *const bad_prefix[] = {"xn--", "sthree-", "amzn-s3-demo-", NULL};
    static const char *const bad_suffix[] = {"-s3alias", "--ol-s3",    ".mrap",
                                             "--x-s3",   "--table-s3", NULL};
    for (int i = 0; bad_prefix[i]; i++)
        if (sl_str_has_prefix(name, bad_prefix[i])) return false;
    for (int i = 0; bad_suffix[i]; i++)
        if (sl_str_has_suffix(name, bad_suffix[i])) return false;
    return true;
}

/* 1 and the bucket's region when it exists, 0 when not, -1 on a store error. Every S3 request
 * asks: existing buckets are answered from o->buckets (forgotten when one is deleted). */
static int bucket_region(sl_objects *o, const char *bucket, char *region, size_t n) {
    json_t *cached = sl_name_cache_get(o->buckets, bucket);
    if (cached) {
        if (region) snprintf(region, n, "%s", json_string_value(cached));
        json_decref(cached);
        return 1;
    }
    uint64_t gen = sl_name_cache_generation(o->buckets);
    sqlite3 *db = sl_store_reader(o->store);
    sqlite3_stmt *st = sl_store_cached(db, "SELECT region FROM buckets WHERE name=?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (region) snprintf(region, n, "%s", r);
        json_t *v = json_string(r ? r : "");
        sl_name_cache_put(o->buckets, bucket, v, gen);
        json_decref(v);
    }
    sqlite3_reset(st);
    return found;
}

bool s3_bucket_exists(s3_call *c, const char *bucket) {
    return bucket_region(c->o, bucket, NULL, 0) == 1;
}

typedef struct {
    const char *name;
    const char *region;
    int64_t now;
} create_args;

static int create_job(sqlite3 *db, void *arg) {
    create_args *a = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db, "INSERT OR IGNORE INTO buckets (name, created_ms, region) VALUES (?1, ?2, ?3)", -1,
            &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->now);
    sqlite3_bind_text(st, 3, a->region, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return -1;
    return sqlite3_changes(db) == 1 ? 0 : 1;
}

void s3_create_bucket(s3_call *c) {
    if (!s3_bucket_name_valid(c->bucket)) {
        s3_error(c, 400, "InvalidBucketName", "The specified bucket is not valid.");
        return;
    }
    const char *region = c->o->cfg->region;
    char location[64] = "";
    sl_req *req = c->req;
    if (req->body.len) {
        char err[256];
        sl_xml_node *root = sl_xml_parse(req->body.data, req->body.len, err, sizeof err);
        if (!root || strcmp(root->name, "CreateBucketConfiguration") != 0) {
            sl_xml_free(root);
            s3_error(c, 400, "MalformedXML",
                     "The XML you provided was not well-formed or did not validate against our "
                     "published schema");
            return;
        }
        const char *lc = sl_xml_child_text(root, "LocationConstraint");
        if (lc) snprintf(location, sizeof location, "%s", lc);
        sl_xml_free(root);
    }
    if (location[0]) {
        /* A region name: letters, digits and dashes. us-east-1 has no constraint of its own. */
        bool ok = strlen(location) >= 4 && strcmp(location, "us-east-1") != 0;
        for (const char *p = location; *p && ok; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-';
        if (!ok) {
            s3_error(c, 400, "InvalidLocationConstraint",
                     "The specified location-constraint is not valid");
            return;
        }
        region = location;
    }
    create_args a = {c->bucket, region, sl_now_ms()};
    int rc = sl_store_write(c->o->store, create_job, &a);
    if (rc < 0) return s3_internal_error(c, "create bucket");
    if (rc == 1) {
        /* AWS keeps a legacy quirk: re-creating your own bucket in us-east-1 answers 200. */
        char existing[64];
        if (bucket_region(c->o, c->bucket, existing, sizeof existing) == 1 &&
            !strcmp(existing, "us-east-1") && !location[0] &&
            !strcmp(c->o->cfg->region, "us-east-1")) {
            sl_resp_header_printf(req, "Location", "/%s", c->bucket);
            sl_resp_set(req, 200, NULL, NULL, 0);
            return;
        }
        s3_error(
            c, 409, "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.");
        return;
    }
    sl_resp_header_printf(req, "Location", "/%s", c->bucket);
    sl_resp_set(req, 200, NULL, NULL, 0);
}

typedef struct {
    const char *name;
    json_t *blobs; /* part blobs of abandoned uploads, removed after commit */
} delete_args;

static int delete_bucket_job(sqlite3 *db, void *arg) {
    delete_args *a = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM buckets WHERE name=?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
    int exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!exists) return 1;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM objects WHERE bucket=?1 LIMIT 1", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
    int nonempty = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (nonempty) return 2;
    if (sqlite3_prepare_v2(db,
                           "SELECT p.blob FROM parts p JOIN uploads u ON u.upload_id = p.upload_id"
                           " WHERE u.bucket=?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a->blobs, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    static const char *const sqls[] = {
        "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket=?1)",
        "DELETE FROM uploads WHERE bucket=?1", "DELETE FROM buckets WHERE name=?1"};
    for (size_t i = 0; i < 3; i++) {
        if (sqlite3_prepare_v2(db, sqls[i], -1, &st, NULL) != SQLITE_OK) return -1;
        sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return -1;
    }
    return 0;
}

void s3_delete_bucket(s3_call *c) {
    delete_args a = {c->bucket, json_array()};
    int rc = sl_store_write(c->o->store, delete_bucket_job, &a);
    if (rc == 0) sl_name_cache_forget(c->o->buckets);
    if (rc == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(a.blobs, i, v) sl_blob_remove(&c->o->blobs, json_string_value(v));
        sl_resp_set(c->req, 204, NULL, NULL, 0);
    } else if (rc == 1) {
        s3_no_such_bucket(c);
    } else if (rc == 2) {
        s3_error_key(c, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    } else {
        s3_internal_error(c, "delete bucket");
    }
    json_decref(a.blobs);
}

void s3_head_bucket(s3_call *c) {
    char region[64];
    int found = bucket_region(c->o, c->bucket, region, sizeof region);
    if (found < 0) return s3_internal_error(c, "head bucket");
    if (!found) return s3_no_such_bucket(c);
    sl_resp_header_add(c->req, "x-amz-bucket-region", region);
    sl_resp_set(c->req, 200, "application/xml", NULL, 0);
}

void s3_get_bucket_location(s3_call *c) {
    char region[64];
    int found = bucket_region(c->o, c->bucket, region, sizeof region);
    if (found < 0) return s3_internal_error(c, "bucket location");
    if (!found) return s3_no_such_bucket(c);
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint "
                    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    if (strcmp(region, "us-east-1") != 0) sl_buf_xml_escape(&b, region, strlen(region));
    sl_buf_puts(&b, "</LocationConstraint>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

void s3_get_bucket_versioning(s3_call *c) {
    if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "VersioningConfiguration");
    sl_buf_puts(&b, "</VersioningConfiguration>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

static void owner_xml(sl_buf *b) {
    sl_buf_puts(b, "<Owner><ID>" OWNER_ID "</ID><DisplayName>sluice</DisplayName></Owner>");
}

void s3_get_bucket_acl(s3_call *c) {
    if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "AccessControlPolicy");
    owner_xml(&b);
    sl_buf_puts(
        &b,
        "<AccessControlList><Grant><Grantee "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"CanonicalUser\"><ID>" OWNER_ID
        "</ID><DisplayName>sluice</DisplayName></Grantee>"
        "<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}

void s3_list_buckets(s3_call *c) {
    sqlite3 *db = sl_store_reader(c->o->store);
    sqlite3_stmt *st = NULL;
    const char *prefix = s3_param_get(c, "prefix");
    if (sqlite3_prepare_v2(db, "SELECT name, created_ms, region FROM buckets ORDER BY name", -1,
                           &st, NULL) != SQLITE_OK)
        return s3_internal_error(c, "list buckets");
    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "ListAllMyBucketsResult");
    owner_xml(&b);
    sl_buf_puts(&b, "<Buckets>");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (prefix && !sl_str_has_prefix(name, prefix)) continue;
        sl_buf_puts(&b, "<Bucket>");
        s3_xml_elem(&b, "Name", name);
        s3_xml_time(&b, "CreationDate", sqlite3_column_int64(st, 1));
        s3_xml_elem(&b, "BucketRegion", (const char *)sqlite3_column_text(st, 2));
        sl_buf_puts(&b, "</Bucket>");
    }
    sqlite3_finalize(st);
    sl_buf_puts(&b, "</Buckets>");
    if (prefix) s3_xml_elem(&b, "Prefix", prefix);
    sl_buf_puts(&b, "</ListAllMyBucketsResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
}
