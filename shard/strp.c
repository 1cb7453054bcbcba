// SPDX-License-Identifier: BSD-2-Clause
/*
 * strp.c - the framing ULP ("strp") on a shard's connection: the parsers
 * of strp_parse.c put on the connection's two directions.
 *
 * To the host: bytes are read from the transport (TLS plaintext when TLS
 * is below) and cut at message ends: a DATA frame carries bytes of one
 * message only and the frame that ends a message has XTS_F_EOR, so the
 * host can hand its program one message per receive.  A read that ends
 * a message inside the frame keeps the rest in a small stash (at most
 * one frame's payload, freed when empty), read first next time.  A
 * message longer than its max (the host's receive buffer unless the
 * program asked for less) fails the connection with EMSGSIZE as soon as
 * the parser knows, a malformed stream with EBADMSG, an end of stream
 * inside a message with EPIPE; the reason goes to the host in ULP_RES.
 *
 * From the host: the program's bytes go out as they come, but the tx
 * parser reads them too (the same kind; HTTP_REQ's answers are
 * HTTP_RESP, HTTP_RESP's requests HTTP_REQ): a malformed message fails
 * the connection with EBADMSG before that frame's bytes leave, and a DATA
 * frame with XTS_F_EOR (the program's MSG_EOR) must end a message.  The
 * two HTTP parsers are linked: a HEAD request makes its answer bodiless.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ulp.h"

int strp_conn_init(struct shard *s, struct conn *c, const struct xts_strp *spec, __u32 host_buf)
{
	struct ulp_strp *f;
	struct xts_strp tx = *spec;
	__u64 max = le32toh(spec->max) ? le32toh(spec->max) : host_buf;

	(void)s; /* the codec checked the spec (kind, width, flags) */
	f = calloc(1, sizeof(*f));
	if (!f) {
		ulp_fail(c, ENOMEM, "framing: no memory");
		return ENOMEM;
	}
	if (spec->kind == XTS_STRP_HTTP_REQ)
		tx.kind = XTS_STRP_HTTP_RESP;
	else if (spec->kind == XTS_STRP_HTTP_RESP)
		tx.kind = XTS_STRP_HTTP_REQ;
	strp_init(&f->rx, spec, max);
	/* what the program sends is not buffered here: no max of ours */
	strp_init(&f->tx, &tx, UINT64_MAX);
	c->ulp->strp = f;
	return 0;
}

/* A host whose credit was unknown at the push (an accepted connection):
 * its receive buffer bounds a message unless the program asked for less. */
void strp_conn_host_buf(struct conn *c, __u32 host_buf)
{
	struct ulp_strp *f = c->ulp ? c->ulp->strp : NULL;

	if (f && !f->rx.max)
		f->rx.max = host_buf;
}

void strp_conn_free(struct conn *c)
{
	struct ulp_strp *f = c->ulp->strp;

	if (!f)
		return;
	free(f->stash);
	free(f);
	c->ulp->strp = NULL;
}

static int strp_bad(struct shard *s, struct conn *c, const struct strp_parser *p, int err,
		    const char *dir)
{
	s->st.strp_errors++;
	ulp_fail(c, err, "framing (%s): %s", dir, p->why ? p->why : strerror(err));
	shard_log(s, XTS_LOG_DEBUG, "connection %08x: framing (%s): %s", c->id, dir,
		  c->ulp->info.reason);
	return -err;
}

/* Keep @n bytes that belong to the next message(s). */
static int stash_keep(struct shard *s, struct conn *c, const __u8 *p, size_t n)
{
	struct ulp_strp *f = c->ulp->strp;

	f->stash = malloc(n);
	if (!f->stash) {
		ulp_fail(c, ENOMEM, "framing: no memory");
		return -ENOMEM;
	}
	memcpy(f->stash, p, n);
	f->stash_off = 0;
	f->stash_len = (__u32)n;
	(void)s;
	return 0;
}

/* The end of stream from the transport: 0 (end), 1 (an HTTP response read
 * to the end: its EOR is due, *eor set), or -errno. */
static ssize_t strp_at_eof(struct shard *s, struct conn *c, bool *eor)
{
	struct ulp_strp *f = c->ulp->strp;
	bool open = f->rx.len != 0;
	int err;

	if (f->eof_done)
		return 0;
	err = strp_eof(&f->rx);
	if (err)
		return strp_bad(s, c, &f->rx, -err, "received");
	f->eof_done = true;
	if (open) {
		*eor = true;
		s->st.strp_msgs_rx++;
	}
	return 0;
}

/*
 * Read bytes of one message into @buf: how many (the message ends at the
 * last of them when *eor), 0 at the end of stream (*eor: an empty frame
 * ends the message the end of stream ended), or -errno (-EAGAIN: nothing
 * now; another: the connection failed, the reason set).
 */
ssize_t strp_conn_read(struct shard *s, struct conn *c, __u8 *buf, size_t len, bool *eor)
{
	struct ulp_strp *f = c->ulp->strp;
	bool stashed = f->stash_len > 0;
	ssize_t n, k;

	*eor = false;
	if (stashed) {
		n = (ssize_t)(f->stash_len < len ? f->stash_len : len);
		memcpy(buf, f->stash + f->stash_off, (size_t)n);
	} else {
		n = c->io->read(c, buf, len);
		if (n == 0)
			return strp_at_eof(s, c, eor);
		if (n < 0)
			return n;
	}
	k = strp_feed(&f->rx, buf, (size_t)n, eor);
	if (k < 0)
		return strp_bad(s, c, &f->rx, (int)-k, "received");
	if (*eor) {
		s->st.strp_msgs_rx++;
		if (f->rx.kind == XTS_STRP_HTTP_REQ &&
		    strp_http_req(&f->tx, strp_req_was_head(&f->rx)))
			return strp_bad(s, c, &f->tx, ENOBUFS,
					"received: too many requests unanswered");
	}
	if (stashed) {
		f->stash_off += (__u32)k;
		f->stash_len -= (__u32)k;
		if (!f->stash_len) {
			free(f->stash);
			f->stash = NULL;
		}
	} else if (k < n && stash_keep(s, c, buf + k, (size_t)(n - k))) {
		return -ENOMEM;
	}
	return k;
}

/* The program's bytes of one DATA frame (@eor: its MSG_EOR ends them):
 * 0, or a positive errno (the connection fails, nothing of it leaves). */
static int strp_tx_one(struct shard *s, struct conn *c, const __u8 *d, size_t n, bool eor)
{
	struct ulp_strp *f = c->ulp->strp;

	while (n) {
		bool end;
		ssize_t k = strp_feed(&f->tx, d, n, &end);

		if (k < 0)
			return -strp_bad(s, c, &f->tx, (int)-k, "sent");
		if (end) {
			s->st.strp_msgs_tx++;
			if (f->tx.kind == XTS_STRP_HTTP_REQ &&
			    strp_http_req(&f->rx, strp_req_was_head(&f->tx))) {
				f->tx.why = "more than 64 requests await their answer";
				return -strp_bad(s, c, &f->tx, ENOBUFS, "sent");
			}
		}
		d += k;
		n -= (size_t)k;
	}
	if (eor && f->tx.len) {
		f->tx.why = "a send with MSG_EOR ended inside a message";
		return -strp_bad(s, c, &f->tx, EBADMSG, "sent");
	}
	return 0;
}

int strp_conn_tx(struct shard *s, struct conn *c, const struct xts_msg *m, unsigned n)
{
	unsigned i;
	int err;

	if (!c->ulp || !c->ulp->strp)
		return 0;
	for (i = 0; i < n; i++) {
		err = strp_tx_one(s, c, m[i].payload, m[i].len, m[i].flags & XTS_F_EOR);
		if (err) {
			conn_fail(s, c, err);
			return err;
		}
	}
	return 0;
}
