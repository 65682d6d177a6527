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

static void plist_add(pm_predlist *l, pm_pred *p) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = sl_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = p;
}

static void plist_remove(pm_predlist *l, const pm_pred *p) {
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i] == p) {
            memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof *l->v);
            l->n--;
            return;
        }
    }
}

/* The longest literal piece strictly between a wildcard's first and last star, if not empty. */
static const sl_bytes *inner_piece(const sl_glob *g) {
    const sl_bytes *mid = NULL;
    for (size_t k = 1; k + 1 < g->nsegs; k++)
        if (!mid || g->segs[k].len > mid->len) mid = &g->segs[k];
    return mid && mid->len ? mid : NULL;
}

/* Where an operator lives. A map with one operator per key (*lens set when looked up by the
 * value's heads or tails), a map of lists (wildcards, *list_map), a literal slot, or a scan list.
 */
typedef struct {
    pm_map *map;
    pm_lens *lens;
    bool listed;
    const void *key;
    size_t klen;
    pm_pred **slot;
    pm_predlist *scan;
    pm_predlist *also; /* a second list it is kept in */
} placement;

static placement place(pm_index *ix, pm_pred *p) {
    const sl_op *op = &p->op;
    placement w = {0};
    w.key = op->str.s;
    w.klen = op->str.len;
    switch (op->kind) {
    case SL_OP_EXACT_STR:
        if (op->ip_len) w.scan = &ix->scan_str;
        else w.map = &ix->exact;
        break;
    case SL_OP_EXACT_NUM:
        if (op->comparable) {
            w.map = &ix->num;
            w.key = &op->micro;
            w.klen = sizeof op->micro;
        } else {
            w.scan = &ix->scan_num;
        }
        break;
    case SL_OP_TRUE: w.slot = &ix->lit[0]; break;
    case SL_OP_FALSE: w.slot = &ix->lit[1]; break;
    case SL_OP_NULL: w.slot = &ix->lit[2]; break;
    case SL_OP_EQ_IC: w.map = &ix->eq_ic; break;
    case SL_OP_PREFIX: w.map = &ix->prefix, w.lens = &ix->prefix_lens; break;
    case SL_OP_SUFFIX: w.map = &ix->suffix, w.lens = &ix->suffix_lens; break;
    case SL_OP_PREFIX_IC: w.map = &ix->prefix_ic, w.lens = &ix->prefix_ic_lens; break;
    case SL_OP_SUFFIX_IC: w.map = &ix->suffix_ic, w.lens = &ix->suffix_ic_lens; break;
    case SL_OP_WILDCARD: {
        const sl_glob *g = &op->globs[0];
        const sl_bytes *head = &g->segs[0], *tail = &g->segs[g->nsegs - 1];
        w.listed = true;
        if (head->len) {
            w.map = &ix->wc_head, w.lens = &ix->wc_head_lens;
            w.key = head->s, w.klen = head->len;
        } else if (tail->len) {
            w.map = &ix->wc_tail, w.lens = &ix->wc_tail_lens;
            w.key = tail->s, w.klen = tail->len;
        } else {
            const sl_bytes *mid = inner_piece(g);
            if (mid) {
                w.map = &ix->wc_mid, w.lens = &ix->wc_mid_lens, w.also = &ix->wc_mid_all;
                w.key = mid->s, w.klen = mid->len;
            } else {
                w.listed = false; /* "*" */
                w.scan = &ix->scan_str;
            }
        }
        break;
    }
    case SL_OP_CIDR: w.scan = &ix->scan_str; break;
    case SL_OP_NUMERIC: w.scan = &ix->scan_num; break;
    default: w.scan = &ix->scan_any; break;
    }
    return w;
}

static bool folded(sl_op_kind k) {
    return k == SL_OP_EQ_IC || k == SL_OP_PREFIX_IC || k == SL_OP_SUFFIX_IC;
}

void pm_index_add(pm_index *ix, const sl_op *op, struct pm_edge *e) {
    void **slot = pm_map_put(&ix->all, op->key.s, op->key.len);
    pm_pred *p = *slot;
    if (!p) {
        p = sl_xcalloc(1, sizeof *p);
        sl_op_copy(&p->op, op);
        *slot = p;
        placement w = place(ix, p);
        if (w.map) {
            void **v = pm_map_put(w.map, w.key, w.klen);
            if (w.listed) {
                if (!*v) *v = sl_xcalloc(1, sizeof(pm_predlist));
                plist_add(*v, p);
            } else {
                *v = p;
            }
            if (w.lens) lens_add(w.lens, (uint32_t)w.klen);
            if (w.also) plist_add(w.also, p);
        } else if (w.slot) {
            *w.slot = p;
        } else {
            plist_add(w.scan, p);
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
    placement w = place(ix, p);
    if (w.map) {
        if (w.listed) {
            pm_predlist *l = pm_map_get(w.map, w.key, w.klen);
            plist_remove(l, p);
            if (!l->n) {
                free(l->v);
                free(l);
                pm_map_del(w.map, w.key, w.klen);
            }
        } else {
            pm_map_del(w.map, w.key, w.klen);
        }
        if (w.lens) lens_remove(w.lens, (uint32_t)w.klen);
        if (w.also) plist_remove(w.also, p);
    } else if (w.slot) {
        *w.slot = NULL;
    } else {
        plist_remove(w.scan, p);
    }
    if (folded(p->op.kind)) ix->nfolded--;
    pm_map_del(&ix->all, op->key.s, op->key.len);
    sl_op_free(&p->op);
    free(p->edges);
    free(p);
}

bool pm_index_empty(const pm_index *ix) { return ix->all.n == 0; }

static void free_lists(pm_map *m) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != DELETED) {
            pm_predlist *l = m->slots[i].val;
            free(l->v);
            free(l);
        }
}

void pm_index_free(pm_index *ix) {
    for (size_t i = 0; i < ix->all.cap; i++) {
        pm_slot *s = &ix->all.slots[i];
        if (!s->key || s->key == DELETED) continue;
        pm_pred *p = s->val;
        sl_op_free(&p->op);
        free(p->edges);
        free(p);
    }
    free_lists(&ix->wc_head);
    free_lists(&ix->wc_tail);
    free_lists(&ix->wc_mid);
    free(ix->wc_mid_all.v);
    pm_map *maps[] = {&ix->all,     &ix->exact,   &ix->num,       &ix->eq_ic,
                      &ix->prefix,  &ix->suffix,  &ix->prefix_ic, &ix->suffix_ic,
                      &ix->wc_head, &ix->wc_tail, &ix->wc_mid};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) pm_map_free(maps[i]);
    pm_lens *lens[] = {&ix->prefix_lens,    &ix->suffix_lens,  &ix->prefix_ic_lens,
                       &ix->suffix_ic_lens, &ix->wc_head_lens, &ix->wc_tail_lens,
                       &ix->wc_mid_lens};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) lens_free(lens[i]);
    free(ix->scan_str.v);
    free(ix->scan_num.v);
    free(ix->scan_any.v);
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

static void wildcards(const pm_map *m, const pm_lens *l, const sl_pv *v, bool tail, pm_emit_fn fn,
                      void *ctx) {
    for (size_t i = 0; i < l->n && l->len[i] <= v->len; i++) {
        size_t k = l->len[i];
        const pm_predlist *list = pm_map_get(m, tail ? v->s + v->len - k : v->s, k);
        if (!list) continue;
        for (size_t j = 0; j < list->n; j++)
            if (sl_glob_match(&list->v[j]->op.globs[0], v->s, v->len)) fn(ctx, list->v[j]);
    }
}

static void glob_scan(const pm_predlist *l, const sl_pv *v, pm_emit_fn fn, void *ctx) {
    for (size_t j = 0; j < l->n; j++)
        if (sl_glob_match(&l->v[j]->op.globs[0], v->s, v->len)) fn(ctx, l->v[j]);
}

/* Wildcards with stars at both ends: found through an inner piece the value must contain. */
static void inner_wildcards(const pm_index *ix, const sl_pv *v, pm_emit_fn fn, void *ctx) {
    const pm_lens *l = &ix->wc_mid_lens;
    size_t probes = 0;
    for (size_t i = 0; i < l->n && l->len[i] <= v->len; i++) probes += v->len - l->len[i] + 1;
    if (ix->wc_mid_all.n * 8 <= probes) {
        glob_scan(&ix->wc_mid_all, v, fn, ctx);
        return;
    }
    for (size_t i = 0; i < l->n && l->len[i] <= v->len; i++) {
        size_t k = l->len[i];
        for (size_t off = 0; off + k <= v->len; off++) {
            const pm_predlist *list = pm_map_get(&ix->wc_mid, v->s + off, k);
            if (!list) continue;
            for (size_t j = 0; j < list->n; j++) {
                /* a piece found twice would report its wildcards twice: only the first counts */
                const sl_glob *g = &list->v[j]->op.globs[0];
                const sl_bytes *mid = inner_piece(g);
                if (!mid || memmem(v->s, off + k - 1, mid->s, mid->len)) continue;
                if (sl_glob_match(g, v->s, v->len)) fn(ctx, list->v[j]);
            }
        }
    }
}

static void scan(const pm_predlist *l, const sl_pv *v, pm_emit_fn fn, void *ctx) {
    for (size_t i = 0; i < l->n; i++)
        if (sl_op_matches(&l->v[i]->op, v)) fn(ctx, l->v[i]);
}

void pm_index_lookup(const pm_index *ix, const sl_pv *v, char *fold, pm_emit_fn fn, void *ctx) {
    switch (v->type) {
    case SL_PV_STRING:
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
        if (ix->wc_head.n) wildcards(&ix->wc_head, &ix->wc_head_lens, v, false, fn, ctx);
        if (ix->wc_tail.n) wildcards(&ix->wc_tail, &ix->wc_tail_lens, v, true, fn, ctx);
        if (ix->wc_mid.n) inner_wildcards(ix, v, fn, ctx);
        scan(&ix->scan_str, v, fn, ctx);
        break;
    case SL_PV_NUMBER:
        if (v->comparable && ix->num.n) {
            pm_pred *p = pm_map_get(&ix->num, &v->micro, sizeof v->micro);
            if (p) fn(ctx, p);
        }
        scan(&ix->scan_num, v, fn, ctx);
        break;
    case SL_PV_TRUE:
        if (ix->lit[0]) fn(ctx, ix->lit[0]);
        break;
    case SL_PV_FALSE:
        if (ix->lit[1]) fn(ctx, ix->lit[1]);
        break;
    case SL_PV_NULL:
        if (ix->lit[2]) fn(ctx, ix->lit[2]);
        break;
    }
    scan(&ix->scan_any, v, fn, ctx);
}
