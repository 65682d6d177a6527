/* http: libmicrohttpd glue. Owns connection-to-request mapping, body delivery (buffered or
 * streamed), response construction (memory or sendfile) and suspend/resume. Knows no AWS. */
#include "core/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/log.h"

struct sl_http_server {
    struct MHD_Daemon *daemon;
    sl_http_config cfg;
    uint16_t port;
};

/* Leave the URL exactly as sent: services need the raw form for SigV4 and decode it
 * themselves. MHD calls this for the path and each query argument. */
static size_t unescape_nothing(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls, (void)c;
    return strlen(s);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    sl_http_server *srv = cls;
    sl_req *req = sl_xcalloc(1, sizeof *req);
    req->server = srv;
    req->conn = conn;
    req->resp_fd = -1;
    req->raw_target = sl_xstrdup(uri ? uri : "/");
    const char *q = strchr(req->raw_target, '?');
    if (q) {
        req->raw_path = sl_xstrndup(req->raw_target, (size_t)(q - req->raw_target));
        req->raw_query = sl_xstrdup(q + 1);
    } else {
        req->raw_path = sl_xstrdup(req->raw_target);
        req->raw_query = sl_xstrdup("");
    }
    sl_buf_init(&req->body);
    sl_buf_init(&req->resp_body);
    sl_id_request(req->request_id);
    return req;
}

static void req_free(sl_req *req) {
    if (req->on_free) req->on_free(req);
    free(req->raw_target);
    free(req->raw_path);
    free(req->raw_query);
    sl_buf_free(&req->body);
    sl_buf_free(&req->resp_body);
    for (sl_resp_header *h = req->resp_headers, *n; h; h = n) {
        n = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
    if (req->resp_fd >= 0) close(req->resp_fd);
    free(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)conn;
    sl_req *req = *con_cls;
    if (req && req->began) {
        sl_debug("\"request\" id=%s method=%s path=\"%.200s\" status=%d ms=%lld done=%s",
                 req->request_id, req->method, req->raw_path, req->status,
                 (long long)(sl_mono_ms() - req->started_ms),
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted");
    }
    if (req) req_free(req);
    *con_cls = NULL;
}

static enum MHD_Result queue_response(sl_req *req) {
    struct MHD_Connection *conn = req->conn;
    struct MHD_Response *resp;
    if (req->resp_fd >= 0) {
        resp = MHD_create_response_from_fd_at_offset64(req->resp_fd_len, req->resp_fd,
                                                       req->resp_fd_offset);
        if (resp) req->resp_fd = -1; /* MHD owns it now */
    } else {
        size_t n = req->resp_body.len;
        char *data = sl_buf_steal(&req->resp_body);
        resp = MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE);
        if (!resp) free(data);
    }
    if (!resp) return MHD_NO;
    for (sl_resp_header *h = req->resp_headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)req->status, resp);
    MHD_destroy_response(resp);
    return r;
}

static void begin_request(sl_req *req, const char *method) {
    struct MHD_Connection *conn = req->conn;
    req->method = method;
    req->started_ms = sl_mono_ms();
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      req->source_ip, sizeof req->source_ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      req->source_ip, sizeof req->source_ip);
    }
    const char *cl = sl_req_header(req, "Content-Length");
    req->content_length = UINT64_MAX;
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (!errno && end != cl && !*end) {
            req->content_length = v;
            req->has_content_length = true;
        }
    }
    req->body_limit = 1 << 20;
    req->server->cfg.begin(req, req->server->cfg.begin_ctx);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
    (void)cls, (void)url, (void)version;
    sl_req *req = *con_cls;
    if (!req) return MHD_NO;
    if (!req->began) {
        req->began = true;
        begin_request(req, method);
        if (req->responded) return queue_response(req);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->stopped_reading) return MHD_YES;
        if (req->on_body) {
            if (req->on_body(req, upload_data, n) != 0) {
                req->stopped_reading = true;
                if (req->responded) return queue_response(req);
            }
        } else if (req->body.len + n > req->body_limit) {
            req->body_too_large = true;
            req->stopped_reading = true;
        } else {
            sl_buf_append(&req->body, upload_data, n);
        }
        return MHD_YES;
    }
    if (req->suspended) req->suspended = false;
    if (!req->responded && req->on_complete) req->on_complete(req);
    if (req->suspended) return MHD_YES;
    if (!req->responded) {
        sl_resp_set(req, 500, "text/plain", "no response\n", 12);
    }
    return queue_response(req);
}

void sl_req_suspend(sl_req *req) {
    req->suspended = true;
    MHD_suspend_connection(req->conn);
}

void sl_req_resume(sl_req *req) { MHD_resume_connection(req->conn); }

const char *sl_req_header(const sl_req *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct each_ctx {
    void (*fn)(void *, const char *, const char *);
    void *ctx;
};
static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *k,
                                   const char *v) {
    (void)kind;
    struct each_ctx *e = cls;
    e->fn(e->ctx, k, v ? v : "");
    return MHD_YES;
}
void sl_req_each_header(const sl_req *req, void (*fn)(void *ctx, const char *k, const char *v),
                        void *ctx) {
    struct each_ctx e = {fn, ctx};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, each_header, &e);
}

void sl_resp_header_add(sl_req *req, const char *name, const char *value) {
    sl_resp_header *h = sl_xmalloc(sizeof *h);
    h->name = sl_xstrdup(name);
    h->value = sl_xstrdup(value);
    h->next = NULL;
    sl_resp_header **tail = &req->resp_headers;
    while (*tail) tail = &(*tail)->next;
    *tail = h;
}

void sl_resp_header_printf(sl_req *req, const char *name, const char *fmt, ...) {
    char v[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    sl_resp_header_add(req, name, v);
}

void sl_resp_set(sl_req *req, int status, const char *content_type, const void *body, size_t n) {
    req->status = status;
    sl_buf_reset(&req->resp_body);
    if (n) sl_buf_append(&req->resp_body, body, n);
    if (content_type) sl_resp_header_add(req, "Content-Type", content_type);
    req->responded = true;
}

void sl_resp_set_fd(sl_req *req, int status, int fd, uint64_t offset, uint64_t len) {
    req->status = status;
    if (req->resp_fd >= 0) close(req->resp_fd);
    req->resp_fd = fd;
    req->resp_fd_offset = offset;
    req->resp_fd_len = len;
    req->responded = true;
}

static void log_mhd(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    sl_debug("\"http library\" detail=\"%s\"", msg);
}

sl_http_server *sl_http_start(const sl_http_config *cfg, char *errbuf, size_t errlen) {
    sl_http_server *srv = sl_xcalloc(1, sizeof *srv);
    srv->cfg = *cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO;
    const char *host = cfg->host;
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(cfg->port);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(errbuf, errlen, "listen address '%s' is not a numeric IPv4/IPv6 address",
                 cfg->host);
        free(srv);
        return NULL;
    }
    srv->daemon = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_access, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads ? cfg->threads : 4u, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape_nothing, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)600, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(errbuf, errlen, "cannot listen on %s:%u: %s", cfg->host, cfg->port,
                 strerror(errno));
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->port;
    return srv;
}

uint16_t sl_http_port(const sl_http_server *srv) { return srv->port; }

void sl_http_stop(sl_http_server *srv) {
    if (!srv) return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
