// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-listen-check - checks of bind/listen/accept over libxport, driven by
 * test_listen.sh.  Each command prints "ok: ..." lines and "PASS: CMD", or
 * "FAIL: ..." and exits 1.
 *
 *   conflict PORT         EADDRINUSE across queues and in one queue,
 *                         wildcard and v4/v6 overlap, V6ONLY
 *   api PORT              blocking, non-blocking and poll accept, peer
 *                         addresses (v4, v6, v4-mapped), getsockname,
 *                         port 0, accept4 SOCK_NONBLOCK, echo a line
 *   reuseport PORT N      queues 0 and 1 in one SO_REUSEPORT group; accept
 *                         N connections, print how many each queue took
 *   rebind PORT           accept one connection, close it and the
 *                         listener, listen on the port again at once
 *   listen-close Q PORT   listen on queue Q, accept one connection, close
 *
 * Connections come from the peer namespace (the shell runs the clients);
 * the driver prints "listening" when they may start.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xport.h"
#include "xts_proto.h" /* xts_addr_fmt */

#define IFNAME "xh0"

static struct xport *xq[4];

static void die(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static void ok(const char *fmt, ...)
{
	va_list ap;

	printf("ok: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static struct xport *q(unsigned i)
{
	if (!xq[i]) {
		int err = xport_open(&xq[i], IFNAME, i, NULL);

		if (err)
			die("xport_open queue %u: %s", i, strerror(-err));
	}
	return xq[i];
}

#define RP 0x1 /* SO_REUSEPORT */
#define RA 0x2 /* SO_REUSEADDR */
#define V6 0x4 /* IPV6_V6ONLY */

/* socket, options, bind, listen: the sd, or -errno of the first failure */
static int lsn(struct xport *xp, const char *addr, unsigned port, int opts)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fam = strchr(addr, ':') ? AF_INET6 : AF_INET, sd, err;

	memset(&ss, 0, sizeof(ss));
	if (fam == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &a->sin_addr);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		sl = sizeof(*a);
	}
	sd = xport_socket(xp, fam, SOCK_STREAM, 0);
	if (sd < 0)
		die("socket: %s", strerror(errno));
	if (((opts & RP) &&
	     xport_setsockopt(xp, sd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    ((opts & RA) &&
	     xport_setsockopt(xp, sd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
	    ((opts & V6) && xport_setsockopt(xp, sd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))))
		die("setsockopt: %s", strerror(errno));
	if (xport_bind(xp, sd, (struct sockaddr *)&ss, sl))
		die("bind %s:%u: %s", addr, port, strerror(errno));
	/* the group test's burst of connections must not depend on how fast
	 * this host accepts: room for all of them in the backlog */
	if (xport_listen(xp, sd, (opts & RP) ? 256 : 64)) {
		err = errno;
		xport_close(xp, sd);
		return -err;
	}
	return sd;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* lsn() on another queue right after a listener on the port closed: the
 * port is free once that queue's shard has taken the CLOSE, which close()
 * does not wait for (docs/design.md, "close never waits"), so EADDRINUSE
 * is retried for a while and the time it took printed. */
static int lsn_after_close(struct xport *xp, const char *addr, unsigned port, int opts)
{
	double t0 = now_ms();
	int sd, tries = 0;

	while ((sd = lsn(xp, addr, port, opts)) == -EADDRINUSE && now_ms() - t0 < 2000) {
		tries++;
		usleep(1000);
	}
	ok("port %u free on another queue %.1f ms after close (%d retries)", port, now_ms() - t0,
	   tries);
	return sd;
}

static void expect(int got, int want, const char *what)
{
	if (want == 0 && got < 0)
		die("%s: %s, want success", what, strerror(-got));
	if (want && got != -want)
		die("%s: %s, want %s", what, got < 0 ? strerror(-got) : "success", strerror(want));
	ok("%s: %s", what, want ? strerror(want) : "listening");
}

static void cmd_conflict(unsigned port)
{
	struct xport *a = q(0), *b = q(1);
	int l0, s;

	l0 = lsn(a, "0.0.0.0", port, RA);
	expect(l0, 0, "queue 0 listens on 0.0.0.0");
	expect(lsn(b, "0.0.0.0", port, RA), EADDRINUSE, "queue 1 on 0.0.0.0, same port");
	expect(lsn(a, "0.0.0.0", port, 0), EADDRINUSE, "queue 0, a second socket");
	expect(lsn(b, "198.18.0.1", port, 0), EADDRINUSE,
	       "queue 1 on 198.18.0.1 (wildcard overlap)");
	expect(lsn(b, "::", port, 0), EADDRINUSE, "queue 1 on [::] (takes IPv4 too)");
	expect(lsn(b, "0.0.0.0", port, RP), EADDRINUSE,
	       "queue 1 with SO_REUSEPORT, queue 0 without");
	s = lsn(b, "::", port, V6);
	expect(s, 0, "queue 1 on [::] with IPV6_V6ONLY");
	expect(lsn(a, "fd00:78:74::1", port, 0), EADDRINUSE, "queue 0 on fd00:78:74::1 under [::]");
	xport_close(b, s);
	xport_close(a, l0);
	s = lsn_after_close(b, "198.18.0.1", port, 0);
	expect(s, 0, "queue 1 on 198.18.0.1 after queue 0 closed");
	xport_close(b, s);
	printf("PASS: conflict\n");
}

static void addr_text(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len)
{
	struct xts_addr a;

	if (xts_addr_from_sockaddr(&a, sa, salen))
		memset(&a, 0, sizeof(a)); /* "-" */
	xts_addr_fmt(&a, buf, len);
}

/* accept on l, check the peer, echo one line back, close */
static void serve_one(struct xport *xp, int l, int flags, const char *want_peer, bool inherit)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[96], line[256];
	ssize_t n, got = 0;
	int sd;

	sd = xport_accept4(xp, l, (struct sockaddr *)&ss, &sl, flags);
	if (sd < 0)
		die("accept: %s", strerror(errno));
	addr_text((struct sockaddr *)&ss, sl, peer, sizeof(peer));
	if (strncmp(peer, want_peer, strlen(want_peer)))
		die("peer %s, want %s", peer, want_peer);
	if (flags & SOCK_NONBLOCK) {
		/* nothing sent yet by the client, so EAGAIN, not a wait */
		xport_set_nonblock(xp, sd, 0);
	}
	if (inherit) {
		/* read back from the DPU's accepted socket, not from libxport */
		int nd = 0, ka = 0, idle = 0;
		socklen_t vl = sizeof(int);

		if (xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_NODELAY, &nd, &vl) || !nd)
			die("accepted socket: TCP_NODELAY %d, the listener's was 1", nd);
		vl = sizeof(int);
		if (xport_getsockopt(xp, sd, SOL_SOCKET, SO_KEEPALIVE, &ka, &vl) || !ka)
			die("accepted socket: SO_KEEPALIVE %d, the listener's was 1", ka);
		vl = sizeof(int);
		if (xport_getsockopt(xp, sd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &vl) || idle != 77)
			die("accepted socket: TCP_KEEPIDLE %d, the listener's was 77", idle);
		ok("the DPU's accepted socket inherits TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE");
	}
	while (got < (ssize_t)sizeof(line) - 1) {
		n = xport_recv(xp, sd, line + got, sizeof(line) - 1 - (size_t)got, 0);
		if (n <= 0)
			die("recv: %s", n ? strerror(errno) : "EOF before a line");
		got += n;
		if (memchr(line, '\n', (size_t)got))
			break;
	}
	if (xport_send(xp, sd, line, (size_t)got, 0) != got)
		die("send: %s", strerror(errno));
	xport_close(xp, sd);
	ok("accepted from %s, echoed %zd bytes", peer, got);
}

static void cmd_api(unsigned port)
{
	struct xport *xp = q(0);
	struct xport_pollfd p;
	struct sockaddr_in6 a6;
	socklen_t sl = sizeof(a6);
	int l, l6, l0, v = 0;
	socklen_t vl = sizeof(v);

	l = lsn(xp, "198.18.0.1", port, RA);
	expect(l, 0, "listen on 198.18.0.1");
	{
		int one = 1, idle = 77;

		if (xport_setsockopt(xp, l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
		    xport_setsockopt(xp, l, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
		    xport_setsockopt(xp, l, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)))
			die("options on the listener: %s", strerror(errno));
	}
	if (xport_getsockopt(xp, l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) || v != 1)
		die("SO_ACCEPTCONN %d", v);
	l6 = lsn(xp, "fd00:78:74::1", port, 0);
	expect(l6, 0, "listen on fd00:78:74::1 (same port, another family)");
	l0 = lsn(xp, "::", 0, 0);
	expect(l0, 0, "listen on [::] port 0");
	if (xport_getsockname(xp, l0, (struct sockaddr *)&a6, &sl) || !a6.sin6_port)
		die("getsockname of a port-0 listener: no port");
	ok("port 0: the DPU picked %u", ntohs(a6.sin6_port));
	/* non-blocking accept with nothing queued */
	xport_set_nonblock(xp, l, 1);
	if (xport_accept(xp, l, NULL, NULL) != -1 || errno != EAGAIN)
		die("non-blocking accept with nothing queued: %s", strerror(errno));
	ok("non-blocking accept: EAGAIN");
	printf("listening %u\n", ntohs(a6.sin6_port));
	fflush(stdout);
	/* 1: poll says POLLIN, then a non-blocking accept4(SOCK_NONBLOCK) */
	p = (struct xport_pollfd){.sd = l, .fd = -1, .events = POLLIN};
	if (xport_poll(xp, &p, 1, 20000) != 1 || !(p.revents & POLLIN))
		die("poll on the listener: no POLLIN");
	ok("poll: POLLIN on the listener");
	serve_one(xp, l, SOCK_NONBLOCK, "198.18.0.2:", true);
	/* 2: blocking accept on the IPv6 listener */
	serve_one(xp, l6, 0, "[fd00:78:74::2]:", false);
	/* 3: an IPv4 client on the [::] listener: v4-mapped */
	serve_one(xp, l0, 0, "[::ffff:198.18.0.2]:", false);
	xport_close(xp, l);
	xport_close(xp, l6);
	xport_close(xp, l0);
	printf("PASS: api\n");
}

static void cmd_reuseport(unsigned port, unsigned n)
{
	struct xport *xp[2] = {q(0), q(1)};
	unsigned got[2] = {0, 0}, total = 0, i;
	int l[2];
	time_t end = time(NULL) + 90; /* generous: a loaded machine starts clients slowly */

	for (i = 0; i < 2; i++) {
		l[i] = lsn(xp[i], "0.0.0.0", port, RP | RA);
		expect(l[i], 0,
		       i ? "queue 1 joins the SO_REUSEPORT group"
			 : "queue 0 listens with SO_REUSEPORT");
		xport_set_nonblock(xp[i], l[i], 1);
	}
	expect(lsn(q(2), "0.0.0.0", port, RA), EADDRINUSE, "queue 2 without SO_REUSEPORT");
	printf("listening\n");
	fflush(stdout);
	while (total < n && time(NULL) < end) {
		bool any = false;

		for (i = 0; i < 2; i++) {
			int sd = xport_accept(xp[i], l[i], NULL, NULL);

			if (sd >= 0) {
				xport_close(xp[i], sd);
				got[i]++;
				total++;
				any = true;
			}
		}
		if (!any) {
			struct xport_pollfd p = {.sd = l[0], .fd = -1, .events = POLLIN};

			xport_poll(xp[0], &p, 1, 5);
		}
	}
	printf("queue 0: %u connections, queue 1: %u connections\n", got[0], got[1]);
	for (i = 0; total < n && i < 2; i++) { /* what the queues saw, to debug */
		struct xport_stats st;

		xport_stats(xp[i], &st, sizeof(st));
		printf("queue %u: rx_seq %u tx_seq %u peer_ack %u rx_stale %llu seq_gaps %llu\n", i,
		       st.rx_seq, st.tx_seq, st.peer_ack, (unsigned long long)st.rx_stale,
		       (unsigned long long)st.seq_gaps);
	}
	if (total < n)
		die("accepted %u of %u connections", total, n);
	if (!got[0] || !got[1])
		die("the group did not share: %u and %u", got[0], got[1]);
	xport_close(xp[0], l[0]);
	xport_close(xp[1], l[1]);
	printf("PASS: reuseport\n");
}

static void cmd_rebind(unsigned port)
{
	struct xport *xp = q(0);
	int l, i;

	l = lsn(xp, "0.0.0.0", port, RA);
	expect(l, 0, "listen");
	printf("listening\n");
	fflush(stdout);
	serve_one(xp, l, 0, "198.18.0.2:", false);
	/* the DPU closed first: its side of that connection is in TIME_WAIT */
	for (i = 0; i < 3; i++) {
		xport_close(xp, l);
		l = lsn(xp, "0.0.0.0", port, RA);
		expect(l, 0, "listen on the port again at once");
	}
	xport_close(xp, l);
	l = lsn_after_close(q(1), "0.0.0.0", port, RA);
	expect(l, 0, "listen on the port again, from queue 1");
	xport_close(q(1), l);
	l = lsn_after_close(xp, "0.0.0.0", port, RA);
	expect(l, 0, "and from queue 0 again");
	printf("listening\n");
	fflush(stdout);
	serve_one(xp, l, 0, "198.18.0.2:", false);
	xport_close(xp, l);
	printf("PASS: rebind\n");
}

static void cmd_listen_close(unsigned queue, unsigned port)
{
	struct xport *xp = q(queue);
	int l = lsn(xp, "0.0.0.0", port, RA);

	expect(l, 0, "listen");
	printf("listening\n");
	fflush(stdout);
	serve_one(xp, l, 0, "198.18.0.2:", false);
	xport_close(xp, l);
	ok("closed");
	printf("PASS: listen-close\n");
}

int main(int argc, char **argv)
{
	unsigned a = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
	unsigned b = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	unsigned i;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		die("usage: xts-listen-check CMD ARGS (see the source)");
	if (!strcmp(argv[1], "conflict"))
		cmd_conflict(a);
	else if (!strcmp(argv[1], "api"))
		cmd_api(a);
	else if (!strcmp(argv[1], "reuseport") && argc > 3)
		cmd_reuseport(a, b);
	else if (!strcmp(argv[1], "rebind"))
		cmd_rebind(a);
	else if (!strcmp(argv[1], "listen-close") && argc > 3)
		cmd_listen_close(a, b);
	else
		die("unknown command %s", argv[1]);
	for (i = 0; i < 4; i++)
		if (xq[i] && (err = xport_close_queue(xq[i])))
			die("xport_close_queue %u: %s", i, strerror(-err));
	return 0;
}
