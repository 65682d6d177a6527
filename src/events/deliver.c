/* deliver: calls a target. API destinations are HTTP requests with the connection's
 * authorization (API key header, Basic, an OAuth bearer token from oauth.c, refreshed and the
 * call repeated once on a 401/407 answer) and invocation parameters, the target's
 * HttpParameters, a 5 s timeout and the destination's rate limit. AWS retries 401, 407, 409,
 * 429 and 5xx answers and network failures; other 4xx go straight to the dead letters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/curl_loader.h"
#include "core/ids.h"
#include "events/events_internal.h"
#include "sns/sns.h"
#include "states/states.h"
#include "tasks/tasks.h"

bool ev_target_supported(const char *arn, char *err, size_t errlen) {
    if (strstr(arn, ":api-destination/") || strstr(arn, ":event-bus/")) return true;
    if (sl_str_has_prefix(arn, "arn:aws:states:") && strstr(arn, ":stateMachine:")) return true;
    if (sl_str_has_prefix(arn, "arn:aws:ecs:") && strstr(arn, ":cluster/")) return true;
    if (sl_str_has_prefix(arn, "arn:aws:sns:")) return true;
    const char *svc = "this";
    char name[64] = "";
    if (!strncmp(arn, "arn:", 4)) {
        const char *p = strchr(arn + 4, ':');
        const char *q = p ? strchr(p + 1, ':') : NULL;
        if (p && q && (size_t)(q - p - 1) < sizeof name) {
            memcpy(name, p + 1, (size_t)(q - p - 1));
            name[q - p - 1] = 0;
            svc = name;
        }
    }
    snprintf(err, errlen, "Sluice does not deliver to %s targets yet", svc);
    return false;
}

/* name from ".../kind/NAME/uuid" or ".../kind/NAME" */
static bool name_after(const char *arn, const char *marker, char *out, size_t n) {
    const char *p = strstr(arn, marker);
    if (!p) return false;
    p += strlen(marker);
    size_t len = strcspn(p, "/");
    if (!len || len >= n) return false;
    memcpy(out, p, len);
    out[len] = 0;
    return true;
}

static json_t *load_spec(sl_events *ev, const char *table, const char *name, int64_t *modified_ms) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT spec, modified_ms FROM %s WHERE name=?1", table);
    sqlite3 *db = sl_store_reader(ev->store);
    sqlite3_stmt *st = NULL;
    json_t *spec = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        spec = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (modified_ms) *modified_ms = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return spec;
}

static size_t discard(char *p, size_t s, size_t n, void *u) {
    (void)p, (void)u;
    return s * n;
}

struct curl_slist *ev_http_header(const sl_curl_api *cu, struct curl_slist *h, const char *k,
                                  const char *v) {
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "%s: %s", k, v);
    h = cu->slist_append(h, b.data);
    sl_buf_free(&b);
    return h;
}

void ev_http_query(sl_buf *url, bool *first, const char *k, const char *v) {
    sl_buf_putc(url, *first ? (strchr(url->data, '?') ? '&' : '?') : '&');
    *first = false;
    sl_buf_uri_encode(url, k, strlen(k), false);
    sl_buf_putc(url, '=');
    sl_buf_uri_encode(url, v, strlen(v), false);
}

struct curl_slist *ev_http_basic(const sl_curl_api *cu, struct curl_slist *h, const char *user,
                                 const char *password) {
    sl_buf up;
    sl_buf_init(&up);
    sl_buf_printf(&up, "%s:%s", user ? user : "", password ? password : "");
    char *b64 = sl_xmalloc(up.len * 4 / 3 + 8);
    sl_base64_encode((const unsigned char *)up.data, up.len, b64);
    sl_buf_reset(&up);
    sl_buf_printf(&up, "Basic %s", b64);
    h = ev_http_header(cu, h, "Authorization", up.data);
    free(b64);
    sl_buf_free(&up);
    return h;
}

/* Rate limit: one slot every 1/rate seconds per destination. */
static bool take_slot(sl_events *ev, const char *name, json_t *dest, int64_t *defer_until) {
    json_int_t rate = json_integer_value(json_object_get(dest, "InvocationRateLimitPerSecond"));
    if (rate <= 0) return true;
    int64_t now = sl_now_ms(), gap = 1000 / rate;
    bool ok;
    pthread_mutex_lock(&ev->rate_mu);
    int64_t next = json_integer_value(json_object_get(ev->next_slot, name));
    ok = next <= now;
    if (ok) json_object_set_new(ev->next_slot, name, json_integer(now + (gap ? gap : 1)));
    else *defer_until = next;
    pthread_mutex_unlock(&ev->rate_mu);
    return ok;
}

/* The headers of one call: content type, the connection's authorization (bearer is the OAuth
 * token), its invocation header parameters, the target's HttpParameters headers. */
static struct curl_slist *call_headers(const sl_curl_api *cu, const json_t *conn, const json_t *hp,
                                       const char *bearer) {
    struct curl_slist *headers = NULL;
    headers = ev_http_header(cu, headers, "Content-Type", "application/json; charset=utf-8");
    headers = ev_http_header(cu, headers, "User-Agent", "Amazon/EventBridge/ApiDestinations");
    json_t *auth = json_object_get(conn, "AuthParameters");
    const char *type = json_string_value(json_object_get(conn, "AuthorizationType"));
    if (type && !strcmp(type, "API_KEY")) {
        json_t *k = json_object_get(auth, "ApiKeyAuthParameters");
        const char *name = json_string_value(json_object_get(k, "ApiKeyName"));
        const char *value = json_string_value(json_object_get(k, "ApiKeyValue"));
        if (name && value) headers = ev_http_header(cu, headers, name, value);
    } else if (type && !strcmp(type, "BASIC")) {
        json_t *b = json_object_get(auth, "BasicAuthParameters");
        headers = ev_http_basic(cu, headers, json_string_value(json_object_get(b, "Username")),
                                json_string_value(json_object_get(b, "Password")));
    } else if (bearer) {
        sl_buf v;
        sl_buf_init(&v);
        sl_buf_printf(&v, "Bearer %s", bearer);
        headers = ev_http_header(cu, headers, "Authorization", v.data);
        sl_buf_free(&v);
    }
    json_t *inv = json_object_get(auth, "InvocationHttpParameters");
    size_t i;
    json_t *kv;
    json_array_foreach(json_object_get(inv, "HeaderParameters"), i, kv) {
        const char *k = json_string_value(json_object_get(kv, "Key"));
        const char *v = json_string_value(json_object_get(kv, "Value"));
        if (k && v) headers = ev_http_header(cu, headers, k, v);
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(hp, "HeaderParameters"), k, v) if (json_is_string(v))
        headers = ev_http_header(cu, headers, k, json_string_value(v));
    return headers;
}

/* One handle per delivering thread (curl handles are not shared between threads): curl keeps its
 * connections alive between the thread's calls. */
static _Thread_local void *thread_curl;

void *ev_http_handle(const sl_curl_api *cu) {
    if (!thread_curl) thread_curl = cu->easy_init();
    return thread_curl;
}

void ev_http_thread_end(void) {
    if (!thread_curl) return;
    char err[64];
    const sl_curl_api *cu = sl_curl(err, sizeof err);
    if (cu) cu->easy_cleanup(thread_curl);
    thread_curl = NULL;
}

/* One HTTP request on this thread's handle. Returns the CURLcode; *status the answer. */
static CURLcode perform(const sl_curl_api *cu, const char *url, const char *method,
                        struct curl_slist *headers, const char *body, long *status) {
    CURL *curl = ev_http_handle(cu);
    cu->easy_reset(curl);
    cu->easy_setopt(curl, CURLOPT_URL, url);
    cu->easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method ? method : "POST");
    bool has_body =
        !method || (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "DELETE"));
    if (has_body) {
        cu->easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        cu->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (method && !strcmp(method, "HEAD")) {
        cu->easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    cu->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    cu->easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    cu->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    cu->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    cu->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = cu->easy_perform(curl);
    *status = 0;
    cu->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    return cc;
}

static int call_api_destination(sl_events *ev, const json_t *target, const char *body,
                                bool *retryable, int64_t *defer_until, char *err, size_t errlen) {
    const char *arn = json_string_value(json_object_get(target, "Arn"));
    char dname[128], cname[128];
    *retryable = false;
    if (!name_after(arn, ":api-destination/", dname, sizeof dname)) {
        snprintf(err, errlen, "malformed API destination ARN %s", arn);
        return -1;
    }
    json_t *dest = load_spec(ev, "event_api_destinations", dname, NULL);
    if (!dest) {
        snprintf(err, errlen, "API destination %s does not exist", dname);
        return -1;
    }
    if (!take_slot(ev, dname, dest, defer_until)) {
        json_decref(dest);
        return 1;
    }
    const sl_curl_api *cu = sl_curl(err, errlen);
    if (!cu) {
        json_decref(dest);
        *retryable = true;
        return -1;
    }
    const char *conn_arn = json_string_value(json_object_get(dest, "ConnectionArn"));
    int64_t conn_modified = 0;
    json_t *conn = conn_arn && name_after(conn_arn, ":connection/", cname, sizeof cname)
                       ? load_spec(ev, "event_connections", cname, &conn_modified)
                       : NULL;
    if (!conn) {
        snprintf(err, errlen, "connection of API destination %s does not exist", dname);
        json_decref(dest);
        return -1;
    }
    const char *state = json_string_value(json_object_get(conn, "ConnectionState"));
    if (state && !strcmp(state, "DEAUTHORIZED")) {
        /* Retried within the target's policy: an UpdateConnection may bring it back. */
        snprintf(err, errlen, "connection %s is DEAUTHORIZED", cname);
        *retryable = true;
        json_decref(dest);
        json_decref(conn);
        return -1;
    }
    const char *type = json_string_value(json_object_get(conn, "AuthorizationType"));
    bool oauth = type && !strcmp(type, "OAUTH_CLIENT_CREDENTIALS");
    char *bearer = NULL;
    if (oauth && !(bearer = ev_oauth_bearer(ev, cname, conn, conn_modified, false, retryable, err,
                                            errlen))) {
        json_decref(dest);
        json_decref(conn);
        return -1;
    }
    const char *endpoint = json_string_value(json_object_get(dest, "InvocationEndpoint"));
    const char *method = json_string_value(json_object_get(dest, "HttpMethod"));
    json_t *hp = json_object_get(target, "HttpParameters");
    /* Path parameters replace the endpoint's '*' in order. */
    sl_buf url;
    sl_buf_init(&url);
    json_t *pathvals = json_object_get(hp, "PathParameterValues");
    size_t pi = 0;
    for (const char *p = endpoint; *p; p++) {
        if (*p == '*' && pi < json_array_size(pathvals)) {
            const char *v = json_string_value(json_array_get(pathvals, pi++));
            sl_buf_uri_encode(&url, v ? v : "", v ? strlen(v) : 0, false);
        } else {
            sl_buf_putc(&url, *p);
        }
    }
    bool first = true;
    json_t *inv =
        json_object_get(json_object_get(conn, "AuthParameters"), "InvocationHttpParameters");
    size_t i;
    json_t *kv;
    json_array_foreach(json_object_get(inv, "QueryStringParameters"), i, kv) {
        const char *k = json_string_value(json_object_get(kv, "Key"));
        const char *v = json_string_value(json_object_get(kv, "Value"));
        if (k && v) ev_http_query(&url, &first, k, v);
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(hp, "QueryStringParameters"), k, v) if (json_is_string(v))
        ev_http_query(&url, &first, k, json_string_value(v));

    struct curl_slist *headers = call_headers(cu, conn, hp, bearer);
    long status = 0;
    CURLcode cc = perform(cu, url.data, method, headers, body, &status);
    cu->slist_free_all(headers);
    if (oauth && cc == CURLE_OK && (status == 401 || status == 407)) {
        /* The token may have been revoked or expired early: one more try with a fresh one. */
        free(bearer);
        bearer = ev_oauth_bearer(ev, cname, conn, conn_modified, true, retryable, err, errlen);
        if (!bearer) {
            sl_buf_free(&url);
            json_decref(dest);
            json_decref(conn);
            return -1;
        }
        headers = call_headers(cu, conn, hp, bearer);
        cc = perform(cu, url.data, method, headers, body, &status);
        cu->slist_free_all(headers);
    }
    int rc = 0;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", url.data, cu->easy_strerror(cc));
        *retryable = true;
        rc = -1;
    } else if (status < 200 || status > 299) {
        snprintf(err, errlen, "%s answered HTTP %ld", url.data, status);
        *retryable =
            status == 401 || status == 407 || status == 409 || status == 429 || status >= 500;
        rc = -1;
    }
    free(bearer);
    sl_buf_free(&url);
    json_decref(dest);
    json_decref(conn);
    return rc;
}

/* RunTask in the target's cluster with its EcsParameters; a transformed input that is an
 * overrides document ({"containerOverrides": [...]}) becomes the task's overrides. */
static int run_ecs_task(sl_events *ev, const json_t *target, const char *body, bool *retryable,
                        char *err, size_t errlen) {
    json_t *p = json_object_get(target, "EcsParameters");
    if (!json_is_object(p)) {
        snprintf(err, errlen, "the ECS target has no EcsParameters");
        return -1;
    }
    if (!ev->tasks) {
        snprintf(err, errlen, "ECS is not running");
        *retryable = true;
        return -1;
    }
    json_t *req = json_object();
    json_object_set_new(req, "cluster",
                        json_string(json_string_value(json_object_get(target, "Arn"))));
    json_object_set(req, "taskDefinition", json_object_get(p, "TaskDefinitionArn"));
    json_t *v;
    if ((v = json_object_get(p, "TaskCount"))) json_object_set(req, "count", v);
    if ((v = json_object_get(p, "LaunchType"))) json_object_set(req, "launchType", v);
    if ((v = json_object_get(p, "Group"))) json_object_set(req, "group", v);
    if ((v = json_object_get(p, "PlatformVersion"))) json_object_set(req, "platformVersion", v);
    if ((v = json_object_get(p, "NetworkConfiguration")))
        json_object_set_new(req, "networkConfiguration", sl_json_recase(v, false));
    if ((v = json_object_get(p, "Tags")))
        json_object_set_new(req, "tags", sl_json_recase(v, false));
    json_object_set_new(req, "startedBy", json_string("events-rule"));
    json_t *input = body ? json_loads(body, 0, NULL) : NULL;
    if (json_is_object(input) &&
        (json_object_get(input, "containerOverrides") || json_object_get(input, "taskRoleArn") ||
         json_object_get(input, "cpu") || json_object_get(input, "memory")))
        json_object_set(req, "overrides", input);
    json_decref(input);
    char code[64];
    json_t *out = sl_tasks_run(ev->tasks, req, code, sizeof code, err, errlen);
    json_decref(req);
    if (!out) return -1;
    json_t *failures = json_object_get(out, "failures");
    int rc = 0;
    if (json_array_size(failures)) {
        json_t *f = json_array_get(failures, 0);
        snprintf(err, errlen, "RunTask: %s %s", json_string_value(json_object_get(f, "reason")),
                 json_string_value(json_object_get(f, "detail"))
                     ? json_string_value(json_object_get(f, "detail"))
                     : "");
        rc = json_array_size(json_object_get(out, "tasks")) ? 0 : -1;
    }
    json_decref(out);
    return rc;
}

/* An SNS target: the (transformed) event is the message, as AWS's target publishes it. A topic
 * that does not exist, or a message SNS refuses, goes to the dead letters; anything else is
 * retried. */
static int publish_to_topic(sl_events *ev, const char *arn, const char *body, bool *retryable,
                            char *err, size_t errlen) {
    if (!ev->sns) {
        snprintf(err, errlen, "SNS is not running");
        *retryable = true;
        return -1;
    }
    sl_sns_message m = {.topic_arn = arn, .message = body};
    char message_id[37];
    sl_sns_status s = sl_sns_publish(ev->sns, &m, message_id, err, errlen);
    *retryable = s == SL_SNS_FAILED;
    return s == SL_SNS_OK ? 0 : -1;
}

int ev_deliver(sl_events *ev, const json_t *target, const char *body, bool *retryable,
               int64_t *defer_until_ms, char *err, size_t errlen) {
    const char *arn = json_string_value(json_object_get(target, "Arn"));
    *retryable = false;
    if (arn && strstr(arn, ":api-destination/"))
        return call_api_destination(ev, target, body, retryable, defer_until_ms, err, errlen);
    if (arn && sl_str_has_prefix(arn, "arn:aws:ecs:") && strstr(arn, ":cluster/"))
        return run_ecs_task(ev, target, body, retryable, err, errlen);
    if (arn && sl_str_has_prefix(arn, "arn:aws:states:") && strstr(arn, ":stateMachine:")) {
        /* StartExecution with the (transformed) event as input, as AWS's target does */
        char exec_arn[512], code[64];
        if (!ev->states) {
            snprintf(err, errlen, "Step Functions is not running");
            *retryable = true;
            return -1;
        }
        if (sl_states_start(ev->states, arn, NULL, body, exec_arn, sizeof exec_arn, code,
                            sizeof code, err, errlen) == 0)
            return 0;
        *retryable = strcmp(code, "StateMachineDoesNotExist") != 0 &&
                     strcmp(code, "InvalidExecutionInput") != 0;
        return -1;
    }
    if (arn && sl_str_has_prefix(arn, "arn:aws:sns:"))
        return publish_to_topic(ev, arn, body, retryable, err, errlen);
    ev_target_supported(arn ? arn : "", err, errlen);
    return -1;
}
