// SPDX-License-Identifier: BSD-2-Clause
/*
 * conn_out.c - what connections send the host: the control frames they owe
 * (conn.pend bits on the `ctl` list, in protocol order, never dropped) and
 * their stream bytes (the `ready` list, round robin, READ_BURST frames a
 * turn, read from the transport straight into UMEM frames).
 */
#include <errno.h>
#include <endian.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "shard_int.h"
#include "ulp.h"

#define READ_BURST 8 /* frames one connection may fill per turn: fairness */

/* ---- frames to the host ---- */

/*
 * The peer's address even when the peer has reset the connection already
 * (accepted from the kernel's queue reset, or reset while NEW_CONN or
 * CONNECT_RES waited for the window): getpeername(2) then says ENOTCONN,
 * but SO_PEERNAME reads what accept(2) reads, whatever the state.  Its
 * length must be exactly the family's (EINVAL if longer), hence @family,
 * the local address's.  A NEW_CONN or CONNECT_RES without an error must
 * carry real addresses (the host's parser rejects it otherwise, and a
 * frame rejected in sequence breaks the whole queue session); the reset
 * itself reaches the host as a RESET right after.
 */
static int peer_of(int fd, __u16 family, struct sockaddr_storage *ss, socklen_t *l)
{
	if (getpeername(fd, (struct sockaddr *)ss, l) == 0)
		return 0;
	if (errno != ENOTCONN)
		return -1;
	*l = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	return getsockopt(fd, SOL_SOCKET, SO_PEERNAME, ss, l);
}

static void addr_of(int fd, bool peer, __u16 family, struct xts_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	int r = peer ? peer_of(fd, family, &ss, &l) : getsockname(fd, (struct sockaddr *)&ss, &l);

	memset(a, 0, sizeof(*a));
	if (r == 0)
		xts_addr_from_sockaddr(a, (struct sockaddr *)&ss, l);
}

/* xts_conn_res, and after it what the ULPs became (a connection with
 * ULPs): the payload's length. */
static size_t conn_res_fill(struct conn *c, __u8 *buf)
{
	struct xts_conn_res r;

	memset(&r, 0, sizeof(r));
	r.err = (__s32)htole32((__u32)c->err);
	if (!c->err) {
		addr_of(c->fd, false, 0, &r.local);
		addr_of(c->fd, true, le16toh(r.local.family), &r.peer);
	}
	memcpy(buf, &r, sizeof(r));
	if (!c->ulp)
		return sizeof(r);
	memcpy(buf + sizeof(r), &c->ulp->info, sizeof(c->ulp->info));
	if (c->err) /* the reason is told here: no ULP_RES after it */
		c->ulp->info_sent = true;
	return sizeof(r) + sizeof(c->ulp->info);
}

/* The host's send credit: what the connection may still take (conn_buf
 * less the first bytes of a CONNECT still buffered), and the credit those
 * bytes already sent return, so that no CREDIT frame follows. */
static int send_conn_res(struct shard *s, struct conn *c)
{
	__u8 buf[sizeof(struct xts_conn_res) + sizeof(struct xts_ulp_info)];
	size_t len = conn_res_fill(c, buf);
	__u32 credit = c->err ? 0 : c->rx_allowed + c->grant;
	int err;

	err = xts_link__send(s->link, XTS_OP_CONNECT_RES, 0, c->host_id,
			     c->err ? XTS_ID_NONE : c->id, credit, buf, len);
	if (!err && !c->err) {
		c->rx_allowed = credit;
		c->grant = 0;
	}
	return err;
}

/* NEW_CONN: dst the host's listener, src the new connection; the credit
 * is the host's send credit, as in CONNECT_RES. */
static int send_new_conn(struct shard *s, struct conn *c)
{
	__u8 buf[sizeof(struct xts_conn_res) + sizeof(struct xts_ulp_info)];
	size_t len = conn_res_fill(c, buf);

	return xts_link__send(s->link, XTS_OP_NEW_CONN, 0, c->host_id, c->id, s->o.conn_buf, buf,
			      len);
}

static int send_sockopt_res(struct shard *s, struct conn *c)
{
	__u8 buf[sizeof(struct xts_sockopt) + XTS_SOCKOPT_VALMAX];
	struct xts_sockopt *so = (struct xts_sockopt *)buf;
	socklen_t vlen = 0;
	int err = c->so_err;

	memset(buf, 0, sizeof(struct xts_sockopt));
	/* A GET is read when the answer goes out; the socket may be gone by
	 * then (the host closed it while the answer waited for the window):
	 * the answer a request gets for a closed socket. */
	if (!err && c->so_dir == XTS_SOCKOPT_GET && c->fd < 0)
		err = ENOTCONN;
	if (!err && c->so_dir == XTS_SOCKOPT_GET) {
		if (c->so_level == SOL_SOCKET && c->so_name == SO_LINGER) {
			struct linger lg;
			socklen_t l = sizeof(lg);
			int v;

			/* lg is read only once the kernel filled it in */
			if (getsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, &l)) {
				err = errno;
			} else {
				v = lg.l_onoff ? lg.l_linger : -1;
				v = (int)htole32((__u32)v);
				memcpy(so->val, &v, sizeof(v));
				vlen = sizeof(v);
			}
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

	if (!c->sess) {
		/* an orphan (its session ended gracefully): nobody to tell;
		 * it is freed once its socket is gone */
		c->pend = 0;
		if (c->state == CS_ZOMBIE)
			conn_release(s, c);
		return 0;
	}
	if (c->pend & PEND_NEW_CONN) {
		if ((err = send_new_conn(s, c)))
			return err;
		c->pend &= (__u8)~PEND_NEW_CONN;
		CONN_LST_ADD(s, c, offered, 1);
	}
	if (c->pend & PEND_CONN_RES) {
		if ((err = send_conn_res(s, c)))
			return err;
		c->pend &= (__u8)~PEND_CONN_RES;
		if (c->err) {
			conn_release(s, c);
			return 0;
		}
		conn_ready_add(s, c);
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
	if ((c->pend & PEND_RESET) && c->ulp && c->ulp->info.err && !c->ulp->info_sent) {
		/* why TLS failed, just before the RESET that says it did */
		if ((err = xts_link__send(s->link, XTS_OP_ULP_RES, 0, c->host_id, XTS_ID_NONE, 0,
					  &c->ulp->info, sizeof(c->ulp->info))))
			return err;
		c->ulp->info_sent = true;
	}
	if (c->pend & (PEND_RESET | PEND_CLOSED)) {
		__u8 p = c->pend;

		e.err = (__s32)htole32((__u32)c->err);
		e.reserved = 0;
		err = xts_link__send(s->link, (p & PEND_RESET) ? XTS_OP_RESET : XTS_OP_CLOSED, 0,
				     c->host_id, XTS_ID_NONE, 0, &e, sizeof(e));
		if (err)
			return err;
		if (!(p & PEND_RESET))
			s->lazy_tx++; /* shard_flush: need not ring on its own */
		conn_release(s, c);
	}
	return 0;
}

int conn_run_ctl(struct shard *s)
{
	int work = 0;

	while (!xts_fifo_empty(&s->owed)) {
		struct conn *c = &s->conns[xts_fifo_head(&s->owed)];

		if (c->state != CS_FREE && c->pend && conn_send_ctl(s, c))
			break; /* queue full: keep the list as it is */
		xts_fifo_pop(&s->owed, s->conns, ctl_node);
		conn_slot_maybe_free(s, c);
		work++;
	}
	return work;
}

/* Read from one connection into up to READ_BURST frames.  Returns frames
 * sent; *full set when the queue ran out of room.  With framing, a frame
 * holds bytes of one message and the one that ends it says so (EOR). */
static int conn_read(struct shard *s, struct conn *c, bool *full)
{
	bool strp = c->ulp && c->ulp->strp;
	int frames = 0;

	if (c->res_hold) { /* the held CONNECT_RES goes just before the answer */
		conn_ctl_add(s, c, 0);
		if (conn_send_ctl(s, c)) {
			*full = true;
			return 0;
		}
	}
	while (frames < READ_BURST && conn_ready_eligible(c)) {
		struct xts_txf f;
		bool eor = false;
		size_t want;
		ssize_t n;

		if (xts_link__tx_reserve(s->link, true, &f)) {
			*full = true;
			break;
		}
		want = f.cap < c->tx_credit ? f.cap : c->tx_credit;
		n = strp ? strp_conn_read(s, c, f.payload, want, &eor)
			 : c->io->read(c, f.payload, want);
		if (n > 0 || eor) {
			__u32 grant = c->grant;

			/* piggyback the credit we owe on the data */
			if (xts_link__tx_submit(s->link, &f, XTS_OP_DATA, eor ? XTS_F_EOR : 0,
						c->host_id, c->id, grant, (size_t)n)) {
				/* refused (the link counted it): the bytes read
				 * are gone, so the stream is broken; say so */
				conn_fail(s, c, EMSGSIZE);
				break;
			}
			if (c->id != s->tx_last_id) { /* tx_hold: several talk */
				s->tx_last_id = c->id;
				s->tx_switch_ns = s->now_ns;
			}
			c->rx_allowed += grant;
			c->grant = 0;
			c->tx_credit -= (__u32)n;
			s->st.data_to_host += (__u64)n;
			CONN_LST_ADD(s, c, bytes_to_host, (__u64)n);
			frames++;
			/* A short read emptied the receive queue; what comes
			 * later raises a new edge.  No recv() just to hear
			 * EAGAIN: a syscall less per response.  Unless a FIN
			 * or error was signalled: no edge follows those, so
			 * read on to the 0 or the error.  (Framing cuts reads
			 * short at message ends: it reads on to EAGAIN.) */
			if ((size_t)n < want && !c->rdhup && !strp) {
				c->readable = false;
				break;
			}
			continue;
		}
		xts_link__tx_cancel(s->link, &f);
		if (n == 0) {
			c->rd_eof = true;
			conn_ctl_add(s, c, PEND_EOF);
		} else if (n == -EAGAIN || n == -EINTR) {
			c->readable = false;
		} else {
			conn_fail(s, c, (int)-n);
		}
		break;
	}
	if (c->readable && !c->tx_credit && c->state == CS_OPEN && !c->rd_eof)
		s->st.credit_stalls++;
	return frames;
}

int conn_run_ready(struct shard *s)
{
	__u32 last;
	int work = 0;
	bool full = false;

	if (xts_fifo_empty(&s->ready))
		return 0;
	last = xts_fifo_tail(&s->ready);
	while (!xts_fifo_empty(&s->ready) && !full) {
		__u32 slot = xts_fifo_pop(&s->ready, s->conns, ready_node);
		struct conn *c = &s->conns[slot];

		if (c->state != CS_FREE)
			work += conn_read(s, c, &full);
		if (c->state == CS_FREE)
			conn_slot_maybe_free(s, c);
		else
			conn_ready_add(s, c); /* to the tail: round robin */
		if (slot == last)
			break; /* one pass per call, then flush */
	}
	return work;
}
