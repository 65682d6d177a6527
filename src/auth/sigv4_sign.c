/* sigv4_sign: builds a SigV4 Authorization header. The steps are AWS's, in order: canonical
 * request (method, URI, query, headers, signed header names, payload hash), string to sign
 * (algorithm, date, scope, hash of the canonical request), signing key (HMAC chain over date,
 * region, service), signature. Owns nothing beyond one call; never logs, never reads a clock. */
#include "auth/sigv4_sign.h"

#include "auth/sigv4_canonical.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static void sha256_hex(const void *data, size_t n, char out[65]) {
    unsigned char md[32];
    EVP_Digest(data, n, md, NULL, EVP_sha256(), NULL);
    sl_hex_encode(md, 32, out);
}

static void hmac(const void *key, size_t key_len, const void *msg, size_t n,
                 unsigned char out[32]) {
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, msg, n, out, &len);
}

void sl_sigv4_amz_date(int64_t now_ms, char out[17]) {
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    unsigned v[6] = {(unsigned)(tm.tm_year + 1900) % 10000u,
                     (unsigned)(tm.tm_mon + 1) % 100u,
                     (unsigned)tm.tm_mday % 100u,
                     (unsigned)tm.tm_hour % 100u,
                     (unsigned)tm.tm_min % 100u,
                     (unsigned)tm.tm_sec % 100u};
    snprintf(out, 17, "%04u%02u%02uT%02u%02u%02uZ", v[0], v[1], v[2], v[3], v[4], v[5]);
}

/* ---- canonical query ---- */

typedef struct {
    char *name, *value; /* both URI-encoded */
} query_pair;

static int query_pair_cmp(const void *a, const void *b) {
    const query_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* One component decoded then encoded per RFC 3986; a malformed escape is taken literally. */
static char *reencode(const char *s, size_t n) {
    char *d = sl_xmalloc(n + 1);
    long dl = sl_uri_decode(s, n, d, false);
    sl_buf b;
    sl_buf_init(&b);
    if (dl < 0) sl_buf_uri_encode(&b, s, n, false);
    else sl_buf_uri_encode(&b, d, (size_t)dl, false);
    free(d);
    return sl_buf_steal(&b);
}

static void canonical_query(sl_buf *out, const char *raw) {
    if (!raw || !*raw) return;
    size_t cap = 1;
    for (const char *p = raw; *p; p++) cap += *p == '&';
    query_pair *pairs = sl_xcalloc(cap, sizeof *pairs);
    size_t n = 0;
    for (const char *p = raw; *p;) {
        const char *end = strchr(p, '&');
        if (!end) end = p + strlen(p);
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *name_end = eq ? eq : end;
            pairs[n].name = reencode(p, (size_t)(name_end - p));
            pairs[n].value = eq ? reencode(eq + 1, (size_t)(end - eq - 1)) : sl_xstrdup("");
            n++;
        }
        p = *end ? end + 1 : end;
    }
    qsort(pairs, n, sizeof *pairs, query_pair_cmp);
    for (size_t i = 0; i < n; i++) {
        sl_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
}

/* ---- canonical headers ---- */

typedef struct {
    char *name; /* lower case */
    sl_buf value;
} header_entry;

static int header_entry_cmp(const void *a, const void *b) {
    return strcmp(((const header_entry *)a)->name, ((const header_entry *)b)->name);
}

static bool header_name_ok(const char *s) {
    if (!s || !*s) return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 127 || *s == ':' || *s == ';')
            return false;
    return true;
}

/* Groups the headers by lower-case name (values joined with ','), sorted by name. Returns the
 * count, or -1 with err. entries has room for nheaders + 1 (the added x-amz-date). */
static long collect_headers(const sl_sigv4_sign_request *req, const char *amz_date,
                            header_entry *entries, char *err, size_t errlen) {
    size_t n = 0;
    bool has_host = false, has_date = false;
    for (size_t i = 0; i < req->nheaders; i++) {
        const sl_sigv4_header *h = &req->headers[i];
        if (!header_name_ok(h->name)) {
            snprintf(err, errlen, "header name '%s' cannot be signed", h->name ? h->name : "");
            for (size_t k = 0; k < n; k++) free(entries[k].name), sl_buf_free(&entries[k].value);
            return -1;
        }
        char *name = sl_xstrdup(h->name);
        for (char *c = name; *c; c++) *c = lower(*c);
        size_t k = 0;
        while (k < n && strcmp(entries[k].name, name)) k++;
        if (k == n) {
            entries[n].name = name;
            sl_buf_init(&entries[n].value);
            n++;
        } else {
            free(name);
            sl_buf_putc(&entries[k].value, ',');
        }
        sl_sigv4_trimall(&entries[k].value, h->value);
        if (!strcmp(entries[k].name, "host")) has_host = true;
        if (!strcmp(entries[k].name, "x-amz-date")) has_date = true;
    }
    if (!has_host) {
        snprintf(err, errlen, "a signed request needs a Host header");
        for (size_t k = 0; k < n; k++) free(entries[k].name), sl_buf_free(&entries[k].value);
        return -1;
    }
    if (!has_date) {
        entries[n].name = sl_xstrdup("x-amz-date");
        sl_buf_init(&entries[n].value);
        sl_buf_puts(&entries[n].value, amz_date);
        n++;
    }
    qsort(entries, n, sizeof *entries, header_entry_cmp);
    return (long)n;
}

/* ---- signing ---- */

int sl_sigv4_sign(const sl_sigv4_sign_request *req, sl_sigv4_signature *out, char *err,
                  size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!req->access_key_id || !req->secret_access_key || !req->region || !req->service ||
        !req->method) {
        snprintf(err, errlen, "method, credentials, region and service are required");
        return -1;
    }
    sl_sigv4_amz_date(req->now_ms, out->amz_date);
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = 0;

    header_entry *entries = sl_xcalloc(req->nheaders + 1, sizeof *entries);
    long nh = collect_headers(req, out->amz_date, entries, err, errlen);
    if (nh < 0) {
        free(entries);
        return -1;
    }
    sl_buf signed_headers, cr;
    sl_buf_init(&signed_headers);
    sl_buf_init(&cr);
    for (long i = 0; i < nh; i++)
        sl_buf_printf(&signed_headers, "%s%s", i ? ";" : "", entries[i].name);

    char body_hash[65];
    const char *payload = req->payload_hash;
    if (!payload) {
        sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, body_hash);
        payload = body_hash;
    }
    sl_buf_printf(&cr, "%s\n", req->method);
    sl_sigv4_canonical_uri(&cr, req->raw_path, req->s3);
    sl_buf_putc(&cr, '\n');
    canonical_query(&cr, req->raw_query);
    sl_buf_putc(&cr, '\n');
    for (long i = 0; i < nh; i++) {
        sl_buf_printf(&cr, "%s:%s\n", entries[i].name,
                      entries[i].value.data ? entries[i].value.data : "");
        free(entries[i].name);
        sl_buf_free(&entries[i].value);
    }
    free(entries);
    sl_buf_printf(&cr, "\n%s\n%s", signed_headers.data, payload);

    char cr_hash[65];
    sha256_hex(cr.data, cr.len, cr_hash);
    sl_buf sts;
    sl_buf_init(&sts);
    sl_buf_printf(&sts, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", out->amz_date, date,
                  req->region, req->service, cr_hash);

    sl_buf k_secret;
    sl_buf_init(&k_secret);
    sl_buf_printf(&k_secret, "AWS4%s", req->secret_access_key);
    unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], sig[32];
    hmac(k_secret.data, k_secret.len, date, strlen(date), k_date);
    hmac(k_date, 32, req->region, strlen(req->region), k_region);
    hmac(k_region, 32, req->service, strlen(req->service), k_service);
    hmac(k_service, 32, "aws4_request", 12, k_signing);
    hmac(k_signing, 32, sts.data, sts.len, sig);
    sl_hex_encode(sig, 32, out->signature);
    memset(k_secret.data, 0, k_secret.len);
    sl_buf_free(&k_secret);

    int rc = 0;
    if (signed_headers.len >= sizeof out->signed_headers) {
        snprintf(err, errlen, "too many signed headers");
        rc = -1;
    } else {
        memcpy(out->signed_headers, signed_headers.data, signed_headers.len + 1);
        int w = snprintf(out->authorization, sizeof out->authorization,
                         ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                                   "Signature=%s",
                         req->access_key_id, date, req->region, req->service, out->signed_headers,
                         out->signature);
        if (w < 0 || (size_t)w >= sizeof out->authorization) {
            snprintf(err, errlen, "authorization header too long");
            rc = -1;
        }
    }
    sl_buf_free(&signed_headers);
    sl_buf_free(&cr);
    sl_buf_free(&sts);
    return rc;
}
