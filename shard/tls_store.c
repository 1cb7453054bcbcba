// SPDX-License-Identifier: BSD-2-Clause
/*
 * tls_store.c - the TLS contexts of a shard, one set per configuration
 * generation.
 *
 * A generation's profiles become struct tls_prof objects, each with its
 * contexts (a server context per certificate, the first the default and
 * the others chosen by SNI; a client context), refcounted: the store holds
 * one reference while the profile is in force, every connection made with
 * it one more.  A reload builds a new set and drops the store's
 * references, so established connections keep the certificates they were
 * made with and new ones get the new ones (a rotation drops nobody); the
 * old contexts go when their last connection does.  A profile that fails
 * to build in the new generation keeps its previous contexts and says why
 * (xtsd checked the files a moment before, so this is a file changed in
 * between).
 *
 * Session tickets are sealed with keys xtsd draws into shared memory, the
 * same for every shard, so that a client that resumes on another shard
 * (reuseport spreads connections) resumes.  Without xtsd the shard draws
 * its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "tls_ctx.h"
#include "ulp.h"
#include "ulp_avail.h"

struct tls_prof {
	unsigned refs;
	struct shard *s;
	char name[XTS_SHM_TLS_NAME];
	unsigned nsrv;
	SSL_CTX *srv[1 + XTS_SHM_TLS_SNI]; /* [0] the default certificate */
	char sni[1 + XTS_SHM_TLS_SNI][128];
	SSL_CTX *cli;
	__u8 alpn[XTS_ULP_ALPN_LEN];
	__u8 alpn_len;
	bool sockbio;	  /* OpenSSL's socket BIO (xts.conf bio, tls_bio_socket) */
	uint32_t bio_set; /* the setting it came from (XTS_TLS_BIO_*) */
};

struct shard_tls {
	__u64 gen;
	bool built; /* gen's contexts are built */
	unsigned n;
	struct tls_prof *p[XTS_SHM_TLS_MAX];
	struct xts_shm_tls_tkey local[XTS_SHM_TKEYS]; /* without xtsd's */
	BIO_METHOD *bio;
	bool ktls; /* the kernel offers the "tls" ULP (tcp_available_ulp) */
};

/* ---- session tickets: the keys every shard shares ---- */

static const struct xts_shm_tls_tkey *tkeys(struct shard *s)
{
	static const struct xts_shm_tls_tkey zero;

	if (s->cfg && memcmp(&s->cfg->tkey[0], &zero, sizeof(zero)))
		return s->cfg->tkey;
	return s->tls->local;
}

static int tkey_init(const struct xts_shm_tls_tkey *k, unsigned char *iv, EVP_CIPHER_CTX *ectx,
		     EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM par[3];

	par[0] =
	    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac));
	par[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	par[2] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(hctx, par))
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) ? 1 : -1;
	return EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) ? 1 : -1;
}

/* OpenSSL's ticket key callback: seal with key 0, open with either (the
 * older one asks for a fresh ticket: 2). */
static int tkey_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx,
		   EVP_MAC_CTX *hctx, int enc)
{
	struct tls_prof *p = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const struct xts_shm_tls_tkey *k = tkeys(p->s);

	if (enc) {
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
			return -1;
		memcpy(name, k[0].name, sizeof(k[0].name));
		return tkey_init(&k[0], iv, ectx, hctx, 1);
	}
	for (int i = 0; i < XTS_SHM_TKEYS; i++) {
		if (memcmp(name, k[i].name, sizeof(k[i].name)))
			continue;
		if (tkey_init(&k[i], iv, ectx, hctx, 0) < 0)
			return -1;
		return i ? 2 : 1;
	}
	return 0; /* unknown key: a full handshake */
}

/* ---- the server's callbacks: SNI picks the certificate, ALPN ---- */

/* "*.example.com" matches one label in front of example.com */
static bool name_match(const char *pat, const char *name)
{
	const char *dot;

	if (!strcasecmp(pat, name))
		return true;
	if (strncmp(pat, "*.", 2) || !(dot = strchr(name, '.')) || dot == name)
		return false;
	return !strcasecmp(pat + 1, dot);
}

static int sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_prof *p = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (!name)
		return SSL_TLSEXT_ERR_NOACK;
	for (unsigned i = 1; i < p->nsrv; i++) {
		if (p->srv[i] && name_match(p->sni[i], name)) {
			SSL_set_SSL_CTX(ssl, p->srv[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

/* The protocols this connection accepts: the host's (the listener's ULP
 * block), else the profile's.  No overlap: no ALPN (the client decides). */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned inlen, void *arg)
{
	struct conn *c = SSL_get_app_data(ssl);
	const __u8 *ours = c->ulp->tls.alpn;
	unsigned char *sel;
	unsigned len = 0;

	(void)arg;
	while (len < XTS_ULP_ALPN_LEN && ours[len])
		len += 1u + ours[len];
	if (!len) {
		struct tls_prof *p = c->ulp->tls.prof;

		ours = p->alpn;
		len = p->alpn_len;
	}
	if (!len ||
	    SSL_select_next_proto(&sel, outlen, ours, len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* ---- profiles ---- */

void tls_prof_get(struct tls_prof *p)
{
	p->refs++;
}

void tls_prof_put(struct tls_prof *p)
{
	if (!p || --p->refs)
		return;
	for (unsigned i = 0; i < p->nsrv; i++)
		SSL_CTX_free(p->srv[i]);
	SSL_CTX_free(p->cli);
	free(p);
}

/* A TLS 1.2 peer asked for a new handshake on an established connection:
 * OpenSSL refuses it (SSL_OP_NO_RENEGOTIATION, tls_ctx.c) with a
 * no_renegotiation alert, which is where it can be counted. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct conn *c;

	if (!(where & SSL_CB_WRITE_ALERT) || (ret & 0xff) != SSL_AD_NO_RENEGOTIATION)
		return;
	c = SSL_get_app_data(ssl);
	if (c && c->ulp)
		c->ulp->s->st.tls_reneg_refused++;
}

static void ctx_common(struct tls_prof *p, SSL_CTX *ctx, bool server)
{
	SSL_CTX_set_app_data(ctx, p);
	SSL_CTX_set_info_callback(ctx, info_cb);
	if (!server)
		return;
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tkey_cb);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, p);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, p);
}

/* One profile of the generation: its contexts, or NULL with why. */
static struct tls_prof *prof_build(struct shard *s, const struct xts_shm_tls_prof *c, char *why,
				   size_t len)
{
	struct tls_prof *p = calloc(1, sizeof(*p));
	unsigned n = c->ncert < 1 + XTS_SHM_TLS_SNI ? c->ncert : 1 + XTS_SHM_TLS_SNI;

	if (!p) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	p->refs = 1;
	p->s = s;
	p->sockbio = tls_bio_socket(c->bio, s->tls->ktls);
	memcpy(p->name, c->name, sizeof(p->name));
	memcpy(p->alpn, c->alpn, sizeof(p->alpn));
	while (p->alpn_len < sizeof(p->alpn) && p->alpn[p->alpn_len])
		p->alpn_len = (__u8)(p->alpn_len + 1 + p->alpn[p->alpn_len]);
	for (unsigned i = 0; i < n; i++, p->nsrv++) {
		memcpy(p->sni[i], c->cert[i].sni, sizeof(p->sni[i]));
		if (tls_ctx_build(c, true, i, &p->srv[i], why, len))
			goto fail;
		ctx_common(p, p->srv[i], true);
	}
	if (tls_ctx_build(c, false, 0, &p->cli, why, len))
		goto fail;
	ctx_common(p, p->cli, false);
	return p;
fail:
	tls_prof_put(p);
	return NULL;
}

struct tls_prof *tls_prof_find(struct shard *s, const char *name)
{
	tls_store_sync(s);
	for (unsigned i = 0; i < s->tls->n; i++)
		if (s->tls->p[i] && !strcmp(s->tls->p[i]->name, name))
			return s->tls->p[i];
	return NULL;
}

/* A profile whose bio is set (not "auto", whose choice the start line
 * gives) says what its connections use, once: when it comes in or its
 * setting changes, not at every reload. */
static void bio_log(struct shard *s, const struct xts_shm_tls_prof *c, struct tls_prof *p)
{
	struct shard_tls *t = s->tls;
	static const char *const names[] = XTS_TLS_BIO_NAMES;

	for (unsigned k = 0; k < t->n; k++)
		if (t->p[k] && t->p[k] != p && !strcmp(t->p[k]->name, p->name) &&
		    t->p[k]->bio_set == c->bio)
			goto same;
	if (c->bio != XTS_TLS_BIO_AUTO && c->bio <= XTS_TLS_BIO_SOCKET)
		shard_log(s, XTS_LOG_INFO, "tls profile %s: bio \"%s\": %s", p->name, names[c->bio],
			  p->sockbio ? "OpenSSL's socket BIO, kTLS where the kernel takes it"
				     : "the shard's own BIO, records in user space");
same:
	p->bio_set = c->bio;
}

/* The contexts of the generation in force: built when it came
 * (shard_ctl_poll), and here, lazily, for a shard without xtsd whose
 * config a test changes. */
void tls_store_sync(struct shard *s)
{
	struct tls_prof *next[XTS_SHM_TLS_MAX] = {0};
	struct shard_tls *t = s->tls;
	unsigned n = s->cfg->ntls < XTS_SHM_TLS_MAX ? s->cfg->ntls : XTS_SHM_TLS_MAX;
	char why[256];

	if (t->built && t->gen == s->cfg->gen)
		return;
	for (unsigned i = 0; i < n; i++) {
		const struct xts_shm_tls_prof *c = &s->cfg->tls[i];

		next[i] = prof_build(s, c, why, sizeof(why));
		if (next[i])
			continue;
		shard_log(s, XTS_LOG_ERROR, "tls profile %s: %s; its previous contexts stay",
			  c->name, why);
		for (unsigned k = 0; k < t->n; k++) {
			if (t->p[k] && !strcmp(t->p[k]->name, c->name)) {
				next[i] = t->p[k];
				t->p[k] = NULL; /* moved, not dropped */
			}
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (next[i])
			bio_log(s, &s->cfg->tls[i], next[i]);
	for (unsigned k = 0; k < t->n; k++)
		tls_prof_put(t->p[k]);
	memcpy(t->p, next, sizeof(next));
	t->n = n;
	t->gen = s->cfg->gen;
	t->built = true;
}

bool tls_prof_can_serve(const struct tls_prof *p)
{
	return p->nsrv && p->srv[0];
}

SSL *tls_prof_new_ssl(struct tls_prof *p, bool server)
{
	return SSL_new(server ? p->srv[0] : p->cli);
}

bool tls_prof_sockbio(const struct tls_prof *p)
{
	return p->sockbio;
}

const __u8 *tls_prof_alpn(const struct tls_prof *p, __u8 *len)
{
	*len = p->alpn_len;
	return p->alpn;
}

BIO_METHOD *tls_store_bio(struct shard *s)
{
	return s->tls->bio;
}

/* ---- the store ---- */

/* Does the kernel offer the "tls" ULP?  Said once, at start: which BIO a
 * profile with bio "auto" (the default) uses, and why. */
static void ktls_probe(struct shard *s)
{
	char list[256];
	int err = ulp_list_read(ULP_AVAIL_PATH, list, sizeof(list));

	s->tls->ktls = !err && ulp_list_has(list, sizeof(list), "tls");
	if (err)
		snprintf(list, sizeof(list), "%s", strerror(-err));
	shard_log(s, XTS_LOG_INFO, "tls: the kernel %s the tls ULP (%s: %s): bio \"auto\" is %s",
		  s->tls->ktls ? "offers" : "does not offer", ULP_AVAIL_PATH, list,
		  s->tls->ktls ? "OpenSSL's socket BIO with kTLS (SSL_OP_ENABLE_KTLS)"
			       : "the shard's own BIO (records sealed in user space)");
}

int tls_store_init(struct shard *s)
{
	s->tls = calloc(1, sizeof(*s->tls));
	if (!s->tls)
		return -ENOMEM;
	if (RAND_bytes((unsigned char *)s->tls->local, sizeof(s->tls->local)) != 1)
		return -EIO;
	s->tls->bio = tls_bio_method();
	if (!s->tls->bio)
		return -ENOMEM;
	ktls_probe(s);
	return 0;
}

void tls_store_fini(struct shard *s)
{
	if (!s->tls)
		return;
	for (unsigned k = 0; k < s->tls->n; k++)
		tls_prof_put(s->tls->p[k]);
	BIO_meth_free(s->tls->bio);
	free(s->tls);
	s->tls = NULL;
}
