/* ids: identifiers and timestamps in the shapes AWS clients expect: request ids, UUIDs,
 * ISO-8601 / RFC 1123 times, and ARNs built from the configured region and account. */
#ifndef SL_IDS_H
#define SL_IDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* 16 upper-case hex characters, like S3's x-amz-request-id. out holds 33 bytes. */
void sl_id_request(char out[33]);
/* Random UUID v4, lower-case, 36 characters + NUL. */
void sl_id_uuid(char out[37]);
/* n random bytes from the kernel's CSPRNG. */
void sl_random_bytes(void *out, size_t n);
/* Random lowercase hex string of 2n characters. */
void sl_id_hex(char *out, size_t n_bytes);

/* Milliseconds since the epoch, wall clock. */
int64_t sl_now_ms(void);
/* Monotonic milliseconds. */
int64_t sl_mono_ms(void);
/* 2006-03-01T12:00:00.000Z */
void sl_time_iso8601_ms(int64_t ms, char out[32]);
/* Tue, 01 Mar 2006 12:00:00 GMT */
void sl_time_rfc1123(int64_t ms, char out[40]);
/* Waits on cv (mu held, as pthread_cond_wait) for at most ms milliseconds of wall clock;
 * returns true when the time ran out. For worker threads that sleep until their next due
 * job or a kick. */
bool sl_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);
/* Parses RFC 1123, ISO 8601 (basic or extended) dates; returns -1 on failure. */
int64_t sl_time_parse(const char *s);

#endif
