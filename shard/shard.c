// SPDX-License-Identifier: BSD-2-Clause
/*
 * shard.c - the shard loop: one round is shard_poll().
 *
 *   poll_rx      frames from the host -> session, connections, listeners
 *   poll_tcp     kernel socket events (epoll, no wait): typed handlers
 *   ctl, ready   control frames owed, then data to the host
 *   ctl poll     the control plane (config, drain, conns snapshot)
 *   timers       deadlines that are due (struct shard_timer)
 *   flush        one tx kick per round (before sleep)
 *   sleep        epoll_wait only when a round did nothing, until the
 *                earliest deadline or an event; or, in poll mode busy
 *                or adaptive (pollmode.c), the next round at once
 *
 * shard_run() is shard_open(), rounds until *stop, shard_close(); tests
 * drive the rounds themselves, over a link of their choice.
 */
#include <errno.h>
#include <stdarg.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "shard_int.h"
#include "ulp.h"

#define RX_BATCH 64
#define EV_BATCH 256
/* The heartbeat in shared memory moves at least this often while the shard
 * idles: xtsd's hang watchdog (timeouts.hang_ms, 5 s by default) must never
 * take a healthy idle shard for a stuck one; keep hang_ms >= 5 periods. */
#define HEARTBEAT_NS (100 * 1000000ull)
/* Without xtsd's eventfd (an embedder that passes none) the control plane
 * is polled at least this often, so reload, drain and conns requests act
 * promptly. */
#define CTL_POLL_NS (10 * 1000000ull)
/* Without xtsd nothing else bounds a sleep: a signal that lands just before
 * epoll_wait is seen within this. */
#define RUN_SLEEP_MS 1000

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

/* The ULP block of a CONNECT or LISTEN that carries one (the codec checked
 * its place and fields), copied into @u: true, or false when none. */
bool shard_msg_ulp(const struct xts_msg *m, struct xts_ulp *u)
{
	size_t off;

	if (m->op == XTS_OP_CONNECT && m->len >= sizeof(struct xts_connect)) {
		const struct xts_connect *c = (const void *)m->payload;
		__u16 flags = le16toh(c->flags);

		if (!(flags & XTS_CONNECT_F_ULP))
			return false;
		off = xts_connect_ulp_off(le16toh(c->nopts), flags);
	} else if (m->op == XTS_OP_LISTEN && m->len >= sizeof(struct xts_listen)) {
		const struct xts_listen *l = (const void *)m->payload;

		if (!(le32toh(l->flags) & XTS_LISTEN_ULP))
			return false;
		off = sizeof(*l);
	} else {
		return false;
	}
	if (off + sizeof(*u) > m->len)
		return false;
	memcpy(u, m->payload + off, sizeof(*u));
	return true;
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
		sess_on_hello(s, m);
		return;
	case XTS_OP_QRESET:
		sess_on_qreset(s, m);
		return;
	case XTS_OP_PING:
		xts_link__send(s->link, XTS_OP_PONG, 0, 0, 0, 0, m->payload, m->len);
		return;
	case XTS_OP_PONG:
		sess_on_pong(s, m);
		return;
	case XTS_OP_CONNECT: {
		int refuse = shard_admit(s, m); /* drain, limits, ACL */

		if (refuse)
			sess_reject(s, m->src_id, refuse);
		else if (conn_on_connect(s, m) == -ENOBUFS)
			sess_reject(s, m->src_id, ENOBUFS);
		return;
	}
	case XTS_OP_HELLO_ACK: /* DPU-to-host ops coming the wrong way */
	case XTS_OP_CONNECT_RES:
	case XTS_OP_CLOSED:
	case XTS_OP_SOCKOPT_RES:
	case XTS_OP_NEW_CONN:
	case XTS_OP_LISTEN_RES:
	case XTS_OP_DRAINING:
	case XTS_OP_ULP_RES:
		s->st.proto_errs++;
		return;
	case XTS_OP_ULP_PUSH: /* on an established connection: not done */
		s->st.proto_errs++;
		shard_log(s, XTS_LOG_INFO,
			  "ULP_PUSH (connection %08x): not supported (ULPs "
			  "go with CONNECT or LISTEN), frame dropped",
			  m->dst_id);
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

	if (m[0].op != XTS_OP_DATA || !s->sess.epoch) {
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
			s->sess.last_rx_ns = s->now_ns;
		total += n;
		if (xts_link__broken(s->link))
			sess_broken(s);
		if (n < RX_BATCH)
			break;
	}
	return total;
}

/* Each registration knows what it is for (struct shard_ev). */
static void handle_events(struct shard *s, struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		struct shard_ev *h = ev[i].data.ptr;

		h->fn(s, h, ev[i].events);
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

/* xtsd's eventfd: the control plane changed (reload, drain, conns request).
 * Emptied here; the round this event makes reads the change (poll_ctl). */
static void ctl_ev(struct shard *s, struct shard_ev *h, __u32 events)
{
	__u64 n;

	(void)h;
	(void)events;
	if (read(s->o.ctl_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		shard_log(s, XTS_LOG_WARNING, "ctl eventfd: %s", strerror(errno));
}

/* Into the epoll set when xtsd gave one: no polling the control plane. */
static int ctl_watch(struct shard *s)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->ctl_ev};

	if (!s->o.shm || s->o.ctl_efd < 0)
		return 0;
	s->ctl_ev.fn = ctl_ev;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->o.ctl_efd, &ev)) {
		shard_log(s, XTS_LOG_ERROR, "epoll: ctl eventfd: %s", strerror(errno));
		return -errno;
	}
	s->ctl_watched = true;
	return 0;
}

/* The AF_XDP (or in-memory) link's fd: frames wait.  poll_rx reads the
 * rings every round; the event only ends the sleep. */
static void link_ev(struct shard *s, struct shard_ev *h, __u32 events)
{
	(void)s;
	(void)h;
	(void)events;
}

void shard_timer_at(struct shard *s, enum shard_timer_id t, __u64 when_ns)
{
	if (!when_ns)
		when_ns = 1; /* 0 means unarmed; 1 is long past */
	if (!s->tm[t].when_ns || when_ns < s->tm[t].when_ns)
		s->tm[t].when_ns = when_ns;
}

static void run_timers(struct shard *s)
{
	for (int t = 0; t < ST_NTIMERS; t++) {
		struct shard_timer *tm = &s->tm[t];

		if (tm->when_ns && s->now_ns >= tm->when_ns) {
			tm->when_ns = 0;
			tm->fn(s);
		}
	}
}

/* The heartbeat (shard_ctl_tick, every round) must move while we idle. */
static void heartbeat_timer(struct shard *s)
{
	if (s->blk)
		shard_timer_at(s, ST_HEARTBEAT, s->now_ns + HEARTBEAT_NS);
}

static void ctl_timer(struct shard *s)
{
	if (s->blk && !s->ctl_watched)
		shard_timer_at(s, ST_CTL, s->now_ns + CTL_POLL_NS);
}

/* The control plane, every round (one relaxed load finds nothing to do).
 * A new config may move deadlines (idle_ms, dead_host_ms, linger_ms):
 * those timers look again now. */
static int poll_ctl(struct shard *s)
{
	__u64 gen = s->cfg_gen;
	int work = shard_ctl_poll(s);

	if (s->cfg_gen != gen) {
		shard_timer_at(s, ST_SESSION, s->now_ns);
		shard_timer_at(s, ST_CONNS, s->now_ns);
		shard_poll_apply(s);
	}
	return work;
}

/* The doorbell of held frames (tx_hold) rings in shard_flush, after the
 * timers of the round that finds it due. */
static void tx_timer(struct shard *s)
{
	(void)s;
}

/* epoll_wait for @ns (< 0: no bound): to the microsecond with
 * epoll_pwait2 (Linux 5.11), else in milliseconds rounded up (waking a
 * little early would only spin). */
static int ep_wait(struct shard *s, struct epoll_event *ev, long long ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
	int n;

	if (!s->no_pwait2) {
		n = epoll_pwait2(s->ep, ev, EV_BATCH, ns < 0 ? NULL : &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		s->no_pwait2 = true;
	}
	return epoll_wait(s->ep, ev, EV_BATCH, ns < 0 ? -1 : (int)((ns + 999999) / 1000000));
}

/* Nothing to do: sleep until an event or the earliest deadline, at most
 * @timeout_ms (< 0: no bound of the caller's). */
static void sleep_idle(struct shard *s, int timeout_ms)
{
	struct epoll_event ev[EV_BATCH];
	long long ns = timeout_ms < 0 ? -1 : timeout_ms * 1000000ll;
	__u64 next = 0;
	int n;

	for (int t = 0; t < ST_NTIMERS; t++)
		if (s->tm[t].when_ns && (!next || s->tm[t].when_ns < next))
			next = s->tm[t].when_ns;
	if (next) {
		long long d = next > s->now_ns ? (long long)(next - s->now_ns) : 0;

		if (ns < 0 || d < ns)
			ns = d;
	}
	/* frames the device would not take yet (none held on purpose):
	 * retry soon */
	if (xts_link__unkicked(s->link) && !s->tm[ST_TX].when_ns && (ns < 0 || ns > 1000000))
		ns = 1000000;
	n = ep_wait(s, ev, ns);
	if (n > 0) {
		s->now_ns = shard_now_ns();
		handle_events(s, ev, n);
	}
}

/* Interrupt moderation (queue.coalesce_us): frames to the host that come
 * within coalesce_us of the last doorbell wait for the next one, at that
 * doorbell + coalesce_us, so a host whose answers stream in wakes once per
 * period for a batch instead of once per turn of ours.  Only while
 * several connections stream: the first frame after a quiet period goes
 * at once, and so does every frame while one connection alone has sent
 * the host data for a period (a ping-pong: holding it would only add
 * latency, there is nothing to batch it with).  What it costs is up to
 * coalesce_us of latency while frames stream.  It never
 * holds what would stall the queue: half the host's window (or 128
 * frames); nor, once the host has sent a quarter of our window since the
 * last doorbell, the acks it waits for (held frames carry them: a host
 * that sends faster than a period would otherwise find its window shut
 * and wait out the period); nor a round that owes the host a pure ACK. */
#define HOLD_MAX 128

static bool tx_hold(struct shard *s)
{
	__u64 hold_ns = (__u64)s->cfg->coalesce_us * 1000;
	__u32 n = xts_link__unkicked(s->link), max = s->sess.peer_window / 2, tx, rx, ack;

	if (!hold_ns || !n || s->now_ns - s->kick_ns >= hold_ns ||
	    s->now_ns - s->tx_switch_ns >= hold_ns || n >= HOLD_MAX || n >= max)
		return false;
	xts_link__seq_state(s->link, &tx, &rx, &ack);
	if (rx - s->kick_rx >= xts_link__window(s->link) / 4)
		return false;
	xts_link__flush_batch(s->link, false, UINT32_MAX); /* an ACK owed, completions */
	if (xts_link__unkicked(s->link) != n)
		return false;
	shard_timer_at(s, ST_TX, s->kick_ns + hold_ns);
	s->st.doorbells_held++;
	return true;
}

/* The doorbell, unless all that waits is CLOSED frames while a held
 * CONNECT_RES is due soon (conn.c): they go with it, or at its deadline;
 * or interrupt moderation holds the frames (tx_hold). */
static void shard_flush(struct shard *s)
{
	__u32 tx, ack;
	int pushed;

	if (s->lazy_tx && s->now_ns < s->lazy_until_ns &&
	    xts_link__unkicked(s->link) <= s->lazy_tx && s->lazy_tx < SHARD_LAZY_MAX) {
		xts_link__flush_batch(s->link, false, UINT32_MAX); /* acks, completions */
		if (xts_link__unkicked(s->link) <= s->lazy_tx) {   /* no ACK came of it */
			shard_timer_at(s, ST_CONNS, s->lazy_until_ns);
			return;
		}
	}
	if (tx_hold(s))
		return;
	pushed = xts_link__flush(s->link, false);
	if (pushed > 0) {
		s->kick_ns = s->now_ns;
		xts_link__seq_state(s->link, &tx, &s->kick_rx, &ack);
		s->st.doorbells++;
	}
	if (!xts_link__unkicked(s->link))
		s->lazy_tx = 0;
}

int shard_poll(struct shard *s, int timeout_ms)
{
	int work;

	s->now_ns = shard_now_ns();
	work = poll_rx(s);
	work += poll_tcp(s);
	work += sess_run_rejects(s);
	work += conn_run_ctl(s);
	work += conn_run_ready(s);
	work += lsn_poll(s);
	work += poll_ctl(s);
	shard_ctl_tick(s);
	run_timers(s);
	/* counters of a busy round reach shared memory even if we sleep next */
	if (work && s->blk && s->next_publish_ns > s->now_ns)
		shard_timer_at(s, ST_HEARTBEAT, s->next_publish_ns);
	/* No pure ACK before sleeping: DATA carries our ack and one
	 * goes out at half the window, so the host's window never
	 * closes on us; a forced one woke the host once per request. */
	shard_flush(s);
	/* busy, or adaptive within its spin: the next round at once */
	if (!shard_poll_spin(s, work) && !work && timeout_ms)
		sleep_idle(s, timeout_ms);
	return work;
}

static int shard_setup(struct shard *s, struct xts_link *link)
{
	struct xts_link_opts lo = {
	    .sz = sizeof(lo),
	    .frames = s->o.frames,
	    .ring_size = s->o.ring_size,
	    .window = s->o.window,
	    .xsks_map_fd = s->o.xsks_map_fd,
	    .attach = false,
	};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->link_ev};
	int err;

	if (link) {
		s->link = link;
	} else {
		err = xts_link__create(&s->link, s->o.ifname, s->o.queue, &lo);
		if (err) {
			shard_log(s, XTS_LOG_ERROR, "AF_XDP socket on %s queue %u: %s", s->o.ifname,
				  s->o.queue, strerror(-err));
			return err;
		}
		if (xts_link__mbuf_note(s->link)) /* the kernel or XTS_MBUF=0 said no */
			shard_log(s, XTS_LOG_INFO, "queue %u: %s", s->o.queue,
				  xts_link__mbuf_note(s->link));
	}
	err = conn_table_init(s);
	if (err) {
		shard_log(s, XTS_LOG_ERROR, "connection table (%u): %s", s->o.max_conns,
			  strerror(-err));
		return err;
	}
	s->link_ev.fn = link_ev;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, xts_link__fd(s->link), &ev)) {
		err = -errno;
		shard_log(s, XTS_LOG_ERROR, "epoll: %s", strerror(errno));
		return err;
	}
	return 0;
}

int shard_open(struct shard **out, const struct shard_opts *opts, struct xts_link *link)
{
	struct shard *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		if (link)
			xts_link__destroy(link);
		return -ENOMEM;
	}
	s->o = *opts;
	s->ep = -1;
	if (!s->o.max_conns)
		s->o.max_conns = 65536;
	if (s->o.max_conns > XTS_ID_SLOT_MASK - SHARD_LSN_MAX)
		s->o.max_conns = XTS_ID_SLOT_MASK - SHARD_LSN_MAX; /* listeners above */
	if (!s->o.conn_buf)
		s->o.conn_buf = 256 * 1024;
	s->tm[ST_HEARTBEAT].fn = heartbeat_timer;
	s->tm[ST_SESSION].fn = sess_timer;
	s->tm[ST_CONNS].fn = conn_timer;
	s->tm[ST_CTL].fn = ctl_timer;
	s->tm[ST_LSN].fn = lsn_timer;
	s->tm[ST_TX].fn = tx_timer;
	s->now_ns = shard_now_ns();
	err = shard_setup(s, link);
	if (!err)
		err = shard_ctl_init(s);
	if (!err)
		err = ctl_watch(s);
	if (!err)
		err = tls_store_init(s);
	if (!err)
		err = lsn_init(s);
	if (err) {
		shard_close(s);
		return err;
	}
	heartbeat_timer(s);
	ctl_timer(s);
	shard_poll_apply(s);
	shard_log(s, XTS_LOG_INFO, "serving %s queue %u (max %u connections)",
		  s->o.ifname ? s->o.ifname : "(given link)", s->o.queue, s->o.max_conns);
	*out = s;
	return 0;
}

void shard_close(struct shard *s)
{
	if (!s)
		return;
	lsn_fini(s);
	shard_ctl_fini(s);
	if (s->ep >= 0)
		close(s->ep);
	conn_table_free(s);
	tls_store_fini(s); /* after the connections: they hold profiles */
	if (s->link)
		xts_link__destroy(s->link);
	free(s);
}

int shard_run(const struct shard_opts *opts)
{
	struct shard *s;
	int err;

	err = shard_open(&s, opts, NULL);
	if (err)
		return err;
	while (!*s->o.stop)
		shard_poll(s, RUN_SLEEP_MS);
	shard_close(s);
	return 0;
}
