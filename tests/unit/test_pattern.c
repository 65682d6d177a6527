/* test_pattern: EventBridge event patterns. The cases live in tests/unit/patterns/ as data:
 * match.txt (pattern, events it must and must not match), invalid.txt (pattern, AWS's reason),
 * events.txt (the S3, CloudTrail, CityLots and user-guide events they refer to). Every match case
 * runs through the direct evaluator (sl_pattern_match) and through the multi-rule machine, alone
 * and with every other case's pattern loaded at once; a seeded random generator then compares
 * the two engines on patterns and events no one wrote by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "core/buf.h"
#include "events/pattern.h"
#include "events/pattern_internal.h"

#define PREFIX "Event pattern is not valid. Reason: "

/* ---- data files ---- */

typedef struct {
    char *key, *value;
} entry;

typedef struct {
    entry *v;
    size_t n;
} entries;

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (tests run from tests/unit)", path);
    sl_buf b;
    sl_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&b, chunk, n);
    fclose(f);
    return sl_buf_steal(&b);
}

/* Lines "key: value" or "== name" / "event name"; lines starting with two spaces continue the
 * previous value; '#' lines and blank lines separate nothing and are skipped. */
static entries read_entries(const char *path) {
    char *text = slurp(path);
    entries out = {0};
    size_t cap = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        if (line[0] == ' ' && line[1] == ' ') {
            assert_true(out.n > 0);
            entry *e = &out.v[out.n - 1];
            size_t old = strlen(e->value);
            e->value = realloc(e->value, old + strlen(line) + 2);
            if (old) e->value[old++] = '\n';
            strcpy(e->value + old, line + 2);
            continue;
        }
        const char *sep = NULL;
        char *key, *value;
        if (!strncmp(line, "== ", 3)) {
            key = strdup("==");
            value = strdup(line + 3);
        } else if (!strncmp(line, "event ", 6)) {
            key = strdup("event");
            value = strdup(line + 6);
        } else if ((sep = strchr(line, ':'))) {
            key = strndup(line, (size_t)(sep - line));
            value = strdup(sep[1] == ' ' ? sep + 2 : sep + 1);
        } else {
            bool blank = true;
            for (const char *c = line; *c; c++) blank &= *c == ' ' || *c == '\r';
            if (blank) continue;
            fail_msg("%s: cannot read line: %s", path, line);
            return out;
        }
        if (out.n == cap) {
            cap = cap ? cap * 2 : 64;
            out.v = realloc(out.v, cap * sizeof *out.v);
        }
        out.v[out.n++] = (entry){key, value};
    }
    free(text);
    return out;
}

static void free_entries(entries *es) {
    for (size_t i = 0; i < es->n; i++) free(es->v[i].key), free(es->v[i].value);
    free(es->v);
}

typedef struct {
    char *name;
    json_t *event;
} named_event;

static named_event *events;
static size_t nevents;

static void load_events(void) {
    if (events) return;
    entries es = read_entries("patterns/events.txt");
    events = calloc(es.n, sizeof *events);
    for (size_t i = 0; i < es.n; i++) {
        assert_string_equal(es.v[i].key, "event");
        char *nl = strchr(es.v[i].value, '\n');
        assert_non_null(nl);
        json_error_t err;
        json_t *j = json_loads(nl + 1, 0, &err);
        if (!j) fail_msg("event %.*s: %s", (int)(nl - es.v[i].value), es.v[i].value, err.text);
        events[nevents].name = strndup(es.v[i].value, (size_t)(nl - es.v[i].value));
        events[nevents].event = j;
        nevents++;
    }
    free_entries(&es);
}

static json_t *event_from(const char *text) {
    if (text[0] == '@') {
        load_events();
        for (size_t i = 0; i < nevents; i++)
            if (!strcmp(events[i].name, text + 1)) return json_incref(events[i].event);
        fail_msg("no event named %s", text);
    }
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
    /* integers beyond 64 bits: jansson reads them only as reals, as the _text APIs do */
    if (!j) j = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
    if (!j) fail_msg("bad event JSON %s: %s", text, err.text);
    return j;
}

/* ---- match cases ---- */

typedef struct {
    const char *name;
    const char *pattern;
    json_t **events;
    bool *expect;
    size_t n;
} mcase;

static mcase *mcases;
static size_t nmcases;
static entries match_file;

static void load_match_cases(void) {
    if (mcases) return;
    match_file = read_entries("patterns/match.txt");
    mcases = calloc(match_file.n, sizeof *mcases);
    mcase *c = NULL;
    for (size_t i = 0; i < match_file.n; i++) {
        entry *e = &match_file.v[i];
        if (!strcmp(e->key, "==")) {
            c = &mcases[nmcases++];
            c->name = e->value;
        } else if (!strcmp(e->key, "pattern")) {
            c->pattern = e->value;
        } else if (!strcmp(e->key, "match") || !strcmp(e->key, "nomatch")) {
            c->events = realloc(c->events, (c->n + 1) * sizeof *c->events);
            c->expect = realloc(c->expect, (c->n + 1) * sizeof *c->expect);
            c->events[c->n] = event_from(e->value);
            c->expect[c->n] = !strcmp(e->key, "match");
            c->n++;
        } else {
            fail_msg("match.txt: unknown key %s", e->key);
        }
    }
}

typedef struct {
    char **ids;
    size_t n;
} idset;

static void collect(void *ctx, const char *id) {
    idset *s = ctx;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->ids[i], id)) fail_msg("rule %s reported twice", id);
    s->ids = realloc(s->ids, (s->n + 1) * sizeof *s->ids);
    s->ids[s->n++] = strdup(id);
}

static bool idset_has(const idset *s, const char *id) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->ids[i], id)) return true;
    return false;
}

static void idset_free(idset *s) {
    for (size_t i = 0; i < s->n; i++) free(s->ids[i]);
    free(s->ids);
    s->ids = NULL;
    s->n = 0;
}

static void test_match_cases(void **state) {
    load_match_cases();
    size_t checks = 0;
    for (size_t i = 0; i < nmcases; i++) {
        mcase *c = &mcases[i];
        char err[2048];
        sl_pattern *p = sl_pattern_compile(c->pattern, strlen(c->pattern), err, sizeof err);
        if (!p) fail_msg("case \"%s\": pattern rejected: %s", c->name, err);
        sl_matcher *m = sl_matcher_new();
        assert_int_equal(sl_matcher_add(m, "only", c->pattern, strlen(c->pattern), err, sizeof err),
                         0);
        assert_true(c->n > 0);
        for (size_t k = 0; k < c->n; k++) {
            bool got = sl_pattern_match(p, c->events[k]);
            if (got != c->expect[k]) {
                char *ev = json_dumps(c->events[k], JSON_COMPACT);
                fail_msg("case \"%s\": event %s: expected %s, evaluator says %s", c->name, ev,
                         c->expect[k] ? "match" : "no match", got ? "match" : "no match");
            }
            idset s = {0};
            size_t n = sl_matcher_match(m, c->events[k], collect, &s);
            if ((n == 1) != c->expect[k]) {
                char *ev = json_dumps(c->events[k], JSON_COMPACT);
                fail_msg("case \"%s\": event %s: expected %s, machine says %s", c->name, ev,
                         c->expect[k] ? "match" : "no match", n ? "match" : "no match");
            }
            assert_int_equal(n, s.n);
            idset_free(&s);
            checks += 2;
        }
        sl_matcher_free(m);
        sl_pattern_free(p);
    }
    print_message("%zu match cases, %zu checks\n", nmcases, checks);
    assert_true(nmcases >= 150);
}

/* Every case's pattern in one machine; every event seen anywhere must get exactly the rules the
 * evaluator says it matches. */
static void test_machine_agrees_on_all_cases(void **state) {
    load_match_cases();
    load_events();
    sl_pattern **pats = calloc(nmcases, sizeof *pats);
    sl_matcher *m = sl_matcher_new();
    for (size_t i = 0; i < nmcases; i++) {
        char id[32], err[1024];
        snprintf(id, sizeof id, "case-%zu", i);
        pats[i] = sl_pattern_compile(mcases[i].pattern, strlen(mcases[i].pattern), err, sizeof err);
        assert_non_null(pats[i]);
        sl_matcher_add_compiled(m, id, pats[i]);
    }
    assert_int_equal(sl_matcher_rule_count(m), nmcases);
    size_t checked = 0, matched = 0;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < nmcases + nevents; i++) {
            size_t nev = i < nmcases ? mcases[i].n : 1;
            for (size_t k = 0; k < nev; k++) {
                json_t *ev = i < nmcases ? mcases[i].events[k] : events[i - nmcases].event;
                idset s = {0};
                sl_matcher_match(m, ev, collect, &s);
                if (json_is_object(ev)) {
                    char *t = json_dumps(ev, JSON_COMPACT);
                    long nt = sl_matcher_match_text(m, t, strlen(t), NULL, NULL);
                    if (nt != (long)s.n) fail_msg("text path %ld, tree path %zu on %s", nt, s.n, t);
                    free(t);
                }
                for (size_t r = 0; r < nmcases; r++) {
                    char id[32];
                    snprintf(id, sizeof id, "case-%zu", r);
                    bool want = pats[r] && sl_pattern_match(pats[r], ev);
                    if (want != idset_has(&s, id)) {
                        char *t = json_dumps(ev, JSON_COMPACT);
                        fail_msg("round %d: case \"%s\" on %s: evaluator %d, machine %d", round,
                                 mcases[r].name, t, want, !want);
                    }
                    matched += want;
                }
                checked++;
                idset_free(&s);
            }
        }
        /* second round: without every other rule, to exercise removal */
        for (size_t i = 0; round == 0 && i < nmcases; i += 2) {
            char id[32];
            snprintf(id, sizeof id, "case-%zu", i);
            assert_int_equal(sl_matcher_remove(m, id), 0);
            sl_pattern_free(pats[i]);
            pats[i] = NULL;
        }
    }
    print_message("%zu events against %zu rules, %zu matches\n", checked, nmcases, matched);
    for (size_t i = 0; i < nmcases; i++) sl_pattern_free(pats[i]);
    free(pats);
    sl_matcher_free(m);
}

/* ---- invalid patterns ---- */

static void test_invalid_cases(void **state) {
    entries es = read_entries("patterns/invalid.txt");
    size_t ncases = 0;
    for (size_t i = 0; i < es.n;) {
        assert_string_equal(es.v[i].key, "==");
        const char *name = es.v[i].value;
        i++;
        const char *pattern = NULL, *error = NULL, *at = NULL;
        for (; i < es.n && strcmp(es.v[i].key, "=="); i++) {
            if (!strcmp(es.v[i].key, "pattern")) pattern = es.v[i].value;
            else if (!strcmp(es.v[i].key, "pattern-empty")) pattern = "";
            else if (!strcmp(es.v[i].key, "error")) error = es.v[i].value;
            else if (!strcmp(es.v[i].key, "at")) at = es.v[i].value;
            else fail_msg("invalid.txt: unknown key %s", es.v[i].key);
        }
        assert_non_null(pattern);
        assert_non_null(error);
        char err[4096];
        sl_pattern *p = sl_pattern_compile(pattern, strlen(pattern), err, sizeof err);
        if (p) fail_msg("case \"%s\": accepted", name);
        char want[2048];
        snprintf(want, sizeof want, PREFIX "%s", error);
        if (at && !strcmp(at, "none")) {
            if (strcmp(err, want)) fail_msg("case \"%s\":\n got  %s\n want %s", name, err, want);
        } else {
            size_t wl = strlen(want);
            if (strncmp(err, want, wl) || strncmp(err + wl, "\n at [Source: (String)\"", 23))
                fail_msg("case \"%s\":\n got  %s\n want %s\\n at [Source: ...", name, err, want);
            if (at) {
                char tail[64];
                unsigned line, col;
                assert_int_equal(sscanf(at, "%u:%u", &line, &col), 2);
                snprintf(tail, sizeof tail, "; line: %u, column: %u]", line, col);
                size_t el = strlen(err), tl = strlen(tail);
                if (el < tl || strcmp(err + el - tl, tail))
                    fail_msg("case \"%s\": location: got %s want %s", name, err, tail);
            }
        }
        /* the machine refuses it the same way and stays empty */
        sl_matcher *m = sl_matcher_new();
        char err2[4096];
        assert_int_equal(sl_matcher_add(m, "r", pattern, strlen(pattern), err2, sizeof err2), -1);
        assert_string_equal(err, err2);
        assert_int_equal(sl_matcher_rule_count(m), 0);
        sl_matcher_free(m);
        ncases++;
    }
    print_message("%zu invalid patterns\n", ncases);
    assert_true(ncases >= 100);
    free_entries(&es);
}

static void test_error_message_shape(void **state) {
    char err[4096];
    const char *p = "{\n  \"source\": [\"aws.s3\"],\n  \"detail\": {\"key\": \"x\"}\n}";
    assert_null(sl_pattern_compile(p, strlen(p), err, sizeof err));
    assert_string_equal(err, PREFIX
                        "\"key\" must be an object or an array\n at [Source: (String)\""
                        "{\n  \"source\": [\"aws.s3\"],\n  \"detail\": {\"key\": \"x\"}\n}\"; "
                        "line: 3, column: 24]");
    /* long patterns are quoted up to 500 characters, as Jackson does */
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "{\"a\": [");
    for (int i = 0; i < 200; i++) sl_buf_printf(&b, "\"v%03d\", ", i);
    sl_buf_puts(&b, "[1]]}");
    assert_null(sl_pattern_compile(b.data, b.len, err, sizeof err));
    assert_non_null(strstr(err, "Match value must be String, number, true, false, or null"));
    assert_non_null(strstr(err, "\"[truncated "));
    /* a short buffer is truncated, never overrun */
    char tiny[16];
    assert_null(sl_pattern_compile("{}", 2, tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_null(sl_pattern_compile("{}", 2, NULL, 0));
    sl_buf_free(&b);
}

static void test_limits(void **state) {
    char err[1024];
    /* 4096 characters, counted as characters: multi-byte ones count once */
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "{\"a\": [\"");
    while (b.len < 4096 - 3) sl_buf_puts(&b, "x");
    sl_buf_puts(&b, "\"]}");
    assert_int_equal(b.len, 4096);
    sl_pattern *p = sl_pattern_compile(b.data, b.len, err, sizeof err);
    assert_non_null(p);
    sl_pattern_free(p);
    sl_buf_reset(&b);
    sl_buf_puts(&b, "{\"a\": [\"");
    for (int i = 0; i < 2000; i++) sl_buf_puts(&b, "\xC3\xA9"); /* é: 2 bytes, 1 char */
    sl_buf_puts(&b, "\"]}");
    p = sl_pattern_compile(b.data, b.len, err, sizeof err);
    assert_non_null(p);
    sl_pattern_free(p);
    sl_buf_reset(&b);
    sl_buf_puts(&b, "{\"a\": [\"");
    while (b.len < 4097 - 3) sl_buf_puts(&b, "x");
    sl_buf_puts(&b, "\"]}");
    assert_null(sl_pattern_compile(b.data, b.len, err, sizeof err));
    assert_string_equal(err, PREFIX "Event pattern is longer than 4096 characters");
    /* nesting */
    for (int depth = SL_PATTERN_MAX_DEPTH - 1; depth <= SL_PATTERN_MAX_DEPTH + 1; depth++) {
        sl_buf_reset(&b);
        for (int i = 0; i < depth; i++) sl_buf_puts(&b, "{\"k\":");
        sl_buf_puts(&b, "[1]");
        for (int i = 0; i < depth; i++) sl_buf_puts(&b, "}");
        p = sl_pattern_compile(b.data, b.len, err, sizeof err);
        if (depth + 1 <= SL_PATTERN_MAX_DEPTH) {
            assert_non_null(p);
        } else {
            assert_null(p);
            assert_non_null(strstr(err, "nesting depth"));
        }
        sl_pattern_free(p);
    }
    /* $or expansion counts branches */
    const char *two =
        "{\"$or\":[{\"a\":[1]},{\"b\":[1]}],\"c\":{\"$or\":[{\"a\":[1]},{\"b\":[1]},{\"d\":[1]}]}}";
    p = sl_pattern_compile(two, strlen(two), err, sizeof err);
    assert_non_null(p);
    assert_int_equal(sl_pattern_branch_count(p), 6);
    sl_pattern_free(p);
    sl_buf_free(&b);
}

/* ---- value helpers ---- */

static void test_numbers(void **state) {
    static const struct {
        const char *text;
        int rc;
        int64_t micro;
    } cases[] = {
        {"0", 0, 0},
        {"-0", 0, 0},
        {"1", 0, 1000000},
        {"300", 0, 300000000},
        {"3.0e2", 0, 300000000},
        {"3e2", 0, 300000000},
        {"0.1", 0, 100000},
        {"1e-6", 0, 1},
        {"0.000001", 0, 1},
        {"1e-7", 1, 0},
        {"0.0000001", 1, 0},
        {"1.10000000", 0, 1100000},
        {"5e9", 0, 5000000000000000},
        {"-5e9", 0, -5000000000000000},
        {"5000000000.000001", 2, 0},
        {"6e9", 2, 0},
        {"123456789012", 2, 0},
        {"1e400", 2, 0},
        {"1e-400", 1, 0},
        {"0e10", 0, 0},
        {"301.8", 0, 301800000},
        {"3.018e2", 0, 301800000},
        {"-2.5", 0, -2500000},
        {"4999999999.999999", 0, 4999999999999999},
        {"0.00000000000000000000001e22", 0, 100000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t micro = -1;
        int rc = sl_number_micro(cases[i].text, strlen(cases[i].text), &micro);
        if (rc != cases[i].rc || (rc == 0 && micro != cases[i].micro))
            fail_msg("%s: rc %d micro %lld", cases[i].text, rc, (long long)micro);
    }
    sl_pv v;
    sl_pv_set_real(&v, 301.8);
    assert_true(v.comparable);
    assert_int_equal(v.micro, 301800000);
    sl_pv_set_real(&v, 0.1 + 0.2);
    assert_int_equal(v.micro, 300000);
    sl_pv_set_real(&v, 5e9 + 1);
    assert_false(v.comparable);
    sl_pv_set_int(&v, 5000000000LL);
    assert_true(v.comparable);
    sl_pv_set_int(&v, 5000000001LL);
    assert_false(v.comparable);
}

static void test_ip_literals(void **state) {
    static const struct {
        const char *text;
        int len;
        const char *hex;
    } cases[] = {
        {"10.0.0.1", 4, "0a000001"},
        {"255.255.255.255", 4, "ffffffff"},
        {"0.0.0.0", 4, "00000000"},
        {"256.0.0.1", 0, ""},
        {"010.0.0.1", 0, ""},
        {"1.2.3", 0, ""},
        {"1.2.3.4.5", 0, ""},
        {"::", 16, "00000000000000000000000000000000"},
        {"::1", 16, "00000000000000000000000000000001"},
        {"2001:db8::7", 16, "20010db8000000000000000000000007"},
        {"2001:DB8:0:0:0:0:0:7", 16, "20010db8000000000000000000000007"},
        {"fe80::", 16, "fe800000000000000000000000000000"},
        {"1:2:3:4:5:6:7:8", 16, "00010002000300040005000600070008"},
        {"1:2:3:4:5:6:7::", 16, "00010002000300040005000600070000"},
        {"::ffff:a00:1", 4, "0a000001"},
        {"1::2::3", 0, ""},
        {"1:2:3:4:5:6:7:8:9", 0, ""},
        {":1::", 0, ""},
        {"1:", 0, ""},
        {"12345::", 0, ""},
        {"::ffff:1.2.3.4", 0, ""},
        {"example.com", 0, ""},
        {"", 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char ip[16];
        int n = sl_ip_parse(cases[i].text, strlen(cases[i].text), ip);
        char hex[33] = "";
        for (int k = 0; k < n; k++) snprintf(hex + 2 * k, 3, "%02x", ip[k]);
        if (n != cases[i].len || strcmp(hex, cases[i].hex))
            fail_msg("%s: got %d %s", cases[i].text, n, hex);
    }
}

static void test_wildcards(void **state) {
    static const struct {
        const char *glob, *value;
        bool match;
    } cases[] = {
        {"*", "", true},           {"*", "abc", true},        {"a*", "a", true},
        {"a*", "ba", false},       {"*a", "ba", true},        {"*a", "ab", false},
        {"a*b", "ab", true},       {"a*b", "axxb", true},     {"a*b", "axxbc", false},
        {"a*b*c", "abc", true},    {"a*b*c", "acbc", true},   {"a*b*c", "acb", false},
        {"*ab*ab*", "abab", true}, {"*ab*ab*", "aba", false}, {"a\\*", "a*", true},
        {"a\\*", "ab", false},     {"a\\\\*", "a\\b", true},  {"", "", true},
        {"", "a", false},          {"*aa*aa", "aaa", false},  {"*aa*aa", "aaaa", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sl_glob g;
        char buf[96];
        assert_null(sl_glob_parse(cases[i].glob, strlen(cases[i].glob), &g, buf, sizeof buf));
        bool got = sl_glob_match(&g, cases[i].value, strlen(cases[i].value));
        if (got != cases[i].match) fail_msg("%s ~ %s: %d", cases[i].glob, cases[i].value, got);
        sl_glob_free(&g);
    }
}

static void test_case_folding(void **state) {
    const char *in = "AbC-ÀÉÞ×ÿŸĀāĹĺΑΩΆΌЖЯЁё日本";
    char out[64];
    size_t n = strlen(in);
    sl_fold(in, n, out);
    out[n] = 0;
    assert_string_equal(out, "abc-àéþ×ÿÿāāĺĺαωάόжяёё日本");
}

/* ---- machine API ---- */

static void test_machine_api(void **state) {
    sl_matcher *m = sl_matcher_new();
    char err[512];
    const char *a = "{\"source\": [\"aws.s3\"]}";
    const char *b = "{\"source\": [\"aws.ec2\"]}";
    assert_int_equal(sl_matcher_add(m, "one", a, strlen(a), err, sizeof err), 0);
    assert_int_equal(sl_matcher_add(m, "two", a, strlen(a), err, sizeof err), 0);
    assert_int_equal(sl_matcher_rule_count(m), 2);
    const char *ev = "{\"source\": \"aws.s3\"}";
    assert_int_equal(sl_matcher_match_text(m, ev, strlen(ev), NULL, NULL), 2);
    /* adding under an existing id replaces its pattern, as PutRule does */
    assert_int_equal(sl_matcher_add(m, "two", b, strlen(b), err, sizeof err), 0);
    assert_int_equal(sl_matcher_rule_count(m), 2);
    idset s = {0};
    assert_int_equal(sl_matcher_match_text(m, ev, strlen(ev), collect, &s), 1);
    assert_true(idset_has(&s, "one"));
    idset_free(&s);
    /* an invalid pattern leaves the old one in place */
    assert_int_equal(sl_matcher_add(m, "one", "{", 1, err, sizeof err), -1);
    assert_int_equal(sl_matcher_match_text(m, ev, strlen(ev), NULL, NULL), 1);
    assert_int_equal(sl_matcher_remove(m, "one"), 0);
    assert_int_equal(sl_matcher_remove(m, "one"), -1);
    assert_int_equal(sl_matcher_remove(m, "nope"), -1);
    assert_int_equal(sl_matcher_match_text(m, ev, strlen(ev), NULL, NULL), 0);
    /* text that is not an object */
    assert_int_equal(sl_matcher_match_text(m, "[1]", 3, NULL, NULL), -1);
    assert_int_equal(sl_matcher_match_text(m, "{", 1, NULL, NULL), -1);
    /* non-object events have no fields */
    const char *absent = "{\"x\": [{\"exists\": false}]}";
    assert_int_equal(sl_matcher_add(m, "absent", absent, strlen(absent), err, sizeof err), 0);
    json_t *arr = json_array();
    assert_int_equal(sl_matcher_match(m, arr, NULL, NULL), 1);
    assert_int_equal(sl_matcher_match(m, NULL, NULL, NULL), 1);
    sl_pattern *p = sl_pattern_compile(absent, strlen(absent), err, sizeof err);
    assert_true(sl_pattern_match(p, arr));
    assert_true(sl_pattern_match(p, NULL));
    assert_true(sl_pattern_match_text(p, "{}", 2));
    assert_false(sl_pattern_match_text(p, "{", 1));
    sl_pattern_free(p);
    json_decref(arr);
    /* a rule id is reported once even when several branches match */
    const char *ors = "{\"$or\": [{\"a\": [1]}, {\"b\": [1]}, {\"c\": [{\"exists\": false}]}]}";
    assert_int_equal(sl_matcher_add(m, "ors", ors, strlen(ors), err, sizeof err), 0);
    s = (idset){0};
    const char *both = "{\"a\": 1, \"b\": 1}";
    assert_int_equal(sl_matcher_match_text(m, both, strlen(both), collect, &s), 2);
    idset_free(&s);
    sl_matcher_free(m);
    sl_matcher_free(NULL);
    sl_pattern_free(NULL);
}

/* Many wildcards on one field: the machine finds them through an index (by head, tail or inner
 * piece) once there are enough of them; it must still agree with trying each one. */
static void test_many_wildcards(void **state) {
    sl_matcher *m = sl_matcher_new();
    enum {
        N = 60
    };
    sl_pattern *pats[N];
    char err[512];
    for (int i = 0; i < N; i++) {
        char pat[160], id[16];
        static const char *const shapes[] = {"*/%d/*", "%d/*", "*.%d", "*-%d-*-%d*", "*%d*"};
        char glob[64];
        snprintf(glob, sizeof glob, shapes[i % 5], i, i % 7);
        snprintf(pat, sizeof pat, "{\"k\": [{\"wildcard\": \"%s\"}]}", glob);
        snprintf(id, sizeof id, "w%d", i);
        pats[i] = sl_pattern_compile(pat, strlen(pat), err, sizeof err);
        assert_non_null(pats[i]);
        assert_int_equal(sl_matcher_add(m, id, pat, strlen(pat), err, sizeof err), 0);
    }
    static const char *const values[] = {"a/5/b",
                                         "5/x",
                                         "x.15",
                                         "q-23-r-2s",
                                         "12",
                                         "/7/7/7/",
                                         "-34-x-6",
                                         "",
                                         "x",
                                         "45/45/45",
                                         "a/10/b/20/c",
                                         "file.55",
                                         "no digits here",
                                         "-3--3-",
                                         "1/2/3/4/5/6/7/8/9/10/11/12/13"};
    size_t hits = 0;
    for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
        char ev[128];
        snprintf(ev, sizeof ev, "{\"k\": \"%s\"}", values[v]);
        json_t *j = json_loads(ev, 0, NULL);
        idset s = {0};
        sl_matcher_match(m, j, collect, &s);
        for (int i = 0; i < N; i++) {
            char id[16];
            snprintf(id, sizeof id, "w%d", i);
            bool want = sl_pattern_match(pats[i], j);
            if (want != idset_has(&s, id)) fail_msg("%s on %s: evaluator %d", id, ev, want);
            hits += want;
        }
        idset_free(&s);
        json_decref(j);
    }
    print_message("%zu wildcard matches\n", hits);
    assert_true(hits > 5);
    for (int i = 0; i < N; i++) sl_pattern_free(pats[i]);
    sl_matcher_free(m);
}

/* ---- random differential ---- */

typedef struct {
    uint64_t s;
} rng;

static uint32_t rnd(rng *r, uint32_t n) {
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((r->s >> 33) % n);
}

static const char *const KEYS[] = {"a", "b", "c"};
static const char *const STRS[] = {"\"x\"",        "\"xy\"",  "\"X\"",   "\"yx\"", "\"\"",
                                   "\"10.0.0.1\"", "\"::1\"", "\"a*b\"", "\"ÀB\""};
static const char *const NUMS[] = {"0",  "1",   "1.5", "300",          "3e2",
                                   "-2", "5e9", "6e9", "123456789012", "0.0000004"};

static void gen_scalar(rng *r, sl_buf *b) {
    switch (rnd(r, 4)) {
    case 0:
    case 1: sl_buf_puts(b, STRS[rnd(r, sizeof STRS / sizeof *STRS)]); break;
    case 2: sl_buf_puts(b, NUMS[rnd(r, sizeof NUMS / sizeof *NUMS)]); break;
    default: sl_buf_puts(b, (const char *[]){"true", "false", "null"}[rnd(r, 3)]); break;
    }
}

static void gen_event_value(rng *r, sl_buf *b, int depth);

static void gen_event_object(rng *r, sl_buf *b, int depth) {
    sl_buf_putc(b, '{');
    bool first = true;
    for (size_t k = 0; k < 3; k++) {
        if (rnd(r, 3) == 0) continue;
        if (!first) sl_buf_putc(b, ',');
        first = false;
        sl_buf_printf(b, "\"%s\":", KEYS[k]);
        gen_event_value(r, b, depth + 1);
    }
    sl_buf_putc(b, '}');
}

static void gen_event_value(rng *r, sl_buf *b, int depth) {
    uint32_t kind = rnd(r, depth >= 3 ? 2 : 5);
    if (kind <= 1) {
        gen_scalar(r, b);
    } else if (kind == 2) {
        gen_event_object(r, b, depth);
    } else {
        sl_buf_putc(b, '[');
        uint32_t n = rnd(r, 4);
        for (uint32_t i = 0; i < n; i++) {
            if (i) sl_buf_putc(b, ',');
            if (kind == 3 && rnd(r, 3)) gen_event_object(r, b, depth + 1);
            else if (rnd(r, 5) == 0) gen_event_value(r, b, depth + 1);
            else gen_scalar(r, b);
        }
        sl_buf_putc(b, ']');
    }
}

static void gen_alternative(rng *r, sl_buf *b) {
    static const char *const ops[] = {"{\"prefix\":\"x\"}",
                                      "{\"prefix\":\"\"}",
                                      "{\"suffix\":\"y\"}",
                                      "{\"prefix\":{\"equals-ignore-case\":\"X\"}}",
                                      "{\"suffix\":{\"equals-ignore-case\":\"Y\"}}",
                                      "{\"equals-ignore-case\":\"x\"}",
                                      "{\"equals-ignore-case\":\"àb\"}",
                                      "{\"wildcard\":\"*y\"}",
                                      "{\"wildcard\":\"x*\"}",
                                      "{\"wildcard\":\"*x*\"}",
                                      "{\"wildcard\":\"*y*\"}",
                                      "{\"wildcard\":\"*xy*\"}",
                                      "{\"wildcard\":\"*y*x*\"}",
                                      "{\"wildcard\":\"*a\\\\*b*\"}",
                                      "{\"wildcard\":\"a\\\\*b\"}",
                                      "{\"anything-but\":\"x\"}",
                                      "{\"anything-but\":[1,300]}",
                                      "{\"anything-but\":{\"prefix\":\"x\"}}",
                                      "{\"anything-but\":{\"suffix\":[\"y\",\"x\"]}}",
                                      "{\"anything-but\":{\"equals-ignore-case\":\"X\"}}",
                                      "{\"anything-but\":{\"wildcard\":\"*\"}}",
                                      "{\"numeric\":[\">\",0]}",
                                      "{\"numeric\":[\">=\",1,\"<\",300]}",
                                      "{\"numeric\":[\"=\",300]}",
                                      "{\"numeric\":[\"<=\",-2]}",
                                      "{\"cidr\":\"10.0.0.0/24\"}",
                                      "{\"cidr\":\"::/1\"}",
                                      "{\"exists\":true}",
                                      "{\"exists\":false}",
                                      "{\"exactly\":\"x\"}"};
    if (rnd(r, 2)) gen_scalar(r, b);
    else sl_buf_puts(b, ops[rnd(r, sizeof ops / sizeof *ops)]);
}

static void gen_pattern_object(rng *r, sl_buf *b, int depth) {
    sl_buf_putc(b, '{');
    uint32_t n = 1 + rnd(r, 3);
    bool used[3] = {false, false, false};
    bool first = true;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = rnd(r, 3);
        if (used[k]) continue;
        used[k] = true;
        if (!first) sl_buf_putc(b, ',');
        first = false;
        if (depth < 2 && rnd(r, 8) == 0) {
            sl_buf_puts(b, "\"$or\":[");
            uint32_t m = 2 + rnd(r, 2);
            for (uint32_t j = 0; j < m; j++) {
                if (j) sl_buf_putc(b, ',');
                gen_pattern_object(r, b, depth + 1);
            }
            sl_buf_putc(b, ']');
            continue;
        }
        sl_buf_printf(b, "\"%s\":", KEYS[k]);
        if (depth < 3 && rnd(r, 3) == 0) {
            gen_pattern_object(r, b, depth + 1);
        } else {
            sl_buf_putc(b, '[');
            uint32_t m = 1 + rnd(r, 3);
            for (uint32_t j = 0; j < m; j++) {
                if (j) sl_buf_putc(b, ',');
                gen_alternative(r, b);
            }
            sl_buf_putc(b, ']');
        }
    }
    sl_buf_putc(b, '}');
}

static void test_random_differential(void **state) {
    rng r = {20240601};
    enum {
        NPAT = 400,
        NEV = 1500
    };
    sl_pattern **pats = calloc(NPAT, sizeof *pats);
    char **texts = calloc(NPAT, sizeof *texts);
    sl_matcher *m = sl_matcher_new();
    size_t valid = 0;
    sl_buf b;
    sl_buf_init(&b);
    for (size_t i = 0; i < NPAT; i++) {
        sl_buf_reset(&b);
        gen_pattern_object(&r, &b, 0);
        char err[1024], id[32];
        pats[i] = sl_pattern_compile(b.data, b.len, err, sizeof err);
        texts[i] = strdup(b.data);
        if (!pats[i]) continue; /* e.g. a path repeated through $or */
        snprintf(id, sizeof id, "r%zu", i);
        assert_int_equal(sl_matcher_add(m, id, b.data, b.len, err, sizeof err), 0);
        valid++;
    }
    size_t matches = 0;
    for (int round = 0; round < 3; round++) {
        for (size_t e = 0; e < NEV; e++) {
            sl_buf_reset(&b);
            gen_event_object(&r, &b, 0);
            json_error_t jerr;
            json_t *ev = json_loadb(b.data, b.len, 0, &jerr);
            assert_non_null(ev);
            idset s = {0}, st = {0};
            sl_matcher_match(m, ev, collect, &s);
            /* the text reader must see the same event jansson does */
            long nt = sl_matcher_match_text(m, b.data, b.len, collect, &st);
            if (nt != (long)s.n) fail_msg("text path %ld, tree path %zu on %s", nt, s.n, b.data);
            for (size_t i = 0; i < st.n; i++)
                if (!idset_has(&s, st.ids[i]))
                    fail_msg("text path only: %s on %s", st.ids[i], b.data);
            idset_free(&st);
            for (size_t i = 0; i < NPAT; i++) {
                if (!pats[i]) continue;
                char id[32];
                snprintf(id, sizeof id, "r%zu", i);
                bool want = sl_pattern_match(pats[i], ev);
                if (want != idset_has(&s, id))
                    fail_msg("round %d: pattern %s on event %s: evaluator %d, machine %d", round,
                             texts[i], b.data, want, !want);
                matches += want;
            }
            idset_free(&s);
            json_decref(ev);
        }
        /* churn: drop a third, re-add some under new ids */
        for (size_t i = (size_t)round; i < NPAT; i += 3) {
            if (!pats[i]) continue;
            char id[32];
            snprintf(id, sizeof id, "r%zu", i);
            assert_int_equal(sl_matcher_remove(m, id), 0);
            sl_pattern_free(pats[i]);
            pats[i] = NULL;
        }
    }
    print_message("%zu random patterns valid of %d, %d events x 3 rounds, %zu matches\n", valid,
                  NPAT, NEV, matches);
    assert_true(valid > NPAT / 2);
    assert_true(matches > 1000);
    for (size_t i = 0; i < NPAT; i++) sl_pattern_free(pats[i]), free(texts[i]);
    free(pats);
    free(texts);
    sl_buf_free(&b);
    sl_matcher_free(m);
}

/* ---- concurrency: matching only reads the machine ---- */

typedef struct {
    sl_matcher *m;
    json_t *ev;
    size_t expect;
    int bad;
} thread_arg;

static void *match_many(void *p) {
    thread_arg *a = p;
    for (int i = 0; i < 2000; i++)
        if (sl_matcher_match(a->m, a->ev, NULL, NULL) != a->expect) a->bad++;
    return NULL;
}

static void test_concurrent_matching(void **state) {
    load_match_cases();
    sl_matcher *m = sl_matcher_new();
    char err[1024];
    for (size_t i = 0; i < nmcases; i++) {
        char id[32];
        snprintf(id, sizeof id, "case-%zu", i);
        assert_int_equal(
            sl_matcher_add(m, id, mcases[i].pattern, strlen(mcases[i].pattern), err, sizeof err),
            0);
    }
    json_t *ev = event_from("@cloudtrail_put");
    size_t expect = sl_matcher_match(m, ev, NULL, NULL);
    assert_true(expect > 3);
    pthread_t t[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){m, ev, expect, 0};
        pthread_create(&t[i], NULL, match_many, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    json_decref(ev);
    sl_matcher_free(m);
}

static int teardown_all(void **state) {
    for (size_t i = 0; i < nmcases; i++) {
        for (size_t k = 0; k < mcases[i].n; k++) json_decref(mcases[i].events[k]);
        free(mcases[i].events);
        free(mcases[i].expect);
    }
    free(mcases);
    free_entries(&match_file);
    for (size_t i = 0; i < nevents; i++) free(events[i].name), json_decref(events[i].event);
    free(events);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_cases),
        cmocka_unit_test(test_machine_agrees_on_all_cases),
        cmocka_unit_test(test_invalid_cases),
        cmocka_unit_test(test_error_message_shape),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_ip_literals),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_case_folding),
        cmocka_unit_test(test_machine_api),
        cmocka_unit_test(test_many_wildcards),
        cmocka_unit_test(test_random_differential),
        cmocka_unit_test(test_concurrent_matching),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_all);
}
