// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_cmd.c - what xportd's clients may ask (xts_lease.h): lease a queue,
 * renew a lease an earlier xportd granted, status, socks.  A lease request
 * that finds no free queue waits (parked, woken when a queue frees) up to
 * the time it gave, then fails EBUSY with the holders named.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "xpd_record.h"
#include "xpd_srv.h"

#define SNAP_WAIT_MS 300 /* socks: how long lessees get to answer */
#define WHY_LEN	     1024

/* ---- granting ---- */

static void read_comm(pid_t pid, char comm[16])
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	strcpy(comm, "?");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, 15);
	close(fd);
	if (n <= 0) {
		strcpy(comm, "?");
		return;
	}
	comm[n] = 0;
	comm[strcspn(comm, "\n")] = 0;
}

static void on_pidfd(struct xpd *d, struct xpd_ev *ev, uint32_t events)
{
	struct xpd_lease *ls = (struct xpd_lease *)((char *)ev - offsetof(struct xpd_lease, pidfd));

	(void)events;
	if (ls->ended) /* its connection's hang-up came first, this turn */
		return;
	if (ls->cl)
		xpd_client_free(d, ls->cl);
	xpd_lease_end(d, ls, "its process exited");
}

/* The lease becomes the client's: who, since when, its pidfd. */
static void lease_bind(struct xpd *d, struct xpd_client *cl, struct xpd_lease *ls)
{
	ls->peer = cl->peer;
	read_comm(cl->peer.pid, ls->comm);
	if (!ls->since_s) /* a renewed lease keeps its start */
		ls->since_s = (uint64_t)time(NULL);
	ls->since_ms = xpd_now_ms();
	ls->cl = cl;
	cl->lease = ls;
	d->q[ls->queue].st = XQ_LEASED;
	d->q[ls->queue].lease = ls;
	d->q[ls->queue].held_by = 0;
	if (xpd_record_write(d, ls))
		xpd_warn("queue %u: cannot write its lease record in %s: a restarted xportd "
			 "will not take its renew",
			 ls->queue, d->cfg->run_dir);
	ls->pidfd.fd = xpd_peer_pidfd(cl);
	ls->pidfd.fn = on_pidfd;
	if (ls->pidfd.fd >= 0 && xpd_ev_add(d, &ls->pidfd, EPOLLIN)) {
		close(ls->pidfd.fd);
		ls->pidfd.fd = -1;
	}
}

static void usage_now(const struct xpd *d, struct xpd_usage *u)
{
	u->queues = d->cfg->queues;
	for (uint32_t q = 0; q < u->queues; q++)
		u->holder_uid[q] = d->q[q].st == XQ_LEASED ? (int32_t)d->q[q].lease->peer.uid : -1;
}

/* A queue that may be set up now: free, or busy and due for a look. */
static bool available(struct xpd *d, uint32_t q, long long now)
{
	return d->q[q].st == XQ_FREE || (d->q[q].st == XQ_BUSY && now >= d->q[q].retry_ms);
}

static void mark_busy(struct xpd *d, uint32_t q, long long now)
{
	struct xpd_queue *xq = &d->q[q];

	if (xq->st != XQ_BUSY) {
		xq->busy_since_ms = now;
		/* most often the kernel is still releasing the last lessee's
		 * socket (a work item): look again soon, then less often */
		xq->backoff_ms = 5;
	} else if (xq->backoff_ms < 1000) {
		xq->backoff_ms *= 2;
	}
	xq->st = XQ_BUSY;
	xq->retry_ms = now + xq->backoff_ms;
	if (now - xq->busy_since_ms > 1000)
		xpd_dbg("queue %u: still held by a socket xportd did not lease", q);
}

/* Try the queues the policy allows: 1 granted, 0 none free, -errno. */
static int try_grant(struct xpd *d, struct xpd_client *cl, long long now, char *why, size_t whylen)
{
	uint8_t ok[XPD_MAX_QUEUES / 8];
	struct xpd_usage u;
	int err;

	usage_now(d, &u);
	err = xpd_policy_check(d->cfg, &cl->peer, &u, cl->want, ok, why, whylen);
	if (err)
		return err;
	for (uint32_t q = 0; q < d->cfg->queues; q++) {
		struct xpd_lease *ls;

		if (!xpd_bit(ok, q) || !available(d, q, now))
			continue;
		err = xpd_lease_open(d, q, cl->max_socks, &ls);
		if (err == -EBUSY) {
			mark_busy(d, q, now);
			continue;
		}
		if (err) {
			snprintf(why, whylen, "setting up queue %u: %s", q, strerror(-err));
			return err;
		}
		d->q[q].st = XQ_FREE;
		lease_bind(d, cl, ls);
		d->leases_granted++;
		xpd_info("queue %u: leased to pid %d (uid %u, %s) after %lld ms", q,
			 (int)cl->peer.pid, (unsigned)cl->peer.uid, ls->comm, now - cl->asked_ms);
		return 1;
	}
	return 0;
}

static void answer_lease(struct xpd *d, struct xpd_client *cl)
{
	struct ctl_buf body = {0};

	xpd_lease_rec(d, cl->lease, &body);
	cl->give_fds = true;
	xpd_client_answer(d, cl, 0, NULL, &body);
	ctl_buf_free(&body);
}

/* "queue 0: pid 812 (uid 0, xts-blast) since 12:01:07; ..." */
static void holders(const struct xpd *d, const struct xpd_client *cl, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len,
				    "no free queue after %lld ms: ", xpd_now_ms() - cl->asked_ms);

	for (uint32_t q = 0; q < d->cfg->queues && n < len; q++) {
		const struct xpd_lease *ls = d->q[q].lease;
		struct tm tm;
		time_t t;

		if (cl->want >= 0 && q != (uint32_t)cl->want)
			continue;
		if (d->q[q].st == XQ_LEASED) {
			t = (time_t)ls->since_s;
			localtime_r(&t, &tm);
			n += (size_t)snprintf(
			    buf + n, len - n,
			    "%squeue %u: pid %d (uid %u, %s) since %02d:%02d:%02d",
			    n > 30 ? "; " : "", q, (int)ls->peer.pid, (unsigned)ls->peer.uid,
			    ls->comm, tm.tm_hour, tm.tm_min, tm.tm_sec);
		} else if (d->q[q].st == XQ_BUSY && d->q[q].held_by) {
			n += (size_t)snprintf(buf + n, len - n,
					      "%squeue %u: pid %d (a lease of an earlier xportd)",
					      n > 30 ? "; " : "", q, (int)d->q[q].held_by);
		} else if (d->q[q].st == XQ_BUSY) {
			n += (size_t)snprintf(buf + n, len - n,
					      "%squeue %u: a socket xportd did not lease",
					      n > 30 ? "; " : "", q);
		}
	}
}

static void lease_wait_over(struct xpd *d, struct xpd_client *cl)
{
	char why[WHY_LEN];

	holders(d, cl, why, sizeof(why));
	xpd_info("pid %d (uid %u): EBUSY: %s", (int)cl->peer.pid, (unsigned)cl->peer.uid, why);
	xpd_client_answer(d, cl, EBUSY, why, NULL);
}

static int num_arg(const char *v, unsigned long max, unsigned long *out)
{
	return cfg_digits(v, strlen(v), 10, max, out);
}

/* A lease id: 64 random bits, up to 20 digits (num_arg's cfg_digits
 * takes 12, enough for every other argument). */
static int id_arg(const char *v, unsigned long *out)
{
	unsigned long x = 0;
	size_t n = strlen(v);

	if (!n || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned dg = (unsigned)(v[i] - '0');

		if (v[i] < '0' || dg > 9 || x > (~0ul - dg) / 10)
			return -EINVAL;
		x = x * 10 + dg;
	}
	*out = x;
	return 0;
}

static int cmd_lease(struct xpd *d, struct xpd_client *cl, int argc, char **argv, char *why,
		     size_t whylen)
{
	unsigned long v, wait_ms = 0;
	long long now = xpd_now_ms();
	int rc;

	cl->want = -1;
	cl->max_socks = d->cfg->max_sockets;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "queue=any"))
			continue;
		if (!strncmp(argv[i], "queue=", 6) && !num_arg(argv[i] + 6, XPD_MAX_QUEUES, &v))
			cl->want = (int)v;
		else if (!strncmp(argv[i], "wait_ms=", 8) && !num_arg(argv[i] + 8, ~0ul, &v))
			wait_ms = v < d->cfg->max_wait_ms ? v : d->cfg->max_wait_ms;
		else if (!strncmp(argv[i], "sockets=", 8) && !num_arg(argv[i] + 8, ~0ul, &v))
			cl->max_socks =
			    v && v < d->cfg->max_sockets ? (uint32_t)v : d->cfg->max_sockets;
		else if (!strncmp(argv[i], "netns=", 6) && !num_arg(argv[i] + 6, ~0ul, &v)) {
			/* a lessee that found us at the default path, from
			 * another network namespace: not the xportd of its
			 * interfaces (it opens directly instead) */
			if (v != d->netns_ino) {
				snprintf(why, whylen, "xportd serves another network namespace");
				return -ENXIO;
			}
		} else {
			snprintf(why, whylen, "lease: bad argument \"%s\"", argv[i]);
			return -EINVAL;
		}
	}
	cl->asked_ms = now;
	cl->wait_until = now + (long long)wait_ms;
	rc = try_grant(d, cl, now, why, whylen);
	if (rc < 0) {
		xpd_info("pid %d (uid %u): %s", (int)cl->peer.pid, (unsigned)cl->peer.uid, why);
		return rc;
	}
	if (rc) {
		answer_lease(d, cl);
		return 0;
	}
	if (now >= cl->wait_until) {
		lease_wait_over(d, cl);
		return 0;
	}
	cl->st = CL_WAIT;
	cl->deadline = cl->wait_until;
	/* a hang-up (the asker is gone) only: a half-close after the request
	 * is how a client says it is done talking */
	xpd_ev_mod(d, &cl->ev, 0);
	return 0;
}

/* ---- renew: a lessee of an earlier xportd hands its lease over ---- */

static bool ended_here(const struct xpd *d, uint64_t id)
{
	for (unsigned i = 0; i < d->ended_n && i < 64; i++)
		if (d->ended_ids[i] == id)
			return true;
	return false;
}

static int cmd_renew(struct xpd *d, struct xpd_client *cl, int argc, char **argv, char *why,
		     size_t whylen)
{
	unsigned long q = ~0ul, id = 0;
	struct xpd_lease *ls;
	int err;

	for (int i = 1; i < argc; i++)
		if (!(!strncmp(argv[i], "queue=", 6) &&
		      !num_arg(argv[i] + 6, XPD_MAX_QUEUES, &q)) &&
		    !(!strncmp(argv[i], "id=", 3) && !id_arg(argv[i] + 3, &id))) {
			snprintf(why, whylen, "renew: bad argument \"%s\"", argv[i]);
			return -EINVAL;
		}
	if (q >= d->cfg->queues || cl->nfds != XTS_LEASE_NFDS || cl->fds_truncated) {
		snprintf(why, whylen, "renew: needs queue=Q (0-%u) and the lease's %d fds",
			 d->cfg->queues - 1, XTS_LEASE_NFDS);
		return -EINVAL;
	}
	if (ended_here(d, id)) {
		snprintf(why, whylen, "renew: lease %lu was ended by this xportd", id);
		return -EPERM;
	}
	if (d->q[q].st == XQ_LEASED) {
		snprintf(why, whylen, "renew: queue %lu is leased to pid %d", q,
			 (int)d->q[q].lease->peer.pid);
		return -EEXIST;
	}
	err = xpd_lease_adopt(d, (uint32_t)q, id, cl->fds, &ls, why, whylen);
	if (err)
		return err;
	cl->nfds = 0; /* the lease's now */
	d->q[q].st = XQ_FREE;
	lease_bind(d, cl, ls);
	xpd_info("queue %lu: lease %llu renewed by pid %d (uid %u, %s)", q,
		 (unsigned long long)ls->id, (int)cl->peer.pid, (unsigned)cl->peer.uid, ls->comm);
	answer_lease(d, cl);
	cl->give_fds = false; /* it has them */
	cl->out_nfds = 0;
	return 0;
}

/* ---- dispatch ---- */

void xpd_cmd_request(struct xpd *d, struct xpd_client *cl)
{
	char why[WHY_LEN] = "", *argv[XTS_CTL_MAX_ARGS];
	int argc = ctl_req_parse(cl->in, argv, XTS_CTL_MAX_ARGS), rc;

	if (argc < 0) {
		xpd_client_answer(d, cl, EPROTO, "bad request (protocol v1 expected)", NULL);
		return;
	}
	if (strcmp(argv[0], "renew") && cl->nfds) {
		xpd_warn("pid %d sent %u fds with \"%s\": closed", (int)cl->peer.pid, cl->nfds,
			 argv[0]);
		for (unsigned i = 0; i < cl->nfds; i++)
			close(cl->fds[i]);
		cl->nfds = 0;
	}
	if (!strcmp(argv[0], "lease"))
		rc = cmd_lease(d, cl, argc, argv, why, sizeof(why));
	else if (!strcmp(argv[0], "renew"))
		rc = cmd_renew(d, cl, argc, argv, why, sizeof(why));
	else if (!strcmp(argv[0], "status") || !strcmp(argv[0], "socks"))
		rc = xpd_cmd_show(d, cl, argc, argv, why, sizeof(why));
	else {
		snprintf(why, sizeof(why), "unknown command \"%.64s\"", argv[0]);
		rc = -EINVAL;
	}
	if (rc && !strcmp(argv[0], "renew")) /* a lessee keeps its queue unlisted: say why */
		xpd_warn("pid %d (uid %u): %s", (int)cl->peer.pid, (unsigned)cl->peer.uid, why);
	if (rc)
		xpd_client_answer(d, cl, -rc, why, NULL);
}

bool xpd_cmd_waiting(const struct xpd *d)
{
	for (unsigned i = 0; d->clients && i < d->cfg->max_clients; i++)
		if (d->clients[i].st == CL_WAIT)
			return true;
	return false;
}

void xpd_cmd_retry(struct xpd *d, long long now)
{
	char why[WHY_LEN];

	/* oldest first: each round takes the waiting client with the lowest
	 * arrival number above the last one served */
	for (uint64_t last = 0;;) {
		struct xpd_client *next = NULL;
		int rc;

		for (unsigned i = 0; i < d->cfg->max_clients; i++) {
			struct xpd_client *cl = &d->clients[i];

			if (cl->st == CL_WAIT && cl->seq > last && (!next || cl->seq < next->seq))
				next = cl;
		}
		if (!next)
			return;
		last = next->seq;
		rc = try_grant(d, next, now, why, sizeof(why));
		if (rc > 0)
			answer_lease(d, next);
		else if (rc < 0)
			xpd_client_answer(d, next, -rc, why, NULL);
	}
}

void xpd_cmd_deadline(struct xpd *d, struct xpd_client *cl, long long now)
{
	switch (cl->st) {
	case CL_READ:
		xpd_warn("pid %d did not send its request in %u ms: dropped", (int)cl->peer.pid,
			 d->cfg->request_ms);
		xpd_client_answer(d, cl, ETIMEDOUT, "request not complete in time", NULL);
		break;
	case CL_WAIT:
		xpd_cmd_retry(d, now); /* a busy queue may be due */
		if (cl->st == CL_WAIT)
			lease_wait_over(d, cl);
		break;
	case CL_SNAP:
		xpd_cmd_show_done(d, cl);
		break;
	case CL_WRITE: {
		struct xpd_lease *ls = cl->lease;

		xpd_warn("pid %d did not take its answer in time: dropped", (int)cl->peer.pid);
		xpd_client_free(d, cl);
		if (ls)
			xpd_lease_end(d, ls, "it did not take the lease");
		break;
	}
	default:
		break;
	}
}
