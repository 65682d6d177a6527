/* events: the service's lifetime: load rules, start the dispatcher, register the wire. */
#include "events/events.h"

#include <stdlib.h>

#include "core/buf.h"
#include "core/curl_loader.h"
#include "events/events_internal.h"

sl_events *sl_events_new(const sl_context *ctx, char *err, size_t errlen) {
    sl_events *ev = sl_xcalloc(1, sizeof *ev);
    ev->cfg = ctx->cfg;
    ev->store = ctx->store;
    ev->credentials = ctx->credentials;
    pthread_rwlock_init(&ev->lock, NULL);
    pthread_mutex_init(&ev->rate_mu, NULL);
    pthread_mutex_init(&ev->trail_mu, NULL);
    pthread_mutex_init(&ev->oauth_mu, NULL);
    ev->next_slot = json_object();
    ev_api_init(ev);
    if (ev_catalog_load(ev, err, errlen) != 0 || ev_dispatch_start(ev, err, errlen) != 0) {
        sl_events_free(ev);
        return NULL;
    }
    sl_store_on_commit(ev->store, ev_dispatch_kick, ev);
    return ev;
}

void sl_events_register(sl_events *ev, sl_router *router) {
    sl_router_add_json(router, "AWSEvents", sl_json_service_begin, &ev->json);
}

void sl_events_set_states(sl_events *ev, struct sl_states *states) { ev->states = states; }

void sl_events_set_tasks(sl_events *ev, struct sl_tasks *tasks) { ev->tasks = tasks; }

void sl_events_set_sns(sl_events *ev, struct sl_sns *sns) { ev->sns = sns; }

bool sl_events_wanted(sl_events *ev, const char *bus, const json_t *event) {
    return ev_catalog_match(ev, bus, event, NULL, NULL) > 0;
}

bool sl_events_may_want(sl_events *ev, const char *bus, const char *source) {
    return ev_catalog_may_match_source(ev, bus, source);
}

void sl_events_stop_dispatch(sl_events *ev) {
    sl_store_on_commit(ev->store, NULL, NULL);
    ev_dispatch_stop(ev);
}

void sl_events_free(sl_events *ev) {
    if (!ev) return;
    sl_store_on_commit(ev->store, NULL, NULL);
    ev_dispatch_stop(ev);
    ev_oauth_free(ev);
    pthread_mutex_destroy(&ev->oauth_mu);
    ev_catalog_free(ev);
    pthread_rwlock_destroy(&ev->lock);
    pthread_mutex_destroy(&ev->rate_mu);
    pthread_mutex_destroy(&ev->trail_mu);
    ev_trail_cache_free(ev->trail_cache);
    json_decref(ev->next_slot);
    free(ev);
}
