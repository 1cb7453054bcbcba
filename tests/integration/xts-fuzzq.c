// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-fuzzq - feed a shard's queue random and mutated frames through a real
 * AF_XDP socket on the host side.
 *
 *   xts-fuzzq [-i IF] [-q Q] [-n FRAMES] [-s SEED] [-g|-f|-V]
 *
 * Three kinds, interleaved: random bytes behind an XTS EtherType; valid
 * headers with random fields (ops, flags, lengths that lie, foreign ids,
 * wrong epochs); and, inside a real session (HELLO first), well-sequenced
 * frames with random ops, ids and payloads, so that the shard's deeper
 * paths see garbage too.  Connect targets are forced into 198.18.0.0/24 or
 * an unroutable range: the DPU namespace has no route out anyway.
 *
 * After the flood, two rounds that must end a fresh session at once with a
 * QRESET: a malformed frame next in sequence, and a plain sequence gap.
 * -g runs the gap round alone (one seq_gaps exactly, for the test to
 * check); -f a round of forged frames in a live session (forged_round);
 * -V a version 1 HELLO, which must be refused in version 1's layout.
 */
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <endian.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "link.h"

static __u64 rng_state;

static __u64 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void rnd_fill(void *p, size_t n)
{
	__u8 *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (__u8)rnd();
}

/* known ops, then some unknown ones */
static const __u8 ops[] = {0,  1,  2,  3,  4,  5,  6,  16, 17, 18, 19, 20, 21, 22,
			   23, 24, 25, 32, 33, 34, 35, 48, 49, 50, 7,  99, 255};

static __u8 shard_mac[XTS_MAC_LEN]; /* from the last HELLO_ACK */
static __u32 host_isn;		    /* our first seq in that session */
static __u32 shard_window;	    /* the shard's receive window */

/* An answer names one of this round's nonces. */
static bool ours(const __u32 *nonces, __u32 n, __u32 nonce)
{
	for (__u32 i = 0; i < n; i++)
		if (nonces[i] == nonce)
			return true;
	return false;
}

static int hello(struct xts_link *l, __u32 *epoch)
{
	struct xts_hello h = {0};
	struct xts_msg m[16];
	__u32 nonces[20];

	h.min_version = h.max_version = htole16(XTS_PROTO_VERSION);
	h.window = htole32(xts_link__window(l));
	h.max_frame = htole32(xts_link__max_frame(l));
	/* bundles (XTS_CAP_BUNDLE): the in-session frames of a flood round go
	 * several to a frame, so the shard parses bundles of every op */
	h.caps = htole64(xts_link__caps(l));
	/* End our session first, as a host that starts over does: a HELLO
	 * while a session lives makes the shard ask that session's host and
	 * wait up to 500 ms before it takes over. */
	if (xts_link__epoch(l)) {
		struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};

		xts_link__send(l, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e));
	}
	for (__u32 tries = 0; tries < 20; tries++) {
		struct pollfd p = {.fd = xts_link__fd(l), .events = POLLIN};
		/* A fresh nonce per attempt.  The answer may name any of the
		 * round's: a garbage HELLO of the flood may have started a
		 * session, and the shard then answers the last HELLO it saw
		 * when its probe of that session ends, 500 ms on. */
		__u32 nonce = (__u32)rnd() | 1;
		struct timespec t0, t;

		nonces[tries] = nonce;
		h.nonce = htole32(nonce);
		xts_link__send(l, XTS_OP_HELLO, 0, 0, 0, 0, &h, sizeof(h));
		xts_link__flush(l, false);
		/* Wait up to 100 ms for this nonce's answer.  The shard's
		 * answers to the flood may come first: read them all (a batch
		 * ends at each session op, and one of stale frames delivers
		 * none), and keep waiting; a new HELLO per wakeup would only
		 * make its answer, when it came, name an old nonce. */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			long ms;

			clock_gettime(CLOCK_MONOTONIC, &t);
			ms = 100 -
			     ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
			if (ms <= 0 || poll(&p, 1, (int)ms) <= 0)
				break;
			for (int batch = 0; batch < 4096 && xts_link__rx_ready(l); batch++) {
				int n = xts_link__rx(l, m, 16);

				for (int i = 0; i < n; i++) {
					const struct xts_hello_ack *a = m[i].payload;

					if (m[i].op != XTS_OP_HELLO_ACK || !m[i].epoch ||
					    m[i].version != XTS_PROTO_VERSION ||
					    !ours(nonces, tries + 1, le32toh(a->nonce)) || a->err)
						continue;
					*epoch = m[i].epoch;
					memcpy(shard_mac, m[i].src_mac, XTS_MAC_LEN);
					host_isn = le32toh(a->host_isn);
					shard_window = le32toh(a->window);
					xts_link__session(l, m[i].epoch, le32toh(a->window),
							  le32toh(a->max_frame), m[i].src_mac);
					xts_link__isn(l, host_isn, le32toh(a->dpu_isn));
					xts_link__peer_caps(l, le64toh(a->caps), false);
					xts_link__rx_done(l);
					return 0;
				}
				xts_link__rx_done(l);
			}
			xts_link__rx_done(l);
		}
	}
	return -ETIMEDOUT;
}

/* DPU ids the shard handed out: in-session frames aim at live ones. */
static __u32 live[64];

/* Drain what the shard sends back, so its replies never pile up. */
static void drain(struct xts_link *l)
{
	struct xts_msg m[64];
	int n;

	while ((n = xts_link__rx(l, m, 64)) > 0) {
		for (int i = 0; i < n; i++)
			if (m[i].op == XTS_OP_CONNECT_RES && m[i].src_id)
				live[rnd() % 64] = m[i].src_id;
		xts_link__rx_done(l);
	}
	xts_link__rx_done(l);
}

/* A well-formed frame of the live session with random intent: valid
 * payloads for the connection ops, aimed at live ids, random ids, or
 * ids of other generations. */
static int in_session(struct xts_link *l)
{
	static const __u8 deep[] = {XTS_OP_CONNECT, XTS_OP_DATA,   XTS_OP_CREDIT,  XTS_OP_SHUTDOWN,
				    XTS_OP_CLOSE,   XTS_OP_RESET,  XTS_OP_SOCKOPT, XTS_OP_PING,
				    XTS_OP_DATA,    XTS_OP_CONNECT};
	__u8 op = deep[rnd() % sizeof(deep)];
	__u32 dst = live[rnd() % 64];
	struct xts_txf f;
	size_t len = 0;
	__u16 flags = 0;

	if (rnd() % 4 == 0)
		dst = (__u32)rnd() & 0x7fffffff;
	else if (rnd() % 4 == 0)
		dst = xts_id_make(xts_id_slot(dst), xts_id_gen(dst) + 1);
	if (xts_link__tx_reserve(l, !xts_proto_op_noseq((enum xts_op)op), &f))
		return 0;
	switch (op) {
	case XTS_OP_CONNECT: {
		struct xts_connect *c = f.payload;

		memset(c, 0, sizeof(*c));
		c->dst.family = htole16(AF_INET);
		c->dst.port = htole16(rnd() % 2 ? 7 : (__u16)rnd());
		/* the echo server, or unroutable from the DPU namespace */
		memcpy(c->dst.addr, rnd() % 2 ? "\xc6\x12\x00\x02" : "\xcb\x00\x71\x01", 4);
		c->timeout_ms = htole32(1000);
		len = offsetof(struct xts_connect, opts);
		dst = 0;
		break;
	}
	case XTS_OP_DATA:
		len = 1 + (size_t)(rnd() % 1400);
		rnd_fill(f.payload, len);
		flags = (__u16)(rnd() & XTS_F_MORE);
		break;
	case XTS_OP_CLOSE:
		memset(f.payload, 0, sizeof(struct xts_close));
		len = sizeof(struct xts_close);
		flags = (__u16)(rnd() & XTS_F_ABORT);
		break;
	case XTS_OP_RESET: {
		struct xts_err *e = f.payload;

		e->err = (__s32)htole32((__u32)(rnd() % 140));
		e->reserved = 0;
		len = sizeof(*e);
		break;
	}
	case XTS_OP_SOCKOPT: {
		struct xts_sockopt *so = f.payload;
		int v = (int)(rnd() % 70000);

		memset(so, 0, sizeof(*so));
		so->req = htole32((__u32)rnd());
		so->dir = (__u8)(rnd() & 1);
		so->level = (__s32)htole32(rnd() & 1 ? SOL_SOCKET : IPPROTO_TCP);
		so->name = (__s32)htole32((__u32)(rnd() % 40));
		so->vlen = htole32(sizeof(v));
		memcpy(so->val, &v, sizeof(v));
		len = sizeof(*so) + sizeof(v);
		break;
	}
	case XTS_OP_PING:
		rnd_fill(f.payload, sizeof(struct xts_ping));
		len = sizeof(struct xts_ping);
		dst = 0;
		break;
	default:
		break;
	}
	xts_link__tx_submit(l, &f, (enum xts_op)op, flags, dst, (__u32)(rnd() % 1000) + 1,
			    (__u32)(rnd() % 65536), len);
	return 1;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Read what comes for up to @ms and show each message to @fn, which says
 * 0 (keep waiting), > 0 (done) or < 0 (failed).  Returns the elapsed ms
 * when done, -1 when failed or out of time.
 */
static long wait_for(struct xts_link *l, long ms, int (*fn)(const struct xts_msg *, void *),
		     void *ctx)
{
	struct xts_msg m[64];
	struct timespec t0;
	long el;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((el = ms_since(&t0)) < ms) {
		struct pollfd p = {.fd = xts_link__fd(l), .events = POLLIN};
		int n, v = 0;

		while (!v && ((n = xts_link__rx(l, m, 64)) > 0 || xts_link__rx_ready(l))) {
			for (int i = 0; i < n && !v; i++)
				v = fn(&m[i], ctx);
			xts_link__rx_done(l);
		}
		xts_link__rx_done(l);
		if (v)
			return v > 0 ? ms_since(&t0) : -1;
		poll(&p, 1, (int)(ms - el < 100 ? ms - el : 100));
	}
	return -1;
}

static int is_qreset(const struct xts_msg *m, void *epoch)
{
	return m->op == XTS_OP_QRESET && m->epoch == *(__u32 *)epoch;
}

/* Wait up to @ms for a QRESET of @epoch; its delay in ms, or -1. */
static long wait_qreset(struct xts_link *l, __u32 epoch, long ms)
{
	return wait_for(l, ms, is_qreset, &epoch);
}

/*
 * In a fresh session, a plain gap: the first sequenced frame says seq
 * ISN + 1 where the ISN is next (frame ISN "lost").  A lossless queue that loses a frame
 * is broken: the shard must end the session with a QRESET within a second
 * (and count it in seq_gaps), not take the frame.  Returns the QRESET's
 * delay in ms, or -1.
 */
static long gap_ends_session(struct xts_link *l, __u32 *epoch)
{
	__u8 f[XTS_PAYLOAD_OFF];
	struct xts_hdr *h = (struct xts_hdr *)(f + XTS_HDR_OFF);
	int tot;

	drain(l);
	if (hello(l, epoch))
		return -1;
	tot = xts_proto_hdr_put(f, sizeof(f), shard_mac, xts_link__mac(l), XTS_OP_CREDIT, 0, 0, 1,
				0, 0);
	if (tot < 0)
		return -1;
	h->epoch = htole32(*epoch);
	h->seq = htole32(host_isn + 1); /* host_isn is next */
	if (xts_link__tx_raw(l, f, (size_t)tot) || xts_link__flush(l, false) < 0)
		return -1;
	return wait_qreset(l, *epoch, 1000);
}

/*
 * In a fresh session, one CONNECT that is next in sequence but does not
 * parse (a flag no version knows): the shard must end the session at once
 * with a QRESET, not leave this host waiting for a CONNECT_RES.  0 when
 * the QRESET came within 2 s.
 */
static int malformed_ends_session(struct xts_link *l, __u32 *epoch)
{
	struct xts_txf f;
	struct xts_connect *c;

	drain(l);
	if (hello(l, epoch) || xts_link__tx_reserve(l, true, &f))
		return -1;
	c = f.payload;
	memset(c, 0, sizeof(*c));
	c->dst.family = htole16(AF_INET);
	c->dst.port = htole16(7);
	memcpy(c->dst.addr, "\xc6\x12\x00\x02", 4);
	c->flags = htole16(0x8000); /* unknown: the frame does not parse */
	xts_link__tx_submit(l, &f, XTS_OP_CONNECT, 0, 0, 1, 65536,
			    offsetof(struct xts_connect, opts));
	xts_link__flush(l, false);
	return wait_qreset(l, *epoch, 2000) < 0 ? -1 : 0;
}

/* A frame of our session as we choose it: from @src, with @seq. */
static int forge(struct xts_link *l, const __u8 *src, __u32 epoch, enum xts_op op, __u32 seq,
		 __u32 src_id, const void *payload, size_t len)
{
	__u8 f[XTS_PAYLOAD_OFF + sizeof(struct xts_connect)];
	struct xts_hdr *h = (struct xts_hdr *)(f + XTS_HDR_OFF);
	int tot;

	if (len)
		memcpy(f + XTS_PAYLOAD_OFF, payload, len);
	tot = xts_proto_hdr_put(f, sizeof(f), shard_mac, src, op, 0, 0, src_id, 65536, len);
	if (tot < 0)
		return tot;
	h->epoch = htole32(epoch);
	h->seq = htole32(seq);
	return xts_link__tx_raw(l, f, (size_t)tot);
}

struct conn_wait {
	__u32 epoch, dpu_id;
};

/* The CONNECT_RES of host id 1; one for any other id, or a QRESET of our
 * epoch, is a failure said on stderr. */
static int is_connect_res(const struct xts_msg *m, void *ctx)
{
	struct conn_wait *w = ctx;
	const char *bad = NULL;

	if (m->op == XTS_OP_QRESET && m->epoch == w->epoch)
		bad = "the session was reset (QRESET)";
	else if (m->op == XTS_OP_CONNECT_RES && m->dst_id != 1)
		bad = "the forged CONNECT was answered";
	if (bad) {
		fprintf(stderr, "xts-fuzzq: forged round: %s\n", bad);
		return -1;
	}
	if (m->op != XTS_OP_CONNECT_RES)
		return 0;
	w->dpu_id = m->src_id;
	return 1;
}

/*
 * Forged frames in a live session.  This tool is the legitimate host (it
 * knows the epoch and the next seq) and sends the forgeries itself through
 * its own AF_XDP socket, which puts them on the session's queue with the
 * Ethernet header it writes (a packet socket could not choose the queue a
 * veth delivers to).  First a CONNECT with the right epoch and the next
 * seq from a foreign MAC; then, from our MAC, CREDITs whose seq is just
 * past the shard's window and just behind it; then the real CONNECT with
 * that same next seq.  The shard must drop the forgeries (rx_foreign +1,
 * rx_forged +2: the script checks) and answer only the real CONNECT, with
 * no QRESET.
 */
static int forged_round(struct xts_link *l, __u32 *epoch)
{
	size_t clen = offsetof(struct xts_connect, opts);
	__u8 foreign[XTS_MAC_LEN];
	struct xts_connect c;
	struct conn_wait w = {0};
	struct xts_txf f;

	drain(l);
	if (hello(l, epoch))
		return -1;
	w.epoch = *epoch;
	memset(&c, 0, sizeof(c));
	c.dst.family = htole16(AF_INET);
	c.dst.port = htole16(7);
	memcpy(c.dst.addr, "\xc6\x12\x00\x02", 4); /* the echo server */
	c.timeout_ms = htole32(1000);
	memcpy(foreign, xts_link__mac(l), XTS_MAC_LEN);
	foreign[5] ^= 0x5a;
	if (forge(l, foreign, *epoch, XTS_OP_CONNECT, host_isn, 0x7777, &c, clen) ||
	    forge(l, xts_link__mac(l), *epoch, XTS_OP_CREDIT, host_isn + shard_window, 1, NULL,
		  0) ||
	    forge(l, xts_link__mac(l), *epoch, XTS_OP_CREDIT, host_isn - 1, 1, NULL, 0) ||
	    xts_link__tx_reserve(l, true, &f))
		return -1;
	memcpy(f.payload, &c, clen);
	xts_link__tx_submit(l, &f, XTS_OP_CONNECT, 0, 0, 1, 65536, clen);
	xts_link__flush(l, false);
	if (wait_for(l, 2000, is_connect_res, &w) < 0) {
		fprintf(stderr, "xts-fuzzq: forged round: the real CONNECT got no CONNECT_RES\n");
		return -1;
	}
	/* the session carries on: the connection closes as usual */
	if (w.dpu_id && !xts_link__tx_reserve(l, true, &f)) {
		memset(f.payload, 0, sizeof(struct xts_close));
		xts_link__tx_submit(l, &f, XTS_OP_CLOSE, XTS_F_ABORT, w.dpu_id, 1, 0,
				    sizeof(struct xts_close));
		xts_link__flush(l, true);
	}
	if (wait_qreset(l, *epoch, 200) >= 0) {
		fprintf(stderr, "xts-fuzzq: forged round: QRESET after the forgeries\n");
		return -1;
	}
	printf("xts-fuzzq: forged frames (foreign MAC, seq outside the window) dropped; the real "
	       "CONNECT answered\n");
	return 0;
}

struct hello_wait {
	__u32 nonce;
	struct xts_hello a; /* its first 32 bytes */
	__u8 version;
	__u16 len;
	__u32 epoch;
};

static int is_hello_ack(const struct xts_msg *m, void *ctx)
{
	struct hello_wait *w = ctx;
	struct xts_hello a;

	if (m->op != XTS_OP_HELLO_ACK)
		return 0;
	memcpy(&a, m->payload, sizeof(a)); /* both layouts hold 32 bytes */
	if (le32toh(a.nonce) != w->nonce)
		return 0;
	w->a = a;
	w->version = (__u8)m->version;
	w->len = m->len;
	w->epoch = m->epoch;
	return 1;
}

/*
 * A version 1 host: its HELLO (min = max = 1) must get a HELLO_ACK it can
 * read, in version 1's layout, with no session and the shard's versions,
 * so that it says EPROTONOSUPPORT instead of timing out.
 */
static int v1_round(struct xts_link *l)
{
	struct hello_wait w = {.nonce = (__u32)rnd() | 1};
	struct xts_hello h = {0};

	drain(l);
	h.min_version = h.max_version = htole16(1);
	h.window = htole32(xts_link__window(l));
	h.max_frame = htole32(xts_link__max_frame(l));
	h.nonce = htole32(w.nonce);
	xts_link__send(l, XTS_OP_HELLO, 0, 0, 0, 0, &h, sizeof(h));
	xts_link__flush(l, false);
	if (wait_for(l, 2000, is_hello_ack, &w) < 0) {
		fprintf(stderr, "xts-fuzzq: a version 1 HELLO got no answer in 2 s\n");
		return -1;
	}
	if (w.version != 1 || w.len != sizeof(h) || w.epoch ||
	    le16toh(w.a.max_version) != XTS_PROTO_VERSION) {
		fprintf(stderr,
			"xts-fuzzq: a version 1 HELLO got version %u, %u bytes, epoch %08x\n",
			w.version, w.len, w.epoch);
		return -1;
	}
	printf("xts-fuzzq: a version 1 HELLO was refused in version 1's layout (shard speaks "
	       "%u..%u)\n",
	       le16toh(w.a.min_version), le16toh(w.a.max_version));
	return 0;
}

static int gap_round(struct xts_link *l, __u32 *epoch)
{
	long ms = gap_ends_session(l, epoch);

	if (ms < 0) {
		fprintf(stderr, "xts-fuzzq: a sequence gap (ISN + 1 after HELLO) did not end the "
				"session (no QRESET in 1 s)\n");
		return -1;
	}
	printf("xts-fuzzq: a sequence gap ended the session: QRESET after %ld ms\n", ms);
	return 0;
}

/* Random bytes behind an XTS EtherType, or a mutated valid header (now
 * and then with the live epoch).  0, or tx_raw's error (no frame free). */
static int send_mutated(struct xts_link *l, __u32 epoch)
{
	static const __u8 bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	__u8 frame[4096];
	size_t len = 14 + (size_t)(rnd() % 200);
	struct xts_hdr *h = (struct xts_hdr *)(frame + 14);

	rnd_fill(frame, len);
	memcpy(frame, bcast, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	if (rnd() & 1 && len >= 46) {
		h->version = rnd() % 8 ? XTS_PROTO_VERSION : (__u8)rnd();
		h->op = ops[rnd() % sizeof(ops)];
		/* the live epoch now and then: a gap ends the session */
		h->epoch = htole32(rnd() % 16 ? (__u32)rnd() : epoch);
		h->len = htole16(rnd() & 1 ? (__u16)(len - 46) : (__u16)rnd());
		h->reserved = 0;
	}
	return xts_link__tx_raw(l, frame, len);
}

/* Flush, read the answers, and start a new session when the shard ended
 * ours (a raw frame hit it), as a host would.  Every HELLO round (20
 * tries over 2 s) must be answered: a shard that lets one go unanswered
 * under a flood fails the test. */
static int resession(struct xts_link *l, unsigned queue, unsigned sent, __u32 *epoch)
{
	struct pollfd p = {.fd = xts_link__fd(l), .events = POLLIN};
	struct xts_link_stats st;

	xts_link__flush(l, true);
	drain(l);
	if (!xts_link__broken(l) && xts_link__tx_room(l))
		return 0;
	poll(&p, 1, 1);
	drain(l);
	if (xts_link__tx_room(l) || !hello(l, epoch))
		return 0;
	xts_link__stats(l, &st);
	fprintf(stderr,
		"xts-fuzzq: shard %u did not answer a HELLO round after %u frames (our link: tx "
		"%llu rx %llu frame_stalls %llu kick_errs %llu xsk_tx_invalid %llu stale %llu "
		"malformed %llu)\n",
		queue, sent, (unsigned long long)st.tx_frames, (unsigned long long)st.rx_frames,
		(unsigned long long)st.frame_stalls, (unsigned long long)st.kick_errs,
		(unsigned long long)st.xsk_tx_invalid, (unsigned long long)st.rx_stale,
		(unsigned long long)st.rx_malformed);
	return -1;
}

/* @frames frames, a third sequenced in the live session, the rest raw. */
static int flood(struct xts_link *l, unsigned queue, unsigned frames, __u32 *epoch)
{
	unsigned sent = 0, seqd = 0, raw = 0;
	struct xts_link_stats st;

	if (hello(l, epoch)) {
		fprintf(stderr, "xts-fuzzq: no HELLO_ACK from shard %u\n", queue);
		return -1;
	}
	for (time_t t0 = time(NULL); sent < frames && time(NULL) - t0 < 300;) {
		bool full = false;

		if (rnd() % 3 == 2 && xts_link__tx_room(l) > 0 && in_session(l))
			seqd++;
		else if (!send_mutated(l, *epoch))
			raw++;
		else
			full = true; /* flush now */
		if (!full && ++sent % 32)
			continue;
		if (resession(l, queue, sent, epoch))
			return -1;
	}
	xts_link__flush(l, true);
	xts_link__stats(l, &st);
	printf("xts-fuzzq: %u frames to queue %u (%u raw/mutated, %u sequenced in-session, "
	       "%llu of those in bundles, every HELLO answered)\n",
	       sent, queue, raw, seqd, (unsigned long long)st.tx_bundled);
	if ((xts_link__caps(l) & XTS_CAP_BUNDLE) && !st.tx_bundled) {
		fprintf(stderr, "xts-fuzzq: no message went in a bundle: the shard parsed none\n");
		return -1;
	}
	return sent == frames ? 0 : -1;
}

/* The flood, then the rounds that must end a fresh session at once. */
static int fuzz(struct xts_link *l, unsigned queue, unsigned frames)
{
	__u32 epoch = 0;

	if (flood(l, queue, frames, &epoch))
		return -1;
	if (malformed_ends_session(l, &epoch)) {
		fprintf(stderr, "xts-fuzzq: a malformed frame next in sequence did not end the "
				"session (no QRESET in 2 s)\n");
		return -1;
	}
	printf("xts-fuzzq: a malformed frame next in sequence ended the session at once\n");
	return gap_round(l, &epoch);
}

int main(int argc, char **argv)
{
	const char *ifname = "xh0";
	unsigned queue = 0, frames = 100000;
	struct xts_link_opts lo = {.sz = sizeof(lo), .xsks_map_fd = -1, .attach = true};
	struct xts_link *l;
	__u32 epoch = 0;
	char round = 0; /* -g, -f, -V: that round alone */
	int opt, err;

	rng_state = 0x9e3779b97f4a7c15ull;
	while ((opt = getopt(argc, argv, "i:q:n:s:gfV")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			queue = (unsigned)atoi(optarg);
			break;
		case 'n':
			frames = (unsigned)atoi(optarg);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'g':
		case 'f':
		case 'V':
			round = (char)opt;
			break;
		default:
			fprintf(
			    stderr,
			    "usage: xts-fuzzq [-i IF] [-q Q] [-n FRAMES] [-s SEED] [-g|-f|-V]\n");
			return 2;
		}
	}
	/* the kernel frees a queue's AF_XDP slot a moment after its last
	 * owner exits: retry EBUSY for up to 2 s, as xport_open does */
	for (int tries = 0; tries < 40; tries++) {
		err = xts_link__create(&l, ifname, queue, &lo);
		if (err != -EBUSY)
			break;
		usleep(50 * 1000);
	}
	if (err) {
		fprintf(stderr, "xts-fuzzq: AF_XDP on %s queue %u: %s\n", ifname, queue,
			strerror(-err));
		return 1;
	}
	if (round == 'g')
		err = gap_round(l, &epoch);
	else if (round == 'f')
		err = forged_round(l, &epoch);
	else if (round == 'V')
		err = v1_round(l);
	else
		err = fuzz(l, queue, frames);
	xts_link__destroy(l);
	return err ? 1 : 0;
}
