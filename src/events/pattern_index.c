/* pattern_index: hash map and per-path value index of the multi-rule machine (see
 * pattern_index.h). Every shortcut here must agree with sl_op_matches; the unit and fuzz tests
 * compare the machine with the direct evaluator to hold it to that. */
#include "events/pattern_index.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define DELETED ((char *)1)

uint64_t pm_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xFF51AFD7ED558CCDULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 29;
        s += 8, n -= 8;
    }
    uint64_t w = 0;
    if (n) memcpy(&w, s, n);
    h = (h ^ w ^ (uint64_t)n << 56) * 0x94D049BB133111EBULL;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return h;
}

static pm_slot *find(const pm_map *m, const void *key, size_t n, uint64_t h) {
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        pm_slot *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->key != DELETED && s->hash == h && s->klen == n && (!n || !memcmp(s->key, key, n)))
            return s;
    }
}

void *pm_map_get(const pm_map *m, const void *key, size_t n) {
    pm_slot *s = find(m, key, n, pm_hash(key, n));
    return s ? s->val : NULL;
}

static void grow(pm_map *m) {
    size_t live = m->n;
    size_t cap = m->cap ? m->cap : 8;
    while (cap * 7 / 10 <= live + 1) cap *= 2;
    pm_slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = sl_xcalloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->used = m->n;
    for (size_t i = 0; i < oldcap; i++) {
        pm_slot *s = &old[i];
        if (!s->key || s->key == DELETED) continue;
        size_t mask = cap - 1, j = (size_t)s->hash & mask;
        while (m->slots[j].key) j = (j + 1) & mask;
        m->slots[j] = *s;
    }
    free(old);
}

void **pm_map_put(pm_map *m, const void *key, size_t n) {
    uint64_t h = pm_hash(key, n);
    pm_slot *s = find(m, key, n, h);
    if (s) return &s->val;
    if ((m->used + 1) * 10 >= m->cap * 7) grow(m);
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->slots[i].key && m->slots[i].key != DELETED) i = (i + 1) & mask;
    s = &m->slots[i];
    if (!s->key) m->used++;
    s->hash = h;
    s->key = sl_xmalloc(n ? n : 1);
    if (n) memcpy(s->key, key, n);
    s->klen = n;
    s->val = NULL;
    m->n++;
    return &s->val;
}

bool pm_map_del(pm_map *m, const void *key, size_t n) {
    pm_slot *s = find(m, key, n, pm_hash(key, n));
    if (!s) return false;
    free(s->key);
    s->key = DELETED;
    s->val = NULL;
    m->n--;
    if (m->n == 0) {
        /* all gone: start afresh rather than carry tombstones */
        for (size_t i = 0; i < m->cap; i++) m->slots[i].key = NULL;
        m->used = 0;
    }
    return true;
}

void pm_map_free(pm_map *m) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != DELETED) free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- lengths in use ---- */

static void lens_add(pm_lens *l, uint32_t len) {
    size_t i = 0;
    while (i < l->n && l->len[i] < len) i++;
    if (i < l->n && l->len[i] == len) {
        l->count[i]++;
        return;
    }
    l->len = sl_xrealloc(l->len, (l->n + 1) * sizeof *l->len);
    l->count = sl_xrealloc(l->count, (l->n + 1) * sizeof *l->count);
    memmove(l->len + i + 1, l->len + i, (l->n - i) * sizeof *l->len);
    memmove(l->count + i + 1, l->count + i, (l->n - i) * sizeof *l->count);
    l->len[i] = len;
    l->count[i] = 1;
    l->n++;
}

static void lens_remove(pm_lens *l, uint32_t len) {
    for (size_t i = 0; i < l->n; i++) {
        if (l->len[i] != len) continue;
        if (--l->count[i] == 0) {
            memmove(l->len + i, l->len + i + 1, (l->n - i - 1) * sizeof *l->len);
            memmove(l->count + i, l->count + i + 1, (l->n - i - 1) * sizeof *l->count);
            l->n--;
        }
        return;
    }
}

static void lens_free(pm_lens *l) {
    free(l->len);
    free(l->count);
    memset(l, 0, sizeof *l);
}

/* ---- the index ---- */

/* Where an operator lives; NULL for the scan list. */
static pm_map *home(pm_index *ix, const sl_op *op, pm_lens **lens) {
    *lens = NULL;
    switch (op->kind) {
    case SL_OP_EXACT_STR: return op->ip_len ? NULL : &ix->exact;
    case SL_OP_EXACT_NUM: return op->comparable ? &ix->num : NULL;
    case SL_OP_EQ_IC: return &ix->eq_ic;
    case SL_OP_PREFIX: *lens = &ix->prefix_lens; return &ix->prefix;
    case SL_OP_SUFFIX: *lens = &ix->suffix_lens; return &ix->suffix;
    case SL_OP_PREFIX_IC: *lens = &ix->prefix_ic_lens; return &ix->prefix_ic;
    case SL_OP_SUFFIX_IC: *lens = &ix->suffix_ic_lens; return &ix->suffix_ic;
    default: return NULL;
    }
}

static bool folded(sl_op_kind k) {
    return k == SL_OP_EQ_IC || k == SL_OP_PREFIX_IC || k == SL_OP_SUFFIX_IC;
}

static const void *home_key(const sl_op *op, size_t *n) {
    if (op->kind == SL_OP_EXACT_NUM) {
        *n = sizeof op->micro;
        return &op->micro;
    }
    *n = op->str.len;
    return op->str.s;
}

void pm_index_add(pm_index *ix, const sl_op *op, struct pm_edge *e) {
    void **slot = pm_map_put(&ix->all, op->key.s, op->key.len);
    pm_pred *p = *slot;
    if (!p) {
        p = sl_xcalloc(1, sizeof *p);
        sl_op_copy(&p->op, op);
        *slot = p;
        pm_lens *lens;
        pm_map *h = home(ix, &p->op, &lens);
        if (h) {
            size_t kn;
            const void *k = home_key(&p->op, &kn);
            *pm_map_put(h, k, kn) = p;
            if (lens) lens_add(lens, (uint32_t)kn);
        } else {
            if (ix->nscan == ix->capscan) {
                ix->capscan = ix->capscan ? ix->capscan * 2 : 4;
                ix->scan = sl_xrealloc(ix->scan, ix->capscan * sizeof *ix->scan);
            }
            ix->scan[ix->nscan++] = p;
        }
        if (folded(p->op.kind)) ix->nfolded++;
    }
    if (p->nedges == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 2;
        p->edges = sl_xrealloc(p->edges, p->cap * sizeof *p->edges);
    }
    p->edges[p->nedges++] = e;
}

void pm_index_remove(pm_index *ix, const sl_op *op, struct pm_edge *e) {
    pm_pred *p = pm_map_get(&ix->all, op->key.s, op->key.len);
    if (!p) return;
    for (size_t i = 0; i < p->nedges; i++) {
        if (p->edges[i] == e) {
            p->edges[i] = p->edges[--p->nedges];
            break;
        }
    }
    if (p->nedges) return;
    pm_lens *lens;
    pm_map *h = home(ix, &p->op, &lens);
    if (h) {
        size_t kn;
        const void *k = home_key(&p->op, &kn);
        pm_map_del(h, k, kn);
        if (lens) lens_remove(lens, (uint32_t)kn);
    } else {
        for (size_t i = 0; i < ix->nscan; i++) {
            if (ix->scan[i] == p) {
                memmove(ix->scan + i, ix->scan + i + 1, (ix->nscan - i - 1) * sizeof *ix->scan);
                ix->nscan--;
                break;
            }
        }
    }
    if (folded(p->op.kind)) ix->nfolded--;
    pm_map_del(&ix->all, op->key.s, op->key.len);
    sl_op_free(&p->op);
    free(p->edges);
    free(p);
}

bool pm_index_empty(const pm_index *ix) { return ix->all.n == 0; }

void pm_index_free(pm_index *ix) {
    for (size_t i = 0; i < ix->all.cap; i++) {
        pm_slot *s = &ix->all.slots[i];
        if (!s->key || s->key == DELETED) continue;
        pm_pred *p = s->val;
        sl_op_free(&p->op);
        free(p->edges);
        free(p);
    }
    pm_map *maps[] = {&ix->all, &ix->exact, &ix->num, &ix->eq_ic, &ix->prefix,
                      &ix->suffix, &ix->prefix_ic, &ix->suffix_ic};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) pm_map_free(maps[i]);
    lens_free(&ix->prefix_lens);
    lens_free(&ix->suffix_lens);
    lens_free(&ix->prefix_ic_lens);
    lens_free(&ix->suffix_ic_lens);
    free(ix->scan);
    memset(ix, 0, sizeof *ix);
}

static void affixes(const pm_map *m, const pm_lens *l, const char *s, size_t n, bool tail,
                    pm_emit_fn fn, void *ctx) {
    for (size_t i = 0; i < l->n && l->len[i] <= n; i++) {
        size_t k = l->len[i];
        pm_pred *p = pm_map_get(m, tail ? s + n - k : s, k);
        if (p) fn(ctx, p);
    }
}

void pm_index_lookup(const pm_index *ix, const sl_pv *v, char *fold, pm_emit_fn fn, void *ctx) {
    if (v->type == SL_PV_STRING) {
        if (ix->exact.n) {
            pm_pred *p = pm_map_get(&ix->exact, v->s, v->len);
            if (p) fn(ctx, p);
        }
        if (ix->prefix.n) affixes(&ix->prefix, &ix->prefix_lens, v->s, v->len, false, fn, ctx);
        if (ix->suffix.n) affixes(&ix->suffix, &ix->suffix_lens, v->s, v->len, true, fn, ctx);
        if (ix->nfolded) {
            sl_fold(v->s, v->len, fold);
            if (ix->eq_ic.n) {
                pm_pred *p = pm_map_get(&ix->eq_ic, fold, v->len);
                if (p) fn(ctx, p);
            }
            if (ix->prefix_ic.n)
                affixes(&ix->prefix_ic, &ix->prefix_ic_lens, fold, v->len, false, fn, ctx);
            if (ix->suffix_ic.n)
                affixes(&ix->suffix_ic, &ix->suffix_ic_lens, fold, v->len, true, fn, ctx);
        }
    } else if (v->type == SL_PV_NUMBER && v->comparable && ix->num.n) {
        pm_pred *p = pm_map_get(&ix->num, &v->micro, sizeof v->micro);
        if (p) fn(ctx, p);
    }
    for (size_t i = 0; i < ix->nscan; i++)
        if (sl_op_matches(&ix->scan[i]->op, v)) fn(ctx, ix->scan[i]);
}
