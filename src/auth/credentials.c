/* credentials: configured and issued access keys. Issued keys (one per running task) live in a
 * hash table keyed by access key id, so issuing, revoking and every signed request's lookup
 * cost the same however many tasks run; a key leaves when revoked, and expired ones are swept
 * out at most once a minute, when the next is issued. Lookups copy the secret out, so nothing
 * of the table outlives the lock. */
#include "auth/credentials.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"

#define ISSUED_BUCKETS 256
#define SWEEP_EVERY_MS 60000

typedef struct issued {
    char key[21];
    char secret[41];
    int64_t expires_ms;
    struct issued *next;
} issued;

struct sl_credentials {
    char *key, *secret;
    pthread_mutex_t lock;
    issued *table[ISSUED_BUCKETS];
    int64_t next_sweep_ms;
};

static unsigned bucket_of(const char *key) {
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *key; key++) h = (h ^ (unsigned char)*key) * 16777619u;
    return h % ISSUED_BUCKETS;
}

sl_credentials *sl_credentials_new(const char *access_key_id, const char *secret_access_key) {
    sl_credentials *c = sl_xcalloc(1, sizeof *c);
    c->key = sl_xstrdup(access_key_id);
    c->secret = sl_xstrdup(secret_access_key);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void sl_credentials_free(sl_credentials *c) {
    if (!c) return;
    for (int b = 0; b < ISSUED_BUCKETS; b++) {
        for (issued *i = c->table[b], *n; i; i = n) {
            n = i->next;
            free(i);
        }
    }
    pthread_mutex_destroy(&c->lock);
    free(c->key);
    free(c->secret);
    free(c);
}

/* Drops expired keys: they are no use to anyone. Caller holds the lock. */
static void sweep(sl_credentials *c, int64_t now) {
    for (int b = 0; b < ISSUED_BUCKETS; b++) {
        for (issued **p = &c->table[b]; *p;) {
            issued *old = *p;
            if (old->expires_ms > now) {
                p = &old->next;
                continue;
            }
            *p = old->next;
            free(old);
        }
    }
    c->next_sweep_ms = now + SWEEP_EVERY_MS;
}

void sl_credentials_issue(sl_credentials *c, int64_t expires_ms, char access_key_id[21],
                          char secret_access_key[41]) {
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char any[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char rnd[56];
    sl_random_bytes(rnd, sizeof rnd);
    issued *i = sl_xcalloc(1, sizeof *i);
    memcpy(i->key, "ASIA", 4); /* the prefix AWS uses for temporary keys */
    for (int k = 4; k < 20; k++) i->key[k] = upper[rnd[k] & 31];
    for (int k = 0; k < 40; k++) i->secret[k] = any[rnd[16 + k] & 63];
    i->expires_ms = expires_ms;
    memcpy(access_key_id, i->key, 21);
    memcpy(secret_access_key, i->secret, 41);
    int64_t now = sl_now_ms();
    unsigned b = bucket_of(i->key);
    pthread_mutex_lock(&c->lock);
    if (now >= c->next_sweep_ms) sweep(c, now);
    i->next = c->table[b];
    c->table[b] = i;
    pthread_mutex_unlock(&c->lock);
}

void sl_credentials_revoke(sl_credentials *c, const char *access_key_id) {
    unsigned b = bucket_of(access_key_id);
    pthread_mutex_lock(&c->lock);
    for (issued **p = &c->table[b]; *p; p = &(*p)->next) {
        issued *i = *p;
        if (strcmp(i->key, access_key_id) != 0) continue;
        *p = i->next;
        free(i);
        break;
    }
    pthread_mutex_unlock(&c->lock);
}

bool sl_credentials_secret(void *credentials, const char *access_key_id, char out[SL_SECRET_MAX]) {
    sl_credentials *c = credentials;
    if (!strcmp(access_key_id, c->key))
        return (size_t)snprintf(out, SL_SECRET_MAX, "%s", c->secret) < SL_SECRET_MAX;
    bool found = false;
    int64_t now = sl_now_ms();
    unsigned b = bucket_of(access_key_id);
    pthread_mutex_lock(&c->lock);
    for (issued *i = c->table[b]; i && !found; i = i->next) {
        if (i->expires_ms <= now || strcmp(i->key, access_key_id) != 0) continue;
        memcpy(out, i->secret, sizeof i->secret);
        found = true;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}
