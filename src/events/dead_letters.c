/* dead_letters: the `sluice dead-letters` command. Deliveries that exhausted their target's
 * retry policy stay in the store (state 'dead') with their event, target and last error;
 * this lists them and re-drives them (back to pending, attempts reset). It opens the data
 * dir's database directly: SQLite's WAL lets it run beside the daemon, whose dispatcher picks
 * re-driven deliveries up within a second. */
#include "events/dead_letters.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"

static int usage(void) {
    fprintf(stderr, "usage: sluice dead-letters list [--data DIR]\n"
                    "       sluice dead-letters redrive [--data DIR] (--all | ID...)\n"
                    "       sluice dead-letters purge [--data DIR] (--all | ID...)\n");
    return 2;
}

static int list(sqlite3 *db) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT id, bus, rule, target, event, attempts, last_error FROM event_deliveries"
            " WHERE state='dead' ORDER BY id",
            -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "sluice: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    json_t *out = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *target = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
        json_t *event = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
        json_array_append_new(out,
                              json_pack("{s:I,s:s,s:s,s:O?,s:o?,s:o?,s:i,s:s?}", "Id",
                                        (json_int_t)sqlite3_column_int64(st, 0), "EventBusName",
                                        (const char *)sqlite3_column_text(st, 1), "Rule",
                                        (const char *)sqlite3_column_text(st, 2), "TargetArn",
                                        json_object_get(target, "Arn"), "Target", target, "Event",
                                        event, "Attempts", sqlite3_column_int(st, 5), "LastError",
                                        (const char *)sqlite3_column_text(st, 6)));
    }
    sqlite3_finalize(st);
    json_t *doc = json_pack("{s:o}", "DeadLetters", out);
    char *text = json_dumps(doc, JSON_INDENT(2));
    printf("%s\n", text);
    free(text);
    json_decref(doc);
    return 0;
}

static int apply(sqlite3 *db, const char *sql_all, const char *sql_one, int argc, char **argv,
                 bool all) {
    sqlite3_busy_timeout(db, 10000);
    int changed = 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    sqlite3_stmt *st = NULL;
    if (all) {
        if (sqlite3_prepare_v2(db, sql_all, -1, &st, NULL) != SQLITE_OK) goto fail;
        sqlite3_bind_int64(st, 1, sl_now_ms());
        if (sqlite3_step(st) != SQLITE_DONE) goto fail;
        changed = sqlite3_changes(db);
        sqlite3_finalize(st);
    } else {
        for (int i = 0; i < argc; i++) {
            char *end;
            long long id = strtoll(argv[i], &end, 10);
            if (*end || end == argv[i]) {
                fprintf(stderr, "sluice: '%s' is not a dead letter id\n", argv[i]);
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                return 2;
            }
            if (sqlite3_prepare_v2(db, sql_one, -1, &st, NULL) != SQLITE_OK) goto fail;
            sqlite3_bind_int64(st, 1, sl_now_ms());
            sqlite3_bind_int64(st, 2, id);
            if (sqlite3_step(st) != SQLITE_DONE) goto fail;
            if (!sqlite3_changes(db)) fprintf(stderr, "sluice: no dead letter %lld\n", id);
            changed += sqlite3_changes(db);
            sqlite3_finalize(st);
            st = NULL;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    printf("%d\n", changed);
    return 0;
fail:
    fprintf(stderr, "sluice: %s\n", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return 1;
}

int sl_dead_letters_main(int argc, char **argv) {
    if (argc < 1) return usage();
    const char *cmd = argv[0];
    const char *data = "./sluice-data";
    bool all = false;
    char **ids = sl_xcalloc((size_t)argc, sizeof *ids);
    int nids = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--all")) all = true;
        else ids[nids++] = argv[i];
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/sluice.db", data);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "sluice: cannot open %s: %s\n", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        free(ids);
        return 1;
    }
    int rc;
    if (!strcmp(cmd, "list")) {
        rc = list(db);
    } else if (!strcmp(cmd, "redrive") && (all || nids)) {
        rc = apply(db,
                   "UPDATE event_deliveries SET state='pending', attempts=0, next_ms=?1 WHERE "
                   "state='dead'",
                   "UPDATE event_deliveries SET state='pending', attempts=0, next_ms=?1 WHERE "
                   "state='dead' AND id=?2",
                   nids, ids, all);
    } else if (!strcmp(cmd, "purge") && (all || nids)) {
        rc = apply(db, "DELETE FROM event_deliveries WHERE state='dead' AND ?1 > 0",
                   "DELETE FROM event_deliveries WHERE state='dead' AND ?1 > 0 AND id=?2", nids,
                   ids, all);
    } else {
        rc = usage();
    }
    sqlite3_close(db);
    free(ids);
    return rc;
}
