/* objects: service lifetime. Prepares the blob directories and, at start, removes what an
 * interrupted run left behind: temp files of unfinished uploads and blobs no row refers to
 * (a crash between publishing a blob and committing its row). */
#include "objects/objects.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "objects/s3.h"

static bool blob_referenced(void *ctx, const char *id) {
    sqlite3_stmt **st = ctx;
    for (int i = 0; i < 2; i++) {
        sqlite3_reset(st[i]);
        sqlite3_bind_text(st[i], 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st[i]) == SQLITE_ROW) return true;
    }
    return false;
}

/* Temp files are cleared before serving. The blob sweep then runs beside the serving daemon:
 * it only looks at blobs older than the start, which no request of this run can be writing. */
static void *sweeper_main(void *arg) {
    sl_objects *o = arg;
    sqlite3 *db = sl_store_reader(o->store);
    sqlite3_stmt *st[2] = {NULL, NULL};
    sqlite3_prepare_v2(db, "SELECT 1 FROM objects WHERE blob=?1", -1, &st[0], NULL);
    sqlite3_prepare_v2(db, "SELECT 1 FROM parts WHERE blob=?1", -1, &st[1], NULL);
    if (st[0] && st[1]) {
        size_t removed = sl_blobs_sweep(&o->blobs, blob_referenced, st, o->started_ns);
        if (removed) sl_info("\"removed leftovers of interrupted writes\" files=%zu", removed);
    } else {
        sl_error("\"cannot prepare blob sweep\" detail=\"%s\"", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st[0]);
    sqlite3_finalize(st[1]);
    return NULL;
}

sl_objects *sl_objects_new(const sl_context *ctx, char *err, size_t errlen) {
    sl_objects *o = sl_xcalloc(1, sizeof *o);
    sl_store *store = ctx->store;
    o->cfg = ctx->cfg;
    o->store = store;
    o->credentials = ctx->credentials;
    if (sl_blobs_init(&o->blobs, sl_store_dir(store), err, errlen) != 0) {
        free(o);
        return NULL;
    }
    o->buckets = sl_name_cache_new(4096);
    size_t stale = sl_blobs_clear_tmp(&o->blobs);
    if (stale) sl_info("\"removed temp files of interrupted uploads\" files=%zu", stale);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    o->started_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    if (pthread_create(&o->sweeper, NULL, sweeper_main, o) != 0) {
        snprintf(err, errlen, "cannot start the blob sweeper");
        sl_blobs_free(&o->blobs);
        sl_name_cache_free(o->buckets);
        free(o);
        return NULL;
    }
    return o;
}

void sl_objects_set_sns(sl_objects *o, struct sl_sns *sns) { o->sns = sns; }

void sl_objects_free(sl_objects *o) {
    if (!o) return;
    pthread_join(o->sweeper, NULL);
    sl_blobs_free(&o->blobs);
    sl_name_cache_free(o->buckets);
    free(o);
}
