/* pattern_json: the strict JSON reader behind the pattern compiler. jansson would do for
 * events, but a pattern needs what jansson throws away: the text of each number (3.0e2 and 300
 * are the same value but not the same literal), members in document order with duplicates kept,
 * and the line and column of each token, so errors can say where they are the way AWS's
 * messages do (Jackson's "current location": just after the offending token).
 * It allocates a tree; it never reads past len and never recurses deeper than
 * SL_PATTERN_MAX_DEPTH. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "events/pattern_internal.h"

typedef struct {
    const unsigned char *s;
    size_t len, i;
    sl_pj_pos pos;
    const char *reason;
    char *rbuf;
    size_t rlen;
    sl_pj_pos err_pos;
    bool failed;
} reader;

static void advance(reader *r) {
    unsigned char c = r->s[r->i++];
    if (c == '\n') {
        r->pos.line++;
        r->pos.col = 1;
    } else if ((c & 0xC0) != 0x80) {
        r->pos.col++;
    }
}

static int peek(const reader *r) { return r->i < r->len ? r->s[r->i] : -1; }

static void fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(reader *r, const char *fmt, ...) {
    if (r->failed) return;
    r->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->rbuf, r->rlen, fmt, ap);
    va_end(ap);
    r->reason = r->rbuf;
    r->err_pos = r->pos;
    /* Jackson reports a bad character from just after it, having consumed it */
    if (r->i < r->len && (!strncmp(r->rbuf, "Unexpected character", 20) ||
                          !strncmp(r->rbuf, "Unrecognized character escape", 29) ||
                          !strncmp(r->rbuf, "Invalid", 7) || !strncmp(r->rbuf, "Illegal", 7)))
        r->err_pos.col++;
}

/* Jackson's way of naming a character in a message: ('x' (code 120)), (CTRL-CHAR, code 10). */
static void describe(const reader *r, char *out, size_t n) {
    int c = peek(r);
    if (c < 0) {
        snprintf(out, n, "end-of-input");
    } else if (c < 0x20) {
        snprintf(out, n, "(CTRL-CHAR, code %d)", c);
    } else if (c < 0x80) {
        snprintf(out, n, "('%c' (code %d))", c, c);
    } else {
        /* show the whole UTF-8 sequence and its code point when it is well formed */
        size_t k = 1;
        unsigned cp = (unsigned)c;
        int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        if (extra) cp = (unsigned)c & (0x3Fu >> extra);
        for (; extra > 0 && r->i + k < r->len && (r->s[r->i + k] & 0xC0) == 0x80; extra--, k++)
            cp = (cp << 6) | (r->s[r->i + k] & 0x3Fu);
        if (extra) {
            snprintf(out, n, "(code 0x%x)", (unsigned)c);
        } else {
            snprintf(out, n, "('%.*s' (code %u / 0x%x))", (int)k, (const char *)r->s + r->i, cp,
                     cp);
        }
    }
}

static void skip_ws(reader *r) {
    while (r->i < r->len) {
        unsigned char c = r->s[r->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        advance(r);
    }
}

static sl_pj *new_node(sl_pj_type t) {
    sl_pj *v = sl_xcalloc(1, sizeof *v);
    v->type = t;
    return v;
}

void sl_pj_free(sl_pj *v) {
    if (!v) return;
    free(v->str);
    for (size_t k = 0; v->members && k < v->n; k++) {
        free(v->members[k].key);
        sl_pj_free(v->members[k].value);
    }
    free(v->members);
    for (size_t k = 0; v->items && k < v->n; k++) sl_pj_free(v->items[k]);
    free(v->items);
    free(v);
}

static void put_utf8(sl_buf *b, unsigned cp) {
    char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6)), t[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12)), t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18)), t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), t[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    sl_buf_append(b, t, n);
}

static int hex4(reader *r, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int c = peek(r);
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            char what[48];
            describe(r, what, sizeof what);
            if (c < 0) {
                fail(r, "Unexpected end-of-input in character escape sequence");
            } else {
                fail(r,
                     "Unexpected character %s: expected a hex-digit for character escape "
                     "sequence",
                     what);
            }
            return -1;
        }
        v = v * 16 + (unsigned)d;
        advance(r);
    }
    *out = v;
    return 0;
}

/* Reads a string whose opening quote is at r->i. */
static char *read_string(reader *r, size_t *out_len) {
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_reserve(&b, 16);
    b.data[0] = 0; /* an empty string is still a terminated one */
    advance(r);    /* opening quote */
    for (;;) {
        int c = peek(r);
        if (c < 0) {
            fail(r, "Unexpected end-of-input: was expecting closing quote for a string value");
            goto bad;
        }
        if (c == '"') {
            advance(r);
            break;
        }
        if (c < 0x20) {
            fail(r,
                 "Illegal unquoted character ((CTRL-CHAR, code %d)): has to be escaped using "
                 "backslash to be included in string value",
                 c);
            goto bad;
        }
        if (c == '\\') {
            advance(r);
            int e = peek(r);
            unsigned cp;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                sl_buf_putc(&b, (char)e);
                advance(r);
                break;
            case 'b':
                sl_buf_putc(&b, '\b');
                advance(r);
                break;
            case 'f':
                sl_buf_putc(&b, '\f');
                advance(r);
                break;
            case 'n':
                sl_buf_putc(&b, '\n');
                advance(r);
                break;
            case 'r':
                sl_buf_putc(&b, '\r');
                advance(r);
                break;
            case 't':
                sl_buf_putc(&b, '\t');
                advance(r);
                break;
            case 'u':
                advance(r);
                if (hex4(r, &cp)) goto bad;
                if (cp >= 0xD800 && cp < 0xDC00 && r->i + 1 < r->len && r->s[r->i] == '\\' &&
                    r->s[r->i + 1] == 'u') {
                    size_t save_i = r->i;
                    sl_pj_pos save_pos = r->pos;
                    unsigned lo;
                    advance(r), advance(r);
                    if (hex4(r, &lo)) goto bad;
                    if (lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else {
                        r->i = save_i, r->pos = save_pos; /* unpaired: keep the second escape */
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xD800 && cp < 0xE000) {
                    cp = 0xFFFD; /* an unpaired surrogate cannot be UTF-8 */
                }
                put_utf8(&b, cp);
                break;
            default: {
                if (e < 0) {
                    fail(r, "Unexpected end-of-input in character escape sequence");
                } else {
                    fail(r, "Unrecognized character escape '%c' (code %d)",
                         e >= 0x20 && e < 0x7F ? e : '?', e);
                }
                goto bad;
            }
            }
            continue;
        }
        if (c < 0x80) {
            sl_buf_putc(&b, (char)c);
            advance(r);
            continue;
        }
        /* raw UTF-8: well formed, shortest form, no surrogates, at most U+10FFFF */
        int extra = c >= 0xC2 && c <= 0xDF   ? 1
                    : c >= 0xE0 && c <= 0xEF ? 2
                    : c >= 0xF0 && c <= 0xF4 ? 3
                                             : -1;
        if (extra < 0) {
            fail(r, "Invalid UTF-8 start byte 0x%x", (unsigned)c);
            goto bad;
        }
        if (r->i + (size_t)extra >= r->len) {
            advance(r);
            fail(r, "Unexpected end-of-input: was expecting closing quote for a string value");
            goto bad;
        }
        unsigned cp = (unsigned)c & (0x3Fu >> extra);
        for (int k = 1; k <= extra; k++) {
            unsigned char m = r->s[r->i + (size_t)k];
            if ((m & 0xC0) != 0x80) {
                fail(r, "Invalid UTF-8 middle byte 0x%x", (unsigned)m);
                goto bad;
            }
            cp = (cp << 6) | (m & 0x3Fu);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
            fail(r, "Invalid UTF-8 start byte 0x%x", (unsigned)c);
            goto bad;
        }
        sl_buf_append(&b, r->s + r->i, (size_t)extra + 1);
        for (int k = 0; k <= extra; k++) advance(r);
    }
    *out_len = b.len;
    return sl_buf_steal(&b);
bad:
    sl_buf_free(&b);
    return NULL;
}

static sl_pj *read_number(reader *r) {
    size_t start = r->i;
    if (peek(r) == '-') advance(r);
    int c = peek(r);
    if (c == '0') {
        advance(r);
        c = peek(r);
        if (c >= '0' && c <= '9') {
            fail(r, "Invalid numeric value: Leading zeroes not allowed");
            return NULL;
        }
    } else if (c >= '1' && c <= '9') {
        while ((c = peek(r)) >= '0' && c <= '9') advance(r);
    } else {
        char what[48];
        describe(r, what, sizeof what);
        fail(r,
             "Unexpected character %s in numeric value: expected digit (0-9) to follow minus "
             "sign, for valid numeric value",
             what);
        return NULL;
    }
    if (peek(r) == '.') {
        advance(r);
        c = peek(r);
        if (!(c >= '0' && c <= '9')) {
            char what[48];
            describe(r, what, sizeof what);
            fail(r,
                 "Unexpected character %s in numeric value: Decimal point not followed by a "
                 "digit",
                 what);
            return NULL;
        }
        while ((c = peek(r)) >= '0' && c <= '9') advance(r);
    }
    c = peek(r);
    if (c == 'e' || c == 'E') {
        advance(r);
        c = peek(r);
        if (c == '+' || c == '-') advance(r), c = peek(r);
        if (!(c >= '0' && c <= '9')) {
            char what[48];
            describe(r, what, sizeof what);
            fail(r,
                 "Unexpected character %s in numeric value: Exponent indicator not followed "
                 "by a digit",
                 what);
            return NULL;
        }
        while ((c = peek(r)) >= '0' && c <= '9') advance(r);
    }
    sl_pj *v = new_node(SL_PJ_NUMBER);
    v->len = r->i - start;
    v->str = sl_xstrndup((const char *)r->s + start, v->len);
    v->end = r->pos;
    return v;
}

static bool is_token_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static sl_pj *read_value(reader *r, unsigned depth);

static sl_pj *read_object(reader *r, unsigned depth) {
    sl_pj *v = new_node(SL_PJ_OBJECT);
    size_t cap = 0;
    advance(r); /* { */
    skip_ws(r);
    if (peek(r) == '}') {
        advance(r);
        v->end = r->pos;
        return v;
    }
    for (;;) {
        skip_ws(r);
        if (peek(r) != '"') {
            char what[48];
            describe(r, what, sizeof what);
            if (peek(r) < 0) {
                fail(r, "Unexpected end-of-input: expected close marker for Object");
            } else {
                fail(r, "Unexpected character %s: was expecting double-quote to start field name",
                     what);
            }
            goto bad;
        }
        size_t klen;
        char *key = read_string(r, &klen);
        if (!key) goto bad;
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->members = sl_xrealloc(v->members, cap * sizeof *v->members);
        }
        sl_pj_member *m = &v->members[v->n++];
        m->key = key, m->key_len = klen, m->key_end = r->pos, m->value = NULL;
        skip_ws(r);
        if (peek(r) != ':') {
            char what[48];
            describe(r, what, sizeof what);
            if (peek(r) < 0) {
                fail(r, "Unexpected end-of-input: expected close marker for Object");
            } else {
                fail(r,
                     "Unexpected character %s: was expecting a colon to separate field name "
                     "and value",
                     what);
            }
            goto bad;
        }
        advance(r);
        m->value = read_value(r, depth);
        if (!m->value) goto bad;
        skip_ws(r);
        int c = peek(r);
        if (c == ',') {
            advance(r);
            continue;
        }
        if (c == '}') {
            advance(r);
            v->end = r->pos;
            return v;
        }
        if (c < 0) {
            fail(r, "Unexpected end-of-input: expected close marker for Object");
        } else {
            char what[48];
            describe(r, what, sizeof what);
            fail(r, "Unexpected character %s: was expecting comma to separate Object entries",
                 what);
        }
        goto bad;
    }
bad:
    sl_pj_free(v);
    return NULL;
}

static sl_pj *read_array(reader *r, unsigned depth) {
    sl_pj *v = new_node(SL_PJ_ARRAY);
    size_t cap = 0;
    advance(r); /* [ */
    skip_ws(r);
    if (peek(r) == ']') {
        advance(r);
        v->end = r->pos;
        return v;
    }
    for (;;) {
        sl_pj *item = read_value(r, depth);
        if (!item) goto bad;
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = sl_xrealloc(v->items, cap * sizeof *v->items);
        }
        v->items[v->n++] = item;
        skip_ws(r);
        int c = peek(r);
        if (c == ',') {
            advance(r);
            continue;
        }
        if (c == ']') {
            advance(r);
            v->end = r->pos;
            return v;
        }
        if (c < 0) {
            fail(r, "Unexpected end-of-input: expected close marker for Array");
        } else {
            char what[48];
            describe(r, what, sizeof what);
            fail(r, "Unexpected character %s: was expecting comma to separate Array entries", what);
        }
        goto bad;
    }
bad:
    sl_pj_free(v);
    return NULL;
}

static sl_pj *read_value(reader *r, unsigned depth) {
    skip_ws(r);
    int c = peek(r);
    if ((c == '{' || c == '[') && depth >= SL_PATTERN_MAX_DEPTH) {
        fail(r, "Document nesting depth exceeds the maximum allowed (%d)", SL_PATTERN_MAX_DEPTH);
        return NULL;
    }
    switch (c) {
    case '{': return read_object(r, depth + 1);
    case '[': return read_array(r, depth + 1);
    case '"': {
        size_t n;
        char *s = read_string(r, &n);
        if (!s) return NULL;
        sl_pj *v = new_node(SL_PJ_STRING);
        v->str = s, v->len = n, v->end = r->pos;
        return v;
    }
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': return read_number(r);
    case -1: fail(r, "Unexpected end-of-input: expected a value"); return NULL;
    default: break;
    }
    if (is_token_char(c)) {
        size_t start = r->i, n = 0;
        while (r->i + n < r->len && is_token_char(r->s[r->i + n]) && n < 256) n++;
        static const struct {
            const char *word;
            sl_pj_type type;
        } words[] = {{"true", SL_PJ_TRUE}, {"false", SL_PJ_FALSE}, {"null", SL_PJ_NULL}};
        for (size_t k = 0; k < 3; k++) {
            if (n == strlen(words[k].word) && !memcmp(r->s + start, words[k].word, n)) {
                for (size_t j = 0; j < n; j++) advance(r);
                sl_pj *v = new_node(words[k].type);
                v->end = r->pos;
                return v;
            }
        }
        for (size_t j = 0; j < n; j++) advance(r);
        fail(r,
             "Unrecognized token '%.*s': was expecting (JSON String, Number, Array, Object or "
             "token 'null', 'true' or 'false')",
             (int)(n > 64 ? 64 : n), (const char *)r->s + start);
        return NULL;
    }
    char what[48];
    describe(r, what, sizeof what);
    fail(r,
         "Unexpected character %s: expected a valid value (JSON String, Number, Array, Object "
         "or token 'null', 'true' or 'false')",
         what);
    return NULL;
}

sl_pj *sl_pj_parse(const char *text, size_t len, const char **reason, char *reason_buf,
                   size_t reason_len, sl_pj_pos *pos) {
    reader r = {.s = (const unsigned char *)text,
                .len = len,
                .pos = {1, 1},
                .rbuf = reason_buf,
                .rlen = reason_len};
    sl_pj *v = read_value(&r, 0);
    if (v) {
        skip_ws(&r);
        if (r.i < r.len) {
            char what[48];
            describe(&r, what, sizeof what);
            fail(&r, "Unexpected character %s: expected end of input", what);
            sl_pj_free(v);
            v = NULL;
        }
    }
    if (!v) {
        *reason = r.reason;
        *pos = r.err_pos;
    }
    return v;
}
