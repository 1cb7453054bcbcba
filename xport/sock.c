// SPDX-License-Identifier: BSD-2-Clause
/*
 * sock.c - the socket calls of libxport, with the errno values Linux's TCP
 * gives in the same situations (checked against a real kernel: send on an
 * unconnected socket is EPIPE, a second connect after a non-blocking one
 * reports its result once, then EISCONN, and so on).
 *
 * Each call runs the engine (xp_run) first, so that what the DPU said is
 * seen before the call decides, and blocks only in xp_wait() with a
 * deadline taken from SO_RCVTIMEO / SO_SNDTIMEO.  A signal does not end
 * a blocking socket call (as if SA_RESTART); it ends xport_poll, as poll(2).
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "xport_int.h"

#define KICK_EVERY	 16 /* tx frames queued before a kick, in a long send */
#define SIN6_LEN_RFC2133 24 /* sockaddr_in6 without sin6_scope_id */

/* Back to a fresh, unconnected socket (options and timeouts stay). */
static void sock_reset(struct xport *xp, struct xsock *s)
{
	xp_sock_release_rx(xp, s);
	s->state = XS_NEW;
	s->peer_id = XTS_ID_NONE;
	s->pend = 0;
	s->was_connected = s->res_unreported = false;
	s->peer_eof = s->rd_shut = s->wr_shut = false;
	s->so_error = 0;
	s->snd_credit = s->snd_out = 0;
	s->rcv_avail = s->ungranted = 0;
	s->opt_dirty = 0;
	if (!s->bound) /* bind()'s address stays: the next CONNECT binds there */
		memset(&s->local, 0, sizeof(s->local));
	memset(&s->peer, 0, sizeof(s->peer));
}

/* Take a pending error, as sock_error() does. */
int xp_take_error(struct xsock *s)
{
	int err = s->so_error;

	s->so_error = 0;
	return err;
}

XPORT_API int xport_socket(struct xport *xp, int domain, int type, int protocol)
{
	int base = type & 0xf, flags = type & ~0xf;
	struct xsock *s;

	if (!xp)
		return xp_fail(EINVAL);
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return xp_fail(EINVAL);
	if (base < 1 || base > SOCK_PACKET)
		return xp_fail(EINVAL);
	if (domain != AF_INET && domain != AF_INET6)
		return xp_fail(EAFNOSUPPORT);
	if (base != SOCK_STREAM || (protocol != 0 && protocol != IPPROTO_TCP))
		return xp_fail(EPROTONOSUPPORT);
	xp_run(xp);
	s = xp_sock_alloc(xp);
	if (!s)
		return xp_fail(EMFILE);
	s->family = (uint8_t)domain;
	s->nonblock = !!(type & SOCK_NONBLOCK);
	/* No frame: the DPU learns of the socket with its CONNECT. */
	return (int)s->id;
}

XPORT_API int xport_set_nonblock(struct xport *xp, int sd, int on)
{
	struct xsock *s = xp_sock(xp, sd);

	if (!s)
		return xp_fail(EBADF);
	s->nonblock = !!on;
	return 0;
}

/* ---- connect ---- */

/* connect(AF_UNSPEC): tcp_disconnect(). */
static void disconnect(struct xport *xp, struct xsock *s)
{
	if (s->state == XS_CONNECTED)
		xp_term_owe(xp, s, XTS_OP_RESET, 0, s->peer_id, ECONNRESET);
	else if (s->state == XS_CONNECTING && !(s->pend & PS_CONNECT))
		s->abandon = true; /* its CONNECT_RES gets a RESET */
	sock_reset(xp, s);
}

/* CONNECT's payload: struct xts_connect cut after its options, and the
 * bound source address behind them when there is one. */
struct connect_msg {
	struct xts_connect c;
	struct xts_addr room; /* what follows the options ends here at most */
	struct xts_ulp ulp_room;
} __attribute__((packed));

static int connect_payload(const struct xsock *s, struct connect_msg *msg, uint16_t *carried_out)
{
	struct xts_connect *c = &msg->c;
	uint16_t carried = 0, flags = 0;
	int k, n = 0, len;
	uint64_t ms = 0;

	memset(msg, 0, sizeof(*msg));
	c->dst = s->peer;
	if (s->sndtimeo_us > 0) {
		ms = ((uint64_t)s->sndtimeo_us + 999) / 1000;
		if (ms > UINT32_MAX)
			ms = UINT32_MAX;
	}
	c->timeout_ms = htole32((uint32_t)ms);
	for (k = 0; k < XO_N && n < XTS_CONNECT_MAX_OPTS; k++) {
		if (!(s->opt_set & (1u << k)))
			continue;
		c->opts[n].level = (__s32)htole32((__u32)xp_opt_tab[k].level);
		c->opts[n].name = (__s32)htole32((__u32)xp_opt_tab[k].name);
		c->opts[n].value = (__s32)htole32((__u32)s->optv[k]);
		carried |= (uint16_t)(1u << k);
		n++;
	}
	c->nopts = htole16((uint16_t)n);
	*carried_out = carried;
	len = (int)xts_connect_opts_end((unsigned)n);
	if (s->bound) {
		flags = XTS_CONNECT_F_SRC;
		if (s->lflags & XTS_LISTEN_REUSEADDR)
			flags |= XTS_CONNECT_F_REUSEADDR;
		if (s->lflags & XTS_LISTEN_REUSEPORT)
			flags |= XTS_CONNECT_F_REUSEPORT;
		memcpy((uint8_t *)msg + len, &s->local, sizeof(s->local));
		len += (int)sizeof(s->local);
	}
	if (s->ulp) { /* TLS: pushed with the CONNECT (docs/protocol.md) */
		flags |= XTS_CONNECT_F_ULP;
		len += (int)xp_ulp_put(s, (uint8_t *)msg + len);
	}
	c->flags = htole16(flags);
	return len;
}

int xp_send_connect(struct xport *xp, struct xsock *s)
{
	return xp_send_connect_data(xp, s, NULL, 0) < 0 ? -EAGAIN : 0;
}

ssize_t xp_send_connect_data(struct xport *xp, struct xsock *s, const void *data, size_t len)
{
	struct connect_msg c;
	struct xts_txf f;
	uint16_t carried;
	int plen = connect_payload(s, &c, &carried);

	if (xts_link__tx_reserve(xp->link, true, &f))
		return -EAGAIN;
	if (f.cap <= (size_t)plen)
		len = 0;
	else if (len > f.cap - (size_t)plen)
		len = f.cap - (size_t)plen;
	if (len) /* the first bytes follow everything else (xts_connect_data_off) */
		c.c.flags |= htole16(XTS_CONNECT_F_DATA);
	memcpy(f.payload, &c, (size_t)plen);
	if (len)
		memcpy((uint8_t *)f.payload + plen, data, len);
	/* hdr.credit: the whole receive buffer is the first grant */
	if (xts_link__tx_submit(xp->link, &f, XTS_OP_CONNECT, 0, XTS_ID_NONE, s->id, xp->rcvbuf,
				(size_t)plen + len))
		return -EAGAIN;
	/* more than eight set: the rest follow as SOCKOPTs once connected */
	s->opt_dirty = s->opt_set & (uint16_t)~carried;
	return (ssize_t)len;
}

static int check_addr(const struct xsock *s, const struct sockaddr *addr, socklen_t len,
		      struct xts_addr *out)
{
	struct sockaddr_storage ss;
	sa_family_t family;

	memcpy(&family, (const char *)addr + offsetof(struct sockaddr, sa_family), sizeof(family));
	if (s->family == AF_INET) {
		if (len < sizeof(struct sockaddr_in))
			return -EINVAL;
		if (family != AF_INET)
			return -EAFNOSUPPORT;
	} else {
		if (len < SIN6_LEN_RFC2133)
			return -EINVAL;
		if (family != AF_INET6)
			return -EAFNOSUPPORT;
	}
	memset(&ss, 0, sizeof(ss)); /* an RFC 2133 sockaddr_in6: scope 0 */
	memcpy(&ss, addr, len < sizeof(ss) ? len : sizeof(ss));
	return xts_addr_from_sockaddr(out, (const struct sockaddr *)&ss,
				      family == AF_INET ? sizeof(struct sockaddr_in)
							: sizeof(struct sockaddr_in6));
}

/* The state part of inet_stream_connect(): 1 to go on with a new connect,
 * else 0 or -errno to return. */
static int connect_state(struct xport *xp, struct xsock *s)
{
	int err;

	switch (s->state) {
	case XS_CONNECTED:
		if (s->res_unreported) { /* a non-blocking connect completed */
			s->res_unreported = false;
			return 0;
		}
		return -EISCONN;
	case XS_CONNECTING:
		return -EALREADY;
	case XS_DEAD:
		if (!s->res_unreported)
			return -EISCONN; /* connected once, then reset */
		/* a connect that failed: its error once, then a new connect */
		err = xp_take_error(s);
		sock_reset(xp, s);
		return -(err ? err : ECONNABORTED);
	default:
		return 1;
	}
}

/* Start a connect to @dst (checked) and, blocking, see it through:
 * 0 or -errno. */
static int connect_run(struct xport *xp, struct xsock *s, const struct xts_addr *dst)
{
	bool nb = s->nonblock;
	uint64_t dl = xp_deadline_us(s->sndtimeo_us);
	int err;

	/* The CONNECT_RES of a connect given up on (shutdown or AF_UNSPEC
	 * while connecting) must come back before the slot's next CONNECT:
	 * both would carry the same socket id. */
	while (s->abandon) {
		if (nb || xp_wait(xp, dl))
			return -EALREADY;
		xp_run(xp);
	}
	if (xp_session_err(xp) == -ENETDOWN) /* no shard answers on this queue */
		return -ENETDOWN;
	if ((err = xp_ulp_check(xp, s)))
		return err;
	/* A fresh connection: the whole receive buffer is its credit. */
	sock_reset(xp, s);
	s->rcv_avail = xp->rcvbuf;
	s->peer = *dst;
	s->state = XS_CONNECTING;
	if (xp_fo_ok(xp, s)) { /* TCP_FASTOPEN_CONNECT: the first send carries it */
		xp_fo_defer(xp, s);
		return 0;
	}
	/* No room (window full, or the queue re-attaching), or terminal
	 * frames owed before it: the CONNECT is owed and goes when there is.
	 * Linux never answers a TCP connect with EAGAIN, so neither do we. */
	if (xp_session_err(xp) || xp_term_owed(xp) || xp_send_connect(xp, s)) {
		xp->c.window_stalls++;
		xp_pend_add(xp, s, PS_CONNECT);
	}
	xp_doorbell(xp);
	if (nb)
		return -EINPROGRESS;
	for (;;) {
		/* Linux: a blocking connect past SO_SNDTIMEO says EINPROGRESS
		 * and the connect goes on, even when its result came in the
		 * same moment (inet_wait_for_connect woken after its timeout
		 * returns 0): a result counts only if taken before the
		 * deadline.  The DPU's deadline is this SO_SNDTIMEO too
		 * (CONNECT's timeout_ms), started when the CONNECT reached
		 * it, so its ETIMEDOUT comes after ours however late this
		 * thread wakes. */
		if (dl != XP_FOREVER && xp_now_ns() >= dl)
			return -EINPROGRESS;
		xp_run(xp);
		if (s->state != XS_CONNECTING)
			break;
		if (xp_wait(xp, dl))
			return -EINPROGRESS;
	}
	s->res_unreported = false;
	if (s->state == XS_CONNECTED)
		return 0;
	err = xp_take_error(s);
	sock_reset(xp, s);
	return -(err ? err : ECONNABORTED);
}

XPORT_API int xport_connect(struct xport *xp, int sd, const struct sockaddr *addr, socklen_t len)
{
	struct xsock *s = xp_sock(xp, sd);
	struct xts_addr dst;
	sa_family_t family;
	int err;

	if (!s)
		return xp_fail(EBADF);
	if (len > sizeof(struct sockaddr_storage))
		return xp_fail(EINVAL);
	if (len && !addr)
		return xp_fail(EFAULT);
	if (len < sizeof(sa_family_t))
		return xp_fail(EINVAL);
	xp_run(xp);
	memcpy(&family, (const char *)addr + offsetof(struct sockaddr, sa_family), sizeof(family));
	if (family == AF_UNSPEC) {
		disconnect(xp, s);
		err = 0;
	} else {
		err = connect_state(xp, s);
		if (err > 0) {
			err = check_addr(s, addr, len, &dst);
			if (!err)
				err = connect_run(xp, s, &dst);
		}
	}
	xp_ready_wake(xp, s); /* a new state: the sets see it */
	return err ? xp_fail(-err) : 0;
}

/* ---- send ---- */

/* Why a send cannot go on, as tcp_sendmsg: pending error, then EPIPE. */
int xp_send_error(struct xsock *s)
{
	int err;

	if (s->state == XS_CONNECTED)
		return s->wr_shut ? -EPIPE : 0;
	err = xp_take_error(s);
	return -(err ? err : EPIPE);
}

/* Copy the app's bytes straight into tx frames, as far as socket credit
 * and the queue window go.  Returns the bytes sent; *err is -errno when
 * the link refused a frame. */
static size_t send_data(struct xport *xp, struct xsock *s, const __u8 *p, size_t len, __u16 fl,
			bool nb, uint64_t dl, int *err)
{
	bool cstall = false, wstall = false;
	unsigned queued = 0;
	size_t done = 0;

	*err = 0;
	while (done < len && s->state == XS_CONNECTED && !s->wr_shut) {
		struct xts_txf f;
		uint32_t cr;
		size_t n;

		if (s->snd_credit && xp_room(xp) && !xts_link__tx_reserve(xp->link, true, &f)) {
			n = len - done;
			if (n > f.cap)
				n = f.cap;
			if (n > s->snd_credit)
				n = (size_t)s->snd_credit;
			memcpy(f.payload, p + done, n);
			cr = s->ungranted; /* credit we owe rides along */
			/* MSG_EOR ends the message at the send's last byte */
			*err = xts_link__tx_submit(xp->link, &f, XTS_OP_DATA,
						   done + n < len ? fl & ~XTS_F_EOR : fl,
						   s->peer_id, s->id, cr, n);
			if (*err)
				break; /* refused (the link counted it): nothing sent or owed */
			s->rcv_avail += cr;
			s->ungranted = 0;
			s->snd_credit -= n;
			s->snd_out += n;
			done += n;
			xp->c.data_tx += n;
			s->tx_bytes += n;
			if (++queued == KICK_EVERY) { /* keep the wire busy */
				xts_link__flush(xp->link, false);
				queued = 0;
			}
			continue;
		}
		if (!s->snd_credit) {
			cstall = true;
		} else {
			wstall = true;
			xp_win_stalled(xp, s); /* its sets hear when the window opens */
		}
		if (nb || xp_wait(xp, dl))
			break;
		xp_run(xp);
	}
	xp->c.credit_stalls += cstall;
	xp->c.window_stalls += wstall;
	return done;
}

/* What a send that already handed @n0 bytes to a CONNECT (TCP fast open)
 * returns when it cannot go on: those bytes, else the error. */
static ssize_t sent_or_fail(ssize_t n0, int err)
{
	return n0 > 0 ? n0 : xp_fail(err);
}

XPORT_API ssize_t xport_send(struct xport *xp, int sd, const void *buf, size_t len, int flags)
{
	struct xsock *s = xp_sock(xp, sd);
	ssize_t n0 = 0;
	uint64_t dl;
	size_t done;
	__u16 fl;
	bool nb;
	int err;

	if (!s)
		return xp_fail(EBADF);
	if (flags & MSG_OOB)
		return xp_fail(EOPNOTSUPP);
	nb = s->nonblock || (flags & MSG_DONTWAIT);
	if (s->fo_defer && buf && len && (n0 = xp_fo_send(xp, s, buf, len)) > 0) {
		/* the CONNECT carried them; as Linux's TFO send, a
		 * non-blocking one returns here, a blocking one goes on */
		if ((size_t)n0 == len || nb)
			return n0;
		buf = (const uint8_t *)buf + n0;
		len -= (size_t)n0;
	}
	xp_run(xp); /* a CONNECT still deferred goes as it is */
	dl = nb ? 0 : xp_deadline_us(s->sndtimeo_us);
	/* sk_stream_wait_connect(): a connect in progress is waited for */
	while (s->state == XS_CONNECTING) {
		if (nb || xp_wait(xp, dl))
			return sent_or_fail(n0, EAGAIN);
		xp_run(xp);
	}
	err = xp_send_error(s);
	if (err)
		return sent_or_fail(n0, -err);
	if (!len)
		return 0;
	if (!buf)
		return xp_fail(EFAULT);
	fl = (flags & MSG_MORE) ? XTS_F_MORE : 0;
	if ((flags & MSG_EOR) && xp_sock_framed(s))
		fl |= XTS_F_EOR; /* on the frame with the last byte (send_data) */
	done = send_data(xp, s, buf, len, fl, nb, dl, &err);
	xp_doorbell(xp);
	if (done)
		return n0 + (ssize_t)done;
	if (err)
		return sent_or_fail(n0, -err);
	err = xp_send_error(s);
	return sent_or_fail(n0, err ? -err : EAGAIN);
}

/* ---- recv ---- */

int xp_recv_nothing(struct xsock *s)
{
	if (s->peer_eof)
		return 1;
	if (s->so_error)
		return -xp_take_error(s);
	if (s->rd_shut)
		return 1;
	if (s->state == XS_DEAD && s->was_connected)
		return 1;
	if (s->state != XS_CONNECTED && s->state != XS_CONNECTING)
		return -ENOTCONN;
	return 0;
}

/* Take what a receive may now: @copied grows; *eor when a framed
 * message ended. */
static void recv_take(struct xport *xp, struct xsock *s, __u8 *dst, size_t len, bool peek,
		      size_t *copied, int *oflags)
{
	uint32_t avail = xp_rx_avail(s), n;

	if (len - *copied > avail)
		len = *copied + avail;
	if (peek) {
		*copied = xp_rx_take(xp, s, dst, len, false);
		return;
	}
	n = xp_rx_take(xp, s, dst ? dst + *copied : NULL, len - *copied, true);
	*copied += n;
	xp_credit(xp, s, n);
	if (xp_strp_taken(s, n))
		*oflags |= MSG_EOR;
}

static ssize_t sock_recv(struct xport *xp, int sd, void *buf, size_t len, int flags, int *oflags)
{
	struct xsock *s = xp_sock(xp, sd);
	bool nb, peek = flags & MSG_PEEK, waitall = flags & MSG_WAITALL;
	__u8 *dst = (flags & MSG_TRUNC) ? NULL : buf;
	size_t copied = 0, target;
	uint64_t dl;

	if (!s)
		return xp_fail(EBADF);
	if (flags & MSG_OOB)
		return xp_fail(EINVAL); /* no urgent data, ever */
	if (!len)
		return 0;
	if (!buf && !(flags & MSG_TRUNC))
		return xp_fail(EFAULT);
	xp_run(xp);
	nb = s->nonblock || (flags & MSG_DONTWAIT);
	dl = nb ? 0 : xp_deadline_us(s->rcvtimeo_us);
	/* framed: one message (or its part) per receive */
	target = waitall && !xp_sock_framed(s) ? len : 1;
	if (peek && target > xp->rcvbuf)
		target = xp->rcvbuf; /* more can never be buffered at once */
	if (!peek && s->zc && s->zc->lent)
		return xp_fail(EBUSY); /* xport_recv_zc lent them: consumed by recv_done */
	for (;;) {
		if (xp_rx_avail(s)) {
			recv_take(xp, s, dst, len, peek, &copied, oflags);
			if (copied >= target)
				break;
		}
		/* Nothing (more) now: why, in tcp_recvmsg's order. */
		if (copied) {
			if (s->so_error || s->state != XS_CONNECTED || s->peer_eof || s->rd_shut)
				break;
		} else {
			int why = xp_recv_nothing(s);

			if (why < 0)
				return xp_fail(-why);
			if (why)
				break;
		}
		if (nb || xp_wait(xp, dl))
			break;
		xp_run(xp);
	}
	if (s->state == XS_DEAD && !xp_unread(s))
		xp_sock_release_rx(xp, s);
	if (!copied && !s->peer_eof && !s->rd_shut &&
	    (s->state == XS_CONNECTED || s->state == XS_CONNECTING))
		return xp_fail(EAGAIN); /* non-blocking, or SO_RCVTIMEO ran out */
	return (ssize_t)copied;
}

XPORT_API ssize_t xport_recv(struct xport *xp, int sd, void *buf, size_t len, int flags)
{
	int oflags = 0;

	return sock_recv(xp, sd, buf, len, flags, &oflags);
}

XPORT_API ssize_t xport_recvmsg(struct xport *xp, int sd, struct msghdr *msg, int flags)
{
	size_t total = 0, off = 0, i;
	__u8 *bounce;
	ssize_t n;
	int oflags = 0;

	if (!msg || (msg->msg_iovlen && !msg->msg_iov))
		return xp_fail(EFAULT);
	for (i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	msg->msg_namelen = 0; /* connected: no address, as TCP */
	msg->msg_controllen = 0;
	msg->msg_flags = 0;
	if (msg->msg_iovlen <= 1) {
		n = sock_recv(xp, sd, total ? msg->msg_iov[0].iov_base : NULL, total, flags,
			      &oflags);
		if (n >= 0)
			msg->msg_flags = oflags;
		return n;
	}
	if (total > xp->rcvbuf)
		total = xp->rcvbuf; /* more is never buffered at once */
	bounce = malloc(total ? total : 1);
	if (!bounce)
		return xp_fail(ENOBUFS);
	n = sock_recv(xp, sd, bounce, total, flags & ~MSG_TRUNC, &oflags);
	for (i = 0; n > 0 && off < (size_t)n; i++) {
		size_t k = (size_t)n - off < msg->msg_iov[i].iov_len ? (size_t)n - off
								     : msg->msg_iov[i].iov_len;

		if (!(flags & MSG_TRUNC))
			memcpy(msg->msg_iov[i].iov_base, bounce + off, k);
		off += k;
	}
	free(bounce);
	if (n >= 0)
		msg->msg_flags = oflags;
	return n;
}

/* ---- shutdown, close ---- */

XPORT_API int xport_shutdown(struct xport *xp, int sd, int how)
{
	struct xsock *s = xp_sock(xp, sd);

	if (!s)
		return xp_fail(EBADF);
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return xp_fail(EINVAL);
	xp_run(xp);
	switch (s->state) {
	case XS_CONNECTED:
		if (how != SHUT_WR)
			s->rd_shut = true; /* later DATA is dropped, its credit returned */
		if (how != SHUT_RD && !s->wr_shut) {
			s->wr_shut = true;
			/* after every DATA frame already queued: same queue, in order */
			if (xp_sock_send(xp, s, XTS_OP_SHUTDOWN, NULL, 0))
				xp_pend_add(xp, s, PS_SHUTDOWN);
			xp_doorbell(xp);
		}
		xp_ready_wake(xp, s); /* readable (EOF), writable (EPIPE) now */
		return 0;
	case XS_CONNECTING:
		/* Linux disconnects a connect in progress */
		disconnect(xp, s);
		xp_ready_wake(xp, s);
		return 0;
	default:
		return xp_fail(ENOTCONN);
	}
}

/*
 * Never waits: what the DPU must hear (CLOSE, or RESET for a connection
 * still being made) goes now if the queue has room, else it is owed by the
 * slot (XS_CLOSING, XS_ZOMBIE) and goes first when there is, with any later
 * call on this queue (docs/design.md, "close never waits").
 */
XPORT_API int xport_close(struct xport *xp, int sd)
{
	struct xsock *s = xp_sock(xp, sd);

	if (!s)
		return xp_fail(EBADF);
	xp_run(xp);
	xp_watch_drop(xp, s); /* as epoll: a closed socket leaves every set */
	switch (s->state) {
	case XS_CONNECTED: {
		/* Linux sends RST, not FIN, when unread data is dropped or
		 * SO_LINGER is {1, 0}. */
		bool abort =
		    xp_unread(s) || ((s->opt_set & (1u << XO_LINGER)) && s->optv[XO_LINGER] == 0);

		xp_term_owe(xp, s, XTS_OP_CLOSE, abort ? XTS_F_ABORT : 0, s->peer_id, 0);
		xp_sock_release(xp, s);
		break;
	}
	case XS_CONNECTING:
		if (s->pend & PS_CONNECT) { /* never sent: nothing to undo */
			xp_sock_release(xp, s);
			break;
		}
		/* The DPU's id is not known yet: keep the slot (no sd) until
		 * the CONNECT_RES names it, then RESET it. */
		xp_sock_release_rx(xp, s);
		s->state = XS_ZOMBIE;
		break;
	case XS_LISTEN:
	case XS_LISTEN_WAIT:
		xp_lsn_close(xp, s); /* listen.c */
		break;
	default:
		if (s->abandon) {
			xp_lsn_free(s);
			xp_sock_release_rx(xp, s);
			s->state = XS_ZOMBIE;
		} else {
			xp_sock_release(xp, s);
		}
		break;
	}
	xp_zc_free(xp, s); /* a lent tx frame back (rx frames went with the rest) */
	xp_doorbell(xp);
	return 0;
}

/* ---- names ---- */

static int name_out(const struct xts_addr *a, struct sockaddr *addr, socklen_t *len)
{
	unsigned l;

	if (!len)
		return -EFAULT;
	if (*len > INT_MAX)
		return -EINVAL;
	if (*len && !addr)
		return -EFAULT;
	l = *len;
	if (xts_addr_to_sockaddr(a, addr, &l))
		return -EINVAL;
	*len = l;
	return 0;
}

XPORT_API int xport_getpeername(struct xport *xp, int sd, struct sockaddr *addr, socklen_t *len)
{
	struct xsock *s = xp_sock(xp, sd);
	int err;

	if (!s)
		return xp_fail(EBADF);
	xp_run(xp);
	if (s->state != XS_CONNECTED)
		return xp_fail(ENOTCONN);
	err = name_out(&s->peer, addr, len);
	return err ? xp_fail(-err) : 0;
}

XPORT_API int xport_getsockname(struct xport *xp, int sd, struct sockaddr *addr, socklen_t *len)
{
	struct xsock *s = xp_sock(xp, sd);
	struct xts_addr any;
	int err;

	if (!s)
		return xp_fail(EBADF);
	xp_run(xp);
	/* Linux names an unbound socket by its family's wildcard, port 0. */
	memset(&any, 0, sizeof(any));
	any.family = htole16(s->family);
	err = name_out((s->was_connected || s->bound) && s->local.family ? &s->local : &any, addr,
		       len);
	return err ? xp_fail(-err) : 0;
}

/* ---- poll ---- */

/* tcp_poll(), on our state. */
short xp_sock_revents(struct xport *xp, struct xsock *s)
{
	bool rd_done = s->peer_eof || s->rd_shut;
	short m = 0;

	switch (s->state) {
	case XS_NEW:
		m = POLLOUT | POLLWRNORM | POLLHUP; /* TCP_CLOSE, as a fresh socket */
		break;
	case XS_CONNECTING:
		break;
	case XS_LISTEN_WAIT:
	case XS_LISTEN:
		m = xp_lsn_revents(s); /* POLLIN: a connection to accept */
		break;
	case XS_CONNECTED:
		if (xp_rx_avail(s) || rd_done) /* framed: a whole message */
			m |= POLLIN | POLLRDNORM;
		if (rd_done)
			m |= POLLRDHUP;
		if (s->wr_shut || (s->snd_credit && xp_room(xp)))
			m |= POLLOUT | POLLWRNORM;
		if (rd_done && s->wr_shut)
			m |= POLLHUP;
		break;
	default: /* XS_DEAD: both directions done */
		m = POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM | POLLHUP;
		break;
	}
	if (s->so_error)
		m |= POLLERR;
	return m;
}
