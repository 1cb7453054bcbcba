// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-hold - N live connections on one queue, each a paced echo transfer
 * checked byte for byte: the load for the supervisor tests (kill a shard,
 * reload, drain while connections are in flight).
 *
 *   xts-hold [-i IF] -q QUEUE -n CONNS -s BYTES [-c CHUNK] [-p PACE_MS]
 *            [-T SECONDS] [-P] HOST PORT
 *
 * Every connection sends BYTES of its own pattern, CHUNK bytes (default
 * 1024) every PACE_MS ms (default 20), to an echo server and checks what
 * comes back.  Prints "xts-hold: N up" (flushed) once every connect has
 * an answer, then one summary line:
 *   xts-hold: queue Q: ok K failed F [ERRNAME=count ...] drained D
 * -P (probe): once the queue's shard says it drains, try one more connect
 * and add "probe=ERRNAME" (or "probe=ok") to the summary: a second
 * process cannot open the same queue, so the probe lives here.
 * Exit 0 when all N completed byte-exact, 1 otherwise, 2 on usage.
 * Every wait is bounded by -T (default 60 s).
 */
#define _GNU_SOURCE /* strerrorname_np */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xport.h"

#define MAX_CONNS 4096

struct hc {
	int sd;
	bool up, done;
	int err;
	size_t sent, rcvd;
	long long next_ms;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

/* One connect, waited for: 0 or its errno. */
static int probe_connect(struct xport *xp, const struct sockaddr_in *sin)
{
	int sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), e = 0;
	struct xport_pollfd p = {.sd = sd, .fd = -1, .events = POLLOUT};
	socklen_t l = sizeof(e);

	if (sd < 0)
		return errno;
	if (xport_connect(xp, sd, (const struct sockaddr *)sin, sizeof(*sin)) &&
	    errno != EINPROGRESS)
		e = errno;
	else if (xport_poll(xp, &p, 1, 5000) <= 0)
		e = ETIMEDOUT;
	else
		xport_getsockopt(xp, sd, SOL_SOCKET, SO_ERROR, &e, &l);
	xport_close(xp, sd);
	return e;
}

static unsigned char pat(unsigned i, size_t off)
{
	return (unsigned char)(i * 131u + off * 7u + (off >> 8));
}

int main(int argc, char **argv)
{
	const char *ifname = "xh0";
	unsigned q = 0, n = 0, i;
	size_t bytes = 0, chunk = 1024;
	int pace = 20, opt, errs[4096] = {0};
	double tmo = 60;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct xport *xp;
	struct hc *c;
	struct xport_pollfd *pfd;
	unsigned char *buf;
	long long deadline;
	bool said_up = false, probe = false;
	int probed = -1;
	unsigned ok = 0, failed = 0;

	while ((opt = getopt(argc, argv, "i:q:n:s:c:p:T:P")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			q = (unsigned)atoi(optarg);
			break;
		case 'n':
			n = (unsigned)atoi(optarg);
			break;
		case 's':
			bytes = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			chunk = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			pace = atoi(optarg);
			break;
		case 'T':
			tmo = atof(optarg);
			break;
		case 'P':
			probe = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind + 2 != argc || !n || n > MAX_CONNS || !bytes || !chunk || chunk > 65536 ||
	    inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
		goto usage;
	sin.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	c = calloc(n, sizeof(*c));
	pfd = calloc(n, sizeof(*pfd));
	buf = malloc(65536);
	if (!c || !pfd || !buf)
		return 1;
	if ((opt = xport_open(&xp, ifname, q, NULL))) {
		fprintf(stderr, "xts-hold: xport_open(%s, %u): %s\n", ifname, q, strerror(-opt));
		return 1;
	}
	deadline = now_ms() + (long long)(tmo * 1000);
	for (i = 0; i < n; i++) {
		c[i].sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (c[i].sd < 0 ||
		    (xport_connect(xp, c[i].sd, (struct sockaddr *)&sin, sizeof(sin)) &&
		     errno != EINPROGRESS)) {
			c[i].err = errno;
			c[i].done = true;
			failed++;
		}
	}
	for (;;) {
		unsigned np = 0, pending = 0, left = 0;
		long long now = now_ms();

		for (i = 0; i < n; i++) {
			struct hc *h = &c[i];

			if (h->done)
				continue;
			left++;
			if (!h->up)
				pending++;
			pfd[np] = (struct xport_pollfd){.sd = h->sd, .fd = -1, .events = POLLIN};
			if (!h->up || (h->sent < bytes && now >= h->next_ms))
				pfd[np].events |= POLLOUT;
			np++;
		}
		if (!said_up && !pending) {
			printf("xts-hold: %u up\n", n - failed);
			fflush(stdout);
			said_up = true;
		}
		if (!left || now > deadline)
			break;
		if (probe && probed < 0 && xport_queue_draining(xp))
			probed = probe_connect(xp, &sin);
		if (xport_poll(xp, pfd, np, pace > 0 ? pace : 1) < 0) {
			fprintf(stderr, "xts-hold: xport_poll: %s\n", strerror(errno));
			break;
		}
		for (unsigned k = 0; k < np; k++) {
			struct hc *h = NULL;
			short re = pfd[k].revents;
			ssize_t r;

			for (i = 0; i < n; i++)
				if (c[i].sd == pfd[k].sd && !c[i].done)
					h = &c[i];
			if (!h || !re)
				continue;
			i = (unsigned)(h - c);
			if (!h->up) {
				int e = 0;
				socklen_t l = sizeof(e);

				if (!(re & (POLLOUT | POLLERR | POLLHUP)))
					continue;
				xport_getsockopt(xp, h->sd, SOL_SOCKET, SO_ERROR, &e, &l);
				if (e) {
					h->err = e;
					h->done = true;
					failed++;
					continue;
				}
				h->up = true;
			}
			if ((re & POLLOUT) && h->sent < bytes && now >= h->next_ms) {
				size_t want = bytes - h->sent < chunk ? bytes - h->sent : chunk;

				for (size_t b = 0; b < want; b++)
					buf[b] = pat(i, h->sent + b);
				r = xport_send(xp, h->sd, buf, want, 0);
				if (r > 0) {
					h->sent += (size_t)r;
					h->next_ms = now + pace;
				} else if (r < 0 && errno != EAGAIN) {
					h->err = errno;
				}
			}
			if (!h->err && (re & (POLLIN | POLLERR | POLLHUP))) {
				r = xport_recv(xp, h->sd, buf, 65536, 0);
				if (r > 0) {
					for (ssize_t b = 0; b < r; b++)
						if (buf[b] != pat(i, h->rcvd + (size_t)b)) {
							h->err = EILSEQ;
							break;
						}
					h->rcvd += (size_t)r;
				} else if (r == 0) {
					h->err = h->rcvd == bytes ? 0 : EPIPE;
					if (!h->err)
						h->done = true;
				} else if (errno != EAGAIN) {
					h->err = errno;
				}
			}
			if (!h->err && h->rcvd == bytes && !h->done) {
				h->done = true; /* all echoed back */
			}
			if (h->err) {
				h->done = true;
				failed++;
			} else if (h->done) {
				ok++;
			}
			if (h->done)
				xport_close(xp, h->sd);
		}
	}
	for (i = 0; i < n; i++)
		if (!c[i].done) {
			c[i].err = ETIMEDOUT;
			failed++;
		}
	for (i = 0; i < n; i++)
		if (c[i].err && c[i].err < 4096)
			errs[c[i].err]++;
	printf("xts-hold: queue %u: ok %u failed %u", q, ok, failed);
	for (i = 1; i < 4096; i++)
		if (errs[i])
			printf(" %s=%d", strerrorname_np((int)i) ? strerrorname_np((int)i) : "?",
			       errs[i]);
	if (probed >= 0)
		printf(" probe=%s", probed ? strerrorname_np(probed) : "ok");
	printf(" draining %d\n", xport_queue_draining(xp));
	opt = xport_close_queue(xp);
	if (opt)
		fprintf(stderr, "xts-hold: xport_close_queue: %s\n", strerror(-opt));
	free(c);
	free(pfd);
	free(buf);
	return failed ? 1 : 0;
usage:
	fprintf(stderr, "usage: xts-hold [-i IF] -q QUEUE -n CONNS -s BYTES [-c CHUNK] "
			"[-p PACE_MS] [-T SECONDS] [-P] HOST PORT\n");
	return 2;
}
