/* ids: request ids, UUIDs and time formats. */
#include "core/ids.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include "core/buf.h"

static void fill_random(unsigned char *p, size_t n) {
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r <= 0) continue;
        p += r;
        n -= (size_t)r;
    }
}

/* Small requests (ids, keys) come from a per-thread buffer of the kernel's random bytes, filled
 * a few hundred bytes at a time: a pipeline asked for ten UUIDs and keys, each a system call.
 * Bytes handed out are wiped from the buffer. */
#define RANDOM_POOL 512
static __thread unsigned char random_pool[RANDOM_POOL];
static __thread size_t random_left;

void sl_random_bytes(void *out, size_t n) {
    unsigned char *p = out;
    if (n > RANDOM_POOL / 8) {
        fill_random(p, n);
        return;
    }
    if (random_left < n) {
        fill_random(random_pool, RANDOM_POOL);
        random_left = RANDOM_POOL;
    }
    unsigned char *src = random_pool + RANDOM_POOL - random_left;
    memcpy(p, src, n);
    memset(src, 0, n);
    random_left -= n;
}

void sl_id_request(char out[33]) {
    static _Atomic uint64_t counter;
    static uint32_t salt;
    if (!salt) sl_random_bytes(&salt, sizeof salt);
    uint64_t c = atomic_fetch_add(&counter, 1);
    snprintf(out, 33, "%08X%08X", salt ^ (uint32_t)(c >> 32), (uint32_t)(c * 2654435761u));
}

void sl_id_uuid(char out[37]) {
    unsigned char b[16];
    sl_random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void sl_id_hex(char *out, size_t n_bytes) {
    unsigned char b[64];
    if (n_bytes > sizeof b) n_bytes = sizeof b;
    sl_random_bytes(b, n_bytes);
    sl_hex_encode(b, n_bytes, out);
}

int64_t sl_now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t sl_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_time_iso8601_ms(int64_t ms, char out[32]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int)(ms % 1000) & 1023);
}

void sl_time_rfc1123(int64_t ms, char out[40]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int64_t sl_time_parse(const char *s) {
    struct tm tm;
    const char *end;
    memset(&tm, 0, sizeof tm);
    if ((end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm)) && !*end)
        return (int64_t)timegm(&tm) * 1000;
    memset(&tm, 0, sizeof tm);
    if ((end = strptime(s, "%a, %d %b %Y %H:%M:%S +0000", &tm)) && !*end)
        return (int64_t)timegm(&tm) * 1000;
    memset(&tm, 0, sizeof tm);
    if ((end = strptime(s, "%Y%m%dT%H%M%SZ", &tm)) && !*end) return (int64_t)timegm(&tm) * 1000;
    memset(&tm, 0, sizeof tm);
    if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))) {
        int64_t ms = (int64_t)timegm(&tm) * 1000;
        if (*end == '.') {
            end++;
            int frac = 0, digits = 0;
            while (*end >= '0' && *end <= '9') {
                if (digits < 3) frac = frac * 10 + (*end - '0'), digits++;
                end++;
            }
            while (digits < 3) frac *= 10, digits++;
            ms += frac;
        }
        if (!strcmp(end, "Z") || !strcmp(end, "+00:00") || !*end) return ms;
    }
    return -1;
}

bool sl_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    return pthread_cond_timedwait(cv, mu, &ts) == ETIMEDOUT;
}
