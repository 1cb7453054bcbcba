// SPDX-License-Identifier: BSD-2-Clause
/*
 * tls.c - TLS as a connection transport (struct conn_io_ops): OpenSSL over
 * the connection's non-blocking kernel socket, through one of two BIOs
 * (xts.conf tls.[i].bio, decided per profile: tls_bio_socket).
 *
 * The seam's write contract is "take a prefix of the host's bytes, keep
 * nothing of theirs".  An SSL_write that meets a full socket breaks it
 * unless something holds what it sealed:
 *
 * Our own BIO (bio "own", and "auto" where the kernel has no "tls" ULP):
 * it sends what the kernel takes and keeps the rest of the sealed record
 * (held, c->io_held) to flush on EPOLLOUT, so SSL_write() always
 * completes and the host's bytes are either taken (sealed) or left in
 * c->buf, never both.  Records are always sealed in user space.
 *
 * OpenSSL's socket BIO (bio "socket", and "auto" where the kernel offers
 * the "tls" ULP): needed for kTLS (SSL_OP_ENABLE_KTLS: OpenSSL hands the
 * keys to the kernel, which then seals and opens the records; without the
 * ULP OpenSSL carries on in user space).  An SSL_write that meets a full
 * socket returns WANT_WRITE having taken its bytes (sealed, or handed to
 * the kernel's kTLS) and must be called again with the same bytes.  So
 * the bytes of that call are copied (held: plaintext here, one call's, at
 * most TLS_CHUNK) and counted taken, and flush repeats the call with the
 * copy (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: the same bytes from our
 * buffer) until OpenSSL says they are out.  SSL_MODE_ENABLE_PARTIAL_WRITE
 * makes SSL_write return after each record, so what it reports is what
 * it took.  A close_notify that meets a full socket waits the same way
 * (notify_pending), and the FIN after it.
 *
 * Either way writev() stops sealing while anything is held, which bounds
 * held bytes to about one record (16 KiB plus overhead) per connection,
 * and gives the memory back once it is out.  Reads go straight from the
 * socket (recv, or kTLS's recvmsg), no copy more than OpenSSL's own.
 *
 * Reads follow the seam's fast-path rule, "a short read means nothing more
 * is there until the next edge": read() loops SSL_read until the frame is
 * full or OpenSSL wants the socket (which then said EAGAIN: an edge will
 * come).  Credit counts plaintext only (what read returns, what writev
 * takes).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls_ctx.h"
#include "ulp.h"

#define TLS_CHUNK    16384	  /* plaintext per SSL_write: one full record */
#define TLS_HELD_MAX (256 * 1024) /* a handshake flight or a record, with room */

/* Small DATA frames are sealed together (one record, not one per frame);
 * one shard is one thread, so one scratch buffer per thread. */
static __thread unsigned char scratch[TLS_CHUNK];

static struct ulp_tls *tls_of(struct conn *c)
{
	return &c->ulp->tls;
}

/* ---- the BIO: the kernel socket, never blocking a write ---- */

static int held_append(struct ulp_tls *t, const char *p, size_t n)
{
	if (t->held_off + t->held_len + n > t->held_cap) {
		if (t->held_len + n <= t->held_cap) {
			memmove(t->held, t->held + t->held_off, t->held_len);
		} else {
			size_t cap = t->held_cap ? t->held_cap : 4096;
			__u8 *nb;

			while (cap < t->held_len + n)
				cap *= 2;
			if (cap > TLS_HELD_MAX)
				return -ENOBUFS;
			nb = malloc(cap);
			if (!nb)
				return -ENOBUFS;
			if (t->held_len)
				memcpy(nb, t->held + t->held_off, t->held_len);
			free(t->held);
			t->held = nb;
			t->held_cap = (__u32)cap;
		}
		t->held_off = 0;
	}
	memcpy(t->held + t->held_off + t->held_len, p, n);
	t->held_len += (__u32)n;
	return 0;
}

static int bio_write(BIO *b, const char *buf, int len)
{
	struct conn *c = BIO_get_data(b);
	struct ulp_tls *t = tls_of(c);
	ssize_t n = 0;

	BIO_clear_retry_flags(b);
	if (!t->held_len) {
		n = send(c->fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				t->wr_errno = errno;
				return -1;
			}
			n = 0;
		}
		if (n == len)
			return len;
	}
	if (held_append(t, buf + n, (size_t)(len - n))) {
		t->wr_errno = ENOBUFS;
		return -1;
	}
	c->io_held = true;
	return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct conn *c = BIO_get_data(b);
	ssize_t n = recv(c->fd, buf, (size_t)len, MSG_DONTWAIT);

	BIO_clear_retry_flags(b);
	if (n > 0)
		return (int)n;
	if (n == 0) {
		tls_of(c)->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EINTR)
		BIO_set_retry_read(b);
	else
		tls_of(c)->wr_errno = errno;
	return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct conn *c = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return c && tls_of(c)->eof;
	default:
		return 0;
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

BIO_METHOD *tls_bio_method(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "xts-conn");

	if (m && (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
		  !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create))) {
		BIO_meth_free(m);
		m = NULL;
	}
	return m;
}

/* ---- held bytes ---- */

static void held_release(struct ulp_tls *t)
{
	free(t->held); /* an idle connection holds nothing */
	t->held = NULL;
	t->held_off = t->held_len = t->held_cap = 0;
}

/* Own BIO: send the sealed records held: 0 all out, -EAGAIN, -errno. */
static int own_push(struct conn *c)
{
	struct ulp_tls *t = tls_of(c);

	while (t->held_len) {
		ssize_t n =
		    send(c->fd, t->held + t->held_off, t->held_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
		t->held_off += (__u32)n;
		t->held_len -= (__u32)n;
	}
	return 0;
}

static int tls_error(struct conn *c, int r, const char *what);

/* Socket BIO: the SSL_write that met a full socket, again with the same
 * bytes, then a close_notify that did: 0 all out, -EAGAIN, -errno. */
static int sock_push(struct conn *c)
{
	struct ulp_tls *t = tls_of(c);
	size_t w;
	int r;

	while (t->held_len) {
		errno = 0;
		if (!SSL_write_ex(t->ssl, t->held + t->held_off, t->held_len, &w)) {
			r = tls_error(c, 0, "write");
			return r ? r : -EPIPE;
		}
		t->held_off += (__u32)w;
		t->held_len -= (__u32)w;
	}
	if (t->notify_pending) {
		errno = 0;
		r = SSL_shutdown(t->ssl);
		if (r < 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_WRITE)
			return -EAGAIN;
		ERR_clear_error(); /* sent, or the socket failed: nothing to wait for */
		t->notify_pending = false;
	}
	return 0;
}

/* What the transport holds goes out, then a FIN the host asked for
 * meanwhile: 0 when nothing is left, -EAGAIN, -errno. */
static int held_push(struct conn *c)
{
	struct ulp_tls *t = tls_of(c);
	int err = t->sockbio ? sock_push(c) : own_push(c);

	if (err)
		return err;
	held_release(t);
	c->io_held = false;
	if (t->shut_wr_pending) {
		t->shut_wr_pending = false;
		if (shutdown(c->fd, SHUT_WR))
			return -errno;
	}
	return 0;
}

/* ---- errors ---- */

/*
 * Why an SSL call failed, as an errno and a reason for the host: -EAGAIN
 * (OpenSSL waits for the socket), 0 (close_notify: the end of stream), or
 * -errno with ulp_fail() called.
 */
static int tls_error(struct conn *c, int r, const char *what)
{
	struct ulp_tls *t = tls_of(c);
	int sys = errno; /* the socket BIO's error, if any (callers zero it) */
	int e = SSL_get_error(t->ssl, r);
	long v = SSL_get_verify_result(t->ssl);
	char buf[120];

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		if (t->done)
			return 0;
		ulp_fail(c, ECONNRESET, "TLS %s: the peer closed (close_notify)", what);
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (t->sockbio && !t->wr_errno && sys && sys != EAGAIN && sys != EINTR)
			t->wr_errno = sys;
		if (t->wr_errno) {
			ulp_fail(c, t->wr_errno, "TLS %s: %s", what, strerror(t->wr_errno));
			return -t->wr_errno;
		}
		ulp_fail(c, ECONNRESET, "TLS %s: the peer closed without close_notify", what);
		return -ECONNRESET;
	default:
		break;
	}
	if (v != X509_V_OK && !t->done) {
		ERR_clear_error();
		ulp_fail(c, EKEYREJECTED, "certificate verify failed: %s",
			 X509_verify_cert_error_string(v));
		return -EKEYREJECTED;
	}
	if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_clear_error();
		ulp_fail(c, ECONNRESET, "TLS %s: the peer closed without close_notify (truncated)",
			 what);
		return -ECONNRESET;
	}
	tls_err_text(buf, sizeof(buf));
	ulp_fail(c, EPROTO, "TLS %s: %s", what, buf[0] ? buf : "protocol error");
	return -EPROTO;
}

/* ---- the transport ---- */

/* Did the kernel take the records over?  Counted per shard: the start
 * line says what a profile asked for, these what the kernel did. */
static void ktls_count(struct conn *c)
{
	struct shard *s = c->ulp->s;
	SSL *ssl = tls_of(c)->ssl;

	s->st.tls_sockbio++;
	if (BIO_get_ktls_send(SSL_get_wbio(ssl)))
		s->st.tls_ktls_tx++;
	if (BIO_get_ktls_recv(SSL_get_rbio(ssl)))
		s->st.tls_ktls_rx++;
}

int tls_handshake_step(struct conn *c)
{
	struct ulp_tls *t = tls_of(c);
	int r, err;

	if (t->held_len && (err = held_push(c)) && err != -EAGAIN)
		return err;
	if (t->sockbio && BIO_get_fd(SSL_get_rbio(t->ssl), NULL) != c->fd) /* originate: */
		BIO_set_fd(SSL_get_rbio(t->ssl), c->fd, BIO_NOCLOSE);	   /* known now */
	errno = 0;
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->done = true;
		if (t->sockbio)
			ktls_count(c);
		ulp_tls_info(c);
		return 0;
	}
	err = tls_error(c, r, "handshake");
	return err ? err : -ECONNRESET;
}

static ssize_t tls_read(struct conn *c, void *buf, size_t len)
{
	struct ulp_tls *t = tls_of(c);
	size_t got = 0, n;
	int err = -EAGAIN;

	while (got < len) {
		errno = 0;
		if (SSL_read_ex(t->ssl, (__u8 *)buf + got, len - got, &n)) {
			got += n;
			continue;
		}
		err = tls_error(c, 0, "read");
		break;
	}
	if (got && t->pst)
		t->pst->bytes_to_host += got;
	if (got) {
		/* an end or an error after bytes: they go first, and the next
		 * read (rdhup: at once, no edge needed) reports it */
		if (err != -EAGAIN)
			c->rdhup = true;
		return (ssize_t)got;
	}
	return err;
}

/* The next plaintext to seal from @iov at (@i, @off), at most one
 * record's worth: in place, or small frames copied together into scratch
 * (one record, not one per frame). */
static size_t gather(const struct iovec *iov, unsigned n, unsigned i, size_t off,
		     const unsigned char **p)
{
	size_t chunk = iov[i].iov_len - off;

	if (chunk >= TLS_CHUNK || i + 1 == n) {
		*p = (const unsigned char *)iov[i].iov_base + off;
		return chunk < TLS_CHUNK ? chunk : TLS_CHUNK;
	}
	for (chunk = 0; i < n && chunk < TLS_CHUNK; i++, off = 0) {
		size_t k = iov[i].iov_len - off;

		if (k > TLS_CHUNK - chunk)
			k = TLS_CHUNK - chunk;
		memcpy(scratch + chunk, (const char *)iov[i].iov_base + off, k);
		chunk += k;
	}
	*p = scratch;
	return chunk;
}

static void advance(const struct iovec *iov, unsigned n, unsigned *i, size_t *off, size_t w)
{
	*off += w;
	while (*i < n && *off >= iov[*i].iov_len) {
		*off -= iov[*i].iov_len;
		(*i)++;
	}
}

/* Seal the host's bytes: a prefix of them (all, unless the kernel stopped
 * taking records), -EAGAIN, -errno. */
static ssize_t tls_writev(struct conn *c, const struct iovec *iov, unsigned n, bool more)
{
	struct ulp_tls *t = tls_of(c);
	size_t taken = 0, off = 0, w;
	unsigned i = 0;
	int err;

	(void)more; /* records are as full as the frames make them anyway */
	if (t->held_len && (err = held_push(c)))
		return err;
	advance(iov, n, &i, &off, 0);
	while (i < n && !t->held_len) {
		const unsigned char *p;
		size_t chunk = gather(iov, n, i, off, &p);

		errno = 0;
		if (!SSL_write_ex(t->ssl, p, chunk, &w)) {
			err = tls_error(c, 0, "write");
			if (err == -EAGAIN && t->sockbio &&
			    !held_append(t, (const char *)p, chunk)) {
				/* OpenSSL has these bytes and wants them again:
				 * ours now (sock_push), taken for the host */
				c->io_held = true;
				c->ulp->s->st.tls_write_retries++;
				w = chunk;
			} else if (taken) {
				break; /* what was sealed is taken; the error comes next time */
			} else {
				return err ? err : -EPIPE;
			}
		}
		advance(iov, n, &i, &off, w);
		taken += w;
	}
	if (t->pst)
		t->pst->bytes_to_net += taken;
	return (ssize_t)taken;
}

static int tls_flush(struct conn *c)
{
	return held_push(c);
}

/* close_notify before the FIN: a peer tells a truncation from an end. */
static void tls_finish(struct conn *c)
{
	struct ulp_tls *t = tls_of(c);
	int r;

	if (t->shut_sent || !t->done)
		return;
	t->shut_sent = true;
	errno = 0;
	r = SSL_shutdown(t->ssl); /* own BIO: sent or held, never blocking */
	if (t->sockbio && r < 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_WRITE) {
		t->notify_pending = true; /* socket BIO: again on EPOLLOUT */
		c->io_held = true;
	}
	ERR_clear_error();
}

static int tls_shutdown(struct conn *c)
{
	struct ulp_tls *t = tls_of(c);

	tls_finish(c);
	if (t->held_len || t->notify_pending) {
		t->shut_wr_pending = true; /* after what is held (held_push) */
		return 0;
	}
	if (t->shut_wr_pending || c->fd < 0)
		return 0;
	return shutdown(c->fd, SHUT_WR) ? -errno : 0;
}

static unsigned tls_events(struct conn *c, __u32 ev)
{
	return conn_io_tcp.events(c, ev);
}

/* A graceful close sends close_notify first, as far as the kernel takes
 * it now (conn_flush_buf closes only once the host's bytes are out). */
static void tls_close(struct conn *c, bool abort)
{
	if (!abort) {
		tls_finish(c);
		held_push(c);
	}
	tls_conn_free(c->ulp->s, c);
	conn_io_tcp.close(c, abort);
}

const struct conn_io_ops conn_io_tls = {
    .read = tls_read,
    .writev = tls_writev,
    .flush = tls_flush,
    .shutdown = tls_shutdown,
    .events = tls_events,
    .close = tls_close,
};

/* ---- a connection's TLS ---- */

static int verify_name(SSL *ssl, const struct xts_ulp *u, const struct xts_addr *dst)
{
	char ip[INET6_ADDRSTRLEN];

	if (u->sni[0])
		return SSL_set1_host(ssl, u->sni) ? 0 : -EINVAL;
	/* no name: the certificate must name the address connected to */
	if (!inet_ntop(le16toh(dst->family), dst->addr, ip, sizeof(ip)))
		return -EINVAL;
	return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) ? 0 : -EINVAL;
}

int tls_conn_init(struct shard *s, struct conn *c, const struct xts_ulp *u,
		  const struct xts_addr *dst, bool server)
{
	struct ulp_tls *t = tls_of(c);
	struct tls_prof *p = tls_prof_find(s, u->profile);
	BIO *bio;
	__u8 alen;

	if (!p) {
		ulp_fail(c, ENOENT, "no TLS profile \"%s\"", u->profile);
		return ENOENT;
	}
	t->ssl = tls_prof_new_ssl(p, server);
	t->sockbio = tls_prof_sockbio(p);
	/* the socket BIO gets its fd at the first handshake step (an
	 * originated connection's socket is made after this) */
	bio = BIO_new(t->sockbio ? BIO_s_socket() : tls_store_bio(s));
	if (!t->ssl || !bio) {
		BIO_free(bio);
		ulp_fail(c, ENOMEM, "TLS: out of memory");
		return ENOMEM;
	}
	if (t->sockbio) {
		BIO_set_fd(bio, c->fd, BIO_NOCLOSE);
		SSL_set_options(t->ssl, SSL_OP_ENABLE_KTLS);
		SSL_set_mode(t->ssl,
			     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	} else {
		BIO_set_data(bio, c);
	}
	SSL_set_bio(t->ssl, bio, bio);
	s->st.tls_conns++;
	s->st.tls_handshaking++;
	t->counted_hs = true;
	SSL_set_app_data(t->ssl, c);
	tls_prof_get(p);
	t->prof = p;
	t->server = server;
	memcpy(t->alpn, u->alpn, sizeof(t->alpn));
	if (server) {
		SSL_set_accept_state(t->ssl);
		return 0;
	}
	SSL_set_connect_state(t->ssl);
	if (u->alpn[0]) {
		for (alen = 0; alen < sizeof(u->alpn) && u->alpn[alen];)
			alen = (__u8)(alen + 1 + u->alpn[alen]);
		SSL_set_alpn_protos(t->ssl, u->alpn, alen);
	} else {
		const __u8 *a = tls_prof_alpn(p, &alen);

		if (alen)
			SSL_set_alpn_protos(t->ssl, a, alen);
	}
	if (SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE && verify_name(t->ssl, u, dst)) {
		ulp_fail(c, EINVAL, "TLS: bad server name");
		return EINVAL;
	}
	if (u->sni[0] && !SSL_set_tlsext_host_name(t->ssl, u->sni)) {
		ulp_fail(c, EINVAL, "TLS: bad server name");
		return EINVAL;
	}
	return 0;
}

void tls_conn_free(struct shard *s, struct conn *c)
{
	struct ulp_tls *t = tls_of(c);

	if (t->counted_hs) { /* a handshake that never ended */
		t->counted_hs = false;
		s->st.tls_handshaking--;
	}
	if (t->ssl) {
		s->st.tls_conns--;
		SSL_free(t->ssl); /* and its BIO */
		t->ssl = NULL;
	}
	held_release(t);
	if (t->prof) {
		tls_prof_put(t->prof);
		t->prof = NULL;
	}
}
