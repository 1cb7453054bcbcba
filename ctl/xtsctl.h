/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xtsctl.h - the parts of xtsctl: the command line and the calls
 * (xtsctl.c), the text of each answer (ctl_text.c), conns paged through
 * (ctl_conns.c), top's rates (ctl_top.c).
 */
#ifndef XTS_XTSCTL_H
#define XTS_XTSCTL_H

#include <stdbool.h>

#include "ctl_client.h"

#define PROG "xtsctl"

enum fmt { FMT_TEXT, FMT_JSON, FMT_PROM };

struct cmd;

struct cli {
	const char *sock, *conf, *shard;
	char *args[XTS_CTL_MAX_ARGS];
	int nargs;
	const struct cmd *cmd;
	enum fmt fmt;
	/* conns filters (NULL, -1: any) */
	const char *state, *addr;
	long port;
	/* top */
	double interval_s;
	long count;
	/* stop */
	bool wait;
	double timeout_s; /* < 0: drain_ms + 10 s */
};

/* One request to xtsd: 0, or 1 with the reason on stderr (the answer's
 * error included).  *r to ctl_reply_free() either way. */
int xtsctl_call(const struct cli *o, int argc, char **argv, struct ctl_reply *r);
/* The value of key in rec, or "-". */
const char *rec_get(const struct ctl_rec *rec, const char *k);
/* Is counter `name` a byte count (IEC units in tables)? */
bool counter_is_bytes(const char *name);

/* ctl_text.c: an answer as text */
void text_status(struct ctl_reply *r);
void text_stats(struct ctl_reply *r);
void text_listeners(struct ctl_reply *r);
void text_reload(struct ctl_reply *r);
void text_generic(struct ctl_reply *r);
/* stop [--wait]: 0, or 1 when --wait ran out */
int text_stop(const struct cli *o, struct ctl_reply *r);

/* ctl_conns.c: every connection, a page a request; 0 or 1 */
int run_conns(const struct cli *o);
/* ctl_top.c: rates per second, --count samples (0: until killed); 0 or 1 */
int run_top(const struct cli *o);

#endif
