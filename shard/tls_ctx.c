// SPDX-License-Identifier: BSD-2-Clause
/*
 * tls_ctx.c - a TLS profile made into an OpenSSL context (tls_ctx.h).
 *
 * What every context of XTS has, whatever the profile says: no
 * renegotiation (a peer cannot restart a handshake on a connection the
 * host already uses), no 0-RTT (max_early_data 0: replayable data never
 * reaches a host), no stateful session cache (resumption is by tickets
 * only, whose keys every shard shares, so memory does not grow with
 * clients), one TLS 1.3 ticket per handshake, and buffers released while
 * a connection is idle (SSL_MODE_RELEASE_BUFFERS: an idle connection
 * costs its SSL object, not 2 x 16 KiB of record buffers).
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_ctx.h"

/* ---- what OpenSSL holds: its allocations by their usable size ---- */

static uint64_t mem_bytes;

static void mem_add(uint64_t n)
{
	__atomic_add_fetch(&mem_bytes, n, __ATOMIC_RELAXED); /* xtsd has threads */
}

static void *mem_malloc(size_t n, const char *file, int line)
{
	void *p = malloc(n);

	(void)file;
	(void)line;
	if (p)
		mem_add(malloc_usable_size(p));
	return p;
}

static void mem_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p)
		mem_add(-(uint64_t)malloc_usable_size(p));
	free(p);
}

static void *mem_realloc(void *old, size_t n, const char *file, int line)
{
	size_t was = old ? malloc_usable_size(old) : 0;
	void *p;

	if (!n) { /* realloc(p, 0) frees: say so */
		mem_free(old, file, line);
		return NULL;
	}
	p = realloc(old, n);
	if (p)
		mem_add(malloc_usable_size(p) - (uint64_t)was);
	return p;
}

int tls_mem_account(void)
{
	return CRYPTO_set_mem_functions(mem_malloc, mem_realloc, mem_free) ? 0 : -EBUSY;
}

uint64_t tls_mem_bytes(void)
{
	return __atomic_load_n(&mem_bytes, __ATOMIC_RELAXED);
}

const char *tls_err_text(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	buf[0] = 0;
	if (e) {
		const char *r = ERR_reason_error_string(e);

		if (r)
			snprintf(buf, len, "%s", r);
		else
			ERR_error_string_n(e, buf, len);
	}
	ERR_clear_error();
	return buf;
}

static int fail(char *why, size_t len, const char *what, const char *path)
{
	char e[160];

	tls_err_text(e, sizeof(e));
	snprintf(why, len, "%s%s%s: %s", what, path ? " " : "", path ? path : "",
		 e[0] ? e : "failed");
	return -EINVAL;
}

static int versions(SSL_CTX *ctx, const struct xts_shm_tls_prof *p, char *why, size_t len)
{
	int lo = p->min_version ? p->min_version : TLS_VER_12;
	int hi = p->max_version ? p->max_version : TLS_VER_13;

	if (!SSL_CTX_set_min_proto_version(ctx, lo) || !SSL_CTX_set_max_proto_version(ctx, hi))
		return fail(why, len, "TLS versions", NULL);
	if (p->ciphers[0] && !SSL_CTX_set_cipher_list(ctx, p->ciphers))
		return fail(why, len, "ciphers", p->ciphers);
	if (p->ciphersuites[0] && !SSL_CTX_set_ciphersuites(ctx, p->ciphersuites))
		return fail(why, len, "ciphersuites", p->ciphersuites);
	return 0;
}

static int certificate(SSL_CTX *ctx, const struct xts_shm_tls_cert *c, char *why, size_t len)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1)
		return fail(why, len, "certificate", c->cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1)
		return fail(why, len, "key", c->key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(why, len, "key does not match certificate", c->cert);
	return 0;
}

/* Whom the peer is checked against. */
static int verification(SSL_CTX *ctx, const struct xts_shm_tls_prof *p, bool server, char *why,
			size_t len)
{
	if (server) {
		if (!p->client_cert)
			return 0;
		if (!p->ca[0]) {
			snprintf(why, len,
				 "client_cert needs ca (the CAs clients are checked against)");
			return -EINVAL;
		}
		if (SSL_CTX_load_verify_locations(ctx, p->ca, NULL) != 1)
			return fail(why, len, "ca", p->ca);
		SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(p->ca));
		SSL_CTX_set_verify(ctx,
				   SSL_VERIFY_PEER |
				       (p->client_cert > 1 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
				   NULL);
		return 0;
	}
	if (p->ca[0] ? SSL_CTX_load_verify_locations(ctx, p->ca, NULL) != 1
		     : SSL_CTX_set_default_verify_paths(ctx) != 1)
		return fail(why, len, "ca", p->ca[0] ? p->ca : "(the system's)");
	SSL_CTX_set_verify(ctx, p->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return 0;
}

int tls_ctx_build(const struct xts_shm_tls_prof *p, bool server, unsigned cert, SSL_CTX **out,
		  char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	int err;

	*out = NULL;
	if (!ctx)
		return fail(why, whylen, "SSL_CTX_new", NULL);
	/* A TCP end without close_notify after the handshake is an end of
	 * stream, as kTLS and plain TCP have it (many servers close so);
	 * during the handshake it still fails it. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				     SSL_OP_IGNORE_UNEXPECTED_EOF |
				     (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0) |
				     (p->tickets ? 0 : SSL_OP_NO_TICKET));
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, p->tickets ? 1 : 0);
	if (p->ticket_lifetime_s)
		SSL_CTX_set_timeout(ctx, (long)p->ticket_lifetime_s);
	/* tickets of one profile are good for that profile only */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)p->name,
				       (unsigned)strlen(p->name));
	err = versions(ctx, p, why, whylen);
	if (!err && cert < p->ncert && p->cert[cert].cert[0])
		err = certificate(ctx, &p->cert[cert], why, whylen);
	else if (!err && server) {
		snprintf(why, whylen, "terminating TLS needs a certificate (cert, key)");
		err = -EINVAL;
	}
	if (!err)
		err = verification(ctx, p, server, why, whylen);
	if (err) {
		SSL_CTX_free(ctx);
		return err;
	}
	*out = ctx;
	return 0;
}

int tls_prof_check(const struct xts_shm_tls_prof *p, char *why, size_t whylen)
{
	SSL_CTX *ctx;
	int err;

	/* a profile without a certificate only originates */
	for (unsigned i = 0; i < p->ncert && i < 1 + XTS_SHM_TLS_SNI; i++) {
		if ((err = tls_ctx_build(p, true, i, &ctx, why, whylen)))
			return err;
		SSL_CTX_free(ctx);
	}
	if ((err = tls_ctx_build(p, false, 0, &ctx, why, whylen)))
		return err;
	SSL_CTX_free(ctx);
	return 0;
}
