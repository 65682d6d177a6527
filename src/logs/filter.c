/* filter: the filter pattern compiler and matcher. A pattern is either a list of text terms
 * (each must, may or must not occur) or a brace-enclosed JSON expression tree evaluated
 * against the message parsed as JSON. Parsing is a small recursive descent with a depth limit,
 * so hostile patterns cannot exhaust the stack; every rejection says what was wrong. */
#include "logs/filter.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define MAX_DEPTH 32
#define MAX_TERMS 64

typedef enum {
    TERM_MUST,
    TERM_ANY,
    TERM_NOT
} term_kind;

typedef struct {
    term_kind kind;
    char *text;
    size_t len;
} term;

typedef enum {
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_GT,
    OP_LE,
    OP_GE,
    OP_TRUE,
    OP_FALSE,
    OP_NULL,
    OP_MISSING
} cmp_op;
typedef enum {
    VAL_STR,
    VAL_NUM,
    VAL_BOOL
} val_kind;
enum {
    NODE_AND,
    NODE_OR,
    NODE_CMP
};

typedef struct {
    char *key; /* NULL: an array index */
    size_t index;
} path_step;

typedef struct node {
    int kind; /* NODE_* */
    struct node *l, *r;
    path_step *path;
    size_t npath;
    cmp_op op;
    val_kind vkind;
    char *str;
    double num;
    bool b;
} node;

struct sl_log_filter {
    bool json;
    term *terms;
    size_t nterms;
    size_t nany;
    node *root;
};

typedef struct {
    const char *s;
    size_t i, n;
    char *err;
    size_t errlen;
    int depth;
    bool failed;
} parser;

static void fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *p, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = true;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "Invalid filter pattern '%.*s': %s", (int)(p->n > 200 ? 200 : p->n),
             p->s, msg);
}

static void skip_space(parser *p) {
    while (p->i < p->n && isspace((unsigned char)p->s[p->i])) p->i++;
}

static bool at(parser *p, const char *tok) {
    size_t k = strlen(tok);
    return p->i + k <= p->n && !memcmp(p->s + p->i, tok, k);
}

/* A quoted string starting at p->i (on the quote); backslash escapes the next character. */
static char *quoted(parser *p, size_t *len) {
    sl_buf b;
    sl_buf_init(&b);
    p->i++;
    while (p->i < p->n && p->s[p->i] != '"') {
        if (p->s[p->i] == '\\' && p->i + 1 < p->n) p->i++;
        sl_buf_putc(&b, p->s[p->i++]);
    }
    if (p->i >= p->n) {
        sl_buf_free(&b);
        fail(p, "unterminated quoted string");
        return NULL;
    }
    p->i++;
    *len = b.len;
    return sl_buf_steal(&b);
}

/* ---- text patterns ---- */

static bool parse_terms(parser *p, sl_log_filter *f) {
    for (;;) {
        skip_space(p);
        if (p->i >= p->n) return true;
        term_kind kind = TERM_MUST;
        if (p->s[p->i] == '?') kind = TERM_ANY, p->i++;
        else if (p->s[p->i] == '-') kind = TERM_NOT, p->i++;
        if (p->i >= p->n || isspace((unsigned char)p->s[p->i]))
            return fail(p, "'%c' must be followed by a term", kind == TERM_ANY ? '?' : '-'), false;
        if (f->nterms == MAX_TERMS) return fail(p, "more than %d terms", MAX_TERMS), false;
        term t = {kind, NULL, 0};
        char c = p->s[p->i];
        if (c == '"') {
            t.text = quoted(p, &t.len);
            if (!t.text) return false;
        } else if (c == '[') {
            return fail(p, "space-delimited patterns ([...]) are not supported by Sluice"), false;
        } else if (c == '%') {
            return fail(p, "regular expression patterns (%%...%%) are not supported by Sluice"),
                   false;
        } else if (c == '{') {
            return fail(p, "a JSON pattern must be the whole pattern"), false;
        } else {
            size_t start = p->i;
            while (p->i < p->n && !isspace((unsigned char)p->s[p->i])) {
                if (p->s[p->i] == '"')
                    return fail(p, "a quote inside an unquoted term; quote the whole term"), false;
                p->i++;
            }
            t.len = p->i - start;
            t.text = sl_xstrndup(p->s + start, t.len);
        }
        f->terms = sl_xrealloc(f->terms, (f->nterms + 1) * sizeof *f->terms);
        f->terms[f->nterms++] = t;
        if (kind == TERM_ANY) f->nany++;
    }
}

/* ---- JSON patterns ---- */

static void node_free(node *n) {
    if (!n) return;
    node_free(n->l);
    node_free(n->r);
    for (size_t i = 0; i < n->npath; i++) free(n->path[i].key);
    free(n->path);
    free(n->str);
    free(n);
}

static bool ident_char(char c) {
    return !isspace((unsigned char)c) && !strchr(".[]()=!<>&|{}\"'", c);
}

static bool bare_char(char c) { return !isspace((unsigned char)c) && !strchr("()=!<>&|{}\"", c); }

static bool parse_selector(parser *p, node *n) {
    if (p->i >= p->n || p->s[p->i] != '$')
        return fail(p, "expected a selector starting with $"), false;
    p->i++;
    while (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == '[')) {
        if (n->npath == MAX_DEPTH) return fail(p, "selector is too deep"), false;
        path_step step = {NULL, 0};
        if (p->s[p->i] == '.') {
            p->i++;
            size_t start = p->i;
            while (p->i < p->n && ident_char(p->s[p->i])) p->i++;
            if (p->i == start) return fail(p, "expected a field name after '.'"), false;
            if (p->i - start == 1 && p->s[start] == '*')
                return fail(p, "wildcard selectors ($.*) are not supported by Sluice"), false;
            step.key = sl_xstrndup(p->s + start, p->i - start);
        } else {
            p->i++;
            size_t start = p->i, idx = 0;
            while (p->i < p->n && isdigit((unsigned char)p->s[p->i]) && p->i - start < 9)
                idx = idx * 10 + (size_t)(p->s[p->i++] - '0');
            if (p->i == start || p->i >= p->n || p->s[p->i] != ']')
                return fail(p, "expected an array index like [0]"), false;
            p->i++;
            step.index = idx;
        }
        n->path = sl_xrealloc(n->path, (n->npath + 1) * sizeof *n->path);
        n->path[n->npath++] = step;
    }
    if (n->npath == 0) return fail(p, "a selector needs a field, e.g. $.level"), false;
    return true;
}

static bool keyword(parser *p, const char *kw) {
    size_t k = strlen(kw);
    if (p->i + k > p->n || strncasecmp(p->s + p->i, kw, k) != 0) return false;
    if (p->i + k < p->n && bare_char(p->s[p->i + k])) return false;
    p->i += k;
    return true;
}

static bool parse_value(parser *p, node *n) {
    skip_space(p);
    if (p->i >= p->n) return fail(p, "expected a value"), false;
    if (p->s[p->i] == '"') {
        size_t len;
        n->str = quoted(p, &len);
        n->vkind = VAL_STR;
        return n->str != NULL;
    }
    size_t start = p->i;
    while (p->i < p->n && bare_char(p->s[p->i])) p->i++;
    if (p->i == start) return fail(p, "expected a value"), false;
    n->str = sl_xstrndup(p->s + start, p->i - start);
    if (!strcmp(n->str, "true") || !strcmp(n->str, "false")) {
        n->vkind = VAL_BOOL;
        n->b = n->str[0] == 't';
        return true;
    }
    char *end;
    double d = strtod(n->str, &end);
    if (*end == '\0' && isfinite(d)) {
        n->vkind = VAL_NUM;
        n->num = d;
    } else {
        n->vkind = VAL_STR;
    }
    return true;
}

static node *parse_or(parser *p);

static node *parse_primary(parser *p) {
    skip_space(p);
    if (p->i < p->n && p->s[p->i] == '(') {
        if (++p->depth > MAX_DEPTH) return fail(p, "too many nested parentheses"), NULL;
        p->i++;
        node *n = parse_or(p);
        skip_space(p);
        if (n && (p->i >= p->n || p->s[p->i] != ')')) {
            fail(p, "expected ')'");
            node_free(n);
            return NULL;
        }
        p->i++;
        p->depth--;
        return n;
    }
    node *n = sl_xcalloc(1, sizeof *n);
    n->kind = NODE_CMP;
    if (!parse_selector(p, n)) return node_free(n), NULL;
    skip_space(p);
    static const struct {
        const char *tok;
        cmp_op op;
    } ops[] = {{"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
               {"=", OP_EQ},  {"<", OP_LT},  {">", OP_GT}};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        if (at(p, ops[k].tok)) {
            p->i += strlen(ops[k].tok);
            n->op = ops[k].op;
            if (!parse_value(p, n)) return node_free(n), NULL;
            if (n->op >= OP_LT && n->op <= OP_GE && n->vkind != VAL_NUM) {
                fail(p, "%s needs a number", ops[k].tok);
                return node_free(n), NULL;
            }
            return n;
        }
    }
    if (keyword(p, "IS")) {
        skip_space(p);
        if (keyword(p, "TRUE")) n->op = OP_TRUE;
        else if (keyword(p, "FALSE")) n->op = OP_FALSE;
        else if (keyword(p, "NULL")) n->op = OP_NULL;
        else return fail(p, "IS must be followed by TRUE, FALSE or NULL"), node_free(n), NULL;
        return n;
    }
    if (keyword(p, "NOT")) {
        skip_space(p);
        if (keyword(p, "EXISTS")) {
            n->op = OP_MISSING;
            return n;
        }
    }
    fail(p, "expected one of = != < > <= >= IS NOT EXISTS after the selector");
    node_free(n);
    return NULL;
}

static node *binary(int kind, node *l, node *r) {
    node *n = sl_xcalloc(1, sizeof *n);
    n->kind = kind;
    n->l = l;
    n->r = r;
    return n;
}

static node *parse_and(parser *p) {
    node *l = parse_primary(p);
    while (l) {
        skip_space(p);
        if (!at(p, "&&")) return l;
        p->i += 2;
        node *r = parse_primary(p);
        if (!r) return node_free(l), NULL;
        l = binary(NODE_AND, l, r);
    }
    return NULL;
}

static node *parse_or(parser *p) {
    node *l = parse_and(p);
    while (l) {
        skip_space(p);
        if (!at(p, "||")) return l;
        p->i += 2;
        node *r = parse_and(p);
        if (!r) return node_free(l), NULL;
        l = binary(NODE_OR, l, r);
    }
    return NULL;
}

static node *parse_json_pattern(parser *p) {
    p->i++; /* '{' */
    node *n = parse_or(p);
    if (!n) return NULL;
    skip_space(p);
    if (p->i >= p->n || p->s[p->i] != '}') {
        fail(p, "expected '}' to close the JSON pattern");
        return node_free(n), NULL;
    }
    p->i++;
    skip_space(p);
    if (p->i != p->n) {
        fail(p, "unexpected text after '}'");
        return node_free(n), NULL;
    }
    return n;
}

/* ---- compile ---- */

sl_log_filter *sl_log_filter_compile(const char *pattern, char *err, size_t errlen) {
    sl_log_filter *f = sl_xcalloc(1, sizeof *f);
    if (!pattern) return f;
    parser p = {.s = pattern, .n = strlen(pattern), .err = err, .errlen = errlen};
    skip_space(&p);
    if (p.i < p.n && pattern[p.i] == '{') {
        f->json = true;
        f->root = parse_json_pattern(&p);
    } else {
        parse_terms(&p, f);
    }
    if (p.failed) {
        sl_log_filter_free(f);
        return NULL;
    }
    return f;
}

void sl_log_filter_free(sl_log_filter *f) {
    if (!f) return;
    for (size_t i = 0; i < f->nterms; i++) free(f->terms[i].text);
    free(f->terms);
    node_free(f->root);
    free(f);
}

bool sl_log_filter_is_all(const sl_log_filter *f) { return !f->json && f->nterms == 0; }

/* ---- match ---- */

static bool contains(const char *msg, size_t len, const term *t) {
    if (t->len == 0) return true;
    return memmem(msg, len, t->text, t->len) != NULL;
}

/* '*' matches any run of characters; everything else literally. */
static bool glob(const char *pat, const char *s, size_t n) {
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0, pn = strlen(pat);
    while (si < n) {
        if (pi < pn && pat[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && pat[pi] == s[si]) {
            pi++, si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && pat[pi] == '*') pi++;
    return pi == pn;
}

static json_t *lookup(json_t *doc, const node *n) {
    json_t *v = doc;
    for (size_t i = 0; i < n->npath && v; i++) {
        if (n->path[i].key) v = json_is_object(v) ? json_object_get(v, n->path[i].key) : NULL;
        else v = json_is_array(v) ? json_array_get(v, n->path[i].index) : NULL;
    }
    return v;
}

static bool equal(const node *n, json_t *v) {
    switch (n->vkind) {
    case VAL_NUM: return json_is_number(v) && json_number_value(v) == n->num;
    case VAL_BOOL: return json_is_boolean(v) && json_is_true(v) == n->b;
    case VAL_STR:
        return json_is_string(v) && glob(n->str, json_string_value(v), json_string_length(v));
    }
    return false;
}

static bool eval(const node *n, json_t *doc) {
    if (n->kind == NODE_AND) return eval(n->l, doc) && eval(n->r, doc);
    if (n->kind == NODE_OR) return eval(n->l, doc) || eval(n->r, doc);
    json_t *v = lookup(doc, n);
    if (n->op == OP_MISSING) return v == NULL;
    if (!v) return false;
    double x = json_is_number(v) ? json_number_value(v) : NAN;
    switch (n->op) {
    case OP_EQ: return equal(n, v);
    case OP_NE: return !equal(n, v);
    case OP_LT: return json_is_number(v) && x < n->num;
    case OP_GT: return json_is_number(v) && x > n->num;
    case OP_LE: return json_is_number(v) && x <= n->num;
    case OP_GE: return json_is_number(v) && x >= n->num;
    case OP_TRUE: return json_is_true(v);
    case OP_FALSE: return json_is_false(v);
    case OP_NULL: return json_is_null(v);
    case OP_MISSING: break;
    }
    return false;
}

bool sl_log_filter_match(const sl_log_filter *f, const char *msg, size_t len) {
    if (f->json) {
        json_t *doc = json_loadb(msg, len, JSON_DECODE_ANY, NULL);
        if (!doc) return false;
        bool ok = json_is_object(doc) && eval(f->root, doc);
        json_decref(doc);
        return ok;
    }
    bool any = f->nany == 0;
    for (size_t i = 0; i < f->nterms; i++) {
        const term *t = &f->terms[i];
        bool has = contains(msg, len, t);
        if (t->kind == TERM_MUST && !has) return false;
        if (t->kind == TERM_NOT && has) return false;
        if (t->kind == TERM_ANY && has) any = true;
    }
    return any;
}
