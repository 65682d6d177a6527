/* main: the `sluice` command. `sluice serve` runs the daemon: it loads the configuration,
 * opens the store, registers every service with the router and serves until SIGTERM/SIGINT.
 * Owns process start-up and shutdown order; no service logic lives here. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "auth/credentials.h"
#include "core/config.h"
#include "core/context.h"
#include "core/http.h"
#include "core/log.h"
#include "core/router.h"
#include "events/dead_letters.h"
#include "events/events.h"
#include "iam/iam.h"
#include "logs/logs.h"
#include "objects/objects.h"
#include "sns/sns.h"
#include "states/states.h"
#include "store/store.h"
#include "tasks/tasks.h"
#include "trail/trail.h"

#define SLUICE_VERSION "0.1.0"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: sluice <command> [options]\n"
        "\n"
        "commands:\n"
        "  serve          run the daemon\n"
        "  agent          run a cluster's EXTERNAL tasks on this machine for a daemon elsewhere:\n"
        "                 agent --endpoint URL --cluster NAME [--data DIR] [--name NAME]\n"
        "  dead-letters   list, redrive or purge event deliveries that exhausted their retries:\n"
        "                 dead-letters list|redrive|purge [--data DIR] [--all | ID...]\n"
        "  version        print the version\n"
        "\n"
        "serve options:\n"
        "  --data DIR           data directory (default ./sluice-data)\n"
        "  --listen HOST:PORT   listen address (default 127.0.0.1:4566; port 0 picks one)\n"
        "  --config FILE        JSON config file (keys: data, listen, access_key_id,\n"
        "                       secret_access_key, region, account_id, log_level, threads,\n"
        "                       inline_max, image_aliases, docker_socket, smtp_url,\n"
        "                       smtp_from)\n"
        "  --port-file FILE     write the bound port to FILE once healthy\n"
        "\n"
        "environment: SLUICE_ACCESS_KEY_ID, SLUICE_SECRET_ACCESS_KEY, SLUICE_REGION,\n"
        "             SLUICE_ACCOUNT_ID, SLUICE_LOG_LEVEL, SLUICE_SMTP_URL, SLUICE_SMTP_FROM\n");
}

/* Every service, created in dependency order and stopped in the reverse: the event dispatcher
 * starts executions and tasks, executions run tasks and read objects, tasks write logs. */
typedef struct {
    sl_objects *objects;
    sl_events *events;
    sl_trails *trails;
    sl_logs *logs;
    sl_tasks *tasks;
    sl_states *states;
    sl_iam *iam;
    sl_sns *sns;
} services;

static void services_stop(services *sv) {
    if (sv->iam) sl_iam_free(sv->iam);
    if (sv->trails) sl_trails_free(sv->trails);
    /* targets call into states and tasks, and tasks ask events which events are wanted: the
     * dispatcher stops first, the bus itself goes after them */
    if (sv->events) sl_events_stop_dispatch(sv->events);
    if (sv->states) sl_states_free(sv->states);
    if (sv->sns) sl_sns_free(sv->sns);
    if (sv->tasks) sl_tasks_free(sv->tasks);
    if (sv->events) sl_events_free(sv->events);
    if (sv->logs) sl_logs_free(sv->logs);
    if (sv->objects) sl_objects_free(sv->objects);
    memset(sv, 0, sizeof *sv);
}

static int services_start(services *sv, const sl_context *ctx, sl_router *router, char *err,
                          size_t errlen) {
    if (!(sv->objects = sl_objects_new(ctx, err, errlen))) return -1;
    sl_objects_register(sv->objects, router);
    if (!(sv->events = sl_events_new(ctx, err, errlen))) return -1;
    sl_events_register(sv->events, router);
    sv->trails = sl_trails_new(ctx);
    sl_trails_register(sv->trails, router);
    if (!(sv->logs = sl_logs_new(ctx, err, errlen))) return -1;
    sl_logs_register(sv->logs, router);
    if (!(sv->tasks = sl_tasks_new(ctx, err, errlen))) return -1;
    sl_tasks_register(sv->tasks, router);
    sl_tasks_set_logs(sv->tasks, sv->logs);
    sl_tasks_set_objects(sv->tasks, sv->objects);
    if (!(sv->states = sl_states_new(ctx, err, errlen))) return -1;
    sl_states_register(sv->states, router);
    sl_states_set_objects(sv->states, sv->objects);
    sl_states_set_tasks(sv->states, sv->tasks);
    sl_events_set_states(sv->events, sv->states);
    sl_events_set_tasks(sv->events, sv->tasks);
    sl_tasks_set_events(sv->tasks, sv->events);
    if (!(sv->iam = sl_iam_new(ctx, err, errlen))) return -1;
    sl_iam_register(sv->iam, router);
    if (!(sv->sns = sl_sns_new(ctx, err, errlen))) return -1;
    sl_sns_register(sv->sns, router);
    sl_objects_set_sns(sv->objects, sv->sns);
    sl_events_set_sns(sv->events, sv->sns);
    sl_states_set_sns(sv->states, sv->sns);
    return 0;
}

static int cmd_serve(int argc, char **argv) {
    sl_config cfg;
    char err[512];
    sl_config_defaults(&cfg);
    const char *config_path = NULL, *listen = NULL, *data = NULL, *port_file = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--config") && v) config_path = v, i++;
        else if (!strcmp(a, "--listen") && v) listen = v, i++;
        else if (!strcmp(a, "--data") && v) data = v, i++;
        else if (!strcmp(a, "--port-file") && v) port_file = v, i++;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), 0;
        else {
            fprintf(stderr, "sluice serve: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (config_path && sl_config_load_file(&cfg, config_path, err, sizeof err) != 0) goto fail;
    sl_config_from_env(&cfg);
    if (listen && sl_config_set_listen(&cfg, listen, err, sizeof err) != 0) goto fail;
    if (data) {
        free(cfg.data_dir);
        cfg.data_dir = strdup(data);
    }
    if (sl_config_validate(&cfg, err, sizeof err) != 0) goto fail;
    sl_log_set_level(cfg.log_level);
    /* glibc gives every thread its own malloc arena; a few shared ones keep idle RSS small. */
    mallopt(M_ARENA_MAX, 2);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    sl_store *store = sl_store_open(cfg.data_dir, err, sizeof err);
    if (!store) goto fail;
    sl_credentials *credentials = sl_credentials_new(cfg.access_key_id, cfg.secret_access_key);
    sl_context ctx = {.cfg = &cfg, .store = store, .credentials = credentials};
    sl_router *router = sl_router_new();
    services sv = {0};
    if (services_start(&sv, &ctx, router, err, sizeof err) != 0) {
        services_stop(&sv);
        sl_store_close(store);
        sl_router_free(router);
        sl_credentials_free(credentials);
        goto fail;
    }

    sl_http_config hc = {.host = cfg.listen_host,
                         .port = cfg.listen_port,
                         .threads = cfg.threads,
                         .begin = sl_router_begin,
                         .begin_ctx = router};
    sl_http_server *http = sl_http_start(&hc, err, sizeof err);
    if (!http) {
        services_stop(&sv);
        sl_store_close(store);
        sl_router_free(router);
        sl_credentials_free(credentials);
        goto fail;
    }
    unsigned port = sl_http_port(http);
    char endpoint[300];
    bool v6 = strchr(cfg.listen_host, ':') != NULL;
    const char *host = !strcmp(cfg.listen_host, "0.0.0.0") ? "127.0.0.1"
                       : !strcmp(cfg.listen_host, "::")    ? "::1"
                                                           : cfg.listen_host;
    snprintf(endpoint, sizeof endpoint, v6 ? "http://[%s]:%u" : "http://%s:%u", host, port);
    sl_tasks_set_endpoint(sv.tasks, endpoint);
    sl_sns_set_endpoint(sv.sns, endpoint);
    sl_info("\"sluice serving\" version=%s listen=%s:%u data=%s region=%s", SLUICE_VERSION,
            cfg.listen_host, port, cfg.data_dir, cfg.region);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%u\n", port);
            fclose(f);
        }
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    sl_info("\"shutting down\" signal=%d", sig);
    /* long polls parked in services must be answered before the HTTP server can stop */
    sl_states_quiesce(sv.states);
    sl_tasks_quiesce(sv.tasks);
    struct timespec settle = {0, 200 * 1000000L}; /* the HTTP threads resume those requests */
    nanosleep(&settle, NULL);
    sl_http_stop(http);
    services_stop(&sv);
    sl_store_close(store);
    sl_router_free(router);
    sl_credentials_free(credentials);
    sl_config_free(&cfg);
    sl_info("\"stopped\"");
    return 0;
fail:
    fprintf(stderr, "sluice: %s\n", err);
    sl_config_free(&cfg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "serve")) return cmd_serve(argc - 2, argv + 2);
    if (!strcmp(argv[1], "agent")) return sl_agent_main(argc - 2, argv + 2, SLUICE_VERSION);
    if (!strcmp(argv[1], "dead-letters")) return sl_dead_letters_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "sluice: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
