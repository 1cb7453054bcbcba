// SPDX-License-Identifier: BSD-2-Clause
/*
 * session.c - the shard's queue session with one host process.
 *
 * A session begins with the host's HELLO (we answer HELLO_ACK with a new
 * random epoch) and ends with a QRESET either way, a sequence gap, a
 * dead-host timeout, or a new HELLO.  Its state lives in one object
 * (struct shard_sess): identity, liveness, the connects refused before a
 * slot existed, and its connections (conn.sess).  Ending it resets what
 * belongs to it: the host that owned those sockets is gone.  A graceful
 * end (QRESET with err 0) lets the connections the host had closed finish
 * as orphans (conn.sess NULL) under the closing deadline.
 */
#include <errno.h>
#include <endian.h>
#include <string.h>

#include "shard_int.h"

#define SESS_RETRY_NS (10 * 1000000ull) /* a PING the full queue refused */
/* How long the live session's host has to answer the probe a HELLO sets off
 * before that HELLO takes the queue over: well above a live host's answer
 * (microseconds to a few ms; libxport answers whenever its program calls
 * in), well below the 2 s a host waits for HELLO_ACK (it retries at 200,
 * 600 ms...). */
#define SESS_PROBE_NS (500 * 1000000ull)
#define REJ_MAX	      (sizeof(((struct shard_sess *)0)->rej) / sizeof(((struct shard_sess *)0)->rej[0]))

static __u32 new_epoch(__u32 old)
{
	__u32 e = xts_link__random32();

	if (!e || e == old)
		e = old + 1 ? old + 1 : 1;
	return e;
}

void sess_end(struct shard *s, const char *why, bool graceful)
{
	struct shard_sess *ss = &s->sess;

	if (ss->epoch)
		shard_log(s, XTS_LOG_INFO, "session %08x ended: %s", ss->epoch, why);
	lsn_close_all(s); /* before the connections: it resets its own */
	conn_end_session(s, ss, graceful);
	ss->rej_n = 0;
	ss->epoch = 0;
	ss->ping_outstanding = 0;
	/* A HELLO that waited for the probe is dropped with the session:
	 * its host retries (libxport at 200, 600 ms ...) and gets the queue
	 * at once; serving it now would hand the queue to a sender that may
	 * be long gone (a garbage HELLO). */
	ss->probe.on = false;
	/* epoch 0: no session; sequenced frames of the old one get QRESET */
	xts_link__session(s->link, 0, 1, 0, xts_link__mac(s->link));
	s->st.session_resets++;
}

/* Start a session for the host at @mac (a checked HELLO): link and object. */
static void sess_start(struct shard *s, const __u8 *mac, const struct xts_hello *h)
{
	struct shard_sess *ss = &s->sess;
	__u32 old = ss->epoch;

	if (old) /* the probe went unanswered: the old session's host is gone */
		sess_end(s, "its host did not answer: a new HELLO takes the queue over", false);
	ss->epoch = new_epoch(old);
	memcpy(ss->peer, mac, XTS_MAC_LEN);
	xts_link__session(s->link, ss->epoch, le32toh(h->window), le32toh(h->max_frame), mac);
	/* frames of several chunks only with a host that takes them; our
	 * window (the HELLO_ACK's) sized for the frames it sends */
	xts_link__peer_caps(s->link, le64toh(h->caps), true);
	ss->peer_window = le32toh(h->window);
	ss->max_frame = xts_link__max_frame(s->link);
	ss->started_ns = ss->last_rx_ns = s->now_ns;
	ss->last_ping_ns = 0;
	ss->ping_outstanding = 0;
	s->st.sessions++;
	sess_timer(s); /* arm the liveness deadlines */
}

static void hello_ack_base(struct xts_hello_ack *r, const struct xts_hello *h)
{
	memset(r, 0, sizeof(*r));
	r->min_version = r->max_version = htole16(XTS_PROTO_VERSION);
	r->nonce = h->nonce;
}

/* A session for the HELLO @h from @mac: started, answered. */
static void sess_accept(struct shard *s, const __u8 *mac, const struct xts_hello *h)
{
	struct xts_hello_ack r;

	hello_ack_base(&r, h);
	sess_start(s, mac, h);
	/* random sequence numbers: with the epoch, what a forger must guess */
	r.host_isn = htole32(xts_link__random32());
	r.dpu_isn = htole32(xts_link__random32());
	xts_link__isn(s->link, le32toh(r.dpu_isn), le32toh(r.host_isn));
	r.window = htole32(xts_link__window(s->link));
	r.max_frame = htole32(xts_link__max_frame(s->link));
	r.caps = htole64(XTS_CAP_IPV6 | XTS_CAP_LISTEN | XTS_CAP_ULP_TLS | XTS_CAP_ULP_STRP |
			 XTS_CAP_CONNECT_DATA | XTS_CAP_LSN_HANDOFF | xts_link__caps(s->link));
	r.max_conns = htole32(s->o.max_conns);
	xts_link__send(s->link, XTS_OP_HELLO_ACK, 0, 0, 0, 0, &r, sizeof(r));
	shard_ctl_session(s);
	shard_log(s, XTS_LOG_INFO, "session %08x started (host window %u, max frame %u)",
		  s->sess.epoch, le32toh(h->window), s->sess.max_frame);
}

/*
 * A HELLO while a session is live.  A host that crashed and restarted on
 * this queue sends one (the common case), and so can anyone with a raw
 * socket on the host.  So the live session is not ended at once: its peer
 * is asked (a PING in the session).  An answer within SESS_PROBE_NS means
 * it lives: the HELLO is refused (EBUSY, to the HELLO's sender, outside the
 * session).  None means it is gone: the HELLO takes the queue over when the
 * bound expires.  A retried HELLO (a new nonce) meanwhile replaces the one
 * that waits, without moving the bound: the answer must name the nonce the
 * host waits for now.
 */
static void sess_probe(struct shard *s, const struct xts_msg *m, const struct xts_hello *h)
{
	struct sess_probe *p = &s->sess.probe;

	memcpy(p->mac, m->src_mac, XTS_MAC_LEN);
	p->hello = *h;
	if (p->on)
		return;
	p->on = true;
	p->pinged = false;
	p->until_ns = s->now_ns + SESS_PROBE_NS;
	p->cookie = (__u64)xts_link__random32() << 32 | xts_link__random32();
	shard_log(s, XTS_LOG_INFO, "session %08x: a HELLO while it lives: asking its host",
		  s->sess.epoch);
	sess_timer(s); /* sends the PING, arms the bound */
}

/* The probe's PING (retried soon when the queue has no frame for it). */
static void probe_ping(struct shard *s)
{
	struct sess_probe *p = &s->sess.probe;
	struct xts_ping ping = {.cookie = htole64(p->cookie)};

	if (!p->pinged)
		p->pinged = !xts_link__send(s->link, XTS_OP_PING, 0, 0, 0, 0, &ping, sizeof(ping));
	shard_timer_at(s, ST_SESSION, p->pinged ? p->until_ns : s->now_ns + SESS_RETRY_NS);
}

void sess_on_hello(struct shard *s, const struct xts_msg *m)
{
	struct xts_hello h;
	struct xts_hello_ack r;

	memcpy(&h, m->payload, sizeof(h));
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
		hello_ack_base(&r, &h);
		xts_link__send_to(s->link, m->src_mac, 0, XTS_OP_HELLO_ACK, &r,
				  sizeof(struct xts_hello));
		return;
	}
	if (s->sess.epoch)
		sess_probe(s, m, &h);
	else
		sess_accept(s, m->src_mac, &h);
}

/*
 * QRESET from the host.  With an error it broke the session: everything of
 * it is reset.  With err 0 it ended the session on purpose (its last
 * xport_close_queue, the graceful end): what it still owned is reset, but
 * connections it had closed already keep delivering their bytes, as
 * orphans under linger_ms, as a process's closed sockets outlive it.
 */
void sess_on_qreset(struct shard *s, const struct xts_msg *m)
{
	struct xts_err e;

	if (!m->epoch || m->epoch != s->sess.epoch)
		return;
	memcpy(&e, m->payload, sizeof(e));
	if (e.err)
		sess_end(s, "host reset the queue", false);
	else
		sess_end(s, "host closed the queue", true);
}

void sess_on_pong(struct shard *s, const struct xts_msg *m)
{
	struct sess_probe *p = &s->sess.probe;
	struct xts_ping ping;
	struct xts_hello_ack r;

	s->sess.ping_outstanding = 0;
	memcpy(&ping, m->payload, sizeof(ping));
	if (!p->on || le64toh(ping.cookie) != p->cookie)
		return;
	/* the live session's host answered: the HELLO is refused */
	p->on = false;
	hello_ack_base(&r, &p->hello);
	r.err = (__s32)htole32(EBUSY);
	xts_link__send_to(s->link, p->mac, 0, XTS_OP_HELLO_ACK, &r, sizeof(r));
	s->st.hellos_refused_busy++;
	shard_log(s, XTS_LOG_WARNING,
		  "session %08x: its host answered: a HELLO from %02x:%02x:%02x:%02x:%02x:%02x "
		  "refused (EBUSY)",
		  s->sess.epoch, p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4], p->mac[5]);
}

void sess_broken(struct shard *s)
{
	/* QRESET first, in the dying session's epoch */
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};

	xts_link__send(s->link, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e));
	sess_end(s, "sequence gap: frames lost or reordered", false);
}

void sess_reject(struct shard *s, __u32 host_id, int err)
{
	struct shard_sess *ss = &s->sess;
	__u32 i;

	if (ss->rej_n == REJ_MAX) {
		s->st.proto_errs++; /* host will time out this connect */
		return;
	}
	i = (ss->rej_head + ss->rej_n++) % REJ_MAX;
	ss->rej[i].host_id = host_id;
	ss->rej[i].err = err;
	s->st.conns_failed++;
}

int sess_run_rejects(struct shard *s)
{
	struct shard_sess *ss = &s->sess;
	int work = 0;

	while (ss->rej_n) {
		struct xts_conn_res r;

		memset(&r, 0, sizeof(r));
		r.err = (__s32)htole32((__u32)ss->rej[ss->rej_head].err);
		if (xts_link__send(s->link, XTS_OP_CONNECT_RES, 0, ss->rej[ss->rej_head].host_id,
				   XTS_ID_NONE, 0, &r, sizeof(r)))
			break;
		ss->rej_head = (ss->rej_head + 1) % REJ_MAX;
		ss->rej_n--;
		work++;
	}
	return work;
}

/* The probe's bound expired without an answer: the waiting HELLO takes
 * the queue over (true).  Before that, its PING goes out. */
static bool probe_due(struct shard *s)
{
	struct sess_probe p = s->sess.probe;

	if (!p.on)
		return false;
	if (s->now_ns < p.until_ns) {
		probe_ping(s);
		return false;
	}
	s->sess.probe.on = false;
	s->st.takeovers++;
	sess_accept(s, p.mac, &p.hello);
	return true;
}

/*
 * Host liveness (ST_SESSION): a host silent for idle_ms gets a PING (at
 * most one per idle_ms), one silent for dead_host_ms loses its session.  Armed
 * for the nearer of the two; any frame from the host moves last_rx_ns, so
 * a busy session only finds its deadline moved on when it comes.
 */
void sess_timer(struct shard *s)
{
	struct shard_sess *ss = &s->sess;
	__u64 idle = (__u64)s->cfg->idle_ms * 1000000ull;
	__u64 dead = (__u64)s->cfg->dead_host_ms * 1000000ull;
	__u64 quiet = ss->last_ping_ns > ss->last_rx_ns ? ss->last_ping_ns : ss->last_rx_ns;
	struct xts_ping p = {.cookie = htole64(s->now_ns)};

	if (!ss->epoch)
		return;
	if (probe_due(s))
		return;
	if (dead && s->now_ns - ss->last_rx_ns >= dead) {
		sess_end(s, "host silent past the dead-host timeout", false);
		return;
	}
	if (dead)
		shard_timer_at(s, ST_SESSION, ss->last_rx_ns + dead);
	if (!idle)
		return;
	if (s->now_ns - quiet < idle) {
		shard_timer_at(s, ST_SESSION, quiet + idle);
		return;
	}
	if (xts_link__send(s->link, XTS_OP_PING, 0, 0, 0, 0, &p, sizeof(p))) {
		/* the queue is full: try again soon */
		shard_timer_at(s, ST_SESSION, s->now_ns + SESS_RETRY_NS);
		return;
	}
	ss->last_ping_ns = s->now_ns;
	ss->ping_outstanding++;
	shard_timer_at(s, ST_SESSION, s->now_ns + idle);
}
