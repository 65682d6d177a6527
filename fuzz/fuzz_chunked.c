/* fuzz_chunked: the aws-chunked decoder on arbitrary bodies split at arbitrary points, and a
 * round trip: a payload encoded here as a correctly signed aws-chunked body (random chunk
 * sizes, optional signed trailers) must decode to exactly that payload however it is split.
 *
 * Input: byte 0 picks the mode and whether to round-trip, byte 1 seeds the splits and chunk
 * sizes, the rest is the body (or, round-tripping, the payload). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/chunked.h"
#include "auth/sigv4.h"
#include "core/buf.h"

static sl_auth_result fuzz_auth(void) {
    sl_auth_result a;
    memset(&a, 0, sizeof a);
    a.status = SL_AUTH_OK;
    strcpy(a.access_key, "AKIDFUZZ");
    strcpy(a.region, "us-east-1");
    strcpy(a.service, "s3");
    strcpy(a.date, "20130524");
    strcpy(a.amz_date, "20130524T000000Z");
    strcpy(a.signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    sl_sigv4_signing_key("fuzz-secret", a.date, a.region, a.service, a.signing_key);
    return a;
}

typedef struct {
    sl_buf out;
    unsigned long long emitted;
} sink_state;

static int sink(void *ctx, const char *data, size_t n) {
    sink_state *s = ctx;
    if (n == 0) abort(); /* never an empty emit */
    sl_buf_append(&s->out, data, n);
    s->emitted += n;
    return 0;
}

static uint32_t next(uint32_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Feeds body in pseudo-random pieces; returns the decoder's overall verdict. */
static int run(sl_chunked *c, const char *body, size_t n, uint32_t seed, sink_state *s) {
    uint32_t x = seed | 1;
    size_t i = 0;
    while (i < n) {
        size_t piece = 1 + next(&x) % ((x & 1) ? 4 : 97);
        if (piece > n - i) piece = n - i;
        int r = sl_chunked_feed(c, body + i, piece, sink, s);
        if (r) return r;
        i += piece;
    }
    return sl_chunked_finish(c);
}

static void encode(sl_buf *b, const sl_auth_result *auth, sl_chunked_mode mode,
                   const uint8_t *payload, size_t n, uint32_t seed) {
    uint32_t x = seed | 1;
    char prev[65];
    memcpy(prev, auth->signature, 65);
    bool sign = mode != SL_CHUNKED_UNSIGNED;
    size_t i = 0;
    for (;;) {
        size_t len = i < n ? 1 + next(&x) % 300 : 0;
        if (len > n - i) len = n - i;
        sl_buf_printf(b, "%zx", len);
        if (sign) {
            unsigned char md[32];
            EVP_Digest(payload + i, len, md, NULL, EVP_sha256(), NULL);
            sl_sigv4_chunk_signature(auth, prev, md, prev);
            sl_buf_printf(b, ";chunk-signature=%s", prev);
        }
        sl_buf_puts(b, "\r\n");
        if (len == 0) break;
        sl_buf_append(b, payload + i, len);
        sl_buf_puts(b, "\r\n");
        i += len;
    }
    if (mode != SL_CHUNKED_SIGNED) {
        const char trailer[] = "x-amz-checksum-crc32:AAAAAA==\n";
        sl_buf_puts(b, "x-amz-checksum-crc32:AAAAAA==\r\n");
        if (mode == SL_CHUNKED_SIGNED_TRAILER) {
            char sig[65];
            sl_sigv4_trailer_signature(auth, prev, trailer, sizeof trailer - 1, sig);
            sl_buf_printf(b, "x-amz-trailer-signature:%s\r\n", sig);
        }
    }
    if (!(seed & 0x100)) sl_buf_puts(b, "\r\n"); /* clients may leave the blank line out */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    sl_chunked_mode mode = (sl_chunked_mode)(data[0] % 3);
    bool round_trip = data[0] & 0x80;
    uint32_t seed = (uint32_t)data[1] * 2654435761u + (uint32_t)size;
    const uint8_t *rest = data + 2;
    size_t n = size - 2;
    sl_auth_result auth = fuzz_auth();

    sl_buf body;
    sl_buf_init(&body);
    if (round_trip) encode(&body, &auth, mode, rest, n, seed);
    else sl_buf_append(&body, rest, n);

    sink_state s = {0};
    sl_buf_init(&s.out);
    sl_chunked *c = sl_chunked_new(mode, &auth);
    int r = run(c, body.data ? body.data : "", body.len, seed, &s);
    if (s.emitted != sl_chunked_decoded(c)) abort();
    if (r == 0 && sl_chunked_error_code(c)) abort();
    if (r != 0 && (!sl_chunked_error_code(c) || !sl_chunked_error_message(c))) abort();
    if (round_trip) {
        if (r != 0) abort();
        if (s.out.len != n || (n && memcmp(s.out.data, rest, n))) abort();
        if (mode != SL_CHUNKED_SIGNED && !sl_chunked_trailer(c, "x-amz-checksum-crc32")) abort();
    }
    sl_chunked_trailer(c, "x-amz-trailer-signature");
    sl_chunked_free(c);
    sl_buf_free(&s.out);
    sl_buf_free(&body);
    return 0;
}
