/* pattern_machine: many rules compiled into one state machine (sl_matcher), after the idea of
 * AWS's Event Ruler but built and searched its own way.
 *
 * Shape. Each branch of each rule (its "$or" expansion) is a conjunction of constraints. Those
 * that need a value (everything but the ones with {"exists": false}) are put in a canonical order
 * -- most selective operator kind first (exact, ignore-case, prefix/suffix, cidr, numeric,
 * wildcard, anything-but, exists), then by canonical text -- and threaded into a trie of states:
 * the edge out of a state is one whole constraint, so branches that share their first
 * constraints share states, and two rules never meet in a state unless they agree on everything
 * before it. A state groups its out-edges by field path, and each group indexes the operators of
 * all its edges (pattern_index.c), so a value finds its edges by hashing, whatever the fan-out.
 * Where a branch's constraints end, a terminal entry names the rule and carries the branch's
 * {"exists": false} constraints, which are checked last because absence depends on every value
 * taken before it (see pattern_match.c for the meaning this must agree with).
 *
 * Matching an event. (1) Walk the event along the trie of field paths the rules use (other
 * subtrees are never visited; event text is read by pattern_event.c straight into the same lists,
 * without a tree) and list the leaf values at each used path, each with the arrays
 * it sits in ("membership"; only arrays that hold objects count, since only they can hold two
 * different paths). (2) Search from the root state: for each group, look up each value at its
 * path, follow the edges it satisfies, carrying the union of the memberships taken so far and
 * refusing a value from another element of an array already chosen. (state, membership) pairs
 * are visited once, so the search is bounded by states x distinct memberships; for events
 * without arrays of objects every membership is empty and each state is visited at most once.
 * (3) At each state reached, terminal entries whose absence checks pass report their rule, once.
 *
 * Matching only reads the machine; its working memory comes from a small pool of scratch areas
 * taken and returned under a mutex, so threads can match concurrently. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "events/pattern_index.h"
#include "events/pattern_internal.h"
#include "events/pattern_machine.h"

/* ---- dense ids (states, paths, rules) index the scratch arrays ---- */

typedef struct {
    uint32_t next;
    uint32_t *free;
    size_t nfree, cap;
} idpool;

static uint32_t id_take(idpool *p) {
    if (p->nfree) return p->free[--p->nfree];
    return p->next++;
}
static void id_give(idpool *p, uint32_t id) {
    if (p->nfree == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->free = sl_xrealloc(p->free, p->cap * sizeof *p->free);
    }
    p->free[p->nfree++] = id;
}

/* ---- structures ---- */

typedef struct pm_state pm_state;

typedef struct pm_edge {
    sl_constraint con;
    pm_state *to;
} pm_edge;

typedef struct {
    pm_pnode *path;
    sl_bytes path_key;
    pm_index ix;
    pm_map edges; /* constraint key -> pm_edge */
} pm_group;

typedef struct pm_rule {
    char *id;
    uint32_t slot;
    sl_pattern *pat;
} pm_rule;

typedef struct {
    pm_rule *rule;
    size_t branch;
    const sl_constraint **deferred; /* the branch's constraints with {"exists": false} */
    pm_pnode **dpath;
    size_t ndeferred;
} pm_term;

struct pm_state {
    uint32_t id;
    uint32_t refs; /* branches passing through or ending here */
    pm_group **groups;
    size_t ngroups;
    pm_term *terms;
    size_t nterms, capterms;
};

struct sl_matcher {
    pm_state *root;
    pm_pnode *proot;
    pm_map rules; /* id -> pm_rule */
    idpool state_ids, path_ids, rule_slots;
    pthread_mutex_t lock;
    pm_scratch **pool;
    size_t npool, cappool;
};

/* ---- paths ---- */

static pm_pnode *pnode_new(sl_matcher *m, pm_pnode *parent, const sl_bytes *seg) {
    pm_pnode *n = sl_xcalloc(1, sizeof *n);
    n->id = id_take(&m->path_ids);
    n->parent = parent;
    if (seg) {
        n->seg.s = sl_xstrndup(seg->s, seg->len);
        n->seg.len = seg->len;
    }
    return n;
}

static pm_pnode *path_take(sl_matcher *m, const sl_constraint *c) {
    pm_pnode *n = m->proot;
    n->refs++;
    for (size_t i = 0; i < c->nsegs; i++) {
        void **slot = pm_map_put(&n->kids, c->segs[i].s, c->segs[i].len);
        if (!*slot) {
            pm_pnode *k = pnode_new(m, n, &c->segs[i]);
            *slot = k;
            n->kidv = sl_xrealloc(n->kidv, (n->nkids + 1) * sizeof *n->kidv);
            n->kidv[n->nkids++] = k;
        }
        n = *slot;
        n->refs++;
    }
    n->value_refs++;
    return n;
}

static void path_give(sl_matcher *m, pm_pnode *n) {
    n->value_refs--;
    while (n) {
        pm_pnode *parent = n->parent;
        if (--n->refs == 0 && parent) {
            pm_map_del(&parent->kids, n->seg.s, n->seg.len);
            for (size_t i = 0; i < parent->nkids; i++) {
                if (parent->kidv[i] == n) {
                    parent->kidv[i] = parent->kidv[--parent->nkids];
                    break;
                }
            }
            id_give(&m->path_ids, n->id);
            pm_map_free(&n->kids);
            free(n->kidv);
            free(n->seg.s);
            free(n);
        }
        n = parent;
    }
}

/* ---- states ---- */

static pm_state *state_new(sl_matcher *m) {
    pm_state *s = sl_xcalloc(1, sizeof *s);
    s->id = id_take(&m->state_ids);
    return s;
}

static pm_group *group_find(const pm_state *s, const sl_bytes *path_key) {
    for (size_t i = 0; i < s->ngroups; i++) {
        pm_group *g = s->groups[i];
        if (g->path_key.len == path_key->len && !memcmp(g->path_key.s, path_key->s, path_key->len))
            return g;
    }
    return NULL;
}

static int cmp_positive(const void *a, const void *b) {
    const sl_constraint *x = *(const sl_constraint *const *)a,
                        *y = *(const sl_constraint *const *)b;
    if (x->rank != y->rank) return x->rank - y->rank;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = memcmp(x->key.s, y->key.s, n);
    return c ? c : (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

/* The branch's value-taking constraints in machine order. */
static size_t positives(const sl_branch *b, const sl_constraint **out) {
    size_t n = 0;
    for (size_t i = 0; i < b->ncons; i++)
        if (!b->cons[i].absent_ok) out[n++] = &b->cons[i];
    qsort(out, n, sizeof *out, cmp_positive);
    return n;
}

static void add_branch(sl_matcher *m, pm_rule *r, size_t bi) {
    const sl_branch *b = &r->pat->branches[bi];
    const sl_constraint **pos = sl_xmalloc((b->ncons ? b->ncons : 1) * sizeof *pos);
    size_t npos = positives(b, pos);
    pm_state *s = m->root;
    s->refs++;
    for (size_t i = 0; i < npos; i++) {
        const sl_constraint *c = pos[i];
        pm_group *g = group_find(s, &c->path_key);
        if (!g) {
            g = sl_xcalloc(1, sizeof *g);
            g->path = path_take(m, c);
            g->path_key.s = sl_xstrndup(c->path_key.s, c->path_key.len);
            g->path_key.len = c->path_key.len;
            s->groups = sl_xrealloc(s->groups, (s->ngroups + 1) * sizeof *s->groups);
            s->groups[s->ngroups++] = g;
        }
        void **slot = pm_map_put(&g->edges, c->key.s, c->key.len);
        pm_edge *e = *slot;
        if (!e) {
            e = sl_xcalloc(1, sizeof *e);
            sl_constraint_copy(&e->con, c);
            e->to = state_new(m);
            for (size_t k = 0; k < e->con.nops; k++) pm_index_add(&g->ix, &e->con.ops[k], e);
            *slot = e;
        }
        s = e->to;
        s->refs++;
    }
    free(pos);
    if (s->nterms == s->capterms) {
        s->capterms = s->capterms ? s->capterms * 2 : 2;
        s->terms = sl_xrealloc(s->terms, s->capterms * sizeof *s->terms);
    }
    pm_term *t = &s->terms[s->nterms++];
    memset(t, 0, sizeof *t);
    t->rule = r;
    t->branch = bi;
    for (size_t i = 0; i < b->ncons; i++) {
        if (!b->cons[i].absent_ok) continue;
        t->deferred = sl_xrealloc(t->deferred, (t->ndeferred + 1) * sizeof *t->deferred);
        t->dpath = sl_xrealloc(t->dpath, (t->ndeferred + 1) * sizeof *t->dpath);
        t->deferred[t->ndeferred] = &b->cons[i];
        t->dpath[t->ndeferred] = path_take(m, &b->cons[i]);
        t->ndeferred++;
    }
}

static void remove_branch(sl_matcher *m, pm_rule *r, size_t bi) {
    const sl_branch *b = &r->pat->branches[bi];
    const sl_constraint **pos = sl_xmalloc((b->ncons ? b->ncons : 1) * sizeof *pos);
    size_t npos = positives(b, pos);
    pm_state **states = sl_xmalloc((npos + 1) * sizeof *states);
    pm_group **groups = sl_xmalloc((npos + 1) * sizeof *groups);
    pm_edge **edges = sl_xmalloc((npos + 1) * sizeof *edges);
    states[0] = m->root;
    for (size_t i = 0; i < npos; i++) {
        groups[i] = group_find(states[i], &pos[i]->path_key);
        edges[i] = pm_map_get(&groups[i]->edges, pos[i]->key.s, pos[i]->key.len);
        states[i + 1] = edges[i]->to;
    }
    pm_state *end = states[npos];
    for (size_t i = 0; i < end->nterms; i++) {
        pm_term *t = &end->terms[i];
        if (t->rule != r || t->branch != bi) continue;
        for (size_t k = 0; k < t->ndeferred; k++) path_give(m, t->dpath[k]);
        free(t->deferred);
        free(t->dpath);
        end->terms[i] = end->terms[--end->nterms];
        break;
    }
    for (size_t i = npos + 1; i-- > 0;) {
        pm_state *s = states[i];
        s->refs--;
        if (i == 0 || s->refs) continue;
        /* nothing passes through s any more: drop it and the edge into it */
        pm_group *g = groups[i - 1];
        pm_edge *e = edges[i - 1];
        for (size_t k = 0; k < e->con.nops; k++) pm_index_remove(&g->ix, &e->con.ops[k], e);
        pm_map_del(&g->edges, e->con.key.s, e->con.key.len);
        sl_constraint_free(&e->con);
        free(e);
        id_give(&m->state_ids, s->id);
        free(s->groups);
        free(s->terms);
        free(s);
        if (g->edges.n == 0) {
            pm_state *from = states[i - 1];
            for (size_t k = 0; k < from->ngroups; k++) {
                if (from->groups[k] == g) {
                    from->groups[k] = from->groups[--from->ngroups];
                    break;
                }
            }
            path_give(m, g->path);
            pm_index_free(&g->ix);
            pm_map_free(&g->edges);
            free(g->path_key.s);
            free(g);
        }
    }
    free(pos);
    free(states);
    free(groups);
    free(edges);
}

/* ---- rules ---- */

sl_matcher *sl_matcher_new(void) {
    sl_matcher *m = sl_xcalloc(1, sizeof *m);
    m->root = state_new(m);
    m->proot = pnode_new(m, NULL, NULL);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void rule_drop(sl_matcher *m, pm_rule *r) {
    for (size_t b = 0; b < r->pat->nbranches; b++) remove_branch(m, r, b);
    pm_map_del(&m->rules, r->id, strlen(r->id));
    id_give(&m->rule_slots, r->slot);
    sl_pattern_free(r->pat);
    free(r->id);
    free(r);
}

static void rule_insert(sl_matcher *m, const char *rule_id, sl_pattern *p) {
    pm_rule *old = pm_map_get(&m->rules, rule_id, strlen(rule_id));
    if (old) rule_drop(m, old);
    pm_rule *r = sl_xcalloc(1, sizeof *r);
    r->id = sl_xstrdup(rule_id);
    r->slot = id_take(&m->rule_slots);
    r->pat = p;
    *pm_map_put(&m->rules, rule_id, strlen(rule_id)) = r;
    for (size_t b = 0; b < p->nbranches; b++) add_branch(m, r, b);
}

int sl_matcher_add(sl_matcher *m, const char *rule_id, const char *pattern_json, size_t len,
                   char *err, size_t errlen) {
    sl_pattern *p = sl_pattern_compile(pattern_json, len, err, errlen);
    if (!p) return -1;
    rule_insert(m, rule_id, p);
    return 0;
}

void sl_matcher_add_compiled(sl_matcher *m, const char *rule_id, const sl_pattern *p) {
    rule_insert(m, rule_id, sl_pattern_clone(p));
}

int sl_matcher_remove(sl_matcher *m, const char *rule_id) {
    pm_rule *r = pm_map_get(&m->rules, rule_id, strlen(rule_id));
    if (!r) return -1;
    rule_drop(m, r);
    return 0;
}

size_t sl_matcher_rule_count(const sl_matcher *m) { return m->rules.n; }

static void scratch_free(pm_scratch *x);

void sl_matcher_free(sl_matcher *m) {
    if (!m) return;
    size_t n = 0;
    pm_rule **all = sl_xmalloc((m->rules.n ? m->rules.n : 1) * sizeof *all);
    for (size_t i = 0; i < m->rules.cap; i++) {
        pm_slot *s = &m->rules.slots[i];
        if (s->key && s->key != (char *)1) all[n++] = s->val;
    }
    for (size_t i = 0; i < n; i++) rule_drop(m, all[i]);
    free(all);
    pm_map_free(&m->rules);
    free(m->root->groups);
    free(m->root->terms);
    free(m->root);
    pm_map_free(&m->proot->kids);
    free(m->proot->kidv);
    free(m->proot);
    free(m->state_ids.free);
    free(m->path_ids.free);
    free(m->rule_slots.free);
    for (size_t i = 0; i < m->npool; i++) scratch_free(m->pool[i]);
    free(m->pool);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- scratch ---- */

typedef struct pm_frame {
    pm_state *s;
    uint32_t moff, mlen;
} pm_frame;

typedef struct pm_vslot {
    uint64_t gen, hash;
    uint32_t state, moff, mlen;
} pm_vslot;

static void scratch_free(pm_scratch *x) {
    if (!x) return;
    free(x->pstamp), free(x->pfirst), free(x->plast), free(x->vals), free(x->mems);
    free(x->stack), free(x->sstamp), free(x->vset), free(x->frames), free(x->rstamp);
    free(x->fold), free(x->absent), free(x->arena), free(x->open);
    free(x);
}

static void grow_u64(uint64_t **p, size_t old, size_t n) {
    *p = sl_xrealloc(*p, n * sizeof **p);
    memset(*p + old, 0, (n - old) * sizeof **p);
}

static pm_scratch *scratch_take(const sl_matcher *cm) {
    sl_matcher *m = (sl_matcher *)cm; /* the pool is the one mutable part, under its lock */
    pm_scratch *x = NULL;
    pthread_mutex_lock(&m->lock);
    if (m->npool) x = m->pool[--m->npool];
    pthread_mutex_unlock(&m->lock);
    if (!x) {
        x = sl_xcalloc(1, sizeof *x);
        x->foldcap = 64;
        x->fold = sl_xmalloc(x->foldcap);
    }
    size_t np = m->path_ids.next, ns = m->state_ids.next, nr = m->rule_slots.next;
    if (x->npath < np) {
        grow_u64(&x->pstamp, x->npath, np);
        x->pfirst = sl_xrealloc(x->pfirst, np * sizeof *x->pfirst);
        x->plast = sl_xrealloc(x->plast, np * sizeof *x->plast);
        x->npath = np;
    }
    if (x->nstate < ns) {
        grow_u64(&x->sstamp, x->nstate, ns);
        x->nstate = ns;
    }
    if (x->nrule < nr) {
        grow_u64(&x->rstamp, x->nrule, nr);
        x->nrule = nr;
    }
    x->epoch++;
    x->nvals = x->nmems = x->depth = x->nframes = 0;
    x->vn = 0;
    x->snap_ok = false;
    x->next_arr = 0;
    x->narena = 0;
    return x;
}

static void scratch_give(const sl_matcher *cm, pm_scratch *x) {
    sl_matcher *m = (sl_matcher *)cm;
    pthread_mutex_lock(&m->lock);
    if (m->npool == m->cappool) {
        m->cappool = m->cappool ? m->cappool * 2 : 4;
        m->pool = sl_xrealloc(m->pool, m->cappool * sizeof *m->pool);
    }
    m->pool[m->npool++] = x;
    pthread_mutex_unlock(&m->lock);
}

size_t pm_stack_push(pm_scratch *x) {
    if (x->depth == x->capstack) {
        x->capstack = x->capstack ? x->capstack * 2 : 8;
        x->stack = sl_xrealloc(x->stack, x->capstack * sizeof *x->stack);
    }
    x->stack[x->depth].arr = x->next_arr++;
    x->stack[x->depth].idx = 0;
    x->snap_ok = false;
    return x->depth++;
}

uint32_t pm_mems_reserve(pm_scratch *x, size_t n) {
    if (x->nmems + n > x->capmems) {
        size_t cap = x->capmems ? x->capmems * 2 : 64;
        while (cap < x->nmems + n) cap *= 2;
        x->mems = sl_xrealloc(x->mems, cap * sizeof *x->mems);
        x->capmems = cap;
    }
    uint32_t off = (uint32_t)x->nmems;
    x->nmems += n;
    return off;
}

/* ---- (1) the event walk ---- */

/* Only an array with an object somewhere inside (through nested arrays) can hold values of two
 * different paths, so only such arrays take part in membership. */
static bool array_holds_object(const json_t *a) {
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        if (json_is_object(e) || (json_is_array(e) && array_holds_object(e))) return true;
    }
    return false;
}

pm_val *pm_record(pm_scratch *x, const pm_pnode *p, const sl_pv *pv) {
    if (x->nvals == x->capvals) {
        x->capvals = x->capvals ? x->capvals * 2 : 64;
        x->vals = sl_xrealloc(x->vals, x->capvals * sizeof *x->vals);
    }
    uint32_t i = (uint32_t)x->nvals++;
    pm_val *v = &x->vals[i];
    v->v = *pv;
    v->arena = PM_NO_ARENA;
    if (pv->type == SL_PV_STRING && pv->len > x->foldcap) {
        x->foldcap = pv->len * 2;
        x->fold = sl_xrealloc(x->fold, x->foldcap);
    }
    v->next = 0;
    v->mlen = (uint32_t)x->depth;
    v->moff = 0;
    if (x->depth) {
        if (!x->snap_ok) {
            x->snap_off = pm_mems_reserve(x, x->depth);
            memcpy(x->mems + x->snap_off, x->stack, x->depth * sizeof *x->stack);
            x->snap_ok = true;
        }
        v->moff = x->snap_off;
    }
    if (x->pstamp[p->id] != x->epoch) {
        x->pstamp[p->id] = x->epoch;
        x->pfirst[p->id] = i;
    } else {
        x->vals[x->plast[p->id]].next = i + 1;
    }
    x->plast[p->id] = i;
    return v;
}

static void walk(pm_scratch *x, const pm_pnode *p, const json_t *e) {
    switch (json_typeof(e)) {
    case JSON_OBJECT: {
        if (!p->nkids) return;
        if (p->nkids <= json_object_size(e)) {
            for (size_t i = 0; i < p->nkids; i++) {
                const pm_pnode *k = p->kidv[i];
                const json_t *c = json_object_getn(e, k->seg.s, k->seg.len);
                if (c) walk(x, k, c);
            }
        } else {
            const char *key;
            size_t klen;
            json_t *val;
            json_t *obj = (json_t *)e;
            json_object_keylen_foreach(obj, key, klen, val) {
                const pm_pnode *k = pm_map_get(&p->kids, key, klen);
                if (k) walk(x, k, val);
            }
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(e);
        if (!array_holds_object(e)) {
            if (!p->value_refs) return;
            for (size_t i = 0; i < n; i++) walk(x, p, json_array_get(e, i));
            break;
        }
        size_t d = pm_stack_push(x);
        for (size_t i = 0; i < n; i++) {
            x->stack[d].idx = (uint32_t)i;
            x->snap_ok = false;
            walk(x, p, json_array_get(e, i));
        }
        x->depth--;
        x->snap_ok = false;
        break;
    }
    default:
        if (p->value_refs) {
            sl_pv pv;
            sl_pv_from_json(&pv, e);
            pm_record(x, p, &pv);
        }
        break;
    }
}

/* ---- (2) the search ---- */

/* Memberships are sorted by array id (outer arrays are numbered first). */
static bool consistent(const pm_scratch *x, uint32_t ao, uint32_t al, uint32_t bo, uint32_t bl) {
    if (!al || !bl) return true;
    const pm_mem *a = x->mems + ao, *b = x->mems + bo;
    uint32_t i = 0, j = 0;
    while (i < al && j < bl) {
        if (a[i].arr == b[j].arr) {
            if (a[i].idx != b[j].idx) return false;
            i++, j++;
        } else if (a[i].arr < b[j].arr) {
            i++;
        } else {
            j++;
        }
    }
    return true;
}

/* Union of two consistent memberships, as (offset, length) in the pool. */
static void merge(pm_scratch *x, uint32_t ao, uint32_t al, uint32_t bo, uint32_t bl, uint32_t *oo,
                  uint32_t *ol) {
    if (!bl) {
        *oo = ao, *ol = al;
        return;
    }
    if (!al) {
        *oo = bo, *ol = bl;
        return;
    }
    uint32_t off = pm_mems_reserve(x, al + bl);
    const pm_mem *a = x->mems + ao, *b = x->mems + bo;
    pm_mem *o = x->mems + off;
    uint32_t i = 0, j = 0, n = 0;
    while (i < al || j < bl) {
        if (j == bl || (i < al && a[i].arr < b[j].arr)) o[n++] = a[i++];
        else if (i == al || b[j].arr < a[i].arr) o[n++] = b[j++];
        else o[n++] = a[i++], j++;
    }
    x->nmems = off + n;
    if (n == al) { /* nothing new: keep the old one */
        x->nmems = off;
        *oo = ao, *ol = al;
        return;
    }
    *oo = off, *ol = n;
}

static uint64_t mem_hash(const pm_scratch *x, uint32_t state, uint32_t off, uint32_t len) {
    /* only called with len > 0, so mems is allocated */
    uint64_t h = pm_hash(x->mems + off, len * sizeof *x->mems);
    return h ^ ((uint64_t)state * 0x9E3779B97F4A7C15ULL);
}

/* Marks (state, membership) visited; false when it already was. */
static bool visit(pm_scratch *x, const pm_state *s, uint32_t off, uint32_t len) {
    if (!len) {
        if (x->sstamp[s->id] == x->epoch) return false;
        x->sstamp[s->id] = x->epoch;
        return true;
    }
    if ((x->vn + 1) * 2 > x->vcap) {
        size_t cap = x->vcap ? x->vcap * 2 : 64;
        pm_vslot *old = x->vset;
        size_t oldcap = x->vcap;
        x->vset = sl_xcalloc(cap, sizeof *x->vset);
        x->vcap = cap;
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i].gen != x->epoch) continue;
            size_t j = (size_t)old[i].hash & (cap - 1);
            while (x->vset[j].gen == x->epoch) j = (j + 1) & (cap - 1);
            x->vset[j] = old[i];
        }
        free(old);
    }
    uint64_t h = mem_hash(x, s->id, off, len);
    size_t mask = x->vcap - 1;
    for (size_t j = (size_t)h & mask;; j = (j + 1) & mask) {
        pm_vslot *v = &x->vset[j];
        if (v->gen != x->epoch) {
            *v = (pm_vslot){x->epoch, h, s->id, off, len};
            x->vn++;
            return true;
        }
        if (v->hash == h && v->state == s->id && v->mlen == len &&
            !memcmp(x->mems + v->moff, x->mems + off, len * sizeof *x->mems))
            return false;
    }
}

static void push(pm_scratch *x, pm_state *s, uint32_t off, uint32_t len) {
    if (!visit(x, s, off, len)) return;
    if (x->nframes == x->capframes) {
        x->capframes = x->capframes ? x->capframes * 2 : 32;
        x->frames = sl_xrealloc(x->frames, x->capframes * sizeof *x->frames);
    }
    x->frames[x->nframes++] = (pm_frame){s, off, len};
}

typedef struct {
    pm_scratch *x;
    pm_frame f;
    const pm_val *val;
    bool merged;
    uint32_t moff, mlen;
} emit_ctx;

static void on_pred(void *vctx, const pm_pred *p) {
    emit_ctx *c = vctx;
    if (!c->merged) {
        merge(c->x, c->f.moff, c->f.mlen, c->val->moff, c->val->mlen, &c->moff, &c->mlen);
        c->merged = true;
    }
    for (size_t i = 0; i < p->nedges; i++) push(c->x, p->edges[i]->to, c->moff, c->mlen);
}

static bool constraint_takes(const sl_constraint *c, const sl_pv *v) {
    for (size_t i = 0; i < c->nops; i++)
        if (sl_op_matches(&c->ops[i], v)) return true;
    return false;
}

/* The {"exists": false} constraints of a terminal entry, given the membership taken so far:
 * each takes a matching value (when it has other alternatives) or "absent"; absences are judged
 * against the final membership. */
static bool deferred_ok(pm_scratch *x, const pm_term *t, size_t k, uint32_t off, uint32_t len) {
    if (k == t->ndeferred) {
        for (size_t j = 0; j < t->ndeferred; j++) {
            if (!x->absent[j]) continue;
            uint32_t pid = t->dpath[j]->id;
            if (x->pstamp[pid] != x->epoch) continue;
            for (uint32_t vi = x->pfirst[pid] + 1; vi; vi = x->vals[vi - 1].next) {
                const pm_val *v = &x->vals[vi - 1];
                if (consistent(x, off, len, v->moff, v->mlen)) return false;
            }
        }
        return true;
    }
    const sl_constraint *c = t->deferred[k];
    uint32_t pid = t->dpath[k]->id;
    if (c->nops && x->pstamp[pid] == x->epoch) {
        for (uint32_t vi = x->pfirst[pid] + 1; vi; vi = x->vals[vi - 1].next) {
            const pm_val *v = &x->vals[vi - 1];
            if (!consistent(x, off, len, v->moff, v->mlen) || !constraint_takes(c, &v->v)) continue;
            uint32_t mo, ml;
            merge(x, off, len, v->moff, v->mlen, &mo, &ml);
            x->absent[k] = 0;
            if (deferred_ok(x, t, k + 1, mo, ml)) return true;
        }
    }
    x->absent[k] = 1;
    bool r = deferred_ok(x, t, k + 1, off, len);
    x->absent[k] = 0;
    return r;
}

static size_t search(pm_scratch *x, const sl_matcher *m, sl_matcher_fn fn, void *ctx) {
    size_t found = 0;
    push(x, m->root, 0, 0);
    while (x->nframes) {
        pm_frame f = x->frames[--x->nframes];
        for (size_t i = 0; i < f.s->nterms; i++) {
            const pm_term *t = &f.s->terms[i];
            if (x->rstamp[t->rule->slot] == x->epoch) continue;
            if (t->ndeferred) {
                if (x->capabsent < t->ndeferred) {
                    x->capabsent = t->ndeferred * 2;
                    x->absent = sl_xrealloc(x->absent, x->capabsent);
                }
                memset(x->absent, 0, t->ndeferred);
                if (!deferred_ok(x, t, 0, f.moff, f.mlen)) continue;
            }
            x->rstamp[t->rule->slot] = x->epoch;
            found++;
            if (fn) fn(ctx, t->rule->id);
        }
        for (size_t g = 0; g < f.s->ngroups; g++) {
            const pm_group *grp = f.s->groups[g];
            uint32_t pid = grp->path->id;
            if (x->pstamp[pid] != x->epoch) continue;
            for (uint32_t vi = x->pfirst[pid] + 1; vi; vi = x->vals[vi - 1].next) {
                const pm_val *v = &x->vals[vi - 1];
                if (f.mlen && v->mlen && !consistent(x, f.moff, f.mlen, v->moff, v->mlen)) continue;
                emit_ctx c = {x, f, v, false, 0, 0};
                pm_index_lookup(&grp->ix, &v->v, x->fold, on_pred, &c);
            }
        }
    }
    return found;
}

size_t sl_matcher_match(const sl_matcher *m, const json_t *event, sl_matcher_fn fn, void *ctx) {
    pm_scratch *x = scratch_take(m);
    if (event && json_is_object(event)) walk(x, m->proot, event);
    size_t n = search(x, m, fn, ctx);
    scratch_give(m, x);
    return n;
}

long sl_matcher_match_text(const sl_matcher *m, const char *json, size_t len, sl_matcher_fn fn,
                           void *ctx) {
    pm_scratch *x = scratch_take(m);
    int rc = pm_walk_text(x, m->proot, json, len);
    if (rc == 0) {
        size_t n = search(x, m, fn, ctx);
        scratch_give(m, x);
        return (long)n;
    }
    scratch_give(m, x);
    if (rc < 0) return -1;
    /* a repeated key on a path in use: let jansson decide which one counts */
    json_error_t e;
    json_t *j = json_loadb(json, len, 0, &e);
    /* jansson refuses integers beyond 64 bits unless every integer is read as a real */
    if (!j && json_error_code(&e) == json_error_numeric_overflow)
        j = json_loadb(json, len, JSON_DECODE_INT_AS_REAL, &e);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    size_t n = sl_matcher_match(m, j, fn, ctx);
    json_decref(j);
    return (long)n;
}
