/* aws_error: protocol-shaped error bodies. */
#include "core/aws_error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/query.h"

void sl_s3_error(sl_req *req, int status, const char *code, const char *message,
                 const char *resource, const char *extra_xml) {
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
    sl_buf_xml_escape(&b, code, strlen(code));
    sl_buf_puts(&b, "</Code><Message>");
    sl_buf_xml_escape(&b, message, strlen(message));
    sl_buf_puts(&b, "</Message>");
    if (resource) {
        sl_buf_puts(&b, "<Resource>");
        sl_buf_xml_escape(&b, resource, strlen(resource));
        sl_buf_puts(&b, "</Resource>");
    }
    if (extra_xml) sl_buf_puts(&b, extra_xml);
    sl_buf_printf(&b, "<RequestId>%s</RequestId><HostId>%s</HostId></Error>", req->request_id,
                  req->request_id);
    bool head = req->method && !strcmp(req->method, "HEAD");
    sl_resp_set(req, status, "application/xml", b.data, head ? 0 : b.len);
    sl_buf_free(&b);
}

void sl_json_error(sl_req *req, int status, const char *code, const char *message) {
    json_t *o = json_pack("{s:s,s:s}", "__type", code, "message", message);
    char *s = json_dumps(o, JSON_COMPACT);
    sl_resp_header_add(req, "x-amzn-ErrorType", code);
    sl_resp_set(req, status, "application/x-amz-json-1.1", s, strlen(s));
    free(s);
    json_decref(o);
}

void sl_query_error(sl_req *req, int status, const char *code, const char *message) {
    sl_query_fail(req, "http://webservices.amazon.com/", status, code, message);
}
