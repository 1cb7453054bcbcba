// SPDX-License-Identifier: BSD-2-Clause
/*
 * session.c - the queue session with the shard, as one object (struct
 * xp_session): HELLO until a HELLO_ACK names our nonce, the liveness
 * probe, the session ops (QRESET, DRAINING, PING) and the end of a
 * session.
 *
 * An end (QRESET from the shard, a sequence gap or silence seen here) is
 * two steps: the protocol's (QRESET out when we saw it, epoch 0, a new
 * HELLO) and the sockets' fate (sess_sockets_end).  Today the shard
 * resets every connection of a lost session and so do we; a session that
 * a restarted host process resumes would change only the second step.
 */
#include <endian.h>
#include <string.h>

#include "xport_int.h"

#define HELLO_IVL_MIN_MS 200
#define HELLO_IVL_MAX_MS 1000
#define PROBE_IDLE_MS	 1000 /* rx silence before we PING the shard */
#define PROBE_DEAD_MS	 3000 /* no frame at all this long after it: gone */

static const __u8 bcast_mac[XTS_MAC_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

int xp_session_err(const struct xport *xp)
{
	if (xp_up(xp))
		return 0;
	return xp->sess.state == XSS_FAILED ? -ENETDOWN : -EAGAIN;
}

static void hello_send(struct xport *xp)
{
	struct xp_session *ss = &xp->sess;
	struct xts_hello h;

	memset(&h, 0, sizeof(h));
	/* A fresh nonce per HELLO, each kept (the last XP_HELLO_KEEP): the
	 * answer to an earlier one may arrive after we sent the next, on a
	 * loaded host or DPU, and is ours all the same (on_hello_ack). */
	ss->nonce[ss->nsent++ % XP_HELLO_KEEP] = xts_link__random32();
	h.min_version = htole16(XTS_PROTO_VERSION);
	h.max_version = htole16(XTS_PROTO_VERSION);
	h.window = htole32(xts_link__window(xp->link));
	h.max_frame = htole32(xts_link__max_frame(xp->link));
	h.nonce = htole32(ss->nonce[(ss->nsent - 1) % XP_HELLO_KEEP]);
	h.caps = htole64(XTS_CAP_IPV6 | xts_link__caps(xp->link));
	xts_link__send(xp->link, XTS_OP_HELLO, 0, XTS_ID_NONE, XTS_ID_NONE, 0, &h, sizeof(h));
	xts_link__flush(xp->link, false);
	ss->hello_next_ns = xp_now_ns() + (uint64_t)ss->hello_ivl_ms * 1000000ull;
	ss->hello_ivl_ms *= 2;
	if (ss->hello_ivl_ms > HELLO_IVL_MAX_MS)
		ss->hello_ivl_ms = HELLO_IVL_MAX_MS;
}

void xp_sess_start(struct xport *xp)
{
	struct xp_session *ss = &xp->sess;

	ss->state = XSS_ATTACHING;
	ss->epoch = 0;
	ss->refuse_err = 0;
	ss->nsent = 0; /* answers to an earlier attach's HELLOs are not ours */
	ss->hello_ivl_ms = HELLO_IVL_MIN_MS;
	ss->hello_deadline_ns = xp_now_ns() + (uint64_t)ss->hello_ms * 1000000ull;
	hello_send(xp);
}

/* No session within hello_ms: connects queued for it fail as new ones do
 * (ENETDOWN, xp_session_err). */
static void hello_failed(struct xport *xp)
{
	uint32_t i;

	xp->sess.state = XSS_FAILED;
	xp->sess.err = ETIMEDOUT;
	for (i = 0; i < xp->hiwater; i++) {
		struct xsock *s = &xp->socks[i];

		if (s->state == XS_CONNECTING && (s->pend & PS_CONNECT)) {
			s->pend = 0;
			s->state = XS_DEAD;
			s->so_error = ENETDOWN;
			s->res_unreported = true;
			xp_ready_wake(xp, s);
		}
	}
}

static void hello_tick(struct xport *xp)
{
	struct xp_session *ss = &xp->sess;
	uint64_t now = xp_now_ns();

	if (ss->state != XSS_FAILED && now >= ss->hello_deadline_ns)
		hello_failed(xp);
	/* keeps trying (at most once a second): a restarted shard comes back */
	if (now >= ss->hello_next_ns)
		hello_send(xp);
}

/* Does @nonce name one of this attach's HELLOs? */
static bool our_nonce(const struct xp_session *ss, uint32_t nonce)
{
	uint32_t i, n = ss->nsent < XP_HELLO_KEEP ? ss->nsent : XP_HELLO_KEEP;

	for (i = 0; i < n; i++)
		if (ss->nonce[i] == nonce)
			return true;
	return false;
}

static void sess_drop(struct xport *xp, int err);

/*
 * The answer to a HELLO of ours: a session, or a refusal.  Any HELLO of
 * this attach counts, not only the last: on a loaded machine the answer
 * to one often arrives after the next went out (every 200 ms at first),
 * and waiting for the last one's answer had each retry start a takeover
 * probe on the shard (it cannot tell a retry from another host), which
 * took longer than the retries' interval: attaching timed out under load.
 * Up already, on an earlier HELLO's answer: a refusal is the shard
 * turning down a later HELLO of ours because our session answered its
 * probe, and the same epoch again is nothing new; another epoch means the
 * shard gave the queue to a later HELLO of ours (our answer to its probe
 * came too late), ending the session we hold: its sockets end as in a
 * QRESET and the new session is ours.
 */
static void on_hello_ack(struct xport *xp, const struct xts_msg *m)
{
	struct xp_session *ss = &xp->sess;
	struct xts_hello_ack h = {0};
	bool refused;
	int err;

	/* version 1's layout is the first 32 bytes of version 2's */
	memcpy(&h, m->payload, m->len < sizeof(h) ? m->len : sizeof(h));
	if (ss->state == XSS_ENDED || !our_nonce(ss, le32toh(h.nonce)))
		return;
	/* a refusal: err (EBUSY: the queue's session is live), or another
	 * version, said in version 1's layout */
	err = (int)le32toh((__u32)h.err);
	refused = m->version != XTS_PROTO_VERSION || err || !m->epoch ||
		  le16toh(h.min_version) > XTS_PROTO_VERSION ||
		  le16toh(h.max_version) < XTS_PROTO_VERSION;
	if (xp_up(xp)) {
		if (refused || m->epoch == ss->epoch)
			return;
		sess_drop(xp, ECONNRESET);
	} else if (refused) {
		if (ss->state == XSS_ATTACHING) {
			ss->state = XSS_REFUSED;
			ss->refuse_err = err > 0 && err < 4096 ? err : EPROTONOSUPPORT;
		}
		return;
	}
	xts_link__session(xp->link, m->epoch, le32toh(h.window), le32toh(h.max_frame), m->src_mac);
	xts_link__isn(xp->link, le32toh(h.host_isn), le32toh(h.dpu_isn));
	/* our window went out in the HELLO: it stays (answer false) */
	xts_link__peer_caps(xp->link, le64toh(h.caps), false);
	ss->state = XSS_UP;
	ss->epoch = m->epoch;
	memcpy(ss->peer, m->src_mac, sizeof(ss->peer));
	ss->last_rx_ns = xp_now_ns();
	ss->ping_sent_ns = 0;
	ss->live_ack = 0;
	ss->max_conns = le32toh(h.max_conns);
	ss->caps = le64toh(h.caps);
	ss->draining = false; /* a draining shard says so again at once */
	xp->c.sessions++;
}

/* What becomes of a lost session's sockets: every connection and listener
 * is reset with @err (the shard closed their TCP with the session). */
static void sess_sockets_end(struct xport *xp, int err)
{
	uint32_t i;

	for (i = 0; i < xp->hiwater; i++) {
		struct xsock *s = &xp->socks[i];

		s->pend = 0;
		s->term.op = 0; /* the DPU socket went with the session */
		switch (s->state) {
		case XS_ZOMBIE:
		case XS_CLOSING:
			xp_sock_free(xp, s);
			break;
		case XS_CONNECTING:
			s->res_unreported = true;
			/* fallthrough */
		case XS_CONNECTED:
			xp_conn_lost(xp, s, err);
			break;
		case XS_LISTEN_WAIT:
		case XS_LISTEN:
			xp_lsn_lost(xp, s, err);
			break;
		default:
			break;
		}
		s->abandon = false;
		xp_ready_wake(xp, s);
	}
}

/* The session is gone: its sockets end with @err, the rx batch too. */
static void sess_drop(struct xport *xp, int err)
{
	xp_owed_clear(xp); /* owed to a session that is gone */
	sess_sockets_end(xp, err);
	xp->sess.err = err;
	xp->sess.gen++;
	xp->c.qresets++;
}

void xp_sess_lost(struct xport *xp, int err, bool send_qreset)
{
	if (send_qreset) {
		/* in the dying session's epoch, so the shard acts on it */
		struct xts_err e = {.err = (__s32)htole32((__u32)err)};

		xts_link__send(xp->link, XTS_OP_QRESET, 0, XTS_ID_NONE, XTS_ID_NONE, 0, &e,
			       sizeof(e));
	}
	sess_drop(xp, err);
	xts_link__flush(xp->link, false);
	/* epoch 0: frames of the old session are dropped from now on */
	xts_link__session(xp->link, 0, xts_link__window(xp->link), 0, bcast_mac);
	xp_sess_start(xp);
}

/*
 * The graceful end: QRESET with err 0, in the session's epoch.  The shard
 * resets what is left of the session, but connections we closed already
 * and that it still delivers to a slow peer finish as orphans under its
 * linger_ms, as a process's closed sockets outlive it in Linux; and the
 * queue is free at once, so the next program's HELLO needs no takeover
 * probe (docs/design.md, "A HELLO while a session lives").  Without it
 * the shard would hold the session until a HELLO's probe went unanswered
 * or its dead-host timeout.  No socket is touched: xport_close_queue is
 * about to free them.
 */
int xp_sess_end(struct xport *xp)
{
	struct xts_err e = {.err = 0};
	int err;

	if (!xp_up(xp))
		return 0;
	err =
	    xts_link__send(xp->link, XTS_OP_QRESET, 0, XTS_ID_NONE, XTS_ID_NONE, 0, &e, sizeof(e));
	if (err)
		return err;
	xp->sess.state = XSS_ENDED;
	xp->sess.gen++;
	return 0;
}

bool xp_sess_on_msg(struct xport *xp, const struct xts_msg *m)
{
	struct xts_err e;

	switch (m->op) {
	case XTS_OP_HELLO_ACK:
		on_hello_ack(xp, m);
		return true;
	case XTS_OP_QRESET:
		/* the link passes session ops of any epoch: only ours counts,
		 * and epoch 0, which a shard sends (to the broadcast MAC)
		 * when it starts: the queue's shard restarted, our session
		 * died with the old one.  Fail its sockets now rather than
		 * at the liveness probe. */
		if (xp_up(xp) && (m->epoch == xp->sess.epoch || !m->epoch)) {
			if (!m->epoch)
				xp->c.restarts++;
			xp_sess_lost(xp, ECONNRESET, false);
		}
		return true;
	case XTS_OP_DRAINING:
		/* in-session (the link checked the epoch): ESHUTDOWN on, 0 off */
		if (xp_up(xp)) {
			memcpy(&e, m->payload, sizeof(e));
			xp->sess.draining = e.err != 0;
		}
		return true;
	case XTS_OP_PING:
		/* NOSEQ, one per PING: the peer's fill-ring reserve takes it */
		xts_link__send(xp->link, XTS_OP_PONG, 0, XTS_ID_NONE, XTS_ID_NONE, 0, m->payload,
			       m->len);
		return true;
	case XTS_OP_PONG: /* any frame proves the shard alive (see liveness) */
	case XTS_OP_HELLO:
		return true;
	default:
		return false;
	}
}

/*
 * A shard that died, hung or restarted says nothing to a host that sends
 * it nothing sequenced (a restarted one answers QRESET only to those), so
 * a blocking recv would wait forever.  While sockets exist, rx silence of
 * PROBE_IDLE_MS gets a PING (NOSEQ: answered by a live shard, dropped by
 * a restarted one); no frame at all PROBE_DEAD_MS later ends the session
 * as a sequence gap would.  @now is taken before rx was read: whatever
 * had arrived by then has been seen, so a host that stalls (descheduled,
 * stopped, not calling us) cannot mistake its own absence for the shard's.
 */
static void liveness(struct xport *xp, int rx, uint64_t now)
{
	struct xp_session *ss = &xp->sess;
	__u32 txs, rxs, pa;

	xts_link__seq_state(xp->link, &txs, &rxs, &pa);
	if (rx || pa != ss->live_ack || !xp->nused) {
		ss->live_ack = pa;
		ss->last_rx_ns = now;
		ss->ping_sent_ns = 0;
		return;
	}
	if (ss->ping_sent_ns) {
		if (now > ss->ping_sent_ns && now - ss->ping_sent_ns >= PROBE_DEAD_MS * 1000000ull)
			xp_sess_lost(xp, ECONNRESET, true);
		return;
	}
	/* (last_rx_ns may be later than @now: a session started in this run) */
	if (now > ss->last_rx_ns && now - ss->last_rx_ns >= PROBE_IDLE_MS * 1000000ull) {
		struct xts_ping ping = {.cookie = htole64(now)};

		if (!xts_link__send(xp->link, XTS_OP_PING, 0, XTS_ID_NONE, XTS_ID_NONE, 0, &ping,
				    sizeof(ping)))
			ss->ping_sent_ns = now;
	}
}

void xp_sess_tick(struct xport *xp, int rx, uint64_t now)
{
	if (xp_up(xp))
		liveness(xp, rx, now);
	else if (xp->sess.state != XSS_ENDED)
		hello_tick(xp);
}
