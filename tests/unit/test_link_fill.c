// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_link_fill.c - the AF_XDP backend's rx frames going back to the fill
 * ring (link_xdp.c) over rings in plain memory, the kernel's part played
 * by the test.  The kernel publishes the rx producer, then in a second
 * store the fill consumer: a receiver on another CPU can give frames back
 * in between, when the fill ring still looks full.  The rx ring is
 * released whatever the fill ring says (once it was not: those frames were
 * lost and the kernel's rx consumer stayed behind for good, so poll(2)
 * said POLLIN forever), and the frames go onto the fill ring as soon as it
 * shows room.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "link_int.h"
#include "link_xdp.h"

#define N  8
#define FS 4096

struct fake {
	struct xts_link l;
	struct xdp_be b;
	__u32 fprod, fcons, rprod, rcons;
	__u64 fring[N];
	struct xdp_desc rring[N];
};

static void setup_fake(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->l.ops = &link_xdp_ops;
	f->l.be = &f->b;
	f->l.fill_frames = N;
	f->l.ring_size = N;
	f->l.frame_size = FS;
	f->b.fill = (struct xsk_ring_prod){.cached_cons = N,
					   .mask = N - 1,
					   .size = N,
					   .producer = &f->fprod,
					   .consumer = &f->fcons,
					   .ring = f->fring};
	f->b.rx = (struct xsk_ring_cons){.mask = N - 1,
					 .size = N,
					 .producer = &f->rprod,
					 .consumer = &f->rcons,
					 .ring = f->rring};
	assert_int_equal(link_xdp_post_rx(&f->l, &f->b), 0);
	assert_int_equal(f->fprod, N);
}

/* The kernel takes @n frames off the fill ring into the rx ring and
 * publishes the rx producer only. */
static void kernel_rx(struct fake *f, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		__u64 a = f->fring[(f->rprod) & (N - 1)]; /* fill consumed in order */

		f->rring[f->rprod & (N - 1)] = (struct xdp_desc){.addr = a, .len = 64};
		f->rprod++;
	}
}

/* The caller takes what is on the rx ring and gives it back. */
static __u32 take_and_release(struct fake *f)
{
	struct link_desc d[N];
	__u32 n = f->l.ops->rx_peek(&f->l, d, N);

	for (__u32 i = 0; i < n; i++)
		f->l.held[i] = d[i].addr;
	f->l.ops->rx_release(&f->l, n);
	return n;
}

static void test_release_before_fill_consumer(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	(void)state;
	setup_fake(f);
	kernel_rx(f, 3);
	assert_int_equal(take_and_release(f), 3);
	/* released although the fill ring had no room: the kernel sees its
	 * rx ring empty again */
	assert_int_equal(f->rcons, 3);
	assert_int_equal(f->fprod, N); /* nothing could go back yet */
	assert_true(f->l.st.fill_deferred >= 1);
	/* the kernel publishes its fill consumer: the next look at the rx
	 * ring puts the three back, in order */
	f->fcons = 3;
	assert_int_equal(take_and_release(f), 0);
	assert_int_equal(f->fprod, N + 3);
	for (__u32 i = 0; i < 3; i++)
		assert_int_equal(f->fring[(N + i) & (N - 1)], (__u64)i * FS);
	/* and frames keep cycling: no frame lost, the rx consumer level */
	for (int round = 0; round < 20; round++) {
		kernel_rx(f, 5);
		assert_int_equal(take_and_release(f), 5);
		f->fcons += 5;
		assert_int_equal(take_and_release(f), 0);
		assert_int_equal(f->rcons, f->rprod);
		assert_int_equal(f->fprod - f->fcons, N);
	}
	free(f->b.stash);
	free(f);
}

/* A kept frame (rx_keep) that comes back while the fill ring looks full
 * waits the same way. */
static void test_fill_put_full(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct link_desc d[N];

	(void)state;
	setup_fake(f);
	kernel_rx(f, 1);
	assert_int_equal(f->l.ops->rx_peek(&f->l, d, N), 1);
	f->l.held[0] = LINK_KEPT; /* the caller keeps it */
	f->l.ops->rx_release(&f->l, 1);
	assert_int_equal(f->rcons, 1);
	f->l.ops->fill_put(&f->l, d[0].addr); /* back, before fcons moved */
	assert_int_equal(f->fprod, N);
	f->fcons = 1;
	assert_int_equal(take_and_release(f), 0);
	assert_int_equal(f->fprod, N + 1);
	assert_int_equal(f->fring[N & (N - 1)], d[0].addr);
	free(f->b.stash);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_before_fill_consumer),
	    cmocka_unit_test(test_fill_put_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
