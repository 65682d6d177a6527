/* states_internal: what the Step Functions files share.
 *
 *   machines.c     state machines and activities: the catalog (compiled definitions cached)
 *   exec.c         the interpreter: advances the runs of one execution state by state,
 *                  producing history events and effects; knows nothing of threads or storage
 *   runtime.c      worker threads, the ready queue, the timer heap, the commit pipeline
 *   snapshot.c     an execution's run state to and from JSON (durability, restart)
 *   integrations.c Task resources: activities, states:startExecution, aws-sdk:s3, events
 *   activities.c   activity task queues and GetActivityTask long polls
 *   api.c          the JSON 1.0 wire
 *
 * An execution is a tree of runs: the top-level run, one run per Parallel branch and one per
 * Map iteration. A run sits in one state at a time and is either ready (to enter or resume its
 * state), waiting (on a timer, a task or its child runs) or finished. Only the worker holding an
 * execution touches its runs; everything else (task results, timers, stop requests) posts a
 * message to the execution's inbox. */
#ifndef SL_STATES_INTERNAL_H
#define SL_STATES_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/json_proto.h"
#include "states/asl.h"
#include "states/states.h"
#include "store/store.h"

#define SFN_DATA_LIMIT     (256 * 1024)
#define SFN_HISTORY_LIMIT  25000
#define SFN_TASK_TIMEOUT_S 99999999

/* ---- machines.c ---- */

typedef struct sfn_machine {
    char *arn, *name, *type; /* type: "STANDARD" | "EXPRESS" */
    char *def_hash;
    char *definition;
    char *role_arn;
    char *revision;     /* the current definition's revisionId, NULL when loaded by hash */
    int64_t updated_ms; /* when that revision was made */
    sl_asl_machine *asl;
    bool stale; /* updated or deleted since: found by hash only */
} sfn_machine;

/* A compiled definition by hash, shared by the machine and its executions. */
sfn_machine *sfn_machine_get(sl_states *s, const char *arn);
sfn_machine *sfn_machine_for_hash(sl_states *s, const char *machine_arn, const char *def_hash);
void sfn_machine_put(sl_states *s, sfn_machine *m);
void sfn_machines_invalidate(sl_states *s, const char *arn);
void sfn_machines_free(sl_states *s);
/* Storing a machine (create, or update when .update): definition by hash, then the row. A write
 * job; returns 1 when creating a machine whose ARN exists. */
typedef struct {
    const char *arn, *name, *type, *hash, *definition, *role, *revision, *spec;
    int64_t now;
    bool update;
    int (*after)(sqlite3 *db, void *ctx); /* more writes in the same job (tags), or NULL */
    void *after_ctx;
} sfn_machine_job;
int sfn_machine_write(sqlite3 *db, void *job);
void sfn_definition_hash(const char *definition, char out[65]);
/* Compiles and checks resources. NULL with the InvalidDefinition message in err. */
sl_asl_machine *sfn_compile(sl_states *s, const char *definition, char *err, size_t errlen);

/* ---- exec.c ---- */

typedef enum {
    RUN_READY,    /* enter the current state (or resume it after a retry wait) */
    RUN_WAITING,  /* on a timer, a task or children */
    RUN_FINISHED, /* succeeded or failed: output or error set */
} sfn_run_phase;

typedef enum {
    WAIT_NONE,
    WAIT_TIMER,    /* Wait state */
    WAIT_RETRY,    /* backoff before a retry */
    WAIT_TASK,     /* a task result (token) */
    WAIT_CHILDREN, /* Parallel branches or Map iterations */
} sfn_wait_kind;

typedef struct sfn_run sfn_run;
struct sfn_run {
    int id;
    int parent; /* run id, -1 for the top run */
    int slot;   /* branch index (Parallel) or item index (Map) in the parent */
    const sl_asl_machine *m;
    int state;        /* index into m->states */
    json_t *input;    /* the state's raw input */
    char *input_text; /* its JSON text when a StateExited event made it already, or NULL */
    int64_t entered_ms;
    int retry_total; /* $$.State.RetryCount */
    int *retries;    /* per retrier */
    bool resumed;    /* re-running after a retry: no new StateEntered event */
    sfn_run_phase phase;
    int last_event; /* previousEventId for this run's next event */
    bool succeeded;
    json_t *output;
    char *error, *cause;

    /* waiting */
    sfn_wait_kind wait;
    int seq;              /* bumped on every wait: messages for an older wait are stale */
    int64_t deadline_ms;  /* WAIT_TIMER / WAIT_RETRY: when; WAIT_TASK: the task timeout */
    int64_t heartbeat_ms; /* WAIT_TASK: heartbeat interval, 0 none */
    int64_t beat_deadline_ms;
    char *token;        /* WAIT_TASK */
    char *resource;     /* WAIT_TASK: the resource as written */
    int task_kind;      /* sfn_task_kind */
    json_t *task_input; /* what the task was given (activities hand it to workers) */
    char *child_arn;    /* startExecution tasks */
    bool task_started;  /* ActivityStarted / TaskStarted recorded */

    /* Parallel / Map parent */
    json_t *effective; /* the state's input after InputPath (and Parameters for Parallel) */
    json_t *items;     /* Map: the items */
    json_t *results;   /* one slot per branch or item */
    size_t next_item, active, done;
    size_t max_concurrency; /* 0: unlimited */
    bool children_failed;
    bool silent;         /* inside a distributed Map: no events in the parent's history */
    bool items_prepared; /* Map items already carry ItemSelector and ItemBatcher */
    json_t *failures;    /* distributed Map: {"<index>": {"Error","Cause"}} tolerated */
    char *map_run_arn;   /* distributed Map */

    sfn_run *next_ready; /* the execution's ready list */
    bool in_ready;
};

typedef enum {
    EXEC_RUNNING,
    EXEC_SUCCEEDED,
    EXEC_FAILED,
    EXEC_TIMED_OUT,
    EXEC_ABORTED,
} sfn_exec_status;
const char *sfn_status_name(sfn_exec_status st);

typedef enum {
    MSG_TIMER,
    MSG_TASK_STARTED,
    MSG_TASK_SUCCEEDED,
    MSG_TASK_FAILED,
    MSG_TASK_TIMED_OUT, /* timer: the task's timeout or heartbeat fell due */
    MSG_HEARTBEAT,
    MSG_EXEC_TIMEOUT,
    MSG_STOP,
    MSG_CHILD_DONE,     /* a startExecution.sync child ended: output is its description */
    MSG_TASK_SUBMITTED, /* an ECS task was started: output is RunTask's answer (PascalCase) */
} sfn_msg_kind;

typedef struct sfn_msg {
    sfn_msg_kind kind;
    int run, seq;
    json_t *output;      /* succeeded */
    char *error, *cause; /* failed, stop */
    char *worker;        /* started */
    struct sfn_msg *next;
} sfn_msg;

typedef enum {
    EFFECT_ACTIVITY, /* publish an activity task */
    EFFECT_TIMER,    /* arm a timer: message kind at when */
    EFFECT_START_CHILD,
    EFFECT_STOP_CHILD,
    EFFECT_NOTIFY_PARENT, /* this execution ended: tell the parent's task */
    EFFECT_FORGET_TOKEN,  /* an activity task is no longer wanted */
    EFFECT_RUN_TASK,      /* ecs:runTask: start the task (payload: Parameters) */
    EFFECT_WATCH_TASK,    /* ecs:runTask.sync after a restart: wait for arn to stop again */
} sfn_effect_kind;

typedef struct sfn_effect {
    sfn_effect_kind kind;
    int run, seq;
    sfn_msg_kind msg;
    int64_t when_ms;
    char *arn; /* activity / child execution */
    char *token;
    json_t *payload; /* activity input / child input */
    int task_kind;   /* EFFECT_START_CHILD: which startExecution */
    struct sfn_effect *next;
} sfn_effect;

typedef struct sfn_event {
    int id, previous;
    const char *type; /* static */
    int64_t ts_ms;
    json_t *details; /* {"<field>EventDetails": {...}} merged into the event */
    char *text;      /* details as compact JSON text, once the commit made it */
    struct sfn_event *next;
} sfn_event;

typedef struct sfn_exec sfn_exec;
struct sfn_exec {
    char *arn, *name;
    sfn_machine *machine;
    bool express;
    json_t *input;
    char *input_text;
    int64_t start_ms, stop_ms;
    int64_t timeout_ms; /* absolute, 0: none */
    sfn_exec_status status;
    json_t *output;
    char *output_text; /* its JSON text when the history made it already, or NULL */
    char *error, *cause;
    char *parent_token; /* started by another execution's startExecution task */
    char *trace_header;
    json_t *inspect; /* TestState: inspection data of the tested state, or NULL */
    json_t *mock;    /* TestState: {"result": text} or {"errorOutput": {...}}, or NULL */
    bool test_mode;  /* TestState: Waits do not wait; a retry ends the test */
    bool test_retriable;
    bool test_caught;
    char *test_next;       /* TestState: the state the tested one moves to */
    json_t *redrive_point; /* failed: {"state": top-level state, "input": its input} */
    int redrive_count;
    json_t *ctx_execution; /* $$.Execution, shared */
    json_t *ctx_machine;   /* $$.StateMachine, shared */

    sfn_run **runs; /* by id */
    int nruns, cap_runs;
    sfn_run *ready_head, *ready_tail;
    int next_event;

    /* produced by a slice, consumed by the runtime */
    sfn_event *events, *events_tail;
    int nevents;
    sfn_effect *effects, *effects_tail;
    bool dirty;    /* run state changed: rewrite the snapshot */
    bool is_new;   /* the execution row does not exist yet */
    bool finished; /* reached a terminal status in this slice */

    /* runtime bookkeeping (guarded by the runtime lock) */
    sfn_msg *inbox, *inbox_tail;
    bool scheduled, running, committing;
    struct sfn_exec *next_queued;
    struct sfn_exec *hash_next;
    void (*on_done)(sfn_exec *e, void *ctx); /* StartSyncExecution waiter */
    void *on_done_ctx;
    void (*on_stored)(sfn_exec *e, void *ctx); /* StartExecution waiter: the first commit */
    void *on_stored_ctx;
    struct sfn_waiter *end_waiters; /* StopExecution callers: the end is durable */
    int refs;
};

/* Creates an execution in memory (not yet stored): the top run ready at StartAt. */
sfn_exec *sfn_exec_new(sl_states *s, sfn_machine *m, const char *arn, const char *name,
                       json_t *input, int64_t now_ms);
void sfn_exec_free(sfn_exec *e);
/* The first step of a new execution: ExecutionStarted, the top run ready, the timeout armed. */
void sfn_exec_begin(sl_states *s, sfn_exec *e);
/* RedriveExecution: e (built with sfn_exec_new, next_event set) resumes at the top-level
 * state `state` with input, after an ExecutionRedriven event. */
void sfn_exec_redrive(sl_states *s, sfn_exec *e, const char *state, json_t *input);
/* After a restart: the effects that re-arm every wait of the loaded runs (timers, activity
 * tasks, child executions to look at). */
void sfn_exec_rearm(sl_states *s, sfn_exec *e);
/* Applies one message (stale ones are dropped). */
void sfn_exec_apply(sl_states *s, sfn_exec *e, sfn_msg *msg);
/* Runs every ready run until all wait or the execution ends. */
void sfn_exec_advance(sl_states *s, sfn_exec *e);
void sfn_exec_event_free_all(sfn_exec *e);
void sfn_exec_effect_free_all(sfn_exec *e);
void sfn_msg_free(sfn_msg *m);
void sfn_run_ready(sfn_exec *e, sfn_run *r);
sfn_run *sfn_run_new(sfn_exec *e, const sl_asl_machine *m, int parent, int slot, json_t *input);

/* Task tokens: "<run>.<seq>.<random>:" + execution ARN, base64url-encoded. */
char *sfn_token_make(const char *exec_arn, int run, int seq);
bool sfn_token_parse(const char *token, char *arn, size_t arnlen, int *run, int *seq);

/* ---- states.c ---- */
typedef struct {
    const char *name;         /* NULL: a UUID */
    json_t *input;            /* borrowed */
    const char *input_text;   /* as given, or NULL (dumped from input) */
    const char *parent_token; /* startExecution.sync: who to tell at the end */
    const char *trace_header;
    void (*on_done)(sfn_exec *e, void *ctx); /* set before the execution can run */
    void *on_done_ctx;
    void (*on_stored)(sfn_exec *e, void *ctx); /* STANDARD: once its start is durable */
    void *on_stored_ctx;
} sfn_start_args;
/* Starts an execution of m. 0: started; 1: the same name and input are already running
 * (StartExecution's idempotency; nothing started); -1: code/msg say why. arn_out and
 * *start_ms describe the execution either way. */
int sfn_start(sl_states *s, sfn_machine *m, const sfn_start_args *a, char *arn_out, size_t arnlen,
              int64_t *start_ms, char *code, size_t codelen, char *msg, size_t msglen);
void sfn_child_start(sl_states *s, const char *parent_arn, sfn_effect *f);
void sfn_child_notify(sl_states *s, const char *parent_token, json_t *description);

/* ---- test_state.c ---- */
/* TestState: the answer object, or NULL with the AWS error code and message. */
json_t *sfn_test_state(sl_states *s, json_t *in, char *code, size_t codelen, char *msg,
                       size_t msglen);

/* ---- ecs_tasks.c ---- */
/* EFFECT_RUN_TASK: RunTask, then tell the execution (submitted / succeeded / failed). */
void sfn_ecs_run(sl_states *s, sfn_effect *f);
/* EFFECT_WATCH_TASK: report the task's stop to the execution once it stops. */
void sfn_ecs_watch(sl_states *s, sfn_effect *f);
/* A task state that ran an ECS task was stopped or timed out: stop the task too. */
void sfn_ecs_stop(sl_states *s, const char *task_arn);

/* ---- snapshot.c ---- */
char *sfn_snapshot_dump(const sfn_exec *e);
/* Rebuilds runs from a snapshot into e (created by sfn_exec_new with no runs). */
int sfn_snapshot_load(sfn_exec *e, const char *text, char *err, size_t errlen);

/* ---- integrations.c ---- */
typedef enum {
    TASK_ACTIVITY,
    TASK_START_EXECUTION,       /* fire and forget */
    TASK_START_EXECUTION_SYNC,  /* .sync: output is the DescribeExecution shape, Output a string */
    TASK_START_EXECUTION_SYNC2, /* .sync:2: Output parsed JSON */
    TASK_START_EXECUTION_TOKEN, /* .waitForTaskToken */
    TASK_AWS_SDK_S3,
    TASK_S3,
    TASK_EVENTS_PUT,
    TASK_EVENTS_PUT_TOKEN,
    TASK_ECS_RUN,           /* ecs:runTask: succeeds with RunTask's answer */
    TASK_ECS_RUN_SYNC,      /* .sync: waits for the task to stop */
    TASK_ECS_RUN_TOKEN,     /* .waitForTaskToken */
    TASK_SNS_PUBLISH,       /* sns:publish: Publish's output */
    TASK_SNS_PUBLISH_TOKEN, /* .waitForTaskToken */
    TASK_UNKNOWN,
} sfn_task_kind;

/* Which integration a Resource names (the activity or machine ARN checked for shape). */
sfn_task_kind sfn_task_classify(const sl_states *s, const char *resource, const char **action);
/* Runs a synchronous integration now (S3, events:putEvents). Returns the result, or NULL with
 * error/cause set (malloc'd). */
json_t *sfn_task_run_sync(sl_states *s, sfn_task_kind kind, const char *action, json_t *params,
                          char **error, char **cause);

/* ---- sns_tasks.c ---- */
/* arn:aws:states:::sns:publish with the task's Parameters: Publish's output with the SDK's
 * metadata, or NULL with error/cause set (malloc'd). */
json_t *sfn_sns_publish(sl_states *s, json_t *params, char **error, char **cause);

/* ---- activities.c ---- */
void sfn_activity_publish(sl_states *s, const char *activity_arn, const char *token, json_t *input);
void sfn_activity_forget(sl_states *s, const char *token);
void sfn_activities_free(sl_states *s);
/* Answers every parked GetActivityTask and parks no more (before the HTTP server stops). */
void sfn_activities_quiesce(sl_states *s);
/* Takes the activity's next task without waiting (in-process workers: the conformance runner).
 * The caller owns *token and *input. */
bool sfn_activity_take(sl_states *s, const char *activity_arn, const char *worker, char **token,
                       json_t **input);

/* ---- runtime.c ---- */
int sfn_runtime_start(sl_states *s, char *err, size_t errlen);
void sfn_runtime_stop(sl_states *s);
/* Hands a new execution to the runtime (stored by its first commit unless EXPRESS). */
void sfn_runtime_submit(sl_states *s, sfn_exec *e);
/* The same, unless an execution of that ARN is running: then nothing is submitted and that
 * execution is returned with a reference held. */
sfn_exec *sfn_runtime_submit_unique(sl_states *s, sfn_exec *e);
/* Calls fn(ctx) (from a runtime thread) once the running execution arn has ended and its end
 * is durable. False when it is not running here (nothing will be called). */
bool sfn_runtime_when_ended(sl_states *s, const char *arn, void (*fn)(void *ctx), void *ctx);
/* Posts a message to a running execution. Returns false when it is not running here. */
bool sfn_runtime_post(sl_states *s, const char *exec_arn, sfn_msg *msg);
/* EXPRESS, for a caller waiting for the end (on_done): runs the new execution e (begun) on
 * the calling thread until it ends or waits. One that ends never meets the runtime's queue:
 * its effects are carried out (timers excepted: nothing is left for them to wake), on_done is
 * called before this returns and e is freed. One that waits is handed to the runtime. With
 * unique (a name given by the caller), e is listed in the running table first, and when an
 * execution of that ARN is running already nothing is run and that one is returned with a
 * reference held (as sfn_runtime_submit_unique). */
sfn_exec *sfn_runtime_run_inline(sl_states *s, sfn_exec *e, bool unique);
/* The running execution by ARN with a reference held, or NULL. */
sfn_exec *sfn_runtime_find(sl_states *s, const char *arn);
void sfn_runtime_release(sl_states *s, sfn_exec *e);
/* Arms a timer that calls fn(ctx) on the timer thread (long-poll timeouts). */
void sfn_runtime_timer(sl_states *s, int64_t when_ms, void (*fn)(void *ctx), void *ctx);
/* Loads STANDARD executions left running by a previous process. */
int sfn_runtime_recover(sl_states *s, char *err, size_t errlen);

struct sfn_activity_queue;
struct sfn_timer_heap;

struct sl_states {
    const sl_config *cfg;
    sl_store *store;
    struct sl_credentials *credentials;
    sl_json_service json;
    struct sl_objects *objects; /* for the S3 integrations, may be NULL */
    struct sl_tasks *tasks;     /* for ecs:runTask, may be NULL */
    struct sl_sns *sns;         /* for sns:publish, may be NULL */

    pthread_mutex_t catalog_mu;
    sfn_machine **machines; /* cache by def hash + arn */
    size_t nmachines, cap_machines;

    /* runtime */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, timer_cv;
    sfn_exec **table; /* running executions by ARN */
    size_t table_cap, table_len;
    sfn_exec *queue_head, *queue_tail;
    struct sfn_timer_heap *timers;
    pthread_t workers[2];
    int nworkers;
    pthread_t timer_thread;
    bool stopping;

    /* activities */
    pthread_mutex_t act_mu;
    struct sfn_activity_queue *queues;
    bool act_quiescing; /* stopping: GetActivityTask answers at once */
};

/* ARN helpers. */
void sfn_arn(const sl_states *s, const char *kind, const char *name, char *out, size_t n);
/* Splits "arn:aws:states:region:account:<kind>:<name>[:<exec>]"; false when not that shape. */
bool sfn_arn_split(const char *arn, const char *kind, char *name, size_t nlen, char *rest,
                   size_t rlen);

#endif
