// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_shard_tls.c - TLS on the shard, white box (shard_harness.h): the
 * test plays the host over the in-memory link, the shard runs its real
 * TLS code (OpenSSL over its kernel sockets), and the far side is a real
 * OpenSSL peer in this process on 127.0.0.1, stepped while the shard
 * polls.  Certificates are made at start with openssl(1) in a temp dir.
 *
 * Originate: verified handshake (TLS 1.2 and 1.3), SNI and ALPN, bytes
 * both ways in clear on the queue and sealed on the wire; a wrong
 * hostname and an unknown CA fail with EKEYREJECTED and their reason; a
 * peer that does not speak TLS fails with EPROTO; an unknown profile with
 * ENOENT.  Terminate: NEW_CONN only once the handshake is done, with what
 * it became; a client that sends garbage is never offered to the host.
 */
#define _GNU_SOURCE /* accept4 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "shard_harness.h"
#include "ulp_avail.h"

/* Does this kernel offer the "tls" ULP (kTLS)? */
static bool ulp_offered(void)
{
	char list[256];

	return !ulp_list_read(ULP_AVAIL_PATH, list, sizeof(list)) &&
	       ulp_list_has(list, sizeof(list), "tls");
}

static char dir[] = "/tmp/xts-tls-XXXXXX";
static char path_buf[8][256];

static const char *path(int i, const char *name)
{
	snprintf(path_buf[i], sizeof(path_buf[i]), "%s/%s", dir, name);
	return path_buf[i];
}

/* CA, a server certificate it signed (localhost, 127.0.0.1), and a
 * self-signed one for the same names (an unknown CA). */
static int make_certs(void **state)
{
	char cmd[2048];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(
	    cmd, sizeof(cmd),
	    "cd %s && K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
	    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj /CN=xts-test-ca "
	    ">/dev/null 2>&1 && "
	    "openssl req $K -keyout srv.key -out srv.csr -subj /CN=localhost >/dev/null 2>&1 && "
	    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext && "
	    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	    "-out srv.pem -days 2 -extfile ext >/dev/null 2>&1 && "
	    "openssl req -x509 $K -keyout rogue.key -out rogue.pem -days 2 -subj /CN=localhost "
	    "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
	    dir);
	return system(cmd) ? -1 : 0;
}

static int rm_certs(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

/* The profiles' bio (xts.conf tls.[i].bio): the tests that run with
 * both BIOs set it first (setup resets it to "auto"). */
static __u32 bio_setting;

/* Profiles as xts.conf would make them: "api" originates (CA: ours),
 * "web" terminates with the CA's server certificate. */
static void profiles(struct h *h, __u16 max_version)
{
	struct xts_shm_cfg *c = cfg_of(h);
	struct xts_shm_tls_prof *api = &c->tls[0], *web = &c->tls[1];

	memset(c->tls, 0, 2 * sizeof(c->tls[0]));
	snprintf(api->name, sizeof(api->name), "api");
	snprintf(api->ca, sizeof(api->ca), "%s", path(0, "ca.pem"));
	api->verify = 1;
	api->max_version = max_version;
	snprintf(web->name, sizeof(web->name), "web");
	web->ncert = 1;
	snprintf(web->cert[0].cert, sizeof(web->cert[0].cert), "%s", path(1, "srv.pem"));
	snprintf(web->cert[0].key, sizeof(web->cert[0].key), "%s", path(2, "srv.key"));
	memcpy(web->alpn, "\x08http/1.1", 9);
	web->max_version = max_version;
	api->bio = web->bio = bio_setting;
	c->ntls = 2;
	c->gen++; /* a new generation: the shard builds its contexts */
}

/* ---- the far side: a real OpenSSL peer ---- */

static int alpn_pick(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		     const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	return SSL_select_next_proto((unsigned char **)out, outlen,
				     (const unsigned char *)"\x08http/1.1", 9, in,
				     inlen) == OPENSSL_NPN_NEGOTIATED
		   ? SSL_TLSEXT_ERR_OK
		   : SSL_TLSEXT_ERR_NOACK;
}

static SSL *far_server(int fd, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL *ssl;

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_pick, NULL);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds its reference */
	SSL_set_fd(ssl, fd);
	SSL_set_accept_state(ssl);
	return ssl;
}

static SSL *far_client(int fd)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, path(3, "ca.pem"), NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	SSL_set1_host(ssl, "localhost");
	SSL_set_alpn_protos(ssl, (const unsigned char *)"\x08http/1.1", 9);
	SSL_set_connect_state(ssl);
	return ssl;
}

static void far_free(SSL *ssl)
{
	int fd = SSL_get_fd(ssl);

	SSL_free(ssl);
	close(fd);
}

/* Step the far side's handshake while the shard runs: 1 done, -1 failed,
 * 0 still going after @ms. */
static int far_handshake(struct h *h, SSL *ssl, int ms)
{
	__u64 end = now_ms() + (__u64)ms;

	while (now_ms() < end) {
		int r = SSL_do_handshake(ssl), e;

		if (r == 1)
			return 1;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			ERR_clear_error();
			return -1;
		}
		shard_poll(h->s, 1);
	}
	return 0;
}

/* What the far side reads (decrypted) within @ms. */
static size_t far_read(struct h *h, SSL *ssl, char *buf, size_t max, int ms)
{
	__u64 end = now_ms() + (__u64)ms;
	size_t got = 0, n;

	while (got < max && now_ms() < end) {
		if (SSL_read_ex(ssl, buf + got, max - got, &n))
			got += n;
		else
			shard_poll(h->s, 1);
	}
	ERR_clear_error();
	return got;
}

/* ---- the host's side ---- */

/* CONNECT with TLS (profile @prof, server name @sni) to @dst. */
static void hconnect_tls(struct h *h, __u32 hid, const char *prof, const char *sni)
{
	__u8 buf[sizeof(struct xts_connect) + sizeof(struct xts_ulp)] = {0};
	struct xts_connect *req = (void *)buf;
	struct xts_ulp u = {.ulps = XTS_ULP_TLS};
	size_t off = xts_connect_ulp_off(0, XTS_CONNECT_F_ULP);

	snprintf(u.profile, sizeof(u.profile), "%s", prof);
	snprintf(u.sni, sizeof(u.sni), "%s", sni);
	memcpy(u.alpn, "\x02h2\x08http/1.1", 12);
	req->dst = h->dst;
	req->flags = htole16(XTS_CONNECT_F_ULP);
	memcpy(buf + off, &u, sizeof(u));
	hsend(h, XTS_OP_CONNECT, 0, XTS_ID_NONE, hid, RCVBUF, buf, off + sizeof(u));
}

/* The far side's socket for the shard's connect. */
static int far_accept(struct h *h)
{
	__u64 end = now_ms() + 2000;
	int fd = -1;

	while (fd < 0 && now_ms() < end) {
		shard_poll(h->s, 1);
		fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(fd >= 0);
	return fd;
}

/* The CONNECT_RES for @hid: its err, and what TLS became in *info. */
static int conn_res(struct h *h, __u32 hid, struct xts_ulp_info *info, __u32 *id)
{
	struct frame *f = find(h, XTS_OP_CONNECT_RES, hid, 3000, NULL);
	struct xts_conn_res r;

	assert_non_null(f);
	assert_int_equal(f->len, sizeof(r) + sizeof(*info));
	memcpy(&r, f->data, sizeof(r));
	memcpy(info, f->data + sizeof(r), sizeof(*info));
	if (id)
		*id = f->src;
	return (int)le32toh((__u32)r.err);
}

static void originate_ok(void **state, __u16 version, bool notify)
{
	struct h *h = *state;
	struct xts_ulp_info info;
	struct frame *f;
	char buf[64];
	SSL *far;
	__u32 id;

	profiles(h, version);
	hello(h);
	hconnect_tls(h, 0x101, "api", "localhost");
	far = far_server(far_accept(h), path(4, "srv.pem"), path(5, "srv.key"));
	assert_int_equal(far_handshake(h, far, 3000), 1);
	assert_int_equal(conn_res(h, 0x101, &info, &id), 0);
	assert_int_equal(le16toh(info.version), version);
	assert_int_equal(le16toh(info.flags) & XTS_ULPI_VERIFIED, XTS_ULPI_VERIFIED);
	assert_int_equal(info.verify, 0);
	assert_string_equal(info.alpn, "http/1.1");
	assert_string_equal(info.sni, "localhost");
	assert_true(info.cipher[0] != 0);
	assert_int_equal(h->s->st.tls_hs_ok, 1);
	assert_int_equal(h->s->st.tls_handshaking, 0);
	/* the host's bytes reach the far side sealed, and back */
	hdata(h, id, 0x101, 5, 'q');
	assert_int_equal(far_read(h, far, buf, 5, 2000), 5);
	assert_memory_equal(buf, "qqqqq", 5);
	assert_int_equal(SSL_write(far, "world", 5), 5);
	f = find(h, XTS_OP_DATA, 0x101, 2000, NULL);
	assert_non_null(f);
	assert_int_equal(f->len, 5);
	assert_memory_equal(f->data, "world", 5);
	/* the far side's close_notify is the end of stream; so is a TCP
	 * end without one, after the handshake (as kTLS has it) */
	if (notify) {
		SSL_shutdown(far);
		assert_non_null(find(h, XTS_OP_SHUTDOWN, 0x101, 2000, NULL));
		far_free(far);
	} else {
		far_free(far);
		assert_non_null(find(h, XTS_OP_SHUTDOWN, 0x101, 2000, NULL));
	}
	assert_int_equal(h->s->st.tls_conns, 1);
}

static void test_originate_13(void **state)
{
	originate_ok(state, TLS1_3_VERSION, true);
}

static void test_originate_12(void **state)
{
	originate_ok(state, TLS1_2_VERSION, true);
}

static void test_eof_without_notify(void **state)
{
	originate_ok(state, TLS1_3_VERSION, false);
}

/* Verification failures: EKEYREJECTED with the reason, nothing opened. */
static void originate_fail(void **state, const char *sni, const char *cert, const char *key,
			   int want, const char *reason)
{
	struct h *h = *state;
	struct xts_ulp_info info;
	SSL *far;

	profiles(h, 0);
	hello(h);
	hconnect_tls(h, 0x101, "api", sni);
	far = far_server(far_accept(h), cert, key);
	far_handshake(h, far, 1000);
	assert_int_equal(conn_res(h, 0x101, &info, NULL), want);
	assert_int_equal(le32toh((__u32)info.err), want);
	assert_non_null(strstr(info.reason, reason));
	assert_int_equal(h->s->st.tls_hs_failed, 1);
	assert_int_equal(h->s->st.tls_handshaking, 0);
	assert_int_equal(h->s->st.tls_conns, 0);
	far_free(far);
}

static void test_wrong_hostname(void **state)
{
	originate_fail(state, "other.example", path(4, "srv.pem"), path(5, "srv.key"), EKEYREJECTED,
		       "hostname mismatch");
	assert_int_equal(((struct h *)*state)->s->st.tls_hs_verify, 1);
}

static void test_unknown_ca(void **state)
{
	originate_fail(state, "localhost", path(4, "rogue.pem"), path(5, "rogue.key"), EKEYREJECTED,
		       "self-signed");
}

/* A peer that answers the ClientHello with something not TLS: EPROTO. */
static void test_not_tls(void **state)
{
	struct h *h = *state;
	struct xts_ulp_info info;
	int fd;

	profiles(h, 0);
	hello(h);
	hconnect_tls(h, 0x101, "api", "localhost");
	fd = far_accept(h);
	run_ms(h, 50);
	assert_true(send(fd, "HTTP/1.0 400 Bad\r\n\r\n", 20, 0) == 20);
	assert_int_equal(conn_res(h, 0x101, &info, NULL), EPROTO);
	assert_true(info.reason[0] != 0);
	close(fd);
}

static void test_unknown_profile(void **state)
{
	struct h *h = *state;
	struct xts_ulp_info info;

	profiles(h, 0);
	hello(h);
	hconnect_tls(h, 0x101, "nosuch", "localhost");
	assert_int_equal(conn_res(h, 0x101, &info, NULL), ENOENT);
	assert_non_null(strstr(info.reason, "nosuch"));
}

/* ---- terminate ---- */

/* LISTEN with TLS profile @prof on 127.0.0.1: the port, or 0 with *err. */
static __u16 hlisten_tls(struct h *h, __u32 hid, const char *prof, int *err)
{
	__u8 buf[sizeof(struct xts_listen) + sizeof(struct xts_ulp)] = {0};
	struct xts_listen *l = (void *)buf;
	struct xts_ulp u = {.ulps = XTS_ULP_TLS};
	struct xts_conn_res r;
	struct frame *f;

	snprintf(u.profile, sizeof(u.profile), "%s", prof);
	l->local.family = htole16(AF_INET);
	l->local.addr[0] = 127;
	l->local.addr[3] = 1;
	l->backlog = htole32(8);
	l->flags = htole32(XTS_LISTEN_ULP);
	memcpy(buf + sizeof(*l), &u, sizeof(u));
	hsend(h, XTS_OP_LISTEN, 0, XTS_ID_NONE, hid, 0, buf, sizeof(buf));
	f = find(h, XTS_OP_LISTEN_RES, hid, 2000, NULL);
	assert_non_null(f);
	memcpy(&r, f->data, sizeof(r));
	*err = (int)le32toh((__u32)r.err);
	return le16toh(r.local.port);
}

static int dial(__u16 port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_true(!connect(fd, (struct sockaddr *)&sin, sizeof(sin)) || errno == EINPROGRESS);
	return fd;
}

static void test_terminate(void **state)
{
	struct h *h = *state;
	struct xts_ulp_info info;
	struct xts_err ack = {0};
	struct frame *f;
	char buf[16];
	__u16 port;
	int err, bad;
	SSL *cli;

	profiles(h, 0);
	hello(h);
	port = hlisten_tls(h, 0x201, "web", &err);
	assert_int_equal(err, 0);
	/* garbage instead of a ClientHello: never offered to the host */
	bad = dial(port);
	run_ms(h, 50);
	assert_true(send(bad, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL) == 18);
	run_ms(h, 200);
	assert_int_equal(h->s->st.tls_hs_failed, 1);
	/* a real client: NEW_CONN once its handshake is done */
	cli = far_client(dial(port));
	assert_int_equal(far_handshake(h, cli, 3000), 1);
	f = find(h, XTS_OP_NEW_CONN, 0x201, 2000, NULL);
	assert_non_null(f);
	assert_int_equal(f->len, sizeof(struct xts_conn_res) + sizeof(info));
	memcpy(&info, f->data + sizeof(struct xts_conn_res), sizeof(info));
	assert_int_equal(le16toh(info.version), TLS1_3_VERSION);
	assert_string_equal(info.alpn, "http/1.1");
	assert_string_equal(info.sni, "localhost");
	/* the host takes it: bytes both ways */
	hsend(h, XTS_OP_NEW_CONN_ACK, 0, f->src, 0x301, RCVBUF, &ack, sizeof(ack));
	assert_int_equal(SSL_write(cli, "ping", 4), 4);
	f = find(h, XTS_OP_DATA, 0x301, 2000, NULL);
	assert_non_null(f);
	assert_int_equal(f->len, 4);
	assert_memory_equal(f->data, "ping", 4);
	hdata(h, f->src, 0x301, 4, 'p');
	assert_int_equal(far_read(h, cli, buf, 4, 2000), 4);
	assert_memory_equal(buf, "pppp", 4);
	assert_null(find(h, XTS_OP_NEW_CONN, 0x201, 100, NULL)); /* only the good one */
	far_free(cli);
	close(bad);
}

/* A listener whose profile has no certificate cannot terminate. */
static void test_listen_needs_cert(void **state)
{
	struct h *h = *state;
	int err;

	profiles(h, 0);
	hello(h);
	hlisten_tls(h, 0x201, "api", &err);
	assert_int_equal(err, ENOKEY);
	hlisten_tls(h, 0x202, "nosuch", &err);
	assert_int_equal(err, ENOENT);
}

/* ---- the same over OpenSSL's socket BIO (bio "socket") ---- */

static int setup_sock(void **state)
{
	bio_setting = XTS_TLS_BIO_SOCKET;
	return setup(state);
}

static int setup_own(void **state)
{
	bio_setting = XTS_TLS_BIO_OWN;
	return setup(state);
}

static int teardown_bio(void **state)
{
	struct h *h = *state;

	/* what the profiles asked for is what the connections used */
	assert_int_equal(h->s->st.tls_sockbio != 0,
			 bio_setting == XTS_TLS_BIO_SOCKET && h->s->st.tls_hs_ok != 0);
	bio_setting = XTS_TLS_BIO_AUTO;
	return teardown(state);
}

/* ---- bulk both ways under backpressure ---- */

#define BULK (2u << 20)

static __u8 pat(size_t i)
{
	return (__u8)(i * 131 + (i >> 11));
}

/* @n bytes of the pattern from stream offset @from, as DATA. */
static void hdata_pat(struct h *h, __u32 id, __u32 hid, size_t from, size_t n)
{
	size_t max = xts_link__max_frame(h->host) - XTS_PAYLOAD_OFF;
	static __u8 buf[4096];

	while (n) {
		size_t k = n < max ? n : max;

		for (size_t i = 0; i < k; i++)
			buf[i] = pat(from + i);
		assert_int_equal(xts_link__send(h->host, XTS_OP_DATA, 0, id, hid, 0, buf, k), 0);
		from += k;
		n -= k;
	}
	assert_true(xts_link__flush(h->host, false) >= 0);
}

/* host -> far: the far side's window small and unread until the shard's
 * writes stop (its own BIO holds a record, the socket BIO's SSL_write
 * wants the same bytes again), then read in small bites while the host
 * keeps sending within its credit: every byte, in order. */
static void bulk_to_far(struct h *h, __u32 id, SSL *far)
{
	struct conn *c = &h->s->conns[xts_id_slot(id)];
	size_t sent = 0, got = 0, n;
	__u32 credit = CONN_BUF;
	struct frame f[BATCH];
	static __u8 buf[3000];
	__u64 end = now_ms() + 30000;
	unsigned held = 0;
	int small = 4096;

	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	while (got < BULK && now_ms() < end) {
		int k;

		if (credit && sent < BULK) {
			size_t m = credit < BULK - sent ? credit : BULK - sent;

			hdata_pat(h, id, 0x101, sent, m);
			sent += m;
			credit -= (__u32)m;
		}
		shard_poll(h->s, 0);
		k = host_rx(h, f, BATCH, 0);
		for (int i = 0; i < k; i++)
			if (f[i].dst == 0x101)
				credit += f[i].credit;
		if (k)
			host_ack(h);
		held += c->io_held;
		/* not read until the transport holds bytes, then in bites */
		for (int bites = 0; held && bites < 8; bites++) {
			if (!SSL_read_ex(far, buf, sizeof(buf), &n)) {
				ERR_clear_error();
				break;
			}
			for (size_t i = 0; i < n; i++)
				if (buf[i] != pat(got + i))
					fail_msg("host -> far: byte %zu is %02x, want %02x",
						 got + i, buf[i], pat(got + i));
			got += n;
		}
	}
	printf("# host -> far: %zu of %u bytes, the transport held bytes in %u rounds, "
	       "%llu SSL_write retries\n",
	       got, BULK, held, (unsigned long long)h->s->st.tls_write_retries);
	assert_int_equal(got, BULK);
	assert_true(held > 0);
}

/* far -> host: the far side writes all it can while the host reads only
 * now and then (the queue window stops the shard, the kernel's buffers
 * fill, the far side's SSL_write wants room): every byte, in order. */
static void bulk_to_host(struct h *h, SSL *far)
{
	size_t put = 0, got = 0, granted = 0, w;
	static __u8 buf[16384];
	struct frame f[BATCH];
	__u64 end = now_ms() + 30000;
	unsigned blocked = 0, round = 0;

	while (got < BULK && now_ms() < end) {
		while (put < BULK) {
			size_t m = BULK - put < sizeof(buf) ? BULK - put : sizeof(buf);

			for (size_t i = 0; i < m; i++)
				buf[i] = pat(put + i);
			if (!SSL_write_ex(far, buf, m, &w)) { /* the same bytes again later */
				ERR_clear_error();
				blocked++;
				break;
			}
			put += w;
		}
		shard_poll(h->s, 0);
		if (++round % 8) /* the host away: only the shard runs */
			continue;
		for (int k = host_rx(h, f, BATCH, 0), i = 0; i < k; i++) {
			if (f[i].op != XTS_OP_DATA || f[i].dst != 0x101)
				continue;
			for (size_t j = 0; j < f[i].len; j++)
				if (f[i].data[j] != pat(got + j))
					fail_msg("far -> host: byte %zu is %02x, want %02x",
						 got + j, f[i].data[j], pat(got + j));
			got += f[i].len;
		}
		host_ack(h);
		if (got - granted >= 256 * 1024) { /* the program read it: credit back */
			hsend(h, XTS_OP_CREDIT, 0, f[0].src, 0x101, (__u32)(got - granted), NULL,
			      0);
			granted = got;
		}
	}
	printf("# far -> host: %zu of %u bytes, the far side's SSL_write blocked %u times\n", got,
	       BULK, blocked);
	assert_int_equal(got, BULK);
	assert_true(blocked > 0);
}

static void test_bulk_backpressure(void **state)
{
	struct h *h = *state;
	struct xts_ulp_info info;
	int small = 4096;
	SSL *far;
	__u32 id;

	profiles(h, TLS1_3_VERSION);
	hello(h);
	/* a small window from the start (the listener's, inherited): set on
	 * the accepted socket it stays below loopback's MSS and the sender
	 * waits for persist probes */
	setsockopt(h->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	hconnect_tls(h, 0x101, "api", "localhost");
	far = far_server(far_accept(h), path(4, "srv.pem"), path(5, "srv.key"));
	setsockopt(SSL_get_fd(far), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	assert_int_equal(far_handshake(h, far, 3000), 1);
	assert_int_equal(conn_res(h, 0x101, &info, &id), 0);
	host_ack(h);
	bulk_to_far(h, id, far);
	bulk_to_host(h, far);
	if (bio_setting == XTS_TLS_BIO_SOCKET) {
		/* the socket BIO's write path ran: SSL_write met a full
		 * socket and was called again with the same bytes */
		assert_true(h->s->st.tls_write_retries > 0);
		assert_int_equal(h->s->st.tls_sockbio, 1);
		if (!ulp_offered()) /* no kTLS here: OpenSSL sealed in user space */
			assert_int_equal(h->s->st.tls_ktls_tx + h->s->st.tls_ktls_rx, 0);
	} else {
		assert_int_equal(h->s->st.tls_write_retries, 0);
		assert_int_equal(h->s->st.tls_sockbio, 0);
	}
	far_free(far);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_originate_13, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_originate_12, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eof_without_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_hostname, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_ca, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_tls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_profile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_terminate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_needs_cert, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_originate_13, setup_sock, teardown_bio),
	    cmocka_unit_test_setup_teardown(test_originate_12, setup_sock, teardown_bio),
	    cmocka_unit_test_setup_teardown(test_eof_without_notify, setup_sock, teardown_bio),
	    cmocka_unit_test_setup_teardown(test_wrong_hostname, setup_sock, teardown_bio),
	    cmocka_unit_test_setup_teardown(test_not_tls, setup_sock, teardown_bio),
	    cmocka_unit_test_setup_teardown(test_terminate, setup_sock, teardown_bio),
	    cmocka_unit_test_setup_teardown(test_bulk_backpressure, setup_own, teardown_bio),
	    cmocka_unit_test_setup_teardown(test_bulk_backpressure, setup_sock, teardown_bio),
	};

	/* a far side writing to a connection the shard failed: an error
	 * the test reports, not a SIGPIPE that ends it */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, make_certs, rm_certs);
}
