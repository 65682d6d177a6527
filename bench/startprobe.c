/* startprobe: how long a server takes from exec to its first answer, and to stop on SIGTERM.
 *
 * Each run forks and execs the command, then polls tightly (every 100 µs): first for the port
 * file the server writes once listening (--port-file), or straight at a fixed --port, then with
 * a one-shot HTTP GET of --path until it answers 200 (or anything, with --any-status). The
 * clock starts just before fork and stops when the status line arrives. The server is then
 * sent SIGTERM and reaped; that interval is the stop time. "{n}" in any argument of the
 * command becomes the run number, so each run can get a fresh data directory.
 *
 * The CPU time the server's threads used up to that answer is read from schedstat: unlike the
 * wall time, it hardly moves when other work shares the machine.
 *
 * Last line: RESULT runs=N start_ms_median=X start_ms_min=X start_ms_max=X
 *            start_cpu_ms_median=X stop_ms_median=X */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_NS         100000L
#define START_TIMEOUT_S 60.0
#define STOP_TIMEOUT_S  10.0

typedef struct {
    int runs;
    const char *port_file;
    int port;
    const char *path;
    bool any_status;
    const char *log;
    char **argv; /* command, with {n} placeholders */
} probe_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(void) {
    struct timespec ts = {0, POLL_NS};
    nanosleep(&ts, NULL);
}

/* Returns a copy of arg with every "{n}" replaced by run. */
static char *subst(const char *arg, int run) {
    char num[16];
    snprintf(num, sizeof num, "%d", run);
    size_t cap = strlen(arg) * 4 + 32;
    char *out = malloc(cap), *o = out;
    if (!out) exit(2);
    for (const char *p = arg; *p;) {
        if (!strncmp(p, "{n}", 3)) {
            o += sprintf(o, "%s", num);
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int read_port_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    if (buf[n - 1] != '\n') return 0; /* not complete yet: the daemon ends the line */
    int port = atoi(buf);
    return port > 0 && port < 65536 ? port : 0;
}

/* One GET on a fresh connection; returns the HTTP status, or 0 when nothing answered. */
static int http_status(int port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char req[512];
        int len = snprintf(req, sizeof req,
                           "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
                           path, port);
        struct timeval tv = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (write(fd, req, (size_t)len) == len) {
            char resp[64];
            size_t got = 0;
            while (got < 12) {
                ssize_t n = read(fd, resp + got, sizeof resp - 1 - got);
                if (n <= 0) break;
                got += (size_t)n;
            }
            resp[got] = '\0';
            if (got >= 12 && !strncmp(resp, "HTTP/1.", 7)) status = atoi(resp + 9);
        }
    }
    close(fd);
    return status;
}

/* CPU time in ms the process's threads have used so far, from /proc/PID/task/T/schedstat
 * (nanoseconds on CPU): a figure that other load on the machine barely moves, unlike the wall
 * time. Returns -1 where schedstat is not available. */
static double cpu_ms(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    double total = 0;
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char f[128];
        snprintf(f, sizeof f, "/proc/%d/task/%.16s/schedstat", (int)pid, e->d_name);
        FILE *fp = fopen(f, "r");
        if (!fp) continue;
        unsigned long long ns = 0;
        if (fscanf(fp, "%llu", &ns) == 1) total += (double)ns / 1e6, seen++;
        fclose(fp);
    }
    closedir(d);
    return seen ? total : -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs the command once; fills start and stop milliseconds. Returns 0 or -1. */
static int probe_once(const probe_opts *o, int run, double *start_ms, double *port_ms, double *cpu,
                      double *stop_ms) {
    int argc = 0;
    while (o->argv[argc]) argc++;
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    char *port_file = o->port_file ? subst(o->port_file, run) : NULL;
    for (int i = 0; i < argc; i++) argv[i] = subst(o->argv[i], run);
    if (port_file) unlink(port_file);

    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return perror("fork"), -1;
    if (pid == 0) {
        int fd = open(o->log ? o->log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int rc = -1, port = o->port, status = 0;
    while (now_s() - t0 < START_TIMEOUT_S) {
        int ws;
        if (waitpid(pid, &ws, WNOHANG) == pid) {
            fprintf(stderr, "startprobe: %s exited before answering (status %d)\n", argv[0], ws);
            pid = 0;
            break;
        }
        if (port_file && !port) {
            port = read_port_file(port_file);
            if (port) *port_ms = (now_s() - t0) * 1000.0;
        }
        if (port) {
            status = http_status(port, o->path);
            if (status == 200 || (status && o->any_status)) {
                *start_ms = (now_s() - t0) * 1000.0;
                *cpu = cpu_ms(pid);
                rc = 0;
                break;
            }
        }
        nap();
    }
    if (rc != 0 && pid) fprintf(stderr, "startprobe: no answer (last status %d)\n", status);
    if (pid > 0) {
        double t1 = now_s();
        kill(pid, SIGTERM);
        int ws;
        while (waitpid(pid, &ws, WNOHANG) == 0) {
            if (now_s() - t1 > STOP_TIMEOUT_S) {
                fprintf(stderr, "startprobe: no exit %.0f s after SIGTERM; killing\n",
                        STOP_TIMEOUT_S);
                kill(pid, SIGKILL);
                waitpid(pid, &ws, 0);
                rc = -1;
                break;
            }
            nap();
        }
        *stop_ms = (now_s() - t1) * 1000.0;
    }
    for (int i = 0; i < argc; i++) free(argv[i]);
    free(argv);
    free(port_file);
    return rc;
}

static void usage(FILE *f) {
    fputs("usage: startprobe [--runs N] (--port-file F | --port P) [--path P] [--any-status]\n"
          "                  [--log FILE] -- COMMAND [ARGS...]   ({n} = run number)\n",
          f);
}

int main(int argc, char **argv) {
    probe_opts o = {.runs = 20, .path = "/_sluice/health"};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "--runs") && v) o.runs = atoi(v), i++;
        else if (!strcmp(a, "--port-file") && v) o.port_file = v, i++;
        else if (!strcmp(a, "--port") && v) o.port = atoi(v), i++;
        else if (!strcmp(a, "--path") && v) o.path = v, i++;
        else if (!strcmp(a, "--log") && v) o.log = v, i++;
        else if (!strcmp(a, "--any-status")) o.any_status = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), 0;
        else return usage(stderr), 2;
    }
    if (i >= argc || o.runs < 1 || (!o.port_file && !o.port)) return usage(stderr), 2;
    o.argv = argv + i;
    signal(SIGPIPE, SIG_IGN);

    double *start = calloc((size_t)o.runs, sizeof *start);
    double *cpu = calloc((size_t)o.runs, sizeof *cpu);
    double *stop = calloc((size_t)o.runs, sizeof *stop);
    int ok = 0;
    for (int run = 0; run < o.runs; run++) {
        double s = 0, p = 0, c = -1, t = 0;
        if (probe_once(&o, run, &s, &p, &c, &t) != 0) continue;
        if (o.port_file)
            printf("run %d: port file after %.2f ms, healthy after %.2f ms (%.2f ms of CPU), "
                   "stopped in %.2f ms\n",
                   run, p, s, c, t);
        else
            printf("run %d: answered after %.2f ms (%.2f ms of CPU), stopped in %.2f ms\n", run, s,
                   c, t);
        start[ok] = s, cpu[ok] = c, stop[ok] = t, ok++;
    }
    if (ok == 0) {
        printf("RESULT runs=0\n");
        return 1;
    }
    double min = start[0], max = start[0];
    for (int k = 0; k < ok; k++) {
        if (start[k] < min) min = start[k];
        if (start[k] > max) max = start[k];
    }
    double smed = median(start, ok), cmed = median(cpu, ok), tmed = median(stop, ok);
    printf("RESULT runs=%d start_ms_median=%.2f start_ms_min=%.2f start_ms_max=%.2f "
           "start_cpu_ms_median=%.2f stop_ms_median=%.2f\n",
           ok, smed, min, max, cmed, tmed);
    free(start);
    free(cpu);
    free(stop);
    return ok == o.runs ? 0 : 1;
}
