/* schedule: EventBridge schedule expressions. `rate(N unit)` (minute(s), hour(s), day(s)) and
 * `cron(Minutes Hours Day-of-month Month Day-of-week Year)` in UTC with AWS's syntax: lists
 * `,`, ranges `-`, steps `/`, `*`, `?` (one of the two day fields must be `?`), `L` (last day
 * of the month; in day-of-week, the last given weekday of the month: `5L`), `W` (nearest
 * weekday: `15W`, `LW`), `#` (nth weekday: `3#2`), month names JAN-DEC and day names SUN-SAT
 * (1 = Sunday). Pure functions: parse once, ask for the next time. */
#ifndef SL_SCHEDULE_H
#define SL_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_schedule sl_schedule;

/* NULL with err (AWS's "Parameter ScheduleExpression is not valid." plus the reason). */
sl_schedule *sl_schedule_parse(const char *expr, char *err, size_t errlen);
void sl_schedule_free(sl_schedule *s);
/* The first firing time strictly after after_ms (ms since the epoch, UTC); rate schedules fire
 * every period counted from after_ms. -1 when a cron never fires again (past its years). */
int64_t sl_schedule_next(const sl_schedule *s, int64_t after_ms);

#endif
