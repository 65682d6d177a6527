/* sigv4_canonical: the canonical-request pieces SigV4's verifier (sigv4.c) and signer
 * (sigv4_sign.c) share, so both build the very same bytes. */
#ifndef SL_SIGV4_CANONICAL_H
#define SL_SIGV4_CANONICAL_H

#include <stdbool.h>

#include "core/buf.h"

/* The canonical URI: S3's path exactly as sent; other services' with "." and empty segments
 * dropped, ".." popping one, then percent-encoded once more (keeping '/'). */
void sl_sigv4_canonical_uri(sl_buf *out, const char *raw_path, bool s3);
/* A header value trimmed: no leading or trailing white space, inner runs collapsed to one
 * space. */
void sl_sigv4_trimall(sl_buf *b, const char *v);

#endif
