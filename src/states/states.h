/* states: Step Functions — state machines, executions, activities — as one service. Other
 * services call it directly (an EventBridge rule target starts an execution without HTTP). */
#ifndef SL_STATES_H
#define SL_STATES_H

#include <stddef.h>

#include "core/context.h"
#include "core/router.h"

typedef struct sl_states sl_states;

sl_states *sl_states_new(const sl_context *ctx, char *err, size_t errlen);
void sl_states_register(sl_states *s, sl_router *router);
/* Before the HTTP server stops: answers parked long polls and parks no more. */
void sl_states_quiesce(sl_states *s);
void sl_states_free(sl_states *s);

/* Gives the S3 integrations (aws-sdk:s3:*, s3:getObject/putObject, distributed Map readers
 * and writers) the object store to call directly. */
struct sl_objects;
void sl_states_set_objects(sl_states *s, struct sl_objects *objects);

/* Gives arn:aws:states:::ecs:runTask tasks the ECS service to run tasks with. */
struct sl_tasks;
void sl_states_set_tasks(sl_states *s, struct sl_tasks *tasks);
/* Lets arn:aws:states:::sns:publish tasks publish. */
struct sl_sns;
void sl_states_set_sns(sl_states *s, struct sl_sns *sns);

/* StartExecution for another service (an EventBridge target): input is JSON text, name may be
 * NULL (a UUID is chosen). Returns 0 with the execution ARN in arn_out, or -1 with the AWS error
 * code in code and a message in err. */
int sl_states_start(sl_states *s, const char *machine_arn, const char *name, const char *input,
                    char *arn_out, size_t arnlen, char *code, size_t codelen, char *err,
                    size_t errlen);

#endif
