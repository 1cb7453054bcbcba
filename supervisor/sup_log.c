// SPDX-License-Identifier: BSD-2-Clause
/* sup_log.c - xtsd's log (and its shards'): xts_log.c with ident "xtsd",
 * to stderr or syslog (log_target). */
#include <stdarg.h>
#include <string.h>

#include "sup.h"
#include "xts_log.h"

static bool use_syslog;

/* With syslog, start-up lines also go to stderr (LOG_PERROR): whoever
 * started xtsd sees why it did not start ("another xtsd runs ...") */
void sup_log_init(const char *target)
{
	use_syslog = target && !strcmp(target, "syslog");
	xts_log_open("xtsd", use_syslog, true);
}

void sup_log_started(void)
{
	if (use_syslog)
		xts_log_open("xtsd", true, false);
}

void sup_log_level(int level)
{
	xts_log_level(level);
}

void sup_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xts_vlog(level, fmt, ap);
	va_end(ap);
}
