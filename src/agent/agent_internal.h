/* agent_internal: what the agent's files share.
 *
 *   agent.c    the command line, start-up and shutdown, registration, the poll loop (the
 *              "poller" thread) and starting and stopping the tasks it is given
 *   report.c   the "reporter" thread: ships output lines (PutLogLines) and container states
 *              (ReportTaskState) and forgets tasks once their final state is delivered
 *   client.c   one SigV4-signed JSON call to the daemon over libcurl
 *
 * Threads: the supervisor's thread runs the container callbacks, which only append to the
 * task table under agent->mu and signal; the poller starts and stops containers; the reporter
 * talks to the daemon about what happened. No thread calls into the supervisor or the network
 * while holding agent->mu. */
#ifndef SL_AGENT_INTERNAL_H
#define SL_AGENT_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tasks/container.h"

/* ---- client.c ---- */

typedef struct {
    char *access_key_id, *secret_access_key, *session_token, *region;
} agent_credentials;

typedef enum {
    AGENT_CALL_OK,          /* 2xx: reply->body is the answer ({} when it had none) */
    AGENT_CALL_REFUSED,     /* the daemon answered an error (4xx): reply->type, message */
    AGENT_CALL_UNREACHABLE, /* connection failure, timeout, 5xx: try again later */
    AGENT_CALL_ABORTED,     /* the client's abort flag was raised */
} agent_call_status;

typedef struct {
    json_t *body;
    long http_status;
    char type[128];    /* the error's __type without its namespace ("ClientException") */
    char message[512]; /* the daemon's message, or what went wrong on the way */
} agent_reply;

typedef struct agent_client agent_client;

/* endpoint: http(s)://host[:port][/path]. abort: raised → calls in flight return ABORTED.
 * NULL with err when libcurl cannot be loaded or the endpoint is not a URL. */
agent_client *agent_client_new(const char *endpoint, const agent_credentials *creds,
                               const atomic_bool *abort, char *err, size_t errlen);
void agent_client_free(agent_client *c);
/* POSTs request (not consumed) with X-Amz-Target target; timeout_ms bounds the whole call. */
agent_call_status agent_call(agent_client *c, const char *target, json_t *request, long timeout_ms,
                             agent_reply *reply);
void agent_reply_clear(agent_reply *r);

/* ---- the task table ---- */

typedef struct {
    int64_t ts;
    char *text;
} agent_line;

typedef struct agent_container {
    struct agent_task *task;
    struct sl_agent *agent;
    char *name;
    bool essential;
    int stop_timeout_s;
    const char *status; /* PENDING, RUNNING, STOPPED */
    bool has_exit;
    int exit_code;
    char reason[600];
    int pid;
    sl_container *handle; /* NULL when it never started */
    bool stop_sent;       /* sl_container_stop called */
    agent_line *lines;    /* output not yet shipped */
    size_t nlines, cap_lines;
    size_t dropped; /* lines lost to the pending-lines cap */
} agent_container;

typedef struct agent_task {
    char *arn, *id;
    agent_container *containers;
    size_t ncontainers;
    size_t live;      /* containers started and not yet exited */
    bool dirty;       /* the daemon has not heard the current state */
    bool stop_wanted; /* every live container must be stopped (StopTask, an essential exit) */
    bool done;        /* final state delivered: forgotten once nobody holds it */
    int refs;         /* the table's own reference plus one per thread using it unlocked */
    struct agent_task *next;
} agent_task;

typedef struct sl_agent {
    /* options */
    char *endpoint, *cluster, *data_dir, *name, *version, *docker_socket;
    agent_credentials creds;

    sl_supervisor *sup;
    agent_client *poll_client, *report_client;

    pthread_mutex_t mu;
    pthread_cond_t report_cv; /* the reporter has something urgent */
    pthread_cond_t exit_cv;   /* a container exited (shutdown waits on it) */
    agent_task *tasks;
    char instance_arn[512]; /* "" until registered */
    bool reporter_drain;    /* shutdown: send what is left, then return */
    int64_t drain_deadline_ms;

    atomic_bool stopping;       /* SIGTERM/SIGINT: the poller returns */
    atomic_bool reporter_abort; /* shutdown gave up on the daemon */
    pthread_t poller, reporter;
} sl_agent;

/* Takes a reference on t (caller holds mu); task_unref drops it and frees a task that is done
 * and unreferenced (caller must NOT hold mu: it releases container handles). */
void agent_task_ref(agent_task *t);
void agent_task_unref(sl_agent *a, agent_task *t);
/* Marks every task as not yet reported (after a reconnection) and wakes the reporter. */
void agent_mark_all_dirty(sl_agent *a);

/* ---- report.c ---- */

void *agent_reporter_main(void *arg);
/* Container callbacks (supervisor thread): queue and return. */
void agent_on_line(void *ctx, sl_stream stream, const char *line, size_t len, int64_t ts_ms);
void agent_on_exit(void *ctx, const sl_container_exit *exit);

/* ---- helpers shared by the files ---- */

/* Sleeps ms, returning early (true) when flag is raised. */
bool agent_sleep(const atomic_bool *flag, int64_t ms);

#endif
