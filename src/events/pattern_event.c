/* pattern_event: reads event JSON text straight into the multi-rule machine's per-path value
 * lists, without building a tree. It must accept exactly the texts jansson accepts (a JSON object:
 * strict grammar, valid UTF-8, no NUL characters, no unpaired surrogate escapes, no real number
 * overflow, nesting at most 2048 deep) and must record exactly what the tree walk in
 * pattern_machine.c records: the same values at the same paths, with the same array membership
 * (arrays count only when they hold an object, found out here when the array closes). Subtrees no
 * rule looks at are only checked, never stored. jansson keeps the last of duplicate keys; when a
 * key on a path in use repeats, this reader gives up and the caller reads the text with jansson. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "events/pattern_machine.h"

#define MAX_DEPTH 2048

typedef struct {
    const unsigned char *s;
    size_t n, i;
    pm_scratch *x;
    unsigned depth;
    int rc; /* 0 fine, -1 invalid, 1 fall back to jansson */
} reader;

static bool bad(reader *r) {
    if (!r->rc) r->rc = -1;
    return false;
}

static void ws(reader *r) {
    while (r->i < r->n) {
        unsigned char c = r->s[r->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        r->i++;
    }
}

static char *arena_grow(pm_scratch *x, size_t extra) {
    if (!x->arena || x->narena + extra > x->caparena) {
        size_t cap = x->caparena ? x->caparena * 2 : 256;
        while (cap < x->narena + extra) cap *= 2;
        x->arena = sl_xrealloc(x->arena, cap);
        x->caparena = cap;
    }
    return x->arena + x->narena;
}

static void arena_put(pm_scratch *x, const void *p, size_t n) {
    if (!n) return;
    memcpy(arena_grow(x, n), p, n);
    x->narena += n;
}

static void arena_utf8(pm_scratch *x, unsigned cp) {
    unsigned char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
        t[0] = (unsigned char)(0xC0 | (cp >> 6)), t[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        t[0] = (unsigned char)(0xE0 | (cp >> 12)),
        t[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        t[0] = (unsigned char)(0xF0 | (cp >> 18)),
        t[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
        t[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    arena_put(x, t, n);
}

static bool hex4(reader *r, unsigned *out) {
    if (r->n - r->i < 4) return bad(r);
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = r->s[r->i++];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return bad(r);
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return true;
}

/* Length of the well-formed UTF-8 sequence at s[i], or 0. */
static size_t utf8_len(const unsigned char *s, size_t n, size_t i) {
    unsigned char c = s[i];
    size_t k = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (!k || n - i < k) return 0;
    unsigned cp = c & (0xFFu >> (k + 1));
    for (size_t j = 1; j < k; j++) {
        if ((s[i + j] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i + j] & 0x3Fu);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
        (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return k;
}

/* Reads a string (r->i at the opening quote). When keep, *p and *len give its text: a pointer into
 * the input when it has no escapes, else decoded into the arena (*aoff set, *p provisional). */
static bool read_string(reader *r, bool keep, const char **p, size_t *len, uint32_t *aoff) {
    r->i++;
    size_t start = r->i;
    bool escaped = false;
    size_t arena_start = r->x->narena;
    for (;;) {
        if (r->i >= r->n) return bad(r);
        unsigned char c = r->s[r->i];
        if (c == '"') break;
        if (c < 0x20) return bad(r);
        if (c < 0x80 && c != '\\') {
            r->i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_len(r->s, r->n, r->i);
            if (!k) return bad(r);
            r->i += k;
            continue;
        }
        /* an escape: from here on the text is decoded into the arena */
        if (keep) arena_put(r->x, r->s + start, r->i - start); /* the text since the last one */
        escaped = true;
        r->i++;
        if (r->i >= r->n) return bad(r);
        unsigned char e = r->s[r->i++];
        unsigned cp;
        switch (e) {
        case '"':
        case '\\':
        case '/': cp = e; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (!hex4(r, &cp)) return false;
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned lo;
                if (r->n - r->i < 2 || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u') return bad(r);
                r->i += 2;
                if (!hex4(r, &lo)) return false;
                if (lo < 0xDC00 || lo >= 0xE000) return bad(r);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                return bad(r);
            }
            if (cp == 0) return bad(r); /* jansson refuses NUL without JSON_ALLOW_NUL */
            break;
        default: return bad(r);
        }
        if (keep) arena_utf8(r->x, cp);
        start = r->i;
        continue;
    }
    if (keep) {
        if (escaped) {
            arena_put(r->x, r->s + start, r->i - start);
            *aoff = (uint32_t)arena_start;
            *len = r->x->narena - arena_start;
            *p = r->x->arena + arena_start;
        } else {
            *aoff = PM_NO_ARENA;
            *len = r->i - start;
            *p = (const char *)r->s + start;
        }
    }
    r->i++; /* closing quote */
    return true;
}

static bool digits(reader *r) {
    size_t s = r->i;
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') r->i++;
    return r->i > s;
}

static bool read_number(reader *r, bool keep, sl_pv *v) {
    size_t start = r->i;
    bool integer = true;
    if (r->s[r->i] == '-') r->i++;
    if (r->i >= r->n) return bad(r);
    size_t int_start = r->i;
    if (r->s[r->i] == '0') {
        r->i++;
    } else if (!digits(r)) {
        return bad(r);
    }
    size_t int_digits = r->i - int_start;
    long exponent = 0;
    if (r->i < r->n && r->s[r->i] == '.') {
        r->i++;
        integer = false;
        if (!digits(r)) return bad(r);
    }
    if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
        r->i++;
        integer = false;
        bool neg = false;
        if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-')) neg = r->s[r->i++] == '-';
        size_t e0 = r->i;
        if (!digits(r)) return bad(r);
        for (size_t k = e0; k < r->i && exponent < 100000; k++)
            exponent = exponent * 10 + (r->s[k] - '0');
        if (neg) exponent = -exponent;
    }
    size_t len = r->i - start;
    if (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') return bad(r); /* "01" */
    /* a value nobody looks at only needs checking for what jansson refuses: a real too large for
     * a double, which takes more than 300 digits before the point, counting the exponent */
    if (!keep && (long)int_digits + exponent < 300) return true;
    char small[64];
    char *t = len < sizeof small ? small : sl_xmalloc(len + 1);
    memcpy(t, r->s + start, len);
    t[len] = 0;
    bool ok = true;
    if (integer) {
        errno = 0;
        long long ll = strtoll(t, NULL, 10);
        if (errno != ERANGE) {
            if (keep) sl_pv_set_int(v, ll);
            goto done;
        }
        /* beyond 64 bits: jansson can only read it as a real */
    }
    errno = 0;
    double d = strtod(t, NULL);
    if (errno == ERANGE && isinf(d)) ok = bad(r); /* jansson: real number overflow */
    else if (keep) sl_pv_set_real(v, d);
done:
    if (t != small) free(t);
    return ok;
}

static bool read_value(reader *r, const pm_pnode *p, bool *holds_object);

static bool read_object(reader *r, const pm_pnode *p) {
    pm_scratch *x = r->x;
    r->i++;
    size_t open_base = x->nopen;
    bool ok = false;
    ws(r);
    if (r->i < r->n && r->s[r->i] == '}') {
        r->i++;
        return true;
    }
    for (;;) {
        ws(r);
        if (r->i >= r->n || r->s[r->i] != '"') {
            bad(r);
            break;
        }
        bool look = p && p->nkids;
        const char *key = NULL;
        size_t klen = 0;
        uint32_t aoff = PM_NO_ARENA;
        size_t arena_mark = x->narena;
        if (!read_string(r, look, &key, &klen, &aoff)) break;
        const pm_pnode *child = look ? pm_map_get(&p->kids, key, klen) : NULL;
        x->narena = arena_mark; /* a decoded key is not kept */
        if (child) {
            for (size_t k = open_base; k < x->nopen; k++) {
                if (x->open[k] == child) {
                    r->rc = 1; /* a repeated key in use: jansson keeps the last one */
                    goto out;
                }
            }
            if (x->nopen == x->capopen) {
                x->capopen = x->capopen ? x->capopen * 2 : 16;
                x->open = sl_xrealloc(x->open, x->capopen * sizeof *x->open);
            }
            x->open[x->nopen++] = child;
        }
        ws(r);
        if (r->i >= r->n || r->s[r->i] != ':') {
            bad(r);
            break;
        }
        r->i++;
        if (!read_value(r, child, NULL)) break;
        ws(r);
        if (r->i < r->n && r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        if (r->i < r->n && r->s[r->i] == '}') {
            r->i++;
            ok = true;
        } else {
            bad(r);
        }
        break;
    }
out:
    x->nopen = open_base;
    return ok;
}

static bool read_array(reader *r, const pm_pnode *p, bool *holds_object) {
    pm_scratch *x = r->x;
    r->i++;
    size_t d = 0, first_val = x->nvals;
    bool held = false;
    if (p) d = pm_stack_push(x);
    ws(r);
    bool ok = true;
    if (r->i < r->n && r->s[r->i] == ']') {
        r->i++;
    } else {
        for (uint32_t idx = 0;; idx++) {
            if (p) {
                x->stack[d].idx = idx;
                x->snap_ok = false;
            }
            ws(r);
            if (!read_value(r, p, &held)) {
                ok = false;
                break;
            }
            ws(r);
            if (r->i < r->n && r->s[r->i] == ',') {
                r->i++;
                continue;
            }
            if (r->i < r->n && r->s[r->i] == ']') {
                r->i++;
            } else {
                ok = bad(r);
            }
            break;
        }
    }
    if (p) {
        x->depth = d;
        x->snap_ok = false;
        /* no object inside: its elements all sit at one path, so the array does not count */
        if (!held)
            for (size_t v = first_val; v < x->nvals; v++)
                if (x->vals[v].mlen > d) x->vals[v].mlen = (uint32_t)d;
    }
    if (held && holds_object) *holds_object = true;
    return ok;
}

static bool read_value(reader *r, const pm_pnode *p, bool *holds_object) {
    ws(r);
    if (r->i >= r->n) return bad(r);
    unsigned char c = r->s[r->i];
    if (c == '{' || c == '[') {
        if (++r->depth > MAX_DEPTH) return bad(r);
        bool ok;
        if (c == '{') {
            if (holds_object) *holds_object = true;
            ok = read_object(r, p);
        } else {
            ok = read_array(r, p, holds_object);
        }
        r->depth--;
        return ok;
    }
    bool keep = p && p->value_refs;
    sl_pv v;
    if (c == '"') {
        const char *s = NULL;
        size_t len = 0;
        uint32_t aoff = PM_NO_ARENA;
        if (!read_string(r, keep, &s, &len, &aoff)) return false;
        if (keep) {
            memset(&v, 0, sizeof v);
            v.type = SL_PV_STRING;
            v.s = s;
            v.len = len;
            pm_val *pv = pm_record(r->x, p, &v);
            pv->arena = aoff;
        }
        return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (!read_number(r, keep, &v)) return false;
        if (keep) pm_record(r->x, p, &v);
        return true;
    }
    static const struct {
        const char *word;
        size_t len;
        sl_pv_type type;
    } words[] = {{"true", 4, SL_PV_TRUE}, {"false", 5, SL_PV_FALSE}, {"null", 4, SL_PV_NULL}};
    for (size_t k = 0; k < 3; k++) {
        if (r->n - r->i >= words[k].len && !memcmp(r->s + r->i, words[k].word, words[k].len)) {
            r->i += words[k].len;
            if (keep) {
                memset(&v, 0, sizeof v);
                v.type = words[k].type;
                pm_record(r->x, p, &v);
            }
            return true;
        }
    }
    return bad(r);
}

int pm_walk_text(pm_scratch *x, const pm_pnode *root, const char *text, size_t len) {
    reader r = {(const unsigned char *)text, len, 0, x, 0, 0};
    ws(&r);
    if (r.i >= r.n || r.s[r.i] != '{') return -1;
    r.depth = 1;
    bool ok = read_object(&r, root);
    if (ok) {
        ws(&r);
        if (r.i != r.n) return -1;
    }
    if (!ok) return r.rc ? r.rc : -1;
    for (size_t v = 0; v < x->nvals; v++)
        if (x->vals[v].arena != PM_NO_ARENA) x->vals[v].v.s = x->arena + x->vals[v].arena;
    return 0;
}
