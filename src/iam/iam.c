/* iam: roles and their inline policies as rows in the store, and the service's life cycle.
 * Role names are unique and looked up without regard to case, as in IAM (COLLATE NOCASE on
 * both tables). Writes that must see a consistent state (DeleteRole refusing while inline
 * policies remain, PutRolePolicy on a role that exists) check and change inside one write job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "iam/iam_internal.h"

void iam_role_free(iam_role *r) {
    if (!r) return;
    free(r->name);
    free(r->role_id);
    free(r->path);
    free(r->assume_role_policy);
    free(r->description);
    free(r->tags);
    memset(r, 0, sizeof *r);
}

void iam_role_arn(const sl_iam *iam, const iam_role *r, char *out, size_t n) {
    snprintf(out, n, "arn:aws:iam::%s:role%s%s", iam->cfg->account_id, r->path, r->name);
}

void iam_role_id_new(char out[22]) {
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char rnd[17];
    sl_random_bytes(rnd, sizeof rnd);
    memcpy(out, "AROA", 4);
    for (size_t i = 0; i < sizeof rnd; i++) out[4 + i] = alnum[rnd[i] % 36];
    out[21] = 0;
}

static char *column_dup(sqlite3_stmt *st, int i) {
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? sl_xstrdup(s) : NULL;
}

#define ROLE_COLUMNS                                                                               \
    "name, role_id, path, created_ms, assume_role_policy, description, max_session_duration, tags"

static void role_from_row(sqlite3_stmt *st, iam_role *r) {
    r->name = column_dup(st, 0);
    r->role_id = column_dup(st, 1);
    r->path = column_dup(st, 2);
    r->created_ms = sqlite3_column_int64(st, 3);
    r->assume_role_policy = column_dup(st, 4);
    r->description = column_dup(st, 5);
    r->max_session_duration = sqlite3_column_int(st, 6);
    r->tags = column_dup(st, 7);
}

iam_status iam_role_create(sl_iam *iam, const iam_role *r) {
    char created[24], max[16];
    snprintf(created, sizeof created, "%lld", (long long)r->created_ms);
    snprintf(max, sizeof max, "%d", r->max_session_duration);
    sl_store_stmt_job job = {.sql = "INSERT INTO iam_roles (" ROLE_COLUMNS
                                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                             .args = {r->name, r->role_id, r->path, created, r->assume_role_policy,
                                      r->description, max, r->tags},
                             .nargs = 8};
    int rc = sl_store_write(iam->store, sl_store_exec_job, &job);
    return rc == 0 ? IAM_OK : rc == 1 ? IAM_EXISTS : IAM_FAILED;
}

iam_status iam_role_get(sl_iam *iam, const char *name, iam_role *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = sl_store_cached(sl_store_reader(iam->store),
                                       "SELECT " ROLE_COLUMNS " FROM iam_roles WHERE name=?1");
    if (!st) return IAM_FAILED;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    iam_status s = rc == SQLITE_ROW ? IAM_OK : rc == SQLITE_DONE ? IAM_NO_ROLE : IAM_FAILED;
    if (rc == SQLITE_ROW) role_from_row(st, out);
    sqlite3_reset(st);
    return s;
}

/* One write job for the checks and changes that must see the same state. */
typedef struct {
    enum {
        JOB_DELETE_ROLE,
        JOB_PUT_POLICY
    } kind;
    const char *role, *policy, *doc;
} role_job;

static int exec_text(sqlite3 *db, const char *sql, const char *a, const char *b, const char *c,
                     int *changes) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    const char *args[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (args[i]) sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (changes) *changes = sqlite3_changes(db);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int role_job_run(sqlite3 *db, void *arg) {
    role_job *j = arg;
    int rc = exec_text(db, "SELECT 1 FROM iam_roles WHERE name=?1", j->role, NULL, NULL, NULL);
    if (rc < 0) return IAM_FAILED;
    if (rc == 0) return IAM_NO_ROLE;
    if (j->kind == JOB_DELETE_ROLE) {
        rc = exec_text(db, "SELECT 1 FROM iam_role_policies WHERE role=?1 LIMIT 1", j->role, NULL,
                       NULL, NULL);
        if (rc < 0) return IAM_FAILED;
        if (rc == 1) return IAM_HAS_POLICIES;
        return exec_text(db, "DELETE FROM iam_roles WHERE name=?1", j->role, NULL, NULL, NULL) == 0
                   ? IAM_OK
                   : IAM_FAILED;
    }
    /* The policy row names the role as the role row spells it. */
    return exec_text(db,
                     "INSERT INTO iam_role_policies (role, name, document) "
                     "SELECT name, ?2, ?3 FROM iam_roles WHERE name=?1 "
                     "ON CONFLICT (role, name) DO UPDATE SET document=excluded.document",
                     j->role, j->policy, j->doc, NULL) == 0
               ? IAM_OK
               : IAM_FAILED;
}

static iam_status job_status(int rc) {
    return rc >= IAM_OK && rc <= IAM_FAILED ? (iam_status)rc : IAM_FAILED;
}

iam_status iam_role_delete(sl_iam *iam, const char *name) {
    role_job j = {.kind = JOB_DELETE_ROLE, .role = name};
    return job_status(sl_store_write(iam->store, role_job_run, &j));
}

iam_status iam_role_set_trust(sl_iam *iam, const char *name, const char *doc) {
    sl_store_stmt_job job = {.sql = "UPDATE iam_roles SET assume_role_policy=?2 WHERE name=?1",
                             .args = {name, doc},
                             .nargs = 2};
    if (sl_store_write(iam->store, sl_store_exec_job, &job) != 0) return IAM_FAILED;
    return job.changes ? IAM_OK : IAM_NO_ROLE;
}

iam_status iam_roles_list(sl_iam *iam, const char *prefix, const char *marker, int max,
                          iam_role **out, size_t *n, bool *truncated) {
    *out = NULL;
    *n = 0;
    *truncated = false;
    sqlite3_stmt *st = sl_store_cached(sl_store_reader(iam->store),
                                       "SELECT " ROLE_COLUMNS
                                       " FROM iam_roles WHERE substr(path, 1, length(?1)) = ?1 "
                                       "AND (?2 IS NULL OR name > ?2) ORDER BY name LIMIT ?3");
    if (!st) return IAM_FAILED;
    sqlite3_bind_text(st, 1, prefix ? prefix : "/", -1, SQLITE_STATIC);
    if (marker) sqlite3_bind_text(st, 2, marker, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, max + 1);
    iam_role *roles = sl_xcalloc((size_t)max + 1, sizeof *roles);
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int)count == max) {
            *truncated = true;
            break;
        }
        role_from_row(st, &roles[count++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        for (size_t i = 0; i < count; i++) iam_role_free(&roles[i]);
        free(roles);
        return IAM_FAILED;
    }
    *out = roles;
    *n = count;
    return IAM_OK;
}

iam_status iam_policy_put(sl_iam *iam, const char *role, const char *name, const char *doc) {
    role_job j = {.kind = JOB_PUT_POLICY, .role = role, .policy = name, .doc = doc};
    return job_status(sl_store_write(iam->store, role_job_run, &j));
}

static iam_status role_exists(sl_iam *iam, const char *role) {
    iam_role r;
    iam_status s = iam_role_get(iam, role, &r);
    iam_role_free(&r);
    return s;
}

iam_status iam_policy_get(sl_iam *iam, const char *role, const char *name, char **role_name,
                          char **doc) {
    *role_name = *doc = NULL;
    sqlite3_stmt *st =
        sl_store_cached(sl_store_reader(iam->store),
                        "SELECT role, document FROM iam_role_policies WHERE role=?1 AND name=?2");
    if (!st) return IAM_FAILED;
    sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *role_name = column_dup(st, 0);
        *doc = column_dup(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return IAM_OK;
    if (rc != SQLITE_DONE) return IAM_FAILED;
    iam_status s = role_exists(iam, role);
    return s == IAM_OK ? IAM_NO_POLICY : s;
}

iam_status iam_policy_delete(sl_iam *iam, const char *role, const char *name) {
    sl_store_stmt_job job = {.sql = "DELETE FROM iam_role_policies WHERE role=?1 AND name=?2",
                             .args = {role, name},
                             .nargs = 2};
    if (sl_store_write(iam->store, sl_store_exec_job, &job) != 0) return IAM_FAILED;
    if (job.changes) return IAM_OK;
    iam_status s = role_exists(iam, role);
    return s == IAM_OK ? IAM_NO_POLICY : s;
}

iam_status iam_policies_list(sl_iam *iam, const char *role, const char *marker, int max,
                             char ***names, size_t *n, bool *truncated) {
    *names = NULL;
    *n = 0;
    *truncated = false;
    iam_status s = role_exists(iam, role);
    if (s != IAM_OK) return s;
    sqlite3_stmt *st = sl_store_cached(sl_store_reader(iam->store),
                                       "SELECT name FROM iam_role_policies WHERE role=?1 "
                                       "AND (?2 IS NULL OR name > ?2) ORDER BY name LIMIT ?3");
    if (!st) return IAM_FAILED;
    sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
    if (marker) sqlite3_bind_text(st, 2, marker, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, max + 1);
    char **list = sl_xcalloc((size_t)max + 1, sizeof *list);
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int)count == max) {
            *truncated = true;
            break;
        }
        list[count++] = column_dup(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        for (size_t i = 0; i < count; i++) free(list[i]);
        free(list);
        return IAM_FAILED;
    }
    *names = list;
    *n = count;
    return IAM_OK;
}

sl_iam *sl_iam_new(const sl_context *ctx, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    sl_iam *iam = sl_xcalloc(1, sizeof *iam);
    iam->cfg = ctx->cfg;
    iam->store = ctx->store;
    iam->credentials = ctx->credentials;
    return iam;
}

void sl_iam_free(sl_iam *iam) { free(iam); }
