/* sigv4_sign: the client half of AWS Signature Version 4 — builds the Authorization header a
 * request is sent with (what `sluice agent` needs to call the daemon). The verifier in
 * auth/sigv4.h is the other half; both follow the same canonicalisation rules (for S3 the path
 * exactly as given; for other services dot and empty segments removed and the path encoded
 * once more), and the unit tests check every signature against the verifier and AWS's vectors.
 * Pure: no clock, no I/O, no allocation visible to the caller. */
#ifndef SL_SIGV4_SIGN_H
#define SL_SIGV4_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name; /* any case; a name given more than once is signed as its values joined
                         with ',' in the order given */
    const char *value;
} sl_sigv4_header;

typedef struct {
    const char *method;
    const char *raw_path;  /* as it will be sent, percent-encoded; NULL or "" means "/" */
    const char *raw_query; /* as it will be sent, without '?'; NULL or "" if none */
    /* The headers to sign, exactly as they will be sent. Must include Host. An x-amz-date
     * header is added (from now_ms) unless one is given, in which case its value must be the
     * instant of now_ms. */
    const sl_sigv4_header *headers;
    size_t nheaders;
    /* Hex SHA-256 of the body or a literal such as UNSIGNED-PAYLOAD; NULL: the hash of
     * body/body_len is computed. */
    const char *payload_hash;
    const void *body;
    size_t body_len;
    bool s3; /* S3 canonicalisation (path used as given) */
    const char *access_key_id, *secret_access_key;
    const char *region, *service;
    int64_t now_ms; /* the signing instant (Unix epoch milliseconds) */
} sl_sigv4_sign_request;

typedef struct {
    char amz_date[17];        /* YYYYMMDDTHHMMSSZ: send it as X-Amz-Date */
    char signature[65];       /* lower-case hex */
    char signed_headers[512]; /* "host;x-amz-date;..." */
    char authorization[1024]; /* the whole Authorization header value */
} sl_sigv4_signature;

/* Signs req. 0 on success; -1 with err when the request cannot be signed (no Host header, a
 * header name that cannot be signed, a result that would not fit). */
int sl_sigv4_sign(const sl_sigv4_sign_request *req, sl_sigv4_signature *out, char *err,
                  size_t errlen);

/* The x-amz-date form of a Unix epoch instant in milliseconds. */
void sl_sigv4_amz_date(int64_t now_ms, char out[17]);

#endif
