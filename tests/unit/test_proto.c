// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_proto.c - the wire codec (xport/core/proto.c): every op round trips,
 * every malformed shape is refused with the documented errno, and 100,000
 * random and mutated frames never make the parser read past the frame or
 * write into it.
 *
 * Frames under test sit at the very end of a read-only page followed by a
 * PROT_NONE page, so a read past frame_len or any write faults even without
 * ASan; built with -DXTS_SANITIZE="address;undefined" each frame is also
 * handed over in an exact-size heap copy.  XTS_TEST_SEED=n replays another
 * random sequence.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xts_proto.h"

#define HDR(f)	      (XTS_HDR_OFF + offsetof(struct xts_hdr, f))
#define PL	      XTS_PAYLOAD_OFF
#define PLO(t, f)     (PL + offsetof(struct t, f))
#define FRAME_MAX     (PL + 0xffff)
#define N_KNOWN_OPS   23
#define RANDOM_FRAMES 100000

static const __u8 mac_a[XTS_MAC_LEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
static const __u8 mac_b[XTS_MAC_LEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};

/* ---- little helpers ---- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r) /* xorshift64*: enough for test data */
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

static uint32_t rnd_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

static void rnd_bytes(struct rng *r, void *p, size_t n)
{
	__u8 *b = p;

	while (n--)
		*b++ = (__u8)rnd(r);
}

static void put16(__u8 *f, size_t off, __u16 v)
{
	v = htole16(v);
	memcpy(f + off, &v, sizeof(v));
}

static void put32(__u8 *f, size_t off, __u32 v)
{
	v = htole32(v);
	memcpy(f + off, &v, sizeof(v));
}

static __u16 get16(const __u8 *f, size_t off)
{
	__u16 v;

	memcpy(&v, f + off, sizeof(v));
	return le16toh(v);
}

static __u32 get32(const __u8 *f, size_t off)
{
	__u32 v;

	memcpy(&v, f + off, sizeof(v));
	return le32toh(v);
}

static bool op_known(unsigned op)
{
	return strcmp(xts_proto_op_name(op), "?") != 0;
}

static const unsigned known_ops[N_KNOWN_OPS] = {
    XTS_OP_HELLO,	XTS_OP_HELLO_ACK, XTS_OP_ACK,	      XTS_OP_QRESET,   XTS_OP_PING,
    XTS_OP_PONG,	XTS_OP_CONNECT,	  XTS_OP_CONNECT_RES, XTS_OP_DATA,     XTS_OP_CREDIT,
    XTS_OP_SHUTDOWN,	XTS_OP_CLOSE,	  XTS_OP_CLOSED,      XTS_OP_RESET,    XTS_OP_SOCKOPT,
    XTS_OP_SOCKOPT_RES, XTS_OP_LISTEN,	  XTS_OP_LISTEN_RES,  XTS_OP_NEW_CONN, XTS_OP_NEW_CONN_ACK,
    XTS_OP_ULP_PUSH,	XTS_OP_ULP_RES,	  XTS_OP_DRAINING,
};

/* The version byte a valid frame carries (xts_proto.h): HELLO and a
 * version 1 HELLO_ACK (32 bytes) keep 1, everything else is 2. */
static __u8 want_version(unsigned op, size_t len)
{
	if (op == XTS_OP_HELLO || (op == XTS_OP_HELLO_ACK && len == 32))
		return 1;
	return 2;
}

static bool is_noseq(unsigned op)
{
	return op == XTS_OP_HELLO || op == XTS_OP_HELLO_ACK || op == XTS_OP_ACK ||
	       op == XTS_OP_QRESET || op == XTS_OP_PING || op == XTS_OP_PONG;
}

static void rnd_addr(struct rng *r, struct xts_addr *a, bool unspec)
{
	memset(a, 0, sizeof(*a));
	a->port = htole16((__u16)rnd(r));
	if (unspec) {
		a->family = htole16(AF_UNSPEC);
		return;
	}
	if (rnd(r) & 1) {
		a->family = htole16(AF_INET);
		rnd_bytes(r, a->addr, 4);
	} else {
		a->family = htole16(AF_INET6);
		a->scope_id = htole32((__u32)rnd(r));
		rnd_bytes(r, a->addr, 16);
	}
}

/* A valid struct xts_ulp: TLS (a profile, maybe SNI and ALPN), framing,
 * or both. */
static void rnd_ulp(struct rng *r, struct xts_ulp *u)
{
	static const __u8 alpn[] = "\x02h2\x08http/1.1";

	memset(u, 0, sizeof(*u));
	u->ulps = (__u8)(1 + rnd_below(r, XTS_ULP_ALL));
	if (u->ulps & XTS_ULP_TLS) {
		memcpy(u->profile, "web", 3);
		if (rnd(r) & 1)
			memcpy(u->sni, "example.test", 12);
		if (rnd(r) & 1)
			memcpy(u->alpn, alpn, sizeof(alpn) - 1);
	}
	if (u->ulps & XTS_ULP_STRP) {
		u->strp.kind = (__u8)(1 + rnd_below(r, XTS_STRP_KIND_MAX - 1));
		u->strp.width = (__u8)(1u << rnd_below(r, 4));
		u->strp.flags = (__u8)rnd_below(r, XTS_STRP_F_ALL + 1);
		u->strp.offset = htole32(rnd_below(r, 16));
		u->strp.adjust = (__s32)htole32((__u32)rnd(r));
		u->strp.max = htole32((__u32)rnd(r));
	}
}

static void rnd_ulp_info(struct rng *r, struct xts_ulp_info *i)
{
	memset(i, 0, sizeof(*i));
	i->version = htole16(0x0304);
	i->flags = htole16((__u16)rnd_below(r, XTS_ULPI_ALL + 1));
	i->verify = (__s32)htole32(rnd_below(r, 70));
	i->err = (__s32)htole32(rnd_below(r, 200));
	memcpy(i->cipher, "TLS_AES_256_GCM_SHA384", 22);
	if (rnd(r) & 1)
		memcpy(i->reason, "certificate verify failed", 25);
}

/*
 * Write a valid payload for op at p (room for 65535 bytes) and return its
 * length.  Independent of proto.c: this is the spec as the test reads it.
 */
static size_t valid_payload(struct rng *r, unsigned op, __u8 *p, size_t data_max)
{
	switch (op) {
	case XTS_OP_HELLO_ACK:
		if (rnd(r) & 1) { /* version 2's layout; else a refusal in 1's */
			struct xts_hello_ack a;

			rnd_bytes(r, &a, sizeof(a));
			memcpy(p, &a, sizeof(a));
			return sizeof(a);
		}
		/* fallthrough */
	case XTS_OP_HELLO: {
		struct xts_hello h;

		rnd_bytes(r, &h, sizeof(h));
		h.reserved = 0;
		memcpy(p, &h, sizeof(h));
		return sizeof(h);
	}
	case XTS_OP_ACK:
	case XTS_OP_CREDIT:
	case XTS_OP_SHUTDOWN:
		return 0;
	case XTS_OP_QRESET:
	case XTS_OP_CLOSED:
	case XTS_OP_RESET:
	case XTS_OP_NEW_CONN_ACK:
	case XTS_OP_DRAINING: {
		struct xts_err e = {.err = (__s32)htole32((__u32)rnd_below(r, 200))};

		memcpy(p, &e, sizeof(e));
		return sizeof(e);
	}
	case XTS_OP_PING:
	case XTS_OP_PONG: {
		struct xts_ping pg = {.cookie = htole64(rnd(r))};

		memcpy(p, &pg, sizeof(pg));
		return sizeof(pg);
	}
	case XTS_OP_CONNECT: {
		struct xts_connect c;
		unsigned n = rnd_below(r, XTS_CONNECT_MAX_OPTS + 1);

		size_t len = offsetof(struct xts_connect, opts) + n * sizeof(struct xts_opt);

		rnd_bytes(r, &c, sizeof(c));
		rnd_addr(r, &c.dst, false);
		c.nopts = htole16((__u16)n);
		c.flags = (__u16)(rnd(r) & XTS_CONNECT_F_ALL);
		if (c.flags & XTS_CONNECT_F_ULP) /* first bytes never with a ULP */
			c.flags &= (__u16)~XTS_CONNECT_F_DATA;
		c.flags = htole16(c.flags);
		memcpy(p, &c, sizeof(c));
		if (le16toh(c.flags) & XTS_CONNECT_F_SRC) { /* bind-before-connect */
			struct xts_addr src = c.dst;

			src.port = (__u16)rnd(r);
			memcpy(p + len, &src, sizeof(src));
			len += sizeof(src);
		}
		if (le16toh(c.flags) & XTS_CONNECT_F_ULP) { /* TLS, framing */
			struct xts_ulp u;

			rnd_ulp(r, &u);
			memcpy(p + len, &u, sizeof(u));
			len += sizeof(u);
		}
		if (le16toh(c.flags) & XTS_CONNECT_F_DATA) { /* first bytes */
			size_t k = 1 + rnd_below(r, 64);

			rnd_bytes(r, p + len, k);
			len += k;
		}
		return len;
	}
	case XTS_OP_CONNECT_RES:
	case XTS_OP_LISTEN_RES:
	case XTS_OP_NEW_CONN: {
		struct xts_conn_res cr = {0};
		bool failed = rnd(r) & 1;

		cr.err = failed ? (__s32)htole32(ECONNREFUSED) : 0;
		rnd_addr(r, &cr.local, failed && (rnd(r) & 1));
		rnd_addr(r, &cr.peer, failed && (rnd(r) & 1));
		memcpy(p, &cr, sizeof(cr));
		if (op != XTS_OP_LISTEN_RES && (rnd(r) & 1)) { /* a connection with ULPs */
			struct xts_ulp_info i;

			rnd_ulp_info(r, &i);
			memcpy(p + sizeof(cr), &i, sizeof(i));
			return sizeof(cr) + sizeof(i);
		}
		return sizeof(cr);
	}
	case XTS_OP_DATA: {
		size_t n = 1 + rnd_below(r, (uint32_t)data_max);

		rnd_bytes(r, p, n);
		return n;
	}
	case XTS_OP_CLOSE: {
		struct xts_close c = {0};

		memcpy(p, &c, sizeof(c));
		return sizeof(c);
	}
	case XTS_OP_SOCKOPT:
	case XTS_OP_SOCKOPT_RES: {
		struct xts_sockopt s;
		__u32 vlen = rnd_below(r, XTS_SOCKOPT_VALMAX + 1);

		rnd_bytes(r, &s, sizeof(s));
		s.dir = rnd(r) & 1 ? XTS_SOCKOPT_GET : XTS_SOCKOPT_SET;
		memset(s.reserved, 0, sizeof(s.reserved));
		s.vlen = htole32(vlen);
		memcpy(p, &s, sizeof(s));
		rnd_bytes(r, p + sizeof(s), vlen);
		return sizeof(s) + vlen;
	}
	case XTS_OP_LISTEN: {
		struct xts_listen l;

		rnd_bytes(r, &l, sizeof(l));
		rnd_addr(r, &l.local, false);
		memcpy(p, &l, sizeof(l));
		if (le32toh(l.flags) & XTS_LISTEN_ULP) {
			struct xts_ulp u;

			rnd_ulp(r, &u);
			memcpy(p + sizeof(l), &u, sizeof(u));
			return sizeof(l) + sizeof(u);
		}
		return sizeof(l);
	}
	case XTS_OP_ULP_RES: {
		struct xts_ulp_info i;

		rnd_ulp_info(r, &i);
		memcpy(p, &i, sizeof(i));
		return sizeof(i);
	}
	case XTS_OP_ULP_PUSH: {
		size_t n = rnd_below(r, (uint32_t)data_max + 1);

		rnd_bytes(r, p, n);
		return n;
	}
	}
	fail_msg("no valid payload for op %u", op);
	return 0;
}

/* A valid frame with distinctive header values; returns its length. */
static size_t valid_frame(struct rng *r, __u8 *f, unsigned op, size_t data_max)
{
	size_t len = valid_payload(r, op, f + PL, data_max);
	__u16 flags = 0;
	int tot;

	if (op == XTS_OP_DATA && (rnd(r) & 1))
		flags |= XTS_F_MORE;
	if (op == XTS_OP_DATA && (rnd(r) & 1))
		flags |= XTS_F_EOR;
	if (op == XTS_OP_CLOSE && (rnd(r) & 1))
		flags |= XTS_F_ABORT;
	tot = xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, op, flags, (__u32)rnd(r), (__u32)rnd(r),
				(__u32)rnd(r), len);
	assert_int_equal(tot, PL + len);
	/* What the link stamps at submit. */
	put32(f, HDR(epoch), (__u32)rnd(r));
	put32(f, HDR(seq), (__u32)rnd(r));
	put32(f, HDR(ack), (__u32)rnd(r));
	return (size_t)tot;
}

/*
 * Guarded buffer: one memfd mapped twice.  The parser reads a read-only
 * view followed by a PROT_NONE page; the test writes frames through a
 * second, writable view of the same pages.  A frame handed to the parser
 * ends exactly where the guard page begins, so an over-read or any write
 * by the parser is SIGSEGV, without an mprotect() per parse (two per
 * parse over 17 pages made this test take minutes of system time on a
 * loaded machine).
 */
struct guard {
	__u8 *base;  /* the parser's view: read-only, then the guard page */
	__u8 *rw;    /* the same bytes, writable */
	size_t size; /* accessible bytes */
	long page;
};

static struct guard guard;

static int guard_setup(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = (FRAME_MAX + (size_t)page - 1) / (size_t)page * (size_t)page;
	int fd = memfd_create("test_proto", MFD_CLOEXEC);
	void *ro, *rw;

	(void)state;
	if (fd < 0 || ftruncate(fd, (off_t)size))
		return -1;
	/* reserve view + guard page inaccessible, then put the view over it */
	ro = mmap(NULL, size + (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED ||
	    mmap(ro, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		return -1;
	rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (rw == MAP_FAILED)
		return -1;
	guard = (struct guard){.base = ro, .rw = rw, .size = size, .page = page};
	return 0;
}

static int guard_teardown(void **state)
{
	(void)state;
	munmap(guard.rw, guard.size);
	munmap(guard.base, guard.size + (size_t)guard.page);
	return 0;
}

/*
 * Parse n bytes of f the hard way: from the end of a read-only region
 * (an over-read or any write is SIGSEGV) and, under ASan, from an exact-size
 * heap block too.  Both must agree.  On success *m points into the guarded
 * copy, which stays valid until the next call.
 */
static int parse_guarded(const __u8 *f, size_t n, struct xts_msg *m)
{
	const __u8 *g = guard.base + guard.size - n;
	struct xts_msg m2;
	__u8 *h;
	int err, err2;

	assert_true(n <= guard.size);
	memcpy(guard.rw + guard.size - n, f, n);
	err = xts_proto_parse(g, n, m);

	h = malloc(n ? n : 1);
	assert_non_null(h);
	memcpy(h, f, n);
	err2 = xts_proto_parse(h, n, &m2);
	free(h);
	assert_int_equal(err, err2);
	return err;
}

static int parse_guarded_err(const __u8 *f, size_t n)
{
	struct xts_msg m, before;
	int err;

	memset(&m, 0xa5, sizeof(m));
	before = m;
	err = parse_guarded(f, n, &m);
	/* A refused frame leaves *m as it was: no half-decoded message. */
	if (err)
		assert_memory_equal(&m, &before, sizeof(m));
	return err;
}

static __u8 *frame_buf(void)
{
	static __u8 buf[FRAME_MAX + 64];

	memset(buf, 0, sizeof(buf));
	return buf;
}

/* ---- round trip ---- */

static void check_round_trip(struct rng *r, unsigned op, size_t data_max)
{
	__u8 *f = frame_buf();
	size_t n = valid_frame(r, f, op, data_max);
	const __u8 *g = guard.base + guard.size - n;
	struct xts_msg m;
	__u16 want_flags;

	assert_int_equal(parse_guarded(f, n, &m), 0);

	want_flags = get16(f, HDR(flags));
	assert_int_equal(!!(want_flags & XTS_F_NOSEQ), is_noseq(op));
	assert_int_equal(m.op, op);
	assert_int_equal(m.version, want_version(op, n - PL));
	assert_int_equal(m.flags, want_flags);
	assert_int_equal(m.epoch, get32(f, HDR(epoch)));
	assert_int_equal(m.seq, get32(f, HDR(seq)));
	assert_int_equal(m.ack, get32(f, HDR(ack)));
	assert_int_equal(m.dst_id, get32(f, HDR(dst_id)));
	assert_int_equal(m.src_id, get32(f, HDR(src_id)));
	assert_int_equal(m.credit, get32(f, HDR(credit)));
	assert_int_equal(m.len, n - PL);
	assert_ptr_equal(m.hdr, g + XTS_HDR_OFF);
	assert_ptr_equal(m.payload, g + PL);
	assert_ptr_equal(m.src_mac, g + XTS_MAC_LEN);
	assert_memory_equal(m.src_mac, mac_b, XTS_MAC_LEN);
	assert_memory_equal(g, mac_a, XTS_MAC_LEN);
	if (m.len)
		assert_memory_equal(m.payload, f + PL, m.len);
	assert_true(m.len >= xts_proto_min_len(op) && m.len <= xts_proto_max_len(op));
}

static void test_round_trip_every_op(void **state)
{
	struct rng r = {.s = 0x5eed0001};
	unsigned op, i, seen = 0;

	(void)state;
	for (op = 0; op < 256; op++) {
		if (!op_known(op))
			continue;
		seen++;
		/* Many times each: the payload generator picks families,
		 * option counts, vlen, flags and lengths at random. */
		for (i = 0; i < 64; i++)
			check_round_trip(&r, op, 1500);
	}
	/* The table and the enum agree: 23 ops, none forgotten. */
	assert_int_equal(seen, N_KNOWN_OPS);
	for (i = 0; i < N_KNOWN_OPS; i++)
		assert_true(op_known(known_ops[i]));
}

static void test_round_trip_header_bytes(void **state)
{
	__u8 *f = frame_buf();
	struct xts_msg m;
	int tot;

	(void)state;
	tot = xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_DATA, XTS_F_MORE, 0x11223344,
				0x55667788, 0x99aabbcc, 3);
	assert_int_equal(tot, PL + 3);
	memcpy(f + PL, "abc", 3);
	/* The wire layout, byte by byte: Ethernet in network order, the rest
	 * little-endian. */
	assert_memory_equal(f, mac_a, 6);
	assert_memory_equal(f + 6, mac_b, 6);
	assert_int_equal(f[12], 0x88);
	assert_int_equal(f[13], 0xb5);
	assert_int_equal(f[14], XTS_PROTO_VERSION);
	assert_int_equal(f[15], XTS_OP_DATA);
	assert_int_equal(f[16], XTS_F_MORE);
	assert_int_equal(f[17], 0);
	assert_true(get32(f, HDR(epoch)) == 0 && get32(f, HDR(seq)) == 0 &&
		    get32(f, HDR(ack)) == 0);
	assert_int_equal(f[30], 0x44);
	assert_int_equal(f[33], 0x11);
	assert_int_equal(f[34], 0x88);
	assert_int_equal(f[38], 0xcc);
	assert_int_equal(f[41], 0x99);
	assert_int_equal(f[42], 3);
	assert_int_equal(f[43], 0);
	assert_int_equal(f[44], 0);
	assert_int_equal(f[45], 0);

	assert_int_equal(parse_guarded(f, (size_t)tot, &m), 0);
	assert_int_equal(m.dst_id, 0x11223344);
	assert_int_equal(m.src_id, 0x55667788);
	assert_int_equal(m.credit, 0x99aabbcc);
	assert_int_equal(m.flags, XTS_F_MORE);
	assert_int_equal(m.len, 3);
	assert_memory_equal(m.payload, "abc", 3);
}

static void test_round_trip_extremes(void **state)
{
	/* Largest DATA and ULP_PUSH payloads, smallest DATA, empty ULP_PUSH. */
	static const struct {
		unsigned op;
		size_t len;
	} c[] = {
	    {XTS_OP_DATA, 1},
	    {XTS_OP_DATA, 0xffff},
	    {XTS_OP_ULP_PUSH, 0},
	    {XTS_OP_ULP_PUSH, 0xffff},
	};
	__u8 *f = frame_buf();
	struct xts_msg m;
	unsigned i;
	int tot;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(f + PL, 0x5a, c[i].len);
		tot = xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, c[i].op, 0, 1, 2, 3, c[i].len);
		assert_int_equal(tot, PL + c[i].len);
		assert_int_equal(parse_guarded(f, (size_t)tot, &m), 0);
		assert_int_equal(m.len, c[i].len);
		assert_int_equal(m.op, c[i].op);
	}

	/* CONNECT with every option count; SOCKOPT at vlen 0 and VALMAX. */
	for (i = 0; i <= XTS_CONNECT_MAX_OPTS; i++) {
		struct xts_connect cn = {0};
		size_t len = offsetof(struct xts_connect, opts) + i * sizeof(struct xts_opt);

		cn.dst.family = htole16(AF_INET6);
		cn.nopts = htole16((__u16)i);
		memcpy(f + PL, &cn, sizeof(cn));
		tot =
		    xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_CONNECT, 0, 0, 7, 0, len);
		assert_int_equal(parse_guarded(f, (size_t)tot, &m), 0);
		assert_int_equal(m.len, len);
	}
	for (i = 0; i <= XTS_SOCKOPT_VALMAX; i += XTS_SOCKOPT_VALMAX) {
		struct xts_sockopt so = {.dir = XTS_SOCKOPT_GET, .vlen = htole32(i)};

		memcpy(f + PL, &so, sizeof(so));
		tot = xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_SOCKOPT_RES, 0, 1, 2, 0,
					sizeof(so) + i);
		assert_int_equal(parse_guarded(f, (size_t)tot, &m), 0);
		assert_int_equal(m.len, sizeof(so) + i);
	}
}

/* Frames need not be aligned in the UMEM: parse at every offset mod 8. */
static void test_unaligned_frame(void **state)
{
	static __u8 buf[1024 + 8]; /* the largest CONNECT (ULPs) and 100 DATA bytes */
	struct rng r = {.s = 42};
	struct xts_msg m;
	unsigned off, i;

	(void)state;
	for (off = 0; off < 8; off++) {
		for (i = 0; i < N_KNOWN_OPS; i++) {
			__u8 *f = buf + off;
			unsigned op = known_ops[i];
			size_t len = valid_payload(&r, op, f + PL, 100);
			int tot = xts_proto_hdr_put(f, 1024, mac_a, mac_b, op, 0, 1, 2, 3, len);

			assert_true(tot > 0);
			assert_int_equal(xts_proto_parse(f, (size_t)tot, &m), 0);
			assert_ptr_equal(m.payload, f + PL);
		}
	}
}

/* ---- malformed frames ---- */

static void test_truncated(void **state)
{
	struct rng r = {.s = 7};
	unsigned i;
	size_t n, cut;

	(void)state;
	for (i = 0; i < N_KNOWN_OPS; i++) {
		__u8 *f = frame_buf();

		n = valid_frame(&r, f, known_ops[i], 200);
		/* Short of a header: nothing else can be judged. */
		for (cut = 0; cut < PL; cut++)
			assert_int_equal(parse_guarded_err(f, cut), -EBADMSG);
		/* Header whole but payload cut: len lies. */
		for (cut = PL; cut < n; cut++)
			assert_int_equal(parse_guarded_err(f, cut), -EBADMSG);
		assert_int_equal(parse_guarded_err(f, n), 0);
	}
	assert_int_equal(xts_proto_parse(NULL, 0, NULL), -EBADMSG);
}

static void test_ethertype(void **state)
{
	static const __u16 bad[] = {0x0800, 0x86dd, 0x0806, 0xb588, 0x88b4, 0x88b6, 0, 0xffff};
	struct rng r = {.s = 8};
	__u8 *f = frame_buf();
	size_t n = valid_frame(&r, f, XTS_OP_PING, 0);
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f[12] = (__u8)(bad[i] >> 8);
		f[13] = (__u8)bad[i];
		assert_int_equal(parse_guarded_err(f, n), -EPROTO);
	}
	/* EtherType is judged before version and op. */
	f[HDR(version)] = 9;
	f[HDR(op)] = 200;
	assert_int_equal(parse_guarded_err(f, n), -EPROTO);
}

static void test_version(void **state)
{
	static const __u8 bad[] = {0, 1, 3, 0x81, 0xff};
	static const __u8 bad_hello[] = {0, 2, 3, 0x81, 0xff};
	struct rng r = {.s = 9};
	__u8 *f = frame_buf();
	size_t n = valid_frame(&r, f, XTS_OP_PING, 0);
	struct xts_msg m;
	unsigned i;

	(void)state;
	assert_int_equal(XTS_PROTO_VERSION, 2);
	assert_int_equal(parse_guarded(f, n, &m), 0);
	assert_int_equal(m.version, 2);
	for (i = 0; i < sizeof(bad); i++) {
		f[HDR(version)] = bad[i];
		assert_int_equal(parse_guarded_err(f, n), -EPROTO);
	}
	/* Version before op: a version 3 op 200 is "not our protocol". */
	f[HDR(version)] = 3;
	f[HDR(op)] = 200;
	assert_int_equal(parse_guarded_err(f, n), -EPROTO);

	/* HELLO is a version 1 frame in every version */
	n = valid_frame(&r, f, XTS_OP_HELLO, 0);
	assert_int_equal(f[HDR(version)], 1);
	assert_int_equal(parse_guarded(f, n, &m), 0);
	assert_int_equal(m.version, 1);
	for (i = 0; i < sizeof(bad_hello); i++) {
		f[HDR(version)] = bad_hello[i];
		assert_int_equal(parse_guarded_err(f, n), -EPROTO);
	}
}

/* HELLO_ACK: version 2's layout (40 bytes) with version byte 2, or a
 * refusal in version 1's (32 bytes, reserved 0) with version byte 1; a
 * layout under the other version's byte, or any length between, is
 * refused. */
static void test_hello_ack_versions(void **state)
{
	struct xts_hello_ack a;
	struct xts_msg m;
	__u8 *f = frame_buf();
	size_t len;
	int tot;

	(void)state;
	memset(&a, 0x5a, sizeof(a));
	memcpy(f + PL, &a, sizeof(a));
	tot = xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_HELLO_ACK, 0, 0, 0, 0, 40);
	assert_int_equal(tot, PL + 40);
	assert_int_equal(f[HDR(version)], 2);
	assert_int_equal(parse_guarded(f, (size_t)tot, &m), 0);
	assert_int_equal(m.version, 2);
	assert_int_equal(m.len, 40);
	f[HDR(version)] = 1;
	assert_int_equal(parse_guarded_err(f, (size_t)tot), -EBADMSG);

	memset(f + PL + 28, 0, 4); /* version 1's reserved */
	tot = xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_HELLO_ACK, 0, 0, 0, 0, 32);
	assert_int_equal(f[HDR(version)], 1);
	assert_int_equal(parse_guarded(f, (size_t)tot, &m), 0);
	assert_int_equal(m.version, 1);
	f[HDR(version)] = 2;
	assert_int_equal(parse_guarded_err(f, (size_t)tot), -EBADMSG);

	for (len = 33; len < 40; len++) {
		tot = xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_HELLO_ACK, 0, 0, 0, 0,
					len);
		assert_int_equal(parse_guarded_err(f, (size_t)tot), -EBADMSG);
		f[HDR(version)] = 1;
		assert_int_equal(parse_guarded_err(f, (size_t)tot), -EBADMSG);
	}
	/* the layout the header promises */
	assert_int_equal(offsetof(struct xts_hello_ack, err), 28);
	assert_int_equal(offsetof(struct xts_hello_ack, host_isn), 32);
	assert_int_equal(offsetof(struct xts_hello_ack, dpu_isn), 36);
}

static void test_unknown_op(void **state)
{
	static const __u8 bad[] = {0, 7, 8, 15, 26, 31, 36, 47, 51, 52, 200, 255};
	struct rng r = {.s = 10};
	__u8 *f = frame_buf();
	size_t n = valid_frame(&r, f, XTS_OP_ACK, 0);
	unsigned i, op, unknown = 0;

	(void)state;
	for (i = 0; i < sizeof(bad); i++) {
		f[HDR(op)] = bad[i];
		assert_int_equal(parse_guarded_err(f, n), -EOPNOTSUPP);
		/* Unknown op outranks every later check. */
		put16(f, HDR(reserved), 1);
		put16(f, HDR(len), 0xffff);
		assert_int_equal(parse_guarded_err(f, n), -EOPNOTSUPP);
		put16(f, HDR(reserved), 0);
		put16(f, HDR(len), 0);
	}
	for (op = 0; op < 256; op++) {
		if (op_known(op))
			continue;
		unknown++;
		f[HDR(op)] = (__u8)op;
		assert_int_equal(parse_guarded_err(f, n), -EOPNOTSUPP);
	}
	assert_int_equal(unknown, 256 - N_KNOWN_OPS);
}

static void test_reserved(void **state)
{
	struct rng r = {.s = 11};
	unsigned i, bit;

	(void)state;
	for (i = 0; i < N_KNOWN_OPS; i++) {
		__u8 *f = frame_buf();
		size_t n = valid_frame(&r, f, known_ops[i], 50);

		for (bit = 0; bit < 16; bit++) {
			put16(f, HDR(reserved), (__u16)(1u << bit));
			assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		}
	}
}

static void test_len_lies(void **state)
{
	static const __u16 lies[] = {1, 2, 14, 15, 100, 0x7fff, 0x8000, 0xfffe, 0xffff};
	struct rng r = {.s = 12};
	unsigned i, j;

	(void)state;
	for (i = 0; i < N_KNOWN_OPS; i++) {
		__u8 *f = frame_buf();
		size_t n = valid_frame(&r, f, known_ops[i], 100);
		__u16 len = get16(f, HDR(len));

		for (j = 0; j < sizeof(lies) / sizeof(lies[0]); j++) {
			if ((size_t)len + lies[j] > 0xffff)
				continue;
			put16(f, HDR(len), (__u16)(len + lies[j]));
			assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		}
	}
}

static void test_len_op_limits(void **state)
{
	unsigned i;

	(void)state;
	for (i = 0; i < N_KNOWN_OPS; i++) {
		unsigned op = known_ops[i];
		size_t lo = xts_proto_min_len(op), hi = xts_proto_max_len(op);
		__u8 *f = frame_buf();

		/* The frame is long enough: only the op's limits refuse. */
		if (lo > 0) {
			xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, op, 0, 0, 0, 0, lo - 1);
			assert_int_equal(parse_guarded_err(f, PL + hi), -EBADMSG);
		}
		if (hi < 0xffff) {
			xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, op, 0, 0, 0, 0, hi + 1);
			assert_int_equal(parse_guarded_err(f, PL + hi + 1), -EBADMSG);
		}
	}
	/* The numbers themselves, as docs/protocol.md gives them. */
	assert_int_equal(xts_proto_min_len(XTS_OP_HELLO), 32);
	assert_int_equal(xts_proto_max_len(XTS_OP_HELLO), 32);
	assert_int_equal(xts_proto_min_len(XTS_OP_HELLO_ACK), 32);
	assert_int_equal(xts_proto_max_len(XTS_OP_HELLO_ACK), 40);
	assert_int_equal(xts_proto_max_len(XTS_OP_ACK), 0);
	assert_int_equal(xts_proto_min_len(XTS_OP_QRESET), 8);
	assert_int_equal(xts_proto_max_len(XTS_OP_PONG), 8);
	assert_int_equal(xts_proto_min_len(XTS_OP_CONNECT), 32);
	/* 8 options, a source, ULPs */
	assert_int_equal(xts_proto_max_len(XTS_OP_CONNECT), 152 + 356);
	assert_int_equal(xts_proto_min_len(XTS_OP_CONNECT_RES), 56);
	assert_int_equal(xts_proto_max_len(XTS_OP_CONNECT_RES), 56 + 352);
	assert_int_equal(xts_proto_max_len(XTS_OP_NEW_CONN), 56 + 352);
	assert_int_equal(xts_proto_max_len(XTS_OP_LISTEN_RES), 56);
	assert_int_equal(xts_proto_min_len(XTS_OP_DATA), 1);
	assert_int_equal(xts_proto_max_len(XTS_OP_DATA), 65535);
	assert_int_equal(xts_proto_max_len(XTS_OP_CREDIT), 0);
	assert_int_equal(xts_proto_max_len(XTS_OP_SHUTDOWN), 0);
	assert_int_equal(xts_proto_min_len(XTS_OP_CLOSE), 4);
	assert_int_equal(xts_proto_min_len(XTS_OP_SOCKOPT), 24);
	assert_int_equal(xts_proto_max_len(XTS_OP_SOCKOPT_RES), 280);
	assert_int_equal(xts_proto_min_len(XTS_OP_LISTEN), 32);
	assert_int_equal(xts_proto_max_len(XTS_OP_LISTEN), 32 + 356);
	assert_int_equal(xts_proto_min_len(XTS_OP_ULP_PUSH), 0);
	assert_int_equal(xts_proto_max_len(XTS_OP_ULP_PUSH), 65535);
	assert_int_equal(xts_proto_min_len(XTS_OP_ULP_RES), 352);
	assert_int_equal(xts_proto_max_len(XTS_OP_ULP_RES), 352);
	assert_int_equal(xts_proto_max_len(XTS_OP_DRAINING), 8);
}

static void test_noseq_flag(void **state)
{
	struct rng r = {.s = 13};
	unsigned i;

	(void)state;
	for (i = 0; i < N_KNOWN_OPS; i++) {
		__u8 *f = frame_buf();
		size_t n = valid_frame(&r, f, known_ops[i], 50);
		__u16 flags = get16(f, HDR(flags));

		put16(f, HDR(flags), flags ^ XTS_F_NOSEQ);
		assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		assert_int_equal(xts_proto_op_noseq(known_ops[i]), is_noseq(known_ops[i]));
	}
}

static void test_unknown_flags(void **state)
{
	struct rng r = {.s = 14};
	unsigned i, bit;

	(void)state;
	for (i = 0; i < N_KNOWN_OPS; i++) {
		__u8 *f = frame_buf();
		size_t n = valid_frame(&r, f, known_ops[i], 50);
		__u16 flags = get16(f, HDR(flags));

		for (bit = 6; bit < 16; bit++) { /* 0x10: XTS_F_SHARED, 0x20: XTS_F_BUNDLE */
			put16(f, HDR(flags), (__u16)(flags | 1u << bit));
			assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		}
		/* The known bits are accepted on any op (which op may use
		 * which flag is the handler's business). */
		put16(f, HDR(flags), flags | XTS_F_ABORT | XTS_F_MORE | XTS_F_EOR | XTS_F_SHARED);
		assert_int_equal(parse_guarded_err(f, n), 0);
	}
}

static size_t sockopt_frame(__u8 *f, unsigned op, __u32 vlen_field, size_t vlen_real)
{
	struct xts_sockopt so = {.req = 1, .dir = XTS_SOCKOPT_SET, .vlen = htole32(vlen_field)};

	memcpy(f + PL, &so, sizeof(so));
	return (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, op, 0, 1, 2, 0,
					 sizeof(so) + vlen_real);
}

/* A CONNECT carrying ULPs (after one option and a source address), a
 * LISTEN carrying them, and a NEW_CONN/ULP_RES carrying what they became:
 * each rule of the blocks, broken alone, is refused. */
static size_t ulp_connect(__u8 *f, const struct xts_ulp *u)
{
	struct xts_connect c = {0};
	struct xts_addr src = {0};
	size_t off = xts_connect_ulp_off(1, XTS_CONNECT_F_SRC | XTS_CONNECT_F_ULP);

	c.dst.family = src.family = htole16(AF_INET);
	c.nopts = htole16(1);
	c.flags = htole16(XTS_CONNECT_F_SRC | XTS_CONNECT_F_ULP);
	memcpy(f + PL, &c, xts_connect_opts_end(1));
	memcpy(f + PL + xts_connect_opts_end(1), &src, sizeof(src));
	memcpy(f + PL + off, u, sizeof(*u));
	return (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_CONNECT, 0, 0, 7, 0,
					 off + sizeof(*u));
}

static size_t ulp_listen(__u8 *f, const struct xts_ulp *u)
{
	struct xts_listen l = {0};

	l.local.family = htole16(AF_INET6);
	l.flags = htole32(XTS_LISTEN_ULP | XTS_LISTEN_REUSEPORT);
	memcpy(f + PL, &l, sizeof(l));
	memcpy(f + PL + sizeof(l), u, sizeof(*u));
	return (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_LISTEN, 0, 0, 7, 0,
					 sizeof(l) + sizeof(*u));
}

static void test_ulp_blocks(void **state)
{
	struct xts_ulp good = {.ulps = XTS_ULP_TLS | XTS_ULP_STRP}, u;
	struct xts_ulp_info gi = {.version = htole16(0x0303)}, i;
	struct xts_conn_res cr = {0};
	__u8 *f = frame_buf();
	size_t n;

	(void)state;
	memcpy(good.profile, "web", 3);
	memcpy(good.sni, "a.test", 6);
	memcpy(good.alpn, "\x02h2\x08http/1.1", 12);
	good.strp.kind = XTS_STRP_LEN;
	good.strp.width = 4;
	good.strp.flags = XTS_STRP_F_BE;
	assert_int_equal(parse_guarded_err(f, ulp_connect(f, &good)), 0);
	assert_int_equal(parse_guarded_err(f, ulp_listen(f, &good)), 0);
	/* the ULP block only with its flag, and whole */
	n = ulp_listen(f, &good);
	put32(f, PL + offsetof(struct xts_listen, flags), XTS_LISTEN_REUSEPORT);
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	n = ulp_connect(f, &good);
	put16(f, HDR(len), (__u16)(n - PL - 1));
	assert_int_equal(parse_guarded_err(f, n - 1), -EBADMSG);
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		u = good;                                                                          \
		stmt;                                                                              \
		assert_int_equal(parse_guarded_err(f, ulp_connect(f, &u)), -EBADMSG);              \
		assert_int_equal(parse_guarded_err(f, ulp_listen(f, &u)), -EBADMSG);               \
	} while (0)
	BAD(u.ulps = 0);
	BAD(u.ulps = 0x4);
	BAD(u.reserved[1] = 1);
	BAD(memset(u.profile, 'a', sizeof(u.profile)));		      /* no NUL */
	BAD(u.profile[0] = 0);					      /* TLS names a profile */
	BAD(u.profile[10] = 'x');				      /* bytes after the NUL */
	BAD(memset(u.sni, 'a', sizeof(u.sni)));			      /* no NUL */
	BAD(u.alpn[0] = 64);					      /* a name past the end */
	BAD(u.alpn[63] = 1);					      /* bytes after the list */
	BAD(u.alpn[3] = 61);					      /* 2nd name past the end */
	BAD(u.ulps = XTS_ULP_STRP);				      /* TLS fields without TLS */
	BAD(u.strp.kind = 0);					      /* framing names a kind */
	BAD(u.strp.kind = XTS_STRP_KIND_MAX);			      /* ... a known one */
	BAD(u.strp.width = 3);					      /* 1, 2, 4 or 8 */
	BAD(u.strp.flags = 0x4);				      /* known flags */
	BAD(u.strp.reserved = 1);				      /* reserved zero */
	BAD((u.ulps = XTS_ULP_TLS, u.strp.kind = 0, u.strp.max = 1)); /* no framing: zero */
#undef BAD
	/* what a connection's ULPs became, in NEW_CONN and ULP_RES */
	memcpy(gi.cipher, "ECDHE-RSA-AES128-GCM-SHA256", 27);
	memcpy(f + PL, &cr, sizeof(cr));
	cr.local.family = cr.peer.family = htole16(AF_INET);
	memcpy(f + PL, &cr, sizeof(cr));
	for (int k = 0; k < 6; k++) {
		i = gi;
		if (k == 1)
			i.flags = htole16(0x4);
		if (k == 2)
			i.reserved = 1;
		if (k == 3)
			memset(i.cipher, 'c', sizeof(i.cipher));
		if (k == 4)
			memset(i.reason, 'r', sizeof(i.reason));
		if (k == 5)
			i.sni[sizeof(i.sni) - 1] = 's';
		memcpy(f + PL + sizeof(cr), &i, sizeof(i));
		n = (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_NEW_CONN, 0, 1, 2,
					      0, sizeof(cr) + sizeof(i));
		assert_int_equal(parse_guarded_err(f, n), k ? -EBADMSG : 0);
		memcpy(f + PL, &i, sizeof(i));
		n = (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_ULP_RES, 0, 1, 2,
					      0, sizeof(i));
		assert_int_equal(parse_guarded_err(f, n), k ? -EBADMSG : 0);
		memcpy(f + PL, &cr, sizeof(cr));
	}
	/* a NEW_CONN of any other length than with or without the block */
	n = (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_NEW_CONN, 0, 1, 2, 0,
				      sizeof(cr) + 8);
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
}

static void test_sockopt(void **state)
{
	static const unsigned ops[] = {XTS_OP_SOCKOPT, XTS_OP_SOCKOPT_RES};
	/* {vlen in the header, bytes that really follow} */
	static const struct {
		__u32 field;
		size_t real;
	} lies[] = {
	    {1, 0},	{0, 1},	  {4, 8},	   {8, 4},	    {257, 256},
	    {256, 255}, {300, 0}, {0xffffffff, 4}, {0xffffffe8, 0}, {0x80000000, 256},
	};
	__u8 *f = frame_buf();
	unsigned i, j;
	size_t n;

	(void)state;
	for (i = 0; i < 2; i++) {
		for (j = 0; j < sizeof(lies) / sizeof(lies[0]); j++) {
			n = sockopt_frame(f, ops[i], lies[j].field, lies[j].real);
			assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		}
		n = sockopt_frame(f, ops[i], 4, 4);
		assert_int_equal(parse_guarded_err(f, n), 0);
		/* dir outside {SET, GET} */
		f[PLO(xts_sockopt, dir)] = 2;
		assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		f[PLO(xts_sockopt, dir)] = 0xff;
		assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		f[PLO(xts_sockopt, dir)] = XTS_SOCKOPT_GET;
		assert_int_equal(parse_guarded_err(f, n), 0);
		for (j = 0; j < 3; j++) {
			f[PLO(xts_sockopt, reserved) + j] = 1;
			assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
			f[PLO(xts_sockopt, reserved) + j] = 0;
		}
		assert_int_equal(parse_guarded_err(f, n), 0);
	}
}

static size_t connect_frame(__u8 *f, __u16 nopts, size_t real_opts, __u16 family)
{
	struct xts_connect c = {0};
	size_t len = offsetof(struct xts_connect, opts) + real_opts * sizeof(struct xts_opt);

	c.dst.family = htole16(family);
	c.nopts = htole16(nopts);
	memcpy(f + PL, &c, sizeof(c));
	return (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_CONNECT, 0, 0, 5, 1000,
					 len);
}

static void test_connect(void **state)
{
	__u8 *f = frame_buf();
	unsigned i;
	size_t n;

	(void)state;
	/* Too many options, with a length that agrees and one that is the
	 * largest the op allows. */
	n = connect_frame(f, 9, 9, AF_INET);
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	n = connect_frame(f, 9, 8, AF_INET);
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	n = connect_frame(f, 0xffff, 8, AF_INET);
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	n = connect_frame(f, 0x8001, 1, AF_INET); /* 0x8001 * 12 wraps 16 bits to 12 */
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	/* nopts and length disagree. */
	for (i = 0; i <= XTS_CONNECT_MAX_OPTS; i++) {
		if (i > 0) {
			n = connect_frame(f, (__u16)i, i - 1, AF_INET6);
			assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		}
		if (i < XTS_CONNECT_MAX_OPTS) {
			n = connect_frame(f, (__u16)i, i + 1, AF_INET6);
			assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		}
		n = connect_frame(f, (__u16)i, i, AF_INET6);
		assert_int_equal(parse_guarded_err(f, n), 0);
	}
	/* A length that is no whole number of options. */
	n = connect_frame(f, 1, 1, AF_INET);
	put16(f, HDR(len), get16(f, HDR(len)) - 1);
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	/* flags: unknown bits */
	n = connect_frame(f, 0, 0, AF_INET);
	f[PLO(xts_connect, flags) + 1] = 0x80;
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	/* first bytes (F_DATA): at least one, after the options; never with
	 * a ULP */
	n = connect_frame(f, 1, 1, AF_INET);
	put16(f, PLO(xts_connect, flags), XTS_CONNECT_F_DATA);
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG); /* flag, no bytes */
	memcpy(f + n, "GET", 3);
	put16(f, HDR(len), (__u16)(get16(f, HDR(len)) + 3));
	assert_int_equal(parse_guarded_err(f, n + 3), 0);
	/* as many as a header's len can say, far past the control part's
	 * own maximum (xts_proto_max_len) */
	memset(f + n, 'D', 0xffff - (n - PL));
	put16(f, HDR(len), 0xffff);
	assert_true(0xffff > xts_proto_max_len(XTS_OP_CONNECT));
	assert_int_equal(parse_guarded_err(f, PL + 0xffff), 0);
	put16(f, HDR(len), (__u16)(n - PL + 3));
	put16(f, PLO(xts_connect, flags), XTS_CONNECT_F_DATA | XTS_CONNECT_F_ULP);
	assert_int_equal(parse_guarded_err(f, n + 3), -EBADMSG);
	put16(f, PLO(xts_connect, flags), 0);
	assert_int_equal(parse_guarded_err(f, n + 3), -EBADMSG); /* bytes, no flag */
	/* a source address exactly when XTS_CONNECT_F_SRC says so, of the
	 * destination's family */
	for (size_t k = 0; k <= 2; k++) {
		struct xts_addr src;

		n = connect_frame(f, (__u16)k, k, AF_INET);
		put16(f, PLO(xts_connect, flags), XTS_CONNECT_F_SRC | XTS_CONNECT_F_REUSEADDR);
		assert_int_equal(parse_guarded_err(f, n), -EBADMSG); /* flag, no address */
		memcpy(&src, f + PLO(xts_connect, dst), sizeof(src));
		src.port = htole16(4000);
		memcpy(f + n, &src, sizeof(src));
		put16(f, HDR(len), (__u16)(get16(f, HDR(len)) + sizeof(src)));
		assert_int_equal(parse_guarded_err(f, n + sizeof(src)), 0);
		put16(f, PLO(xts_connect, flags), 0);
		/* an address, no flag */
		assert_int_equal(parse_guarded_err(f, n + sizeof(src)), -EBADMSG);
		put16(f, PLO(xts_connect, flags), XTS_CONNECT_F_SRC);
		put16(f, n, AF_INET6); /* the source's family */
		assert_int_equal(parse_guarded_err(f, n + sizeof(src)), -EBADMSG);
	}
}

static void test_families(void **state)
{
	static const __u16 bad[] = {AF_UNSPEC, AF_UNIX, AF_PACKET, AF_NETLINK, 0x0200, 0xffff};
	static const __u16 bad_nonunspec[] = {AF_UNIX, AF_PACKET, 0x0a00, 0xffff};
	static const unsigned res_ops[] = {XTS_OP_CONNECT_RES, XTS_OP_LISTEN_RES, XTS_OP_NEW_CONN};
	__u8 *f = frame_buf();
	unsigned i, j, k;
	size_t n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = connect_frame(f, 0, 0, bad[i]);
		assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	}
	n = connect_frame(f, 0, 0, AF_INET);
	assert_int_equal(parse_guarded_err(f, n), 0);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xts_listen l = {.local.family = htole16(bad[i]), .backlog = htole32(128)};

		memcpy(f + PL, &l, sizeof(l));
		n = (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_LISTEN, 0, 0, 1, 0,
					      sizeof(l));
		assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
		put16(f, PLO(xts_listen, local.family), AF_INET6);
		assert_int_equal(parse_guarded_err(f, n), 0);
	}

	for (k = 0; k < 3; k++) {
		for (j = 0; j < 2; j++) { /* j: which address is wrong */
			size_t off =
			    j ? PLO(xts_conn_res, peer.family) : PLO(xts_conn_res, local.family);
			struct xts_conn_res cr = {0};

			cr.local.family = htole16(AF_INET);
			cr.peer.family = htole16(AF_INET6);
			memcpy(f + PL, &cr, sizeof(cr));
			n = (size_t)xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, res_ops[k], 0, 1,
						      2, 3, sizeof(cr));
			assert_int_equal(parse_guarded_err(f, n), 0);
			/* Success must name real addresses. */
			for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
				put16(f, off, bad[i]);
				assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
			}
			/* A failure may have no address, but no other kind. */
			put32(f, PLO(xts_conn_res, err), ECONNREFUSED);
			put16(f, off, AF_UNSPEC);
			assert_int_equal(parse_guarded_err(f, n), 0);
			put16(f,
			      j ? PLO(xts_conn_res, local.family) : PLO(xts_conn_res, peer.family),
			      AF_UNSPEC);
			assert_int_equal(parse_guarded_err(f, n), 0);
			for (i = 0; i < sizeof(bad_nonunspec) / sizeof(bad_nonunspec[0]); i++) {
				put16(f, off, bad_nonunspec[i]);
				assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
			}
			/* Negative err (not a valid errno, but non-zero). */
			put32(f, PLO(xts_conn_res, err), 0xffffffff);
			put16(f, off, AF_UNSPEC);
			assert_int_equal(parse_guarded_err(f, n), 0);
		}
	}
}

/* Reserved fields inside payloads (xts_proto.h: "reserved fields zero"). */
static void test_payload_reserved(void **state)
{
	static const struct {
		unsigned op;
		size_t off; /* of the reserved field in the payload */
	} c[] = {
	    {XTS_OP_HELLO, offsetof(struct xts_hello, reserved)},
	    {XTS_OP_HELLO_ACK, offsetof(struct xts_hello, reserved) + 3},
	    {XTS_OP_QRESET, offsetof(struct xts_err, reserved)},
	    {XTS_OP_CLOSED, offsetof(struct xts_err, reserved)},
	    {XTS_OP_RESET, offsetof(struct xts_err, reserved) + 1},
	    {XTS_OP_NEW_CONN_ACK, offsetof(struct xts_err, reserved) + 2},
	    {XTS_OP_DRAINING, offsetof(struct xts_err, reserved) + 3},
	    {XTS_OP_CLOSE, offsetof(struct xts_close, reserved)},
	    {XTS_OP_CONNECT, offsetof(struct xts_connect, flags) + 1}, /* an unknown flag */
	    {XTS_OP_CONNECT_RES, offsetof(struct xts_conn_res, reserved)},
	    {XTS_OP_LISTEN_RES, offsetof(struct xts_conn_res, reserved) + 3},
	    {XTS_OP_NEW_CONN, offsetof(struct xts_conn_res, reserved) + 1},
	    {XTS_OP_SOCKOPT, offsetof(struct xts_sockopt, reserved)},
	    {XTS_OP_SOCKOPT_RES, offsetof(struct xts_sockopt, reserved) + 2},
	};
	struct rng r = {.s = 15};
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		__u8 *f = frame_buf();
		size_t n = valid_frame(&r, f, c[i].op, 0);

		/* version 1's HELLO_ACK has one; version 2's has none */
		while (c[i].op == XTS_OP_HELLO_ACK && n != PL + sizeof(struct xts_hello))
			n = valid_frame(&r, f, c[i].op, 0);
		assert_int_equal(parse_guarded_err(f, n), 0);
		f[PL + c[i].off] = 0x01;
		assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
	}
}

static void test_padding(void **state)
{
	__u8 *f = frame_buf();
	struct xts_msg m;
	size_t pad;
	int tot;

	(void)state;
	/* The smallest Ethernet frame (60 bytes without FCS) carrying an
	 * ACK: 14 bytes of padding that are not payload. */
	tot = xts_proto_hdr_put(f, 60, mac_a, mac_b, XTS_OP_ACK, 0, 0, 0, 0, 0);
	assert_int_equal(tot, 46);
	memset(f + tot, 0xee, 60 - (size_t)tot);
	assert_int_equal(parse_guarded(f, 60, &m), 0);
	assert_int_equal(m.len, 0);
	assert_int_equal(m.op, XTS_OP_ACK);
	assert_int_equal(m.flags, XTS_F_NOSEQ);

	/* Any amount of trailing bytes, on a sized op too. */
	tot = xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_DATA, 0, 1, 2, 0, 5);
	for (pad = 0; pad < 64; pad++)
		assert_int_equal(parse_guarded(f, (size_t)tot + pad, &m), 0);
	assert_int_equal(m.len, 5);
}

static void test_hdr_put(void **state)
{
	__u8 *f = frame_buf();
	unsigned i;
	int tot;

	(void)state;
	assert_int_equal(xts_proto_hdr_put(f, 45, mac_a, mac_b, XTS_OP_ACK, 0, 0, 0, 0, 0),
			 -EMSGSIZE);
	assert_int_equal(xts_proto_hdr_put(f, 0, mac_a, mac_b, XTS_OP_ACK, 0, 0, 0, 0, 0),
			 -EMSGSIZE);
	assert_int_equal(xts_proto_hdr_put(f, 46, mac_a, mac_b, XTS_OP_ACK, 0, 0, 0, 0, 0), 46);
	assert_int_equal(xts_proto_hdr_put(f, 56, mac_a, mac_b, XTS_OP_DATA, 0, 0, 0, 0, 11),
			 -EMSGSIZE);
	assert_int_equal(xts_proto_hdr_put(f, 56, mac_a, mac_b, XTS_OP_DATA, 0, 0, 0, 0, 10), 56);
	assert_int_equal(
	    xts_proto_hdr_put(f, FRAME_MAX + 1, mac_a, mac_b, XTS_OP_DATA, 0, 0, 0, 0, 0x10000),
	    -EMSGSIZE);
	assert_int_equal(
	    xts_proto_hdr_put(f, SIZE_MAX, mac_a, mac_b, XTS_OP_DATA, 0, 0, 0, 0, SIZE_MAX),
	    -EMSGSIZE);
	assert_int_equal(
	    xts_proto_hdr_put(f, FRAME_MAX, mac_a, mac_b, XTS_OP_DATA, 0, 0, 0, 0, 0xffff),
	    (int)FRAME_MAX);

	/* Nothing is written past the header, or at all on failure. */
	memset(f, 0xcc, 128);
	assert_int_equal(xts_proto_hdr_put(f, 45, mac_a, mac_b, XTS_OP_ACK, 0, 0, 0, 0, 0),
			 -EMSGSIZE);
	for (i = 0; i < 128; i++)
		assert_int_equal(f[i], 0xcc);
	tot = xts_proto_hdr_put(f, 128, mac_a, mac_b, XTS_OP_PING, 0, 0, 0, 0, 8);
	assert_int_equal(tot, 54);
	for (i = PL; i < 128; i++)
		assert_int_equal(f[i], 0xcc);

	/* NOSEQ comes from the op whatever the caller passes. */
	xts_proto_hdr_put(f, 128, mac_a, mac_b, XTS_OP_PING, 0, 0, 0, 0, 8);
	assert_int_equal(get16(f, HDR(flags)), XTS_F_NOSEQ);
	xts_proto_hdr_put(f, 128, mac_a, mac_b, XTS_OP_DATA, XTS_F_NOSEQ | XTS_F_MORE, 0, 0, 0, 8);
	assert_int_equal(get16(f, HDR(flags)), XTS_F_MORE);
	assert_int_equal(get16(f, HDR(reserved)), 0);
}

static void test_op_names(void **state)
{
	static const unsigned bad[] = {0, 7, 15, 26, 51, XTS_OP_MAX, 255, 256, 1000, UINT_MAX};
	unsigned i;

	(void)state;
	assert_string_equal(xts_proto_op_name(XTS_OP_HELLO), "HELLO");
	assert_string_equal(xts_proto_op_name(XTS_OP_HELLO_ACK), "HELLO_ACK");
	assert_string_equal(xts_proto_op_name(XTS_OP_ACK), "ACK");
	assert_string_equal(xts_proto_op_name(XTS_OP_QRESET), "QRESET");
	assert_string_equal(xts_proto_op_name(XTS_OP_PING), "PING");
	assert_string_equal(xts_proto_op_name(XTS_OP_PONG), "PONG");
	assert_string_equal(xts_proto_op_name(XTS_OP_CONNECT), "CONNECT");
	assert_string_equal(xts_proto_op_name(XTS_OP_CONNECT_RES), "CONNECT_RES");
	assert_string_equal(xts_proto_op_name(XTS_OP_DATA), "DATA");
	assert_string_equal(xts_proto_op_name(XTS_OP_CREDIT), "CREDIT");
	assert_string_equal(xts_proto_op_name(XTS_OP_SHUTDOWN), "SHUTDOWN");
	assert_string_equal(xts_proto_op_name(XTS_OP_CLOSE), "CLOSE");
	assert_string_equal(xts_proto_op_name(XTS_OP_CLOSED), "CLOSED");
	assert_string_equal(xts_proto_op_name(XTS_OP_RESET), "RESET");
	assert_string_equal(xts_proto_op_name(XTS_OP_SOCKOPT), "SOCKOPT");
	assert_string_equal(xts_proto_op_name(XTS_OP_SOCKOPT_RES), "SOCKOPT_RES");
	assert_string_equal(xts_proto_op_name(XTS_OP_LISTEN), "LISTEN");
	assert_string_equal(xts_proto_op_name(XTS_OP_LISTEN_RES), "LISTEN_RES");
	assert_string_equal(xts_proto_op_name(XTS_OP_NEW_CONN), "NEW_CONN");
	assert_string_equal(xts_proto_op_name(XTS_OP_NEW_CONN_ACK), "NEW_CONN_ACK");
	assert_string_equal(xts_proto_op_name(XTS_OP_ULP_PUSH), "ULP_PUSH");
	assert_string_equal(xts_proto_op_name(XTS_OP_ULP_RES), "ULP_RES");
	assert_string_equal(xts_proto_op_name(XTS_OP_DRAINING), "DRAINING");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_string_equal(xts_proto_op_name(bad[i]), "?");
		/* Unknown ops have no payload range and are not NOSEQ. */
		if (bad[i] <= 0xffff) {
			assert_int_equal(xts_proto_min_len((enum xts_op)bad[i]), 0);
			assert_int_equal(xts_proto_max_len((enum xts_op)bad[i]), 0);
			assert_int_equal(xts_proto_op_noseq((enum xts_op)bad[i]), 0);
		}
	}
}

/* ---- addresses ---- */

static void test_addr_inet(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8080)};
	struct sockaddr_in back;
	struct xts_addr a;
	unsigned len;

	(void)state;
	inet_pton(AF_INET, "192.0.2.33", &sin.sin_addr);
	memset(&a, 0xff, sizeof(a));
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* Wire form: family and port little-endian host values; address in
	 * network order in the first 4 bytes; the rest zero. */
	assert_int_equal(((const __u8 *)&a)[0], AF_INET);
	assert_int_equal(((const __u8 *)&a)[1], 0);
	assert_int_equal(((const __u8 *)&a)[2], 8080 & 0xff);
	assert_int_equal(((const __u8 *)&a)[3], 8080 >> 8);
	assert_int_equal(le16toh(a.port), 8080);
	assert_int_equal(a.scope_id, 0);
	assert_memory_equal(a.addr, "\xc0\x00\x02\x21", 4);
	assert_memory_equal(a.addr + 4, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);

	memset(&back, 0xff, sizeof(back));
	len = sizeof(back);
	assert_int_equal(xts_addr_to_sockaddr(&a, (struct sockaddr *)&back, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_memory_equal(&back, &sin, sizeof(sin));

	/* A larger buffer (sockaddr_storage) is fine: only the real size is
	 * reported. */
	{
		struct sockaddr_storage ss;

		len = sizeof(ss);
		assert_int_equal(xts_addr_to_sockaddr(&a, (struct sockaddr *)&ss, &len), 0);
		assert_int_equal(len, sizeof(struct sockaddr_in));
		assert_int_equal(ss.ss_family, AF_INET);
	}
}

static void test_addr_inet6(void **state)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
				    .sin6_port = htons(443),
				    .sin6_flowinfo = htonl(0x12345),
				    .sin6_scope_id = 3};
	struct sockaddr_in6 back;
	struct xts_addr a;
	unsigned len;

	(void)state;
	inet_pton(AF_INET6, "fe80::1:2:3:4", &sin6.sin6_addr);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	assert_int_equal(le16toh(a.family), AF_INET6);
	assert_int_equal(le16toh(a.port), 443);
	assert_int_equal(le32toh(a.scope_id), 3);
	assert_memory_equal(a.addr, &sin6.sin6_addr, 16);

	len = sizeof(back);
	assert_int_equal(xts_addr_to_sockaddr(&a, (struct sockaddr *)&back, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(back.sin6_family, AF_INET6);
	assert_int_equal(back.sin6_port, htons(443));
	assert_int_equal(back.sin6_scope_id, 3);
	assert_int_equal(back.sin6_flowinfo, 0); /* does not travel */
	assert_memory_equal(&back.sin6_addr, &sin6.sin6_addr, 16);

	/* Truncation as getpeername(2): fills what fits, says the size. */
	memset(&back, 0xee, sizeof(back));
	len = 8;
	assert_int_equal(xts_addr_to_sockaddr(&a, (struct sockaddr *)&back, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(back.sin6_family, AF_INET6);
	assert_int_equal(back.sin6_port, htons(443));
	assert_memory_equal(&back.sin6_addr, "\xee\xee\xee\xee", 4);
	len = 0;
	assert_int_equal(xts_addr_to_sockaddr(&a, NULL, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
}

static void test_addr_errors(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};
	struct sockaddr_storage ss;
	struct xts_addr a, before;
	unsigned len;

	(void)state;
	memset(&a, 0x77, sizeof(a));
	before = a;
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin) - 1),
			 -EINVAL);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6) - 1),
			 -EINVAL);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin)),
			 -EINVAL);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin, 0), -EINVAL);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin, 1), -EINVAL);
	assert_int_equal(xts_addr_from_sockaddr(&a, NULL, sizeof(sin)), -EINVAL);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sun, sizeof(sun)),
			 -EAFNOSUPPORT);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNSPEC;
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sizeof(ss)),
			 -EAFNOSUPPORT);
	/* A refused conversion leaves the output alone. */
	assert_memory_equal(&a, &before, sizeof(a));

	memset(&a, 0, sizeof(a));
	len = sizeof(ss);
	a.family = htole16(AF_UNSPEC);
	assert_int_equal(xts_addr_to_sockaddr(&a, (struct sockaddr *)&ss, &len), -EINVAL);
	a.family = htole16(AF_UNIX);
	assert_int_equal(xts_addr_to_sockaddr(&a, (struct sockaddr *)&ss, &len), -EAFNOSUPPORT);
	a.family = htole16(0x0200); /* AF_INET in the wrong byte order */
	assert_int_equal(xts_addr_to_sockaddr(&a, (struct sockaddr *)&ss, &len), -EAFNOSUPPORT);
	assert_int_equal(len, sizeof(ss));
	a.family = htole16(AF_INET);
	assert_int_equal(xts_addr_to_sockaddr(&a, (struct sockaddr *)&ss, NULL), -EINVAL);
	assert_int_equal(xts_addr_to_sockaddr(&a, NULL, &len), -EINVAL);
}

static void test_addr_fmt(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(65535)};
	struct xts_addr a;
	char buf[XTS_ADDR_STRLEN], small[8];

	(void)state;
	inet_pton(AF_INET, "198.18.0.2", &sin.sin_addr);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_string_equal(xts_addr_fmt(&a, buf, sizeof(buf)), "198.18.0.2:80");
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	assert_string_equal(xts_addr_fmt(&a, buf, sizeof(buf)), "[::1]:65535");
	inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr);
	sin6.sin6_scope_id = 3;
	sin6.sin6_port = htons(0);
	assert_int_equal(xts_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	assert_string_equal(xts_addr_fmt(&a, buf, sizeof(buf)), "[fe80::1%3]:0");
	/* the longest form fits XTS_ADDR_STRLEN */
	memset(a.addr, 0xff, sizeof(a.addr));
	a.scope_id = htole32(0xffffffffu);
	a.port = htole16(65535);
	xts_addr_fmt(&a, buf, sizeof(buf));
	assert_string_equal(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535");
	/* cut short, still terminated */
	assert_string_equal(xts_addr_fmt(&a, small, sizeof(small)), "[ffff:f");
	memset(&a, 0, sizeof(a));
	assert_string_equal(xts_addr_fmt(&a, buf, sizeof(buf)), "-");
	a.family = htole16(0x0200); /* AF_INET in the wrong byte order */
	assert_string_equal(xts_addr_fmt(&a, buf, sizeof(buf)), "-");
}

/* ---- socket ids ---- */

static void test_socket_ids(void **state)
{
	static const __u32 slots[] = {0, 1, 2, 1000, XTS_ID_SLOT_MASK - 1, XTS_ID_SLOT_MASK};
	static const __u32 gens[] = {1, 2, 3, 0x3ff, XTS_ID_GEN_MAX - 1, XTS_ID_GEN_MAX};
	unsigned i, j;

	(void)state;
	assert_int_equal(XTS_ID_NONE, 0);
	assert_int_equal(xts_id_make(0, 0), XTS_ID_NONE);
	assert_int_equal(XTS_ID_GEN_MAX, 0x7ff); /* 11 bits, docs/protocol.md */
	assert_int_equal(XTS_ID_SLOT_MASK, 0xfffff);
	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		for (j = 0; j < sizeof(gens) / sizeof(gens[0]); j++) {
			__u32 id = xts_id_make(slots[i], gens[j]);

			assert_int_equal(xts_id_slot(id), slots[i]);
			assert_int_equal(xts_id_gen(id), gens[j]);
			/* A live id is never "none" and fits a descriptor. */
			assert_int_not_equal(id, XTS_ID_NONE);
			assert_true(id <= (__u32)INT_MAX);
			assert_true((int)id > 0);
			/* The slot's next owner has another id: a message for
			 * the old one is recognisably stale. */
			if (gens[j] < XTS_ID_GEN_MAX) {
				__u32 next = xts_id_make(slots[i], gens[j] + 1);

				assert_int_not_equal(next, id);
				assert_int_equal(xts_id_slot(next), xts_id_slot(id));
				assert_int_not_equal(xts_id_gen(next), xts_id_gen(id));
			}
		}
	}
	assert_int_equal(xts_id_make(XTS_ID_SLOT_MASK, XTS_ID_GEN_MAX), INT_MAX);
	/* The slot never bleeds into the generation. */
	assert_int_equal(xts_id_gen(xts_id_make(XTS_ID_SLOT_MASK + 1, 5)), 5);
	assert_int_equal(xts_id_slot(xts_id_make(XTS_ID_SLOT_MASK + 1, 5)), 0);
}

/* ---- bundles ---- */

/* A message's header and payload at @off of @f (epoch, seq, ack 0);
 * returns the offset after it. */
static size_t bnd_put(__u8 *f, size_t off, unsigned op, __u16 flags, __u32 dst, const void *pl,
		      __u16 len)
{
	struct xts_hdr h = {.version = XTS_PROTO_VERSION, .op = (__u8)op};

	h.flags = htole16(flags);
	h.dst_id = htole32(dst);
	h.len = htole16(len);
	memcpy(f + off, &h, sizeof(h));
	if (len)
		memcpy(f + off + sizeof(h), pl, len);
	return off + sizeof(h) + len;
}

/* DATA "abc" + CREDIT + CLOSE in one frame; returns its length. */
static size_t bnd_frame(__u8 *f)
{
	struct xts_close c = {0};
	size_t n;

	n = (size_t)xts_proto_hdr_put(f, FRAME_MAX, (const __u8 *)"\1\2\3\4\5\6",
				      (const __u8 *)"\6\5\4\3\2\1", XTS_OP_DATA, XTS_F_BUNDLE, 7, 8,
				      9, 3);
	memcpy(f + PL, "abc", 3);
	put16(f, HDR(flags), XTS_F_BUNDLE);
	f[HDR(epoch)] = 0x11; /* the frame's: every message gets it */
	f[HDR(seq)] = 0x22;
	n = bnd_put(f, n, XTS_OP_CREDIT, XTS_F_BUNDLE, 70, NULL, 0);
	return bnd_put(f, n, XTS_OP_CLOSE, 0, 700, &c, sizeof(c));
}

/* Parse the whole bundle from the guarded region: messages, or -errno. */
static int parse_bundle(const __u8 *f, size_t n, struct xts_msg *m, unsigned max)
{
	const __u8 *g = guard.base + guard.size - n;
	unsigned k = 1;
	int err;

	memcpy(guard.rw + guard.size - n, f, n);
	err = xts_proto_parse(g, n, &m[0]);
	while (!err && (m[k - 1].flags & XTS_F_BUNDLE) && k < max) {
		err = xts_proto_parse_next(g, n, &m[k - 1], &m[k]);
		k++;
	}
	return err ? err : (int)k;
}

static void test_bundle(void **state)
{
	static const size_t bad[] = {HDR(version), HDR(op),  HDR(epoch),    HDR(seq),
				     HDR(ack),	   HDR(len), HDR(reserved), HDR(flags)};
	__u8 *f = frame_buf();
	struct xts_msg m[4], keep;
	size_t n = bnd_frame(f), i, cut;

	(void)state;
	assert_int_equal(parse_bundle(f, n, m, 4), 3);
	assert_int_equal(m[0].op, XTS_OP_DATA);
	assert_int_equal(m[0].len, 3);
	assert_int_equal(m[1].op, XTS_OP_CREDIT);
	assert_int_equal(m[1].dst_id, 70);
	assert_int_equal(m[2].op, XTS_OP_CLOSE);
	assert_int_equal(m[2].dst_id, 700);
	assert_int_equal(m[2].flags, 0);
	for (i = 1; i < 3; i++) { /* the frame's epoch, seq and MAC */
		assert_int_equal(m[i].epoch, 0x11);
		assert_int_equal(m[i].seq, 0x22);
		assert_ptr_equal(m[i].src_mac, m[0].src_mac);
	}
	/* every field of the second header that must be refused */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t at = PL + 3 + bad[i] - XTS_HDR_OFF;

		f = frame_buf();
		n = bnd_frame(f);
		if (bad[i] == HDR(op))
			f[at] = XTS_OP_ACK; /* NOSEQ: never in a bundle */
		else if (bad[i] == HDR(flags))
			f[at] |= XTS_F_NOSEQ;
		else if (bad[i] == HDR(len))
			f[at] = 200; /* past the frame */
		else
			f[at] ^= 0x40;
		assert_int_equal(parse_bundle(f, n, m, 4), -EBADMSG);
	}
	/* cut anywhere inside the tail: refused, never read past the end */
	f = frame_buf();
	n = bnd_frame(f);
	for (cut = PL + 3; cut < n; cut++)
		assert_int_equal(parse_bundle(f, cut, m, 4), -EBADMSG);
	/* parse_next on a message without the flag, and *m untouched */
	assert_int_equal(parse_bundle(f, n, m, 4), 3);
	memset(&keep, 0x5a, sizeof(keep));
	m[3] = keep;
	assert_int_equal(xts_proto_parse_next(guard.base + guard.size - n, n, &m[2], &m[3]),
			 -EBADMSG);
	assert_memory_equal(&m[3], &keep, sizeof(keep));
	/* the flag on a NOSEQ op: refused in the first header too */
	f = frame_buf();
	n = (size_t)xts_proto_hdr_put(f, FRAME_MAX, (const __u8 *)"\1\2\3\4\5\6",
				      (const __u8 *)"\6\5\4\3\2\1", XTS_OP_ACK, 0, 0, 0, 0, 0);
	put16(f, HDR(flags), XTS_F_NOSEQ | XTS_F_BUNDLE);
	assert_int_equal(parse_guarded_err(f, n), -EBADMSG);
}

/* ---- randomized ---- */

/*
 * What an accepted frame must satisfy, re-derived here from the spec rather
 * than from proto.c, so that a parser that accepts too much is caught too.
 */
static void check_accepted(const __u8 *f, size_t n, const struct xts_msg *m)
{
	const __u8 *p = m->payload;
	unsigned op = m->op;

	assert_true(PL + (size_t)m->len <= n);
	assert_true(op_known(op));
	assert_int_equal(f[12], 0x88);
	assert_int_equal(f[13], 0xb5);
	assert_int_equal(f[HDR(version)], want_version(op, m->len));
	assert_int_equal(m->version, f[HDR(version)]);
	if (op == XTS_OP_HELLO_ACK)
		assert_true(m->len == 32 || m->len == 40);
	assert_int_equal(get16(f, HDR(len)), m->len);
	assert_int_equal(get16(f, HDR(reserved)), 0);
	assert_true(m->len >= xts_proto_min_len(op) && m->len <= xts_proto_max_len(op));
	assert_int_equal(!!(m->flags & XTS_F_NOSEQ), is_noseq(op));
	assert_int_equal(m->flags & ~(XTS_F_NOSEQ | XTS_F_ABORT | XTS_F_MORE | XTS_F_EOR |
				      XTS_F_SHARED | XTS_F_BUNDLE),
			 0);
	/* a bundle is sequenced (its further messages: parse_next's business) */
	if (m->flags & XTS_F_BUNDLE)
		assert_false(is_noseq(op));
	assert_ptr_equal(p, f + PL);
	switch (op) {
	case XTS_OP_CONNECT: {
		__u16 nopts = get16(p, offsetof(struct xts_connect, nopts));
		__u16 fam = get16(p, offsetof(struct xts_connect, dst.family));
		__u16 flags = get16(p, offsetof(struct xts_connect, flags));
		bool src = flags & XTS_CONNECT_F_SRC, ulp = flags & XTS_CONNECT_F_ULP;

		assert_true(nopts <= XTS_CONNECT_MAX_OPTS);
		assert_int_equal(flags & ~XTS_CONNECT_F_ALL, 0);
		size_t base = 32 + 12 * nopts + (src ? 24 : 0) + (ulp ? 356 : 0);

		/* the options, then a 24-byte source address iff F_SRC, then
		 * the 356-byte ULP block iff F_ULP, then at least one first
		 * byte iff F_DATA (never with F_ULP) */
		if (flags & XTS_CONNECT_F_DATA) {
			assert_false(ulp);
			assert_true(m->len > base);
		} else {
			assert_int_equal(m->len, base);
		}
		if (ulp) {
			const __u8 *u = p + 32 + 12 * nopts + (src ? 24 : 0);

			assert_true(u[0] && !(u[0] & ~XTS_ULP_ALL));
		}
		assert_true(fam == AF_INET || fam == AF_INET6);
		if (src)
			assert_int_equal(get16(p, 32 + 12 * nopts), fam);
		break;
	}
	case XTS_OP_SOCKOPT:
	case XTS_OP_SOCKOPT_RES: {
		__u32 vlen = get32(p, offsetof(struct xts_sockopt, vlen));

		assert_true(vlen <= XTS_SOCKOPT_VALMAX);
		assert_int_equal(24 + vlen, m->len);
		assert_true(p[offsetof(struct xts_sockopt, dir)] <= 1);
		break;
	}
	case XTS_OP_CONNECT_RES:
	case XTS_OP_LISTEN_RES:
	case XTS_OP_NEW_CONN: {
		bool failed = get32(p, 0) != 0;
		__u16 l = get16(p, offsetof(struct xts_conn_res, local.family));
		__u16 r = get16(p, offsetof(struct xts_conn_res, peer.family));

		assert_true(l == AF_INET || l == AF_INET6 || (failed && l == AF_UNSPEC));
		assert_true(r == AF_INET || r == AF_INET6 || (failed && r == AF_UNSPEC));
		break;
	}
	case XTS_OP_LISTEN: {
		__u16 fam = get16(p, 0);

		assert_true(fam == AF_INET || fam == AF_INET6);
		break;
	}
	}
}

static size_t mutate(struct rng *r, __u8 *f, size_t n)
{
	/* Fields worth lying in: the header's and the payloads' counts. */
	static const size_t fields16[] = {HDR(len),
					  HDR(flags),
					  HDR(reserved),
					  PLO(xts_connect, nopts),
					  PL /* a family */,
					  PLO(xts_conn_res, local.family),
					  PLO(xts_conn_res, peer.family)};
	unsigned k, nmut = 1 + rnd_below(r, 4);
	size_t off;

	for (k = 0; k < nmut; k++) {
		switch (rnd_below(r, 7)) {
		case 0: /* bit flip anywhere */
		case 1:
			if (n) {
				off = rnd_below(r, (uint32_t)n);
				f[off] ^= (__u8)(1u << rnd_below(r, 8));
			}
			break;
		case 2: /* truncate */
			n = rnd_below(r, (uint32_t)n + 1);
			break;
		case 3: /* extend with junk (padding) */
			off = rnd_below(r, 64);
			rnd_bytes(r, f + n, off);
			n += off;
			break;
		case 4: /* len field: near the truth or anything */
			if (rnd(r) & 1)
				put16(f, HDR(len),
				      (__u16)(get16(f, HDR(len)) + rnd_below(r, 9) - 4));
			else
				put16(f, HDR(len), (__u16)rnd(r));
			break;
		case 5: /* a payload count field */
			off = fields16[rnd_below(r, sizeof(fields16) / sizeof(fields16[0]))];
			put16(f, off, (__u16)(rnd(r) & 1 ? rnd_below(r, 16) : rnd(r)));
			if (rnd(r) & 1)
				put32(f, PLO(xts_sockopt, vlen),
				      rnd(r) & 1 ? rnd_below(r, 300) : (__u32)rnd(r));
			break;
		case 6: /* op byte */
			f[HDR(op)] =
			    (__u8)(rnd(r) & 1 ? known_ops[rnd_below(r, N_KNOWN_OPS)] : rnd(r));
			break;
		}
	}
	return n;
}

static void test_random_frames(void **state)
{
	static __u8 f[FRAME_MAX + 512]; /* mutate() may append 4 x 63 */
	const char *env = getenv("XTS_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x7875704f52544f;
	struct rng r = {.s = seed ? seed : 1};
	unsigned long ok = 0, bad = 0, proto = 0, opnotsupp = 0;
	unsigned i;

	(void)state;
	for (i = 0; i < RANDOM_FRAMES; i++) {
		struct xts_msg m;
		size_t n;
		int err;

		if (rnd_below(&r, 8) == 0) {
			/* Pure noise, sometimes wearing an XTS EtherType and
			 * version so that it gets past the first checks. */
			n = rnd_below(&r, 400);
			rnd_bytes(&r, f, n);
			if (n >= PL && (rnd(&r) & 1)) {
				f[12] = 0x88;
				f[13] = 0xb5;
				f[HDR(version)] = XTS_PROTO_VERSION;
			}
		} else {
			/* Occasionally a big DATA/ULP frame, mostly small. */
			size_t data_max = rnd_below(&r, 16) ? 200 : 0xffff;

			memset(f, 0, PL + 400);
			n = valid_frame(&r, f, known_ops[rnd_below(&r, N_KNOWN_OPS)], data_max);
			n = mutate(&r, f, n);
		}
		err = parse_guarded(f, n, &m);
		switch (err) {
		case 0:
			ok++;
			check_accepted(guard.base + guard.size - n, n, &m);
			break;
		case -EBADMSG:
			bad++;
			break;
		case -EPROTO:
			proto++;
			break;
		case -EOPNOTSUPP:
			opnotsupp++;
			break;
		default:
			fail_msg("seed %#llx frame %u: parse returned %d", (unsigned long long)seed,
				 i, err);
		}
	}
	print_message("random frames (seed %#llx): %lu accepted, %lu EBADMSG, %lu EPROTO, "
		      "%lu EOPNOTSUPP\n",
		      (unsigned long long)seed, ok, bad, proto, opnotsupp);
	/* The generator must reach every outcome, or it proves little. */
	assert_true(ok > RANDOM_FRAMES / 20);
	assert_true(bad > RANDOM_FRAMES / 20);
	assert_true(proto > 100);
	assert_true(opnotsupp > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_op),
	    cmocka_unit_test(test_round_trip_header_bytes),
	    cmocka_unit_test(test_round_trip_extremes),
	    cmocka_unit_test(test_unaligned_frame),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_ethertype),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_hello_ack_versions),
	    cmocka_unit_test(test_unknown_op),
	    cmocka_unit_test(test_reserved),
	    cmocka_unit_test(test_len_lies),
	    cmocka_unit_test(test_len_op_limits),
	    cmocka_unit_test(test_noseq_flag),
	    cmocka_unit_test(test_unknown_flags),
	    cmocka_unit_test(test_bundle),
	    cmocka_unit_test(test_sockopt),
	    cmocka_unit_test(test_ulp_blocks),
	    cmocka_unit_test(test_connect),
	    cmocka_unit_test(test_families),
	    cmocka_unit_test(test_payload_reserved),
	    cmocka_unit_test(test_padding),
	    cmocka_unit_test(test_hdr_put),
	    cmocka_unit_test(test_op_names),
	    cmocka_unit_test(test_addr_inet),
	    cmocka_unit_test(test_addr_inet6),
	    cmocka_unit_test(test_addr_errors),
	    cmocka_unit_test(test_addr_fmt),
	    cmocka_unit_test(test_socket_ids),
	    cmocka_unit_test(test_random_frames),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
