/* buf: a growable byte buffer (always NUL-terminated) and small string helpers shared by
 * the protocol encoders. Allocation failure aborts: the daemon cannot continue without memory. */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} sl_buf;

void sl_buf_init(sl_buf *b);
void sl_buf_free(sl_buf *b);
void sl_buf_reset(sl_buf *b);
void sl_buf_reserve(sl_buf *b, size_t extra);
void sl_buf_append(sl_buf *b, const void *data, size_t n);
void sl_buf_puts(sl_buf *b, const char *s);
void sl_buf_putc(sl_buf *b, char c);
void sl_buf_printf(sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text escaped for XML character data and attribute values. */
void sl_buf_xml_escape(sl_buf *b, const char *s, size_t n);
/* RFC 3986 percent-encoding; keeps '/' when keep_slash (S3 and SigV4 rules). */
void sl_buf_uri_encode(sl_buf *b, const char *s, size_t n, bool keep_slash);
/* Detach the data: caller frees it. The buffer is left empty. */
char *sl_buf_steal(sl_buf *b);

void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t n, size_t m);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);

/* Percent-decoding; '+' stays '+' unless plus_is_space. Returns decoded length or -1 on a bad
 * escape. out must hold n+1 bytes; the result is NUL-terminated. */
long sl_uri_decode(const char *s, size_t n, char *out, bool plus_is_space);
void sl_hex_encode(const unsigned char *in, size_t n, char *out /* 2n+1 */);
/* Base64 (standard alphabet, padded). out holds 4*ceil(n/3)+1. */
size_t sl_base64_encode(const unsigned char *in, size_t n, char *out);
/* Returns decoded length or -1 when the input is not valid base64 (n must be a multiple of 4,
 * padding only at the end). Writes exactly the decoded length, at most 3*n/4 bytes: size out
 * from n, or check n first (a Content-MD5 is 24 characters), never from the expected result. */
long sl_base64_decode(const char *in, size_t n, unsigned char *out);
bool sl_str_has_prefix(const char *s, const char *prefix);
bool sl_str_has_suffix(const char *s, const char *suffix);

#endif
