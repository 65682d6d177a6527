/* intrinsics: the Amazon States Language intrinsic functions (`States.Format(...)` and the
 * rest) used in `.$` fields of JSONPath states. Owns the call syntax (nested calls, quoted
 * literals with \' \{ \} \\ escapes, numbers, true/false/null, `$`/`$$` path arguments), the
 * compile-time checks (syntax, known function, argument count, nesting depth) and each
 * function's runtime semantics and limits. As on AWS, a States.Format template that does not
 * match its arguments, or an open escape '\' in a literal, is accepted at definition time and
 * fails when the call runs. Pure apart from reading the system random source for States.UUID
 * and an unseeded States.MathRandom.
 *
 * Errors at run time come back as an error name plus a cause: "States.IntrinsicFailure" for a
 * function rejecting its arguments, "States.Runtime" for a path argument that matches nothing.
 *
 * Where AWS's documentation is silent: States.Format renders non-string values as compact JSON
 * and applies the literal escapes to a template read from a path too; StringSplit treats the
 * splitter as a set of characters and drops empty pieces; ArrayRange with a step pointing away
 * from the end gives []; MathRandom returns start <= n < end (java.util.Random when seeded);
 * MathAdd/MathRandom round half up; Hash hashes a non-string's JSON text; Base64Decode accepts
 * missing padding and turns bytes that are not UTF-8 into U+FFFD; character limits count code
 * points; ArrayContains/ArrayUnique compare strictly (1 and 1.0 differ). */
#ifndef SL_INTRINSICS_H
#define SL_INTRINSICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sl_intrinsic sl_intrinsic;

#define SL_STATES_INTRINSIC_FAILURE "States.IntrinsicFailure"

/* Up to this many calls nested inside one another in one field (AWS documents 10). */
#define SL_INTRINSIC_MAX_NESTING 10

/* True when s is written as an intrinsic call (begins "States."), so a `.$` field should be
 * compiled with sl_intrinsic_compile rather than as a path. */
bool sl_intrinsic_is_call(const char *s);

/* Compiles `States.Name(args...)`. NULL with a message in err for a syntax error, an unknown
 * function, a wrong argument count, or nesting deeper than SL_INTRINSIC_MAX_NESTING. */
sl_intrinsic *sl_intrinsic_compile(const char *expr, char *err, size_t errlen);
void sl_intrinsic_free(sl_intrinsic *f);
const char *sl_intrinsic_text(const sl_intrinsic *f);

/* Evaluates against the state input and the context object (for `$$` arguments). Returns a new
 * reference, or NULL with *error_name (when error_name is not NULL) set to one of the error
 * names above and the cause written to err. */
json_t *sl_intrinsic_eval(const sl_intrinsic *f, json_t *input, json_t *context,
                          const char **error_name, char *err, size_t errlen);

/* Compact JSON text the way Step Functions prints a value (States.JsonToString, States.Format
 * of a non-string, error causes): no spaces, non-ASCII kept, reals in their shortest
 * round-trip form. Caller frees. */
char *sl_intrinsic_json_text(const json_t *v);

#endif
