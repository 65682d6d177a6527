/* test_chunked: the aws-chunked decoder on AWS's documented signed examples, on the body boto3
 * sends (unsigned payload, CRC32 trailer), under every way of slicing the input, and on the
 * malformed, truncated and forged bodies it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/chunked.h"
#include "auth/sigv4.h"
#include "core/buf.h"

#define S3DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SEED         "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define TRAILER_SEED "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
/* The trailer signature as the SDKs compute it (AWS4-HMAC-SHA256-TRAILER), and as AWS's
 * documentation prints it (computed with the AWS4-HMAC-SHA256-PAYLOAD algorithm name). */
#define TRAILER_SIG_SDK "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
#define TRAILER_SIG_DOC "63bddb248ad2590c92712055f51b8e78ab024eead08276b24f010b0efd74843f"
/* Exactly what boto3 1.43 sends for put_object(Body=b"hello world") over https (see the
 * s3-put-aws-chunked-trailer vector in test_sigv4.c). */
#define BOTO_BODY "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"

/* ---- fixtures ---- */

static sl_auth_result doc_auth(const char *seed) {
    sl_auth_result a;
    memset(&a, 0, sizeof a);
    a.status = SL_AUTH_OK;
    strcpy(a.access_key, "AKIAIOSFODNN7EXAMPLE");
    strcpy(a.region, "us-east-1");
    strcpy(a.service, "s3");
    strcpy(a.date, "20130524");
    strcpy(a.amz_date, "20130524T000000Z");
    strcpy(a.signature, seed);
    sl_sigv4_signing_key(S3DOC_SECRET, a.date, a.region, a.service, a.signing_key);
    return a;
}

/* The chunked-upload example: 64 KiB and 1 KiB of 'a', then the final chunk. */
static void doc_body(sl_buf *b) {
    sl_buf_init(b);
    sl_buf_puts(b, "10000;chunk-signature="
                   "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
    for (int i = 0; i < 65536; i++) sl_buf_putc(b, 'a');
    sl_buf_puts(b, "\r\n400;chunk-signature="
                   "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
    for (int i = 0; i < 1024; i++) sl_buf_putc(b, 'a');
    sl_buf_puts(b, "\r\n0;chunk-signature="
                   "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
}

/* The trailing-headers example; between_blank puts a blank line after the final chunk,
 * as some clients do. */
static void trailer_body(sl_buf *b, const char *trailer_sig, bool between_blank, bool closing) {
    sl_buf_init(b);
    sl_buf_puts(b, "10000;chunk-signature="
                   "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n");
    for (int i = 0; i < 65536; i++) sl_buf_putc(b, 'a');
    sl_buf_puts(b, "\r\n400;chunk-signature="
                   "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n");
    for (int i = 0; i < 1024; i++) sl_buf_putc(b, 'a');
    sl_buf_puts(b, "\r\n0;chunk-signature="
                   "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n");
    if (between_blank) sl_buf_puts(b, "\r\n");
    sl_buf_puts(b, "x-amz-checksum-crc32c:sOO8/Q==\r\n");
    if (trailer_sig) sl_buf_printf(b, "x-amz-trailer-signature:%s\r\n", trailer_sig);
    if (closing) sl_buf_puts(b, "\r\n");
}

static int sink(void *ctx, const char *data, size_t n) {
    sl_buf_append(ctx, data, n);
    return 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Feeds data in pieces: max_piece 0 means all at once, 1 means byte by byte, otherwise random
 * sizes in [1, max_piece]. Returns the first non-zero feed result, else finish's. */
static int decode(sl_chunked *c, const char *data, size_t n, size_t max_piece, sl_buf *out) {
    size_t i = 0;
    while (i < n) {
        size_t piece = max_piece == 0 ? n - i : max_piece == 1 ? 1 : 1 + rng() % max_piece;
        if (piece > n - i) piece = n - i;
        int r = sl_chunked_feed(c, data + i, piece, sink, out);
        if (r) return r;
        i += piece;
    }
    return sl_chunked_finish(c);
}

static void expect_decoded(sl_chunked_mode mode, const sl_auth_result *auth, const char *body,
                           size_t n, size_t max_piece, const char *payload, size_t payload_len) {
    sl_chunked *c = sl_chunked_new(mode, auth);
    sl_buf out;
    sl_buf_init(&out);
    int r = decode(c, body, n, max_piece, &out);
    if (r != 0)
        fail_msg("decode failed (piece %zu): %s: %s", max_piece, sl_chunked_error_code(c),
                 sl_chunked_error_message(c));
    assert_int_equal(out.len, payload_len);
    assert_int_equal(sl_chunked_decoded(c), payload_len);
    if (payload_len) assert_memory_equal(out.data, payload, payload_len);
    assert_null(sl_chunked_error_code(c));
    sl_buf_free(&out);
    sl_chunked_free(c);
}

static char *all_a(size_t n) {
    char *p = sl_xmalloc(n);
    memset(p, 'a', n);
    return p;
}

/* ---- the documented signed examples ---- */

static void test_doc_example_any_split(void **state) {
    sl_auth_result auth = doc_auth(SEED);
    sl_buf body;
    doc_body(&body);
    char *want = all_a(66560);
    expect_decoded(SL_CHUNKED_SIGNED, &auth, body.data, body.len, 0, want, 66560);
    expect_decoded(SL_CHUNKED_SIGNED, &auth, body.data, body.len, 1, want, 66560);
    for (size_t max = 2; max < 70000; max = max * 3 + 1)
        for (int round = 0; round < 4; round++)
            expect_decoded(SL_CHUNKED_SIGNED, &auth, body.data, body.len, max, want, 66560);
    free(want);
    sl_buf_free(&body);
}

/* The seed comes from verifying the request itself: sigv4 and chunked agree end to end. */
static const char *const seed_headers[][2] = {
    {"host", "s3.amazonaws.com"},
    {"x-amz-date", "20130524T000000Z"},
    {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
    {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
    {"content-encoding", "aws-chunked"},
    {"x-amz-decoded-content-length", "66560"},
    {"content-length", "66824"},
    {"authorization",
     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
     "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
     "x-amz-decoded-content-length;x-amz-storage-class,Signature=" SEED},
};

static const char *seed_header(void *ctx, const char *name) {
    for (size_t i = 0; i < sizeof seed_headers / sizeof seed_headers[0]; i++)
        if (!strcmp(seed_headers[i][0], name)) return seed_headers[i][1];
    return NULL;
}

static bool seed_secret(void *ctx, const char *ak, char out[SL_SECRET_MAX]) {
    (void)ctx;
    if (strcmp(ak, "AKIAIOSFODNN7EXAMPLE") != 0) return false;
    snprintf(out, SL_SECRET_MAX, "%s", S3DOC_SECRET);
    return true;
}

static void test_verify_then_decode(void **state) {
    sl_sigv4_request req = {
        .method = "PUT",
        .raw_path = "/examplebucket/chunkObject.txt",
        .raw_query = "",
        .header = seed_header,
        .payload_hash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        .s3 = true,
        .now_ms = 1369353600000LL,
        .secret = seed_secret,
    };
    sl_auth_result auth;
    assert_int_equal(sl_sigv4_verify(&req, &auth), SL_AUTH_OK);
    sl_buf body;
    doc_body(&body);
    char *want = all_a(66560);
    expect_decoded(SL_CHUNKED_SIGNED, &auth, body.data, body.len, 4096, want, 66560);
    free(want);
    sl_buf_free(&body);
}

static void test_trailer_example(void **state) {
    sl_auth_result auth = doc_auth(TRAILER_SEED);
    char *want = all_a(66560);
    static const struct {
        const char *sig;
        bool between_blank, closing;
    } variants[] = {
        {TRAILER_SIG_SDK, false, true}, {TRAILER_SIG_DOC, false, true},
        {TRAILER_SIG_SDK, true, true},  {TRAILER_SIG_SDK, false, false},
        {TRAILER_SIG_SDK, true, false},
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        sl_buf body;
        trailer_body(&body, variants[v].sig, variants[v].between_blank, variants[v].closing);
        for (size_t max = 0; max < 200000; max = max ? max * 7 + 3 : 1) {
            sl_chunked *c = sl_chunked_new(SL_CHUNKED_SIGNED_TRAILER, &auth);
            sl_buf out;
            sl_buf_init(&out);
            int r = decode(c, body.data, body.len, max, &out);
            if (r) fail_msg("variant %zu: %s", v, sl_chunked_error_message(c));
            assert_int_equal(out.len, 66560);
            assert_memory_equal(out.data, want, 66560);
            assert_string_equal(sl_chunked_trailer(c, "x-amz-checksum-crc32c"), "sOO8/Q==");
            assert_string_equal(sl_chunked_trailer(c, "x-amz-trailer-signature"), variants[v].sig);
            assert_null(sl_chunked_trailer(c, "x-amz-checksum-crc32"));
            sl_buf_free(&out);
            sl_chunked_free(c);
        }
        sl_buf_free(&body);
    }
    free(want);
}

/* ---- forged and damaged signed bodies ---- */

static void expect_failure(sl_chunked_mode mode, const sl_auth_result *auth, const char *body,
                           size_t n, size_t max_piece, const char *code) {
    sl_chunked *c = sl_chunked_new(mode, auth);
    sl_buf out;
    sl_buf_init(&out);
    int r = decode(c, body, n, max_piece, &out);
    if (r != -1) fail_msg("expected failure %s, got %d", code, r);
    assert_non_null(sl_chunked_error_code(c));
    assert_string_equal(sl_chunked_error_code(c), code);
    assert_true(strlen(sl_chunked_error_message(c)) > 0);
    /* Once failed, it stays failed. */
    assert_int_equal(sl_chunked_feed(c, "0\r\n\r\n", 5, sink, &out), -1);
    assert_int_equal(sl_chunked_finish(c), -1);
    sl_buf_free(&out);
    sl_chunked_free(c);
}

static void test_forged_signatures(void **state) {
    sl_auth_result auth = doc_auth(SEED);
    sl_buf body;
    doc_body(&body);
    /* A changed byte of: the first signature, the data, the second signature, the final one. */
    const char *first_sig = strstr(body.data, "chunk-signature=") + 16;
    const char *second_sig = strstr(body.data + 65536, "400;chunk-signature=") + 20;
    const char *final_sig = strstr(body.data + 66000, "0;chunk-signature=") + 18;
    size_t spots[] = {(size_t)(first_sig - body.data) + 10, 500,
                      (size_t)(second_sig - body.data) + 5, (size_t)(final_sig - body.data) + 63};
    for (size_t s = 0; s < sizeof spots / sizeof spots[0]; s++) {
        char *copy = sl_xstrndup(body.data, body.len);
        copy[spots[s]] = copy[spots[s]] == 'a' ? 'b' : 'a';
        expect_failure(SL_CHUNKED_SIGNED, &auth, copy, body.len, 0, "SignatureDoesNotMatch");
        expect_failure(SL_CHUNKED_SIGNED, &auth, copy, body.len, 777, "SignatureDoesNotMatch");
        free(copy);
    }
    /* The right body under another key or seed. */
    sl_auth_result other = doc_auth(TRAILER_SEED);
    expect_failure(SL_CHUNKED_SIGNED, &other, body.data, body.len, 0, "SignatureDoesNotMatch");
    other = doc_auth(SEED);
    other.signing_key[0] ^= 1;
    expect_failure(SL_CHUNKED_SIGNED, &other, body.data, body.len, 0, "SignatureDoesNotMatch");
    sl_buf_free(&body);

    /* Trailers: wrong signature, changed value, missing signature. */
    sl_auth_result tauth = doc_auth(TRAILER_SEED);
    trailer_body(&body, "0000000000000000000000000000000000000000000000000000000000000000", false,
                 true);
    expect_failure(SL_CHUNKED_SIGNED_TRAILER, &tauth, body.data, body.len, 0,
                   "SignatureDoesNotMatch");
    sl_buf_free(&body);
    trailer_body(&body, TRAILER_SIG_SDK, false, true);
    char *v = strstr(body.data, "sOO8/Q==");
    v[4] = 'R';
    expect_failure(SL_CHUNKED_SIGNED_TRAILER, &tauth, body.data, body.len, 0,
                   "SignatureDoesNotMatch");
    sl_buf_free(&body);
    trailer_body(&body, NULL, false, true);
    expect_failure(SL_CHUNKED_SIGNED_TRAILER, &tauth, body.data, body.len, 0, "InvalidRequest");
    sl_buf_free(&body);
    /* Trailers are not part of STREAMING-AWS4-HMAC-SHA256-PAYLOAD. */
    doc_body(&body);
    body.len -= 2;
    sl_buf_puts(&body, "x-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    expect_failure(SL_CHUNKED_SIGNED, &auth, body.data, body.len, 0, "InvalidRequest");
    sl_buf_free(&body);
}

/* Signed modes need a SigV4 header seed: nothing else can be chained from. */
static void test_signed_without_seed(void **state) {
    const char body[] = "0;chunk-signature=" SEED "\r\n\r\n";
    expect_failure(SL_CHUNKED_SIGNED, NULL, body, sizeof body - 1, 0, "InvalidRequest");
    sl_auth_result v2 = doc_auth(SEED);
    v2.sigv2 = true;
    expect_failure(SL_CHUNKED_SIGNED, &v2, body, sizeof body - 1, 0, "InvalidRequest");
    sl_auth_result presigned = doc_auth(SEED);
    presigned.presigned = true;
    expect_failure(SL_CHUNKED_SIGNED_TRAILER, &presigned, body, sizeof body - 1, 0,
                   "InvalidRequest");
    sl_chunked *c = sl_chunked_new(SL_CHUNKED_SIGNED, NULL);
    assert_int_equal(sl_chunked_finish(c), -1);
    assert_string_equal(sl_chunked_error_code(c), "InvalidRequest");
    sl_chunked_free(c);
}

/* ---- boto3's unsigned trailer body ---- */

static void test_boto_body(void **state) {
    const char body[] = BOTO_BODY;
    for (size_t max = 0; max < 64; max++) {
        sl_chunked *c = sl_chunked_new(SL_CHUNKED_UNSIGNED, NULL);
        sl_buf out;
        sl_buf_init(&out);
        assert_int_equal(decode(c, body, sizeof body - 1, max, &out), 0);
        assert_int_equal(out.len, 11);
        assert_memory_equal(out.data, "hello world", 11);
        assert_string_equal(sl_chunked_trailer(c, "x-amz-checksum-crc32"), "DUoRhQ==");
        sl_buf_free(&out);
        sl_chunked_free(c);
    }
}

/* Every truncation fails with IncompleteBody, except where the data and final chunk are all
 * there and only the closing blank line or whole trailer lines are missing. */
static void test_truncation(void **state) {
    const char body[] = BOTO_BODY;
    size_t after_final = strlen("b\r\nhello world\r\n0\r\n");
    size_t after_trailer = after_final + strlen("x-amz-checksum-crc32:DUoRhQ==\r\n");
    for (size_t n = 0; n <= sizeof body - 1; n++) {
        sl_chunked *c = sl_chunked_new(SL_CHUNKED_UNSIGNED, NULL);
        sl_buf out;
        sl_buf_init(&out);
        int r = decode(c, body, n, 1, &out);
        bool accepted = n == after_final || n == after_trailer || n == sizeof body - 1;
        if (accepted != (r == 0)) fail_msg("prefix of %zu bytes: result %d", n, r);
        if (!accepted) assert_string_equal(sl_chunked_error_code(c), "IncompleteBody");
        sl_buf_free(&out);
        sl_chunked_free(c);
    }
    sl_auth_result auth = doc_auth(SEED);
    sl_buf doc;
    doc_body(&doc);
    for (size_t n = 0; n <= doc.len; n += n < 300 || n > doc.len - 300 ? 1 : 997) {
        sl_chunked *c = sl_chunked_new(SL_CHUNKED_SIGNED, &auth);
        int r = sl_chunked_feed(c, doc.data, n, NULL, NULL);
        assert_int_equal(r, 0);
        r = sl_chunked_finish(c);
        bool accepted = n == doc.len || n == doc.len - 2;
        if (accepted != (r == 0)) fail_msg("signed prefix of %zu bytes: result %d", n, r);
        if (!accepted) assert_string_equal(sl_chunked_error_code(c), "IncompleteBody");
        sl_chunked_free(c);
    }
    sl_buf_free(&doc);
}

/* ---- malformed bodies ---- */

typedef struct {
    const char *name;
    const char *body;
    int ok; /* 1: decodes; 0: fails with code */
    const char *code;
    const char *payload;
} garbage_case;

static const garbage_case garbage_cases[] = {
    {"empty-body", "", 0, "IncompleteBody", NULL},
    {"only-final", "0\r\n\r\n", 1, NULL, ""},
    {"final-without-blank", "0\r\n", 1, NULL, ""},
    {"final-unterminated", "0", 0, "IncompleteBody", NULL},
    {"bare-lf", "3\nabc\n0\n\n", 1, NULL, "abc"},
    {"upper-hex", "A\r\n0123456789\r\n0\r\n\r\n", 1, NULL, "0123456789"},
    {"extension-ignored", "3;foo=bar\r\nabc\r\n0;chunk-signature=x\r\n\r\n", 1, NULL, "abc"},
    {"spaces-before-extension", "3 ;a=b\r\nabc\r\n0\r\n\r\n", 1, NULL, "abc"},
    {"not-hex", "zz\r\nabc\r\n", 0, "InvalidRequest", NULL},
    {"empty-size", "\r\nabc\r\n", 0, "InvalidRequest", NULL},
    {"junk-after-size", "3x\r\nabc\r\n", 0, "InvalidRequest", NULL},
    {"negative-size", "-3\r\nabc\r\n", 0, "InvalidRequest", NULL},
    {"size-overflow", "11111111111111111\r\n", 0, "InvalidRequest", NULL},
    {"data-too-long", "3\r\nabcd\r\n0\r\n\r\n", 0, "InvalidRequest", NULL},
    {"cr-without-lf", "3\r\nabc\rX0\r\n\r\n", 0, "InvalidRequest", NULL},
    {"trailer-no-colon", "0\r\nnocolon\r\n\r\n", 0, "InvalidRequest", NULL},
    {"trailer-no-name", "0\r\n:value\r\n\r\n", 0, "InvalidRequest", NULL},
    {"trailer-space-in-name", "0\r\na b:c\r\n\r\n", 0, "InvalidRequest", NULL},
    {"trailer-repeated", "0\r\na:1\r\nA:2\r\n\r\n", 0, "InvalidRequest", NULL},
    {"trailer-after-blank-bad", "0\r\n\r\nextra\r\n", 0, "InvalidRequest", NULL},
    {"trailer-partial-line", "0\r\nx-amz-checksum-crc32:AA", 0, "IncompleteBody", NULL},
    {"data-after-end", "0\r\na:1\r\n\r\nmore", 0, "InvalidRequest", NULL},
    {"truncated-data", "5\r\nab", 0, "IncompleteBody", NULL},
    {"truncated-after-data", "2\r\nab", 0, "IncompleteBody", NULL},
    {"missing-final-chunk", "2\r\nab\r\n", 0, "IncompleteBody", NULL},
};

static void test_garbage(void **state) {
    for (size_t i = 0; i < sizeof garbage_cases / sizeof garbage_cases[0]; i++) {
        const garbage_case *g = &garbage_cases[i];
        for (size_t max = 0; max <= 1; max++) {
            sl_chunked *c = sl_chunked_new(SL_CHUNKED_UNSIGNED, NULL);
            sl_buf out;
            sl_buf_init(&out);
            int r = decode(c, g->body, strlen(g->body), max, &out);
            if (g->ok) {
                if (r) fail_msg("%s: %s", g->name, sl_chunked_error_message(c));
                assert_int_equal(out.len, strlen(g->payload));
                if (out.len) assert_memory_equal(out.data, g->payload, out.len);
            } else {
                if (r != -1) fail_msg("%s: accepted", g->name);
                if (strcmp(sl_chunked_error_code(c), g->code))
                    fail_msg("%s: %s (%s)", g->name, sl_chunked_error_code(c),
                             sl_chunked_error_message(c));
            }
            sl_buf_free(&out);
            sl_chunked_free(c);
        }
    }
}

/* Memory stays bounded: an endless header or trailer line is refused, not buffered. */
static void test_line_bounds(void **state) {
    char *line = sl_xmalloc(5000);
    memset(line, '1', 5000);
    sl_chunked *c = sl_chunked_new(SL_CHUNKED_UNSIGNED, NULL);
    int r = 0;
    for (size_t i = 0; i < 5000 && r == 0; i++) r = sl_chunked_feed(c, line + i, 1, sink, NULL);
    assert_int_equal(r, -1);
    assert_string_equal(sl_chunked_error_code(c), "InvalidRequest");
    sl_chunked_free(c);

    memset(line, 'x', 5000);
    memcpy(line, "0\r\nx-amz-meta:", 14);
    c = sl_chunked_new(SL_CHUNKED_UNSIGNED, NULL);
    assert_int_equal(sl_chunked_feed(c, line, 5000, sink, NULL), -1);
    assert_string_equal(sl_chunked_error_code(c), "InvalidRequest");
    sl_chunked_free(c);
    free(line);

    sl_buf many;
    sl_buf_init(&many);
    sl_buf_puts(&many, "0\r\n");
    for (int i = 0; i < 33; i++) sl_buf_printf(&many, "x-amz-t%d:v\r\n", i);
    sl_buf_puts(&many, "\r\n");
    expect_failure(SL_CHUNKED_UNSIGNED, NULL, many.data, many.len, 0, "InvalidRequest");
    sl_buf_free(&many);

    /* A signed chunk needs its signature, of the right length. */
    sl_auth_result auth = doc_auth(SEED);
    expect_failure(SL_CHUNKED_SIGNED, &auth, "3\r\nabc\r\n", 8, 0, "InvalidRequest");
    expect_failure(SL_CHUNKED_SIGNED, &auth, "3;chunk-signature=abc\r\nabc\r\n", 28, 0,
                   "InvalidRequest");
}

static int abort_emit(void *ctx, const char *data, size_t n) {
    (*(size_t *)ctx) += n;
    return 7;
}

static void test_emit_abort(void **state) {
    sl_chunked *c = sl_chunked_new(SL_CHUNKED_UNSIGNED, NULL);
    size_t seen = 0;
    assert_int_equal(sl_chunked_feed(c, "5\r\nhello\r\n0\r\n\r\n", 15, abort_emit, &seen), 7);
    assert_int_equal(seen, 5);
    assert_int_equal(sl_chunked_feed(c, "\r\n", 2, abort_emit, &seen), -1);
    assert_int_equal(sl_chunked_finish(c), -1);
    sl_chunked_free(c);
    sl_chunked_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_example_any_split),
        cmocka_unit_test(test_verify_then_decode),
        cmocka_unit_test(test_trailer_example),
        cmocka_unit_test(test_forged_signatures),
        cmocka_unit_test(test_signed_without_seed),
        cmocka_unit_test(test_boto_body),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_line_bounds),
        cmocka_unit_test(test_emit_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
