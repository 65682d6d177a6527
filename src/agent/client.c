/* client: one call from the agent to the daemon — a JSON body POSTed with an X-Amz-Target,
 * signed with SigV4 (service "ecs") by auth/sigv4_sign, over libcurl loaded at run time. The
 * Host header is set here and signed as sent. Sorts every outcome into: answered, refused
 * (a 4xx with the JSON protocol's {"__type", "message"}), unreachable (try again later) or
 * aborted (the agent is shutting down). One client per thread; a handle is reused so the
 * connection stays open between calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "auth/sigv4_sign.h"
#include "core/buf.h"
#include "core/curl_loader.h"
#include "core/ids.h"

#define MAX_ANSWER (16u << 20)

struct agent_client {
    const sl_curl_api *cu;
    CURL *curl;
    char *url;       /* the endpoint as given, without a trailing '/' when it has a path */
    char *authority; /* host[:port], the Host header */
    char *path;      /* "/" or the endpoint's path */
    const agent_credentials *creds;
    const atomic_bool *abort;
};

typedef struct {
    sl_buf body;
    bool too_big;
} answer;

static size_t on_data(char *p, size_t size, size_t n, void *arg) {
    answer *a = arg;
    if (a->body.len + size * n > MAX_ANSWER) {
        a->too_big = true;
        return 0;
    }
    sl_buf_append(&a->body, p, size * n);
    return size * n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    const atomic_bool *abort = arg;
    return abort && atomic_load(abort) ? 1 : 0;
}

agent_client *agent_client_new(const char *endpoint, const agent_credentials *creds,
                               const atomic_bool *abort, char *err, size_t errlen) {
    const char *scheme_end = strstr(endpoint, "://");
    if (!scheme_end || (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)) ||
        !scheme_end[3] || scheme_end[3] == '/') {
        snprintf(err, errlen, "endpoint '%s' is not an http:// or https:// URL", endpoint);
        return NULL;
    }
    const sl_curl_api *cu = sl_curl(err, errlen);
    if (!cu) return NULL;
    agent_client *c = sl_xcalloc(1, sizeof *c);
    c->cu = cu;
    c->curl = cu->easy_init();
    if (!c->curl) {
        snprintf(err, errlen, "curl_easy_init failed");
        free(c);
        return NULL;
    }
    const char *host = scheme_end + 3;
    const char *slash = strchr(host, '/');
    c->authority = slash ? sl_xstrndup(host, (size_t)(slash - host)) : sl_xstrdup(host);
    c->path = sl_xstrdup(slash && slash[1] ? slash : "/");
    c->url = slash ? sl_xstrdup(endpoint) : NULL;
    if (!c->url) {
        sl_buf b;
        sl_buf_init(&b);
        sl_buf_printf(&b, "%s/", endpoint);
        c->url = sl_buf_steal(&b);
    }
    c->creds = creds;
    c->abort = abort;
    return c;
}

void agent_client_free(agent_client *c) {
    if (!c) return;
    c->cu->easy_cleanup(c->curl);
    free(c->url);
    free(c->authority);
    free(c->path);
    free(c);
}

void agent_reply_clear(agent_reply *r) {
    json_decref(r->body);
    memset(r, 0, sizeof *r);
}

/* "com.amazonaws.ecs#ClientException:http://..." → "ClientException" */
static void error_type(const char *raw, char *out, size_t n) {
    const char *s = raw ? raw : "";
    const char *hash = strrchr(s, '#');
    if (hash) s = hash + 1;
    size_t len = strcspn(s, ":");
    if (len >= n) len = n - 1;
    memcpy(out, s, len);
    out[len] = 0;
}

static struct curl_slist *header(const sl_curl_api *cu, struct curl_slist *l, const char *k,
                                 const char *v) {
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "%s: %s", k, v);
    struct curl_slist *out = cu->slist_append(l, b.data);
    sl_buf_free(&b);
    return out;
}

agent_call_status agent_call(agent_client *c, const char *target, json_t *request, long timeout_ms,
                             agent_reply *reply) {
    memset(reply, 0, sizeof *reply);
    const sl_curl_api *cu = c->cu;
    char *body = json_dumps(request, JSON_COMPACT);
    if (!body) {
        snprintf(reply->message, sizeof reply->message, "cannot encode the request");
        return AGENT_CALL_REFUSED;
    }
    sl_sigv4_header signed_headers[4] = {
        {"Host", c->authority},
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", target},
        {"X-Amz-Security-Token", c->creds->session_token},
    };
    size_t nsigned = c->creds->session_token && *c->creds->session_token ? 4 : 3;
    sl_sigv4_sign_request sr = {
        .method = "POST",
        .raw_path = c->path,
        .raw_query = "",
        .headers = signed_headers,
        .nheaders = nsigned,
        .body = body,
        .body_len = strlen(body),
        .access_key_id = c->creds->access_key_id,
        .secret_access_key = c->creds->secret_access_key,
        .region = c->creds->region,
        .service = "ecs",
        .now_ms = sl_now_ms(),
    };
    sl_sigv4_signature sig;
    char err[256];
    if (sl_sigv4_sign(&sr, &sig, err, sizeof err) != 0) {
        snprintf(reply->message, sizeof reply->message, "cannot sign the request: %s", err);
        free(body);
        return AGENT_CALL_REFUSED;
    }
    struct curl_slist *hl = NULL;
    for (size_t i = 0; i < nsigned; i++)
        hl = header(cu, hl, signed_headers[i].name, signed_headers[i].value);
    hl = header(cu, hl, "X-Amz-Date", sig.amz_date);
    hl = header(cu, hl, "Authorization", sig.authorization);
    hl = cu->slist_append(hl, "Expect:");
    hl = cu->slist_append(hl, "Accept:");

    answer ans = {0};
    sl_buf_init(&ans.body);
    CURL *h = c->curl;
    cu->easy_reset(h);
    cu->easy_setopt(h, CURLOPT_URL, c->url);
    cu->easy_setopt(h, CURLOPT_POST, 1L);
    cu->easy_setopt(h, CURLOPT_POSTFIELDS, body);
    cu->easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    cu->easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    cu->easy_setopt(h, CURLOPT_WRITEDATA, &ans);
    cu->easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    cu->easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    cu->easy_setopt(h, CURLOPT_XFERINFODATA, (void *)c->abort);
    CURLcode rc = cu->easy_perform(h);
    long status = 0;
    cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    cu->slist_free_all(hl);
    free(body);
    reply->http_status = status;

    agent_call_status out;
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(reply->message, sizeof reply->message, "aborted");
        out = AGENT_CALL_ABORTED;
    } else if (rc != CURLE_OK) {
        snprintf(reply->message, sizeof reply->message, "%s",
                 ans.too_big ? "answer too large" : cu->easy_strerror(rc));
        out = AGENT_CALL_UNREACHABLE;
    } else {
        json_error_t je;
        json_t *doc = ans.body.len ? json_loadb(ans.body.data, ans.body.len, 0, &je) : NULL;
        if (status >= 200 && status < 300) {
            reply->body = doc ? doc : json_object();
            out = AGENT_CALL_OK;
        } else {
            error_type(json_string_value(json_object_get(doc, "__type")), reply->type,
                       sizeof reply->type);
            const char *msg = json_string_value(json_object_get(doc, "message"));
            if (!msg) msg = json_string_value(json_object_get(doc, "Message"));
            snprintf(reply->message, sizeof reply->message, "%s", msg ? msg : "no message");
            json_decref(doc);
            out = status >= 500 || status == 429 || !status ? AGENT_CALL_UNREACHABLE
                                                            : AGENT_CALL_REFUSED;
            if (!reply->type[0]) snprintf(reply->type, sizeof reply->type, "HTTP %ld", status);
        }
    }
    sl_buf_free(&ans.body);
    return out;
}
