/* api: the ECS JSON 1.1 wire (X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>):
 * clusters, task definitions, tasks and tags, in botocore's shapes and with ECS's errors
 * (ClientException, InvalidParameterException, ClusterNotFoundException...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "tasks/tasks_internal.h"

#define FAIL(call, code, ...) sl_json_fail(call, 400, code, __VA_ARGS__)

static void internal(sl_json_call *call) {
    sl_json_fail(call, 500, "ServerException", "The store failed; see the daemon's log.");
}

static char *col(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? sl_xstrdup((const char *)s) : NULL;
}

/* ---- tags ----
 * ecs_tags holds each resource's tags (ListTagsForResource's answer). Clusters and task
 * definitions put theirs there when created. A task's are the ones RunTask (or a state machine,
 * or a rule) gave, kept in its document; they move into ecs_tags, with a marker row whose key is
 * empty (a key ECS never accepts), the first time TagResource or UntagResource changes them. */

typedef struct {
    const char *arn;
    json_t *seed;   /* a task's tags from its document: copied once, with the marker */
    json_t *put;    /* [{key, value}] */
    json_t *remove; /* [key] */
    bool clear;     /* every tag of arn */
} tags_job;

static bool is_task_arn(const char *arn) { return strstr(arn, ":task/") != NULL; }

static int tags_apply(sqlite3 *db, tags_job *j) {
    sqlite3_stmt *st;
    if (j->clear) {
        st = sl_store_cached(db, "DELETE FROM ecs_tags WHERE arn = ?1");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return -1;
    }
    if (j->seed) {
        st = sl_store_cached(db, "SELECT 1 FROM ecs_tags WHERE arn = ?1 AND key = ''");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        bool seeded = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (!seeded) {
            json_t *marker = json_pack("[{s:s, s:s}]", "key", "", "value", "");
            tags_job m = {.arn = j->arn, .put = marker};
            tags_job d = {.arn = j->arn, .put = j->seed};
            int rc = tags_apply(db, &m) || tags_apply(db, &d) ? -1 : 0;
            json_decref(marker);
            if (rc) return -1;
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach(j->put, i, v) {
        const char *k = json_string_value(json_object_get(v, "key"));
        const char *val = json_string_value(json_object_get(v, "value"));
        if (!k) continue;
        st = sl_store_cached(db, "INSERT OR REPLACE INTO ecs_tags (arn, key, value) VALUES (?1, "
                                 "?2, ?3)");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, k, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, val ? val : "", -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return -1;
    }
    json_array_foreach(j->remove, i, v) {
        const char *k = json_string_value(v);
        if (!k || !*k) continue; /* never the marker */
        st = sl_store_cached(db, "DELETE FROM ecs_tags WHERE arn = ?1 AND key = ?2");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, k, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return -1;
    }
    return 0;
}

static int tags_write(sqlite3 *db, void *arg) { return tags_apply(db, arg); }

/* The [{key, value}] of arn, sorted by key; doc_tags: a task's tags from its document, the
 * answer until the task's tags were first changed. */
static json_t *tags_read(sl_tasks *t, const char *arn, json_t *doc_tags) {
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st =
        sl_store_cached(db, "SELECT key, value FROM ecs_tags WHERE arn = ?1 ORDER BY key");
    json_t *tags = json_array();
    if (!st) return tags;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bool marker = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char *k = col(st, 0), *v = col(st, 1);
        if (k && !*k) marker = true;
        else if (k)
            json_array_append_new(tags, json_pack("{s:s, s:s}", "key", k, "value", v ? v : ""));
        free(k);
        free(v);
    }
    sqlite3_reset(st);
    if (doc_tags && !marker) {
        json_decref(tags);
        return json_is_array(doc_tags) ? json_deep_copy(doc_tags) : json_array();
    }
    return tags;
}

/* include: ["TAGS"] */
static bool wants_tags(json_t *in) {
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(in, "include"), i, v) {
        if (json_string_value(v) && !strcmp(json_string_value(v), "TAGS")) return true;
    }
    return false;
}

/* ---- pagination ----
 * The List operations answer at most maxResults items (1 to 100, default 100) in a stable
 * order, and a nextToken when more follow. The token carries the sort key of the last item
 * answered (base64 of ["Operation", key...]): the next page starts after that key, so items
 * added or removed between pages never make another one repeat or go missing, and a token
 * cannot be replayed against another operation. */

/* arr is ["op", key...] with one key per letter of shape ('s' string, 'i' integer). */
static bool page_key_fits(json_t *arr, const char *op, const char *shape) {
    if (!json_is_array(arr) || json_array_size(arr) != 1 + strlen(shape)) return false;
    const char *o = json_string_value(json_array_get(arr, 0));
    if (!o || strcmp(o, op) != 0) return false;
    for (size_t i = 0; shape[i]; i++) {
        json_t *v = json_array_get(arr, i + 1);
        if (shape[i] == 's' ? !json_is_string(v) : !json_is_integer(v)) return false;
    }
    return true;
}

bool ecs_page_begin(sl_json_call *call, json_t *in, const char *op, const char *shape, int *limit,
                    json_t **after) {
    *after = NULL;
    *limit = 100;
    if (!sl_json_type_ok(call, in, "maxResults", JSON_INTEGER) ||
        !sl_json_type_ok(call, in, "nextToken", JSON_STRING))
        return false;
    json_t *mr = json_object_get(in, "maxResults");
    if (mr) {
        json_int_t v = json_integer_value(mr);
        if (v < 1 || v > 100) {
            FAIL(call, "InvalidParameterException",
                 "maxResults must be between 1 and 100 (was %lld).", (long long)v);
            return false;
        }
        *limit = (int)v;
    }
    const char *tok = sl_json_str(in, "nextToken");
    if (!tok || !*tok) return true; /* an empty token asks for the first page */
    size_t n = strlen(tok);
    json_t *key = NULL;
    if (n % 4 == 0 && n <= 4096) {
        unsigned char *raw = sl_xmalloc(n / 4 * 3 + 1);
        long m = sl_base64_decode(tok, n, raw);
        key = m > 0 ? json_loadb((const char *)raw, (size_t)m, 0, NULL) : NULL;
        free(raw);
    }
    if (!page_key_fits(key, op, shape)) {
        json_decref(key);
        FAIL(call, "InvalidParameterException",
             "The specified nextToken is invalid: pass the nextToken of the previous %s answer "
             "unchanged.",
             op);
        return false;
    }
    json_array_remove(key, 0);
    *after = key;
    return true;
}

json_t *ecs_page_token(const char *op, json_t *key) {
    json_t *arr = json_pack("[s]", op);
    json_array_extend(arr, key);
    json_decref(key);
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    size_t n = strlen(text);
    char *b64 = sl_xmalloc((n + 2) / 3 * 4 + 1);
    sl_base64_encode((const unsigned char *)text, n, b64);
    free(text);
    json_t *tok = json_string(b64);
    free(b64);
    return tok;
}

/* ---- clusters ---- */

static json_t *cluster_doc(sl_tasks *t, const char *name, const char *status, bool with_tags) {
    char arn[300];
    ecs_arn(t, "cluster", name, arn, sizeof arn);
    int running = 0, pending = 0, instances = 0;
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT last_status, COUNT(*) FROM ecs_tasks WHERE cluster = ?1 AND last_status != "
            "'STOPPED' GROUP BY last_status");
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *ls = (const char *)sqlite3_column_text(st, 0);
            if (!strcmp(ls, "RUNNING")) running += sqlite3_column_int(st, 1);
            else pending += sqlite3_column_int(st, 1);
        }
        sqlite3_reset(st);
    }
    st = sl_store_cached(db, "SELECT COUNT(*) FROM ecs_container_instances WHERE cluster = ?1 "
                             "AND status = 'ACTIVE'");
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) instances = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
    }
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:[], s:o, s:[], s:[]}", "clusterArn",
                     arn, "clusterName", name, "status", status,
                     "registeredContainerInstancesCount", instances, "runningTasksCount", running,
                     "pendingTasksCount", pending, "activeServicesCount", 0, "statistics", "tags",
                     with_tags ? tags_read(t, arn, NULL) : json_array(), "settings",
                     "capacityProviders");
}

static void op_create_cluster(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *name = sl_json_str(in, "clusterName");
    if (!name) name = "default";
    size_t n = strlen(name);
    bool ok = n > 0 && n <= 255;
    for (const char *p = name; *p && ok; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '-' || *p == '_';
    if (!ok) {
        FAIL(call, "InvalidParameterException",
             "Cluster name can only contain letters, numbers, hyphens and underscores (up to "
             "255).");
        return;
    }
    char arn[300], now[32];
    ecs_arn(t, "cluster", name, arn, sizeof arn);
    snprintf(now, sizeof now, "%lld", (long long)sl_now_ms());
    sl_store_stmt_job j = {.sql = "INSERT INTO ecs_clusters (arn, name, created_ms) VALUES (?1, "
                                  "?2, ?3) ON CONFLICT(arn) DO UPDATE SET status = 'ACTIVE'",
                           .args = {arn, name, now},
                           .nargs = 3};
    if (sl_store_write(t->store, sl_store_exec_job, &j) < 0) return internal(call);
    tags_job tj = {.arn = arn, .put = json_object_get(in, "tags")};
    if (json_array_size(tj.put) && sl_store_write(t->store, tags_write, &tj) != 0)
        return internal(call);
    sl_json_reply(call, json_pack("{s:o}", "cluster", cluster_doc(t, name, "ACTIVE", true)));
}

static void op_describe_clusters(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    json_t *names = json_object_get(in, "clusters");
    json_t *out = json_array(), *failures = json_array();
    bool with_tags = wants_tags(in);
    if (!names || !json_array_size(names)) {
        json_array_append_new(out, cluster_doc(t, "default", "ACTIVE", with_tags));
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v) {
            const char *name = ecs_cluster_name(json_string_value(v));
            if (ecs_cluster_exists(t, name)) {
                json_array_append_new(out, cluster_doc(t, name, "ACTIVE", with_tags));
            } else {
                char arn[300];
                ecs_arn(t, "cluster", name, arn, sizeof arn);
                json_array_append_new(failures,
                                      json_pack("{s:s, s:s}", "arn", arn, "reason", "MISSING"));
            }
        }
    }
    sl_json_reply(call, json_pack("{s:o, s:o}", "clusters", out, "failures", failures));
}

static void op_list_clusters(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    int limit;
    json_t *after;
    if (!ecs_page_begin(call, in, "ListClusters", "s", &limit, &after)) return;
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st = sl_store_cached(db, "SELECT arn, name FROM ecs_clusters WHERE status = "
                                           "'ACTIVE' AND (?1 IS NULL OR name > ?1) ORDER BY name "
                                           "LIMIT ?2");
    if (!st) {
        json_decref(after);
        return internal(call);
    }
    if (after)
        sqlite3_bind_text(st, 1, json_string_value(json_array_get(after, 0)), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, limit + 1);
    json_decref(after);
    json_t *arns = json_array(), *out = json_object();
    char last[256] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(arns) == limit) {
            json_object_set_new(out, "nextToken",
                                ecs_page_token("ListClusters", json_pack("[s]", last)));
            break;
        }
        json_array_append_new(arns, json_string((const char *)sqlite3_column_text(st, 0)));
        snprintf(last, sizeof last, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    json_object_set_new(out, "clusterArns", arns);
    sl_json_reply(call, out);
}

static void op_delete_cluster(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *ref = sl_json_str_req(call, in, "cluster");
    if (!ref) return;
    const char *name = ecs_cluster_name(ref);
    if (!ecs_cluster_exists(t, name)) {
        FAIL(call, "ClusterNotFoundException", "Cluster not found.");
        return;
    }
    json_t *doc = cluster_doc(t, name, "INACTIVE", true);
    if (json_integer_value(json_object_get(doc, "runningTasksCount")) +
            json_integer_value(json_object_get(doc, "pendingTasksCount")) >
        0) {
        json_decref(doc);
        FAIL(call, "ClusterContainsTasksException",
             "The Cluster cannot be deleted while Tasks are active.");
        return;
    }
    if (json_integer_value(json_object_get(doc, "registeredContainerInstancesCount")) > 0) {
        json_decref(doc);
        FAIL(call, "ClusterContainsContainerInstancesException",
             "The Cluster cannot be deleted while Container Instances are active or draining.");
        return;
    }
    sl_store_stmt_job j = {.sql = "UPDATE ecs_clusters SET status = 'INACTIVE' WHERE name = ?1",
                           .args = {name},
                           .nargs = 1};
    /* a cluster created again under the name starts with no tags */
    tags_job tj = {.arn = json_string_value(json_object_get(doc, "clusterArn")), .clear = true};
    int rc = sl_store_write(t->store, sl_store_exec_job, &j);
    sl_name_cache_forget(t->clusters);
    if (rc < 0 || sl_store_write(t->store, tags_write, &tj) != 0) {
        json_decref(doc);
        return internal(call);
    }
    sl_json_reply(call, json_pack("{s:o}", "cluster", doc));
}

/* ---- task definitions ---- */

typedef struct {
    const char *family;
    json_t *doc; /* revision and ARN filled in by the job */
    sl_tasks *t;
    int64_t now;
    json_t *tags; /* RegisterTaskDefinition's, kept for ListTagsForResource */
} register_job;

static int register_write(sqlite3 *db, void *arg) {
    register_job *j = arg;
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT COALESCE(MAX(revision), 0) FROM ecs_task_definitions WHERE family = ?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, j->family, -1, SQLITE_STATIC);
    int rev = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) + 1 : 1;
    sqlite3_reset(st);
    char rest[300], arn[400];
    snprintf(rest, sizeof rest, "%s:%d", j->family, rev);
    ecs_arn(j->t, "task-definition", rest, arn, sizeof arn);
    json_object_set_new(j->doc, "taskDefinitionArn", json_string(arn));
    json_object_set_new(j->doc, "revision", json_integer(rev));
    char *text = json_dumps(j->doc, JSON_COMPACT);
    st = sl_store_cached(db, "INSERT INTO ecs_task_definitions (family, revision, doc, "
                             "registered_ms) VALUES (?1, ?2, ?3, ?4)");
    if (!st) {
        free(text);
        return -1;
    }
    sqlite3_bind_text(st, 1, j->family, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, rev);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, j->now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(text);
    if (rc != SQLITE_DONE) return -1;
    tags_job tj = {.arn = arn, .put = j->tags};
    return tags_apply(db, &tj);
}

static bool valid_family(const char *f) {
    size_t n = strlen(f);
    if (!n || n > 255) return false;
    for (; *f; f++)
        if (!((*f >= 'a' && *f <= 'z') || (*f >= 'A' && *f <= 'Z') || (*f >= '0' && *f <= '9') ||
              *f == '-' || *f == '_'))
            return false;
    return true;
}

static void op_register_task_definition(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *family = sl_json_str_req(call, in, "family");
    if (!family) return;
    if (!valid_family(family)) {
        FAIL(call, "ClientException",
             "Family contains invalid characters (letters, numbers, hyphens and underscores, up "
             "to 255).");
        return;
    }
    json_t *defs = json_object_get(in, "containerDefinitions");
    if (!json_is_array(defs) || !json_array_size(defs)) {
        FAIL(call, "ClientException", "Container list cannot be empty.");
        return;
    }
    json_t *cdefs = json_array();
    size_t i;
    json_t *d;
    bool essential_any = false;
    json_array_foreach(defs, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        const char *image = json_string_value(json_object_get(d, "image"));
        if (!name || !*name) {
            json_decref(cdefs);
            FAIL(call, "ClientException", "Container.name should not be null or empty.");
            return;
        }
        if (!image || !*image) {
            json_decref(cdefs);
            FAIL(call, "ClientException", "Container.image should not be null or empty.");
            return;
        }
        for (size_t j = 0; j < i; j++) {
            const char *other = json_string_value(json_object_get(json_array_get(defs, j), "name"));
            if (other && !strcmp(other, name)) {
                json_decref(cdefs);
                FAIL(call, "ClientException", "Container names must be unique: %s", name);
                return;
            }
        }
        json_t *c = json_deep_copy(d);
        static const char *const arrays[] = {"portMappings", "environment", "mountPoints",
                                             "volumesFrom", "systemControls"};
        for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++)
            if (!json_object_get(c, arrays[a])) json_object_set_new(c, arrays[a], json_array());
        if (!json_object_get(c, "cpu")) json_object_set_new(c, "cpu", json_integer(0));
        if (!json_object_get(c, "essential")) json_object_set_new(c, "essential", json_true());
        if (json_is_true(json_object_get(c, "essential"))) essential_any = true;
        json_array_append_new(cdefs, c);
    }
    if (!essential_any) {
        json_decref(cdefs);
        FAIL(call, "ClientException", "At least one essential container is required.");
        return;
    }
    int64_t now = sl_now_ms();
    json_t *doc = json_object();
    json_object_set_new(doc, "containerDefinitions", cdefs);
    json_object_set_new(doc, "family", json_string(family));
    static const char *const copy[] = {"taskRoleArn", "executionRoleArn", "networkMode",
                                       "cpu",         "memory",           "pidMode",
                                       "ipcMode",     "runtimePlatform",  "ephemeralStorage"};
    for (size_t a = 0; a < sizeof copy / sizeof copy[0]; a++)
        if (json_object_get(in, copy[a]))
            json_object_set(doc, copy[a], json_object_get(in, copy[a]));
    json_t *v = json_object_get(in, "volumes");
    json_object_set(doc, "volumes", v ? v : json_array());
    if (!v) json_decref(json_object_get(doc, "volumes"));
    json_object_set_new(doc, "status", json_string("ACTIVE"));
    json_object_set_new(doc, "requiresAttributes", json_array());
    v = json_object_get(in, "placementConstraints");
    json_object_set_new(doc, "placementConstraints", v ? json_incref(v) : json_array());
    json_object_set_new(doc, "compatibilities", json_pack("[s,s,s]", "EC2", "EXTERNAL", "FARGATE"));
    v = json_object_get(in, "requiresCompatibilities");
    if (v) json_object_set(doc, "requiresCompatibilities", v);
    json_object_set_new(doc, "registeredAt", json_real(ecs_epoch(now)));
    char who[128];
    snprintf(who, sizeof who, "arn:aws:iam::%s:root", t->cfg->account_id);
    json_object_set_new(doc, "registeredBy", json_string(who));
    json_t *tags = json_object_get(in, "tags");
    register_job j = {.family = family, .doc = doc, .t = t, .now = now, .tags = tags};
    if (sl_store_write(t->store, register_write, &j) != 0) {
        json_decref(doc);
        return internal(call);
    }
    json_t *out = json_pack("{s:o}", "taskDefinition", doc);
    json_object_set_new(out, "tags", tags ? json_incref(tags) : json_array());
    sl_json_reply(call, out);
}

static json_t *taskdef_for_call(sl_tasks *t, sl_json_call *call, json_t *in) {
    const char *ref = sl_json_str_req(call, in, "taskDefinition");
    if (!ref) return NULL;
    json_t *td = ecs_taskdef_get(t, ref, NULL);
    if (!td) FAIL(call, "ClientException", "Unable to describe task definition.");
    return td;
}

static void op_describe_task_definition(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    json_t *td = taskdef_for_call(t, call, in);
    if (!td) return;
    json_t *tags =
        wants_tags(in)
            ? tags_read(t, json_string_value(json_object_get(td, "taskDefinitionArn")), NULL)
            : json_array();
    sl_json_reply(call, json_pack("{s:o, s:o}", "taskDefinition", td, "tags", tags));
}

static void op_deregister_task_definition(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *ref = sl_json_str_req(call, in, "taskDefinition");
    if (!ref) return;
    if (!strchr(strstr(ref, ":task-definition/") ? strstr(ref, ":task-definition/") + 17 : ref,
                ':')) {
        FAIL(call, "ClientException", "The specified task definition does not include a revision.");
        return;
    }
    json_t *td = ecs_taskdef_get(t, ref, NULL);
    if (!td) {
        FAIL(call, "ClientException", "The specified task definition does not exist.");
        return;
    }
    json_object_set_new(td, "status", json_string("INACTIVE"));
    json_object_set_new(td, "deregisteredAt", json_real(ecs_epoch(sl_now_ms())));
    char *text = json_dumps(td, JSON_COMPACT);
    char rev[32];
    snprintf(rev, sizeof rev, "%lld",
             (long long)json_integer_value(json_object_get(td, "revision")));
    sl_store_stmt_job j = {.sql = "UPDATE ecs_task_definitions SET status = 'INACTIVE', doc = ?3 "
                                  "WHERE family = ?1 AND revision = CAST(?2 AS INTEGER)",
                           .args = {json_string_value(json_object_get(td, "family")), rev, text},
                           .nargs = 3};
    int rc = sl_store_write(t->store, sl_store_exec_job, &j);
    sl_name_cache_forget(t->taskdefs);
    free(text);
    if (rc < 0) {
        json_decref(td);
        return internal(call);
    }
    sl_json_reply(call, json_pack("{s:o}", "taskDefinition", td));
}

static void op_list_task_definitions(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *prefix = sl_json_str(in, "familyPrefix");
    const char *status = sl_json_str(in, "status");
    const char *sort = sl_json_str(in, "sort");
    bool desc = sort && !strcmp(sort, "DESC");
    /* a token resumes the same direction only */
    const char *op = desc ? "ListTaskDefinitions/DESC" : "ListTaskDefinitions";
    int limit;
    json_t *after;
    if (!ecs_page_begin(call, in, op, "si", &limit, &after)) return;
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st = sl_store_cached(
        db, desc ? "SELECT family, revision FROM ecs_task_definitions WHERE (?1 IS NULL OR "
                   "family = ?1) AND status = ?2 AND (?3 IS NULL OR family < ?3 OR (family = ?3 "
                   "AND revision < ?4)) ORDER BY family DESC, revision DESC LIMIT ?5"
                 : "SELECT family, revision FROM ecs_task_definitions WHERE (?1 IS NULL OR "
                   "family = ?1) AND status = ?2 AND (?3 IS NULL OR family > ?3 OR (family = ?3 "
                   "AND revision > ?4)) ORDER BY family, revision LIMIT ?5");
    if (!st) {
        json_decref(after);
        return internal(call);
    }
    if (prefix) sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, status ? status : "ACTIVE", -1, SQLITE_TRANSIENT);
    if (after) {
        sqlite3_bind_text(st, 3, json_string_value(json_array_get(after, 0)), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, json_integer_value(json_array_get(after, 1)));
    }
    sqlite3_bind_int(st, 5, limit + 1);
    json_decref(after);
    json_t *arns = json_array(), *out = json_object();
    char family[256] = "";
    int revision = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(arns) == limit) {
            json_object_set_new(out, "nextToken",
                                ecs_page_token(op, json_pack("[s, i]", family, revision)));
            break;
        }
        snprintf(family, sizeof family, "%s", (const char *)sqlite3_column_text(st, 0));
        revision = sqlite3_column_int(st, 1);
        char rest[300], arn[400];
        snprintf(rest, sizeof rest, "%.255s:%d", family, revision);
        ecs_arn(t, "task-definition", rest, arn, sizeof arn);
        json_array_append_new(arns, json_string(arn));
    }
    sqlite3_reset(st);
    json_object_set_new(out, "taskDefinitionArns", arns);
    sl_json_reply(call, out);
}

static void op_list_task_definition_families(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *prefix = sl_json_str(in, "familyPrefix");
    /* By default every family; ACTIVE: those with an ACTIVE revision; INACTIVE: those with
     * none. The prefix is literal and case-sensitive (not a LIKE pattern: '_' is a family
     * character). */
    const char *status = sl_json_str(in, "status");
    if (!status) status = "ALL";
    if (strcmp(status, "ALL") && strcmp(status, "ACTIVE") && strcmp(status, "INACTIVE")) {
        FAIL(call, "InvalidParameterException", "status must be ACTIVE, INACTIVE or ALL");
        return;
    }
    int limit;
    json_t *after;
    if (!ecs_page_begin(call, in, "ListTaskDefinitionFamilies", "s", &limit, &after)) return;
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT family FROM ecs_task_definitions WHERE (?1 IS NULL OR substr(family, 1, "
            "length(?1)) = ?1) AND (?3 IS NULL OR family > ?3) GROUP BY family HAVING ?2 = 'ALL' "
            "OR (?2 = 'ACTIVE') = (SUM(status = 'ACTIVE') > 0) ORDER BY family LIMIT ?4");
    if (!st) {
        json_decref(after);
        return internal(call);
    }
    if (prefix) sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
    if (after)
        sqlite3_bind_text(st, 3, json_string_value(json_array_get(after, 0)), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, limit + 1);
    json_decref(after);
    json_t *fams = json_array(), *out = json_object();
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(fams) == limit) {
            json_t *last = json_array_get(fams, json_array_size(fams) - 1);
            json_object_set_new(
                out, "nextToken",
                ecs_page_token("ListTaskDefinitionFamilies", json_pack("[O]", last)));
            break;
        }
        json_array_append_new(fams, json_string((const char *)sqlite3_column_text(st, 0)));
    }
    sqlite3_reset(st);
    json_object_set_new(out, "families", fams);
    sl_json_reply(call, out);
}

/* ---- tasks ---- */

static void op_run_task(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    json_object_del(in, "_containerInstance"); /* StartTask's alone */
    char code[64], msg[512];
    json_t *out = sl_tasks_run(t, in, code, sizeof code, msg, sizeof msg);
    if (!out) {
        FAIL(call, code, "%s", msg);
        return;
    }
    sl_json_reply(call, out);
}

/* StartTask: RunTask on each named container instance (an agent). */
static void op_start_task(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    json_t *instances = json_object_get(in, "containerInstances");
    if (!json_is_array(instances) || !json_array_size(instances) ||
        json_array_size(instances) > 10) {
        FAIL(call, "InvalidParameterException", "containerInstances must name 1 to 10 instances.");
        return;
    }
    json_t *tasks = json_array(), *failures = json_array();
    size_t i;
    json_t *ci;
    json_array_foreach(instances, i, ci) {
        json_t *req = json_deep_copy(in);
        json_object_del(req, "containerInstances");
        json_object_set_new(req, "launchType", json_string("EXTERNAL"));
        json_object_set_new(req, "count", json_integer(1));
        json_object_set(req, "_containerInstance", ci);
        char code[64], msg[512];
        json_t *out = sl_tasks_run(t, req, code, sizeof code, msg, sizeof msg);
        json_decref(req);
        if (!out) {
            json_decref(tasks);
            json_decref(failures);
            FAIL(call, code, "%s", msg);
            return;
        }
        json_array_extend(tasks, json_object_get(out, "tasks"));
        json_array_extend(failures, json_object_get(out, "failures"));
        json_decref(out);
    }
    sl_json_reply(call, json_pack("{s:o, s:o}", "tasks", tasks, "failures", failures));
}

/* A task by ARN or id, from memory or the store; NULL when unknown. */
static json_t *task_lookup(sl_tasks *t, const char *cluster, const char *ref) {
    json_t *d = ecs_task_doc(t, ref);
    if (d) return d;
    char arn[512];
    if (strncmp(ref, "arn:", 4) != 0) {
        char rest[400];
        snprintf(rest, sizeof rest, "%s/%s", cluster, ref);
        ecs_arn(t, "task", rest, arn, sizeof arn);
    } else {
        snprintf(arn, sizeof arn, "%s", ref);
    }
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st = sl_store_cached(db, "SELECT doc FROM ecs_tasks WHERE arn = ?1");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        d = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    return d;
}

static void op_describe_tasks(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    json_t *refs = json_object_get(in, "tasks");
    if (!json_is_array(refs)) {
        FAIL(call, "InvalidParameterException", "Tasks cannot be empty.");
        return;
    }
    if (json_array_size(refs) > 100) {
        FAIL(call, "InvalidParameterException", "At most 100 tasks can be described at once.");
        return;
    }
    const char *cluster = ecs_cluster_name(sl_json_str(in, "cluster"));
    if (!ecs_cluster_exists(t, cluster)) {
        FAIL(call, "ClusterNotFoundException", "Cluster not found.");
        return;
    }
    json_t *tasks = json_array(), *failures = json_array();
    bool with_tags = wants_tags(in);
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r) {
        const char *ref = json_string_value(r);
        json_t *d = ref ? task_lookup(t, cluster, ref) : NULL;
        if (!d) {
            json_array_append_new(
                failures, json_pack("{s:s, s:s}", "arn", ref ? ref : "", "reason", "MISSING"));
            continue;
        }
        /* tags only when asked for (include: TAGS), and then the current ones */
        if (with_tags)
            json_object_set_new(d, "tags",
                                tags_read(t, json_string_value(json_object_get(d, "taskArn")),
                                          json_object_get(d, "tags")));
        else json_object_del(d, "tags");
        json_array_append_new(tasks, d);
    }
    sl_json_reply(call, json_pack("{s:o, s:o}", "tasks", tasks, "failures", failures));
}

static void op_list_tasks(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *cluster = ecs_cluster_name(sl_json_str(in, "cluster"));
    if (!ecs_cluster_exists(t, cluster)) {
        FAIL(call, "ClusterNotFoundException", "Cluster not found.");
        return;
    }
    const char *desired = sl_json_str(in, "desiredStatus");
    if (!desired) desired = "RUNNING";
    if (strcmp(desired, "RUNNING") && strcmp(desired, "PENDING") && strcmp(desired, "STOPPED")) {
        FAIL(call, "InvalidParameterException",
             "desiredStatus must be RUNNING, PENDING or STOPPED");
        return;
    }
    int limit;
    json_t *after;
    if (!ecs_page_begin(call, in, "ListTasks", "is", &limit, &after)) return;
    const char *family = sl_json_str(in, "family");
    const char *started_by = sl_json_str(in, "startedBy");
    const char *lt = sl_json_str(in, "launchType");
    const char *ci = sl_json_str(in, "containerInstance");
    sqlite3 *db = sl_store_reader(t->store);
    /* newest first; tasks started in the same millisecond (RunTask with count) by ARN */
    sqlite3_stmt *st = sl_store_cached(
        db, "SELECT arn, created_ms FROM ecs_tasks WHERE cluster = ?1 AND (desired_status = ?2 "
            "OR (?2 = 'PENDING' AND last_status IN ('PROVISIONING','PENDING'))) AND (?3 IS NULL "
            "OR family = ?3) AND (?4 IS NULL OR started_by = ?4) AND (?5 IS NULL OR launch_type = "
            "?5) AND (?6 IS NULL OR container_instance = ?6) AND (?7 IS NULL OR created_ms < ?7 "
            "OR (created_ms = ?7 AND arn < ?8)) ORDER BY created_ms DESC, arn DESC LIMIT ?9");
    if (!st) {
        json_decref(after);
        return internal(call);
    }
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, desired, -1, SQLITE_TRANSIENT);
    if (family) sqlite3_bind_text(st, 3, family, -1, SQLITE_TRANSIENT);
    if (started_by) sqlite3_bind_text(st, 4, started_by, -1, SQLITE_TRANSIENT);
    if (lt) sqlite3_bind_text(st, 5, lt, -1, SQLITE_TRANSIENT);
    if (ci) sqlite3_bind_text(st, 6, ci, -1, SQLITE_TRANSIENT);
    if (after) {
        sqlite3_bind_int64(st, 7, json_integer_value(json_array_get(after, 0)));
        sqlite3_bind_text(st, 8, json_string_value(json_array_get(after, 1)), -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int(st, 9, limit + 1);
    json_decref(after);
    json_t *arns = json_array(), *out = json_object();
    int64_t last_ms = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(arns) == limit) {
            json_t *last = json_array_get(arns, json_array_size(arns) - 1);
            json_object_set_new(
                out, "nextToken",
                ecs_page_token("ListTasks", json_pack("[I, O]", (json_int_t)last_ms, last)));
            break;
        }
        json_array_append_new(arns, json_string((const char *)sqlite3_column_text(st, 0)));
        last_ms = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    json_object_set_new(out, "taskArns", arns);
    sl_json_reply(call, out);
}

static void op_stop_task(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *ref = sl_json_str_req(call, in, "task");
    if (!ref) return;
    const char *cluster = ecs_cluster_name(sl_json_str(in, "cluster"));
    if (!ecs_cluster_exists(t, cluster)) {
        FAIL(call, "ClusterNotFoundException", "Cluster not found.");
        return;
    }
    json_t *d = task_lookup(t, cluster, ref);
    if (!d) {
        FAIL(call, "InvalidParameterException", "The referenced task was not found.");
        return;
    }
    const char *reason = sl_json_str(in, "reason");
    ecs_task_stop(t, json_string_value(json_object_get(d, "taskArn")), reason);
    if (strcmp(json_string_value(json_object_get(d, "lastStatus")), "STOPPED") != 0) {
        json_object_set_new(d, "desiredStatus", json_string("STOPPED"));
        json_object_set_new(d, "stopCode", json_string("UserInitiated"));
        json_object_set_new(d, "stoppedReason",
                            json_string(reason ? reason : "Task stopped by user"));
    }
    sl_json_reply(call, json_pack("{s:o}", "task", d));
}

/* ---- tags ---- */

/* A task's tags from its document (the seed of its tags in ecs_tags); NULL for other ARNs or
 * a task not known. */
static json_t *task_tags_of(sl_tasks *t, const char *arn) {
    if (!is_task_arn(arn)) return NULL;
    json_t *d = task_lookup(t, "default", arn);
    if (!d) return NULL;
    json_t *tags = json_incref(json_object_get(d, "tags"));
    json_decref(d);
    return tags ? tags : json_array();
}

/* Whether arn names a resource of this account and region that exists: a cluster, a task
 * definition revision, a task or a container instance (what Sluice keeps). Otherwise answers
 * the call as ECS does: ClusterNotFoundException for a cluster, InvalidParameterException for
 * anything else (ListTagsForResource has no ResourceNotFoundException in the model, and the
 * three tag operations answer alike). */
static bool tag_target_ok(sl_tasks *t, sl_json_call *call, const char *arn) {
    static const char *const kinds[] = {"cluster", "task-definition", "task", "container-instance"};
    size_t k = 0, plen = 0;
    for (; k < sizeof kinds / sizeof kinds[0]; k++) {
        char prefix[200];
        ecs_arn(t, kinds[k], "", prefix, sizeof prefix);
        plen = strlen(prefix);
        if (!strncmp(arn, prefix, plen)) break;
    }
    if (k == sizeof kinds / sizeof kinds[0] || !arn[plen]) {
        /* another service, account or region, or an ECS resource Sluice never has (services,
         * capacity providers, task sets) */
        if (strncmp(arn, "arn:", 4) != 0 || !strstr(arn, ":ecs:"))
            FAIL(call, "InvalidParameterException", "The ARN provided is invalid: %s", arn);
        else
            FAIL(call, "InvalidParameterException", "The specified resource is not found: %s", arn);
        return false;
    }
    const char *rest = arn + plen;
    bool found = false;
    if (k == 0) {
        if (ecs_cluster_exists(t, rest)) return true;
        FAIL(call, "ClusterNotFoundException", "Cluster not found.");
        return false;
    } else if (k == 1) {
        json_t *td = strchr(rest, ':') ? ecs_taskdef_get(t, rest, NULL) : NULL;
        const char *have = json_string_value(json_object_get(td, "taskDefinitionArn"));
        found = have && !strcmp(have, arn);
        json_decref(td);
    } else if (k == 2) {
        json_t *d = task_lookup(t, "default", arn);
        const char *have = json_string_value(json_object_get(d, "taskArn"));
        found = have && !strcmp(have, arn);
        json_decref(d);
    } else {
        sqlite3 *db = sl_store_reader(t->store);
        sqlite3_stmt *st =
            sl_store_cached(db, "SELECT 1 FROM ecs_container_instances WHERE arn = ?1");
        if (!st) {
            internal(call);
            return false;
        }
        sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
    }
    if (!found)
        FAIL(call, "InvalidParameterException", "The specified %s is not found: %s", kinds[k], arn);
    return found;
}

static void op_tag_resource(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *arn = sl_json_str_req(call, in, "resourceArn");
    if (!arn || !tag_target_ok(t, call, arn)) return;
    json_t *tags = json_object_get(in, "tags");
    size_t i;
    json_t *tag;
    json_array_foreach(tags, i, tag) {
        const char *k = json_string_value(json_object_get(tag, "key"));
        if (!k || !*k || strlen(k) > 128) {
            FAIL(call, "InvalidParameterException", "Tag keys must be 1 to 128 characters.");
            return;
        }
    }
    tags_job j = {.arn = arn, .seed = task_tags_of(t, arn), .put = tags};
    int rc = sl_store_write(t->store, tags_write, &j);
    json_decref(j.seed);
    if (rc != 0) return internal(call);
    sl_json_reply(call, NULL);
}

static void op_untag_resource(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *arn = sl_json_str_req(call, in, "resourceArn");
    if (!arn || !tag_target_ok(t, call, arn)) return;
    tags_job j = {
        .arn = arn, .seed = task_tags_of(t, arn), .remove = json_object_get(in, "tagKeys")};
    int rc = sl_store_write(t->store, tags_write, &j);
    json_decref(j.seed);
    if (rc != 0) return internal(call);
    sl_json_reply(call, NULL);
}

static void op_list_tags(void *svc, sl_json_call *call, json_t *in) {
    sl_tasks *t = svc;
    const char *arn = sl_json_str_req(call, in, "resourceArn");
    if (!arn || !tag_target_ok(t, call, arn)) return;
    json_t *doc_tags = task_tags_of(t, arn);
    json_t *tags = tags_read(t, arn, doc_tags);
    json_decref(doc_tags);
    sl_json_reply(call, json_pack("{s:o}", "tags", tags));
}

/* ---- container instances (agent_api.c) in a cluster that must exist ---- */

static bool instances_cluster_ok(sl_tasks *t, sl_json_call *call, json_t *in) {
    if (ecs_cluster_exists(t, ecs_cluster_name(sl_json_str(in, "cluster")))) return true;
    FAIL(call, "ClusterNotFoundException", "Cluster not found.");
    return false;
}

static void op_deregister_instance(void *svc, sl_json_call *call, json_t *in) {
    if (instances_cluster_ok(svc, call, in)) ecs_op_deregister_instance(svc, call, in);
}

static void op_list_instances(void *svc, sl_json_call *call, json_t *in) {
    if (instances_cluster_ok(svc, call, in)) ecs_op_list_instances(svc, call, in);
}

static void op_describe_instances(void *svc, sl_json_call *call, json_t *in) {
    if (instances_cluster_ok(svc, call, in)) ecs_op_describe_instances(svc, call, in);
}

static const sl_json_op ops[] = {
    {"CreateCluster", op_create_cluster},
    {"DescribeClusters", op_describe_clusters},
    {"ListClusters", op_list_clusters},
    {"DeleteCluster", op_delete_cluster},
    {"RegisterTaskDefinition", op_register_task_definition},
    {"DescribeTaskDefinition", op_describe_task_definition},
    {"DeregisterTaskDefinition", op_deregister_task_definition},
    {"ListTaskDefinitions", op_list_task_definitions},
    {"ListTaskDefinitionFamilies", op_list_task_definition_families},
    {"RunTask", op_run_task},
    {"StartTask", op_start_task},
    {"DescribeTasks", op_describe_tasks},
    {"ListTasks", op_list_tasks},
    {"StopTask", op_stop_task},
    {"RegisterContainerInstance", ecs_op_register_instance},
    {"DeregisterContainerInstance", op_deregister_instance},
    {"ListContainerInstances", op_list_instances},
    {"DescribeContainerInstances", op_describe_instances},
    {"TagResource", op_tag_resource},
    {"UntagResource", op_untag_resource},
    {"ListTagsForResource", op_list_tags},
    {NULL, NULL},
};

void ecs_api_init(sl_tasks *t) {
    t->json = (sl_json_service){.target_prefix = "AmazonEC2ContainerServiceV20141113",
                                .content_type = "application/x-amz-json-1.1",
                                .ops = ops,
                                .svc = t,
                                .credentials = t->credentials};
}
