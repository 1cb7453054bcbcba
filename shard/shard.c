// SPDX-License-Identifier: BSD-2-Clause
/*
 * shard.c - the shard loop and the queue session with the host.
 *
 *   for (;;) {
 *           poll_rx      frames from the host -> connections
 *           poll_tcp     kernel socket events (epoll, no wait)
 *           ctl, ready   control frames owed, then data to the host
 *           timers       connect timeouts, host liveness
 *           flush        one tx kick per round (before sleep)
 *           sleep        epoll_wait only when a round did nothing
 *   }
 */
#include <errno.h>
#include <stdarg.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "shard_int.h"

#define RX_BATCH 64
#define EV_BATCH 256
#define EV_LINK	 0xffffffffffffffffull /* epoll data of the AF_XDP fd */
#define TIMER_NS (10 * 1000000ull)

void shard_log(struct shard *s, int level, const char *fmt, ...)
{
	int max = s->cfg ? (int)s->cfg->log_level : XTS_LOG_INFO;
	char line[512];
	va_list ap;

	if (level > max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s->o.log)
		s->o.log(level, "shard %u: %s", s->o.queue, line);
	else
		fprintf(stderr, "shard %u: %s\n", s->o.queue, line);
}

static __u32 new_epoch(__u32 old)
{
	__u32 e = xts_link__random32();

	if (!e || e == old)
		e = old + 1 ? old + 1 : 1;
	return e;
}

static void session_end(struct shard *s, const char *why)
{
	if (xts_link__epoch(s->link))
		shard_log(s, XTS_LOG_INFO, "session %08x ended: %s", xts_link__epoch(s->link), why);
	lsn_close_all(s); /* before the connections: it resets its own */
	conn_reset_all(s);
	s->rej_n = 0;
	/* epoch 0: no session; sequenced frames of the old one get QRESET */
	xts_link__session(s->link, 0, 1, 0, xts_link__mac(s->link));
	s->st.session_resets++;
}

static void on_hello(struct shard *s, const struct xts_msg *m)
{
	struct xts_hello h;
	struct xts_hello_ack r;

	memcpy(&h, m->payload, sizeof(h));
	memset(&r, 0, sizeof(r));
	r.min_version = r.max_version = htole16(XTS_PROTO_VERSION);
	r.nonce = h.nonce;
	/* A window or frame size no real host has would make a session that
	 * cannot even carry its own HELLO_ACK: not a HELLO to act on. */
	if (le32toh(h.window) < 2 || le32toh(h.max_frame) < XTS_PAYLOAD_OFF + 256) {
		s->st.proto_errs++;
		return;
	}
	if (le16toh(h.min_version) > XTS_PROTO_VERSION ||
	    le16toh(h.max_version) < XTS_PROTO_VERSION) {
		/* to its sender, outside the live session: our versions,
		 * epoch 0, in version 1's layout that every host reads (it
		 * reports EPROTONOSUPPORT) */
		xts_link__send_to(s->link, m->src_mac, 0, XTS_OP_HELLO_ACK, &r,
				  sizeof(struct xts_hello));
		return;
	}
	/* A new host session ends the old one: its connections are reset. */
	if (xts_link__epoch(s->link))
		session_end(s, "host attached again");
	xts_link__session(s->link, new_epoch(xts_link__epoch(s->link)), le32toh(h.window),
			  le32toh(h.max_frame), m->src_mac);
	/* random sequence numbers: with the epoch, what a forger must guess */
	r.host_isn = htole32(xts_link__random32());
	r.dpu_isn = htole32(xts_link__random32());
	xts_link__isn(s->link, le32toh(r.dpu_isn), le32toh(r.host_isn));
	r.window = htole32(xts_link__window(s->link));
	r.max_frame = htole32(xts_link__max_frame(s->link));
	r.caps = htole64(XTS_CAP_IPV6 | XTS_CAP_LISTEN);
	r.max_conns = htole32(s->o.max_conns);
	xts_link__send(s->link, XTS_OP_HELLO_ACK, 0, 0, 0, 0, &r, sizeof(r));
	s->st.sessions++;
	s->last_rx_ns = s->now_ns;
	shard_ctl_session(s);
	shard_log(s, XTS_LOG_INFO, "session %08x started (host window %u, max frame %u)",
		  xts_link__epoch(s->link), le32toh(h.window), xts_link__max_frame(s->link));
}

static void reject(struct shard *s, __u32 host_id, int err)
{
	__u32 i;

	if (s->rej_n == sizeof(s->rej) / sizeof(s->rej[0])) {
		s->st.proto_errs++; /* host will time out this connect */
		return;
	}
	i = (s->rej_head + s->rej_n++) % (sizeof(s->rej) / sizeof(s->rej[0]));
	s->rej[i].host_id = host_id;
	s->rej[i].err = err;
	s->st.conns_failed++;
}

static int run_rejects(struct shard *s)
{
	int work = 0;

	while (s->rej_n) {
		struct xts_conn_res r;

		memset(&r, 0, sizeof(r));
		r.err = (__s32)htole32((__u32)s->rej[s->rej_head].err);
		if (xts_link__send(s->link, XTS_OP_CONNECT_RES, 0, s->rej[s->rej_head].host_id,
				   XTS_ID_NONE, 0, &r, sizeof(r)))
			break;
		s->rej_head = (s->rej_head + 1) % (sizeof(s->rej) / sizeof(s->rej[0]));
		s->rej_n--;
		work++;
	}
	return work;
}

static void dispatch(struct shard *s, const struct xts_msg *m)
{
	struct conn *c;

	if (m->op == XTS_OP_LISTEN || m->op == XTS_OP_NEW_CONN_ACK) {
		lsn_dispatch(s, m); /* listen.c */
		return;
	}
	switch (m->op) {
	case XTS_OP_HELLO:
		on_hello(s, m);
		return;
	case XTS_OP_QRESET:
		if (m->epoch && m->epoch == xts_link__epoch(s->link))
			session_end(s, "host reset the queue");
		return;
	case XTS_OP_PING:
		xts_link__send(s->link, XTS_OP_PONG, 0, 0, 0, 0, m->payload, m->len);
		return;
	case XTS_OP_PONG:
		s->ping_outstanding = 0;
		return;
	case XTS_OP_CONNECT: {
		int refuse = shard_admit(s, m); /* drain, limits, ACL */

		if (refuse)
			reject(s, m->src_id, refuse);
		else if (conn_on_connect(s, m) == -ENOBUFS)
			reject(s, m->src_id, ENOBUFS);
		return;
	}
	case XTS_OP_HELLO_ACK: /* DPU-to-host ops coming the wrong way */
	case XTS_OP_CONNECT_RES:
	case XTS_OP_CLOSED:
	case XTS_OP_SOCKOPT_RES:
	case XTS_OP_NEW_CONN:
	case XTS_OP_LISTEN_RES:
	case XTS_OP_DRAINING:
	case XTS_OP_LISTEN: /* not in this version of the shard */
	case XTS_OP_NEW_CONN_ACK:
	case XTS_OP_ULP_PUSH:
	case XTS_OP_ULP_RES:
		s->st.proto_errs++;
		return;
	default:
		break;
	}
	c = conn_lookup(s, m->dst_id);
	if (!c) {
		if (!lsn_dispatch(s, m)) /* a listener's CLOSE */
			s->st.stale_ids++;
		return;
	}
	conn_on_msg(s, c, m);
}

/* Dispatch msgs[0] and, when it is DATA, the DATA frames right after it
 * for the same connection with it.  Returns frames consumed (>= 1). */
static int data_run(struct shard *s, const struct xts_msg *m, unsigned n)
{
	struct conn *c;
	unsigned k = 1;

	if (m[0].op != XTS_OP_DATA || !xts_link__epoch(s->link)) {
		dispatch(s, m);
		return 1;
	}
	while (k < n && k < SHARD_DATA_RUN_MAX && m[k].op == XTS_OP_DATA &&
	       m[k].dst_id == m[0].dst_id && m[k].src_id == m[0].src_id)
		k++;
	c = conn_lookup(s, m[0].dst_id);
	if (!c) {
		s->st.stale_ids += k;
		return (int)k;
	}
	conn_on_data_run(s, c, m, k);
	return (int)k;
}

static int poll_rx(struct shard *s)
{
	struct xts_msg msgs[RX_BATCH];
	int n, i, total = 0;

	/* a bounded number of batches, so TCP events get their turn */
	for (int round = 0; round < 4; round++) {
		n = xts_link__rx(s->link, msgs, RX_BATCH);
		for (i = 0; i < n; i += data_run(s, msgs + i, (unsigned)(n - i)))
			;
		xts_link__rx_done(s->link);
		if (n)
			s->last_rx_ns = s->now_ns;
		total += n;
		if (xts_link__broken(s->link)) {
			/* QRESET first, in the dying session's epoch */
			struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};

			xts_link__send(s->link, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e));
			session_end(s, "sequence gap: frames lost or reordered");
		}
		if (n < RX_BATCH)
			break;
	}
	return total;
}

static void handle_events(struct shard *s, struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		struct conn *c;

		if (ev[i].data.u64 == EV_LINK)
			continue; /* poll_rx reads the rings every round */
		c = conn_lookup(s, (__u32)ev[i].data.u64);
		if (c)
			conn_on_event(s, c, ev[i].events);
		else
			lsn_on_event(s, (__u32)ev[i].data.u64);
	}
}

static int poll_tcp(struct shard *s)
{
	struct epoll_event ev[EV_BATCH];
	int n = epoll_wait(s->ep, ev, EV_BATCH, 0);

	if (n <= 0)
		return 0;
	handle_events(s, ev, n);
	return n;
}

static void poll_timers(struct shard *s)
{
	shard_ctl_tick(s);
	if (s->now_ns < s->next_timer_ns)
		return;
	s->next_timer_ns = s->now_ns + TIMER_NS;
	conn_timers(s);
	if (!xts_link__epoch(s->link))
		return;
	if (s->cfg->dead_host_ms &&
	    s->now_ns - s->last_rx_ns > (__u64)s->cfg->dead_host_ms * 1000000ull) {
		session_end(s, "host silent past the dead-host timeout");
		return;
	}
	if (s->cfg->idle_ms && s->now_ns - s->last_rx_ns > (__u64)s->cfg->idle_ms * 1000000ull &&
	    s->now_ns - s->last_ping_ns > (__u64)s->cfg->idle_ms * 1000000ull) {
		struct xts_ping p = {.cookie = htole64(s->now_ns)};

		if (!xts_link__send(s->link, XTS_OP_PING, 0, 0, 0, 0, &p, sizeof(p))) {
			s->last_ping_ns = s->now_ns;
			s->ping_outstanding++;
		}
	}
}

static int shard_setup(struct shard *s)
{
	struct xts_link_opts lo = {
	    .sz = sizeof(lo),
	    .frames = s->o.frames,
	    .ring_size = s->o.ring_size,
	    .window = s->o.window,
	    .xsks_map_fd = s->o.xsks_map_fd,
	    .attach = false,
	};
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_LINK};
	int err;

	err = xts_link__create(&s->link, s->o.ifname, s->o.queue, &lo);
	if (err) {
		shard_log(s, XTS_LOG_ERROR, "AF_XDP socket on %s queue %u: %s", s->o.ifname,
			  s->o.queue, strerror(-err));
		return err;
	}
	err = conn_table_init(s);
	if (err) {
		shard_log(s, XTS_LOG_ERROR, "connection table (%u): %s", s->o.max_conns,
			  strerror(-err));
		return err;
	}
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, xts_link__fd(s->link), &ev)) {
		err = -errno;
		shard_log(s, XTS_LOG_ERROR, "epoll: %s", strerror(errno));
		return err;
	}
	return 0;
}

int shard_run(const struct shard_opts *opts)
{
	struct shard *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *opts;
	s->ep = -1;
	if (!s->o.max_conns)
		s->o.max_conns = 65536;
	if (s->o.max_conns > XTS_ID_SLOT_MASK - SHARD_LSN_MAX)
		s->o.max_conns = XTS_ID_SLOT_MASK - SHARD_LSN_MAX; /* listeners above */
	if (!s->o.conn_buf)
		s->o.conn_buf = 256 * 1024;
	err = shard_setup(s);
	if (!err)
		err = shard_ctl_init(s);
	if (!err)
		err = lsn_init(s);
	if (err)
		goto out;
	shard_log(s, XTS_LOG_INFO, "serving %s queue %u (max %u connections)", s->o.ifname,
		  s->o.queue, s->o.max_conns);

	while (!*s->o.stop) {
		int work;

		s->now_ns = shard_now_ns();
		work = poll_rx(s);
		work += poll_tcp(s);
		work += run_rejects(s);
		work += conn_run_ctl(s);
		work += conn_run_ready(s);
		work += lsn_poll(s);
		work += shard_ctl_poll(s);
		poll_timers(s);
		/* No pure ACK before sleeping: DATA carries our ack and one
		 * goes out at half the window, so the host's window never
		 * closes on us; a forced one woke the host once per request. */
		xts_link__flush(s->link, false);
		if (!work) {
			struct epoll_event ev[EV_BATCH];
			/* frames the device would not take yet: retry soon */
			int ms = xts_link__unkicked(s->link) ? 1 : (int)(TIMER_NS / 1000000);
			int n = epoll_wait(s->ep, ev, EV_BATCH, ms);

			if (n > 0) {
				s->now_ns = shard_now_ns();
				handle_events(s, ev, n);
			}
		}
	}
	err = 0;
out:
	lsn_fini(s);
	shard_ctl_fini(s);
	if (s->ep >= 0)
		close(s->ep);
	conn_table_free(s);
	xts_link__destroy(s->link);
	free(s);
	return err;
}
