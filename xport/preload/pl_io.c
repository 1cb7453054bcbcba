// SPDX-License-Identifier: BSD-2-Clause
/*
 * pl_io.c - bytes: read/write, readv/writev, recv/send and their
 * relatives, the fortified __*_chk entry points (Debian builds with
 * _FORTIFY_SOURCE, so read() in socat is __read_chk).  Linux's rules: a
 * blocking send sends everything (or fails, or is cut short by a signal
 * or SO_SNDTIMEO), a blocking recv waits for one byte (MSG_WAITALL: for
 * all), EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "preload.h"

#define GATHER_MAX   (16 * 1024) /* writev of small pieces: one send */
#define SENDFILE_BUF (64 * 1024)

extern void __chk_fail(void) __attribute__((noreturn));

static ssize_t fail(int err)
{
	errno = err;
	return -1;
}

/* The XTS socket behind @fd, or NULL (with *err set when it is one we
 * cannot use: inherited over fork).  @rd: a read, which on a kernel fd
 * may sleep: the thread's turn ends first (pl_turn_over), so that what it
 * queued is not left waiting for its next epoll_wait. */
static struct pl_sock *xsock_io(int fd, int *err, bool rd)
{
	struct pl_sock *ps;

	*err = 0;
	if (pl_depth)
		return NULL;
	ps = pl_get(fd);
	if (!ps || ps->kind != PL_XTS) {
		if (rd)
			pl_turn_over();
		return NULL;
	}
	*err = pl_usable(fd, ps);
	if (*err < 0) { /* claimed from the parent: a kernel socket now, ps gone */
		*err = 0;
		return NULL;
	}
	return *err ? NULL : ps;
}

static struct pl_sock *xsock(int fd, int *err)
{
	return xsock_io(fd, err, false);
}

static struct pl_sock *xsock_rd(int fd, int *err)
{
	return xsock_io(fd, err, true);
}

static ssize_t x_recv(struct pl_sock *ps, void *buf, size_t len, int flags)
{
	struct pl_queue *q = ps->q;
	bool nb = ps->nonblock || (flags & MSG_DONTWAIT);
	bool all = (flags & MSG_WAITALL) && !(flags & MSG_PEEK) && !nb;
	uint64_t dl = 0; /* read from the clock when it first waits */
	size_t done = 0;
	ssize_t n = 0;
	int e = 0, w;

	flags = (flags & ~MSG_WAITALL) | MSG_DONTWAIT;
	pl_qlock(q);
	for (;;) {
		n = xport_recv(q->xp, ps->sd, buf ? (char *)buf + done : NULL, len - done, flags);
		if (n > 0) {
			done += (size_t)n;
			if (!all || done == len)
				break;
			continue;
		}
		e = errno;
		if (n == 0 || e != EAGAIN || nb)
			break;
		if (!dl)
			dl = pl_deadline_us(ps->rcvtimeo_us);
		w = pl_qwait(q, dl);
		if (w) {
			e = w == -EINTR ? EINTR : EAGAIN;
			n = -1;
			break;
		}
	}
	pl_qunlock(q);
	if (done || n == 0)
		return (ssize_t)done;
	return fail(e);
}

/* Sends; EPIPE is the caller's to turn into SIGPIPE. */
static ssize_t x_send(struct pl_sock *ps, const void *buf, size_t len, int flags)
{
	struct pl_queue *q = ps->q;
	bool nb = ps->nonblock || (flags & MSG_DONTWAIT);
	uint64_t dl = 0; /* read from the clock when it first waits */
	size_t done = 0;
	ssize_t n;
	int e = 0, w;

	flags |= MSG_DONTWAIT;
	pl_qlock(q);
	for (;;) {
		n = xport_send(q->xp, ps->sd, (const char *)buf + done, len - done, flags);
		if (n >= 0) {
			done += (size_t)n;
			if (done == len || nb)
				break;
			continue;
		}
		e = errno;
		if (e != EAGAIN || nb)
			break;
		if (!dl)
			dl = pl_deadline_us(ps->sndtimeo_us);
		w = pl_qwait(q, dl);
		if (w) {
			e = w == -EINTR ? EINTR : EAGAIN;
			break;
		}
	}
	pl_qunlock(q);
	if (done || !len)
		return (ssize_t)done;
	return fail(e);
}

static ssize_t sigpipe(ssize_t r, int flags)
{
	if (r < 0 && errno == EPIPE && !(flags & MSG_NOSIGNAL)) {
		int e = errno;

		raise(SIGPIPE); /* to this thread, as the kernel does */
		errno = e;
	}
	return r;
}

static ssize_t x_readv(struct pl_sock *ps, const struct iovec *iov, int n, int flags)
{
	size_t total = 0, cap = 0;
	ssize_t r = 0;
	char *bounce;
	int i;

	if (n < 0 || n > IOV_MAX)
		return fail(EINVAL);
	if (flags & MSG_PEEK && n > 1) { /* each peek starts at the same byte */
		for (i = 0; i < n; i++)
			cap += iov[i].iov_len;
		if (cap > 1 << 20)
			cap = 1 << 20;
		bounce = malloc(cap ? cap : 1);
		if (!bounce)
			return fail(ENOMEM);
		r = x_recv(ps, bounce, cap, flags);
		for (i = 0; r > 0 && i < n && total < (size_t)r; i++) {
			size_t k =
			    iov[i].iov_len < (size_t)r - total ? iov[i].iov_len : (size_t)r - total;

			memcpy(iov[i].iov_base, bounce + total, k);
			total += k;
		}
		free(bounce);
		return r;
	}
	for (i = 0; i < n; i++) {
		if (!iov[i].iov_len)
			continue;
		/* only the first piece may wait */
		r = x_recv(ps, iov[i].iov_base, iov[i].iov_len, flags | (total ? MSG_DONTWAIT : 0));
		if (r <= 0)
			break;
		total += (size_t)r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	if (total)
		return (ssize_t)total;
	return r;
}

static ssize_t x_writev(struct pl_sock *ps, const struct iovec *iov, int n, int flags)
{
	char buf[GATHER_MAX];
	size_t total = 0, len = 0;
	ssize_t r = 0;
	int i;

	if (n < 0 || n > IOV_MAX)
		return fail(EINVAL);
	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (n > 1 && len <= sizeof(buf)) { /* one frame, not one per piece */
		for (i = 0; i < n; i++) {
			memcpy(buf + total, iov[i].iov_base, iov[i].iov_len);
			total += iov[i].iov_len;
		}
		return sigpipe(x_send(ps, buf, len, flags), flags);
	}
	for (i = 0; i < n; i++) {
		if (!iov[i].iov_len)
			continue;
		r = x_send(ps, iov[i].iov_base, iov[i].iov_len,
			   (flags | MSG_NOSIGNAL) | (i + 1 < n ? MSG_MORE : 0));
		if (r < 0)
			break;
		total += (size_t)r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	if (total)
		return (ssize_t)total;
	return sigpipe(r, flags);
}

/* ---- the wrappers ---- */

ssize_t read(int fd, void *buf, size_t len)
{
	int err;
	struct pl_sock *ps = xsock_rd(fd, &err);

	if (err)
		return fail(err);
	return ps ? x_recv(ps, buf, len, 0) : REAL(read)(fd, buf, len);
}

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return read(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	int err;
	struct pl_sock *ps = xsock(fd, &err);

	if (err)
		return fail(err);
	return ps ? sigpipe(x_send(ps, buf, len, 0), 0) : REAL(write)(fd, buf, len);
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
	int err;
	struct pl_sock *ps = xsock_rd(fd, &err);

	if (err)
		return fail(err);
	return ps ? x_readv(ps, iov, n, 0) : REAL(readv)(fd, iov, n);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	int err;
	struct pl_sock *ps = xsock(fd, &err);

	if (err)
		return fail(err);
	return ps ? x_writev(ps, iov, n, 0) : REAL(writev)(fd, iov, n);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	int err;
	struct pl_sock *ps = xsock_rd(fd, &err);

	if (err)
		return fail(err);
	return ps ? x_recv(ps, buf, len, flags) : REAL(recv)(fd, buf, len, flags);
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		__chk_fail();
	return recv(fd, buf, len, flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	int err;
	struct pl_sock *ps = xsock(fd, &err);

	if (err)
		return fail(err);
	return ps ? sigpipe(x_send(ps, buf, len, flags), flags) : REAL(send)(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *a, socklen_t *alen)
{
	int err;
	struct pl_sock *ps = xsock_rd(fd, &err);
	ssize_t r;

	if (err)
		return fail(err);
	if (!ps)
		return REAL(recvfrom)(fd, buf, len, flags, a, alen);
	r = x_recv(ps, buf, len, flags);
	if (r >= 0 && a && alen)
		*alen = 0; /* TCP names no source, as Linux */
	return r;
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *a,
		       socklen_t *alen);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *a,
		       socklen_t *alen)
{
	if (len > buflen)
		__chk_fail();
	return recvfrom(fd, buf, len, flags, a, alen);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *a,
	       socklen_t alen)
{
	int err;
	struct pl_sock *ps = xsock(fd, &err);

	if (err)
		return fail(err);
	if (!ps)
		return REAL(sendto)(fd, buf, len, flags, a, alen);
	/* a connected TCP socket ignores the address */
	return sigpipe(x_send(ps, buf, len, flags), flags);
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	int err;
	struct pl_sock *ps = xsock_rd(fd, &err);
	ssize_t r;

	if (err)
		return fail(err);
	if (!ps)
		return REAL(recvmsg)(fd, m, flags);
	r = x_readv(ps, m->msg_iov, (int)m->msg_iovlen, flags);
	if (r >= 0) {
		m->msg_namelen = 0;
		m->msg_controllen = 0;
		m->msg_flags = 0;
	}
	return r;
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	int err;
	struct pl_sock *ps = xsock(fd, &err);

	if (err)
		return fail(err);
	if (!ps)
		return REAL(sendmsg)(fd, m, flags);
	return x_writev(ps, m->msg_iov, (int)m->msg_iovlen, flags);
}

/* sendfile to an XTS socket: the file's bytes go through a buffer into
 * DATA frames (there is no kernel socket to splice into).  Linux's
 * offsets: with @off, the file position stays and *off moves; without,
 * the file position moves by what was sent (bytes read but not taken by
 * a non-blocking send are given back with lseek). */
static ssize_t x_sendfile(struct pl_sock *ps, int in, off_t *off, size_t count)
{
	size_t total = 0;
	ssize_t r, s = 0;
	char *buf = malloc(SENDFILE_BUF);

	if (!buf)
		return fail(ENOMEM);
	while (total < count) {
		size_t want = count - total < SENDFILE_BUF ? count - total : SENDFILE_BUF;

		r = off ? pread(in, buf, want, *off + (off_t)total) : REAL(read)(in, buf, want);
		if (r <= 0) {
			s = r;
			break;
		}
		s = x_send(ps, buf, (size_t)r, MSG_NOSIGNAL);
		if (s < (ssize_t)r && !off) {
			int e = errno;

			lseek(in, (off_t)(s < 0 ? 0 : s) - r, SEEK_CUR);
			errno = e;
		}
		if (s < 0)
			break;
		total += (size_t)s;
		if (s < r)
			break;
	}
	free(buf);
	if (off)
		*off += (off_t)total;
	if (total)
		return (ssize_t)total;
	return s < 0 ? sigpipe(s, 0) : 0;
}

ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	int err;
	struct pl_sock *ps = xsock(out, &err);

	if (err)
		return fail(err);
	if (!ps)
		return REAL(sendfile)(out, in, off, count);
	return x_sendfile(ps, in, off, count);
}

ssize_t sendfile64(int out, int in, off_t *off, size_t count);
ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
	return sendfile(out, in, off, count);
}

/* recvmmsg on a stream: each message is a recvmsg; the first may wait
 * (not with MSG_DONTWAIT), the rest take what is there (MSG_WAITFORONE's
 * rule, which is also what a stream allows without waiting between
 * messages); an end of stream ends the batch.  @timeout, which Linux
 * checks only after a message came, is not used: the socket's
 * SO_RCVTIMEO bounds the first wait. */
int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *timeout)
{
	int err;
	struct pl_sock *ps = xsock_rd(fd, &err);
	unsigned i;
	ssize_t r;

	if (err)
		return (int)fail(err);
	if (!ps)
		return REAL(recvmmsg)(fd, v, n, flags, timeout);
	flags &= ~MSG_WAITFORONE;
	for (i = 0; i < n; i++) {
		struct msghdr *m = &v[i].msg_hdr;

		r = x_readv(ps, m->msg_iov, (int)m->msg_iovlen, flags | (i ? MSG_DONTWAIT : 0));
		if (r < 0)
			break;
		m->msg_namelen = 0;
		m->msg_controllen = 0;
		m->msg_flags = 0;
		v[i].msg_len = (unsigned)r;
		if (r == 0)
			return (int)i + 1; /* the end of the stream, once */
	}
	return i ? (int)i : -1; /* errno from the first */
}

/* sendmmsg on a stream: each message a sendmsg, until one fails or is
 * cut short (the count of those sent whole, or the first's error). */
int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	int err;
	struct pl_sock *ps = xsock(fd, &err);
	unsigned i;
	ssize_t r;

	if (err)
		return (int)fail(err);
	if (!ps)
		return REAL(sendmmsg)(fd, v, n, flags);
	for (i = 0; i < n; i++) {
		const struct msghdr *m = &v[i].msg_hdr;
		size_t want = 0, k;

		for (k = 0; k < m->msg_iovlen; k++)
			want += m->msg_iov[k].iov_len;
		r = x_writev(ps, m->msg_iov, (int)m->msg_iovlen, flags | MSG_NOSIGNAL);
		if (r < 0)
			return i ? (int)i : (int)sigpipe(r, flags);
		v[i].msg_len = (unsigned)r;
		if ((size_t)r < want)
			return (int)i + 1;
	}
	return (int)n;
}

/* How much pipe @fd takes now, into *len (at most *len; not a pipe: as
 * is); waits for room unless @nb.  0 or -1 (errno). */
static ssize_t pipe_room(int fd, size_t *len, bool nb)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	struct stat st;
	int size, used;

	if (fstat(fd, &st) || !S_ISFIFO(st.st_mode))
		return 0;
	for (;;) {
		size = REAL(fcntl)(fd, F_GETPIPE_SZ);
		if (size < 0 || REAL(ioctl)(fd, FIONREAD, &used))
			return -1;
		if (size > used) {
			if (*len > (size_t)(size - used))
				*len = (size_t)(size - used);
			return 0;
		}
		if (nb)
			return fail(EAGAIN);
		if (REAL(poll)(&p, 1, -1) < 0)
			return -1; /* EINTR */
	}
}

/* splice with an XTS socket on one side: there is no kernel socket to
 * splice from or into, so the bytes go through a buffer (at most 64 KiB
 * a call, the pipe on the other side as the kernel would use it).  A
 * socket on both sides, or an offset on the socket's side: EINVAL, as
 * splice(2) says for a socket with an offset. */
ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len, unsigned flags)
{
	int ein, eout;
	struct pl_sock *pin = xsock_rd(in, &ein), *pout = xsock(out, &eout);
	bool nb = flags & SPLICE_F_NONBLOCK;
	ssize_t r, w;
	char *buf;

	if (ein || eout)
		return fail(ein ? ein : eout);
	if (!pin && !pout)
		return REAL(splice)(in, off_in, out, off_out, len, flags);
	if ((pin && pout) || (pin && off_in) || (pout && off_out))
		return fail(EINVAL);
	if (len > SENDFILE_BUF)
		len = SENDFILE_BUF;
	buf = malloc(len ? len : 1);
	if (!buf)
		return fail(ENOMEM);
	if (pin) { /* socket -> pipe or file: only what fits is taken */
		r = pipe_room(out, &len, nb);
		if (r == 0)
			r = x_recv(pin, buf, len, nb ? MSG_DONTWAIT : 0);
		w = r > 0 ? (off_out ? pwrite(out, buf, (size_t)r, *off_out)
				     : REAL(write)(out, buf, (size_t)r))
			  : r;
		if (r > 0 && w < r) /* the stream's bytes cannot go back */
			pl_log(PL_LOG_WARN, "splice from fd %d: %zd bytes lost: %s", in,
			       r - (w < 0 ? 0 : w), w < 0 ? strerror(errno) : "short write");
		if (w > 0 && off_out)
			*off_out += w;
	} else { /* pipe or file -> socket */
		r = off_in ? pread(in, buf, len, *off_in) : REAL(read)(in, buf, len);
		w = r > 0 ? sigpipe(x_send(pout, buf, (size_t)r,
					   MSG_NOSIGNAL | (nb ? MSG_DONTWAIT : 0)),
				    0)
			  : r;
		if (r > 0 && w < r && !off_in)
			pl_log(PL_LOG_WARN, "splice into fd %d: %zd bytes not sent: %s", out,
			       r - (w < 0 ? 0 : w), w < 0 ? strerror(errno) : "short send");
		if (w > 0 && off_in)
			*off_in += w;
	}
	free(buf);
	return w;
}
