/* pattern_parse: compiles an event pattern's JSON into branches of constraints, or explains in
 * AWS's words why it cannot. The checks and their messages follow Event Ruler's JSON rule
 * compiler (the engine behind EventBridge), in the same document order, so the first problem
 * reported is the one AWS would report. "$or" is expanded here into disjunctive normal form: each
 * branch is one conjunction of constraints on distinct paths.
 * Owns: sl_pattern_compile / sl_pattern_free, constraint copies and the per-branch path tree. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "events/pattern_internal.h"

#define PREFIX_MSG "Event pattern is not valid. Reason: "

typedef struct {
    size_t *idx; /* into cctx.cons */
    size_t n, cap;
} ibranch;

typedef struct {
    ibranch *v;
    size_t n, cap;
} blist;

typedef struct {
    const char *text;
    size_t len;
    char reason[600];
    sl_pj_pos pos;
    bool no_location, failed;
    sl_constraint **cons;
    size_t ncons, capcons;
    sl_bytes path[SL_PATTERN_MAX_DEPTH + 2];
    size_t depth;
} cctx;

static bool fail_at(cctx *c, sl_pj_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail_at(cctx *c, sl_pj_pos pos, const char *fmt, ...) {
    if (c->failed) return false;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof c->reason, fmt, ap);
    va_end(ap);
    c->pos = pos;
    return false;
}

static const char *const RESERVED_IN_OR[] = {"exactly",
                                             "equals-ignore-case",
                                             "prefix",
                                             "suffix",
                                             "anything-but",
                                             "exists",
                                             "wildcard",
                                             "numeric",
                                             "cidr",
                                             "html",
                                             "=",
                                             "<",
                                             "<=",
                                             ">",
                                             ">=",
                                             "regex",
                                             "not-wildcard",
                                             "not-equals-ignore-case",
                                             "date-after",
                                             "date-on-or-after",
                                             "date-before",
                                             "date-on-or-before",
                                             "in-date-range",
                                             "ip-address-in-range",
                                             "ip-address-not-in-range"};

static bool key_is(const sl_pj_member *m, const char *s) {
    return m->key_len == strlen(s) && !memcmp(m->key, s, m->key_len);
}
static bool str_is(const sl_pj *v, const char *s) {
    return v->type == SL_PJ_STRING && v->len == strlen(s) && !memcmp(v->str, s, v->len);
}

/* Jackson's getText() of a token, for messages that quote it. */
static const char *token_text(const sl_pj *v) {
    if (!v) return "]";
    switch (v->type) {
    case SL_PJ_OBJECT: return "{";
    case SL_PJ_ARRAY: return "[";
    case SL_PJ_TRUE: return "true";
    case SL_PJ_FALSE: return "false";
    case SL_PJ_NULL: return "null";
    default: return v->str;
    }
}

/* ---- branch lists ---- */

static void ib_push(ibranch *b, size_t i) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->idx = sl_xrealloc(b->idx, b->cap * sizeof *b->idx);
    }
    b->idx[b->n++] = i;
}
static ibranch ib_copy(const ibranch *b) {
    ibranch r = {NULL, b->n, b->n};
    if (b->n) {
        r.idx = sl_xmalloc(b->n * sizeof *r.idx);
        memcpy(r.idx, b->idx, b->n * sizeof *r.idx);
    }
    return r;
}
static void bl_push(blist *l, ibranch b) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = sl_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = b;
}
static void bl_free(blist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].idx);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* ---- constraints ---- */

void sl_constraint_free(sl_constraint *c) {
    for (size_t i = 0; i < c->nsegs; i++) free(c->segs[i].s);
    free(c->segs);
    free(c->path_key.s);
    for (size_t i = 0; i < c->nops; i++) sl_op_free(&c->ops[i]);
    free(c->ops);
    free(c->key.s);
    memset(c, 0, sizeof *c);
}

static sl_bytes bytes_dup(const char *s, size_t n) {
    sl_bytes b = {sl_xmalloc(n + 1), n};
    if (n) memcpy(b.s, s, n);
    b.s[n] = 0;
    return b;
}

void sl_constraint_copy(sl_constraint *dst, const sl_constraint *src) {
    *dst = *src;
    dst->segs = sl_xmalloc((src->nsegs ? src->nsegs : 1) * sizeof *dst->segs);
    for (size_t i = 0; i < src->nsegs; i++)
        dst->segs[i] = bytes_dup(src->segs[i].s, src->segs[i].len);
    dst->path_key = bytes_dup(src->path_key.s, src->path_key.len);
    dst->key = bytes_dup(src->key.s, src->key.len);
    dst->ops = sl_xmalloc((src->nops ? src->nops : 1) * sizeof *dst->ops);
    for (size_t i = 0; i < src->nops; i++) sl_op_copy(&dst->ops[i], &src->ops[i]);
}

static int cmp_op(const void *a, const void *b) {
    const sl_op *x = a, *y = b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = memcmp(x->key.s, y->key.s, n);
    return c ? c : (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

static int cmp_con(const void *a, const void *b) {
    const sl_constraint *x = a, *y = b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = memcmp(x->key.s, y->key.s, n);
    return c ? c : (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

/* Sorts and deduplicates the operators, then derives the canonical keys and the rank. */
static void finish_constraint(sl_constraint *c) {
    if (c->nops > 1) qsort(c->ops, c->nops, sizeof *c->ops, cmp_op);
    size_t w = 0;
    for (size_t r = 0; r < c->nops; r++) {
        if (w && !cmp_op(&c->ops[r], &c->ops[w - 1])) sl_op_free(&c->ops[r]);
        else c->ops[w++] = c->ops[r];
    }
    c->nops = w;
    sl_keybuf pk = {0};
    for (size_t i = 0; i < c->nsegs; i++) sl_keybuf_piece(&pk, c->segs[i].s, c->segs[i].len);
    c->path_key.s = pk.s ? pk.s : sl_xstrdup("");
    c->path_key.len = pk.len;
    sl_keybuf k = {0};
    sl_keybuf_piece(&k, c->path_key.s, c->path_key.len);
    unsigned char a = c->absent_ok;
    sl_keybuf_put(&k, &a, 1);
    c->rank = 0;
    for (size_t i = 0; i < c->nops; i++) {
        sl_keybuf_piece(&k, c->ops[i].key.s, c->ops[i].key.len);
        int r = sl_op_rank(c->ops[i].kind);
        if (r > c->rank) c->rank = r;
    }
    c->key.s = k.s;
    c->key.len = k.len;
}

/* ---- operators ---- */

typedef struct {
    sl_op *v;
    size_t n, cap;
} opvec;

static sl_op *op_new(opvec *ov, sl_op_kind kind) {
    if (ov->n == ov->cap) {
        ov->cap = ov->cap ? ov->cap * 2 : 4;
        ov->v = sl_xrealloc(ov->v, ov->cap * sizeof *ov->v);
    }
    sl_op *op = &ov->v[ov->n++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    return op;
}

static void op_set_str(sl_op *op, const char *s, size_t n, bool fold) {
    op->str = bytes_dup(s, n);
    if (fold) sl_fold(op->str.s, n, op->str.s);
}

static const char *number_error(int rc) {
    return rc == 1 ? "Only values upto 6 decimals are supported"
                   : "Value must be between -5.0E9 and 5.0E9, inclusive";
}

static void op_exact_number(sl_op *op, const sl_pj *v) {
    op->d = strtod(v->str, NULL);
    op->is_int = !memchr(v->str, '.', v->len) && !memchr(v->str, 'e', v->len) &&
                 !memchr(v->str, 'E', v->len);
    if (op->is_int) {
        errno = 0;
        op->i = strtoll(v->str, NULL, 10);
        if (errno == ERANGE) op->is_int = false; /* beyond 64 bits: compare as a double */
    }
    op->comparable = sl_number_micro(v->str, v->len, &op->micro) == 0;
}

/* Java's String.split("/"): trailing empty pieces are dropped. */
static bool parse_cidr(cctx *c, const sl_pj *v, sl_op *op) {
    c->no_location = true;
    const char *s = v->str;
    size_t n = v->len;
    /* pieces between slashes; Java drops the empty ones at the end */
    size_t nslash = 0, slash[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '/') continue;
        if (nslash < 2) slash[nslash] = i;
        nslash++;
    }
    size_t pieces = nslash + 1;
    size_t last_end = n;
    while (pieces > 0) {
        size_t begin = 0;
        if (pieces - 1 > 0) {
            /* find the start of the last remaining piece */
            size_t k = last_end;
            while (k > 0 && s[k - 1] != '/') k--;
            begin = k;
        }
        if (last_end > begin) break;
        pieces--;
        if (begin == 0) break;
        last_end = begin - 1;
    }
    if (pieces != 2) return fail_at(c, v->end, "Malformed CIDR, one '/' required");
    size_t start[2] = {0, slash[0] + 1}, end[2] = {slash[0], last_end};
    const char *ms = s + start[1];
    size_t ml = end[1] - start[1];
    size_t i = 0;
    bool neg = false;
    (void)slash[1];
    if (i < ml && (ms[i] == '+' || ms[i] == '-')) neg = ms[i] == '-', i++;
    if (i == ml) return fail_at(c, v->end, "Malformed CIDR, mask bits must be an integer");
    long long bits = 0;
    for (; i < ml; i++) {
        if (ms[i] < '0' || ms[i] > '9' || bits > 2147483648LL)
            return fail_at(c, v->end, "Malformed CIDR, mask bits must be an integer");
        bits = bits * 10 + (ms[i] - '0');
    }
    if (neg) bits = -bits;
    if (bits > 2147483647LL || bits < -2147483648LL)
        return fail_at(c, v->end, "Malformed CIDR, mask bits must be an integer");
    if (bits < 0) return fail_at(c, v->end, "Malformed CIDR, mask bits must not be negative");
    const char *ip = s + start[0];
    size_t il = end[0] - start[0];
    unsigned char addr[16];
    int alen = sl_ip_parse(ip, il, addr);
    if (!alen) {
        return fail_at(c, v->end, "%s IP address: %.*s",
                       sl_ip_shaped(ip, il) ? "Invalid" : "Nonstandard", (int)il, ip);
    }
    if (alen == 4 && bits > 31) return fail_at(c, v->end, "IPv4 mask bits must be < 32");
    if (alen == 16 && bits > 127) return fail_at(c, v->end, "IPv6 mask bits must be < 128");
    c->no_location = false;
    op->cidr_len = alen;
    memcpy(op->cidr_lo, addr, (size_t)alen);
    int host = alen * 8 - (int)bits;
    for (int b = alen - 1; b >= 0; b--, host -= 8) {
        unsigned char mask = host >= 8 ? 0xFF : host <= 0 ? 0 : (unsigned char)((1u << host) - 1);
        op->cidr_hi[b] = addr[b] | mask;
    }
    return true;
}

static bool only_key(cctx *c, const sl_pj *obj, const char *msg) {
    if (obj->n > 1) return fail_at(c, obj->members[1].key_end, "%s", msg);
    return true;
}

static const char ONE_KEY[] = "Only one key allowed in match expression";
static const char TOO_MANY[] = "Too many elements in numeric expression";

static bool numeric_value(cctx *c, const sl_pj *v, int64_t *micro) {
    int rc = sl_number_micro(v->str, v->len, micro);
    if (rc) return fail_at(c, v->end, "%s", number_error(rc));
    return true;
}

static bool parse_numeric(cctx *c, const sl_pj *arr, opvec *ops) {
    const sl_pj *it0 = arr->n > 0 ? arr->items[0] : NULL;
    sl_pj_pos end_pos = arr->end;
    if (!it0 || it0->type != SL_PJ_STRING)
        return fail_at(c, it0 ? it0->end : end_pos, "Invalid member in numeric match: %s",
                       token_text(it0));
    const sl_pj *it1 = arr->n > 1 ? arr->items[1] : NULL;
    sl_pj_pos p1 = it1 ? it1->end : end_pos;
    sl_op *op = op_new(ops, SL_OP_NUMERIC);
    if (str_is(it0, "=")) {
        if (!it1 || it1->type != SL_PJ_NUMBER)
            return fail_at(c, p1, "Value of equals must be numeric");
        if (arr->n > 2) return fail_at(c, arr->items[2]->end, "%s", TOO_MANY);
        if (!numeric_value(c, it1, &op->lo)) return false;
        op->hi = op->lo;
        return true;
    }
    bool ge = str_is(it0, ">="), gt = str_is(it0, ">"), le = str_is(it0, "<="),
         lt = str_is(it0, "<");
    if (!(ge || gt || le || lt))
        return fail_at(c, it0->end, "Unrecognized numeric range operator: %s", it0->str);
    if (!it1 || it1->type != SL_PJ_NUMBER)
        return fail_at(c, p1, "Value of %s must be numeric", it0->str);
    if (le || lt) {
        if (arr->n > 2) return fail_at(c, arr->items[2]->end, "%s", TOO_MANY);
        if (!numeric_value(c, it1, &op->hi)) return false;
        op->lo = -SL_MICRO_LIMIT;
        op->hi_open = lt;
    } else {
        op->lo_open = gt;
        op->hi = SL_MICRO_LIMIT;
        if (arr->n > 2) {
            const sl_pj *it2 = arr->items[2];
            if (it2->type != SL_PJ_STRING)
                return fail_at(c, it2->end, "Bad value in numeric range: %s", token_text(it2));
            if (!str_is(it2, "<") && !str_is(it2, "<="))
                return fail_at(c, it2->end, "Bad numeric range operator: %s", it2->str);
            const sl_pj *it3 = arr->n > 3 ? arr->items[3] : NULL;
            if (!it3 || it3->type != SL_PJ_NUMBER)
                return fail_at(c, it3 ? it3->end : end_pos, "Value of %s must be numeric",
                               it2->str);
            if (arr->n > 4)
                return fail_at(c, arr->items[4]->end, "Too many terms in numeric range expression");
            if (!numeric_value(c, it3, &op->hi)) return false;
            op->hi_open = str_is(it2, "<");
        }
        if (!numeric_value(c, it1, &op->lo)) return false;
    }
    if (op->lo >= op->hi) return fail_at(c, arr->end, "Bottom must be less than top");
    return true;
}

typedef enum {
    AB_PLAIN,
    AB_IC,
    AB_PREFIX,
    AB_SUFFIX,
    AB_WILDCARD
} ab_kind;

static bool ab_set_item(cctx *c, ab_kind k, const sl_pj *v, sl_op *op) {
    if (v->type != SL_PJ_STRING) {
        return fail_at(c, v->end, "%s",
                       k == AB_IC         ? "Inside anything-but/equals-ignore-case list, "
                                            "number|start|null|boolean is not supported."
                       : k == AB_WILDCARD ? "wildcard match pattern must be a string"
                                          : "prefix/suffix match pattern must be a string");
    }
    if ((k == AB_PREFIX || k == AB_SUFFIX) && v->len == 0)
        return fail_at(c, v->end, "Null prefix/suffix not allowed");
    op->set = sl_xrealloc(op->set, (op->nset + 1) * sizeof *op->set);
    op->set[op->nset] = bytes_dup(v->str, v->len);
    if (k == AB_IC) sl_fold(op->set[op->nset].s, v->len, op->set[op->nset].s);
    op->nset++;
    return true;
}

static bool parse_anything_but(cctx *c, const sl_pj *value, opvec *ops) {
    ab_kind k = AB_PLAIN;
    const sl_pj *inner = value;
    if (value->type == SL_PJ_OBJECT) {
        if (value->n == 0) return fail_at(c, value->end, "Anything-But expression name not found");
        const sl_pj_member *m = &value->members[0];
        if (key_is(m, "equals-ignore-case")) k = AB_IC;
        else if (key_is(m, "prefix")) k = AB_PREFIX;
        else if (key_is(m, "suffix")) k = AB_SUFFIX;
        else if (key_is(m, "wildcard")) k = AB_WILDCARD;
        else return fail_at(c, m->key_end, "Unsupported anything-but pattern: %s", m->key);
        inner = m->value;
    }
    if (inner->type != SL_PJ_ARRAY && inner->type != SL_PJ_STRING && inner->type != SL_PJ_NUMBER) {
        return fail_at(c, inner->end,
                       "Value of anything-but must be an array or single "
                       "string/number value.");
    }
    static const sl_op_kind kinds[] = {SL_OP_AB_STR, SL_OP_AB_IC, SL_OP_AB_PREFIX, SL_OP_AB_SUFFIX,
                                       SL_OP_AB_WILDCARD};
    sl_op *op = op_new(ops, kinds[k]);
    if (k == AB_PLAIN) {
        bool has_num = false, has_str = false;
        size_t n = inner->type == SL_PJ_ARRAY ? inner->n : 1;
        for (size_t i = 0; i < n; i++) {
            const sl_pj *v = inner->type == SL_PJ_ARRAY ? inner->items[i] : inner;
            if (v->type == SL_PJ_STRING) {
                has_str = true;
                op->set = sl_xrealloc(op->set, (op->nset + 1) * sizeof *op->set);
                op->set[op->nset++] = bytes_dup(v->str, v->len);
            } else if (v->type == SL_PJ_NUMBER) {
                has_num = true;
                op->nums = sl_xrealloc(op->nums, (op->nnums + 1) * sizeof *op->nums);
                if (!numeric_value(c, v, &op->nums[op->nnums])) return false;
                op->nnums++;
            } else {
                return fail_at(c, v->end,
                               "Inside anything but list, start|null|boolean is not "
                               "supported.");
            }
        }
        if (has_num == has_str) {
            return fail_at(c, inner->end,
                           "Inside anything but list, either all values are number "
                           "or string, mixed type is not supported");
        }
        if (has_num) op->kind = SL_OP_AB_NUM;
    } else if (inner->type == SL_PJ_ARRAY) {
        for (size_t i = 0; i < inner->n; i++)
            if (!ab_set_item(c, k, inner->items[i], op)) return false;
    } else if (!ab_set_item(c, k, inner, op)) {
        return false;
    }
    sl_op_sort_set(op);
    if (k == AB_WILDCARD) {
        op->globs = sl_xcalloc(op->nset ? op->nset : 1, sizeof *op->globs);
        for (size_t i = 0; i < op->nset; i++) {
            char buf[96];
            const char *e =
                sl_glob_parse(op->set[i].s, op->set[i].len, &op->globs[i], buf, sizeof buf);
            if (e) return fail_at(c, inner->end, "%s", e);
            op->nglobs++;
        }
    }
    if (value->type == SL_PJ_OBJECT && !only_key(c, value, TOO_MANY)) return false;
    return true;
}

/* {"prefix": {"equals-ignore-case": "x"}} and the suffix twin. */
static bool parse_affix_ic(cctx *c, const sl_pj *inner, bool prefix, opvec *ops) {
    const char *what = prefix ? "Prefix" : "Suffix";
    if (inner->n == 0) return fail_at(c, inner->end, "%s expression name not found", what);
    const sl_pj_member *m = &inner->members[0];
    if (!key_is(m, "equals-ignore-case"))
        return fail_at(c, m->key_end, "Unsupported %s pattern: %s", prefix ? "prefix" : "suffix",
                       m->key);
    if (m->value->type != SL_PJ_STRING)
        return fail_at(c, m->value->end, "equals-ignore-case match pattern must be a string");
    op_set_str(op_new(ops, prefix ? SL_OP_PREFIX_IC : SL_OP_SUFFIX_IC), m->value->str,
               m->value->len, true);
    return only_key(c, inner, ONE_KEY);
}

static bool parse_match(cctx *c, const sl_pj *obj, opvec *ops, bool *absent) {
    if (obj->n == 0) return fail_at(c, obj->end, "Match expression name not found");
    const sl_pj_member *m = &obj->members[0];
    const sl_pj *v = m->value;
    if (key_is(m, "exactly")) {
        if (v->type != SL_PJ_STRING)
            return fail_at(c, v->end, "exact match pattern must be a string");
        op_set_str(op_new(ops, SL_OP_EXACT_STR), v->str, v->len, false);
    } else if (key_is(m, "prefix") || key_is(m, "suffix")) {
        bool prefix = key_is(m, "prefix");
        if (v->type == SL_PJ_OBJECT) {
            if (!parse_affix_ic(c, v, prefix, ops)) return false;
        } else if (v->type != SL_PJ_STRING) {
            return fail_at(c, v->end, "%s match pattern must be a string",
                           prefix ? "prefix" : "suffix");
        } else {
            op_set_str(op_new(ops, prefix ? SL_OP_PREFIX : SL_OP_SUFFIX), v->str, v->len, false);
        }
    } else if (key_is(m, "equals-ignore-case")) {
        if (v->type != SL_PJ_STRING)
            return fail_at(c, v->end, "equals-ignore-case match pattern must be a string");
        op_set_str(op_new(ops, SL_OP_EQ_IC), v->str, v->len, true);
    } else if (key_is(m, "wildcard")) {
        if (v->type != SL_PJ_STRING)
            return fail_at(c, v->end, "wildcard match pattern must be a string");
        sl_glob g;
        char buf[96];
        const char *e = sl_glob_parse(v->str, v->len, &g, buf, sizeof buf);
        if (e) return fail_at(c, v->end, "%s", e);
        sl_op *op = op_new(ops, SL_OP_WILDCARD);
        op_set_str(op, v->str, v->len, false);
        op->globs = sl_xmalloc(sizeof *op->globs);
        op->globs[0] = g;
        op->nglobs = 1;
    } else if (key_is(m, "numeric")) {
        if (v->type != SL_PJ_ARRAY) return fail_at(c, v->end, "Value of numeric must be an array.");
        if (!parse_numeric(c, v, ops)) return false;
        return only_key(c, obj, TOO_MANY);
    } else if (key_is(m, "anything-but")) {
        if (!parse_anything_but(c, v, ops)) return false;
        return only_key(c, obj, TOO_MANY);
    } else if (key_is(m, "exists")) {
        if (v->type == SL_PJ_TRUE) op_new(ops, SL_OP_EXISTS);
        else if (v->type == SL_PJ_FALSE) *absent = true;
        else return fail_at(c, v->end, "exists match pattern must be either true or false.");
    } else if (key_is(m, "cidr")) {
        if (v->type != SL_PJ_STRING)
            return fail_at(c, v->end, "prefix match pattern must be a string");
        if (!parse_cidr(c, v, op_new(ops, SL_OP_CIDR))) return false;
    } else {
        return fail_at(c, m->key_end, "Unrecognized match type %s", m->key);
    }
    return only_key(c, obj, ONE_KEY);
}

static void path_string(const cctx *c, sl_buf *b) {
    for (size_t i = 0; i < c->depth; i++) {
        if (i) sl_buf_putc(b, '.');
        sl_buf_append(b, c->path[i].s, c->path[i].len);
    }
}

/* A leaf: the array of alternatives for the field at the current path. */
static bool parse_values(cctx *c, const sl_pj *arr, blist *bl) {
    opvec ops = {0};
    bool absent = false;
    for (size_t i = 0; i < arr->n; i++) {
        const sl_pj *v = arr->items[i];
        switch (v->type) {
        case SL_PJ_OBJECT:
            if (!parse_match(c, v, &ops, &absent)) goto bad;
            break;
        case SL_PJ_STRING: {
            sl_op *op = op_new(&ops, SL_OP_EXACT_STR);
            op_set_str(op, v->str, v->len, false);
            if (sl_ip_shaped(v->str, v->len)) op->ip_len = sl_ip_parse(v->str, v->len, op->ip);
            break;
        }
        case SL_PJ_NUMBER: op_exact_number(op_new(&ops, SL_OP_EXACT_NUM), v); break;
        case SL_PJ_TRUE: op_new(&ops, SL_OP_TRUE); break;
        case SL_PJ_FALSE: op_new(&ops, SL_OP_FALSE); break;
        case SL_PJ_NULL: op_new(&ops, SL_OP_NULL); break;
        default:
            fail_at(c, v->end, "Match value must be String, number, true, false, or null");
            goto bad;
        }
    }
    if (arr->n == 0) {
        fail_at(c, arr->end, "Empty arrays are not allowed");
        goto bad;
    }
    sl_constraint *con = sl_xcalloc(1, sizeof *con);
    con->nsegs = c->depth;
    con->segs = sl_xmalloc((c->depth ? c->depth : 1) * sizeof *con->segs);
    for (size_t i = 0; i < c->depth; i++) con->segs[i] = bytes_dup(c->path[i].s, c->path[i].len);
    for (size_t i = 0; i < ops.n; i++) sl_op_make_key(&ops.v[i]);
    con->ops = ops.v;
    con->nops = ops.n;
    con->absent_ok = absent;
    finish_constraint(con);
    if (c->ncons == c->capcons) {
        c->capcons = c->capcons ? c->capcons * 2 : 8;
        c->cons = sl_xrealloc(c->cons, c->capcons * sizeof *c->cons);
    }
    size_t ci = c->ncons++;
    c->cons[ci] = con;
    for (size_t b = 0; b < bl->n; b++) {
        ibranch *br = &bl->v[b];
        for (size_t j = 0; j < br->n; j++) {
            const sl_constraint *o = c->cons[br->idx[j]];
            if (o->path_key.len == con->path_key.len &&
                !memcmp(o->path_key.s, con->path_key.s, o->path_key.len)) {
                sl_buf p;
                sl_buf_init(&p);
                path_string(c, &p);
                fail_at(c, arr->end, "Path `%s` cannot be allowed multiple times",
                        p.data ? p.data : "");
                sl_buf_free(&p);
                return false;
            }
        }
        ib_push(br, ci);
    }
    return true;
bad:
    for (size_t i = 0; i < ops.n; i++) sl_op_free(&ops.v[i]);
    free(ops.v);
    return false;
}

static bool parse_object(cctx *c, const sl_pj *obj, blist *bl, bool in_or);

static bool parse_or(cctx *c, const sl_pj *arr, blist *bl) {
    if (arr->type != SL_PJ_ARRAY)
        return fail_at(c, arr->end, "It must be an Array followed with $or.");
    blist current = *bl, out = {0};
    *bl = (blist){0};
    bool ok = true;
    for (size_t i = 0; i < arr->n && ok; i++) {
        const sl_pj *o = arr->items[i];
        if (o->type != SL_PJ_OBJECT) {
            ok = fail_at(c, o->end, "Only JSON object is allowed in array of $or relationship.");
            break;
        }
        blist nb = {0};
        for (size_t b = 0; b < current.n; b++) bl_push(&nb, ib_copy(&current.v[b]));
        if (nb.n == 0) bl_push(&nb, (ibranch){0});
        ok = parse_object(c, o, &nb, true);
        for (size_t b = 0; b < nb.n; b++) bl_push(&out, nb.v[b]);
        free(nb.v);
        if (ok && out.n > SL_PATTERN_MAX_BRANCHES) {
            ok = fail_at(c, o->end, "Event pattern has too many $or combinations (more than %d)",
                         SL_PATTERN_MAX_BRANCHES);
        }
    }
    if (ok && arr->n < 2)
        ok = fail_at(c, arr->end, "There must have at least 2 Objects in $or relationship.");
    bl_free(&current);
    *bl = out;
    return ok;
}

static bool parse_object(cctx *c, const sl_pj *obj, blist *bl, bool in_or) {
    if (obj->n == 0) return fail_at(c, obj->end, "Empty objects are not allowed");
    for (size_t i = 0; i < obj->n; i++) {
        const sl_pj_member *m = &obj->members[i];
        if (key_is(m, "$or")) {
            if (!parse_or(c, m->value, bl)) return false;
            continue;
        }
        if (in_or) {
            for (size_t r = 0; r < sizeof RESERVED_IN_OR / sizeof *RESERVED_IN_OR; r++) {
                if (key_is(m, RESERVED_IN_OR[r]))
                    return fail_at(
                        c, m->key_end,
                        "%s is Ruler reserved fieldName which cannot be used inside $or.", m->key);
            }
        }
        c->path[c->depth].s = m->key;
        c->path[c->depth].len = m->key_len;
        c->depth++;
        bool ok;
        if (m->value->type == SL_PJ_OBJECT) {
            ok = parse_object(c, m->value, bl, in_or);
        } else if (m->value->type == SL_PJ_ARRAY) {
            ok = parse_values(c, m->value, bl);
        } else {
            ok = fail_at(c, m->value->end, "\"%s\" must be an object or an array", m->key);
        }
        c->depth--;
        if (!ok) return false;
    }
    return true;
}

/* ---- path tree ---- */

static sl_ptree *tree_child(sl_ptree *t, const sl_bytes *seg) {
    for (size_t i = 0; i < t->nkids; i++)
        if (t->kids[i].seg_len == seg->len && !memcmp(t->kids[i].seg, seg->s, seg->len))
            return &t->kids[i];
    t->kids = sl_xrealloc(t->kids, (t->nkids + 1) * sizeof *t->kids);
    sl_ptree *k = &t->kids[t->nkids++];
    memset(k, 0, sizeof *k);
    k->seg = seg->s;
    k->seg_len = seg->len;
    return k;
}

static bool tree_finish(sl_ptree *t) {
    bool all = !t->con || t->con->absent_ok;
    for (size_t i = 0; i < t->nkids; i++)
        if (!tree_finish(&t->kids[i])) all = false;
    t->all_absent_ok = all;
    return all;
}

void sl_branch_build_tree(sl_branch *b) {
    memset(&b->root, 0, sizeof b->root);
    for (size_t i = 0; i < b->ncons; i++) {
        sl_ptree *t = &b->root;
        for (size_t s = 0; s < b->cons[i].nsegs; s++) t = tree_child(t, &b->cons[i].segs[s]);
        t->con = &b->cons[i];
    }
    tree_finish(&b->root);
}

void sl_branch_free_tree(sl_ptree *t) {
    for (size_t i = 0; i < t->nkids; i++) sl_branch_free_tree(&t->kids[i]);
    free(t->kids);
    t->kids = NULL;
    t->nkids = 0;
}

/* ---- entry points ---- */

static void format_error(const cctx *c, char *err, size_t errlen) {
    if (!err || !errlen) return;
    if (c->no_location) {
        snprintf(err, errlen, PREFIX_MSG "%s", c->reason);
        return;
    }
    size_t shown = c->len > 500 ? 500 : c->len;
    while (shown < c->len && shown > 0 && ((unsigned char)c->text[shown] & 0xC0) == 0x80) shown--;
    char trunc[48] = "";
    if (shown < c->len) snprintf(trunc, sizeof trunc, "[truncated %zu chars]", c->len - shown);
    snprintf(err, errlen, PREFIX_MSG "%s\n at [Source: (String)\"%.*s\"%s; line: %u, column: %u]",
             c->reason, (int)shown, c->text, trunc, c->pos.line, c->pos.col);
}

sl_pattern *sl_pattern_compile(const char *json, size_t len, char *err, size_t errlen) {
    cctx c = {.text = json ? json : "", .len = json ? len : 0};
    size_t chars = 0;
    for (size_t i = 0; i < c.len; i++)
        if (((unsigned char)c.text[i] & 0xC0) != 0x80) chars++;
    if (chars > SL_PATTERN_MAX_CHARS) {
        if (err && errlen)
            snprintf(err, errlen, PREFIX_MSG "Event pattern is longer than %d characters",
                     SL_PATTERN_MAX_CHARS);
        return NULL;
    }
    const char *reason = NULL;
    sl_pj_pos pos = {1, 1};
    sl_pj *root = sl_pj_parse(c.text, c.len, &reason, c.reason, sizeof c.reason, &pos);
    if (!root) {
        /* Event Ruler stops at the first token when it does not open an object */
        size_t i = 0;
        while (i < c.len && strchr(" \t\r\n", c.text[i])) i++;
        if (i == c.len || strchr("[\"-0123456789", c.text[i])) {
            c.failed = false;
            fail_at(&c, pos, "Filter is not an object");
        } else {
            if (reason != c.reason) snprintf(c.reason, sizeof c.reason, "%s", reason);
            c.pos = pos;
        }
        format_error(&c, err, errlen);
        return NULL;
    }
    blist bl = {0};
    bl_push(&bl, (ibranch){0});
    bool ok = root->type == SL_PJ_OBJECT ? parse_object(&c, root, &bl, false)
                                         : fail_at(&c, root->end, "Filter is not an object");
    sl_pattern *p = NULL;
    if (ok) {
        p = sl_xcalloc(1, sizeof *p);
        p->nbranches = bl.n;
        p->branches = sl_xcalloc(bl.n, sizeof *p->branches);
        for (size_t b = 0; b < bl.n; b++) {
            sl_branch *br = &p->branches[b];
            br->ncons = bl.v[b].n;
            br->cons = sl_xcalloc(br->ncons ? br->ncons : 1, sizeof *br->cons);
            for (size_t j = 0; j < br->ncons; j++)
                sl_constraint_copy(&br->cons[j], c.cons[bl.v[b].idx[j]]);
            qsort(br->cons, br->ncons, sizeof *br->cons, cmp_con);
            sl_branch_build_tree(br);
        }
    } else {
        format_error(&c, err, errlen);
    }
    bl_free(&bl);
    for (size_t i = 0; i < c.ncons; i++) {
        sl_constraint_free(c.cons[i]);
        free(c.cons[i]);
    }
    free(c.cons);
    sl_pj_free(root);
    return p;
}

void sl_pattern_free(sl_pattern *p) {
    if (!p) return;
    for (size_t b = 0; b < p->nbranches; b++) {
        sl_branch_free_tree(&p->branches[b].root);
        for (size_t j = 0; j < p->branches[b].ncons; j++)
            sl_constraint_free(&p->branches[b].cons[j]);
        free(p->branches[b].cons);
    }
    free(p->branches);
    free(p);
}

sl_pattern *sl_pattern_clone(const sl_pattern *p) {
    sl_pattern *q = sl_xcalloc(1, sizeof *q);
    q->nbranches = p->nbranches;
    q->branches = sl_xcalloc(p->nbranches ? p->nbranches : 1, sizeof *q->branches);
    for (size_t b = 0; b < p->nbranches; b++) {
        const sl_branch *from = &p->branches[b];
        sl_branch *to = &q->branches[b];
        to->ncons = from->ncons;
        to->cons = sl_xcalloc(from->ncons ? from->ncons : 1, sizeof *to->cons);
        for (size_t j = 0; j < from->ncons; j++) sl_constraint_copy(&to->cons[j], &from->cons[j]);
        sl_branch_build_tree(to);
    }
    return q;
}

size_t sl_pattern_branch_count(const sl_pattern *p) { return p ? p->nbranches : 0; }
