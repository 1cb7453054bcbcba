// SPDX-License-Identifier: BSD-2-Clause
/*
 * conn.c - a shard's connection table and what the host asks of an open
 * connection (data, shutdown, close, reset, socket options); how one
 * begins (a CONNECT, an accept) is conn_open.c.
 *
 * A connection is a slot (O(1) by id, generation-checked) holding a
 * transport (conn_io.c: a non-blocking kernel socket in the shard's epoll
 * set, edge-triggered).  Three slot lists drive the work: `ready` (the
 * transport has bytes for the host and the host has granted credit), `ctl`
 * (control frames owed to the host; conn_out.c) and `dl` (deadlines:
 * connects in progress, closed connections still delivering).  Control
 * frames are state bits, not queued messages, so they are never dropped
 * when the queue window is full: they go out when it opens.
 */
#include <errno.h>
#include <endian.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shard_int.h"
#include "ulp.h"

__u64 shard_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

int conn_table_init(struct shard *s)
{
	__u32 n = s->o.max_conns + 1, i;

	/* Reserve the whole table; pages are touched only as slots are used,
	 * so an idle table costs address space, not memory. */
	s->conns = mmap(NULL, (size_t)n * sizeof(*s->conns), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->conns == MAP_FAILED) {
		s->conns = NULL;
		return -ENOMEM;
	}
	s->free_slots = calloc(n, sizeof(*s->free_slots));
	s->gens = calloc(n, sizeof(*s->gens));
	if (!s->free_slots || !s->gens)
		return -ENOMEM;
	/* lowest slots on top of the stack: a small table stays compact */
	for (i = n - 1; i >= 1; i--)
		s->free_slots[s->nfree++] = i;
	return 0;
}

void conn_table_free(struct shard *s)
{
	if (s->conns) {
		conn_reset_all(s);
		munmap(s->conns, (size_t)(s->o.max_conns + 1) * sizeof(*s->conns));
	}
	free(s->free_slots);
	free(s->gens);
}

static __u32 slot_of(const struct shard *s, const struct conn *c)
{
	return (__u32)(c - s->conns);
}

struct conn *conn_lookup(struct shard *s, __u32 id)
{
	__u32 slot = xts_id_slot(id);
	struct conn *c;

	if (!slot || slot > s->o.max_conns)
		return NULL;
	c = &s->conns[slot];
	/* an orphan belongs to a host that is gone: nobody may address it */
	return c->id == id && c->state != CS_FREE && c->sess ? c : NULL;
}

static void conn_ev(struct shard *s, struct shard_ev *h, __u32 events);

struct conn *conn_alloc(struct shard *s)
{
	struct conn *c;
	__u32 slot;

	if (!s->nfree)
		return NULL;
	slot = s->free_slots[--s->nfree];
	if (++s->gens[slot] > XTS_ID_GEN_MAX)
		s->gens[slot] = 1;
	c = &s->conns[slot];
	memset(c, 0, sizeof(*c));
	c->ev.fn = conn_ev;
	c->io = &conn_io_tcp;
	c->sess = &s->sess;
	c->id = xts_id_make(slot, s->gens[slot]);
	c->fd = -1;
	s->nconns++;
	s->st.conns_active = s->nconns;
	return c;
}

/* The slot goes back to the free stack only once no list links it. */
void conn_slot_maybe_free(struct shard *s, struct conn *c)
{
	if (c->state == CS_FREE && !xts_fifo_linked(&c->ready_node) &&
	    !xts_fifo_linked(&c->ctl_node) && c->id) {
		ulp_free(s, c);
		c->id = 0;
		s->free_slots[s->nfree++] = slot_of(s, c);
	}
}

/* Onto the deadline list (connect timeout or linger): doubly linked, so
 * that a connection leaves it at once when it connects or closes and its
 * slot can be reused; conn_timer scans it only when the earliest deadline
 * comes (rarely: connections in it are few and short-lived). */
void conn_dl_add(struct shard *s, struct conn *c, __u64 due)
{
	if (!c->in_dl) {
		c->dl_prev = 0;
		c->dl_next = s->dl_head;
		if (s->dl_head)
			s->conns[s->dl_head].dl_prev = slot_of(s, c);
		c->in_dl = true;
		s->dl_head = slot_of(s, c);
	}
	shard_timer_at(s, ST_CONNS, due);
}

static void dl_del(struct shard *s, struct conn *c)
{
	if (!c->in_dl)
		return;
	if (c->dl_prev)
		s->conns[c->dl_prev].dl_next = c->dl_next;
	else
		s->dl_head = c->dl_next;
	if (c->dl_next)
		s->conns[c->dl_next].dl_prev = c->dl_prev;
	c->in_dl = false;
}

void conn_close_fd(struct shard *s, struct conn *c, bool abort)
{
	dl_del(s, c); /* no socket: nothing left to time */
	if (c->fd < 0)
		return;
	c->io->close(c, abort); /* also leaves the epoll set */
	c->fd = -1;
	c->io_held = false;
	if (c->buf) {
		s->st.buf_bytes -= c->buf_len;
		free(c->buf);
		c->buf = NULL;
		c->buf_len = c->buf_off = 0;
	}
}

void conn_release(struct shard *s, struct conn *c)
{
	conn_close_fd(s, c, false);
	conn_set_state(s, c, CS_FREE);
	c->pend = 0;
	s->nconns--;
	s->st.conns_active = s->nconns;
	s->st.conns_closed++;
	conn_slot_maybe_free(s, c);
}

void conn_ctl_add(struct shard *s, struct conn *c, __u8 pend)
{
	if (c->res_hold) {
		/* credit rides in the held CONNECT_RES (send_conn_res);
		 * anything else owed: the result goes now, first */
		if (pend == PEND_CREDIT)
			return;
		c->res_hold = false;
		dl_del(s, c);
		pend |= PEND_CONN_RES;
	}
	c->pend |= pend;
	xts_fifo_push(&s->owed, s->conns, ctl_node, slot_of(s, c));
}

void conn_ready_add(struct shard *s, struct conn *c)
{
	if (conn_ready_eligible(c))
		xts_fifo_push(&s->ready, s->conns, ready_node, slot_of(s, c));
}

/* The connection failed: tell the host (RESET, or CONNECT_RES while the
 * host still waits for one), then free. */
void conn_fail(struct shard *s, struct conn *c, int err)
{
	conn_close_fd(s, c, true);
	c->err = err;
	if (c->state == CS_ACCEPTED && !(c->pend & PEND_NEW_CONN)) {
		/* its handshake failed: the host never heard of it */
		if (err == ENOBUFS)
			CONN_LST_ADD(s, c, drop_limit, 1); /* tls limits */
		else if (ulp_has_tls(c))
			CONN_LST_ADD(s, c, drop_handshake, 1);
		lsn_unpend(s, c->lsn_id);
		c->pend = 0;
		conn_release(s, c);
		return;
	}
	if (c->state == CS_CONNECTING || (c->pend & PEND_CONN_RES) || c->res_hold) {
		c->res_hold = false;
		conn_set_state(s, c, CS_ZOMBIE);
		c->pend = PEND_CONN_RES;
		s->st.conns_failed++;
	} else if (c->state == CS_CLOSING) {
		conn_set_state(s, c, CS_ZOMBIE);
		c->pend = PEND_CLOSED; /* the host freed its id already */
	} else {
		conn_set_state(s, c, CS_ZOMBIE);
		c->pend = 0;
		conn_ctl_add(s, c, PEND_RESET);
		return;
	}
	conn_ctl_add(s, c, 0);
}

void conn_reset_all(struct shard *s)
{
	__u32 slot;

	xts_fifo_clear(&s->ready, s->conns, ready_node);
	xts_fifo_clear(&s->owed, s->conns, ctl_node);
	for (slot = 1; slot <= s->o.max_conns; slot++) {
		struct conn *c = &s->conns[slot];

		if (!c->id)
			continue;
		if (c->state == CS_ACCEPTED)
			CONN_LST_ADD(s, c, drop_host_gone, 1);
		if (c->state != CS_FREE) {
			conn_close_fd(s, c, true); /* RST to the peer */
			conn_set_state(s, c, CS_FREE);
		}
		c->pend = 0;
		conn_slot_maybe_free(s, c);
	}
	s->dl_head = 0;
	s->nconns = 0;
	s->st.conns_active = 0;
	s->st.buf_bytes = 0;
}

void conn_end_session(struct shard *s, const struct shard_sess *ss, bool graceful)
{
	__u32 slot;

	for (slot = 1; slot <= s->o.max_conns; slot++) {
		struct conn *c = &s->conns[slot];

		if (!c->id || c->state == CS_FREE || c->sess != ss)
			continue;
		if (graceful && c->state == CS_CLOSING) {
			c->sess = NULL; /* an orphan: it owes nobody a frame */
			c->pend = 0;
			continue;
		}
		/* RST to the peer; the lists drop the slot when they pass it */
		if (c->state == CS_ACCEPTED)
			CONN_LST_ADD(s, c, drop_host_gone, 1);
		conn_close_fd(s, c, true);
		conn_set_state(s, c, CS_FREE);
		c->pend = 0;
		s->nconns--;
		conn_slot_maybe_free(s, c);
	}
	s->st.conns_active = s->nconns;
}

int conn_apply_int_opt(int fd, int level, int name, int val)
{
	if (level == SOL_SOCKET && name == SO_LINGER) {
		/* A lingering close(2) blocks the caller even on a non-blocking
		 * socket: that would stall the whole shard.  Only the abortive
		 * form (l_linger 0, RST on close) is applied; a positive
		 * linger time keeps the ordinary graceful close, which
		 * delivers the data all the same. */
		struct linger lg = {.l_onoff = val == 0, .l_linger = 0};

		return setsockopt(fd, level, name, &lg, sizeof(lg)) ? errno : 0;
	}
	return setsockopt(fd, level, name, &val, sizeof(val)) ? errno : 0;
}

bool conn_opt_allowed(int level, int name, bool set)
{
	if (level == SOL_SOCKET)
		return name == SO_KEEPALIVE || name == SO_RCVBUF || name == SO_SNDBUF ||
		       name == SO_LINGER;
	if (level == IPPROTO_TCP)
		return name == TCP_NODELAY || name == TCP_KEEPIDLE || name == TCP_KEEPINTVL ||
		       name == TCP_KEEPCNT || name == TCP_MAXSEG || name == TCP_CORK ||
		       (!set && name == TCP_INFO);
	return false;
}

static void conn_data(struct shard *s, struct conn *c, const struct xts_msg *m)
{
	struct iovec iov = {.iov_base = (void *)m->payload, .iov_len = m->len};

	if (c->state != CS_OPEN || c->wr_shut || m->len > c->rx_allowed) {
		/* more than the credit we gave, or data after SHUT_WR */
		s->st.proto_errs++;
		conn_fail(s, c, EPROTO);
		return;
	}
	c->rx_allowed -= m->len;
	if (strp_conn_tx(s, c, m, 1))
		return; /* failed: framing */
	conn_to_net(s, c, &iov, 1, m->flags & XTS_F_MORE);
}

/*
 * A run of DATA frames for one connection, consecutive in an rx batch (a
 * stream of small sends, or a bulk transfer): one sendmsg(2) for them all
 * instead of one send(2) each.  Anything unusual (stale id, closing,
 * beyond credit) goes frame by frame through conn_on_msg, which knows
 * every rule.
 */
void conn_on_data_run(struct shard *s, struct conn *c, const struct xts_msg *m, unsigned n)
{
	struct iovec iov[SHARD_DATA_RUN_MAX];
	size_t total = 0;
	__u32 credit = 0;
	unsigned i;

	if (n > SHARD_DATA_RUN_MAX || c->state != CS_OPEN || c->wr_shut ||
	    (c->host_id != m[0].src_id && m[0].src_id != XTS_ID_NONE))
		goto one_by_one;
	for (i = 0; i < n; i++) {
		total += m[i].len;
		credit += m[i].credit;
		iov[i].iov_base = (void *)m[i].payload;
		iov[i].iov_len = m[i].len;
	}
	if (total > c->rx_allowed)
		goto one_by_one;
	if (credit) {
		c->tx_credit += credit;
		conn_ready_add(s, c);
	}
	c->rx_allowed -= (__u32)total;
	if (strp_conn_tx(s, c, m, n))
		return; /* failed: framing */
	conn_to_net(s, c, iov, n, m[n - 1].flags & XTS_F_MORE);
	return;
one_by_one:
	for (i = 0; i < n && c->state != CS_FREE; i++)
		conn_on_msg(s, c, &m[i]);
}

static void conn_sockopt(struct shard *s, struct conn *c, const struct xts_msg *m)
{
	struct xts_sockopt so;
	int val = 0;

	memcpy(&so, m->payload, sizeof(so));
	c->so_req = le32toh(so.req);
	c->so_dir = so.dir;
	c->so_level = (__s32)le32toh((__u32)so.level);
	c->so_name = (__s32)le32toh((__u32)so.name);
	c->so_err = 0;
	if (!conn_opt_allowed(c->so_level, c->so_name, so.dir == XTS_SOCKOPT_SET))
		c->so_err = ENOPROTOOPT;
	else if (c->fd < 0)
		c->so_err = ENOTCONN;
	else if (so.dir == XTS_SOCKOPT_SET) {
		if (le32toh(so.vlen) < sizeof(int)) {
			c->so_err = EINVAL;
		} else {
			memcpy(&val, (const __u8 *)m->payload + sizeof(so), sizeof(val));
			c->so_err = conn_apply_int_opt(c->fd, c->so_level, c->so_name,
						       (int)le32toh((__u32)val));
		}
	}
	/* a GET is read when the answer goes out: the freshest value */
	conn_ctl_add(s, c, PEND_SOCKOPT);
}

static __u64 linger_ns(const struct shard *s)
{
	return (__u64)s->cfg->linger_ms * 1000000ull;
}

/*
 * CLOSE from the host.  Graceful: what we still buffer goes out first, then
 * FIN; but a peer that never reads would keep the slot and the buffer for
 * ever, so the bytes get timeouts.linger_ms to leave (the closing deadline,
 * as Linux gives orphaned sockets), then the connection is aborted (RST)
 * and counted.  Abortive (XTS_F_ABORT, or not yet open): RST now.
 */
static void conn_on_close(struct shard *s, struct conn *c, const struct xts_msg *m)
{
	if ((m->flags & XTS_F_ABORT) || c->state != CS_OPEN) {
		conn_close_fd(s, c, true);
		conn_set_state(s, c, CS_ZOMBIE);
		c->pend &= PEND_CLOSED;
		conn_ctl_add(s, c, PEND_CLOSED);
		return;
	}
	conn_set_state(s, c, CS_CLOSING);
	c->readable = false;
	if (!c->buf_len) {
		conn_flush_buf(s, c); /* FIN now */
		return;
	}
	if (!s->cfg->linger_ms) {
		s->st.linger_aborts++;
		conn_fail(s, c, ETIMEDOUT);
		return;
	}
	c->deadline_ns = s->now_ns;
	conn_dl_add(s, c, s->now_ns + linger_ns(s));
}

void conn_on_msg(struct shard *s, struct conn *c, const struct xts_msg *m)
{
	if (c->host_id != m->src_id && m->src_id != XTS_ID_NONE) {
		s->st.stale_ids++;
		return;
	}
	if (m->credit) {
		c->tx_credit += m->credit;
		conn_ready_add(s, c);
	}
	if (c->state == CS_ZOMBIE && m->op != XTS_OP_RESET)
		return; /* the kernel socket is gone; our RESET is on its way */
	switch (m->op) {
	case XTS_OP_DATA:
		conn_data(s, c, m);
		break;
	case XTS_OP_CREDIT:
		break;
	case XTS_OP_SHUTDOWN:
		c->wr_shut = true;
		/* with bytes still buffered, conn_flush_buf shuts down once
		 * they are out (a FIN before them would lose them) */
		if (!c->buf_len && c->fd >= 0)
			c->io->shutdown(c);
		break;
	case XTS_OP_CLOSE:
		conn_on_close(s, c, m);
		break;
	case XTS_OP_RESET:
		conn_close_fd(s, c, true);
		if (c->state == CS_CONNECTING)
			s->st.conns_failed++;
		conn_set_state(s, c, CS_ZOMBIE);
		conn_release(s, c);
		break;
	case XTS_OP_SOCKOPT:
		conn_sockopt(s, c, m);
		break;
	default:
		s->st.proto_errs++;
		break;
	}
}

/* The handshake deadline (limits.tls_handshake_ms): a peer that stalls a
 * handshake holds a slot that long at most. */
void conn_hs_deadline(struct shard *s, struct conn *c)
{
	__u32 ms = s->cfg->tls_handshake_ms ? s->cfg->tls_handshake_ms : SHARD_TLS_HS_MS;

	c->deadline_ns = s->now_ns + (__u64)ms * 1000000ull;
	conn_dl_add(s, c, c->deadline_ns);
}

/*
 * A step of a connection's TLS handshake.  Done: an originated connection
 * opens (CONNECT_RES with what TLS became), an accepted one is offered to
 * the host (NEW_CONN): the host never sees a connection whose handshake
 * failed.  Bytes that came with the last flight are read at once.
 */
void conn_hs_step(struct shard *s, struct conn *c)
{
	int err = ulp_handshake(s, c);

	if (err == -EAGAIN)
		return;
	if (err) {
		conn_fail(s, c, -err);
		return;
	}
	dl_del(s, c);
	c->readable = true;
	if (c->state == CS_CONNECTING) {
		conn_set_state(s, c, CS_OPEN);
		conn_ctl_add(s, c, PEND_CONN_RES);
	} else {
		conn_ctl_add(s, c, PEND_NEW_CONN);
	}
}

static void conn_connected(struct shard *s, struct conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l))
		err = errno;
	if (err) {
		conn_fail(s, c, err);
		return;
	}
	dl_del(s, c);
	if (ulp_has_tls(c)) {
		c->ulp->tcp_up = true;
		conn_hs_deadline(s, c);
		conn_hs_step(s, c); /* the ClientHello */
		return;
	}
	conn_set_state(s, c, CS_OPEN);
	/* First bytes a CONNECT carried (c->buf) leave in conn_ev's flush
	 * right after this.  The host waits for the answer to them, not for
	 * this result: the CONNECT_RES goes with the answer's first DATA
	 * (conn_read), or alone after SHARD_RES_HOLD_NS, or before anything
	 * else owed: one wakeup of the host instead of two. */
	if (c->buf_len) {
		c->res_hold = true;
		c->deadline_ns =
		    s->now_ns + (s->o.res_hold_us ? s->o.res_hold_us * 1000ull : SHARD_RES_HOLD_NS);
		conn_dl_add(s, c, c->deadline_ns);
		if (s->lazy_until_ns < c->deadline_ns)
			s->lazy_until_ns = c->deadline_ns;
		return;
	}
	conn_ctl_add(s, c, PEND_CONN_RES);
}

/* The connection's epoll handler: what its transport says may progress. */
static void conn_ev(struct shard *s, struct shard_ev *h, __u32 events)
{
	struct conn *c = (struct conn *)((char *)h - offsetof(struct conn, ev));
	unsigned what;

	if (c->fd < 0)
		return; /* closed after epoll_wait returned this event */
	what = c->io->events(c, events);
	/* No edge follows a FIN: keep it whatever the state, or one that came
	 * while the connection waited for the host's NEW_CONN_ACK (a program
	 * that accepts one at a time) is never read, and the host never
	 * hears the end of the stream */
	if (what & CIO_HUP)
		c->rdhup = true;
	if (ulp_has_tls(c) && !c->ulp->tls.done && (c->state == CS_ACCEPTED || c->ulp->tcp_up)) {
		conn_hs_step(s, c);
		return; /* done: the host is told first, then bytes flow */
	}
	if (c->state == CS_CONNECTING) {
		if (what & CIO_WR)
			conn_connected(s, c);
		if (c->state != CS_OPEN)
			return;
		/* fall through: data may be there already */
	}
	if (c->state != CS_OPEN && c->state != CS_CLOSING)
		return;
	if (what & CIO_WR && (c->buf_len || c->io_held))
		conn_flush_buf(s, c);
	if (c->state == CS_OPEN && what & CIO_RD) {
		c->readable = true;
		conn_ready_add(s, c);
		if (!c->tx_credit)
			s->st.credit_stalls++;
	}
}

/* When a connection on the deadline list is due. */
static __u64 conn_due(const struct shard *s, const struct conn *c)
{
	if (c->state == CS_CONNECTING || c->state == CS_ACCEPTED || c->res_hold)
		return c->deadline_ns;	      /* connect, TLS handshake, held result */
	return c->deadline_ns + linger_ns(s); /* CS_CLOSING: linger_ms as reloaded */
}

/* ST_CONNS: connect timeouts and the closing deadline. */
void conn_timer(struct shard *s)
{
	__u32 slot = s->dl_head;

	while (slot) {
		struct conn *c = &s->conns[slot];
		__u64 due = conn_due(s, c);

		slot = c->dl_next; /* conn_fail below takes c off the list */
		if (s->now_ns < due) {
			shard_timer_at(s, ST_CONNS, due);
			continue;
		}
		if (c->res_hold) { /* no answer yet: the result goes alone */
			conn_ctl_add(s, c, 0);
			continue;
		}
		if (c->state == CS_CLOSING) {
			s->st.linger_aborts++;
			shard_log(s, XTS_LOG_DEBUG,
				  "connection %08x: %u bytes undelivered after linger_ms, aborted",
				  c->id, c->buf_len);
		}
		if (ulp_has_tls(c) && !c->ulp->tls.done)
			ulp_hs_timeout(s, c);
		conn_fail(s, c, ETIMEDOUT);
	}
}
