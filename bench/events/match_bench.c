/* match_bench: events per second through the multi-rule event-pattern machine (sl_matcher) on one
 * core, for 1, 100, 1,000 and 10,000 rules of two kinds -- exact/prefix only, and mixed operators
 * (numeric, anything-but, wildcard, suffix ignoring case) -- over two event shapes: S3 "Object
 * Created"/"Object Deleted" as EventBridge delivers them, and GeoJSON features shaped like the
 * CityLots data set Event Ruler benchmarks with (generated here, nothing downloaded).
 * Mixed rules carry one exact field (a bucket, a street or a block) next to their other operators,
 * as real rules do, except one in ten that has none and so is tried against every event.
 * It measures separately:
 *   parse  JSON text -> jansson tree (what the daemon does once per event),
 *   match  a parsed event through the machine (the engine's own cost),
 * and checks, on a sample, that the machine agrees with sl_pattern_match rule by rule.
 * Usage: match_bench [seconds-per-measurement] (default 1.0). Built and run by bench/events/run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "events/pattern.h"

/* Few enough that the parsed trees stay in cache, as an event just parsed by the daemon is: with
 * thousands, matching a pre-parsed tree measures memory latency more than the machine. */
#define NEVENTS  256
#define NBUCKETS 1000
#define NSTREETS 400

static uint64_t rng_state = 0x5EED1234ABCDULL;
static uint32_t rnd(uint32_t n) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng_state >> 33) % n);
}

/* CPU time of this thread: "events per second on one core" even when the machine is shared and
 * the thread is not always running (wall-clock rates would count time spent descheduled). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const STREET_WORDS[] = {
    "JEFFERSON",  "MISSION",    "MARKET",   "VALENCIA",   "FOLSOM",  "HOWARD", "BRYANT",
    "HARRISON",   "GEARY",      "OFARRELL", "POST",       "SUTTER",  "BUSH",   "PINE",
    "CALIFORNIA", "SACRAMENTO", "CLAY",     "WASHINGTON", "JACKSON", "PACIFIC"};
static const char *const ST_TYPES[] = {"ST", "AVE", "BLVD", "WAY", "TER", "PL"};

static void street_name(char *out, size_t n, uint32_t i) {
    snprintf(out, n, "%s %u", STREET_WORDS[i % 20], i / 20);
}

/* ---- events ---- */

static void s3_event(sl_buf *b, uint32_t i) {
    uint32_t bucket = rnd(NBUCKETS);
    bool created = rnd(10) < 8;
    uint32_t kind = rnd(10);
    char key[128];
    if (kind < 6) {
        snprintf(key, sizeof key, "incoming/%u/2024/06/part-%05u.csv", rnd(200), rnd(100000));
    } else if (kind < 8) {
        snprintf(key, sizeof key, "_tmp/%u/part-%05u.json", rnd(200), rnd(100000));
    } else {
        snprintf(key, sizeof key, "archive/%u/report-%u.PARQUET", rnd(200), rnd(100000));
    }
    sl_buf_printf(
        b,
        "{\"version\":\"0\",\"id\":\"17793124-05d4-b198-2fde-%012u\","
        "\"detail-type\":\"%s\",\"source\":\"aws.s3\",\"account\":\"111122223333\","
        "\"time\":\"2024-06-%02uT%02u:%02u:%02uZ\",\"region\":\"us-east-1\","
        "\"resources\":[\"arn:aws:s3:::bucket-%u\"],"
        "\"detail\":{\"version\":\"0\",\"bucket\":{\"name\":\"bucket-%u\"},"
        "\"object\":{\"key\":\"%s\",\"size\":%u,\"etag\":\"b1946ac92492d2347c6235b4d2611184\","
        "\"sequencer\":\"617f08299329d189\"},\"request-id\":\"N4N7GDK58NMKJ12R\","
        "\"requester\":\"123456789012\",\"source-ip-address\":\"10.%u.%u.%u\","
        "\"reason\":\"%s\"}}",
        i, created ? "Object Created" : "Object Deleted", 1 + rnd(28), rnd(24), rnd(60), rnd(60),
        bucket, bucket, key, rnd(1u << 30), rnd(256), rnd(256), rnd(256),
        created ? "PutObject" : "DeleteObject");
}

static void citylot_event(sl_buf *b, uint32_t i) {
    char street[64];
    street_name(street, sizeof street, rnd(NSTREETS));
    uint32_t block = rnd(9999), from = rnd(3000);
    sl_buf_printf(b,
                  "{\"type\":\"Feature\",\"properties\":{\"MAPBLKLOT\":\"%04u%03u\","
                  "\"BLKLOT\":\"%04u%03u\",\"BLOCK_NUM\":\"%04u\",\"LOT_NUM\":\"%03u\","
                  "\"FROM_ST\":\"%u\",\"TO_ST\":\"%u\",\"STREET\":\"%s\",\"ST_TYPE\":",
                  block, i % 1000, block, i % 1000, block, i % 1000, from, from + 2 * rnd(50),
                  street);
    if (rnd(10) == 0) sl_buf_puts(b, "null");
    else sl_buf_printf(b, "\"%s\"", ST_TYPES[rnd(6)]);
    sl_buf_printf(b, ",\"ODD_EVEN\":\"%s\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[",
                  rnd(2) ? "E" : "O");
    uint32_t points = 4 + rnd(12);
    double lon = -122.52 + rnd(150000) / 1e6, lat = 37.70 + rnd(110000) / 1e6;
    for (uint32_t p = 0; p < points; p++) {
        sl_buf_printf(b, "%s[%.15f,%.15f,0.0]", p ? "," : "", lon + rnd(2000) / 1e7,
                      lat + rnd(2000) / 1e7);
    }
    sl_buf_puts(b, "]]}}");
}

/* ---- rules ---- */

typedef enum {
    SHAPE_S3,
    SHAPE_CITYLOTS
} shape;
typedef enum {
    RULES_EXACT_PREFIX,
    RULES_MIXED
} ruleset;

static void s3_rule(sl_buf *b, ruleset set, uint32_t i) {
    uint32_t bucket = rnd(NBUCKETS);
    if (set == RULES_EXACT_PREFIX) {
        switch (i % 4) {
        case 0:
            sl_buf_printf(b,
                          "{\"source\":[\"aws.s3\"],\"detail-type\":[\"Object Created\"],"
                          "\"detail\":{\"bucket\":{\"name\":[\"bucket-%u\"]}}}",
                          bucket);
            break;
        case 1:
            sl_buf_printf(b,
                          "{\"source\":[\"aws.s3\"],\"detail-type\":[\"Object Created\"],"
                          "\"detail\":{\"bucket\":{\"name\":[\"bucket-%u\"]},\"object\":{\"key\":"
                          "[{\"prefix\":\"incoming/%u/\"}]}}}",
                          bucket, rnd(200));
            break;
        case 2:
            sl_buf_printf(b,
                          "{\"source\":[\"aws.s3\"],\"resources\":[\"arn:aws:s3:::bucket-%u\","
                          "\"arn:aws:s3:::bucket-%u\"],\"detail\":{\"reason\":[\"PutObject\","
                          "\"CopyObject\"]}}",
                          bucket, rnd(NBUCKETS));
            break;
        default:
            sl_buf_printf(b,
                          "{\"detail\":{\"bucket\":{\"name\":[{\"prefix\":\"bucket-%u\"}]},"
                          "\"object\":{\"key\":[{\"prefix\":\"archive/%u/\"}]}}}",
                          bucket, rnd(200));
            break;
        }
        return;
    }
    switch (i % 10 == 9 ? 3 : i % 3) {
    case 0: {
        uint32_t lo = rnd(1u << 29);
        sl_buf_printf(b,
                      "{\"source\":[\"aws.s3\"],\"detail\":{\"bucket\":{\"name\":[\"bucket-%u\"]},"
                      "\"object\":{\"size\":[{\"numeric\":[\">\",%u,\"<=\",%u]}]}}}",
                      bucket, lo, lo + rnd(1u << 29));
        break;
    }
    case 1:
        sl_buf_printf(b,
                      "{\"source\":[\"aws.s3\"],\"detail-type\":[\"Object Created\"],"
                      "\"detail\":{\"bucket\":{\"name\":[\"bucket-%u\"]},\"object\":{\"key\":"
                      "[{\"anything-but\":{\"prefix\":[\"_tmp/\",\"archive/\"]}}]}}}",
                      bucket);
        break;
    case 2:
        sl_buf_printf(b,
                      "{\"detail\":{\"bucket\":{\"name\":[\"bucket-%u\"]},\"object\":{\"key\":"
                      "[{\"wildcard\":\"incoming/%u/*/part-*.csv\"}]},\"source-ip-address\":"
                      "[{\"cidr\":\"10.%u.0.0/16\"}]}}",
                      bucket, rnd(200), rnd(256));
        break;
    default:
        /* one rule in ten has no exact field at all: every event reaches these */
        if (rnd(2)) {
            sl_buf_printf(b,
                          "{\"detail\":{\"object\":{\"size\":[{\"numeric\":[\"<\",%u]}],"
                          "\"key\":[{\"suffix\":{\"equals-ignore-case\":\"-%05u.parquet\"}}]}}}",
                          rnd(1u << 30), rnd(100000));
        } else {
            sl_buf_printf(b,
                          "{\"detail\":{\"object\":{\"key\":[{\"wildcard\":\"*/%u/*-%u*\"}]},"
                          "\"reason\":[{\"anything-but\":\"DeleteObject\"}]}}",
                          rnd(200), rnd(100));
        }
        break;
    }
}

static void citylot_rule(sl_buf *b, ruleset set, uint32_t i) {
    char street[64];
    street_name(street, sizeof street, rnd(NSTREETS));
    if (set == RULES_EXACT_PREFIX) {
        switch (i % 3) {
        case 0: sl_buf_printf(b, "{\"properties\":{\"STREET\":[\"%s\"]}}", street); break;
        case 1:
            sl_buf_printf(b,
                          "{\"type\":[\"Feature\"],\"properties\":{\"STREET\":[\"%s\"],"
                          "\"BLOCK_NUM\":[{\"prefix\":\"%u\"}]}}",
                          street, rnd(10));
            break;
        default:
            sl_buf_printf(b,
                          "{\"properties\":{\"MAPBLKLOT\":[{\"prefix\":\"%04u\"}],"
                          "\"ODD_EVEN\":[\"E\"]}}",
                          rnd(9999));
            break;
        }
        return;
    }
    switch (i % 10 == 9 ? 3 : i % 3) {
    case 0: {
        double lat = 37.70 + rnd(110000) / 1e6;
        sl_buf_printf(b,
                      "{\"properties\":{\"STREET\":[\"%s\"]},\"geometry\":{\"coordinates\":"
                      "[{\"numeric\":[\">\",%.6f,\"<\",%.6f]}]}}",
                      street, lat, lat + 0.01);
        break;
    }
    case 1:
        sl_buf_printf(b,
                      "{\"properties\":{\"STREET\":[\"%s\"],\"ST_TYPE\":[{\"anything-but\":"
                      "[\"ST\",\"AVE\"]}]}}",
                      street);
        break;
    case 2:
        sl_buf_printf(b,
                      "{\"properties\":{\"BLOCK_NUM\":[\"%04u\"],\"STREET\":[{\"wildcard\":"
                      "\"%s*\"}]}}",
                      rnd(9999), STREET_WORDS[rnd(20)]);
        break;
    default:
        if (rnd(2)) {
            sl_buf_printf(b,
                          "{\"properties\":{\"STREET\":[{\"wildcard\":\"*N %u\"}],\"LOT_NUM\":"
                          "[{\"anything-but\":\"000\"}]}}",
                          rnd(20));
        } else {
            sl_buf_printf(b,
                          "{\"properties\":{\"FROM_ST\":[{\"prefix\":\"%u\"}],\"ST_TYPE\":"
                          "[{\"equals-ignore-case\":\"blvd\"}]}}",
                          1 + rnd(2999));
        }
        break;
    }
}

/* ---- measurement ---- */

typedef struct {
    char **texts;
    size_t *lens;
    json_t **parsed;
} event_set;

static event_set make_events(shape sh) {
    event_set es = {calloc(NEVENTS, sizeof(char *)), calloc(NEVENTS, sizeof(size_t)),
                    calloc(NEVENTS, sizeof(json_t *))};
    sl_buf b;
    sl_buf_init(&b);
    for (uint32_t i = 0; i < NEVENTS; i++) {
        sl_buf_reset(&b);
        if (sh == SHAPE_S3) s3_event(&b, i);
        else citylot_event(&b, i);
        es.lens[i] = b.len;
        es.texts[i] = strdup(b.data);
        json_error_t e;
        es.parsed[i] = json_loadb(b.data, b.len, 0, &e);
        if (!es.parsed[i]) {
            fprintf(stderr, "bad generated event: %s\n%s\n", e.text, b.data);
            exit(1);
        }
    }
    sl_buf_free(&b);
    return es;
}

static volatile size_t sink;

static double parse_rate(const event_set *es, double secs) {
    size_t n = 0;
    double t0 = now(), t;
    do {
        for (size_t i = 0; i < 256; i++, n++) {
            json_error_t e;
            json_t *j = json_loadb(es->texts[n % NEVENTS], es->lens[n % NEVENTS], 0, &e);
            sink += json_object_size(j);
            json_decref(j);
        }
        t = now();
    } while (t - t0 < secs);
    return (double)n / (t - t0);
}

static double match_rate(const sl_matcher *m, const event_set *es, double secs, double *per_event) {
    size_t n = 0, matches = 0;
    double t0 = now(), t;
    do {
        for (size_t i = 0; i < 1024; i++, n++)
            matches += sl_matcher_match(m, es->parsed[n % NEVENTS], NULL, NULL);
        t = now();
    } while (t - t0 < secs);
    *per_event = (double)matches / (double)n;
    return (double)n / (t - t0);
}

static double text_rate(const sl_matcher *m, const event_set *es, double secs) {
    size_t n = 0;
    double t0 = now(), t;
    do {
        for (size_t i = 0; i < 256; i++, n++)
            sink += (size_t)sl_matcher_match_text(m, es->texts[n % NEVENTS], es->lens[n % NEVENTS],
                                                  NULL, NULL);
        t = now();
    } while (t - t0 < secs);
    return (double)n / (t - t0);
}

typedef struct {
    const sl_pattern **pats;
    size_t n;
    size_t bad;
    bool *hit;
} check_ctx;

static void mark(void *ctx, const char *id) {
    check_ctx *c = ctx;
    c->hit[strtoul(id + 1, NULL, 10)] = true;
}

/* The machine must agree with the direct evaluator, rule by rule, on a sample of events. */
static size_t verify(const sl_matcher *m, const sl_pattern **pats, size_t n, const event_set *es) {
    check_ctx c = {pats, n, 0, calloc(n, sizeof(bool))};
    for (size_t e = 0; e < NEVENTS; e++) {
        memset(c.hit, 0, n);
        sl_matcher_match(m, es->parsed[e], mark, &c);
        for (size_t r = 0; r < n; r++)
            if (c.hit[r] != sl_pattern_match(pats[r], es->parsed[e])) c.bad++;
    }
    free(c.hit);
    return c.bad;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0) secs = 1.0;
    static const size_t counts[] = {1, 100, 1000, 10000};
    static const char *const shape_names[] = {"S3", "CityLots"};
    static const char *const set_names[] = {"exact/prefix", "mixed"};
    printf("event-pattern machine, one thread, %.1f s of CPU per figure, %d distinct events per "
           "shape\n",
           secs, NEVENTS);
    printf("%-9s %-13s %6s %11s %12s %12s %9s %9s %8s\n", "events", "rules", "count", "parse ev/s",
           "match ev/s", "text ev/s", "matches", "build ms", "RSS MiB");
    int failures = 0;
    for (int sh = 0; sh < 2; sh++) {
        event_set es = make_events((shape)sh);
        size_t bytes = 0;
        for (size_t i = 0; i < NEVENTS; i++) bytes += es.lens[i];
        double prate = parse_rate(&es, secs);
        for (int set = 0; set < 2; set++) {
            for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
                size_t n = counts[ci];
                rng_state = 0xC0FFEE + n * 7 + (uint64_t)set * 131 + (uint64_t)sh * 977;
                sl_matcher *m = sl_matcher_new();
                const sl_pattern **pats = calloc(n, sizeof *pats);
                sl_buf b;
                sl_buf_init(&b);
                double t0 = now();
                for (size_t r = 0; r < n; r++) {
                    sl_buf_reset(&b);
                    if (sh == SHAPE_S3) s3_rule(&b, (ruleset)set, (uint32_t)r);
                    else citylot_rule(&b, (ruleset)set, (uint32_t)r);
                    char err[512], id[24];
                    snprintf(id, sizeof id, "r%zu", r);
                    if (sl_matcher_add(m, id, b.data, b.len, err, sizeof err)) {
                        fprintf(stderr, "bad generated rule %s: %s\n", b.data, err);
                        return 1;
                    }
                    pats[r] = sl_pattern_compile(b.data, b.len, err, sizeof err);
                }
                double build_ms = (now() - t0) * 1e3;
                long rss = rss_kib();
                double per_event;
                double mrate = match_rate(m, &es, secs, &per_event);
                double trate = text_rate(m, &es, secs / 2);
                size_t bad = verify(m, pats, n, &es);
                if (bad) {
                    fprintf(stderr, "MISMATCH: %zu rule/event disagreements\n", bad);
                    failures++;
                }
                printf("%-9s %-13s %6zu %11.0f %12.0f %12.0f %9.2f %9.1f %8.1f\n", shape_names[sh],
                       set_names[set], n, prate, mrate, trate, per_event, build_ms, rss / 1024.0);
                fflush(stdout);
                for (size_t r = 0; r < n; r++) sl_pattern_free((sl_pattern *)pats[r]);
                free(pats);
                sl_buf_free(&b);
                sl_matcher_free(m);
            }
        }
        printf("(%s events average %zu bytes of JSON)\n", shape_names[sh], bytes / NEVENTS);
        for (size_t i = 0; i < NEVENTS; i++) free(es.texts[i]), json_decref(es.parsed[i]);
        free(es.texts);
        free(es.lens);
        free(es.parsed);
    }
    printf("parse = JSON text to jansson tree; match = parsed event through the machine;\n"
           "text = sl_matcher_match_text (parse + match); matches = rules matched per event\n");
    return failures ? 1 : 0;
}
