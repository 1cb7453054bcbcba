// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-stream - byte streams through a shard to peers that read slowly or
 * never: the load for the shard's buffering, end-of-stream and closing
 * deadline tests.
 *
 *   xts-stream peer -p PORT [-r RCVBUF] [-c CHUNK] [-d DELAY_US] [-T SECS]
 *       (kernel TCP, the net side) accept one connection, read it CHUNK
 *       bytes (default 4096) at a time with DELAY_US between reads
 *       (default 1000), check every byte against the stream pattern, read
 *       to EOF, answer "N ok" (or "N bad AT") and close.  Prints the same
 *       line.  Exit 0 when every byte matched and EOF came, 1 otherwise
 *       (a pattern mismatch, no EOF within SECS, default 30).
 *   xts-stream stall -p PORT [-r RCVBUF]
 *       (kernel TCP) accept connections and never read them, until killed.
 *   xts-stream send [-i IF] -q Q -n BYTES [-b SNDBUF] [-T SECS] HOST PORT
 *       (XTS, the host side) send BYTES of the pattern, shutdown(SHUT_WR)
 *       at once (the shard may still hold bytes for the slow peer), then
 *       print the peer's answer, read to EOF.  Exit 0 when it says
 *       "BYTES ok".
 *   xts-stream orphan [-i IF] -q Q -n CONNS [-b SNDBUF] [-T SECS] HOST PORT
 *       (XTS) open CONNS connections, fill each until the peer's and the
 *       shard's buffers are full (no credit for 300 ms), close them all,
 *       then try a connect every 100 ms.  Prints the first try's result
 *       and "connect ok after MS ms".  Exit 0 once one connects.
 *   xts-stream listen [-i IF] -q Q -n N [-w FILE] PORT
 *       (XTS) listen on PORT, PORT+1, ... PORT+N-1, one line each:
 *       "listen P: ok" or "listen P: ERRNAME"; with -w, then wait until
 *       FILE exists and listen on one port more.  The listeners stay open
 *       until the end.  Exit 0 (the lines are the result).
 *
 * The pattern is position dependent (byte i of the stream is a hash of i),
 * so a byte lost, repeated, reordered or stale shows at its offset.
 * SNDBUF sets SO_SNDBUF on the DPU's socket, so that the shard, not the
 * DPU kernel, holds what the peer has not read.
 */
#define _GNU_SOURCE /* strerrorname_np */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xport.h"

#define PROG	  "xts-stream"
#define MAX_CONNS 1024

static unsigned char pat(uint64_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	return (unsigned char)((x >> 24) ^ (x >> 13) ^ (i >> 17));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static int die(const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
	return 1;
}

struct args {
	const char *ifname, *host;
	unsigned q, port, conns;
	size_t bytes, chunk;
	int rcvbuf, sndbuf, delay_us;
	double secs;
};

static int listen_on(const struct args *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* before listen: accepted sockets inherit it, and the window too */
	if (a->rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &a->rcvbuf, sizeof(a->rcvbuf)))
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 1024))
		return -1;
	return fd;
}

static int run_peer(const struct args *a)
{
	unsigned char *buf = malloc(a->chunk);
	uint64_t got = 0, bad = UINT64_MAX;
	long long last = now_ms();
	char line[64];
	int lfd, fd;

	if (!buf)
		return 1;
	if ((lfd = listen_on(a)) < 0)
		return die("listen");
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return die("accept");
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 200) == 0) {
			if (now_ms() - last > (long long)(a->secs * 1000)) {
				printf("%llu no-eof\n", (unsigned long long)got);
				return 1;
			}
			continue;
		}
		n = recv(fd, buf, a->chunk, 0);
		if (n < 0)
			return die("recv");
		if (n == 0)
			break;
		for (ssize_t k = 0; k < n && bad == UINT64_MAX; k++)
			if (buf[k] != pat(got + (uint64_t)k))
				bad = got + (uint64_t)k;
		got += (uint64_t)n;
		last = now_ms();
		if (a->delay_us)
			usleep((useconds_t)a->delay_us);
	}
	if (bad == UINT64_MAX)
		snprintf(line, sizeof(line), "%llu ok\n", (unsigned long long)got);
	else
		snprintf(line, sizeof(line), "%llu bad %llu\n", (unsigned long long)got,
			 (unsigned long long)bad);
	fputs(line, stdout);
	fflush(stdout); /* before the answer: the test reads both */
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
		return die("send answer");
	close(fd);
	return bad == UINT64_MAX ? 0 : 1;
}

static int run_stall(const struct args *a)
{
	int lfd = listen_on(a);

	if (lfd < 0)
		return die("listen");
	for (;;) /* hold every connection, read none */
		if (accept(lfd, NULL, NULL) < 0 && errno != EINTR && errno != ECONNABORTED)
			return die("accept");
}

static int xopen(const struct args *a, struct xport **xp)
{
	int err = xport_open(xp, a->ifname, a->q, NULL);

	if (err)
		fprintf(stderr, PROG ": xport_open(%s, %u): %s\n", a->ifname, a->q, strerror(-err));
	return err;
}

/* A socket connected to HOST PORT (non-blocking), or -1 with errno. */
static int xconnect(struct xport *xp, const struct args *a, int wait_ms)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), e = 0;
	struct xport_pollfd p = {.sd = sd, .fd = -1, .events = POLLOUT};
	socklen_t l = sizeof(e);

	if (sd < 0)
		return -1;
	inet_pton(AF_INET, a->host, &sin.sin_addr);
	if (a->sndbuf &&
	    xport_setsockopt(xp, sd, SOL_SOCKET, SO_SNDBUF, &a->sndbuf, sizeof(a->sndbuf)))
		e = errno;
	else if (xport_connect(xp, sd, (struct sockaddr *)&sin, sizeof(sin)) &&
		 errno != EINPROGRESS)
		e = errno;
	else if (xport_poll(xp, &p, 1, wait_ms) <= 0)
		e = ETIMEDOUT;
	else
		xport_getsockopt(xp, sd, SOL_SOCKET, SO_ERROR, &e, &l);
	if (e) {
		xport_close(xp, sd);
		errno = e;
		return -1;
	}
	return sd;
}

static int run_send(const struct args *a)
{
	unsigned char buf[65536];
	long long deadline = now_ms() + (long long)(a->secs * 1000);
	char ans[128];
	size_t sent = 0, alen = 0;
	struct xport *xp;
	int sd;

	if (xopen(a, &xp))
		return 1;
	if ((sd = xconnect(xp, a, 5000)) < 0)
		return die("connect");
	xport_set_nonblock(xp, sd, 0);
	while (sent < a->bytes) {
		size_t n = a->bytes - sent < sizeof(buf) ? a->bytes - sent : sizeof(buf);
		ssize_t r;

		for (size_t k = 0; k < n; k++)
			buf[k] = pat(sent + k);
		r = xport_send(xp, sd, buf, n, 0);
		if (r < 0)
			return die("send");
		sent += (size_t)r;
	}
	/* at once: the shard still holds bytes the slow peer has not read */
	if (xport_shutdown(xp, sd, SHUT_WR))
		return die("shutdown");
	xport_set_nonblock(xp, sd, 1);
	for (;;) {
		struct xport_pollfd p = {.sd = sd, .fd = -1, .events = POLLIN};
		ssize_t r;

		if (now_ms() > deadline) {
			fprintf(stderr, PROG ": no answer from the peer in %.0f s\n", a->secs);
			return 1;
		}
		xport_poll(xp, &p, 1, 200);
		r = xport_recv(xp, sd, ans + alen, sizeof(ans) - 1 - alen, 0);
		if (r == 0)
			break;
		if (r < 0 && errno != EAGAIN)
			return die("recv");
		if (r > 0)
			alen += (size_t)r;
	}
	ans[alen] = 0;
	printf("peer: %s", ans);
	xport_close(xp, sd);
	xport_close_queue(xp);
	snprintf((char *)buf, sizeof(buf), "%zu ok\n", a->bytes);
	return strcmp(ans, (char *)buf) ? 1 : 0;
}

/* Send until no credit came back for 300 ms: the peer's window, the DPU
 * kernel's buffer and the shard's buffer are full. */
static int fill(struct xport *xp, int sd)
{
	static unsigned char buf[16384];
	uint64_t off = 0;

	for (;;) {
		struct xport_pollfd p = {.sd = sd, .fd = -1, .events = POLLOUT};
		ssize_t r;

		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = pat(off + k);
		r = xport_send(xp, sd, buf, sizeof(buf), 0);
		if (r > 0) {
			off += (uint64_t)r;
			continue;
		}
		if (r < 0 && errno != EAGAIN)
			return -1;
		if (xport_poll(xp, &p, 1, 300) == 0)
			return 0;
	}
}

static int run_orphan(const struct args *a)
{
	static int sd[MAX_CONNS];
	long long t0, deadline;
	struct xport *xp;
	int first = -1, s;

	if (xopen(a, &xp))
		return 1;
	for (unsigned i = 0; i < a->conns; i++)
		if ((sd[i] = xconnect(xp, a, 5000)) < 0) {
			fprintf(stderr, PROG ": connect %u: %s\n", i, strerror(errno));
			return 1;
		}
	for (unsigned i = 0; i < a->conns; i++)
		if (fill(xp, sd[i]))
			return die("fill");
	for (unsigned i = 0; i < a->conns; i++)
		xport_close(xp, sd[i]);
	t0 = now_ms();
	deadline = t0 + (long long)(a->secs * 1000);
	for (;;) {
		s = xconnect(xp, a, 2000);
		if (first < 0) {
			first = s >= 0 ? 0 : errno;
			printf("first connect after close: %s\n",
			       first ? strerrorname_np(first) : "ok");
		}
		if (s >= 0)
			break;
		if (errno != ENOBUFS || now_ms() > deadline) {
			fprintf(stderr, PROG ": connect %lld ms after close: %s\n", now_ms() - t0,
				strerror(errno));
			return 1;
		}
		usleep(100000);
	}
	printf("connect ok after %lld ms\n", now_ms() - t0);
	fflush(stdout);
	xport_close(xp, s);
	xport_close_queue(xp);
	return 0;
}

static void try_listen(struct xport *xp, unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM, 0), e = 0;

	if (sd < 0 || xport_bind(xp, sd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    xport_listen(xp, sd, 16))
		e = errno;
	printf("listen %u: %s\n", port, e ? strerrorname_np(e) : "ok");
	fflush(stdout);
}

static int run_listen(const struct args *a, const char *wait_file)
{
	long long deadline = now_ms() + (long long)(a->secs * 1000);
	struct xport *xp;

	if (xopen(a, &xp))
		return 1;
	for (unsigned i = 0; i < a->conns; i++)
		try_listen(xp, a->port + i);
	if (!wait_file)
		return 0;
	while (access(wait_file, F_OK)) {
		if (now_ms() > deadline) {
			fprintf(stderr, PROG ": %s did not appear\n", wait_file);
			return 1;
		}
		xport_poll(xp, NULL, 0, 50);
	}
	try_listen(xp, a->port + a->conns);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = {.ifname = "xh0", .chunk = 4096, .delay_us = 1000, .secs = 30};
	const char *mode = argc > 1 ? argv[1] : "", *wait_file = NULL;
	int opt;

	optind = 2;
	while ((opt = getopt(argc, argv, "i:q:p:n:r:b:c:d:T:w:")) != -1) {
		switch (opt) {
		case 'i':
			a.ifname = optarg;
			break;
		case 'q':
			a.q = (unsigned)atoi(optarg);
			break;
		case 'p':
			a.port = (unsigned)atoi(optarg);
			break;
		case 'n':
			a.bytes = strtoull(optarg, NULL, 0);
			a.conns = (unsigned)a.bytes;
			break;
		case 'r':
			a.rcvbuf = atoi(optarg);
			break;
		case 'b':
			a.sndbuf = atoi(optarg);
			break;
		case 'c':
			a.chunk = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			a.delay_us = atoi(optarg);
			break;
		case 'T':
			a.secs = atof(optarg);
			break;
		case 'w':
			wait_file = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!strcmp(mode, "peer") && a.port && a.chunk)
		return run_peer(&a);
	if (!strcmp(mode, "stall") && a.port)
		return run_stall(&a);
	if (!strcmp(mode, "listen") && optind + 1 == argc && a.conns) {
		a.port = (unsigned)atoi(argv[optind]);
		return run_listen(&a, wait_file);
	}
	if (optind + 2 != argc)
		goto usage;
	a.host = argv[optind];
	a.port = (unsigned)atoi(argv[optind + 1]);
	if (!strcmp(mode, "send") && a.bytes)
		return run_send(&a);
	if (!strcmp(mode, "orphan") && a.conns && a.conns <= MAX_CONNS)
		return run_orphan(&a);
usage:
	fprintf(stderr, "usage: " PROG " peer|stall -p PORT [-r RCVBUF] [-c CHUNK] [-d DELAY_US]\n"
			"       " PROG " send|orphan [-i IF] -q Q -n BYTES|CONNS [-b SNDBUF] "
			"[-T SECS] HOST PORT\n"
			"       " PROG " listen [-i IF] -q Q -n N [-w FILE] PORT\n");
	return 2;
}
