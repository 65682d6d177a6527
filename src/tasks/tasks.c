/* tasks: the ECS service's lifetime — the default cluster, the container supervisor, the runner
 * thread, the metadata endpoint and the wire — and its ARNs. */
#include "tasks/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "tasks/tasks_internal.h"

void ecs_arn(const sl_tasks *t, const char *kind, const char *rest, char *out, size_t n) {
    snprintf(out, n, "arn:aws:ecs:%s:%s:%s/%s", t->cfg->region, t->cfg->account_id, kind, rest);
}

const char *ecs_cluster_name(const char *name_or_arn) {
    if (!name_or_arn || !*name_or_arn) return "default";
    const char *slash = strstr(name_or_arn, ":cluster/");
    return slash ? slash + 9 : name_or_arn;
}

double ecs_epoch(int64_t ms) { return (double)ms / 1000.0; }

sl_tasks *sl_tasks_new(const sl_context *ctx, char *err, size_t errlen) {
    sl_tasks *t = sl_xcalloc(1, sizeof *t);
    t->cfg = ctx->cfg;
    t->store = ctx->store;
    t->credentials = ctx->credentials;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->clusters = sl_name_cache_new(1024);
    t->taskdefs = sl_name_cache_new(1024);
    if (ctx->cfg->image_aliases) t->aliases = json_loads(ctx->cfg->image_aliases, 0, NULL);
    t->endpoint = sl_xstrdup("http://127.0.0.1:4566");
    char abs[4096];
    snprintf(t->data_dir, sizeof t->data_dir, "%.1000s",
             realpath(sl_store_dir(ctx->store), abs) ? abs : sl_store_dir(ctx->store));
    /* without a supervisor (no cgroups, no fork...) RunTask answers failures, not crashes */
    t->supervisor = sl_supervisor_new("sluice", t->supervisor_err, sizeof t->supervisor_err);
    if (!t->supervisor) sl_warn("\"tasks cannot run here\" error=\"%s\"", t->supervisor_err);
    ecs_workdirs_init(t);
    ecs_api_init(t);
    ecs_agent_api_init(t);
    if (ecs_catalog_init(t, err, errlen) != 0 || ecs_agents_load(t) != 0 ||
        ecs_runner_start(t, err, errlen) != 0) {
        sl_tasks_free(t);
        return NULL;
    }
    ecs_runner_recover(t);
    return t;
}

void sl_tasks_register(sl_tasks *t, sl_router *router) {
    sl_router_add_json(router, "AmazonEC2ContainerServiceV20141113", sl_json_service_begin,
                       &t->json);
    sl_router_add_rest(router, "/_sluice/ecs/", ecs_metadata_begin, t);
    ecs_agents_register(t, router);
}

void sl_tasks_set_endpoint(sl_tasks *t, const char *url) {
    pthread_mutex_lock(&t->mu);
    free(t->endpoint);
    t->endpoint = sl_xstrdup(url);
    pthread_mutex_unlock(&t->mu);
}

void sl_tasks_set_logs(sl_tasks *t, struct sl_logs *logs) { t->logs = logs; }

void sl_tasks_set_objects(sl_tasks *t, struct sl_objects *objects) { t->objects = objects; }

void sl_tasks_set_events(sl_tasks *t, struct sl_events *events) {
    pthread_mutex_lock(&t->mu);
    t->events = events;
    pthread_mutex_unlock(&t->mu);
}

void sl_tasks_quiesce(sl_tasks *t) { ecs_agents_quiesce(t); }

void sl_tasks_free(sl_tasks *t) {
    if (!t) return;
    ecs_runner_stop(t);
    if (t->supervisor) sl_supervisor_free(t->supervisor);
    ecs_agents_free(t);
    ecs_workdirs_free(t);
    json_decref(t->aliases);
    free(t->endpoint);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    sl_name_cache_free(t->clusters);
    sl_name_cache_free(t->taskdefs);
    free(t);
}
