/* tasks: ECS — clusters, task definitions, tasks and container instances — run on this
 * machine by the container supervisor (or, for EXTERNAL tasks, by agents). Other services call
 * it directly: a Step Functions task state runs a task and waits for it to stop; an EventBridge
 * rule target runs one per event. */
#ifndef SL_TASKS_H
#define SL_TASKS_H

#include <jansson.h>
#include <stddef.h>

#include "core/context.h"
#include "core/router.h"

typedef struct sl_tasks sl_tasks;
struct sl_logs;
struct sl_objects;

sl_tasks *sl_tasks_new(const sl_context *ctx, char *err, size_t errlen);
void sl_tasks_register(sl_tasks *t, sl_router *router);
/* The URL tasks use to reach Sluice (AWS_ENDPOINT_URL, the metadata endpoint), once the HTTP
 * server knows its port; the CloudWatch Logs service for the awslogs driver. */
void sl_tasks_set_endpoint(sl_tasks *t, const char *url);
void sl_tasks_set_logs(sl_tasks *t, struct sl_logs *logs);
/* The object store, for environmentFiles on S3. */
void sl_tasks_set_objects(sl_tasks *t, struct sl_objects *objects);
/* The event bus: task state-change events no rule wants are not written (NULL: all are). */
struct sl_events;
void sl_tasks_set_events(sl_tasks *t, struct sl_events *events);
/* Before the HTTP server stops: answers the agents' parked polls and parks no more. */
void sl_tasks_quiesce(sl_tasks *t);
/* Stops every task (their containers are killed) and the runner. */
void sl_tasks_free(sl_tasks *t);

/* RunTask with a request object in the API's shape ({"taskDefinition", "cluster", "count",
 * "launchType", "overrides", "startedBy", ...}). Returns the response ({"tasks", "failures"}),
 * or NULL with the AWS error code and message. */
json_t *sl_tasks_run(sl_tasks *t, json_t *request, char *code, size_t codelen, char *msg,
                     size_t msglen);
/* Calls fn(ctx, task) once the task has STOPPED (task: the DescribeTasks shape, borrowed), on a
 * runner thread; at once if it already has. False when there is no such task. */
bool sl_tasks_when_stopped(sl_tasks *t, const char *task_arn, void (*fn)(void *ctx, json_t *task),
                           void *ctx);
/* StopTask for another service (a Step Functions task that timed out). */
void sl_tasks_stop(sl_tasks *t, const char *task_arn, const char *reason);

#endif
