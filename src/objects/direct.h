/* direct: the object store called in-process by other services (Step Functions' S3 tasks),
 * without HTTP. The same rows, blobs and durable write path as the S3 API: a put keeps small
 * bodies inline in the store and publishes large ones as blobs before the row commits, and
 * every write is a job on the store's writer thread that also appends the outbox row, so
 * bucket notifications and CloudTrail data events fire exactly as for an HTTP request.
 *
 * Calls block until the write is durable: call them from worker threads, never from the
 * store's writer thread. Errors are S3's codes ("NoSuchBucket", "NoSuchKey",
 * "InvalidArgument", "InvalidRequest", "EntityTooLarge", "InternalError") with S3's message;
 * nothing is printed. What these calls do not cover (versions, conditions, ranges, tagging,
 * checksums) callers must not pretend to support. */
#ifndef SL_OBJECTS_DIRECT_H
#define SL_OBJECTS_DIRECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objects/objects.h"

/* Why a call failed: S3's error code and message. */
typedef struct {
    char code[48];
    char message[256];
} sl_objects_error;

/* Who is calling, for the events a write raises (CloudTrail's sourceIPAddress, userAgent,
 * accessKeyId, requestID). NULL fields take defaults: "states.amazonaws.com" for the source
 * and the agent, the configured access key, a fresh request id. */
typedef struct {
    const char *source_ip;
    const char *user_agent;
    const char *access_key;
} sl_objects_caller;

/* An object's description (and body, for sl_objects_get). */
typedef struct {
    char *content_type;
    uint64_t size;
    char etag[80]; /* quoted, as S3 shows it */
    int64_t last_modified_ms;
    json_t *metadata; /* user metadata: {"name": "value"}, names without x-amz-meta- */
    json_t *headers;  /* other stored headers: Cache-Control, Content-Encoding, ... */
    char *body;       /* sl_objects_get: size bytes + a NUL; NULL otherwise */
} sl_object_info;

void sl_object_info_free(sl_object_info *info);

/* Reads an object with its body, refusing bodies over max_body bytes (EntityTooLarge): the
 * caller holds the whole body in memory. Returns 0 or -1 with err set. */
int sl_objects_get(sl_objects *o, const char *bucket, const char *key, size_t key_len,
                   uint64_t max_body, sl_object_info *out, sl_objects_error *err);
/* The same without the body (HeadObject). */
int sl_objects_head(sl_objects *o, const char *bucket, const char *key, size_t key_len,
                    sl_object_info *out, sl_objects_error *err);

typedef struct {
    const char *bucket;
    const char *key;
    size_t key_len;
    const void *body;
    size_t body_len;
    const char *content_type; /* NULL: binary/octet-stream */
    const json_t *metadata;   /* {"name": "value"} or NULL */
    const sl_objects_caller *caller;
} sl_objects_put_args;

/* PutObject: durable when it returns 0; out (may be NULL) gets the new object's description
 * without body. -1 with err set. */
int sl_objects_put(sl_objects *o, const sl_objects_put_args *a, sl_object_info *out,
                   sl_objects_error *err);

typedef struct {
    const char *src_bucket, *src_key;
    size_t src_key_len;
    const char *bucket, *key;
    size_t key_len;
    bool replace_metadata;    /* MetadataDirective REPLACE: content_type and metadata below */
    const char *content_type; /* REPLACE only; NULL: binary/octet-stream */
    const json_t *metadata;   /* REPLACE only */
    const sl_objects_caller *caller;
} sl_objects_copy_args;

/* CopyObject (blobs are shared by hard link, not copied). out gets the new object's ETag and
 * LastModified. Copying an object onto itself without REPLACE is S3's InvalidRequest. */
int sl_objects_copy(sl_objects *o, const sl_objects_copy_args *a, sl_object_info *out,
                    sl_objects_error *err);

/* DeleteObject: deleting a missing key succeeds, as in S3; a missing bucket does not. */
int sl_objects_delete(sl_objects *o, const char *bucket, const char *key, size_t key_len,
                      const sl_objects_caller *caller, sl_objects_error *err);

typedef struct {
    const char *bucket;
    const char *prefix;             /* NULL: "" */
    const char *delimiter;          /* NULL or "": none */
    long max_keys;                  /* < 0: 1000; capped at 1000 like S3 */
    const char *continuation_token; /* from an earlier NextContinuationToken, or NULL */
    const char *start_after;        /* or NULL */
} sl_objects_list_args;

typedef struct {
    json_t *contents;        /* [{"Key","Size","ETag","LastModified" (ms, integer)}] in key order */
    json_t *common_prefixes; /* ["prefix/", ...] */
    long key_count;          /* entries in both lists, as KeyCount counts them */
    long max_keys;           /* the effective MaxKeys */
    bool is_truncated;
    char *next_token; /* NextContinuationToken when truncated, else NULL */
} sl_objects_list_result;

void sl_objects_list_result_free(sl_objects_list_result *r);

/* ListObjectsV2. Tokens are the HTTP API's, so either side can continue the other's listing.
 * -1 with err set (NoSuchBucket, InvalidArgument for a bad token). */
int sl_objects_list(sl_objects *o, const sl_objects_list_args *a, sl_objects_list_result *out,
                    sl_objects_error *err);

#endif
