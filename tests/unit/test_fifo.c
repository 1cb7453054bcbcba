// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_fifo.c - the slot-index intrusive FIFO (xport/core/fifo.h): order,
 * at most once per list, index 0 usable, one element on two lists, pop
 * and re-push (round robin), clear.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fifo.h"

struct elem {
	int v;
	struct xts_fifo_node ready;
	struct xts_fifo_node ctl;
};

static void test_order_once(void **state)
{
	struct elem e[8] = {0};
	struct xts_fifo q = XTS_FIFO_INIT;

	(void)state;
	assert_true(xts_fifo_empty(&q));
	assert_true(xts_fifo_push(&q, e, ready, 3));
	assert_true(xts_fifo_push(&q, e, ready, 0)); /* index 0 is an element */
	assert_true(xts_fifo_push(&q, e, ready, 7));
	assert_false(xts_fifo_push(&q, e, ready, 0)); /* already on it */
	assert_true(xts_fifo_linked(&e[0].ready));
	assert_false(xts_fifo_linked(&e[1].ready));
	assert_int_equal(xts_fifo_head(&q), 3);
	assert_int_equal(xts_fifo_tail(&q), 7);
	assert_int_equal(xts_fifo_pop(&q, e, ready), 3);
	assert_false(xts_fifo_linked(&e[3].ready));
	assert_int_equal(xts_fifo_pop(&q, e, ready), 0);
	assert_int_equal(xts_fifo_head(&q), 7);
	assert_int_equal(xts_fifo_tail(&q), 7);
	assert_int_equal(xts_fifo_pop(&q, e, ready), 7);
	assert_true(xts_fifo_empty(&q));
	/* empty again: a push starts a new list */
	assert_true(xts_fifo_push(&q, e, ready, 5));
	assert_int_equal(xts_fifo_head(&q), 5);
	assert_int_equal(xts_fifo_tail(&q), 5);
}

static void test_two_lists(void **state)
{
	struct elem e[4] = {0};
	struct xts_fifo r = XTS_FIFO_INIT, c = XTS_FIFO_INIT;

	(void)state;
	xts_fifo_push(&r, e, ready, 1);
	xts_fifo_push(&r, e, ready, 2);
	xts_fifo_push(&c, e, ctl, 2);
	xts_fifo_push(&c, e, ctl, 1);
	assert_int_equal(xts_fifo_pop(&c, e, ctl), 2);
	assert_true(xts_fifo_linked(&e[2].ready)); /* still on the other */
	assert_int_equal(xts_fifo_pop(&r, e, ready), 1);
	assert_int_equal(xts_fifo_pop(&r, e, ready), 2);
	assert_int_equal(xts_fifo_pop(&c, e, ctl), 1);
	assert_true(xts_fifo_empty(&r) && xts_fifo_empty(&c));
}

/* The shard's ready list: pop the head, serve it, push it back; one pass
 * ends at the tail seen when it started. */
static void test_round_robin(void **state)
{
	struct elem e[5] = {0};
	struct xts_fifo q = XTS_FIFO_INIT;
	unsigned seen[10], n = 0;

	(void)state;
	for (unsigned i = 0; i < 5; i++)
		xts_fifo_push(&q, e, ready, i);
	for (int pass = 0; pass < 2; pass++) {
		__u32 last = xts_fifo_tail(&q), i;

		do {
			i = xts_fifo_pop(&q, e, ready);
			seen[n++] = i;
			xts_fifo_push(&q, e, ready, i);
		} while (i != last);
	}
	for (unsigned k = 0; k < 10; k++)
		assert_int_equal(seen[k], k % 5);
}

static void test_clear(void **state)
{
	struct elem e[6] = {0};
	struct xts_fifo q = XTS_FIFO_INIT;

	(void)state;
	for (unsigned i = 0; i < 6; i += 2)
		xts_fifo_push(&q, e, ready, i);
	xts_fifo_clear(&q, e, ready);
	assert_true(xts_fifo_empty(&q));
	for (unsigned i = 0; i < 6; i++)
		assert_false(xts_fifo_linked(&e[i].ready));
	assert_true(xts_fifo_push(&q, e, ready, 4));
	assert_int_equal(xts_fifo_pop(&q, e, ready), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_once),
	    cmocka_unit_test(test_two_lists),
	    cmocka_unit_test(test_round_robin),
	    cmocka_unit_test(test_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
