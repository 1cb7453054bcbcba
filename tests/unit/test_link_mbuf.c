// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_link_mbuf.c - multi-buffer frames (docs/protocol.md, "Multi-buffer
 * frames") on the in-memory pair with a 65,535-byte MTU: the pair cuts a
 * frame across the receiver's fill frames as the kernel does, so the
 * link's tx slots, its reassembly of "more" descriptors, the window in
 * frames and the XTS_CAP_MBUF negotiation run here as over AF_XDP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "link_harness.h"

#define MTU 65535

static __u8 blob[65536];

static const struct xts_link_opts big = {
    .sz = sizeof(big),
    .frames = 4096,
    .frame_size = 4096,
    .ring_size = 2048,
    .window = 128,
    .mtu = MTU,
};

/* The largest frame a 16-chunk slot holds, and a 4 KiB chunk's (the
 * in-memory wire carries MTU + Ethernet header). */
#define MBUF_FRAME  (16 * 4096 - XTS_LINK_PAD)
#define CHUNK_FRAME (4096 - 256 - XTS_LINK_PAD)

/* A session as HELLO/HELLO_ACK make it: @a the host (it announced
 * first), @b the shard (it answers), each with the other's caps. */
static void sess(struct pair *p, __u64 a_caps, __u64 b_caps)
{
	__u32 aw = xts_link__window(p->a), amf = xts_link__max_frame(p->a);

	xts_link__session(p->b, EPOCH, aw, amf, xts_link__mac(p->a));
	xts_link__peer_caps(p->b, a_caps, true);
	xts_link__session(p->a, EPOCH, xts_link__window(p->b), xts_link__max_frame(p->b),
			  xts_link__mac(p->b));
	xts_link__peer_caps(p->a, b_caps, false);
}

static int setup_big(void **state)
{
	static struct pair p;

	if (xts_link__create_pair(&p.a, &p.b, &big))
		return -1;
	*state = &p;
	return 0;
}

static __u8 pat(size_t i, unsigned salt)
{
	return (__u8)((i * 131 + salt * 7 + (i >> 9)) & 0xff);
}

/*
 * @n DATA frames of @len bytes from @tx to @rx, each filled in place in
 * its reserved frame, received and checked byte for byte; returns the
 * frames that spanned several chunks at the receiver.
 */
static __u64 stream(struct xts_link *tx, struct xts_link *rx, unsigned n, size_t len)
{
	struct xts_link_stats s0, s1;
	unsigned sent = 0, got = 0;

	xts_link__stats(rx, &s0);
	while (got < n) {
		struct xts_msg m[BATCH];
		struct xts_txf f;
		int k, i;

		while (sent < n && !xts_link__tx_reserve(tx, true, &f)) {
			size_t j;

			assert_true(f.cap >= len);
			for (j = 0; j < len; j++)
				((__u8 *)f.payload)[j] = pat(j, sent);
			assert_int_equal(xts_link__tx_submit(tx, &f, XTS_OP_DATA, 0, 1, 2, 0, len),
					 0);
			sent++;
		}
		assert_true(xts_link__flush(tx, false) >= 0);
		k = xts_link__rx(rx, m, BATCH);
		assert_true(k > 0);
		for (i = 0; i < k; i++) {
			size_t j;

			assert_int_equal(m[i].op, XTS_OP_DATA);
			assert_int_equal(m[i].len, len);
			for (j = 0; j < len; j++)
				if (((const __u8 *)m[i].payload)[j] != pat(j, got))
					fail_msg("frame %u byte %zu differs", got, j);
			got++;
		}
		xts_link__rx_done(rx);
		xts_link__flush(rx, false); /* acks open the window again */
		xts_link__rx(tx, m, BATCH); /* and the sender takes them */
		xts_link__rx_done(tx);
	}
	xts_link__stats(rx, &s1);
	assert_int_equal(s1.rx_malformed, s0.rx_malformed);
	assert_int_equal(s1.seq_gaps, 0);
	return s1.rx_mbuf - s0.rx_mbuf;
}

/* Both with the cap: frames of up to 16 chunks both ways, byte-exact,
 * through many windows (the slots and the fill side cycle). */
static void test_both_ways(void **state)
{
	struct pair *p = *state;
	size_t len = MBUF_FRAME - XTS_PAYLOAD_OFF;
	struct xts_link_stats st;

	assert_int_equal(xts_link__caps(p->a), XTS_CAP_MBUF | XTS_CAP_BUNDLE);
	assert_int_equal(xts_link__max_frame(p->a), MBUF_FRAME);
	sess(p, XTS_CAP_MBUF, XTS_CAP_MBUF);
	assert_int_equal(xts_link__max_frame(p->a), MBUF_FRAME);
	assert_int_equal(xts_link__max_frame(p->b), MBUF_FRAME);
	assert_int_equal(stream(p->a, p->b, 200, len), 200);
	assert_int_equal(stream(p->b, p->a, 200, len), 200);
	/* sizes around the chunk boundaries, one by one */
	assert_int_equal(stream(p->a, p->b, 3, CHUNK_FRAME - XTS_PAYLOAD_OFF), 0);
	assert_int_equal(stream(p->a, p->b, 3, CHUNK_FRAME - XTS_PAYLOAD_OFF + 1), 3);
	assert_int_equal(stream(p->b, p->a, 3, 4096 - XTS_LINK_PAD - XTS_PAYLOAD_OFF + 1), 3);
	xts_link__stats(p->a, &st);
	assert_true(st.tx_mbuf >= 200);
	assert_int_equal(st.xsk_rx_dropped, 0);
}

/*
 * The window counts frames: a multi-buffer receiver announces fewer of
 * them (the chunks of two one-chunk windows in frames of 18 chunks: 14),
 * and the answering side goes back to the one-chunk window for a peer
 * without the cap; the host keeps what its HELLO announced.
 */
static void test_window(void **state)
{
	struct pair *p = *state;

	assert_int_equal(xts_link__window(p->a), 2 * 128 / 18);
	sess(p, 0, XTS_CAP_MBUF);
	assert_int_equal(xts_link__window(p->b), 128);
	assert_int_equal(xts_link__window(p->a), 2 * 128 / 18);
	sess(p, XTS_CAP_MBUF, XTS_CAP_MBUF);
	assert_int_equal(xts_link__window(p->b), 2 * 128 / 18);
	/* the sender holds to it: a window of frames, then -EAGAIN */
	assert_int_equal(fill_window(p->a), 2 * 128 / 18);
}

/*
 * A peer without XTS_CAP_MBUF gets frames of one chunk, whatever
 * max_frame it announced (an old peer that announced a large value by
 * mistake could not take them).
 */
static void test_old_peer(void **state)
{
	struct pair *p = *state;
	struct xts_txf f;

	/* the shard is old: no cap, though its max_frame says 65,518 */
	sess(p, XTS_CAP_MBUF, 0);
	assert_int_equal(xts_link__max_frame(p->a), CHUNK_FRAME);
	assert_int_equal(xts_link__tx_reserve(p->a, true, &f), 0);
	assert_int_equal(f.cap, CHUNK_FRAME - XTS_PAYLOAD_OFF);
	xts_link__tx_cancel(p->a, &f);
	assert_int_equal(stream(p->a, p->b, 300, CHUNK_FRAME - XTS_PAYLOAD_OFF), 0);
	/* the host is old: the shard answers in one-chunk frames too */
	sess(p, 0, XTS_CAP_MBUF);
	assert_int_equal(xts_link__max_frame(p->b), CHUNK_FRAME);
	assert_int_equal(stream(p->b, p->a, 300, CHUNK_FRAME - XTS_PAYLOAD_OFF), 0);
	/* a frame past the limit is refused, not cut */
	assert_int_equal(xts_link__send(p->b, XTS_OP_DATA, 0, 1, 2, 0, blob, CHUNK_FRAME),
			 -EMSGSIZE);
}

/* The caps bit and max_frame cross the wire in HELLO: what the codec
 * parses is what the link announced. */
static void test_hello_codec(void **state)
{
	struct pair *p = *state;
	struct xts_hello h, got;
	struct xts_msg m;

	memset(&h, 0, sizeof(h));
	h.min_version = h.max_version = htole16(XTS_PROTO_VERSION);
	h.window = htole32(xts_link__window(p->a));
	h.max_frame = htole32(xts_link__max_frame(p->a));
	h.caps = htole64(XTS_CAP_IPV6 | xts_link__caps(p->a));
	assert_int_equal(xts_link__send(p->a, XTS_OP_HELLO, 0, 0, 0, 0, &h, sizeof(h)), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(xts_link__rx(p->b, &m, 1), 1);
	assert_int_equal(m.op, XTS_OP_HELLO);
	memcpy(&got, m.payload, sizeof(got));
	xts_link__rx_done(p->b);
	assert_int_equal(le64toh(got.caps), XTS_CAP_IPV6 | XTS_CAP_MBUF | XTS_CAP_BUNDLE);
	assert_int_equal(le64toh(got.caps) & (1ull << 5), XTS_CAP_MBUF); /* bit 5 on the wire */
	assert_int_equal(le32toh(got.max_frame), MBUF_FRAME);
	assert_int_equal(le32toh(got.window), 2 * 128 / 18);
}

/* A pair without an MTU keeps one-chunk frames and no cap: the link's
 * one-chunk behaviour is untouched. */
static void test_no_mtu(void **state)
{
	struct xts_link_opts o = big;
	struct xts_link *a, *b;

	(void)state;
	o.mtu = 0;
	assert_int_equal(xts_link__create_pair(&a, &b, &o), 0);
	assert_int_equal(xts_link__caps(a), XTS_CAP_BUNDLE);
	assert_int_equal(xts_link__max_frame(a), CHUNK_FRAME);
	assert_int_equal(xts_link__window(a), 128);
	xts_link__destroy(a);
	xts_link__destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_both_ways, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_window, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_old_peer, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_hello_codec, setup_big, teardown),
	    cmocka_unit_test(test_no_mtu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
