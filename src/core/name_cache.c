/* name_cache: see name_cache.h. A jansson object is the hash table; a read-write lock lets the
 * HTTP threads look up side by side. */
#include "core/name_cache.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/buf.h"

struct sl_name_cache {
    pthread_rwlock_t lock;
    json_t *map;
    uint64_t generation;
    size_t max_entries;
};

sl_name_cache *sl_name_cache_new(size_t max_entries) {
    sl_name_cache *c = sl_xcalloc(1, sizeof *c);
    pthread_rwlock_init(&c->lock, NULL);
    c->map = json_object();
    c->generation = 1;
    c->max_entries = max_entries ? max_entries : 1;
    return c;
}

void sl_name_cache_free(sl_name_cache *c) {
    if (!c) return;
    json_decref(c->map);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

uint64_t sl_name_cache_generation(sl_name_cache *c) {
    pthread_rwlock_rdlock(&c->lock);
    uint64_t g = c->generation;
    pthread_rwlock_unlock(&c->lock);
    return g;
}

json_t *sl_name_cache_get(sl_name_cache *c, const char *name) {
    pthread_rwlock_rdlock(&c->lock);
    json_t *v = json_incref(json_object_get(c->map, name));
    pthread_rwlock_unlock(&c->lock);
    return v;
}

void sl_name_cache_put(sl_name_cache *c, const char *name, json_t *value, uint64_t generation) {
    if (!value) return;
    pthread_rwlock_wrlock(&c->lock);
    if (generation == c->generation) {
        if (json_object_size(c->map) >= c->max_entries) json_object_clear(c->map);
        json_object_set(c->map, name, value);
    }
    pthread_rwlock_unlock(&c->lock);
}

void sl_name_cache_forget(sl_name_cache *c) {
    pthread_rwlock_wrlock(&c->lock);
    json_object_clear(c->map);
    c->generation++;
    pthread_rwlock_unlock(&c->lock);
}
