// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-run - run an unmodified program with its TCP sockets on XTS:
 *
 *   xts-run [--queues N] [--rules FILE] [--interface IF] [--queue Q]
 *           [--log LEVEL] [--fallback kernel|fail] [--] CMD [ARGS...]
 *
 * Puts libxts-preload.so first in LD_PRELOAD, passes the settings in
 * XTS_RUN_* variables (which a program it execs inherits, with the
 * preload) and execs CMD.  The rules file is checked here, so that a
 * mistake is "FILE:LINE: reason" and exit 2 instead of a program that
 * quietly runs on the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"
#include "xts_version.h"

#define PROG "xts-run"

/* pl_rules.c logs through this; the launcher has nothing to say */
int pl_log_level;
void pl_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--queues N] [--rules FILE] [--interface IF] [--queue Q]\n"
		"       [--log debug|info|warn|quiet] [--fallback kernel|fail] [--] CMD [ARGS...]\n"
		"Runs CMD with its TCP sockets on XTS (libxts-preload.so).\n");
}

/* the library: $XTS_PRELOAD_LIB, else beside this program (../lib in the
 * build tree, ../LIBDIR under an install prefix, wherever that prefix
 * is), else the libdir configured */
static const char *find_lib(char *buf, size_t len)
{
	static const char *const rel[] = {"lib", XTS_RUN_RELLIBDIR};
	const char *env = getenv("XTS_PRELOAD_LIB");
	char exe[PATH_MAX];
	unsigned i;
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	for (i = 0; n > 0 && i < 2; i++) {
		exe[n] = 0;
		snprintf(buf, len, "%s/../%s/libxts-preload.so", dirname(exe), rel[i]);
		if (access(buf, R_OK) == 0)
			return buf;
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	}
	snprintf(buf, len, "%s/libxts-preload.so", XTS_RUN_LIBDIR);
	return buf;
}

static int set(const char *k, const char *v)
{
	if (setenv(k, v, 1)) {
		fprintf(stderr, PROG ": setenv %s: %s\n", k, strerror(errno));
		return -1;
	}
	return 0;
}

/* One option: 0 to go on, 1 to exit 0 (--help, --version), 2 on error. */
static int option(int c, const char *arg)
{
	char rules[PATH_MAX], err[512], *end;
	struct pl_rules rs;
	long v;

	switch (c) {
	case 'n':
		v = strtol(arg, &end, 10);
		if (*end || v < 1 || v > PL_MAX_Q) {
			fprintf(stderr, PROG ": --queues: 1 to %d\n", PL_MAX_Q);
			return 2;
		}
		if (set("XTS_RUN_QUEUES", arg))
			return 2;
		break;
	case 'r':
		if (pl_rules_load(&rs, arg, err, sizeof(err))) {
			fprintf(stderr, PROG ": %s\n", err);
			return 2;
		}
		pl_rules_free(&rs);
		/* absolute: the program may chdir before its first socket */
		if (!realpath(arg, rules) || set("XTS_RUN_RULES", rules))
			return 2;
		break;
	case 'i':
		if (set("XTS_RUN_IF", arg))
			return 2;
		break;
	case 'q':
		v = strtol(arg, &end, 10);
		if (*end || v < 0) {
			fprintf(stderr, PROG ": --queue: a queue number\n");
			return 2;
		}
		if (set("XTS_RUN_QUEUE", arg))
			return 2;
		break;
	case 'l':
		if (strcmp(arg, "debug") && strcmp(arg, "info") && strcmp(arg, "warn") &&
		    strcmp(arg, "quiet")) {
			fprintf(stderr, PROG ": --log: debug, info, warn or quiet\n");
			return 2;
		}
		if (set("XTS_RUN_LOG", arg))
			return 2;
		break;
	case 'f':
		if (strcmp(arg, "kernel") && strcmp(arg, "fail")) {
			fprintf(stderr, PROG ": --fallback: kernel or fail\n");
			return 2;
		}
		if (set("XTS_RUN_FALLBACK", arg))
			return 2;
		break;
	case 'h':
		usage(stdout);
		return 1;
	case 'V':
		printf(PROG " %s\n", XTS_VERSION);
		return 1;
	default:
		usage(stderr);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"queues", required_argument, NULL, 'n'},
					   {"rules", required_argument, NULL, 'r'},
					   {"interface", required_argument, NULL, 'i'},
					   {"queue", required_argument, NULL, 'q'},
					   {"log", required_argument, NULL, 'l'},
					   {"fallback", required_argument, NULL, 'f'},
					   {"help", no_argument, NULL, 'h'},
					   {"version", no_argument, NULL, 'V'},
					   {NULL, 0, NULL, 0}};
	char lib[PATH_MAX], *pre;
	const char *old;
	int c, r;

	while ((c = getopt_long(argc, argv, "+n:r:i:q:l:f:hV", lo, NULL)) != -1) {
		r = option(c, optarg);
		if (r)
			return r == 1 ? 0 : 2;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	find_lib(lib, sizeof(lib));
	if (access(lib, R_OK)) {
		fprintf(stderr, PROG ": %s: %s\n", lib, strerror(errno));
		return 127;
	}
	old = getenv("LD_PRELOAD");
#ifdef XTS_RUN_ASAN_LIB
	/* A sanitizer build's preload: its runtime must come before libc
	 * in the program (ASan interposes malloc), so it goes first; the
	 * programs are not ours, their leaks not our business */
	if (!old || !strstr(old, XTS_RUN_ASAN_LIB)) {
		const char *ao = getenv("ASAN_OPTIONS");
		char *aopt;

		if (asprintf(&aopt, "detect_leaks=0%s%s", ao && *ao ? ":" : "", ao ? ao : "") < 0 ||
		    set("ASAN_OPTIONS", aopt) ||
		    asprintf(&pre, "%s:%s%s%s", XTS_RUN_ASAN_LIB, lib, old && *old ? ":" : "",
			     old ? old : "") < 0 ||
		    set("LD_PRELOAD", pre))
			return 2;
	} else
#endif
	    if (asprintf(&pre, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "") < 0 ||
		set("LD_PRELOAD", pre))
		return 2;
	execvp(argv[optind], argv + optind);
	fprintf(stderr, PROG ": %s: %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
