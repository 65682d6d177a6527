/* tasks_bench: ECS task figures for Sluice's benchmarks (bench/tasks/run).
 *
 *   tasks_bench floor      [-n 2000] [-c 16] [-d 3]
 *       The floor: fork + exec of /bin/true from C, one at a time. "Running" is the moment the
 *       child's close-on-exec pipe reads EOF (the exec happened); p50/p99 of fork -> exec, and
 *       fork+exec+wait per second with C in flight for D seconds.
 *   tasks_bench supervisor [-n 2000] [-c 16] [-d 3]
 *       The same through Sluice's container supervisor in process (sl_container_start with the
 *       host driver, no limits): sl_container_start returns once the exec happened, so its
 *       duration is "start -> running"; then containers/s with C in flight (start -> on_exit).
 *   tasks_bench register -e URL --family F            prints a task definition ARN (image host,
 *                                                     command /bin/true)
 *   tasks_bench run   -e URL --td ARN [-n 300]
 *       RunTask (count 1) one at a time, the wall clock (µs) taken just before each request;
 *       once all are STOPPED, DescribeTasks gives each task's startedAt (when Sluice recorded
 *       it RUNNING; whole milliseconds, so the figure is an upper bound: startedAt + 1 ms -
 *       call). Also the RunTask round trip.
 *   tasks_bench burst -e URL --td ARN [-n 200]
 *       N tasks at once (RunTask count 10, N/10 calls back to back), then DescribeTasks until
 *       every one is STOPPED: tasks/s from the first call to the last STOPPED, and how many
 *       ended with exit 0 (lost = not STOPPED within 120 s, or no exit code).
 *
 * Over HTTP the client speaks ECS's JSON 1.1 protocol as an SDK does (X-Amz-Target
 * AmazonEC2ContainerServiceV20141113.<Operation>, libcurl's SigV4 "aws:amz:REGION:ecs").
 * The last line is machine-readable: RESULT mode=... key=value ... */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "tasks_bench"
#include "../bench_curl.h"
#include "../bench_util.h"

#include "tasks/container.h"

typedef struct {
    const char *endpoint, *userpwd, *region, *family, *td;
    unsigned n, conc;
    double duration;
} opts;

/* The p-th percentile (nearest rank) of v, sorted in place. */
/* pct() of values not yet sorted (sorts them in place). */
static double pct_sort(double *v, size_t n, double p) {
    qsort(v, n, sizeof *v, cmp_double);
    return pct(v, n, p);
}

/* ---- floor: fork + exec ---------------------------------------------------------------- */

extern char **environ;

/* Forks /bin/true; returns its pid once the exec happened (the CLOEXEC pipe reads EOF). */
static pid_t spawn_true(void) {
    int p[2];
    if (pipe2(p, O_CLOEXEC)) die("pipe2: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        char *argv[] = {"/bin/true", NULL};
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(p[1]);
    char c;
    while (read(p[0], &c, 1) < 0 && errno == EINTR) {}
    close(p[0]);
    return pid;
}

static int mode_floor(const opts *o) {
    double *lat = calloc(o->n, sizeof *lat);
    if (!lat) die("out of memory");
    for (unsigned i = 0; i < o->n / 10; i++) waitpid(spawn_true(), NULL, 0); /* warm-up */
    for (unsigned i = 0; i < o->n; i++) {
        double t0 = now_s();
        pid_t pid = spawn_true();
        lat[i] = (now_s() - t0) * 1e3;
        waitpid(pid, NULL, 0);
    }
    double p50 = pct_sort(lat, o->n, 50), p99 = pct_sort(lat, o->n, 99);
    unsigned inflight = 0;
    uint64_t done = 0;
    double t0 = now_s(), end = t0 + o->duration;
    while (now_s() < end) {
        while (inflight < o->conc) {
            spawn_true();
            inflight++;
        }
        int st;
        if (waitpid(-1, &st, 0) > 0) {
            inflight--;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) done++;
        }
    }
    double secs = now_s() - t0;
    while (inflight && waitpid(-1, NULL, 0) > 0) inflight--;
    printf("RESULT mode=floor n=%u running_p50_ms=%.3f running_p99_ms=%.3f conc=%u procs_s=%.0f\n",
           o->n, p50, p99, o->conc, (double)done / secs);
    free(lat);
    return 0;
}

/* ---- supervisor: sl_container_start in process ------------------------------------------ */

static pthread_mutex_t sup_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sup_cond = PTHREAD_COND_INITIALIZER;
static unsigned sup_exited, sup_ok;

static void sup_on_exit(void *ctx, const sl_container_exit *ex) {
    (void)ctx;
    pthread_mutex_lock(&sup_mu);
    sup_exited++;
    if (ex->exit_code == 0) sup_ok++;
    pthread_cond_broadcast(&sup_cond);
    pthread_mutex_unlock(&sup_mu);
}

static void sup_on_line(void *ctx, sl_stream s, const char *l, size_t n, int64_t ts) {
    (void)ctx, (void)s, (void)l, (void)n, (void)ts;
}

static int sup_start(sl_supervisor *sup, const char *workdir) {
    static char *argv[] = {"/bin/true", NULL};
    static char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    sl_container_spec spec = {.image = "host",
                              .argv = argv,
                              .envp = envp,
                              .workdir = workdir,
                              .stop_timeout_s = 5,
                              .name = "bench",
                              .on_line = sup_on_line,
                              .on_exit = sup_on_exit};
    sl_container *c = NULL;
    char err[512];
    if (sl_container_start(sup, &spec, &c, err, sizeof err) != 0) {
        fprintf(stderr, "tasks_bench: start: %s\n", err);
        return -1;
    }
    sl_container_release(c);
    return 0;
}

static void sup_wait(unsigned exited) {
    pthread_mutex_lock(&sup_mu);
    while (sup_exited < exited) pthread_cond_wait(&sup_cond, &sup_mu);
    pthread_mutex_unlock(&sup_mu);
}

static int mode_supervisor(const opts *o) {
    char err[512], workdir[] = "/tmp/tasks_bench.XXXXXX";
    if (!mkdtemp(workdir)) die("mkdtemp: %s", strerror(errno));
    sl_supervisor *sup = sl_supervisor_new(NULL, err, sizeof err);
    if (!sup) die("supervisor: %s", err);
    double *lat = calloc(o->n, sizeof *lat);
    if (!lat) die("out of memory");
    unsigned started = 0, failed = 0;
    for (unsigned i = 0; i < o->n / 10; i++) { /* warm-up */
        if (sup_start(sup, workdir) == 0) sup_wait(++started);
    }
    for (unsigned i = 0; i < o->n; i++) {
        double t0 = now_s();
        if (sup_start(sup, workdir) != 0) {
            failed++;
            continue;
        }
        lat[i - failed] = (now_s() - t0) * 1e3;
        sup_wait(++started);
    }
    size_t nlat = o->n - failed;
    double p50 = pct_sort(lat, nlat, 50), p99 = pct_sort(lat, nlat, 99);
    unsigned ok0 = sup_ok;
    double t0 = now_s(), end = t0 + o->duration;
    while (now_s() < end) {
        pthread_mutex_lock(&sup_mu);
        while (started - sup_exited >= o->conc) pthread_cond_wait(&sup_cond, &sup_mu);
        pthread_mutex_unlock(&sup_mu);
        if (sup_start(sup, workdir) == 0) started++;
        else failed++;
    }
    sup_wait(started);
    double secs = now_s() - t0;
    printf("RESULT mode=supervisor n=%u running_p50_ms=%.3f running_p99_ms=%.3f conc=%u "
           "containers_s=%.0f exit0=%u exited=%u start_failures=%u\n",
           o->n, p50, p99, o->conc, (double)(sup_ok - ok0) / secs, sup_ok, sup_exited, failed);
    sl_supervisor_free(sup);
    free(lat);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", workdir);
    if (system(cmd) != 0) fprintf(stderr, "tasks_bench: could not remove %s\n", workdir);
    return 0;
}

/* ---- HTTP: ECS's JSON 1.1 ------------------------------------------------------------------ */

typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    bench_body resp;
} conn;

/* One ECS call; returns the parsed answer of a 200, dies otherwise. */
static json_t *ecs_call(conn *s, const opts *o, const char *op, json_t *request) {
    char *req = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    if (!s->easy && !(s->easy = curl_easy_init())) die("curl_easy_init failed");
    CURL *e = s->easy;
    bench_curl_json_call(e, &s->headers, &s->resp, o->endpoint, o->region, "ecs", o->userpwd,
                         "application/x-amz-json-1.1", "AmazonEC2ContainerServiceV20141113", op,
                         req);
    CURLcode rc = curl_easy_perform(e);
    free(req);
    if (rc != CURLE_OK) die("%s: %s", op, curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) die("%s: HTTP %ld: %.300s", op, status, s->resp.data ? s->resp.data : "");
    json_error_t je;
    json_t *v = json_loads(s->resp.data, 0, &je);
    if (!v) die("%s: %s", op, je.text);
    return v;
}

static int mode_register(const opts *o) {
    conn s = {0};
    json_t *r = ecs_call(&s, o, "RegisterTaskDefinition",
                         json_pack("{s:s, s:[{s:s, s:s, s:[s], s:b}]}", "family", o->family,
                                   "containerDefinitions", "name", "main", "image", "host",
                                   "command", "/bin/true", "essential", 1));
    puts(json_string_value(
        json_object_get(json_object_get(r, "taskDefinition"), "taskDefinitionArn")));
    json_decref(r);
    return 0;
}

/* RunTask count tasks; appends their ARNs to arns. */
static void run_tasks(conn *s, const opts *o, unsigned count, char **arns, unsigned *n) {
    json_t *r = ecs_call(s, o, "RunTask",
                         json_pack("{s:s, s:i, s:s}", "taskDefinition", o->td, "count", count,
                                   "launchType", "FARGATE"));
    json_t *tasks = json_object_get(r, "tasks"), *t;
    size_t i;
    if (json_array_size(json_object_get(r, "failures"))) die("RunTask failures: %s", s->resp.data);
    json_array_foreach(tasks, i, t) arns[(*n)++] =
        strdup(json_string_value(json_object_get(t, "taskArn")));
    json_decref(r);
}

typedef struct {
    bool stopped;
    int exit_code;                 /* -1: none */
    double started_at, stopped_at; /* epoch seconds */
} task_state;

/* DescribeTasks (100 at a time) for the tasks not yet STOPPED; returns how many are STOPPED. */
static unsigned describe(conn *s, const opts *o, char **arns, task_state *st, unsigned n) {
    unsigned stopped = 0;
    for (unsigned i = 0; i < n;) {
        json_t *list = json_array();
        unsigned idx[100], k = 0;
        for (; i < n && k < 100; i++)
            if (!st[i].stopped) {
                idx[k++] = i;
                json_array_append_new(list, json_string(arns[i]));
            }
        if (!k) {
            json_decref(list);
            break;
        }
        json_t *r = ecs_call(s, o, "DescribeTasks", json_pack("{s:o}", "tasks", list)), *t;
        size_t j;
        json_array_foreach(json_object_get(r, "tasks"), j, t) {
            const char *arn = json_string_value(json_object_get(t, "taskArn"));
            const char *ls = json_string_value(json_object_get(t, "lastStatus"));
            for (unsigned m = 0; m < k; m++) {
                if (!arn || strcmp(arn, arns[idx[m]])) continue;
                task_state *ts = &st[idx[m]];
                if (ls && !strcmp(ls, "STOPPED")) {
                    ts->stopped = true;
                    ts->started_at = json_number_value(json_object_get(t, "startedAt"));
                    ts->stopped_at = json_number_value(json_object_get(t, "stoppedAt"));
                    json_t *ec = json_object_get(
                        json_array_get(json_object_get(t, "containers"), 0), "exitCode");
                    ts->exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : -1;
                }
            }
        }
        json_decref(r);
    }
    for (unsigned i = 0; i < n; i++) stopped += st[i].stopped;
    return stopped;
}

static unsigned wait_stopped(conn *s, const opts *o, char **arns, task_state *st, unsigned n,
                             double timeout_s) {
    double end = now_s() + timeout_s;
    unsigned stopped;
    while ((stopped = describe(s, o, arns, st, n)) < n && now_s() < end) usleep(10000);
    return stopped;
}

static int mode_run(const opts *o) {
    conn s = {0};
    char **arns = calloc(o->n, sizeof *arns);
    task_state *st = calloc(o->n, sizeof *st);
    double *rtt = calloc(o->n, sizeof *rtt), *run = calloc(o->n, sizeof *run);
    int64_t *t0 = calloc(o->n, sizeof *t0);
    if (!arns || !st || !rtt || !run || !t0) die("out of memory");
    unsigned n = 0;
    for (unsigned i = 0; i < 10 && i < o->n; i++) { /* warm-up: connection, first task */
        unsigned w = 0;
        char *warm[1];
        task_state ws[1] = {{0}};
        run_tasks(&s, o, 1, warm, &w);
        wait_stopped(&s, o, warm, ws, 1, 30);
        free(warm[0]);
    }
    for (unsigned i = 0; i < o->n; i++) {
        t0[i] = wall_us();
        double m0 = now_s();
        run_tasks(&s, o, 1, arns, &n);
        rtt[i] = (now_s() - m0) * 1e3;
        /* one at a time: the next RunTask once this one is STOPPED, so none queues behind it */
        wait_stopped(&s, o, arns + i, st + i, 1, 30);
    }
    unsigned nrun = 0, exit0 = 0;
    for (unsigned i = 0; i < n; i++) {
        if (st[i].stopped && st[i].started_at > 0)
            run[nrun++] = st[i].started_at * 1e3 + 1.0 - (double)t0[i] / 1e3;
        exit0 += st[i].stopped && st[i].exit_code == 0;
    }
    printf("RESULT mode=run n=%u exit0=%u rtt_p50_ms=%.2f rtt_p99_ms=%.2f running_p50_ms=%.2f "
           "running_p99_ms=%.2f\n",
           n, exit0, pct_sort(rtt, n, 50), pct_sort(rtt, n, 99), pct_sort(run, nrun, 50),
           pct_sort(run, nrun, 99));
    return 0;
}

static int mode_burst(const opts *o) {
    conn s = {0};
    char **arns = calloc(o->n + 10, sizeof *arns);
    task_state *st = calloc(o->n + 10, sizeof *st);
    if (!arns || !st) die("out of memory");
    unsigned n = 0;
    double t0 = now_s();
    while (n < o->n) run_tasks(&s, o, o->n - n < 10 ? o->n - n : 10, arns, &n);
    double submitted = now_s() - t0;
    unsigned stopped = wait_stopped(&s, o, arns, st, n, 120);
    double secs = now_s() - t0;
    unsigned exit0 = 0;
    double last_stop = 0, first_start = 1e18;
    for (unsigned i = 0; i < n; i++) {
        exit0 += st[i].stopped && st[i].exit_code == 0;
        if (st[i].stopped_at > last_stop) last_stop = st[i].stopped_at;
        if (st[i].started_at > 0 && st[i].started_at < first_start) first_start = st[i].started_at;
    }
    printf(
        "RESULT mode=burst n=%u stopped=%u exit0=%u lost=%u submit_s=%.3f secs=%.3f tasks_s=%.0f "
        "recorded_span_s=%.3f\n",
        n, stopped, exit0, n - exit0, submitted, secs, (double)exit0 / secs,
        last_stop > first_start ? last_stop - first_start : 0.0);
    return exit0 == n ? 0 : 1;
}

static void usage(FILE *f) {
    fputs("usage: tasks_bench floor|supervisor [-n N] [-c C] [-d SECS]\n"
          "       tasks_bench register -e URL --family NAME\n"
          "       tasks_bench run|burst -e URL --td ARN [-n N]\n"
          "  -u ACCESS:SECRET (default test:test), -r REGION (default us-east-1)\n",
          f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *mode = argv[1];
    opts o = {.userpwd = "test:test", .region = "us-east-1", .n = 0, .conc = 16, .duration = 3};
    static const struct option lo[] = {{"family", required_argument, NULL, 'f'},
                                       {"td", required_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "e:u:r:n:c:d:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'e': o.endpoint = optarg; break;
        case 'u': o.userpwd = optarg; break;
        case 'r': o.region = optarg; break;
        case 'n': o.n = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'c': o.conc = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': o.duration = strtod(optarg, NULL); break;
        case 'f': o.family = optarg; break;
        case 't': o.td = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o.conc) o.conc = 1;
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(mode, "floor")) {
        if (!o.n) o.n = 2000;
        return mode_floor(&o);
    }
    if (!strcmp(mode, "supervisor")) {
        if (!o.n) o.n = 2000;
        return mode_supervisor(&o);
    }
    if (!o.endpoint) die("%s needs -e URL", mode);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!strcmp(mode, "register")) {
        if (!o.family) die("register needs --family");
        return mode_register(&o);
    }
    if (!o.td) die("%s needs --td ARN", mode);
    if (!strcmp(mode, "run")) {
        if (!o.n) o.n = 300;
        return mode_run(&o);
    }
    if (!strcmp(mode, "burst")) {
        if (!o.n) o.n = 200;
        return mode_burst(&o);
    }
    usage(stderr);
    return 2;
}
