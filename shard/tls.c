// SPDX-License-Identifier: BSD-2-Clause
/*
 * tls.c - TLS as a connection transport (struct conn_io_ops): OpenSSL over
 * the connection's non-blocking kernel socket, through a BIO of our own.
 *
 * Why our own BIO and not OpenSSL's socket BIO: writes.  With a socket
 * BIO, SSL_write() that meets a full socket returns WANT_WRITE having
 * sealed a record it still holds, and must be called again with the same
 * bytes; the seam's contract is "take a prefix of the host's bytes, keep
 * nothing of theirs".  Our BIO sends what the kernel takes and keeps the
 * rest of the sealed record (held, c->io_held) to flush on EPOLLOUT, so
 * SSL_write() always completes and the host's bytes are either taken
 * (sealed) or left in c->buf, never both.  writev() stops sealing while
 * anything is held, which bounds held bytes to about one record (16 KiB
 * plus overhead) per connection.  Reads go straight from the socket
 * (recv), as a socket BIO's would: no copy more than OpenSSL's own.
 *
 * kTLS: OpenSSL can hand records to the kernel (SSL_OP_ENABLE_KTLS) only
 * through its socket BIO; this kernel has no "tls" ULP
 * (/proc/sys/net/ipv4/tcp_available_ulp), so records are done here in user
 * space.  The shard says which at start (docs/design.md, "TLS on the
 * shard").
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

/* ---- held records ---- */

/* Send what is held: 0 when nothing is left, -EAGAIN, -errno. */
static int held_push(struct conn *c)
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
	t->held_off = 0;
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

int tls_handshake_step(struct conn *c)
{
	struct ulp_tls *t = tls_of(c);
	int r, err;

	if (t->held_len && (err = held_push(c)) && err != -EAGAIN)
		return err;
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->done = true;
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

/* Seal the host's bytes: a prefix of them (all, unless the kernel stopped
 * taking records), -EAGAIN, -errno. */
static ssize_t tls_writev(struct conn *c, const struct iovec *iov, unsigned n, bool more)
{
	struct ulp_tls *t = tls_of(c);
	size_t taken = 0, off = 0;
	unsigned i = 0;
	int err;

	(void)more; /* records are as full as the frames make them anyway */
	if (t->held_len && (err = held_push(c)))
		return err;
	while (i < n && !t->held_len) {
		const unsigned char *p = (const unsigned char *)iov[i].iov_base + off;
		size_t chunk = iov[i].iov_len - off, w;

		if (chunk < TLS_CHUNK && i + 1 < n) { /* small frames: one record */
			chunk = 0;
			while (i < n && chunk < TLS_CHUNK) {
				size_t k = iov[i].iov_len - off;

				if (k > TLS_CHUNK - chunk)
					k = TLS_CHUNK - chunk;
				memcpy(scratch + chunk, (const char *)iov[i].iov_base + off, k);
				chunk += k;
				off += k;
				if (off == iov[i].iov_len) {
					i++;
					off = 0;
				}
			}
			p = scratch;
		} else {
			if (chunk > TLS_CHUNK)
				chunk = TLS_CHUNK;
			off += chunk;
			if (off == iov[i].iov_len) {
				i++;
				off = 0;
			}
		}
		if (!SSL_write_ex(t->ssl, p, chunk, &w)) {
			err = tls_error(c, 0, "write");
			if (taken)
				break; /* what was sealed is taken; the error comes next time */
			return err ? err : -EPIPE;
		}
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

	if (t->shut_sent || !t->done)
		return;
	t->shut_sent = true;
	SSL_shutdown(t->ssl); /* into our BIO: sent or held, never blocking */
	ERR_clear_error();
}

static int tls_shutdown(struct conn *c)
{
	struct ulp_tls *t = tls_of(c);

	tls_finish(c);
	if (t->held_len) {
		t->shut_wr_pending = true; /* after the held records (held_push) */
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
	bio = BIO_new(tls_store_bio(s));
	if (!t->ssl || !bio) {
		BIO_free(bio);
		ulp_fail(c, ENOMEM, "TLS: out of memory");
		return ENOMEM;
	}
	BIO_set_data(bio, c);
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
	free(t->held);
	t->held = NULL;
	t->held_len = t->held_off = t->held_cap = 0;
	if (t->prof) {
		tls_prof_put(t->prof);
		t->prof = NULL;
	}
}
