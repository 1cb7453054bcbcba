// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_link_bundle.c - bundles (docs/protocol.md, "Bundles"): several
 * sequenced messages in one frame, over the in-memory pair.  They join only
 * when both ends announced XTS_CAP_BUNDLE; the frame counts once in the
 * window; sequence order stays wire order whatever interleaves; a receiver
 * that takes fewer messages per call than a bundle holds gets the rest on
 * the next call, without a sequence gap; a malformed message anywhere in a
 * bundle makes the whole frame malformed; only a frame's first payload is
 * lent (64-byte aligned); a new session drops the open bundle.
 *
 * "a" plays the host, "b" the shard.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "link_harness.h"

/* Both ends in session EPOCH, each with the other's caps as sent. */
static int setup_bnd(void **state)
{
	int err = setup(state);
	struct pair *p = *state;

	if (err)
		return err;
	xts_link__peer_caps(p->a, xts_link__caps(p->b), false);
	xts_link__peer_caps(p->b, xts_link__caps(p->a), true);
	return 0;
}

/* DATA on connection @id carrying @n bytes of @v. */
static int data(struct xts_link *l, __u32 id, __u8 v, size_t n)
{
	__u8 buf[2048];

	memset(buf, v, n);
	return xts_link__send(l, XTS_OP_DATA, 0, id, id + 100, id * 3, buf, n);
}

/* Ten small messages of ten connections go in one frame, in order, each
 * byte-exact, with its own ids and credit; the window counts one frame. */
static void test_ten_in_one(void **state)
{
	struct pair *p = *state;
	struct xts_msg m[BATCH];
	__u32 tx, rx, ack;
	int i, n;

	assert_true(xts_link__caps(p->a) & XTS_CAP_BUNDLE);
	for (i = 0; i < 10; i++)
		assert_int_equal(data(p->a, (__u32)i + 1, (__u8)i, 10 + (size_t)i), 0);
	assert_int_equal(xts_link__unkicked(p->a), 1); /* the open bundle */
	assert_int_equal(xts_link__tx_room(p->a), W - 1);
	xts_link__seq_state(p->a, &tx, &rx, &ack);
	assert_int_equal(tx, 1);
	assert_int_equal(xts_link__flush(p->a, false), 1);
	assert_int_equal(stats(p->a).tx_frames, 1);
	assert_int_equal(stats(p->a).tx_bundled, 9);

	n = xts_link__rx(p->b, m, BATCH);
	assert_int_equal(n, 10);
	for (i = 0; i < 10; i++) {
		assert_int_equal(m[i].op, XTS_OP_DATA);
		assert_int_equal(m[i].dst_id, (__u32)i + 1);
		assert_int_equal(m[i].src_id, (__u32)i + 101);
		assert_int_equal(m[i].credit, ((__u32)i + 1) * 3);
		assert_int_equal(m[i].len, 10 + i);
		assert_int_equal(m[i].epoch, EPOCH);
		assert_int_equal(((const __u8 *)m[i].payload)[0], i);
		assert_int_equal(((const __u8 *)m[i].payload)[m[i].len - 1], i);
		assert_int_equal(!!(m[i].flags & XTS_F_BUNDLE), i < 9);
	}
	xts_link__rx_done(p->b);
	assert_int_equal(rx_seq(p->b), 1);
	assert_int_equal(stats(p->b).rx_frames, 1);
	assert_int_equal(stats(p->b).rx_bundled, 9);
	assert_int_equal(stats(p->b).rx_malformed + stats(p->b).seq_gaps, 0);
}

/* A peer without the cap never gets a bundle: one frame per message. */
static void test_peer_without_cap(void **state)
{
	struct pair *p = *state;
	int i;

	xts_link__peer_caps(p->a, 0, false);
	for (i = 0; i < 10; i++)
		assert_int_equal(data(p->a, 1, 'x', 10), 0);
	assert_int_equal(xts_link__unkicked(p->a), 10);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 10);
	assert_int_equal(stats(p->b).rx_frames, 10);
	assert_int_equal(stats(p->b).rx_bundled, 0);
	assert_int_equal(rx_seq(p->b), 10);
}

/* XTS_BUNDLE=0: the link neither announces the cap nor bundles. */
static void test_env_off(void **state)
{
	struct xts_link *a, *b;
	int i;

	(void)state;
	setenv(XTS_LINK_BUNDLE_ENV, "0", 1);
	assert_int_equal(xts_link__create_pair(&a, &b, &small), 0);
	unsetenv(XTS_LINK_BUNDLE_ENV);
	assert_int_equal(xts_link__caps(a) & XTS_CAP_BUNDLE, 0);
	session(a, b, EPOCH);
	session(b, a, EPOCH);
	xts_link__peer_caps(a, XTS_CAP_BUNDLE, false); /* the peer says yes: we still do not */
	for (i = 0; i < 4; i++)
		assert_int_equal(data(a, 1, 'x', 10), 0);
	assert_int_equal(xts_link__unkicked(a), 4);
	xts_link__destroy(a);
	xts_link__destroy(b);
}

/* Messages that no longer fit start the next frame; the frames never
 * pass the session's max frame, and no message is lost or reordered. */
static void test_full_frames(void **state)
{
	struct pair *p = *state;
	struct xts_msg m[BATCH];
	unsigned got = 0, frames;
	int i, n;

	for (i = 0; i < 40; i++) /* 40 x (32 + 200) bytes: several frames of 2 KiB chunks */
		assert_int_equal(data(p->a, (__u32)i + 1, (__u8)i, 200), 0);
	xts_link__flush(p->a, false);
	frames = (unsigned)stats(p->a).tx_frames;
	assert_true(frames >= 40 * 232 / xts_link__max_frame(p->a));
	assert_true(frames < 10);
	while ((n = xts_link__rx(p->b, m, BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			assert_int_equal(m[i].dst_id, got + 1);
			assert_int_equal(((const __u8 *)m[i].payload)[199], (__u8)got);
			got++;
		}
		xts_link__rx_done(p->b);
	}
	assert_int_equal(got, 40);
	assert_int_equal(rx_seq(p->b), frames);
	assert_int_equal(stats(p->b).seq_gaps, 0);
}

/* No more than XTS_BUNDLE_MAX messages in a frame, however small (4 KiB
 * chunks: 118 empty messages would fit). */
static void test_count_bound(void **state)
{
	struct xts_link_opts o = small;
	struct pair q;
	int i;

	(void)state;
	o.frame_size = 4096;
	assert_int_equal(xts_link__create_pair(&q.a, &q.b, &o), 0);
	session(q.a, q.b, EPOCH);
	session(q.b, q.a, EPOCH);
	xts_link__peer_caps(q.a, XTS_CAP_BUNDLE, false);
	xts_link__peer_caps(q.b, XTS_CAP_BUNDLE, true);
	for (i = 0; i < XTS_BUNDLE_MAX + 1; i++)
		assert_int_equal(xts_link__send(q.a, XTS_OP_CREDIT, 0, 1, 2, 1, NULL, 0), 0);
	xts_link__flush(q.a, false);
	assert_int_equal(stats(q.a).tx_frames, 2);
	assert_int_equal(recv_all(q.b, BATCH, NULL), XTS_BUNDLE_MAX + 1);
	assert_int_equal(rx_seq(q.b), 2);
	xts_link__destroy(q.a);
	xts_link__destroy(q.b);
}

/* A receiver taking 4 messages a call gets a bundle of 10 over three
 * calls: the frame is judged once (no gap), then delivered in parts. */
static void test_partial_delivery(void **state)
{
	struct pair *p = *state;
	struct xts_msg m[4];
	unsigned got = 0;
	int i, n, calls = 0;

	for (i = 0; i < 10; i++)
		assert_int_equal(data(p->a, (__u32)i + 1, (__u8)i, 20), 0);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0); /* joins: the 11th */
	assert_int_equal(data(p->a, 77, 'z', 1500), 0);	  /* too big to join: the next frame */
	xts_link__flush(p->a, false);
	assert_int_equal(stats(p->a).tx_frames, 2);
	while ((n = xts_link__rx(p->b, m, 4)) > 0) {
		calls++;
		for (i = 0; i < n; i++, got++)
			if (got < 10)
				assert_int_equal(m[i].dst_id, got + 1);
		xts_link__rx_done(p->b);
	}
	assert_int_equal(got, 12);
	assert_true(calls >= 3); /* 4 + 4 + (3 and the next frame) */
	assert_int_equal(rx_seq(p->b), 2);
	assert_int_equal(stats(p->b).seq_gaps + stats(p->b).rx_malformed, 0);
}

/* A NOSEQ frame may pass the open bundle; a sequenced frame that cannot
 * join closes it first, so the receiver sees seqs in order. */
static void test_order(void **state)
{
	struct pair *p = *state;
	__u16 ops[BATCH];

	assert_int_equal(data(p->a, 1, 'a', 10), 0);
	assert_int_equal(xts_link__send(p->a, XTS_OP_PING, 0, 0, 0, 0, "12345678", 8), 0);
	assert_int_equal(data(p->a, 2, 'b', 1700), 0); /* cannot join */
	assert_int_equal(data(p->a, 3, 'c', 10), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, ops), 4);
	assert_int_equal(ops[0], XTS_OP_PING);
	assert_int_equal(rx_seq(p->b), 3);
	assert_int_equal(stats(p->b).seq_gaps, 0);
}

/* A QRESET of the session (the host's graceful end after its last
 * CLOSEs: xport_close_queue) goes after the open bundle, not past it: the
 * receiver that took it first would reset the connections whose CLOSEs
 * were still in the bundle (nginx's old workers at a reload, wrk's write
 * errors), and the bundle would come in stale. */
static void test_qreset_after_bundle(void **state)
{
	struct pair *p = *state;
	struct xts_close cl;
	struct xts_err e = {.err = 0};
	__u16 ops[BATCH];
	__u32 i;

	memset(&cl, 0, sizeof(cl));
	for (i = 1; i <= 3; i++)
		assert_int_equal(
		    xts_link__send(p->a, XTS_OP_CLOSE, 0, i, i + 100, 0, &cl, sizeof(cl)), 0);
	assert_int_equal(xts_link__unkicked(p->a), 1); /* the three, one open bundle */
	assert_int_equal(xts_link__send(p->a, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e)), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, ops), 4);
	for (i = 0; i < 3; i++)
		assert_int_equal(ops[i], XTS_OP_CLOSE);
	assert_int_equal(ops[3], XTS_OP_QRESET);
	assert_int_equal(stats(p->b).seq_gaps + stats(p->b).rx_stale, 0);
}

/* The doorbell carries the ack in the bundle: no pure ACK besides. */
static void test_ack_rides(void **state)
{
	struct pair *p = *state;
	int i;

	for (i = 0; i < W / 2; i++)
		assert_int_equal(send_one(p->b, XTS_OP_DATA), 0);
	xts_link__flush(p->b, false);
	assert_int_equal(recv_all(p->a, BATCH, NULL), W / 2);
	assert_int_equal(data(p->a, 1, 'x', 10), 0);
	xts_link__flush(p->a, true); /* an ack forced: the bundle is it */
	assert_int_equal(stats(p->a).acks_sent, 0);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1);
	assert_int_equal(peer_ack(p->b), 1); /* b's one frame (a bundle of W/2) acked */
}

/* Flipping any check of the bundle's second message makes the frame
 * malformed, not half delivered: it was the next in sequence, so the
 * session breaks at once. */
static void test_malformed_tail(void **state)
{
	static const size_t offs[] = {
	    offsetof(struct xts_hdr, version), offsetof(struct xts_hdr, op),
	    offsetof(struct xts_hdr, epoch),   offsetof(struct xts_hdr, seq),
	    offsetof(struct xts_hdr, ack),     offsetof(struct xts_hdr, len),
	    offsetof(struct xts_hdr, reserved)};
	struct pair *p = *state;
	unsigned k;

	for (k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		struct xts_msg m[BATCH];
		__u8 *f, *h2, copy[2048];
		size_t len;

		teardown(state);
		setup_bnd(state);
		p = *state;
		xts_link__mem_hold(p->a, true);
		assert_int_equal(data(p->a, 1, 'a', 10), 0);
		assert_int_equal(data(p->a, 2, 'b', 10), 0);
		xts_link__flush(p->a, false);
		assert_int_equal(xts_link__mem_frame(p->a, 0, (void **)&f, &len), 0);
		assert_true(len <= sizeof(copy));
		memcpy(copy, f, len);
		f = copy;
		h2 = f + XTS_PAYLOAD_OFF + 10;
		assert_int_equal(h2[offsetof(struct xts_hdr, op)], XTS_OP_DATA);
		h2[offs[k]] ^=
		    offs[k] == offsetof(struct xts_hdr, op) ? XTS_OP_DATA ^ XTS_OP_ACK : 0x40;
		assert_int_equal(xts_link__mem_drop(p->a, 0), 0);
		assert_int_equal(xts_link__mem_inject(p->b, f, len), 0);
		assert_int_equal(xts_link__rx(p->b, m, BATCH), 0);
		xts_link__rx_done(p->b);
		assert_int_equal(stats(p->b).rx_malformed, 1);
		assert_true(xts_link__broken(p->b));
	}
}

/* A bundle flag on a last message with nothing behind it: malformed. */
static void test_flag_without_message(void **state)
{
	struct pair *p = *state;
	struct xts_msg m[BATCH];
	__u8 f[2048];
	size_t n = raw_frame(f, p->a, p->b, XTS_OP_DATA, EPOCH, 0, 0);
	struct xts_hdr *h = (struct xts_hdr *)(f + XTS_HDR_OFF);

	h->flags = htole16(XTS_F_BUNDLE);
	assert_int_equal(xts_link__mem_inject(p->b, f, n), 0);
	assert_int_equal(xts_link__rx(p->b, m, BATCH), 0);
	xts_link__rx_done(p->b);
	assert_int_equal(stats(p->b).rx_malformed, 1);
	assert_int_equal(rx_seq(p->b), 0);
}

/* Only the first message of a frame is lent; the others are copied. */
static void test_keep_first_only(void **state)
{
	struct pair *p = *state;
	struct xts_msg m[BATCH];
	__u64 tok;

	assert_int_equal(data(p->b, 1, 'a', 100), 0);
	assert_int_equal(data(p->b, 2, 'b', 100), 0);
	xts_link__flush(p->b, false);
	assert_int_equal(xts_link__rx(p->a, m, BATCH), 2);
	assert_int_equal(xts_link__rx_keep(p->a, m[1].payload, &tok), -EINVAL);
	assert_int_equal((uintptr_t)m[0].payload % 64, 0);
	assert_int_equal(xts_link__rx_keep(p->a, m[0].payload, &tok), 0);
	xts_link__rx_done(p->a);
	assert_int_equal(((const __u8 *)m[0].payload)[99], 'a');
	xts_link__rx_return(p->a, tok);
}

/* A new session drops the open bundle: nothing of the old one leaves. */
static void test_session_drops_open(void **state)
{
	struct pair *p = *state;

	assert_int_equal(data(p->a, 1, 'a', 10), 0);
	assert_int_equal(xts_link__unkicked(p->a), 1);
	session(p->a, p->b, EPOCH + 1);
	assert_int_equal(xts_link__unkicked(p->a), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(stats(p->a).tx_frames, 0);
	assert_int_equal(xts_link__tx_room(p->a), W);
}

/* A doorbell that waits for a batch (flush_batch) leaves the bundle
 * open, and more messages join it. */
static void test_batch_keeps_open(void **state)
{
	struct pair *p = *state;

	assert_int_equal(data(p->a, 1, 'a', 10), 0);
	assert_int_equal(xts_link__flush_batch(p->a, false, 8), 0);
	assert_int_equal(data(p->a, 2, 'b', 10), 0);
	assert_int_equal(xts_link__unkicked(p->a), 1);
	assert_int_equal(xts_link__flush_batch(p->a, false, 1), 1);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 2);
	assert_int_equal(stats(p->b).rx_frames, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_bnd, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_ten_in_one),
	    T(test_peer_without_cap),
	    cmocka_unit_test(test_env_off),
	    T(test_full_frames),
	    cmocka_unit_test(test_count_bound),
	    T(test_partial_delivery),
	    T(test_order),
	    T(test_qreset_after_bundle),
	    T(test_ack_rides),
	    T(test_malformed_tail),
	    T(test_flag_without_message),
	    T(test_keep_first_only),
	    T(test_session_drops_open),
	    T(test_batch_keeps_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
