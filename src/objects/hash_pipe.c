/* hash_pipe: a single-producer, single-consumer queue of byte chunks feeding a hasher thread. */
#include "objects/hash_pipe.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define SLOTS 32 /* chunks of at most the HTTP layer's read size (128 KiB): ~4 MiB in flight */

struct hash_pipe {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    struct {
        char *data;
        size_t len;
    } slot[SLOTS];
    unsigned head, count;
    bool done;
    sl_hasher *h;
};

static void *hasher_main(void *arg) {
    hash_pipe *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->count && !p->done) pthread_cond_wait(&p->nonempty, &p->mu);
        if (!p->count && p->done) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        char *data = p->slot[p->head].data;
        size_t len = p->slot[p->head].len;
        p->head = (p->head + 1) % SLOTS;
        p->count--;
        pthread_cond_signal(&p->nonfull);
        pthread_mutex_unlock(&p->mu);
        sl_hasher_update(p->h, data, len);
        free(data);
    }
}

hash_pipe *hash_pipe_start(sl_hasher *h) {
    hash_pipe *p = sl_xcalloc(1, sizeof *p);
    p->h = h;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->nonempty, NULL);
    pthread_cond_init(&p->nonfull, NULL);
    if (pthread_create(&p->thread, NULL, hasher_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->nonempty);
        pthread_cond_destroy(&p->nonfull);
        free(p);
        return NULL;
    }
    return p;
}

void hash_pipe_push(hash_pipe *p, const void *data, size_t n) {
    if (!n) return;
    char *copy = sl_xmalloc(n);
    memcpy(copy, data, n);
    pthread_mutex_lock(&p->mu);
    while (p->count == SLOTS) pthread_cond_wait(&p->nonfull, &p->mu);
    unsigned tail = (p->head + p->count) % SLOTS;
    p->slot[tail].data = copy;
    p->slot[tail].len = n;
    p->count++;
    pthread_cond_signal(&p->nonempty);
    pthread_mutex_unlock(&p->mu);
}

void hash_pipe_finish(hash_pipe *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->done = true;
    pthread_cond_signal(&p->nonempty);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->nonempty);
    pthread_cond_destroy(&p->nonfull);
    free(p);
}
