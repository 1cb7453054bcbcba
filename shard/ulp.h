/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ulp.h - ULPs on a shard's connections: TLS (tls.c, contexts from the
 * profiles in tls_store.c), behind the connection I/O seam (struct
 * conn_io_ops): a connection with TLS has c->io = &conn_io_tls, which reads
 * and writes records on the kernel socket.
 *
 * A connection with ULPs owns one struct conn_ulp (c->ulp), made when the
 * host's CONNECT or the listener's LISTEN asked for them and freed with
 * the slot: it outlives the transport, because what the ULPs became (and
 * why they failed) still goes to the host in CONNECT_RES or ULP_RES after
 * the socket is closed.
 */
#ifndef XTS_SHARD_ULP_H
#define XTS_SHARD_ULP_H

#include <openssl/ssl.h>

#include "shard_int.h"
#include "strp_parse.h"

struct tls_prof;

struct ulp_tls {
	SSL *ssl;
	struct tls_prof *prof; /* its profile (the generation it was made in) */
	/* own BIO: sealed records the kernel did not take yet; socket BIO:
	 * the plaintext of an SSL_write to be retried (tls.c) */
	__u8 *held;
	__u32 held_off, held_len, held_cap;
	struct xts_shm_tls_stat *pst; /* its profile's counters (NULL: none) */
	bool server, done, eof, shut_sent, shut_wr_pending, counted_hs;
	bool sockbio;	     /* OpenSSL's socket BIO (bio "socket", kTLS) */
	bool notify_pending; /* socket BIO: close_notify waits for room */
	int wr_errno;	     /* the kernel's error on a write, for the reason */
	__u8 alpn[XTS_ULP_ALPN_LEN];
};

/* framing (strp.c): both directions' parsers, the next message's bytes */
struct ulp_strp {
	struct strp_parser rx, tx;
	__u8 *stash; /* read past a message's end: the next one's, sent first */
	__u32 stash_off, stash_len;
	bool eof_done; /* the end of stream was framed */
};

struct conn_ulp {
	__u8 ulps;   /* XTS_ULP_* */
	bool tcp_up; /* originate: the TCP connect is done, the handshake runs */
	bool info_sent;
	struct shard *s;
	struct ulp_tls tls;
	struct ulp_strp *strp;	  /* XTS_ULP_STRP, or NULL */
	struct xts_ulp_info info; /* wire form: what the host is told */
};

extern const struct conn_io_ops conn_io_tls; /* tls.c */

/* ---- ulp.c ---- */
/* TLS pushed on a CONNECT (@u, its destination @dst) or on a connection a
 * listener with ULPs accepted (@server): 0, or a positive errno with the
 * reason in c->ulp->info (the caller fails the connection). */
int ulp_push(struct shard *s, struct conn *c, const struct xts_ulp *u, const struct xts_addr *dst,
	     bool server);
/* A LISTEN's ULPs: 0 or a positive errno for LISTEN_RES. */
int ulp_listen_check(struct shard *s, const struct xts_ulp *u);
/* Free what the slot holds of its ULPs (the slot is being freed). */
void ulp_free(struct shard *s, struct conn *c);
/* A layer failed: the errno and the reason the host can read afterwards. */
void ulp_fail(struct conn *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The handshake is over (ok): fill what the host is told, count it. */
void ulp_tls_info(struct conn *c);
/* The counters of profile @name (a profile of the configuration), or NULL. */
struct xts_shm_tls_stat *ulp_pstat(struct shard *s, const char *name);
/* The handshake did not end in time (limits.tls_handshake_ms): counted,
 * the reason set; the caller fails the connection. */
void ulp_hs_timeout(struct shard *s, struct conn *c);
/* The connection's handshake: 0 done, -EAGAIN not yet, -errno failed
 * (counted, reason in c->ulp->info). */
int ulp_handshake(struct shard *s, struct conn *c);

static inline bool ulp_has_tls(const struct conn *c)
{
	return c->ulp && (c->ulp->ulps & XTS_ULP_TLS);
}

/* ---- strp.c: framing ---- */
/* Framing @spec pushed on @c (@host_buf: the host's receive buffer, 0 not
 * known yet): 0 or a positive errno, the reason in c->ulp->info. */
int strp_conn_init(struct shard *s, struct conn *c, const struct xts_strp *spec, __u32 host_buf);
void strp_conn_host_buf(struct conn *c, __u32 host_buf);
void strp_conn_free(struct conn *c);
/* To the host: bytes of one message (*eor: it ends there), 0 at the end
 * of stream, -errno (-EAGAIN nothing now; else failed, reason set). */
ssize_t strp_conn_read(struct shard *s, struct conn *c, __u8 *buf, size_t len, bool *eor);
/* From the host: @n DATA frames checked against the framing (none: 0):
 * 0, or a positive errno and the connection failed (reason set, counted). */
int strp_conn_tx(struct shard *s, struct conn *c, const struct xts_msg *m, unsigned n);

/* ---- tls.c ---- */
int tls_conn_init(struct shard *s, struct conn *c, const struct xts_ulp *u,
		  const struct xts_addr *dst, bool server);
void tls_conn_free(struct shard *s, struct conn *c);
int tls_handshake_step(struct conn *c);
BIO_METHOD *tls_bio_method(void);

/* ---- tls_store.c: the contexts of the profiles in force ---- */
int tls_store_init(struct shard *s);
void tls_store_fini(struct shard *s);
/* A new configuration generation: build its contexts (the old ones live
 * on in the connections made with them). */
void tls_store_sync(struct shard *s);
/* The profile named @name, or NULL. */
struct tls_prof *tls_prof_find(struct shard *s, const char *name);
bool tls_prof_can_serve(const struct tls_prof *p);
SSL *tls_prof_new_ssl(struct tls_prof *p, bool server);
void tls_prof_put(struct tls_prof *p);
void tls_prof_get(struct tls_prof *p);
BIO_METHOD *tls_store_bio(struct shard *s);
const __u8 *tls_prof_alpn(const struct tls_prof *p, __u8 *len);
/* Its connections use OpenSSL's socket BIO (xts.conf bio). */
bool tls_prof_sockbio(const struct tls_prof *p);

#endif
