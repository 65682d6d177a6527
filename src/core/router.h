/* router: one port serves every service. Classifies a request when its headers arrive and
 * hands it to the service that speaks its protocol:
 *   /_sluice/...                 Sluice's own endpoints (health)
 *   X-Amz-Target: <prefix>.Op    JSON 1.0/1.1 services (by target prefix)
 *   /2015-03-31/...              Lambda's REST paths
 *   POST / form-encoded Action=  Query services (by the SigV4 credential scope's service)
 *   GET /?Action=X&...           unsigned links a Query service hands out (SNS's SubscribeURL)
 *   anything else                S3 (path or virtual-host style)
 * Services register at start-up; a protocol nobody registered answers the AWS error for an
 * unknown operation in that protocol's shape. */
#ifndef SL_ROUTER_H
#define SL_ROUTER_H

#include "core/http.h"

typedef struct sl_router sl_router;
typedef void (*sl_service_begin_fn)(sl_req *req, void *svc);

sl_router *sl_router_new(void);
void sl_router_free(sl_router *r);
/* JSON-protocol service by X-Amz-Target prefix, e.g. "AWSEvents". */
void sl_router_add_json(sl_router *r, const char *target_prefix, sl_service_begin_fn fn, void *svc);
/* Query-protocol service by SigV4 signing name, e.g. "sns". */
void sl_router_add_query(sl_router *r, const char *signing_name, sl_service_begin_fn fn, void *svc);
/* An unsigned GET / whose query names Action=action (links such as SNS's SubscribeURL, which
 * AWS accepts without a signature). */
void sl_router_add_link(sl_router *r, const char *action, sl_service_begin_fn fn, void *svc);
/* REST service by path prefix, e.g. "/2015-03-31/". */
void sl_router_add_rest(sl_router *r, const char *path_prefix, sl_service_begin_fn fn, void *svc);
/* The S3 catch-all. */
void sl_router_set_s3(sl_router *r, sl_service_begin_fn fn, void *svc);

/* The http begin callback: ctx is the router. */
void sl_router_begin(sl_req *req, void *router);

#endif
