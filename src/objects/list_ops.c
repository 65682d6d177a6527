/* list_ops: ListObjects (v1) and ListObjectsV2. Walks the bucket's keys in byte order from
 * the marker; a delimiter folds keys into common prefixes and the walk then seeks past the
 * whole prefix, so a folder of a million keys costs one seek, not a million rows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "objects/s3.h"

typedef struct {
    const char *prefix;
    size_t prefix_len;
    const char *delimiter; /* NULL when none */
    size_t delim_len;
    char *marker; /* exclusive lower bound, or NULL */
    size_t marker_len;
    long max_keys;
    bool url_encode;
    bool owner;
} list_query;

static void put_text(sl_buf *b, const char *name, const char *s, size_t n, bool url) {
    sl_buf_printf(b, "<%s>", name);
    if (url) {
        sl_buf enc;
        sl_buf_init(&enc);
        sl_buf_uri_encode(&enc, s, n, true);
        sl_buf_xml_escape(b, enc.data ? enc.data : "", enc.len);
        sl_buf_free(&enc);
    } else {
        sl_buf_xml_escape(b, s, n);
    }
    sl_buf_printf(b, "</%s>", name);
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r) return r;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* Appends the listing entries; returns entries emitted, sets *truncated and the last entry. */
static long walk(s3_call *c, const list_query *q, sl_buf *contents, sl_buf *prefixes,
                 bool *truncated, sl_buf *last) {
    sqlite3 *db = sl_store_reader(c->o->store);
    sqlite3_stmt *gt = NULL, *ge = NULL;
    sqlite3_prepare_v2(
        db,
        "SELECT key, size, etag, last_modified_ms, checksum_algo, checksum_type FROM objects"
        " WHERE bucket=?1 AND key > ?2 ORDER BY key LIMIT 1001",
        -1, &gt, NULL);
    sqlite3_prepare_v2(
        db,
        "SELECT key, size, etag, last_modified_ms, checksum_algo, checksum_type FROM objects"
        " WHERE bucket=?1 AND key >= ?2 ORDER BY key LIMIT 1001",
        -1, &ge, NULL);
    long count = 0;
    *truncated = false;
    sl_buf seek;
    sl_buf_init(&seek);
    bool inclusive;
    if (q->marker && cmp_bytes(q->marker, q->marker_len, q->prefix, q->prefix_len) >= 0) {
        sl_buf_append(&seek, q->marker, q->marker_len);
        inclusive = false;
    } else {
        sl_buf_append(&seek, q->prefix, q->prefix_len);
        inclusive = true;
    }
    sl_buf last_cp;
    sl_buf_init(&last_cp);
    bool done = false;
    while (!done && gt && ge) {
        sqlite3_stmt *st = inclusive ? ge : gt;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, c->bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, seek.data ? seek.data : "", (int)seek.len, SQLITE_TRANSIENT);
        bool reseek = false;
        int rows = 0;
        while (!reseek && sqlite3_step(st) == SQLITE_ROW) {
            rows++;
            const char *key = (const char *)sqlite3_column_text(st, 0);
            size_t klen = (size_t)sqlite3_column_bytes(st, 0);
            if (klen < q->prefix_len || memcmp(key, q->prefix, q->prefix_len) != 0) {
                done = true;
                break;
            }
            const char *cp_end = NULL;
            if (q->delimiter) {
                const char *rest = key + q->prefix_len;
                size_t rlen = klen - q->prefix_len;
                for (size_t i = 0; i + q->delim_len <= rlen; i++)
                    if (!memcmp(rest + i, q->delimiter, q->delim_len)) {
                        cp_end = rest + i + q->delim_len;
                        break;
                    }
            }
            if (cp_end) {
                size_t cplen = (size_t)(cp_end - key);
                bool before_marker =
                    q->marker && cmp_bytes(key, cplen, q->marker, q->marker_len) <= 0;
                bool repeat = last_cp.len == cplen && !memcmp(last_cp.data, key, cplen);
                if (!before_marker && !repeat) {
                    if (count == q->max_keys) {
                        *truncated = true;
                        done = true;
                        break;
                    }
                    put_text(prefixes, "Prefix", key, cplen, q->url_encode);
                    sl_buf_reset(&last_cp);
                    sl_buf_append(&last_cp, key, cplen);
                    sl_buf_reset(last);
                    sl_buf_append(last, key, cplen);
                    count++;
                }
                /* Skip every key under this prefix: valid UTF-8 never holds 0xFF. */
                sl_buf_reset(&seek);
                sl_buf_append(&seek, key, cplen);
                sl_buf_putc(&seek, (char)0xFF);
                inclusive = true;
                reseek = true;
                break;
            }
            if (count == q->max_keys) {
                *truncated = true;
                done = true;
                break;
            }
            sl_buf *b = contents;
            sl_buf_puts(b, "<Contents>");
            put_text(b, "Key", key, klen, q->url_encode);
            s3_xml_time(b, "LastModified", sqlite3_column_int64(st, 3));
            s3_xml_elem(b, "ETag", (const char *)sqlite3_column_text(st, 2));
            if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
                s3_xml_elem(b, "ChecksumAlgorithm", (const char *)sqlite3_column_text(st, 4));
                if (sqlite3_column_type(st, 5) != SQLITE_NULL)
                    s3_xml_elem(b, "ChecksumType", (const char *)sqlite3_column_text(st, 5));
            }
            s3_xml_elem_u64(b, "Size", (uint64_t)sqlite3_column_int64(st, 1));
            if (q->owner)
                sl_buf_puts(b,
                            "<Owner><ID>"
                            "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
                            "<DisplayName>sluice</DisplayName></Owner>");
            sl_buf_puts(b, "<StorageClass>STANDARD</StorageClass></Contents>");
            sl_buf_reset(last);
            sl_buf_append(last, key, klen);
            count++;
            sl_buf_reset(&seek);
            sl_buf_append(&seek, key, klen);
            inclusive = false;
        }
        if (!reseek && rows == 0) done = true;
    }
    sqlite3_finalize(gt);
    sqlite3_finalize(ge);
    sl_buf_free(&seek);
    sl_buf_free(&last_cp);
    return count;
}

void s3_list_objects(s3_call *c, bool v2) {
    if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
    list_query q = {0};
    q.prefix = s3_param_get(c, "prefix");
    if (!q.prefix) q.prefix = "";
    q.prefix_len = strlen(q.prefix);
    q.delimiter = s3_param_get(c, "delimiter");
    if (q.delimiter && !*q.delimiter) q.delimiter = NULL;
    q.delim_len = q.delimiter ? strlen(q.delimiter) : 0;
    q.max_keys = 1000;
    const char *mk = s3_param_get(c, "max-keys");
    if (mk) {
        char *end;
        errno = 0;
        long v = strtol(mk, &end, 10);
        if (errno || *end || end == mk || v < 0) {
            return s3_error(c, 400, "InvalidArgument",
                            "Provided max-keys not an integer or within integer range");
        }
        q.max_keys = v > 1000 ? 1000 : v;
    }
    const char *enc = s3_param_get(c, "encoding-type");
    if (enc) {
        if (strcmp(enc, "url") != 0)
            return s3_error(c, 400, "InvalidArgument",
                            "Invalid Encoding Method specified in Request");
        q.url_encode = true;
    }
    const char *token = v2 ? s3_param_get(c, "continuation-token") : NULL;
    const char *start_after = v2 ? s3_param_get(c, "start-after") : s3_param_get(c, "marker");
    char *decoded_token = NULL;
    if (token) {
        size_t n = strlen(token);
        decoded_token = sl_xmalloc(n + 1);
        long dn = sl_base64_decode(token, n, (unsigned char *)decoded_token);
        if (dn < 0 || n == 0) {
            free(decoded_token);
            return s3_error(c, 400, "InvalidArgument",
                            "The continuation token provided is incorrect");
        }
        decoded_token[dn] = 0;
        q.marker = decoded_token;
        q.marker_len = (size_t)dn;
    } else if (start_after && *start_after) {
        q.marker = (char *)start_after;
        q.marker_len = strlen(start_after);
    }
    const char *fo = s3_param_get(c, "fetch-owner");
    q.owner = v2 ? (fo && !strcmp(fo, "true")) : true;

    sl_buf contents, prefixes, last;
    sl_buf_init(&contents);
    sl_buf_init(&prefixes);
    sl_buf_init(&last);
    bool truncated = false;
    long count = walk(c, &q, &contents, &prefixes, &truncated, &last);

    sl_buf b;
    sl_buf_init(&b);
    s3_xml_begin(&b, "ListBucketResult");
    s3_xml_elem(&b, "Name", c->bucket);
    put_text(&b, "Prefix", q.prefix, q.prefix_len, q.url_encode);
    if (v2) {
        if (token) s3_xml_elem(&b, "ContinuationToken", token);
        if (start_after) put_text(&b, "StartAfter", start_after, strlen(start_after), q.url_encode);
        sl_buf_printf(&b, "<KeyCount>%ld</KeyCount>", count);
    } else {
        put_text(&b, "Marker", start_after ? start_after : "",
                 start_after ? strlen(start_after) : 0, q.url_encode);
    }
    sl_buf_printf(&b, "<MaxKeys>%ld</MaxKeys>", q.max_keys);
    if (q.delimiter) put_text(&b, "Delimiter", q.delimiter, q.delim_len, q.url_encode);
    if (q.url_encode) s3_xml_elem(&b, "EncodingType", "url");
    sl_buf_printf(&b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (truncated && last.len) {
        if (v2) {
            char *tok = sl_xmalloc(4 * (last.len / 3 + 2));
            sl_base64_encode((const unsigned char *)last.data, last.len, tok);
            s3_xml_elem(&b, "NextContinuationToken", tok);
            free(tok);
        } else if (q.delimiter) {
            put_text(&b, "NextMarker", last.data, last.len, q.url_encode);
        }
    }
    if (contents.len) sl_buf_append(&b, contents.data, contents.len);
    if (prefixes.len) {
        /* Each common prefix is its own <CommonPrefixes> element. */
        const char *p = prefixes.data;
        const char *end = p + prefixes.len;
        while (p < end) {
            const char *close = strstr(p, "</Prefix>");
            if (!close) break;
            close += 9;
            sl_buf_puts(&b, "<CommonPrefixes>");
            sl_buf_append(&b, p, (size_t)(close - p));
            sl_buf_puts(&b, "</CommonPrefixes>");
            p = close;
        }
    }
    sl_buf_puts(&b, "</ListBucketResult>");
    s3_xml_response(c, 200, &b);
    sl_buf_free(&b);
    sl_buf_free(&contents);
    sl_buf_free(&prefixes);
    sl_buf_free(&last);
    free(decoded_token);
}
