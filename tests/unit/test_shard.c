// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_shard.c - a shard's connection logic, white box, over the in-memory
 * link pair (xport/core/link_mem.c): the test plays the host on one end
 * with raw link calls, the shard (shard_open over the other end, no xtsd)
 * runs the real code, and the far side is kernel TCP on 127.0.0.1.
 *
 * The queue window from the shard's side, credit boundaries, control frames
 * owed while the window is full (never dropped, in order), the session's
 * resets and deadlines, session ops reordered on the wire, the closing
 * deadline, a socket option answered after the socket is gone.
 */
#define _GNU_SOURCE /* accept4 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shard_harness.h"

/* ---- tests ---- */

static void test_hello_connect_echo(void **state)
{
	struct h *h = *state;
	__u8 buf[64];
	struct frame *f;
	__u32 id;
	int peer;

	hello(h);
	id = hconnect(h, 0x101, &peer);
	hdata(h, id, 0x101, 5, 'a');
	assert_int_equal(peer_read(h, peer, buf, 5, 2000), 5);
	assert_memory_equal(buf, "aaaaa", 5);
	assert_int_equal(send(peer, "pong", 4, 0), 4);
	f = expect(h, XTS_OP_DATA);
	assert_int_equal(f->dst, 0x101);
	assert_int_equal(f->src, id);
	assert_int_equal(f->len, 4);
	assert_memory_equal(f->data, "pong", 4);
	close(peer);
}

/* Sequenced frames the shard sends a host that stops acking. */
static unsigned drain_unacked(struct h *h, int ms)
{
	struct frame f[BATCH];
	unsigned got = 0;
	__u64 end = now_ms() + (__u64)ms;

	while (now_ms() < end) {
		int n = host_rx(h, f, BATCH, 20);

		for (int i = 0; i < n; i++)
			if (!(f[i].flags & XTS_F_NOSEQ))
				got++;
	}
	return got;
}

/* Sequenced frames the shard has sent and the host not yet acked. */
static __u32 in_flight(struct h *h)
{
	__u32 t, r, pa;

	xts_link__seq_state(h->s->link, &t, &r, &pa);
	return t - pa;
}

/* A host that never acks gets exactly W frames from a shard with plenty
 * to send (fails when the link lets one more be in flight), and an ack
 * opens the window again. */
static void test_window_exact(void **state)
{
	struct h *h = *state;
	static __u8 big[256 * 1024];
	int peer;

	hello(h);
	hconnect(h, 0x101, &peer);
	assert_true(send(peer, big, sizeof(big), MSG_DONTWAIT) > 64 * 1024);
	assert_int_equal(drain_unacked(h, 300), W);
	host_ack(h);
	assert_int_equal(drain_unacked(h, 300), W);
	close(peer);
}

/* The host may send exactly its credit; one byte more resets that
 * connection alone (EPROTO), the other carries on. */
static void test_credit_boundary(void **state)
{
	struct h *h = *state;
	static __u8 buf[CONN_BUF + 1];
	struct xts_err e;
	struct frame *f;
	__u32 a, b;
	int pa, pb, others = 0;

	hello(h);
	a = hconnect(h, 0x101, &pa);
	b = hconnect(h, 0x102, &pb);
	hdata(h, a, 0x101, CONN_BUF, 'a');
	/* b: its whole credit, then one byte more, in one rx batch */
	hdata(h, b, 0x102, CONN_BUF, 'b');
	hdata(h, b, 0x102, 1, 'b');
	f = find(h, XTS_OP_RESET, 0x102, 2000, &others);
	assert_non_null(f);
	assert_int_equal(others, 0);
	memcpy(&e, f->data, sizeof(e));
	assert_int_equal(le32toh((__u32)e.err), EPROTO);
	assert_int_equal(peer_read(h, pa, buf, CONN_BUF, 2000), CONN_BUF);
	/* every byte within b's credit went out before the reset */
	assert_int_equal(peer_read(h, pb, buf, CONN_BUF, 2000), CONN_BUF);
	assert_true(peer_reset(h, pb, 2000));
	/* a still works, both ways */
	hdata(h, a, 0x101, 1, 'z');
	assert_int_equal(peer_read(h, pa, buf, 1, 2000), 1);
	assert_int_equal(buf[0], 'z');
	assert_int_equal(send(pa, "A", 1, 0), 1);
	f = find(h, XTS_OP_DATA, 0x101, 2000, &others);
	assert_non_null(f);
	assert_int_equal(others, 0);
	assert_int_equal(h->s->st.proto_errs, 1);
	close(pa);
	close(pb);
}

/* Control frames the shard owes while the window is full wait, are never
 * dropped, and go out in the order they were owed once it opens. */
static void test_owed_ctl_in_order(void **state)
{
	struct h *h = *state;
	static __u8 big[256 * 1024];
	struct frame f[BATCH];
	__u32 id[5], want[5] = {0};
	__u16 wop[5] = {0};
	int peer[6], n, k = 0, w = 0;
	struct xts_connect req;
	bool more = true;

	hello(h);
	for (int i = 1; i <= 4; i++)
		id[i] = hconnect(h, 0x100 + (__u32)i, &peer[i]);
	/* 1's peer fills the window; the host reads none of it, so nothing
	 * it sends acks it */
	assert_true(send(peer[1], big, sizeof(big), MSG_DONTWAIT) > 64 * 1024);
	run_ms(h, 200);
	assert_int_equal(in_flight(h), W);
	/* now the shard comes to owe: CLOSED (2), RESET (3: past its credit),
	 * CREDIT (4: the kernel took a quarter of conn_buf), CONNECT_RES (5),
	 * and a refused CONNECT (6: the table is full) */
	hsend(h, XTS_OP_CLOSE, 0, id[2], 0x102, 0, &(struct xts_close){0},
	      sizeof(struct xts_close));
	hdata(h, id[3], 0x103, CONN_BUF + 1, 'x');
	hdata(h, id[4], 0x104, CONN_BUF / 2, 'y');
	memset(&req, 0, sizeof(req));
	req.dst = h->dst;
	hsend(h, XTS_OP_CONNECT, 0, XTS_ID_NONE, 0x105, RCVBUF, &req, xts_connect_opts_end(0));
	hsend(h, XTS_OP_CONNECT, 0, XTS_ID_NONE, 0x106, RCVBUF, &req, xts_connect_opts_end(0));
	run_ms(h, 200);
	assert_int_equal(in_flight(h), W);
	assert_int_equal(h->s->st.proto_errs, 1); /* 3's extra byte */
	peer[5] = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_true(peer[5] >= 0);
	/* open the window: everything owed arrives, in order, between data */
	assert_int_equal(drain_unacked(h, 100), W);
	host_ack(h);
	want[0] = 0x106, wop[0] = XTS_OP_CONNECT_RES; /* the reject ring goes first */
	want[1] = 0x102, wop[1] = XTS_OP_CLOSED;
	want[2] = 0x103, wop[2] = XTS_OP_RESET;
	want[3] = 0x104, wop[3] = XTS_OP_CREDIT;
	want[4] = 0x105, wop[4] = XTS_OP_CONNECT_RES;
	while (more && (n = host_rx(h, f, BATCH, 500)) > 0) {
		for (int i = 0; i < n; i++, k++) {
			if (f[i].op == XTS_OP_DATA && f[i].dst == 0x101)
				continue;
			if (f[i].flags & XTS_F_NOSEQ)
				continue;
			assert_true(w < 5);
			assert_int_equal(f[i].op, wop[w]);
			assert_int_equal(f[i].dst, want[w]);
			w++;
		}
		host_ack(h);
		more = w < 5;
	}
	assert_int_equal(w, 5);
	for (int i = 1; i <= 5; i++)
		close(peer[i]);
}

/* QRESET from the host ends the session: every connection is reset
 * (RST to the far side), the table is empty. */
static void test_qreset_resets_all(void **state)
{
	struct h *h = *state;
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	int pa, pb;

	hello(h);
	hconnect(h, 0x101, &pa);
	hconnect(h, 0x102, &pb);
	hsend(h, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e));
	assert_true(peer_reset(h, pa, 2000));
	assert_true(peer_reset(h, pb, 2000));
	assert_int_equal(h->s->nconns, 0);
	assert_int_equal(h->s->sess.epoch, 0);
	assert_int_equal(h->s->st.session_resets, 1);
	close(pa);
	close(pb);
}

/* A HELLO with @nonce, as a restarted host (or a forger) would send it. */
static void send_hello(struct h *h, __u32 nonce)
{
	struct xts_hello hl = {0};

	hl.min_version = hl.max_version = htole16(XTS_PROTO_VERSION);
	hl.window = htole32(W);
	hl.max_frame = htole32(xts_link__max_frame(h->host));
	hl.nonce = htole32(nonce);
	hsend(h, XTS_OP_HELLO, 0, 0, 0, 0, &hl, sizeof(hl));
}

/* A HELLO while the session lives does not end it: the shard asks the
 * live host (a PING); the host answers, and the HELLO is refused with
 * EBUSY, outside the session; the session and its connections go on. */
static void test_hello_probe_refused(void **state)
{
	struct h *h = *state;
	struct xts_hello_ack ack;
	struct frame *f;
	__u8 buf[8];
	__u32 e1, id;
	int pa;

	e1 = hello(h);
	id = hconnect(h, 0x101, &pa);
	send_hello(h, 0x777);
	f = expect(h, XTS_OP_PING);
	hsend(h, XTS_OP_PONG, 0, 0, 0, 0, f->data, f->len);
	f = expect(h, XTS_OP_HELLO_ACK);
	memcpy(&ack, f->data, sizeof(ack));
	assert_int_equal(f->epoch, 0);
	assert_int_equal(le32toh((__u32)ack.err), EBUSY);
	assert_int_equal(le32toh(ack.nonce), 0x777);
	assert_int_equal(h->s->sess.epoch, e1);
	assert_int_equal(h->s->st.hellos_refused_busy, 1);
	assert_int_equal(h->s->st.takeovers, 0);
	hdata(h, id, 0x101, 3, 'k');
	assert_int_equal(peer_read(h, pa, buf, 3, 2000), 3);
	close(pa);
}

/* No answer to the probe: the HELLO takes the queue over when the bound
 * expires (the host restarted; the old session's connections are reset).
 * A retried HELLO meanwhile replaces the waiting one, whose answer then
 * names the retry's nonce, and does not move the bound. */
static void test_hello_probe_takeover(void **state)
{
	struct h *h = *state;
	struct xts_hello_ack ack;
	struct frame *f;
	__u64 t0, until;
	__u32 e1;
	int pa;

	e1 = hello(h);
	hconnect(h, 0x101, &pa);
	t0 = now_ms();
	send_hello(h, 0xa);
	expect(h, XTS_OP_PING); /* not answered: this host is "gone" */
	until = h->s->sess.probe.until_ns;
	assert_true(h->s->sess.probe.on);
	run_ms(h, 150);
	send_hello(h, 0xb);
	run_ms(h, 20);
	assert_int_equal(h->s->sess.probe.until_ns, until);
	assert_int_equal(le32toh(h->s->sess.probe.hello.nonce), 0xb);
	f = expect(h, XTS_OP_HELLO_ACK);
	memcpy(&ack, f->data, sizeof(ack));
	assert_int_equal(ack.err, 0);
	assert_int_equal(le32toh(ack.nonce), 0xb);
	assert_int_not_equal(f->epoch, 0);
	assert_int_not_equal(f->epoch, e1);
	assert_true(now_ms() - t0 >= 450);
	print_message("takeover %llu ms after the first HELLO (bound 500 ms)\n",
		      (unsigned long long)(now_ms() - t0));
	assert_int_equal(h->s->st.takeovers, 1);
	assert_true(peer_reset(h, pa, 2000));
	close(pa);
}

/* A silent host is pinged after idle_ms and loses its session after
 * dead_ms: deadlines the shard sleeps to, no tick. */
static void test_dead_host(void **state)
{
	struct h *h = *state;
	struct frame f[BATCH];
	bool ping = false;
	__u64 t0, last_rx;
	int pa, n;

	cfg_of(h)->idle_ms = 50;
	cfg_of(h)->dead_host_ms = 300;
	hello(h);
	hconnect(h, 0x101, &pa);
	last_rx = h->s->sess.last_rx_ns; /* the CONNECT, the host's last word */
	t0 = now_ms();
	while (h->s->sess.epoch && now_ms() - t0 < 2000) {
		n = host_rx(h, f, BATCH, 10);
		for (int i = 0; i < n; i++)
			ping |= f[i].op == XTS_OP_PING;
	}
	assert_true(ping);
	assert_int_equal(h->s->sess.epoch, 0);
	assert_true(shard_now_ns() - last_rx >= 300 * 1000000ull);
	assert_true(peer_reset(h, pa, 2000));
	close(pa);
}

/* Session ops reordered on the wire: DATA of a session that the host has
 * since reset arrives after the QRESET.  It is stale (another epoch),
 * dropped and counted, never delivered. */
static void test_reorder_qreset_before_data(void **state)
{
	struct h *h = *state;
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	struct xts_link_stats st0, st1;
	size_t got = 0;
	__u32 id;
	int pa;

	hello(h);
	id = hconnect(h, 0x101, &pa);
	xts_link__stats(h->s->link, &st0);
	assert_int_equal(xts_link__mem_hold(h->host, true), 0);
	hdata(h, id, 0x101, 8, 'd');
	hsend(h, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e));
	assert_int_equal(xts_link__mem_held(h->host), 2);
	assert_int_equal(xts_link__mem_swap(h->host, 0, 1), 0);
	assert_int_equal(xts_link__mem_release(h->host, 2), 2);
	assert_int_equal(xts_link__mem_hold(h->host, false), 0);
	run_ms(h, 100);
	assert_true(peer_reset_after(h, pa, 2000, &got));
	assert_int_equal(got, 0);
	xts_link__stats(h->s->link, &st1);
	assert_true(st1.rx_stale > st0.rx_stale);
	assert_int_equal(h->s->sess.epoch, 0);
	close(pa);
}

/* ... and DATA of the live session sent just before a HELLO but arriving
 * after it: the HELLO only sets off the probe, so the DATA is still the
 * live session's and is delivered; the connection is reset only when the
 * unanswered probe lets the HELLO take over. */
static void test_reorder_hello_before_data(void **state)
{
	struct h *h = *state;
	struct xts_hello hl = {0};
	__u8 buf[16];
	__u32 id;
	int pa;

	hello(h);
	id = hconnect(h, 0x101, &pa);
	hl.min_version = hl.max_version = htole16(XTS_PROTO_VERSION);
	hl.window = htole32(W);
	hl.max_frame = htole32(xts_link__max_frame(h->host));
	assert_int_equal(xts_link__mem_hold(h->host, true), 0);
	hdata(h, id, 0x101, 8, 'd');
	hsend(h, XTS_OP_HELLO, 0, 0, 0, 0, &hl, sizeof(hl));
	assert_int_equal(xts_link__mem_swap(h->host, 0, 1), 0);
	assert_int_equal(xts_link__mem_release(h->host, 2), 2);
	assert_int_equal(xts_link__mem_hold(h->host, false), 0);
	assert_int_equal(peer_read(h, pa, buf, 8, 2000), 8);
	assert_non_null(find(h, XTS_OP_HELLO_ACK, 0, 2000, NULL));
	assert_true(peer_reset(h, pa, 2000));
	close(pa);
}

/* The closing deadline: the host closes a connection whose peer never
 * reads while the shard holds its bytes; after linger_ms it is aborted,
 * the host gets CLOSED, the slot is free, and it is counted. */
/* Send connection @id (host socket @hid, its far side a small window that
 * does not read) what credit allows until the shard holds bytes of its own
 * for it; the bytes sent. */
static size_t fill_shard_buf(struct h *h, __u32 id, __u32 hid)
{
	struct conn *c = &h->s->conns[xts_id_slot(id)];
	__u32 credit = CONN_BUF;
	struct frame f[BATCH];
	size_t sent = 0;
	int small = 4096;

	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	for (int i = 0; i < 100 && !c->buf_len; i++) {
		int n;

		if (credit)
			hdata(h, id, hid, credit, 'q');
		sent += credit;
		credit = 0;
		n = host_rx(h, f, BATCH, 20);
		for (int k = 0; k < n; k++)
			if (f[k].dst == hid)
				credit += f[k].credit;
		host_ack(h);
	}
	assert_true(c->buf_len > 0);
	return sent;
}

static void small_window(struct h *h)
{
	int small = 4096;

	/* accepted sockets inherit it: their window stays small */
	setsockopt(h->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

static void test_linger_abort(void **state)
{
	struct h *h = *state;
	__u64 t0;
	__u32 id;
	int pa;

	cfg_of(h)->linger_ms = 100;
	small_window(h);
	hello(h);
	id = hconnect(h, 0x101, &pa);
	fill_shard_buf(h, id, 0x101);
	hsend(h, XTS_OP_CLOSE, 0, id, 0x101, 0, &(struct xts_close){0}, sizeof(struct xts_close));
	t0 = now_ms();
	assert_non_null(find(h, XTS_OP_CLOSED, 0x101, 2000, NULL));
	assert_true(now_ms() - t0 >= 90);
	assert_int_equal(h->s->nconns, 0);
	assert_int_equal(h->s->st.linger_aborts, 1);
	assert_true(peer_reset(h, pa, 2000));
	close(pa);
}

/* The host's graceful end (QRESET err 0, its last xport_close_queue): what
 * it still owned is reset, but a connection it had closed keeps delivering
 * to its slow peer as an orphan, through the next session, and ends with
 * FIN and every byte; nobody is told about it. */
static void test_graceful_end_orphan(void **state)
{
	struct h *h = *state;
	static __u8 buf[1 << 20];
	struct xts_err e = {.err = 0};
	struct frame f[BATCH];
	size_t sent, got = 0;
	__u32 a;
	int pa, pb, n;

	small_window(h);
	hello(h);
	a = hconnect(h, 0x101, &pa);
	hconnect(h, 0x102, &pb);
	sent = fill_shard_buf(h, a, 0x101);
	hsend(h, XTS_OP_CLOSE, 0, a, 0x101, 0, &(struct xts_close){0}, sizeof(struct xts_close));
	hsend(h, XTS_OP_QRESET, 0, 0, 0, 0, &e, sizeof(e));
	assert_true(peer_reset(h, pb, 2000)); /* still the host's: reset */
	assert_int_equal(h->s->sess.epoch, 0);
	assert_int_equal(h->s->nconns, 1); /* the orphan */
	hello(h);			   /* a new session does not touch it */
	for (__u64 end = now_ms() + 5000;;) {
		assert_true(now_ms() < end);
		ssize_t r = recv(pa, buf, sizeof(buf), MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		assert_true(r == 0 || errno == EAGAIN); /* never ECONNRESET */
		if (r == 0)
			break; /* FIN */
		shard_poll(h->s, 1);
	}
	assert_int_equal(got, sent);
	run_ms(h, 50);
	assert_int_equal(h->s->nconns, 0);
	/* the new session heard nothing of it */
	while ((n = host_rx(h, f, BATCH, 50)) > 0)
		for (int i = 0; i < n; i++)
			assert_int_not_equal(f[i].dst, 0x101);
	close(pa);
	close(pb);
}

/* A SO_LINGER GET answered after its socket is gone (the host closed it
 * while the answer waited for the window): ENOTCONN and no value, the
 * same as when the socket was gone at request time; the shard never asks
 * the kernel about a closed fd nor reads an answer the kernel never
 * filled in. */
static void test_sockopt_after_close(void **state)
{
	struct h *h = *state;
	static __u8 big[256 * 1024];
	static struct frame all[BATCH * 4];
	struct xts_sockopt so = {0}, res;
	int pa, n, k = 0;
	__u32 id;

	hello(h);
	id = hconnect(h, 0x101, &pa);
	assert_true(send(pa, big, sizeof(big), MSG_DONTWAIT) > 64 * 1024);
	run_ms(h, 200);
	assert_int_equal(in_flight(h), W);
	so.req = htole32(7);
	so.dir = XTS_SOCKOPT_GET;
	so.level = (__s32)htole32(SOL_SOCKET);
	so.name = (__s32)htole32(SO_LINGER);
	hsend(h, XTS_OP_SOCKOPT, 0, id, 0x101, 0, &so, sizeof(so));
	hsend(h, XTS_OP_CLOSE, 0, id, 0x101, 0, &(struct xts_close){0}, sizeof(struct xts_close));
	run_ms(h, 100);
	assert_int_equal(h->s->conns[xts_id_slot(id)].fd, -1);
	assert_int_equal(drain_unacked(h, 100), W);
	host_ack(h);
	/* SOCKOPT_RES, then CLOSED: protocol order for one connection */
	n = collect(h, all, BATCH * 4, 300);
	for (int i = 0; i < n; i++) {
		if (all[i].dst != 0x101 || all[i].op == XTS_OP_DATA)
			continue;
		if (!k) {
			assert_int_equal(all[i].op, XTS_OP_SOCKOPT_RES);
			memcpy(&res, all[i].data, sizeof(res));
			assert_int_equal(le32toh(res.req), 7);
			assert_int_equal(le32toh((__u32)res.err), ENOTCONN);
			assert_int_equal(le32toh(res.vlen), 0);
		} else {
			assert_int_equal(all[i].op, XTS_OP_CLOSED);
		}
		k++;
	}
	assert_int_equal(k, 2);
	close(pa);
}

/* Framing (LINE, max 16) pushed with a CONNECT: lines written in one
 * piece and a line cut in two reach the host one message per frame run,
 * XTS_F_EOR on the frame that ends each, never two messages in a frame;
 * a line past the max fails the connection with EMSGSIZE and its reason
 * (ULP_RES, then RESET).  A ULP_PUSH is dropped, the session lives on. */
static void test_ulp_strp(void **state)
{
	struct h *h = *state;
	__u8 buf[512] = {0};
	struct xts_connect *req = (void *)buf;
	struct xts_ulp u = {.ulps = XTS_ULP_STRP, .strp = {.kind = XTS_STRP_LINE, .max = 16}};
	const char *want[] = {"a\n", "bb\n", "ccc\n", "ddd\n"};
	char msg[64] = "";
	struct xts_ulp_info info;
	static struct frame f[32];
	struct frame *r;
	int pa, fd, n, got = 0;
	size_t ml = 0;

	hello(h);
	req->dst = h->dst;
	req->flags = htole16(XTS_CONNECT_F_ULP);
	memcpy(buf + xts_connect_ulp_off(0, XTS_CONNECT_F_ULP), &u, sizeof(u));
	hsend(h, XTS_OP_CONNECT, 0, XTS_ID_NONE, 0x101, RCVBUF, buf,
	      xts_connect_ulp_off(0, XTS_CONNECT_F_ULP) + sizeof(u));
	pa = -1;
	for (int i = 0; i < 2000 && pa < 0; i++) {
		shard_poll(h->s, 1);
		pa = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(pa >= 0);
	r = expect(h, XTS_OP_CONNECT_RES);
	assert_int_equal(r->data[0], 0); /* err 0 */
	host_ack(h);
	assert_int_equal(write(pa, "a\nbb\nccc\ndd", 11), 11);
	run_ms(h, 30);
	assert_int_equal(write(pa, "d\n", 2), 2);
	n = collect(h, f, 32, 200);
	for (int i = 0; i < n; i++) {
		assert_int_equal(f[i].op, XTS_OP_DATA);
		/* a frame's bytes are one message's: a newline only at its end */
		assert_null(memchr(f[i].data, '\n', f[i].len ? f[i].len - 1u : 0));
		memcpy(msg + ml, f[i].data, f[i].len);
		ml += f[i].len;
		if (f[i].flags & XTS_F_EOR) {
			msg[ml] = 0;
			assert_true(got < 4);
			assert_string_equal(msg, want[got++]);
			ml = 0;
		} else {
			assert_int_not_equal(f[i].data[f[i].len - 1], '\n');
		}
	}
	assert_int_equal(got, 4);
	assert_int_equal(h->s->st.strp_msgs_rx, 4);
	assert_int_equal(write(pa, "0123456789abcdefXYZ\n", 20), 20); /* 20 > 16 */
	n = collect(h, f, 32, 300); /* ULP_RES (the reason), then RESET */
	assert_int_equal(n, 2);
	assert_int_equal(f[0].op, XTS_OP_ULP_RES);
	memcpy(&info, f[0].data, sizeof(info));
	assert_int_equal(le32toh((__u32)info.err), EMSGSIZE);
	assert_non_null(strstr(info.reason, "longer than its max"));
	assert_int_equal(f[1].op, XTS_OP_RESET);
	assert_int_equal(f[1].dst, 0x101);
	assert_int_equal(h->s->st.strp_errors, 1);
	close(pa);

	/* a ULP_PUSH is counted and dropped; the session still works */
	hconnect(h, 0x102, &pa);
	hsend(h, XTS_OP_ULP_PUSH, 0, 1, 0x102, 0, "x", 1);
	run_ms(h, 50);
	assert_true(h->s->st.proto_errs >= 1);
	hconnect(h, 0x103, &fd);
	close(pa);
	close(fd);
}

/*
 * A connection the far peer resets before the shard tells the host of it
 * (accepted from the kernel's queue already reset, or reset while NEW_CONN
 * waited for the window): getpeername(2) says ENOTCONN then, and a
 * NEW_CONN with no peer address and no error is one the host's parser
 * rejects; it was the next in sequence, so the host saw a gap and reset
 * the whole queue (seen under xts-bench's tls-hs load, whose client
 * aborts its connections in flight when its time is up).  The host must
 * get a well-formed NEW_CONN with the real peer address, then the RESET.
 */
static void test_new_conn_peer_reset(void **state)
{
	struct h *h = *state;
	struct xts_listen l = {0};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct xts_link_stats st;
	struct xts_conn_res r;
	struct xts_err ack = {0};
	struct frame *f;
	int fd;

	hello(h);
	l.local.family = htole16(AF_INET);
	l.local.addr[0] = 127;
	l.local.addr[3] = 1;
	l.backlog = htole32(8);
	hsend(h, XTS_OP_LISTEN, 0, XTS_ID_NONE, 0x201, 0, &l, sizeof(l));
	f = find(h, XTS_OP_LISTEN_RES, 0x201, 2000, NULL);
	assert_non_null(f);
	memcpy(&r, f->data, sizeof(r));
	assert_int_equal(r.err, 0);
	sin.sin_port = htons(le16toh(r.local.port));
	/* connected in the kernel's accept queue, then reset, before the
	 * shard runs again */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd);
	f = find(h, XTS_OP_NEW_CONN, 0x201, 2000, NULL);
	xts_link__stats(h->host, &st);
	assert_int_equal(st.rx_malformed, 0);
	assert_false(xts_link__broken(h->host));
	assert_non_null(f);
	memcpy(&r, f->data, sizeof(r));
	assert_int_equal(r.err, 0);
	assert_int_equal(le16toh(r.peer.family), AF_INET);
	assert_int_equal(le16toh(r.peer.port), ntohs(sin.sin_port));
	assert_memory_equal(r.peer.addr, &sin.sin_addr, 4);
	/* the host takes it and learns it was reset */
	hsend(h, XTS_OP_NEW_CONN_ACK, 0, f->src, 0x301, RCVBUF, &ack, sizeof(ack));
	assert_non_null(find(h, XTS_OP_RESET, 0x301, 2000, NULL));
	assert_false(xts_link__broken(h->host));
}

static int connect_data_as(struct h *h, __u32 hid, __u32 hold_ms);

/* CONNECT 0x101 with the first bytes "request" (XTS_CONNECT_F_DATA), the
 * CONNECT_RES held up to @hold_ms; the far side's socket, which has read
 * them. */
static int connect_data(struct h *h, __u32 hold_ms)
{
	hello(h);
	return connect_data_as(h, 0x101, hold_ms);
}

/* The same, in a session already started, for host socket @hid. */
static int connect_data_as(struct h *h, __u32 hid, __u32 hold_ms)
{
	__u8 buf[sizeof(struct xts_connect) + 8], in[8];
	struct xts_connect *req = (struct xts_connect *)buf;
	size_t off = xts_connect_data_off(0, XTS_CONNECT_F_DATA);
	__u64 end = now_ms() + 2000;
	int peer = -1;

	assert_true(h->caps & XTS_CAP_CONNECT_DATA);
	h->s->o.res_hold_us = hold_ms * 1000;
	memset(buf, 0, sizeof(buf));
	req->dst = h->dst;
	req->flags = htole16(XTS_CONNECT_F_DATA);
	memcpy(buf + off, "request", 7);
	hsend(h, XTS_OP_CONNECT, 0, XTS_ID_NONE, hid, RCVBUF, buf, off + 7);
	while (peer < 0 && now_ms() < end) {
		shard_poll(h->s, 1);
		peer = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(peer >= 0);
	assert_int_equal(peer_read(h, peer, in, 7, 2000), 7);
	assert_memory_equal(in, "request", 7);
	return peer;
}

/* A CONNECT carrying the first bytes: the shard announces it takes them,
 * writes them once connected, and its CONNECT_RES, when no answer comes
 * within the hold (50 ms here), goes alone and grants the whole conn_buf
 * (the bytes already left), with no CREDIT frame after it; the host may
 * then send conn_buf bytes more. */
static void test_connect_data(void **state)
{
	struct h *h = *state;
	struct frame f[BATCH];
	__u8 in[CONN_BUF];
	int peer = connect_data(h, 50), n;
	__u32 id;

	assert_int_equal(collect(h, f, BATCH, 20), 0); /* held */
	n = collect(h, f, BATCH, 2000);
	assert_int_equal(n, 1); /* CONNECT_RES, no CREDIT */
	assert_int_equal(f[0].op, XTS_OP_CONNECT_RES);
	assert_int_equal(f[0].credit, CONN_BUF);
	id = f[0].src;
	host_ack(h);
	hdata(h, id, 0x101, CONN_BUF, 'd');
	assert_int_equal(peer_read(h, peer, in, sizeof(in), 2000), CONN_BUF);
	assert_null(find(h, XTS_OP_RESET, 0x101, 100, NULL));
	assert_false(xts_link__broken(h->host));
	close(peer);
}

/* The held CONNECT_RES goes with the answer's first bytes: nothing before
 * the far side answers (the hold is 10 s here), then CONNECT_RES and the
 * DATA, in that order: one wakeup of the host for both. */
static void test_connect_data_held(void **state)
{
	struct h *h = *state;
	struct frame f[BATCH];
	int peer = connect_data(h, 10000), n;

	assert_int_equal(collect(h, f, BATCH, 100), 0);
	assert_int_equal(send(peer, "answer", 6, 0), 6);
	n = collect(h, f, BATCH, 200);
	assert_int_equal(n, 2);
	assert_int_equal(f[0].op, XTS_OP_CONNECT_RES);
	assert_int_equal(f[0].credit, CONN_BUF);
	assert_int_equal(f[1].op, XTS_OP_DATA);
	assert_int_equal(f[1].src, f[0].src);
	assert_int_equal(f[1].len, 6);
	assert_memory_equal(f[1].data, "answer", 6);
	close(peer);
}

/* The CLOSED that answers a host's CLOSE rings no doorbell of its own
 * while a CONNECT_RES is held: a connection closed (CLOSE) and the next
 * one opened with its request (CONNECT with the first bytes), as a client
 * does, cost the host one wakeup, when the answer comes, for all three
 * frames (CLOSED, CONNECT_RES, DATA), not one more for the CLOSED. */
static void test_closed_rides_with_held(void **state)
{
	struct h *h = *state;
	struct xts_close cl = {0};
	struct frame f[BATCH];
	int a, b, n;
	__u32 id;

	hello(h);
	id = hconnect(h, 0x101, &a);
	assert_int_equal(xts_link__send(h->host, XTS_OP_CLOSE, 0, id, 0x101, 0, &cl, sizeof(cl)),
			 0);
	b = connect_data_as(h, 0x102, 10000); /* the CLOSE goes first, one batch */
	assert_int_equal(collect(h, f, BATCH, 100), 0);
	assert_int_equal(send(b, "answer", 6, 0), 6);
	n = collect(h, f, BATCH, 200);
	assert_int_equal(n, 3);
	assert_int_equal(f[0].op, XTS_OP_CLOSED);
	assert_int_equal(f[0].dst, 0x101);
	assert_int_equal(f[1].op, XTS_OP_CONNECT_RES);
	assert_int_equal(f[2].op, XTS_OP_DATA);
	close(a);
	close(b);
}

/* Interrupt moderation (queue.coalesce_us): frames to the host within
 * coalesce_us of the last doorbell wait for the doorbell at that time +
 * coalesce_us, never earlier, and then go; a frame after a quiet period
 * goes at once, and so does one while a single connection talks (a
 * ping-pong); half the host's window held rings at once; 0 is off.
 * Fails if tx_hold never holds, holds past its time, holds a ping-pong or
 * what would stall the window. */
static void test_coalesce(void **state)
{
	struct h *h = *state;
	static __u8 big[9 * 4096];
	struct frame f[BATCH];
	__u64 t0, held;
	int pa, pb, n;
	__u32 idb;

	hello(h);
	hconnect(h, 0x101, &pa);
	idb = hconnect(h, 0x102, &pb);
	cfg_of(h)->coalesce_us = 200000;
	/* one connection alone has talked for a period: a ping-pong goes at
	 * once */
	h->s->kick_ns = shard_now_ns();
	h->s->tx_switch_ns = shard_now_ns() - 300000000ull;
	h->s->tx_last_id = idb;
	assert_int_equal(send(pb, "p", 1, 0), 1);
	n = collect(h, f, 1, 50);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].dst, 0x102);
	h->s->kick_ns = shard_now_ns();
	assert_int_equal(send(pb, "q", 1, 0), 1);
	n = collect(h, f, 1, 50);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].dst, 0x102);
	/* another connection talks: what comes within 200 ms of the
	 * doorbell waits */
	h->s->kick_ns = t0 = shard_now_ns();
	held = h->s->st.doorbells_held;
	assert_int_equal(send(pa, "a", 1, 0), 1);
	assert_int_equal(collect(h, f, BATCH, 100), 0);
	assert_true(h->s->st.doorbells_held > held);
	n = collect(h, f, 1, 3000);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].op, XTS_OP_DATA);
	assert_int_equal(f[0].dst, 0x101);
	assert_true(shard_now_ns() >= t0 + 200000000ull);
	/* quiet for longer than the hold: the next frame goes at once */
	h->s->kick_ns = shard_now_ns() - 300000000ull;
	assert_int_equal(send(pb, "b", 1, 0), 1);
	n = collect(h, f, 1, 50);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].dst, 0x102);
	/* within the hold, W/2 frames ring at once: the window never waits
	 * on the moderation */
	h->s->kick_ns = shard_now_ns();
	assert_int_equal(send(pa, big, sizeof(big), 0), (ssize_t)sizeof(big));
	n = collect(h, f, BATCH, 50);
	assert_true(n >= W / 2);
	/* off: at once, whatever the last doorbell */
	n = collect(h, f, BATCH, 300); /* the rest of big */
	cfg_of(h)->coalesce_us = 0;
	h->s->kick_ns = shard_now_ns();
	assert_int_equal(send(pb, "c", 1, 0), 1);
	n = collect(h, f, 1, 50);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].dst, 0x102);
	close(pa);
	close(pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hello_connect_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_window_exact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_boundary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_owed_ctl_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_qreset_resets_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hello_probe_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hello_probe_takeover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dead_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reorder_qreset_before_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reorder_hello_before_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_linger_abort, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_graceful_end_orphan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sockopt_after_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ulp_strp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_conn_peer_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_data_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed_rides_with_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_coalesce, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
