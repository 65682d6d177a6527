/* logs: CloudWatch Logs — log groups, streams and events kept in the store — behind the JSON 1.1
 * API (X-Amz-Target: Logs_20140328.*), and an in-process append for the task runner (the
 * `awslogs` log driver: a task's lines land in streams named prefix/container/task-id). */
#ifndef SL_LOGS_H
#define SL_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/context.h"
#include "core/router.h"

typedef struct sl_logs sl_logs;

sl_logs *sl_logs_new(const sl_context *ctx, char *err, size_t errlen);
void sl_logs_register(sl_logs *l, sl_router *router);
void sl_logs_free(sl_logs *l);

typedef struct {
    int64_t timestamp_ms;
    const char *message;
    size_t len;
} sl_log_line;

/* Appends lines to group/stream, creating the group (when create_group, as awslogs-create-group
 * does) and the stream if missing. Durable when it returns 0 (one store job for all lines);
 * -1 with err set (the group does not exist and create_group is false, or the store failed).
 * Safe from any thread except the store's writer. */
int sl_logs_append(sl_logs *l, const char *group, const char *stream, bool create_group,
                   const sl_log_line *lines, size_t n, char *err, size_t errlen);

#endif
