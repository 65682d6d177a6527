/* checksum: streaming digests for object bodies: MD5 (the ETag) and the S3 additional
 * checksums CRC32, CRC32C, CRC64NVME, SHA1, SHA256, plus the SHA-256 SigV4 needs. Built on
 * zlib, ISA-L and OpenSSL; no hand-written checksum code. Values are rendered the way S3
 * shows them (base64 of the big-endian digest). Also the multipart forms: the composite
 * checksum ("<base64>-N" over the parts' digests) and full-object CRC combination. */
#ifndef SL_CHECKSUM_H
#define SL_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SL_CK_NONE = 0,
    SL_CK_CRC32,
    SL_CK_CRC32C,
    SL_CK_CRC64NVME,
    SL_CK_SHA1,
    SL_CK_SHA256,
} sl_ck_algo;

/* "CRC32" etc. (case-insensitive) -> algo; SL_CK_NONE when unknown. */
sl_ck_algo sl_ck_algo_parse(const char *name);
/* "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256". */
const char *sl_ck_algo_name(sl_ck_algo a);
/* Header name: "x-amz-checksum-crc32" etc. */
const char *sl_ck_header_name(sl_ck_algo a);
/* Raw digest length in bytes: 4, 4, 8, 20, 32 (0 for SL_CK_NONE). */
size_t sl_ck_digest_len(sl_ck_algo a);
/* CRC32, CRC32C and CRC64NVME: the algorithms that also have a full-object multipart form. */
bool sl_ck_is_crc(sl_ck_algo a);

typedef struct sl_hasher sl_hasher;

/* A hasher computes MD5 always, the given additional algorithm (or none), and SHA-256 when
 * want_sha256 (for SigV4 payload verification). */
sl_hasher *sl_hasher_new(sl_ck_algo algo, bool want_sha256);
void sl_hasher_update(sl_hasher *h, const void *data, size_t n);
/* Finalises (once; then only sl_hasher_free); outputs may be NULL. md5_hex is 33 bytes,
 * checksum_b64 64 bytes ("" without an additional algorithm), checksum_raw sl_ck_digest_len
 * bytes, sha256_hex 65 ("" unless want_sha256). */
void sl_hasher_final(sl_hasher *h, char *md5_hex, unsigned char md5_raw[16], char *checksum_b64,
                     unsigned char *checksum_raw, char *sha256_hex);
void sl_hasher_free(sl_hasher *h);

/* One-shot digest of a buffer for algo; writes base64 into out (64 bytes; "" for NONE). */
void sl_ck_compute_b64(sl_ck_algo algo, const void *data, size_t n, char out[64]);
/* The same as raw big-endian bytes (sl_ck_digest_len(algo) of them). */
void sl_ck_compute_raw(sl_ck_algo algo, const void *data, size_t n, unsigned char *raw);

/* Composite multipart checksum: algo over the concatenated raw part digests, as
 * "<base64>-<count>". */
void sl_ck_composite(sl_ck_algo algo, const unsigned char *raw_digests, size_t count, char out[80]);
/* Full-object CRC of parts combined (CRC32/CRC32C/CRC64NVME only): crc of A||B from crc(A),
 * crc(B), len(B). Values are the numeric CRCs. */
uint64_t sl_ck_crc_combine(sl_ck_algo algo, uint64_t crc_a, uint64_t crc_b, uint64_t len_b);
/* Between a CRC's numeric value and its raw big-endian digest or S3's base64 form; 0 / "" when
 * algo is not a CRC. Decode a client's base64 with sl_base64_decode, then sl_ck_crc_from_raw. */
uint64_t sl_ck_crc_from_raw(sl_ck_algo algo, const unsigned char *raw);
void sl_ck_crc_to_b64(sl_ck_algo algo, uint64_t crc, char out[64]);

#endif
