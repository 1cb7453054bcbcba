// SPDX-License-Identifier: BSD-2-Clause
/*
 * zc.c - the zero-copy calls (include/xport.h, "Zero copy"): DATA frames
 * kept in UMEM and lent to the caller, and tx frames lent to fill in
 * place.  docs/design.md, "Zero copy and multi-buffer frames", says why
 * it is shaped so.
 *
 * Receive: a socket that asked once keeps each DATA frame (the link's
 * xts_link__rx_keep) while its receive ring is empty and neither bound is
 * reached (XP_ZC_SOCK_MAX frames here, the link's lend_max for the
 * queue); otherwise the payload goes to the ring as before.  So the
 * stream is always [kept frames][ring], and both are unread bytes to the
 * credit: the DPU never has more in flight than rcvbuf minus what is held.
 * Lending is peeking; consuming is in order, by bytes (xport_recv_done),
 * the way an AF_XDP rx ring or a TCP receive queue is consumed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xport_int.h"

static struct xp_zc *zc_get(struct xsock *s)
{
	if (!s->zc)
		s->zc = calloc(1, sizeof(*s->zc));
	return s->zc;
}

bool xp_zc_keep(struct xport *xp, struct xsock *s, const __u8 *p, uint32_t len)
{
	struct xp_zc *z = s->zc;
	struct xp_zseg *g;
	__u64 token;

	if (!len || !z->rx_on)
		return false; /* never asked (a send_buf only socket), or nothing */
	/* a bound reached, or behind bytes in the ring: it goes there too */
	if (s->rlen || z->n == XP_ZC_SOCK_MAX || xts_link__rx_keep(xp->link, p, &token)) {
		xp->c.zc_rx_copied++;
		return false;
	}
	g = &z->q[(z->head + z->n++) % XP_ZC_SOCK_MAX];
	*g = (struct xp_zseg){.p = p, .len = len, .token = token};
	z->bytes += len;
	xp->c.zc_rx_frames++;
	return true;
}

void xp_zc_consume(struct xport *xp, struct xsock *s, uint32_t n)
{
	struct xp_zc *z = s->zc;

	while (z->n && n) {
		struct xp_zseg *g = &z->q[z->head];
		uint32_t k = n < g->len ? n : g->len;

		g->p += k;
		g->len -= k;
		z->bytes -= k;
		n -= k;
		if (g->len)
			break;
		xts_link__rx_return(xp->link, g->token);
		z->head = (z->head + 1) % XP_ZC_SOCK_MAX;
		z->n--;
	}
}

static void tx_release(struct xport *xp, struct xp_zc *z)
{
	if (!z->tx_lent)
		return;
	xts_link__tx_cancel(xp->link, &z->txf);
	z->tx_lent = false;
	xp->c.zc_tx_lent--;
}

void xp_zc_free(struct xport *xp, struct xsock *s)
{
	if (!s->zc)
		return;
	tx_release(xp, s->zc);
	free(s->zc);
	s->zc = NULL;
}

/* Spans of the unread bytes, kept frames first, then the ring (made
 * full-size first, so that it never moves while lent).  Count, or
 * -ENOBUFS. */
static int lend(struct xport *xp, struct xsock *s, struct iovec *iov, unsigned max)
{
	struct xp_zc *z = s->zc;
	uint32_t first;
	unsigned n = 0;

	z->lent = 0;
	for (; n < z->n && n < max; n++) {
		const struct xp_zseg *g = &z->q[(z->head + n) % XP_ZC_SOCK_MAX];

		iov[n] = (struct iovec){.iov_base = (void *)(uintptr_t)g->p, .iov_len = g->len};
		z->lent += g->len;
	}
	if (n < z->n || !s->rlen || n == max)
		return (int)n;
	if (s->rcap < xp->rcvbuf && xp_rbuf_grow(xp, s, xp->rcvbuf))
		return n ? (int)n : -ENOBUFS;
	first = s->rcap - s->rhead < s->rlen ? s->rcap - s->rhead : s->rlen;
	iov[n++] = (struct iovec){.iov_base = s->rbuf + s->rhead, .iov_len = first};
	z->lent += first;
	if (first < s->rlen && n < max) { /* the ring wraps */
		iov[n++] = (struct iovec){.iov_base = s->rbuf, .iov_len = s->rlen - first};
		z->lent += s->rlen - first;
	}
	return (int)n;
}

XPORT_API int xport_recv_zc(struct xport *xp, int sd, struct iovec *iov, unsigned max, int flags)
{
	struct xsock *s = xp_sock(xp, sd);
	uint64_t dl;
	bool nb;
	int n;

	if (!s)
		return xp_fail(EBADF);
	if (!iov || !max || (flags & ~MSG_DONTWAIT))
		return xp_fail(EINVAL);
	if (xp_sock_framed(s))
		return xp_fail(EOPNOTSUPP); /* one message per receive: xport_recvmsg */
	if (!zc_get(s))
		return xp_fail(ENOMEM);
	s->zc->rx_on = true;
	xp_run(xp);
	nb = s->nonblock || (flags & MSG_DONTWAIT);
	dl = nb ? 0 : xp_deadline_us(s->rcvtimeo_us);
	while (!xp_unread(s)) {
		int why = xp_recv_nothing(s);

		if (why < 0)
			return xp_fail(-why);
		if (why)
			return 0; /* EOF */
		if (nb || xp_wait(xp, dl))
			return xp_fail(EAGAIN);
		xp_run(xp);
	}
	n = lend(xp, s, iov, max);
	return n < 0 ? xp_fail(-n) : n;
}

XPORT_API int xport_recv_done(struct xport *xp, int sd, size_t n)
{
	struct xsock *s = xp_sock(xp, sd);
	struct xp_zc *z;
	uint32_t k;

	if (!s)
		return xp_fail(EBADF);
	z = s->zc;
	if (!n)
		return 0;
	if (!z || n > z->lent)
		return xp_fail(EINVAL); /* never lent (or no longer): touch nothing */
	k = (uint32_t)n;
	z->lent -= k;
	xp_rx_take(xp, s, NULL, k, true);
	xp_credit(xp, s, k);
	if (s->state == XS_DEAD && !xp_unread(s))
		xp_sock_release_rx(xp, s);
	xp_doorbell(xp);
	return 0;
}

/* The tx frame for @s, lent now or before: its room, or -errno. */
static ssize_t tx_lend(struct xport *xp, struct xsock *s, size_t want, void **buf)
{
	struct xp_zc *z = s->zc;
	size_t cap;

	if (!z->tx_lent) {
		if (!s->snd_credit || !xp_room(xp))
			return -EAGAIN;
		/* lent frames hold window slots: never more than half of it */
		if (xp->c.zc_tx_lent >= XP_ZC_TX_MAX ||
		    xp->c.zc_tx_lent >= xts_link__peer_window(xp->link) / 2)
			return -ENOBUFS;
		if (xts_link__tx_reserve(xp->link, true, &z->txf))
			return -EAGAIN;
		z->tx_lent = true;
		xp->c.zc_tx_lent++;
	}
	cap = z->txf.cap < s->snd_credit ? z->txf.cap : (size_t)s->snd_credit;
	*buf = z->txf.payload;
	return (ssize_t)(cap < want ? cap : want);
}

XPORT_API ssize_t xport_send_buf(struct xport *xp, int sd, size_t want, void **buf, int flags)
{
	struct xsock *s = xp_sock(xp, sd);
	uint64_t dl;
	ssize_t r;
	bool nb;
	int err;

	if (!s)
		return xp_fail(EBADF);
	if (!buf || !want || (flags & ~MSG_DONTWAIT))
		return xp_fail(EINVAL);
	if (!zc_get(s))
		return xp_fail(ENOMEM);
	/* Credit and window at hand: lend at once.  The engine runs when
	 * they are not, as in every blocking call: once per frame it cost
	 * more than the copy saved (a frame is 1/16 of a 64 KiB send). */
	if (s->state == XS_CONNECTED && !xp_send_error(s)) {
		r = tx_lend(xp, s, want, buf);
		if (r != -EAGAIN)
			return r < 0 ? xp_fail((int)-r) : r;
	}
	xp_run(xp);
	nb = s->nonblock || (flags & MSG_DONTWAIT);
	dl = nb ? 0 : xp_deadline_us(s->sndtimeo_us);
	for (;;) {
		/* a connect in progress is waited for, as xport_send does */
		err = s->state == XS_CONNECTING ? -EAGAIN : xp_send_error(s);
		if (err == -EAGAIN)
			r = -EAGAIN;
		else if (err)
			return xp_fail(-err);
		else
			r = tx_lend(xp, s, want, buf);
		if (r != -EAGAIN)
			break;
		if (s->state == XS_CONNECTED) {
			if (s->snd_credit)
				xp_win_stalled(xp, s); /* its sets hear when the window opens */
			xp->c.credit_stalls += !s->snd_credit;
			xp->c.window_stalls += !!s->snd_credit;
		}
		if (nb || xp_wait(xp, dl))
			return xp_fail(EAGAIN);
		xp_run(xp);
	}
	return r < 0 ? xp_fail((int)-r) : r;
}

XPORT_API ssize_t xport_send_commit(struct xport *xp, int sd, size_t len, int flags)
{
	struct xsock *s = xp_sock(xp, sd);
	struct xp_zc *z;
	uint32_t cr;
	__u16 fl;
	int err;

	if (!s)
		return xp_fail(EBADF);
	z = s->zc;
	if (!z || !z->tx_lent || (flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_EOR)))
		return xp_fail(EINVAL);
	err = xp_send_error(s);
	if (err || !len) {
		tx_release(xp, z); /* the connection ended, or nothing to send */
		return err ? xp_fail(-err) : 0;
	}
	if (len > z->txf.cap || len > s->snd_credit)
		return xp_fail(EMSGSIZE);
	cr = s->ungranted; /* credit we owe rides along, as with xport_send */
	fl = (flags & MSG_MORE) ? XTS_F_MORE : 0;
	if ((flags & MSG_EOR) && xp_sock_framed(s))
		fl |= XTS_F_EOR; /* a framed socket's message ends here, as xport_send */
	err = xts_link__tx_submit(xp->link, &z->txf, XTS_OP_DATA, fl, s->peer_id, s->id, cr, len);
	z->tx_lent = false; /* sent, or refused and back in the pool */
	xp->c.zc_tx_lent--;
	if (err)
		return xp_fail(-err);
	s->rcv_avail += cr;
	s->ungranted = 0;
	s->snd_credit -= len;
	s->snd_out += len;
	xp->c.data_tx += len;
	xp->c.zc_tx_frames++;
	s->tx_bytes += len;
	xp_doorbell(xp);
	return (ssize_t)len;
}
