// SPDX-License-Identifier: BSD-2-Clause
/*
 * proto.c - the XTS wire codec: the one place that parses or lays out an
 * xts_hdr, on both ends of a queue (include/xts_proto.h, docs/protocol.md).
 *
 * xts_proto_parse() runs on every received frame, before anything else
 * looks at it, on bytes a peer (or anything else on the wire) chose.  So it
 * reads nothing past frame_len, writes nothing into the frame, allocates
 * nothing, and rejects anything the rest of the code would have to second-
 * guess: after a 0 return, hdr->len payload bytes are inside the frame and
 * the payload is the size its op needs, so a handler may read its struct
 * without checking lengths again.
 *
 * The frame may sit at any offset in a UMEM frame: every struct is packed,
 * so the compiler emits unaligned loads, and the sockaddr side goes through
 * memcpy.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "xts_proto.h"

/* Flag bits a version 2 peer may set; anything else is a newer protocol
 * (or noise) and the version byte would have said so. */
#define XTS_F_KNOWN                                                                                \
	(XTS_F_NOSEQ | XTS_F_ABORT | XTS_F_MORE | XTS_F_EOR | XTS_F_SHARED | XTS_F_BUNDLE)

#define XTS_LEN_MAX 0xffffu /* hdr.len is 16 bits */

/* Payload bytes of a CONNECT with no options. */
#define CONNECT_BASE offsetof(struct xts_connect, opts)
/* CONNECT_RES and NEW_CONN of a connection with ULPs: what they became. */
#define CONN_RES_ULP (sizeof(struct xts_conn_res) + sizeof(struct xts_ulp_info))

struct op_desc {
	const char *name; /* NULL: no such op */
	__u16 min_len;
	__u16 max_len;
	bool noseq; /* outside the queue window (XTS_F_NOSEQ) */
};

/* One op per line reads as a table; keep clang-format out of it. */
/* clang-format off */
#define FIXED(n, sz, nq) {.name = (n), .min_len = (sz), .max_len = (sz), .noseq = (nq)}
#define RANGE(n, lo, hi) {.name = (n), .min_len = (lo), .max_len = (hi), .noseq = false}

/* Indexed by op; holes (7..15 and so on) are unknown ops. */
static const struct op_desc ops[XTS_OP_MAX] = {
	[XTS_OP_HELLO] = FIXED("HELLO", sizeof(struct xts_hello), true),
	[XTS_OP_HELLO_ACK] = {.name = "HELLO_ACK", .min_len = sizeof(struct xts_hello),
			      .max_len = sizeof(struct xts_hello_ack), .noseq = true},
	[XTS_OP_ACK] = FIXED("ACK", 0, true),
	[XTS_OP_QRESET] = FIXED("QRESET", sizeof(struct xts_err), true),
	[XTS_OP_PING] = FIXED("PING", sizeof(struct xts_ping), true),
	[XTS_OP_PONG] = FIXED("PONG", sizeof(struct xts_ping), true),
	/* its control part; first bytes (XTS_CONNECT_F_DATA) come on top,
	 * up to the frame (connect_max) */
	[XTS_OP_CONNECT] = RANGE("CONNECT", CONNECT_BASE, sizeof(struct xts_connect) +
				 sizeof(struct xts_addr) + sizeof(struct xts_ulp)),
	[XTS_OP_CONNECT_RES] = RANGE("CONNECT_RES", sizeof(struct xts_conn_res), CONN_RES_ULP),
	/* An empty DATA would be a frame that moves nothing and costs a
	 * window slot: treated as a broken peer, not as a no-op. */
	[XTS_OP_DATA] = RANGE("DATA", 1, XTS_LEN_MAX),
	[XTS_OP_CREDIT] = FIXED("CREDIT", 0, false),
	[XTS_OP_SHUTDOWN] = FIXED("SHUTDOWN", 0, false),
	[XTS_OP_CLOSE] = FIXED("CLOSE", sizeof(struct xts_close), false),
	[XTS_OP_CLOSED] = FIXED("CLOSED", sizeof(struct xts_err), false),
	[XTS_OP_RESET] = FIXED("RESET", sizeof(struct xts_err), false),
	[XTS_OP_SOCKOPT] = RANGE("SOCKOPT", sizeof(struct xts_sockopt),
				 sizeof(struct xts_sockopt) + XTS_SOCKOPT_VALMAX),
	[XTS_OP_SOCKOPT_RES] = RANGE("SOCKOPT_RES", sizeof(struct xts_sockopt),
				     sizeof(struct xts_sockopt) + XTS_SOCKOPT_VALMAX),
	[XTS_OP_LISTEN] = RANGE("LISTEN", sizeof(struct xts_listen),
				sizeof(struct xts_listen) + sizeof(struct xts_ulp)),
	[XTS_OP_LISTEN_RES] = FIXED("LISTEN_RES", sizeof(struct xts_conn_res), false),
	[XTS_OP_NEW_CONN] = RANGE("NEW_CONN", sizeof(struct xts_conn_res), CONN_RES_ULP),
	[XTS_OP_NEW_CONN_ACK] = FIXED("NEW_CONN_ACK", sizeof(struct xts_err), false),
	/* Reserved (a ULP pushed on an established connection): opaque. */
	[XTS_OP_ULP_PUSH] = RANGE("ULP_PUSH", 0, XTS_LEN_MAX),
	[XTS_OP_ULP_RES] = FIXED("ULP_RES", sizeof(struct xts_ulp_info), false),
	[XTS_OP_DRAINING] = FIXED("DRAINING", sizeof(struct xts_err), false),
};
/* clang-format on */

/* 46 + 65535 must fit the int that hdr_put returns. */
_Static_assert(XTS_PAYLOAD_OFF + XTS_LEN_MAX <= 0x7fffffff, "frame length fits int");

static const struct op_desc *op_desc(unsigned op)
{
	if (op >= XTS_OP_MAX || !ops[op].name)
		return NULL;
	return &ops[op];
}

size_t xts_proto_min_len(enum xts_op op)
{
	const struct op_desc *d = op_desc(op);

	return d ? d->min_len : 0;
}

size_t xts_proto_max_len(enum xts_op op)
{
	const struct op_desc *d = op_desc(op);

	return d ? d->max_len : 0;
}

int xts_proto_op_noseq(enum xts_op op)
{
	const struct op_desc *d = op_desc(op);

	return d ? d->noseq : 0;
}

const char *xts_proto_op_name(unsigned op)
{
	const struct op_desc *d = op_desc(op);

	return d ? d->name : "?";
}

/* ---- parse ---- */

static bool zero(const void *p, size_t n)
{
	const __u8 *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

/* A connection always has a real address; a failed CONNECT_RES may have
 * none to report (nothing was bound yet). */
static bool addr_ok(const struct xts_addr *a, bool unspec_ok)
{
	__u16 family = le16toh(a->family);

	return family == AF_INET || family == AF_INET6 || (unspec_ok && family == AF_UNSPEC);
}

/* A C string of at most n - 1 bytes, zero-padded to n: nothing of the
 * sender's memory rides along after it. */
static bool str_ok(const char *p, size_t n)
{
	size_t l = strnlen(p, n);

	return l < n && zero(p + l, n - l);
}

/* ALPN wire form: non-empty length-prefixed names, then zeros. */
static bool alpn_ok(const __u8 *a, size_t n)
{
	size_t i = 0;

	while (i < n && a[i]) {
		if (i + 1 + a[i] > n)
			return false;
		i += 1 + a[i];
	}
	return i >= n || zero(a + i, n - i);
}

static int check_strp(const struct xts_strp *p, bool on)
{
	if (!on)
		return zero(p, sizeof(*p)) ? 0 : -EBADMSG;
	if (!p->kind || p->kind >= XTS_STRP_KIND_MAX || (p->flags & ~XTS_STRP_F_ALL) || p->reserved)
		return -EBADMSG;
	if (p->kind == XTS_STRP_LEN && p->width != 1 && p->width != 2 && p->width != 4 &&
	    p->width != 8)
		return -EBADMSG;
	return 0;
}

static int check_ulp(const struct xts_ulp *u)
{
	if (!u->ulps || (u->ulps & ~XTS_ULP_ALL) || !zero(u->reserved, sizeof(u->reserved)))
		return -EBADMSG;
	if (!str_ok(u->profile, sizeof(u->profile)) || !str_ok(u->sni, sizeof(u->sni)) ||
	    !alpn_ok(u->alpn, sizeof(u->alpn)))
		return -EBADMSG;
	/* TLS names a profile; without TLS nothing of it may be set */
	if ((u->ulps & XTS_ULP_TLS) ? !u->profile[0] : (u->profile[0] || u->sni[0] || u->alpn[0]))
		return -EBADMSG;
	return check_strp(&u->strp, u->ulps & XTS_ULP_STRP);
}

static int check_ulp_info(const struct xts_ulp_info *i)
{
	if ((le16toh(i->flags) & ~XTS_ULPI_ALL) || i->reserved)
		return -EBADMSG;
	if (!str_ok(i->cipher, sizeof(i->cipher)) || !str_ok(i->alpn, sizeof(i->alpn)) ||
	    !str_ok(i->sni, sizeof(i->sni)) || !str_ok(i->reason, sizeof(i->reason)))
		return -EBADMSG;
	return 0;
}

/* An op's largest payload; a CONNECT's first bytes (XTS_CONNECT_F_DATA,
 * checked by check_connect) may take it to the whole frame. */
static size_t connect_max(const struct xts_hdr *h, const struct op_desc *d, const __u8 *pl,
			  __u16 len)
{
	__u16 flags;

	if (h->op != XTS_OP_CONNECT || len < CONNECT_BASE)
		return d->max_len;
	memcpy(&flags, pl + offsetof(struct xts_connect, flags), sizeof(flags));
	return (le16toh(flags) & XTS_CONNECT_F_DATA) ? XTS_LEN_MAX : d->max_len;
}

static int check_connect(const struct xts_connect *c, __u16 len)
{
	__u16 nopts = le16toh(c->nopts), flags = le16toh(c->flags);
	size_t base = xts_connect_opts_end(nopts);
	struct xts_addr src;
	struct xts_ulp ulp;

	if (nopts > XTS_CONNECT_MAX_OPTS || (flags & ~XTS_CONNECT_F_ALL))
		return -EBADMSG;
	/* first bytes: at least one, and never with a ULP (they would be
	 * the ULP's to carry, not the kernel socket's) */
	if ((flags & XTS_CONNECT_F_DATA)
		? ((flags & XTS_CONNECT_F_ULP) || len <= xts_connect_data_off(nopts, flags))
		: len != xts_connect_data_off(nopts, flags))
		return -EBADMSG;
	if (flags & XTS_CONNECT_F_ULP) {
		memcpy(&ulp, (const __u8 *)c + xts_connect_ulp_off(nopts, flags), sizeof(ulp));
		if (check_ulp(&ulp))
			return -EBADMSG;
	}
	if (!addr_ok(&c->dst, false))
		return -EBADMSG;
	if (flags & XTS_CONNECT_F_SRC) {
		memcpy(&src, (const __u8 *)c + base, sizeof(src));
		if (!addr_ok(&src, false) || src.family != c->dst.family)
			return -EBADMSG;
	}
	return 0;
}

static int check_conn_res(const struct xts_conn_res *r, __u16 len)
{
	bool failed = r->err != 0; /* zero in either byte order */

	if (!addr_ok(&r->local, failed) || !addr_ok(&r->peer, failed) || r->reserved)
		return -EBADMSG;
	if (len == sizeof(*r))
		return 0;
	if (len != CONN_RES_ULP)
		return -EBADMSG;
	return check_ulp_info((const struct xts_ulp_info *)(r + 1));
}

static int check_listen(const struct xts_listen *l, __u16 len)
{
	bool ulp = le32toh(l->flags) & XTS_LISTEN_ULP;

	if (!addr_ok(&l->local, false))
		return -EBADMSG;
	if (len != sizeof(*l) + (ulp ? sizeof(struct xts_ulp) : 0))
		return -EBADMSG;
	return ulp ? check_ulp((const struct xts_ulp *)(l + 1)) : 0;
}

static int check_sockopt(const struct xts_sockopt *s, __u16 len)
{
	__u32 vlen = le32toh(s->vlen);

	/* vlen bounded first, so that 24 + vlen cannot wrap. */
	if (vlen > XTS_SOCKOPT_VALMAX || sizeof(*s) + vlen != len)
		return -EBADMSG;
	if (s->dir != XTS_SOCKOPT_SET && s->dir != XTS_SOCKOPT_GET)
		return -EBADMSG;
	if (!zero(s->reserved, sizeof(s->reserved)))
		return -EBADMSG;
	return 0;
}

/* Which version byte a frame of @op with @len payload bytes carries:
 * HELLO, and a HELLO_ACK in version 1's layout (a version refusal), keep
 * version 1 so that every version reads them. */
static __u8 frame_version(unsigned op, size_t len)
{
	if (op == XTS_OP_HELLO || (op == XTS_OP_HELLO_ACK && len == sizeof(struct xts_hello)))
		return XTS_HELLO_VERSION;
	return XTS_PROTO_VERSION;
}

/* The payload is inside the frame and min_len <= len <= max_len here, so
 * every fixed struct below may be read whole. */
static int check_payload(__u8 op, const void *pl, __u16 len)
{
	switch (op) {
	case XTS_OP_HELLO:
		return ((const struct xts_hello *)pl)->reserved ? -EBADMSG : 0;
	case XTS_OP_HELLO_ACK:
		/* version 1's layout: reserved (version 2's err) is 0 */
		if (len == sizeof(struct xts_hello))
			return ((const struct xts_hello *)pl)->reserved ? -EBADMSG : 0;
		return len == sizeof(struct xts_hello_ack) ? 0 : -EBADMSG;
	case XTS_OP_QRESET:
	case XTS_OP_CLOSED:
	case XTS_OP_RESET:
	case XTS_OP_NEW_CONN_ACK:
	case XTS_OP_DRAINING:
		return ((const struct xts_err *)pl)->reserved ? -EBADMSG : 0;
	case XTS_OP_CLOSE:
		return ((const struct xts_close *)pl)->reserved ? -EBADMSG : 0;
	case XTS_OP_CONNECT:
		return check_connect(pl, len);
	case XTS_OP_CONNECT_RES:
	case XTS_OP_LISTEN_RES:
	case XTS_OP_NEW_CONN:
		return check_conn_res(pl, len);
	case XTS_OP_LISTEN:
		return check_listen(pl, len);
	case XTS_OP_ULP_RES:
		return check_ulp_info(pl);
	case XTS_OP_SOCKOPT:
	case XTS_OP_SOCKOPT_RES:
		return check_sockopt(pl, len);
	default: /* no payload, stream bytes, or opaque (ULP_PUSH) */
		return 0;
	}
}

/* HELLO is version 1's in every version; a HELLO_ACK may be either (its
 * layout is checked against its version later); nothing else of another
 * version is read. */
static bool version_known(__u8 version, __u8 op)
{
	if (op == XTS_OP_HELLO)
		return version == XTS_HELLO_VERSION;
	if (op == XTS_OP_HELLO_ACK && version == XTS_HELLO_VERSION)
		return true;
	return version == XTS_PROTO_VERSION;
}

/* Header fields every message checks, first of a frame or not: op, len
 * within the op's bounds and the @avail bytes after the header, flags,
 * the payload's own layout.  @f + @off is the header. */
static int parse_msg(const __u8 *f, size_t off, size_t avail, struct xts_msg *m)
{
	const struct xts_hdr *h = (const struct xts_hdr *)(f + off);
	const struct op_desc *d;
	__u16 flags, len;
	int err;

	if (!version_known(h->version, h->op))
		return -EPROTO;
	d = op_desc(h->op);
	if (!d)
		return -EOPNOTSUPP;
	if (h->reserved)
		return -EBADMSG;
	len = le16toh(h->len);
	/* Bytes past len are Ethernet padding (a 60-byte minimum frame) and
	 * are ignored; a len past the end is a lie. */
	if (len > avail)
		return -EBADMSG;
	if (len < d->min_len || len > connect_max(h, d, f + off + sizeof(*h), len))
		return -EBADMSG;
	/* the layout must be the one its version byte names */
	if (h->version != frame_version(h->op, len))
		return -EBADMSG;
	flags = le16toh(h->flags);
	/* The window accounting of both sides keys on this bit: a sequenced
	 * op sent as NOSEQ (or the reverse) would desynchronise seq/ack. */
	if (!(flags & XTS_F_NOSEQ) != !d->noseq)
		return -EBADMSG;
	if (flags & ~XTS_F_KNOWN)
		return -EBADMSG;
	/* a bundle is sequenced as a whole: NOSEQ ops never join one */
	if ((flags & XTS_F_BUNDLE) && d->noseq)
		return -EBADMSG;
	err = check_payload(h->op, f + off + sizeof(*h), len);
	if (err)
		return err;

	/* Only a valid message touches *m: a caller never sees half a decode. */
	m->hdr = h;
	m->payload = f + off + sizeof(*h);
	m->op = h->op;
	m->flags = flags;
	m->dst_id = le32toh(h->dst_id);
	m->src_id = le32toh(h->src_id);
	m->credit = le32toh(h->credit);
	m->len = len;
	m->version = h->version;
	return 0;
}

int xts_proto_parse(const void *frame, size_t frame_len, struct xts_msg *m)
{
	const __u8 *f = frame;
	const struct xts_hdr *h;
	int err;

	if (frame_len < XTS_PAYLOAD_OFF)
		return -EBADMSG;
	h = (const struct xts_hdr *)(f + XTS_HDR_OFF);
	/* EtherType is the one field in network order. */
	if (((unsigned)f[12] << 8 | f[13]) != XTS_ETHERTYPE)
		return -EPROTO;
	err = parse_msg(f, XTS_HDR_OFF, frame_len - XTS_PAYLOAD_OFF, m);
	if (err)
		return err;
	m->src_mac = f + XTS_MAC_LEN;
	m->epoch = le32toh(h->epoch);
	m->seq = le32toh(h->seq);
	m->ack = le32toh(h->ack);
	return 0;
}

int xts_proto_parse_next(const void *frame, size_t frame_len, const struct xts_msg *prev,
			 struct xts_msg *m)
{
	const __u8 *f = frame;
	struct xts_msg n;
	struct xts_hdr h;
	size_t off;

	if (!(prev->flags & XTS_F_BUNDLE) || (const __u8 *)prev->payload < f ||
	    (size_t)((const __u8 *)prev->payload - f) > frame_len)
		return -EBADMSG;
	off = (size_t)((const __u8 *)prev->payload - f) + prev->len;
	if (off > frame_len || frame_len - off < sizeof(h))
		return -EBADMSG;
	memcpy(&h, f + off, sizeof(h));
	if (h.version != XTS_PROTO_VERSION || h.epoch || h.seq || h.ack)
		return -EBADMSG;
	if (parse_msg(f, off, frame_len - off - sizeof(h), &n) || (n.flags & XTS_F_NOSEQ))
		return -EBADMSG;
	n.src_mac = prev->src_mac;
	n.epoch = prev->epoch;
	n.seq = prev->seq;
	n.ack = prev->ack;
	*m = n;
	return 0;
}

/* ---- build ---- */

int xts_proto_hdr_put(void *frame, size_t cap, const __u8 dst_mac[XTS_MAC_LEN],
		      const __u8 src_mac[XTS_MAC_LEN], enum xts_op op, __u16 flags, __u32 dst_id,
		      __u32 src_id, __u32 credit, size_t payload_len)
{
	__u8 *f = frame;
	struct xts_hdr *h = (struct xts_hdr *)(f + XTS_HDR_OFF);

	if (payload_len > XTS_LEN_MAX || cap < XTS_PAYLOAD_OFF ||
	    payload_len > cap - XTS_PAYLOAD_OFF)
		return -EMSGSIZE;

	memcpy(f, dst_mac, XTS_MAC_LEN);
	memcpy(f + XTS_MAC_LEN, src_mac, XTS_MAC_LEN);
	f[12] = XTS_ETHERTYPE >> 8;
	f[13] = XTS_ETHERTYPE & 0xff;

	/* NOSEQ follows the op, not the caller: parse rejects a mismatch, so
	 * a caller's stray bit must not turn into a frame the peer drops. */
	flags &= ~XTS_F_NOSEQ;
	if (xts_proto_op_noseq(op))
		flags |= XTS_F_NOSEQ;

	/* epoch/seq/ack (left 0) belong to the link, which stamps them at
	 * submit. */
	memset(h, 0, sizeof(*h));
	h->version = frame_version(op, payload_len);
	h->op = (__u8)op;
	h->flags = htole16(flags);
	h->dst_id = htole32(dst_id);
	h->src_id = htole32(src_id);
	h->credit = htole32(credit);
	h->len = htole16((__u16)payload_len);
	return (int)(XTS_PAYLOAD_OFF + payload_len);
}

/* ---- addresses ---- */

int xts_addr_from_sockaddr(struct xts_addr *a, const struct sockaddr *sa, unsigned salen)
{
	struct xts_addr out = {0};
	sa_family_t family;

	if (!a || !sa || salen < sizeof(family))
		return -EINVAL;
	/* The caller's sockaddr may be any of the sockaddr_* types, so copy
	 * rather than cast (alignment, aliasing). */
	memcpy(&family, (const __u8 *)sa + offsetof(struct sockaddr, sa_family), sizeof(family));
	switch (family) {
	case AF_INET: {
		struct sockaddr_in sin;

		if (salen < sizeof(sin))
			return -EINVAL;
		memcpy(&sin, sa, sizeof(sin));
		out.family = htole16(AF_INET);
		out.port = htole16(ntohs(sin.sin_port));
		memcpy(out.addr, &sin.sin_addr, sizeof(sin.sin_addr));
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 sin6;

		if (salen < sizeof(sin6))
			return -EINVAL;
		memcpy(&sin6, sa, sizeof(sin6));
		out.family = htole16(AF_INET6);
		out.port = htole16(ntohs(sin6.sin6_port));
		/* Kept so that link-local peers (fe80::/10) still name an
		 * interface on the DPU; flowinfo does not travel. */
		out.scope_id = htole32(sin6.sin6_scope_id);
		memcpy(out.addr, &sin6.sin6_addr, sizeof(sin6.sin6_addr));
		break;
	}
	default:
		return -EAFNOSUPPORT;
	}
	*a = out;
	return 0;
}

int xts_addr_to_sockaddr(const struct xts_addr *a, struct sockaddr *sa, unsigned *salen)
{
	union {
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} u;
	unsigned size;

	if (!a || !salen || (*salen && !sa))
		return -EINVAL;
	memset(&u, 0, sizeof(u));
	switch (le16toh(a->family)) {
	case AF_INET:
		u.sin.sin_family = AF_INET;
		u.sin.sin_port = htons(le16toh(a->port));
		memcpy(&u.sin.sin_addr, a->addr, sizeof(u.sin.sin_addr));
		size = sizeof(u.sin);
		break;
	case AF_INET6:
		u.sin6.sin6_family = AF_INET6;
		u.sin6.sin6_port = htons(le16toh(a->port));
		u.sin6.sin6_scope_id = le32toh(a->scope_id);
		memcpy(&u.sin6.sin6_addr, a->addr, sizeof(u.sin6.sin6_addr));
		size = sizeof(u.sin6);
		break;
	case AF_UNSPEC: /* "no address" (failed CONNECT_RES): nothing to give */
		return -EINVAL;
	default:
		return -EAFNOSUPPORT;
	}
	/* As getpeername(2): a short buffer gets a truncated address and
	 * *salen says how much there was. */
	if (*salen)
		memcpy(sa, &u, *salen < size ? *salen : size);
	*salen = size;
	return 0;
}

const char *xts_addr_fmt(const struct xts_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	__u32 scope = le32toh(a->scope_id);

	if (!len)
		return buf;
	switch (le16toh(a->family)) {
	case AF_INET:
		inet_ntop(AF_INET, a->addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, le16toh(a->port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, a->addr, ip, sizeof(ip));
		if (scope)
			snprintf(buf, len, "[%s%%%u]:%u", ip, scope, le16toh(a->port));
		else
			snprintf(buf, len, "[%s]:%u", ip, le16toh(a->port));
		break;
	default:
		snprintf(buf, len, "-");
		break;
	}
	return buf;
}

size_t xts_alpn_wire(const char *list, __u8 *out, size_t cap)
{
	size_t n = 0;

	while (*list) {
		size_t k = strcspn(list, ",");

		if (!k || k > 255 || n + 1 + k > cap)
			return 0;
		out[n++] = (__u8)k;
		memcpy(out + n, list, k);
		n += k;
		list += k + (list[k] == ',');
	}
	return n;
}
