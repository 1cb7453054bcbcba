/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xport_peer.h - what the host-engine unit tests (test_xport*.c) share:
 * libxport opened over one end of an in-memory link pair (xp_open_link),
 * the test playing the shard on the other end with raw frames.  The peer
 * acks only when the test says so (peer_ack): a peer that reads and never
 * sends leaves the host's window shut.  Include after cmocka.h.
 */
#ifndef XTS_XPORT_PEER_H
#define XTS_XPORT_PEER_H

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "xport_int.h"

#define PW	  16 /* the host's window to the peer, in frames */
#define PEPOCH	  0x7e570001u
#define HOST_ISN  1000u
#define DPU_ISN	  5000u
#define P_RCVBUF  4096u /* the host's receive buffer: the credit it grants */
#define P_CONNBUF 65536u

static const struct xts_link_opts peer_link_opts = {
    .sz = sizeof(peer_link_opts),
    .frames = 512,
    .frame_size = 2048,
    .ring_size = 256,
    .window = PW,
};

struct peer {
	struct xts_link *a, *b; /* a: libxport's, b: the test's (the shard) */
	struct xport *xp;
	int hello_err; /* what the fake shard answers the first HELLO with */
	__u64 caps;    /* XTS_CAP_* the fake shard announces */
	__u32 last_nonce;
};

/* A frame the host sent, copied out of the ring. */
struct got {
	__u16 op, flags;
	__u32 dst, src, credit, epoch, seq;
	bool noseq;
	size_t len;
	__u8 pl[2048];
};

static inline void peer_session(struct peer *p)
{
	xts_link__session(p->b, PEPOCH, xts_link__window(p->a), xts_link__max_frame(p->a),
			  xts_link__mac(p->a));
	xts_link__isn(p->b, DPU_ISN, HOST_ISN);
}

/* Answer a HELLO (the shard's part of attaching). */
static inline void peer_hello_ack(struct peer *p, __u32 nonce, int err, __u32 epoch)
{
	struct xts_hello_ack r;

	memset(&r, 0, sizeof(r));
	r.min_version = r.max_version = htole16(XTS_PROTO_VERSION);
	r.nonce = htole32(nonce);
	r.err = (__s32)htole32((__u32)err);
	r.window = htole32(xts_link__window(p->b));
	r.max_frame = htole32(xts_link__max_frame(p->b));
	r.max_conns = htole32(1000);
	r.caps = htole64(p->caps);
	r.host_isn = htole32(HOST_ISN);
	r.dpu_isn = htole32(DPU_ISN);
	if (!err && epoch) {
		xts_link__session(p->b, epoch, xts_link__window(p->a), xts_link__max_frame(p->a),
				  xts_link__mac(p->a));
		xts_link__isn(p->b, DPU_ISN, HOST_ISN);
	}
	xts_link__send(p->b, XTS_OP_HELLO_ACK, 0, 0, 0, 0, &r, sizeof(r));
	xts_link__flush(p->b, false);
}

/* The next HELLO's nonce (waits up to 2 s for it), 0 if none came. */
static inline __u32 peer_wait_hello(struct peer *p)
{
	struct pollfd pf = {.fd = xts_link__fd(p->b), .events = POLLIN};
	struct xts_msg m[8];
	__u32 nonce = 0;
	int i, n, tries;

	for (tries = 0; tries < 200 && !nonce; tries++) {
		poll(&pf, 1, 10);
		n = xts_link__rx(p->b, m, 8);
		for (i = 0; i < n; i++) {
			struct xts_hello h;

			if (m[i].op != XTS_OP_HELLO)
				continue;
			memcpy(&h, m[i].payload, sizeof(h));
			nonce = le32toh(h.nonce);
		}
		xts_link__rx_done(p->b);
	}
	return nonce;
}

static inline void *peer_hello_thread(void *arg)
{
	struct peer *p = arg;
	__u32 nonce = peer_wait_hello(p);

	if (nonce) {
		p->last_nonce = nonce;
		peer_hello_ack(p, nonce, p->hello_err, p->hello_err ? 0 : PEPOCH);
	}
	return NULL;
}

/* libxport over a new pair, attached: 0 or xp_open_link's -errno.  The
 * fake shard answers from a thread, since xp_open_link blocks. */
static inline int peer_open_opts(struct peer *p, const struct xport_opts *o)
{
	struct xport_opts def = {.sz = sizeof(def), .rcvbuf = P_RCVBUF, .hello_timeout_ms = 2000};
	pthread_t t;
	int err;

	if (xts_link__create_pair(&p->a, &p->b, &peer_link_opts))
		return -ENOMEM;
	if (pthread_create(&t, NULL, peer_hello_thread, p))
		return -EAGAIN;
	err = xp_open_link(&p->xp, p->a, o ? o : &def); /* takes a, even on failure */
	pthread_join(t, NULL);
	if (err) {
		p->xp = NULL;
		xts_link__destroy(p->b);
		p->b = NULL;
	}
	return err;
}

static inline int peer_setup(void **state)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p || peer_open_opts(p, NULL))
		return -1;
	*state = p;
	return 0;
}

static inline int peer_teardown(void **state)
{
	struct peer *p = *state;

	if (p->xp)
		xport_close_queue(p->xp); /* 500 ms if a CLOSE waits on a shut window */
	if (p->b)
		xts_link__destroy(p->b);
	free(p);
	return 0;
}

/* Everything that waits on the peer's side, copied into @g (at most
 * @max); does not ack.  Works after the host's end is gone, too. */
static inline unsigned peer_rx_link(struct peer *p, struct got *g, unsigned max)
{
	struct xts_msg m[64];
	unsigned got = 0;
	int i, n;

	while ((n = xts_link__rx(p->b, m, 64)) > 0) {
		for (i = 0; i < n && got < max; i++, got++) {
			g[got].op = m[i].op;
			g[got].flags = m[i].flags;
			g[got].dst = m[i].dst_id;
			g[got].src = m[i].src_id;
			g[got].credit = m[i].credit;
			g[got].epoch = m[i].epoch;
			g[got].seq = m[i].seq;
			g[got].noseq = xts_proto_op_noseq((enum xts_op)m[i].op);
			g[got].len = m[i].len;
			memcpy(g[got].pl, m[i].payload, m[i].len);
		}
		xts_link__rx_done(p->b);
	}
	xts_link__rx_done(p->b);
	return got;
}

/* Everything the host sent, its batch flushed first. */
static inline unsigned peer_rx(struct peer *p, struct got *g, unsigned max)
{
	xport_flush(p->xp);
	return peer_rx_link(p, g, max);
}

/* The peer acks what it has read (a pure ACK). */
static inline void peer_ack(struct peer *p)
{
	xts_link__flush(p->b, true);
}

/* A frame from the peer (carrying its ack of what it read, as every
 * frame does), delivered to the host's engine. */
static inline void peer_send(struct peer *p, enum xts_op op, __u16 flags, __u32 dst, __u32 src,
			     __u32 credit, const void *pl, size_t len)
{
	assert_int_equal(xts_link__send(p->b, op, flags, dst, src, credit, pl, len), 0);
	xts_link__flush(p->b, false);
	xport_process(p->xp);
}

/* The peer, from a thread while the host blocks in a call: wait for a
 * frame of op @want and answer it with @reply (dst its src, src
 * @reply_src, payload @pl). */
struct peer_answer {
	struct peer *p;
	__u16 want, reply;
	__u32 reply_src;
	const void *pl;
	size_t len;
	pthread_t t;
};

static inline void *peer_answer_thread(void *arg)
{
	struct peer_answer *a = arg;
	struct pollfd pf = {.fd = xts_link__fd(a->p->b), .events = POLLIN};
	struct xts_msg m[16];
	__u32 dst = 0;
	int i, n, tries;

	for (tries = 0; tries < 200 && !dst; tries++) {
		poll(&pf, 1, 10);
		n = xts_link__rx(a->p->b, m, 16);
		for (i = 0; i < n; i++)
			if (m[i].op == a->want)
				dst = m[i].src_id;
		xts_link__rx_done(a->p->b);
	}
	if (dst) {
		xts_link__send(a->p->b, (enum xts_op)a->reply, 0, dst, a->reply_src, 0, a->pl,
			       a->len);
		xts_link__flush(a->p->b, false);
	}
	return NULL;
}

static inline void peer_answer_start(struct peer_answer *a)
{
	assert_int_equal(pthread_create(&a->t, NULL, peer_answer_thread, a), 0);
}

static inline void peer_answer_join(struct peer_answer *a)
{
	pthread_join(a->t, NULL);
}

static inline struct xts_addr peer_addr(const char *ip, unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct xts_addr x;

	inet_pton(AF_INET, ip, &a.sin_addr);
	xts_addr_from_sockaddr(&x, (struct sockaddr *)&a, sizeof(a));
	return x;
}

/* A connected socket: CONNECT from the host, CONNECT_RES with @credit
 * (the host's send credit) naming DPU connection @dpu_id.  The sd. */
static inline int peer_connect(struct peer *p, __u32 dpu_id, __u32 credit)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7)};
	struct xts_conn_res r;
	struct got g[8];
	unsigned n, i;
	int sd;

	inet_pton(AF_INET, "198.18.0.2", &a.sin_addr);
	sd = xport_socket(p->xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(sd > 0);
	assert_int_equal(xport_connect(p->xp, sd, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, EINPROGRESS);
	n = peer_rx(p, g, 8);
	for (i = 0; i < n && g[i].op != XTS_OP_CONNECT; i++)
		;
	assert_true(i < n);
	assert_int_equal(g[i].src, (__u32)sd);
	assert_int_equal(g[i].credit, P_RCVBUF); /* the first grant: all of rcvbuf */
	memset(&r, 0, sizeof(r));
	r.local = peer_addr("198.18.0.1", 40000 + (dpu_id & 0xfff));
	r.peer = peer_addr("198.18.0.2", 7);
	peer_send(p, XTS_OP_CONNECT_RES, 0, (__u32)sd, dpu_id, credit, &r, sizeof(r));
	peer_ack(p);
	xport_process(p->xp);
	return sd;
}

/* Frames of op @op in g[0..n). */
static inline unsigned count_op(const struct got *g, unsigned n, __u16 op)
{
	unsigned i, c = 0;

	for (i = 0; i < n; i++)
		c += g[i].op == op;
	return c;
}

static inline unsigned count_seq(const struct got *g, unsigned n)
{
	unsigned i, c = 0;

	for (i = 0; i < n; i++)
		c += !g[i].noseq;
	return c;
}

#endif
