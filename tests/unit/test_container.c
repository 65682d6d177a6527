/* test_container: the supervisor and its drivers, run for real. The host driver: streams
 * split into lines per stream, exit codes, the exact environment, argv kept element by element,
 * the working directory, stop (TERM, then KILL for a process that traps TERM), the command's
 * children killed with it, OOM under the memory limit, 50 containers at once each reported
 * once, and the same on the SIGCHLD path (SLUICE_NO_PIDFD). The sandbox (bwrap) and oci
 * (crun/runc with a busybox rootfs) drivers run when installed and say why when skipped. The
 * docker driver runs against the engine named by SLUICE_TEST_DOCKER_SOCKET and
 * SLUICE_TEST_DOCKER_IMAGE when set (`podman system service`, see the report in docs), and
 * always against a small Docker-API server in this file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ids.h"
#include "tasks/container.h"
#include "tasks/container_internal.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    sl_buf out, err;
    int out_lines, err_lines;
    size_t longest;
    int exits;
    sl_container_exit ex;
} collector;

static void col_init(collector *c) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    sl_buf_init(&c->out);
    sl_buf_init(&c->err);
}

static void col_free(collector *c) {
    sl_buf_free(&c->out);
    sl_buf_free(&c->err);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
}

static void on_line(void *ctx, sl_stream s, const char *line, size_t len, int64_t ts) {
    collector *c = ctx;
    pthread_mutex_lock(&c->mu);
    assert_true(ts > 1600000000000LL);
    sl_buf *b = s == SL_STREAM_STDOUT ? &c->out : &c->err;
    sl_buf_append(b, line, len);
    sl_buf_putc(b, '\n');
    if (s == SL_STREAM_STDOUT) c->out_lines++;
    else c->err_lines++;
    if (len > c->longest) c->longest = len;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static void on_exit_cb(void *ctx, const sl_container_exit *ex) {
    collector *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->exits++;
    c->ex = *ex;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* Waits until the exit arrived (true) or ms passed. */
static bool wait_exit(collector *c, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&c->mu);
    while (c->exits == 0)
        if (pthread_cond_timedwait(&c->cond, &c->mu, &ts) != 0) break;
    bool got = c->exits > 0;
    pthread_mutex_unlock(&c->mu);
    return got;
}

static bool wait_output(collector *c, const char *needle, int ms) {
    int64_t end = sl_mono_ms() + ms;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool found = c->out.data && strstr(c->out.data, needle);
        pthread_mutex_unlock(&c->mu);
        if (found) return true;
        if (sl_mono_ms() > end) return false;
        usleep(10000);
    }
}

static char *default_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", NULL};

static sl_container_spec spec_for(collector *col, char **argv) {
    sl_container_spec s;
    memset(&s, 0, sizeof s);
    s.image = "host";
    s.argv = argv;
    s.envp = default_env;
    s.stop_timeout_s = 30;
    s.name = "test/main";
    s.on_line = on_line;
    s.on_exit = on_exit_cb;
    s.ctx = col;
    return s;
}

static int sup_setup(void **state) {
    char err[256];
    sl_supervisor *s = sl_supervisor_new("sluice-test", err, sizeof err);
    if (!s) fprintf(stderr, "supervisor: %s\n", err);
    *state = s;
    return s ? 0 : -1;
}

static int sup_setup_no_pidfd(void **state) {
    setenv("SLUICE_NO_PIDFD", "1", 1);
    int rc = sup_setup(state);
    unsetenv("SLUICE_NO_PIDFD");
    return rc;
}

static int sup_teardown(void **state) {
    sl_supervisor_free(*state);
    return 0;
}

/* Runs argv to its end on the host driver; asserts one exit. */
static void run_to_end(sl_supervisor *sup, sl_container_spec *spec, collector *col) {
    char err[512];
    sl_container *c = NULL;
    int rc = sl_container_start(sup, spec, &c, err, sizeof err);
    if (rc != 0) fail_msg("start: %s", err);
    assert_true(wait_exit(col, 20000));
    sl_container_release(c);
    usleep(20000);
    assert_int_equal(col->exits, 1);
}

static void test_streams_and_exit_code(void **state) {
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; echo out2; printf tail; exit 3",
                    NULL};
    sl_container_spec spec = spec_for(&col, argv);
    run_to_end(*state, &spec, &col);
    assert_string_equal(col.out.data, "out\nout2\ntail\n");
    assert_string_equal(col.err.data, "err\n");
    assert_int_equal(col.ex.exit_code, 3);
    assert_int_equal(col.ex.signal, 0);
    assert_false(col.ex.oom_killed);
    assert_false(col.ex.stopped);
    assert_string_equal(col.ex.reason, "");
    assert_true(col.ex.stopped_ms >= col.ex.started_ms);
    col_free(&col);
}

static void test_exact_environment(void **state) {
    collector col;
    col_init(&col);
    char *env[] = {"A=1", "B=two words", "EMPTY=", "PATH=/usr/bin:/bin", NULL};
    char *argv[] = {"env", "-0", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    spec.envp = env;
    run_to_end(*state, &spec, &col);
    const char want[] = "A=1\0B=two words\0EMPTY=\0PATH=/usr/bin:/bin\0\n";
    assert_int_equal(col.out.len, sizeof want - 1);
    assert_memory_equal(col.out.data, want, sizeof want - 1);
    col_free(&col);
}

static void test_argv_elements(void **state) {
    collector col;
    col_init(&col);
    char *argv[] = {"printf", "[%s]\\n", "a b", "c", "", "'q' \"d\" $HOME", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    run_to_end(*state, &spec, &col);
    assert_string_equal(col.out.data, "[a b]\n[c]\n[]\n['q' \"d\" $HOME]\n");
    assert_int_equal(col.ex.exit_code, 0);
    col_free(&col);
}

static void test_workdir_created(void **state) {
    collector col;
    col_init(&col);
    char tmpl[] = "/tmp/sluice-ctr-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char wd[256], want[300];
    snprintf(wd, sizeof wd, "%s/a/b", tmpl);
    snprintf(want, sizeof want, "%s\n", wd);
    char *argv[] = {"/bin/pwd", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    spec.workdir = wd;
    run_to_end(*state, &spec, &col);
    assert_string_equal(col.out.data, want);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    assert_int_equal(system(cmd), 0);
    col_free(&col);
}

static void test_missing_command(void **state) {
    collector col;
    col_init(&col);
    char *argv[] = {"no-such-command-sluice", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    char err[512];
    sl_container *c = NULL;
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), -1);
    assert_null(c);
    assert_non_null(strstr(err, "CannotStartContainerError"));
    assert_non_null(strstr(err, "no-such-command-sluice"));
    char *argv2[] = {"/bin/true", NULL};
    spec = spec_for(&col, argv2);
    spec.workdir = "/proc/version/x"; /* cannot be created */
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "workdir"));
    usleep(50000);
    assert_int_equal(col.exits, 0);
    col_free(&col);
}

static void test_long_lines_split(void **state) {
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c",
                    "head -c 600000 /dev/zero | tr '\\0' x; echo; echo short; "
                    "head -c 262144 /dev/zero | tr '\\0' y; echo",
                    NULL};
    sl_container_spec spec = spec_for(&col, argv);
    run_to_end(*state, &spec, &col);
    /* 600000 = 262144 + 262144 + 75712; a line of exactly the limit is one piece */
    assert_int_equal(col.out_lines, 5);
    assert_int_equal(col.longest, SL_LINE_MAX);
    assert_int_equal(col.out.len, 600000 + 3 + 6 + 262144 + 1); /* a newline per piece */
    assert_non_null(strstr(col.out.data, "\nshort\n"));
    col_free(&col);
}

static void test_stop_term_then_kill(void **state) {
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c",
                    "trap 'echo got-term' TERM; echo ready; while :; do sleep 0.05; done", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    spec.stop_timeout_s = 1;
    char err[512];
    sl_container *c = NULL;
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), 0);
    assert_true(sl_container_pid(c) > 0);
    assert_true(wait_output(&col, "ready\n", 5000));
    int64_t t0 = sl_mono_ms();
    sl_container_stop(c);
    sl_container_stop(c); /* twice is once */
    assert_true(wait_exit(&col, 10000));
    int64_t took = sl_mono_ms() - t0;
    assert_true(took >= 900 && took < 5000);
    assert_true(wait_output(&col, "got-term\n", 100));
    assert_int_equal(col.ex.signal, SIGKILL);
    assert_int_equal(col.ex.exit_code, 128 + SIGKILL);
    assert_true(col.ex.stopped);
    sl_container_release(c);
    col_free(&col);
}

static bool process_gone(pid_t pid) {
    for (int i = 0; i < 200; i++) {
        char path[64], buf[256] = "";
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f) return true;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *rp = strrchr(buf, ')');
        if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X')) return true;
        usleep(10000);
    }
    return false;
}

static void test_stop_kills_children(void **state) {
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c", "sleep 1000 & echo $!; wait", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    char err[512];
    sl_container *c = NULL;
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), 0);
    assert_true(wait_output(&col, "\n", 5000));
    pid_t child = (pid_t)atoi(col.out.data);
    assert_true(child > 0);
    assert_int_equal(kill(child, 0), 0);
    sl_container_stop(c);
    assert_true(wait_exit(&col, 10000));
    assert_int_equal(col.ex.signal, SIGTERM);
    assert_true(process_gone(child));
    sl_container_release(c);
    col_free(&col);
}

static void test_leader_exit_kills_group(void **state) {
    /* The command returns while a child still holds its stdout: the exit is reported
     * promptly and the child does not outlive its container. */
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c", "sleep 1000 & echo $!; exit 7", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    int64_t t0 = sl_mono_ms();
    run_to_end(*state, &spec, &col);
    assert_true(sl_mono_ms() - t0 < 3000);
    assert_int_equal(col.ex.exit_code, 7);
    assert_true(process_gone((pid_t)atoi(col.out.data)));
    col_free(&col);
}

static void test_memory_limit(void **state) {
    collector col;
    col_init(&col);
    char *argv[] = {"python3", "-c", "a = ' ' * (400 << 20); print('survived')", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    extern char **environ;
    spec.envp = environ; /* python3 may be a pyenv shim needing HOME and friends */
    spec.memory_mib = 64;
    spec.memory_reservation_mib = 32;
    spec.cpu_units = 512;
    char err[512];
    sl_container *c = NULL;
    if (sl_container_start(*state, &spec, &c, err, sizeof err) != 0) {
        col_free(&col);
        skip(); /* no python3 */
    }
    assert_true(wait_exit(&col, 30000));
    sl_container_release(c);
    char *report = sl_container_drivers_report(NULL);
    bool cgroups = !strstr(report, "rlimits only");
    free(report);
    assert_null(strstr(col.out.data ? col.out.data : "", "survived"));
    if (cgroups) {
        assert_true(col.ex.oom_killed);
        assert_int_equal(col.ex.signal, SIGKILL);
        assert_string_equal(col.ex.reason,
                            "OutOfMemoryError: Container killed due to memory usage");
    } else { /* RLIMIT_AS: the allocation fails inside python */
        assert_int_not_equal(col.ex.exit_code, 0);
        assert_non_null(strstr(col.err.data, "MemoryError"));
    }
    col_free(&col);
}

#define MANY 50
static void test_many_concurrent(void **state) {
    collector cols[MANY];
    sl_container *cs[MANY];
    char err[512];
    char *argv[] = {"/bin/sh", "-c", "echo $$; exit $(( $$ % 7 ))", NULL};
    for (int i = 0; i < MANY; i++) {
        col_init(&cols[i]);
        sl_container_spec spec = spec_for(&cols[i], argv);
        assert_int_equal(sl_container_start(*state, &spec, &cs[i], err, sizeof err), 0);
    }
    for (int i = 0; i < MANY; i++) {
        assert_true(wait_exit(&cols[i], 20000));
        sl_container_release(cs[i]);
    }
    usleep(100000);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(cols[i].exits, 1);
        int pid = atoi(cols[i].out.data);
        assert_int_equal(cols[i].ex.exit_code, pid % 7);
        col_free(&cols[i]);
    }
}

static void test_release_before_exit(void **state) {
    /* The caller may drop its handle at once: on_exit still comes, the supervisor frees. */
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c", "sleep 0.2; echo late", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    char err[512];
    assert_int_equal(sl_container_start(*state, &spec, NULL, err, sizeof err), 0);
    assert_true(wait_exit(&col, 5000));
    assert_string_equal(col.out.data, "late\n");
    col_free(&col);
}

static void test_free_kills_running(void **state) {
    (void)state;
    char err[256];
    sl_supervisor *sup = sl_supervisor_new("sluice-test", err, sizeof err);
    assert_non_null(sup);
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; sleep 1000", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    sl_container *c = NULL;
    assert_int_equal(sl_container_start(sup, &spec, &c, err, sizeof err), 0);
    sl_supervisor_free(sup); /* on_exit before it returns */
    assert_int_equal(col.exits, 1);
    assert_int_equal(col.ex.signal, SIGKILL);
    col_free(&col);
}

static void test_report(void **state) {
    (void)state;
    char *r = sl_container_drivers_report(NULL);
    assert_non_null(strstr(r, "host: yes"));
    assert_non_null(strstr(r, "sandbox: "));
    assert_non_null(strstr(r, "oci: "));
    assert_non_null(strstr(r, "docker: no (no Docker Engine socket configured)"));
    print_message("%s", r);
    free(r);
    r = sl_container_drivers_report("/nonexistent/docker.sock");
    assert_non_null(strstr(r, "docker: no (/nonexistent/docker.sock: cannot connect"));
    free(r);
}

/* ---- sandbox ---- */

static bool have_program(const char *name) {
    char path[4096];
    return sl_find_program(name, getenv("PATH"), path, sizeof path) == 0;
}

static void test_sandbox(void **state) {
    if (!have_program("bwrap")) {
        print_message("SKIPPED sandbox: bwrap is not installed (scripts/deps installs it)\n");
        skip();
    }
    collector col;
    col_init(&col);
    char tmpl[] = "/tmp/sluice-sbx-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char hostdir[300], cmd[400];
    snprintf(hostdir, sizeof hostdir, "%s/root", tmpl);
    char *argv[] = {"/bin/sh", "-c",
                    "pwd; echo data > f; echo private > /tmp/p; cat /tmp/p; "
                    "touch /usr/sluice-x 2>/dev/null || echo read-only; "
                    "echo pid=$$; tail -n +3 /proc/net/dev | wc -l; exit 4",
                    NULL};
    sl_container_spec spec = spec_for(&col, argv);
    spec.image = "sandbox";
    spec.workdir = "/tmp/inside/dir"; /* bwrap makes it in the sandbox's own /tmp */
    spec.sandbox_root_dir = hostdir;
    spec.no_network = true;
    run_to_end(*state, &spec, &col);
    /* in its own pid namespace the shell is pid 2 (bwrap's init is 1) */
    assert_string_equal(col.out.data, "/tmp/inside/dir\nprivate\nread-only\npid=2\n1\n");
    assert_int_equal(col.ex.exit_code, 4);
    snprintf(cmd, sizeof cmd, "%s/f", hostdir);
    struct stat st;
    assert_int_equal(stat(cmd, &st), 0); /* written through the bind */
    assert_int_not_equal(access("/tmp/p", F_OK) == 0 && access("/usr/sluice-x", F_OK) == 0, 1);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    assert_int_equal(system(cmd), 0);
    col_free(&col);
}

static void test_sandbox_stop(void **state) {
    if (!have_program("bwrap")) skip();
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 1000", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    spec.image = "sandbox";
    spec.workdir = "/tmp/sluice-sbx-stop";
    spec.stop_timeout_s = 1;
    char err[512];
    sl_container *c = NULL;
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), 0);
    assert_true(wait_output(&col, "ready\n", 5000));
    sl_container_stop(c);
    assert_true(wait_exit(&col, 10000));
    assert_true(col.ex.stopped);
    assert_int_not_equal(col.ex.exit_code, 0);
    sl_container_release(c);
    rmdir("/tmp/sluice-sbx-stop");
    col_free(&col);
}

/* ---- oci ---- */

static void test_oci(void **state) {
    char rt[4096];
    if (!sl_oci_runtime(rt, sizeof rt)) {
        print_message(
            "SKIPPED oci: neither crun nor runc installed (scripts/deps installs runc)\n");
        skip();
    }
    if (access("/bin/busybox", X_OK) != 0) {
        print_message("SKIPPED oci: /bin/busybox missing (package busybox-static)\n");
        skip();
    }
    char tmpl[] = "/tmp/sluice-oci-test-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/rootfs/bin %s/work && cp /bin/busybox %s/rootfs/bin/ && "
             "ln -s busybox %s/rootfs/bin/sh && echo hello > %s/work/in",
             tmpl, tmpl, tmpl, tmpl, tmpl);
    assert_int_equal(system(cmd), 0);
    char image[300], workdir[300];
    snprintf(image, sizeof image, "oci:%s/rootfs", tmpl);
    snprintf(workdir, sizeof workdir, "%s/work", tmpl);
    collector col;
    col_init(&col);
    char *env[] = {"PATH=/bin", "X=y z", NULL};
    char *argv[] = {"/bin/sh", "-c",
                    "echo out; echo err >&2; pwd; cat in; echo $X; echo $$; "
                    "echo made > out; exit 5",
                    NULL};
    sl_container_spec spec = spec_for(&col, argv);
    spec.image = image;
    spec.envp = env;
    spec.workdir = workdir;
    spec.memory_mib = 128;
    spec.no_network = true;
    run_to_end(*state, &spec, &col);
    char want[700];
    snprintf(want, sizeof want, "out\n%s\nhello\ny z\n1\n", workdir);
    assert_string_equal(col.out.data, want);
    assert_string_equal(col.err.data, "err\n");
    assert_int_equal(col.ex.exit_code, 5);
    snprintf(cmd, sizeof cmd, "grep -q made %s/work/out", tmpl);
    assert_int_equal(system(cmd), 0);

    /* stop through the runtime: TERM is ignored by pid 1 in a pid namespace without a
     * handler, so this is the SIGKILL after the timeout */
    collector col2;
    col_init(&col2);
    char *argv2[] = {"/bin/sh", "-c", "echo ready; sleep 1000", NULL};
    spec = spec_for(&col2, argv2);
    spec.image = image;
    spec.envp = env;
    spec.workdir = workdir;
    spec.stop_timeout_s = 1;
    char err[512];
    sl_container *c = NULL;
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), 0);
    assert_true(wait_output(&col2, "ready\n", 10000));
    sl_container_stop(c);
    assert_true(wait_exit(&col2, 15000));
    assert_true(col2.ex.stopped);
    assert_int_not_equal(col2.ex.exit_code, 0);
    sl_container_release(c);

    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    assert_int_equal(system(cmd), 0);
    col_free(&col);
    col_free(&col2);
}

/* ---- docker: a small Docker Engine API server ---- */

typedef struct {
    char path[108];
    int lfd;
    pthread_t thread;
    bool stop;
    int creates, deletes, kills;
    char last_create[4096];
} fake_engine;

static void fe_reply(int fd, const char *status, const char *body) {
    char head[256];
    snprintf(head, sizeof head,
             "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", status,
             strlen(body));
    if (write(fd, head, strlen(head)) < 0 || write(fd, body, strlen(body)) < 0) return;
}

static void fe_chunk(int fd, const void *p, size_t n) {
    char h[32];
    snprintf(h, sizeof h, "%zx\r\n", n);
    if (write(fd, h, strlen(h)) < 0 || write(fd, p, n) < 0 || write(fd, "\r\n", 2) < 0) return;
}

static void fe_frame(int fd, int stream, const char *text) {
    unsigned char f[512];
    size_t n = strlen(text);
    f[0] = (unsigned char)stream, f[1] = f[2] = f[3] = 0;
    f[4] = 0, f[5] = 0, f[6] = (unsigned char)(n >> 8), f[7] = (unsigned char)n;
    memcpy(f + 8, text, n);
    /* split a frame across two chunks to exercise the demuxer's state */
    fe_chunk(fd, f, 5);
    fe_chunk(fd, f + 5, n + 3);
}

static void *fe_main(void *arg) {
    fake_engine *fe = arg;
    for (;;) {
        int fd = accept(fe->lfd, NULL, NULL);
        if (fd < 0) return NULL;
        if (fe->stop) {
            close(fd);
            return NULL;
        }
        char req[8192];
        size_t len = 0;
        for (;;) { /* read head and Content-Length body */
            ssize_t r = read(fd, req + len, sizeof req - 1 - len);
            if (r <= 0) break;
            len += (size_t)r;
            req[len] = 0;
            char *end = strstr(req, "\r\n\r\n");
            if (!end) continue;
            char *cl = strstr(req, "Content-Length: ");
            size_t want = cl ? (size_t)atoi(cl + 16) : 0;
            if (len >= (size_t)(end + 4 - req) + want) break;
        }
        req[len] = 0;
        char *body = strstr(req, "\r\n\r\n");
        body = body ? body + 4 : req + len;
        if (strstr(req, "POST /v1.41/containers/create")) {
            fe->creates++;
            snprintf(fe->last_create, sizeof fe->last_create, "%s", body);
            if (strstr(body, "\"Image\":\"missing:latest\""))
                fe_reply(fd, "404 Not Found", "{\"message\":\"No such image: missing:latest\"}");
            else fe_reply(fd, "201 Created", "{\"Id\":\"abc123\",\"Warnings\":[]}");
        } else if (strstr(req, "/start ")) {
            fe_reply(fd, "204 No Content", "");
        } else if (strstr(req, "/logs?")) {
            const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-"
                            "stream\r\nTransfer-Encoding: chunked\r\n\r\n";
            if (write(fd, h, strlen(h)) < 0) {}
            fe_frame(fd, 1, "out\npart");
            fe_frame(fd, 2, "err\n");
            fe_frame(fd, 1, "ial\n");
            if (write(fd, "0\r\n\r\n", 5) < 0) {}
        } else if (strstr(req, "/wait ")) {
            usleep(100000);
            fe_reply(fd, "200 OK", "{\"StatusCode\":3,\"Error\":null}");
        } else if (strstr(req, "/kill?")) {
            fe->kills++;
            fe_reply(fd, "204 No Content", "");
        } else if (strstr(req, "GET /v1.41/containers/abc123/json")) {
            fe_reply(fd, "200 OK", "{\"State\":{\"OOMKilled\":false,\"ExitCode\":3}}");
        } else if (strstr(req, "DELETE /v1.41/containers/abc123")) {
            fe->deletes++;
            fe_reply(fd, "204 No Content", "");
        } else if (strstr(req, "GET /v1.41/version")) {
            fe_reply(fd, "200 OK", "{\"Version\":\"0.0-test\",\"ApiVersion\":\"1.41\"}");
        } else {
            fe_reply(fd, "404 Not Found", "{\"message\":\"page not found\"}");
        }
        close(fd);
    }
}

static void fe_start(fake_engine *fe) {
    memset(fe, 0, sizeof *fe);
    snprintf(fe->path, sizeof fe->path, "/tmp/sluice-fake-docker-%d.sock", (int)getpid());
    unlink(fe->path);
    fe->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", fe->path);
    assert_int_equal(bind(fe->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fe->lfd, 16), 0);
    pthread_create(&fe->thread, NULL, fe_main, fe);
}

static void fe_stop(fake_engine *fe) {
    fe->stop = true;
    shutdown(fe->lfd, SHUT_RDWR);
    pthread_join(fe->thread, NULL);
    close(fe->lfd);
    unlink(fe->path);
}

static void test_docker_fake_engine(void **state) {
    fake_engine fe;
    fe_start(&fe);
    collector col;
    col_init(&col);
    char *argv[] = {"/bin/sh", "-c", "echo hi", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    spec.image = "alpine:3";
    spec.docker_socket = fe.path;
    spec.workdir = "/tmp/sluice-docker-wd";
    spec.memory_mib = 64;
    spec.cpu_units = 512;
    spec.no_network = true;
    run_to_end(*state, &spec, &col);
    assert_string_equal(col.out.data, "out\npartial\n");
    assert_string_equal(col.err.data, "err\n");
    assert_int_equal(col.ex.exit_code, 3);
    assert_false(col.ex.oom_killed);
    assert_int_equal(fe.creates, 1);
    assert_int_equal(fe.deletes, 1);
    assert_int_equal(sl_container_pid(NULL), -1);
    const char *b = fe.last_create;
    assert_non_null(strstr(b, "\"Image\":\"alpine:3\""));
    assert_non_null(strstr(b, "\"Cmd\":[\"/bin/sh\",\"-c\",\"echo hi\"]"));
    assert_non_null(strstr(b, "\"Memory\":67108864"));
    assert_non_null(strstr(b, "\"NanoCpus\":500000000"));
    assert_non_null(strstr(b, "\"Binds\":[\"/tmp/sluice-docker-wd:/tmp/sluice-docker-wd\"]"));
    assert_non_null(strstr(b, "\"NetworkMode\":\"none\""));
    assert_non_null(strstr(b, "\"WorkingDir\":\"/tmp/sluice-docker-wd\""));

    /* a missing image fails the start, naming it */
    spec.image = "missing:latest";
    char err[512];
    sl_container *c = NULL;
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "CannotPullContainerError: "));
    assert_non_null(strstr(err, "\"missing:latest\""));
    assert_non_null(strstr(err, "No such image"));

    char *r = sl_container_drivers_report(fe.path);
    assert_non_null(strstr(r, "docker: yes"));
    free(r);
    fe_stop(&fe);
    rmdir("/tmp/sluice-docker-wd");
    col_free(&col);

    /* no socket at all */
    collector col2;
    col_init(&col2);
    spec = spec_for(&col2, argv);
    spec.image = "alpine:3";
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "CannotPullContainerError"));
    assert_non_null(strstr(err, "alpine:3"));
    col_free(&col2);
}

static void test_docker_real_engine(void **state) {
    const char *sock = getenv("SLUICE_TEST_DOCKER_SOCKET");
    const char *image = getenv("SLUICE_TEST_DOCKER_IMAGE");
    if (!sock || !image) {
        print_message("SKIPPED docker (real engine): set SLUICE_TEST_DOCKER_SOCKET and "
                      "SLUICE_TEST_DOCKER_IMAGE (an image with /bin/sh)\n");
        skip();
    }
    collector col;
    col_init(&col);
    char *env[] = {"PATH=/bin:/usr/bin", "X=a b", NULL};
    char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; echo $X; pwd; exit 3", NULL};
    sl_container_spec spec = spec_for(&col, argv);
    spec.image = image;
    spec.envp = env;
    spec.docker_socket = sock;
    spec.workdir = "/tmp/sluice-docker-real";
    run_to_end(*state, &spec, &col);
    assert_string_equal(col.out.data, "out\na b\n/tmp/sluice-docker-real\n");
    assert_string_equal(col.err.data, "err\n");
    assert_int_equal(col.ex.exit_code, 3);

    collector col2;
    col_init(&col2);
    char *argv2[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 1000", NULL};
    spec = spec_for(&col2, argv2);
    spec.image = image;
    spec.envp = env;
    spec.docker_socket = sock;
    spec.stop_timeout_s = 1;
    char err[512];
    sl_container *c = NULL;
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), 0);
    assert_true(wait_output(&col2, "ready\n", 15000));
    sl_container_stop(c);
    assert_true(wait_exit(&col2, 15000));
    assert_true(col2.ex.stopped);
    assert_int_equal(col2.ex.exit_code, 137);
    sl_container_release(c);

    spec.image = "sluice-no-such-image:latest";
    assert_int_equal(sl_container_start(*state, &spec, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "CannotPullContainerError"));
    assert_non_null(strstr(err, "sluice-no-such-image:latest"));
    rmdir("/tmp/sluice-docker-real");
    col_free(&col);
    col_free(&col2);
}

/* ---- the parsers, directly ---- */

static void body_to_buf(void *ctx, const char *p, size_t n) { sl_buf_append(ctx, p, n); }

static void test_http_reader(void **state) {
    (void)state;
    const char *ok =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        "\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\nEXTRA";
    for (size_t step = 1; step <= strlen(ok); step++) {
        sl_http_reader r;
        sl_http_reader_init(&r);
        sl_buf b;
        sl_buf_init(&b);
        size_t off = 0;
        while (off < strlen(ok) && !r.done) {
            size_t n = strlen(ok) - off < step ? strlen(ok) - off : step;
            long used = sl_http_reader_feed(&r, ok + off, n, body_to_buf, &b);
            assert_true(used >= 0);
            off += (size_t)used;
        }
        assert_true(r.done);
        assert_int_equal(r.status, 200);
        assert_string_equal(b.data, "abc");
        assert_string_equal(ok + off, "EXTRA");
        sl_buf_free(&b);
    }
    const char *bad[] = {"HTTP/1.1 2x0 OK\r\n", "HTTP/1.1 200 OK\r\nNoColon\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sl_http_reader r;
        sl_http_reader_init(&r);
        assert_int_equal(sl_http_reader_feed(&r, bad[i], strlen(bad[i]), NULL, NULL), -1);
        assert_true(r.errmsg[0] != 0);
    }
    sl_http_reader r;
    sl_http_reader_init(&r);
    const char *close_body = "HTTP/1.0 200 OK\r\n\r\nuntil close";
    sl_buf b;
    sl_buf_init(&b);
    assert_int_equal(sl_http_reader_feed(&r, close_body, strlen(close_body), body_to_buf, &b),
                     (long)strlen(close_body));
    assert_false(r.done);
    assert_int_equal(sl_http_reader_eof(&r), 0);
    assert_string_equal(b.data, "until close");
    sl_buf_free(&b);
    sl_http_reader_init(&r);
    const char *cut = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    sl_http_reader_feed(&r, cut, strlen(cut), NULL, NULL);
    assert_int_equal(sl_http_reader_eof(&r), -1);
}

static void frame_to_buf(void *ctx, int stream, const char *p, size_t n) {
    sl_buf *b = ctx;
    sl_buf_printf(b, "%d:", stream);
    sl_buf_append(b, p, n);
    sl_buf_putc(b, '|');
}

static void test_demux(void **state) {
    (void)state;
    const unsigned char in[] = {1, 0, 0, 0, 0, 0, 0, 2, 'h', 'i', 2, 0, 0,  0,
                                0, 0, 0, 0, 2, 0, 0, 0, 0,   0,   0, 1, '!'};
    sl_docker_demux d;
    sl_docker_demux_init(&d);
    sl_buf b;
    sl_buf_init(&b);
    for (size_t i = 0; i < sizeof in; i++)
        assert_int_equal(sl_docker_demux_feed(&d, (const char *)in + i, 1, frame_to_buf, &b), 0);
    assert_string_equal(b.data, "1:h|1:i|2:!|");
    sl_docker_demux_init(&d);
    const unsigned char badh[] = {3, 0, 0, 0, 0, 0, 0, 1, 'x'};
    assert_int_equal(sl_docker_demux_feed(&d, (const char *)badh, sizeof badh, frame_to_buf, &b),
                     -1);
    sl_buf_free(&b);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest host[] = {
        cmocka_unit_test(test_streams_and_exit_code),
        cmocka_unit_test(test_exact_environment),
        cmocka_unit_test(test_argv_elements),
        cmocka_unit_test(test_workdir_created),
        cmocka_unit_test(test_missing_command),
        cmocka_unit_test(test_long_lines_split),
        cmocka_unit_test(test_stop_term_then_kill),
        cmocka_unit_test(test_stop_kills_children),
        cmocka_unit_test(test_leader_exit_kills_group),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_many_concurrent),
        cmocka_unit_test(test_release_before_exit),
        cmocka_unit_test(test_sandbox),
        cmocka_unit_test(test_sandbox_stop),
        cmocka_unit_test(test_oci),
        cmocka_unit_test(test_docker_fake_engine),
        cmocka_unit_test(test_docker_real_engine),
    };
    const struct CMUnitTest sigchld[] = {
        cmocka_unit_test(test_streams_and_exit_code),
        cmocka_unit_test(test_stop_term_then_kill),
        cmocka_unit_test(test_stop_kills_children),
        cmocka_unit_test(test_leader_exit_kills_group),
        cmocka_unit_test(test_many_concurrent),
    };
    const struct CMUnitTest other[] = {
        cmocka_unit_test(test_free_kills_running),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_http_reader),
        cmocka_unit_test(test_demux),
    };
    int failed = cmocka_run_group_tests_name("pidfd", host, sup_setup, sup_teardown);
    failed += cmocka_run_group_tests_name("sigchld", sigchld, sup_setup_no_pidfd, sup_teardown);
    failed += cmocka_run_group_tests_name("other", other, NULL, NULL);
    return failed ? 1 : 0;
}
