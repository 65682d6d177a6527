/* main: the `sluice` command. `sluice serve` runs the daemon: it loads the configuration,
 * opens the store, registers every service with the router and serves until SIGTERM/SIGINT.
 * Owns process start-up and shutdown order; no service logic lives here. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/credentials.h"
#include "core/config.h"
#include "core/context.h"
#include "core/http.h"
#include "core/log.h"
#include "core/router.h"
#include "events/dead_letters.h"
#include "events/events.h"
#include "objects/objects.h"
#include "states/states.h"
#include "store/store.h"
#include "trail/trail.h"

#define SLUICE_VERSION "0.1.0"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: sluice <command> [options]\n"
        "\n"
        "commands:\n"
        "  serve          run the daemon\n"
        "  dead-letters   list, redrive or purge event deliveries that exhausted their retries:\n"
        "                 dead-letters list|redrive|purge [--data DIR] [--all | ID...]\n"
        "  version        print the version\n"
        "\n"
        "serve options:\n"
        "  --data DIR           data directory (default ./sluice-data)\n"
        "  --listen HOST:PORT   listen address (default 127.0.0.1:4566; port 0 picks one)\n"
        "  --config FILE        JSON config file (keys: data, listen, access_key_id,\n"
        "                       secret_access_key, region, account_id, log_level, threads,\n"
        "                       inline_max)\n"
        "  --port-file FILE     write the bound port to FILE once healthy\n"
        "\n"
        "environment: SLUICE_ACCESS_KEY_ID, SLUICE_SECRET_ACCESS_KEY, SLUICE_REGION,\n"
        "             SLUICE_ACCOUNT_ID, SLUICE_LOG_LEVEL\n");
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
    sl_objects *objects = sl_objects_new(&ctx, err, sizeof err);
    if (!objects) {
        sl_store_close(store);
        sl_router_free(router);
        sl_credentials_free(credentials);
        goto fail;
    }
    sl_objects_register(objects, router);
    sl_events *events = sl_events_new(&ctx, err, sizeof err);
    if (!events) {
        sl_objects_free(objects);
        sl_store_close(store);
        sl_router_free(router);
        sl_credentials_free(credentials);
        goto fail;
    }
    sl_events_register(events, router);
    sl_trails *trails = sl_trails_new(&ctx);
    sl_trails_register(trails, router);
    sl_states *states = sl_states_new(&ctx, err, sizeof err);
    if (!states) {
        sl_trails_free(trails);
        sl_events_free(events);
        sl_objects_free(objects);
        sl_store_close(store);
        sl_router_free(router);
        sl_credentials_free(credentials);
        goto fail;
    }
    sl_states_register(states, router);
    sl_states_set_objects(states, objects);
    sl_events_set_states(events, states);

    sl_http_config hc = {.host = cfg.listen_host,
                         .port = cfg.listen_port,
                         .threads = cfg.threads,
                         .begin = sl_router_begin,
                         .begin_ctx = router};
    sl_http_server *http = sl_http_start(&hc, err, sizeof err);
    if (!http) {
        sl_states_free(states);
        sl_trails_free(trails);
        sl_events_free(events);
        sl_objects_free(objects);
        sl_store_close(store);
        sl_router_free(router);
        sl_credentials_free(credentials);
        goto fail;
    }
    unsigned port = sl_http_port(http);
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
    sl_http_stop(http);
    sl_trails_free(trails);
    sl_events_free(events); /* its dispatcher starts executions: stop it first */
    sl_states_free(states);
    sl_objects_free(objects);
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
