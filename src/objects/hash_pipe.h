/* hash_pipe: hashes a large upload on a thread of its own, so digesting (MD5 for the ETag,
 * the requested checksum, SHA-256 for signed payloads) overlaps receiving and writing instead
 * of adding to them. The upload thread pushes copies of the bytes in order; a bounded queue
 * (a few MiB) makes it wait when the hasher falls behind. */
#ifndef SL_HASH_PIPE_H
#define SL_HASH_PIPE_H

#include <stddef.h>

#include "objects/checksum.h"

typedef struct hash_pipe hash_pipe;

/* Takes the hasher over until hash_pipe_finish. NULL if no thread could be started. */
hash_pipe *hash_pipe_start(sl_hasher *h);
void hash_pipe_push(hash_pipe *p, const void *data, size_t n);
/* Waits until every byte is hashed, stops the thread and frees the pipe; the hasher is the
 * caller's again. */
void hash_pipe_finish(hash_pipe *p);

#endif
