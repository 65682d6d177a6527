/* config: daemon settings from defaults, an optional JSON config file, the environment and
 * the command line (later wins). Validates the listen address against the credentials rule:
 * built-in default credentials are allowed only on a loopback listener. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define SL_DEFAULT_PORT       4566
#define SL_DEFAULT_ACCESS_KEY "test"
#define SL_DEFAULT_SECRET_KEY "test"

typedef struct {
    char *data_dir;
    char *listen_host;
    uint16_t listen_port;
    char *access_key_id;
    char *secret_access_key;
    bool default_credentials;
    char *region;
    char *account_id;
    unsigned threads;
    sl_log_level log_level;
    uint64_t inline_max; /* objects up to this size live inline in the store */
    /* tasks: {"image name": {"image": "host" | "sandbox" | "oci:/path" | other,
     *                        "command": [...], "entryPoint": [...]}} (JSON text, or NULL) */
    char *image_aliases;
    char *docker_socket; /* the Docker Engine API socket for other images, or NULL */
    char *smtp_url;      /* SNS email: "smtp://host:port" (or smtps://), or NULL: mail waits */
    char *smtp_from;     /* SNS email: the From address */
} sl_config;

void sl_config_defaults(sl_config *cfg);
/* Reads a JSON config file; returns 0 or -1 with err filled. */
int sl_config_load_file(sl_config *cfg, const char *path, char *err, size_t errlen);
void sl_config_from_env(sl_config *cfg);
/* Parses HOST:PORT, [v6]:PORT or :PORT. */
int sl_config_set_listen(sl_config *cfg, const char *hostport, char *err, size_t errlen);
/* Final checks; returns 0 or -1 with err filled. */
int sl_config_validate(const sl_config *cfg, char *err, size_t errlen);
bool sl_config_is_loopback(const char *host);
void sl_config_free(sl_config *cfg);

#endif
