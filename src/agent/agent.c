/* agent: the `sluice agent` command — its options, start-up and shutdown order, the
 * registration kept in DIR/instance.json, and the poller thread: PollTasks in a loop, starting
 * the tasks it is given and stopping the ones it is told to stop. What happens to the tasks
 * afterwards travels back through the reporter (report.c). Owns the task table's lifetime;
 * knows nothing of HTTP beyond client.c's four outcomes. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "tasks/cli_shim.h"

#define POLL_TIMEOUT_MS     30000L /* the daemon answers within 20 s */
#define REGISTER_TIMEOUT_MS 15000L
#define BACKOFF_FIRST_MS    1000
#define BACKOFF_MAX_MS      10000
#define DRAIN_MS            10000 /* shutdown: how long to keep trying to report */

static void usage(FILE *out) {
    fprintf(out,
            "usage: sluice agent --endpoint URL --cluster NAME [--data DIR] [--name NAME]\n"
            "\n"
            "Runs the cluster's EXTERNAL tasks on this machine for the daemon at URL\n"
            "(docs/agent-protocol.md).\n"
            "\n"
            "  --endpoint URL   the daemon, as this machine reaches it (http://host:port)\n"
            "  --cluster NAME   the cluster to register with (it must exist)\n"
            "  --data DIR       registration and task work dirs (default ./sluice-agent)\n"
            "  --name NAME      this instance's name (default: the host name)\n"
            "\n"
            "environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (else SLUICE_ACCESS_KEY_ID /\n"
            "             SLUICE_SECRET_ACCESS_KEY, else test/test), AWS_SESSION_TOKEN,\n"
            "             AWS_REGION (default us-east-1), SLUICE_DOCKER_SOCKET,\n"
            "             SLUICE_LOG_LEVEL\n");
}

bool agent_sleep(const atomic_bool *flag, int64_t ms) {
    int64_t end = sl_mono_ms() + ms;
    for (;;) {
        if (flag && atomic_load(flag)) return true;
        int64_t left = end - sl_mono_ms();
        if (left <= 0) return false;
        struct timespec ts = {0, (left < 50 ? left : 50) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- the task table ---- */

void agent_task_ref(agent_task *t) { t->refs++; }

static void task_free(agent_task *t) {
    for (size_t i = 0; i < t->ncontainers; i++) {
        agent_container *c = &t->containers[i];
        for (size_t k = 0; k < c->nlines; k++) free(c->lines[k].text);
        free(c->lines);
        free(c->name);
    }
    free(t->containers);
    free(t->arn);
    free(t->id);
    free(t);
}

void agent_task_unref(sl_agent *a, agent_task *t) {
    pthread_mutex_lock(&a->mu);
    bool last = --t->refs == 0;
    pthread_mutex_unlock(&a->mu);
    if (!last) return;
    /* Unlinked and done: every container has exited, so no callback can still arrive. */
    for (size_t i = 0; i < t->ncontainers; i++)
        if (t->containers[i].handle) sl_container_release(t->containers[i].handle);
    task_free(t);
}

void agent_mark_all_dirty(sl_agent *a) {
    pthread_mutex_lock(&a->mu);
    for (agent_task *t = a->tasks; t; t = t->next) t->dirty = true;
    pthread_cond_signal(&a->report_cv);
    pthread_mutex_unlock(&a->mu);
}

/* Asks every live container of t to stop (SIGTERM, SIGKILL after its stop timeout). */
static void task_stop(sl_agent *a, agent_task *t) {
    pthread_mutex_lock(&a->mu);
    t->stop_wanted = true;
    size_t n = 0;
    sl_container **h = sl_xcalloc(t->ncontainers + 1, sizeof *h);
    for (size_t i = 0; i < t->ncontainers; i++) {
        agent_container *c = &t->containers[i];
        if (c->handle && !c->stop_sent && !strcmp(c->status, "RUNNING")) {
            c->stop_sent = true;
            h[n++] = c->handle;
        }
    }
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < n; i++) sl_container_stop(h[i]);
    free(h);
}

/* ---- options, credentials, what this machine offers ---- */

static char *env_or(const char *a, const char *b, const char *dflt) {
    const char *v = getenv(a);
    if (!v || !*v) v = b ? getenv(b) : NULL;
    if (!v || !*v) v = dflt;
    return v ? sl_xstrdup(v) : NULL;
}

static void credentials_from_env(agent_credentials *c) {
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (ak && *ak && sk && *sk) {
        c->access_key_id = sl_xstrdup(ak);
        c->secret_access_key = sl_xstrdup(sk);
        c->session_token = env_or("AWS_SESSION_TOKEN", NULL, NULL);
    } else {
        c->access_key_id = env_or("SLUICE_ACCESS_KEY_ID", NULL, "test");
        c->secret_access_key = env_or("SLUICE_SECRET_ACCESS_KEY", NULL, "test");
    }
    c->region = env_or("AWS_REGION", "AWS_DEFAULT_REGION", "us-east-1");
}

/* "host,sandbox,..." from the supervisor's report: the drivers that said yes. */
static char *drivers_available(const char *docker_socket) {
    char *report = sl_container_drivers_report(docker_socket);
    sl_buf b;
    sl_buf_init(&b);
    for (char *line = report; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char *colon = strchr(line, ':');
        if (colon && !strncmp(colon, ": yes", 5)) {
            if (b.len) sl_buf_putc(&b, ',');
            sl_buf_append(&b, line, (size_t)(colon - line));
        }
        line = nl ? nl + 1 : NULL;
    }
    free(report);
    if (!b.len) sl_buf_puts(&b, "host");
    return sl_buf_steal(&b);
}

static int mkdirs(const char *path) {
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- DIR/instance.json ---- */

static char *instance_load(sl_agent *a) {
    char path[2048];
    snprintf(path, sizeof path, "%s/instance.json", a->data_dir);
    json_t *doc = json_load_file(path, 0, NULL);
    const char *arn = json_string_value(json_object_get(doc, "containerInstanceArn"));
    const char *cluster = json_string_value(json_object_get(doc, "cluster"));
    char *out = arn && cluster && !strcmp(cluster, a->cluster) ? sl_xstrdup(arn) : NULL;
    if (arn && !out)
        sl_info("\"registration on file is for another cluster: registering anew\" file=%s "
                "cluster=%s",
                path, cluster ? cluster : "-");
    json_decref(doc);
    return out;
}

static void instance_save(sl_agent *a, const char *arn) {
    char path[2048], tmp[2100];
    snprintf(path, sizeof path, "%s/instance.json", a->data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "containerInstanceArn", arn, "cluster",
                            a->cluster, "endpoint", a->endpoint, "name", a->name);
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    if (ok) {
        size_t len = strlen(text);
        ok = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
    }
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok)
        sl_warn("\"cannot save the registration\" file=%s error=\"%s\"", path, strerror(errno));
    free(text);
}

/* ---- registration ---- */

static json_t *register_request(sl_agent *a, const char *arn) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    json_int_t mib =
        pages > 0 && page > 0 ? (json_int_t)((double)pages * (double)page / 1048576.0) : 0;
    char *drivers = drivers_available(a->docker_socket);
    char version[128];
    snprintf(version, sizeof version, "sluice-%s", a->version);
    json_t *req = json_pack(
        "{s:s, s:[{s:s, s:s, s:I}, {s:s, s:s, s:I}], s:{s:s}, s:[{s:s, s:s}, {s:s, s:s}]}",
        "cluster", a->cluster, "totalResources", "name", "CPU", "type", "INTEGER", "integerValue",
        (json_int_t)(1024 * (cores > 0 ? cores : 1)), "name", "MEMORY", "type", "INTEGER",
        "integerValue", mib, "versionInfo", "agentVersion", version, "attributes", "name",
        "sluice.drivers", "value", drivers, "name", "sluice.hostname", "value", a->name);
    if (arn) json_object_set_new(req, "containerInstanceArn", json_string(arn));
    free(drivers);
    return req;
}

/* Registers (with the ARN on file, if any). AGENT_CALL_OK once a->instance_arn is set. */
static agent_call_status agent_register(sl_agent *a, char **known_arn, agent_reply *r) {
    json_t *req = register_request(a, *known_arn);
    agent_call_status st =
        agent_call(a->poll_client, "AmazonEC2ContainerServiceV20141113.RegisterContainerInstance",
                   req, REGISTER_TIMEOUT_MS, r);
    json_decref(req);
    if (st == AGENT_CALL_REFUSED && *known_arn && strcmp(r->type, "ClusterNotFoundException")) {
        sl_warn("\"registration on file refused: registering anew\" instance=%s error=%s "
                "message=\"%s\"",
                *known_arn, r->type, r->message);
        free(*known_arn);
        *known_arn = NULL;
        agent_reply_clear(r);
        return agent_register(a, known_arn, r);
    }
    if (st != AGENT_CALL_OK) return st;
    const char *arn = json_string_value(
        json_object_get(json_object_get(r->body, "containerInstance"), "containerInstanceArn"));
    if (!arn) {
        snprintf(r->type, sizeof r->type, "InvalidAnswer");
        snprintf(r->message, sizeof r->message, "the answer names no containerInstanceArn");
        return AGENT_CALL_REFUSED;
    }
    if (!*known_arn || strcmp(*known_arn, arn)) {
        instance_save(a, arn);
        free(*known_arn);
        *known_arn = sl_xstrdup(arn);
    }
    pthread_mutex_lock(&a->mu);
    snprintf(a->instance_arn, sizeof a->instance_arn, "%s", arn);
    pthread_mutex_unlock(&a->mu);
    return AGENT_CALL_OK;
}

/* ---- starting a task ---- */

/* A NULL-terminated copy of a JSON array of strings. */
static char **strv_from_json(json_t *arr) {
    size_t n = json_array_size(arr);
    char **v = sl_xcalloc(n + 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s) v[k++] = sl_xstrdup(s);
    }
    return v;
}

static void strv_free(char **v) {
    for (char **p = v; p && *p; p++) free(*p);
    free(v);
}

/* The daemon names its own machine's paths in PATH (its `aws` wrapper first) and HOME: here
 * they are this agent's wrapper and the container's work directory. */
static void rewrite_local_paths(sl_agent *a, char **envp, const char *workdir) {
    static char shims[1100];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    if (!shims[0] && !sl_cli_shim_install(a->data_dir, shims, sizeof shims)) shims[0] = 0;
    pthread_mutex_unlock(&mu);
    for (char **e = envp; *e; e++) {
        sl_buf b;
        if (!strncmp(*e, "HOME=", 5)) {
            sl_buf_init(&b);
            sl_buf_printf(&b, "HOME=%s", workdir);
        } else if (!strncmp(*e, "PATH=", 5) && shims[0]) {
            /* the first entry is the daemon's wrapper directory (<data>/bin) */
            const char *first = *e + 5, *colon = strchr(first, ':');
            size_t flen = colon ? (size_t)(colon - first) : strlen(first);
            if (flen < 4 || strncmp(first + flen - 4, "/bin", 4) != 0 ||
                !strncmp(first, "/usr/", 5) || !strncmp(first, "/bin", 4) ||
                !strncmp(first, "/sbin", 5))
                continue;
            sl_buf_init(&b);
            sl_buf_printf(&b, "PATH=%s%s", shims, colon ? colon : "");
        } else {
            continue;
        }
        free(*e);
        *e = sl_buf_steal(&b);
    }
}

/* The daemon's URL in AWS_ENDPOINT_URL and ECS_CONTAINER_METADATA_URI* is the one it knows
 * itself by; the task must reach it the way this agent does. Replaces scheme://authority. */
static void rewrite_endpoints(sl_agent *a, char **envp) {
    size_t base = strlen(a->endpoint);
    while (base && a->endpoint[base - 1] == '/') base--;
    for (char **e = envp; *e; e++) {
        char *eq = strchr(*e, '=');
        if (!eq) continue;
        size_t klen = (size_t)(eq - *e);
        bool endpoint_var = (klen == 16 && !strncmp(*e, "AWS_ENDPOINT_URL", 16)) ||
                            (klen >= 26 && !strncmp(*e, "ECS_CONTAINER_METADATA_URI", 26));
        if (!endpoint_var) continue;
        const char *value = eq + 1, *scheme = strstr(value, "://");
        if (!scheme) continue;
        const char *rest = strchr(scheme + 3, '/');
        if (!rest) rest = "";
        sl_buf b;
        sl_buf_init(&b);
        sl_buf_append(&b, *e, klen + 1);
        sl_buf_append(&b, a->endpoint, base);
        sl_buf_puts(&b, rest);
        free(*e);
        *e = sl_buf_steal(&b);
    }
}

static int json_int_or(json_t *o, const char *key, int dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

/* Starts container i of t. False when it could not start (recorded as STOPPED). */
static bool container_start(sl_agent *a, agent_task *t, size_t i, json_t *def) {
    agent_container *c = &t->containers[i];
    const char *image = json_string_value(json_object_get(def, "image"));
    char **argv = strv_from_json(json_object_get(def, "argv"));
    char **envp = strv_from_json(json_object_get(def, "env"));
    rewrite_endpoints(a, envp);
    char dir[2048], name[600], err[512] = "";
    snprintf(dir, sizeof dir, "%s/tasks/%s/%s", a->data_dir, t->id, c->name);
    rewrite_local_paths(a, envp, dir);
    snprintf(name, sizeof name, "%s/%s", t->id, c->name);
    bool ok = true;
    if (!image || !*image) {
        snprintf(err, sizeof err, "the container has no image");
        ok = false;
    } else if (!argv[0] && (!strcmp(image, "host") || !strcmp(image, "sandbox"))) {
        snprintf(err, sizeof err, "the container has no command");
        ok = false;
    } else if (mkdirs(dir) != 0) {
        snprintf(err, sizeof err, "cannot create the work directory %.300s: %.100s", dir,
                 strerror(errno));
        ok = false;
    }
    sl_container *h = NULL;
    if (ok) {
        sl_container_spec spec = {
            .image = image,
            .argv = argv,
            .envp = envp,
            .workdir = dir,
            .cpu_units = json_int_or(def, "cpuUnits", 0),
            .memory_mib = json_int_or(def, "memoryMiB", 0),
            .memory_reservation_mib = json_int_or(def, "memoryReservationMiB", 0),
            .stop_timeout_s = c->stop_timeout_s,
            .no_network = json_is_true(json_object_get(def, "noNetwork")),
            .docker_socket = a->docker_socket,
            .name = name,
            .on_line = agent_on_line,
            .on_exit = agent_on_exit,
            .ctx = c,
        };
        /* RUNNING before the start: its exit may be reported before sl_container_start
         * returns, and must not be overwritten. */
        pthread_mutex_lock(&a->mu);
        c->status = "RUNNING";
        t->live++;
        pthread_mutex_unlock(&a->mu);
        ok = sl_container_start(a->sup, &spec, &h, err, sizeof err) == 0;
    }
    pthread_mutex_lock(&a->mu);
    if (ok) {
        c->handle = h;
        c->pid = sl_container_pid(h);
    } else {
        if (!strcmp(c->status, "RUNNING") && t->live) t->live--;
        c->status = "STOPPED";
        snprintf(c->reason, sizeof c->reason, "CannotStartContainerError: %s", err);
    }
    t->dirty = true;
    pthread_cond_signal(&a->report_cv);
    pthread_mutex_unlock(&a->mu);
    if (!ok)
        sl_warn("\"container could not start\" task=%s container=%s reason=\"%s\"", t->id, c->name,
                err);
    strv_free(argv);
    strv_free(envp);
    return ok;
}

static agent_task *task_find_locked(sl_agent *a, const char *arn) {
    for (agent_task *t = a->tasks; t; t = t->next)
        if (!strcmp(t->arn, arn)) return t;
    return NULL;
}

/* Starts one entry of PollTasks' "start". A container that cannot start stops the rest from
 * starting, as the daemon's own runner does; the reporter then sends the final state. */
static void task_start(sl_agent *a, json_t *entry) {
    const char *arn = json_string_value(json_object_get(entry, "taskArn"));
    json_t *defs = json_object_get(entry, "containers");
    if (!arn || !json_is_array(defs)) {
        sl_warn("\"malformed start entry ignored\" entry_has_arn=%s", arn ? "yes" : "no");
        return;
    }
    pthread_mutex_lock(&a->mu);
    bool known = task_find_locked(a, arn) != NULL;
    pthread_mutex_unlock(&a->mu);
    if (known) {
        sl_debug("\"task already running\" task=%s", arn);
        return;
    }
    const char *id = json_string_value(json_object_get(entry, "taskId"));
    const char *slash = strrchr(arn, '/');
    agent_task *t = sl_xcalloc(1, sizeof *t);
    t->arn = sl_xstrdup(arn);
    t->id = sl_xstrdup(id && *id && !strchr(id, '/') ? id : slash ? slash + 1 : arn);
    if (!strcmp(t->id, ".") || !strcmp(t->id, "..")) {
        free(t->id);
        t->id = sl_xstrdup("task");
    }
    t->ncontainers = json_array_size(defs);
    t->containers = sl_xcalloc(t->ncontainers ? t->ncontainers : 1, sizeof *t->containers);
    for (size_t i = 0; i < t->ncontainers; i++) {
        json_t *d = json_array_get(defs, i);
        agent_container *c = &t->containers[i];
        const char *name = json_string_value(json_object_get(d, "name"));
        char fallback[32];
        snprintf(fallback, sizeof fallback, "container-%zu", i);
        c->name =
            sl_xstrdup(name && *name && !strchr(name, '/') && strcmp(name, "..") ? name : fallback);
        c->task = t;
        c->agent = a;
        c->status = "PENDING";
        json_t *ess = json_object_get(d, "essential");
        c->essential = !json_is_false(ess);
        c->stop_timeout_s = json_int_or(d, "stopTimeoutSeconds", 30);
        if (c->stop_timeout_s < 0) c->stop_timeout_s = 30;
    }
    t->refs = 2; /* the table's, and ours until the containers are started */
    t->dirty = true;
    pthread_mutex_lock(&a->mu);
    t->next = a->tasks;
    a->tasks = t;
    pthread_mutex_unlock(&a->mu);
    sl_info("\"task starting\" task=%s containers=%zu", t->id, t->ncontainers);
    bool failed = false;
    for (size_t i = 0; i < t->ncontainers && !failed; i++)
        failed = !container_start(a, t, i, json_array_get(defs, i));
    if (failed) {
        pthread_mutex_lock(&a->mu);
        for (size_t i = 0; i < t->ncontainers; i++)
            if (!strcmp(t->containers[i].status, "PENDING")) t->containers[i].status = "STOPPED";
        pthread_mutex_unlock(&a->mu);
        task_stop(a, t);
    }
    pthread_mutex_lock(&a->mu);
    bool stop = t->stop_wanted;
    pthread_cond_signal(&a->report_cv);
    pthread_mutex_unlock(&a->mu);
    if (stop) task_stop(a, t); /* an essential container already exited */
    agent_task_unref(a, t);
}

/* ---- the poller ---- */

/* The ARNs of the tasks with a container still running. */
static json_t *running_tasks(sl_agent *a) {
    json_t *out = json_array();
    pthread_mutex_lock(&a->mu);
    for (agent_task *t = a->tasks; t; t = t->next)
        if (t->live) json_array_append_new(out, json_string(t->arn));
    pthread_mutex_unlock(&a->mu);
    return out;
}

static void handle_work(sl_agent *a, json_t *answer) {
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(answer, "stop"), i, v) {
        const char *arn = json_string_value(v);
        if (!arn) continue;
        pthread_mutex_lock(&a->mu);
        agent_task *t = task_find_locked(a, arn);
        if (t) agent_task_ref(t);
        pthread_mutex_unlock(&a->mu);
        if (!t) continue;
        sl_info("\"stopping task\" task=%s", t->id);
        task_stop(a, t);
        agent_task_unref(a, t);
    }
    json_array_foreach(json_object_get(answer, "start"), i, v) {
        if (atomic_load(&a->stopping)) break;
        task_start(a, v);
    }
}

static bool instance_unknown(const agent_reply *r) {
    return !strcmp(r->type, "ClientException") || !strcmp(r->type, "InvalidParameterException");
}

static void *poller_main(void *arg) {
    sl_agent *a = arg;
    char *known = instance_load(a);
    bool registered = false, down = false;
    int64_t backoff = BACKOFF_FIRST_MS;
    while (!atomic_load(&a->stopping)) {
        agent_reply r;
        agent_call_status st;
        if (!registered) {
            st = agent_register(a, &known, &r);
            if (st == AGENT_CALL_OK) {
                sl_info("\"registered\" instance=%s cluster=%s endpoint=%s", a->instance_arn,
                        a->cluster, a->endpoint);
                registered = true;
                down = false;
                backoff = BACKOFF_FIRST_MS;
                agent_mark_all_dirty(a); /* whatever the daemon lost, it hears again */
                agent_reply_clear(&r);
                continue;
            }
        } else {
            json_t *req =
                json_pack("{s:s, s:s, s:o}", "cluster", a->cluster, "containerInstanceArn",
                          a->instance_arn, "running", running_tasks(a));
            st = agent_call(a->poll_client, "SluiceAgentV1.PollTasks", req, POLL_TIMEOUT_MS, &r);
            json_decref(req);
            if (st == AGENT_CALL_OK) {
                if (down) {
                    sl_info("\"daemon reachable again\" endpoint=%s", a->endpoint);
                    agent_mark_all_dirty(a);
                }
                down = false;
                backoff = BACKOFF_FIRST_MS;
                handle_work(a, r.body);
                agent_reply_clear(&r);
                continue;
            }
            if (st == AGENT_CALL_REFUSED && instance_unknown(&r)) {
                sl_warn("\"the daemon does not know this instance: registering again\" "
                        "instance=%s message=\"%s\"",
                        a->instance_arn, r.message);
                registered = false;
                agent_reply_clear(&r);
                continue;
            }
        }
        if (st == AGENT_CALL_ABORTED) {
            agent_reply_clear(&r);
            break;
        }
        if (st == AGENT_CALL_UNREACHABLE) {
            if (!down)
                sl_warn("\"daemon unreachable: retrying; tasks keep running\" endpoint=%s "
                        "error=\"%s\"",
                        a->endpoint, r.message);
            down = true;
        } else {
            sl_warn("\"the daemon refused the %s\" error=%s message=\"%s\"",
                    registered ? "poll" : "registration", r.type, r.message);
        }
        agent_reply_clear(&r);
        agent_sleep(&a->stopping, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    free(known);
    return NULL;
}

/* ---- start-up and shutdown ---- */

static int parse_options(sl_agent *a, int argc, char **argv) {
    for (int i = 0; i < argc; i += 2) { /* options come in pairs: --name value */
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char **dst = !strcmp(o, "--endpoint")  ? &a->endpoint
                     : !strcmp(o, "--cluster") ? &a->cluster
                     : !strcmp(o, "--data")    ? &a->data_dir
                     : !strcmp(o, "--name")    ? &a->name
                                               : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) return usage(stdout), 0;
        if (!dst || !v || !*v) {
            fprintf(stderr, "sluice agent: unknown or incomplete option '%s'\n", o);
            usage(stderr);
            return 2;
        }
        free(*dst);
        *dst = sl_xstrdup(v);
    }
    if (!a->endpoint || !a->cluster) {
        fprintf(stderr, "sluice agent: --endpoint and --cluster are required\n");
        usage(stderr);
        return 2;
    }
    if (!a->data_dir) a->data_dir = sl_xstrdup("./sluice-agent");
    if (!a->name) {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        a->name = sl_xstrdup(host[0] ? host : "agent");
    }
    return -1;
}

static void agent_free(sl_agent *a) {
    for (agent_task *t = a->tasks, *nx; t; t = nx) {
        nx = t->next;
        task_free(t);
    }
    agent_client_free(a->poll_client);
    agent_client_free(a->report_client);
    free(a->endpoint);
    free(a->cluster);
    free(a->data_dir);
    free(a->name);
    free(a->version);
    free(a->docker_socket);
    free(a->creds.access_key_id);
    free(a->creds.secret_access_key);
    free(a->creds.session_token);
    free(a->creds.region);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->report_cv);
    pthread_cond_destroy(&a->exit_cv);
}

/* Stops every container, waits for their exits (the longest stop timeout and a margin),
 * then lets the reporter deliver what is left for up to DRAIN_MS. */
static void shutdown_tasks(sl_agent *a) {
    int longest = 0;
    pthread_mutex_lock(&a->mu);
    size_t n = 0;
    for (agent_task *t = a->tasks; t; t = t->next) n++;
    agent_task **all = sl_xcalloc(n + 1, sizeof *all);
    n = 0;
    for (agent_task *t = a->tasks; t; t = t->next) {
        agent_task_ref(t);
        all[n++] = t;
        for (size_t i = 0; i < t->ncontainers; i++)
            if (t->containers[i].stop_timeout_s > longest)
                longest = t->containers[i].stop_timeout_s;
    }
    pthread_mutex_unlock(&a->mu);
    if (n) sl_info("\"stopping tasks\" tasks=%zu", n);
    for (size_t i = 0; i < n; i++) task_stop(a, all[i]);
    int64_t deadline = sl_mono_ms() + (int64_t)longest * 1000 + 5000;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        bool live = false;
        for (agent_task *t = a->tasks; t; t = t->next) live = live || t->live;
        if (!live || sl_mono_ms() >= deadline) break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&a->exit_cv, &a->mu, &ts);
    }
    a->reporter_drain = true;
    a->drain_deadline_ms = sl_mono_ms() + DRAIN_MS;
    pthread_cond_signal(&a->report_cv);
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < n; i++) agent_task_unref(a, all[i]);
    free(all);
}

static void log_level_from_env(void) {
    const char *lvl = getenv("SLUICE_LOG_LEVEL");
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; lvl && i < 4; i++)
        if (!strcmp(lvl, names[i])) sl_log_set_level((sl_log_level)i);
}

int sl_agent_main(int argc, char **argv, const char *version) {
    static sl_agent agent;
    sl_agent *a = &agent;
    memset(a, 0, sizeof *a);
    int rc = parse_options(a, argc, argv);
    if (rc >= 0) {
        agent_free(a);
        return rc;
    }
    log_level_from_env();
    a->version = sl_xstrdup(version);
    a->docker_socket = env_or("SLUICE_DOCKER_SOCKET", NULL, NULL);
    credentials_from_env(&a->creds);
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->report_cv, &ca);
    pthread_cond_init(&a->exit_cv, &ca);
    pthread_condattr_destroy(&ca);

    char err[512] = "";
    char tasks_dir[2048];
    snprintf(tasks_dir, sizeof tasks_dir, "%s/tasks", a->data_dir);
    if (mkdirs(tasks_dir) != 0) {
        fprintf(stderr, "sluice agent: cannot create %s: %s\n", tasks_dir, strerror(errno));
        agent_free(a);
        return 1;
    }
    /* Signals are taken by sigtimedwait below: block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!(a->poll_client =
              agent_client_new(a->endpoint, &a->creds, &a->stopping, err, sizeof err)) ||
        !(a->report_client =
              agent_client_new(a->endpoint, &a->creds, &a->reporter_abort, err, sizeof err))) {
        fprintf(stderr, "sluice agent: %s\n", err);
        agent_free(a);
        return 1;
    }
    if (!(a->sup = sl_supervisor_new("sluice-agent", err, sizeof err))) {
        fprintf(stderr, "sluice agent: cannot start the container supervisor: %s\n", err);
        agent_free(a);
        return 1;
    }
    sl_info("\"sluice agent starting\" version=%s endpoint=%s cluster=%s data=%s name=%s",
            a->version, a->endpoint, a->cluster, a->data_dir, a->name);
    pthread_create(&a->reporter, NULL, agent_reporter_main, a);
    pthread_create(&a->poller, NULL, poller_main, a);

    int sig = 0;
    while (!sig) {
        struct timespec wait = {0, 500 * 1000000L};
        int got = sigtimedwait(&sigs, NULL, &wait);
        if (got > 0) sig = got;
    }
    sl_info("\"agent shutting down\" signal=%d", sig);
    atomic_store(&a->stopping, true);
    pthread_join(a->poller, NULL);
    shutdown_tasks(a);
    pthread_join(a->reporter, NULL);
    /* Whatever did not stop in time is killed here; its handle goes first. */
    for (agent_task *t = a->tasks; t; t = t->next)
        for (size_t i = 0; i < t->ncontainers; i++)
            if (t->containers[i].handle) {
                sl_container_release(t->containers[i].handle);
                t->containers[i].handle = NULL;
            }
    sl_supervisor_free(a->sup);
    if (a->tasks) sl_warn("\"some task states were not delivered before exit\"");
    agent_free(a);
    sl_info("\"agent stopped\"");
    return 0;
}
