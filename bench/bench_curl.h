/* bench_curl: the libcurl pieces the HTTP load generators share (sfnload, tasks_bench, s3load):
 * a response body collector, a handle signing with SigV4 for one service, and a JSON-protocol
 * call (POST / with X-Amz-Target). Header-only, like bench_util.h. */
#ifndef BENCH_CURL_H
#define BENCH_CURL_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* A response body, NUL-terminated. */
typedef struct {
    char *data;
    size_t len, cap;
} bench_body;

/* CURLOPT_WRITEFUNCTION for a bench_body (CURLOPT_WRITEDATA). */
static inline size_t bench_body_collect(char *data, size_t size, size_t nmemb, void *userp) {
    bench_body *b = userp;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) die("out of memory");
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

static inline void bench_body_reset(bench_body *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

/* The handle signs its requests to url with SigV4 for service in region (userpwd is
 * "ACCESS_KEY:SECRET"); no signals, no Nagle. */
static inline void bench_curl_sigv4(CURL *e, const char *url, const char *region,
                                    const char *service, const char *userpwd) {
    char sigv4[128];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:%s", region, service);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(e, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
}

/* A JSON-protocol call to endpoint: content_type (application/x-amz-json-1.0 or 1.1), the
 * X-Amz-Target "target_prefix.op", request as the body (it must outlive the transfer), the
 * answer into out. *headers is replaced (freed by the next call or the caller). */
static inline void bench_curl_json_call(CURL *e, struct curl_slist **headers, bench_body *out,
                                        const char *endpoint, const char *region,
                                        const char *service, const char *userpwd,
                                        const char *content_type, const char *target_prefix,
                                        const char *op, const char *request) {
    char url[1024], line[256];
    snprintf(url, sizeof url, "%s/", endpoint);
    bench_curl_sigv4(e, url, region, service, userpwd);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, bench_body_collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, request);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(request));
    curl_slist_free_all(*headers);
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    *headers = curl_slist_append(NULL, line);
    snprintf(line, sizeof line, "X-Amz-Target: %s.%s", target_prefix, op);
    *headers = curl_slist_append(*headers, line);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, *headers);
    bench_body_reset(out);
}

#endif
