/* container_internal: what the supervisor and the drivers share, and nothing the rest of the
 * daemon should see. A driver turns a spec into something the supervisor can watch: either a
 * local child process in its own process group with its stdout/stderr on pipes (host, sandbox,
 * oci), or file descriptors of its own fed back through sl_sup_emit/sl_sup_stream_eof/
 * sl_sup_exited (docker). The supervisor owns timers, cgroups, reaping and the one on_exit.
 * Also declares the Docker wire parsers so the fuzz target can reach them. */
#ifndef SL_TASKS_CONTAINER_INTERNAL_H
#define SL_TASKS_CONTAINER_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tasks/container.h"

/* Longest line handed to on_line; longer lines arrive in pieces of this size. */
#define SL_LINE_MAX (256 * 1024)
/* After the main process is reaped, how long its pipes may stay open (a process that left
 * the group) before they are closed and the exit reported anyway. */
#define SL_DRAIN_MS 2000

typedef struct {
    char *buf; /* SL_LINE_MAX bytes, allocated on first use */
    size_t len;
    int64_t ts_ms; /* when the first byte of the pending line was read */
    bool eof;
} sl_linebuf;

typedef struct sl_watch {
    sl_container *c;
    int kind; /* SL_W_* */
} sl_watch;

enum {
    SL_W_STDOUT,
    SL_W_STDERR,
    SL_W_PIDFD,
    SL_W_DRV0,
    SL_W_DRV1,
    SL_W_COUNT
};

typedef struct sl_driver {
    const char *name;
    /* Caller's thread, before anything runs: checks and engine calls (docker create/start).
     * May be NULL. */
    int (*prepare)(sl_container *c, char *err, size_t errlen);
    /* Supervisor thread: forks the process (sl_spawn_process) or registers driver fds.
     * Forking there makes every child a child of a thread that outlives it, which matters for
     * PR_SET_PDEATHSIG (bwrap --die-with-parent). */
    int (*spawn)(sl_container *c, char *err, size_t errlen);
    /* Delivers sig to the whole container. Called with the supervisor lock held and only
     * while the container has not been reaped. */
    void (*kill)(sl_container *c, int sig);
    /* Supervisor thread: a driver fd (SL_W_DRV0/1) is ready. */
    void (*on_io)(sl_container *c, int kind, uint32_t events);
    /* Supervisor thread, after the exit and before on_exit: engine clean-up, OOM facts. */
    void (*finish)(sl_container *c);
    /* Frees drv_data (any thread, container no longer watched). May be NULL. */
    void (*destroy)(sl_container *c);
} sl_driver;

extern const sl_driver sl_driver_host;
extern const sl_driver sl_driver_sandbox;
extern const sl_driver sl_driver_oci;
extern const sl_driver sl_driver_docker;

struct sl_container {
    sl_supervisor *sup;
    sl_container_spec spec; /* deep copy: strings and vectors owned */
    const sl_driver *drv;
    void *drv_data;
    char id[48]; /* unique in this daemon: engine container names, cgroup names */

    pid_t pid; /* the local child (group leader), -1 for docker */
    int pidfd; /* -1 when pidfd_open is unavailable */
    int out_fd, err_fd;
    sl_linebuf lines[2]; /* [0] stdout, [1] stderr */
    sl_watch watch[SL_W_COUNT];
    int drv_fd[2];

    /* cgroup (empty strings when not used) */
    char cg_mem[PATH_MAX]; /* v1 memory dir or the v2 dir */
    char cg_cpu[PATH_MAX]; /* v1 cpu dir */
    char cg_rel[PATH_MAX]; /* the dir relative to its hierarchy root (for runc's cgroupsPath) */
    bool rlimit_mem;       /* no cgroup: RLIMIT_AS instead */

    /* state; the flags an API caller changes are guarded by sup->mu */
    bool spawned, exited, finished, released, stop_requested, killed;
    int spawn_rc;
    char spawn_err[512];
    int64_t kill_at_ms;  /* monotonic; 0: none */
    int64_t drain_at_ms; /* monotonic; 0: none */
    sl_container_exit ex;
    sl_container *next;
    sl_container *spawn_next;
    sl_container *ready_next; /* progress(): exited, to be finished */
};

/* Driver helpers (supervisor.c). */
/* Bytes read from a stream at ts_ms: split into lines for on_line. */
void sl_sup_emit(sl_container *c, sl_stream s, const char *data, size_t n, int64_t ts_ms);
/* The stream ended: the partial line, if any, goes out. */
void sl_sup_stream_eof(sl_container *c, sl_stream s);
/* The container ended (drivers without a local process). */
void sl_sup_exited(sl_container *c, int exit_code, int signal);
/* Watches fd for input on the supervisor's epoll as SL_W_DRV0 or SL_W_DRV1. */
int sl_sup_watch(sl_container *c, int kind, int fd);
void sl_sup_unwatch(sl_container *c, int kind);

/* driver_host.c: forks path with argv/envp in a new process group, stdio on fresh pipes
 * (stdin /dev/null), chdir_to (may be NULL), joined to the container's cgroups (unless
 * skip_cgroup), all other fds closed, signal mask and dispositions reset. Sets c->pid,
 * c->pidfd, c->out_fd, c->err_fd. Exec failures are reported synchronously. */
int sl_spawn_process(sl_container *c, const char *path, char *const argv[], char *const envp[],
                     const char *chdir_to, bool skip_cgroup, char *err, size_t errlen);
/* Looks name up in path_list (a PATH value; NULL: the default system path). Names with a '/'
 * are returned as they are. 0 and out set, or -1. */
int sl_find_program(const char *name, const char *path_list, char *out, size_t outlen);
/* The PATH= value of envp, or NULL. */
const char *sl_env_path(char *const envp[]);
/* mkdir -p. */
int sl_mkdirs(const char *path, mode_t mode);
/* Runs argv (path looked up in the daemon's PATH) to completion with stdio on /dev/null,
 * waiting for that pid only. Returns its exit status (0-255) or -1. */
int sl_run_quiet(char *const argv[]);

/* driver_oci.c: the runtime binary ("crun" or "runc") this machine should use, or NULL. */
const char *sl_oci_runtime(char *path_out, size_t outlen);

/* driver_docker.c: GET /version on the socket; 0 and a one-line description, or -1 and why. */
int sl_docker_ping(const char *sock, char *info, size_t infolen);

/* Docker wire parsers (driver_docker.c). */

/* An HTTP/1.1 response read incrementally: status, a few headers, then the body decoded from
 * Content-Length, chunked, or read-until-close framing. */
typedef struct {
    int state; /* internal */
    int status;
    bool chunked, done, error;
    int64_t content_length; /* -1: none */
    uint64_t remaining;     /* of the current chunk or the whole body */
    char line[1024];        /* the line being read (status, header, chunk size) */
    size_t line_len;
    size_t header_bytes;
    char content_type[128];
    char errmsg[128];
} sl_http_reader;

typedef void (*sl_body_fn)(void *ctx, const char *data, size_t n);

void sl_http_reader_init(sl_http_reader *r);
/* Consumes n bytes; body bytes go to on_body. Returns the number of bytes used (less than n
 * only once the response is done), or -1 on a malformed response (errmsg says why). */
long sl_http_reader_feed(sl_http_reader *r, const char *p, size_t n, sl_body_fn on_body, void *ctx);
/* The peer closed: completes a read-until-close body; 0 if the response is complete. */
int sl_http_reader_eof(sl_http_reader *r);

/* Docker's multiplexed log stream: frames of an 8-byte header (stream 0/1/2, three zero
 * bytes, big-endian payload length) and the payload. */
typedef struct {
    unsigned char hdr[8];
    size_t hdr_len;
    uint32_t remaining;
    int stream;
    bool error;
} sl_docker_demux;

typedef void (*sl_frame_fn)(void *ctx, int stream, const char *data, size_t n);

void sl_docker_demux_init(sl_docker_demux *d);
/* Returns 0, or -1 on a bad header (stream byte not 0..2 or nonzero padding). */
int sl_docker_demux_feed(sl_docker_demux *d, const char *p, size_t n, sl_frame_fn on_frame,
                         void *ctx);

#endif
