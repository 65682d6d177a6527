/* chunked: the aws-chunked body decoder. A byte-at-a-time-safe state machine: input may be
 * split anywhere, memory is bounded (one header or trailer line at a time, never a chunk),
 * and payload bytes are emitted as they arrive.
 *
 * In the signed modes a chunk's bytes are emitted before its signature can be checked (the
 * signature covers the whole chunk); a mismatch then fails the feed, so the consumer must
 * discard everything it received whenever feed or finish fails — as it must for a truncated
 * upload anyway.
 *
 * Wire format (what the SDKs send):
 *   <hex-size>[;chunk-signature=<64 hex>]\r\n <size bytes> \r\n      repeated
 *   0[;chunk-signature=<64 hex>]\r\n                                  the final chunk
 *   <name>:<value>\r\n ...                                            optional trailers
 *   \r\n
 * Leniency, at finish only, for what real clients send: the closing blank line may be
 * missing. Bare "\n" line ends are accepted everywhere. */
#include "auth/chunked.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define LINE_MAX_BYTES 4096 /* a chunk header or a trailer line */
#define TRAILERS_MAX   32
#define TRAILER_SIG    "x-amz-trailer-signature"

typedef enum {
    ST_HEADER,      /* reading a chunk-size line */
    ST_DATA,        /* inside a chunk's payload */
    ST_DATA_CR,     /* expecting the CR (or LF) that ends a chunk's payload */
    ST_DATA_LF,     /* expecting the LF after it */
    ST_TRAILER,     /* reading trailer lines after the final chunk */
    ST_AFTER_BLANK, /* final chunk then a blank line: done, unless trailers follow anyway */
    ST_DONE,        /* trailers and their closing blank line seen */
    ST_FAILED,
} chunked_state;

typedef struct {
    char *name; /* lower-case */
    char *value;
} trailer;

struct sl_chunked {
    sl_chunked_mode mode;
    sl_auth_result auth;
    bool auth_ok;
    chunked_state state;
    char line[LINE_MAX_BYTES + 1];
    size_t line_len;
    unsigned long long remaining;
    unsigned long long decoded;
    unsigned long chunk_no;
    EVP_MD_CTX *md;
    char chunk_sig[65]; /* as sent for the chunk in progress */
    char prev_sig[65];  /* the seed, then each verified chunk's */
    trailer trailers[TRAILERS_MAX];
    size_t ntrailers;
    bool blank_seen; /* a blank line came between the final chunk and the trailers */
    const char *err_code;
    char err_msg[256];
};

static bool signed_mode(const sl_chunked *c) { return c->mode != SL_CHUNKED_UNSIGNED; }

__attribute__((format(printf, 3, 4))) static int fail(sl_chunked *c, const char *code,
                                                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    va_end(ap);
    c->err_code = code;
    c->state = ST_FAILED;
    return -1;
}

sl_chunked *sl_chunked_new(sl_chunked_mode mode, const sl_auth_result *auth) {
    sl_chunked *c = sl_xcalloc(1, sizeof *c);
    c->mode = mode;
    c->state = ST_HEADER;
    if (signed_mode(c)) {
        /* A seed is needed: a SigV4 Authorization-header request, never SigV2 or presigned. */
        if (auth && auth->status == SL_AUTH_OK && !auth->sigv2 && !auth->presigned &&
            strlen(auth->signature) == 64) {
            c->auth = *auth;
            c->auth_ok = true;
            memcpy(c->prev_sig, auth->signature, 65);
            c->md = EVP_MD_CTX_new();
            if (!c->md) abort();
        } else {
            fail(c, "InvalidRequest",
                 "Signed aws-chunked uploads need a request signed with an AWS4-HMAC-SHA256 "
                 "Authorization header");
        }
    }
    return c;
}

void sl_chunked_free(sl_chunked *c) {
    if (!c) return;
    for (size_t i = 0; i < c->ntrailers; i++) {
        free(c->trailers[i].name);
        free(c->trailers[i].value);
    }
    EVP_MD_CTX_free(c->md);
    OPENSSL_cleanse(&c->auth, sizeof c->auth);
    free(c);
}

static bool is_hex(char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}
static int hex_val(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return ch - 'A' + 10;
}

static bool sig_matches(const char *calc, const char *sent) {
    return strlen(sent) == 64 && CRYPTO_memcmp(calc, sent, 64) == 0;
}

/* Verifies the chunk just completed (its hash is in c->md) and chains its signature. */
static int finish_chunk_signature(sl_chunked *c) {
    if (!signed_mode(c)) return 0;
    unsigned char md[32];
    unsigned int len = 32;
    EVP_DigestFinal_ex(c->md, md, &len);
    char calc[65];
    sl_sigv4_chunk_signature(&c->auth, c->prev_sig, md, calc);
    if (!sig_matches(calc, c->chunk_sig))
        return fail(c, "SignatureDoesNotMatch",
                    "The chunk signature we calculated does not match the signature you provided "
                    "(chunk %lu).",
                    c->chunk_no);
    memcpy(c->prev_sig, calc, 65);
    return 0;
}

/* "<hex-size>[;ext=value]*": sets remaining and, in the signed modes, chunk_sig. */
static int parse_chunk_header(sl_chunked *c, char *line, size_t n) {
    size_t i = 0;
    unsigned long long size = 0;
    while (i < n && is_hex(line[i])) {
        if (i >= 16) return fail(c, "InvalidRequest", "aws-chunked chunk size is too large.");
        size = size * 16 + (unsigned long long)hex_val(line[i]);
        i++;
    }
    if (i == 0)
        return fail(c, "InvalidRequest",
                    "aws-chunked body is malformed: expected a hexadecimal chunk size (chunk %lu).",
                    c->chunk_no + 1);
    c->chunk_sig[0] = 0;
    while (i < n) {
        while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i == n) break;
        if (line[i] != ';')
            return fail(c, "InvalidRequest",
                        "aws-chunked body is malformed: unexpected character after the chunk "
                        "size (chunk %lu).",
                        c->chunk_no + 1);
        i++;
        size_t start = i;
        while (i < n && line[i] != ';') i++;
        const char *ext = line + start;
        size_t ext_len = i - start;
        while (ext_len && (*ext == ' ' || *ext == '\t')) ext++, ext_len--;
        while (ext_len && (ext[ext_len - 1] == ' ' || ext[ext_len - 1] == '\t')) ext_len--;
        static const char key[] = "chunk-signature=";
        if (signed_mode(c) && ext_len >= sizeof key - 1 && !memcmp(ext, key, sizeof key - 1)) {
            size_t sig_len = ext_len - (sizeof key - 1);
            if (sig_len != 64)
                return fail(c, "InvalidRequest",
                            "aws-chunked chunk-signature must be 64 hexadecimal characters "
                            "(chunk %lu).",
                            c->chunk_no + 1);
            memcpy(c->chunk_sig, ext + sizeof key - 1, 64);
            c->chunk_sig[64] = 0;
        }
        /* other extensions (and any signature in the unsigned mode) carry nothing we use */
    }
    c->chunk_no++;
    if (signed_mode(c) && !c->chunk_sig[0])
        return fail(c, "InvalidRequest", "aws-chunked chunk %lu has no chunk-signature.",
                    c->chunk_no);
    c->remaining = size;
    if (signed_mode(c)) EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
    if (size == 0) {
        if (finish_chunk_signature(c) < 0) return -1;
        c->state = ST_TRAILER;
    } else {
        c->state = ST_DATA;
    }
    return 0;
}

static int trailer_cmp(const void *a, const void *b) {
    return strcmp(((const trailer *)a)->name, ((const trailer *)b)->name);
}

static const trailer *find_trailer(const sl_chunked *c, const char *name) {
    for (size_t i = 0; i < c->ntrailers; i++)
        if (!strcmp(c->trailers[i].name, name)) return &c->trailers[i];
    return NULL;
}

/* The trailers are complete: check their signature when the mode signs them. */
static int finish_trailers(sl_chunked *c) {
    if (c->mode == SL_CHUNKED_SIGNED && c->ntrailers)
        return fail(c, "InvalidRequest",
                    "Trailing headers are not allowed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD.");
    if (c->mode != SL_CHUNKED_SIGNED_TRAILER) return 0;
    const trailer *sig = find_trailer(c, TRAILER_SIG);
    if (!sig)
        return fail(c, "InvalidRequest",
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER requires an "
                    "x-amz-trailer-signature trailer.");
    trailer sorted[TRAILERS_MAX] = {{NULL, NULL}};
    size_t n = 0;
    for (size_t i = 0; i < c->ntrailers; i++)
        if (&c->trailers[i] != sig) sorted[n++] = c->trailers[i];
    qsort(sorted, n, sizeof *sorted, trailer_cmp);
    sl_buf text;
    sl_buf_init(&text);
    for (size_t i = 0; i < n; i++) sl_buf_printf(&text, "%s:%s\n", sorted[i].name, sorted[i].value);
    char calc[65];
    sl_sigv4_trailer_signature(&c->auth, c->prev_sig, text.data ? text.data : "", text.len, calc);
    bool ok = sig_matches(calc, sig->value);
    if (!ok) {
        /* AWS's published trailer example was computed with the chunk algorithm name
         * (AWS4-HMAC-SHA256-PAYLOAD) in place of AWS4-HMAC-SHA256-TRAILER; accept that form
         * too. Its string to sign has a different line count from a chunk's, so neither can
         * stand in for the other. */
        char hash[65];
        unsigned char md[32];
        EVP_Digest(text.data ? text.data : "", text.len, md, NULL, EVP_sha256(), NULL);
        sl_hex_encode(md, 32, hash);
        sl_buf sts;
        sl_buf_init(&sts);
        sl_buf_printf(&sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s/%s/%s/aws4_request\n%s\n%s",
                      c->auth.amz_date, c->auth.date, c->auth.region, c->auth.service, c->prev_sig,
                      hash);
        unsigned char mac[32];
        unsigned int len = 32;
        HMAC(EVP_sha256(), c->auth.signing_key, 32, (const unsigned char *)sts.data, sts.len, mac,
             &len);
        sl_hex_encode(mac, 32, calc);
        ok = sig_matches(calc, sig->value);
        sl_buf_free(&sts);
    }
    sl_buf_free(&text);
    if (!ok)
        return fail(c, "SignatureDoesNotMatch",
                    "The trailer signature we calculated does not match the signature you "
                    "provided.");
    return 0;
}

static int parse_trailer_line(sl_chunked *c, const char *line, size_t n) {
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line)
        return fail(c, "InvalidRequest",
                    "aws-chunked trailer is malformed: expected \"name:value\".");
    size_t name_len = (size_t)(colon - line);
    for (size_t i = 0; i < name_len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch <= ' ' || ch >= 127)
            return fail(c, "InvalidRequest", "aws-chunked trailer name is malformed.");
    }
    if (c->ntrailers == TRAILERS_MAX)
        return fail(c, "InvalidRequest", "Too many aws-chunked trailers (at most %d).",
                    TRAILERS_MAX);
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    trailer *t = &c->trailers[c->ntrailers];
    t->name = sl_xstrndup(line, name_len);
    for (size_t i = 0; i < name_len; i++)
        if (t->name[i] >= 'A' && t->name[i] <= 'Z') t->name[i] = (char)(t->name[i] - 'A' + 'a');
    if (find_trailer(c, t->name)) {
        free(t->name);
        return fail(c, "InvalidRequest", "aws-chunked trailer %.*s is repeated.", (int)name_len,
                    line);
    }
    t->value = sl_xstrndup(v, (size_t)(end - v));
    c->ntrailers++;
    return 0;
}

/* A complete line (without its line end) in ST_HEADER or ST_TRAILER. */
static int handle_line(sl_chunked *c) {
    size_t n = c->line_len;
    if (n && c->line[n - 1] == '\r') n--;
    c->line[n] = 0;
    c->line_len = 0;
    if (c->state == ST_HEADER) return parse_chunk_header(c, c->line, n);
    /* ST_TRAILER */
    if (n == 0) {
        if (c->ntrailers == 0 && !c->blank_seen) {
            /* Either the end of a body without trailers, or the blank line some clients put
             * between the final chunk and its trailers: wait and see. */
            c->blank_seen = true;
            c->state = ST_AFTER_BLANK;
            return 0;
        }
        if (finish_trailers(c) < 0) return -1;
        c->state = ST_DONE;
        return 0;
    }
    return parse_trailer_line(c, c->line, n);
}

/* Appends to the current line up to and including LF; returns bytes consumed, or -1. */
static long take_line(sl_chunked *c, const char *data, size_t n, bool *complete) {
    const char *nl = memchr(data, '\n', n);
    size_t take = nl ? (size_t)(nl - data) : n;
    if (c->line_len + take > LINE_MAX_BYTES)
        return fail(c, "InvalidRequest",
                    "aws-chunked body is malformed: a chunk header or trailer line is longer "
                    "than %d bytes.",
                    LINE_MAX_BYTES);
    memcpy(c->line + c->line_len, data, take);
    c->line_len += take;
    *complete = nl != NULL;
    return (long)(take + (nl ? 1 : 0));
}

int sl_chunked_feed(sl_chunked *c, const char *data, size_t n,
                    int (*emit)(void *ctx, const char *data, size_t n), void *ctx) {
    size_t i = 0;
    while (i < n) {
        switch (c->state) {
        case ST_FAILED: return -1;
        case ST_HEADER:
        case ST_TRAILER: {
            bool complete;
            long used = take_line(c, data + i, n - i, &complete);
            if (used < 0) return -1;
            i += (size_t)used;
            if (complete && handle_line(c) < 0) return -1;
            break;
        }
        case ST_AFTER_BLANK:
            c->state = ST_TRAILER; /* more bytes: they can only be trailers */
            break;
        case ST_DATA: {
            size_t take = n - i;
            if (take > c->remaining) take = (size_t)c->remaining;
            if (signed_mode(c)) EVP_DigestUpdate(c->md, data + i, take);
            c->remaining -= take;
            c->decoded += take;
            if (emit) {
                int r = emit(ctx, data + i, take);
                if (r) {
                    fail(c, "InvalidRequest", "The upload was aborted by its consumer.");
                    return r;
                }
            }
            i += take;
            if (c->remaining == 0) {
                if (finish_chunk_signature(c) < 0) return -1;
                c->state = ST_DATA_CR;
            }
            break;
        }
        case ST_DATA_CR:
            if (data[i] == '\r') c->state = ST_DATA_LF;
            else if (data[i] == '\n') c->state = ST_HEADER;
            else
                return fail(c, "InvalidRequest",
                            "aws-chunked body is malformed: chunk %lu is longer than its "
                            "declared size.",
                            c->chunk_no);
            i++;
            break;
        case ST_DATA_LF:
            if (data[i] != '\n')
                return fail(c, "InvalidRequest",
                            "aws-chunked body is malformed: expected CRLF after chunk %lu.",
                            c->chunk_no);
            c->state = ST_HEADER;
            i++;
            break;
        case ST_DONE:
            return fail(c, "InvalidRequest",
                        "aws-chunked body is malformed: data after the final chunk and "
                        "trailers.");
        }
    }
    return 0;
}

int sl_chunked_finish(sl_chunked *c) {
    switch (c->state) {
    case ST_FAILED: return -1;
    case ST_DONE: return 0;
    case ST_AFTER_BLANK:
        if (finish_trailers(c) < 0) return -1;
        c->state = ST_DONE;
        return 0;
    case ST_TRAILER:
        /* Final chunk seen and every trailer line complete: accept a missing closing blank
         * line. A partial line means the body was cut. */
        if (c->line_len == 0) {
            if (finish_trailers(c) < 0) return -1;
            c->state = ST_DONE;
            return 0;
        }
        /* fall through */
    case ST_HEADER:
    case ST_DATA:
    case ST_DATA_CR:
    case ST_DATA_LF: break;
    }
    return fail(c, "IncompleteBody",
                "The request body terminated unexpectedly: the aws-chunked body ended before its "
                "final chunk (%llu bytes decoded).",
                c->decoded);
}

const char *sl_chunked_trailer(const sl_chunked *c, const char *lower_name) {
    const trailer *t = find_trailer(c, lower_name);
    return t ? t->value : NULL;
}

const char *sl_chunked_error_code(const sl_chunked *c) {
    return c->state == ST_FAILED ? c->err_code : NULL;
}

const char *sl_chunked_error_message(const sl_chunked *c) {
    return c->state == ST_FAILED ? c->err_msg : NULL;
}

unsigned long long sl_chunked_decoded(const sl_chunked *c) { return c->decoded; }
