/* fuzz_sigv4: arbitrary requests through sl_sigv4_verify — Authorization header parsing (SigV4
 * and SigV2), presigned query parsing, canonicalisation and the time checks.
 *
 * Input: one flags byte, then '\n'-separated lines: method, raw path, raw query, then headers
 * as "name:value". Flags can wrap the input around a well-formed SigV4 header or presigned
 * query so the fuzzer spends its time past the parsers, in canonicalisation. Every key has a
 * secret, so unknown keys never stop it early. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sigv4.h"
#include "core/buf.h"

#define MAX_HEADERS 64

typedef struct {
    char *name[MAX_HEADERS];
    char *value[MAX_HEADERS];
    size_t n;
} fuzz_headers;

static const char *lookup(void *ctx, const char *lower_name) {
    fuzz_headers *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (!strcasecmp(h->name[i], lower_name)) return h->value[i];
    return NULL;
}

static void each(void *ctx, sl_header_visit_fn visit, void *arg) {
    fuzz_headers *h = ctx;
    for (size_t i = 0; i < h->n; i++) visit(arg, h->name[i], h->value[i]);
}

static bool secret(void *ctx, const char *ak, char out[SL_SECRET_MAX]) {
    (void)ctx;
    if (!*ak) return false;
    memcpy(out, "fuzz-secret", sizeof "fuzz-secret");
    return true;
}

static void add(fuzz_headers *h, const char *name, size_t name_len, const char *value,
                size_t value_len) {
    if (h->n == MAX_HEADERS) return;
    h->name[h->n] = sl_xstrndup(name, name_len);
    h->value[h->n] = sl_xstrndup(value, value_len);
    h->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t flags = data[0];
    /* NULs end C strings early; the HTTP layer never hands them over, so map them away. */
    char *text = sl_xstrndup((const char *)data + 1, size - 1);
    for (size_t i = 0; i < size - 1; i++)
        if (!text[i]) text[i] = ' ';

    char *lines[4] = {"", "", "", ""};
    char *p = text;
    for (int i = 0; i < 3 && p; i++) {
        lines[i] = p;
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        p = nl ? nl + 1 : NULL;
    }
    fuzz_headers h = {0};
    while (p && *p) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *colon = memchr(p, ':', len);
        if (colon) add(&h, p, (size_t)(colon - p), colon + 1, len - (size_t)(colon - p) - 1);
        p = nl ? nl + 1 : NULL;
    }

    sl_buf query, authz;
    sl_buf_init(&query);
    sl_buf_init(&authz);
    sl_buf_puts(&query, lines[2]);
    if (flags & 0x20) {
        /* A SigV4 header around the fuzzed SignedHeaders (the query line doubles as it). */
        sl_buf_printf(&authz,
                      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=%s, Signature="
                      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
                      (flags & 0x80) ? "host;x-amz-date" : lines[2]);
        add(&h, "authorization", 13, authz.data, authz.len);
        add(&h, "x-amz-date", 10, "20150830T123600Z", 16);
        add(&h, "host", 4, "example.amazonaws.com", 21);
    } else if (flags & 0x40) {
        sl_buf_printf(&query,
                      "%sX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%%2F20150830%%2Fus-"
                      "east-1%%2Fs3%%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&"
                      "X-Amz-SignedHeaders=host&X-Amz-Signature="
                      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
                      *lines[2] ? "&" : "");
    }

    static const int64_t nows[] = {1440938160000LL, 0, INT64_MAX / 4, -1000};
    sl_sigv4_request req = {
        .method = lines[0],
        .raw_path = lines[1],
        .raw_query = query.data ? query.data : "",
        .header = lookup,
        .header_ctx = &h,
        .payload_hash = (flags & 0x02) ? NULL : "UNSIGNED-PAYLOAD",
        .s3 = flags & 0x01,
        .now_ms = nows[(flags >> 2) & 3],
        .secret = secret,
        .each_header = (flags & 0x10) ? each : NULL,
        .virtual_host_bucket = (flags & 0x08) ? "bucket" : NULL,
    };
    sl_auth_result out;
    sl_auth_status st = sl_sigv4_verify(&req, &out);
    /* Contract: a status, a code for every failure, strings terminated. */
    if (st != out.status) abort();
    if ((st == SL_AUTH_OK) != (out.code == NULL)) abort();
    if (strnlen(out.message, sizeof out.message) == sizeof out.message) abort();
    if (strnlen(out.access_key, sizeof out.access_key) == sizeof out.access_key) abort();
    if (st == SL_AUTH_OK && !out.sigv2) {
        unsigned char md[32] = {0};
        char sig[65];
        sl_sigv4_chunk_signature(&out, out.signature, md, sig);
        sl_sigv4_trailer_signature(&out, sig, text, strlen(text), sig);
    }

    for (size_t i = 0; i < h.n; i++) free(h.name[i]), free(h.value[i]);
    sl_buf_free(&query);
    sl_buf_free(&authz);
    free(text);
    return 0;
}
