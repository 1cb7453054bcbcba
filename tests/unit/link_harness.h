/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * link_harness.h - what the link's unit tests (test_link*.c) share: a pair
 * of in-memory links "a" (the host) and "b" (the shard) in session EPOCH
 * with window W, and small helpers to send, receive and forge frames.
 * Include after cmocka.h.
 */
#ifndef XTS_LINK_HARNESS_H
#define XTS_LINK_HARNESS_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "link.h"
#include "raw_frame.h"

#define W     16
#define EPOCH 0x5eed0001u
#define BATCH 64

struct pair {
	struct xts_link *a, *b;
};

static const struct xts_link_opts small = {
    .sz = sizeof(small),
    .frames = 256,
    .frame_size = 2048,
    .ring_size = 128,
    .window = W,
};

static inline void session(struct xts_link *l, struct xts_link *peer, __u32 epoch)
{
	xts_link__session(l, epoch, xts_link__window(peer), xts_link__max_frame(peer),
			  xts_link__mac(peer));
}

static inline int setup(void **state)
{
	static struct pair p;

	if (xts_link__create_pair(&p.a, &p.b, &small))
		return -1;
	session(p.a, p.b, EPOCH);
	session(p.b, p.a, EPOCH);
	*state = &p;
	return 0;
}

static inline int teardown(void **state)
{
	struct pair *p = *state;

	xts_link__destroy(p->a);
	xts_link__destroy(p->b);
	return 0;
}

static inline int send_one(struct xts_link *l, enum xts_op op)
{
	__u8 byte = 'x';

	return xts_link__send(l, op, 0, 1, 2, 0, &byte, op == XTS_OP_DATA ? 1 : 0);
}

/* Sequenced DATA frames until the link refuses; returns how many went. */
static inline unsigned fill_window(struct xts_link *l)
{
	unsigned n = 0;
	int err;

	while (!(err = send_one(l, XTS_OP_DATA)))
		n++;
	assert_int_equal(err, -EAGAIN);
	return n;
}

/* Receive everything waiting (at most @max per call); returns the
 * frames delivered, their ops in ops[] when given. */
static inline unsigned recv_all(struct xts_link *l, unsigned max, __u16 *ops)
{
	struct xts_msg m[BATCH];
	unsigned got = 0;
	int n;

	while ((n = xts_link__rx(l, m, max)) > 0 || xts_link__rx_ready(l)) {
		for (int i = 0; i < n; i++)
			if (ops)
				ops[got + (unsigned)i] = m[i].op;
		got += (unsigned)(n > 0 ? n : 0);
		xts_link__rx_done(l);
	}
	xts_link__rx_done(l);
	return got;
}

static inline __u32 peer_ack(struct xts_link *l)
{
	__u32 t, r, pa;

	xts_link__seq_state(l, &t, &r, &pa);
	return pa;
}

static inline __u32 rx_seq(struct xts_link *l)
{
	__u32 t, r, pa;

	xts_link__seq_state(l, &t, &r, &pa);
	return r;
}

static inline struct xts_link_stats stats(struct xts_link *l)
{
	struct xts_link_stats st;

	xts_link__stats(l, &st);
	return st;
}

static inline size_t raw_frame(__u8 *f, struct xts_link *from, struct xts_link *to, enum xts_op op,
			       __u32 epoch, __u32 seq, __u32 ack)
{
	return raw_frame_mac(f, xts_link__mac(from), xts_link__mac(to), op, epoch, seq, ack);
}

#endif
