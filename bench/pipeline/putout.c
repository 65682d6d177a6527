/* putout: the pipeline bench's task. Writes s3://$BUCKET/output/$KEY (a few bytes naming the key)
 * with one SigV4-signed PUT to $AWS_ENDPOINT_URL (http://host:port, an IPv4 literal: the task's
 * endpoint is the daemon's loopback address), using the credentials the task was given
 * ($AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN when set). Exit 0 only on a
 * 2xx answer.
 *
 * It stands in for `aws s3 cp` in the task and is kept as light as a process can be, so that the
 * bench measures Sluice's pipeline rather than the task: the AWS CLI spends ~0.5 s starting, and
 * an earlier libcurl version of this program spent most of the bench's CPU in the dynamic loader
 * (libcurl's dozens of libraries). This one is linked statically, talks HTTP/1.1 over one socket
 * and signs with its own SHA-256/HMAC (FIPS 180-4, RFC 2104); the payload hash header S3 requires
 * is UNSIGNED-PAYLOAD. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- SHA-256 ---- */

typedef struct {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t used;
} sha256;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256 *s, const unsigned char *p) {
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, s->h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) +
                      ((a[4] & a[5]) ^ (~a[4] & a[6])) + K[i] + w[i];
        uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) +
                      ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof *a);
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) s->h[i] += a[i];
}

static void sha256_init(sha256 *s) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->len = 0;
    s->used = 0;
}

static void sha256_add(sha256 *s, const void *data, size_t n) {
    const unsigned char *p = data;
    s->len += n;
    while (n) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->buf + s->used, p, take);
        s->used += take, p += take, n -= take;
        if (s->used == 64) sha256_block(s, s->buf), s->used = 0;
    }
}

static void sha256_done(sha256 *s, unsigned char out[32]) {
    uint64_t bits = s->len * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha256_add(s, &pad, 1);
    while (s->used != 56) sha256_add(s, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_add(s, len, 8);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(s->h[i] >> (24 - 8 * j));
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32]) {
    unsigned char k[64] = {0}, ipad[64], opad[64], inner[32];
    sha256 s;
    if (klen > 64) {
        sha256_init(&s);
        sha256_add(&s, key, klen);
        sha256_done(&s, k);
    } else {
        memcpy(k, key, klen);
    }
    for (int i = 0; i < 64; i++) ipad[i] = k[i] ^ 0x36, opad[i] = k[i] ^ 0x5c;
    sha256_init(&s);
    sha256_add(&s, ipad, 64);
    sha256_add(&s, msg, strlen(msg));
    sha256_done(&s, inner);
    sha256_init(&s);
    sha256_add(&s, opad, 64);
    sha256_add(&s, inner, 32);
    sha256_done(&s, out);
}

static void hex(const unsigned char *d, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- the request ---- */

static const char *need(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "putout: %s is not set\n", name);
        exit(2);
    }
    return v;
}

int main(void) {
    const char *ep = need("AWS_ENDPOINT_URL"), *bucket = need("BUCKET"), *key = need("KEY");
    const char *ak = need("AWS_ACCESS_KEY_ID"), *sk = need("AWS_SECRET_ACCESS_KEY");
    const char *region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
    const char *token = getenv("AWS_SESSION_TOKEN");
    char host[256];
    unsigned port = 80;
    if (sscanf(ep, "http://%255[0-9.]:%u", host, &port) < 1) {
        fprintf(stderr, "putout: AWS_ENDPOINT_URL %s is not http://<IPv4>[:port]\n", ep);
        return 2;
    }
    char hosthdr[300], path[1200], body[1100], amzdate[20], day[9];
    snprintf(hosthdr, sizeof hosthdr, port == 80 ? "%s" : "%s:%u", host, port);
    /* keys here are input/<n>: no characters that need percent-encoding */
    snprintf(path, sizeof path, "/%s/output/%s", bucket, key);
    int blen = snprintf(body, sizeof body, "done %s\n", key);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amzdate, sizeof amzdate, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(day, amzdate, 8);
    day[8] = 0;

    char tokhdr[1300] = "", canon[4096], scope[128], sts[512], sig_hex[65], req_hash_hex[65];
    if (token && *token) snprintf(tokhdr, sizeof tokhdr, "x-amz-security-token:%s\n", token);
    const char *signed_headers = tokhdr[0]
                                     ? "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
                                     : "host;x-amz-content-sha256;x-amz-date";
    snprintf(canon, sizeof canon,
             "PUT\n%s\n\nhost:%s\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:%s\n%s\n%s\n"
             "UNSIGNED-PAYLOAD",
             path, hosthdr, amzdate, tokhdr, signed_headers);
    unsigned char d[32];
    sha256 s;
    sha256_init(&s);
    sha256_add(&s, canon, strlen(canon));
    sha256_done(&s, d);
    hex(d, 32, req_hash_hex);
    snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", day, region);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, req_hash_hex);
    char k0[300];
    unsigned char k1[32], k2[32], k3[32], k4[32];
    snprintf(k0, sizeof k0, "AWS4%s", sk);
    hmac(k0, strlen(k0), day, k1);
    hmac(k1, 32, region, k2);
    hmac(k2, 32, "s3", k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts, d);
    hex(d, 32, sig_hex);

    char req[8192];
    int rlen = snprintf(req, sizeof req,
                        "PUT %s HTTP/1.1\r\nHost: %s\r\nx-amz-date: %s\r\n"
                        "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n%s%s%s"
                        "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                        "Signature=%s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                        "Connection: close\r\n\r\n%s",
                        path, hosthdr, amzdate, tokhdr[0] ? "x-amz-security-token: " : "",
                        tokhdr[0] ? token : "", tokhdr[0] ? "\r\n" : "", ak, scope, signed_headers,
                        sig_hex, blen, body);
    if (rlen < 0 || rlen >= (int)sizeof req) {
        fprintf(stderr, "putout: request too long\n");
        return 2;
    }

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("putout: connect");
        return 1;
    }
    for (int off = 0; off < rlen;) {
        ssize_t n = write(fd, req + off, (size_t)(rlen - off));
        if (n <= 0) {
            perror("putout: write");
            return 1;
        }
        off += (int)n;
    }
    char resp[4096];
    size_t got = 0;
    for (ssize_t n; got < sizeof resp - 1 && (n = read(fd, resp + got, sizeof resp - 1 - got)) > 0;)
        got += (size_t)n;
    resp[got] = 0;
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || status < 200 || status > 299) {
        char *eol = strstr(resp, "\r\n");
        if (eol) *eol = 0;
        fprintf(stderr, "putout: %s%s: %s\n", hosthdr, path, got ? resp : "no answer");
        return 1;
    }
    return 0;
}
