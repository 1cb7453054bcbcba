// SPDX-License-Identifier: BSD-2-Clause
/*
 * ulp.c - ULPs pushed on a shard's connections (ulp.h): admission (the
 * profile, the limits), the push itself, the handshake's outcome and what
 * the host is told of it (struct xts_ulp_info: never a key or a
 * certificate, docs/protocol.md).
 *
 * Limits (xts.conf limits.tls_conns, limits.tls_handshakes): a connection
 * past either is refused with ENOBUFS before any TLS state exists, so a
 * flood of handshakes costs a counter, not memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_ctx.h"
#include "ulp.h"

void ulp_fail(struct conn *c, int err, const char *fmt, ...)
{
	struct xts_ulp_info *i = &c->ulp->info;
	va_list ap;

	if (i->err)
		return; /* the first reason is the one that counts */
	i->err = (__s32)htole32((__u32)err);
	va_start(ap, fmt);
	vsnprintf(i->reason, sizeof(i->reason), fmt, ap);
	va_end(ap);
}

/* Is there room for one more TLS connection?  0 or ENOBUFS (counted). */
static int ulp_room(struct shard *s, struct conn *c)
{
	const struct xts_shm_cfg *cfg = s->cfg;

	if ((cfg->tls_conns && s->st.tls_conns >= cfg->tls_conns) ||
	    (cfg->tls_handshakes && s->st.tls_handshaking >= cfg->tls_handshakes)) {
		s->st.tls_refused_limit++;
		ulp_fail(c, ENOBUFS, "TLS: %s limit of this shard reached",
			 s->st.tls_conns >= cfg->tls_conns ? "connection" : "handshake");
		return ENOBUFS;
	}
	return 0;
}

int ulp_listen_check(struct shard *s, const struct xts_ulp *u)
{
	struct tls_prof *p;

	if (!(u->ulps & XTS_ULP_TLS))
		return 0; /* framing alone: the codec checked its spec */
	p = tls_prof_find(s, u->profile);
	if (!p) {
		shard_log(s, XTS_LOG_INFO, "listen with TLS profile \"%s\": no such profile",
			  u->profile);
		return ENOENT;
	}
	if (!tls_prof_can_serve(p)) {
		shard_log(s, XTS_LOG_INFO, "listen with TLS profile \"%s\": it has no certificate",
			  u->profile);
		return ENOKEY;
	}
	return 0;
}

int ulp_push(struct shard *s, struct conn *c, const struct xts_ulp *u, const struct xts_addr *dst,
	     bool server)
{
	int err;

	c->ulp = calloc(1, sizeof(*c->ulp));
	if (!c->ulp)
		return ENOMEM;
	c->ulp->s = s;
	c->ulp->ulps = u->ulps;
	if (!server) /* the name sent, as far as info.sni holds it */
		memcpy(c->ulp->info.sni, u->sni, strnlen(u->sni, sizeof(c->ulp->info.sni) - 1));
	/* framing first: it costs no handshake, and a bad spec fails early */
	if ((u->ulps & XTS_ULP_STRP) &&
	    (err = strp_conn_init(s, c, &u->strp, server ? 0 : c->tx_credit)))
		return err;
	if (!(u->ulps & XTS_ULP_TLS))
		return 0;
	if ((err = ulp_room(s, c)))
		return err;
	err = tls_conn_init(s, c, u, dst, server);
	if (err)
		return err;
	c->io = &conn_io_tls;
	return 0;
}

void ulp_free(struct shard *s, struct conn *c)
{
	if (!c->ulp)
		return;
	tls_conn_free(s, c); /* when the transport did not already */
	strp_conn_free(c);
	free(c->ulp);
	c->ulp = NULL;
}

void ulp_tls_info(struct conn *c)
{
	struct shard *s = c->ulp->s;
	struct ulp_tls *t = &c->ulp->tls;
	struct xts_ulp_info *i = &c->ulp->info;
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	const char *sni;
	__u16 flags = 0;
	long v = SSL_get_verify_result(t->ssl);

	if (t->counted_hs) {
		t->counted_hs = false;
		s->st.tls_handshaking--;
	}
	s->st.tls_hs_ok++;
	if (SSL_session_reused(t->ssl)) {
		flags |= XTS_ULPI_RESUMED;
		s->st.tls_resumed++;
	}
	/* verified: a peer certificate was checked and found good */
	if (SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE && v == X509_V_OK &&
	    SSL_get0_peer_certificate(t->ssl))
		flags |= XTS_ULPI_VERIFIED;
	i->version = htole16((__u16)SSL_version(t->ssl));
	i->flags = htole16(flags);
	i->verify = (__s32)htole32((__u32)v);
	snprintf(i->cipher, sizeof(i->cipher), "%s", SSL_get_cipher_name(t->ssl));
	SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
	if (alen >= sizeof(i->alpn))
		alen = sizeof(i->alpn) - 1;
	memset(i->alpn, 0, sizeof(i->alpn));
	if (alen)
		memcpy(i->alpn, alpn, alen);
	if (t->server && (sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name)))
		snprintf(i->sni, sizeof(i->sni), "%s", sni);
}

int ulp_handshake(struct shard *s, struct conn *c)
{
	int err = tls_handshake_step(c);

	if (!err || err == -EAGAIN)
		return err;
	s->st.tls_hs_failed++;
	if (err == -EKEYREJECTED)
		s->st.tls_hs_verify++;
	shard_log(s, XTS_LOG_DEBUG, "connection %08x: TLS handshake failed: %s", c->id,
		  c->ulp->info.reason);
	return err;
}
