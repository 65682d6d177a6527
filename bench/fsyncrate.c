/* fsyncrate: how many small durable writes per second the filesystem under DIR allows.
 *
 * The ceiling a storage engine works under when each request must be on disk before it is
 * answered. Two patterns, each with T threads for S seconds:
 *   append  every thread appends 4 KiB to its own file and calls fdatasync (a log/WAL commit);
 *   create  every thread writes 4 KiB to a new temp file, fsyncs it, renames it into place and
 *           fsyncs the directory (a file per object, made crash-safe).
 * Files are removed afterwards.
 *
 * Last line: RESULT pattern=append threads=T ops=N secs=S ops_s=X */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK       4096
#define MAX_THREADS 64

typedef struct {
    const char *dir;
    int id;
    bool create;
    double deadline;
    uint64_t ops;
    double end; /* when the timed loop stopped, before clean-up */
    int err;
} worker;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int append_loop(worker *w, const char *buf) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fsyncrate-%d.log", w->dir, w->id);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    int err = 0;
    while (now_s() < w->deadline) {
        if (write(fd, buf, BLOCK) != BLOCK || fdatasync(fd) != 0) {
            err = errno;
            break;
        }
        w->ops++;
    }
    w->end = now_s();
    close(fd);
    unlink(path);
    return err;
}

static int create_loop(worker *w, const char *buf) {
    int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errno;
    char tmp[4096], dst[4096];
    int err = 0;
    while (now_s() < w->deadline) {
        snprintf(tmp, sizeof tmp, "%s/fsyncrate-%d.tmp", w->dir, w->id);
        snprintf(dst, sizeof dst, "%s/fsyncrate-%d-%llu.obj", w->dir, w->id,
                 (unsigned long long)w->ops);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, buf, BLOCK) != BLOCK || fsync(fd) != 0 || close(fd) != 0 ||
            rename(tmp, dst) != 0 || fsync(dfd) != 0) {
            err = errno;
            break;
        }
        w->ops++;
    }
    w->end = now_s();
    for (uint64_t i = 0; i < w->ops; i++) {
        snprintf(dst, sizeof dst, "%s/fsyncrate-%d-%llu.obj", w->dir, w->id, (unsigned long long)i);
        unlink(dst);
    }
    close(dfd);
    return err;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    char buf[BLOCK];
    memset(buf, 'x' + w->id % 3, sizeof buf);
    w->err = w->create ? create_loop(w, buf) : append_loop(w, buf);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: fsyncrate DIR SECONDS THREADS append|create\n");
        return 2;
    }
    const char *dir = argv[1];
    double secs = atof(argv[2]);
    int threads = atoi(argv[3]);
    bool create = !strcmp(argv[4], "create");
    if (secs <= 0 || threads < 1 || threads > MAX_THREADS ||
        (!create && strcmp(argv[4], "append"))) {
        fprintf(stderr, "fsyncrate: bad arguments\n");
        return 2;
    }
    worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){.dir = dir, .id = i, .create = create, .deadline = t0 + secs};
        pthread_create(&tid[i], NULL, worker_main, &w[i]);
    }
    uint64_t ops = 0;
    int err = 0;
    double end = t0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        ops += w[i].ops;
        if (w[i].err) err = w[i].err;
        if (w[i].end > end) end = w[i].end;
    }
    double elapsed = end > t0 ? end - t0 : secs;
    if (err) fprintf(stderr, "fsyncrate: %s\n", strerror(err));
    printf("RESULT pattern=%s threads=%d ops=%llu secs=%.3f ops_s=%.1f\n", argv[4], threads,
           (unsigned long long)ops, elapsed, (double)ops / elapsed);
    return err ? 1 : 0;
}
