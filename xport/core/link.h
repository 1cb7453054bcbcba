/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * link.h - one XTS queue session over a frame transport: UMEM, queue
 * sequence numbers, cumulative acks and the queue window.  Shared by
 * libxport (host) and the shard (DPU): the same code runs both ends of a
 * queue.  Two transports, one session logic (docs/design.md): AF_XDP
 * (xts_link__create, libxdp rings) and an in-memory pair for tests
 * (xts_link__create_pair); every call below works the same on both.  Not
 * thread-safe: one owner thread per link (the two links of a pair may have
 * two).
 *
 * Frame ownership: an rx frame belongs to the caller between
 * xts_link__rx() and xts_link__rx_done(); a tx frame between
 * xts_link__tx_reserve() and xts_link__tx_submit()/tx_cancel(); after
 * submit it belongs to the kernel until it shows up on the completion ring.
 */
#ifndef XTS_LINK_H
#define XTS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xts_proto.h"

struct xts_link;

/* The queue defaults, for every layer that states one (libxport, the
 * shard, xts.conf's defaults): a 0 in struct xts_link_opts means these. */
#define XTS_LINK_DEF_FRAMES	4096 /* UMEM frames: half rx, half tx */
#define XTS_LINK_DEF_FRAME_SIZE 4096 /* bytes per UMEM frame */
#define XTS_LINK_DEF_RING	2048 /* entries per ring */
#define XTS_LINK_DEF_WINDOW	128  /* frames the peer may send us unacked */

struct xts_link_opts {
	size_t sz;	  /* sizeof(struct xts_link_opts) */
	__u32 frames;	  /* UMEM frames; 0: XTS_LINK_DEF_FRAMES */
	__u32 frame_size; /* 0: XTS_LINK_DEF_FRAME_SIZE */
	__u32 ring_size;  /* rx/tx/fill/comp ring entries; 0: XTS_LINK_DEF_RING */
	__u32 window;	  /* 0: XTS_LINK_DEF_WINDOW */
	int xsks_map_fd;  /* XSKMAP to register in; < 0: find/attach on ifname */
	bool attach;	  /* with xsks_map_fd < 0: attach xts_xdp if absent */
	__u32 mtu;	  /* in-memory pair only: its wire's MTU (0: frames of one chunk);
			   * past one chunk, multi-buffer frames as over AF_XDP */
};

struct xts_link_stats {
	__u64 tx_frames, tx_bytes; /* sent, sequenced and not */
	__u64 rx_frames, rx_bytes; /* accepted */
	__u64 rx_malformed;	   /* failed xts_proto_parse */
	__u64 rx_stale;		   /* wrong epoch, dropped */
	__u64 rx_foreign;	   /* in session, not from the peer's MAC: dropped */
	__u64 rx_forged;	   /* seq outside the receive window: dropped */
	__u64 seq_gaps;		   /* sequence gaps (session broken) */
	__u64 window_stalls;	   /* tx_reserve refused: window full */
	__u64 frame_stalls;	   /* tx_reserve refused: no free frame */
	__u64 acks_sent;	   /* pure ACK frames */
	__u64 kicks, kick_errs;	   /* sendto() wakeups of the tx path */
	__u64 fill_deferred;	   /* times rx frames waited for room on the fill ring */
	__u64 tx_oversize;	   /* submitted past cap: refused, -EMSGSIZE */
	__u64 tx_dropped;	   /* in-memory pair: sent to no peer (AF_XDP: 0) */
	__u64 tx_mbuf, rx_mbuf;	   /* frames that spanned more than one chunk */
	__u64 tx_bundled;	   /* messages sent in another's frame (bundles) */
	__u64 rx_bundled;	   /* messages received in another's frame */
	/* from getsockopt(XDP_STATISTICS) */
	__u64 xsk_rx_dropped, xsk_rx_invalid, xsk_tx_invalid;
	__u64 xsk_rx_ring_full, xsk_fill_empty, xsk_tx_ring_empty;
};

/*
 * Header/data split: every frame sits in its UMEM chunk XTS_LINK_PAD bytes
 * further in than it would, so that its payload (after the 14-byte
 * Ethernet and 32-byte XTS headers) starts on a 64-byte boundary, in tx
 * frames (chunk + 64) and rx frames alike (chunk + 256 of kernel headroom
 * + the UMEM's frame_headroom of XTS_LINK_PAD + 46 = chunk + 320).  What
 * the zero-copy API lends (include/xport.h) is aligned for the caller's
 * vector loads and DMA, and a payload never straddles a cache line more
 * than it must.
 */
#define XTS_LINK_PAD (64 - XTS_PAYLOAD_OFF % 64)

/* A reserved tx frame: write up to cap bytes at payload. */
struct xts_txf {
	__u64 addr;    /* UMEM address (opaque) */
	void *payload; /* where the payload goes */
	size_t cap;    /* payload capacity of this frame */
	bool seq;      /* counts against the window */
};

/* Create the UMEM and AF_XDP socket on (ifname, queue) in copy mode and
 * register it in the XSKMAP. */
int xts_link__create(struct xts_link **out, const char *ifname, __u32 queue,
		     const struct xts_link_opts *opts);
/* An AF_XDP socket someone else created, registered (UMEM) and bound in
 * copy mode, and the UMEM as a mappable fd: what xportd leases to a
 * process (link_adopt.c). */
struct xts_link_adopt {
	size_t sz;	 /* sizeof(struct xts_link_adopt) */
	int xsk_fd;	 /* the socket: the link's on success (closed at destroy) */
	int umem_fd;	 /* the UMEM (a memfd): mapped, neither kept nor closed */
	__u64 umem_size; /* bytes registered, at least frames * frame_size */
	__u32 frames, frame_size, ring_size; /* as registered; the link uses
					      * frames [0, frames) */
	__u32 window;			     /* 0: XTS_LINK_DEF_WINDOW */
	__u32 queue;
	__u32 mtu;	       /* of the interface (0: no limit) */
	__u8 mac[XTS_MAC_LEN]; /* the interface's: our frames' source */
	bool sg;	       /* bound with XDP_USE_SG: multi-buffer frames */
};
/* A link over that socket: maps its four rings as libxdp would and posts
 * the rx half of UMEM; the XSKMAP entry is the creator's business. */
int xts_link__adopt(struct xts_link **out, const struct xts_link_adopt *a);
/* One frame on a bound AF_XDP socket whose owner is gone (a lessee that
 * died; xportd kept a copy of its socket): @frame is copied to UMEM
 * address @addr (a frame the owner never used), queued on the tx ring
 * after whatever the owner had submitted, and kicked until the kernel took
 * it.  For xportd's QRESET on a dead lessee's behalf.  0 or -errno. */
int xts_link__send_orphan(int xsk_fd, void *umem, __u64 umem_size, __u32 ring_size, __u64 addr,
			  const void *frame, __u32 len);
/* Two links joined by two bounded in-memory rings (link_mem.c): frames are
 * copied at the doorbell as in copy-mode AF_XDP; each fd is an eventfd,
 * readable while frames wait on its rx side; distinct fake MACs; queue 0.
 * opts as xts_link__create (xsks_map_fd and attach unused). */
int xts_link__create_pair(struct xts_link **a, struct xts_link **b,
			  const struct xts_link_opts *opts);
/* Either link of a pair may go first: the survivor's frames then go
 * nowhere (counted in tx_dropped). */
void xts_link__destroy(struct xts_link *l);

/* An interface's MAC and MTU (what a link's frames carry and fit): 0 or
 * -errno. */
int xts_link__if_info(const char *ifname, __u8 mac[XTS_MAC_LEN], __u32 *mtu);

int xts_link__fd(const struct xts_link *l); /* pollable (POLLIN) */
__u32 xts_link__queue(const struct xts_link *l);
const __u8 *xts_link__mac(const struct xts_link *l);   /* our MAC */
__u32 xts_link__max_frame(const struct xts_link *l);   /* min(ours, peer's) */
__u32 xts_link__window(const struct xts_link *l);      /* ours (rx side) */
__u32 xts_link__peer_window(const struct xts_link *l); /* the peer's (tx side) */

/*
 * Multi-buffer frames (docs/protocol.md, "Multi-buffer frames"): an AF_XDP
 * link bound with XDP_USE_SG on an interface whose MTU is larger than one
 * UMEM chunk sends and receives frames of up to XTS_LINK_MBUF_CHUNKS tx
 * chunks (65,518 bytes with 4 KiB chunks and MTU 65,535).  XTS_MBUF=0 in
 * the environment turns it off; so does a kernel that refuses the bind
 * flag (xts_link__mbuf_note says why, once, for the caller to log).  The
 * in-memory pair does the same when its opts name an MTU past one chunk
 * (frames cut across the receiver's fill frames as the kernel does).
 */
#define XTS_LINK_MBUF_CHUNKS 16
#define XTS_LINK_MBUF_ENV    "XTS_MBUF"
/* XTS_BUNDLE=0 in the environment: this link neither sends bundles nor
 * announces XTS_CAP_BUNDLE (docs/protocol.md, "Bundles"). */
#define XTS_LINK_BUNDLE_ENV "XTS_BUNDLE"
/* Is the environment variable @var set to "0" (a feature turned off)? */
bool xts_link__env_off(const char *var);
/* Our caps for HELLO/HELLO_ACK: XTS_CAP_MBUF when this link takes frames
 * larger than one chunk (then xts_link__max_frame, outside a session,
 * says how large). */
__u64 xts_link__caps(const struct xts_link *l);
/* Why multi-buffer frames are off on this link although the interface's
 * MTU would carry them (a refused bind flag, XTS_MBUF=0), or NULL: for
 * one log line. */
const char *xts_link__mbuf_note(const struct xts_link *l);
/* The peer's caps from its HELLO/HELLO_ACK, right after
 * xts_link__session(): frames larger than one chunk go out only if both
 * sides have XTS_CAP_MBUF (a peer without it gets frames of one chunk
 * whatever max_frame it announced).  @answer: we announce our window after
 * this (the shard's HELLO_ACK), so a peer that sends one-chunk frames gets
 * the window of one-chunk frames; the host announced its window first and
 * keeps it. */
void xts_link__peer_caps(struct xts_link *l, __u64 caps, bool answer);

/* Start a new session: counters to zero, epoch and the peer's window,
 * max frame and MAC as negotiated by HELLO/HELLO_ACK.  Frames of other
 * epochs are dropped from now on (except session ops).  The session
 * ops (HELLO, HELLO_ACK, QRESET) are sent with epoch 0 rules: see
 * xts_link__tx_submit. */
void xts_link__session(struct xts_link *l, __u32 epoch, __u32 peer_window, __u32 peer_max_frame,
		       const __u8 peer_mac[XTS_MAC_LEN]);
/* The session's initial sequence numbers (protocol 2: random, from
 * HELLO_ACK): our first sequenced frame carries @tx_isn, the peer's first
 * one @rx_isn.  Right after xts_link__session(), before any frame of the
 * session; without it both are 0. */
void xts_link__isn(struct xts_link *l, __u32 tx_isn, __u32 rx_isn);
__u32 xts_link__epoch(const struct xts_link *l);
/* 32 random bits for a session's identity (epoch, ISNs, nonce):
 * getrandom(2), never blocking (a clock-based fallback early in boot). */
__u32 xts_link__random32(void);
/* Session broken by a sequence gap since the last xts_link__session(). */
bool xts_link__broken(const struct xts_link *l);

/*
 * Receive up to @max frames.  Malformed and stale frames are dropped and
 * counted; pure ACKs are absorbed.  In a session, frames whose source MAC
 * is not the peer's (rx_foreign) and sequenced frames whose seq is outside
 * the receive window (rx_forged) cannot be the peer's: dropped and counted,
 * never acted on; HELLO and HELLO_ACK come through from any MAC (the
 * caller decides on them, by m->src_mac).  The returned messages point into UMEM and
 * stay valid until xts_link__rx_done(), which must be called before the next
 * xts_link__rx().  Returns the number of messages (>= 0).
 */
int xts_link__rx(struct xts_link *l, struct xts_msg *msgs, unsigned max);
void xts_link__rx_done(struct xts_link *l);

/*
 * Lending rx frames (zero-copy receive, docs/design.md "Zero copy").
 * Between xts_link__rx() and xts_link__rx_done(), the caller may keep the
 * frame that holds @p (a payload pointer rx returned): rx_done then does
 * not give it back to the transport, and the fill side runs with one
 * frame fewer until xts_link__rx_return(@token).  At most
 * xts_link__rx_lend_max() frames are kept at once: the fill side always
 * keeps two windows of frames, one for the peer's sequenced frames in
 * flight and one for its NOSEQ frames (acks, pings), so lending never
 * makes the kernel drop a frame.  0, -ENOBUFS (that many are lent) or
 * -EINVAL (@p is no frame of this batch).
 */
int xts_link__rx_keep(struct xts_link *l, const void *p, __u64 *token);
void xts_link__rx_return(struct xts_link *l, __u64 token);
__u32 xts_link__rx_lent(const struct xts_link *l);
__u32 xts_link__rx_lend_max(const struct xts_link *l);

/* Sequenced frames we may still send now (window and free frames). */
__u32 xts_link__tx_room(const struct xts_link *l);

/* Reserve a frame: -EAGAIN if the window is full (seq only), -ENOBUFS if
 * no UMEM frame or tx ring slot is free. */
int xts_link__tx_reserve(struct xts_link *l, bool seq, struct xts_txf *f);
/* Finish and queue a reserved frame: headers, epoch, seq, ack.
 * Session ops may be sent before xts_link__session(): the peer MAC is then
 * broadcast.  0, or -EMSGSIZE when len > f->cap: nothing is sent, the
 * frame goes back to the pool (it is no longer the caller's) and
 * tx_oversize counts it; the caller must not count those bytes as sent. */
int xts_link__tx_submit(struct xts_link *l, struct xts_txf *f, enum xts_op op, __u16 flags,
			__u32 dst_id, __u32 src_id, __u32 credit, size_t len);
void xts_link__tx_cancel(struct xts_link *l, struct xts_txf *f);
/* Convenience: reserve + copy + submit.  Returns 0, -EAGAIN, -ENOBUFS or
 * -EMSGSIZE. */
int xts_link__send(struct xts_link *l, enum xts_op op, __u16 flags, __u32 dst_id, __u32 src_id,
		   __u32 credit, const void *payload, size_t len);

/* A NOSEQ frame outside the session: to @dst_mac, with @epoch, ack 0, our
 * session's sequence state untouched and not revealed.  For answers to a
 * HELLO's sender that is not (or not yet) the peer: a HELLO_ACK refusal
 * (epoch 0) while the live session goes on.  0, -ENOBUFS, -EMSGSIZE, or
 * -EINVAL for a sequenced op. */
int xts_link__send_to(struct xts_link *l, const __u8 dst_mac[XTS_MAC_LEN], __u32 epoch,
		      enum xts_op op, const void *payload, size_t len);

/* Queue a frame exactly as given (no header stamping): for fuzzers and
 * tests that must send what a correct sender never would. */
int xts_link__tx_raw(struct xts_link *l, const void *frame, size_t len);

/* Push queued frames to the kernel, reap completions, send a pure ACK when
 * half the window is consumed and unacknowledged (or @force_ack and
 * anything is).  Returns frames pushed, or -errno. */
int xts_link__flush(struct xts_link *l, bool force_ack);
/* Frames on the tx ring the kernel has not taken yet: after a flush,
 * non-zero when the device was busy (copy mode says EAGAIN) and nothing
 * will say when it is not. */
__u32 xts_link__unkicked(const struct xts_link *l);
/* Frames wait on the rx ring, judged or not (no syscall).  xts_link__rx
 * can return 0 while they do: a batch of stale frames delivers none. */
bool xts_link__rx_ready(struct xts_link *l);
/* The same, but the doorbell (sendto) rings only once @min_frames wait
 * on the tx ring: fewer frames stay there for a later flush. */
int xts_link__flush_batch(struct xts_link *l, bool force_ack, __u32 min_frames);

/* Our counters plus the kernel's XDP_STATISTICS. */
void xts_link__stats(struct xts_link *l, struct xts_link_stats *st);
/* Sequence state, counted from the session's start (ISNs subtracted):
 * frames we sent, frames of the peer's we consumed, and the peer's last
 * ack. */
void xts_link__seq_state(const struct xts_link *l, __u32 *tx_seq, __u32 *rx_seq, __u32 *peer_ack);

/*
 * Test hooks of the in-memory pair (-EOPNOTSUPP on an AF_XDP link).  With
 * hold on, frames @l sends stop on the wire between the two links (up to
 * ring_size of them; more are dropped and counted in tx_dropped) instead
 * of reaching the peer.  A test looks at them (mem_frame: a writable copy
 * of the i-th, oldest first), drops, reorders, and releases the first n to
 * the peer (mem_release: returns how many the peer's rx ring took).
 * mem_inject puts a frame on @l's own rx side as if it came from the wire
 * (0, or -ENOBUFS when @l's rx ring or fill side is full).
 */
int xts_link__mem_hold(struct xts_link *l, bool hold);
int xts_link__mem_held(struct xts_link *l);
int xts_link__mem_frame(struct xts_link *l, unsigned i, void **data, size_t *len);
int xts_link__mem_drop(struct xts_link *l, unsigned i);
int xts_link__mem_swap(struct xts_link *l, unsigned i, unsigned j);
int xts_link__mem_release(struct xts_link *l, unsigned n);
int xts_link__mem_inject(struct xts_link *l, const void *frame, size_t len);

#endif
