/* pattern: EventBridge event patterns, compiled once and matched against events. Two engines
 * share one compiler and one meaning:
 *   - sl_pattern_*: one pattern, evaluated by a direct walk of the event (TestEventPattern, and the
 *     reference the machine is tested against);
 *   - sl_matcher_*: many rules compiled into one state machine, so the cost of matching an event
 *     grows with the event and the rules it actually matches, not with the number of rules.
 * Pure library: no I/O, no HTTP, no global state. Wire-protocol concerns (the ValidationException
 * for an over-long EventPattern, the InvalidEventPatternException envelope) belong to the caller.
 *
 * Language (as AWS EventBridge, whose matcher is AWS's Event Ruler):
 *   - a pattern is a non-empty JSON object; nested objects name nested event fields; every leaf is
 *     a non-empty array of alternatives (OR); sibling fields AND; "$or": [ {..}, {..}, ... ] (two
 *     or more objects) ORs whole sub-patterns at any level.
 *   - alternatives: "string", number (numbers compare by value: 300 matches 3.0e2; within
 *     +-5.0e9 to six decimals, as AWS documents, beyond it as doubles), true, false, null, and
 *     {"prefix": s | {"equals-ignore-case": s}}, {"suffix": s | {"equals-ignore-case": s}},
 *     {"equals-ignore-case": s}, {"wildcard": "a*b\\*c"}, {"exactly": s},
 *     {"anything-but": s | n | [s..] | [n..] | {"prefix"|"suffix"|"equals-ignore-case"|
 *      "wildcard": s | [s..]}}, {"numeric": ["=", n] | [">"|">=", n] | ["<"|"<=", n] |
 *      [">"|">=", n, "<"|"<=", m]}, {"cidr": "10.0.0.0/24" | "2001:db8::/32"},
 *     {"exists": true|false}.
 *   - a string alternative that is an IP address literal also matches the same address written
 *     another way ("::1" matches "0:0::1"), as Event Ruler does.
 *   - event arrays: a field matches when any element matches. Fields of one pattern that lie in
 *     objects inside the same event array must come from the same element (Event Ruler's
 *     "array-consistent" matching); pattern_match.c states the exact rule, exists:false included.
 *   - exists:true matches any leaf value (null included) but not an object or an empty array;
 *     exists:false matches when no leaf value is present at the path.
 *   - field paths are structural: {"a.b": [1]} names the key "a.b", not "a" then "b".
 * Errors read like AWS's InvalidEventPatternException message:
 *   Event pattern is not valid. Reason: "source" must be an object or an array
 *    at [Source: (String)"{"source": "aws.s3"}"; line: 1, column: 20]
 */
#ifndef SL_PATTERN_H
#define SL_PATTERN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* PutRule's EventPattern is at most 4096 characters (botocore: events EventPattern max 4096). */
#define SL_PATTERN_MAX_CHARS 4096
/* Deepest object/array nesting accepted in a pattern. */
#define SL_PATTERN_MAX_DEPTH 64
/* Most sub-patterns one pattern may expand to through nested "$or" (their product). */
#define SL_PATTERN_MAX_BRANCHES 1024

typedef struct sl_pattern sl_pattern;

/* Compiles a pattern. On error returns NULL and writes a NUL-terminated message (truncated to
 * errlen) beginning "Event pattern is not valid. Reason: ". json need not be NUL-terminated. */
sl_pattern *sl_pattern_compile(const char *json, size_t len, char *err, size_t errlen);
/* True when the event matches. An event that is not a JSON object has no fields. */
bool sl_pattern_match(const sl_pattern *p, const json_t *event);
/* Same, for event text; false when the text is not valid JSON. */
bool sl_pattern_match_text(const sl_pattern *p, const char *event, size_t len);
void sl_pattern_free(sl_pattern *p);
/* Number of sub-patterns after "$or" expansion (1 without "$or"). */
size_t sl_pattern_branch_count(const sl_pattern *p);

typedef struct sl_matcher sl_matcher;
typedef void (*sl_matcher_fn)(void *ctx, const char *rule_id);

sl_matcher *sl_matcher_new(void);
void sl_matcher_free(sl_matcher *m);
/* Adds rule_id with a pattern, replacing the rule's previous pattern if it had one (PutRule).
 * Returns 0, or -1 with a message in err when the pattern is invalid (the matcher is unchanged). */
int sl_matcher_add(sl_matcher *m, const char *rule_id, const char *pattern_json, size_t len,
                   char *err, size_t errlen);
/* Adds an already compiled pattern (the matcher keeps its own copy of what it needs). */
void sl_matcher_add_compiled(sl_matcher *m, const char *rule_id, const sl_pattern *p);
/* Returns 0, or -1 when no rule has that id. */
int sl_matcher_remove(sl_matcher *m, const char *rule_id);
size_t sl_matcher_rule_count(const sl_matcher *m);
/* Calls fn once for every rule the event matches (in no particular order) and returns how many.
 * Matching only reads the matcher: any number of threads may match at once, while add and remove
 * need the matcher to themselves (the caller's lock). fn may be NULL to only count. */
size_t sl_matcher_match(const sl_matcher *m, const json_t *event, sl_matcher_fn fn, void *ctx);
/* Same for event text, read by the machine itself (several times faster than parsing it with
 * jansson first); returns -1 when the text is not a JSON object jansson would accept. */
long sl_matcher_match_text(const sl_matcher *m, const char *json, size_t len, sl_matcher_fn fn,
                           void *ctx);

#endif
