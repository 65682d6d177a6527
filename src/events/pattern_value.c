/* pattern_value: what one operator says about one event value. Every engine decides a match
 * through sl_op_matches (the machine's indexes are only shortcuts to the same answers, and the
 * tests hold them to it). Also the small parsers the operators need: numbers in millionths, IP
 * literals the way Event Ruler reads them, wildcards, and case folding.
 *
 * Types: prefix, suffix, equals-ignore-case, wildcard and cidr only ever match strings; exact
 * values match their own JSON type; anything-but matches every value it does not exclude,
 * whatever its type (an anything-but of strings matches a number), as Event Ruler does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "events/pattern_internal.h"

/* ---- event values ---- */

void sl_pv_set_int(sl_pv *v, long long i) {
    memset(v, 0, sizeof *v);
    v->type = SL_PV_NUMBER;
    v->is_int = true;
    v->i = i;
    v->d = (double)i;
    if (i >= -5000000000LL && i <= 5000000000LL) {
        v->comparable = true;
        v->micro = (int64_t)i * 1000000;
    }
}

void sl_pv_set_real(sl_pv *v, double d) {
    memset(v, 0, sizeof *v);
    v->type = SL_PV_NUMBER;
    v->d = d;
    if (!(fabs(d) <= 5e9)) return; /* also NaN */
    /* compared to six decimals, as AWS documents: 15 digits, six right of the point */
    v->comparable = true;
    v->micro = (int64_t)llround(d * 1e6);
}

void sl_pv_from_json(sl_pv *v, const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_STRING:
        memset(v, 0, sizeof *v);
        v->type = SL_PV_STRING;
        v->s = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_INTEGER: sl_pv_set_int(v, json_integer_value(j)); break;
    case JSON_REAL: sl_pv_set_real(v, json_real_value(j)); break;
    case JSON_TRUE: memset(v, 0, sizeof *v), v->type = SL_PV_TRUE; break;
    case JSON_FALSE: memset(v, 0, sizeof *v), v->type = SL_PV_FALSE; break;
    default: memset(v, 0, sizeof *v), v->type = SL_PV_NULL; break;
    }
}

/* ---- numbers written in a pattern ---- */

int sl_number_micro(const char *t, size_t n, int64_t *micro) {
    size_t i = 0;
    bool neg = false;
    if (i < n && t[i] == '-') neg = true, i++;
    char digits[40];
    size_t nd = 0, dropped = 0; /* significant digits kept; integer digits beyond what fits */
    long long exp10 = 0;
    bool seen_nonzero = false;
    for (; i < n && t[i] >= '0' && t[i] <= '9'; i++) {
        if (t[i] != '0') seen_nonzero = true;
        if (!seen_nonzero) continue;
        if (nd < sizeof digits) digits[nd++] = t[i];
        else dropped++;
    }
    exp10 += (long long)dropped;
    if (i < n && t[i] == '.') {
        for (i++; i < n && t[i] >= '0' && t[i] <= '9'; i++) {
            if (t[i] != '0') seen_nonzero = true;
            if (seen_nonzero) {
                if (nd < sizeof digits) {
                    digits[nd++] = t[i];
                    exp10--;
                } else if (t[i] != '0') {
                    return 1; /* more precision than anything within range can carry */
                }
            } else {
                exp10--;
            }
        }
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (t[i] == '+' || t[i] == '-')) eneg = t[i] == '-', i++;
        long long e = 0;
        for (; i < n && t[i] >= '0' && t[i] <= '9'; i++)
            if (e < 100000) e = e * 10 + (t[i] - '0');
        exp10 += eneg ? -e : e;
    }
    while (nd > 0 && digits[nd - 1] == '0') nd--, exp10++;
    if (nd == 0) {
        *micro = 0;
        return 0;
    }
    if (exp10 < -6) return 1;
    /* value = digits * 10^exp10; in millionths: digits * 10^(exp10+6), at most 5e15 (16 digits) */
    if ((long long)nd + exp10 + 6 > 16) return 2;
    int64_t v = 0;
    for (size_t k = 0; k < nd; k++) v = v * 10 + (digits[k] - '0');
    for (long long k = 0; k < exp10 + 6; k++) v *= 10;
    if (v > SL_MICRO_LIMIT) return 2;
    *micro = neg ? -v : v;
    return 0;
}

/* ---- case folding ---- */

static unsigned fold_cp(unsigned cp) {
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;
    if (cp >= 0x100 && cp <= 0x17F) {
        if ((cp <= 0x12F || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) &&
            !(cp & 1))
            return cp + 1;
        if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) && (cp & 1))
            return cp + 1;
        if (cp == 0x178) return 0xFF;
        return cp;
    }
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 0x20;
    if (cp == 0x386) return 0x3AC;
    if (cp >= 0x388 && cp <= 0x38A) return cp + 0x25;
    if (cp == 0x38C) return 0x3CC;
    if (cp == 0x38E || cp == 0x38F) return cp + 0x3F;
    if (cp >= 0x410 && cp <= 0x42F) return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
    return cp;
}

void sl_fold(const char *s, size_t n, char *out) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
        } else if (c >= 0xC2 && c <= 0xDF && i + 1 < n &&
                   ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
            unsigned cp = fold_cp(((c & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu));
            out[i] = (char)(0xC0 | (cp >> 6));
            out[i + 1] = (char)(0x80 | (cp & 0x3F));
            i += 2;
        } else {
            out[i] = (char)c;
            i++;
        }
    }
}

/* ---- IP literals ---- */

static bool ipv4_shaped(const char *s, size_t n) {
    int dots = 0;
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            digit = true;
        } else if (s[i] == '.' && digit) {
            dots++, digit = false;
        } else {
            return false;
        }
    }
    return dots == 3 && digit;
}

static bool ipv6_shaped(const char *s, size_t n) {
    bool colon = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ':') colon = true;
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return colon;
}

bool sl_ip_shaped(const char *s, size_t n) { return ipv4_shaped(s, n) || ipv6_shaped(s, n); }

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

int sl_ip_parse(const char *s, size_t n, unsigned char out[16]) {
    if (ipv4_shaped(s, n)) {
        size_t i = 0;
        for (int part = 0; part < 4; part++) {
            size_t start = i;
            unsigned v = 0;
            while (i < n && s[i] != '.') v = v * 10 + (unsigned)(s[i] - '0'), i++;
            size_t len = i - start;
            if (len > 3 || v > 255 || (len > 1 && s[start] == '0')) return 0;
            out[part] = (unsigned char)v;
            i++;
        }
        return 4;
    }
    if (!ipv6_shaped(s, n) || n < 2) return 0;
    uint16_t groups[8];
    int ng = 0, gap = -1;
    size_t i = 0;
    if (s[0] == ':') {
        if (s[1] != ':') return 0;
        gap = 0;
        i = 2;
        if (i == n) goto done;
    }
    for (;;) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && s[i] != ':') v = v * 16 + (unsigned)hexval(s[i]), i++;
        if (i - start == 0 || i - start > 4 || ng == 8) return 0;
        groups[ng++] = (uint16_t)v;
        if (i == n) break;
        i++; /* ':' */
        if (i < n && s[i] == ':') {
            if (gap >= 0) return 0;
            gap = ng;
            i++;
            if (i == n) break;
        } else if (i == n) {
            return 0; /* trailing single ':' */
        }
    }
done:
    if (gap < 0 ? ng != 8 : ng > 7) return 0;
    memset(out, 0, 16);
    int tail = gap < 0 ? 0 : ng - gap;
    for (int k = 0; k < ng; k++) {
        int slot = (gap < 0 || k < gap) ? k : 8 - tail + (k - gap);
        out[2 * slot] = (unsigned char)(groups[k] >> 8);
        out[2 * slot + 1] = (unsigned char)groups[k];
    }
    /* Java's InetAddress turns ::ffff:a.b.c.d (written in hex) into the IPv4 address */
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(out, mapped, 12)) {
        memmove(out, out + 12, 4);
        return 4;
    }
    return 16;
}

/* ---- wildcards ---- */

const char *sl_glob_parse(const char *s, size_t n, sl_glob *g, char *buf, size_t buflen) {
    memset(g, 0, sizeof *g);
    sl_buf cur;
    sl_buf_init(&cur);
    size_t cap = 0;
    for (size_t i = 0;; i++) {
        bool end = i == n;
        if (end || s[i] == '*') {
            if (!end && i + 1 < n && s[i + 1] == '*') {
                /* positions count the opening quote Event Ruler puts around the value */
                snprintf(buf, buflen, "Consecutive wildcard characters at pos %zu", i + 1);
                sl_buf_free(&cur);
                sl_glob_free(g);
                return buf;
            }
            if (g->nsegs == cap) {
                cap = cap ? cap * 2 : 4;
                g->segs = sl_xrealloc(g->segs, cap * sizeof *g->segs);
            }
            g->segs[g->nsegs].len = cur.len;
            g->segs[g->nsegs].s = sl_xstrndup(cur.data ? cur.data : "", cur.len);
            g->nsegs++;
            sl_buf_reset(&cur);
            cur.len = 0;
            if (end) break;
        } else if (s[i] == '\\') {
            if (i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '\\')) {
                sl_buf_putc(&cur, s[i + 1]);
                i++;
            } else {
                snprintf(buf, buflen, "Invalid escape character at pos %zu", i + 1);
                sl_buf_free(&cur);
                sl_glob_free(g);
                return buf;
            }
        } else {
            sl_buf_putc(&cur, s[i]);
        }
    }
    sl_buf_free(&cur);
    return NULL;
}

void sl_glob_free(sl_glob *g) {
    for (size_t k = 0; k < g->nsegs; k++) free(g->segs[k].s);
    free(g->segs);
    g->segs = NULL;
    g->nsegs = 0;
}

/* memmem for the short needles wildcards have: cheaper than glibc's general search there. */
static const char *find(const char *h, size_t hn, const char *nd, size_t nn) {
    if (nn > hn) return NULL;
    const char *end = h + (hn - nn) + 1;
    for (const char *p = h; p < end; p++) {
        p = memchr(p, nd[0], (size_t)(end - p));
        if (!p) return NULL;
        if (!memcmp(p + 1, nd + 1, nn - 1)) return p;
    }
    return NULL;
}

bool sl_glob_match(const sl_glob *g, const char *s, size_t n) {
    const sl_bytes *first = &g->segs[0];
    if (g->nsegs == 1) return n == first->len && !memcmp(s, first->s, n);
    const sl_bytes *last = &g->segs[g->nsegs - 1];
    if (first->len + last->len > n) return false;
    if (memcmp(s, first->s, first->len) || memcmp(s + n - last->len, last->s, last->len))
        return false;
    size_t pos = first->len, end = n - last->len;
    for (size_t k = 1; k + 1 < g->nsegs; k++) {
        const sl_bytes *seg = &g->segs[k];
        if (seg->len == 0) continue;
        if (end - pos < seg->len) return false;
        const char *hit = find(s + pos, end - pos, seg->s, seg->len);
        if (!hit) return false;
        pos = (size_t)(hit - s) + seg->len;
    }
    return true;
}

/* ---- operators ---- */

int sl_op_rank(sl_op_kind k) {
    switch (k) {
    case SL_OP_EXACT_STR:
    case SL_OP_EXACT_NUM:
    case SL_OP_TRUE:
    case SL_OP_FALSE:
    case SL_OP_NULL: return 0;
    case SL_OP_EQ_IC: return 1;
    case SL_OP_PREFIX:
    case SL_OP_PREFIX_IC:
    case SL_OP_SUFFIX:
    case SL_OP_SUFFIX_IC: return 2;
    case SL_OP_CIDR: return 3;
    case SL_OP_NUMERIC: return 4;
    case SL_OP_WILDCARD: return 5;
    case SL_OP_AB_STR:
    case SL_OP_AB_NUM:
    case SL_OP_AB_PREFIX:
    case SL_OP_AB_SUFFIX:
    case SL_OP_AB_IC:
    case SL_OP_AB_WILDCARD: return 6;
    default: return 7;
    }
}

/* Calls fn with the folded value; small values fold on the stack. */
static bool with_folded(const sl_op *op, const sl_pv *v,
                        bool (*fn)(const sl_op *, const char *, size_t)) {
    char small[256];
    char *f = v->len <= sizeof small ? small : sl_xmalloc(v->len);
    sl_fold(v->s, v->len, f);
    bool r = fn(op, f, v->len);
    if (f != small) free(f);
    return r;
}

static bool has_prefix(const char *s, size_t n, const sl_bytes *p) {
    return n >= p->len && !memcmp(s, p->s, p->len);
}
static bool has_suffix(const char *s, size_t n, const sl_bytes *p) {
    return n >= p->len && !memcmp(s + n - p->len, p->s, p->len);
}
static bool eq_bytes(const char *s, size_t n, const sl_bytes *p) {
    return n == p->len && !memcmp(s, p->s, n);
}

static bool folded_eq(const sl_op *op, const char *f, size_t n) { return eq_bytes(f, n, &op->str); }
static bool folded_prefix(const sl_op *op, const char *f, size_t n) {
    return has_prefix(f, n, &op->str);
}
static bool folded_suffix(const sl_op *op, const char *f, size_t n) {
    return has_suffix(f, n, &op->str);
}
static bool folded_in_set(const sl_op *op, const char *f, size_t n) {
    for (size_t k = 0; k < op->nset; k++)
        if (eq_bytes(f, n, &op->set[k])) return true;
    return false;
}

bool sl_op_matches(const sl_op *op, const sl_pv *v) {
    bool str = v->type == SL_PV_STRING;
    switch (op->kind) {
    case SL_OP_EXACT_STR: {
        if (!str) return false;
        if (eq_bytes(v->s, v->len, &op->str)) return true;
        if (!op->ip_len) return false;
        unsigned char ip[16];
        int n = sl_ip_parse(v->s, v->len, ip);
        return n == op->ip_len && !memcmp(ip, op->ip, (size_t)n);
    }
    case SL_OP_EXACT_NUM:
        if (v->type != SL_PV_NUMBER) return false;
        if (op->comparable && v->comparable) return op->micro == v->micro;
        if (op->is_int && v->is_int) return op->i == v->i;
        return op->d == v->d; /* beyond +-5e9: by value, as doubles */
    case SL_OP_TRUE: return v->type == SL_PV_TRUE;
    case SL_OP_FALSE: return v->type == SL_PV_FALSE;
    case SL_OP_NULL: return v->type == SL_PV_NULL;
    case SL_OP_EQ_IC: return str && v->len == op->str.len && with_folded(op, v, folded_eq);
    case SL_OP_PREFIX: return str && has_prefix(v->s, v->len, &op->str);
    case SL_OP_SUFFIX: return str && has_suffix(v->s, v->len, &op->str);
    case SL_OP_PREFIX_IC: return str && v->len >= op->str.len && with_folded(op, v, folded_prefix);
    case SL_OP_SUFFIX_IC: return str && v->len >= op->str.len && with_folded(op, v, folded_suffix);
    case SL_OP_CIDR: {
        if (!str) return false;
        unsigned char ip[16];
        int n = sl_ip_parse(v->s, v->len, ip);
        return n == op->cidr_len && memcmp(ip, op->cidr_lo, (size_t)n) >= 0 &&
               memcmp(ip, op->cidr_hi, (size_t)n) <= 0;
    }
    case SL_OP_NUMERIC:
        if (v->type != SL_PV_NUMBER || !v->comparable) return false;
        if (op->lo_open ? v->micro <= op->lo : v->micro < op->lo) return false;
        return op->hi_open ? v->micro < op->hi : v->micro <= op->hi;
    case SL_OP_WILDCARD: return str && sl_glob_match(&op->globs[0], v->s, v->len);
    case SL_OP_AB_STR:
        if (!str) return true;
        for (size_t k = 0; k < op->nset; k++)
            if (eq_bytes(v->s, v->len, &op->set[k])) return false;
        return true;
    case SL_OP_AB_NUM:
        if (v->type != SL_PV_NUMBER || !v->comparable) return true;
        for (size_t k = 0; k < op->nnums; k++)
            if (op->nums[k] == v->micro) return false;
        return true;
    case SL_OP_AB_PREFIX:
        if (!str) return true;
        for (size_t k = 0; k < op->nset; k++)
            if (has_prefix(v->s, v->len, &op->set[k])) return false;
        return true;
    case SL_OP_AB_SUFFIX:
        if (!str) return true;
        for (size_t k = 0; k < op->nset; k++)
            if (has_suffix(v->s, v->len, &op->set[k])) return false;
        return true;
    case SL_OP_AB_IC: return !str || !with_folded(op, v, folded_in_set);
    case SL_OP_AB_WILDCARD:
        if (!str) return true;
        for (size_t k = 0; k < op->nglobs; k++)
            if (sl_glob_match(&op->globs[k], v->s, v->len)) return false;
        return true;
    case SL_OP_EXISTS: return true;
    default: return false;
    }
}

/* ---- canonical keys, copies ---- */

void sl_keybuf_put(sl_keybuf *k, const void *p, size_t n) {
    if (k->len + n > k->cap) {
        size_t cap = k->cap ? k->cap : 64;
        while (cap < k->len + n) cap *= 2;
        k->s = sl_xrealloc(k->s, cap);
        k->cap = cap;
    }
    if (n) memcpy(k->s + k->len, p, n);
    k->len += n;
}

void sl_keybuf_piece(sl_keybuf *k, const void *p, size_t n) {
    unsigned char v[10];
    size_t m = 0;
    size_t x = n;
    do {
        v[m++] = (unsigned char)((x & 0x7F) | (x > 0x7F ? 0x80 : 0));
        x >>= 7;
    } while (x);
    sl_keybuf_put(k, v, m);
    sl_keybuf_put(k, p, n);
}

static int cmp_bytes(const void *a, const void *b) {
    const sl_bytes *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void sl_op_make_key(sl_op *op) {
    sl_keybuf k = {0};
    unsigned char kind = (unsigned char)op->kind;
    sl_keybuf_put(&k, &kind, 1);
    switch (op->kind) {
    case SL_OP_EXACT_NUM:
        if (op->comparable) {
            sl_keybuf_put(&k, "c", 1);
            sl_keybuf_put(&k, &op->micro, sizeof op->micro);
        } else if (op->is_int && (op->i > (1LL << 53) || op->i < -(1LL << 53))) {
            sl_keybuf_put(&k, "i", 1); /* only integers compare exactly beyond 2^53 */
            sl_keybuf_put(&k, &op->i, sizeof op->i);
        } else {
            double d = op->d == 0 ? 0.0 : op->d; /* -0 and 0 are equal */
            sl_keybuf_put(&k, "r", 1);
            sl_keybuf_put(&k, &d, sizeof d);
        }
        break;
    case SL_OP_NUMERIC: {
        unsigned char fl = (unsigned char)(op->lo_open | op->hi_open << 1);
        sl_keybuf_put(&k, &op->lo, sizeof op->lo);
        sl_keybuf_put(&k, &op->hi, sizeof op->hi);
        sl_keybuf_put(&k, &fl, 1);
        break;
    }
    case SL_OP_CIDR:
        sl_keybuf_put(&k, &op->cidr_len, sizeof op->cidr_len);
        sl_keybuf_put(&k, op->cidr_lo, (size_t)op->cidr_len);
        sl_keybuf_put(&k, op->cidr_hi, (size_t)op->cidr_len);
        break;
    case SL_OP_AB_STR:
    case SL_OP_AB_PREFIX:
    case SL_OP_AB_SUFFIX:
    case SL_OP_AB_IC:
    case SL_OP_AB_WILDCARD:
        for (size_t i = 0; i < op->nset; i++) sl_keybuf_piece(&k, op->set[i].s, op->set[i].len);
        break;
    case SL_OP_AB_NUM:
        for (size_t i = 0; i < op->nnums; i++) sl_keybuf_put(&k, &op->nums[i], sizeof op->nums[i]);
        break;
    case SL_OP_EXACT_STR: {
        /* "::1" also matches "0::1"; {"exactly": "::1"} does not: they are different operators */
        unsigned char ip = (unsigned char)op->ip_len;
        sl_keybuf_put(&k, &ip, 1);
        sl_keybuf_piece(&k, op->str.s, op->str.len);
        break;
    }
    default: sl_keybuf_piece(&k, op->str.s, op->str.len); break;
    }
    free(op->key.s);
    op->key.s = k.s;
    op->key.len = k.len;
}

void sl_op_sort_set(sl_op *op) {
    if (op->nset > 1) {
        qsort(op->set, op->nset, sizeof *op->set, cmp_bytes);
        size_t w = 1;
        for (size_t r = 1; r < op->nset; r++) {
            if (cmp_bytes(&op->set[r], &op->set[w - 1])) op->set[w++] = op->set[r];
            else free(op->set[r].s);
        }
        op->nset = w;
    }
    if (op->nnums > 1) {
        qsort(op->nums, op->nnums, sizeof *op->nums, cmp_i64);
        size_t w = 1;
        for (size_t r = 1; r < op->nnums; r++)
            if (op->nums[r] != op->nums[w - 1]) op->nums[w++] = op->nums[r];
        op->nnums = w;
    }
}

static sl_bytes dup_bytes(sl_bytes b) {
    sl_bytes r = {sl_xmalloc(b.len + 1), b.len};
    if (b.len) memcpy(r.s, b.s, b.len);
    r.s[b.len] = 0;
    return r;
}

void sl_op_copy(sl_op *dst, const sl_op *src) {
    *dst = *src;
    dst->str = src->str.s ? dup_bytes(src->str) : src->str;
    dst->key = dup_bytes(src->key);
    if (src->nset) {
        dst->set = sl_xmalloc(src->nset * sizeof *dst->set);
        for (size_t i = 0; i < src->nset; i++) dst->set[i] = dup_bytes(src->set[i]);
    }
    if (src->nnums) {
        dst->nums = sl_xmalloc(src->nnums * sizeof *dst->nums);
        memcpy(dst->nums, src->nums, src->nnums * sizeof *dst->nums);
    }
    if (src->nglobs) {
        dst->globs = sl_xcalloc(src->nglobs, sizeof *dst->globs);
        for (size_t g = 0; g < src->nglobs; g++) {
            dst->globs[g].nsegs = src->globs[g].nsegs;
            dst->globs[g].segs = sl_xmalloc(src->globs[g].nsegs * sizeof(sl_bytes));
            for (size_t k = 0; k < src->globs[g].nsegs; k++)
                dst->globs[g].segs[k] = dup_bytes(src->globs[g].segs[k]);
        }
    }
}

void sl_op_free(sl_op *op) {
    free(op->str.s);
    free(op->key.s);
    for (size_t i = 0; i < op->nset; i++) free(op->set[i].s);
    free(op->set);
    free(op->nums);
    for (size_t g = 0; g < op->nglobs; g++) sl_glob_free(&op->globs[g]);
    free(op->globs);
    memset(op, 0, sizeof *op);
}
