/* blob: object bodies as files under DATA/blobs/<2 hex>/<id>. Ids are random, never derived
 * from keys, so no key can steer a path. An upload writes DATA/tmp/<id> first; blob_publish
 * fsyncs it, renames it into blobs/ and fsyncs the directory, so after a crash a blob is either
 * whole or absent. Files in tmp/ at start are leftovers of interrupted uploads and are removed;
 * blobs no row references (a crash between publish and commit) are removed too. */
#ifndef SL_BLOB_H
#define SL_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_BLOB_ID_LEN 32

typedef struct {
    char *root; /* DATA */
} sl_blobs;

int sl_blobs_init(sl_blobs *b, const char *data_dir, char *err, size_t errlen);
void sl_blobs_free(sl_blobs *b);

/* Creates DATA/tmp/<new id>; returns the fd (O_WRONLY) and fills id, or -1. */
int sl_blob_create_tmp(sl_blobs *b, char id[SL_BLOB_ID_LEN + 1]);
/* fsync + rename tmp/<id> into blobs/ + directory fsync. Returns 0 or -1 (errno set). */
int sl_blob_publish(sl_blobs *b, int fd, const char *id);
/* Drops an unpublished temp file. */
void sl_blob_discard_tmp(sl_blobs *b, int fd, const char *id);
/* Opens a published blob for reading; -1 with errno on failure. */
int sl_blob_open(sl_blobs *b, const char *id);
void sl_blob_remove(sl_blobs *b, const char *id);
/* New published blob that shares the data of id (a hard link), for copies. 0 or -1. */
int sl_blob_link(sl_blobs *b, const char *id, char new_id[SL_BLOB_ID_LEN + 1]);
/* Writes all n bytes; 0 or -1. */
int sl_blob_write_all(int fd, const void *data, size_t n);
/* Appends len bytes of src_fd from offset to dst_fd (copy_file_range, falling back to read/write).
 */
int sl_blob_copy_range(int dst_fd, int src_fd, uint64_t offset, uint64_t len);
/* Removes every file in tmp/: at start, before serving, they are all leftovers of uploads a
 * crash interrupted. Returns the count removed. */
size_t sl_blobs_clear_tmp(sl_blobs *b);
/* Removes blobs for which is_referenced returns false, considering only files last modified
 * before `before_ns` (ns since the epoch): blobs of writes running now are newer, so this sweep
 * can run while the daemon serves. Returns the count removed. */
size_t sl_blobs_sweep(sl_blobs *b, bool (*is_referenced)(void *ctx, const char *id), void *ctx,
                      int64_t before_ns);

#endif
