// SPDX-License-Identifier: BSD-2-Clause
/*
 * opts.c - socket options of libxport: the table of those that travel to
 * the DPU (Linux's defaults and range checks), setsockopt/getsockopt, and
 * the SOCKOPT round trip that reads or sets them on the DPU's socket.
 * Options set before a connection exists ride in CONNECT (sock.c) or, on
 * a listener, are inherited by what it accepts (listen.c).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "xport_int.h"

#define MAX_ERRNO 4095

_Static_assert(sizeof(struct tcp_info) <= XTS_SOCKOPT_VALMAX, "tcp_info fits a SOCKOPT");

/* Linux's defaults and checks (net/core/sock.c, net/ipv4/tcp.c). */
// clang-format off
const struct xp_optdesc xp_opt_tab[XO_N] = {
	[XO_RCVBUF] = {SOL_SOCKET, SO_RCVBUF, 131072, XOK_BUF, 2304, 0},
	[XO_SNDBUF] = {SOL_SOCKET, SO_SNDBUF, 16384, XOK_BUF, 4608, 0},
	[XO_MAXSEG] = {IPPROTO_TCP, TCP_MAXSEG, 536, XOK_MSS, 88, 32767},
	[XO_NODELAY] = {IPPROTO_TCP, TCP_NODELAY, 0, XOK_BOOL, 0, 1},
	[XO_KEEPALIVE] = {SOL_SOCKET, SO_KEEPALIVE, 0, XOK_BOOL, 0, 1},
	[XO_KEEPIDLE] = {IPPROTO_TCP, TCP_KEEPIDLE, 7200, XOK_RANGE, 1, 32767},
	[XO_KEEPINTVL] = {IPPROTO_TCP, TCP_KEEPINTVL, 75, XOK_RANGE, 1, 32767},
	[XO_KEEPCNT] = {IPPROTO_TCP, TCP_KEEPCNT, 9, XOK_RANGE, 1, 127},
	[XO_CORK] = {IPPROTO_TCP, TCP_CORK, 0, XOK_BOOL, 0, 1},
	[XO_LINGER] = {SOL_SOCKET, SO_LINGER, -1, XOK_LINGER, 0, 0},
};
// clang-format on

/* ---- options ---- */

static int opt_find(int level, int name)
{
	int k;

	for (k = 0; k < XO_N; k++)
		if (xp_opt_tab[k].level == level && xp_opt_tab[k].name == name)
			return k;
	return -1;
}

/*
 * Ask the DPU's socket: SOCKOPT, then wait for the SOCKOPT_RES with our
 * req.  -ENOTCONN when the connection went away meanwhile (the caller then
 * answers locally, as Linux answers for a closed socket).
 */
static int sockopt_sync(struct xport *xp, struct xsock *s, __u8 dir, int level, int name, int v)
{
	__u8 buf[sizeof(struct xts_sockopt) + sizeof(__s32)];
	uint64_t dl = xp_deadline_ms(XP_SOCKOPT_MS);
	struct xts_sockopt so;
	uint32_t req = xp_next_req(xp);
	size_t plen = sizeof(so);
	__s32 le = (__s32)htole32((__u32)v);

	memset(&so, 0, sizeof(so));
	so.req = htole32(req);
	so.dir = dir;
	so.level = (__s32)htole32((__u32)level);
	so.name = (__s32)htole32((__u32)name);
	if (dir == XTS_SOCKOPT_SET) {
		so.vlen = htole32(sizeof(le));
		memcpy(buf + sizeof(so), &le, sizeof(le));
		plen += sizeof(le);
	}
	memcpy(buf, &so, sizeof(so));
	for (;;) {
		if (s->state != XS_CONNECTED)
			return -ENOTCONN;
		/* Options set while connecting go first, or an older value
		 * could land after this one. */
		if (s->opt_dirty)
			xp_pend_add(xp, s, PS_OPTS);
		if ((!s->opt_dirty || !xp_sock_flush_pend(xp, s)) &&
		    !xp_sock_send(xp, s, XTS_OP_SOCKOPT, buf, plen))
			break;
		if (xp_wait(xp, dl))
			return -ETIMEDOUT;
		xp_run(xp);
	}
	xp->so_req = req;
	xp->so_id = s->id;
	xp->so_done = false;
	xts_link__flush(xp->link, false);
	for (;;) {
		xp_run(xp);
		if (xp->so_done)
			break;
		if (s->state != XS_CONNECTED || xp_wait(xp, dl)) {
			xp->so_req = 0;
			return s->state != XS_CONNECTED ? -ENOTCONN : -ETIMEDOUT;
		}
	}
	xp->so_req = 0;
	if (xp->so_err < 0 || xp->so_err > MAX_ERRNO)
		return -EPROTO;
	return -xp->so_err;
}

static int timeo_set(int64_t *us, const void *val, socklen_t len)
{
	struct timeval tv;

	if (len < sizeof(tv))
		return -EINVAL;
	if (!val)
		return -EFAULT;
	memcpy(&tv, val, sizeof(tv));
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return -EDOM;
	if (tv.tv_sec < 0)
		*us = -1;		/* Linux: a timeout of zero jiffies, i.e. never wait */
	else if (tv.tv_sec > INT32_MAX) /* about 68 years: forever */
		*us = 0;
	else
		*us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	return 0;
}

/* Parse and check a travelling option's value into its wire int. */
static int opt_value(int k, const void *val, socklen_t len, int *out)
{
	const struct xp_optdesc *d = &xp_opt_tab[k];
	int v;

	if (d->kind == XOK_LINGER) {
		struct linger lg;

		if (len < sizeof(lg))
			return -EINVAL;
		if (!val)
			return -EFAULT;
		memcpy(&lg, val, sizeof(lg));
		/* a negative l_linger is "forever" to Linux */
		*out = lg.l_onoff ? (lg.l_linger < 0 ? INT_MAX : lg.l_linger) : -1;
		return 0;
	}
	if (len < sizeof(int))
		return -EINVAL;
	if (!val)
		return -EFAULT;
	memcpy(&v, val, sizeof(v));
	switch (d->kind) {
	case XOK_BOOL:
		v = !!v;
		break;
	case XOK_RANGE:
		if (v < d->min || v > d->max)
			return -EINVAL;
		break;
	case XOK_MSS:
		if (v && (v < d->min || v > d->max))
			return -EINVAL;
		break;
	default: /* XOK_BUF: the kernel clamps */
		break;
	}
	*out = v;
	return 0;
}

XPORT_API int xport_setsockopt(struct xport *xp, int sd, int level, int name, const void *val,
			       socklen_t len)
{
	struct xsock *s = xp_sock(xp, sd);
	int k, v, err, old;
	uint16_t bit, was_set;

	if (!s)
		return xp_fail(EBADF);
	xp_run(xp);
	if (level == SOL_SOCKET && name == SO_RCVTIMEO) {
		err = timeo_set(&s->rcvtimeo_us, val, len);
		return err ? xp_fail(-err) : 0;
	}
	if (level == SOL_SOCKET && name == SO_SNDTIMEO) {
		err = timeo_set(&s->sndtimeo_us, val, len);
		return err ? xp_fail(-err) : 0;
	}
	if (level == IPPROTO_TCP && name == TCP_FASTOPEN_CONNECT) { /* host-side: conn.c */
		if (len < sizeof(int))
			return xp_fail(EINVAL);
		if (!val)
			return xp_fail(EFAULT);
		memcpy(&v, val, sizeof(v));
		s->fo_connect = v != 0;
		return 0;
	}
	/* listen.c's first: XTS_LSN_SHARED is SOL_XTS's too, and is set on
	 * a listening socket (the ULPs' only before it listens) */
	err = xp_lsn_setsockopt(s, level, name, val, len); /* listen.c */
	if (err <= 0)
		return err ? xp_fail(-err) : 0;
	err = xp_ulp_setsockopt(xp, s, level, name, val, len); /* ulp.c */
	if (err <= 0)
		return err ? xp_fail(-err) : 0;
	k = opt_find(level, name);
	if (k < 0)
		return xp_fail(ENOPROTOOPT);
	err = opt_value(k, val, len, &v);
	if (err)
		return xp_fail(-err);
	bit = (uint16_t)(1u << k);
	old = s->optv[k];
	was_set = s->opt_set & bit;
	s->optv[k] = v;
	s->opt_set |= bit;
	switch (s->state) {
	case XS_CONNECTED:
		s->opt_dirty &= (uint16_t)~bit; /* this value supersedes */
		err = sockopt_sync(xp, s, XTS_SOCKOPT_SET, level, name, v);
		if (err && err != -ENOTCONN) {
			s->optv[k] = old;
			s->opt_set = (uint16_t)((s->opt_set & ~bit) | was_set);
			return xp_fail(-err);
		}
		return 0;
	case XS_CONNECTING:
		s->opt_dirty |= bit; /* sent once CONNECT_RES names the DPU socket */
		return 0;
	default: /* NEW: CONNECT carries it; DEAD: nothing left to apply it to */
		return 0;
	}
}

/* What Linux reports for an option of a socket with no TCP connection. */
static int opt_local(const struct xsock *s, int k)
{
	const struct xp_optdesc *d = &xp_opt_tab[k];
	int v;

	if (!(s->opt_set & (1u << k)))
		return d->def;
	v = s->optv[k];
	if (d->kind == XOK_BUF) { /* the kernel doubles it for overhead */
		if (v < 0)
			v = 0;
		v = v > INT_MAX / 2 ? INT_MAX : v * 2;
		if (v < d->min)
			v = d->min;
	}
	if (d->kind == XOK_MSS && !v)
		v = d->def;
	return v;
}

union optval {
	int i;
	struct linger lg;
	struct timeval tv;
	struct tcp_info ti;
	__u8 raw[XTS_SOCKOPT_VALMAX];
};

/* The SOL_SOCKET options libxport answers itself, with no word to the
 * DPU: true if @name is one. */
static bool get_local(struct xsock *s, int name, union optval *u, size_t *vlen)
{
	int64_t us;

	switch (name) {
	case SO_ERROR:
		u->i = xp_take_error(s);
		return true;
	case SO_TYPE:
		u->i = SOCK_STREAM;
		return true;
	case SO_DOMAIN:
		u->i = s->family;
		return true;
	case SO_PROTOCOL:
		u->i = IPPROTO_TCP;
		return true;
	case SO_ACCEPTCONN:
		u->i = s->state == XS_LISTEN;
		return true;
	case SO_RCVTIMEO:
	case SO_SNDTIMEO:
		us = name == SO_RCVTIMEO ? s->rcvtimeo_us : s->sndtimeo_us;
		if (us > 0) {
			u->tv.tv_sec = (time_t)(us / 1000000);
			u->tv.tv_usec = (suseconds_t)(us % 1000000);
		}
		*vlen = sizeof(u->tv);
		return true;
	default:
		return false;
	}
}

/* TCP_INFO: the DPU kernel's for a connection, else the state Linux
 * reports for a socket without one.  0 or -errno. */
static int get_tcp_info(struct xport *xp, struct xsock *s, union optval *u, size_t *vlen)
{
	int err;

	if (s->state == XS_CONNECTED) {
		err = sockopt_sync(xp, s, XTS_SOCKOPT_GET, IPPROTO_TCP, TCP_INFO, 0);
		if (!err) {
			memcpy(u->raw, xp->so_val, xp->so_vlen);
			*vlen = xp->so_vlen;
			return 0;
		}
		if (err != -ENOTCONN)
			return err;
	}
	u->ti.tcpi_state = s->state == XS_CONNECTING ? TCP_SYN_SENT : TCP_CLOSE;
	*vlen = sizeof(u->ti);
	return 0;
}

/* Option @k of the table: the DPU kernel's value for a connection, else
 * what was set here or the default.  0 or -errno. */
static int get_tab(struct xport *xp, struct xsock *s, int k, union optval *u, size_t *vlen)
{
	const struct xp_optdesc *d = &xp_opt_tab[k];
	int err = -ENOTCONN;

	if (s->state == XS_CONNECTED)
		err = sockopt_sync(xp, s, XTS_SOCKOPT_GET, d->level, d->name, 0);
	if (!err) {
		__s32 le;

		if (xp->so_vlen < sizeof(le))
			return -EPROTO;
		memcpy(&le, xp->so_val, sizeof(le));
		u->i = (int)(__s32)le32toh((__u32)le);
	} else if (err == -ENOTCONN) {
		u->i = opt_local(s, k);
	} else {
		return err;
	}
	if (d->kind == XOK_LINGER) { /* the wire int back to a linger */
		int l = u->i;

		u->lg.l_onoff = l >= 0;
		u->lg.l_linger = l >= 0 ? l : 0;
		*vlen = sizeof(u->lg);
	}
	return 0;
}

XPORT_API int xport_getsockopt(struct xport *xp, int sd, int level, int name, void *val,
			       socklen_t *len)
{
	struct xsock *s = xp_sock(xp, sd);
	union optval u;
	size_t vlen = sizeof(int), n;
	int k, err;

	if (!s)
		return xp_fail(EBADF);
	if (!len)
		return xp_fail(EFAULT);
	if (*len > INT_MAX)
		return xp_fail(EINVAL);
	xp_run(xp);
	if (!val && *len)
		return xp_fail(EFAULT);
	memset(&u, 0, sizeof(u));
	if (level == SOL_XTS && name == XTS_OUTQ) {
		if (s->acq)
			return xp_fail(EINVAL); /* as SIOCOUTQ on a listener */
		if (s->state == XS_CONNECTED)
			u.i = s->snd_out < INT_MAX ? (int)s->snd_out : INT_MAX;
		goto out;
	}
	if (level == SOL_XTS && !xp_lsn_getsockopt(s, level, name, &u.i)) /* listen.c */
		goto out;
	err = xp_ulp_getsockopt(s, level, name, val, len); /* ulp.c */
	if (err <= 0)
		return err ? xp_fail(-err) : 0;
	if (level == SOL_SOCKET && get_local(s, name, &u, &vlen))
		goto out;
	if (level == IPPROTO_TCP && name == TCP_FASTOPEN_CONNECT) {
		u.i = s->fo_connect;
		goto out;
	}
	if (level == IPPROTO_TCP && name == TCP_INFO) {
		err = get_tcp_info(xp, s, &u, &vlen);
		if (err)
			return xp_fail(-err);
		goto out;
	}
	if (!xp_lsn_getsockopt(s, level, name, &u.i)) /* listen.c */
		goto out;
	k = opt_find(level, name);
	if (k < 0)
		return xp_fail(ENOPROTOOPT);
	err = get_tab(xp, s, k, &u, &vlen);
	if (err)
		return xp_fail(-err);
out:
	n = *len < vlen ? *len : vlen; /* a short buffer gets a prefix, as Linux */
	if (n && !val)
		return xp_fail(EFAULT);
	if (n)
		memcpy(val, &u, n);
	*len = (socklen_t)n;
	return 0;
}
