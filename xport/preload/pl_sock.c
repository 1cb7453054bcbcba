// SPDX-License-Identifier: BSD-2-Clause
/*
 * pl_sock.c - the socket calls: socket() makes a pending socket (its
 * kernel placeholder answers for it), connect() and listen() decide by
 * the rules, and an XTS socket's calls go to libxport under its queue's
 * lock.  Blocking is ours: libxport sockets are always non-blocking, and
 * a blocking call waits in pl_qwait() with the lock released, so other
 * threads use the queue meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pl_outq.h"
#include "preload.h"

#define PASS(ps, fd) ((ps) = pl_depth ? NULL : pl_get(fd)) == NULL

/* An inherited connection: true once claimed from the parent (@fd is a
 * kernel socket now: go to libc), else false with errno set */
static bool claimed(int fd, struct pl_sock *ps)
{
	int r = pl_claim(fd, ps);

	if (r < 0)
		return true;
	errno = r;
	return false;
}

/* A listener parked at fork: no DPU listener in this process yet */
#define PARKED(ps) ((ps)->lsn && !(ps)->q)

static int fail(int err)
{
	errno = err;
	return -1;
}

static int64_t tv_us(const void *val, socklen_t len)
{
	struct timeval tv;

	if (len < sizeof(tv))
		return -1;
	memcpy(&tv, val, sizeof(tv));
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* ---- socket ---- */

int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);
	struct pl_sock *ps;

	if (fd < 0 || pl_depth)
		return fd;
	if (pl_get(fd)) { /* closed behind our back: that entry is stale */
		pthread_mutex_lock(&pl_mu);
		pl_drop(fd);
		pthread_mutex_unlock(&pl_mu);
	}
	if ((domain != AF_INET && domain != AF_INET6) || (type & 0xf) != SOCK_STREAM ||
	    (protocol != 0 && protocol != IPPROTO_TCP))
		return fd;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return fd; /* a kernel socket, then */
	ps->refs = 1;
	ps->kind = PL_PENDING;
	ps->domain = domain;
	ps->type = SOCK_STREAM;
	ps->sd = -1;
	ps->nonblock = !!(type & SOCK_NONBLOCK);
	if (pl_set(fd, ps))
		free(ps);
	return fd;
}

/* ---- the decision ---- */

/* Forget a pending socket: its placeholder is a kernel socket from now
 * on, with its options, binding and epoll registrations already there. */
static void demote(struct pl_sock *ps)
{
	int fd;

	for (fd = 0; ps->refs > 0 && fd < 1 << 20; fd++) {
		if (pl_get(fd) == ps) {
			pl_set(fd, NULL);
			ps->refs--;
		}
	}
	free(ps);
}

/* ---- TLS by rule ---- */

int pl_tls_push(struct xport *xp, int sd, const struct pl_tls *t)
{
	if (xport_setsockopt(xp, sd, SOL_TCP, TCP_ULP, "tls", 4) ||
	    xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_PROFILE, t->profile,
			     (socklen_t)strlen(t->profile) + 1) ||
	    (t->name[0] && xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_SERVER_NAME, t->name,
					    (socklen_t)strlen(t->name) + 1)) ||
	    (t->alpn_len && xport_setsockopt(xp, sd, SOL_XTS, XTS_TLS_ALPN, t->alpn, t->alpn_len)))
		return -1;
	return 0;
}

/* A TLS rule's socket failed with @err (its connect, listen or SO_ERROR):
 * one warning, with the reason the DPU gave (XTS_ULP_INFO), for the
 * operator: the program only sees the errno. */
static void tls_failed(int fd, struct pl_sock *ps, const char *call, int err)
{
	struct xport_ulp_info i;
	socklen_t len = sizeof(i);

	if (!ps->tls || ps->tls_said || !err || err == EINPROGRESS || err == EALREADY ||
	    err == EINTR || err == EAGAIN)
		return;
	ps->tls_said = true;
	memset(&i, 0, sizeof(i));
	if (ps->q) {
		pl_qlock(ps->q);
		if (xport_getsockopt(ps->q->xp, ps->sd, SOL_XTS, XTS_ULP_INFO, &i, &len))
			i.reason[0] = 0;
		pl_qunlock(ps->q);
	}
	i.reason[sizeof(i.reason) - 1] = 0;
	pl_log(PL_LOG_WARN, "fd %d: %s with TLS profile %s (rule of line %u): %s%s%s", fd, call,
	       ps->tls->profile, ps->tls->line, strerror(err), i.reason[0] ? ": " : "", i.reason);
}

/* The libxport socket for a pending one, with what it was given. */
static int make_xts(int fd, struct pl_sock *ps, int role, const struct pl_tls *tls)
{
	struct pl_queue *q;
	unsigned i;
	int err = 0, sd;

	q = pl_queue_get(&err);
	if (!q)
		return err ? err : -ENETDOWN;
	pl_qlock(q);
	sd = xport_socket(q->xp, ps->domain, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (sd < 0) {
		err = -errno;
		pl_qunlock(q);
		return err;
	}
	for (i = 0; i < ps->nopt; i++) {
		struct pl_opt *o = &ps->opt[i];

		if (xport_setsockopt(q->xp, sd, o->level, o->name, o->val, o->len))
			pl_log(PL_LOG_DEBUG, "fd %d: option %d/%d stays with the kernel socket: %s",
			       fd, o->level, o->name, strerror(errno));
	}
	if ((tls && pl_tls_push(q->xp, sd, tls)) ||
	    (ps->bound && xport_bind(q->xp, sd, (struct sockaddr *)&ps->baddr, ps->blen))) {
		err = -errno;
		xport_close(q->xp, sd);
		pl_qunlock(q);
		return err;
	}
	pl_qunlock(q);
	ps->q = q;
	ps->sd = sd;
	ps->tls = tls;
	ps->kind = PL_XTS;
	if (role == PL_ROLE_CLIENT) /* a listener's, once it listens on all queues */
		pl_ep_adopt(fd, ps);
	return 0;
}

/* 1: the kernel's (the caller goes on with libc), 0: an XTS socket now,
 * -errno: failed. */
static int decide(int fd, struct pl_sock *ps, int role, const struct sockaddr *a, socklen_t len)
{
	const char *why, *rname = role == PL_ROLE_CLIENT ? "connect" : "listen";
	const struct pl_tls *tls;
	int r, err;

	pthread_mutex_lock(&pl_mu);
	if (pl_get(fd) != ps || ps->kind != PL_PENDING) { /* another thread decided */
		pthread_mutex_unlock(&pl_mu);
		return ps->kind == PL_XTS ? 0 : 1;
	}
	r = pl_rules_match(&pl_rules, role, a, len, &why, &tls);
	if (r == PL_OFFLOAD) {
		err = make_xts(fd, ps, role, tls);
		if (!err) {
			pl_log(PL_LOG_DEBUG, "fd %d (%s): XTS, queue %u (%s%s%s)", fd, rname,
			       xport_queue(ps->q->xp), why, tls ? ", TLS profile " : "",
			       tls ? tls->profile : "");
			pthread_mutex_unlock(&pl_mu);
			return 0;
		}
		/* a TLS rule never falls back to the kernel: the program's
		 * plaintext would go out (or be served) as it is */
		if (pl_fallback_fail || tls) {
			pthread_mutex_unlock(&pl_mu);
			if (tls)
				pl_log(PL_LOG_WARN,
				       "fd %d: %s with TLS profile %s (rule of line %u): %s", fd,
				       rname, tls->profile, tls->line, strerror(-err));
			return err;
		}
		why = "no XTS queue";
	}
	pl_log(PL_LOG_DEBUG, "fd %d (%s): kernel (%s)", fd, rname, why);
	demote(ps);
	pthread_mutex_unlock(&pl_mu);
	return 1;
}

/* ---- connect ---- */

static int x_connect(int fd, struct pl_sock *ps, const struct sockaddr *a, socklen_t len)
{
	struct pl_queue *q = ps->q;
	uint64_t dl = pl_deadline_us(ps->sndtimeo_us);
	int r, e, w;

	pl_qlock(q);
	r = xport_connect(q->xp, ps->sd, a, len);
	e = errno;
	while (r < 0 && !ps->nonblock && (e == EINPROGRESS || e == EALREADY)) {
		w = pl_qwait(q, dl);
		if (w) { /* Linux: EINTR, or EINPROGRESS past SO_SNDTIMEO; it goes on */
			e = w == -EINTR ? EINTR : EINPROGRESS;
			break;
		}
		r = xport_connect(q->xp, ps->sd, a, len);
		e = errno;
	}
	q->force = true;
	pl_qunlock(q);
	if (r < 0)
		tls_failed(fd, ps, "connect", e);
	errno = e;
	return r;
}

int connect(int fd, const struct sockaddr *a, socklen_t len)
{
	struct pl_sock *ps;
	int r;

	if (PASS(ps, fd)) {
		pl_turn_over(); /* it may sleep: the turn's frames go first */
		return REAL(connect)(fd, a, len);
	}
	if (ps->kind == PL_XTS && (r = pl_usable(fd, ps)))
		return r < 0 ? REAL(connect)(fd, a, len) : fail(r);
	if (ps->kind == PL_PENDING) {
		if (!a || len < sizeof(sa_family_t))
			return REAL(connect)(fd, a, len);
		r = decide(fd, ps, PL_ROLE_CLIENT, a, len);
		if (r > 0)
			return REAL(connect)(fd, a, len);
		if (r < 0)
			return fail(-r);
	}
	return x_connect(fd, ps, a, len);
}

/* ---- bind, listen, accept ---- */

int bind(int fd, const struct sockaddr *a, socklen_t len)
{
	struct pl_sock *ps;
	const char *why;
	bool local = true;
	int r, e;

	if (PASS(ps, fd))
		return REAL(bind)(fd, a, len);
	if (ps->kind == PL_XTS && ps->foreign)
		return claimed(fd, ps) ? REAL(bind)(fd, a, len) : -1;
	if (ps->kind == PL_XTS && ps->lsn)
		return fail(EINVAL);
	if (ps->kind == PL_XTS) {
		pl_qlock(ps->q);
		r = xport_bind(ps->q->xp, ps->sd, a, len);
		e = errno;
		pl_qunlock(ps->q);
		errno = e;
		return r;
	}
	r = REAL(bind)(fd, a, len);
	if (r < 0) {
		e = errno;
		/* an address of the DPU's, not this host's: fine for a
		 * listener the rules offload (the DPU checks it at listen()) */
		if (e != EADDRNOTAVAIL || len > sizeof(ps->baddr) ||
		    pl_rules_match(&pl_rules, PL_ROLE_SERVER, a, len, &why, NULL) != PL_OFFLOAD)
			return fail(e);
		local = false;
	}
	pthread_mutex_lock(&pl_mu);
	if (len <= sizeof(ps->baddr)) {
		memcpy(&ps->baddr, a, len);
		ps->blen = len;
		ps->bound = true;
		ps->bound_local = local;
	}
	pthread_mutex_unlock(&pl_mu);
	return 0;
}

int listen(int fd, int backlog)
{
	struct sockaddr_storage any;
	struct pl_sock *ps;
	int r;

	if (PASS(ps, fd))
		return REAL(listen)(fd, backlog);
	if (ps->lsn) { /* again (nginx, for the backlog): not a use, a parked one stays */
		ps->backlog = backlog;
		return 0;
	}
	if (ps->kind == PL_XTS && (r = pl_usable(fd, ps)))
		return r < 0 ? REAL(listen)(fd, backlog) : fail(r);
	if (ps->kind == PL_PENDING) {
		memset(&any, 0, sizeof(any));
		any.ss_family = (sa_family_t)ps->domain;
		r = decide(fd, ps, PL_ROLE_SERVER,
			   ps->bound ? (struct sockaddr *)&ps->baddr : (struct sockaddr *)&any,
			   ps->bound
			       ? ps->blen
			       : (socklen_t)(ps->domain == AF_INET ? sizeof(struct sockaddr_in)
								   : sizeof(struct sockaddr_in6)));
		if (r > 0)
			return REAL(listen)(fd, backlog);
		if (r < 0)
			return fail(-r);
	}
	r = pl_lsn_listen(fd, ps, backlog);
	pthread_mutex_lock(&pl_mu);
	if (pl_get(fd) == ps)
		pl_ep_adopt(fd, ps); /* epoll registrations made while pending */
	pthread_mutex_unlock(&pl_mu);
	if (r < 0) {
		tls_failed(fd, ps, "listen", -r);
		return fail(-r);
	}
	return 0;
}

int accept4(int fd, struct sockaddr *a, socklen_t *alen, int flags)
{
	struct pl_sock *ps;
	int e;

	if (PASS(ps, fd) || ps->kind != PL_XTS) {
		pl_turn_over(); /* it may sleep: the turn's frames go first */
		return REAL(accept4)(fd, a, alen, flags);
	}
	if ((e = pl_usable(fd, ps)))
		return e < 0 ? REAL(accept4)(fd, a, alen, flags) : fail(e);
	if (!ps->lsn)
		return fail(EINVAL); /* not listening, as Linux */
	return pl_lsn_accept(fd, ps, a, alen, flags);
}

int accept(int fd, struct sockaddr *a, socklen_t *alen)
{
	return accept4(fd, a, alen, 0);
}

/* ---- close, shutdown, dup ---- */

int close(int fd)
{
	if (!pl_depth) {
		if (pl_get(fd)) {
			pthread_mutex_lock(&pl_mu);
			pl_drop(fd);
			pthread_mutex_unlock(&pl_mu);
		}
		pl_ep_forget(fd);
	}
	return REAL(close)(fd);
}

static void forget_range(unsigned first, unsigned last)
{
	unsigned fd;

	for (fd = first; fd <= last && fd < 1u << 20; fd++) {
		if (pl_get((int)fd)) {
			pthread_mutex_lock(&pl_mu);
			pl_drop((int)fd);
			pthread_mutex_unlock(&pl_mu);
		}
		pl_ep_forget((int)fd);
		if (fd == ~0u)
			break;
	}
}

int close_range(unsigned first, unsigned last, int flags)
{
	if (!pl_depth && !(flags & CLOSE_RANGE_CLOEXEC))
		forget_range(first, last);
	return REAL(close_range)(first, last, flags);
}

void closefrom(int lowfd)
{
	if (!pl_depth && lowfd >= 0)
		forget_range((unsigned)lowfd, ~0u);
	REAL(closefrom)(lowfd);
}

int shutdown(int fd, int how)
{
	struct pl_sock *ps;
	int r, e;

	if (PASS(ps, fd) || ps->kind != PL_XTS)
		return REAL(shutdown)(fd, how);
	if (ps->foreign)
		return claimed(fd, ps) ? REAL(shutdown)(fd, how) : -1;
	if (PARKED(ps))
		return fail(ENOTCONN);
	pl_qlock(ps->q);
	r = xport_shutdown(ps->q->xp, ps->sd, how);
	e = errno;
	ps->q->force = true; /* readable (EOF) now, for whoever waits */
	pl_qunlock(ps->q);
	errno = e;
	return r;
}

/* @nfd names what @fd names now (the kernel did its part) */
static int dup_done(int fd, int nfd)
{
	struct pl_sock *ps;

	if (nfd < 0 || pl_depth)
		return nfd;
	pthread_mutex_lock(&pl_mu);
	pl_drop(nfd);
	ps = pl_get(fd);
	if (ps && !pl_set(nfd, ps))
		ps->refs++;
	pthread_mutex_unlock(&pl_mu);
	if (!ps)
		pl_ep_forget(nfd);
	return nfd;
}

int dup(int fd)
{
	return dup_done(fd, REAL(dup)(fd));
}

int dup2(int fd, int nfd)
{
	int r = REAL(dup2)(fd, nfd);

	return r < 0 || fd == nfd ? r : dup_done(fd, r);
}

int dup3(int fd, int nfd, int flags)
{
	return dup_done(fd, REAL(dup3)(fd, nfd, flags));
}

/* ---- fcntl, ioctl ---- */

static int x_fcntl(int fd, int cmd, void *arg)
{
	struct pl_sock *ps;
	int r;

	if (PASS(ps, fd))
		return REAL(fcntl)(fd, cmd, arg);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return dup_done(fd, REAL(fcntl)(fd, cmd, arg));
	case F_SETFL:
		r = REAL(fcntl)(fd, cmd, arg);
		if (r == 0)
			ps->nonblock = !!((long)arg & O_NONBLOCK);
		return r;
	default:
		return REAL(fcntl)(fd, cmd, arg);
	}
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return x_fcntl(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return x_fcntl(fd, cmd, arg);
}

/*
 * SIOCOUTQ (written, not yet acknowledged by the peer) and SIOCOUTQNSD
 * (written, not yet sent), as Linux counts them: what the DPU has not
 * taken yet (libxport's XTS_OUTQ) plus what the DPU's kernel socket holds
 * unacknowledged or unsent (its TCP_INFO: one round trip to the DPU).
 */
static int outq(struct pl_sock *ps, unsigned long req, void *arg)
{
	uint8_t ti[256];
	socklen_t tl = sizeof(ti), vl = sizeof(int);
	uint64_t unacked = 0, notsent = 0, n;
	int r, e, v = 0;

	pl_qlock(ps->q);
	r = xport_getsockopt(ps->q->xp, ps->sd, SOL_XTS, XTS_OUTQ, &v, &vl);
	e = errno;
	/* the host half first: a byte leaving it meanwhile is in the DPU's
	 * (docs/design.md); no DPU half if TCP_INFO fails (just ended) */
	if (!r && xport_getsockopt(ps->q->xp, ps->sd, IPPROTO_TCP, TCP_INFO, ti, &tl))
		tl = 0;
	pl_qunlock(ps->q);
	if (r)
		return fail(e); /* EINVAL on a listener, as Linux */
	pl_outq_dpu(ti, tl, &unacked, &notsent);
	n = (uint64_t)v + (req == SIOCOUTQ ? unacked : notsent);
	*(int *)arg = n < INT_MAX ? (int)n : INT_MAX;
	return 0;
}

int ioctl(int fd, unsigned long req, ...)
{
	struct pl_sock *ps;
	va_list ap;
	void *arg;
	int r, opt;
	socklen_t ol = sizeof(opt);

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (PASS(ps, fd) || ps->kind != PL_XTS)
		return REAL(ioctl)(fd, req, arg);
	if (ps->foreign)
		return claimed(fd, ps) ? REAL(ioctl)(fd, req, arg) : -1;
	if (PARKED(ps) && req != FIONBIO)
		return req == FIONREAD || req == SIOCOUTQ || req == SIOCOUTQNSD
			   ? fail(EINVAL)
			   : REAL(ioctl)(fd, req, arg);
	switch (req) {
	case FIONBIO:
		r = REAL(ioctl)(fd, req, arg);
		if (r == 0)
			ps->nonblock = !!*(int *)arg;
		return r;
	case FIONREAD: /* SIOCINQ */
		pl_qlock(ps->q);
		r = (int)xport_recv(ps->q->xp, ps->sd, NULL, INT32_MAX,
				    MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (r < 0 &&
		    !xport_getsockopt(ps->q->xp, ps->sd, SOL_SOCKET, SO_ACCEPTCONN, &opt, &ol) &&
		    opt) {
			pl_qunlock(ps->q);
			return fail(EINVAL); /* as tcp_ioctl on a listener */
		}
		pl_qunlock(ps->q);
		*(int *)arg = r < 0 ? 0 : r; /* EAGAIN, EOF, a reset: nothing to read */
		return 0;
	case SIOCOUTQ:
	case SIOCOUTQNSD:
		return outq(ps, req, arg);
	default:
		return REAL(ioctl)(fd, req, arg);
	}
}

/* ---- options, names ---- */

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct pl_sock *ps;
	int r, e;

	if (PASS(ps, fd))
		return REAL(setsockopt)(fd, level, name, val, len);
	if (ps->foreign)
		return claimed(fd, ps) ? REAL(setsockopt)(fd, level, name, val, len) : -1;
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) && val) {
		int64_t us = tv_us(val, len);

		if (us >= 0)
			*(name == SO_RCVTIMEO ? &ps->rcvtimeo_us : &ps->sndtimeo_us) = us;
	}
	if (ps->kind == PL_PENDING || PARKED(ps)) {
		/* recorded, for the XTS socket (pending) or the listeners a
		 * parked one makes when it is used; nginx's master sets options
		 * on its listeners at reload and must not listen for that */
		r = REAL(setsockopt)(fd, level, name, val, len);
		if (r == 0)
			pl_opt_note(ps, level, name, val, len);
		return r;
	}
	if (ps->lsn) /* its children's listeners get it too */
		pl_opt_note(ps, level, name, val, len);
	pl_qlock(ps->q);
	r = xport_setsockopt(ps->q->xp, ps->sd, level, name, val, len);
	e = errno;
	pl_qunlock(ps->q);
	if (r < 0 && e == ENOPROTOOPT) {
		/* XTS does not carry it: the placeholder keeps it, so that a
		 * getsockopt says what was set; the DPU's socket goes without */
		pl_log(PL_LOG_INFO, "fd %d: option %d/%d not carried to the DPU", fd, level, name);
		return REAL(setsockopt)(fd, level, name, val, len);
	}
	errno = e;
	return r;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct pl_sock *ps;
	int r, e;

	if (PASS(ps, fd) || ps->kind != PL_XTS)
		return REAL(getsockopt)(fd, level, name, val, len);
	if (ps->foreign)
		return claimed(fd, ps) ? REAL(getsockopt)(fd, level, name, val, len) : -1;
	if (PARKED(ps)) { /* the placeholder knows, but that it listens */
		if (level == SOL_SOCKET && name == SO_ACCEPTCONN && val && len &&
		    *len >= sizeof(int)) {
			*(int *)val = 1;
			*len = sizeof(int);
			return 0;
		}
		return REAL(getsockopt)(fd, level, name, val, len);
	}
	pl_qlock(ps->q);
	r = xport_getsockopt(ps->q->xp, ps->sd, level, name, val, len);
	e = errno;
	pl_qunlock(ps->q);
	if (r < 0 && e == ENOPROTOOPT)
		return REAL(getsockopt)(fd, level, name, val, len);
	if (r == 0 && level == SOL_SOCKET && name == SO_ERROR && *len >= sizeof(int))
		tls_failed(fd, ps, "connect", *(int *)val); /* a non-blocking one's end */
	errno = e;
	return r;
}

static int names(int fd, struct sockaddr *a, socklen_t *len, bool peer)
{
	struct pl_sock *ps;
	int r, e;

	if (PASS(ps, fd))
		goto real;
	if (ps->foreign) {
		if (!claimed(fd, ps))
			return -1;
		goto real;
	}
	if (PARKED(ps) && peer)
		return fail(ENOTCONN);
	if (ps->kind == PL_PENDING || PARKED(ps)) { /* parked: the address it listened on */
		if (peer || !ps->bound || (ps->bound_local && !PARKED(ps)) || !len)
			goto real;
		memcpy(a, &ps->baddr, *len < ps->blen ? *len : ps->blen);
		*len = ps->blen;
		return 0;
	}
	pl_qlock(ps->q);
	r = peer ? xport_getpeername(ps->q->xp, ps->sd, a, len)
		 : xport_getsockname(ps->q->xp, ps->sd, a, len);
	e = errno;
	pl_qunlock(ps->q);
	errno = e;
	return r;
real:
	return peer ? REAL(getpeername)(fd, a, len) : REAL(getsockname)(fd, a, len);
}

int getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
	return names(fd, a, len, false);
}

int getpeername(int fd, struct sockaddr *a, socklen_t *len)
{
	return names(fd, a, len, true);
}
