/* filter: CloudWatch Logs filter patterns (FilterLogEvents' filterPattern), compiled once per
 * call and matched against each event's message. Supported:
 *   text patterns   ERROR            the term occurs (case-sensitive substring)
 *                   "Failed to"      a quoted phrase
 *                   ERROR Exception  every term occurs (AND)
 *                   ?ERROR ?WARN     at least one ?term occurs (OR)
 *                   ERROR -Exiting   the -term does not occur
 *   JSON patterns   { $.a.b[0] = "x*" }  = and != on strings (* is a wildcard), numbers and
 *                   booleans; < > <= >= on numbers; IS TRUE|FALSE|NULL; NOT EXISTS;
 *                   && (binds tighter) and || with parentheses
 * Anything else (space-delimited [a, b] patterns, %regex%) fails to compile with a message
 * naming what is not supported. Pure: no store, no globals; safe from any thread. */
#ifndef SL_LOGS_FILTER_H
#define SL_LOGS_FILTER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sl_log_filter sl_log_filter;

/* NULL with err on a pattern AWS would reject or Sluice does not support. An empty or blank
 * pattern compiles to a filter that matches every message. */
sl_log_filter *sl_log_filter_compile(const char *pattern, char *err, size_t errlen);
bool sl_log_filter_match(const sl_log_filter *f, const char *msg, size_t len);
/* True when the filter matches everything (no per-message work needed). */
bool sl_log_filter_is_all(const sl_log_filter *f);
void sl_log_filter_free(sl_log_filter *f);

#endif
