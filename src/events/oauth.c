/* oauth: OAUTH_CLIENT_CREDENTIALS connections. Owns the access tokens: fetching one from the
 * connection's authorization endpoint (ClientID:ClientSecret as Basic authorization, plus the
 * OAuthHttpParameters: headers, query string, body as a form), parsing the answer, keeping it
 * for API destination calls until it is about to expire, and the connection state that follows
 * (AUTHORIZING → AUTHORIZED, or DEAUTHORIZED with a StateReason when the endpoint refuses).
 * Tokens live in memory only and only the dispatcher thread touches them: a restart simply
 * fetches a new one. Secrets never appear in a StateReason or a log line. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/curl_loader.h"
#include "core/ids.h"
#include "core/log.h"
#include "events/events_internal.h"

#define TOKEN_MAX_LEN     16384
#define TOKEN_ANSWER_MAX  65536
#define REFRESH_WINDOW_MS 60000                    /* AWS refreshes within 60 s of expiry */
#define MAX_EXPIRES_IN_S  (10LL * 365 * 24 * 3600) /* longer is "never" in practice */

/* ---- the token endpoint's answer ---- */

void ev_oauth_token_clear(ev_oauth_token *t) {
    free(t->access_token);
    memset(t, 0, sizeof *t);
}

/* expires_in as a number of seconds: an integer, a real or a numeric string (some servers
 * quote it). -1 when absent or unusable. */
static long long expires_in_seconds(const json_t *v) {
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return isfinite(d) && d >= 0 && d < (double)MAX_EXPIRES_IN_S ? (long long)d : -1;
    }
    const char *s = json_string_value(v);
    if (!s || !*s) return -1;
    long long n = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || n > MAX_EXPIRES_IN_S) return -1;
        n = n * 10 + (*p - '0');
    }
    return n;
}

int ev_oauth_parse_token(const char *body, size_t len, int64_t now_ms, ev_oauth_token *out,
                         char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(body ? body : "", len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        snprintf(err, errlen, "the authorization endpoint's answer is not a JSON object");
        return -1;
    }
    const char *token = json_string_value(json_object_get(o, "access_token"));
    size_t n = token ? json_string_length(json_object_get(o, "access_token")) : 0;
    if (!token || !n) {
        json_decref(o);
        snprintf(err, errlen, "the authorization endpoint's answer has no access_token");
        return -1;
    }
    if (n > TOKEN_MAX_LEN) {
        json_decref(o);
        snprintf(err, errlen, "the access_token is longer than %d bytes", TOKEN_MAX_LEN);
        return -1;
    }
    /* It goes into an Authorization header: printable ASCII only, no CR/LF smuggling. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)token[i] < 0x20 || (unsigned char)token[i] > 0x7e) {
            json_decref(o);
            snprintf(err, errlen, "the access_token has characters a header cannot carry");
            return -1;
        }
    long long expires = expires_in_seconds(json_object_get(o, "expires_in"));
    out->access_token = sl_xstrndup(token, n);
    out->obtained_ms = now_ms;
    out->expires_ms = expires > 0 && expires <= MAX_EXPIRES_IN_S ? now_ms + expires * 1000 : 0;
    json_decref(o);
    return 0;
}

bool ev_oauth_token_fresh(const ev_oauth_token *t, int64_t now_ms) {
    if (!t->access_token) return false;
    if (!t->expires_ms) return true;
    int64_t life = t->expires_ms - t->obtained_ms;
    int64_t window = life / 2 < REFRESH_WINDOW_MS ? life / 2 : REFRESH_WINDOW_MS;
    return now_ms < t->expires_ms - window;
}

/* ---- fetching a token ---- */

static size_t collect(char *p, size_t s, size_t n, void *u) {
    sl_buf *b = u;
    size_t len = s * n;
    if (b->len + len > TOKEN_ANSWER_MAX) return 0; /* aborts the transfer */
    sl_buf_append(b, p, len);
    return len;
}

static const char *kv_str(const json_t *kv, const char *field) {
    return json_string_value(json_object_get(kv, field));
}

/* Fetches a token for the connection spec. Returns 0, or -1 with err and *denied telling
 * whether the endpoint refused (a 4xx answer, or an answer without a usable token: the
 * connection is then deauthorized) rather than failed for a while (network, 5xx). */
static int fetch_token(sl_events *ev, const json_t *conn, ev_oauth_token *out, bool *denied,
                       char *err, size_t errlen) {
    *denied = false;
    json_t *o = json_object_get(json_object_get(conn, "AuthParameters"), "OAuthParameters");
    json_t *client = json_object_get(o, "ClientParameters");
    const char *endpoint = json_string_value(json_object_get(o, "AuthorizationEndpoint"));
    const char *method = json_string_value(json_object_get(o, "HttpMethod"));
    const char *id = json_string_value(json_object_get(client, "ClientID"));
    const char *secret = json_string_value(json_object_get(client, "ClientSecret"));
    if (!endpoint || !id || !secret) {
        *denied = true;
        snprintf(err, errlen, "the connection has no client credentials");
        return -1;
    }
    const sl_curl_api *cu = sl_curl(err, errlen);
    if (!cu) return -1;
    json_t *params = json_object_get(o, "OAuthHttpParameters");
    sl_buf url, form, answer;
    sl_buf_init(&url);
    sl_buf_init(&form);
    sl_buf_init(&answer);
    sl_buf_puts(&url, endpoint);
    bool first = true;
    size_t i;
    json_t *kv;
    json_array_foreach(json_object_get(params, "QueryStringParameters"), i, kv) {
        if (kv_str(kv, "Key") && kv_str(kv, "Value"))
            ev_http_query(&url, &first, kv_str(kv, "Key"), kv_str(kv, "Value"));
    }
    struct curl_slist *headers = ev_http_basic(cu, NULL, id, secret);
    headers = ev_http_header(cu, headers, "Accept", "application/json");
    headers = ev_http_header(cu, headers, "User-Agent", "Amazon/EventBridge/ApiDestinations");
    json_array_foreach(json_object_get(params, "HeaderParameters"), i, kv) {
        if (kv_str(kv, "Key") && kv_str(kv, "Value"))
            headers = ev_http_header(cu, headers, kv_str(kv, "Key"), kv_str(kv, "Value"));
    }
    bool has_body = !method || strcmp(method, "GET") != 0;
    if (has_body) {
        json_array_foreach(json_object_get(params, "BodyParameters"), i, kv) {
            const char *k = kv_str(kv, "Key"), *v = kv_str(kv, "Value");
            if (!k || !v) continue;
            if (form.len) sl_buf_putc(&form, '&');
            sl_buf_uri_encode(&form, k, strlen(k), false);
            sl_buf_putc(&form, '=');
            sl_buf_uri_encode(&form, v, strlen(v), false);
        }
        headers = ev_http_header(cu, headers, "Content-Type", "application/x-www-form-urlencoded");
    }
    CURL *curl = ev_http_handle(cu);
    cu->easy_reset(curl);
    cu->easy_setopt(curl, CURLOPT_URL, url.data);
    cu->easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method ? method : "POST");
    if (has_body) {
        cu->easy_setopt(curl, CURLOPT_POSTFIELDS, form.data ? form.data : "");
        cu->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)form.len);
    }
    cu->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    cu->easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    cu->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    cu->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    cu->easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    cu->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = cu->easy_perform(curl);
    long status = 0;
    cu->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    cu->slist_free_all(headers);
    int rc = -1;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "authorization endpoint %.300s: %s", endpoint, cu->easy_strerror(cc));
    } else if (status >= 200 && status <= 299) {
        char why[160];
        rc = ev_oauth_parse_token(answer.data, answer.len, sl_now_ms(), out, why, sizeof why);
        if (rc != 0) {
            *denied = true;
            snprintf(err, errlen, "authorization endpoint %.300s: %s", endpoint, why);
        }
    } else {
        *denied = status >= 400 && status <= 499;
        snprintf(err, errlen, "authorization endpoint %.300s answered HTTP %ld", endpoint, status);
    }
    sl_buf_free(&url);
    sl_buf_free(&form);
    sl_buf_free(&answer);
    return rc;
}

/* ---- connection state ---- */

typedef struct {
    const char *name;
    int64_t modified_ms; /* the version of the connection the outcome is about */
    const char *state;
    const char *reason;    /* NULL: none */
    int64_t authorized_ms; /* 0: unchanged */
    int changes;
} state_job;

/* Rewrites the connection's state inside its spec, unless the connection changed meanwhile
 * (an UpdateConnection or DeauthorizeConnection between fetch and write wins). */
static int set_state_job(sqlite3 *db, void *arg) {
    state_job *j = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT spec FROM event_connections WHERE name=?1 AND modified_ms=?2",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->modified_ms);
    json_t *spec = sqlite3_step(st) == SQLITE_ROW
                       ? json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL)
                       : NULL;
    sqlite3_finalize(st);
    if (!spec) return 0;
    json_object_set_new(spec, "ConnectionState", json_string(j->state));
    if (j->reason) json_object_set_new(spec, "StateReason", json_string(j->reason));
    else json_object_del(spec, "StateReason");
    if (j->authorized_ms)
        json_object_set_new(spec, "LastAuthorizedMs", json_integer(j->authorized_ms));
    char *text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    int rc = -1;
    if (sqlite3_prepare_v2(db, "UPDATE event_connections SET spec=?2 WHERE name=?1", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        j->changes = sqlite3_changes(db);
        sqlite3_finalize(st);
    }
    free(text);
    return rc;
}

static void set_state(sl_events *ev, const char *name, int64_t modified_ms, const char *state,
                      const char *reason, int64_t authorized_ms) {
    state_job j = {name, modified_ms, state, reason, authorized_ms, 0};
    if (sl_store_write(ev->store, set_state_job, &j) != 0)
        sl_error("\"connection state not saved\" connection=%s state=%s", name, state);
    else if (j.changes)
        sl_info("\"connection %s\" connection=%s%s%s", state, name, reason ? " reason=" : "",
                reason ? reason : "");
}

/* ---- the token cache (dispatcher thread only) ---- */

typedef struct ev_oauth_entry {
    char *name;
    int64_t modified_ms;
    ev_oauth_token token;
    struct ev_oauth_entry *next;
} ev_oauth_entry;

static ev_oauth_entry *entry_for(sl_events *ev, const char *name) {
    for (ev_oauth_entry *e = ev->oauth_tokens; e; e = e->next)
        if (!strcmp(e->name, name)) return e;
    ev_oauth_entry *e = sl_xcalloc(1, sizeof *e);
    e->name = sl_xstrdup(name);
    e->next = ev->oauth_tokens;
    ev->oauth_tokens = e;
    return e;
}

void ev_oauth_free(sl_events *ev) {
    ev_oauth_entry *e = ev->oauth_tokens;
    while (e) {
        ev_oauth_entry *next = e->next;
        free(e->name);
        ev_oauth_token_clear(&e->token);
        free(e);
        e = next;
    }
    ev->oauth_tokens = NULL;
}

/* Fetches a token into the entry and records the state it leads to. */
static int refresh(sl_events *ev, ev_oauth_entry *e, const json_t *conn, int64_t modified_ms,
                   bool *denied, char *err, size_t errlen) {
    ev_oauth_token_clear(&e->token);
    e->modified_ms = modified_ms;
    if (fetch_token(ev, conn, &e->token, denied, err, errlen) == 0) {
        set_state(ev, e->name, modified_ms, "AUTHORIZED", NULL, e->token.obtained_ms);
        return 0;
    }
    if (*denied) set_state(ev, e->name, modified_ms, "DEAUTHORIZED", err, 0);
    return -1;
}

char *ev_oauth_bearer(sl_events *ev, const char *name, const json_t *conn, int64_t modified_ms,
                      bool force, bool *retryable, char *err, size_t errlen) {
    /* One lock across the fetch: deliveries to one connection running side by side wait for
     * the token one of them is fetching instead of each fetching their own. */
    pthread_mutex_lock(&ev->oauth_mu);
    ev_oauth_entry *e = entry_for(ev, name);
    char *token = NULL;
    bool denied = false;
    if (!force && e->modified_ms == modified_ms && ev_oauth_token_fresh(&e->token, sl_now_ms()))
        token = sl_xstrdup(e->token.access_token);
    else if (refresh(ev, e, conn, modified_ms, &denied, err, errlen) == 0)
        token = sl_xstrdup(e->token.access_token);
    pthread_mutex_unlock(&ev->oauth_mu);
    /* No token: refused (the connection is now deauthorized until it is updated) or the
     * endpoint failed for a while. Either way the delivery retries within its policy. */
    if (!token) *retryable = true;
    return token;
}

void ev_oauth_request_authorization(sl_events *ev) {
    pthread_mutex_lock(&ev->mu);
    ev->oauth_pending = true;
    pthread_mutex_unlock(&ev->mu);
    ev_dispatch_kick(ev);
}

void ev_oauth_authorize_pending(sl_events *ev) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sl_store_reader(ev->store),
                           "SELECT name, spec, modified_ms FROM event_connections WHERE"
                           " json_extract(spec, '$.ConnectionState') = 'AUTHORIZING'",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    json_t *todo = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *spec = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        if (spec)
            json_array_append_new(todo,
                                  json_pack("[s,o,I]", (const char *)sqlite3_column_text(st, 0),
                                            spec, (json_int_t)sqlite3_column_int64(st, 2)));
    }
    sqlite3_finalize(st);
    size_t i;
    json_t *row;
    json_array_foreach(todo, i, row) {
        const char *name = json_string_value(json_array_get(row, 0));
        int64_t modified = json_integer_value(json_array_get(row, 2));
        char err[512];
        bool denied = false;
        pthread_mutex_lock(&ev->oauth_mu);
        ev_oauth_entry *e = entry_for(ev, name);
        /* The first authorization fails for good whatever the reason: the endpoint must answer. */
        if (refresh(ev, e, json_array_get(row, 1), modified, &denied, err, sizeof err) != 0 &&
            !denied)
            set_state(ev, name, modified, "DEAUTHORIZED", err, 0);
        pthread_mutex_unlock(&ev->oauth_mu);
    }
    json_decref(todo);
}
