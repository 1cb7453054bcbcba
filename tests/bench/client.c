// SPDX-License-Identifier: BSD-2-Clause
/*
 * client.c - `xts-bench client`: one workload on one path, from xts-host.
 *
 *   xts-bench client -P xts|kernel -w WORKLOAD -n NAME [-a ADDR] [-p BASE]
 *                    [-i IF] [-q QUEUE] [-T THREADS] [-s SIZE] [-c CONNS]
 *                    [-t SECONDS] [-r RATE] [-S SPIN_US] [-N COUNT -I perf|callgrind] [-Z]
 *
 * Workloads: pingpong (one connection, SIZE bytes each way, latency),
 * rr (CONNS connections, one SIZE-byte request outstanding on each),
 * bulk (THREADS connections, one per queue, into the sink), msgs (one
 * connection, SIZE-byte messages one send each into the sink), connrate
 * (connect, one request, close).  RATE > 0 paces pingpong and rr at
 * RATE requests/s in all.  SPIN_US: libxport spins this long on its rx
 * ring before it sleeps (xport_opts.spin_us; XTS only).  -Z: bulk sends
 * through the zero-copy API (xport_send_buf/xport_send_commit: the bytes
 * are written in place, so libxport copies nothing; XTS only).  -F:
 * connrate sets TCP_FASTOPEN_CONNECT before connect, on every path (XTS:
 * the CONNECT carries the request; kernel TCP: a SYN with data once the
 * server gave a cookie, else a plain handshake).
 * Every workload also reports the host CPU it took per operation.
 * With -N, pingpong, rr and connrate instead run exactly COUNT operations
 * after the warm-up and report the instructions they took (instr.c): -I
 * perf reads the PMU's counter itself; -I callgrind leaves the counting to
 * valgrind (the caller reads callgrind's total and divides by COUNT).
 *
 * The two paths differ only in the five calls of struct bp: the same loop
 * drives xport (XTS) and the kernel's sockets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "xport.h"

#define MAX_SAMPLES (4u << 20)
#define CHUNK	    (64 * 1024)

struct cfg {
	bool xts;
	const char *wl, *name, *ifname;
	struct sockaddr_in dst;
	int base;
	unsigned queue, threads, size, conns, rate;
	double secs;
	unsigned spin_us;    /* -S: xport_opts.spin_us */
	bool fastopen;	     /* -F: TCP_FASTOPEN_CONNECT before connect */
	unsigned count;	     /* -N: operations counted (0: timed run) */
	const char *imethod; /* -I: "perf" or "callgrind" */
	bool zc;	     /* -Z: bulk through xport_send_buf/commit */
};

/* one path, one thread */
struct bp {
	bool xts;
	struct xport *xp;
	int ep;
	struct xport_pollfd *pfd;
};

static void bp_open(struct bp *b, const struct cfg *c, unsigned queue)
{
	/* batched doorbell: one sendto per turn of the event loop */
	struct xport_opts o = {.sz = sizeof(o), .flags = XPORT_OPT_BATCH, .spin_us = c->spin_us};
	int err;

	memset(b, 0, sizeof(*b));
	b->xts = c->xts;
	b->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!b->xts)
		return;
	err = xport_open(&b->xp, c->ifname, queue, &o);
	if (err)
		bench_die("xport_open", -err);
}

static void bp_free(struct bp *b)
{
	int err;

	if (b->xp && (err = xport_close_queue(b->xp)))
		fprintf(stderr, "xts-bench: xport_close_queue: %s\n", strerror(-err));
	close(b->ep);
	free(b->pfd);
}

/* Blocking connect with TCP_NODELAY; the handle (fd or sd), or -1. */
static int bp_connect(struct bp *b, const struct cfg *c, int port)
{
	struct sockaddr_in d = c->dst;
	int one = 1, h;

	d.sin_port = htons((uint16_t)port);
	if (b->xts) {
		h = xport_socket(b->xp, AF_INET, SOCK_STREAM, 0);
		if (h < 0)
			return -1;
		xport_setsockopt(b->xp, h, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (c->fastopen)
			xport_setsockopt(b->xp, h, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one,
					 sizeof(one));
		if (xport_connect(b->xp, h, (struct sockaddr *)&d, sizeof(d))) {
			xport_close(b->xp, h);
			return -1;
		}
		return h;
	}
	h = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h < 0)
		return -1;
	setsockopt(h, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->fastopen)
		setsockopt(h, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one));
	if (connect(h, (struct sockaddr *)&d, sizeof(d))) {
		close(h);
		return -1;
	}
	return h;
}

static ssize_t bp_send(struct bp *b, int h, const void *p, size_t n, int fl)
{
	return b->xts ? xport_send(b->xp, h, p, n, fl) : send(h, p, n, fl | MSG_NOSIGNAL);
}

static ssize_t bp_recv(struct bp *b, int h, void *p, size_t n, int fl)
{
	return b->xts ? xport_recv(b->xp, h, p, n, fl) : recv(h, p, n, fl);
}

static void bp_close(struct bp *b, int h)
{
	if (b->xts)
		xport_close(b->xp, h);
	else
		close(h);
}

/* All @n bytes out (@out) or in (MSG_WAITALL): 0, or -1 with errno. */
static int xfer_all(struct bp *b, int h, char *p, size_t n, bool out)
{
	while (n) {
		ssize_t r = out ? bp_send(b, h, p, n, 0) : bp_recv(b, h, p, n, MSG_WAITALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int send_all(struct bp *b, int h, char *p, size_t n)
{
	return xfer_all(b, h, p, n, true);
}

static int recv_all(struct bp *b, int h, char *p, size_t n)
{
	return xfer_all(b, h, p, n, false);
}

/* Wait until some of the @n handles are readable: their indices in @rdy. */
static int bp_wait(struct bp *b, const int *h, int n, int *rdy, int ms)
{
	int i, k = 0, r;

	if (b->xts) {
		if (!b->pfd) {
			b->pfd = calloc((size_t)n, sizeof(*b->pfd));
			for (i = 0; i < n; i++)
				b->pfd[i] = (struct xport_pollfd){.sd = h[i], .events = POLLIN};
		}
		r = xport_poll(b->xp, b->pfd, (unsigned)n, ms);
		for (i = 0; i < n && k < r; i++)
			if (b->pfd[i].revents)
				rdy[k++] = i;
		return k;
	}
	{
		struct epoll_event ev[1024];

		r = epoll_wait(b->ep, ev, n < 1024 ? n : 1024, ms);
		for (i = 0; i < r; i++)
			rdy[k++] = (int)ev[i].data.u32;
	}
	return k;
}

static void bp_watch(struct bp *b, int h, int idx)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)idx};

	/* Sockets stay blocking: a send waits for room (the XTS queue window
	 * is 128 frames, fewer than 1,024 first requests); recv is
	 * MSG_DONTWAIT. */
	if (!b->xts && epoll_ctl(b->ep, EPOLL_CTL_ADD, h, &e))
		bench_die("epoll_ctl", errno);
}

static void report(const struct cfg *c, const char *what, double v)
{
	printf("%s.%s %.6g\n", c->name, what, v);
}

/* What an operation cost besides CPU time: context switches (voluntary:
 * sleeps; involuntary: preemption by the shard, server or softirq on the
 * same core) on both paths, and on XTS the queue's frames each way, tx
 * doorbells (sendto) and sleeps. */
struct mark {
	struct xport_stats q;
	long nvcsw, nivcsw;
};

static void bp_mark(struct bp *b, struct mark *m)
{
	struct rusage ru;

	memset(m, 0, sizeof(*m));
	if (b->xts)
		xport_stats(b->xp, &m->q, sizeof(m->q));
	getrusage(RUSAGE_SELF, &ru);
	m->nvcsw = ru.ru_nvcsw;
	m->nivcsw = ru.ru_nivcsw;
}

/* The costs between marks @m0 and @m1, per operation. */
static void report_cost(const struct cfg *c, const struct mark *m0, const struct mark *m1,
			uint64_t ops)
{
	double d = (double)(ops ? ops : 1);

	report(c, "csw_vol_per_op", (double)(m1->nvcsw - m0->nvcsw) / d);
	report(c, "csw_invol_per_op", (double)(m1->nivcsw - m0->nivcsw) / d);
	if (!c->xts)
		return;
	report(c, "q_tx_frames_per_op", (double)(m1->q.tx_frames - m0->q.tx_frames) / d);
	report(c, "q_rx_frames_per_op", (double)(m1->q.rx_frames - m0->q.rx_frames) / d);
	/* messages that rode in another's frame (bundles) */
	report(c, "q_tx_bundled_per_op", (double)(m1->q.tx_bundled - m0->q.tx_bundled) / d);
	report(c, "q_rx_bundled_per_op", (double)(m1->q.rx_bundled - m0->q.rx_bundled) / d);
	report(c, "q_kicks_per_op", (double)(m1->q.kicks - m0->q.kicks) / d);
	report(c, "q_sleeps_per_op", (double)(m1->q.sleeps - m0->q.sleeps) / d);
	report(c, "q_acks_per_op", (double)(m1->q.acks_tx - m0->q.acks_tx) / d);
	report(c, "q_window_stalls_per_op",
	       (double)(m1->q.window_stalls - m0->q.window_stalls) / d);
	report(c, "q_credit_stalls_per_op",
	       (double)(m1->q.credit_stalls - m0->q.credit_stalls) / d);
	if (c->spin_us) {
		report(c, "q_spins_per_op", (double)(m1->q.spins - m0->q.spins) / d);
		report(c, "q_spin_us_per_op", (double)(m1->q.spin_ns - m0->q.spin_ns) / 1e3 / d);
	}
}

static void bp_report_cost(struct bp *b, const struct cfg *c, const struct mark *m0, uint64_t ops)
{
	struct mark m;

	bp_mark(b, &m);
	report_cost(c, m0, &m, ops);
}

static void pingpong(const struct cfg *c)
{
	uint64_t *lat = calloc(MAX_SAMPLES, sizeof(*lat)), t0, end, t, ops = 0, period = 0;
	char *buf = malloc(c->size), *rbuf = malloc(c->size);
	struct mark qs0;
	struct timespec next;
	double cpu0;
	struct bp b;
	int h;

	if (!lat || !buf || !rbuf)
		bench_die("malloc", ENOMEM);
	/* a pattern that differs at every offset, so a lost, doubled or
	 * shifted byte in the echo is seen (checked on every answer) */
	for (size_t i = 0; i < c->size; i++)
		buf[i] = (char)('a' + (i * 7 + i / 251) % 26);
	bp_open(&b, c, c->queue);
	h = bp_connect(&b, c, c->base + BP_ECHO);
	if (h < 0)
		bench_die("connect", errno);
	for (int i = 0; i < 200; i++) /* warm up */
		if (send_all(&b, h, buf, c->size) || recv_all(&b, h, rbuf, c->size))
			bench_die("warm-up", errno);
	if (c->rate)
		period = 1000000000ull / c->rate;
	clock_gettime(CLOCK_MONOTONIC, &next);
	bp_mark(&b, &qs0);
	cpu0 = bench_cpu_s();
	t0 = bench_now_ns();
	end = t0 + (uint64_t)(c->secs * 1e9);
	for (t = t0; t < end; ops++) {
		uint64_t s = t;

		if (period) {
			next.tv_nsec += (long)period;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
			s = bench_now_ns();
		}
		if (send_all(&b, h, buf, c->size) || recv_all(&b, h, rbuf, c->size))
			bench_die("ping-pong", errno);
		t = bench_now_ns();
		if (memcmp(buf, rbuf, c->size))
			bench_die("ping-pong: the echo differs from what was sent", EBADMSG);
		if (ops < MAX_SAMPLES)
			lat[ops] = t - s;
	}
	report(c, "ops_s", (double)ops / ((double)(t - t0) / 1e9));
	report(c, "cpu_us_per_op", (bench_cpu_s() - cpu0) * 1e6 / (double)ops);
	bp_report_cost(&b, c, &qs0, ops);
	bench_print_lat(c->name, lat, ops < MAX_SAMPLES ? ops : MAX_SAMPLES);
	bp_close(&b, h);
	bp_free(&b);
	free(lat);
	free(buf);
	free(rbuf);
}

/* Milliseconds to wait from now until @tick (at least 1, poll's grain). */
static int tick_ms(uint64_t tick)
{
	uint64_t now = bench_now_ns();

	return now >= tick ? 0 : (int)((tick - now + 999999ull) / 1000000ull);
}

/* The answers on the @k ready connections rdy[] of h[] (got[]: bytes of
 * each answer so far): each whole one is counted and followed by the next
 * request (@req) on its connection (closed loop), or with @idle (a rate)
 * its connection goes on idle[] for the next tick.  Returns the answers. */
static uint64_t rr_take(struct bp *b, const struct cfg *c, const char *req, const int *h,
			const int *rdy, int k, unsigned *got, int *idle, int *nidle)
{
	char rbuf[CHUNK];
	uint64_t ops = 0;

	for (int j = 0; j < k; j++) {
		int i = rdy[j];

		for (;;) {
			ssize_t r = bp_recv(b, h[i], rbuf, c->size - got[i], MSG_DONTWAIT);

			if (r <= 0) {
				if (r == 0 || (errno != EAGAIN && errno != EINTR))
					bench_die("rr recv", r ? errno : ECONNRESET);
				break;
			}
			got[i] += (unsigned)r;
			if (got[i] < c->size)
				continue;
			got[i] = 0;
			ops++;
			if (idle) {
				idle[(*nidle)++] = i;
				break;
			}
			if (bp_send(b, h[i], req, c->size, 0) != (ssize_t)c->size)
				bench_die("rr send", errno);
		}
	}
	return ops;
}

struct rr_arg {
	const struct cfg *c;
	unsigned queue, conns, rate; /* this thread's share */
	uint64_t t_start, t_end;     /* measured window, common to all */
	pthread_barrier_t *ready;    /* connected; window set */
	uint64_t ops;		     /* answers inside the window */
	struct xport_stats q0, q1;   /* XTS: queue counters at its ends */
};

/* One thread, one queue: its connections to the echo server.  Closed
 * loop: every connection has one request outstanding.  With a rate, open
 * loop in 1 ms ticks: at each tick the requests due by then (rate/1000 a
 * tick) go out, on connections whose previous answer has come; between
 * ticks only answers are taken in. */
static void *rr_one(void *arg)
{
	struct rr_arg *a = arg;
	const struct cfg *c = a->c;
	int n = (int)a->conns, i, k, *h = calloc((size_t)n, sizeof(int)),
	    *rdy = calloc((size_t)n, sizeof(int));
	unsigned *got = calloc((size_t)n, sizeof(unsigned));
	int *idle = calloc((size_t)n, sizeof(int)), nidle = 0;
	uint64_t issued = 0, start, tick = 0, due = 0, t;
	char req[CHUNK];
	bool measuring = false;
	struct bp b;

	if (!h || !rdy || !got || !idle || c->size > CHUNK)
		bench_die("rr setup", ENOMEM);
	memset(req, 'r', c->size);
	bp_open(&b, c, a->queue);
	for (i = 0; i < n; i++) {
		h[i] = bp_connect(&b, c, c->base + BP_ECHO);
		if (h[i] < 0)
			bench_die("connect", errno);
		bp_watch(&b, h[i], i);
	}
	for (i = 0; i < n; i++)
		idle[nidle++] = n - 1 - i;
	pthread_barrier_wait(a->ready); /* all connected */
	pthread_barrier_wait(a->ready); /* the window is set */
	start = bench_now_ns();
	for (;;) {
		t = bench_now_ns();
		if (a->rate && t >= tick) {
			due = (t - start) / 1000000ull * a->rate / 1000ull;
			tick = start + ((t - start) / 1000000ull + 1) * 1000000ull;
		}
		while (nidle && (!a->rate || issued < due)) {
			i = idle[--nidle];
			if (bp_send(&b, h[i], req, c->size, 0) != (ssize_t)c->size)
				bench_die("send", errno);
			issued++;
		}
		if (!measuring && t >= a->t_start) {
			measuring = true;
			if (b.xts)
				xport_stats(b.xp, &a->q0, sizeof(a->q0));
		}
		if (t >= a->t_end)
			break;
		k = bp_wait(&b, h, n, rdy, a->rate ? tick_ms(tick) : 100);
		a->ops +=
		    rr_take(&b, c, req, h, rdy, k, got, a->rate ? idle : NULL, &nidle) * measuring;
	}
	if (b.xts)
		xport_stats(b.xp, &a->q1, sizeof(a->q1));
	for (i = 0; i < n; i++)
		bp_close(&b, h[i]);
	bp_free(&b);
	free(h);
	free(rdy);
	free(got);
	free(idle);
	return NULL;
}

/* CONNS connections (and RATE) split over THREADS threads, thread i on
 * queue QUEUE + i: a host app scaled across queues, one xport (or one
 * epoll) per thread.  A quarter second of warm-up, then SECS measured
 * by every thread in the same window; the host CPU of the process in
 * that window per answer. */
static void rr(const struct cfg *c)
{
	unsigned nt = c->threads ? c->threads : 1, i;
	struct rr_arg a[64];
	pthread_t th[64];
	pthread_barrier_t ready;
	struct mark m0, m1;
	struct timespec ts;
	uint64_t ops = 0, t0, t1;
	double cpu0, cpu1, d;

	if (nt > 64 || nt > c->conns)
		bench_die("rr: threads", EINVAL);
	pthread_barrier_init(&ready, NULL, nt + 1);
	for (i = 0; i < nt; i++) {
		a[i] = (struct rr_arg){.c = c,
				       .queue = c->queue + i,
				       .conns = c->conns / nt + (i < c->conns % nt),
				       .rate = c->rate / nt + (i < c->rate % nt),
				       .ready = &ready};
		if (pthread_create(&th[i], NULL, rr_one, &a[i]))
			bench_die("pthread_create", EAGAIN);
	}
	pthread_barrier_wait(&ready);
	t0 = bench_now_ns() + 250000000ull;
	t1 = t0 + (uint64_t)(c->secs * 1e9);
	for (i = 0; i < nt; i++) {
		a[i].t_start = t0;
		a[i].t_end = t1;
	}
	pthread_barrier_wait(&ready);
	ts = (struct timespec){.tv_sec = (time_t)(t0 / 1000000000ull),
			       .tv_nsec = (long)(t0 % 1000000000ull)};
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	bp_mark(&(struct bp){0}, &m0);
	cpu0 = bench_cpu_s();
	ts = (struct timespec){.tv_sec = (time_t)(t1 / 1000000000ull),
			       .tv_nsec = (long)(t1 % 1000000000ull)};
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	cpu1 = bench_cpu_s();
	bp_mark(&(struct bp){0}, &m1);
	for (i = 0; i < nt; i++) {
		pthread_join(th[i], NULL);
		ops += a[i].ops;
	}
	pthread_barrier_destroy(&ready);
	d = (double)(ops ? ops : 1);
	report(c, "ops_s", (double)ops / c->secs);
	report(c, "cpu_us_per_op", (cpu1 - cpu0) * 1e6 / d);
	/* the queues' counters: every thread's change, summed into m1 */
	for (i = 0; i < nt; i++) {
#define ADD(f) (m1.q.f += a[i].q1.f - a[i].q0.f)
		ADD(tx_frames);
		ADD(rx_frames);
		ADD(tx_bundled);
		ADD(rx_bundled);
		ADD(kicks);
		ADD(sleeps);
		ADD(acks_tx);
		ADD(spins);
		ADD(spin_ns);
#undef ADD
	}
	report_cost(c, &m0, &m1, ops);
}

struct bulk_arg {
	const struct cfg *c;
	unsigned queue;
	uint64_t bytes;
	uint64_t zc_frames; /* -Z: DATA frames sent from xport_send_buf */
};

/* One frame's worth through the zero-copy API: what an application that
 * builds its bytes in place does.  Nothing is written into the frame:
 * generating the bytes is the application's cost, the same with or
 * without -Z; the copy the plain path makes from its buffer is not. */
static ssize_t send_zc(struct bp *b, int h, size_t want)
{
	void *p;
	ssize_t cap = xport_send_buf(b->xp, h, want, &p, 0);

	return cap <= 0 ? cap : xport_send_commit(b->xp, h, (size_t)cap, 0);
}

/* Stream into the sink for secs, then SHUT_WR and wait for the sink's
 * close: every byte counted has reached the server. */
static void *bulk_one(void *arg)
{
	struct bulk_arg *a = arg;
	const struct cfg *c = a->c;
	size_t sz = strcmp(c->wl, "msgs") ? CHUNK : c->size;
	char *buf = malloc(CHUNK);
	uint64_t end;
	struct bp b;
	int h;

	memset(buf, 'b', CHUNK);
	bp_open(&b, c, a->queue);
	h = bp_connect(&b, c, c->base + BP_SINK);
	if (h < 0)
		bench_die("connect", errno);
	end = bench_now_ns() + (uint64_t)(c->secs * 1e9);
	for (unsigned i = 0;; i++) {
		ssize_t r;

		if (!(i & 15) && bench_now_ns() >= end)
			break;
		r = c->zc && b.xts ? send_zc(&b, h, sz) : bp_send(&b, h, buf, sz, 0);
		if (r <= 0)
			bench_die("bulk send", errno);
		a->bytes += (uint64_t)r;
	}
	if (b.xts)
		xport_shutdown(b.xp, h, SHUT_WR);
	else
		shutdown(h, SHUT_WR);
	while (bp_recv(&b, h, buf, CHUNK, 0) > 0)
		;
	if (b.xts) {
		struct xport_stats st;

		if (!xport_stats(b.xp, &st, sizeof(st)))
			a->zc_frames = st.zc_tx_frames;
	}
	bp_close(&b, h);
	bp_free(&b);
	free(buf);
	return NULL;
}

static void bulk(const struct cfg *c)
{
	struct bulk_arg a[64];
	pthread_t t[64];
	unsigned i, n = c->threads ? c->threads : 1;
	uint64_t t0, bytes = 0, zc_frames = 0;
	double cpu0 = bench_cpu_s(), secs;

	if (n > 64)
		n = 64;
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		a[i] = (struct bulk_arg){.c = c, .queue = c->queue + i};
		if (pthread_create(&t[i], NULL, bulk_one, &a[i]))
			bench_die("pthread_create", EAGAIN);
	}
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		bytes += a[i].bytes;
		zc_frames += a[i].zc_frames;
	}
	secs = (double)(bench_now_ns() - t0) / 1e9;
	if (!strcmp(c->wl, "msgs")) {
		report(c, "ops_s", (double)bytes / c->size / secs);
		report(c, "cpu_us_per_op",
		       (bench_cpu_s() - cpu0) * 1e6 / ((double)bytes / c->size));
	} else {
		report(c, "gbps", (double)bytes * 8 / secs / 1e9);
		report(c, "cpu_s_per_gb", (bench_cpu_s() - cpu0) / ((double)bytes / 1e9));
		if (c->xts) /* shows that -Z took the zero-copy path (0 without) */
			report(c, "zc_tx_frames", (double)zc_frames);
	}
}

/* connect, one 64 B request and its answer, close */
static void conn_once(struct bp *b, const struct cfg *c, char *buf, char *rbuf)
{
	int h = bp_connect(b, c, c->base + BP_ECHO);

	if (h < 0)
		bench_die("connect", errno);
	if (send_all(b, h, buf, 64) || recv_all(b, h, rbuf, 64))
		bench_die("connrate request", errno);
	bp_close(b, h);
}

static void connrate(const struct cfg *c)
{
	char req[64], rbuf[64];
	uint64_t t0, end, ops = 0, t;
	struct mark m0;
	double cpu0;
	struct bp b;

	memset(req, 'c', sizeof(req));
	bp_open(&b, c, c->queue);
	bp_mark(&b, &m0);
	cpu0 = bench_cpu_s();
	t0 = bench_now_ns();
	end = t0 + (uint64_t)(c->secs * 1e9);
	for (t = t0; t < end; ops++) {
		conn_once(&b, c, req, rbuf);
		t = bench_now_ns();
	}
	report(c, "ops_s", (double)ops / ((double)(t - t0) / 1e9));
	report(c, "cpu_us_per_op", (bench_cpu_s() - cpu0) * 1e6 / (double)ops);
	bp_report_cost(&b, c, &m0, ops);
	bp_free(&b);
}

/* One counted run: COUNT operations of one workload, nothing else. */
struct counted {
	const struct cfg *c;
	struct bp *b;
	int h;
	char *buf, *rbuf;
	int *hs, *rdy; /* rr: the connections, the ready ones */
	unsigned *got;
	uint64_t done; /* operations done (rr: a turn may take more than asked) */
};

static void pp_counted(void *arg)
{
	struct counted *k = arg;

	for (unsigned i = 0; i < k->c->count; i++) {
		if (send_all(k->b, k->h, k->buf, k->c->size) ||
		    recv_all(k->b, k->h, k->rbuf, k->c->size))
			bench_die("ping-pong", errno);
		if (memcmp(k->buf, k->rbuf, k->c->size))
			bench_die("ping-pong: the echo differs from what was sent", EBADMSG);
	}
}

static void conn_counted(void *arg)
{
	struct counted *k = arg;

	for (unsigned i = 0; i < k->c->count; i++)
		conn_once(k->b, k->c, k->buf, k->rbuf);
}

/* rr: until COUNT answers came, on CONNS connections each with one
 * request outstanding (some are still out at the end: they were sent
 * inside, their answers are not counted). */
static void rr_counted(void *arg)
{
	struct counted *k = arg;
	unsigned n = k->c->conns;
	uint64_t ops = 0;

	while (ops < k->c->count)
		ops += rr_take(k->b, k->c, k->buf, k->hs, k->rdy,
			       bp_wait(k->b, k->hs, (int)n, k->rdy, 100), k->got, NULL, NULL);
	k->done = ops;
}

/* rr's connections, each with a request out, and a warm-up of a few
 * answers each */
static void rr_counted_setup(struct counted *k)
{
	unsigned n = k->c->conns, i;
	uint64_t ops = 0;

	k->hs = calloc(n, sizeof(*k->hs));
	k->rdy = calloc(n, sizeof(*k->rdy));
	k->got = calloc(n, sizeof(*k->got));
	if (!k->hs || !k->rdy || !k->got)
		bench_die("malloc", ENOMEM);
	for (i = 0; i < n; i++) {
		k->hs[i] = bp_connect(k->b, k->c, k->c->base + BP_ECHO);
		if (k->hs[i] < 0)
			bench_die("connect", errno);
		bp_watch(k->b, k->hs[i], (int)i);
	}
	for (i = 0; i < n; i++)
		if (bp_send(k->b, k->hs[i], k->buf, k->c->size, 0) != (ssize_t)k->c->size)
			bench_die("rr send", errno);
	while (ops < 4ull * n)
		ops += rr_take(k->b, k->c, k->buf, k->hs, k->rdy,
			       bp_wait(k->b, k->hs, (int)n, k->rdy, 100), k->got, NULL, NULL);
}

/* -N: the same warm-up as the timed runs, then exactly c->count
 * operations inside bench_counted(). */
static void counted(const struct cfg *c)
{
	bool pp = !strcmp(c->wl, "pingpong"), rrw = !strcmp(c->wl, "rr"),
	     perf = !strcmp(c->imethod, "perf");
	struct counted k = {.c = c, .h = -1, .buf = malloc(CHUNK), .rbuf = malloc(CHUNK)};
	int pfd = -1;
	uint64_t n;
	struct bp b;

	if (!k.buf || !k.rbuf)
		bench_die("malloc", ENOMEM);
	if (!pp && !rrw && strcmp(c->wl, "connrate"))
		bench_die("-N: pingpong, rr or connrate", EINVAL);
	if (perf && (pfd = bench_instr_open()) < 0)
		bench_die("-I perf: perf_event_open(instructions)", -pfd);
	if (!perf && strcmp(c->imethod, "callgrind"))
		bench_die("-I: perf or callgrind", EINVAL);
	memset(k.buf, 'c', CHUNK);
	bp_open(&b, c, c->queue);
	k.b = &b;
	if (pp && (k.h = bp_connect(&b, c, c->base + BP_ECHO)) < 0)
		bench_die("connect", errno);
	if (rrw)
		rr_counted_setup(&k);
	for (int i = 0; i < (pp ? 200 : rrw ? 0 : 20); i++) { /* warm up */
		if (!pp)
			conn_once(&b, c, k.buf, k.rbuf);
		else if (send_all(&b, k.h, k.buf, c->size) || recv_all(&b, k.h, k.rbuf, c->size))
			bench_die("warm-up", errno);
	}
	k.done = c->count;
	n = bench_counted(pfd, pp ? pp_counted : rrw ? rr_counted : conn_counted, &k);
	printf("%s.counted_ops %llu\n", c->name, (unsigned long long)k.done);
	printf("%s.instr_method %s\n", c->name, c->imethod);
	if (perf)
		report(c, "instr_per_op", (double)n / (double)k.done);
	if (pp)
		bp_close(&b, k.h);
	for (unsigned i = 0; rrw && i < c->conns; i++)
		bp_close(&b, k.hs[i]);
	bp_free(&b);
	free(k.hs);
	free(k.rdy);
	free(k.got);
	if (pfd >= 0)
		close(pfd);
	free(k.buf);
	free(k.rbuf);
}

int bench_client_main(int argc, char **argv)
{
	struct cfg c = {.wl = "pingpong",
			.name = "x",
			.ifname = "xh0",
			.base = BENCH_PORT,
			.threads = 1,
			.size = 64,
			.conns = 64,
			.secs = 3,
			.imethod = "perf"};
	const char *addr = "198.18.0.2";
	int opt;

	while ((opt = getopt(argc, argv, "P:w:n:a:p:i:q:T:s:c:t:r:S:N:I:ZF")) != -1) {
		switch (opt) {
		case 'P':
			c.xts = !strcmp(optarg, "xts");
			break;
		case 'w':
			c.wl = optarg;
			break;
		case 'n':
			c.name = optarg;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'p':
			c.base = atoi(optarg);
			break;
		case 'i':
			c.ifname = optarg;
			break;
		case 'q':
			c.queue = (unsigned)atoi(optarg);
			break;
		case 'T':
			c.threads = (unsigned)atoi(optarg);
			break;
		case 's':
			c.size = (unsigned)atoi(optarg);
			break;
		case 'c':
			c.conns = (unsigned)atoi(optarg);
			break;
		case 't':
			c.secs = atof(optarg);
			break;
		case 'r':
			c.rate = (unsigned)atoi(optarg);
			break;
		case 'Z':
			c.zc = true;
			break;
		case 'F':
			c.fastopen = true;
			break;
		case 'S':
			c.spin_us = (unsigned)atoi(optarg);
			break;
		case 'N':
			c.count = (unsigned)atoi(optarg);
			break;
		case 'I':
			c.imethod = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: xts-bench client -P xts|kernel -w WORKLOAD -n NAME ...\n");
			return 2;
		}
	}
	c.dst.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &c.dst.sin_addr) != 1 || !c.size || c.size > CHUNK)
		bench_die("arguments", EINVAL);
	if (c.count)
		counted(&c);
	else if (!strcmp(c.wl, "pingpong"))
		pingpong(&c);
	else if (!strcmp(c.wl, "rr"))
		rr(&c);
	else if (!strcmp(c.wl, "bulk") || !strcmp(c.wl, "msgs"))
		bulk(&c);
	else if (!strcmp(c.wl, "connrate"))
		connrate(&c);
	else
		bench_die(c.wl, EINVAL);
	fflush(stdout);
	return 0;
}
