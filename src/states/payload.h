/* payload: payload templates (Parameters, ResultSelector, ItemSelector, and any other field
 * whose keys may end in `.$`). Compiled once when a state machine is created: each `.$` value
 * must be a path (`$...`, `$$...`) or an intrinsic call (`States.X(...)`), else the definition
 * is rejected with a message naming the field. Evaluated per state entry: `.$` fields are
 * replaced (the key loses its `.$`), everything else is copied, through nested objects and
 * through arrays (objects inside arrays are templates too, as in AWS). No I/O.
 *
 * Run-time failures carry the Step Functions error name: States.Runtime for a path that matches
 * nothing ("The JSONPath '$.x' specified for the field 'y.$' could not be found in the input
 * '...'"), States.IntrinsicFailure for an intrinsic rejecting its arguments. */
#ifndef SL_PAYLOAD_H
#define SL_PAYLOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sl_payload sl_payload;

/* Compiles a template (any JSON value; usually an object). NULL with a message in err naming
 * the offending field and its location (e.g. "/detail/0/id.$") on a definition error. The
 * template is not retained: static parts are copied. */
sl_payload *sl_payload_compile(json_t *tmpl, char *err, size_t errlen);
void sl_payload_free(sl_payload *t);

/* True when the template has no `.$` field anywhere (evaluation returns a copy of it). */
bool sl_payload_is_static(const sl_payload *t);

/* Builds the payload from the state input and the context object. Returns a new reference, or
 * NULL with *error_name set ("States.Runtime", "States.IntrinsicFailure") and the cause written
 * to cause. The result may share subtrees with input and the template: treat it as immutable. */
json_t *sl_payload_eval(const sl_payload *t, json_t *input, json_t *context,
                        const char **error_name, char *cause, size_t causelen);

#endif
