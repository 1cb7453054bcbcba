// SPDX-License-Identifier: BSD-2-Clause
/*
 * conn.c - a shard's connection table and the kernel TCP sockets behind it.
 *
 * A connection is a slot (O(1) by id, generation-checked) holding a
 * non-blocking kernel socket in the shard's epoll set (edge-triggered).
 * Two slot lists drive the work: `ready` (the kernel has bytes for the host
 * and the host has granted credit) and `ctl` (control frames owed to the
 * host).  Control frames are state bits, not queued messages, so they are
 * never dropped when the queue window is full: they go out when it opens.
 */
#include <errno.h>
#include <endian.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shard_int.h"

#define READ_BURST 8 /* frames one connection may fill per turn: fairness */

__u64 shard_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

int conn_table_init(struct shard *s)
{
	__u32 n = s->o.max_conns + 1, i;

	/* Reserve the whole table; pages are touched only as slots are used,
	 * so an idle table costs address space, not memory. */
	s->conns = mmap(NULL, (size_t)n * sizeof(*s->conns), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->conns == MAP_FAILED) {
		s->conns = NULL;
		return -ENOMEM;
	}
	s->free_slots = calloc(n, sizeof(*s->free_slots));
	s->gens = calloc(n, sizeof(*s->gens));
	if (!s->free_slots || !s->gens)
		return -ENOMEM;
	/* lowest slots on top of the stack: a small table stays compact */
	for (i = n - 1; i >= 1; i--)
		s->free_slots[s->nfree++] = i;
	return 0;
}

void conn_table_free(struct shard *s)
{
	if (s->conns) {
		conn_reset_all(s);
		munmap(s->conns, (size_t)(s->o.max_conns + 1) * sizeof(*s->conns));
	}
	free(s->free_slots);
	free(s->gens);
}

static __u32 slot_of(const struct shard *s, const struct conn *c)
{
	return (__u32)(c - s->conns);
}

struct conn *conn_lookup(struct shard *s, __u32 id)
{
	__u32 slot = xts_id_slot(id);
	struct conn *c;

	if (!slot || slot > s->o.max_conns)
		return NULL;
	c = &s->conns[slot];
	return c->id == id && c->state != CS_FREE ? c : NULL;
}

static struct conn *conn_alloc(struct shard *s)
{
	struct conn *c;
	__u32 slot;

	if (!s->nfree)
		return NULL;
	slot = s->free_slots[--s->nfree];
	if (++s->gens[slot] > XTS_ID_GEN_MAX)
		s->gens[slot] = 1;
	c = &s->conns[slot];
	memset(c, 0, sizeof(*c));
	c->id = xts_id_make(slot, s->gens[slot]);
	c->fd = -1;
	s->nconns++;
	s->st.conns_active = s->nconns;
	return c;
}

/* The slot goes back to the free stack only once no list links it. */
static void slot_maybe_free(struct shard *s, struct conn *c)
{
	if (c->state == CS_FREE && !c->in_ready && !c->in_ctl && !c->in_connecting && c->id) {
		c->id = 0;
		s->free_slots[s->nfree++] = slot_of(s, c);
	}
}

static void conn_close_fd(struct shard *s, struct conn *c, bool abort)
{
	if (c->fd < 0)
		return;
	if (abort) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	if (c->buf) {
		s->st.buf_bytes -= c->buf_len;
		free(c->buf);
		c->buf = NULL;
		c->buf_len = c->buf_off = 0;
	}
}

static void conn_release(struct shard *s, struct conn *c)
{
	conn_close_fd(s, c, false);
	c->state = CS_FREE;
	c->pend = 0;
	s->nconns--;
	s->st.conns_active = s->nconns;
	s->st.conns_closed++;
	slot_maybe_free(s, c);
}

static void ctl_add(struct shard *s, struct conn *c, __u8 pend)
{
	c->pend |= pend;
	if (c->in_ctl)
		return;
	c->in_ctl = true;
	c->ctl_next = 0;
	if (s->ctl_tail)
		s->conns[s->ctl_tail].ctl_next = slot_of(s, c);
	else
		s->ctl_head = slot_of(s, c);
	s->ctl_tail = slot_of(s, c);
}

static bool ready_eligible(const struct conn *c)
{
	return c->state == CS_OPEN && c->readable && !c->rd_eof && c->tx_credit &&
	       !(c->pend & PEND_CONN_RES);
}

static void ready_add(struct shard *s, struct conn *c)
{
	if (c->in_ready || !ready_eligible(c))
		return;
	c->in_ready = true;
	c->ready_next = 0;
	if (s->ready_tail)
		s->conns[s->ready_tail].ready_next = slot_of(s, c);
	else
		s->ready_head = slot_of(s, c);
	s->ready_tail = slot_of(s, c);
}

/* The connection failed: tell the host (RESET, or CONNECT_RES while the
 * host still waits for one), then free. */
static void conn_fail(struct shard *s, struct conn *c, int err)
{
	conn_close_fd(s, c, true);
	c->err = err;
	if (c->state == CS_CONNECTING || (c->pend & PEND_CONN_RES)) {
		c->state = CS_ZOMBIE;
		c->pend = PEND_CONN_RES;
		s->st.conns_failed++;
	} else if (c->state == CS_CLOSING) {
		c->state = CS_ZOMBIE;
		c->pend = PEND_CLOSED; /* the host freed its id already */
	} else {
		c->state = CS_ZOMBIE;
		c->pend = 0;
		ctl_add(s, c, PEND_RESET);
		return;
	}
	ctl_add(s, c, 0);
}

void conn_reset_all(struct shard *s)
{
	__u32 slot;

	for (slot = 1; slot <= s->o.max_conns; slot++) {
		struct conn *c = &s->conns[slot];

		if (!c->id)
			continue;
		if (c->state != CS_FREE) {
			conn_close_fd(s, c, true); /* RST to the peer */
			c->state = CS_FREE;
		}
		c->in_ready = c->in_ctl = c->in_connecting = false;
		c->pend = 0;
		slot_maybe_free(s, c);
	}
	s->ready_head = s->ready_tail = 0;
	s->ctl_head = s->ctl_tail = 0;
	s->connecting_head = 0;
	s->nconns = 0;
	s->st.conns_active = 0;
	s->st.buf_bytes = 0;
}

static int apply_int_opt(int fd, int level, int name, int val)
{
	if (level == SOL_SOCKET && name == SO_LINGER) {
		/* A lingering close(2) blocks the caller even on a non-blocking
		 * socket: that would stall the whole shard.  Only the abortive
		 * form (l_linger 0, RST on close) is applied; a positive
		 * linger time keeps the ordinary graceful close, which
		 * delivers the data all the same. */
		struct linger lg = {.l_onoff = val == 0, .l_linger = 0};

		return setsockopt(fd, level, name, &lg, sizeof(lg)) ? errno : 0;
	}
	return setsockopt(fd, level, name, &val, sizeof(val)) ? errno : 0;
}

static bool opt_allowed(int level, int name, bool set)
{
	if (level == SOL_SOCKET)
		return name == SO_KEEPALIVE || name == SO_RCVBUF || name == SO_SNDBUF ||
		       name == SO_LINGER;
	if (level == IPPROTO_TCP)
		return name == TCP_NODELAY || name == TCP_KEEPIDLE || name == TCP_KEEPINTVL ||
		       name == TCP_KEEPCNT || name == TCP_MAXSEG || name == TCP_CORK ||
		       (!set && name == TCP_INFO);
	return false;
}

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

int conn_on_connect(struct shard *s, const struct xts_msg *m)
{
	struct xts_connect req;
	struct sockaddr_storage ss;
	struct epoll_event ev;
	struct conn *c;
	socklen_t sl;
	__u32 timeout_ms;
	int err, i, nopts;

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
	c->state = CS_CONNECTING;
	s->st.conns_opened++;

	err = sockaddr_of(&req.dst, &ss, &sl);
	if (err) {
		conn_fail(s, c, -err);
		return 0;
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_fail(s, c, errno);
		return 0;
	}
	nopts = le16toh(req.nopts);
	if (nopts > XTS_CONNECT_MAX_OPTS)
		nopts = XTS_CONNECT_MAX_OPTS; /* xts_proto_parse refused more */
	err = bind_source(s, c, &req, m, (unsigned)nopts);
	if (err) {
		conn_fail(s, c, err);
		return 0;
	}
	for (i = 0; i < nopts; i++) {
		int level = (int)le32toh(req.opts[i].level), name = (int)le32toh(req.opts[i].name);

		err = opt_allowed(level, name, true)
			  ? apply_int_opt(c->fd, level, name, (int)le32toh(req.opts[i].value))
			  : ENOPROTOOPT;
		if (err) {
			conn_fail(s, c, err);
			return 0;
		}
	}
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = c->id;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		conn_fail(s, c, errno);
		return 0;
	}
	if (connect(c->fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		conn_fail(s, c, errno);
		return 0;
	}
	/* Completion (or failure) arrives as EPOLLOUT/EPOLLERR. */
	timeout_ms = le32toh(req.timeout_ms);
	if (!timeout_ms)
		timeout_ms = s->cfg->connect_ms;
	if (timeout_ms) {
		c->deadline_ns = s->now_ns + (__u64)timeout_ms * 1000000ull;
		c->connecting_next = s->connecting_head;
		c->in_connecting = true;
		s->connecting_head = slot_of(s, c);
	}
	return 0;
}

static void conn_flush_buf(struct shard *s, struct conn *c)
{
	while (c->buf_len) {
		ssize_t n =
		    send(c->fd, c->buf + c->buf_off, c->buf_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_fail(s, c, errno);
			return;
		}
		c->buf_off += (__u32)n;
		c->buf_len -= (__u32)n;
		c->grant += (__u32)n;
		s->st.buf_bytes -= (__u64)n;
		s->st.data_to_net += (__u64)n;
	}
	/* Empty: give the memory back, so idle connections cost none. */
	free(c->buf);
	c->buf = NULL;
	c->buf_off = 0;
	if (c->grant)
		ctl_add(s, c, PEND_CREDIT);
	if (c->state == CS_CLOSING) {
		conn_close_fd(s, c, false); /* FIN after the last byte */
		c->state = CS_ZOMBIE;
		ctl_add(s, c, PEND_CLOSED);
	} else if (c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
	}
}

/* Keep bytes the kernel did not take: 0, or -ENOMEM (connection failed). */
static int buf_append(struct shard *s, struct conn *c, const __u8 *p, size_t rest)
{
	if (!c->buf) {
		c->buf = malloc(s->o.conn_buf);
		if (!c->buf) {
			conn_fail(s, c, ENOMEM);
			return -ENOMEM;
		}
		c->buf_off = c->buf_len = 0;
	}
	/* Credit bounds buf_len + rest by conn_buf: compacting always
	 * makes room. */
	if (c->buf_off + c->buf_len + rest > s->o.conn_buf) {
		memmove(c->buf, c->buf + c->buf_off, c->buf_len);
		c->buf_off = 0;
	}
	memcpy(c->buf + c->buf_off + c->buf_len, p, rest);
	c->buf_len += (__u32)rest;
	s->st.buf_bytes += rest;
	return 0;
}

/*
 * Hand @n payloads (already within the connection's credit) to the kernel
 * socket: one sendmsg(2) when nothing waits in the buffer, and what the
 * kernel does not take goes to the buffer, in order.  Credit for what the
 * kernel took goes back to the host once a quarter of conn_buf is owed.
 */
static void data_to_kernel(struct shard *s, struct conn *c, struct iovec *iov, unsigned n,
			   bool more)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
	ssize_t sent = 0;
	size_t off;
	unsigned i;

	if (!c->buf_len) {
		sent = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (sent < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				conn_fail(s, c, errno);
				return;
			}
			sent = 0;
		}
		c->grant += (__u32)sent;
		s->st.data_to_net += (__u64)sent;
	}
	for (i = 0, off = (size_t)sent; i < n; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		if (buf_append(s, c, (const __u8 *)iov[i].iov_base + off, iov[i].iov_len - off))
			return;
		off = 0;
	}
	if (c->grant >= s->o.conn_buf / 4)
		ctl_add(s, c, PEND_CREDIT);
}

static void conn_data(struct shard *s, struct conn *c, const struct xts_msg *m)
{
	struct iovec iov = {.iov_base = (void *)m->payload, .iov_len = m->len};

	if (c->state != CS_OPEN || c->wr_shut || m->len > c->rx_allowed) {
		/* more than the credit we gave, or data after SHUT_WR */
		s->st.proto_errs++;
		conn_fail(s, c, EPROTO);
		return;
	}
	c->rx_allowed -= m->len;
	data_to_kernel(s, c, &iov, 1, m->flags & XTS_F_MORE);
}

/*
 * A run of DATA frames for one connection, consecutive in an rx batch (a
 * stream of small sends, or a bulk transfer): one sendmsg(2) for them all
 * instead of one send(2) each.  Anything unusual (stale id, closing,
 * beyond credit) goes frame by frame through conn_on_msg, which knows
 * every rule.
 */
void conn_on_data_run(struct shard *s, struct conn *c, const struct xts_msg *m, unsigned n)
{
	struct iovec iov[SHARD_DATA_RUN_MAX];
	size_t total = 0;
	__u32 credit = 0;
	unsigned i;

	if (n > SHARD_DATA_RUN_MAX || c->state != CS_OPEN || c->wr_shut ||
	    (c->host_id != m[0].src_id && m[0].src_id != XTS_ID_NONE))
		goto one_by_one;
	for (i = 0; i < n; i++) {
		total += m[i].len;
		credit += m[i].credit;
		iov[i].iov_base = (void *)m[i].payload;
		iov[i].iov_len = m[i].len;
	}
	if (total > c->rx_allowed)
		goto one_by_one;
	if (credit) {
		c->tx_credit += credit;
		ready_add(s, c);
	}
	c->rx_allowed -= (__u32)total;
	data_to_kernel(s, c, iov, n, m[n - 1].flags & XTS_F_MORE);
	return;
one_by_one:
	for (i = 0; i < n && c->state != CS_FREE; i++)
		conn_on_msg(s, c, &m[i]);
}

static void conn_sockopt(struct shard *s, struct conn *c, const struct xts_msg *m)
{
	struct xts_sockopt so;
	int val = 0;

	memcpy(&so, m->payload, sizeof(so));
	c->so_req = le32toh(so.req);
	c->so_dir = so.dir;
	c->so_level = (__s32)le32toh((__u32)so.level);
	c->so_name = (__s32)le32toh((__u32)so.name);
	c->so_err = 0;
	if (!opt_allowed(c->so_level, c->so_name, so.dir == XTS_SOCKOPT_SET))
		c->so_err = ENOPROTOOPT;
	else if (c->fd < 0)
		c->so_err = ENOTCONN;
	else if (so.dir == XTS_SOCKOPT_SET) {
		if (le32toh(so.vlen) < sizeof(int)) {
			c->so_err = EINVAL;
		} else {
			memcpy(&val, (const __u8 *)m->payload + sizeof(so), sizeof(val));
			c->so_err =
			    apply_int_opt(c->fd, c->so_level, c->so_name, (int)le32toh((__u32)val));
		}
	}
	/* a GET is read when the answer goes out: the freshest value */
	ctl_add(s, c, PEND_SOCKOPT);
}

void conn_on_msg(struct shard *s, struct conn *c, const struct xts_msg *m)
{
	if (c->host_id != m->src_id && m->src_id != XTS_ID_NONE) {
		s->st.stale_ids++;
		return;
	}
	if (m->credit) {
		c->tx_credit += m->credit;
		ready_add(s, c);
	}
	if (c->state == CS_ZOMBIE && m->op != XTS_OP_RESET)
		return; /* the kernel socket is gone; our RESET is on its way */
	switch (m->op) {
	case XTS_OP_DATA:
		conn_data(s, c, m);
		break;
	case XTS_OP_CREDIT:
		break;
	case XTS_OP_SHUTDOWN:
		c->wr_shut = true;
		if (!c->buf_len && c->fd >= 0)
			shutdown(c->fd, SHUT_WR);
		break;
	case XTS_OP_CLOSE:
		if ((m->flags & XTS_F_ABORT) || c->state != CS_OPEN) {
			conn_close_fd(s, c, true);
			c->state = CS_ZOMBIE;
			c->pend &= PEND_CLOSED;
			ctl_add(s, c, PEND_CLOSED);
		} else {
			c->state = CS_CLOSING;
			c->readable = false;
			if (!c->buf_len)
				conn_flush_buf(s, c);
		}
		break;
	case XTS_OP_RESET:
		conn_close_fd(s, c, true);
		if (c->state == CS_CONNECTING)
			s->st.conns_failed++;
		c->state = CS_ZOMBIE;
		conn_release(s, c);
		break;
	case XTS_OP_SOCKOPT:
		conn_sockopt(s, c, m);
		break;
	default:
		s->st.proto_errs++;
		break;
	}
}

static void conn_connected(struct shard *s, struct conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l))
		err = errno;
	if (err) {
		conn_fail(s, c, err);
		return;
	}
	c->state = CS_OPEN;
	ctl_add(s, c, PEND_CONN_RES);
}

void conn_on_event(struct shard *s, struct conn *c, __u32 events)
{
	if (c->state == CS_CONNECTING) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_connected(s, c);
		if (c->state != CS_OPEN)
			return;
		/* fall through: data may be there already */
	}
	if (c->state != CS_OPEN && c->state != CS_CLOSING)
		return;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP) && c->buf_len)
		conn_flush_buf(s, c);
	if (c->state == CS_OPEN && events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
		c->readable = true;
		if (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
			c->rdhup = true;
		ready_add(s, c);
		if (!c->tx_credit)
			s->st.credit_stalls++;
	}
}

/* ---- frames to the host ---- */

static void addr_of(int fd, bool peer, struct xts_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	memset(a, 0, sizeof(*a));
	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &l) == 0)
		xts_addr_from_sockaddr(a, (struct sockaddr *)&ss, l);
}

static int send_conn_res(struct shard *s, struct conn *c)
{
	struct xts_conn_res r;
	__u32 credit = 0, src = XTS_ID_NONE;

	memset(&r, 0, sizeof(r));
	r.err = (__s32)htole32((__u32)c->err);
	if (!c->err) {
		addr_of(c->fd, false, &r.local);
		addr_of(c->fd, true, &r.peer);
		credit = s->o.conn_buf;
		src = c->id;
	}
	return xts_link__send(s->link, XTS_OP_CONNECT_RES, 0, c->host_id, src, credit, &r,
			      sizeof(r));
}

/* NEW_CONN: dst the host's listener, src the new connection; the credit
 * is the host's send credit, as in CONNECT_RES. */
static int send_new_conn(struct shard *s, struct conn *c)
{
	struct xts_conn_res r;

	memset(&r, 0, sizeof(r));
	addr_of(c->fd, false, &r.local);
	addr_of(c->fd, true, &r.peer);
	return xts_link__send(s->link, XTS_OP_NEW_CONN, 0, c->host_id, c->id, s->o.conn_buf, &r,
			      sizeof(r));
}

static int send_sockopt_res(struct shard *s, struct conn *c)
{
	__u8 buf[sizeof(struct xts_sockopt) + XTS_SOCKOPT_VALMAX];
	struct xts_sockopt *so = (struct xts_sockopt *)buf;
	socklen_t vlen = 0;
	int err = c->so_err;

	memset(buf, 0, sizeof(struct xts_sockopt));
	if (!err && c->so_dir == XTS_SOCKOPT_GET) {
		if (c->so_level == SOL_SOCKET && c->so_name == SO_LINGER) {
			struct linger lg;
			socklen_t l = sizeof(lg);
			int v;

			if (getsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, &l))
				err = errno;
			v = lg.l_onoff ? lg.l_linger : -1;
			v = (int)htole32((__u32)v);
			memcpy(so->val, &v, sizeof(v));
			vlen = sizeof(v);
		} else {
			vlen = XTS_SOCKOPT_VALMAX;
			if (getsockopt(c->fd, c->so_level, c->so_name, so->val, &vlen))
				err = errno;
		}
	}
	if (err)
		vlen = 0;
	so->req = htole32(c->so_req);
	so->dir = c->so_dir;
	so->level = (__s32)htole32((__u32)c->so_level);
	so->name = (__s32)htole32((__u32)c->so_name);
	so->err = (__s32)htole32((__u32)err);
	so->vlen = htole32(vlen);
	return xts_link__send(s->link, XTS_OP_SOCKOPT_RES, 0, c->host_id, c->id, 0, buf,
			      sizeof(*so) + vlen);
}

/* Send what one connection owes the host, in protocol order.  0 when all
 * went out, -EAGAIN when the queue is full (the rest waits). */
static int conn_send_ctl(struct shard *s, struct conn *c)
{
	struct xts_err e;
	int err;

	if (c->pend & PEND_NEW_CONN) {
		if ((err = send_new_conn(s, c)))
			return err;
		c->pend &= (__u8)~PEND_NEW_CONN;
	}
	if (c->pend & PEND_CONN_RES) {
		if ((err = send_conn_res(s, c)))
			return err;
		c->pend &= (__u8)~PEND_CONN_RES;
		if (c->err) {
			conn_release(s, c);
			return 0;
		}
		ready_add(s, c);
	}
	if (c->pend & PEND_SOCKOPT) {
		if ((err = send_sockopt_res(s, c)))
			return err;
		c->pend &= (__u8)~PEND_SOCKOPT;
	}
	if (c->pend & PEND_CREDIT) {
		if (c->grant && c->state != CS_ZOMBIE &&
		    (err = xts_link__send(s->link, XTS_OP_CREDIT, 0, c->host_id, c->id, c->grant,
					  NULL, 0)))
			return err;
		c->rx_allowed += c->grant;
		c->grant = 0;
		c->pend &= (__u8)~PEND_CREDIT;
	}
	if (c->pend & PEND_EOF) {
		if ((err = xts_link__send(s->link, XTS_OP_SHUTDOWN, 0, c->host_id, c->id, 0, NULL,
					  0)))
			return err;
		c->pend &= (__u8)~PEND_EOF;
	}
	if (c->pend & (PEND_RESET | PEND_CLOSED)) {
		__u8 p = c->pend;

		e.err = (__s32)htole32((__u32)c->err);
		e.reserved = 0;
		err = xts_link__send(s->link, (p & PEND_RESET) ? XTS_OP_RESET : XTS_OP_CLOSED, 0,
				     c->host_id, XTS_ID_NONE, 0, &e, sizeof(e));
		if (err)
			return err;
		conn_release(s, c);
	}
	return 0;
}

int conn_run_ctl(struct shard *s)
{
	int work = 0;

	while (s->ctl_head) {
		struct conn *c = &s->conns[s->ctl_head];

		if (c->state != CS_FREE && c->pend && conn_send_ctl(s, c))
			break; /* queue full: keep the list as it is */
		s->ctl_head = c->ctl_next;
		if (!s->ctl_head)
			s->ctl_tail = 0;
		c->in_ctl = false;
		slot_maybe_free(s, c);
		work++;
	}
	return work;
}

/* Read from one connection into up to READ_BURST frames.  Returns frames
 * sent; *full set when the queue ran out of room. */
static int conn_read(struct shard *s, struct conn *c, bool *full)
{
	int frames = 0;

	while (frames < READ_BURST && ready_eligible(c)) {
		struct xts_txf f;
		size_t want;
		ssize_t n;

		if (xts_link__tx_reserve(s->link, true, &f)) {
			*full = true;
			break;
		}
		want = f.cap < c->tx_credit ? f.cap : c->tx_credit;
		n = recv(c->fd, f.payload, want, MSG_DONTWAIT);
		if (n > 0) {
			__u32 grant = c->grant;

			/* piggyback the credit we owe on the data */
			if (xts_link__tx_submit(s->link, &f, XTS_OP_DATA, 0, c->host_id, c->id,
						grant, (size_t)n)) {
				/* refused (the link counted it): the bytes read
				 * are gone, so the stream is broken; say so */
				conn_fail(s, c, EMSGSIZE);
				break;
			}
			c->rx_allowed += grant;
			c->grant = 0;
			c->tx_credit -= (__u32)n;
			s->st.data_to_host += (__u64)n;
			frames++;
			/* A short read emptied the receive queue; what comes
			 * later raises a new edge.  No recv() just to hear
			 * EAGAIN: a syscall less per response.  Unless a FIN
			 * or error was signalled: no edge follows those, so
			 * read on to the 0 or the error. */
			if ((size_t)n < want && !c->rdhup) {
				c->readable = false;
				break;
			}
			continue;
		}
		xts_link__tx_cancel(s->link, &f);
		if (n == 0) {
			c->rd_eof = true;
			ctl_add(s, c, PEND_EOF);
		} else if (errno == EAGAIN || errno == EINTR) {
			c->readable = false;
		} else {
			conn_fail(s, c, errno);
		}
		break;
	}
	if (c->readable && !c->tx_credit && c->state == CS_OPEN && !c->rd_eof)
		s->st.credit_stalls++;
	return frames;
}

int conn_run_ready(struct shard *s)
{
	__u32 last = s->ready_tail;
	int work = 0;
	bool full = false;

	while (s->ready_head && !full) {
		__u32 slot = s->ready_head;
		struct conn *c = &s->conns[slot];

		s->ready_head = c->ready_next;
		if (!s->ready_head)
			s->ready_tail = 0;
		c->in_ready = false;
		if (c->state != CS_FREE)
			work += conn_read(s, c, &full);
		if (c->state == CS_FREE)
			slot_maybe_free(s, c);
		else
			ready_add(s, c); /* to the tail: round robin */
		if (slot == last)
			break; /* one pass per call, then flush */
	}
	return work;
}

void conn_timers(struct shard *s)
{
	__u32 *link = &s->connecting_head;

	while (*link) {
		struct conn *c = &s->conns[*link];

		if (c->state != CS_CONNECTING || s->now_ns >= c->deadline_ns) {
			*link = c->connecting_next;
			c->in_connecting = false;
			if (c->state == CS_CONNECTING)
				conn_fail(s, c, ETIMEDOUT);
			slot_maybe_free(s, c);
			continue;
		}
		link = &c->connecting_next;
	}
}

/* ---- accepted connections (listen.c accepts them) ---- */

int conn_on_accept(struct shard *s, int fd, __u32 lsn_id, __u32 lsn_host_id)
{
	struct epoll_event ev;
	struct conn *c = conn_alloc(s);

	if (!c)
		return -ENOBUFS;
	c->fd = fd;
	c->state = CS_ACCEPTED;
	c->lsn_id = lsn_id;
	c->host_id = lsn_host_id; /* NEW_CONN's dst; the ACK names the new socket */
	c->rx_allowed = s->o.conn_buf;
	s->st.conns_opened++;
	/* Not read until the host acknowledges: the first edge may come now
	 * and be ignored, so the ACK marks the connection readable. */
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = c->id;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
		c->fd = -1; /* the caller closes it */
		c->state = CS_FREE;
		s->nconns--;
		s->st.conns_active = s->nconns;
		slot_maybe_free(s, c);
		return -ENOBUFS;
	}
	ctl_add(s, c, PEND_NEW_CONN);
	return 0;
}

void conn_accept_ack(struct shard *s, struct conn *c, const struct xts_msg *m, int err)
{
	if (err || m->src_id == XTS_ID_NONE) {
		/* refused (accept queue full, listener closed): RST */
		conn_close_fd(s, c, true);
		c->pend = 0;
		conn_release(s, c);
		return;
	}
	c->host_id = m->src_id;
	c->tx_credit = m->credit;
	c->state = CS_OPEN;
	c->readable = true; /* recv() says EAGAIN if nothing came yet */
	ready_add(s, c);
}

void conn_reset_accepted(struct shard *s, __u32 lsn_id)
{
	__u32 slot;

	for (slot = 1; slot <= s->o.max_conns && s->nconns; slot++) {
		struct conn *c = &s->conns[slot];

		if (!c->id || c->state != CS_ACCEPTED || c->lsn_id != lsn_id)
			continue;
		conn_close_fd(s, c, true);
		c->pend = 0;
		conn_release(s, c);
	}
}
