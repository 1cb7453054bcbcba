/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xpd_srv.h - a client of xportd's unix socket (xpd_srv.c) and the
 * commands it may run (xpd_cmd.c).
 */
#ifndef XTS_XPD_SRV_H
#define XTS_XPD_SRV_H

#include "xportd.h"

enum xpd_cl_state {
	CL_FREE,
	CL_READ,  /* its request line is on its way (request_ms) */
	CL_WAIT,  /* a lease request waiting for a free queue */
	CL_SNAP,  /* socks: waiting for the lessees' snapshots */
	CL_WRITE, /* the answer is on its way */
	CL_LEASE, /* the connection is a lease */
};

struct xpd_client {
	struct xpd_ev ev; /* first: the handler is given this */
	uint8_t st;	  /* enum xpd_cl_state */
	bool give_fds;	  /* the answer carries the lease's fds */
	bool fds_truncated;
	struct xpd_peer peer;
	uint64_t seq;	     /* arrival order: waiting requests are served in it */
	uint64_t freed_turn; /* the loop turn it was freed in: not reused in it */
	long long deadline;
	char in[XTS_CTL_LINE_MAX + 1];
	size_t in_len;
	int fds[XTS_LEASE_NFDS]; /* received (renew) */
	unsigned nfds;
	struct ctl_buf out;
	size_t off;
	unsigned out_nfds; /* fds still to attach to the next send */
	struct xpd_lease *lease;
	int pidfd;
	/* a lease request */
	int want; /* queue, or -1: any */
	uint32_t max_socks;
	long long asked_ms, wait_until;
	/* socks */
	int32_t pid_filter; /* 0: every lessee */
	bool json_hint;
};

void xpd_client_free(struct xpd *d, struct xpd_client *cl);
/* Answer (status line, body records, "end") and close, or, after a lease
 * was granted on it, keep it as the lease. */
void xpd_client_answer(struct xpd *d, struct xpd_client *cl, int err, const char *msg,
		       const struct ctl_buf *body);
int xpd_peer_pidfd(const struct xpd_client *cl);

/* xpd_cmd.c */
void xpd_cmd_request(struct xpd *d, struct xpd_client *cl);
/* Queues changed: waiting lease requests try again, oldest first. */
void xpd_cmd_retry(struct xpd *d, long long now);
/* A parked or slow client's deadline passed. */
void xpd_cmd_deadline(struct xpd *d, struct xpd_client *cl, long long now);
bool xpd_cmd_waiting(const struct xpd *d);

/* xpd_show.c: status and socks (which may park the client, CL_SNAP, until
 * the lessees answered or SNAP_WAIT_MS) */
int xpd_cmd_show(struct xpd *d, struct xpd_client *cl, int argc, char **argv, char *why,
		 size_t whylen);
void xpd_cmd_show_done(struct xpd *d, struct xpd_client *cl);
/* Are the snapshots a parked socks asked for all in? */
bool xpd_show_ready(const struct xpd *d, const struct xpd_client *cl);

#endif
