// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_xport_zc.c - the zero-copy calls (include/xport.h, "Zero copy")
 * over the in-memory link, the test playing the shard (xport_peer.h):
 * held frames counted against the credit, the socket's and the queue's
 * hold bounds, release after close and reset, zero-copy and copying calls
 * mixed on one socket, and lent tx frames.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#include "xport_peer.h"

/* One DATA frame from the DPU; the peer then reads what the host sent
 * (its acks), so that its window to the host stays open. */
static void data_in(struct peer *p, int sd, __u32 dpu, const void *b, size_t n)
{
	static struct got g[64];

	peer_send(p, XTS_OP_DATA, 0, (__u32)sd, dpu, 0, b, n);
	peer_rx(p, g, 64);
}

/* rlen + held + rcv_avail + ungranted == rcvbuf: the DPU can never have
 * more in flight than what the host holds back leaves room for. */
static void credit_invariant(struct peer *p, int sd)
{
	struct xsock *s = xp_sock(p->xp, sd);

	assert_non_null(s);
	assert_int_equal(xp_unread(s) + s->rcv_avail + s->ungranted, P_RCVBUF);
}

static struct xport_stats stats(struct peer *p)
{
	struct xport_stats st;

	assert_int_equal(xport_stats(p->xp, &st, sizeof(st)), 0);
	return st;
}

/* Enable zero copy on @sd: its first xport_recv_zc (nothing to read). */
static void zc_on(struct peer *p, int sd)
{
	struct iovec v[1];

	assert_int_equal(xport_recv_zc(p->xp, sd, v, 1, 0), -1);
	assert_int_equal(errno, EAGAIN);
}

/* Frames kept, lent in order, 64-byte aligned; their bytes stay charged
 * to the credit until recv_done; and a DPU that sends past what the host
 * holds back is caught (the held bytes were not granted twice). */
static void credit_held(void **state)
{
	struct peer *p = *state;
	int sd = peer_connect(p, 0x301, P_CONNBUF);
	char a[100], b[200], big[P_RCVBUF];
	struct iovec v[8];
	int n;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	zc_on(p, sd);
	data_in(p, sd, 0x301, a, sizeof(a));
	data_in(p, sd, 0x301, b, sizeof(b));
	assert_int_equal(stats(p).zc_rx_held, 2);
	credit_invariant(p, sd);
	n = xport_recv_zc(p->xp, sd, v, 8, 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].iov_len, 100);
	assert_int_equal(v[1].iov_len, 200);
	assert_memory_equal(v[0].iov_base, a, 100);
	assert_memory_equal(v[1].iov_base, b, 200);
	assert_int_equal((uintptr_t)v[0].iov_base % 64, 0);
	assert_int_equal((uintptr_t)v[1].iov_base % 64, 0);
	/* lent, not consumed: no credit back yet */
	assert_int_equal(xp_sock(p->xp, sd)->rcv_avail, P_RCVBUF - 300);
	assert_int_equal(xp_sock(p->xp, sd)->ungranted, 0);
	assert_int_equal(xport_recv_done(p->xp, sd, 150), 0);
	credit_invariant(p, sd);
	assert_int_equal(xp_sock(p->xp, sd)->ungranted, 150);
	assert_int_equal(stats(p).zc_rx_held, 1); /* the first frame went back */
	/* the rest, lent again from where it stands */
	n = xport_recv_zc(p->xp, sd, v, 8, 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].iov_len, 150);
	assert_memory_equal(v[0].iov_base, b, 150);
	/* the DPU has rcvbuf - 300 left; it sends exactly that, then one
	 * byte more while 150 are still held: a protocol error */
	memset(big, 'c', sizeof(big));
	data_in(p, sd, 0x301, big, 1500);
	data_in(p, sd, 0x301, big, 1500);
	data_in(p, sd, 0x301, big, P_RCVBUF - 300 - 3000);
	credit_invariant(p, sd);
	assert_int_equal(xp_sock(p->xp, sd)->rcv_avail, 0);
	data_in(p, sd, 0x301, big, 1);
	assert_int_equal(xp_sock(p->xp, sd)->so_error, EPROTO);
}

/* A socket keeps at most XP_ZC_SOCK_MAX frames; beyond, DATA goes to its
 * ring, lent after the frames, in order. */
static void hold_socket(void **state)
{
	struct peer *p = *state;
	int sd = peer_connect(p, 0x302, P_CONNBUF);
	static struct iovec v[XP_ZC_SOCK_MAX + 4];
	char buf[10 * (XP_ZC_SOCK_MAX + 6)], got[sizeof(buf)];
	size_t off = 0;
	int n, i;

	zc_on(p, sd);
	for (i = 0; i < XP_ZC_SOCK_MAX + 6; i++) {
		memset(buf + 10 * i, 'A' + i % 26, 10);
		data_in(p, sd, 0x302, buf + 10 * i, 10);
	}
	assert_int_equal(stats(p).zc_rx_held, XP_ZC_SOCK_MAX);
	assert_int_equal(stats(p).zc_rx_copied, 6);
	credit_invariant(p, sd);
	n = xport_recv_zc(p->xp, sd, v, XP_ZC_SOCK_MAX + 4, 0);
	assert_int_equal(n, XP_ZC_SOCK_MAX + 1);
	for (i = 0; i < n; i++) {
		memcpy(got + off, v[i].iov_base, v[i].iov_len);
		off += v[i].iov_len;
	}
	assert_int_equal(off, sizeof(buf));
	assert_memory_equal(got, buf, sizeof(buf));
	/* fewer spans than frames: lent only as far as they go */
	assert_int_equal(xport_recv_zc(p->xp, sd, v, 3, 0), 3);
	assert_int_equal(xport_recv_done(p->xp, sd, 31), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xport_recv_done(p->xp, sd, 30), 0);
	assert_int_equal(stats(p).zc_rx_held, XP_ZC_SOCK_MAX - 3);
	credit_invariant(p, sd);
}

/* The queue lends at most lend_max frames (its fill side keeps two
 * windows): sockets past it copy, and the link still receives every
 * frame (no fill-ring starvation, no gap). */
static void hold_queue(void **state)
{
	struct peer *p = *state;
	__u32 max = xts_link__rx_lend_max(p->a);
	int sd[8], k, i, nsd;
	char c[16];
	struct xport_stats st;

	assert_true(max > 0 && max < 8 * XP_ZC_SOCK_MAX);
	nsd = (int)(max / XP_ZC_SOCK_MAX) + 2;
	memset(c, 'q', sizeof(c));
	for (k = 0; k < nsd; k++) {
		sd[k] = peer_connect(p, 0x310 + (__u32)k, P_CONNBUF);
		zc_on(p, sd[k]);
	}
	for (k = 0; k < nsd; k++)
		for (i = 0; i < XP_ZC_SOCK_MAX; i++)
			data_in(p, sd[k], 0x310 + (__u32)k, c, sizeof(c));
	st = stats(p);
	assert_int_equal(st.zc_rx_held, max);
	assert_int_equal(st.zc_rx_frames, max);
	assert_int_equal(st.zc_rx_copied, (__u64)nsd * XP_ZC_SOCK_MAX - max);
	assert_int_equal(st.seq_gaps, 0);
	assert_int_equal(st.xsk_fill_empty, 0);
	for (k = 0; k < nsd; k++) {
		char all[XP_ZC_SOCK_MAX * sizeof(c)];

		credit_invariant(p, sd[k]);
		assert_int_equal(xport_recv(p->xp, sd[k], all, sizeof(all), 0), sizeof(all));
	}
	assert_int_equal(stats(p).zc_rx_held, 0);
}

/* Close with frames lent: they go back; a release after close is EBADF,
 * and on a new socket (the slot reused) EINVAL: the recycled frames,
 * now holding another socket's bytes, are never touched. */
static void release_after_close(void **state)
{
	struct peer *p = *state;
	int sd = peer_connect(p, 0x320, P_CONNBUF), sd2;
	char a[64], b[64], got[64];
	struct iovec v[4];

	memset(a, 'x', sizeof(a));
	memset(b, 'y', sizeof(b));
	zc_on(p, sd);
	data_in(p, sd, 0x320, a, sizeof(a));
	assert_int_equal(xport_recv_zc(p->xp, sd, v, 4, 0), 1);
	assert_int_equal(stats(p).zc_rx_held, 1);
	assert_int_equal(xport_close(p->xp, sd), 0);
	assert_int_equal(stats(p).zc_rx_held, 0);
	assert_int_equal(xport_recv_done(p->xp, sd, 64), -1);
	assert_int_equal(errno, EBADF);
	sd2 = peer_connect(p, 0x321, P_CONNBUF);
	assert_int_equal(xts_id_slot((__u32)sd2), xts_id_slot((__u32)sd));
	data_in(p, sd2, 0x321, b, sizeof(b));
	assert_int_equal(xport_recv_done(p->xp, sd2, 64), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xport_recv(p->xp, sd2, got, sizeof(got), 0), 64);
	assert_memory_equal(got, b, 64);
}

/* connect(AF_UNSPEC) with bytes lent: they are gone, and so is the
 * loan (EINVAL), though the sd lives on. */
static void disconnect_while_lent(void **state)
{
	struct peer *p = *state;
	int sd = peer_connect(p, 0x325, P_CONNBUF);
	struct sockaddr sa = {.sa_family = AF_UNSPEC};
	char a[64];
	struct iovec v[4];

	memset(a, 'd', sizeof(a));
	zc_on(p, sd);
	data_in(p, sd, 0x325, a, sizeof(a));
	assert_int_equal(xport_recv_zc(p->xp, sd, v, 4, 0), 1);
	assert_int_equal(xport_connect(p->xp, sd, &sa, sizeof(sa)), 0);
	assert_int_equal(stats(p).zc_rx_held, 0);
	assert_int_equal(xport_recv_done(p->xp, sd, 64), -1);
	assert_int_equal(errno, EINVAL);
}

/* A connection reset by the DPU with frames lent: its bytes stay
 * readable (as Linux), the spans valid, then the error. */
static void reset_while_lent(void **state)
{
	struct peer *p = *state;
	int sd = peer_connect(p, 0x330, P_CONNBUF);
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	char a[80];
	struct iovec v[4];

	memset(a, 'r', sizeof(a));
	zc_on(p, sd);
	data_in(p, sd, 0x330, a, sizeof(a));
	assert_int_equal(xport_recv_zc(p->xp, sd, v, 4, 0), 1);
	peer_send(p, XTS_OP_RESET, 0, (__u32)sd, 0x330, 0, &e, sizeof(e));
	assert_int_equal(xp_sock(p->xp, sd)->state, XS_DEAD);
	assert_int_equal(stats(p).zc_rx_held, 1);
	assert_memory_equal(v[0].iov_base, a, sizeof(a));
	assert_int_equal(xport_recv_zc(p->xp, sd, v, 4, 0), 1);
	assert_int_equal(xport_recv_done(p->xp, sd, sizeof(a)), 0);
	assert_int_equal(stats(p).zc_rx_held, 0);
	assert_int_equal(xport_recv_zc(p->xp, sd, v, 4, 0), -1);
	assert_int_equal(errno, ECONNRESET);
}

/* Zero-copy and copying calls on one socket, in every order, over bytes
 * in the ring (before zero copy was on, and behind it) and in frames: one
 * stream, in order. */
static void mixed(void **state)
{
	struct peer *p = *state;
	int sd = peer_connect(p, 0x340, P_CONNBUF), n, i;
	char want[400], got[400], tmp[400];
	size_t off = 0;
	struct iovec v[8];

	for (i = 0; i < (int)sizeof(want); i++)
		want[i] = (char)('0' + i % 61);
	data_in(p, sd, 0x340, want, 100); /* A: copying socket: to the ring */
	n = xport_recv_zc(p->xp, sd, v, 8, 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].iov_len, 100);
	data_in(p, sd, 0x340, want + 100, 100);	       /* B: behind lent ring bytes */
	assert_memory_equal(v[0].iov_base, want, 100); /* the ring did not move */
	assert_int_equal(xport_recv(p->xp, sd, tmp, 10, 0), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(xport_recv(p->xp, sd, tmp, 10, MSG_PEEK), 10);
	assert_memory_equal(tmp, want, 10);
	assert_int_equal(xport_recv_done(p->xp, sd, 100), 0);
	memcpy(got, want, 100);
	off = 100;
	/* B is in the ring: a copying read takes part of it */
	assert_int_equal(xport_recv(p->xp, sd, got + off, 30, 0), 30);
	off += 30;
	n = xport_recv_zc(p->xp, sd, v, 8, 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].iov_len, 70);
	memcpy(got + off, v[0].iov_base, 70);
	off += 70;
	assert_int_equal(xport_recv_done(p->xp, sd, 70), 0);
	/* ring empty: C and D are kept frames */
	data_in(p, sd, 0x340, want + 200, 100);
	data_in(p, sd, 0x340, want + 300, 100);
	assert_int_equal(stats(p).zc_rx_held, 2);
	assert_int_equal(xport_recv(p->xp, sd, got + off, 150, 0), 150); /* across frames */
	off += 150;
	n = xport_recv_zc(p->xp, sd, v, 8, 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].iov_len, 50);
	memcpy(got + off, v[0].iov_base, 50);
	off += 50;
	assert_int_equal(xport_recv_done(p->xp, sd, 50), 0);
	assert_int_equal(off, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(stats(p).zc_rx_held, 0);
	credit_invariant(p, sd);
}

/* A lent tx frame: aligned, at most the credit, sent as one DATA with
 * exactly the bytes written; misuse is refused without sending. */
static void tx_lend(void **state)
{
	struct peer *p = *state;
	int sd = peer_connect(p, 0x350, 300);
	struct got g[8];
	void *b, *b2;
	__u32 room;
	unsigned n, i;

	assert_int_equal(xport_send_commit(p->xp, sd, 1, 0), -1);
	assert_int_equal(errno, EINVAL); /* nothing lent */
	room = xts_link__tx_room(p->a);
	assert_int_equal(xport_send_buf(p->xp, sd, 1000, &b, 0), 300); /* the credit */
	assert_int_equal((uintptr_t)b % 64, 0);
	assert_int_equal(xts_link__tx_room(p->a), room - 1); /* it holds a window slot */
	assert_int_equal(xport_send_buf(p->xp, sd, 100, &b2, 0), 100);
	assert_ptr_equal(b, b2);
	for (i = 0; i < 300; i++)
		((char *)b)[i] = (char)i;
	assert_int_equal(xport_send_commit(p->xp, sd, 301, 0), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(xport_send_commit(p->xp, sd, 300, 0), 300);
	assert_int_equal(xp_sock(p->xp, sd)->snd_credit, 0);
	n = peer_rx(p, g, 8);
	assert_int_equal(count_op(g, n, XTS_OP_DATA), 1);
	for (i = 0; i < n && g[i].op != XTS_OP_DATA; i++)
		;
	assert_int_equal(g[i].len, 300);
	for (unsigned j = 0; j < 300; j++)
		assert_int_equal((unsigned char)g[i].pl[j], j & 0xff);
	/* no credit: EAGAIN (non-blocking) */
	assert_int_equal(xport_send_buf(p->xp, sd, 10, &b, 0), -1);
	assert_int_equal(errno, EAGAIN);
	/* a commit of 0 gives the frame back unsent */
	peer_send(p, XTS_OP_CREDIT, 0, (__u32)sd, 0x350, 50, NULL, 0);
	peer_ack(p);
	xport_process(p->xp);
	room = xts_link__tx_room(p->a);
	assert_int_equal(xport_send_buf(p->xp, sd, 10, &b, 0), 10);
	assert_int_equal(xport_send_commit(p->xp, sd, 0, 0), 0);
	assert_int_equal(xts_link__tx_room(p->a), room);
	assert_int_equal(stats(p).zc_tx_lent, 0);
	assert_int_equal(count_op(g, peer_rx(p, g, 8), XTS_OP_DATA), 0);
}

/* Reset while a tx frame is lent: the commit says so and the frame goes
 * back; a queue lends at most half its window; close takes one back. */
static void tx_reset_bound(void **state)
{
	struct peer *p = *state;
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	int sd[PW], k, lim = PW / 2;
	void *b;
	char c = 'z';

	for (k = 0; k <= lim; k++)
		sd[k] = peer_connect(p, 0x360 + (__u32)k, P_CONNBUF);
	for (k = 0; k < lim; k++)
		assert_true(xport_send_buf(p->xp, sd[k], 10, &b, 0) > 0);
	assert_int_equal(xport_send_buf(p->xp, sd[lim], 10, &b, 0), -1);
	assert_int_equal(errno, ENOBUFS);
	/* the rest of the window is still there for copying sends */
	assert_int_equal(xport_send(p->xp, sd[lim], &c, 1, 0), 1);
	peer_send(p, XTS_OP_RESET, 0, (__u32)sd[0], 0x360, 0, &e, sizeof(e));
	assert_int_equal(xport_send_commit(p->xp, sd[0], 5, 0), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(stats(p).zc_tx_lent, lim - 1);
	assert_int_equal(xport_close(p->xp, sd[1]), 0);
	assert_int_equal(stats(p).zc_tx_lent, lim - 2);
	assert_true(xport_send_buf(p->xp, sd[lim], 10, &b, 0) > 0);
}

/* Misuse: bad arguments are EINVAL, unknown sockets EBADF. */
static void bad_args(void **state)
{
	struct peer *p = *state;
	int sd = peer_connect(p, 0x370, P_CONNBUF);
	struct iovec v[1];
	void *b;

	assert_int_equal(xport_recv_zc(p->xp, sd, v, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xport_recv_zc(p->xp, sd, v, 1, MSG_PEEK), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xport_recv_zc(p->xp, 12345, v, 1, 0), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(xport_send_buf(p->xp, sd, 0, &b, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xport_send_buf(p->xp, 12345, 1, &b, 0), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(xport_recv_done(p->xp, sd, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xport_recv_done(p->xp, sd, 0), 0);
}

/* A framed socket delivers one message per receive: no spans across
 * message ends, so no zero-copy receive. */
static void framed_refused(void **state)
{
	struct peer *p = *state;
	struct xport_strp st = {.kind = XPORT_STRP_LINE, .max = 1024};
	int sd = xport_socket(p->xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct iovec v[1];

	assert_int_equal(xport_setsockopt(p->xp, sd, SOL_TCP, TCP_ULP, "strp", 5), 0);
	assert_int_equal(xport_setsockopt(p->xp, sd, SOL_XTS, XTS_STRP, &st, sizeof(st)), 0);
	assert_int_equal(xport_recv_zc(p->xp, sd, v, 1, 0), -1);
	assert_int_equal(errno, EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(credit_held, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(hold_socket, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(hold_queue, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(release_after_close, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(disconnect_while_lent, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(reset_while_lent, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(mixed, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(tx_lend, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(tx_reset_bound, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(bad_args, peer_setup, peer_teardown),
	    cmocka_unit_test_setup_teardown(framed_refused, peer_setup, peer_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
