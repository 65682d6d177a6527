/* req_sigv4: verifies the SigV4 signature of a request whose whole body is buffered (the JSON
 * and Query protocols), against the daemon's credentials. Each protocol maps the outcome to
 * its own error shapes. */
#ifndef SL_REQ_SIGV4_H
#define SL_REQ_SIGV4_H

#include "auth/sigv4.h"
#include "core/http.h"

struct sl_credentials;

sl_auth_status sl_req_verify_sigv4(sl_req *req, struct sl_credentials *credentials,
                                   sl_auth_result *auth);

#endif
