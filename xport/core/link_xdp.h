/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * link_xdp.h - inside the AF_XDP transport: its state, shared by the two
 * ways a link gets an AF_XDP socket: link_xdp.c creates one with libxdp
 * (xts_link__create), link_adopt.c takes one that xportd created and
 * bound (xts_link__adopt).  Either way libxdp's ring functions drive the
 * rings, through the same ops.
 */
#ifndef XTS_LINK_XDP_H
#define XTS_LINK_XDP_H

#include <xdp/xsk.h>

#include "link_int.h"

struct xdp_adopted;

struct xdp_be {
	struct xsk_umem *umem;	     /* NULL when adopted */
	struct xsk_socket *xsk;	     /* NULL when adopted */
	struct xdp_adopted *adopted; /* the rings link_adopt.c mapped itself */
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	__u32 unkicked_desc; /* descriptors on the tx ring not yet sent */
	__u64 *stash;	     /* rx frames the fill ring had no room for yet */
	__u32 stash_n;
};

extern const struct link_ops link_xdp_ops;

/* Post the rx half of UMEM, frames [0, fill_frames), on the fill ring. */
int link_xdp_post_rx(struct xts_link *l, struct xdp_be *b);
/* link_adopt.c: unmap the rings and close the socket of an adopted link. */
void link_xdp_adopt_release(struct xts_link *l, struct xdp_be *b);

#endif
