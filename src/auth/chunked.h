/* chunked: decoder for aws-chunked request bodies (Content-Encoding: aws-chunked), the way
 * SDKs stream uploads: "<hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n" ... a final 0-size
 * chunk, then optional trailing headers ("x-amz-checksum-crc32:...\r\n", and with signed
 * trailers "x-amz-trailer-signature:...\r\n"), then "\r\n".
 *
 * An incremental state machine: feed any slicing of the body; decoded payload bytes go to the
 * emit callback. Chunk signatures are verified when the payload mode is signed. Memory is
 * bounded (one header or trailer line, never a chunk), so a chunk's bytes are emitted before
 * its signature, which covers the whole chunk, can be checked: whenever feed or finish fails,
 * discard everything emitted. finish accepts a body whose closing blank line is missing
 * (after complete trailer lines, or right after the final chunk), as some SDKs send it; a body
 * cut anywhere else is IncompleteBody. Trailer values are only checked for signature here:
 * comparing x-amz-checksum-* with the data, and x-amz-decoded-content-length with
 * sl_chunked_decoded, is the caller's. */
#ifndef SL_CHUNKED_H
#define SL_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/sigv4.h"

typedef enum {
    SL_CHUNKED_UNSIGNED,       /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
    SL_CHUNKED_SIGNED,         /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    SL_CHUNKED_SIGNED_TRAILER, /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
} sl_chunked_mode;

typedef struct sl_chunked sl_chunked;

/* auth is needed for the signed modes (signing key, seed signature, scope): the successful
 * result of sl_sigv4_verify on an AWS4-HMAC-SHA256 Authorization-header request. Otherwise (or
 * NULL) a signed decoder fails at once with InvalidRequest. May be NULL for
 * SL_CHUNKED_UNSIGNED. Never returns NULL. */
sl_chunked *sl_chunked_new(sl_chunked_mode mode, const sl_auth_result *auth);
void sl_chunked_free(sl_chunked *c);

/* Returns 0, or -1 when the body is malformed or a signature is wrong (see sl_chunked_error).
 * emit returns non-zero to abort; that value is then returned. */
int sl_chunked_feed(sl_chunked *c, const char *data, size_t n,
                    int (*emit)(void *ctx, const char *data, size_t n), void *ctx);
/* Call at end of body: -1 unless the final chunk and trailers were complete. */
int sl_chunked_finish(sl_chunked *c);
/* Value of a trailing header by lower-case name (trimmed), or NULL. */
const char *sl_chunked_trailer(const sl_chunked *c, const char *lower_name);
/* AWS error code ("SignatureDoesNotMatch", "IncompleteBody", "InvalidRequest") and message. */
const char *sl_chunked_error_code(const sl_chunked *c);
const char *sl_chunked_error_message(const sl_chunked *c);
/* Total decoded payload bytes so far. */
unsigned long long sl_chunked_decoded(const sl_chunked *c);

#endif
