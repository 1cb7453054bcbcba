// SPDX-License-Identifier: BSD-2-Clause
/*
 * pl_lsn.c - listeners: one DPU listener per queue of the process, all in
 * one SO_REUSEPORT group on the DPU; accept() takes from all of them in
 * turn; a listener inherited over fork listens again on the child's own
 * queues when the child first accepts or waits on it; a process that
 * forks without ever having used a listener (nginx's master) parks it:
 * its DPU listeners go, so no connection waits in a backlog nobody
 * accepts from.  docs/design.md (xts-run, "fork") says why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

unsigned pl_members(const struct pl_sock *ps, struct pl_member *out)
{
	unsigned i, n = 0;

	if (!ps->q)
		return 0;
	out[n++] = (struct pl_member){.q = ps->q, .sd = ps->sd};
	for (i = 0; i < ps->nxm; i++)
		out[n++] = ps->xm[i];
	return n;
}

void pl_opt_note(struct pl_sock *ps, int level, int name, const void *val, socklen_t len)
{
	unsigned i;

	if (!val || len > sizeof(ps->opt[0].val))
		return;
	pthread_mutex_lock(&pl_mu);
	for (i = 0; i < ps->nopt; i++)
		if (ps->opt[i].level == level && ps->opt[i].name == name)
			break;
	if (i < PL_MAX_OPTS) {
		ps->opt[i] = (struct pl_opt){.level = level, .name = name, .len = len};
		memcpy(ps->opt[i].val, val, len);
		if (i == ps->nopt)
			ps->nopt++;
	}
	pthread_mutex_unlock(&pl_mu);
}

/* Options every member listens with: SO_REUSEPORT always, so that the
 * process's other queues and its children can listen beside it. */
static int lsn_opts(struct pl_queue *q, int sd, const struct pl_sock *ps)
{
	int one = 1;
	unsigned i;

	for (i = 0; i < ps->nopt; i++) {
		const struct pl_opt *o = &ps->opt[i];

		if (xport_setsockopt(q->xp, sd, o->level, o->name, o->val, o->len)) {
			/* the placeholder keeps it, as when the socket was made */
		}
	}
	if (ps->shared && xport_setsockopt(q->xp, sd, SOL_XTS, XTS_LSN_SHARED, &one, sizeof(one)))
		return -1;
	return xport_setsockopt(q->xp, sd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
}

/* A member on @q: 0 and *sdp, or -errno. */
static int member_make(struct pl_queue *q, const struct pl_sock *ps, int *sdp)
{
	int sd, err = 0;

	pl_qlock(q);
	sd = xport_socket(q->xp, ps->domain, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (sd < 0) {
		err = -errno;
	} else if (lsn_opts(q, sd, ps) || (ps->tls && pl_tls_push(q->xp, sd, ps->tls)) ||
		   (ps->bound &&
		    xport_bind(q->xp, sd, (const struct sockaddr *)&ps->baddr, ps->blen)) ||
		   xport_listen(q->xp, sd, ps->backlog)) {
		err = -errno;
		xport_close(q->xp, sd);
	}
	q->force = true;
	pl_qunlock(q);
	*sdp = sd;
	return err;
}

/* Members on the queues but the first's (--queues N).  One that fails is
 * logged and left out: the listener serves on fewer queues. */
static void spread(struct pl_sock *ps)
{
	unsigned i, n = pl_nq();
	int err, sd;

	if (n < 2)
		return;
	if (!ps->xm)
		ps->xm = calloc(PL_MAX_Q, sizeof(*ps->xm));
	if (!ps->xm) {
		pl_log(PL_LOG_WARN, "a listener on one queue only: %s", strerror(ENOMEM));
		return;
	}
	for (i = 0; i < n; i++) {
		struct pl_queue *q;

		if (i == ps->q->idx)
			continue;
		q = pl_queue_at(i, &err);
		if (q)
			err = member_make(q, ps, &sd);
		if (!q || err) {
			pl_log(PL_LOG_WARN, "a listener not on queue slot %u: %s", i,
			       strerror(err ? -err : ENETDOWN));
			continue;
		}
		ps->xm[ps->nxm++] = (struct pl_member){.q = q, .sd = sd};
	}
}

/* The address the DPU gave (port 0: the DPU picked one), for the other
 * members and for children. */
static void note_name(struct pl_sock *ps)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (xport_getsockname(ps->q->xp, ps->sd, (struct sockaddr *)&ss, &len) == 0 &&
	    len <= sizeof(ps->baddr)) {
		memcpy(&ps->baddr, &ss, len);
		ps->blen = len;
		ps->bound = true;
	}
}

int pl_lsn_listen(int fd, struct pl_sock *ps, int backlog)
{
	int r, e, one = 1;

	(void)fd;
	pl_qlock(ps->q);
	r = xport_setsockopt(ps->q->xp, ps->sd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (r == 0)
		r = xport_listen(ps->q->xp, ps->sd, backlog);
	e = errno;
	if (r == 0)
		note_name(ps);
	pl_qunlock(ps->q);
	if (r)
		return -e;
	pthread_mutex_lock(&pl_mu);
	ps->lsn = true;
	ps->backlog = backlog;
	spread(ps);
	pthread_mutex_unlock(&pl_mu);
	return 0;
}

int pl_lsn_up(struct pl_sock *ps)
{
	struct pl_queue *q;
	int err = 0, sd;

	q = pl_queue_get(&err);
	if (!q)
		return err ? err : -ENETDOWN;
	err = member_make(q, ps, &sd);
	if (err)
		return err;
	ps->q = q;
	ps->sd = sd;
	pl_qlock(q);
	note_name(ps);
	pl_qunlock(q);
	spread(ps);
	pl_log(PL_LOG_DEBUG, "listener on %u queue(s) of this process (pid %d)", 1 + ps->nxm,
	       (int)getpid());
	return 0;
}

int pl_usable(int fd, struct pl_sock *ps)
{
	int err = 0;

	if (ps->foreign)
		return pl_claim(fd, ps);
	if (!ps->lsn)
		return 0;
	ps->used = true;
	if (ps->q)
		return 0;
	pthread_mutex_lock(&pl_mu);
	if (!ps->q)
		err = pl_lsn_up(ps);
	pthread_mutex_unlock(&pl_mu);
	if (err)
		pl_log(PL_LOG_WARN, "fd %d: listening on this process's queue: %s", fd,
		       strerror(-err));
	return -err;
}

/* accept's new socket: a placeholder fd and a table entry for @sd of @q */
static int adopt_conn(struct pl_sock *ps, struct pl_queue *q, int sd, int flags)
{
	struct pl_sock *nps = calloc(1, sizeof(*nps));
	int nfd = nps ? REAL(socket)(ps->domain, SOCK_STREAM | flags, 0) : -1, e;

	if (nfd < 0) {
		e = nps ? errno : ENOMEM;
		free(nps);
		pl_qlock(q);
		xport_close(q->xp, sd);
		pl_qunlock(q);
		errno = e;
		return -1;
	}
	*nps = (struct pl_sock){.refs = 1,
				.kind = PL_XTS,
				.domain = ps->domain,
				.type = SOCK_STREAM,
				.q = q,
				.sd = sd,
				.nonblock = !!(flags & SOCK_NONBLOCK)};
	pthread_mutex_lock(&pl_mu);
	pl_drop(nfd);
	pl_set(nfd, nps);
	pthread_mutex_unlock(&pl_mu);
	return nfd;
}

/* One pass over the members, starting after the one that gave the last
 * connection, so that no queue's connections wait behind another's. */
static int accept_pass(struct pl_sock *ps, struct sockaddr *a, socklen_t *alen,
		       struct pl_queue **qp, int *ep)
{
	struct pl_member m[1 + PL_MAX_Q];
	unsigned n = pl_members(ps, m), first = ps->rr, k;
	int sd = -1;

	*ep = EAGAIN;
	for (k = 0; k < n; k++) {
		struct pl_member *x = &m[(first + k) % n];

		pl_qlock(x->q);
		sd = xport_accept4(x->q->xp, x->sd, a, alen, SOCK_NONBLOCK);
		*ep = errno;
		pl_qunlock(x->q);
		if (sd >= 0) {
			ps->rr = (first + k + 1) % n;
			*qp = x->q;
			return sd;
		}
		if (*ep != EAGAIN)
			return -1;
	}
	return -1;
}

/* Wait for a connection on any member: one queue's own wait when there
 * is one member, else a poll of the listener.  0, or an errno. */
static int accept_wait(int fd, struct pl_sock *ps, uint64_t dl)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	if (!ps->nxm) {
		pl_qlock(ps->q);
		r = xport_poll(ps->q->xp, &(struct xport_pollfd){.sd = ps->sd, .events = POLLIN}, 1,
			       0);
		if (r == 0)
			r = pl_qwait(ps->q, dl);
		pl_qunlock(ps->q);
		return r == -EINTR ? EINTR : r == -ETIMEDOUT ? EAGAIN : 0;
	}
	r = pl_poll_mixed(&p, 1, dl, NULL);
	if (r < 0)
		return errno;				    /* EINTR */
	return r == 0 && !pl_remaining_ms(dl) ? EAGAIN : 0; /* SO_RCVTIMEO */
}

int pl_lsn_accept(int fd, struct pl_sock *ps, struct sockaddr *a, socklen_t *alen, int flags)
{
	uint64_t dl = pl_deadline_us(ps->rcvtimeo_us);
	struct pl_queue *q = NULL;
	int sd, e;

	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		sd = accept_pass(ps, a, alen, &q, &e);
		if (sd >= 0)
			return adopt_conn(ps, q, sd, flags);
		if (e != EAGAIN || ps->nonblock || (e = accept_wait(fd, ps, dl)))
			break;
	}
	errno = e;
	return -1;
}

void pl_lsn_close(struct pl_sock *ps)
{
	struct pl_member m[1 + PL_MAX_Q];
	unsigned n = pl_members(ps, m), i;

	for (i = 0; i < n; i++) {
		pl_qlock(m[i].q);
		if (m[i].q->xp)
			xport_close(m[i].q->xp, m[i].sd);
		m[i].q->force = true; /* a thread in accept looks again */
		pl_qunlock(m[i].q);
	}
	if (n)
		pl_log(PL_LOG_DEBUG, "listener closed on %u queue(s)%s", n,
		       ps->shared ? ", shared: its connections wait for a sibling" : "");
	free(ps->xm);
	ps->xm = NULL;
	ps->nxm = 0;
	ps->q = NULL;
}

/* At exit (pl_fini, @q's lock held): the members on @q close before the
 * queue's session ends, so that a shared one's CLOSE says so and the DPU
 * keeps what it holds for the listener's next member (an nginx worker
 * that exits with its listener still open). */
void pl_lsn_exit(struct pl_sock *ps, struct pl_queue *q)
{
	if (ps->q == q && ps->sd >= 0) {
		xport_close(q->xp, ps->sd);
		ps->sd = -1;
	}
	for (unsigned i = 0; i < ps->nxm; i++)
		if (ps->xm[i].q == q && ps->xm[i].sd >= 0) {
			xport_close(q->xp, ps->xm[i].sd);
			ps->xm[i].sd = -1;
		}
}

/* Every lock is held (fork).  From now on the listening socket is open in
 * the child too: a close() of ours or the child's is not its end, so the
 * DPU keeps what it holds for whoever listens next (nginx's old workers
 * close, its new ones listen a moment later; XTS_LSN_SHARED). */
void pl_lsn_fork_parent(struct pl_sock *ps)
{
	struct pl_member m[1 + PL_MAX_Q];
	unsigned n = pl_members(ps, m), i;
	int one = 1;

	ps->shared = true;
	if (ps->used) {
		for (i = 0; i < n; i++)
			xport_setsockopt(m[i].q->xp, m[i].sd, SOL_XTS, XTS_LSN_SHARED, &one,
					 sizeof(one));
		return;
	}
	if (!n)
		return; /* parked already */
	for (i = 0; i < n; i++) {
		xport_close(m[i].q->xp, m[i].sd);
		m[i].q->force = true;
	}
	ps->q = NULL;
	ps->sd = -1;
	ps->nxm = 0;
	pl_log(PL_LOG_DEBUG, "a listener never used before fork: parked (the children listen)");
}

void pl_lsn_fork_child(struct pl_sock *ps)
{
	ps->shared = true; /* the parent's too (pl_lsn_fork_parent) */
	ps->q = NULL;
	ps->sd = -1;
	ps->nxm = 0;
	ps->used = false;
}
