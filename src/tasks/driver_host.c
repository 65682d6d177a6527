/* driver_host: image "host" — the command runs on this machine as the daemon's user. Also
 * home of the spawn that the sandbox and oci drivers reuse: a new process group (so a stop
 * reaches the command's own children), the exact environment given, argv element by element,
 * the working directory, the container's cgroups joined before exec, stdin on /dev/null and
 * every other descriptor closed. The child shares the daemon's memory until it execs (see
 * "the child side of a spawn" below): starting a task costs no copy of the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* ---- the child side of a spawn ----
 * The child is created with clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: it borrows the
 * daemon's memory (no page tables copied, no copy-on-write faults in the daemon's other threads
 * while it runs) and the spawning thread sleeps until it has exec'd or died. So it must touch
 * nothing but its own stack and the spawn_args it is given, and it talks to the kernel directly:
 * no libc wrapper (a sanitizer may intercept those), no sanitizer instrumentation. */

#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define CHILD_CODE __attribute__((no_sanitize("address", "undefined"), noinline))
#endif
#endif
#ifndef CHILD_CODE
#define CHILD_CODE __attribute__((noinline))
#endif

enum {
    STAGE_CHDIR = 1,
    STAGE_EXEC = 2,
    STAGE_CGROUP = 3,
    STAGE_FDS = 4
};

typedef struct {
    const char *path;
    char *const *argv, *const *envp;
    const char *chdir_to;
    int devnull, out_w, err_w;
    int cg[2];
    bool set_rlimit;
    struct rlimit as;
    /* written by the child when it fails, read once clone() has returned */
    volatile int stage, err;
} spawn_args;

/* The kernel's sigaction record, zeroed: handler SIG_DFL, no flags, empty mask. Big enough for
 * every architecture's layout (handler first everywhere Sluice runs). */
typedef struct {
    unsigned long words[8];
} kernel_sigaction;

CHILD_CODE static long child_sys(long nr, long a, long b, long c, long d) {
    long r = syscall(nr, a, b, c, d);
    return r < 0 ? -errno : r;
}

CHILD_CODE static _Noreturn void child_fail(spawn_args *a, int stage, long neg_errno) {
    a->err = (int)-neg_errno;
    a->stage = stage;
    for (;;) syscall(SYS_exit_group, 127);
}

CHILD_CODE static size_t child_fmt_pid(char *buf, long pid) {
    char tmp[24];
    size_t n = 0;
    unsigned long v = (unsigned long)pid;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

/* fd onto target, without close-on-exec. */
CHILD_CODE static long child_dup_onto(int fd, int target) {
    if (fd == target) return child_sys(SYS_fcntl, fd, F_SETFD, 0, 0);
    return child_sys(SYS_dup3, fd, target, 0, 0);
}

CHILD_CODE static int child_main(void *arg) {
    spawn_args *a = arg;
    /* Dispositions first (the parent blocked every signal around clone, so none is delivered to
     * a handler of the daemon's in between), then an empty mask: the command starts clean. */
    kernel_sigaction dfl = {{0}};
    for (long sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            child_sys(SYS_rt_sigaction, sig, (long)&dfl, 0, NSIG / 8);
    unsigned long none[2] = {0, 0};
    child_sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)none, 0, NSIG / 8);
    child_sys(SYS_setpgid, 0, 0, 0, 0);
    char num[24];
    size_t nl = child_fmt_pid(num, child_sys(SYS_getpid, 0, 0, 0, 0));
    for (int i = 0; i < 2; i++) {
        if (a->cg[i] < 0) continue;
        long r = child_sys(SYS_write, a->cg[i], (long)num, (long)nl, 0);
        if (r < 0) child_fail(a, STAGE_CGROUP, r);
    }
    if (a->set_rlimit) child_sys(SYS_prlimit64, 0, RLIMIT_AS, (long)&a->as, 0);
    long r;
    if ((r = child_dup_onto(a->devnull, 0)) < 0 || (r = child_dup_onto(a->out_w, 1)) < 0 ||
        (r = child_dup_onto(a->err_w, 2)) < 0)
        child_fail(a, STAGE_FDS, r);
    if (a->chdir_to && (r = child_sys(SYS_chdir, (long)a->chdir_to, 0, 0, 0)) < 0)
        child_fail(a, STAGE_CHDIR, r);
    if (child_sys(SYS_close_range, 3, ~0U, 0, 0) < 0) {
        /* kernels before 5.9: close what an fd table of this size can hold */
        for (long fd = 3; fd < 65536; fd++) syscall(SYS_close, fd);
    }
    r = child_sys(SYS_execve, (long)a->path, (long)a->argv, (long)a->envp, 0);
    child_fail(a, STAGE_EXEC, r);
}

#define CHILD_STACK (64 * 1024)

/* The child's stack: one per spawning thread, kept (an munmap per spawn would cost a TLB
 * shootdown on every core) and unmapped when the thread ends. */
static pthread_key_t stack_key;
static pthread_once_t stack_once = PTHREAD_ONCE_INIT;

static void stack_unmap(void *stack) { munmap(stack, CHILD_STACK); }
static void stack_key_init(void) { pthread_key_create(&stack_key, stack_unmap); }

static void *child_stack(void) {
    pthread_once(&stack_once, stack_key_init);
    void *stack = pthread_getspecific(stack_key);
    if (stack) return stack;
    stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                 -1, 0);
    if (stack == MAP_FAILED) return NULL;
    pthread_setspecific(stack_key, stack);
    return stack;
}

/* Starts the child; returns its pid, or -1 with errno. a->stage says whether it got to exec. */
static pid_t spawn_child(spawn_args *a) {
    void *stack = child_stack();
    if (!stack) return -1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* the stack grows down on every architecture Sluice builds for */
    pid_t pid = clone(child_main, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return pid;
}

int sl_spawn_process(sl_container *c, const char *path, char *const argv[], char *const envp[],
                     const char *chdir_to, bool skip_cgroup, char *err, size_t errlen) {
    int out[2] = {-1, -1}, errp[2] = {-1, -1};
    spawn_args a = {.path = path,
                    .argv = argv,
                    .envp = envp,
                    .chdir_to = chdir_to,
                    .devnull = open("/dev/null", O_RDWR | O_CLOEXEC),
                    .cg = {-1, -1}};
    if (a.devnull < 0 || pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
        snprintf(err, errlen, "CannotStartContainerError: pipe: %s", strerror(errno));
        goto fail;
    }
    a.out_w = out[1];
    a.err_w = errp[1];
    if (!skip_cgroup) {
        const char *dirs[2] = {c->cg_mem, c->cg_cpu};
        for (int i = 0; i < 2; i++) {
            if (!dirs[i][0]) continue;
            char p[PATH_MAX + 32];
            snprintf(p, sizeof p, "%s/cgroup.procs", dirs[i]);
            a.cg[i] = open(p, O_WRONLY | O_CLOEXEC);
            if (a.cg[i] < 0) {
                snprintf(err, errlen, "CannotStartContainerError: %s: %s", p, strerror(errno));
                goto fail;
            }
        }
    }
    if (c->rlimit_mem) {
        a.set_rlimit = true;
        a.as.rlim_cur = a.as.rlim_max = (rlim_t)c->spec.memory_mib << 20;
    }

    pid_t pid = spawn_child(&a);
    if (pid < 0) {
        snprintf(err, errlen, "CannotStartContainerError: clone: %s", strerror(errno));
        goto fail;
    }
    setpgid(pid, pid); /* both sides, so a stop right after start reaches the group */
    if (a.stage) {
        waitpid(pid, NULL, 0);
        if (a.stage == STAGE_CHDIR)
            snprintf(err, errlen, "CannotStartContainerError: chdir to %s: %s", chdir_to,
                     strerror(a.err));
        else if (a.stage == STAGE_CGROUP)
            snprintf(err, errlen, "CannotStartContainerError: joining the cgroup: %s",
                     strerror(a.err));
        else if (a.stage == STAGE_FDS)
            snprintf(err, errlen, "CannotStartContainerError: standard streams: %s",
                     strerror(a.err));
        else
            snprintf(err, errlen, "CannotStartContainerError: exec: \"%s\": %s", argv[0],
                     strerror(a.err));
        goto fail;
    }
    close(out[1]), close(errp[1]), close(a.devnull);
    for (int i = 0; i < 2; i++)
        if (a.cg[i] >= 0) close(a.cg[i]);
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
        if (a.cg[i] >= 0) close(a.cg[i]);
    }
    if (a.devnull >= 0) close(a.devnull);
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
