// SPDX-License-Identifier: BSD-2-Clause
/*
 * tls_server.c - `xts-bench tlsserver`: the host's HTTPS server of the TLS
 * workloads (docs/performance.md, "TLS: XTS against host TLS and
 * HAProxy"), one thread, the same HTTP handling on every path:
 *
 *   xts-bench tlsserver -P xts -p PORT [-i IF] [-q QUEUE] -T PROFILE [-W HELLO_MS]
 *                       [-S SPIN_US] [-Q FILE]
 *       an XTS listener with TLS pushed (profile PROFILE of xts.conf):
 *       the shard does the handshake and the records, this process reads
 *       and writes plaintext (path a); -Q: on SIGUSR1 its queue's
 *       counters (rx and tx frames, doorbells, sleeps, pure ACKs) into
 *       FILE, which tlsclient -Q reads at the ends of its window
 *   xts-bench tlsserver -P tls -a ADDR -p PORT -C CERT -K KEY
 *       kernel TCP, TLS here with OpenSSL (path b)
 *   xts-bench tlsserver -P kernel -a ADDR -p PORT
 *       kernel TCP in plaintext: the backend of HAProxy, which does the
 *       TLS on the DPU (path c)
 *
 * Every request (bytes up to an empty line; the client sends one GET) is
 * answered with a 200 and a 64-byte body (TLS_RESP_LEN bytes in all).
 * Ends on SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "xport.h"

#define MAXC 4096
#define OUTQ 8 /* responses a connection holds before it stops reading */

const char tls_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n"
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
_Static_assert(sizeof(tls_resp) - 1 == TLS_RESP_LEN, "TLS_RESP_LEN");

enum { SP_XTS, SP_TLS, SP_KERNEL };

struct tconn {
	int h;
	SSL *ssl;
	bool hs_done, want_out;
	unsigned scan;	   /* bytes of "\r\n\r\n" matched so far */
	unsigned pending;  /* requests not yet answered */
	size_t olen, ooff; /* out: answers not yet sent */
	uint32_t ev;	   /* epoll or xport_wait interest */
	unsigned idx;	   /* in tsrv.c[] */
	char out[OUTQ * sizeof(tls_resp)];
};

struct tsrv {
	int mode, ls, ep;
	struct xport *xp;
	SSL_CTX *ctx;
	struct tconn *c[MAXC];
	unsigned n;
};

static volatile sig_atomic_t stop, dump;
static const char *qfile; /* -Q: the queue's counters, written on SIGUSR1 */

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_dump(int sig)
{
	(void)sig;
	dump = 1;
}

/* The queue's cost counters into qfile (whole: written aside, renamed),
 * for tlsclient to read at the ends of its window: frames, doorbells,
 * sleeps and pure ACKs per request. */
static void dump_q(struct tsrv *s)
{
	struct xport_stats q = {0};
	char tmp[4200];
	FILE *f;

	dump = 0;
	if (!qfile || xport_stats(s->xp, &q, sizeof(q)))
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", qfile);
	if (!(f = fopen(tmp, "w")))
		return;
	fprintf(f, "%llu %llu %llu %llu %llu\n", (unsigned long long)q.rx_frames,
		(unsigned long long)q.tx_frames, (unsigned long long)q.kicks,
		(unsigned long long)q.sleeps, (unsigned long long)q.acks_tx);
	if (fclose(f) == 0)
		rename(tmp, qfile);
}

/* > 0 bytes, 0 end, -1 with errno (EAGAIN: nothing now) */
static ssize_t t_recv(struct tsrv *s, struct tconn *c, char *p, size_t n)
{
	int r, e;

	if (s->mode == SP_XTS)
		return xport_recv(s->xp, c->h, p, n, MSG_DONTWAIT);
	if (!c->ssl)
		return recv(c->h, p, n, MSG_DONTWAIT);
	r = SSL_read(c->ssl, p, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	c->want_out = e == SSL_ERROR_WANT_WRITE;
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPROTO;
	return -1;
}

static ssize_t t_send(struct tsrv *s, struct tconn *c, const char *p, size_t n)
{
	int r, e;

	if (s->mode == SP_XTS)
		return xport_send(s->xp, c->h, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (!c->ssl)
		return send(c->h, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	r = SSL_write(c->ssl, p, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	c->want_out = e == SSL_ERROR_WANT_WRITE;
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPROTO;
	return -1;
}

/* Send what is queued: 0, or -1 when the connection failed. */
static int flush(struct tsrv *s, struct tconn *c)
{
	while (c->ooff < c->olen) {
		ssize_t k = t_send(s, c, c->out + c->ooff, c->olen - c->ooff);

		if (k < 0)
			return errno == EAGAIN ? 0 : -1;
		c->ooff += (size_t)k;
	}
	c->ooff = c->olen = 0;
	return 0;
}

/* Answers for the requests seen, as many as fit. */
static void queue_answers(struct tconn *c)
{
	while (c->pending && c->olen + sizeof(tls_resp) - 1 <= sizeof(c->out)) {
		memcpy(c->out + c->olen, tls_resp, sizeof(tls_resp) - 1);
		c->olen += sizeof(tls_resp) - 1;
		c->pending--;
	}
}

/* One turn of a connection: handshake (path b), send what waits, read
 * and answer.  0: keep it, -1: drop it. */
static int serve(struct tsrv *s, struct tconn *c)
{
	char buf[4096];

	if (c->ssl && !c->hs_done) {
		int r = SSL_accept(c->ssl), e;

		if (r != 1) {
			e = SSL_get_error(c->ssl, r);
			c->want_out = e == SSL_ERROR_WANT_WRITE;
			return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
		}
		c->hs_done = true;
	}
	c->want_out = false;
	if (flush(s, c))
		return -1;
	while (c->pending < OUTQ) {
		ssize_t k = t_recv(s, c, buf, sizeof(buf));

		if (k == 0)
			return -1;
		if (k < 0)
			return errno == EAGAIN ? 0 : -1;
		for (ssize_t i = 0; i < k; i++) {
			char want = "\r\n\r\n"[c->scan];

			if (buf[i] == want)
				c->scan++;
			else
				c->scan = buf[i] == '\r';
			if (c->scan == 4) {
				c->scan = 0;
				c->pending++;
			}
		}
		queue_answers(c);
		if (flush(s, c))
			return -1;
	}
	return 0;
}

static void drop(struct tsrv *s, unsigned i)
{
	struct tconn *c = s->c[i];

	if (s->mode == SP_XTS) {
		xport_close(s->xp, c->h);
	} else {
		if (c->ssl)
			SSL_free(c->ssl);
		close(c->h); /* leaves the epoll set with it */
	}
	free(c);
	s->c[i] = s->c[--s->n];
	if (i < s->n)
		s->c[i]->idx = i;
}

static struct tconn *add(struct tsrv *s, int h)
{
	struct tconn *c = calloc(1, sizeof(*c));

	if (!c || s->n == MAXC) {
		free(c);
		return NULL;
	}
	c->h = h;
	c->idx = s->n;
	s->c[s->n++] = c;
	return c;
}

/* The XTS path waits as the kernel paths do, on a ready list (xport_wait,
 * libxport's epoll): a wakeup costs what is ready, not a look at every
 * connection (xport_poll over 65 sockets a turn cost the host 1-2 us per
 * request here; docs/performance.md). */
static void x_watch(struct tsrv *s, struct tconn *c, int op)
{
	uint32_t ev = EPOLLIN | (c->olen ? EPOLLOUT : 0);

	if (op == XPORT_CTL_MOD && ev == c->ev)
		return;
	if (xport_watch(s->xp, 0, op, c->h, ev, (uint64_t)(uintptr_t)c))
		bench_die("xport_watch", errno);
	c->ev = ev;
}

static void xts_loop(struct tsrv *s)
{
	struct xport_event ev[256];

	if (xport_watch(s->xp, 0, XPORT_CTL_ADD, s->ls, EPOLLIN, 0))
		bench_die("xport_watch", errno);
	while (!stop) {
		int k = xport_wait(s->xp, 0, ev, 256, 200);

		if (dump)
			dump_q(s);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			bench_die("xport_wait", errno);
		}
		for (int j = 0; j < k; j++) {
			struct tconn *c = (struct tconn *)(uintptr_t)ev[j].data;

			if (c) {
				if (serve(s, c))
					drop(s, c->idx);
				else
					x_watch(s, c, XPORT_CTL_MOD);
				continue;
			}
			for (;;) {
				int sd = xport_accept4(s->xp, s->ls, NULL, NULL, SOCK_NONBLOCK);

				if (sd < 0) {
					/* anything but "none now" means the listener
					 * is gone (its queue session ended): it stays
					 * readable until closed, so waiting on would
					 * spin */
					if (errno != EAGAIN && errno != ECONNABORTED)
						bench_die("xport_accept4", errno);
					break;
				}
				if (!(c = add(s, sd))) {
					xport_close(s->xp, sd);
					continue;
				}
				x_watch(s, c, XPORT_CTL_ADD);
			}
		}
	}
}

static void set_ev(struct tsrv *s, struct tconn *c)
{
	uint32_t ev = EPOLLIN | (c->olen || c->want_out ? EPOLLOUT : 0);
	struct epoll_event e = {.events = ev, .data.ptr = c};

	if (ev != c->ev && !epoll_ctl(s->ep, EPOLL_CTL_MOD, c->h, &e))
		c->ev = ev;
}

static void kernel_accept(struct tsrv *s)
{
	int fd;

	while ((fd = accept4(s->ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct tconn *c = add(s, fd);
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};

		if (!c) {
			close(fd);
			continue;
		}
		c->ev = EPOLLIN;
		if (s->ctx && (!(c->ssl = SSL_new(s->ctx)) || !SSL_set_fd(c->ssl, fd)))
			bench_die("SSL_new", ENOMEM);
		epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e);
		if (serve(s, c)) /* the ClientHello may be there already */
			drop(s, s->n - 1);
		else
			set_ev(s, c);
	}
}

static void kernel_loop(struct tsrv *s)
{
	struct epoll_event evs[256], e = {.events = EPOLLIN, .data.ptr = NULL};

	if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->ls, &e))
		bench_die("epoll", errno);
	while (!stop) {
		int k = epoll_wait(s->ep, evs, 256, 200);

		for (int j = 0; j < k; j++) {
			struct tconn *c = evs[j].data.ptr;

			if (!c) {
				kernel_accept(s);
				continue;
			}
			if (!serve(s, c)) {
				set_ev(s, c);
				continue;
			}
			drop(s, c->idx);
		}
	}
}

static SSL_CTX *server_ctx(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		bench_die("tlsserver: certificate or key", EINVAL);
	}
	/* as the shard's profiles (docs/design.md, "TLS on the shard"): no
	 * renegotiation, no stateful cache, one TLS 1.3 ticket */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

static void xts_listen(struct tsrv *s, const char *ifname, unsigned queue, int port,
		       const char *profile, int hello_ms, unsigned spin_us)
{
	/* hello_ms: -W, for a shard under callgrind (tls-profile); spin_us:
	 * -S, libxport watches the rx ring this long before it sleeps */
	struct xport_opts o = {.sz = sizeof(o),
			       .flags = XPORT_OPT_BATCH,
			       .hello_timeout_ms = hello_ms,
			       .spin_us = spin_us};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, err = xport_open(&s->xp, ifname, queue, &o);

	if (err)
		bench_die("xport_open", -err);
	s->ls = xport_socket(s->xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	/* TCP_NODELAY on the listener, inherited by what it accepts, as on
	 * the kernel paths: without it the first answer of a connection
	 * waits behind the unacknowledged TLS 1.3 ticket for the client's
	 * delayed ACK (40 ms) */
	if (s->ls < 0 ||
	    xport_setsockopt(s->xp, s->ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    xport_setsockopt(s->xp, s->ls, SOL_TCP, TCP_ULP, "tls", 4) ||
	    xport_setsockopt(s->xp, s->ls, SOL_XTS, XTS_TLS_PROFILE, profile,
			     (socklen_t)strlen(profile) + 1) ||
	    xport_bind(s->xp, s->ls, (struct sockaddr *)&a, sizeof(a)) ||
	    xport_listen(s->xp, s->ls, 1024))
		bench_die("tlsserver: XTS listener with TLS", errno);
}

static void kernel_listen(struct tsrv *s, const char *addr, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		bench_die("tlsserver: address", EINVAL);
	s->ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->ls < 0)
		bench_die("socket", errno);
	setsockopt(s->ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* inherited by every accepted socket (Linux copies it) */
	setsockopt(s->ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(s->ls, (struct sockaddr *)&a, sizeof(a)) || listen(s->ls, 4096))
		bench_die("tlsserver: bind/listen", errno);
}

int bench_tlsserver_main(int argc, char **argv)
{
	static struct tsrv s = {.mode = -1};
	const char *addr = "0.0.0.0", *ifname = "xh0", *profile = NULL, *cert = NULL, *key = NULL;
	unsigned queue = 0;
	int opt, port = 9443, hello_ms = 0;
	unsigned spin_us = 0;

	while ((opt = getopt(argc, argv, "P:a:p:i:q:T:C:K:W:S:Q:")) != -1) {
		switch (opt) {
		case 'P':
			s.mode = !strcmp(optarg, "xts")	     ? SP_XTS
				 : !strcmp(optarg, "tls")    ? SP_TLS
				 : !strcmp(optarg, "kernel") ? SP_KERNEL
							     : -1;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			queue = (unsigned)atoi(optarg);
			break;
		case 'T':
			profile = optarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'W':
			hello_ms = atoi(optarg);
			break;
		case 'S':
			spin_us = (unsigned)atoi(optarg);
			break;
		case 'Q':
			qfile = optarg;
			break;
		default:
			s.mode = -1;
			optind = argc;
		}
	}
	if (s.mode < 0 || (s.mode == SP_XTS && !profile) || (s.mode == SP_TLS && (!cert || !key))) {
		fprintf(
		    stderr,
		    "usage: xts-bench tlsserver -P xts -p PORT [-i IF] [-q Q] -T PROFILE [-W MS]\n"
		    "       xts-bench tlsserver -P tls -a ADDR -p PORT -C CERT -K KEY\n"
		    "       xts-bench tlsserver -P kernel -a ADDR -p PORT\n");
		return 2;
	}
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_dump);
	if (s.mode == SP_XTS)
		xts_listen(&s, ifname, queue, port, profile, hello_ms, spin_us);
	else
		kernel_listen(&s, addr, port);
	if (s.mode == SP_TLS)
		s.ctx = server_ctx(cert, key);
	printf("listening on port %d\n", port);
	fflush(stdout);
	if (s.mode == SP_XTS)
		xts_loop(&s);
	else
		kernel_loop(&s);
	while (s.n)
		drop(&s, s.n - 1);
	if (s.mode == SP_XTS) {
		xport_close(s.xp, s.ls);
		xport_close_queue(s.xp);
	} else {
		close(s.ls);
		SSL_CTX_free(s.ctx);
	}
	return 0;
}
