/* driver_oci: image "oci:<path>" — a real container through an OCI runtime. <path> is a
 * bundle (a dir with config.json) or a bare root filesystem. Either way a fresh bundle is
 * written to a temporary dir: the process's args, env and cwd come from the spec, the host
 * workdir is bind-mounted as the cwd, the network namespace is private when no_network, and
 * the container's cgroup is put under the supervisor's per-container cgroup (cgroupsPath), so
 * the memory limit and OOM accounting are the supervisor's as for any other driver.
 *
 * The runtime runs in the foreground (`<rt> run --bundle B <id>`) as the group leader we
 * fork, its stdio our pipes; stops go through `<rt> kill`, and `<rt> delete -f` clears up.
 * crun is preferred, except on hybrid cgroup machines (v1 plus a cgroup2 with controllers),
 * which crun 1.8 refuses: there runc is used. SLUICE_OCI_RUNTIME overrides the choice. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "tasks/container_internal.h"

typedef struct {
    char runtime[PATH_MAX];
    char bundle[PATH_MAX];
    char config[PATH_MAX + 16];
    bool created;
} oci_data;

static bool hybrid_cgroups(void) {
    char buf[256] = "";
    FILE *f = fopen("/sys/fs/cgroup/unified/cgroup.controllers", "re");
    if (!f) return false;
    bool any = fgets(buf, sizeof buf, f) && buf[0] != '\n' && buf[0] != 0;
    fclose(f);
    return any;
}

const char *sl_oci_runtime(char *path_out, size_t outlen) {
    const char *forced = getenv("SLUICE_OCI_RUNTIME");
    const char *path = getenv("PATH");
    if (forced && *forced)
        return sl_find_program(forced, path, path_out, outlen) == 0 ? path_out : NULL;
    const char *order[2] = {"crun", "runc"};
    if (hybrid_cgroups()) order[0] = "runc", order[1] = "crun";
    for (int i = 0; i < 2; i++)
        if (sl_find_program(order[i], path, path_out, outlen) == 0) return path_out;
    return NULL;
}

static json_t *strv(char *const *v) {
    json_t *a = json_array();
    for (; v && *v; v++) json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *mount_of(const char *dest, const char *type, const char *src, const char *opts) {
    json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", src);
    if (opts) {
        json_t *o = json_array();
        char buf[256];
        snprintf(buf, sizeof buf, "%s", opts);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(o, json_string(t));
        json_object_set_new(m, "options", o);
    }
    return m;
}

/* The config for a bare rootfs: what `runc spec` writes, minus the terminal, the cgroup
 * mount (crun refuses it on hybrid machines) and the rlimits (raising them needs privileges
 * a nested daemon may not have). */
static json_t *default_config(void) {
    static const char *caps[] = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE"};
    json_t *capl = json_array();
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++)
        json_array_append_new(capl, json_string(caps[i]));
    json_t *cfg =
        json_pack("{s:s, s:{s:b, s:{s:i, s:i}, s:{s:O, s:O, s:O, s:O}, s:b}, s:s}", "ociVersion",
                  "1.0.2", "process", "terminal", 0, "user", "uid", 0, "gid", 0, "capabilities",
                  "bounding", capl, "effective", capl, "permitted", capl, "ambient", capl,
                  "noNewPrivileges", 1, "hostname", "sluice");
    json_decref(capl);
    json_t *mounts = json_array();
    json_array_append_new(mounts, mount_of("/proc", "proc", "proc", NULL));
    json_array_append_new(
        mounts, mount_of("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
    json_array_append_new(mounts, mount_of("/dev/pts", "devpts", "devpts",
                                           "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"));
    json_array_append_new(
        mounts, mount_of("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
    json_array_append_new(mounts,
                          mount_of("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
    json_array_append_new(mounts, mount_of("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
    json_object_set_new(cfg, "mounts", mounts);
    json_t *linux_ =
        json_pack("{s:[{s:s},{s:s},{s:s},{s:s}], s:[s,s,s,s,s,s,s], s:[s,s,s,s,s]}", "namespaces",
                  "type", "pid", "type", "ipc", "type", "uts", "type", "mount", "maskedPaths",
                  "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                  "/proc/timer_list", "/proc/sched_debug", "/sys/firmware", "readonlyPaths",
                  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
    json_object_set_new(cfg, "linux", linux_);
    return cfg;
}

static int oci_prepare(sl_container *c, char *err, size_t errlen) {
    oci_data *d = sl_xcalloc(1, sizeof *d);
    c->drv_data = d;
    const char *src = c->spec.image + 4;
    if (!sl_oci_runtime(d->runtime, sizeof d->runtime)) {
        snprintf(err, errlen,
                 "CannotStartContainerError: image \"%s\" needs an OCI runtime (crun or runc), "
                 "and neither is installed",
                 c->spec.image);
        return -1;
    }
    char abs_src[PATH_MAX];
    if (!realpath(src, abs_src)) {
        snprintf(err, errlen, "CannotPullContainerError: %s: %s", c->spec.image, strerror(errno));
        return -1;
    }
    char cfgpath[PATH_MAX + 16], rootfs[PATH_MAX + 16];
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", abs_src);
    json_t *cfg;
    struct stat st;
    if (stat(cfgpath, &st) == 0) {
        json_error_t je;
        cfg = json_load_file(cfgpath, 0, &je);
        if (!json_is_object(cfg)) {
            json_decref(cfg);
            snprintf(err, errlen, "CannotStartContainerError: %s: %s", cfgpath, je.text);
            return -1;
        }
        const char *root = json_string_value(json_object_get(json_object_get(cfg, "root"), "path"));
        if (!root) root = "rootfs";
        if (root[0] == '/') snprintf(rootfs, sizeof rootfs, "%s", root);
        else snprintf(rootfs, sizeof rootfs, "%s/%s", abs_src, root);
    } else {
        cfg = default_config();
        snprintf(rootfs, sizeof rootfs, "%s", abs_src);
    }
    json_object_set_new(cfg, "root", json_pack("{s:s, s:b}", "path", rootfs, "readonly", 0));
    json_t *proc = json_object_get(cfg, "process");
    if (!json_is_object(proc)) {
        proc = json_object();
        json_object_set_new(cfg, "process", proc);
    }
    const char *cwd = c->spec.workdir ? c->spec.workdir : "/";
    json_object_set_new(proc, "terminal", json_false());
    json_object_set_new(proc, "args", strv(c->spec.argv));
    json_object_set_new(proc, "env", strv(c->spec.envp));
    json_object_set_new(proc, "cwd", json_string(cwd));
    if (!json_is_object(json_object_get(proc, "user")))
        json_object_set_new(proc, "user", json_pack("{s:i, s:i}", "uid", 0, "gid", 0));
    json_t *mounts = json_object_get(cfg, "mounts");
    if (!json_is_array(mounts)) {
        mounts = json_array();
        json_object_set_new(cfg, "mounts", mounts);
    }
    for (size_t i = json_array_size(mounts); i-- > 0;) {
        const char *dest =
            json_string_value(json_object_get(json_array_get(mounts, i), "destination"));
        if (dest && !strcmp(dest, "/sys/fs/cgroup")) json_array_remove(mounts, i);
    }
    if (c->spec.workdir)
        json_array_append_new(mounts,
                              mount_of(c->spec.workdir, "bind", c->spec.workdir, "rbind,rw"));
    json_t *lin = json_object_get(cfg, "linux");
    if (!json_is_object(lin)) {
        lin = json_object();
        json_object_set_new(cfg, "linux", lin);
    }
    json_t *ns = json_object_get(lin, "namespaces");
    if (!json_is_array(ns)) {
        ns = json_array();
        json_object_set_new(lin, "namespaces", ns);
    }
    for (size_t i = json_array_size(ns); i-- > 0;) {
        const char *t = json_string_value(json_object_get(json_array_get(ns, i), "type"));
        if (t && !strcmp(t, "network")) json_array_remove(ns, i);
    }
    if (c->spec.no_network) json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
    /* Limits live on the supervisor's cgroup (the parent of the runtime's), so its OOM
     * counters see the kill; only the shares go to the runtime. */
    json_t *res = json_object();
    if (c->spec.cpu_units > 0)
        json_object_set_new(res, "cpu",
                            json_pack("{s:I}", "shares", (json_int_t)c->spec.cpu_units));
    json_object_set_new(lin, "resources", res);
    json_object_del(lin, "cgroupsPath");
    /* no cgroup of ours (none usable): rlimits in the container, not on the runtime */
    json_t *rl = json_array();
    if (c->rlimit_mem) {
        json_int_t bytes = (json_int_t)c->spec.memory_mib << 20;
        json_array_append_new(
            rl, json_pack("{s:s, s:I, s:I}", "type", "RLIMIT_AS", "hard", bytes, "soft", bytes));
    }
    json_object_set_new(proc, "rlimits", rl);

    const char *tmp = getenv("TMPDIR");
    snprintf(d->bundle, sizeof d->bundle, "%s/sluice-oci-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->bundle)) {
        json_decref(cfg);
        snprintf(err, errlen, "CannotStartContainerError: bundle dir: %s", strerror(errno));
        d->bundle[0] = 0;
        return -1;
    }
    /* Keep the config in c until spawn adds the cgroup path (known after cgroup_create). */
    snprintf(d->config, sizeof d->config, "%s/config.json", d->bundle);
    if (json_dump_file(cfg, d->config, JSON_INDENT(1)) != 0) {
        json_decref(cfg);
        snprintf(err, errlen, "CannotStartContainerError: writing %s", d->config);
        return -1;
    }
    json_decref(cfg);
    return 0;
}

static int oci_spawn(sl_container *c, char *err, size_t errlen) {
    oci_data *d = c->drv_data;
    if (c->cg_rel[0]) { /* the runtime's cgroup goes below ours */
        json_t *cfg = json_load_file(d->config, 0, NULL);
        if (cfg) {
            char path[PATH_MAX + 8];
            snprintf(path, sizeof path, "%s/ctr", c->cg_rel);
            json_object_set_new(json_object_get(cfg, "linux"), "cgroupsPath", json_string(path));
            json_dump_file(cfg, d->config, JSON_INDENT(1));
            json_decref(cfg);
        }
    }
    char *argv[] = {d->runtime, "run", "--bundle", d->bundle, c->id, NULL};
    int rc = sl_spawn_process(c, d->runtime, argv, environ, NULL, true, err, errlen);
    if (rc == 0) d->created = true;
    return rc;
}

static void oci_kill(sl_container *c, int sig) {
    oci_data *d = c->drv_data;
    char signame[16];
    snprintf(signame, sizeof signame, "%d", sig);
    char *argv[] = {d->runtime, "kill", c->id, signame, NULL};
    sl_run_quiet(argv);
    if (sig == SIGKILL && c->pid > 0) kill(-c->pid, SIGKILL);
}

static void oci_finish(sl_container *c) {
    oci_data *d = c->drv_data;
    if (d->created) {
        char *argv[] = {d->runtime, "delete", "-f", c->id, NULL};
        sl_run_quiet(argv);
        d->created = false;
    }
    if (d->bundle[0]) {
        unlink(d->config);
        rmdir(d->bundle);
        d->bundle[0] = 0;
    }
    if (c->cg_rel[0]) { /* the runtime's own dir, and what it made in other v1 hierarchies */
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/ctr", c->cg_mem);
        rmdir(p);
        static const char *v1[] = {"cpu",  "cpuacct", "cpuset",  "devices", "freezer",   "blkio",
                                   "pids", "systemd", "hugetlb", "net_cls", "perf_event"};
        for (size_t i = 0; i < sizeof v1 / sizeof *v1; i++) {
            char q[PATH_MAX + 64];
            snprintf(q, sizeof q, "/sys/fs/cgroup/%s%s/ctr", v1[i], c->cg_rel);
            if (rmdir(q) == 0 || errno == ENOENT) {
                snprintf(q, sizeof q, "/sys/fs/cgroup/%s%s", v1[i], c->cg_rel);
                if (strcmp(q, c->cg_mem) != 0 && strcmp(q, c->cg_cpu) != 0) rmdir(q);
            }
        }
    }
}

static void oci_destroy(sl_container *c) {
    free(c->drv_data);
    c->drv_data = NULL;
}

const sl_driver sl_driver_oci = {
    .name = "oci",
    .prepare = oci_prepare,
    .spawn = oci_spawn,
    .kill = oci_kill,
    .finish = oci_finish,
    .destroy = oci_destroy,
};
