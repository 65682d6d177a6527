/* activities: the long-poll side of activity tasks (GetActivityTask), for api.c. */
#ifndef SL_STATES_ACTIVITIES_H
#define SL_STATES_ACTIVITIES_H

#include "core/json_proto.h"

struct sl_states;

/* Answers call with the activity's next task, or parks it for up to 60 s (then {}). */
void sfn_activity_poll(struct sl_states *s, sl_json_call *call, const char *activity_arn,
                       const char *worker);

#endif
