/* conditions: Range and conditional-request evaluation for GET/HEAD/Copy. */
#include "objects/conditions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"

bool s3_etag_list_matches(const char *list, const char *etag) {
    size_t elen = strlen(etag);
    const char *bare = etag;
    size_t blen = elen;
    if (elen >= 2 && etag[0] == '"' && etag[elen - 1] == '"') bare = etag + 1, blen = elen - 2;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t && p[t - 1] == ' ') t--;
        const char *v = p;
        if (t >= 2 && v[0] == 'W' && v[1] == '/') v += 2, t -= 2;
        if (t == 1 && v[0] == '*') return true;
        if (t >= 2 && v[0] == '"' && v[t - 1] == '"') v++, t -= 2;
        if (t == blen && !memcmp(v, bare, blen)) return true;
        p += n;
    }
    return false;
}

int s3_conditions_check(const s3_conditions *c, const char *etag, int64_t last_modified_ms) {
    int64_t lm_s = last_modified_ms / 1000;
    if (c->if_match) {
        if (!s3_etag_list_matches(c->if_match, etag)) return 412;
    } else if (c->if_unmodified_since) {
        int64_t t = sl_time_parse(c->if_unmodified_since);
        if (t >= 0 && lm_s > t / 1000) return 412;
    }
    if (c->if_none_match) {
        if (s3_etag_list_matches(c->if_none_match, etag)) return 304;
    } else if (c->if_modified_since) {
        int64_t t = sl_time_parse(c->if_modified_since);
        if (t >= 0 && lm_s <= t / 1000) return 304;
    }
    return 0;
}

static bool parse_u64(const char *s, const char **end, uint64_t *out) {
    if (*s < '0' || *s > '9') return false;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno) return false;
    *out = v;
    *end = e;
    return true;
}

int s3_range_parse(const char *h, uint64_t size, uint64_t *start, uint64_t *end) {
    if (!h || strncmp(h, "bytes=", 6) != 0) return 0;
    const char *p = h + 6, *e;
    if (strchr(p, ',')) return 0;
    uint64_t a, b;
    if (*p == '-') {
        if (!parse_u64(p + 1, &e, &b) || *e) return 0;
        if (b == 0 || size == 0) return -1;
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return 1;
    }
    if (!parse_u64(p, &e, &a) || *e != '-') return 0;
    p = e + 1;
    if (!*p) {
        b = UINT64_MAX;
    } else {
        if (!parse_u64(p, &e, &b) || *e) return 0;
        if (b < a) return 0;
    }
    if (a >= size) return -1;
    if (b >= size) b = size - 1;
    *start = a;
    *end = b;
    return 1;
}
