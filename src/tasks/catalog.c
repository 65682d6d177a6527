/* catalog: clusters and task definitions in the store. A task definition is kept as the
 * document DescribeTaskDefinition returns, one row per family and revision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "tasks/tasks_internal.h"

int ecs_catalog_init(sl_tasks *t, char *err, size_t errlen) {
    char arn[256];
    ecs_arn(t, "cluster", "default", arn, sizeof arn);
    sl_store_stmt_job j = {
        .sql =
            "INSERT OR IGNORE INTO ecs_clusters (arn, name, created_ms) VALUES (?1, 'default', 0)",
        .args = {arn},
        .nargs = 1};
    if (sl_store_write(t->store, sl_store_exec_job, &j) < 0) {
        snprintf(err, errlen, "ecs: cannot create the default cluster");
        return -1;
    }
    return 0;
}

bool ecs_cluster_exists(sl_tasks *t, const char *name) {
    json_t *cached = sl_name_cache_get(t->clusters, name);
    if (cached) {
        json_decref(cached);
        return true;
    }
    uint64_t gen = sl_name_cache_generation(t->clusters);
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st =
        sl_store_cached(db, "SELECT 1 FROM ecs_clusters WHERE name = ?1 AND status = 'ACTIVE'");
    if (!st) return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (ok) sl_name_cache_put(t->clusters, name, json_true(), gen);
    return ok;
}

json_t *ecs_taskdef_get(sl_tasks *t, const char *ref, bool *inactive) {
    if (inactive) *inactive = false;
    const char *p = strstr(ref, ":task-definition/");
    p = p ? p + 17 : ref;
    char family[256];
    long rev = -1;
    const char *colon = strrchr(p, ':');
    size_t flen = colon ? (size_t)(colon - p) : strlen(p);
    if (flen == 0 || flen >= sizeof family) return NULL;
    memcpy(family, p, flen);
    family[flen] = 0;
    if (colon) {
        char *end;
        rev = strtol(colon + 1, &end, 10);
        if (*end || rev <= 0) return NULL;
    }
    /* a given revision's document only changes when it is deregistered (which forgets the
     * cache); "the latest active" is asked of the store each time */
    char key[300];
    snprintf(key, sizeof key, "%s:%ld", family, rev);
    json_t *cached = rev > 0 ? sl_name_cache_get(t->taskdefs, key) : NULL;
    if (cached) {
        json_t *doc = json_deep_copy(json_array_get(cached, 0));
        if (inactive) *inactive = json_is_true(json_array_get(cached, 1));
        json_decref(cached);
        return doc;
    }
    uint64_t gen = sl_name_cache_generation(t->taskdefs);
    sqlite3 *db = sl_store_reader(t->store);
    sqlite3_stmt *st =
        rev > 0 ? sl_store_cached(db, "SELECT doc, status FROM ecs_task_definitions WHERE "
                                      "family = ?1 AND revision = ?2")
                : sl_store_cached(db, "SELECT doc, status FROM ecs_task_definitions WHERE "
                                      "family = ?1 AND status = 'ACTIVE' "
                                      "ORDER BY revision DESC LIMIT 1");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, family, -1, SQLITE_TRANSIENT);
    if (rev > 0) sqlite3_bind_int64(st, 2, rev);
    json_t *doc = NULL;
    bool is_inactive = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        is_inactive = strcmp((const char *)sqlite3_column_text(st, 1), "ACTIVE") != 0;
    }
    sqlite3_reset(st);
    if (inactive) *inactive = is_inactive;
    if (doc && rev > 0) {
        json_t *entry = json_pack("[O,b]", doc, is_inactive);
        sl_name_cache_put(t->taskdefs, key, entry, gen);
        json_decref(entry);
        /* the cache keeps its own: the caller may change the one it is given */
        json_t *copy = json_deep_copy(doc);
        json_decref(doc);
        doc = copy;
    }
    return doc;
}
