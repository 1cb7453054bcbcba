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

struct xts_shm_tls_stat *ulp_pstat(struct shard *s, const char *name)
{
	struct xts_shm_tls_stat *t = s->tls_st, *free_slot = NULL;
	unsigned i;

	if (!tls_prof_find(s, name))
		return NULL; /* not a profile: a name a host made up counts nowhere */
	for (i = 0; i < XTS_SHM_TLS_MAX && t[i].name[0]; i++)
		if (!strncmp(t[i].name, name, sizeof(t[i].name)))
			return &t[i];
	if (i < XTS_SHM_TLS_MAX) {
		free_slot = &t[i];
	} else { /* all taken: a name no longer configured gives its slot */
		for (i = 0; i < XTS_SHM_TLS_MAX && !free_slot; i++)
			if (!tls_prof_find(s, t[i].name))
				free_slot = &t[i];
		if (!free_slot)
			return NULL;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
	return free_slot;
}

/* Is there room for one more TLS connection?  0 or ENOBUFS (counted). */
static int ulp_room(struct shard *s, struct conn *c)
{
	const struct xts_shm_cfg *cfg = s->cfg;

	if ((cfg->tls_conns && s->st.tls_conns >= cfg->tls_conns) ||
	    (cfg->tls_handshakes && s->st.tls_handshaking >= cfg->tls_handshakes)) {
		s->st.tls_refused_limit++;
		if (c->ulp->tls.pst)
			c->ulp->tls.pst->refused_limit++;
		ulp_fail(c, ENOBUFS, "TLS: %s limit of this shard reached",
			 s->st.tls_conns >= cfg->tls_conns ? "connection" : "handshake");
		return ENOBUFS;
	}
	return 0;
}

/* May this queue push TLS profile @name (xts.conf acl.tls, shards' tls)?
 * 0, or EACCES counted (the shard's conns_refused_acl, the profile's
 * refused_acl). */
static int ulp_acl(struct shard *s, const char *name)
{
	uint8_t a[16] = {0};
	struct xts_shm_tls_stat *pst;

	if (!s->o.shm)
		return 0; /* no xtsd, no ACL */
	memcpy(a, name, strnlen(name, XTS_SHM_TLS_NAME - 1));
	if (xts_acl_allows(s->cfg, XTS_ACL_TLS, (uint16_t)s->o.queue, 0, a, 0, 0))
		return 0;
	s->st.conns_refused_acl++;
	if ((pst = ulp_pstat(s, name)))
		pst->refused_acl++;
	shard_log(s, XTS_LOG_INFO, "TLS profile \"%s\": not allowed on queue %u (acl.tls)", name,
		  s->o.queue);
	return EACCES;
}

int ulp_listen_check(struct shard *s, const struct xts_ulp *u)
{
	struct tls_prof *p;
	int err;

	if (!(u->ulps & XTS_ULP_TLS))
		return 0; /* framing alone: the codec checked its spec */
	if ((err = ulp_acl(s, u->profile)))
		return err;
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
	c->ulp->tls.pst = ulp_pstat(s, u->profile);
	if (!server && (err = ulp_acl(s, u->profile))) { /* a listener's: at LISTEN */
		ulp_fail(c, err, "TLS profile \"%s\" is not allowed on this queue", u->profile);
		return err;
	}
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
	if (t->pst)
		t->pst->hs_ok++;
	if (SSL_session_reused(t->ssl)) {
		flags |= XTS_ULPI_RESUMED;
		s->st.tls_resumed++;
		if (t->pst)
			t->pst->resumed++;
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
	if (c->ulp->tls.pst)
		c->ulp->tls.pst->hs_failed++;
	if (err == -EKEYREJECTED) {
		s->st.tls_hs_verify++;
		if (c->ulp->tls.pst)
			c->ulp->tls.pst->hs_verify++;
	}
	shard_log(s, XTS_LOG_DEBUG, "connection %08x: TLS handshake failed: %s", c->id,
		  c->ulp->info.reason);
	return err;
}

void ulp_hs_timeout(struct shard *s, struct conn *c)
{
	s->st.tls_hs_failed++;
	if (c->ulp->tls.pst)
		c->ulp->tls.pst->hs_failed++;
	ulp_fail(c, ETIMEDOUT, "TLS handshake not done in time");
}
