/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xts_log.h - the daemons' log (xts_log.c), shared by xtsd, its shards and
 * xportd: levels (enum xts_log_level), to stderr or syslog.
 *
 * On stderr each line is "2026-11-30T08:20:07.123Z xtsd[4242]: info: ...",
 * built whole and written with one write(2): lines of several processes
 * sharing the stream (xtsd and its shards) never interleave.
 */
#ifndef XTS_LOG_H
#define XTS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

/* Longest line written (longer ones end in "..."): within PIPE_BUF, so a
 * write to a pipe (journald, a supervisor's log reader) is atomic too. */
#define XTS_LOG_LINE_MAX 1024

/* ident: "xtsd", "xportd"; syslog: log there (facility daemon) instead of
 * stderr; also_stderr: with syslog, copy the lines to stderr too (start-up:
 * whoever started the daemon sees why it did not start). */
void xts_log_open(const char *ident, bool syslog, bool also_stderr);
void xts_log_level(int level); /* the most verbose level logged */
void xts_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The stderr form of one line into buf (at most len, newline included):
 * its length.  now_ns: CLOCK_REALTIME; 0: the journal's form, "<6>" (the
 * sd-daemon priority) instead of the time.  For xts_vlog and the test. */
unsigned xts_log_fmt(char *buf, unsigned len, unsigned long long now_ns, const char *ident, int pid,
		     int level, const char *msg);
/* Is @fd the journal's stream named by @journal_stream (systemd's
 * JOURNAL_STREAM, "DEV:INO")? */
bool xts_log_is_journal(int fd, const char *journal_stream);

#endif
