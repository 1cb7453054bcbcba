// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_diag.c - the AF_XDP sockets of this network namespace, as the kernel
 * reports them over NETLINK_SOCK_DIAG (xdp_diag, what `ss --xdp` shows):
 * inode, interface and queue, owner, ring sizes and UMEM.  xportd asks
 * when a lessee of an earlier xportd hands its socket back (is it what it
 * claims?) and at start (which queues are held by sockets it does not
 * know).  The kernel answers only a dump of them all; there are few.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/xdp_diag.h>

#include "xportd.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

/* The attributes of one socket's message into *x. */
static void parse_attrs(const struct nlmsghdr *h, struct xpd_xsk_info *x)
{
	const struct xdp_diag_msg *m = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	const struct nlattr *a = (const void *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));

	memset(x, 0, sizeof(*x));
	x->ino = m->xdiag_ino;
	while (len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= (unsigned)len) {
		const void *v = (const char *)a + NLA_HDRLEN;
		unsigned vl = a->nla_len - NLA_HDRLEN;

		switch (a->nla_type) {
		case XDP_DIAG_INFO:
			if (vl >= sizeof(struct xdp_diag_info)) {
				const struct xdp_diag_info *i = v;

				x->ifindex = i->ifindex;
				x->queue = i->queue_id;
			}
			break;
		case XDP_DIAG_UID:
			if (vl >= sizeof(__u32))
				memcpy(&x->uid, v, sizeof(__u32));
			break;
		case XDP_DIAG_RX_RING:
		case XDP_DIAG_TX_RING:
		case XDP_DIAG_UMEM_FILL_RING:
		case XDP_DIAG_UMEM_COMPLETION_RING:
			if (vl >= sizeof(struct xdp_diag_ring)) {
				__u32 e = ((const struct xdp_diag_ring *)v)->entries;

				if (a->nla_type == XDP_DIAG_RX_RING)
					x->ring_rx = e;
				else if (a->nla_type == XDP_DIAG_TX_RING)
					x->ring_tx = e;
				else if (a->nla_type == XDP_DIAG_UMEM_FILL_RING)
					x->ring_fill = e;
				else
					x->ring_comp = e;
			}
			break;
		case XDP_DIAG_UMEM:
			if (vl >= sizeof(struct xdp_diag_umem)) {
				const struct xdp_diag_umem *u = v;

				x->umem_size = u->size;
				x->chunk_size = u->chunk_size;
			}
			break;
		default:
			break;
		}
		len -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}

static int dump_request(int fd)
{
	struct {
		struct nlmsghdr h;
		struct xdp_diag_req r;
	} req;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = AF_XDP;
	req.r.xdiag_show = XDP_SHOW_INFO | XDP_SHOW_RING_CFG | XDP_SHOW_UMEM;
	return send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req) ? 0 : -errno;
}

int xpd_diag_xsks(struct xpd_xsk_info *out, int max)
{
	static char buf[32768] __attribute__((aligned(8)));
	int fd, n = 0, err = 0;
	struct timeval tv = {.tv_sec = 1};

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* the kernel answers at once; this only bounds a broken one */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	err = dump_request(fd);
	while (!err) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *h = (const void *)buf;

		if (len < 0) {
			err = -errno;
			break;
		}
		for (; NLMSG_OK(h, (unsigned)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				err = e->error ? e->error : -EIO;
				goto out;
			}
			if (n < max)
				parse_attrs(h, &out[n++]);
		}
	}
out:
	close(fd);
	return err ? err : n;
}
