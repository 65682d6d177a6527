/* metadata: the task metadata endpoint every container finds in ECS_CONTAINER_METADATA_URI_V4:
 * GET <uri> describes the container, GET <uri>/task the task, in the v4 shapes (DockerId, Name,
 * Image, Labels, KnownStatus, Limits, ... / Cluster, TaskARN, Family, Revision, Containers).
 * Served under /_sluice/ecs/v4/<task-id>/<container>; like ECS's, it needs no signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_internal.h"

static void reply(sl_req *req, int status, json_t *body) {
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    sl_resp_set(req, status, "application/json", s, strlen(s));
    free(s);
}

static void complete(sl_req *req) {
    sl_tasks *t = req->state;
    req->state = NULL;
    const char *p = req->raw_path + strlen("/_sluice/ecs/v4/");
    char task_id[64], container[256], rest[64] = "";
    if (strncmp(req->raw_path, "/_sluice/ecs/v4/", 16) != 0 ||
        sscanf(p, "%63[^/]/%255[^/?]%63[^?]", task_id, container, rest) < 2) {
        reply(req, 404, json_pack("{s:s}", "message", "no such task metadata path"));
        return;
    }
    bool task_level = !strcmp(rest, "/task");
    if (rest[0] && !task_level) {
        reply(req, 404, json_pack("{s:s}", "message", "Sluice serves <uri> and <uri>/task"));
        return;
    }
    json_t *doc = ecs_metadata(t, task_id, container, task_level);
    if (!doc) {
        reply(req, 404, json_pack("{s:s}", "message", "no such running task or container"));
        return;
    }
    reply(req, 200, doc);
}

void ecs_metadata_begin(sl_req *req, void *svc) {
    if (strcmp(req->method, "GET") != 0) {
        sl_resp_set(req, 405, "application/json", "{\"message\":\"GET only\"}", 22);
        return;
    }
    req->state = svc;
    req->on_complete = complete;
}
