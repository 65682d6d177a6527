/* selectors: CloudTrail's event selectors, basic (EventSelectors with DataResources) and
 * advanced (AdvancedEventSelectors: field conditions), checked as PutEventSelectors checks them
 * and compiled into a form that answers "does this trail log this data event?" cheaply.
 * trail.c validates with it; events/s3_shapes.c compiles each logging trail's selectors once
 * and asks about every S3 call the outbox brings. It knows nothing of the store or the wire. */
#ifndef SL_TRAIL_SELECTORS_H
#define SL_TRAIL_SELECTORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The fields of one event record a selector looks at. NULL: the record has no such field
 * (an Equals condition on it fails, a NotEquals condition holds). */
typedef struct {
    const char *event_category; /* "Data" */
    const char *event_source;   /* "s3.amazonaws.com" */
    const char *event_name;     /* "PutObject" */
    const char *event_type;     /* "AwsApiCall" */
    const char *resource_type;  /* "AWS::S3::Object" */
    const char *resource_arn;   /* "arn:aws:s3:::bucket/key" */
    const char *user_arn;       /* userIdentity.arn */
    const char *error_code;     /* NULL for a call that succeeded */
    bool read_only;
} sl_trail_event;

typedef struct sl_trail_selectors sl_trail_selectors;

/* Compiles a trail's selectors: basic is the EventSelectors list, advanced the
 * AdvancedEventSelectors list; either or both may be NULL (a trail with neither logs management
 * events only, so no data event). NULL with a message for InvalidEventSelectorsException when
 * they are not valid. */
sl_trail_selectors *sl_trail_selectors_compile(const json_t *basic, const json_t *advanced,
                                               char *err, size_t errlen);
/* Whether some selector logs the event: a basic selector by its ReadWriteType and an
 * AWS::S3::Object DataResources prefix of the resource ARN; an advanced one when every field
 * condition holds (values of Equals/StartsWith/EndsWith: any one; of Not*: none). */
bool sl_trail_selectors_match(const sl_trail_selectors *s, const sl_trail_event *e);
void sl_trail_selectors_free(sl_trail_selectors *s);

#endif
