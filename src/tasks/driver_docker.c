/* driver_docker: any other image — a container on a Docker Engine API server over its unix
 * socket (Docker itself, or `podman system service`). HTTP/1.1 is spoken here directly (one
 * request per connection, "Connection: close"): the calls are few and local, and two of them
 * (the log stream and the wait) must sit in the supervisor's epoll set, which a blocking client
 * library cannot do.
 *
 * Lifecycle: POST /containers/create (Image, Cmd, Env, WorkingDir, HostConfig: Memory,
 * MemoryReservation, NanoCpus, the workdir bound to itself, NetworkMode none when no_network)
 * and /start on the caller's thread; then
 * GET /logs?follow=1 (multiplexed frames fed to on_line) and POST /wait watched by the
 * supervisor; stops are POST /kill with TERM and later KILL (the supervisor owns the timeout);
 * at the end GET /json for State.OOMKilled and DELETE ?force=1. A missing image fails the
 * start with "CannotPullContainerError: ..." naming it: nothing is pulled. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ids.h"
#include "tasks/container_internal.h"

#define API              "/v1.41"
#define CALL_TIMEOUT_MS  10000
#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_BODY_BYTES   (4 * 1024 * 1024)

/* ---- HTTP/1.1 response reader ---- */

enum {
    R_STATUS,
    R_HEADERS,
    R_BODY_LEN,
    R_BODY_CLOSE,
    R_CHUNK_SIZE,
    R_CHUNK_DATA,
    R_CHUNK_CRLF,
    R_TRAILERS,
    R_DONE
};

void sl_http_reader_init(sl_http_reader *r) {
    memset(r, 0, sizeof *r);
    r->state = R_STATUS;
    r->content_length = -1;
}

static long reader_fail(sl_http_reader *r, const char *msg) {
    r->error = true;
    snprintf(r->errmsg, sizeof r->errmsg, "%s", msg);
    return -1;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int reader_line(sl_http_reader *r) {
    char *l = r->line;
    size_t n = r->line_len;
    if (n && l[n - 1] == '\r') l[--n] = 0;
    switch (r->state) {
    case R_STATUS:
        if (n < 12 || strncmp(l, "HTTP/1.", 7) != 0 || l[8] != ' ') return -1;
        for (int i = 9; i < 12; i++)
            if (l[i] < '0' || l[i] > '9') return -1;
        if (n > 12 && l[12] != ' ') return -1;
        r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
        r->state = R_HEADERS;
        return 0;
    case R_HEADERS: {
        if (n == 0) {
            if (r->status >= 100 && r->status < 200) { /* interim response: another follows */
                int keep = r->status;
                (void)keep;
                r->state = R_STATUS;
                r->chunked = false;
                r->content_length = -1;
                return 0;
            }
            if (r->status == 204 || r->status == 304) r->state = R_DONE;
            else if (r->chunked) r->state = R_CHUNK_SIZE;
            else if (r->content_length >= 0) {
                r->remaining = (uint64_t)r->content_length;
                r->state = r->remaining ? R_BODY_LEN : R_DONE;
            } else r->state = R_BODY_CLOSE;
            if (r->state == R_DONE) r->done = true;
            return 0;
        }
        char *colon = memchr(l, ':', n);
        if (!colon || colon == l) return -1;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) v[--vl] = 0;
        if (!strcasecmp(l, "Content-Length")) {
            if (!vl || vl > 15) return -1;
            int64_t cl = 0;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9') return -1;
                cl = cl * 10 + (v[i] - '0');
            }
            if (r->content_length >= 0 && r->content_length != cl) return -1;
            r->content_length = cl;
        } else if (!strcasecmp(l, "Transfer-Encoding")) {
            if (strcasestr(v, "chunked")) r->chunked = true;
        } else if (!strcasecmp(l, "Content-Type")) {
            snprintf(r->content_type, sizeof r->content_type, "%s", v);
        }
        return 0;
    }
    case R_CHUNK_SIZE: {
        uint64_t size = 0;
        size_t i = 0;
        for (; i < n && hexval(l[i]) >= 0; i++) {
            if (size >> 40) return -1; /* no chunk is a terabyte */
            size = size * 16 + (uint64_t)hexval(l[i]);
        }
        if (i == 0) return -1;
        while (i < n && (l[i] == ' ' || l[i] == '\t')) i++;
        if (i < n && l[i] != ';') return -1;
        r->remaining = size;
        r->state = size ? R_CHUNK_DATA : R_TRAILERS;
        return 0;
    }
    case R_CHUNK_CRLF:
        if (n != 0) return -1;
        r->state = R_CHUNK_SIZE;
        return 0;
    case R_TRAILERS:
        if (n == 0) {
            r->state = R_DONE;
            r->done = true;
        }
        return 0;
    default: return -1;
    }
}

long sl_http_reader_feed(sl_http_reader *r, const char *p, size_t n, sl_body_fn on_body,
                         void *ctx) {
    if (r->error) return -1;
    size_t i = 0;
    while (i < n && !r->done) {
        switch (r->state) {
        case R_BODY_LEN:
        case R_CHUNK_DATA: {
            size_t take = n - i;
            if ((uint64_t)take > r->remaining) take = (size_t)r->remaining;
            if (on_body && take) on_body(ctx, p + i, take);
            i += take;
            r->remaining -= take;
            if (r->remaining == 0) {
                if (r->state == R_CHUNK_DATA) r->state = R_CHUNK_CRLF;
                else r->state = R_DONE, r->done = true;
            }
            break;
        }
        case R_BODY_CLOSE:
            if (on_body) on_body(ctx, p + i, n - i);
            i = n;
            break;
        default: {
            char ch = p[i++];
            if (r->state == R_STATUS || r->state == R_HEADERS || r->state == R_TRAILERS)
                if (++r->header_bytes > MAX_HEADER_BYTES)
                    return reader_fail(r, "response headers too large");
            if (ch != '\n') {
                if (r->line_len + 1 >= sizeof r->line) return reader_fail(r, "line too long");
                if (ch == 0) return reader_fail(r, "NUL in the response head");
                r->line[r->line_len++] = ch;
                break;
            }
            r->line[r->line_len] = 0;
            int rc = reader_line(r);
            r->line_len = 0;
            if (rc != 0) {
                const char *what = r->state == R_STATUS       ? "bad status line"
                                   : r->state == R_HEADERS    ? "bad header"
                                   : r->state == R_CHUNK_CRLF ? "chunk not followed by CRLF"
                                                              : "bad chunk size";
                return reader_fail(r, what);
            }
            break;
        }
        }
    }
    return (long)i;
}

int sl_http_reader_eof(sl_http_reader *r) {
    if (r->done) return 0;
    if (!r->error && r->state == R_BODY_CLOSE) {
        r->state = R_DONE;
        r->done = true;
        return 0;
    }
    if (!r->error) reader_fail(r, "connection closed before the response ended");
    return -1;
}

/* ---- multiplexed stream frames ---- */

void sl_docker_demux_init(sl_docker_demux *d) { memset(d, 0, sizeof *d); }

int sl_docker_demux_feed(sl_docker_demux *d, const char *p, size_t n, sl_frame_fn on_frame,
                         void *ctx) {
    if (d->error) return -1;
    while (n > 0) {
        if (d->hdr_len < 8) {
            size_t take = 8 - d->hdr_len < n ? 8 - d->hdr_len : n;
            memcpy(d->hdr + d->hdr_len, p, take);
            d->hdr_len += take, p += take, n -= take;
            if (d->hdr_len < 8) break;
            if (d->hdr[0] > 2 || d->hdr[1] || d->hdr[2] || d->hdr[3]) {
                d->error = true;
                return -1;
            }
            d->stream = d->hdr[0];
            d->remaining = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
                           (uint32_t)d->hdr[6] << 8 | d->hdr[7];
            if (d->remaining == 0) d->hdr_len = 0;
            continue;
        }
        size_t take = d->remaining < n ? d->remaining : n;
        if (on_frame) on_frame(ctx, d->stream, p, take);
        p += take, n -= take;
        d->remaining -= (uint32_t)take;
        if (d->remaining == 0) d->hdr_len = 0;
    }
    return 0;
}

/* ---- talking to the engine ---- */

static int connect_socket(const char *sock, char *err, size_t errlen) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(sock) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path too long");
        return -1;
    }
    memcpy(sa.sun_path, sock, strlen(sock));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", sock, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static int send_request(int fd, const char *method, const char *path, const char *body) {
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b,
                  "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: sluice\r\n"
                  "Connection: close\r\n",
                  method, path);
    if (body)
        sl_buf_printf(&b, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else sl_buf_puts(&b, "Content-Length: 0\r\n\r\n");
    int rc = send_all(fd, b.data, b.len);
    sl_buf_free(&b);
    return rc;
}

static void collect_body(void *ctx, const char *p, size_t n) {
    sl_buf *b = ctx;
    if (b->len + n <= MAX_BODY_BYTES) sl_buf_append(b, p, n);
}

/* One blocking call: status code, body in *out (may be NULL). */
static int docker_call(const char *sock, const char *method, const char *path, const char *body,
                       sl_buf *out, char *err, size_t errlen) {
    int fd = connect_socket(sock, err, errlen);
    if (fd < 0) return -1;
    if (send_request(fd, method, path, body) != 0) {
        snprintf(err, errlen, "%s %s: %s", method, path, strerror(errno));
        close(fd);
        return -1;
    }
    sl_http_reader r;
    sl_http_reader_init(&r);
    sl_buf scratch;
    sl_buf_init(&scratch);
    if (!out) out = &scratch;
    int64_t deadline = sl_mono_ms() + CALL_TIMEOUT_MS;
    char buf[16384];
    int status = -1;
    for (;;) {
        int64_t left = deadline - sl_mono_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
            snprintf(err, errlen, "%s %s: no answer within %d s", method, path,
                     CALL_TIMEOUT_MS / 1000);
            break;
        }
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(err, errlen, "%s %s: %s", method, path, strerror(errno));
            break;
        }
        if (n == 0 ? sl_http_reader_eof(&r) != 0
                   : sl_http_reader_feed(&r, buf, (size_t)n, collect_body, out) < 0) {
            snprintf(err, errlen, "%s %s: %s", method, path, r.errmsg);
            break;
        }
        if (r.done) {
            status = r.status;
            break;
        }
    }
    close(fd);
    sl_buf_free(&scratch);
    return status;
}

/* The engine's error message from a JSON error body ({"message": "..."}). */
static void engine_message(const sl_buf *body, char *out, size_t outlen) {
    json_t *j = body->data ? json_loads(body->data, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "message"));
    snprintf(out, outlen, "%s", m ? m : (body->data ? body->data : ""));
    json_decref(j);
}

int sl_docker_ping(const char *sock, char *info, size_t infolen) {
    sl_buf b;
    sl_buf_init(&b);
    int st = docker_call(sock, "GET", API "/version", NULL, &b, info, infolen);
    if (st != 200) {
        if (st > 0) snprintf(info, infolen, "GET /version answered %d", st);
        sl_buf_free(&b);
        return -1;
    }
    json_t *j = json_loads(b.data, 0, NULL);
    const char *ver = json_string_value(json_object_get(j, "Version"));
    const char *api = json_string_value(json_object_get(j, "ApiVersion"));
    const char *comp = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "Components"), 0), "Name"));
    snprintf(info, infolen, "%s %s, API %s", comp ? comp : "engine", ver ? ver : "?",
             api ? api : "?");
    json_decref(j);
    sl_buf_free(&b);
    return 0;
}

/* ---- the driver ---- */

typedef struct {
    char cid[80]; /* the engine's container id */
    bool created;
    int conn[2]; /* logs, wait */
    sl_http_reader rd[2];
    sl_docker_demux demux;
    sl_buf wait_body;
    bool exit_seen;
} docker_data;

static json_t *strv(char *const *v) {
    json_t *a = json_array();
    for (; v && *v; v++) json_array_append_new(a, json_string(*v));
    return a;
}

static void remove_container(sl_container *c) {
    docker_data *d = c->drv_data;
    if (!d || !d->created) return;
    char path[160], err[256];
    snprintf(path, sizeof path, API "/containers/%s?force=1", d->cid);
    docker_call(c->spec.docker_socket, "DELETE", path, NULL, NULL, err, sizeof err);
    d->created = false;
}

static int docker_prepare(sl_container *c, char *err, size_t errlen) {
    docker_data *d = sl_xcalloc(1, sizeof *d);
    d->conn[0] = d->conn[1] = -1;
    sl_buf_init(&d->wait_body);
    c->drv_data = d;
    const char *sock = c->spec.docker_socket;
    if (!sock || !*sock) {
        snprintf(err, errlen,
                 "CannotPullContainerError: image \"%s\" needs a container engine, and no "
                 "Docker Engine API socket is configured (images \"host\", \"sandbox\" and "
                 "\"oci:<path>\" run without one)",
                 c->spec.image);
        return -1;
    }
    json_t *hc = json_object();
    if (c->spec.memory_mib > 0) {
        json_int_t bytes = (json_int_t)c->spec.memory_mib << 20;
        json_object_set_new(hc, "Memory", json_integer(bytes));
        json_object_set_new(hc, "MemorySwap", json_integer(bytes)); /* ECS: no swap */
    }
    if (c->spec.memory_reservation_mib > 0)
        json_object_set_new(hc, "MemoryReservation",
                            json_integer((json_int_t)c->spec.memory_reservation_mib << 20));
    if (c->spec.cpu_units > 0)
        json_object_set_new(hc, "NanoCpus",
                            json_integer((json_int_t)c->spec.cpu_units * 1000000000 / 1024));
    if (c->spec.workdir) {
        char bind[2 * PATH_MAX + 2];
        snprintf(bind, sizeof bind, "%s:%s", c->spec.workdir, c->spec.workdir);
        json_object_set_new(hc, "Binds", json_pack("[s]", bind));
    }
    if (c->spec.no_network) json_object_set_new(hc, "NetworkMode", json_string("none"));
    json_t *body =
        json_pack("{s:s, s:o, s:o, s:b, s:b, s:b, s:b, s:o}", "Image", c->spec.image, "Cmd",
                  strv(c->spec.argv), "Env", strv(c->spec.envp), "Tty", 0, "OpenStdin", 0,
                  "AttachStdout", 0, "AttachStderr", 0, "HostConfig", hc);
    if (c->spec.workdir) json_object_set_new(body, "WorkingDir", json_string(c->spec.workdir));
    if (c->spec.name)
        json_object_set_new(body, "Labels", json_pack("{s:s}", "sluice.name", c->spec.name));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char path[256], msg[512];
    snprintf(path, sizeof path, API "/containers/create?name=%s", c->id);
    sl_buf resp;
    sl_buf_init(&resp);
    int st = docker_call(sock, "POST", path, text, &resp, msg, sizeof msg);
    free(text);
    if (st != 201) {
        if (st > 0) engine_message(&resp, msg, sizeof msg);
        if (st == 404)
            snprintf(err, errlen,
                     "CannotPullContainerError: image \"%s\" is not present on the container "
                     "engine at %s (%s); pull it there first",
                     c->spec.image, sock, msg);
        else
            snprintf(err, errlen, "CannotCreateContainerError: %s (image \"%s\")", msg,
                     c->spec.image);
        sl_buf_free(&resp);
        return -1;
    }
    json_t *j = json_loads(resp.data, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "Id"));
    snprintf(d->cid, sizeof d->cid, "%s", id ? id : c->id);
    json_decref(j);
    d->created = true;
    sl_buf_reset(&resp);
    snprintf(path, sizeof path, API "/containers/%s/start", d->cid);
    st = docker_call(sock, "POST", path, NULL, &resp, msg, sizeof msg);
    if (st != 204 && st != 304) {
        if (st > 0) engine_message(&resp, msg, sizeof msg);
        snprintf(err, errlen, "CannotStartContainerError: %s", msg);
        sl_buf_free(&resp);
        remove_container(c);
        return -1;
    }
    sl_buf_free(&resp);
    return 0;
}

static int docker_spawn(sl_container *c, char *err, size_t errlen) {
    docker_data *d = c->drv_data;
    const char *sock = c->spec.docker_socket;
    char path[256];
    for (int i = 0; i < 2; i++) {
        d->conn[i] = connect_socket(sock, err, errlen);
        if (i == 0)
            snprintf(path, sizeof path, API "/containers/%s/logs?follow=1&stdout=1&stderr=1",
                     d->cid);
        else snprintf(path, sizeof path, API "/containers/%s/wait", d->cid);
        if (d->conn[i] < 0 || send_request(d->conn[i], i ? "POST" : "GET", path, NULL) != 0) {
            if (d->conn[i] >= 0) snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        sl_http_reader_init(&d->rd[i]);
        if (sl_sup_watch(c, SL_W_DRV0 + i, d->conn[i]) != 0) goto fail;
    }
    sl_docker_demux_init(&d->demux);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (d->conn[i] >= 0) {
            sl_sup_unwatch(c, SL_W_DRV0 + i);
            close(d->conn[i]);
        }
        d->conn[i] = -1;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err);
    snprintf(err, errlen, "CannotStartContainerError: %s", msg);
    return -1;
}

static void docker_kill(sl_container *c, int sig) {
    docker_data *d = c->drv_data;
    char path[200], err[256];
    snprintf(path, sizeof path, API "/containers/%s/kill?signal=%s", d->cid,
             sig == SIGKILL ? "SIGKILL" : "SIGTERM");
    docker_call(c->spec.docker_socket, "POST", path, NULL, NULL, err, sizeof err);
}

static void on_frame(void *ctx, int stream, const char *p, size_t n) {
    sl_container *c = ctx;
    sl_sup_emit(c, stream == 2 ? SL_STREAM_STDERR : SL_STREAM_STDOUT, p, n, sl_now_ms());
}

static void on_log_body(void *ctx, const char *p, size_t n) {
    sl_container *c = ctx;
    docker_data *d = c->drv_data;
    sl_docker_demux_feed(&d->demux, p, n, on_frame, c);
}

static void close_conn(sl_container *c, int i) {
    docker_data *d = c->drv_data;
    if (d->conn[i] < 0) return;
    sl_sup_unwatch(c, SL_W_DRV0 + i);
    close(d->conn[i]);
    d->conn[i] = -1;
}

/* The wait answered (or broke): the exit code, from its body or from an inspect. */
static void wait_done(sl_container *c) {
    docker_data *d = c->drv_data;
    if (d->exit_seen) return;
    d->exit_seen = true;
    int code = -1;
    json_t *j =
        d->rd[1].status == 200 && d->wait_body.data ? json_loads(d->wait_body.data, 0, NULL) : NULL;
    json_t *sc = json_object_get(j, "StatusCode");
    if (json_is_integer(sc)) code = (int)json_integer_value(sc);
    json_decref(j);
    if (code < 0) {
        char path[160], err[256];
        sl_buf b;
        sl_buf_init(&b);
        snprintf(path, sizeof path, API "/containers/%s/json", d->cid);
        if (docker_call(c->spec.docker_socket, "GET", path, NULL, &b, err, sizeof err) == 200) {
            json_t *ij = json_loads(b.data, 0, NULL);
            json_t *ec = json_object_get(json_object_get(ij, "State"), "ExitCode");
            if (json_is_integer(ec)) code = (int)json_integer_value(ec);
            json_decref(ij);
        }
        sl_buf_free(&b);
    }
    sl_sup_exited(c, code, code > 128 && code < 128 + 65 ? code - 128 : 0);
}

static void docker_on_io(sl_container *c, int kind, uint32_t events) {
    docker_data *d = c->drv_data;
    int i = kind - SL_W_DRV0;
    if (d->conn[i] < 0) return;
    char buf[65536];
    for (int round = 0; round < 16; round++) {
        ssize_t n = recv(d->conn[i], buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        bool end = n <= 0;
        if (n > 0) {
            long used = i == 0 ? sl_http_reader_feed(&d->rd[0], buf, (size_t)n, on_log_body, c)
                               : sl_http_reader_feed(&d->rd[1], buf, (size_t)n, collect_body,
                                                     &d->wait_body);
            end = used < 0 || d->rd[i].done;
        } else {
            sl_http_reader_eof(&d->rd[i]);
        }
        if (!end) continue;
        close_conn(c, i);
        if (i == 0) {
            sl_sup_stream_eof(c, SL_STREAM_STDOUT);
            sl_sup_stream_eof(c, SL_STREAM_STDERR);
        } else {
            wait_done(c);
        }
        return;
    }
}

static void docker_finish(sl_container *c) {
    docker_data *d = c->drv_data;
    if (!d) return;
    close_conn(c, 0);
    close_conn(c, 1);
    if (d->created) {
        char path[160], err[256];
        sl_buf b;
        sl_buf_init(&b);
        snprintf(path, sizeof path, API "/containers/%s/json", d->cid);
        if (docker_call(c->spec.docker_socket, "GET", path, NULL, &b, err, sizeof err) == 200) {
            json_t *j = json_loads(b.data, 0, NULL);
            if (json_is_true(json_object_get(json_object_get(j, "State"), "OOMKilled")))
                c->ex.oom_killed = true;
            json_decref(j);
        }
        sl_buf_free(&b);
    }
    remove_container(c);
}

static void docker_destroy(sl_container *c) {
    docker_data *d = c->drv_data;
    if (!d) return;
    sl_buf_free(&d->wait_body);
    free(d);
    c->drv_data = NULL;
}

const sl_driver sl_driver_docker = {
    .name = "docker",
    .prepare = docker_prepare,
    .spawn = docker_spawn,
    .kill = docker_kill,
    .on_io = docker_on_io,
    .finish = docker_finish,
    .destroy = docker_destroy,
};
