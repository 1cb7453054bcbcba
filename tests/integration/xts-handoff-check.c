// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-handoff-check - the drain of a closing listener, driven by
 * test_lsn_handoff.sh: connections the DPU holds for a listener whose host
 * closes it go to a sibling listener of its reuseport group on another
 * queue (another shard), whole.  One process, two queues (two shards).
 *
 *   handoff PORT N   listener A on queue 1 (backlog 4); the shell's N
 *                    clients connect and send; on a line on stdin (the
 *                    shell saw them all accepted on the DPU), listener B
 *                    on queue 2 (same port, SO_REUSEPORT) and A closed:
 *                    B accepts all N (4 were offered to A's host and not
 *                    taken, the rest in A's kernel accept queue) and
 *                    echoes each stream to its end
 *   linger PORT N    the same, but A is closed first, with
 *                    XTS_LSN_SHARED (the socket open in another process),
 *                    and B listens only 500 ms later
 *   late PORT N      as linger, but B listens only 1,500 ms later, after
 *                    timeouts.handoff_ms (the shell sets it to 200): A's
 *                    shard gave up on a sibling and reset what it held,
 *                    and B accepts none of them in the next second
 *
 * Prints "listening" when the clients may start, "ok: ..." and "PASS: CMD",
 * or "FAIL: ..." and exits 1.  The clients check the bytes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xport.h"

#define IFNAME	"xh0"
#define BACKLOG 4

static void die(const char *what, int err)
{
	printf("FAIL: %s: %s\n", what, strerror(err));
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct xport *queue(unsigned q)
{
	struct xport *xp;
	int err = xport_open(&xp, IFNAME, q, NULL);

	if (err)
		die("xport_open", -err);
	return xp;
}

static int lsn(struct xport *xp, unsigned port, int backlog)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, sd = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (sd < 0 || xport_setsockopt(xp, sd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    xport_bind(xp, sd, (struct sockaddr *)&a, sizeof(a)) || xport_listen(xp, sd, backlog))
		die("listen", errno);
	return sd;
}

/* Run @a and @b (NULL: none) for @ms. */
static void run_for(struct xport *a, struct xport *b, double ms)
{
	double end = now_ms() + ms;

	while (now_ms() < end) {
		xport_process(a);
		if (b)
			xport_process(b);
		usleep(1000);
	}
}

/* Run @a and @b until a line on stdin says the clients are all there
 * (BACKLOG offered to A's host, the rest in A's kernel queue). */
static void wait_go(struct xport *a, struct xport *b)
{
	double end = now_ms() + 30000;
	char line[16];

	while (now_ms() < end) {
		struct pollfd p = {.fd = 0, .events = POLLIN};

		xport_process(a);
		xport_process(b);
		if (poll(&p, 1, 1) == 1) {
			if (!fgets(line, sizeof(line), stdin))
				die("stdin", EPIPE);
			return;
		}
	}
	die("no go on stdin", ETIMEDOUT);
}

/* Accept @n on @l of @xp within 10 s, then echo each to its end. */
static void accept_echo(struct xport *xp, struct xport *other, int l, int n)
{
	int c[256], got = 0;
	double end = now_ms() + 10000;

	while (got < n && now_ms() < end) {
		int sd = xport_accept4(xp, l, NULL, NULL, 0);

		if (sd >= 0) {
			c[got++] = sd;
			continue;
		}
		if (errno != EAGAIN)
			die("accept", errno);
		if (other)
			xport_process(other);
		xport_poll(xp, &(struct xport_pollfd){.sd = l, .events = POLLIN}, 1, 10);
	}
	if (got < n) {
		printf("FAIL: the sibling accepted %d of %d connections\n", got, n);
		exit(1);
	}
	printf("ok: the sibling accepted all %d connections\n", n);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		char buf[65536];
		ssize_t r;

		while ((r = xport_recv(xp, c[i], buf, sizeof(buf), 0)) != 0) {
			if (r < 0)
				die("recv", errno);
			for (ssize_t off = 0; off < r;) {
				ssize_t w = xport_send(xp, c[i], buf + off, (size_t)(r - off), 0);

				if (w < 0)
					die("send", errno);
				off += w;
			}
		}
		xport_close(xp, c[i]);
	}
	run_for(xp, NULL, 200); /* the last bytes and FINs out */
}

/* Nothing to accept on @l of @xp for 1 s: what A held was reset. */
static void accept_none(struct xport *xp, struct xport *other, int l)
{
	double end = now_ms() + 1000;

	while (now_ms() < end) {
		int sd = xport_accept4(xp, l, NULL, NULL, 0);

		if (sd >= 0) {
			printf("FAIL: the sibling accepted a connection after handoff_ms\n");
			exit(1);
		}
		if (errno != EAGAIN)
			die("accept", errno);
		xport_process(other);
		xport_poll(xp, &(struct xport_pollfd){.sd = l, .events = POLLIN}, 1, 10);
	}
	printf("ok: the sibling, listening after handoff_ms, accepted nothing\n");
}

int main(int argc, char **argv)
{
	struct xport *qa, *qb;
	int port, n, a, b, one = 1;
	bool linger, late;

	if (argc != 4 ||
	    (strcmp(argv[1], "handoff") && strcmp(argv[1], "linger") && strcmp(argv[1], "late")))
		return fprintf(stderr, "usage: %s handoff|linger|late PORT N\n", argv[0]), 2;
	late = !strcmp(argv[1], "late");
	linger = late || !strcmp(argv[1], "linger");
	port = atoi(argv[2]);
	n = atoi(argv[3]);
	if (n < 1 || n > 256)
		return fprintf(stderr, "N: 1 to 256\n"), 2;
	qa = queue(1);
	qb = queue(2);
	a = lsn(qa, (unsigned)port, BACKLOG);
	if (linger && xport_setsockopt(qa, a, SOL_XTS, XTS_LSN_SHARED, &one, sizeof(one)))
		die("XTS_LSN_SHARED", errno);
	printf("listening\n");
	fflush(stdout);
	wait_go(qa, qb); /* NEW_CONN for BACKLOG of them, not accepted */
	if (linger) {
		xport_close(qa, a);
		run_for(qa, qb, late ? 1500 : 500); /* no sibling yet: the DPU keeps them */
		b = lsn(qb, (unsigned)port, 64);
	} else {
		b = lsn(qb, (unsigned)port, 64);
		xport_close(qa, a);
	}
	if (late)
		accept_none(qb, qa, b);
	else
		accept_echo(qb, qa, b, n);
	xport_close(qb, b);
	xport_close_queue(qa);
	xport_close_queue(qb);
	printf("PASS: %s\n", argv[1]);
	return 0;
}
