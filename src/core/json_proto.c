/* json_proto: AWS JSON protocol framing, authentication and operation dispatch. */
#include "core/json_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/credentials.h"
#include "core/aws_error.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/req_sigv4.h"

static void call_free(sl_req *req) {
    sl_json_call *call = req->state;
    if (!call) return;
    if (call->state_free) call->state_free(call->state);
    json_decref(call->input);
    free(call);
    req->state = NULL;
}

void sl_json_reply(sl_json_call *call, json_t *output) {
    if (!output) output = json_object();
    char *s = json_dumps(output, JSON_COMPACT);
    json_decref(output);
    sl_resp_set(call->req, 200, call->service->content_type, s, strlen(s));
    free(s);
}

void sl_json_fail(sl_json_call *call, int status, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s,s:s}", "__type", code, "message", msg);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    sl_resp_header_add(call->req, "x-amzn-ErrorType", code);
    sl_resp_set(call->req, status, call->service->content_type, s, strlen(s));
    free(s);
}

void sl_json_wait(sl_json_call *call, void (*then)(sl_json_call *call)) {
    call->then = then;
    sl_req_suspend(call->req);
}

void sl_json_wake(sl_json_call *call) { sl_req_resume(call->req); }

json_t *sl_json_recase(const json_t *v, bool upper) {
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) { json_array_append_new(a, sl_json_recase(x, upper)); }
        return a;
    }
    if (!json_is_object(v)) return json_deep_copy(v);
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        char name[256];
        snprintf(name, sizeof name, "%s", k);
        if (upper && name[0] >= 'a' && name[0] <= 'z') name[0] = (char)(name[0] - 'a' + 'A');
        if (!upper && name[0] >= 'A' && name[0] <= 'Z') name[0] = (char)(name[0] - 'A' + 'a');
        json_object_set_new(o, name, sl_json_recase(x, upper));
    }
    return o;
}

const char *sl_json_str(json_t *in, const char *field) {
    return json_string_value(json_object_get(in, field));
}

const char *sl_json_str_req(sl_json_call *call, json_t *in, const char *field) {
    json_t *v = json_object_get(in, field);
    if (!v) {
        sl_json_fail(call, 400, "ValidationException",
                     "1 validation error detected: Value null at '%s' failed to satisfy "
                     "constraint: Member must "
                     "not be null",
                     field);
        return NULL;
    }
    if (!json_is_string(v)) {
        sl_json_fail(call, 400, "SerializationException", "Expected a string for '%s'", field);
        return NULL;
    }
    return json_string_value(v);
}

bool sl_json_type_ok(sl_json_call *call, json_t *in, const char *field, json_type type) {
    json_t *v = json_object_get(in, field);
    if (!v || json_typeof(v) == type) return true;
    static const char *const names[] = {"an object", "an array",  "a string",  "an integer",
                                        "a number",  "a boolean", "a boolean", "null"};
    sl_json_fail(call, 400, "SerializationException", "Expected %s for '%s'", names[type], field);
    return false;
}

static bool authenticate(sl_json_call *call) {
    switch (sl_req_verify_sigv4(call->req, call->service->credentials, &call->auth)) {
    case SL_AUTH_OK: return true;
    case SL_AUTH_ANONYMOUS:
        sl_json_fail(call, 400, "MissingAuthenticationTokenException",
                     "Missing Authentication Token");
        break;
    case SL_AUTH_UNKNOWN_KEY:
        sl_json_fail(call, 400, "UnrecognizedClientException",
                     "The security token included in the request is invalid.");
        break;
    case SL_AUTH_SKEWED:
    case SL_AUTH_EXPIRED:
        sl_json_fail(call, 400, "InvalidSignatureException", "Signature expired: %s",
                     call->auth.message);
        break;
    case SL_AUTH_MALFORMED:
        sl_json_fail(call, 400, "IncompleteSignatureException", "%s", call->auth.message);
        break;
    case SL_AUTH_BAD_SIGNATURE:
        sl_json_fail(
            call, 400, "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check "
            "your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.");
        break;
    }
    return false;
}

static void on_complete(sl_req *req) {
    sl_json_call *call = req->state;
    if (call->then) {
        void (*then)(sl_json_call *) = call->then;
        call->then = NULL;
        then(call);
        return;
    }
    if (req->body_too_large) {
        sl_json_fail(call, 413, "RequestEntityTooLargeException", "Request body is too large");
        return;
    }
    if (!authenticate(call)) return;
    const sl_json_service *svc = call->service;
    const sl_json_op *op = NULL;
    for (const sl_json_op *o = svc->ops; o->name && !op; o++)
        if (!strcmp(o->name, call->operation)) op = o;
    if (!op) {
        sl_json_fail(call, 400, "UnknownOperationException", "Sluice does not implement %s.%s",
                     svc->target_prefix, call->operation);
        return;
    }
    json_error_t je;
    if (req->body.len == 0) {
        call->input = json_object();
    } else {
        call->input = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &je);
        if (!call->input || !json_is_object(call->input)) {
            sl_json_fail(call, 400, "SerializationException",
                         "The request body is not a JSON object: %s",
                         call->input ? "not an object" : je.text);
            return;
        }
    }
    op->fn(svc->svc, call, call->input);
}

void sl_json_service_begin(sl_req *req, void *service) {
    const sl_json_service *svc = service;
    sl_json_call *call = sl_xcalloc(1, sizeof *call);
    call->req = req;
    call->service = svc;
    const char *target = sl_req_header(req, "X-Amz-Target");
    call->operation = target ? target + strlen(svc->target_prefix) + 1 : "";
    req->state = call;
    req->on_free = call_free;
    req->on_complete = on_complete;
    req->body_limit = svc->body_limit ? svc->body_limit : (1u << 20);
    sl_resp_header_add(req, "x-amzn-RequestId", req->request_id);
    if (strcmp(req->method, "POST") != 0) {
        sl_json_fail(call, 405, "UnknownOperationException", "Only POST is accepted");
    }
}
