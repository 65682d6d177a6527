/* name_cache: a small in-memory map from a name to a JSON value, for lookups every request
 * makes and that change rarely (does this bucket exist, and where; this cluster; this task
 * definition revision). Under a burst of writes each SQLite point query got dearer (every
 * commit empties the other connections' page caches, and the WAL they search grows), so the
 * hottest ones are answered from here.
 *
 * Only positive answers are kept, and a writer that removes or changes a name calls
 * sl_name_cache_forget() after its commit: that empties the cache and bumps a generation, and
 * a value read from the store under an older generation is not put in (so a lookup racing the
 * removal cannot bring the name back). The store stays the truth: this process's own writes are
 * all it sees (several nodes sharing a database would need the invalidation to travel). */
#ifndef SL_NAME_CACHE_H
#define SL_NAME_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sl_name_cache sl_name_cache;

/* max_entries: when full, the cache is emptied and starts over. */
sl_name_cache *sl_name_cache_new(size_t max_entries);
void sl_name_cache_free(sl_name_cache *c);
/* The generation to pass to sl_name_cache_put for a value about to be read from the store. */
uint64_t sl_name_cache_generation(sl_name_cache *c);
/* A new reference to name's value, or NULL when it is not cached. */
json_t *sl_name_cache_get(sl_name_cache *c, const char *name);
/* Keeps value (a new reference is taken) unless the cache was emptied since generation. */
void sl_name_cache_put(sl_name_cache *c, const char *name, json_t *value, uint64_t generation);
/* Empties the cache: call after committing a change that removes or alters a name. */
void sl_name_cache_forget(sl_name_cache *c);

#endif
