// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-httpd - a small HTTP/1.1 server over XTS: the example of scaling a
 * host program across queues.
 *
 *   xts-httpd [-i IFNAME] [-n QUEUES] [-p PORT] [-s BODY_BYTES]
 *
 * One thread per queue 0..QUEUES-1, each with its own xport, each
 * listening on PORT with SO_REUSEPORT: every shard opens its own kernel
 * socket in the reuseport group and the DPU's kernel spreads connections
 * across them.  GET (any path) answers 200 with BODY_BYTES of body,
 * keep-alive unless the client says "Connection: close".  On SIGINT or
 * SIGTERM each thread prints "queue Q: N connections, M requests" and the
 * program exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xport.h"
#include "xts_version.h"

#define PROG	"xts-httpd"
#define MAX_CON 4096
#define REQ_MAX 8192

struct hconn {
	int sd;
	size_t rlen, woff, wlen;
	bool close_after;
	char rbuf[REQ_MAX];
	char *wbuf;
	size_t wcap;
};

struct worker {
	pthread_t th;
	unsigned queue;
	unsigned long conns, requests;
	int err;
};

static const char *ifname = "xh0";
static unsigned nqueues = 4, port = 8080;
static size_t body_len = 64;
static const char *tls_profile; /* -T: TLS terminated on the DPU */
static char *body;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int wbuf_add(struct hconn *c, const char *p, size_t n)
{
	if (c->wlen + n > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 4096;
		char *b;

		while (cap < c->wlen + n)
			cap *= 2;
		b = realloc(c->wbuf, cap);
		if (!b)
			return -1;
		c->wbuf = b;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	return 0;
}

/* Answer every complete request in rbuf.  -1: close the connection. */
static int serve(struct worker *w, struct hconn *c)
{
	char *end;

	while ((end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4))) {
		size_t used = (size_t)(end - c->rbuf) + 4;
		char hdr[256];
		int n;
		bool get = c->rlen >= 4 && !memcmp(c->rbuf, "GET ", 4);

		*end = 0;
		if (strcasestr(c->rbuf, "\nConnection: close"))
			c->close_after = true;
		if (get)
			n = snprintf(hdr, sizeof(hdr),
				     "HTTP/1.1 200 OK\r\nServer: " PROG "\r\n"
				     "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
				     body_len, c->close_after ? "Connection: close\r\n" : "");
		else
			n = snprintf(hdr, sizeof(hdr),
				     "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n"
				     "Connection: close\r\n\r\n");
		if (wbuf_add(c, hdr, (size_t)n) || (get && wbuf_add(c, body, body_len)))
			return -1;
		if (!get)
			c->close_after = true;
		w->requests++;
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
		if (c->close_after)
			break;
	}
	if (c->rlen == sizeof(c->rbuf))
		return -1; /* a request too large */
	return 0;
}

static void drop(struct xport *xp, struct hconn **tab, unsigned i, unsigned *n)
{
	xport_close(xp, tab[i]->sd);
	free(tab[i]->wbuf);
	free(tab[i]);
	tab[i] = tab[--*n];
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct xport_pollfd *p = calloc(MAX_CON + 1, sizeof(*p));
	struct hconn **tab = calloc(MAX_CON, sizeof(*tab));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct xport *xp;
	/* an xport_poll loop: one tx doorbell per turn is enough */
	struct xport_opts o = {.sz = sizeof(o), .flags = XPORT_OPT_BATCH};
	unsigned n = 0, i;
	int one = 1, ls, err;

	if (!p || !tab) {
		fprintf(stderr, PROG ": queue %u: %s\n", w->queue, strerror(ENOMEM));
		w->err = 1;
		goto out;
	}
	err = xport_open(&xp, ifname, w->queue, &o);
	if (err) {
		fprintf(stderr, PROG ": open %s queue %u: %s%s%s\n", ifname, w->queue,
			strerror(-err), xport_last_error() ? ": " : "",
			xport_last_error() ? xport_last_error() : "");
		w->err = 1;
		goto out;
	}
	ls = xport_socket(xp, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (ls < 0 || xport_setsockopt(xp, ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    xport_setsockopt(xp, ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (tls_profile && (xport_setsockopt(xp, ls, SOL_TCP, TCP_ULP, "tls", 4) ||
			     xport_setsockopt(xp, ls, SOL_XTS, XTS_TLS_PROFILE, tls_profile,
					      (socklen_t)strlen(tls_profile) + 1))) ||
	    xport_bind(xp, ls, (struct sockaddr *)&a, sizeof(a)) || xport_listen(xp, ls, 1024)) {
		fprintf(stderr, PROG ": listen on port %u (queue %u): %s\n", port, w->queue,
			strerror(errno));
		w->err = 1;
		xport_close_queue(xp);
		goto out;
	}
	printf("queue %u: listening on port %u\n", w->queue, port);
	fflush(stdout);
	while (!stop) {
		int r;

		p[0] = (struct xport_pollfd){.sd = ls, .fd = -1, .events = POLLIN};
		for (i = 0; i < n; i++)
			p[i + 1] = (struct xport_pollfd){
			    .sd = tab[i]->sd,
			    .fd = -1,
			    .events = (short)(tab[i]->wlen > tab[i]->woff ? POLLOUT : POLLIN)};
		r = xport_poll(xp, p, n + 1, 200);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": poll (queue %u): %s\n", w->queue, strerror(errno));
			w->err = 1;
			break;
		}
		/* connections first: p[] is indexed by the table as it was */
		for (i = n; i-- > 0;) {
			struct hconn *c = tab[i];
			short rev = p[i + 1].revents;
			ssize_t k;

			if (!rev)
				continue;
			if (c->wlen > c->woff) {
				k = xport_send(xp, c->sd, c->wbuf + c->woff, c->wlen - c->woff,
					       MSG_NOSIGNAL);
				if (k < 0 && errno != EAGAIN) {
					drop(xp, tab, i, &n);
					continue;
				}
				if (k > 0)
					c->woff += (size_t)k;
				if (c->woff == c->wlen) {
					c->woff = c->wlen = 0;
					if (c->close_after) {
						drop(xp, tab, i, &n);
						continue;
					}
				}
				continue;
			}
			k = xport_recv(xp, c->sd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
			if (k == 0 || (k < 0 && errno != EAGAIN)) {
				drop(xp, tab, i, &n);
				continue;
			}
			if (k < 0)
				continue;
			c->rlen += (size_t)k;
			if (serve(w, c)) {
				drop(xp, tab, i, &n);
				continue;
			}
			/* answer at once: most responses go in one send */
			if (c->wlen) {
				k = xport_send(xp, c->sd, c->wbuf, c->wlen, MSG_NOSIGNAL);
				if (k > 0)
					c->woff = (size_t)k;
				if (c->woff == c->wlen) {
					c->woff = c->wlen = 0;
					if (c->close_after)
						drop(xp, tab, i, &n);
				}
			}
		}
		while (p[0].revents & POLLIN) {
			struct hconn *c;
			int sd;

			if (n == MAX_CON)
				break;
			sd = xport_accept4(xp, ls, NULL, NULL, SOCK_NONBLOCK);
			if (sd < 0)
				break;
			c = calloc(1, sizeof(*c));
			if (!c) {
				xport_close(xp, sd);
				break;
			}
			c->sd = sd;
			tab[n++] = c;
			w->conns++;
		}
	}
	while (n)
		drop(xp, tab, n - 1, &n);
	xport_close(xp, ls);
	err = xport_close_queue(xp);
	if (err)
		fprintf(stderr, PROG ": closing queue %u: %s\n", w->queue, strerror(-err));
out:
	free(p);
	free(tab);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-i IFNAME] [-n QUEUES] [-p PORT] [-s BODY_BYTES] [-T PROFILE]\n"
		"\n"
		"HTTP/1.1 over XTS: one thread per queue 0..QUEUES-1, all listening on\n"
		"PORT with SO_REUSEPORT, answering every GET with BODY_BYTES bytes.\n"
		"\n"
		"  -i, --interface IFNAME  host interface of the XTS queues (default xh0)\n"
		"  -n, --queues QUEUES     queues, one thread each (1..256, default 4)\n"
		"  -p, --port PORT         port to listen on (default 8080)\n"
		"  -s, --body-bytes N      body of every response (default 64)\n"
		"  -T, --tls PROFILE       clients speak HTTPS: the DPU terminates TLS\n"
		"                          with this profile of its xts.conf, this\n"
		"                          program serves plaintext and holds no key\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version and exit\n"
		"\n"
		"Runs until SIGINT or SIGTERM, then prints each queue's counts.  Exit\n"
		"status: 0, 1 on an error, 2 on a usage error.\n");
}

static int num(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *e;

	errno = 0;
	*out = strtoul(s, &e, 10);
	return errno || *e || !*s || *out < lo || *out > hi ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct worker *w;
	unsigned long v;
	unsigned q;
	int c, rc = 0;
	struct sigaction sa = {.sa_handler = on_stop};
	static const struct option lopts[] = {
	    {"interface", required_argument, NULL, 'i'},
	    {"queues", required_argument, NULL, 'n'},
	    {"port", required_argument, NULL, 'p'},
	    {"body-bytes", required_argument, NULL, 's'},
	    {"tls", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};

	while ((c = getopt_long(argc, argv, "i:n:p:s:T:hV", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			ifname = optarg;
			break;
		case 'n':
			if (num(optarg, 1, 256, &v))
				goto bad;
			nqueues = (unsigned)v;
			break;
		case 'p':
			if (num(optarg, 1, 65535, &v))
				goto bad;
			port = (unsigned)v;
			break;
		case 's':
			if (num(optarg, 0, 64u << 20, &v))
				goto bad;
			body_len = v;
			break;
		case 'T':
			tls_profile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " %s\n", XTS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc)
		goto bad;
	body = malloc(body_len + 1);
	w = calloc(nqueues, sizeof(*w));
	if (!body || !w)
		return 1;
	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)('a' + i % 26);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (q = 0; q < nqueues; q++) {
		w[q].queue = q;
		if (pthread_create(&w[q].th, NULL, worker_main, &w[q])) {
			fprintf(stderr, PROG ": thread: %s\n", strerror(errno));
			return 1;
		}
	}
	for (q = 0; q < nqueues; q++) {
		pthread_join(w[q].th, NULL);
		printf("queue %u: %lu connections, %lu requests\n", q, w[q].conns, w[q].requests);
		rc |= w[q].err;
	}
	fflush(stdout);
	free(w);
	free(body);
	return rc;
bad:
	usage(stderr);
	return 2;
}
