/* s3load: a small S3 load generator for Sluice's benchmarks.
 *
 * One thread drives up to C concurrent HTTP/1.1 transfers through libcurl's multi interface,
 * each request signed with libcurl's own SigV4 (CURLOPT_AWS_SIGV4), so the server under test
 * does the same signature work it does for a real SDK. libcurl (7.88) does not send
 * x-amz-content-sha256 by itself, which S3 requires; s3load adds it: the real SHA-256 of the
 * body for small objects (computed once, since every PUT of a run sends the same bytes), and
 * UNSIGNED-PAYLOAD for the streamed large object unless --sign-payload asks for the hash.
 *
 * It measures only the client-visible figure: completed requests per second, bytes per second,
 * and latency percentiles from first byte sent to last byte received. Any status outside 2xx,
 * any transport error and any short GET counts as an error; the first few are printed.
 *
 * The last line of every run is machine-readable for bench/objects/run:
 *   RESULT mode=put ok=N errors=N secs=S ops_s=X mb_s=Y p50_ms=A p99_ms=B
 * (MB is 10^6 bytes, as dd reports it). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#define BENCH_PROG "s3load"
#include "bench_curl.h"
#include "bench_util.h"

#define MAX_CONC      256
#define ERR_BODY_KEEP 300 /* bytes of an error response kept for printing */
#define ERRORS_SHOWN  5
#define EMPTY_SHA256  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef enum {
    MODE_MB,
    MODE_PUT,
    MODE_GET,
    MODE_BIGPUT,
    MODE_BIGGET,
    MODE_MKFILE
} load_mode;

typedef struct {
    const char *endpoint; /* http://host:port, no trailing slash */
    const char *bucket;
    const char *userpwd; /* access:secret */
    const char *region;
    const char *prefix; /* key prefix */
    const char *file;   /* bigput source */
    const char *key;    /* bigput/bigget key */
    load_mode mode;
    size_t size; /* small object size */
    unsigned conc;
    double duration; /* seconds; 0 = use requests */
    uint64_t requests;
    uint64_t keys;     /* get: number of distinct keys cycled through */
    bool prepare;      /* get: PUT the keys first (untimed) */
    bool sign_payload; /* big: hash the file instead of UNSIGNED-PAYLOAD */
    bool verbose;
} load_opts;

/* One in-flight transfer and its buffers; reused for the next request when it completes. */
typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    char url[2048];
    const char *body; /* small PUT body */
    size_t body_len;
    FILE *src; /* big PUT source */
    uint64_t received;
    char err_body[ERR_BODY_KEEP + 1];
    size_t err_len;
    double started;
    bool is_get;
} slot;

typedef struct {
    double *lat_ms;
    size_t n, cap;
    uint64_t ok, errors, bytes;
    unsigned shown;
} tally;

/* CPU seconds this process has used, so a report can show whether the client was the limit. */
static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static void sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL)) die("sha256 failed");
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void sha256_file_hex(const char *path, char out[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) die("sha256 init failed");
    static char buf[1 << 20];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(ctx, buf, n);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void tally_add(tally *t, double ms) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->lat_ms = realloc(t->lat_ms, t->cap * sizeof *t->lat_ms);
        if (!t->lat_ms) die("out of memory");
    }
    t->lat_ms[t->n++] = ms;
}

/* Nearest-rank percentile of the sorted latencies. */
static double percentile(const tally *t, double p) {
    if (t->n == 0) return 0;
    size_t rank = (size_t)(p / 100.0 * (double)t->n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > t->n) rank = t->n;
    return t->lat_ms[rank - 1];
}

/* ---- libcurl callbacks ---- */

static size_t read_file(char *dst, size_t size, size_t nmemb, void *userp) {
    slot *s = userp;
    return fread(dst, size, nmemb, s->src);
}

/* Counts response bytes; keeps the start of the body so an error can be shown. */
static size_t write_sink(char *data, size_t size, size_t nmemb, void *userp) {
    slot *s = userp;
    size_t n = size * nmemb;
    s->received += n;
    if (s->err_len < ERR_BODY_KEEP) {
        size_t keep = ERR_BODY_KEEP - s->err_len;
        if (keep > n) keep = n;
        memcpy(s->err_body + s->err_len, data, keep);
        s->err_len += keep;
        s->err_body[s->err_len] = '\0';
    }
    return n;
}

/* ---- request setup ---- */

static void slot_common(slot *s, const load_opts *o, const char *payload_hash) {
    CURL *e = s->easy;
    bench_curl_sigv4(e, s->url, o->region, "s3", o->userpwd);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_VERBOSE, o->verbose ? 1L : 0L);
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    char h[128];
    snprintf(h, sizeof h, "x-amz-content-sha256: %s", payload_hash);
    s->headers = curl_slist_append(s->headers, h);
    /* libcurl 7.88 signs every header named in this list, even one given empty to remove a
     * default (it would sign "accept:" while sending none), so only real headers go here. */
    if (!s->is_get)
        s->headers = curl_slist_append(s->headers, "Content-Type: application/octet-stream");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    s->received = 0;
    s->err_len = 0;
    s->err_body[0] = '\0';
}

static void key_url(slot *s, const load_opts *o, const char *key) {
    if (key) snprintf(s->url, sizeof s->url, "%s/%s/%s", o->endpoint, o->bucket, key);
    else snprintf(s->url, sizeof s->url, "%s/%s", o->endpoint, o->bucket);
}

/* A PUT of the shared in-memory body (an empty one for create-bucket). It goes as PUT with
 * POSTFIELDS rather than UPLOAD: libcurl 7.88 sends "Expect: 100-continue" with every UPLOAD
 * and then waits for the 100, while a body given in memory goes out at once, as SDKs send it.
 * Our own Content-Type replaces the form type libcurl would otherwise add and sign. */
static void setup_put_mem(slot *s, const load_opts *o, const char *key, const char *body,
                          size_t len, const char *hash) {
    key_url(s, o, key);
    s->body = body;
    s->body_len = len;
    s->is_get = false;
    slot_common(s, o, hash);
    curl_easy_setopt(s->easy, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, "PUT");
}

static void setup_get(slot *s, const load_opts *o, const char *key) {
    key_url(s, o, key);
    s->is_get = true;
    slot_common(s, o, EMPTY_SHA256);
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(s->easy, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
}

/* Records a finished transfer; returns true when it succeeded. */
static bool finish(slot *s, CURLcode rc, tally *t, size_t expect_get, const char *what) {
    double ms = (now_s() - s->started) * 1000.0;
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    bool short_get = s->is_get && expect_get && s->received != expect_get;
    if (rc == CURLE_OK && status >= 200 && status < 300 && !short_get) {
        t->ok++;
        t->bytes += s->is_get ? s->received : s->body_len;
        tally_add(t, ms);
        return true;
    }
    t->errors++;
    if (t->shown < ERRORS_SHOWN) {
        t->shown++;
        bool http_ok = status >= 200 && status < 300;
        if (rc != CURLE_OK)
            fprintf(stderr, "error: %s %s: %s\n", what, s->url, curl_easy_strerror(rc));
        else if (!http_ok)
            fprintf(stderr, "error: %s %s: HTTP %ld: %.*s\n", what, s->url, status, (int)s->err_len,
                    s->err_body);
        else
            fprintf(stderr, "error: %s %s: got %" PRIu64 " bytes, expected %zu\n", what, s->url,
                    s->received, expect_get);
    }
    return false;
}

/* ---- the closed loop: keep `conc` requests in flight until the budget is spent ---- */

typedef struct {
    const load_opts *o;
    bool is_get;
    const char *body;
    size_t len;
    char hash[65];
    uint64_t issued;
    uint64_t limit;   /* requests to issue; UINT64_MAX with a deadline */
    double deadline;  /* 0 = none */
    uint64_t key_mod; /* get: keys cycled through */
    const char *prefix;
} loop_plan;

static bool plan_has_more(const loop_plan *p) {
    if (p->issued >= p->limit) return false;
    if (p->deadline > 0 && now_s() >= p->deadline) return false;
    return true;
}

static void plan_start(loop_plan *p, CURLM *multi, slot *s) {
    char key[512];
    uint64_t i = p->key_mod ? p->issued % p->key_mod : p->issued;
    snprintf(key, sizeof key, "%s%08" PRIu64, p->prefix, i);
    if (p->is_get) setup_get(s, p->o, key);
    else setup_put_mem(s, p->o, key, p->body, p->len, p->hash);
    p->issued++;
    s->started = now_s();
    curl_multi_add_handle(multi, s->easy);
}

static double run_loop(loop_plan *p, slot *slots, unsigned conc, tally *t) {
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conc + 4);
    slot *free_list[MAX_CONC];
    unsigned nfree = 0, active = 0;
    for (unsigned i = 0; i < conc; i++) free_list[nfree++] = &slots[i];
    double t0 = now_s(), last = t0;
    const char *what = p->is_get ? "GET" : "PUT";
    for (;;) {
        while (nfree > 0 && plan_has_more(p)) {
            plan_start(p, multi, free_list[--nfree]);
            active++;
        }
        if (active == 0) break;
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(multi, s->easy);
            finish(s, rc, t, p->is_get ? p->len : 0, what);
            last = now_s();
            active--;
            free_list[nfree++] = s;
        }
        if (nfree > 0 && plan_has_more(p)) continue; /* refill before sleeping */
        curl_multi_poll(multi, NULL, 0, 50, NULL);
    }
    curl_multi_cleanup(multi);
    return last - t0;
}

static slot *slots_new(unsigned n) {
    slot *s = calloc(n, sizeof *s);
    if (!s) die("out of memory");
    for (unsigned i = 0; i < n; i++) {
        s[i].easy = curl_easy_init();
        if (!s[i].easy) die("curl_easy_init failed");
    }
    return s;
}

static void slots_free(slot *s, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        curl_easy_cleanup(s[i].easy);
        curl_slist_free_all(s[i].headers);
    }
    free(s);
}

static void report(const char *mode, const tally *t, double secs, double cpu) {
    if (t->n > 0) qsort(t->lat_ms, t->n, sizeof *t->lat_ms, cmp_double);
    double ops = secs > 0 ? (double)t->ok / secs : 0;
    double mbs = secs > 0 ? (double)t->bytes / secs / 1e6 : 0;
    double p50 = percentile(t, 50), p99 = percentile(t, 99);
    printf("%s: %" PRIu64 " ok, %" PRIu64 " errors in %.2f s: %.0f ops/s, %.2f MB/s, "
           "p50 %.3f ms, p99 %.3f ms, client cpu %.2f s\n",
           mode, t->ok, t->errors, secs, ops, mbs, p50, p99, cpu);
    printf("RESULT mode=%s ok=%" PRIu64 " errors=%" PRIu64 " secs=%.3f ops_s=%.1f mb_s=%.2f "
           "p50_ms=%.3f p99_ms=%.3f client_cpu_s=%.2f\n",
           mode, t->ok, t->errors, secs, ops, mbs, p50, p99, cpu);
}

/* ---- modes ---- */

/* Fills buf with xorshift64 output: incompressible, reproducible, and fast enough to make a
 * 1 GiB source file in about a second (urandom takes several). */
static uint64_t fill_noise(char *buf, size_t size, uint64_t x) {
    for (size_t i = 0; i < size; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = size - i < 8 ? size - i : 8;
        memcpy(buf + i, &x, n);
    }
    return x;
}

static char *make_body(size_t size) {
    char *b = xmalloc(size);
    fill_noise(b, size, 0x9e3779b97f4a7c15ull);
    return b;
}

static int mode_mkfile(const load_opts *o) {
    if (!o->file) die("mkfile needs --file");
    FILE *f = fopen(o->file, "wb");
    if (!f) die("%s: %s", o->file, strerror(errno));
    static char buf[1 << 20];
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t left = o->size; left > 0;) {
        size_t n = left < sizeof buf ? left : sizeof buf;
        x = fill_noise(buf, n, x);
        if (fwrite(buf, 1, n, f) != n) die("%s: %s", o->file, strerror(errno));
        left -= n;
    }
    if (fclose(f) != 0) die("%s: %s", o->file, strerror(errno));
    return 0;
}

static int mode_mb(const load_opts *o) {
    slot *s = slots_new(1);
    tally t = {0};
    setup_put_mem(s, o, NULL, "", 0, EMPTY_SHA256);
    s->started = now_s();
    CURLcode rc = curl_easy_perform(s->easy);
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    /* An existing bucket of ours is fine for a benchmark. */
    bool ok = rc == CURLE_OK && ((status >= 200 && status < 300) ||
                                 (status == 409 && strstr(s->err_body, "BucketAlreadyOwnedByYou")));
    if (!ok) finish(s, rc, &t, 0, "create bucket");
    else printf("bucket %s ready (HTTP %ld)\n", o->bucket, status);
    slots_free(s, 1);
    return ok ? 0 : 1;
}

static int mode_small(const load_opts *o) {
    slot *slots = slots_new(o->conc);
    loop_plan p = {.o = o, .prefix = o->prefix, .len = o->size, .limit = UINT64_MAX};
    p.body = make_body(o->size);
    sha256_hex(p.body, p.len, p.hash);
    if (o->mode == MODE_GET && o->prepare) {
        tally prep = {0};
        p.limit = o->keys;
        run_loop(&p, slots, o->conc, &prep);
        if (prep.errors)
            die("preparing %" PRIu64 " objects: %" PRIu64 " failed", o->keys, prep.errors);
        free(prep.lat_ms);
        p.issued = 0;
    }
    p.is_get = o->mode == MODE_GET;
    p.key_mod = p.is_get ? o->keys : 0;
    p.limit = o->duration > 0 ? UINT64_MAX : o->requests;
    p.deadline = o->duration > 0 ? now_s() + o->duration : 0;
    tally t = {0};
    double cpu0 = cpu_s();
    double secs = run_loop(&p, slots, o->conc, &t);
    report(p.is_get ? "get" : "put", &t, secs, cpu_s() - cpu0);
    free(t.lat_ms);
    free((void *)p.body);
    slots_free(slots, o->conc);
    return t.errors ? 1 : 0;
}

static int mode_big(const load_opts *o) {
    slot *s = slots_new(1);
    tally t = {0};
    uint64_t expect = 0;
    if (o->mode == MODE_BIGPUT) {
        struct stat st;
        if (!o->file || stat(o->file, &st) != 0) die("bigput needs --file of an existing file");
        char hash[65] = "UNSIGNED-PAYLOAD";
        if (o->sign_payload) sha256_file_hex(o->file, hash);
        s->src = fopen(o->file, "rb");
        if (!s->src) die("%s: %s", o->file, strerror(errno));
        key_url(s, o, o->key);
        s->is_get = false;
        s->body_len = (size_t)st.st_size;
        slot_common(s, o, hash);
        curl_easy_setopt(s->easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(s->easy, CURLOPT_READFUNCTION, read_file);
        curl_easy_setopt(s->easy, CURLOPT_READDATA, s);
        curl_easy_setopt(s->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
        curl_easy_setopt(s->easy, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    } else {
        setup_get(s, o, o->key);
        curl_easy_setopt(s->easy, CURLOPT_BUFFERSIZE, 512L * 1024);
    }
    s->started = now_s();
    double cpu0 = cpu_s();
    CURLcode rc = curl_easy_perform(s->easy);
    double secs = now_s() - s->started, cpu = cpu_s() - cpu0;
    if (o->mode == MODE_BIGGET) {
        curl_off_t cl = -1;
        curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        expect = cl > 0 ? (uint64_t)cl : 0;
        if (o->size && expect != o->size) expect = o->size; /* --size states the truth */
    }
    finish(s, rc, &t, (size_t)expect, o->mode == MODE_BIGPUT ? "PUT" : "GET");
    report(o->mode == MODE_BIGPUT ? "bigput" : "bigget", &t, secs, cpu);
    if (s->src) fclose(s->src);
    free(t.lat_ms);
    slots_free(s, 1);
    return t.errors ? 1 : 0;
}

static void usage(FILE *f) {
    fputs("usage: s3load MODE --endpoint URL --bucket NAME [options]\n"
          "modes:\n"
          "  mb      create the bucket (an existing one of ours is fine)\n"
          "  put     PUT objects of --size bytes, each to a new key\n"
          "  get     GET --keys objects round-robin (--prepare PUTs them first, untimed)\n"
          "  bigput  PUT --file streamed as one object --key\n"
          "  bigget  GET --key, discarding the body\n"
          "  mkfile  write --size bytes of noise to --file (a bigput source), no server needed\n"
          "options:\n"
          "  -e, --endpoint URL      e.g. http://127.0.0.1:4566\n"
          "  -b, --bucket NAME\n"
          "  -u, --user KEY:SECRET   credentials (default test:test)\n"
          "  -r, --region NAME       (default us-east-1)\n"
          "  -s, --size BYTES        object size for put/get (default 4096; k/m/g suffixes)\n"
          "  -c, --concurrency N     requests in flight (default 1, max 256)\n"
          "  -d, --duration SECS     run this long (default 5)\n"
          "  -n, --requests N        or issue exactly N requests\n"
          "  -k, --keys N            get: distinct keys (default 1000)\n"
          "  -p, --prefix STR        key prefix (default s3load/)\n"
          "      --prepare           get: create the keys first\n"
          "  -f, --file PATH         bigput source\n"
          "      --key KEY           bigput/bigget key (default s3load-big)\n"
          "      --sign-payload      bigput: send the file's SHA-256, not UNSIGNED-PAYLOAD\n"
          "  -v, --verbose           libcurl verbose output\n",
          f);
}

static uint64_t parse_size(const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) die("bad number: %s", s);
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        end++;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        end++;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        end++;
        break;
    default: break;
    }
    if (*end) die("bad number: %s", s);
    return v;
}

int main(int argc, char **argv) {
    load_opts o = {.userpwd = "test:test",
                   .region = "us-east-1",
                   .prefix = "s3load/",
                   .key = "s3load-big",
                   .size = 4096,
                   .conc = 1,
                   .duration = 5,
                   .keys = 1000};
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *m = argv[1];
    if (!strcmp(m, "mb")) o.mode = MODE_MB;
    else if (!strcmp(m, "put")) o.mode = MODE_PUT;
    else if (!strcmp(m, "get")) o.mode = MODE_GET;
    else if (!strcmp(m, "bigput")) o.mode = MODE_BIGPUT;
    else if (!strcmp(m, "bigget")) o.mode = MODE_BIGGET;
    else if (!strcmp(m, "mkfile")) o.mode = MODE_MKFILE;
    else die("unknown mode %s (try --help)", m);
    enum {
        OPT_PREPARE = 1000,
        OPT_KEY,
        OPT_SIGN
    };
    static const struct option longopts[] = {{"endpoint", required_argument, 0, 'e'},
                                             {"bucket", required_argument, 0, 'b'},
                                             {"user", required_argument, 0, 'u'},
                                             {"region", required_argument, 0, 'r'},
                                             {"size", required_argument, 0, 's'},
                                             {"concurrency", required_argument, 0, 'c'},
                                             {"duration", required_argument, 0, 'd'},
                                             {"requests", required_argument, 0, 'n'},
                                             {"keys", required_argument, 0, 'k'},
                                             {"prefix", required_argument, 0, 'p'},
                                             {"file", required_argument, 0, 'f'},
                                             {"key", required_argument, 0, OPT_KEY},
                                             {"prepare", no_argument, 0, OPT_PREPARE},
                                             {"sign-payload", no_argument, 0, OPT_SIGN},
                                             {"verbose", no_argument, 0, 'v'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    bool size_given = false;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "e:b:u:r:s:c:d:n:k:p:f:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': o.endpoint = optarg; break;
        case 'b': o.bucket = optarg; break;
        case 'u': o.userpwd = optarg; break;
        case 'r': o.region = optarg; break;
        case 's':
            o.size = (size_t)parse_size(optarg);
            size_given = true;
            break;
        case 'c': o.conc = (unsigned)parse_size(optarg); break;
        case 'd': o.duration = strtod(optarg, NULL); break;
        case 'n':
            o.requests = parse_size(optarg);
            o.duration = 0;
            break;
        case 'k': o.keys = parse_size(optarg); break;
        case 'p': o.prefix = optarg; break;
        case 'f': o.file = optarg; break;
        case OPT_KEY: o.key = optarg; break;
        case OPT_PREPARE: o.prepare = true; break;
        case OPT_SIGN: o.sign_payload = true; break;
        case 'v': o.verbose = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (o.mode == MODE_MKFILE) return mode_mkfile(&o);
    if (!o.endpoint || !o.bucket) die("--endpoint and --bucket are required");
    if (o.conc < 1 || o.conc > MAX_CONC) die("--concurrency must be 1..%d", MAX_CONC);
    if (o.duration <= 0 && o.requests == 0) die("give --duration or --requests");
    if (o.mode == MODE_GET && o.keys == 0) die("--keys must be at least 1");
    if (o.mode == MODE_BIGGET && !size_given) o.size = 0;
    size_t elen = strlen(o.endpoint);
    while (elen > 0 && o.endpoint[elen - 1] == '/') elen--;
    char *endpoint = strndup(o.endpoint, elen);
    o.endpoint = endpoint;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init failed");
    int rc;
    switch (o.mode) {
    case MODE_MB: rc = mode_mb(&o); break;
    case MODE_PUT:
    case MODE_GET: rc = mode_small(&o); break;
    default: rc = mode_big(&o); break;
    }
    curl_global_cleanup();
    free(endpoint);
    return rc;
}
