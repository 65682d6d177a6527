/* pattern_index: the lookup structures of the multi-rule machine. A byte-keyed hash map, and the
 * value index that answers "which of these operators accept this value" for all the operators
 * leaving one machine state on one field path, without trying them one by one where the operator
 * allows it: exact strings and numbers by hash, equals-ignore-case by hash of the folded value,
 * prefixes and suffixes by hashing the value's heads and tails of each length in use, wildcards by
 * their literal head, tail or (starred at both ends) longest inner piece. The rest (numeric ranges,
 * cidr, anything-but, exists, "*") is a list tried with sl_op_matches, split by the value types
 * each operator can accept.
 * Internal to src/events/pattern*. */
#ifndef SL_PATTERN_INDEX_H
#define SL_PATTERN_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/pattern_internal.h"

typedef struct {
    uint64_t hash;
    char *key; /* NULL: empty; (char *)1: deleted */
    size_t klen;
    void *val;
} pm_slot;

typedef struct {
    pm_slot *slots;
    size_t cap, n, used; /* used counts live and deleted slots */
} pm_map;

uint64_t pm_hash(const void *p, size_t n);
void *pm_map_get(const pm_map *m, const void *key, size_t n);
/* Finds or inserts key; returns the value slot (NULL when just inserted). */
void **pm_map_put(pm_map *m, const void *key, size_t n);
bool pm_map_del(pm_map *m, const void *key, size_t n);
void pm_map_free(pm_map *m);

struct pm_edge;

/* One distinct operator in an index and the machine edges that contain it. */
typedef struct pm_pred {
    sl_op op;
    struct pm_edge **edges;
    size_t nedges, cap;
} pm_pred;

typedef struct {
    uint32_t *len, *count; /* distinct lengths in use, ascending, with how many keys have each */
    size_t n;
} pm_lens;

typedef struct {
    pm_pred **v;
    size_t n, cap;
} pm_predlist;

typedef struct {
    pm_map all; /* op key -> pm_pred */
    pm_map exact, num, eq_ic, prefix, suffix, prefix_ic, suffix_ic;
    pm_lens prefix_lens, suffix_lens, prefix_ic_lens, suffix_ic_lens;
    /* wildcards by their literal head (or, starting with '*', tail): pm_predlist values */
    pm_map wc_head, wc_tail;
    pm_lens wc_head_lens, wc_tail_lens;
    /* wildcards with a star at both ends (such as the "anything under lib" of the user guide), by
     * their longest inner piece, looked up by every substring of the value of each length in use
     * when that is cheaper than trying them all (wc_mid_all) */
    pm_map wc_mid;
    pm_lens wc_mid_lens;
    pm_predlist wc_mid_all;
    pm_pred *lit[3]; /* true, false, null */
    /* tried one by one: operators that accept only strings, only numbers, or anything */
    pm_predlist scan_str, scan_num, scan_any;
    size_t nfolded; /* operators that need the folded value */
} pm_index;

/* Adds edge e under operator op (copied when new). */
void pm_index_add(pm_index *ix, const sl_op *op, struct pm_edge *e);
/* Removes edge e from operator op; drops the operator when no edge is left. */
void pm_index_remove(pm_index *ix, const sl_op *op, struct pm_edge *e);
bool pm_index_empty(const pm_index *ix);
void pm_index_free(pm_index *ix);

/* Calls fn for every operator of the index that accepts v. fold is scratch space of at least
 * v->len bytes, used when the index holds case-insensitive operators. */
typedef void (*pm_emit_fn)(void *ctx, const pm_pred *p);
void pm_index_lookup(const pm_index *ix, const sl_pv *v, char *fold, pm_emit_fn fn, void *ctx);

#endif
