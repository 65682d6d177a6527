/* blob: body files, their crash-safe publication and the start-up sweep. */
#include "objects/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"

static void path_tmp(const sl_blobs *b, const char *id, char *out, size_t n) {
    snprintf(out, n, "%s/tmp/%s", b->root, id);
}
static void path_blob(const sl_blobs *b, const char *id, char *out, size_t n) {
    snprintf(out, n, "%s/blobs/%.2s/%s", b->root, id, id);
}
static void path_shard(const sl_blobs *b, const char *id, char *out, size_t n) {
    snprintf(out, n, "%s/blobs/%.2s", b->root, id);
}

static int mkdir_p(const char *p) { return mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -1; }

int sl_blobs_init(sl_blobs *b, const char *data_dir, char *err, size_t errlen) {
    char p[4096];
    b->root = sl_xstrdup(data_dir);
    snprintf(p, sizeof p, "%s/tmp", data_dir);
    if (mkdir_p(p)) goto fail;
    snprintf(p, sizeof p, "%s/blobs", data_dir);
    if (mkdir_p(p)) goto fail;
    struct stat sb;
    snprintf(p, sizeof p, "%s/blobs/ff", data_dir);
    if (stat(p, &sb) == 0) return 0; /* made by an earlier start (created in order) */
    for (int i = 0; i < 256; i++) {
        snprintf(p, sizeof p, "%s/blobs/%02x", data_dir, i);
        if (mkdir_p(p)) goto fail;
    }
    return 0;
fail:
    snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
    free(b->root);
    b->root = NULL;
    return -1;
}

void sl_blobs_free(sl_blobs *b) {
    free(b->root);
    b->root = NULL;
}

int sl_blob_create_tmp(sl_blobs *b, char id[SL_BLOB_ID_LEN + 1]) {
    char p[4096];
    for (int tries = 0; tries < 4; tries++) {
        sl_id_hex(id, SL_BLOB_ID_LEN / 2);
        path_tmp(b, id, p, sizeof p);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

static int fsync_dir(const char *p) {
    int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int rc = fsync(dfd);
    close(dfd);
    return rc;
}

int sl_blob_publish(sl_blobs *b, int fd, const char *id) {
    char from[4096], to[4096], dir[4096];
    if (fdatasync(fd) != 0) return -1;
    close(fd);
    path_tmp(b, id, from, sizeof from);
    path_blob(b, id, to, sizeof to);
    path_shard(b, id, dir, sizeof dir);
    if (rename(from, to) != 0) return -1;
    return fsync_dir(dir);
}

void sl_blob_discard_tmp(sl_blobs *b, int fd, const char *id) {
    char p[4096];
    if (fd >= 0) close(fd);
    path_tmp(b, id, p, sizeof p);
    unlink(p);
}

int sl_blob_open(sl_blobs *b, const char *id) {
    char p[4096];
    path_blob(b, id, p, sizeof p);
    return open(p, O_RDONLY | O_CLOEXEC);
}

void sl_blob_remove(sl_blobs *b, const char *id) {
    char p[4096];
    path_blob(b, id, p, sizeof p);
    if (unlink(p) != 0 && errno != ENOENT)
        sl_warn("\"cannot remove blob\" id=%s errno=%d", id, errno);
}

int sl_blob_link(sl_blobs *b, const char *id, char new_id[SL_BLOB_ID_LEN + 1]) {
    char from[4096], to[4096], dir[4096];
    path_blob(b, id, from, sizeof from);
    for (int tries = 0; tries < 4; tries++) {
        sl_id_hex(new_id, SL_BLOB_ID_LEN / 2);
        path_blob(b, new_id, to, sizeof to);
        if (link(from, to) == 0) {
            /* A link keeps the source's old mtime: renew it so the start-up sweep, which only
             * looks at files older than the run, never takes a copy not yet committed. */
            utimensat(AT_FDCWD, to, NULL, 0);
            path_shard(b, new_id, dir, sizeof dir);
            return fsync_dir(dir);
        }
        if (errno != EEXIST) return -1;
    }
    return -1;
}

int sl_blob_write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int sl_blob_copy_range(int dst_fd, int src_fd, uint64_t offset, uint64_t len) {
    loff_t off = (loff_t)offset;
    while (len) {
        ssize_t n =
            copy_file_range(src_fd, &off, dst_fd, NULL, len > (1u << 30) ? (1u << 30) : len, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
            break;
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) return -1; /* source shorter than expected */
        len -= (uint64_t)n;
    }
    char buf[65536];
    while (len) {
        ssize_t n = pread(src_fd, buf, len < sizeof buf ? len : sizeof buf, off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        if (sl_blob_write_all(dst_fd, buf, (size_t)n)) return -1;
        off += n;
        len -= (uint64_t)n;
    }
    return 0;
}

static size_t sweep_dir(const char *dir, bool (*keep)(void *, const char *), void *ctx,
                        int64_t before_ns) {
    size_t removed = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0) continue;
        if ((int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec >= before_ns) continue;
        if (keep && keep(ctx, e->d_name)) continue;
        if (unlink(p) == 0) removed++;
    }
    closedir(d);
    return removed;
}

size_t sl_blobs_clear_tmp(sl_blobs *b) {
    char p[4096];
    snprintf(p, sizeof p, "%s/tmp", b->root);
    return sweep_dir(p, NULL, NULL, INT64_MAX);
}

size_t sl_blobs_sweep(sl_blobs *b, bool (*is_referenced)(void *ctx, const char *id), void *ctx,
                      int64_t before_ns) {
    char p[4096];
    size_t n = 0;
    for (int i = 0; i < 256; i++) {
        snprintf(p, sizeof p, "%s/blobs/%02x", b->root, i);
        n += sweep_dir(p, is_referenced, ctx, before_ns);
    }
    return n;
}
