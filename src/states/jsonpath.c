/* jsonpath: compiler and evaluator for Step Functions JSONPath (see jsonpath.h for the grammar
 * and the Jayway-derived semantics). A path compiles to an array of segments; a filter compiles
 * to a small expression tree whose operands are literals or relative paths. Evaluation walks
 * the input once, collecting matches into a jansson array. A step budget bounds the work a
 * pathological path (nested recursive descent) may do on a large input. */
#include "states/jsonpath.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* Node visits one evaluation may make before giving up (recursive descent over huge inputs). */
#define EVAL_BUDGET 1000000u
/* Nesting of parentheses / negations / nested filters inside a path. */
#define MAX_PARSE_DEPTH 32
/* Indexes and slice bounds beyond this are refused at compile time. */
#define MAX_ABS_INDEX 1000000000000000LL

typedef enum {
    SEG_NAME,
    SEG_INDEX,
    SEG_WILDCARD,
    SEG_SLICE,
    SEG_FILTER,
    SEG_FUNC
} seg_kind;

typedef enum {
    FN_LENGTH,
    FN_MIN,
    FN_MAX,
    FN_AVG,
    FN_SUM,
    FN_STDDEV,
    FN_KEYS,
    FN_FIRST,
    FN_LAST,
} fn_kind;

static const char *const fn_names[] = {"length", "min",  "max",   "avg", "sum",
                                       "stddev", "keys", "first", "last"};

typedef struct fexpr fexpr;

typedef struct {
    seg_kind kind;
    bool deep; /* reached through `..` */
    size_t n;  /* names or indexes */
    char **names;
    long long *idx;
    long long start, end, step;
    bool has_start, has_end;
    fexpr *filter;
    fn_kind fn;
} seg;

struct sl_jsonpath {
    char *text;
    char root; /* '$' input, 'c' context, '@' the node a filter is testing */
    seg *segs;
    size_t nsegs, cap;
    bool prefix_definite; /* every segment before a trailing function is definite */
    bool has_fn;
    bool reference;
};

typedef enum {
    FX_OR,
    FX_AND,
    FX_NOT,
    FX_EXISTS,
    FX_CMP
} fx_kind;

typedef enum {
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_RE,
    OP_IN,
    OP_NIN,
    OP_SUBSETOF,
    OP_ANYOF,
    OP_NONEOF,
    OP_SIZE,
    OP_EMPTY,
    OP_CONTAINS,
} cmp_op;

typedef struct {
    sl_jsonpath *path; /* either a path ... */
    json_t *lit;       /* ... or a literal */
} operand;

struct fexpr {
    fx_kind kind;
    fexpr *a, *b;
    operand l, r;
    cmp_op op;
    regex_t *re;
};

/* ---------------------------------------------------------------------------------------- */
/* Freeing */

static void fexpr_free(fexpr *e);

static void seg_clear(seg *s) {
    for (size_t i = 0; s->names && i < s->n; i++) free(s->names[i]);
    free(s->names);
    free(s->idx);
    fexpr_free(s->filter);
}

void sl_jsonpath_free(sl_jsonpath *p) {
    if (!p) return;
    for (size_t i = 0; i < p->nsegs; i++) seg_clear(&p->segs[i]);
    free(p->segs);
    free(p->text);
    free(p);
}

static void operand_clear(operand *o) {
    sl_jsonpath_free(o->path);
    json_decref(o->lit);
}

static void fexpr_free(fexpr *e) {
    if (!e) return;
    fexpr_free(e->a);
    fexpr_free(e->b);
    operand_clear(&e->l);
    operand_clear(&e->r);
    if (e->re) {
        regfree(e->re);
        free(e->re);
    }
    free(e);
}

/* ---------------------------------------------------------------------------------------- */
/* Parsing */

typedef struct {
    const char *s;
    size_t pos;
    char *err;
    size_t errlen;
    bool failed;
    int depth;
} parser;

static void perr(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(parser *ps, const char *fmt, ...) {
    if (ps->failed) return;
    ps->failed = true;
    if (!ps->err || !ps->errlen) return;
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errlen, "Invalid JSONPath '%.200s': %s at position %zu", ps->s, detail,
             ps->pos);
}

static char peek(const parser *ps) { return ps->s[ps->pos]; }
static char peek_at(const parser *ps, size_t off) {
    for (size_t i = 0; i < off; i++)
        if (!ps->s[ps->pos + i]) return 0;
    return ps->s[ps->pos + off];
}
static void skip_ws(parser *ps) {
    while (peek(ps) == ' ' || peek(ps) == '\t' || peek(ps) == '\n' || peek(ps) == '\r') ps->pos++;
}
static bool expect(parser *ps, char c) {
    if (peek(ps) == c) {
        ps->pos++;
        return true;
    }
    if (peek(ps)) perr(ps, "expected '%c' but found '%c'", c, peek(ps));
    else perr(ps, "expected '%c' but the path ended", c);
    return false;
}

static seg *push_seg(sl_jsonpath *p, seg_kind kind, bool deep) {
    if (p->nsegs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->segs = sl_xrealloc(p->segs, p->cap * sizeof *p->segs);
    }
    seg *s = &p->segs[p->nsegs++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->deep = deep;
    return s;
}

static bool is_word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

static bool name_stop(char c, bool in_filter) {
    switch (c) {
    case 0:
    case '.':
    case '[':
    case ']':
    case '(':
    case ')':
    case ',':
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\'':
    case '"': return true;
    case '<':
    case '>':
    case '=':
    case '!':
    case '&':
    case '|': return in_filter;
    default: return false;
    }
}

/* A quoted name or string literal; ps->pos is at the opening quote. */
static char *read_quoted(parser *ps, size_t *outlen) {
    char q = peek(ps);
    ps->pos++;
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, ""); /* allocated and NUL-terminated even when the name is empty */
    for (;;) {
        char c = peek(ps);
        if (!c) {
            perr(ps, "unterminated quoted string");
            sl_buf_free(&b);
            return NULL;
        }
        ps->pos++;
        if (c == q) break;
        if (c == '\\') {
            char e = peek(ps);
            if (e == '\\' || e == '\'' || e == '"' || e == '/') {
                sl_buf_putc(&b, e);
                ps->pos++;
                continue;
            }
            if (!e) {
                perr(ps, "unterminated quoted string");
                sl_buf_free(&b);
                return NULL;
            }
            sl_buf_putc(&b, '\\'); /* an unknown escape stays as written */
            continue;
        }
        sl_buf_putc(&b, c);
    }
    if (outlen) *outlen = b.len;
    return sl_buf_steal(&b);
}

static bool read_int(parser *ps, long long *out) {
    size_t start = ps->pos;
    bool neg = false;
    if (peek(ps) == '-') {
        neg = true;
        ps->pos++;
    }
    if (!isdigit((unsigned char)peek(ps))) {
        ps->pos = start;
        perr(ps, "expected a number");
        return false;
    }
    long long v = 0;
    while (isdigit((unsigned char)peek(ps))) {
        v = v * 10 + (peek(ps) - '0');
        ps->pos++;
        if (v > MAX_ABS_INDEX) {
            perr(ps, "index out of range");
            return false;
        }
    }
    *out = neg ? -v : v;
    return true;
}

static fexpr *parse_or(parser *ps);

/* Bracket segment; ps->pos is at '['. */
static void parse_bracket(parser *ps, sl_jsonpath *p, bool deep) {
    ps->pos++;
    skip_ws(ps);
    char c = peek(ps);
    if (c == '*') {
        ps->pos++;
        skip_ws(ps);
        if (expect(ps, ']')) push_seg(p, SEG_WILDCARD, deep);
        return;
    }
    if (c == '?') {
        ps->pos++;
        skip_ws(ps);
        if (!expect(ps, '(')) return;
        if (++ps->depth > MAX_PARSE_DEPTH) {
            perr(ps, "filters nested too deeply");
            return;
        }
        fexpr *f = parse_or(ps);
        ps->depth--;
        if (!f) return;
        skip_ws(ps);
        if (!expect(ps, ')')) {
            fexpr_free(f);
            return;
        }
        skip_ws(ps);
        if (!expect(ps, ']')) {
            fexpr_free(f);
            return;
        }
        push_seg(p, SEG_FILTER, deep)->filter = f;
        return;
    }
    if (c == '\'' || c == '"') {
        size_t cap = 2, n = 0;
        char **names = sl_xmalloc(cap * sizeof *names);
        for (;;) {
            skip_ws(ps);
            if (peek(ps) != '\'' && peek(ps) != '"') {
                perr(ps, "expected a quoted name");
                break;
            }
            char *nm = read_quoted(ps, NULL);
            if (!nm) break;
            if (n == cap) names = sl_xrealloc(names, (cap *= 2) * sizeof *names);
            names[n++] = nm;
            skip_ws(ps);
            if (peek(ps) == ',') {
                ps->pos++;
                continue;
            }
            expect(ps, ']');
            break;
        }
        if (ps->failed) {
            for (size_t i = 0; i < n; i++) free(names[i]);
            free(names);
            return;
        }
        seg *s = push_seg(p, SEG_NAME, deep);
        s->names = names;
        s->n = n;
        return;
    }
    if (c == '-' || c == ':' || isdigit((unsigned char)c)) {
        long long first = 0;
        bool has_first = false;
        if (c != ':') {
            if (!read_int(ps, &first)) return;
            has_first = true;
            skip_ws(ps);
        }
        if (peek(ps) == ':') {
            seg tmp = {.kind = SEG_SLICE, .deep = deep, .step = 1};
            tmp.has_start = has_first;
            tmp.start = first;
            ps->pos++;
            skip_ws(ps);
            if (peek(ps) == '-' || isdigit((unsigned char)peek(ps))) {
                if (!read_int(ps, &tmp.end)) return;
                tmp.has_end = true;
                skip_ws(ps);
            }
            if (peek(ps) == ':') {
                ps->pos++;
                skip_ws(ps);
                if (peek(ps) == '-' || isdigit((unsigned char)peek(ps))) {
                    if (!read_int(ps, &tmp.step)) return;
                    if (tmp.step == 0) {
                        perr(ps, "slice step must not be 0");
                        return;
                    }
                    skip_ws(ps);
                }
            }
            if (!expect(ps, ']')) return;
            *push_seg(p, SEG_SLICE, deep) = tmp;
            return;
        }
        size_t cap = 2, n = 0;
        long long *idx = sl_xmalloc(cap * sizeof *idx);
        idx[n++] = first;
        while (peek(ps) == ',') {
            ps->pos++;
            skip_ws(ps);
            long long v;
            if (!read_int(ps, &v)) break;
            if (n == cap) idx = sl_xrealloc(idx, (cap *= 2) * sizeof *idx);
            idx[n++] = v;
            skip_ws(ps);
        }
        if (ps->failed || !expect(ps, ']')) {
            free(idx);
            return;
        }
        seg *s = push_seg(p, SEG_INDEX, deep);
        s->idx = idx;
        s->n = n;
        return;
    }
    if (!c) perr(ps, "unterminated '['");
    else perr(ps, "unexpected '%c' after '['", c);
}

static bool seg_definite(const seg *s) {
    return !s->deep && (s->kind == SEG_NAME || s->kind == SEG_INDEX) && s->n == 1;
}

static void finish_flags(sl_jsonpath *p) {
    p->prefix_definite = true;
    p->reference = p->root == '$';
    for (size_t i = 0; i < p->nsegs; i++) {
        const seg *s = &p->segs[i];
        if (s->kind == SEG_FUNC) {
            p->has_fn = true;
            p->reference = false;
            continue;
        }
        if (!seg_definite(s)) {
            p->prefix_definite = false;
            p->reference = false;
        }
    }
}

/* A path at ps->pos: `$...`, `$$...`, or (inside a filter) `@...`. */
static sl_jsonpath *parse_path(parser *ps, bool in_filter) {
    size_t begin = ps->pos;
    sl_jsonpath *p = sl_xcalloc(1, sizeof *p);
    if (peek(ps) == '$' && peek_at(ps, 1) == '$') {
        p->root = 'c';
        ps->pos += 2;
    } else if (peek(ps) == '$') {
        p->root = '$';
        ps->pos++;
        if (isalpha((unsigned char)peek(ps)) || peek(ps) == '_') {
            size_t n = 0;
            while (is_word_char(ps->s[ps->pos + n]) && n < 64) n++;
            perr(ps, "'$%.*s' is a workflow variable reference; variables are not supported",
                 (int)n, ps->s + ps->pos);
            sl_jsonpath_free(p);
            return NULL;
        }
    } else if (in_filter && peek(ps) == '@') {
        p->root = '@';
        ps->pos++;
    } else {
        perr(ps, in_filter ? "expected '@' or '$'" : "a path must start with '$'");
        sl_jsonpath_free(p);
        return NULL;
    }
    while (!ps->failed) {
        char c = peek(ps);
        if (c == '.') {
            bool deep = peek_at(ps, 1) == '.';
            ps->pos += deep ? 2 : 1;
            c = peek(ps);
            if (c == '[') {
                parse_bracket(ps, p, deep);
                continue;
            }
            if (c == '*') {
                ps->pos++;
                push_seg(p, SEG_WILDCARD, deep);
                continue;
            }
            size_t st = ps->pos;
            while (!name_stop(peek(ps), in_filter)) ps->pos++;
            if (ps->pos == st) {
                if (!peek(ps)) perr(ps, "a path must not end with '%s'", deep ? ".." : ".");
                else perr(ps, "expected a name after '%s'", deep ? ".." : ".");
                break;
            }
            if (peek(ps) == '(') {
                if (deep) {
                    perr(ps, "a function cannot follow '..'");
                    break;
                }
                size_t nlen = ps->pos - st;
                size_t f = 0;
                while (f < sizeof fn_names / sizeof *fn_names &&
                       !(strlen(fn_names[f]) == nlen && !memcmp(fn_names[f], ps->s + st, nlen)))
                    f++;
                if (f == sizeof fn_names / sizeof *fn_names) {
                    ps->pos = st;
                    perr(ps, "unknown function '%.*s()'", (int)(nlen > 40 ? 40 : nlen), ps->s + st);
                    break;
                }
                ps->pos++;
                skip_ws(ps);
                if (!expect(ps, ')')) break;
                push_seg(p, SEG_FUNC, false)->fn = (fn_kind)f;
                break; /* a function ends the path */
            }
            seg *s = push_seg(p, SEG_NAME, deep);
            s->names = sl_xmalloc(sizeof *s->names);
            s->names[0] = sl_xstrndup(ps->s + st, ps->pos - st);
            s->n = 1;
            continue;
        }
        if (c == '[') {
            parse_bracket(ps, p, false);
            continue;
        }
        break;
    }
    if (ps->failed) {
        sl_jsonpath_free(p);
        return NULL;
    }
    p->text = sl_xstrndup(ps->s + begin, ps->pos - begin);
    finish_flags(p);
    return p;
}

/* Filter expressions ----------------------------------------------------------------------- */

static json_t *parse_number_literal(parser *ps) {
    size_t st = ps->pos;
    if (peek(ps) == '-') ps->pos++;
    bool real = false;
    while (isdigit((unsigned char)peek(ps)) || peek(ps) == '.' || peek(ps) == 'e' ||
           peek(ps) == 'E' ||
           ((peek(ps) == '+' || peek(ps) == '-') &&
            (ps->s[ps->pos - 1] == 'e' || ps->s[ps->pos - 1] == 'E'))) {
        if (!isdigit((unsigned char)peek(ps))) real = true;
        ps->pos++;
    }
    char tmp[64];
    size_t n = ps->pos - st;
    if (n == 0 || n >= sizeof tmp) {
        ps->pos = st;
        perr(ps, "invalid number");
        return NULL;
    }
    memcpy(tmp, ps->s + st, n);
    tmp[n] = 0;
    char *end;
    errno = 0;
    if (!real) {
        long long v = strtoll(tmp, &end, 10);
        if (!*end && errno == 0) return json_integer(v);
    }
    double d = strtod(tmp, &end);
    if (*end || !isfinite(d)) {
        ps->pos = st;
        perr(ps, "invalid number");
        return NULL;
    }
    return json_real(d);
}

/* glibc's regcomp takes exponential time on stacked quantifiers (`a++++`) and large counted
 * repetitions; refuse those shapes (Java would reject most of them too). */
static bool regex_is_tame(parser *ps, const char *src, size_t n) {
    if (n > 512) {
        perr(ps, "regular expression longer than 512 characters");
        return false;
    }
    bool in_class = false, prev_quant = false;
    int counted = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '\\') {
            i++;
            prev_quant = false;
            continue;
        }
        if (in_class) {
            if (c == ']') in_class = false;
            continue;
        }
        if (c == '[') {
            in_class = true;
            if (i + 1 < n && src[i + 1] == ']') i++;
            prev_quant = false;
            continue;
        }
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (prev_quant) {
                perr(ps, "stacked quantifiers are not supported in a regular expression");
                return false;
            }
            prev_quant = true;
            if (c == '{') {
                if (++counted > 4) {
                    perr(ps, "too many {n,m} repetitions in a regular expression");
                    return false;
                }
                long v = 0;
                for (i++; i < n && src[i] != '}'; i++) {
                    if (isdigit((unsigned char)src[i])) {
                        v = v * 10 + (src[i] - '0');
                        if (v > 100) {
                            perr(ps, "repetition counts above 100 are not supported");
                            return false;
                        }
                    } else if (src[i] == ',') {
                        v = 0;
                    } else {
                        perr(ps, "invalid regular expression");
                        return false;
                    }
                }
            }
            continue;
        }
        prev_quant = false;
    }
    return true;
}

/* Java-flavoured regex to an anchored POSIX ERE (Jayway matches the whole string). */
static regex_t *compile_regex(parser *ps, const char *src, size_t n, bool icase) {
    if (!regex_is_tame(ps, src, n)) return NULL;
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "^(");
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < n) {
            char e = src[++i];
            const char *rep = NULL;
            switch (e) {
            case 'd': rep = in_class ? "0-9" : "[0-9]"; break;
            case 'D': rep = in_class ? NULL : "[^0-9]"; break;
            case 'w': rep = in_class ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
            case 'W': rep = in_class ? NULL : "[^A-Za-z0-9_]"; break;
            case 's': rep = in_class ? "[:space:]" : "[[:space:]]"; break;
            case 'S': rep = in_class ? NULL : "[^[:space:]]"; break;
            case '/': rep = "/"; break;
            default: break;
            }
            if (rep) {
                sl_buf_puts(&b, rep);
            } else if (in_class) {
                sl_buf_putc(&b, e); /* POSIX classes have no escapes */
            } else {
                sl_buf_putc(&b, '\\');
                sl_buf_putc(&b, e);
            }
            continue;
        }
        if (c == '[' && !in_class) in_class = true;
        else if (c == ']' && in_class && !(b.len && b.data[b.len - 1] == '[')) in_class = false;
        sl_buf_putc(&b, c);
    }
    sl_buf_puts(&b, ")$");
    regex_t *re = sl_xmalloc(sizeof *re);
    int rc = regcomp(re, b.data, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    sl_buf_free(&b);
    if (rc != 0) {
        free(re);
        perr(ps, "invalid regular expression");
        return NULL;
    }
    return re;
}

static bool parse_operand(parser *ps, operand *o, bool allow_array);

static json_t *parse_array_literal(parser *ps) {
    ps->pos++; /* '[' */
    json_t *arr = json_array();
    skip_ws(ps);
    if (peek(ps) == ']') {
        ps->pos++;
        return arr;
    }
    for (;;) {
        operand o = {0};
        skip_ws(ps);
        if (!parse_operand(ps, &o, false)) break;
        if (o.path) {
            operand_clear(&o);
            perr(ps, "array literals may hold only literal values");
            break;
        }
        json_array_append_new(arr, o.lit);
        skip_ws(ps);
        if (peek(ps) == ',') {
            ps->pos++;
            continue;
        }
        expect(ps, ']');
        break;
    }
    if (ps->failed) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static bool parse_operand(parser *ps, operand *o, bool allow_array) {
    skip_ws(ps);
    char c = peek(ps);
    if (c == '@' || c == '$') {
        o->path = parse_path(ps, true);
        return o->path != NULL;
    }
    if (c == '\'' || c == '"') {
        size_t n;
        char *s = read_quoted(ps, &n);
        if (!s) return false;
        o->lit = json_stringn_nocheck(s, n);
        free(s);
        return true;
    }
    if (c == '-' || isdigit((unsigned char)c)) {
        o->lit = parse_number_literal(ps);
        return o->lit != NULL;
    }
    if (c == '[' && allow_array) {
        o->lit = parse_array_literal(ps);
        return o->lit != NULL;
    }
    static const struct {
        const char *word;
        json_type type;
    } words[] = {{"true", JSON_TRUE}, {"false", JSON_FALSE}, {"null", JSON_NULL}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i].word);
        if (!strncmp(ps->s + ps->pos, words[i].word, n) && !is_word_char(ps->s[ps->pos + n])) {
            ps->pos += n;
            o->lit = words[i].type == JSON_TRUE    ? json_true()
                     : words[i].type == JSON_FALSE ? json_false()
                                                   : json_null();
            return true;
        }
    }
    if (!c) perr(ps, "the filter ended early");
    else perr(ps, "unexpected '%c' in a filter", c);
    return false;
}

static bool parse_op(parser *ps, cmp_op *op) {
    skip_ws(ps);
    static const struct {
        const char *tok;
        cmp_op op;
    } syms[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
                {"=~", OP_RE}, {"<", OP_LT},  {">", OP_GT}};
    for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
        size_t n = strlen(syms[i].tok);
        if (!strncmp(ps->s + ps->pos, syms[i].tok, n)) {
            ps->pos += n;
            *op = syms[i].op;
            return true;
        }
    }
    static const struct {
        const char *word;
        cmp_op op;
    } words[] = {{"in", OP_IN},       {"nin", OP_NIN},          {"subsetof", OP_SUBSETOF},
                 {"anyof", OP_ANYOF}, {"noneof", OP_NONEOF},    {"size", OP_SIZE},
                 {"empty", OP_EMPTY}, {"contains", OP_CONTAINS}};
    size_t n = 0;
    while (is_word_char(ps->s[ps->pos + n])) n++;
    for (size_t i = 0; n && i < sizeof words / sizeof *words; i++) {
        if (strlen(words[i].word) == n && !strncmp(ps->s + ps->pos, words[i].word, n)) {
            ps->pos += n;
            *op = words[i].op;
            return true;
        }
    }
    return false;
}

static fexpr *parse_cmp(parser *ps) {
    fexpr *e = sl_xcalloc(1, sizeof *e);
    if (!parse_operand(ps, &e->l, true)) {
        fexpr_free(e);
        return NULL;
    }
    size_t save = ps->pos;
    cmp_op op;
    if (!parse_op(ps, &op)) {
        ps->pos = save;
        if (!e->l.path) {
            perr(ps, "a literal alone is not a condition");
            fexpr_free(e);
            return NULL;
        }
        e->kind = FX_EXISTS;
        return e;
    }
    e->kind = FX_CMP;
    e->op = op;
    skip_ws(ps);
    if (op == OP_RE) {
        if (peek(ps) != '/') {
            perr(ps, "expected a /regex/ after '=~'");
            fexpr_free(e);
            return NULL;
        }
        ps->pos++;
        size_t st = ps->pos;
        while (peek(ps) && peek(ps) != '/') {
            if (peek(ps) == '\\' && peek_at(ps, 1)) ps->pos++;
            ps->pos++;
        }
        if (!peek(ps)) {
            perr(ps, "unterminated regular expression");
            fexpr_free(e);
            return NULL;
        }
        size_t en = ps->pos;
        ps->pos++;
        bool icase = false;
        while (isalpha((unsigned char)peek(ps))) {
            if (peek(ps) == 'i') icase = true;
            ps->pos++;
        }
        e->re = compile_regex(ps, ps->s + st, en - st, icase);
        if (!e->re) {
            fexpr_free(e);
            return NULL;
        }
        return e;
    }
    if (!parse_operand(ps, &e->r, true)) {
        fexpr_free(e);
        return NULL;
    }
    return e;
}

static fexpr *parse_unary(parser *ps) {
    skip_ws(ps);
    if (++ps->depth > MAX_PARSE_DEPTH) {
        perr(ps, "filter nested too deeply");
        return NULL;
    }
    fexpr *r;
    if (peek(ps) == '!' && peek_at(ps, 1) != '=') {
        ps->pos++;
        fexpr *x = parse_unary(ps);
        if (!x) {
            r = NULL;
        } else {
            r = sl_xcalloc(1, sizeof *r);
            r->kind = FX_NOT;
            r->a = x;
        }
    } else if (peek(ps) == '(') {
        ps->pos++;
        r = parse_or(ps);
        skip_ws(ps);
        if (r && !expect(ps, ')')) {
            fexpr_free(r);
            r = NULL;
        }
    } else {
        r = parse_cmp(ps);
    }
    ps->depth--;
    return r;
}

static fexpr *parse_binary(parser *ps, bool is_or) {
    fexpr *l = is_or ? parse_binary(ps, false) : parse_unary(ps);
    if (!l) return NULL;
    for (;;) {
        skip_ws(ps);
        const char *tok = is_or ? "||" : "&&";
        if (strncmp(ps->s + ps->pos, tok, 2) != 0) break;
        ps->pos += 2;
        fexpr *r = is_or ? parse_binary(ps, false) : parse_unary(ps);
        if (!r) {
            fexpr_free(l);
            return NULL;
        }
        fexpr *n = sl_xcalloc(1, sizeof *n);
        n->kind = is_or ? FX_OR : FX_AND;
        n->a = l;
        n->b = r;
        l = n;
    }
    return l;
}

static fexpr *parse_or(parser *ps) { return parse_binary(ps, true); }

/* ---------------------------------------------------------------------------------------- */
/* Public compile API */

sl_jsonpath *sl_jsonpath_compile_prefix(const char *expr, size_t *used, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!expr) {
        if (err && errlen) snprintf(err, errlen, "Invalid JSONPath: no path given");
        return NULL;
    }
    parser ps = {.s = expr, .err = err, .errlen = errlen};
    /* names become object keys, which jansson requires to be UTF-8 (a path that came from a
     * JSON document always is) */
    json_t *check = json_string(expr);
    if (!check) {
        perr(&ps, "the path is not valid UTF-8");
        return NULL;
    }
    json_decref(check);
    sl_jsonpath *p = parse_path(&ps, false);
    if (p && used) *used = ps.pos;
    return p;
}

sl_jsonpath *sl_jsonpath_compile(const char *expr, char *err, size_t errlen) {
    size_t used = 0;
    sl_jsonpath *p = sl_jsonpath_compile_prefix(expr, &used, err, errlen);
    if (p && expr[used]) {
        parser ps = {.s = expr, .pos = used, .err = err, .errlen = errlen};
        perr(&ps, "unexpected '%c'", expr[used]);
        sl_jsonpath_free(p);
        return NULL;
    }
    return p;
}

const char *sl_jsonpath_text(const sl_jsonpath *p) { return p->text; }
bool sl_jsonpath_is_context(const sl_jsonpath *p) { return p->root == 'c'; }
bool sl_jsonpath_is_definite(const sl_jsonpath *p) { return p->prefix_definite || p->has_fn; }
bool sl_jsonpath_is_reference(const sl_jsonpath *p) { return p->reference; }

/* ---------------------------------------------------------------------------------------- */
/* Evaluation */

typedef struct {
    json_t *input, *context;
    size_t *budget;
    bool notfound;
    const char *why; /* static text for a failure */
} evalctx;

static json_t *eval_path(const sl_jsonpath *p, json_t *start, json_t *input, json_t *context,
                         size_t *budget, const char **why);

static bool spend(evalctx *ec) {
    if (*ec->budget == 0) return false;
    (*ec->budget)--;
    return true;
}

static void walk(evalctx *ec, const sl_jsonpath *p, size_t i, size_t end, json_t *node, bool updef,
                 json_t *out);

static bool filter_match(evalctx *ec, const fexpr *e, json_t *cur);

static void apply_seg(evalctx *ec, const sl_jsonpath *p, size_t i, size_t end, json_t *node,
                      bool updef, json_t *out) {
    const seg *s = &p->segs[i];
    bool next_def = updef && seg_definite(s);
    bool leaf = i + 1 == p->nsegs;
    switch (s->kind) {
    case SEG_NAME:
        if (!json_is_object(node)) {
            if (updef) ec->notfound = true;
            return;
        }
        for (size_t k = 0; k < s->n; k++) {
            json_t *v = json_object_get(node, s->names[k]);
            if (v) walk(ec, p, i + 1, end, v, next_def, out);
            else if (updef && s->n == 1 && !leaf) ec->notfound = true;
        }
        return;
    case SEG_INDEX: {
        if (!json_is_array(node)) {
            if (updef) ec->notfound = true;
            return;
        }
        long long len = (long long)json_array_size(node);
        for (size_t k = 0; k < s->n; k++) {
            long long ix = s->idx[k] < 0 ? len + s->idx[k] : s->idx[k];
            if (ix >= 0 && ix < len)
                walk(ec, p, i + 1, end, json_array_get(node, (size_t)ix), next_def, out);
        }
        return;
    }
    case SEG_WILDCARD:
        if (json_is_object(node)) {
            const char *k;
            json_t *v;
            json_object_foreach(node, k, v) { walk(ec, p, i + 1, end, v, false, out); }
        } else if (json_is_array(node)) {
            size_t k;
            json_t *v;
            json_array_foreach(node, k, v) { walk(ec, p, i + 1, end, v, false, out); }
        }
        return;
    case SEG_SLICE: {
        if (!json_is_array(node)) {
            if (updef) ec->notfound = true;
            return;
        }
        long long len = (long long)json_array_size(node);
        long long step = s->step;
        long long lo, hi;
        if (step > 0) {
            lo = s->has_start ? (s->start < 0 ? len + s->start : s->start) : 0;
            hi = s->has_end ? (s->end < 0 ? len + s->end : s->end) : len;
            if (lo < 0) lo = 0;
            if (hi > len) hi = len;
            for (long long k = lo; k < hi; k += step)
                walk(ec, p, i + 1, end, json_array_get(node, (size_t)k), false, out);
        } else {
            lo = s->has_start ? (s->start < 0 ? len + s->start : s->start) : len - 1;
            hi = s->has_end ? (s->end < 0 ? len + s->end : s->end) : -1;
            if (lo >= len) lo = len - 1;
            if (hi < -1) hi = -1;
            for (long long k = lo; k > hi; k += step)
                walk(ec, p, i + 1, end, json_array_get(node, (size_t)k), false, out);
        }
        return;
    }
    case SEG_FILTER:
        if (json_is_array(node)) {
            size_t k;
            json_t *v;
            json_array_foreach(node, k, v) {
                if (filter_match(ec, s->filter, v)) walk(ec, p, i + 1, end, v, false, out);
            }
        } else if (json_is_object(node) && !s->deep) {
            if (filter_match(ec, s->filter, node)) walk(ec, p, i + 1, end, node, false, out);
        }
        return;
    case SEG_FUNC: return; /* handled by the caller */
    }
}

/* `..`: the segment applies at node and at every descendant, in document order. */
static void walk_deep(evalctx *ec, const sl_jsonpath *p, size_t i, size_t end, json_t *node,
                      json_t *out) {
    if (!spend(ec)) return;
    const seg *s = &p->segs[i];
    if (s->kind == SEG_FILTER) {
        /* filters test every descendant value once (objects' members and arrays' elements) */
        if (json_is_object(node)) {
            const char *k;
            json_t *v;
            json_object_foreach(node, k, v) {
                if (filter_match(ec, s->filter, v)) walk(ec, p, i + 1, end, v, false, out);
            }
        } else {
            apply_seg(ec, p, i, end, node, false, out);
        }
    } else {
        apply_seg(ec, p, i, end, node, false, out);
    }
    if (json_is_object(node)) {
        const char *k;
        json_t *v;
        json_object_foreach(node, k, v) { walk_deep(ec, p, i, end, v, out); }
    } else if (json_is_array(node)) {
        size_t k;
        json_t *v;
        json_array_foreach(node, k, v) { walk_deep(ec, p, i, end, v, out); }
    }
}

static void walk(evalctx *ec, const sl_jsonpath *p, size_t i, size_t end, json_t *node, bool updef,
                 json_t *out) {
    if (ec->notfound || !spend(ec)) return;
    if (i == end) {
        json_array_append(out, node);
        return;
    }
    if (p->segs[i].deep) walk_deep(ec, p, i, end, node, out);
    else apply_seg(ec, p, i, end, node, updef, out);
}

/* Value comparisons ------------------------------------------------------------------------ */

static int num_cmp(const json_t *a, const json_t *b) {
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static bool values_equal(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b)) return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_ARRAY: {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!values_equal(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !values_equal(v, w)) return false;
        }
        return true;
    }
    default: return true; /* true, false, null */
    }
}

static bool array_has(const json_t *arr, const json_t *v) {
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)arr, i, e) {
        if (values_equal(e, v)) return true;
    }
    return false;
}

static size_t utf8_length(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* New reference to an operand's value, or NULL when its path matches nothing. */
static json_t *operand_value(evalctx *ec, const operand *o, json_t *cur) {
    if (o->lit) return json_incref(o->lit);
    json_t *start = o->path->root == '@' ? cur : o->path->root == 'c' ? ec->context : ec->input;
    const char *why = NULL;
    return eval_path(o->path, start, ec->input, ec->context, ec->budget, &why);
}

static bool compare(const fexpr *e, json_t *l, json_t *r) {
    switch (e->op) {
    case OP_EQ: return l && r && values_equal(l, r);
    case OP_NE: return !(l && r && values_equal(l, r));
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: {
        if (!l || !r) return false;
        int c;
        if (json_is_number(l) && json_is_number(r)) c = num_cmp(l, r);
        else if (json_is_string(l) && json_is_string(r))
            c = strcmp(json_string_value(l), json_string_value(r));
        else return false;
        return e->op == OP_LT ? c < 0 : e->op == OP_LE ? c <= 0 : e->op == OP_GT ? c > 0 : c >= 0;
    }
    case OP_RE:
        return l && json_is_string(l) && regexec(e->re, json_string_value(l), 0, NULL, 0) == 0;
    case OP_IN: return l && r && json_is_array(r) && array_has(r, l);
    case OP_NIN: return !(l && r && json_is_array(r) && array_has(r, l));
    case OP_SUBSETOF:
    case OP_ANYOF:
    case OP_NONEOF: {
        if (!l || !r || !json_is_array(l) || !json_is_array(r)) return false;
        size_t i, hits = 0;
        json_t *v;
        json_array_foreach(l, i, v) { hits += array_has(r, v); }
        if (e->op == OP_SUBSETOF) return hits == json_array_size(l);
        if (e->op == OP_ANYOF) return hits > 0;
        return hits == 0;
    }
    case OP_SIZE: {
        if (!l || !r || !json_is_integer(r)) return false;
        json_int_t want = json_integer_value(r);
        if (json_is_array(l)) return (json_int_t)json_array_size(l) == want;
        if (json_is_string(l))
            return (json_int_t)utf8_length(json_string_value(l), json_string_length(l)) == want;
        return false;
    }
    case OP_EMPTY: {
        if (!l || !r || !json_is_boolean(r)) return false;
        bool empty;
        if (json_is_array(l)) empty = json_array_size(l) == 0;
        else if (json_is_string(l)) empty = json_string_length(l) == 0;
        else return false;
        return empty == json_is_true(r);
    }
    case OP_CONTAINS:
        if (!l || !r) return false;
        if (json_is_array(l)) return array_has(l, r);
        if (json_is_string(l) && json_is_string(r))
            return strstr(json_string_value(l), json_string_value(r)) != NULL;
        return false;
    }
    return false;
}

static bool filter_match(evalctx *ec, const fexpr *e, json_t *cur) {
    switch (e->kind) {
    case FX_OR: return filter_match(ec, e->a, cur) || filter_match(ec, e->b, cur);
    case FX_AND: return filter_match(ec, e->a, cur) && filter_match(ec, e->b, cur);
    case FX_NOT: return !filter_match(ec, e->a, cur);
    case FX_EXISTS: {
        json_t *v = operand_value(ec, &e->l, cur);
        bool found = v != NULL;
        /* an indefinite path "exists" when it matched something */
        if (v && json_is_array(v) && !sl_jsonpath_is_definite(e->l.path))
            found = json_array_size(v) > 0;
        json_decref(v);
        return found;
    }
    case FX_CMP: {
        json_t *l = operand_value(ec, &e->l, cur);
        json_t *r = e->re ? NULL : operand_value(ec, &e->r, cur);
        bool m = compare(e, l, r);
        json_decref(l);
        json_decref(r);
        return m;
    }
    }
    return false;
}

/* Functions -------------------------------------------------------------------------------- */

static json_t *apply_fn(fn_kind fn, json_t *v, const char **why) {
    switch (fn) {
    case FN_LENGTH:
        if (json_is_array(v)) return json_integer((json_int_t)json_array_size(v));
        if (json_is_object(v)) return json_integer((json_int_t)json_object_size(v));
        if (json_is_string(v))
            return json_integer(
                (json_int_t)utf8_length(json_string_value(v), json_string_length(v)));
        *why = "length() needs an array, an object or a string";
        return NULL;
    case FN_KEYS: {
        if (!json_is_object(v)) {
            *why = "keys() needs an object";
            return NULL;
        }
        json_t *out = json_array();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) { json_array_append_new(out, json_string(k)); }
        return out;
    }
    case FN_FIRST:
    case FN_LAST:
        if (!json_is_array(v) || json_array_size(v) == 0) {
            *why = "first() and last() need a non-empty array";
            return NULL;
        }
        return json_incref(json_array_get(v, fn == FN_FIRST ? 0 : json_array_size(v) - 1));
    case FN_MIN:
    case FN_MAX:
    case FN_AVG:
    case FN_SUM:
    case FN_STDDEV: {
        if (!json_is_array(v)) {
            *why = "aggregation functions need an array of numbers";
            return NULL;
        }
        size_t n = 0, i;
        bool all_int = true;
        json_int_t isum = 0;
        bool ioverflow = false;
        double sum = 0, sumsq = 0;
        json_t *best = NULL, *x;
        json_array_foreach(v, i, x) {
            if (!json_is_number(x)) continue;
            n++;
            double d = json_number_value(x);
            sum += d;
            sumsq += d * d;
            if (json_is_integer(x)) {
                if (__builtin_add_overflow(isum, json_integer_value(x), &isum)) ioverflow = true;
            } else {
                all_int = false;
            }
            if (!best || (fn == FN_MIN ? num_cmp(x, best) < 0 : num_cmp(x, best) > 0)) best = x;
        }
        if (n == 0) {
            *why = "aggregation function applied to an array with no numbers";
            return NULL;
        }
        if (fn == FN_MIN || fn == FN_MAX) return json_incref(best);
        if (fn == FN_SUM) return all_int && !ioverflow ? json_integer(isum) : json_real(sum);
        double mean = sum / (double)n;
        if (fn == FN_AVG) return json_real(mean);
        double var = sumsq / (double)n - mean * mean;
        return json_real(var > 0 ? sqrt(var) : 0.0);
    }
    }
    *why = "unknown function";
    return NULL;
}

static json_t *eval_path(const sl_jsonpath *p, json_t *start, json_t *input, json_t *context,
                         size_t *budget, const char **why) {
    if (!start) {
        *why = "no document to evaluate against";
        return NULL;
    }
    if (*budget == 0) {
        *why = "evaluation exceeded its step budget";
        return NULL;
    }
    (*budget)--; /* every evaluation costs, so filters inside filters are bounded too */
    evalctx ec = {.input = input, .context = context, .budget = budget};
    size_t end = p->nsegs;
    if (p->has_fn) end--;
    json_t *out = json_array();
    walk(&ec, p, 0, end, start, true, out);
    if (*budget == 0) {
        json_decref(out);
        *why = "evaluation exceeded its step budget";
        return NULL;
    }
    if (ec.notfound) {
        json_decref(out);
        *why = "not found";
        return NULL;
    }
    json_t *val;
    if (p->prefix_definite) {
        if (json_array_size(out) == 0) {
            json_decref(out);
            *why = "not found";
            return NULL;
        }
        val = json_incref(json_array_get(out, 0));
        json_decref(out);
    } else {
        val = out;
    }
    if (!p->has_fn) return val;
    json_t *r = apply_fn(p->segs[p->nsegs - 1].fn, val, why);
    json_decref(val);
    return r;
}

json_t *sl_jsonpath_eval(const sl_jsonpath *p, json_t *input, json_t *context, char *err,
                         size_t errlen) {
    if (err && errlen) err[0] = 0;
    size_t budget = EVAL_BUDGET;
    const char *why = NULL;
    json_t *start = p->root == 'c' ? context : input;
    json_t *r = eval_path(p, start, input, context, &budget, &why);
    if (!r && err && errlen) {
        if (why && strcmp(why, "not found") != 0)
            snprintf(err, errlen, "The JSONPath '%.200s' could not be evaluated: %s", p->text, why);
        else
            snprintf(err, errlen, "The JSONPath '%.200s' could not be found in the %s", p->text,
                     p->root == 'c' ? "context object" : "input");
    }
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* ResultPath */

const char *sl_json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static void describe_prefix(const sl_jsonpath *p, size_t upto, sl_buf *b) {
    sl_buf_putc(b, '$');
    for (size_t i = 0; i < upto; i++) {
        const seg *s = &p->segs[i];
        if (s->kind == SEG_NAME) sl_buf_printf(b, ".%s", s->names[0]);
        else sl_buf_printf(b, "[%lld]", s->idx[0]);
    }
}

static json_t *put_rec(const sl_jsonpath *p, size_t i, json_t *node, json_t *value, char *err,
                       size_t errlen) {
    if (i == p->nsegs) return json_incref(value);
    const seg *s = &p->segs[i];
    const char *problem = NULL;
    if (s->kind == SEG_NAME) {
        if (!node) {
            json_t *child = put_rec(p, i + 1, NULL, value, err, errlen);
            if (!child) return NULL;
            json_t *obj = json_object();
            json_object_set_new(obj, s->names[0], child);
            return obj;
        }
        if (json_is_object(node)) {
            json_t *child =
                put_rec(p, i + 1, json_object_get(node, s->names[0]), value, err, errlen);
            if (!child) return NULL;
            json_t *copy = json_copy(node);
            json_object_set_new(copy, s->names[0], child);
            return copy;
        }
        problem = "an object";
    } else {
        if (node && json_is_array(node)) {
            long long len = (long long)json_array_size(node);
            long long ix = s->idx[0] < 0 ? len + s->idx[0] : s->idx[0];
            if (ix >= 0 && ix < len) {
                json_t *child =
                    put_rec(p, i + 1, json_array_get(node, (size_t)ix), value, err, errlen);
                if (!child) return NULL;
                json_t *copy = json_copy(node);
                json_array_set_new(copy, (size_t)ix, child);
                return copy;
            }
            if (err && errlen) {
                sl_buf b;
                sl_buf_init(&b);
                describe_prefix(p, i, &b);
                snprintf(err, errlen,
                         "Unable to apply ResultPath '%.200s': index %lld is out of bounds for "
                         "'%s' (%lld elements)",
                         p->text, s->idx[0], b.data, len);
                sl_buf_free(&b);
            }
            return NULL;
        }
        problem = "an array";
    }
    if (err && errlen) {
        sl_buf b;
        sl_buf_init(&b);
        describe_prefix(p, i, &b);
        if (node)
            snprintf(err, errlen, "Unable to apply ResultPath '%.200s': '%s' is %s, not %s",
                     p->text, b.data, sl_json_kind(node), problem);
        else
            snprintf(err, errlen, "Unable to apply ResultPath '%.200s': '%s' does not exist",
                     p->text, b.data);
        sl_buf_free(&b);
    }
    return NULL;
}

json_t *sl_jsonpath_put(const sl_jsonpath *ref_path, json_t *root, json_t *value, char *err,
                        size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!ref_path->reference) {
        if (err && errlen)
            snprintf(err, errlen,
                     "The ResultPath '%.200s' is not a reference path (only '$', '.name', "
                     "\"['name']\" and '[index]' steps are allowed)",
                     ref_path->text);
        return NULL;
    }
    return put_rec(ref_path, 0, root, value, err, errlen);
}
