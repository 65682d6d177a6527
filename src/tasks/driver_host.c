/* driver_host: image "host" — the command runs on this machine as the daemon's user. Also
 * home of the fork/exec that the sandbox and oci drivers reuse: a new process group (so a
 * stop reaches the command's own children), the exact environment given, argv element by
 * element, the working directory, the container's cgroups joined before exec, stdin on
 * /dev/null and every other descriptor closed. Between fork and exec only async-signal-safe
 * calls are made (the daemon is multi-threaded). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "tasks/container_internal.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const char *sl_env_path(char *const envp[]) {
    for (char *const *e = envp; e && *e; e++)
        if (!strncmp(*e, "PATH=", 5)) return *e + 5;
    return NULL;
}

int sl_find_program(const char *name, const char *path_list, char *out, size_t outlen) {
    if (!name || !*name) return -1;
    if (strchr(name, '/')) {
        snprintf(out, outlen, "%s", name);
        return 0;
    }
    const char *p = path_list ? path_list : DEFAULT_PATH;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char cand[PATH_MAX];
        if (len == 0) snprintf(cand, sizeof cand, "./%s", name);
        else snprintf(cand, sizeof cand, "%.*s/%s", (int)len, p, name);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            snprintf(out, outlen, "%s", cand);
            return 0;
        }
        if (!end) break;
        p = end + 1;
    }
    return -1;
}

/* Decimal without snprintf (not async-signal-safe). */
static size_t fmt_pid(char *buf, pid_t pid) {
    char tmp[16];
    size_t n = 0;
    unsigned long v = (unsigned long)pid;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

static void close_from(int lowfd, int keep) {
    if (keep >= lowfd) {
        if (keep > lowfd && syscall(SYS_close_range, lowfd, keep - 1, 0) != 0)
            for (int fd = lowfd; fd < keep; fd++) close(fd);
        lowfd = keep + 1;
    }
    if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0) return;
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                   ? (long)rl.rlim_cur
                   : 65536;
    for (long fd = lowfd; fd < max; fd++) close((int)fd);
}

struct exec_failure {
    int stage; /* 1 chdir, 2 exec, 3 cgroup */
    int err;
};

static void child_fail(int fd, int stage) {
    struct exec_failure f = {stage, errno};
    if (write(fd, &f, sizeof f) < 0) { /* parent sees EOF: nothing better to do */
    }
    _exit(127);
}

int sl_spawn_process(sl_container *c, const char *path, char *const argv[], char *const envp[],
                     const char *chdir_to, bool skip_cgroup, char *err, size_t errlen) {
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, status[2] = {-1, -1};
    int cgfd[2] = {-1, -1};
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) ||
        pipe2(status, O_CLOEXEC)) {
        snprintf(err, errlen, "CannotStartContainerError: pipe: %s", strerror(errno));
        goto fail;
    }
    if (!skip_cgroup) {
        const char *dirs[2] = {c->cg_mem, c->cg_cpu};
        for (int i = 0; i < 2; i++) {
            if (!dirs[i][0]) continue;
            char p[PATH_MAX + 32];
            snprintf(p, sizeof p, "%s/cgroup.procs", dirs[i]);
            cgfd[i] = open(p, O_WRONLY | O_CLOEXEC);
            if (cgfd[i] < 0) {
                snprintf(err, errlen, "CannotStartContainerError: %s: %s", p, strerror(errno));
                goto fail;
            }
        }
    }
    struct rlimit as = {0, 0};
    if (c->rlimit_mem) as.rlim_cur = as.rlim_max = (rlim_t)c->spec.memory_mib << 20;

    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "CannotStartContainerError: fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the daemon blocks TERM/INT in every thread */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); /* SIGPIPE ignored */
        setpgid(0, 0);
        char num[16];
        size_t nl = fmt_pid(num, getpid());
        for (int i = 0; i < 2; i++)
            if (cgfd[i] >= 0 && write(cgfd[i], num, nl) < 0) child_fail(status[1], 3);
        if (c->rlimit_mem) setrlimit(RLIMIT_AS, &as);
        if (dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0)
            child_fail(status[1], 2);
        if (chdir_to && chdir(chdir_to) != 0) child_fail(status[1], 1);
        int sfd = status[1];
        if (sfd < 3) { /* cannot happen (0-2 are taken) but keep the close below correct */
            sfd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
        }
        close_from(3, sfd);
        execve(path, argv, envp);
        child_fail(sfd, 2);
    }
    setpgid(pid, pid); /* both sides, so a stop right after start reaches the group */
    close(out[1]), close(errp[1]), close(status[1]);
    out[1] = errp[1] = status[1] = -1;
    struct exec_failure f;
    ssize_t r;
    do r = read(status[0], &f, sizeof f);
    while (r < 0 && errno == EINTR);
    if (r == (ssize_t)sizeof f) {
        waitpid(pid, NULL, 0);
        if (f.stage == 1)
            snprintf(err, errlen, "CannotStartContainerError: chdir to %s: %s", chdir_to,
                     strerror(f.err));
        else if (f.stage == 3)
            snprintf(err, errlen, "CannotStartContainerError: joining the cgroup: %s",
                     strerror(f.err));
        else
            snprintf(err, errlen, "CannotStartContainerError: exec: \"%s\": %s", argv[0],
                     strerror(f.err));
        goto fail;
    }
    close(status[0]);
    close(devnull);
    for (int i = 0; i < 2; i++)
        if (cgfd[i] >= 0) close(cgfd[i]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    c->pid = pid;
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    c->out_fd = out[0];
    c->err_fd = errp[0];
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (errp[i] >= 0) close(errp[i]);
        if (status[i] >= 0) close(status[i]);
        if (cgfd[i] >= 0) close(cgfd[i]);
    }
    if (devnull >= 0) close(devnull);
    return -1;
}

int sl_run_quiet(char *const argv[]) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the host driver ---- */

static int host_prepare(sl_container *c, char *err, size_t errlen) {
    char path[PATH_MAX];
    if (sl_find_program(c->spec.argv[0], sl_env_path(c->spec.envp), path, sizeof path) != 0) {
        snprintf(err, errlen,
                 "CannotStartContainerError: exec: \"%s\": executable file not found in $PATH",
                 c->spec.argv[0]);
        return -1;
    }
    c->drv_data = sl_xstrdup(path);
    return 0;
}

static int host_spawn(sl_container *c, char *err, size_t errlen) {
    return sl_spawn_process(c, c->drv_data, c->spec.argv, c->spec.envp, c->spec.workdir, false, err,
                            errlen);
}

static void host_kill(sl_container *c, int sig) {
    if (c->pid > 0) kill(-c->pid, sig);
}

static void host_destroy(sl_container *c) {
    free(c->drv_data);
    c->drv_data = NULL;
}

const sl_driver sl_driver_host = {
    .name = "host",
    .prepare = host_prepare,
    .spawn = host_spawn,
    .kill = host_kill,
    .destroy = host_destroy,
};
