/* req_sigv4: SigV4 over a buffered request body (see req_sigv4.h). */
#include "core/req_sigv4.h"

#include <openssl/evp.h>

#include "auth/credentials.h"
#include "core/buf.h"
#include "core/ids.h"

static const char *header_lookup(void *ctx, const char *name) { return sl_req_header(ctx, name); }

sl_auth_status sl_req_verify_sigv4(sl_req *req, struct sl_credentials *credentials,
                                   sl_auth_result *auth) {
    unsigned char d[32];
    char hex[65];
    EVP_Digest(req->body.data ? req->body.data : "", req->body.len, d, NULL, EVP_sha256(), NULL);
    sl_hex_encode(d, 32, hex);
    sl_sigv4_request sr = {
        .method = req->method,
        .raw_path = req->raw_path,
        .raw_query = req->raw_query,
        .header = header_lookup,
        .header_ctx = req,
        .payload_hash = hex,
        .s3 = false,
        .now_ms = sl_now_ms(),
        .secret = sl_credentials_secret,
        .secret_ctx = credentials,
    };
    return sl_sigv4_verify(&sr, auth);
}
