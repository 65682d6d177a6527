/* router: protocol classification and service dispatch. Owns the service table and the
 * /_sluice/ endpoints; does no authentication (each protocol layer does, since what is signed
 * differs: S3 signs a declared payload hash, JSON services sign the body itself). */
#include "core/router.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/aws_error.h"

typedef struct route {
    char *key;
    sl_service_begin_fn fn;
    void *svc;
    struct route *next;
} route;

struct sl_router {
    route *json, *query, *rest, *links;
    sl_service_begin_fn s3_fn;
    void *s3_svc;
};

sl_router *sl_router_new(void) { return sl_xcalloc(1, sizeof(sl_router)); }

static void free_routes(route *r) {
    for (route *n; r; r = n) {
        n = r->next;
        free(r->key);
        free(r);
    }
}
void sl_router_free(sl_router *r) {
    if (!r) return;
    free_routes(r->json);
    free_routes(r->query);
    free_routes(r->rest);
    free_routes(r->links);
    free(r);
}

static void add(route **list, const char *key, sl_service_begin_fn fn, void *svc) {
    route *r = sl_xcalloc(1, sizeof *r);
    r->key = sl_xstrdup(key);
    r->fn = fn;
    r->svc = svc;
    r->next = *list;
    *list = r;
}
void sl_router_add_json(sl_router *r, const char *p, sl_service_begin_fn fn, void *svc) {
    add(&r->json, p, fn, svc);
}
void sl_router_add_query(sl_router *r, const char *p, sl_service_begin_fn fn, void *svc) {
    add(&r->query, p, fn, svc);
}
void sl_router_add_link(sl_router *r, const char *action, sl_service_begin_fn fn, void *svc) {
    add(&r->links, action, fn, svc);
}
void sl_router_add_rest(sl_router *r, const char *p, sl_service_begin_fn fn, void *svc) {
    add(&r->rest, p, fn, svc);
}
void sl_router_set_s3(sl_router *r, sl_service_begin_fn fn, void *svc) {
    r->s3_fn = fn;
    r->s3_svc = svc;
}

static void sluice_endpoint(sl_req *req) {
    if (!strcmp(req->raw_path, "/_sluice/health")) {
        static const char ok[] = "{\"status\":\"ok\"}\n";
        sl_resp_set(req, 200, "application/json", ok, sizeof ok - 1);
        return;
    }
    static const char nf[] = "{\"message\":\"no such Sluice endpoint\"}\n";
    sl_resp_set(req, 404, "application/json", nf, sizeof nf - 1);
}

/* Whether the query string has the parameter Action=action. */
static bool query_action_is(const char *query, const char *action) {
    size_t n = strlen(action);
    for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL)
        if (!strncmp(p, "Action=", 7) && !strncmp(p + 7, action, n) &&
            (p[7 + n] == 0 || p[7 + n] == '&'))
            return true;
    return false;
}

/* The service name in a SigV4 credential scope: .../date/region/SERVICE/aws4_request. */
static bool scope_service(const sl_req *req, char *out, size_t n) {
    const char *auth = sl_req_header(req, "Authorization");
    const char *cred = auth ? strstr(auth, "Credential=") : NULL;
    if (!cred) return false;
    const char *end = cred + strcspn(cred, ", ");
    const char *parts[5];
    int np = 0;
    for (const char *p = cred; p < end && np < 5; p++)
        if (*p == '/') parts[np++] = p + 1;
    if (np < 4) return false;
    size_t len = (size_t)(parts[3] - parts[2] - 1);
    if (len >= n) return false;
    memcpy(out, parts[2], len);
    out[len] = 0;
    return true;
}

void sl_router_begin(sl_req *req, void *ctx) {
    sl_router *r = ctx;
    if (!strncmp(req->raw_path, "/_sluice/", 9)) {
        /* services' own endpoints (task metadata) are REST routes under /_sluice/ */
        for (route *rt = r->rest; rt; rt = rt->next)
            if (!strncmp(rt->key, "/_sluice/", 9) &&
                !strncmp(req->raw_path, rt->key, strlen(rt->key)))
                return rt->fn(req, rt->svc);
        sluice_endpoint(req);
        return;
    }
    const char *target = sl_req_header(req, "X-Amz-Target");
    if (target) {
        for (route *rt = r->json; rt; rt = rt->next) {
            size_t n = strlen(rt->key);
            if (!strncmp(target, rt->key, n) && target[n] == '.') return rt->fn(req, rt->svc);
        }
        sl_json_error(req, 400, "UnknownOperationException",
                      "The operation named by X-Amz-Target is not served here");
        return;
    }
    for (route *rt = r->rest; rt; rt = rt->next)
        if (!strncmp(req->raw_path, rt->key, strlen(rt->key))) return rt->fn(req, rt->svc);
    if (!strcmp(req->method, "GET") && !strcmp(req->raw_path, "/") && req->raw_query[0] &&
        !sl_req_header(req, "Authorization"))
        for (route *rt = r->links; rt; rt = rt->next)
            if (query_action_is(req->raw_query, rt->key)) return rt->fn(req, rt->svc);
    const char *ctype = sl_req_header(req, "Content-Type");
    if (!strcmp(req->method, "POST") && !strcmp(req->raw_path, "/") && ctype &&
        !strncasecmp(ctype, "application/x-www-form-urlencoded", 33)) {
        char svc[32];
        if (scope_service(req, svc, sizeof svc)) {
            for (route *rt = r->query; rt; rt = rt->next)
                if (!strcmp(svc, rt->key)) return rt->fn(req, rt->svc);
            if (strcmp(svc, "s3") != 0) {
                sl_query_error(req, 400, "InvalidAction",
                               "The service named by the request is not served here");
                return;
            }
        }
    }
    if (r->s3_fn) return r->s3_fn(req, r->s3_svc);
    sl_s3_error(req, 501, "NotImplemented", "S3 is not enabled", NULL, NULL);
}
