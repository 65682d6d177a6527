/* Unit tests for events/schedule: rate() and cron() parsing and the next firing time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/ids.h"
#include "events/schedule.h"

static int64_t at(const char *iso) {
    int64_t ms = sl_time_parse(iso);
    assert_true(ms >= 0);
    return ms;
}

static void test_next_times(void **state) {
    (void)state;
    static const struct {
        const char *expr, *after, *want; /* want NULL: never */
    } cases[] = {
        {"rate(5 minutes)", "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"},
        {"rate(1 hour)", "2026-01-01T00:00:30Z", "2026-01-01T01:00:30Z"},
        {"rate(2 days)", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
        {"cron(0 12 * * ? *)", "2026-01-01T13:00:00Z", "2026-01-02T12:00:00Z"},
        {"cron(0 12 * * ? *)", "2026-01-01T11:59:59Z", "2026-01-01T12:00:00Z"},
        {"cron(0 12 * * ? *)", "2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z"}, /* strictly after */
        {"cron(0/15 * * * ? *)", "2026-01-01T12:07:00Z", "2026-01-01T12:15:00Z"},
        {"cron(5,35 14 * * ? *)", "2026-01-01T14:06:00Z", "2026-01-01T14:35:00Z"},
        {"cron(0 8 ? * MON-FRI *)", "2026-01-03T09:00:00Z", "2026-01-05T08:00:00Z"},
        {"cron(0 8 ? * FRI-MON *)", "2026-01-06T09:00:00Z", "2026-01-09T08:00:00Z"},
        {"cron(15 10 ? * 6L 2026)", "2026-01-01T00:00:00Z", "2026-01-30T10:15:00Z"},
        {"cron(0 0 L * ? *)", "2026-02-10T00:00:00Z", "2026-02-28T00:00:00Z"},
        {"cron(0 0 L-2 * ? *)", "2026-02-10T00:00:00Z", "2026-02-26T00:00:00Z"},
        {"cron(0 9 ? * 2#1 *)", "2026-02-02T10:00:00Z", "2026-03-02T09:00:00Z"},
        {"cron(0 0 15W * ? *)", "2026-08-01T00:00:00Z", "2026-08-14T00:00:00Z"},
        {"cron(0 0 LW * ? *)", "2026-02-01T00:00:00Z", "2026-02-27T00:00:00Z"},
        {"cron(0 10 1 JAN,JUL ? *)", "2026-02-01T00:00:00Z", "2026-07-01T10:00:00Z"},
        {"cron(0 22-2/2 * * ? *)", "2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z"},
        {"cron(0 10 29 2 ? *)", "2026-03-01T00:00:00Z", "2028-02-29T10:00:00Z"},
        {"cron(0 10 * * ? 2025)", "2026-01-01T00:00:00Z", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        sl_schedule *s = sl_schedule_parse(cases[i].expr, err, sizeof err);
        if (!s) fail_msg("%s: %s", cases[i].expr, err);
        int64_t next = sl_schedule_next(s, at(cases[i].after));
        int64_t want = cases[i].want ? at(cases[i].want) : -1;
        if (next != want) {
            char got[32] = "never";
            if (next >= 0) sl_time_iso8601_ms(next, got);
            fail_msg("%s after %s: got %s, want %s", cases[i].expr, cases[i].after, got,
                     cases[i].want ? cases[i].want : "never");
        }
        sl_schedule_free(s);
    }
}

static void test_invalid(void **state) {
    (void)state;
    static const char *const bad[] = {
        "rate(0 minutes)",
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(5 fortnights)",
        "rate(5)",
        "rate(-1 days)",
        "rate(5 minutes",
        "every day",
        "",
        "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(60 * * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 12 * * ?)",
        "cron(0 12 * * ? * *)",
        "cron(0 12 32 * ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 ? 13 ? *)",
        "cron(0 12 * * ? 2300)",
        "cron(0 12 ? * 2#6 *)",
        "cron(0 12 ? * FOO *)",
        "cron(0 12 1, * ? *)",
        "cron(0 12 ,1 * ? *)",
        "cron(*/0 12 * * ? *)",
        "cron(0 12 L-31 * ? *)",
        "cron(a b c d e f)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        sl_schedule *s = sl_schedule_parse(bad[i], err, sizeof err);
        if (s) fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(err, "ScheduleExpression is not valid"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_times),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
