// SPDX-License-Identifier: BSD-2-Clause
/*
 * xport.c - libxport's queue side: attach (HELLO), the engine that every
 * call runs (receive and dispatch, owed control frames, tx doorbell),
 * session loss and re-attach, the socket table.  The socket calls are in
 * sock.c and listen.c; waiting (xp_wait, xport_poll) and the counters in
 * poll.c.
 *
 * The engine never blocks.  Blocking calls loop "engine, check, xp_wait"
 * with a deadline; xp_wait() sleeps in ppoll(2) on the AF_XDP fd, which
 * becomes readable when the DPU sends anything (data, credit, acks).
 *
 * Owed control frames are state, not messages (like the shard's): a
 * socket's PS_* bits on the `pend` list, credit to return before sleeping
 * on the `lazy` list, and terminal frames (CLOSE, RESET) for connections
 * whose slot has moved on in the `ctl` ring.  None is ever dropped because
 * the queue window happened to be full.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "xport_int.h"

#define HELLO_IVL_MIN_MS 200
#define HELLO_IVL_MAX_MS 1000
#define RX_ROUNDS	 4    /* rx batches per engine run */
#define CLOSE_QUEUE_MS	 500  /* room for the RESETs of xport_close_queue */
#define BUSY_RETRY_MS	 20   /* a queue still held by its previous owner */
#define PROBE_IDLE_MS	 1000 /* rx silence before we PING the shard */
#define PROBE_DEAD_MS	 3000 /* no frame at all this long after it: gone */
#define QUIET_MS	 20   /* close_queue: the shard sent nothing this long */

static const __u8 bcast_mac[XTS_MAC_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

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

static uint32_t rand32(void)
{
	uint32_t r;
	uint64_t t;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	t = xp_now_ns() ^ ((uint64_t)getpid() << 32);
	t ^= t >> 31;
	t *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(t ^ (t >> 32));
}

static uint32_t slot_of(const struct xport *xp, const struct xsock *s)
{
	return (uint32_t)(s - xp->socks);
}

uint32_t xp_room(const struct xport *xp)
{
	return xp->up ? xts_link__tx_room(xp->link) : 0;
}

int xp_session_err(const struct xport *xp)
{
	if (xp->up)
		return 0;
	return xp->hello_failed ? -ENETDOWN : -EAGAIN;
}

/* ---- socket table ---- */

/* An sd of the app: slot in range, generation equal, slot in use. */
struct xsock *xp_sock(struct xport *xp, int sd)
{
	struct xsock *s;
	uint32_t slot;

	if (!xp || sd <= 0)
		return NULL;
	slot = xts_id_slot((uint32_t)sd);
	if (slot >= xp->nsocks)
		return NULL;
	s = &xp->socks[slot];
	if (s->id != (uint32_t)sd || s->state == XS_FREE || s->state == XS_ZOMBIE)
		return NULL;
	return s;
}

/* The receiver's id of a frame: zombies included (they await a frame). */
static struct xsock *sock_by_id(struct xport *xp, uint32_t id)
{
	uint32_t slot = xts_id_slot(id);
	struct xsock *s;

	if (id == XTS_ID_NONE || slot >= xp->nsocks)
		return NULL;
	s = &xp->socks[slot];
	return s->id == id && s->state != XS_FREE ? s : NULL;
}

struct xsock *xp_sock_alloc(struct xport *xp)
{
	struct xsock *s, keep;
	uint32_t slot;

	if (!xp->free_head)
		return NULL;
	slot = xp->free_head - 1;
	s = &xp->socks[slot];
	xp->free_head = s->free_next;
	/* A freed slot may still be linked on the pend/lazy lists (they are
	 * singly linked and unlinked only when popped).  The new owner keeps
	 * the links: popping it finds nothing owed, or what it owes by then. */
	keep = *s;
	memset(s, 0, sizeof(*s));
	s->on_pend = keep.on_pend;
	s->pend_next = keep.pend_next;
	s->on_lazy = keep.on_lazy;
	s->lazy_next = keep.lazy_next;
	s->gen = (uint16_t)(keep.gen % XTS_ID_GEN_MAX + 1); /* 1..GEN_MAX, never 0 */
	s->id = xts_id_make(slot, s->gen);
	s->state = XS_NEW;
	xp->nused++;
	if (slot + 1 > xp->hiwater)
		xp->hiwater = slot + 1;
	return s;
}

void xp_sock_free(struct xport *xp, struct xsock *s)
{
	xp_lsn_free(s);
	free(s->rbuf);
	s->rbuf = NULL;
	s->rlen = s->rcap = 0;
	s->pend = 0;
	/* id 0: frames still on their way for it are stale from now on, and
	 * the next owner gets another generation. */
	s->id = 0;
	s->state = XS_FREE;
	s->free_next = xp->free_head;
	xp->free_head = slot_of(xp, s) + 1;
	xp->nused--;
}

/* ---- owed frames ---- */

void xp_pend_add(struct xport *xp, struct xsock *s, uint8_t what)
{
	uint32_t n = slot_of(xp, s) + 1;

	s->pend |= what;
	if (s->on_pend)
		return;
	s->on_pend = true;
	s->pend_next = 0;
	if (xp->pend_tail)
		xp->socks[xp->pend_tail - 1].pend_next = n;
	else
		xp->pend_head = n;
	xp->pend_tail = n;
}

static void lazy_add(struct xport *xp, struct xsock *s)
{
	uint32_t n = slot_of(xp, s) + 1;

	if (s->on_lazy)
		return;
	s->on_lazy = true;
	s->lazy_next = 0;
	if (xp->lazy_tail)
		xp->socks[xp->lazy_tail - 1].lazy_next = n;
	else
		xp->lazy_head = n;
	xp->lazy_tail = n;
}

uint32_t xp_next_req(struct xport *xp)
{
	if (!++xp->so_req_next)
		xp->so_req_next = 1;
	return xp->so_req_next;
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

static int ctl_send(struct xport *xp, const struct xp_ctl *e)
{
	struct xts_close c = {0};
	struct xts_err er = {.err = (__s32)htole32((__u32)e->err)};

	if (e->op == XTS_OP_CLOSE)
		return xts_link__send(xp->link, XTS_OP_CLOSE, e->flags, e->dst, e->src, 0, &c,
				      sizeof(c));
	return xts_link__send(xp->link, (enum xts_op)e->op, e->flags, e->dst, e->src, 0, &er,
			      sizeof(er));
}

void xp_ctl_push(struct xport *xp, uint8_t op, uint16_t flags, uint32_t dst, uint32_t src, int err)
{
	struct xp_ctl e = {.op = op, .flags = flags, .dst = dst, .src = src, .err = err};

	if (!xp->up || dst == XTS_ID_NONE)
		return; /* no session: the DPU has freed the connection already */
	if (!xp->ctl_n && !ctl_send(xp, &e))
		return;
	/* Full only if nsocks terminal frames wait for a window that stays
	 * shut: may be called from dispatch, so no waiting here. */
	if (xp->ctl_n == xp->nsocks) {
		xp->c.ctl_lost++;
		return;
	}
	xp->ctl[(xp->ctl_head + xp->ctl_n) % xp->nsocks] = e;
	xp->ctl_n++;
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
	} else if (!s->rlen && s->ungranted >= xp->rcvbuf / 16) {
		lazy_add(xp, s);
	}
}

static int pend_run(struct xport *xp)
{
	int work = 0;

	/* Terminal frames first: they free DPU connections. */
	while (xp->ctl_n) {
		if (ctl_send(xp, &xp->ctl[xp->ctl_head]))
			return work;
		xp->ctl_head = (xp->ctl_head + 1) % xp->nsocks;
		xp->ctl_n--;
		work++;
	}
	while (xp->pend_head) {
		struct xsock *s = &xp->socks[xp->pend_head - 1];

		if (s->pend && xp_sock_flush_pend(xp, s))
			break; /* no room: keep the order */
		xp->pend_head = s->pend_next;
		if (!xp->pend_head)
			xp->pend_tail = 0;
		s->on_pend = false;
		s->pend_next = 0;
		work++;
	}
	return work;
}

static void lazy_run(struct xport *xp)
{
	while (xp->lazy_head) {
		struct xsock *s = &xp->socks[xp->lazy_head - 1];

		if (s->state == XS_CONNECTED && s->ungranted &&
		    xp_sock_send(xp, s, XTS_OP_CREDIT, NULL, 0))
			break;
		xp->lazy_head = s->lazy_next;
		if (!xp->lazy_head)
			xp->lazy_tail = 0;
		s->on_lazy = false;
		s->lazy_next = 0;
	}
}

/* ---- connections, from the DPU's side ---- */

/* The connection is gone on the DPU (or the queue): no frame for it any
 * more.  Buffered data stays readable, then the error, as Linux does. */
static void conn_lost(struct xport *xp, struct xsock *s, int err)
{
	s->state = XS_DEAD;
	s->so_error = err;
	s->peer_id = XTS_ID_NONE;
	s->pend = 0;
	s->snd_credit = 0;
	xp->c.resets++;
	if (!s->rlen)
		xp_sock_release_rx(xp, s);
}

void xp_sock_abort(struct xport *xp, struct xsock *s, int err)
{
	xp_ctl_push(xp, XTS_OP_RESET, 0, s->peer_id, s->id, err);
	conn_lost(xp, s, err);
}

static void on_connect_res(struct xport *xp, struct xsock *s, const struct xts_msg *m)
{
	struct xts_conn_res r;
	int err;
	bool ok;

	memcpy(&r, m->payload, sizeof(r));
	err = (int)(__s32)le32toh((__u32)r.err);
	ok = !err && m->src_id != XTS_ID_NONE;
	if (!ok && (err <= 0 || err > 4095))
		err = EPROTO;
	if (s->state == XS_ZOMBIE || s->abandon) {
		/* Closed or disconnected while connecting: nobody wants it. */
		if (ok)
			xp_ctl_push(xp, XTS_OP_RESET, 0, m->src_id, s->id, ECONNABORTED);
		if (s->state == XS_ZOMBIE)
			xp_sock_free(xp, s);
		else
			s->abandon = false;
		return;
	}
	if (s->state != XS_CONNECTING) {
		xp->c.stale++;
		if (ok) /* the DPU made a connection for it: do not leak it */
			xp_ctl_push(xp, XTS_OP_RESET, 0, m->src_id, s->id, ECONNABORTED);
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
	s->local = r.local;
	s->peer = r.peer;
	if (s->opt_dirty)
		xp_pend_add(xp, s, PS_OPTS);
}

/* Room for @need unread bytes (<= rcvbuf, which credit ensures): the
 * ring doubles, its bytes moved to the front of the new one. */
static int ring_grow(struct xport *xp, struct xsock *s, uint32_t need)
{
	uint32_t cap = s->rcap ? s->rcap : XP_RBUF_MIN, first;
	uint8_t *nb;

	while (cap < need)
		cap *= 2;
	if (cap > xp->rcvbuf)
		cap = xp->rcvbuf;
	nb = malloc(cap);
	if (!nb)
		return -ENOBUFS;
	first = s->rcap - s->rhead < s->rlen ? s->rcap - s->rhead : s->rlen;
	if (s->rlen) {
		memcpy(nb, s->rbuf + s->rhead, first);
		memcpy(nb + first, s->rbuf, s->rlen - first);
	}
	free(s->rbuf);
	s->rbuf = nb;
	s->rcap = cap;
	s->rhead = 0;
	return 0;
}

static void ring_put(struct xsock *s, const __u8 *p, uint32_t n)
{
	uint32_t cap = s->rcap, tail = s->rhead + s->rlen, first;

	if (tail >= cap)
		tail -= cap;
	first = cap - tail < n ? cap - tail : n;
	memcpy(s->rbuf + tail, p, first);
	memcpy(s->rbuf, p + first, n - first);
	s->rlen += n;
}

static void on_data(struct xport *xp, struct xsock *s, const struct xts_msg *m)
{
	uint32_t len = m->len;

	if (len > s->rcv_avail) {
		/* beyond the credit we granted: protocol error, this
		 * connection only (docs/protocol.md) */
		xp_sock_abort(xp, s, EPROTO);
		return;
	}
	s->rcv_avail -= len;
	xp->c.data_rx += len;
	if (s->rd_shut || s->peer_eof) {
		/* Nobody reads it: drop it, but return the credit so the DPU
		 * never stalls on a connection we stopped reading. */
		xp_credit(xp, s, len);
		return;
	}
	if (s->rlen + len > s->rcap && ring_grow(xp, s, s->rlen + len)) {
		xp_sock_abort(xp, s, ENOBUFS);
		return;
	}
	ring_put(s, m->payload, len); /* fits: rlen + rcv_avail <= rcvbuf */
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

static void on_conn_msg(struct xport *xp, const struct xts_msg *m)
{
	struct xsock *s = sock_by_id(xp, m->dst_id);
	struct xts_err e;

	if (!s) {
		if (m->op == XTS_OP_CONNECT_RES && m->src_id) {
			struct xts_conn_res r;

			memcpy(&r, m->payload, sizeof(r));
			if (!r.err) /* a connection nobody will ever use */
				xp_ctl_push(xp, XTS_OP_RESET, 0, m->src_id, XTS_ID_NONE,
					    ECONNABORTED);
		}
		if (m->op != XTS_OP_CLOSED) /* CLOSED names a freed id by design */
			xp->c.stale++;
		else if (m->dst_id == xp->lsn_closing)
			xp->lsn_closing = XTS_ID_NONE;
		return;
	}
	if (m->op == XTS_OP_CONNECT_RES) {
		on_connect_res(xp, s, m);
		return;
	}
	if (s->state != XS_CONNECTED) {
		if (m->op == XTS_OP_RESET &&
		    (s->state == XS_CONNECTING || s->state == XS_ZOMBIE || s->abandon)) {
			/* failed before its CONNECT_RES: the same as a failed one */
			memcpy(&e, m->payload, sizeof(e));
			if (s->state == XS_ZOMBIE) {
				xp_sock_free(xp, s);
			} else if (s->abandon) {
				s->abandon = false;
			} else {
				s->res_unreported = true;
				s->state = XS_DEAD;
				s->so_error =
				    e.err ? (int)(__s32)le32toh((__u32)e.err) : ECONNRESET;
			}
		} else if (m->op != XTS_OP_CLOSED) {
			xp->c.stale++; /* late frames of a connection that ended */
		}
		return;
	}
	if (m->src_id != s->peer_id && m->src_id != XTS_ID_NONE) {
		xp->c.stale++;
		return;
	}
	s->snd_credit += m->credit;
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
		conn_lost(xp, s, e.err > 0 && e.err < 4096 ? e.err : ECONNRESET);
		break;
	case XTS_OP_SOCKOPT_RES:
		on_sockopt_res(xp, m);
		break;
	default: /* CREDIT: hdr.credit only; CLOSED: nothing to do */
		break;
	}
}

/* ---- queue session ---- */

static void hello_send(struct xport *xp)
{
	struct xts_hello h;

	memset(&h, 0, sizeof(h));
	/* A fresh nonce per HELLO: each HELLO starts a new session on the
	 * shard, so only the answer to the last one names the live epoch. */
	xp->nonce = rand32();
	h.min_version = htole16(XTS_PROTO_VERSION);
	h.max_version = htole16(XTS_PROTO_VERSION);
	h.window = htole32(xts_link__window(xp->link));
	h.max_frame = htole32(xts_link__max_frame(xp->link));
	h.nonce = htole32(xp->nonce);
	h.caps = htole64(XTS_CAP_IPV6);
	xts_link__send(xp->link, XTS_OP_HELLO, 0, XTS_ID_NONE, XTS_ID_NONE, 0, &h, sizeof(h));
	xts_link__flush(xp->link, false);
	xp->hello_next_ns = xp_now_ns() + (uint64_t)xp->hello_ivl_ms * 1000000ull;
	xp->hello_ivl_ms *= 2;
	if (xp->hello_ivl_ms > HELLO_IVL_MAX_MS)
		xp->hello_ivl_ms = HELLO_IVL_MAX_MS;
}

static void hello_start(struct xport *xp)
{
	xp->up = false;
	xp->hello_failed = false;
	xp->hello_refused = false;
	xp->hello_ivl_ms = HELLO_IVL_MIN_MS;
	xp->hello_deadline_ns = xp_now_ns() + (uint64_t)xp->hello_ms * 1000000ull;
	hello_send(xp);
}

static void hello_tick(struct xport *xp)
{
	uint64_t now = xp_now_ns();
	uint32_t i;

	if (!xp->hello_failed && now >= xp->hello_deadline_ns) {
		xp->hello_failed = true;
		xp->qerr = ETIMEDOUT;
		/* Connects queued for the session that did not come: new ones
		 * get ENETDOWN at once (xp_session_err), so do these. */
		for (i = 0; i < xp->hiwater; i++) {
			struct xsock *s = &xp->socks[i];

			if (s->state == XS_CONNECTING && (s->pend & PS_CONNECT)) {
				s->pend = 0;
				s->state = XS_DEAD;
				s->so_error = ENETDOWN;
				s->res_unreported = true;
			}
		}
	}
	/* keeps trying (at most once a second): a restarted shard comes back */
	if (now >= xp->hello_next_ns)
		hello_send(xp);
}

static void on_hello_ack(struct xport *xp, const struct xts_msg *m)
{
	struct xts_hello_ack h = {0};
	int err;

	if (xp->up)
		return; /* an answer to an older HELLO */
	/* version 1's layout is the first 32 bytes of version 2's */
	memcpy(&h, m->payload, m->len < sizeof(h) ? m->len : sizeof(h));
	if (le32toh(h.nonce) != xp->nonce)
		return;
	/* a refusal: err (EBUSY: the queue's session is live), or another
	 * version, said in version 1's layout */
	err = (int)le32toh((__u32)h.err);
	if (m->version != XTS_PROTO_VERSION || err || !m->epoch ||
	    le16toh(h.min_version) > XTS_PROTO_VERSION ||
	    le16toh(h.max_version) < XTS_PROTO_VERSION) {
		xp->hello_refused = true;
		xp->hello_err = err > 0 && err < 4096 ? err : EPROTONOSUPPORT;
		return;
	}
	xts_link__session(xp->link, m->epoch, le32toh(h.window), le32toh(h.max_frame), m->src_mac);
	xts_link__isn(xp->link, le32toh(h.host_isn), le32toh(h.dpu_isn));
	xp->up = true;
	xp->hello_failed = false;
	xp->last_rx_ns = xp_now_ns();
	xp->ping_sent_ns = 0;
	xp->live_ack = 0;
	xp->max_conns = le32toh(h.max_conns);
	xp->draining = false; /* a draining shard says so again at once */
	xp->c.sessions++;
}

/* The session is gone (QRESET from the shard, or a sequence gap here):
 * every connection of the queue is reset; start a new session. */
static void session_lost(struct xport *xp, int err, bool send_qreset)
{
	uint32_t i;

	if (send_qreset) {
		/* in the dying session's epoch, so the shard acts on it */
		struct xts_err e = {.err = (__s32)htole32((__u32)err)};

		xts_link__send(xp->link, XTS_OP_QRESET, 0, XTS_ID_NONE, XTS_ID_NONE, 0, &e,
			       sizeof(e));
	}
	for (i = 0; i < xp->hiwater; i++) {
		struct xsock *s = &xp->socks[i];

		s->on_pend = s->on_lazy = false;
		s->pend_next = s->lazy_next = 0;
		s->pend = 0;
		switch (s->state) {
		case XS_ZOMBIE:
			xp_sock_free(xp, s);
			break;
		case XS_CONNECTING:
			s->res_unreported = true;
			/* fallthrough */
		case XS_CONNECTED:
			conn_lost(xp, s, err);
			break;
		case XS_LISTEN_WAIT:
		case XS_LISTEN:
			xp_lsn_lost(xp, s, err); /* the shard closed it with the session */
			break;
		default:
			break;
		}
		s->abandon = false;
	}
	xp->pend_head = xp->pend_tail = xp->lazy_head = xp->lazy_tail = 0;
	xp->ctl_head = xp->ctl_n = 0;
	xp->qerr = err;
	xp->c.qresets++;
	xp->session_gen++;
	xts_link__flush(xp->link, false);
	/* epoch 0: frames of the old session are dropped from now on */
	xts_link__session(xp->link, 0, xts_link__window(xp->link), 0, bcast_mac);
	hello_start(xp);
}

static void dispatch(struct xport *xp, const struct xts_msg *m)
{
	switch (m->op) {
	case XTS_OP_HELLO_ACK:
		on_hello_ack(xp, m);
		return;
	case XTS_OP_QRESET:
		/* the link passes session ops of any epoch: only ours counts,
		 * and epoch 0, which a shard sends (to the broadcast MAC)
		 * when it starts: the queue's shard restarted, our session
		 * died with the old one.  Fail its sockets now rather than
		 * at the liveness probe. */
		if (xp->up && (m->epoch == xts_link__epoch(xp->link) || !m->epoch)) {
			if (!m->epoch)
				xp->c.restarts++;
			session_lost(xp, ECONNRESET, false);
		}
		return;
	case XTS_OP_DRAINING:
		/* in-session (the link checked the epoch): ESHUTDOWN on, 0 off */
		if (xp->up) {
			struct xts_err e;

			memcpy(&e, m->payload, sizeof(e));
			xp->draining = e.err != 0;
		}
		return;
	case XTS_OP_PING:
		/* NOSEQ, one per PING: the peer's fill-ring reserve takes it */
		xts_link__send(xp->link, XTS_OP_PONG, 0, XTS_ID_NONE, XTS_ID_NONE, 0, m->payload,
			       m->len);
		return;
	case XTS_OP_CONNECT_RES:
	case XTS_OP_DATA:
	case XTS_OP_CREDIT:
	case XTS_OP_SHUTDOWN:
	case XTS_OP_RESET:
	case XTS_OP_CLOSED:
	case XTS_OP_SOCKOPT_RES:
		if (xp->up)
			on_conn_msg(xp, m);
		return;
	case XTS_OP_LISTEN_RES:
	case XTS_OP_NEW_CONN:
		if (xp->up)
			xp_lsn_on_msg(xp, m); /* listen.c */
		return;
	case XTS_OP_PONG: /* any frame proves the shard alive (see liveness) */
	case XTS_OP_HELLO:
		return;
	default: /* listeners, ULPs, DRAINING: not in this version */
		xp->c.stale++;
		return;
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
	__u32 txs, rxs, pa;

	if (!xp->up)
		return;
	xts_link__seq_state(xp->link, &txs, &rxs, &pa);
	if (rx || pa != xp->live_ack || !xp->nused) {
		xp->live_ack = pa;
		xp->last_rx_ns = now;
		xp->ping_sent_ns = 0;
		return;
	}
	if (xp->ping_sent_ns) {
		if (now > xp->ping_sent_ns && now - xp->ping_sent_ns >= PROBE_DEAD_MS * 1000000ull)
			session_lost(xp, ECONNRESET, true);
		return;
	}
	/* (last_rx_ns may be later than @now: a session started in this run) */
	if (now > xp->last_rx_ns && now - xp->last_rx_ns >= PROBE_IDLE_MS * 1000000ull) {
		struct xts_ping ping = {.cookie = htole64(now)};

		if (!xts_link__send(xp->link, XTS_OP_PING, 0, XTS_ID_NONE, XTS_ID_NONE, 0, &ping,
				    sizeof(ping)))
			xp->ping_sent_ns = now;
	}
}

int xp_run(struct xport *xp)
{
	struct xts_msg msgs[XP_RX_BATCH];
	uint64_t t0 = xp_now_ns(); /* before rx: see liveness() */
	int work = 0, round, n, i;

	for (round = 0; round < RX_ROUNDS; round++) {
		uint32_t gen = xp->session_gen;

		n = xts_link__rx(xp->link, msgs, XP_RX_BATCH);
		/* a QRESET ends the batch: the rest belongs to a dead session */
		for (i = 0; i < n && gen == xp->session_gen; i++)
			dispatch(xp, &msgs[i]);
		xts_link__rx_done(xp->link);
		work += n;
		if (xts_link__broken(xp->link)) {
			session_lost(xp, ECONNRESET, true);
			break;
		}
		if (n < XP_RX_BATCH)
			break;
	}
	liveness(xp, work, t0);
	if (!xp->up)
		hello_tick(xp);
	work += pend_run(xp);
	xp_doorbell(xp);
	return work;
}

void xp_doorbell(struct xport *xp)
{
	xts_link__flush_batch(xp->link, false, xp->batch ? XP_KICK_BATCH : 1);
}

void xp_presleep(struct xport *xp)
{
	lazy_run(xp);
	/* No pure ACK per sleep: every frame carries our ack, and one goes
	 * out at half the window consumed, so the DPU always has at least
	 * half its window while we sleep.  A forced one cost a frame, a
	 * kick and a DPU wakeup per request at low rates. */
	xts_link__flush(xp->link, false);
}

/* ---- the queue ---- */

XPORT_API int xport_open(struct xport **out, const char *ifname, unsigned queue,
			 const struct xport_opts *opts)
{
	struct xport_opts o = {0};
	struct xts_link_opts lo;
	struct xport *xp;
	uint64_t dl;
	uint32_t i;
	int err;

	if (!out || !ifname)
		return -EINVAL;
	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.rcvbuf)
		o.rcvbuf = XP_DEF_RCVBUF;
	if (o.hello_timeout_ms <= 0)
		o.hello_timeout_ms = XP_DEF_HELLO_MS;
	if (!o.max_sockets)
		o.max_sockets = XP_DEF_SOCKETS;
	if (o.rcvbuf > XP_MAX_RCVBUF || o.max_sockets > XTS_ID_SLOT_MASK + 1 ||
	    (o.flags & ~XPORT_OPT_BATCH))
		return -EINVAL;

	xp = calloc(1, sizeof(*xp));
	if (!xp)
		return -ENOMEM;
	xp->rcvbuf = o.rcvbuf;
	xp->hello_ms = o.hello_timeout_ms;
	xp->batch = !!(o.flags & XPORT_OPT_BATCH);
	xp->nsocks = o.max_sockets;
	/* calloc of a large table maps zero pages: untouched slots cost none */
	xp->socks = calloc(xp->nsocks, sizeof(*xp->socks));
	xp->ctl = calloc(xp->nsocks, sizeof(*xp->ctl));
	if (!xp->socks || !xp->ctl) {
		err = -ENOMEM;
		goto out_free;
	}
	/* LIFO free list, lowest slot on top: a small working set stays
	 * compact in memory and hiwater (the scan bound) stays low. */
	for (i = xp->nsocks; i > 0; i--) {
		xp->socks[i - 1].free_next = xp->free_head;
		xp->free_head = i;
	}

	memset(&lo, 0, sizeof(lo));
	lo.sz = sizeof(lo);
	lo.frames = o.frames; /* 0: the link's XTS_LINK_DEF_* */
	lo.ring_size = o.ring_size;
	lo.window = o.window;
	lo.xsks_map_fd = -1;
	lo.attach = true;
	/* The kernel releases an AF_XDP socket's hold on its queue from a
	 * work item: right after the queue's previous owner exited, bind()
	 * says EBUSY for a moment.  Retry within the attach timeout. */
	dl = xp_deadline_ms(xp->hello_ms);
	while ((err = xts_link__create(&xp->link, ifname, queue, &lo)) == -EBUSY &&
	       xp_now_ns() < dl)
		nanosleep(&(struct timespec){.tv_nsec = BUSY_RETRY_MS * 1000000L}, NULL);
	if (err)
		goto out_free;

	hello_start(xp);
	for (;;) {
		xp_run(xp);
		if (xp->up)
			break;
		if (xp->hello_refused) {
			err = -xp->hello_err;
			goto out_link;
		}
		if (xp->hello_failed) {
			err = -ETIMEDOUT;
			goto out_link;
		}
		xp_wait(xp, xp->hello_deadline_ns);
	}
	xp->qerr = 0;
	*out = xp;
	return 0;

out_link:
	xts_link__destroy(xp->link);
out_free:
	free(xp->ctl);
	free(xp->socks);
	free(xp);
	return err;
}

static bool zombies(const struct xport *xp)
{
	uint32_t i;

	for (i = 0; i < xp->hiwater; i++)
		if (xp->socks[i].state == XS_ZOMBIE)
			return true;
	return false;
}

XPORT_API void xport_close_queue(struct xport *xp)
{
	uint64_t dl;
	uint32_t i;
	int tries;

	if (!xp)
		return;
	xp_run(xp);
	if (xp->up) {
		/* RST every connection.  One still being made has no DPU id
		 * yet: it becomes a zombie and is reset when its CONNECT_RES
		 * comes within the wait below; if none comes, the DPU frees it
		 * at its dead-host timeout.  No QRESET: that would also cut
		 * the graceful CLOSEs still flushing on the DPU. */
		for (i = 0; i < xp->hiwater; i++) {
			struct xsock *s = &xp->socks[i];

			if (s->state == XS_CONNECTED)
				xp_sock_abort(xp, s, ECONNRESET);
			else if (s->state == XS_LISTEN) /* the shard closes it */
				xp_ctl_push(xp, XTS_OP_CLOSE, 0, s->peer_id, s->id, 0);
			else if ((s->state == XS_CONNECTING && !(s->pend & PS_CONNECT)) ||
				 s->abandon)
				s->state = XS_ZOMBIE;
		}
		dl = xp_deadline_ms(CLOSE_QUEUE_MS);
		while (xp->up && (xp->ctl_n || zombies(xp))) {
			if (xp_wait(xp, dl))
				break;
			xp_run(xp);
		}
		/* The shard answers CLOSE/RESET with CLOSED frames that need our
		 * acks to flow: take them until the queue has been quiet for a
		 * moment, or the shard holds those connections until its
		 * dead-host timeout. */
		while (xp->up) {
			struct pollfd p = {.fd = xts_link__fd(xp->link), .events = POLLIN};

			xp_presleep(xp);
			if (xp_now_ns() >= dl || poll(&p, 1, QUIET_MS) <= 0)
				break;
			xp_run(xp);
		}
	}
	/* Copy mode transmits in sendto(): push until nothing is left, so
	 * the last frames are on the wire before the socket goes. */
	for (tries = 0; tries < 8 && xts_link__flush(xp->link, false) > 0; tries++)
		;
	for (i = 0; i < xp->hiwater; i++) {
		free(xp->socks[i].rbuf);
		xp_lsn_free(&xp->socks[i]);
	}
	xts_link__destroy(xp->link);
	free(xp->ctl);
	free(xp->socks);
	free(xp);
}

XPORT_API int xport_fd(const struct xport *xp)
{
	if (!xp) {
		errno = EINVAL;
		return -1;
	}
	return xts_link__fd(xp->link);
}

XPORT_API int xport_flush(struct xport *xp)
{
	int err;

	if (!xp) {
		errno = EINVAL;
		return -1;
	}
	err = xts_link__flush(xp->link, false);
	if (err < 0) {
		errno = -err;
		return -1;
	}
	return 0;
}

XPORT_API int xport_process(struct xport *xp)
{
	int work;

	if (!xp) {
		errno = EINVAL;
		return -1;
	}
	work = xp_run(xp);
	/* called before the app sleeps too: return the credit owed */
	lazy_run(xp);
	xts_link__flush(xp->link, false);
	if (xp->qerr) {
		errno = xp->qerr;
		xp->qerr = 0;
		return -1;
	}
	return work;
}
