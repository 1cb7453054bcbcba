/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * shard_harness.h - a shard driven from a test (test_shard.c,
 * test_shard_tls.c): the test plays the host on one end of the in-memory
 * link pair with raw link calls, the shard (shard_open over the other end,
 * no xtsd) runs the real code, and the far side is kernel TCP on
 * 127.0.0.1 (h->lfd).  Included by one test file each: the helpers are
 * static, and a test uses the ones it needs.  Include it after cmocka.h
 * and the system headers the tests use.
 */
#ifndef XTS_TEST_SHARD_HARNESS_H
#define XTS_TEST_SHARD_HARNESS_H

#include "link.h"
#include "shard_int.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#define W	 16	   /* the host's window: what the shard may have in flight */
#define CONN_BUF 16384	   /* the shard's conn_buf: the host's send credit */
#define MAXC	 5	   /* the shard's connection table */
#define RCVBUF	 (1 << 20) /* the host's receive credit in CONNECT */
#define BATCH	 64

struct frame {
	__u16 op, flags;
	__u32 epoch, dst, src, credit;
	__u16 len;
	__u8 mac[XTS_MAC_LEN];
	__u8 data[4096];
};

struct h {
	struct xts_link *host; /* the test's end */
	struct shard *s;
	int lfd;	     /* the far side's listener on 127.0.0.1 */
	struct xts_addr dst; /* its address */
	__u32 epoch;
	__u64 caps; /* the shard's, from HELLO_ACK */
};

static const struct xts_link_opts lopts = {
    .sz = sizeof(lopts),
    .frames = 512,
    .frame_size = 4096,
    .ring_size = 256,
    .window = W,
};

/* The shard's config (no xtsd: its own, made from shard_opts), for a test
 * to change as a reload would. */
static struct xts_shm_cfg *cfg_of(struct h *h)
{
	return (struct xts_shm_cfg *)h->s->cfg;
}

static __u64 now_ms(void)
{
	return shard_now_ns() / 1000000;
}

/* ---- the host's side ---- */

/* Frames that reached the host, copied out; the shard runs while none
 * has come, for at most @wait_ms.  No ack goes back unless a test flushes
 * the host's link. */
static int host_rx(struct h *h, struct frame *f, int max, int wait_ms)
{
	struct xts_msg m[BATCH];
	__u64 end = now_ms() + (__u64)wait_ms;
	int n;

	for (;;) {
		n = xts_link__rx(h->host, m, (unsigned)(max < BATCH ? max : BATCH));
		for (int i = 0; i < n; i++) {
			f[i].op = m[i].op;
			f[i].flags = m[i].flags;
			f[i].epoch = m[i].epoch;
			f[i].dst = m[i].dst_id;
			f[i].src = m[i].src_id;
			f[i].credit = m[i].credit;
			f[i].len = m[i].len;
			memcpy(f[i].mac, m[i].src_mac, XTS_MAC_LEN);
			memcpy(f[i].data, m[i].payload, m[i].len);
		}
		xts_link__rx_done(h->host);
		if (n > 0 || now_ms() >= end)
			return n;
		shard_poll(h->s, 1);
	}
}

/* The next frame to the host, which must be @op. */
static struct frame *expect(struct h *h, __u16 op)
{
	static struct frame f;

	assert_int_equal(host_rx(h, &f, 1, 2000), 1);
	assert_int_equal(f.op, op);
	return &f;
}

static void hsend(struct h *h, enum xts_op op, __u16 flags, __u32 dst, __u32 src, __u32 credit,
		  const void *p, size_t len)
{
	assert_int_equal(xts_link__send(h->host, op, flags, dst, src, credit, p, len), 0);
	assert_true(xts_link__flush(h->host, false) >= 0);
}

/* Frames to the host until one is @op for host socket @dst (acked as they
 * come), for at most @ms: that frame, or NULL.  *resets counts RESETs for
 * other sockets on the way. */
static struct frame *find(struct h *h, __u16 op, __u32 dst, int ms, int *resets)
{
	static struct frame f[BATCH];
	__u64 end = now_ms() + (__u64)ms;

	while (now_ms() < end) {
		int n = host_rx(h, f, BATCH, 20);

		for (int i = 0; i < n; i++) {
			if (f[i].op == op && f[i].dst == dst)
				return &f[i];
			if (f[i].op == XTS_OP_RESET && resets)
				(*resets)++;
		}
		if (n)
			assert_true(xts_link__flush(h->host, true) >= 0);
	}
	return NULL;
}

/* Every frame to the host for @ms (acked as they come): how many. */
static int collect(struct h *h, struct frame *f, int max, int ms)
{
	__u64 end = now_ms() + (__u64)ms;
	int got = 0;

	while (now_ms() < end && got < max) {
		int n = host_rx(h, f + got, max - got, 20);

		got += n;
		if (n)
			assert_true(xts_link__flush(h->host, true) >= 0);
	}
	return got;
}

/* The host consumed what it received: tell the shard (a pure ACK). */
static void host_ack(struct h *h)
{
	assert_true(xts_link__flush(h->host, true) >= 0);
}

static void run_ms(struct h *h, int ms)
{
	__u64 end = now_ms() + (__u64)ms;

	while (now_ms() < end)
		shard_poll(h->s, 1);
}

static __u32 hello(struct h *h)
{
	struct xts_hello hl = {0};
	struct xts_hello_ack ack;
	struct frame *f;

	hl.min_version = hl.max_version = htole16(XTS_PROTO_VERSION);
	hl.window = htole32(W);
	hl.max_frame = htole32(xts_link__max_frame(h->host));
	hl.nonce = htole32(0x1234);
	hsend(h, XTS_OP_HELLO, 0, 0, 0, 0, &hl, sizeof(hl));
	f = expect(h, XTS_OP_HELLO_ACK);
	memcpy(&ack, f->data, sizeof(ack));
	assert_int_not_equal(f->epoch, 0);
	assert_int_equal(le32toh(ack.nonce), 0x1234);
	assert_int_equal(ack.err, 0);
	h->epoch = f->epoch;
	h->caps = le64toh(ack.caps);
	xts_link__session(h->host, f->epoch, le32toh(ack.window), le32toh(ack.max_frame), f->mac);
	xts_link__isn(h->host, le32toh(ack.host_isn), le32toh(ack.dpu_isn));
	return f->epoch;
}

/* CONNECT host socket @hid to the far side: the shard's id for it, and
 * the far side's socket in *peer. */
static __u32 hconnect(struct h *h, __u32 hid, int *peer)
{
	struct xts_connect req;
	struct xts_conn_res r;
	struct frame *f;
	__u64 end = now_ms() + 2000;

	memset(&req, 0, sizeof(req));
	req.dst = h->dst;
	hsend(h, XTS_OP_CONNECT, 0, XTS_ID_NONE, hid, RCVBUF, &req, xts_connect_opts_end(0));
	*peer = -1;
	while (*peer < 0 && now_ms() < end) {
		shard_poll(h->s, 1);
		*peer = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(*peer >= 0);
	f = expect(h, XTS_OP_CONNECT_RES);
	memcpy(&r, f->data, sizeof(r));
	assert_int_equal(r.err, 0);
	assert_int_equal(f->dst, hid);
	assert_int_equal(f->credit, CONN_BUF);
	host_ack(h);
	return f->src;
}

/* @n bytes of DATA for connection @id (host socket @hid), in frames as
 * large as the link allows, all queued before the shard runs. */
static void hdata(struct h *h, __u32 id, __u32 hid, size_t n, __u8 byte)
{
	size_t max = xts_link__max_frame(h->host) - XTS_PAYLOAD_OFF;
	static __u8 buf[4096];

	memset(buf, byte, sizeof(buf));
	while (n) {
		size_t k = n < max ? n : max;

		assert_int_equal(xts_link__send(h->host, XTS_OP_DATA, 0, id, hid, 0, buf, k), 0);
		n -= k;
	}
	assert_true(xts_link__flush(h->host, false) >= 0);
}

/* What the far side's socket has, read for up to @ms. */
static size_t peer_read(struct h *h, int fd, __u8 *buf, size_t max, int ms)
{
	__u64 end = now_ms() + (__u64)ms;
	size_t got = 0;

	while (got < max && now_ms() < end) {
		ssize_t n = recv(fd, buf + got, max - got, MSG_DONTWAIT);

		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			break;
		else
			shard_poll(h->s, 1);
	}
	return got;
}

/* The far side saw a reset (RST) within @ms; bytes it read before, in
 * *got when given. */
static bool peer_reset_after(struct h *h, int fd, int ms, size_t *got)
{
	__u64 end = now_ms() + (__u64)ms;
	__u8 b[4096];

	while (now_ms() < end) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (n < 0 && errno == ECONNRESET)
			return true;
		if (n == 0)
			return false; /* FIN, not RST */
		if (n > 0 && got)
			*got += (size_t)n;
		shard_poll(h->s, 1);
	}
	return false;
}

static bool peer_reset(struct h *h, int fd, int ms)
{
	return peer_reset_after(h, fd, ms, NULL);
}

/* ---- setup ---- */

static int setup(void **state)
{
	static struct h h;
	struct shard_opts o = {.queue = 0, .max_conns = MAXC, .conn_buf = CONN_BUF};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	struct xts_link *dpu;
	struct frame f;

	memset(&h, 0, sizeof(h));
	h.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (h.lfd < 0 || bind(h.lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(h.lfd, 64) ||
	    getsockname(h.lfd, (struct sockaddr *)&sin, &sl))
		return -1;
	xts_addr_from_sockaddr(&h.dst, (struct sockaddr *)&sin, sl);
	if (xts_link__create_pair(&h.host, &dpu, &lopts))
		return -1;
	if (shard_open(&h.s, &o, dpu))
		return -1;
	/* a (re)started shard says so first: QRESET, epoch 0 */
	if (host_rx(&h, &f, 1, 1000) != 1 || f.op != XTS_OP_QRESET || f.epoch)
		return -1;
	*state = &h;
	return 0;
}

static int teardown(void **state)
{
	struct h *h = *state;

	shard_close(h->s);
	xts_link__destroy(h->host);
	close(h->lfd);
	return 0;
}

#pragma GCC diagnostic pop

#endif
