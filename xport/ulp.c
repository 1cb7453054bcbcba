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
};

void xp_ulp_free(struct xsock *s)
{
	free(s->ulp);
	s->ulp = NULL;
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

int xp_ulp_setsockopt(struct xsock *s, int level, int name, const void *val, socklen_t len)
{
	if (!(level == SOL_TCP && name == TCP_ULP) && level != SOL_XTS)
		return 1; /* not ours */
	if (!val)
		return -EFAULT;
	if (s->state != XS_NEW) /* pushed with CONNECT or LISTEN only */
		return s->state == XS_CONNECTED ? -EOPNOTSUPP : -EINVAL;
	if (level == SOL_TCP) {
		if (strnlen(val, len) != 3 || memcmp(val, "tls", 3))
			return strnlen(val, len) == 4 && !memcmp(val, "strp", 4) ? -EOPNOTSUPP
										 : -ENOENT;
		if (s->ulp)
			return -EEXIST;
		s->ulp = calloc(1, sizeof(*s->ulp));
		if (!s->ulp)
			return -ENOMEM;
		s->ulp->req.ulps = XTS_ULP_TLS;
		return 0;
	}
	if (!s->ulp) /* as Linux: the ULP first, then its options */
		return -ENOPROTOOPT;
	switch (name) {
	case XTS_TLS_PROFILE:
		return set_str(s->ulp->req.profile, sizeof(s->ulp->req.profile), val, len);
	case XTS_TLS_SERVER_NAME:
		return set_str(s->ulp->req.sni, sizeof(s->ulp->req.sni), val, len);
	case XTS_TLS_ALPN:
		return set_alpn(s->ulp->req.alpn, sizeof(s->ulp->req.alpn), val, len);
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
	if (!s->ulp)
		return 0;
	if (!s->ulp->req.profile[0])
		return -EDESTADDRREQ; /* TLS names a profile (XTS_TLS_PROFILE) */
	if (xp->sess.state == XSS_UP && !(xp->sess.caps & XTS_CAP_ULP_TLS))
		return -EOPNOTSUPP; /* this queue's shard does no TLS */
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

void xp_ulp_on_res(struct xport *xp, const struct xts_msg *m)
{
	struct xsock *s = xp_sock_by_id(xp, m->dst_id);

	if (s && s->ulp)
		xp_ulp_info(s, m->payload); /* the RESET that follows fails it */
	else
		xp->c.stale++;
}
