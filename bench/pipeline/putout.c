/* putout: the pipeline bench's task. Writes s3://$BUCKET/output/$KEY (a few bytes naming the key)
 * with one SigV4-signed PUT to $AWS_ENDPOINT_URL, using the credentials the task was given
 * ($AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN when set). It stands in for
 * `aws s3 cp` in the task: the AWS CLI spends ~0.5 s starting, this ~a few ms, so the bench
 * measures Sluice's pipeline rather than Python's imports. Exit 0 only on a 2xx answer.
 * Signed by libcurl's own SigV4 (CURLOPT_AWS_SIGV4), as bench/s3load.c does; the payload hash
 * header S3 requires is UNSIGNED-PAYLOAD. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *need(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "putout: %s is not set\n", name);
        exit(2);
    }
    return v;
}

static size_t sink(char *p, size_t sz, size_t n, void *u) {
    (void)p;
    (void)u;
    return sz * n;
}

int main(void) {
    const char *ep = need("AWS_ENDPOINT_URL"), *bucket = need("BUCKET"), *key = need("KEY");
    const char *ak = need("AWS_ACCESS_KEY_ID"), *sk = need("AWS_SECRET_ACCESS_KEY");
    const char *region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
    const char *token = getenv("AWS_SESSION_TOKEN");
    char url[2048], body[1100], userpwd[512], sigv4[128], tok[1200];
    /* keys here are input/<n>: no characters that need percent-encoding */
    snprintf(url, sizeof url, "%s/%s/output/%s", ep, bucket, key);
    int blen = snprintf(body, sizeof body, "done %s\n", key);
    snprintf(userpwd, sizeof userpwd, "%s:%s", ak, sk);
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", region);
    CURL *e = curl_easy_init();
    if (!e) return 1;
    struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    h = curl_slist_append(h, "Content-Type: text/plain");
    if (token && *token) {
        snprintf(tok, sizeof tok, "x-amz-security-token: %s", token);
        h = curl_slist_append(h, tok);
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(e, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)blen);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK) {
        fprintf(stderr, "putout: %s: %s\n", url, curl_easy_strerror(rc));
        return 1;
    }
    if (status < 200 || status > 299) {
        fprintf(stderr, "putout: %s: HTTP %ld\n", url, status);
        return 1;
    }
    return 0;
}
