// SPDX-License-Identifier: BSD-2-Clause
/* sup_log.c - xtsd's log: levels, to stderr or syslog (log_target). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "sup.h"

static int use_syslog;
static int max_level = XTS_LOG_INFO;

/* With syslog, start-up lines also go to stderr (LOG_PERROR): whoever
 * started xtsd sees why it did not start ("another xtsd runs ...") */
void sup_log_init(const char *target)
{
	use_syslog = target && !strcmp(target, "syslog");
	if (use_syslog)
		openlog("xtsd", LOG_PID | LOG_NDELAY | LOG_PERROR, LOG_DAEMON);
}

void sup_log_started(void)
{
	if (use_syslog) {
		closelog();
		openlog("xtsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void sup_log_level(int level)
{
	max_level = level;
}

void sup_log(int level, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	static const char *const name[] = {"error", "warning", "info", "debug"};
	va_list ap;

	if (level > max_level || level < 0 || level > XTS_LOG_DEBUG)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio[level], fmt, ap);
	} else {
		fprintf(stderr, "xtsd: %s: ", name[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
