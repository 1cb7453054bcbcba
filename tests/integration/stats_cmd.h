/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats_cmd.h - a shard counter for the test tools (xts-blast, xts-conns):
 * they are given a command that prints the shard's counters as "KEY
 * VALUE" lines (lib.sh's stats_cmd: `xtsctl -s SOCK stats --shard N`).
 */
#ifndef XTS_TEST_STATS_CMD_H
#define XTS_TEST_STATS_CMD_H

#include <stdio.h>
#include <string.h>

/* The value of the first "KEY VALUE" line @cmd prints for @key, -1 if none. */
static inline long long stats_cmd_get(const char *cmd, const char *key)
{
	char line[256], name[64];
	long long v, found = -1;
	FILE *f;

	if (!cmd || !(f = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (found < 0 && sscanf(line, "%63s %lld", name, &v) == 2 && !strcmp(name, key))
			found = v;
	pclose(f);
	return found;
}

#endif
