/* api: S3's REST-XML wire. Works out bucket and key (path or virtual-host style), decodes the
 * query, authenticates (SigV4 header or presigned, SigV2 presigned), picks the operation and
 * how its body is read, and provides the response helpers the operation files share. The
 * operations themselves live in bucket_ops.c, object_ops.c, list_ops.c and multipart.c. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/credentials.h"
#include "core/aws_error.h"
#include "core/ids.h"
#include "core/log.h"
#include "objects/s3.h"

/* ---- response helpers ---- */

static const char *resource_of(const s3_call *c) { return c->req->raw_path; }

void s3_error(s3_call *c, int status, const char *code, const char *message) {
    sl_s3_error(c->req, status, code, message, resource_of(c), NULL);
}

void s3_error_key(s3_call *c, int status, const char *code, const char *message) {
    sl_buf extra;
    sl_buf_init(&extra);
    if (c->bucket) {
        sl_buf_puts(&extra, "<BucketName>");
        sl_buf_xml_escape(&extra, c->bucket, strlen(c->bucket));
        sl_buf_puts(&extra, "</BucketName>");
    }
    if (c->key) {
        sl_buf_puts(&extra, "<Key>");
        sl_buf_xml_escape(&extra, c->key, c->key_len);
        sl_buf_puts(&extra, "</Key>");
    }
    sl_s3_error(c->req, status, code, message, resource_of(c), extra.data);
    sl_buf_free(&extra);
}

void s3_no_such_bucket(s3_call *c) {
    sl_buf extra;
    sl_buf_init(&extra);
    sl_buf_puts(&extra, "<BucketName>");
    sl_buf_xml_escape(&extra, c->bucket, strlen(c->bucket));
    sl_buf_puts(&extra, "</BucketName>");
    sl_s3_error(c->req, 404, "NoSuchBucket", "The specified bucket does not exist", resource_of(c),
                extra.data);
    sl_buf_free(&extra);
}

void s3_internal_error(s3_call *c, const char *what) {
    sl_error("\"s3 internal error\" request_id=%s what=\"%s\"", c->req->request_id, what);
    s3_error(c, 500, "InternalError", "We encountered an internal error. Please try again.");
}

void s3_xml_begin(sl_buf *b, const char *root) {
    sl_buf_printf(b,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s "
                  "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
                  root);
}
void s3_xml_elem_n(sl_buf *b, const char *name, const char *text, size_t n) {
    sl_buf_printf(b, "<%s>", name);
    sl_buf_xml_escape(b, text, n);
    sl_buf_printf(b, "</%s>", name);
}
void s3_xml_elem(sl_buf *b, const char *name, const char *text) {
    s3_xml_elem_n(b, name, text ? text : "", text ? strlen(text) : 0);
}
void s3_xml_elem_u64(sl_buf *b, const char *name, uint64_t v) {
    sl_buf_printf(b, "<%s>%llu</%s>", name, (unsigned long long)v, name);
}
void s3_xml_time(sl_buf *b, const char *name, int64_t ms) {
    char t[32];
    sl_time_iso8601_ms(ms, t);
    sl_buf_printf(b, "<%s>%s</%s>", name, t, name);
}

void s3_xml_response(s3_call *c, int status, sl_buf *xml) {
    sl_resp_set(c->req, status ? status : 200, "application/xml", xml->data, xml->len);
}

/* ---- group commit with a suspended request ---- */

typedef struct {
    s3_call *call;
    sl_store_write_fn job;
    void *arg;
} commit_ctx;

static int commit_run(sqlite3 *db, void *arg) {
    commit_ctx *cc = arg;
    return cc->job(db, cc->arg);
}

static void commit_done(void *arg, int rc) {
    commit_ctx *cc = arg;
    s3_call *c = cc->call;
    free(cc);
    c->commit_rc = rc;
    c->committed = true;
    sl_req_resume(c->req);
}

void s3_commit(s3_call *c, sl_store_write_fn job, void *arg, s3_step_fn then) {
    commit_ctx *cc = sl_xmalloc(sizeof *cc);
    cc->call = c;
    cc->job = job;
    cc->arg = arg;
    c->then = then;
    c->committed = false;
    sl_req_suspend(c->req);
    sl_store_write_async(c->o->store, commit_run, commit_done, cc);
}

/* ---- query parameters ---- */

const char *s3_param_get(const s3_call *c, const char *name) {
    for (size_t i = 0; i < c->nparams; i++)
        if (!strcmp(c->params[i].name, name)) return c->params[i].value;
    return NULL;
}
bool s3_param_has(const s3_call *c, const char *name) { return s3_param_get(c, name) != NULL; }

static int parse_query(s3_call *c, const char *q) {
    size_t cap = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t nlen = eq ? (size_t)(eq - q) : len;
            if (c->nparams == cap) {
                cap = cap ? cap * 2 : 8;
                c->params = sl_xrealloc(c->params, cap * sizeof *c->params);
            }
            s3_param *p = &c->params[c->nparams];
            p->name = sl_xmalloc(nlen + 1);
            if (sl_uri_decode(q, nlen, p->name, true) < 0) {
                free(p->name);
                return -1;
            }
            size_t vlen = eq ? len - nlen - 1 : 0;
            p->value = sl_xmalloc(vlen + 1);
            if (sl_uri_decode(eq ? eq + 1 : "", vlen, p->value, true) < 0) {
                free(p->name);
                free(p->value);
                return -1;
            }
            p->has_value = eq != NULL;
            c->nparams++;
        }
        q += len + (amp ? 1 : 0);
    }
    return 0;
}

/* ---- addressing ---- */

/* Virtual-host style: the bucket is the leading label(s) of a host under a known S3 base
 * domain ("<bucket>.localhost", "<bucket>.s3.<region>.amazonaws.com", "<bucket>.s3.localhost...").
 * IP literals and bare hostnames are path style. */
static char *bucket_from_host(const char *host) {
    if (!host || !*host) return NULL;
    char h[512];
    size_t n = strlen(host);
    if (n >= sizeof h || host[0] == '[') return NULL;
    memcpy(h, host, n + 1);
    char *colon = strrchr(h, ':');
    if (colon) *colon = 0;
    for (char *p = h; *p; p++) *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    char *s3 = strstr(h, ".s3.");
    if (!s3) s3 = strstr(h, ".s3-");
    if (s3 && s3 != h) return sl_xstrndup(h, (size_t)(s3 - h));
    if (sl_str_has_suffix(h, ".localhost") && strlen(h) > 10) return sl_xstrndup(h, strlen(h) - 10);
    return NULL;
}

static int resolve_target(s3_call *c) {
    sl_req *req = c->req;
    size_t plen = strlen(req->raw_path);
    char *path = sl_xmalloc(plen + 1);
    long dlen = sl_uri_decode(req->raw_path, plen, path, false);
    if (dlen < 0) {
        free(path);
        return -1;
    }
    char *vbucket = bucket_from_host(sl_req_header(req, "Host"));
    const char *p = path[0] == '/' ? path + 1 : path;
    size_t rest = (size_t)dlen - (size_t)(p - path);
    if (vbucket) {
        c->bucket = vbucket;
        c->virtual_host = true;
        if (rest) {
            c->key = sl_xstrndup(p, rest);
            c->key_len = rest;
        }
    } else if (rest) {
        const char *slash = memchr(p, '/', rest);
        if (!slash) {
            c->bucket = sl_xstrndup(p, rest);
        } else {
            c->bucket = sl_xstrndup(p, (size_t)(slash - p));
            size_t klen = rest - (size_t)(slash - p) - 1;
            if (klen) {
                c->key = sl_xstrndup(slash + 1, klen);
                c->key_len = klen;
            }
        }
    }
    free(path);
    return 0;
}

/* ---- authentication ---- */

static const char *hdr_lookup(void *ctx, const char *name) { return sl_req_header(ctx, name); }
static void hdr_each(void *ctx, sl_header_visit_fn visit, void *arg) {
    sl_req_each_header(ctx, visit, arg);
}

static bool authenticate(s3_call *c) {
    sl_req *req = c->req;
    const char *payload = sl_req_header(req, "x-amz-content-sha256");
    sl_sigv4_request sr = {
        .method = req->method,
        .raw_path = req->raw_path,
        .raw_query = req->raw_query,
        .header = hdr_lookup,
        .header_ctx = req,
        .payload_hash = payload, /* NULL: the verifier asks for it where SigV4 needs it */
        .s3 = true,
        .now_ms = sl_now_ms(),
        .secret = sl_credentials_secret,
        .secret_ctx = c->o->credentials,
        .each_header = hdr_each,
        .virtual_host_bucket = c->virtual_host ? c->bucket : NULL,
    };
    sl_auth_status st = sl_sigv4_verify(&sr, &c->auth);
    if (st == SL_AUTH_OK) return true;
    const char *code = c->auth.code ? c->auth.code : "AccessDenied";
    int status = st == SL_AUTH_MALFORMED && strcmp(code, "AccessDenied") != 0 ? 400 : 403;
    s3_error(c, status, code, c->auth.message[0] ? c->auth.message : "Access Denied");
    return false;
}

/* ---- dispatch ---- */

typedef enum {
    OP_NONE,
    OP_LIST_BUCKETS,
    OP_CREATE_BUCKET,
    OP_DELETE_BUCKET,
    OP_HEAD_BUCKET,
    OP_GET_BUCKET_LOCATION,
    OP_GET_BUCKET_VERSIONING,
    OP_GET_BUCKET_ACL,
    OP_PUT_BUCKET_NOTIFICATION,
    OP_GET_BUCKET_NOTIFICATION,
    OP_LIST_OBJECTS,
    OP_LIST_OBJECTS_V2,
    OP_LIST_UPLOADS,
    OP_DELETE_OBJECTS,
    OP_PUT_OBJECT,
    OP_COPY_OBJECT,
    OP_GET_OBJECT,
    OP_HEAD_OBJECT,
    OP_DELETE_OBJECT,
    OP_GET_TAGGING,
    OP_PUT_TAGGING,
    OP_DELETE_TAGGING,
    OP_CREATE_MULTIPART,
    OP_UPLOAD_PART,
    OP_UPLOAD_PART_COPY,
    OP_COMPLETE_MULTIPART,
    OP_ABORT_MULTIPART,
    OP_LIST_PARTS,
} s3_op;

typedef struct {
    s3_call call;
    s3_op op;
} s3_request_state;

/* Query parameters each operation understands. Anything else names a sub-resource or option
 * Sluice does not serve, and is answered with NotImplemented rather than silently ignored. */
static const char *const op_params[] = {
    [OP_NONE] = "",
    [OP_LIST_BUCKETS] = " prefix max-buckets continuation-token bucket-region ",
    [OP_CREATE_BUCKET] = " ",
    [OP_DELETE_BUCKET] = " ",
    [OP_HEAD_BUCKET] = " ",
    [OP_GET_BUCKET_LOCATION] = " location ",
    [OP_GET_BUCKET_VERSIONING] = " versioning ",
    [OP_GET_BUCKET_ACL] = " acl ",
    [OP_PUT_BUCKET_NOTIFICATION] = " notification ",
    [OP_GET_BUCKET_NOTIFICATION] = " notification ",
    [OP_LIST_OBJECTS] = " prefix delimiter marker max-keys encoding-type ",
    [OP_LIST_OBJECTS_V2] = " list-type prefix delimiter continuation-token start-after max-keys "
                           "fetch-owner encoding-type ",
    [OP_LIST_UPLOADS] =
        " uploads prefix delimiter key-marker upload-id-marker max-uploads encoding-type ",
    [OP_DELETE_OBJECTS] = " delete ",
    [OP_PUT_OBJECT] = " ",
    [OP_COPY_OBJECT] = " ",
    [OP_GET_OBJECT] = " versionId partNumber response-cache-control response-content-disposition "
                      "response-content-encoding response-content-language response-content-type "
                      "response-expires ",
    [OP_HEAD_OBJECT] = " versionId partNumber response-cache-control response-content-disposition "
                       "response-content-encoding response-content-language response-content-type "
                       "response-expires ",
    [OP_DELETE_OBJECT] = " versionId ",
    [OP_GET_TAGGING] = " tagging versionId ",
    [OP_PUT_TAGGING] = " tagging versionId ",
    [OP_DELETE_TAGGING] = " tagging versionId ",
    [OP_CREATE_MULTIPART] = " uploads ",
    [OP_UPLOAD_PART] = " uploadId partNumber ",
    [OP_UPLOAD_PART_COPY] = " uploadId partNumber ",
    [OP_COMPLETE_MULTIPART] = " uploadId ",
    [OP_ABORT_MULTIPART] = " uploadId ",
    [OP_LIST_PARTS] = " uploadId max-parts part-number-marker encoding-type ",
};

/* Returns the first parameter op does not understand, or NULL. Authentication parameters
 * (presigned URLs), hoisted x-amz-* headers and botocore's x-id marker are always fine. */
static const char *unknown_param(const s3_call *c, s3_op op) {
    /* SigV2 presigned URLs carry the signed Content-Type (and Content-MD5) in the query. */
    static const char *const auth[] = {"AWSAccessKeyId", "Signature",   "Expires", "x-id",
                                       "content-type",   "content-md5", NULL};
    for (size_t i = 0; i < c->nparams; i++) {
        const char *n = c->params[i].name;
        if (!strncasecmp(n, "x-amz-", 6)) continue;
        bool ok = false;
        for (int j = 0; auth[j] && !ok; j++) ok = !strcmp(n, auth[j]);
        if (ok) continue;
        size_t len = strlen(n);
        const char *list = op_params[op];
        for (const char *p = strstr(list, n); p && !ok; p = strstr(p + 1, n))
            ok = p[-1] == ' ' && p[len] == ' ';
        if (!ok) return n;
    }
    return NULL;
}

static s3_op choose_op(s3_call *c) {
    const char *m = c->req->method;
    if (!c->bucket) return !strcmp(m, "GET") ? OP_LIST_BUCKETS : OP_NONE;
    if (!c->key) {
        if (!strcmp(m, "GET")) {
            if (s3_param_has(c, "location")) return OP_GET_BUCKET_LOCATION;
            if (s3_param_has(c, "uploads")) return OP_LIST_UPLOADS;
            if (s3_param_has(c, "versioning")) return OP_GET_BUCKET_VERSIONING;
            if (s3_param_has(c, "acl")) return OP_GET_BUCKET_ACL;
            if (s3_param_has(c, "notification")) return OP_GET_BUCKET_NOTIFICATION;
            const char *lt = s3_param_get(c, "list-type");
            return lt && !strcmp(lt, "2") ? OP_LIST_OBJECTS_V2 : OP_LIST_OBJECTS;
        }
        if (!strcmp(m, "PUT"))
            return s3_param_has(c, "notification") ? OP_PUT_BUCKET_NOTIFICATION : OP_CREATE_BUCKET;
        if (!strcmp(m, "HEAD")) return OP_HEAD_BUCKET;
        if (!strcmp(m, "DELETE")) return OP_DELETE_BUCKET;
        if (!strcmp(m, "POST") && s3_param_has(c, "delete")) return OP_DELETE_OBJECTS;
        return OP_NONE;
    }
    bool upload_id = s3_param_has(c, "uploadId");
    bool tagging = s3_param_has(c, "tagging");
    bool copy = sl_req_header(c->req, "x-amz-copy-source") != NULL;
    if (!strcmp(m, "PUT")) {
        if (upload_id && s3_param_has(c, "partNumber"))
            return copy ? OP_UPLOAD_PART_COPY : OP_UPLOAD_PART;
        if (tagging) return OP_PUT_TAGGING;
        return copy ? OP_COPY_OBJECT : OP_PUT_OBJECT;
    }
    if (!strcmp(m, "GET")) {
        if (upload_id) return OP_LIST_PARTS;
        if (tagging) return OP_GET_TAGGING;
        return OP_GET_OBJECT;
    }
    if (!strcmp(m, "HEAD")) return OP_HEAD_OBJECT;
    if (!strcmp(m, "DELETE")) {
        if (upload_id) return OP_ABORT_MULTIPART;
        if (tagging) return OP_DELETE_TAGGING;
        return OP_DELETE_OBJECT;
    }
    if (!strcmp(m, "POST")) {
        if (s3_param_has(c, "uploads")) return OP_CREATE_MULTIPART;
        if (upload_id) return OP_COMPLETE_MULTIPART;
    }
    return OP_NONE;
}

/* For buffered bodies: the declared SHA-256 and Content-MD5 must match what arrived. */
static bool verify_buffered_body(s3_call *c) {
    sl_req *req = c->req;
    if (req->body_too_large) {
        s3_error(c, 400, "MaxMessageLengthExceeded", "Your request was too big.");
        return false;
    }
    const char *declared = sl_req_header(req, "x-amz-content-sha256");
    if (declared && strlen(declared) == 64 && !c->auth.presigned) {
        unsigned char d[32];
        char hex[65];
        EVP_Digest(req->body.data ? req->body.data : "", req->body.len, d, NULL, EVP_sha256(),
                   NULL);
        sl_hex_encode(d, 32, hex);
        if (strcasecmp(hex, declared) != 0) {
            s3_error(
                c, 400, "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.");
            return false;
        }
    }
    const char *md5 = sl_req_header(req, "Content-MD5");
    if (md5) {
        unsigned char d[16], given[18];
        /* 16 bytes are 24 base64 characters: check before decoding into the buffer. */
        if (strlen(md5) != 24 || sl_base64_decode(md5, 24, given) != 16) {
            s3_error(c, 400, "InvalidDigest", "The Content-MD5 you specified is not valid.");
            return false;
        }
        EVP_Digest(req->body.data ? req->body.data : "", req->body.len, d, NULL, EVP_md5(), NULL);
        if (memcmp(d, given, 16) != 0) {
            s3_error(c, 400, "BadDigest",
                     "The Content-MD5 you specified did not match what we received.");
            return false;
        }
    }
    return true;
}

static void run_op(s3_request_state *rs) {
    s3_call *c = &rs->call;
    switch (rs->op) {
    case OP_LIST_BUCKETS: s3_list_buckets(c); break;
    case OP_CREATE_BUCKET: s3_create_bucket(c); break;
    case OP_DELETE_BUCKET: s3_delete_bucket(c); break;
    case OP_HEAD_BUCKET: s3_head_bucket(c); break;
    case OP_GET_BUCKET_LOCATION: s3_get_bucket_location(c); break;
    case OP_GET_BUCKET_VERSIONING: s3_get_bucket_versioning(c); break;
    case OP_GET_BUCKET_ACL: s3_get_bucket_acl(c); break;
    case OP_PUT_BUCKET_NOTIFICATION: s3_put_bucket_notification(c); break;
    case OP_GET_BUCKET_NOTIFICATION: s3_get_bucket_notification(c); break;
    case OP_LIST_OBJECTS: s3_list_objects(c, false); break;
    case OP_LIST_OBJECTS_V2: s3_list_objects(c, true); break;
    case OP_LIST_UPLOADS: s3_list_multipart_uploads(c); break;
    case OP_DELETE_OBJECTS: s3_delete_objects(c); break;
    case OP_PUT_OBJECT: s3_put_object_complete(c); break;
    case OP_COPY_OBJECT: s3_copy_object(c); break;
    case OP_GET_OBJECT: s3_get_object(c, false); break;
    case OP_HEAD_OBJECT: s3_get_object(c, true); break;
    case OP_DELETE_OBJECT: s3_delete_object(c); break;
    case OP_GET_TAGGING: s3_get_object_tagging(c); break;
    case OP_PUT_TAGGING: s3_put_object_tagging(c); break;
    case OP_DELETE_TAGGING: s3_delete_object_tagging(c); break;
    case OP_CREATE_MULTIPART: s3_create_multipart(c); break;
    case OP_UPLOAD_PART: s3_upload_part_complete(c); break;
    case OP_UPLOAD_PART_COPY: s3_upload_part_copy(c); break;
    case OP_COMPLETE_MULTIPART: s3_complete_multipart(c); break;
    case OP_ABORT_MULTIPART: s3_abort_multipart(c); break;
    case OP_LIST_PARTS: s3_list_parts(c); break;
    case OP_NONE: break;
    }
}

static void on_complete(sl_req *req) {
    s3_request_state *rs = req->state;
    s3_call *c = &rs->call;
    if (c->then) {
        s3_step_fn then = c->then;
        c->then = NULL;
        then(c);
        return;
    }
    if (!rs->call.upload && !verify_buffered_body(c)) return;
    run_op(rs);
}

static int on_body(sl_req *req, const char *data, size_t n) {
    s3_request_state *rs = req->state;
    return upload_feed(&rs->call, data, n);
}

static void on_free(sl_req *req) {
    s3_request_state *rs = req->state;
    if (!rs) return;
    s3_call *c = &rs->call;
    if (c->upload) upload_free(c->o, c->upload);
    if (c->op_state_free) c->op_state_free(c->op_state);
    for (size_t i = 0; i < c->nparams; i++) {
        free(c->params[i].name);
        free(c->params[i].value);
    }
    free(c->params);
    free(c->bucket);
    free(c->key);
    free(rs);
    req->state = NULL;
}

static void s3_begin(sl_req *req, void *svc) {
    s3_request_state *rs = sl_xcalloc(1, sizeof *rs);
    s3_call *c = &rs->call;
    c->o = svc;
    c->req = req;
    req->state = rs;
    req->on_free = on_free;
    sl_resp_header_add(req, "x-amz-request-id", req->request_id);
    sl_resp_header_add(req, "x-amz-id-2", req->request_id);
    sl_resp_header_add(req, "Server", "Sluice");

    if (resolve_target(c) != 0 || parse_query(c, req->raw_query) != 0) {
        s3_error(c, 400, "InvalidURI", "Couldn't parse the specified URI.");
        return;
    }
    if (!authenticate(c)) return;
    if (c->key && c->key_len > S3_MAX_KEY) {
        s3_error(c, 400, "KeyTooLongError", "Your key is too long");
        return;
    }
    rs->op = choose_op(c);
    const char *unknown = rs->op == OP_NONE ? NULL : unknown_param(c, rs->op);
    if (rs->op == OP_NONE && c->nparams) unknown = c->params[0].name;
    if (unknown) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "A header you provided implies functionality that is not implemented: "
                 "Sluice does not serve the '%.60s' sub-resource or option for %s requests",
                 unknown, req->method);
        s3_error(c, 501, "NotImplemented", msg);
        return;
    }
    if (rs->op == OP_NONE) {
        s3_error(c, 405, "MethodNotAllowed",
                 "The specified method is not allowed against this resource.");
        return;
    }
    const char *version = s3_param_get(c, "versionId");
    if (version && strcmp(version, "null") != 0) {
        s3_error(c, 404, "NoSuchVersion", "The specified version does not exist.");
        return;
    }
    req->on_complete = on_complete;
    if (rs->op == OP_PUT_OBJECT || rs->op == OP_UPLOAD_PART) {
        sl_ck_algo part_algo = SL_CK_NONE;
        if (rs->op == OP_UPLOAD_PART) {
            /* Refuse before the body arrives: a part for no upload is wasted bandwidth. */
            bool exists;
            part_algo = s3_upload_part_algo(c, &exists);
            if (!exists) {
                if (!s3_bucket_exists(c, c->bucket)) return s3_no_such_bucket(c);
                s3_error(c, 404, "NoSuchUpload",
                         "The specified upload does not exist. The upload ID may be invalid, or "
                         "the upload may "
                         "have been aborted or completed.");
                return;
            }
        }
        c->upload = upload_begin(c, rs->op == OP_UPLOAD_PART, part_algo);
        if (!c->upload) return;
        req->on_body = on_body;
    } else {
        req->body_limit = 4u << 20;
    }
}

void sl_objects_register(sl_objects *o, sl_router *router) {
    sl_router_set_s3(router, s3_begin, o);
}
