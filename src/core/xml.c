/* xml: the strict XML reader behind sl_xml_parse. One pass over the input with an explicit
 * stack of open elements (no recursion, so depth is bounded by SL_XML_MAX_DEPTH and not by the C
 * stack). Every node is linked into the tree the moment it is created, so an error anywhere
 * frees everything with one sl_xml_free. It never expands anything but the five predefined
 * entities and character references: a DOCTYPE is refused outright, which is what S3 does. */
#include "core/xml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

typedef struct {
    sl_xml_node *node;
    sl_xml_node *last_child;
    const char *qname; /* points into the input: the end tag must repeat it exactly */
    size_t qname_len;
    size_t start; /* offset of '<', for "unterminated" messages */
    sl_buf text;
} xml_open;

typedef struct {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
    sl_xml_node *root;
    int depth;
    size_t elements;
    xml_open open[SL_XML_MAX_DEPTH];
} xml_parser;

/* Fills err with the problem and where it is; always returns false so callers can
 * `return fail(...)`. */
static bool fail(xml_parser *x, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(xml_parser *x, size_t at, const char *fmt, ...) {
    if (!x->err || !x->errlen) return false;
    size_t line = 1;
    for (size_t i = 0; i < at && i < x->len; i++)
        if (x->s[i] == '\n') line++;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(x->err, x->errlen, "XML error at byte %zu (line %zu): %s", at, line, msg);
    return false;
}

static bool at_lit(const xml_parser *x, const char *lit) {
    size_t n = strlen(lit);
    return x->len - x->pos >= n && memcmp(x->s + x->pos, lit, n) == 0;
}
static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool skip_ws(xml_parser *x) {
    size_t from = x->pos;
    while (x->pos < x->len && is_ws(x->s[x->pos])) x->pos++;
    return x->pos > from;
}
/* Byte offset of `needle` at or after from, or SIZE_MAX. */
static size_t find(const xml_parser *x, size_t from, const char *needle) {
    size_t n = strlen(needle);
    if (from > x->len) return SIZE_MAX;
    const char *hit = memmem(x->s + from, x->len - from, needle, n);
    return hit ? (size_t)(hit - x->s) : SIZE_MAX;
}

/* Names: ASCII letters, '_' and ':' start one; digits, '-' and '.' may follow; any non-ASCII
 * byte counts as a name character (the input is already known to be valid UTF-8). */
static bool name_start(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}
static bool name_char(unsigned char c) {
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Reads a qualified name (at most one ':', not at either end) at pos. */
static bool parse_qname(xml_parser *x, const char **name, size_t *len) {
    size_t from = x->pos;
    /* Each failure is `fail(); return false;` rather than `return fail()`: static analysers do
     * not follow the variadic fail() and would think *name may be left unset. */
    if (x->pos >= x->len) {
        fail(x, from, "unexpected end of input, expected a name");
        return false;
    }
    unsigned char first = (unsigned char)x->s[x->pos];
    if (!name_start(first)) {
        if (first > ' ' && first < 0x7F) fail(x, from, "expected a name, found '%c'", first);
        else fail(x, from, "expected a name, found byte 0x%02X", first);
        return false;
    }
    while (x->pos < x->len && name_char((unsigned char)x->s[x->pos])) x->pos++;
    size_t n = x->pos - from;
    if (n > SL_XML_MAX_NAME) {
        fail(x, from, "name longer than %d bytes", SL_XML_MAX_NAME);
        return false;
    }
    const char *colon = memchr(x->s + from, ':', n);
    if (colon) {
        size_t c = (size_t)(colon - x->s);
        if (c == from || c == x->pos - 1 || memchr(colon + 1, ':', x->pos - c - 1) ||
            !name_start((unsigned char)colon[1])) {
            fail(x, from, "malformed namespace prefix in '%.*s'", (int)n, x->s + from);
            return false;
        }
    }
    *name = x->s + from;
    *len = n;
    return true;
}

static int digit_value(char c, bool hex) {
    if (c >= '0' && c <= '9') return c - '0';
    if (hex && c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (hex && c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_utf8(sl_buf *b, uint32_t cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    sl_buf_append(b, u, n);
}

/* Decodes the reference at pos ('&' ... ';') into out (NULL: check only). */
static bool parse_reference(xml_parser *x, sl_buf *out) {
    size_t from = x->pos++;
    if (x->pos < x->len && x->s[x->pos] == '#') {
        bool hex = ++x->pos < x->len && x->s[x->pos] == 'x';
        if (hex) x->pos++;
        uint32_t cp = 0;
        size_t digits = 0;
        for (; x->pos < x->len; x->pos++, digits++) {
            char c = x->s[x->pos];
            int v = digit_value(c, hex);
            if (v < 0) break;
            /* Saturate: anything past U+10FFFF is rejected below, leading zeros are fine. */
            cp = cp > 0x10FFFF ? cp : cp * (hex ? 16u : 10u) + (uint32_t)v;
        }
        if (!digits) return fail(x, from, "character reference without digits");
        if (x->pos >= x->len || x->s[x->pos] != ';')
            return fail(x, from, "character reference missing ';'");
        x->pos++;
        if (cp == 0) return fail(x, from, "character reference to U+0000 is not allowed");
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return fail(x, from, "character reference to a UTF-16 surrogate (U+%04X)", cp);
        if (cp > 0x10FFFF) return fail(x, from, "character reference beyond U+10FFFF");
        if (out) put_utf8(out, cp);
        return true;
    }
    static const struct {
        const char *name;
        char c;
    } predefined[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"apos", '\''}, {"quot", '"'}};
    size_t name = x->pos;
    while (x->pos < x->len && x->pos - name <= SL_XML_MAX_NAME &&
           name_char((unsigned char)x->s[x->pos]))
        x->pos++;
    size_t n = x->pos - name;
    if (!n) return fail(x, from, "'&' must start an entity reference (write &amp;)");
    if (x->pos >= x->len || x->s[x->pos] != ';')
        return fail(x, from, "entity reference missing ';'");
    x->pos++;
    for (size_t i = 0; i < sizeof predefined / sizeof predefined[0]; i++) {
        if (strlen(predefined[i].name) == n && !memcmp(predefined[i].name, x->s + name, n)) {
            if (out) sl_buf_putc(out, predefined[i].c);
            return true;
        }
    }
    return fail(x, from, "unknown entity '&%.*s;' (only lt, gt, amp, apos and quot exist)",
                n > 40 ? 40 : (int)n, x->s + name);
}

/* Appends raw character data with XML's line-end normalisation: CR LF and a lone CR become LF. */
static void put_text(sl_buf *b, const char *s, size_t n) {
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\r') continue;
        sl_buf_append(b, s + run, i - run);
        sl_buf_putc(b, '\n');
        if (i + 1 < n && s[i + 1] == '\n') i++;
        run = i + 1;
    }
    sl_buf_append(b, s + run, n - run);
}

static bool parse_comment(xml_parser *x) {
    size_t from = x->pos;
    size_t dashes = find(x, from + 4, "--");
    if (dashes == SIZE_MAX) return fail(x, from, "unterminated comment");
    if (dashes + 2 >= x->len || x->s[dashes + 2] != '>')
        return fail(x, dashes, "'--' is not allowed inside a comment");
    x->pos = dashes + 3;
    return true;
}

static bool parse_pi(xml_parser *x) {
    size_t from = x->pos;
    x->pos += 2;
    const char *target = NULL;
    size_t n = 0;
    if (!parse_qname(x, &target, &n)) return false;
    if (n == 3 && (target[0] | 0x20) == 'x' && (target[1] | 0x20) == 'm' &&
        (target[2] | 0x20) == 'l')
        return fail(x, from, "the XML declaration must be the very first thing in the document");
    if (!at_lit(x, "?>") && !skip_ws(x))
        return fail(x, x->pos, "expected whitespace or '?>' after the processing instruction name");
    size_t end = find(x, x->pos, "?>");
    if (end == SIZE_MAX) return fail(x, from, "unterminated processing instruction");
    x->pos = end + 2;
    return true;
}

/* Reads one quoted attribute value at pos; decodes it into out when out is not NULL. */
static bool parse_quoted(xml_parser *x, sl_buf *out) {
    if (x->pos >= x->len || (x->s[x->pos] != '"' && x->s[x->pos] != '\''))
        return fail(x, x->pos, "attribute value must be quoted");
    char q = x->s[x->pos];
    size_t from = x->pos++;
    for (;;) {
        if (x->pos >= x->len) return fail(x, from, "unterminated attribute value");
        char c = x->s[x->pos];
        if (c == q) break;
        if (c == '<') return fail(x, x->pos, "'<' is not allowed in an attribute value");
        if (c == '&') {
            if (!parse_reference(x, out)) return false;
        } else {
            if (out) sl_buf_putc(out, c);
            x->pos++;
        }
    }
    x->pos++;
    return true;
}

/* <?xml version="1.0" encoding="UTF-8" standalone="yes"?>: version required, UTF-8 only. */
static bool parse_xml_decl(xml_parser *x) {
    size_t from = x->pos;
    x->pos += 5;
    bool version = false;
    sl_buf val;
    sl_buf_init(&val);
    bool ok = true;
    for (;;) {
        bool ws = skip_ws(x);
        if (at_lit(x, "?>")) {
            x->pos += 2;
            break;
        }
        if (x->pos >= x->len) {
            ok = fail(x, from, "unterminated XML declaration");
            break;
        }
        if (!ws) {
            ok = fail(x, x->pos, "expected whitespace in the XML declaration");
            break;
        }
        const char *name = NULL;
        size_t n = 0;
        size_t at = x->pos;
        if (!(ok = parse_qname(x, &name, &n))) break;
        skip_ws(x);
        if (x->pos >= x->len || x->s[x->pos] != '=') {
            ok = fail(x, x->pos, "expected '=' in the XML declaration");
            break;
        }
        x->pos++;
        skip_ws(x);
        sl_buf_reset(&val);
        if (!(ok = parse_quoted(x, &val))) break;
        const char *v = val.data ? val.data : "";
        if (n == 7 && !memcmp(name, "version", 7)) {
            if (strcmp(v, "1.0") && strcmp(v, "1.1")) {
                ok = fail(x, at, "unsupported XML version '%s'", v);
                break;
            }
            version = true;
        } else if (n == 8 && !memcmp(name, "encoding", 8)) {
            if (strcasecmp(v, "UTF-8") && strcasecmp(v, "UTF8") && strcasecmp(v, "US-ASCII")) {
                ok = fail(x, at, "unsupported encoding '%.40s': send UTF-8", v);
                break;
            }
        } else if (n == 10 && !memcmp(name, "standalone", 10)) {
            if (strcmp(v, "yes") && strcmp(v, "no")) {
                ok = fail(x, at, "standalone must be 'yes' or 'no'");
                break;
            }
        } else {
            ok = fail(x, at, "unexpected '%.*s' in the XML declaration", (int)n, name);
            break;
        }
    }
    sl_buf_free(&val);
    if (ok && !version) return fail(x, from, "the XML declaration lacks a version");
    return ok;
}

/* Checks the whole input is UTF-8 without NUL bytes, overlong forms, surrogates or code points
 * past U+10FFFF; returns the offset of the first bad byte or len. */
static size_t utf8_check(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x01 && c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1Fu, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0Fu, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07u, min = 0x10000;
        else return i;
        if (len - i < n) return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n;
    }
    return len;
}

/* Parses a start tag at pos ('<' name attributes ('>' | '/>')), links the new element under the
 * open element (or as the root) and opens it unless it closed itself. */
static bool parse_start_tag(xml_parser *x) {
    size_t from = x->pos++;
    const char *qname = NULL;
    size_t qlen = 0;
    if (!parse_qname(x, &qname, &qlen)) return false;
    if (x->depth >= SL_XML_MAX_DEPTH)
        return fail(x, from, "elements nested deeper than %d levels", SL_XML_MAX_DEPTH);
    if (++x->elements > SL_XML_MAX_ELEMENTS)
        return fail(x, from, "more than %d elements", SL_XML_MAX_ELEMENTS);

    sl_xml_node *node = sl_xcalloc(1, sizeof *node);
    const char *colon = memchr(qname, ':', qlen);
    const char *local = colon ? colon + 1 : qname;
    node->name = sl_xstrndup(local, qlen - (size_t)(local - qname));
    if (x->depth == 0) {
        x->root = node;
    } else {
        xml_open *parent = &x->open[x->depth - 1];
        if (parent->last_child) parent->last_child->next_sibling = node;
        else parent->node->first_child = node;
        parent->last_child = node;
    }

    struct {
        const char *name;
        size_t len;
    } attrs[SL_XML_MAX_ATTRS];
    size_t nattrs = 0;
    bool self_closing = false;
    for (;;) {
        bool ws = skip_ws(x);
        if (x->pos >= x->len || (x->s[x->pos] == '/' && x->pos + 1 >= x->len))
            return fail(x, from, "unterminated start tag <%.*s", (int)qlen, qname);
        if (at_lit(x, "/>")) {
            x->pos += 2;
            self_closing = true;
            break;
        }
        if (x->s[x->pos] == '>') {
            x->pos++;
            break;
        }
        if (!ws)
            return fail(x, x->pos, "expected whitespace, '>' or '/>' in <%.*s>", (int)qlen, qname);
        size_t at = x->pos;
        const char *aname = NULL;
        size_t alen = 0;
        if (!parse_qname(x, &aname, &alen)) return false;
        for (size_t i = 0; i < nattrs; i++)
            if (attrs[i].len == alen && !memcmp(attrs[i].name, aname, alen))
                return fail(x, at, "duplicate attribute '%.*s'", (int)alen, aname);
        if (nattrs == SL_XML_MAX_ATTRS)
            return fail(x, at, "more than %d attributes on one element", SL_XML_MAX_ATTRS);
        attrs[nattrs].name = aname, attrs[nattrs].len = alen, nattrs++;
        skip_ws(x);
        if (x->pos >= x->len || x->s[x->pos] != '=')
            return fail(x, x->pos, "expected '=' after attribute '%.*s'", (int)alen, aname);
        x->pos++;
        skip_ws(x);
        if (!parse_quoted(x, NULL)) return false;
    }

    if (self_closing) {
        node->text = sl_xstrdup("");
        return true;
    }
    xml_open *o = &x->open[x->depth++];
    o->node = node;
    o->last_child = NULL;
    o->qname = qname;
    o->qname_len = qlen;
    o->start = from;
    sl_buf_init(&o->text);
    return true;
}

static bool parse_end_tag(xml_parser *x) {
    size_t from = x->pos;
    x->pos += 2;
    const char *qname = NULL;
    size_t qlen = 0;
    if (!parse_qname(x, &qname, &qlen)) return false;
    skip_ws(x);
    if (x->pos >= x->len) return fail(x, from, "unterminated end tag </%.*s", (int)qlen, qname);
    if (x->s[x->pos] != '>')
        return fail(x, x->pos, "expected '>' to close </%.*s", (int)qlen, qname);
    x->pos++;
    xml_open *o = &x->open[x->depth - 1];
    if (qlen != o->qname_len || memcmp(qname, o->qname, qlen))
        return fail(x, from, "mismatched end tag: expected </%.*s>, found </%.*s>",
                    (int)o->qname_len, o->qname, (int)qlen, qname);
    o->node->text_len = o->text.len;
    o->node->text = sl_buf_steal(&o->text);
    x->depth--;
    return true;
}

/* Content of the open elements: runs until the root element is closed. */
static bool parse_content(xml_parser *x) {
    while (x->depth > 0) {
        xml_open *o = &x->open[x->depth - 1];
        if (x->pos >= x->len)
            return fail(x, o->start, "unterminated element <%.*s>", (int)o->qname_len, o->qname);
        char c = x->s[x->pos];
        if (c == '&') {
            if (!parse_reference(x, &o->text)) return false;
        } else if (c != '<') {
            size_t from = x->pos;
            while (x->pos < x->len && x->s[x->pos] != '<' && x->s[x->pos] != '&') x->pos++;
            const char *bad = memmem(x->s + from, x->pos - from, "]]>", 3);
            if (bad) return fail(x, (size_t)(bad - x->s), "']]>' is not allowed in text");
            put_text(&o->text, x->s + from, x->pos - from);
        } else if (at_lit(x, "</")) {
            if (!parse_end_tag(x)) return false;
        } else if (at_lit(x, "<!--")) {
            if (!parse_comment(x)) return false;
        } else if (at_lit(x, "<![CDATA[")) {
            size_t end = find(x, x->pos + 9, "]]>");
            if (end == SIZE_MAX) return fail(x, x->pos, "unterminated CDATA section");
            put_text(&o->text, x->s + x->pos + 9, end - x->pos - 9);
            x->pos = end + 3;
        } else if (at_lit(x, "<?")) {
            if (!parse_pi(x)) return false;
        } else if (at_lit(x, "<!")) {
            return fail(x, x->pos, "markup declarations are not allowed inside elements");
        } else if (!parse_start_tag(x)) {
            return false;
        }
    }
    return true;
}

static bool parse_document(xml_parser *x) {
    size_t bad = utf8_check((const unsigned char *)x->s, x->len);
    if (bad < x->len) return fail(x, bad, x->s[bad] ? "invalid UTF-8" : "NUL byte in the document");
    if (at_lit(x, "\xEF\xBB\xBF")) x->pos += 3;
    if (at_lit(x, "<?xml") && x->len - x->pos > 5 &&
        (is_ws(x->s[x->pos + 5]) || x->s[x->pos + 5] == '?'))
        if (!parse_xml_decl(x)) return false;
    for (;;) {
        skip_ws(x);
        if (x->pos >= x->len) break;
        if (at_lit(x, "<!--")) {
            if (!parse_comment(x)) return false;
        } else if (at_lit(x, "<?")) {
            if (!parse_pi(x)) return false;
        } else if (at_lit(x, "<!DOCTYPE")) {
            return fail(x, x->pos, "DOCTYPE is not allowed");
        } else if (at_lit(x, "<!")) {
            return fail(x, x->pos, "markup declarations are not allowed");
        } else if (x->s[x->pos] == '<') {
            if (x->root) return fail(x, x->pos, "more than one root element");
            if (!parse_start_tag(x) || !parse_content(x)) return false;
        } else {
            return fail(x, x->pos,
                        x->root ? "text after the root element" : "text before the root element");
        }
    }
    if (!x->root) return fail(x, x->pos, "no root element");
    return true;
}

sl_xml_node *sl_xml_parse(const char *data, size_t len, char *err, size_t errlen) {
    xml_parser x = {.s = data ? data : "", .len = data ? len : 0, .err = err, .errlen = errlen};
    if (err && errlen) err[0] = 0;
    if (parse_document(&x)) return x.root;
    for (int i = 0; i < x.depth; i++) sl_buf_free(&x.open[i].text);
    sl_xml_free(x.root);
    return NULL;
}

void sl_xml_free(sl_xml_node *root) {
    /* Siblings iteratively (a <Delete> has a thousand), children recursively (depth <= 64). */
    while (root) {
        sl_xml_node *next = root->next_sibling;
        sl_xml_free(root->first_child);
        free(root->name);
        free(root->text);
        free(root);
        root = next;
    }
}

static const sl_xml_node *first_named(const sl_xml_node *n, const char *name) {
    for (; n; n = n->next_sibling)
        if (!name || !strcmp(n->name, name)) return n;
    return NULL;
}
const sl_xml_node *sl_xml_child(const sl_xml_node *n, const char *name) {
    return n ? first_named(n->first_child, name) : NULL;
}
const sl_xml_node *sl_xml_child_next(const sl_xml_node *after, const char *name) {
    return after ? first_named(after->next_sibling, name) : NULL;
}
const char *sl_xml_child_text(const sl_xml_node *n, const char *name) {
    const sl_xml_node *c = sl_xml_child(n, name);
    return c ? c->text : NULL;
}
