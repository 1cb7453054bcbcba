// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_xport_fastopen.c - TCP_FASTOPEN_CONNECT on libxport, white box, over
 * the in-memory link (the test plays the shard, xport_peer.h): connect()
 * sends nothing, the first send leaves as one CONNECT carrying its bytes
 * (XTS_CONNECT_F_DATA), the CONNECT_RES's credit counts them, a connect
 * error reaches the next call; any other call sends the CONNECT bare; a
 * shard that does not announce XTS_CAP_CONNECT_DATA gets a plain connect.
 */
#define _GNU_SOURCE
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "xport_peer.h"
#include "raw_frame.h"

static struct peer *open_peer(__u64 caps)
{
	struct peer *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->caps = caps;
	assert_int_equal(peer_open_opts(p, NULL), 0);
	return p;
}

static void close_peer(struct peer *p)
{
	void *st = p;

	peer_teardown(&st);
}

/* A socket with TCP_FASTOPEN_CONNECT, connect()ed (blocking: it must not
 * wait for anything). */
static int fo_socket(struct peer *p)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7)};
	int one = 1, v = 0, sd;
	socklen_t l = sizeof(v);

	inet_pton(AF_INET, "198.18.0.2", &a.sin_addr);
	sd = xport_socket(p->xp, AF_INET, SOCK_STREAM, 0);
	assert_true(sd > 0);
	assert_int_equal(
	    xport_setsockopt(p->xp, sd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)), 0);
	assert_int_equal(xport_getsockopt(p->xp, sd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &v, &l), 0);
	assert_int_equal(v, 1);
	assert_int_equal(xport_connect(p->xp, sd, (struct sockaddr *)&a, sizeof(a)), 0);
	return sd;
}

/* The CONNECT among @n frames: its index (fails if none or two). */
static unsigned the_connect(const struct got *g, unsigned n)
{
	unsigned i, at = n;

	assert_int_equal(count_op(g, n, XTS_OP_CONNECT), 1);
	for (i = 0; i < n; i++)
		if (g[i].op == XTS_OP_CONNECT)
			at = i;
	return at;
}

static void conn_res(struct peer *p, int sd, __u32 dpu_id, __u32 credit, int err)
{
	struct xts_conn_res r;

	memset(&r, 0, sizeof(r));
	r.err = (__s32)htole32((__u32)err);
	if (!err) {
		r.local = peer_addr("198.18.0.1", 40001);
		r.peer = peer_addr("198.18.0.2", 7);
	}
	peer_send(p, XTS_OP_CONNECT_RES, 0, (__u32)sd, err ? XTS_ID_NONE : dpu_id, credit, &r,
		  sizeof(r));
	peer_ack(p);
	xport_process(p->xp);
}

/* connect() sends nothing; the first send is one CONNECT frame with the
 * bytes after its options, and no DATA; the CONNECT_RES's credit bounds
 * what follows, to the byte; the answer reads as on any connection. */
static void first_bytes_ride(void **state)
{
	struct peer *p = open_peer(XTS_CAP_CONNECT_DATA);
	static struct got g[8];
	struct xts_connect c;
	char buf[16];
	unsigned n, i;
	int sd = fo_socket(p);
	size_t off;

	(void)state;
	assert_int_equal(peer_rx(p, g, 8), 0); /* nothing yet */
	assert_int_equal(xport_send(p->xp, sd, "GET /\r\n", 7, 0), 7);
	n = peer_rx(p, g, 8);
	assert_int_equal(count_op(g, n, XTS_OP_DATA), 0);
	i = the_connect(g, n);
	memcpy(&c, g[i].pl, sizeof(c));
	assert_int_equal(le16toh(c.flags), XTS_CONNECT_F_DATA);
	off = xts_connect_data_off(le16toh(c.nopts), le16toh(c.flags));
	assert_int_equal(g[i].len, off + 7);
	assert_memory_equal(g[i].pl + off, "GET /\r\n", 7);
	/* the shard grants what is left of its buffer, here 16 bytes: the
	 * host sends those and not one more */
	conn_res(p, sd, 0x201, 16, 0);
	memset(buf, 'b', sizeof(buf));
	assert_int_equal(xport_send(p->xp, sd, buf, 16, MSG_DONTWAIT), 16);
	assert_int_equal(xport_send(p->xp, sd, buf, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	peer_send(p, XTS_OP_DATA, 0, (__u32)sd, 0x201, 0, "200 OK", 6);
	assert_int_equal(xport_recv(p->xp, sd, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "200 OK", 6);
	n = peer_rx(p, g, 8);
	assert_int_equal(count_op(g, n, XTS_OP_DATA), 1);
	xport_close(p->xp, sd);
	close_peer(p);
}

/* A refused connect: the send that carried the bytes succeeded (as
 * Linux's TFO send), the next call says ECONNREFUSED. */
static void refused_later(void **state)
{
	struct peer *p = open_peer(XTS_CAP_CONNECT_DATA);
	static struct got g[8];
	char buf[4];
	int sd = fo_socket(p);

	(void)state;
	assert_int_equal(xport_send(p->xp, sd, "hi", 2, 0), 2);
	assert_int_equal(count_op(g, peer_rx(p, g, 8), XTS_OP_CONNECT), 1);
	conn_res(p, sd, 0, 0, ECONNREFUSED);
	assert_int_equal(xport_recv(p->xp, sd, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, ECONNREFUSED);
	xport_close(p->xp, sd);
	close_peer(p);
}

/* A call other than the first send (here a receive that would block)
 * sends the CONNECT as it is: nothing hangs on a CONNECT never sent. */
static void other_call_sends_it(void **state)
{
	struct peer *p = open_peer(XTS_CAP_CONNECT_DATA);
	static struct got g[8];
	struct xts_connect c;
	char buf[4];
	unsigned n, i;
	int sd = fo_socket(p);

	(void)state;
	assert_int_equal(xport_recv(p->xp, sd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	n = peer_rx(p, g, 8);
	i = the_connect(g, n);
	memcpy(&c, g[i].pl, sizeof(c));
	assert_int_equal(le16toh(c.flags) & XTS_CONNECT_F_DATA, 0);
	assert_int_equal(g[i].len, xts_connect_data_off(le16toh(c.nopts), le16toh(c.flags)));
	xport_close(p->xp, sd);
	close_peer(p);
}

/* A shard without XTS_CAP_CONNECT_DATA (an older one would refuse the
 * flag as malformed and reset the queue): a plain CONNECT at connect(),
 * which then waits for its result as without the option. */
static void old_shard_plain(void **state)
{
	struct peer *p = open_peer(0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7)};
	static struct got g[8];
	struct xts_connect c;
	int one = 1, sd;
	unsigned n, i;

	(void)state;
	inet_pton(AF_INET, "198.18.0.2", &a.sin_addr);
	sd = xport_socket(p->xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_int_equal(
	    xport_setsockopt(p->xp, sd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)), 0);
	assert_int_equal(xport_connect(p->xp, sd, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, EINPROGRESS);
	n = peer_rx(p, g, 8);
	i = the_connect(g, n);
	memcpy(&c, g[i].pl, sizeof(c));
	assert_int_equal(le16toh(c.flags) & XTS_CONNECT_F_DATA, 0);
	assert_int_equal(xport_send(p->xp, sd, "x", 1, 0), -1); /* still connecting */
	assert_int_equal(errno, EAGAIN);
	xport_close(p->xp, sd);
	close_peer(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(first_bytes_ride),
	    cmocka_unit_test(refused_later),
	    cmocka_unit_test(other_call_sends_it),
	    cmocka_unit_test(old_shard_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
