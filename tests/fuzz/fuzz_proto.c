// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_proto.c - libFuzzer harness for the wire codec (xport/core/proto.c).
 *
 * xts_proto_parse() is the first code to touch bytes from the wire, on both
 * ends, so it is the one place where a mistake is reachable by anything
 * that can put a frame on the link.  libFuzzer hands the input in a heap
 * block of exactly its size, so ASan turns any read past frame_len into a
 * crash; the invariants below turn "accepted something it should not" into
 * one as well.
 *
 * Build and run (clang only; see tests/fuzz/CMakeLists.txt):
 *
 *   cmake -B build-fuzz -S . -DCMAKE_C_COMPILER=clang -DXTS_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_proto
 *   mkdir -p build-fuzz/corpus
 *   build-fuzz/bin/fuzz_proto -max_total_time=60 -dict=tests/fuzz/proto.dict \
 *       build-fuzz/corpus
 *
 * A crash leaves crash-<sha1> in the current directory; replay it with
 * build-fuzz/bin/fuzz_proto crash-<sha1>.  Once understood, it goes into
 * tests/fuzz/regress/proto/ with a name that says what it is: CI replays
 * every file there (fuzz_proto_regress).
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fuzz_check.h"
#include "xts_proto.h"

#define PL	  XTS_PAYLOAD_OFF
#define FRAME_MAX (PL + 0xffff)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static __u16 get16(const __u8 *p, size_t off)
{
	__u16 v;

	memcpy(&v, p + off, sizeof(v));
	return le16toh(v);
}

static __u32 get32(const __u8 *p, size_t off)
{
	__u32 v;

	memcpy(&v, p + off, sizeof(v));
	return le32toh(v);
}

static int family_ok(__u16 f, int unspec_ok)
{
	return f == AF_INET || f == AF_INET6 || (unspec_ok && f == AF_UNSPEC);
}

/* Accepted means: what the spec says, re-derived here, not from proto.c. */
static void check_accepted(const __u8 *f, size_t n, const struct xts_msg *m)
{
	const __u8 *p = f + PL;

	CHECK(PL + (size_t)m->len <= n);
	CHECK((const __u8 *)m->hdr == f + XTS_HDR_OFF);
	CHECK(m->payload == p);
	CHECK(m->src_mac == f + XTS_MAC_LEN);
	CHECK(f[12] == 0x88 && f[13] == 0xb5);
	/* HELLO and a version 1 HELLO_ACK (32 bytes) keep version 1 */
	CHECK(f[XTS_HDR_OFF] == ((m->op == XTS_OP_HELLO ||
				  (m->op == XTS_OP_HELLO_ACK && m->len == sizeof(struct xts_hello)))
				     ? XTS_HELLO_VERSION
				     : XTS_PROTO_VERSION));
	CHECK(m->version == f[XTS_HDR_OFF]);
	CHECK(m->op != XTS_OP_HELLO_ACK || m->len == sizeof(struct xts_hello) ||
	      m->len == sizeof(struct xts_hello_ack));
	CHECK(m->op == f[XTS_HDR_OFF + 1]);
	CHECK(strcmp(xts_proto_op_name(m->op), "?") != 0);
	CHECK(m->flags == get16(f, XTS_HDR_OFF + 2));
	CHECK(m->epoch == get32(f, XTS_HDR_OFF + 4));
	CHECK(m->seq == get32(f, XTS_HDR_OFF + 8));
	CHECK(m->ack == get32(f, XTS_HDR_OFF + 12));
	CHECK(m->dst_id == get32(f, XTS_HDR_OFF + 16));
	CHECK(m->src_id == get32(f, XTS_HDR_OFF + 20));
	CHECK(m->credit == get32(f, XTS_HDR_OFF + 24));
	CHECK(m->len == get16(f, XTS_HDR_OFF + 28));
	CHECK(get16(f, XTS_HDR_OFF + 30) == 0);
	CHECK(m->len >= xts_proto_min_len(m->op));
	/* CONNECT's first bytes (XTS_CONNECT_F_DATA) come on top of its
	 * control part's maximum, up to what the 16-bit len can say */
	if (m->op != XTS_OP_CONNECT ||
	    !(get16(p, offsetof(struct xts_connect, flags)) & XTS_CONNECT_F_DATA))
		CHECK(m->len <= xts_proto_max_len(m->op));
	CHECK(!!(m->flags & XTS_F_NOSEQ) == !!xts_proto_op_noseq(m->op));
	CHECK(!(m->flags & ~(XTS_F_NOSEQ | XTS_F_ABORT | XTS_F_MORE | XTS_F_EOR | XTS_F_SHARED |
			     XTS_F_BUNDLE)));
	CHECK(!(m->flags & XTS_F_BUNDLE) || !(m->flags & XTS_F_NOSEQ));

	switch (m->op) {
	case XTS_OP_DATA:
		CHECK(m->len >= 1);
		break;
	case XTS_OP_CONNECT: {
		__u16 nopts = get16(p, offsetof(struct xts_connect, nopts));
		__u16 flags = get16(p, offsetof(struct xts_connect, flags));

		CHECK(nopts <= XTS_CONNECT_MAX_OPTS);
		/* the options, the source address (F_SRC), the ULPs (F_ULP),
		 * then with F_DATA at least one first byte (and no ULP) */
		size_t ctl = xts_connect_ulp_off(nopts, flags) +
			     ((flags & XTS_CONNECT_F_ULP) ? sizeof(struct xts_ulp) : 0);
		if (flags & XTS_CONNECT_F_DATA)
			CHECK(!(flags & XTS_CONNECT_F_ULP) && m->len > ctl);
		else
			CHECK(m->len == ctl);
		if (flags & XTS_CONNECT_F_ULP) {
			__u8 ulps = p[xts_connect_ulp_off(nopts, flags)];

			CHECK(ulps && !(ulps & ~XTS_ULP_ALL));
		}
		CHECK(family_ok(get16(p, offsetof(struct xts_connect, dst.family)), 0));
		break;
	}
	case XTS_OP_SOCKOPT:
	case XTS_OP_SOCKOPT_RES: {
		__u32 vlen = get32(p, offsetof(struct xts_sockopt, vlen));
		__u8 dir = p[offsetof(struct xts_sockopt, dir)];

		CHECK(vlen <= XTS_SOCKOPT_VALMAX);
		CHECK(sizeof(struct xts_sockopt) + vlen == m->len);
		CHECK(dir == XTS_SOCKOPT_SET || dir == XTS_SOCKOPT_GET);
		break;
	}
	case XTS_OP_CONNECT_RES:
	case XTS_OP_LISTEN_RES:
	case XTS_OP_NEW_CONN: {
		int failed = get32(p, offsetof(struct xts_conn_res, err)) != 0;

		CHECK(family_ok(get16(p, offsetof(struct xts_conn_res, local.family)), failed));
		CHECK(family_ok(get16(p, offsetof(struct xts_conn_res, peer.family)), failed));
		break;
	}
	case XTS_OP_LISTEN:
		CHECK(family_ok(get16(p, offsetof(struct xts_listen, local.family)), 0));
		break;
	}
}

/*
 * An accepted header is canonical: hdr_put with the decoded fields (plus
 * what the link stamps) must give back the very same bytes, and parsing
 * that must decode the same message.
 */
static void check_reencode(const __u8 *f, const struct xts_msg *m)
{
	static __u8 out[FRAME_MAX];
	struct xts_hdr *h = (struct xts_hdr *)(out + XTS_HDR_OFF);
	struct xts_msg m2;
	int tot;

	tot = xts_proto_hdr_put(out, sizeof(out), f, f + XTS_MAC_LEN, m->op, m->flags, m->dst_id,
				m->src_id, m->credit, m->len);
	CHECK(tot == (int)(PL + m->len));
	h->epoch = htole32(m->epoch);
	h->seq = htole32(m->seq);
	h->ack = htole32(m->ack);
	memcpy(out + PL, m->payload, m->len);
	CHECK(memcmp(out, f, (size_t)tot) == 0);
	CHECK(xts_proto_parse(out, (size_t)tot, &m2) == 0);
	CHECK(m2.op == m->op && m2.flags == m->flags && m2.epoch == m->epoch && m2.seq == m->seq &&
	      m2.ack == m->ack && m2.dst_id == m->dst_id && m2.src_id == m->src_id &&
	      m2.credit == m->credit && m2.len == m->len);
}

/* The first 24 bytes as an xts_addr: to_sockaddr and back is lossless for
 * what travels (family, port, address, IPv6 scope). */
static void check_addr(const __u8 *data, size_t size)
{
	struct sockaddr_storage ss;
	struct xts_addr a, b;
	unsigned salen = sizeof(ss);
	__u16 fam;

	if (size < sizeof(a))
		return;
	memcpy(&a, data, sizeof(a));
	fam = le16toh(a.family);
	if (xts_addr_to_sockaddr(&a, (struct sockaddr *)&ss, &salen)) {
		CHECK(fam != AF_INET && fam != AF_INET6);
		return;
	}
	CHECK(salen == (fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)));
	CHECK(xts_addr_from_sockaddr(&b, (struct sockaddr *)&ss, salen) == 0);
	CHECK(b.family == a.family && b.port == a.port);
	if (fam == AF_INET) {
		CHECK(memcmp(b.addr, a.addr, 4) == 0);
	} else {
		CHECK(b.scope_id == a.scope_id);
		CHECK(memcmp(b.addr, a.addr, 16) == 0);
	}
}

/* The messages behind a bundle's first: each one inside the frame,
 * sequenced, with the frame's epoch, seq and MAC; at most 64 looked at
 * (what a receiver takes). */
static void check_bundle(const __u8 *f, size_t size, const struct xts_msg *first)
{
	struct xts_msg prev = *first, m, before;
	int k, err;

	for (k = 1; k < XTS_BUNDLE_MAX && (prev.flags & XTS_F_BUNDLE); k++) {
		memset(&m, 0x5a, sizeof(m));
		before = m;
		err = xts_proto_parse_next(f, size, &prev, &m);
		CHECK(err == 0 || err == -EBADMSG);
		if (err) {
			CHECK(memcmp(&m, &before, sizeof(m)) == 0);
			return;
		}
		CHECK((const __u8 *)m.payload >= f + XTS_PAYLOAD_OFF + sizeof(struct xts_hdr));
		CHECK((size_t)((const __u8 *)m.payload - f) + m.len <= size);
		CHECK(!(m.flags & XTS_F_NOSEQ) && m.epoch == first->epoch && m.seq == first->seq &&
		      m.src_mac == first->src_mac);
		CHECK(m.len >= xts_proto_min_len((enum xts_op)m.op) &&
		      m.len <= xts_proto_max_len((enum xts_op)m.op));
		prev = m;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xts_msg m, before;
	__u8 *copy = NULL;
	int err;

	/* Parse must not write into the frame: keep a copy to compare. */
	if (size) {
		copy = malloc(size);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
	}
	memset(&m, 0x5a, sizeof(m));
	before = m;
	err = xts_proto_parse(data, size, &m);
	CHECK(err == 0 || err == -EBADMSG || err == -EPROTO || err == -EOPNOTSUPP);
	CHECK(!size || memcmp(copy, data, size) == 0);
	free(copy);
	if (err) {
		CHECK(memcmp(&m, &before, sizeof(m)) == 0);
	} else {
		check_accepted(data, size, &m);
		check_reencode(data, &m);
		check_bundle(data, size, &m);
	}
	check_addr(data, size);
	return 0;
}
