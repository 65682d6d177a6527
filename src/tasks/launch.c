/* launch: what a container starts with. The image picks the driver — "host", "sandbox",
 * "oci:<path>", an alias from the config's image_aliases (so a seed's task definition naming
 * "rupakg/docker-ffmpeg-thumb" runs a local command unchanged), or the Docker Engine when one is
 * configured. argv is entryPoint + command as Docker builds it, element by element. The
 * environment is exactly the definition's (with overrides, environmentFiles and secrets) plus
 * what every task gets: AWS_ENDPOINT_URL, AWS_REGION, its own credentials and
 * ECS_CONTAINER_METADATA_URI_V4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ids.h"
#include "objects/direct.h"
#include "tasks/cli_shim.h"
#include "tasks/tasks_internal.h"

/* The alias for image, or NULL. */
static json_t *alias_of(sl_tasks *t, const char *image) {
    return t->aliases ? json_object_get(t->aliases, image) : NULL;
}

static bool local_driver(const char *image) {
    return !strcmp(image, "host") || !strcmp(image, "sandbox") || sl_str_has_prefix(image, "oci:");
}

bool ecs_image_runnable(sl_tasks *t, const char *image, char *reason, size_t n) {
    if (!image || !*image) {
        snprintf(reason, n, "CannotPullContainerError: the container has no image");
        return false;
    }
    json_t *alias = alias_of(t, image);
    const char *target = alias ? json_string_value(json_object_get(alias, "image")) : image;
    if (!target) target = "host";
    if (local_driver(target)) return true;
    if (t->cfg->docker_socket) return true;
    snprintf(reason, n,
             "CannotPullContainerError: Sluice cannot run image '%s' here: no Docker Engine is "
             "configured (docker_socket) and no image alias maps it to a local driver "
             "(image_aliases; see docs/tasks.md)",
             image);
    return false;
}

static void strv_push(char ***v, size_t *n, size_t *cap, const char *s) {
    if (*n + 2 > *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = sl_xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = sl_xstrdup(s);
    (*v)[*n] = NULL;
}

static void strv_free(char **v) {
    if (!v) return;
    for (char **p = v; *p; p++) free(*p);
    free(v);
}

void ecs_launch_free(ecs_launch *l) {
    free(l->image);
    strv_free(l->argv);
    strv_free(l->envp);
    memset(l, 0, sizeof *l);
}

/* name=value pairs, later ones replacing earlier ones of the same name. */
typedef struct {
    json_t *vars; /* object name -> value, insertion-ordered by jansson */
} env_builder;

static void env_set(env_builder *b, const char *name, const char *value) {
    if (name && *name && value) json_object_set_new(b->vars, name, json_string(value));
}

static void env_pairs(env_builder *b, json_t *arr) {
    size_t i;
    json_t *kv;
    json_array_foreach(arr, i, kv) {
        env_set(b, json_string_value(json_object_get(kv, "name")),
                json_string_value(json_object_get(kv, "value")));
    }
}

/* environmentFiles: {"value": "arn:aws:s3:::bucket/key.env", "type": "s3"}, read from the
 * object store: KEY=VALUE lines, '#' comments and blank lines skipped. */
static bool env_files(sl_tasks *t, env_builder *b, json_t *files, char *reason, size_t n) {
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *v = json_string_value(json_object_get(f, "value"));
        if (!v || !sl_str_has_prefix(v, "arn:aws:s3:::")) {
            snprintf(reason, n,
                     "ResourceInitializationError: environmentFiles value must be an "
                     "S3 object ARN");
            return false;
        }
        const char *path = v + 13;
        const char *slash = strchr(path, '/');
        if (!slash || !t->objects) {
            snprintf(reason, n, "ResourceInitializationError: cannot read %s", v);
            return false;
        }
        char bucket[256];
        snprintf(bucket, sizeof bucket, "%.*s", (int)(slash - path), path);
        sl_object_info info = {0};
        sl_objects_error oe;
        if (sl_objects_get(t->objects, bucket, slash + 1, strlen(slash + 1), 1 << 20, &info, &oe) !=
            0) {
            snprintf(reason, n, "ResourceInitializationError: cannot read %s: %s", v, oe.code);
            return false;
        }
        char *text = sl_xstrndup(info.body, (size_t)info.size);
        sl_object_info_free(&info);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            size_t len = strlen(line);
            if (len && line[len - 1] == '\r') line[--len] = 0;
            if (!len || line[0] == '#') continue;
            char *eq = strchr(line, '=');
            if (!eq) continue;
            *eq = 0;
            env_set(b, line, eq + 1);
        }
        free(text);
    }
    return true;
}

/* secrets: {"name", "valueFrom"}. Sluice's secret store is the daemon's environment: a
 * valueFrom names a variable SLUICE_SECRET_<last part of the ARN or name>. */
static bool env_secrets(env_builder *b, json_t *secrets, char *reason, size_t n) {
    size_t i;
    json_t *sct;
    json_array_foreach(secrets, i, sct) {
        const char *name = json_string_value(json_object_get(sct, "name"));
        const char *from = json_string_value(json_object_get(sct, "valueFrom"));
        if (!name || !from) continue;
        const char *last = strrchr(from, ':');
        const char *slash = strrchr(from, '/');
        if (slash && (!last || slash > last)) last = slash;
        last = last ? last + 1 : from;
        char var[300];
        snprintf(var, sizeof var, "SLUICE_SECRET_%s", last);
        for (char *p = var; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                *p = '_';
        const char *value = getenv(var);
        if (!value) {
            snprintf(reason, n,
                     "ResourceInitializationError: unable to pull secrets: %s is not set for the "
                     "daemon (secret %s)",
                     var, from);
            return false;
        }
        env_set(b, name, value);
    }
    return true;
}

static json_t *override_for(ecs_container *c) {
    json_t *co = json_object_get(c->task->overrides, "containerOverrides");
    size_t i;
    json_t *o;
    json_array_foreach(co, i, o) {
        const char *n = json_string_value(json_object_get(o, "name"));
        if (n && !strcmp(n, c->name)) return o;
    }
    return NULL;
}

/* The `aws` wrapper's directory (cli_shim.h), written on first use. */
static const char *cli_shims(sl_tasks *t) {
    static char dir[1100];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    if (!dir[0] && !sl_cli_shim_install(t->data_dir, dir, sizeof dir)) dir[0] = 0;
    pthread_mutex_unlock(&mu);
    return dir[0] ? dir : NULL;
}

bool ecs_launch_prepare(sl_tasks *t, ecs_container *c, ecs_launch *l) {
    memset(l, 0, sizeof *l);
    json_t *def = c->def;
    json_t *ov = override_for(c);
    json_t *alias = alias_of(t, c->image);
    const char *image = alias ? json_string_value(json_object_get(alias, "image")) : NULL;
    if (!image) image = c->image;
    if (!ecs_image_runnable(t, c->image, l->reason, sizeof l->reason)) return false;
    l->image = sl_xstrdup(image);

    /* argv: entryPoint + command (the override's command replaces the definition's) */
    json_t *entry = json_object_get(def, "entryPoint");
    json_t *command = ov && json_object_get(ov, "command") ? json_object_get(ov, "command")
                                                           : json_object_get(def, "command");
    if (!json_array_size(entry) && alias) entry = json_object_get(alias, "entryPoint");
    if (!json_array_size(command) && alias) command = json_object_get(alias, "command");
    size_t n = 0, cap = 0;
    size_t i;
    json_t *a;
    json_array_foreach(entry, i, a) {
        if (json_is_string(a)) strv_push(&l->argv, &n, &cap, json_string_value(a));
    }
    json_array_foreach(command, i, a) {
        if (json_is_string(a)) strv_push(&l->argv, &n, &cap, json_string_value(a));
    }
    if (!n) {
        snprintf(l->reason, sizeof l->reason,
                 "CannotStartContainerError: the container '%s' has no command or entryPoint "
                 "(and its image alias gives none)",
                 c->name);
        return false;
    }

    env_builder b = {json_object()};
    char path[1400];
    const char *shims = cli_shims(t);
    snprintf(path, sizeof path, "%s%s/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             shims ? shims : "", shims ? ":" : "");
    env_set(&b, "PATH", path);
    env_set(&b, "HOME", c->task->workdir);
    if (alias) env_pairs(&b, json_object_get(alias, "environment"));
    if (!env_files(t, &b, json_object_get(def, "environmentFiles"), l->reason, sizeof l->reason) ||
        (ov &&
         !env_files(t, &b, json_object_get(ov, "environmentFiles"), l->reason, sizeof l->reason)) ||
        !env_secrets(&b, json_object_get(def, "secrets"), l->reason, sizeof l->reason)) {
        json_decref(b.vars);
        return false;
    }
    env_pairs(&b, json_object_get(def, "environment"));
    if (ov) env_pairs(&b, json_object_get(ov, "environment"));
    /* what every task gets, as on ECS */
    pthread_mutex_lock(&t->mu);
    char *endpoint = sl_xstrdup(t->endpoint);
    pthread_mutex_unlock(&t->mu);
    char meta[768];
    snprintf(meta, sizeof meta, "%s/_sluice/ecs/v4/%s/%s", endpoint, c->task->id, c->name);
    env_set(&b, "AWS_ENDPOINT_URL", endpoint);
    env_set(&b, "AWS_REGION", t->cfg->region);
    env_set(&b, "AWS_DEFAULT_REGION", t->cfg->region);
    env_set(&b, "AWS_ACCESS_KEY_ID", c->task->access_key);
    env_set(&b, "AWS_SECRET_ACCESS_KEY", c->task->secret);
    env_set(&b, "ECS_CONTAINER_METADATA_URI_V4", meta);
    env_set(&b, "ECS_CONTAINER_METADATA_URI", meta);
    char execenv[64];
    snprintf(execenv, sizeof execenv, "AWS_ECS_%s", c->task->launch_type);
    env_set(&b, "AWS_EXECUTION_ENV", execenv);
    free(endpoint);
    n = cap = 0;
    const char *k;
    json_t *v;
    json_object_foreach(b.vars, k, v) {
        char *kv = NULL;
        if (asprintf(&kv, "%s=%s", k, json_string_value(v)) < 0) continue;
        strv_push(&l->envp, &n, &cap, kv);
        free(kv);
    }
    json_decref(b.vars);
    return true;
}
