/* topics: SNS topics and subscriptions as rows in the store. CreateTopic and Subscribe are
 * idempotent (same name / same topic, protocol and endpoint return the existing one, unless
 * other attributes are asked for), checked
 * and written inside one write job so two racing calls cannot both create. Deleting a topic
 * deletes its subscriptions, as on AWS; deliveries already queued still go out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "sns/sns_internal.h"

void sns_topic_free(sns_topic *t) {
    if (!t) return;
    free(t->arn);
    free(t->name);
    json_decref(t->attributes);
    json_decref(t->tags);
    memset(t, 0, sizeof *t);
}

void sns_subscription_free(sns_subscription *s) {
    if (!s) return;
    free(s->arn);
    free(s->topic_arn);
    free(s->protocol);
    free(s->endpoint);
    free(s->token);
    json_decref(s->attributes);
    memset(s, 0, sizeof *s);
}

void sns_topic_arn(const sl_sns *sns, const char *name, char *out, size_t n) {
    snprintf(out, n, "arn:aws:sns:%s:%s:%s", sns->cfg->region, sns->cfg->account_id, name);
}

static char *column_dup(sqlite3_stmt *st, int i) {
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? sl_xstrdup(s) : NULL;
}

static json_t *column_json(sqlite3_stmt *st, int i, const char *fallback) {
    const char *s = (const char *)sqlite3_column_text(st, i);
    json_t *j = json_loads(s ? s : fallback, 0, NULL);
    return j ? j : json_loads(fallback, 0, NULL);
}

/* ---- topics ---- */

typedef struct {
    const char *arn, *name;
    char *attributes, *tags;
} topic_job;

static int topic_create_run(sqlite3 *db, void *arg) {
    topic_job *j = arg;
    sqlite3_stmt *st = sl_store_cached(db, "SELECT attributes, tags FROM sns_topics WHERE arn=?1");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        /* Idempotent only when what was asked agrees with what exists. */
        json_t *have = column_json(st, 0, "{}"), *want = json_loads(j->attributes, 0, NULL);
        json_t *have_tags = column_json(st, 1, "[]"), *want_tags = json_loads(j->tags, 0, NULL);
        sqlite3_reset(st);
        bool same = true;
        const char *k;
        json_t *v;
        json_object_foreach(want, k, v) {
            if (!json_equal(json_object_get(have, k), v)) same = false;
        }
        if (json_array_size(want_tags) && !json_equal(have_tags, want_tags)) same = false;
        json_decref(have);
        json_decref(want);
        json_decref(have_tags);
        json_decref(want_tags);
        return same ? SNS_OK : SNS_CONFLICT;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SNS_FAILED;
    st = sl_store_cached(db, "INSERT INTO sns_topics (arn, name, created_ms, attributes, tags)"
                             " VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, sl_now_ms());
    sqlite3_bind_text(st, 4, j->attributes, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, j->tags, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SNS_OK : SNS_FAILED;
}

static sns_status job_status(int rc) {
    return rc >= SNS_OK && rc <= SNS_FAILED ? (sns_status)rc : SNS_FAILED;
}

sns_status sns_topic_create(sl_sns *sns, const char *arn, const char *name,
                            const json_t *attributes, const json_t *tags) {
    topic_job j = {.arn = arn,
                   .name = name,
                   .attributes = json_dumps(attributes, JSON_COMPACT),
                   .tags = json_dumps(tags, JSON_COMPACT)};
    int rc = sl_store_write(sns->store, topic_create_run, &j);
    free(j.attributes);
    free(j.tags);
    return job_status(rc);
}

sns_status sns_topic_get(sl_sns *sns, const char *arn, sns_topic *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = sl_store_cached(
        sl_store_reader(sns->store),
        "SELECT arn, name, attributes, tags, created_ms FROM sns_topics WHERE arn=?1");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->arn = column_dup(st, 0);
        out->name = column_dup(st, 1);
        out->attributes = column_json(st, 2, "{}");
        out->tags = column_json(st, 3, "[]");
        out->created_ms = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SNS_OK : rc == SQLITE_DONE ? SNS_NOT_FOUND : SNS_FAILED;
}

bool sl_sns_topic_exists(sl_sns *sns, const char *topic_arn) {
    sns_topic t;
    sns_status s = sns_topic_get(sns, topic_arn, &t);
    sns_topic_free(&t);
    return s == SNS_OK;
}

static int topic_delete_run(sqlite3 *db, void *arg) {
    const char *arn = arg;
    sqlite3_stmt *st = sl_store_cached(db, "DELETE FROM sns_subscriptions WHERE topic_arn=?1");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SNS_FAILED;
    st = sl_store_cached(db, "DELETE FROM sns_topics WHERE arn=?1");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SNS_OK : SNS_FAILED;
}

sns_status sns_topic_delete(sl_sns *sns, const char *arn) {
    /* DeleteTopic of a topic that does not exist succeeds on AWS. */
    return job_status(sl_store_write(sns->store, topic_delete_run, (void *)arn));
}

sns_status sns_topic_set_attribute(sl_sns *sns, const char *arn, const char *name,
                                   const char *value) {
    char path[300];
    snprintf(path, sizeof path, "$.\"%s\"", name);
    sl_store_stmt_job job = {
        .sql = "UPDATE sns_topics SET attributes = json_set(attributes, ?2, ?3) WHERE arn=?1",
        .args = {arn, path, value},
        .nargs = 3};
    if (sl_store_write(sns->store, sl_store_exec_job, &job) != 0) return SNS_FAILED;
    return job.changes ? SNS_OK : SNS_NOT_FOUND;
}

sns_status sns_topic_set_tags(sl_sns *sns, const char *arn, const json_t *tags) {
    char *text = json_dumps(tags, JSON_COMPACT);
    sl_store_stmt_job job = {
        .sql = "UPDATE sns_topics SET tags=?2 WHERE arn=?1", .args = {arn, text}, .nargs = 2};
    int rc = sl_store_write(sns->store, sl_store_exec_job, &job);
    free(text);
    if (rc != 0) return SNS_FAILED;
    return job.changes ? SNS_OK : SNS_NOT_FOUND;
}

sns_status sns_topics_list(sl_sns *sns, const char *after, int max, json_t **arns, bool *more) {
    *arns = json_array();
    *more = false;
    sqlite3_stmt *st = sl_store_cached(sl_store_reader(sns->store),
                                       "SELECT arn FROM sns_topics WHERE (?1 IS NULL OR arn > ?1)"
                                       " ORDER BY arn LIMIT ?2");
    if (!st) return SNS_FAILED;
    if (after) sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max + 1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int)json_array_size(*arns) == max) {
            *more = true;
            break;
        }
        json_array_append_new(*arns, json_string((const char *)sqlite3_column_text(st, 0)));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SNS_OK : SNS_FAILED;
}

void sns_topic_counts(sl_sns *sns, const char *arn, int *confirmed, int *pending) {
    *confirmed = *pending = 0;
    sqlite3_stmt *st = sl_store_cached(sl_store_reader(sns->store),
                                       "SELECT confirmed, count(*) FROM sns_subscriptions"
                                       " WHERE topic_arn=?1 GROUP BY confirmed");
    if (!st) return;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 0)) *confirmed = sqlite3_column_int(st, 1);
        else *pending = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
}

/* ---- subscriptions ---- */

#define SUB_COLUMNS "arn, topic_arn, protocol, endpoint, token, confirmed, attributes"

static void sub_from_row(sqlite3_stmt *st, sns_subscription *s) {
    s->arn = column_dup(st, 0);
    s->topic_arn = column_dup(st, 1);
    s->protocol = column_dup(st, 2);
    s->endpoint = column_dup(st, 3);
    s->token = column_dup(st, 4);
    s->confirmed = sqlite3_column_int(st, 5) != 0;
    s->attributes = column_json(st, 6, "{}");
}

typedef struct {
    sl_sns *sns;
    const sns_subscription *in;
    sns_subscription *out;
    bool existing;
} sub_add_job;

static int sub_add_run(sqlite3 *db, void *arg) {
    sub_add_job *j = arg;
    sqlite3_stmt *st = sl_store_cached(db, "SELECT 1 FROM sns_topics WHERE arn=?1");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, j->in->topic_arn, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return SNS_NOT_FOUND;
    if (rc != SQLITE_ROW) return SNS_FAILED;
    st = sl_store_cached(db, "SELECT " SUB_COLUMNS " FROM sns_subscriptions WHERE topic_arn=?1"
                             " AND protocol=?2 AND endpoint=?3");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, j->in->topic_arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->in->protocol, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->in->endpoint, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) sub_from_row(st, j->out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        j->existing = true;
        /* Idempotent only when the attributes asked for are the ones it has. */
        const char *k;
        json_t *v;
        json_object_foreach(j->in->attributes, k, v) {
            if (!json_equal(json_object_get(j->out->attributes, k), v)) return SNS_CONFLICT;
        }
        /* A pending subscription asked again gets a new confirmation message, as on AWS. */
        if (!j->out->confirmed && sns_queue_confirmation(j->sns, db, j->out, false) != 0)
            return SNS_FAILED;
        return SNS_OK;
    }
    if (rc != SQLITE_DONE) return SNS_FAILED;
    char *attrs = json_dumps(j->in->attributes, JSON_COMPACT);
    st = sl_store_cached(db, "INSERT INTO sns_subscriptions (" SUB_COLUMNS ", created_ms)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st) {
        free(attrs);
        return SNS_FAILED;
    }
    sqlite3_bind_text(st, 1, j->in->arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->in->topic_arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->in->protocol, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, j->in->endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, j->in->token, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, j->in->confirmed);
    sqlite3_bind_text(st, 7, attrs, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, sl_now_ms());
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(attrs);
    if (rc != SQLITE_DONE) return SNS_FAILED;
    j->out->arn = sl_xstrdup(j->in->arn);
    j->out->topic_arn = sl_xstrdup(j->in->topic_arn);
    j->out->protocol = sl_xstrdup(j->in->protocol);
    j->out->endpoint = sl_xstrdup(j->in->endpoint);
    j->out->token = sl_xstrdup(j->in->token);
    j->out->confirmed = j->in->confirmed;
    j->out->attributes = json_incref(j->in->attributes);
    if (!j->in->confirmed && sns_queue_confirmation(j->sns, db, j->out, false) != 0)
        return SNS_FAILED;
    return SNS_OK;
}

sns_status sns_subscription_add(sl_sns *sns, const sns_subscription *s, sns_subscription *out,
                                bool *existing) {
    memset(out, 0, sizeof *out);
    sub_add_job j = {.sns = sns, .in = s, .out = out};
    sns_status rc = job_status(sl_store_write(sns->store, sub_add_run, &j));
    if (rc != SNS_OK) sns_subscription_free(out);
    *existing = j.existing;
    if (rc == SNS_OK) sl_sns_kick(sns);
    return rc;
}

sns_status sns_subscription_get(sl_sns *sns, const char *arn, sns_subscription *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = sl_store_cached(
        sl_store_reader(sns->store), "SELECT " SUB_COLUMNS " FROM sns_subscriptions WHERE arn=?1");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) sub_from_row(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SNS_OK : rc == SQLITE_DONE ? SNS_NOT_FOUND : SNS_FAILED;
}

sns_status sns_subscription_confirm(sl_sns *sns, const char *topic_arn, const char *token,
                                    sns_subscription *out) {
    sl_store_stmt_job job = {
        .sql = "UPDATE sns_subscriptions SET confirmed=1 WHERE topic_arn=?1 AND token=?2",
        .args = {topic_arn, token},
        .nargs = 2};
    memset(out, 0, sizeof *out);
    if (sl_store_write(sns->store, sl_store_exec_job, &job) != 0) return SNS_FAILED;
    if (!job.changes) return SNS_NOT_FOUND;
    sqlite3_stmt *st =
        sl_store_cached(sl_store_reader(sns->store), "SELECT " SUB_COLUMNS " FROM sns_subscriptions"
                                                     " WHERE topic_arn=?1 AND token=?2");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, topic_arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) sub_from_row(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SNS_OK : SNS_NOT_FOUND;
}

typedef struct {
    sl_sns *sns;
    const char *arn;
} sub_delete_job;

static int sub_delete_run(sqlite3 *db, void *arg) {
    sub_delete_job *j = arg;
    sqlite3_stmt *st =
        sl_store_cached(db, "SELECT " SUB_COLUMNS " FROM sns_subscriptions WHERE arn=?1");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
    sns_subscription s = {0};
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) sub_from_row(st, &s);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return SNS_NOT_FOUND;
    if (rc != SQLITE_ROW) return SNS_FAILED;
    /* An HTTP(S) endpoint is told, as AWS sends an UnsubscribeConfirmation. */
    int status = SNS_OK;
    if (s.confirmed && !strncmp(s.protocol, "http", 4) &&
        sns_queue_confirmation(j->sns, db, &s, true) != 0)
        status = SNS_FAILED;
    sns_subscription_free(&s);
    if (status != SNS_OK) return status;
    st = sl_store_cached(db, "DELETE FROM sns_subscriptions WHERE arn=?1");
    if (!st) return SNS_FAILED;
    sqlite3_bind_text(st, 1, j->arn, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SNS_OK : SNS_FAILED;
}

sns_status sns_subscription_delete(sl_sns *sns, const char *arn) {
    sub_delete_job j = {.sns = sns, .arn = arn};
    sns_status s = job_status(sl_store_write(sns->store, sub_delete_run, &j));
    if (s == SNS_OK) sl_sns_kick(sns);
    return s;
}

sns_status sns_subscription_set_attribute(sl_sns *sns, const char *arn, const char *name,
                                          const char *value) {
    char path[300];
    snprintf(path, sizeof path, "$.\"%s\"", name);
    sl_store_stmt_job job = {.sql = value ? "UPDATE sns_subscriptions SET attributes ="
                                            " json_set(attributes, ?2, ?3) WHERE arn=?1"
                                          : "UPDATE sns_subscriptions SET attributes ="
                                            " json_remove(attributes, ?2) WHERE arn=?1",
                             .args = {arn, path, value},
                             .nargs = value ? 3 : 2};
    if (sl_store_write(sns->store, sl_store_exec_job, &job) != 0) return SNS_FAILED;
    return job.changes ? SNS_OK : SNS_NOT_FOUND;
}

sns_status sns_subscriptions_list(sl_sns *sns, const char *topic_arn, const char *after, int max,
                                  sns_subscription **out, size_t *n, bool *more) {
    *out = NULL;
    *n = 0;
    *more = false;
    sqlite3_stmt *st = sl_store_cached(sl_store_reader(sns->store),
                                       "SELECT " SUB_COLUMNS " FROM sns_subscriptions"
                                       " WHERE (?1 IS NULL OR topic_arn=?1)"
                                       " AND (?2 IS NULL OR arn > ?2) ORDER BY arn LIMIT ?3");
    if (!st) return SNS_FAILED;
    if (topic_arn) sqlite3_bind_text(st, 1, topic_arn, -1, SQLITE_STATIC);
    if (after) sqlite3_bind_text(st, 2, after, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, max + 1);
    sns_subscription *list = sl_xcalloc((size_t)max + 1, sizeof *list);
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int)count == max) {
            *more = true;
            break;
        }
        sub_from_row(st, &list[count++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        for (size_t i = 0; i < count; i++) sns_subscription_free(&list[i]);
        free(list);
        return SNS_FAILED;
    }
    *out = list;
    *n = count;
    return SNS_OK;
}
