/* events: the EventBridge-compatible event bus. Owns buses, rules, targets, connections and
 * API destinations; turns object-store changes (the outbox) and PutEvents into events; matches
 * them against each bus's rules with one compiled matcher per bus; and delivers to targets
 * durably, with the target's retry policy, then to the dead letters. */
#ifndef SL_EVENTS_H
#define SL_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
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
/* Lets SNS targets publish, and S3 changes reach TopicConfigurations. */
struct sl_sns;
void sl_events_set_sns(sl_events *ev, struct sl_sns *sns);
/* Whether some enabled rule of bus matches event now. Services that raise many events of their
 * own (ECS task state changes) put on the outbox only those some rule wants, as S3 writes no
 * outbox row for a bucket nobody listens to. A rule created later does not see an event
 * dropped before it (on AWS too a new rule takes a moment to apply). Any thread. */
bool sl_events_wanted(sl_events *ev, const char *bus, const json_t *event);
/* Whether some enabled rule of bus could match an event of this source at all: false when
 * every rule's pattern names its sources and none is this one. Lets a service skip building
 * an event nobody can want. Any thread. */
bool sl_events_may_want(sl_events *ev, const char *bus, const char *source);
/* Stops the dispatcher: no more target calls into other services (their stop comes next). */
void sl_events_stop_dispatch(sl_events *ev);
/* Stops the dispatcher (an in-flight delivery finishes or times out first) and frees. */
void sl_events_free(sl_events *ev);

#endif
