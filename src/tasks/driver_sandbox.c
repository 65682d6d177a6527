/* driver_sandbox: image "sandbox" — the command runs on the host's binaries inside bubblewrap:
 * the whole system read-only, a private /tmp, /dev and /proc, its own pid namespace, the
 * workdir (or sandbox_root_dir mounted as it) the one writable place, and optionally no
 * network. bwrap is the group leader we fork, dies with the supervisor thread
 * (--die-with-parent), and takes the sandbox's processes with it when stopped. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tasks/container_internal.h"

typedef struct {
    char bwrap[PATH_MAX];
    char **argv;
} sandbox_data;

static int sandbox_prepare(sl_container *c, char *err, size_t errlen) {
    sandbox_data *d = sl_xcalloc(1, sizeof *d);
    c->drv_data = d;
    if (sl_find_program("bwrap", getenv("PATH"), d->bwrap, sizeof d->bwrap) != 0) {
        snprintf(err, errlen,
                 "CannotStartContainerError: image \"sandbox\" needs bubblewrap (bwrap), which "
                 "is not installed");
        return -1;
    }
    const char *workdir = c->spec.workdir ? c->spec.workdir : "/tmp";
    const char *host_dir = c->spec.sandbox_root_dir ? c->spec.sandbox_root_dir : workdir;
    if (workdir[0] != '/') {
        snprintf(err, errlen, "CannotStartContainerError: sandbox workdir must be absolute: %s",
                 workdir);
        return -1;
    }
    if (sl_mkdirs(host_dir, 0755) != 0) {
        snprintf(err, errlen, "CannotStartContainerError: workdir %s: %s", host_dir,
                 strerror(errno));
        return -1;
    }
    /* bwrap cannot make a mount point in the read-only root: outside /tmp (a tmpfs inside)
     * the workdir must exist on the host, as an empty dir if nothing else. */
    if (strncmp(workdir, "/tmp/", 5) != 0 && sl_mkdirs(workdir, 0755) != 0) {
        snprintf(err, errlen, "CannotStartContainerError: workdir %s: %s", workdir,
                 strerror(errno));
        return -1;
    }
    size_t n = 0;
    while (c->spec.argv[n]) n++;
    const char *fixed[] = {"bwrap",   "--ro-bind",     "/",
                           "/",       "--tmpfs",       "/tmp",
                           "--dev",   "/dev",          "--proc",
                           "/proc",   "--bind",        host_dir,
                           workdir,   "--unshare-pid", "--die-with-parent",
                           "--chdir", workdir};
    size_t nf = sizeof fixed / sizeof *fixed;
    d->argv = sl_xcalloc(nf + 2 + n + 1, sizeof *d->argv);
    size_t k = 0;
    for (size_t i = 0; i < nf; i++) d->argv[k++] = sl_xstrdup(fixed[i]);
    if (c->spec.no_network) d->argv[k++] = sl_xstrdup("--unshare-net");
    d->argv[k++] = sl_xstrdup("--");
    for (size_t i = 0; i < n; i++) d->argv[k++] = sl_xstrdup(c->spec.argv[i]);
    return 0;
}

static int sandbox_spawn(sl_container *c, char *err, size_t errlen) {
    sandbox_data *d = c->drv_data;
    /* bwrap looks argv[0] up in the PATH of the environment we give it: the task's. */
    return sl_spawn_process(c, d->bwrap, d->argv, c->spec.envp, NULL, false, err, errlen);
}

static void sandbox_kill(sl_container *c, int sig) {
    if (c->pid > 0) kill(-c->pid, sig);
}

static void sandbox_destroy(sl_container *c) {
    sandbox_data *d = c->drv_data;
    if (!d) return;
    for (char **a = d->argv; a && *a; a++) free(*a);
    free(d->argv);
    free(d);
    c->drv_data = NULL;
}

const sl_driver sl_driver_sandbox = {
    .name = "sandbox",
    .prepare = sandbox_prepare,
    .spawn = sandbox_spawn,
    .kill = sandbox_kill,
    .destroy = sandbox_destroy,
};
