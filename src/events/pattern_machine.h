/* pattern_machine: internals of the multi-rule machine shared by pattern_machine.c (building
 * and searching) and pattern_event.c (reading event text straight into the per-path value lists
 * the search works from). Internal to src/events/pattern*. */
#ifndef SL_PATTERN_MACHINE_H
#define SL_PATTERN_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/pattern_index.h"
#include "events/pattern_internal.h"

/* A node of the trie of field paths the rules use. */
typedef struct pm_pnode {
    uint32_t id;
    uint32_t refs;       /* constraints using this path or one below it */
    uint32_t value_refs; /* constraints on exactly this path */
    struct pm_pnode *parent;
    sl_bytes seg;
    pm_map kids; /* segment -> pm_pnode */
    struct pm_pnode **kidv;
    size_t nkids;
} pm_pnode;

/* The arrays a value sits in: (array, element) pairs, outermost first. Only arrays holding an
 * object somewhere count: only they can put two different paths in one element. */
typedef struct {
    uint32_t arr, idx;
} pm_mem;

typedef struct {
    sl_pv v;
    uint32_t arena; /* decoded string in the scratch arena, or PM_NO_ARENA */
    uint32_t next;  /* index + 1 of the next value at the same path; 0 ends */
    uint32_t moff, mlen;
} pm_val;

/* Working memory of one match; reused through the machine's pool. */
typedef struct pm_scratch {
    uint64_t epoch;
    size_t npath;
    uint64_t *pstamp;
    uint32_t *pfirst, *plast;
    pm_val *vals;
    size_t nvals, capvals;
    pm_mem *mems;
    size_t nmems, capmems;
    pm_mem *stack;
    size_t depth, capstack;
    uint32_t snap_off;
    bool snap_ok;
    uint32_t next_arr;
    size_t nstate;
    uint64_t *sstamp;
    struct pm_vslot *vset;
    size_t vcap, vn;
    struct pm_frame *frames;
    size_t nframes, capframes;
    size_t nrule;
    uint64_t *rstamp;
    char *fold;
    size_t foldcap;
    unsigned char *absent;
    size_t capabsent;
    char *arena; /* strings with escapes, decoded (event text only) */
    size_t narena, caparena;
    const pm_pnode **open; /* relevant keys of the objects being read, to spot duplicates */
    size_t nopen, capopen;
} pm_scratch;

#define PM_NO_ARENA UINT32_MAX

/* Appends a value at path p with the current array membership; returns it. */
pm_val *pm_record(pm_scratch *x, const pm_pnode *p, const sl_pv *pv);
uint32_t pm_mems_reserve(pm_scratch *x, size_t n);
/* Enters a relevant array: pushes a new (array, 0) pair; returns its depth. */
size_t pm_stack_push(pm_scratch *x);
/* Reads event text into the value lists. Returns 0, -1 when the text is not a JSON object that
 * jansson would accept, or 1 when the text needs jansson's reading after all (a duplicate key on
 * a path in use: jansson keeps only the last one). */
int pm_walk_text(pm_scratch *x, const pm_pnode *root, const char *text, size_t len);

#endif
