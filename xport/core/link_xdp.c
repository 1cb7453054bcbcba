// SPDX-License-Identifier: BSD-2-Clause
/*
 * link_xdp.c - the AF_XDP transport of a queue link (libxdp): UMEM, the
 * fill, rx, tx and completion rings, the sendto() doorbell.  The session
 * logic above it is link.c's.
 *
 * UMEM layout: frames [0, fill_frames) start on the fill ring and cycle
 * fill -> rx -> caller -> fill; the rest form link.c's tx pool and cycle
 * pool -> caller -> tx ring -> completion ring -> pool.  The tx ring has room
 * for the whole pool and the fill ring for every rx frame, so the tx
 * producer never finds its ring full.  The fill ring can look full for a
 * moment though: the kernel publishes the rx producer and then, in a
 * second store, the fill consumer (xsk_flush), so a receiver on another
 * CPU can take frames off the rx ring and give them back before the fill
 * ring shows them gone.  Frames that find no room wait in b->stash and go
 * first next time; the rx ring is released whatever the fill ring says.
 * (Returning early there once lost those frames and left the kernel's rx
 * consumer behind for good: poll(2) said POLLIN forever, and the host
 * spun at 4-6 ppoll calls per request.)
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include "link_int.h"
#include "link_xdp.h"
#include "xts_xdp_loader.h"

/* Debian 12's uapi headers predate AF_XDP multi-buffer (Linux 6.6): the
 * values of the kernel's include/uapi/linux/if_xdp.h. */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

static struct xdp_be *be(const struct xts_link *l)
{
	return l->be;
}

/* Room on the fill ring for up to @want frames. */
static __u32 fill_room(struct xdp_be *b, __u32 want)
{
	__u32 free = xsk_prod_nb_free(&b->fill, want);

	return free < want ? free : want;
}

/* What waits in the stash onto the fill ring, as far as it has room (see
 * top).  The stash never overflows: every rx frame is on the fill ring,
 * on the rx ring, with the caller or in it. */
static void fill_flush(struct xts_link *l, struct xdp_be *b)
{
	__u32 n, idx = 0, i;

	if (!b->stash_n)
		return;
	n = fill_room(b, b->stash_n);
	if (n) {
		xsk_ring_prod__reserve(&b->fill, n, &idx);
		for (i = 0; i < n; i++)
			*xsk_ring_prod__fill_addr(&b->fill, idx + i) = b->stash[i];
		xsk_ring_prod__submit(&b->fill, n);
		b->stash_n -= n;
		memmove(b->stash, b->stash + n, b->stash_n * sizeof(*b->stash));
	}
	if (b->stash_n)
		l->st.fill_deferred++;
}

static __u32 xdp_rx_peek(struct xts_link *l, struct link_desc *d, __u32 max)
{
	struct xdp_be *b = be(l);
	__u32 idx = 0, n, i;

	fill_flush(l, b); /* frames that found the fill ring full last time */
	n = xsk_ring_cons__peek(&b->rx, max, &idx);
	for (i = 0; i < n; i++) {
		const struct xdp_desc *x = xsk_ring_cons__rx_desc(&b->rx, idx + i);

		d[i].addr = x->addr;
		d[i].len = x->len;
		d[i].more = x->options & XDP_PKT_CONTD;
	}
	return n;
}

static void xdp_rx_unpeek(struct xts_link *l, __u32 n)
{
	xsk_ring_cons__cancel(&be(l)->rx, n);
}

static void xdp_rx_release(struct xts_link *l, __u32 n)
{
	struct xdp_be *b = be(l);
	__u32 idx = 0, i, k = 0, back = 0, room;

	for (i = 0; i < n; i++)
		back += l->held[i] != LINK_KEPT;
	/* straight onto the fill ring as far as it shows room; the rest
	 * waits in the stash (see top) */
	room = back ? fill_room(b, back) : 0;
	if (room)
		xsk_ring_prod__reserve(&b->fill, room, &idx);
	for (i = 0; i < n; i++) {
		if (l->held[i] == LINK_KEPT)
			continue;
		if (k < room)
			*xsk_ring_prod__fill_addr(&b->fill, idx + k++) = l->held[i];
		else
			b->stash[b->stash_n++] = l->held[i];
	}
	if (room)
		xsk_ring_prod__submit(&b->fill, room);
	if (room < back)
		l->st.fill_deferred++;
	xsk_ring_cons__release(&b->rx, n);
}

static void xdp_fill_put(struct xts_link *l, __u64 addr)
{
	struct xdp_be *b = be(l);
	__u32 idx = 0;

	if (!fill_room(b, 1)) {
		b->stash[b->stash_n++] = addr; /* see top */
		l->st.fill_deferred++;
		return;
	}
	xsk_ring_prod__reserve(&b->fill, 1, &idx);
	*xsk_ring_prod__fill_addr(&b->fill, idx) = addr;
	xsk_ring_prod__submit(&b->fill, 1);
}

static bool xdp_rx_ready(struct xts_link *l)
{
	return xsk_cons_nb_avail(&be(l)->rx, 1) > 0;
}

/*
 * One descriptor per chunk the frame touches: a frame of a multi-buffer
 * slot (link.c) lies in contiguous chunks and is cut at their boundaries,
 * every descriptor but the last marked XDP_PKT_CONTD, as AF_XDP wants
 * (a descriptor never crosses a chunk).
 */
static void xdp_tx_put(struct xts_link *l, __u64 addr, __u32 len)
{
	struct xdp_be *b = be(l);
	__u32 idx = 0, n = 0, k;

	if (len <= l->frame_size - (__u32)(addr % l->frame_size)) {
		/* the common frame: within one chunk, one descriptor */
		xsk_ring_prod__reserve(&b->tx, 1, &idx);
		*xsk_ring_prod__tx_desc(&b->tx, idx) = (struct xdp_desc){.addr = addr, .len = len};
		xsk_ring_prod__submit(&b->tx, 1);
		b->unkicked_desc++;
		return;
	}
	for (k = 0; k < len; n++)
		k += l->frame_size - (__u32)((addr + k) % l->frame_size);
	/* Cannot fail: the tx ring holds every chunk of the pool (see top). */
	xsk_ring_prod__reserve(&b->tx, n, &idx);
	for (k = 0; len; k++) {
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&b->tx, idx + k);
		__u32 room = l->frame_size - (__u32)(addr % l->frame_size);

		d->addr = addr;
		d->len = len < room ? len : room;
		d->options = len > room ? XDP_PKT_CONTD : 0;
		addr += d->len;
		len -= d->len;
	}
	xsk_ring_prod__submit(&b->tx, n);
	b->unkicked_desc += n;
}

static int xdp_kick(struct xts_link *l)
{
	/* Copy mode transmits from sendto(), at most a kernel batch (32) of
	 * descriptors per call, returning EAGAIN while more are left. */
	struct xdp_be *b = be(l);
	unsigned tries = b->unkicked_desc / 16 + 8;

	while (l->unkicked && tries--) {
		l->st.kicks++;
		if (sendto(l->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0) {
			l->unkicked = 0;
			b->unkicked_desc = 0;
			break;
		}
		if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR) {
			l->st.kick_errs++;
			return -errno;
		}
	}
	return 0;
}

static void xdp_reap(struct xts_link *l)
{
	struct xdp_be *b = be(l);
	__u32 idx, n, i;

	n = xsk_ring_cons__peek(&b->comp, l->ring_size, &idx);
	for (i = 0; i < n; i++)
		link_pool_put(l, *xsk_ring_cons__comp_addr(&b->comp, idx + i));
	if (n)
		xsk_ring_cons__release(&b->comp, n);
}

static void xdp_stats(struct xts_link *l, struct xts_link_stats *st)
{
	struct xdp_statistics xs;
	socklen_t len = sizeof(xs);

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

static void xdp_destroy(struct xts_link *l)
{
	struct xdp_be *b = be(l);

	if (b->adopted) /* rings we mapped, a socket we were given */
		link_xdp_adopt_release(l, b);
	if (b->xsk)
		xsk_socket__delete(b->xsk);
	if (b->umem)
		xsk_umem__delete(b->umem);
	free(b->stash);
	free(b);
}

const struct link_ops link_xdp_ops = {
    .rx_peek = xdp_rx_peek,
    .rx_unpeek = xdp_rx_unpeek,
    .rx_release = xdp_rx_release,
    .fill_put = xdp_fill_put,
    .rx_ready = xdp_rx_ready,
    .tx_put = xdp_tx_put,
    .kick = xdp_kick,
    .reap = xdp_reap,
    .stats = xdp_stats,
    .destroy = xdp_destroy,
};

int xts_link__if_info(const char *ifname, __u8 mac[XTS_MAC_LEN], __u32 *mtu)
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

static int register_xsk(struct xdp_be *b, const char *ifname, const struct xts_link_opts *o)
{
	struct xts_xdp_maps maps;
	int ifindex, err;

	if (o->xsks_map_fd >= 0)
		return xsk_socket__update_xskmap(b->xsk, o->xsks_map_fd);
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -errno;
	err = o->attach ? xts_xdp__attach(ifindex, &maps) : xts_xdp__find(ifindex, &maps);
	if (err)
		return err;
	err = xsk_socket__update_xskmap(b->xsk, maps.xsks_map_fd);
	xts_xdp__maps_close(&maps);
	return err;
}

int link_xdp_post_rx(struct xts_link *l, struct xdp_be *b)
{
	__u32 idx = 0, i;

	b->stash = calloc(l->fill_frames, sizeof(*b->stash));
	if (!b->stash)
		return -ENOMEM;
	if (xsk_ring_prod__reserve(&b->fill, l->fill_frames, &idx) != l->fill_frames)
		return -ENOSPC;
	for (i = 0; i < l->fill_frames; i++)
		*xsk_ring_prod__fill_addr(&b->fill, idx + i) = (__u64)i * l->frame_size;
	xsk_ring_prod__submit(&b->fill, l->fill_frames);
	return 0;
}

/* UMEM and socket on (ifname, queue), bound with @bind_flags. */
static int xdp_bind(struct xts_link *l, struct xdp_be *b, const char *ifname,
		    const struct xts_link_opts *o, __u16 bind_flags)
{
	struct xsk_umem_config ucfg;
	struct xsk_socket_config scfg;
	int err;

	memset(&ucfg, 0, sizeof(ucfg));
	ucfg.fill_size = o->ring_size;
	ucfg.comp_size = o->ring_size;
	ucfg.frame_size = o->frame_size;
	ucfg.frame_headroom = XTS_LINK_PAD; /* payload 64-byte aligned (link.h) */
	err = xsk_umem__create(&b->umem, l->area, l->area_size, &b->fill, &b->comp, &ucfg);
	if (err)
		return err;

	memset(&scfg, 0, sizeof(scfg));
	scfg.rx_size = o->ring_size;
	scfg.tx_size = o->ring_size;
	scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
	/* veth has no zero-copy AF_XDP: copy mode, and no need_wakeup so
	 * that a sendto() kick is the only tx doorbell we have to think of. */
	scfg.bind_flags = bind_flags;
	err = xsk_socket__create(&b->xsk, ifname, l->queue, b->umem, &b->rx, &b->tx, &scfg);
	if (err) {
		b->xsk = NULL;
		xsk_umem__delete(b->umem);
		b->umem = NULL;
		return err;
	}
	l->fd = xsk_socket__fd(b->xsk);
	return 0;
}

/*
 * Bound with XDP_USE_SG where the interface's MTU carries frames larger
 * than a chunk (docs/protocol.md, "Multi-buffer frames"); a kernel or
 * driver that refuses the flag (EINVAL before 6.6, EOPNOTSUPP for a
 * zero-copy driver without multi-buffer) gets a socket without it and a
 * note saying why, which the caller logs once.
 */
static int xdp_bind_mbuf(struct xts_link *l, struct xdp_be *b, const char *ifname,
			 const struct xts_link_opts *o)
{
	int err;

	if (!l->mtu || l->mtu + XTS_ETH_HLEN <= l->chunk_max_frame)
		return xdp_bind(l, b, ifname, o, XDP_COPY);
	if (xts_link__env_off(XTS_LINK_MBUF_ENV)) {
		l->mbuf_note = "multi-buffer frames off: " XTS_LINK_MBUF_ENV "=0";
		return xdp_bind(l, b, ifname, o, XDP_COPY);
	}
	err = xdp_bind(l, b, ifname, o, XDP_COPY | XDP_USE_SG);
	if (err == -EINVAL || err == -EOPNOTSUPP) {
		l->mbuf_note = err == -EINVAL ? "multi-buffer frames off: bind(XDP_USE_SG): "
						"Invalid argument (kernel before 6.6?)"
					      : "multi-buffer frames off: bind(XDP_USE_SG): "
						"Operation not supported by the driver";
		return xdp_bind(l, b, ifname, o, XDP_COPY);
	}
	if (err)
		return err;
	err = link_mbuf_on(l);
	if (err == -ENOSPC)
		l->mbuf_note = "multi-buffer frames off: UMEM or rings too small for them";
	return err == -ENOMEM ? err : 0;
}

/* UMEM and socket on (ifname, queue), registered, the rx half posted. */
static int xdp_open(struct xts_link *l, struct xdp_be *b, const char *ifname,
		    const struct xts_link_opts *o)
{
	int err;

	err = xdp_bind_mbuf(l, b, ifname, o);
	if (err)
		return err;

	err = register_xsk(b, ifname, o);
	if (err)
		return err;
	return link_xdp_post_rx(l, b);
}

int xts_link__create(struct xts_link **out, const char *ifname, __u32 queue,
		     const struct xts_link_opts *opts)
{
	struct xts_link_opts o;
	struct xts_link *l;
	struct xdp_be *b;
	__u8 mac[XTS_MAC_LEN];
	__u32 mtu = 0;
	int err;

	err = link_opts(&o, opts);
	if (err)
		return err;
	err = xts_link__if_info(ifname, mac, &mtu);
	if (err)
		return err;
	err = link_alloc(&l, &o, queue, mtu);
	if (err)
		return err;
	b = calloc(1, sizeof(*b));
	if (!b) {
		link_free(l);
		return -ENOMEM;
	}
	l->be = b;
	l->ops = &link_xdp_ops;
	memcpy(l->mac, mac, XTS_MAC_LEN);
	err = xdp_open(l, b, ifname, &o);
	if (err) {
		xts_link__destroy(l);
		return err;
	}
	*out = l;
	return 0;
}
