/* schedule: rate() and cron() parsing and next-fire computation. A cron field becomes a bitset
 * of allowed values; the day fields keep their special forms (L, W, #) apart. The next time is
 * found day by day (at most ~5 years ahead), then hour and minute within the day. */
#include "events/schedule.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"

struct sl_schedule {
    int64_t period_ms; /* rate(); 0 for cron */
    uint64_t minutes;  /* bit m: minute m allowed */
    uint32_t hours;
    uint32_t months;            /* bits 1..12 */
    uint8_t dows;               /* bits 1..7, 1 = Sunday */
    uint32_t doms;              /* bits 1..31 */
    bool any_dom, any_dow;      /* the field is '?' (or '*' while the other is '?') */
    bool dom_last;              /* L */
    int dom_last_offset;        /* L-3 */
    int dom_weekday;            /* 15W -> 15; LW -> -1; 0 none */
    int dow_last;               /* 5L -> 5 */
    int dow_nth_day, dow_nth;   /* 3#2 */
    uint8_t years[230 / 8 + 1]; /* bit y-1970 for 1970..2199 */
    bool any_year;
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static int parse_value(const char *s, size_t n, int lo, int hi, const char *const *names,
                       int nnames) {
    if (names && n == 3) {
        for (int i = 0; i < nnames; i++)
            if (!strncasecmp(s, names[i], 3)) return i + 1;
    }
    if (!n || n > 4) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

/* Parses a list of values/ranges/steps into bits [lo, hi]. Returns false when invalid. */
static bool parse_set(const char *f, int lo, int hi, const char *const *names, int nnames,
                      uint8_t *bits) {
    const char *p = f;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (!n) return false;
        const char *slash = memchr(p, '/', n);
        size_t rn = slash ? (size_t)(slash - p) : n;
        int a, b, step = 1;
        if (rn == 1 && *p == '*') {
            a = lo, b = hi;
        } else {
            const char *dash = memchr(p, '-', rn);
            if (dash) {
                a = parse_value(p, (size_t)(dash - p), lo, hi, names, nnames);
                b = parse_value(dash + 1, rn - (size_t)(dash - p) - 1, lo, hi, names, nnames);
            } else {
                a = parse_value(p, rn, lo, hi, names, nnames);
                b = slash ? hi : a;
            }
        }
        if (slash) step = parse_value(slash + 1, n - rn - 1, 1, hi, NULL, 0);
        if (a < 0 || b < 0 || step < 1) return false;
        if (b < a) { /* a wrapping range, e.g. FRI-MON or 22-2 */
            int span = (hi - a + 1) + (b - lo + 1);
            for (int k = 0; k < span; k += step) {
                int v = a + k > hi ? lo + (a + k - hi - 1) : a + k;
                bits[v / 8] |= (uint8_t)(1u << (v % 8));
            }
        } else {
            for (int v = a; v <= b; v += step) bits[v / 8] |= (uint8_t)(1u << (v % 8));
        }
        p += n + (p[n] ? 1 : 0);
        if (p[-1] == ',' && !*p) return false;
    }
    return true;
}

static uint64_t bits64(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static sl_schedule *fail(sl_schedule *s, char *err, size_t errlen, const char *why) {
    snprintf(err, errlen, "Parameter ScheduleExpression is not valid. %s", why);
    free(s);
    return NULL;
}

sl_schedule *sl_schedule_parse(const char *expr, char *err, size_t errlen) {
    sl_schedule *s = sl_xcalloc(1, sizeof *s);
    size_t n = strlen(expr);
    if (n > 256) return fail(s, err, errlen, "It is too long.");
    if (!strncmp(expr, "rate(", 5) && n > 6 && expr[n - 1] == ')') {
        long value;
        char unit[16], extra;
        if (sscanf(expr + 5, "%ld %15[a-z]%c", &value, unit, &extra) != 3 || extra != ')' ||
            value < 1)
            return fail(s, err, errlen, "rate() needs a positive value and a unit.");
        static const struct {
            const char *one, *many;
            int64_t ms;
        } units[] = {
            {"minute", "minutes", 60000}, {"hour", "hours", 3600000}, {"day", "days", 86400000}};
        for (size_t i = 0; i < 3; i++)
            if ((value == 1 && !strcmp(unit, units[i].one)) ||
                (value > 1 && !strcmp(unit, units[i].many))) {
                s->period_ms = value * units[i].ms;
                return s;
            }
        return fail(s, err, errlen,
                    "The unit must be minute, minutes, hour, hours, day or days (singular for 1).");
    }
    if (strncmp(expr, "cron(", 5) != 0 || expr[n - 1] != ')')
        return fail(s, err, errlen, "Use rate(...) or cron(...).");
    char fields[6][64];
    int nf = 0;
    const char *p = expr + 5, *end = expr + n - 1;
    while (p < end && nf < 7) {
        while (p < end && *p == ' ') p++;
        if (p >= end) break;
        size_t len = 0;
        while (p + len < end && p[len] != ' ') len++;
        if (nf == 6 || len >= sizeof fields[0])
            return fail(s, err, errlen, "cron() takes six fields.");
        memcpy(fields[nf], p, len);
        fields[nf][len] = 0;
        nf++;
        p += len;
    }
    if (nf != 6)
        return fail(s, err, errlen,
                    "cron() takes six fields: minutes hours day-of-month month day-of-week year.");
    uint8_t b[32];
    memset(b, 0, sizeof b);
    if (!parse_set(fields[0], 0, 59, NULL, 0, b))
        return fail(s, err, errlen, "The minutes field is not valid.");
    s->minutes = bits64(b);
    memset(b, 0, sizeof b);
    if (!parse_set(fields[1], 0, 23, NULL, 0, b))
        return fail(s, err, errlen, "The hours field is not valid.");
    s->hours = (uint32_t)bits64(b);
    memset(b, 0, sizeof b);
    if (!parse_set(fields[3], 1, 12, month_names, 12, b))
        return fail(s, err, errlen, "The month field is not valid.");
    s->months = (uint32_t)bits64(b);
    bool dom_q = !strcmp(fields[2], "?"), dow_q = !strcmp(fields[4], "?");
    if (dom_q == dow_q)
        return fail(s, err, errlen, "One of day-of-month and day-of-week must be '?'.");
    if (dom_q) {
        s->any_dom = true;
        const char *f = fields[4];
        size_t fl = strlen(f);
        const char *hash = strchr(f, '#');
        if (hash) {
            s->dow_nth_day = parse_value(f, (size_t)(hash - f), 1, 7, day_names, 7);
            s->dow_nth = parse_value(hash + 1, strlen(hash + 1), 1, 5, NULL, 0);
            if (s->dow_nth_day < 0 || s->dow_nth < 0)
                return fail(s, err, errlen, "The day-of-week field is not valid.");
        } else if (fl >= 2 && f[fl - 1] == 'L') {
            s->dow_last = parse_value(f, fl - 1, 1, 7, day_names, 7);
            if (s->dow_last < 0) return fail(s, err, errlen, "The day-of-week field is not valid.");
        } else if (!strcmp(f, "L")) {
            s->dow_last = 7;
        } else {
            memset(b, 0, sizeof b);
            if (!parse_set(f, 1, 7, day_names, 7, b))
                return fail(s, err, errlen, "The day-of-week field is not valid.");
            s->dows = (uint8_t)bits64(b);
            if (!strcmp(f, "*")) s->any_dow = true;
        }
    } else {
        s->any_dow = true;
        const char *f = fields[2];
        size_t fl = strlen(f);
        if (!strcmp(f, "L")) {
            s->dom_last = true;
        } else if (!strncmp(f, "L-", 2)) {
            s->dom_last = true;
            s->dom_last_offset = parse_value(f + 2, fl - 2, 1, 30, NULL, 0);
            if (s->dom_last_offset < 0)
                return fail(s, err, errlen, "The day-of-month field is not valid.");
        } else if (!strcmp(f, "LW")) {
            s->dom_weekday = -1;
        } else if (fl >= 2 && f[fl - 1] == 'W') {
            s->dom_weekday = parse_value(f, fl - 1, 1, 31, NULL, 0);
            if (s->dom_weekday < 0)
                return fail(s, err, errlen, "The day-of-month field is not valid.");
        } else {
            memset(b, 0, sizeof b);
            if (!parse_set(f, 1, 31, NULL, 0, b))
                return fail(s, err, errlen, "The day-of-month field is not valid.");
            s->doms = (uint32_t)bits64(b);
            if (!strcmp(f, "*")) s->any_dom = true;
        }
    }
    memset(s->years, 0, sizeof s->years);
    if (!strcmp(fields[5], "*")) {
        s->any_year = true;
    } else {
        /* Years 1970..2199, stored shifted down by 1970. */
        uint8_t yb[(2199 / 8) + 1];
        memset(yb, 0, sizeof yb);
        if (!parse_set(fields[5], 1970, 2199, NULL, 0, yb))
            return fail(s, err, errlen, "The year field is not valid.");
        for (int y = 1970; y <= 2199; y++)
            if (yb[y / 8] & (1u << (y % 8)))
                s->years[(y - 1970) / 8] |= (uint8_t)(1u << ((y - 1970) % 8));
    }
    if (!s->minutes || !s->hours || !s->months)
        return fail(s, err, errlen, "A field allows no value.");
    return s;
}

void sl_schedule_free(sl_schedule *s) { free(s); }

static int days_in_month(int year, int month) {
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : d[month - 1];
}

/* 1 = Sunday ... 7 = Saturday */
static int weekday(int year, int month, int day) {
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_hour = 12};
    time_t t = timegm(&tm);
    struct tm out;
    gmtime_r(&t, &out);
    return out.tm_wday + 1;
}

static bool day_matches(const sl_schedule *s, int y, int m, int d) {
    if (!s->any_year && !(s->years[(y - 1970) / 8] & (1u << ((y - 1970) % 8)))) return false;
    if (!(s->months & (1u << m))) return false;
    int dim = days_in_month(y, m);
    int wd = weekday(y, m, d);
    if (!s->any_dom) {
        if (s->dom_last) return d == dim - s->dom_last_offset;
        if (s->dom_weekday) {
            int target = s->dom_weekday < 0 ? dim : (s->dom_weekday > dim ? dim : s->dom_weekday);
            int twd = weekday(y, m, target);
            int actual = target;
            if (twd == 7) actual = target == 1 ? 3 : target - 1;                 /* Saturday */
            else if (twd == 1) actual = target == dim ? target - 2 : target + 1; /* Sunday */
            return d == actual;
        }
        return (s->doms >> d) & 1u;
    }
    if (!s->any_dow || s->dow_last || s->dow_nth) {
        if (s->dow_nth) return wd == s->dow_nth_day && (d - 1) / 7 + 1 == s->dow_nth;
        if (s->dow_last) return wd == s->dow_last && d + 7 > dim;
        return (s->dows >> wd) & 1u;
    }
    return true;
}

int64_t sl_schedule_next(const sl_schedule *s, int64_t after_ms) {
    if (s->period_ms) return after_ms + s->period_ms;
    int64_t start = after_ms / 60000 * 60000 + 60000; /* the next whole minute */
    time_t t = (time_t)(start / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1, d = tm.tm_mday;
    int hour = tm.tm_hour, minute = tm.tm_min;
    for (int days = 0; days < 366 * 5 && y <= 2199; days++) {
        if (day_matches(s, y, m, d)) {
            for (int h = hour; h < 24; h++) {
                if (!((s->hours >> h) & 1u)) continue;
                for (int mi = (h == hour ? minute : 0); mi < 60; mi++) {
                    if ((s->minutes >> mi) & 1u) {
                        struct tm f = {.tm_year = y - 1900,
                                       .tm_mon = m - 1,
                                       .tm_mday = d,
                                       .tm_hour = h,
                                       .tm_min = mi};
                        return (int64_t)timegm(&f) * 1000;
                    }
                }
            }
        }
        hour = 0, minute = 0;
        if (++d > days_in_month(y, m)) {
            d = 1;
            if (++m > 12) m = 1, y++;
        }
    }
    return -1;
}
