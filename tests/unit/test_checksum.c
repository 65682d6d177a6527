/* test_checksum: every algorithm against published check values, streaming against one-shot in
 * awkward splits, the multipart composite form, and CRC combination against the CRC of the
 * concatenation. A bit-at-a-time CRC here (test-only, deliberately naive) is the independent
 * reference the fast paths are compared with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "objects/checksum.h"

/* Reflected CRC, init ~0, xorout ~0: the form of all three S3 CRCs. */
static uint64_t ref_crc(uint64_t poly, unsigned width, const unsigned char *p, size_t n) {
    uint64_t mask = width == 64 ? ~(uint64_t)0 : ((uint64_t)1 << width) - 1;
    uint64_t crc = mask;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ poly : crc >> 1;
    }
    return ~crc & mask;
}

static uint64_t ref_for(sl_ck_algo a, const unsigned char *p, size_t n) {
    switch (a) {
    case SL_CK_CRC32: return ref_crc(0xEDB88320u, 32, p, n);
    case SL_CK_CRC32C: return ref_crc(0x82F63B78u, 32, p, n);
    case SL_CK_CRC64NVME: return ref_crc(0x9A6C9329AC4BC9B5ull, 64, p, n);
    default: fail_msg("not a CRC"); return 0;
    }
}

static void to_hex(const unsigned char *raw, size_t n, char *out) { sl_hex_encode(raw, n, out); }

static unsigned char *random_bytes(size_t n, uint32_t seed) {
    unsigned char *p = sl_xmalloc(n);
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static const sl_ck_algo all_algos[] = {SL_CK_CRC32, SL_CK_CRC32C, SL_CK_CRC64NVME, SL_CK_SHA1,
                                       SL_CK_SHA256};
static const sl_ck_algo crc_algos[] = {SL_CK_CRC32, SL_CK_CRC32C, SL_CK_CRC64NVME};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_names(void **state) {
    (void)state;
    static const struct {
        sl_ck_algo a;
        const char *name, *header;
        size_t len;
    } t[] = {
        {SL_CK_CRC32, "CRC32", "x-amz-checksum-crc32", 4},
        {SL_CK_CRC32C, "CRC32C", "x-amz-checksum-crc32c", 4},
        {SL_CK_CRC64NVME, "CRC64NVME", "x-amz-checksum-crc64nvme", 8},
        {SL_CK_SHA1, "SHA1", "x-amz-checksum-sha1", 20},
        {SL_CK_SHA256, "SHA256", "x-amz-checksum-sha256", 32},
    };
    for (size_t i = 0; i < COUNT(t); i++) {
        assert_int_equal(sl_ck_algo_parse(t[i].name), t[i].a);
        assert_string_equal(sl_ck_algo_name(t[i].a), t[i].name);
        assert_string_equal(sl_ck_header_name(t[i].a), t[i].header);
        assert_int_equal(sl_ck_digest_len(t[i].a), t[i].len);
        assert_int_equal(sl_ck_is_crc(t[i].a), t[i].len <= 8);
    }
    assert_int_equal(sl_ck_algo_parse("crc64nvme"), SL_CK_CRC64NVME);
    assert_int_equal(sl_ck_algo_parse("Sha256"), SL_CK_SHA256);
    assert_int_equal(sl_ck_algo_parse("MD5"), SL_CK_NONE);
    assert_int_equal(sl_ck_algo_parse("CRC"), SL_CK_NONE);
    assert_int_equal(sl_ck_algo_parse("CRC32CX"), SL_CK_NONE);
    assert_int_equal(sl_ck_algo_parse(""), SL_CK_NONE);
    assert_int_equal(sl_ck_algo_parse(NULL), SL_CK_NONE);
    assert_null(sl_ck_algo_name(SL_CK_NONE));
    assert_null(sl_ck_header_name(SL_CK_NONE));
    assert_int_equal(sl_ck_digest_len(SL_CK_NONE), 0);
    assert_false(sl_ck_is_crc(SL_CK_NONE));
}

typedef struct {
    sl_ck_algo algo;
    const char *input;
    const char *hex; /* big-endian digest */
    const char *b64; /* as S3 shows it; NULL: not checked */
} vector;

static const vector vectors[] = {
    /* The catalogue check values (CRC over "123456789"). */
    {SL_CK_CRC32, "123456789", "cbf43926", "y/Q5Jg=="},
    {SL_CK_CRC32C, "123456789", "e3069283", "4waSgw=="},
    {SL_CK_CRC64NVME, "123456789", "ae8b14860a799888", "rosUhgp5mIg="},
    {SL_CK_CRC32, "", "00000000", "AAAAAA=="},
    {SL_CK_CRC32C, "", "00000000", "AAAAAA=="},
    {SL_CK_CRC64NVME, "", "0000000000000000", "AAAAAAAAAAA="},
    {SL_CK_CRC32, "hello world", "0d4a1185", "DUoRhQ=="},
    {SL_CK_CRC32C, "hello world", "c99465aa", "yZRlqg=="},
    {SL_CK_CRC32C, "The quick brown fox jumps over the lazy dog", "22620404", NULL},
    /* FIPS 180 examples. */
    {SL_CK_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="},
    {SL_CK_SHA1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709", NULL},
    {SL_CK_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="},
    {SL_CK_SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
};

static void test_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(vectors); i++) {
        const vector *v = &vectors[i];
        size_t len = sl_ck_digest_len(v->algo);
        unsigned char raw[32];
        char hex[65], b64[64];
        sl_ck_compute_raw(v->algo, v->input, strlen(v->input), raw);
        to_hex(raw, len, hex);
        if (strcmp(hex, v->hex))
            fail_msg("%s(\"%s\") = %s, want %s", sl_ck_algo_name(v->algo), v->input, hex, v->hex);
        sl_ck_compute_b64(v->algo, v->input, strlen(v->input), b64);
        char want[64];
        sl_base64_encode(raw, len, want);
        assert_string_equal(b64, want);
        if (v->b64) assert_string_equal(b64, v->b64);

        /* The hasher gives the same, plus MD5. */
        sl_hasher *h = sl_hasher_new(v->algo, false);
        sl_hasher_update(h, v->input, strlen(v->input));
        char md5_hex[33], ck_b64[64], sha_hex[65];
        unsigned char md5_raw[16], ck_raw[32];
        sl_hasher_final(h, md5_hex, md5_raw, ck_b64, ck_raw, sha_hex);
        sl_hasher_free(h);
        assert_string_equal(ck_b64, b64);
        assert_memory_equal(ck_raw, raw, len);
        assert_string_equal(sha_hex, ""); /* not asked for */
        unsigned char md5[16];
        EVP_Digest(v->input, strlen(v->input), md5, NULL, EVP_md5(), NULL);
        assert_memory_equal(md5_raw, md5, 16);
        char md5_want[33];
        to_hex(md5, 16, md5_want);
        assert_string_equal(md5_hex, md5_want);
    }
}

static void test_md5_and_sha256(void **state) {
    (void)state;
    static const struct {
        const char *in, *md5, *sha256;
    } t[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6",
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
    };
    for (size_t i = 0; i < COUNT(t); i++) {
        /* NONE, a different additional algorithm, and SHA256 itself (one context serves both). */
        const sl_ck_algo algos[] = {SL_CK_NONE, SL_CK_CRC32C, SL_CK_SHA256};
        for (size_t a = 0; a < COUNT(algos); a++) {
            sl_hasher *h = sl_hasher_new(algos[a], true);
            sl_hasher_update(h, t[i].in, strlen(t[i].in));
            char md5_hex[33], sha_hex[65], ck_b64[64] = "junk";
            unsigned char ck_raw[32];
            sl_hasher_final(h, md5_hex, NULL, ck_b64, ck_raw, sha_hex);
            sl_hasher_free(h);
            assert_string_equal(md5_hex, t[i].md5);
            assert_string_equal(sha_hex, t[i].sha256);
            if (algos[a] == SL_CK_NONE) assert_string_equal(ck_b64, "");
            if (algos[a] == SL_CK_SHA256) {
                char hex[65];
                to_hex(ck_raw, 32, hex);
                assert_string_equal(hex, t[i].sha256);
            }
        }
    }
    /* All outputs may be NULL. */
    sl_hasher *h = sl_hasher_new(SL_CK_SHA1, true);
    sl_hasher_update(h, "x", 1);
    sl_hasher_final(h, NULL, NULL, NULL, NULL, NULL);
    sl_hasher_free(h);
    sl_hasher_free(NULL);
}

static void test_fast_crcs_match_reference(void **state) {
    (void)state;
    /* Every length up to 300 at several alignments, then a few large ones: covers the
     * 8-byte/SIMD main loops and their tails. */
    unsigned char *data = random_bytes(70000, 7);
    for (size_t a = 0; a < COUNT(crc_algos); a++) {
        sl_ck_algo algo = crc_algos[a];
        size_t len = sl_ck_digest_len(algo);
        for (size_t off = 0; off < 8; off += 3) {
            for (size_t n = 0; n <= 300; n++) {
                unsigned char raw[8];
                sl_ck_compute_raw(algo, data + off, n, raw);
                uint64_t want = ref_for(algo, data + off, n);
                if (sl_ck_crc_from_raw(algo, raw) != want)
                    fail_msg("%s off %zu len %zu", sl_ck_algo_name(algo), off, n);
            }
        }
        const size_t big[] = {4096, 65535, 69999};
        for (size_t i = 0; i < COUNT(big); i++) {
            unsigned char raw[8];
            sl_ck_compute_raw(algo, data + 1, big[i], raw);
            assert_true(sl_ck_crc_from_raw(algo, raw) == ref_for(algo, data + 1, big[i]));
        }
        (void)len;
    }
    free(data);
}

static void test_streaming_equals_one_shot(void **state) {
    (void)state;
    const size_t n = 200003;
    unsigned char *data = random_bytes(n, 42);
    const size_t steps[] = {1, 2, 3, 7, 8, 13, 63, 64, 65, 4095, 4096, 65537, n};
    for (size_t a = 0; a < COUNT(all_algos); a++) {
        sl_ck_algo algo = all_algos[a];
        char want_ck[64], want_md5[33], want_sha[65];
        sl_ck_compute_b64(algo, data, n, want_ck);
        sl_hasher *one = sl_hasher_new(algo, true);
        sl_hasher_update(one, data, n);
        sl_hasher_final(one, want_md5, NULL, NULL, NULL, want_sha);
        sl_hasher_free(one);
        for (size_t s = 0; s < COUNT(steps); s++) {
            /* Uneven pieces: step, step+1, step+2, ... and an empty update now and then. */
            sl_hasher *h = sl_hasher_new(algo, true);
            size_t pos = 0, piece = steps[s];
            while (pos < n) {
                size_t take = piece < n - pos ? piece : n - pos;
                sl_hasher_update(h, data + pos, take);
                sl_hasher_update(h, data + pos, 0);
                pos += take;
                piece = piece % 5 == 0 ? steps[s] : piece + 1;
            }
            char ck[64], md5[33], sha[65];
            sl_hasher_final(h, md5, NULL, ck, NULL, sha);
            sl_hasher_free(h);
            if (strcmp(ck, want_ck))
                fail_msg("%s step %zu: %s != %s", sl_ck_algo_name(algo), steps[s], ck, want_ck);
            assert_string_equal(md5, want_md5);
            assert_string_equal(sha, want_sha);
        }
    }
    free(data);
}

static void test_composite(void **state) {
    (void)state;
    /* Three parts; the composite is the algorithm over the parts' raw digests, "-3" appended. */
    const char *parts[] = {"part one", "the second part", ""};
    for (size_t a = 0; a < COUNT(all_algos); a++) {
        sl_ck_algo algo = all_algos[a];
        size_t len = sl_ck_digest_len(algo);
        unsigned char digests[3 * 32];
        for (size_t i = 0; i < 3; i++)
            sl_ck_compute_raw(algo, parts[i], strlen(parts[i]), digests + i * len);
        char got[80];
        sl_ck_composite(algo, digests, 3, got);
        char want[80];
        sl_ck_compute_b64(algo, digests, 3 * len, want);
        strcat(want, "-3");
        assert_string_equal(got, want);
    }
    /* A known value: CRC32 over the two 4-byte digests of "a" and "b". crc32("a") = e8b7be43,
     * crc32("b") = 71beeff9; crc32(e8b7be43 71beeff9) computed independently by the reference. */
    const unsigned char two[8] = {0xe8, 0xb7, 0xbe, 0x43, 0x71, 0xbe, 0xef, 0xf9};
    unsigned char digests[8];
    sl_ck_compute_raw(SL_CK_CRC32, "a", 1, digests);
    sl_ck_compute_raw(SL_CK_CRC32, "b", 1, digests + 4);
    assert_memory_equal(digests, two, 8);
    char got[80], want[80];
    sl_ck_composite(SL_CK_CRC32, digests, 2, got);
    sl_ck_crc_to_b64(SL_CK_CRC32, ref_for(SL_CK_CRC32, two, 8), want);
    strcat(want, "-2");
    assert_string_equal(got, want);
    /* Part counts past 9 and the upper bound of 10000 parts fit the buffer. */
    unsigned char *many = calloc(10000, 32);
    sl_ck_composite(SL_CK_SHA256, many, 10000, got);
    assert_int_equal(strlen(got), 44 + 6);
    assert_string_equal(got + 44, "-10000");
    free(many);
    sl_ck_composite(SL_CK_NONE, digests, 2, got);
    assert_string_equal(got, "");
}

static void test_combine(void **state) {
    (void)state;
    const size_t n = 5000;
    unsigned char *data = random_bytes(n, 99);
    const size_t cuts[] = {0, 1, 7, 8, 9, 255, 256, 1000, 4095, 4999, 5000};
    for (size_t a = 0; a < COUNT(crc_algos); a++) {
        sl_ck_algo algo = crc_algos[a];
        uint64_t whole = ref_for(algo, data, n);
        for (size_t c = 0; c < COUNT(cuts); c++) {
            size_t k = cuts[c];
            uint64_t crc_a = ref_for(algo, data, k), crc_b = ref_for(algo, data + k, n - k);
            uint64_t got = sl_ck_crc_combine(algo, crc_a, crc_b, n - k);
            if (got != whole)
                fail_msg("%s cut %zu: %llx != %llx", sl_ck_algo_name(algo), k,
                         (unsigned long long)got, (unsigned long long)whole);
        }
        /* Folding many uneven parts left to right, as CompleteMultipartUpload does. */
        uint64_t acc = ref_for(algo, data, 0);
        size_t pos = 0, piece = 1;
        while (pos < n) {
            size_t take = piece < n - pos ? piece : n - pos;
            acc = sl_ck_crc_combine(algo, acc, ref_for(algo, data + pos, take), take);
            pos += take, piece = piece * 3 + 1;
        }
        assert_true(acc == whole);
    }
    free(data);
}

static void test_combine_large_parts(void **state) {
    (void)state;
    /* A part of 64 MiB + 3 bytes: the length's high bits matter. */
    const size_t n = ((size_t)64 << 20) + 3;
    unsigned char *big = random_bytes(n, 5);
    const char *head = "head";
    for (size_t a = 0; a < COUNT(crc_algos); a++) {
        sl_ck_algo algo = crc_algos[a];
        unsigned char raw[8];
        sl_hasher *h = sl_hasher_new(algo, false);
        sl_hasher_update(h, head, 4);
        sl_hasher_update(h, big, n);
        sl_hasher_final(h, NULL, NULL, NULL, raw, NULL);
        sl_hasher_free(h);
        uint64_t whole = sl_ck_crc_from_raw(algo, raw);
        sl_ck_compute_raw(algo, head, 4, raw);
        uint64_t crc_a = sl_ck_crc_from_raw(algo, raw);
        sl_ck_compute_raw(algo, big, n, raw);
        uint64_t crc_b = sl_ck_crc_from_raw(algo, raw);
        assert_true(sl_ck_crc_combine(algo, crc_a, crc_b, n) == whole);
    }
    free(big);
    /* Lengths beyond any real object still compute (x^(8n) by squaring, not by looping). */
    for (size_t a = 0; a < COUNT(crc_algos); a++) {
        uint64_t r = sl_ck_crc_combine(crc_algos[a], 0x12345678, 0x9abcdef0, (uint64_t)1 << 62);
        if (crc_algos[a] != SL_CK_CRC64NVME) assert_true(r <= 0xFFFFFFFFu);
    }
    assert_true(sl_ck_crc_combine(SL_CK_SHA256, 1, 2, 3) == 0);
}

static void test_crc_value_forms(void **state) {
    (void)state;
    char b64[64];
    unsigned char raw[8];
    sl_ck_crc_to_b64(SL_CK_CRC64NVME, 0xAE8B14860A799888ull, b64);
    assert_string_equal(b64, "rosUhgp5mIg=");
    assert_int_equal(sl_base64_decode(b64, strlen(b64), raw), 8);
    assert_true(sl_ck_crc_from_raw(SL_CK_CRC64NVME, raw) == 0xAE8B14860A799888ull);
    sl_ck_crc_to_b64(SL_CK_CRC32C, 0xE3069283u, b64);
    assert_string_equal(b64, "4waSgw==");
    assert_int_equal(sl_base64_decode(b64, strlen(b64), raw), 4);
    assert_true(sl_ck_crc_from_raw(SL_CK_CRC32C, raw) == 0xE3069283u);
    sl_ck_crc_to_b64(SL_CK_SHA1, 1, b64);
    assert_string_equal(b64, "");
    assert_true(sl_ck_crc_from_raw(SL_CK_SHA256, raw) == 0);
    sl_ck_compute_b64(SL_CK_NONE, "x", 1, b64);
    assert_string_equal(b64, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_md5_and_sha256),
        cmocka_unit_test(test_fast_crcs_match_reference),
        cmocka_unit_test(test_streaming_equals_one_shot),
        cmocka_unit_test(test_composite),
        cmocka_unit_test(test_combine),
        cmocka_unit_test(test_combine_large_parts),
        cmocka_unit_test(test_crc_value_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
