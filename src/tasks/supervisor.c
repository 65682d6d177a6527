/* supervisor: the one thread that owns every running container. It waits on an epoll set
 * holding the containers' stdout/stderr pipes, their pidfds (or a SIGCHLD signalfd and a
 * short tick where pidfd_open is missing) and the drivers' own sockets; it splits output into
 * lines stamped when read, enforces stop timeouts, makes and removes per-container cgroups
 * (v2, or the v1 memory and cpu hierarchies; RLIMIT_AS when neither can be used), detects OOM
 * kills and reports each exit exactly once — after the process is reaped and both streams
 * ended.
 *
 * It never waits for a pid it did not start (waitid on one pid or pidfd), so other code may
 * run children of its own. Callbacks run on this thread without the lock held, so they may
 * call sl_container_stop/release. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "tasks/container_internal.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

typedef enum {
    CG_NONE,
    CG_V1,
    CG_V2
} cg_mode;

struct sl_supervisor {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int epfd, wakefd, sigfd;
    bool use_pidfd;
    bool shutting_down;
    sl_container *list;        /* spawned, not yet freed */
    sl_container *spawn_queue; /* waiting for the thread to fork them */
    cg_mode cg;
    char cg_mem_parent[PATH_MAX]; /* v1 memory or v2: where container dirs go */
    char cg_cpu_parent[PATH_MAX]; /* v1 cpu */
    char cg_rel_parent[PATH_MAX]; /* cg_mem_parent relative to its hierarchy root */
    char cg_note[512];
    atomic_bool no_cgroup_kill; /* v2 without cgroup.kill (Linux < 5.14) */
};

static atomic_uint container_seq;
static sl_watch wake_tag, sig_tag;

/* ---- small file helpers ---- */

static int write_file(const char *dir, const char *name, const char *value) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(value);
    ssize_t w = write(fd, value, n);
    int e = errno;
    close(fd);
    errno = e;
    return w == (ssize_t)n ? 0 : -1;
}

static int read_file(const char *dir, const char *name, char *out, size_t outlen) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = read(fd, out, outlen - 1);
    close(fd);
    if (r < 0) return -1;
    out[r] = 0;
    return 0;
}

/* The number after "key " in a "key value" per line file (memory.events, oom_control). */
static long long keyed_value(const char *text, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, key, kl) && p[kl] == ' ') return atoll(p + kl + 1);
    }
    return -1;
}

int sl_mkdirs(const char *path, mode_t mode) {
    /* the usual case first: the parents exist (one system call, not one per component) */
    if (mkdir(path, mode) == 0 || errno == EEXIST) return 0;
    if (errno != ENOENT) return -1;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return errno = ENAMETOOLONG, -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, mode) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* ---- cgroups ---- */

/* This process's cgroup path for a v1 controller (or "" for v2), from /proc/self/cgroup. */
static int own_cgroup(const char *controller, char *out, size_t outlen) {
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) return -1;
    char line[4096];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = 0;
        const char *ctrls = c1 + 1;
        bool match = false;
        if (!controller) match = !strcmp(line, "0") && !*ctrls;
        else {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", ctrls);
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
                 t = strtok_r(NULL, ",", &save))
                if (!strcmp(t, controller)) match = true;
        }
        if (match) {
            snprintf(out, outlen, "%s", c2 + 1);
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* Mount point and mount root of the v1 hierarchy holding controller. */
static int v1_mount(const char *controller, char *mnt, size_t mntlen, char *root, size_t rootlen) {
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return -1;
    char line[4096];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        char *sep = strstr(line, " - ");
        if (!sep) continue;
        char fstype[64], source[256], opts[1024];
        if (sscanf(sep + 3, "%63s %255s %1023s", fstype, source, opts) != 3) continue;
        if (strcmp(fstype, "cgroup") != 0) continue;
        bool match = false;
        char *save = NULL;
        for (char *t = strtok_r(opts, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (!strcmp(t, controller)) match = true;
        if (!match) continue;
        char r[PATH_MAX], m[PATH_MAX];
        if (sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2) continue;
        snprintf(mnt, mntlen, "%s", m);
        snprintf(root, rootlen, "%s", r);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

/* dir of this process's cgroup in a v1 hierarchy, plus its path relative to the root. */
static int v1_own_dir(const char *controller, char *dir, size_t dirlen, char *rel, size_t rellen) {
    char mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
    if (v1_mount(controller, mnt, sizeof mnt, root, sizeof root) != 0) return -1;
    if (own_cgroup(controller, own, sizeof own) != 0) snprintf(own, sizeof own, "/");
    const char *sub = own;
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && !strncmp(own, root, rl)) sub = own + rl;
    snprintf(dir, dirlen, "%.2000s%.2000s", mnt, strcmp(sub, "/") ? sub : "");
    struct stat st;
    if (stat(dir, &st) != 0) { /* a cgroup namespace we cannot see through: use the mount */
        snprintf(dir, dirlen, "%s", mnt);
        sub = "/";
    }
    snprintf(rel, rellen, "%s", strcmp(sub, "/") ? sub : "");
    return 0;
}

/* Makes the probe dir and checks the limit file is there and writable. */
static bool probe_dir(const char *parent, const char *limit_file, const char *value) {
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/sluice-probe-%d", parent, (int)getpid());
    if (mkdir(probe, 0755) != 0 && errno != EEXIST) return false;
    bool ok = write_file(probe, limit_file, value) == 0;
    rmdir(probe);
    return ok;
}

static void cgroup_detect(sl_supervisor *s, const char *parent) {
    const char *name = parent && *parent ? parent : "sluice";
    bool absolute = name[0] == '/';
    struct stat st;
    s->cg = CG_NONE;
    if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0) {
        char own[PATH_MAX] = "";
        if (own_cgroup(NULL, own, sizeof own) != 0) snprintf(own, sizeof own, "/");
        char base[PATH_MAX];
        snprintf(base, sizeof base, "/sys/fs/cgroup%.4000s", strcmp(own, "/") ? own : "");
        if (absolute) snprintf(base, sizeof base, "/sys/fs/cgroup");
        int n = snprintf(s->cg_mem_parent, sizeof s->cg_mem_parent, "%s/%s", base,
                         name + (absolute ? 1 : 0));
        if (n >= (int)sizeof s->cg_mem_parent) goto none;
        snprintf(s->cg_rel_parent, sizeof s->cg_rel_parent, "%s",
                 s->cg_mem_parent + strlen("/sys/fs/cgroup"));
        if (sl_mkdirs(s->cg_mem_parent, 0755) != 0) goto none;
        /* Enable the controllers down to our parent; EBUSY on a non-root cgroup that holds
         * processes (the v2 no-internal-process rule) leaves us without them. */
        char walk[PATH_MAX];
        snprintf(walk, sizeof walk, "/sys/fs/cgroup");
        const char *rest = s->cg_mem_parent + strlen("/sys/fs/cgroup");
        while (*rest == '/') {
            write_file(walk, "cgroup.subtree_control", "+memory");
            write_file(walk, "cgroup.subtree_control", "+cpu");
            const char *nx = strchr(rest + 1, '/');
            size_t len = nx ? (size_t)(nx - rest) : strlen(rest);
            size_t wl = strlen(walk);
            if (wl + len >= sizeof walk) break;
            memcpy(walk + wl, rest, len);
            walk[wl + len] = 0;
            rest += len;
        }
        write_file(s->cg_mem_parent, "cgroup.subtree_control", "+memory");
        write_file(s->cg_mem_parent, "cgroup.subtree_control", "+cpu");
        if (probe_dir(s->cg_mem_parent, "memory.max", "max")) {
            s->cg = CG_V2;
            snprintf(s->cg_note, sizeof s->cg_note, "cgroup v2 at %.200s", s->cg_mem_parent);
            return;
        }
        snprintf(s->cg_note, sizeof s->cg_note,
                 "cgroup v2 memory controller not delegated to %.200s", s->cg_mem_parent);
        goto none;
    }
    char dir[PATH_MAX], rel[PATH_MAX];
    if (v1_own_dir("memory", dir, sizeof dir, rel, sizeof rel) == 0) {
        if (absolute) {
            char mnt[PATH_MAX], root[PATH_MAX];
            v1_mount("memory", mnt, sizeof mnt, root, sizeof root);
            snprintf(dir, sizeof dir, "%s", mnt);
            rel[0] = 0;
        }
        const char *leaf = name + (absolute ? 1 : 0);
        if (snprintf(s->cg_mem_parent, sizeof s->cg_mem_parent, "%s/%s", dir, leaf) >=
            (int)sizeof s->cg_mem_parent)
            goto none;
        snprintf(s->cg_rel_parent, sizeof s->cg_rel_parent, "%.2000s/%.1000s", rel, leaf);
        if (sl_mkdirs(s->cg_mem_parent, 0755) == 0 &&
            probe_dir(s->cg_mem_parent, "memory.limit_in_bytes", "-1")) {
            s->cg = CG_V1;
            char cdir[PATH_MAX], crel[PATH_MAX];
            s->cg_cpu_parent[0] = 0;
            if (v1_own_dir("cpu", cdir, sizeof cdir, crel, sizeof crel) == 0) {
                if (absolute) {
                    char root[PATH_MAX];
                    v1_mount("cpu", cdir, sizeof cdir, root, sizeof root);
                }
                snprintf(s->cg_cpu_parent, sizeof s->cg_cpu_parent, "%.*s/%s", PATH_MAX - 300, cdir,
                         leaf);
                if (sl_mkdirs(s->cg_cpu_parent, 0755) != 0 ||
                    !probe_dir(s->cg_cpu_parent, "cpu.shares", "1024"))
                    s->cg_cpu_parent[0] = 0;
            }
            snprintf(s->cg_note, sizeof s->cg_note, "cgroup v1 memory at %.100s%s%.100s",
                     s->cg_mem_parent, s->cg_cpu_parent[0] ? ", cpu at " : ", no cpu",
                     s->cg_cpu_parent);
            return;
        }
        snprintf(s->cg_note, sizeof s->cg_note, "cgroup v1 memory hierarchy not writable (%.200s)",
                 s->cg_mem_parent);
    } else {
        snprintf(s->cg_note, sizeof s->cg_note, "no usable cgroup hierarchy");
    }
none:
    s->cg = CG_NONE;
    s->cg_mem_parent[0] = s->cg_cpu_parent[0] = s->cg_rel_parent[0] = 0;
    if (!s->cg_note[0]) snprintf(s->cg_note, sizeof s->cg_note, "cgroups unavailable");
}

/* ECS CPU units are docker CpuShares; v2 weight uses runc's conversion from shares. */
static unsigned long cpu_shares(int units) { return units < 2 ? 2 : (unsigned long)units; }
static unsigned long cpu_weight(int units) {
    unsigned long shares = cpu_shares(units);
    if (shares > 262144) shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

static int cgroup_create(sl_container *c, char *err, size_t errlen) {
    sl_supervisor *s = c->sup;
    const sl_container_spec *sp = &c->spec;
    bool want = sp->memory_mib > 0 || sp->memory_reservation_mib > 0 || sp->cpu_units > 0;
    if (s->cg == CG_NONE || !want) {
        c->rlimit_mem = sp->memory_mib > 0 && s->cg == CG_NONE;
        return 0;
    }
    char v[64];
    snprintf(c->cg_mem, sizeof c->cg_mem, "%.*s/%s", PATH_MAX - 64, s->cg_mem_parent, c->id);
    snprintf(c->cg_rel, sizeof c->cg_rel, "%.*s/%s", PATH_MAX - 64, s->cg_rel_parent, c->id);
    if (mkdir(c->cg_mem, 0755) != 0 && errno != EEXIST) goto fail;
    if (s->cg == CG_V2) {
        if (sp->memory_mib > 0) {
            snprintf(v, sizeof v, "%lld", (long long)sp->memory_mib << 20);
            if (write_file(c->cg_mem, "memory.max", v) != 0) goto fail;
            write_file(c->cg_mem, "memory.swap.max", "0"); /* ECS: no swap unless asked */
        }
        if (sp->memory_reservation_mib > 0) {
            snprintf(v, sizeof v, "%lld", (long long)sp->memory_reservation_mib << 20);
            write_file(c->cg_mem, "memory.low", v);
        }
        if (sp->cpu_units > 0) {
            snprintf(v, sizeof v, "%lu", cpu_weight(sp->cpu_units));
            write_file(c->cg_mem, "cpu.weight", v);
        }
        return 0;
    }
    if (sp->memory_mib > 0) {
        snprintf(v, sizeof v, "%lld", (long long)sp->memory_mib << 20);
        if (write_file(c->cg_mem, "memory.limit_in_bytes", v) != 0) goto fail;
        write_file(c->cg_mem, "memory.memsw.limit_in_bytes", v); /* absent without swap acct */
    }
    if (sp->memory_reservation_mib > 0) {
        snprintf(v, sizeof v, "%lld", (long long)sp->memory_reservation_mib << 20);
        write_file(c->cg_mem, "memory.soft_limit_in_bytes", v);
    }
    if (sp->cpu_units > 0 && s->cg_cpu_parent[0]) {
        snprintf(c->cg_cpu, sizeof c->cg_cpu, "%.*s/%s", PATH_MAX - 64, s->cg_cpu_parent, c->id);
        if (mkdir(c->cg_cpu, 0755) != 0 && errno != EEXIST) c->cg_cpu[0] = 0;
        else {
            snprintf(v, sizeof v, "%lu", cpu_shares(sp->cpu_units));
            write_file(c->cg_cpu, "cpu.shares", v);
        }
    }
    return 0;
fail:
    snprintf(err, errlen, "CannotStartContainerError: cgroup %s: %s", c->cg_mem, strerror(errno));
    if (c->cg_mem[0]) rmdir(c->cg_mem);
    c->cg_mem[0] = c->cg_rel[0] = 0;
    return -1;
}

/* SIGKILL for everything left in the container's cgroups (processes that left the group):
 * cgroup.kill where there is one (v2 since Linux 5.14), else each pid of cgroup.procs. */
static void cgroup_kill_all(sl_supervisor *s, const char *dir) {
    if (!dir[0]) return;
    if (s->cg == CG_V2 && !atomic_load(&s->no_cgroup_kill)) {
        if (write_file(dir, "cgroup.kill", "1") == 0) return;
        if (errno == ENOENT) atomic_store(&s->no_cgroup_kill, true);
    }
    char buf[8192];
    for (int round = 0; round < 3; round++) {
        if (read_file(dir, "cgroup.procs", buf, sizeof buf) != 0 || !buf[0]) return;
        for (char *save = NULL, *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
            kill((pid_t)atoi(t), SIGKILL);
    }
}

static bool cgroup_oom(sl_container *c) {
    char buf[1024];
    if (!c->cg_mem[0]) return false;
    if (c->sup->cg == CG_V2) {
        return read_file(c->cg_mem, "memory.events", buf, sizeof buf) == 0 &&
               keyed_value(buf, "oom_kill") > 0;
    }
    if (read_file(c->cg_mem, "memory.oom_control", buf, sizeof buf) == 0) {
        long long kills = keyed_value(buf, "oom_kill");
        if (kills > 0) return true;
        if (kills == 0) return false;
    }
    /* Kernels before 4.13 have no oom_kill count: a SIGKILL we did not send while the limit
     * was being hit is the OOM killer. */
    return read_file(c->cg_mem, "memory.failcnt", buf, sizeof buf) == 0 && atoll(buf) > 0 &&
           c->ex.signal == SIGKILL && !c->killed;
}

static void cgroup_remove(sl_container *c) {
    for (int i = 0; i < 2; i++) {
        char *dir = i ? c->cg_cpu : c->cg_mem;
        if (!dir[0]) continue;
        for (int tries = 0; tries < 50 && rmdir(dir) != 0 && errno == EBUSY; tries++) usleep(10000);
    }
}

/* ---- lines ---- */

static void emit_line(sl_container *c, sl_stream s, const char *p, size_t n, int64_t ts) {
    if (c->spec.on_line) c->spec.on_line(c->spec.ctx, s, p, n, ts);
}

void sl_sup_emit(sl_container *c, sl_stream s, const char *data, size_t n, int64_t ts_ms) {
    sl_linebuf *lb = &c->lines[s == SL_STREAM_STDERR];
    while (n > 0) {
        if (lb->len == SL_LINE_MAX) {
            /* A full piece waited for this byte: a newline here ends the line with it rather
             * than making an empty line of its own. */
            emit_line(c, s, lb->buf, lb->len, lb->ts_ms);
            lb->len = 0;
            if (data[0] == '\n') {
                data++, n--;
                continue;
            }
        }
        if (lb->len == 0) lb->ts_ms = ts_ms;
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (lb->len == 0 && nl && take <= SL_LINE_MAX) { /* whole line in the read: no copy */
            emit_line(c, s, data, take, ts_ms);
            data += take + 1, n -= take + 1;
            continue;
        }
        if (!lb->buf) lb->buf = sl_xmalloc(SL_LINE_MAX);
        size_t room = SL_LINE_MAX - lb->len;
        size_t copy = take < room ? take : room;
        memcpy(lb->buf + lb->len, data, copy);
        lb->len += copy;
        data += copy, n -= copy;
        if (nl && copy == take && lb->len < SL_LINE_MAX) {
            emit_line(c, s, lb->buf, lb->len, lb->ts_ms);
            lb->len = 0;
            data++, n--;
        }
    }
}

void sl_sup_stream_eof(sl_container *c, sl_stream s) {
    sl_linebuf *lb = &c->lines[s == SL_STREAM_STDERR];
    if (lb->eof) return;
    if (lb->len) emit_line(c, s, lb->buf, lb->len, lb->ts_ms);
    lb->len = 0;
    lb->eof = true;
    free(lb->buf);
    lb->buf = NULL;
}

/* ---- watches ---- */

int sl_sup_watch(sl_container *c, int kind, int fd) {
    c->watch[kind].c = c;
    c->watch[kind].kind = kind;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->watch[kind]};
    if (kind == SL_W_DRV0 || kind == SL_W_DRV1) c->drv_fd[kind - SL_W_DRV0] = fd;
    return epoll_ctl(c->sup->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void sl_sup_unwatch(sl_container *c, int kind) {
    int fd = -1;
    if (kind == SL_W_DRV0 || kind == SL_W_DRV1) fd = c->drv_fd[kind - SL_W_DRV0];
    if (kind == SL_W_STDOUT) fd = c->out_fd;
    if (kind == SL_W_STDERR) fd = c->err_fd;
    if (kind == SL_W_PIDFD) fd = c->pidfd;
    if (fd >= 0) epoll_ctl(c->sup->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void close_stream(sl_container *c, int kind) {
    int *fd = kind == SL_W_STDOUT ? &c->out_fd : &c->err_fd;
    if (*fd >= 0) {
        sl_sup_unwatch(c, kind);
        close(*fd);
        *fd = -1;
    }
    sl_sup_stream_eof(c, kind == SL_W_STDOUT ? SL_STREAM_STDOUT : SL_STREAM_STDERR);
}

static void read_stream(sl_container *c, int kind) {
    int fd = kind == SL_W_STDOUT ? c->out_fd : c->err_fd;
    sl_stream s = kind == SL_W_STDOUT ? SL_STREAM_STDOUT : SL_STREAM_STDERR;
    char buf[65536];
    for (int i = 0; i < 16; i++) { /* bounded so one chatty container cannot starve others */
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
            sl_sup_emit(c, s, buf, (size_t)r, sl_now_ms());
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        close_stream(c, kind);
        return;
    }
}

/* ---- exits ---- */

static int64_t mono_ms(void) { return sl_mono_ms(); }

static void record_status(sl_container *c, const siginfo_t *si) {
    c->exited = true;
    c->ex.stopped_ms = sl_now_ms();
    if (si->si_code == CLD_EXITED) {
        c->ex.exit_code = si->si_status;
        c->ex.signal = 0;
    } else {
        c->ex.signal = si->si_status;
        c->ex.exit_code = 128 + si->si_status;
    }
    c->kill_at_ms = 0;
    c->drain_at_ms = mono_ms() + SL_DRAIN_MS;
}

void sl_sup_exited(sl_container *c, int exit_code, int signal) {
    pthread_mutex_lock(&c->sup->mu);
    if (!c->exited) {
        c->exited = true;
        c->ex.stopped_ms = sl_now_ms();
        c->ex.exit_code = exit_code;
        c->ex.signal = signal;
        c->kill_at_ms = 0;
        c->drain_at_ms = mono_ms() + SL_DRAIN_MS;
    }
    pthread_mutex_unlock(&c->sup->mu);
}

/* The leader is a zombie (or gone): kill what is left of its group while the pgid cannot be
 * reused, then reap it. Lock held. */
static void try_reap(sl_container *c) {
    if (c->exited || c->pid <= 0) return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc;
    if (c->pidfd >= 0) rc = waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG | WNOWAIT);
    else rc = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT);
    if (rc != 0 || si.si_pid == 0) return;
    kill(-c->pid, SIGKILL);
    cgroup_kill_all(c->sup, c->cg_mem);
    siginfo_t done;
    memset(&done, 0, sizeof done);
    if (c->pidfd >= 0) waitid(P_PIDFD, (id_t)c->pidfd, &done, WEXITED | WNOHANG);
    else waitid(P_PID, (id_t)c->pid, &done, WEXITED | WNOHANG);
    record_status(c, &si);
    if (c->pidfd >= 0) {
        sl_sup_unwatch(c, SL_W_PIDFD);
        close(c->pidfd);
        c->pidfd = -1;
    }
}

static void container_free(sl_container *c) {
    if (c->drv && c->drv->destroy) c->drv->destroy(c);
    for (int i = 0; i < 2; i++) free(c->lines[i].buf);
    sl_container_spec *sp = &c->spec;
    for (char *const *a = sp->argv; a && *a; a++) free(*a);
    for (char *const *e = sp->envp; e && *e; e++) free(*e);
    free((void *)sp->argv);
    free((void *)sp->envp);
    free((void *)sp->image);
    free((void *)sp->workdir);
    free((void *)sp->sandbox_root_dir);
    free((void *)sp->docker_socket);
    free((void *)sp->name);
    free(c);
}

/* Frees the containers that are finished and released (or all finished ones at shutdown). */
static void free_released(sl_supervisor *s) {
    sl_container *dead = NULL;
    pthread_mutex_lock(&s->mu);
    for (sl_container **pp = &s->list; *pp;) {
        sl_container *c = *pp;
        if (c->finished && (c->released || s->shutting_down)) {
            *pp = c->next;
            c->next = dead;
            dead = c;
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (sl_container *c = dead, *n; c; c = n) {
        n = c->next;
        container_free(c);
    }
}

/* The container's process and streams are done: its exit is reported. Outside the lock. */
static void finish(sl_supervisor *s, sl_container *c) {
    close_stream(c, SL_W_STDOUT);
    close_stream(c, SL_W_STDERR);
    if (c->drv->finish) c->drv->finish(c);
    sl_sup_stream_eof(c, SL_STREAM_STDOUT); /* drivers without pipes */
    sl_sup_stream_eof(c, SL_STREAM_STDERR);
    /* a clean exit is never an OOM kill: the counters are read only when it could be */
    if (!c->ex.oom_killed && c->ex.exit_code != 0 && cgroup_oom(c)) c->ex.oom_killed = true;
    if (c->ex.oom_killed && !c->ex.reason[0])
        snprintf(c->ex.reason, sizeof c->ex.reason,
                 "OutOfMemoryError: Container killed due to memory usage");
    cgroup_kill_all(s, c->cg_mem);
    cgroup_remove(c);
    if (c->spec.on_exit) c->spec.on_exit(c->spec.ctx, &c->ex);
    pthread_mutex_lock(&s->mu);
    c->finished = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* Reports the exits once everything of a container has ended; frees released containers.
 * One pass over the containers picks those to finish (a burst of exits used to restart the
 * scan after each one: quadratic in the containers alive). Thread only. */
static void progress(sl_supervisor *s) {
    int64_t now = mono_ms();
    sl_container *ready = NULL, **tail = &ready;
    pthread_mutex_lock(&s->mu);
    for (sl_container *c = s->list; c; c = c->next) {
        if (c->finished) continue;
        if (!s->use_pidfd || c->pidfd < 0) try_reap(c);
        if (!c->exited && c->kill_at_ms && now >= c->kill_at_ms) {
            c->killed = true;
            c->kill_at_ms = 0;
            c->drv->kill(c, SIGKILL);
        }
        if (!c->exited) continue;
        bool streams_done = c->lines[0].eof && c->lines[1].eof;
        if (!streams_done && now < c->drain_at_ms) continue;
        c->ready_next = NULL;
        *tail = c;
        tail = &c->ready_next;
    }
    pthread_mutex_unlock(&s->mu);
    /* containers are freed only here, on this thread: the picked ones stay valid */
    for (sl_container *c = ready; c; c = c->ready_next) finish(s, c);
    free_released(s);
}

static int next_timeout(sl_supervisor *s) {
    int64_t now = mono_ms(), best = -1;
    pthread_mutex_lock(&s->mu);
    for (sl_container *c = s->list; c; c = c->next) {
        int64_t at = 0;
        if (c->finished) continue;
        if (!c->exited && c->kill_at_ms) at = c->kill_at_ms;
        if (c->exited) at = c->drain_at_ms;
        if (!s->use_pidfd && !c->exited && c->pid > 0) at = now + 200; /* SIGCHLD may be lost */
        if (at && (best < 0 || at < best)) best = at;
    }
    pthread_mutex_unlock(&s->mu);
    if (best < 0) return -1;
    return best <= now ? 0 : (int)(best - now > 60000 ? 60000 : best - now);
}

static void spawn_pending(sl_supervisor *s) {
    for (;;) {
        pthread_mutex_lock(&s->mu);
        sl_container *c = s->spawn_queue;
        if (c) s->spawn_queue = c->spawn_next;
        pthread_mutex_unlock(&s->mu);
        if (!c) return;
        c->spawn_rc = c->drv->spawn(c, c->spawn_err, sizeof c->spawn_err);
        pthread_mutex_lock(&s->mu);
        c->spawned = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->mu);
    }
}

static bool all_finished(sl_supervisor *s) {
    bool all = true;
    pthread_mutex_lock(&s->mu);
    for (sl_container *c = s->list; c; c = c->next)
        if (!c->finished) all = false;
    if (s->spawn_queue) all = false;
    pthread_mutex_unlock(&s->mu);
    return all;
}

static void *supervisor_main(void *arg) {
    sl_supervisor *s = arg;
    if (!s->use_pidfd) { /* the fallback: SIGCHLD on a signalfd, blocked in this thread only */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (s->sigfd >= 0) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sig_tag};
            epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &ev);
        }
    }
    struct epoll_event evs[64];
    for (;;) {
        spawn_pending(s);
        progress(s);
        pthread_mutex_lock(&s->mu);
        bool stop = s->shutting_down;
        pthread_mutex_unlock(&s->mu);
        if (stop && all_finished(s)) break;
        int n = epoll_wait(s->epfd, evs, 64, next_timeout(s));
        for (int i = 0; i < n; i++) {
            sl_watch *w = evs[i].data.ptr;
            if (w == &wake_tag) {
                uint64_t v;
                if (read(s->wakefd, &v, sizeof v) < 0) { /* EAGAIN: nothing to do */
                }
                continue;
            }
            if (w == &sig_tag) {
                struct signalfd_siginfo si;
                while (read(s->sigfd, &si, sizeof si) == sizeof si) {}
                continue;
            }
            sl_container *c = w->c;
            switch (w->kind) {
            case SL_W_STDOUT:
            case SL_W_STDERR:
                if ((w->kind == SL_W_STDOUT ? c->out_fd : c->err_fd) >= 0) read_stream(c, w->kind);
                break;
            case SL_W_PIDFD:
                pthread_mutex_lock(&s->mu);
                try_reap(c);
                pthread_mutex_unlock(&s->mu);
                break;
            default:
                if (c->drv->on_io) c->drv->on_io(c, w->kind, evs[i].events);
                break;
            }
        }
    }
    return NULL;
}

static void wake(sl_supervisor *s) {
    uint64_t one = 1;
    if (write(s->wakefd, &one, sizeof one) < 0) { /* counter full: already awake */
    }
}

/* ---- public API ---- */

sl_supervisor *sl_supervisor_new(const char *cgroup_parent, char *err, size_t errlen) {
    sl_supervisor *s = sl_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->sigfd = -1;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->epfd < 0 || s->wakefd < 0) {
        snprintf(err, errlen, "supervisor: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wake_tag};
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev);
    /* pidfd_open on ourselves tells whether the kernel has it (5.3+); SLUICE_NO_PIDFD forces
     * the SIGCHLD path so tests cover it. */
    const char *no = getenv("SLUICE_NO_PIDFD");
    int probe = (no && *no && strcmp(no, "0")) ? -1 : (int)syscall(SYS_pidfd_open, getpid(), 0);
    s->use_pidfd = probe >= 0;
    if (probe >= 0) close(probe);
    cgroup_detect(s, cgroup_parent);
    sl_debug("\"supervisor started\" cgroups=\"%s\" pidfd=%s", s->cg_note,
             s->use_pidfd ? "yes" : "no");
    if (pthread_create(&s->thread, NULL, supervisor_main, s) != 0) {
        snprintf(err, errlen, "supervisor: cannot start its thread");
        goto fail;
    }
    pthread_setname_np(s->thread, "sl-supervisor");
    return s;
fail:
    if (s->epfd >= 0) close(s->epfd);
    if (s->wakefd >= 0) close(s->wakefd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s);
    return NULL;
}

void sl_supervisor_free(sl_supervisor *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->shutting_down = true;
    for (sl_container *c = s->list; c; c = c->next) {
        if (!c->exited) {
            c->killed = true;
            c->drv->kill(c, SIGKILL);
        }
    }
    pthread_mutex_unlock(&s->mu);
    wake(s);
    pthread_join(s->thread, NULL);
    while (s->list) {
        sl_container *c = s->list;
        s->list = c->next;
        container_free(c);
    }
    if (s->sigfd >= 0) close(s->sigfd);
    close(s->epfd);
    close(s->wakefd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s);
}

static char **copy_vec(char *const *v) {
    size_t n = 0;
    while (v && v[n]) n++;
    char **out = sl_xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++) out[i] = sl_xstrdup(v[i]);
    return out;
}

static const char *dup_or_null(const char *s) { return s ? sl_xstrdup(s) : NULL; }

static const sl_driver *driver_for(const char *image) {
    if (!image || !strcmp(image, "host")) return &sl_driver_host;
    if (!strcmp(image, "sandbox")) return &sl_driver_sandbox;
    if (!strncmp(image, "oci:", 4)) return &sl_driver_oci;
    return &sl_driver_docker;
}

int sl_container_start(sl_supervisor *s, const sl_container_spec *spec, sl_container **out,
                       char *err, size_t errlen) {
    if (out) *out = NULL;
    if (!spec->argv || !spec->argv[0]) {
        snprintf(err, errlen, "CannotStartContainerError: no command");
        return -1;
    }
    sl_container *c = sl_xcalloc(1, sizeof *c);
    c->sup = s;
    c->spec = *spec;
    c->spec.image = sl_xstrdup(spec->image ? spec->image : "host");
    c->spec.argv = copy_vec(spec->argv);
    c->spec.envp = copy_vec(spec->envp);
    c->spec.workdir = dup_or_null(spec->workdir);
    c->spec.sandbox_root_dir = dup_or_null(spec->sandbox_root_dir);
    c->spec.docker_socket = dup_or_null(spec->docker_socket);
    c->spec.name = dup_or_null(spec->name);
    if (c->spec.stop_timeout_s <= 0) c->spec.stop_timeout_s = 30;
    c->drv = driver_for(c->spec.image);
    c->pid = -1;
    c->pidfd = c->out_fd = c->err_fd = -1;
    c->drv_fd[0] = c->drv_fd[1] = -1;
    c->ex.exit_code = -1;
    snprintf(c->id, sizeof c->id, "sluice-%d-%u", (int)getpid(),
             atomic_fetch_add(&container_seq, 1) + 1);

    if (c->spec.workdir && c->drv != &sl_driver_sandbox && sl_mkdirs(c->spec.workdir, 0755)) {
        snprintf(err, errlen, "CannotStartContainerError: workdir %s: %s", c->spec.workdir,
                 strerror(errno));
        container_free(c);
        return -1;
    }
    if (c->drv->prepare && c->drv->prepare(c, err, errlen) != 0) {
        if (c->drv->finish) c->drv->finish(c);
        container_free(c);
        return -1;
    }
    if (c->drv != &sl_driver_docker && cgroup_create(c, err, errlen) != 0) {
        if (c->drv->finish) c->drv->finish(c);
        container_free(c);
        return -1;
    }
    c->ex.started_ms = sl_now_ms();
    if (pthread_equal(pthread_self(), s->thread)) {
        c->spawn_rc = c->drv->spawn(c, c->spawn_err, sizeof c->spawn_err);
    } else {
        pthread_mutex_lock(&s->mu);
        c->spawn_next = s->spawn_queue;
        s->spawn_queue = c;
        wake(s);
        while (!c->spawned) pthread_cond_wait(&s->cond, &s->mu);
        pthread_mutex_unlock(&s->mu);
    }
    if (c->spawn_rc != 0) {
        snprintf(err, errlen, "%s", c->spawn_err);
        if (c->drv->finish) c->drv->finish(c);
        cgroup_remove(c);
        container_free(c);
        return -1;
    }
    if (c->out_fd >= 0) sl_sup_watch(c, SL_W_STDOUT, c->out_fd);
    else c->lines[0].eof = c->drv != &sl_driver_docker;
    if (c->err_fd >= 0) sl_sup_watch(c, SL_W_STDERR, c->err_fd);
    else c->lines[1].eof = c->drv != &sl_driver_docker;
    if (c->pidfd >= 0) sl_sup_watch(c, SL_W_PIDFD, c->pidfd);
    pthread_mutex_lock(&s->mu);
    c->next = s->list;
    s->list = c;
    pthread_mutex_unlock(&s->mu);
    wake(s);
    if (out) *out = c;
    else sl_container_release(c);
    return 0;
}

void sl_container_stop(sl_container *c) {
    if (!c) return;
    sl_supervisor *s = c->sup;
    pthread_mutex_lock(&s->mu);
    if (!c->exited && !c->stop_requested) {
        c->stop_requested = true;
        c->ex.stopped = true;
        c->kill_at_ms = mono_ms() + (int64_t)c->spec.stop_timeout_s * 1000;
        c->drv->kill(c, SIGTERM);
    }
    pthread_mutex_unlock(&s->mu);
    wake(s);
}

int sl_container_pid(const sl_container *c) { return c && c->pid > 0 ? (int)c->pid : -1; }

void sl_container_release(sl_container *c) {
    if (!c) return;
    sl_supervisor *s = c->sup;
    pthread_mutex_lock(&s->mu);
    c->released = true;
    pthread_mutex_unlock(&s->mu);
    wake(s);
}

/* ---- report ---- */

char *sl_container_drivers_report(const char *docker_socket) {
    sl_buf b;
    sl_buf_init(&b);
    char path[PATH_MAX];
    sl_buf_puts(&b, "host: yes");
    sl_supervisor probe;
    memset(&probe, 0, sizeof probe);
    cgroup_detect(&probe, NULL);
    sl_buf_printf(&b, " (limits: %s)\n",
                  probe.cg == CG_NONE ? "rlimits only, no cgroups" : probe.cg_note);
    if (sl_find_program("bwrap", getenv("PATH"), path, sizeof path) == 0)
        sl_buf_printf(&b, "sandbox: yes (%s)\n", path);
    else sl_buf_puts(&b, "sandbox: no (bwrap not installed)\n");
    if (sl_oci_runtime(path, sizeof path)) sl_buf_printf(&b, "oci: yes (%s)\n", path);
    else sl_buf_puts(&b, "oci: no (neither crun nor runc installed)\n");
    if (!docker_socket || !*docker_socket) {
        sl_buf_puts(&b, "docker: no (no Docker Engine socket configured)\n");
    } else {
        char err[256];
        if (sl_docker_ping(docker_socket, err, sizeof err) == 0)
            sl_buf_printf(&b, "docker: yes (%s, %s)\n", docker_socket, err);
        else sl_buf_printf(&b, "docker: no (%s: %s)\n", docker_socket, err);
    }
    return sl_buf_steal(&b);
}
