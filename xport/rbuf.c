// SPDX-License-Identifier: BSD-2-Clause
/*
 * rbuf.c - a connection's receive ring.  Allocated on the first DATA with
 * XP_RBUF_MIN bytes and doubled as unread bytes need, up to the queue's
 * rcvbuf: a connection that holds little costs a small heap block, not a
 * page of an rcvbuf-sized mapping (docs/design.md, memory per connection).
 * Credit guarantees the ring never needs more than rcvbuf.
 */
#include <stdlib.h>
#include <string.h>

#include "xport_int.h"

void xp_sock_release_rx(struct xport *xp, struct xsock *s)
{
	if (s->zc) {
		xp_zc_consume(xp, s, s->zc->bytes);
		s->zc->lent = 0; /* what was lent is gone: recv_done says EINVAL */
	}
	free(s->rbuf);
	s->rbuf = NULL;
	s->rhead = s->rlen = s->rcap = 0;
}

/* The ring doubles, its bytes moved to the front of the new one. */
int xp_rbuf_grow(struct xport *xp, struct xsock *s, uint32_t need)
{
	uint32_t cap = s->rcap ? s->rcap : XP_RBUF_MIN, first;
	uint8_t *nb;

	while (cap < need)
		cap *= 2;
	if (cap > xp->rcvbuf)
		cap = xp->rcvbuf;
	nb = malloc(cap);
	if (!nb)
		return -ENOBUFS;
	first = s->rcap - s->rhead < s->rlen ? s->rcap - s->rhead : s->rlen;
	if (s->rlen) {
		memcpy(nb, s->rbuf + s->rhead, first);
		memcpy(nb + first, s->rbuf, s->rlen - first);
	}
	free(s->rbuf);
	s->rbuf = nb;
	s->rcap = cap;
	s->rhead = 0;
	return 0;
}

uint32_t xp_rbuf_take(struct xsock *s, __u8 *dst, size_t len, bool consume)
{
	uint32_t n = s->rlen < len ? s->rlen : (uint32_t)len;
	uint32_t first = s->rcap - s->rhead;

	if (first > n)
		first = n;
	if (dst) {
		memcpy(dst, s->rbuf + s->rhead, first);
		memcpy(dst + first, s->rbuf, n - first);
	}
	if (consume) {
		s->rhead += n;
		if (s->rhead >= s->rcap)
			s->rhead -= s->rcap;
		s->rlen -= n;
		if (!s->rlen)
			s->rhead = 0;
	}
	return n;
}

uint32_t xp_rx_take(struct xport *xp, struct xsock *s, __u8 *dst, size_t len, bool consume)
{
	struct xp_zc *z = s->zc;
	uint32_t got = 0, i;

	if (z) { /* the kept frames come first in the stream */
		for (i = 0; i < z->n && got < len; i++) {
			const struct xp_zseg *g = &z->q[(z->head + i) % XP_ZC_SOCK_MAX];
			uint32_t k = len - got < g->len ? (uint32_t)(len - got) : g->len;

			if (dst)
				memcpy(dst + got, g->p, k);
			got += k;
		}
		if (consume)
			xp_zc_consume(xp, s, got);
	}
	if (!s->rlen || got == len)
		return got; /* no ring, maybe none allocated */
	return got + xp_rbuf_take(s, dst ? dst + got : NULL, len - got, consume);
}
