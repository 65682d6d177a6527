/* query: the Query protocol's form decoder and XML envelopes (IAM, SNS). The decoder is strict
 * about escapes (a malformed one is the client's error, reported, never guessed at) and about
 * NUL, which no Query parameter may contain and which would cut a C string short. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/query.h"

#include "auth/sigv4.h"
#include "core/req_sigv4.h"

/* No call needs more (50 tags are 101 parameters, a full PublishBatch some 300); the bound
 * keeps duplicate checks cheap. */
#define FORM_MAX_PARAMS 1000

static char *decode(const char *s, size_t n, const char *what, char *err, size_t errlen) {
    char *out = sl_xmalloc(n + 1);
    long len = sl_uri_decode(s, n, out, true);
    if (len < 0 || memchr(out, 0, (size_t)len)) {
        snprintf(err, errlen, "The form parameter %s '%.*s' is not valid URL-encoded text", what,
                 (int)(n > 64 ? 64 : n), s);
        free(out);
        return NULL;
    }
    return out;
}

int sl_form_parse(sl_form *f, const char *body, size_t n, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    const char *p = body, *end = body + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *name_end = eq ? eq : stop;
            char *name = decode(p, (size_t)(name_end - p), "name", err, errlen);
            if (!name) goto fail;
            char *value =
                eq ? decode(eq + 1, (size_t)(stop - eq - 1), "value", err, errlen) : sl_xstrdup("");
            if (!value) {
                free(name);
                goto fail;
            }
            if (f->n == FORM_MAX_PARAMS) {
                snprintf(err, errlen, "The request has more than %d form parameters",
                         FORM_MAX_PARAMS);
                free(name);
                free(value);
                goto fail;
            }
            if (sl_form_get(f, name)) { /* the first value wins */
                free(name);
                free(value);
            } else {
                if (f->n == f->cap) {
                    f->cap = f->cap ? f->cap * 2 : 16;
                    f->params = sl_xrealloc(f->params, f->cap * sizeof *f->params);
                }
                f->params[f->n++] = (sl_form_param){name, value};
            }
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
fail:
    sl_form_free(f);
    return -1;
}

const char *sl_form_get(const sl_form *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->params[i].name, name)) return f->params[i].value;
    return NULL;
}

const char *sl_form_getf(const sl_form *f, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof name) return NULL;
    return sl_form_get(f, name);
}

void sl_form_free(sl_form *f) {
    for (size_t i = 0; i < f->n; i++) {
        free(f->params[i].name);
        free(f->params[i].value);
    }
    free(f->params);
    memset(f, 0, sizeof *f);
}

/* ---- answers ---- */

void sl_query_fail(sl_req *req, const char *xmlns, int status, const char *code, const char *msg) {
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"%s\">"
                  "<Error><Type>%s</Type><Code>",
                  xmlns, status >= 500 ? "Receiver" : "Sender");
    sl_buf_xml_escape(&b, code, strlen(code));
    sl_buf_puts(&b, "</Code><Message>");
    sl_buf_xml_escape(&b, msg, strlen(msg));
    sl_buf_printf(&b, "</Message></Error><RequestId>%s</RequestId></ErrorResponse>",
                  req->request_id);
    sl_resp_set(req, status, "text/xml", b.data, b.len);
    sl_buf_free(&b);
}

void sl_query_failf(sl_req *req, const char *xmlns, int status, const char *code, const char *fmt,
                    ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_query_fail(req, xmlns, status, code, msg);
}

void sl_query_reply_begin(sl_buf *b, const char *xmlns, const char *action, bool result) {
    sl_buf_init(b);
    sl_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\">",
                  action, xmlns);
    if (result) sl_buf_printf(b, "<%sResult>", action);
}

void sl_query_reply_end(sl_req *req, sl_buf *b, const char *action, bool result) {
    if (result) sl_buf_printf(b, "</%sResult>", action);
    sl_buf_printf(b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>",
                  req->request_id, action);
    sl_resp_set(req, 200, "text/xml", b->data, b->len);
    sl_buf_free(b);
}

void sl_query_xml_text(sl_buf *b, const char *tag, const char *s) {
    sl_buf_printf(b, "<%s>", tag);
    sl_buf_xml_escape(b, s, strlen(s));
    sl_buf_printf(b, "</%s>", tag);
}

void sl_query_xml_tags(sl_buf *b, const json_t *tags) {
    sl_buf_puts(b, "<Tags>");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        sl_buf_puts(b, "<member>");
        sl_query_xml_text(b, "Key", json_string_value(json_object_get(t, "Key")));
        sl_query_xml_text(b, "Value", json_string_value(json_object_get(t, "Value")));
        sl_buf_puts(b, "</member>");
    }
    sl_buf_puts(b, "</Tags>");
}

bool sl_query_authenticate(sl_req *req, struct sl_credentials *credentials, const char *xmlns) {
    sl_auth_result auth;
    switch (sl_req_verify_sigv4(req, credentials, &auth)) {
    case SL_AUTH_OK: return true;
    case SL_AUTH_ANONYMOUS:
        sl_query_fail(req, xmlns, 403, "MissingAuthenticationToken",
                      "Request is missing Authentication Token");
        break;
    case SL_AUTH_UNKNOWN_KEY:
        sl_query_fail(req, xmlns, 403, "InvalidClientTokenId",
                      "The security token included in the request is invalid.");
        break;
    case SL_AUTH_SKEWED:
    case SL_AUTH_EXPIRED: sl_query_fail(req, xmlns, 403, "RequestExpired", auth.message); break;
    case SL_AUTH_MALFORMED:
        sl_query_fail(req, xmlns, 400, "IncompleteSignature", auth.message);
        break;
    case SL_AUTH_BAD_SIGNATURE:
        sl_query_fail(req, xmlns, 403, "SignatureDoesNotMatch",
                      "The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult "
                      "the service documentation for details.");
        break;
    }
    return false;
}
