/* sigv4: AWS Signature Version 4 (Authorization header and presigned query), SigV2 presigned
 * query URLs (what boto3 presigns S3 URLs with by default), and the streaming chunk signatures
 * of aws-chunked uploads. Pure functions over a request description: no HTTP library, no I/O,
 * so they are unit-tested against published vectors and fuzzed.
 *
 * Canonical request rules follow AWS's documentation: for S3 the path is used exactly as sent
 * (no normalisation, no second encoding); for other services the path as sent is encoded once
 * more (so it ends up encoded twice), the way botocore and the other SDKs sign it. */
#ifndef SL_SIGV4_H
#define SL_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcome of verification; code/message are AWS error codes and texts for the caller's
 * protocol-specific error response. */
typedef enum {
    SL_AUTH_OK = 0,
    SL_AUTH_ANONYMOUS,     /* no credentials at all: AccessDenied */
    SL_AUTH_MALFORMED,     /* AuthorizationHeaderMalformed / AuthorizationQueryParametersError */
    SL_AUTH_UNKNOWN_KEY,   /* InvalidAccessKeyId */
    SL_AUTH_BAD_SIGNATURE, /* SignatureDoesNotMatch */
    SL_AUTH_EXPIRED,       /* AccessDenied "Request has expired" (or "...not valid yet") */
    SL_AUTH_SKEWED,        /* RequestTimeTooSkewed */
} sl_auth_status;

/* Copies the secret for an access key id into out (NUL-terminated); false when the key is
 * unknown (or its secret does not fit). */
#define SL_SECRET_MAX 256
typedef bool (*sl_secret_lookup_fn)(void *ctx, const char *access_key_id, char out[SL_SECRET_MAX]);
/* Returns a request header value by lower-case name, or NULL. A header sent more than once
 * should come back as its values joined with ',' (what SigV4 signs). */
typedef const char *(*sl_header_lookup_fn)(void *ctx, const char *lower_name);
/* Calls visit for every request header (any case, in any order). Same shape as
 * sl_req_each_header's callback, so an adapter is one line. */
typedef void (*sl_header_visit_fn)(void *arg, const char *name, const char *value);
typedef void (*sl_header_each_fn)(void *ctx, sl_header_visit_fn visit, void *arg);

typedef struct {
    const char *method;
    const char *raw_path;  /* as sent, percent-encoded */
    const char *raw_query; /* as sent, without '?', "" if none */
    sl_header_lookup_fn header;
    void *header_ctx;
    /* The hex SHA-256 of the body, or the literal the client signed (UNSIGNED-PAYLOAD,
     * STREAMING-...). S3: the x-amz-content-sha256 header value (it is then the S3 service's
     * job to check a hex value against the body it receives). Others: hash of the body (an
     * "x-amz-content-sha256: UNSIGNED-PAYLOAD" header is honoured over it). NULL: the
     * x-amz-content-sha256 header; S3 requires it, elsewhere the empty body's hash. Presigned
     * S3 URLs always use UNSIGNED-PAYLOAD unless the X-Amz-Content-Sha256 parameter says
     * otherwise. */
    const char *payload_hash;
    bool s3; /* S3 canonicalisation rules */
    int64_t now_ms;
    sl_secret_lookup_fn secret;
    void *secret_ctx;
    /* Optional. SigV2 signs every x-amz-* header, which only an enumeration can find; without
     * it SigV2 requests carrying x-amz-* headers fail with SignatureDoesNotMatch. Called with
     * header_ctx. */
    sl_header_each_fn each_header;
    /* Optional, S3 virtual-hosted-style requests only: the bucket taken from the Host header.
     * SigV2 signs "/bucket/key" even when the path is "/key". NULL for path style. */
    const char *virtual_host_bucket;
} sl_sigv4_request;

typedef struct {
    sl_auth_status status;
    const char *code;  /* AWS error code, e.g. "SignatureDoesNotMatch" */
    char message[256]; /* human-readable, AWS style */
    char access_key[129];
    char region[64];
    char service[64];
    char date[9];       /* YYYYMMDD of the scope */
    char amz_date[17];  /* YYYYMMDDTHHMMSSZ */
    char signature[65]; /* seed signature for streaming uploads */
    unsigned char signing_key[32];
    bool presigned;
    bool sigv2;
} sl_auth_result;

/* Verifies SigV4 (header or presigned query) or SigV2 (S3 only: presigned query, or the
 * "AWS AK:sig" header). Skew tolerance is 15 minutes; presigned URLs honour X-Amz-Expires
 * (max 7 days) / Expires. out is always fully written; on success it carries the scope, the
 * signing key and the seed signature a streaming upload chains from. The credential scope's
 * region and service are not checked against anything: the caller may. */
sl_auth_status sl_sigv4_verify(const sl_sigv4_request *req, sl_auth_result *out);

/* Signature of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD):
 * string to sign = "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n" prev_sig "\n"
 *                  hex(sha256("")) "\n" hex(sha256(chunk)). out is 65 bytes. */
void sl_sigv4_chunk_signature(const sl_auth_result *auth, const char *prev_signature,
                              const unsigned char chunk_sha256[32], char out[65]);
/* Signature of the trailing headers (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER):
 * string to sign = "AWS4-HMAC-SHA256-TRAILER\n" amz_date "\n" scope "\n" prev_sig "\n"
 *                  hex(sha256(trailer_text)), where trailer_text is the canonical trailers:
 * "name:value\n" for each (lower-case names, sorted, x-amz-trailer-signature left out). */
void sl_sigv4_trailer_signature(const sl_auth_result *auth, const char *prev_signature,
                                const char *trailer_text, size_t n, char out[65]);

/* Derives the SigV4 signing key for secret/date/region/service. */
void sl_sigv4_signing_key(const char *secret, const char *date, const char *region,
                          const char *service, unsigned char out[32]);

#endif
