// SPDX-License-Identifier: BSD-2-Clause
/*
 * xpd_srv.c - xportd's unix socket and its clients.  Every client is a
 * typed handler on the one epoll; nothing here ever blocks on a client:
 *
 * - the listening socket and every client are non-blocking; a client has
 *   limits.request_ms to send its whole request (a slow or silent one is
 *   answered ETIMEDOUT and dropped), a request line is at most
 *   XTS_CTL_LINE_MAX bytes, at most limits.clients are connected at once
 *   (leases included: each lease is a connection) and the rest are
 *   refused EBUSY at accept;
 * - file descriptors arrive only with a renew (SCM_RIGHTS, at most three,
 *   MSG_CMSG_CLOEXEC); any that come with anything else are closed;
 * - a client that waits for a queue or for snapshots is parked with its
 *   own deadline and woken by xpd_srv_kick()/xpd_srv_run(); its hang-up
 *   ends the wait;
 * - a lease is the connection it was granted on: EOF, a hang-up or an
 *   error on it, or the exit of the process that asked (its pidfd), ends
 *   the lease at once (xpd_lease_end).  Bytes a lessee sends afterwards
 *   are read and dropped, a bounded amount per wake.
 */
#define _GNU_SOURCE /* struct ucred, accept4, SO_PEERCRED */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "xpd_srv.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif
#define ACCEPT_MAX   16 /* accepts per wake: the loop has other work */
#define RESP_MS	     5000
#define SNAP_TICK_MS 2

static void on_client(struct xpd *d, struct xpd_ev *ev, uint32_t events);
static void on_accept(struct xpd *d, struct xpd_ev *ev, uint32_t events);

int xpd_srv_open(struct xpd *d)
{
	const struct xpd_cfg *c = d->cfg;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, err;

	d->sock_gid = (gid_t)-1;
	if (c->sock_group[0]) {
		struct group *g = getgrnam(c->sock_group);

		if (!g) {
			xpd_err("socket.group %s: no such group", c->sock_group);
			return -ENOENT;
		}
		d->sock_gid = g->gr_gid;
	}
	d->clients = calloc(c->max_clients, sizeof(*d->clients));
	if (!d->clients)
		return -ENOMEM;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", c->sock_path);
	/* a socket left by a dead xportd is replaced; any other file is not */
	if (lstat(c->sock_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			xpd_err("socket.path %s exists and is not a socket", c->sock_path);
			return -EEXIST;
		}
		unlink(c->sock_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    chmod(c->sock_path, c->sock_mode) ||
	    (d->sock_gid != (gid_t)-1 && chown(c->sock_path, 0, d->sock_gid)) || listen(fd, 64)) {
		err = errno;
		xpd_err("socket %s: %s", c->sock_path, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	d->bound = true;
	d->lsn.fd = fd;
	d->lsn.fn = on_accept;
	return xpd_ev_add(d, &d->lsn, EPOLLIN);
}

static void fds_close(struct xpd_client *cl)
{
	for (unsigned i = 0; i < cl->nfds; i++)
		close(cl->fds[i]);
	cl->nfds = 0;
}

void xpd_client_free(struct xpd *d, struct xpd_client *cl)
{
	char junk[4096];

	if (cl->lease) {
		cl->lease->cl = NULL;
		cl->lease = NULL;
	}
	if (cl->ev.fd >= 0) {
		/* what it sent and we did not read is read away first (a few
		 * KiB): closing over unread bytes sends a reset that may
		 * overtake our answer */
		for (int i = 0; i < 4 && read(cl->ev.fd, junk, sizeof(junk)) > 0; i++)
			;
		close(cl->ev.fd);
	}
	cl->ev.fd = -1;
	fds_close(cl);
	ctl_buf_free(&cl->out);
	cl->st = CL_FREE;
	cl->freed_turn = d->turn;
}

void xpd_srv_close(struct xpd *d)
{
	if (d->clients)
		for (unsigned i = 0; i < d->cfg->max_clients; i++)
			if (d->clients[i].st != CL_FREE)
				xpd_client_free(d, &d->clients[i]);
	free(d->clients);
	d->clients = NULL;
	if (d->lsn.fd >= 0)
		close(d->lsn.fd);
	d->lsn.fd = -1;
	if (d->bound)
		unlink(d->cfg->sock_path);
	d->bound = false;
}

/* ---- answers ---- */

void xpd_client_answer(struct xpd *d, struct xpd_client *cl, int err, const char *msg,
		       const struct ctl_buf *body)
{
	struct ctl_buf *o = &cl->out;

	if (err)
		xpd_refused(d, err);
	ctl_buf_free(o);
	ctl_status_line(o, err, msg && *msg ? msg : strerror(err < 0 ? -err : err));
	if (!err && body && body->len)
		ctl_buf_put(o, body->p, body->len);
	ctl_buf_put(o, "end\n", 4);
	if (o->err) {
		ctl_buf_free(o);
		ctl_status_line(o, E2BIG, "response too large");
		ctl_buf_put(o, "end\n", 4);
	}
	if (!err && cl->lease)
		cl->out_nfds = XTS_LEASE_NFDS;
	cl->off = 0;
	cl->st = CL_WRITE;
	cl->deadline = xpd_now_ms() + RESP_MS;
	xpd_ev_mod(d, &cl->ev, EPOLLOUT);
	on_client(d, &cl->ev, EPOLLOUT); /* it fits a fresh socket's buffer: now */
}

/* The first bytes carry the lease's fds (SCM_RIGHTS). */
static ssize_t send_some(struct xpd_client *cl)
{
	char cbuf[CMSG_SPACE(sizeof(int) * XTS_LEASE_NFDS)];
	struct iovec iov = {.iov_base = cl->out.p + cl->off, .iov_len = cl->out.len - cl->off};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct xpd_lease *ls = cl->lease;

	if (cl->out_nfds && ls) {
		int fds[XTS_LEASE_NFDS] = {ls->xsk_fd, ls->umem_fd, ls->shm_fd};
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	}
	return sendmsg(cl->ev.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void client_write(struct xpd *d, struct xpd_client *cl)
{
	while (cl->off < cl->out.len) {
		ssize_t n = send_some(cl);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break; /* the peer went away */
		cl->off += (size_t)n;
		cl->out_nfds = 0;
	}
	if (cl->off < cl->out.len || !cl->lease || cl->lease->cl != cl) {
		/* an answer without a lease, or a lessee gone before it
		 * took it all: the lease (if any) ends with the client */
		struct xpd_lease *ls = cl->off < cl->out.len ? cl->lease : NULL;

		xpd_client_free(d, cl);
		if (ls)
			xpd_lease_end(d, ls, "its process went away before taking the lease");
		return;
	}
	/* the connection is the lease from now on */
	ctl_buf_free(&cl->out);
	cl->st = CL_LEASE;
	cl->deadline = XPD_NEVER;
	xpd_ev_mod(d, &cl->ev, EPOLLIN | EPOLLRDHUP);
}

/* ---- requests ---- */

/* recvmsg: bytes into the line, fds (renew only) into cl->fds. */
static ssize_t recv_some(struct xpd_client *cl)
{
	char cbuf[CMSG_SPACE(sizeof(int) * XTS_LEASE_NFDS)];
	struct iovec iov = {.iov_base = cl->in + cl->in_len,
			    .iov_len = sizeof(cl->in) - 1 - cl->in_len};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(cl->ev.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (cl->nfds < XTS_LEASE_NFDS)
				cl->fds[cl->nfds++] = fd;
			else
				close(fd); /* more than any request carries */
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) /* the kernel closed what did not fit */
		cl->fds_truncated = true;
	return n;
}

static void client_read(struct xpd *d, struct xpd_client *cl)
{
	/* a bounded number of reads per wake: a fast sender waits its turn */
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv_some(cl);
		char *nl;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			xpd_client_free(d, cl);
			return;
		}
		if (n == 0) { /* done sending, without a request line */
			xpd_client_answer(d, cl, EPROTO, "bad request: no request line", NULL);
			return;
		}
		cl->in_len += (size_t)n;
		cl->in[cl->in_len] = 0;
		nl = memchr(cl->in, '\n', cl->in_len);
		if (nl) {
			*nl = 0;
			xpd_cmd_request(d, cl);
			return;
		}
		if (cl->in_len == sizeof(cl->in) - 1) {
			xpd_client_answer(d, cl, E2BIG, "bad request: line too long", NULL);
			return;
		}
	}
}

/* A lessee's connection: any end of it ends the lease. */
static void lease_event(struct xpd *d, struct xpd_client *cl, uint32_t events)
{
	struct xpd_lease *ls = cl->lease;
	char junk[4096];
	ssize_t n = 0;
	int i;

	for (i = 0; i < 4 && (n = read(cl->ev.fd, junk, sizeof(junk))) > 0; i++)
		; /* nothing a lessee says matters now */
	if (!(events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) && (n > 0 || (n < 0 && errno == EAGAIN)))
		return;
	xpd_client_free(d, cl);
	if (ls)
		xpd_lease_end(d, ls, "its connection closed (exit, or xport_close_queue)");
}

static void on_client(struct xpd *d, struct xpd_ev *ev, uint32_t events)
{
	struct xpd_client *cl = (struct xpd_client *)ev;

	switch (cl->st) {
	case CL_READ:
		client_read(d, cl);
		break;
	case CL_WAIT:
	case CL_SNAP: /* only a hang-up or an error wakes it */
		if (events & (EPOLLHUP | EPOLLERR))
			xpd_client_free(d, cl);
		break;
	case CL_WRITE:
		client_write(d, cl);
		break;
	case CL_LEASE:
		lease_event(d, cl, events);
		break;
	case CL_FREE:
		break;
	}
}

/* ---- accepting ---- */

static int peer_of(int fd, struct xpd_peer *p)
{
	struct ucred cr;
	socklen_t l = sizeof(cr), gl = sizeof(p->groups);

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l))
		return -errno;
	p->pid = cr.pid;
	p->uid = cr.uid;
	p->gid = cr.gid;
	/* the groups the process holds (setgroups, setpriv --groups), not
	 * what /etc/group says of its user; ERANGE: more than we look at */
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &gl))
		p->ngroups = gl / sizeof(gid_t);
	else if (errno == ERANGE)
		p->ngroups = XPD_MAX_GROUPS;
	return 0;
}

static void refuse(int fd, int err, const char *why)
{
	struct ctl_buf b = {0};

	ctl_status_line(&b, err, why);
	ctl_buf_put(&b, "end\n", 4);
	if (!b.err)
		(void)!send(fd, b.p, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	ctl_buf_free(&b);
	close(fd);
}

static struct xpd_client *client_slot(struct xpd *d)
{
	/* not one freed in this turn: an event of this batch may name it */
	for (unsigned i = 0; i < d->cfg->max_clients; i++)
		if (d->clients[i].st == CL_FREE && d->clients[i].freed_turn != d->turn)
			return &d->clients[i];
	return NULL;
}

static void on_accept(struct xpd *d, struct xpd_ev *ev, uint32_t events)
{
	(void)events;
	for (int i = 0; i < ACCEPT_MAX; i++) {
		int fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct xpd_client *cl;
		struct xpd_peer p;

		if (fd < 0)
			return; /* EAGAIN: no more; anything else: next wake */
		if (peer_of(fd, &p)) {
			refuse(fd, EACCES, "cannot read the peer's credentials");
			continue;
		}
		cl = client_slot(d);
		if (!cl) {
			xpd_warn("%u clients already: refusing pid %d", d->cfg->max_clients,
				 (int)p.pid);
			refuse(fd, EBUSY, "xportd has as many clients as limits.clients allows");
			d->refused[XPD_REF_CLIENTS]++;
			continue;
		}
		memset(cl, 0, sizeof(*cl));
		cl->freed_turn = ~0ull;
		cl->peer = p;
		cl->ev.fd = fd;
		cl->ev.fn = on_client;
		cl->pidfd = -1;
		cl->st = CL_READ;
		cl->seq = ++d->client_seq;
		cl->deadline = xpd_now_ms() + d->cfg->request_ms;
		if (xpd_ev_add(d, &cl->ev, EPOLLIN)) {
			xpd_warn("epoll: %s", strerror(errno));
			xpd_client_free(d, cl);
		}
	}
}

/* The pidfd of the peer: SO_PEERPIDFD names the very process that
 * connected (no pid reuse race); pidfd_open for older kernels. */
int xpd_peer_pidfd(const struct xpd_client *cl)
{
	int pfd = -1;
	socklen_t l = sizeof(pfd);

	if (!getsockopt(cl->ev.fd, SOL_SOCKET, SO_PEERPIDFD, &pfd, &l) && pfd >= 0)
		return pfd;
	return (int)syscall(SYS_pidfd_open, cl->peer.pid, 0);
}

long long xpd_srv_run(struct xpd *d, long long now)
{
	long long next = XPD_NEVER;

	if (d->kick) {
		d->kick = false;
		xpd_cmd_retry(d, now);
	}
	for (unsigned i = 0; d->clients && i < d->cfg->max_clients; i++) {
		struct xpd_client *cl = &d->clients[i];

		if (cl->st == CL_FREE || cl->st == CL_LEASE)
			continue;
		if (cl->st == CL_SNAP && xpd_show_ready(d, cl))
			xpd_cmd_show_done(d, cl);
		else if (now >= cl->deadline)
			xpd_cmd_deadline(d, cl, now);
		if (cl->st != CL_FREE && cl->st != CL_LEASE && cl->deadline < next)
			next = cl->deadline;
		/* lessees answer between rounds of their queues: look often */
		if (cl->st == CL_SNAP && now + SNAP_TICK_MS < next)
			next = now + SNAP_TICK_MS;
	}
	for (unsigned q = 0; q < d->cfg->queues; q++)
		if (d->q[q].st == XQ_BUSY && d->q[q].retry_ms < next && xpd_cmd_waiting(d))
			next = d->q[q].retry_ms;
	return next;
}

void xpd_srv_kick(struct xpd *d)
{
	d->kick = true;
}
