// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_link_forged.c - the link's defence against forged frames
 * (docs/protocol.md, "Forged frames"), over the in-memory pair: in a
 * session, frames from a MAC other than the peer's are dropped and counted
 * and never answered; sequenced frames outside the receive window are
 * dropped as forged instead of breaking the session, inside it they are a
 * gap as before; random initial sequence numbers (ISNs) work across the
 * 2^32 wrap; frames sent outside the session reveal nothing of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "link_harness.h"

static const __u8 forger[XTS_MAC_LEN] = {0x02, 0x66, 0x6f, 0x72, 0x67, 0x65};

/* The right epoch and the next seq, from a foreign MAC: dropped, counted,
 * no QRESET, and the real peer's frame with that seq is taken after it. */
static void test_foreign_mac_dropped(void **state)
{
	struct pair *p = *state;
	struct xts_msg m[BATCH];
	__u8 f[2048];

	assert_int_equal(
	    xts_link__mem_inject(
		p->b, f, raw_frame_mac(f, forger, xts_link__mac(p->b), XTS_OP_DATA, EPOCH, 0, 0)),
	    0);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_int_equal(stats(p->b).rx_foreign, 1);
	assert_int_equal(stats(p->b).seq_gaps + stats(p->b).rx_stale, 0);
	assert_false(xts_link__broken(p->b));
	assert_int_equal(rx_seq(p->b), 0);
	xts_link__flush(p->b, true);
	assert_int_equal(stats(p->b).tx_frames, 0); /* nothing answered */

	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(xts_link__rx(p->b, m, BATCH), 1);
	assert_int_equal(m[0].op, XTS_OP_DATA);
	assert_int_equal(m[0].seq, 0);
	xts_link__rx_done(p->b);
	assert_int_equal(rx_seq(p->b), 1);
}

/* Whatever a foreign frame says, nothing happens: not a QRESET of our
 * epoch, not an ack, not a stale frame (no QRESET back), not a malformed
 * frame that names the next seq.  HELLO and HELLO_ACK still come through:
 * the caller judges those. */
static void test_foreign_never_acted_on(void **state)
{
	static const struct {
		enum xts_op op;
		__u32 epoch, seq, ack;
	} c[] = {
	    {XTS_OP_QRESET, EPOCH, 0, 0},
	    {XTS_OP_ACK, EPOCH, 0, 3},
	    {XTS_OP_DATA, EPOCH + 1, 0, 0},
	    {XTS_OP_PING, EPOCH, 0, 0},
	};
	struct pair *p = *state;
	struct xts_hello h = {0};
	struct xts_msg m[BATCH];
	struct xts_hdr *hd;
	__u8 f[2048];
	size_t len;

	for (int i = 0; i < 3; i++)
		assert_int_equal(send_one(p->b, XTS_OP_DATA), 0);
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		len = raw_frame_mac(f, forger, xts_link__mac(p->a), c[i].op, c[i].epoch, c[i].seq,
				    c[i].ack);
		assert_int_equal(xts_link__mem_inject(p->a, f, len), 0);
	}
	/* malformed (an unknown flag), next in sequence, foreign */
	len = raw_frame_mac(f, forger, xts_link__mac(p->a), XTS_OP_DATA, EPOCH, 0, 0);
	hd = (struct xts_hdr *)(f + XTS_HDR_OFF);
	hd->flags |= htole16(0x8000);
	assert_int_equal(xts_link__mem_inject(p->a, f, len), 0);

	assert_int_equal(recv_all(p->a, BATCH, NULL), 0);
	assert_int_equal(stats(p->a).rx_foreign, 4);
	assert_int_equal(stats(p->a).rx_malformed, 1);
	assert_int_equal(stats(p->a).rx_stale + stats(p->a).seq_gaps, 0);
	assert_false(xts_link__broken(p->a));
	assert_int_equal(peer_ack(p->a), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(stats(p->a).tx_frames, 0);

	memcpy(f + XTS_PAYLOAD_OFF, &h, sizeof(h));
	assert_true(xts_proto_hdr_put(f, sizeof(f), xts_link__mac(p->a), forger, XTS_OP_HELLO, 0, 0,
				      0, 0, sizeof(h)) > 0);
	assert_int_equal(xts_link__mem_inject(p->a, f, XTS_PAYLOAD_OFF + sizeof(h)), 0);
	assert_int_equal(xts_link__rx(p->a, m, BATCH), 1);
	assert_int_equal(m[0].op, XTS_OP_HELLO);
	assert_memory_equal(m[0].src_mac, forger, XTS_MAC_LEN);
	xts_link__rx_done(p->a);
}

/* Without a session there is no peer yet: a stale sequenced frame from
 * anyone gets its QRESET (a restarted shard tells the host), addressed to
 * its sender, with its epoch and ack 0. */
static void test_no_session_stale_answered(void **state)
{
	struct pair *p = *state;
	struct xts_msg m[BATCH];

	xts_link__session(p->b, 0, 1, 0, xts_link__mac(p->b));
	for (int i = 0; i < 5; i++)
		assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_int_equal(stats(p->b).rx_stale, 5);
	assert_int_equal(stats(p->b).rx_foreign, 0);
	xts_link__flush(p->b, false);
	assert_int_equal(stats(p->b).tx_frames, 1); /* one per batch */
	assert_int_equal(xts_link__rx(p->a, m, BATCH), 1);
	assert_int_equal(m[0].op, XTS_OP_QRESET);
	assert_int_equal(m[0].epoch, EPOCH);
	assert_int_equal(m[0].ack, 0);
	/* to the stale frame's sender (the Ethernet destination) */
	assert_memory_equal((const __u8 *)m[0].hdr - XTS_HDR_OFF, xts_link__mac(p->a), XTS_MAC_LEN);
	xts_link__rx_done(p->a);
}

/* The receive window: seq rx_seq is taken; rx_seq + 1 .. rx_seq + W - 1
 * can only be the peer's after a loss (a gap: the session breaks);
 * rx_seq + W and beyond, or behind rx_seq, never the peer's: dropped and
 * counted as forged, the session carries on. */
static void test_out_of_window_forged(void **state)
{
	static const __u32 forged[] = {W, W + 1, 0x80000000u, 0xffffffffu /* -1 */};
	struct pair *p = *state;
	__u8 f[2048];

	/* one real frame first, so that "behind" exists */
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1);
	for (unsigned i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		__u32 seq = 1 + forged[i];

		assert_int_equal(xts_link__mem_inject(
				     p->b, f, raw_frame(f, p->a, p->b, XTS_OP_DATA, EPOCH, seq, 0)),
				 0);
	}
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_int_equal(stats(p->b).rx_forged, 4);
	assert_int_equal(stats(p->b).seq_gaps, 0);
	assert_false(xts_link__broken(p->b));
	xts_link__flush(p->b, false);
	assert_int_equal(recv_all(p->a, BATCH, NULL), 0); /* no QRESET */
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1);
	assert_int_equal(rx_seq(p->b), 2);

	/* the far edge of the window is a gap, as any seq inside it */
	assert_int_equal(xts_link__mem_inject(
			     p->b, f, raw_frame(f, p->a, p->b, XTS_OP_DATA, EPOCH, 2 + W - 1, 0)),
			 0);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_true(xts_link__broken(p->b));
	assert_int_equal(stats(p->b).seq_gaps, 1);
	assert_int_equal(stats(p->b).rx_forged, 4);
}

/* Random ISNs: the first frame each way carries the other side's rx ISN,
 * counts stay relative, the window holds across 2^32, and a frame with
 * the seq a session without ISNs would have used is forged. */
static void test_isn_wrap(void **state)
{
	const __u32 isn_a = 0xffffffe8u, isn_b = 0x12345678u; /* a wraps at its 25th */
	struct pair *p = *state;
	struct xts_msg m[BATCH];
	__u32 t, r, pa;
	__u8 f[2048];
	int n;

	xts_link__isn(p->a, isn_a, isn_b);
	xts_link__isn(p->b, isn_b, isn_a);
	assert_int_equal(
	    xts_link__mem_inject(p->b, f, raw_frame(f, p->a, p->b, XTS_OP_DATA, EPOCH, 0, 0)), 0);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_int_equal(stats(p->b).rx_forged, 1);

	for (int round = 0; round < 3; round++) {
		assert_int_equal(fill_window(p->a), W);
		xts_link__flush(p->a, false);
		n = xts_link__rx(p->b, m, BATCH);
		assert_int_equal(n, W);
		assert_int_equal(m[0].seq, isn_a + (__u32)(round * W));
		xts_link__rx_done(p->b);
		xts_link__flush(p->b, false); /* the ACK at W/2 */
		assert_int_equal(recv_all(p->a, BATCH, NULL), 0);
	}
	xts_link__seq_state(p->a, &t, &r, &pa);
	assert_int_equal(t, 3 * W);
	assert_int_equal(pa, 3 * W);
	assert_int_equal(r, 0);
	xts_link__seq_state(p->b, &t, &r, &pa);
	assert_int_equal(r, 3 * W);
	assert_int_equal(stats(p->b).seq_gaps, 0);

	assert_int_equal(send_one(p->b, XTS_OP_DATA), 0);
	xts_link__flush(p->b, false);
	assert_int_equal(xts_link__rx(p->a, m, BATCH), 1);
	assert_int_equal(m[0].seq, isn_b);
	assert_int_equal(m[0].ack, isn_a + 3 * W);
	xts_link__rx_done(p->a);
}

/* send_to: outside the session, to whom it names, with the epoch it names
 * and ack 0; the session's ack state is left as it was. */
static void test_send_to_outside(void **state)
{
	struct pair *p = *state;
	struct xts_hello_ack r = {.err = (__s32)htole32(EBUSY)};
	struct xts_msg m[BATCH];
	void *data;
	size_t len;

	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1);
	xts_link__mem_hold(p->b, true);
	assert_int_equal(xts_link__send_to(p->b, forger, 0, XTS_OP_DATA, "x", 1), -EINVAL);
	assert_int_equal(xts_link__send_to(p->b, forger, 0, XTS_OP_HELLO_ACK, &r, sizeof(r)), 0);
	xts_link__flush(p->b, false);
	assert_int_equal(xts_link__mem_held(p->b), 1);
	assert_int_equal(xts_link__mem_frame(p->b, 0, &data, &len), 0);
	assert_int_equal(xts_proto_parse(data, len, &m[0]), 0);
	assert_memory_equal(data, forger, XTS_MAC_LEN);
	assert_int_equal(m[0].epoch, 0);
	assert_int_equal(m[0].ack, 0);
	assert_int_equal(m[0].version, XTS_PROTO_VERSION);
	/* the session still owes its ack: a forced flush sends it */
	xts_link__mem_drop(p->b, 0);
	xts_link__flush(p->b, true);
	assert_int_equal(stats(p->b).acks_sent, 1);
	xts_link__mem_release(p->b, 1);
	assert_int_equal(recv_all(p->a, BATCH, NULL), 0);
	assert_int_equal(peer_ack(p->a), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_foreign_mac_dropped),
	    T(test_foreign_never_acted_on),
	    T(test_no_session_stale_answered),
	    T(test_out_of_window_forged),
	    T(test_isn_wrap),
	    T(test_send_to_outside),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
