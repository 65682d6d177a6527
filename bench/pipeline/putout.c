/* putout: the pipeline bench's task. Writes s3://$BUCKET/output/$KEY (a few bytes naming the key)
 * with one SigV4-signed PUT to $AWS_ENDPOINT_URL (http://host:port, an IPv4 literal: the task's
 * endpoint is the daemon's loopback address), using the credentials the task was given
 * ($AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN when set). Exit 0 only on a
 * 2xx answer.
 *
 * It stands in for `aws s3 cp` in the task and is kept as light as a process can be, so that the
 * bench measures Sluice's pipeline rather than the task: the AWS CLI spends ~0.5 s starting; an
 * earlier libcurl version spent most of the bench's CPU in the dynamic loader, and a static glibc
 * one still spent ~1 ms of CPU per run in libc's start-up on this virtual machine (CPU feature
 * probing with CPUID, tunables, TLS, IRELATIVE relocations; docs/performance.md has the figures).
 * So this one uses no C library at all: its own _start, raw system calls (x86-64
 * and AArch64 Linux), HTTP/1.1 over one socket, its own SHA-256/HMAC (FIPS 180-4, RFC 2104) and
 * UTC date. The payload hash header S3 requires is UNSIGNED-PAYLOAD. */
#include <stddef.h>
#include <stdint.h>

/* ---- system calls and the few libc routines the compiler may call ---- */

#if defined(__x86_64__)
enum { SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_socket = 41, SYS_connect = 42,
       SYS_clock_gettime = 228, SYS_exit_group = 231 };
static long sys(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
__asm__(".text\n.global _start\n_start:\n xor %rbp,%rbp\n mov %rsp,%rdi\n and $-16,%rsp\n"
        " call start_c\n hlt\n");
#elif defined(__aarch64__)
enum { SYS_read = 63, SYS_write = 64, SYS_close = 57, SYS_socket = 198, SYS_connect = 203,
       SYS_clock_gettime = 113, SYS_exit_group = 94 };
static long sys(long n, long a, long b, long c) {
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
                  x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
__asm__(".text\n.global _start\n_start:\n mov x0, sp\n bl start_c\n");
#else
#error "putout: x86-64 or AArch64 Linux only"
#endif

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memcpy(void *d, const void *s, size_t n) {
    unsigned char *o = d;
    const unsigned char *i = s;
    while (n--) *o++ = *i++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    unsigned char *o = d;
    const unsigned char *i = s;
    if (o < i)
        while (n--) *o++ = *i++;
    else
        while (n--) o[n] = i[n];
    return d;
}
void *memset(void *d, int c, size_t n) {
    unsigned char *o = d;
    while (n--) *o++ = (unsigned char)c;
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x - *y;
    return 0;
}
static size_t slen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

__attribute__((noreturn)) static void quit(int code) {
    for (;;) sys(SYS_exit_group, code, 0, 0);
}

/* ---- a bounded string builder: overflow fails the run rather than truncating ---- */

typedef struct {
    char *p;
    size_t len, cap;
} sb;

__attribute__((noreturn)) static void fail(int code, const char *what, const char *detail) {
    const char *parts[] = {"putout: ", what, detail ? ": " : "", detail ? detail : "", "\n"};
    for (int i = 0; i < 5; i++) sys(SYS_write, 2, (long)parts[i], (long)slen(parts[i]));
    quit(code);
}

static void put(sb *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) fail(2, "request too long", NULL);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void puts_(sb *b, const char *s) { put(b, s, slen(s)); }
static void putu(sb *b, unsigned long v, int width) {
    char t[24];
    int n = 0;
    do t[n++] = (char)('0' + v % 10), v /= 10;
    while (v || n < width);
    while (n) put(b, &t[--n], 1);
}

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
    sha256_add(&s, msg, slen(msg));
    sha256_done(&s, inner);
    sha256_init(&s);
    sha256_add(&s, opad, 64);
    sha256_add(&s, inner, 32);
    sha256_done(&s, out);
}

static void hex(const unsigned char *d, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) out[2 * i] = digits[d[i] >> 4], out[2 * i + 1] = digits[d[i] & 15];
    out[2 * n] = 0;
}

/* ---- the request ---- */

static char **environ_;

static const char *env(const char *name) {
    size_t n = slen(name);
    for (char **e = environ_; *e; e++)
        if (!memcmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static const char *need(const char *name) {
    const char *v = env(name);
    if (!v || !*v) fail(2, "not set", name);
    return v;
}

/* UTC calendar date of a day count since 1970-01-01 (the proleptic Gregorian civil-from-days
 * algorithm over 400-year eras). */
static void civil(long days, long *y, unsigned *m, unsigned *d) {
    days += 719468;
    long era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned long doe = (unsigned long)(days - era * 146097);
    unsigned long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned long mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (long)yoe + era * 400 + (*m <= 2);
}

static int parse_endpoint(const char *ep, char host[64], unsigned *port) {
    const char *pre = "http://";
    if (memcmp(ep, pre, 7)) return -1;
    const char *p = ep + 7;
    size_t n = 0;
    while ((p[n] >= '0' && p[n] <= '9') || p[n] == '.') {
        if (n == 63) return -1;
        host[n] = p[n];
        n++;
    }
    host[n] = 0;
    if (!n) return -1;
    *port = 80;
    if (p[n] == ':') {
        unsigned v = 0;
        const char *q = p + n + 1;
        if (*q < '0' || *q > '9') return -1;
        while (*q >= '0' && *q <= '9') v = v * 10 + (unsigned)(*q++ - '0');
        if (v == 0 || v > 65535) return -1;
        *port = v;
    }
    return 0;
}

static int ipv4(const char *s, unsigned char out[4]) {
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) v = v * 10 + (unsigned)(*s++ - '0'), digits++;
        if (!digits || v > 255) return -1;
        out[i] = (unsigned char)v;
        if (i < 3 && *s++ != '.') return -1;
    }
    return *s ? -1 : 0;
}

static int run(void) {
    const char *ep = need("AWS_ENDPOINT_URL"), *bucket = need("BUCKET"), *key = need("KEY");
    const char *ak = need("AWS_ACCESS_KEY_ID"), *sk = need("AWS_SECRET_ACCESS_KEY");
    const char *region = env("AWS_REGION") ? env("AWS_REGION") : "us-east-1";
    const char *token = env("AWS_SESSION_TOKEN");
    char host[64];
    unsigned port;
    unsigned char addr[4];
    if (parse_endpoint(ep, host, &port) || ipv4(host, addr))
        fail(2, "AWS_ENDPOINT_URL is not http://<IPv4>[:port]", ep);

    char hbuf[96], pbuf[1200], bbuf[1100], dbuf[20];
    sb hosthdr = {hbuf, 0, sizeof hbuf}, path = {pbuf, 0, sizeof pbuf};
    sb body = {bbuf, 0, sizeof bbuf}, amzdate = {dbuf, 0, sizeof dbuf};
    puts_(&hosthdr, host);
    if (port != 80) puts_(&hosthdr, ":"), putu(&hosthdr, port, 1);
    /* keys here are input/<n>: no characters that need percent-encoding */
    puts_(&path, "/"), puts_(&path, bucket), puts_(&path, "/output/"), puts_(&path, key);
    puts_(&body, "done "), puts_(&body, key), puts_(&body, "\n");

    struct {
        long sec, nsec;
    } now;
    if (sys(SYS_clock_gettime, 0 /* CLOCK_REALTIME */, (long)&now, 0) != 0) fail(1, "clock", "");
    long y;
    unsigned mo, d;
    civil(now.sec / 86400, &y, &mo, &d);
    long sod = now.sec % 86400;
    putu(&amzdate, (unsigned long)y, 4), putu(&amzdate, mo, 2), putu(&amzdate, d, 2);
    puts_(&amzdate, "T");
    putu(&amzdate, (unsigned long)(sod / 3600), 2), putu(&amzdate, (unsigned long)(sod / 60 % 60), 2);
    putu(&amzdate, (unsigned long)(sod % 60), 2), puts_(&amzdate, "Z");
    char day[9];
    memcpy(day, dbuf, 8);
    day[8] = 0;

    int has_token = token && *token;
    const char *signed_headers = has_token
                                     ? "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
                                     : "host;x-amz-content-sha256;x-amz-date";
    char cbuf[4096], scbuf[128], stbuf[512], k0buf[300];
    sb canon = {cbuf, 0, sizeof cbuf}, scope = {scbuf, 0, sizeof scbuf};
    sb sts = {stbuf, 0, sizeof stbuf}, k0 = {k0buf, 0, sizeof k0buf};
    puts_(&canon, "PUT\n"), puts_(&canon, pbuf), puts_(&canon, "\n\nhost:"), puts_(&canon, hbuf);
    puts_(&canon, "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:"), puts_(&canon, dbuf);
    puts_(&canon, "\n");
    if (has_token) puts_(&canon, "x-amz-security-token:"), puts_(&canon, token), puts_(&canon, "\n");
    puts_(&canon, "\n"), puts_(&canon, signed_headers), puts_(&canon, "\nUNSIGNED-PAYLOAD");
    unsigned char dg[32];
    char req_hash_hex[65], sig_hex[65];
    sha256 s;
    sha256_init(&s);
    sha256_add(&s, cbuf, canon.len);
    sha256_done(&s, dg);
    hex(dg, 32, req_hash_hex);
    puts_(&scope, day), puts_(&scope, "/"), puts_(&scope, region), puts_(&scope, "/s3/aws4_request");
    puts_(&sts, "AWS4-HMAC-SHA256\n"), puts_(&sts, dbuf), puts_(&sts, "\n"), puts_(&sts, scbuf);
    puts_(&sts, "\n"), puts_(&sts, req_hash_hex);
    puts_(&k0, "AWS4"), puts_(&k0, sk);
    unsigned char k1[32], k2[32], k3[32], k4[32];
    hmac(k0buf, k0.len, day, k1);
    hmac(k1, 32, region, k2);
    hmac(k2, 32, "s3", k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, stbuf, dg);
    hex(dg, 32, sig_hex);

    char rbuf[8192];
    sb req = {rbuf, 0, sizeof rbuf};
    puts_(&req, "PUT "), puts_(&req, pbuf), puts_(&req, " HTTP/1.1\r\nHost: "), puts_(&req, hbuf);
    puts_(&req, "\r\nx-amz-date: "), puts_(&req, dbuf);
    puts_(&req, "\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n");
    if (has_token) puts_(&req, "x-amz-security-token: "), puts_(&req, token), puts_(&req, "\r\n");
    puts_(&req, "Authorization: AWS4-HMAC-SHA256 Credential="), puts_(&req, ak), puts_(&req, "/");
    puts_(&req, scbuf), puts_(&req, ", SignedHeaders="), puts_(&req, signed_headers);
    puts_(&req, ", Signature="), puts_(&req, sig_hex);
    puts_(&req, "\r\nContent-Type: text/plain\r\nContent-Length: "), putu(&req, body.len, 1);
    puts_(&req, "\r\nConnection: close\r\n\r\n"), put(&req, bbuf, body.len);

    struct {
        uint16_t family, port;
        unsigned char addr[4];
        unsigned char zero[8];
    } sa = {2 /* AF_INET */, (uint16_t)(port >> 8 | (port & 255) << 8), {0}, {0}};
    memcpy(sa.addr, addr, 4);
    long fd = sys(SYS_socket, 2 /* AF_INET */, 1 | 02000000 /* SOCK_STREAM|SOCK_CLOEXEC */, 0);
    if (fd < 0 || sys(SYS_connect, fd, (long)&sa, sizeof sa) != 0) fail(1, "connect", hbuf);
    for (size_t off = 0; off < req.len;) {
        long n = sys(SYS_write, fd, (long)(rbuf + off), (long)(req.len - off));
        if (n <= 0) fail(1, "write", hbuf);
        off += (size_t)n;
    }
    char resp[4096];
    size_t got = 0;
    for (long n; got < sizeof resp - 1 && (n = sys(SYS_read, fd, (long)(resp + got),
                                                   (long)(sizeof resp - 1 - got))) > 0;)
        got += (size_t)n;
    resp[got] = 0;
    sys(SYS_close, fd, 0, 0);
    /* "HTTP/1.x NNN ..." */
    int status = got >= 12 && !memcmp(resp, "HTTP/1.", 7) && resp[8] == ' '
                     ? (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0')
                     : 0;
    if (status < 200 || status > 299) {
        for (size_t i = 0; i < got; i++)
            if (resp[i] == '\r') resp[i] = 0;
        fail(1, pbuf, got ? resp : "no answer");
    }
    return 0;
}

/* entry from _start: sp -> argc, argv[], NULL, envp[], NULL */
__attribute__((noreturn, used)) void start_c(long *sp);
void start_c(long *sp) {
    long argc = sp[0];
    environ_ = (char **)(sp + 1 + argc + 1);
    quit(run());
}
