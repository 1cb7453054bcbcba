// SPDX-License-Identifier: BSD-2-Clause
/*
 * conn_io.c - a connection's transport (the I/O seam, struct conn_io_ops)
 * and the host's bytes on their way into it.
 *
 * The first transport is the plain non-blocking kernel TCP socket.  TLS
 * records and message framing go behind the same ops: credit counts the
 * host's bytes (what read() returns and writev() takes), never transport
 * bytes, and the shard's own buffer (c->buf) holds the host's bytes that the
 * transport did not take yet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shard_int.h"

/* ---- the plain kernel socket ---- */

static ssize_t tcp_read(struct conn *c, void *buf, size_t len)
{
	ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);

	return n < 0 ? -errno : n;
}

static ssize_t tcp_writev(struct conn *c, const struct iovec *iov, unsigned n, bool more)
{
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};
	ssize_t r = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0));

	return r < 0 ? -errno : r;
}

static int tcp_flush(struct conn *c)
{
	(void)c; /* the kernel holds what it took; nothing of ours waits */
	return 0;
}

static int tcp_shutdown(struct conn *c)
{
	return shutdown(c->fd, SHUT_WR) ? -errno : 0;
}

static unsigned tcp_events(struct conn *c, __u32 ev)
{
	unsigned what = 0;

	(void)c;
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		what |= CIO_RD;
	if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		what |= CIO_WR;
	/* no edge follows a FIN or an error: read on to the 0 or the error */
	if (ev & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		what |= CIO_HUP;
	return what;
}

static void tcp_close(struct conn *c, bool abort)
{
	if (abort) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd); /* also leaves the epoll set */
}

const struct conn_io_ops conn_io_tcp = {
    .read = tcp_read,
    .writev = tcp_writev,
    .flush = tcp_flush,
    .shutdown = tcp_shutdown,
    .events = tcp_events,
    .close = tcp_close,
};

/* ---- the host's bytes into the transport ---- */

/* Keep bytes the transport did not take (or, for a CONNECT's first bytes,
 * cannot take yet): 0, or -ENOMEM (connection failed). */
int conn_buf_keep(struct shard *s, struct conn *c, const __u8 *p, size_t rest)
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
 * Hand @n payloads (already within the connection's credit) to the
 * transport: one writev (one sendmsg(2)) when nothing waits in the buffer,
 * and what it does not take goes to the buffer, in order.  Credit for what
 * it took goes back to the host once a quarter of conn_buf is owed.
 */
void conn_to_net(struct shard *s, struct conn *c, struct iovec *iov, unsigned n, bool more)
{
	ssize_t sent = 0;
	size_t off;
	unsigned i;

	if (!c->buf_len) {
		sent = c->io->writev(c, iov, n, more);
		if (sent < 0) {
			if (sent != -EAGAIN && sent != -EINTR) {
				conn_fail(s, c, (int)-sent);
				return;
			}
			sent = 0;
		}
		c->grant += (__u32)sent;
		s->st.data_to_net += (__u64)sent;
		CONN_LST_ADD(s, c, bytes_to_net, (__u64)sent);
	}
	for (i = 0, off = (size_t)sent; i < n; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		if (conn_buf_keep(s, c, (const __u8 *)iov[i].iov_base + off, iov[i].iov_len - off))
			return;
		off = 0;
	}
	if (c->grant >= s->o.conn_buf / 4)
		conn_ctl_add(s, c, PEND_CREDIT);
}

/* What the transport holds itself must leave before the end of stream. */
static bool io_flushed(struct shard *s, struct conn *c)
{
	int err;

	if (!c->io_held)
		return true;
	err = c->io->flush(c);
	if (err == -EAGAIN || err == -EINTR)
		return false;
	if (err) {
		conn_fail(s, c, -err);
		return false;
	}
	c->io_held = false;
	return true;
}

void conn_flush_buf(struct shard *s, struct conn *c)
{
	/* records TLS sealed earlier go before anything new */
	if (c->io_held && !io_flushed(s, c))
		return;
	while (c->buf_len) {
		struct iovec iov = {.iov_base = c->buf + c->buf_off, .iov_len = c->buf_len};
		ssize_t n = c->io->writev(c, &iov, 1, false);

		if (n <= 0) {
			if (n == 0 || n == -EAGAIN || n == -EINTR)
				return;
			conn_fail(s, c, (int)-n);
			return;
		}
		c->buf_off += (__u32)n;
		c->buf_len -= (__u32)n;
		c->grant += (__u32)n;
		s->st.buf_bytes -= (__u64)n;
		s->st.data_to_net += (__u64)n;
		CONN_LST_ADD(s, c, bytes_to_net, (__u64)n);
		/* as in conn_to_net: a slow peer's bytes leave a little at a
		 * time, and the host must not wait for the whole buffer to
		 * drain before it may send again (a stop-and-go stream) */
		if (c->grant >= s->o.conn_buf / 4)
			conn_ctl_add(s, c, PEND_CREDIT);
	}
	/* Empty: give the memory back, so idle connections cost none. */
	free(c->buf);
	c->buf = NULL;
	c->buf_off = 0;
	if (c->grant)
		conn_ctl_add(s, c, PEND_CREDIT);
	if ((c->state == CS_CLOSING || c->wr_shut) && !io_flushed(s, c))
		return;
	if (c->state == CS_CLOSING) {
		conn_close_fd(s, c, false); /* FIN after the last byte */
		conn_set_state(s, c, CS_ZOMBIE);
		conn_ctl_add(s, c, PEND_CLOSED);
	} else if (c->wr_shut) {
		/* the host's SHUTDOWN came while bytes waited: its FIN now */
		c->io->shutdown(c);
	}
}
