/* test_buf: the growable buffer and the encoders built on it (URI, base64, XML escaping, hex). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void test_buffer_growth(void **state) {
    (void)state;
    sl_buf b;
    sl_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    for (int i = 0; i < 1000; i++) sl_buf_puts(&b, "0123456789");
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], 0);
    assert_memory_equal(b.data + 9990, "0123456789", 10);
    sl_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    sl_buf_putc(&b, 'x');
    sl_buf_append(&b, "\0y", 2); /* embedded NUL kept; len counts it */
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "x\0y", 4);
    sl_buf_append(&b, NULL, 0);
    assert_int_equal(b.len, 3);
    sl_buf_free(&b);
    assert_null(b.data);
}

static void test_printf(void **state) {
    (void)state;
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "%s", ""); /* nothing to write: stays empty, no crash */
    assert_int_equal(b.len, 0);
    sl_buf_printf(&b, "%d-%s", 42, "x");
    sl_buf_printf(&b, "/%05.1f", 3.14159);
    assert_string_equal(b.data, "42-x/003.1");
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    sl_buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 10 + 2 + 4999);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], 0);
    sl_buf_free(&b);
}

static void test_steal(void **state) {
    (void)state;
    sl_buf b;
    sl_buf_init(&b);
    char *empty = sl_buf_steal(&b); /* never NULL, even for a buffer never written */
    assert_string_equal(empty, "");
    free(empty);
    sl_buf_puts(&b, "owned");
    char *s = sl_buf_steal(&b);
    assert_string_equal(s, "owned");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    sl_buf_free(&b);
}

static void test_strings(void **state) {
    (void)state;
    char *d = sl_xstrndup("abcdef", 3);
    assert_string_equal(d, "abc");
    free(d);
    d = sl_xstrdup("");
    assert_string_equal(d, "");
    free(d);
    assert_true(sl_str_has_prefix("bucket/key", "bucket/"));
    assert_true(sl_str_has_prefix("x", ""));
    assert_false(sl_str_has_prefix("buck", "bucket"));
    assert_true(sl_str_has_suffix("file.tar.gz", ".gz"));
    assert_true(sl_str_has_suffix("x", ""));
    assert_false(sl_str_has_suffix("gz", ".gz"));
}

typedef struct {
    const char *in;
    bool keep_slash;
    const char *out;
} uri_enc_case;

static const uri_enc_case uri_enc_cases[] = {
    {"", false, ""},
    {"AZaz09-_.~", false, "AZaz09-_.~"},
    {"a b", false, "a%20b"},
    {"a/b/c", true, "a/b/c"},
    {"a/b/c", false, "a%2Fb%2Fc"},
    {"+=&?#%", true, "%2B%3D%26%3F%23%25"},
    {"*'()!$,;:@[]", false, "%2A%27%28%29%21%24%2C%3B%3A%40%5B%5D"},
    {"caf\xC3\xA9", false, "caf%C3%A9"},
    {"\x01\x7F\xFF", false, "%01%7F%FF"},
};

static void test_uri_encode(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof uri_enc_cases / sizeof uri_enc_cases[0]; i++) {
        const uri_enc_case *c = &uri_enc_cases[i];
        sl_buf b;
        sl_buf_init(&b);
        sl_buf_uri_encode(&b, c->in, strlen(c->in), c->keep_slash);
        assert_string_equal(b.data ? b.data : "", c->out);
        sl_buf_free(&b);
    }
}

typedef struct {
    const char *in;
    bool plus_is_space;
    long len; /* -1: must be rejected */
    const char *out;
} uri_dec_case;

static const uri_dec_case uri_dec_cases[] = {
    {"", false, 0, ""},
    {"plain", false, 5, "plain"},
    {"a%20b", false, 3, "a b"},
    {"%2f%2F", false, 2, "//"},
    {"caf%C3%A9", false, 5, "caf\xC3\xA9"},
    {"a+b", false, 3, "a+b"},
    {"a+b", true, 3, "a b"},
    {"%2B", true, 1, "+"},
    {"%41", false, 1, "A"},
    {"100%25", false, 4, "100%"},
    {"%", false, -1, NULL},
    {"%4", false, -1, NULL},
    {"a%4", false, -1, NULL},
    {"%G1", false, -1, NULL},
    {"%1G", false, -1, NULL},
    {"%%41", false, -1, NULL},
    {"ok%", false, -1, NULL},
};

static void test_uri_decode(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof uri_dec_cases / sizeof uri_dec_cases[0]; i++) {
        const uri_dec_case *c = &uri_dec_cases[i];
        size_t n = strlen(c->in);
        char *out = sl_xmalloc(n + 1); /* the documented size, exactly: ASan checks it */
        long len = sl_uri_decode(c->in, n, out, c->plus_is_space);
        if (len != c->len) fail_msg("'%s': got %ld, want %ld", c->in, len, c->len);
        if (len >= 0) {
            assert_memory_equal(out, c->out, (size_t)len + 1);
        }
        free(out);
    }
    /* Decoding %00 yields a NUL in the middle; the returned length tells. */
    char out[8];
    assert_int_equal(sl_uri_decode("a%00b", 5, out, false), 3);
    assert_memory_equal(out, "a\0b", 4);
}

static void test_uri_round_trip(void **state) {
    (void)state;
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_uri_encode(&b, all, sizeof all, false);
    char out[256 * 3 + 1];
    assert_int_equal(sl_uri_decode(b.data, b.len, out, false), 256);
    assert_memory_equal(out, all, 256);
    sl_buf_free(&b);
}

typedef struct {
    const char *raw;
    size_t raw_len;
    const char *b64;
} b64_case;

static const b64_case b64_cases[] = {
    /* RFC 4648 section 10 */
    {"", 0, ""},
    {"f", 1, "Zg=="},
    {"fo", 2, "Zm8="},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg=="},
    {"fooba", 5, "Zm9vYmE="},
    {"foobar", 6, "Zm9vYmFy"},
    /* bytes that use '+' and '/' */
    {"\xFB\xFF\xBF", 3, "+/+/"},
    {"\x00\x00\x00\x00", 4, "AAAAAA=="},
    /* an MD5 as a Content-MD5 header carries it: md5("") */
    {"\xD4\x1D\x8C\xD9\x8F\x00\xB2\x04\xE9\x80\x09\x98\xEC\xF8\x42\x7E", 16,
     "1B2M2Y8AsgTpgAmY7PhCfg=="},
};

static void test_base64(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof b64_cases / sizeof b64_cases[0]; i++) {
        const b64_case *c = &b64_cases[i];
        char enc[64];
        memset(enc, 'x', sizeof enc);
        size_t n = sl_base64_encode((const unsigned char *)c->raw, c->raw_len, enc);
        assert_int_equal(n, strlen(c->b64));
        assert_string_equal(enc, c->b64);

        /* Decode into a buffer of exactly the decoded size: ASan catches any byte written past
         * it (EVP_DecodeBlock alone writes the padding bytes too). */
        unsigned char *dec = sl_xmalloc(c->raw_len);
        long len = sl_base64_decode(c->b64, strlen(c->b64), dec);
        assert_int_equal(len, (long)c->raw_len);
        assert_memory_equal(dec, c->raw, c->raw_len);
        free(dec);
    }
}

static const char *const b64_invalid[] = {
    "A",        "AA",       "AAA",      "AAAAA", /* not a multiple of 4 */
    "AA=A",     "A===",     "====",     "=AAA",  /* padding in the wrong place */
    "AA==AA==", "Zg==Zg==", "Zm9v=AAA",          /* padding before the end */
    "Zm9v!AAA", "Zm9vYmF-", "Zm9vYmF_", "Zm 9",  /* not in the alphabet (url-safe too) */
    "Zm9v\n",   "\0AAA",    "AAA\x80",           /* control and high bytes */
};

static void test_base64_invalid(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof b64_invalid / sizeof b64_invalid[0]; i++) {
        const char *s = b64_invalid[i];
        size_t n = s[0] ? strlen(s) : 4;
        unsigned char out[16];
        long len = sl_base64_decode(s, n, out);
        if (len != -1) fail_msg("'%s' decoded to %ld bytes", s, len);
    }
}

static void test_base64_long_input_is_bounded(void **state) {
    (void)state;
    /* A 100-character Content-MD5 decodes to 75 bytes: exactly that many are written. */
    char in[101];
    memset(in, 'Q', 100);
    in[100] = 0;
    unsigned char *out = sl_xmalloc(75);
    assert_int_equal(sl_base64_decode(in, 100, out), 75);
    free(out);
}

typedef struct {
    const char *in;
    size_t n;
    const char *out;
} xml_esc_case;

static const xml_esc_case xml_esc_cases[] = {
    {"", 0, ""},
    {"plain text", 10, "plain text"},
    {"<a href=\"x\">&'</a>", 18, "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"},
    {"line\r\nbreak\ttab", 15, "line&#13;&#10;break&#9;tab"},
    {"\x01\x1F", 2, "&#1;&#31;"},
    {"nul\0x", 5, "nul&#0;x"},
    {"caf\xC3\xA9 \xE2\x82\xAC", 9, "caf\xC3\xA9 \xE2\x82\xAC"},
    {"]]>", 3, "]]&gt;"},
};

static void test_xml_escape(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof xml_esc_cases / sizeof xml_esc_cases[0]; i++) {
        const xml_esc_case *c = &xml_esc_cases[i];
        sl_buf b;
        sl_buf_init(&b);
        sl_buf_xml_escape(&b, c->in, c->n);
        assert_string_equal(b.data ? b.data : "", c->out);
        sl_buf_free(&b);
    }
}

static void test_hex(void **state) {
    (void)state;
    char out[2 * 8 + 1];
    memset(out, 'x', sizeof out);
    sl_hex_encode((const unsigned char *)"\x00\x01\x7F\x80\xAB\xCD\xEF\xFF", 8, out);
    assert_string_equal(out, "00017f80abcdefff");
    sl_hex_encode((const unsigned char *)"", 0, out);
    assert_string_equal(out, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buffer_growth),  cmocka_unit_test(test_printf),
        cmocka_unit_test(test_steal),          cmocka_unit_test(test_strings),
        cmocka_unit_test(test_uri_encode),     cmocka_unit_test(test_uri_decode),
        cmocka_unit_test(test_uri_round_trip), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_base64_invalid), cmocka_unit_test(test_base64_long_input_is_bounded),
        cmocka_unit_test(test_xml_escape),     cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
