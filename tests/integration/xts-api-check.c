// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-api-check - libxport's POSIX behaviour against a real DPU shard and a
 * scripted peer (api_peer.py in xts-net): errno on every path Linux has one
 * for, blocking and non-blocking connect, socket options read back from the
 * DPU's kernel socket (TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE, SO_RCVBUF,
 * SO_LINGER, TCP_INFO), peer reset, credit stall of one connection while
 * another works, close with unread data (RST) and without (FIN), polling
 * together with OS fds, close while connecting, 2,000 concurrent connects.
 * Prints each failure; exits 0 only when none.
 *
 *   xts-api-check [QUEUE]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include "xport.h"

static int fails;
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fails++;                                                                   \
			printf("FAIL %s:%d: %s (errno %d %s)\n", __FILE__, __LINE__, #c, errno,    \
			       strerror(errno));                                                   \
		}                                                                                  \
	} while (0)
#define ERRNO(call, e)                                                                             \
	do {                                                                                       \
		errno = 0;                                                                         \
		long _r = (long)(call);                                                            \
		if (_r != -1 || errno != (e)) {                                                    \
			fails++;                                                                   \
			printf("FAIL %s:%d: %s = %ld errno %d (%s), want %s\n", __FILE__,          \
			       __LINE__, #call, _r, errno, strerror(errno), #e);                   \
		}                                                                                  \
	} while (0)

static struct xport *xp;
static struct sockaddr_in sin_(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "198.18.0.2", &a.sin_addr);
	return a;
}
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int conn(int port, int nb)
{
	struct sockaddr_in a = sin_(port);
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
	CHECK(sd > 0);
	if (xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)) &&
	    !(nb && errno == EINPROGRESS)) {
		printf("connect %d: %s\n", port, strerror(errno));
		fails++;
	}
	return sd;
}

static short wait_ev(int sd, short ev, int ms)
{
	struct xport_pollfd p = {.sd = sd, .fd = -1, .events = ev};
	int n = xport_poll(xp, &p, 1, ms);
	return n > 0 ? p.revents : 0;
}

static void t_unconnected(void)
{
	char b[4];
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM, 0);
	ERRNO(xport_send(xp, sd, "x", 1, 0), EPIPE);
	ERRNO(xport_recv(xp, sd, b, 1, 0), ENOTCONN);
	ERRNO(xport_getpeername(xp, sd, (struct sockaddr *)&a, &l), ENOTCONN);
	CHECK(xport_getsockname(xp, sd, (struct sockaddr *)&a, &l) == 0 && l == sizeof(a) &&
	      a.sin_family == AF_INET && a.sin_port == 0);
	ERRNO(xport_shutdown(xp, sd, SHUT_WR), ENOTCONN);
	ERRNO(xport_shutdown(xp, sd, 7), EINVAL);
	CHECK(wait_ev(sd, POLLIN | POLLOUT, 0) == (POLLOUT | POLLHUP));
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
	struct sockaddr_in a4 = sin_(7);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a4, 8), EINVAL);
	ERRNO(xport_socket(xp, AF_UNIX, SOCK_STREAM, 0), EAFNOSUPPORT);
	ERRNO(xport_socket(xp, AF_INET, SOCK_DGRAM, 0), EPROTONOSUPPORT);
	ERRNO(xport_socket(xp, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	ERRNO(xport_socket(xp, AF_INET, SOCK_STREAM | 0x1000000, 0), EINVAL);
	ERRNO(xport_send(xp, 12345, "x", 1, 0), EBADF);
	ERRNO(xport_close(xp, -1), EBADF);
	int v;
	socklen_t vl = sizeof(v);
	CHECK(xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_MAXSEG, &v, &vl) == 0 && v == 536);
	CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_STREAM);
	ERRNO(xport_getsockopt(xp, sd, IPPROTO_TCP, 9999, &v, &vl), ENOPROTOOPT);
	v = 50;
	ERRNO(xport_setsockopt(xp, sd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof(v)), EINVAL);
	ERRNO(xport_setsockopt(xp, sd, IPPROTO_TCP, TCP_NODELAY, &v, 2), EINVAL);
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	CHECK(xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
	      ti.tcpi_state == TCP_CLOSE);
	CHECK(xport_close(xp, sd) == 0);
	ERRNO(xport_close(xp, sd), EBADF);
	printf("unconnected done\n");
}

static void t_echo(void)
{
	char buf[70000], out[70000];
	int sd = conn(7, 0), i;
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	CHECK(xport_getpeername(xp, sd, (struct sockaddr *)&a, &l) == 0 && a.sin_port == htons(7));
	l = sizeof(a);
	CHECK(xport_getsockname(xp, sd, (struct sockaddr *)&a, &l) == 0 && a.sin_port != 0);
	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	CHECK(xport_send(xp, sd, buf, sizeof(buf), 0) == sizeof(buf));
	/* PEEK + WAITALL */
	CHECK(xport_recv(xp, sd, out, 1000, MSG_PEEK | MSG_WAITALL) == 1000);
	CHECK(memcmp(out, buf, 1000) == 0);
	CHECK(xport_recv(xp, sd, out, sizeof(out), MSG_WAITALL) == sizeof(buf));
	CHECK(memcmp(out, buf, sizeof(buf)) == 0);
	ERRNO(xport_recv(xp, sd, out, 1, MSG_DONTWAIT), EAGAIN);
	struct timeval tv = {0, 200000};
	CHECK(xport_setsockopt(xp, sd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	double t0 = now();
	ERRNO(xport_recv(xp, sd, out, 1, 0), EAGAIN);
	CHECK(now() - t0 > 0.19 && now() - t0 < 0.4);
	CHECK(xport_shutdown(xp, sd, SHUT_WR) == 0);
	CHECK(xport_recv(xp, sd, out, 1, 0) == 0); /* echo server closes after our EOF */
	ERRNO(xport_send(xp, sd, "x", 1, 0), EPIPE);
	short r = wait_ev(sd, POLLIN | POLLOUT | POLLRDHUP, 0);
	CHECK(r == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP));
	CHECK(xport_close(xp, sd) == 0);
	printf("echo done\n");
}

static void t_nonblock_connect(void)
{
	struct sockaddr_in a = sin_(7);
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), v;
	socklen_t vl = sizeof(v);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
	CHECK(wait_ev(sd, POLLOUT, 2000) & POLLOUT);
	CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_ERROR, &v, &vl) == 0 && v == 0);
	CHECK(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), EISCONN);
	CHECK(xport_close(xp, sd) == 0);

	/* refused, nonblocking */
	a = sin_(9);
	sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
	short r = wait_ev(sd, POLLOUT, 2000);
	CHECK(r == (POLLOUT | POLLERR | POLLHUP));
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), ECONNREFUSED);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
	wait_ev(sd, POLLOUT, 2000);
	CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_ERROR, &v, &vl) == 0 && v == ECONNREFUSED);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), ECONNABORTED);
	/* the same socket, blocking, to a good port */
	xport_set_nonblock(xp, sd, 0);
	a = sin_(7);
	CHECK(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(xport_send(xp, sd, "hi", 2, 0) == 2);
	char b[4];
	CHECK(xport_recv(xp, sd, b, 4, 0) == 2);
	CHECK(xport_close(xp, sd) == 0);
	/* blocking refused */
	a = sin_(9);
	sd = xport_socket(xp, AF_INET, SOCK_STREAM, 0);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), ECONNREFUSED);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), ECONNREFUSED);
	CHECK(xport_close(xp, sd) == 0);
	/* a destination that never answers (no such host on the net side) */
	struct sockaddr_in bh = sin_(7);
	inet_pton(AF_INET, "198.18.0.99", &bh.sin_addr);
	sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&bh, sizeof(bh)), EINPROGRESS);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&bh, sizeof(bh)), EALREADY);
	ERRNO(xport_recv(xp, sd, &v, 1, 0), EAGAIN);
	ERRNO(xport_send(xp, sd, &v, 1, 0), EAGAIN);
	CHECK(wait_ev(sd, POLLIN | POLLOUT, 100) == 0);
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	CHECK(xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
	      ti.tcpi_state == TCP_SYN_SENT);
	CHECK(xport_close(xp, sd) == 0); /* zombie until its CONNECT_RES */
	/* blocking with SO_SNDTIMEO: EINPROGRESS when it runs out */
	sd = xport_socket(xp, AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {0, 300000};
	CHECK(xport_setsockopt(xp, sd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0);
	double t0 = now();
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&bh, sizeof(bh)), EINPROGRESS);
	CHECK(now() - t0 > 0.29 && now() - t0 < 0.5);
	/* the DPU got timeout_ms = 300 too: the connect fails soon, and
	 * may have failed by the next call (this thread woken late: a
	 * loaded machine), which then says so as Linux's second connect
	 * does (the socket's error), else EALREADY */
	errno = 0;
	if (xport_connect(xp, sd, (struct sockaddr *)&bh, sizeof(bh)) == -1 && errno == ETIMEDOUT) {
		CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_ERROR, &v, &vl) == 0 && v == 0);
	} else {
		CHECK(errno == EALREADY);
		short r2 = wait_ev(sd, POLLOUT, 3000);
		CHECK(r2 & POLLERR);
		CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_ERROR, &v, &vl) == 0 &&
		      v == ETIMEDOUT);
	}
	CHECK(xport_close(xp, sd) == 0);
	printf("nonblock connect done\n");
}

static void t_opts(void)
{
	int v = 1, sd = xport_socket(xp, AF_INET, SOCK_STREAM, 0);
	socklen_t vl = sizeof(v);
	struct sockaddr_in a = sin_(7);
	CHECK(xport_setsockopt(xp, sd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0);
	CHECK(xport_setsockopt(xp, sd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)) == 0);
	v = 30;
	CHECK(xport_setsockopt(xp, sd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)) == 0);
	v = 65536;
	CHECK(xport_setsockopt(xp, sd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) == 0);
	CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_RCVBUF, &v, &vl) == 0 && v == 131072);
	CHECK(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)) == 0);
	v = 0;
	CHECK(xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 1);
	v = 0;
	CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_KEEPALIVE, &v, &vl) == 0 && v == 1);
	v = 0;
	CHECK(xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &vl) == 0 && v == 30);
	v = 0;
	CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_RCVBUF, &v, &vl) == 0 && v == 131072);
	printf("rcvbuf from DPU: %d\n", v);
	v = 0;
	CHECK(xport_setsockopt(xp, sd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0);
	v = 1;
	CHECK(xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 0);
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	CHECK(xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
	      ti.tcpi_state == TCP_ESTABLISHED);
	printf("tcp_info len %u rtt %u\n", tl, ti.tcpi_rtt);
	struct linger lg = {1, 0};
	socklen_t ll = sizeof(lg);
	CHECK(xport_setsockopt(xp, sd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
	lg.l_onoff = 0;
	CHECK(xport_getsockopt(xp, sd, SOL_SOCKET, SO_LINGER, &lg, &ll) == 0 && lg.l_onoff == 1 &&
	      lg.l_linger == 0);
	v = 5;
	ERRNO(xport_setsockopt(xp, sd, IPPROTO_IP, IP_TOS, &v, sizeof(v)), ENOPROTOOPT);
	CHECK(xport_close(xp, sd) == 0);
	printf("opts done\n");
}

static void t_reset(void)
{
	char b[8];
	int sd = conn(13, 0);
	CHECK(xport_recv(xp, sd, b, 8, 0) == 1);
	ERRNO(xport_recv(xp, sd, b, 8, 0), ECONNRESET);
	CHECK(xport_recv(xp, sd, b, 8, 0) == 0);
	ERRNO(xport_send(xp, sd, "x", 1, 0), EPIPE);
	ERRNO(xport_shutdown(xp, sd, SHUT_WR), ENOTCONN);
	struct sockaddr_in a = sin_(7);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), EISCONN);
	CHECK(xport_close(xp, sd) == 0);
	printf("reset done\n");
}

static void t_source(void)
{
	static char b[100000];
	long tot = 0;
	ssize_t n;
	int sd = conn(12, 0);
	/* let the DPU fill our credit, check the stall, then read */
	usleep(300000);
	xport_process(xp);
	while ((n = xport_recv(xp, sd, b, sizeof(b), 0)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)b[i] != (unsigned char)((tot + i) & 255)) {
				printf("corrupt at %ld\n", tot + i);
				fails++;
				goto out;
			}
		tot += n;
	}
out:
	CHECK(n == 0 && tot == 8 * 1024 * 1024);
	CHECK(xport_close(xp, sd) == 0);
	printf("source done %ld\n", tot);
}

static void t_sink_stall(void)
{
	static char b[1 << 20];
	int sd = conn(11, 0);
	struct timeval tv = {0, 300000};
	ssize_t n, tot = 0;
	CHECK(xport_setsockopt(xp, sd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0);
	/* the peer never reads: kernel buffers + DPU credit fill, then stall */
	for (int i = 0; i < 40; i++) {
		n = xport_send(xp, sd, b, sizeof(b), 0);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			break;
		}
		tot += n;
		if (n < (ssize_t)sizeof(b))
			break;
	}
	printf("sent %zd before stall\n", tot);
	CHECK(tot > 0 && tot < 40 * (1 << 20));
	ERRNO(xport_send(xp, sd, b, 100, MSG_DONTWAIT), EAGAIN);
	CHECK(!(wait_ev(sd, POLLOUT, 0) & POLLOUT));
	/* other connections on the queue still work */
	int e = conn(7, 0);
	CHECK(xport_send(xp, e, "abc", 3, 0) == 3);
	CHECK(xport_recv(xp, e, b, 10, 0) == 3);
	xport_close(xp, e);
	CHECK(xport_close(xp, sd) == 0);
	printf("sink stall done\n");
}

static void t_close_unread(void)
{
	char b[10];
	int sd = conn(14, 0);
	CHECK(xport_recv(xp, sd, b, 10, 0) == 10);
	usleep(200000);
	xport_process(xp);
	CHECK(xport_close(xp, sd) == 0); /* unread data: RST */
	printf("close unread done (see watch log)\n");
	sd = conn(14, 0);
	char big[65536];
	ssize_t tot = 0, n;
	while (tot < 1000000 && (n = xport_recv(xp, sd, big, sizeof(big), 0)) > 0)
		tot += n;
	CHECK(tot == 1000000);
	CHECK(xport_close(xp, sd) == 0); /* all read: FIN */
}

/* The sink's byte pattern (api_peer.py checks it): stream offset o holds
 * o % 251, so a byte lost, doubled or moved shows at its offset. */
static void pattern(unsigned char *b, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)((off + i) % 251);
}

/* 200 MiB to the sink; test_api.sh checks the peer got them all, in order */
static void t_sink(void)
{
	static unsigned char b[1 << 20];
	int sd = conn(8, 0);
	double t0 = now();
	for (int i = 0; i < 200; i++) {
		pattern(b, sizeof(b), (uint64_t)i << 20);
		CHECK(xport_send(xp, sd, b, sizeof(b), 0) == sizeof(b));
	}
	double dt = now() - t0;
	printf("sent 200 MiB in %.2fs: %.0f MB/s\n", dt, 200 * 1.048576 / dt);
	CHECK(xport_close(xp, sd) == 0);
}

/*
 * Readiness sets against a real shard and echo peer: N connections in a
 * set (edge-triggered, data = index), a message on every third; the
 * waits name exactly those, each once per echo, with EPOLLIN; level
 * triggering reports one left unread again; a second set sees its own
 * watch only; EOF from the peer (after our SHUT_WR) is EPOLLRDHUP.
 */
static void t_ready(void)
{
	enum { N = 60 };
	struct xport_event ev[N];
	int sd[N], got[N], want = 0, seen = 0, set2, n, i;
	bool done[N];
	char buf[64];
	ssize_t r;
	double t0;

	memset(got, 0, sizeof(got));
	memset(done, 0, sizeof(done));
	for (i = 0; i < N; i++) {
		sd[i] = conn(7, 0);
		CHECK(xport_set_nonblock(xp, sd[i], 1) == 0);
		CHECK(xport_watch(xp, 0, XPORT_CTL_ADD, sd[i], EPOLLIN | EPOLLRDHUP | EPOLLET,
				  (uint64_t)i) == 0);
	}
	CHECK(xport_wait(xp, 0, ev, N, 0) == 0); /* nothing yet */
	for (i = 0; i < N; i += 3, want++)
		CHECK(xport_send(xp, sd[i], "ping", 4, 0) == 4);
	t0 = now();
	while (seen < want && now() - t0 < 5) {
		n = xport_wait(xp, 0, ev, N, 1000);
		for (int k = 0; k < n; k++) {
			int j = (int)ev[k].data;

			CHECK(j >= 0 && j < N && j % 3 == 0 && ev[k].sd == sd[j]);
			CHECK(ev[k].events == EPOLLIN);
			if (j < 0 || j >= N)
				continue;
			while ((r = xport_recv(xp, sd[j], buf, sizeof(buf), 0)) > 0)
				got[j] += (int)r; /* the echo may come in pieces */
			if (got[j] == 4 && !done[j]) {
				done[j] = true;
				seen++;
			}
		}
	}
	CHECK(seen == want);
	CHECK(xport_wait(xp, 0, ev, N, 0) == 0); /* each edge once */
	/* level: one echo left unread is reported by every wait */
	CHECK(xport_watch(xp, 0, XPORT_CTL_MOD, sd[1], EPOLLIN, 1) == 0);
	CHECK(xport_send(xp, sd[1], "lvl", 3, 0) == 3);
	CHECK(xport_wait(xp, 0, ev, N, 2000) == 1 && ev[0].sd == sd[1]);
	CHECK(xport_wait(xp, 0, ev, N, 0) == 1 && ev[0].sd == sd[1]);
	/* a second set: only what it watches */
	set2 = xport_set_create(xp);
	CHECK(set2 > 0);
	CHECK(xport_watch(xp, set2, XPORT_CTL_ADD, sd[2], EPOLLIN | EPOLLRDHUP, 2) == 0);
	CHECK(xport_wait(xp, set2, ev, N, 0) == 0);
	/* EOF: our SHUT_WR, the echo peer's FIN back */
	CHECK(xport_shutdown(xp, sd[2], SHUT_WR) == 0);
	t0 = now();
	n = 0;
	while (n == 0 && now() - t0 < 5)
		n = xport_wait(xp, set2, ev, N, 1000);
	CHECK(n == 1 && ev[0].sd == sd[2] && (ev[0].events & EPOLLRDHUP));
	CHECK(xport_set_close(xp, set2) == 0);
	for (i = 0; i < N; i++)
		CHECK(xport_close(xp, sd[i]) == 0);
	CHECK(xport_wait(xp, 0, ev, N, 0) == 0); /* closed sockets left the set */
	printf("ready done: %d of %d sockets reported\n", seen, N);
}

static double close_ms(int sd)
{
	double t0 = now();

	CHECK(xport_close(xp, sd) == 0);
	return (now() - t0) * 1e3;
}

/*
 * close never waits (docs/design.md): with the shard stopped (SIGSTOP,
 * its pid in XTS_SHARD_PID) a close returns at once, of a connection, of
 * a listener (no wait for the shard's CLOSED), and of a connection whose
 * CLOSE finds the queue window shut (it is owed by the slot and goes when
 * the window opens).  Then the shard runs again and everything owed
 * arrives: the slots come free and the sink sees every byte and EOF.
 */
static void t_close_stopped(void)
{
	const char *env = getenv("XTS_SHARD_PID");
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(7300)};
	struct xport_stats st0, st;
	unsigned char one;
	double worst = 0, ms;
	int e, k, l, n = 0;
	pid_t shard;

	if (!env) {
		CHECK(!"XTS_SHARD_PID set by test_api.sh");
		return;
	}
	shard = (pid_t)atoi(env);
	if (shard <= 1) { /* kill(0) would stop us all */
		CHECK(!"XTS_SHARD_PID names the shard");
		return;
	}
	e = conn(7, 0);
	k = conn(8, 0);
	l = xport_socket(xp, AF_INET, SOCK_STREAM, 0);
	CHECK(xport_bind(xp, l, (struct sockaddr *)&la, sizeof(la)) == 0);
	CHECK(xport_listen(xp, l, 4) == 0);
	CHECK(xport_set_nonblock(xp, k, 1) == 0);
	xport_stats(xp, &st0, sizeof(st0));
	CHECK(kill(shard, SIGSTOP) == 0);
	ms = close_ms(e);
	worst = ms > worst ? ms : worst;
	ms = close_ms(l);
	worst = ms > worst ? ms : worst;
	/* one byte a frame until the window (128 frames) is shut */
	for (;;) {
		pattern(&one, 1, (uint64_t)n);
		if (xport_send(xp, k, &one, 1, 0) != 1)
			break;
		n++;
	}
	CHECK(errno == EAGAIN);
	xport_stats(xp, &st, sizeof(st));
	CHECK(st.window_stalls > st0.window_stalls); /* the window, not credit */
	ms = close_ms(k);
	worst = ms > worst ? ms : worst;
	CHECK(kill(shard, SIGCONT) == 0);
	printf("close with the shard stopped: slowest %.2f ms (3 closes, %d bytes in the window)\n",
	       worst, n);
	/* a few ms; generous for a loaded machine, far below the 1-2 s of a wait */
	CHECK(worst < 100);
	for (int i = 0; i < 50; i++) {
		xport_process(xp);
		xport_stats(xp, &st, sizeof(st));
		if (st.sockets == st0.sockets - 3)
			break;
		usleep(20000);
	}
	CHECK(st.sockets == st0.sockets - 3); /* every owed CLOSE went out */
	printf("close stopped done: sink got %d\n", n);
}

static void t_many(void)
{
	enum { N = 2000 };
	static int sds[N];
	int i, ok = 0;
	for (i = 0; i < N; i++) {
		struct sockaddr_in a = sin_(7);
		sds[i] = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (xport_connect(xp, sds[i], (struct sockaddr *)&a, sizeof(a)) &&
		    errno != EINPROGRESS && errno != EAGAIN)
			printf("connect %d: %s\n", i, strerror(errno));
	}
	static struct xport_pollfd p[N];
	double t0 = now();
	while (ok < N && now() - t0 < 20) {
		for (i = 0; i < N; i++)
			p[i] = (struct xport_pollfd){.sd = sds[i], .fd = -1, .events = POLLOUT};
		xport_poll(xp, p, N, 100);
		ok = 0;
		for (i = 0; i < N; i++) {
			int v = 0;
			socklen_t l = sizeof(v);
			if (p[i].revents & POLLOUT) {
				xport_getsockopt(xp, sds[i], SOL_SOCKET, SO_ERROR, &v, &l);
				if (!v)
					ok++;
			}
		}
	}
	CHECK(ok == N);
	printf("%d/%d connected in %.2fs\n", ok, N, now() - t0);
	static char sent[N], rcvd[N];
	int got = 0, nsent = 0;
	char b[8];
	/* python's echo answers 2000 connections in 1-3 s on a quiet 2-core
	 * machine; with both cores busy it took over 10: the bound is for a
	 * hang, the figure is printed */
	t0 = now();
	while (got < N && now() - t0 < 60) {
		for (i = 0; i < N; i++)
			p[i] = (struct xport_pollfd){
			    .sd = sds[i], .fd = -1, .events = POLLIN | (sent[i] ? 0 : POLLOUT)};
		xport_poll(xp, p, N, 100);
		for (i = 0; i < N; i++) {
			if (!sent[i] && (p[i].revents & POLLOUT)) {
				ssize_t r = xport_send(xp, sds[i], "ping", 4, 0);
				if (r == 4) {
					sent[i] = 1;
					nsent++;
				} else
					CHECK(r < 0 && errno == EAGAIN);
			}
			if (!rcvd[i] && (p[i].revents & POLLIN) &&
			    xport_recv(xp, sds[i], b, 8, 0) == 4) {
				rcvd[i] = 1;
				got++;
			}
		}
	}
	printf("sent %d got %d in %.2fs\n", nsent, got, now() - t0);
	CHECK(got == N);
	for (i = 0; i < N; i++)
		CHECK(xport_close(xp, sds[i]) == 0);
	struct xport_stats st;
	xport_stats(xp, &st, sizeof(st));
	printf("many done: sockets %u stale %lu resets %lu wstalls %lu cstalls %lu\n", st.sockets,
	       (unsigned long)st.rx_stale, (unsigned long)st.resets,
	       (unsigned long)st.window_stalls, (unsigned long)st.credit_stalls);
}

static void t_poll_os(void)
{
	int pf[2];
	CHECK(pipe(pf) == 0);
	int sd = conn(7, 0);
	struct xport_pollfd p[2] = {{.sd = sd, .fd = -1, .events = POLLIN},
				    {.sd = -1, .fd = pf[0], .events = POLLIN}};
	double t0 = now();
	CHECK(xport_poll(xp, p, 2, 150) == 0);
	CHECK(now() - t0 > 0.14);
	CHECK(write(pf[1], "x", 1) == 1);
	CHECK(xport_poll(xp, p, 2, 1000) == 1 && p[1].revents == POLLIN && p[0].revents == 0);
	xport_send(xp, sd, "z", 1, 0);
	char c;
	CHECK(read(pf[0], &c, 1) == 1);
	CHECK(xport_poll(xp, p, 2, 1000) == 1 && p[0].revents == POLLIN);
	p[0].sd = 999999;
	CHECK(xport_poll(xp, p, 1, 0) == 1 && p[0].revents == POLLNVAL);
	xport_close(xp, sd);
	close(pf[0]);
	close(pf[1]);
	printf("poll os done\n");
}

static void t_close_connecting(void)
{
	struct sockaddr_in a = sin_(7);
	for (int i = 0; i < 50; i++) {
		int sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
		CHECK(xport_close(xp, sd) == 0);
	}
	/* shutdown while connecting, then a new connect */
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ERRNO(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
	CHECK(xport_shutdown(xp, sd, SHUT_RDWR) == 0);
	xport_set_nonblock(xp, sd, 0);
	CHECK(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(xport_send(xp, sd, "q", 1, 0) == 1);
	char b[2];
	CHECK(xport_recv(xp, sd, b, 2, 0) == 1);
	/* AF_UNSPEC disconnect of a connected socket, reconnect */
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	CHECK(xport_connect(xp, sd, &un, sizeof(un)) == 0);
	ERRNO(xport_send(xp, sd, "q", 1, 0), EPIPE);
	CHECK(xport_connect(xp, sd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(xport_send(xp, sd, "r", 1, 0) == 1);
	CHECK(xport_recv(xp, sd, b, 2, 0) == 1 && b[0] == 'r');
	xport_close(xp, sd);
	usleep(200000);
	xport_process(xp);
	struct xport_stats st;
	xport_stats(xp, &st, sizeof(st));
	printf("close connecting done: sockets %u (the blackhole zombie may still wait)\n",
	       st.sockets);
	CHECK(st.sockets <= 1);
}

/* bind(), then connect(): the DPU's socket binds there first. */
static int bound_connect(const char *ip, int lport, int port, bool reuse)
{
	struct sockaddr_in l = sin_(lport), d = sin_(port);
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, ip, &l.sin_addr);
	if (reuse)
		xport_setsockopt(xp, sd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK(xport_bind(xp, sd, (struct sockaddr *)&l, sizeof(l)) == 0);
	if (xport_connect(xp, sd, (struct sockaddr *)&d, sizeof(d))) {
		int e = errno;

		xport_close(xp, sd);
		errno = e;
		return -1;
	}
	return sd;
}

static void t_bind_connect(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	char b[8];
	int sd, sd2;

	/* port 0: the DPU's address, a port chosen at connect */
	sd = bound_connect("198.18.0.1", 0, 7, false);
	CHECK(sd >= 0);
	CHECK(xport_getsockname(xp, sd, (struct sockaddr *)&a, &l) == 0 && a.sin_port != 0 &&
	      a.sin_addr.s_addr == inet_addr("198.18.0.1"));
	xport_close(xp, sd);
	/* a chosen port, seen by the DPU's socket, and the echo works */
	sd = bound_connect("198.18.0.1", 40123, 7, false);
	CHECK(sd >= 0);
	l = sizeof(a);
	CHECK(xport_getsockname(xp, sd, (struct sockaddr *)&a, &l) == 0 &&
	      a.sin_port == htons(40123));
	CHECK(xport_send(xp, sd, "bound", 5, 0) == 5);
	CHECK(xport_recv(xp, sd, b, 5, MSG_WAITALL) == 5 && !memcmp(b, "bound", 5));
	/* the same port again while it is held: EADDRINUSE from connect */
	errno = 0;
	sd2 = bound_connect("198.18.0.1", 40123, 7, false);
	CHECK(sd2 < 0 && errno == EADDRINUSE);
	xport_close(xp, sd);
	/* an address the DPU does not have */
	errno = 0;
	sd2 = bound_connect("198.18.0.77", 0, 7, false);
	CHECK(sd2 < 0 && errno == EADDRNOTAVAIL);
	printf("bind+connect done\n");
}

/* A short message and the FIN right behind it: the bytes, then EOF. */
static void t_greet_fin(void)
{
	struct timeval tv = {2, 0};
	int i, ok = 0;

	for (i = 0; i < 50; i++) {
		char b[16];
		int sd = conn(16, 0);

		xport_setsockopt(xp, sd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (xport_recv(xp, sd, b, 5, MSG_WAITALL) == 5 && !memcmp(b, "hello", 5) &&
		    xport_recv(xp, sd, b, sizeof(b), 0) == 0)
			ok++;
		xport_close(xp, sd);
		if (ok != i + 1)
			break; /* the FIN was lost: once is enough */
	}
	CHECK(ok == 50);
	printf("greet+fin done (%d/50)\n", ok);
}

static struct xport_stats stat_of(struct xport *q)
{
	struct xport_stats st;

	memset(&st, 0, sizeof(st));
	xport_stats(q, &st, sizeof(st));
	return st;
}

static uint64_t kicks_of(struct xport *q)
{
	return stat_of(q).kicks;
}

/* XPORT_OPT_BATCH on queue @queue: socket calls leave their frames for
 * one doorbell; xport_flush, xport_poll and a full kernel batch ring it. */
static void t_batch(unsigned queue)
{
	/* as a caller built against a newer xport.h passes it */
	struct {
		struct xport_opts o;
		uint64_t newer_field;
	} big;
	struct xport_opts o = {.sz = sizeof(o), .flags = 0x80};
	struct sockaddr_in a = sin_(7);
	struct xport *q = NULL;
	static char large[2000]; /* a frame of its own: two do not fit one */
	char buf[64], out[64 * 40];
	struct xport_stats f0, f1;
	uint64_t k0;
	int sd, i, got = 0;

	CHECK(xport_open(&q, "xh0", queue, &o) == -EINVAL); /* unknown flag */
	o.sz = 0;
	CHECK(xport_open(&q, "xh0", queue, &o) == -EINVAL); /* no size */
	/* a field this library does not know, set: refused, as libbpf does */
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.o.flags = XPORT_OPT_BATCH;
	big.newer_field = 1;
	CHECK(xport_open(&q, "xh0", queue, &big.o) == -EINVAL);
	big.newer_field = 0; /* zero: what an older library can honour */
	if (xport_open(&q, "xh0", queue, &big.o)) {
		CHECK(!"xport_open with XPORT_OPT_BATCH");
		return;
	}
	sd = xport_socket(q, AF_INET, SOCK_STREAM, 0);
	CHECK(sd >= 0 && xport_connect(q, sd, (struct sockaddr *)&a, sizeof(a)) == 0);
	memset(buf, 'b', sizeof(buf));
	k0 = kicks_of(q);
	CHECK(xport_send(q, sd, buf, sizeof(buf), 0) == sizeof(buf));
	CHECK(kicks_of(q) == k0); /* left on the ring */
	CHECK(xport_flush(q) == 0);
	CHECK(kicks_of(q) == k0 + 1);
	CHECK(xport_recv(q, sd, out, sizeof(buf), MSG_WAITALL) == sizeof(buf));
	/* a turn of an event loop: sends, then xport_poll rings once */
	k0 = kicks_of(q);
	for (i = 0; i < 8; i++)
		CHECK(xport_send(q, sd, buf, sizeof(buf), 0) == sizeof(buf));
	CHECK(kicks_of(q) == k0);
	{
		struct xport_pollfd p = {.sd = sd, .events = POLLIN};
		double t0 = now();

		while (got < 8 * (int)sizeof(buf) && now() - t0 < 3) {
			ssize_t r;

			if (xport_poll(q, &p, 1, 1000) <= 0)
				break;
			r = xport_recv(q, sd, out, sizeof(out), MSG_DONTWAIT);
			if (r > 0)
				got += (int)r;
		}
	}
	CHECK(got == 8 * (int)sizeof(buf));
	CHECK(kicks_of(q) >= k0 + 1);
	/* 40 small sends of one turn ride in two frames (bundles: 40 x 96
	 * bytes), and a kernel batch is not built up: the loop rings */
	k0 = kicks_of(q);
	f0 = stat_of(q);
	for (i = 0; i < 40; i++)
		CHECK(xport_send(q, sd, buf, sizeof(buf), 0) == sizeof(buf));
	CHECK(kicks_of(q) == k0);
	CHECK(xport_flush(q) == 0);
	f1 = stat_of(q);
	CHECK(f1.tx_frames - f0.tx_frames <= 3 && f1.tx_bundled - f0.tx_bundled >= 37);
	CHECK(xport_recv(q, sd, out, 40 * sizeof(buf), MSG_WAITALL) == 40 * sizeof(buf));
	/* a kernel batch (32 frames: sends too large to share one) does not
	 * wait for the loop */
	k0 = kicks_of(q);
	for (i = 0; i < 40; i++)
		CHECK(xport_send(q, sd, large, sizeof(large), 0) == sizeof(large));
	CHECK(kicks_of(q) >= k0 + 1);
	for (got = 0, i = 0; i < 40 * 4 && got < 40 * (int)sizeof(large); i++) {
		ssize_t r = xport_recv(q, sd, out, sizeof(out), 0);

		CHECK(r > 0);
		if (r <= 0)
			break;
		got += (int)r;
	}
	CHECK(got == 40 * (int)sizeof(large));
	CHECK(xport_close(q, sd) == 0);
	CHECK(xport_close_queue(q) == 0);
	printf("batch done\n");
}

int main(int argc, char **argv)
{
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0); /* a stuck check shows where */
	err = xport_open(&xp, "xh0", argc > 1 ? atoi(argv[1]) : 0, NULL);
	if (err) {
		printf("open: %s\n", strerror(-err));
		return 1;
	}
	t_unconnected();
	t_echo();
	t_nonblock_connect();
	t_opts();
	t_reset();
	t_source();
	t_sink_stall();
	t_close_unread();
	t_poll_os();
	t_close_connecting();
	t_many();
	t_sink();
	t_ready();
	t_close_stopped();
	t_greet_fin();
	t_bind_connect();
	t_batch(argc > 1 && atoi(argv[1]) == 0 ? 1 : 0);
	struct xport_stats st;
	xport_stats(xp, &st, sizeof(st));
	printf("stats: tx %lu rx %lu data_tx %lu data_rx %lu gaps %lu malformed %lu stale %lu "
	       "xsk_drop %lu ring_full %lu fill_empty %lu\n",
	       (unsigned long)st.tx_frames, (unsigned long)st.rx_frames,
	       (unsigned long)st.data_tx_bytes, (unsigned long)st.data_rx_bytes,
	       (unsigned long)st.seq_gaps, (unsigned long)st.rx_malformed,
	       (unsigned long)st.rx_stale, (unsigned long)st.xsk_rx_dropped,
	       (unsigned long)st.xsk_rx_ring_full, (unsigned long)st.xsk_fill_empty);
	for (int i = 0; i < 40 && st.sockets; i++) {
		usleep(100000);
		xport_process(xp);
		xport_stats(xp, &st, sizeof(st));
	}
	CHECK(st.sockets == 0);
	CHECK(xport_close_queue(xp) == 0);
	CHECK(xport_close_queue(NULL) == -EINVAL);
	printf("%s: %d failures\n", fails ? "FAILED" : "PASSED", fails);
	return !!fails;
}
