/* trail: the CloudTrail API subset pipelines need to route S3 data events: CreateTrail,
 * DeleteTrail, GetTrail, DescribeTrails, ListTrails, GetTrailStatus, Start/StopLogging,
 * Put/GetEventSelectors. Trails write no log files; what they do in Sluice is decide which S3
 * writes become "AWS API Call via CloudTrail" events on the default bus (events/s3_shapes.c
 * applies their selectors, basic or advanced, through trail/selectors.h). */
#ifndef SL_TRAIL_H
#define SL_TRAIL_H

#include <stddef.h>

#include "core/context.h"
#include "core/router.h"

typedef struct sl_trails sl_trails;

sl_trails *sl_trails_new(const sl_context *ctx);
void sl_trails_register(sl_trails *t, sl_router *router);
void sl_trails_free(sl_trails *t);

#endif
