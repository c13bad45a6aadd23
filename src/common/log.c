#include "log.h"

#include "err.h"
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static const char *log_prog = "migrate";
static enum log_level log_max = LOG_INFO;

void log_init(const char *prog, enum log_level max)
{
	log_prog = prog;
	log_max = max;
}

void log_set_level(enum log_level max)
{
	log_max = max;
}

enum log_level log_get_level(void)
{
	return log_max;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "", "debug"};
	if (lvl > log_max)
		return;
	char stamp[32] = "";
	if (log_max >= LOG_DEBUG) {
		/* Timestamps only when debugging: they are noise in a normal run's output. */
		struct timeval tv;
		struct tm tm;
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		snprintf(stamp, sizeof(stamp), "%02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (long)(tv.tv_usec / 1000));
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg = mig_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* Messages carry text from peers and programs: no control character reaches the
	 * terminal as it is (text.h). */
	char *safe = text_escape(msg);
	fprintf(stderr, "%s%s: %s%s%s\n", stamp, log_prog, names[lvl], *names[lvl] ? ": " : "",
		safe);
	free(safe);
	free(msg);
}
