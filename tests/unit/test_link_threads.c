// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_link_threads.c - the in-memory pair with one owner thread per end,
 * as a test that runs the shard in one thread and libxport in another
 * would use it: each side sleeps in poll() on its link's eventfd, sends
 * within the window, acks what it consumes, and nothing is lost, dropped
 * or reordered (100,000 frames each way, every byte checked).  Run under
 * ASan/UBSan by CI and, by hand, under TSan:
 *
 *   clang -fsanitize=thread -g -Iinclude -Ixport/core tests/unit/test_link_threads.c \
 *       xport/core/link.c xport/core/link_mem.c xport/core/proto.c -lcmocka -o /tmp/t && /tmp/t
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>

#include "link_harness.h"

#define FRAMES 100000u

struct side {
	struct xts_link *l;
	unsigned sent, got;
	unsigned bad;	   /* frames out of order or with the wrong byte */
	unsigned timeouts; /* sleeps that no eventfd wakeup ended */
};

/* Send a byte pattern, receive the peer's, until both are done. */
static void *run(void *arg)
{
	struct side *s = arg;
	struct xts_msg m[BATCH];

	while ((s->sent < FRAMES || s->got < FRAMES) && s->timeouts < 3) {
		struct pollfd p = {.fd = xts_link__fd(s->l), .events = POLLIN};
		int n;

		while (s->sent < FRAMES) {
			__u8 b = (__u8)s->sent;

			if (xts_link__send(s->l, XTS_OP_DATA, 0, 1, 2, 0, &b, 1))
				break;
			s->sent++;
		}
		xts_link__flush(s->l, false);
		n = xts_link__rx(s->l, m, BATCH);
		for (int i = 0; i < n; i++, s->got++)
			if (m[i].op != XTS_OP_DATA || *(const __u8 *)m[i].payload != (__u8)s->got)
				s->bad++;
		xts_link__rx_done(s->l);
		/* ack what was consumed, even with nothing of ours to send */
		xts_link__flush(s->l, s->sent == FRAMES || n == 0);
		/* Sleep only with nothing to do (an absorbed ACK delivers no
		 * message but may have opened the window).  The peer always
		 * has something coming then: only a missed eventfd wakeup
		 * lets this sleep run out. */
		if (!n && !xts_link__rx_ready(s->l) && s->got < FRAMES &&
		    (s->sent == FRAMES || !xts_link__tx_room(s->l)) && !poll(&p, 1, 2000))
			s->timeouts++;
	}
	return NULL;
}

static void test_two_threads(void **state)
{
	struct pair *p = *state;
	struct side a = {.l = p->a}, b = {.l = p->b};
	pthread_t ta, tb;

	assert_int_equal(pthread_create(&ta, NULL, run, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, run, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.got, FRAMES);
	assert_int_equal(b.got, FRAMES);
	assert_int_equal(a.bad + b.bad, 0);
	assert_int_equal(a.timeouts + b.timeouts, 0);
	assert_int_equal(stats(p->a).seq_gaps + stats(p->b).seq_gaps, 0);
	assert_int_equal(stats(p->a).xsk_rx_ring_full + stats(p->b).xsk_rx_ring_full, 0);
	assert_int_equal(stats(p->a).xsk_fill_empty + stats(p->b).xsk_fill_empty, 0);
	assert_false(xts_link__broken(p->a) || xts_link__broken(p->b));
}

/* One end destroyed while the other keeps sending from its own thread:
 * the sender goes on (at least 100 frames after it saw the peer go), its
 * frames are counted as dropped, nothing crashes. */
static int peer_gone;

static void *spam(void *arg)
{
	struct xts_link *l = arg;
	unsigned after = 0;

	while (after < 100) {
		/* read before the send: a frame counted went after the peer */
		int gone = __atomic_load_n(&peer_gone, __ATOMIC_ACQUIRE);

		xts_link__send(l, XTS_OP_PING, 0, 0, 0, 0, "\0\0\0\0\0\0\0\0", 8);
		xts_link__flush(l, false);
		after += gone;
	}
	return NULL;
}

static void test_destroy_while_sending(void **state)
{
	struct xts_link *a, *b;
	pthread_t t;

	(void)state;
	assert_int_equal(xts_link__create_pair(&a, &b, &small), 0);
	assert_int_equal(pthread_create(&t, NULL, spam, b), 0);
	for (int i = 0; i < 200; i++)
		recv_all(a, BATCH, NULL);
	xts_link__destroy(a);
	__atomic_store_n(&peer_gone, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	assert_true(stats(b).tx_dropped >= 100);
	xts_link__destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
	    cmocka_unit_test(test_destroy_while_sending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
