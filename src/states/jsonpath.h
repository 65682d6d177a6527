/* jsonpath: JSONPath as Step Functions (JSONPath query language) reads it, compiled once and
 * evaluated many times over jansson values. Owns the path grammar, evaluation, the "definite"
 * versus "indefinite" distinction and ResultPath placement. Pure: no I/O, no globals, safe to
 * share a compiled path between threads.
 *
 * Grammar: `$` (state input) or `$$` (context object) followed by segments: `.name`, `['name']`
 * or `["name"]` (escapes \' \" \\), `.*` / `[*]`, `[n]` (negative counts from the end),
 * unions `[0,2]` / `['a','b']`, slices `[start:end:step]`, recursive descent `..name` /
 * `..*` / `..[...]`, filters `[?(@.price < 10 && @.tag)]`, and a trailing function
 * (`.length()`, `.min()`, `.max()`, `.avg()`, `.sum()`, `.stddev()`, `.keys()`, `.first()`,
 * `.last()`). `$.abc.['def ghi']` (a dot before a bracket) is accepted, as AWS documents it.
 *
 * Semantics follow the Jayway JsonPath library that Step Functions is built on:
 *  - a path is *definite* when it can select at most one node (no wildcard, union, slice,
 *    filter or recursive descent); a definite path yields that node, an indefinite one yields
 *    an array of every match (possibly empty);
 *  - a property missing on the definite prefix of a path (before any indefinite segment), or a
 *    property/index step applied there to the wrong type, means "not found"; misses after an
 *    indefinite segment are skipped;
 *  - a filter applied to an array tests each element; applied to an object it tests the object
 *    itself; after `..` it tests every descendant value once;
 *  - `!=` is "not ==" (a missing property is != anything); `<`, `<=`, `>`, `>=` compare two
 *    numbers or two strings and are false otherwise; `=~ /re/i` matches the whole string (a
 *    Java-style regex translated to POSIX; stacked quantifiers are refused); `in`, `nin`,
 *    `subsetof`, `anyof`, `noneof`, `contains`, `size` and `empty` work as in Jayway;
 *  - a union of names (`['a','b']`) yields an array of the values found (Jayway would build an
 *    object); workflow variables (`$name`) are refused;
 *  - a *reference path* (ResultPath) is a definite `$` path made of names and indexes only.
 *
 * Values returned share structure with the input: treat every json_t in the engine as
 * immutable (copy before mutating). sl_jsonpath_put() never mutates its input. One evaluation
 * visits at most a million nodes (nested recursive descent over a big input fails instead of
 * running for minutes). */
#ifndef SL_JSONPATH_H
#define SL_JSONPATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sl_jsonpath sl_jsonpath;

/* Compiles a whole path. NULL on a syntax error, with a message naming the path and the
 * offending position written to err. */
sl_jsonpath *sl_jsonpath_compile(const char *expr, char *err, size_t errlen);
/* Compiles the longest path at the start of expr and stores how many bytes it used (an
 * intrinsic argument list uses this: the path ends at ',' or ')' outside brackets). */
sl_jsonpath *sl_jsonpath_compile_prefix(const char *expr, size_t *used, char *err, size_t errlen);
void sl_jsonpath_free(sl_jsonpath *p);

/* The source text of the path, as compiled. */
const char *sl_jsonpath_text(const sl_jsonpath *p);
/* "an object", "an array", "a string", "a number", "a boolean" or "null": how error messages
 * name a value's type (shared by paths, intrinsics and payload templates). */
const char *sl_json_kind(const json_t *v);
/* Starts with `$$`: evaluated against the context object. */
bool sl_jsonpath_is_context(const sl_jsonpath *p);
/* Selects at most one node: evaluation yields that node rather than an array of matches. */
bool sl_jsonpath_is_definite(const sl_jsonpath *p);
/* A Reference Path: `$` root, only `.name`, `['name']` and `[n]` steps. Usable as ResultPath. */
bool sl_jsonpath_is_reference(const sl_jsonpath *p);

/* Evaluates against input (or context for `$$` paths). Returns a new reference, or NULL when
 * the path matches nothing (the caller raises States.Runtime); err then says why. Indefinite
 * paths return an array, empty when nothing matched after the definite prefix. */
json_t *sl_jsonpath_eval(const sl_jsonpath *p, json_t *input, json_t *context, char *err,
                         size_t errlen);

/* ResultPath placement: returns a new document equal to root with value placed at ref_path
 * (root itself is not modified; unchanged subtrees are shared). Missing objects along the path
 * are created; an index must name an existing element. Returns NULL with err set when the path
 * runs through a value of the wrong type (States.ResultPathMatchFailure), or when ref_path is
 * not a reference path. A `$` path returns value itself. */
json_t *sl_jsonpath_put(const sl_jsonpath *ref_path, json_t *root, json_t *value, char *err,
                        size_t errlen);

/* The error name sl_jsonpath_put failures map to. */
#define SL_STATES_RESULT_PATH_MATCH_FAILURE "States.ResultPathMatchFailure"
#define SL_STATES_RUNTIME                   "States.Runtime"

#endif
