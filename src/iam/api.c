/* api: IAM's Query protocol. A call is `POST /` with a form-encoded body (Action=CreateRole,
 * Version=2010-05-08, the operation's parameters, list members as Tags.member.N.Key) signed
 * with SigV4 for the service "iam"; the answer is XML in IAM's namespace:
 * <ActionResponse><ActionResult>...</ActionResult><ResponseMetadata/></ActionResponse>, or
 * <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>. Policy
 * documents go back URL-encoded, as IAM sends them (botocore decodes them again).
 * This file owns the wire: decoding, authentication, input constraints, XML. The rows are
 * iam.c's. An action not listed in `ops` answers InvalidAction, as IAM does. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/ids.h"
#include "iam/iam_internal.h"

#define IAM_XMLNS    "https://iam.amazonaws.com/doc/2010-05-08/"
#define IAM_VERSION  "2010-05-08"
#define BODY_LIMIT   (1u << 20)
#define DEFAULT_MAX  100
#define TAGS_MAX     50
#define ROLE_NAME_RE "[\\w+=,.@-]+"

typedef struct {
    sl_req *req;
    sl_iam *iam;
    sl_form form;
    const char *action;
} iam_call;

/* ---- answers ---- */

#define fail(c, status, code, ...) sl_query_failf((c)->req, IAM_XMLNS, status, code, __VA_ARGS__)

static void service_failure(iam_call *c) {
    fail(c, 500, "ServiceFailure", "The request was not applied; see the daemon's log.");
}

static void reply_begin(iam_call *c, sl_buf *b, bool result) {
    sl_query_reply_begin(b, IAM_XMLNS, c->action, result);
}

static void reply_end(iam_call *c, sl_buf *b, bool result) {
    sl_query_reply_end(c->req, b, c->action, result);
}

static void reply_empty(iam_call *c) {
    sl_buf b;
    reply_begin(c, &b, false);
    reply_end(c, &b, false);
}

#define xml_text sl_query_xml_text

/* IAM returns policy documents URL-encoded (RFC 3986). */
static void xml_document(sl_buf *b, const char *tag, const char *doc) {
    sl_buf enc;
    sl_buf_init(&enc);
    sl_buf_uri_encode(&enc, doc, strlen(doc), false);
    xml_text(b, tag, enc.data ? enc.data : "");
    sl_buf_free(&enc);
}

static void xml_tags(sl_buf *b, const char *tags_json) {
    json_t *tags = json_loads(tags_json ? tags_json : "[]", 0, NULL);
    if (json_array_size(tags)) sl_query_xml_tags(b, tags);
    json_decref(tags);
}

typedef enum {
    ROLE_LISTED,
    ROLE_CREATED,
    ROLE_FULL
} role_view;

/* A Role element; ListRoles leaves out Tags and RoleLastUsed, as IAM does. */
static void xml_role(iam_call *c, sl_buf *b, const char *tag, const iam_role *r, role_view view) {
    char arn[800], created[32];
    iam_role_arn(c->iam, r, arn, sizeof arn);
    time_t t = (time_t)(r->created_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sl_buf_printf(b, "<%s>", tag);
    xml_text(b, "Path", r->path);
    xml_text(b, "RoleName", r->name);
    xml_text(b, "RoleId", r->role_id);
    xml_text(b, "Arn", arn);
    xml_text(b, "CreateDate", created);
    xml_document(b, "AssumeRolePolicyDocument", r->assume_role_policy);
    if (r->description) xml_text(b, "Description", r->description);
    sl_buf_printf(b, "<MaxSessionDuration>%d</MaxSessionDuration>", r->max_session_duration);
    if (view != ROLE_LISTED) xml_tags(b, r->tags);
    if (view == ROLE_FULL) sl_buf_puts(b, "<RoleLastUsed/>");
    sl_buf_printf(b, "</%s>", tag);
}

/* ---- input ---- */

/* IAM's ValidationError: "1 validation error detected: Value 'x' at 'roleName' failed to
 * satisfy constraint: Member must ..." (the field named in lower camel case). */
static void invalid(iam_call *c, const char *value, const char *field, const char *constraint) {
    char camel[64];
    snprintf(camel, sizeof camel, "%s", field);
    if (camel[0] >= 'A' && camel[0] <= 'Z') camel[0] = (char)(camel[0] - 'A' + 'a');
    if (!value)
        return fail(c, 400, "ValidationError",
                    "1 validation error detected: Value null at '%s' failed to satisfy "
                    "constraint: Member must not be null",
                    camel);
    fail(c, 400, "ValidationError",
         "1 validation error detected: Value '%.200s' at '%s' failed to satisfy constraint: "
         "Member must %s",
         value, camel, constraint);
}

static const char *param(iam_call *c, const char *name) { return sl_form_get(&c->form, name); }

/* A required role name, or NULL after answering the error. */
static const char *role_name_param(iam_call *c) {
    const char *name = param(c, "RoleName");
    if (!name) return invalid(c, NULL, "RoleName", NULL), NULL;
    if (!*name || strlen(name) > 64)
        return invalid(c, name, "RoleName", "have length between 1 and 64"), NULL;
    if (!iam_name_valid(name, 64))
        return invalid(c, name, "RoleName", "satisfy regular expression pattern: " ROLE_NAME_RE),
               NULL;
    return name;
}

static const char *policy_name_param(iam_call *c) {
    const char *name = param(c, "PolicyName");
    if (!name) return invalid(c, NULL, "PolicyName", NULL), NULL;
    if (!*name || strlen(name) > 128)
        return invalid(c, name, "PolicyName", "have length between 1 and 128"), NULL;
    if (!iam_name_valid(name, 128))
        return invalid(c, name, "PolicyName", "satisfy regular expression pattern: " ROLE_NAME_RE),
               NULL;
    return name;
}

/* A required policy document that parses as IAM's grammar, or NULL after the error. */
static const char *document_param(iam_call *c, const char *field, bool trust) {
    const char *doc = param(c, field);
    if (!doc) return invalid(c, NULL, field, NULL), NULL;
    if (!iam_document_chars_valid(doc))
        return invalid(c, doc, field,
                       "satisfy regular expression pattern: "
                       "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+ and have length between 1 "
                       "and 131072"),
               NULL;
    char err[256];
    if (iam_policy_check(doc, trust, err, sizeof err) != 0)
        return fail(c, 400, "MalformedPolicyDocument", "%s", err), NULL;
    return doc;
}

/* An optional integer in [lo, hi]: *out keeps its default when absent. */
static bool int_param(iam_call *c, const char *field, int lo, int hi, int *out) {
    const char *v = param(c, field);
    if (!v) return true;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        char constraint[96];
        snprintf(constraint, sizeof constraint, "have value between %d and %d", lo, hi);
        invalid(c, v, field, constraint);
        return false;
    }
    *out = (int)n;
    return true;
}

static bool marker_param(iam_call *c, const char **marker) {
    *marker = param(c, "Marker");
    if (*marker && (!**marker || strlen(*marker) > 320)) {
        invalid(c, *marker, "Marker", "have length between 1 and 320");
        return false;
    }
    return true;
}

/* Tags.member.N.Key/Value as a JSON list; NULL after answering the error. */
static json_t *tags_param(iam_call *c) {
    json_t *tags = json_array();
    for (size_t i = 1;; i++) {
        const char *key = sl_form_getf(&c->form, "Tags.member.%zu.Key", i);
        const char *value = sl_form_getf(&c->form, "Tags.member.%zu.Value", i);
        if (!key && !value) break;
        if (i > TAGS_MAX) {
            json_decref(tags);
            return fail(c, 400, "LimitExceeded", "Cannot exceed quota for TagsPerRole: 50."), NULL;
        }
        if (!key || !value) {
            json_decref(tags);
            return invalid(c, NULL, key ? "tags.member.value" : "tags.member.key", NULL), NULL;
        }
        size_t kl = iam_utf8_length(key), vl = iam_utf8_length(value);
        if (kl < 1 || kl > 128 || vl > 256) {
            json_decref(tags);
            return invalid(c, kl < 1 || kl > 128 ? key : value,
                           kl < 1 || kl > 128 ? "tags.member.key" : "tags.member.value",
                           kl < 1 || kl > 128 ? "have length between 1 and 128"
                                              : "have length less than or equal to 256"),
                   NULL;
        }
        size_t j;
        json_t *t;
        json_array_foreach(tags, j, t) {
            if (!strcasecmp(json_string_value(json_object_get(t, "Key")), key)) {
                json_decref(tags);
                return fail(c, 400, "InvalidInput",
                            "Duplicate tag keys found. Please note that Tag keys are case "
                            "insensitive."),
                       NULL;
            }
        }
        json_array_append_new(tags, json_pack("{s:s,s:s}", "Key", key, "Value", value));
    }
    return tags;
}

/* ---- operations ---- */

static void no_role(iam_call *c, const char *name) {
    fail(c, 404, "NoSuchEntity", "The role with name %s cannot be found.", name);
}

static void op_create_role(iam_call *c) {
    const char *name = role_name_param(c);
    if (!name) return;
    const char *path = param(c, "Path");
    if (path && !iam_path_valid(path))
        return invalid(c, path, "Path",
                       "satisfy regular expression pattern: "
                       "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)");
    const char *description = param(c, "Description");
    if (description && iam_utf8_length(description) > 1000)
        return invalid(c, description, "Description", "have length less than or equal to 1000");
    int max_session = 3600;
    if (!int_param(c, "MaxSessionDuration", 3600, 43200, &max_session)) return;
    if (param(c, "PermissionsBoundary"))
        return fail(c, 400, "InvalidInput",
                    "Sluice does not support permissions boundaries (docs/iam.md).");
    const char *doc = document_param(c, "AssumeRolePolicyDocument", true);
    if (!doc) return;
    json_t *tags = tags_param(c);
    if (!tags) return;
    char id[22];
    iam_role_id_new(id);
    char *tags_text = json_dumps(tags, JSON_COMPACT);
    json_decref(tags);
    iam_role r = {.name = (char *)name,
                  .role_id = id,
                  .path = (char *)(path ? path : "/"),
                  .created_ms = sl_now_ms(),
                  .assume_role_policy = (char *)doc,
                  .description = (char *)description,
                  .max_session_duration = max_session,
                  .tags = tags_text};
    iam_status s = iam_role_create(c->iam, &r);
    if (s == IAM_EXISTS)
        fail(c, 409, "EntityAlreadyExists", "Role with name %s already exists.", name);
    else if (s != IAM_OK) service_failure(c);
    else {
        sl_buf b;
        reply_begin(c, &b, true);
        xml_role(c, &b, "Role", &r, ROLE_CREATED);
        reply_end(c, &b, true);
    }
    free(tags_text);
}

static void op_get_role(iam_call *c) {
    const char *name = role_name_param(c);
    if (!name) return;
    iam_role r;
    iam_status s = iam_role_get(c->iam, name, &r);
    if (s == IAM_NO_ROLE) return no_role(c, name);
    if (s != IAM_OK) return service_failure(c);
    sl_buf b;
    reply_begin(c, &b, true);
    xml_role(c, &b, "Role", &r, ROLE_FULL);
    reply_end(c, &b, true);
    iam_role_free(&r);
}

static void op_delete_role(iam_call *c) {
    const char *name = role_name_param(c);
    if (!name) return;
    iam_status s = iam_role_delete(c->iam, name);
    if (s == IAM_NO_ROLE) return no_role(c, name);
    if (s == IAM_HAS_POLICIES)
        return fail(c, 409, "DeleteConflict", "Cannot delete entity, must delete policies first.");
    if (s != IAM_OK) return service_failure(c);
    reply_empty(c);
}

static void op_list_roles(iam_call *c) {
    const char *prefix = param(c, "PathPrefix"), *marker;
    if (prefix && !iam_path_prefix_valid(prefix))
        return invalid(c, prefix, "PathPrefix",
                       "satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*");
    int max = DEFAULT_MAX;
    if (!int_param(c, "MaxItems", 1, 1000, &max) || !marker_param(c, &marker)) return;
    iam_role *roles;
    size_t n;
    bool truncated;
    if (iam_roles_list(c->iam, prefix, marker, max, &roles, &n, &truncated) != IAM_OK)
        return service_failure(c);
    sl_buf b;
    reply_begin(c, &b, true);
    sl_buf_printf(&b, "<IsTruncated>%s</IsTruncated><Roles>", truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) xml_role(c, &b, "member", &roles[i], ROLE_LISTED);
    sl_buf_puts(&b, "</Roles>");
    if (truncated) xml_text(&b, "Marker", roles[n - 1].name);
    reply_end(c, &b, true);
    for (size_t i = 0; i < n; i++) iam_role_free(&roles[i]);
    free(roles);
}

static void op_update_assume_role_policy(iam_call *c) {
    const char *name = role_name_param(c);
    if (!name) return;
    const char *doc = document_param(c, "PolicyDocument", true);
    if (!doc) return;
    iam_status s = iam_role_set_trust(c->iam, name, doc);
    if (s == IAM_NO_ROLE) return no_role(c, name);
    if (s != IAM_OK) return service_failure(c);
    reply_empty(c);
}

static void op_put_role_policy(iam_call *c) {
    const char *role = role_name_param(c);
    if (!role) return;
    const char *name = policy_name_param(c);
    if (!name) return;
    const char *doc = document_param(c, "PolicyDocument", false);
    if (!doc) return;
    iam_status s = iam_policy_put(c->iam, role, name, doc);
    if (s == IAM_NO_ROLE) return no_role(c, role);
    if (s != IAM_OK) return service_failure(c);
    reply_empty(c);
}

static void no_policy(iam_call *c, const char *name) {
    fail(c, 404, "NoSuchEntity", "The role policy with name %s cannot be found.", name);
}

static void op_get_role_policy(iam_call *c) {
    const char *role = role_name_param(c);
    if (!role) return;
    const char *name = policy_name_param(c);
    if (!name) return;
    char *role_name, *doc;
    iam_status s = iam_policy_get(c->iam, role, name, &role_name, &doc);
    if (s == IAM_NO_ROLE) return no_role(c, role);
    if (s == IAM_NO_POLICY) return no_policy(c, name);
    if (s != IAM_OK) return service_failure(c);
    sl_buf b;
    reply_begin(c, &b, true);
    xml_text(&b, "RoleName", role_name);
    xml_text(&b, "PolicyName", name);
    xml_document(&b, "PolicyDocument", doc);
    reply_end(c, &b, true);
    free(role_name);
    free(doc);
}

static void op_delete_role_policy(iam_call *c) {
    const char *role = role_name_param(c);
    if (!role) return;
    const char *name = policy_name_param(c);
    if (!name) return;
    iam_status s = iam_policy_delete(c->iam, role, name);
    if (s == IAM_NO_ROLE) return no_role(c, role);
    if (s == IAM_NO_POLICY) return no_policy(c, name);
    if (s != IAM_OK) return service_failure(c);
    reply_empty(c);
}

static void op_list_role_policies(iam_call *c) {
    const char *role = role_name_param(c), *marker;
    if (!role) return;
    int max = DEFAULT_MAX;
    if (!int_param(c, "MaxItems", 1, 1000, &max) || !marker_param(c, &marker)) return;
    char **names;
    size_t n;
    bool truncated;
    iam_status s = iam_policies_list(c->iam, role, marker, max, &names, &n, &truncated);
    if (s == IAM_NO_ROLE) return no_role(c, role);
    if (s != IAM_OK) return service_failure(c);
    sl_buf b;
    reply_begin(c, &b, true);
    sl_buf_printf(&b, "<IsTruncated>%s</IsTruncated><PolicyNames>", truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) xml_text(&b, "member", names[i]);
    sl_buf_puts(&b, "</PolicyNames>");
    if (truncated) xml_text(&b, "Marker", names[n - 1]);
    reply_end(c, &b, true);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static const struct {
    const char *action;
    void (*fn)(iam_call *c);
} ops[] = {
    {"CreateRole", op_create_role},
    {"GetRole", op_get_role},
    {"DeleteRole", op_delete_role},
    {"ListRoles", op_list_roles},
    {"UpdateAssumeRolePolicy", op_update_assume_role_policy},
    {"PutRolePolicy", op_put_role_policy},
    {"GetRolePolicy", op_get_role_policy},
    {"DeleteRolePolicy", op_delete_role_policy},
    {"ListRolePolicies", op_list_role_policies},
};

/* ---- framing ---- */

static void on_complete(sl_req *req) {
    iam_call *c = req->state;
    c->action = "";
    if (req->body_too_large)
        return fail(c, 413, "RequestEntityTooLarge", "The request body is larger than 1 MiB.");
    if (!sl_query_authenticate(req, c->iam->credentials, IAM_XMLNS)) return;
    char err[256];
    if (sl_form_parse(&c->form, req->body.data ? req->body.data : "", req->body.len, err,
                      sizeof err) != 0)
        return fail(c, 400, "MalformedQueryString", "%s", err);
    const char *action = param(c, "Action");
    if (!action) return fail(c, 400, "MissingAction", "Missing Action");
    const char *version = param(c, "Version");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].action, action) != 0) continue;
        if (version && strcmp(version, IAM_VERSION) != 0)
            return fail(c, 400, "InvalidAction", "Could not find operation %.64s for version %.32s",
                        action, version);
        c->action = ops[i].action;
        return ops[i].fn(c);
    }
    fail(c, 400, "InvalidAction", "Could not find operation %.64s for version %.32s", action,
         version ? version : IAM_VERSION);
}

static void call_free(sl_req *req) {
    iam_call *c = req->state;
    if (!c) return;
    sl_form_free(&c->form);
    free(c);
    req->state = NULL;
}

static void begin(sl_req *req, void *svc) {
    iam_call *c = sl_xcalloc(1, sizeof *c);
    c->req = req;
    c->iam = svc;
    req->state = c;
    req->on_free = call_free;
    req->on_complete = on_complete;
    req->body_limit = BODY_LIMIT;
    sl_resp_header_add(req, "x-amzn-RequestId", req->request_id);
}

void sl_iam_register(sl_iam *iam, sl_router *router) {
    sl_router_add_query(router, "iam", begin, iam);
}
