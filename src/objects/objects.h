/* objects: the S3-compatible object store service. sl_objects owns buckets, objects,
 * multipart uploads and blob files under the data dir; its api.c speaks S3's REST-XML. */
#ifndef SL_OBJECTS_H
#define SL_OBJECTS_H

#include <stddef.h>

#include "core/context.h"
#include "core/router.h"
#include "store/store.h"

typedef struct sl_objects sl_objects;

/* Prepares the blob directories and removes temp files a crash left behind. */
sl_objects *sl_objects_new(const sl_context *ctx, char *err, size_t errlen);
void sl_objects_register(sl_objects *o, sl_router *router);
void sl_objects_free(sl_objects *o);
/* Lets TopicConfigurations be checked against existing topics and s3:TestEvent published. */
struct sl_sns;
void sl_objects_set_sns(sl_objects *o, struct sl_sns *sns);

#endif
