/* sigv4: verification of AWS request signatures. SigV4 from the Authorization header or a
 * presigned query, SigV2 for S3 (presigned query and the "AWS AK:sig" header), and the chunk
 * and trailer signatures that aws-chunked uploads chain from a SigV4 seed.
 *
 * The canonical forms follow what the SDKs sign (botocore is the reference; its quirks are
 * noted where we copy them). Every path here is reached by untrusted input: nothing aborts,
 * every allocation is released on every return, and signatures are compared in constant time.
 * All cryptography is OpenSSL's. */
#include "auth/sigv4.h"
#include "auth/sigv4_canonical.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define SKEW_MS             (15LL * 60 * 1000)
#define PRESIGN_MAX_SECONDS 604800
#define EMPTY_SHA256        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ALGORITHM           "AWS4-HMAC-SHA256"

/* ---- small pure helpers ---- */

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
static char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static bool ieq_n(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

static void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n,
                        unsigned char out[32]) {
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, msg, n, out, &len);
}

static void sha256_hex(const void *data, size_t n, char out[65]) {
    unsigned char md[32];
    EVP_Digest(data, n, md, NULL, EVP_sha256(), NULL);
    sl_hex_encode(md, 32, out);
}

/* Constant time for equal lengths; lengths themselves are public (fixed by the algorithm). */
static bool sig_equal(const char *a, size_t a_len, const char *b, size_t b_len) {
    return a_len == b_len && CRYPTO_memcmp(a, b, a_len) == 0;
}

__attribute__((format(printf, 4, 5))) static sl_auth_status
fail(sl_auth_result *out, sl_auth_status st, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    out->status = st;
    out->code = code;
    return st;
}

/* Copies [s, s+n) into a fixed field; false when it does not fit or is empty. */
static bool copy_field(char *dst, size_t cap, const char *s, size_t n) {
    if (n == 0 || n >= cap) return false;
    memcpy(dst, s, n);
    dst[n] = 0;
    return true;
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (no time_t, no locale, no TZ). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

static bool civil_ok(int y, int mo, int d, int h, int mi, int s) {
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= mdays[mo - 1] && h <= 23 &&
           mi <= 59 && s <= 60;
}

static int64_t civil_ms(int y, int mo, int d, int h, int mi, int s) {
    return ((days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + s) * 1000;
}

/* Strict "YYYYMMDDTHHMMSSZ". */
static bool parse_amz_date(const char *s, int64_t *ms) {
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !is_digit(s[i])) return false;
    int y = num(s, 4), mo = num(s + 4, 2), d = num(s + 6, 2);
    int h = num(s + 9, 2), mi = num(s + 11, 2), sec = num(s + 13, 2);
    if (!civil_ok(y, mo, d, h, mi, sec)) return false;
    *ms = civil_ms(y, mo, d, h, mi, sec);
    return true;
}

/* RFC 1123 "Wed, 04 Mar 2026 05:06:07 GMT" (zone GMT, UTC, Z, +0000 or -0000, as Python's
 * formatdate writes it), or the ISO basic form some clients put in x-amz-date. */
static bool parse_http_date(const char *s, int64_t *ms) {
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    if (parse_amz_date(s, ms)) return true;
    const char *p = strchr(s, ',');
    if (!p) return false;
    p++;
    while (*p == ' ') p++;
    /* dd Mon yyyy hh:mm:ss */
    if (!is_digit(p[0])) return false;
    int d = p[0] - '0';
    p++;
    if (is_digit(*p)) d = d * 10 + (*p++ - '0');
    if (*p++ != ' ') return false;
    int mo = 0;
    for (int i = 0; i < 12 && p[0] && p[1] && p[2]; i++)
        if (ieq_n(p, months + 3 * i, 3)) mo = i + 1;
    if (!mo || p[3] != ' ') return false;
    p += 4;
    for (int i = 0; i < 4; i++)
        if (!is_digit(p[i])) return false;
    int y = num(p, 4);
    p += 4;
    if (p[0] != ' ' || !is_digit(p[1]) || !is_digit(p[2]) || p[3] != ':' || !is_digit(p[4]) ||
        !is_digit(p[5]) || p[6] != ':' || !is_digit(p[7]) || !is_digit(p[8]))
        return false;
    int h = num(p + 1, 2), mi = num(p + 4, 2), sec = num(p + 7, 2);
    p += 9;
    while (*p == ' ') p++;
    if (strcmp(p, "GMT") && strcmp(p, "UTC") && strcmp(p, "Z") && strcmp(p, "+0000") &&
        strcmp(p, "-0000") && *p)
        return false;
    if (!civil_ok(y, mo, d, h, mi, sec)) return false;
    *ms = civil_ms(y, mo, d, h, mi, sec);
    return true;
}

static void put_digits(char *out, int64_t v, int width) {
    for (int i = width - 1; i >= 0; i--, v /= 10) out[i] = (char)('0' + v % 10);
}

/* ms is never negative here: it comes from a date that parsed as 1970 or later. */
static void format_amz_date(int64_t ms, char out[17]) {
    int64_t z = ms / 1000 / 86400 + 719468, secs = (ms / 1000) % 86400;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    int64_t y = yoe + era * 400 + (m <= 2);
    put_digits(out, y, 4);
    put_digits(out + 4, m, 2);
    put_digits(out + 6, d, 2);
    out[8] = 'T';
    put_digits(out + 9, secs / 3600, 2);
    put_digits(out + 11, secs / 60 % 60, 2);
    put_digits(out + 13, secs % 60, 2);
    out[15] = 'Z';
    out[16] = 0;
}

/* Whole seconds from a run of at most 12 digits; false on anything else. */
static bool parse_seconds(const char *s, int64_t *out) {
    size_t n = strlen(s);
    if (n == 0 || n > 12) return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* ---- query strings ---- */

typedef struct {
    char *name; /* percent-decoded; may hold NULs, hence the lengths */
    size_t name_len;
    char *value;
    size_t value_len;
    const char *raw_name; /* as sent, for SigV2's sub-resources */
    size_t raw_name_len;
    bool has_eq;
} qparam;

typedef struct {
    qparam *v;
    size_t n;
} qlist;

/* Decodes a query component. A malformed escape is kept literally: the client could not have
 * meant anything else by it, and its '%' is then encoded like any other byte. */
static char *decode_part(const char *s, size_t n, bool plus_is_space, size_t *out_len) {
    char *d = sl_xmalloc(n + 1);
    long len = sl_uri_decode(s, n, d, plus_is_space);
    if (len < 0) {
        memcpy(d, s, n);
        d[n] = 0;
        len = (long)n;
    }
    *out_len = (size_t)len;
    return d;
}

static void qlist_parse(qlist *q, const char *raw, bool plus_is_space) {
    q->v = NULL;
    q->n = 0;
    size_t cap = 0;
    const char *p = raw;
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end) end = p + strlen(p);
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *name_end = eq ? eq : end;
            if (q->n == cap) {
                cap = cap ? cap * 2 : 16;
                q->v = sl_xrealloc(q->v, cap * sizeof *q->v);
            }
            qparam *qp = &q->v[q->n++];
            qp->raw_name = p;
            qp->raw_name_len = (size_t)(name_end - p);
            qp->has_eq = eq != NULL;
            qp->name = decode_part(p, (size_t)(name_end - p), plus_is_space, &qp->name_len);
            if (eq)
                qp->value =
                    decode_part(eq + 1, (size_t)(end - eq - 1), plus_is_space, &qp->value_len);
            else qp->value = decode_part("", 0, false, &qp->value_len);
        }
        p = *end ? end + 1 : end;
    }
}

static void qlist_free(qlist *q) {
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].name);
        free(q->v[i].value);
    }
    free(q->v);
    q->v = NULL;
    q->n = 0;
}

/* First parameter with this exact (decoded) name, or with this name ignoring case. */
static const qparam *qlist_find(const qlist *q, const char *name, bool any_case) {
    size_t n = strlen(name);
    for (size_t i = 0; i < q->n; i++) {
        const qparam *p = &q->v[i];
        if (p->name_len != n) continue;
        if (any_case ? ieq_n(p->name, name, n) : memcmp(p->name, name, n) == 0) return p;
    }
    return NULL;
}

static const char *qlist_value(const qlist *q, const char *name) {
    const qparam *p = qlist_find(q, name, false);
    return p ? p->value : NULL;
}

typedef struct {
    char *name;
    char *value;
} enc_pair;

static int enc_pair_cmp(const void *a, const void *b) {
    const enc_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Every parameter (less X-Amz-Signature when presigned) URI-encoded per RFC 3986 and sorted by
 * encoded name, then encoded value. */
static void canonical_query(sl_buf *out, const qlist *q, bool skip_signature) {
    if (q->n == 0) return;
    enc_pair *pairs = sl_xcalloc(q->n, sizeof *pairs);
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++) {
        const qparam *p = &q->v[i];
        if (skip_signature && p->name_len == 15 && !memcmp(p->name, "X-Amz-Signature", 15))
            continue;
        sl_buf b;
        sl_buf_init(&b);
        sl_buf_uri_encode(&b, p->name, p->name_len, false);
        pairs[n].name = sl_buf_steal(&b);
        sl_buf_uri_encode(&b, p->value, p->value_len, false);
        pairs[n].value = sl_buf_steal(&b);
        n++;
    }
    qsort(pairs, n, sizeof *pairs, enc_pair_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i) sl_buf_putc(out, '&');
        sl_buf_puts(out, pairs[i].name);
        sl_buf_putc(out, '=');
        sl_buf_puts(out, pairs[i].value);
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
}

/* ---- SigV4 canonical request ---- */

/* S3 signs the path exactly as sent. Other services sign it with dot segments and empty
 * segments removed, then percent-encoded once more (so escapes end up double-encoded), which is
 * what botocore and the other SDKs do. */
void sl_sigv4_canonical_uri(sl_buf *out, const char *raw_path, bool s3) {
    if (!raw_path || !*raw_path) {
        sl_buf_putc(out, '/');
        return;
    }
    if (s3) {
        sl_buf_puts(out, raw_path);
        return;
    }
    size_t len = strlen(raw_path);
    /* Segment starts and lengths of the normalised path; at most one per '/' plus one. */
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += raw_path[i] == '/';
    size_t *seg_at = sl_xmalloc(cap * sizeof *seg_at), *seg_len = sl_xmalloc(cap * sizeof *seg_len);
    size_t nseg = 0;
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && raw_path[j] != '/') j++;
        size_t n = j - i;
        if (n == 0 || (n == 1 && raw_path[i] == '.')) {
            /* empty or "." segment: dropped */
        } else if (n == 2 && raw_path[i] == '.' && raw_path[i + 1] == '.') {
            if (nseg) nseg--;
        } else {
            seg_at[nseg] = i;
            seg_len[nseg++] = n;
        }
        i = j + 1;
    }
    sl_buf norm;
    sl_buf_init(&norm);
    if (raw_path[0] == '/') sl_buf_putc(&norm, '/');
    for (size_t k = 0; k < nseg; k++) {
        if (k) sl_buf_putc(&norm, '/');
        sl_buf_append(&norm, raw_path + seg_at[k], seg_len[k]);
    }
    if (nseg && raw_path[len - 1] == '/') sl_buf_putc(&norm, '/');
    if (norm.len == 0) sl_buf_putc(&norm, '/');
    sl_buf_uri_encode(out, norm.data, norm.len, true);
    sl_buf_free(&norm);
    free(seg_at);
    free(seg_len);
}

/* Trimall: no leading or trailing white space, inner runs collapsed to one space. */
void sl_sigv4_trimall(sl_buf *b, const char *v) {
    bool pending_space = false, any = false;
    for (; v && *v; v++) {
        if (is_ws(*v)) {
            pending_space = any;
            continue;
        }
        if (pending_space) sl_buf_putc(b, ' ');
        pending_space = false;
        any = true;
        sl_buf_putc(b, *v);
    }
}

static const char *get_header(const sl_sigv4_request *req, const char *lower_name) {
    return req->header ? req->header(req->header_ctx, lower_name) : NULL;
}

/* Checks the SignedHeaders list: non-empty names of header characters, "host" among them. */
static bool signed_headers_valid(const char *sh, bool *has_host) {
    *has_host = false;
    const char *p = sh;
    if (!*p) return false;
    while (*p) {
        const char *end = strchr(p, ';');
        if (!end) end = p + strlen(p);
        size_t n = (size_t)(end - p);
        if (n == 0 || n > 256) return false;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c <= ' ' || c >= 127 || c == ':') return false;
        }
        if (n == 4 && ieq_n(p, "host", 4)) *has_host = true;
        p = *end ? end + 1 : end;
    }
    return true;
}

static void canonical_headers(sl_buf *out, const sl_sigv4_request *req, const char *sh) {
    char name[257];
    const char *p = sh;
    while (*p) {
        const char *end = strchr(p, ';');
        if (!end) end = p + strlen(p);
        size_t n = (size_t)(end - p);
        for (size_t i = 0; i < n; i++) name[i] = to_lower(p[i]);
        name[n] = 0;
        sl_buf_puts(out, name);
        sl_buf_putc(out, ':');
        sl_sigv4_trimall(out, get_header(req, name));
        sl_buf_putc(out, '\n');
        p = *end ? end + 1 : end;
    }
}

static void build_canonical_request(sl_buf *cr, const sl_sigv4_request *req, const qlist *q,
                                    bool presigned, const char *signed_headers,
                                    const char *payload_hash) {
    sl_buf_puts(cr, req->method ? req->method : "");
    sl_buf_putc(cr, '\n');
    sl_sigv4_canonical_uri(cr, req->raw_path, req->s3);
    sl_buf_putc(cr, '\n');
    canonical_query(cr, q, presigned);
    sl_buf_putc(cr, '\n');
    canonical_headers(cr, req, signed_headers);
    sl_buf_putc(cr, '\n');
    sl_buf_puts(cr, signed_headers);
    sl_buf_putc(cr, '\n');
    sl_buf_puts(cr, payload_hash);
}

static void scope_string(sl_buf *b, const sl_auth_result *a) {
    sl_buf_printf(b, "%s/%s/%s/aws4_request", a->date, a->region, a->service);
}

static void hmac_hex(const unsigned char key[32], const sl_buf *msg, char out[65]) {
    unsigned char mac[32];
    hmac_sha256(key, 32, msg->data, msg->len, mac);
    sl_hex_encode(mac, 32, out);
}

static void request_signature(const sl_auth_result *a, const sl_buf *canonical, char out[65]) {
    char cr_hash[65];
    sha256_hex(canonical->data, canonical->len, cr_hash);
    sl_buf sts;
    sl_buf_init(&sts);
    sl_buf_printf(&sts, ALGORITHM "\n%s\n", a->amz_date);
    scope_string(&sts, a);
    sl_buf_printf(&sts, "\n%s", cr_hash);
    hmac_hex(a->signing_key, &sts, out);
    sl_buf_free(&sts);
}

/* Derived keys change once a day per (secret, region, service): a small cache saves four
 * HMACs on every request. Keyed by a SHA-256 of the inputs so no secret is kept in clear. */
#define KEY_CACHE_SLOTS 8
static struct {
    unsigned char id[32];
    unsigned char key[32];
    bool used;
} key_cache[KEY_CACHE_SLOTS];
static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void derive_signing_key(const char *secret, const char *date, const char *region,
                               const char *service, unsigned char out[32]);

void sl_sigv4_signing_key(const char *secret, const char *date, const char *region,
                          const char *service, unsigned char out[32]) {
    unsigned char id[32];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    const char *parts[4] = {secret, date, region, service};
    for (int i = 0; i < 4; i++) EVP_DigestUpdate(md, parts[i], strlen(parts[i]) + 1);
    EVP_DigestFinal_ex(md, id, NULL);
    EVP_MD_CTX_free(md);
    unsigned slot = id[0] % KEY_CACHE_SLOTS;
    pthread_mutex_lock(&key_cache_lock);
    bool hit = key_cache[slot].used && !memcmp(key_cache[slot].id, id, 32);
    if (hit) memcpy(out, key_cache[slot].key, 32);
    pthread_mutex_unlock(&key_cache_lock);
    if (hit) return;
    derive_signing_key(secret, date, region, service, out);
    pthread_mutex_lock(&key_cache_lock);
    memcpy(key_cache[slot].id, id, 32);
    memcpy(key_cache[slot].key, out, 32);
    key_cache[slot].used = true;
    pthread_mutex_unlock(&key_cache_lock);
}

static void derive_signing_key(const char *secret, const char *date, const char *region,
                               const char *service, unsigned char out[32]) {
    sl_buf k;
    sl_buf_init(&k);
    sl_buf_printf(&k, "AWS4%s", secret);
    unsigned char a[32], b[32];
    hmac_sha256(k.data, k.len, date, strlen(date), a);
    hmac_sha256(a, 32, region, strlen(region), b);
    hmac_sha256(b, 32, service, strlen(service), a);
    hmac_sha256(a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k.data, k.len);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    sl_buf_free(&k);
}

void sl_sigv4_chunk_signature(const sl_auth_result *auth, const char *prev_signature,
                              const unsigned char chunk_sha256[32], char out[65]) {
    char chunk_hex[65];
    sl_hex_encode(chunk_sha256, 32, chunk_hex);
    sl_buf sts;
    sl_buf_init(&sts);
    sl_buf_printf(&sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n", auth->amz_date);
    scope_string(&sts, auth);
    sl_buf_printf(&sts, "\n%s\n" EMPTY_SHA256 "\n%s", prev_signature, chunk_hex);
    hmac_hex(auth->signing_key, &sts, out);
    sl_buf_free(&sts);
}

void sl_sigv4_trailer_signature(const sl_auth_result *auth, const char *prev_signature,
                                const char *trailer_text, size_t n, char out[65]) {
    char trailer_hex[65];
    sha256_hex(trailer_text, n, trailer_hex);
    sl_buf sts;
    sl_buf_init(&sts);
    sl_buf_printf(&sts, "AWS4-HMAC-SHA256-TRAILER\n%s\n", auth->amz_date);
    scope_string(&sts, auth);
    sl_buf_printf(&sts, "\n%s\n%s", prev_signature, trailer_hex);
    hmac_hex(auth->signing_key, &sts, out);
    sl_buf_free(&sts);
}

/* ---- SigV4 verification ---- */

static const char MSG_MISMATCH[] = "The request signature we calculated does not match the "
                                   "signature you provided. Check your key and signing method.";
static const char MSG_UNKNOWN_KEY[] =
    "The AWS Access Key Id you provided does not exist in our records.";
static const char MSG_SKEWED[] =
    "The difference between the request time and the current time is too large.";

/* "AK/YYYYMMDD/region/service/aws4_request", split from the right so only the key may hold
 * an unexpected character. */
static bool parse_credential(const char *s, sl_auth_result *out) {
    size_t n = strlen(s);
    const char *slash[4];
    int found = 0;
    for (size_t i = n; i > 0 && found < 4; i--)
        if (s[i - 1] == '/') slash[found++] = s + i - 1;
    if (found < 4) return false;
    /* slash[3] ends the key, slash[2] the date, slash[1] the region, slash[0] the service. */
    const char *terminal = slash[0] + 1;
    if (strcmp(terminal, "aws4_request") != 0) return false;
    if (!copy_field(out->access_key, sizeof out->access_key, s, (size_t)(slash[3] - s)) ||
        !copy_field(out->date, sizeof out->date, slash[3] + 1, (size_t)(slash[2] - slash[3] - 1)) ||
        !copy_field(out->region, sizeof out->region, slash[2] + 1,
                    (size_t)(slash[1] - slash[2] - 1)) ||
        !copy_field(out->service, sizeof out->service, slash[1] + 1,
                    (size_t)(slash[0] - slash[1] - 1)))
        return false;
    if (strlen(out->date) != 8) return false;
    for (int i = 0; i < 8; i++)
        if (!is_digit(out->date[i])) return false;
    return true;
}

typedef struct {
    bool presigned;
    const char *credential;
    const char *signed_headers;
    const char *signature;
    const char *amz_date; /* YYYYMMDDTHHMMSSZ */
    int64_t expires_s;    /* presigned only */
    const char *payload_hash;
} v4_input;

static sl_auth_status verify_v4(const sl_sigv4_request *req, const qlist *q, const v4_input *in,
                                sl_auth_result *out) {
    const char *malformed =
        in->presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
    out->presigned = in->presigned;
    if (!parse_credential(in->credential, out))
        return fail(out, SL_AUTH_MALFORMED, malformed,
                    "The authorization %s is malformed; the Credential is mal-formed; expecting "
                    "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
                    in->presigned ? "query" : "header");
    int64_t t_ms;
    if (!parse_amz_date(in->amz_date, &t_ms))
        return fail(out, SL_AUTH_MALFORMED, malformed,
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".");
    memcpy(out->amz_date, in->amz_date, 17);
    if (memcmp(out->date, in->amz_date, 8) != 0)
        return fail(out, SL_AUTH_MALFORMED, malformed,
                    "Invalid credential date \"%s\". This date is not the same as X-Amz-Date: "
                    "\"%.8s\".",
                    out->date, in->amz_date);
    size_t sig_len = strlen(in->signature);
    bool sig_hex = sig_len == 64;
    for (size_t i = 0; sig_hex && i < 64; i++) sig_hex = is_lower_hex(in->signature[i]);
    if (!sig_hex)
        return fail(out, SL_AUTH_MALFORMED, malformed,
                    "The signature must be 64 lower-case hexadecimal characters.");
    bool has_host;
    if (!signed_headers_valid(in->signed_headers, &has_host))
        return fail(out, SL_AUTH_MALFORMED, malformed, "SignedHeaders is malformed.");
    if (!has_host)
        return fail(out, SL_AUTH_MALFORMED, malformed,
                    "The host header must be signed (missing from SignedHeaders).");

    char secret[SL_SECRET_MAX];
    if (!req->secret || !req->secret(req->secret_ctx, out->access_key, secret))
        return fail(out, SL_AUTH_UNKNOWN_KEY, "InvalidAccessKeyId", MSG_UNKNOWN_KEY);

    if (in->presigned) {
        if (t_ms - req->now_ms > SKEW_MS)
            return fail(out, SL_AUTH_EXPIRED, "AccessDenied", "Request is not valid yet");
        if (req->now_ms > t_ms + in->expires_s * 1000)
            return fail(out, SL_AUTH_EXPIRED, "AccessDenied", "Request has expired");
    } else if (t_ms - req->now_ms > SKEW_MS || req->now_ms - t_ms > SKEW_MS) {
        return fail(out, SL_AUTH_SKEWED, "RequestTimeTooSkewed", MSG_SKEWED);
    }

    sl_sigv4_signing_key(secret, out->date, out->region, out->service, out->signing_key);
    sl_buf cr;
    sl_buf_init(&cr);
    build_canonical_request(&cr, req, q, in->presigned, in->signed_headers, in->payload_hash);
    char calc[65];
    request_signature(out, &cr, calc);
    bool ok = sig_equal(calc, 64, in->signature, sig_len);
    /* A raw '+' in the query is a literal '+' (what botocore and the current SDKs mean, since
     * they send spaces as %20). Older clients (aws-sdk-go v1, hand-rolled form encoders) send
     * '+' for a space and sign %20: accept that reading too. */
    if (!ok && req->raw_query && strchr(req->raw_query, '+')) {
        qlist alt;
        qlist_parse(&alt, req->raw_query, true);
        sl_buf_reset(&cr);
        build_canonical_request(&cr, req, &alt, in->presigned, in->signed_headers,
                                in->payload_hash);
        request_signature(out, &cr, calc);
        ok = sig_equal(calc, 64, in->signature, sig_len);
        qlist_free(&alt);
    }
    sl_buf_free(&cr);
    if (!ok) {
        OPENSSL_cleanse(out->signing_key, sizeof out->signing_key);
        return fail(out, SL_AUTH_BAD_SIGNATURE, "SignatureDoesNotMatch", MSG_MISMATCH);
    }
    memcpy(out->signature, calc, 65);
    out->status = SL_AUTH_OK;
    out->code = NULL;
    out->message[0] = 0;
    return SL_AUTH_OK;
}

/* Splits "Credential=..., SignedHeaders=..., Signature=..." (after the algorithm) into the
 * three components; the separators tolerate any mix of commas and spaces. Values point into
 * a copy the caller frees. */
static bool parse_v4_header(const char *h, char **copy, v4_input *in) {
    *copy = sl_xstrdup(h);
    char *p = *copy;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        if (!*p) break;
        char *key = p;
        char *eq = strchr(p, '=');
        if (!eq) return false;
        *eq = 0;
        char *val = eq + 1;
        char *end = strchr(val, ',');
        if (end) *end = 0;
        char *tail = val + strlen(val);
        while (tail > val && (tail[-1] == ' ' || tail[-1] == '\t')) *--tail = 0;
        if (!strcmp(key, "Credential") && !in->credential) in->credential = val;
        else if (!strcmp(key, "SignedHeaders") && !in->signed_headers) in->signed_headers = val;
        else if (!strcmp(key, "Signature") && !in->signature) in->signature = val;
        p = end ? end + 1 : val + strlen(val);
    }
    return in->credential && in->signed_headers && in->signature;
}

static sl_auth_status verify_v4_header(const sl_sigv4_request *req, const char *authz,
                                       sl_auth_result *out) {
    v4_input in = {0};
    char *copy = NULL;
    char amz_date[17];
    sl_auth_status st;
    qlist q = {0};
    if (!parse_v4_header(authz + strlen(ALGORITHM), &copy, &in)) {
        st = fail(out, SL_AUTH_MALFORMED, "AuthorizationHeaderMalformed",
                  "The authorization header is malformed; it must contain Credential, "
                  "SignedHeaders and Signature.");
        goto done;
    }
    const char *xdate = get_header(req, "x-amz-date");
    if (xdate) {
        in.amz_date = xdate;
    } else {
        /* botocore signs with the Date header when the caller set one. */
        const char *date = get_header(req, "date");
        int64_t ms;
        if (!date || !parse_http_date(date, &ms)) {
            st = fail(out, SL_AUTH_MALFORMED, "AccessDenied",
                      "AWS authentication requires a valid Date or x-amz-date header");
            goto done;
        }
        format_amz_date(ms, amz_date);
        in.amz_date = amz_date;
    }
    /* S3: the caller passes the x-amz-content-sha256 value. Elsewhere the caller passes the
     * body's hash, which is what a hex x-amz-content-sha256 must equal anyway; but a client
     * that chose not to sign the body (botocore does over TLS for some operations) signs the
     * literal UNSIGNED-PAYLOAD it sent. */
    const char *sent_hash = get_header(req, "x-amz-content-sha256");
    if (!req->s3 && sent_hash && !strcmp(sent_hash, "UNSIGNED-PAYLOAD"))
        in.payload_hash = sent_hash;
    else in.payload_hash = req->payload_hash ? req->payload_hash : sent_hash;
    if (!in.payload_hash) {
        if (req->s3) {
            st = fail(out, SL_AUTH_MALFORMED, "InvalidRequest",
                      "Missing required header for this request: x-amz-content-sha256");
            goto done;
        }
        in.payload_hash = EMPTY_SHA256;
    }
    qlist_parse(&q, req->raw_query ? req->raw_query : "", false);
    st = verify_v4(req, &q, &in, out);
done:
    qlist_free(&q);
    free(copy);
    return st;
}

static sl_auth_status verify_v4_query(const sl_sigv4_request *req, const qlist *q,
                                      sl_auth_result *out) {
    const char *algorithm = qlist_value(q, "X-Amz-Algorithm");
    v4_input in = {.presigned = true};
    in.credential = qlist_value(q, "X-Amz-Credential");
    in.signed_headers = qlist_value(q, "X-Amz-SignedHeaders");
    in.signature = qlist_value(q, "X-Amz-Signature");
    in.amz_date = qlist_value(q, "X-Amz-Date");
    const char *expires = qlist_value(q, "X-Amz-Expires");
    out->presigned = true;
    if (!algorithm || !in.credential || !in.signed_headers || !in.signature || !in.amz_date ||
        !expires)
        return fail(out, SL_AUTH_MALFORMED, "AuthorizationQueryParametersError",
                    "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                    "X-Amz-Expires parameters.");
    if (strcmp(algorithm, ALGORITHM) != 0)
        return fail(out, SL_AUTH_MALFORMED, "AuthorizationQueryParametersError",
                    "X-Amz-Algorithm only supports \"" ALGORITHM "\"");
    if (!parse_seconds(expires, &in.expires_s))
        return fail(out, SL_AUTH_MALFORMED, "AuthorizationQueryParametersError",
                    "X-Amz-Expires should be a number");
    if (in.expires_s > PRESIGN_MAX_SECONDS)
        return fail(out, SL_AUTH_MALFORMED, "AuthorizationQueryParametersError",
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    const qparam *hash = qlist_find(q, "X-Amz-Content-Sha256", true);
    if (hash) in.payload_hash = hash->value;
    else if (req->s3 || !req->payload_hash) in.payload_hash = "UNSIGNED-PAYLOAD";
    else in.payload_hash = req->payload_hash;
    return verify_v4(req, q, &in, out);
}

/* ---- SigV2 (S3) ---- */

/* The sub-resources SigV2 puts in the canonical resource: the list botocore signs, which is
 * AWS's documented list plus the response-* overrides. */
// clang-format off
static const char *const v2_subresources[] = {
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
    "lifecycle", "location", "logging", "metrics", "notification", "object-lock", "partNumber",
    "policy", "replication", "requestPayment", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website", NULL};
// clang-format on

static bool is_v2_subresource(const char *name, size_t n) {
    for (const char *const *s = v2_subresources; *s; s++)
        if (strlen(*s) == n && !memcmp(*s, name, n)) return true;
    return false;
}

typedef struct {
    char *name; /* lower-case */
    sl_buf value;
} amz_header;

typedef struct {
    amz_header *v;
    size_t n, cap;
} amz_list;

static void amz_add(amz_list *l, const char *name, size_t name_len, const char *value,
                    size_t value_len) {
    if (name_len < 6 || !ieq_n(name, "x-amz-", 6)) return;
    while (value_len && is_ws(*value)) value++, value_len--;
    while (value_len && is_ws(value[value_len - 1])) value_len--;
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->v[i].name) == name_len && ieq_n(l->v[i].name, name, name_len)) {
            sl_buf_putc(&l->v[i].value, ',');
            sl_buf_append(&l->v[i].value, value, value_len);
            return;
        }
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = sl_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    amz_header *h = &l->v[l->n++];
    h->name = sl_xstrndup(name, name_len);
    for (size_t i = 0; i < name_len; i++) h->name[i] = to_lower(h->name[i]);
    sl_buf_init(&h->value);
    sl_buf_append(&h->value, value, value_len);
}

static void amz_visit(void *arg, const char *name, const char *value) {
    amz_add(arg, name, strlen(name), value ? value : "", value ? strlen(value) : 0);
}

static int amz_cmp(const void *a, const void *b) {
    return strcmp(((const amz_header *)a)->name, ((const amz_header *)b)->name);
}

static void amz_free(amz_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        sl_buf_free(&l->v[i].value);
    }
    free(l->v);
}

static void append_trimmed(sl_buf *b, const char *v) {
    if (!v) return;
    while (is_ws(*v)) v++;
    size_t n = strlen(v);
    while (n && is_ws(v[n - 1])) n--;
    sl_buf_append(b, v, n);
}

typedef struct {
    size_t index;
} subres_ref;

/* "/bucket/key" plus "?sub=value&..." for the sub-resources present, sorted by name, values
 * decoded ('=' kept only when it was sent). */
static void v2_canonical_resource(sl_buf *b, const sl_sigv4_request *req, const qlist *q,
                                  bool bucket_slash) {
    if (req->virtual_host_bucket && *req->virtual_host_bucket) {
        sl_buf_putc(b, '/');
        sl_buf_puts(b, req->virtual_host_bucket);
    }
    sl_buf_puts(b, req->raw_path && *req->raw_path ? req->raw_path : "/");
    if (bucket_slash) sl_buf_putc(b, '/');
    subres_ref *refs = sl_xcalloc(q->n ? q->n : 1, sizeof *refs);
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        if (is_v2_subresource(q->v[i].raw_name, q->v[i].raw_name_len)) refs[n++].index = i;
    /* A stable sort by raw name (Python's sort is stable; qsort is not and takes no context):
     * insertion sort, as there are only ever a handful. */
    for (size_t i = 1; i < n; i++) {
        subres_ref key = refs[i];
        size_t j = i;
        while (j > 0) {
            const qparam *p = &q->v[refs[j - 1].index], *r = &q->v[key.index];
            size_t m = p->raw_name_len < r->raw_name_len ? p->raw_name_len : r->raw_name_len;
            int c = memcmp(p->raw_name, r->raw_name, m);
            if (!c) c = (p->raw_name_len > r->raw_name_len) - (p->raw_name_len < r->raw_name_len);
            if (c <= 0) break;
            refs[j] = refs[j - 1];
            j--;
        }
        refs[j] = key;
    }
    for (size_t i = 0; i < n; i++) {
        const qparam *p = &q->v[refs[i].index];
        sl_buf_putc(b, i ? '&' : '?');
        sl_buf_append(b, p->raw_name, p->raw_name_len);
        if (p->has_eq) {
            sl_buf_putc(b, '=');
            sl_buf_append(b, p->value, p->value_len);
        }
    }
    free(refs);
}

static void v2_sign(const char *secret, const sl_buf *sts, char out[29]) {
    unsigned char mac[20];
    unsigned int len = 20;
    HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)sts->data, sts->len, mac,
         &len);
    sl_base64_encode(mac, 20, out);
}

static sl_auth_status verify_v2(const sl_sigv4_request *req, const qlist *q, bool presigned,
                                const char *access_key, size_t ak_len, const char *signature,
                                sl_auth_result *out) {
    const char *malformed =
        presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
    out->sigv2 = true;
    out->presigned = presigned;
    if (!copy_field(out->access_key, sizeof out->access_key, access_key, ak_len) || !*signature)
        return fail(out, SL_AUTH_MALFORMED, malformed,
                    "The authorization %s is malformed; expecting AWSAccessKeyId and Signature.",
                    presigned ? "query" : "header");

    /* The time line of the string to sign: Expires when presigned; else the Date header, or
     * "" when x-amz-date is present (AWS's rule; botocore signs Date, so try that second). */
    const char *date_lines[2] = {NULL, NULL};
    int64_t t_ms = 0;
    if (presigned) {
        const char *expires = qlist_value(q, "Expires");
        int64_t exp_s;
        if (!expires || !parse_seconds(expires, &exp_s))
            return fail(out, SL_AUTH_MALFORMED, malformed,
                        "Query-string authentication requires the Signature, Expires and "
                        "AWSAccessKeyId parameters");
        date_lines[0] = expires;
        t_ms = exp_s * 1000;
    } else {
        const char *xdate = get_header(req, "x-amz-date");
        const char *date = get_header(req, "date");
        const char *when = xdate ? xdate : date;
        if (!when || !parse_http_date(when, &t_ms))
            return fail(out, SL_AUTH_MALFORMED, "AccessDenied",
                        "AWS authentication requires a valid Date or x-amz-date header");
        date_lines[0] = xdate ? "" : date;
        if (xdate && date) date_lines[1] = date;
    }

    char secret[SL_SECRET_MAX];
    if (!req->secret || !req->secret(req->secret_ctx, out->access_key, secret))
        return fail(out, SL_AUTH_UNKNOWN_KEY, "InvalidAccessKeyId", MSG_UNKNOWN_KEY);
    if (presigned) {
        if (req->now_ms > t_ms)
            return fail(out, SL_AUTH_EXPIRED, "AccessDenied", "Request has expired");
    } else if (t_ms - req->now_ms > SKEW_MS || req->now_ms - t_ms > SKEW_MS) {
        return fail(out, SL_AUTH_SKEWED, "RequestTimeTooSkewed", MSG_SKEWED);
    }

    amz_list amz = {0};
    if (req->each_header) req->each_header(req->header_ctx, amz_visit, &amz);
    if (presigned) /* botocore moves x-amz-* headers into the presigned URL's query */
        for (size_t i = 0; i < q->n; i++)
            amz_add(&amz, q->v[i].name, q->v[i].name_len, q->v[i].value, q->v[i].value_len);
    if (amz.n) qsort(amz.v, amz.n, sizeof *amz.v, amz_cmp);

    /* botocore signs "/bucket/" for bucket-level requests sent to "/bucket"; try both. */
    const char *path = req->raw_path ? req->raw_path : "";
    bool bucket_only =
        !req->virtual_host_bucket && path[0] == '/' && path[1] && !strchr(path + 1, '/');
    size_t sig_len = strlen(signature);
    bool ok = false;
    sl_buf sts;
    sl_buf_init(&sts);
    for (int d = 0; d < 2 && !ok && date_lines[d]; d++) {
        for (int slash = 0; slash <= (bucket_only ? 1 : 0) && !ok; slash++) {
            sl_buf_reset(&sts);
            sl_buf_puts(&sts, req->method ? req->method : "");
            sl_buf_putc(&sts, '\n');
            append_trimmed(&sts, get_header(req, "content-md5"));
            sl_buf_putc(&sts, '\n');
            append_trimmed(&sts, get_header(req, "content-type"));
            sl_buf_putc(&sts, '\n');
            sl_buf_puts(&sts, date_lines[d]);
            sl_buf_putc(&sts, '\n');
            for (size_t i = 0; i < amz.n; i++) {
                /* With x-amz-date standing in for Date it is still an x-amz-* header. */
                sl_buf_printf(&sts, "%s:", amz.v[i].name);
                sl_buf_append(&sts, amz.v[i].value.data ? amz.v[i].value.data : "",
                              amz.v[i].value.len);
                sl_buf_putc(&sts, '\n');
            }
            v2_canonical_resource(&sts, req, q, slash == 1);
            char calc[29];
            v2_sign(secret, &sts, calc);
            ok = sig_equal(calc, strlen(calc), signature, sig_len);
            if (ok) memcpy(out->signature, calc, sizeof calc);
        }
    }
    sl_buf_free(&sts);
    amz_free(&amz);
    if (!ok) return fail(out, SL_AUTH_BAD_SIGNATURE, "SignatureDoesNotMatch", MSG_MISMATCH);
    out->status = SL_AUTH_OK;
    out->code = NULL;
    out->message[0] = 0;
    return SL_AUTH_OK;
}

static sl_auth_status verify_v2_header(const sl_sigv4_request *req, const char *authz,
                                       sl_auth_result *out) {
    const char *cred = authz + 4; /* after "AWS " */
    while (*cred == ' ') cred++;
    const char *colon = strchr(cred, ':');
    qlist q;
    qlist_parse(&q, req->raw_query ? req->raw_query : "", false);
    sl_auth_status st;
    if (!colon) {
        out->sigv2 = true;
        st =
            fail(out, SL_AUTH_MALFORMED, "AuthorizationHeaderMalformed",
                 "The authorization header is malformed; expecting \"AWS AccessKeyId:Signature\".");
    } else {
        char *sig = sl_xstrdup(colon + 1);
        size_t n = strlen(sig);
        while (n && is_ws(sig[n - 1])) sig[--n] = 0;
        st = verify_v2(req, &q, false, cred, (size_t)(colon - cred), sig, out);
        free(sig);
    }
    qlist_free(&q);
    return st;
}

/* ---- entry point ---- */

sl_auth_status sl_sigv4_verify(const sl_sigv4_request *req, sl_auth_result *out) {
    memset(out, 0, sizeof *out);
    const char *authz = get_header(req, "authorization");
    while (authz && is_ws(*authz)) authz++;
    qlist q;
    qlist_parse(&q, req->raw_query ? req->raw_query : "", false);
    bool q_v4 = qlist_find(&q, "X-Amz-Algorithm", false) ||
                qlist_find(&q, "X-Amz-Credential", false) ||
                qlist_find(&q, "X-Amz-Signature", false);
    bool q_v2 =
        !q_v4 && qlist_find(&q, "AWSAccessKeyId", false) && qlist_find(&q, "Signature", false);
    sl_auth_status st;

    if (authz && *authz && (q_v4 || q_v2)) {
        st = fail(out, SL_AUTH_MALFORMED, "InvalidArgument",
                  "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                  "Signature query string parameter or the Authorization header should be "
                  "specified");
    } else if (authz && *authz) {
        size_t alg = strlen(ALGORITHM);
        if (!strncmp(authz, ALGORITHM, alg) && (authz[alg] == ' ' || authz[alg] == '\t'))
            st = verify_v4_header(req, authz, out);
        else if (req->s3 && !strncmp(authz, "AWS ", 4)) st = verify_v2_header(req, authz, out);
        else
            st = fail(out, SL_AUTH_MALFORMED, "AuthorizationHeaderMalformed",
                      "Unsupported Authorization Type");
    } else if (q_v4) {
        st = verify_v4_query(req, &q, out);
    } else if (q_v2 && req->s3) {
        const qparam *ak = qlist_find(&q, "AWSAccessKeyId", false);
        st = verify_v2(req, &q, true, ak->value, ak->value_len, qlist_value(&q, "Signature"), out);
    } else if (q_v2) {
        st = fail(out, SL_AUTH_MALFORMED, "AuthorizationQueryParametersError",
                  "Signature Version 2 is only supported for S3; sign with Signature Version 4.");
    } else {
        st = fail(out, SL_AUTH_ANONYMOUS, "AccessDenied", "Access Denied");
    }
    qlist_free(&q);
    return st;
}
