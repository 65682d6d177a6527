/* checksum: digests for object bodies. MD5, SHA-1 and SHA-256 come from OpenSSL's EVP, CRC32
 * from zlib, CRC32C from ISA-L. CRC64NVME comes from ISA-L's crc64_rocksoft_refl, which only
 * ISA-L 2.31 and later have; against an older ISA-L (Debian 12 ships 2.30) a small table-driven
 * CRC fills in, the one checksum core written here, and it goes away by itself on an upgrade.
 *
 * All three CRCs are "reflected, init ~0, xorout ~0", so one GF(2) combine rule serves them:
 * crc(A||B) = crc(A) * x^(8*len(B)) mod P  xor  crc(B). That is math, not a checksum core, and is
 * what full-object multipart checksums are built from. */
#include "objects/checksum.h"

#include <isa-l.h>
#include <isa-l/crc.h>
#include <isa-l/crc64.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "core/buf.h"

/* Reflected generator polynomials, for the combine math (and the CRC64 fallback). */
#define POLY_CRC32     0xEDB88320u
#define POLY_CRC32C    0x82F63B78u
#define POLY_CRC64NVME 0x9A6C9329AC4BC9B5ull

#if defined(ISAL_VERSION) && ISAL_VERSION >= ISAL_MAKE_VERSION(2, 31, 0)
static uint64_t crc64nvme_update(uint64_t crc, const unsigned char *p, size_t n) {
    return crc64_rocksoft_refl(crc, p, n);
}
#else
/* Slicing-by-8 over the reflected polynomial; same calling convention as ISA-L's crc64_*_refl
 * (pass 0 to start, the previous result to continue). */
static uint64_t crc64_table[8][256];
static pthread_once_t crc64_table_once = PTHREAD_ONCE_INIT;

static void crc64_table_init(void) {
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY_CRC64NVME : c >> 1;
        crc64_table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc64_table[t][i] =
                (crc64_table[t - 1][i] >> 8) ^ crc64_table[0][crc64_table[t - 1][i] & 0xFF];
}

static uint64_t crc64nvme_update(uint64_t crc, const unsigned char *p, size_t n) {
    pthread_once(&crc64_table_once, crc64_table_init);
    const uint64_t(*t)[256] = (const uint64_t(*)[256])crc64_table;
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--) w = (w << 8) | p[k]; /* little-endian load */
        crc ^= w;
        crc = t[7][crc & 0xFF] ^ t[6][(crc >> 8) & 0xFF] ^ t[5][(crc >> 16) & 0xFF] ^
              t[4][(crc >> 24) & 0xFF] ^ t[3][(crc >> 32) & 0xFF] ^ t[2][(crc >> 40) & 0xFF] ^
              t[1][(crc >> 48) & 0xFF] ^ t[0][crc >> 56];
    }
    for (; n; n--, p++) crc = t[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
#endif

static const struct {
    const char *name, *header;
    size_t len;
} algos[] = {
    [SL_CK_NONE] = {NULL, NULL, 0},
    [SL_CK_CRC32] = {"CRC32", "x-amz-checksum-crc32", 4},
    [SL_CK_CRC32C] = {"CRC32C", "x-amz-checksum-crc32c", 4},
    [SL_CK_CRC64NVME] = {"CRC64NVME", "x-amz-checksum-crc64nvme", 8},
    [SL_CK_SHA1] = {"SHA1", "x-amz-checksum-sha1", 20},
    [SL_CK_SHA256] = {"SHA256", "x-amz-checksum-sha256", 32},
};
#define ALGO_COUNT (sizeof algos / sizeof algos[0])

static bool algo_ok(sl_ck_algo a) { return a > SL_CK_NONE && (size_t)a < ALGO_COUNT; }

sl_ck_algo sl_ck_algo_parse(const char *name) {
    if (!name) return SL_CK_NONE;
    for (size_t i = 1; i < ALGO_COUNT; i++)
        if (!strcasecmp(name, algos[i].name)) return (sl_ck_algo)i;
    return SL_CK_NONE;
}
const char *sl_ck_algo_name(sl_ck_algo a) { return algo_ok(a) ? algos[a].name : NULL; }
const char *sl_ck_header_name(sl_ck_algo a) { return algo_ok(a) ? algos[a].header : NULL; }
size_t sl_ck_digest_len(sl_ck_algo a) { return algo_ok(a) ? algos[a].len : 0; }
bool sl_ck_is_crc(sl_ck_algo a) {
    return a == SL_CK_CRC32 || a == SL_CK_CRC32C || a == SL_CK_CRC64NVME;
}

/* One running digest of any algorithm. */
typedef struct {
    sl_ck_algo algo;
    uint64_t crc; /* CRC32, CRC64NVME: the value so far; CRC32C: ISA-L's raw register */
    EVP_MD_CTX *md;
} ck_state;

static EVP_MD_CTX *md_new(const EVP_MD *type) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, type, NULL) != 1) abort();
    return c;
}

static void ck_init(ck_state *s, sl_ck_algo algo) {
    s->algo = algo;
    s->crc = algo == SL_CK_CRC32C ? 0xFFFFFFFFu : 0; /* crc32_iscsi does no inversion itself */
    s->md = algo == SL_CK_SHA1     ? md_new(EVP_sha1())
            : algo == SL_CK_SHA256 ? md_new(EVP_sha256())
                                   : NULL;
}

static void ck_update(ck_state *s, const unsigned char *p, size_t n) {
    switch (s->algo) {
    case SL_CK_CRC32: s->crc = crc32_z((uLong)s->crc, p, n); break;
    case SL_CK_CRC32C:
        while (n) { /* crc32_iscsi takes an int length */
            int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
            s->crc = crc32_iscsi((unsigned char *)p, chunk, (unsigned)s->crc);
            p += chunk, n -= (size_t)chunk;
        }
        break;
    case SL_CK_CRC64NVME: s->crc = crc64nvme_update(s->crc, p, n); break;
    case SL_CK_SHA1:
    case SL_CK_SHA256:
        if (EVP_DigestUpdate(s->md, p, n) != 1) abort();
        break;
    case SL_CK_NONE: break;
    }
}

static void put_be(unsigned char *out, uint64_t v, size_t len) {
    for (size_t i = 0; i < len; i++) out[i] = (unsigned char)(v >> (8 * (len - 1 - i)));
}

/* Writes the raw digest (sl_ck_digest_len bytes) and releases the state. */
static void ck_final(ck_state *s, unsigned char *raw) {
    switch (s->algo) {
    case SL_CK_CRC32: put_be(raw, s->crc, 4); break;
    case SL_CK_CRC32C: put_be(raw, ~s->crc & 0xFFFFFFFFu, 4); break;
    case SL_CK_CRC64NVME: put_be(raw, s->crc, 8); break;
    case SL_CK_SHA1:
    case SL_CK_SHA256:
        if (EVP_DigestFinal_ex(s->md, raw, NULL) != 1) abort();
        break;
    case SL_CK_NONE: break;
    }
    EVP_MD_CTX_free(s->md);
    s->md = NULL;
}

static void b64(const unsigned char *raw, size_t n, char *out) { sl_base64_encode(raw, n, out); }

struct sl_hasher {
    EVP_MD_CTX *md5;
    ck_state extra;
    EVP_MD_CTX *sha256; /* NULL when not wanted, or when extra already is SHA-256 */
    bool want_sha256;
};

sl_hasher *sl_hasher_new(sl_ck_algo algo, bool want_sha256) {
    sl_hasher *h = sl_xcalloc(1, sizeof *h);
    h->md5 = md_new(EVP_md5());
    ck_init(&h->extra, algo_ok(algo) ? algo : SL_CK_NONE);
    h->want_sha256 = want_sha256;
    if (want_sha256 && h->extra.algo != SL_CK_SHA256) h->sha256 = md_new(EVP_sha256());
    return h;
}

void sl_hasher_update(sl_hasher *h, const void *data, size_t n) {
    if (!n) return;
    if (EVP_DigestUpdate(h->md5, data, n) != 1) abort();
    ck_update(&h->extra, data, n);
    if (h->sha256 && EVP_DigestUpdate(h->sha256, data, n) != 1) abort();
}

void sl_hasher_final(sl_hasher *h, char *md5_hex, unsigned char md5_raw[16], char *checksum_b64,
                     unsigned char *checksum_raw, char *sha256_hex) {
    unsigned char md5[16], extra[32], sha[32];
    if (EVP_DigestFinal_ex(h->md5, md5, NULL) != 1) abort();
    size_t extra_len = sl_ck_digest_len(h->extra.algo);
    ck_final(&h->extra, extra);
    if (h->sha256) {
        if (EVP_DigestFinal_ex(h->sha256, sha, NULL) != 1) abort();
    } else if (h->want_sha256) {
        memcpy(sha, extra, 32); /* the additional checksum is SHA-256 itself */
    }
    if (md5_hex) sl_hex_encode(md5, 16, md5_hex);
    if (md5_raw) memcpy(md5_raw, md5, 16);
    if (checksum_b64) {
        if (extra_len) b64(extra, extra_len, checksum_b64);
        else checksum_b64[0] = 0;
    }
    if (checksum_raw && extra_len) memcpy(checksum_raw, extra, extra_len);
    if (sha256_hex) {
        if (h->want_sha256) sl_hex_encode(sha, 32, sha256_hex);
        else sha256_hex[0] = 0;
    }
}

void sl_hasher_free(sl_hasher *h) {
    if (!h) return;
    EVP_MD_CTX_free(h->md5);
    EVP_MD_CTX_free(h->extra.md);
    EVP_MD_CTX_free(h->sha256);
    free(h);
}

void sl_ck_compute_raw(sl_ck_algo algo, const void *data, size_t n, unsigned char *raw) {
    if (!algo_ok(algo)) return;
    ck_state s;
    ck_init(&s, algo);
    ck_update(&s, data, n);
    ck_final(&s, raw);
}

void sl_ck_compute_b64(sl_ck_algo algo, const void *data, size_t n, char out[64]) {
    unsigned char raw[32];
    out[0] = 0;
    if (!algo_ok(algo)) return;
    sl_ck_compute_raw(algo, data, n, raw);
    b64(raw, sl_ck_digest_len(algo), out);
}

void sl_ck_composite(sl_ck_algo algo, const unsigned char *raw_digests, size_t count,
                     char out[80]) {
    out[0] = 0;
    if (!algo_ok(algo)) return;
    unsigned char raw[32];
    sl_ck_compute_raw(algo, raw_digests, count * sl_ck_digest_len(algo), raw);
    size_t n = sl_base64_encode(raw, sl_ck_digest_len(algo), out);
    snprintf(out + n, 80 - n, "-%zu", count);
}

uint64_t sl_ck_crc_from_raw(sl_ck_algo algo, const unsigned char *raw) {
    uint64_t v = 0;
    size_t len = sl_ck_is_crc(algo) ? sl_ck_digest_len(algo) : 0;
    for (size_t i = 0; i < len; i++) v = (v << 8) | raw[i];
    return v;
}

void sl_ck_crc_to_b64(sl_ck_algo algo, uint64_t crc, char out[64]) {
    unsigned char raw[8];
    out[0] = 0;
    if (!sl_ck_is_crc(algo)) return;
    size_t len = sl_ck_digest_len(algo);
    put_be(raw, crc, len);
    b64(raw, len, out);
}

/* GF(2) polynomial arithmetic modulo a reflected CRC polynomial of `width` bits: the top bit
 * holds the coefficient of x^0, the lowest bit that of x^(width-1). */
static uint64_t gf2_mulmod(uint64_t a, uint64_t b, uint64_t poly, unsigned width) {
    uint64_t prod = 0;
    for (uint64_t m = (uint64_t)1 << (width - 1); m; m >>= 1) {
        if (a & m) prod ^= b;
        b = (b & 1) ? (b >> 1) ^ poly : b >> 1; /* b *= x */
    }
    return prod;
}

/* x^(8n) mod P by square-and-multiply over the bits of n. */
static uint64_t gf2_x8n(uint64_t n, uint64_t poly, unsigned width) {
    uint64_t result = (uint64_t)1 << (width - 1); /* 1 */
    uint64_t power = (uint64_t)1 << (width - 9);  /* x^8 */
    for (; n; n >>= 1) {
        if (n & 1) result = gf2_mulmod(result, power, poly, width);
        power = gf2_mulmod(power, power, poly, width);
    }
    return result;
}

static uint64_t crc_combine_gf2(uint64_t a, uint64_t b, uint64_t len_b, uint64_t poly,
                                unsigned width) {
    uint64_t mask = width == 64 ? ~(uint64_t)0 : ((uint64_t)1 << width) - 1;
    return gf2_mulmod(gf2_x8n(len_b, poly, width), a & mask, poly, width) ^ (b & mask);
}

uint64_t sl_ck_crc_combine(sl_ck_algo algo, uint64_t crc_a, uint64_t crc_b, uint64_t len_b) {
    switch (algo) {
    case SL_CK_CRC32:
        /* zlib's own combine when the length fits its z_off_t (it always does on 64-bit). */
        if (len_b <= (sizeof(z_off_t) >= 8 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX))
            return crc32_combine((uLong)crc_a, (uLong)crc_b, (z_off_t)len_b) & 0xFFFFFFFFu;
        return crc_combine_gf2(crc_a, crc_b, len_b, POLY_CRC32, 32);
    case SL_CK_CRC32C: return crc_combine_gf2(crc_a, crc_b, len_b, POLY_CRC32C, 32);
    case SL_CK_CRC64NVME: return crc_combine_gf2(crc_a, crc_b, len_b, POLY_CRC64NVME, 64);
    default: return 0;
    }
}
