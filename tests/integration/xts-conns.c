// SPDX-License-Identifier: BSD-2-Clause
/*
 * xts-conns - many-connection and fairness checks over libxport.
 *
 *   xts-conns echo [-i IF] [-T S] [-R] -Q QUEUES -n CONNS -s BYTES HOST PORT
 *	QUEUES threads, one xport each (thread t on queue t), CONNS
 *	non-blocking connections in all to an echo server; every connection
 *	sends BYTES of its own pattern and checks the echo byte for byte.
 *
 *   xts-conns idle [-i IF] [-T S] [-R] -q QUEUE -n CONNS [-H S] HOST PORT
 *	CONNS connections to redis-server on one queue: PING/+PONG on each,
 *	hold them all for -H seconds (default 5) while polling, PING again.
 *	Prints "xts-conns idle: N connections up" when the first round is
 *	done, so that a test can look at the shard while they are held.
 *
 *   xts-conns fair [-i IF] [-T S] -q QUEUE -t S [-r RATIO] [-S STATS_CMD] HOST PORT
 *	Against a server that streams endless bytes: connection A is read
 *	for -t seconds alone, then with a second connection B on the same
 *	queue that is never read, then alone again (B still unread).  B must
 *	stall at its receive credit and resume once read, and A must not
 *	stall with it: no gap of more than 1 s without a byte while B is
 *	stalled, and A's rate then >= RATIO (default 0.3) of its mean rate
 *	alone.  A head-of-line stall takes that ratio to about 0; with no
 *	stall, 2 s windows on a shared 2-core VM measured 0.6 to 1.6, so a
 *	tighter ratio tests the machine, not the shard.
 *
 * A non-blocking connect must answer EINPROGRESS (or succeed), as Linux
 * TCP does: any other errno fails the connection.  -R tolerates EAGAIN,
 * which Linux gives TCP only when it is out of routing-cache entries, by
 * retrying the connect later, and counts the retries in the summary.
 *
 * Exit 0 when every check passed (one summary line), 1 otherwise with
 * "xts-conns: ..." lines saying why, 2 on bad usage.  Every wait is bounded
 * by the overall deadline -T (default 120 s).
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stats_cmd.h"
#include "xport.h"

#define MAX_ERR_LINES  20	    /* per run: a broken queue must not flood */
#define IO_CHUNK       (64 * 1024)  /* per send/recv call */
#define IDLE_INFLIGHT  512	    /* connects in progress at once (idle) */
#define DEFAULT_RCVBUF (256 * 1024) /* xport_opts.rcvbuf default, see xport.h */

struct cfg {
	const char *ifname;
	double timeout_s;
	unsigned queues, queue, conns;
	bool queue_set, retry_eagain;
	uint64_t bytes;
	double hold_s, phase_s, min_ratio, max_gap_ms;
	const char *shard_stats;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

static double deadline; /* CLOCK_MONOTONIC seconds; set once before threads */
static atomic_uint err_lines;
static atomic_uint eagain_retries; /* connects that said EAGAIN, with -R */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds to wait: at most @cap_ms, never past @until nor the
 * overall deadline; 0 once either has passed. */
static int wait_ms(double until, int cap_ms)
{
	double left = (until < deadline ? until : deadline) - now_s();

	if (left <= 0)
		return 0;
	if (left * 1000 < cap_ms)
		return (int)(left * 1000) + 1;
	return cap_ms;
}

static void __attribute__((format(printf, 1, 0))) verr(const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "xts-conns: %s\n", line); /* one write: threads don't interleave */
}

static void __attribute__((format(printf, 1, 2))) err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(fmt, ap);
	va_end(ap);
}

/* One connection's failure: counted, so that 10,000 failing connections
 * print a sample and the summary after it stays readable. */
static void __attribute__((format(printf, 1, 2))) conn_err(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&err_lines, 1) >= MAX_ERR_LINES)
		return;
	va_start(ap, fmt);
	verr(fmt, ap);
	va_end(ap);
}

/* Connect failures by errno, for the summary: one cause of 900 failures
 * reads better as one line than as a sample of 20. */
#define ERRNO_SLOTS 256
static atomic_uint connect_errnos[ERRNO_SLOTS];

static void count_connect_errno(int e)
{
	atomic_fetch_add(&connect_errnos[e > 0 && e < ERRNO_SLOTS ? e : 0], 1);
}

/* "; connect errors: EAGAIN x147, ..." or "". */
static const char *connect_errno_note(void)
{
	static char note[256];
	size_t off = 0;

	note[0] = 0;
	for (int e = 0; e < ERRNO_SLOTS; e++) {
		unsigned n = atomic_load(&connect_errnos[e]);
		const char *name = e ? strerrorname_np(e) : "other";

		if (!n || off >= sizeof(note) - 1)
			continue;
		off += (size_t)snprintf(note + off, sizeof(note) - off, "%s %s x%u",
					off ? "," : "; connect errors:", name ? name : "?", n);
	}
	return note;
}

/* " (N more connection errors not shown)" for a failure summary. */
static const char *suppressed_note(void)
{
	static char note[64];
	unsigned n = atomic_load(&err_lines);

	if (n <= MAX_ERR_LINES)
		return "";
	snprintf(note, sizeof(note), " (%u more connection errors not shown)", n - MAX_ERR_LINES);
	return note;
}

static long rss_kib(void)
{
	long size, rss;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- the echo pattern ----------------------------------------------------
 * Byte p of connection c comes from a counter-based generator (splitmix64
 * of c and p/8) rather than a running xorshift: any position can be made
 * from scratch, so a partial send or a short read needs no generator state
 * and nothing sent has to be stored. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void pattern(uint32_t conn, uint64_t pos, uint8_t *buf, size_t len)
{
	uint64_t seed = ((uint64_t)conn + 1) * 0x9e3779b97f4a7c15ull;

	while (len) {
		uint64_t v = mix64(seed + (pos >> 3));
		unsigned off = (unsigned)(pos & 7);
		size_t n = 8 - off < len ? 8 - off : len;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)(v >> (8 * (off + i)));
		buf += n;
		pos += n;
		len -= n;
	}
}

/* ", N connects retried after EAGAIN" for a summary line, when -R was used. */
static const char *retries_note(void)
{
	static char note[64];
	unsigned n = atomic_load(&eagain_retries);

	if (!n)
		return "";
	snprintf(note, sizeof(note), ", %u connects retried after EAGAIN (-R)", n);
	return note;
}

/* ---- helpers on one socket ----------------------------------------------- */

static int sock_error(struct xport *xp, int sd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (xport_getsockopt(xp, sd, SOL_SOCKET, SO_ERROR, &e, &len))
		return errno;
	return e;
}

/* Non-blocking socket with its connect started: sd, or -1 with errno. */
static int start_connect(struct xport *xp, const struct cfg *c)
{
	int sd = xport_socket(xp, c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (sd < 0)
		return -1;
	if (xport_connect(xp, sd, (const struct sockaddr *)&c->addr, c->addrlen) &&
	    errno != EINPROGRESS) {
		int e = errno;

		xport_close(xp, sd);
		errno = e;
		return -1;
	}
	return sd;
}

/* Wait for @events on one socket: revents, 0 when the wait timed out
 * (at @until or the deadline), -1 with errno if xport_poll failed. */
static int wait_one(struct xport *xp, int sd, short events, double until)
{
	for (;;) {
		struct xport_pollfd p = {.sd = sd, .fd = -1, .events = events};
		int ms = wait_ms(until, 200), r;

		r = xport_poll(xp, &p, 1, ms);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && p.revents)
			return p.revents;
		if (!ms)
			return 0;
	}
}

/* Connect one non-blocking socket and wait for the result: sd or -1. */
static int connect_wait(struct xport *xp, const struct cfg *c, const char *who)
{
	int sd = start_connect(xp, c), r, e;

	if (sd < 0) {
		err("%s: connect: %s", who, strerror(errno));
		return -1;
	}
	r = wait_one(xp, sd, POLLOUT, deadline);
	if (r <= 0) {
		err("%s: connect: %s", who, r ? strerror(errno) : "timed out");
		goto fail;
	}
	e = sock_error(xp, sd);
	if (e) {
		err("%s: connect: %s", who, strerror(e));
		goto fail;
	}
	return sd;
fail:
	xport_close(xp, sd);
	return -1;
}

/* ---- echo ---------------------------------------------------------------- */

enum { E_WAIT, E_CONNECTING, E_RUN, E_DONE, E_FAILED };

struct econn {
	int sd;
	uint8_t state;
	uint64_t tx, rx; /* bytes sent, bytes echoed and checked */
};

struct ethread {
	pthread_t th;
	const struct cfg *c;
	unsigned queue, first, n; /* connections first .. first+n-1 */
	unsigned ok, failed;
	uint64_t bytes;
	int open_err;
};

static void econn_fail(struct xport *xp, struct ethread *t, struct econn *e, unsigned id,
		       const char *what)
{
	conn_err("connection %u (queue %u): %s (%" PRIu64 " sent, %" PRIu64 " echoed)", id,
		 t->queue, what, e->tx, e->rx);
	if (e->sd >= 0)
		xport_close(xp, e->sd);
	e->sd = -1;
	e->state = E_FAILED;
	t->failed++;
}

/* Move one connection as far as it goes without blocking. */
static void echo_step(struct xport *xp, struct ethread *t, struct econn *e, uint32_t id,
		      short revents, uint8_t *txb, uint8_t *rxb, uint8_t *want)
{
	uint64_t total = t->c->bytes;
	ssize_t n;

	if (e->state == E_CONNECTING) {
		int error;

		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		error = sock_error(xp, e->sd);
		if (error) {
			count_connect_errno(error);
			conn_err("connection %u (queue %u): connect: %s", id, t->queue,
				 strerror(error));
			goto fail;
		}
		e->state = E_RUN;
	}
	/* Send until the credit runs out (EAGAIN): partial sends just advance. */
	while (e->tx < total) {
		size_t len = total - e->tx < IO_CHUNK ? (size_t)(total - e->tx) : IO_CHUNK;

		pattern(id, e->tx, txb, len);
		n = xport_send(xp, e->sd, txb, len, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_err("connection %u (queue %u): send at %" PRIu64 ": %s", id, t->queue,
				 e->tx, strerror(errno));
			goto fail;
		}
		if (n == 0 || (size_t)n > len) {
			conn_err("connection %u (queue %u): send returned %zd of %zu", id, t->queue,
				 n, len);
			goto fail;
		}
		e->tx += (uint64_t)n;
	}
	/* Read no further than BYTES: anything after it is not ours to judge. */
	while (e->rx < total) {
		size_t len = total - e->rx < IO_CHUNK ? (size_t)(total - e->rx) : IO_CHUNK;

		n = xport_recv(xp, e->sd, rxb, len, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_err("connection %u (queue %u): recv at %" PRIu64 ": %s", id, t->queue,
				 e->rx, strerror(errno));
			goto fail;
		}
		if (n == 0) {
			conn_err("connection %u (queue %u): EOF after %" PRIu64 " of %" PRIu64
				 " bytes echoed",
				 id, t->queue, e->rx, total);
			goto fail;
		}
		if ((size_t)n > len || e->rx + (uint64_t)n > e->tx) {
			conn_err("connection %u (queue %u): received %zd bytes at %" PRIu64
				 " but sent only %" PRIu64,
				 id, t->queue, n, e->rx, e->tx);
			goto fail;
		}
		pattern(id, e->rx, want, (size_t)n);
		if (memcmp(want, rxb, (size_t)n)) {
			size_t i = 0;

			while (want[i] == rxb[i])
				i++;
			conn_err("connection %u (queue %u): byte %" PRIu64
				 " is 0x%02x, sent 0x%02x",
				 id, t->queue, e->rx + i, rxb[i], want[i]);
			goto fail;
		}
		e->rx += (uint64_t)n;
	}
	if (e->rx == total) {
		if (xport_close(xp, e->sd)) {
			conn_err("connection %u (queue %u): close: %s", id, t->queue,
				 strerror(errno));
			e->sd = -1;
			goto fail;
		}
		e->sd = -1;
		e->state = E_DONE;
		t->ok++;
		t->bytes += total;
	}
	return;
fail:
	if (e->sd >= 0)
		xport_close(xp, e->sd);
	e->sd = -1;
	e->state = E_FAILED;
	t->failed++;
}

static void *echo_thread(void *arg)
{
	struct ethread *t = arg;
	const struct cfg *c = t->c;
	struct xport *xp = NULL;
	struct econn *conns = calloc(t->n ? t->n : 1, sizeof(*conns));
	struct xport_pollfd *pfd = calloc(t->n ? t->n : 1, sizeof(*pfd));
	unsigned *idx = calloc(t->n ? t->n : 1, sizeof(*idx));
	uint8_t *txb = malloc(IO_CHUNK), *rxb = malloc(IO_CHUNK), *want = malloc(IO_CHUNK);
	unsigned i, live, waiting = t->n;
	int cq;

	if (!conns || !pfd || !idx || !txb || !rxb || !want) {
		err("queue %u: out of memory", t->queue);
		t->failed = t->n;
		goto out;
	}
	t->open_err = xport_open(&xp, c->ifname, t->queue, NULL);
	if (t->open_err) {
		err("xport_open %s queue %u: %s", c->ifname, t->queue, strerror(-t->open_err));
		t->failed = t->n;
		goto out;
	}
	for (i = 0; i < t->n; i++)
		conns[i].sd = -1; /* E_WAIT */
	for (;;) {
		unsigned np = 0;
		int ms, r;

		/* All connects at once; with -R the ones refused with EAGAIN
		 * stay waiting and are tried again after the next poll. */
		for (i = 0; i < t->n && waiting; i++) {
			struct econn *e = &conns[i];

			if (e->state != E_WAIT)
				continue;
			e->sd = start_connect(xp, c);
			if (e->sd < 0 && errno == EAGAIN && c->retry_eagain) {
				atomic_fetch_add(&eagain_retries, 1);
				break;
			}
			waiting--;
			if (e->sd < 0) {
				count_connect_errno(errno);
				conn_err("connection %u (queue %u): connect: %s", t->first + i,
					 t->queue, strerror(errno));
				e->state = E_FAILED;
				t->failed++;
				continue;
			}
			e->state = E_CONNECTING;
		}
		for (i = 0; i < t->n; i++) {
			struct econn *e = &conns[i];

			if (e->state != E_CONNECTING && e->state != E_RUN)
				continue;
			pfd[np] = (struct xport_pollfd){.sd = e->sd, .fd = -1};
			pfd[np].events = e->state == E_CONNECTING
					     ? POLLOUT
					     : (short)(POLLIN | (e->tx < c->bytes ? POLLOUT : 0));
			idx[np++] = i;
		}
		live = np;
		if (!live && !waiting)
			break;
		ms = wait_ms(deadline, waiting ? 10 : 1000);
		if (!ms) {
			for (i = 0; i < np; i++)
				econn_fail(xp, t, &conns[idx[i]], t->first + idx[i],
					   conns[idx[i]].state == E_CONNECTING
					       ? "timed out connecting"
					       : "timed out");
			for (i = 0; i < t->n; i++)
				if (conns[i].state == E_WAIT)
					econn_fail(xp, t, &conns[i], t->first + i,
						   "timed out before its connect was taken");
			break;
		}
		r = xport_poll(xp, pfd, np, ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err("queue %u: xport_poll: %s", t->queue, strerror(errno));
			for (i = 0; i < t->n; i++)
				if (conns[i].state <= E_RUN)
					econn_fail(xp, t, &conns[i], t->first + i, "abandoned");
			break;
		}
		for (i = 0; i < np && r > 0; i++) {
			if (!pfd[i].revents)
				continue;
			r--;
			echo_step(xp, t, &conns[idx[i]], t->first + idx[i], pfd[i].revents, txb,
				  rxb, want);
		}
	}
out:
	if (xp && (cq = xport_close_queue(xp)))
		err("queue %u: xport_close_queue: %s", t->queue, strerror(-cq));
	free(conns);
	free(pfd);
	free(idx);
	free(txb);
	free(rxb);
	free(want);
	return NULL;
}

static int cmd_echo(const struct cfg *c)
{
	struct ethread *t = calloc(c->queues, sizeof(*t));
	unsigned q, first = 0, ok = 0, failed = 0;
	uint64_t bytes = 0;
	double t0, t1;

	if (!t) {
		err("out of memory");
		return 1;
	}
	t0 = now_s();
	for (q = 0; q < c->queues; q++) {
		t[q].c = c;
		t[q].queue = q;
		t[q].first = first;
		t[q].n = c->conns / c->queues + (q < c->conns % c->queues);
		first += t[q].n;
		if (pthread_create(&t[q].th, NULL, echo_thread, &t[q])) {
			err("pthread_create: %s", strerror(errno));
			/* The threads already started still need joining. */
			c = NULL;
			break;
		}
	}
	for (unsigned j = 0; j < q; j++) {
		pthread_join(t[j].th, NULL);
		ok += t[j].ok;
		failed += t[j].failed;
		bytes += t[j].bytes;
	}
	t1 = now_s();
	free(t);
	if (!c)
		return 1;
	if (ok != c->conns || failed) {
		err("echo: %u of %u connections ok, %u failed (%.2f s)%s%s", ok, c->conns, failed,
		    t1 - t0, connect_errno_note(), suppressed_note());
		return 1;
	}
	printf("xts-conns echo: %u/%u connections ok, 0 failed, %" PRIu64
	       " bytes echoed each way in %.2f s (%.1f MB/s each way) over %u queues%s\n",
	       ok, c->conns, bytes, t1 - t0, (double)bytes / (t1 - t0) / 1e6, c->queues,
	       retries_note());
	return 0;
}

/* ---- idle ---------------------------------------------------------------- */

enum { I_WAIT, I_CONNECTING, I_PING, I_PONG, I_IDLE, I_FAILED };

static const char ping_msg[] = "PING\r\n", pong_msg[] = "+PONG\r\n";
#define PING_LEN (sizeof(ping_msg) - 1)
#define PONG_LEN (sizeof(pong_msg) - 1)

struct iconn {
	int sd;
	uint8_t state;
	uint8_t off; /* bytes of PING sent, or of +PONG received */
};

struct idle {
	const struct cfg *c;
	struct xport *xp;
	struct iconn *conns;
	struct xport_pollfd *pfd;
	unsigned *idx;
	unsigned failed;
};

static void iconn_fail(struct idle *s, unsigned i, const char *what, int error)
{
	struct iconn *e = &s->conns[i];
	static const char *const names[] = {"waiting",	      "connecting", "sending PING",
					    "awaiting +PONG", "idle",	    "failed"};

	if (!strcmp(what, "connect"))
		count_connect_errno(error);
	conn_err("connection %u (%s): %s%s%s", i, names[e->state], what, error ? ": " : "",
		 error ? strerror(error) : "");
	if (e->sd >= 0)
		xport_close(s->xp, e->sd);
	e->sd = -1;
	e->state = I_FAILED;
	s->failed++;
}

static void idle_step(struct idle *s, unsigned i, short revents, unsigned *inflight)
{
	struct iconn *e = &s->conns[i];
	char buf[PONG_LEN];
	ssize_t n;

	if (e->state == I_CONNECTING) {
		int error;

		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		(*inflight)--;
		error = sock_error(s->xp, e->sd);
		if (error) {
			iconn_fail(s, i, "connect", error);
			return;
		}
		e->state = I_PING;
		e->off = 0;
	}
	if (e->state == I_PING) {
		n = xport_send(s->xp, e->sd, ping_msg + e->off, PING_LEN - e->off, 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				iconn_fail(s, i, "send", errno);
			return;
		}
		e->off = (uint8_t)(e->off + n);
		if (e->off < PING_LEN)
			return;
		e->state = I_PONG;
		e->off = 0;
	}
	if (e->state == I_PONG) {
		/* Read exactly what is still expected, so that anything extra
		 * from the server shows up as data while the connection idles. */
		n = xport_recv(s->xp, e->sd, buf, PONG_LEN - e->off, 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				iconn_fail(s, i, "recv", errno);
			return;
		}
		if (n == 0) {
			iconn_fail(s, i, "EOF instead of +PONG", 0);
			return;
		}
		if (memcmp(buf, pong_msg + e->off, (size_t)n)) {
			char what[64];

			snprintf(what, sizeof(what), "reply is not +PONG: \"%.*s\"", (int)n, buf);
			for (char *p = what; *p; p++)
				if (*p == '\r' || *p == '\n')
					*p = '.';
			iconn_fail(s, i, what, 0);
			return;
		}
		e->off = (uint8_t)(e->off + n);
		if (e->off == PONG_LEN)
			e->state = I_IDLE;
	}
}

/* One PING round over every idle connection (and the connects first,
 * when @connect): 0 when all of them answered +PONG, -1 otherwise. */
static int idle_round(struct idle *s, bool connect)
{
	const struct cfg *c = s->c;
	unsigned i, next = 0, inflight = 0, busy;

	for (i = 0; i < c->conns; i++) {
		struct iconn *e = &s->conns[i];

		if (e->state == I_IDLE) {
			e->state = I_PING;
			e->off = 0;
		}
	}
	for (;;) {
		unsigned np = 0;
		bool stalled = false;
		int ms, r;

		/* Bounded concurrency: a SYN burst of 10,000 would overflow the
		 * server's accept queue and cost seconds of SYN retransmits. */
		while (connect && next < c->conns && inflight < IDLE_INFLIGHT) {
			struct iconn *e = &s->conns[next];

			e->sd = start_connect(s->xp, c);
			if (e->sd < 0 && errno == EAGAIN && c->retry_eagain) {
				atomic_fetch_add(&eagain_retries, 1);
				stalled = true; /* again after the next poll */
				break;
			}
			if (e->sd < 0) {
				iconn_fail(s, next++, "connect", errno);
				continue;
			}
			e->state = I_CONNECTING;
			inflight++;
			next++;
		}
		busy = 0;
		for (i = 0; i < c->conns; i++) {
			struct iconn *e = &s->conns[i];
			short ev;

			switch (e->state) {
			case I_CONNECTING:
				ev = POLLOUT;
				break;
			case I_PING:
				ev = POLLOUT;
				break;
			case I_PONG:
				ev = POLLIN;
				break;
			default:
				continue;
			}
			s->pfd[np] = (struct xport_pollfd){.sd = e->sd, .fd = -1, .events = ev};
			s->idx[np++] = i;
		}
		busy = np;
		if (!busy && (!connect || next == c->conns))
			break;
		ms = wait_ms(deadline, stalled ? 10 : 1000);
		if (!ms) {
			for (i = 0; i < np; i++)
				iconn_fail(s, s->idx[i], "timed out", 0);
			for (; connect && next < c->conns; next++)
				iconn_fail(s, next, "never started: timed out", 0);
			break;
		}
		r = xport_poll(s->xp, s->pfd, np, ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err("xport_poll: %s", strerror(errno));
			for (i = 0; i < np; i++)
				iconn_fail(s, s->idx[i], "abandoned", 0);
			for (; connect && next < c->conns; next++)
				iconn_fail(s, next, "never started", 0);
			break;
		}
		for (i = 0; i < np && r > 0; i++) {
			if (!s->pfd[i].revents)
				continue;
			r--;
			idle_step(s, s->idx[i], s->pfd[i].revents, &inflight);
		}
	}
	return s->failed ? -1 : 0;
}

/* Hold every connection for @secs, polling them all: the library answers
 * the shard's liveness pings meanwhile.  Redis sends nothing unasked, so any
 * event on a held connection means it broke. */
static int idle_hold(struct idle *s, double secs)
{
	const struct cfg *c = s->c;
	double until = now_s() + secs;
	unsigned i, np = 0;

	for (i = 0; i < c->conns; i++) {
		if (s->conns[i].state != I_IDLE)
			continue;
		s->pfd[np] = (struct xport_pollfd){
		    .sd = s->conns[i].sd, .fd = -1, .events = POLLIN | POLLRDHUP};
		s->idx[np++] = i;
	}
	if (until > deadline) {
		err("hold of %.1f s goes past the -T deadline", secs);
		return -1;
	}
	for (;;) {
		int ms = wait_ms(until, 500), r;

		if (!ms)
			break;
		r = xport_poll(s->xp, s->pfd, np, ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err("xport_poll while holding: %s", strerror(errno));
			return -1;
		}
		for (i = 0; i < np && r > 0; i++) {
			char b[64];
			ssize_t n;

			if (!s->pfd[i].revents)
				continue;
			r--;
			n = xport_recv(s->xp, s->pfd[i].sd, b, sizeof(b), 0);
			if (n > 0)
				iconn_fail(s, s->idx[i], "unexpected data while idle", 0);
			else if (n == 0)
				iconn_fail(s, s->idx[i], "EOF while idle", 0);
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				iconn_fail(s, s->idx[i], "error while idle", errno);
			else
				continue; /* spurious wakeup: harmless */
			/* Take it out of the set; its sd is closed. */
			s->pfd[i].sd = -1;
			s->pfd[i].fd = -1;
			s->pfd[i].events = 0;
		}
	}
	return s->failed ? -1 : 0;
}

static int cmd_idle(const struct cfg *c)
{
	struct idle s = {.c = c};
	long rss0, rss1;
	double t0, t1, t2;
	unsigned i, closed_bad = 0;
	int ret = 1, e;

	s.conns = calloc(c->conns, sizeof(*s.conns));
	s.pfd = calloc(c->conns, sizeof(*s.pfd));
	s.idx = calloc(c->conns, sizeof(*s.idx));
	if (!s.conns || !s.pfd || !s.idx) {
		err("out of memory for %u connections", c->conns);
		goto out;
	}
	for (i = 0; i < c->conns; i++)
		s.conns[i].sd = -1;
	e = xport_open(&s.xp, c->ifname, c->queue, NULL);
	if (e) {
		err("xport_open %s queue %u: %s", c->ifname, c->queue, strerror(-e));
		s.xp = NULL;
		goto out;
	}
	rss0 = rss_kib();
	t0 = now_s();
	if (idle_round(&s, true)) {
		err("idle: %u of %u connections failed to connect and PING%s%s", s.failed, c->conns,
		    connect_errno_note(), suppressed_note());
		goto out;
	}
	t1 = now_s();
	rss1 = rss_kib();
	printf("xts-conns idle: %u connections up (connect + PING/PONG in %.2f s), holding "
	       "%.1f s; client RSS %ld KiB before, %ld KiB after (%.0f B/conn)\n",
	       c->conns, t1 - t0, c->hold_s, rss0, rss1, (double)(rss1 - rss0) * 1024 / c->conns);
	fflush(stdout);
	if (idle_hold(&s, c->hold_s)) {
		if (s.failed)
			err("idle: %u connections broke while held%s", s.failed, suppressed_note());
		goto out;
	}
	t2 = now_s();
	if (idle_round(&s, false)) {
		err("idle: %u of %u connections failed the second PING%s", s.failed, c->conns,
		    suppressed_note());
		goto out;
	}
	for (i = 0; i < c->conns; i++) {
		if (xport_close(s.xp, s.conns[i].sd))
			closed_bad++;
		s.conns[i].sd = -1;
	}
	if (closed_bad) {
		err("idle: xport_close failed on %u connections", closed_bad);
		goto out;
	}
	printf("xts-conns idle: %u/%u connections answered +PONG before and after %.1f s idle "
	       "(second round %.2f s), client RSS %ld -> %ld KiB%s\n",
	       c->conns, c->conns, t2 - t1, now_s() - t2, rss0, rss1, retries_note());
	ret = 0;
out:
	if (s.xp && (e = xport_close_queue(s.xp)))
		err("xport_close_queue: %s", strerror(-e));
	free(s.conns);
	free(s.pfd);
	free(s.idx);
	return ret;
}

/* ---- fair ---------------------------------------------------------------- */

/* Read @sd for @secs (all its bytes are counted in *@got); with @other >= 0
 * that socket is watched for errors (events 0), never read.  *@gap_ms (when
 * given): the longest time without a byte, from the start.  -1 on failure. */
static int read_for(struct xport *xp, int sd, int other, double secs, uint64_t *got, uint8_t *buf,
		    const char *who, double *gap_ms)
{
	double until = now_s() + secs, last = now_s();

	if (until > deadline) {
		err("%s: %.1f s goes past the -T deadline", who, secs);
		return -1;
	}
	for (;;) {
		struct xport_pollfd p[2] = {
		    {.sd = sd, .fd = -1, .events = POLLIN},
		    {.sd = other, .fd = -1, .events = 0},
		};
		int ms = wait_ms(until, 100), r;

		if (!ms) {
			if (gap_ms && (now_s() - last) * 1e3 > *gap_ms)
				*gap_ms = (now_s() - last) * 1e3;
			return 0;
		}
		r = xport_poll(xp, p, other >= 0 ? 2 : 1, ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err("%s: xport_poll: %s", who, strerror(errno));
			return -1;
		}
		if (other >= 0 && (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))) {
			err("%s: connection B broke (revents 0x%x, SO_ERROR %s)", who,
			    (unsigned)p[1].revents, strerror(sock_error(xp, other)));
			return -1;
		}
		if (!p[0].revents)
			continue;
		/* Bounded batch, so the clock is looked at now and then. */
		for (int k = 0; k < 64; k++) {
			ssize_t n = xport_recv(xp, sd, buf, IO_CHUNK, 0);

			if (n > 0) {
				double t = now_s();

				if (gap_ms && (t - last) * 1e3 > *gap_ms)
					*gap_ms = (t - last) * 1e3;
				last = t;
				*got += (uint64_t)n;
				continue;
			}
			if (n == 0) {
				err("%s: EOF from the endless server", who);
				return -1;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			err("%s: recv: %s", who, strerror(errno));
			return -1;
		}
	}
}

/* Stream bytes the host received on the queue but the test did not read:
 * B's buffered bytes, plus whatever of A is still unread (< one rcvbuf). */
static int64_t unread_bytes(struct xport *xp, uint64_t read_total)
{
	struct xport_stats st;

	memset(&st, 0, sizeof(st));
	if (xport_stats(xp, &st, sizeof(st)))
		return -1;
	return (int64_t)st.data_rx_bytes - (int64_t)read_total;
}

static int cmd_fair(const struct cfg *c)
{
	struct xport *xp = NULL;
	uint8_t *buf = malloc(IO_CHUNK);
	uint64_t a[3] = {0, 0, 0}, a_before = 0, b_read = 0, b_resume = 0;
	double rate[3], gap[3] = {0, 0, 0}, ratio, t;
	int64_t unread2, unread3;
	long long cs1 = -1, cs2 = -1;
	int sa = -1, sb = -1, ret = 1, e, r;
	char b1;

	if (!buf) {
		err("out of memory");
		return 1;
	}
	e = xport_open(&xp, c->ifname, c->queue, NULL);
	if (e) {
		err("xport_open %s queue %u: %s", c->ifname, c->queue, strerror(-e));
		xp = NULL;
		goto out;
	}
	sa = connect_wait(xp, c, "connection A");
	if (sa < 0)
		goto out;
	/* A short warm-up, so phase 1 does not include slow start. */
	if (read_for(xp, sa, -1, 0.2, &a_before, buf, "warm-up", NULL))
		goto out;

	t = now_s();
	if (read_for(xp, sa, -1, c->phase_s, &a[0], buf, "phase 1 (A alone)", &gap[0]))
		goto out;
	rate[0] = (double)a[0] / (now_s() - t);

	sb = connect_wait(xp, c, "connection B");
	if (sb < 0)
		goto out;
	/* Prove B is live: one byte arrives.  Then B is never read again
	 * until the end, so its receive credit runs out. */
	r = wait_one(xp, sb, POLLIN, now_s() + 10);
	if (r <= 0) {
		err("connection B: no data: %s", r ? strerror(errno) : "none in 10 s");
		goto out;
	}
	if (xport_recv(xp, sb, &b1, 1, 0) != 1) {
		err("connection B: first byte: %s", strerror(errno));
		goto out;
	}
	b_read = 1;
	cs1 = stats_cmd_get(c->shard_stats, "credit_stalls");

	t = now_s();
	if (read_for(xp, sa, sb, c->phase_s, &a[1], buf, "phase 2 (A with B stalled)", &gap[1]))
		goto out;
	rate[1] = (double)a[1] / (now_s() - t);
	unread2 = unread_bytes(xp, a_before + a[0] + a[1] + b_read);

	t = now_s();
	if (read_for(xp, sa, sb, c->phase_s, &a[2], buf, "phase 3 (A alone, B still open)",
		     &gap[2]))
		goto out;
	rate[2] = (double)a[2] / (now_s() - t);
	unread3 = unread_bytes(xp, a_before + a[0] + a[1] + a[2] + b_read);
	cs2 = stats_cmd_get(c->shard_stats, "credit_stalls");

	/* B must be readable, i.e. holding data, and not broken. */
	r = wait_one(xp, sb, POLLIN, now_s() + 1);
	if (r <= 0 || (r & (POLLERR | POLLHUP))) {
		err("connection B is not readable after the phases (revents 0x%x)",
		    r > 0 ? (unsigned)r : 0u);
		goto out;
	}
	/* And its credit must come back: read B until it has delivered well
	 * over a receive buffer's worth more than it ever held. */
	if (read_for(xp, sb, -1, 0.5, &b_resume, buf, "connection B resumed", NULL))
		goto out;

	ratio = rate[1] / ((rate[0] + rate[2]) / 2);
	printf("xts-conns fair: A alone %.1f MB/s, A with B stalled %.1f MB/s, A alone again "
	       "%.1f MB/s: ratio %.3f (min %.2f); B unread bytes held on the host %" PRId64
	       " after phase 2, %" PRId64 " after phase 3; B resumed with %" PRIu64
	       " bytes in 0.5 s; shard credit_stalls %lld -> %lld; A's longest gap %.0f, %.0f, "
	       "%.0f ms (max %.0f with B stalled)\n",
	       rate[0] / 1e6, rate[1] / 1e6, rate[2] / 1e6, ratio, c->min_ratio, unread2, unread3,
	       b_resume, cs1, cs2, gap[0], gap[1], gap[2], c->max_gap_ms);
	fflush(stdout);
	ret = 0;
	for (int p = 0; p < 3; p++) {
		if (a[p] <= 1000000) {
			err("phase %d: A moved only %" PRIu64 " bytes (want > 1 MB)", p + 1, a[p]);
			ret = 1;
		}
	}
	if (ratio < c->min_ratio) {
		err("A's rate with B stalled is %.3f of its rate alone, want >= %.2f", ratio,
		    c->min_ratio);
		ret = 1;
	}
	if (gap[1] > c->max_gap_ms) {
		err("A got nothing for %.0f ms while B was stalled (want <= %.0f)", gap[1],
		    c->max_gap_ms);
		ret = 1;
	}
	/* A stalled B holds at most its receive buffer on the host; the
	 * estimate also counts A's unread bytes, hence two buffers.  A B that
	 * is not stalled would have taken hundreds of MB by now. */
	if (unread2 < 0 || unread3 < 0) {
		err("xport_stats data_rx_bytes (%" PRId64 ", %" PRId64
		    ") is below what was read: cannot tell whether B stalled",
		    unread2, unread3);
		ret = 1;
	} else if (unread3 > 2 * DEFAULT_RCVBUF + IO_CHUNK) {
		err("B was not held at its credit: %" PRId64 " bytes reached the host unread "
		    "(want <= %d)",
		    unread3, 2 * DEFAULT_RCVBUF + IO_CHUNK);
		ret = 1;
	}
	if (b_resume <= 2 * DEFAULT_RCVBUF) {
		err("B did not resume once read: %" PRIu64 " bytes in 0.5 s", b_resume);
		ret = 1;
	}
out:
	if (xp) {
		if (sb >= 0)
			xport_close(xp, sb);
		if (sa >= 0)
			xport_close(xp, sa);
		if ((e = xport_close_queue(xp)))
			err("%s: xport_close_queue: %s", c->ifname, strerror(-e));
	}
	free(buf);
	return ret;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: xts-conns echo [-i IF] [-T S] [-R] -Q QUEUES -n CONNS -s BYTES HOST PORT\n"
		"       xts-conns idle [-i IF] [-T S] [-R] -q QUEUE -n CONNS [-H SECONDS] HOST "
		"PORT\n"
		"       xts-conns fair [-i IF] [-T S] -q QUEUE -t SECONDS [-r RATIO] "
		"[-S STATS_CMD] HOST PORT\n");
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return false;
	switch (*end) {
	case 'k':
	case 'K':
		x <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		x <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		x <<= 30;
		end++;
		break;
	}
	if (*end)
		return false;
	*v = x;
	return true;
}

static bool parse_uint(const char *s, unsigned *v)
{
	uint64_t x;

	if (!parse_u64(s, &x) || x > UINT32_MAX)
		return false;
	*v = (unsigned)x;
	return true;
}

static bool parse_secs(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return !errno && end != s && !*end && *v >= 0 && *v < 1e6;
}

static bool parse_addr(struct cfg *c, const char *host, const char *port)
{
	unsigned p;

	if (!parse_uint(port, &p) || !p || p > 65535)
		return false;
	memset(&c->addr, 0, sizeof(c->addr));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->addr;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		c->addrlen = sizeof(*s6);
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&c->addr;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		c->addrlen = sizeof(*s4);
		return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
	}
}

int main(int argc, char **argv)
{
	struct cfg c = {
	    .ifname = "xh0",
	    .timeout_s = 120,
	    .hold_s = 5,
	    .min_ratio = 0.3,
	    .max_gap_ms = 1000,
	};
	const char *cmd;
	bool ok = true;
	int opt;

	if (argc < 2) {
		usage();
		return 2;
	}
	cmd = argv[1];
	/* getopt over the words after the subcommand (it skips argv[0]). */
	argv++;
	argc--;
	while ((opt = getopt(argc, argv, "i:T:Q:n:s:q:H:t:r:S:R")) != -1) {
		switch (opt) {
		case 'i':
			c.ifname = optarg;
			break;
		case 'T':
			ok &= parse_secs(optarg, &c.timeout_s) && c.timeout_s > 0;
			break;
		case 'Q':
			ok &= parse_uint(optarg, &c.queues);
			break;
		case 'n':
			ok &= parse_uint(optarg, &c.conns);
			break;
		case 's':
			ok &= parse_u64(optarg, &c.bytes);
			break;
		case 'q':
			ok &= parse_uint(optarg, &c.queue);
			c.queue_set = true;
			break;
		case 'H':
			ok &= parse_secs(optarg, &c.hold_s);
			break;
		case 't':
			ok &= parse_secs(optarg, &c.phase_s);
			break;
		case 'r':
			ok &= parse_secs(optarg, &c.min_ratio);
			break;
		case 'R':
			c.retry_eagain = true;
			break;
		case 'S':
			c.shard_stats = optarg;
			break;
		default:
			ok = false;
		}
	}
	if (!ok || argc - optind != 2 || !parse_addr(&c, argv[optind], argv[optind + 1])) {
		usage();
		return 2;
	}
	deadline = now_s() + c.timeout_s;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "echo")) {
		if (!c.queues || c.queues > 256 || !c.conns || !c.bytes) {
			fprintf(stderr, "xts-conns: echo needs -Q 1..256, -n > 0 and -s > 0\n");
			return 2;
		}
		return cmd_echo(&c);
	}
	if (!c.queue_set) {
		fprintf(stderr, "xts-conns: %s needs -q QUEUE\n", cmd);
		return 2;
	}
	if (!strcmp(cmd, "idle")) {
		if (!c.conns || c.conns > 1000000) {
			fprintf(stderr, "xts-conns: idle needs -n 1..1000000\n");
			return 2;
		}
		return cmd_idle(&c);
	}
	if (!strcmp(cmd, "fair")) {
		if (c.phase_s <= 0) {
			fprintf(stderr, "xts-conns: fair needs -t SECONDS > 0\n");
			return 2;
		}
		return cmd_fair(&c);
	}
	usage();
	return 2;
}
