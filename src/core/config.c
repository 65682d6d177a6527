/* config: defaults, JSON file, environment, listen address parsing and the loopback rule. */
#include "core/config.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void set_str(char **dst, const char *v) {
    free(*dst);
    *dst = sl_xstrdup(v);
}

void sl_config_defaults(sl_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    set_str(&cfg->data_dir, "./sluice-data");
    set_str(&cfg->listen_host, "127.0.0.1");
    cfg->listen_port = SL_DEFAULT_PORT;
    set_str(&cfg->access_key_id, SL_DEFAULT_ACCESS_KEY);
    set_str(&cfg->secret_access_key, SL_DEFAULT_SECRET_KEY);
    cfg->default_credentials = true;
    set_str(&cfg->region, "us-east-1");
    set_str(&cfg->account_id, "000000000000");
    cfg->threads = 4;
    cfg->log_level = SL_LOG_INFO;
    cfg->inline_max = 64 * 1024;
    set_str(&cfg->smtp_from, "no-reply@sns.sluice.local");
}

static int parse_level(const char *s, sl_log_level *out) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return *out = (sl_log_level)i, 0;
    return -1;
}

int sl_config_load_file(sl_config *cfg, const char *path, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        snprintf(err, errlen, "config %s line %d: %s", path, je.line, je.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "config %s: top level must be an object", path);
        json_decref(root);
        return -1;
    }
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, k, v) {
        const char *s = json_string_value(v);
        if (!strcmp(k, "data") && s) set_str(&cfg->data_dir, s);
        else if (!strcmp(k, "listen") && s) rc = sl_config_set_listen(cfg, s, err, errlen);
        else if (!strcmp(k, "access_key_id") && s)
            set_str(&cfg->access_key_id, s), cfg->default_credentials = false;
        else if (!strcmp(k, "secret_access_key") && s)
            set_str(&cfg->secret_access_key, s), cfg->default_credentials = false;
        else if (!strcmp(k, "region") && s) set_str(&cfg->region, s);
        else if (!strcmp(k, "account_id") && s) set_str(&cfg->account_id, s);
        else if (!strcmp(k, "log_level") && s && parse_level(s, &cfg->log_level) == 0) {
        } else if (!strcmp(k, "threads") && json_is_integer(v) && json_integer_value(v) > 0 &&
                   json_integer_value(v) <= 256)
            cfg->threads = (unsigned)json_integer_value(v);
        else if (!strcmp(k, "inline_max") && json_is_integer(v) && json_integer_value(v) >= 0)
            cfg->inline_max = (uint64_t)json_integer_value(v);
        else if (!strcmp(k, "docker_socket") && s) set_str(&cfg->docker_socket, s);
        else if (!strcmp(k, "smtp_url") && s) set_str(&cfg->smtp_url, s);
        else if (!strcmp(k, "smtp_from") && s) set_str(&cfg->smtp_from, s);
        else if (!strcmp(k, "image_aliases") && json_is_object(v)) {
            char *t = json_dumps(v, JSON_COMPACT);
            free(cfg->image_aliases);
            cfg->image_aliases = t;
        } else {
            snprintf(err, errlen, "config %s: unknown key or bad value for '%s'", path, k);
            rc = -1;
        }
        if (rc) break;
    }
    json_decref(root);
    return rc;
}

void sl_config_from_env(sl_config *cfg) {
    const char *ak = getenv("SLUICE_ACCESS_KEY_ID"), *sk = getenv("SLUICE_SECRET_ACCESS_KEY");
    if (ak && *ak && sk && *sk) {
        set_str(&cfg->access_key_id, ak);
        set_str(&cfg->secret_access_key, sk);
        cfg->default_credentials = false;
    }
    const char *region = getenv("SLUICE_REGION");
    if (region && *region) set_str(&cfg->region, region);
    const char *account = getenv("SLUICE_ACCOUNT_ID");
    if (account && *account) set_str(&cfg->account_id, account);
    const char *lvl = getenv("SLUICE_LOG_LEVEL");
    if (lvl) parse_level(lvl, &cfg->log_level);
    const char *smtp_url = getenv("SLUICE_SMTP_URL");
    if (smtp_url && *smtp_url) set_str(&cfg->smtp_url, smtp_url);
    const char *smtp_from = getenv("SLUICE_SMTP_FROM");
    if (smtp_from && *smtp_from) set_str(&cfg->smtp_from, smtp_from);
}

int sl_config_set_listen(sl_config *cfg, const char *hostport, char *err, size_t errlen) {
    const char *colon;
    char host[128];
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (!close || close[1] != ':') goto bad;
        size_t n = (size_t)(close - hostport - 1);
        if (n >= sizeof host) goto bad;
        memcpy(host, hostport + 1, n);
        host[n] = 0;
        colon = close + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (!colon) goto bad;
        size_t n = (size_t)(colon - hostport);
        if (n >= sizeof host) goto bad;
        memcpy(host, hostport, n);
        host[n] = 0;
        if (!n) strcpy(host, "127.0.0.1");
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535) goto bad;
    set_str(&cfg->listen_host, host);
    cfg->listen_port = (uint16_t)port;
    return 0;
bad:
    snprintf(err, errlen,
             "listen address '%s' must be HOST:PORT (e.g. 127.0.0.1:4566 or [::1]:4566)", hostport);
    return -1;
}

bool sl_config_is_loopback(const char *host) {
    if (!strcmp(host, "localhost")) return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

int sl_config_validate(const sl_config *cfg, char *err, size_t errlen) {
    if (cfg->default_credentials && !sl_config_is_loopback(cfg->listen_host)) {
        snprintf(err, errlen,
                 "refusing to listen on %s with the built-in default credentials: set "
                 "SLUICE_ACCESS_KEY_ID and SLUICE_SECRET_ACCESS_KEY (or access_key_id and "
                 "secret_access_key in the config file), or listen on a loopback address",
                 cfg->listen_host);
        return -1;
    }
    return 0;
}

void sl_config_free(sl_config *cfg) {
    free(cfg->data_dir);
    free(cfg->listen_host);
    free(cfg->image_aliases);
    free(cfg->docker_socket);
    free(cfg->smtp_url);
    free(cfg->smtp_from);
    free(cfg->access_key_id);
    free(cfg->secret_access_key);
    free(cfg->region);
    free(cfg->account_id);
    memset(cfg, 0, sizeof *cfg);
}
