/* objects: service lifetime (blob dirs, crash clean-up) and router registration. */
#include "objects/objects.h"

#include <stdlib.h>

#include "core/aws_error.h"
#include "core/buf.h"

struct sl_objects {
    const sl_config *cfg;
    sl_store *store;
};

static void s3_begin(sl_req *req, void *svc) {
    (void)svc;
    sl_s3_error(req, 501, "NotImplemented", "not yet", NULL, NULL);
}

sl_objects *sl_objects_new(const sl_config *cfg, sl_store *store, char *err, size_t errlen) {
    (void)err, (void)errlen;
    sl_objects *o = sl_xcalloc(1, sizeof *o);
    o->cfg = cfg;
    o->store = store;
    return o;
}
void sl_objects_register(sl_objects *o, sl_router *router) { sl_router_set_s3(router, s3_begin, o); }
void sl_objects_free(sl_objects *o) { free(o); }
