/* aws_error: error responses in each AWS protocol's shape (S3 REST-XML, JSON 1.0/1.1,
 * REST-JSON, Query XML), so every client parses the code and message. */
#ifndef SL_AWS_ERROR_H
#define SL_AWS_ERROR_H

#include "core/http.h"

/* S3: <Error><Code/><Message/><Resource/><RequestId/></Error>; extra is optional XML to insert. */
void sl_s3_error(sl_req *req, int status, const char *code, const char *message,
                 const char *resource, const char *extra_xml);
/* JSON protocols: {"__type": code, "message": ...} plus the x-amzn-ErrorType header. */
void sl_json_error(sl_req *req, int status, const char *code, const char *message);
/* Query protocol: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>. */
void sl_query_error(sl_req *req, int status, const char *code, const char *message);

#endif
