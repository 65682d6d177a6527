/* machines: the catalog of state machines — definitions compiled once and cached by
 * (machine ARN, definition hash), so executions keep the definition they started with after
 * UpdateStateMachine — plus ARN helpers and definition checks that need to know which Task
 * resources Sluice runs. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "states/states_internal.h"

void sfn_arn(const sl_states *s, const char *kind, const char *name, char *out, size_t n) {
    snprintf(out, n, "arn:aws:states:%s:%s:%s:%s", s->cfg->region, s->cfg->account_id, kind, name);
}

bool sfn_arn_split(const char *arn, const char *kind, char *name, size_t nlen, char *rest,
                   size_t rlen) {
    if (!arn || !sl_str_has_prefix(arn, "arn:aws:states:")) return false;
    const char *p = arn + 15;
    for (int i = 0; i < 2; i++) { /* region, account */
        p = strchr(p, ':');
        if (!p) return false;
        p++;
    }
    size_t kl = strlen(kind);
    if (strncmp(p, kind, kl) != 0 || p[kl] != ':') return false;
    p += kl + 1;
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len == 0 || len >= nlen) return false;
    memcpy(name, p, len);
    name[len] = 0;
    if (rest && rlen) {
        const char *r = colon ? colon + 1 : "";
        if (strlen(r) >= rlen) return false;
        snprintf(rest, rlen, "%s", r);
    }
    return true;
}

void sfn_definition_hash(const char *definition, char out[65]) {
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(definition, strlen(definition), md, &n, EVP_sha256(), NULL);
    sl_hex_encode(md, 32, out);
}

static int check_resource(const sl_asl_state *st, void *ctx) {
    sl_states *s = ctx;
    const char *action;
    sfn_task_kind k = sfn_task_classify(s, st->resource, &action);
    /* Optimized integrations (arn:aws:states:::...) must be ones Sluice runs; other ARNs
     * (functions, for instance) are valid definitions whose tasks fail when they run. */
    if (k == TASK_UNKNOWN && sl_str_has_prefix(st->resource, "arn:aws:states:::")) return 1;
    if (k == TASK_UNKNOWN && !sl_str_has_prefix(st->resource, "arn:")) return 1;
    return 0;
}

typedef struct {
    sl_states *s;
    const sl_asl_state *bad;
} resource_check;

static int check_resource_cb(const sl_asl_state *st, void *ctx) {
    resource_check *rc = ctx;
    if (check_resource(st, rc->s)) {
        rc->bad = st;
        return 1;
    }
    return 0;
}

sl_asl_machine *sfn_compile(sl_states *s, const char *definition, char *err, size_t errlen) {
    sl_asl_machine *m = sl_asl_compile(definition, err, errlen);
    if (!m) return NULL;
    resource_check rc = {s, NULL};
    if (sl_asl_each_task(m, check_resource_cb, &rc)) {
        snprintf(err, errlen,
                 "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource "
                 "provided %s not recognized. The value is not a valid resource ARN, or the "
                 "resource is not available in this region. at /States/%s/Resource'",
                 rc.bad->resource, rc.bad->name);
        sl_asl_free(m);
        return NULL;
    }
    return m;
}

int sfn_machine_write(sqlite3 *db, void *arg) {
    sfn_machine_job *j = arg;
    sqlite3_stmt *st = sl_store_cached(
        db, "INSERT OR IGNORE INTO sfn_definitions (hash, definition) VALUES (?1, ?2)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, j->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->definition, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return -1;
    if (j->update) {
        st = sl_store_cached(db, "UPDATE sfn_machines SET def_hash = ?2, role_arn = ?3, "
                                 "updated_ms = ?4, revision = ?5 WHERE arn = ?1");
        if (!st) return -1;
        sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, j->hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, j->role, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, j->now);
        sqlite3_bind_text(st, 5, j->revision, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    st = sl_store_cached(db, "INSERT INTO sfn_machines (arn, name, type, def_hash, role_arn, "
                             "created_ms, updated_ms, revision, spec) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, j->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, j->role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, j->now);
    sqlite3_bind_text(st, 7, j->revision, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, j->spec, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT) return 1;
    if (rc != SQLITE_DONE) return -1;
    return j->after ? j->after(db, j->after_ctx) : 0;
}

static sfn_machine *cache_find(sl_states *s, const char *arn, const char *hash) {
    for (size_t i = 0; i < s->nmachines; i++) {
        sfn_machine *m = s->machines[i];
        if (strcmp(m->arn, arn) != 0) continue;
        if (hash ? strcmp(m->def_hash, hash) == 0 : !m->stale) return m;
    }
    return NULL;
}

static sfn_machine *load(sl_states *s, const char *arn, const char *hash) {
    sqlite3 *db = sl_store_reader(s->store);
    static const char *SQL_CURRENT =
        "SELECT m.name, m.type, m.def_hash, d.definition, m.role_arn, m.revision, m.updated_ms "
        "FROM sfn_machines m JOIN sfn_definitions d ON d.hash = m.def_hash WHERE m.arn = ?1";
    static const char *SQL_BY_HASH =
        "SELECT m.name, m.type, d.hash, d.definition, m.role_arn, NULL, 0 FROM sfn_definitions d "
        "LEFT JOIN sfn_machines m ON m.arn = ?1 WHERE d.hash = ?2";
    sqlite3_stmt *st = sl_store_cached(db, hash ? SQL_BY_HASH : SQL_CURRENT);
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    if (hash) sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
    sfn_machine *m = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char err[1024];
        const char *def = (const char *)sqlite3_column_text(st, 3);
        sl_asl_machine *asl = sl_asl_compile(def, err, sizeof err);
        if (asl) {
            m = sl_xcalloc(1, sizeof *m);
            m->arn = sl_xstrdup(arn);
            const char *name = (const char *)sqlite3_column_text(st, 0);
            char nm[128], rest[8];
            if (!name && sfn_arn_split(arn, "stateMachine", nm, sizeof nm, rest, sizeof rest))
                name = nm;
            m->name = sl_xstrdup(name ? name : "");
            const char *type = (const char *)sqlite3_column_text(st, 1);
            m->type = sl_xstrdup(type ? type : "STANDARD");
            m->def_hash = sl_xstrdup((const char *)sqlite3_column_text(st, 2));
            m->definition = sl_xstrdup(def);
            const char *role = (const char *)sqlite3_column_text(st, 4);
            m->role_arn = sl_xstrdup(role ? role : "");
            const char *rev = (const char *)sqlite3_column_text(st, 5);
            m->revision = rev ? sl_xstrdup(rev) : NULL;
            m->updated_ms = sqlite3_column_int64(st, 6);
            m->asl = asl;
        }
    }
    sqlite3_reset(st);
    return m;
}

static sfn_machine *get(sl_states *s, const char *arn, const char *hash) {
    pthread_mutex_lock(&s->catalog_mu);
    sfn_machine *m = cache_find(s, arn, hash);
    if (!m) {
        m = load(s, arn, hash);
        if (m) {
            if (s->nmachines == s->cap_machines) {
                s->cap_machines = s->cap_machines ? s->cap_machines * 2 : 16;
                s->machines = sl_xrealloc(s->machines, s->cap_machines * sizeof *s->machines);
            }
            /* the current definition goes first so an ARN-only lookup finds it */
            memmove(s->machines + 1, s->machines, s->nmachines * sizeof *s->machines);
            s->machines[0] = m;
            s->nmachines++;
        }
    }
    pthread_mutex_unlock(&s->catalog_mu);
    return m;
}

sfn_machine *sfn_machine_get(sl_states *s, const char *arn) { return get(s, arn, NULL); }

sfn_machine *sfn_machine_for_hash(sl_states *s, const char *machine_arn, const char *def_hash) {
    return get(s, machine_arn, def_hash);
}

/* After an update or delete: the next ARN lookup reads the store. Compiled definitions stay
 * (running executions point at them, hash lookups find them) until the service stops. */
void sfn_machines_invalidate(sl_states *s, const char *arn) {
    pthread_mutex_lock(&s->catalog_mu);
    for (size_t i = 0; i < s->nmachines; i++) {
        sfn_machine *m = s->machines[i];
        if (strcmp(m->arn, arn) == 0) m->stale = true;
    }
    pthread_mutex_unlock(&s->catalog_mu);
}

void sfn_machines_free(sl_states *s) {
    for (size_t i = 0; i < s->nmachines; i++) {
        sfn_machine *m = s->machines[i];
        sl_asl_free(m->asl);
        free(m->arn);
        free(m->name);
        free(m->type);
        free(m->def_hash);
        free(m->definition);
        free(m->role_arn);
        free(m->revision);
        free(m);
    }
    free(s->machines);
    s->machines = NULL;
    s->nmachines = 0;
}
