// SPDX-License-Identifier: BSD-2-Clause
/*
 * ulp.c - ULPs a program pushes on an XTS socket (include/xport.h: TCP_ULP,
 * SOL_XTS): what to push travels in the socket's CONNECT or LISTEN (one
 * struct xts_ulp, no extra round trip), what it became comes back in
 * CONNECT_RES, NEW_CONN or ULP_RES (struct xts_ulp_info).  Names and
 * results only: no key or certificate is ever on this side of the queue.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xport_int.h"

struct xp_ulp {
	struct xts_ulp req;	  /* what the program pushed */
	struct xts_ulp_info info; /* what it became (wire form) */
	/* framing: the lengths of the whole messages in the receive ring, in
	 * order (mq[mq_head] is what is left of the first), and the bytes of
	 * the message still arriving behind them.  Every message has at
	 * least one byte, so the ring bounds the queue: at most rcvbuf
	 * entries, grown by doubling as messages wait. */
	uint32_t *mq;
	uint32_t mq_head, mq_n, mq_cap;
	uint32_t cur;
};

void xp_ulp_free(struct xsock *s)
{
	if (s->ulp)
		free(s->ulp->mq);
	free(s->ulp);
	s->ulp = NULL;
}

static bool has_strp(const struct xsock *s)
{
	return s->ulp && (s->ulp->req.ulps & XTS_ULP_STRP);
}

static int set_str(char *dst, size_t size, const void *val, socklen_t len)
{
	size_t n = strnlen(val, len);

	if (n >= size)
		return -EINVAL;
	memset(dst, 0, size); /* zero-padded on the wire */
	memcpy(dst, val, n);
	return 0;
}

/* ALPN in wire form: length-prefixed names, each 1..255 bytes. */
static int set_alpn(__u8 *dst, size_t size, const __u8 *val, socklen_t len)
{
	size_t i = 0;

	if (len >= size)
		return -EINVAL;
	while (i < len) {
		if (!val[i] || i + 1 + val[i] > len)
			return -EINVAL;
		i += 1u + val[i];
	}
	memset(dst, 0, size);
	memcpy(dst, val, len);
	return 0;
}

/* TCP_ULP "tls" or "strp": 0 or -errno (both may be pushed, in either
 * order: TLS is always below framing). */
static int push(struct xsock *s, const char *val, socklen_t len)
{
	size_t n = strnlen(val, len);
	__u8 ulp;

	if (n == 3 && !memcmp(val, "tls", 3))
		ulp = XTS_ULP_TLS;
	else if (n == 4 && !memcmp(val, "strp", 4))
		ulp = XTS_ULP_STRP;
	else
		return -ENOENT; /* as Linux for a ULP it does not have */
	if (s->ulp && (s->ulp->req.ulps & ulp))
		return -EEXIST;
	if (!s->ulp && !(s->ulp = calloc(1, sizeof(*s->ulp))))
		return -ENOMEM;
	s->ulp->req.ulps |= ulp;
	return 0;
}

/* XTS_STRP: the framing, checked as the shard will check it. */
static int set_strp(struct xport *xp, struct xsock *s, const void *val, socklen_t len)
{
	struct xport_strp o;
	struct xts_strp *w = &s->ulp->req.strp;

	if (len < sizeof(o))
		return -EINVAL;
	memcpy(&o, val, sizeof(o));
	if (!o.kind || o.kind >= XTS_STRP_KIND_MAX || (o.flags & ~XTS_STRP_F_ALL) || o.reserved)
		return -EINVAL;
	if (o.kind == XTS_STRP_LEN && o.width != 1 && o.width != 2 && o.width != 4 && o.width != 8)
		return -EINVAL;
	/* a whole message must fit the receive buffer: it is delivered whole */
	if (o.max > xp->rcvbuf)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->kind = o.kind;
	w->width = o.kind == XTS_STRP_LEN ? o.width : 0;
	w->flags = o.flags;
	w->offset = htole32(o.offset);
	w->adjust = (__s32)htole32((__u32)o.adjust);
	w->max = htole32(o.max ? o.max : xp->rcvbuf);
	return 0;
}

int xp_ulp_setsockopt(struct xport *xp, struct xsock *s, int level, int name, const void *val,
		      socklen_t len)
{
	bool tls;

	if (!(level == SOL_TCP && name == TCP_ULP) && level != SOL_XTS)
		return 1; /* not ours */
	if (!val)
		return -EFAULT;
	if (s->state != XS_NEW) /* pushed with CONNECT or LISTEN only */
		return s->state == XS_CONNECTED ? -EOPNOTSUPP : -EINVAL;
	if (level == SOL_TCP)
		return push(s, val, len);
	/* as Linux: the ULP first, then its options */
	tls = s->ulp && (s->ulp->req.ulps & XTS_ULP_TLS);
	switch (name) {
	case XTS_TLS_PROFILE:
		return tls ? set_str(s->ulp->req.profile, sizeof(s->ulp->req.profile), val, len)
			   : -ENOPROTOOPT;
	case XTS_TLS_SERVER_NAME:
		return tls ? set_str(s->ulp->req.sni, sizeof(s->ulp->req.sni), val, len)
			   : -ENOPROTOOPT;
	case XTS_TLS_ALPN:
		return tls ? set_alpn(s->ulp->req.alpn, sizeof(s->ulp->req.alpn), val, len)
			   : -ENOPROTOOPT;
	case XTS_STRP:
		return has_strp(s) ? set_strp(xp, s, val, len) : -ENOPROTOOPT;
	default:
		return -ENOPROTOOPT;
	}
}

int xp_ulp_getsockopt(const struct xsock *s, int level, int name, void *val, socklen_t *len)
{
	struct xport_ulp_info o;
	const struct xts_ulp_info *i;

	if (level != SOL_XTS)
		return 1;
	if (name != XTS_ULP_INFO)
		return -ENOPROTOOPT;
	if (!s->ulp)
		return -ENOENT; /* no ULP on this socket */
	i = &s->ulp->info;
	memset(&o, 0, sizeof(o));
	o.version = le16toh(i->version);
	o.flags = le16toh(i->flags);
	o.verify = (int32_t)le32toh((__u32)i->verify);
	o.err = (int32_t)le32toh((__u32)i->err);
	memcpy(o.cipher, i->cipher, sizeof(o.cipher));
	memcpy(o.alpn, i->alpn, sizeof(o.alpn));
	memcpy(o.sni, i->sni, sizeof(o.sni));
	memcpy(o.reason, i->reason, sizeof(o.reason));
	if (*len > sizeof(o))
		*len = sizeof(o);
	memcpy(val, &o, *len);
	return 0;
}

int xp_ulp_check(struct xport *xp, const struct xsock *s)
{
	const struct xts_ulp *u = s->ulp ? &s->ulp->req : NULL;

	if (!u)
		return 0;
	if ((u->ulps & XTS_ULP_TLS) && !u->profile[0])
		return -EDESTADDRREQ; /* TLS names a profile (XTS_TLS_PROFILE) */
	if ((u->ulps & XTS_ULP_STRP) && !u->strp.kind)
		return -EDESTADDRREQ; /* framing names its kind (XTS_STRP) */
	if (xp->sess.state == XSS_UP &&
	    (((u->ulps & XTS_ULP_TLS) && !(xp->sess.caps & XTS_CAP_ULP_TLS)) ||
	     ((u->ulps & XTS_ULP_STRP) && !(xp->sess.caps & XTS_CAP_ULP_STRP))))
		return -EOPNOTSUPP; /* this queue's shard does not do it */
	return 0;
}

size_t xp_ulp_put(const struct xsock *s, void *dst)
{
	if (!s->ulp)
		return 0;
	memcpy(dst, &s->ulp->req, sizeof(s->ulp->req));
	return sizeof(s->ulp->req);
}

void xp_ulp_info(struct xsock *s, const void *info)
{
	if (!s->ulp)
		s->ulp = calloc(1, sizeof(*s->ulp)); /* an accepted socket */
	if (s->ulp)
		memcpy(&s->ulp->info, info, sizeof(s->ulp->info));
}

/* An accepted socket: the listener's framing. */
void xp_ulp_inherit(struct xsock *s, const struct xsock *l)
{
	if (has_strp(l) && s->ulp) {
		s->ulp->req.ulps = l->ulp->req.ulps;
		s->ulp->req.strp = l->ulp->req.strp;
	}
}

void xp_ulp_on_res(struct xport *xp, const struct xts_msg *m)
{
	struct xsock *s = xp_sock_by_id(xp, m->dst_id);

	if (s && s->ulp)
		xp_ulp_info(s, m->payload); /* the RESET that follows fails it */
	else
		xp->c.stale++;
}

/* ---- framing: one message per receive ---- */

int xp_strp_on_data(struct xsock *s, uint32_t len, bool eor)
{
	struct xp_ulp *u = s->ulp;

	if (!has_strp(s))
		return 0;
	u->cur += len;
	if (u->cur > le32toh(u->req.strp.max))
		return -EMSGSIZE; /* the shard should have failed it: never deadlock */
	if (!eor || !u->cur)
		return 0;
	if (u->mq_n == u->mq_cap) {
		uint32_t cap = u->mq_cap ? u->mq_cap * 2 : 16, i;
		uint32_t *q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOBUFS;
		for (i = 0; i < u->mq_n; i++)
			q[i] = u->mq[(u->mq_head + i) % u->mq_cap];
		free(u->mq);
		u->mq = q;
		u->mq_cap = cap;
		u->mq_head = 0;
	}
	u->mq[(u->mq_head + u->mq_n++) % u->mq_cap] = u->cur;
	u->cur = 0;
	return 0;
}

uint32_t xp_rx_avail(const struct xsock *s)
{
	if (!has_strp(s))
		return xp_unread(s); /* zero copy's kept frames too (zc.c) */
	return s->ulp->mq_n ? s->ulp->mq[s->ulp->mq_head] : 0;
}

bool xp_strp_taken(struct xsock *s, uint32_t n)
{
	struct xp_ulp *u = s->ulp;

	if (!has_strp(s) || !u->mq_n)
		return false;
	u->mq[u->mq_head] -= n;
	if (u->mq[u->mq_head])
		return false;
	u->mq_head = (u->mq_head + 1) % u->mq_cap;
	u->mq_n--;
	return true; /* the message ended: MSG_EOR */
}

bool xp_sock_framed(const struct xsock *s)
{
	return has_strp(s);
}
