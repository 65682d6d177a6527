/* buf: growable buffers, escaping and encoding helpers. Pure functions; no I/O. */
#include "core/buf.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *sl_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}
void *sl_xcalloc(size_t n, size_t m) {
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) abort();
    return p;
}
void *sl_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) abort();
    return q;
}
char *sl_xstrdup(const char *s) { return sl_xstrndup(s, strlen(s)); }
char *sl_xstrndup(const char *s, size_t n) {
    char *p = sl_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void sl_buf_init(sl_buf *b) { b->data = NULL, b->len = 0, b->cap = 0; }
void sl_buf_free(sl_buf *b) {
    free(b->data);
    sl_buf_init(b);
}
void sl_buf_reset(sl_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}
void sl_buf_reserve(sl_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = sl_xrealloc(b->data, cap);
    b->cap = cap;
}
void sl_buf_append(sl_buf *b, const void *data, size_t n) {
    sl_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
}
void sl_buf_puts(sl_buf *b, const char *s) { sl_buf_append(b, s, strlen(s)); }
void sl_buf_putc(sl_buf *b, char c) { sl_buf_append(b, &c, 1); }
void sl_buf_printf(sl_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    sl_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
char *sl_buf_steal(sl_buf *b) {
    char *p = b->data ? b->data : sl_xstrdup("");
    sl_buf_init(b);
    return p;
}

void sl_buf_xml_escape(sl_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&': sl_buf_puts(b, "&amp;"); break;
        case '<': sl_buf_puts(b, "&lt;"); break;
        case '>': sl_buf_puts(b, "&gt;"); break;
        case '"': sl_buf_puts(b, "&quot;"); break;
        case '\'': sl_buf_puts(b, "&apos;"); break;
        case '\r': sl_buf_puts(b, "&#13;"); break;
        case '\n': sl_buf_puts(b, "&#10;"); break;
        case '\t': sl_buf_puts(b, "&#9;"); break;
        default:
            if (c < 0x20) sl_buf_printf(b, "&#%d;", c);
            else sl_buf_putc(b, (char)c);
        }
    }
}

void sl_buf_uri_encode(sl_buf *b, const char *s, size_t n, bool keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            sl_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sl_buf_append(b, e, 3);
        }
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long sl_uri_decode(const char *s, size_t n, char *out, bool plus_is_space) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return -1;
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return (long)o;
}

void sl_hex_encode(const unsigned char *in, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = 0;
}

size_t sl_base64_encode(const unsigned char *in, size_t n, char *out) {
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return (size_t)len;
}

long sl_base64_decode(const char *in, size_t n, unsigned char *out) {
    if (n % 4 != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || (c == '=' && i >= n - 2);
        if (!ok) return -1;
        if (c == '=' && i == n - 2 && in[n - 1] != '=') return -1;
    }
    if (n == 0) return 0;
    /* EVP_DecodeBlock writes three bytes per quartet, padding included: decode the last quartet
     * aside so that exactly the decoded length lands in out. */
    size_t head = n - 4;
    if (head > INT_MAX) return -1;
    if (head && EVP_DecodeBlock(out, (const unsigned char *)in, (int)head) != (int)(head / 4 * 3))
        return -1;
    unsigned char tail[3];
    if (EVP_DecodeBlock(tail, (const unsigned char *)in + head, 4) != 3) return -1;
    size_t pad = (in[n - 1] == '=') + (in[n - 2] == '=');
    memcpy(out + head / 4 * 3, tail, 3 - pad);
    return (long)(head / 4 * 3 + 3 - pad);
}

bool sl_str_has_prefix(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}
bool sl_str_has_suffix(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}
