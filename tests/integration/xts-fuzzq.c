// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-fuzzq - feed a shard's queue random and mutated frames through a real
 * AF_XDP socket on the host side.
 *
 *   xts-fuzzq [-i IF] [-q Q] [-n FRAMES] [-s SEED] [-g]
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
 * check).
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

static int hello(struct xts_link *l, __u32 *epoch)
{
	struct xts_hello h = {0};
	struct xts_msg m[16];

	h.min_version = h.max_version = htole16(XTS_PROTO_VERSION);
	h.window = htole32(xts_link__window(l));
	h.max_frame = htole32(xts_link__max_frame(l));
	for (__u32 tries = 0; tries < 20; tries++) {
		struct pollfd p = {.fd = xts_link__fd(l), .events = POLLIN};
		/* a fresh nonce per attempt: an answer to an older HELLO
		 * names a session the shard has already ended */
		__u32 nonce = (__u32)rnd() | 1;
		struct timespec t0, t;

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
					const struct xts_hello *a = m[i].payload;

					if (m[i].op != XTS_OP_HELLO_ACK || !m[i].epoch ||
					    le32toh(a->nonce) != nonce)
						continue;
					*epoch = m[i].epoch;
					memcpy(shard_mac, m[i].src_mac, XTS_MAC_LEN);
					xts_link__session(l, m[i].epoch, le32toh(a->window),
							  le32toh(a->max_frame), m[i].src_mac);
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

/* Wait up to @ms for a QRESET of @epoch; its delay in ms, or -1. */
static long wait_qreset(struct xts_link *l, __u32 epoch, long ms)
{
	struct timespec t0, t;
	struct xts_msg m[64];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = xts_link__fd(l), .events = POLLIN};
		long el;
		int n;

		while ((n = xts_link__rx(l, m, 64)) > 0 || xts_link__rx_ready(l)) {
			for (int i = 0; i < n; i++)
				if (m[i].op == XTS_OP_QRESET && m[i].epoch == epoch) {
					xts_link__rx_done(l);
					clock_gettime(CLOCK_MONOTONIC, &t);
					return (t.tv_sec - t0.tv_sec) * 1000 +
					       (t.tv_nsec - t0.tv_nsec) / 1000000;
				}
			xts_link__rx_done(l);
		}
		xts_link__rx_done(l);
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= ms)
			return -1;
		poll(&p, 1, (int)(ms - el < 100 ? ms - el : 100));
	}
}

/*
 * In a fresh session, a plain gap: the first sequenced frame says seq 1
 * where 0 is next (frame 0 "lost").  A lossless queue that loses a frame
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
	h->seq = htole32(1); /* 0 is next */
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

static int gap_round(struct xts_link *l, __u32 *epoch)
{
	long ms = gap_ends_session(l, epoch);

	if (ms < 0) {
		fprintf(stderr, "xts-fuzzq: a sequence gap (seq 1 after HELLO) did not end the "
				"session (no QRESET in 1 s)\n");
		return -1;
	}
	printf("xts-fuzzq: a sequence gap ended the session: QRESET after %ld ms\n", ms);
	return 0;
}

int main(int argc, char **argv)
{
	const char *ifname = "xh0";
	unsigned queue = 0, frames = 100000, sent = 0, seqd = 0, raw = 0;
	__u8 frame[4096], bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct xts_link_opts lo = {.sz = sizeof(lo), .xsks_map_fd = -1, .attach = true};
	struct xts_link *l;
	__u32 epoch = 0;
	bool gap_only = false;
	int opt, err;

	rng_state = 0x9e3779b97f4a7c15ull;
	while ((opt = getopt(argc, argv, "i:q:n:s:g")) != -1) {
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
			gap_only = true;
			break;
		default:
			fprintf(stderr,
				"usage: xts-fuzzq [-i IF] [-q Q] [-n FRAMES] [-s SEED] [-g]\n");
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
	if (gap_only) {
		err = gap_round(l, &epoch);
		xts_link__destroy(l);
		return err ? 1 : 0;
	}
	if ((err = hello(l, &epoch))) {
		fprintf(stderr, "xts-fuzzq: no HELLO_ACK from shard %u\n", queue);
		return 1;
	}
	for (time_t t0 = time(NULL); sent < frames && time(NULL) - t0 < 300;) {
		unsigned kind = (unsigned)(rnd() % 3);

		if (kind == 2 && xts_link__tx_room(l) > 0) {
			if (in_session(l))
				seqd++;
			else
				goto raw;
		} else {
		raw:;
			/* raw: random bytes, or a mutated valid header */
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
			if (xts_link__tx_raw(l, frame, len))
				goto flush;
			raw++;
		}
		sent++;
		if (sent % 32)
			continue;
	flush:
		xts_link__flush(l, true);
		drain(l);
		if (xts_link__broken(l) || !xts_link__tx_room(l)) {
			/* the shard ended the session (a raw frame hit it):
			 * start a new one, as a host would */
			struct pollfd p = {.fd = xts_link__fd(l), .events = POLLIN};

			poll(&p, 1, 1);
			drain(l);
			/* Every HELLO round (20 tries over 2 s) must be
			 * answered: a shard that lets one go unanswered
			 * under a flood fails the test. */
			if (!xts_link__tx_room(l) && hello(l, &epoch)) {
				struct xts_link_stats st;

				xts_link__stats(l, &st);
				fprintf(stderr,
					"xts-fuzzq: shard %u did not answer a HELLO round after "
					"%u frames (our link: tx %llu rx %llu frame_stalls %llu "
					"kick_errs %llu xsk_tx_invalid %llu stale %llu malformed "
					"%llu)\n",
					queue, sent, (unsigned long long)st.tx_frames,
					(unsigned long long)st.rx_frames,
					(unsigned long long)st.frame_stalls,
					(unsigned long long)st.kick_errs,
					(unsigned long long)st.xsk_tx_invalid,
					(unsigned long long)st.rx_stale,
					(unsigned long long)st.rx_malformed);
				return 1;
			}
		}
	}
	xts_link__flush(l, true);
	printf("xts-fuzzq: %u frames to queue %u (%u raw/mutated, %u sequenced in-session, "
	       "every HELLO answered)\n",
	       sent, queue, raw, seqd);
	if (malformed_ends_session(l, &epoch)) {
		fprintf(stderr, "xts-fuzzq: a malformed frame next in sequence did not end the "
				"session (no QRESET in 2 s)\n");
		xts_link__destroy(l);
		return 1;
	}
	printf("xts-fuzzq: a malformed frame next in sequence ended the session at once\n");
	if (gap_round(l, &epoch)) {
		xts_link__destroy(l);
		return 1;
	}
	xts_link__destroy(l);
	return sent == frames ? 0 : 1;
}
