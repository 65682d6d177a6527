/* events: the EventBridge-compatible event bus. Owns buses, rules, targets, connections and
 * API destinations; turns object-store changes (the outbox) and PutEvents into events; matches
 * them against each bus's rules with one compiled matcher per bus; and delivers to targets
 * durably, with the target's retry policy, then to the dead letters. */
#ifndef SL_EVENTS_H
#define SL_EVENTS_H

#include <stddef.h>

#include "core/context.h"
#include "core/router.h"

typedef struct sl_events sl_events;

/* Loads the rules and starts the dispatcher. */
sl_events *sl_events_new(const sl_context *ctx, char *err, size_t errlen);
void sl_events_register(sl_events *ev, sl_router *router);
/* Lets state machine targets start executions. */
struct sl_states;
void sl_events_set_states(sl_events *ev, struct sl_states *states);
/* Lets ECS targets (EcsParameters) run tasks. */
struct sl_tasks;
void sl_events_set_tasks(sl_events *ev, struct sl_tasks *tasks);
/* Stops the dispatcher (an in-flight delivery finishes or times out first). */
void sl_events_free(sl_events *ev);

#endif
