/* http: the HTTP front of the daemon, on libmicrohttpd's epoll thread pool.
 *
 * A request arrives in three steps. When its headers are in, the router's begin function runs
 * and chooses how the body is taken: buffered up to a limit (JSON/XML/Query protocols) or
 * streamed chunk by chunk to on_body (S3 uploads). When the body is complete, on_complete runs
 * and must set a response. on_free runs once the connection is done with the request, so a
 * service's per-request state always has one place to be released.
 *
 * A handler that must wait (a long poll, a group commit) suspends the request with
 * sl_req_suspend() and resumes it from any thread with sl_req_resume(); on_complete then runs
 * again and sees its state. This file knows nothing about AWS; it only moves bytes. */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

typedef struct sl_req sl_req;
typedef struct sl_http_server sl_http_server;

typedef struct sl_resp_header {
    char *name;
    char *value;
    struct sl_resp_header *next;
} sl_resp_header;

struct sl_req {
    /* Request line and routing facts, valid for the request's life. */
    const char *method;
    char *raw_target; /* exactly as received: path?query, still percent-encoded */
    char *raw_path;   /* percent-encoded path part of raw_target */
    char *raw_query;  /* query part without '?', "" when absent */
    char request_id[33];
    char source_ip[64];
    uint64_t content_length; /* from the header; UINT64_MAX when absent */
    bool has_content_length;
    int64_t started_ms; /* monotonic, for the access log */

    /* Body handling, set by the begin function. */
    size_t body_limit; /* buffered mode: larger bodies get 413 via on_body_too_large */
    sl_buf body;       /* buffered body */
    bool body_too_large;
    /* Streaming mode when set: return 0 to continue, non-zero to stop reading (a response
     * must then be set; on_complete is not called). */
    int (*on_body)(sl_req *req, const char *data, size_t n);
    void (*on_complete)(sl_req *req);
    void (*on_free)(sl_req *req);
    void *state; /* the service's per-request state */

    /* Response, filled by the service. */
    int status;
    sl_resp_header *resp_headers;
    sl_buf resp_body;
    int resp_fd; /* -1, or a file to send (taken over: closed by http) */
    uint64_t resp_fd_offset, resp_fd_len;
    bool responded;

    /* Internal to http.c. */
    void *conn;
    bool began;
    bool suspended;
    bool stopped_reading;
    sl_http_server *server;
};

typedef void (*sl_http_begin_fn)(sl_req *req, void *ctx);

typedef struct {
    const char *host; /* numeric IPv4/IPv6 address or "localhost" */
    uint16_t port;
    unsigned threads;
    sl_http_begin_fn begin;
    void *begin_ctx;
} sl_http_config;

/* Starts listening; returns NULL with errbuf filled on failure. */
sl_http_server *sl_http_start(const sl_http_config *cfg, char *errbuf, size_t errlen);
uint16_t sl_http_port(const sl_http_server *srv);
void sl_http_stop(sl_http_server *srv);

/* Request header by case-insensitive name; NULL when absent. */
const char *sl_req_header(const sl_req *req, const char *name);
/* Calls fn for every request header in arrival order. */
void sl_req_each_header(const sl_req *req, void (*fn)(void *ctx, const char *k, const char *v),
                        void *ctx);

void sl_resp_header_add(sl_req *req, const char *name, const char *value);
void sl_resp_header_printf(sl_req *req, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets status and body (copied). */
void sl_resp_set(sl_req *req, int status, const char *content_type, const void *body, size_t n);
/* Takes ownership of fd; len bytes from offset are sent with sendfile. */
void sl_resp_set_fd(sl_req *req, int status, int fd, uint64_t offset, uint64_t len);

void sl_req_suspend(sl_req *req);
void sl_req_resume(sl_req *req);

#endif
