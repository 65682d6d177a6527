/* Unit tests for events/oauth: parsing a token endpoint's answer (access_token, expires_in as a
 * number, a real or a quoted number, answers without a usable token, tokens a header cannot
 * carry) and when a kept token counts as fresh (60 s ahead of expiry, or half its life). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "events/events_internal.h"

#define NOW 1700000000000LL

static void parse_ok(const char *body, const char *token, int64_t expires_ms) {
    ev_oauth_token t;
    char err[160] = "";
    if (ev_oauth_parse_token(body, strlen(body), NOW, &t, err, sizeof err) != 0)
        fail_msg("rejected %s: %s", body, err);
    assert_string_equal(t.access_token, token);
    assert_int_equal(t.obtained_ms, NOW);
    if (t.expires_ms != expires_ms)
        fail_msg("%s: expires_ms %lld, want %lld", body, (long long)t.expires_ms,
                 (long long)expires_ms);
    ev_oauth_token_clear(&t);
    assert_null(t.access_token);
}

static void test_parse(void **state) {
    (void)state;
    parse_ok("{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":3600}", "abc",
             NOW + 3600000);
    parse_ok("{\"access_token\":\"abc\"}", "abc", 0);
    parse_ok("{\"access_token\":\"abc\",\"expires_in\":\"120\"}", "abc", NOW + 120000);
    parse_ok("{\"access_token\":\"abc\",\"expires_in\":2.5}", "abc", NOW + 2000);
    parse_ok("{\"access_token\":\"abc\",\"expires_in\":0}", "abc", 0);
    parse_ok("{\"access_token\":\"abc\",\"expires_in\":-5}", "abc", 0);
    parse_ok("{\"access_token\":\"abc\",\"expires_in\":\"soon\"}", "abc", 0);
    parse_ok("{\"access_token\":\"abc\",\"expires_in\":99999999999999}", "abc", 0);
    parse_ok("{\"access_token\":\"eyJ.a-b_c~+/=\",\"scope\":\"x y\"}", "eyJ.a-b_c~+/=", 0);
}

static void test_parse_rejects(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "\"abc\"",
        "{}",
        "{\"access_token\":\"\"}",
        "{\"access_token\":42}",
        "{\"access_token\":null}",
        "{\"error\":\"invalid_client\"}",
        "{\"access_token\":\"a\\r\\nX-Injected: 1\"}",
        "{\"access_token\":\"caf\\u00e9\"}",
        "{\"access_token\":\"a\\u0000b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ev_oauth_token t;
        char err[160] = "";
        if (ev_oauth_parse_token(bad[i], strlen(bad[i]), NOW, &t, err, sizeof err) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_null(t.access_token);
        assert_true(err[0] != 0);
    }
    /* A NULL body (an empty answer) is no token either. */
    ev_oauth_token t;
    char err[160];
    assert_int_equal(ev_oauth_parse_token(NULL, 0, NOW, &t, err, sizeof err), -1);
    /* Longer than 16 KiB is refused. */
    size_t n = 17000;
    char *big = malloc(n + 40);
    strcpy(big, "{\"access_token\":\"");
    memset(big + strlen(big), 'a', n);
    strcpy(big + 17 + n, "\"}");
    assert_int_equal(ev_oauth_parse_token(big, strlen(big), NOW, &t, err, sizeof err), -1);
    free(big);
}

static void test_fresh(void **state) {
    (void)state;
    ev_oauth_token t = {.access_token = "x", .obtained_ms = NOW, .expires_ms = NOW + 3600000};
    assert_true(ev_oauth_token_fresh(&t, NOW));
    assert_true(ev_oauth_token_fresh(&t, NOW + 3600000 - 60001));
    assert_false(ev_oauth_token_fresh(&t, NOW + 3600000 - 60000)); /* the 60 s window */
    /* A 4 s token is refreshed after half its life, not on every call. */
    t.expires_ms = NOW + 4000;
    assert_true(ev_oauth_token_fresh(&t, NOW + 1999));
    assert_false(ev_oauth_token_fresh(&t, NOW + 2000));
    /* No expires_in: kept until a 401 says otherwise. */
    t.expires_ms = 0;
    assert_true(ev_oauth_token_fresh(&t, NOW + 86400000LL * 365));
    t.access_token = NULL;
    assert_false(ev_oauth_token_fresh(&t, NOW));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
