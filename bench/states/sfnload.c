/* sfnload: a Step Functions load generator for Sluice's benchmarks (bench/states/run).
 *
 * The AWS JSON 1.0 protocol as an SDK speaks it: POST / with
 * Content-Type: application/x-amz-json-1.0 and X-Amz-Target: AWSStepFunctions.<Operation>,
 * each request signed with libcurl's own SigV4 (CURLOPT_AWS_SIGV4 "aws:amz:REGION:states",
 * which also hashes the body), so the server does the signature work it does for a real
 * client. Built on bench/s3load.c's pattern: one thread, libcurl's multi interface, up to C
 * requests in flight over HTTP/1.1 keep-alive.
 *
 *   sfnload create --name N --type EXPRESS|STANDARD --definition FILE   prints the machine ARN
 *   sfnload sync   --arn ARN --input FILE [-c 16] [-d 5]   StartSyncExecution, closed loop
 *   sfnload start  --arn ARN --input FILE [-n 2000]        StartExecution one at a time, then
 *                  GetExecutionHistory: start -> first StateEntered
 *
 * sync counts an execution as ok only on HTTP 200 with "status":"SUCCEEDED" in the answer, and
 * prints the first answer's output (`OUTPUT {...}`) for a cross-check with a peer. start takes
 * the wall clock (µs) just before each request and reports: the request's round trip (the
 * answer comes once the start is durable) and the time to the first StateEntered event's
 * timestamp in the history, which has whole milliseconds, so that figure is an upper bound:
 * (ts + 1 ms) - start.
 *
 * The last line is machine-readable:
 *   RESULT mode=sync ok=N errors=N secs=S exec_s=X p50_ms=A p99_ms=B client_cpu_s=C
 *   RESULT mode=start n=N errors=N rtt_p50_ms=A rtt_p99_ms=B entered_p50_ms=C entered_p99_ms=D */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#define BENCH_PROG "sfnload"
#include "../bench_curl.h"
#include "../bench_util.h"

#define MAX_CONC     256
#define ERRORS_SHOWN 5

typedef struct {
    const char *endpoint, *userpwd, *region;
    const char *name, *type, *definition, *arn, *input;
    unsigned conc;
    double duration;
    unsigned count;
} opts;

typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    bench_body resp;
    double started;
} slot;

/* A file's JSON, compacted (the text an SDK would put in a string field). */
static char *json_file_compact(const char *path) {
    json_error_t je;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &je);
    if (!v) die("%s: %s", path, je.text);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return s;
}

static slot *slots_new(unsigned n) {
    slot *s = calloc(n, sizeof *s);
    if (!s) die("out of memory");
    for (unsigned i = 0; i < n; i++)
        if (!(s[i].easy = curl_easy_init())) die("curl_easy_init failed");
    return s;
}

static void slots_free(slot *s, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        curl_easy_cleanup(s[i].easy);
        curl_slist_free_all(s[i].headers);
        free(s[i].resp.data);
    }
    free(s);
}

/* Sets up one JSON 1.0 call; the request body must outlive the transfer. */
static void setup_call(slot *s, const opts *o, const char *op, const char *request) {
    bench_curl_json_call(s->easy, &s->headers, &s->resp, o->endpoint, o->region, "states",
                         o->userpwd, "application/x-amz-json-1.0", "AWSStepFunctions", op, request);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
}

/* One call, blocking; returns the HTTP status (0 on a transport error) and the body in s. */
static long call_once(slot *s, const opts *o, const char *op, const char *request) {
    setup_call(s, o, op, request);
    CURLcode rc = curl_easy_perform(s->easy);
    if (rc != CURLE_OK) {
        fprintf(stderr, "sfnload: %s: %s\n", op, curl_easy_strerror(rc));
        return 0;
    }
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* ---- create ---- */

static int mode_create(const opts *o) {
    if (!o->name || !o->definition) die("create needs --name and --definition");
    char *def = json_file_compact(o->definition);
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "name", o->name, "definition", def, "type",
                            o->type, "roleArn", "arn:aws:iam::000000000000:role/bench");
    char *text = json_dumps(req, JSON_COMPACT);
    slot *s = slots_new(1);
    long status = call_once(s, o, "CreateStateMachine", text);
    int rc = 1;
    json_t *out = status == 200 ? json_loads(s->resp.data, 0, NULL) : NULL;
    const char *arn = json_string_value(json_object_get(out, "stateMachineArn"));
    if (arn) {
        printf("%s\n", arn);
        rc = 0;
    } else {
        fprintf(stderr, "sfnload: CreateStateMachine: HTTP %ld: %s\n", status,
                s->resp.data ? s->resp.data : "");
    }
    json_decref(out);
    slots_free(s, 1);
    free(text);
    json_decref(req);
    free(def);
    return rc;
}

/* ---- sync: a closed loop of StartSyncExecution ---- */

static bool sync_ok(const slot *s, long status) {
    return status == 200 && s->resp.data &&
           (strstr(s->resp.data, "\"status\":\"SUCCEEDED\"") ||
            strstr(s->resp.data, "\"status\": \"SUCCEEDED\""));
}

static int mode_sync(const opts *o) {
    if (!o->arn || !o->input) die("sync needs --arn and --input");
    char *input = json_file_compact(o->input);
    json_t *req = json_pack("{s:s, s:s}", "stateMachineArn", o->arn, "input", input);
    char *request = json_dumps(req, JSON_COMPACT);
    json_decref(req);

    /* one untimed call: shows the output, and fails early on a refusal */
    slot *one = slots_new(1);
    long status = call_once(one, o, "StartSyncExecution", request);
    if (!sync_ok(one, status))
        die("StartSyncExecution: HTTP %ld: %.400s", status, one->resp.data ? one->resp.data : "");
    json_t *ans = json_loads(one->resp.data, 0, NULL);
    const char *out = json_string_value(json_object_get(ans, "output"));
    if (out) printf("OUTPUT %s\n", out);
    json_decref(ans);
    slots_free(one, 1);

    slot *slots = slots_new(o->conc);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)o->conc + 4);
    slot *free_list[MAX_CONC];
    unsigned nfree = 0, active = 0, shown = 0;
    for (unsigned i = 0; i < o->conc; i++) free_list[nfree++] = &slots[i];
    size_t cap = 1 << 16, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    if (!lat) die("out of memory");
    uint64_t ok = 0, errors = 0;
    double cpu0 = cpu_s(), t0 = now_s(), deadline = t0 + o->duration, last = t0;
    for (;;) {
        while (nfree > 0 && now_s() < deadline) {
            slot *s = free_list[--nfree];
            setup_call(s, o, "StartSyncExecution", request);
            s->started = now_s();
            curl_multi_add_handle(multi, s->easy);
            active++;
        }
        if (active == 0) break;
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode rc = msg->data.result;
            long st = 0;
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &st);
            curl_multi_remove_handle(multi, s->easy);
            last = now_s();
            if (rc == CURLE_OK && sync_ok(s, st)) {
                ok++;
                if (n == cap) {
                    cap *= 2;
                    lat = realloc(lat, cap * sizeof *lat);
                    if (!lat) die("out of memory");
                }
                lat[n++] = (last - s->started) * 1000.0;
            } else {
                errors++;
                if (shown++ < ERRORS_SHOWN)
                    fprintf(stderr, "error: StartSyncExecution: %s HTTP %ld: %.300s\n",
                            curl_easy_strerror(rc), st, s->resp.data ? s->resp.data : "");
            }
            active--;
            free_list[nfree++] = s;
        }
        if (nfree > 0 && now_s() < deadline) continue;
        curl_multi_poll(multi, NULL, 0, 50, NULL);
    }
    double secs = last - t0, cpu = cpu_s() - cpu0;
    curl_multi_cleanup(multi);
    qsort(lat, n, sizeof *lat, cmp_double);
    double rate = secs > 0 ? (double)ok / secs : 0;
    printf("sync: %" PRIu64 " ok, %" PRIu64 " errors in %.2f s: %.0f executions/s, c%u, "
           "p50 %.3f ms, p99 %.3f ms, client cpu %.2f s\n",
           ok, errors, secs, rate, o->conc, pct(lat, n, 50), pct(lat, n, 99), cpu);
    printf("RESULT mode=sync ok=%" PRIu64 " errors=%" PRIu64 " secs=%.3f exec_s=%.1f conc=%u "
           "p50_ms=%.3f p99_ms=%.3f client_cpu_s=%.2f\n",
           ok, errors, secs, rate, o->conc, pct(lat, n, 50), pct(lat, n, 99), cpu);
    free(lat);
    slots_free(slots, o->conc);
    free(request);
    free(input);
    return errors ? 1 : 0;
}

/* ---- start: StartExecution one at a time, then the history ---- */

/* The first StateEntered event's timestamp in ms, or -1. */
static int64_t first_entered_ms(slot *s, const opts *o, const char *exec_arn) {
    json_t *req = json_pack("{s:s, s:i, s:b}", "executionArn", exec_arn, "maxResults", 10,
                            "includeExecutionData", 0);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    long status = call_once(s, o, "GetExecutionHistory", text);
    free(text);
    if (status != 200) return -1;
    json_t *out = json_loads(s->resp.data, 0, NULL);
    json_t *events = json_object_get(out, "events"), *ev;
    size_t i;
    int64_t ts = -1;
    json_array_foreach(events, i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        size_t tl = type ? strlen(type) : 0;
        if (tl > 12 && !strcmp(type + tl - 12, "StateEntered")) {
            ts = (int64_t)llround(json_number_value(json_object_get(ev, "timestamp")) * 1000.0);
            break;
        }
    }
    json_decref(out);
    return ts;
}

static int mode_start(const opts *o) {
    if (!o->arn || !o->input) die("start needs --arn and --input");
    char *input = json_file_compact(o->input);
    slot *s = slots_new(1);
    double *rtt = calloc(o->count, sizeof *rtt), *entered = calloc(o->count, sizeof *entered);
    if (!rtt || !entered) die("out of memory");
    unsigned got = 0, errors = 0, warm = o->count / 10 + 1;
    for (unsigned i = 0; i < o->count + warm; i++) {
        json_t *req = json_pack("{s:s, s:s}", "stateMachineArn", o->arn, "input", input);
        char *text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        int64_t t0 = wall_us();
        long status = call_once(s, o, "StartExecution", text);
        int64_t t1 = wall_us();
        free(text);
        json_t *out = status == 200 ? json_loads(s->resp.data, 0, NULL) : NULL;
        const char *arn = json_string_value(json_object_get(out, "executionArn"));
        if (!arn) {
            if (errors++ < ERRORS_SHOWN)
                fprintf(stderr, "error: StartExecution: HTTP %ld: %.300s\n", status,
                        s->resp.data ? s->resp.data : "");
            json_decref(out);
            continue;
        }
        char *exec_arn = strdup(arn);
        json_decref(out);
        int64_t ts = first_entered_ms(s, o, exec_arn);
        free(exec_arn);
        if (ts < 0) {
            if (errors++ < ERRORS_SHOWN)
                fprintf(stderr, "error: no StateEntered event in the history after the start\n");
            continue;
        }
        if (i < warm) continue;
        rtt[got] = (double)(t1 - t0) / 1000.0;
        entered[got] = (double)((ts + 1) * 1000 - t0) / 1000.0;
        got++;
    }
    qsort(rtt, got, sizeof *rtt, cmp_double);
    qsort(entered, got, sizeof *entered, cmp_double);
    printf("start: %u executions one at a time, %u errors: StartExecution round trip p50 %.3f ms "
           "p99 %.3f ms; request -> first StateEntered (history ts, upper bound) p50 %.3f ms "
           "p99 %.3f ms max %.3f ms\n",
           got, errors, pct(rtt, got, 50), pct(rtt, got, 99), pct(entered, got, 50),
           pct(entered, got, 99), got ? entered[got - 1] : 0);
    printf("RESULT mode=start n=%u errors=%u rtt_p50_ms=%.3f rtt_p99_ms=%.3f entered_p50_ms=%.3f "
           "entered_p99_ms=%.3f\n",
           got, errors, pct(rtt, got, 50), pct(rtt, got, 99), pct(entered, got, 50),
           pct(entered, got, 99));
    free(rtt);
    free(entered);
    slots_free(s, 1);
    free(input);
    return errors ? 1 : 0;
}

static void usage(FILE *f) {
    fputs("usage: sfnload create|sync|start --endpoint URL [options]\n"
          "  -e, --endpoint URL      e.g. http://127.0.0.1:4566\n"
          "  -u, --user KEY:SECRET   credentials (default test:test)\n"
          "  -r, --region NAME       (default us-east-1)\n"
          "      --name NAME         create: the machine's name\n"
          "      --type TYPE         create: EXPRESS (default) or STANDARD\n"
          "      --definition FILE   create: the ASL\n"
          "      --arn ARN           sync/start: the machine\n"
          "      --input FILE        sync/start: the execution input (JSON)\n"
          "  -c, --concurrency N     sync: requests in flight (default 16, max 256)\n"
          "  -d, --duration SECS     sync: run this long (default 5)\n"
          "  -n, --count N           start: executions (default 2000)\n",
          f);
}

int main(int argc, char **argv) {
    opts o = {.userpwd = "test:test",
              .region = "us-east-1",
              .type = "EXPRESS",
              .conc = 16,
              .duration = 5,
              .count = 2000};
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *mode = argv[1];
    enum {
        OPT_NAME = 1000,
        OPT_TYPE,
        OPT_DEF,
        OPT_ARN,
        OPT_INPUT
    };
    static const struct option longopts[] = {{"endpoint", required_argument, 0, 'e'},
                                             {"user", required_argument, 0, 'u'},
                                             {"region", required_argument, 0, 'r'},
                                             {"name", required_argument, 0, OPT_NAME},
                                             {"type", required_argument, 0, OPT_TYPE},
                                             {"definition", required_argument, 0, OPT_DEF},
                                             {"arn", required_argument, 0, OPT_ARN},
                                             {"input", required_argument, 0, OPT_INPUT},
                                             {"concurrency", required_argument, 0, 'c'},
                                             {"duration", required_argument, 0, 'd'},
                                             {"count", required_argument, 0, 'n'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "e:u:r:c:d:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': o.endpoint = optarg; break;
        case 'u': o.userpwd = optarg; break;
        case 'r': o.region = optarg; break;
        case OPT_NAME: o.name = optarg; break;
        case OPT_TYPE: o.type = optarg; break;
        case OPT_DEF: o.definition = optarg; break;
        case OPT_ARN: o.arn = optarg; break;
        case OPT_INPUT: o.input = optarg; break;
        case 'c': o.conc = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': o.duration = strtod(optarg, NULL); break;
        case 'n': o.count = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o.endpoint) die("--endpoint is required");
    if (o.conc < 1 || o.conc > MAX_CONC) die("--concurrency must be 1..%d", MAX_CONC);
    if (o.duration <= 0 || o.count < 1) die("bad --duration or --count");
    size_t elen = strlen(o.endpoint);
    while (elen > 0 && o.endpoint[elen - 1] == '/') elen--;
    char *endpoint = strndup(o.endpoint, elen);
    o.endpoint = endpoint;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init failed");
    int rc;
    if (!strcmp(mode, "create")) rc = mode_create(&o);
    else if (!strcmp(mode, "sync")) rc = mode_sync(&o);
    else if (!strcmp(mode, "start")) rc = mode_start(&o);
    else die("unknown mode %s (try --help)", mode);
    curl_global_cleanup();
    free(endpoint);
    return rc;
}
