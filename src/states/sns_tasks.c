/* sns_tasks: Step Functions' SNS integration, arn:aws:states:::sns:publish (and
 * .waitForTaskToken), calling the SNS service directly (no HTTP). Parameters are Publish's:
 * TopicArn or TargetArn, Message (a string, or any JSON value, which is serialised),
 * Subject, MessageAttributes, MessageStructure. The result is Publish's output as the SDK
 * returns it to a state machine: {"MessageId", "SdkHttpMetadata", "SdkResponseMetadata"};
 * failures carry the SDK's exception names ("SNS.NotFoundException", ...) and a cause in the
 * SDK's "(Service: AmazonSNS; Status Code: ...; Error Code: ...)" form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "sns/sns.h"
#include "states/states_internal.h"

static void fail_with(char **error, char **cause, const char *exception, int status,
                      const char *code, const char *message, const char *request_id) {
    char text[1200];
    snprintf(text, sizeof text,
             "%s (Service: AmazonSNS; Status Code: %d; Error Code: %s; Request ID: %s; Proxy: "
             "null)",
             message, status, code, request_id);
    *error = sl_xstrdup(exception);
    *cause = sl_xstrdup(text);
}

/* What AWS's SDK returns besides the operation's output. */
static json_t *sdk_metadata(const char *request_id, size_t body_len) {
    char date[40], length[24];
    sl_time_rfc1123(sl_now_ms(), date);
    snprintf(length, sizeof length, "%zu", body_len);
    return json_pack("{s:{s:s,s:s,s:s,s:s},s:{s:[s],s:[s],s:[s],s:[s]},s:i}", "HttpHeaders",
                     "Content-Length", length, "Content-Type", "text/xml", "Date", date,
                     "x-amzn-RequestId", request_id, "AllHttpHeaders", "Content-Length", length,
                     "Content-Type", "text/xml", "Date", date, "x-amzn-RequestId", request_id,
                     "HttpStatusCode", 200);
}

json_t *sfn_sns_publish(sl_states *s, json_t *params, char **error, char **cause) {
    char request_id[37];
    sl_id_uuid(request_id);
    if (!s->sns) {
        fail_with(error, cause, "SNS.InternalErrorException", 500, "InternalError",
                  "SNS is not running", request_id);
        return NULL;
    }
    const char *topic = json_string_value(json_object_get(params, "TopicArn"));
    const char *target = json_string_value(json_object_get(params, "TargetArn"));
    json_t *msg = json_object_get(params, "Message");
    if ((!topic && !target) || (topic && target)) {
        fail_with(error, cause, "SNS.InvalidParameterException", 400, "InvalidParameter",
                  "Invalid parameter: TopicArn or TargetArn Reason: exactly one must be given",
                  request_id);
        return NULL;
    }
    if (!msg) {
        fail_with(error, cause, "SNS.InvalidParameterException", 400, "InvalidParameter",
                  "Invalid parameter: Message Reason: no value for required parameter", request_id);
        return NULL;
    }
    char err[512];
    json_t *attrs =
        sl_sns_message_attributes(json_object_get(params, "MessageAttributes"), err, sizeof err);
    if (!attrs) {
        fail_with(error, cause, "SNS.InvalidParameterValueException", 400, "ParameterValueInvalid",
                  err, request_id);
        return NULL;
    }
    char *text = json_is_string(msg) ? sl_xstrdup(json_string_value(msg))
                                     : json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    sl_sns_message m = {.topic_arn = topic ? topic : target,
                        .message = text,
                        .subject = json_string_value(json_object_get(params, "Subject")),
                        .structure = json_string_value(json_object_get(params, "MessageStructure")),
                        .attributes = attrs};
    char id[37];
    sl_sns_status st = sl_sns_publish(s->sns, &m, id, err, sizeof err);
    free(text);
    json_decref(attrs);
    switch (st) {
    case SL_SNS_OK: break;
    case SL_SNS_NOT_FOUND:
        fail_with(error, cause, "SNS.NotFoundException", 404, "NotFound", "Topic does not exist",
                  request_id);
        return NULL;
    case SL_SNS_INVALID:
        fail_with(error, cause, "SNS.InvalidParameterException", 400, "InvalidParameter", err,
                  request_id);
        return NULL;
    default:
        fail_with(error, cause, "SNS.InternalErrorException", 500, "InternalError", err,
                  request_id);
        return NULL;
    }
    return json_pack("{s:s,s:o,s:{s:s}}", "MessageId", id, "SdkHttpMetadata",
                     sdk_metadata(request_id, 294), "SdkResponseMetadata", "RequestId", request_id);
}
