/* credentials: configured and issued access keys. Issued keys live in a small list: there are
 * as many as running tasks (a key leaves the list when revoked, and expired ones are dropped when
 * the next is issued), so a linear scan under a mutex is cheap. Lookups copy the secret out, so
 * nothing of the list outlives the lock. */
#include "auth/credentials.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"

typedef struct issued {
    char key[21];
    char secret[41];
    int64_t expires_ms;
    struct issued *next;
} issued;

struct sl_credentials {
    char *key, *secret;
    pthread_mutex_t lock;
    issued *list;
};

sl_credentials *sl_credentials_new(const char *access_key_id, const char *secret_access_key) {
    sl_credentials *c = sl_xcalloc(1, sizeof *c);
    c->key = sl_xstrdup(access_key_id);
    c->secret = sl_xstrdup(secret_access_key);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void sl_credentials_free(sl_credentials *c) {
    if (!c) return;
    for (issued *i = c->list, *n; i; i = n) {
        n = i->next;
        free(i);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->key);
    free(c->secret);
    free(c);
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
    pthread_mutex_lock(&c->lock);
    for (issued **p = &c->list; *p;) { /* expired keys are no use to anyone */
        issued *old = *p;
        if (old->expires_ms > now) {
            p = &old->next;
            continue;
        }
        *p = old->next;
        free(old);
    }
    i->next = c->list;
    c->list = i;
    pthread_mutex_unlock(&c->lock);
}

void sl_credentials_revoke(sl_credentials *c, const char *access_key_id) {
    pthread_mutex_lock(&c->lock);
    for (issued **p = &c->list; *p; p = &(*p)->next) {
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
    pthread_mutex_lock(&c->lock);
    for (issued *i = c->list; i && !found; i = i->next) {
        if (i->expires_ms <= now || strcmp(i->key, access_key_id) != 0) continue;
        memcpy(out, i->secret, sizeof i->secret);
        found = true;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}
