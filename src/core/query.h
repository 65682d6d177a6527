/* query: the AWS Query protocol shared by IAM and SNS. A call is `POST /` with a form-encoded
 * body (Action=..., Version=..., list members as Tags.member.N.Key, map entries as
 * Attributes.entry.N.key), signed with SigV4; the answer is XML in the service's namespace:
 * <ActionResponse><ActionResult>...</ActionResult><ResponseMetadata/></ActionResponse>, or
 * <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
 * This file owns the form decoder and those XML envelopes; each service owns its operations. */
#ifndef SL_QUERY_H
#define SL_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/http.h"

struct sl_credentials;

/* ---- application/x-www-form-urlencoded bodies ---- */

typedef struct {
    char *name;
    char *value;
} sl_form_param;

typedef struct {
    sl_form_param *params;
    size_t n, cap;
} sl_form;

/* Decodes "a=1&b=x+y%21" ('+' is a space, %XX an octet). An empty body is an empty form.
 * Returns 0, or -1 with err filled when an escape is malformed or decodes to NUL. A name sent
 * twice keeps its first value. The form owns its strings; release with sl_form_free. */
int sl_form_parse(sl_form *f, const char *body, size_t n, char *err, size_t errlen);
/* The value of a parameter, or NULL when absent. */
const char *sl_form_get(const sl_form *f, const char *name);
/* The same with a printf-built name, for list members: "Tags.member.%zu.Key". */
const char *sl_form_getf(const sl_form *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sl_form_free(sl_form *f);

/* ---- answers ---- */

/* <ErrorResponse xmlns=xmlns> with Type Sender (Receiver for 5xx), code and message. */
void sl_query_fail(sl_req *req, const char *xmlns, int status, const char *code, const char *msg);
/* The same with a printf-built message. */
void sl_query_failf(sl_req *req, const char *xmlns, int status, const char *code, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
/* Starts <ActionResponse xmlns><ActionResult>; result=false for actions without output. */
void sl_query_reply_begin(sl_buf *b, const char *xmlns, const char *action, bool result);
/* Closes what reply_begin opened, adds ResponseMetadata and sets a 200 answer; frees b. */
void sl_query_reply_end(sl_req *req, sl_buf *b, const char *action, bool result);
/* <tag>escaped s</tag> */
void sl_query_xml_text(sl_buf *b, const char *tag, const char *s);
/* <Tags><member><Key/><Value/></member>...</Tags> from [{"Key", "Value"}]. */
#include <jansson.h>
void sl_query_xml_tags(sl_buf *b, const json_t *tags);
/* Verifies the request's SigV4 signature; on failure answers the Query error AWS sends for it
 * (MissingAuthenticationToken, InvalidClientTokenId, SignatureDoesNotMatch...) and returns
 * false. */
bool sl_query_authenticate(sl_req *req, struct sl_credentials *credentials, const char *xmlns);

#endif
