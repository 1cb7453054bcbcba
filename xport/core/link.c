// SPDX-License-Identifier: BSD-2-Clause
/*
 * link.c - one XTS queue session over a frame transport: queue sequence
 * numbers, cumulative acks, the queue window, epochs, QRESET, the stats and
 * who owns which UMEM frame; its receive half is link_rx.c.  Written once
 * for both transports (link_int.h): AF_XDP (link_xdp.c) and the in-memory
 * pair (link_mem.c).
 *
 * UMEM: frames [0, fill_frames) are the rx half, lent to the transport
 * between rx_release and rx_peek; the rest are the tx pool, a free stack
 * that cycles pool -> caller -> transport -> pool.
 *
 * Queue credits (docs/protocol.md): tx_seq - peer_ack < peer_window for
 * sequenced frames; rx_seq counts the peer's frames we consumed and goes out
 * in every header's ack field.
 */
#include <errno.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "link_int.h"

int link_opts(struct xts_link_opts *o, const struct xts_link_opts *opts)
{
	memset(o, 0, sizeof(*o));
	o->xsks_map_fd = -1;
	if (opts)
		memcpy(o, opts, opts->sz < sizeof(*o) ? opts->sz : sizeof(*o));
	o->sz = sizeof(*o);
	if (!o->frames)
		o->frames = XTS_LINK_DEF_FRAMES;
	if (!o->frame_size)
		o->frame_size = XTS_LINK_DEF_FRAME_SIZE;
	if (!o->ring_size)
		o->ring_size = XTS_LINK_DEF_RING;
	if (!o->window)
		o->window = XTS_LINK_DEF_WINDOW;
	/* Rings are powers of two; the window must fit the fill ring with a
	 * reserve for NOSEQ frames; both halves of UMEM must fit their rings. */
	if (o->ring_size & (o->ring_size - 1) || o->frame_size & (o->frame_size - 1) ||
	    o->frame_size < 2048 || o->frames < 2 * 64 || o->window < 2 ||
	    o->window > o->ring_size / 2 || o->window > o->frames / 4)
		return -EINVAL;
	return 0;
}

bool xts_link__env_off(const char *var)
{
	const char *v = getenv(var);

	return v && !strcmp(v, "0");
}

int link_alloc(struct xts_link **out, const struct xts_link_opts *o, __u32 queue, __u32 mtu)
{
	return link_alloc_in(out, o, queue, mtu, NULL, 0);
}

int link_alloc_in(struct xts_link **out, const struct xts_link_opts *o, __u32 queue, __u32 mtu,
		  void *area, size_t area_size)
{
	struct xts_link *l;
	__u32 i;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->frame_size = o->frame_size;
	l->nframes = o->frames;
	l->ring_size = o->ring_size;
	l->queue = queue;
	l->window = o->window;
	l->peer_window = o->window; /* until the peer says otherwise */
	l->fd = -1;
	l->base_window = l->mbuf_window = o->window;
	l->mtu = mtu;
	l->slot_base = ~0ull; /* no slots until link_mbuf_on */
	l->slot_bytes = 1;
	l->own_max_frame = o->frame_size - RX_HEADROOM - XTS_LINK_PAD;
	if (mtu && mtu + XTS_ETH_HLEN < l->own_max_frame)
		l->own_max_frame = mtu + XTS_ETH_HLEN;
	if (l->own_max_frame < XTS_PAYLOAD_OFF + 256) {
		free(l);
		return -EMSGSIZE;
	}
	l->max_frame = l->chunk_max_frame = l->own_max_frame;
	memset(l->peer_mac, 0xff, XTS_MAC_LEN);
	l->bundle = !xts_link__env_off(XTS_LINK_BUNDLE_ENV);

	l->area_size = (size_t)o->frames * o->frame_size;
	l->area = area;
	if (area)
		l->area_size = area_size;
	else
		l->area = mmap(NULL, l->area_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (l->area == MAP_FAILED) {
		free(l);
		return -errno;
	}
	/* Half for rx, half for the tx pool; each must fit its ring. */
	l->fill_frames = o->frames / 2 < o->ring_size ? o->frames / 2 : o->ring_size;
	l->pool_cap = o->frames - l->fill_frames;
	if (l->pool_cap > o->ring_size)
		l->pool_cap = o->ring_size; /* the tx ring must hold the whole pool */
	l->pool = calloc(l->pool_cap, sizeof(*l->pool));
	if (!l->pool) {
		if (!area) /* a caller's area stays the caller's on failure */
			munmap(l->area, l->area_size);
		free(l);
		return -ENOMEM;
	}
	for (i = 0; i < l->pool_cap; i++)
		link_pool_put(l, (__u64)(l->fill_frames + i) * o->frame_size + XTS_LINK_PAD);
	/* link_opts: window <= fill_frames / 2 */
	l->lend_max = l->fill_frames > 2 * l->window ? l->fill_frames - 2 * l->window : 0;
	*out = l;
	return 0;
}

/* Chunks of rx UMEM the fill side must keep for the peer's frames: its
 * sequenced frames in flight (window of them, each up to @cpf chunks)
 * and a window of one-chunk NOSEQ frames (acks, pings). */
static __u32 fill_reserve(__u32 window, __u32 cpf, __u32 base_window)
{
	return window * cpf + base_window;
}

int link_mbuf_on(struct xts_link *l)
{
	__u32 room = l->frame_size - RX_HEADROOM - XTS_LINK_PAD; /* rx bytes a chunk holds */
	__u32 maxf = XTS_LINK_MBUF_CHUNKS * l->frame_size - XTS_LINK_PAD;
	__u32 cpf, w, singles, slots, i, rsv;

	if (!l->mtu || l->mtu + XTS_ETH_HLEN <= l->chunk_max_frame)
		return -EMSGSIZE; /* the interface carries no larger frame */
	if (l->mtu + XTS_ETH_HLEN < maxf)
		maxf = l->mtu + XTS_ETH_HLEN;
	/* The window counts frames (docs/protocol.md): a frame takes up to
	 * cpf chunks of the fill ring, so we announce fewer of them: the
	 * chunks of two one-chunk windows, in frames of the largest size. */
	cpf = (maxf + room - 1) / room;
	w = 2 * l->base_window / cpf;
	if (w < 2)
		w = 2;
	singles = l->pool_cap / 2;
	slots = (l->pool_cap - singles) / XTS_LINK_MBUF_CHUNKS;
	if (fill_reserve(w, cpf, l->base_window) > l->fill_frames || slots < 2 * w)
		return -ENOSPC; /* UMEM or rings too small for it */
	l->spool = calloc(slots, sizeof(*l->spool));
	if (!l->spool)
		return -ENOMEM;
	l->rsm_size = maxf;
	l->rsm = mmap(NULL, (size_t)LINK_RSM_MAX * maxf, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->rsm == MAP_FAILED) {
		l->rsm = NULL;
		free(l->spool);
		l->spool = NULL;
		return -ENOMEM;
	}
	/* Nothing was sent yet: every tx frame is in the pool.  The first
	 * half stays one-chunk frames (NOSEQ frames, and sessions with a
	 * peer without XTS_CAP_MBUF), the second becomes slots. */
	l->pool_n = 0;
	l->pool_cap = singles;
	for (i = 0; i < singles; i++)
		link_pool_put(l, (__u64)(l->fill_frames + i) * l->frame_size + XTS_LINK_PAD);
	l->slot_base = (__u64)(l->fill_frames + singles) * l->frame_size;
	l->slot_bytes = (__u64)XTS_LINK_MBUF_CHUNKS * l->frame_size;
	l->spool_cap = slots;
	for (i = 0; i < slots; i++)
		link_pool_put(l, l->slot_base + i * l->slot_bytes + XTS_LINK_PAD);
	l->own_max_frame = l->max_frame = maxf;
	l->window = l->mbuf_window = w;
	rsv = fill_reserve(w, cpf, l->base_window);
	if (rsv < 2 * l->base_window)
		rsv = 2 * l->base_window;
	l->lend_max = l->fill_frames > rsv ? l->fill_frames - rsv : 0;
	l->mbuf = true;
	return 0;
}

void link_free(struct xts_link *l)
{
	munmap(l->area, l->area_size);
	if (l->rsm)
		munmap(l->rsm, (size_t)LINK_RSM_MAX * l->rsm_size);
	free(l->spool);
	free(l->pool);
	free(l);
}

void xts_link__destroy(struct xts_link *l)
{
	if (!l)
		return;
	if (l->ops)
		l->ops->destroy(l);
	link_free(l);
}

int xts_link__fd(const struct xts_link *l)
{
	return l->fd;
}

__u32 xts_link__queue(const struct xts_link *l)
{
	return l->queue;
}

const __u8 *xts_link__mac(const struct xts_link *l)
{
	return l->mac;
}

__u32 xts_link__max_frame(const struct xts_link *l)
{
	return l->max_frame;
}

__u32 xts_link__window(const struct xts_link *l)
{
	return l->window;
}

__u32 xts_link__peer_window(const struct xts_link *l)
{
	return l->peer_window;
}

__u64 xts_link__caps(const struct xts_link *l)
{
	return (l->mbuf ? XTS_CAP_MBUF : 0) | (l->bundle ? XTS_CAP_BUNDLE : 0);
}

const char *xts_link__mbuf_note(const struct xts_link *l)
{
	return l->mbuf_note;
}

void xts_link__peer_caps(struct xts_link *l, __u64 caps, bool answer)
{
	l->sess_bundle = l->bundle && l->epoch && (caps & XTS_CAP_BUNDLE);
	l->sess_mbuf = l->mbuf && l->epoch && (caps & XTS_CAP_MBUF);
	l->max_frame = l->own_max_frame;
	if (l->peer_max_frame < l->max_frame)
		l->max_frame = l->peer_max_frame;
	if (!l->sess_mbuf && l->max_frame > l->chunk_max_frame)
		l->max_frame = l->chunk_max_frame;
	if (l->max_frame < XTS_PAYLOAD_OFF + 1)
		l->max_frame = XTS_PAYLOAD_OFF + 1;
	/* a slot per frame in flight, and half of them at most */
	if (l->sess_mbuf && l->peer_window > l->spool_cap / 2)
		l->peer_window = l->spool_cap / 2;
	if (answer && l->mbuf)
		l->window = l->sess_mbuf ? l->mbuf_window : l->base_window;
}

void xts_link__session(struct xts_link *l, __u32 epoch, __u32 peer_window, __u32 peer_max_frame,
		       const __u8 peer_mac[XTS_MAC_LEN])
{
	/* An open bundle is the old session's: its peer would drop it as
	 * stale, so it never leaves. */
	if (l->bnd_n) {
		link_pool_put(l, l->bnd_addr);
		l->bnd_n = 0;
	}
	l->sess_bundle = false; /* until xts_link__peer_caps */
	l->epoch = epoch;
	l->tx_isn = l->rx_isn = 0;
	l->tx_seq = l->rx_seq = l->peer_ack = l->ack_sent = 0;
	/* reserved_seq stays: frames the caller holds (a zero-copy send
	 * buffer) are still its own, and still cancelled or submitted. */
	l->broken = false;
	/* Never trust the peer beyond what our own rings were sized for. */
	l->peer_window = peer_window ? peer_window : 1;
	if (l->peer_window > l->pool_cap / 2)
		l->peer_window = l->pool_cap / 2;
	/* Outside a session (peer_max_frame 0) max_frame is what we
	 * announce; in one, frames of one chunk until xts_link__peer_caps
	 * says the peer takes more. */
	l->sess_mbuf = false;
	l->peer_max_frame = peer_max_frame ? peer_max_frame : l->own_max_frame;
	l->max_frame = l->own_max_frame;
	if (peer_max_frame && peer_max_frame < l->max_frame)
		l->max_frame = peer_max_frame;
	if (peer_max_frame && l->max_frame > l->chunk_max_frame)
		l->max_frame = l->chunk_max_frame;
	if (l->max_frame < XTS_PAYLOAD_OFF + 1)
		l->max_frame = XTS_PAYLOAD_OFF + 1;
	memcpy(l->peer_mac, peer_mac, XTS_MAC_LEN);
}

void xts_link__isn(struct xts_link *l, __u32 tx_isn, __u32 rx_isn)
{
	l->tx_isn = l->tx_seq = l->peer_ack = tx_isn;
	l->rx_isn = l->rx_seq = l->ack_sent = rx_isn;
}

__u32 xts_link__random32(void)
{
	struct timespec ts;
	__u32 r;
	__u64 t;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = ((__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec) ^ ((__u64)getpid() << 32);
	t ^= t >> 31;
	t *= 0xbf58476d1ce4e5b9ull;
	return (__u32)(t ^ (t >> 32));
}

__u32 xts_link__epoch(const struct xts_link *l)
{
	return l->epoch;
}

bool xts_link__broken(const struct xts_link *l)
{
	return l->broken;
}

__u32 xts_link__tx_room(const struct xts_link *l)
{
	__u32 used = l->tx_seq - l->peer_ack + l->reserved_seq;
	__u32 room = used >= l->peer_window ? 0 : l->peer_window - used;

	if (!l->epoch || l->broken)
		return 0;
	/* Keep two pool frames back for ACK/PONG/QRESET. */
	if (l->pool_n < 2)
		return 0;
	if (l->sess_mbuf) /* sequenced frames go in slots */
		return room < l->spool_n ? room : l->spool_n;
	return room < l->pool_n - 2 ? room : l->pool_n - 2;
}

int xts_link__tx_reserve(struct xts_link *l, bool seq, struct xts_txf *f)
{
	bool slot;

	if (seq) {
		if (!l->epoch || l->broken ||
		    l->tx_seq - l->peer_ack + l->reserved_seq >= l->peer_window) {
			l->st.window_stalls++;
			return -EAGAIN;
		}
	}
	slot = seq && l->sess_mbuf;
	if (slot ? !l->spool_n : l->pool_n < (seq ? 3u : 1u)) {
		l->ops->reap(l);
		if (slot ? !l->spool_n : l->pool_n < (seq ? 3u : 1u)) {
			l->st.frame_stalls++;
			return -ENOBUFS;
		}
	}
	/* A sequenced frame of a multi-buffer session gets a slot: up to
	 * max_frame contiguous bytes; every other frame one chunk. */
	f->addr = slot ? l->spool[--l->spool_n] : l->pool[--l->pool_n];
	f->payload = (__u8 *)link_data(l, f->addr) + XTS_PAYLOAD_OFF;
	f->cap = (slot || l->max_frame < l->chunk_max_frame ? l->max_frame : l->chunk_max_frame) -
		 XTS_PAYLOAD_OFF;
	f->seq = seq;
	if (seq)
		l->reserved_seq++;
	return 0;
}

void xts_link__tx_cancel(struct xts_link *l, struct xts_txf *f)
{
	link_pool_put(l, f->addr);
	if (f->seq)
		l->reserved_seq--;
	f->addr = 0;
	f->payload = NULL;
}

static void tx_put(struct xts_link *l, __u64 addr, __u32 len)
{
	l->ops->tx_put(l, addr, len);
	if (len > l->frame_size - XTS_LINK_PAD)
		l->st.tx_mbuf++;
	l->unkicked++;
	l->st.tx_frames++;
	l->st.tx_bytes += len;
}

/* A message opens a bundle only if one at least this big still fits. */
#define BND_ROOM_MIN 64

/* Our ack, as of now, into a frame of our session. */
static void stamp_ack(struct xts_link *l, struct xts_hdr *h)
{
	h->ack = htole32(l->rx_seq);
	l->ack_sent = l->rx_seq;
}

/* The open bundle onto the transport, with our ack as of now. */
static void bnd_close(struct xts_link *l)
{
	stamp_ack(l, (struct xts_hdr *)((__u8 *)link_data(l, l->bnd_addr) + XTS_HDR_OFF));
	l->bnd_n = 0;
	tx_put(l, l->bnd_addr, l->bnd_len);
}

/* Bytes a bundle frame may reach: one chunk, and the session's max. */
static __u32 bnd_max(const struct xts_link *l)
{
	return l->max_frame < l->chunk_max_frame ? l->max_frame : l->chunk_max_frame;
}

/*
 * A sequenced message of @tot frame bytes, header written, joins the open
 * bundle if it fits: its header and payload are copied behind the bundle's
 * last message (epoch, seq and ack 0: the frame's count), that one gets
 * XTS_F_BUNDLE, and its own frame goes back to the pool.  One copy of a
 * small message instead of a frame, a descriptor and an skb of its own.
 */
static bool bnd_join(struct xts_link *l, struct xts_txf *f, __u32 tot)
{
	__u8 *b = link_data(l, l->bnd_addr), *src = link_data(l, f->addr);
	__u32 mlen = tot - XTS_HDR_OFF;
	struct xts_hdr *last;

	if (!l->bnd_n || l->bnd_n >= XTS_BUNDLE_MAX || l->bnd_len + mlen > bnd_max(l))
		return false;
	/* hdr_put left epoch, seq and ack 0, as a bundle's message has them */
	memcpy(b + l->bnd_len, src + XTS_HDR_OFF, mlen);
	last = (struct xts_hdr *)(b + l->bnd_last);
	last->flags = htole16(le16toh(last->flags) | XTS_F_BUNDLE);
	l->bnd_last = l->bnd_len;
	l->bnd_len += mlen;
	l->bnd_n++;
	l->st.tx_bundled++;
	link_pool_put(l, f->addr);
	l->reserved_seq--;
	return true;
}

/*
 * Header, epoch, seq and ack, then onto the transport.  A frame of our
 * session (@dst NULL) goes to the peer and carries our ack (and seq, when
 * sequenced); one outside it (a refusal to a HELLO's sender, a QRESET of
 * another session) goes to @dst with ack 0: nothing of our session's
 * sequence state leaves in it.  With bundles on, a sequenced frame joins
 * the open bundle or, small enough for others to join it, opens one: it
 * then waits for the doorbell (xts_link__flush_batch), its seq stamped
 * now, so that sequence order stays wire order: a sequenced frame that
 * neither joins nor opens one closes it first, and so does a QRESET of
 * our session (the end comes after what the session sent).
 */
static int tx_stamp_push(struct xts_link *l, struct xts_txf *f, enum xts_op op, __u16 flags,
			 __u32 dst_id, __u32 src_id, __u32 credit, size_t len, __u32 epoch,
			 const __u8 *dst)
{
	__u8 *frame = link_data(l, f->addr);
	struct xts_hdr *h = (struct xts_hdr *)(frame + XTS_HDR_OFF);
	int tot;

	tot = xts_proto_hdr_put(frame, f->cap + XTS_PAYLOAD_OFF, dst ? dst : l->peer_mac, l->mac,
				op, flags & ~XTS_F_BUNDLE, dst_id, src_id, credit, len);
	if (tot < 0) {
		/* The caller wrote past cap (a bug): nothing goes out, and
		 * the caller learns it, so that it neither debits credit
		 * for bytes that never left nor loses them unseen. */
		l->st.tx_oversize++;
		xts_link__tx_cancel(l, f);
		return tot;
	}
	if (f->seq && l->sess_bundle && !dst && bnd_join(l, f, (__u32)tot))
		return 0;
	/* what the bundle holds goes first: before a sequenced frame, and
	 * before the QRESET that ends our session (its CLOSEs before the end
	 * that would reset their connections); ACK, PING, PONG may pass */
	if (l->bnd_n && (f->seq || (op == XTS_OP_QRESET && !dst)))
		bnd_close(l);
	h->epoch = htole32(epoch);
	if (!dst)
		stamp_ack(l, h);
	if (f->seq) {
		h->seq = htole32(l->tx_seq);
		l->tx_seq++;
		l->reserved_seq--;
		if (l->sess_bundle && !dst &&
		    (__u32)tot + sizeof(struct xts_hdr) + BND_ROOM_MIN <= bnd_max(l)) {
			l->bnd_addr = f->addr;
			l->bnd_len = (__u32)tot;
			l->bnd_last = XTS_HDR_OFF;
			l->bnd_n = 1;
			return 0;
		}
	}
	tx_put(l, f->addr, (__u32)tot);
	return 0;
}

int xts_link__tx_submit(struct xts_link *l, struct xts_txf *f, enum xts_op op, __u16 flags,
			__u32 dst_id, __u32 src_id, __u32 credit, size_t len)
{
	/* HELLO opens a session and so belongs to none yet: epoch 0, ack 0. */
	if (op == XTS_OP_HELLO)
		return tx_stamp_push(l, f, op, flags, dst_id, src_id, credit, len, 0, l->peer_mac);
	return tx_stamp_push(l, f, op, flags, dst_id, src_id, credit, len, l->epoch, NULL);
}

/* A reserved frame with the payload copied in. */
static int reserve_copy(struct xts_link *l, enum xts_op op, const void *payload, size_t len,
			struct xts_txf *f)
{
	int err;

	err = xts_link__tx_reserve(l, !xts_proto_op_noseq(op), f);
	if (err)
		return err;
	if (len > f->cap) {
		xts_link__tx_cancel(l, f);
		return -EMSGSIZE;
	}
	if (len)
		memcpy(f->payload, payload, len);
	return 0;
}

int xts_link__send(struct xts_link *l, enum xts_op op, __u16 flags, __u32 dst_id, __u32 src_id,
		   __u32 credit, const void *payload, size_t len)
{
	struct xts_txf f;
	int err;

	err = reserve_copy(l, op, payload, len, &f);
	if (err)
		return err;
	return xts_link__tx_submit(l, &f, op, flags, dst_id, src_id, credit, len);
}

/* A NOSEQ frame outside our session (see tx_stamp_push). */
static int send_outside(struct xts_link *l, const __u8 *dst, __u32 epoch, enum xts_op op,
			const void *payload, size_t len)
{
	struct xts_txf f;
	int err;

	err = reserve_copy(l, op, payload, len, &f);
	if (err)
		return err;
	return tx_stamp_push(l, &f, op, 0, 0, 0, 0, len, epoch, dst);
}

int xts_link__send_to(struct xts_link *l, const __u8 dst_mac[XTS_MAC_LEN], __u32 epoch,
		      enum xts_op op, const void *payload, size_t len)
{
	if (!xts_proto_op_noseq(op))
		return -EINVAL;
	return send_outside(l, dst_mac, epoch, op, payload, len);
}

int xts_link__tx_raw(struct xts_link *l, const void *frame, size_t len)
{
	struct xts_txf f;
	int err;

	if (len > l->frame_size - RX_HEADROOM - XTS_LINK_PAD)
		return -EMSGSIZE;
	err = xts_link__tx_reserve(l, false, &f);
	if (err)
		return err;
	if (l->bnd_n) /* what came before goes before */
		bnd_close(l);
	memcpy(link_data(l, f.addr), frame, len);
	tx_put(l, f.addr, (__u32)len);
	return 0;
}

static void send_qreset(struct xts_link *l)
{
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};

	l->qreset_due = false;
	/* Carries the epoch of the session it ends, so that its sender acts
	 * on it only if that is still its session; to that sender, outside
	 * ours. */
	send_outside(l, l->qreset_mac, l->qreset_epoch, XTS_OP_QRESET, &e, sizeof(e));
}

bool xts_link__rx_ready(struct xts_link *l)
{
	return l->ops->rx_ready(l);
}

__u32 xts_link__unkicked(const struct xts_link *l)
{
	return l->unkicked + !!l->bnd_n;
}

int xts_link__flush(struct xts_link *l, bool force_ack)
{
	return xts_link__flush_batch(l, force_ack, 1);
}

int xts_link__flush_batch(struct xts_link *l, bool force_ack, __u32 min_frames)
{
	__u32 unacked, pushed;
	int err = 0;

	if (l->qreset_due)
		send_qreset(l);
	/* The doorbell takes the open bundle, and it carries our ack. */
	if (l->bnd_n && l->unkicked + 1 >= min_frames)
		bnd_close(l);
	unacked = l->rx_seq - l->ack_sent;
	if (l->epoch && unacked && (force_ack || unacked >= l->window / 2)) {
		if (!xts_link__send(l, XTS_OP_ACK, 0, 0, 0, 0, NULL, 0))
			l->st.acks_sent++;
	}
	pushed = 0;
	if (l->unkicked >= min_frames) {
		pushed = l->unkicked;
		err = l->ops->kick(l);
	}
	l->ops->reap(l);
	return err ? err : (int)pushed;
}

void xts_link__stats(struct xts_link *l, struct xts_link_stats *st)
{
	*st = l->st;
	l->ops->stats(l, st);
}

void xts_link__seq_state(const struct xts_link *l, __u32 *tx_seq, __u32 *rx_seq, __u32 *peer_ack)
{
	*tx_seq = l->tx_seq - l->tx_isn;
	*rx_seq = l->rx_seq - l->rx_isn;
	*peer_ack = l->peer_ack - l->tx_isn;
}
