// SPDX-License-Identifier: BSD-2-Clause
/*
 * conn_open.c - how a shard connection begins: a CONNECT from the host
 * (the kernel socket, its source address and options, a non-blocking
 * connect under a deadline, TLS pushed before it) and a connection a
 * listener accepted (offered to the host with NEW_CONN, taken or refused
 * by its ACK).  What happens to it afterwards is conn.c's.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shard_int.h"
#include "ulp.h"

static int sockaddr_of(const struct xts_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	unsigned l = sizeof(*ss);
	int err = xts_addr_to_sockaddr(a, (struct sockaddr *)ss, &l);

	*len = l;
	return err;
}

/*
 * Bind-before-connect: the host bound its socket (XTS_CONNECT_F_SRC), so
 * this one is bound there before connect(2), with SO_REUSEADDR and
 * SO_REUSEPORT as the host set them.  Port 0 leaves the port to connect
 * (IP_BIND_ADDRESS_NO_PORT, as a bound-but-portless Linux socket does); a
 * chosen port falls under the queue's listen ACL, since holding a port is
 * what a listener does too.  0 or a positive errno for CONNECT_RES.
 */
static int bind_source(struct shard *s, struct conn *c, const struct xts_connect *req,
		       const struct xts_msg *m, unsigned nopts)
{
	__u16 flags = le16toh(req->flags);
	struct sockaddr_storage ss;
	struct xts_addr src;
	socklen_t sl;
	int one = 1, err;

	if (!(flags & XTS_CONNECT_F_SRC))
		return 0;
	memcpy(&src, m->payload + xts_connect_opts_end(nopts), sizeof(src));
	if (src.port && !shard_acl_ok(s, XTS_ACL_LISTEN, &src))
		return EACCES;
	err = sockaddr_of(&src, &ss, &sl);
	if (err)
		return -err;
	if ((flags & XTS_CONNECT_F_REUSEADDR) &&
	    setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return errno;
	if ((flags & XTS_CONNECT_F_REUSEPORT) &&
	    setsockopt(c->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		return errno;
	if (!src.port && setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)))
		return errno;
	if (bind(c->fd, (struct sockaddr *)&ss, sl))
		return errno;
	return 0;
}

/* Socket options the host set before connect(2): 0 or a positive errno. */
static int connect_opts(struct conn *c, const struct xts_connect *req, int nopts)
{
	for (int i = 0; i < nopts; i++) {
		int level = (int)le32toh(req->opts[i].level),
		    name = (int)le32toh(req->opts[i].name);
		int err =
		    conn_opt_allowed(level, name, true)
			? conn_apply_int_opt(c->fd, level, name, (int)le32toh(req->opts[i].value))
			: ENOPROTOOPT;

		if (err)
			return err;
	}
	return 0;
}

/* Into the epoll set, edge-triggered, with the connection as its handler. */
static int conn_watch(struct shard *s, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.ptr = &c->ev};

	return epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev) ? errno : 0;
}

/* The kernel side of a CONNECT: 0 (in progress) or a positive errno. */
static int conn_start(struct shard *s, struct conn *c, const struct xts_msg *m,
		      const struct xts_connect *req)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int err, nopts;

	err = sockaddr_of(&req->dst, &ss, &sl);
	if (err)
		return -err;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return errno;
	nopts = le16toh(req->nopts);
	if (nopts > XTS_CONNECT_MAX_OPTS)
		nopts = XTS_CONNECT_MAX_OPTS; /* xts_proto_parse refused more */
	if ((err = bind_source(s, c, req, m, (unsigned)nopts)) ||
	    (err = connect_opts(c, req, nopts)) || (err = conn_watch(s, c)))
		return err;
	if (connect(c->fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)
		return errno;
	return 0;
}

/*
 * A CONNECT that carries the connection's first bytes (XTS_CONNECT_F_DATA,
 * the host's TCP_FASTOPEN_CONNECT): they wait in the connection's buffer
 * and leave once it is connected, before the CONNECT_RES (conn.c), whose
 * credit then counts them.  0 or a positive errno.
 */
static int conn_first_bytes(struct shard *s, struct conn *c, const struct xts_msg *m,
			    const struct xts_connect *req)
{
	__u16 flags = le16toh(req->flags);
	size_t off, n;

	if (!(flags & XTS_CONNECT_F_DATA))
		return 0;
	off = xts_connect_data_off(le16toh(req->nopts), flags); /* parse: < m->len */
	n = m->len - off;
	if (n > c->rx_allowed) { /* beyond any credit the host could have */
		s->st.proto_errs++;
		return EPROTO;
	}
	c->rx_allowed -= (__u32)n;
	/* CLOSED frames may wait for its CONNECT_RES meanwhile (shard_flush) */
	if (s->lazy_until_ns < s->now_ns + SHARD_RES_HOLD_NS)
		s->lazy_until_ns = s->now_ns + SHARD_RES_HOLD_NS;
	return conn_buf_keep(s, c, (const __u8 *)m->payload + off, n) ? ENOMEM : 0;
}

int conn_on_connect(struct shard *s, const struct xts_msg *m)
{
	struct xts_connect req;
	struct xts_ulp ulp;
	struct conn *c;
	__u32 timeout_ms;
	int err;

	if (m->src_id == XTS_ID_NONE) {
		s->st.proto_errs++;
		return -EPROTO;
	}
	memset(&req, 0, sizeof(req));
	memcpy(&req, m->payload, m->len < sizeof(req) ? m->len : sizeof(req));
	c = conn_alloc(s);
	if (!c)
		return -ENOBUFS; /* the caller answers from the reject ring */
	c->host_id = m->src_id;
	c->tx_credit = m->credit;
	c->rx_allowed = s->o.conn_buf;
	conn_set_state(s, c, CS_CONNECTING);
	s->st.conns_opened++;
	if (shard_msg_ulp(m, &ulp) && (err = ulp_push(s, c, &ulp, &req.dst, false))) {
		conn_fail(s, c, err);
		return 0;
	}
	err = conn_start(s, c, m, &req);
	if (err || (err = conn_first_bytes(s, c, m, &req))) {
		conn_fail(s, c, err);
		return 0;
	}
	/* Completion (or failure) arrives as EPOLLOUT/EPOLLERR. */
	timeout_ms = le32toh(req.timeout_ms);
	if (!timeout_ms)
		timeout_ms = s->cfg->connect_ms;
	if (timeout_ms) {
		c->deadline_ns = s->now_ns + (__u64)timeout_ms * 1000000ull;
		conn_dl_add(s, c, c->deadline_ns);
	}
	return 0;
}

/* ---- accepted connections (listen.c accepts them) ---- */

int conn_on_accept(struct shard *s, int fd, __u32 lsn_id, __u32 lsn_host_id,
		   const struct xts_ulp *u, __u8 lst)
{
	struct conn *c = conn_alloc(s);

	if (!c)
		return -ENOBUFS;
	c->fd = fd;
	conn_set_state(s, c, CS_ACCEPTED);
	c->lsn_id = lsn_id;
	c->host_id = lsn_host_id; /* NEW_CONN's dst; the ACK names the new socket */
	c->rx_allowed = s->o.conn_buf;
	s->st.conns_opened++;
	/* Not read until the host acknowledges: the first edge may come now
	 * and be ignored, so the ACK marks the connection readable. */
	if (conn_watch(s, c)) {
		c->fd = -1; /* the caller closes it */
		conn_set_state(s, c, CS_FREE);
		s->nconns--;
		s->st.conns_active = s->nconns;
		conn_slot_maybe_free(s, c);
		return -ENOBUFS;
	}
	if (lst) { /* its listener address's: open now, and a user of the slot */
		c->lst = lst;
		s->lsn_ref[lst - 1]++;
		s->lsn_st[lst - 1].open++;
	}
	if (u) {
		int err = ulp_push(s, c, u, NULL, true);

		if (err) {
			shard_log(s, XTS_LOG_DEBUG, "accepted connection: ULP: %s",
				  c->ulp ? c->ulp->info.reason : strerror(err));
			conn_fail(s, c, err);
			return 0;
		}
	}
	if (ulp_has_tls(c)) { /* offered to the host once its handshake is done */
		conn_hs_deadline(s, c);
		conn_hs_step(s, c); /* the ClientHello may be there already */
		return 0;
	}
	conn_ctl_add(s, c, PEND_NEW_CONN);
	return 0;
}

void conn_accept_ack(struct shard *s, struct conn *c, const struct xts_msg *m, int err)
{
	if (err || m->src_id == XTS_ID_NONE) {
		/* refused (accept queue full, listener closed): RST */
		CONN_LST_ADD(s, c, drop_refused, 1);
		conn_close_fd(s, c, true);
		c->pend = 0;
		conn_release(s, c);
		return;
	}
	c->host_id = m->src_id;
	c->tx_credit = m->credit;
	strp_conn_host_buf(c, m->credit); /* its receive buffer bounds a message */
	conn_set_state(s, c, CS_OPEN);
	c->readable = true; /* recv() says EAGAIN if nothing came yet */
	conn_ready_add(s, c);
}

void conn_reset_accepted(struct shard *s, __u32 lsn_id)
{
	__u32 slot;

	for (slot = 1; slot <= s->o.max_conns && s->nconns; slot++) {
		struct conn *c = &s->conns[slot];

		if (!c->id || c->state != CS_ACCEPTED || c->lsn_id != lsn_id)
			continue;
		CONN_LST_ADD(s, c, drop_host_gone, 1);
		conn_close_fd(s, c, true);
		c->pend = 0;
		conn_release(s, c);
	}
}
