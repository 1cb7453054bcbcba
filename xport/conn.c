// SPDX-License-Identifier: BSD-2-Clause
/*
 * conn.c - what the DPU says about one connection: the result of a
 * CONNECT, its bytes (DATA, into the receive ring), credit, EOF, resets
 * and option answers.  The session ops are session.c's, the listener's
 * frames (LISTEN_RES, NEW_CONN) listen.c's.
 */
#include <endian.h>
#include <string.h>

#include "xport_int.h"

/* The connection is gone on the DPU (or the queue): no frame for it any
 * more.  Buffered data stays readable, then the error, as Linux does. */
void xp_conn_lost(struct xport *xp, struct xsock *s, int err)
{
	s->state = XS_DEAD;
	s->so_error = err;
	s->peer_id = XTS_ID_NONE;
	s->pend = 0;
	s->snd_credit = s->snd_out = 0;
	xp->c.resets++;
	if (!xp_unread(s))
		xp_sock_release_rx(xp, s);
}

void xp_sock_abort(struct xport *xp, struct xsock *s, int err)
{
	xp_term_owe(xp, s, XTS_OP_RESET, 0, s->peer_id, err);
	xp_conn_lost(xp, s, err);
}

/* ---- TCP_FASTOPEN_CONNECT: the CONNECT carries the first bytes ---- */

/*
 * As Linux's TCP_FASTOPEN_CONNECT: connect() returns 0 at once and the
 * CONNECT leaves with the first send's bytes in the same frame, so the
 * connect's round trip and the request's are one (the shard connects,
 * writes them, then answers CONNECT_RES).  Only with a shard that takes
 * them (XTS_CAP_CONNECT_DATA) and without a ULP; a connect's error then
 * reaches the app at its next send or receive, as with Linux's.
 */
bool xp_fo_ok(const struct xport *xp, const struct xsock *s)
{
	return s->fo_connect && xp_up(xp) && (xp->sess.caps & XTS_CAP_CONNECT_DATA) && !s->ulp;
}

void xp_fo_defer(struct xport *xp, struct xsock *s)
{
	if (xp->fo_slot) /* one at a time: an earlier one goes as it is */
		xp_fo_flush(xp);
	s->fo_defer = true;
	xp->fo_slot = xp_slot_of(xp, s) + 1;
}

static struct xsock *fo_take(struct xport *xp)
{
	struct xsock *s = &xp->socks[xp->fo_slot - 1];

	xp->fo_slot = 0;
	s->fo_defer = false;
	return s;
}

void xp_fo_flush(struct xport *xp)
{
	struct xsock *s = fo_take(xp);

	if (s->state != XS_CONNECTING)
		return;
	/* as connect_run: no room, or terminal frames owed before it */
	if (xp_session_err(xp) || xp_term_owed(xp) || xp_send_connect(xp, s)) {
		xp->c.window_stalls++;
		xp_pend_add(xp, s, PS_CONNECT);
	}
}

ssize_t xp_fo_send(struct xport *xp, struct xsock *s, const void *buf, size_t len)
{
	ssize_t n;

	if (s->state != XS_CONNECTING || xp->fo_slot != xp_slot_of(xp, s) + 1 ||
	    xp_session_err(xp) || xp_term_owed(xp) || !xp_room(xp))
		return 0; /* xp_run sends the CONNECT as it is */
	n = xp_send_connect_data(xp, s, buf, len);
	if (n < 0)
		return 0;
	fo_take(xp);
	xp->c.data_tx += (uint64_t)n;
	s->tx_bytes += (uint64_t)n;
	s->snd_out += (uint64_t)n;
	xp_doorbell(xp);
	return n;
}

static void on_connect_res(struct xport *xp, struct xsock *s, const struct xts_msg *m)
{
	struct xts_conn_res r;
	int err;
	bool ok;

	memcpy(&r, m->payload, sizeof(r));
	err = (int)(__s32)le32toh((__u32)r.err);
	ok = !err && m->src_id != XTS_ID_NONE;
	if (m->len > sizeof(r) && s->ulp) /* what TLS became, or why it failed */
		xp_ulp_info(s, m->payload + sizeof(r));
	if (!ok && (err <= 0 || err > 4095))
		err = EPROTO;
	if (s->state == XS_ZOMBIE || s->abandon) {
		/* Closed or disconnected while connecting: nobody wants it. */
		s->abandon = false;
		if (ok)
			xp_term_owe(xp, s, XTS_OP_RESET, 0, m->src_id, ECONNABORTED);
		if (s->state == XS_ZOMBIE)
			xp_sock_release(xp, s);
		return;
	}
	if (s->state != XS_CONNECTING) {
		xp->c.stale++;
		if (ok) /* the DPU made a connection for it: do not leak it */
			xp_stray_send(xp, XTS_OP_RESET, 0, m->src_id, ECONNABORTED);
		return;
	}
	s->res_unreported = true;
	if (!ok) {
		s->state = XS_DEAD;
		s->so_error = err;
		return;
	}
	s->state = XS_CONNECTED;
	s->was_connected = true;
	s->peer_id = m->src_id;
	s->snd_credit = m->credit;
	/* the credit counts the first bytes of a TCP_FASTOPEN_CONNECT, which
	 * the shard hands its socket before this answer: taken */
	s->snd_out = 0;
	s->local = r.local;
	s->peer = r.peer;
	if (s->opt_dirty)
		xp_pend_add(xp, s, PS_OPTS);
}

static void on_data(struct xport *xp, struct xsock *s, const struct xts_msg *m)
{
	uint32_t len = m->len;
	int err;

	if (len > s->rcv_avail) {
		/* beyond the credit we granted: protocol error, this
		 * connection only (docs/protocol.md) */
		xp_sock_abort(xp, s, EPROTO);
		return;
	}
	s->rcv_avail -= len;
	xp->c.data_rx += len;
	s->rx_bytes += len;
	if (s->rd_shut || s->peer_eof) {
		/* Nobody reads it: drop it, but return the credit so the DPU
		 * never stalls on a connection we stopped reading. */
		xp_credit(xp, s, len);
		return;
	}
	if (s->zc && xp_zc_keep(xp, s, m->payload, len))
		return; /* kept in its frame for xport_recv_zc */
	if (s->rlen + len > s->rcap && xp_rbuf_grow(xp, s, s->rlen + len)) {
		xp_sock_abort(xp, s, ENOBUFS);
		return;
	}
	xp_rbuf_put(s, m->payload, len); /* fits: rlen + rcv_avail <= rcvbuf */
	if ((err = xp_strp_on_data(s, len, m->flags & XTS_F_EOR)))
		xp_sock_abort(xp, s, -err);
}

static void on_sockopt_res(struct xport *xp, const struct xts_msg *m)
{
	struct xts_sockopt so;
	uint32_t vlen;

	memcpy(&so, m->payload, sizeof(so));
	if (!xp->so_req || xp->so_done || le32toh(so.req) != xp->so_req || m->dst_id != xp->so_id)
		return;		 /* an answer to a SET nobody waits for */
	vlen = le32toh(so.vlen); /* parse checked vlen == len - 24 <= VALMAX */
	xp->so_err = (int)(__s32)le32toh((__u32)so.err);
	memcpy(xp->so_val, (const __u8 *)m->payload + sizeof(so), vlen);
	xp->so_vlen = vlen;
	xp->so_done = true;
}

/* A frame for an id we do not know (any more). */
static void on_unknown(struct xport *xp, const struct xts_msg *m)
{
	if (m->op == XTS_OP_CONNECT_RES && m->src_id) {
		struct xts_conn_res r;

		memcpy(&r, m->payload, sizeof(r));
		if (!r.err) /* a connection nobody will ever use */
			xp_stray_send(xp, XTS_OP_RESET, 0, m->src_id, ECONNABORTED);
	}
	if (m->op != XTS_OP_CLOSED) /* CLOSED names a freed id by design */
		xp->c.stale++;
}

/* A frame for a socket not (or no longer) connected. */
static void on_unconnected(struct xport *xp, struct xsock *s, const struct xts_msg *m)
{
	struct xts_err e;

	if (m->op == XTS_OP_RESET &&
	    (s->state == XS_CONNECTING || s->state == XS_ZOMBIE || s->abandon)) {
		/* failed before its CONNECT_RES: the same as a failed one */
		memcpy(&e, m->payload, sizeof(e));
		if (s->state == XS_ZOMBIE) {
			xp_sock_release(xp, s);
		} else if (s->abandon) {
			s->abandon = false;
		} else {
			s->res_unreported = true;
			s->state = XS_DEAD;
			s->so_error = e.err ? (int)(__s32)le32toh((__u32)e.err) : ECONNRESET;
		}
	} else if (m->op != XTS_OP_CLOSED) {
		xp->c.stale++; /* late frames of a connection that ended */
	}
}

static void conn_msg(struct xport *xp, struct xsock *s, const struct xts_msg *m)
{
	struct xts_err e;

	if (m->op == XTS_OP_CONNECT_RES) {
		on_connect_res(xp, s, m);
		return;
	}
	if (s->state != XS_CONNECTED) {
		on_unconnected(xp, s, m);
		return;
	}
	if (m->src_id != s->peer_id && m->src_id != XTS_ID_NONE) {
		xp->c.stale++;
		return;
	}
	s->snd_credit += m->credit;
	s->snd_out -= m->credit < s->snd_out ? m->credit : s->snd_out;
	switch (m->op) {
	case XTS_OP_DATA:
		on_data(xp, s, m);
		break;
	case XTS_OP_SHUTDOWN:
		s->peer_eof = true;
		break;
	case XTS_OP_RESET:
		memcpy(&e, m->payload, sizeof(e));
		e.err = (__s32)le32toh((__u32)e.err);
		xp_conn_lost(xp, s, e.err > 0 && e.err < 4096 ? e.err : ECONNRESET);
		break;
	case XTS_OP_SOCKOPT_RES:
		on_sockopt_res(xp, m);
		break;
	default: /* CREDIT: hdr.credit only; CLOSED: nothing to do */
		break;
	}
}

void xp_conn_on_msg(struct xport *xp, const struct xts_msg *m)
{
	struct xsock *s = xp_sock_by_id(xp, m->dst_id);

	if (!s) {
		on_unknown(xp, m);
		return;
	}
	conn_msg(xp, s, m);
	/* whatever it was (bytes, credit, EOF, a result), the sets that
	 * watch the socket hear of it; a freed one has none */
	xp_ready_wake(xp, s);
}
