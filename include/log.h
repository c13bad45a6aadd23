/* Levelled logging to stderr, prefixed with the program name (as CRIU's logs are levelled).
 * Reports go to stdout through report.h; everything else a person reads goes here. */
#ifndef MIG_LOG_H
#define MIG_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Program name used as prefix and the most verbose level printed (default LOG_INFO). */
void log_init(const char *prog, enum log_level max);
void log_set_level(enum log_level max);
enum log_level log_get_level(void);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
