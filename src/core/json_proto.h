/* json_proto: the AWS JSON 1.0/1.1 protocol shared by EventBridge, Step Functions, ECS and
 * CloudWatch Logs: `POST /` with `X-Amz-Target: <Prefix>.<Operation>` and a JSON body.
 * Buffers the body, verifies SigV4 over it, parses it, finds the operation and hands the
 * handler the input object; the handler answers with sl_json_reply or sl_json_fail. An
 * operation the table does not list answers UnknownOperationException, as AWS does.
 * Handlers that must wait (long polls) call sl_json_wait and later sl_json_wake from any
 * thread; `then` runs on resume and must answer. */
#ifndef SL_JSON_PROTO_H
#define SL_JSON_PROTO_H

#include <jansson.h>

#include "auth/sigv4.h"
#include "core/http.h"

typedef struct sl_json_call sl_json_call;
typedef void (*sl_json_op_fn)(void *svc, sl_json_call *call, json_t *input);

typedef struct {
    const char *name;
    sl_json_op_fn fn;
} sl_json_op;

typedef struct {
    const char *target_prefix; /* "AWSEvents" */
    const char *content_type;  /* "application/x-amz-json-1.1" */
    const sl_json_op *ops;     /* terminated by {NULL, NULL} */
    void *svc;
    struct sl_credentials *credentials;
    size_t body_limit; /* 0: 1 MiB */
} sl_json_service;

struct sl_json_call {
    sl_req *req;
    const sl_json_service *service;
    const char *operation;
    sl_auth_result auth;
    json_t *input;
    void (*then)(sl_json_call *call);
    void *state;
    void (*state_free)(void *state);
};

/* The router callback: ctx is an sl_json_service. */
void sl_json_service_begin(sl_req *req, void *service);

/* Answers 200 with the object (reference stolen; NULL means {}). */
void sl_json_reply(sl_json_call *call, json_t *output);
/* Answers an AWS JSON error: {"__type": code, "message": ...}. */
void sl_json_fail(sl_json_call *call, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void sl_json_wait(sl_json_call *call, void (*then)(sl_json_call *call));
void sl_json_wake(sl_json_call *call);

/* Input accessors: NULL/default when absent; *_req fail the call with ValidationException
 * (naming the field) and return NULL/-1 when absent or of the wrong type. */
const char *sl_json_str(json_t *in, const char *field);
const char *sl_json_str_req(sl_json_call *call, json_t *in, const char *field);
bool sl_json_type_ok(sl_json_call *call, json_t *in, const char *field, json_type type);

/* A deep copy of v with the first letter of every object key upper-cased (upper) or
 * lower-cased: the same shapes cross between APIs that spell them PascalCase (EventBridge's
 * EcsParameters, Step Functions' ecs:runTask) and camelCase (ECS). */
json_t *sl_json_recase(const json_t *v, bool upper);

#endif
