/* workdirs: the working directories of tasks run on this machine. A task's is
 * <data>/tasks/<id> (its HOME), each container's <data>/tasks/<id>/<container name> (its cwd).
 *
 * Making two directories and removing them again for every task was the runner's largest
 * cost in a burst of short tasks: a filesystem allocates an inode per directory and ext4 (as
 * others) searches past inodes freed a moment ago. So a finished task's directories are
 * emptied and kept, up to ECS_SPARE_MAX, under <data>/tasks/.spare/<n> (the first container's dir
 * inside renamed ".c"), and the next task renames one into place: renames only, no inode
 * made or freed. Spares left by an earlier run are removed at start. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "tasks/tasks_internal.h"

#define SPARE_DIR  ".spare"
#define FIRST_KEPT ".c"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0)
        sl_debug("\"cannot remove\" path=%s errno=%d", path, errno);
    return 0;
}

void ecs_workdir_remove(const char *path) {
    if (!*path || strstr(path, "/tasks/") == NULL) return; /* only ever under <data>/tasks/ */
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Emptying a task's directory keeps the directory itself and its first container's dir
 * (level 1, named kept_name); nftw has no context argument, so the name is the emptying
 * thread's own. */
static __thread const char *kept_name;
static int empty_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    if (ftw->level == 0) return 0;
    if (ftw->level == 1 && flag == FTW_DP && !strcmp(path + ftw->base, kept_name)) return 0;
    return rm_entry(path, sb, flag, ftw);
}

static void spare_path(const sl_tasks *t, unsigned n, char *out, size_t outlen) {
    snprintf(out, outlen, "%.1000s/tasks/" SPARE_DIR "/%u", t->data_dir, n);
}

void ecs_workdirs_init(sl_tasks *t) {
    pthread_mutex_init(&t->spare_mu, NULL);
    char dir[1100];
    snprintf(dir, sizeof dir, "%.1000s/tasks/" SPARE_DIR, t->data_dir);
    ecs_workdir_remove(dir);
    snprintf(dir, sizeof dir, "%.1000s/tasks", t->data_dir);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%.1000s/tasks/" SPARE_DIR, t->data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) t->spare_off = true;
}

void ecs_workdirs_free(sl_tasks *t) { pthread_mutex_destroy(&t->spare_mu); }

int ecs_workdir_make(sl_tasks *t, const char *workdir, const char *first) {
    char from[1300], to[1500];
    pthread_mutex_lock(&t->spare_mu);
    unsigned n = t->nspare ? t->spare[--t->nspare] : 0;
    pthread_mutex_unlock(&t->spare_mu);
    snprintf(to, sizeof to, "%s/%.255s", workdir, first);
    if (n) {
        spare_path(t, n, from, sizeof from);
        if (rename(from, workdir) == 0) {
            snprintf(from, sizeof from, "%s/" FIRST_KEPT, workdir);
            if (rename(from, to) == 0 || mkdir(to, 0700) == 0) return 0;
            return -1;
        }
        ecs_workdir_remove(from);
    }
    if (mkdir(workdir, 0700) != 0 && errno != EEXIST) return -1;
    return mkdir(to, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

void ecs_workdir_release(sl_tasks *t, const char *workdir, const char *first) {
    if (!*workdir || strstr(workdir, "/tasks/") == NULL) return;
    char from[1500], to[1300];
    pthread_mutex_lock(&t->spare_mu);
    bool keep = !t->spare_off && t->nspare < ECS_SPARE_MAX;
    if (keep) {
        kept_name = first;
        nftw(workdir, empty_entry, 16, FTW_DEPTH | FTW_PHYS);
        snprintf(from, sizeof from, "%s/%.255s", workdir, first);
        snprintf(to, sizeof to, "%s/" FIRST_KEPT, workdir);
        unsigned n = ++t->spare_seq ? t->spare_seq : ++t->spare_seq; /* 0 means "none" */
        char spare[1300];
        spare_path(t, n, spare, sizeof spare);
        keep = rename(from, to) == 0 && rename(workdir, spare) == 0;
        if (keep) t->spare[t->nspare++] = n;
    }
    pthread_mutex_unlock(&t->spare_mu);
    if (!keep) ecs_workdir_remove(workdir);
}
