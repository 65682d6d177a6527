/* Unit tests for core/config: listen addresses, the loopback rule for default credentials,
 * the config file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static void test_listen(void **state) {
    (void)state;
    static const struct {
        const char *in;
        int rc;
        const char *host;
        unsigned port;
    } cases[] = {
        {"127.0.0.1:4566", 0, "127.0.0.1", 4566},
        {"0.0.0.0:80", 0, "0.0.0.0", 80},
        {"[::1]:9000", 0, "::1", 9000},
        {":8080", 0, "127.0.0.1", 8080},
        {"127.0.0.1:0", 0, "127.0.0.1", 0},
        {"127.0.0.1", -1, NULL, 0},
        {"127.0.0.1:", -1, NULL, 0},
        {"127.0.0.1:65536", -1, NULL, 0},
        {"127.0.0.1:-1", -1, NULL, 0},
        {"[::1]9000", -1, NULL, 0},
        {"127.0.0.1:12ab", -1, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_config cfg;
        char err[256];
        sl_config_defaults(&cfg);
        int rc = sl_config_set_listen(&cfg, cases[i].in, err, sizeof err);
        if (rc != cases[i].rc) fail_msg("case %s: rc %d", cases[i].in, rc);
        if (rc == 0) {
            assert_string_equal(cfg.listen_host, cases[i].host);
            assert_int_equal(cfg.listen_port, cases[i].port);
        } else {
            assert_non_null(strstr(err, cases[i].in));
        }
        sl_config_free(&cfg);
    }
}

static void test_loopback_rule(void **state) {
    (void)state;
    assert_true(sl_config_is_loopback("127.0.0.1"));
    assert_true(sl_config_is_loopback("127.9.9.9"));
    assert_true(sl_config_is_loopback("::1"));
    assert_true(sl_config_is_loopback("localhost"));
    assert_false(sl_config_is_loopback("0.0.0.0"));
    assert_false(sl_config_is_loopback("10.0.0.1"));
    assert_false(sl_config_is_loopback("::"));

    sl_config cfg;
    char err[512];
    sl_config_defaults(&cfg);
    assert_int_equal(sl_config_set_listen(&cfg, "0.0.0.0:4566", err, sizeof err), 0);
    assert_int_equal(sl_config_validate(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "SLUICE_ACCESS_KEY_ID"));
    setenv("SLUICE_ACCESS_KEY_ID", "AKIDREAL", 1);
    setenv("SLUICE_SECRET_ACCESS_KEY", "secret", 1);
    sl_config_from_env(&cfg);
    assert_int_equal(sl_config_validate(&cfg, err, sizeof err), 0);
    assert_string_equal(cfg.access_key_id, "AKIDREAL");
    unsetenv("SLUICE_ACCESS_KEY_ID");
    unsetenv("SLUICE_SECRET_ACCESS_KEY");
    sl_config_free(&cfg);
}

static void test_file(void **state) {
    (void)state;
    char path[] = "/tmp/sluice-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"listen\": \"[::1]:7000\", \"region\": \"eu-west-1\", \"threads\": 8, \"inline_max\": "
          "0}",
          f);
    fclose(f);
    sl_config cfg;
    char err[256];
    sl_config_defaults(&cfg);
    assert_int_equal(sl_config_load_file(&cfg, path, err, sizeof err), 0);
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 7000);
    assert_string_equal(cfg.region, "eu-west-1");
    assert_int_equal(cfg.threads, 8);
    assert_int_equal(cfg.inline_max, 0);
    sl_config_free(&cfg);

    f = fopen(path, "w");
    fputs("{\"colour\": \"blue\"}", f);
    fclose(f);
    sl_config_defaults(&cfg);
    assert_int_equal(sl_config_load_file(&cfg, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "colour"));
    sl_config_free(&cfg);

    f = fopen(path, "w");
    fputs("{\"listen\": ", f);
    fclose(f);
    sl_config_defaults(&cfg);
    assert_int_equal(sl_config_load_file(&cfg, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "line"));
    sl_config_free(&cfg);
    remove(path);
}

static void test_smtp(void **state) {
    (void)state;
    char path[] = "/tmp/sluice-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"smtp_url\": \"smtp://mail:25\", \"smtp_from\": \"sns@here\"}", f);
    fclose(f);
    sl_config cfg;
    char err[256];
    sl_config_defaults(&cfg);
    assert_null(cfg.smtp_url);
    assert_string_equal(cfg.smtp_from, "no-reply@sns.sluice.local");
    assert_int_equal(sl_config_load_file(&cfg, path, err, sizeof err), 0);
    assert_string_equal(cfg.smtp_url, "smtp://mail:25");
    assert_string_equal(cfg.smtp_from, "sns@here");
    /* the environment wins over the file */
    setenv("SLUICE_SMTP_URL", "smtps://other:465", 1);
    setenv("SLUICE_SMTP_FROM", "env@here", 1);
    sl_config_from_env(&cfg);
    unsetenv("SLUICE_SMTP_URL");
    unsetenv("SLUICE_SMTP_FROM");
    assert_string_equal(cfg.smtp_url, "smtps://other:465");
    assert_string_equal(cfg.smtp_from, "env@here");
    sl_config_free(&cfg);
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_loopback_rule),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_smtp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
