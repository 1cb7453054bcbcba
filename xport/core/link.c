// SPDX-License-Identifier: BSD-2-Clause
/*
 * link.c - one XTS queue session over one AF_XDP socket.
 *
 * UMEM layout: frames [0, fill_frames) start on the fill ring and cycle
 * fill -> rx -> caller -> fill; the rest form the tx pool and cycle
 * pool -> caller -> tx ring -> completion ring -> pool.  The tx ring has room
 * for the whole pool and the fill ring for every rx frame, so neither
 * producer can ever find its ring full: no error path for that exists.
 *
 * Queue credits (docs/protocol.md): tx_seq - peer_ack < peer_window for
 * sequenced frames; rx_seq counts the peer's frames we consumed and goes out
 * in every header's ack field.
 */
#include <errno.h>
#include <endian.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include "link.h"
#include "xts_xdp_loader.h"

#define DEF_FRAMES     4096
#define DEF_FRAME_SIZE 4096
#define DEF_RING       2048
#define DEF_WINDOW     128
#define RX_BATCH_MAX   256
/* In copy mode the kernel puts rx data XDP_PACKET_HEADROOM into the frame. */
#define RX_HEADROOM 256

struct xts_link {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	void *area;
	size_t area_size;
	__u32 frame_size, nframes, ring_size;
	__u32 queue;
	int fd;

	/* tx pool: stack of free UMEM addresses */
	__u64 *pool;
	__u32 pool_n, pool_cap;

	/* rx frames held by the caller between rx() and rx_done() */
	__u64 held[RX_BATCH_MAX];
	__u32 held_n;

	/* session */
	__u32 epoch;
	__u32 tx_seq;	    /* sequenced frames sent */
	__u32 rx_seq;	    /* peer's sequenced frames consumed */
	__u32 peer_ack;	    /* our frames the peer consumed */
	__u32 ack_sent;	    /* rx_seq value last sent to the peer */
	__u32 reserved_seq; /* reserved, not yet submitted sequenced frames */
	__u32 window;	    /* ours */
	__u32 peer_window;
	__u32 max_frame, own_max_frame;
	bool broken;
	bool qreset_due;
	__u32 qreset_epoch;
	__u8 mac[XTS_MAC_LEN];
	__u8 peer_mac[XTS_MAC_LEN];

	__u32 unkicked; /* frames on the tx ring the kernel has not been told of */
	struct xts_link_stats st;
};

static int if_info(const char *ifname, __u8 mac[XTS_MAC_LEN], __u32 *mtu)
{
	struct ifreq ifr;
	int fd, err = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname)); /* < IFNAMSIZ: checked */
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, XTS_MAC_LEN);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	*mtu = (__u32)ifr.ifr_mtu;
out:
	close(fd);
	return err;
}

static void reap_completions(struct xts_link *l)
{
	__u32 idx, n, i;

	n = xsk_ring_cons__peek(&l->comp, l->ring_size, &idx);
	for (i = 0; i < n; i++)
		l->pool[l->pool_n++] = *xsk_ring_cons__comp_addr(&l->comp, idx + i);
	if (n)
		xsk_ring_cons__release(&l->comp, n);
}

static int register_xsk(struct xts_link *l, const char *ifname, const struct xts_link_opts *o)
{
	struct xts_xdp_maps maps;
	int ifindex, err;

	if (o->xsks_map_fd >= 0)
		return xsk_socket__update_xskmap(l->xsk, o->xsks_map_fd);
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -errno;
	err = o->attach ? xts_xdp__attach(ifindex, &maps) : xts_xdp__find(ifindex, &maps);
	if (err)
		return err;
	err = xsk_socket__update_xskmap(l->xsk, maps.xsks_map_fd);
	xts_xdp__maps_close(&maps);
	return err;
}

int xts_link__create(struct xts_link **out, const char *ifname, __u32 queue,
		     const struct xts_link_opts *opts)
{
	struct xts_link_opts o = {.xsks_map_fd = -1};
	struct xsk_umem_config ucfg;
	struct xsk_socket_config scfg;
	struct xts_link *l;
	__u32 fill_frames, idx = 0, i, mtu = 0;
	int err;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.frames)
		o.frames = DEF_FRAMES;
	if (!o.frame_size)
		o.frame_size = DEF_FRAME_SIZE;
	if (!o.ring_size)
		o.ring_size = DEF_RING;
	if (!o.window)
		o.window = DEF_WINDOW;
	/* Rings are powers of two; the window must fit the fill ring with a
	 * reserve for NOSEQ frames; both halves of UMEM must fit their rings. */
	if (o.ring_size & (o.ring_size - 1) || o.frame_size & (o.frame_size - 1) ||
	    o.frame_size < 2048 || o.frames < 2 * 64 || o.window < 2 ||
	    o.window > o.ring_size / 2 || o.window > o.frames / 4)
		return -EINVAL;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->frame_size = o.frame_size;
	l->nframes = o.frames;
	l->ring_size = o.ring_size;
	l->queue = queue;
	l->window = o.window;
	l->peer_window = o.window; /* until the peer says otherwise */
	l->fd = -1;
	err = if_info(ifname, l->mac, &mtu);
	if (err)
		goto out_free;
	l->own_max_frame = o.frame_size - RX_HEADROOM;
	if (mtu + XTS_ETH_HLEN < l->own_max_frame)
		l->own_max_frame = mtu + XTS_ETH_HLEN;
	if (l->own_max_frame < XTS_PAYLOAD_OFF + 256) {
		err = -EMSGSIZE;
		goto out_free;
	}
	l->max_frame = l->own_max_frame;
	memset(l->peer_mac, 0xff, XTS_MAC_LEN);

	l->area_size = (size_t)o.frames * o.frame_size;
	l->area = mmap(NULL, l->area_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (l->area == MAP_FAILED) {
		err = -errno;
		goto out_free;
	}

	memset(&ucfg, 0, sizeof(ucfg));
	ucfg.fill_size = o.ring_size;
	ucfg.comp_size = o.ring_size;
	ucfg.frame_size = o.frame_size;
	ucfg.frame_headroom = 0;
	err = xsk_umem__create(&l->umem, l->area, l->area_size, &l->fill, &l->comp, &ucfg);
	if (err)
		goto out_area;

	memset(&scfg, 0, sizeof(scfg));
	scfg.rx_size = o.ring_size;
	scfg.tx_size = o.ring_size;
	scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
	/* veth has no zero-copy AF_XDP: copy mode, and no need_wakeup so
	 * that a sendto() kick is the only tx doorbell we have to think of. */
	scfg.bind_flags = XDP_COPY;
	err = xsk_socket__create(&l->xsk, ifname, queue, l->umem, &l->rx, &l->tx, &scfg);
	if (err)
		goto out_umem;
	l->fd = xsk_socket__fd(l->xsk);

	err = register_xsk(l, ifname, &o);
	if (err)
		goto out_xsk;

	/* Split UMEM: half for rx (all on the fill ring), half tx pool. */
	fill_frames = o.frames / 2;
	if (fill_frames > o.ring_size)
		fill_frames = o.ring_size;
	if (xsk_ring_prod__reserve(&l->fill, fill_frames, &idx) != fill_frames) {
		err = -ENOSPC;
		goto out_xsk;
	}
	for (i = 0; i < fill_frames; i++)
		*xsk_ring_prod__fill_addr(&l->fill, idx + i) = (__u64)i * o.frame_size;
	xsk_ring_prod__submit(&l->fill, fill_frames);

	l->pool_cap = o.frames - fill_frames;
	if (l->pool_cap > o.ring_size)
		l->pool_cap = o.ring_size; /* tx ring must hold the whole pool */
	l->pool = calloc(l->pool_cap, sizeof(*l->pool));
	if (!l->pool) {
		err = -ENOMEM;
		goto out_xsk;
	}
	for (i = 0; i < l->pool_cap; i++)
		l->pool[l->pool_n++] = (__u64)(fill_frames + i) * o.frame_size;

	*out = l;
	return 0;

out_xsk:
	xsk_socket__delete(l->xsk);
out_umem:
	xsk_umem__delete(l->umem);
out_area:
	munmap(l->area, l->area_size);
out_free:
	free(l);
	return err;
}

void xts_link__destroy(struct xts_link *l)
{
	if (!l)
		return;
	xsk_socket__delete(l->xsk);
	xsk_umem__delete(l->umem);
	munmap(l->area, l->area_size);
	free(l->pool);
	free(l);
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

void xts_link__session(struct xts_link *l, __u32 epoch, __u32 peer_window, __u32 peer_max_frame,
		       const __u8 peer_mac[XTS_MAC_LEN])
{
	l->epoch = epoch;
	l->tx_seq = l->rx_seq = l->peer_ack = l->ack_sent = 0;
	l->reserved_seq = 0;
	l->broken = false;
	/* Never trust the peer beyond what our own rings were sized for. */
	l->peer_window = peer_window ? peer_window : 1;
	if (l->peer_window > l->pool_cap / 2)
		l->peer_window = l->pool_cap / 2;
	l->max_frame = l->own_max_frame;
	if (peer_max_frame && peer_max_frame < l->max_frame)
		l->max_frame = peer_max_frame;
	if (l->max_frame < XTS_PAYLOAD_OFF + 1)
		l->max_frame = XTS_PAYLOAD_OFF + 1;
	memcpy(l->peer_mac, peer_mac, XTS_MAC_LEN);
}

__u32 xts_link__epoch(const struct xts_link *l)
{
	return l->epoch;
}

bool xts_link__broken(const struct xts_link *l)
{
	return l->broken;
}

/* serial-number comparison: a after b */
static inline bool seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

static bool session_op(__u16 op)
{
	return op == XTS_OP_HELLO || op == XTS_OP_HELLO_ACK || op == XTS_OP_QRESET;
}

/*
 * A frame that does not parse, but whose header names it the next
 * sequenced frame of our session: the peer counted it and will never send
 * it again, so the session's sequence is broken now, not at the peer's
 * next frame (which may not come while it waits for an answer to this
 * one).  The session ends with a QRESET and every socket learns at once.
 */
static bool malformed_in_sequence(const struct xts_link *l, const __u8 *data, __u32 len)
{
	struct xts_hdr h;

	if (!l->epoch || len < XTS_PAYLOAD_OFF)
		return false;
	memcpy(&h, data + XTS_HDR_OFF, sizeof(h));
	return h.version == XTS_PROTO_VERSION && le32toh(h.epoch) == l->epoch &&
	       !(le16toh(h.flags) & XTS_F_NOSEQ) && le32toh(h.seq) == l->rx_seq;
}

int xts_link__rx(struct xts_link *l, struct xts_msg *msgs, unsigned max)
{
	__u32 idx, n, i;
	int out = 0;

	if (l->held_n)
		xts_link__rx_done(l);
	if (max > RX_BATCH_MAX)
		max = RX_BATCH_MAX;
	n = xsk_ring_cons__peek(&l->rx, max, &idx);
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&l->rx, idx + i);
		void *data = xsk_umem__get_data(l->area, d->addr);
		struct xts_msg *m = &msgs[out];

		l->held[i] = d->addr - d->addr % l->frame_size;
		if (d->addr + d->len > l->area_size || xts_proto_parse(data, d->len, m)) {
			l->st.rx_malformed++;
			if (d->addr + d->len <= l->area_size && !l->broken &&
			    malformed_in_sequence(l, data, d->len)) {
				l->st.seq_gaps++;
				l->broken = true;
			}
			continue;
		}
		if (session_op(m->op)) {
			l->st.rx_frames++;
			l->st.rx_bytes += d->len;
			out++;
			/* The caller may start a session on this one: frames
			 * behind it in the ring belong to that session, so they
			 * wait for the next call instead of being judged under
			 * the old epoch now. */
			/* give back what peek took beyond this frame */
			xsk_ring_cons__cancel(&l->rx, n - (i + 1));
			n = i + 1;
			break;
		}
		if (!l->epoch || m->epoch != l->epoch) {
			/* A frame of another session: the peer must learn
			 * that session is gone.  One QRESET per batch. */
			l->st.rx_stale++;
			if (!(m->flags & XTS_F_NOSEQ) && m->epoch) {
				l->qreset_due = true;
				l->qreset_epoch = m->epoch;
			}
			continue;
		}
		if (!(m->flags & XTS_F_NOSEQ)) {
			if (l->broken)
				continue;
			if (m->seq != l->rx_seq) {
				/* Lost or reordered: the queue is not what the
				 * design needs.  Say so; do not guess. */
				l->st.seq_gaps++;
				l->broken = true;
				continue;
			}
			l->rx_seq++;
		}
		if (seq_after(m->ack, l->peer_ack) && !seq_after(m->ack, l->tx_seq))
			l->peer_ack = m->ack;
		l->st.rx_frames++;
		l->st.rx_bytes += d->len;
		if (m->op == XTS_OP_ACK)
			continue;
		out++;
	}
	l->held_n = n;
	return out;
}

void xts_link__rx_done(struct xts_link *l)
{
	__u32 idx, i, n = l->held_n;

	if (!n)
		return;
	/* Cannot fail: the fill ring holds every rx frame (see top). */
	if (xsk_ring_prod__reserve(&l->fill, n, &idx) != n)
		return;
	for (i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&l->fill, idx + i) = l->held[i];
	xsk_ring_prod__submit(&l->fill, n);
	xsk_ring_cons__release(&l->rx, n);
	l->held_n = 0;
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
	return room < l->pool_n - 2 ? room : l->pool_n - 2;
}

int xts_link__tx_reserve(struct xts_link *l, bool seq, struct xts_txf *f)
{
	if (seq) {
		if (!l->epoch || l->broken ||
		    l->tx_seq - l->peer_ack + l->reserved_seq >= l->peer_window) {
			l->st.window_stalls++;
			return -EAGAIN;
		}
	}
	if (l->pool_n < (seq ? 3u : 1u)) {
		reap_completions(l);
		if (l->pool_n < (seq ? 3u : 1u)) {
			l->st.frame_stalls++;
			return -ENOBUFS;
		}
	}
	f->addr = l->pool[--l->pool_n];
	f->payload = (__u8 *)xsk_umem__get_data(l->area, f->addr) + XTS_PAYLOAD_OFF;
	f->cap = l->max_frame - XTS_PAYLOAD_OFF;
	f->seq = seq;
	if (seq)
		l->reserved_seq++;
	return 0;
}

void xts_link__tx_cancel(struct xts_link *l, struct xts_txf *f)
{
	l->pool[l->pool_n++] = f->addr;
	if (f->seq)
		l->reserved_seq--;
	f->addr = 0;
	f->payload = NULL;
}

static void tx_stamp_push(struct xts_link *l, struct xts_txf *f, enum xts_op op, __u16 flags,
			  __u32 dst_id, __u32 src_id, __u32 credit, size_t len, __u32 epoch)
{
	__u8 *frame = xsk_umem__get_data(l->area, f->addr);
	struct xts_hdr *h = (struct xts_hdr *)(frame + XTS_HDR_OFF);
	struct xdp_desc *d;
	__u32 idx = 0;
	int tot;

	tot = xts_proto_hdr_put(frame, l->max_frame, l->peer_mac, l->mac, op, flags, dst_id, src_id,
				credit, len);
	if (tot < 0) { /* caller wrote past cap: a bug; drop, do not send */
		xts_link__tx_cancel(l, f);
		return;
	}
	h->epoch = htole32(epoch);
	h->ack = htole32(l->rx_seq);
	if (f->seq) {
		h->seq = htole32(l->tx_seq);
		l->tx_seq++;
		l->reserved_seq--;
	}
	l->ack_sent = l->rx_seq;
	/* Cannot fail: the tx ring holds the whole pool (see top). */
	xsk_ring_prod__reserve(&l->tx, 1, &idx);
	d = xsk_ring_prod__tx_desc(&l->tx, idx);
	d->addr = f->addr;
	d->len = (__u32)tot;
	d->options = 0;
	xsk_ring_prod__submit(&l->tx, 1);
	l->unkicked++;
	l->st.tx_frames++;
	l->st.tx_bytes += (__u32)tot;
}

void xts_link__tx_submit(struct xts_link *l, struct xts_txf *f, enum xts_op op, __u16 flags,
			 __u32 dst_id, __u32 src_id, __u32 credit, size_t len)
{
	/* HELLO opens a session and so belongs to none yet. */
	tx_stamp_push(l, f, op, flags, dst_id, src_id, credit, len,
		      op == XTS_OP_HELLO ? 0 : l->epoch);
}

int xts_link__send(struct xts_link *l, enum xts_op op, __u16 flags, __u32 dst_id, __u32 src_id,
		   __u32 credit, const void *payload, size_t len)
{
	struct xts_txf f;
	int err;

	err = xts_link__tx_reserve(l, !xts_proto_op_noseq(op), &f);
	if (err)
		return err;
	if (len > f.cap) {
		xts_link__tx_cancel(l, &f);
		return -EMSGSIZE;
	}
	if (len)
		memcpy(f.payload, payload, len);
	xts_link__tx_submit(l, &f, op, flags, dst_id, src_id, credit, len);
	return 0;
}

int xts_link__tx_raw(struct xts_link *l, const void *frame, size_t len)
{
	struct xdp_desc *d;
	struct xts_txf f;
	__u32 idx = 0;
	int err;

	if (len > l->frame_size - RX_HEADROOM)
		return -EMSGSIZE;
	err = xts_link__tx_reserve(l, false, &f);
	if (err)
		return err;
	memcpy(xsk_umem__get_data(l->area, f.addr), frame, len);
	xsk_ring_prod__reserve(&l->tx, 1, &idx);
	d = xsk_ring_prod__tx_desc(&l->tx, idx);
	d->addr = f.addr;
	d->len = (__u32)len;
	d->options = 0;
	xsk_ring_prod__submit(&l->tx, 1);
	l->unkicked++;
	l->st.tx_frames++;
	l->st.tx_bytes += len;
	return 0;
}

static void send_qreset(struct xts_link *l)
{
	struct xts_err e = {.err = (__s32)htole32(ECONNRESET)};
	struct xts_txf f;

	l->qreset_due = false;
	if (xts_link__tx_reserve(l, false, &f))
		return;
	memcpy(f.payload, &e, sizeof(e));
	/* Carries the epoch of the session it ends, so that the peer acts
	 * on it only if that is still its session. */
	tx_stamp_push(l, &f, XTS_OP_QRESET, 0, 0, 0, 0, sizeof(e), l->qreset_epoch);
}

static int kick(struct xts_link *l)
{
	/* Copy mode transmits from sendto(), at most a kernel batch (32) of
	 * descriptors per call, returning EAGAIN while more are left. */
	unsigned tries = l->unkicked / 16 + 8;

	while (l->unkicked && tries--) {
		l->st.kicks++;
		if (sendto(l->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0) {
			l->unkicked = 0;
			break;
		}
		if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR) {
			l->st.kick_errs++;
			return -errno;
		}
	}
	return 0;
}

bool xts_link__rx_ready(struct xts_link *l)
{
	return xsk_cons_nb_avail(&l->rx, 1) > 0;
}

__u32 xts_link__unkicked(const struct xts_link *l)
{
	return l->unkicked;
}

int xts_link__flush(struct xts_link *l, bool force_ack)
{
	return xts_link__flush_batch(l, force_ack, 1);
}

int xts_link__flush_batch(struct xts_link *l, bool force_ack, __u32 min_frames)
{
	__u32 unacked = l->rx_seq - l->ack_sent;
	__u32 pushed;
	int err = 0;

	if (l->qreset_due)
		send_qreset(l);
	if (l->epoch && unacked && (force_ack || unacked >= l->window / 2)) {
		if (!xts_link__send(l, XTS_OP_ACK, 0, 0, 0, 0, NULL, 0))
			l->st.acks_sent++;
	}
	pushed = 0;
	if (l->unkicked >= min_frames) {
		pushed = l->unkicked;
		err = kick(l);
	}
	reap_completions(l);
	return err ? err : (int)pushed;
}

void xts_link__stats(struct xts_link *l, struct xts_link_stats *st)
{
	struct xdp_statistics xs;
	socklen_t len = sizeof(xs);

	*st = l->st;
	memset(&xs, 0, sizeof(xs));
	if (!getsockopt(l->fd, SOL_XDP, XDP_STATISTICS, &xs, &len)) {
		st->xsk_rx_dropped = xs.rx_dropped;
		st->xsk_rx_invalid = xs.rx_invalid_descs;
		st->xsk_tx_invalid = xs.tx_invalid_descs;
		st->xsk_rx_ring_full = xs.rx_ring_full;
		st->xsk_fill_empty = xs.rx_fill_ring_empty_descs;
		st->xsk_tx_ring_empty = xs.tx_ring_empty_descs;
	}
}

void xts_link__seq_state(const struct xts_link *l, __u32 *tx_seq, __u32 *rx_seq, __u32 *peer_ack)
{
	*tx_seq = l->tx_seq;
	*rx_seq = l->rx_seq;
	*peer_ack = l->peer_ack;
}
