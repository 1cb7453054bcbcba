// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts_log.c - the daemons' log (xts_log.h): xtsd, its shards and xportd.
 *
 * The timestamp is ISO 8601 in UTC with milliseconds and a "Z"
 * (2026-11-30T08:20:07.123Z): it sorts as text, needs no time zone to
 * read, and lines of xtsd and xportd (two machines) line up.  RFC 5424's
 * own header (priority, hostname, app, msgid) is syslog's business: with
 * log_target = syslog the lines go there and carry syslog's stamp.
 *
 * Under systemd, stderr is a stream into the journal (JOURNAL_STREAM
 * names it), which stamps each line itself: there a line carries the
 * sd-daemon priority prefix ("<6>") instead of our time, so journalctl
 * shows one timestamp and filters by priority (-p warning).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xts_log.h"
#include "xts_shm.h" /* enum xts_log_level */

static const char *log_ident = "xts";
static bool use_syslog;
static int max_level = XTS_LOG_INFO;
static bool to_journal; /* stderr is the journal's stream */

bool xts_log_is_journal(int fd, const char *journal_stream)
{
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!journal_stream || sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(fd, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void xts_log_open(const char *ident, bool syslog_, bool also_stderr)
{
	log_ident = ident;
	to_journal = xts_log_is_journal(STDERR_FILENO, getenv("JOURNAL_STREAM"));
	if (use_syslog)
		closelog();
	use_syslog = syslog_;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY | (also_stderr ? LOG_PERROR : 0), LOG_DAEMON);
}

void xts_log_level(int level)
{
	max_level = level;
}

unsigned xts_log_fmt(char *buf, unsigned len, unsigned long long now_ns, const char *ident, int pid,
		     int level, const char *msg)
{
	static const char *const name[] = {"error", "warning", "info", "debug"};
	time_t sec = (time_t)(now_ns / 1000000000ull);
	struct tm tm;
	int n;

	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	const char *lv = level >= 0 && level <= XTS_LOG_DEBUG ? name[level] : "?";

	if (!now_ns) /* the journal's form: its priority, no time */
		n = snprintf(buf, len, "<%d>%s[%d]: %s: %s\n",
			     level >= 0 && level <= XTS_LOG_DEBUG ? prio[level] : LOG_ERR, ident,
			     pid, lv, msg);
	else {
		gmtime_r(&sec, &tm);
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ %s[%d]: %s: %s\n",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, (unsigned)(now_ns / 1000000ull % 1000), ident, pid, lv,
			     msg);
	}
	if (n < 0)
		return 0;
	if ((unsigned)n >= len) { /* cut: say so, keep the newline */
		memcpy(buf + len - 5, "...\n", 5);
		return len - 1;
	}
	return (unsigned)n;
}

void xts_vlog(int level, const char *fmt, va_list ap)
{
	char msg[XTS_LOG_LINE_MAX], line[XTS_LOG_LINE_MAX];
	struct timespec ts;
	unsigned n;
	int saved = errno;

	if (level > max_level || level < 0 || level > XTS_LOG_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_syslog) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

		syslog(prio[level], "%s", msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		n = xts_log_fmt(line, sizeof(line),
				to_journal ? 0
					   : (unsigned long long)ts.tv_sec * 1000000000ull +
						 (unsigned long long)ts.tv_nsec,
				log_ident, (int)getpid(), level, msg);
		/* one write(2) a line: never several pieces another process's
		 * line could fall between; a failed write (a full disk, EFBIG)
		 * is dropped, the daemon carries on */
		while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
			;
	}
	errno = saved;
}
