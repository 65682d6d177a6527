/* migrations: schema versions, one SQL script each. PRAGMA user_version records the version.
 * Append new versions; never edit a released one. */
#include "store/migrations.h"

#include <stdio.h>

static const char *const migrations[] = {
    /* 1: object store and the event outbox. */
    "CREATE TABLE buckets ("
    "  name TEXT PRIMARY KEY,"
    "  created_ms INTEGER NOT NULL,"
    "  region TEXT NOT NULL,"
    "  config TEXT NOT NULL DEFAULT '{}'"
    ");"
    "CREATE TABLE objects ("
    "  bucket TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL,"
    "  last_modified_ms INTEGER NOT NULL,"
    "  content_type TEXT,"
    "  headers TEXT NOT NULL DEFAULT '{}'," /* stored response headers and user metadata */
    "  checksum_algo TEXT,"
    "  checksum TEXT,"
    "  checksum_type TEXT,"
    "  tags TEXT,"
    "  blob TEXT," /* file id under blobs/, or NULL when inline */
    "  data BLOB," /* inline body for small objects */
    "  parts INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (bucket, key)"
    ") WITHOUT ROWID;"
    "CREATE INDEX objects_by_blob ON objects (blob) WHERE blob IS NOT NULL;"
    "CREATE TABLE uploads ("
    "  upload_id TEXT PRIMARY KEY,"
    "  bucket TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  content_type TEXT,"
    "  headers TEXT NOT NULL DEFAULT '{}',"
    "  checksum_algo TEXT,"
    "  checksum_type TEXT,"
    "  tags TEXT"
    ");"
    "CREATE INDEX uploads_by_key ON uploads (bucket, key, created_ms);"
    "CREATE TABLE parts ("
    "  upload_id TEXT NOT NULL,"
    "  part_number INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL,"
    "  checksum TEXT,"
    "  blob TEXT NOT NULL,"
    "  last_modified_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (upload_id, part_number)"
    ") WITHOUT ROWID;"
    "CREATE INDEX parts_by_blob ON parts (blob);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL"
    ");",
    /* 2: the event bus: buses, rules, targets, connections, API destinations, durable
     * deliveries (pending and dead letters), and CloudTrail trails. */
    "CREATE TABLE event_buses ("
    "  name TEXT PRIMARY KEY,"
    "  description TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  modified_ms INTEGER NOT NULL,"
    "  spec TEXT NOT NULL DEFAULT '{}'"
    ");"
    "INSERT INTO event_buses (name, created_ms, modified_ms) VALUES ('default', 0, 0);"
    "CREATE TABLE event_rules ("
    "  bus TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  pattern TEXT,"
    "  schedule TEXT,"
    "  state TEXT NOT NULL,"
    "  description TEXT,"
    "  role_arn TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (bus, name)"
    ") WITHOUT ROWID;"
    "CREATE TABLE event_targets ("
    "  bus TEXT NOT NULL,"
    "  rule TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  arn TEXT NOT NULL,"
    "  spec TEXT NOT NULL,"
    "  PRIMARY KEY (bus, rule, id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX event_targets_by_arn ON event_targets (arn);"
    "CREATE TABLE event_connections ("
    "  name TEXT PRIMARY KEY,"
    "  spec TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  modified_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE event_api_destinations ("
    "  name TEXT PRIMARY KEY,"
    "  spec TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  modified_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE event_deliveries ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  bus TEXT NOT NULL,"
    "  rule TEXT NOT NULL,"
    "  target TEXT NOT NULL," /* the target as it was when the event matched */
    "  event TEXT NOT NULL,"
    "  event_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_ms INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending'," /* pending | dead */
    "  last_error TEXT"
    ");"
    "CREATE INDEX event_deliveries_due ON event_deliveries (state, next_ms);"
    "CREATE TABLE trails ("
    "  name TEXT PRIMARY KEY,"
    "  bucket TEXT,"
    "  logging INTEGER NOT NULL DEFAULT 0,"
    "  selectors TEXT,"
    "  advanced_selectors TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  spec TEXT NOT NULL DEFAULT '{}'"
    ");",
    /* 3: part sizes of multipart objects, for GetObject/HeadObject ?partNumber=. */
    "ALTER TABLE objects ADD COLUMN part_sizes TEXT;",
    /* 4: Step Functions. A STANDARD execution's snapshot is its whole run state (every branch
     * and iteration in flight); each transition rewrites it and appends its history events in
     * the same transaction. Definitions are kept by content hash so an execution describes
     * the definition it started with after the machine is updated. */
    "CREATE TABLE sfn_definitions ("
    "  hash TEXT PRIMARY KEY,"
    "  definition TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE sfn_machines ("
    "  arn TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  def_hash TEXT NOT NULL,"
    "  role_arn TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  revision TEXT NOT NULL,"
    "  spec TEXT NOT NULL DEFAULT '{}'," /* logging, tracing, tags, description */
    "  status TEXT NOT NULL DEFAULT 'ACTIVE'"
    ");"
    "CREATE TABLE sfn_executions ("
    "  arn TEXT PRIMARY KEY,"
    "  machine_arn TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  def_hash TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  input TEXT NOT NULL,"
    "  output TEXT,"
    "  error TEXT,"
    "  cause TEXT,"
    "  started_ms INTEGER NOT NULL,"
    "  stopped_ms INTEGER,"
    "  parent TEXT," /* the task token of a parent execution's startExecution task */
    "  trace_header TEXT,"
    "  redrive_count INTEGER NOT NULL DEFAULT 0,"
    "  redrive_ms INTEGER,"
    "  snapshot TEXT" /* NULL once the execution has ended */
    ");"
    "CREATE INDEX sfn_executions_by_machine ON sfn_executions (machine_arn, started_ms);"
    "CREATE INDEX sfn_executions_running ON sfn_executions (status) WHERE snapshot IS NOT NULL;"
    "CREATE TABLE sfn_history ("
    "  execution_arn TEXT NOT NULL,"
    "  id INTEGER NOT NULL,"
    "  previous_id INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  details TEXT,"
    "  PRIMARY KEY (execution_arn, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE sfn_activities ("
    "  arn TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  spec TEXT NOT NULL DEFAULT '{}'"
    ");"
    "CREATE TABLE sfn_tags ("
    "  arn TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (arn, key)"
    ") WITHOUT ROWID;",
    /* 5: where a failed execution would resume (RedriveExecution): {"state", "input"}; the
     * revision each execution runs (DescribeStateMachineForExecution). */
    "ALTER TABLE sfn_executions ADD COLUMN redrive TEXT;"
    /* the machine's revision the execution started on, and when it was made */
    "ALTER TABLE sfn_executions ADD COLUMN revision TEXT;"
    "ALTER TABLE sfn_executions ADD COLUMN revision_ms INTEGER;",
    /* 6: ECS. Documents are kept in the shapes the API returns (a task's row is rewritten as
     * it moves through its statuses); the columns are what lists filter on. */
    "CREATE TABLE ecs_clusters ("
    "  arn TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  status TEXT NOT NULL DEFAULT 'ACTIVE',"
    "  created_ms INTEGER NOT NULL,"
    "  spec TEXT NOT NULL DEFAULT '{}'"
    ");"
    "CREATE TABLE ecs_task_definitions ("
    "  family TEXT NOT NULL,"
    "  revision INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'ACTIVE',"
    "  doc TEXT NOT NULL,"
    "  registered_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (family, revision)"
    ") WITHOUT ROWID;"
    "CREATE TABLE ecs_tasks ("
    "  arn TEXT PRIMARY KEY,"
    "  cluster TEXT NOT NULL,"
    "  family TEXT NOT NULL,"
    "  started_by TEXT,"
    "  container_instance TEXT,"
    "  launch_type TEXT NOT NULL,"
    "  desired_status TEXT NOT NULL,"
    "  last_status TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  doc TEXT NOT NULL,"
    "  runtime TEXT" /* what a restart needs: process groups, credentials */
    ");"
    "CREATE INDEX ecs_tasks_by_cluster ON ecs_tasks (cluster, desired_status, created_ms);"
    "CREATE TABLE ecs_container_instances ("
    "  arn TEXT PRIMARY KEY,"
    "  cluster TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  registered_ms INTEGER NOT NULL,"
    "  last_seen_ms INTEGER NOT NULL,"
    "  doc TEXT NOT NULL"
    ");"
    "CREATE TABLE ecs_tags ("
    "  arn TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (arn, key)"
    ") WITHOUT ROWID;",
    /* 7: CloudWatch Logs: groups, streams and events. Events carry both ids so a stream is read
     * by (stream_id, ts) and a whole group interleaved by (group_id, ts) without a sort. */
    "CREATE TABLE log_groups ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_ms INTEGER NOT NULL,"
    "  retention_days INTEGER,"
    "  stored_bytes INTEGER NOT NULL DEFAULT 0,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  spec TEXT NOT NULL DEFAULT '{}'" /* logGroupClass, kmsKeyId */
    ");"
    "CREATE TABLE log_streams ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  first_ts INTEGER,"
    "  last_ts INTEGER,"
    "  last_ingest_ms INTEGER,"
    "  UNIQUE (group_id, name)"
    ");"
    "CREATE INDEX log_streams_by_last_ts ON log_streams (group_id, last_ts);"
    "CREATE TABLE log_events ("
    "  id INTEGER PRIMARY KEY,"
    "  group_id INTEGER NOT NULL,"
    "  stream_id INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  ingest_ms INTEGER NOT NULL,"
    "  message TEXT NOT NULL"
    ");"
    "CREATE INDEX log_events_by_stream ON log_events (stream_id, ts, id);"
    "CREATE INDEX log_events_by_group ON log_events (group_id, ts, id);",
    /* 8: IAM roles and their inline policies (stored and returned, not enforced). Names are
     * unique without regard to case, as in IAM. */
    "CREATE TABLE iam_roles ("
    "  name TEXT PRIMARY KEY COLLATE NOCASE,"
    "  role_id TEXT NOT NULL UNIQUE,"
    "  path TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  assume_role_policy TEXT NOT NULL,"
    "  description TEXT,"
    "  max_session_duration INTEGER NOT NULL,"
    "  tags TEXT NOT NULL DEFAULT '[]'"
    ");"
    "CREATE TABLE iam_role_policies ("
    "  role TEXT NOT NULL COLLATE NOCASE,"
    "  name TEXT NOT NULL,"
    "  document TEXT NOT NULL,"
    "  PRIMARY KEY (role, name)"
    ") WITHOUT ROWID;",
    /* 9: SNS topics, subscriptions and pending deliveries. A delivery row carries everything
     * its sending needs (protocol, endpoint, the message document), so it outlives an
     * Unsubscribe that follows the Publish, as on AWS. */
    "CREATE TABLE sns_topics ("
    "  arn TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  attributes TEXT NOT NULL DEFAULT '{}',"
    "  tags TEXT NOT NULL DEFAULT '[]'"
    ");"
    "CREATE TABLE sns_subscriptions ("
    "  arn TEXT PRIMARY KEY,"
    "  topic_arn TEXT NOT NULL,"
    "  protocol TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  token TEXT NOT NULL,"
    "  confirmed INTEGER NOT NULL DEFAULT 0,"
    "  attributes TEXT NOT NULL DEFAULT '{}',"
    "  created_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX sns_subscriptions_by_topic ON sns_subscriptions (topic_arn, arn);"
    "CREATE TABLE sns_deliveries ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  subscription_arn TEXT NOT NULL,"
    "  protocol TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  raw INTEGER NOT NULL DEFAULT 0,"
    "  policy TEXT,"           /* the effective retry policy, JSON */
    "  message TEXT NOT NULL," /* the message document (Type, MessageId, ...) */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  last_error TEXT"
    ");"
    "CREATE INDEX sns_deliveries_due ON sns_deliveries (next_ms);",
};

int sl_migrations_apply(sqlite3 *db, char *err, size_t errlen) {
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) goto fail;
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    int n = (int)(sizeof migrations / sizeof migrations[0]);
    if (version > n) {
        snprintf(err, errlen, "data dir schema version %d is newer than this sluice (%d)", version,
                 n);
        return SQLITE_ERROR;
    }
    for (int v = version; v < n; v++) {
        char sql[64];
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) goto fail;
        if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "migration %d: %s", v + 1, sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return SQLITE_ERROR;
        }
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v + 1);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) goto fail;
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    }
    return SQLITE_OK;
fail:
    snprintf(err, errlen, "migrations: %s", sqlite3_errmsg(db));
    return SQLITE_ERROR;
}
