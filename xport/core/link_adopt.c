// SPDX-License-Identifier: BSD-2-Clause
/*
 * link_adopt.c - a queue link over an AF_XDP socket that someone else
 * created: xportd, the host's queue broker, makes the socket, registers
 * a memfd UMEM, sizes the rings, binds (copy mode) and fills the XSKMAP,
 * all of which need privileges, and hands the socket and the memfd to an
 * unprivileged process (docs/design.md, "xportd").
 *
 * Where libxdp stops: libxdp 1.3 can only create sockets
 * (xsk_umem__create, xsk_socket__create); it has no call that takes an
 * existing one.  What it does after creating one is small: four mmaps at
 * the offsets XDP_MMAP_OFFSETS gives, and four struct xsk_ring_prod/cons
 * filled in.  That is all this file does, exactly as libxdp's own
 * xsk_create_umem_rings() and xsk_socket__create_shared() do, including
 * the "cached_cons is size bigger than the consumer" rule of producer
 * rings.  From there on libxdp's inline ring functions drive the rings
 * through the very ops of link_xdp.c: one data path whoever set it up.
 * Mapping the rings and kicking with sendto() need no capability
 * (checked on Linux 6.18: a process with none maps all four rings of a
 * socket root bound, receives, transmits).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_xdp.h>

#include "link_xdp.h"

enum { R_FILL, R_COMP, R_RX, R_TX, R_N };

struct xdp_adopted {
	void *map[R_N];
	size_t len[R_N];
};

static const off_t ring_pgoff[R_N] = {XDP_UMEM_PGOFF_FILL_RING, XDP_UMEM_PGOFF_COMPLETION_RING,
				      XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING};

static int ring_offsets(int fd, struct xdp_mmap_offsets *off)
{
	socklen_t optlen = sizeof(*off);

	if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, off, &optlen))
		return -errno;
	if (optlen != sizeof(*off)) /* a kernel before 5.4: no flags word */
		return -EOPNOTSUPP;
	return 0;
}

/* Map ring @i of @n entries as libxdp does (the descriptors follow the
 * producer and consumer words, at the kernel's offsets) and fill @r, a
 * struct xsk_ring_prod or xsk_ring_cons (the same layout): the cached
 * indexes start from the ring's real ones, so a ring someone else drove
 * is taken up where it stands. */
static int map_ring(int fd, const struct xdp_mmap_offsets *off, int i, __u32 n,
		    struct xsk_ring_cons *r, void **map, size_t *len)
{
	const struct xdp_ring_offset *ro = i == R_FILL	 ? &off->fr
					   : i == R_COMP ? &off->cr
					   : i == R_RX	 ? &off->rx
							 : &off->tx;
	size_t desc = i < R_RX ? sizeof(__u64) : sizeof(struct xdp_desc);
	char *m;

	*len = ro->desc + n * desc;
	m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, ring_pgoff[i]);
	if (m == MAP_FAILED) {
		*map = NULL;
		return -errno;
	}
	*map = m;
	r->mask = n - 1;
	r->size = n;
	r->producer = (void *)(m + ro->producer);
	r->consumer = (void *)(m + ro->consumer);
	r->flags = (void *)(m + ro->flags);
	r->ring = m + ro->desc;
	r->cached_prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	r->cached_cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	/* a producer ring's cached_cons runs a ring ahead (xsk_prod_nb_free) */
	if (i == R_FILL || i == R_TX)
		r->cached_cons += n;
	return 0;
}

_Static_assert(sizeof(struct xsk_ring_prod) == sizeof(struct xsk_ring_cons),
	       "libxdp's two ring structs share one layout");

static int map_rings(struct xts_link *l, struct xdp_be *b, struct xdp_adopted *ad)
{
	void *r[R_N] = {&b->fill, &b->comp, &b->rx, &b->tx};
	struct xdp_mmap_offsets off;
	int i, err;

	err = ring_offsets(l->fd, &off);
	for (i = 0; i < R_N && !err; i++)
		err = map_ring(l->fd, &off, i, l->ring_size, r[i], &ad->map[i], &ad->len[i]);
	return err;
}

void link_xdp_adopt_release(struct xts_link *l, struct xdp_be *b)
{
	struct xdp_adopted *ad = b->adopted;

	for (int i = 0; i < R_N; i++)
		if (ad->map[i])
			munmap(ad->map[i], ad->len[i]);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(ad);
	b->adopted = NULL;
}

int xts_link__adopt(struct xts_link **out, const struct xts_link_adopt *a)
{
	struct xts_link_opts o = {.sz = sizeof(o)};
	struct xdp_adopted *ad;
	struct xts_link *l;
	struct xdp_be *b;
	void *area;
	int err;

	if (!out || !a || a->sz < sizeof(*a) || a->xsk_fd < 0 || a->umem_fd < 0)
		return -EINVAL;
	o.frames = a->frames;
	o.frame_size = a->frame_size;
	o.ring_size = a->ring_size;
	o.window = a->window;
	err = link_opts(&o, &o);
	if (err)
		return err;
	if (a->umem_size < (__u64)o.frames * o.frame_size || a->umem_size > SIZE_MAX)
		return -EINVAL;
	area = mmap(NULL, a->umem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		    a->umem_fd, 0);
	if (area == MAP_FAILED)
		return -errno;
	err = link_alloc_in(&l, &o, a->queue, a->mtu, area, a->umem_size);
	if (err) {
		munmap(area, a->umem_size);
		return err;
	}
	b = calloc(1, sizeof(*b));
	ad = calloc(1, sizeof(*ad));
	if (!b || !ad) {
		free(b);
		free(ad);
		link_free(l);
		return -ENOMEM;
	}
	b->adopted = ad;
	l->be = b;
	l->ops = &link_xdp_ops;
	memcpy(l->mac, a->mac, XTS_MAC_LEN);
	l->fd = a->xsk_fd;
	err = map_rings(l, b, ad);
	/* xportd bound it with XDP_USE_SG: frames of several chunks, as a
	 * link that binds its own socket (link_xdp.c) */
	if (!err && a->sg && (err = link_mbuf_on(l)) != -ENOMEM) {
		if (err == -ENOSPC)
			l->mbuf_note = "multi-buffer frames off: UMEM or rings too small for them";
		err = 0;
	}
	if (!err)
		err = link_xdp_post_rx(l, b);
	if (err) {
		l->fd = -1; /* the caller's again */
		xts_link__destroy(l);
		return err;
	}
	*out = l;
	return 0;
}

int xts_link__send_orphan(int xsk_fd, void *umem, __u64 umem_size, __u32 ring_size, __u64 addr,
			  const void *frame, __u32 len)
{
	struct xsk_ring_cons comp, tx;
	struct xdp_mmap_offsets off;
	void *cmap = NULL, *tmap = NULL;
	size_t clen = 0, tlen = 0;
	struct xdp_desc *d;
	__u32 idx = 0, cidx = 0, n;
	int err, tries;

	if (!umem || addr + len > umem_size || !ring_size || ring_size & (ring_size - 1))
		return -EINVAL;
	err = ring_offsets(xsk_fd, &off);
	if (!err)
		err = map_ring(xsk_fd, &off, R_COMP, ring_size, &comp, &cmap, &clen);
	if (!err)
		err = map_ring(xsk_fd, &off, R_TX, ring_size, &tx, &tmap, &tlen);
	if (err)
		goto out;
	memcpy((char *)umem + addr, frame, len);
	/* The owner is gone: its completions are nobody's.  Taking them
	 * makes room for the kernel to complete ours; a kick sends what the
	 * owner left on the tx ring and makes room there. */
	for (tries = 0; tries < 8; tries++) {
		n = xsk_ring_cons__peek(&comp, ring_size, &cidx);
		if (n)
			xsk_ring_cons__release(&comp, n);
		if (xsk_ring_prod__reserve((struct xsk_ring_prod *)&tx, 1, &idx) == 1)
			break;
		sendto(xsk_fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
	}
	if (tries == 8) {
		err = -ENOBUFS;
		goto out;
	}
	d = xsk_ring_prod__tx_desc((struct xsk_ring_prod *)&tx, idx);
	d->addr = addr;
	d->len = len;
	d->options = 0;
	xsk_ring_prod__submit((struct xsk_ring_prod *)&tx, 1);
	/* copy mode sends from sendto(), a kernel batch per call: until the
	 * kernel has taken ours */
	for (tries = 0; tries < 64; tries++) {
		if (sendto(xsk_fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
		    errno != EBUSY && errno != ENOBUFS && errno != EINTR) {
			err = -errno;
			break;
		}
		if ((__s32)(__atomic_load_n(tx.consumer, __ATOMIC_ACQUIRE) - (idx + 1)) >= 0)
			break;
		n = xsk_ring_cons__peek(&comp, ring_size, &cidx);
		if (n)
			xsk_ring_cons__release(&comp, n);
	}
	if (!err && tries == 64)
		err = -ETIMEDOUT;
out:
	if (cmap)
		munmap(cmap, clen);
	if (tmap)
		munmap(tmap, tlen);
	return err;
}
