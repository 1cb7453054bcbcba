// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_xport_ready.c - readiness sets (xport_watch, xport_wait) over the
 * in-memory link, the test playing the shard (xport_peer.h): level and
 * edge triggering, EPOLLONESHOT, EPOLLRDHUP, one socket in two sets,
 * writability when credit comes and when the queue window opens, a closed
 * socket leaving its sets, and many idle sockets with one ready.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "xport_peer.h"

static void data(struct peer *p, int sd, __u32 dpu, const char *s)
{
	peer_send(p, XTS_OP_DATA, 0, (__u32)sd, dpu, 0, s, strlen(s));
}

/* One wait that must not sleep: what is ready now. */
static int wait0(struct peer *p, int set, struct xport_event *ev, unsigned max)
{
	return xport_wait(p->xp, set, ev, max, 0);
}

/* Level-triggered: reported by every wait while bytes wait, not after. */
static void level(void **state)
{
	struct peer *p = *state;
	struct xport_event ev[4];
	int sd = peer_connect(p, 0x11, P_CONNBUF);
	char buf[16];

	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, sd, EPOLLIN, 42), 0);
	assert_int_equal(wait0(p, 0, ev, 4), 0);
	data(p, sd, 0x11, "hello");
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(ev[0].sd, sd);
	assert_int_equal(ev[0].data, 42);
	assert_int_equal(ev[0].events, EPOLLIN);
	assert_int_equal(wait0(p, 0, ev, 4), 1); /* still there: again */
	assert_int_equal(xport_recv(p->xp, sd, buf, sizeof(buf), 0), 5);
	assert_int_equal(wait0(p, 0, ev, 4), 0);
	/* a timeout, when nothing comes */
	assert_int_equal(xport_wait(p->xp, 0, ev, 4, 20), 0);
}

/* Edge-triggered: once per event, drained or not, and no edge lost. */
static void edge(void **state)
{
	struct peer *p = *state;
	struct xport_event ev[4];
	int sd = peer_connect(p, 0x12, P_CONNBUF);
	char buf[16];

	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, sd, EPOLLIN | EPOLLET, 7), 0);
	data(p, sd, 0x12, "a");
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(wait0(p, 0, ev, 4), 0); /* not drained, but no new event */
	data(p, sd, 0x12, "b");			 /* a new event while not drained */
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(xport_recv(p->xp, sd, buf, sizeof(buf), 0), 2);
	assert_int_equal(xport_recv(p->xp, sd, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EAGAIN);
	/* drained to EAGAIN: the next byte is an edge */
	data(p, sd, 0x12, "c");
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(ev[0].events, EPOLLIN);
	/* two events before the wait: one report */
	data(p, sd, 0x12, "d");
	data(p, sd, 0x12, "e");
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(wait0(p, 0, ev, 4), 0);
}

/* EPOLLONESHOT: one report, then silence until MOD re-arms it. */
static void oneshot(void **state)
{
	struct peer *p = *state;
	struct xport_event ev[4];
	int sd = peer_connect(p, 0x13, P_CONNBUF);

	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, sd, EPOLLIN | EPOLLONESHOT, 1), 0);
	data(p, sd, 0x13, "x");
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(wait0(p, 0, ev, 4), 0);
	data(p, sd, 0x13, "y");
	assert_int_equal(wait0(p, 0, ev, 4), 0);
	/* re-armed: ready now, so reported now (MOD checks, as epoll) */
	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_MOD, sd, EPOLLIN | EPOLLONESHOT, 2), 0);
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(ev[0].data, 2);
}

/* EPOLLRDHUP and EPOLLIN on the peer's EOF; ERR|HUP on a reset, asked or
 * not. */
static void rdhup_and_reset(void **state)
{
	struct peer *p = *state;
	struct xport_event ev[4];
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	int a = peer_connect(p, 0x14, P_CONNBUF), b = peer_connect(p, 0x15, P_CONNBUF);

	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, a, EPOLLRDHUP | EPOLLET, 1), 0);
	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, b, EPOLLRDHUP, 2), 0);
	peer_send(p, XTS_OP_SHUTDOWN, 0, (__u32)a, 0x14, 0, NULL, 0);
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(ev[0].sd, a);
	assert_int_equal(ev[0].events, EPOLLRDHUP);
	peer_send(p, XTS_OP_RESET, 0, (__u32)b, 0x15, 0, &e, sizeof(e));
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(ev[0].sd, b);
	assert_true(ev[0].events & EPOLLERR);
	assert_true(ev[0].events & EPOLLHUP);
	assert_true(ev[0].events & EPOLLRDHUP);
}

/* One socket in two sets, other events and data in each; DEL leaves the
 * other set alone; a closed socket leaves every set. */
static void two_sets(void **state)
{
	struct peer *p = *state;
	struct xport_event ev[4];
	int sd = peer_connect(p, 0x16, P_CONNBUF);
	int s1 = xport_set_create(p->xp), s2 = xport_set_create(p->xp);

	assert_true(s1 > 0 && s2 > 0 && s1 != s2);
	assert_int_equal(xport_watch(p->xp, s1, XPORT_CTL_ADD, sd, EPOLLIN, 100), 0);
	assert_int_equal(xport_watch(p->xp, s2, XPORT_CTL_ADD, sd, EPOLLIN | EPOLLOUT, 200), 0);
	assert_int_equal(xport_watch(p->xp, s2, XPORT_CTL_ADD, sd, EPOLLIN, 0), -1);
	assert_int_equal(errno, EEXIST);
	/* writable at once (credit, window): s2 only */
	assert_int_equal(wait0(p, s1, ev, 4), 0);
	assert_int_equal(wait0(p, s2, ev, 4), 1);
	assert_int_equal(ev[0].events, EPOLLOUT);
	data(p, sd, 0x16, "both");
	assert_int_equal(wait0(p, s1, ev, 4), 1);
	assert_int_equal(ev[0].data, 100);
	assert_int_equal(wait0(p, s2, ev, 4), 1);
	assert_int_equal(ev[0].data, 200);
	assert_int_equal(ev[0].events, EPOLLIN | EPOLLOUT);
	assert_int_equal(xport_watch(p->xp, s1, XPORT_CTL_DEL, sd, 0, 0), 0);
	assert_int_equal(wait0(p, s1, ev, 4), 0);
	assert_int_equal(wait0(p, s2, ev, 4), 1);
	assert_int_equal(xport_watch(p->xp, s1, XPORT_CTL_MOD, sd, EPOLLIN, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(xport_close(p->xp, sd), 0);
	assert_int_equal(wait0(p, s2, ev, 4), 0);
	assert_int_equal(xport_set_close(p->xp, s1), 0);
	assert_int_equal(xport_wait(p->xp, s1, ev, 4, 0), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(xport_set_close(p->xp, s2), 0);
	assert_int_equal(xport_set_close(p->xp, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xport_wait(p->xp, 0, ev, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
}

/* EPOLLOUT | EPOLLET when credit comes back, and when the queue window,
 * shut by this socket's sends, opens (no frame names the socket then). */
static void writable_edges(void **state)
{
	struct peer *p = *state;
	static struct got g[4 * PW];
	struct xport_event ev[4];
	int sd = peer_connect(p, 0x17, 3); /* 3 bytes of credit */
	char buf[8] = "abcdefg";

	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, sd, EPOLLOUT | EPOLLET, 5), 0);
	assert_int_equal(wait0(p, 0, ev, 4), 1); /* writable when watched */
	assert_int_equal(xport_send(p->xp, sd, buf, 8, 0), 3);
	assert_int_equal(xport_send(p->xp, sd, buf, 8, 0), -1);
	assert_int_equal(wait0(p, 0, ev, 4), 0);
	peer_send(p, XTS_OP_CREDIT, 0, (__u32)sd, 0x17, 1000, NULL, 0);
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(ev[0].events, EPOLLOUT);
	/* now the window: one byte a frame until it is shut */
	while (xport_send(p->xp, sd, buf, 1, 0) == 1)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(xp_room(p->xp), 0);
	assert_int_equal(wait0(p, 0, ev, 4), 0);
	peer_rx(p, g, 4 * PW);
	peer_ack(p); /* a pure ACK: names no socket */
	assert_int_equal(wait0(p, 0, ev, 4), 1);
	assert_int_equal(ev[0].sd, sd);
	assert_int_equal(ev[0].events, EPOLLOUT);
}

/* Many watched sockets, one ready: the wait names it alone, and the sets
 * do no work for the idle ones (the ready list holds one entry). */
static void many_one_ready(void **state)
{
	enum { N = 200 };
	struct peer *p = *state;
	struct xport_event ev[8];
	static int sd[N];
	int i;

	for (i = 0; i < N; i++) {
		sd[i] = peer_connect(p, 0x1000 + (__u32)i, P_CONNBUF);
		assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, sd[i], EPOLLIN, (uint64_t)i),
				 0);
	}
	data(p, sd[137], 0x1000 + 137, "!");
	assert_int_equal(xp_set_nready(p->xp, 0), 1);
	assert_int_equal(wait0(p, 0, ev, 8), 1);
	assert_int_equal(ev[0].data, 137);
}

/* A session lost: every watched socket reports its error. */
static void session_loss(void **state)
{
	struct peer *p = *state;
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	struct xport_event ev[4];
	int a = peer_connect(p, 0x18, P_CONNBUF), b = peer_connect(p, 0x19, P_CONNBUF);

	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, a, EPOLLIN | EPOLLET, 1), 0);
	assert_int_equal(xport_watch(p->xp, 0, XPORT_CTL_ADD, b, EPOLLIN | EPOLLET, 2), 0);
	peer_send(p, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e));
	assert_int_equal(wait0(p, 0, ev, 4), 2);
	assert_true(ev[0].events & EPOLLERR);
	assert_true(ev[1].events & EPOLLERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(level, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(edge, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(oneshot, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(rdhup_and_reset, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(two_sets, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(writable_edges, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(many_one_ready, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(session_loss, peer_setup, peer_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
