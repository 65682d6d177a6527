/* log: structured, one-line-per-event logging to stderr ("ts=... level=... msg=... k=v").
 * Thread-safe; a line is written with one write(2) so lines never interleave. */
#ifndef SL_LOG_H
#define SL_LOG_H

typedef enum {
    SL_LOG_DEBUG,
    SL_LOG_INFO,
    SL_LOG_WARN,
    SL_LOG_ERROR
} sl_log_level;

void sl_log_set_level(sl_log_level level);
/* fmt continues the line after "msg=": callers write `"\"text\" key=%s"` style pairs. */
void sl_log(sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...)  sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...)  sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

#endif
