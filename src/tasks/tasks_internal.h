/* tasks_internal: what the ECS files share.
 *
 *   tasks.c     the service's lifetime, ARNs, the default cluster
 *   catalog.c   clusters and task definitions in the store
 *   runner.c    tasks: RunTask's checks, the lifecycle thread (containers started through the
 *               supervisor, exits, stops, logs, statuses), documents in the API's shapes
 *   launch.c    what a container is started with: image → driver (aliases), argv, the task's
 *               environment (endpoint, credentials, metadata URI, files, secrets), limits
 *   metadata.c  the task metadata endpoint (ECS_CONTAINER_METADATA_URI_V4)
 *   api.c       the JSON 1.1 wire
 *
 * All task state changes happen on the runner thread; API threads read documents under the
 * lock and post requests (start, stop) to the runner's queue. */
#ifndef SL_TASKS_INTERNAL_H
#define SL_TASKS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/json_proto.h"
#include "core/name_cache.h"
#include "store/store.h"
#include "tasks/container.h"
#include "tasks/tasks.h"

typedef struct ecs_line {
    int64_t ts;
    char *text;
} ecs_line;

typedef struct ecs_container {
    struct ecs_task *task;
    int index;
    char *name, *image, *arn;
    json_t *def; /* the container definition with the task's overrides applied */
    bool essential;
    const char *last_status; /* PENDING, RUNNING, STOPPED */
    bool has_exit;
    int exit_code;
    char *reason;
    int pid;
    sl_container *handle;
    int64_t started_ms;
    /* awslogs */
    char *log_group, *log_stream;
    bool log_create_group;
    pthread_mutex_t lines_mu; /* the supervisor appends, the runner flushes */
    ecs_line *lines;
    size_t nlines, cap_lines;
    size_t dropped_lines; /* past the pending limit since the last flush */
} ecs_container;

typedef struct ecs_waiter {
    void (*fn)(void *ctx, json_t *task);
    void *ctx;
    struct ecs_waiter *next;
} ecs_waiter;

typedef struct ecs_task {
    struct sl_tasks *svc;
    char *arn, *id, *cluster_arn, *cluster_name, *taskdef_arn, *family;
    int revision;
    json_t *taskdef; /* the TaskDefinition document */
    json_t *overrides, *tags;
    char *launch_type, *started_by, *group, *cpu, *memory;
    char *instance_arn; /* EXTERNAL: the container instance (agent) running it */
    const char *last_status, *desired_status;
    const char *stop_code;
    char *stopped_reason;
    int64_t created, pull_started, pull_stopped, started, stopping, execution_stopped, stopped;
    int version;
    ecs_container *containers;
    size_t ncontainers;
    size_t running; /* containers started and not yet exited */
    char access_key[21], secret[41];
    char workdir[1200];
    json_t *doc; /* the Task shape, rebuilt on every change (under the lock) */
    /* State-change events of states not written on their own (PENDING before RUNNING,
     * DEPROVISIONING before STOPPED): they go out in the next write, in order. Runner thread. */
    json_t *held_events;
    ecs_waiter *waiters;
    bool start_queued;
    bool finishing;               /* STOPPED is being written: events for it are ignored */
    struct ecs_task *next, *prev; /* sl_tasks.tasks, under its mu */
} ecs_task;

typedef enum {
    EV_START,
    EV_EXIT,
    EV_STOP,
    EV_REPORT, /* an agent reported its containers */
    EV_LOST,   /* reason: an instance whose tasks are lost */
} ecs_event_kind;

typedef struct ecs_event {
    ecs_event_kind kind;
    ecs_task *task;
    int container;
    sl_container_exit exit;
    char *reason;
    json_t *report; /* EV_REPORT: the agent's containers array */
    char *task_arn; /* EV_STOP, EV_REPORT: found again by ARN (it may have ended meanwhile) */
    struct ecs_event *next;
} ecs_event;

struct ecs_instance;

#define ECS_SPARE_MAX 64 /* emptied working directories kept */

struct sl_tasks {
    const sl_config *cfg;
    sl_store *store;
    struct sl_credentials *credentials;
    struct sl_logs *logs;
    struct sl_objects *objects;
    struct sl_events *events; /* under mu: filters state-change events nobody listens to */
    sl_json_service json;
    sl_json_service agent_json; /* SluiceAgentV1 */
    char *endpoint;             /* http://host:port */
    char data_dir[1024];        /* absolute: tasks run elsewhere */
    /* RunTask's lookups (core/name_cache.h): active clusters by name, and task definitions
     * by "family:revision" as [document, inactive] */
    struct sl_name_cache *clusters, *taskdefs;
    json_t *aliases;
    sl_supervisor *supervisor;
    char supervisor_err[256];

    pthread_mutex_t mu;
    pthread_cond_t cv;
    ecs_task *tasks; /* in memory: every task not yet forgotten */
    ecs_event *queue, *queue_tail;
    pthread_t thread;
    bool started, stopping;
    bool flush_now;     /* a container's output is piling up: flush before the next tick */
    int pending_writes; /* task states handed to the store and not yet durable */

    /* emptied working directories kept for the next tasks (workdirs.c) */
    pthread_mutex_t spare_mu;
    unsigned spare[ECS_SPARE_MAX]; /* names (numbers) under <data>/tasks/.spare/ */
    int nspare;
    unsigned spare_seq;
    bool spare_off; /* no spare dir could be made: make and remove as before */

    /* agents (ECS Anywhere): guarded by mu */
    struct ecs_instance *instances;
    int64_t agent_timeout_ms;
    bool quiescing; /* stopping: long polls are answered at once */
};

/* A registered agent: what it must start and stop, and the poll waiting for that. */
typedef struct ecs_instance {
    char *arn, *cluster;
    json_t *doc;       /* the ContainerInstance shape */
    int64_t last_seen; /* any call from the agent */
    bool connected;
    json_t *start;      /* task start entries not yet handed out */
    json_t *stop;       /* task ARNs to stop */
    sl_json_call *poll; /* a PollTasks waiting, or NULL */
    int64_t poll_since;
    struct ecs_instance *next;
} ecs_instance;

/* workdirs.c: task working directories (<data>/tasks/<id>, a dir per container inside) */
void ecs_workdirs_init(sl_tasks *t);
void ecs_workdirs_free(sl_tasks *t);
/* Makes workdir and its first container's dir `first` (others: mkdir). 0 or -1. */
int ecs_workdir_make(sl_tasks *t, const char *workdir, const char *first);
/* The task is over: its directory is emptied and kept for a next task, or removed. */
void ecs_workdir_release(sl_tasks *t, const char *workdir, const char *first);
/* Removes a directory under <data>/tasks/ and everything in it, without a shell. */
void ecs_workdir_remove(const char *path);

/* agent_api.c */
void ecs_agent_api_init(sl_tasks *t);
void ecs_agents_register(sl_tasks *t, sl_router *router);
int ecs_agents_load(sl_tasks *t);
void ecs_agents_free(sl_tasks *t);
/* The least busy connected instance of cluster (ARN copied into out), false when none. */
bool ecs_agent_pick(sl_tasks *t, const char *cluster, char *out, size_t n);
/* The connected instance of cluster named by ref (ARN or id), ARN copied into out. */
bool ecs_agent_connected(sl_tasks *t, const char *cluster, const char *ref, char *out, size_t n);
/* Hands a task start entry / a stop to the instance's agent (wakes its poll). */
void ecs_agent_send_start(sl_tasks *t, const char *instance_arn, json_t *entry);
void ecs_agent_send_stop(sl_tasks *t, const char *instance_arn, const char *task_arn);
/* Instances whose agent went quiet: marks them disconnected and returns their ARNs. */
json_t *ecs_agents_expire(sl_tasks *t);
/* Answers parked polls that have waited long enough. */
void ecs_agents_tick(sl_tasks *t);
/* Answers every parked poll and parks no more (before the HTTP server stops). */
void ecs_agents_quiesce(sl_tasks *t);
/* ECS API ops on container instances (api.c's table uses them). */
void ecs_op_register_instance(void *svc, sl_json_call *call, json_t *in);
void ecs_op_deregister_instance(void *svc, sl_json_call *call, json_t *in);
void ecs_op_list_instances(void *svc, sl_json_call *call, json_t *in);
void ecs_op_describe_instances(void *svc, sl_json_call *call, json_t *in);

/* runner.c, for agents */
void ecs_task_report(sl_tasks *t, const char *task_arn, json_t *containers);
/* Appends an agent's lines to the task container's log stream. 0, or -1 with err. */
int ecs_task_log_lines(sl_tasks *t, const char *task_arn, const char *container, json_t *lines,
                       char *err, size_t errlen);
/* Whether the task is one this instance runs and the daemon still wants. */
bool ecs_task_wanted(sl_tasks *t, const char *task_arn, const char *instance_arn);

/* tasks.c */
void ecs_arn(const sl_tasks *t, const char *kind, const char *rest, char *out, size_t n);
const char *ecs_cluster_name(const char *name_or_arn); /* "default" for NULL */
double ecs_epoch(int64_t ms);

/* catalog.c */
bool ecs_cluster_exists(sl_tasks *t, const char *name);
/* The ACTIVE (or named) revision's document: "family", "family:rev" or an ARN. NULL when
 * there is none; *inactive set when the revision exists but was deregistered. */
json_t *ecs_taskdef_get(sl_tasks *t, const char *ref, bool *inactive);
int ecs_catalog_init(sl_tasks *t, char *err, size_t errlen);

/* launch.c */
typedef struct {
    char *image;      /* the driver's image: host, sandbox, oci:..., or a Docker image */
    char **argv;      /* NULL-terminated */
    char **envp;      /* NULL-terminated */
    char reason[512]; /* why it cannot start (CannotPullContainerError...) */
} ecs_launch;
/* Resolves what container c starts with. false with l->reason when it cannot start. */
bool ecs_launch_prepare(sl_tasks *t, ecs_container *c, ecs_launch *l);
void ecs_launch_free(ecs_launch *l);
/* Checks at RunTask time that the image can run here; false with reason. */
bool ecs_image_runnable(sl_tasks *t, const char *image, char *reason, size_t n);

/* runner.c */
int ecs_runner_start(sl_tasks *t, char *err, size_t errlen);
void ecs_runner_stop(sl_tasks *t);
int ecs_runner_recover(sl_tasks *t);
/* Copies of documents (caller decrefs): a task in memory by ARN or id, else NULL. */
json_t *ecs_task_doc(sl_tasks *t, const char *arn_or_id);
void ecs_task_stop(sl_tasks *t, const char *arn, const char *reason);
/* Metadata endpoint documents (v4 shapes); NULL when unknown. */
json_t *ecs_metadata(sl_tasks *t, const char *task_id, const char *container, bool task_level);

/* metadata.c */
void ecs_metadata_begin(sl_req *req, void *svc);

/* api.c */
void ecs_api_init(sl_tasks *t);
/* List pagination: reads in's maxResults (1 to 100, default 100: *limit) and nextToken for op.
 * *after: the key the page starts after (an array shaped by shape, 's' string, 'i' integer;
 * caller decrefs) or NULL for the first page. false once the call is answered with
 * InvalidParameterException (maxResults out of range, a token not of op). */
bool ecs_page_begin(sl_json_call *call, json_t *in, const char *op, const char *shape, int *limit,
                    json_t **after);
/* The nextToken resuming op after key (an array, stolen). */
json_t *ecs_page_token(const char *op, json_t *key);

#endif
