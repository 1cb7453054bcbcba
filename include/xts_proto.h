/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xts_proto.h - the XTS wire format, shared by libxport (host) and the
 * shards (DPU).  docs/protocol.md is the prose version of this file.
 *
 * A frame is an Ethernet header (EtherType XTS_ETHERTYPE), one fixed
 * struct xts_hdr, then hdr.len bytes of op-specific payload.  Every
 * multi-byte field is little-endian; every struct is packed and its size is
 * checked with _Static_assert so both sides agree by construction.
 *
 * Two levels of flow control (see docs/protocol.md):
 *  - queue credits: seq/ack in every header.  A sender keeps at most the
 *    negotiated window of sequenced frames unacknowledged; frames with
 *    XTS_F_NOSEQ (HELLO, HELLO_ACK, ACK, QRESET, PING, PONG) are outside the
 *    window and carry no sequence number.
 *  - socket credits: hdr.credit grants the receiver of the frame permission
 *    to send that many more DATA bytes on connection hdr.dst_id.
 */
#ifndef XTS_PROTO_H
#define XTS_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "xts_xdp.h" /* XTS_ETHERTYPE */

#define XTS_PROTO_VERSION 2
/* HELLO keeps version 1's header and layout in every version, and so does
 * a HELLO_ACK that refuses a version (32-byte payload): the one exchange
 * every version can read, so that a peer of another version is refused in
 * words it understands instead of timing out (docs/protocol.md). */
#define XTS_HELLO_VERSION 1
#define XTS_ETH_HLEN	  14
#define XTS_MAC_LEN	  6

/* Socket ids: slot in the low XTS_ID_SLOT_BITS, generation above it.
 * Generation 0 never names a live socket, so id 0 means "none".  The top
 * bit stays clear so an id fits a non-negative int (xport descriptors). */
#define XTS_ID_SLOT_BITS 20
#define XTS_ID_SLOT_MASK ((1u << XTS_ID_SLOT_BITS) - 1)
#define XTS_ID_GEN_MAX	 ((1u << (31 - XTS_ID_SLOT_BITS)) - 1)
#define XTS_ID_NONE	 0u

static inline uint32_t xts_id_make(uint32_t slot, uint32_t gen)
{
	return (gen << XTS_ID_SLOT_BITS) | (slot & XTS_ID_SLOT_MASK);
}
static inline uint32_t xts_id_slot(uint32_t id)
{
	return id & XTS_ID_SLOT_MASK;
}
static inline uint32_t xts_id_gen(uint32_t id)
{
	return id >> XTS_ID_SLOT_BITS;
}

enum xts_op {
	XTS_OP_INVALID = 0,
	/* queue session (all XTS_F_NOSEQ) */
	XTS_OP_HELLO = 1,     /* host -> dpu: struct xts_hello (version 1 frame) */
	XTS_OP_HELLO_ACK = 2, /* dpu -> host: struct xts_hello_ack (epoch set), or a
			       * version refusal: struct xts_hello, version 1 */
	XTS_OP_ACK = 3,	      /* either: pure queue ack, no payload */
	XTS_OP_QRESET = 4,    /* either: session broken, struct xts_err */
	XTS_OP_PING = 5,      /* either: struct xts_ping */
	XTS_OP_PONG = 6,      /* either: struct xts_ping echoed */
	/* connections (sequenced) */
	XTS_OP_CONNECT = 16,	 /* host -> dpu: struct xts_connect */
	XTS_OP_CONNECT_RES = 17, /* dpu -> host: struct xts_conn_res */
	XTS_OP_DATA = 18,	 /* either: payload = stream bytes */
	XTS_OP_CREDIT = 19,	 /* either: no payload, hdr.credit only */
	XTS_OP_SHUTDOWN = 20,	 /* host->dpu: SHUT_WR; dpu->host: peer EOF */
	XTS_OP_CLOSE = 21,	 /* host -> dpu: struct xts_close */
	XTS_OP_CLOSED = 22,	 /* dpu -> host: connection fully released */
	XTS_OP_RESET = 23,	 /* either: abort, struct xts_err */
	XTS_OP_SOCKOPT = 24,	 /* host -> dpu: struct xts_sockopt (get/set) */
	XTS_OP_SOCKOPT_RES = 25, /* dpu -> host: struct xts_sockopt */
	/* listening (issue: listeners) */
	XTS_OP_LISTEN = 32,	  /* host -> dpu: struct xts_listen */
	XTS_OP_LISTEN_RES = 33,	  /* dpu -> host: struct xts_conn_res */
	XTS_OP_NEW_CONN = 34,	  /* dpu -> host: struct xts_conn_res */
	XTS_OP_NEW_CONN_ACK = 35, /* host -> dpu: struct xts_err (0 = taken) */
	/* ULPs (TLS, framing): pushed with CONNECT/LISTEN (struct xts_ulp) */
	XTS_OP_ULP_PUSH = 48, /* reserved: a ULP pushed on an established connection */
	XTS_OP_ULP_RES = 49,  /* dpu -> host: struct xts_ulp_info, why a ULP failed,
			       * just before the RESET that fails the connection */
	XTS_OP_DRAINING = 50, /* dpu -> host: shard drains, struct xts_err */
	XTS_OP_MAX
};

/* hdr.flags */
#define XTS_F_NOSEQ 0x0001 /* not counted in the queue window; seq ignored */
#define XTS_F_ABORT 0x0002 /* CLOSE: abortive (RST), as SO_LINGER {1,0} */
#define XTS_F_MORE  0x0004 /* DATA: more data follows (MSG_MORE) */
#define XTS_F_EOR                                                                                  \
	0x0008 /* DATA to the host: this frame ends a message (framing                             \
		* ULP); only on connections the host pushed "strp" on */
/* CLOSE of a listener: the socket stays open in another process of the
 * host (fork): keep the DPU listener until a sibling listens (the shard
 * announces XTS_CAP_LSN_HANDOFF) */
#define XTS_F_SHARED 0x0010
/* Another message follows this one's payload in the same frame (a bundle,
 * XTS_CAP_BUNDLE): its own struct xts_hdr with epoch, seq and ack 0, then
 * its payload.  Sequenced ops only; the frame counts once in the window. */
#define XTS_F_BUNDLE 0x0020
/* Messages in one frame, at most (a receiver refuses more as malformed). */
#define XTS_BUNDLE_MAX 64

struct xts_hdr {
	__u8 version;	/* XTS_PROTO_VERSION */
	__u8 op;	/* enum xts_op */
	__u16 flags;	/* XTS_F_* */
	__u32 epoch;	/* queue session epoch; 0 only in HELLO */
	__u32 seq;	/* sender's queue sequence number (sequenced frames) */
	__u32 ack;	/* count of the peer's sequenced frames consumed */
	__u32 dst_id;	/* receiver's socket id, or XTS_ID_NONE */
	__u32 src_id;	/* sender's socket id, or XTS_ID_NONE */
	__u32 credit;	/* socket byte credit granted for dst_id's connection */
	__u16 len;	/* payload bytes after this header */
	__u16 reserved; /* 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct xts_hdr) == 32, "xts_hdr is 32 bytes");

#define XTS_HDR_OFF	XTS_ETH_HLEN
#define XTS_PAYLOAD_OFF (XTS_ETH_HLEN + sizeof(struct xts_hdr))

/* capabilities in HELLO (bit set = supported) */
#define XTS_CAP_IPV6	 (1ull << 0)
#define XTS_CAP_LISTEN	 (1ull << 1)
#define XTS_CAP_ULP_TLS	 (1ull << 2)
#define XTS_CAP_ULP_STRP (1ull << 3)
#define XTS_CAP_RESUME	 (1ull << 4) /* reserved: session resume after restart */
/* reserved (docs/protocol.md, "Multi-buffer frames", not built yet): the
 * sender takes frames larger than one UMEM chunk, up to its max_frame */
#define XTS_CAP_MBUF (1ull << 5)
/* HELLO_ACK: the shard takes a CONNECT that carries the connection's
 * first bytes (XTS_CONNECT_F_DATA); a host uses it only with a shard that
 * says so (an older one refuses the flag as malformed) */
#define XTS_CAP_CONNECT_DATA (1ull << 6)
/* the shard hands a closing listener's connections to a sibling listener
 * and honours XTS_F_SHARED on a listener's CLOSE (docs/protocol.md) */
#define XTS_CAP_LSN_HANDOFF (1ull << 7)
/* the sender takes bundles: several sequenced messages in one frame
 * (XTS_F_BUNDLE, docs/protocol.md "Bundles"); a peer sends them only to
 * one that announced it */
#define XTS_CAP_BUNDLE (1ull << 8)

/* HELLO (always this layout, header version 1), and a HELLO_ACK that
 * refuses a version (header version 1, epoch 0): every version reads it. */
struct xts_hello {
	__u16 min_version; /* protocol versions the sender speaks */
	__u16 max_version;
	__u32 window;	 /* frames the sender of HELLO can take unacknowledged */
	__u32 max_frame; /* largest frame (Ethernet header included) accepted */
	__u32 nonce;	 /* host: session nonce echoed in HELLO_ACK */
	__u64 caps;	 /* XTS_CAP_* */
	__u32 max_conns; /* HELLO_ACK: connection limit of this queue */
	__u32 reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct xts_hello) == 32, "xts_hello is 32 bytes");

/*
 * HELLO_ACK, version 2: version 1's fields, then why there is no session
 * (err) or, when there is one, its random initial sequence numbers: the
 * host's first sequenced frame carries seq host_isn, the shard's dpu_isn.
 * With the random epoch they make a session's frames unguessable to a
 * sender that cannot read them (docs/protocol.md, "Forged frames").
 */
struct xts_hello_ack {
	__u16 min_version;
	__u16 max_version;
	__u32 window;
	__u32 max_frame;
	__u32 nonce; /* the HELLO's, echoed */
	__u64 caps;
	__u32 max_conns;
	__s32 err;	/* 0: session started (hdr.epoch); else positive errno, epoch 0:
			 * EBUSY (the queue's session is live), EPROTONOSUPPORT */
	__u32 host_isn; /* seq of the host's first sequenced frame */
	__u32 dpu_isn;	/* seq of the shard's first sequenced frame */
} __attribute__((packed));
_Static_assert(sizeof(struct xts_hello_ack) == 40, "xts_hello_ack is 40 bytes");
_Static_assert(offsetof(struct xts_hello_ack, err) == offsetof(struct xts_hello, reserved),
	       "version 1's HELLO_ACK is the first 32 bytes of version 2's, err 0");

/* Addresses travel in one fixed form: family (AF_INET/AF_INET6 values of
 * Linux), port (host order, little-endian on the wire), 16 address bytes in
 * network order (IPv4 in the first 4). */
struct xts_addr {
	__u16 family;
	__u16 port;
	__u32 scope_id;
	__u8 addr[16];
} __attribute__((packed));
_Static_assert(sizeof(struct xts_addr) == 24, "xts_addr is 24 bytes");

/* Socket options that travel.  Values are ints except TCP_INFO (get only,
 * returned as struct tcp_info bytes). */
struct xts_opt {
	__s32 level;
	__s32 name;
	__s32 value;
} __attribute__((packed));
_Static_assert(sizeof(struct xts_opt) == 12, "xts_opt is 12 bytes");

#define XTS_CONNECT_MAX_OPTS 8

/* CONNECT: hdr.src_id = host socket id; hdr.credit = initial receive
 * window the host grants (bytes the DPU may send before more credit).
 * The payload is the first nopts options; with XTS_CONNECT_F_SRC a struct
 * xts_addr follows them: the host bound the socket, so the DPU binds its
 * socket there before connecting (bind-before-connect). */
#define XTS_CONNECT_F_SRC	0x1 /* a source address follows the options */
#define XTS_CONNECT_F_REUSEADDR 0x2 /* SO_REUSEADDR before that bind */
#define XTS_CONNECT_F_REUSEPORT 0x4 /* SO_REUSEPORT before that bind */
#define XTS_CONNECT_F_ULP	0x8 /* a struct xts_ulp follows (after the source) */
/* The connection's first stream bytes follow (after the source; never
 * with a ULP), at least one: sent once connected, before any DATA, and
 * counted against the CONNECT_RES's credit (XTS_CAP_CONNECT_DATA). */
#define XTS_CONNECT_F_DATA 0x10
#define XTS_CONNECT_F_ALL  0x1f
struct xts_connect {
	struct xts_addr dst;
	__u32 timeout_ms; /* 0: the kernel's own connect timeout */
	__u16 nopts;	  /* options applied before connect(2) */
	__u16 flags;	  /* XTS_CONNECT_F_* */
	struct xts_opt opts[XTS_CONNECT_MAX_OPTS];
} __attribute__((packed));
_Static_assert(sizeof(struct xts_connect) == 32 + 12 * XTS_CONNECT_MAX_OPTS, "xts_connect size");

/* CONNECT's payload ends after its nopts options; a source address
 * (XTS_CONNECT_F_SRC) starts there. */
static inline size_t xts_connect_opts_end(unsigned nopts)
{
	return offsetof(struct xts_connect, opts) + nopts * sizeof(struct xts_opt);
}

/* CONNECT_RES / NEW_CONN / LISTEN_RES: hdr.dst_id = host socket id (NONE in
 * NEW_CONN), hdr.src_id = DPU socket id, hdr.credit = bytes the host may
 * send.  err is 0 or a positive Linux errno. */
struct xts_conn_res {
	__s32 err;
	__u32 reserved;
	struct xts_addr local;
	struct xts_addr peer;
} __attribute__((packed));
_Static_assert(sizeof(struct xts_conn_res) == 56, "xts_conn_res size");

struct xts_listen {
	struct xts_addr local;
	__u32 backlog;
	__u32 flags; /* XTS_LISTEN_* */
} __attribute__((packed));
#define XTS_LISTEN_REUSEADDR 0x1
#define XTS_LISTEN_REUSEPORT 0x2
#define XTS_LISTEN_V6ONLY    0x4 /* IPV6_V6ONLY on an AF_INET6 listener */
#define XTS_LISTEN_ULP                                                                             \
	0x8 /* a struct xts_ulp follows: pushed on every                                           \
	     * connection the listener accepts */
_Static_assert(sizeof(struct xts_listen) == 32, "xts_listen size");

/*
 * ULPs (docs/protocol.md, "ULPs").  Only with a shard that announced
 * XTS_CAP_ULP_TLS / XTS_CAP_ULP_STRP in HELLO_ACK: a peer of version 2
 * without them refuses every byte of this as malformed.  What the host
 * pushes names a TLS profile of the DPU's configuration; certificates,
 * keys and ticket keys never cross the queue.
 */
#define XTS_ULP_TLS	 0x1 /* TLS, terminated or originated on the DPU */
#define XTS_ULP_STRP	 0x2 /* framing: whole messages, above TLS when both */
#define XTS_ULP_ALL	 0x3
#define XTS_ULP_NAME_LEN 16  /* profile names, NUL included */
#define XTS_ULP_SNI_LEN	 256 /* server names, NUL included */
#define XTS_ULP_ALPN_LEN 64  /* ALPN list in wire form (length-prefixed names) */

enum xts_strp_kind {
	XTS_STRP_LEN = 1,	/* a length field: offset, width, endianness, adjust */
	XTS_STRP_LINE = 2,	/* a line, ended by \n (or \r\n with XTS_STRP_F_CRLF) */
	XTS_STRP_HTTP_REQ = 3,	/* an HTTP/1 request, head and body */
	XTS_STRP_HTTP_RESP = 4, /* an HTTP/1 response, head and body */
	XTS_STRP_RESP = 5,	/* a RESP (redis) value */
	XTS_STRP_KIND_MAX
};
#define XTS_STRP_F_BE	0x1 /* XTS_STRP_LEN: the field is big-endian */
#define XTS_STRP_F_CRLF 0x2 /* XTS_STRP_LINE: lines end with \r\n */
#define XTS_STRP_F_ALL	0x3

struct xts_strp {
	__u8 kind;  /* enum xts_strp_kind */
	__u8 width; /* XTS_STRP_LEN: 1, 2, 4 or 8 bytes */
	__u8 flags; /* XTS_STRP_F_* */
	__u8 reserved;
	__u32 offset; /* XTS_STRP_LEN: where the field starts in the message */
	__s32 adjust; /* XTS_STRP_LEN: message bytes = field + adjust */
	__u32 max;    /* largest message; 0: the host's receive buffer */
} __attribute__((packed));
_Static_assert(sizeof(struct xts_strp) == 16, "xts_strp size");

struct xts_ulp {
	__u8 ulps; /* XTS_ULP_*, at least one */
	__u8 reserved[3];
	char profile[XTS_ULP_NAME_LEN]; /* XTS_ULP_TLS: the profile, NUL-ended */
	__u8 alpn[XTS_ULP_ALPN_LEN];	/* offered (originate) or accepted (terminate)
					 * protocols; empty: the profile's */
	struct xts_strp strp;		/* XTS_ULP_STRP; zero otherwise */
	char sni[XTS_ULP_SNI_LEN];	/* originate: the server's name (SNI and the
					 * name verified), NUL-ended; "" none */
} __attribute__((packed));
_Static_assert(sizeof(struct xts_ulp) == 356, "xts_ulp size");

/* What a connection's ULPs became: after xts_conn_res in CONNECT_RES and
 * NEW_CONN of a connection with ULPs, and in ULP_RES. */
#define XTS_ULPI_RESUMED  0x1 /* the TLS session was resumed */
#define XTS_ULPI_VERIFIED 0x2 /* the peer's certificate was verified */
#define XTS_ULPI_ALL	  0x3
struct xts_ulp_info {
	__u16 version; /* TLS version on the wire (0x0303: 1.2, 0x0304: 1.3), 0: none */
	__u16 flags;   /* XTS_ULPI_* */
	__s32 verify;  /* X.509 verification result (0: ok) */
	__s32 err;     /* 0, or the positive errno the ULP failed with */
	__u32 reserved;
	char cipher[48];  /* NUL-ended, "" none */
	char alpn[32];	  /* protocol agreed, NUL-ended */
	char sni[128];	  /* the server name asked for (terminate) or sent */
	char reason[128]; /* why the ULP failed, "" none */
} __attribute__((packed));
_Static_assert(sizeof(struct xts_ulp_info) == 352, "xts_ulp_info size");

/* Where CONNECT's struct xts_ulp starts (XTS_CONNECT_F_ULP): after the
 * options and the source address. */
static inline size_t xts_connect_ulp_off(unsigned nopts, unsigned flags)
{
	return xts_connect_opts_end(nopts) +
	       ((flags & XTS_CONNECT_F_SRC) ? sizeof(struct xts_addr) : 0);
}

/* Where CONNECT's first bytes start (XTS_CONNECT_F_DATA): after the
 * options, the source address and the ULP. */
static inline size_t xts_connect_data_off(unsigned nopts, unsigned flags)
{
	return xts_connect_ulp_off(nopts, flags) +
	       ((flags & XTS_CONNECT_F_ULP) ? sizeof(struct xts_ulp) : 0);
}

/* RESET, QRESET, NEW_CONN_ACK, DRAINING, CLOSED */
struct xts_err {
	__s32 err; /* positive Linux errno, 0 for none */
	__u32 reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct xts_err) == 8, "xts_err size");

struct xts_close {
	__u32 reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct xts_close) == 4, "xts_close size");

struct xts_ping {
	__u64 cookie;
} __attribute__((packed));
_Static_assert(sizeof(struct xts_ping) == 8, "xts_ping size");

#define XTS_SOCKOPT_SET	   0
#define XTS_SOCKOPT_GET	   1
#define XTS_SOCKOPT_VALMAX 256 /* >= sizeof(struct tcp_info) */

/* SOCKOPT (request) and SOCKOPT_RES (answer): req matches them up. */
struct xts_sockopt {
	__u32 req;
	__u8 dir; /* XTS_SOCKOPT_SET or _GET */
	__u8 reserved[3];
	__s32 level;
	__s32 name;
	__s32 err;  /* answer: 0 or positive errno */
	__u32 vlen; /* bytes of val that follow */
	__u8 val[]; /* vlen <= XTS_SOCKOPT_VALMAX */
} __attribute__((packed));
_Static_assert(sizeof(struct xts_sockopt) == 24, "xts_sockopt size");

/* ---- codec (xport/core/proto.c, shared by both sides) ---- */

/* A parsed frame: pointers into the caller's buffer, never copies. */
struct xts_msg {
	const struct xts_hdr *hdr;
	const void *payload; /* hdr->len bytes */
	const __u8 *src_mac;
	__u16 op;
	__u16 flags;
	__u32 epoch, seq, ack, dst_id, src_id, credit;
	__u16 len;
	__u8 version; /* XTS_PROTO_VERSION; HELLO and a version refusal: 1 */
};

/*
 * xts_proto_parse - validate a received frame and decode its header.
 * Checks: frame holds Ethernet + xts_hdr; EtherType; version
 * (XTS_PROTO_VERSION; HELLO: XTS_HELLO_VERSION; HELLO_ACK: either, with
 * that version's layout); op known;
 * hdr.len fits the frame (trailing bytes, e.g. padding, are allowed); the
 * payload size fits what the op requires; reserved fields zero.
 * Returns 0, or -EPROTO (not an XTS frame/version), -EBADMSG (malformed),
 * -EOPNOTSUPP (unknown op).
 */
int xts_proto_parse(const void *frame, size_t frame_len, struct xts_msg *m);

/*
 * xts_proto_parse_next - the message after @prev in a bundle (@prev parsed
 * from the same @frame, with XTS_F_BUNDLE set): its header starts right
 * after @prev's payload.  The same checks as xts_proto_parse, and: a
 * sequenced op, version XTS_PROTO_VERSION, epoch, seq and ack 0 in its
 * header.  @m gets the frame's epoch, seq, ack and source MAC (@prev's).
 * Returns 0 or -EBADMSG; *m is untouched on failure.
 */
int xts_proto_parse_next(const void *frame, size_t frame_len, const struct xts_msg *prev,
			 struct xts_msg *m);

/*
 * xts_proto_hdr_put - write the Ethernet header and an xts_hdr at the start
 * of @frame (capacity @cap) for op with @payload_len payload bytes.  seq/ack/
 * epoch are left 0 for the link to stamp.  The version byte follows the op
 * and layout: XTS_HELLO_VERSION for HELLO and for a HELLO_ACK of
 * sizeof(struct xts_hello) bytes, XTS_PROTO_VERSION for everything else.  Returns the total frame
 * length (Ethernet + header + payload) or -EMSGSIZE.
 */
int xts_proto_hdr_put(void *frame, size_t cap, const __u8 dst_mac[XTS_MAC_LEN],
		      const __u8 src_mac[XTS_MAC_LEN], enum xts_op op, __u16 flags, __u32 dst_id,
		      __u32 src_id, __u32 credit, size_t payload_len);

/* Minimum and maximum payload length of an op (for parse and for fuzzers). */
size_t xts_proto_min_len(enum xts_op op);
size_t xts_proto_max_len(enum xts_op op);
/* Is this op outside the queue window (XTS_F_NOSEQ)? */
int xts_proto_op_noseq(enum xts_op op);
const char *xts_proto_op_name(unsigned op);

/* sockaddr <-> xts_addr; return 0 or -EAFNOSUPPORT / -EINVAL.  The
 * xts_addr side is always in wire form (little-endian fields): callers
 * convert nothing.  _to_sockaddr fills at most *salen bytes and sets *salen
 * to the full size, as getpeername(2) does. */
struct sockaddr;
int xts_addr_from_sockaddr(struct xts_addr *a, const struct sockaddr *sa, unsigned salen);
int xts_addr_to_sockaddr(const struct xts_addr *a, struct sockaddr *sa, unsigned *salen);

/* An xts_addr (wire form) as text for logs, ctl output and tools:
 * "198.18.0.2:80", "[fd00::2]:80", "[fe80::1%3]:80" (scope id), "-" for
 * anything else (AF_UNSPEC).  Always NUL-terminated within @len (cut short
 * when @len < XTS_ADDR_STRLEN).  Returns @buf, for use in printf args. */
#define XTS_ADDR_STRLEN 64
const char *xts_addr_fmt(const struct xts_addr *a, char *buf, size_t len);

/* "h2,http/1.1" (names of 1..255 bytes, comma separated) in ALPN wire
 * form (length-prefixed names) into @out: its length, or 0 if a name is
 * empty or too long or the whole does not fit @cap. */
size_t xts_alpn_wire(const char *list, __u8 *out, size_t cap);

#endif /* XTS_PROTO_H */
