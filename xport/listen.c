// SPDX-License-Identifier: BSD-2-Clause
/*
 * listen.c - bind, listen and accept on XTS sockets.
 *
 * bind() only records the address (nothing exists on the DPU yet);
 * listen() sends LISTEN and waits for LISTEN_RES, so the registry's and
 * the kernel's verdict (EADDRINUSE, EACCES …) comes back from listen().
 * The port the DPU's kernel picked for port 0 comes back too
 * (getsockname).
 *
 * NEW_CONN frames queue on the listener, at most `backlog` of them (the
 * shard never hands over more unacknowledged ones); accept() takes one,
 * allocates the socket and answers NEW_CONN_ACK with the new socket's id
 * and its receive window.  Until then the shard does not read the
 * connection, so bytes wait in the DPU's kernel, not here.  Closing the
 * listener sends CLOSE for it: the shard hands what it handed over and
 * nobody accepted to a sibling listener of the reuseport group, or keeps
 * it for one (XTS_LSN_SHARED), or resets it (docs/design.md).
 */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "xport_int.h"

#define BACKLOG_MAX   4096  /* Linux's default somaxconn */
#define XP_LISTEN_MS  10000 /* a LISTEN_RES from the DPU */
#define SIN6_LEN_2133 24

struct xp_newconn {
	uint32_t dpu_id, credit;
	struct xts_addr local, peer;
	struct xts_ulp_info *info; /* a TLS listener's: what TLS became */
};

struct xp_acq {
	uint32_t cap, head, n;
	int err;       /* LISTEN_RES error */
	bool answered; /* LISTEN_RES came */
	struct xp_newconn q[];
};

/* Forget the connections queued and not accepted. */
static void acq_drop(struct xp_acq *q)
{
	for (; q && q->n; q->n--) {
		free(q->q[q->head].info);
		q->head = (q->head + 1) % q->cap;
	}
}

void xp_lsn_free(struct xsock *s)
{
	acq_drop(s->acq);
	free(s->acq);
	s->acq = NULL;
}

XPORT_API int xport_bind(struct xport *xp, int sd, const struct sockaddr *addr, socklen_t len)
{
	struct xsock *s = xp_sock(xp, sd);
	struct sockaddr_storage ss;
	sa_family_t family;

	if (!s)
		return xp_fail(EBADF);
	if (!addr)
		return xp_fail(EFAULT);
	if (len < sizeof(sa_family_t) || len > sizeof(ss))
		return xp_fail(EINVAL);
	memcpy(&family, (const char *)addr + offsetof(struct sockaddr, sa_family), sizeof(family));
	if (s->family == AF_INET ? len < sizeof(struct sockaddr_in) : len < SIN6_LEN_2133)
		return xp_fail(EINVAL);
	if (family != s->family)
		return xp_fail(s->family == AF_INET && family != AF_UNSPEC ? EAFNOSUPPORT : EINVAL);
	if (s->state != XS_NEW || s->bound)
		return xp_fail(EINVAL);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, addr, len);
	if (xts_addr_from_sockaddr(&s->local, (struct sockaddr *)&ss,
				   family == AF_INET ? sizeof(struct sockaddr_in)
						     : sizeof(struct sockaddr_in6)))
		return xp_fail(EINVAL);
	s->bound = true;
	return 0;
}

/* IPV6_V6ONLY, SO_REUSEADDR, SO_REUSEPORT: options of the listener the
 * DPU opens, so they stay here until LISTEN.  1: not one of ours. */
int xp_lsn_setsockopt(struct xsock *s, int level, int name, const void *val, socklen_t len)
{
	uint8_t bit;
	int v;

	if (level == SOL_XTS && name == XTS_LSN_SHARED) {
		if (len < sizeof(int))
			return -EINVAL;
		if (!val)
			return -EFAULT;
		memcpy(&v, val, sizeof(v));
		s->lshared = v != 0;
		return 0;
	}
	if (level == SOL_SOCKET && name == SO_REUSEADDR)
		bit = XTS_LISTEN_REUSEADDR;
	else if (level == SOL_SOCKET && name == SO_REUSEPORT)
		bit = XTS_LISTEN_REUSEPORT;
	else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY)
		bit = XTS_LISTEN_V6ONLY;
	else
		return 1;
	if (len < sizeof(int))
		return -EINVAL;
	if (!val)
		return -EFAULT;
	if (bit == XTS_LISTEN_V6ONLY && (s->family != AF_INET6 || s->bound))
		return s->family != AF_INET6 ? -ENOPROTOOPT : -EINVAL;
	memcpy(&v, val, sizeof(v));
	if (v)
		s->lflags |= bit;
	else
		s->lflags &= (uint8_t)~bit;
	return 0;
}

int xp_lsn_getsockopt(const struct xsock *s, int level, int name, int *v)
{
	if (level == SOL_SOCKET && name == SO_REUSEADDR)
		*v = !!(s->lflags & XTS_LISTEN_REUSEADDR);
	else if (level == SOL_SOCKET && name == SO_REUSEPORT)
		*v = !!(s->lflags & XTS_LISTEN_REUSEPORT);
	else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && s->family == AF_INET6)
		*v = !!(s->lflags & XTS_LISTEN_V6ONLY);
	else if (level == SOL_SOCKET && name == SO_ACCEPTCONN)
		*v = s->state == XS_LISTEN;
	else if (level == SOL_XTS && name == XTS_LSN_SHARED)
		*v = s->lshared;
	else
		return 1;
	return 0;
}

/* LISTEN for @s, behind any terminal frame owed (the CLOSE of a listener
 * on this port must reach the shard first): 0 or -errno. */
static int listen_send(struct xport *xp, struct xsock *s, uint32_t cap, uint64_t dl)
{
	uint8_t buf[sizeof(struct xts_listen) + sizeof(struct xts_ulp)];
	struct xts_listen req;
	size_t len;

	memset(&req, 0, sizeof(req));
	req.local = s->local;
	req.backlog = htole32(cap);
	req.flags = htole32(s->lflags | (s->ulp ? XTS_LISTEN_ULP : 0));
	memcpy(buf, &req, sizeof(req));
	len = sizeof(req) + xp_ulp_put(s, buf + sizeof(req)); /* TLS on every accepted one */
	for (;;) {
		if (!xp_up(xp))
			return -ECONNRESET;
		if (!xp_term_owed(xp) &&
		    !xts_link__send(xp->link, XTS_OP_LISTEN, 0, XTS_ID_NONE, s->id, 0, buf, len))
			return 0;
		if (xp_wait(xp, dl))
			return -ETIMEDOUT;
		xp_run(xp);
	}
}

/* Send LISTEN and wait for LISTEN_RES: 0 or -errno. */
static int listen_sync(struct xport *xp, struct xsock *s, uint32_t cap)
{
	uint64_t dl = xp_deadline_ms(XP_LISTEN_MS);
	int err;

	/* the answer to an earlier listen() that timed out comes first: it
	 * would name this socket too */
	while (s->abandon) {
		if (xp_wait(xp, dl))
			return -ETIMEDOUT;
		xp_run(xp);
	}
	err = xp_ulp_check(xp, s);
	if (!err)
		err = listen_send(xp, s, cap, dl);
	if (err)
		return err;
	s->state = XS_LISTEN_WAIT;
	xts_link__flush(xp->link, false);
	for (;;) {
		xp_run(xp);
		if (s->state != XS_LISTEN_WAIT)
			break;
		if (xp_wait(xp, dl)) {
			/* a late success is closed when it comes */
			s->state = XS_NEW;
			s->abandon = true;
			return -ETIMEDOUT;
		}
	}
	if (s->state == XS_LISTEN)
		return 0;
	err = s->state == XS_DEAD ? s->so_error : s->acq->err;
	s->so_error = 0;
	s->state = XS_NEW;
	return -(err ? err : EPROTO);
}

XPORT_API int xport_listen(struct xport *xp, int sd, int backlog)
{
	struct xsock *s = xp_sock(xp, sd);
	uint32_t cap;
	int err;

	if (!s)
		return xp_fail(EBADF);
	xp_run(xp);
	if (s->state == XS_LISTEN)
		return 0; /* Linux adjusts the backlog; ours stays */
	if (s->state != XS_NEW)
		return xp_fail(EINVAL);
	if ((err = xp_session_err(xp)))
		return xp_fail(err == -ENETDOWN ? ENETDOWN : EAGAIN);
	cap = backlog <= 0 ? 1 : backlog > BACKLOG_MAX ? BACKLOG_MAX : (uint32_t)backlog;
	if (!s->bound) { /* autobind: the wildcard, port 0 */
		memset(&s->local, 0, sizeof(s->local));
		s->local.family = htole16(s->family);
	}
	xp_lsn_free(s);
	s->acq = calloc(1, sizeof(*s->acq) + cap * sizeof(s->acq->q[0]));
	if (!s->acq)
		return xp_fail(ENOMEM);
	s->acq->cap = cap;
	err = listen_sync(xp, s, cap);
	xp_ready_wake(xp, s);
	if (err)
		return xp_fail(-err);
	s->bound = true;
	return 0;
}

static void on_listen_res(struct xport *xp, struct xsock *s, const struct xts_msg *m)
{
	struct xts_conn_res r;
	int err;

	memcpy(&r, m->payload, sizeof(r));
	err = (int)(__s32)le32toh((__u32)r.err);
	if (s && s->abandon && s->state != XS_LISTEN_WAIT) {
		/* the answer to a listen() that timed out or a socket closed
		 * while listening: nobody waits, do not leave it listening */
		s->abandon = false;
		if (!err && m->src_id)
			xp_term_owe(xp, s, XTS_OP_CLOSE, 0, m->src_id, 0);
		if (s->state == XS_ZOMBIE)
			xp_sock_release(xp, s);
		return;
	}
	if (!s || s->state != XS_LISTEN_WAIT) {
		xp->c.stale++;
		if (!err && m->src_id)
			xp_stray_send(xp, XTS_OP_CLOSE, 0, m->src_id, 0);
		return;
	}
	s->acq->answered = true;
	if (err || !m->src_id) {
		s->acq->err = err > 0 && err < 4096 ? err : EPROTO;
		s->state = XS_NEW;
		return;
	}
	s->state = XS_LISTEN;
	s->peer_id = m->src_id;
	s->local = r.local;
}

static void on_new_conn(struct xport *xp, struct xsock *s, const struct xts_msg *m)
{
	struct xts_conn_res r;
	struct xp_newconn *e;

	if (!m->src_id) {
		xp->c.stale++;
		return;
	}
	if (!s || s->state != XS_LISTEN || s->acq->n == s->acq->cap) {
		/* listener gone, or more than the backlog we announced */
		/* A closed listener's: the shard resets what it handed over
		 * when our CLOSE reaches it, so the refusal only saves time. */
		xp->c.stale++;
		xp_stray_send(xp, XTS_OP_NEW_CONN_ACK, 0, m->src_id, ECONNREFUSED);
		return;
	}
	memcpy(&r, m->payload, sizeof(r));
	e = &s->acq->q[(s->acq->head + s->acq->n) % s->acq->cap];
	e->dpu_id = m->src_id;
	e->credit = m->credit;
	e->local = r.local;
	e->peer = r.peer;
	e->info = NULL;
	if (m->len > sizeof(r) && (e->info = malloc(sizeof(*e->info))))
		memcpy(e->info, m->payload + sizeof(r), sizeof(*e->info));
	s->acq->n++;
}

void xp_lsn_on_msg(struct xport *xp, const struct xts_msg *m)
{
	uint32_t slot = xts_id_slot(m->dst_id);
	struct xsock *s = NULL;

	if (m->dst_id && slot < xp->nsocks && xp->socks[slot].id == m->dst_id)
		s = &xp->socks[slot];
	if (m->op == XTS_OP_LISTEN_RES)
		on_listen_res(xp, s, m);
	else
		on_new_conn(xp, s, m);
	if (s)
		xp_ready_wake(xp, s); /* a connection to accept */
}

void xp_lsn_lost(struct xport *xp, struct xsock *s, int err)
{
	(void)xp;
	s->state = XS_DEAD;
	s->so_error = err;
	s->peer_id = XTS_ID_NONE;
	acq_drop(s->acq); /* the shard reset them with the session */
}

/* Never waits.  The shard closes its socket, hands the connections it
 * handed over and nobody accepted to a sibling (or resets them), and frees the port when our CLOSE
 * reaches it: before any later LISTEN or CONNECT of this queue (same
 * queue, in order, and nothing new overtakes an owed CLOSE), but another
 * queue may still see the port taken for a moment (docs/design.md). */
void xp_lsn_close(struct xport *xp, struct xsock *s)
{
	if (s->state == XS_LISTEN_WAIT) {
		/* LISTEN_RES on its way: closed when it comes */
		xp_lsn_free(s);
		s->abandon = true;
		s->state = XS_ZOMBIE;
		return;
	}
	/* shared (fork): the DPU keeps what it holds for a sibling */
	xp_term_owe(xp, s, XTS_OP_CLOSE,
		    s->lshared && (xp->sess.caps & XTS_CAP_LSN_HANDOFF) ? XTS_F_SHARED : 0,
		    s->peer_id, 0);
	xp_sock_release(xp, s);
}

short xp_lsn_revents(const struct xsock *s)
{
	return s->state == XS_LISTEN && s->acq->n ? POLLIN | POLLRDNORM : 0;
}

/* Take the oldest connection: 0 and the new socket, or -errno. */
static int take(struct xport *xp, struct xsock *l, int flags, struct xsock **out)
{
	struct xp_newconn *e = &l->acq->q[l->acq->head];
	struct xts_err ok = {0};
	struct xsock *s;

	if (!xp_room(xp))
		return -EAGAIN;
	s = xp_sock_alloc(xp);
	if (!s)
		return -EMFILE; /* as Linux: the connection stays queued */
	/* hdr.src_id: the new socket; hdr.credit: its receive window */
	if (xts_link__send(xp->link, XTS_OP_NEW_CONN_ACK, 0, e->dpu_id, s->id, xp->rcvbuf, &ok,
			   sizeof(ok))) {
		xp_sock_free(xp, s);
		return -EAGAIN;
	}
	s->family = l->family;
	s->nonblock = !!(flags & SOCK_NONBLOCK);
	s->state = XS_CONNECTED;
	s->was_connected = true;
	s->peer_id = e->dpu_id;
	s->snd_credit = e->credit;
	s->snd_out = 0;
	s->rcv_avail = xp->rcvbuf;
	s->local = e->local;
	s->peer = e->peer;
	if (e->info) {
		xp_ulp_info(s, e->info);
		xp_ulp_inherit(s, l); /* its framing */
		free(e->info);
		e->info = NULL;
	}
	/* As Linux: the accepted socket inherits the listener's options and
	 * timeouts.  The DPU's socket gets the options (PS_OPTS, SOCKOPT
	 * frames) before anything the app asks of it on this queue. */
	s->rcvtimeo_us = l->rcvtimeo_us;
	s->sndtimeo_us = l->sndtimeo_us;
	memcpy(s->optv, l->optv, sizeof(s->optv));
	s->opt_set = s->opt_dirty = l->opt_set;
	if (s->opt_dirty)
		xp_pend_add(xp, s, PS_OPTS);
	l->acq->head = (l->acq->head + 1) % l->acq->cap;
	l->acq->n--;
	xp_doorbell(xp);
	*out = s;
	return 0;
}

XPORT_API int xport_accept4(struct xport *xp, int sd, struct sockaddr *addr, socklen_t *len,
			    int flags)
{
	struct xsock *l = xp_sock(xp, sd), *s = NULL;
	uint64_t dl;
	bool nb;
	int err;

	if (!l)
		return xp_fail(EBADF);
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return xp_fail(EINVAL);
	if (addr && !len)
		return xp_fail(EFAULT);
	xp_run(xp);
	nb = l->nonblock;
	dl = nb ? 0 : xp_deadline_us(l->rcvtimeo_us);
	for (;;) {
		if (l->state == XS_DEAD && l->so_error) {
			err = l->so_error;
			l->so_error = 0;
			return xp_fail(err);
		}
		if (l->state != XS_LISTEN)
			return xp_fail(EINVAL);
		if (l->acq->n) {
			err = take(xp, l, flags, &s);
			if (!err)
				break;
			if (err != -EAGAIN)
				return xp_fail(-err);
		}
		if (nb || xp_wait(xp, dl))
			return xp_fail(EAGAIN);
		xp_run(xp);
	}
	if (addr) {
		unsigned l2 = *len;

		if (xts_addr_to_sockaddr(&s->peer, addr, &l2) == 0)
			*len = l2;
		else
			*len = 0;
	}
	return (int)s->id;
}

XPORT_API int xport_accept(struct xport *xp, int sd, struct sockaddr *addr, socklen_t *len)
{
	return xport_accept4(xp, sd, addr, len, 0);
}
