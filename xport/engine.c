// SPDX-License-Identifier: BSD-2-Clause
/*
 * engine.c - the engine every libxport call runs (xp_run): receive and
 * dispatch, owed control frames, the tx doorbell.  It never blocks:
 * blocking calls loop "engine, check, xp_wait" with a deadline, and
 * xp_wait() (poll.c) sleeps in ppoll(2) on the link fd, which becomes
 * readable when the DPU sends anything (data, credit, acks).
 *
 * Owed control frames are state, not messages (like the shard's): a
 * socket's PS_* bits on the `pend` list, credit to return before sleeping
 * on the `lazy` list, and the terminal frame (CLOSE, RESET) a slot owes
 * the DPU socket it held on the `term` list, sent before anything else.
 * None is ever dropped because the queue window happened to be full, and
 * their memory is the socket table's.
 */
#include <endian.h>
#include <string.h>
#include <time.h>

#include "xport_int.h"

#define RX_ROUNDS 4 /* rx batches per engine run */

uint64_t xp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t xp_deadline_us(int64_t us)
{
	if (us == 0)
		return XP_FOREVER;
	if (us < 0)
		return 0;
	return xp_now_ns() + (uint64_t)us * 1000ull;
}

uint64_t xp_deadline_ms(int ms)
{
	if (ms < 0)
		return XP_FOREVER;
	return xp_now_ns() + (uint64_t)ms * 1000000ull;
}

uint32_t xp_room(const struct xport *xp)
{
	return xp_up(xp) ? xts_link__tx_room(xp->link) : 0;
}

uint32_t xp_next_req(struct xport *xp)
{
	if (!++xp->so_req_next)
		xp->so_req_next = 1;
	return xp->so_req_next;
}

/* ---- owed frames ---- */

void xp_pend_add(struct xport *xp, struct xsock *s, uint8_t what)
{
	s->pend |= what;
	xts_fifo_push(&xp->pend, xp->socks, pend_n, xp_slot_of(xp, s));
}

void xp_owed_clear(struct xport *xp)
{
	xts_fifo_clear(&xp->pend, xp->socks, pend_n);
	xts_fifo_clear(&xp->lazy, xp->socks, lazy_n);
	xts_fifo_clear(&xp->term, xp->socks, term_n);
	xts_fifo_clear(&xp->win, xp->socks, win_n);
}

/* Every frame carries socket credit, so any we owe rides along. */
int xp_sock_send(struct xport *xp, struct xsock *s, enum xts_op op, const void *pl, size_t len)
{
	uint32_t cr = s->ungranted;
	int err;

	err = xts_link__send(xp->link, op, 0, s->peer_id, s->id, cr, pl, len);
	if (err)
		return -EAGAIN; /* window full or no free frame: both mean later */
	s->rcv_avail += cr;
	s->ungranted = 0;
	return 0;
}

/* An option set while the connection was being made (or that did not fit
 * CONNECT's eight): sent as a SOCKOPT whose answer nobody waits for. */
static int send_opt(struct xport *xp, struct xsock *s, int k)
{
	__u8 buf[sizeof(struct xts_sockopt) + sizeof(__s32)];
	struct xts_sockopt so;
	__s32 v = (__s32)htole32((__u32)s->optv[k]);

	memset(&so, 0, sizeof(so));
	so.req = htole32(xp_next_req(xp));
	so.dir = XTS_SOCKOPT_SET;
	so.level = (__s32)htole32((__u32)xp_opt_tab[k].level);
	so.name = (__s32)htole32((__u32)xp_opt_tab[k].name);
	so.vlen = htole32(sizeof(v));
	memcpy(buf, &so, sizeof(so));
	memcpy(buf + sizeof(so), &v, sizeof(v));
	return xp_sock_send(xp, s, XTS_OP_SOCKOPT, buf, sizeof(buf));
}

int xp_sock_flush_pend(struct xport *xp, struct xsock *s)
{
	if (s->state == XS_CONNECTING && (s->pend & PS_CONNECT)) {
		if (xp_send_connect(xp, s))
			return -EAGAIN;
		s->pend = 0;
		return 0;
	}
	if (s->state != XS_CONNECTED) {
		s->pend = 0;
		return 0;
	}
	if (s->pend & PS_OPTS) {
		while (s->opt_dirty) {
			int k = __builtin_ctz(s->opt_dirty);

			if (send_opt(xp, s, k))
				return -EAGAIN;
			s->opt_dirty &= (uint16_t) ~(1u << k);
		}
		s->pend &= (uint8_t)~PS_OPTS;
	}
	if (s->pend & PS_CREDIT) {
		if (s->ungranted && xp_sock_send(xp, s, XTS_OP_CREDIT, NULL, 0))
			return -EAGAIN;
		s->pend &= (uint8_t)~PS_CREDIT;
	}
	if (s->pend & PS_SHUTDOWN) {
		if (xp_sock_send(xp, s, XTS_OP_SHUTDOWN, NULL, 0))
			return -EAGAIN;
		s->pend &= (uint8_t)~PS_SHUTDOWN;
	}
	return 0;
}

static int term_send(struct xport *xp, uint8_t op, uint16_t flags, uint32_t dst, uint32_t src,
		     int err)
{
	struct xts_close c = {0};
	struct xts_err er = {.err = (__s32)htole32((__u32)err)};

	if (op == XTS_OP_CLOSE)
		return xts_link__send(xp->link, XTS_OP_CLOSE, flags, dst, src, 0, &c, sizeof(c));
	return xts_link__send(xp->link, (enum xts_op)op, flags, dst, src, 0, &er, sizeof(er));
}

void xp_term_owe(struct xport *xp, struct xsock *s, uint8_t op, uint16_t flags, uint32_t peer,
		 int err)
{
	if (!xp_up(xp) || peer == XTS_ID_NONE)
		return; /* no session: the DPU has freed its socket already */
	if (s->term.op) {
		/* Cannot happen: nothing new leaves a slot that owes one,
		 * so no second DPU socket exists for it to owe. */
		xp_stray_send(xp, op, flags, peer, err);
		return;
	}
	if (!xp_term_owed(xp) && !term_send(xp, op, flags, peer, s->id, err))
		return;
	s->term = (struct xp_term){.op = op, .flags = flags, .err = err, .peer = peer};
	xts_fifo_push(&xp->term, xp->socks, term_n, xp_slot_of(xp, s));
}

void xp_stray_send(struct xport *xp, uint8_t op, uint16_t flags, uint32_t dst, int err)
{
	if (!xp_up(xp) || dst == XTS_ID_NONE)
		return;
	if (xp_term_owed(xp) || term_send(xp, op, flags, dst, XTS_ID_NONE, err))
		xp->c.stray_unsent++;
}

/* Owed terminal frames, oldest first; a closed slot is free once its
 * frame is sent. */
static int term_run(struct xport *xp)
{
	int work = 0;

	while (!xts_fifo_empty(&xp->term)) {
		struct xsock *s = &xp->socks[xts_fifo_head(&xp->term)];
		struct xp_term *t = &s->term;

		if (term_send(xp, t->op, t->flags, t->peer, s->id, t->err))
			break;
		xts_fifo_pop(&xp->term, xp->socks, term_n);
		t->op = 0;
		if (s->state == XS_CLOSING)
			xp_sock_free(xp, s);
		work++;
	}
	return work;
}

void xp_credit(struct xport *xp, struct xsock *s, uint32_t n)
{
	s->ungranted += n;
	if (s->state != XS_CONNECTED || !s->ungranted)
		return;
	/* A quarter of the buffer: worth a frame of its own, now.  Less, and
	 * the buffer empty: the app has caught up and may now sleep; return
	 * it before sleeping (xp_presleep) unless a DATA frame takes it
	 * first, which saves a frame in request/response traffic.  Under a
	 * sixteenth it waits for a DATA frame or for more: the DPU still
	 * holds 15/16 of the buffer as credit, and a CREDIT frame per small
	 * response cost a frame, a kick and a DPU wakeup per request. */
	if (s->ungranted >= xp->rcvbuf / 4) {
		if (xp_sock_send(xp, s, XTS_OP_CREDIT, NULL, 0))
			xp_pend_add(xp, s, PS_CREDIT);
	} else if (!xp_unread(s) && s->ungranted >= xp->rcvbuf / 16) {
		xts_fifo_push(&xp->lazy, xp->socks, lazy_n, xp_slot_of(xp, s));
	}
}

static int pend_run(struct xport *xp)
{
	/* Terminal frames first: they free DPU sockets, and a CONNECT or
	 * LISTEN must not overtake the CLOSE of a socket on its port. */
	int work = term_run(xp);

	if (xp_term_owed(xp))
		return work;
	while (!xts_fifo_empty(&xp->pend)) {
		struct xsock *s = &xp->socks[xts_fifo_head(&xp->pend)];

		if (s->pend && xp_sock_flush_pend(xp, s))
			break; /* no room: keep the order */
		xts_fifo_pop(&xp->pend, xp->socks, pend_n);
		work++;
	}
	return work;
}

void xp_lazy_run(struct xport *xp)
{
	while (!xts_fifo_empty(&xp->lazy)) {
		struct xsock *s = &xp->socks[xts_fifo_head(&xp->lazy)];

		if (s->state == XS_CONNECTED && s->ungranted &&
		    xp_sock_send(xp, s, XTS_OP_CREDIT, NULL, 0))
			break;
		xts_fifo_pop(&xp->lazy, xp->socks, lazy_n);
	}
}

/* ---- the engine ---- */

static void dispatch(struct xport *xp, const struct xts_msg *m)
{
	switch (m->op) {
	case XTS_OP_CONNECT_RES:
	case XTS_OP_DATA:
	case XTS_OP_CREDIT:
	case XTS_OP_SHUTDOWN:
	case XTS_OP_RESET:
	case XTS_OP_CLOSED:
	case XTS_OP_SOCKOPT_RES:
		if (xp_up(xp))
			xp_conn_on_msg(xp, m); /* conn.c */
		return;
	case XTS_OP_LISTEN_RES:
	case XTS_OP_NEW_CONN:
		if (xp_up(xp))
			xp_lsn_on_msg(xp, m); /* listen.c */
		return;
	case XTS_OP_ULP_RES:
		if (xp_up(xp))
			xp_ulp_on_res(xp, m); /* ulp.c */
		return;
	default:
		if (!xp_sess_on_msg(xp, m)) /* session.c */
			xp->c.stale++;
		return;
	}
}

int xp_run(struct xport *xp)
{
	struct xts_msg msgs[XP_RX_BATCH];
	uint64_t t0 = xp_now_ns(); /* before rx: see liveness() */
	int work = 0, round, n, i;

	if (xp->fo_slot) /* any call but the first send: the CONNECT goes bare */
		xp_fo_flush(xp);
	for (round = 0; round < RX_ROUNDS; round++) {
		uint32_t gen = xp->sess.gen;

		n = xts_link__rx(xp->link, msgs, XP_RX_BATCH);
		/* a QRESET ends the batch: the rest belongs to a dead session */
		for (i = 0; i < n && gen == xp->sess.gen; i++)
			dispatch(xp, &msgs[i]);
		xts_link__rx_done(xp->link);
		work += n;
		if (xts_link__broken(xp->link)) {
			xp_sess_lost(xp, ECONNRESET, true);
			break;
		}
		if (n < XP_RX_BATCH)
			break;
	}
	xp_sess_tick(xp, work, t0);
	work += pend_run(xp);
	if (!xts_fifo_empty(&xp->win) && xp_room(xp))
		xp_win_open(xp);
	xp_doorbell(xp);
	if (xp->lease)
		xp_lease_tick(xp, t0);
	return work;
}

void xp_doorbell(struct xport *xp)
{
	xts_link__flush_batch(xp->link, false, xp->batch ? XP_KICK_BATCH : 1);
}

void xp_presleep(struct xport *xp)
{
	xp_lazy_run(xp);
	/* No pure ACK per sleep: every frame carries our ack, and one goes
	 * out at half the window consumed, so the DPU always has at least
	 * half its window while we sleep.  A forced one cost a frame, a
	 * kick and a DPU wakeup per request at low rates. */
	xts_link__flush(xp->link, false);
}
