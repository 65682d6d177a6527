/* intrinsics: parser, compile-time checks and evaluators for the States.* intrinsic functions.
 * A call compiles to a tree of arguments (literal, path, nested call); each function is one
 * evaluator that checks its arguments' types and limits and fails with States.IntrinsicFailure
 * and a cause naming the function. Limits are AWS's documented ones: 10,000 characters for
 * Base64Encode/Base64Decode/Hash input, 1,000 elements from ArrayRange, MathAdd operands within
 * a 32-bit signed integer, shallow JsonMerge only. */
#include "states/intrinsics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/buf.h"
#include "states/jsonpath.h"

#define MAX_INPUT_CHARS 10000
#define MAX_RANGE_ITEMS 1000

typedef struct call call;

typedef enum {
    ARG_LIT,
    ARG_PATH,
    ARG_CALL
} arg_kind;

typedef struct {
    arg_kind kind;
    json_t *lit; /* ARG_LIT: the value (string literals unescaped) */
    char *raw;   /* string literals: the text between the quotes, escapes kept */
    size_t rawlen;
    size_t bad_escape; /* 1 + offset of an open escape '\' in the literal, 0 when none */
    sl_jsonpath *path;
    call *sub;
} iarg;

typedef struct {
    const char *error;
    char *cause;
    size_t causelen;
} failure;

typedef json_t *(*fn_eval)(const call *c, json_t **argv, failure *f);

typedef struct {
    const char *name;
    int min_args, max_args; /* max -1: any */
    fn_eval eval;
} fndef;

struct call {
    const fndef *fn;
    iarg *args;
    size_t nargs;
};

struct sl_intrinsic {
    char *text;
    call *root;
};

/* ---------------------------------------------------------------------------------------- */
/* JSON text */

static void put_real(sl_buf *b, double d) {
    char tmp[40];
    if (!isfinite(d)) {
        sl_buf_puts(b, "null");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    sl_buf_puts(b, tmp);
    if (!strpbrk(tmp, ".eEn")) sl_buf_puts(b, ".0");
}

static void put_string(sl_buf *b, const char *s, size_t n) {
    sl_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': sl_buf_puts(b, "\\\""); break;
        case '\\': sl_buf_puts(b, "\\\\"); break;
        case '\n': sl_buf_puts(b, "\\n"); break;
        case '\r': sl_buf_puts(b, "\\r"); break;
        case '\t': sl_buf_puts(b, "\\t"); break;
        case '\b': sl_buf_puts(b, "\\b"); break;
        case '\f': sl_buf_puts(b, "\\f"); break;
        default:
            if (c < 0x20) sl_buf_printf(b, "\\u%04x", c);
            else sl_buf_putc(b, (char)c);
        }
    }
    sl_buf_putc(b, '"');
}

static void put_json(sl_buf *b, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        sl_buf_putc(b, '{');
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x) {
            if (!first) sl_buf_putc(b, ',');
            first = false;
            put_string(b, k, strlen(k));
            sl_buf_putc(b, ':');
            put_json(b, x);
        }
        sl_buf_putc(b, '}');
        return;
    }
    case JSON_ARRAY: {
        sl_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) sl_buf_putc(b, ',');
            put_json(b, json_array_get(v, i));
        }
        sl_buf_putc(b, ']');
        return;
    }
    case JSON_STRING: put_string(b, json_string_value(v), json_string_length(v)); return;
    case JSON_INTEGER: sl_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); return;
    case JSON_REAL: put_real(b, json_real_value(v)); return;
    case JSON_TRUE: sl_buf_puts(b, "true"); return;
    case JSON_FALSE: sl_buf_puts(b, "false"); return;
    case JSON_NULL: sl_buf_puts(b, "null"); return;
    }
}

char *sl_intrinsic_json_text(const json_t *v) {
    sl_buf b;
    sl_buf_init(&b);
    if (v) put_json(&b, v);
    return sl_buf_steal(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* Failures */

static void fail(failure *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(failure *f, const char *fmt, ...) {
    f->error = SL_STATES_INTRINSIC_FAILURE;
    if (f->cause && f->causelen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->cause, f->causelen, fmt, ap);
        va_end(ap);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Argument helpers */

static size_t utf8_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* Integral value: an integer, or a real with no fractional part. */
static bool exact_int(const json_t *v, long long *out) {
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9.0e15) {
            *out = (long long)d;
            return true;
        }
    }
    return false;
}

/* Any number, rounded half up to an integer the way AWS documents MathAdd/MathRandom. */
static bool rounded_int(const json_t *v, long long *out) {
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = floor(json_real_value(v) + 0.5);
        if (!(fabs(d) < 9.0e18)) return false;
        *out = (long long)d;
        return true;
    }
    return false;
}

#define NEED(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fail(f, __VA_ARGS__);                                                                  \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------------------------------- */
/* States.Format */

/* Renders template t (escapes \{ \} \\ \' honoured, `{}` placeholders) with argv values.
 * nargs < 0: only count placeholders into *count. Returns false with f set on a bad template. */
static bool format_render(const char *t, size_t n, json_t **argv, long nargs, sl_buf *out,
                          size_t *count, failure *f) {
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '\\') {
            if (i + 1 < n &&
                (t[i + 1] == '{' || t[i + 1] == '}' || t[i + 1] == '\\' || t[i + 1] == '\'')) {
                if (out) sl_buf_putc(out, t[i + 1]);
                i++;
                continue;
            }
            fail(f,
                 "Invalid template in States.Format: open escape character '\\' at position "
                 "%zu.",
                 i);
            return false;
        }
        if (c == '{') {
            if (i + 1 < n && t[i + 1] == '}') {
                if (out && nargs >= 0 && (long)used < nargs) {
                    json_t *v = argv[used];
                    if (json_is_string(v))
                        sl_buf_append(out, json_string_value(v), json_string_length(v));
                    else put_json(out, v);
                }
                used++;
                i++;
                continue;
            }
            fail(f, "Invalid template in States.Format: matching '}' not found for '{'.");
            return false;
        }
        if (out) sl_buf_putc(out, c);
    }
    if (count) *count = used;
    return true;
}

static json_t *fn_format(const call *c, json_t **argv, failure *f) {
    NEED(json_is_string(argv[0]),
         "Invalid arguments in States.Format: the template must be a string, not %s.",
         sl_json_kind(argv[0]));
    const iarg *t = &c->args[0];
    const char *tmpl = t->kind == ARG_LIT ? t->raw : json_string_value(argv[0]);
    size_t tlen = t->kind == ARG_LIT ? t->rawlen : json_string_length(argv[0]);
    size_t holes = 0;
    if (!format_render(tmpl, tlen, NULL, -1, NULL, &holes, f)) return NULL;
    size_t given = c->nargs - 1;
    NEED(holes == given,
         "Invalid arguments in States.Format: the template has %zu placeholder%s but %zu "
         "argument%s followed it.",
         holes, holes == 1 ? "" : "s", given, given == 1 ? "" : "s");
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_reserve(&b, tlen + 16);
    format_render(tmpl, tlen, argv + 1, (long)given, &b, NULL, f);
    json_t *r = json_stringn_nocheck(b.data, b.len);
    sl_buf_free(&b);
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON */

static json_t *fn_string_to_json(const call *c, json_t **argv, failure *f) {
    NEED(json_is_string(argv[0]),
         "Invalid arguments in States.StringToJson: the argument must be a string, not %s.",
         sl_json_kind(argv[0]));
    json_error_t je;
    json_t *v = json_loadb(json_string_value(argv[0]), json_string_length(argv[0]),
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    NEED(v, "Invalid arguments in States.StringToJson: the string is not valid JSON (%s).",
         je.text);
    return v;
}

static json_t *fn_json_to_string(const call *c, json_t **argv, failure *f) {
    char *s = sl_intrinsic_json_text(argv[0]);
    json_t *r = json_string_nocheck(s);
    free(s);
    return r;
}

static json_t *fn_json_merge(const call *c, json_t **argv, failure *f) {
    NEED(json_is_object(argv[0]) && json_is_object(argv[1]),
         "Invalid arguments in States.JsonMerge: both values to merge must be JSON objects "
         "(got %s and %s).",
         sl_json_kind(argv[0]), sl_json_kind(argv[1]));
    NEED(json_is_boolean(argv[2]),
         "Invalid arguments in States.JsonMerge: the third argument must be the boolean false, "
         "not %s.",
         sl_json_kind(argv[2]));
    NEED(json_is_false(argv[2]),
         "Invalid arguments in States.JsonMerge: deep merging is not supported; the third "
         "argument must be false.");
    json_t *r = json_copy(argv[0]);
    json_object_update(r, argv[1]);
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Arrays */

static json_t *fn_array(const call *c, json_t **argv, failure *f) {
    json_t *r = json_array();
    for (size_t i = 0; i < c->nargs; i++) json_array_append(r, argv[i]);
    return r;
}

static json_t *fn_array_partition(const call *c, json_t **argv, failure *f) {
    NEED(json_is_array(argv[0]),
         "Invalid arguments in States.ArrayPartition: the first argument must be an array, not "
         "%s.",
         sl_json_kind(argv[0]));
    long long size;
    NEED(exact_int(argv[1], &size) && size > 0,
         "Invalid arguments in States.ArrayPartition: the chunk size must be a positive "
         "integer.");
    json_t *r = json_array(), *chunk = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(argv[0], i, v) {
        if (!chunk || (long long)json_array_size(chunk) == size) {
            chunk = json_array();
            json_array_append_new(r, chunk);
        }
        json_array_append(chunk, v);
    }
    return r;
}

static json_t *fn_array_contains(const call *c, json_t **argv, failure *f) {
    NEED(json_is_array(argv[0]),
         "Invalid arguments in States.ArrayContains: the first argument must be an array, not "
         "%s.",
         sl_json_kind(argv[0]));
    size_t i;
    json_t *v;
    json_array_foreach(argv[0], i, v) {
        if (json_equal(v, argv[1])) return json_true();
    }
    return json_false();
}

static json_t *fn_array_range(const call *c, json_t **argv, failure *f) {
    long long start, end, step;
    NEED(exact_int(argv[0], &start) && exact_int(argv[1], &end) && exact_int(argv[2], &step),
         "Invalid arguments in States.ArrayRange: the start, end and step must be integers.");
    NEED(start >= INT32_MIN && start <= INT32_MAX && end >= INT32_MIN && end <= INT32_MAX &&
             step >= INT32_MIN && step <= INT32_MAX,
         "Invalid arguments in States.ArrayRange: the start, end and step must be between %d and "
         "%d.",
         INT32_MIN, INT32_MAX);
    NEED(step != 0, "Invalid arguments in States.ArrayRange: the step must not be 0.");
    long long count = 0;
    if ((step > 0 && start <= end) || (step < 0 && start >= end)) {
        long long span = step > 0 ? end - start : start - end; /* all within 32 bits: no overflow */
        long long stride = step > 0 ? step : -step;
        count = span / stride + 1;
        NEED(count <= MAX_RANGE_ITEMS,
             "Invalid arguments in States.ArrayRange: the range would have %lld elements; the "
             "limit is %d.",
             count, MAX_RANGE_ITEMS);
    }
    json_t *r = json_array();
    for (long long k = 0; k < count; k++) json_array_append_new(r, json_integer(start + k * step));
    return r;
}

static json_t *fn_array_get_item(const call *c, json_t **argv, failure *f) {
    NEED(json_is_array(argv[0]),
         "Invalid arguments in States.ArrayGetItem: the first argument must be an array, not "
         "%s.",
         sl_json_kind(argv[0]));
    long long ix;
    NEED(exact_int(argv[1], &ix) && ix >= 0,
         "Invalid arguments in States.ArrayGetItem: the index must be a non-negative integer.");
    size_t len = json_array_size(argv[0]);
    NEED((unsigned long long)ix < len,
         "Invalid arguments in States.ArrayGetItem: the index %lld is out of bounds for an "
         "array of %zu element%s.",
         ix, len, len == 1 ? "" : "s");
    return json_incref(json_array_get(argv[0], (size_t)ix));
}

static json_t *fn_array_length(const call *c, json_t **argv, failure *f) {
    NEED(json_is_array(argv[0]),
         "Invalid arguments in States.ArrayLength: the argument must be an array, not %s.",
         sl_json_kind(argv[0]));
    return json_integer((json_int_t)json_array_size(argv[0]));
}

/* Structural hash consistent with json_equal (object member order ignored). */
static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}
static uint64_t json_hash(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        uint64_t h = 0x0b;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            h += mix(hash_bytes(k, strlen(k)) ^ json_hash(x));
        }
        return mix(h);
    }
    case JSON_ARRAY: {
        uint64_t h = 0x0a;
        for (size_t i = 0; i < json_array_size(v); i++)
            h = mix(h * 31 + json_hash(json_array_get(v, i)));
        return h;
    }
    case JSON_STRING: return mix(hash_bytes(json_string_value(v), json_string_length(v)) ^ 0x05);
    case JSON_INTEGER: return mix((uint64_t)json_integer_value(v) ^ 0x1111);
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d == 0) d = 0; /* -0.0 equals 0.0 */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(bits ^ 0x2222);
    }
    case JSON_TRUE: return 1;
    case JSON_FALSE: return 2;
    case JSON_NULL: return 3;
    }
    return 0;
}

static json_t *fn_array_unique(const call *c, json_t **argv, failure *f) {
    NEED(json_is_array(argv[0]),
         "Invalid arguments in States.ArrayUnique: the argument must be an array, not %s.",
         sl_json_kind(argv[0]));
    size_t n = json_array_size(argv[0]);
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    json_t **slots = sl_xcalloc(cap, sizeof *slots);
    json_t *r = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(argv[0], i, v) {
        size_t h = (size_t)json_hash(v) & (cap - 1);
        bool seen = false;
        while (slots[h]) {
            if (json_equal(slots[h], v)) {
                seen = true;
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        if (seen) continue;
        slots[h] = v;
        json_array_append(r, v);
    }
    free(slots);
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding and hashing */

/* Replaces malformed UTF-8 with U+FFFD (what decoding bytes as UTF-8 text does on AWS). */
static void utf8_sanitize(const unsigned char *s, size_t n, sl_buf *out) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        uint32_t cp = 0;
        if (ok && len > 1) {
            cp = c & (0x7F >> len);
            for (size_t k = 1; k < len; k++) {
                if ((s[i + k] & 0xC0) != 0x80) {
                    ok = false;
                    break;
                }
                cp = (cp << 6) | (s[i + k] & 0x3F);
            }
            if (ok &&
                ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                 (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)))
                ok = false;
        }
        if (ok) {
            sl_buf_append(out, s + i, len);
            i += len;
        } else {
            sl_buf_puts(out, "\xEF\xBF\xBD");
            i++;
        }
    }
}

static json_t *fn_base64_encode(const call *c, json_t **argv, failure *f) {
    NEED(json_is_string(argv[0]),
         "Invalid arguments in States.Base64Encode: the argument must be a string, not %s.",
         sl_json_kind(argv[0]));
    const char *s = json_string_value(argv[0]);
    size_t n = json_string_length(argv[0]);
    size_t chars = utf8_chars(s, n);
    NEED(chars <= MAX_INPUT_CHARS,
         "Invalid arguments in States.Base64Encode: the input has %zu characters; the limit is "
         "%d.",
         chars, MAX_INPUT_CHARS);
    char *out = sl_xmalloc(4 * ((n + 2) / 3) + 1);
    size_t len = sl_base64_encode((const unsigned char *)s, n, out);
    json_t *r = json_stringn_nocheck(out, len);
    free(out);
    return r;
}

static json_t *fn_base64_decode(const call *c, json_t **argv, failure *f) {
    NEED(json_is_string(argv[0]),
         "Invalid arguments in States.Base64Decode: the argument must be a string, not %s.",
         sl_json_kind(argv[0]));
    const char *s = json_string_value(argv[0]);
    size_t n = json_string_length(argv[0]);
    size_t chars = utf8_chars(s, n);
    NEED(chars <= MAX_INPUT_CHARS,
         "Invalid arguments in States.Base64Decode: the input has %zu characters; the limit is "
         "%d.",
         chars, MAX_INPUT_CHARS);
    /* padding is optional, as with Java's decoder */
    char *padded = sl_xmalloc(n + 3);
    memcpy(padded, s, n);
    size_t pn = n;
    if (n % 4 == 2 || n % 4 == 3)
        while (pn % 4) padded[pn++] = '=';
    unsigned char *bytes = sl_xmalloc(pn / 4 * 3 + 3);
    long got = n % 4 == 1 ? -1 : sl_base64_decode(padded, pn, bytes);
    free(padded);
    if (got < 0) {
        free(bytes);
        fail(f, "Invalid arguments in States.Base64Decode: the input is not valid base64.");
        return NULL;
    }
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_reserve(&b, (size_t)got);
    utf8_sanitize(bytes, (size_t)got, &b);
    free(bytes);
    json_t *r = json_stringn_nocheck(b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    return r;
}

static json_t *fn_hash(const call *c, json_t **argv, failure *f) {
    NEED(json_is_string(argv[1]),
         "Invalid arguments in States.Hash: the algorithm must be a string, not %s.",
         sl_json_kind(argv[1]));
    static const struct {
        const char *name;
        const EVP_MD *(*md)(void);
    } algos[] = {{"MD5", EVP_md5},
                 {"SHA-1", EVP_sha1},
                 {"SHA-256", EVP_sha256},
                 {"SHA-384", EVP_sha384},
                 {"SHA-512", EVP_sha512}};
    const char *alg = json_string_value(argv[1]);
    const EVP_MD *md = NULL;
    for (size_t i = 0; i < sizeof algos / sizeof *algos; i++)
        if (!strcmp(alg, algos[i].name)) md = algos[i].md();
    NEED(md,
         "Invalid arguments in States.Hash: the algorithm '%.40s' is not supported; use MD5, "
         "SHA-1, SHA-256, SHA-384 or SHA-512.",
         alg);
    char *text = NULL;
    const char *data;
    size_t n;
    if (json_is_string(argv[0])) {
        data = json_string_value(argv[0]);
        n = json_string_length(argv[0]);
    } else {
        text = sl_intrinsic_json_text(argv[0]);
        data = text;
        n = strlen(text);
    }
    size_t chars = utf8_chars(data, n);
    if (chars > MAX_INPUT_CHARS) {
        free(text);
        fail(f, "Invalid arguments in States.Hash: the input has %zu characters; the limit is %d.",
             chars, MAX_INPUT_CHARS);
        return NULL;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    int ok = EVP_Digest(data, n, digest, &dlen, md, NULL);
    free(text);
    NEED(ok == 1, "Invalid arguments in States.Hash: the %s digest failed.", alg);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    sl_hex_encode(digest, dlen, hex);
    return json_string(hex);
}

/* ---------------------------------------------------------------------------------------- */
/* Math */

static void random_bytes(void *p, size_t n) {
    unsigned char *q = p;
    while (n) {
        ssize_t got = getrandom(q, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            abort(); /* the kernel always has a random source; no way to carry on without one */
        }
        q += got;
        n -= (size_t)got;
    }
}

/* java.util.Random, so a seed gives a stable sequence (and the same one a JVM would). */
typedef struct {
    uint64_t seed;
} jrandom;
static void jrandom_init(jrandom *r, long long seed) {
    r->seed = ((uint64_t)seed ^ 0x5DEECE66DULL) & ((1ULL << 48) - 1);
}
static int32_t jrandom_next(jrandom *r, int bits) {
    r->seed = (r->seed * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
    return (int32_t)(r->seed >> (48 - bits));
}
static int32_t jrandom_next_int(jrandom *r, int32_t bound) {
    if ((bound & -bound) == bound) return (int32_t)(((int64_t)bound * jrandom_next(r, 31)) >> 31);
    int32_t bits, val;
    do {
        bits = jrandom_next(r, 31);
        val = bits % bound;
    } while ((int64_t)bits - val + (bound - 1) > INT32_MAX);
    return val;
}

static json_t *fn_math_random(const call *c, json_t **argv, failure *f) {
    long long start, end;
    NEED(rounded_int(argv[0], &start) && rounded_int(argv[1], &end),
         "Invalid arguments in States.MathRandom: the start and end must be numbers.");
    NEED(start >= INT32_MIN && start <= INT32_MAX && end >= INT32_MIN && end <= INT32_MAX,
         "Invalid arguments in States.MathRandom: the start and end must be between %d and %d.",
         INT32_MIN, INT32_MAX);
    NEED(end > start,
         "Invalid arguments in States.MathRandom: the end (%lld) must be greater than the start "
         "(%lld).",
         end, start);
    long long span = end - start;
    if (c->nargs == 3) {
        long long seed;
        NEED(rounded_int(argv[2], &seed),
             "Invalid arguments in States.MathRandom: the seed must be a number.");
        NEED(span <= INT32_MAX,
             "Invalid arguments in States.MathRandom: the range from start to end is too wide.");
        jrandom r;
        jrandom_init(&r, seed);
        return json_integer(start + jrandom_next_int(&r, (int32_t)span));
    }
    uint64_t x, limit = UINT64_MAX - UINT64_MAX % (uint64_t)span;
    do random_bytes(&x, sizeof x);
    while (x >= limit);
    return json_integer(start + (long long)(x % (uint64_t)span));
}

static json_t *fn_math_add(const call *c, json_t **argv, failure *f) {
    long long a, b;
    NEED(rounded_int(argv[0], &a) && rounded_int(argv[1], &b),
         "Invalid arguments in States.MathAdd: both arguments must be numbers (got %s and %s).",
         sl_json_kind(argv[0]), sl_json_kind(argv[1]));
    NEED(a >= INT32_MIN && a <= INT32_MAX && b >= INT32_MIN && b <= INT32_MAX,
         "Invalid arguments in States.MathAdd: the arguments must be between %d and %d.", INT32_MIN,
         INT32_MAX);
    return json_integer(a + b);
}

/* ---------------------------------------------------------------------------------------- */
/* Strings and identifiers */

static size_t utf8_seq_len(unsigned char c) {
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

static json_t *fn_string_split(const call *c, json_t **argv, failure *f) {
    NEED(json_is_string(argv[0]) && json_is_string(argv[1]),
         "Invalid arguments in States.StringSplit: both arguments must be strings (got %s and "
         "%s).",
         sl_json_kind(argv[0]), sl_json_kind(argv[1]));
    const char *s = json_string_value(argv[0]);
    size_t n = json_string_length(argv[0]);
    const char *d = json_string_value(argv[1]);
    size_t dn = json_string_length(argv[1]);
    json_t *r = json_array();
    size_t tok = 0, i = 0;
    while (i < n) {
        size_t len = utf8_seq_len((unsigned char)s[i]);
        if (i + len > n) len = n - i;
        bool delim = false;
        for (size_t j = 0; j < dn && !delim;) {
            size_t dl = utf8_seq_len((unsigned char)d[j]);
            if (j + dl > dn) dl = dn - j;
            if (dl == len && !memcmp(d + j, s + i, len)) delim = true;
            j += dl;
        }
        if (delim) {
            if (i > tok) json_array_append_new(r, json_stringn_nocheck(s + tok, i - tok));
            tok = i + len;
        }
        i += len;
    }
    if (n > tok) json_array_append_new(r, json_stringn_nocheck(s + tok, n - tok));
    return r;
}

static json_t *fn_uuid(const call *c, json_t **argv, failure *f) {
    unsigned char u[16];
    random_bytes(u, sizeof u);
    u[6] = (unsigned char)((u[6] & 0x0F) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80);
    char hex[33], out[37];
    sl_hex_encode(u, sizeof u, hex);
    snprintf(out, sizeof out, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    return json_string(out);
}

/* ---------------------------------------------------------------------------------------- */
/* Function table */

static const fndef functions[] = {
    {"States.Format", 1, -1, fn_format},
    {"States.StringToJson", 1, 1, fn_string_to_json},
    {"States.JsonToString", 1, 1, fn_json_to_string},
    {"States.Array", 0, -1, fn_array},
    {"States.ArrayPartition", 2, 2, fn_array_partition},
    {"States.ArrayContains", 2, 2, fn_array_contains},
    {"States.ArrayRange", 3, 3, fn_array_range},
    {"States.ArrayGetItem", 2, 2, fn_array_get_item},
    {"States.ArrayLength", 1, 1, fn_array_length},
    {"States.ArrayUnique", 1, 1, fn_array_unique},
    {"States.Base64Encode", 1, 1, fn_base64_encode},
    {"States.Base64Decode", 1, 1, fn_base64_decode},
    {"States.Hash", 2, 2, fn_hash},
    {"States.JsonMerge", 3, 3, fn_json_merge},
    {"States.MathRandom", 2, 3, fn_math_random},
    {"States.MathAdd", 2, 2, fn_math_add},
    {"States.StringSplit", 2, 2, fn_string_split},
    {"States.UUID", 0, 0, fn_uuid},
};

/* ---------------------------------------------------------------------------------------- */
/* Parser */

typedef struct {
    const char *s;
    size_t pos;
    char *err;
    size_t errlen;
    bool failed;
} iparser;

static void ierr(iparser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ierr(iparser *ps, const char *fmt, ...) {
    if (ps->failed) return;
    ps->failed = true;
    if (!ps->err || !ps->errlen) return;
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errlen, "Invalid intrinsic function '%.200s': %s", ps->s, detail);
}

static void iskip_ws(iparser *ps) {
    while (ps->s[ps->pos] == ' ' || ps->s[ps->pos] == '\t' || ps->s[ps->pos] == '\n' ||
           ps->s[ps->pos] == '\r')
        ps->pos++;
}

static void call_free(call *c);

static void arg_clear(iarg *a) {
    json_decref(a->lit);
    free(a->raw);
    sl_jsonpath_free(a->path);
    call_free(a->sub);
}

static void call_free(call *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nargs; i++) arg_clear(&c->args[i]);
    free(c->args);
    free(c);
}

static call *parse_call(iparser *ps, int depth);

/* A quoted literal; ps->pos at the opening quote. Keeps the raw text for States.Format. */
static bool parse_string_arg(iparser *ps, iarg *a) {
    size_t start = ++ps->pos;
    sl_buf val;
    sl_buf_init(&val);
    sl_buf_reserve(&val, 16);
    for (;;) {
        char c = ps->s[ps->pos];
        if (!c) {
            ierr(ps, "unterminated string literal starting at position %zu", start - 1);
            sl_buf_free(&val);
            return false;
        }
        if (c == '\'') break;
        if (c == '\\') {
            char e = ps->s[ps->pos + 1];
            if (e != '\'' && e != '{' && e != '}' && e != '\\') {
                /* AWS accepts the definition and fails when the call runs */
                if (!a->bad_escape) a->bad_escape = ps->pos - start + 1;
                if (!e) {
                    ps->pos++; /* reported as an unterminated literal */
                    continue;
                }
                sl_buf_putc(&val, e);
                ps->pos += 2;
                continue;
            }
            sl_buf_putc(&val, e);
            ps->pos += 2;
            continue;
        }
        sl_buf_putc(&val, c);
        ps->pos++;
    }
    a->kind = ARG_LIT;
    a->rawlen = ps->pos - start;
    a->raw = sl_xstrndup(ps->s + start, a->rawlen);
    a->lit = json_stringn(val.data, val.len);
    sl_buf_free(&val);
    ps->pos++; /* closing quote */
    if (!a->lit) {
        ierr(ps, "string literal is not valid UTF-8");
        return false;
    }
    return true;
}

static bool parse_number_arg(iparser *ps, iarg *a) {
    size_t st = ps->pos;
    if (ps->s[ps->pos] == '-') ps->pos++;
    size_t digits = ps->pos;
    while (isdigit((unsigned char)ps->s[ps->pos])) ps->pos++;
    if (ps->pos == digits) {
        ierr(ps, "expected a number at position %zu", st);
        return false;
    }
    bool real = false;
    if (ps->s[ps->pos] == '.') {
        real = true;
        ps->pos++;
        size_t frac = ps->pos;
        while (isdigit((unsigned char)ps->s[ps->pos])) ps->pos++;
        if (ps->pos == frac) {
            ierr(ps, "malformed number at position %zu", st);
            return false;
        }
    }
    if (ps->s[ps->pos] == 'e' || ps->s[ps->pos] == 'E') {
        real = true;
        ps->pos++;
        if (ps->s[ps->pos] == '+' || ps->s[ps->pos] == '-') ps->pos++;
        size_t ex = ps->pos;
        while (isdigit((unsigned char)ps->s[ps->pos])) ps->pos++;
        if (ps->pos == ex) {
            ierr(ps, "malformed number at position %zu", st);
            return false;
        }
    }
    size_t n = ps->pos - st;
    char tmp[64];
    if (n >= sizeof tmp) {
        ierr(ps, "number too long at position %zu", st);
        return false;
    }
    memcpy(tmp, ps->s + st, n);
    tmp[n] = 0;
    a->kind = ARG_LIT;
    errno = 0;
    if (!real) {
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            a->lit = json_integer(v);
            return true;
        }
    }
    double d = strtod(tmp, NULL);
    if (!isfinite(d)) {
        ierr(ps, "number out of range at position %zu", st);
        return false;
    }
    a->lit = json_real(d);
    return true;
}

static bool parse_arg(iparser *ps, iarg *a, int depth) {
    iskip_ws(ps);
    const char *p = ps->s + ps->pos;
    if (*p == '\'') return parse_string_arg(ps, a);
    if (*p == '$') {
        char perrbuf[320];
        size_t used = 0;
        a->path = sl_jsonpath_compile_prefix(p, &used, perrbuf, sizeof perrbuf);
        if (!a->path) {
            ierr(ps, "%s", perrbuf);
            return false;
        }
        a->kind = ARG_PATH;
        ps->pos += used;
        return true;
    }
    if (!strncmp(p, "States.", 7)) {
        a->sub = parse_call(ps, depth + 1);
        a->kind = ARG_CALL;
        return a->sub != NULL;
    }
    if (*p == '-' || isdigit((unsigned char)*p)) return parse_number_arg(ps, a);
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (!strncmp(p, words[i], n) && !isalnum((unsigned char)p[n]) && p[n] != '_') {
            a->kind = ARG_LIT;
            a->lit = i == 0 ? json_true() : i == 1 ? json_false() : json_null();
            ps->pos += n;
            return true;
        }
    }
    if (!*p) ierr(ps, "the argument list ended early");
    else
        ierr(ps,
             "unexpected '%c' at position %zu (an argument is a 'string', a number, true, "
             "false, null, a path or an intrinsic function)",
             *p, ps->pos);
    return false;
}

static call *parse_call(iparser *ps, int depth) {
    if (depth > SL_INTRINSIC_MAX_NESTING) {
        ierr(ps, "intrinsic functions nested more than %d deep", SL_INTRINSIC_MAX_NESTING);
        return NULL;
    }
    size_t st = ps->pos;
    while (isalnum((unsigned char)ps->s[ps->pos]) || ps->s[ps->pos] == '.' || ps->s[ps->pos] == '_')
        ps->pos++;
    size_t nlen = ps->pos - st;
    const fndef *fn = NULL;
    for (size_t i = 0; i < sizeof functions / sizeof *functions; i++)
        if (strlen(functions[i].name) == nlen && !memcmp(functions[i].name, ps->s + st, nlen))
            fn = &functions[i];
    if (!fn) {
        ierr(ps, "'%.*s' is not a supported intrinsic function", (int)(nlen > 60 ? 60 : nlen),
             ps->s + st);
        return NULL;
    }
    iskip_ws(ps);
    if (ps->s[ps->pos] != '(') {
        ierr(ps, "expected '(' after %s", fn->name);
        return NULL;
    }
    ps->pos++;
    call *c = sl_xcalloc(1, sizeof *c);
    c->fn = fn;
    size_t cap = 0;
    iskip_ws(ps);
    if (ps->s[ps->pos] == ')') {
        ps->pos++;
    } else {
        for (;;) {
            if (c->nargs == cap) {
                cap = cap ? cap * 2 : 4;
                c->args = sl_xrealloc(c->args, cap * sizeof *c->args);
            }
            iarg *a = &c->args[c->nargs];
            memset(a, 0, sizeof *a);
            c->nargs++;
            if (!parse_arg(ps, a, depth)) break;
            iskip_ws(ps);
            char ch = ps->s[ps->pos];
            if (ch == ',') {
                ps->pos++;
                continue;
            }
            if (ch == ')') {
                ps->pos++;
                break;
            }
            if (ch) ierr(ps, "expected ',' or ')' at position %zu but found '%c'", ps->pos, ch);
            else ierr(ps, "missing ')' to close %s", fn->name);
            break;
        }
    }
    if (ps->failed) {
        call_free(c);
        return NULL;
    }
    if ((int)c->nargs < fn->min_args || (fn->max_args >= 0 && (int)c->nargs > fn->max_args)) {
        if (fn->min_args == fn->max_args)
            ierr(ps, "%s takes %d argument%s but was given %zu", fn->name, fn->min_args,
                 fn->min_args == 1 ? "" : "s", c->nargs);
        else if (fn->max_args < 0)
            ierr(ps, "%s takes at least %d argument%s but was given %zu", fn->name, fn->min_args,
                 fn->min_args == 1 ? "" : "s", c->nargs);
        else
            ierr(ps, "%s takes %d to %d arguments but was given %zu", fn->name, fn->min_args,
                 fn->max_args, c->nargs);
        call_free(c);
        return NULL;
    }
    return c;
}

bool sl_intrinsic_is_call(const char *s) { return s && !strncmp(s, "States.", 7); }

sl_intrinsic *sl_intrinsic_compile(const char *expr, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    iparser ps = {.s = expr ? expr : "", .err = err, .errlen = errlen};
    iskip_ws(&ps);
    if (!sl_intrinsic_is_call(ps.s + ps.pos)) {
        ierr(&ps, "an intrinsic function call starts with 'States.'");
        return NULL;
    }
    call *c = parse_call(&ps, 1);
    if (!c) return NULL;
    iskip_ws(&ps);
    if (ps.s[ps.pos]) {
        ierr(&ps, "unexpected '%c' at position %zu after the call", ps.s[ps.pos], ps.pos);
        call_free(c);
        return NULL;
    }
    sl_intrinsic *f = sl_xcalloc(1, sizeof *f);
    f->text = sl_xstrdup(expr);
    f->root = c;
    return f;
}

void sl_intrinsic_free(sl_intrinsic *f) {
    if (!f) return;
    call_free(f->root);
    free(f->text);
    free(f);
}

const char *sl_intrinsic_text(const sl_intrinsic *f) { return f->text; }

/* ---------------------------------------------------------------------------------------- */
/* Evaluation */

static json_t *eval_call(const call *c, json_t *input, json_t *context, failure *f) {
    json_t *stackv[8];
    json_t **argv = c->nargs <= 8 ? stackv : sl_xcalloc(c->nargs, sizeof *argv);
    size_t got = 0;
    json_t *r = NULL;
    for (; got < c->nargs; got++) {
        const iarg *a = &c->args[got];
        json_t *v = NULL;
        if (a->kind == ARG_LIT) {
            if (a->bad_escape) {
                fail(f,
                     "Invalid arguments in %s: open escape character '\\' in a string literal "
                     "(only \\', \\{, \\} and \\\\ are escapes).",
                     c->fn->name);
                goto done;
            }
            v = json_incref(a->lit);
        } else if (a->kind == ARG_CALL) {
            v = eval_call(a->sub, input, context, f);
        } else {
            char why[320];
            v = sl_jsonpath_eval(a->path, input, context, why, sizeof why);
            if (!v) {
                f->error = SL_STATES_RUNTIME;
                if (f->cause && f->causelen)
                    snprintf(f->cause, f->causelen, "%s (an argument of %s)", why, c->fn->name);
            }
        }
        if (!v) goto done;
        argv[got] = v;
    }
    r = c->fn->eval(c, argv, f);
done:
    for (size_t i = 0; i < got; i++) json_decref(argv[i]);
    if (argv != stackv) free(argv);
    return r;
}

json_t *sl_intrinsic_eval(const sl_intrinsic *fn, json_t *input, json_t *context,
                          const char **error_name, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    failure f = {.error = NULL, .cause = err, .causelen = errlen};
    json_t *r = eval_call(fn->root, input, context, &f);
    if (!r && error_name) *error_name = f.error ? f.error : SL_STATES_INTRINSIC_FAILURE;
    /* r is a jansson value, never a pointer into f (cppcheck follows f through the evaluator
     * table and cannot tell) */
    // cppcheck-suppress returnDanglingLifetime
    return r;
}
