/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl_client.h - the client side of the ctl wire (ctl_client.c): xtsctl
 * and `xportd status|socks`.
 */
#ifndef XTS_CTL_CLIENT_H
#define XTS_CTL_CLIENT_H

#include <stdbool.h>

#include "xts_ctl.h"

struct ctl_reply {
	char *buf; /* whole response, split into lines in place */
	char **line;
	unsigned nlines;
	int err; /* from the status line */
	char *errmsg;
	int peer_pid; /* the server's pid in our namespace (SO_PEERCRED), 0: unknown */
};

/* One request (argv) to the server at path; its answer into *r.  0, or
 * -errno with one line on stderr, "PROG: ...", naming @server where it
 * helps.  *r holds what came even on failure: ctl_reply_free() it. */
int ctl_call(const char *prog, const char *server, const char *path, int argc, char **argv,
	     int timeout_s, struct ctl_reply *r);
/* The records (lines 1..) parsed in place, one at a time: *i starts at 0. */
bool ctl_reply_next(struct ctl_reply *r, unsigned *i, struct ctl_rec *rec);
/* {"TYPEs": [ {k: v, ...}, ... ], ...} on stdout, in record order. */
void ctl_reply_json(struct ctl_reply *r);
/* One record as a JSON object {k: v, ...} on stdout (numbers bare). */
void ctl_rec_json(const struct ctl_rec *rec);
void ctl_reply_free(struct ctl_reply *r);

#endif
