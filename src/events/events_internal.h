/* events_internal: what the events files share. catalog.c keeps rules and the per-bus
 * matchers; api.c is the JSON wire; dispatch.c drains the outbox and runs deliveries;
 * s3_shapes.c builds the events S3 changes raise; deliver.c calls targets; oauth.c gets and keeps
 * OAuth connections' tokens; transform.c applies Input, InputPath and InputTransformer. */
#ifndef SL_EVENTS_INTERNAL_H
#define SL_EVENTS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/curl_loader.h"
#include "core/json_proto.h"
#include "events/events.h"
#include "events/pattern.h"
#include "events/schedule.h"
#include "store/store.h"

typedef struct bus_matcher {
    char *bus;
    sl_matcher *matcher; /* enabled rules with a pattern */
    json_t *sources;     /* the exact "source" values those patterns name */
    bool any_source;     /* some pattern does not restrict "source" to exact values */
    struct bus_matcher *next;
} bus_matcher;

typedef struct rate_rule {
    char *bus, *name;
    sl_schedule *schedule; /* rate() or cron() */
    int64_t next_ms;       /* -1: never again */
    struct rate_rule *next;
} rate_rule;

struct sl_events {
    const sl_config *cfg;
    sl_store *store;
    struct sl_credentials *credentials;
    sl_json_service json;

    pthread_rwlock_t lock; /* guards matchers and rates */
    bus_matcher *matchers;
    rate_rule *rates;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool kicked;
    bool started;

    struct sl_states *states; /* StartExecution targets (set once both services exist) */
    struct sl_tasks *tasks;   /* ECS targets */
    struct sl_sns *sns;       /* SNS targets and S3 topic notifications */
    pthread_mutex_t rate_mu;  /* API destination rate limits */
    json_t *next_slot;        /* destination name -> next allowed ms */

    bool oauth_pending;                  /* connections wait in AUTHORIZING (guarded by mu) */
    pthread_mutex_t oauth_mu;            /* guards oauth_tokens, held across a token fetch */
    struct ev_oauth_entry *oauth_tokens; /* OAuth access tokens */

    struct ev_delivery_pool *pool; /* threads that run a batch of deliveries with the dispatcher */

    pthread_mutex_t trail_mu;           /* guards trail_cache */
    struct ev_trail_cache *trail_cache; /* compiled selectors of logging trails (s3_shapes.c) */
};

/* ARNs. */
void ev_bus_arn(const sl_events *ev, const char *bus, char *out, size_t n);
void ev_rule_arn(const sl_events *ev, const char *bus, const char *rule, char *out, size_t n);
/* EventBusName may be a name or an ARN; NULL means "default". Writes the name. */
bool ev_bus_name(const char *name_or_arn, char *out, size_t n);

/* catalog.c */
int ev_catalog_load(sl_events *ev, char *err, size_t errlen);
void ev_catalog_free(sl_events *ev);
/* Rebuilds the bus's matcher from the store (after a rule change commits). */
void ev_catalog_reload_bus(sl_events *ev, const char *bus);
/* Calls fn for each enabled rule of bus whose pattern matches event. */
/* Whether some enabled rule of bus could match an event of source (bus_matcher.sources). */
bool ev_catalog_may_match_source(sl_events *ev, const char *bus, const char *source);
size_t ev_catalog_match(sl_events *ev, const char *bus, const json_t *event,
                        void (*fn)(void *ctx, const char *rule), void *ctx);
bool ev_bus_exists(sl_events *ev, const char *bus);

/* dispatch.c */
int ev_dispatch_start(sl_events *ev, char *err, size_t errlen);
void ev_dispatch_stop(sl_events *ev);
void ev_dispatch_kick(void *ev);
/* Inside a write job: matches event on bus and queues a delivery per target of every matching
 * rule. Returns the number queued, or -1. */
int ev_route(sl_events *ev, sqlite3 *db, const char *bus, const json_t *event);

/* s3_shapes.c: the events an outbox row of kind "s3" raises on the default bus (EventBridge
 * "Object Created"... when the bucket sends to EventBridge, and "AWS API Call via CloudTrail"
 * when a logging trail selects the object). Appends to out. */
void ev_s3_events(sl_events *ev, sqlite3 *db, const json_t *payload, int64_t sequence, json_t *out);
void ev_trail_cache_free(struct ev_trail_cache *c);
/* A new event envelope: version, id, detail-type, source, account, time, region, resources. */
json_t *ev_envelope(const sl_events *ev, const char *source, const char *detail_type,
                    int64_t time_ms, json_t *resources, json_t *detail);

/* transform.c: the body a target receives: Input, InputPath or InputTransformer applied to the
 * event (rule_arn/rule_name fill the <aws.events.rule-*> placeholders). NULL with err on
 * failure (the delivery then fails without retry). Caller frees. */
char *ev_transform(const json_t *target, const json_t *event, const char *rule_arn,
                   const char *rule_name, char *err, size_t errlen);
/* Validates a target's Input/InputPath/InputTransformer at PutTargets time. */
bool ev_transform_valid(const json_t *target, char *err, size_t errlen);

/* deliver.c: sends body to one target. Returns 0 on success; 1 when the destination's rate
 * limit defers it until *defer_until_ms (not an attempt); -1 with err saying why and
 * *retryable whether the retry policy applies. */
int ev_deliver(sl_events *ev, const json_t *target, const char *body, bool *retryable,
               int64_t *defer_until_ms, char *err, size_t errlen);
/* Which targets Sluice delivers to; false with err naming the service otherwise. */
bool ev_target_supported(const char *arn, char *err, size_t errlen);
/* This thread's HTTP handle (made on first use, kept so connections are reused), and its
 * release when a delivering thread ends. */
void *ev_http_handle(const sl_curl_api *cu);
void ev_http_thread_end(void);
/* Request helpers shared with oauth.c: a "Key: value" header; a query parameter appended to
 * url (first: no parameter added yet); "Authorization: Basic base64(user:password)". */
struct curl_slist *ev_http_header(const sl_curl_api *cu, struct curl_slist *h, const char *k,
                                  const char *v);
void ev_http_query(sl_buf *url, bool *first, const char *k, const char *v);
struct curl_slist *ev_http_basic(const sl_curl_api *cu, struct curl_slist *h, const char *user,
                                 const char *password);

/* oauth.c: OAUTH_CLIENT_CREDENTIALS connections. */
typedef struct {
    char *access_token;
    int64_t obtained_ms;
    int64_t expires_ms; /* 0: the answer gave no expires_in */
} ev_oauth_token;
/* Parses a token endpoint's answer ({"access_token": ..., "expires_in": ...}): 0, or -1 with
 * err when it holds no access_token a header can carry. Untrusted input. */
int ev_oauth_parse_token(const char *body, size_t len, int64_t now_ms, ev_oauth_token *out,
                         char *err, size_t errlen);
void ev_oauth_token_clear(ev_oauth_token *t);
/* Whether the token can still be sent at now_ms: refreshed ahead of expiry by 60 s, or half
 * its lifetime when that is shorter. */
bool ev_oauth_token_fresh(const ev_oauth_token *t, int64_t now_ms);
/* The access token for connection name (its spec and modified_ms as stored), fetched when
 * there is none, it is stale, the connection changed, or force is set (the destination
 * answered 401/407); a copy the caller frees. NULL with err and *retryable when none can be
 * had; a refusal by the endpoint deauthorizes the connection. Any delivering thread. */
char *ev_oauth_bearer(sl_events *ev, const char *name, const json_t *conn, int64_t modified_ms,
                      bool force, bool *retryable, char *err, size_t errlen);
/* API side: some connection was left AUTHORIZING; the dispatcher authorizes it next round. */
void ev_oauth_request_authorization(sl_events *ev);
/* Dispatcher side: fetches a token for every AUTHORIZING connection and records the outcome. */
void ev_oauth_authorize_pending(sl_events *ev);
void ev_oauth_free(sl_events *ev);

/* api.c */
void ev_api_init(sl_events *ev);

#endif
