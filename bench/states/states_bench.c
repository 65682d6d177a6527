/* states_bench: the Step Functions engine measured in process, with no HTTP in the way.
 *
 * The service runs as the daemon runs it (sl_states_new over a store in a fresh directory:
 * two workers, the timer thread, the store's group-committing writer), the way
 * tests/unit/test_states_conformance.c drives it: the machine is stored with sfn_machine_write,
 * looked up with sfn_machine_get and executions are started with sfn_start, whose on_done
 * callback (on a worker, or on the store's writer for STANDARD) reports the end.
 *
 *   states_bench express  DEF INPUT [-d SECS] [-k WINDOW] [-t THREADS]   EXPRESS executions/s
 *   states_bench standard DEF INPUT [-d SECS] [-k WINDOW] [-t THREADS]   STANDARD transitions/s
 *   states_bench latency  DEF INPUT [-n COUNT]              start -> first StateEntered
 *
 * express, standard: a closed loop keeps up to WINDOW executions in flight for SECS (after a
 * warm-up of SECS/5), then lets the last ones finish; THREADS threads (default 1) start them.
 * An EXPRESS execution started with on_done runs on the starting thread and mostly ends
 * inside sfn_start, so one thread has one in flight: the daemon's HTTP threads are the
 * starting threads there. Every execution must end SUCCEEDED; the output
 * of the first is printed (`OUTPUT {...}`) so a run can check it against a peer's.
 * standard counts a state transition per StateEntered history event: at the end the history
 * table is read back and must hold (states per execution) x (executions) of them.
 * latency: COUNT STANDARD executions one at a time. For each: the wall clock (µs) just before
 * sfn_start; the moment on_stored fires (the start and the first slice of states are durable:
 * what StartExecution waits for before it answers); and the timestamp of the first
 * StateEntered event in the stored history. History timestamps are whole milliseconds, so the
 * start -> StateEntered figure is an upper bound: (ts + 1 ms) - start, never less than the
 * truth, at most 1 ms more.
 *
 * Each mode ends with one machine-readable line:
 *   RESULT mode=express ok=N errors=N secs=S exec_s=X window=K threads=T cpu_s=C
 *   RESULT mode=standard ok=N errors=N secs=S exec_s=X states=T transitions_s=Y window=K ...
 *   RESULT mode=latency n=N entered_p50_ms=A entered_p99_ms=B stored_p50_ms=C stored_p99_ms=D
 * The store lives in a new directory under $BENCH_DIR (default /var/tmp), removed at the end. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "states_bench"
#include "../bench_util.h"

#include "core/config.h"
#include "core/ids.h"
#include "states/states_internal.h"
#include "store/store.h"

#define ROLE "arn:aws:iam::000000000000:role/bench"

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) die("%s: %s", path, strerror(errno));
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die("%s: cannot read", path);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* ---- the engine in process ---- */

typedef struct {
    char dir[512];
    sl_store *store;
    sl_config cfg;
    sl_states *s;
    sfn_machine *m;
    json_t *input;
    char *input_text;
} engine;

static void engine_open(engine *en, const char *def_path, const char *input_path,
                        const char *type) {
    const char *base = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/var/tmp";
    snprintf(en->dir, sizeof en->dir, "%s/sluice-states-bench-XXXXXX", base);
    if (!mkdtemp(en->dir)) die("mkdtemp %s: %s", en->dir, strerror(errno));
    char err[2048];
    en->store = sl_store_open(en->dir, err, sizeof err);
    if (!en->store) die("store: %s", err);
    sl_config_defaults(&en->cfg);
    sl_context ctx = {.cfg = &en->cfg, .store = en->store};
    en->s = sl_states_new(&ctx, err, sizeof err);
    if (!en->s) die("states: %s", err);

    /* Compacted as CreateStateMachine would receive it from an SDK. */
    char *raw = read_text(def_path);
    json_error_t je;
    json_t *def = json_loads(raw, 0, &je);
    if (!def) die("%s: %s", def_path, je.text);
    char *text = json_dumps(def, JSON_COMPACT);
    json_decref(def);
    free(raw);
    sl_asl_machine *check = sfn_compile(en->s, text, err, sizeof err);
    if (!check) die("%s: InvalidDefinition: %s", def_path, err);
    sl_asl_free(check);
    char hash[65], rev[37], arn[256];
    sfn_definition_hash(text, hash);
    sl_id_uuid(rev);
    sfn_arn(en->s, "stateMachine", "bench", arn, sizeof arn);
    sfn_machine_job j = {.arn = arn,
                         .name = "bench",
                         .type = type,
                         .hash = hash,
                         .definition = text,
                         .role = ROLE,
                         .revision = rev,
                         .spec = "{}",
                         .now = sl_now_ms()};
    if (sl_store_write(en->store, sfn_machine_write, &j) != 0) die("storing the machine failed");
    free(text);
    en->m = sfn_machine_get(en->s, arn);
    if (!en->m) die("the stored machine %s is not found", arn);

    raw = read_text(input_path);
    en->input = json_loads(raw, JSON_DECODE_ANY, &je);
    if (!en->input) die("%s: %s", input_path, je.text);
    free(raw);
    en->input_text = json_dumps(en->input, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void engine_close(engine *en) {
    sl_states_free(en->s);
    sl_store_close(en->store);
    sl_config_free(&en->cfg);
    json_decref(en->input);
    free(en->input_text);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", en->dir);
    if (system(cmd) != 0) fprintf(stderr, "states_bench: could not remove %s\n", en->dir);
}

/* Starts one execution with a UUID name; dies on refusal (the benchmark would mean nothing). */
static void start_one(engine *en, void (*on_done)(sfn_exec *, void *), void *done_ctx,
                      void (*on_stored)(sfn_exec *, void *), void *stored_ctx, char *arn,
                      size_t arnlen) {
    sfn_start_args a = {.input = en->input,
                        .input_text = en->input_text,
                        .on_done = on_done,
                        .on_done_ctx = done_ctx,
                        .on_stored = on_stored,
                        .on_stored_ctx = stored_ctx};
    char code[64], msg[512];
    int64_t start;
    int rc = sfn_start(en->s, en->m, &a, arn, arnlen, &start, code, sizeof code, msg, sizeof msg);
    if (rc != 0) die("sfn_start: %d %s %s", rc, rc < 0 ? code : "", rc < 0 ? msg : "");
}

/* ---- express / standard: a closed loop ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t done, ok, errors;
    unsigned inflight;
    char *first_output;
    bool shown_error;
} loop_state;

static void loop_done(sfn_exec *e, void *ctx) {
    loop_state *ls = ctx;
    pthread_mutex_lock(&ls->mu);
    ls->done++;
    if (e->status == EXEC_SUCCEEDED) {
        ls->ok++;
        if (!ls->first_output && e->output)
            ls->first_output = json_dumps(e->output, JSON_COMPACT | JSON_ENCODE_ANY);
    } else {
        ls->errors++;
        if (!ls->shown_error) {
            ls->shown_error = true;
            fprintf(stderr, "error: %s ended %s: %s %s\n", e->arn, sfn_status_name(e->status),
                    e->error ? e->error : "-", e->cause ? e->cause : "-");
        }
    }
    ls->inflight--;
    pthread_cond_signal(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
}

/* Keeps up to `window` executions in flight until `until` (monotonic seconds). An EXPRESS
 * execution may end inside sfn_start (on_done called on this thread), so the window is
 * re-checked, and the clock read, after every start. */
static void run_window(engine *en, loop_state *ls, unsigned window, double until) {
    char arn[512];
    pthread_mutex_lock(&ls->mu);
    while (now_s() < until) {
        while (ls->inflight < window && now_s() < until) {
            ls->inflight++;
            pthread_mutex_unlock(&ls->mu);
            start_one(en, loop_done, ls, NULL, NULL, arn, sizeof arn);
            pthread_mutex_lock(&ls->mu);
        }
        if (ls->inflight >= window) pthread_cond_wait(&ls->cv, &ls->mu);
    }
    pthread_mutex_unlock(&ls->mu);
}

/* run_window on `threads` starting threads at once, sharing the window (the daemon calls
 * sfn_start from several HTTP threads). */
typedef struct {
    engine *en;
    loop_state *ls;
    unsigned window;
    double until;
} starter;

static void *starter_main(void *arg) {
    starter *st = arg;
    run_window(st->en, st->ls, st->window, st->until);
    return NULL;
}

static void run_windows(engine *en, loop_state *ls, unsigned window, unsigned threads,
                        double until) {
    if (threads <= 1) {
        run_window(en, ls, window, until);
        return;
    }
    starter st = {en, ls, window, until};
    pthread_t tids[64];
    if (threads > 64) threads = 64;
    for (unsigned i = 0; i < threads; i++)
        if (pthread_create(&tids[i], NULL, starter_main, &st) != 0) die("pthread_create failed");
    for (unsigned i = 0; i < threads; i++) pthread_join(tids[i], NULL);
}

static void drain(loop_state *ls) {
    pthread_mutex_lock(&ls->mu);
    while (ls->inflight > 0) pthread_cond_wait(&ls->cv, &ls->mu);
    pthread_mutex_unlock(&ls->mu);
}

static int64_t count_entered(engine *en) {
    sqlite3 *db = sl_store_reader(en->store);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sfn_history WHERE type LIKE '%StateEntered'",
                           -1, &st, NULL) != SQLITE_OK)
        die("history: %s", sqlite3_errmsg(db));
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

static int mode_loop(const char *def, const char *input, bool express, double secs, unsigned window,
                     unsigned threads) {
    engine en = {0};
    engine_open(&en, def, input, express ? "EXPRESS" : "STANDARD");
    loop_state ls = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

    run_windows(&en, &ls, window, threads, now_s() + secs / 5); /* warm-up: caches, WAL */
    pthread_mutex_lock(&ls.mu);
    uint64_t done0 = ls.done, ok0 = ls.ok, err0 = ls.errors;
    pthread_mutex_unlock(&ls.mu);
    double cpu0 = cpu_s(), t0 = now_s();
    run_windows(&en, &ls, window, threads, t0 + secs);
    pthread_mutex_lock(&ls.mu);
    double elapsed = now_s() - t0, cpu = cpu_s() - cpu0;
    uint64_t ok = ls.ok - ok0, errors = ls.errors - err0, done = ls.done - done0;
    pthread_mutex_unlock(&ls.mu);
    drain(&ls);
    (void)done;

    if (ls.first_output) printf("OUTPUT %s\n", ls.first_output);
    double exec_s = (double)ok / elapsed;
    if (express) {
        printf("express: %" PRIu64 " executions in %.2f s, %" PRIu64
               " errors: %.0f executions/s, window %u, %u starting thread(s), process cpu "
               "%.2f s\n",
               ok, elapsed, errors, exec_s, window, threads, cpu);
        printf("RESULT mode=express ok=%" PRIu64 " errors=%" PRIu64
               " secs=%.3f exec_s=%.1f window=%u threads=%u cpu_s=%.2f\n",
               ok, errors, elapsed, exec_s, window, threads, cpu);
    } else {
        /* every execution ever started (warm-up included) has ended: the history must hold
         * the same number of StateEntered events for each */
        int64_t entered = count_entered(&en);
        uint64_t total = ls.done;
        double per = total ? (double)entered / (double)total : 0;
        double tr_s = exec_s * per;
        printf("standard: %" PRIu64 " executions in %.2f s, %" PRIu64
               " errors: %.0f executions/s x %.2f StateEntered each = %.0f transitions/s, "
               "window %u, process cpu %.2f s\n",
               ok, elapsed, errors, exec_s, per, tr_s, window, cpu);
        printf("RESULT mode=standard ok=%" PRIu64 " errors=%" PRIu64
               " secs=%.3f exec_s=%.1f states=%.2f transitions_s=%.1f window=%u cpu_s=%.2f "
               "history_entered=%" PRId64 " executions_total=%" PRIu64 "\n",
               ok, errors, elapsed, exec_s, per, tr_s, window, cpu, entered, total);
    }
    free(ls.first_output);
    engine_close(&en);
    return errors ? 1 : 0;
}

/* ---- latency: one at a time ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t stored_us;
    bool done, ok;
} one_state;

static void one_stored(sfn_exec *e, void *ctx) {
    (void)e;
    one_state *o = ctx;
    int64_t t = wall_us();
    pthread_mutex_lock(&o->mu);
    o->stored_us = t;
    pthread_mutex_unlock(&o->mu);
}

static void one_done(sfn_exec *e, void *ctx) {
    one_state *o = ctx;
    pthread_mutex_lock(&o->mu);
    o->done = true;
    o->ok = e->status == EXEC_SUCCEEDED;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static int mode_latency(const char *def, const char *input, unsigned n) {
    engine en = {0};
    engine_open(&en, def, input, "STANDARD");
    sqlite3 *db = sl_store_reader(en.store);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT ts_ms FROM sfn_history WHERE execution_arn = ?1 AND type LIKE "
                           "'%StateEntered' ORDER BY id LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        die("history: %s", sqlite3_errmsg(db));
    double *entered = calloc(n, sizeof *entered), *stored = calloc(n, sizeof *stored);
    if (!entered || !stored) die("out of memory");
    unsigned got = 0, errors = 0, warm = n / 10 + 1;
    char arn[512];
    for (unsigned i = 0; i < n + warm; i++) {
        one_state o = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
        int64_t t0 = wall_us();
        start_one(&en, one_done, &o, one_stored, &o, arn, sizeof arn);
        pthread_mutex_lock(&o.mu);
        while (!o.done) pthread_cond_wait(&o.cv, &o.mu);
        pthread_mutex_unlock(&o.mu);
        if (!o.ok || !o.stored_us) {
            errors++;
            continue;
        }
        sqlite3_bind_text(q, 1, arn, -1, SQLITE_TRANSIENT);
        int64_t ts = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
        sqlite3_reset(q);
        if (ts < 0) {
            errors++;
            continue;
        }
        if (i < warm) continue;
        entered[got] = (double)((ts + 1) * 1000 - t0) / 1000.0;
        stored[got] = (double)(o.stored_us - t0) / 1000.0;
        got++;
    }
    sqlite3_finalize(q);
    qsort(entered, got, sizeof *entered, cmp_double);
    qsort(stored, got, sizeof *stored, cmp_double);
    printf("latency: %u executions one at a time, %u errors: sfn_start -> first StateEntered "
           "(history ts, upper bound) p50 %.3f ms p99 %.3f ms max %.3f ms; sfn_start -> "
           "on_stored (durable) p50 %.3f ms p99 %.3f ms max %.3f ms\n",
           got, errors, pct(entered, got, 50), pct(entered, got, 99), got ? entered[got - 1] : 0,
           pct(stored, got, 50), pct(stored, got, 99), got ? stored[got - 1] : 0);
    printf("RESULT mode=latency n=%u errors=%u entered_p50_ms=%.3f entered_p99_ms=%.3f "
           "stored_p50_ms=%.3f stored_p99_ms=%.3f\n",
           got, errors, pct(entered, got, 50), pct(entered, got, 99), pct(stored, got, 50),
           pct(stored, got, 99));
    free(entered);
    free(stored);
    engine_close(&en);
    return errors ? 1 : 0;
}

static void usage(FILE *f) {
    fputs("usage: states_bench express|standard|latency DEFINITION INPUT [options]\n"
          "  -d, --duration SECS   express/standard: measured seconds (default 3)\n"
          "  -k, --window N        express/standard: executions in flight (default 64)\n"
          "  -t, --threads N       express/standard: threads calling sfn_start (default 1)\n"
          "  -n, --count N         latency: executions (default 2000)\n"
          "environment: BENCH_DIR, where the store's directory is made (default /var/tmp)\n",
          f);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        usage(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc > 1 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    const char *mode = argv[1], *def = argv[2], *input = argv[3];
    double secs = 3;
    unsigned window = 64, count = 2000, threads = 1;
    static const struct option longopts[] = {
        {"duration", required_argument, 0, 'd'}, {"window", required_argument, 0, 'k'},
        {"count", required_argument, 0, 'n'},    {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c;
    optind = 4;
    while ((c = getopt_long(argc, argv, "d:k:n:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': secs = strtod(optarg, NULL); break;
        case 'k': window = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (secs <= 0 || window < 1 || count < 1 || threads < 1)
        die("bad --duration, --window, --count or --threads");
    if (!strcmp(mode, "express")) return mode_loop(def, input, true, secs, window, threads);
    if (!strcmp(mode, "standard")) return mode_loop(def, input, false, secs, window, threads);
    if (!strcmp(mode, "latency")) return mode_latency(def, input, count);
    usage(stderr);
    return 2;
}
