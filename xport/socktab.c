// SPDX-License-Identifier: BSD-2-Clause
/*
 * socktab.c - libxport's socket table: one array of struct xsock sized at
 * open (max_sockets), slots handed out from a LIFO free list, an sd (and
 * every frame's socket id) = slot + generation, so a late frame for a
 * socket that has been closed and its slot reused is recognised as stale.
 */
#include <stdlib.h>
#include <string.h>

#include "xport_int.h"

int xp_socktab_init(struct xport *xp, uint32_t nsocks)
{
	uint32_t i;

	xp->nsocks = nsocks;
	/* calloc of a large table maps zero pages: untouched slots cost none */
	xp->socks = calloc(nsocks, sizeof(*xp->socks));
	if (!xp->socks)
		return -ENOMEM;
	/* LIFO free list, lowest slot on top: a small working set stays
	 * compact in memory and hiwater (the scan bound) stays low. */
	for (i = nsocks; i > 0; i--) {
		xp->socks[i - 1].free_next = xp->free_head;
		xp->free_head = i;
	}
	return 0;
}

void xp_socktab_fini(struct xport *xp)
{
	uint32_t i;

	if (!xp->socks)
		return;
	for (i = 0; i < xp->hiwater; i++) {
		free(xp->socks[i].rbuf);
		free(xp->socks[i].zc); /* its frames go with the link */
		xp_lsn_free(&xp->socks[i]);
		xp_ulp_free(&xp->socks[i]); /* a socket left open with a ULP pushed */
	}
	free(xp->socks);
	xp->socks = NULL;
}

/* An sd of the app: slot in range, generation equal, slot in use. */
struct xsock *xp_sock(struct xport *xp, int sd)
{
	struct xsock *s;
	uint32_t slot;

	if (!xp || sd <= 0)
		return NULL;
	slot = xts_id_slot((uint32_t)sd);
	if (slot >= xp->nsocks)
		return NULL;
	s = &xp->socks[slot];
	if (s->id != (uint32_t)sd || s->state == XS_FREE || s->state == XS_ZOMBIE ||
	    s->state == XS_CLOSING)
		return NULL;
	return s;
}

struct xsock *xp_sock_alloc(struct xport *xp)
{
	struct xsock *s, keep;
	uint32_t slot;

	if (!xp->free_head)
		return NULL;
	slot = xp->free_head - 1;
	s = &xp->socks[slot];
	xp->free_head = s->free_next;
	/* A freed slot may still be linked on the pend, lazy and win lists
	 * (unlinked only when popped).  The new owner keeps the links:
	 * popping it finds nothing owed, or what it owes by then. */
	keep = *s;
	memset(s, 0, sizeof(*s));
	s->pend_n = keep.pend_n;
	s->lazy_n = keep.lazy_n;
	s->term_n = keep.term_n;
	s->win_n = keep.win_n;
	s->gen = (uint16_t)(keep.gen % XTS_ID_GEN_MAX + 1); /* 1..GEN_MAX, never 0 */
	s->id = xts_id_make(slot, s->gen);
	s->state = XS_NEW;
	xp->nused++;
	if (slot + 1 > xp->hiwater)
		xp->hiwater = slot + 1;
	return s;
}

void xp_sock_free(struct xport *xp, struct xsock *s)
{
	xp_lsn_free(s);
	xp_ulp_free(s);
	xp_sock_release_rx(xp, s);
	xp_zc_free(xp, s);
	if (xp->fo_slot == xp_slot_of(xp, s) + 1) /* a deferred CONNECT dies with it */
		xp->fo_slot = 0;
	s->pend = 0;
	/* id 0: frames still on their way for it are stale from now on, and
	 * the next owner gets another generation. */
	s->id = 0;
	s->state = XS_FREE;
	s->free_next = xp->free_head;
	xp->free_head = xp_slot_of(xp, s) + 1;
	xp->nused--;
}

void xp_sock_release(struct xport *xp, struct xsock *s)
{
	if (!s->term.op) {
		xp_sock_free(xp, s);
		return;
	}
	/* The slot keeps its id until the frame is sent: frames still on
	 * their way for it are stale, not another socket's. */
	xp_lsn_free(s);
	xp_sock_release_rx(xp, s);
	s->pend = 0;
	s->state = XS_CLOSING;
}
