// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_link.c - the queue link's session logic (xport/core/link.c), white
 * box, over the in-memory pair (link_mem.c): the same code that runs over
 * AF_XDP.  Window boundaries from either end, acks, sequence gaps and
 * reordering, session ops ending an rx batch, stale epochs, malformed
 * frames in sequence, the NOSEQ reserve, refused oversize frames; and the
 * pair itself (eventfd, drops, one end destroyed first).
 *
 * "a" plays the host, "b" the shard; both start in session EPOCH with the
 * window W, unless a test says otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>

#include "link_harness.h"

/* ---- the window ---- */

/* A peer that never acks gets exactly W sequenced frames; then one ack
 * opens exactly the count it acknowledges. */
static void window_from(struct xts_link *tx, struct xts_link *rx)
{
	struct xts_msg m[BATCH];

	assert_int_equal(xts_link__tx_room(tx), W);
	assert_int_equal(fill_window(tx), W);
	assert_int_equal(xts_link__tx_room(tx), 0);
	assert_int_equal(stats(tx).window_stalls, 1);
	/* NOSEQ frames are outside the window */
	assert_int_equal(send_one(tx, XTS_OP_ACK), 0);
	xts_link__flush(tx, false);

	/* the receiver consumes 5 and acks them: exactly 5 more may go */
	assert_int_equal(xts_link__rx(rx, m, 5), 5);
	xts_link__rx_done(rx);
	assert_true(xts_link__flush(rx, true) >= 1); /* a pure ACK, ack = 5 */
	assert_int_equal(stats(rx).acks_sent, 1);
	assert_int_equal(recv_all(tx, BATCH, NULL), 0);
	assert_int_equal(peer_ack(tx), 5);
	assert_int_equal(xts_link__tx_room(tx), 5);
	assert_int_equal(fill_window(tx), 5);
	assert_int_equal(xts_link__tx_room(tx), 0);
	xts_link__flush(tx, false);
	/* and the receiver got every one of them, no more, none dropped */
	assert_int_equal(recv_all(rx, BATCH, NULL), W - 5 + 5);
	assert_int_equal(rx_seq(rx), W + 5);
	assert_int_equal(stats(rx).xsk_rx_ring_full + stats(rx).xsk_fill_empty, 0);
}

static void test_window_host_to_shard(void **state)
{
	struct pair *p = *state;

	window_from(p->a, p->b);
}

static void test_window_shard_to_host(void **state)
{
	struct pair *p = *state;

	window_from(p->b, p->a);
}

/* Frames in flight never pass W: whatever the receiver consumes and acks,
 * the sender's tx_seq - peer_ack stays <= W, and no frame is lost. */
static void test_window_in_flight(void **state)
{
	struct pair *p = *state;
	unsigned sent = 0, got = 0;

	for (int round = 0; round < 50; round++) {
		__u32 t, r, pa;

		sent += fill_window(p->a);
		xts_link__seq_state(p->a, &t, &r, &pa);
		assert_true(t - pa <= W);
		xts_link__flush(p->a, false);
		got += recv_all(p->b, (unsigned)(round % 7) + 1, NULL);
		xts_link__flush(p->b, round % 2);
		recv_all(p->a, BATCH, NULL);
	}
	assert_int_equal(got, sent);
	assert_int_equal(stats(p->b).xsk_rx_ring_full + stats(p->b).xsk_fill_empty, 0);
}

/* The pure ACK goes out once W/2 frames are consumed, not one earlier,
 * and the peer absorbs it (not delivered). */
static void test_pure_ack_half_window(void **state)
{
	struct pair *p = *state;

	for (int i = 0; i < W / 2 - 1; i++)
		assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), W / 2 - 1);
	xts_link__flush(p->b, false);
	assert_int_equal(stats(p->b).acks_sent, 0);
	assert_int_equal(stats(p->b).tx_frames, 0);

	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1);
	xts_link__flush(p->b, false);
	assert_int_equal(stats(p->b).acks_sent, 1);
	assert_int_equal(recv_all(p->a, BATCH, NULL), 0); /* absorbed */
	assert_int_equal(stats(p->a).rx_frames, 1);
	assert_int_equal(peer_ack(p->a), W / 2);
	/* nothing new consumed: no second ACK */
	xts_link__flush(p->b, false);
	assert_int_equal(stats(p->b).acks_sent, 1);
}

/* An ack beyond what we sent, or behind the last one, moves nothing. */
static void test_ack_bounds(void **state)
{
	struct pair *p = *state;
	__u8 f[2048];

	for (int i = 0; i < 3; i++)
		assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(
	    xts_link__tx_raw(p->b, f, raw_frame(f, p->b, p->a, XTS_OP_ACK, EPOCH, 0, 4)), 0);
	assert_int_equal(
	    xts_link__tx_raw(p->b, f, raw_frame(f, p->b, p->a, XTS_OP_ACK, EPOCH, 0, 0x80000000u)),
	    0);
	xts_link__flush(p->b, false);
	recv_all(p->a, BATCH, NULL);
	assert_int_equal(peer_ack(p->a), 0);
	assert_int_equal(xts_link__tx_room(p->a), W - 3);

	assert_int_equal(
	    xts_link__tx_raw(p->b, f, raw_frame(f, p->b, p->a, XTS_OP_ACK, EPOCH, 0, 3)), 0);
	assert_int_equal(
	    xts_link__tx_raw(p->b, f, raw_frame(f, p->b, p->a, XTS_OP_ACK, EPOCH, 0, 2)), 0);
	xts_link__flush(p->b, false);
	recv_all(p->a, BATCH, NULL);
	assert_int_equal(peer_ack(p->a), 3);
	assert_int_equal(xts_link__tx_room(p->a), W);
	assert_false(xts_link__broken(p->a));
}

/* ---- sequence ---- */

/* A forward gap (seq = next + 1) breaks the session: lost frames are a
 * broken link, never guessed around. */
static void test_forward_gap(void **state)
{
	struct pair *p = *state;

	assert_int_equal(xts_link__mem_hold(p->a, true), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(xts_link__mem_held(p->a), 3);
	assert_int_equal(xts_link__mem_drop(p->a, 1), 0); /* seq 1 lost */
	assert_int_equal(xts_link__mem_release(p->a, 2), 2);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1); /* seq 0 only */
	assert_true(xts_link__broken(p->b));
	assert_int_equal(stats(p->b).seq_gaps, 1);
	assert_int_equal(rx_seq(p->b), 1);
	/* broken: nothing more sequenced goes out or comes in */
	assert_int_equal(xts_link__tx_room(p->b), 0);
	assert_int_equal(send_one(p->b, XTS_OP_DATA), -EAGAIN);
}

/* The same gap, forged by hand: the first frame already jumps ahead. */
static void test_forward_gap_first(void **state)
{
	struct pair *p = *state;
	__u8 f[2048];

	assert_int_equal(
	    xts_link__mem_inject(p->b, f, raw_frame(f, p->a, p->b, XTS_OP_DATA, EPOCH, 1, 0)), 0);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_true(xts_link__broken(p->b));
	assert_int_equal(stats(p->b).seq_gaps, 1);
	assert_int_equal(rx_seq(p->b), 0);
}

/* Two frames swapped in flight: the first to arrive is already a gap. */
static void test_reordered_pair(void **state)
{
	struct pair *p = *state;

	xts_link__mem_hold(p->a, true);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(xts_link__mem_swap(p->a, 0, 1), 0);
	assert_int_equal(xts_link__mem_release(p->a, 2), 2);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_true(xts_link__broken(p->b));
	assert_int_equal(stats(p->b).seq_gaps, 1);
}

/* A frame that does not parse but is next in sequence ends the session at
 * once; one that is not next is only counted as malformed. */
static void test_malformed_in_sequence(void **state)
{
	struct pair *p = *state;
	struct xts_hdr *h;
	size_t len;
	void *f;

	xts_link__mem_hold(p->a, true);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	/* seq 1 gets a flag no version knows: not next, only malformed */
	assert_int_equal(xts_link__mem_frame(p->a, 1, &f, &len), 0);
	h = (struct xts_hdr *)((__u8 *)f + XTS_HDR_OFF);
	h->flags |= htole16(0x8000);
	assert_int_equal(xts_link__mem_swap(p->a, 0, 1), 0);
	assert_int_equal(xts_link__mem_release(p->a, 1), 1);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_int_equal(stats(p->b).rx_malformed, 1);
	assert_false(xts_link__broken(p->b));
	/* seq 0 the same way: next in sequence, so the session breaks */
	assert_int_equal(xts_link__mem_frame(p->a, 0, &f, &len), 0);
	h = (struct xts_hdr *)((__u8 *)f + XTS_HDR_OFF);
	h->flags |= htole16(0x8000);
	assert_int_equal(xts_link__mem_release(p->a, 1), 1);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_int_equal(stats(p->b).rx_malformed, 2);
	assert_true(xts_link__broken(p->b));
	assert_int_equal(stats(p->b).seq_gaps, 1);
}

/* ---- sessions ---- */

/* A session op ends the rx batch: the frames behind it wait for the next
 * call, to be judged under the session the caller starts on it. */
static void test_session_op_ends_batch(void **state)
{
	struct pair *p = *state;
	struct xts_hello h = {0};
	struct xts_msg m[BATCH];

	session(p->a, p->b, EPOCH + 1); /* the host's new session */
	assert_int_equal(xts_link__send(p->a, XTS_OP_HELLO, 0, 0, 0, 0, &h, sizeof(h)), 0);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);

	assert_int_equal(xts_link__rx(p->b, m, BATCH), 1);
	assert_int_equal(m[0].op, XTS_OP_HELLO);
	assert_int_equal(m[0].epoch, 0);
	assert_true(xts_link__rx_ready(p->b)); /* the two DATA wait */
	xts_link__rx_done(p->b);
	assert_true(xts_link__rx_ready(p->b));
	session(p->b, p->a, EPOCH + 1);
	assert_int_equal(xts_link__rx(p->b, m, BATCH), 2);
	assert_int_equal(m[0].op, XTS_OP_DATA);
	assert_int_equal(m[1].seq, 1);
	xts_link__rx_done(p->b);
	assert_false(xts_link__rx_ready(p->b));
	assert_int_equal(stats(p->b).rx_stale, 0);
	assert_false(xts_link__broken(p->b));
}

/* A QRESET ends the batch too. */
static void test_qreset_ends_batch(void **state)
{
	struct pair *p = *state;
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	struct xts_msg m[BATCH];

	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	assert_int_equal(xts_link__send(p->a, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e)), 0);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(xts_link__rx(p->b, m, BATCH), 2);
	assert_int_equal(m[1].op, XTS_OP_QRESET);
	xts_link__rx_done(p->b);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1);
}

/* A sequenced frame of another epoch is dropped and makes a QRESET due,
 * carrying that epoch, so the sender's session (and only it) ends; a
 * stale NOSEQ frame makes none. */
static void test_stale_epoch_qreset(void **state)
{
	struct pair *p = *state;
	struct xts_msg m[BATCH];
	struct xts_err e;
	__u8 f[2048];

	assert_int_equal(
	    xts_link__mem_inject(p->b, f, raw_frame(f, p->a, p->b, XTS_OP_PING, EPOCH + 7, 0, 0)),
	    0);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	xts_link__flush(p->b, false);
	assert_int_equal(stats(p->b).tx_frames, 0);

	session(p->a, p->b, EPOCH + 7);
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	assert_int_equal(stats(p->b).rx_stale, 2);
	assert_false(xts_link__broken(p->b));
	xts_link__flush(p->b, false);
	assert_int_equal(xts_link__rx(p->a, m, BATCH), 1);
	assert_int_equal(m[0].op, XTS_OP_QRESET);
	assert_int_equal(m[0].epoch, EPOCH + 7);
	memcpy(&e, m[0].payload, sizeof(e));
	assert_int_equal(le32toh((__u32)e.err), ECONNRESET);
	xts_link__rx_done(p->a);
	/* due once: a second flush sends nothing */
	xts_link__flush(p->b, false);
	assert_int_equal(stats(p->b).tx_frames, 1);
}

/* ---- tx ---- */

/* tx_room keeps two pool frames back for ACK/PONG/QRESET: when the pool,
 * not the window, is short, sequenced frames stop two early and the NOSEQ
 * ones still go. */
static void test_tx_room_noseq_reserve(void **state)
{
	struct pair *p = *state;
	struct xts_txf hold[256], f;
	unsigned n = 0, room, i;

	/* pool 128, peer window W: take frames until the pool is the limit */
	while (xts_link__tx_room(p->a) == W)
		assert_int_equal(xts_link__tx_reserve(p->a, false, &hold[n++]), 0);
	room = xts_link__tx_room(p->a);
	assert_int_equal(room, W - 1);
	for (i = 0; i < room; i++)
		assert_int_equal(xts_link__tx_reserve(p->a, true, &hold[n++]), 0);
	assert_int_equal(xts_link__tx_room(p->a), 0);
	assert_int_equal(xts_link__tx_reserve(p->a, true, &f), -ENOBUFS);
	assert_int_equal(stats(p->a).frame_stalls, 1);
	/* the reserve: exactly two NOSEQ frames */
	assert_int_equal(xts_link__tx_reserve(p->a, false, &hold[n++]), 0);
	assert_int_equal(xts_link__tx_reserve(p->a, false, &hold[n++]), 0);
	assert_int_equal(xts_link__tx_reserve(p->a, false, &f), -ENOBUFS);
	while (n)
		xts_link__tx_cancel(p->a, &hold[--n]);
	assert_int_equal(xts_link__tx_room(p->a), W);
}

/* A frame submitted past its capacity goes nowhere, is counted, and the
 * caller hears -EMSGSIZE; the sequence and the window are as before. */
static void test_tx_oversize(void **state)
{
	struct pair *p = *state;
	struct xts_txf f;
	__u32 t, r, pa;

	assert_int_equal(xts_link__tx_reserve(p->a, true, &f), 0);
	memset(f.payload, 'o', f.cap);
	assert_int_equal(xts_link__tx_submit(p->a, &f, XTS_OP_DATA, 0, 1, 2, 0, f.cap + 1),
			 -EMSGSIZE);
	assert_int_equal(stats(p->a).tx_oversize, 1);
	assert_int_equal(stats(p->a).tx_frames, 0);
	xts_link__seq_state(p->a, &t, &r, &pa);
	assert_int_equal(t, 0);
	assert_int_equal(xts_link__tx_room(p->a), W);
	assert_int_equal(xts_link__flush(p->a, false), 0);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0);
	/* the exact capacity goes */
	assert_int_equal(xts_link__tx_reserve(p->a, true, &f), 0);
	assert_int_equal(xts_link__tx_submit(p->a, &f, XTS_OP_DATA, 0, 1, 2, 0, f.cap), 0);
	xts_link__flush(p->a, false);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1);
	assert_int_equal(xts_link__send(p->a, XTS_OP_DATA, 0, 1, 2, 0, f.payload, f.cap + 1),
			 -EMSGSIZE);
}

/* ---- the in-memory pair itself ---- */

static bool readable(struct xts_link *l)
{
	struct pollfd pf = {.fd = xts_link__fd(l), .events = POLLIN};

	return poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN);
}

static void test_pair_fd_and_macs(void **state)
{
	struct pair *p = *state;

	assert_memory_not_equal(xts_link__mac(p->a), xts_link__mac(p->b), XTS_MAC_LEN);
	assert_true(xts_link__fd(p->a) >= 0);
	assert_false(readable(p->b));
	assert_int_equal(send_one(p->a, XTS_OP_DATA), 0);
	assert_false(readable(p->b)); /* not before the doorbell */
	assert_int_equal(xts_link__unkicked(p->a), 1);
	assert_int_equal(xts_link__flush(p->a, false), 1);
	assert_int_equal(xts_link__unkicked(p->a), 0);
	assert_true(readable(p->b));
	assert_true(readable(p->b)); /* level, not edge */
	assert_int_equal(recv_all(p->b, BATCH, NULL), 1);
	assert_false(readable(p->b));
	assert_false(readable(p->a));
}

/* More NOSEQ frames than the receiver's rx ring holds: the rest are
 * dropped where AF_XDP would drop them, and counted. */
static void test_pair_rx_ring_full(void **state)
{
	struct pair *p = *state;
	unsigned sent = 0;

	for (int i = 0; i < 200; i++) {
		if (!send_one(p->a, XTS_OP_ACK))
			sent++;
		if (xts_link__unkicked(p->a) >= 32)
			xts_link__flush(p->a, false);
	}
	xts_link__flush(p->a, false);
	assert_int_equal(sent, 200);
	assert_int_equal(stats(p->b).xsk_rx_ring_full, 200 - small.ring_size);
	assert_int_equal(recv_all(p->b, BATCH, NULL), 0); /* ACKs are absorbed */
	assert_int_equal(stats(p->b).rx_frames, small.ring_size);
}

static void test_pair_destroy_either(void **state)
{
	struct xts_link *a, *b;

	(void)state;
	assert_int_equal(xts_link__create_pair(&a, &b, NULL), 0);
	assert_int_equal(xts_link__window(a), XTS_LINK_DEF_WINDOW);
	xts_link__destroy(a);
	assert_int_equal(send_one(b, XTS_OP_PING), 0);
	assert_int_equal(xts_link__flush(b, false), 1);
	assert_int_equal(stats(b).tx_dropped, 1);
	xts_link__destroy(b);

	assert_int_equal(xts_link__create_pair(&a, &b, &small), 0);
	xts_link__mem_hold(a, true);
	assert_int_equal(send_one(a, XTS_OP_PING), 0);
	xts_link__flush(a, false);
	xts_link__destroy(b);
	assert_int_equal(xts_link__mem_release(a, 1), 0);
	assert_int_equal(stats(a).tx_dropped, 1);
	xts_link__destroy(a);
}

static void test_pair_bad_opts(void **state)
{
	struct xts_link_opts o = small;
	struct xts_link *a = NULL, *b = NULL;

	(void)state;
	o.window = o.ring_size; /* more than half the ring */
	assert_int_equal(xts_link__create_pair(&a, &b, &o), -EINVAL);
	assert_null(a);
	assert_int_equal(xts_link__create_pair(NULL, &b, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_window_host_to_shard),
	    T(test_window_shard_to_host),
	    T(test_window_in_flight),
	    T(test_pure_ack_half_window),
	    T(test_ack_bounds),
	    T(test_forward_gap),
	    T(test_forward_gap_first),
	    T(test_reordered_pair),
	    T(test_malformed_in_sequence),
	    T(test_session_op_ends_batch),
	    T(test_qreset_ends_batch),
	    T(test_stale_epoch_qreset),
	    T(test_tx_room_noseq_reserve),
	    T(test_tx_oversize),
	    T(test_pair_fd_and_macs),
	    T(test_pair_rx_ring_full),
	    cmocka_unit_test(test_pair_destroy_either),
	    cmocka_unit_test(test_pair_bad_opts),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
