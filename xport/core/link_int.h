/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * link_int.h - inside the queue link: the session state both backends share
 * and the frame transport ops each backend provides (link.c holds the
 * session logic, link_xdp.c the AF_XDP transport, link_mem.c the in-memory
 * pair).  Not installed, not for callers of link.h.
 *
 * The split (docs/design.md, "One link, two backends"): everything that
 * decides (sequence numbers, acks, the window, epochs, QRESET, stats, which
 * UMEM frame is whose) is written once, in link.c; a backend only moves
 * frames: it takes a UMEM address and a length to the peer, hands back the
 * addresses of frames that arrived, and recycles frames when it is done with
 * them.  A backend owns the rx half of UMEM between rx_release and rx_peek
 * (its "fill" side), link.c owns the tx pool.
 */
#ifndef XTS_LINK_INT_H
#define XTS_LINK_INT_H

#include "link.h"

#define RX_BATCH_MAX 256
/* In copy mode the kernel puts rx data XDP_PACKET_HEADROOM into the frame;
 * the in-memory backend does the same, so both exercise one rx path. */
#define RX_HEADROOM 256
/* held[i] of a frame the caller kept (xts_link__rx_keep): rx_release
 * skips it. */
#define LINK_KEPT (~0ull)

/* A received frame: UMEM address of its first byte, and its length;
 * @more: the frame goes on in the next descriptor (AF_XDP multi-buffer,
 * XDP_PKT_CONTD). */
struct link_desc {
	__u64 addr;
	__u32 len;
	bool more;
};

/* Frames of more than one chunk that one xts_link__rx batch can hold
 * reassembled; a batch stops early when they are used up. */
#define LINK_RSM_MAX 16

struct link_ops {
	/* Up to @max received frames, oldest first, without taking them:
	 * they stay on the rx side until rx_release. */
	__u32 (*rx_peek)(struct xts_link *l, struct link_desc *d, __u32 max);
	/* The last @n frames of that peek are not taken after all: they stay
	 * for the next peek (and rx_ready counts them again). */
	void (*rx_unpeek)(struct xts_link *l, __u32 n);
	/* The @n frames peeked and not unpeeked are consumed: take them off
	 * the rx side and receive into the frames l->held[0..n) again (all
	 * but those marked LINK_KEPT). */
	void (*rx_release)(struct xts_link *l, __u32 n);
	/* A kept frame comes back: receive into it again. */
	void (*fill_put)(struct xts_link *l, __u64 addr);
	/* Frames wait on the rx side (no syscall). */
	bool (*rx_ready)(struct xts_link *l);
	/* Queue one finished tx frame.  Cannot fail: the tx side holds the
	 * whole pool.  link.c counts it in l->unkicked. */
	void (*tx_put)(struct xts_link *l, __u64 addr, __u32 len);
	/* Send what tx_put queued (the doorbell); clears l->unkicked when
	 * everything went.  0 or -errno. */
	int (*kick)(struct xts_link *l);
	/* Frames the transport is done with go back to the pool
	 * (link_pool_put). */
	void (*reap)(struct xts_link *l);
	/* The transport's own counters (the xsk_* fields). */
	void (*stats)(struct xts_link *l, struct xts_link_stats *st);
	/* Free the transport; link.c frees the rest. */
	void (*destroy)(struct xts_link *l);
};

struct xts_link {
	const struct link_ops *ops;
	void *be; /* the backend's own state */

	void *area; /* UMEM: frames * frame_size */
	size_t area_size;
	__u32 frame_size, nframes, ring_size;
	__u32 fill_frames; /* frames [0, fill_frames) are the rx half */
	__u32 queue;
	int fd;

	/* tx pool: stack of free UMEM addresses */
	__u64 *pool;
	__u32 pool_n, pool_cap;
	/* Multi-buffer (link_mbuf_on): the tx half's second part is cut in
	 * slots of tx_cpf contiguous chunks, from slot_base on, each a free
	 * stack entry (its first chunk's address); a frame of a slot is
	 * written contiguously and cut into descriptors at the chunk
	 * boundaries.  slot_base is ~0 while off. */
	__u64 *spool;
	__u32 spool_n, spool_cap;
	__u64 slot_base, slot_bytes;
	/* rx frames of several chunks, copied together (rsm_n per batch) */
	__u8 *rsm;
	__u32 rsm_size, rsm_used;
	bool mbuf;	       /* on: bound with XDP_USE_SG, MTU past a chunk */
	bool sess_mbuf;	       /* this session's frames may span chunks */
	const char *mbuf_note; /* why off, when the MTU would allow it */
	__u32 mtu;	       /* the interface's (0: none) */
	__u32 chunk_max_frame; /* the largest frame of one chunk */
	__u32 base_window;     /* our window for one-chunk frames */
	__u32 mbuf_window;     /* and for frames of up to own_max_frame */

	/* rx frames held by the caller between rx() and rx_done() */
	__u64 held[RX_BATCH_MAX];
	__u32 held_n;
	__u32 lent, lend_max; /* rx frames kept by the caller (rx_keep) */
	__u32 keep_next;      /* where rx_keep looks first */

	/* A bundle of more messages than a call of xts_link__rx could take:
	 * it stays on the rx side, judged, and the next calls deliver the
	 * rest, from message part_skip on (0: none). */
	__u64 part_addr;
	__u32 part_skip, part_epoch;

	/* session */
	__u32 epoch;
	__u32 tx_isn, rx_isn; /* initial sequence numbers (xts_link__isn) */
	__u32 tx_seq;	      /* seq of our next sequenced frame */
	__u32 rx_seq;	      /* seq of the peer's next sequenced frame */
	__u32 peer_ack;	      /* the peer's ack: our frames it consumed */
	__u32 ack_sent;	      /* rx_seq value last sent to the peer */
	__u32 reserved_seq;   /* reserved, not yet submitted sequenced frames */
	__u32 window;	      /* ours */
	__u32 peer_window;
	__u32 max_frame, own_max_frame;
	__u32 peer_max_frame; /* as the peer announced it */
	bool broken;
	bool qreset_due;
	__u32 qreset_epoch;
	__u8 qreset_mac[XTS_MAC_LEN]; /* where the stale frame came from */
	__u8 mac[XTS_MAC_LEN];
	__u8 peer_mac[XTS_MAC_LEN];

	/* The open bundle (XTS_CAP_BUNDLE, docs/design.md "Bundles"): a
	 * sequenced frame, its seq stamped, not yet on the tx side, that the
	 * next sequenced messages join (copied in) until it is full, a frame
	 * that cannot join it is submitted, or the doorbell rings. */
	bool bundle;	  /* we take and send bundles (XTS_BUNDLE=0: off) */
	bool sess_bundle; /* and so does this session's peer */
	__u64 bnd_addr;
	__u32 bnd_len;	/* frame bytes so far */
	__u32 bnd_last; /* frame offset of its last message's header */
	__u32 bnd_n;	/* messages in it; 0: none is open */

	__u32 unkicked; /* frames on the tx side the transport has not sent */
	struct xts_link_stats st;
};

/* Defaults applied and checked: 0 or -EINVAL. */
int link_opts(struct xts_link_opts *o, const struct xts_link_opts *opts);
/* A link with its UMEM area and tx pool, no transport yet: the backend
 * sets ops, be, fd and mac, and posts frames [0, fill_frames) for rx.
 * @mtu 0: no interface limit on the frame size. */
int link_alloc(struct xts_link **out, const struct xts_link_opts *o, __u32 queue, __u32 mtu);
/* The same over an UMEM area the caller mapped (@area_size bytes, at
 * least o->frames * o->frame_size; the link uses the first frames and
 * unmaps all of it in link_free; on failure it stays the caller's). */
int link_alloc_in(struct xts_link **out, const struct xts_link_opts *o, __u32 queue, __u32 mtu,
		  void *area, size_t area_size);
/* Undo link_alloc (after the backend freed its part). */
void link_free(struct xts_link *l);

static inline void *link_data(const struct xts_link *l, __u64 addr)
{
	return (__u8 *)l->area + addr;
}

/* A tx frame back to its pool: a slot by its first chunk's address; the
 * completions of a slot's further chunks are no frame of their own. */
static inline void link_pool_put(struct xts_link *l, __u64 addr)
{
	if (addr < l->slot_base)
		l->pool[l->pool_n++] = addr;
	else if ((addr - l->slot_base) % l->slot_bytes == XTS_LINK_PAD)
		l->spool[l->spool_n++] = addr;
}

/* The transport takes frames of several chunks (the AF_XDP backend, after
 * a bind with XDP_USE_SG): cut the tx half, size the windows, allocate
 * the reassembly area.  Before any frame moved.  0 or -errno (then off). */
int link_mbuf_on(struct xts_link *l);

#endif
