/* s3: internal interface of the objects service, shared by its files:
 *   api.c        request parsing (addressing, query, auth) and operation dispatch
 *   bucket_ops.c bucket operations
 *   object_ops.c object reads, writes, copies, deletes, tagging
 *   list_ops.c   ListObjects v1/v2
 *   multipart.c  multipart uploads
 *   upload.c     the streaming body sink (aws-chunked, hashing, inline or blob)
 *   meta.c       object rows in the store
 * Operation functions take an s3_call and set a response on call->req. */
#ifndef SL_S3_H
#define SL_S3_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/sigv4.h"
#include "core/aws_error.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/http.h"
#include "core/name_cache.h"
#include "objects/blob.h"
#include "objects/checksum.h"
#include "objects/objects.h"
#include "store/store.h"

#define S3_MAX_KEY         1024
#define S3_MIN_PART        (5u * 1024 * 1024)
#define S3_MAX_PART_NUMBER 10000
#define S3_MAX_OBJECT      (5ull * 1024 * 1024 * 1024 * 1024)

struct sl_objects {
    const sl_config *cfg;
    sl_store *store;
    struct sl_credentials *credentials;
    sl_blobs blobs;
    pthread_t sweeper;             /* the start-up sweep of leftovers */
    int64_t started_ns;            /* blobs older than this (ns since the epoch) predate the run */
    struct sl_name_cache *buckets; /* name -> region of buckets seen (core/name_cache.h) */
    struct sl_sns *sns;            /* topic notifications (set once both services exist), or NULL */
};

typedef struct {
    char *name;
    char *value;
    bool has_value; /* "?uploads" has none; "?uploads=" has an empty one */
} s3_param;

typedef struct upload_sink upload_sink;
typedef struct s3_call s3_call;
typedef void (*s3_step_fn)(s3_call *call);

struct s3_call {
    sl_objects *o;
    sl_req *req;
    char *bucket; /* decoded; NULL for the service root */
    char *key;    /* decoded; NULL when the request names no key */
    size_t key_len;
    bool virtual_host; /* bucket came from the Host header */
    s3_param *params;
    size_t nparams;
    sl_auth_result auth;
    upload_sink *upload;
    /* A write that waits for the group commit: the request is suspended, `then` builds the
     * response once the commit is durable, with commit_rc. */
    s3_step_fn then;
    int commit_rc;
    bool committed;
    void *op_state;
    void (*op_state_free)(void *);
};

/* Query parameters (decoded). */
const char *s3_param_get(const s3_call *c, const char *name);
bool s3_param_has(const s3_call *c, const char *name);

/* Errors and responses. */
void s3_error(s3_call *c, int status, const char *code, const char *message);
void s3_error_key(s3_call *c, int status, const char *code, const char *message);
void s3_no_such_bucket(s3_call *c);
void s3_internal_error(s3_call *c, const char *what);
/* Sends an XML document body (200 unless status given). */
void s3_xml_response(s3_call *c, int status, sl_buf *xml);
void s3_xml_begin(sl_buf *b, const char *root);
void s3_xml_elem(sl_buf *b, const char *name, const char *text);
void s3_xml_elem_n(sl_buf *b, const char *name, const char *text, size_t n);
void s3_xml_elem_u64(sl_buf *b, const char *name, uint64_t v);
void s3_xml_time(sl_buf *b, const char *name, int64_t ms);
/* Queues job on the store; when durable, call->commit_rc is set and then(call) runs on the
 * request's thread. The request stays suspended meanwhile. */
void s3_commit(s3_call *c, sl_store_write_fn job, void *arg, s3_step_fn then);

/* Operations. */
void s3_list_buckets(s3_call *c);
void s3_create_bucket(s3_call *c);
void s3_delete_bucket(s3_call *c);
void s3_head_bucket(s3_call *c);
void s3_get_bucket_location(s3_call *c);
void s3_get_bucket_versioning(s3_call *c);
void s3_get_bucket_acl(s3_call *c);
bool s3_bucket_exists(s3_call *c, const char *bucket);
void s3_put_bucket_notification(s3_call *c);
void s3_get_bucket_notification(s3_call *c);
bool s3_bucket_name_valid(const char *name);

void s3_put_object_complete(s3_call *c);
void s3_get_object(s3_call *c, bool head);
void s3_delete_object(s3_call *c);
void s3_delete_objects(s3_call *c);
void s3_copy_object(s3_call *c);
void s3_get_object_tagging(s3_call *c);
void s3_put_object_tagging(s3_call *c);
void s3_delete_object_tagging(s3_call *c);

void s3_list_objects(s3_call *c, bool v2);

void s3_create_multipart(s3_call *c);
void s3_upload_part_complete(s3_call *c);
void s3_upload_part_copy(s3_call *c);
void s3_complete_multipart(s3_call *c);
void s3_abort_multipart(s3_call *c);
void s3_list_parts(s3_call *c);
void s3_list_multipart_uploads(s3_call *c);
/* The checksum algorithm an upload was created with; *exists says whether it exists here. */
sl_ck_algo s3_upload_part_algo(s3_call *c, bool *exists);

/* Upload sink (upload.c): created at header time for PutObject/UploadPart. Returns NULL after
 * setting an error response when the request's headers make the upload impossible. */
upload_sink *upload_begin(s3_call *c, bool force_blob, sl_ck_algo default_algo);
int upload_feed(s3_call *c, const char *data, size_t n);
/* Validates sizes, digests and checksums; on success the body is durable (blob published) or
 * held inline. Returns 0, or -1 after setting an error response. */
int upload_finish(s3_call *c);
void upload_free(sl_objects *o, upload_sink *u);

typedef struct {
    uint64_t size;
    char etag[80]; /* quoted */
    char md5_hex[33];
    unsigned char md5_raw[16];
    sl_ck_algo ck_algo;
    char checksum[96]; /* base64, or composite "b64-N" */
    unsigned char checksum_raw[32];
    char blob_id[SL_BLOB_ID_LEN + 1]; /* "" when inline */
    char *inline_data;                /* when inline */
} upload_result;
const upload_result *upload_get_result(const upload_sink *u);
/* Takes the inline data out of the sink (caller frees). */
char *upload_take_inline(upload_sink *u);
/* Forget the blob so upload_free does not remove it (it now belongs to a row). */
void upload_disown_blob(upload_sink *u);

/* Object metadata (meta.c). */
typedef struct {
    char *bucket, *key;
    size_t key_len;
    uint64_t size;
    char *etag;
    int64_t last_modified_ms;
    char *content_type;
    json_t *headers; /* stored headers: Content-Encoding, ..., x-amz-meta-* */
    char *checksum_algo, *checksum, *checksum_type;
    json_t *tags; /* array of {"Key","Value"} or NULL */
    char *blob;   /* NULL when inline */
    void *data;
    size_t data_len;
    int parts;
    json_t *part_sizes; /* array of part sizes for multipart objects, else NULL */
} s3_object;

void s3_object_free(s3_object *ob);
/* Copy source handling shared by CopyObject and UploadPartCopy: loads x-amz-copy-source and
 * checks x-amz-copy-source-if-*; 1 with *out loaded, or 0 after answering the error. */
int s3_load_copy_source(s3_call *c, s3_object *out);
/* Reads a row; returns 1 found, 0 absent, -1 store error. */
int s3_object_load(sl_objects *o, const char *bucket, const char *key, size_t key_len,
                   s3_object *out, bool with_data);
/* Inserts or replaces a row; returns the replaced row's blob id in old_blob (caller frees) so it
 * can be removed after the commit. Runs inside a store write job. */
int s3_object_store(sqlite3 *db, const s3_object *ob, char **old_blob);
/* Deletes a row inside a write job; *old_blob gets its blob id. Returns 1 deleted, 0 absent, -1. */
int s3_object_delete_row(sqlite3 *db, const char *bucket, const char *key, size_t key_len,
                         char **old_blob);
/* Metadata headers from the request (Content-Type handled separately). */
json_t *s3_headers_from_request(sl_req *req);
/* Applies stored headers to a response. */
void s3_apply_stored_headers(sl_req *req, const json_t *headers);
/* Parses x-amz-tagging style "k=v&k2=v2" into a tag array; NULL + error response on failure. */
json_t *s3_tags_from_query_string(s3_call *c, const char *s);
/* The outbox payload describing a change for the event bus and notifications: event_name is
 * S3's ("ObjectCreated:Put"), api the operation CloudTrail records ("PutObject"). */
json_t *s3_event_payload(s3_call *c, const char *event_name, const char *api, const char *key,
                         size_t key_len, uint64_t size, const char *etag);
/* Inside a write job: appends the payload to the outbox (kind "s3"). 0 or -1. */
int s3_event_record(sqlite3 *db, const json_t *payload);
/* Write-job results shared by the operation files. */
#define S3_RC_NO_BUCKET    1
#define S3_RC_NO_KEY       2
#define S3_RC_PRECONDITION 4
/* Conditional writes (If-Match / If-None-Match on PutObject and CompleteMultipartUpload),
 * checked inside the write job so the check and the write are one atomic step. Returns 0,
 * S3_RC_NO_KEY (If-Match on a missing key), S3_RC_PRECONDITION, or -1. */
int s3_check_write_conditions(sqlite3 *db, const char *bucket, const char *key, size_t key_len,
                              const char *if_match, const char *if_none_match);
/* Answers a failed conditional write. */
void s3_write_condition_failed(s3_call *c, int rc);
/* Validates a tag set; returns false after setting InvalidTag. */
bool s3_tags_valid(s3_call *c, const json_t *tags);

#endif
