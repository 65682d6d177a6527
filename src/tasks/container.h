/* container: runs one container of a task on this machine and reports on it — the part of the
 * task runner that knows about processes, cgroups, sandboxes and container engines, and nothing
 * of ECS's API. A supervisor (one thread) owns every running container: it starts processes in
 * their own process group, reads their stdout/stderr line by line, enforces memory and CPU
 * limits (cgroup v2, or v1 where that is what the machine has; rlimits as a fallback), stops
 * them (SIGTERM, then SIGKILL after the stop timeout) and reaps them, reporting each exit once.
 *
 * Drivers, chosen by the container's image:
 *   "host"           the command runs on the host (argv passed element by element)
 *   "sandbox"        the same inside bubblewrap: read-only system, private /tmp and workdir,
 *                    own pid namespace, optionally no network
 *   "oci:<path>"     a real container through crun (or runc) from an OCI bundle or a rootfs
 *   anything else    the Docker Engine API over its unix socket, when one is configured
 *                    (Docker, or `podman system service`); otherwise the start fails with a
 *                    message naming the image
 * Callbacks run on the supervisor thread and must not block. */
#ifndef SL_TASKS_CONTAINER_H
#define SL_TASKS_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_supervisor sl_supervisor;
typedef struct sl_container sl_container;

typedef enum {
    SL_STREAM_STDOUT = 1,
    SL_STREAM_STDERR = 2
} sl_stream;

typedef struct {
    int exit_code;     /* the process's exit status, or 128+signal when killed; -1 if none */
    int signal;        /* the signal that ended it, 0 if it exited */
    bool oom_killed;   /* the memory limit killed it (ECS: "OutOfMemoryError: Container
                          killed due to memory usage") */
    bool start_failed; /* never ran: reason says why (ECS: CannotStartContainerError) */
    bool stopped;      /* ended by sl_container_stop */
    char reason[512];  /* ECS-style container reason, "" when it simply exited */
    int64_t started_ms, stopped_ms;
} sl_container_exit;

typedef struct {
    const char *image;            /* selects the driver (see above) */
    char *const *argv;            /* NULL-terminated; argv[0] looked up in PATH for host/sandbox */
    char *const *envp;            /* NULL-terminated, exactly the environment the process gets */
    const char *workdir;          /* the process's working directory (created if missing); for
                                     containers, the host directory mounted as it */
    const char *sandbox_root_dir; /* sandbox: host dir bound read-write as the workdir, or NULL */
    int cpu_units;                /* ECS CPU units (1024 = one core), 0: no limit */
    int memory_mib;               /* hard limit, 0: none */
    int memory_reservation_mib;   /* soft limit, 0: none */
    int stop_timeout_s;           /* SIGTERM → SIGKILL grace, default 30 */
    bool no_network;              /* sandbox/oci: no network namespace access */
    const char *docker_socket;    /* other images: the Docker Engine API socket, NULL: none */
    const char *name;             /* for logs and the container engine, e.g. "task-id/web" */

    void (*on_line)(void *ctx, sl_stream stream, const char *line, size_t len, int64_t ts_ms);
    void (*on_exit)(void *ctx, const sl_container_exit *exit); /* exactly once */
    void *ctx;
} sl_container_spec;

/* Starts the supervisor thread. cgroup_parent: where per-container cgroups are made (e.g.
 * "sluice"), NULL to pick a default; limits fall back to rlimits when cgroups cannot be used. */
sl_supervisor *sl_supervisor_new(const char *cgroup_parent, char *err, size_t errlen);
/* Stops every container (SIGKILL) and the thread; pending on_exit callbacks run first. */
void sl_supervisor_free(sl_supervisor *sup);

/* Starts a container. 0 and *out on success (on_exit will be called once, later);
 * -1 with err set when it cannot start at all (no callback). spec is copied. */
int sl_container_start(sl_supervisor *sup, const sl_container_spec *spec, sl_container **out,
                       char *err, size_t errlen);
/* Asks the container to stop: SIGTERM to its process group, SIGKILL after stop_timeout_s. */
void sl_container_stop(sl_container *c);
/* The process id (host/sandbox drivers), or -1. */
int sl_container_pid(const sl_container *c);
/* Drops the caller's handle; the supervisor frees the container after on_exit. */
void sl_container_release(sl_container *c);

/* Which drivers work on this machine: a line per driver ("host: yes", "sandbox: no (bwrap not
 * installed)", ...) for `sluice version` and the docs. Caller frees. */
char *sl_container_drivers_report(const char *docker_socket);

#endif
