// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_link_zc.c - the link's side of zero copy (link.h): rx frames kept
 * past rx_done and given back, the lend bound that keeps the fill side two
 * windows deep, and payloads 64-byte aligned in rx and tx frames.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>

#include "link_harness.h"

/* One DATA frame b -> a carrying @v, received by a (which acks). */
static void one(struct pair *p, __u8 v, struct xts_msg *m)
{
	assert_int_equal(xts_link__send(p->b, XTS_OP_DATA, 0, 1, 2, 0, &v, 1), 0);
	xts_link__flush(p->b, false);
	assert_int_equal(xts_link__rx(p->a, m, 1), 1);
}

/* Kept frames are not received into again, however much traffic
 * follows; given back, they are. */
static void test_keep_survives_traffic(void **state)
{
	struct pair *p = *state;
	struct xts_msg m;
	const __u8 *kept;
	__u64 tok;
	int i;

	one(p, 0xab, &m);
	assert_int_equal((uintptr_t)m.payload % 64, 0);
	assert_int_equal(xts_link__rx_keep(p->a, m.payload, &tok), 0);
	assert_int_equal(xts_link__rx_keep(p->a, m.payload, &tok), -EINVAL); /* kept already */
	kept = m.payload;
	xts_link__rx_done(p->a);
	assert_int_equal(xts_link__rx_lent(p->a), 1);
	for (i = 0; i < 400; i++) { /* every other rx frame, several times over */
		one(p, (__u8)i, &m);
		assert_ptr_not_equal(m.payload, kept);
		xts_link__rx_done(p->a);
		xts_link__flush(p->a, false);
		recv_all(p->b, BATCH, NULL); /* b reads a's acks */
	}
	assert_int_equal(*kept, 0xab);
	xts_link__rx_return(p->a, tok);
	assert_int_equal(xts_link__rx_lent(p->a), 0);
	assert_int_equal(stats(p->a).seq_gaps, 0);
}

/* At most lend_max: then -ENOBUFS, and a whole window in flight still
 * finds fill frames (none dropped). */
static void test_keep_bound(void **state)
{
	struct pair *p = *state;
	__u32 max = xts_link__rx_lend_max(p->a), i;
	static __u64 tok[256];
	struct xts_ping ping = {0};
	struct xts_msg m;
	__u8 stack;

	assert_int_equal(max, 128 - 2 * W); /* rx half 128, window 16 */
	for (i = 0; i < max; i++) {
		one(p, 1, &m);
		assert_int_equal(xts_link__rx_keep(p->a, m.payload, &tok[i]), 0);
		xts_link__rx_done(p->a);
		xts_link__flush(p->a, false);
		recv_all(p->b, BATCH, NULL);
	}
	one(p, 2, &m);
	assert_int_equal(xts_link__rx_keep(p->a, m.payload, &tok[max]), -ENOBUFS);
	assert_int_equal(xts_link__rx_keep(p->a, &stack, &tok[max]), -EINVAL);
	xts_link__rx_done(p->a);
	xts_link__flush(p->a, true);
	recv_all(p->b, BATCH, NULL);
	/* the peer fills its window, plus its NOSEQ frames: all arrive */
	assert_int_equal(fill_window(p->b), W);
	for (i = 0; i < W; i++)
		assert_int_equal(xts_link__send(p->b, XTS_OP_PING, 0, 0, 0, 0, &ping, sizeof(ping)),
				 0);
	xts_link__flush(p->b, false);
	assert_int_equal(recv_all(p->a, BATCH, NULL), 2 * W);
	assert_int_equal(stats(p->a).xsk_fill_empty, 0);
	for (i = 0; i < max; i++)
		xts_link__rx_return(p->a, tok[i]);
	assert_int_equal(xts_link__rx_lent(p->a), 0);
}

/* tx payloads are 64-byte aligned too (header/data split). */
static void test_tx_aligned(void **state)
{
	struct pair *p = *state;
	struct xts_txf f;

	assert_int_equal(xts_link__tx_reserve(p->a, true, &f), 0);
	assert_int_equal((uintptr_t)f.payload % 64, 0);
	xts_link__tx_cancel(p->a, &f);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_keep_survives_traffic),
	    T(test_keep_bound),
	    T(test_tx_aligned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
