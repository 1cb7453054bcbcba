// SPDX-License-Identifier: BSD-2-Clause
/*
 * sup_title.c - process titles: a shard shows in ps and /proc/PID/cmdline
 * as "xtsd: shard 2 (queue 2)" rather than xtsd's command line, and as
 * "xtsd-shard2" in /proc/PID/comm (top, pidstat: PR_SET_NAME).
 *
 * As nginx (ngx_setproctitle.c) and Redis (setproctitle.c) do: the kernel
 * shows the memory where argv's strings were, so the title is written
 * there.  That area is short (xtsd's own command line); the environment's
 * strings follow it in one block, so at start both are copied to the heap
 * (argv[] and environ then point at the copies, getopt's optarg included)
 * and the whole block is free for the title.  Only a block whose strings
 * are contiguous is used; anything else is left alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "sup.h"

extern char **environ;

static char *area;
static size_t area_len;

/* Before anything reads argv (getopt) or the environment. */
void sup_title_init(int argc, char **argv)
{
	char *start = argv[0], *end = argv[0], **env;
	int i, n;

	for (i = 0; i < argc; i++)
		if (argv[i] == end)
			end += strlen(end) + 1;
		else
			return; /* not one block: leave it */
	for (n = 0; environ[n]; n++)
		if (environ[n] == end)
			end += strlen(end) + 1;
	env = calloc((size_t)n + 1, sizeof(*env));
	if (!env)
		return;
	for (i = 0; i < n; i++)
		if (!(env[i] = strdup(environ[i])))
			return; /* ENOMEM this early: keep the old title */
	for (i = 0; i < argc; i++)
		if (!(argv[i] = strdup(argv[i])))
			return;
	/* the copies live as long as the process: never freed */
	environ = env;
	area = start;
	area_len = (size_t)(end - start);
}

/* In a shard, after the fork: the title, the rest of the block zeroed (a
 * zero byte ends /proc/PID/cmdline's first string: ps shows the title). */
void sup_title_set(const char *comm, const char *fmt, ...)
{
	va_list ap;

	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (!area || area_len < 2)
		return;
	memset(area, 0, area_len);
	va_start(ap, fmt);
	vsnprintf(area, area_len - 1, fmt, ap);
	va_end(ap);
}
